/*
 * bench_inmem: fedlead's Newton on rows already in memory, the figure set
 * against scikit-learn's lbfgs fit on the same rows (bench/cache_sklearn.py).
 *
 *   bench_inmem LEADS.flc [L2] [REPS] [WEIGHTS]
 *
 * Reads the standardised rows of a column cache (cache.h's layout) into
 * memory once, then times fl_train_fit() with 1 and 2 threads, REPS times
 * each (interleaved, the best kept): wall clock and this process's CPU
 * time. The weights of every run are compared with memcmp: they must not
 * depend on the thread count. WEIGHTS, when given, gets them (%.17g, one
 * a line), to compare builds.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/train.h"

static double now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int main(int argc, char **argv)
{
	unsigned char head[176];
	struct fl_dataset ds = {0};
	struct fl_train_opts o;
	struct fl_solver_status st;
	double l2 = argc > 2 ? atof(argv[2]) : 1.0, best_w[3] = {1e300, 1e300, 1e300},
	       best_c[3] = {1e300, 1e300, 1e300};
	int reps = argc > 3 ? atoi(argv[3]) : 3, iters = 0, evals = 0;
	double *w[3] = {NULL, NULL, NULL};
	FILE *fp;
	uint64_t n, d, xo, yo;

	if (argc < 2 || reps < 1) {
		fprintf(stderr, "usage: bench_inmem LEADS.flc [L2] [REPS] [WEIGHTS]\n");
		return 2;
	}
	if ((fp = fopen(argv[1], "rb")) == NULL ||
	    fread(head, 1, sizeof(head), fp) != sizeof(head)) {
		fprintf(stderr, "bench_inmem: cannot read %s\n", argv[1]);
		return 1;
	}
	n = le64(head + 48);
	d = le64(head + 56);
	xo = le64(head + 80);
	yo = le64(head + 88);
	ds.n = n;
	ds.dim = d;
	if ((ds.X = fl_matrix_alloc(n, d)) == NULL || (ds.y = malloc(n * sizeof(double))) == NULL ||
	    fseek(fp, (long)xo, SEEK_SET) != 0 || fread(ds.X, sizeof(double), n * d, fp) != n * d ||
	    fseek(fp, (long)yo, SEEK_SET) != 0 || fread(ds.y, sizeof(double), n, fp) != n) {
		fprintf(stderr, "bench_inmem: cannot load %s\n", argv[1]);
		return 1;
	}
	fclose(fp);
	fl_train_opts_default(&o);
	for (int r = 0; r < reps; r++)
		for (unsigned t = 1; t <= 2; t++) {
			double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID), dt,
			       dc;

			if (w[t] == NULL && (w[t] = malloc(d * sizeof(double))) == NULL)
				return 1;
			memset(w[t], 0, d * sizeof(double));
			o.threads = t;
			if (fl_train_fit(&ds, &o, l2, 1.0, w[t], &st) != 0) {
				fprintf(stderr, "bench_inmem: %s\n", fl_errmsg());
				return 1;
			}
			dt = now(CLOCK_MONOTONIC) - t0;
			dc = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
			best_w[t] = dt < best_w[t] ? dt : best_w[t];
			best_c[t] = dc < best_c[t] ? dc : best_c[t];
			iters = st.iterations;
			evals = st.evaluations;
		}
	if (memcmp(w[1], w[2], d * sizeof(double)) != 0) {
		fprintf(stderr, "bench_inmem: 1 and 2 threads gave different weights\n");
		return 1;
	}
	if (argc > 4) {
		FILE *out = fopen(argv[4], "w");

		for (uint64_t j = 0; out != NULL && j < d; j++)
			fprintf(out, "%.17g\n", w[1][j]);
		if (out == NULL || fclose(out) != 0) {
			fprintf(stderr, "bench_inmem: cannot write %s\n", argv[4]);
			return 1;
		}
	}
	printf("fedlead newton on %llu x %llu in memory: %d iterations, %d passes\n",
	       (unsigned long long)n, (unsigned long long)d - 1, iters, evals);
	printf("1 thread: %.3f s wall, %.3f s CPU; 2 threads: %.3f s wall, %.3f s CPU; "
	       "speed-up %.2f (same weights: yes)\n",
	       best_w[1], best_c[1], best_w[2], best_c[2], best_w[1] / best_w[2]);
	return 0;
}
