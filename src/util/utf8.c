/*
 * The one UTF-8 validator; see include/fedlead/utf8.h.
 */
#include "fedlead/utf8.h"

size_t fl_utf8_char(const void *s, size_t n, uint32_t *cp)
{
	const uint8_t *p = s;
	uint32_t c, min;
	size_t len;

	if (n == 0)
		return 0;
	c = p[0];
	if (c < 0x80) {
		len = 1;
		min = 0;
	} else if (c >= 0xc2 && c <= 0xdf) { /* C0 and C1 would be overlong */
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) { /* F5-FF would be above U+10FFFF */
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return 0; /* a continuation byte, or a lead byte RFC 3629 forbids */
	for (size_t i = 1; i < len; i++) {
		if (i >= n || (p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	if (cp != NULL)
		*cp = c;
	return len;
}

int fl_utf8_is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

int fl_utf8_valid(const void *s, size_t n, unsigned flags)
{
	const uint8_t *p = s;
	uint32_t cp;
	size_t k;

	for (size_t i = 0; i < n; i += k) {
		if ((k = fl_utf8_char(p + i, n - i, &cp)) == 0)
			return 0;
		if (cp == 0 && (flags & FL_UTF8_NO_NUL))
			return 0;
		if ((flags & FL_UTF8_NO_CONTROL) && fl_utf8_is_control(cp))
			return 0;
	}
	return 1;
}
