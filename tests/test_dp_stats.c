/*
 * Tests for the statistics round under differential privacy with feature
 * transforms and wide clip ranges (src/fed/payload.c): what the
 * coordinator decodes from three partners' noised statistics for a log1p
 * feature, for a bins block and for a spline block, and that a wide clip
 * range fits the statistics' fixed-point bound.
 *
 * Expected values are computed here from the raw values the test writes
 * (plain means and shares), never from the code under test; the
 * tolerances are 6 standard deviations of the noise as the plan states it
 * (a failure by chance has probability below 1e-8 per comparison).
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
#include "fedlead/fixedpoint.h"
#include "fedlead/payload.h"
#include "fedlead/schema.h"
#include "fedlead/secagg.h"

#define assert_near(a, b, tol)                                                                     \
	do {                                                                                       \
		double a_ = (a), b_ = (b);                                                         \
		if (!(fabs(a_ - b_) <= (tol)))                                                     \
			fail_msg("%s = %.17g, expected %.17g (tolerance %g)", #a, a_, b_,          \
			         (double)(tol));                                                   \
	} while (0)

/* The rho of a statistics release at epsilon 1 (bench/README.md's share). */
#define RHO 0.0024
#define PARTNERS 3

static uint64_t rng = 88172645463325252ull;

static double uniform(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* Parses json and loads csv text through the real encoder. */
static void load(const char *json, const char *csv, struct fl_schema **s, struct fl_dataset **ds)
{
	char path[] = "/tmp/fl-dpstats-XXXXXX";
	int fd = mkstemp(path);
	FILE *fp;
	struct fl_load_report rep;

	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	fputs(csv, fp);
	fclose(fp);
	if (fl_schema_parse(json, strlen(json), "inline", s) != 0)
		fail_msg("%s", fl_errmsg());
	if (fl_dataset_load(*s, path, FL_BAD_ROWS_FAIL, ds, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	unlink(path);
}

/*
 * What the coordinator decodes: the first partner holds the rows, the two
 * others none (their noise still counts); each sends its noised vector
 * through the statistics' fixed point (fl_fixed_encode() against the bound
 * for PARTNERS, as fl_secagg_node_start() does), the coordinator sums,
 * unpacks and denoises (as fl_coord_finish_stats()). Returns the plan.
 */
static struct fl_stats *federated_stats(const struct fl_schema *s, const struct fl_dataset *ds,
                                        struct fl_stats_dp *p)
{
	size_t len = fl_payload_stats_len(s->dim), bad;
	double *v = malloc(len * sizeof(double)), *sum = calloc(len, sizeof(double));
	uint64_t *enc = malloc(len * sizeof(uint64_t));
	double *back = malloc(len * sizeof(double));
	double bound = fl_fixed_bound(FL_SECAGG_STATS_FRAC_BITS, PARTNERS);
	struct fl_stats *st = NULL;

	assert_non_null(v);
	assert_non_null(sum);
	assert_non_null(enc);
	assert_non_null(back);
	assert_int_equal(fl_payload_stats_dp_plan(s, RHO, PARTNERS - 1, FL_SECAGG_STATS_FRAC_BITS,
	                                          1099511627776.0, p),
	                 0);
	for (int k = 0; k < PARTNERS; k++) {
		if (fl_payload_stats_dp_pack(s, ds->X, ds->y, k == 0 ? ds->n : 0, v) != 0)
			fail_msg("%s", fl_errmsg());
		assert_int_equal(fl_payload_stats_dp_noise(s, p, v), 0);
		if (fl_fixed_encode(v, len, FL_SECAGG_STATS_FRAC_BITS, bound, enc, &bad) != 0)
			fail_msg("partner %d: %s", k, fl_errmsg());
		fl_fixed_decode(enc, len, FL_SECAGG_STATS_FRAC_BITS, back);
		for (size_t j = 0; j < len; j++) {
			assert_true(back[j] == v[j]); /* on the grid: exact */
			sum[j] += back[j];
		}
	}
	assert_int_equal(fl_payload_stats_unpack(sum, s->dim, &st), 0);
	fl_payload_stats_denoise(s, st, 1);
	free(v);
	free(sum);
	free(enc);
	free(back);
	return st;
}

/* The standard deviation of the summed noise on an entry of scale 2^e. */
static double noise_sd(const struct fl_stats_dp *p, int e)
{
	return sqrt(PARTNERS * p->sigma2) * ldexp(1, e - p->grid_bits);
}

/*
 * log1p, clip [0, 1e6]: 20,000 revenues from 54 to 22,000 (log1p from 4 to
 * 10). The coordinator's centre and scale are the plain mean and standard
 * deviation of log1p(v) within the noise; the release centres on the
 * log1p range's midpoint log1p(1e6) / 2 with half-width B = 6.9 (scaled by
 * 2^3, squares by 2^6), not on the raw clip's (which gave a scale of
 * 50,000 and a centre clamped to 0).
 */
static void test_log1p_decoded_near_true(void **state)
{
	const size_t n = 20000;
	const char *json =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"yes\","
	        " \"negative\": \"no\"}, \"features\": [{\"name\": \"rev\", \"type\": \"numeric\","
	        " \"clip\": [0, 1000000], \"transform\": \"log1p\"}]}";
	char *csv = malloc(40 * n + 16);
	size_t off = 0;
	double s1 = 0, s2 = 0, mean, sd, sd_sum, sd_sq, tol_c, tol_s;
	struct fl_schema *s = NULL;
	struct fl_dataset *ds = NULL;
	struct fl_stats *st;
	struct fl_scaler *sc = NULL;
	struct fl_stats_dp p;

	(void)state;
	assert_non_null(csv);
	off += (size_t)sprintf(csv, "won,rev\n");
	for (size_t i = 0; i < n; i++) {
		double v = round(exp(4 + 6 * uniform()) - 1), l = log1p(v);

		off += (size_t)sprintf(csv + off, "%s,%.0f\n", i % 3 ? "no" : "yes", v);
		s1 += l;
		s2 += l * l;
	}
	mean = s1 / (double)n;
	sd = sqrt(s2 / (double)n - mean * mean);
	load(json, csv, &s, &ds);
	st = federated_stats(s, ds, &p);
	/* rows (2^-2), positives (2^0) and the two sums, hand-computed:
	 * B = log1p(1e6) / 2 = 6.9078, B / 8 and B^2 / 64 */
	assert_int_equal(p.n_noised, 4);
	{
		double B = log1p(1e6) / 2, b1 = B / 8, b2 = B * B / 64;

		assert_near(p.l2 * p.l2, 1.0 / 16 + 1 + b1 * b1 + b2 * b2, 1e-12);
	}
	assert_int_equal(fl_scaler_from_stats(s, st, &sc), 0);
	/* Propagated from the noise of the rows (scale 4), the centred sum
	 * (2^3) and sum of squares (2^6): mean = S1 / rows + mid, var = S2 /
	 * rows - (S1 / rows)^2, with c = mean - mid and q = E[(x - mid)^2]. */
	{
		double mid = log1p(1e6) / 2, c = mean - mid, q = sd * sd + c * c;
		double sr = noise_sd(&p, 2) / (double)n, d_mean, d_var;

		sd_sum = noise_sd(&p, 3) / (double)n;
		sd_sq = noise_sd(&p, 6) / (double)n;
		d_mean = sd_sum + fabs(c) * sr;
		d_var = sd_sq + q * sr + 2 * fabs(c) * d_mean;
		tol_c = 6 * d_mean;
		tol_s = 6 * d_var / (2 * sd);
	}
	printf("  log1p: true centre %.5f scale %.5f; decoded %.5f %.5f (tolerance %.3g %.3g)\n",
	       mean, sd, sc->center[1], sc->scale[1], tol_c, tol_s);
	assert_near(sc->center[1], mean, tol_c);
	assert_near(sc->scale[1], sd, tol_s);
	/* The noise leaves the feature usable: six standard deviations of the
	 * decoded scale are 11 % of it (the statistics' tenth of epsilon 1,
	 * 20,000 leads, the positives count at a full part of the
	 * sensitivity), where reading log1p values as raw ones decoded a
	 * scale 30,000 times too large. */
	assert_true(tol_s < 0.125 * sd);
	fl_scaler_free(sc);
	fl_stats_free(st);
	fl_dataset_free(ds);
	fl_schema_free(s);
	free(csv);
}

/* A log1p feature whose clip starts at or below -1 is refused by name. */
static void test_log1p_clip_below_minus_one(void **state)
{
	const char *json =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"yes\","
	        " \"negative\": \"no\"}, \"features\": [{\"name\": \"rev\", \"type\": \"numeric\","
	        " \"clip\": [-1, 100], \"transform\": \"log1p\"}]}";
	struct fl_schema *s = NULL;
	struct fl_stats_dp p;

	(void)state;
	if (fl_schema_parse(json, strlen(json), "inline", &s) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(fl_payload_stats_dp_plan(s, RHO, 2, 16, 1e12, &p), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "feature \"rev\" has \"transform\": \"log1p\" and clip "
	                                 "[-1, 100]: log1p needs values above -1, so its clip "
	                                 "must start above -1");
	fl_schema_free(s);
}

/* Writes n rows of "won,rev": 10 % missing, 10 % the special -1, the rest
 * from 54 to 22,000 (log-uniform), and counts each bin of knots
 * [0, 100, 1000, 10000, 1e6] (shares[0..3]), specials (4) and missing (5). */
static char *bins_csv(size_t n, double *shares)
{
	char *csv = malloc(40 * n + 16);
	size_t off = 0;

	assert_non_null(csv);
	memset(shares, 0, 6 * sizeof(double));
	off += (size_t)sprintf(csv, "won,rev\n");
	for (size_t i = 0; i < n; i++) {
		const char *lab = i % 3 ? "no" : "yes";

		if (i % 10 == 0) {
			off += (size_t)sprintf(csv + off, "%s,\n", lab);
			shares[5]++;
		} else if (i % 10 == 1) {
			off += (size_t)sprintf(csv + off, "%s,-1\n", lab);
			shares[4]++;
		} else {
			double v = round(exp(4 + 6 * uniform()) - 1);

			off += (size_t)sprintf(csv + off, "%s,%.0f\n", lab, v);
			shares[v < 100 ? 0 : v < 1000 ? 1 : v < 10000 ? 2 : 3]++;
		}
	}
	for (int k = 0; k < 6; k++)
		shares[k] /= (double)n;
	return csv;
}

/*
 * Bins with a special value and a missing indicator, under DP: every
 * column of the block is released as a level (exactly one 1 per lead), so
 * the baselines are the true shares within the noise, the missing share
 * lands in the block's last column (not in the second bin), and the
 * release spends nothing on a "value": l2^2 = 1 / 16 (rows) + 1
 * (positives) + 1 / 4.
 */
static void test_bins_baselines(void **state)
{
	const size_t n = 20000;
	const char *json =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"yes\","
	        " \"negative\": \"no\"}, \"features\": [{\"name\": \"rev\", \"type\": \"numeric\","
	        " \"missing\": \"impute\", \"clip\": [-1, 1000000], \"transform\": \"bins\","
	        " \"knots\": [0, 100, 1000, 10000, 1000000], \"special\": [-1]}]}";
	double shares[6], tol;
	char *csv = bins_csv(n, shares);
	struct fl_schema *s = NULL;
	struct fl_dataset *ds = NULL;
	struct fl_stats *st;
	struct fl_scaler *sc = NULL;
	struct fl_stats_dp p;

	(void)state;
	load(json, csv, &s, &ds);
	assert_int_equal(s->dim, 7);
	st = federated_stats(s, ds, &p);
	assert_int_equal(p.n_noised, 2 + 6);
	assert_near(p.l2 * p.l2, 1.3125, 1e-12);
	assert_near(p.l1, 1.75, 1e-12);
	assert_int_equal(fl_scaler_from_stats(s, st, &sc), 0);
	/* share = sum / rows: the sum's noise (scale 2) and the rows' (scale 4) */
	tol = 6 * (noise_sd(&p, 1) + noise_sd(&p, 2)) / (double)n + 1.0 / (double)n;
	for (int k = 0; k < 6; k++) {
		printf("  bins column %d: true share %.4f, baseline %.4f\n", k + 1, shares[k],
		       sc->baseline[1 + k]);
		assert_near(sc->baseline[1 + k], shares[k], tol);
		assert_true(sc->center[1 + k] == 0 && sc->scale[1 + k] == 1);
	}
	fl_scaler_free(sc);
	fl_stats_free(st);
	fl_dataset_free(ds);
	fl_schema_free(s);
	free(csv);
}

/*
 * A spline block with a special value and a missing indicator: its
 * special-value and missing indicators are released as levels (at most
 * one 1 per lead) and decoded into their own columns; its basis columns
 * are not released and spend nothing (baseline 0, centre 0, scale 1):
 * 4 entries, l2^2 = 1 / 16 + 1 + 1 / 4.
 */
static void test_spline_indicators(void **state)
{
	const size_t n = 20000;
	const char *json =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"yes\","
	        " \"negative\": \"no\"}, \"features\": [{\"name\": \"rev\", \"type\": \"numeric\","
	        " \"missing\": \"impute\", \"clip\": [-1, 1000000], \"transform\": \"spline\","
	        " \"knots\": [0, 100, 1000, 10000, 1000000], \"special\": [-1]}]}";
	double shares[6], tol;
	char *csv = bins_csv(n, shares);
	struct fl_schema *s = NULL;
	struct fl_dataset *ds = NULL;
	struct fl_stats *st;
	struct fl_scaler *sc = NULL;
	struct fl_stats_dp p;

	(void)state;
	load(json, csv, &s, &ds);
	assert_int_equal(s->dim, 1 + 7 + 2);
	st = federated_stats(s, ds, &p);
	assert_int_equal(p.n_noised, 4);
	assert_near(p.l2 * p.l2, 1.3125, 1e-12);
	assert_int_equal(fl_scaler_from_stats(s, st, &sc), 0);
	for (size_t j = 1; j <= 7; j++)
		assert_true(sc->baseline[j] == 0 && sc->center[j] == 0 && sc->scale[j] == 1);
	tol = 6 * (noise_sd(&p, 1) + noise_sd(&p, 2)) / (double)n + 1.0 / (double)n;
	printf("  spline: special share %.4f baseline %.4f, missing share %.4f baseline %.4f\n",
	       shares[4], sc->baseline[8], shares[5], sc->baseline[9]);
	assert_near(sc->baseline[8], shares[4], tol);
	assert_near(sc->baseline[9], shares[5], tol);
	fl_scaler_free(sc);
	fl_stats_free(st);
	fl_dataset_free(ds);
	fl_schema_free(s);
	free(csv);
}

/*
 * Wide clips against the statistics' fixed-point bound (4.69e13 for three
 * partners at 16 fraction bits): clip [0, 1e6] with 5,000 leads in its
 * lowest 5 % has a raw centred sum of squares of about 5,000 * (5e5)^2 =
 * 1.2e15, which did not fit; sent in scaled units (each entry at most the
 * rows plus noise) it fits, for every partner, and the decoded centre is
 * the plain mean within the noise.
 */
static void test_wide_clip_fits(void **state)
{
	const size_t n = 5000;
	const char *json =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"yes\","
	        " \"negative\": \"no\"}, \"features\": [{\"name\": \"x\", \"type\": \"numeric\","
	        " \"clip\": [0, 1000000]}]}";
	char *csv = malloc(40 * n + 16);
	size_t off = 0;
	double s1 = 0, tol;
	struct fl_schema *s = NULL;
	struct fl_dataset *ds = NULL;
	struct fl_stats *st;
	struct fl_scaler *sc = NULL;
	struct fl_stats_dp p;

	(void)state;
	assert_non_null(csv);
	off += (size_t)sprintf(csv, "won,x\n");
	for (size_t i = 0; i < n; i++) {
		double v = round(5e4 * uniform());

		off += (size_t)sprintf(csv + off, "%s,%.0f\n", i % 3 ? "no" : "yes", v);
		s1 += v;
	}
	load(json, csv, &s, &ds);
	st = federated_stats(s, ds, &p); /* fails if any partner's vector is out of bounds */
	assert_int_equal(fl_scaler_from_stats(s, st, &sc), 0);
	/* the sum is scaled by 2^19 (B = 5e5); the rows' error moves the mean
	 * by (mean - mid) / n per row */
	tol = 6 * noise_sd(&p, 19) / (double)n + 6 * noise_sd(&p, 2) * 5e5 / (double)n;
	printf("  wide clip: true mean %.1f, decoded %.1f (tolerance %.3g)\n", s1 / (double)n,
	       sc->center[1], tol);
	assert_near(sc->center[1], s1 / (double)n, tol);
	fl_scaler_free(sc);
	fl_stats_free(st);
	fl_dataset_free(ds);
	fl_schema_free(s);
	free(csv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_log1p_decoded_near_true),
	        cmocka_unit_test(test_log1p_clip_below_minus_one),
	        cmocka_unit_test(test_bins_baselines),
	        cmocka_unit_test(test_spline_indicators),
	        cmocka_unit_test(test_wide_clip_fits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
