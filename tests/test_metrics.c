/*
 * Tests for src/metrics.c. Expected values are worked out by hand in the
 * comments, or computed by the deliberately naive O(n^2) code below, which
 * shares nothing with the module (no sorting, no merging, no temp files).
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fedlead/error.h"
#include "fedlead/metrics.h"

#define EPS 1e-12

/*
 * cmocka 1.1 compares only floats. |got - want| <= tol * max(1, |want|):
 * absolute near zero, relative for large values.
 */
#define assert_near(got, want, tol) near_((got), (want), (tol), #got, __FILE__, __LINE__)

static void near_(double got, double want, double tol, const char *expr, const char *file, int line)
{
	double scale = fabs(want) > 1 ? fabs(want) : 1;

	if (fabs(got - want) <= tol * scale)
		return;
	print_error("%s:%d: %s = %.17g, want %.17g (tolerance %g)\n", file, line, expr, got, want,
	            tol);
	fail();
}

/* ---------- array metrics ---------- */

static void test_auc_hand(void **state)
{
	(void)state;
	/*
	 * Scores 0.9 0.8 0.7 0.6, labels 1 0 1 0. Pairs (positive, negative):
	 * (0.9, 0.8) win, (0.9, 0.6) win, (0.7, 0.8) loss, (0.7, 0.6) win: 3/4.
	 */
	const double z[] = {0.9, 0.8, 0.7, 0.6}, y[] = {1, 0, 1, 0};
	/* Perfect: both positives above both negatives: 4/4. Reversed: 0/4. */
	const double zp[] = {4, 3, 2, 1}, yp[] = {1, 1, 0, 0}, yr[] = {0, 0, 1, 1};

	assert_near(fl_auc(z, y, 4), 0.75, EPS);
	assert_near(fl_auc(zp, yp, 4), 1.0, EPS);
	assert_near(fl_auc(zp, yr, 4), 0.0, EPS);
}

static void test_auc_ties(void **state)
{
	(void)state;
	/* All tied: each of the 4 pairs counts 1/2, so 2/4. */
	const double z1[] = {1, 1, 1, 1}, y1[] = {1, 0, 1, 0};
	/*
	 * Scores 3 2 2 1, labels 1 1 0 0. Positive 3 beats both negatives (2);
	 * positive 2 ties negative 2 (1/2) and beats negative 1 (1): 3.5/4.
	 */
	const double z2[] = {3, 2, 2, 1}, y2[] = {1, 1, 0, 0};
	/*
	 * Scores 2 2 1 1 0, labels 1 0 1 0 0: P = 2, N = 3.
	 * Positive 2 vs negatives 2, 1, 0: 1/2 + 1 + 1 = 2.5.
	 * Positive 1 vs negatives 2, 1, 0: 0 + 1/2 + 1 = 1.5. AUC = 4/6.
	 */
	const double z3[] = {2, 2, 1, 1, 0}, y3[] = {1, 0, 1, 0, 0};
	/* -0.0 and +0.0 are the same score: a tie, 1/2. */
	const double z4[] = {-0.0, 0.0}, y4[] = {1, 0};

	assert_near(fl_auc(z1, y1, 4), 0.5, EPS);
	assert_near(fl_auc(z2, y2, 4), 0.875, EPS);
	assert_near(fl_auc(z3, y3, 5), 4.0 / 6.0, EPS);
	assert_near(fl_auc(z4, y4, 2), 0.5, EPS);
}

static void test_auc_one_class(void **state)
{
	(void)state;
	const double z[] = {1, 2, 3}, ones[] = {1, 1, 1}, zeros[] = {0, 0, 0};

	assert_true(isnan(fl_auc(z, ones, 3)));
	assert_true(isnan(fl_auc(z, zeros, 3)));
	assert_true(isnan(fl_auc(z, zeros, 0)));
}

static void test_log_loss_brier_hand(void **state)
{
	(void)state;
	/* z = 0 means p = 1/2: loss ln 2 for either label, squared error 1/4. */
	const double z0[] = {0, 0, 0}, y0[] = {1, 0, 1};
	/*
	 * z = ln 3 means p = 3/4. y = 1: loss -ln(3/4) = ln(4/3), error (1/4)^2.
	 * y = 0: loss -ln(1/4) = ln 4, error (3/4)^2 = 9/16.
	 * Means: (ln(4/3) + ln 4) / 2 = ln(16/3) / 2 and (1/16 + 9/16) / 2 = 5/16.
	 */
	const double z1[] = {log(3.0), log(3.0)}, y1[] = {1, 0};

	assert_near(fl_log_loss(z0, y0, 3), log(2.0), EPS);
	assert_near(fl_brier(z0, y0, 3), 0.25, EPS);
	assert_near(fl_log_loss(z1, y1, 2), log(16.0 / 3.0) / 2, EPS);
	assert_near(fl_brier(z1, y1, 2), 5.0 / 16.0, EPS);
}

static void test_log_loss_extreme(void **state)
{
	(void)state;
	/*
	 * |z| = 1000: e^-1000 underflows, so a right answer costs 0 and a wrong
	 * one costs exactly 1000 (log(1 + e^1000) = 1000 + log(1 + e^-1000)).
	 * A naive log(sigmoid(z)) would give -inf or NaN here.
	 */
	const double zr[] = {1000, -1000}, yr[] = {1, 0};
	const double zw[] = {1000, -1000}, yw[] = {0, 1};

	assert_near(fl_log_loss(zr, yr, 2), 0.0, EPS);
	assert_near(fl_log_loss(zw, yw, 2), 1000.0, EPS);
	assert_near(fl_brier(zr, yr, 2), 0.0, EPS);
	assert_near(fl_brier(zw, yw, 2), 1.0, EPS);
	/* Tiny logits: log1p keeps the loss of z = 1e-300, y = 0 at ln 2. */
	const double zt[] = {1e-300}, yt[] = {0};
	assert_near(fl_log_loss(zt, yt, 1), log(2.0), EPS);
}

/* ---------- deciles ---------- */

static void test_decile_boundaries(void **state)
{
	(void)state;
	/* n = 10: decile = rank. */
	for (uint64_t r = 1; r <= 10; r++)
		assert_int_equal(fl_decile_of_rank(r, 10), (int)r);
	/*
	 * n = 25: 1 + floor(10 (r - 1) / 25), i.e. 1 + floor(2 (r - 1) / 5):
	 * r - 1 = 0..2 -> 1, 3..4 -> 2, 5..7 -> 3, 8..9 -> 4, 10..12 -> 5,
	 * 13..14 -> 6, 15..17 -> 7, 18..19 -> 8, 20..22 -> 9, 23..24 -> 10.
	 */
	static const int d25[25] = {1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5,  5, 5,
	                            6, 6, 7, 7, 7, 8, 8, 9, 9, 9, 10, 10};
	for (uint64_t r = 1; r <= 25; r++)
		assert_int_equal(fl_decile_of_rank(r, 25), d25[r - 1]);
	/*
	 * n = 7: floor(10 (r - 1) / 7) for r - 1 = 0..6 is 0 1 2 4 5 7 8, so
	 * deciles 1 2 3 5 6 8 9; deciles 4, 7 and 10 stay empty.
	 */
	static const int d7[7] = {1, 2, 3, 5, 6, 8, 9};
	for (uint64_t r = 1; r <= 7; r++)
		assert_int_equal(fl_decile_of_rank(r, 7), d7[r - 1]);
	/* n = 1: the only row is in the top decile. */
	assert_int_equal(fl_decile_of_rank(1, 1), 1);
	/* Huge n: 10 (r - 1) must not overflow 64 bits. */
	assert_int_equal(fl_decile_of_rank(UINT64_MAX, UINT64_MAX), 10);
	assert_int_equal(fl_decile_of_rank(UINT64_MAX / 2, UINT64_MAX), 5);
	/* Outside 1..n there is no decile. */
	assert_int_equal(fl_decile_of_rank(0, 10), 0);
	assert_int_equal(fl_decile_of_rank(11, 10), 0);
	assert_int_equal(fl_decile_of_rank(1, 0), 0);
}

/* ---------- ranker: small case by hand ---------- */

static double naive_sigmoid(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

static void check_small_case(size_t mem)
{
	/*
	 * Row:    0    1    2    3    4    5
	 * z:     0.5  2.0  0.5 -1.0  2.0  3.0
	 * label:  1    0    0    0    1    1
	 * Descending, ties by row: 5, 1, 4, 0, 2, 3, so the ranks of rows 0..5
	 * are 4 2 5 6 3 1. Deciles for n = 6, 1 + floor(10 (r - 1) / 6):
	 * rank 1 -> 1, 2 -> 2, 3 -> 4, 4 -> 6, 5 -> 7, 6 -> 9.
	 * AUC, P = N = 3: row 5 beats all three negatives (3); row 4 ties row 1
	 * and beats rows 2, 3 (2.5); row 0 loses to row 1, ties row 2, beats
	 * row 3 (1.5). 7/9.
	 * Top 3 = rows 5, 1, 4: 2 positives; share 2/3, lift (2/3) / (3/6) = 4/3.
	 */
	static const double z[6] = {0.5, 2.0, 0.5, -1.0, 2.0, 3.0};
	static const int y[6] = {1, 0, 0, 0, 1, 1};
	static const uint64_t want_rank[6] = {4, 2, 5, 6, 3, 1};
	static const int want_dec[6] = {6, 2, 7, 9, 4, 1};
	struct fl_ranker *r = NULL;
	struct fl_eval ev;
	double loss = 0, brier = 0;

	assert_int_equal(fl_ranker_new("/tmp", mem, &r), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(fl_ranker_add(r, z[i], y[i]), 0);
	assert_int_equal(fl_ranker_finish(r, 3, &ev), 0);
	for (uint64_t i = 0; i < 6; i++) {
		uint64_t rank;
		int dec;

		assert_int_equal(fl_ranker_rank(r, i, &rank, &dec), 0);
		assert_int_equal(rank, want_rank[i]);
		assert_int_equal(dec, want_dec[i]);
	}
	assert_int_equal(ev.rows, 6);
	assert_int_equal(ev.positives, 3);
	assert_near(ev.auc, 7.0 / 9.0, EPS);
	assert_int_equal(ev.top_k, 3);
	assert_int_equal(ev.top_k_positives, 2);
	assert_near(ev.top_k_share, 2.0 / 3.0, EPS);
	assert_near(ev.lift_at_top_k, 4.0 / 3.0, EPS);

	/* Deciles 1, 2, 4, 6, 7, 9 hold rows 5, 1, 4, 0, 2, 3; the rest are empty. */
	static const int drow[10] = {5, 1, -1, 4, -1, 0, 2, -1, 3, -1};
	for (int d = 0; d < 10; d++) {
		if (drow[d] < 0) {
			assert_int_equal(ev.deciles[d].rows, 0);
			assert_int_equal(ev.deciles[d].positives, 0);
			assert_near(ev.deciles[d].mean_prob, 0.0, EPS);
			continue;
		}
		assert_int_equal(ev.deciles[d].rows, 1);
		assert_int_equal(ev.deciles[d].positives, y[drow[d]]);
		assert_near(ev.deciles[d].mean_prob, naive_sigmoid(z[drow[d]]), EPS);
	}
	for (int i = 0; i < 6; i++) {
		double p = naive_sigmoid(z[i]);

		loss -= y[i] ? log(p) : log(1 - p);
		brier += (p - y[i]) * (p - y[i]);
	}
	assert_near(ev.log_loss, loss / 6, EPS);
	assert_near(ev.brier, brier / 6, EPS);
	fl_ranker_free(r);
}

static void test_ranker_small_by_hand(void **state)
{
	(void)state;
	check_small_case(4);    /* two runs on disk */
	check_small_case(5);    /* a full run and a run of one */
	check_small_case(6);    /* exactly fills memory */
	check_small_case(1000); /* in memory */
}

static void check_top_k(uint64_t asked, uint64_t want_k, uint64_t want_pos, double want_lift)
{
	static const double z[6] = {0.5, 2.0, 0.5, -1.0, 2.0, 3.0};
	static const int y[6] = {1, 0, 0, 0, 1, 1};
	struct fl_ranker *r = NULL;
	struct fl_eval ev;

	assert_int_equal(fl_ranker_new(NULL, 4, &r), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(fl_ranker_add(r, z[i], y[i]), 0);
	assert_int_equal(fl_ranker_finish(r, asked, &ev), 0);
	assert_int_equal(ev.top_k, want_k);
	assert_int_equal(ev.top_k_positives, want_pos);
	assert_near(ev.lift_at_top_k, want_lift, EPS);
	fl_ranker_free(r);
}

static void test_ranker_top_k(void **state)
{
	(void)state;
	/* Same rows as check_small_case; rank order 5+, 1-, 4+, 0+, 2-, 3-; base rate 1/2. */
	check_top_k(0, 0, 0, 0.0);   /* nothing asked */
	check_top_k(1, 1, 1, 2.0);   /* 1/1 over 1/2 */
	check_top_k(2, 2, 1, 1.0);   /* 1/2 over 1/2 */
	check_top_k(4, 4, 3, 1.5);   /* 3/4 over 1/2 */
	check_top_k(100, 6, 3, 1.0); /* clamped to all rows */
}

static void check_special_values(size_t mem)
{
	/*
	 * Descending with ties by row: inf(2), inf(9), 1e300(4), DBL_MIN(7),
	 * then the zeros 0.0(0), -0.0(1), 0.0(6) tie in row order, -DBL_MIN(8),
	 * -1e300(5), -inf(3).
	 */
	const double z[10] = {0.0,    -0.0, INFINITY, -INFINITY, 1e300,
	                      -1e300, 0.0,  DBL_MIN,  -DBL_MIN,  INFINITY};
	static const uint64_t want[10] = {5, 6, 1, 10, 3, 9, 7, 4, 8, 2};
	struct fl_ranker *r = NULL;
	struct fl_eval ev;

	assert_int_equal(fl_ranker_new(NULL, mem, &r), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(fl_ranker_add(r, z[i], -1), 0);
	assert_int_equal(fl_ranker_finish(r, 0, &ev), 0);
	for (uint64_t i = 0; i < 10; i++) {
		uint64_t rank;
		int dec;

		assert_int_equal(fl_ranker_rank(r, i, &rank, &dec), 0);
		assert_int_equal(rank, want[i]);
		assert_int_equal(dec, (int)want[i]); /* n = 10 */
	}
	/* Decile 1 holds +inf (p = 1), decile 10 holds -inf (p = 0). */
	assert_near(ev.deciles[0].mean_prob, 1.0, EPS);
	assert_near(ev.deciles[9].mean_prob, 0.0, EPS);
	fl_ranker_free(r);
}

static void test_ranker_special_values(void **state)
{
	(void)state;
	check_special_values(4);
	check_special_values(100);
}

/* ---------- ranker versus the naive definition ---------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, no dependence on the C library. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

struct dataset {
	size_t n;
	double *z;
	int *y;
	uint64_t *rank; /* naive ranks */
	double auc, loss, brier;
	uint64_t positives;
	uint64_t drows[10], dpos[10];
	double dprob[10];
};

/* Scores base + k step for `levels` values of k around 0, and sometimes a signed zero. */
static void make_dataset(struct dataset *d, size_t n, unsigned levels, double base, double step,
                         uint64_t seed)
{
	uint64_t u2 = 0, neg;

	memset(d, 0, sizeof(*d));
	d->n = n;
	d->z = malloc(n * sizeof(*d->z));
	d->y = malloc(n * sizeof(*d->y));
	d->rank = malloc(n * sizeof(*d->rank));
	assert_non_null(d->z);
	assert_non_null(d->y);
	assert_non_null(d->rank);
	rng_state = seed;
	for (size_t i = 0; i < n; i++) {
		d->z[i] = base + (double)((int)(rng() % levels) - (int)levels / 2) * step;
		if (i % 97 == 0)
			d->z[i] = (i % 194 == 0) ? -0.0 : 0.0;
		d->y[i] = (double)(rng() % 1000000) / 1e6 < naive_sigmoid(d->z[i]);
		d->positives += (uint64_t)d->y[i];
	}
	/* rank_i = 1 + #{j: z_j > z_i} + #{j < i: z_j == z_i}. */
	for (size_t i = 0; i < n; i++) {
		uint64_t rk = 1;

		for (size_t j = 0; j < n; j++)
			if (d->z[j] > d->z[i] || (j < i && d->z[j] == d->z[i]))
				rk++;
		d->rank[i] = rk;
	}
	/* Twice the Mann-Whitney U over all (positive, negative) pairs. */
	for (size_t i = 0; i < n; i++) {
		if (!d->y[i])
			continue;
		for (size_t j = 0; j < n; j++) {
			if (d->y[j])
				continue;
			u2 += d->z[i] > d->z[j] ? 2 : d->z[i] == d->z[j] ? 1 : 0;
		}
	}
	neg = n - d->positives;
	d->auc = (double)u2 / (2.0 * (double)d->positives * (double)neg);
	for (size_t i = 0; i < n; i++) {
		double p = naive_sigmoid(d->z[i]);
		size_t dec = (size_t)((d->rank[i] - 1) * 10 / n);

		d->loss -= d->y[i] ? log(p) : log(1 - p);
		d->brier += (p - d->y[i]) * (p - d->y[i]);
		d->drows[dec]++;
		d->dpos[dec] += (uint64_t)d->y[i];
		d->dprob[dec] += p;
	}
	d->loss /= (double)n;
	d->brier /= (double)n;
}

static void free_dataset(struct dataset *d)
{
	free(d->z);
	free(d->y);
	free(d->rank);
}

/*
 * The rows of d in a ranker of mem records; with parts > 1, in that many
 * rankers of consecutive stretches of rows (of unequal lengths), each of
 * mem records, joined into the first (fl_ranker_join()), the later ones
 * sorted first (fl_ranker_sort_held()) when sorted is set.
 */
static struct fl_ranker *ranker_of(const struct dataset *d, size_t mem, int parts, int sorted)
{
	struct fl_ranker *r[3] = {NULL, NULL, NULL};
	size_t cut[4] = {0, d->n, d->n, d->n};

	assert_true(parts >= 1 && parts <= 3);
	if (parts == 2)
		cut[1] = d->n / 3;
	if (parts == 3) {
		cut[1] = d->n / 7;
		cut[2] = d->n / 2;
	}
	for (int k = 0; k < parts; k++) {
		assert_int_equal(fl_ranker_new(NULL, mem, &r[k]), 0);
		for (size_t i = cut[k]; i < cut[k + 1]; i++)
			assert_int_equal(fl_ranker_add(r[k], d->z[i], d->y[i]), 0);
		if (sorted)
			assert_int_equal(fl_ranker_sort_held(r[k]), 0);
	}
	for (int k = 1; k < parts; k++) {
		assert_int_equal(fl_ranker_join(r[0], r[k]), 0);
		fl_ranker_free(r[k]);
	}
	return r[0];
}

static void check_parts(const struct dataset *d, size_t mem, uint64_t top_k, int parts, int sorted)
{
	struct fl_ranker *r = ranker_of(d, mem, parts, sorted);
	struct fl_eval ev;
	uint64_t want_top = 0;

	assert_int_equal(fl_ranker_finish(r, top_k, &ev), 0);
	for (size_t i = 0; i < d->n; i++) {
		uint64_t rank;
		int dec;

		assert_int_equal(fl_ranker_rank(r, i, &rank, &dec), 0);
		assert_int_equal(rank, d->rank[i]);
		assert_int_equal(dec, 1 + (int)((d->rank[i] - 1) * 10 / d->n));
		if (d->rank[i] <= top_k)
			want_top += (uint64_t)d->y[i];
	}
	/* Out of order: backwards, then jumps. */
	for (size_t k = 0; k < 50; k++) {
		size_t i = k < 25 ? d->n - 1 - k * 7 : (size_t)(rng() % d->n);
		uint64_t rank;

		assert_int_equal(fl_ranker_rank(r, i, &rank, NULL), 0);
		assert_int_equal(rank, d->rank[i]);
	}
	/* Blocks of ranks (fl_ranker_ranks()): the whole range, a block from
	 * the middle, an empty one at the end; beyond the end, refused. */
	{
		uint64_t *blk = malloc(d->n * sizeof(*blk));
		size_t mid = d->n / 3, len = d->n / 2;

		assert_non_null(blk);
		assert_int_equal(fl_ranker_ranks(r, 0, d->n, blk), 0);
		for (size_t i = 0; i < d->n; i++)
			assert_int_equal(blk[i], d->rank[i]);
		assert_int_equal(fl_ranker_ranks(r, mid, len, blk), 0);
		for (size_t i = 0; i < len; i++)
			assert_int_equal(blk[i], d->rank[mid + i]);
		assert_int_equal(fl_ranker_ranks(r, d->n, 0, blk), 0);
		assert_int_equal(fl_ranker_ranks(r, d->n - 1, 2, blk), FL_ERR_INVALID);
		{
			char want[128];

			snprintf(want, sizeof(want),
			         "ranker: 2 ranks from row %zu are out of range (%zu rows)",
			         d->n - 1, d->n);
			assert_string_equal(fl_errmsg(), want);
		}
		free(blk);
	}
	assert_int_equal(ev.rows, d->n);
	assert_int_equal(ev.positives, d->positives);
	assert_near(ev.auc, d->auc, EPS);
	assert_near(ev.log_loss, d->loss, 1e-9);
	assert_near(ev.brier, d->brier, 1e-9);
	for (int k = 0; k < 10; k++) {
		assert_int_equal(ev.deciles[k].rows, d->drows[k]);
		assert_int_equal(ev.deciles[k].positives, d->dpos[k]);
		assert_near(ev.deciles[k].mean_prob, d->dprob[k] / (double)d->drows[k], 1e-9);
	}
	assert_int_equal(ev.top_k, top_k);
	assert_int_equal(ev.top_k_positives, want_top);
	assert_near(ev.top_k_share, (double)want_top / (double)top_k, EPS);
	assert_near(ev.lift_at_top_k,
	            ((double)want_top / (double)top_k) / ((double)d->positives / (double)d->n),
	            EPS);
	fl_ranker_free(r);
}

static void check_against_naive(const struct dataset *d, size_t mem, uint64_t top_k)
{
	check_parts(d, mem, top_k, 1, 0);
}

static void test_ranker_matches_naive(void **state)
{
	struct dataset d;

	(void)state;
	make_dataset(&d, 3000, 201, 0, 1.0 / 8, UINT64_C(0x9e3779b97f4a7c15));
	/* Sanity of the data set itself: ties, both classes. */
	assert_true(d.positives > 300 && d.positives < 2700);
	/* The array AUC agrees with the naive pair count too. */
	{
		double *yd = malloc(d.n * sizeof(*yd));

		assert_non_null(yd);
		for (size_t i = 0; i < d.n; i++)
			yd[i] = d.y[i];
		assert_near(fl_auc(d.z, yd, d.n), d.auc, EPS);
		assert_near(fl_log_loss(d.z, yd, d.n), d.loss, 1e-9);
		assert_near(fl_brier(d.z, yd, d.n), d.brier, 1e-9);
		free(yd);
	}
	/*
	 * 4 and 7 records: hundreds of runs and several merge passes; 64: two
	 * passes; 1000: one merge of three runs; 3000 and 5000: in memory.
	 */
	check_against_naive(&d, 4, 100);
	check_against_naive(&d, 7, 1);
	check_against_naive(&d, 64, 2999);
	check_against_naive(&d, 1000, 300);
	check_against_naive(&d, 3000, 3000);
	check_against_naive(&d, 5000, 17);
	/*
	 * Joined rankers: all in memory (sorted on their own or by the join),
	 * all spilled, and the first in memory while the second spills (1000
	 * and 2000 rows of 1000 records each).
	 */
	check_parts(&d, 3000, 300, 2, 1);
	check_parts(&d, 3000, 3000, 3, 0);
	check_parts(&d, 2000, 17, 3, 1);
	check_parts(&d, 7, 100, 2, 1);
	check_parts(&d, 64, 2999, 3, 0);
	check_parts(&d, 1000, 1, 2, 1);
	check_parts(&d, 1000, 1000, 3, 1);
	free_dataset(&d);

	/* 2503 rows: deciles of unequal size (251 or 250 rows). */
	make_dataset(&d, 2503, 201, 0, 1.0 / 8, 12345);
	check_against_naive(&d, 5, 250);
	check_against_naive(&d, 333, 251);
	check_against_naive(&d, 4000, 2503);
	free_dataset(&d);

	/*
	 * Five scores one ulp apart (0.3 has ulp 2^-54), so they differ only in
	 * the last bits: hundreds of ties per score, within a run and across runs.
	 */
	make_dataset(&d, 2000, 5, 0.3, ldexp(1.0, -54), 777);
	check_against_naive(&d, 6, 400);
	check_against_naive(&d, 900, 401);
	check_against_naive(&d, 2000, 1999);
	/* Ties across joined rankers: the earlier part's rows rank first. */
	check_parts(&d, 2000, 400, 3, 1);
	check_parts(&d, 2000, 401, 2, 0);
	check_parts(&d, 6, 1999, 3, 1);
	free_dataset(&d);

	/*
	 * 20000 rows in memory: the ranks are put in buckets of 4096 rows
	 * before they go to their rows (the last bucket partly filled), alone
	 * and joined; with 4000 records a ranker they spill instead.
	 */
	make_dataset(&d, 20000, 2001, 0, 1.0 / 64, 2026);
	check_against_naive(&d, 20000, 2000);
	check_parts(&d, 20000, 19999, 2, 1);
	check_parts(&d, 20000, 7, 3, 0);
	check_parts(&d, 4000, 300, 2, 1);
	free_dataset(&d);

	/* Five scores far apart: each run is a few blocks of identical scores. */
	make_dataset(&d, 2000, 5, 0, 1.0, 4242);
	check_against_naive(&d, 9, 600);
	check_against_naive(&d, 2000, 1);
	free_dataset(&d);
}

/* ---------- labels unknown, empty input ---------- */

static void test_ranker_unknown_labels(void **state)
{
	struct fl_ranker *r = NULL;
	struct fl_eval ev;
	uint64_t rank;

	(void)state;
	/* One unknown label turns the label metrics off; ranks still work. */
	assert_int_equal(fl_ranker_new(NULL, 4, &r), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(fl_ranker_add(r, (double)i, i == 3 ? -1 : i % 2), 0);
	assert_int_equal(fl_ranker_finish(r, 5, &ev), 0);
	assert_int_equal(ev.rows, 10);
	assert_int_equal(ev.positives, 0);
	assert_true(isnan(ev.auc));
	assert_true(isnan(ev.log_loss));
	assert_true(isnan(ev.brier));
	assert_int_equal(ev.top_k, 5);
	assert_int_equal(ev.top_k_positives, 0);
	assert_near(ev.lift_at_top_k, 0.0, 0);
	for (int d = 0; d < 10; d++) {
		assert_int_equal(ev.deciles[d].rows, 1);
		assert_int_equal(ev.deciles[d].positives, 0);
		/* Decile d + 1 holds score 9 - d. */
		assert_near(ev.deciles[d].mean_prob, naive_sigmoid(9.0 - d), EPS);
	}
	/* Scores 0..9: row i has rank 10 - i. */
	for (uint64_t i = 0; i < 10; i++) {
		assert_int_equal(fl_ranker_rank(r, i, &rank, NULL), 0);
		assert_int_equal(rank, 10 - i);
	}
	fl_ranker_free(r);
}

static void test_ranker_no_positives(void **state)
{
	struct fl_ranker *r = NULL;
	struct fl_eval ev;

	(void)state;
	assert_int_equal(fl_ranker_new(NULL, 4, &r), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(fl_ranker_add(r, 0.0, 0), 0);
	assert_int_equal(fl_ranker_finish(r, 2, &ev), 0);
	/* All negative: AUC undefined, lift 0, log-loss ln 2 (z = 0). */
	assert_int_equal(ev.positives, 0);
	assert_true(isnan(ev.auc));
	assert_near(ev.log_loss, log(2.0), EPS);
	assert_near(ev.lift_at_top_k, 0.0, 0);
	assert_near(ev.top_k_share, 0.0, 0);
	fl_ranker_free(r);
}

static void test_ranker_empty(void **state)
{
	struct fl_ranker *r = NULL;
	struct fl_eval ev;
	uint64_t rank = 7;

	(void)state;
	assert_int_equal(fl_ranker_new(NULL, 4, &r), 0);
	assert_int_equal(fl_ranker_finish(r, 10, &ev), 0);
	assert_int_equal(ev.rows, 0);
	assert_int_equal(ev.top_k, 0);
	assert_true(isnan(ev.auc));
	assert_int_equal(fl_ranker_rank(r, 0, &rank, NULL), FL_ERR_INVALID);
	assert_int_equal(rank, 0);
	assert_string_equal(fl_errmsg(), "ranker: row 0 is out of range (0 rows)");
	fl_ranker_free(r);
	fl_ranker_free(NULL);
}

/* ---------- errors ---------- */

static void test_ranker_misuse(void **state)
{
	struct fl_ranker *r = (struct fl_ranker *)1;
	struct fl_eval ev;
	uint64_t rank = 9;
	int dec = 9;

	(void)state;
	assert_int_equal(fl_ranker_new(NULL, 3, &r), FL_ERR_INVALID);
	assert_null(r);
	assert_string_equal(fl_errmsg(), "ranker: mem_records must be at least 4, not 3");

	assert_int_equal(fl_ranker_new(NULL, 4, &r), 0);
	assert_int_equal(fl_ranker_add(r, 1.0, 2), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "ranker: label 2 of row 0 is not 0, 1 or -1 (unknown)");
	assert_int_equal(fl_ranker_add(r, 1.0, 1), 0);
	assert_int_equal(fl_ranker_add(r, NAN, 0), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "ranker: the score of row 1 is NaN");
	/* The rejected rows were not counted. */
	assert_int_equal(fl_ranker_add(r, 2.0, 0), 0);

	assert_int_equal(fl_ranker_rank(r, 0, &rank, &dec), FL_ERR_INVALID);
	assert_int_equal(rank, 0);
	assert_int_equal(dec, 0);
	assert_string_equal(fl_errmsg(),
	                    "ranker: fl_ranker_rank needs a successful fl_ranker_finish first");

	assert_int_equal(fl_ranker_finish(r, 1, &ev), 0);
	assert_int_equal(ev.rows, 2);
	assert_near(ev.auc, 0.0, EPS); /* the negative scored higher */

	assert_int_equal(fl_ranker_add(r, 3.0, 0), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "ranker: fl_ranker_add called after fl_ranker_finish");
	assert_int_equal(fl_ranker_finish(r, 1, &ev), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "ranker: fl_ranker_finish called twice");
	assert_int_equal(ev.rows, 0);

	assert_int_equal(fl_ranker_rank(r, 2, &rank, &dec), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "ranker: row 2 is out of range (2 rows)");
	assert_int_equal(fl_ranker_rank(r, 1, &rank, &dec), 0);
	assert_int_equal(rank, 1);
	assert_int_equal(dec, 1);
	fl_ranker_free(r);
}

/* A joined ranker takes no scores of its own, and a finished ranker joins
 * nothing. */
static void test_ranker_join_misuse(void **state)
{
	struct fl_ranker *a = NULL, *b = NULL, *c = NULL;
	struct fl_eval ev;
	uint64_t rank = 0;

	(void)state;
	assert_int_equal(fl_ranker_new(NULL, 4, &a), 0);
	assert_int_equal(fl_ranker_new(NULL, 4, &b), 0);
	assert_int_equal(fl_ranker_new(NULL, 4, &c), 0);
	assert_int_equal(fl_ranker_add(a, 1.0, 0), 0);
	assert_int_equal(fl_ranker_add(b, 2.0, 1), 0);
	assert_int_equal(fl_ranker_join(a, a), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "ranker: fl_ranker_join needs two rankers still taking scores");
	assert_int_equal(fl_ranker_join(a, b), 0);
	assert_int_equal(fl_ranker_add(a, 3.0, 0), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "ranker: fl_ranker_add called after fl_ranker_join");
	/* What was joined is empty: it joins nothing again. */
	assert_int_equal(fl_ranker_join(a, b), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "ranker: fl_ranker_join needs two rankers still taking scores");
	assert_int_equal(fl_ranker_finish(a, 1, &ev), 0);
	assert_int_equal(ev.rows, 2);
	/* b's row follows a's: row 1, score 2, ranks first. */
	assert_int_equal(fl_ranker_rank(a, 1, &rank, NULL), 0);
	assert_int_equal(rank, 1);
	assert_int_equal(fl_ranker_join(a, c), FL_ERR_INVALID);
	assert_int_equal(fl_ranker_sort_held(a), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "ranker: fl_ranker_sort_held needs a ranker still taking scores");
	fl_ranker_free(a);
	fl_ranker_free(b);
	fl_ranker_free(c);
}

static void test_ranker_bad_tmpdir(void **state)
{
	struct fl_ranker *r = (struct fl_ranker *)1;
	char want[256];
	const char *old = getenv("TMPDIR");
	char *saved = old ? strdup(old) : NULL;

	(void)state;
	snprintf(want, sizeof(want), "/nonexistent-fedlead-dir: cannot create a temporary file: %s",
	         strerror(ENOENT));
	assert_int_equal(fl_ranker_new("/nonexistent-fedlead-dir", 100, &r), FL_ERR_IO);
	assert_null(r);
	assert_string_equal(fl_errmsg(), want);

	/* NULL means $TMPDIR. */
	assert_int_equal(setenv("TMPDIR", "/nonexistent-fedlead-dir", 1), 0);
	assert_int_equal(fl_ranker_new(NULL, 100, &r), FL_ERR_IO);
	assert_string_equal(fl_errmsg(), want);
	if (saved) {
		setenv("TMPDIR", saved, 1);
		free(saved);
	} else {
		unsetenv("TMPDIR");
	}
}

/*
 * Runs in a child whose files may not grow past 8 KiB (512 records). With
 * 4 records of memory, 1000 rows must go to disk, so adding them fails with
 * EFBIG: proof that the multi-run path really spills. With 2000 records of
 * memory the same rows never touch the disk and succeed.
 */
static int spill_child(void)
{
	struct rlimit rl = {8192, 8192};
	struct fl_ranker *r = NULL;
	struct fl_eval ev;
	char want[256];
	int rc = 0, i;

	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		return 10;
	if (fl_ranker_new("/tmp", 2000, &r) != 0)
		return 11;
	for (i = 0; i < 1000; i++)
		if (fl_ranker_add(r, (double)(i % 13), i % 2) != 0)
			return 12;
	if (fl_ranker_finish(r, 0, &ev) != 0)
		return 13;
	fl_ranker_free(r);

	if (fl_ranker_new("/tmp", 4, &r) != 0)
		return 14;
	for (i = 0; i < 1000 && rc == 0; i++)
		rc = fl_ranker_add(r, (double)(i % 13), i % 2);
	fl_ranker_free(r);
	if (rc != FL_ERR_IO)
		return 15;
	snprintf(want, sizeof(want), "/tmp: cannot write a temporary file: %s", strerror(EFBIG));
	if (strcmp(fl_errmsg(), want) != 0) {
		fprintf(stderr, "got \"%s\"\n", fl_errmsg());
		return 16;
	}
	return 0;
}

static void test_ranker_spills_to_disk(void **state)
{
	int status = -1;
	pid_t pid;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(spill_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_auc_hand),
	        cmocka_unit_test(test_auc_ties),
	        cmocka_unit_test(test_auc_one_class),
	        cmocka_unit_test(test_log_loss_brier_hand),
	        cmocka_unit_test(test_log_loss_extreme),
	        cmocka_unit_test(test_decile_boundaries),
	        cmocka_unit_test(test_ranker_small_by_hand),
	        cmocka_unit_test(test_ranker_top_k),
	        cmocka_unit_test(test_ranker_special_values),
	        cmocka_unit_test(test_ranker_matches_naive),
	        cmocka_unit_test(test_ranker_unknown_labels),
	        cmocka_unit_test(test_ranker_no_positives),
	        cmocka_unit_test(test_ranker_empty),
	        cmocka_unit_test(test_ranker_misuse),
	        cmocka_unit_test(test_ranker_join_misuse),
	        cmocka_unit_test(test_ranker_bad_tmpdir),
	        cmocka_unit_test(test_ranker_spills_to_disk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
