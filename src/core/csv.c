/*
 * Streaming CSV reader: a pull interface over libcsv's push callbacks.
 *
 * The file is read in large blocks and handed to libcsv in "pieces" that end
 * at the first line terminator ('\n', or a '\r' not followed by '\n'). libcsv
 * can only end a record on a terminator, so at most one record completes per
 * piece, and it completes at the piece's end: fl_csv_next() parses pieces
 * until the record callback fires and then returns that record. Cutting at
 * terminators also gives exact physical line numbers: the line counter moves
 * after every piece ending in '\n', and a record's line is taken when a piece
 * begins with the parser between records.
 */
#include "fedlead/csv.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fedlead/error.h"

/* Large reads keep system-call overhead negligible next to parsing. */
#define FL_CSV_BUF (256u * 1024)
#define FL_CSV_OPTS (CSV_STRICT | CSV_APPEND_NULL | CSV_STRICT_FINI)
/*
 * libcsv grows its field buffer linearly by this much (default 128 bytes),
 * which would make a multi-megabyte field cost thousands of reallocs.
 */
#define FL_CSV_PARSER_BLOCK (64u * 1024)
/* libcsv's state between records (ROW_NOT_BEGUN in libcsv.c). */
#define FL_CSV_ROW_NOT_BEGUN 0

struct fl_csv {
	char *name; /* for messages: the path, or "<stdin>" for "-" */
	int fd;
	int own_fd;
	off_t start; /* where rewinding goes back to */
	struct csv_parser parser;
	int parser_live;

	unsigned char *buf; /* FL_CSV_BUF bytes; [pos, end) not yet parsed */
	size_t pos, end;
	int eof;         /* read() returned 0 */
	int done;        /* csv_fini() ran: no more records */
	int bom_pending; /* the first bytes have not been checked for a BOM */
	int failed;      /* error code that stopped the reader, or 0 */
	uint64_t bytes;  /* read from the file since open */
	uint64_t line;   /* physical line of the next byte to parse */

	/* The record being assembled by the callbacks. */
	uint64_t rec_line;
	char *text; /* field texts, each followed by a NUL */
	size_t text_len, text_cap;
	struct fl_csv_field *fields;
	size_t n_fields, fields_cap;
	int rec_ready;
	int cb_err; /* failure inside a callback, which cannot return one */
};

static void parser_reset(struct fl_csv *c)
{
	if (c->parser_live)
		csv_free(&c->parser);
	/* csv_init() only fails for a NULL parser; it allocates nothing. */
	csv_init(&c->parser, FL_CSV_OPTS);
	csv_set_blk_size(&c->parser, FL_CSV_PARSER_BLOCK);
	c->parser_live = 1;
	c->pos = c->end = 0;
	c->eof = c->done = c->failed = 0;
	c->bom_pending = 1;
	c->line = 1;
	c->rec_line = 1;
	c->n_fields = c->text_len = 0;
	c->rec_ready = c->cb_err = 0;
}

int fl_csv_open(const char *path, struct fl_csv **out)
{
	struct fl_csv *c = NULL;
	int r = FL_ERR_INTERNAL;
	int is_stdin;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || out == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_csv_open: no path given");
		goto out;
	}
	is_stdin = strcmp(path, "-") == 0;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->name = strdup(is_stdin ? "<stdin>" : path)) == NULL ||
	    (c->buf = malloc(FL_CSV_BUF)) == NULL) {
		r = fl_fail(FL_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	c->fd = -1;
	if (is_stdin) {
		c->fd = STDIN_FILENO;
	} else {
		if ((c->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			r = fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		c->own_fd = 1;
		/* Only a hint for the kernel's read-ahead; failure is harmless. */
		(void)posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	/* Standard input may already be partly consumed; rewind to here. */
	if ((c->start = lseek(c->fd, 0, SEEK_CUR)) < 0)
		c->start = 0;
	parser_reset(c);
	*out = c;
	c = NULL;
	r = 0;
out:
	fl_csv_free(c);
	return r;
}

void fl_csv_free(struct fl_csv *c)
{
	if (c == NULL)
		return;
	if (c->parser_live)
		csv_free(&c->parser);
	if (c->own_fd && c->fd >= 0)
		close(c->fd);
	free(c->fields);
	free(c->text);
	free(c->buf);
	free(c->name);
	free(c);
}

const char *fl_csv_path(const struct fl_csv *c)
{
	return c != NULL ? c->name : "";
}

uint64_t fl_csv_bytes_read(const struct fl_csv *c)
{
	return c != NULL ? c->bytes : 0;
}

int fl_csv_rewind(struct fl_csv *c)
{
	struct stat st;
	int r = FL_ERR_INTERNAL;

	if (c == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_csv_rewind: no reader");
		goto out;
	}
	if (fstat(c->fd, &st) != 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot rewind: %s", c->name, strerror(errno));
		goto out;
	}
	/* A pipe or terminal cannot give back what was read. */
	if (!S_ISREG(st.st_mode)) {
		r = fl_fail(FL_ERR_IO, "%s: cannot rewind: not a regular file", c->name);
		goto out;
	}
	if (lseek(c->fd, c->start, SEEK_SET) < 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot rewind: %s", c->name, strerror(errno));
		goto out;
	}
	parser_reset(c);
	r = 0;
out:
	return r;
}

/* Grows the record buffers so that one more field of len bytes fits. */
static int record_reserve(struct fl_csv *c, size_t len)
{
	size_t cap;
	void *p;

	if (c->n_fields == c->fields_cap) {
		cap = c->fields_cap ? c->fields_cap * 2 : 64;
		if (cap > FL_CSV_MAX_FIELDS)
			cap = FL_CSV_MAX_FIELDS;
		if ((p = realloc(c->fields, cap * sizeof(*c->fields))) == NULL)
			return FL_ERR_NOMEM;
		c->fields = p;
		c->fields_cap = cap;
	}
	if (len + 1 > c->text_cap - c->text_len) {
		/* Text of a full-size record plus one NUL per field. */
		const size_t max = (size_t)FL_CSV_MAX_RECORD + FL_CSV_MAX_FIELDS;

		cap = c->text_cap ? c->text_cap : 4096;
		while (cap - c->text_len < len + 1 && cap < max)
			cap *= 2;
		if (cap > max)
			cap = max;
		if ((p = realloc(c->text, cap)) == NULL)
			return FL_ERR_NOMEM;
		c->text = p;
		c->text_cap = cap;
	}
	return 0;
}

/* libcsv field callback: appends one field to the record. */
static void on_field(void *s, size_t len, void *data)
{
	struct fl_csv *c = data;
	int r;

	if (c->cb_err != 0)
		return;
	/* Limits first, so an oversized record never takes memory. */
	if (c->n_fields == FL_CSV_MAX_FIELDS) {
		c->cb_err = fl_fail(FL_ERR_LIMIT, "%s:%" PRIu64 ": record has more than %d fields",
		                    c->name, c->rec_line, FL_CSV_MAX_FIELDS);
		return;
	}
	/* text_len - n_fields is the record's field text without the NULs. */
	if (len > FL_CSV_MAX_RECORD - (c->text_len - c->n_fields)) {
		c->cb_err = fl_fail(FL_ERR_LIMIT, "%s:%" PRIu64 ": record longer than %u bytes",
		                    c->name, c->rec_line, FL_CSV_MAX_RECORD);
		return;
	}
	if ((r = record_reserve(c, len)) != 0) {
		c->cb_err = fl_fail(r, "%s:%" PRIu64 ": out of memory", c->name, c->rec_line);
		return;
	}
	memcpy(c->text + c->text_len, s, len);
	c->text[c->text_len + len] = '\0';
	c->fields[c->n_fields++].len = len;
	c->text_len += len + 1;
}

/* libcsv record callback: the fields are complete, point them at the text. */
static void on_record(int term, void *data)
{
	struct fl_csv *c = data;
	size_t i, off = 0;

	(void)term;
	if (c->cb_err != 0)
		return;
	/* Pointers are set only now because the text buffer may have moved. */
	for (i = 0; i < c->n_fields; i++) {
		c->fields[i].s = c->text + off;
		off += c->fields[i].len + 1;
	}
	c->rec_ready = 1;
}

/* Appends one read() to the buffer; sets eof when the file is exhausted. */
static int fill(struct fl_csv *c)
{
	ssize_t n;

	do
		n = read(c->fd, c->buf + c->end, FL_CSV_BUF - c->end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fl_fail(FL_ERR_IO, "%s: %s", c->name, strerror(errno));
	if (n == 0)
		c->eof = 1;
	c->end += (size_t)n;
	c->bytes += (uint64_t)n;
	return 0;
}

/* Strips a UTF-8 byte-order mark, which spreadsheet exports often prepend. */
static int skip_bom(struct fl_csv *c)
{
	int r;

	/* A pipe may deliver the three bytes in separate reads. */
	while (c->end < 3 && !c->eof)
		if ((r = fill(c)) != 0)
			return r;
	if (c->end >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0)
		c->pos = 3;
	c->bom_pending = 0;
	return 0;
}

/*
 * libcsv grows its field buffer by a fixed block; with a long field that is
 * quadratic copying. Growing by the current size instead makes it geometric,
 * clamped to what the limit check in fl_csv_next() lets through.
 */
static void parser_grow_faster(struct fl_csv *c)
{
	const size_t most = (size_t)FL_CSV_MAX_RECORD + 2 * FL_CSV_BUF;
	size_t size = c->parser.entry_size, blk = size;

	if (blk > most - size)
		blk = size < most ? most - size : 0;
	if (blk < FL_CSV_PARSER_BLOCK)
		blk = FL_CSV_PARSER_BLOCK;
	csv_set_blk_size(&c->parser, blk);
}

static int parse_error(struct fl_csv *c)
{
	int e = csv_error(&c->parser);

	if (e == CSV_ENOMEM || e == CSV_ETOOBIG)
		return fl_fail(FL_ERR_NOMEM, "%s:%" PRIu64 ": out of memory", c->name, c->rec_line);
	return fl_fail(FL_ERR_DATA, "%s:%" PRIu64 ": malformed CSV: %s", c->name, c->rec_line,
	               csv_strerror(e));
}

int fl_csv_next(struct fl_csv *c, struct fl_csv_record *rec)
{
	const unsigned char *b, *e, *lim, *cr;
	size_t len, n;
	int r = FL_ERR_INTERNAL;

	if (rec != NULL)
		memset(rec, 0, sizeof(*rec));
	if (c == NULL || rec == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_csv_next: no reader or record");
		goto out;
	}
	if (c->failed != 0) {
		r = fl_fail(c->failed, "%s: cannot read on after an earlier error", c->name);
		goto out;
	}
	c->n_fields = c->text_len = 0;
	c->rec_ready = 0;
	if (c->bom_pending && (r = skip_bom(c)) != 0)
		goto fail;
	for (;;) {
		if (c->pos == c->end) {
			if (c->done) {
				r = 0;
				goto out;
			}
			if (!c->eof) {
				c->pos = c->end = 0;
				if ((r = fill(c)) != 0)
					goto fail;
				continue;
			}
			/* End of file: flush a last record that has no newline. */
			c->done = 1;
			if (csv_fini(&c->parser, on_field, on_record, c) != 0) {
				r = parse_error(c);
				goto fail;
			}
			if ((r = c->cb_err) != 0)
				goto fail;
			if (c->rec_ready)
				break;
			r = 0;
			goto out;
		}

		/* The next piece runs to the first terminator; see the top. */
		b = c->buf + c->pos;
		e = c->buf + c->end;
		lim = memchr(b, '\n', (size_t)(e - b));
		lim = lim != NULL ? lim + 1 : e;
		cr = memchr(b, '\r', (size_t)(lim - b));
		if (cr != NULL && cr + 1 < lim && cr[1] != '\n')
			lim = cr + 1; /* a lone CR also ends a record */
		len = (size_t)(lim - b);

		if (c->parser.pstate == FL_CSV_ROW_NOT_BEGUN)
			c->rec_line = c->line;
		n = csv_parse(&c->parser, b, len, on_field, on_record, c);
		if ((r = c->cb_err) != 0)
			goto fail;
		if (n != len) {
			r = parse_error(c);
			goto fail;
		}
		c->pos += len;
		if (lim[-1] == '\n')
			c->line++;
		/*
		 * libcsv buffers a field whole before calling back; stop a
		 * runaway field before it takes unbounded memory. The slack
		 * leaves the exact check to on_field() for fields near the limit.
		 */
		if (c->parser.entry_pos >
		    (size_t)FL_CSV_MAX_RECORD + FL_CSV_BUF - (c->text_len - c->n_fields)) {
			r = fl_fail(FL_ERR_LIMIT, "%s:%" PRIu64 ": record longer than %u bytes",
			            c->name, c->rec_line, FL_CSV_MAX_RECORD);
			goto fail;
		}
		if (c->parser.entry_size > c->parser.blk_size)
			parser_grow_faster(c);
		if (c->rec_ready)
			break;
	}
	rec->fields = c->fields;
	rec->n_fields = c->n_fields;
	rec->line = c->rec_line;
	r = 1;
	goto out;
fail:
	/* The parser's position is unknown after a failure: stop here. */
	c->failed = r;
out:
	return r;
}

/*
 * Powers of ten that are exact in a double (5^22 < 2^53), so one
 * multiplication or division by them is correctly rounded.
 */
static const double exact_pow10[23] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#define FL_TWO53 (UINT64_C(1) << 53)

/* strtod() on a NUL-terminated copy, refusing overflow to infinity. */
static int slow_parse(const char *s, size_t len, double *out)
{
	char stackbuf[128];
	char *copy = stackbuf, *end;
	double v;
	int r = -1;

	if (len >= sizeof(stackbuf) && (copy = malloc(len + 1)) == NULL)
		goto out;
	memcpy(copy, s, len);
	copy[len] = '\0';
	errno = 0;
	v = strtod(copy, &end);
	if (end != copy + len || isinf(v) || isnan(v))
		goto out;
	/* Underflow (ERANGE with a tiny or zero result) is a usable value. */
	*out = v;
	r = 0;
out:
	if (copy != stackbuf)
		free(copy);
	return r;
}

int fl_parse_double(const char *s, size_t len, double *out)
{
	const char *p = s, *end = s + len, *start;
	uint64_t m = 0;
	int64_t e10 = 0, ex = 0;
	int nd = 0, digits = 0, neg = 0, eneg = 0;
	unsigned d;
	double v;

	*out = 0;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	start = p;
	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';

	/*
	 * Up to 19 significant digits go into m (10^19 < 2^64); the place
	 * value of the rest is kept in e10. Dropping a digit leaves m >= 10^18,
	 * beyond the fast path, so strtod() decides the rounding then.
	 */
	for (; p < end && (d = (unsigned)(*p - '0')) < 10; p++) {
		digits = 1;
		if (m == 0 && d == 0)
			continue;
		if (nd < 19) {
			m = m * 10 + d;
			nd++;
		} else {
			e10++;
		}
	}
	if (p < end && *p == '.') {
		for (p++; p < end && (d = (unsigned)(*p - '0')) < 10; p++) {
			digits = 1;
			if (m == 0 && d == 0) {
				e10--;
			} else if (nd < 19) {
				m = m * 10 + d;
				nd++;
				e10--;
			}
		}
	}
	if (!digits)
		return -1; /* empty, a lone sign or point, "nan", "inf", ... */
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p == end || (unsigned)(*p - '0') >= 10)
			return -1;
		for (; p < end && (d = (unsigned)(*p - '0')) < 10; p++)
			if (ex < 1000000000) /* far beyond any double; saturate */
				ex = ex * 10 + d;
		e10 += eneg ? -ex : ex;
	}
	if (p != end)
		return -1; /* trailing garbage, hexadecimal, "1,5" */

#if FLT_EVAL_METHOD == 0
	/*
	 * Clinger's fast path: m and 10^|e10| are both exact doubles, so the
	 * single rounding of the product or quotient is strtod()'s answer.
	 */
	if (m == 0) {
		*out = neg ? -0.0 : 0.0;
		return 0;
	}
	if (m < FL_TWO53 && e10 >= -22 && e10 <= 22 + 15) {
		if (e10 < 0) {
			v = (double)m / exact_pow10[-e10];
		} else {
			/* "12e30": move the excess power into m while exact. */
			for (; e10 > 22; e10--) {
				m *= 10;
				if (m >= FL_TWO53)
					goto slow;
			}
			v = (double)m * exact_pow10[e10];
		}
		*out = neg ? -v : v;
		return 0;
	}
slow:
#endif
	return slow_parse(start, (size_t)(end - start), out);
}
