/*
 * The binary row cache: a labelled CSV converted once into standardised
 * doubles on disk, and gradient passes that stream over it through a small
 * sliding memory mapping. See include/fedlead/cache.h for the file layout.
 */
/* madvise() and its MADV_* advice are BSD/Linux, not POSIX; posix_madvise's
 * POSIX_MADV_DONTNEED is a no-op on Linux, so the real call is needed. */
#define _DEFAULT_SOURCE

#include "fedlead/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "fedlead/bytes.h"
#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/linalg.h"
#include "fedlead/parallel.h"
#include "fedlead/rows.h"

#define MAGIC_LEN 8
#define SHA_LEN 32
#define BYTE_ORDER_MARK 0x01020304u
#define BYTE_ORDER_SWAPPED 0x04030201u
/* Offsets of the header fields (cache.h). */
#define OFF_VERSION 8
#define OFF_BOM 12
#define OFF_FPR 16
#define OFF_ROWS 48
#define OFF_DIM 56
#define OFF_STATS 64
#define OFF_STATS_BYTES 72
#define OFF_X 80
#define OFF_Y 88
#define OFF_SIZE 96
#define OFF_SKIPPED 104
#define OFF_DATA_SHA 112
#define OFF_HEADER_SHA 144
/* Sections start on this boundary, so a window of X maps from an offset
 * that is a multiple of any page size up to it. */
#define SECTION_ALIGN 4096u
/* Bytes of rows buffered by the conversion between writes, and of file
 * read per call by the passes that read rather than map. */
#define IO_BUF_BYTES ((size_t)4 << 20)
/* Largest single read()/write(); Linux moves at most about 2 GiB per call. */
#define IO_CHUNK ((size_t)1 << 30)

struct fl_cache {
	char *path;
	int fd;
	size_t n, dim;
	uint64_t x_off, y_off, size, skipped;
	uint8_t data_sha[SHA_LEN];
	struct fl_stats *stats;
	struct fl_scaler *scaler;
	enum fl_cache_access access;
	size_t window_rows;
	size_t page;
};

/* ---- little helpers ---- */

/* Rounds up to the section alignment; the caller keeps v far from 2^64. */
static uint64_t align_up(uint64_t v)
{
	return (v + SECTION_ALIGN - 1) & ~(uint64_t)(SECTION_ALIGN - 1);
}

/* Byte size of the statistics section for dim columns. */
static uint64_t stats_bytes(size_t dim)
{
	return (2 + 5 * (uint64_t)dim) * sizeof(double);
}

/* Reads len bytes at off; returns the bytes read (short only at end of
 * file) or -1 with errno. */
static ssize_t pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		size_t want = len - got < IO_CHUNK ? len - got : IO_CHUNK;
		ssize_t r = pread(fd, p + got, want, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Reads exactly len bytes at off; a short read means the file shrank
 * under us, which is reported as truncation. */
static int read_exact(const struct fl_cache *c, void *buf, size_t len, uint64_t off)
{
	ssize_t r = pread_all(c->fd, buf, len, off);

	if (r < 0)
		return fl_fail(FL_ERR_IO, "%s: read failed: %s", c->path, strerror(errno));
	if ((size_t)r != len)
		return fl_fail(FL_ERR_IO, "%s: the file was truncated while in use", c->path);
	return 0;
}

static void stats_to_bytes(const struct fl_stats *st, double *out)
{
	size_t d = st->dim;

	out[0] = st->rows;
	out[1] = st->positives;
	memcpy(out + 2, st->count, d * sizeof(double));
	memcpy(out + 2 + d, st->sum, d * sizeof(double));
	memcpy(out + 2 + 2 * d, st->sumsq, d * sizeof(double));
	memcpy(out + 2 + 3 * d, st->min, d * sizeof(double));
	memcpy(out + 2 + 4 * d, st->max, d * sizeof(double));
}

static void stats_from_bytes(struct fl_stats *st, const double *in)
{
	size_t d = st->dim;

	st->rows = in[0];
	st->positives = in[1];
	memcpy(st->count, in + 2, d * sizeof(double));
	memcpy(st->sum, in + 2 + d, d * sizeof(double));
	memcpy(st->sumsq, in + 2 + 2 * d, d * sizeof(double));
	memcpy(st->min, in + 2 + 3 * d, d * sizeof(double));
	memcpy(st->max, in + 2 + 4 * d, d * sizeof(double));
}

/* SHA-256 of the header's first OFF_HEADER_SHA bytes and the stats. */
static int header_digest(const uint8_t *hdr, const void *stats, size_t stats_len,
                         uint8_t out[SHA_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, hdr, OFF_HEADER_SHA) == 1 &&
	     EVP_DigestUpdate(md, stats, stats_len) == 1 &&
	     EVP_DigestFinal_ex(md, out, &len) == 1 && len == SHA_LEN;
	EVP_MD_CTX_free(md);
	return ok ? 0 : fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
}

/* ---- conversion ---- */

struct convert {
	const char *out_path;
	int fd, yfd;                /* fd belongs to file */
	struct fl_file *file;       /* the cache under its temporary name */
	size_t dim, buf_rows, n, k; /* rows written, rows buffered */
	uint64_t x_off;
	double *xbuf, *ybuf;
	EVP_MD_CTX *md;
};

static int write_failed(const struct convert *cv)
{
	return fl_fail(FL_ERR_IO, "%s: write failed: %s", cv->out_path, strerror(errno));
}

/* Appends the buffered raw rows to X and their labels to the spool. */
static int flush_rows(struct convert *cv)
{
	size_t row_bytes = cv->dim * sizeof(double);

	if (cv->k == 0)
		return 0;
	/* Offsets must stay representable as off_t: refuse before writing. */
	if ((uint64_t)(cv->n + cv->k) > (((uint64_t)INT64_MAX - cv->x_off) / 2) / row_bytes)
		return fl_fail(FL_ERR_LIMIT, "%s: too many rows for one cache file", cv->out_path);
	if (fl_pwrite_all(cv->fd, cv->xbuf, cv->k * row_bytes, cv->x_off + cv->n * row_bytes) ||
	    fl_pwrite_all(cv->yfd, cv->ybuf, cv->k * sizeof(double), cv->n * sizeof(double)))
		return write_failed(cv);
	cv->n += cv->k;
	cv->k = 0;
	return 0;
}

/* Pass 1: CSV to raw encoded rows in the file, statistics on the way. */
static int convert_rows(const struct fl_schema *s, const char *csv_path, enum fl_bad_rows policy,
                        struct convert *cv, struct fl_stats *st, struct fl_load_report *rep)
{
	struct fl_rows *rows = NULL;
	int r;

	if ((r = fl_rows_open(s, csv_path, 1, policy, rep, &rows)) != 0)
		goto out;
	for (;;) {
		double *x = cv->xbuf + cv->k * cv->dim, *y = cv->ybuf + cv->k;

		if ((r = fl_rows_next(rows, x, y, NULL)) != 1)
			break;
		fl_stats_add(st, x, *y);
		if (++cv->k == cv->buf_rows && (r = flush_rows(cv)) != 0)
			goto out;
	}
	if (r < 0 || (r = flush_rows(cv)) != 0)
		goto out;
	if (cv->n == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no usable data rows", csv_path);
		goto out;
	}
	rep->rows = cv->n;
	r = 0;
out:
	fl_rows_close(rows);
	return r;
}

/* Pass 2 over the file itself (never the CSV again): standardises X in
 * place, copies the labels after it, and hashes both as they end up. */
static int convert_finish(struct convert *cv, const struct fl_scaler *sc, uint64_t y_off)
{
	size_t row_bytes = cv->dim * sizeof(double);

	for (size_t r0 = 0; r0 < cv->n; r0 += cv->buf_rows) {
		size_t rows = cv->n - r0 < cv->buf_rows ? cv->n - r0 : cv->buf_rows;
		uint64_t off = cv->x_off + r0 * row_bytes;
		ssize_t got = pread_all(cv->fd, cv->xbuf, rows * row_bytes, off);

		if (got < 0 || (size_t)got != rows * row_bytes)
			return fl_fail(FL_ERR_IO, "%s: reading back the rows failed: %s",
			               cv->out_path, got < 0 ? strerror(errno) : "short read");
		for (size_t i = 0; i < rows; i++)
			fl_scaler_apply(sc, cv->xbuf + i * cv->dim);
		if (fl_pwrite_all(cv->fd, cv->xbuf, rows * row_bytes, off) != 0)
			return write_failed(cv);
		if (EVP_DigestUpdate(cv->md, cv->xbuf, rows * row_bytes) != 1)
			return fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
	}
	for (size_t r0 = 0; r0 < cv->n; r0 += cv->buf_rows) {
		size_t rows = cv->n - r0 < cv->buf_rows ? cv->n - r0 : cv->buf_rows;
		ssize_t got =
		        pread_all(cv->yfd, cv->ybuf, rows * sizeof(double), r0 * sizeof(double));

		if (got < 0 || (size_t)got != rows * sizeof(double))
			return fl_fail(FL_ERR_IO, "%s: reading back the labels failed: %s",
			               cv->out_path, got < 0 ? strerror(errno) : "short read");
		if (fl_pwrite_all(cv->fd, cv->ybuf, rows * sizeof(double),
		                  y_off + r0 * sizeof(double)) != 0)
			return write_failed(cv);
		if (EVP_DigestUpdate(cv->md, cv->ybuf, rows * sizeof(double)) != 1)
			return fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
	}
	return 0;
}

/* The temporary name "OUT.WHAT.XXXXXX" (the label spool's), malloc'ed. */
static char *temp_name(const char *out_path, const char *what)
{
	size_t len = strlen(out_path) + strlen(what) + 9;
	char *t = malloc(len);

	if (t != NULL)
		snprintf(t, len, "%s.%s.XXXXXX", out_path, what);
	return t;
}

/* fl_file_begin()'s messages, and the text this module has always given
 * for a directory it cannot create the file in. */
static const struct fl_file_opts cache_file_opts = {
        .what = "write the cache",
        .create_what = "create a temporary file in its directory",
        .mode = 0600,
};

int fl_cache_convert(const struct fl_schema *s, const char *csv_path, const char *out_path,
                     enum fl_bad_rows policy, struct fl_load_report *rep)
{
	struct convert cv = {.out_path = out_path, .fd = -1, .yfd = -1, .file = NULL};
	struct fl_stats *st = NULL;
	struct fl_scaler *sc = NULL;
	uint8_t hdr[FL_CACHE_HEADER_BYTES], sha[SHA_LEN];
	double *stats_buf = NULL;
	uint64_t sbytes, y_off, size;
	unsigned int sha_len = 0;
	char *ytmp = NULL;
	uint32_t bom = BYTE_ORDER_MARK;
	int r = FL_ERR_NOMEM;

	memset(rep, 0, sizeof(*rep));
	cv.dim = s->dim;
	if (cv.dim == 0 || cv.dim > FL_SCHEMA_MAX_DIM)
		return fl_fail(FL_ERR_INVALID, "cache: schema width %zu is out of range", cv.dim);
	sbytes = stats_bytes(cv.dim);
	cv.x_off = align_up(FL_CACHE_HEADER_BYTES + sbytes);
	cv.buf_rows = IO_BUF_BYTES / (cv.dim * sizeof(double));
	if (cv.buf_rows == 0)
		cv.buf_rows = 1;
	if ((cv.xbuf = fl_matrix_alloc(cv.buf_rows, cv.dim)) == NULL ||
	    (cv.ybuf = malloc(cv.buf_rows * sizeof(double))) == NULL ||
	    (stats_buf = malloc(sbytes)) == NULL || (cv.md = EVP_MD_CTX_new()) == NULL ||
	    (ytmp = temp_name(out_path, "y")) == NULL || fl_stats_new(cv.dim, &st) != 0) {
		r = fl_fail(FL_ERR_NOMEM, "cache: out of memory");
		goto out;
	}
	/* Mode 0600 suits a copy of the partner's lead data. The label spool
	 * is unlinked at once: it lives only as long as the descriptor, even
	 * if we crash. */
	if ((r = fl_file_begin(out_path, &cache_file_opts, &cv.file)) != 0)
		goto out;
	cv.fd = fl_file_fd(cv.file);
	if ((cv.yfd = mkstemp(ytmp)) < 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot create a temporary file in its directory: %s",
		            out_path, strerror(errno));
		goto out;
	}
	unlink(ytmp);
	if ((r = convert_rows(s, csv_path, policy, &cv, st, rep)) != 0 ||
	    (r = fl_scaler_from_stats(s, st, &sc)) != 0)
		goto out;
	y_off = align_up(cv.x_off + (uint64_t)cv.n * cv.dim * sizeof(double));
	size = y_off + (uint64_t)cv.n * sizeof(double);
	if (EVP_DigestInit_ex(cv.md, EVP_sha256(), NULL) != 1) {
		r = fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}
	if ((r = convert_finish(&cv, sc, y_off)) != 0)
		goto out;
	if (EVP_DigestFinal_ex(cv.md, sha, &sha_len) != 1 || sha_len != SHA_LEN) {
		r = fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}

	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, FL_CACHE_MAGIC, MAGIC_LEN);
	fl_put_le32(hdr + OFF_VERSION, FL_CACHE_VERSION);
	memcpy(hdr + OFF_BOM, &bom, sizeof(bom)); /* native on purpose */
	memcpy(hdr + OFF_FPR, s->fingerprint, FL_FINGERPRINT_LEN);
	fl_put_le64(hdr + OFF_ROWS, cv.n);
	fl_put_le64(hdr + OFF_DIM, cv.dim);
	fl_put_le64(hdr + OFF_STATS, FL_CACHE_HEADER_BYTES);
	fl_put_le64(hdr + OFF_STATS_BYTES, sbytes);
	fl_put_le64(hdr + OFF_X, cv.x_off);
	fl_put_le64(hdr + OFF_Y, y_off);
	fl_put_le64(hdr + OFF_SIZE, size);
	fl_put_le64(hdr + OFF_SKIPPED, rep->skipped);
	memcpy(hdr + OFF_DATA_SHA, sha, SHA_LEN);
	stats_to_bytes(st, stats_buf);
	if ((r = header_digest(hdr, stats_buf, sbytes, hdr + OFF_HEADER_SHA)) != 0)
		goto out;
	/* The header goes last, and the file takes its name only once synced:
	 * a conversion cut short leaves at most a temporary file, never a
	 * cache that opens. */
	if (ftruncate(cv.fd, (off_t)size) != 0 ||
	    fl_pwrite_all(cv.fd, stats_buf, sbytes, FL_CACHE_HEADER_BYTES) != 0 ||
	    fl_pwrite_all(cv.fd, hdr, sizeof(hdr), 0) != 0) {
		r = write_failed(&cv);
		goto out;
	}
	r = fl_file_commit(cv.file);
	cv.file = NULL;
out:
	fl_file_abort(cv.file);
	if (cv.yfd >= 0)
		close(cv.yfd);
	EVP_MD_CTX_free(cv.md);
	free(cv.xbuf);
	free(cv.ybuf);
	free(stats_buf);
	free(ytmp);
	fl_stats_free(st);
	fl_scaler_free(sc);
	return r;
}

/* ---- opening ---- */

void fl_cache_free(struct fl_cache *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	fl_stats_free(c->stats);
	fl_scaler_free(c->scaler);
	free(c);
}

/* Checks the header fields that bound what open reads and allocates;
 * they are needed before the checksum can be computed. */
static int check_bounds(const struct fl_cache *c, const uint8_t *hdr)
{
	uint64_t dim = fl_get_le64(hdr + OFF_DIM);

	if (dim == 0 || dim > FL_SCHEMA_MAX_DIM)
		return fl_fail(FL_ERR_DATA, "%s: corrupt cache header (%llu columns)", c->path,
		               (unsigned long long)dim);
	if (fl_get_le64(hdr + OFF_STATS) != FL_CACHE_HEADER_BYTES ||
	    fl_get_le64(hdr + OFF_STATS_BYTES) != stats_bytes((size_t)dim))
		return fl_fail(FL_ERR_DATA, "%s: corrupt cache header (statistics section)",
		               c->path);
	return 0;
}

/* Checks the rest of a header whose checksum held: only a broken or
 * malicious writer gets here with bad values. */
static int check_layout(const struct fl_cache *c, const uint8_t *hdr)
{
	uint64_t n = fl_get_le64(hdr + OFF_ROWS), dim = fl_get_le64(hdr + OFF_DIM), x_bytes;

	if (n == 0 || n > ((uint64_t)INT64_MAX / 2) / sizeof(double) / dim)
		return fl_fail(FL_ERR_DATA, "%s: corrupt cache header (%llu rows)", c->path,
		               (unsigned long long)n);
	x_bytes = n * dim * sizeof(double);
	if (fl_get_le64(hdr + OFF_X) !=
	            align_up(FL_CACHE_HEADER_BYTES + stats_bytes((size_t)dim)) ||
	    fl_get_le64(hdr + OFF_Y) != align_up(fl_get_le64(hdr + OFF_X) + x_bytes) ||
	    fl_get_le64(hdr + OFF_SIZE) != fl_get_le64(hdr + OFF_Y) + n * sizeof(double))
		return fl_fail(FL_ERR_DATA, "%s: corrupt cache header (section offsets)", c->path);
	return 0;
}

int fl_cache_open(const struct fl_schema *s, const char *path, struct fl_cache **out)
{
	struct fl_cache *c = NULL;
	uint8_t hdr[FL_CACHE_HEADER_BYTES], sha[SHA_LEN];
	double *stats_buf = NULL;
	char have[65], want[65];
	struct stat sb;
	uint32_t bom, version;
	uint64_t sbytes;
	int r = FL_ERR_NOMEM;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->path = strdup(path)) == NULL) {
		free(c);
		return fl_fail(FL_ERR_NOMEM, "cache: out of memory");
	}
	c->fd = -1;
	if ((c->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(c->fd, &sb) != 0) {
		r = fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((uint64_t)sb.st_size < FL_CACHE_HEADER_BYTES) {
		r = fl_fail(FL_ERR_DATA, "%s: truncated header (%llu bytes, a cache header has %d)",
		            path, (unsigned long long)sb.st_size, FL_CACHE_HEADER_BYTES);
		goto out;
	}
	if ((r = read_exact(c, hdr, sizeof(hdr), 0)) != 0)
		goto out;
	r = FL_ERR_DATA;
	if (memcmp(hdr, FL_CACHE_MAGIC, MAGIC_LEN) != 0) {
		r = fl_fail(r, "%s: not a fedlead cache file (bad magic)", path);
		goto out;
	}
	if ((version = fl_get_le32(hdr + OFF_VERSION)) != FL_CACHE_VERSION) {
		r = fl_fail(r,
		            "%s: cache version %u is not supported (this build reads version %d)",
		            path, (unsigned)version, FL_CACHE_VERSION);
		goto out;
	}
	memcpy(&bom, hdr + OFF_BOM, sizeof(bom));
	if (bom == BYTE_ORDER_SWAPPED) {
		r = fl_fail(r, "%s: the cache was written on a machine of another byte order",
		            path);
		goto out;
	}
	if (bom != BYTE_ORDER_MARK) {
		r = fl_fail(r, "%s: corrupt cache header (byte-order mark)", path);
		goto out;
	}
	if ((r = check_bounds(c, hdr)) != 0)
		goto out;
	c->dim = (size_t)fl_get_le64(hdr + OFF_DIM);
	sbytes = stats_bytes(c->dim);
	if ((uint64_t)sb.st_size < FL_CACHE_HEADER_BYTES + sbytes) {
		r = fl_fail(FL_ERR_DATA, "%s: truncated cache (%llu bytes, the header says %llu)",
		            path, (unsigned long long)sb.st_size,
		            (unsigned long long)fl_get_le64(hdr + OFF_SIZE));
		goto out;
	}
	if ((stats_buf = malloc(sbytes)) == NULL) {
		r = fl_fail(FL_ERR_NOMEM, "cache: out of memory");
		goto out;
	}
	if ((r = read_exact(c, stats_buf, sbytes, FL_CACHE_HEADER_BYTES)) != 0 ||
	    (r = header_digest(hdr, stats_buf, sbytes, sha)) != 0)
		goto out;
	if (memcmp(sha, hdr + OFF_HEADER_SHA, SHA_LEN) != 0) {
		r = fl_fail(FL_ERR_DATA, "%s: corrupt cache header (checksum mismatch)", path);
		goto out;
	}
	if ((r = check_layout(c, hdr)) != 0)
		goto out;
	c->n = (size_t)fl_get_le64(hdr + OFF_ROWS);
	c->x_off = fl_get_le64(hdr + OFF_X);
	c->y_off = fl_get_le64(hdr + OFF_Y);
	c->size = fl_get_le64(hdr + OFF_SIZE);
	c->skipped = fl_get_le64(hdr + OFF_SKIPPED);
	memcpy(c->data_sha, hdr + OFF_DATA_SHA, SHA_LEN);
	if (memcmp(s->fingerprint, hdr + OFF_FPR, FL_FINGERPRINT_LEN) != 0 || s->dim != c->dim) {
		for (size_t i = 0; i < 8; i++)
			snprintf(have + 2 * i, 3, "%02x", hdr[OFF_FPR + i]);
		fl_schema_fingerprint_hex(s, want);
		r = fl_fail(FL_ERR_DATA,
		            "%s: the cache was built for another schema (fingerprint %.16s..., "
		            "this schema's is %.16s...); rebuild it with fedlead-node cache",
		            path, have, want);
		goto out;
	}
	if ((uint64_t)sb.st_size != c->size) {
		r = fl_fail(FL_ERR_DATA, "%s: %s cache (%llu bytes, the header says %llu)", path,
		            (uint64_t)sb.st_size < c->size ? "truncated" : "overlong",
		            (unsigned long long)sb.st_size, (unsigned long long)c->size);
		goto out;
	}
	if ((r = fl_stats_new(c->dim, &c->stats)) != 0)
		goto out;
	stats_from_bytes(c->stats, stats_buf);
	if ((r = fl_scaler_from_stats(s, c->stats, &c->scaler)) != 0)
		goto out;
	c->page = (size_t)sysconf(_SC_PAGESIZE);
	if (c->page == 0 || c->page > SECTION_ALIGN || SECTION_ALIGN % c->page != 0)
		c->page = SECTION_ALIGN;
	/* Tell the kernel the file is read front to back, so it reads ahead
	 * further when the rows come from disk. */
	(void)posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if ((r = fl_cache_set_access(c, FL_CACHE_READ)) != 0)
		goto out;
	*out = c;
	c = NULL;
	r = 0;
out:
	free(stats_buf);
	fl_cache_free(c);
	return r;
}

size_t fl_cache_rows(const struct fl_cache *c)
{
	return c->n;
}

size_t fl_cache_dim(const struct fl_cache *c)
{
	return c->dim;
}

uint64_t fl_cache_skipped(const struct fl_cache *c)
{
	return c->skipped;
}

const struct fl_stats *fl_cache_stats(const struct fl_cache *c)
{
	return c->stats;
}

const struct fl_scaler *fl_cache_scaler(const struct fl_cache *c)
{
	return c->scaler;
}

int fl_cache_set_window(struct fl_cache *c, size_t bytes)
{
	if (bytes == 0)
		return fl_fail(FL_ERR_INVALID, "cache: a window of 0 bytes holds no rows");
	c->window_rows = bytes / (c->dim * sizeof(double));
	if (c->window_rows == 0)
		c->window_rows = 1;
	if (c->window_rows > c->n)
		c->window_rows = c->n;
	return 0;
}

int fl_cache_set_access(struct fl_cache *c, enum fl_cache_access a)
{
	if (a != FL_CACHE_READ && a != FL_CACHE_MMAP)
		return fl_fail(FL_ERR_INVALID, "cache: unknown access method %d", (int)a);
	c->access = a;
	return fl_cache_set_window(c, a == FL_CACHE_MMAP ? FL_CACHE_WINDOW_DEFAULT
	                                                 : FL_CACHE_BUFFER_DEFAULT);
}

/* ---- streaming over windows ---- */

/* A pass over the rows, one window at a time. Labels are always read into
 * a buffer (an eighth of a row at most: not worth a second mapping). */
struct stream {
	const struct fl_cache *c;
	size_t r0, rows; /* the current window */
	size_t end;      /* the pass stops before this row */
	const double *X;
	double *y;
	double *buf; /* FL_CACHE_READ: window_rows * dim doubles, reused */
	void *map;   /* FL_CACHE_MMAP: the current mapping */
	size_t len;
};

static int stream_open(const struct fl_cache *c, struct stream *st)
{
	memset(st, 0, sizeof(*st));
	st->c = c;
	st->end = c->n;
	if ((st->y = malloc(c->window_rows * sizeof(double))) == NULL ||
	    (c->access == FL_CACHE_READ &&
	     (st->buf = fl_matrix_alloc(c->window_rows, c->dim)) == NULL)) {
		free(st->y);
		return fl_fail(FL_ERR_NOMEM, "cache: out of memory for a window of %zu rows",
		               c->window_rows);
	}
	return 0;
}

/* Gives the mapped window back: its pages leave our resident set at once
 * (munmap alone would do that too; MADV_DONTNEED says so explicitly, and
 * the page cache keeps them for the next pass if memory allows). */
static void stream_release(struct stream *st)
{
	if (st->map == NULL)
		return;
	(void)madvise(st->map, st->len, MADV_DONTNEED);
	munmap(st->map, st->len);
	st->map = NULL;
}

static int stream_map(struct stream *st, uint64_t off, size_t bytes)
{
	const struct fl_cache *c = st->c;
	uint64_t base = off & ~(uint64_t)(c->page - 1), next;
	size_t delta = (size_t)(off - base);

	st->len = delta + bytes;
	st->map = mmap(NULL, st->len, PROT_READ, MAP_SHARED, c->fd, (off_t)base);
	if (st->map == MAP_FAILED) {
		st->map = NULL;
		return fl_fail(FL_ERR_IO, "%s: mmap: %s", c->path, strerror(errno));
	}
	/* Read ahead aggressively within the window, and start the kernel on
	 * the next one now, so the disk works while the core computes. */
	(void)madvise(st->map, st->len, MADV_SEQUENTIAL);
	next = off + bytes;
	if (next < c->y_off)
		(void)posix_fadvise(c->fd, (off_t)next, (off_t)bytes, POSIX_FADV_WILLNEED);
	st->X = (const double *)((const char *)st->map + delta);
	return 0;
}

/* Moves to the next window: 1 with st->X, st->y, st->rows set, 0 at the
 * end, or an error. The previous window is released first. */
static int stream_next(struct stream *st)
{
	const struct fl_cache *c = st->c;
	uint64_t off;
	size_t bytes;
	int r;

	stream_release(st);
	st->r0 += st->rows;
	if (st->r0 >= st->end) {
		st->rows = 0;
		return 0;
	}
	st->rows = st->end - st->r0 < c->window_rows ? st->end - st->r0 : c->window_rows;
	off = c->x_off + (uint64_t)st->r0 * c->dim * sizeof(double);
	bytes = st->rows * c->dim * sizeof(double);
	if ((r = read_exact(c, st->y, st->rows * sizeof(double),
	                    c->y_off + (uint64_t)st->r0 * sizeof(double))) != 0)
		return r;
	if (c->access == FL_CACHE_MMAP)
		return (r = stream_map(st, off, bytes)) != 0 ? r : 1;
	if ((r = read_exact(c, st->buf, bytes, off)) != 0)
		return r;
	st->X = st->buf;
	return 1;
}

static void stream_close(struct stream *st)
{
	stream_release(st);
	free(st->y);
	free(st->buf);
	st->y = st->buf = NULL;
}

int fl_cache_logistic(const struct fl_cache *c, const double *w, double *loss, double *grad,
                      double *hess)
{
	return fl_cache_logistic_weighted(c, 1.0, w, loss, grad, hess);
}

int fl_cache_logistic_weighted(const struct fl_cache *c, double pos_weight, const double *w,
                               double *loss, double *grad, double *hess)
{
	return fl_cache_logistic_threads(c, pos_weight, 1, w, loss, grad, hess);
}

/* One chunk of a pass: its sums, its own window and scratch. */
struct cache_chunk {
	double loss;
	double *grad, *hess; /* the chunk's sums */
	double *hdiag, *hd;  /* a sampled Hessian's exact diagonal, its scratch */
	double *g, *h, *cw;  /* scratch for the windows after the first */
	struct stream st;
	int open, r;
	char err[256];
};

struct cache_pass {
	const struct fl_cache *c;
	double pos_weight;
	const double *w;
	int hess;
	unsigned every; /* the Hessian from one block of rows in every */
	size_t first;   /* chunk of the wave's first slot */
	struct cache_chunk *k;
};

/* Rows [r0, end) of chunk, window by window: the first window writes
 * straight into the sums, so one window gives exactly
 * fl_linalg_logistic's result; later windows are summed in. */
static void cache_chunk_run(void *arg, size_t slot)
{
	struct cache_pass *cp = arg;
	struct cache_chunk *k = &cp->k[slot];
	const struct fl_cache *c = cp->c;
	size_t d = c->dim, chunk = cp->first + slot, r0 = chunk * FL_CACHE_CHUNK_ROWS;
	double l;
	int r;

	k->st.r0 = r0;
	k->st.rows = 0;
	k->st.end = c->n - r0 < FL_CACHE_CHUNK_ROWS ? c->n : r0 + FL_CACHE_CHUNK_ROWS;
	k->loss = 0;
	k->r = 0;
	while ((r = stream_next(&k->st)) == 1) {
		int first = k->st.r0 == r0;

		if (k->cw != NULL)
			for (size_t i = 0; i < k->st.rows; i++)
				k->cw[i] = k->st.y[i] > 0.5 ? cp->pos_weight : 1.0;
		fl_linalg_logistic_sampled(k->st.X, k->st.rows, d, k->st.y, k->cw, cp->w, k->st.r0,
		                           cp->every, &l, first ? k->grad : k->g,
		                           !cp->hess ? NULL
		                           : first   ? k->hess
		                                     : k->h,
		                           first ? k->hdiag : k->hd, NULL);
		if (first) {
			k->loss = l;
			continue;
		}
		k->loss += l;
		fl_linalg_axpy(1.0, k->g, k->grad, d);
		if (cp->hess)
			fl_linalg_axpy(1.0, k->h, k->hess, d * d);
		if (k->hd != NULL)
			fl_linalg_axpy(1.0, k->hd, k->hdiag, d);
	}
	stream_release(&k->st);
	if (r < 0) {
		k->r = r;
		snprintf(k->err, sizeof(k->err), "%s", fl_errmsg());
	}
}

static void cache_chunk_free(struct cache_chunk *k)
{
	if (k->open)
		stream_close(&k->st);
	free(k->grad);
	free(k->hess);
	free(k->g);
	free(k->h);
	free(k->hdiag);
	free(k->hd);
	free(k->cw);
}

/* fl_cache_logistic_threads(), and with every > 1 (and hess) the sampled
 * rows' Hessian and the exact diagonal in hdiag (d doubles). */
static int cache_pass_run(const struct fl_cache *c, double pos_weight, unsigned threads,
                          unsigned every, const double *w, double *loss, double *grad, double *hess,
                          double *hdiag)
{
	struct cache_pass cp = {c, pos_weight, w, hess != NULL, every, 0, NULL};
	size_t d = c->dim, n_chunks = fl_parallel_chunks(c->n, FL_CACHE_CHUNK_ROWS), wave, made = 0;
	int r = FL_ERR_NOMEM;

	*loss = 0;
	if (!(pos_weight > 0) || !isfinite(pos_weight))
		return fl_fail(FL_ERR_INVALID, "cache: class weight %g must be positive",
		               pos_weight);
	if (hess != NULL && d > SIZE_MAX / sizeof(double) / d)
		return fl_fail(FL_ERR_NOMEM, "cache: a %zu x %zu Hessian does not fit in memory", d,
		               d);
	memset(grad, 0, d * sizeof(*grad));
	if (hess != NULL)
		memset(hess, 0, d * d * sizeof(*hess));
	if (hdiag != NULL)
		memset(hdiag, 0, d * sizeof(*hdiag));
	if (threads == 0)
		threads = 1;
	/* A wave of chunks at a time, each with its own window: memory is a
	 * few windows whatever the rows; the chunks are added in order, so
	 * the sums do not depend on the thread count. */
	wave = threads < n_chunks ? threads : n_chunks;
	if ((cp.k = calloc(wave, sizeof(*cp.k))) == NULL)
		goto nomem;
	for (; made < wave; made++) {
		struct cache_chunk *k = &cp.k[made];

		if ((r = stream_open(c, &k->st)) != 0)
			goto out;
		k->open = 1;
		r = FL_ERR_NOMEM;
		if ((k->grad = fl_matrix_alloc(1, d)) == NULL ||
		    (k->g = fl_matrix_alloc(1, d)) == NULL ||
		    (hess != NULL && ((k->hess = fl_matrix_alloc(d, d)) == NULL ||
		                      (k->h = fl_matrix_alloc(d, d)) == NULL)) ||
		    (hdiag != NULL && ((k->hdiag = fl_matrix_alloc(1, d)) == NULL ||
		                       (k->hd = fl_matrix_alloc(1, d)) == NULL)) ||
		    (pos_weight != 1.0 &&
		     (k->cw = malloc(c->window_rows * sizeof(double))) == NULL))
			goto nomem;
	}
	for (cp.first = 0; cp.first < n_chunks; cp.first += wave) {
		size_t m = n_chunks - cp.first < wave ? n_chunks - cp.first : wave;

		fl_parallel_for(threads, m, cache_chunk_run, &cp);
		for (size_t i = 0; i < m; i++) {
			const struct cache_chunk *k = &cp.k[i];

			if (k->r != 0) {
				r = fl_fail(k->r, "%s", k->err);
				goto out;
			}
			*loss += k->loss;
			for (size_t j = 0; hdiag != NULL && j < d; j++)
				hdiag[j] += k->hdiag[j];
			for (size_t j = 0; j < d; j++)
				grad[j] += k->grad[j];
			if (hess != NULL)
				for (size_t j = 0; j < d * d; j++)
					hess[j] += k->hess[j];
		}
	}
	r = 0;
	goto out;
nomem:
	r = fl_fail(FL_ERR_NOMEM, "cache: out of memory for a pass over %zu columns", d);
out:
	for (size_t i = 0; i < made + (made < wave && cp.k != NULL); i++)
		cache_chunk_free(&cp.k[i]);
	free(cp.k);
	return r;
}

int fl_cache_logistic_threads(const struct fl_cache *c, double pos_weight, unsigned threads,
                              const double *w, double *loss, double *grad, double *hess)
{
	return cache_pass_run(c, pos_weight, threads, 1, w, loss, grad, hess, NULL);
}

int fl_cache_logistic_sampled(const struct fl_cache *c, double pos_weight, unsigned threads,
                              const double *w, double *loss, double *grad, double *hess)
{
	double *hdiag;
	int r;

	if (hess == NULL)
		return cache_pass_run(c, pos_weight, threads, 1, w, loss, grad, hess, NULL);
	if ((hdiag = fl_matrix_alloc(1, c->dim)) == NULL)
		return fl_fail(FL_ERR_NOMEM, "cache: out of memory for a pass over %zu columns",
		               c->dim);
	r = cache_pass_run(c, pos_weight, threads, FL_HESS_SAMPLE_EVERY, w, loss, grad, hess,
	                   hdiag);
	if (r == 0 && fl_hess_sample_fit(hess, hdiag, c->dim) != 0)
		r = (r = cache_pass_run(c, pos_weight, threads, 1, w, loss, grad, hess, NULL)) != 0
		            ? r
		            : FL_SOLVER_HESS_EXACT;
	free(hdiag);
	return r;
}

int fl_cache_scores(const struct fl_cache *c, const double *w,
                    int (*each)(void *arg, double z, double y), void *arg)
{
	struct stream st;
	double *z = NULL;
	int r;

	if ((r = stream_open(c, &st)) != 0)
		return r;
	if ((z = malloc(c->window_rows * sizeof(double))) == NULL) {
		r = fl_fail(FL_ERR_NOMEM, "cache: out of memory");
		goto out;
	}
	while ((r = stream_next(&st)) == 1) {
		fl_linalg_gemv(st.X, st.rows, c->dim, w, z);
		for (size_t i = 0; i < st.rows; i++)
			if ((r = each(arg, z[i], st.y[i])) != 0)
				goto out;
	}
out:
	stream_close(&st);
	free(z);
	return r;
}

/* Hashes len bytes of the file from off through buf. */
static int hash_range(const struct fl_cache *c, EVP_MD_CTX *md, uint8_t *buf, uint64_t off,
                      uint64_t len)
{
	int r;

	while (len > 0) {
		size_t k = len < IO_BUF_BYTES ? (size_t)len : IO_BUF_BYTES;

		if ((r = read_exact(c, buf, k, off)) != 0)
			return r;
		if (EVP_DigestUpdate(md, buf, k) != 1)
			return fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
		off += k;
		len -= k;
	}
	return 0;
}

int fl_cache_verify(const struct fl_cache *c)
{
	EVP_MD_CTX *md = NULL;
	uint8_t *buf = NULL, sha[SHA_LEN];
	unsigned int len = 0;
	int r = FL_ERR_NOMEM;

	if ((buf = malloc(IO_BUF_BYTES)) == NULL || (md = EVP_MD_CTX_new()) == NULL) {
		r = fl_fail(r, "cache: out of memory");
		goto out;
	}
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		r = fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}
	if ((r = hash_range(c, md, buf, c->x_off, (uint64_t)c->n * c->dim * sizeof(double))) != 0 ||
	    (r = hash_range(c, md, buf, c->y_off, (uint64_t)c->n * sizeof(double))) != 0)
		goto out;
	if (EVP_DigestFinal_ex(md, sha, &len) != 1 || len != SHA_LEN) {
		r = fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}
	if (memcmp(sha, c->data_sha, SHA_LEN) != 0) {
		r = fl_fail(FL_ERR_DATA, "%s: the cache data is corrupt (checksum mismatch)",
		            c->path);
		goto out;
	}
	r = 0;
out:
	EVP_MD_CTX_free(md);
	free(buf);
	return r;
}

/* ---- training ---- */

/* What fl_solver_run() evaluates and reports for a cache. */
struct cache_run {
	const struct fl_cache *c;
	const struct fl_cache_train_opts *o;
};

static int cache_eval(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	const struct cache_run *cr = arg;

	return fl_cache_logistic_threads(cr->c, cr->o->pos_weight,
	                                 cr->o->threads > 0 ? cr->o->threads : fl_threads_default(),
	                                 w, loss, grad, hess);
}

static int cache_eval_sampled(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	const struct cache_run *cr = arg;

	return fl_cache_logistic_sampled(cr->c, cr->o->pos_weight,
	                                 cr->o->threads > 0 ? cr->o->threads : fl_threads_default(),
	                                 w, loss, grad, hess);
}

static void cache_progress(void *arg, const struct fl_solver_status *st)
{
	const struct cache_run *cr = arg;

	cr->o->progress(cr->o->progress_arg, st);
}

int fl_cache_train(const struct fl_cache *c, const struct fl_cache_train_opts *o, double *w,
                   struct fl_solver_status *st)
{
	struct cache_run cr = {c, o};
	struct fl_solver_driver drv = {.eval = cache_eval,
	                               .eval_sampled = cache_eval_sampled,
	                               .progress = o->progress != NULL ? cache_progress : NULL,
	                               .arg = &cr};
	struct fl_solver_opts so = o->solver;

	so.hess_sample = fl_hess_sample_pays(c->n, c->dim);
	return fl_solver_run(o->kind, c->dim, &so, &drv, w, st);
}
