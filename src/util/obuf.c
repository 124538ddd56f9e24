/*
 * Text built in memory (include/fedlead/obuf.h).
 */
#include "fedlead/obuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fedlead/numfmt.h"

int fl_obuf_grow(struct fl_obuf *b, size_t n)
{
	size_t cap;
	char *np;

	if (b->oom)
		return -1;
	if (n <= b->cap - b->len)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	if ((np = realloc(b->p, cap)) == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = np;
	b->cap = cap;
	return 0;
}

void fl_obuf_csv_field(struct fl_obuf *b, const char *s, size_t n)
{
	size_t q = 0;
	char *d;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == ',' || c == '"' || c == '\r' || c == '\n')
			q = 1;
	}
	if (!q) {
		fl_obuf_put(b, s, n);
		return;
	}
	if (n > (SIZE_MAX - 2) / 2 || fl_obuf_room(b, 2 * n + 2) != 0)
		return;
	d = b->p + b->len;
	*d++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			*d++ = '"';
		*d++ = s[i];
	}
	*d++ = '"';
	b->len = (size_t)(d - b->p);
}

void fl_obuf_json_string(struct fl_obuf *b, const char *s, size_t n)
{
	size_t run = 0;

	fl_obuf_char(b, '"');
	/* Written in runs between the characters that need escapes. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c != '"' && c != '\\' && c >= 0x20)
			continue;
		fl_obuf_put(b, s + run, i - run);
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			fl_obuf_put(b, esc, 2);
		} else {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			fl_obuf_put(b, esc, 6);
		}
		run = i + 1;
	}
	fl_obuf_put(b, s + run, n - run);
	fl_obuf_char(b, '"');
}

void fl_obuf_fixed(struct fl_obuf *b, double v, int places)
{
	if (fl_obuf_room(b, FL_NUMFMT_MAX) == 0)
		b->len += fl_numfmt_fixed(b->p + b->len, v, places);
}

void fl_obuf_g(struct fl_obuf *b, double v, int digits)
{
	if (fl_obuf_room(b, FL_NUMFMT_MAX) == 0)
		b->len += fl_numfmt_g(b->p + b->len, v, digits);
}

void fl_obuf_u64(struct fl_obuf *b, uint64_t v)
{
	if (fl_obuf_room(b, FL_NUMFMT_MAX) == 0)
		b->len += fl_numfmt_u64(b->p + b->len, v);
}

void fl_obuf_free(struct fl_obuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}
