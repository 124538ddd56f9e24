/*
 * Dense linear algebra behind one door: every BLAS and LAPACK call of fedlead
 * is made here, so a kernel can be fused or swapped without touching callers.
 */
#include "fedlead/linalg.h"

#include "fedlead/error.h"
#include "fedlead/splitmix.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * LAPACK's Cholesky routines, exported by libopenblas. There is no standard C
 * header for the Fortran symbols, so we declare them. The trailing size_t
 * arguments are the hidden lengths of the character arguments that gfortran
 * expects; passing them keeps the call correct whether OpenBLAS serves the
 * routine from its C reimplementation (which ignores them) or from the
 * reference Fortran.
 */
void dpotrf_(const char *uplo, const blasint *n, double *a, const blasint *lda, blasint *info,
             size_t uplo_len);
void dpotrs_(const char *uplo, const blasint *n, const blasint *nrhs, const double *a,
             const blasint *lda, double *b, const blasint *ldb, blasint *info, size_t uplo_len);
void dsyev_(const char *jobz, const char *uplo, const blasint *n, double *a, const blasint *lda,
            double *w, double *work, const blasint *lwork, blasint *info, size_t jobz_len,
            size_t uplo_len);

/*
 * Rows per block of fl_linalg_logistic. A block is read twice (X_b w, then
 * X_b^T r) and must still be in L2 the second time, so X streams from memory
 * once. 64 KiB (8192 doubles) also keeps each dgemv below OpenBLAS's
 * threading threshold (m*n < 9216 with the default build): farming out such
 * small calls to threads costs more than it saves, and we must not change the
 * library's thread count for the caller. The per-row scratch (z, r, h) lives
 * on the stack, which caps a block at FL_BLOCK_MAX_ROWS rows; with few
 * columns the blocks are then smaller than that, but the exp/log1p per row
 * dominates the BLAS call overhead anyway.
 */
#define FL_BLOCK_BYTES (64 * 1024)
#define FL_BLOCK_MAX_ROWS 512
/*
 * The scaled rows for the Hessian are collected over several blocks before
 * each dsyrk, at least this many rows: a rank-k update reads and writes all
 * of the d*d result, so tiny k (wide X, small blocks) would be bound by that
 * traffic rather than by arithmetic.
 */
#define FL_SYRK_MIN_ROWS 256

/* BLAS takes int dimensions; longer vectors are handled in pieces. */
#define FL_BLAS_CHUNK ((size_t)1 << 30)

/*
 * The Hessian's rank-k updates on a CPU with AVX-512 (bench/README.md,
 * "Categorical leads and both cores": dsyrk was half of a Newton pass).
 * OpenBLAS 0.3.21 runs its AVX2 kernels on CPUs it does not know (Zen 5
 * among them), and packs its operands for every call; this kernel works
 * on the scaled rows as they are, eight columns to a register. The scaled
 * rows are stored SYRK_LANES wide (zero padded) and summed into a padded
 * upper triangle of the block, which is added to the Hessian at the end:
 * each entry is a sum of products in row order, the same for every
 * thread count (a chunk is one call). Wider data goes to dsyrk: the tile
 * loop is written for the few dozen to few hundred columns of a lead
 * file, where it is fastest.
 */
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define FL_SYRK_AVX512 1
#define SYRK_LANES 24    /* columns of a tile: three registers of eight */
#define SYRK_MAX_D 512   /* wider: dsyrk */
#define SYRK_SUB_ROWS 32 /* rows per sweep, so they stay in L1 */

static int syrk_avx512_ok(size_t d)
{
	/* Atomic: passes on several threads may ask at once (each would
	 * find the same answer; the atomic keeps that a defined race). */
	static _Atomic int have = -1;
	int h = atomic_load_explicit(&have, memory_order_relaxed);

	if (h < 0) {
		__builtin_cpu_init();
		h = __builtin_cpu_supports("avx512f") != 0;
		atomic_store_explicit(&have, h, memory_order_relaxed);
	}
	return h && d <= SYRK_MAX_D;
}

/* Hp (ld x ld, row-major, upper tiles) += S^T S over the k rows of S
 * (stride ld, ld a multiple of SYRK_LANES, padding zero). */
__attribute__((target("avx512f"))) static void syrk_avx512(const double *S, size_t k, size_t ld,
                                                           double *Hp)
{
	for (size_t t0 = 0; t0 < k; t0 += SYRK_SUB_ROWS) {
		size_t tn = k - t0 < SYRK_SUB_ROWS ? k - t0 : SYRK_SUB_ROWS;
		const double *St = S + t0 * ld;

		for (size_t a0 = 0; a0 < ld; a0 += 4) {
			for (size_t c0 = a0 / SYRK_LANES * SYRK_LANES; c0 < ld; c0 += SYRK_LANES) {
				__m512d acc[4][3];
				double *h = Hp + a0 * ld + c0;

				for (int r = 0; r < 4; r++)
					for (int v = 0; v < 3; v++)
						acc[r][v] = _mm512_loadu_pd(h + r * ld + 8 * v);
				for (size_t t = 0; t < tn; t++) {
					const double *row = St + t * ld;
					__m512d b0 = _mm512_loadu_pd(row + c0),
					        b1 = _mm512_loadu_pd(row + c0 + 8),
					        b2 = _mm512_loadu_pd(row + c0 + 16);

					for (int r = 0; r < 4; r++) {
						__m512d av = _mm512_set1_pd(row[a0 + r]);

						acc[r][0] = _mm512_fmadd_pd(av, b0, acc[r][0]);
						acc[r][1] = _mm512_fmadd_pd(av, b1, acc[r][1]);
						acc[r][2] = _mm512_fmadd_pd(av, b2, acc[r][2]);
					}
				}
				for (int r = 0; r < 4; r++)
					for (int v = 0; v < 3; v++)
						_mm512_storeu_pd(h + r * ld + 8 * v, acc[r][v]);
			}
		}
	}
}
#endif

void fl_linalg_blas_own_threads(void)
{
	if (getenv("OPENBLAS_NUM_THREADS") == NULL && getenv("OMP_NUM_THREADS") == NULL)
		openblas_set_num_threads(1);
}

double *fl_matrix_alloc(size_t n, size_t d)
{
	size_t bytes;
	double *m;

	if (d != 0 && n > SIZE_MAX / sizeof(double) / d)
		return NULL;
	bytes = n * d * sizeof(double);
	/* C11 aligned_alloc wants a size that is a multiple of the alignment
	 * (ASan enforces it), and an empty matrix still gets a real pointer so
	 * NULL always means failure. */
	if (bytes > SIZE_MAX - 63)
		return NULL;
	bytes = bytes == 0 ? 64 : (bytes + 63) & ~(size_t)63;
	m = aligned_alloc(64, bytes);
	if (m != NULL)
		memset(m, 0, bytes);
	return m;
}

double fl_log1pexp(double z)
{
	/* exp(z) overflows for z > ~709; for z >= 0 factor out e^z instead. */
	return z >= 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

double fl_sigmoid(double z)
{
	double e;

	/* Only ever exponentiate a non-positive number, so nothing overflows
	 * and tiny probabilities keep their relative precision. */
	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	e = exp(z);
	return e / (1.0 + e);
}

/* Rank-one fallback for the Hessian when the scratch copy of a block could
 * not be allocated: slower, but needs no memory. */
static void hess_rows_syr(const double *Xb, size_t rows, size_t d, const double *h, double *hess)
{
	for (size_t i = 0; i < rows; i++)
		if (h[i] != 0)
			cblas_dsyr(CblasRowMajor, CblasUpper, (blasint)d, h[i], Xb + i * d, 1, hess,
			           (blasint)d);
}

int fl_hess_sample_pays(size_t n, size_t d)
{
	return n >= 200000 && n / FL_HESS_SAMPLE_EVERY >= 500 * d && d <= FL_HESS_SAMPLE_MAX_D;
}

int fl_hess_sample_fit(double *hess, const double *hdiag, size_t d)
{
	double s[FL_HESS_SAMPLE_MAX_D], lo = INFINITY, hi = 0;

	if (d > FL_HESS_SAMPLE_MAX_D)
		return -1;
	for (size_t j = 0; j < d; j++) {
		double hs = hess[j * d + j];

		if (!(hdiag[j] > 0))
			continue;
		/* sampled / exact: the same share of every column's curvature
		 * in a sample that represents them all. */
		lo = hs / hdiag[j] < lo ? hs / hdiag[j] : lo;
		hi = hs / hdiag[j] > hi ? hs / hdiag[j] : hi;
	}
	if (!(lo * FL_HESS_SAMPLE_SPREAD >= hi))
		return -1;
	for (size_t j = 0; j < d; j++) {
		double hs = hess[j * d + j];

		s[j] = hs > 0 ? sqrt(hdiag[j] / hs) : 0;
	}
	for (size_t j = 0; j < d; j++) {
		for (size_t k = 0; k < d; k++)
			hess[j * d + k] *= s[j] * s[k];
		/* The diagonal as it is: exact, also where the sample had
		 * nothing (that column then has no off-diagonal terms). */
		hess[j * d + j] = hdiag[j];
	}
	return 0;
}

size_t fl_linalg_block_rows(size_t d)
{
	size_t block = d > 0 ? FL_BLOCK_BYTES / sizeof(double) / d : FL_BLOCK_MAX_ROWS;

	if (block < 1)
		block = 1;
	return block > FL_BLOCK_MAX_ROWS ? FL_BLOCK_MAX_ROWS : block;
}

/* The rows of Xb scaled by sqrt(h_i), into dst (stride ld), for dsyrk. */
static void scale_rows(const double *Xb, size_t rows, size_t d, const double *h, double *dst,
                       size_t ld)
{
	for (size_t i = 0; i < rows; i++) {
		/* Weights are non-negative, so h_i >= 0. */
		double sq = sqrt(h[i]);
		const double *src = Xb + i * d;

		for (size_t j = 0; j < d; j++)
			dst[i * ld + j] = sq * src[j];
	}
}

/* diag[j] += sum_i h_i x_ij^2 over the rows of Xb, four rows at a time
 * (a fixed order, so the same bits for any thread count): the diagonal of
 * a sampled Hessian's pass, over every row. Compiled for AVX2 and FMA as
 * well, used where the CPU has them. */
#define ADD_DIAGONAL_BODY                                                                          \
	size_t i = 0;                                                                              \
	for (; i + 4 <= rows; i += 4) {                                                            \
		const double *restrict x0 = Xb + i * d, *restrict x1 = x0 + d,                     \
		                       *restrict x2 = x1 + d, *restrict x3 = x2 + d;               \
		double h0 = h[i], h1 = h[i + 1], h2 = h[i + 2], h3 = h[i + 3];                     \
		for (size_t j = 0; j < d; j++)                                                     \
			diag[j] += (h0 * x0[j] * x0[j] + h1 * x1[j] * x1[j]) +                     \
			           (h2 * x2[j] * x2[j] + h3 * x3[j] * x3[j]);                      \
	}                                                                                          \
	for (; i < rows; i++) {                                                                    \
		const double *restrict x = Xb + i * d;                                             \
		for (size_t j = 0; j < d; j++)                                                     \
			diag[j] += h[i] * x[j] * x[j];                                             \
	}
static void add_diagonal_plain(const double *restrict Xb, size_t rows, size_t d,
                               const double *restrict h, double *restrict diag)
{
	ADD_DIAGONAL_BODY
}

#if defined(__GNUC__) && defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void add_diagonal_avx2(const double *restrict Xb,
                                                                  size_t rows, size_t d,
                                                                  const double *restrict h,
                                                                  double *restrict diag)
{
	ADD_DIAGONAL_BODY
}
#endif

static void add_diagonal(const double *Xb, size_t rows, size_t d, const double *h, double *diag)
{
#if defined(__GNUC__) && defined(__x86_64__)
	static _Atomic int have = -1; /* as in syrk_avx512_ok() */
	int ok = atomic_load_explicit(&have, memory_order_relaxed);

	if (ok < 0) {
		__builtin_cpu_init();
		ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
		atomic_store_explicit(&have, ok, memory_order_relaxed);
	}
	if (ok) {
		add_diagonal_avx2(Xb, rows, d, h, diag);
		return;
	}
#endif
	add_diagonal_plain(Xb, rows, d, h, diag);
}

/* Whether the block of rows starting at row `at` (counted from the first
 * row of the whole data) adds to a Hessian sampled one block in `every`. */
static int block_sampled(size_t at, unsigned every)
{
	return every <= 1 || fl_mix64((uint64_t)at) % every == 0;
}

/* Also fl_linalg_logistic() (every 1): first is the index of X's first
 * row in the whole data. */
void fl_linalg_logistic_sampled(const double *X, size_t n, size_t d, const double *y,
                                const double *c, const double *w, size_t first, unsigned every,
                                double *loss, double *grad, double *hess, double *hdiag,
                                size_t *hess_rows)
{
	double z[FL_BLOCK_MAX_ROWS], r[FL_BLOCK_MAX_ROWS], h[FL_BLOCK_MAX_ROWS];
	double *scaled = NULL, *Hp = NULL;
	double sum = 0;
	size_t block, cap = 0, pending = 0, ld = d, used = 0;

	memset(grad, 0, d * sizeof(*grad));
	if (hess != NULL)
		memset(hess, 0, d * d * sizeof(*hess));
	if (hdiag != NULL)
		memset(hdiag, 0, d * sizeof(*hdiag));
	if (d == 0 || n == 0)
		goto out;

	block = fl_linalg_block_rows(d);
	if (block > n)
		block = n;
	if (hess != NULL) {
		/* The Hessian needs rows scaled by sqrt(h_i); X is const, so
		 * they are scaled in a copy holding whole blocks. Without it
		 * we fall back to rank-one updates. */
		cap = block * (block < FL_SYRK_MIN_ROWS ? FL_SYRK_MIN_ROWS / block : 1);
		if (cap > n)
			cap = n;
#ifdef FL_SYRK_AVX512
		/* Padded rows (zeroed once: only the first d of each are
		 * written) and the padded block of the Hessian. */
		if (syrk_avx512_ok(d)) {
			ld = (d + SYRK_LANES - 1) / SYRK_LANES * SYRK_LANES;
			if ((Hp = fl_matrix_alloc(ld, ld)) == NULL)
				ld = d;
		}
#endif
		if ((scaled = fl_matrix_alloc(cap, ld)) == NULL) {
			free(Hp);
			Hp = NULL;
		}
	}

	for (size_t start = 0; start < n; start += block) {
		size_t rows = n - start < block ? n - start : block;
		const double *Xb = X + start * d;

		/* While the core works on exp and log1p for this block, ask memory
		 * for the next block's cache lines, a few per row, so the next
		 * dgemv does not start by waiting for memory (bench/README.md). */
		const char *next = (const char *)(Xb + rows * d);
		size_t next_rows = start + rows < n
		                           ? (n - start - rows < block ? n - start - rows : block)
		                           : 0;
		size_t lines = next_rows * d * sizeof(double) / 64, per = lines / rows + 1,
		       done = 0;

		int hb = hess != NULL && block_sampled(first + start, every);

		cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)rows, (blasint)d, 1.0, Xb,
		            (blasint)d, w, 1, 0.0, z, 1);
		for (size_t i = 0; i < rows; i++) {
			double zi = z[i], yi = y[start + i];

			for (size_t k = 0; k < per && done < lines; k++, done++)
				__builtin_prefetch(next + done * 64, 0, 3);
			double ci = c != NULL ? c[start + i] : 1.0;
			double e = exp(-fabs(zi));
			double s = zi >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

			/* log(1+e^z) - y z = max(z,0) - y z + log1p(e^-|z|): for
			 * y in {0,1} the first two terms cancel exactly, so even
			 * a loss of 1e-300 keeps its digits. */
			sum += ci * ((zi > 0 ? zi : 0) - yi * zi + log1p(e));
			r[i] = ci * (s - yi);
			/* s(1-s) without the cancellation in 1-s near s=1. */
			if (hb || hdiag != NULL)
				h[i] = ci * (e / ((1.0 + e) * (1.0 + e)));
		}
		cblas_dgemv(CblasRowMajor, CblasTrans, (blasint)rows, (blasint)d, 1.0, Xb,
		            (blasint)d, r, 1, 1.0, grad, 1);
		if (hdiag != NULL)
			add_diagonal(Xb, rows, d, h, hdiag);
		if (hb) {
			used += rows;
			if (scaled == NULL)
				hess_rows_syr(Xb, rows, d, h, hess);
			else
				scale_rows(Xb, rows, d, h, scaled + pending * ld, ld);
			pending += scaled != NULL ? rows : 0;
		}
		if (pending > 0 && (pending + block > cap || start + rows == n)) {
#ifdef FL_SYRK_AVX512
			if (Hp != NULL)
				syrk_avx512(scaled, pending, ld, Hp);
			else
#endif
				cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)d,
				            (blasint)pending, 1.0, scaled, (blasint)d, 1.0, hess,
				            (blasint)d);
			pending = 0;
		}
	}
	if (Hp != NULL)
		for (size_t i = 0; i < d; i++)
			memcpy(hess + i * d + i, Hp + i * ld + i, (d - i) * sizeof(double));
	if (hess != NULL) {
		/* syrk filled the upper triangle; callers get the full matrix. */
		for (size_t i = 0; i < d; i++)
			for (size_t j = i + 1; j < d; j++)
				hess[j * d + i] = hess[i * d + j];
	}
out:
	free(scaled);
	free(Hp);
	*loss = sum;
	if (hess_rows != NULL)
		*hess_rows = used;
}

void fl_linalg_logistic(const double *X, size_t n, size_t d, const double *y, const double *c,
                        const double *w, double *loss, double *grad, double *hess)
{
	fl_linalg_logistic_sampled(X, n, d, y, c, w, 0, 1, loss, grad, hess, NULL, NULL);
}

void fl_linalg_gemv(const double *X, size_t n, size_t d, const double *w, double *z)
{
	if (d == 0) {
		memset(z, 0, n * sizeof(*z));
		return;
	}
	/* Split the rows so each BLAS call's dimensions fit an int. */
	for (size_t start = 0; start < n; start += FL_BLAS_CHUNK) {
		size_t rows = n - start < FL_BLAS_CHUNK ? n - start : FL_BLAS_CHUNK;

		cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)rows, (blasint)d, 1.0,
		            X + start * d, (blasint)d, w, 1, 0.0, z + start, 1);
	}
}

int fl_linalg_spd_solve_factored(const double *F, size_t d, double *b)
{
	blasint n = (blasint)d, nrhs = 1, info = 0;

	if (d == 0)
		return 0;
	if (d > INT_MAX)
		return fl_fail(FL_ERR_LIMIT, "linear system of order %zu is too large for LAPACK",
		               d);
	/* dpotrs reads F only (LAPACK's interface is not const). */
	dpotrs_("U", &n, &nrhs, (double *)(uintptr_t)F, &n, b, &n, &info, 1);
	if (info != 0)
		return fl_fail(FL_ERR_INTERNAL, "dpotrs rejected argument %d", (int)-info);
	return 0;
}

int fl_linalg_spd_solve(double *A, size_t d, double *b)
{
	blasint n = (blasint)d, info = 0;

	if (d == 0)
		return 0;
	if (d > INT_MAX)
		return fl_fail(FL_ERR_LIMIT, "linear system of order %zu is too large for LAPACK",
		               d);
	/* Read as column-major, a row-major matrix is its transpose, and a
	 * symmetric matrix is its own transpose: LAPACK sees exactly A. Its "U"
	 * triangle is our lower one, which holds the same numbers. */
	dpotrf_("U", &n, A, &n, &info, 1);
	if (info > 0)
		return fl_fail(FL_ERR_NUMERIC,
		               "Hessian is not positive definite (leading minor %d of %zu)",
		               (int)info, d);
	if (info < 0)
		return fl_fail(FL_ERR_INTERNAL, "dpotrf rejected argument %d", (int)-info);
	return fl_linalg_spd_solve_factored(A, d, b);
}

int fl_linalg_sym_floor(double *A, size_t d, double floor)
{
	blasint n, lwork = -1, info = 0;
	double *lam = NULL, *work = NULL, *U = NULL, *V = NULL, q = 0;
	int r = FL_ERR_NOMEM;

	if (d == 0)
		return 0;
	if (d > INT_MAX / 4)
		return fl_fail(FL_ERR_LIMIT, "matrix of order %zu is too large for LAPACK", d);
	for (size_t k = 0; k < d * d; k++)
		if (!isfinite(A[k]))
			return fl_fail(FL_ERR_NUMERIC, "the matrix to project is not finite");
	n = (blasint)d;
	if ((lam = malloc(d * sizeof(double))) == NULL ||
	    (U = malloc(d * d * sizeof(double))) == NULL ||
	    (V = malloc(d * d * sizeof(double))) == NULL)
		goto out;
	memcpy(U, A, d * d * sizeof(double));
	/* A workspace query first. A symmetric row-major matrix read
	 * column-major is itself. */
	dsyev_("V", "U", &n, U, &n, lam, &q, &lwork, &info, 1, 1);
	lwork = info == 0 && q >= 3.0 * (double)d ? (blasint)q : (blasint)(3 * d);
	if ((work = malloc((size_t)lwork * sizeof(double))) == NULL)
		goto out;
	dsyev_("V", "U", &n, U, &n, lam, work, &lwork, &info, 1, 1);
	if (info != 0) {
		r = info > 0 ? fl_fail(FL_ERR_NUMERIC, "the eigensolver did not converge")
		             : fl_fail(FL_ERR_INTERNAL, "dsyev rejected argument %d", (int)-info);
		goto out;
	}
	/* Eigenvector k is column k, i.e. U[k * d ...] in memory: row k of U
	 * read row-major. V holds l_k u_k in the same layout, and
	 * A = sum_k l_k u_k u_k^T = U^T V. */
	for (size_t k = 0; k < d; k++) {
		double l = lam[k] > floor ? lam[k] : floor;

		for (size_t i = 0; i < d; i++)
			V[k * d + i] = U[k * d + i] * l;
	}
	cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)d, (blasint)d, (blasint)d,
	            1.0, U, (blasint)d, V, (blasint)d, 0.0, A, (blasint)d);
	r = 0;
out:
	free(lam);
	free(work);
	free(U);
	free(V);
	return r;
}

double fl_linalg_dot(const double *a, const double *b, size_t d)
{
	double sum = 0;

	for (size_t k = 0; k < d; k += FL_BLAS_CHUNK) {
		size_t m = d - k < FL_BLAS_CHUNK ? d - k : FL_BLAS_CHUNK;

		sum += cblas_ddot((blasint)m, a + k, 1, b + k, 1);
	}
	return sum;
}

double fl_linalg_nrm2(const double *a, size_t d)
{
	double sq = 0;

	if (d <= FL_BLAS_CHUNK)
		return d == 0 ? 0.0 : cblas_dnrm2((blasint)d, a, 1);
	/* Combine the (overflow-safe) chunk norms; the chunks are huge, so
	 * the hypot chain is cheap. */
	for (size_t k = 0; k < d; k += FL_BLAS_CHUNK) {
		size_t m = d - k < FL_BLAS_CHUNK ? d - k : FL_BLAS_CHUNK;

		sq = hypot(sq, cblas_dnrm2((blasint)m, a + k, 1));
	}
	return sq;
}

void fl_linalg_axpy(double alpha, const double *x, double *y, size_t d)
{
	for (size_t k = 0; k < d; k += FL_BLAS_CHUNK) {
		size_t m = d - k < FL_BLAS_CHUNK ? d - k : FL_BLAS_CHUNK;

		cblas_daxpy((blasint)m, alpha, x + k, 1, y + k, 1);
	}
}
