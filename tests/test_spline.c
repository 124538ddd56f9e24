/*
 * Tests for src/core/spline.c: the transform keys of a numeric feature
 * (with the exact messages a person sees), their canonical form, the
 * B-spline and bin encodings, knots from quantiles, and a local spline
 * model end to end (trained, saved, loaded, scored, explained).
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

#include "core/spline_int.h"

#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/metrics.h"
#include "fedlead/model.h"
#include "fedlead/rowset.h"
#include "fedlead/schema.h"
#include "fedlead/spline.h"
#include "fedlead/train.h"

#include "support/gauss.h"
#include "support/schema_parse.h"

#define ORIGIN "t.json"

/* |a - b| <= eps, with both values in the message when not. */
#define assert_double_equal(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

#define HEAD                                                                                       \
	"{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": \"1\", "             \
	"\"negative\": \"0\"}, \"features\": ["

#define parse_ok(json) schema_parse_ok((json), ORIGIN)
#define expect_error(json, msg) schema_parse_refused((json), ORIGIN, (msg))

static void test_parse_errors(void **state)
{
	(void)state;
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"cubic\"}]}",
	             "t.json: features[0].transform (feature \"a\"): unknown transform \"cubic\" "
	             "(expected \"spline\", \"bins\" or \"log1p\")");
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": 3}]}",
	             "t.json: features[0].transform (feature \"a\"): unknown transform \"(not a "
	             "string)\" (expected \"spline\", \"bins\" or \"log1p\")");
	expect_error(
	        HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"knots\": 4}]}",
	        "t.json: features[0].knots (feature \"a\"): needs \"transform\": \"spline\" or "
	        "\"bins\"");
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"special\": [-1]}]}",
	             "t.json: features[0].special (feature \"a\"): needs \"transform\": \"spline\" "
	             "or \"bins\"");
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\", "
	                  "\"knots\": 1}]}",
	             "t.json: features[0].knots (feature \"a\"): must be a count from 2 to 64, or "
	             "an array of 2 to 64 strictly increasing numbers");
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\", "
	                  "\"knots\": 65}]}",
	             "t.json: features[0].knots (feature \"a\"): must be a count from 2 to 64, or "
	             "an array of 2 to 64 strictly increasing numbers");
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"bins\", "
	                  "\"knots\": [0, 10, 10]}]}",
	             "t.json: features[0].knots[2] (feature \"a\"): 10 is not above the knot "
	             "before it (10)");
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"bins\", "
	                  "\"knots\": [0, \"x\"]}]}",
	             "t.json: features[0].knots[1] (feature \"a\"): must be a finite number from "
	             "-1e15 to 1e15");
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\", "
	                  "\"special\": [-1, -1]}]}",
	             "t.json: features[0].special (feature \"a\"): -1 is listed twice");
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\", "
	                  "\"special\": []}]}",
	             "t.json: features[0].special (feature \"a\"): must be an array of 1 to 16 "
	             "numbers");
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"log1p\", "
	                  "\"knots\": 4}]}",
	             "t.json: features[0].knots (feature \"a\"): applies to \"spline\" and "
	             "\"bins\" only");
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\", "
	                  "\"monotone\": \"up\"}]}",
	             "t.json: features[0].monotone (feature \"a\"): must be \"increasing\" or "
	             "\"decreasing\"");
	expect_error(HEAD "{\"name\": \"a\", \"type\": \"categorical\", \"values\": [\"x\"], "
	                  "\"transform\": \"spline\"}]}",
	             "t.json: feature \"a\": unknown key \"transform\"");
}

/* The keys are in the canonical form only when set: a plain numeric
 * feature keeps its text (and every existing fingerprint stays). */
static void test_canonical(void **state)
{
	struct fl_schema *plain, *sp, *given, *cnt;

	(void)state;
	plain = parse_ok(HEAD "{\"name\": \"a\", \"type\": \"numeric\"}]}");
	assert_non_null(strstr(plain->canonical, "{\"missing\":\"error\",\"name\":\"a\","
	                                         "\"type\":\"numeric\"}"));
	assert_null(strstr(plain->canonical, "transform"));
	sp = parse_ok(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\", "
	                   "\"special\": [-1], \"monotone\": \"decreasing\"}]}");
	assert_non_null(strstr(sp->canonical, "{\"knots\":5,\"missing\":\"error\","
	                                      "\"monotone\":\"decreasing\",\"name\":\"a\","
	                                      "\"special\":[-1.0],\"transform\":\"spline\","
	                                      "\"type\":\"numeric\"}"));
	assert_memory_not_equal(sp->fingerprint, plain->fingerprint, FL_FINGERPRINT_LEN);
	/* The default count written out is the same contract. */
	cnt = parse_ok(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\", "
	                    "\"knots\": 5, \"special\": [-1.0], \"monotone\": \"decreasing\"}]}");
	assert_memory_equal(sp->fingerprint, cnt->fingerprint, FL_FINGERPRINT_LEN);
	given = parse_ok(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"bins\", "
	                      "\"knots\": [0, 10, 100]}]}");
	assert_non_null(strstr(given->canonical, "\"knots\":[0.0,10.0,100.0]"));
	assert_non_null(given->features[0].knots);
	assert_int_equal(given->features[0].enc_width, 2);
	fl_schema_free(plain);
	fl_schema_free(sp);
	fl_schema_free(given);
	fl_schema_free(cnt);
}

static void test_layout_and_names(void **state)
{
	struct fl_schema *s;
	char name[128];

	(void)state;
	s = parse_ok(HEAD "{\"name\": \"pdays\", \"type\": \"numeric\", \"missing\": \"impute\", "
	                  "\"transform\": \"spline\", \"knots\": 4, \"special\": [-1]},"
	                  "{\"name\": \"b\", \"type\": \"numeric\", \"transform\": \"log1p\"}]}");
	/* 4 knots: 6 splines, then -1, then the missing indicator. */
	assert_int_equal(s->features[0].enc_width, 8);
	assert_int_equal(s->features[1].enc_offset, 9);
	assert_int_equal(s->dim, 10);
	fl_schema_column_name(s, 1, name, sizeof(name));
	assert_string_equal(name, "pdays (spline 1/6)");
	fl_schema_column_name(s, 7, name, sizeof(name));
	assert_string_equal(name, "pdays=-1 (special)");
	fl_schema_column_name(s, 8, name, sizeof(name));
	assert_string_equal(name, "pdays (missing)");
	fl_schema_column_name(s, 9, name, sizeof(name));
	assert_string_equal(name, "b");
	assert_false(fl_feature_is_value(&s->features[0], 1));
	assert_true(fl_feature_is_value(&s->features[1], 9));
	fl_schema_free(s);
}

/*
 * With the two knots 0 and 1 the cubic B-splines are the Bernstein
 * polynomials: at 0.5 they are (1, 3, 3, 1) / 8. The encoded columns c are
 * L^-1 b, so |c|^2 = b' (D'D + eps I)^-1 b, whatever L is.
 */
static void test_spline_columns(void **state)
{
	struct fl_schema *s;
	const struct fl_feature *f;
	double x[4], b[4] = {1 / 8.0, 3 / 8.0, 3 / 8.0, 1 / 8.0}, P[16] = {0}, pb[4], want = 0,
	             got = 0, e[3][4];
	const double d2[2][4] = {{1, -2, 1, 0}, {0, 1, -2, 1}};

	(void)state;
	s = parse_ok(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\", "
	                  "\"knots\": [0, 1]}]}");
	f = &s->features[0];
	assert_int_equal(f->enc_width, 4);
	fl_spline_encode(f, 0.5, 0, x);
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 4; j++) {
			for (size_t k = 0; k < 2; k++)
				P[i * 4 + j] += d2[k][i] * d2[k][j];
			P[i * 4 + j] += i == j ? FL_SPLINE_RIDGE : 0;
		}
	memcpy(pb, b, sizeof(b));
	gauss_solve(P, pb, 4);
	for (size_t i = 0; i < 4; i++) {
		want += b[i] * pb[i];
		got += x[i] * x[i];
	}
	assert_double_equal(got, want, 1e-12 * want);
	/* Linear beyond the boundary knots: equal steps give equal changes. */
	for (int side = 0; side < 2; side++) {
		for (int k = 0; k < 3; k++)
			fl_spline_encode(f, side ? 2.0 + k : -1.0 - k, 0, e[k]);
		for (size_t i = 0; i < 4; i++)
			assert_double_equal(e[0][i] - 2 * e[1][i] + e[2][i], 0, 1e-9);
	}
	fl_schema_free(s);
}

static void test_bins_special_missing(void **state)
{
	struct fl_schema *s;
	const struct fl_feature *f;
	double x[5];

	(void)state;
	s = parse_ok(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"missing\": \"impute\", "
	                  "\"transform\": \"bins\", \"knots\": [0, 10, 20], \"special\": [-1]}]}");
	f = &s->features[0];
	assert_int_equal(f->enc_width, 4);
	fl_spline_encode(f, -5, 0, x); /* below the first knot: the first bin */
	assert_true(x[0] == 1 && x[1] == 0 && x[2] == 0 && x[3] == 0);
	fl_spline_encode(f, 10, 0, x); /* a knot starts its bin */
	assert_true(x[0] == 0 && x[1] == 1 && x[2] == 0 && x[3] == 0);
	fl_spline_encode(f, 99, 0, x);
	assert_true(x[0] == 0 && x[1] == 1);
	fl_spline_encode(f, -1, 0, x);
	assert_true(x[0] == 0 && x[1] == 0 && x[2] == 1 && x[3] == 0);
	fl_spline_encode(f, NAN, 1, x);
	assert_true(x[0] == 0 && x[1] == 0 && x[2] == 0 && x[3] == 1);
	fl_schema_free(s);
}

/* 100 values: 50 ones, 20 twos, 20 threes, 10 at 63. The 0, .25, .5, .75
 * and 1 quantiles (positions 0, 24.75, 49.5, 74.25 and 99 of the sorted
 * values, interpolated) are 1, 1, 1.5, 3, 63; the tie is spread to the
 * next knot: 1, 1.25, 1.5, 3, 63. */
static void test_quantile_knots(void **state)
{
	struct fl_schema *s;
	double v[100], k[5], one[3] = {7, 7, 7}, want[5] = {1, 1.25, 1.5, 3, 63};

	(void)state;
	s = parse_ok(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\"}]}");
	for (size_t i = 0; i < 100; i++)
		v[99 - i] = i < 50 ? 1 : i < 70 ? 2 : i < 90 ? 3 : 63;
	assert_int_equal(fl_spline_quantile_knots(&s->features[0], v, 100, k), 0);
	for (size_t i = 0; i < 5; i++)
		assert_double_equal(k[i], want[i], 1e-12);
	/* Many rows at the largest value: spread down from it. */
	for (size_t i = 0; i < 100; i++)
		v[i] = i < 10 ? 0 : 8;
	assert_int_equal(fl_spline_quantile_knots(&s->features[0], v, 100, k), 0);
	for (size_t i = 1; i < 5; i++)
		assert_true(k[i] > k[i - 1]);
	assert_double_equal(k[0], 0, 0);
	assert_double_equal(k[4], 8, 0);
	fl_err_clear();
	assert_int_equal(fl_spline_quantile_knots(&s->features[0], one, 3, k), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "feature \"a\": every value is 7, so no knots can be "
	                                 "placed (a spline needs two distinct values)");
	fl_schema_free(s);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The knots are the interpolated order statistics of the values (numpy's
 * default quantiles) whatever order the rows come in: 5,003 values in runs
 * of 7 equal ones, shuffled, ascending and descending; and a column that is
 * mostly zeros gives the same knots in any order.
 */
static void test_quantile_knots_any_order(void **state)
{
	enum { N = 5003, K = 8 };
	struct fl_schema *s;
	double *v = malloc(N * sizeof(double)), *sorted = malloc(N * sizeof(double));
	double k[K], k2[K], want[K];

	(void)state;
	assert_non_null(v);
	assert_non_null(sorted);
	s = parse_ok(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": "
	                  "\"spline\", \"knots\": 8}]}");
	for (size_t i = 0; i < N; i++)
		sorted[i] = (double)((i * 7919) % N / 7) - 300.5;
	qsort(sorted, N, sizeof(double), cmp_double);
	for (size_t i = 0; i < K; i++) {
		double pos = (double)i / (K - 1) * (N - 1);
		size_t lo = (size_t)pos;

		want[i] = lo + 1 < N
		                  ? sorted[lo] + (pos - (double)lo) * (sorted[lo + 1] - sorted[lo])
		                  : sorted[N - 1];
	}
	for (int order = 0; order < 3; order++) {
		for (size_t i = 0; i < N; i++)
			v[i] = order == 0   ? (double)((i * 7919) % N / 7) - 300.5
			       : order == 1 ? sorted[i]
			                    : sorted[N - 1 - i];
		assert_int_equal(fl_spline_quantile_knots(&s->features[0], v, N, k), 0);
		for (size_t i = 0; i < K; i++)
			assert_true(k[i] == want[i]);
	}
	/* 80 % zeros (a count of previous contacts): the tie at 0 spread up
	 * to the next knot, the same for the shuffled and the sorted column. */
	for (size_t i = 0; i < N; i++)
		v[i] = (i * 7919) % N < 4000 ? 0 : (double)((i * 7919) % N - 3990);
	memcpy(sorted, v, N * sizeof(double));
	qsort(sorted, N, sizeof(double), cmp_double);
	assert_int_equal(fl_spline_quantile_knots(&s->features[0], v, N, k), 0);
	assert_int_equal(fl_spline_quantile_knots(&s->features[0], sorted, N, k2), 0);
	assert_memory_equal(k, k2, sizeof(k));
	assert_true(k[0] == 0 && k[K - 1] == 1012);
	for (size_t i = 1; i < K; i++)
		assert_true(k[i] > k[i - 1]);
	fl_schema_free(s);
	free(v);
	free(sorted);
}

/* The draft gives a day of the month one bin per day, written out, and
 * says why; other small whole numbers keep the spline. */
static void test_draft_day_of_month(void **state)
{
	double day[600], visits[600];
	char why[256];
	json_t *jf = json_object(), *k;

	(void)state;
	for (size_t i = 0; i < 600; i++) {
		day[i] = (double)(1 + i * 31 / 600);
		visits[i] = (double)(i * 30 / 600);
	}
	why[0] = '\0';
	assert_int_equal(fl_transform_draft(jf, day, 600, 31, 0, why, sizeof(why)), 0);
	assert_string_equal(json_string_value(json_object_get(jf, "transform")), "bins");
	k = json_object_get(jf, "knots");
	assert_int_equal(json_array_size(k), 32);
	assert_double_equal(json_real_value(json_array_get(k, 0)), 0.5, 0);
	assert_double_equal(json_real_value(json_array_get(k, 31)), 31.5, 0);
	assert_string_equal(why, "; bins, one per day: whole numbers from 1 to 31 (31 distinct), "
	                         "a day of the month, whose effect need not be smooth");
	json_decref(jf);
	/* 0 to 29: not days. */
	jf = json_object();
	why[0] = '\0';
	assert_int_equal(fl_transform_draft(jf, visits, 600, 30, 0, why, sizeof(why)), 0);
	assert_string_equal(json_string_value(json_object_get(jf, "transform")), "spline");
	json_decref(jf);
	/* The schema round with k = 3 (rev9b, finding 1b): one lead at 32
	 * is fewer than k values that are not a day, so still bins; its 32,
	 * held once, counts for nothing (1 / 3 rounds down). */
	day[599] = 32;
	jf = json_object();
	why[0] = '\0';
	assert_int_equal(fl_transform_draft(jf, day, 600, 32, 3, why, sizeof(why)), 0);
	assert_string_equal(json_string_value(json_object_get(jf, "transform")), "bins");
	assert_string_equal(why, "; bins, one per day: whole numbers from 1 to 31 (31 distinct, "
	                         "those held fewer than k times counted k to one), a day of the "
	                         "month, whose effect need not be smooth");
	json_decref(jf);
	/* 29 different amounts count 29 / 3 = 9: no spline; 30 count 10. */
	for (size_t n = 29; n <= 30; n++) {
		for (size_t i = 0; i < n; i++)
			visits[i] = 10.5 * (double)i;
		jf = json_object();
		why[0] = '\0';
		assert_int_equal(fl_transform_draft(jf, visits, n, n, 3, why, sizeof(why)), 0);
		if (n == 29) {
			assert_null(json_object_get(jf, "transform"));
			assert_string_equal(why,
			                    "; linear: 9 distinct values, those held fewer than k "
			                    "times counted k to one, fewer than 10");
		} else
			assert_string_equal(json_string_value(json_object_get(jf, "transform")),
			                    "spline");
		json_decref(jf);
	}
}

/* Leads whose conversion rises and then falls with age (a hump a line
 * cannot draw), with -1 meaning "never contacted" and converting often. */
static void write_hump(const char *path, size_t n, unsigned seed)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fprintf(fp, "age,pdays,y\n");
	srand(seed);
	for (size_t i = 0; i < n; i++) {
		double age = 20 + 50.0 * rand() / RAND_MAX;
		int pdays = rand() % 4 == 0 ? -1 : rand() % 300;
		double z = 2.5 - (age - 45) * (age - 45) / 60.0 + (pdays == -1 ? 1.0 : 0.0);
		int y = (double)rand() / RAND_MAX < 1 / (1 + exp(-z));

		fprintf(fp, "%.2f,%d,%d\n", age, pdays, y);
	}
	fclose(fp);
}

static double auc_of(const struct fl_model *m, const struct fl_dataset *raw)
{
	double *z = malloc(raw->n * sizeof(double)), *x = malloc(raw->dim * sizeof(double));
	double auc;

	assert_non_null(z);
	assert_non_null(x);
	for (size_t i = 0; i < raw->n; i++) {
		memcpy(x, raw->X + i * raw->dim, raw->dim * sizeof(double));
		fl_scaler_apply(m->scaler, x);
		z[i] = fl_model_logit(m, x);
	}
	auc = fl_auc(z, raw->y, raw->n);
	free(z);
	free(x);
	return auc;
}

#define SPLINE_SCHEMA                                                                              \
	HEAD "{\"name\": \"age\", \"type\": \"numeric\", \"transform\": \"spline\"},"              \
	     "{\"name\": \"pdays\", \"type\": \"numeric\", \"transform\": \"spline\", "            \
	     "\"knots\": 4, \"special\": [-1]}]}"

static void test_local_model_end_to_end(void **state)
{
	char path[] = "/tmp/fl_test_spline_XXXXXX", mpath[64];
	struct fl_schema *s = parse_ok(SPLINE_SCHEMA), *plain;
	struct fl_dataset *ds = NULL, *pds = NULL;
	struct fl_load_report rep;
	struct fl_train_opts o;
	struct fl_train_report tr;
	struct fl_model *m = NULL, *pm = NULL, *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_hump(path, 3000, 7);
	assert_int_equal(fl_dataset_load(s, path, FL_BAD_ROWS_FAIL, &ds, &rep), 0);
	/* Before its knots are placed nothing trains on the raw block. */
	fl_err_clear();
	fl_train_opts_default(&o);
	o.l2 = 1;
	assert_int_equal(fl_train_local(s, ds, &o, &m, &tr), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "feature \"age\": its knots are placed from the training data, which "
	                    "this command does not do; write the knot values in the schema "
	                    "(\"knots\": [...])");
	assert_int_equal(fl_spline_prepare(s, ds), 0);
	assert_int_equal(fl_spline_unplaced(s), SIZE_MAX);
	/* fedlead-node train stores the rows once (fl_rowset_load()) and
	 * places the knots there: in either layout, the same knots and the
	 * same expanded rows as from the dense dataset. */
	for (int layout = FL_ROWS_DENSE; layout <= FL_ROWS_COMPACT; layout++) {
		struct fl_schema *s2 = parse_ok(SPLINE_SCHEMA);
		struct fl_rowset *rs = NULL;
		double *x = malloc(s2->dim * sizeof(*x));

		assert_non_null(x);
		assert_int_equal(fl_rowset_load(s2, path, FL_BAD_ROWS_FAIL,
		                                (enum fl_rows_layout)layout, &rs, &rep),
		                 0);
		assert_int_equal(fl_spline_prepare_rows(s2, rs), 0);
		assert_int_equal(fl_spline_unplaced(s2), SIZE_MAX);
		for (size_t i = 0; i < s2->n_features; i++)
			if (s2->features[i].knots != NULL)
				assert_memory_equal(s2->features[i].knots, s->features[i].knots,
				                    s->features[i].n_knots * sizeof(double));
		assert_int_equal(rs->n, ds->n);
		for (size_t row = 0; row < ds->n; row++) {
			fl_rowset_row(rs, row, x);
			assert_memory_equal(x, ds->X + row * ds->dim, ds->dim * sizeof(*x));
		}
		free(x);
		fl_rowset_free(rs);
		fl_schema_free(s2);
	}
	assert_int_equal(fl_train_local(s, ds, &o, &m, &tr), 0);
	/* The plain model on the same rows cannot draw the hump. */
	plain = parse_ok(HEAD "{\"name\": \"age\", \"type\": \"numeric\"},"
	                      "{\"name\": \"pdays\", \"type\": \"numeric\"}]}");
	assert_int_equal(fl_dataset_load(plain, path, FL_BAD_ROWS_FAIL, &pds, &rep), 0);
	assert_int_equal(fl_train_local(plain, pds, &o, &pm, &tr), 0);
	assert_true(auc_of(m, ds) > auc_of(pm, pds) + 0.1);

	/* The effect curve has its peak near 45 and "-1" its own effect. */
	assert_true(fl_spline_effect(m, 0, 45) > fl_spline_effect(m, 0, 25) + 1);
	assert_true(fl_spline_effect(m, 0, 45) > fl_spline_effect(m, 0, 65) + 1);

	/* Saved and loaded: the same knots, the same scores. */
	assert_int_equal(fl_model_encode(m, &buf, &len), 0);
	assert_int_equal(fl_model_decode(buf, len, "m.fdl", &back), 0);
	assert_int_equal(back->format_minor, FL_MODEL_FORMAT_MINOR_KNOTS);
	assert_memory_equal(back->schema->features[0].knots, m->schema->features[0].knots,
	                    5 * sizeof(double));
	assert_double_equal(auc_of(back, ds), auc_of(m, ds), 0);
	assert_double_equal(fl_spline_effect(back, 1, 100), fl_spline_effect(m, 1, 100), 0);
	/* The JSON export carries the knots too (a scorer elsewhere needs them). */
	{
		char *js = NULL, want[128];

		assert_int_equal(fl_model_to_json(back, &js), 0);
		assert_non_null(strstr(js, "\"format\": \"1.3\""));
		snprintf(want, sizeof(want), "\"age\": [\n      %.17g,",
		         back->schema->features[0].knots[0]);
		assert_non_null(strstr(js, "\"knots\": {"));
		assert_non_null(strstr(js, want));
		free(js);
	}
	snprintf(mpath, sizeof(mpath), "%s.txt", path);
	{
		FILE *fp = fopen(mpath, "w+");
		char text[4096];
		size_t got;

		assert_non_null(fp);
		assert_int_equal(fl_spline_explain(back, fp), 0);
		rewind(fp);
		got = fread(text, 1, sizeof(text) - 1, fp);
		text[got] = '\0';
		fclose(fp);
		unlink(mpath);
		assert_non_null(strstr(text, "\nEffect of age (spline, 5 knots at "));
		assert_non_null(strstr(text, "(special value)"));
	}
	free(buf);
	fl_model_free(back);
	fl_model_free(pm);
	fl_model_free(m);
	fl_dataset_free(pds);
	fl_dataset_free(ds);
	fl_schema_free(plain);
	fl_schema_free(s);
	unlink(path);
}

/* fl_spline_explain()'s text in buf. */
static void explain_text(const struct fl_model *m, char *buf, size_t n)
{
	FILE *fp = tmpfile();
	size_t got;

	assert_non_null(fp);
	assert_int_equal(fl_spline_explain(m, fp), 0);
	rewind(fp);
	got = fread(buf, 1, n - 1, fp);
	buf[got] = '\0';
	fclose(fp);
}

/*
 * What a spline's effects are measured against, as --explain and inspect
 * say it: the average lead; under differential privacy, where the
 * statistics release no basis sums, a zero block when the baselines are 0
 * (knots written in the schema: no knots round, so no histogram), and the
 * average lead from the knots round's histogram when the federation placed
 * the knots and the baselines are not 0. A bins block's columns are
 * released: the average lead.
 */
static void test_explain_baseline_origin(void **state)
{
	struct fl_schema *s =
	        parse_ok(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\", "
	                      "\"knots\": [0, 1, 2]},"
	                      "{\"name\": \"b\", \"type\": \"numeric\", \"clip\": [0, 9], "
	                      "\"transform\": \"spline\", \"knots\": 3},"
	                      "{\"name\": \"c\", \"type\": \"numeric\", \"transform\": \"bins\", "
	                      "\"knots\": [0, 1, 2]}]}");
	struct fl_dp_partner part = {.partner = "acme", .epsilon = 1, .delta = 1e-6};
	struct fl_dp_record rec = {.mechanism = "distributed discrete Gaussian",
	                           .accountant = "zCDP",
	                           .partners = &part,
	                           .n_partners = 1};
	const double kb[3] = {0, 4, 9};
	const struct fl_feature *b = &s->features[1];
	struct fl_model *m = NULL;
	char text[8192];

	(void)state;
	assert_int_equal(fl_schema_set_knots(s, 1, kb, 3), 0);
	assert_int_equal(fl_model_new(s, &m), 0);
	explain_text(m, text, sizeof(text));
	assert_non_null(strstr(text, "\nEffect of a (spline, 3 knots at 0, 1, 2), log-odds against "
	                             "the average lead:\n"));
	assert_non_null(strstr(text, "\nEffect of b (spline, 3 knots at 0, 4, 9), log-odds against "
	                             "the average lead:\n"));

	assert_int_equal(fl_model_set_privacy(m, &rec), 0);
	explain_text(m, text, sizeof(text));
	assert_non_null(strstr(
	        text, "\nEffect of a (spline, 3 knots at 0, 1, 2), log-odds against a zero block, "
	              "not the average lead: under differential privacy its basis averages are not "
	              "released, and its knots are written in the schema, so no knots round "
	              "measured them:\n"));
	assert_non_null(strstr(
	        text, "\nEffect of b (spline, 3 knots at 0, 4, 9), log-odds against a zero block, "
	              "not the average lead: under differential privacy its basis averages are not "
	              "released, and this model has none from the knots round:\n"));
	assert_non_null(strstr(text, "\nEffect of c (bins, 3 knots at 0, 1, 2), log-odds against "
	                             "the average lead:\n"));

	m->scaler->baseline[b->enc_offset + 2] = 0.25;
	explain_text(m, text, sizeof(text));
	assert_non_null(strstr(text, "\nEffect of b (spline, 3 knots at 0, 4, 9), log-odds against "
	                             "the average lead, its curve's part from the knots round's "
	                             "noised histogram:\n"));
	fl_model_free(m);
	fl_schema_free(s);
}

/* A model whose knots were never placed is refused when saved. */
static void test_model_without_knots_refused(void **state)
{
	struct fl_schema *s = parse_ok(SPLINE_SCHEMA);
	struct fl_model *m = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(fl_model_new(s, &m), 0);
	fl_err_clear();
	assert_int_equal(fl_model_encode(m, &buf, &len), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "model: feature \"age\" has no knots placed yet");
	assert_null(buf);
	fl_model_free(m);
	fl_schema_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_canonical),
	        cmocka_unit_test(test_layout_and_names),
	        cmocka_unit_test(test_spline_columns),
	        cmocka_unit_test(test_bins_special_missing),
	        cmocka_unit_test(test_quantile_knots),
	        cmocka_unit_test(test_quantile_knots_any_order),
	        cmocka_unit_test(test_draft_day_of_month),
	        cmocka_unit_test(test_local_model_end_to_end),
	        cmocka_unit_test(test_model_without_knots_refused),
	        cmocka_unit_test(test_explain_baseline_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
