/*
 * Tests for src/encode.c: binding a CSV header to the schema, encoding rows
 * (with the exact message for every kind of bad field), column statistics,
 * the scaler, loading a dataset with either bad-row policy, and the
 * validation split.
 *
 * Fixture tests/data/encode/leads.schema.json encodes to 10 columns:
 *   0 intercept, 1 age, 2 age (missing), 3 visits, 4 region=north,
 *   5 region=south, 6 region=(other), 7 tier=1, 8 tier=2, 9 tier=3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedlead/csv.h"
#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/schema.h"

#define DIM 10
#define SCHEMA_PATH FL_TEST_DATA "/encode/leads.schema.json"
#define LEADS_PATH FL_TEST_DATA "/encode/leads.csv"
#define PERMUTED_PATH FL_TEST_DATA "/encode/leads_permuted.csv"
#define HEADER "lead,age,visits,region,tier,won,notes\n"

/* The four leads of leads.csv, encoded by hand (see the fixture README). */
static const double LEADS_X[4][DIM] = {
        {1, 42.5, 0, 3, 0, 1, 0, 0, 1, 0},
        {1, NAN, 1, 0, 0, 0, 1, 1, 0, 0},
        {1, 30, 0, 1, 1, 0, 0, 0, 0, 1},
        {1, -10, 0, 2, 0, 0, 1, 1, 0, 0},
};
static const double LEADS_Y[4] = {1, 0, 0, 1};

static struct fl_schema *load_schema(void)
{
	struct fl_schema *s = NULL;

	if (fl_schema_load(SCHEMA_PATH, &s) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(s->dim, DIM);
	return s;
}

static struct fl_schema *parse_schema(const char *json)
{
	struct fl_schema *s = NULL;

	if (fl_schema_parse(json, strlen(json), "inline", &s) != 0)
		fail_msg("%s", fl_errmsg());
	return s;
}

/* Writes exact bytes to a new temporary file; path receives its name. */
static void write_tmp(char path[64], const char *bytes, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/fl_test_encode_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Equal as numbers, NaN equal to NaN. */
static void assert_row_equal(const double *got, const double *want, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		if (isnan(want[j]) && isnan(got[j]))
			continue;
		if (got[j] != want[j])
			fail_msg("column %zu: got %.17g, want %.17g", j, got[j], want[j]);
	}
}

static void assert_close(double got, double want)
{
	if (fabs(got - want) > 1e-12 * (1.0 + fabs(want)))
		fail_msg("got %.17g, want %.17g", got, want);
}

/* An open CSV with its header read, and the binding. */
struct bound {
	struct fl_csv *csv;
	struct fl_binding *b;
	size_t n_extra;
};

static int bind_file(const struct fl_schema *s, const char *path, int need_label, struct bound *bd)
{
	struct fl_csv_record hdr;
	int r;

	memset(bd, 0, sizeof(*bd));
	bd->n_extra = 99;
	if (fl_csv_open(path, &bd->csv) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(fl_csv_next(bd->csv, &hdr), 1);
	bd->b = (struct fl_binding *)1;
	r = fl_binding_new(s, bd->csv, &hdr, need_label, &bd->b, &bd->n_extra);
	if (r != 0) {
		assert_null(bd->b);
		assert_int_equal(bd->n_extra, 0);
	}
	return r;
}

static void unbind(struct bound *bd)
{
	fl_binding_free(bd->b);
	fl_csv_free(bd->csv);
}

/* Writes header text to a temporary file (its name into path) and binds it. */
static int bind_header(const struct fl_schema *s, const char *header, int need_label,
                       struct bound *bd, char path[64])
{
	write_tmp(path, header, strlen(header));
	return bind_file(s, path, need_label, bd);
}

/* ---- binding ---- */

static void test_binding_ok_and_extra(void **state)
{
	struct fl_schema *s = load_schema();
	struct bound bd;
	char path[64];

	(void)state;
	assert_int_equal(bind_header(s, "source,lead,age,visits,region,tier,won,notes,campaign\n",
	                             1, &bd, path),
	                 0);
	/* notes is ignored explicitly, so only source and campaign are extra. */
	assert_int_equal(bd.n_extra, 2);
	assert_string_equal(fl_binding_extra(bd.b, 0), "source");
	assert_string_equal(fl_binding_extra(bd.b, 1), "campaign");
	assert_null(fl_binding_extra(bd.b, 2));
	assert_true(fl_binding_has_label(bd.b));
	assert_true(fl_binding_has_id(bd.b));
	/* CSV positions of age, visits, region, tier */
	assert_int_equal(fl_binding_column(bd.b, 0), 2);
	assert_int_equal(fl_binding_column(bd.b, 1), 3);
	assert_int_equal(fl_binding_column(bd.b, 2), 4);
	assert_int_equal(fl_binding_column(bd.b, 3), 5);
	unbind(&bd);
	unlink(path);
	fl_binding_free(NULL);
	fl_schema_free(s);
}

static void test_binding_errors(void **state)
{
	struct fl_schema *s = load_schema();
	struct bound bd;
	char path[64], msg[256];

	(void)state;
	/* A feature column is missing. */
	assert_int_equal(bind_header(s, "lead,age,region,tier,won,notes\n", 1, &bd, path),
	                 FL_ERR_DATA);
	snprintf(msg, sizeof(msg), "%s:1: column \"visits\" required by the schema is missing",
	         path);
	assert_string_equal(fl_errmsg(), msg);
	unbind(&bd);
	unlink(path);

	/* The label is required for training ... */
	assert_int_equal(bind_header(s, "lead,age,visits,region,tier,notes\n", 1, &bd, path),
	                 FL_ERR_DATA);
	snprintf(msg, sizeof(msg), "%s:1: column \"won\" required by the schema is missing", path);
	assert_string_equal(fl_errmsg(), msg);
	unbind(&bd);
	/* ... but not for scoring. */
	assert_int_equal(bind_file(s, path, 0, &bd), 0);
	assert_false(fl_binding_has_label(bd.b));
	assert_int_equal(bd.n_extra, 0);
	unbind(&bd);
	unlink(path);

	/* The id column is part of the contract. */
	assert_int_equal(bind_header(s, "age,visits,region,tier,won\n", 1, &bd, path), FL_ERR_DATA);
	snprintf(msg, sizeof(msg), "%s:1: column \"lead\" required by the schema is missing", path);
	assert_string_equal(fl_errmsg(), msg);
	unbind(&bd);
	unlink(path);

	/* A column the schema uses appears twice: either copy could be meant. */
	assert_int_equal(
	        bind_header(s, "lead,age,visits,region,tier,won,notes,age\n", 1, &bd, path),
	        FL_ERR_DATA);
	snprintf(msg, sizeof(msg), "%s:1: column \"age\" appears twice (columns 2 and 8)", path);
	assert_string_equal(fl_errmsg(), msg);
	unbind(&bd);
	unlink(path);

	assert_int_equal(bind_header(s, "won,lead,age,visits,region,tier,won\n", 1, &bd, path),
	                 FL_ERR_DATA);
	snprintf(msg, sizeof(msg), "%s:1: column \"won\" appears twice (columns 1 and 7)", path);
	assert_string_equal(fl_errmsg(), msg);
	unbind(&bd);
	unlink(path);
	fl_schema_free(s);
}

static void test_binding_unnamed_columns(void **state)
{
	/* A schema without an id, and a header with two unnamed columns (an
	 * exported index plus a trailing comma): nothing to do with the schema,
	 * so they are just extra columns. */
	struct fl_schema *s = parse_schema(
	        "{\"fedlead_schema\":1,\"label\":{\"column\":\"y\",\"positive\":\"1\","
	        "\"negative\":\"0\"},\"features\":[{\"name\":\"a\",\"type\":\"numeric\"}]}");
	struct bound bd;
	char path[64];
	struct fl_csv_record rec;
	double x[2], y = -1;
	const char *id = "unset";

	(void)state;
	write_tmp(path, ",a,y,\n0,2.5,1,\n", 15);
	assert_int_equal(bind_file(s, path, 1, &bd), 0);
	assert_int_equal(bd.n_extra, 2);
	assert_string_equal(fl_binding_extra(bd.b, 0), "");
	assert_string_equal(fl_binding_extra(bd.b, 1), "");
	assert_false(fl_binding_has_id(bd.b));
	assert_int_equal(fl_csv_next(bd.csv, &rec), 1);
	assert_int_equal(fl_encode_row(bd.b, &rec, x, &y, &id), 0);
	assert_null(id);
	assert_true(x[0] == 1.0 && x[1] == 2.5 && y == 1.0);
	unbind(&bd);
	unlink(path);
	fl_schema_free(s);
}

/* ---- encoding rows ---- */

static void read_all(const struct fl_schema *s, const char *path, double X[][DIM], double *y,
                     const char *const *ids, size_t n)
{
	struct bound bd;
	struct fl_csv_record rec;

	assert_int_equal(bind_file(s, path, 1, &bd), 0);
	for (size_t i = 0; i < n; i++) {
		const char *id = NULL;

		assert_int_equal(fl_csv_next(bd.csv, &rec), 1);
		if (fl_encode_row(bd.b, &rec, X[i], &y[i], &id) != 0)
			fail_msg("%s", fl_errmsg());
		assert_non_null(id);
		assert_string_equal(id, ids[i]);
	}
	assert_int_equal(fl_csv_next(bd.csv, &rec), 0);
	unbind(&bd);
}

static void test_encode_good_rows(void **state)
{
	static const char *const ids[4] = {"L1", "L2", "L3", "L4"};
	struct fl_schema *s = load_schema();
	double X[4][DIM], y[4], Xp[4][DIM], yp[4];

	(void)state;
	read_all(s, LEADS_PATH, X, y, ids, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_row_equal(X[i], LEADS_X[i], DIM);
		assert_true(y[i] == LEADS_Y[i]);
	}
	/* Columns in another order (and CRLF, and an extra column): the same. */
	read_all(s, PERMUTED_PATH, Xp, yp, ids, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_row_equal(Xp[i], X[i], DIM);
		assert_true(yp[i] == y[i]);
	}
	fl_schema_free(s);
}

static void test_encode_scoring_leaves_label(void **state)
{
	struct fl_schema *s = load_schema();
	struct bound bd;
	struct fl_csv_record rec;
	char path[64];
	double x[DIM], label = 42;
	static const char csv[] = "age,visits,region,tier,lead\n 7 ,1,north,3,Z9\n";
	/* Open leads: the outcome column is there but not filled in yet. */
	static const char open_csv[] = "won,age,visits,region,tier,lead\n"
	                               ",7,1,north,3,Z9\nmaybe,7,1,north,3,Z8\n";
	static const double want[DIM] = {1, 7, 0, 1, 1, 0, 0, 0, 0, 1};

	(void)state;
	write_tmp(path, csv, strlen(csv));
	assert_int_equal(bind_file(s, path, 0, &bd), 0);
	assert_int_equal(fl_csv_next(bd.csv, &rec), 1);
	assert_int_equal(fl_encode_row(bd.b, &rec, x, &label, NULL), 0);
	assert_row_equal(x, want, DIM);
	assert_true(label == 42);
	unbind(&bd);
	unlink(path);

	write_tmp(path, open_csv, strlen(open_csv));
	assert_int_equal(bind_file(s, path, 0, &bd), 0);
	assert_false(fl_binding_has_label(bd.b));
	assert_int_equal(bd.n_extra, 0);
	for (int i = 0; i < 2; i++) {
		const char *id = NULL;

		assert_int_equal(fl_csv_next(bd.csv, &rec), 1);
		if (fl_encode_row(bd.b, &rec, x, &label, &id) != 0)
			fail_msg("%s", fl_errmsg());
		assert_row_equal(x, want, DIM);
		assert_true(label == 42);
		assert_string_equal(id, i == 0 ? "Z9" : "Z8");
	}
	unbind(&bd);
	unlink(path);
	fl_schema_free(s);
}

/* 60 characters: the most of a field an error message quotes. */
#define LONG60 "notanumbernotanumbernotanumbernotanumbernotanumbernotanumber"

/*
 * Bad rows, one per kind, each with its exact message. The physical line of
 * each record is given; row 10 is a good record spanning lines 10-11 (a
 * quoted note with a comma and a newline), so later lines must still count.
 */
static const char BAD_CSV[] = HEADER "B1,abc,1,north,1,yes,\n"       /* 2 */
                                     "B2,nan,1,north,1,yes,\n"       /* 3 */
                                     "B3,\" inf \",1,north,1,yes,\n" /* 4 (quoted: blanks kept) */
                                     "B4,1,,north,1,yes,\n"          /* 5 */
                                     "B5,1,1,north,4,yes,\n"         /* 6 */
                                     "B6,1,1,north,,yes,\n"          /* 7 */
                                     "B7,1,1,north,1,maybe,\n"       /* 8 */
                                     "B8,1,1,north,1,yes\n"          /* 9 */
                                     "G1,1,1,north,1,yes,\"multi\nline, note\"\n" /* 10-11 */
                                     "B10,-Infinity,1,north,1,yes,\n"             /* 12 */
                                     "B11,1e999,1,north,1,yes,\n"                 /* 13 */
                                     "B12,1,1.5.2,north,1,yes,\n"                 /* 14 */
                                     "G2,\"2\",2,\"south\",3,no,\"x\"\"y\"\n"     /* 15 */
                                     "B13," LONG60 "12345,1,north,1,yes,\n"       /* 16 */
                                     "B14,1,1,north,1,,\n"                        /* 17 */
                                     "B15,0x10,1,north,1,yes,\n";                 /* 18 */

/* What follows the path in each message, in file order; NULL for good rows. */
static const char *const BAD_MSGS[] = {
        ":2:2: column \"age\": \"abc\" is not a number",
        ":3:2: column \"age\": \"nan\" is not a finite number",
        ":4:2: column \"age\": \" inf \" is not a finite number",
        ":5:3: column \"visits\": missing value (the schema says missing=error)",
        ":6:5: column \"tier\": \"4\" is not a listed category and there is no \"other\"",
        ":7:5: column \"tier\": missing value (no \"other\" category)",
        ":8:6: column \"won\": \"maybe\" is not a label value (expected \"yes\" or \"no\")",
        ":9: 6 fields, but the header has 7",
        NULL,
        ":12:2: column \"age\": \"-Infinity\" is not a finite number",
        ":13:2: column \"age\": \"1e999\" is not a finite number",
        ":14:3: column \"visits\": \"1.5.2\" is not a number",
        NULL,
        /* Long fields are quoted up to 60 characters. */
        ":16:2: column \"age\": \"" LONG60 "...\" is not a number",
        ":17:6: column \"won\": \"\" is not a label value (expected \"yes\" or \"no\")",
        ":18:2: column \"age\": \"0x10\" is not a number",
};
#define N_BAD_ROWS (sizeof(BAD_MSGS) / sizeof(BAD_MSGS[0]))

static void test_encode_bad_rows(void **state)
{
	struct fl_schema *s = load_schema();
	struct bound bd;
	struct fl_csv_record rec;
	char path[64], msg[512];
	double x[DIM], y;
	static const double g1[DIM] = {1, 1, 0, 1, 1, 0, 0, 1, 0, 0};
	static const double g2[DIM] = {1, 2, 0, 2, 0, 1, 0, 0, 0, 1};

	(void)state;
	write_tmp(path, BAD_CSV, strlen(BAD_CSV));
	assert_int_equal(bind_file(s, path, 1, &bd), 0);
	for (size_t i = 0; i < N_BAD_ROWS; i++) {
		int r;

		assert_int_equal(fl_csv_next(bd.csv, &rec), 1);
		fl_err_clear();
		r = fl_encode_row(bd.b, &rec, x, &y, NULL);
		if (BAD_MSGS[i] == NULL) {
			if (r != 0)
				fail_msg("row %zu: %s", i, fl_errmsg());
			assert_row_equal(x, i == 8 ? g1 : g2, DIM);
			assert_true(y == (i == 8 ? 1.0 : 0.0));
			continue;
		}
		if (r != FL_ERR_DATA)
			fail_msg("row %zu: expected FL_ERR_DATA, got %d", i, r);
		snprintf(msg, sizeof(msg), "%s%s", path, BAD_MSGS[i]);
		assert_string_equal(fl_errmsg(), msg);
	}
	assert_int_equal(fl_csv_next(bd.csv, &rec), 0);
	unbind(&bd);
	unlink(path);
	fl_schema_free(s);
}

/*
 * A categorical feature of many levels, among them the empty string and
 * values that are prefixes of others: each listed value, read from a CSV,
 * sets its own column; near misses (a prefix, an extension, another case,
 * blanks around) are not listed and name the field.
 */
static void test_encode_many_levels(void **state)
{
	enum { LEVELS = 300 };
	char *json = malloc(16 * LEVELS + 512), *csv = malloc(16 * LEVELS + 256), path[64],
	     msg[256];
	static const char *const misses[] = {"v1x", "v", "V7", " v7", "v299 ", "v0000"};
	size_t n = 0, m = 0;
	struct fl_schema *s;
	struct bound bd;
	struct fl_csv_record rec;
	double x[2 + LEVELS], y;

	(void)state;
	assert_non_null(json);
	assert_non_null(csv);
	n += (size_t)sprintf(json + n, "{\"fedlead_schema\": 1, \"label\": {\"column\": "
	                               "\"won\", \"positive\": \"1\", \"negative\": \"0\"}, "
	                               "\"features\": [{\"name\": \"c\", \"type\": "
	                               "\"categorical\", \"values\": [\"\"");
	/* v0 .. v299, and v00 .. v09: prefixes and extensions of each other. */
	for (int v = 0; v < LEVELS - 11; v++)
		n += (size_t)sprintf(json + n, ", \"v%d\"", v);
	for (int v = 0; v < 10; v++)
		n += (size_t)sprintf(json + n, ", \"v0%d\"", v);
	sprintf(json + n, "]}]}");
	s = parse_schema(json);
	assert_int_equal(s->dim, 1 + LEVELS);
	m += (size_t)sprintf(csv + m, "c,won\n\"\",1\n");
	for (int v = 0; v < LEVELS - 11; v++)
		m += (size_t)sprintf(csv + m, "v%d,0\n", v);
	for (int v = 0; v < 10; v++)
		m += (size_t)sprintf(csv + m, "v0%d,1\n", v);
	for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++)
		m += (size_t)sprintf(csv + m, "\"%s\",0\n", misses[i]);
	write_tmp(path, csv, m);
	assert_int_equal(bind_file(s, path, 1, &bd), 0);
	for (size_t row = 0; row < LEVELS; row++) {
		assert_int_equal(fl_csv_next(bd.csv, &rec), 1);
		if (fl_encode_row(bd.b, &rec, x, &y, NULL) != 0)
			fail_msg("row %zu: %s", row, fl_errmsg());
		/* The row's value is the schema's value number row. */
		for (size_t j = 0; j < LEVELS; j++)
			if (x[1 + j] != (j == row))
				fail_msg("row %zu (\"%s\"): column %zu is %g", row, rec.fields[0].s,
				         1 + j, x[1 + j]);
	}
	for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		assert_int_equal(fl_csv_next(bd.csv, &rec), 1);
		assert_int_equal(fl_encode_row(bd.b, &rec, x, &y, NULL), FL_ERR_DATA);
		snprintf(msg, sizeof(msg),
		         "%s:%zu:1: column \"c\": \"%s\" is not a listed category and there is "
		         "no \"other\"",
		         path, LEVELS + 2 + i, misses[i]);
		assert_string_equal(fl_errmsg(), msg);
	}
	assert_int_equal(fl_csv_next(bd.csv, &rec), 0);
	unbind(&bd);
	unlink(path);
	fl_schema_free(s);
	free(json);
	free(csv);
}

/* ---- statistics ---- */

static void test_stats_by_hand(void **state)
{
	struct fl_stats *st = NULL, *other = NULL;
	static const double rows[3][3] = {{1, 2, NAN}, {1, 4, 1}, {1, NAN, 3}};
	static const double labels[3] = {1, 0, 1};

	(void)state;
	assert_int_equal(fl_stats_new(3, &st), 0);
	for (size_t i = 0; i < 3; i++)
		fl_stats_add(st, rows[i], labels[i]);
	assert_true(st->rows == 3 && st->positives == 2);
	assert_true(st->count[0] == 3 && st->count[1] == 2 && st->count[2] == 2);
	assert_true(st->sum[0] == 3 && st->sum[1] == 6 && st->sum[2] == 4);
	assert_true(st->sumsq[0] == 3 && st->sumsq[1] == 20 && st->sumsq[2] == 10);
	assert_true(st->min[1] == 2 && st->max[1] == 4 && st->min[2] == 1 && st->max[2] == 3);

	/* Merging empty statistics changes nothing; merging mismatched sizes fails. */
	assert_int_equal(fl_stats_new(3, &other), 0);
	assert_int_equal(fl_stats_merge(st, other), 0);
	assert_true(st->rows == 3 && st->min[1] == 2 && st->max[2] == 3 && st->sum[1] == 6);
	fl_stats_free(other);
	assert_int_equal(fl_stats_new(4, &other), 0);
	assert_int_equal(fl_stats_merge(st, other), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "statistics of 3 and 4 columns cannot be merged");
	fl_stats_free(other);
	fl_stats_free(st);
	fl_stats_free(NULL);
}

static void test_dataset_load_leads(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_dataset *ds = NULL, *dp = NULL;
	struct fl_load_report rep, repp;

	(void)state;
	assert_int_equal(fl_dataset_load(s, LEADS_PATH, FL_BAD_ROWS_FAIL, &ds, &rep), 0);
	assert_int_equal(ds->n, 4);
	assert_int_equal(ds->dim, DIM);
	assert_int_equal(rep.rows, 4);
	assert_int_equal(rep.skipped, 0);
	assert_int_equal(rep.n_samples, 0);
	assert_int_equal(rep.n_extra, 0);
	assert_string_equal(rep.extra, "");
	for (size_t i = 0; i < 4; i++) {
		assert_row_equal(ds->X + i * DIM, LEADS_X[i], DIM);
		assert_true(ds->y[i] == LEADS_Y[i]);
	}
	/* Statistics of the raw rows, summed by hand from the fixture table. */
	assert_true(ds->stats->rows == 4 && ds->stats->positives == 2);
	assert_true(ds->stats->count[1] == 3 && ds->stats->sum[1] == 62.5);
	assert_true(ds->stats->sumsq[1] == 42.5 * 42.5 + 900 + 100);
	assert_true(ds->stats->min[1] == -10 && ds->stats->max[1] == 42.5);
	assert_true(ds->stats->count[2] == 4 && ds->stats->sum[2] == 1);
	assert_true(ds->stats->sum[3] == 6 && ds->stats->sumsq[3] == 14);
	assert_true(ds->stats->sum[6] == 2 && ds->stats->sum[7] == 2 && ds->stats->sum[9] == 1);

	assert_int_equal(fl_dataset_load(s, PERMUTED_PATH, FL_BAD_ROWS_FAIL, &dp, &repp), 0);
	assert_int_equal(dp->n, 4);
	assert_memory_equal(dp->X, ds->X, 4 * DIM * sizeof(double));
	assert_memory_equal(dp->y, ds->y, 4 * sizeof(double));
	assert_int_equal(repp.n_extra, 1);
	assert_string_equal(repp.extra, "source");
	fl_dataset_free(dp);
	fl_dataset_free(ds);
	fl_dataset_free(NULL);
	fl_schema_free(s);
}

/*
 * The schema's clip ranges bound values as rows are encoded: leads.csv
 * loaded with age clipped to [0, 40] and visits to [1, 2.5] has 42.5 -> 40,
 * -10 -> 0, 30 kept, the missing age still missing (NaN, indicator 1);
 * visits 3 -> 2.5, 0 -> 1, 1 and 2 kept; one-hot columns untouched. The
 * statistics are those of the clipped values (what partners sum), and
 * scoring through the same binding clips alike.
 */
static void test_encode_clips(void **state)
{
	static const char json[] =
	        "{\"fedlead_schema\": 1,"
	        " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},"
	        " \"id\": \"lead\","
	        " \"features\": ["
	        "  {\"name\": \"age\", \"type\": \"numeric\", \"missing\": \"impute\","
	        "   \"clip\": [0, 40]},"
	        "  {\"name\": \"visits\", \"type\": \"numeric\", \"clip\": [1, 2.5]},"
	        "  {\"name\": \"region\", \"type\": \"categorical\","
	        "   \"values\": [\"north\", \"south\"], \"other\": true},"
	        "  {\"name\": \"tier\", \"type\": \"categorical\", \"values\": [1, 2, 3]}],"
	        " \"ignore\": [\"notes\"]}";
	static const double want[4][DIM] = {
	        {1, 40, 0, 2.5, 0, 1, 0, 0, 1, 0},
	        {1, NAN, 1, 1, 0, 0, 1, 1, 0, 0},
	        {1, 30, 0, 1, 1, 0, 0, 0, 0, 1},
	        {1, 0, 0, 2, 0, 0, 1, 1, 0, 0},
	};
	struct fl_schema *s = parse_schema(json);
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	char path[64];
	static const char score_csv[] = "lead,age,visits,region,tier,notes\n"
	                                "S1,1e9,-7,north,1,\n";
	struct bound bd;
	struct fl_csv_record rec;
	double x[DIM], label = -1;

	(void)state;
	assert_non_null(s);
	assert_int_equal(fl_dataset_load(s, LEADS_PATH, FL_BAD_ROWS_FAIL, &ds, &rep), 0);
	assert_int_equal(ds->n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_row_equal(ds->X + i * DIM, want[i], DIM);
	assert_true(ds->stats->count[1] == 3 && ds->stats->sum[1] == 70);
	assert_true(ds->stats->sumsq[1] == 1600 + 900);
	assert_true(ds->stats->min[1] == 0 && ds->stats->max[1] == 40);
	assert_true(ds->stats->sum[3] == 6.5 && ds->stats->sumsq[3] == 6.25 + 1 + 1 + 4);
	fl_dataset_free(ds);

	write_tmp(path, score_csv, strlen(score_csv));
	assert_int_equal(bind_file(s, path, 0, &bd), 0);
	assert_int_equal(fl_csv_next(bd.csv, &rec), 1);
	assert_int_equal(fl_encode_row(bd.b, &rec, x, &label, NULL), 0);
	assert_true(x[1] == 40 && x[2] == 0 && x[3] == 1);
	assert_true(label == -1);
	unbind(&bd);
	unlink(path);
	fl_schema_free(s);
}

static void test_scaler(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	struct fl_scaler *sc = NULL;
	double mean_age, var_age, std_visits, x[DIM];

	(void)state;
	assert_int_equal(fl_dataset_load(s, LEADS_PATH, FL_BAD_ROWS_FAIL, &ds, &rep), 0);
	assert_int_equal(fl_scaler_from_stats(s, ds->stats, &sc), 0);
	/* Two-pass mean and population variance of the present ages. */
	mean_age = (42.5 + 30 - 10) / 3;
	var_age = (pow(42.5 - mean_age, 2) + pow(30 - mean_age, 2) + pow(-10 - mean_age, 2)) / 3;
	/* visits 3, 0, 1, 2: mean 1.5, variance (2.25 + 2.25 + 0.25 + 0.25) / 4 */
	std_visits = sqrt(1.25);

	assert_true(sc->center[0] == 0 && sc->scale[0] == 1 && sc->baseline[0] == 1);
	assert_close(sc->center[1], mean_age);
	assert_close(sc->scale[1], sqrt(var_age));
	assert_close(sc->impute[1], mean_age);
	assert_true(sc->baseline[1] == 0);
	assert_close(sc->center[3], 1.5);
	assert_close(sc->scale[3], std_visits);
	assert_true(sc->baseline[3] == 0);
	/* Indicator and one-hot columns: unscaled, baseline = how often 1. */
	{
		static const double freq[DIM] = {1, 0, 0.25, 0, 0.25, 0.25, 0.5, 0.5, 0.25, 0.25};

		for (size_t j = 2; j < DIM; j++) {
			if (j == 3)
				continue;
			assert_true(sc->center[j] == 0 && sc->scale[j] == 1);
			assert_close(sc->baseline[j], freq[j]);
		}
	}

	/* Row L2: missing age imputed with the mean, so it standardises to 0. */
	fl_dataset_standardize(ds, sc);
	assert_close(ds->X[1 * DIM + 1], 0.0);
	assert_true(ds->X[1 * DIM + 2] == 1.0);
	assert_close(ds->X[0 * DIM + 1], (42.5 - mean_age) / sqrt(var_age));
	assert_close(ds->X[0 * DIM + 3], (3 - 1.5) / std_visits);
	assert_true(ds->X[0 * DIM + 0] == 1.0 && ds->X[0 * DIM + 5] == 1.0);
	/* The standardised numeric columns have mean 0 and variance 1. */
	{
		double m = 0, v = 0;

		for (size_t i = 0; i < 4; i++)
			m += ds->X[i * DIM + 3] / 4;
		for (size_t i = 0; i < 4; i++)
			v += pow(ds->X[i * DIM + 3] - m, 2) / 4;
		assert_close(m, 0.0);
		assert_close(v, 1.0);
	}

	/* Mismatched statistics are refused. */
	{
		struct fl_stats *st = NULL;
		struct fl_scaler *bad = (struct fl_scaler *)1;

		assert_int_equal(fl_stats_new(3, &st), 0);
		assert_int_equal(fl_scaler_from_stats(s, st, &bad), FL_ERR_INVALID);
		assert_null(bad);
		assert_string_equal(fl_errmsg(), "statistics have 3 columns, the schema 10");
		fl_stats_free(st);
		assert_int_equal(fl_stats_new(DIM, &st), 0);
		bad = (struct fl_scaler *)1;
		assert_int_equal(fl_scaler_from_stats(s, st, &bad), FL_ERR_DATA);
		assert_null(bad);
		assert_string_equal(fl_errmsg(), "no rows to compute statistics from");
		fl_stats_free(st);
	}
	fl_scaler_free(sc);

	/* The identity scaler leaves a row alone (NaN becomes the 0 impute). */
	assert_int_equal(fl_scaler_new(DIM, &sc), 0);
	memcpy(x, LEADS_X[1], sizeof(x));
	fl_scaler_apply(sc, x);
	{
		double want[DIM];

		memcpy(want, LEADS_X[1], sizeof(want));
		want[1] = 0;
		assert_row_equal(x, want, DIM);
	}
	fl_scaler_free(sc);
	fl_scaler_free(NULL);
	fl_dataset_free(ds);
	fl_schema_free(s);
}

static void test_scaler_constant_column(void **state)
{
	/* 0.1 has no exact binary form, so sumsq/n - mean^2 is a rounding
	 * residue, not exactly zero: the column must still count as constant. */
	struct fl_schema *s = parse_schema(
	        "{\"fedlead_schema\":1,\"label\":{\"column\":\"y\",\"positive\":\"1\","
	        "\"negative\":\"0\"},\"features\":[{\"name\":\"c\",\"type\":\"numeric\"},"
	        "{\"name\":\"k\",\"type\":\"numeric\"}]}");
	struct fl_stats *st = NULL;
	struct fl_scaler *sc = NULL;
	double x[3];

	(void)state;
	assert_int_equal(s->dim, 3);
	assert_int_equal(fl_stats_new(3, &st), 0);
	for (int i = 0; i < 7; i++) {
		double row[3] = {1, 0.1, 5};

		fl_stats_add(st, row, i % 2);
	}
	assert_int_equal(fl_scaler_from_stats(s, st, &sc), 0);
	assert_true(sc->scale[1] == 1.0);
	assert_close(sc->center[1], 0.1);
	assert_true(sc->scale[2] == 1.0);
	assert_true(sc->center[2] == 5.0);
	x[0] = 1;
	x[1] = 0.1;
	x[2] = 5;
	fl_scaler_apply(sc, x);
	assert_true(x[0] == 1.0);
	assert_close(x[1], 0.0);
	assert_true(x[2] == 0.0);
	fl_scaler_free(sc);
	fl_stats_free(st);

	/* Small is not constant: values 1e-7, 2e-7, 3e-7 have mean 2e-7 and
	 * population standard deviation sqrt(2/3) * 1e-7; all zeros is constant. */
	assert_int_equal(fl_stats_new(3, &st), 0);
	for (int i = 1; i <= 3; i++) {
		double row[3] = {1, i * 1e-7, 0};

		fl_stats_add(st, row, 0);
	}
	assert_int_equal(fl_scaler_from_stats(s, st, &sc), 0);
	if (fabs(sc->center[1] - 2e-7) > 1e-12 * 2e-7)
		fail_msg("center %.17g, want 2e-7", sc->center[1]);
	if (fabs(sc->scale[1] - sqrt(2.0 / 3.0) * 1e-7) > 1e-6 * 1e-7)
		fail_msg("scale %.17g, want %.17g", sc->scale[1], sqrt(2.0 / 3.0) * 1e-7);
	assert_true(sc->center[2] == 0 && sc->scale[2] == 1);
	fl_scaler_free(sc);
	fl_stats_free(st);
	fl_schema_free(s);
}

/* ---- loading with bad rows ---- */

static void test_dataset_load_bad_rows(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	char path[64], msg[512];
	size_t k = 0;

	(void)state;
	write_tmp(path, BAD_CSV, strlen(BAD_CSV));

	/* skip: the two good rows load, the first five reasons are kept. */
	assert_int_equal(fl_dataset_load(s, path, FL_BAD_ROWS_SKIP, &ds, &rep), 0);
	assert_int_equal(ds->n, 2);
	assert_int_equal(rep.rows, 2);
	assert_int_equal(rep.skipped, N_BAD_ROWS - 2);
	assert_int_equal(rep.n_samples, FL_BAD_ROW_SAMPLES);
	for (size_t i = 0; i < N_BAD_ROWS && k < FL_BAD_ROW_SAMPLES; i++) {
		if (BAD_MSGS[i] == NULL)
			continue;
		snprintf(msg, sizeof(msg), "%s%s", path, BAD_MSGS[i]);
		assert_string_equal(rep.samples[k], msg);
		k++;
	}
	assert_true(ds->y[0] == 1 && ds->y[1] == 0);
	assert_true(ds->X[1] == 1 && ds->X[DIM + 1] == 2);
	/* Skipped rows leave no trace in the statistics. */
	assert_true(ds->stats->rows == 2 && ds->stats->sum[1] == 3 && ds->stats->sum[3] == 3);
	fl_dataset_free(ds);

	/* fail: the first bad row stops the load. */
	ds = (struct fl_dataset *)1;
	assert_int_equal(fl_dataset_load(s, path, FL_BAD_ROWS_FAIL, &ds, &rep), FL_ERR_DATA);
	assert_null(ds);
	snprintf(msg, sizeof(msg), "%s%s", path, BAD_MSGS[0]);
	assert_string_equal(fl_errmsg(), msg);
	unlink(path);

	/* Few bad rows: every one is a sample. */
	{
		static const char csv[] = HEADER "A,1,1,north,1,yes,\nB,1,1,north,9,yes,\n"
		                                 "C,2,1,north,1,no,\nD,x,1,north,1,no,\n";

		write_tmp(path, csv, strlen(csv));
		assert_int_equal(fl_dataset_load(s, path, FL_BAD_ROWS_SKIP, &ds, &rep), 0);
		assert_int_equal(ds->n, 2);
		assert_int_equal(rep.skipped, 2);
		assert_int_equal(rep.n_samples, 2);
		snprintf(msg, sizeof(msg),
		         "%s:3:5: column \"tier\": \"9\" is not a listed category and there is no "
		         "\"other\"",
		         path);
		assert_string_equal(rep.samples[0], msg);
		snprintf(msg, sizeof(msg), "%s:5:2: column \"age\": \"x\" is not a number", path);
		assert_string_equal(rep.samples[1], msg);
		fl_dataset_free(ds);
		unlink(path);
	}
	fl_schema_free(s);
}

static void expect_load_error(const struct fl_schema *s, const char *csv, enum fl_bad_rows pol,
                              int code, const char *after_path)
{
	struct fl_dataset *ds = (struct fl_dataset *)1;
	struct fl_load_report rep;
	char path[64], msg[512];

	write_tmp(path, csv, strlen(csv));
	assert_int_equal(fl_dataset_load(s, path, pol, &ds, &rep), code);
	assert_null(ds);
	snprintf(msg, sizeof(msg), "%s%s", path, after_path);
	assert_string_equal(fl_errmsg(), msg);
	unlink(path);
}

static void test_dataset_load_errors(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_dataset *ds = (struct fl_dataset *)1;
	struct fl_load_report rep;

	(void)state;
	expect_load_error(s, "", FL_BAD_ROWS_FAIL, FL_ERR_DATA, ": the file is empty (no header)");
	expect_load_error(s, HEADER, FL_BAD_ROWS_FAIL, FL_ERR_DATA, ": no usable data rows");
	expect_load_error(s, HEADER "A,x,1,north,1,yes,\n", FL_BAD_ROWS_SKIP, FL_ERR_DATA,
	                  ": no usable data rows");
	expect_load_error(s, "lead,age,region,tier,won\nA,1,north,1,yes\n", FL_BAD_ROWS_SKIP,
	                  FL_ERR_DATA, ":1: column \"visits\" required by the schema is missing");
	assert_int_equal(fl_dataset_load(s, "/nonexistent/leads.csv", FL_BAD_ROWS_FAIL, &ds, &rep),
	                 FL_ERR_IO);
	assert_null(ds);
	assert_string_equal(fl_errmsg(), "/nonexistent/leads.csv: No such file or directory");
	fl_schema_free(s);
}

static void test_dataset_load_extra_truncated(void **state)
{
	/* 40 extra columns of 15 characters do not fit in the 512-byte list: it
	 * ends in ", ..." after whole names. */
	struct fl_schema *s = load_schema();
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	char csv[2048], all[2048], path[64];
	size_t len = 0, alen = 0, n;

	(void)state;
	len += (size_t)sprintf(csv + len, "lead,age,visits,region,tier,won,notes");
	for (int i = 0; i < 40; i++) {
		len += (size_t)sprintf(csv + len, ",extra_column_%02d", i);
		alen += (size_t)sprintf(all + alen, "%sextra_column_%02d", i ? ", " : "", i);
	}
	len += (size_t)sprintf(csv + len, "\nA,1,1,north,1,yes,");
	for (int i = 0; i < 40; i++)
		len += (size_t)sprintf(csv + len, ",");
	len += (size_t)sprintf(csv + len, "\n");
	write_tmp(path, csv, len);
	assert_int_equal(fl_dataset_load(s, path, FL_BAD_ROWS_FAIL, &ds, &rep), 0);
	assert_int_equal(rep.n_extra, 40);
	n = strlen(rep.extra);
	assert_true(n < sizeof(rep.extra));
	assert_true(n > 5 && strcmp(rep.extra + n - 5, ", ...") == 0);
	/* What precedes ", ..." is the full list cut at a name boundary. */
	assert_memory_equal(rep.extra, all, n - 5);
	assert_true(strncmp(all + n - 5, ", ", 2) == 0);
	fl_dataset_free(ds);
	unlink(path);
	fl_schema_free(s);
}

/* ---- a larger file: growth, stats merge, split ---- */

#define BIG_N 10000

/* Row i of the generated file, encoded by hand from the generator's rules. */
static void big_row(size_t i, double *x, double *y)
{
	memset(x, 0, DIM * sizeof(double));
	x[0] = 1;
	if (i % 13 == 0) {
		x[1] = NAN;
		x[2] = 1;
	} else {
		x[1] = (double)(i % 97) + 0.5;
	}
	x[3] = (double)(i % 7);
	x[4 + i % 3] = 1; /* north, south, then "east" goes to other */
	x[7 + i % 3] = 1;
	*y = i % 3 == 0;
}

static void write_big(char path[64])
{
	static const char *const regions[3] = {"north", "south", "east"};
	char *buf = malloc(BIG_N * 64 + 64);
	size_t len = 0;

	assert_non_null(buf);
	len += (size_t)sprintf(buf, HEADER);
	for (size_t i = 0; i < BIG_N; i++) {
		char age[32] = "";

		if (i % 13 != 0)
			snprintf(age, sizeof(age), "%zu.5", i % 97);
		len += (size_t)sprintf(buf + len, "R%05zu,%s,%zu,%s,%zu,%s,\n", i, age, i % 7,
		                       regions[i % 3], 1 + i % 3, i % 3 == 0 ? "yes" : "no");
	}
	write_tmp(path, buf, len);
	free(buf);
}

static void test_big_load_and_stats_merge(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	struct fl_stats *a = NULL, *b = NULL;
	char path[64];
	double x[DIM], y;

	(void)state;
	write_big(path);
	assert_int_equal(fl_dataset_load(s, path, FL_BAD_ROWS_FAIL, &ds, &rep), 0);
	unlink(path);
	assert_int_equal(ds->n, BIG_N);
	for (size_t i = 0; i < BIG_N; i++) {
		big_row(i, x, &y);
		assert_row_equal(ds->X + i * DIM, x, DIM);
		assert_true(ds->y[i] == y);
	}
	/* Halves merged equal the whole (all values are multiples of 1/2, so
	 * every sum is exact in any order). */
	assert_int_equal(fl_stats_new(DIM, &a), 0);
	assert_int_equal(fl_stats_new(DIM, &b), 0);
	for (size_t i = 0; i < BIG_N; i++)
		fl_stats_add(i < BIG_N / 3 ? a : b, ds->X + i * DIM, ds->y[i]);
	assert_int_equal(fl_stats_merge(a, b), 0);
	assert_true(a->rows == ds->stats->rows && a->positives == ds->stats->positives);
	assert_true(a->rows == BIG_N);
	assert_memory_equal(a->count, ds->stats->count, DIM * sizeof(double));
	assert_memory_equal(a->sum, ds->stats->sum, DIM * sizeof(double));
	assert_memory_equal(a->sumsq, ds->stats->sumsq, DIM * sizeof(double));
	assert_memory_equal(a->min, ds->stats->min, DIM * sizeof(double));
	assert_memory_equal(a->max, ds->stats->max, DIM * sizeof(double));
	/* and the whole agrees with the generator */
	assert_true(ds->stats->positives == (BIG_N + 2) / 3);
	assert_true(ds->stats->count[1] == BIG_N - (BIG_N + 12) / 13);
	assert_true(ds->stats->min[1] == 0.5 && ds->stats->max[1] == 96.5);
	assert_true(ds->stats->min[3] == 0 && ds->stats->max[3] == 6);
	fl_stats_free(a);
	fl_stats_free(b);
	fl_dataset_free(ds);
	fl_schema_free(s);
}

/* A dataset whose column 1 is the row index, so rows can be traced. */
static struct fl_dataset *indexed_dataset(size_t n)
{
	struct fl_dataset *ds = calloc(1, sizeof(*ds));

	assert_non_null(ds);
	ds->n = n;
	ds->dim = 2;
	ds->X = malloc(n * 2 * sizeof(double));
	ds->y = malloc(n * sizeof(double));
	assert_non_null(ds->X);
	assert_non_null(ds->y);
	for (size_t i = 0; i < n; i++) {
		ds->X[2 * i] = 1;
		ds->X[2 * i + 1] = (double)i;
		ds->y[i] = (double)(i % 2);
	}
	return ds;
}

/* Marks in side[] which part each row went to; checks rows are intact and
 * keep their order. */
static void trace_split(const struct fl_dataset *t, const struct fl_dataset *v, size_t n,
                        unsigned char *side)
{
	memset(side, 0, n);
	assert_int_equal(t->n + v->n, n);
	assert_null(t->stats);
	assert_null(v->stats);
	assert_int_equal(t->dim, 2);
	assert_int_equal(v->dim, 2);
	for (int part = 0; part < 2; part++) {
		const struct fl_dataset *d = part ? v : t;
		double prev = -1;

		for (size_t i = 0; i < d->n; i++) {
			double idx = d->X[2 * i + 1];
			size_t k = (size_t)idx;

			assert_true(d->X[2 * i] == 1);
			assert_true(idx > prev && k < n);
			assert_true(d->y[i] == (double)(k % 2));
			assert_int_equal(side[k], 0);
			side[k] = (unsigned char)(1 + part);
			prev = idx;
		}
	}
	for (size_t k = 0; k < n; k++)
		assert_true(side[k] != 0);
}

static void test_split(void **state)
{
	struct fl_dataset *ds = indexed_dataset(BIG_N), *t, *v, *t2, *v2;
	unsigned char *s1 = malloc(BIG_N), *s2 = malloc(BIG_N);
	size_t differ = 0;

	(void)state;
	assert_non_null(s1);
	assert_non_null(s2);
	assert_int_equal(fl_dataset_split(ds, 0.2, 42, &t, &v), 0);
	trace_split(t, v, BIG_N, s1);
	/* Binomial(10000, 0.2): sd 40; the split is deterministic, so this is
	 * a fixed outcome well inside 5 sd, not a flaky bound. */
	assert_true(v->n >= 1800 && v->n <= 2200);

	/* Same seed, same split. */
	assert_int_equal(fl_dataset_split(ds, 0.2, 42, &t2, &v2), 0);
	trace_split(t2, v2, BIG_N, s2);
	assert_memory_equal(s1, s2, BIG_N);
	fl_dataset_free(t2);
	fl_dataset_free(v2);

	/* A row's side depends on (seed, index) only: the first half of the data
	 * splits the same way. */
	{
		struct fl_dataset half = *ds;

		half.n = BIG_N / 2;
		assert_int_equal(fl_dataset_split(&half, 0.2, 42, &t2, &v2), 0);
		trace_split(t2, v2, BIG_N / 2, s2);
		assert_memory_equal(s1, s2, BIG_N / 2);
		fl_dataset_free(t2);
		fl_dataset_free(v2);
	}

	/* Another seed, another split, of about the same size. */
	assert_int_equal(fl_dataset_split(ds, 0.2, 43, &t2, &v2), 0);
	trace_split(t2, v2, BIG_N, s2);
	for (size_t k = 0; k < BIG_N; k++)
		differ += s1[k] != s2[k];
	/* Independent 20% draws disagree on 32% of rows on average. */
	assert_true(differ > 2000);
	assert_true(v2->n >= 1800 && v2->n <= 2200);
	fl_dataset_free(t2);
	fl_dataset_free(v2);

	/* Other fractions. */
	assert_int_equal(fl_dataset_split(ds, 0.5, 7, &t2, &v2), 0);
	trace_split(t2, v2, BIG_N, s2);
	assert_true(v2->n >= 4750 && v2->n <= 5250);
	fl_dataset_free(t2);
	fl_dataset_free(v2);

	fl_dataset_free(t);
	fl_dataset_free(v);
	free(s1);
	free(s2);
	fl_dataset_free(ds);
}

static void test_split_rejects(void **state)
{
	struct fl_dataset *ds = indexed_dataset(10), *t = (struct fl_dataset *)1,
	                  *v = (struct fl_dataset *)1;

	(void)state;
	assert_int_equal(fl_dataset_split(ds, 0.0, 1, &t, &v), FL_ERR_INVALID);
	assert_null(t);
	assert_null(v);
	assert_string_equal(fl_errmsg(),
	                    "validation fraction 0 must be greater than 0 and less than 1");
	assert_int_equal(fl_dataset_split(ds, 1.0, 1, &t, &v), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "validation fraction 1 must be greater than 0 and less than 1");
	assert_int_equal(fl_dataset_split(ds, -0.5, 1, &t, &v), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "validation fraction -0.5 must be greater than 0 and less than 1");
	assert_int_equal(fl_dataset_split(ds, NAN, 1, &t, &v), FL_ERR_INVALID);
	assert_null(t);
	assert_null(v);
	fl_dataset_free(ds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_binding_ok_and_extra),
	        cmocka_unit_test(test_binding_errors),
	        cmocka_unit_test(test_binding_unnamed_columns),
	        cmocka_unit_test(test_encode_good_rows),
	        cmocka_unit_test(test_encode_scoring_leaves_label),
	        cmocka_unit_test(test_encode_bad_rows),
	        cmocka_unit_test(test_encode_many_levels),
	        cmocka_unit_test(test_stats_by_hand),
	        cmocka_unit_test(test_dataset_load_leads),
	        cmocka_unit_test(test_encode_clips),
	        cmocka_unit_test(test_scaler),
	        cmocka_unit_test(test_scaler_constant_column),
	        cmocka_unit_test(test_dataset_load_bad_rows),
	        cmocka_unit_test(test_dataset_load_errors),
	        cmocka_unit_test(test_dataset_load_extra_truncated),
	        cmocka_unit_test(test_big_load_and_stats_merge),
	        cmocka_unit_test(test_split),
	        cmocka_unit_test(test_split_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
