/*
 * The zCDP accountant against published values and closed forms:
 * - the discrete Gaussian's zCDP (Canonne, Kamath, Steinke 2020, Thm 14):
 *   sensitivity D and variance s2 give rho = D^2 / (2 s2);
 * - composition of k releases is k times the rho of one;
 * - the zCDP -> (epsilon, delta) conversion against the values printed by
 *   the authors' reference script for it (cdp2adp.py, published with the
 *   paper: cdp_eps(0.025, 1e-6), cdp_rho(1, 1e-6), cdp_delta(0.025, 1));
 * - never looser than the classic bound rho + 2 sqrt(rho log(1/delta));
 * - the distributed discrete Gaussian's tau term at small variances, from
 *   the formula of Kairouz, Liu and Steinke (2021, Proposition 14) written
 *   out here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "fedlead/accountant.h"

static void close_rel(double got, double want, double rel)
{
	assert_true(fabs(got - want) <= rel * fabs(want));
}

static void discrete_gaussian_zcdp(void **state)
{
	(void)state;
	/* one partner: the plain discrete Gaussian, rho = D^2 / (2 s2) */
	close_rel(fl_dp_ddg_rho(1, 1, 1e6, 1, 100), 1 / 2e6, 1e-15);
	close_rel(fl_dp_ddg_rho(3, 2.5, 40000, 1, 10), 6.25 / 80000, 1e-15);
	/* n partners of variance s2 each: the sum has variance n s2 */
	close_rel(fl_dp_ddg_rho(1, 1, 1e6, 3, 100), 1 / 6e6, 1e-15);
	close_rel(fl_dp_ddg_rho(2, 2, 65536.0 * 65536.0, 7, 10000), 4 / (2 * 7 * 65536.0 * 65536.0),
	          1e-15);
	/* out of range */
	assert_true(fl_dp_ddg_rho(1, 1, 1, 0, 1) < 0);
	assert_true(fl_dp_ddg_rho(1, 1, 0, 2, 1) < 0);
	assert_true(fl_dp_ddg_rho(1, -1, 1, 2, 1) < 0);
}

static void tau_at_small_variance(void **state)
{
	const double pi = 3.14159265358979323846;
	double s2 = 0.5, l1 = 4, l2 = 2, tau = 0, s, r2, r3;
	unsigned n = 4;
	size_t d = 8;

	(void)state;
	for (unsigned k = 1; k < n; k++)
		tau += 10 * exp(-2 * pi * pi * s2 * k / (k + 1.0));
	s = sqrt(n * s2);
	r2 = 0.5 * (l2 * l2 / (n * s2) + 2 * l1 * tau / s + tau * tau * d);
	r3 = 0.5 * (l2 / s + tau * sqrt((double)d)) * (l2 / s + tau * sqrt((double)d));
	assert_true(tau > 0.01); /* the term matters at this variance */
	close_rel(fl_dp_ddg_rho(l1, l2, s2, n, d), fmin(r2, r3), 1e-14);
	/* and vanishes at the variances fedlead uses */
	close_rel(fl_dp_ddg_rho(l1, l2, 4, n, d), l2 * l2 / (2 * n * 4.0), 1e-12);
}

static void composition(void **state)
{
	double one = fl_dp_ddg_rho(1, 1, 250000, 3, 50);

	(void)state;
	/* zCDP composes by addition: 40 releases at variance s2 cost as much
	 * as one at variance s2 / 40, and the run's epsilon is the conversion
	 * of the total */
	close_rel(40 * one, fl_dp_ddg_rho(1, 1, 250000 / 40.0, 3, 50), 1e-14);
	close_rel(fl_dp_epsilon(40 * one, 1e-6),
	          fl_dp_epsilon(fl_dp_ddg_rho(1, 1, 250000 / 40.0, 3, 50), 1e-6), 1e-12);
	assert_true(fl_dp_epsilon(40 * one, 1e-6) > fl_dp_epsilon(39 * one, 1e-6));
	assert_true(fl_dp_epsilon(40 * one, 1e-6) < 40 * fl_dp_epsilon(one, 1e-6));
}

static void conversion_published_values(void **state)
{
	(void)state;
	close_rel(fl_dp_epsilon(0.025, 1e-6), 1.014074254726128, 1e-6);
	close_rel(fl_dp_delta(0.025, 1), 1.3361319064032213e-06, 1e-5);
	close_rel(fl_dp_rho_budget(1, 1e-6), 0.024355970359538372, 1e-6);
	/* the budgets a partner picks, each the inverse of the conversion */
	close_rel(fl_dp_rho_budget(0.5, 1e-6), 0.006641524356660502, 1e-6);
	close_rel(fl_dp_rho_budget(8, 1e-6), 1.052358004556989, 1e-6);
	close_rel(fl_dp_epsilon(fl_dp_rho_budget(2, 1e-6), 1e-6), 2, 1e-9);
	assert_true(fl_dp_epsilon(fl_dp_rho_budget(4, 1e-6), 1e-6) <= 4);
}

static void never_looser_than_classic(void **state)
{
	static const double rhos[] = {1e-4, 0.01, 0.1, 0.5, 1, 2, 10};
	static const double deltas[] = {1e-3, 1e-6, 1e-10};

	(void)state;
	for (size_t i = 0; i < sizeof(rhos) / sizeof(rhos[0]); i++)
		for (size_t j = 0; j < sizeof(deltas) / sizeof(deltas[0]); j++) {
			double r = rhos[i], d = deltas[j];
			double classic = r + 2 * sqrt(r * log(1 / d)), e = fl_dp_epsilon(r, d);

			assert_true(e > 0 && e <= classic);
			/* and the conversion is self-consistent: at that epsilon,
			 * the delta is the one asked for */
			assert_true(fl_dp_delta(r, e) <= d * (1 + 1e-6));
		}
	assert_true(fl_dp_epsilon(0, 1e-6) == 0);
	assert_true(fl_dp_epsilon(-1, 1e-6) < 0);
	assert_true(fl_dp_epsilon(1, 0) < 0);
	assert_true(fl_dp_rho_budget(0, 1e-6) < 0);
}

static void sigma_for_a_budget(void **state)
{
	double rho = 0.002, s2 = fl_dp_ddg_sigma2(3, 2, rho, 3, 1000, 1e18);

	(void)state;
	/* the smallest integer variance that meets the budget */
	assert_true(s2 >= 1);
	assert_true(fl_dp_ddg_rho(3, 2, s2, 3, 1000) <= rho);
	assert_true(fl_dp_ddg_rho(3, 2, s2 - 1, 3, 1000) > rho);
	close_rel(s2, ceil(4 / (2 * 3 * rho)), 1e-12);
	/* none within the cap */
	assert_true(fl_dp_ddg_sigma2(3, 2, rho, 3, 1000, 10) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(discrete_gaussian_zcdp),
	        cmocka_unit_test(tau_at_small_variance),
	        cmocka_unit_test(composition),
	        cmocka_unit_test(conversion_published_values),
	        cmocka_unit_test(never_looser_than_classic),
	        cmocka_unit_test(sigma_for_a_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
