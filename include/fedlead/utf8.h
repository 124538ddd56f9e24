/*
 * UTF-8 as fedlead accepts it, in one place: RFC 3629 strictly (no overlong
 * forms, no UTF-16 surrogates, nothing above U+10FFFF, no 5- or 6-byte
 * forms). Used for wire strings, model provenance, schema drafts, log lines
 * and the text of HTML reports, so every layer refuses or replaces the same
 * bytes.
 */
#ifndef FEDLEAD_UTF8_H
#define FEDLEAD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Length (1-4) of the well-formed character at s, of which n bytes may be
 * read, with its code point in *cp (cp may be NULL); 0 when the bytes there
 * are not one, or n is 0. No byte after the first that is not a
 * continuation byte is read, so a NUL-terminated string may be passed with
 * n = strnlen(s, 4).
 */
size_t fl_utf8_char(const void *s, size_t n, uint32_t *cp);

/* 1 for a C0 control (U+0000-U+001F), DEL or a C1 control (U+0080-U+009F):
 * characters that steer a terminal or forge a line of a log. */
int fl_utf8_is_control(uint32_t cp);

/* Flags of fl_utf8_valid(). */
#define FL_UTF8_NO_NUL 1u     /* refuse U+0000 (text that C strings will hold) */
#define FL_UTF8_NO_CONTROL 2u /* refuse what fl_utf8_is_control() names, NUL included */

/* 1 when the n bytes at s are well-formed UTF-8 with nothing flags refuse,
 * else 0. The empty string is valid. */
int fl_utf8_valid(const void *s, size_t n, unsigned flags);

#endif
