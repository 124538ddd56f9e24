/*
 * bench_dpnoise: what a partner's differential-privacy noise costs per
 * release, and what else the partner's node spends in the same round.
 *
 *   bench_dpnoise [--values 10000] [--reps 7] [--rows 10000,100000]
 *                 [--grad-reps 3]
 *
 * 1. Noise: fl_dgauss_new() and fl_dgauss_add_grid() over --values doubles,
 *    exactly as the node adds it before masking (src/fed/node.c,
 *    dp_release()), at the variance the node's calibration reaches on the
 *    finest grid (2^40 grid units, its cap) and at 2^20. Best CPU time of
 *    --reps runs: "sigma2=2^K values=N cpu_s=T".
 * 2. The update itself: the gradient pass a partner's node makes over its
 *    rows in a round (fl_linalg_logistic, the kernel the node calls, loss
 *    and gradient, no Hessian: at --values features a Hessian would be
 *    --values^2 entries), for each --rows count of synthetic rows of
 *    --values features. The rows go through the kernel in windows of
 *    WINDOW rows read again for the next window (all 100,000 rows of
 *    10,000 features would be 8 GB), each window far larger than the
 *    caches, so they stream from memory as the node's own rows do. Best of
 *    --grad-reps: "gradient rows=N features=D cpu_s=T".
 *
 * Times are CPU clocks: the noise's of its thread, the gradient pass's of
 * the process (bench/dp_utility.sh sets OPENBLAS_NUM_THREADS=1, as a
 * node's single-threaded pass).
 * bench/dp_utility.sh sets them beside one secure round's partner CPU from
 * bench_secagg, measured in the same run.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedlead/dgauss.h"
#include "fedlead/error.h"
#include "fedlead/linalg.h"

/* Rows per window of the gradient pass: 160 MB at 10,000 features. */
#define WINDOW 2000

static double cpu_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The sampler runs on this thread only; OpenBLAS's idle threads (when
 * OPENBLAS_NUM_THREADS is not 1) must not count against it. */
static double thread_now(void)
{
	return cpu_clock(CLOCK_THREAD_CPUTIME_ID);
}

/* The gradient pass: every thread OpenBLAS uses is the partner's CPU. */
static double cpu_now(void)
{
	return cpu_clock(CLOCK_PROCESS_CPUTIME_ID);
}

static int parse_long(const char *opt, const char *arg, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "bench_dpnoise: bad --%s \"%s\" (%ld to %ld)\n", opt, arg, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int noise(long n, long reps)
{
	static const int logvar[] = {40, 20};
	double *v = malloc((size_t)n * sizeof(double));

	if (v == NULL)
		return -1;
	for (size_t k = 0; k < sizeof(logvar) / sizeof(logvar[0]); k++) {
		double best = INFINITY;

		for (long r = 0; r < reps; r++) {
			struct fl_dgauss *g = NULL;
			size_t bad;
			double c0;

			for (long i = 0; i < n; i++)
				v[i] = (double)((i * 7919) % 2001 - 1000) / 8;
			c0 = thread_now();
			if (fl_dgauss_new((uint64_t)1 << logvar[k], &g) != 0 ||
			    fl_dgauss_add_grid(g, v, (size_t)n, 0, &bad) != 0) {
				fprintf(stderr, "bench_dpnoise: %s\n", fl_errmsg());
				free(v);
				return -1;
			}
			fl_dgauss_free(g);
			best = fmin(best, thread_now() - c0);
		}
		printf("sigma2=2^%d values=%ld cpu_s=%.6g\n", logvar[k], n, best);
		fflush(stdout);
	}
	free(v);
	return 0;
}

/* The gradient pass over rows x d synthetic rows: standardised-looking
 * features in [-2, 2), labels 0/1, a weight vector of small values. */
static int gradient(long rows, long d, long reps)
{
	size_t win = rows < WINDOW ? (size_t)rows : WINDOW;
	double *X = fl_matrix_alloc(win, (size_t)d), *y = malloc(win * sizeof(double));
	double *w = malloc((size_t)d * sizeof(double)), *g = malloc((size_t)d * sizeof(double));
	double *sum = malloc((size_t)d * sizeof(double)), best = INFINITY, check = 0;
	uint64_t s = 88172645463325252u;

	if (X == NULL || y == NULL || w == NULL || g == NULL || sum == NULL) {
		free(X), free(y), free(w), free(g), free(sum);
		fprintf(stderr, "bench_dpnoise: out of memory for %zu rows of %ld features\n", win,
		        d);
		return -1;
	}
	for (size_t i = 0; i < win * (size_t)d; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 */
		X[i] = (double)(s >> 11) * 0x1p-51 - 2;
	}
	for (size_t i = 0; i < win; i++)
		y[i] = (double)(i % 7 == 0);
	for (long j = 0; j < d; j++)
		w[j] = (double)(j % 13 - 6) * 1e-3;
	for (long r = 0; r < reps; r++) {
		double loss = 0, c0 = cpu_now();

		memset(sum, 0, (size_t)d * sizeof(double));
		for (long done = 0; done < rows; done += (long)win) {
			size_t n = (size_t)(rows - done) < win ? (size_t)(rows - done) : win;
			double l;

			fl_linalg_logistic(X, n, (size_t)d, y, NULL, w, &l, g, NULL);
			loss += l;
			fl_linalg_axpy(1, g, sum, (size_t)d);
		}
		best = fmin(best, cpu_now() - c0);
		check += loss + sum[0];
	}
	/* The sums are used, so no compiler can drop the pass. */
	if (!isfinite(check)) {
		fprintf(stderr, "bench_dpnoise: the gradient pass is not finite\n");
		best = NAN;
	}
	printf("gradient rows=%ld features=%ld cpu_s=%.6g\n", rows, d, best);
	fflush(stdout);
	free(X), free(y), free(w), free(g), free(sum);
	return isnan(best) ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"values", required_argument, NULL, 'n'},
	                                     {"reps", required_argument, NULL, 'r'},
	                                     {"rows", required_argument, NULL, 'w'},
	                                     {"grad-reps", required_argument, NULL, 'g'},
	                                     {NULL, 0, NULL, 0}};
	long n = 10000, reps = 7, greps = 3;
	const char *rows = "10000,100000";
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int r = 0;

		if (c == 'n')
			r = parse_long("values", optarg, 1, 100000000, &n);
		else if (c == 'r')
			r = parse_long("reps", optarg, 1, 1000, &reps);
		else if (c == 'g')
			r = parse_long("grad-reps", optarg, 1, 1000, &greps);
		else if (c == 'w')
			rows = optarg;
		else {
			fprintf(stderr, "usage: bench_dpnoise [--values N] [--reps N] "
			                "[--rows N,N,...] [--grad-reps N]\n");
			return 2;
		}
		if (r != 0)
			return 2;
	}
	if (noise(n, reps) != 0)
		return 1;
	if (strcmp(rows, "0") == 0) /* --rows 0: the noise only */
		return 0;
	for (const char *p = rows; *p != '\0';) {
		char one[32];
		size_t len = strcspn(p, ",");
		long nr;

		if (len == 0 || len >= sizeof(one)) {
			fprintf(stderr, "bench_dpnoise: bad --rows \"%s\"\n", rows);
			return 2;
		}
		memcpy(one, p, len);
		one[len] = '\0';
		if (parse_long("rows", one, 1, 100000000, &nr) != 0)
			return 2;
		if (gradient(nr, n, greps) != 0)
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}
