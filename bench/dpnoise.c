/*
 * bench_dpnoise: what a partner's differential-privacy noise costs per
 * release: fl_dgauss_new() and fl_dgauss_add_grid() over --values doubles,
 * exactly as the node adds it before masking (src/fed/node.c,
 * dp_release()), at the variance the node's calibration reaches on the
 * finest grid (2^40 grid units, its cap) and at 2^20.
 *
 *   bench_dpnoise [--values 10000] [--reps 7]
 *
 * Prints, per variance, the best CPU time of --reps runs (process CPU
 * clock; the program is single-threaded) as "sigma2=2^K values=N cpu_s=T".
 * bench/dp_utility.sh sets it against one secure round's partner CPU from
 * bench_secagg, measured in the same run.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fedlead/dgauss.h"
#include "fedlead/error.h"

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"values", required_argument, NULL, 'n'},
	                                     {"reps", required_argument, NULL, 'r'},
	                                     {NULL, 0, NULL, 0}};
	static const int logvar[] = {40, 20};
	long n = 10000, reps = 7;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;

		if (c == 'n')
			n = strtol(optarg, &end, 10);
		else if (c == 'r')
			reps = strtol(optarg, &end, 10);
		else {
			fprintf(stderr, "usage: bench_dpnoise [--values N] [--reps N]\n");
			return 2;
		}
		if (*end != '\0' || n < 1 || n > 100000000 || reps < 1 || reps > 1000) {
			fprintf(stderr, "bench_dpnoise: bad --%s \"%s\"\n",
			        c == 'n' ? "values" : "reps", optarg);
			return 2;
		}
	}
	double *v = malloc((size_t)n * sizeof(double));

	if (v == NULL)
		return 1;
	for (size_t k = 0; k < sizeof(logvar) / sizeof(logvar[0]); k++) {
		double best = INFINITY;

		for (long r = 0; r < reps; r++) {
			struct fl_dgauss *g = NULL;
			size_t bad;
			double c0;

			for (long i = 0; i < n; i++)
				v[i] = (double)((i * 7919) % 2001 - 1000) / 8;
			c0 = cpu_now();
			if (fl_dgauss_new((uint64_t)1 << logvar[k], &g) != 0 ||
			    fl_dgauss_add_grid(g, v, (size_t)n, 0, &bad) != 0) {
				fprintf(stderr, "bench_dpnoise: %s\n", fl_errmsg());
				return 1;
			}
			fl_dgauss_free(g);
			best = fmin(best, cpu_now() - c0);
		}
		printf("sigma2=2^%d values=%ld cpu_s=%.6g\n", logvar[k], n, best);
	}
	free(v);
	return 0;
}
