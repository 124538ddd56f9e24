/*
 * Tests for src/fedmsg.c: the layout of partner update vectors and the
 * federated validation metrics.
 *
 * Every expected value is worked out by hand in the comments (layouts,
 * histogram bins, AUC pair counts) or computed by a naive formula written
 * here (log-loss as -log(sigmoid), AUC by comparing every pair of scores).
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

#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/payload.h"
#include "fedlead/schema.h"

/* ---- independent helpers ---- */

/* cmocka 1.1 has no double comparison with a tolerance. */
#define assert_near(a, b, tol)                                                                     \
	do {                                                                                       \
		double a_ = (a), b_ = (b);                                                         \
		if (!(fabs(a_ - b_) <= (tol)))                                                     \
			fail_msg("%s = %.17g, expected %.17g (tolerance %g)", #a, a_, b_,          \
			         (double)(tol));                                                   \
	} while (0)

/* -log P(y | z) written through the sigmoid, not log1p/exp as the code does. */
static double naive_log_loss(double z, int pos)
{
	double p = 1.0 / (1.0 + exp(-z));

	return pos ? -log(p) : -log(1.0 - p);
}

/* Exact AUC: the share of (positive, negative) pairs ordered correctly, ties
 * counting one half. */
static double naive_auc(const double *z, const double *y, size_t n)
{
	double good = 0, pairs = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (y[i] > 0.5 && y[j] < 0.5) {
				pairs += 1;
				good += z[i] > z[j] ? 1 : z[i] == z[j] ? 0.5 : 0;
			}
	return good / pairs;
}

/* ---- lengths ---- */

static void test_lengths(void **state)
{
	(void)state;
	/* stats: rows, positives, then count, sum, sumsq of d columns. */
	assert_int_equal(fl_payload_stats_len(4), 2 + 12);
	/* validation: rows, positives, log-loss sum, two histograms. */
	assert_int_equal(fl_payload_valid_len(10), 3 + 20);
	/* eval, d = 4: loss + 4 gradient entries; the upper triangle of a 4x4
	 * matrix has 4 + 3 + 2 + 1 = 10 entries. */
	assert_int_equal(fl_payload_eval_len(4, 0, 0, 10), 5);
	assert_int_equal(fl_payload_eval_len(4, 1, 0, 10), 15);
	assert_int_equal(fl_payload_eval_len(4, 0, 1, 10), 5 + 23);
	assert_int_equal(fl_payload_eval_len(4, 1, 1, 10), 15 + 23);
	/* fedavg: rows, loss, rows * w. */
	assert_int_equal(fl_payload_fedavg_len(4, 0, 10), 6);
	assert_int_equal(fl_payload_fedavg_len(4, 1, 10), 6 + 23);
}

/* ---- Hessian upper triangle ---- */

static void test_hess_round_trip(void **state)
{
	/* A symmetric 3x3 matrix; its upper triangle row by row is
	 * 1 2 3 / 4 5 / 6. */
	const double H[9] = {1, 2, 3, 2, 4, 5, 3, 5, 6};
	const double tri[6] = {1, 2, 3, 4, 5, 6};
	double v[7], back[9];

	(void)state;
	v[6] = -99; /* a sentinel: the packer writes exactly 6 values */
	fl_payload_hess_pack(H, 3, v);
	for (int i = 0; i < 6; i++)
		assert_true(v[i] == tri[i]);
	assert_true(v[6] == -99);
	for (int i = 0; i < 9; i++)
		back[i] = NAN;
	fl_payload_hess_unpack(tri, 3, back);
	for (int i = 0; i < 9; i++)
		assert_true(back[i] == H[i]);
}

static void test_hess_one_by_one(void **state)
{
	const double H = 2.5;
	double v = 0, back = 0;

	(void)state;
	fl_payload_hess_pack(&H, 1, &v);
	assert_true(v == 2.5);
	fl_payload_hess_unpack(&v, 1, &back);
	assert_true(back == 2.5);
}

/* ---- statistics ---- */

static void test_stats_round_trip(void **state)
{
	struct fl_stats *st = NULL, *back = NULL;
	double v[2 + 3 * 2 + 1];

	(void)state;
	assert_int_equal(fl_stats_new(2, &st), 0);
	st->rows = 7;
	st->positives = 2;
	st->count[0] = 7;
	st->count[1] = 5;
	st->sum[0] = 7;
	st->sum[1] = 12.5;
	st->sumsq[0] = 7;
	st->sumsq[1] = 40.25;
	v[8] = -99;
	fl_payload_stats_pack(st, v);
	{
		const double want[8] = {7, 2, 7, 5, 7, 12.5, 7, 40.25};

		for (int i = 0; i < 8; i++)
			assert_true(v[i] == want[i]);
	}
	assert_true(v[8] == -99);
	assert_int_equal(fl_payload_stats_unpack(v, 2, &back), 0);
	assert_non_null(back);
	assert_int_equal(back->dim, 2);
	assert_true(back->rows == 7 && back->positives == 2);
	assert_true(back->count[0] == 7 && back->count[1] == 5);
	assert_true(back->sum[0] == 7 && back->sum[1] == 12.5);
	assert_true(back->sumsq[0] == 7 && back->sumsq[1] == 40.25);
	fl_stats_free(st);
	fl_stats_free(back);
}

/* Packing what fl_stats_add() gathered and adding two partners' vectors
 * gives the statistics of all their rows. */
static void test_stats_sum_of_partners(void **state)
{
	const double rows[4][2] = {{1, 2}, {1, NAN}, {1, -1}, {1, 4}};
	const double y[4] = {1, 0, 0, 1};
	struct fl_stats *a = NULL, *b = NULL, *sum = NULL;
	double va[8], vb[8];

	(void)state;
	assert_int_equal(fl_stats_new(2, &a), 0);
	assert_int_equal(fl_stats_new(2, &b), 0);
	fl_stats_add(a, rows[0], y[0]);
	fl_stats_add(a, rows[1], y[1]);
	fl_stats_add(b, rows[2], y[2]);
	fl_stats_add(b, rows[3], y[3]);
	fl_payload_stats_pack(a, va);
	fl_payload_stats_pack(b, vb);
	for (int i = 0; i < 8; i++)
		va[i] += vb[i];
	assert_int_equal(fl_payload_stats_unpack(va, 2, &sum), 0);
	/* 4 rows, 2 converted; column 1 present in 3 rows: 2 - 1 + 4 = 5,
	 * 4 + 1 + 16 = 21. */
	assert_true(sum->rows == 4 && sum->positives == 2);
	assert_true(sum->count[0] == 4 && sum->sum[0] == 4 && sum->sumsq[0] == 4);
	assert_true(sum->count[1] == 3 && sum->sum[1] == 5 && sum->sumsq[1] == 21);
	fl_stats_free(a);
	fl_stats_free(b);
	fl_stats_free(sum);
}

/* ---- validation sums and metrics ---- */

/* With d = 1 and w = 1 the logit of a row is its value, so the test chooses
 * the scores directly. bins = 10 over [-5, 5]: bin b holds [b - 5, b - 4). */
#define BINS 10
#define RANGE 5.0

static void test_valid_pack_layout(void **state)
{
	const double X[3] = {2.5, -1.5, 0.5}, y[3] = {1, 0, 1}, w = 1;
	double v[3 + 2 * BINS];

	(void)state;
	fl_payload_valid_pack(X, y, 3, 1, &w, BINS, RANGE, v);
	assert_true(v[0] == 3);
	assert_true(v[1] == 2);
	assert_near(v[2], naive_log_loss(2.5, 1) + naive_log_loss(-1.5, 0) + naive_log_loss(0.5, 1),
	            1e-14);
	/* Positives at 2.5 (bin 7) and 0.5 (bin 5); the negative at -1.5 in bin 3. */
	for (int b = 0; b < BINS; b++) {
		assert_true(v[3 + b] == (b == 7 || b == 5 ? 1 : 0));
		assert_true(v[3 + BINS + b] == (b == 3 ? 1 : 0));
	}
}

static void test_valid_pack_weights_and_clamping(void **state)
{
	/* Two columns: an intercept of -1 and a weight of 2, so z = 2 x - 1.
	 * x = 100 and x = -100 fall outside [-5, 5] and go to the end bins. */
	const double X[6] = {1, 100, 1, -100, 1, 1}, y[3] = {0, 1, 0}, w[2] = {-1, 2};
	double v[3 + 2 * BINS];

	(void)state;
	fl_payload_valid_pack(X, y, 3, 2, w, BINS, RANGE, v);
	assert_true(v[0] == 3 && v[1] == 1);
	/* z = 199 (negative, last bin), -201 (positive, bin 0), 1 (negative, bin 6). */
	assert_true(v[3 + 0] == 1);
	assert_true(v[3 + BINS + 9] == 1);
	assert_true(v[3 + BINS + 6] == 1);
	/* -log(1 - sigmoid(199)) = 199 + log(1 + e^-199), which is 199 in
	 * doubles, and -log(sigmoid(-201)) = 201 likewise; a naive exp() would
	 * overflow on both, so they are written out. */
	assert_near(v[2], 199 + 201 + naive_log_loss(1, 0), 1e-12);
	/* The positive sits in the lowest bin, both negatives above it. */
	{
		struct fl_valid_metrics m;

		fl_payload_valid_metrics(v, BINS, &m);
		assert_true(m.auc == 0);
	}
}

/* No two scores share a bin: the histogram AUC is the exact AUC. */
static void test_valid_auc_distinct_bins(void **state)
{
	/* Positives 2.5, 0.5, -1.5; negatives 1.5, -0.5, -2.5, -3.5. The
	 * positive at 2.5 beats all 4 negatives, 0.5 beats 3, -1.5 beats 2:
	 * 9 of 12 pairs, AUC 0.75. */
	const double X[7] = {2.5, 0.5, -1.5, 1.5, -0.5, -2.5, -3.5};
	const double y[7] = {1, 1, 1, 0, 0, 0, 0};
	double w = 1, v[3 + 2 * BINS], loss = 0;
	struct fl_valid_metrics m;

	(void)state;
	fl_payload_valid_pack(X, y, 7, 1, &w, BINS, RANGE, v);
	fl_payload_valid_metrics(v, BINS, &m);
	assert_true(m.rows == 7);
	assert_true(m.positives == 3);
	assert_near(m.auc, 0.75, 1e-15);
	assert_near(m.auc, naive_auc(X, y, 7), 1e-15);
	for (int i = 0; i < 7; i++)
		loss += naive_log_loss(X[i], y[i] > 0.5);
	assert_near(m.log_loss, loss / 7, 1e-14);
}

/* A positive and a negative in one bin count one half, even when their
 * scores differ. */
static void test_valid_auc_ties_in_bin(void **state)
{
	/* Positives 0.2 (bin 5) and 2.5 (bin 7); negatives 0.7 (bin 5) and
	 * -1.5 (bin 3). Pairs: 0.2 vs 0.7 share a bin: 1/2; 0.2 vs -1.5: 1;
	 * 2.5 beats both: 2. AUC = 3.5 / 4 = 0.875 (the exact AUC is 0.75). */
	const double X[4] = {0.2, 2.5, 0.7, -1.5}, y[4] = {1, 1, 0, 0};
	double w = 1, v[3 + 2 * BINS];
	struct fl_valid_metrics m;

	(void)state;
	fl_payload_valid_pack(X, y, 4, 1, &w, BINS, RANGE, v);
	fl_payload_valid_metrics(v, BINS, &m);
	assert_near(m.auc, 0.875, 1e-15);
	assert_near(naive_auc(X, y, 4), 0.75, 1e-15);
}

/* Several scores per bin on both sides: each positive gets every negative
 * below its bin plus half of those in it. */
static void test_valid_auc_many_ties(void **state)
{
	/* bin 5: positives 0.1, 0.9, negatives 0.3, 0.4, 0.5
	 * bin 4: negative -0.5;  bin 6: positive 1.5, negative 1.2
	 * positive 1.5: 4 below + 1/2 of 1 = 4.5
	 * positives in bin 5: each 1 below + 3/2 = 2.5, twice = 5
	 * total 9.5 of 3 * 5 = 15 pairs. */
	const double X[8] = {0.1, 0.9, 0.3, 0.4, 0.5, -0.5, 1.5, 1.2};
	const double y[8] = {1, 1, 0, 0, 0, 0, 1, 0};
	double w = 1, v[3 + 2 * BINS];
	struct fl_valid_metrics m;

	(void)state;
	fl_payload_valid_pack(X, y, 8, 1, &w, BINS, RANGE, v);
	fl_payload_valid_metrics(v, BINS, &m);
	assert_near(m.auc, 9.5 / 15, 1e-15);
}

/* The metrics of summed vectors are those of all rows together: partners
 * can be added up. */
static void test_valid_metrics_of_sums(void **state)
{
	const double X[7] = {2.5, 0.5, -1.5, 1.5, -0.5, -2.5, -3.5};
	const double y[7] = {1, 1, 1, 0, 0, 0, 0};
	double w = 1, va[3 + 2 * BINS], vb[3 + 2 * BINS], vall[3 + 2 * BINS];
	struct fl_valid_metrics ms, mall;

	(void)state;
	fl_payload_valid_pack(X, y, 3, 1, &w, BINS, RANGE, va);
	fl_payload_valid_pack(X + 3, y + 3, 4, 1, &w, BINS, RANGE, vb);
	fl_payload_valid_pack(X, y, 7, 1, &w, BINS, RANGE, vall);
	for (size_t i = 0; i < 3 + 2 * BINS; i++)
		va[i] += vb[i];
	fl_payload_valid_metrics(va, BINS, &ms);
	fl_payload_valid_metrics(vall, BINS, &mall);
	assert_true(ms.rows == 7 && ms.positives == 3);
	assert_near(ms.auc, 0.75, 1e-15);
	assert_near(ms.log_loss, mall.log_loss, 1e-15);
}

/* Without positives, negatives or rows there is no AUC (and without rows no
 * log-loss): NaN, which the coordinator logs as "not measured". */
static void test_valid_metrics_undefined(void **state)
{
	const double X[2] = {1, -1}, y[2] = {0, 0};
	double w = 1, v[3 + 2 * BINS];
	struct fl_valid_metrics m;

	(void)state;
	fl_payload_valid_pack(X, y, 2, 1, &w, BINS, RANGE, v);
	fl_payload_valid_metrics(v, BINS, &m);
	assert_true(isnan(m.auc));
	assert_near(m.log_loss, (naive_log_loss(1, 0) + naive_log_loss(-1, 0)) / 2, 1e-15);
	fl_payload_valid_pack(X, y, 0, 1, &w, BINS, RANGE, v);
	for (size_t i = 0; i < 3 + 2 * BINS; i++)
		assert_true(v[i] == 0);
	fl_payload_valid_metrics(v, BINS, &m);
	assert_true(m.rows == 0);
	assert_true(isnan(m.auc));
	assert_true(isnan(m.log_loss));
}

/* ---- the statistics round under differential privacy ---- */

/* The layout of tests/data/encode (10 columns: 0 intercept, 1 age, 2 age
 * missing, 3 visits, 4-6 region north/south/other, 7-9 tier 1/2/3) with the
 * clip ranges given. */
static struct fl_schema *leads_schema(const char *age_clip, const char *visits_clip)
{
	char json[1024];
	struct fl_schema *s = NULL;

	snprintf(json, sizeof(json),
	         "{\"fedlead_schema\": 1,"
	         " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},"
	         " \"features\": ["
	         "  {\"name\": \"age\", \"type\": \"numeric\", \"missing\": \"impute\"%s%s},"
	         "  {\"name\": \"visits\", \"type\": \"numeric\"%s%s},"
	         "  {\"name\": \"region\", \"type\": \"categorical\","
	         "   \"values\": [\"north\", \"south\"], \"other\": true},"
	         "  {\"name\": \"tier\", \"type\": \"categorical\", \"values\": [1, 2, 3]}]}",
	         age_clip ? ", \"clip\": " : "", age_clip ? age_clip : "",
	         visits_clip ? ", \"clip\": " : "", visits_clip ? visits_clip : "");
	if (fl_schema_parse(json, strlen(json), "inline", &s) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(s->dim, 10);
	return s;
}

/*
 * The plan's sensitivities, by hand, sums about each clip range's
 * midpoint: age clip [0, 40] (impute), midpoint 20: count 1, sum 20 / 32,
 * sum of squares 400 / 512; visits [-0.5, 0.25], midpoint -0.125: B =
 * 0.375 is below 1, so its scales stay 2^0: sum 0.375, sum of squares
 * 0.140625; rows 1/4, positives 1; the two categorical features 1/2
 * each.
 *   l1   = 0.25 + 1 + 1 + 0.625 + 0.78125 + 0.375 + 0.140625 + 1 = 5.171875
 *   l2^2 = 0.0625 + 1 + 1 + 0.390625 + 0.6103515625 + 0.140625 + 0.019775390625
 *          + 0.5 = 3.723876953125
 * 13 entries noised: rows, positives, age's count, sum and sum of squares,
 * visits' sum and sum of squares, six level columns' sums. Without a clip
 * range the plan is refused.
 */
static void test_stats_dp_plan(void **state)
{
	struct fl_schema *s = leads_schema("[0, 40]", "[-0.5, 0.25]"), *bare;
	struct fl_stats_dp p;

	(void)state;
	assert_null(fl_payload_stats_unclipped(s));
	assert_int_equal(fl_payload_stats_dp_plan(s, 0.01, 2, 16, 1e12, &p), 0);
	assert_int_equal(p.n_noised, 13);
	assert_near(p.l1, 5.171875, 1e-12);
	assert_near(p.l2 * p.l2, 3.723876953125, 1e-12);
	/* The finest noise lands on multiples of 2^(0 - bits): bits <= 16. */
	assert_true(p.sigma2 >= 1 && p.grid_bits >= 0 && p.grid_bits <= 16);
	/* No variance up to 1 suffices: refused, not released with less. */
	assert_int_equal(fl_payload_stats_dp_plan(s, 0.01, 2, 16, 1, &p), FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "a statistics release of rho 0.01 with sensitivity "
	                                 "1.92973 needs more noise than a node can add");
	bare = leads_schema(NULL, "[0, 1]");
	assert_string_equal(fl_payload_stats_unclipped(bare)->name, "age");
	assert_int_equal(fl_payload_stats_dp_plan(bare, 0.01, 2, 16, 1e12, &p), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "feature \"age\" has no clip range");
	fl_schema_free(bare);
	fl_schema_free(s);
}

/* One numeric feature "ts" with the clip given, and a three-level one. */
static struct fl_schema *ts_schema(double lo, double hi)
{
	char json[512];
	struct fl_schema *s = NULL;

	snprintf(json, sizeof(json),
	         "{\"fedlead_schema\": 1,"
	         " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},"
	         " \"features\": [{\"name\": \"ts\", \"type\": \"numeric\", \"clip\": [%.17g, "
	         "%.17g]},"
	         "  {\"name\": \"tier\", \"type\": \"categorical\", \"values\": [1, 2, 3]}]}",
	         lo, hi);
	if (fl_schema_parse(json, strlen(json), "inline", &s) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(s->dim, 5);
	return s;
}

/*
 * The per-lead bound survives accumulation (the review's counter-example):
 * epoch milliseconds clipped to a 17-minute window, [1.7e12, 1.7e12 + 1e6],
 * so B = 5e5, the centred sum is scaled by 2^19 (bound 5e5 / 2^19) and the
 * centred sum of squares by 2^38 (bound 2.5e11 / 2^38). Over 20,000 leads,
 * removing any one of 20 leads moves each scaled centred sum by at most
 * its bound, and by that lead's own term (x - mid) / 2^19 and
 * (x - mid)^2 / 2^38 to within 2^-31 (x - mid is exact: both near 1.7e12).
 * Plain sums of x and x^2 centred afterwards moved by up to 100 times the
 * bound here. The level sums move by the lead's one level.
 */
static void test_stats_dp_pack_narrow_clip_far_from_zero(void **state)
{
	const double lo = 1.7e12, w = 1e6, mid = lo + w / 2;
	const double b1 = 500000.0 / 524288, b2 = 2.5e11 / 274877906944.0;
	const size_t n = 20000, d = 5;
	struct fl_schema *s = ts_schema(lo, lo + w);
	double *X = calloc(n * d, sizeof(double)), *Xm = malloc(n * d * sizeof(double));
	double *y = malloc(n * sizeof(double)), *ym = malloc(n * sizeof(double));
	double full[2 + 3 * 5], less[2 + 3 * 5], worst1 = 0, worst2 = 0;
	uint64_t seed = 88172645463325252ull;

	(void)state;
	assert_non_null(X);
	assert_non_null(Xm);
	assert_non_null(y);
	assert_non_null(ym);
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17; /* xorshift64 */
		X[i * d] = 1;
		X[i * d + 1] = lo + w * (double)(seed >> 11) / 9007199254740992.0;
		X[i * d + 2 + i % 3] = 1;
		y[i] = (double)(i % 2);
	}
	X[7 * d + 1] = lo;     /* leads at the clip's ends */
	X[8 * d + 1] = lo + w; /* reach the bounds */
	if (fl_payload_stats_dp_pack(s, X, y, n, full) != 0)
		fail_msg("%s", fl_errmsg());
	assert_true(full[0] == n);
	for (size_t t = 0; t < 20; t++) {
		size_t i = t < 2 ? 7 + t : (t * 7919) % n;
		double c = X[i * d + 1] - mid, g1, g2;

		memcpy(Xm, X, i * d * sizeof(double));
		memcpy(Xm + i * d, X + (i + 1) * d, (n - i - 1) * d * sizeof(double));
		memcpy(ym, y, i * sizeof(double));
		memcpy(ym + i, y + i + 1, (n - i - 1) * sizeof(double));
		if (fl_payload_stats_dp_pack(s, Xm, ym, n - 1, less) != 0)
			fail_msg("%s", fl_errmsg());
		g1 = fabs(ldexp(full[2 + d + 1] - less[2 + d + 1], -19));
		g2 = fabs(ldexp(full[2 + 2 * d + 1] - less[2 + 2 * d + 1], -38));
		worst1 = fmax(worst1, g1);
		worst2 = fmax(worst2, g2);
		assert_true(g1 <= b1);
		assert_true(g2 <= b2);
		assert_true(fabs(g1 - fabs(c) / 524288) <= ldexp(1, -31));
		assert_true(fabs(g2 - c * c / 274877906944.0) <= ldexp(1, -31));
		assert_true(full[0] - less[0] == 1);
		assert_true(full[2 + d + 2 + i % 3] - less[2 + d + 2 + i % 3] == 1);
	}
	printf("  clip [1.7e12, 1.7e12 + 1e6], %zu leads: largest move from removing a lead "
	       "%.6g (bound %.6g) and %.6g (bound %.6g)\n",
	       n, worst1, b1, worst2, b2);
	/* the leads at the ends reach the bounds, to the fixed point */
	assert_true(worst1 >= b1 - ldexp(1, -31));
	free(X);
	free(Xm);
	free(y);
	free(ym);
	fl_schema_free(s);
}

/*
 * A clip too narrow for its distance from 0 is refused, by the pack and by
 * the plan (so before any charge), naming the feature and the clip: near
 * 1.7e12 doubles are 2^-12 apart, more than 2^-24 of a half-width of 0.125.
 * The same width nearer 0 is accepted.
 */
static void test_stats_dp_clip_too_narrow(void **state)
{
	struct fl_schema *s = ts_schema(1.7e12, 1.7e12 + 0.25), *ok = ts_schema(1000, 1000.25);
	double X[5] = {1, 1.7e12, 1, 0, 0}, y = 1, v[2 + 3 * 5];
	struct fl_stats_dp p;
	const char *msg = "feature \"ts\" has clip [1700000000000, 1700000000000.25], too narrow "
	                  "for its distance from 0: its values are 0.000244 apart there, more "
	                  "than 2^-24 of its half-width 0.125, so its sums cannot be centred "
	                  "within the per-lead bound";

	(void)state;
	assert_int_equal(fl_payload_stats_dp_pack(s, X, &y, 1, v), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), msg);
	assert_int_equal(fl_payload_stats_dp_plan(s, 0.01, 2, 16, 1e12, &p), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), msg);
	X[1] = 1000.25;
	assert_int_equal(fl_payload_stats_dp_pack(ok, X, &y, 1, v), 0);
	assert_true(v[2 + 5 + 1] == 0.125 && v[2 + 10 + 1] == 0.015625);
	assert_int_equal(fl_payload_stats_dp_plan(ok, 0.01, 2, 16, 1e12, &p), 0);
	fl_schema_free(ok);
	fl_schema_free(s);
}

/*
 * The coordinator's clean-up of noisy sums (age clip [0, 40], visits
 * [0, 10]; 100 rows after rounding):
 *   rows 99.6 -> 100; positives -3 -> 1 (at least one of each class);
 *   age (sums about its clip's midpoint 20): count 120 -> 100 (at most
 *     the rows), mean offset 5000 / 100 = 50 -> 20 (its clip), so mean 40;
 *     variance 39999 / 100 - 20^2 < 0 -> (40 / 20)^2 = 4, so sum 4000
 *     and sum of squares 100 (4 + 1600) = 160400; its indicator: count
 *     100, sum and sum of squares 100 - 100 = 0;
 *   visits (missing = error; midpoint 5): count -> the rows, mean 5 +
 *     -200 / 100 = 3, variance 4400 / 100 - 2^2 = 40 -> (10 - 0)^2 / 4 =
 *     25, sum 300 and sum of squares 100 (25 + 9) = 3400;
 *   level sums rounded into [0, 100]: -2 -> 0, 150 -> 100, 30.4 -> 30,
 *     40.6 -> 41; every one-hot count is the rows, every sum of squares
 *     its sum; the intercept's entries are the rows.
 * The noised entries arrive in scaled units (to_scaled_units()). Exact
 * sums (about the midpoints, scaled, as a node sends them) come back as
 * the plain sums.
 */
/* As a node sends its noised entries (payload.h): each divided by its
 * scale, by hand for leads_schema("[0, 40]", "[0, 10]"): rows 4,
 * positives 1; age (B = 20) sum 2^5, sum of squares 2^9, count 1; visits
 * (B = 5) sum 2^3, sum of squares 2^5; the six levels 2. */
static void to_scaled_units(struct fl_stats *st)
{
	st->rows /= 4;
	st->sum[1] /= 32;
	st->sumsq[1] /= 512;
	st->sum[3] /= 8;
	st->sumsq[3] /= 32;
	for (size_t c = 4; c < 10; c++)
		st->sum[c] /= 2;
}

static void test_stats_denoise(void **state)
{
	struct fl_schema *s = leads_schema("[0, 40]", "[0, 10]");
	struct fl_stats *st = NULL, *ex = NULL;
	static const double lv[6] = {-2, 150, 30.4, 40.6, 7, 1e9};
	static const double want_lv[6] = {0, 100, 30, 41, 7, 100};

	(void)state;
	assert_int_equal(fl_stats_new(10, &st), 0);
	st->rows = 99.6;
	st->positives = -3;
	for (size_t j = 0; j < 10; j++)
		st->count[j] = st->sumsq[j] = -77; /* noise where the node sent 0 */
	st->sum[0] = st->sum[2] = -77;
	st->count[1] = 120;
	st->sum[1] = 5000;
	st->sumsq[1] = 100 * 400.0 - 1; /* variance below 0 */
	st->sum[3] = -200;
	st->sumsq[3] = 4400;
	for (size_t c = 0; c < 6; c++)
		st->sum[4 + c] = lv[c];
	to_scaled_units(st);
	fl_payload_stats_denoise(s, st, 1);
	assert_true(st->rows == 100 && st->positives == 1);
	assert_true(st->count[0] == 100 && st->sum[0] == 100 && st->sumsq[0] == 100);
	assert_true(st->count[1] == 100 && st->sum[1] == 4000);
	assert_near(st->sumsq[1], 160400, 1e-6);
	assert_true(st->count[2] == 100 && st->sum[2] == 0 && st->sumsq[2] == 0);
	assert_true(st->count[3] == 100 && st->sum[3] == 300);
	assert_near(st->sumsq[3], 3400, 1e-6);
	for (size_t c = 0; c < 6; c++) {
		assert_true(st->count[4 + c] == 100);
		assert_true(st->sum[4 + c] == want_lv[c]);
		assert_true(st->sumsq[4 + c] == want_lv[c]);
	}
	fl_stats_free(st);

	/* Exact statistics of 4 rows: nothing moves (variances within range). */
	{
		static const double rows[4][10] = {
		        {1, 10, 0, 1, 1, 0, 0, 1, 0, 0},
		        {1, NAN, 1, 2, 0, 1, 0, 0, 1, 0},
		        {1, 30, 0, 3, 0, 0, 1, 0, 0, 1},
		        {1, 20, 0, 9, 1, 0, 0, 1, 0, 0},
		};

		assert_int_equal(fl_stats_new(10, &ex), 0);
		assert_int_equal(fl_stats_new(10, &st), 0);
		for (size_t i = 0; i < 4; i++) {
			double c[10];

			memcpy(c, rows[i], sizeof(c));
			c[1] -= 20; /* the midpoints of [0, 40] and [0, 10] */
			c[3] -= 5;
			fl_stats_add(ex, rows[i], i % 2);
			fl_stats_add(st, c, i % 2);
		}
		to_scaled_units(st);
		fl_payload_stats_denoise(s, st, 1);
		assert_true(st->rows == ex->rows && st->positives == ex->positives);
		for (size_t j = 0; j < 10; j++) {
			assert_near(st->count[j], ex->count[j], 1e-9);
			assert_near(st->sum[j], ex->sum[j], 1e-9);
			assert_near(st->sumsq[j], ex->sumsq[j], 1e-9);
		}
		fl_stats_free(ex);
		fl_stats_free(st);
	}
	fl_schema_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lengths),
	        cmocka_unit_test(test_hess_round_trip),
	        cmocka_unit_test(test_hess_one_by_one),
	        cmocka_unit_test(test_stats_round_trip),
	        cmocka_unit_test(test_stats_sum_of_partners),
	        cmocka_unit_test(test_stats_dp_plan),
	        cmocka_unit_test(test_stats_dp_pack_narrow_clip_far_from_zero),
	        cmocka_unit_test(test_stats_dp_clip_too_narrow),
	        cmocka_unit_test(test_stats_denoise),
	        cmocka_unit_test(test_valid_pack_layout),
	        cmocka_unit_test(test_valid_pack_weights_and_clamping),
	        cmocka_unit_test(test_valid_auc_distinct_bins),
	        cmocka_unit_test(test_valid_auc_ties_in_bin),
	        cmocka_unit_test(test_valid_auc_many_ties),
	        cmocka_unit_test(test_valid_metrics_of_sums),
	        cmocka_unit_test(test_valid_metrics_undefined),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
