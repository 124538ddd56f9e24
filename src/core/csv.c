/*
 * Streaming CSV reader with its own tokenizer.
 *
 * The file is read in large blocks into one buffer, and a record's fields
 * are handed out as pointers into that buffer: the byte after each field
 * (its separator, line end or closing quote) is overwritten with a NUL, and
 * a quoted field with doubled quotes is unescaped in place. Nothing is
 * copied or allocated per field; only a record that does not fit the
 * buffer makes it grow (bounded by FL_CSV_MAX_RECORD).
 *
 * The tokenizer (scan()) finds the next byte that matters (the separator, a
 * quote, a control byte such as CR or LF) 64 bytes at a time, as a bit
 * mask, so the bytes of a field in between are never looked at one by one.
 * It keeps its state between blocks, so a record split by a read is not
 * scanned twice.
 *
 * The grammar is the one libcsv's strict mode (CSV_STRICT | CSV_STRICT_FINI)
 * gave fedlead before it had its own tokenizer, so every file reads as it
 * did and errors say the same: blanks (space, tab unless it separates)
 * around a field are not data; a quote opens a quoted field only at the
 * field's start (after blanks); inside quotes, a doubled quote is one
 * quote and separators and line ends are text; after the closing quote
 * only blanks may come before the separator or the line end; a quote
 * elsewhere, or a quoted field open at the end of the file, is malformed.
 * A record ends at LF, CR LF or a lone CR; blank lines are skipped. Lines
 * are counted by LF, so every record knows the physical line it started on.
 *
 * The dialect is settled before the first record is parsed: the separator
 * by scanning the header and the rows after it in the first block
 * (sniff_*), and a single-byte encoding by converting every block to UTF-8
 * as it is read, through a 128-entry table that glibc's iconv fills once.
 * Every field is then checked to be UTF-8 without NUL bytes, so no command
 * can read a value the schema could not hold: each read is checked as a
 * whole, 16 bytes at a time (utf8_scan()), and only a field that ends past
 * the first bad byte is checked on its own, to name its line and column.
 */
#include "fedlead/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <iconv.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "fedlead/error.h"
#include "fedlead/parallel.h"
#include "fedlead/utf8.h"

/* Large reads keep system-call overhead negligible next to parsing; the
 * buffer starts at this size. */
#define FL_CSV_BUF (256u * 1024)
/* The tokenizer reads whole aligned 64-byte blocks: the buffer is aligned
 * and has this much beyond its capacity, the first byte of it the NUL that
 * stops the scan at the end of the data. */
#define FL_CSV_BLOCK 64
/*
 * The most a record may take in the buffer: FL_CSV_MAX_RECORD bytes of
 * field text written with every quote doubled, the separators, quotes and
 * blanks of the most fields, and a read's worth beyond the limit (which the
 * exact check then reports). Only a record with megabytes of blanks before
 * its fields reaches it without breaking the text limit first.
 */
#define FL_CSV_MAX_BUF                                                                             \
	(2 * ((size_t)FL_CSV_MAX_RECORD + FL_CSV_BUF) + 8 * (size_t)FL_CSV_MAX_FIELDS + FL_CSV_BUF)
/*
 * Separator detection reads ahead this much (or to the end of the file) and
 * looks at the header and up to FL_CSV_SNIFF_ROWS rows after it.
 */
#define FL_CSV_SNIFF_BYTES (64u * 1024)
#define FL_CSV_SNIFF_ROWS 20
/* A byte of a single-byte encoding becomes at most 3 bytes of UTF-8. */
#define FL_CSV_UTF8_GROWTH 3

/* Where the tokenizer stopped, so that it goes on from there after a read. */
enum scan_state {
	SCAN_ROW = 0, /* between records: blanks and line ends are skipped */
	SCAN_FIELD,   /* at a field's start, after a separator (blanks skipped) */
	SCAN_PLAIN,   /* in an unquoted field that began at fstart */
	SCAN_QUOTED,  /* in quotes: the text is [fstart, wpos) then [seg, pos) */
	SCAN_AFTER,   /* after a closing quote and `blanks` blanks */
};

struct fl_csv {
	char *name; /* for messages: the path, or "<stdin>" for "-" */
	int fd;
	int own_fd;
	off_t start; /* where rewinding goes back to */

	unsigned char *buf; /* cap + FL_CSV_BLOCK bytes, aligned; [pos, end) not yet parsed */
	size_t cap, pos, end;
	int eof;           /* read() returned 0 */
	int done;          /* the end of the file was parsed: no more records */
	int bom_pending;   /* the first bytes have not been checked for a BOM */
	char delim;        /* the field separator; 0 until the header decides it */
	int delim_given;   /* the caller named it: check the header, detect nothing */
	int delim_decided; /* decide_delimiter() ran (once: a rewind keeps it) */
	enum fl_csv_encoding enc;
	struct {
		unsigned char len, b[FL_CSV_UTF8_GROWTH];
	} conv[128];        /* UTF-8 of bytes 0x80-0xFF; len 0: not a character */
	unsigned char *raw; /* the bytes read before conversion (single-byte only) */
	int failed;         /* error code that stopped the reader, or 0 */
	uint64_t bytes;     /* read from the file since open */

	/* fl_csv_set_progress()'s hook, as it was at open */
	fl_csv_progress_fn progress;
	void *progress_arg;
	struct fl_csv_progress pg; /* pg.bytes: c->bytes when the pass began */
	uint64_t line;             /* physical line of the byte at pos */

	/* The tokenizer's state (offsets into buf) and the record so far. */
	enum scan_state st;
	size_t rec_start;          /* the record's first byte */
	size_t fstart, wpos, seg;  /* the field being scanned; see enum scan_state */
	size_t blanks;             /* SCAN_AFTER */
	const unsigned char *mblk; /* the block whose mask is mbits, or NULL */
	uint64_t mbits;
	/*
	 * [0, valid) of the buffer is known to be UTF-8 without NUL bytes, so a
	 * field that ends there needs no check (utf8_scan()). valid_stuck: the
	 * byte at valid is not the start of a character (or not yet known to be
	 * one): the fields from there are checked one by one.
	 */
	size_t valid;
	int valid_stuck;
	uint64_t rec_line;
	size_t text_len; /* field text of the record so far, without NULs */
	struct fl_csv_field *fields;
	size_t n_fields, fields_cap;

	/* fl_csv_set_range(): the records after the header come from
	 * [jump_to, limit) of the file (jump_to 0: straight on). */
	uint64_t rd_off; /* file offset of the next read */
	uint64_t limit;  /* reads stop here; UINT64_MAX: at the end */
	uint64_t jump_to, jump_line;
	int ranged;       /* fl_csv_set_range() was called */
	int started;      /* fl_csv_next() was called */
	int header_done;  /* this pass returned its first record */
	int jump_pending; /* the jump to jump_to is still to come */

	/* fl_csv_want_numbers(): the values of the fast path's record, room
	 * for num_cap fields. */
	int want_num;
	double *num;
	unsigned char *num_ok;
	size_t num_cap;
};

static fl_csv_progress_fn progress_fn;
static void *progress_arg;

void fl_csv_set_progress(fl_csv_progress_fn fn, void *arg)
{
	progress_fn = fn;
	progress_arg = arg;
}

/* Every FL_CSV_PROGRESS_RECORDS records of a pass: where the pass is. */
static void report_progress(struct fl_csv *c)
{
	struct fl_csv_progress p = c->pg;

	if (++c->pg.records % FL_CSV_PROGRESS_RECORDS != 0)
		return;
	p.records = c->pg.records;
	p.bytes = c->bytes - c->pg.bytes;
	if (p.size != 0 && p.bytes > p.size)
		p.bytes = p.size; /* the file grew while being read */
	c->progress(c->progress_arg, &p);
}

static void parser_reset(struct fl_csv *c)
{
	/* A new pass over the file, for the progress reports. */
	c->pg.pass++;
	c->pg.records = 0;
	c->pg.bytes = c->bytes;

	c->pos = c->end = 0;
	c->buf[0] = '\0'; /* the scan's stop at the end of the data */
	c->eof = c->done = c->failed = 0;
	c->bom_pending = 1;
	c->line = 1;
	c->rec_line = 1;
	c->st = SCAN_ROW;
	c->mblk = NULL;
	c->valid = 0;
	c->valid_stuck = 0;
	c->n_fields = c->text_len = 0;
	c->rd_off = (uint64_t)c->start;
	c->header_done = 0;
	c->jump_pending = c->ranged && c->jump_to > 0;
}

/* An aligned buffer of cap bytes plus the tokenizer's overrun, zeroed so
 * that what a block read beyond the data sees is defined. */
static unsigned char *buffer_alloc(size_t cap)
{
	void *p = NULL;

	if (posix_memalign(&p, FL_CSV_BLOCK, cap + FL_CSV_BLOCK) != 0)
		return NULL;
	memset(p, 0, cap + FL_CSV_BLOCK);
	return p;
}

static const char *const encoding_iconv[] = {"UTF-8", "WINDOWS-1252", "ISO-8859-1"};

/*
 * The UTF-8 of every byte 0x80-0xFF in a single-byte encoding, from glibc's
 * iconv once, so that converting a block is a table lookup per byte and a
 * byte the encoding leaves undefined (0x81 in Windows-1252) is known.
 */
static int conv_table(struct fl_csv *c)
{
	iconv_t cd = iconv_open("UTF-8", encoding_iconv[c->enc]);

	if (cd == (iconv_t)-1)
		return fl_fail(FL_ERR_INTERNAL, "iconv cannot convert from %s: %s",
		               encoding_iconv[c->enc], strerror(errno));
	for (unsigned b = 0x80; b <= 0xff; b++) {
		char in = (char)b, *ip = &in, *op = (char *)c->conv[b - 0x80].b;
		size_t il = 1, ol = FL_CSV_UTF8_GROWTH;

		(void)iconv(cd, NULL, NULL, NULL, NULL);
		if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1 && il == 0)
			c->conv[b - 0x80].len = (unsigned char)(FL_CSV_UTF8_GROWTH - ol);
	}
	iconv_close(cd);
	return 0;
}

int fl_csv_open(const char *path, struct fl_csv **out)
{
	return fl_csv_open_dialect(path, NULL, out);
}

int fl_csv_open_dialect(const char *path, const struct fl_csv_dialect *d, struct fl_csv **out)
{
	static const struct fl_csv_dialect dflt = {0};
	struct fl_csv *c = NULL;
	int r = FL_ERR_INTERNAL;
	int is_stdin;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || out == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_csv_open: no path given");
		goto out;
	}
	if (d == NULL)
		d = &dflt;
	if ((d->delimiter != 0 && strchr(",;\t|", d->delimiter) == NULL) ||
	    (unsigned)d->encoding > FL_CSV_LATIN1) {
		r = fl_fail(FL_ERR_INVALID, "fl_csv_open: unknown separator or encoding");
		goto out;
	}
	is_stdin = strcmp(path, "-") == 0;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->name = strdup(is_stdin ? "<stdin>" : path)) == NULL ||
	    (c->buf = buffer_alloc(FL_CSV_BUF)) == NULL ||
	    (d->encoding != FL_CSV_UTF8 &&
	     (c->raw = malloc(FL_CSV_BUF / FL_CSV_UTF8_GROWTH)) == NULL)) {
		r = fl_fail(FL_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	c->cap = FL_CSV_BUF;
	c->limit = UINT64_MAX;
	c->delim = d->delimiter;
	c->delim_given = d->delimiter != 0;
	c->enc = d->encoding;
	if (c->enc != FL_CSV_UTF8 && (r = conv_table(c)) != 0)
		goto out;
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
	c->progress = progress_fn;
	c->progress_arg = progress_arg;
	c->pg.name = c->name;
	{
		struct stat st;

		if (fstat(c->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > c->start)
			c->pg.size = (uint64_t)(st.st_size - c->start);
	}
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
	if (c->own_fd && c->fd >= 0)
		close(c->fd);
	free(c->fields);
	free(c->num);
	free(c->num_ok);
	free(c->buf);
	free(c->raw);
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

char fl_csv_delimiter(const struct fl_csv *c)
{
	return c != NULL ? c->delim : 0;
}

const char *fl_csv_delimiter_name(char d)
{
	switch (d) {
	case ',': return ",";
	case ';': return ";";
	case '\t': return "tab";
	case '|': return "|";
	default: return "auto";
	}
}

const char *fl_csv_encoding_name(enum fl_csv_encoding e)
{
	switch (e) {
	case FL_CSV_WINDOWS_1252: return "windows-1252";
	case FL_CSV_LATIN1: return "latin1";
	default: return "utf-8";
	}
}

int fl_csv_delimiter_parse(const char *what, const char *text, char *out)
{
	*out = 0;
	if (strcmp(text, "auto") == 0)
		return 0;
	if (strcmp(text, "tab") == 0 || strcmp(text, "\\t") == 0) {
		*out = '\t';
		return 0;
	}
	if (strlen(text) == 1 && strchr(",;\t|", text[0]) != NULL) {
		*out = text[0];
		return 0;
	}
	return fl_fail(FL_ERR_INVALID,
	               "%s: \"%s\" is not a field separator (',', ';', tab, '|' or auto)", what,
	               text);
}

int fl_csv_encoding_parse(const char *what, const char *text, enum fl_csv_encoding *out)
{
	static const struct {
		const char *name;
		enum fl_csv_encoding e;
	} names[] = {
	        {"utf-8", FL_CSV_UTF8},
	        {"utf8", FL_CSV_UTF8},
	        {"windows-1252", FL_CSV_WINDOWS_1252},
	        {"cp1252", FL_CSV_WINDOWS_1252},
	        {"latin1", FL_CSV_LATIN1},
	        {"latin-1", FL_CSV_LATIN1},
	        {"iso-8859-1", FL_CSV_LATIN1},
	};

	*out = FL_CSV_UTF8;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(text, names[i].name) == 0) {
			*out = names[i].e;
			return 0;
		}
	return fl_fail(FL_ERR_INVALID,
	               "%s: \"%s\" is not a supported encoding (utf-8, windows-1252 or latin1)",
	               what, text);
}

int fl_csv_set_range(struct fl_csv *c, uint64_t begin, uint64_t end, uint64_t line)
{
	struct stat st;

	if (c->started || c->ranged)
		return fl_fail(FL_ERR_INVALID, "%s: a range is set before the first record",
		               c->name);
	/* Offsets are the file's bytes: a converted file's are not the
	 * buffer's, and standard input cannot seek. */
	if (!c->own_fd || c->enc != FL_CSV_UTF8 || fstat(c->fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    c->start != 0)
		return fl_fail(FL_ERR_INVALID, "%s: only a UTF-8 file can be read in ranges",
		               c->name);
	if (end < begin || line == 0)
		return fl_fail(FL_ERR_INVALID, "%s: range %" PRIu64 " to %" PRIu64 " is empty",
		               c->name, begin, end);
	c->ranged = 1;
	c->jump_to = begin;
	c->jump_line = line;
	c->limit = end;
	c->jump_pending = begin > 0;
	/* One reader reports progress; the others are parts of the same pass. */
	if (begin > 0)
		c->progress = NULL;
	else if (end != UINT64_MAX)
		c->pg.size = end;
	return 0;
}

/* Counts quotes and LFs of [p, p + n) into *q and *lf. */
static void count_quotes_lines(const unsigned char *p, size_t n, uint64_t *q, uint64_t *lf)
{
	size_t i = 0;
	uint64_t nq = 0, nl = 0;

#if defined(__SSE2__)
	const __m128i qv = _mm_set1_epi8('"'), lv = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();

	/* Byte counters (a match is -1, subtracted), summed every 255 blocks
	 * before they can wrap. */
	while (i + 16 <= n) {
		__m128i cq = zero, cl = zero;
		uint64_t w[2];

		for (int k = 0; k < 255 && i + 16 <= n; k++, i += 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));

			cq = _mm_sub_epi8(cq, _mm_cmpeq_epi8(x, qv));
			cl = _mm_sub_epi8(cl, _mm_cmpeq_epi8(x, lv));
		}
		_mm_storeu_si128((__m128i *)(void *)w, _mm_sad_epu8(cq, zero));
		nq += w[0] + w[1];
		_mm_storeu_si128((__m128i *)(void *)w, _mm_sad_epu8(cl, zero));
		nl += w[0] + w[1];
	}
#endif
	for (; i < n; i++) {
		nq += p[i] == '"';
		nl += p[i] == '\n';
	}
	*q += nq;
	*lf += nl;
}

/* Bytes fl_csv_split() and the pieces of its parallel count read at a
 * time, into a buffer aligned to a page, SPLIT_PAGE (see fl_csv_split()). */
#define SPLIT_CHUNK (1u << 20)
#define SPLIT_PAGE 4096
/* Pieces of the count before the first cut: more than the threads, so that
 * a thread that starts late (the machine is shared) leaves its share to the
 * others. */
#define SPLIT_PIECES 8

/* fl_csv_split()'s count of [from, to) of fd, in pieces on several
 * threads. */
struct split_count {
	int fd;
	uint64_t from, to;
	uint64_t quotes[SPLIT_PIECES], lines[SPLIT_PIECES];
	int err[SPLIT_PIECES]; /* errno of a failed read */
};

/* Where piece k starts: a page boundary but for the first. */
static uint64_t split_bound(const struct split_count *sc, size_t k)
{
	if (k == 0)
		return sc->from;
	if (k == SPLIT_PIECES)
		return sc->to;
	return (sc->from + (sc->to - sc->from) / SPLIT_PIECES * k) / SPLIT_PAGE * SPLIT_PAGE;
}

static void split_piece(void *arg, size_t k)
{
	struct split_count *sc = arg;
	uint64_t at = split_bound(sc, k), end = split_bound(sc, k + 1);
	unsigned char *buf = aligned_alloc(SPLIT_PAGE, SPLIT_CHUNK);

	if (buf == NULL) {
		sc->err[k] = ENOMEM;
		return;
	}
	while (at < end) {
		size_t want = end - at < SPLIT_CHUNK ? (size_t)(end - at) : SPLIT_CHUNK;
		ssize_t n = pread(sc->fd, buf, want, (off_t)at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The file shrank under us: an I/O error all the same. */
			sc->err[k] = n < 0 ? errno : EIO;
			break;
		}
		count_quotes_lines(buf, (size_t)n, &sc->quotes[k], &sc->lines[k]);
		at += (uint64_t)n;
	}
	free(buf);
}

int fl_csv_split(const char *path, unsigned parts, uint64_t min_part, uint64_t *cut, uint64_t *line,
                 unsigned *n_cut)
{
	unsigned char *buf = NULL;
	uint64_t size, off = 0, quotes = 0, lines = 0, header_end = 0, prev = 0, jump = 0;
	size_t skip = 0;
	unsigned k = 1;
	struct stat st;
	int fd = -1, r = 0, done = 0;

	*n_cut = 0;
	if (min_part < FL_CSV_SPLIT_MIN)
		min_part = FL_CSV_SPLIT_MIN;
	if (strcmp(path, "-") == 0 || parts < 2)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	size = (uint64_t)st.st_size;
	if (size < 2 * min_part) {
		close(fd);
		return 0;
	}
	/* Page-aligned, as the reads' offsets are: the kernel's copy into a
	 * buffer 8 to 24 bytes past a page (malloc's is 16 past) ran at a
	 * third of its speed on the benchmark machine, where 0 or 32 bytes
	 * and more past ran at full speed (0.13 s against 0.045 s for the
	 * first half of bench/score.sh's 330 MB file), and this scan runs
	 * before any part can start. */
	if ((buf = aligned_alloc(SPLIT_PAGE, SPLIT_CHUNK)) == NULL) {
		close(fd);
		return FL_ERR_NOMEM;
	}
	/*
	 * From the start of the file, where no quote is open, to each cut:
	 * the quotes counted tell whether an LF is inside a quoted field (an
	 * odd count) or ends a record (even). Every quote of well-formed CSV
	 * opens or closes a quoted field or is half of a doubled one, so the
	 * count is exact for any file the reader accepts up to the cut; a
	 * stray quote before it makes the first part fail on its own error,
	 * which comes first in the file anyway.
	 */
	while (k < parts && off < size && !done) {
		ssize_t n = pread(fd, buf, SPLIT_CHUNK, (off_t)off);
		size_t i = skip;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno)) : 0;
			break;
		}
		skip = 0;
		while (i < (size_t)n && k < parts) {
			uint64_t at = off + i;

			if (header_end != 0) {
				/* No cut before the k-th share of the file, nor within
				 * min_part of the last cut: count up to there in bulk. */
				uint64_t target = size / parts * k, stop = prev + min_part - 1;

				if (stop < target)
					stop = target;
				/* The long count before the first cut, on every thread
				 * (pieces page-aligned as the reads below are); the
				 * loop reads on from stop. */
				if (k == 1 && at < stop &&
				    stop - at >= 4 * SPLIT_PIECES * SPLIT_PAGE && stop <= size) {
					struct split_count sc = {.fd = fd, .from = at, .to = stop};

					fl_parallel_for(parts, SPLIT_PIECES, split_piece, &sc);
					for (size_t p = 0; p < SPLIT_PIECES; p++) {
						if (sc.err[p] != 0 && r == 0)
							r = sc.err[p] == ENOMEM
							            ? FL_ERR_NOMEM
							            : fl_fail(FL_ERR_IO, "%s: %s",
							                      path,
							                      strerror(sc.err[p]));
						quotes += sc.quotes[p];
						lines += sc.lines[p];
					}
					jump = stop;
					break;
				}
				if (at < stop) {
					size_t m = stop - at < (uint64_t)n - i ? (size_t)(stop - at)
					                                       : (size_t)n - i;

					count_quotes_lines(buf + i, m, &quotes, &lines);
					i += m;
					continue;
				}
				/* The last part would be too small. */
				if (at + 1 > size - min_part) {
					done = 1;
					break;
				}
			}
			/* A header that has not ended within a part's length (or
			 * lines that end in a lone CR): one part. */
			if (header_end == 0 && at >= min_part) {
				done = 1;
				break;
			}
			quotes += buf[i] == '"';
			if (buf[i] == '\n') {
				lines++;
				if ((quotes & 1) == 0 && header_end == 0) {
					header_end = at + 1;
					prev = 0;
				} else if ((quotes & 1) == 0) {
					cut[*n_cut] = at + 1;
					line[*n_cut] = lines + 1;
					(*n_cut)++;
					prev = at + 1;
					k++;
				}
			}
			i++;
		}
		off += (uint64_t)n;
		if (jump != 0) {
			if (r != 0)
				break;
			/* On from jump, with reads from its page. */
			off = jump / SPLIT_PAGE * SPLIT_PAGE;
			skip = (size_t)(jump - off);
			jump = 0;
		}
	}
	free(buf);
	close(fd);
	if (r != 0)
		*n_cut = 0;
	return r;
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

/*
 * Offset of the first byte of s that does not begin a UTF-8 character or
 * is NUL, or len when the text is clean. ASCII, nearly every byte of a lead
 * file, takes the quick path.
 */
static inline size_t first_bad_byte(const unsigned char *s, size_t len)
{
	size_t i = 0, k;

	while (i < len) {
		if (s[i] != 0 && s[i] < 0x80) {
			i++;
			continue;
		}
		/* "é", "ü": two bytes, the most common case, checked here. */
		if (s[i] >= 0xC2 && s[i] <= 0xDF && i + 1 < len && (s[i + 1] & 0xC0) == 0x80) {
			i += 2;
			continue;
		}
		if (s[i] == 0 || (k = fl_utf8_char(s + i, len - i, NULL)) == 0)
			return i;
		i += k;
	}
	return len;
}

/*
 * Refuses a field that is not UTF-8 text: every command reads the same
 * bytes the same way (a value the schema cannot hold would otherwise land
 * silently in "other"). line is the line the field ends on; the message
 * names the one the bad byte is on.
 */
static int check_text(const struct fl_csv *c, const unsigned char *s, size_t len, uint64_t line)
{
	size_t bad = first_bad_byte(s, len);

	if (bad == len)
		return 0;
	for (size_t i = bad; i < len; i++)
		line -= s[i] == '\n';
	if (s[bad] == 0)
		return fl_fail(FL_ERR_DATA, "%s:%" PRIu64 ":%zu: a NUL byte: the file is not text",
		               c->name, line, c->n_fields + 1);
	if (c->enc != FL_CSV_UTF8)
		return fl_fail(FL_ERR_DATA, "%s:%" PRIu64 ":%zu: byte 0x%02X is not a %s character",
		               c->name, line, c->n_fields + 1, s[bad],
		               c->enc == FL_CSV_WINDOWS_1252 ? "Windows-1252" : "Latin-1");
	return fl_fail(FL_ERR_DATA,
	               "%s:%" PRIu64 ":%zu: not UTF-8 text (byte 0x%02X); save the file as UTF-8 "
	               "or name its encoding (--encoding windows-1252 or latin1)",
	               c->name, line, c->n_fields + 1, s[bad]);
}

/* add_field() when the field array is full: the field limit, or more room. */
static int fields_grow(struct fl_csv *c)
{
	size_t cap;
	void *p;

	if (c->n_fields == FL_CSV_MAX_FIELDS)
		return fl_fail(FL_ERR_LIMIT, "%s:%" PRIu64 ": record has more than %d fields",
		               c->name, c->rec_line, FL_CSV_MAX_FIELDS);
	cap = c->fields_cap ? c->fields_cap * 2 : 64;
	if (cap > FL_CSV_MAX_FIELDS)
		cap = FL_CSV_MAX_FIELDS;
	if ((p = realloc(c->fields, cap * sizeof(*c->fields))) == NULL)
		return fl_fail(FL_ERR_NOMEM, "%s:%" PRIu64 ": out of memory", c->name, c->rec_line);
	c->fields = p;
	c->fields_cap = cap;
	return 0;
}

/*
 * Ends the field [s, t) of the record: NUL-terminates it in the buffer and
 * appends it, after the checks in the order a person fixes them (the text,
 * then the record's limits). check says the text may have a byte that is
 * not UTF-8 (it ends beyond the part utf8_scan() cleared); line is the
 * line it ends on.
 */
static int add_field(struct fl_csv *c, unsigned char *s, unsigned char *t, int check, uint64_t line)
{
	size_t len = (size_t)(t - s);
	int r;

	*t = '\0';
	if (check && (r = check_text(c, s, len, line)) != 0)
		return r;
	if (c->n_fields == c->fields_cap && (r = fields_grow(c)) != 0)
		return r;
	if (len > FL_CSV_MAX_RECORD - c->text_len)
		return fl_fail(FL_ERR_LIMIT, "%s:%" PRIu64 ": record longer than %u bytes", c->name,
		               c->rec_line, FL_CSV_MAX_RECORD);
	c->fields[c->n_fields].s = (const char *)s;
	c->fields[c->n_fields].len = len;
	c->n_fields++;
	c->text_len += len;
	return 0;
}

/*
 * Moves c->valid over the data as far as it is UTF-8 without NUL bytes,
 * right after each read, before the tokenizer has written into it. A
 * field is between ASCII bytes (separators, quotes, blanks, line ends),
 * which no UTF-8 character contains, so a field that ends within
 * [0, valid) is UTF-8 too and is not checked again; the first one that
 * ends beyond valid is, and check_text() finds the bad byte in it with
 * its line. ASCII goes 16 bytes at a time. A character cut by the end of
 * the read waits there for the next; any other bad byte stops the scan
 * for the rest of the pass, as the tokenizer has written into what comes
 * after it by the time the next read comes.
 */
static void utf8_scan(struct fl_csv *c)
{
	const unsigned char *b = c->buf;
	size_t i = c->valid, end = c->end, k;

	if (c->valid_stuck)
		return;
	for (;;) {
#if defined(__SSE2__)
		/*
		 * 16 bytes at once when they are ASCII and two-byte characters
		 * ("é", "ü"): every byte >= 0x80 is a lead C2-DF followed by
		 * a continuation 80-BF, all within the 16. Anything else goes
		 * to the checks below from its first byte >= 0x80 or NUL. The
		 * buffer's FL_CSV_BLOCK bytes of overrun cover the last load;
		 * the NUL after the data stops it.
		 */
		const __m128i zero = _mm_setzero_si128(), c1 = _mm_set1_epi8((char)0xC1);
		const __m128i e0 = _mm_set1_epi8((char)0xE0), c0 = _mm_set1_epi8((char)0xC0);

		for (; i < end; i += 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
			/* Signed compares: 0x80-0xFF are -128 to -1. */
			unsigned high = (unsigned)_mm_movemask_epi8(x);
			unsigned lead = (unsigned)_mm_movemask_epi8(
			        _mm_and_si128(_mm_cmpgt_epi8(x, c1), _mm_cmpgt_epi8(e0, x)));
			unsigned cont = (unsigned)_mm_movemask_epi8(_mm_cmpgt_epi8(c0, x));
			unsigned nul = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, zero));

			/* One branch for all: a lead at byte 15 has its
			 * continuation at bit 16, so it goes below. */
			if ((nul | (high ^ (lead | cont)) | (cont ^ (lead << 1))) == 0)
				continue;
			i += (size_t)__builtin_ctz(high | nul);
			break;
		}
		if (i >= end) {
			i = end;
			break;
		}
#else
		while (i < end && b[i] != 0 && b[i] < 0x80)
			i++;
		if (i == end)
			break;
#endif
		/* "é", "ü": two bytes, the most common case, checked here. */
		if (b[i] >= 0xC2 && b[i] <= 0xDF && i + 1 < end && (b[i + 1] & 0xC0) == 0x80) {
			i += 2;
			continue;
		}
		if (b[i] != 0 && (k = fl_utf8_char(b + i, end - i, NULL)) != 0) {
			i += k;
			continue;
		}
		/* Up to 3 bytes 0x80-0xFF at the end may be a character the
		 * next read completes. */
		if (!c->eof && end - i < 4 && b[i] >= 0x80) {
			for (k = i + 1; k < end && (b[k] & 0xC0) == 0x80; k++)
				;
			if (k == end)
				break;
		}
		c->valid_stuck = 1;
		break;
	}
	c->valid = i;
}

/*
 * Appends one read() to the buffer, converted to UTF-8 from a single-byte
 * encoding, and puts the scan's stop (a NUL) after it; sets eof when the
 * file is exhausted. Needs room in the buffer (FL_CSV_UTF8_GROWTH bytes at
 * least when converting). A byte the encoding leaves undefined is kept as
 * it is: it is never UTF-8, so check_text() reports it with its line.
 */
static int fill(struct fl_csv *c)
{
	unsigned char *dst = c->buf + c->end;
	size_t room = c->cap - c->end;
	ssize_t n;

	/* A read at a time, also into a grown buffer: a runaway record is
	 * stopped within a read of the limit. */
	if (room > FL_CSV_BUF)
		room = FL_CSV_BUF;
	if (c->enc != FL_CSV_UTF8)
		room /= FL_CSV_UTF8_GROWTH;
	/* A range ends at its limit as a file ends (fl_csv_set_range()). */
	if (c->limit != UINT64_MAX && room > c->limit - c->rd_off)
		room = (size_t)(c->limit - c->rd_off);
	do
		n = room > 0 ? read(c->fd, c->enc != FL_CSV_UTF8 ? c->raw : dst, room) : 0;
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fl_fail(FL_ERR_IO, "%s: %s", c->name, strerror(errno));
	if (n == 0)
		c->eof = 1;
	c->bytes += (uint64_t)n;
	c->rd_off += (uint64_t)n;
	if (c->enc == FL_CSV_UTF8) {
		c->end += (size_t)n;
	} else {
		for (ssize_t i = 0; i < n; i++) {
			unsigned char b = c->raw[i];

			if (b < 0x80 || c->conv[b - 0x80].len == 0) {
				*dst++ = b;
			} else {
				memcpy(dst, c->conv[b - 0x80].b, c->conv[b - 0x80].len);
				dst += c->conv[b - 0x80].len;
			}
		}
		c->end = (size_t)(dst - c->buf);
	}
	c->buf[c->end] = '\0';
	c->mblk = NULL; /* a block's mask may have seen the old end */
	utf8_scan(c);
	return 0;
}

/*
 * Strips a UTF-8 byte-order mark, which spreadsheet exports often prepend.
 * Read as Windows-1252 or Latin-1, the mark's bytes are "\xC3\xAF\xC2\xBB\xC2\xBF"
 * (the text "ï»¿"): the file is UTF-8, and converting it would garble
 * every accented letter.
 */
static int skip_bom(struct fl_csv *c)
{
	static const char mojibake[] = "\xC3\xAF\xC2\xBB\xC2\xBF";
	int r;

	/* A pipe may deliver the bytes in separate reads. */
	while (c->end < sizeof(mojibake) - 1 && !c->eof)
		if ((r = fill(c)) != 0)
			return r;
	if (c->enc != FL_CSV_UTF8 && c->end >= sizeof(mojibake) - 1 &&
	    memcmp(c->buf, mojibake, sizeof(mojibake) - 1) == 0)
		return fl_fail(FL_ERR_DATA,
		               "%s:1: the file starts with a UTF-8 byte-order mark: it is UTF-8, "
		               "not %s (leave out --encoding)",
		               c->name, fl_csv_encoding_name(c->enc));
	if (c->enc == FL_CSV_UTF8 && c->end >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0)
		c->pos = 3;
	c->bom_pending = 0;
	return 0;
}

/* ---- the separator ---- */

/* The separators a header may use, in the order that breaks ties. */
static const char sniff_delims[] = {',', ';', '\t', '|'};
#define FL_CSV_N_DELIMS 4

/*
 * Scans one record at p (not beyond e) split at delim, as scan() will parse
 * it: a quote opens a quoted field only at the field's start (after
 * blanks), a doubled quote inside is one quote, and a record ends at LF, CR
 * LF or a lone CR outside quotes. Returns the number of fields and sets
 * *next past the record, *blank when the record is empty or all blanks
 * (scan() skips it); returns 0 when the record does not end before e and
 * the file goes on.
 */
static size_t sniff_record(const unsigned char *p, const unsigned char *e, int at_eof, char delim,
                           const unsigned char **next, int *blank)
{
	size_t fields = 1;
	int quoted = 0, start = 1;

	*blank = 1;
	while (p < e) {
		unsigned char ch = *p++;

		if (quoted) {
			if (ch == '"') {
				if (p < e && *p == '"')
					p++;
				else
					quoted = 0;
			}
			continue;
		}
		if (ch == '\n' || ch == '\r') {
			if (ch == '\r' && p < e && *p == '\n')
				p++;
			*next = p;
			return fields;
		}
		if (ch == (unsigned char)delim) {
			fields++;
			start = 1;
			*blank = 0;
			continue;
		}
		if (ch == ' ' || ch == '\t')
			continue;
		*blank = 0;
		if (ch == '"' && start)
			quoted = 1;
		start = 0;
	}
	if (!at_eof)
		return 0;
	*next = e;
	return fields;
}

/* What a separator looks like in the first block: the fields of the
 * header, and how many of the rows after it have as many. */
struct sniff {
	size_t header;     /* fields of the header, 0 if it does not end in the block */
	uint64_t line;     /* the header's physical line */
	size_t rows, same; /* rows looked at, rows with the header's count */
};

static void sniff_delim(const struct fl_csv *c, char delim, struct sniff *sn)
{
	const unsigned char *p = c->buf + c->pos, *e = c->buf + c->end, *next = NULL;
	size_t n;
	int blank;

	memset(sn, 0, sizeof(*sn));
	sn->line = c->line;
	for (;;) {
		if ((n = sniff_record(p, e, c->eof, delim, &next, &blank)) == 0)
			return;
		if (!blank)
			break;
		for (; p < next; p++)
			sn->line += *p == '\n';
		if (p == e)
			return; /* blank to the end: no header */
	}
	sn->header = n;
	p = next;
	while (sn->rows < FL_CSV_SNIFF_ROWS && p < e &&
	       (n = sniff_record(p, e, c->eof, delim, &next, &blank)) != 0) {
		p = next;
		if (blank)
			continue;
		sn->rows++;
		sn->same += n == sn->header;
	}
}

/* Whether a is the better separator: it splits the header, the rows agree
 * with it (all of them first), then the more header fields. */
static int sniff_better(const struct sniff *a, const struct sniff *b)
{
	int a_all = a->same == a->rows, b_all = b->same == b->rows;

	if ((a->header >= 2) != (b->header >= 2))
		return a->header >= 2;
	if (a_all != b_all)
		return a_all;
	if (a->same != b->same)
		return a->same > b->same;
	return a->header > b->header;
}

static const char *delim_looks(char d)
{
	switch (d) {
	case ';': return "';' — the file looks semicolon-separated (use --delimiter ';')";
	case '\t': return "a tab — the file looks tab-separated (use --delimiter tab)";
	case '|': return "'|' — the file looks pipe-separated (use --delimiter '|')";
	default: return "',' — the file looks comma-separated (use --delimiter ',')";
	}
}

/*
 * Settles the separator before the header is parsed: reads ahead (up to
 * FL_CSV_SNIFF_BYTES, or FL_CSV_SNIFF_ROWS rows), then detects it, or
 * checks the one given against the header. A header longer than the block
 * is left to the given separator or ','.
 */
static int decide_delimiter(struct fl_csv *c)
{
	struct sniff sn[FL_CSV_N_DELIMS];
	size_t best = 0, given = 0, lines = 0;
	int r;

	for (size_t i = c->pos; i < c->end; i++)
		lines += c->buf[i] == '\n';
	while (!c->eof && c->end - c->pos < FL_CSV_SNIFF_BYTES && lines <= FL_CSV_SNIFF_ROWS) {
		size_t from = c->end;

		if ((r = fill(c)) != 0)
			return r;
		for (size_t i = from; i < c->end; i++)
			lines += c->buf[i] == '\n';
	}
	for (size_t k = 0; k < FL_CSV_N_DELIMS; k++) {
		sniff_delim(c, sniff_delims[k], &sn[k]);
		if (sniff_better(&sn[k], &sn[best]))
			best = k;
		if (sniff_delims[k] == c->delim)
			given = k;
	}
	if (!c->delim_given) {
		c->delim = sn[best].header >= 2 ? sniff_delims[best] : ',';
	} else if (sn[given].header == 1 && sn[best].header >= 2) {
		return fl_fail(FL_ERR_DATA,
		               "%s:%" PRIu64 ": the header has one field containing %s", c->name,
		               sn[best].line, delim_looks(sniff_delims[best]));
	}
	return 0;
}
/* ---- the tokenizer ---- */

/*
 * For the aligned 64-byte block at b: bit i set when byte i is one the
 * tokenizer must look at: the separator, a quote, or a control byte up to
 * CR (LF, CR, NUL, and tab, which may be blank or separator). Every other
 * byte is field text, never looked at.
 */
#if defined(__SSE2__)
static inline uint64_t block_mask(const unsigned char *b, unsigned char delim)
{
	const __m128i d = _mm_set1_epi8((char)delim), q = _mm_set1_epi8('"');
	const __m128i ctl = _mm_set1_epi8('\r');
	uint64_t m = 0;

	for (int i = 0; i < 4; i++) {
		__m128i x = _mm_load_si128((const __m128i *)(const void *)(b + 16 * i));
		__m128i s = _mm_or_si128(_mm_cmpeq_epi8(x, d), _mm_cmpeq_epi8(x, q));

		s = _mm_or_si128(s, _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x)); /* x <= CR */
		m |= (uint64_t)(unsigned)_mm_movemask_epi8(s) << (16 * i);
	}
	return m;
}
#else
static inline uint64_t block_mask(const unsigned char *b, unsigned char delim)
{
	uint64_t m = 0;

	for (int i = 0; i < FL_CSV_BLOCK; i++)
		m |= (uint64_t)(b[i] == delim || b[i] == '"' || b[i] <= '\r') << i;
	return m;
}
#endif

static int is_blank_byte(unsigned char ch, unsigned char delim)
{
	return (ch == ' ' || ch == '\t') && ch != delim;
}

/*
 * The next byte at or after p that the tokenizer must look at. The NUL
 * after the data is such a byte, so the search always ends by the end of
 * the data.
 */
#define NEXT_SPECIAL(q, p)                                                                         \
	do {                                                                                       \
		size_t off_ = (size_t)((p)-buf);                                                   \
		const unsigned char *b_ = buf + (off_ & ~(size_t)(FL_CSV_BLOCK - 1));              \
		uint64_t m_;                                                                       \
                                                                                                   \
		if (b_ != blk) {                                                                   \
			blk = b_;                                                                  \
			bits = block_mask(b_, delim);                                              \
		}                                                                                  \
		m_ = bits & (~(uint64_t)0 << (off_ & (FL_CSV_BLOCK - 1)));                         \
		while (m_ == 0) {                                                                  \
			blk += FL_CSV_BLOCK;                                                       \
			m_ = bits = block_mask(blk, delim);                                        \
		}                                                                                  \
		(q) = buf + (size_t)(blk - buf) + (size_t)__builtin_ctzll(m_);                     \
	} while (0)

/*
 * Ends the field [from, to) whose last byte in the file was before raw:
 * add_field()'s work, inline for a field that needs no check and fits
 * (the record's count and length are locals of scan()).
 */
#define ADD_FIELD(from, to, raw)                                                                   \
	do {                                                                                       \
		size_t len_ = (size_t)((to) - (from));                                             \
		int check_ = (raw) > valid;                                                        \
                                                                                                   \
		if ((check_ && first_bad_byte(from, len_) != len_) || n == fcap ||                 \
		    len_ > FL_CSV_MAX_RECORD - text) {                                             \
			c->n_fields = n;                                                           \
			c->text_len = text;                                                        \
			if ((r = add_field(c, from, to, check_, line)) != 0)                       \
				goto out;                                                          \
			fields = c->fields;                                                        \
			fcap = c->fields_cap;                                                      \
			n = c->n_fields;                                                           \
			text = c->text_len;                                                        \
		} else {                                                                           \
			fields[n].s = (const char *)(from);                                        \
			fields[n].len = len_;                                                      \
			n++;                                                                       \
			text += len_;                                                              \
			*(to) = '\0';                                                              \
		}                                                                                  \
	} while (0)

/*
 * Tokenizes from pos, going on in the state the last call left. Returns 1
 * when a record is complete (its fields in c->fields), 0 when the data ran
 * out first (the state is kept for the next block), or a negative FL_ERR_*.
 */
static int scan(struct fl_csv *c)
{
	unsigned char *const buf = c->buf;
	unsigned char *p = buf + c->pos, *const e = buf + c->end, *q, *t;
	unsigned char *fstart = buf + c->fstart, *wpos = buf + c->wpos, *seg = buf + c->seg;
	const unsigned char delim = (unsigned char)c->delim;
	const unsigned char *blk = c->mblk;
	/* What utf8_scan() cleared; it does not move while the data does not. */
	const unsigned char *const valid = buf + c->valid;
	uint64_t bits = c->mbits, line = c->line;
	size_t blanks = c->blanks;
	/* The record's fields in locals: the NULs written into the buffer
	 * could be any object to the compiler, so c's would be reloaded. */
	struct fl_csv_field *fields = c->fields;
	size_t n = c->n_fields, fcap = c->fields_cap, text = c->text_len;
	int r;
	unsigned char ch;

	switch (c->st) {
	case SCAN_FIELD: goto field;
	case SCAN_PLAIN: goto plain;
	case SCAN_QUOTED: goto quoted;
	case SCAN_AFTER: goto after;
	case SCAN_ROW: break;
	}
	/* Blank lines, and blanks before a record, are no record. */
	for (;; p++) {
		if (p == e) {
			c->st = SCAN_ROW;
			goto more;
		}
		if (*p == '\n')
			line++;
		else if (*p != '\r' && !is_blank_byte(*p, delim))
			break;
	}
	c->rec_start = (size_t)(p - buf);
	c->rec_line = line;
	n = text = 0;
field:
	while (p < e && is_blank_byte(*p, delim))
		p++;
	if (p == e) {
		c->st = SCAN_FIELD;
		goto more;
	}
	if (*p == '"') {
		fstart = wpos = seg = ++p;
		goto quoted;
	}
	fstart = p;
plain:
	NEXT_SPECIAL(q, p);
	ch = *q;
	if (ch == delim || ch == '\n' || ch == '\r') {
		/* Blanks at the end are not data. */
		for (t = q; t > fstart && (t[-1] == ' ' || t[-1] == '\t'); t--)
			;
		ADD_FIELD(fstart, t, q);
		p = q + 1;
		if (ch == delim)
			goto field;
		line += ch == '\n';
		goto record;
	}
	if (q == e) {
		p = q;
		c->st = SCAN_PLAIN;
		goto more;
	}
	if (ch == '"')
		goto malformed; /* a quote inside an unquoted field */
	p = q + 1;              /* a NUL, or a tab that is not the separator */
	goto plain;
quoted:
	NEXT_SPECIAL(q, p);
	ch = *q;
	if (ch == '"') {
		/* Text since the last doubled quote moves down over it. */
		if (wpos != seg)
			memmove(wpos, seg, (size_t)(q - seg));
		wpos += q - seg;
		p = q + 1;
		blanks = 0;
		goto after;
	}
	if (q == e) {
		p = q;
		c->st = SCAN_QUOTED;
		goto more;
	}
	line += ch == '\n';
	p = q + 1;
	goto quoted;
after:
	if (p == e) {
		c->st = SCAN_AFTER;
		goto more;
	}
	ch = *p;
	if (ch == delim || ch == '\n' || ch == '\r') {
		ADD_FIELD(fstart, wpos, p);
		p++;
		if (ch == delim)
			goto field;
		line += ch == '\n';
		goto record;
	}
	if (ch == ' ' || ch == '\t') {
		blanks++;
		p++;
		goto after;
	}
	if (ch != '"' || blanks > 0)
		goto malformed; /* text after the closing quote */
	/* A doubled quote: one quote of text, and the field goes on. */
	*wpos++ = '"';
	seg = ++p;
	goto quoted;

record:
	c->st = SCAN_ROW;
	r = 1;
	goto out;
more:
	r = 0;
	goto out;
malformed:
	r = fl_fail(FL_ERR_DATA,
	            "%s:%" PRIu64
	            ": malformed CSV: error parsing data while strict checking enabled",
	            c->name, c->rec_line);
out:
	c->n_fields = n;
	c->text_len = text;
	c->pos = (size_t)(p - buf);
	c->fstart = (size_t)(fstart - buf);
	c->wpos = (size_t)(wpos - buf);
	c->seg = (size_t)(seg - buf);
	c->blanks = blanks;
	c->mblk = blk;
	c->mbits = bits;
	c->line = line;
	return r;
}

/* At the end of the file: the record the tokenizer is in ends there. Returns
 * 1 for a record, 0 for none, or a negative FL_ERR_*. */
static int scan_end(struct fl_csv *c)
{
	unsigned char *e = c->buf + c->end, *s = c->buf + c->fstart, *t = e;
	int r;

	switch (c->st) {
	case SCAN_ROW: return 0;
	case SCAN_QUOTED:
		return fl_fail(FL_ERR_DATA,
		               "%s:%" PRIu64
		               ": malformed CSV: error parsing data while strict checking enabled",
		               c->name, c->rec_line);
	case SCAN_FIELD: s = e; break;
	case SCAN_PLAIN:
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		break;
	case SCAN_AFTER: t = c->buf + c->wpos; break;
	}
	c->st = SCAN_ROW;
	if ((r = add_field(c, s, t, c->end > c->valid, c->line)) != 0)
		return r;
	return 1;
}

/*
 * The field text of the record so far, the field being scanned included
 * (with the blanks after its text, as libcsv counted it), for stopping a
 * runaway record long before the file ends.
 */
static size_t record_text_so_far(const struct fl_csv *c)
{
	size_t n = c->text_len;

	switch (c->st) {
	case SCAN_PLAIN: n += c->pos - c->fstart; break;
	case SCAN_QUOTED: n += (c->wpos - c->fstart) + (c->pos - c->seg); break;
	case SCAN_AFTER: n += (c->wpos - c->fstart) + 1 + c->blanks; break;
	default: break;
	}
	return n;
}

static size_t shift_down(size_t off, size_t by)
{
	return off >= by ? off - by : 0;
}

/*
 * Reads the next block: the record in progress first moves to the start of
 * the buffer (the fields found so far move with it), and the buffer doubles
 * when that record leaves less than half a read of room.
 */
static int refill(struct fl_csv *c)
{
	size_t keep = c->st == SCAN_ROW ? c->pos : c->rec_start, live = c->end - keep;

	if (c->st != SCAN_ROW && record_text_so_far(c) > (size_t)FL_CSV_MAX_RECORD + FL_CSV_BUF)
		return fl_fail(FL_ERR_LIMIT, "%s:%" PRIu64 ": record longer than %u bytes", c->name,
		               c->rec_line, FL_CSV_MAX_RECORD);
	if (c->cap - live < FL_CSV_BUF / 2) {
		size_t cap = c->cap * 2 < FL_CSV_MAX_BUF ? c->cap * 2 : FL_CSV_MAX_BUF;
		unsigned char *nb;

		if (cap == c->cap)
			return fl_fail(FL_ERR_LIMIT, "%s:%" PRIu64 ": record longer than %u bytes",
			               c->name, c->rec_line, FL_CSV_MAX_RECORD);
		if ((nb = buffer_alloc(cap)) == NULL)
			return fl_fail(FL_ERR_NOMEM, "%s:%" PRIu64 ": out of memory", c->name,
			               c->rec_line);
		memcpy(nb, c->buf + keep, live);
		for (size_t i = 0; i < c->n_fields; i++)
			c->fields[i].s = (const char *)nb +
			                 ((const unsigned char *)c->fields[i].s - (c->buf + keep));
		free(c->buf);
		c->buf = nb;
		c->cap = cap;
	} else if (keep > 0) {
		memmove(c->buf, c->buf + keep, live);
		for (size_t i = 0; i < c->n_fields; i++)
			c->fields[i].s -= keep;
	}
	c->pos -= keep;
	c->end -= keep;
	c->rec_start = shift_down(c->rec_start, keep);
	c->fstart = shift_down(c->fstart, keep);
	c->wpos = shift_down(c->wpos, keep);
	c->seg = shift_down(c->seg, keep);
	if (c->valid < keep)
		c->valid_stuck = 1; /* never so: what is kept was never checked */
	c->valid = shift_down(c->valid, keep);
	return fill(c);
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

void fl_csv_want_numbers(struct fl_csv *c)
{
	c->want_num = 1;
}

/*
 * The short decimal both fast paths accept (fl_parse_double() and the
 * reader's scan_numbers()): n_int digits, a point and n_frac more made m,
 * 1 to 19 of them in all and m < 2^53, so m and 10^n_frac are exact doubles
 * and one correctly rounded division is strtod()'s answer (Clinger). Sets
 * *out and returns 1, or returns 0 for the general parser. The digit count
 * is checked before m is trusted: beyond 19 digits m may have wrapped.
 */
static inline int short_decimal(uint64_t m, size_t n_int, size_t n_frac, int neg, double *out)
{
	double v;

	if (n_int + n_frac == 0 || n_int + n_frac > 19 || m >= FL_TWO53 || FLT_EVAL_METHOD != 0)
		return 0;
	v = (double)m / exact_pow10[n_frac];
	*out = neg ? -v : v;
	return 1;
}

/* The numeric fast path has room for as many fields as the tokenizer. */
static int num_room(struct fl_csv *c)
{
	double *num;
	unsigned char *ok;

	if (c->num_cap >= c->fields_cap)
		return 1;
	num = realloc(c->num, c->fields_cap * sizeof(*num));
	if (num != NULL)
		c->num = num;
	ok = realloc(c->num_ok, c->fields_cap);
	if (ok != NULL)
		c->num_ok = ok;
	if (num == NULL || ok == NULL)
		return 0; /* the ordinary path, then */
	c->num_cap = c->fields_cap;
	return 1;
}

/*
 * The fast path of fl_csv_want_numbers(): at a record's start, cuts the
 * record and parses its plain decimals in one pass over its bytes. Returns
 * 1 with the record in c->fields and its values in c->num, c->num_ok, or 0,
 * having changed nothing, for a record the ordinary tokenizer must read: a
 * blank line, a quote, a blank, a control byte or one >= 0x80 (which the
 * tokenizer checks as UTF-8), more fields than fit, or a record that does
 * not end in the buffer (the NUL after the data stops it).
 *
 * A field takes the value fl_parse_double()'s own fast path gives it: an
 * optional sign, digits with at most one point, 1 to 19 digits making m <
 * 2^53, then m / 10^(digits after the point), one correctly rounded
 * division. Anything else ("1e5", "N/A", "", twenty digits) is left to the
 * caller's parser with num_ok 0.
 */
static int scan_numbers(struct fl_csv *c)
{
	unsigned char *const buf = c->buf, *const start = buf + c->pos;
	unsigned char *p = start;
	const unsigned char delim = (unsigned char)c->delim;
	struct fl_csv_field *const fields = c->fields;
	double *const num = c->num;
	unsigned char *const ok = c->num_ok;
	const size_t cap = c->num_cap < c->fields_cap ? c->num_cap : c->fields_cap;
	size_t n = 0, text = 0;
	unsigned char ch;

	if (*p == '\n' || *p == '\r')
		return 0;
	for (;;) {
		unsigned char *s = p, *d0;
		uint64_t m = 0;
		size_t n_int, n_frac = 0;
		unsigned d;
		int neg = *p == '-';

		if (n == cap)
			return 0;
		p += *p == '-' || *p == '+';
		for (d0 = p; (d = (unsigned)*p - '0') < 10; p++)
			m = m * 10 + d;
		n_int = (size_t)(p - d0);
		if (*p == '.') {
			for (d0 = ++p; (d = (unsigned)*p - '0') < 10; p++)
				m = m * 10 + d;
			n_frac = (size_t)(p - d0);
		}
		ch = *p;
		if (ch == delim || ch == '\n' || ch == '\r') {
			ok[n] = (unsigned char)short_decimal(m, n_int, n_frac, neg, &num[n]);
		} else {
			/* Text: the rest of the field, or the ordinary path. */
			for (; (ch = *p) != delim && ch != '\n'; p++)
				if (ch <= ' ' || ch == '"' || ch >= 0x7f)
					return 0;
			ok[n] = 0;
		}
		if (ch == '\r' && p[1] != '\n')
			return 0; /* a lone CR ends a record: the tokenizer knows how */
		fields[n].s = (const char *)s;
		fields[n].len = (size_t)(p - s);
		text += fields[n].len;
		n++;
		if (ch != delim)
			break;
		p++;
	}
	if (text > FL_CSV_MAX_RECORD)
		return 0;
	/* Only now the fields end in NULs, where their separators were. */
	for (size_t k = 0; k < n; k++)
		*(unsigned char *)(uintptr_t)(fields[k].s + fields[k].len) = '\0';
	c->n_fields = n;
	c->text_len = text;
	c->rec_start = (size_t)(start - buf);
	c->rec_line = c->line++;
	c->pos = (size_t)(p - buf) + 1 + (ch == '\r');
	return 1;
}

int fl_csv_next(struct fl_csv *c, struct fl_csv_record *rec)
{
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
	c->started = 1;
	if (c->jump_pending && c->header_done) {
		/* The header is read: on to the range's first record. */
		if (lseek(c->fd, (off_t)c->jump_to, SEEK_SET) < 0) {
			r = fl_fail(FL_ERR_IO, "%s: %s", c->name, strerror(errno));
			goto fail;
		}
		c->jump_pending = 0;
		c->rd_off = c->jump_to;
		c->bytes = 0;
		c->pos = c->end = 0;
		c->buf[0] = '\0';
		c->eof = c->done = 0;
		c->line = c->rec_line = c->jump_line;
		c->st = SCAN_ROW;
		c->mblk = NULL;
		c->valid = 0;
		c->valid_stuck = 0;
		c->n_fields = c->text_len = 0;
	}
	if (c->done) {
		r = 0;
		goto out;
	}
	if (c->bom_pending && (r = skip_bom(c)) != 0)
		goto fail;
	/* The separator is decided once; a rewind keeps it. */
	if (!c->delim_decided) {
		if ((r = decide_delimiter(c)) != 0)
			goto fail;
		c->delim_decided = 1;
	}
	if (c->want_num && c->header_done && c->st == SCAN_ROW && c->pos < c->end && num_room(c) &&
	    scan_numbers(c) == 1) {
		rec->num = c->num;
		rec->num_ok = c->num_ok;
		r = 1;
		goto record;
	}
	while ((r = scan(c)) == 0) {
		if (c->eof) {
			/* The last record may have no line end. */
			c->done = 1;
			r = scan_end(c);
			break;
		}
		if ((r = refill(c)) != 0)
			goto fail;
	}
	if (r < 0)
		goto fail;
	if (r == 0)
		goto out;
record:
	rec->fields = c->fields;
	rec->n_fields = c->n_fields;
	rec->line = c->rec_line;
	c->header_done = 1;
	if (c->progress != NULL)
		report_progress(c);
	r = 1;
	goto out;
fail:
	/* What follows an error cannot be trusted to parse: stop here. */
	c->failed = r;
out:
	return r;
}

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

/*
 * Everything fl_parse_double() accepts: blanks, exponents, long digit
 * strings, Clinger's fast path where it applies, strtod() for the rest.
 */
static int parse_double_general(const char *s, size_t len, double *out)
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

/*
 * The short decimals lead files are made of ("-12", "0.3072", "51.0"): an
 * optional sign, at most 19 digits with at most one point among them, no
 * blanks, no exponent. The digits make an exact integer m < 10^19 and the
 * point a power of ten 10^-k; when m < 2^53 and k <= 22 both are exact
 * doubles and one correctly rounded division gives what strtod() gives
 * (Clinger's fast path). Anything else takes the general parser, which
 * gives the same answer for these too.
 */
int fl_parse_double(const char *s, size_t len, double *out)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len, *digits;
	uint64_t m = 0;
	size_t n_int, n_frac = 0;
	unsigned d;
	int neg;

	if (len == 0) {
		*out = 0;
		return -1; /* a blank field: the most common text that is not a number */
	}
	if (len > 21)
		return parse_double_general(s, len, out);
	neg = *p == '-';
	p += *p == '-' || *p == '+';
	/* Most text that is not a number ("Retail", "") is known at once. */
	if ((p == end || ((unsigned)*p - '0' >= 10 && *p != '.')) && s[0] != ' ' && s[0] != '\t') {
		*out = 0;
		return -1;
	}
	for (digits = p; p < end && (d = (unsigned)*p - '0') < 10; p++)
		m = m * 10 + d;
	n_int = (size_t)(p - digits);
	if (p < end && *p == '.') {
		for (digits = ++p; p < end && (d = (unsigned)*p - '0') < 10; p++)
			m = m * 10 + d;
		n_frac = (size_t)(p - digits);
	}
	/* Only an exponent or blanks could go on from here ("2024-05-17" cannot). */
	if (p != end && *p != 'e' && *p != 'E' && *p != ' ' && *p != '\t') {
		*out = 0;
		return -1;
	}
	if (p != end || !short_decimal(m, n_int, n_frac, neg, out))
		return parse_double_general(s, len, out);
	return 0;
}

/* ---- numbers as regions and CRMs write them ---- */

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Drops blanks, and no-break spaces, from both ends of [*b, *e). */
static void trim(const char **b, const char **e)
{
	for (;;) {
		if (*b < *e && is_blank(**b))
			(*b)++;
		else if (*e - *b >= 2 && memcmp(*b, "\xC2\xA0", 2) == 0)
			*b += 2;
		else
			break;
	}
	for (;;) {
		if (*e > *b && is_blank((*e)[-1]))
			(*e)--;
		else if (*e - *b >= 2 && memcmp(*e - 2, "\xC2\xA0", 2) == 0)
			*e -= 2;
		else
			break;
	}
}

/* Takes a leading sign off [*b, e) into *sign ('+', '-' or 0 when there is
 * none yet); a second sign is left for the parser to refuse. */
static void take_sign(const char **b, const char *e, char *sign)
{
	if (*sign == 0 && *b < e && (**b == '-' || **b == '+'))
		*sign = *(*b)++;
}

int fl_parse_number(const char *s, size_t len, const struct fl_number_format *f, double *out)
{
	const char *b = s, *e = s + len;
	char buf[128], sign = 0, dec;
	size_t k = 0, tl, cl, group = 0;
	int groups = 0, in_int = 1;

	*out = 0;
	if (f == NULL || ((f->decimal == 0 || f->decimal == '.') && f->thousands[0] == '\0' &&
	                  f->currency[0] == '\0'))
		return fl_parse_double(s, len, out);
	dec = f->decimal ? f->decimal : '.';
	tl = strlen(f->thousands);
	cl = strlen(f->currency);
	trim(&b, &e);
	if (cl > 0) {
		take_sign(&b, e, &sign);
		trim(&b, &e);
		if ((size_t)(e - b) >= cl && memcmp(b, f->currency, cl) == 0)
			b += cl;
		else if ((size_t)(e - b) >= cl && memcmp(e - cl, f->currency, cl) == 0)
			e -= cl;
		trim(&b, &e);
	}
	take_sign(&b, e, &sign);
	if (sign != 0)
		buf[k++] = sign;
	/* Copies the number in plain form, checking the grouping on the way:
	 * the first group has 1 to 3 digits, every later one exactly 3. */
	while (b < e) {
		if (k + 1 >= sizeof(buf))
			return -1; /* no grouped number is this long */
		if (in_int && tl > 0 && (size_t)(e - b) >= tl && memcmp(b, f->thousands, tl) == 0) {
			if (group == 0 || group > 3 || (groups > 0 && group != 3))
				return -1;
			groups++;
			group = 0;
			b += tl;
			continue;
		}
		if (*b >= '0' && *b <= '9') {
			if (in_int)
				group++;
			buf[k++] = *b++;
			continue;
		}
		if (*b == dec) {
			buf[k++] = '.';
			b++;
		} else if (*b == '.' || *b == ',') {
			return -1; /* a point or comma that is neither separator */
		} else {
			buf[k++] = *b++;
		}
		if (in_int && groups > 0 && group != 3)
			return -1;
		in_int = 0;
	}
	if (in_int && groups > 0 && group != 3)
		return -1;
	return fl_parse_double(buf, k, out);
}

int fl_number_set_decimal(struct fl_number_format *f, const char *what, const char *text)
{
	if (strcmp(text, ".") != 0 && strcmp(text, ",") != 0)
		return fl_fail(FL_ERR_INVALID,
		               "%s: \"%s\" is not a decimal separator (\".\" or \",\")", what,
		               text);
	if (strcmp(f->thousands, text) == 0)
		return fl_fail(FL_ERR_INVALID,
		               "%s: \"%s\" is the thousands separator too; they must differ", what,
		               text);
	f->decimal = text[0];
	return 0;
}

int fl_number_set_thousands(struct fl_number_format *f, const char *what, const char *text)
{
	static const char *const ok[] = {"", ",", ".", " ", "'", "\xC2\xA0", "\xE2\x80\xAF", NULL};
	size_t i;

	for (i = 0; ok[i] != NULL; i++)
		if (strcmp(text, ok[i]) == 0)
			break;
	if (ok[i] == NULL)
		return fl_fail(
		        FL_ERR_INVALID,
		        "%s: \"%s\" is not a thousands separator (\",\", \".\", \" \", \"'\", a "
		        "no-break space or \"\" for none)",
		        what, text);
	if (text[0] != '\0' && text[1] == '\0' && text[0] == (f->decimal ? f->decimal : '.'))
		return fl_fail(FL_ERR_INVALID,
		               "%s: \"%s\" is the decimal separator too; they must differ", what,
		               text);
	memcpy(f->thousands, text, strlen(text) + 1);
	return 0;
}

int fl_number_set_currency(struct fl_number_format *f, const char *what, const char *text)
{
	size_t n = strlen(text);

	if (n > FL_NUMBER_CURRENCY_MAX || strpbrk(text, "0123456789+-.,") != NULL ||
	    !fl_utf8_valid(text, n, FL_UTF8_NO_CONTROL))
		return fl_fail(
		        FL_ERR_INVALID,
		        "%s: \"%s\" is not a currency symbol (1 to %d bytes, no digits, signs, "
		        "points or commas)",
		        what, text, FL_NUMBER_CURRENCY_MAX);
	memcpy(f->currency, text, n + 1);
	return 0;
}

void fl_number_describe(const struct fl_number_format *f, char *buf, size_t bufsz)
{
	int n = 0;

	if (bufsz == 0)
		return;
	buf[0] = '\0';
	if (f->decimal == ',')
		n = snprintf(buf, bufsz, "decimal \",\"");
	if (f->thousands[0] != '\0' && n >= 0 && (size_t)n < bufsz)
		n += snprintf(buf + n, bufsz - (size_t)n, "%sthousands \"%s\"", n ? ", " : "",
		              f->thousands);
	if (f->currency[0] != '\0' && n >= 0 && (size_t)n < bufsz)
		snprintf(buf + n, bufsz - (size_t)n, "%scurrency \"%s\"", n ? ", " : "",
		         f->currency);
}

int fl_csv_dialect_set(struct fl_csv_dialect *d, unsigned *set, const char *key, const char *what,
                       const char *text)
{
	unsigned bit;
	int r;

	if (strcmp(key, "delimiter") == 0) {
		bit = FL_DIALECT_DELIMITER;
		r = fl_csv_delimiter_parse(what, text, &d->delimiter);
	} else if (strcmp(key, "encoding") == 0) {
		bit = FL_DIALECT_ENCODING;
		r = fl_csv_encoding_parse(what, text, &d->encoding);
	} else if (strcmp(key, "decimal") == 0) {
		bit = FL_DIALECT_DECIMAL;
		r = fl_number_set_decimal(&d->number, what, text);
	} else if (strcmp(key, "thousands") == 0) {
		bit = FL_DIALECT_THOUSANDS;
		r = fl_number_set_thousands(&d->number, what, text);
	} else if (strcmp(key, "currency") == 0) {
		bit = FL_DIALECT_CURRENCY;
		r = fl_number_set_currency(&d->number, what, text);
	} else {
		return fl_fail(FL_ERR_INTERNAL, "%s: not a part of a dialect", key);
	}
	if (r == 0 && set != NULL)
		*set |= bit;
	return r;
}

void fl_csv_dialect_merge(struct fl_csv_dialect *dst, const struct fl_csv_dialect *src,
                          unsigned set)
{
	if (set & FL_DIALECT_DELIMITER)
		dst->delimiter = src->delimiter;
	if (set & FL_DIALECT_ENCODING)
		dst->encoding = src->encoding;
	if (set & FL_DIALECT_DECIMAL)
		dst->number.decimal = src->number.decimal;
	if (set & FL_DIALECT_THOUSANDS)
		memcpy(dst->number.thousands, src->number.thousands, sizeof(dst->number.thousands));
	if (set & FL_DIALECT_CURRENCY)
		memcpy(dst->number.currency, src->number.currency, sizeof(dst->number.currency));
}
