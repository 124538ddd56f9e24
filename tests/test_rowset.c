/*
 * Tests for src/core/rowset.c and rowset_pass.c: training rows stored as a
 * dense block plus one column index per one-hot group.
 *
 * What a user relies on: the compact rows are the same rows (every value
 * back bit for bit, the same statistics), a model trained on them is the
 * model the dense rows give (1e-12 relative), the passes give the same bits
 * for any thread count, and the validation split and the loader agree with
 * fl_dataset_split() and fl_dataset_load(). The dense references are
 * fl_linalg_logistic() and fl_train_local() in the dense layout, the
 * kernels fedlead used before the compact rows existed.
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

#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/logreg.h"
#include "fedlead/rowset.h"
#include "fedlead/schema.h"
#include "fedlead/spline.h"
#include "fedlead/splitmix.h"
#include "fedlead/train.h"

#include "core/rowset_int.h"

#define COIL_SCHEMA FL_TEST_DATA "/coil2000/coil2000.schema.json"
#define COIL_DATA FL_TEST_DATA "/coil2000/train.csv"
#define BANK_SCHEMA FL_TEST_DATA "/bank-marketing/bank.schema.json"
#define BANK_DATA FL_TEST_DATA "/bank-marketing/bank.csv"

/* Every kind of group: a categorical with "other", a numeric with a
 * missing indicator, a date with its indicator, weekday and month. */
static const char MIXED_SCHEMA[] =
        "{\"fedlead_schema\": 1,\n"
        " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},\n"
        " \"features\": [\n"
        "  {\"name\": \"visits\", \"type\": \"numeric\", \"missing\": \"impute\"},\n"
        "  {\"name\": \"source\", \"type\": \"categorical\",\n"
        "   \"values\": [\"web\", \"fair\", \"call\", \"mail\"], \"other\": true},\n"
        "  {\"name\": \"Created\", \"type\": \"date\", \"format\": \"iso\",\n"
        "   \"reference\": \"2026-01-01\", \"missing\": \"impute\"},\n"
        "  {\"name\": \"revenue\", \"type\": \"numeric\"},\n"
        "  {\"name\": \"size\", \"type\": \"categorical\",\n"
        "   \"values\": [\"s\", \"m\", \"l\"]}]}\n";

static struct fl_schema *load_schema(const char *path)
{
	struct fl_schema *s = NULL;

	if (fl_schema_load(path, &s) != 0)
		fail_msg("%s: %s", path, fl_errmsg());
	return s;
}

static struct fl_dataset *load_data(const struct fl_schema *s, const char *path)
{
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;

	if (fl_dataset_load(s, path, FL_BAD_ROWS_FAIL, &ds, &rep) != 0)
		fail_msg("%s: %s", path, fl_errmsg());
	return ds;
}

/* Writes MIXED_SCHEMA's leads (n rows, some blanks) to a temporary file;
 * the label follows a known logistic model so the fit is well posed. */
static char *write_mixed(size_t n, struct fl_schema **s)
{
	static const char *const src[] = {"web", "fair", "call", "mail", "expo", ""};
	static const char *const size[] = {"s", "m", "l"};
	char *path = strdup("/tmp/fl-test-rowset-XXXXXX");
	uint64_t rng = 7;
	FILE *f;
	int fd;

	assert_non_null(path);
	assert_int_equal(fl_schema_parse(MIXED_SCHEMA, strlen(MIXED_SCHEMA), "t.json", s), 0);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "visits,source,Created,revenue,size,won\n");
	for (size_t i = 0; i < n; i++) {
		uint64_t a = fl_splitmix64(&rng), b = fl_splitmix64(&rng);
		int visits = (int)(a % 40), so = (int)((a >> 8) % 6), sz = (int)((a >> 16) % 3);
		int month = 1 + (int)((a >> 24) % 12), day = 1 + (int)((a >> 32) % 28);
		double rev = (double)(b % 100000) / 10.0;
		double z = -1.0 + 0.05 * visits - 0.5 * (so == 2) + 0.7 * (sz == 2) + 0.1 * month -
		           0.00001 * rev;
		int won = (double)(b >> 11) / 9007199254740992.0 < 1.0 / (1.0 + exp(-z));

		if ((a >> 40) % 9 == 0)
			fprintf(f, ",");
		else
			fprintf(f, "%d,", visits);
		fprintf(f, "%s,", src[so]);
		if ((a >> 44) % 7 == 0)
			fprintf(f, ",");
		else
			fprintf(f, "2025-%02d-%02d,", month, day);
		fprintf(f, "%.1f,%s,%s\n", rev, size[sz], won ? "yes" : "no");
	}
	assert_int_equal(fclose(f), 0);
	return path;
}

/* max_j |a_j - b_j| / max_j |a_j|: the difference relative to the vector. */
static double rel_diff(const double *a, const double *b, size_t d)
{
	double num = 0, den = 0;

	for (size_t j = 0; j < d; j++) {
		num = fmax(num, fabs(a[j] - b[j]));
		den = fmax(den, fabs(a[j]));
	}
	return den > 0 ? num / den : num;
}

/* The loss, gradient and Hessian of two passes agree to 1e-13, 1e-12 and
 * 1e-12 of the first's (the difference relative to the vector). */
static void assert_pass_close(double l0, const double *g0, const double *h0, double l1,
                              const double *g1, const double *h1, size_t d)
{
	assert_true(fabs(l0 - l1) <= 1e-13 * fabs(l0));
	assert_true(rel_diff(g0, g1, d) <= 1e-12);
	assert_true(rel_diff(h0, h1, d * d) <= 1e-12);
}

/* n passes' results for d coefficients: g[k] (d doubles), h[k] (d * d). */
static void pass_bufs(size_t d, int n, double **g, double **h)
{
	for (int k = 0; k < n; k++) {
		g[k] = malloc(d * sizeof(double));
		h[k] = malloc(d * d * sizeof(double));
		assert_non_null(g[k]);
		assert_non_null(h[k]);
	}
}

static void pass_bufs_free(int n, double **g, double **h)
{
	for (int k = 0; k < n; k++) {
		free(g[k]);
		free(h[k]);
	}
}

/* w[0, d) uniform in [-a/2, a/2) from rng. */
static void random_weights(uint64_t *rng, double a, double *w, size_t d)
{
	for (size_t j = 0; j < d; j++)
		w[j] = ((double)(fl_splitmix64(rng) >> 11) / 9007199254740992.0 - 0.5) * a;
}

static void test_layout_chosen(void **state)
{
	struct fl_schema *coil = load_schema(COIL_SCHEMA), *mixed = NULL;
	struct fl_rowset *rs = NULL;
	char *path;

	(void)state;
	/* CoIL: 23 categoricals, 62 numbers and the intercept dense. */
	assert_int_equal(fl_rowset_layout_auto(coil), FL_ROWS_COMPACT);
	assert_int_equal(fl_rowset_new(coil, FL_ROWS_AUTO, 1, &rs), 0);
	assert_int_equal(rs->nk, 23);
	assert_int_equal(rs->nd, 63);
	fl_rowset_free(rs);
	assert_int_equal(fl_rowset_new(coil, FL_ROWS_DENSE, 1, &rs), 0);
	assert_int_equal(rs->nk, 0);
	assert_int_equal(rs->nd, coil->dim);
	fl_rowset_free(rs);
	/* mixed: intercept, visits, Created's age and revenue dense; groups:
	 * visits' indicator, source, Created's indicator, weekday, month,
	 * size. 8 * 4 + 4 * 6 = 56 bytes against 4 * 37 = 148: compact. */
	path = write_mixed(1, &mixed);
	unlink(path);
	free(path);
	assert_int_equal(mixed->dim, 1 + 2 + 5 + (2 + 7 + 12) + 1 + 3);
	assert_int_equal(fl_rowset_layout_auto(mixed), FL_ROWS_COMPACT);
	assert_int_equal(fl_rowset_new(mixed, FL_ROWS_AUTO, 1, &rs), 0);
	assert_int_equal(rs->nk, 6);
	assert_int_equal(rs->nd, 4);
	fl_rowset_free(rs);
	fl_schema_free(coil);
	fl_schema_free(mixed);
}

/* Numbers alone stay dense: BLAS over the rows is fastest there. */
static void test_numeric_schema_is_dense(void **state)
{
	static const char json[] =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"1\","
	        " \"negative\": \"0\"}, \"features\": [{\"name\": \"a\", \"type\": \"numeric\"},"
	        " {\"name\": \"b\", \"type\": \"numeric\"}]}";
	struct fl_schema *s = NULL;

	(void)state;
	assert_int_equal(fl_schema_parse(json, strlen(json), "t.json", &s), 0);
	assert_int_equal(fl_rowset_layout_auto(s), FL_ROWS_DENSE);
	fl_schema_free(s);
}

/* The loader stores the rows fl_dataset_load() reads, value for value, and
 * their statistics are fl_dataset_load()'s to the bit. */
static void check_same_rows(const struct fl_schema *s, const char *path)
{
	struct fl_dataset *ds = load_data(s, path);
	struct fl_rowset *rs = NULL;
	struct fl_load_report rep;
	struct fl_stats *st = NULL;
	double *x = malloc(s->dim * sizeof(double));

	assert_non_null(x);
	assert_int_equal(fl_rowset_load(s, path, FL_BAD_ROWS_FAIL, FL_ROWS_COMPACT, &rs, &rep), 0);
	assert_true(rs->nk > 0);
	assert_int_equal(rs->n, ds->n);
	assert_int_equal(rep.rows, ds->n);
	for (size_t i = 0; i < ds->n; i++) {
		fl_rowset_row(rs, i, x);
		/* NaN (a missing number) compares by its bits too. */
		assert_memory_equal(x, ds->X + i * s->dim, s->dim * sizeof(double));
		assert_true(rs->y[i] == ds->y[i]);
	}
	assert_int_equal(fl_stats_new(s->dim, &st), 0);
	fl_rowset_stats(rs, st);
	assert_true(st->rows == ds->stats->rows && st->positives == ds->stats->positives);
	assert_memory_equal(st->count, ds->stats->count, s->dim * sizeof(double));
	assert_memory_equal(st->sum, ds->stats->sum, s->dim * sizeof(double));
	assert_memory_equal(st->sumsq, ds->stats->sumsq, s->dim * sizeof(double));
	assert_memory_equal(st->min, ds->stats->min, s->dim * sizeof(double));
	assert_memory_equal(st->max, ds->stats->max, s->dim * sizeof(double));
	fl_stats_free(st);
	fl_rowset_free(rs);
	fl_dataset_free(ds);
	free(x);
}

static void test_same_rows_and_stats(void **state)
{
	struct fl_schema *s = load_schema(COIL_SCHEMA), *m = NULL;
	char *path = write_mixed(3000, &m);

	(void)state;
	check_same_rows(s, COIL_DATA);
	check_same_rows(m, path);
	unlink(path);
	free(path);
	fl_schema_free(s);
	fl_schema_free(m);
}

/* One pass over standardised compact rows against fl_linalg_logistic() on
 * the same rows made dense: loss, gradient and every Hessian entry. */
static void check_pass(const struct fl_schema *s, const char *path, double pos_weight)
{
	struct fl_dataset *ds = load_data(s, path);
	struct fl_rowset *rs = NULL;
	struct fl_scaler *sc = NULL;
	size_t d = s->dim;
	double *w = malloc(d * sizeof(double)), *g1 = malloc(d * sizeof(double)),
	       *g2 = malloc(d * sizeof(double)), *h1 = malloc(d * d * sizeof(double)),
	       *h2 = malloc(d * d * sizeof(double)), *c = malloc(ds->n * sizeof(double));
	double l1, l2;
	uint64_t rng = 3;

	assert_true(w && g1 && g2 && h1 && h2 && c);
	assert_int_equal(fl_scaler_from_stats(s, ds->stats, &sc), 0);
	assert_int_equal(fl_rowset_from_dataset(s, ds, FL_ROWS_COMPACT, &rs), 0);
	assert_int_equal(fl_rowset_standardize(rs, sc), 0);
	fl_dataset_standardize(ds, sc);
	random_weights(&rng, 0.4, w, d);
	for (size_t i = 0; i < ds->n; i++)
		c[i] = ds->y[i] > 0.5 ? pos_weight : 1.0;
	/* Several chunks, so the partials are added too. */
	rs->chunk_rows = 1000;
	fl_linalg_logistic(ds->X, ds->n, d, ds->y, c, w, &l1, g1, h1);
	assert_int_equal(fl_rowset_logistic(rs, c, w, 2, &l2, g2, h2), 0);
	assert_true(fabs(l1 - l2) <= 1e-13 * fabs(l1));
	assert_true(rel_diff(g1, g2, d) <= 1e-13);
	assert_true(rel_diff(h1, h2, d * d) <= 1e-13);
	/* The Hessian is symmetric, as the solver needs it. */
	for (size_t i = 0; i < d; i++)
		for (size_t j = 0; j < d; j++)
			assert_true(h2[i * d + j] == h2[j * d + i]);
	fl_scaler_free(sc);
	fl_rowset_free(rs);
	fl_dataset_free(ds);
	free(w);
	free(g1);
	free(g2);
	free(h1);
	free(h2);
	free(c);
}

static void test_pass_matches_dense(void **state)
{
	struct fl_schema *s = load_schema(COIL_SCHEMA), *m = NULL;
	char *path = write_mixed(5000, &m);

	(void)state;
	check_pass(s, COIL_DATA, 1.0);
	check_pass(s, COIL_DATA, 3.5);
	check_pass(m, path, 1.0);
	unlink(path);
	free(path);
	fl_schema_free(s);
	fl_schema_free(m);
}

/*
 * The pass with a sampled Hessian (rowset.h): loss and gradient are the
 * whole pass's bit for bit; in the dense layout the Hessian is the sum of
 * each chunk's fl_linalg_logistic_sampled() (rows numbered from the
 * chunk's first), scaled by the rows over the rows drawn, the same bits
 * for 1, 2 and 3 threads; in the compact layout it is the whole Hessian.
 */
static void check_sampled(const struct fl_schema *s, const char *path, enum fl_rows_layout lay,
                          size_t chunk_rows, int want)
{
	struct fl_dataset *ds = load_data(s, path);
	struct fl_rowset *rs = NULL;
	struct fl_scaler *sc = NULL;
	size_t d = s->dim, drawn = 0;
	double *w = malloc(d * sizeof(double)), *g1 = malloc(d * sizeof(double)),
	       *g2 = malloc(d * sizeof(double)), *h1 = malloc(d * d * sizeof(double)),
	       *h2 = malloc(d * d * sizeof(double)), *h3 = malloc(d * d * sizeof(double)),
	       *hw = calloc(d * d, sizeof(double)), *hd = malloc(d * sizeof(double)),
	       *hdw = calloc(d, sizeof(double));
	double l1, l2, lc;
	uint64_t rng = 5;

	assert_true(w && g1 && g2 && h1 && h2 && h3 && hw && hd && hdw);
	assert_int_equal(fl_scaler_from_stats(s, ds->stats, &sc), 0);
	assert_int_equal(fl_rowset_from_dataset(s, ds, lay, &rs), 0);
	assert_int_equal(fl_rowset_standardize(rs, sc), 0);
	fl_dataset_standardize(ds, sc);
	random_weights(&rng, 0.4, w, d);
	rs->chunk_rows = chunk_rows;
	assert_int_equal(fl_rowset_logistic(rs, NULL, w, 2, &l1, g1, h1), 0);
	for (unsigned t = 1; t <= 3; t++) {
		assert_int_equal(
		        fl_rowset_logistic_sampled(rs, NULL, w, t, &l2, g2, t == 1 ? h2 : h3),
		        want);
		assert_memory_equal(&l2, &l1, sizeof(l1));
		assert_memory_equal(g2, g1, d * sizeof(double));
		if (t > 1)
			assert_memory_equal(h3, h2, d * d * sizeof(double));
	}
	if (lay == FL_ROWS_COMPACT || want == FL_SOLVER_HESS_EXACT) {
		assert_memory_equal(h2, h1, d * d * sizeof(double));
		goto out;
	}
	for (size_t r0 = 0; r0 < ds->n; r0 += chunk_rows) {
		size_t m = ds->n - r0 < chunk_rows ? ds->n - r0 : chunk_rows, got;

		fl_linalg_logistic_sampled(ds->X + r0 * d, m, d, ds->y + r0, NULL, w, r0,
		                           FL_HESS_SAMPLE_EVERY, &lc, g1, h3, hd, &got);
		for (size_t j = 0; j < d * d; j++)
			hw[j] += h3[j];
		for (size_t j = 0; j < d; j++)
			hdw[j] += hd[j];
		drawn += got;
	}
	assert_true(drawn > 0 && drawn < ds->n);
	/* linalg.h's estimate: the sample's correlations, the exact diagonal. */
	for (size_t j = 0; j < d; j++)
		for (size_t k = 0; k < d; k++)
			h3[j * d + k] =
			        j == k ? hdw[j]
			               : hw[j * d + k] * sqrt(hdw[j] * hdw[k] /
			                                      (hw[j * d + j] * hw[k * d + k]));
	assert_true(rel_diff(h2, h3, d * d) <= 1e-13);
	/* An estimate, not the whole sum. */
	assert_true(rel_diff(h2, h1, d * d) > 1e-6);
out:
	fl_scaler_free(sc);
	fl_rowset_free(rs);
	fl_dataset_free(ds);
	free(w);
	free(g1);
	free(g2);
	free(h1);
	free(h2);
	free(h3);
	free(hw);
	free(hd);
	free(hdw);
}

static void test_pass_sampled(void **state)
{
	static const char json[] =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": \"yes\","
	        " \"negative\": \"no\"}, \"features\": [{\"name\": \"age\", \"type\": \"numeric\"},"
	        " {\"name\": \"day\", \"type\": \"numeric\"}], \"ignore\": [\"job\", \"marital\","
	        " \"education\", \"default\", \"balance\", \"housing\", \"loan\", \"contact\","
	        " \"month\", \"duration\", \"campaign\", \"pdays\", \"previous\", \"poutcome\"]}";
	struct fl_schema *s = load_schema(COIL_SCHEMA), *b = NULL;

	(void)state;
	assert_int_equal(fl_schema_parse(json, strlen(json), "bank-numbers.json", &b), 0);
	/* Two numbers, in chunks of a multiple of the block's rows and not:
	 * the estimate. */
	check_sampled(b, BANK_DATA, FL_ROWS_DENSE, 1000, 0);
	check_sampled(b, BANK_DATA, FL_ROWS_DENSE, 4 * fl_linalg_block_rows(b->dim), 0);
	/* CoIL's rare indicators are not represented by an eighth of its
	 * 5,822 rows: the exact Hessian from a second pass. */
	check_sampled(s, COIL_DATA, FL_ROWS_DENSE, 1000, FL_SOLVER_HESS_EXACT);
	check_sampled(s, COIL_DATA, FL_ROWS_COMPACT, 1000, 0);
	fl_schema_free(s);
	fl_schema_free(b);
}

/* The same file through the dense and the compact rows: the same model. */
static void check_train(const struct fl_schema *s, const char *path,
                        const struct fl_train_opts *base, double wtol)
{
	struct fl_dataset *ds = load_data(s, path);
	struct fl_model *md = NULL, *mc = NULL;
	struct fl_train_report rd, rc;
	struct fl_train_opts o = *base;

	o.layout = FL_ROWS_DENSE;
	if (fl_train_local(s, ds, &o, &md, &rd) != 0)
		fail_msg("dense: %s", fl_errmsg());
	o.layout = FL_ROWS_COMPACT;
	if (fl_train_local(s, ds, &o, &mc, &rc) != 0)
		fail_msg("compact: %s", fl_errmsg());
	assert_true(rel_diff(md->w, mc->w, s->dim) <= wtol);
	assert_true(fabs(rd.status.objective - rc.status.objective) <=
	            1e-12 * fabs(rd.status.objective));
	assert_true(rd.l2 == rc.l2);
	assert_int_equal(rd.train.rows, rc.train.rows);
	assert_int_equal(rd.valid.rows, rc.valid.rows);
	assert_true(fabs(rd.train.log_loss - rc.train.log_loss) <= wtol * rd.train.log_loss);
	assert_memory_equal(md->scaler->center, mc->scaler->center, s->dim * sizeof(double));
	assert_memory_equal(md->scaler->scale, mc->scaler->scale, s->dim * sizeof(double));
	fl_model_free(md);
	fl_model_free(mc);
	fl_dataset_free(ds);
}

static void test_train_both_layouts(void **state)
{
	struct fl_schema *coil = load_schema(COIL_SCHEMA), *bank = load_schema(BANK_SCHEMA),
	                 *mixed = NULL;
	char *path = write_mixed(4000, &mixed);
	struct fl_train_opts o;

	(void)state;
	fl_train_opts_default(&o);
	o.l2 = 1.0;
	check_train(coil, COIL_DATA, &o, 1e-12);
	/* L-BFGS stops where its gradient test is met, and the last bits of
	 * the sums steer which of its many small steps that is: both layouts
	 * stop within the tolerance of the optimum (1e-10 per row), not at the
	 * same point. */
	o.solver = FL_SOLVER_LBFGS;
	check_train(coil, COIL_DATA, &o, 1e-6);
	/* A validation split and balanced class weights. */
	o.solver = FL_SOLVER_NEWTON;
	o.valid_frac = 0.2;
	o.pos_weight = 0;
	/* Balanced weights (7.6 on a converted lead) and pdays' skew make
	 * this fit the most sensitive to rounding: the layouts' weights were
	 * 2.1e-12 apart (1.1e-12 in the 2-norm) when this test was written. */
	check_train(bank, BANK_DATA, &o, 1e-11);
	/* --l2 auto by 3-fold cross-validation, every kind of group. */
	o.valid_frac = 0;
	o.pos_weight = 1;
	o.l2_auto = 1;
	o.kfold = 3;
	check_train(mixed, path, &o, 1e-12);
	unlink(path);
	free(path);
	fl_schema_free(coil);
	fl_schema_free(bank);
	fl_schema_free(mixed);
}

/* 1, 2 and 3 threads over many chunks: the same weights to the bit. */
static void check_threads(const struct fl_schema *s, const char *path, enum fl_rows_layout lay)
{
	struct fl_dataset *ds = load_data(s, path);
	struct fl_model *m[3] = {NULL, NULL, NULL};
	struct fl_train_report rep[3];
	struct fl_train_opts o;

	fl_train_opts_default(&o);
	o.l2 = 1.0;
	o.valid_frac = 0.2;
	for (unsigned t = 1; t <= 3; t++) {
		struct fl_rowset *rs = NULL;

		assert_int_equal(fl_rowset_from_dataset(s, ds, lay, &rs), 0);
		rs->chunk_rows = 300;
		o.threads = t;
		if (fl_train_rows(s, rs, &o, &m[t - 1], &rep[t - 1]) != 0)
			fail_msg("%u threads: %s", t, fl_errmsg());
		fl_rowset_free(rs);
	}
	for (int k = 1; k < 3; k++) {
		assert_memory_equal(m[0]->w, m[k]->w, s->dim * sizeof(double));
		assert_memory_equal(&rep[0].status.objective, &rep[k].status.objective,
		                    sizeof(double));
		assert_int_equal(rep[0].status.iterations, rep[k].status.iterations);
		fl_model_free(m[k]);
	}
	fl_model_free(m[0]);
	fl_dataset_free(ds);
}

static void test_threads_bit_identical(void **state)
{
	struct fl_schema *s = load_schema(COIL_SCHEMA);

	(void)state;
	check_threads(s, COIL_DATA, FL_ROWS_COMPACT);
	check_threads(s, COIL_DATA, FL_ROWS_DENSE);
	fl_schema_free(s);
}

/* Bank marketing with splines: B-spline pairs in the compact rows (knots
 * from the data, a special value, a missing indicator beside a spline),
 * one-hot groups, bins with their knots given (a one-hot group too) and a
 * plain number. */
static const char SPLINE_SCHEMA[] =
        "{\"fedlead_schema\": 1,\n"
        " \"label\": {\"column\": \"y\", \"positive\": \"yes\", \"negative\": \"no\"},\n"
        " \"ignore\": [\"marital\", \"education\", \"default\", \"housing\", \"loan\",\n"
        "            \"contact\", \"campaign\", \"poutcome\"],\n"
        " \"features\": [\n"
        "  {\"name\": \"age\", \"type\": \"numeric\", \"transform\": \"spline\"},\n"
        "  {\"name\": \"job\", \"type\": \"categorical\", \"values\": [\"admin.\",\n"
        "   \"blue-collar\", \"management\", \"retired\", \"student\"], \"other\": true},\n"
        "  {\"name\": \"balance\", \"type\": \"numeric\", \"clip\": [-600, 23000],\n"
        "   \"transform\": \"spline\", \"knots\": 8},\n"
        "  {\"name\": \"month\", \"type\": \"categorical\", \"values\": [\"may\", \"jun\",\n"
        "   \"jul\", \"aug\", \"oct\"], \"other\": true},\n"
        "  {\"name\": \"duration\", \"type\": \"numeric\", \"missing\": \"impute\",\n"
        "   \"transform\": \"spline\", \"knots\": 6},\n"
        "  {\"name\": \"pdays\", \"type\": \"numeric\", \"transform\": \"spline\",\n"
        "   \"knots\": 4, \"special\": [-1]},\n"
        "  {\"name\": \"day\", \"type\": \"numeric\", \"transform\": \"bins\",\n"
        "   \"knots\": [0.5, 5.5, 10.5, 15.5, 20.5, 25.5, 31.5]},\n"
        "  {\"name\": \"previous\", \"type\": \"numeric\"}]}\n";

static struct fl_schema *spline_schema(void)
{
	struct fl_schema *s = NULL;

	assert_int_equal(fl_schema_parse(SPLINE_SCHEMA, strlen(SPLINE_SCHEMA), "s.json", &s), 0);
	return s;
}

/* The rows fedlead-node train stores for a spline schema. */
static struct fl_rowset *spline_rows(struct fl_schema *s, enum fl_rows_layout lay)
{
	struct fl_rowset *rs = NULL;
	struct fl_load_report rep;

	if (fl_rowset_load(s, BANK_DATA, FL_BAD_ROWS_FAIL, lay, &rs, &rep) != 0 ||
	    fl_spline_prepare_rows(s, rs) != 0)
		fail_msg("%s", fl_errmsg());
	return rs;
}

/*
 * Splines stored as pairs (their raw B-spline window) give the model of
 * the dense encoded columns: the same rows back bit for bit, and the same
 * weights to 1e-12 relative with --l2 auto; and the same bits for any
 * thread count.
 */
static void test_spline_pairs(void **state)
{
	struct fl_schema *sd = spline_schema(), *sc = spline_schema();
	struct fl_rowset *dense = spline_rows(sd, FL_ROWS_DENSE), *rs = NULL;
	struct fl_model *md = NULL, *mc = NULL, *mt[3] = {NULL, NULL, NULL};
	struct fl_train_report rd, rc, rt[3];
	struct fl_train_opts o;
	double *x = malloc(sd->dim * sizeof(double)), *y = malloc(sd->dim * sizeof(double));

	(void)state;
	assert_non_null(x);
	assert_non_null(y);
	assert_int_equal(fl_rowset_layout_auto(sc), FL_ROWS_COMPACT);
	rs = spline_rows(sc, FL_ROWS_AUTO);
	/* Four splines as pairs; the one-hot groups, the bins (knots given)
	 * and the missing indicator as slots; the intercept and previous
	 * dense. */
	assert_int_equal(rs->ns, 4);
	assert_int_equal(rs->nk, 4);
	assert_int_equal(rs->nd, 2);
	assert_null(rs->R);
	for (size_t i = 0; i < sd->n_features; i++)
		if (sd->features[i].knots != NULL)
			assert_memory_equal(sd->features[i].knots, sc->features[i].knots,
			                    sd->features[i].n_knots * sizeof(double));
	for (size_t i = 0; i < rs->n; i++) {
		fl_rowset_row(dense, i, x);
		fl_rowset_row(rs, i, y);
		assert_memory_equal(x, y, sd->dim * sizeof(double));
	}
	fl_train_opts_default(&o);
	o.l2_auto = 1;
	o.kfold = 3;
	if (fl_train_rows(sd, dense, &o, &md, &rd) != 0 || fl_train_rows(sc, rs, &o, &mc, &rc) != 0)
		fail_msg("%s", fl_errmsg());
	/* The P-spline columns make the weakest strength (0.01, chosen here)
	 * ill-conditioned: the dense kernel alone, its rows only chunked
	 * differently (another summation order), moves these weights by
	 * 1.1e-10, and the pairs' sums (raw basis, then mapped back) by
	 * 2.1e-10. Both are inside the precision Newton stops at (1e-9 of the
	 * weights), and the objective agrees to 1e-12. */
	assert_true(rd.l2 == rc.l2);
	assert_true(rel_diff(md->w, mc->w, sd->dim) <= 1e-9);
	assert_true(fabs(rd.status.objective - rc.status.objective) <=
	            1e-12 * fabs(rd.status.objective));
	assert_memory_equal(md->scaler->baseline, mc->scaler->baseline, sd->dim * sizeof(double));
	fl_model_free(md);
	fl_model_free(mc);
	/* At l2 = 1 the fit is well conditioned: 6.5e-12 apart. */
	{
		struct fl_schema *s2 = spline_schema(), *s3 = spline_schema();
		struct fl_rowset *d2 = spline_rows(s2, FL_ROWS_DENSE);
		struct fl_rowset *c3 = spline_rows(s3, FL_ROWS_COMPACT);

		o.l2_auto = 0;
		o.l2 = 1;
		if (fl_train_rows(s2, d2, &o, &md, &rd) != 0 ||
		    fl_train_rows(s3, c3, &o, &mc, &rc) != 0)
			fail_msg("%s", fl_errmsg());
		assert_true(rel_diff(md->w, mc->w, sd->dim) <= 1e-11);
		assert_true(fabs(rd.status.objective - rc.status.objective) <=
		            1e-12 * fabs(rd.status.objective));
		fl_rowset_free(d2);
		fl_rowset_free(c3);
		fl_schema_free(s2);
		fl_schema_free(s3);
	}
	fl_rowset_free(rs);
	/* 1, 2 and 3 threads over chunks of 300 rows, with a validation
	 * split: the same weights to the bit. */
	o.l2_auto = 0;
	o.l2 = 1;
	o.valid_frac = 0.2;
	for (unsigned t = 1; t <= 3; t++) {
		struct fl_schema *s = spline_schema();

		rs = spline_rows(s, FL_ROWS_COMPACT);
		rs->chunk_rows = 300;
		o.threads = t;
		if (fl_train_rows(s, rs, &o, &mt[t - 1], &rt[t - 1]) != 0)
			fail_msg("%u threads: %s", t, fl_errmsg());
		fl_rowset_free(rs);
		fl_schema_free(s);
	}
	for (int k = 1; k < 3; k++) {
		assert_memory_equal(mt[0]->w, mt[k]->w, sd->dim * sizeof(double));
		assert_int_equal(rt[0].status.iterations, rt[k].status.iterations);
	}
	for (int k = 0; k < 3; k++)
		fl_model_free(mt[k]);
	fl_model_free(md);
	fl_model_free(mc);
	fl_rowset_free(dense);
	fl_schema_free(sd);
	fl_schema_free(sc);
	free(x);
	free(y);
}

/* Standardises rs with its own statistics (as training does). */
static void standardize_own(const struct fl_schema *s, struct fl_rowset *rs)
{
	struct fl_stats *st = NULL;
	struct fl_scaler *sc = NULL;

	assert_int_equal(fl_stats_new(s->dim, &st), 0);
	fl_rowset_stats(rs, st);
	assert_int_equal(fl_scaler_from_stats(s, st, &sc), 0);
	assert_int_equal(fl_rowset_standardize(rs, sc), 0);
	fl_scaler_free(sc);
	fl_stats_free(st);
}

/*
 * One pass over splines stored as pairs: the group x window terms, the
 * windows' scores and their gradient are added by SSE2 or AVX2 copies of
 * one kernel each, which give the same bits (on a CPU without AVX2 both
 * runs take the SSE2 copies); and the pass matches fl_linalg_logistic()
 * on the dense encoded columns.
 */
static void test_spline_windows_simd(void **state)
{
	struct fl_schema *sd = spline_schema(), *sc = spline_schema();
	struct fl_rowset *dense = spline_rows(sd, FL_ROWS_DENSE);
	struct fl_rowset *rs = spline_rows(sc, FL_ROWS_COMPACT);
	size_t d = sd->dim;
	double *w = malloc(d * sizeof(double)), *c = malloc(rs->n * sizeof(double));
	double *g[3], *h[3], l[3];
	uint64_t rng = 5;

	(void)state;
	assert_non_null(w);
	assert_non_null(c);
	pass_bufs(d, 3, g, h);
	assert_true(rs->ns > 0 && rs->nk > 0);
	standardize_own(sd, dense);
	standardize_own(sc, rs);
	random_weights(&rng, 0.4, w, d);
	for (size_t i = 0; i < rs->n; i++)
		c[i] = rs->y[i] > 0.5 ? 3.0 : 1.0;
	rs->chunk_rows = 1000;
	assert_int_equal(fl_rowset_logistic(rs, c, w, 2, &l[0], g[0], h[0]), 0);
	fl_rowset_pass_no_avx2 = 1;
	assert_int_equal(fl_rowset_logistic(rs, c, w, 2, &l[1], g[1], h[1]), 0);
	fl_rowset_pass_no_avx2 = 0;
	assert_true(l[0] == l[1]);
	assert_memory_equal(g[0], g[1], d * sizeof(double));
	assert_memory_equal(h[0], h[1], d * d * sizeof(double));
	assert_int_equal(fl_rowset_logistic(dense, c, w, 1, &l[2], g[2], h[2]), 0);
	assert_pass_close(l[2], g[2], h[2], l[0], g[0], h[0], d);
	pass_bufs_free(3, g, h);
	free(w);
	free(c);
	fl_rowset_free(rs);
	fl_rowset_free(dense);
	fl_schema_free(sd);
	fl_schema_free(sc);
}

/* One pass with the Hessian over rs, into l, g and h (d, d * d). */
static void pass_hess(const struct fl_rowset *rs, const double *w, double *l, double *g, double *h)
{
	assert_int_equal(fl_rowset_logistic(rs, NULL, w, 2, l, g, h), 0);
}

/*
 * The order of the leads a pass with the Hessian keeps for the next pass
 * over the same rows (rowset.h, order) gives the bits of a pass that
 * sorts for itself: on the first pass that builds it, on the next that
 * reads it, through a view of all the rows, and after the rows change
 * under it (a fold rowset emptied and filled with other leads, as
 * cross-validation does; other chunks), when it must be built again.
 */
static void test_spline_order_kept(void **state)
{
	struct fl_schema *sc = spline_schema(), *s2 = spline_schema();
	struct fl_rowset *rs = spline_rows(sc, FL_ROWS_COMPACT);
	struct fl_rowset *bare = spline_rows(s2, FL_ROWS_COMPACT), *fold = NULL, view;
	size_t d = sc->dim, half;
	double *w = malloc(d * sizeof(double)), l[2], *g[2], *h[2];
	uint64_t rng = 11;

	(void)state;
	assert_non_null(w);
	pass_bufs(d, 2, g, h);
	standardize_own(sc, rs);
	standardize_own(s2, bare);
	assert_non_null(rs->order);
	/* bare sorts in every pass */
	fl_rowset_order_free(bare->order);
	bare->order = NULL;
	random_weights(&rng, 0.4, w, d);
	rs->chunk_rows = bare->chunk_rows = 700;
	pass_hess(bare, w, &l[0], g[0], h[0]);
	for (int rep = 0; rep < 2; rep++) {
		pass_hess(rs, w, &l[1], g[1], h[1]);
		assert_true(l[0] == l[1]);
		assert_memory_equal(g[0], g[1], d * sizeof(double));
		assert_memory_equal(h[0], h[1], d * d * sizeof(double));
	}
	fl_rowset_view(rs, 0, rs->n, &view);
	pass_hess(&view, w, &l[1], g[1], h[1]);
	assert_memory_equal(h[0], h[1], d * d * sizeof(double));
	/* Other chunks: built again, the same bits as sorting each pass. */
	rs->chunk_rows = bare->chunk_rows = 300;
	pass_hess(bare, w, &l[0], g[0], h[0]);
	pass_hess(rs, w, &l[1], g[1], h[1]);
	assert_memory_equal(h[0], h[1], d * d * sizeof(double));
	/* A fold's rows: the second half first, a pass, then the rows
	 * replaced by the first half (the same count and arrays). */
	half = rs->n / 2;
	assert_int_equal(fl_rowset_new_like(rs, rs->n, &fold), 0);
	for (size_t i = half; i < 2 * half; i++)
		assert_int_equal(fl_rowset_append(fold, rs, i), 0);
	pass_hess(fold, w, &l[1], g[1], h[1]);
	fold->n = 0;
	for (size_t i = 0; i < half; i++)
		assert_int_equal(fl_rowset_append(fold, rs, i), 0);
	pass_hess(fold, w, &l[1], g[1], h[1]);
	fl_rowset_view(bare, 0, half, &view);
	pass_hess(&view, w, &l[0], g[0], h[0]);
	assert_true(l[0] == l[1]);
	assert_memory_equal(h[0], h[1], d * d * sizeof(double));
	pass_bufs_free(2, g, h);
	free(w);
	fl_rowset_free(fold);
	fl_rowset_free(rs);
	fl_rowset_free(bare);
	fl_schema_free(sc);
	fl_schema_free(s2);
}

/*
 * More one-hot groups than 16-bit places of one sub-block's leads could
 * count all together (300 groups of 256 leads): the pass with splines
 * beside them still matches the dense encoded columns, with the order
 * kept and without it.
 */
static void test_spline_many_groups(void **state)
{
	enum { GROUPS = 300, ROWS = 700, JS_CAP = 128 * GROUPS + 512 };
	char *path = strdup("/tmp/fl-test-rowset-XXXXXX"), *js = malloc(JS_CAP);
	struct fl_schema *s[2] = {NULL, NULL};
	struct fl_rowset *rs[2] = {NULL, NULL};
	struct fl_load_report rep;
	uint64_t rng = 5;
	size_t o = 0, d;
	double *w, *g[2], *h[2], l[2];
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(path);
	assert_non_null(js);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "x");
	for (int c = 0; c < GROUPS; c++)
		fprintf(f, ",c%d", c);
	fprintf(f, ",y\n");
	for (int i = 0; i < ROWS; i++) {
		fprintf(f, "%g", (double)(fl_splitmix64(&rng) % 1000) / 10.0);
		for (int c = 0; c < GROUPS; c++)
			fprintf(f, ",%c", "abc"[fl_splitmix64(&rng) % 3]);
		fprintf(f, ",%s\n", fl_splitmix64(&rng) % 3 == 0 ? "yes" : "no");
	}
	assert_int_equal(fclose(f), 0);
	o += (size_t)snprintf(js + o, JS_CAP - o,
	                      "{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", "
	                      "\"positive\": \"yes\", \"negative\": \"no\"}, "
	                      "\"features\": [{\"name\": \"x\", \"type\": \"numeric\", "
	                      "\"transform\": \"spline\", \"knots\": 5}");
	for (int c = 0; c < GROUPS; c++)
		o += (size_t)snprintf(js + o, JS_CAP - o,
		                      ", {\"name\": \"c%d\", \"type\": \"categorical\", "
		                      "\"values\": [\"a\", \"b\"], \"other\": true}",
		                      c);
	o += (size_t)snprintf(js + o, JS_CAP - o, "]}");
	assert_true(o < JS_CAP);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(fl_schema_parse(js, o, "many.json", &s[k]), 0);
		if (fl_rowset_load(s[k], path, FL_BAD_ROWS_FAIL,
		                   k ? FL_ROWS_COMPACT : FL_ROWS_DENSE, &rs[k], &rep) != 0 ||
		    fl_spline_prepare_rows(s[k], rs[k]) != 0)
			fail_msg("%s", fl_errmsg());
	}
	assert_int_equal(rs[1]->nk, GROUPS);
	assert_int_equal(rs[1]->ns, 1);
	d = s[0]->dim;
	w = malloc(d * sizeof(double));
	assert_non_null(w);
	pass_bufs(d, 2, g, h);
	random_weights(&rng, 0.2, w, d);
	pass_hess(rs[0], w, &l[0], g[0], h[0]);
	for (int rep2 = 0; rep2 < 3; rep2++) {
		if (rep2 == 2) { /* sorting each pass for itself */
			fl_rowset_order_free(rs[1]->order);
			rs[1]->order = NULL;
		}
		pass_hess(rs[1], w, &l[1], g[1], h[1]);
		assert_pass_close(l[0], g[0], h[0], l[1], g[1], h[1], d);
	}
	pass_bufs_free(2, g, h);
	for (int k = 0; k < 2; k++) {
		fl_rowset_free(rs[k]);
		fl_schema_free(s[k]);
	}
	free(w);
	unlink(path);
	free(path);
	free(js);
}

/*
 * rs[0] dense, rs[1] compact keeping its order, rs[2] the same rows
 * sorting in every pass: the compact pass matches the dense encoded
 * columns, and rs[1] gives rs[2]'s bits on the pass that builds its order
 * and on the next, which reads it. l, g and h: three passes' room (rs[2]'s
 * pass left in l[1], g[1], h[1]).
 */
static void check_kept(struct fl_rowset *const *rs, const double *w, size_t d, double *l,
                       double *const *g, double *const *h)
{
	pass_hess(rs[0], w, &l[0], g[0], h[0]);
	pass_hess(rs[2], w, &l[1], g[1], h[1]);
	assert_pass_close(l[0], g[0], h[0], l[1], g[1], h[1], d);
	for (int rep = 0; rep < 2; rep++) {
		pass_hess(rs[1], w, &l[2], g[2], h[2]);
		assert_true(l[1] == l[2]);
		assert_memory_equal(g[1], g[2], d * sizeof(double));
		assert_memory_equal(h[1], h[2], d * d * sizeof(double));
	}
}

/*
 * Splines beside five dense columns and no groups: the spline blocks'
 * Hessian summed by window pairs (rowset_pass.c, window_syrk()) and the
 * dense columns' rows four at a time and one at a time match the dense
 * encoded columns, and give the same bits with the order kept (built,
 * then read), without it, and in the SSE2 copies.
 */
static void test_spline_window_pairs(void **state)
{
	static const char js[] =
	        "{\"fedlead_schema\": 1,\n"
	        " \"label\": {\"column\": \"y\", \"positive\": \"yes\", \"negative\": \"no\"},\n"
	        " \"ignore\": [\"job\", \"marital\", \"education\", \"default\", \"housing\",\n"
	        "            \"loan\", \"contact\", \"month\", \"poutcome\"],\n"
	        " \"features\": [\n"
	        "  {\"name\": \"age\", \"type\": \"numeric\"},\n"
	        "  {\"name\": \"balance\", \"type\": \"numeric\", \"clip\": [-600, 23000],\n"
	        "   \"transform\": \"spline\", \"knots\": 8},\n"
	        "  {\"name\": \"day\", \"type\": \"numeric\"},\n"
	        "  {\"name\": \"duration\", \"type\": \"numeric\", \"transform\": \"spline\",\n"
	        "   \"knots\": 6},\n"
	        "  {\"name\": \"campaign\", \"type\": \"numeric\"},\n"
	        "  {\"name\": \"pdays\", \"type\": \"numeric\", \"transform\": \"spline\",\n"
	        "   \"knots\": 4},\n"
	        "  {\"name\": \"previous\", \"type\": \"numeric\"}]}\n";
	struct fl_schema *s[3] = {NULL, NULL, NULL};
	struct fl_rowset *rs[3];
	size_t d;
	double *w, *g[4], *h[4], l[4];
	uint64_t rng = 17;

	(void)state;
	for (int k = 0; k < 3; k++) {
		assert_int_equal(fl_schema_parse(js, strlen(js), "w.json", &s[k]), 0);
		rs[k] = spline_rows(s[k], k == 0 ? FL_ROWS_DENSE : FL_ROWS_COMPACT);
		standardize_own(s[k], rs[k]);
		rs[k]->chunk_rows = 900;
	}
	assert_int_equal(rs[1]->nd, 5);
	assert_int_equal(rs[1]->nk, 0);
	assert_int_equal(rs[1]->ns, 3);
	assert_non_null(rs[1]->order);
	/* rs[2] sorts in every pass */
	fl_rowset_order_free(rs[2]->order);
	rs[2]->order = NULL;
	d = s[0]->dim;
	assert_non_null(w = malloc(d * sizeof(double)));
	pass_bufs(d, 4, g, h);
	random_weights(&rng, 0.4, w, d);
	check_kept(rs, w, d, l, g, h);
	fl_rowset_pass_no_avx2 = 1;
	pass_hess(rs[1], w, &l[3], g[3], h[3]);
	fl_rowset_pass_no_avx2 = 0;
	assert_memory_equal(h[1], h[3], d * d * sizeof(double));
	pass_bufs_free(4, g, h);
	for (int k = 0; k < 3; k++) {
		fl_rowset_free(rs[k]);
		fl_schema_free(s[k]);
	}
	free(w);
}

/*
 * Splines of one window (2 knots: a block of four columns), of many
 * windows (64 knots, a special value and missing values imputed: wide
 * window-pair buckets) and of a few, beside a plain number, with and
 * without a one-hot group; rows in chunks of 1000 with a short last
 * chunk (600 rows, its last sub-block 88), two threads building the kept
 * order's chunks at once. The compact pass matches the dense encoded
 * columns; with the order kept it gives the bits of a pass that sorts
 * for itself, on the pass that builds it, on the next, over a view of
 * rows from the middle (another start, count and chunking), over the
 * whole rows again, and after the validation rows are moved to the end
 * in place twice (the same count, chunking and arrays: only the split
 * marking the order stale tells it the rows changed).
 */
static void check_window_edges(int groups)
{
	enum { ROWS = 2600 };
	char *path = strdup("/tmp/fl-test-rowset-XXXXXX"), js[1024];
	struct fl_schema *s[3] = {NULL, NULL, NULL};
	struct fl_rowset *rs[3] = {NULL, NULL, NULL}, va, vb;
	struct fl_load_report rep;
	uint64_t rng = 23;
	size_t d;
	double *w, *g[3], *h[3], l[3];
	FILE *f;
	int fd;

	assert_non_null(path);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "a,b,c,e,k,y\n");
	for (int i = 0; i < ROWS; i++) {
		uint64_t u = fl_splitmix64(&rng);
		double a = (double)(u % 100000) / 1000.0, b = (double)((u >> 20) % 1000000) / 7.0;
		double c = (double)((u >> 40) % 5000) / 50.0, e = (double)((u >> 50) % 97);
		double z = 0.02 * a - 0.00001 * b + 0.01 * c - 1;

		fprintf(f, "%.3f,", a);
		if ((u >> 8) % 13 == 0 && groups)
			fprintf(f, ",");
		else if ((u >> 8) % 13 == 1)
			fprintf(f, "-1,");
		else
			fprintf(f, "%.4f,", b);
		fprintf(f, "%.2f,%g,%c,%s\n", c, e, "pqrs"[(u >> 4) % 4],
		        (double)(fl_splitmix64(&rng) >> 11) / 9007199254740992.0 <
		                        1.0 / (1.0 + exp(-z))
		                ? "yes"
		                : "no");
	}
	assert_int_equal(fclose(f), 0);
	snprintf(js, sizeof(js),
	         "{\"fedlead_schema\": 1,\n"
	         " \"label\": {\"column\": \"y\", \"positive\": \"yes\", \"negative\": \"no\"},\n"
	         "%s"
	         " \"features\": [\n"
	         "  {\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\",\n"
	         "   \"knots\": 2},\n"
	         "  {\"name\": \"b\", \"type\": \"numeric\", \"transform\": \"spline\",\n"
	         "   \"knots\": 64, \"special\": [-1]%s},\n"
	         "  {\"name\": \"c\", \"type\": \"numeric\", \"transform\": \"spline\"},\n"
	         "%s"
	         "  {\"name\": \"e\", \"type\": \"numeric\"}]}\n",
	         groups ? "" : " \"ignore\": [\"k\"],\n", groups ? ", \"missing\": \"impute\"" : "",
	         groups ? "  {\"name\": \"k\", \"type\": \"categorical\",\n"
	                  "   \"values\": [\"p\", \"q\", \"r\"], \"other\": true},\n"
	                : "");
	for (int k = 0; k < 3; k++) {
		assert_int_equal(fl_schema_parse(js, strlen(js), "edges.json", &s[k]), 0);
		if (fl_rowset_load(s[k], path, FL_BAD_ROWS_FAIL,
		                   k ? FL_ROWS_COMPACT : FL_ROWS_DENSE, &rs[k], &rep) != 0 ||
		    fl_spline_prepare_rows(s[k], rs[k]) != 0)
			fail_msg("%s", fl_errmsg());
		standardize_own(s[k], rs[k]);
		rs[k]->chunk_rows = 1000;
	}
	assert_int_equal(rs[1]->ns, 3);
	assert_int_equal(rs[1]->nk, groups ? 2 : 0); /* k, b's missing indicator */
	assert_non_null(rs[1]->order);
	/* rs[2] sorts in every pass */
	fl_rowset_order_free(rs[2]->order);
	rs[2]->order = NULL;
	d = s[0]->dim;
	assert_non_null(w = malloc(d * sizeof(double)));
	pass_bufs(d, 3, g, h);
	random_weights(&rng, 0.4, w, d);
	check_kept(rs, w, d, l, g, h);
	/* a view from the middle, in chunks of 300 */
	fl_rowset_view(rs[1], 333, 1555, &va);
	fl_rowset_view(rs[2], 333, 1555, &vb);
	va.chunk_rows = vb.chunk_rows = 300;
	for (int rep2 = 0; rep2 < 2; rep2++) {
		pass_hess(&vb, w, &l[1], g[1], h[1]);
		pass_hess(&va, w, &l[2], g[2], h[2]);
		assert_true(l[1] == l[2]);
		assert_memory_equal(h[1], h[2], d * d * sizeof(double));
	}
	pass_hess(rs[2], w, &l[1], g[1], h[1]);
	pass_hess(rs[1], w, &l[2], g[2], h[2]);
	assert_memory_equal(h[1], h[2], d * d * sizeof(double));
	/* the validation rows moved to the end in place (the same count and
	 * arrays, other rows under the order) */
	for (int k = 0; k < 3; k++) {
		size_t nt;

		assert_int_equal(fl_rowset_split(rs[k], 0.25, 9, &nt), 0);
		assert_true(nt > 0 && nt < ROWS);
		rs[k]->chunk_rows = 700;
	}
	pass_hess(rs[2], w, &l[1], g[1], h[1]);
	pass_hess(rs[1], w, &l[2], g[2], h[2]);
	assert_memory_equal(h[1], h[2], d * d * sizeof(double));
	for (int k = 0; k < 3; k++)
		assert_int_equal(fl_rowset_split(rs[k], 0.25, 7, &(size_t){0}), 0);
	pass_hess(rs[0], w, &l[0], g[0], h[0]);
	pass_hess(rs[2], w, &l[1], g[1], h[1]);
	assert_pass_close(l[0], g[0], h[0], l[1], g[1], h[1], d);
	pass_hess(rs[1], w, &l[2], g[2], h[2]);
	assert_true(l[1] == l[2]);
	assert_memory_equal(h[1], h[2], d * d * sizeof(double));
	pass_bufs_free(3, g, h);
	for (int k = 0; k < 3; k++) {
		fl_rowset_free(rs[k]);
		fl_schema_free(s[k]);
	}
	free(w);
	unlink(path);
	free(path);
}

static void test_spline_window_edges(void **state)
{
	(void)state;
	check_window_edges(0);
	check_window_edges(1);
}

/* The split in place keeps fl_dataset_split()'s rows, in order. */
static void test_split_in_place(void **state)
{
	struct fl_schema *s = load_schema(COIL_SCHEMA);
	struct fl_dataset *ds = load_data(s, COIL_DATA), *t = NULL, *v = NULL;
	struct fl_rowset *rs = NULL;
	double *x = malloc(s->dim * sizeof(double));
	size_t nt;

	(void)state;
	assert_non_null(x);
	assert_int_equal(fl_dataset_split(ds, 0.3, 11, &t, &v), 0);
	assert_int_equal(fl_rowset_from_dataset(s, ds, FL_ROWS_COMPACT, &rs), 0);
	assert_int_equal(fl_rowset_split(rs, 0.3, 11, &nt), 0);
	assert_int_equal(nt, t->n);
	assert_int_equal(rs->n, t->n + v->n);
	for (size_t i = 0; i < rs->n; i++) {
		const struct fl_dataset *p = i < nt ? t : v;
		size_t k = i < nt ? i : i - nt;

		fl_rowset_row(rs, i, x);
		assert_memory_equal(x, p->X + k * s->dim, s->dim * sizeof(double));
		assert_true(rs->y[i] == p->y[k]);
	}
	assert_int_equal(fl_rowset_split(rs, 1.0, 11, &nt), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "validation fraction 1 must be greater than 0 and less than 1");
	fl_rowset_free(rs);
	fl_dataset_free(t);
	fl_dataset_free(v);
	fl_dataset_free(ds);
	fl_schema_free(s);
	free(x);
}

/* A row that is not one-hot in a group is refused by compact rows, and
 * kept dense when the layout is left to fedlead. */
static void test_not_one_hot(void **state)
{
	struct fl_schema *s = NULL;
	char *path = write_mixed(10, &s);
	struct fl_dataset *ds = load_data(s, path);
	struct fl_rowset *rs = NULL;
	size_t src = s->features[1].enc_offset;
	char want[80];

	(void)state;
	/* A column that is not 0 or 1, alone in its group. */
	memset(ds->X + 3 * s->dim + src, 0, s->features[1].enc_width * sizeof(double));
	ds->X[3 * s->dim + src + 1] = 0.5;
	assert_int_equal(fl_rowset_from_dataset(s, ds, FL_ROWS_COMPACT, &rs), FL_ERR_DATA);
	assert_null(rs);
	snprintf(want, sizeof(want), "row does not fit the compact layout (column %zu)", src + 1);
	assert_string_equal(fl_errmsg(), want);
	/* Two ones in a group: the second is named. */
	ds->X[3 * s->dim + src] = 1.0;
	ds->X[3 * s->dim + src + 1] = 1.0;
	assert_int_equal(fl_rowset_from_dataset(s, ds, FL_ROWS_COMPACT, &rs), FL_ERR_DATA);
	assert_null(rs);
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(fl_rowset_from_dataset(s, ds, FL_ROWS_AUTO, &rs), 0);
	assert_int_equal(rs->nk, 0);
	fl_rowset_free(rs);
	fl_dataset_free(ds);
	unlink(path);
	free(path);
	fl_schema_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_layout_chosen),
	        cmocka_unit_test(test_numeric_schema_is_dense),
	        cmocka_unit_test(test_same_rows_and_stats),
	        cmocka_unit_test(test_pass_matches_dense),
	        cmocka_unit_test(test_pass_sampled),
	        cmocka_unit_test(test_train_both_layouts),
	        cmocka_unit_test(test_threads_bit_identical),
	        cmocka_unit_test(test_spline_pairs),
	        cmocka_unit_test(test_spline_windows_simd),
	        cmocka_unit_test(test_spline_order_kept),
	        cmocka_unit_test(test_spline_many_groups),
	        cmocka_unit_test(test_spline_window_pairs),
	        cmocka_unit_test(test_spline_window_edges),
	        cmocka_unit_test(test_split_in_place),
	        cmocka_unit_test(test_not_one_hot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
