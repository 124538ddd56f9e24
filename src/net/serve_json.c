/*
 * The scoring service's fast reader of JSON leads: one pass over the
 * request that decodes each lead's fields while it scans, for the shape a
 * sales system sends (one object of scalars, or an array of them), and
 * hands them to the encoder as records (a record source, source.h), the
 * fields the CSV reader would have given for the CSV that jansson's path
 * writes. jansson built a tree of some 20,000 values for a batch of 1,000
 * leads and was half of the service's time, and writing the leads as CSV
 * text to read them again was most of the rest (bench/README.md, "Scoring
 * service").
 *
 * It accepts only what jansson's path (serve_score.c) accepts and turns
 * into the same fields: strict JSON (RFC 8259 grammar, UTF-8 as
 * fl_utf8_char() reads it, no U+0000, no duplicate key), every column of
 * the schema once per lead, values that are strings, numbers, true, false
 * or null, integers that fit in 64 bits, reals that do not overflow, and
 * records within the CSV reader's limits (FL_CSV_MAX_RECORD bytes,
 * FL_CSV_MAX_FIELDS fields, two columns or more so that no header is
 * sniffed for its separator). For anything else it makes nothing and says
 * so (returns 1): the
 * caller then reads the request with jansson, whose path words every
 * error. So the fast reader changes the speed, never an answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/source.h"
#include "fedlead/utf8.h"
#include "serve_int.h"

#define MAX_UNKNOWN_KEYS 64

struct scan {
	const char *p, *end;
	char *buf; /* decoded strings of the current lead */
	size_t used, cap;
};

struct value {
	size_t off, len; /* in scan.buf */
	int set;
	size_t name_len; /* strlen() of the column's name, for the request */
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Room for n more bytes in the decoded buffer; 0, or -1 without memory. */
static int reserve(struct scan *s, size_t n)
{
	char *nb;
	size_t cap;

	if (s->cap - s->used >= n)
		return 0;
	cap = s->cap ? s->cap : 4096;
	while (cap - s->used < n)
		cap *= 2;
	if ((nb = realloc(s->buf, cap)) == NULL)
		return -1;
	s->buf = nb;
	s->cap = cap;
	return 0;
}

static int hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* A byte a JSON string holds as it is: printable ASCII (and DEL) but the
 * quote and the backslash. */
static inline int plain_ascii(unsigned char c)
{
	return (unsigned char)(c - 0x20) < 0x60 && c != '"' && c != '\\';
}

/* A string at s->p (its opening quote), decoded into s->buf at *off, *len
 * bytes. 0, 1 for anything the fast path leaves to jansson, -1 for memory. */
static int scan_string(struct scan *s, size_t *off, size_t *len)
{
	const char *p = s->p + 1;

	*off = s->used;
	for (;;) {
		unsigned char c;
		const char *q = p;

		/* A run of plain ASCII, copied at once: most of a lead's text. */
		while (q < s->end && plain_ascii((unsigned char)*q))
			q++;
		if (q > p) {
			if (reserve(s, (size_t)(q - p)) != 0)
				return -1;
			memcpy(s->buf + s->used, p, (size_t)(q - p));
			s->used += (size_t)(q - p);
			p = q;
		}
		if (p >= s->end)
			return 1;
		c = (unsigned char)*p;
		if (reserve(s, 4) != 0)
			return -1;
		if (c == '"')
			break;
		if (c < 0x20)
			return 1;
		if (c == '\\') {
			uint32_t cp, lo;

			if (p + 1 >= s->end)
				return 1;
			switch (p[1]) {
			case '"': s->buf[s->used++] = '"'; break;
			case '\\': s->buf[s->used++] = '\\'; break;
			case '/': s->buf[s->used++] = '/'; break;
			case 'b': s->buf[s->used++] = '\b'; break;
			case 'f': s->buf[s->used++] = '\f'; break;
			case 'n': s->buf[s->used++] = '\n'; break;
			case 'r': s->buf[s->used++] = '\r'; break;
			case 't': s->buf[s->used++] = '\t'; break;
			case 'u':
				if (s->end - p < 6 || hex4(p + 2, &cp) != 0 || cp == 0)
					return 1;
				p += 6;
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return 1;
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
					    hex4(p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
						return 1;
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					p += 6;
				}
				s->used += put_utf8(s->buf + s->used, cp);
				continue;
			default: return 1;
			}
			p += 2;
			continue;
		}
		if (c < 0x80) {
			s->buf[s->used++] = (char)c;
			p++;
			continue;
		}
		{
			size_t n = fl_utf8_char(p, (size_t)(s->end - p), NULL);

			if (n == 0)
				return 1;
			memcpy(s->buf + s->used, p, n);
			s->used += n;
			p += n;
		}
	}
	*len = s->used - *off;
	s->p = p + 1;
	return 0;
}

/* A number token at s->p, as value_text() in serve_score.c writes the
 * value jansson would have made of it. */
static int scan_number(struct scan *s, const struct fl_feature *f, char *out, size_t outsz,
                       size_t *outlen)
{
	const char *p = s->p, *start = s->p;
	char tok[64], *e;
	int real = 0;

	if (p < s->end && *p == '-')
		p++;
	if (p >= s->end)
		return 1;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	else
		return 1;
	if (p < s->end && *p == '.') {
		real = 1;
		if (++p >= s->end || *p < '0' || *p > '9')
			return 1;
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < s->end && (*p == 'e' || *p == 'E')) {
		real = 1;
		if (++p < s->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= s->end || *p < '0' || *p > '9')
			return 1;
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	if ((size_t)(p - start) >= sizeof(tok))
		return 1;
	memcpy(tok, start, (size_t)(p - start));
	tok[p - start] = '\0';
	errno = 0;
	if (!real) {
		long long v = strtoll(tok, &e, 10);

		if (errno != 0 || *e != '\0')
			return 1; /* jansson: "too big integer" */
		snprintf(out, outsz, "%lld", v);
	} else {
		double v = strtod(tok, &e);

		if (*e != '\0' || (errno == ERANGE && (v > 1 || v < -1)))
			return 1; /* jansson: "real number overflow" */
		fl_serve_real_text(v, f, out, outsz);
	}
	*outlen = strlen(out);
	s->p = p;
	return 0;
}

static int literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return 1;
	s->p += n;
	return 0;
}

/* The leads read: each field's offset and length in scan.buf. */
struct fields {
	size_t (*fo)[2];
	size_t n, cap;
};

/* One lead object at s->p: 0 with its fields appended to fs (*newlines
 * counts the line ends in them, as the CSV of jansson's path has them), 1,
 * or -1. */
static int scan_lead(struct scan *s, const struct fl_serve_columns *c, struct value *vals,
                     struct fields *fs, size_t *newlines)
{
	size_t unknown[MAX_UNKNOWN_KEYS][2], n_unknown = 0, total = 0, next = 0;
	char num[64];
	int r;

	for (size_t k = 0; k < c->n; k++)
		vals[k].set = 0;
	s->p++; /* '{' */
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 1; /* every column is missing: jansson's path says which */
	}
	for (;;) {
		size_t koff, klen, col = SIZE_MAX;

		if (s->p >= s->end || *s->p != '"')
			return 1;
		if ((r = scan_string(s, &koff, &klen)) != 0)
			return r;
		/* Senders keep one order of keys: look first where the last
		 * key's column leaves off. */
		for (size_t j = 0, k = next; j < c->n; j++, k = k + 1 < c->n ? k + 1 : 0)
			if (vals[k].name_len == klen &&
			    memcmp(c->name[k], s->buf + koff, klen) == 0) {
				col = k;
				next = k + 1 < c->n ? k + 1 : 0;
				break;
			}
		if (col == SIZE_MAX) {
			for (size_t u = 0; u < n_unknown; u++)
				if (unknown[u][1] == klen &&
				    memcmp(s->buf + unknown[u][0], s->buf + koff, klen) == 0)
					return 1; /* a duplicate key */
			if (n_unknown == MAX_UNKNOWN_KEYS)
				return 1;
			unknown[n_unknown][0] = koff;
			unknown[n_unknown++][1] = klen;
		} else if (vals[col].set)
			return 1;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return 1;
		s->p++;
		skip_ws(s);
		if (s->p >= s->end)
			return 1;
		{
			size_t voff = 0, vlen = 0;

			if (*s->p == '"') {
				if ((r = scan_string(s, &voff, &vlen)) != 0)
					return r;
			} else {
				const char *text = NULL;
				size_t tlen = 0;

				if (*s->p == 't' && literal(s, "true") == 0)
					text = "true", tlen = 4;
				else if (*s->p == 'f' && literal(s, "false") == 0)
					text = "false", tlen = 5;
				else if (*s->p == 'n' && literal(s, "null") == 0)
					text = "", tlen = 0;
				else if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) {
					if ((r = scan_number(
					             s, col == SIZE_MAX ? NULL : c->feature[col],
					             num, sizeof(num), &tlen)) != 0)
						return r;
					text = num;
				} else
					return 1; /* an object, an array, or not JSON */
				if (reserve(s, tlen + 1) != 0)
					return -1;
				voff = s->used;
				memcpy(s->buf + s->used, text, tlen);
				s->used += tlen;
				vlen = tlen;
			}
			/* Fields are NUL-terminated, as the CSV reader's are. */
			if (reserve(s, 1) != 0)
				return -1;
			s->buf[s->used++] = '\0';
			if (col != SIZE_MAX) {
				vals[col].off = voff;
				vals[col].len = vlen;
				vals[col].set = 1;
			}
		}
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			skip_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			break;
		}
		return 1;
	}
	for (size_t k = 0; k < c->n; k++) {
		if (!vals[k].set)
			return 1;
		total += vals[k].len;
	}
	if (total > FL_CSV_MAX_RECORD)
		return 1; /* the CSV reader's "record longer than" */
	if (fs->cap - fs->n < c->n) {
		size_t cap = fs->cap ? 2 * fs->cap : 64 * c->n;
		void *nb;

		while (cap - fs->n < c->n)
			cap *= 2;
		if ((nb = realloc(fs->fo, cap * sizeof(*fs->fo))) == NULL)
			return -1;
		fs->fo = nb;
		fs->cap = cap;
	}
	for (size_t k = 0; k < c->n; k++) {
		const char *v = s->buf + vals[k].off;

		for (const char *q = v;
		     (q = memchr(q, '\n', vals[k].len - (size_t)(q - v))) != NULL; q++)
			(*newlines)++;
		fs->fo[fs->n][0] = vals[k].off;
		fs->fo[fs->n++][1] = vals[k].len;
	}
	(*newlines)++;
	return 0;
}

/* ---- the leads as a record source ---- */

struct leads {
	char *name, *text;
	struct fl_csv_field *header, *fields;
	const uint64_t *line;
	size_t n_leads, n_cols, next; /* next 0: the header */
	uint64_t bytes;
};

static int leads_next(void *impl, struct fl_csv_record *rec)
{
	struct leads *l = impl;

	if (l->next > l->n_leads)
		return 0;
	if (l->next == 0)
		*rec = (struct fl_csv_record){
		        .fields = l->header, .n_fields = l->n_cols, .line = 1};
	else
		*rec = (struct fl_csv_record){.fields = l->fields + (l->next - 1) * l->n_cols,
		                              .n_fields = l->n_cols,
		                              .line = l->line[l->next - 1]};
	l->next++;
	return 1;
}

static int leads_rewind(void *impl)
{
	((struct leads *)impl)->next = 0;
	return 0;
}

/* The CSV reader's "NAME:LINE:COL" for the CSV of jansson's path, so that
 * the service words a bad value the same way whichever path read it. */
static void leads_position(void *impl, uint64_t line, size_t col, char *buf, size_t n)
{
	const struct leads *l = impl;

	if (col == SIZE_MAX)
		snprintf(buf, n, "%s:%llu", l->name, (unsigned long long)line);
	else
		snprintf(buf, n, "%s:%llu:%zu", l->name, (unsigned long long)line, col + 1);
}

static uint64_t leads_bytes(void *impl)
{
	return ((const struct leads *)impl)->bytes;
}

static void leads_free(void *impl)
{
	struct leads *l = impl;

	if (l == NULL)
		return;
	free(l->name);
	free(l->text);
	free(l->header);
	free(l->fields);
	free(l);
}

/* Numbers are written in each feature's own format (fl_serve_real_text()),
 * as jansson's path writes them: not plain. */
static const struct fl_source_ops leads_ops = {leads_next,  leads_rewind, leads_position,
                                               leads_bytes, leads_free,   0};

int fl_serve_json_fast(const char *body, size_t len, const struct fl_serve_columns *c,
                       uint64_t max_leads, const char *name, struct fl_source **src,
                       uint64_t **line, size_t *n_leads, int *batch)
{
	struct scan s = {body, body + len, NULL, 0, 0};
	struct fields fs = {NULL, 0, 0};
	struct value *vals = NULL;
	struct leads *l = NULL;
	uint64_t *ln = NULL;
	size_t n = 0, cap = 0, nl = 1; /* the header's line end */
	int r = 1;

	*src = NULL;
	*line = NULL;
	*n_leads = 0;
	if (c->n < 2 || c->n > FL_CSV_MAX_FIELDS)
		return 1;
	if ((vals = calloc(c->n, sizeof(*vals))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t k = 0; k < c->n; k++)
		vals[k].name_len = strlen(c->name[k]);
	/* The decoded text is about the body's size (keys and values without
	 * quotes and escapes, a NUL a value): one block, rarely grown. */
	if (reserve(&s, len + len / 8 + 64) != 0) {
		free(vals);
		return FL_ERR_NOMEM;
	}
	for (size_t k = 0; k < c->n; k++)
		for (const char *q = c->name[k]; (q = strchr(q, '\n')) != NULL; q++)
			nl++;
	skip_ws(&s);
	if (s.p >= s.end || (*s.p != '[' && *s.p != '{'))
		goto out;
	*batch = *s.p == '[';
	if (*batch) {
		s.p++;
		skip_ws(&s);
	}
	for (;;) {
		if (s.p >= s.end || *s.p != '{' || n == max_leads)
			goto out;
		if (n == cap) {
			uint64_t *nb = realloc(ln, (cap ? 2 * cap : 64) * sizeof(*ln));

			if (nb == NULL) {
				r = -1;
				goto out;
			}
			ln = nb;
			cap = cap ? 2 * cap : 64;
		}
		ln[n++] = nl + 1;
		if ((r = scan_lead(&s, c, vals, &fs, &nl)) != 0)
			goto out;
		r = 1;
		skip_ws(&s);
		if (!*batch)
			break;
		if (s.p < s.end && *s.p == ',') {
			s.p++;
			skip_ws(&s);
			continue;
		}
		if (s.p < s.end && *s.p == ']') {
			s.p++;
			break;
		}
		goto out;
	}
	skip_ws(&s);
	if (s.p != s.end)
		goto out;
	r = -1;
	if ((l = calloc(1, sizeof(*l))) == NULL || (l->name = strdup(name)) == NULL ||
	    (l->header = calloc(c->n, sizeof(*l->header))) == NULL ||
	    (l->fields = malloc((fs.n ? fs.n : 1) * sizeof(*l->fields))) == NULL)
		goto out;
	for (size_t k = 0; k < c->n; k++)
		l->header[k] = (struct fl_csv_field){c->name[k], strlen(c->name[k])};
	for (size_t k = 0; k < fs.n; k++) {
		l->fields[k] = (struct fl_csv_field){s.buf + fs.fo[k][0], fs.fo[k][1]};
		l->bytes += fs.fo[k][1];
	}
	l->text = s.buf;
	s.buf = NULL;
	l->line = ln;
	l->n_leads = n;
	l->n_cols = c->n;
	r = fl_source_new(name, &leads_ops, l, src); /* frees l on failure */
	l = NULL;
	if (r != 0)
		goto out;
	*line = ln;
	ln = NULL;
	*n_leads = n;
	r = 0;
out:
	leads_free(l);
	free(ln);
	free(vals);
	free(fs.fo);
	free(s.buf);
	return r < 0 ? FL_ERR_NOMEM : r;
}
