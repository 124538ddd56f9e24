/*
 * The gradient of a Newton evaluation under differential privacy plan v7
 * (fedlead-dp-v7, include/fedlead/node.h): per-row gradient clipping, as
 * DP-SGD clips per example (Abadi et al. 2016), with the bound a constant
 * of the plan, so the gradient's sensitivity is that bound whatever the
 * rows and whatever w.
 */
#ifndef FEDLEAD_DP_GRADIENT_H
#define FEDLEAD_DP_GRADIENT_H

#include <stddef.h>

/*
 * One pass over the n rows of X (n x d, row-major), each a row the node
 * clipped to l2 norm at most R, with u_i >= 1 the factor that turns row i
 * back into the row clipped at a larger bound G (u_i x_i; u NULL: all 1):
 *   z_i    = x_i . w
 *   loss   = sum_i c_i (log(1 + exp(z_i)) - y_i z_i)   (the rows clipped at R)
 *   t_i    = c_i (sigmoid(u_i z_i) - y_i) u_i x_i      (the rows clipped at G)
 *   grad   = sum_i t_i min(1, B / ||t_i||)              (d doubles)
 * so each row moves grad by at most B in l2; a term whose norm is not
 * finite (a w, weight or row that is not) is left out, never added as NaN.
 * y_i in {0,1}; c may be NULL (all weights 1); B > 0. Outputs are
 * overwritten.
 */
void fl_dp_gradient_clipped(const double *X, size_t n, size_t d, const double *y, const double *c,
                            const double *u, const double *w, double B, double *loss, double *grad);

#endif
