/*
 * Text built in memory (src/util/obuf.c): a growing buffer for the output
 * of scoring, where stdio's per-call cost (a memstream's xsputn) was a
 * tenth of the time. A failed allocation sets oom and drops everything
 * after it, so a writer checks once at the end, not at every call.
 */
#ifndef FEDLEAD_OBUF_H
#define FEDLEAD_OBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fl_obuf {
	char *p; /* malloc()ed: free() it, or take it */
	size_t len, cap;
	int oom;
};

/* Grows b for n more bytes: 0, or -1 with oom set. */
int fl_obuf_grow(struct fl_obuf *b, size_t n);

/* Room for n more bytes; on failure oom is set and nothing more is kept. */
static inline int fl_obuf_room(struct fl_obuf *b, size_t n)
{
	if (!b->oom && n <= b->cap - b->len)
		return 0;
	return fl_obuf_grow(b, n);
}

static inline void fl_obuf_put(struct fl_obuf *b, const void *p, size_t n)
{
	if (n > 0 && fl_obuf_room(b, n) == 0) {
		memcpy(b->p + b->len, p, n);
		b->len += n;
	}
}

static inline void fl_obuf_str(struct fl_obuf *b, const char *s)
{
	fl_obuf_put(b, s, strlen(s));
}

static inline void fl_obuf_char(struct fl_obuf *b, char c)
{
	if (fl_obuf_room(b, 1) == 0)
		b->p[b->len++] = c;
}

/* A CSV field, quoted only when RFC 4180 requires it. */
void fl_obuf_csv_field(struct fl_obuf *b, const char *s, size_t n);

/* A JSON string: quotes, backslashes and control characters escaped, the
 * rest (UTF-8) as it is. */
void fl_obuf_json_string(struct fl_obuf *b, const char *s, size_t n);

/* Numbers as fl_numfmt_fixed(), fl_numfmt_g() and fl_numfmt_u64() write
 * them (include/fedlead/numfmt.h). */
void fl_obuf_fixed(struct fl_obuf *b, double v, int places);
void fl_obuf_g(struct fl_obuf *b, double v, int digits);
void fl_obuf_u64(struct fl_obuf *b, uint64_t v);

/* Frees b's text and empties it. */
void fl_obuf_free(struct fl_obuf *b);

#endif
