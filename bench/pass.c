/*
 * bench_pass: one pass over the rows, fl_rowset_logistic(), timed in one
 * process: what train's Newton steps cost a step, without the solver.
 *
 *   bench_pass SCHEMA.json LEADS.csv [REPS] [OUT]
 *
 * Reads the leads as `fedlead-node train` does (the rows loaded in the
 * layout the schema's shape chooses, knots placed from the data,
 * standardised with the rows' own statistics), then times REPS rounds of
 * 20 passes with the Hessian and 20 without (one thread), and prints the
 * best round's CPU time a pass. The weights are fixed (0.3 sin(1.7 j +
 * 0.2)), so the passes compute the same thing in every build: OUT, when
 * given, gets the loss, the gradient and the Hessian of one pass with it
 * as raw doubles, to compare builds bit for bit.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/rowset.h"
#include "fedlead/schema.h"
#include "fedlead/spline.h"

#define PASSES 20

static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Best CPU seconds a pass over REPS rounds, with the Hessian or without. */
static int time_passes(const struct fl_rowset *rs, const double *w, int reps, double *g, double *H,
                       double *best)
{
	double loss;
	int r;

	*best = 1e300;
	for (int k = 0; k < reps; k++) {
		double t = cpu();

		for (int p = 0; p < PASSES; p++)
			if ((r = fl_rowset_logistic(rs, NULL, w, 1, &loss, g, H)) != 0)
				return r;
		t = (cpu() - t) / PASSES;
		*best = t < *best ? t : *best;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fl_schema *s = NULL;
	struct fl_rowset *rows = NULL;
	struct fl_load_report rep;
	struct fl_stats *st = NULL;
	struct fl_scaler *sc = NULL;
	double *w = NULL, *g = NULL, *H = NULL, loss, th, tg;
	int reps = argc > 3 ? atoi(argv[3]) : 10, r;
	size_t d;

	if (argc < 3 || reps < 1) {
		fprintf(stderr, "usage: bench_pass SCHEMA.json LEADS.csv [REPS] [OUT]\n");
		return 2;
	}
	if ((r = fl_schema_load(argv[1], &s)) != 0 ||
	    (r = fl_rowset_load(s, argv[2], FL_BAD_ROWS_FAIL, FL_ROWS_AUTO, &rows, &rep)) != 0 ||
	    (r = fl_spline_prepare_rows(s, rows)) != 0 || (r = fl_stats_new(s->dim, &st)) != 0)
		goto out;
	fl_rowset_stats(rows, st);
	if ((r = fl_scaler_from_stats(s, st, &sc)) != 0 ||
	    (r = fl_rowset_standardize(rows, sc)) != 0)
		goto out;
	d = rows->d;
	if ((w = fl_matrix_alloc(1, d)) == NULL || (g = fl_matrix_alloc(1, d)) == NULL ||
	    (H = fl_matrix_alloc(d, d)) == NULL) {
		r = fl_fail(FL_ERR_NOMEM, "out of memory for %zu columns", d);
		goto out;
	}
	for (size_t j = 0; j < d; j++)
		w[j] = 0.3 * sin(1.7 * (double)j + 0.2);
	if ((r = time_passes(rows, w, reps, g, H, &th)) != 0 ||
	    (r = time_passes(rows, w, reps, g, NULL, &tg)) != 0 ||
	    (r = fl_rowset_logistic(rows, NULL, w, 1, &loss, g, H)) != 0)
		goto out;
	printf("leads %zu, columns %zu (dense %zu, groups %zu, splines %zu)\n", rows->n, d,
	       rows->nd, rows->nk, rows->ns);
	printf("pass with the Hessian %.3f ms, gradient only %.3f ms (best of %d x %d, CPU)\n",
	       th * 1e3, tg * 1e3, reps, PASSES);
	if (argc > 4) {
		FILE *fp = fopen(argv[4], "wb");

		int ok = fp != NULL && fwrite(&loss, sizeof(loss), 1, fp) == 1 &&
		         fwrite(g, sizeof(*g), d, fp) == d &&
		         fwrite(H, sizeof(*H), d * d, fp) == d * d;

		if ((fp != NULL && fclose(fp) != 0) || !ok)
			r = fl_fail(FL_ERR_IO, "cannot write %s", argv[4]);
	}
out:
	if (r != 0)
		fprintf(stderr, "bench_pass: %s\n", fl_errmsg());
	free(w);
	free(g);
	free(H);
	fl_scaler_free(sc);
	fl_stats_free(st);
	fl_rowset_free(rows);
	fl_schema_free(s);
	return r == 0 ? 0 : 1;
}
