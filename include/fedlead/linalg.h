/*
 * Every BLAS call of fedlead lives here, so kernels can be fused or swapped
 * in one place. Matrices are dense, row-major, n rows by d columns.
 */
#ifndef FEDLEAD_LINALG_H
#define FEDLEAD_LINALG_H

#include <stddef.h>

/*
 * Keeps OpenBLAS to its caller's thread unless OPENBLAS_NUM_THREADS or
 * OMP_NUM_THREADS says otherwise. fedlead runs its passes on its own
 * threads (--threads), each calling BLAS on a small block: OpenBLAS's
 * threads under them only wake and spin (system time: 4.8 s of a 20 s
 * `train --l2 auto` on 1M CRM-like leads), and their split of a product
 * would make the sums' order depend on the machine's core count. Every
 * program calls it first (fl_cli_dispatch).
 */
void fl_linalg_blas_own_threads(void);

/* 64-byte aligned, zeroed allocation of n*d doubles (NULL on overflow or
 * failure); release with free(). */
double *fl_matrix_alloc(size_t n, size_t d);

/*
 * One pass of the logistic-regression data term over the rows of X:
 *   z_i    = x_i . w
 *   loss  += sum_i c_i * (log(1 + exp(z_i)) - y_i z_i)      (stable form)
 *   grad  += sum_i c_i * (sigmoid(z_i) - y_i) x_i           (d doubles)
 *   hess  += sum_i c_i * s_i (1 - s_i) x_i x_i^T            (d*d, full, if non-NULL)
 * y_i in {0,1}; c may be NULL (all weights 1). Outputs are overwritten, not
 * accumulated. The rows are processed in cache-sized blocks so that X is
 * streamed from memory once for both products.
 */
void fl_linalg_logistic(const double *X, size_t n, size_t d, const double *y, const double *c,
                        const double *w, double *loss, double *grad, double *hess);

/*
 * fl_linalg_logistic() with the Hessian summed over a sample of the rows:
 * X is cut into blocks of fl_linalg_block_rows(d) rows from its first
 * row, and a block adds to the Hessian when fl_mix64() (splitmix.h) of
 * its first row's number in the whole data (X's first row is number
 * first) is 0 modulo every; every <= 1 takes every block. A caller that
 * cuts the data into fixed pieces gets the same sample whatever runs the
 * pieces. loss and grad are over all rows, bit for bit those of
 * fl_linalg_logistic(), and so is hess with every <= 1; otherwise hess
 * (may be NULL) is the sampled rows' sum, not scaled, and *hess_rows (may
 * be NULL) gets their number. hdiag (d doubles, may be NULL; only with
 * hess) gets the Hessian's diagonal over all rows, sum_i c_i h_i x_ij^2.
 */
size_t fl_linalg_block_rows(size_t d);
void fl_linalg_logistic_sampled(const double *X, size_t n, size_t d, const double *y,
                                const double *c, const double *w, size_t first, unsigned every,
                                double *loss, double *grad, double *hess, double *hdiag,
                                size_t *hess_rows);

/*
 * fl_hess_sample_fit() makes the estimate of the whole Hessian from the
 * sampled rows' sum hess (d x d, symmetric, overwritten) and the exact
 * diagonal hdiag: the sample's correlations with the exact diagonal,
 *   H_jk = hess_jk sqrt(hdiag_j hdiag_k / (hess_jj hess_kk)),  H_jj = hdiag_j,
 * a congruence of the sample's sum: positive semi-definite as it is,
 * exactly symmetric, exact on the diagonal. It returns 0; or -1, hess
 * untouched, when the sample does not represent every column: the
 * ratios hess_jj / hdiag_j (of the columns with hdiag_j > 0) spread by
 * more than a factor FL_HESS_SAMPLE_SPREAD (a rare indicator with few or
 * none of its rows drawn, or curvature in a few rows); the caller then
 * needs the exact Hessian. With one row in 8 drawn, the ratios of
 * columns set in most rows are within a few per cent of 1/8.
 */
#define FL_HESS_SAMPLE_EVERY 8u
#define FL_HESS_SAMPLE_MAX_D 2048
#define FL_HESS_SAMPLE_SPREAD 2.0
int fl_hess_sample_pays(size_t n, size_t d);
int fl_hess_sample_fit(double *hess, const double *hdiag, size_t d);

/* z = X w (n doubles). */
void fl_linalg_gemv(const double *X, size_t n, size_t d, const double *w, double *z);

/*
 * Solves A x = b for symmetric positive definite A (d*d, overwritten by its
 * Cholesky factor); b is overwritten by x. Returns 0, or FL_ERR_NUMERIC when
 * A is not positive definite.
 */
int fl_linalg_spd_solve(double *A, size_t d, double *b);

/* b = A^-1 b for the A whose Cholesky factor fl_linalg_spd_solve() left
 * in F (d*d): the same x as that call, bit for bit. Returns 0. */
int fl_linalg_spd_solve_factored(const double *F, size_t d, double *b);

/*
 * Projects symmetric A (d*d, overwritten) onto the matrices whose every
 * eigenvalue is at least floor: A = V diag(max(lambda, floor)) V^T from its
 * eigendecomposition. Returns 0, FL_ERR_NOMEM, or FL_ERR_NUMERIC when the
 * eigensolver does not converge (a non-finite A).
 */
int fl_linalg_sym_floor(double *A, size_t d, double floor);

double fl_linalg_dot(const double *a, const double *b, size_t d);
double fl_linalg_nrm2(const double *a, size_t d);
/* y += alpha * x */
void fl_linalg_axpy(double alpha, const double *x, double *y, size_t d);

/* The numerically stable log(1 + exp(z)). */
double fl_log1pexp(double z);
double fl_sigmoid(double z);

#endif
