/*
 * Tests for the streaming CSV reader and fl_parse_double().
 *
 * Inputs whose exact bytes matter (CRLF, BOM, missing final newline) are
 * written by the tests themselves into mkstemp files, so nothing depends on
 * how a checked-in file survives a checkout.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fedlead/csv.h"
#include "fedlead/error.h"

/* Writes len bytes to a fresh temporary file; path receives its name. */
static void write_tmp(char path[64], const void *data, size_t len)
{
	FILE *f;
	int fd;

	strcpy(path, "/tmp/fl_test_csv_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static struct fl_csv *open_bytes(char path[64], const char *data, size_t len)
{
	struct fl_csv *csv = NULL;

	write_tmp(path, data, len);
	assert_int_equal(fl_csv_open(path, &csv), 0);
	assert_non_null(csv);
	return csv;
}

/* Reads the next record and checks its line and every field (NULL-ended list). */
static void expect_rec(struct fl_csv *csv, uint64_t line, ...)
{
	struct fl_csv_record rec;
	const char *want;
	size_t i = 0;
	va_list ap;

	assert_int_equal(fl_csv_next(csv, &rec), 1);
	assert_int_equal(rec.line, line);
	va_start(ap, line);
	while ((want = va_arg(ap, const char *)) != NULL) {
		assert_true(i < rec.n_fields);
		assert_int_equal(rec.fields[i].len, strlen(want));
		assert_memory_equal(rec.fields[i].s, want, strlen(want) + 1); /* with NUL */
		i++;
	}
	va_end(ap);
	assert_int_equal(rec.n_fields, i);
}

static void expect_eof(struct fl_csv *csv)
{
	struct fl_csv_record rec;

	assert_int_equal(fl_csv_next(csv, &rec), 0);
	assert_int_equal(rec.n_fields, 0);
	/* End of file is sticky. */
	assert_int_equal(fl_csv_next(csv, &rec), 0);
}

static void expect_fail(struct fl_csv *csv, int code, const char *msg)
{
	struct fl_csv_record rec;

	assert_int_equal(fl_csv_next(csv, &rec), code);
	assert_string_equal(fl_errmsg(), msg);
}

#define S(lit) lit, sizeof(lit) - 1

static void test_fixture_quoting(void **state)
{
	struct fl_csv *csv = NULL;
	const char *path = FL_TEST_DATA "/csv/quoted.csv";

	(void)state;
	assert_int_equal(fl_csv_open(path, &csv), 0);
	assert_string_equal(fl_csv_path(csv), path);
	expect_rec(csv, 1, "id", "name", "note", "amount", NULL);
	expect_rec(csv, 2, "1", "Smith, Jane", "said \"hi\" twice", "12.5", NULL);
	/* The record spans lines 3-4; the blank line 5 is skipped. */
	expect_rec(csv, 3, "2", "multi\nline \"note\"", "", "-3", NULL);
	expect_rec(csv, 6, "3", "plain", "", "1e3", NULL);
	expect_eof(csv);
	fl_csv_free(csv);
}

static void test_embedded_newlines(void **state)
{
	char path[64];
	struct fl_csv *csv;

	(void)state;
	csv = open_bytes(path, S("a,b\n\"x\ny\nz\",w\nnext,1\n\"\n\",2\nlast,3\n"));
	expect_rec(csv, 1, "a", "b", NULL);
	expect_rec(csv, 2, "x\ny\nz", "w", NULL);
	expect_rec(csv, 5, "next", "1", NULL);
	expect_rec(csv, 6, "\n", "2", NULL);
	expect_rec(csv, 8, "last", "3", NULL);
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);
}

static void test_crlf(void **state)
{
	char path[64];
	struct fl_csv *csv;

	(void)state;
	/* CRLF inside quotes is field text; CRLF outside ends the record once. */
	csv = open_bytes(path, S("h1,h2\r\n\"p\r\nq\",r\r\n\r\ns,\"t\"\r\n,\r\n"));
	expect_rec(csv, 1, "h1", "h2", NULL);
	expect_rec(csv, 2, "p\r\nq", "r", NULL);
	expect_rec(csv, 5, "s", "t", NULL);
	expect_rec(csv, 6, "", "", NULL);
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);
}

static void test_lone_cr(void **state)
{
	char path[64];
	struct fl_csv *csv;

	(void)state;
	/* A bare CR ends a record (old Mac files) but lines are counted by LF. */
	csv = open_bytes(path, S("a\rb,c\r\rd\n\"e\rf\"\n"));
	expect_rec(csv, 1, "a", NULL);
	expect_rec(csv, 1, "b", "c", NULL);
	expect_rec(csv, 1, "d", NULL);
	expect_rec(csv, 2, "e\rf", NULL);
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);
}

static void test_bom(void **state)
{
	char path[64];
	struct fl_csv *csv;

	(void)state;
	csv = open_bytes(path, S("\xEF\xBB\xBFid,x\n\xEF\xBB\xBF"
	                         "1,2\n"));
	/* Only the very first three bytes are a byte-order mark. */
	expect_rec(csv, 1, "id", "x", NULL);
	expect_rec(csv, 2,
	           "\xEF\xBB\xBF"
	           "1",
	           "2", NULL);
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);

	csv = open_bytes(path, S("\xEF\xBB\xBF"));
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);

	/* Two bytes of a BOM are data, and not UTF-8 text. */
	csv = open_bytes(path, S("\xEF\xBB"));
	{
		char msg[256];

		snprintf(msg, sizeof(msg),
		         "%s:1:1: not UTF-8 text (byte 0xEF); save the file as UTF-8 or name its "
		         "encoding (--encoding windows-1252 or latin1)",
		         path);
		expect_fail(csv, FL_ERR_DATA, msg);
	}
	fl_csv_free(csv);
	unlink(path);
}

static void test_empty_fields_and_blanks(void **state)
{
	char path[64];
	struct fl_csv *csv;

	(void)state;
	csv = open_bytes(path, S("\n\n,a,,\n\n  \n\"\",\"\"\n \"q\" ,  r s  \n\n"));
	expect_rec(csv, 3, "", "a", "", "", NULL);
	expect_rec(csv, 6, "", "", NULL);
	/* Blanks around fields are not data (libcsv trims them). */
	expect_rec(csv, 7, "q", "r s", NULL);
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);

	csv = open_bytes(path, S(""));
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);

	csv = open_bytes(path, S("\r\n\n \r\n"));
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);
}

static void test_no_final_newline(void **state)
{
	char path[64];
	struct fl_csv *csv;

	(void)state;
	csv = open_bytes(path, S("a,b\nc,\"d\nd\""));
	expect_rec(csv, 1, "a", "b", NULL);
	expect_rec(csv, 2, "c", "d\nd", NULL);
	expect_eof(csv);
	assert_int_equal(fl_csv_bytes_read(csv), 11);
	fl_csv_free(csv);
	unlink(path);

	csv = open_bytes(path, S("x"));
	expect_rec(csv, 1, "x", NULL);
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);
}

static void test_unterminated_quote(void **state)
{
	char path[64], msg[160];
	struct fl_csv *csv;
	struct fl_csv_record rec;

	(void)state;
	csv = open_bytes(path, S("a,b\n\n1,\"open\nmore\nstill,more\n"));
	expect_rec(csv, 1, "a", "b", NULL);
	snprintf(msg, sizeof(msg),
	         "%s:3: malformed CSV: error parsing data while strict checking enabled", path);
	expect_fail(csv, FL_ERR_DATA, msg);
	/* The reader refuses to go on from an unknown position. */
	assert_int_equal(fl_csv_next(csv, &rec), FL_ERR_DATA);
	assert_int_equal(rec.n_fields, 0);
	fl_csv_free(csv);
	unlink(path);
}

static void test_stray_quotes(void **state)
{
	char path[64], msg[160];
	struct fl_csv *csv;

	(void)state;
	/* Text after a closing quote, on the record's second line. */
	csv = open_bytes(path, S("h\r\n\"x\ny\"z,1\r\n"));
	expect_rec(csv, 1, "h", NULL);
	snprintf(msg, sizeof(msg),
	         "%s:2: malformed CSV: error parsing data while strict checking enabled", path);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);

	/* A quote inside an unquoted field. */
	csv = open_bytes(path, S("h\nab\"c\n"));
	expect_rec(csv, 1, "h", NULL);
	snprintf(msg, sizeof(msg),
	         "%s:2: malformed CSV: error parsing data while strict checking enabled", path);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);
}

/* Writes a header line, then a record of n empty fields on line 2. */
static struct fl_csv *open_commas(char path[64], size_t n)
{
	char *data = malloc(n + 8);

	assert_non_null(data);
	memcpy(data, "h\n", 2);
	memset(data + 2, ',', n - 1);
	memcpy(data + 2 + n - 1, "\nz\n", 3);
	struct fl_csv *csv = open_bytes(path, data, 2 + n - 1 + 3);
	free(data);
	return csv;
}

static void test_field_limit(void **state)
{
	char path[64], msg[160];
	struct fl_csv *csv;
	struct fl_csv_record rec;
	size_t i;

	(void)state;
	csv = open_commas(path, FL_CSV_MAX_FIELDS);
	expect_rec(csv, 1, "h", NULL);
	assert_int_equal(fl_csv_next(csv, &rec), 1);
	assert_int_equal(rec.line, 2);
	assert_int_equal(rec.n_fields, FL_CSV_MAX_FIELDS);
	for (i = 0; i < rec.n_fields; i++)
		assert_int_equal(rec.fields[i].len, 0);
	expect_rec(csv, 3, "z", NULL);
	fl_csv_free(csv);
	unlink(path);

	csv = open_commas(path, FL_CSV_MAX_FIELDS + 1);
	expect_rec(csv, 1, "h", NULL);
	snprintf(msg, sizeof(msg), "%s:2: record has more than 65536 fields", path);
	expect_fail(csv, FL_ERR_LIMIT, msg);
	fl_csv_free(csv);
	unlink(path);
}

/* A header, then on line 2 a record of two fields totalling total bytes. */
static struct fl_csv *open_long(char path[64], size_t total, int quoted)
{
	size_t a = total / 2, b = total - a, n = 0;
	char *data = malloc(total + 16);

	assert_non_null(data);
	memcpy(data, "h\n", 2);
	n = 2;
	if (quoted)
		data[n++] = '"';
	memset(data + n, 'x', a);
	n += a;
	if (quoted)
		data[n++] = '"';
	data[n++] = ',';
	memset(data + n, 'y', b);
	n += b;
	data[n++] = '\n';
	struct fl_csv *csv = open_bytes(path, data, n);
	free(data);
	return csv;
}

static void test_record_length_limit(void **state)
{
	char path[64], msg[160];
	struct fl_csv *csv;
	struct fl_csv_record rec;

	(void)state;
	csv = open_long(path, FL_CSV_MAX_RECORD, 1);
	expect_rec(csv, 1, "h", NULL);
	assert_int_equal(fl_csv_next(csv, &rec), 1);
	assert_int_equal(rec.n_fields, 2);
	assert_int_equal(rec.fields[0].len + rec.fields[1].len, FL_CSV_MAX_RECORD);
	assert_int_equal(rec.fields[0].s[0], 'x');
	assert_int_equal(rec.fields[1].s[rec.fields[1].len - 1], 'y');
	assert_int_equal(rec.fields[1].s[rec.fields[1].len], '\0');
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);

	csv = open_long(path, FL_CSV_MAX_RECORD + 1, 0);
	expect_rec(csv, 1, "h", NULL);
	snprintf(msg, sizeof(msg), "%s:2: record longer than 16777216 bytes", path);
	expect_fail(csv, FL_ERR_LIMIT, msg);
	fl_csv_free(csv);
	unlink(path);

	/* One runaway field is stopped long before the file ends. */
	csv = open_long(path, 3 * (size_t)FL_CSV_MAX_RECORD, 1);
	expect_rec(csv, 1, "h", NULL);
	snprintf(msg, sizeof(msg), "%s:2: record longer than 16777216 bytes", path);
	expect_fail(csv, FL_ERR_LIMIT, msg);
	assert_true(fl_csv_bytes_read(csv) < 2 * (uint64_t)FL_CSV_MAX_RECORD);
	fl_csv_free(csv);
	unlink(path);
}

static void test_rewind(void **state)
{
	char path[64];
	struct fl_csv *csv;
	int round;

	(void)state;
	csv = open_bytes(path, S("\xEF\xBB\xBFk,v\r\n\"a\nb\",1\r\n"));
	for (round = 0; round < 3; round++) {
		expect_rec(csv, 1, "k", "v", NULL);
		if (round == 1)
			assert_int_equal(fl_csv_rewind(csv), 0); /* mid-file */
		if (round == 1)
			continue;
		expect_rec(csv, 2, "a\nb", "1", NULL);
		expect_eof(csv);
		assert_int_equal(fl_csv_rewind(csv), 0);
	}
	fl_csv_free(csv);
	unlink(path);

	/* Rewinding also clears a failure. */
	csv = open_bytes(path, S("a\n\"b\n"));
	expect_rec(csv, 1, "a", NULL);
	assert_true(fl_csv_next(csv, &(struct fl_csv_record){0}) == FL_ERR_DATA);
	assert_int_equal(fl_csv_rewind(csv), 0);
	expect_rec(csv, 1, "a", NULL);
	fl_csv_free(csv);
	unlink(path);
}

/* What fl_csv_set_progress()'s hook was told, in order. */
struct progress_log {
	struct fl_csv_progress p[8];
	char name[64];
	size_t n;
};

static void log_progress(void *arg, const struct fl_csv_progress *p)
{
	struct progress_log *log = arg;

	assert_true(log->n < 8);
	log->p[log->n++] = *p;
	snprintf(log->name, sizeof(log->name), "%s", p->name);
}

/* The hook hears every FL_CSV_PROGRESS_RECORDS records of a pass, where
 * the pass is in the file, and a rewind starts pass 2; readers opened
 * before it was set, or after it was cleared, say nothing. */
static void test_progress_hook(void **state)
{
	const size_t rows = 2 * FL_CSV_PROGRESS_RECORDS + 10;
	size_t len = 4 + rows * 4, k = 0;
	char *data = malloc(len), path[64];
	struct progress_log log = {0};
	struct fl_csv *before = NULL, *csv = NULL;
	struct fl_csv_record rec;
	int r;

	(void)state;
	assert_non_null(data);
	memcpy(data + k, "a,b\n", 4);
	k += 4;
	for (size_t i = 0; i < rows; i++, k += 4)
		memcpy(data + k, "1,2\n", 4);
	write_tmp(path, data, len);
	assert_int_equal(fl_csv_open(path, &before), 0);
	fl_csv_set_progress(log_progress, &log);
	assert_int_equal(fl_csv_open(path, &csv), 0);
	fl_csv_set_progress(NULL, NULL);
	for (int pass = 1; pass <= 2; pass++) {
		while ((r = fl_csv_next(csv, &rec)) == 1)
			;
		assert_int_equal(r, 0);
		assert_int_equal(log.n, 2 * (size_t)pass);
		for (size_t i = 0; i < 2; i++) {
			const struct fl_csv_progress *p = &log.p[2 * (pass - 1) + i];

			assert_int_equal(p->pass, pass);
			assert_int_equal(p->records, (i + 1) * FL_CSV_PROGRESS_RECORDS);
			assert_int_equal(p->size, len);
			/* Read ahead of the records by at most the buffer. */
			assert_true(p->bytes >= 4 * p->records && p->bytes <= len);
		}
		assert_int_equal(fl_csv_rewind(csv), 0);
	}
	assert_string_equal(log.name, path);
	while ((r = fl_csv_next(before, &rec)) == 1)
		;
	assert_int_equal(r, 0);
	assert_int_equal(log.n, 4);
	fl_csv_free(before);
	fl_csv_free(csv);
	unlink(path);
	free(data);
}

static void test_open_errors(void **state)
{
	struct fl_csv *csv = (struct fl_csv *)&csv;
	char msg[160];

	(void)state;
	assert_int_equal(fl_csv_open("/nonexistent/leads.csv", &csv), FL_ERR_IO);
	assert_null(csv);
	snprintf(msg, sizeof(msg), "/nonexistent/leads.csv: %s", strerror(ENOENT));
	assert_string_equal(fl_errmsg(), msg);

	/* A directory opens but cannot be read. */
	assert_int_equal(fl_csv_open("/tmp", &csv), 0);
	snprintf(msg, sizeof(msg), "/tmp: %s", strerror(EISDIR));
	expect_fail(csv, FL_ERR_IO, msg);
	fl_csv_free(csv);
	fl_csv_free(NULL);
}

/* splitmix64: a fixed, well-mixed function of (record, field). */
static uint64_t mix(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

#define GEN_RECORDS 6000
#define GEN_LONG 300000 /* longer than the reader's 256 KiB read buffer */

static size_t gen_nfields(size_t i)
{
	return 1 + mix(i * 131 + 7) % 8;
}

/* The value of field j of record i, as the reader must return it. */
static size_t gen_value(size_t i, size_t j, char *out)
{
	uint64_t h = mix(i * 1000003 + j);
	size_t k;

	if (j == 0 && i % 1500 == 777) {
		for (k = 0; k < GEN_LONG; k++)
			out[k] = (char)('a' + k % 26);
		out[100000] = '\n'; /* the long field also spans lines */
		return GEN_LONG;
	}
	switch (h % 8) {
	case 0: return (size_t)sprintf(out, "q,\"%u\"", (unsigned)(h >> 40));
	case 1: return (size_t)sprintf(out, "l1\nl2\n%u", (unsigned)(h >> 50));
	case 2: return (size_t)sprintf(out, "c\r\nr");
	case 3: return 0;
	default: return (size_t)sprintf(out, "%u.%u", (unsigned)(h >> 44), (unsigned)(h >> 60));
	}
}

/* Builds the file; lines[i] is where record i starts (1 + LFs before it). */
static char *gen_file(size_t *len, uint64_t *lines)
{
	size_t cap = 4u << 20, n = 0, i, j, k, vlen, nf;
	char *data = malloc(cap), *val = malloc(GEN_LONG + 64);
	uint64_t line = 1;

	assert_non_null(data);
	assert_non_null(val);
	for (i = 0; i < GEN_RECORDS; i++) {
		uint64_t h = mix(i);

		if (cap - n < 2 * GEN_LONG + 4096) {
			cap *= 2;
			data = realloc(data, cap);
			assert_non_null(data);
		}
		if (h % 10 == 0) { /* a blank line, LF or CRLF */
			if (h & 16)
				data[n++] = '\r';
			data[n++] = '\n';
			line++;
		}
		lines[i] = line;
		nf = gen_nfields(i);
		for (j = 0; j < nf; j++) {
			int quote;

			vlen = gen_value(i, j, val);
			quote = memchr(val, '"', vlen) || memchr(val, ',', vlen) ||
			        memchr(val, '\n', vlen) || memchr(val, '\r', vlen) ||
			        (vlen == 0 && nf == 1); /* else the line is blank */
			if (j > 0)
				data[n++] = ',';
			if (quote)
				data[n++] = '"';
			for (k = 0; k < vlen; k++) {
				if (val[k] == '"')
					data[n++] = '"';
				if (val[k] == '\n')
					line++;
				data[n++] = val[k];
			}
			if (quote)
				data[n++] = '"';
		}
		if (i + 1 == GEN_RECORDS && (h & 32))
			break; /* sometimes no newline at the end */
		if (h & 64)
			data[n++] = '\r';
		data[n++] = '\n';
		line++;
	}
	free(val);
	*len = n;
	return data;
}

static void check_generated(struct fl_csv *csv, const uint64_t *lines)
{
	struct fl_csv_record rec;
	char *val = malloc(GEN_LONG + 64);
	size_t i, j, vlen;

	assert_non_null(val);
	for (i = 0; i < GEN_RECORDS; i++) {
		assert_int_equal(fl_csv_next(csv, &rec), 1);
		assert_int_equal(rec.line, lines[i]);
		assert_int_equal(rec.n_fields, gen_nfields(i));
		for (j = 0; j < rec.n_fields; j++) {
			vlen = gen_value(i, j, val);
			assert_int_equal(rec.fields[j].len, vlen);
			assert_memory_equal(rec.fields[j].s, val, vlen);
			assert_int_equal(rec.fields[j].s[vlen], '\0');
		}
	}
	expect_eof(csv);
	free(val);
}

static void test_generated_file(void **state)
{
	char path[64];
	uint64_t *lines = malloc(GEN_RECORDS * sizeof(*lines));
	size_t len;
	char *data;
	struct fl_csv *csv;

	(void)state;
	assert_non_null(lines);
	data = gen_file(&len, lines);
	assert_true(len > 3 * 256 * 1024); /* several buffer refills */
	csv = open_bytes(path, data, len);
	check_generated(csv, lines);
	assert_int_equal(fl_csv_bytes_read(csv), len);
	assert_int_equal(fl_csv_rewind(csv), 0);
	check_generated(csv, lines);
	fl_csv_free(csv);
	unlink(path);
	free(data);
	free(lines);
}

/*
 * A file of records whose quoted notes hold line ends, commas and doubled
 * quotes, some lines ending in CR LF, a few blank lines: nrec records
 * after the header, 3.9 MB for 160,000.
 */
static char *gen_quoted(size_t nrec, size_t *len)
{
	size_t cap = nrec * 80 + 64, n = 0;
	char *d = malloc(cap);

	assert_non_null(d);
	n += (size_t)sprintf(d + n, "id,note,value\n");
	for (size_t i = 0; i < nrec; i++) {
		/* A note that looks like records of its own after each line end. */
		if (i % 3 == 0)
			n += (size_t)sprintf(d + n, "L%zu,\"a,b\n%zu,\"\"x\"\",2\n\",%zu\n", i, i,
			                     i % 97);
		else if (i % 3 == 1)
			n += (size_t)sprintf(d + n, "L%zu,plain %zu,%zu\r\n", i, i, i % 89);
		else
			n += (size_t)sprintf(d + n, "L%zu, \"q\n\n\" ,%zu\n%s", i, i % 83,
			                     i % 1000 == 2 ? "\n" : "");
		assert_true(n + 80 < cap);
	}
	*len = n;
	return d;
}

/* Every record of a reader after its header, as "line|field|field...". */
static char **read_all(struct fl_csv *csv, size_t *n_out)
{
	struct fl_csv_record rec;
	size_t n = 0, cap = 1024;
	char **out = malloc(cap * sizeof(*out));
	int r, header = 1;

	assert_non_null(out);
	while ((r = fl_csv_next(csv, &rec)) == 1) {
		char buf[256];
		size_t k = (size_t)snprintf(buf, sizeof(buf), "%llu", (unsigned long long)rec.line);

		if (header) {
			header = 0;
			continue;
		}
		for (size_t i = 0; i < rec.n_fields; i++)
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, "|%s", rec.fields[i].s);
		if (n == cap) {
			cap *= 2;
			out = realloc(out, cap * sizeof(*out));
			assert_non_null(out);
		}
		out[n++] = strdup(buf);
	}
	assert_int_equal(r, 0);
	*n_out = n;
	return out;
}

/* Cut at record boundaries, the parts read one by one give the records
 * of the whole file with the same lines and fields, although most line
 * ends near each cut are inside quoted notes. */
static void test_ranges(void **state)
{
	char path[64];
	size_t len, n_all, n_part, at = 0;
	char *data = gen_quoted(160000, &len), **all, **part;
	uint64_t cut[3], line[3], bytes = 0;
	unsigned n_cut = 0;
	struct fl_csv *csv;

	(void)state;
	assert_true(len > 3 * FL_CSV_SPLIT_MIN);
	csv = open_bytes(path, data, len);
	all = read_all(csv, &n_all);
	assert_int_equal(n_all, 160000);
	fl_csv_free(csv);
	assert_int_equal(fl_csv_split(path, 3, 0, cut, line, &n_cut), 0);
	assert_int_equal(n_cut, 2);
	for (unsigned k = 0; k <= n_cut; k++) {
		uint64_t begin = k == 0 ? 0 : cut[k - 1], end = k < n_cut ? cut[k] : UINT64_MAX;

		if (k < n_cut) {
			/* After an LF, about a third of the file in each part. */
			assert_int_equal(data[cut[k] - 1], '\n');
			assert_true(cut[k] - begin >= FL_CSV_SPLIT_MIN);
			assert_true(cut[k] >= len / 3 * (k + 1));
			assert_true(cut[k] < len / 3 * (k + 1) + 200);
		}
		assert_int_equal(fl_csv_open(path, &csv), 0);
		assert_int_equal(fl_csv_set_range(csv, begin, end, k == 0 ? 1 : line[k - 1]), 0);
		part = read_all(csv, &n_part);
		bytes += fl_csv_bytes_read(csv);
		assert_true(n_part > 15000);
		assert_true(at + n_part <= n_all);
		for (size_t i = 0; i < n_part; i++) {
			assert_string_equal(part[i], all[at + i]);
			free(part[i]);
		}
		at += n_part;
		free(part);
		fl_csv_free(csv);
	}
	assert_int_equal(at, n_all);
	assert_int_equal(bytes, len);
	for (size_t i = 0; i < n_all; i++)
		free(all[i]);
	free(all);

	/* Too late, or a file that cannot be read in parts. */
	assert_int_equal(fl_csv_open(path, &csv), 0);
	expect_rec(csv, 1, "id", "note", "value", NULL);
	assert_int_equal(fl_csv_set_range(csv, cut[0], UINT64_MAX, line[0]), FL_ERR_INVALID);
	fl_csv_free(csv);
	{
		struct fl_csv_dialect d = {0};

		d.encoding = FL_CSV_LATIN1;
		assert_int_equal(fl_csv_open_dialect(path, &d, &csv), 0);
		assert_int_equal(fl_csv_set_range(csv, cut[0], UINT64_MAX, line[0]),
		                 FL_ERR_INVALID);
		fl_csv_free(csv);
	}
	assert_int_equal(fl_csv_split("-", 2, 0, cut, line, &n_cut), 0);
	assert_int_equal(n_cut, 0);
	/* No part smaller than the bound asked for. */
	assert_int_equal(fl_csv_split(path, 3, len / 2, cut, line, &n_cut), 0);
	assert_int_equal(n_cut, 0);
	assert_int_equal(fl_csv_split(path, 2, len / 3, cut, line, &n_cut), 0);
	assert_int_equal(n_cut, 1);
	unlink(path);

	/* A small file is one part, and so is one whose lines end in a
	 * lone CR (no LF to cut after). */
	write_tmp(path, data, 4096);
	assert_int_equal(fl_csv_split(path, 2, 0, cut, line, &n_cut), 0);
	assert_int_equal(n_cut, 0);
	unlink(path);
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n')
			data[i] = '\r';
	write_tmp(path, data, len);
	assert_int_equal(fl_csv_split(path, 2, 0, cut, line, &n_cut), 0);
	assert_int_equal(n_cut, 0);
	unlink(path);
	free(data);
}

/* A stray quote in the first part shifts the count of quotes, but the
 * first part then fails on it with the whole file's message, and that
 * error comes first in the file. */
static void test_range_stray_quote(void **state)
{
	char path[64], want[256];
	size_t len;
	char *data = gen_quoted(120000, &len), *p;
	uint64_t cut[1], line[1];
	unsigned n_cut = 0;
	struct fl_csv *csv;
	struct fl_csv_record rec;
	int r;

	(void)state;
	p = strstr(data, "plain 1000,");
	assert_non_null(p);
	p[2] = '"'; /* "pl"in 1000" */
	write_tmp(path, data, len);
	assert_int_equal(fl_csv_open(path, &csv), 0);
	while ((r = fl_csv_next(csv, &rec)) == 1)
		;
	assert_int_equal(r, FL_ERR_DATA);
	snprintf(want, sizeof(want), "%s", fl_errmsg());
	fl_csv_free(csv);
	assert_int_equal(fl_csv_split(path, 2, 0, cut, line, &n_cut), 0);
	assert_int_equal(n_cut, 1);
	assert_int_equal(fl_csv_open(path, &csv), 0);
	assert_int_equal(fl_csv_set_range(csv, 0, cut[0], 1), 0);
	while ((r = fl_csv_next(csv, &rec)) == 1)
		;
	assert_int_equal(r, FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), want);
	fl_csv_free(csv);
	unlink(path);
	free(data);
}

/* Starts a child that writes data into a pipe in small pieces. */
static int pipe_from_child(const char *data, size_t len, pid_t *pid)
{
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		size_t off = 0, chunk = 1;

		close(fds[0]);
		/* Uneven, tiny writes so reads return short counts. */
		while (off < len) {
			size_t w = len - off < chunk ? len - off : chunk;
			ssize_t n = write(fds[1], data + off, w);

			if (n <= 0)
				_exit(1);
			off += (size_t)n;
			chunk = chunk * 7 % 4099 + 1;
		}
		_exit(0);
	}
	close(fds[1]);
	return fds[0];
}

static void test_pipe(void **state)
{
	uint64_t *lines = malloc(GEN_RECORDS * sizeof(*lines));
	size_t len;
	char *data, path[64], msg[160];
	struct fl_csv *csv;
	pid_t pid;
	int fd, status;

	(void)state;
	assert_non_null(lines);
	data = gen_file(&len, lines);
	fd = pipe_from_child(data, len, &pid);
	snprintf(path, sizeof(path), "/dev/fd/%d", fd);
	assert_int_equal(fl_csv_open(path, &csv), 0);
	check_generated(csv, lines);
	snprintf(msg, sizeof(msg), "%s: cannot rewind: not a regular file", path);
	assert_int_equal(fl_csv_rewind(csv), FL_ERR_IO);
	assert_string_equal(fl_errmsg(), msg);
	fl_csv_free(csv);
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(data);
	free(lines);

	/* A BOM split over several reads, through standard input. */
	fd = pipe_from_child(S("\xEF\xBB\xBF"
	                       "a,b\n"),
	                     &pid);
	int saved = dup(STDIN_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	assert_int_equal(fl_csv_open("-", &csv), 0);
	assert_string_equal(fl_csv_path(csv), "<stdin>");
	expect_rec(csv, 1, "a", "b", NULL);
	expect_eof(csv);
	assert_int_equal(fl_csv_rewind(csv), FL_ERR_IO);
	assert_string_equal(fl_errmsg(), "<stdin>: cannot rewind: not a regular file");
	fl_csv_free(csv);
	/* Freeing the reader leaves standard input open. */
	assert_true(fcntl(STDIN_FILENO, F_GETFD) != -1);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static struct fl_csv *open_dialect(char path[64], const char *data, size_t len, char delim,
                                   enum fl_csv_encoding enc);

/*
 * The tokenizer looks at 64 bytes at a time: non-ASCII text is found in any
 * block of a long field, before or after the one the field ends in, and
 * reported with the line and column it is on.
 */
static void test_text_across_blocks(void **state)
{
	char path[64], msg[256], want[512], data[1200];
	struct fl_csv *csv;
	size_t n = 0;

	(void)state;
	/* A 300-byte field: "é" at 5, 130 and 290; a quoted one, as long,
	 * with a doubled quote and "ü" on its second line. */
	memcpy(data, "h1,h2\n", 6);
	n = 6;
	for (size_t i = 0; i < 300; i++)
		data[n++] = (char)('a' + i % 26);
	memcpy(data + 6 + 5, "\xC3\xA9", 2);
	memcpy(data + 6 + 130, "\xC3\xA9", 2);
	memcpy(data + 6 + 290, "\xC3\xA9", 2);
	memcpy(want, data + 6, 300);
	want[300] = '\0';
	n += (size_t)sprintf(data + n, ",\"%0200d\"\"\nx\xC3\xBC\"   \n", 7);
	csv = open_bytes(path, data, n);
	expect_rec(csv, 1, "h1", "h2", NULL);
	{
		char quoted[256];

		snprintf(quoted, sizeof(quoted), "%0200d\"\nx\xC3\xBC", 7);
		expect_rec(csv, 2, want, quoted, NULL);
	}
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);

	/* A Latin-1 byte 200 bytes into the second field of line 3, after a
	 * quoted first field spanning lines 2-3. */
	n = (size_t)sprintf(data, "a,b\n\"q\nr\",");
	for (size_t i = 0; i < 260; i++)
		data[n++] = i == 200 ? '\xE9' : 'z';
	data[n++] = '\n';
	csv = open_bytes(path, data, n);
	expect_rec(csv, 1, "a", "b", NULL);
	snprintf(msg, sizeof(msg),
	         "%s:3:2: not UTF-8 text (byte 0xE9); save the file as UTF-8 or name its "
	         "encoding (--encoding windows-1252 or latin1)",
	         path);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);

	/* A NUL byte in a quoted field, after a line end inside it. */
	n = (size_t)sprintf(data, "a\n\"%070d\n", 1);
	data[n++] = '\0';
	n += (size_t)sprintf(data + n, "\"\n");
	csv = open_bytes(path, data, n);
	expect_rec(csv, 1, "a", NULL);
	snprintf(msg, sizeof(msg), "%s:3:1: a NUL byte: the file is not text", path);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);

	/* Blanks around fields and after a closing quote, a tab separator
	 * (blank nowhere then), and a quote after blanks that follow a
	 * closing quote. */
	csv = open_dialect(path, S("a\tb\n \"x\" \t  y \n"), '\t', FL_CSV_UTF8);
	expect_rec(csv, 1, "a", "b", NULL);
	expect_rec(csv, 2, "x", "y", NULL);
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);
	csv = open_bytes(path, S("a,b\n\"x\"  \"y\",1\n"));
	expect_rec(csv, 1, "a", "b", NULL);
	snprintf(msg, sizeof(msg),
	         "%s:2: malformed CSV: error parsing data while strict checking enabled", path);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);
}

/* ---- dialects: separators and encodings ---- */

static struct fl_csv *open_dialect(char path[64], const char *data, size_t len, char delim,
                                   enum fl_csv_encoding enc)
{
	struct fl_csv_dialect d = {.delimiter = delim, .encoding = enc};
	struct fl_csv *csv = NULL;

	write_tmp(path, data, len);
	assert_int_equal(fl_csv_open_dialect(path, &d, &csv), 0);
	assert_non_null(csv);
	return csv;
}

static void test_detect_delimiter(void **state)
{
	char path[64];
	struct fl_csv *csv;

	(void)state;
	/* A spreadsheet's semicolon export: BOM, CRLF, decimal commas, a quoted
	 * field holding the separator. */
	csv = open_bytes(path, S("\xEF\xBB\xBFname;amount;y\r\nAcme;12,5;yes\r\n"
	                         "\"B;x\";3;no\r\n"));
	assert_int_equal(fl_csv_delimiter(csv), 0); /* not decided before the header */
	expect_rec(csv, 1, "name", "amount", "y", NULL);
	assert_int_equal(fl_csv_delimiter(csv), ';');
	expect_rec(csv, 2, "Acme", "12,5", "yes", NULL);
	expect_rec(csv, 3, "B;x", "3", "no", NULL);
	expect_eof(csv);
	/* A second pass reads the same way. */
	assert_int_equal(fl_csv_rewind(csv), 0);
	expect_rec(csv, 1, "name", "amount", "y", NULL);
	fl_csv_free(csv);
	unlink(path);

	/* Tab: blanks inside fields stay, the tab separates. */
	csv = open_bytes(path, S("lead id\tstage\ty\nL 1\tNew lead\t1\nL 2\t\t0\n"));
	expect_rec(csv, 1, "lead id", "stage", "y", NULL);
	assert_int_equal(fl_csv_delimiter(csv), '\t');
	expect_rec(csv, 2, "L 1", "New lead", "1", NULL);
	expect_rec(csv, 3, "L 2", "", "0", NULL);
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);

	/* Pipe, after blank lines. */
	csv = open_bytes(path, S("\n\na|b|y\n1|2,5|yes\n"));
	expect_rec(csv, 3, "a", "b", "y", NULL);
	assert_int_equal(fl_csv_delimiter(csv), '|');
	expect_rec(csv, 4, "1", "2,5", "yes", NULL);
	fl_csv_free(csv);
	unlink(path);

	/* A quoted header name holding ';' does not make the file
	 * semicolon-separated. */
	csv = open_bytes(path, S("\"a;b\",c\n1,2\n"));
	expect_rec(csv, 1, "a;b", "c", NULL);
	assert_int_equal(fl_csv_delimiter(csv), ',');
	fl_csv_free(csv);
	unlink(path);

	/* The header alone would say ';' (3 fields against 2), the rows after
	 * it say ',' (2 fields each): the rows confirm. */
	csv = open_bytes(path, S("a;b;c,d\nx,y\nz,w\n"));
	expect_rec(csv, 1, "a;b;c", "d", NULL);
	assert_int_equal(fl_csv_delimiter(csv), ',');
	fl_csv_free(csv);
	unlink(path);

	/* One column: nothing to detect, a comma file. */
	csv = open_bytes(path, S("name\nx\n"));
	expect_rec(csv, 1, "name", NULL);
	assert_int_equal(fl_csv_delimiter(csv), ',');
	fl_csv_free(csv);
	unlink(path);

	/* A header spanning lines in quotes, rows with quoted newlines. */
	csv = open_bytes(path, S("\"multi\nline\";y\n\"p\nq\";1\n\"r\";0\n"));
	expect_rec(csv, 1, "multi\nline", "y", NULL);
	assert_int_equal(fl_csv_delimiter(csv), ';');
	expect_rec(csv, 3, "p\nq", "1", NULL);
	expect_rec(csv, 5, "r", "0", NULL);
	fl_csv_free(csv);
	unlink(path);
}

static void expect_wrong_delimiter(const char *data, char given, const char *looks)
{
	char path[64], msg[256];
	struct fl_csv *csv;

	csv = open_dialect(path, data, strlen(data), given, FL_CSV_UTF8);
	snprintf(msg, sizeof(msg), "%s:1: the header has one field containing %s", path, looks);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);
}

static void test_given_delimiter(void **state)
{
	char path[64];
	struct fl_csv *csv;

	(void)state;
	expect_wrong_delimiter("a;b;y\n1;2;3\n", ',',
	                       "';' — the file looks semicolon-separated (use --delimiter ';')");
	expect_wrong_delimiter("a\tb\ty\n1\t2\t3\n", ';',
	                       "a tab — the file looks tab-separated (use --delimiter tab)");
	expect_wrong_delimiter("a|b|y\n", ',',
	                       "'|' — the file looks pipe-separated (use --delimiter '|')");
	expect_wrong_delimiter("a,b,y\n1,2,3\n", ';',
	                       "',' — the file looks comma-separated (use --delimiter ',')");

	/* A given separator wins over what detection would pick. */
	csv = open_dialect(path, S("a;b;c,d\nx,y\n"), ';', FL_CSV_UTF8);
	expect_rec(csv, 1, "a", "b", "c,d", NULL);
	expect_rec(csv, 2, "x,y", NULL);
	assert_int_equal(fl_csv_delimiter(csv), ';');
	fl_csv_free(csv);
	unlink(path);

	/* A one-column file whose (quoted) name holds ';' is what it says. */
	csv = open_dialect(path, S("\"a;b\"\n1\n"), ',', FL_CSV_UTF8);
	expect_rec(csv, 1, "a;b", NULL);
	fl_csv_free(csv);
	unlink(path);

	/* The API refuses what it cannot read. */
	{
		struct fl_csv_dialect d = {.delimiter = ':'};

		csv = (struct fl_csv *)1;
		assert_int_equal(fl_csv_open_dialect("x.csv", &d, &csv), FL_ERR_INVALID);
		assert_null(csv);
	}
}

static void test_encodings(void **state)
{
	char path[64], msg[256];
	struct fl_csv *csv;

	(void)state;
	/* UTF-8 is required: a Windows-1252 "ü" is refused with its place. */
	csv = open_bytes(path, S("name,city\nA,M\xFCnchen\n"));
	expect_rec(csv, 1, "name", "city", NULL);
	snprintf(msg, sizeof(msg),
	         "%s:2:2: not UTF-8 text (byte 0xFC); save the file as UTF-8 or name its "
	         "encoding (--encoding windows-1252 or latin1)",
	         path);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);

	/* In a field over several lines, the line of the byte. */
	csv = open_bytes(path, S("a,b\n1,\"x\ny\xE9\nz\"\n"));
	expect_rec(csv, 1, "a", "b", NULL);
	snprintf(msg, sizeof(msg),
	         "%s:3:2: not UTF-8 text (byte 0xE9); save the file as UTF-8 or name its "
	         "encoding (--encoding windows-1252 or latin1)",
	         path);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);

	/* In a header, and a NUL byte. */
	csv = open_bytes(path, S("n\xE4me,b\n"));
	snprintf(msg, sizeof(msg),
	         "%s:1:1: not UTF-8 text (byte 0xE4); save the file as UTF-8 or name its "
	         "encoding (--encoding windows-1252 or latin1)",
	         path);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);
	csv = open_bytes(path, S("a,b\n1,x\0y\n"));
	expect_rec(csv, 1, "a", "b", NULL);
	snprintf(msg, sizeof(msg), "%s:2:2: a NUL byte: the file is not text", path);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);

	/* Windows-1252 converted on the fly: the euro sign and curly quotes are
	 * where Latin-1 has control characters. */
	csv = open_dialect(path, S("name;city;price\nA;M\xFCnchen;\x80 5\n\x93q\x94;S\xE3o;1\n"), 0,
	                   FL_CSV_WINDOWS_1252);
	expect_rec(csv, 1, "name", "city", "price", NULL);
	expect_rec(csv, 2, "A", "M\xC3\xBCnchen", "\xE2\x82\xAC 5", NULL);
	expect_rec(csv, 3, "\xE2\x80\x9Cq\xE2\x80\x9D", "S\xC3\xA3o", "1", NULL);
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);

	/* Latin-1: 0x80 is U+0080. */
	csv = open_dialect(path, S("a,b\n\xE9,\x80\n"), 0, FL_CSV_LATIN1);
	expect_rec(csv, 1, "a", "b", NULL);
	expect_rec(csv, 2, "\xC3\xA9", "\xC2\x80", NULL);
	fl_csv_free(csv);
	unlink(path);

	/* A byte Windows-1252 leaves undefined. */
	csv = open_dialect(path, S("a,b\n1,x\x81y\n"), 0, FL_CSV_WINDOWS_1252);
	expect_rec(csv, 1, "a", "b", NULL);
	snprintf(msg, sizeof(msg), "%s:2:2: byte 0x81 is not a Windows-1252 character", path);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);

	/* A UTF-8 file (with its byte-order mark) named as Windows-1252. */
	csv = open_dialect(path,
	                   S("\xEF\xBB\xBF"
	                     "a,b\n"),
	                   0, FL_CSV_WINDOWS_1252);
	snprintf(msg, sizeof(msg),
	         "%s:1: the file starts with a UTF-8 byte-order mark: it is UTF-8, not "
	         "windows-1252 (leave out --encoding)",
	         path);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);
}

static void test_encoding_large(void **state)
{
	/* 100,000 records of 10 bytes (1 MB) cross several blocks; every
	 * "é" becomes two bytes, so the converted blocks are larger than
	 * what was read. */
	enum { N = 100000 };
	char *data = malloc((size_t)N * 10 + 16), path[64], want[16];
	size_t len = 0;
	struct fl_csv *csv;

	(void)state;
	assert_non_null(data);
	len += (size_t)sprintf(data, "v;n\n");
	for (int i = 0; i < N; i++)
		len += (size_t)sprintf(data + len, "caf\xE9;%04d\n", i % 10000);
	csv = open_dialect(path, data, len, 0, FL_CSV_WINDOWS_1252);
	expect_rec(csv, 1, "v", "n", NULL);
	for (int i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "%04d", i % 10000);
		expect_rec(csv, (uint64_t)i + 2, "caf\xC3\xA9", want, NULL);
	}
	expect_eof(csv);
	assert_int_equal(fl_csv_bytes_read(csv), len);
	fl_csv_free(csv);
	unlink(path);
	free(data);
}

/* The message for a byte that is not UTF-8 at line:field. */
static void utf8_msg(char *msg, size_t size, const char *path, uint64_t line, size_t field,
                     unsigned char byte)
{
	if (byte == 0)
		snprintf(msg, size, "%s:%" PRIu64 ":%zu: a NUL byte: the file is not text", path,
		         line, field);
	else
		snprintf(msg, size,
		         "%s:%" PRIu64 ":%zu: not UTF-8 text (byte 0x%02X); save the file as UTF-8 "
		         "or name its encoding (--encoding windows-1252 or latin1)",
		         path, line, field, byte);
}

/* Reads the next record and checks it is the fields of text split at
 * commas (text has no quotes). */
static void expect_split(struct fl_csv *csv, uint64_t line, const char *text)
{
	struct fl_csv_record rec;
	const char *p = text;
	size_t i = 0;

	assert_int_equal(fl_csv_next(csv, &rec), 1);
	assert_int_equal(rec.line, line);
	for (;;) {
		size_t n = strcspn(p, ",");

		assert_true(i < rec.n_fields);
		assert_int_equal(rec.fields[i].len, n);
		assert_memory_equal(rec.fields[i].s, p, n);
		assert_int_equal(rec.fields[i].s[n], '\0');
		i++;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	assert_int_equal(rec.n_fields, i);
}

/* The file data, header "abcdefghijklmno", fails on line 2 at field on byte. */
static void expect_bad_line2(const char *data, size_t len, size_t field, unsigned char byte)
{
	char path[64], msg[256];
	struct fl_csv *csv = open_bytes(path, data, len);

	expect_rec(csv, 1, "abcdefghijklmno", NULL);
	utf8_msg(msg, sizeof(msg), path, 2, field, byte);
	expect_fail(csv, FL_ERR_DATA, msg);
	fl_csv_free(csv);
	unlink(path);
}

/*
 * UTF-8 is checked 16 bytes at a time where the text is ASCII or two-byte
 * characters, and byte by byte from the first other one: every bad
 * sequence, at every offset 0-70 of a record (so 15/16/17, 31/32/33 and
 * 63/64/65 bytes in; the 16-byte header keeps the record's offsets the
 * file's), after ASCII or after accented text, is reported with its line
 * and field; and every good character at those offsets reads back whole.
 */
static void test_utf8_offsets(void **state)
{
	static const char *const prefixes[] = {
	        "abcdefg,hijklm,nopqrs,tuvwxy,z0123,45678,9abcde,fghijk,lmnop,qrstu,vwxyz,",
	        "\xC3\xA9t\xC3\xA9,M\xC3\xBCnchen,S\xC3\xA3o,Z\xC3\xBCrich,K\xC3\xB6ln,\xC3\xA0 la,"
	        "caf\xC3\xA9,na\xC3\xAFve,\xC2\xB5,r\xC3\xA9sum\xC3\xA9,\xC3\xBC"
	        "ber,\xC3\xA7"
	        "a,",
	};
	/* The bad sequences, and what follows them. */
	static const char *const bad[] = {
	        "\x80x",             /* a continuation byte alone */
	        "\xC3x",             /* a lead without its continuation */
	        "\xC3,x",            /* ... at the end of a field */
	        "\xC0\xAFx",         /* overlong */
	        "\xE2\x82x",         /* a three-byte character cut short */
	        "\xED\xA0\x80x",     /* a surrogate */
	        "\xF4\x90\x80\x80x", /* above U+10FFFF */
	        "\xF8\x88\x80\x80x", /* no lead byte */
	        "\xFFx",
	};
	static const char *const good[] = {"\xC3\xA9",     "\xC2\x80",         "\xE2\x82\xAC",
	                                   "\xEF\xBF\xBD", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"};
	char path[64], data[256], rec[200];
	struct fl_csv *csv;

	(void)state;
	for (size_t pi = 0; pi < 2; pi++) {
		for (size_t k = 0; k <= 70; k++) {
			const unsigned char *pre = (const unsigned char *)prefixes[pi];
			size_t field = 1;

			/* Not within a character of the prefix. */
			if ((pre[k] & 0xC0) == 0x80)
				continue;
			for (size_t i = 0; i < k; i++)
				field += pre[i] == ',';
			for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
				size_t n = (size_t)snprintf(data, sizeof(data),
				                            "abcdefghijklmno\n%.*s%s,end\n", (int)k,
				                            prefixes[pi], bad[b]);

				expect_bad_line2(data, n, field, (unsigned char)bad[b][0]);
			}
			/* A NUL, and a lead byte the end of the file cuts short. */
			{
				size_t n = (size_t)snprintf(data, sizeof(data),
				                            "abcdefghijklmno\n%.*s", (int)k,
				                            prefixes[pi]);

				memcpy(data + n, "\0x\n", 3);
				expect_bad_line2(data, n + 3, field, 0);
				data[n] = '\xE2';
				data[n + 1] = '\x82';
				expect_bad_line2(data, n + 2, field, 0xE2);
			}
			for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
				size_t n;

				snprintf(rec, sizeof(rec), "%.*s%sz,end", (int)k, prefixes[pi],
				         good[g]);
				n = (size_t)snprintf(data, sizeof(data),
				                     "abcdefghijklmno\n%s\n%s\n", rec, good[g]);
				csv = open_bytes(path, data, n);
				expect_rec(csv, 1, "abcdefghijklmno", NULL);
				expect_split(csv, 2, rec);
				expect_rec(csv, 3, good[g], NULL);
				expect_eof(csv);
				fl_csv_free(csv);
				unlink(path);
			}
		}
	}
}

/*
 * A file of records "r<line>,<filler>" up to offset at, where text
 * starts (at - 1 bytes of them when the last would not fit a line); the
 * header is "a,b". Returns the length and sets *line to the line text
 * starts on.
 */
static size_t fill_to(char *data, size_t at, const char *text, uint64_t *line)
{
	size_t n = (size_t)sprintf(data, "a,b\n");

	*line = 2;
	while (at - n > 40) {
		n += (size_t)sprintf(data + n, "r%07" PRIu64 ",%024d\n", *line, 0);
		(*line)++;
	}
	/* The rest: one record of filler that ends right before at. */
	memset(data + n, 'y', at - n - 1);
	data[at - 1] = '\n';
	(*line)++;
	n = at;
	n += (size_t)sprintf(data + n, "%s", text);
	return n;
}

/*
 * The reader gets the file 256 KiB at a time: a character, a doubled
 * quote, a CR LF, a separator or a bad byte cut by the end of a read reads
 * as it would anywhere else, and a bad byte is reported where it is.
 */
static void test_read_boundary(void **state)
{
	/* FL_CSV_BUF: the first read's end in the file. */
	enum { AT = 256 * 1024 };
	static const struct {
		size_t before;     /* bytes of text before the read's end */
		const char *text;  /* from there */
		const char *field; /* the second field of its first record, or NULL */
		int fail_field;    /* else: the field the bad byte is in */
		unsigned char byte;
	} cases[] = {
	        /* Characters cut by the read's end. */
	        {2, "x\xC3\xA9y,2\n", "2", 0, 0},
	        {1, "\xC3\xA9y,\xC3\xA9\n", "\xC3\xA9", 0, 0},
	        {2, "x\xE2\x82\xAC,\xF0\x9F\x98\x80\n", "\xF0\x9F\x98\x80", 0, 0},
	        {3, "x\xE2\x82\xAC,\xF0\x9F\x98\x80\n", "\xF0\x9F\x98\x80", 0, 0},
	        {4, "1,\xF0\x9F\x98\x80z\n", "\xF0\x9F\x98\x80z", 0, 0},
	        /* A doubled quote, CR LF, blanks after a closing quote, a
	         * separator. */
	        {3, "\"q\"\"r\",\"s\"\"\"\n", "s\"", 0, 0},
	        {9, "\"q\"\"r\",2\r\n", "2", 0, 0},
	        {4, "\"q\" , \"x\" \r\n", "x", 0, 0},
	        {1, "1,\xC3\xA9\n", "\xC3\xA9", 0, 0},
	        /* A lead byte at a read's end, and no continuation after it. */
	        {3, "1,\xC3x\n", NULL, 2, 0xC3},
	        {4, "1,\xE2\x82x\n", NULL, 2, 0xE2},
	        {3, "1,\xC3,2\n", NULL, 2, 0xC3},
	        {4, "1,\"\xC3\"\n", NULL, 2, 0xC3},
	        {5, "\"a\"\"\xC3\"  ,1\n", NULL, 1, 0xC3},
	        /* A bad byte before a doubled quote, a closing quote or blanks
	         * the read's end cuts. */
	        {6, "\"\"\"\xC3x\"\"z\" ,1\n", NULL, 1, 0xC3},
	        {7, "\"a\"\"\xC3\"  ,1\n", NULL, 1, 0xC3},
	        {2, "\"\xFF\"\"\"\n", NULL, 1, 0xFF},
	        {1, "\x80,x\n", NULL, 1, 0x80},
	        {2, "q\x80,x\n", NULL, 1, 0x80},
	};
	char path[64], msg[256], *data = malloc((size_t)AT + 64);
	struct fl_csv *csv;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_csv_record rec;
		uint64_t line;
		size_t n = fill_to(data, AT - cases[i].before, cases[i].text, &line);
		int r;

		csv = open_bytes(path, data, n);
		expect_rec(csv, 1, "a", "b", NULL);
		for (uint64_t l = 2; l < line; l++)
			assert_int_equal(fl_csv_next(csv, &rec), 1);
		if (cases[i].fail_field != 0) {
			utf8_msg(msg, sizeof(msg), path, line, (size_t)cases[i].fail_field,
			         cases[i].byte);
			expect_fail(csv, FL_ERR_DATA, msg);
		} else {
			assert_int_equal(fl_csv_next(csv, &rec), 1);
			assert_int_equal(rec.line, line);
			if (cases[i].field != NULL) {
				assert_int_equal(rec.n_fields, 2);
				assert_string_equal(rec.fields[1].s, cases[i].field);
			}
			while ((r = fl_csv_next(csv, &rec)) == 1)
				;
			assert_int_equal(r, 0);
		}
		fl_csv_free(csv);
		unlink(path);
	}
	free(data);
}

static void test_dialect_names(void **state)
{
	char d = 'x';
	enum fl_csv_encoding e = FL_CSV_LATIN1;

	(void)state;
	assert_int_equal(fl_csv_delimiter_parse("--delimiter", ";", &d), 0);
	assert_int_equal(d, ';');
	assert_int_equal(fl_csv_delimiter_parse("--delimiter", "tab", &d), 0);
	assert_int_equal(d, '\t');
	assert_int_equal(fl_csv_delimiter_parse("--delimiter", "\t", &d), 0);
	assert_int_equal(d, '\t');
	assert_int_equal(fl_csv_delimiter_parse("--delimiter", "|", &d), 0);
	assert_int_equal(d, '|');
	assert_int_equal(fl_csv_delimiter_parse("--delimiter", "auto", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(fl_csv_delimiter_parse("--delimiter", ";;", &d), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "--delimiter: \";;\" is not a field separator "
	                                 "(',', ';', tab, '|' or auto)");
	assert_string_equal(fl_csv_delimiter_name('\t'), "tab");
	assert_string_equal(fl_csv_delimiter_name(';'), ";");

	assert_int_equal(fl_csv_encoding_parse("--encoding", "Windows-1252", &e), 0);
	assert_int_equal(e, FL_CSV_WINDOWS_1252);
	assert_int_equal(fl_csv_encoding_parse("--encoding", "latin1", &e), 0);
	assert_int_equal(e, FL_CSV_LATIN1);
	assert_int_equal(fl_csv_encoding_parse("--encoding", "UTF-8", &e), 0);
	assert_int_equal(e, FL_CSV_UTF8);
	assert_int_equal(fl_csv_encoding_parse("--encoding", "ebcdic", &e), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "--encoding: \"ebcdic\" is not a supported encoding "
	                                 "(utf-8, windows-1252 or latin1)");
}

/* ---- fl_parse_number ---- */

static struct fl_number_format number_format(const char *decimal, const char *thousands,
                                             const char *currency)
{
	struct fl_number_format f = {0};

	if (decimal != NULL)
		assert_int_equal(fl_number_set_decimal(&f, "decimal", decimal), 0);
	if (thousands != NULL)
		assert_int_equal(fl_number_set_thousands(&f, "thousands", thousands), 0);
	if (currency != NULL)
		assert_int_equal(fl_number_set_currency(&f, "currency", currency), 0);
	return f;
}

static void expect_number(const struct fl_number_format *f, const char *s, double want)
{
	double v = 42;

	if (fl_parse_number(s, strlen(s), f, &v) != 0)
		fail_msg("\"%s\" was refused", s);
	if (v != want)
		fail_msg("\"%s\" gave %.17g, want %.17g", s, v, want);
}

static void expect_not_number(const struct fl_number_format *f, const char *s)
{
	double v;

	if (fl_parse_number(s, strlen(s), f, &v) != -1)
		fail_msg("\"%s\" was accepted as %.17g", s, v);
}

/* ---- fl_csv_want_numbers(): records cut and their decimals parsed in one pass ---- */

/* Reads the next record of a reader that wants numbers and checks that the
 * fast path read it (fast 1, each field's num_ok as ok[] says, the value
 * as want[] when taken) or did not (fast 0: rec.num NULL). */
static void expect_nums(struct fl_csv *csv, struct fl_csv_record *rec, int fast, size_t n,
                        const int *ok, const double *want)
{
	assert_int_equal(fl_csv_next(csv, rec), 1);
	assert_int_equal(rec->n_fields, n);
	if (!fast) {
		assert_null(rec->num);
		assert_null(rec->num_ok);
		return;
	}
	assert_non_null(rec->num);
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(rec->num_ok[k], ok[k]);
		if (ok[k])
			assert_memory_equal(&rec->num[k], &want[k], sizeof(double));
	}
}

static void test_numbers_fast_path(void **state)
{
	char path[64];
	struct fl_csv *csv;
	struct fl_csv_record rec;
	const double neg0 = -0.0;

	(void)state;
	csv = open_bytes(path, S("a,b,c,d\n"
	                         "-12,0.3072,+5,51.0\n"
	                         "1e5,,N/A,-0\n"
	                         "12345678901234567890,9007199254740992,9007199254740991,.5\n"
	                         "\"7\",8,9,10\n"
	                         " 7,8,9,10\n"
	                         "1,2,3,4\r\n"
	                         "5.,-,+,x1\n"
	                         "\n"
	                         "0.1,1.0000000000000000001,2,3\n"
	                         "9,9,9,9"));
	fl_csv_want_numbers(csv);
	/* The header is never read as numbers. */
	expect_nums(csv, &rec, 0, 4, NULL, NULL);
	expect_nums(csv, &rec, 1, 4, (const int[]){1, 1, 1, 1},
	            (const double[]){-12.0, 0.3072, 5.0, 51.0});
	assert_int_equal(rec.line, 2);
	assert_string_equal(rec.fields[2].s, "+5");
	/* An exponent, a blank field and a placeholder are text for the
	 * caller's parser; "-0" is the negative zero strtod() gives. */
	expect_nums(csv, &rec, 1, 4, (const int[]){0, 0, 0, 1}, (const double[]){0, 0, 0, neg0});
	assert_true(signbit(rec.num[3]));
	assert_string_equal(rec.fields[0].s, "1e5");
	assert_int_equal(rec.fields[1].len, 0);
	/* Twenty digits, and 2^53, are beyond the one-division path. */
	expect_nums(csv, &rec, 1, 4, (const int[]){0, 0, 1, 1},
	            (const double[]){0, 0, 9007199254740991.0, 0.5});
	/* A quote or a blank: the tokenizer reads the record, as always. */
	expect_nums(csv, &rec, 0, 4, NULL, NULL);
	assert_string_equal(rec.fields[0].s, "7");
	expect_nums(csv, &rec, 0, 4, NULL, NULL);
	assert_string_equal(rec.fields[0].s, "7");
	assert_int_equal(rec.line, 6);
	/* CRLF ends a record on the fast path. */
	expect_nums(csv, &rec, 1, 4, (const int[]){1, 1, 1, 1}, (const double[]){1, 2, 3, 4});
	assert_string_equal(rec.fields[3].s, "4");
	assert_int_equal(rec.line, 7);
	expect_nums(csv, &rec, 1, 4, (const int[]){1, 0, 0, 0}, (const double[]){5, 0, 0, 0});
	assert_string_equal(rec.fields[3].s, "x1");
	/* A blank line before a record: the tokenizer skips it. */
	expect_nums(csv, &rec, 0, 4, NULL, NULL);
	assert_int_equal(rec.line, 10);
	/* The last record without its LF. */
	expect_nums(csv, &rec, 0, 4, NULL, NULL);
	assert_int_equal(rec.line, 11);
	expect_eof(csv);
	fl_csv_free(csv);
	unlink(path);
}

/* Text that is printable but not a plain decimal, and values at the fast
 * path's edges, for test_numbers_same_records(). */
static const char *const NUM_TEXT[] = {
        "0",
        "-0",
        "+0",
        "007",
        "1.",
        ".5",
        "-.5",
        "+.25",
        "1e3",
        "-1E-2",
        "x",
        "N/A",
        "--1",
        "+-1",
        "1.2.3",
        "1..2",
        "0x10",
        "inf",
        "nan",
        "1,5",
        "12ab",
        "1-2",
        "3.14159265",
        "",
        "-",
        "+",
        ".",
        "99999999999999999999",
        "9007199254740993",
        "0.00000000000000000001",
        "123456789.123456789",
};

/* A random field: mostly short decimals, some of the text above, now and
 * then one quoted or with a blank (which the tokenizer must read). */
static void random_field(char *out, size_t cap, uint64_t *st)
{
	uint64_t r;

	*st = *st * 6364136223846793005u + 1442695040888963407u;
	r = *st >> 33;
	if (r % 10 < 6) {
		snprintf(out, cap, "%s%llu.%0*llu", r % 3 == 0 ? "-" : "",
		         (unsigned long long)(r >> 8) % 100000, (int)(1 + (r >> 4) % 4),
		         (unsigned long long)(r >> 12) % 1000);
	} else if (r % 10 < 9) {
		snprintf(out, cap, "%s",
		         NUM_TEXT[(r >> 8) % (sizeof(NUM_TEXT) / sizeof(*NUM_TEXT))]);
	} else if (r % 100 < 95) {
		snprintf(out, cap, "\"%llu\"", (unsigned long long)(r >> 8) % 1000);
	} else {
		snprintf(out, cap, " %llu", (unsigned long long)(r >> 8) % 1000);
	}
}

/* A file of many buffers: the reader that wants numbers gives the records,
 * lines and fields of the one that does not, record for record, and each
 * value it takes is fl_parse_double()'s, bit for bit. */
static void test_numbers_same_records(void **state)
{
	char path[64], field[64];
	struct fl_csv *plain = NULL, *fast = NULL;
	struct fl_csv_record a, b;
	size_t cap = 1u << 20, len = 0, n_fast = 0, n_taken = 0, n_rec = 0;
	char *text = malloc(cap);
	uint64_t st = 42;
	int r;

	(void)state;
	assert_non_null(text);
	len += (size_t)snprintf(text, cap, "c1,c2,c3,c4,c5,c6,c7\n");
	while (len + 512 < cap) {
		for (int k = 0; k < 7; k++) {
			random_field(field, sizeof(field), &st);
			len += (size_t)snprintf(text + len, cap - len, "%s%c", field,
			                        k < 6 ? ',' : '\n');
		}
		if (st % 97 == 0)
			len += (size_t)snprintf(text + len, cap - len, "\n");
		if (st % 89 == 0) /* a CRLF record end now and then */
			memcpy(text + len - 1, "\r\n", 3), len++;
	}
	write_tmp(path, text, len);
	assert_int_equal(fl_csv_open(path, &plain), 0);
	assert_int_equal(fl_csv_open(path, &fast), 0);
	fl_csv_want_numbers(fast);
	while ((r = fl_csv_next(plain, &a)) == 1) {
		assert_int_equal(fl_csv_next(fast, &b), 1);
		assert_null(a.num);
		assert_int_equal(a.line, b.line);
		assert_int_equal(a.n_fields, b.n_fields);
		n_rec++;
		n_fast += b.num != NULL;
		for (size_t k = 0; k < a.n_fields; k++) {
			double v;

			assert_int_equal(a.fields[k].len, b.fields[k].len);
			assert_memory_equal(a.fields[k].s, b.fields[k].s, a.fields[k].len + 1);
			if (b.num == NULL || !b.num_ok[k])
				continue;
			n_taken++;
			assert_int_equal(fl_parse_double(a.fields[k].s, a.fields[k].len, &v), 0);
			assert_memory_equal(&v, &b.num[k], sizeof(v));
		}
	}
	assert_int_equal(r, 0);
	assert_int_equal(fl_csv_next(fast, &b), 0);
	/* Most records are plain, and most of their values were taken. */
	assert_true(n_rec > 10000);
	assert_true(n_fast > n_rec / 3);
	assert_true(n_taken > n_fast * 3);
	fl_csv_free(plain);
	fl_csv_free(fast);
	unlink(path);
	free(text);
}

static void test_parse_number(void **state)
{
	struct fl_number_format eu = number_format(",", ".", NULL);
	struct fl_number_format us = number_format(NULL, ",", "$");
	struct fl_number_format fr = number_format(",", "\xC2\xA0", "\xE2\x82\xAC");
	struct fl_number_format comma = number_format(",", NULL, NULL);
	struct fl_number_format plain = {0};

	(void)state;
	/* Decimal comma, thousands point. */
	expect_number(&eu, "12,5", 12.5);
	expect_number(&eu, "1.234,5", 1234.5);
	expect_number(&eu, "-1.234.567,25", -1234567.25);
	expect_number(&eu, " 1.234 ", 1234);
	expect_number(&eu, "0,1", 0.1); /* exactly as "0.1" is read */
	expect_not_number(&eu, "12.5"); /* a point groups threes */
	expect_not_number(&eu, "1.23,4");
	expect_not_number(&eu, "1234.567,8"); /* a first group of four */
	expect_not_number(&eu, ".123");
	expect_not_number(&eu, "1..234");
	expect_not_number(&eu, "1,2,3");
	expect_not_number(&eu, "");
	/* Decimal comma without grouping: a point is an error. */
	expect_number(&comma, "3,25", 3.25);
	expect_number(&comma, "1234,5", 1234.5);
	expect_not_number(&comma, "3.25");
	/* US money. */
	expect_number(&us, "$1,234.50", 1234.5);
	expect_number(&us, "$ 5", 5);
	expect_number(&us, "-$5", -5);
	expect_number(&us, "$-5", -5);
	expect_number(&us, "5$", 5);
	expect_number(&us, "1234", 1234);
	expect_not_number(&us, "$");
	expect_not_number(&us, "$$5");
	expect_not_number(&us, "€5");
	expect_not_number(&us, "1,23");
	expect_not_number(&us, "--5");
	/* French: no-break space groups, the euro sign after. */
	expect_number(&fr,
	              "1\xC2\xA0"
	              "234,5\xC2\xA0\xE2\x82\xAC",
	              1234.5);
	expect_number(&fr, "12 \xE2\x82\xAC", 12);
	/* Plain numbers take the plain path: "1,5" stays an error. */
	expect_number(&plain, "1.5", 1.5);
	expect_not_number(&plain, "1,5");
	expect_not_number(NULL, "$5");
}

static void test_number_format_errors(void **state)
{
	struct fl_number_format f = {0};

	(void)state;
	assert_int_equal(fl_number_set_decimal(&f, "--decimal", ";"), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "--decimal: \";\" is not a decimal separator (\".\" or \",\")");
	assert_int_equal(fl_number_set_thousands(&f, "--thousands", "_"), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "--thousands: \"_\" is not a thousands separator (\",\", "
	                                 "\".\", \" \", \"'\", a no-break space or \"\" for none)");
	assert_int_equal(fl_number_set_thousands(&f, "--thousands", "."), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "--thousands: \".\" is the decimal separator too; they must differ");
	assert_int_equal(fl_number_set_thousands(&f, "--thousands", ","), 0);
	assert_int_equal(fl_number_set_decimal(&f, "--decimal", ","), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "--decimal: \",\" is the thousands separator too; they must differ");
	assert_int_equal(fl_number_set_currency(&f, "--currency", "US$1"), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "--currency: \"US$1\" is not a currency symbol (1 to 8 "
	                                 "bytes, no digits, signs, points or commas)");
	assert_int_equal(fl_number_set_currency(&f, "--currency", "USD"), 0);
	{
		char buf[96];

		fl_number_describe(&f, buf, sizeof(buf));
		assert_string_equal(buf, "thousands \",\", currency \"USD\"");
	}
}

/* ---- fl_parse_double ---- */

static double parse_ok(const char *s)
{
	double v = 42;

	assert_int_equal(fl_parse_double(s, strlen(s), &v), 0);
	return v;
}

static void assert_same_double(double a, double b)
{
	assert_memory_equal(&a, &b, sizeof(a)); /* bit for bit, sign of zero too */
}

static void test_parse_double_accepts(void **state)
{
	double v;

	(void)state;
	assert_same_double(parse_ok("12"), 12.0);
	assert_same_double(parse_ok("-0.5"), -0.5);
	assert_same_double(parse_ok("1e-3"), 0.001);
	assert_same_double(parse_ok("  7 "), 7.0);
	assert_same_double(parse_ok("\t-2.25\t "), -2.25);
	assert_same_double(parse_ok("1."), 1.0);
	assert_same_double(parse_ok(".5"), 0.5);
	assert_same_double(parse_ok("-0"), -0.0);
	assert_same_double(parse_ok("-0.0e10"), -0.0);
	assert_same_double(parse_ok("+3"), 3.0);
	assert_same_double(parse_ok("1E5"), 100000.0);
	assert_same_double(parse_ok("1e+2"), 100.0);
	assert_same_double(parse_ok("0.1"), 0.1);
	assert_same_double(parse_ok("000123.4500"), 123.45);
	assert_same_double(parse_ok("12e30"), 12e30);
	assert_same_double(parse_ok("1e23"), 1e23);
	assert_same_double(parse_ok("0.000001234"), 1.234e-6);
	/* 2^53 + 1 is not a double: ties to even, down to 2^53. */
	assert_same_double(parse_ok("9007199254740993"), 9007199254740992.0);
	assert_same_double(parse_ok("9007199254740993.0000000001"), 9007199254740994.0);
	assert_same_double(parse_ok("123456789012345678901234567890"), 1.2345678901234568e29);
	assert_same_double(parse_ok("0.1000000000000000055511151231257827"), 0.1);
	assert_same_double(parse_ok("1.7976931348623157e308"), 1.7976931348623157e308);
	assert_same_double(parse_ok("4.9406564584124654e-324"), 4.9406564584124654e-324);
	/* Underflow gives zero, a usable value, unlike overflow. */
	assert_same_double(parse_ok("1e-400"), 0.0);
	assert_same_double(parse_ok("0e999999999999"), 0.0);
	/* Only len bytes are read; the text need not be NUL-terminated. */
	assert_int_equal(fl_parse_double("12abc", 2, &v), 0);
	assert_same_double(v, 12.0);
	assert_int_equal(fl_parse_double("-1.25e2x", 7, &v), 0);
	assert_same_double(v, -125.0);
}

static void test_parse_double_rejects(void **state)
{
	static const char *bad[] = {
	        "",     " ",        "\t \t",    "-",     "+",       ".",      "-.",      "e5",
	        "1e",   "1e+",      "1e-",      "nan",   "NaN",     "-nan",   "inf",     "-Inf",
	        "INF",  "infinity", "Infinity", "0x1p3", "0x10",    "12abc",  "1,5",     "1 2",
	        "--1",  "+-1",      "1e5.5",    "1.2.3", "1.8e308", "-1e309", "1e99999", "1..2",
	        "1e 5", "\n1",      "1\n",      "0,5",   "1_000",   "½",
	};
	size_t i;
	double v;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (fl_parse_double(bad[i], strlen(bad[i]), &v) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_same_double(v, 0.0);
	}
	/* An embedded NUL is garbage, not an end. */
	assert_int_equal(fl_parse_double("1\0002", 3, &v), -1);
}

/* Compares with strtod() on many generated decimals, fast path or not. */
static void test_parse_double_matches_strtod(void **state)
{
	uint64_t x = 12345;
	char s[96];
	size_t n, k, i;
	double got, want;

	(void)state;
#define LCG() (x = x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407), x >> 33)
	for (i = 0; i < 100000; i++) {
		size_t nd = 1 + LCG() % 24, point = LCG() % (nd + 1);
		int exp_kind = (int)(LCG() % 4);

		n = 0;
		if (LCG() % 3 == 0)
			s[n++] = LCG() % 2 ? '-' : '+';
		for (k = 0; k < nd; k++) {
			if (k == point && LCG() % 2)
				s[n++] = '.';
			/* Mostly small leading digits so the fast path is exercised. */
			s[n++] = (char)('0' + LCG() % 10);
		}
		if (exp_kind == 1)
			n += (size_t)sprintf(s + n, "e%d", (int)(LCG() % 71) - 30);
		else if (exp_kind == 2)
			n += (size_t)sprintf(s + n, "E%+d", (int)(LCG() % 700) - 350);
		s[n] = '\0';
		want = strtod(s, NULL);
		if (isinf(want)) {
			assert_int_equal(fl_parse_double(s, n, &got), -1);
			continue;
		}
		if (fl_parse_double(s, n, &got) != 0)
			fail_msg("rejected \"%s\"", s);
		if (memcmp(&got, &want, sizeof(got)) != 0)
			fail_msg("\"%s\": got %.17g, strtod %.17g", s, got, want);
	}
#undef LCG
}

/*
 * The short-decimal fast path and its edges: every case is what strtod()
 * makes of the text, whichever path reads it.
 */
static void test_parse_double_fast_path_edges(void **state)
{
	static const char *cases[] = {
	        "0",
	        "-0",
	        "+0",
	        "-0.000",
	        "0.3072",
	        "-1110",
	        "51.0",
	        "195217",
	        "9007199254740991",   /* 2^53 - 1: the largest exact mantissa */
	        "9007199254740992",   /* 2^53: the general path */
	        "-9007199254740993",  /* ties to even */
	        "900719925474099.3",  /* 16 digits with a point */
	        "0.9007199254740991", /* 2^53 - 1 over 10^16 */
	        "1234567890123456789",
	        "12345678901234567890", /* 20 digits: beyond the fast path */
	        "0.1234567890123456789",
	        "0.0000000000000000001",
	        "0.00000000000000000000001", /* 10^-23: beyond 10^22 */
	        "1e22",
	        "1e23",
	        "123456789012345678901", /* 21 bytes */
	        "0.30000000000000004",
	        "0.1",
	        "0.2",
	        "2.5",
	        ".5",
	        "5.",
	        "-.5",
	        "4.35",
	        "8.98846567431158e307",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double got = 42, want = strtod(cases[i], NULL);

		if (fl_parse_double(cases[i], strlen(cases[i]), &got) != 0)
			fail_msg("rejected \"%s\"", cases[i]);
		if (memcmp(&got, &want, sizeof(got)) != 0)
			fail_msg("\"%s\": got %.17g, strtod %.17g", cases[i], got, want);
	}
}

/*
 * Random text over the characters of numbers, blanks and an 'x': taken
 * exactly when strtod() reads all of it (blanks at either end aside) to a
 * finite value and it is not hexadecimal, and then to the same bits.
 */
static void test_parse_double_random_text(void **state)
{
	static const char alpha[] = "0123456789012345678901234567890123456789..--++eE \tx";
	uint64_t x = 777;
	char s[40], t[40], *end;
	size_t taken = 0;

	(void)state;
#define LCG() (x = x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407), x >> 33)
	for (int i = 0; i < 1000000; i++) {
		size_t n = LCG() % 26, a = 0, b;
		double got = 42, want;
		int r, ok;

		for (size_t k = 0; k < n; k++)
			s[k] = alpha[LCG() % (sizeof(alpha) - 1)];
		/* What a reader of the field sees: blanks at the ends are not
		 * part of it. */
		for (b = n; b > 0 && (s[b - 1] == ' ' || s[b - 1] == '\t'); b--)
			;
		while (a < b && (s[a] == ' ' || s[a] == '\t'))
			a++;
		memcpy(t, s + a, b - a);
		t[b - a] = '\0';
		want = strtod(t, &end);
		/* Hexadecimal ("0x1E") is refused by design. */
		ok = b > a && end == t + (b - a) && isfinite(want) && strchr(t, 'x') == NULL;
		r = fl_parse_double(s, n, &got);
		if (r != (ok ? 0 : -1))
			fail_msg("\"%.*s\": returned %d, strtod reads %zu of %zu bytes", (int)n, s,
			         r, (size_t)(end - t), b - a);
		if (!ok) {
			assert_true(got == 0);
			continue;
		}
		taken++;
		if (memcmp(&got, &want, sizeof(got)) != 0)
			fail_msg("\"%.*s\": got %.17g, strtod %.17g", (int)n, s, got, want);
	}
	/* The test saw numbers, not only garbage. */
	assert_true(taken > 10000);
}

/*
 * Short decimals as lead files hold them, the fast path's shape, one
 * million of them: sign, 1 to 19 digits, a point anywhere.
 */
static void test_parse_double_short_decimals(void **state)
{
	uint64_t x = 4242;
	char s[32];

	(void)state;
	for (int i = 0; i < 1000000; i++) {
		size_t nd = 1 + LCG() % 19, point = LCG() % (nd + 2), n = 0;
		double got = 42, want;

		if (LCG() % 4 == 0)
			s[n++] = '-';
		for (size_t k = 0; k < nd; k++) {
			if (k == point)
				s[n++] = '.';
			s[n++] = (char)('0' + LCG() % 10);
		}
		s[n] = '\0';
		want = strtod(s, NULL);
		if (fl_parse_double(s, n, &got) != 0)
			fail_msg("rejected \"%s\"", s);
		if (memcmp(&got, &want, sizeof(got)) != 0)
			fail_msg("\"%s\": got %.17g, strtod %.17g", s, got, want);
	}
#undef LCG
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fixture_quoting),
	        cmocka_unit_test(test_embedded_newlines),
	        cmocka_unit_test(test_crlf),
	        cmocka_unit_test(test_lone_cr),
	        cmocka_unit_test(test_bom),
	        cmocka_unit_test(test_empty_fields_and_blanks),
	        cmocka_unit_test(test_no_final_newline),
	        cmocka_unit_test(test_unterminated_quote),
	        cmocka_unit_test(test_stray_quotes),
	        cmocka_unit_test(test_field_limit),
	        cmocka_unit_test(test_record_length_limit),
	        cmocka_unit_test(test_rewind),
	        cmocka_unit_test(test_progress_hook),
	        cmocka_unit_test(test_open_errors),
	        cmocka_unit_test(test_generated_file),
	        cmocka_unit_test(test_ranges),
	        cmocka_unit_test(test_range_stray_quote),
	        cmocka_unit_test(test_pipe),
	        cmocka_unit_test(test_text_across_blocks),
	        cmocka_unit_test(test_detect_delimiter),
	        cmocka_unit_test(test_given_delimiter),
	        cmocka_unit_test(test_encodings),
	        cmocka_unit_test(test_encoding_large),
	        cmocka_unit_test(test_utf8_offsets),
	        cmocka_unit_test(test_read_boundary),
	        cmocka_unit_test(test_dialect_names),
	        cmocka_unit_test(test_numbers_fast_path),
	        cmocka_unit_test(test_numbers_same_records),
	        cmocka_unit_test(test_parse_number),
	        cmocka_unit_test(test_number_format_errors),
	        cmocka_unit_test(test_parse_double_accepts),
	        cmocka_unit_test(test_parse_double_rejects),
	        cmocka_unit_test(test_parse_double_matches_strtod),
	        cmocka_unit_test(test_parse_double_fast_path_edges),
	        cmocka_unit_test(test_parse_double_random_text),
	        cmocka_unit_test(test_parse_double_short_decimals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
