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
		/* t_i = r x_i; scaled to norm B when longer, and left out when
		 * not a number (a w that is not finite), so no row ever adds
		 * more than B. */
		if (!(nt <= B))
			r = nt > B ? r * (B / nt) : 0;
		fl_linalg_axpy(r, x, grad, d);
	}
	*loss = sum;
}
