/*
 * The BLAS layer against independent naive loops written here, and the
 * numerically delicate corners (huge |z|, non-positive-definite systems)
 * against values derived by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cblas.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/splitmix.h"

/* A 64-bit LCG (Knuth's MMIX constants): reproducible test data. */
static uint64_t lcg_state;

static double lcg_uniform(void)
{
	lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
	return (double)(lcg_state >> 11) * 0x1.0p-53;
}

/* Reference data term by the textbook formulas, one row and one entry at a
 * time, with no blocking and no BLAS. Valid for moderate |z|. */
static void naive_logistic(const double *X, size_t n, size_t d, const double *y, const double *c,
                           const double *w, double *loss, double *grad, double *hess)
{
	*loss = 0;
	for (size_t j = 0; j < d; j++)
		grad[j] = 0;
	for (size_t j = 0; j < d * d; j++)
		hess[j] = 0;
	for (size_t i = 0; i < n; i++) {
		double z = 0, s, ci = c != NULL ? c[i] : 1.0;

		for (size_t j = 0; j < d; j++)
			z += X[i * d + j] * w[j];
		s = 1.0 / (1.0 + exp(-z));
		*loss += ci * (y[i] == 1.0 ? log(1.0 + exp(-z)) : log(1.0 + exp(z)));
		for (size_t j = 0; j < d; j++)
			grad[j] += ci * (s - y[i]) * X[i * d + j];
		for (size_t j = 0; j < d; j++)
			for (size_t k = 0; k < d; k++)
				hess[j * d + k] += ci * s * (1 - s) * X[i * d + j] * X[i * d + k];
	}
}

static double max_abs(const double *a, size_t m)
{
	double v = 0;

	for (size_t i = 0; i < m; i++)
		if (fabs(a[i]) > v)
			v = fabs(a[i]);
	return v;
}

/* Every entry within 1e-12 of the reference's largest entry. */
static void assert_close_vec(const double *got, const double *want, size_t m)
{
	double scale = max_abs(want, m);

	if (scale < 1e-300)
		scale = 1;
	for (size_t i = 0; i < m; i++) {
		if (!(fabs(got[i] - want[i]) <= 1e-12 * scale))
			fail_msg("entry %zu: got %.17g, want %.17g", i, got[i], want[i]);
	}
}

static void check_against_naive(size_t n, size_t d, int weighted)
{
	double *X = malloc((n * d + 1) * sizeof(double)), *y = malloc((n + 1) * sizeof(double));
	double *c = malloc((n + 1) * sizeof(double)), *w = malloc(d * sizeof(double));
	double *g = malloc(d * sizeof(double)), *h = malloc(d * d * sizeof(double));
	double *gr = malloc(d * sizeof(double)), *hr = malloc(d * d * sizeof(double));
	double *g2 = malloc(d * sizeof(double));
	double loss, loss2, lossr;

	assert_non_null(X);
	assert_non_null(y);
	assert_non_null(c);
	assert_non_null(w);
	assert_non_null(g);
	assert_non_null(h);
	assert_non_null(gr);
	assert_non_null(hr);
	assert_non_null(g2);
	lcg_state = 12345 + n * 31 + d;
	for (size_t i = 0; i < n * d; i++)
		X[i] = 2 * lcg_uniform() - 1;
	for (size_t i = 0; i < n; i++) {
		y[i] = lcg_uniform() < 0.4 ? 1.0 : 0.0;
		c[i] = 2 * lcg_uniform();
	}
	/* Weights large enough that |z| reaches a few units. */
	for (size_t j = 0; j < d; j++)
		w[j] = (4 * lcg_uniform() - 2) * 3 / sqrt((double)d);
	/* Outputs hold garbage: they must be overwritten, not accumulated. */
	loss = 99;
	for (size_t j = 0; j < d; j++)
		g[j] = g2[j] = 7;
	for (size_t j = 0; j < d * d; j++)
		h[j] = -3;

	fl_linalg_logistic(X, n, d, y, weighted ? c : NULL, w, &loss, g, h);
	naive_logistic(X, n, d, y, weighted ? c : NULL, w, &lossr, gr, hr);
	if (!(fabs(loss - lossr) <= 1e-12 * fabs(lossr)))
		fail_msg("n=%zu d=%zu: loss %.17g, want %.17g", n, d, loss, lossr);
	assert_close_vec(g, gr, d);
	assert_close_vec(h, hr, d * d);
	/* The Hessian is returned full and exactly symmetric. */
	for (size_t j = 0; j < d; j++)
		for (size_t k = 0; k < d; k++)
			assert_true(h[j * d + k] == h[k * d + j]);

	/* Without the Hessian the loss and gradient are the same. */
	fl_linalg_logistic(X, n, d, y, weighted ? c : NULL, w, &loss2, g2, NULL);
	assert_close_vec(g2, gr, d);
	assert_true(fabs(loss2 - lossr) <= 1e-12 * fabs(lossr));

	free(X);
	free(y);
	free(c);
	free(w);
	free(g);
	free(h);
	free(gr);
	free(hr);
	free(g2);
}

static void test_logistic_matches_naive(void **state)
{
	/* (n, d): single rows, d = 1, and n not a multiple of the block size
	 * (512 rows for d <= 16, 8192/d rows above; the Hessian batches
	 * blocks up to 256 rows, so wide d spans several blocks per dsyrk).
	 * With AVX-512 the Hessian of up to 512 columns is summed in tiles
	 * 24 columns wide (one tile, one more column, the benchmark's 65,
	 * rows not a multiple of the 32 of a sweep); 600 columns go to
	 * dsyrk. */
	static const size_t cases[][2] = {{1, 1},   {7, 1},     {1000, 1}, {1300, 3},  {513, 4},
	                                  {61, 20}, {2000, 20}, {777, 50}, {600, 300}, {33, 24},
	                                  {97, 25}, {1000, 65}, {45, 512}, {40, 600}};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		check_against_naive(cases[k][0], cases[k][1], 0);
		check_against_naive(cases[k][0], cases[k][1], 1);
	}
}

/* Adds to hr the naive Hessian of the rows [p0, p1) of X (d columns) that
 * fl_linalg_logistic_sampled() documents drawing for a piece starting at
 * p0: blocks of fl_linalg_block_rows(d) rows from p0, drawn when fl_mix64
 * of their first row's number is 0 modulo every. Returns their number. */
static size_t naive_sampled(const double *X, size_t d, const double *y, const double *c,
                            const double *w, size_t p0, size_t p1, unsigned every, double *hr)
{
	size_t block = fl_linalg_block_rows(d), rows = 0;
	double *hn = malloc(d * d * sizeof(double)), *gn = malloc(d * sizeof(double)), lossn;

	assert_non_null(hn);
	assert_non_null(gn);
	for (size_t b0 = p0; b0 < p1; b0 += block) {
		size_t m = p1 - b0 < block ? p1 - b0 : block;

		if (fl_mix64(b0) % every != 0)
			continue;
		naive_logistic(X + b0 * d, m, d, y + b0, c + b0, w, &lossn, gn, hn);
		for (size_t j = 0; j < d * d; j++)
			hr[j] += hn[j];
		rows += m;
	}
	free(hn);
	free(gn);
	return rows;
}

/*
 * The sampled Hessian: loss and gradient are the whole pass's bit for bit;
 * the Hessian is the naive sum over the rows of the blocks the documented
 * rule draws, for X as one piece and cut in two pieces at a row that is
 * not a block boundary of the whole.
 */
static void test_logistic_sampled(void **state)
{
	enum { N = 5000, D = 20, EVERY = 4 };
	double *X = malloc(N * D * sizeof(double)), y[N], c[N], w[D], g[D], gs[D];
	double *h = malloc(D * D * sizeof(double)), *hs = malloc(D * D * sizeof(double)),
	       *hr = calloc(D * D, sizeof(double)), *h2 = malloc(D * D * sizeof(double));
	double loss, loss_s, hd[D];
	size_t rows, rows2, want, cut = 3 * fl_linalg_block_rows(D) + 7;

	(void)state;
	assert_non_null(X);
	assert_non_null(h);
	assert_non_null(hs);
	assert_non_null(hr);
	assert_non_null(h2);
	lcg_state = 777;
	for (size_t i = 0; i < N * D; i++)
		X[i] = 2 * lcg_uniform() - 1;
	for (size_t i = 0; i < N; i++) {
		y[i] = lcg_uniform() < 0.3 ? 1.0 : 0.0;
		c[i] = 2 * lcg_uniform();
	}
	for (size_t j = 0; j < D; j++)
		w[j] = 2 * lcg_uniform() - 1;

	fl_linalg_logistic(X, N, D, y, c, w, &loss, g, h);
	/* every 1: the whole pass, Hessian included. */
	fl_linalg_logistic_sampled(X, N, D, y, c, w, 0, 1, &loss_s, gs, hs, NULL, &rows);
	assert_true(loss_s == loss);
	assert_memory_equal(gs, g, sizeof(g));
	assert_memory_equal(hs, h, D * D * sizeof(double));
	assert_int_equal(rows, N);

	want = naive_sampled(X, D, y, c, w, 0, N, EVERY, hr);
	/* This data draws some blocks and leaves others. */
	assert_true(want > 0 && want < N);
	fl_linalg_logistic_sampled(X, N, D, y, c, w, 0, EVERY, &loss_s, gs, hs, hd, &rows);
	assert_true(loss_s == loss);
	assert_memory_equal(gs, g, sizeof(g));
	assert_int_equal(rows, want);
	assert_close_vec(hs, hr, D * D);
	for (size_t j = 0; j < D; j++)
		for (size_t k = 0; k < D; k++)
			assert_true(hs[j * D + k] == hs[k * D + j]);
	/* The diagonal over every row: the whole Hessian's. */
	for (size_t j = 0; j < D; j++)
		if (!(fabs(hd[j] - h[j * D + j]) <= 1e-12 * h[j * D + j]))
			fail_msg("diagonal %zu: %.17g, want %.17g", j, hd[j], h[j * D + j]);
	/* Without the Hessian, the same loss and gradient. */
	fl_linalg_logistic_sampled(X, N, D, y, c, w, 0, EVERY, &loss_s, gs, NULL, NULL, NULL);
	assert_true(loss_s == loss);
	assert_memory_equal(gs, g, sizeof(g));

	/* Cut in two pieces, the second numbered from cut. */
	memset(hr, 0, D * D * sizeof(double));
	want = naive_sampled(X, D, y, c, w, 0, cut, EVERY, hr) +
	       naive_sampled(X, D, y, c, w, cut, N, EVERY, hr);
	fl_linalg_logistic_sampled(X, cut, D, y, c, w, 0, EVERY, &loss_s, gs, h2, NULL, &rows2);
	fl_linalg_logistic_sampled(X + cut * D, N - cut, D, y + cut, c + cut, w, cut, EVERY,
	                           &loss_s, gs, hs, NULL, &rows);
	for (size_t j = 0; j < D * D; j++)
		hs[j] += h2[j];
	assert_int_equal(rows + rows2, want);
	assert_close_vec(hs, hr, D * D);

	free(X);
	free(h);
	free(hs);
	free(hr);
	free(h2);
}

/*
 * The estimate from a sample (linalg.h, fl_hess_sample_fit()): the
 * sample's correlations with the exact diagonal, by the formula written
 * out here; a sample whose share of one column's curvature is off by more
 * than a factor 2 from another's (a column it has nothing of) is refused,
 * the matrix untouched.
 */
static void test_hess_sample_fit(void **state)
{
	double S[9] = {4, 2, 1, 2, 9, -3, 1, -3, 16}, H[9], diag[3] = {40, 72, 200}, want[9];

	(void)state;
	for (int j = 0; j < 3; j++)
		for (int k = 0; k < 3; k++)
			want[j * 3 + k] = j == k ? diag[j]
			                         : S[j * 3 + k] * sqrt(diag[j] * diag[k] /
			                                               (S[j * 4] * S[k * 4]));
	memcpy(H, S, sizeof(H));
	/* Shares 0.1, 0.125, 0.08: within a factor 2. */
	assert_int_equal(fl_hess_sample_fit(H, diag, 3), 0);
	assert_close_vec(H, want, 9);
	for (int j = 0; j < 3; j++)
		for (int k = 0; k < 3; k++)
			assert_true(H[j * 3 + k] == H[k * 3 + j]);
	/* Shares 0.1, 0.125, 0.04: refused. */
	diag[2] = 400;
	memcpy(H, S, sizeof(H));
	assert_int_equal(fl_hess_sample_fit(H, diag, 3), -1);
	assert_memory_equal(H, S, sizeof(H));
	/* A column the sample has nothing of. */
	diag[2] = 200;
	S[8] = S[2] = S[6] = S[5] = S[7] = 0;
	memcpy(H, S, sizeof(H));
	assert_int_equal(fl_hess_sample_fit(H, diag, 3), -1);
	assert_memory_equal(H, S, sizeof(H));
}

static void test_logistic_no_rows(void **state)
{
	double g[3] = {1, 2, 3}, h[9], loss = 5, w[3] = {1, 1, 1};

	(void)state;
	for (int i = 0; i < 9; i++)
		h[i] = 4;
	fl_linalg_logistic(NULL, 0, 3, NULL, NULL, w, &loss, g, h);
	assert_true(loss == 0);
	for (int i = 0; i < 3; i++)
		assert_true(g[i] == 0);
	for (int i = 0; i < 9; i++)
		assert_true(h[i] == 0);
}

/*
 * z = +-800: exp(800) overflows a double, so a naive log(1 + exp(z)) is inf.
 * By hand: log(1+e^z) - y z is 800 for (z=800, y=0) and (z=-800, y=1), and
 * e^-800 ~ 0 for the other two; the gradient s - y is 1, 0, -1, 0; the
 * Hessian weight s(1-s) ~ e^-800 underflows to 0.
 */
static void test_logistic_extreme_z(void **state)
{
	static const struct {
		double z, y, loss, grad;
	} cases[] = {
	        {800, 0, 800, 1},
	        {800, 1, 0, 0},
	        {-800, 1, 800, -1},
	        {-800, 0, 0, 0},
	};
	double X = 1, loss, g, h;

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		fl_linalg_logistic(&X, 1, 1, &cases[k].y, NULL, &cases[k].z, &loss, &g, &h);
		assert_true(isfinite(loss));
		assert_true(loss == cases[k].loss);
		assert_true(g == cases[k].grad);
		assert_true(h == 0);
	}
}

/* A correctly classified row at z = 40 has loss log(1 + e^-40) = e^-40 to
 * within e^-80: computing log(1+e^40) - 40 would cancel to 0. */
static void test_logistic_tiny_loss_keeps_digits(void **state)
{
	double X = 1, z = 40, y = 1, loss, g, h;
	double want = exp(-40);

	(void)state;
	fl_linalg_logistic(&X, 1, 1, &y, NULL, &z, &loss, &g, &h);
	assert_true(fabs(loss - want) <= 1e-14 * want);
	/* s - 1 = -e^-40 / (1 + e^-40), but only to absolute precision. */
	assert_true(fabs(g + want) <= 1e-16);
	assert_true(fabs(h - want) <= 1e-14 * want);
}

static void test_scalar_functions(void **state)
{
	(void)state;
	assert_true(fl_log1pexp(800) == 800);
	assert_true(fl_log1pexp(-800) == 0);
	assert_true(fabs(fl_log1pexp(0) - log(2.0)) <= 1e-16);
	assert_true(fabs(fl_log1pexp(-40) - exp(-40)) <= 1e-14 * exp(-40));
	assert_true(fabs(fl_log1pexp(1.5) - log(1 + exp(1.5))) <= 1e-15);
	assert_true(fl_sigmoid(800) == 1);
	assert_true(fl_sigmoid(-800) == 0);
	assert_true(fl_sigmoid(0) == 0.5);
	/* sigmoid(-40) = e^-40 / (1 + e^-40): tiny, but with full relative precision. */
	assert_true(fabs(fl_sigmoid(-40) - exp(-40)) <= 1e-14 * exp(-40));
	assert_true(fabs(fl_sigmoid(2) - 1 / (1 + exp(-2.0))) <= 1e-16);
}

/* A = [4 2 0; 2 5 1; 0 1 3], x = (1, -2, 3): b = A x = (0, -5, 7). */
static void test_spd_solve(void **state)
{
	double A[9] = {4, 2, 0, 2, 5, 1, 0, 1, 3};
	double b[3] = {0, -5, 7};
	const double x[3] = {1, -2, 3};

	(void)state;
	assert_int_equal(fl_linalg_spd_solve(A, 3, b), 0);
	for (int i = 0; i < 3; i++)
		assert_true(fabs(b[i] - x[i]) <= 1e-14);
	/* A now holds the Cholesky factor: 4 = 2^2 gives a diagonal of 2. */
	assert_true(fabs(A[0] - 2) <= 1e-15);
}

/* [1 2 0; 2 1 0; 0 0 1]: the 2x2 leading minor is 1 - 4 = -3 < 0. */
static void test_spd_solve_not_pd(void **state)
{
	double A[9] = {1, 2, 0, 2, 1, 0, 0, 0, 1};
	double b[3] = {1, 1, 1};

	(void)state;
	fl_err_clear();
	assert_int_equal(fl_linalg_spd_solve(A, 3, b), FL_ERR_NUMERIC);
	assert_string_equal(fl_errmsg(), "Hessian is not positive definite (leading minor 2 of 3)");
}

/*
 * [1 2; 2 1] has eigenvalues 3 (vector (1, 1)/sqrt 2) and -1 ((1, -1)/sqrt
 * 2). Floored at 0.5: 3 u u^T + 0.5 v v^T = [1.75 1.25; 1.25 1.75]. A
 * matrix already above the floor is left as it is; a non-finite one is
 * refused.
 */
static void test_sym_floor(void **state)
{
	double A[4] = {1, 2, 2, 1}, B[9] = {4, 2, 0, 2, 5, 1, 0, 1, 3}, C[4] = {1, NAN, NAN, 1};
	const double want[4] = {1.75, 1.25, 1.25, 1.75}, B0[9] = {4, 2, 0, 2, 5, 1, 0, 1, 3};

	(void)state;
	assert_int_equal(fl_linalg_sym_floor(A, 2, 0.5), 0);
	for (int i = 0; i < 4; i++)
		assert_true(fabs(A[i] - want[i]) <= 1e-14);
	/* The eigenvalues of B are all above 1 (Gershgorin: 3 - 1 >= 2). */
	assert_int_equal(fl_linalg_sym_floor(B, 3, 1), 0);
	for (int i = 0; i < 9; i++)
		assert_true(fabs(B[i] - B0[i]) <= 1e-13);
	fl_err_clear();
	assert_int_equal(fl_linalg_sym_floor(C, 2, 1), FL_ERR_NUMERIC);
	assert_string_equal(fl_errmsg(), "the matrix to project is not finite");
}

static void test_matrix_alloc(void **state)
{
	double *m;

	(void)state;
	m = fl_matrix_alloc(3, 7);
	assert_non_null(m);
	assert_int_equal((uintptr_t)m % 64, 0);
	for (int i = 0; i < 21; i++)
		assert_true(m[i] == 0);
	free(m);
	/* An empty matrix is still a valid, freeable pointer. */
	m = fl_matrix_alloc(0, 5);
	assert_non_null(m);
	free(m);
	assert_null(fl_matrix_alloc(SIZE_MAX / 2, 3));
	assert_null(fl_matrix_alloc(3, SIZE_MAX / 16));
}

static void test_vector_ops(void **state)
{
	const double X[6] = {1, 2, 3, 4, 5, 6};
	const double w[3] = {1, 0, -1};
	double z[2] = {9, 9}, a[3] = {3, 4, 12}, b[3] = {1, 1, 1};

	(void)state;
	fl_linalg_gemv(X, 2, 3, w, z);
	assert_true(z[0] == -2 && z[1] == -2);
	assert_true(fl_linalg_dot(a, b, 3) == 19);
	assert_true(fl_linalg_nrm2(a, 3) == 13);
	assert_true(fl_linalg_nrm2(a, 0) == 0);
	fl_linalg_axpy(2, a, b, 3);
	assert_true(b[0] == 7 && b[1] == 9 && b[2] == 25);
}

/*
 * The programs keep OpenBLAS to the calling thread (their own passes are
 * threaded) unless OPENBLAS_NUM_THREADS or OMP_NUM_THREADS asks for more.
 * ctest starts this test with OPENBLAS_NUM_THREADS=1, so OpenBLAS is put
 * at two threads by hand first.
 */
static void test_blas_own_threads(void **state)
{
	(void)state;
	openblas_set_num_threads(2);
	if (openblas_get_num_threads() != 2)
		fail_msg("OpenBLAS runs %d threads when asked for 2: this test needs a "
		         "build of it with threads",
		         openblas_get_num_threads());
	setenv("OPENBLAS_NUM_THREADS", "2", 1);
	fl_linalg_blas_own_threads();
	assert_int_equal(openblas_get_num_threads(), 2); /* the user's choice */
	unsetenv("OPENBLAS_NUM_THREADS");
	setenv("OMP_NUM_THREADS", "2", 1);
	fl_linalg_blas_own_threads();
	assert_int_equal(openblas_get_num_threads(), 2);
	unsetenv("OMP_NUM_THREADS");
	fl_linalg_blas_own_threads();
	assert_int_equal(openblas_get_num_threads(), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_logistic_matches_naive),
	        cmocka_unit_test(test_logistic_sampled),
	        cmocka_unit_test(test_hess_sample_fit),
	        cmocka_unit_test(test_logistic_no_rows),
	        cmocka_unit_test(test_logistic_extreme_z),
	        cmocka_unit_test(test_logistic_tiny_loss_keeps_digits),
	        cmocka_unit_test(test_scalar_functions),
	        cmocka_unit_test(test_spd_solve),
	        cmocka_unit_test(test_spd_solve_not_pd),
	        cmocka_unit_test(test_sym_floor),
	        cmocka_unit_test(test_matrix_alloc),
	        cmocka_unit_test(test_vector_ops),
	        cmocka_unit_test(test_blas_own_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
