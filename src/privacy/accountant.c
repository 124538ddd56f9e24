/*
 * zCDP accounting; see include/fedlead/accountant.h. Every conversion here
 * is a valid bound for any order a > 1, so the numerical search over a can
 * only make a reported epsilon larger than the optimum, never smaller.
 */
#include "fedlead/accountant.h"

#include <math.h>

#define PI 3.14159265358979323846

double fl_dp_ddg_rho(double l1, double l2, double sigma2, unsigned noisy, size_t dim)
{
	double s, tau = 0, rho2, rho3, t;

	if (noisy == 0 || !(sigma2 > 0) || !(l1 >= 0) || !(l2 >= 0) || !isfinite(sigma2))
		return -1;
	for (unsigned k = 1; k < noisy; k++)
		tau += exp(-2 * PI * PI * sigma2 * k / (k + 1.0));
	tau *= 10;
	s = sqrt((double)noisy * sigma2);
	rho2 = 0.5 *
	       (l2 * l2 / ((double)noisy * sigma2) + 2 * l1 * tau / s + tau * tau * (double)dim);
	t = l2 / s + tau * sqrt((double)dim);
	rho3 = 0.5 * t * t;
	return rho2 < rho3 ? rho2 : rho3;
}

/* epsilon at order a = 1 + e^u, and delta at that order for a given epsilon */
static double eps_at(double rho, double delta, double u)
{
	double am1 = exp(u), a = 1 + am1;

	return a * rho + (a * log1p(-1 / a) - log(am1) - log(delta)) / am1;
}

static double log_delta_at(double rho, double epsilon, double u)
{
	double am1 = exp(u), a = 1 + am1;

	return am1 * (a * rho - epsilon) + a * log1p(-1 / a) - log(am1);
}

/* Minimum of f over u in [lo, hi]: a grid, then golden-section around the
 * best grid point. Neither function need be convex for the result to be a
 * valid bound; the grid guards against a local minimum far from the best. */
static double minimise(double (*f)(double, double, double), double p, double q, double lo,
                       double hi)
{
	const int grid = 400;
	const double g = (sqrt(5.0) - 1) / 2;
	double best = INFINITY, bu = lo, step = (hi - lo) / grid, a, b, c, d;

	for (int i = 0; i <= grid; i++) {
		double u = lo + i * step, v = f(p, q, u);

		if (v < best) {
			best = v;
			bu = u;
		}
	}
	a = bu - step;
	b = bu + step;
	c = b - g * (b - a);
	d = a + g * (b - a);
	for (int i = 0; i < 100; i++) {
		if (f(p, q, c) < f(p, q, d))
			b = d;
		else
			a = c;
		c = b - g * (b - a);
		d = a + g * (b - a);
	}
	c = f(p, q, (a + b) / 2);
	return c < best ? c : best;
}

double fl_dp_epsilon(double rho, double delta)
{
	if (!(rho >= 0) || !(delta > 0 && delta < 1) || !isfinite(rho))
		return -1;
	if (rho == 0)
		return 0;
	return fmax(0, minimise(eps_at, rho, delta, -30, 30));
}

double fl_dp_delta(double rho, double epsilon)
{
	if (!(rho >= 0) || !(epsilon >= 0))
		return -1;
	if (rho == 0)
		return 0;
	return fmin(1, exp(minimise(log_delta_at, rho, epsilon, -30, 30)));
}

double fl_dp_rho_budget(double epsilon, double delta)
{
	double lo = 0, hi = epsilon + 1;

	if (!(epsilon > 0) || !(delta > 0 && delta < 1) || !isfinite(epsilon))
		return -1;
	/* fl_dp_epsilon grows with rho; keep lo feasible. */
	for (int i = 0; i < 200; i++) {
		double mid = (lo + hi) / 2;

		if (fl_dp_epsilon(mid, delta) <= epsilon)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

double fl_dp_ddg_sigma2(double l1, double l2, double rho, unsigned noisy, size_t dim,
                        double max_sigma2)
{
	double lo, hi;

	if (!(rho > 0) || noisy == 0 || !(l2 >= 0) || !(l1 >= 0))
		return 0;
	/* With tau = 0 the answer is l2^2 / (2 noisy rho); tau only adds. */
	hi = fmax(1, ceil(l2 * l2 / (2.0 * noisy * rho)));
	while (fl_dp_ddg_rho(l1, l2, hi, noisy, dim) > rho) {
		if (hi > max_sigma2)
			return 0;
		hi *= 2;
	}
	if (hi > max_sigma2)
		return 0;
	lo = 0;
	while (hi - lo > 1) {
		double mid = floor((lo + hi) / 2);

		if (mid >= 1 && fl_dp_ddg_rho(l1, l2, mid, noisy, dim) <= rho)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

int fl_dp_grid_calibrate(double l1, double l2, size_t dim, double rho, unsigned noisy, int top_bits,
                         double max_sigma2, double *sigma2)
{
	double root = sqrt((double)dim);

	for (int bits = top_bits; bits >= 0; bits--) {
		double scale = ldexp(1, bits);

		*sigma2 = fl_dp_ddg_sigma2(l1 * scale + (double)dim, l2 * scale + root, rho, noisy,
		                           dim, max_sigma2);
		if (*sigma2 > 0)
			return bits;
	}
	return -1;
}
