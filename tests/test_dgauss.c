/*
 * The exact discrete Gaussian sampler against its distribution: each
 * building block and the sampler by a chi-square test against the exact
 * probability mass function (computed here in long double from the
 * definition, not from the sampler), moments and tails at the large
 * variances fixed-point noise uses, and the arithmetic modulo 2^64.
 *
 * These tests are statistical: every bound is set at about five standard
 * deviations (or a chi-square quantile of probability ~3e-7), so a correct
 * sampler fails one of them about once in a million runs of the suite,
 * while a sampler that is off by a few percent anywhere fails them all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/dgauss.h"
#include "fedlead/error.h"

/* chi-square quantile with df degrees of freedom at z standard normal
 * deviations above the mean (Wilson-Hilferty). */
static double chi2_quantile(int df, double z)
{
	double a = 2.0 / (9.0 * df), b = 1 - a + z * sqrt(a);

	return df * b * b * b;
}

/* Chi-square statistic of counts[0..k) against probabilities p[0..k). */
static double chi2(const long *counts, const long double *p, int k, long n)
{
	double s = 0;

	for (int i = 0; i < k; i++) {
		double e = (double)(p[i] * n), d = counts[i] - e;

		s += d * d / e;
	}
	return s;
}

static struct fl_dgauss *sampler(uint64_t s2)
{
	struct fl_dgauss *g = NULL;

	assert_int_equal(fl_dgauss_new(s2, &g), 0);
	return g;
}

static void bern_exp_frequencies(void **state)
{
	/* gamma = num/den, including 0, 1 and values above 1 (the split into
	 * whole and fractional parts) */
	static const struct {
		unsigned num, den;
	} cases[] = {{0, 1}, {3, 10}, {1, 1}, {5, 2}, {7, 3}, {1, 1000}};
	struct fl_dgauss *g = sampler(1);
	const long n = 200000;

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		double p = exp(-(double)cases[c].num / cases[c].den), se;
		long ones = 0;

		for (long i = 0; i < n; i++) {
			int bit;

			assert_int_equal(fl_dgauss_bern_exp(g, cases[c].num, cases[c].den, &bit),
			                 0);
			ones += bit;
		}
		se = sqrt(p * (1 - p) / n);
		if (cases[c].num == 0)
			assert_int_equal(ones, n); /* exp(0) = 1: never 0 */
		else
			assert_true(fabs((double)ones / n - p) < 5 * se + 1e-12);
	}
	fl_dgauss_free(g);
}

/*
 * The coins of bern_exp compare digit by digit with num/den, and fall back
 * to a uniform integer below den when den is 2^127 or more: gamma = 1/2
 * and 1/3 with denominators of 2^40, 2^100 and 2^123 + 2^122 (its
 * Bernoulli(gamma / k) coins have denominators k den, 2^127 or more from
 * k = 3 on: the fallback), and 0.3 as 3 x 2^90 / (10 x 2^90).
 */
static void bern_exp_large_denominators(void **state)
{
	const unsigned __int128 one = 1;
	const struct {
		unsigned __int128 num, den;
		double gamma;
	} cases[] = {{one << 39, one << 40, 0.5},
	             {one << 99, one << 100, 0.5},
	             {(one << 122) + (one << 121), (one << 123) + (one << 122), 0.5},
	             {((one << 123) + (one << 122)) / 3, (one << 123) + (one << 122), 1.0 / 3},
	             {3 * (one << 90), 10 * (one << 90), 0.3}};
	struct fl_dgauss *g = sampler(1);
	const long n = 200000;

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		double p = exp(-cases[c].gamma), se = sqrt(p * (1 - p) / n);
		long ones = 0;

		for (long i = 0; i < n; i++) {
			int bit;

			assert_int_equal(fl_dgauss_bern_exp(g, cases[c].num, cases[c].den, &bit),
			                 0);
			ones += bit;
		}
		assert_true(fabs((double)ones / n - p) < 5 * se);
	}
	fl_dgauss_free(g);
}

static void laplace_chi_square(void **state)
{
	const uint64_t t = 3;
	const int half = 15; /* bins -15..15, the two tails pooled into the ends */
	const long n = 300000;
	long counts[2 * 15 + 1] = {0};
	long double p[2 * 15 + 1], q = expl(-1.0L / t), norm = (1 - q) / (1 + q), tail;
	struct fl_dgauss *g = sampler(1);

	(void)state;
	for (int y = -half; y <= half; y++)
		p[y + half] = norm * powl(q, fabsl((long double)y));
	/* P[Y >= half] = norm q^half / (1 - q), likewise below */
	tail = norm * powl(q, half) / (1 - q);
	p[0] = p[2 * half] = tail;
	for (long i = 0; i < n; i++) {
		int64_t y;

		assert_int_equal(fl_dgauss_laplace(g, t, &y), 0);
		if (y < -half)
			y = -half;
		if (y > half)
			y = half;
		counts[y + half]++;
	}
	assert_true(chi2(counts, p, 2 * half + 1, n) < chi2_quantile(2 * half, 5));
	fl_dgauss_free(g);
}

/*
 * The discrete Laplace distribution at scales that are powers of two, the
 * scales the sampler's proposals use (its exp(-U/t) coins compare one
 * uniform with U/t and (U/t)^2 / 2), against the exact pmf.
 */
static void laplace_chi_square_dyadic(void **state)
{
	static const uint64_t scales[] = {2, 4, 16};
	const long n = 300000;
	struct fl_dgauss *g = sampler(1);

	(void)state;
	for (size_t s = 0; s < sizeof(scales) / sizeof(scales[0]); s++) {
		const uint64_t t = scales[s];
		const int half = (int)(6 * t); /* tails of exp(-6) pooled at the ends */
		long *counts = calloc(2 * half + 1, sizeof(long));
		long double *p = calloc(2 * half + 1, sizeof(long double));
		long double q = expl(-1.0L / t), norm = (1 - q) / (1 + q);

		assert_non_null(counts);
		assert_non_null(p);
		for (int y = -half; y <= half; y++)
			p[y + half] = norm * powl(q, fabsl((long double)y));
		p[0] = p[2 * half] = norm * powl(q, half) / (1 - q);
		for (long i = 0; i < n; i++) {
			int64_t y;

			assert_int_equal(fl_dgauss_laplace(g, t, &y), 0);
			if (y < -half)
				y = -half;
			if (y > half)
				y = half;
			counts[y + half]++;
		}
		assert_true(chi2(counts, p, 2 * half + 1, n) < chi2_quantile(2 * half, 5));
		free(counts);
		free(p);
	}
	fl_dgauss_free(g);
}

/* The discrete Gaussian with variance s2 against its exact pmf. */
static void gauss_chi_square_at(uint64_t s2, int half)
{
	const long n = 300000;
	long *counts = calloc(2 * half + 1, sizeof(long));
	long double *p = calloc(2 * half + 1, sizeof(long double)), z = 0, below = 0;
	struct fl_dgauss *g = sampler(s2);
	const int far = 40 * (int)sqrt((double)s2) + 40;

	assert_non_null(counts);
	assert_non_null(p);
	for (int x = -far; x <= far; x++)
		z += expl(-(long double)x * x / (2.0L * s2));
	for (int x = -far; x <= far; x++) {
		long double px = expl(-(long double)x * x / (2.0L * s2)) / z;

		if (x <= -half)
			below += px;
		else if (x < half)
			p[x + half] = px;
	}
	p[0] = below;
	p[2 * half] = below; /* symmetric */
	for (long i = 0; i < n; i++) {
		int64_t x;

		assert_int_equal(fl_dgauss_sample(g, &x), 0);
		if (x < -half)
			x = -half;
		if (x > half)
			x = half;
		counts[x + half]++;
	}
	assert_true(chi2(counts, p, 2 * half + 1, n) < chi2_quantile(2 * half, 5));
	fl_dgauss_free(g);
	free(counts);
	free(p);
}

static void gauss_chi_square(void **state)
{
	(void)state;
	gauss_chi_square_at(1, 5);   /* sigma = 1: mostly -2..2 */
	gauss_chi_square_at(4, 8);   /* the proposal scale t = 3 */
	gauss_chi_square_at(50, 20); /* a non-square variance */
}

/*
 * The digits each coin compares its random bits with, against values
 * worked out by hand: 1/3 = 0.0101..., 2/3 = 0.1010..., 3/10 =
 * 0.0100110011... (2^64 = 1 mod 3 and 6 mod 10 give the remainders), and
 * (den - 1) / den for a den above 2^127 (the long division whose doubling
 * would overflow): 64 one digits, remainder 2^64 (den - 1) mod den =
 * den - 2^64.
 */
static void digits_known_answers(void **state)
{
	const unsigned __int128 one = 1, big = (one << 127) + (one << 100) + 12345;
	unsigned __int128 rem;

	(void)state;
	assert_true(fl_dgauss_digits(1, 3, NULL) == 0x5555555555555555u);
	assert_true(fl_dgauss_digits(1, 3, &rem) == 0x5555555555555555u);
	assert_true(rem == 1);
	assert_true(fl_dgauss_digits(2, 3, &rem) == 0xAAAAAAAAAAAAAAAAu);
	assert_true(rem == 2);
	assert_true(fl_dgauss_digits(3, 10, NULL) == 0x4CCCCCCCCCCCCCCCu);
	assert_true(fl_dgauss_digits(3, 10, &rem) == 0x4CCCCCCCCCCCCCCCu);
	assert_true(rem == 8);
	assert_true(fl_dgauss_digits(1, 2, &rem) == 0x8000000000000000u);
	assert_true(rem == 0);
	assert_true(fl_dgauss_digits(0, 7, &rem) == 0 && rem == 0);
	/* the same fraction with a denominator above 2^64: the same digits */
	assert_true(fl_dgauss_digits(3 * (one << 90), 10 * (one << 90), NULL) ==
	            0x4CCCCCCCCCCCCCCCu);
	assert_true(fl_dgauss_digits(big - 1, big, &rem) == UINT64_MAX);
	assert_true(rem == big - (one << 64));
}

/*
 * Variances whose proposal scale t is the power of two below sigma (for
 * sigma^2 = 5, 2^2 = 4 >= sigma but 4^2 > 2 sigma^2, so t = 2; t = 4 for
 * 20) and above it (sigma^2 = 3: t = 2; 14: t = 4): the sampler is exact
 * for any scale.
 */
static void gauss_chi_square_scales(void **state)
{
	(void)state;
	gauss_chi_square_at(5, 9);
	gauss_chi_square_at(3, 7);
	gauss_chi_square_at(14, 12);
	gauss_chi_square_at(20, 14);
}

/* Mean, variance and tail mass at the variances fixed-point noise uses. */
static void moments_and_tails(void **state)
{
	static const uint64_t vars[] = {(uint64_t)1 << 20, (uint64_t)1 << 36, FL_DGAUSS_MAX_VAR};
	const long n = 200000;

	(void)state;
	for (size_t v = 0; v < sizeof(vars) / sizeof(vars[0]); v++) {
		struct fl_dgauss *g = sampler(vars[v]);
		double s2 = (double)vars[v], sd = sqrt(s2), sum = 0, sumsq = 0, out3 = 0;

		for (long i = 0; i < n; i++) {
			int64_t x;

			assert_int_equal(fl_dgauss_sample(g, &x), 0);
			sum += (double)x;
			sumsq += (double)x * (double)x;
			if (fabs((double)x) > 3 * sd)
				out3++;
		}
		/* mean 0: standard error sd / sqrt(n) */
		assert_true(fabs(sum / n) < 5 * sd / sqrt(n));
		/* variance s2 (to within exp(-2 pi^2 s2) for these s2): the
		 * sample variance's relative standard error is sqrt(2 / n) */
		assert_true(fabs(sumsq / n / s2 - 1) < 5 * sqrt(2.0 / n));
		/* P[|X| > 3 sigma] = 0.0026998 for the Gaussian */
		assert_true(fabs(out3 / n - 0.0026998) < 5 * sqrt(0.0027 / n));
		fl_dgauss_free(g);
	}
}

static void add_wraps_mod_2_64(void **state)
{
	struct fl_dgauss *g = sampler(100);
	uint64_t v[1000], w[1000];
	int negative = 0, positive = 0;

	(void)state;
	for (int i = 0; i < 1000; i++)
		v[i] = w[i] = i % 2 ? UINT64_MAX : 0;
	assert_int_equal(fl_dgauss_add(g, v, 1000), 0);
	for (int i = 0; i < 1000; i++) {
		int64_t d = (int64_t)(v[i] - w[i]);

		assert_true(d > -200 && d < 200); /* 20 sigma */
		negative += d < 0;
		positive += d > 0;
	}
	/* the noise wraps like the masks: both signs appear around 0 and 2^64-1 */
	assert_true(negative > 300 && positive > 300);
	fl_dgauss_free(g);
}

static void refuses_bad_variance(void **state)
{
	struct fl_dgauss *g = (void *)1;

	(void)state;
	assert_int_equal(fl_dgauss_new(0, &g), FL_ERR_INVALID);
	assert_null(g);
	assert_string_equal(fl_errmsg(),
	                    "discrete Gaussian variance 0 is out of range (1 to 281474976710656)");
	assert_int_equal(fl_dgauss_new(FL_DGAUSS_MAX_VAR + 1, &g), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "discrete Gaussian variance 281474976710657 is out of range "
	                    "(1 to 281474976710656)");
	fl_dgauss_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(bern_exp_frequencies),
	        cmocka_unit_test(bern_exp_large_denominators),
	        cmocka_unit_test(laplace_chi_square),
	        cmocka_unit_test(laplace_chi_square_dyadic),
	        cmocka_unit_test(gauss_chi_square),
	        cmocka_unit_test(digits_known_answers),
	        cmocka_unit_test(gauss_chi_square_scales),
	        cmocka_unit_test(moments_and_tails),
	        cmocka_unit_test(add_wraps_mod_2_64),
	        cmocka_unit_test(refuses_bad_variance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
