/*
 * Plan v7's per-row clipped gradient (src/core/dp_gradient.c) on rows whose
 * answers are worked out by hand below: a row whose term is longer than
 * the bound B comes out at exactly B along its own direction, a row at B
 * and a row below it are unchanged, the class weight is inside the clip,
 * the factor u turns a row clipped at R back into the longer row for the
 * gradient but not for the loss, and a w or a row that is not finite adds
 * nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "fedlead/dp_gradient.h"
#include "fedlead/linalg.h"

static void close_abs(double got, double want)
{
	if (!(fabs(got - want) <= 1e-12))
		fail_msg("got %.17g, want %.17g", got, want);
}

/*
 * B = 0.8 R with R = 2: B = 1.6. At w = 0 every z is 0, sigmoid(0) = 0.5,
 * and each row's loss is log(1 + e^0) = log 2.
 *   row 1: x = (3, 4), y = 0: t = 0.5 (3, 4) = (1.5, 2), norm 2.5 > 1.6,
 *          so t = 1.6 (0.6, 0.8) = (0.96, 1.28).
 *   row 2: x = (1.92, 2.56), y = 0: t = (0.96, 1.28), norm exactly 1.6:
 *          unchanged.
 *   row 3: x = (0.6, 0.8), y = 1: t = -0.5 (0.6, 0.8) = (-0.3, -0.4),
 *          norm 0.5: unchanged.
 * grad = (0.96 + 0.96 - 0.3, 1.28 + 1.28 - 0.4) = (1.62, 2.16);
 * loss = 3 log 2.
 */
static void clipped_to_bound(void **state)
{
	const double X[6] = {3, 4, 1.92, 2.56, 0.6, 0.8}, y[3] = {0, 0, 1}, w[2] = {0, 0};
	double g[2], loss;

	(void)state;
	fl_dp_gradient_clipped(X, 1, 2, y, NULL, NULL, w, 1.6, &loss, g);
	close_abs(g[0], 0.96);
	close_abs(g[1], 1.28);
	close_abs(sqrt(g[0] * g[0] + g[1] * g[1]), 1.6);
	close_abs(loss, log(2.0));
	fl_dp_gradient_clipped(X, 3, 2, y, NULL, NULL, w, 1.6, &loss, g);
	close_abs(g[0], 1.62);
	close_abs(g[1], 2.16);
	close_abs(loss, 3 * log(2.0));
}

/*
 * The class weight is inside the clip: row 1 above with c = 15.7 has the
 * term 15.7 * 0.5 (3, 4), norm 39.25, clipped to the same (0.96, 1.28);
 * row 3 with c = 2 has (-0.6, -0.8), norm 1: unchanged. Its loss is c log 2
 * each: (15.7 + 2) log 2.
 */
static void weight_inside_clip(void **state)
{
	const double X[4] = {3, 4, 0.6, 0.8}, y[2] = {0, 1}, c[2] = {15.7, 2}, w[2] = {0, 0};
	double g[2], loss;

	(void)state;
	fl_dp_gradient_clipped(X, 2, 2, y, c, NULL, w, 1.6, &loss, g);
	close_abs(g[0], 0.96 - 0.6);
	close_abs(g[1], 1.28 - 0.8);
	close_abs(loss, 17.7 * log(2.0));
}

/*
 * A row of norm 4 clipped to R = 1 is x = (0.6, 0.8) with u = 4 (the row
 * clipped at G >= 4 is (2.4, 3.2)). With w = (1, 0) and y = 1:
 *   the loss is over the row clipped at R: z = 0.6, log(1 + e^0.6) - 0.6
 *   = log(1 + e^-0.6) = 0.43748795048588560;
 *   the gradient over the longer row: z = 2.4, t = (sigmoid(2.4) - 1)
 *   (2.4, 3.2) = -sigmoid(-2.4) (2.4, 3.2), sigmoid(-2.4) = 1 / (1 +
 *   e^2.4) = 0.083172696493922380, norm 4 * 0.0832 = 0.333 below B = 0.8:
 *   t = (-0.19961447158541371, -0.26615262878055162).
 * With B = 0.2 the same term is scaled to norm 0.2: 0.2 * -(0.6, 0.8).
 */
static void longer_row_for_gradient(void **state)
{
	const double X[2] = {0.6, 0.8}, y[1] = {1}, u[1] = {4}, w[2] = {1, 0};
	double g[2], loss;

	(void)state;
	fl_dp_gradient_clipped(X, 1, 2, y, NULL, u, w, 0.8, &loss, g);
	close_abs(loss, 0.43748795048588560);
	close_abs(g[0], -0.19961447158541371);
	close_abs(g[1], -0.26615262878055162);
	fl_dp_gradient_clipped(X, 1, 2, y, NULL, u, w, 0.2, &loss, g);
	close_abs(g[0], -0.12);
	close_abs(g[1], -0.16);
}

/* A w that is not a number makes every term NaN: none is added, so the
 * gradient stays 0 rather than a value no bound covers. */
static void nan_weights_add_nothing(void **state)
{
	const double X[2] = {0.6, 0.8}, y[1] = {0}, w[2] = {NAN, 0};
	double g[2] = {5, 5}, loss;

	(void)state;
	fl_dp_gradient_clipped(X, 1, 2, y, NULL, NULL, w, 0.8, &loss, g);
	assert_true(g[0] == 0 && g[1] == 0);
}

/*
 * A term whose norm is infinite or not a number is left out, not added as
 * NaN. At w = (1e-300, 0), beside row 3 of clipped_to_bound (z = 6e-301,
 * sigmoid 0.5 to the last bit, its term (-0.3, -0.4)):
 *   row (3, 4), y = 0, weight inf: its term is inf (0.5 + 0) (3, 4), of
 *   infinite norm (scaled by B / inf it would be inf times 0, NaN);
 *   row (inf, 1), y = 0: z = inf, sigmoid 1, a term of infinite norm with
 *   an infinite entry (0 times it would be NaN);
 *   row (2, NaN), y = 1: a term that is not a number.
 * Only row 3's term is added.
 */
static void infinite_terms_left_out(void **state)
{
	const double X[8] = {3, 4, INFINITY, 1, 0.6, 0.8, 2, NAN}, y[4] = {0, 0, 1, 1};
	const double c[4] = {INFINITY, 1, 1, 1}, w[2] = {1e-300, 0};
	double g[2], loss;

	(void)state;
	fl_dp_gradient_clipped(X, 4, 2, y, c, NULL, w, 1.6, &loss, g);
	assert_true(g[0] == -0.3 && g[1] == -0.4);
}

/* Review rev9: a 64-bit LCG, uniform in [-0.5, 0.5). */
static double uni(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(*s >> 11) / 9007199254740992.0 - 0.5;
}

/*
 * Review rev9, the bounds plan v7 charges for, on neighbouring data sets
 * built as a hostile coordinator and lead would (not on the kernel's own
 * arithmetic): 400 data sets of 12 leads in 5 columns, each lead's raw
 * norm one of 0.3 R, R, 7 R, 150 R (beyond the 100 R row clip) and 10^9,
 * each clipped to R with u = min(norm, 100 R) / R above R; labels 0 and 1;
 * weight 1 or 15.7 on positives; w of norm 0 to 60, and in every fifth
 * set one lead along +-w (|z| = ||w|| R, the worst case of the first
 * evaluation). Removing any one lead moves
 *  - the clipped gradient (the evaluations without the Hessian) by at most
 *    0.8 R, whatever w, weight and norm;
 *  - the unclipped gradient over the rows clipped at R (the evaluation
 *    with the Hessian, and any the coordinator marks so) by at most
 *    max(1, c) R sigmoid(||w|| R), reached (to 1e-9) by the lead along w.
 */
static void neighbours_within_plan_bounds(void **state)
{
	enum { N = 12, D = 5 };
	const double R = 2, B = 0.8 * R, G = 100 * R, norms[5] = {0.3, 1, 7, 150, 5e8};
	uint64_t rng = 987654321;
	double worst_ratio = 0;

	(void)state;
	for (int t = 0; t < 400; t++) {
		double X[N * D], u[N], y[N], c[N], w[D], nw = 0, cw = t % 2 ? 15.7 : 1;
		double g[D], g1[D], loss, loss1, Xk[N * D], uk[N], yk[N], ck[N];

		for (size_t j = 0; j < D; j++) {
			w[j] = uni(&rng) * (double)(t % 13) * 10;
			nw += w[j] * w[j];
		}
		nw = sqrt(nw);
		for (size_t i = 0; i < N; i++) {
			double *x = X + i * D, n2 = 0, raw = norms[(i + (size_t)t) % 5] * R;

			for (size_t j = 0; j < D; j++) {
				x[j] = uni(&rng);
				n2 += x[j] * x[j];
			}
			if (t % 5 == 0 && i == 0 && nw > 0) {
				for (size_t j = 0; j < D; j++)
					x[j] = w[j] * (t % 10 == 0 ? 1 : -1);
				n2 = nw * nw;
				raw = 7 * R;
			}
			/* Raw norm raw; clipped to R; u back to the row at G. */
			for (size_t j = 0; j < D; j++)
				x[j] *= fmin(raw, R) / sqrt(n2);
			n2 = 0;
			for (size_t j = 0; j < D; j++)
				n2 += x[j] * x[j];
			u[i] = raw > R ? fmin(raw, G) / R : 1;
			y[i] = (double)((rng >> 20) & 1);
			c[i] = y[i] > 0.5 ? cw : 1;
		}
		fl_dp_gradient_clipped(X, N, D, y, c, u, w, B, &loss, g);
		for (size_t k = 0; k < N; k++) {
			size_t m = 0;
			double d2 = 0;

			for (size_t i = 0; i < N; i++) {
				if (i == k)
					continue;
				for (size_t j = 0; j < D; j++)
					Xk[m * D + j] = X[i * D + j];
				uk[m] = u[i], yk[m] = y[i], ck[m] = c[i];
				m++;
			}
			fl_dp_gradient_clipped(Xk, m, D, yk, ck, uk, w, B, &loss1, g1);
			for (size_t j = 0; j < D; j++)
				d2 += (g[j] - g1[j]) * (g[j] - g1[j]);
			if (!(sqrt(d2) <= B * (1 + 1e-12)))
				fail_msg("set %d, lead %zu: clipped gradient moved %.17g > %.17g",
				         t, k, sqrt(d2), B);
		}
		fl_linalg_logistic(X, N, D, y, c, w, &loss, g, NULL);
		for (size_t k = 0; k < N; k++) {
			size_t m = 0;
			double d2 = 0, bound = fmax(1, cw) * R / (1 + exp(-nw * R));

			for (size_t i = 0; i < N; i++) {
				if (i == k)
					continue;
				for (size_t j = 0; j < D; j++)
					Xk[m * D + j] = X[i * D + j];
				yk[m] = y[i], ck[m] = c[i];
				m++;
			}
			fl_linalg_logistic(Xk, m, D, yk, ck, w, &loss1, g1, NULL);
			for (size_t j = 0; j < D; j++)
				d2 += (g[j] - g1[j]) * (g[j] - g1[j]);
			if (!(sqrt(d2) <= bound * (1 + 1e-12)))
				fail_msg("set %d, lead %zu: gradient moved %.17g > %.17g", t, k,
				         sqrt(d2), bound);
			/* The lead along w with the label against its side, and
			 * the weight of the bound, reaches it. */
			if (t % 5 == 0 && k == 0 && nw > 0 && c[0] == fmax(1, cw) &&
			    ((t % 10 == 0) == (y[0] < 0.5)))
				worst_ratio = fmax(worst_ratio, sqrt(d2) / bound);
		}
	}
	if (!(worst_ratio > 1 - 1e-9))
		fail_msg("no lead along w reached the bound: best ratio %.17g", worst_ratio);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(clipped_to_bound),
	        cmocka_unit_test(weight_inside_clip),
	        cmocka_unit_test(longer_row_for_gradient),
	        cmocka_unit_test(nan_weights_add_nothing),
	        cmocka_unit_test(infinite_terms_left_out),
	        cmocka_unit_test(neighbours_within_plan_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
