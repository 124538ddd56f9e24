/*
 * bench_gradient: how close one gradient pass of fl_linalg_logistic comes to
 * the speed of merely streaming the matrix through memory.
 *
 *   bench_gradient [--rows N] [--cols D] [--reps R] [--sweep]
 *
 * Allocates an N x D row-major matrix (default 1,000,000 x 64, 512 MB) and
 * times, interleaved and R times each (the minimum is kept, because a shared
 * machine only ever makes a run slower):
 *
 *   memcpy   copy the matrix into a second, already faulted-in buffer
 *            (reads 512 MB and writes 512 MB: the reference)
 *   sum      a read-only pass adding every element (reads 512 MB once)
 *   fused    fl_linalg_logistic(..., hess = NULL): loss and gradient
 *   naive    the unfused way: z = X w by one dgemv over the whole matrix,
 *            the per-row loss and residual, then g = X^T r by a second
 *            dgemv (X is read from memory twice)
 *   cached   fl_linalg_logistic over the same 512 KB of rows again and
 *            again (as many rows in all), so X comes from L2: the pass's
 *            arithmetic cost without the memory traffic
 *   rowwise  the per-row loss/residual work alone, on a precomputed z
 *            (the part of the pass that is not linear algebra)
 *   hessian  fl_linalg_logistic with the Hessian (one Newton evaluation)
 *
 * --sweep also times the fused algorithm re-implemented here with other
 * block sizes, with and without software prefetching of the next block
 * during the per-row work, to see whether the library's choices are good.
 *
 * Prints "key value" lines for bench/run.sh (NAME_s: best wall-clock
 * seconds, NAME_cpu_s: best process CPU seconds), then a summary. The
 * BLAS thread count is whatever OPENBLAS_NUM_THREADS says; run.sh sets 1.
 */
#include "fedlead/linalg.h"

#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A read-only pass. Sixteen independent sums keep the adds from being
 * latency-bound, so the loop runs at the speed memory delivers. */
static double sum_pass(const double *X, size_t len)
{
	double a[16] = {0};
	size_t i = 0;

	for (; i + 16 <= len; i += 16)
		for (int k = 0; k < 16; k++)
			a[k] += X[i + k];
	for (; i < len; i++)
		a[0] += X[i];
	for (int k = 1; k < 16; k++)
		a[0] += a[k];
	return a[0];
}

/* The per-row part of the pass, written as fl_linalg_logistic writes it:
 * loss terms and residuals from the logits. Returns the loss. */
static double rowwise(const double *z, const double *y, size_t n, double *r)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++) {
		double zi = z[i], yi = y[i];
		double e = exp(-fabs(zi));
		double s = zi >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

		sum += (zi > 0 ? zi : 0) - yi * zi + log1p(e);
		r[i] = s - yi;
	}
	return sum;
}

/* The textbook two-pass gradient: each dgemv streams all of X. */
static double naive_pass(const double *X, size_t n, size_t d, const double *y, const double *w,
                         double *z, double *r, double *grad)
{
	double loss;

	cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)n, (blasint)d, 1.0, X, (blasint)d, w, 1,
	            0.0, z, 1);
	loss = rowwise(z, y, n, r);
	cblas_dgemv(CblasRowMajor, CblasTrans, (blasint)n, (blasint)d, 1.0, X, (blasint)d, r, 1,
	            0.0, grad, 1);
	return loss;
}

/*
 * The fused algorithm with a chosen block (rows), for --sweep. With
 * prefetch, the per-row work of one block also asks for the next block's
 * cache lines, so memory works while the core computes exp and log1p
 * (otherwise the first dgemv of each block waits for memory alone).
 */
static double blocked_pass(const double *X, size_t n, size_t d, const double *y, const double *w,
                           size_t block, int prefetch, double *z, double *r, double *grad)
{
	double loss = 0;

	memset(grad, 0, d * sizeof(*grad));
	for (size_t start = 0; start < n; start += block) {
		size_t rows = n - start < block ? n - start : block;
		const double *Xb = X + start * d;

		cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)rows, (blasint)d, 1.0, Xb,
		            (blasint)d, w, 1, 0.0, z, 1);
		if (prefetch && start + rows < n) {
			size_t next = n - start - rows < block ? n - start - rows : block;
			const char *p = (const char *)(Xb + rows * d);
			size_t lines = next * d * sizeof(double) / 64, per = lines / rows + 1;
			double *zz = z, *rr = r;
			const double *yy = y + start;

			/* The per-row loop of rowwise(), with the prefetches
			 * spread over the rows. */
			for (size_t i = 0, done = 0; i < rows; i++) {
				double zi = zz[i], yi = yy[i];
				double e = exp(-fabs(zi));
				double s = zi >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

				loss += (zi > 0 ? zi : 0) - yi * zi + log1p(e);
				rr[i] = s - yi;
				for (size_t k = 0; k < per && done < lines; k++, done++)
					__builtin_prefetch(p + done * 64, 0, 3);
			}
		} else {
			loss += rowwise(z, y + start, rows, r);
		}
		cblas_dgemv(CblasRowMajor, CblasTrans, (blasint)rows, (blasint)d, 1.0, Xb,
		            (blasint)d, r, 1, 1.0, grad, 1);
	}
	return loss;
}

/* As many rows as n, but always the first `rows` ones again, so X comes
 * from cache: what the pass costs when memory is not the limit. */
static double cached_pass(const double *X, size_t n, size_t d, const double *y, const double *w,
                          size_t rows, double *grad)
{
	double loss, sum = 0;

	for (size_t s = 0; s + rows <= n; s += rows) {
		fl_linalg_logistic(X, rows, d, y, NULL, w, &loss, grad, NULL);
		sum += loss;
	}
	return sum;
}

static double max_rel_diff(const double *a, const double *b, size_t d)
{
	double m = 0, scale = 0;

	for (size_t j = 0; j < d; j++)
		if (fabs(a[j]) > scale)
			scale = fabs(a[j]);
	for (size_t j = 0; j < d; j++)
		if (fabs(a[j] - b[j]) > m)
			m = fabs(a[j] - b[j]);
	return scale > 0 ? m / scale : m;
}

/*
 * Best wall-clock and best CPU time of a timed section, kept separately. On
 * a shared machine the wall clock also counts time the process waited for
 * a core; CPU time does not, so the two together tell contention from cost.
 */
struct best {
	double wall, cpu;
};

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define TIME_INTO(b, expr)                                                                         \
	do {                                                                                       \
		double w0_ = now(), c0_ = cpu_now(), w_, c_;                                       \
		expr;                                                                              \
		c_ = cpu_now() - c0_;                                                              \
		w_ = now() - w0_;                                                                  \
		if (w_ < (b).wall)                                                                 \
			(b).wall = w_;                                                             \
		if (c_ < (b).cpu)                                                                  \
			(b).cpu = c_;                                                              \
	} while (0)

static void print_best(const char *name, struct best b)
{
	printf("%s_s %.6f\n%s_cpu_s %.6f\n", name, b.wall, name, b.cpu);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"rows", required_argument, NULL, 'n'}, {"cols", required_argument, NULL, 'd'},
	        {"reps", required_argument, NULL, 'r'}, {"sweep", no_argument, NULL, 's'},
	        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
	size_t n = 1000000, d = 64;
	int reps = 7, sweep = 0, c;
	double *X, *copy, *y, *w, *z, *r, *g_fused, *g_naive, *g_tmp, *hess;
	const struct best none = {INFINITY, INFINITY};
	struct best t_memcpy = none, t_sum = none, t_fused = none, t_naive = none;
	struct best t_row = none, t_hess = none, t_cached = none;
	size_t cached_rows;
	double loss_f = 0, loss_n = 0, loss_h = 0, sink = 0;
	uint64_t st = 0x2545f4914f6cdd1dULL;
	size_t bytes;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 'd': d = strtoull(optarg, NULL, 10); break;
		case 'r': reps = atoi(optarg); break;
		case 's': sweep = 1; break;
		case 'h':
			printf("usage: bench_gradient [--rows N] [--cols D] [--reps R] "
			       "[--sweep]\n");
			return 0;
		default: return 2;
		}
	}
	if (n < 1 || d < 2 || reps < 1 || n > INT32_MAX / 2) {
		fprintf(stderr, "bench_gradient: bad sizes\n");
		return 2;
	}
	bytes = n * d * sizeof(double);
	X = fl_matrix_alloc(n, d);
	copy = fl_matrix_alloc(n, d); /* zeroed, so every page is already mapped */
	y = fl_matrix_alloc(n, 1);
	z = fl_matrix_alloc(n, 1);
	r = fl_matrix_alloc(n, 1);
	w = fl_matrix_alloc(d, 1);
	g_fused = fl_matrix_alloc(d, 1);
	g_naive = fl_matrix_alloc(d, 1);
	g_tmp = fl_matrix_alloc(d, 1);
	hess = fl_matrix_alloc(d, d);
	if (X == NULL || copy == NULL || y == NULL || z == NULL || r == NULL || w == NULL ||
	    g_fused == NULL || g_naive == NULL || g_tmp == NULL || hess == NULL) {
		fprintf(stderr, "bench_gradient: out of memory\n");
		return 1;
	}
	/* Standardised-looking data: an intercept column of ones, the rest
	 * uniform with unit variance; weights give logits around -1.7 with
	 * spread 1.3, like a lead model with ~15 % conversions. */
	for (size_t i = 0; i < n; i++) {
		X[i * d] = 1.0;
		for (size_t j = 1; j < d; j++) {
			st = st * 6364136223846793005ULL + 1442695040888963407ULL;
			X[i * d + j] = ((double)(st >> 11) * 0x1.0p-53 - 0.5) * 2 * sqrt(3.0);
		}
		st = st * 6364136223846793005ULL + 1442695040888963407ULL;
		y[i] = (double)(st >> 11) * 0x1.0p-53 < 0.15;
	}
	w[0] = -1.7;
	for (size_t j = 1; j < d; j++)
		w[j] = (j % 2 ? 1.3 : -1.3) / sqrt((double)(d - 1));

	/* 512 KB of rows: fits the L2 of any current x86 core. */
	cached_rows = 512 * 1024 / sizeof(double) / d;
	if (cached_rows < 1)
		cached_rows = 1;
	if (cached_rows > n)
		cached_rows = n;
	for (int rep = 0; rep < reps; rep++) {
		TIME_INTO(t_memcpy, memcpy(copy, X, bytes));
		TIME_INTO(t_sum, sink += sum_pass(X, n * d));
		TIME_INTO(t_fused, fl_linalg_logistic(X, n, d, y, NULL, w, &loss_f, g_fused, NULL));
		TIME_INTO(t_naive, loss_n = naive_pass(X, n, d, y, w, z, r, g_naive));
		TIME_INTO(t_row, sink += rowwise(z, y, n, r));
		TIME_INTO(t_cached, sink += cached_pass(X, n, d, y, w, cached_rows, g_tmp));
		TIME_INTO(t_hess, fl_linalg_logistic(X, n, d, y, NULL, w, &loss_h, g_fused, hess));
	}
	sink += copy[n * d / 2];

	printf("corename %s\n", openblas_get_corename());
	printf("threads %d\n", openblas_get_num_threads());
	printf("rows %zu\ncols %zu\nbytes %zu\nreps %d\n", n, d, bytes, reps);
	/* The cached pass covered whole multiples of cached_rows; scale it
	 * to n rows. */
	t_cached.wall *= (double)n / (double)(n / cached_rows * cached_rows);
	t_cached.cpu *= (double)n / (double)(n / cached_rows * cached_rows);
	print_best("memcpy", t_memcpy);
	print_best("sum", t_sum);
	print_best("fused", t_fused);
	print_best("naive", t_naive);
	print_best("rowwise", t_row);
	print_best("hessian", t_hess);
	print_best("cached", t_cached);
	/* The two gradients must agree, or the timing compares different work. */
	printf("grad_rel_diff %.3g\nloss_rel_diff %.3g\n", max_rel_diff(g_naive, g_fused, d),
	       fabs(loss_f - loss_n) / fabs(loss_n));
	if (sweep) {
		static const size_t kib[] = {16, 32, 64, 128, 256, 512, 1024};
		double worst = 0;

		for (size_t k = 0; k < sizeof(kib) / sizeof(kib[0]); k++) {
			size_t block = kib[k] * 1024 / sizeof(double) / d;
			struct best t = none, tp = none;
			char name[64];

			if (block < 1)
				block = 1;
			for (int rep = 0; rep < reps; rep++) {
				TIME_INTO(t, sink +=
				             blocked_pass(X, n, d, y, w, block, 0, z, r, g_tmp));
				TIME_INTO(tp, sink +=
				              blocked_pass(X, n, d, y, w, block, 1, z, r, g_tmp));
			}
			snprintf(name, sizeof(name), "sweep_%zukib", kib[k]);
			print_best(name, t);
			snprintf(name, sizeof(name), "sweep_%zukib_prefetch", kib[k]);
			print_best(name, tp);
			if (max_rel_diff(g_fused, g_tmp, d) > worst)
				worst = max_rel_diff(g_fused, g_tmp, d);
		}
		printf("sweep_grad_rel_diff %.3g\n", worst);
	}
	fprintf(stderr,
	        "bench_gradient: %zu x %zu (%.0f MB), %d thread(s), best of %d:\n"
	        "  memcpy %.1f ms (%.1f GB/s copied), sum %.1f ms (%.1f GB/s read)\n"
	        "  fused gradient %.1f ms (%.1f GB/s), from L2 %.1f ms, naive %.1f ms, "
	        "row-wise part %.1f ms, with Hessian %.1f ms\n",
	        n, d, bytes / 1e6, openblas_get_num_threads(), reps, t_memcpy.wall * 1e3,
	        bytes / t_memcpy.wall / 1e9, t_sum.wall * 1e3, bytes / t_sum.wall / 1e9,
	        t_fused.wall * 1e3, bytes / t_fused.wall / 1e9, t_cached.wall * 1e3,
	        t_naive.wall * 1e3, t_row.wall * 1e3, t_hess.wall * 1e3);
	/* Keeps the compiler from dropping the sums; never true in practice. */
	if (sink == 42.4242)
		fprintf(stderr, "%g\n", sink);
	free(X);
	free(copy);
	free(y);
	free(z);
	free(r);
	free(w);
	free(g_fused);
	free(g_naive);
	free(g_tmp);
	free(hess);
	return 0;
}
