/*
 * Tests for the date feature type across the modules it touches: the
 * schema (parsing, the exact errors, the canonical text written out by hand,
 * column names), the encoding of rows (exact column values, the exact
 * message for a bad date, the bad_rows policy), the scaler (the age
 * standardised, the one-hot columns not), and the statistics round under
 * differential privacy (a date needs a clip range; its sensitivity by hand;
 * the coordinator rebuilds its columns from noisy sums).
 *
 * The schema DATE_SCHEMA encodes to 23 columns:
 *   0 intercept, 1 Created (age days), 2 Created (missing),
 *   3-9 Created (weekday=Mon..Sun), 10-21 Created (month=Jan..Dec),
 *   22 visits.
 * Day numbers and weekdays below come from a calendar (2026-01-01 is
 * day 20454; 2024-03-05, day 19787, was a Tuesday), not from the code.
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

#include <jansson.h>

#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/payload.h"
#include "fedlead/schema.h"

#include "support/schema_parse.h"

#define DIM 23

static const char DATE_SCHEMA[] =
        "{\"fedlead_schema\": 1,\n"
        " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},\n"
        " \"features\": [\n"
        "  {\"name\": \"Created\", \"type\": \"date\", \"format\": \"dmy\",\n"
        "   \"reference\": \"2026-01-01\", \"missing\": \"impute\"},\n"
        "  {\"name\": \"visits\", \"type\": \"numeric\"}]}\n";

/* By hand: keys sorted at every level, defaults explicit. */
static const char DATE_CANONICAL[] =
        "{\"features\":[{\"format\":\"dmy\",\"missing\":\"impute\",\"name\":\"Created\","
        "\"reference\":\"2026-01-01\",\"type\":\"date\"},"
        "{\"missing\":\"error\",\"name\":\"visits\",\"type\":\"numeric\"}],"
        "\"fedlead_schema\":1,\"id\":null,\"ignore\":[],"
        "\"label\":{\"column\":\"won\",\"negative\":\"no\",\"positive\":\"yes\"}}";

#define parse_ok(json) schema_parse_ok((json), "t.json")

/* A schema with one date feature whose members are given as JSON text. */
static void expect_date_error(const char *members, const char *msg)
{
	char json[1024];
	struct fl_schema *s = (struct fl_schema *)1;

	snprintf(json, sizeof(json),
	         "{\"fedlead_schema\":1,\"label\":{\"column\":\"won\",\"positive\":\"yes\","
	         "\"negative\":\"no\"},\"features\":[{\"name\":\"Created\",\"type\":\"date\"%s}]}",
	         members);
	fl_err_clear();
	assert_int_equal(fl_schema_parse(json, strlen(json), "t.json", &s), FL_ERR_SCHEMA);
	assert_null(s);
	assert_string_equal(fl_errmsg(), msg);
}

static void write_tmp(char path[64], const char *bytes)
{
	int fd;

	snprintf(path, 64, "/tmp/fl_test_date_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
	assert_int_equal(close(fd), 0);
}

static void test_parse_and_canonical(void **state)
{
	struct fl_schema *s = parse_ok(DATE_SCHEMA), *c;
	static const char *const names[DIM] = {"(intercept)",
	                                       "Created (age days)",
	                                       "Created (missing)",
	                                       "Created (weekday=Mon)",
	                                       "Created (weekday=Tue)",
	                                       "Created (weekday=Wed)",
	                                       "Created (weekday=Thu)",
	                                       "Created (weekday=Fri)",
	                                       "Created (weekday=Sat)",
	                                       "Created (weekday=Sun)",
	                                       "Created (month=Jan)",
	                                       "Created (month=Feb)",
	                                       "Created (month=Mar)",
	                                       "Created (month=Apr)",
	                                       "Created (month=May)",
	                                       "Created (month=Jun)",
	                                       "Created (month=Jul)",
	                                       "Created (month=Aug)",
	                                       "Created (month=Sep)",
	                                       "Created (month=Oct)",
	                                       "Created (month=Nov)",
	                                       "Created (month=Dec)",
	                                       "visits"};
	char name[96];

	(void)state;
	assert_int_equal(s->dim, DIM);
	assert_int_equal(s->features[0].type, FL_DATE);
	assert_int_equal(s->features[0].enc_offset, 1);
	assert_int_equal(s->features[0].enc_width, 21);
	assert_int_equal(s->features[0].date_ref, 20454);
	assert_false(s->features[0].has_clip);
	assert_string_equal(s->canonical, DATE_CANONICAL);
	for (size_t j = 0; j < DIM; j++) {
		fl_schema_column_name(s, j, name, sizeof(name));
		assert_string_equal(name, names[j]);
	}
	/* The canonical text is a schema with the same fingerprint. */
	c = parse_ok(s->canonical);
	assert_memory_equal(c->fingerprint, s->fingerprint, FL_FINGERPRINT_LEN);
	fl_schema_free(c);
	fl_schema_free(s);

	/* missing=error: no indicator column; a clip range is canonical. */
	s = parse_ok("{\"fedlead_schema\":1,\"label\":{\"column\":\"won\",\"positive\":\"yes\","
	             "\"negative\":\"no\"},\"features\":[{\"name\":\"Created\",\"type\":"
	             "\"date\",\"format\":\"mon d, y\",\"reference\":\"2024-02-29\","
	             "\"clip\":[0,3650]}]}");
	assert_int_equal(s->dim, 1 + 20);
	assert_true(s->features[0].has_clip && s->features[0].clip_hi == 3650);
	assert_string_equal(s->canonical,
	                    "{\"features\":[{\"clip\":[0.0,3650.0],\"format\":\"mon d, y\","
	                    "\"missing\":\"error\",\"name\":\"Created\",\"reference\":"
	                    "\"2024-02-29\",\"type\":\"date\"}],\"fedlead_schema\":1,\"id\":null,"
	                    "\"ignore\":[],\"label\":{\"column\":\"won\",\"negative\":\"no\","
	                    "\"positive\":\"yes\"}}");
	fl_schema_column_name(s, 1, name, sizeof(name));
	assert_string_equal(name, "Created (age days)");
	fl_schema_column_name(s, 2, name, sizeof(name));
	assert_string_equal(name, "Created (weekday=Mon)");
	fl_schema_column_name(s, 20, name, sizeof(name));
	assert_string_equal(name, "Created (month=Dec)");
	fl_schema_free(s);
}

static void test_schema_errors(void **state)
{
	(void)state;
	expect_date_error(",\"reference\":\"2026-01-01\"",
	                  "t.json: feature \"Created\": missing \"format\"");
	expect_date_error(",\"format\":\"dmy\"",
	                  "t.json: feature \"Created\": missing \"reference\"");
	expect_date_error(",\"format\":\"dd/mm/yyyy\",\"reference\":\"2026-01-01\"",
	                  "t.json: feature \"Created\": unknown date format \"dd/mm/yyyy\" "
	                  "(expected one of \"iso\", \"dmy\", \"mdy\", \"ymd/\", \"dmy.\", "
	                  "\"d-mon-y\", \"mon d, y\", \"d month y\")");
	expect_date_error(",\"format\":\"dmy\",\"reference\":\"01/01/2026\"",
	                  "t.json: feature \"Created\": \"reference\" \"01/01/2026\" is not a "
	                  "date YYYY-MM-DD (expected YYYY-MM-DD with an optional THH:MM:SS)");
	expect_date_error(",\"format\":\"dmy\",\"reference\":\"2025-02-29\"",
	                  "t.json: feature \"Created\": \"reference\" \"2025-02-29\" is not a "
	                  "date YYYY-MM-DD (day 29 does not exist in February 2025)");
	expect_date_error(",\"format\":\"dmy\",\"reference\":\"2026-01-01T00:00\"",
	                  "t.json: feature \"Created\": \"reference\" \"2026-01-01T00:00\" is "
	                  "not a date YYYY-MM-DD (a day alone, without a time or blanks)");
	expect_date_error(",\"format\":\"dmy\",\"reference\":\"2026-01-01\",\"missing\":\"zero\"",
	                  "t.json: feature \"Created\": unknown missing policy \"zero\" "
	                  "(expected \"error\" or \"impute\")");
	expect_date_error(",\"format\":\"dmy\",\"reference\":\"2026-01-01\",\"values\":[\"x\"]",
	                  "t.json: feature \"Created\": unknown key \"values\"");
	expect_date_error(",\"format\":\"dmy\",\"reference\":\"2026-01-01\",\"clip\":[5,5]",
	                  "t.json: features[0].clip (feature \"Created\"): the low bound 5 is "
	                  "not below the high bound 5");
	expect_date_error(",\"format\":3,\"reference\":\"2026-01-01\"",
	                  "t.json: feature \"Created\": \"format\" must be a non-empty string");
}

/* Rows of the date schema from CSV text, loaded with a policy. */
static int load(const char *csv, enum fl_bad_rows policy, struct fl_dataset **ds,
                struct fl_load_report *rep)
{
	char path[64];
	int r;

	write_tmp(path, csv);
	{
		struct fl_schema *s = parse_ok(DATE_SCHEMA);

		r = fl_dataset_load(s, path, policy, ds, rep);
		fl_schema_free(s);
	}
	unlink(path);
	return r;
}

static void assert_row(const double *got, const double *want)
{
	for (size_t j = 0; j < DIM; j++) {
		if (isnan(want[j]) && isnan(got[j]))
			continue;
		if (got[j] != want[j])
			fail_msg("column %zu: got %.17g, want %.17g", j, got[j], want[j]);
	}
}

static void test_encode_rows(void **state)
{
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	/* 05/03/2024: 667 days before 2026-01-01, a Tuesday in March.
	 * 31/12/2025 14:22: 1 day, a Wednesday in December.
	 * 1/2/2026: -31 days (after the reference), a Sunday in February.
	 * empty: age NaN (imputed later), the indicator, no weekday or month.
	 * 29/02/2000: 9438 days, a Tuesday in February (2000 is a leap year). */
	static const double want[5][DIM] = {
	        {1, 667, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3},
	        {1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 4},
	        {1, -31, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5},
	        {1, NAN, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6},
	        {1, 9438, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7},
	};

	(void)state;
	assert_int_equal(load("Created,visits,won\n05/03/2024,3,yes\n31/12/2025 14:22,4,no\n"
	                      "1/2/2026,5,no\n,6,yes\n29/02/2000,7,no\n",
	                      FL_BAD_ROWS_FAIL, &ds, &rep),
	                 0);
	assert_int_equal(ds->n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_row(ds->X + i * DIM, want[i]);
	fl_dataset_free(ds);
}

static void test_encode_clip(void **state)
{
	static const char schema[] =
	        "{\"fedlead_schema\":1,\"label\":{\"column\":\"won\",\"positive\":\"yes\","
	        "\"negative\":\"no\"},\"features\":[{\"name\":\"Created\",\"type\":\"date\","
	        "\"format\":\"iso\",\"reference\":\"2026-01-01\",\"clip\":[0,365]}]}";
	struct fl_schema *s = parse_ok(schema);
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	char path[64];

	(void)state;
	/* 21 columns: 0 intercept, 1 age, 2-8 Mon..Sun, 9-20 Jan..Dec. 667
	 * days is clipped to 365, -31 to 0; the weekday and month stay. */
	write_tmp(path, "Created,won\n2024-03-05T09:00:00+01:00,yes\n2026-02-01,no\n"
	                "2025-12-31 23:59:59Z,no\n");
	assert_int_equal(fl_dataset_load(s, path, FL_BAD_ROWS_FAIL, &ds, &rep), 0);
	assert_int_equal(ds->n, 3);
	assert_int_equal(s->dim, 21);
	assert_true(ds->X[1] == 365 && ds->X[3] == 1 && ds->X[11] == 1);              /* Tue, Mar */
	assert_true(ds->X[21 + 1] == 0 && ds->X[21 + 8] == 1 && ds->X[21 + 10] == 1); /* Sun, Feb */
	assert_true(ds->X[42 + 1] == 1 && ds->X[42 + 4] == 1 && ds->X[42 + 20] == 1); /* Wed, Dec */
	for (size_t i = 0; i < 3; i++) {
		double sum = 0;

		for (size_t j = 2; j < 21; j++)
			sum += ds->X[i * 21 + j];
		assert_true(sum == 2);
	}
	fl_dataset_free(ds);
	unlink(path);
	fl_schema_free(s);
}

static void test_bad_dates(void **state)
{
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	static const char csv[] = "visits,Created,won\n"
	                          "3,05/03/2024,yes\n"
	                          "4,31/02/2024,no\n"
	                          "5,2024-03-05,no\n"
	                          "6,13/13/2024,yes\n"
	                          "7,05/03/2024,no\n";
	char path[64];

	(void)state;
	write_tmp(path, csv);
	{
		struct fl_schema *s = parse_ok(DATE_SCHEMA);
		char want[256];

		/* policy fail: the first bad row stops the load, named exactly. */
		assert_int_equal(fl_dataset_load(s, path, FL_BAD_ROWS_FAIL, &ds, &rep),
		                 FL_ERR_DATA);
		assert_null(ds);
		snprintf(want, sizeof(want),
		         "%s:3:2: column \"Created\": \"31/02/2024\" is not a date in format dmy "
		         "(day 31 does not exist in February 2024)",
		         path);
		assert_string_equal(fl_errmsg(), want);

		/* policy skip: the three bad rows are skipped and their reasons kept. */
		assert_int_equal(fl_dataset_load(s, path, FL_BAD_ROWS_SKIP, &ds, &rep), 0);
		assert_int_equal(ds->n, 2);
		assert_int_equal(rep.skipped, 3);
		assert_int_equal(rep.n_samples, 3);
		assert_string_equal(rep.samples[0], want);
		snprintf(want, sizeof(want),
		         "%s:4:2: column \"Created\": \"2024-03-05\" is not a date in format dmy "
		         "(expected day/month/year)",
		         path);
		assert_string_equal(rep.samples[1], want);
		snprintf(want, sizeof(want),
		         "%s:5:2: column \"Created\": \"13/13/2024\" is not a date in format dmy "
		         "(month 13 is not from 1 to 12)",
		         path);
		assert_string_equal(rep.samples[2], want);
		fl_dataset_free(ds);
		fl_schema_free(s);
	}
	unlink(path);

	/* missing=error */
	{
		struct fl_schema *s = parse_ok(
		        "{\"fedlead_schema\":1,\"label\":{\"column\":\"won\",\"positive\":\"yes\","
		        "\"negative\":\"no\"},\"features\":[{\"name\":\"Created\",\"type\":"
		        "\"date\","
		        "\"format\":\"dmy.\",\"reference\":\"2026-01-01\"}]}");
		char want[256];

		write_tmp(path, "won,Created\nyes,05.03.2024\nno,\n");
		assert_int_equal(fl_dataset_load(s, path, FL_BAD_ROWS_FAIL, &ds, &rep),
		                 FL_ERR_DATA);
		snprintf(want, sizeof(want),
		         "%s:3:2: column \"Created\": missing value (the schema says "
		         "missing=error)",
		         path);
		assert_string_equal(fl_errmsg(), want);
		unlink(path);
		fl_schema_free(s);
	}
}

/* The age is standardised like a numeric value (its mean imputed for a
 * missing date); indicator and one-hot columns keep their 0/1 values and
 * their frequency as baseline. */
static void test_scaler(void **state)
{
	struct fl_schema *s = parse_ok(DATE_SCHEMA);
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	struct fl_scaler *sc = NULL;

	(void)state;
	/* ages 667, 1, -31 and a missing one: mean 637 / 3, population
	 * variance (667^2 + 1 + 31^2) / 3 - (637 / 3)^2. */
	assert_int_equal(load("Created,visits,won\n05/03/2024,3,yes\n31/12/2025,4,no\n"
	                      "1/2/2026,5,no\n,6,yes\n",
	                      FL_BAD_ROWS_FAIL, &ds, &rep),
	                 0);
	assert_int_equal(fl_scaler_from_stats(s, ds->stats, &sc), 0);
	assert_true(fabs(sc->center[1] - 637.0 / 3) < 1e-9);
	assert_true(fabs(sc->impute[1] - 637.0 / 3) < 1e-9);
	assert_true(fabs(sc->scale[1] -
	                 sqrt((667.0 * 667 + 1 + 31 * 31) / 3 - (637.0 / 3) * (637.0 / 3))) < 1e-9);
	assert_true(sc->baseline[1] == 0);
	for (size_t j = 2; j < 22; j++)
		assert_true(sc->center[j] == 0 && sc->scale[j] == 1);
	assert_true(sc->baseline[2] == 0.25);  /* missing */
	assert_true(sc->baseline[4] == 0.25);  /* Tue */
	assert_true(sc->baseline[21] == 0.25); /* Dec */
	fl_scaler_free(sc);
	fl_dataset_free(ds);
	fl_schema_free(s);
}

/*
 * Differential privacy needs a clip range on a date's age as on a numeric
 * value. The plan's sensitivities by hand, for one date with clip
 * [0, 3650] and missing=impute: rows 1/4 and positives 1 (l1 1.25,
 * l2^2 1.0625); the age's count 1; its sums about the midpoint 1825: of
 * x - 1825, 1825 / 2048, and of (x - 1825)^2, 1825^2 / 2^22; the weekday
 * and month blocks 1/2 each.
 *   l1   = 1.25 + 1 + 0.89111328125 + 0.79408288002014160 + 1 = 4.935196161270142
 *   l2^2 = 1.0625 + 1 + 0.89111328125^2 + 0.7940828800201416^2 + 0.5 = 3.987150500361224
 * Noised: rows, positives, the age's count, sum and sum of squares, and the
 * 19 one-hot sums: 24.
 */
static void test_privacy(void **state)
{
	static const char fmt[] =
	        "{\"fedlead_schema\":1,\"label\":{\"column\":\"won\",\"positive\":\"yes\","
	        "\"negative\":\"no\"},\"features\":[{\"name\":\"Created\",\"type\":\"date\","
	        "\"format\":\"dmy\",\"reference\":\"2026-01-01\",\"missing\":\"impute\"%s}]}";
	char json[512];
	struct fl_schema *s;
	struct fl_stats_dp p;

	(void)state;
	snprintf(json, sizeof(json), fmt, "");
	s = parse_ok(json);
	assert_ptr_equal(fl_payload_stats_unclipped(s), &s->features[0]);
	assert_int_equal(fl_payload_stats_dp_plan(s, 0.01, 2, 16, 1e12, &p), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "feature \"Created\" has no clip range");
	fl_schema_free(s);

	snprintf(json, sizeof(json), fmt, ",\"clip\":[0,3650]");
	s = parse_ok(json);
	assert_null(fl_payload_stats_unclipped(s));
	assert_int_equal(fl_payload_stats_dp_plan(s, 0.01, 2, 16, 1e12, &p), 0);
	assert_int_equal(p.n_noised, 24);
	assert_true(fabs(p.l1 - 4.935196161270142) < 1e-12);
	assert_true(fabs(p.l2 * p.l2 - 3.987150500361224) < 1e-12);
	fl_schema_free(s);
}

/*
 * The coordinator's clean-up of noisy sums for a date (clip [0, 400],
 * missing=impute; 22 columns: 0 intercept, 1 age, 2 missing, 3-9 weekdays,
 * 10-21 months), by hand: rows 99.6 -> 100; the age's count 80.4 -> 80,
 * its sums about the clip's midpoint 200 (0 and 8e5): mean 200 + 0 / 80 =
 * 200 and variance 8e5 / 80 - 0^2 = 10000 inside
 * [(400 / 20)^2, 400^2 / 4] stay; its indicator is rebuilt as 100 - 80 =
 * 20; the one-hot sums are rounded into [0, 100] (10.4 -> 10, -3 -> 0,
 * 150 -> 100, 7.6 -> 8), their counts are the rows and their sums of
 * squares their sums.
 */
static void test_stats_denoise(void **state)
{
	struct fl_schema *s = parse_ok(
	        "{\"fedlead_schema\":1,\"label\":{\"column\":\"won\",\"positive\":\"yes\","
	        "\"negative\":\"no\"},\"features\":[{\"name\":\"Created\",\"type\":\"date\","
	        "\"format\":\"dmy\",\"reference\":\"2026-01-01\",\"missing\":\"impute\","
	        "\"clip\":[0,400]}]}");
	struct fl_stats *st = NULL;

	(void)state;
	assert_int_equal(s->dim, 22);
	assert_int_equal(fl_stats_new(22, &st), 0);
	st->rows = 99.6;
	st->positives = 40.2;
	for (size_t j = 0; j < 22; j++) {
		st->count[j] = st->sumsq[j] = -77; /* noise where the node sent 0 */
		st->sum[j] = 7.6;
	}
	st->sum[0] = st->sum[2] = -77;
	st->count[1] = 80.4;
	st->sum[1] = 0;
	st->sumsq[1] = 8e5;
	st->sum[3] = 10.4;
	st->sum[4] = -3;
	st->sum[10] = 150;
	/* Noised entries arrive in scaled units (payload.h): rows / 4,
	 * positives as they are, the value's sum / 2^8 and sum of squares / 2^16 (B =
	 * 200), the weekday and month levels / 2; the count is not scaled. */
	st->rows /= 4;
	st->sum[1] /= 256;
	st->sumsq[1] /= 65536;
	for (size_t j = 3; j < 22; j++)
		st->sum[j] /= 2;
	fl_payload_stats_denoise(s, st, 1);
	assert_true(st->rows == 100 && st->positives == 40);
	assert_true(st->count[0] == 100 && st->sum[0] == 100 && st->sumsq[0] == 100);
	assert_true(st->count[1] == 80 && st->sum[1] == 16000);
	assert_true(fabs(st->sumsq[1] - 4e6) < 1e-6);
	assert_true(st->count[2] == 100 && st->sum[2] == 20 && st->sumsq[2] == 20);
	for (size_t j = 3; j < 22; j++) {
		double want = j == 3 ? 10 : j == 4 ? 0 : j == 10 ? 100 : 8;

		assert_true(st->count[j] == 100);
		if (st->sum[j] != want || st->sumsq[j] != want)
			fail_msg("column %zu: sum %g, sum of squares %g, want %g", j, st->sum[j],
			         st->sumsq[j], want);
	}
	fl_stats_free(st);
	fl_schema_free(s);
}

/* The draft: a column of dates in one format is a date feature. "Created"
 * has no field above 12, so it is read day first (3 May and 12 January
 * 2024) and the comment says so; the reference is the first of the month
 * after the latest date, 2024-06-01, and the clip [0, 141 days (from
 * 2024-01-12) rounded up to 150]. A column with a value that is no date,
 * or with dates in both orders, is not a date feature. */
static void test_draft(void **state)
{
	static const char csv[] = "Created,Mixed,Both,won\n"
	                          "03/05/2024,05/03/2024,13/03/2024,yes\n"
	                          "12/01/2024 09:30 AM,soon,03/13/2024,no\n"
	                          ",05/03/2024,,no\n";
	char path[64], *json = NULL;
	json_t *root, *feats;
	json_error_t jerr;

	(void)state;
	write_tmp(path, csv);
	assert_int_equal(fl_schema_draft(path, "won", NULL, 0, &json), 0);
	unlink(path);
	root = json_loads(json, 0, &jerr);
	assert_non_null(root);
	feats = json_object_get(root, "features");
	{
		char *got = json_dumps(json_array_get(feats, 0), JSON_COMPACT | JSON_SORT_KEYS);

		assert_string_equal(got, "{\"clip\":[0,150],\"format\":\"dmy\",\"missing\":"
		                         "\"impute\",\"name\":\"Created\",\"reference\":"
		                         "\"2024-06-01\",\"type\":\"date\"}");
		free(got);
	}
	assert_string_equal(json_string_value(json_object_get(json_array_get(feats, 1), "type")),
	                    "categorical");
	assert_string_equal(json_string_value(json_object_get(json_array_get(feats, 2), "type")),
	                    "categorical");
	/* Nothing decided day-first from month-first in "Created": said. */
	assert_non_null(strstr(json_string_value(json_object_get(root, "comment")),
	                       "Column \"Created\": no value tells day-first from month-first"));
	json_decref(root);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_and_canonical),
	        cmocka_unit_test(test_schema_errors),
	        cmocka_unit_test(test_encode_rows),
	        cmocka_unit_test(test_encode_clip),
	        cmocka_unit_test(test_bad_dates),
	        cmocka_unit_test(test_scaler),
	        cmocka_unit_test(test_privacy),
	        cmocka_unit_test(test_stats_denoise),
	        cmocka_unit_test(test_draft),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
