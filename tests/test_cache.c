/*
 * Tests for src/cache.c: a CSV converted into a cache holds exactly the
 * standardised rows, labels and statistics the in-memory path computes;
 * the windowed gradient passes give fl_linalg_logistic's sums (bit for bit
 * with one window, to rounding with many); training over the cache takes
 * the in-memory solver's steps; damaged, truncated or foreign caches are
 * refused with exact messages; a failed conversion leaves nothing behind;
 * and the fedlead-node cache / train --cache commands, when built.
 *
 * Data: tests/data/encode/leads.schema.json (10 encoded columns: intercept,
 * age, age (missing), visits, region=north/south/(other), tier=1/2/3) with
 * the 4-row fixture leads.csv, and a generated CSV of 3000 rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fedlead/cache.h"
#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/logreg.h"
#include "fedlead/schema.h"

#define DIM 10
#define SCHEMA_PATH FL_TEST_DATA "/encode/leads.schema.json"
#define LEADS_PATH FL_TEST_DATA "/encode/leads.csv"
#define NODE_BIN FL_BIN_DIR "/fedlead-node"
#define ROWS 3000

/*
 * cmocka 1.1 counts a skip() as neither a failure nor anything else its
 * return value shows: cmocka_run_group_tests() returns 0 and the program
 * would pass. Skips are counted here, with their reason printed, and main()
 * exits 77 (ctest's SKIP_RETURN_CODE) when there was one and nothing failed.
 */
static int skipped_tests;
#define skip_because(why)                                                                          \
	do {                                                                                       \
		print_message("skipped: %s\n", why);                                               \
		skipped_tests++;                                                                   \
		skip();                                                                            \
	} while (0)

/* A scratch directory per test, removed with everything in it. */
struct scratch {
	char dir[64];
	char csv[96], flc[96];
};

static void scratch_new(struct scratch *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/fl_test_cache_XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->csv, sizeof(t->csv), "%s/leads.csv", t->dir);
	snprintf(t->flc, sizeof(t->flc), "%s/leads.flc", t->dir);
}

/* Number of entries in the scratch directory (besides . and ..). */
static int scratch_count(const struct scratch *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void scratch_free(struct scratch *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	char p[400];

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	assert_int_equal(rmdir(t->dir), 0);
}

static struct fl_schema *load_schema(void)
{
	struct fl_schema *s = NULL;

	if (fl_schema_load(SCHEMA_PATH, &s) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(s->dim, DIM);
	return s;
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* xorshift64*: deterministic test data, independent of the code tested. */
static uint64_t rng_state = 88172645463325252ULL;

static double unif(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ULL) >> 11) * 0x1.0p-53;
}

/* ROWS leads for leads.schema.json: ages with 10 % missing, visits 0-9,
 * four region spellings (one unlisted, one empty), tiers 1-3, and an
 * outcome drawn from a logistic model so both classes occur, overlapping. */
static void write_leads(const char *path, size_t rows)
{
	static const char *const region[] = {"north", "south", "west", ""};
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	rng_state = 88172645463325252ULL;
	fprintf(fp, "lead,age,visits,region,tier,won,notes\n");
	for (size_t i = 0; i < rows; i++) {
		int missing = unif() < 0.1, visits = (int)(unif() * 10), reg = (int)(unif() * 4);
		int tier = 1 + (int)(unif() * 3);
		double age = 18 + 60 * unif();
		double z = -1.0 + 0.03 * (age - 45) + 0.2 * (visits - 4.5) - 0.7 * (reg == 0) +
		           0.4 * (tier == 3);
		int won = unif() < 1 / (1 + exp(-z));
		char agebuf[32] = "";

		if (!missing)
			snprintf(agebuf, sizeof(agebuf), "%.2f", age);
		fprintf(fp, "L%zu,%s,%d,%s,%d,%s,note %zu\n", i, agebuf, visits, region[reg], tier,
		        won ? "yes" : "no", i);
	}
	assert_int_equal(fclose(fp), 0);
}

/* The in-memory pipeline: load, standardise with the rows' own stats. */
static struct fl_dataset *load_standardised(const struct fl_schema *s, const char *path,
                                            struct fl_scaler **sc)
{
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;

	if (fl_dataset_load(s, path, FL_BAD_ROWS_FAIL, &ds, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	if (fl_scaler_from_stats(s, ds->stats, sc) != 0)
		fail_msg("%s", fl_errmsg());
	fl_dataset_standardize(ds, *sc);
	return ds;
}

static struct fl_cache *convert_open(const struct fl_schema *s, const char *csv, const char *flc)
{
	struct fl_load_report rep;
	struct fl_cache *c = NULL;

	if (fl_cache_convert(s, csv, flc, FL_BAD_ROWS_FAIL, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	if (fl_cache_open(s, flc, &c) != 0)
		fail_msg("%s", fl_errmsg());
	return c;
}

static void assert_same_bits(const double *a, const double *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], sizeof(double)) != 0)
			fail_msg("[%zu]: %.17g != %.17g", i, a[i], b[i]);
}

/* |got - want| <= tol * scale for every element, scale = max |want| or 1. */
static void assert_close_vec(const double *got, const double *want, size_t n, double tol)
{
	double scale = 1;

	for (size_t i = 0; i < n; i++)
		scale = fmax(scale, fabs(want[i]));
	for (size_t i = 0; i < n; i++)
		if (!(fabs(got[i] - want[i]) <= tol * scale))
			fail_msg("[%zu]: got %.17g, want %.17g", i, got[i], want[i]);
}

/* ---- what the cache holds ---- */

struct rows {
	double *z, *y;
	size_t n, cap;
};

static int collect(void *arg, double z, double y)
{
	struct rows *r = arg;

	assert_true(r->n < r->cap);
	r->z[r->n] = z;
	r->y[r->n++] = y;
	return 0;
}

/* Column j of the cached X, read through fl_cache_scores with w = e_j:
 * x.e_j is x_j exactly (the other products are exact zeros). */
static void cached_column(const struct fl_cache *c, size_t j, struct rows *r)
{
	double w[DIM] = {0};

	w[j] = 1;
	r->n = 0;
	assert_int_equal(fl_cache_scores(c, w, collect, r), 0);
	assert_int_equal(r->n, fl_cache_rows(c));
}

static void test_fixture_by_hand(void **state)
{
	struct fl_schema *s = load_schema();
	struct scratch t;
	struct fl_cache *c;
	const struct fl_stats *st;
	double z[4], y[4];
	struct rows r = {z, y, 0, 4};
	/* leads.csv ages 42.5, (missing), 30, -10: the mean and population
	 * standard deviation of the three present values, by hand. */
	double mean = 62.5 / 3, sd = sqrt((42.5 * 42.5 + 30 * 30 + 100) / 3 - mean * mean);
	/* visits 3, 0, 1, 2: mean 1.5 */
	double vsd = sqrt(14.0 / 4 - 1.5 * 1.5);

	(void)state;
	scratch_new(&t);
	c = convert_open(s, LEADS_PATH, t.flc);
	assert_int_equal(fl_cache_rows(c), 4);
	assert_int_equal(fl_cache_dim(c), DIM);
	assert_int_equal(fl_cache_skipped(c), 0);
	st = fl_cache_stats(c);
	assert_true(st->rows == 4 && st->positives == 2);
	assert_true(st->count[1] == 3 && st->sum[1] == 62.5 && st->min[1] == -10 &&
	            st->max[1] == 42.5);
	assert_true(st->sum[2] == 1); /* one age missing */

	cached_column(c, 1, &r);
	assert_close_vec(z, (double[]){(42.5 - mean) / sd, 0, (30 - mean) / sd, (-10 - mean) / sd},
	                 4, 1e-14);
	assert_same_bits(y, (double[]){1, 0, 0, 1}, 4);
	cached_column(c, 3, &r);
	assert_close_vec(z, (double[]){1.5 / vsd, -1.5 / vsd, -0.5 / vsd, 0.5 / vsd}, 4, 1e-14);
	cached_column(c, 0, &r); /* the intercept stays 1 */
	assert_same_bits(z, (double[]){1, 1, 1, 1}, 4);
	cached_column(c, 6, &r); /* region=(other): west and empty */
	assert_same_bits(z, (double[]){0, 1, 0, 1}, 4);
	fl_cache_free(c);
	fl_cache_free(NULL);

	/* The file is exactly as long as the layout says: a 4 KiB-aligned X
	 * after the header and statistics, then the labels. */
	{
		struct stat sb;
		uint64_t x_off = ((176 + (2 + 5 * DIM) * 8) + 4095) / 4096 * 4096;
		uint64_t y_off = (x_off + 4 * DIM * 8 + 4095) / 4096 * 4096;

		assert_int_equal(stat(t.flc, &sb), 0);
		assert_int_equal((uint64_t)sb.st_size, y_off + 4 * 8);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	scratch_free(&t);
	fl_schema_free(s);
}

static void test_same_rows_as_memory(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_scaler *sc = NULL;
	struct fl_dataset *ds;
	struct fl_cache *c;
	struct scratch t;
	struct rows r;
	const struct fl_stats *st;

	(void)state;
	scratch_new(&t);
	write_leads(t.csv, ROWS);
	ds = load_standardised(s, t.csv, &sc);
	c = convert_open(s, t.csv, t.flc);
	assert_int_equal(fl_cache_rows(c), ds->n);
	assert_int_equal(ds->n, ROWS);

	/* Same statistics and scaler, to the bit. */
	st = fl_cache_stats(c);
	assert_true(st->rows == ds->stats->rows && st->positives == ds->stats->positives);
	assert_true(st->positives > 300 && st->positives < ROWS - 300);
	assert_same_bits(st->count, ds->stats->count, DIM);
	assert_same_bits(st->sum, ds->stats->sum, DIM);
	assert_same_bits(st->sumsq, ds->stats->sumsq, DIM);
	assert_same_bits(st->min, ds->stats->min, DIM);
	assert_same_bits(st->max, ds->stats->max, DIM);
	assert_same_bits(fl_cache_scaler(c)->center, sc->center, DIM);
	assert_same_bits(fl_cache_scaler(c)->scale, sc->scale, DIM);
	assert_same_bits(fl_cache_scaler(c)->impute, sc->impute, DIM);

	/* Same standardised rows and labels, column by column, through small
	 * windows whose edges fall inside pages. */
	r.cap = ROWS;
	r.z = malloc(ROWS * sizeof(double));
	r.y = malloc(ROWS * sizeof(double));
	assert_non_null(r.z);
	assert_non_null(r.y);
	assert_int_equal(fl_cache_set_window(c, 1000), 0);
	for (size_t j = 0; j < 2 * DIM; j++) {
		if (j == DIM) { /* and again through memory mappings */
			assert_int_equal(fl_cache_set_access(c, FL_CACHE_MMAP), 0);
			assert_int_equal(fl_cache_set_window(c, 5000), 0);
		}
		cached_column(c, j % DIM, &r);
		for (size_t i = 0; i < ROWS; i++)
			if (memcmp(&r.z[i], &ds->X[i * DIM + j % DIM], sizeof(double)) != 0)
				fail_msg("row %zu column %zu: %.17g != %.17g", i, j % DIM, r.z[i],
				         ds->X[i * DIM + j % DIM]);
		assert_same_bits(r.y, ds->y, ROWS);
	}
	assert_int_equal(fl_cache_verify(c), 0);
	free(r.z);
	free(r.y);
	fl_cache_free(c);
	fl_dataset_free(ds);
	fl_scaler_free(sc);
	scratch_free(&t);
	fl_schema_free(s);
}

static int stop_at_ten(void *arg, double z, double y)
{
	(void)z;
	(void)y;
	return ++*(int *)arg == 10 ? -77 : 0;
}

static void test_scores(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_scaler *sc = NULL;
	struct fl_dataset *ds;
	struct fl_cache *c;
	struct scratch t;
	struct rows r = {0};
	double w[DIM];
	int calls = 0;

	(void)state;
	scratch_new(&t);
	write_leads(t.csv, ROWS);
	ds = load_standardised(s, t.csv, &sc);
	c = convert_open(s, t.csv, t.flc);
	for (size_t j = 0; j < DIM; j++)
		w[j] = unif() - 0.5;
	r.cap = ROWS;
	r.z = malloc(ROWS * sizeof(double));
	r.y = malloc(ROWS * sizeof(double));
	assert_non_null(r.z);
	assert_non_null(r.y);
	assert_int_equal(fl_cache_set_window(c, 4096 + 8), 0);
	assert_int_equal(fl_cache_scores(c, w, collect, &r), 0);
	assert_int_equal(r.n, ROWS);
	for (size_t i = 0; i < ROWS; i++) {
		double z = 0;

		for (size_t j = 0; j < DIM; j++)
			z += ds->X[i * DIM + j] * w[j];
		if (fabs(r.z[i] - z) > 1e-12 * (1 + fabs(z)))
			fail_msg("row %zu: %.17g, by hand %.17g", i, r.z[i], z);
	}
	/* A callback's non-zero return stops the pass and is passed on. */
	assert_int_equal(fl_cache_scores(c, w, stop_at_ten, &calls), -77);
	assert_int_equal(calls, 10);
	/* A window must hold something. */
	assert_int_equal(fl_cache_set_window(c, 0), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "cache: a window of 0 bytes holds no rows");
	free(r.z);
	free(r.y);
	fl_cache_free(c);
	fl_dataset_free(ds);
	fl_scaler_free(sc);
	scratch_free(&t);
	fl_schema_free(s);
}

/* ---- the gradient passes ---- */

static void test_logistic_sums(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_scaler *sc = NULL;
	struct fl_dataset *ds;
	struct fl_cache *c;
	struct scratch t;
	double w[DIM], loss_m, loss_c, g_m[DIM], g_c[DIM], h_m[DIM * DIM], h_c[DIM * DIM];
	double loss_n = 0, g_n[DIM] = {0}, cw[ROWS];
	static const size_t windows[] = {1000, 4096, 64 * 1024, 1u << 30};

	(void)state;
	scratch_new(&t);
	write_leads(t.csv, ROWS);
	ds = load_standardised(s, t.csv, &sc);
	c = convert_open(s, t.csv, t.flc);
	for (size_t j = 0; j < DIM; j++)
		w[j] = 0.6 * (unif() - 0.5);

	/* An independent naive sum, for the data term's definition. */
	for (size_t i = 0; i < ROWS; i++) {
		const double *x = ds->X + i * DIM;
		double z = 0, p;

		for (size_t j = 0; j < DIM; j++)
			z += x[j] * w[j];
		p = 1 / (1 + exp(-z));
		loss_n += log(1 + exp(z)) - ds->y[i] * z;
		for (size_t j = 0; j < DIM; j++)
			g_n[j] += (p - ds->y[i]) * x[j];
	}

	fl_linalg_logistic(ds->X, ds->n, DIM, ds->y, NULL, w, &loss_m, g_m, h_m);
	for (size_t k = 0; k < 2 * sizeof(windows) / sizeof(windows[0]); k++) {
		size_t nw = sizeof(windows) / sizeof(windows[0]);

		/* Both access methods, each with windows from a few rows (edges
		 * inside pages) to all of them. */
		assert_int_equal(fl_cache_set_access(c, k < nw ? FL_CACHE_READ : FL_CACHE_MMAP), 0);
		assert_int_equal(fl_cache_set_window(c, windows[k % nw]), 0);
		assert_int_equal(fl_cache_logistic(c, w, &loss_c, g_c, h_c), 0);
		if (windows[k % nw] >= ROWS * DIM * sizeof(double)) {
			/* One window: the very same call, the very same bits. */
			assert_same_bits(&loss_c, &loss_m, 1);
			assert_same_bits(g_c, g_m, DIM);
			assert_same_bits(h_c, h_m, DIM * DIM);
		} else {
			assert_close_vec(&loss_c, &loss_m, 1, 1e-12);
			assert_close_vec(g_c, g_m, DIM, 1e-12);
			assert_close_vec(h_c, h_m, DIM * DIM, 1e-12);
		}
		assert_close_vec(&loss_c, &loss_n, 1, 1e-10);
		assert_close_vec(g_c, g_n, DIM, 1e-10);
		/* Without the Hessian, the same loss and gradient. */
		assert_int_equal(fl_cache_logistic(c, w, &loss_c, g_c, NULL), 0);
		assert_close_vec(&loss_c, &loss_m, 1, 1e-12);
		assert_close_vec(g_c, g_m, DIM, 1e-12);
	}

	/* Class weights: converted rows count 2.5 times. */
	for (size_t i = 0; i < ROWS; i++)
		cw[i] = ds->y[i] > 0.5 ? 2.5 : 1.0;
	fl_linalg_logistic(ds->X, ds->n, DIM, ds->y, cw, w, &loss_m, g_m, h_m);
	assert_int_equal(fl_cache_set_window(c, 5000), 0);
	assert_int_equal(fl_cache_logistic_weighted(c, 2.5, w, &loss_c, g_c, h_c), 0);
	assert_close_vec(&loss_c, &loss_m, 1, 1e-12);
	assert_close_vec(g_c, g_m, DIM, 1e-12);
	assert_close_vec(h_c, h_m, DIM * DIM, 1e-12);
	assert_int_equal(fl_cache_logistic_weighted(c, -1, w, &loss_c, g_c, NULL), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "cache: class weight -1 must be positive");
	assert_int_equal(fl_cache_set_access(c, (enum fl_cache_access)7), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "cache: unknown access method 7");

	fl_cache_free(c);
	fl_dataset_free(ds);
	fl_scaler_free(sc);
	scratch_free(&t);
	fl_schema_free(s);
}

/* Passes on 1, 2 and 3 threads over three chunks of rows, each read in
 * several windows: the same bits, and the in-memory sums to rounding;
 * the same for the pass with a sampled Hessian. */
static void test_threads_same_bits(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_scaler *sc = NULL;
	struct fl_dataset *ds;
	struct fl_cache *c;
	struct scratch t;
	size_t n = 2 * FL_CACHE_CHUNK_ROWS + 777;
	double w[DIM], loss[3], g[3][DIM], h[3][DIM * DIM], loss_m, g_m[DIM], h_m[DIM * DIM];
	double *cw;

	(void)state;
	scratch_new(&t);
	write_leads(t.csv, n);
	ds = load_standardised(s, t.csv, &sc);
	c = convert_open(s, t.csv, t.flc);
	assert_int_equal(fl_cache_set_window(c, 5000 * DIM * sizeof(double)), 0);
	for (size_t j = 0; j < DIM; j++)
		w[j] = 0.6 * (unif() - 0.5);
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(fl_cache_logistic_threads(c, 2.0, k + 1, w, &loss[k], g[k], h[k]),
		                 0);
		if (k == 0)
			continue;
		assert_same_bits(&loss[k], &loss[0], 1);
		assert_same_bits(g[k], g[0], DIM);
		assert_same_bits(h[k], h[0], DIM * DIM);
	}
	assert_non_null(cw = malloc(n * sizeof(double)));
	for (size_t i = 0; i < n; i++)
		cw[i] = ds->y[i] > 0.5 ? 2.0 : 1.0;
	fl_linalg_logistic(ds->X, ds->n, DIM, ds->y, cw, w, &loss_m, g_m, h_m);
	assert_close_vec(&loss[0], &loss_m, 1, 1e-12);
	assert_close_vec(g[0], g_m, DIM, 1e-12);
	assert_close_vec(h[0], h_m, DIM * DIM, 1e-12);

	/* The sampled Hessian (cache.h): the same loss and gradient bits, the
	 * same Hessian bits on every thread count, and linalg.h's estimate
	 * (the sample's correlations, the exact diagonal) from the sum of
	 * each window's fl_linalg_logistic_sampled() (its rows numbered from
	 * the window's first). */
	for (unsigned k = 0; k < 3; k++) {
		double ls, gs[DIM];

		assert_int_equal(fl_cache_logistic_sampled(c, 2.0, k + 1, w, &ls, gs, h[k]), 0);
		assert_same_bits(&ls, &loss[0], 1);
		assert_same_bits(gs, g[0], DIM);
		if (k > 0)
			assert_same_bits(h[k], h[0], DIM * DIM);
	}
	{
		double hw[DIM * DIM] = {0}, hs[DIM * DIM], ls, gs[DIM], hd[DIM], hdw[DIM] = {0},
		                want[DIM * DIM];
		size_t drawn = 0, got;

		for (size_t c0 = 0; c0 < n; c0 += FL_CACHE_CHUNK_ROWS)
			for (size_t r0 = c0; r0 < n && r0 < c0 + FL_CACHE_CHUNK_ROWS; r0 += 5000) {
				size_t end =
				        c0 + FL_CACHE_CHUNK_ROWS < n ? c0 + FL_CACHE_CHUNK_ROWS : n;
				size_t m = end - r0 < 5000 ? end - r0 : 5000;

				fl_linalg_logistic_sampled(ds->X + r0 * DIM, m, DIM, ds->y + r0,
				                           cw + r0, w, r0, FL_HESS_SAMPLE_EVERY,
				                           &ls, gs, hs, hd, &got);
				for (size_t j = 0; j < DIM * DIM; j++)
					hw[j] += hs[j];
				for (size_t j = 0; j < DIM; j++)
					hdw[j] += hd[j];
				drawn += got;
			}
		assert_true(drawn > 0 && drawn < n);
		for (size_t j = 0; j < DIM; j++)
			for (size_t k = 0; k < DIM; k++)
				want[j * DIM + k] =
				        j == k ? hdw[j]
				               : hw[j * DIM + k] *
				                         sqrt(hdw[j] * hdw[k] /
				                              (hw[j * DIM + j] * hw[k * DIM + k]));
		assert_close_vec(h[0], want, DIM * DIM, 1e-12);
	}
	free(cw);
	fl_cache_free(c);
	fl_dataset_free(ds);
	fl_scaler_free(sc);
	fl_schema_free(s);
	scratch_free(&t);
}

static void count_progress(void *arg, const struct fl_solver_status *st)
{
	int *n = arg;

	assert_int_equal(st->evaluations, ++*n);
}

static void test_train_like_memory(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_scaler *sc = NULL;
	struct fl_dataset *ds;
	struct fl_cache *c;
	struct scratch t;
	struct fl_solver_status st_m, st_c;
	double w_m[DIM], w_c[DIM], cw[ROWS];
	int progress = 0;

	(void)state;
	scratch_new(&t);
	write_leads(t.csv, ROWS);
	ds = load_standardised(s, t.csv, &sc);
	c = convert_open(s, t.csv, t.flc);
	assert_int_equal(fl_cache_set_window(c, 7 * 1024), 0);
	for (int kind = FL_SOLVER_NEWTON; kind <= FL_SOLVER_LBFGS; kind++) {
		struct fl_solver_opts so = {.l2 = 1.0,
		                            .tol = 1e-10 * ROWS,
		                            .max_iter = kind == FL_SOLVER_NEWTON ? 100 : 10000};
		struct fl_logreg_data data = {ds->n, DIM, ds->X, ds->y, NULL};
		struct fl_cache_train_opts co = {
		        (enum fl_solver_kind)kind, so, 1.0, count_progress, &progress, 1};

		memset(w_m, 0, sizeof(w_m));
		memset(w_c, 0, sizeof(w_c));
		progress = 0;
		assert_int_equal(fl_logreg_train(&data, (enum fl_solver_kind)kind, &so, w_m, &st_m),
		                 0);
		assert_int_equal(fl_cache_train(c, &co, w_c, &st_c), 0);
		assert_true(st_m.converged && st_c.converged);
		assert_int_equal(progress, st_c.evaluations);
		if (kind == FL_SOLVER_NEWTON)
			assert_int_equal(st_c.iterations, st_m.iterations);
		assert_close_vec(w_c, w_m, DIM, 1e-8);
		assert_close_vec(&st_c.objective, &st_m.objective, 1, 1e-12);
	}

	/* Balanced-style class weights reach the weighted in-memory optimum. */
	for (size_t i = 0; i < ROWS; i++)
		cw[i] = ds->y[i] > 0.5 ? 3.0 : 1.0;
	{
		struct fl_solver_opts so = {.l2 = 0.5, .tol = 1e-10 * ROWS, .max_iter = 100};
		struct fl_logreg_data data = {ds->n, DIM, ds->X, ds->y, cw};
		struct fl_cache_train_opts co = {FL_SOLVER_NEWTON, so, 3.0, NULL, NULL, 1};

		memset(w_m, 0, sizeof(w_m));
		memset(w_c, 0, sizeof(w_c));
		assert_int_equal(fl_logreg_train(&data, FL_SOLVER_NEWTON, &so, w_m, &st_m), 0);
		assert_int_equal(fl_cache_train(c, &co, w_c, &st_c), 0);
		assert_close_vec(w_c, w_m, DIM, 1e-8);
		/* SGD is not an ask/tell solver. */
		co.kind = FL_SOLVER_SGD;
		assert_int_equal(fl_cache_train(c, &co, w_c, &st_c), FL_ERR_INVALID);
		assert_string_equal(fl_errmsg(),
		                    "solver: sgd is not an ask/tell solver (use newton or lbfgs)");
	}
	fl_cache_free(c);
	fl_dataset_free(ds);
	fl_scaler_free(sc);
	scratch_free(&t);
	fl_schema_free(s);
}

/* ---- refusing bad caches ---- */

static void patch(const char *path, long off, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, off), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void copy_file(const char *from, const char *to)
{
	char buf[8192];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t k;

	assert_non_null(in);
	assert_non_null(out);
	while ((k = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, k, out), k);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* Recomputes the header checksum after a patch, as a writer with a bug
 * would: SHA-256 over bytes 0..143 and the statistics section, at 144. */
static void reseal(const char *path)
{
	uint8_t buf[176 + (2 + 5 * DIM) * 8], sha[32];
	unsigned int len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(md, buf, 144), 1);
	assert_int_equal(EVP_DigestUpdate(md, buf + 176, sizeof(buf) - 176), 1);
	assert_int_equal(EVP_DigestFinal_ex(md, sha, &len), 1);
	EVP_MD_CTX_free(md);
	assert_int_equal(pwrite(fd, sha, 32, 144), 32);
	assert_int_equal(close(fd), 0);
}

/* Opens path expecting failure with exactly "path: tail". */
static void expect_refused(const struct fl_schema *s, const char *path, int code, const char *tail)
{
	struct fl_cache *c = (struct fl_cache *)1;
	char msg[512];

	assert_int_equal(fl_cache_open(s, path, &c), code);
	assert_null(c);
	snprintf(msg, sizeof(msg), "%s: %s", path, tail);
	assert_string_equal(fl_errmsg(), msg);
}

static void test_refused(void **state)
{
	struct fl_schema *s = load_schema(), *other = NULL;
	struct fl_cache *c;
	struct scratch t;
	char bad[128], tail[300], hex[65];
	struct stat sb;
	uint8_t byte;
	uint32_t u;
	/* The same features, another label value: another contract. */
	static const char other_json[] =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"yes\", "
	        "\"negative\": \"lost\"}, \"id\": \"lead\", \"features\": ["
	        "{\"name\": \"age\", \"type\": \"numeric\", \"missing\": \"impute\"},"
	        "{\"name\": \"visits\", \"type\": \"numeric\"},"
	        "{\"name\": \"region\", \"type\": \"categorical\", \"values\": [\"north\", "
	        "\"south\"], \"other\": true},"
	        "{\"name\": \"tier\", \"type\": \"categorical\", \"values\": [1, 2, 3]}],"
	        "\"ignore\": [\"notes\"]}";

	(void)state;
	scratch_new(&t);
	snprintf(bad, sizeof(bad), "%s/bad.flc", t.dir);
	c = convert_open(s, LEADS_PATH, t.flc);
	fl_cache_free(c);
	assert_int_equal(stat(t.flc, &sb), 0);

	/* Another schema. */
	assert_int_equal(fl_schema_parse(other_json, strlen(other_json), "other", &other), 0);
	assert_int_equal(other->dim, DIM);
	fl_schema_fingerprint_hex(s, hex);
	{
		char theirs[65];

		fl_schema_fingerprint_hex(other, theirs);
		snprintf(tail, sizeof(tail),
		         "the cache was built for another schema (fingerprint %.16s..., this "
		         "schema's is %.16s...); rebuild it with fedlead-node cache",
		         hex, theirs);
	}
	expect_refused(other, t.flc, FL_ERR_DATA, tail);

	/* A file cut inside the header. */
	copy_file(t.flc, bad);
	assert_int_equal(truncate(bad, 100), 0);
	expect_refused(s, bad, FL_ERR_DATA, "truncated header (100 bytes, a cache header has 176)");
	assert_int_equal(truncate(bad, 0), 0);
	expect_refused(s, bad, FL_ERR_DATA, "truncated header (0 bytes, a cache header has 176)");

	/* A file cut inside the rows, or with bytes added. */
	copy_file(t.flc, bad);
	assert_int_equal(truncate(bad, sb.st_size - 8), 0);
	snprintf(tail, sizeof(tail), "truncated cache (%lld bytes, the header says %lld)",
	         (long long)sb.st_size - 8, (long long)sb.st_size);
	expect_refused(s, bad, FL_ERR_DATA, tail);
	assert_int_equal(truncate(bad, sb.st_size + 1), 0);
	snprintf(tail, sizeof(tail), "overlong cache (%lld bytes, the header says %lld)",
	         (long long)sb.st_size + 1, (long long)sb.st_size);
	expect_refused(s, bad, FL_ERR_DATA, tail);
	/* Cut inside the statistics section. */
	assert_int_equal(truncate(bad, 200), 0);
	snprintf(tail, sizeof(tail), "truncated cache (200 bytes, the header says %lld)",
	         (long long)sb.st_size);
	expect_refused(s, bad, FL_ERR_DATA, tail);

	/* Not a cache at all. */
	copy_file(t.flc, bad);
	patch(bad, 0, "X", 1);
	expect_refused(s, bad, FL_ERR_DATA, "not a fedlead cache file (bad magic)");

	/* A future version. */
	copy_file(t.flc, bad);
	patch(bad, 8, "\x02\0\0\0", 4);
	expect_refused(s, bad, FL_ERR_DATA,
	               "cache version 2 is not supported (this build reads version 1)");

	/* Written on a machine of the other byte order. */
	copy_file(t.flc, bad);
	u = 0x04030201u;
	patch(bad, 12, &u, 4);
	expect_refused(s, bad, FL_ERR_DATA,
	               "the cache was written on a machine of another byte order");

	/* One flipped bit in the row count, in the statistics, in the
	 * fingerprint: the header checksum catches each. */
	copy_file(t.flc, bad);
	byte = 4 ^ 1; /* rows 4 -> 5 */
	patch(bad, 48, &byte, 1);
	expect_refused(s, bad, FL_ERR_DATA, "corrupt cache header (checksum mismatch)");
	copy_file(t.flc, bad);
	patch(bad, 176 + 8 * 3, "\x01", 1);
	expect_refused(s, bad, FL_ERR_DATA, "corrupt cache header (checksum mismatch)");
	copy_file(t.flc, bad);
	patch(bad, 16, "\xff", 1);
	expect_refused(s, bad, FL_ERR_DATA, "corrupt cache header (checksum mismatch)");

	/* A width out of range is refused before the statistics are read. */
	copy_file(t.flc, bad);
	patch(bad, 56, "\xff\xff\xff\xff\xff\xff\0\0", 8);
	expect_refused(s, bad, FL_ERR_DATA, "corrupt cache header (281474976710655 columns)");
	copy_file(t.flc, bad);
	patch(bad, 72, "\0\0\0\0\0\0\0\0", 8);
	expect_refused(s, bad, FL_ERR_DATA, "corrupt cache header (statistics section)");
	/* Inconsistent fields under a valid checksum (a writer's bug). */
	copy_file(t.flc, bad);
	patch(bad, 48, "\0\0\0\0\0\0\0\0", 8);
	reseal(bad);
	expect_refused(s, bad, FL_ERR_DATA, "corrupt cache header (0 rows)");
	copy_file(t.flc, bad);
	patch(bad, 48, "\x05", 1);
	reseal(bad);
	expect_refused(s, bad, FL_ERR_DATA, "corrupt cache header (section offsets)");
	copy_file(t.flc, bad);
	patch(bad, 88, "\0\0\0\0\0\0\0\0", 8);
	reseal(bad);
	expect_refused(s, bad, FL_ERR_DATA, "corrupt cache header (section offsets)");
	/* The checksum check itself: the untouched file resealed opens. */
	copy_file(t.flc, bad);
	reseal(bad);
	assert_int_equal(fl_cache_open(s, bad, &c), 0);
	fl_cache_free(c);

	/* A flipped bit in the rows is found by the full check only. */
	copy_file(t.flc, bad);
	patch(bad, 4096 + 8 * 11 + 7, "\x40", 1);
	assert_int_equal(fl_cache_open(s, bad, &c), 0);
	assert_int_equal(fl_cache_verify(c), FL_ERR_DATA);
	snprintf(tail, sizeof(tail), "%s: the cache data is corrupt (checksum mismatch)", bad);
	assert_string_equal(fl_errmsg(), tail);
	fl_cache_free(c);

	/* Nothing there. */
	snprintf(bad, sizeof(bad), "%s/none.flc", t.dir);
	expect_refused(s, bad, FL_ERR_IO, "No such file or directory");

	fl_schema_free(other);
	scratch_free(&t);
	fl_schema_free(s);
}

/* ---- conversion failures ---- */

static void test_convert_bad_rows(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_load_report rep;
	struct fl_cache *c;
	struct scratch t;
	char msg[300];

	(void)state;
	scratch_new(&t);
	write_text(t.csv, "lead,age,visits,region,tier,won,notes\n"
	                  "L1,42.5,3,south,2,yes,\n"
	                  "L2,30,many,north,1,no,\n"
	                  "L3,,1,north,3,no,\n");

	/* Fail: the row's message, and no file left behind (not even a
	 * temporary one). */
	assert_int_equal(fl_cache_convert(s, t.csv, t.flc, FL_BAD_ROWS_FAIL, &rep), FL_ERR_DATA);
	snprintf(msg, sizeof(msg), "%s:3:3: column \"visits\": \"many\" is not a number", t.csv);
	assert_string_equal(fl_errmsg(), msg);
	assert_int_equal(scratch_count(&t), 1);

	/* Skip: two rows, one skipped, its reason kept. */
	assert_int_equal(fl_cache_convert(s, t.csv, t.flc, FL_BAD_ROWS_SKIP, &rep), 0);
	assert_int_equal(rep.rows, 2);
	assert_int_equal(rep.skipped, 1);
	assert_int_equal(rep.n_samples, 1);
	assert_string_equal(rep.samples[0], msg);
	assert_int_equal(scratch_count(&t), 2);
	assert_int_equal(fl_cache_open(s, t.flc, &c), 0);
	assert_int_equal(fl_cache_rows(c), 2);
	assert_int_equal(fl_cache_skipped(c), 1);
	fl_cache_free(c);

	/* No usable rows. */
	write_text(t.csv, "lead,age,visits,region,tier,won,notes\n");
	assert_int_equal(fl_cache_convert(s, t.csv, t.flc, FL_BAD_ROWS_FAIL, &rep), FL_ERR_DATA);
	snprintf(msg, sizeof(msg), "%s: no usable data rows", t.csv);
	assert_string_equal(fl_errmsg(), msg);
	/* An empty file. */
	write_text(t.csv, "");
	assert_int_equal(fl_cache_convert(s, t.csv, t.flc, FL_BAD_ROWS_FAIL, &rep), FL_ERR_DATA);
	snprintf(msg, sizeof(msg), "%s: the file is empty (no header)", t.csv);
	assert_string_equal(fl_errmsg(), msg);
	/* A failed conversion leaves the previous cache alone. */
	assert_int_equal(fl_cache_open(s, t.flc, &c), 0);
	assert_int_equal(fl_cache_rows(c), 2);
	fl_cache_free(c);
	assert_int_equal(scratch_count(&t), 2);

	/* A missing input and an output directory that does not exist. */
	snprintf(msg, sizeof(msg), "%s/nope.csv", t.dir);
	assert_int_equal(fl_cache_convert(s, msg, t.flc, FL_BAD_ROWS_FAIL, &rep), FL_ERR_IO);
	strcat(msg, ": No such file or directory");
	assert_string_equal(fl_errmsg(), msg);
	{
		char out[200], want[600];

		snprintf(out, sizeof(out), "%s/no/such/dir/x.flc", t.dir);
		assert_int_equal(fl_cache_convert(s, LEADS_PATH, out, FL_BAD_ROWS_FAIL, &rep),
		                 FL_ERR_IO);
		snprintf(want, sizeof(want),
		         "%s: cannot create a temporary file in its directory: No such file or "
		         "directory",
		         out);
		assert_string_equal(fl_errmsg(), want);
	}
	assert_int_equal(scratch_count(&t), 2);
	scratch_free(&t);
	fl_schema_free(s);
}

/* ---- the command line ---- */

/* Runs a shell command with stderr captured into err; returns the exit
 * status. */
static int run(const char *cmd, char *err, size_t errsz)
{
	char full[2048], errpath[] = "/tmp/fl_test_cache_err_XXXXXX";
	int fd = mkstemp(errpath), st;
	FILE *fp;
	size_t k;

	assert_true(fd >= 0);
	close(fd);
	snprintf(full, sizeof(full), "%s >/dev/null 2>%s", cmd, errpath);
	st = system(full);
	fp = fopen(errpath, "r");
	assert_non_null(fp);
	k = fread(err, 1, errsz - 1, fp);
	err[k] = '\0';
	fclose(fp);
	unlink(errpath);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_cli(void **state)
{
	struct scratch t;
	char cmd[1024], err[2048], want[1024], model[128];
	struct stat sb;

	(void)state;
	if (access(NODE_BIN, X_OK) != 0)
		skip_because(NODE_BIN " is not built in this tree");
	scratch_new(&t);
	write_leads(t.csv, 500);
	snprintf(model, sizeof(model), "%s/m.fdl", t.dir);
	snprintf(cmd, sizeof(cmd), "%s cache --schema %s --data %s --out %s", NODE_BIN, SCHEMA_PATH,
	         t.csv, t.flc);
	assert_int_equal(run(cmd, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	snprintf(cmd, sizeof(cmd), "%s train --schema %s --cache %s --out %s --l2 1 --quiet",
	         NODE_BIN, SCHEMA_PATH, t.flc, model);
	assert_int_equal(run(cmd, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(stat(model, &sb), 0);

	/* Options that need the rows in memory are usage errors. */
	snprintf(cmd, sizeof(cmd), "%s train --schema %s --cache %s --out %s --l2 auto", NODE_BIN,
	         SCHEMA_PATH, t.flc, model);
	assert_int_equal(run(cmd, err, sizeof(err)), 2);
	assert_string_equal(err,
	                    "fedlead-node train: --cache trains on all cached rows with newton "
	                    "or lbfgs and a given --l2; --data, --l2 auto, --validation-split "
	                    "and --solver sgd need the rows in memory\n");

	/* A damaged cache is refused: exit 2, the library's message. */
	assert_int_equal(truncate(t.flc, 150), 0);
	snprintf(cmd, sizeof(cmd), "%s train --schema %s --cache %s --out %s", NODE_BIN,
	         SCHEMA_PATH, t.flc, model);
	assert_int_equal(run(cmd, err, sizeof(err)), 2);
	snprintf(want, sizeof(want),
	         "fedlead-node: %s: truncated header (150 bytes, a cache header has 176)\n", t.flc);
	assert_string_equal(err, want);
	scratch_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fixture_by_hand),
	        cmocka_unit_test(test_same_rows_as_memory),
	        cmocka_unit_test(test_scores),
	        cmocka_unit_test(test_logistic_sums),
	        cmocka_unit_test(test_train_like_memory),
	        cmocka_unit_test(test_threads_same_bits),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_convert_bad_rows),
	        cmocka_unit_test(test_cli),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	if (failed != 0)
		return failed;
	return skipped_tests > 0 ? 77 : 0;
}
