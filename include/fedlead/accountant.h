/*
 * Privacy accounting in zero-concentrated differential privacy (zCDP; Bun
 * and Steinke 2016): each release of a partner's data costs some rho, the
 * costs of a training run add up, and the total converts to the (epsilon,
 * delta) a partner's legal team reads.
 *
 * Why zCDP: composition is a plain sum (rho_1 + rho_2 + ...), so a budget
 * can be planned before training and checked release by release, and the
 * discrete Gaussian's cost is known exactly in it (Canonne, Kamath and
 * Steinke 2020, Theorem 14: sensitivity D and variance s2 cost
 * rho = D^2 / (2 s2)).
 *
 * All sensitivities and variances are in the same units (fixed-point units
 * when the noise is added to fixed-point vectors).
 */
#ifndef FEDLEAD_ACCOUNTANT_H
#define FEDLEAD_ACCOUNTANT_H

#include <stddef.h>

/*
 * rho of one release of the sum of `noisy` partners' vectors, each noised
 * with discrete Gaussian noise of variance sigma2 per coordinate (the
 * distributed discrete Gaussian: Kairouz, Liu and Steinke, ICML 2021,
 * Proposition 14). l1 and l2 bound the change of the summed vector when one
 * lead is added or removed; dim is its length. The sum of discrete Gaussians
 * is not quite a discrete Gaussian; tau = 10 sum_{k=1}^{noisy-1}
 * exp(-2 pi^2 sigma2 k / (k + 1)) bounds the difference and is 0 to double
 * precision once sigma2 >= 4. The result is the smaller of the
 * proposition's two zCDP bounds. Returns a negative value for arguments out
 * of range (noisy == 0, sigma2 <= 0, negative sensitivity).
 */
double fl_dp_ddg_rho(double l1, double l2, double sigma2, unsigned noisy, size_t dim);

/*
 * The smallest epsilon such that rho-zCDP implies (epsilon, delta)-DP, by
 * the conversion of Canonne, Kamath and Steinke (2020, Corollary 13):
 * delta = exp((a - 1)(a rho - epsilon)) (1 - 1/a)^a / (a - 1) for any a > 1,
 * optimised over a. Tighter than the classic rho + 2 sqrt(rho log(1/delta)).
 * rho >= 0, 0 < delta < 1; returns a negative value otherwise.
 */
double fl_dp_epsilon(double rho, double delta);

/* The delta of the same conversion for a given epsilon (>= 0); at most 1. */
double fl_dp_delta(double rho, double epsilon);

/*
 * The largest rho whose (epsilon, delta) by fl_dp_epsilon() is at most
 * epsilon: a partner's whole budget in zCDP. Negative for arguments out of
 * range (epsilon <= 0, delta outside (0, 1)).
 */
double fl_dp_rho_budget(double epsilon, double delta);

/*
 * The variance each of `noisy` partners must add so that one release with
 * sensitivities l1, l2 over dim values costs at most rho: the inverse of
 * fl_dp_ddg_rho(), rounded up to an integer. 0 when no variance up to
 * max_sigma2 suffices.
 */
double fl_dp_ddg_sigma2(double l1, double l2, double rho, unsigned noisy, size_t dim,
                        double max_sigma2);

/*
 * The finest grid 2^-bits, bits from top_bits down to 0, on which a
 * release with sensitivities l1, l2 (in the release's units) over dim
 * values costs at most rho with `noisy` honest partners: rounding to the
 * grid adds 1 per value in grid units (dim to l1, sqrt(dim) to l2). Returns
 * the bits with *sigma2 the variance in grid units, or -1 (and 0) when no
 * grid's variance is at most max_sigma2. One search for every release
 * (statistics, knots, evaluations), so they calibrate alike.
 */
int fl_dp_grid_calibrate(double l1, double l2, size_t dim, double rho, unsigned noisy, int top_bits,
                         double max_sigma2, double *sigma2);

#endif
