/*
 * Per-row clipped gradients for differential privacy plan v7 (see
 * include/fedlead/dp_gradient.h and bench/README.md, "A gradient mechanism
 * for epsilon 1", which simulates it as gclip4-80).
 */
#include <math.h>
#include <string.h>

#include "fedlead/dp_gradient.h"
#include "fedlead/linalg.h"

void fl_dp_gradient_clipped(const double *X, size_t n, size_t d, const double *y, const double *c,
                            const double *u, const double *w, double B, double *loss, double *grad)
{
	double sum = 0;

	memset(grad, 0, d * sizeof(*grad));
	for (size_t i = 0; i < n; i++) {
		const double *x = X + i * d;
		double ci = c != NULL ? c[i] : 1.0, ui = u != NULL ? u[i] : 1.0;
		double z = fl_linalg_dot(x, w, d), nx = fl_linalg_nrm2(x, d);
		double r = ci * (fl_sigmoid(ui * z) - y[i]) * ui;
		double nt = fabs(r) * nx;

		sum += ci * (fl_log1pexp(z) - y[i] * z);
		/* t_i = r x_i scaled to norm at most B, without a branch: the
		 * factor B / max(||t_i||, B) is exactly 1 within B. A term whose
		 * norm is not finite (a w or a row that is not) is left out: its
		 * r is 0, and its row is not added, since 0 times an infinite
		 * entry would be NaN. So no row ever adds more than B. */
		r = isfinite(nt) ? r * (B / fmax(nt, B)) : 0;
		if (r != 0)
			fl_linalg_axpy(r, x, grad, d);
	}
	*loss = sum;
}
