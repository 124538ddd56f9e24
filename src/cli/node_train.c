/*
 * fedlead-node train: trains a local-only conversion model and prints its
 * metrics, from a lead CSV in memory or (--cache) from a column cache
 * streamed from disk.
 */
#include <stdio.h>

#include "cli/node_int.h"
#include "fedlead/cli.h"
#include "fedlead/commands.h"
#include "fedlead/rowset.h"
#include "fedlead/schema.h"
#include "fedlead/spline.h"

static void cache_progress(void *arg, const struct fl_solver_status *st)
{
	(void)arg;
	fprintf(stderr, "%s: pass %d, iteration %d: objective %.10g, gradient norm %.3g\n",
	        FL_NODE_PROG, st->evaluations, st->iterations, st->objective, st->grad_norm);
}

/* fl_train_local()'s progress, a line at most once a second on stderr. */
static void train_progress(void *arg, const struct fl_train_progress *p)
{
	struct fl_cli_progress *pg = arg;
	double now = fl_cli_now();
	char line[256];

	if (!fl_cli_progress_due(pg, now))
		return;
	fl_cli_train_progress_text(p, now - pg->start, line, sizeof(line));
	fprintf(stderr, "%s: %s\n", FL_NODE_PROG, line);
}

static void print_fit(const struct fl_node_args *a, const struct fl_train_report *tr)
{
	printf("solver %s, l2 %g%s: %d iterations, objective %.10g, gradient norm %.3g%s\n",
	       fl_solver_name(a->train.solver), tr->l2,
	       tr->pos_weight != 1 ? " (class-weighted)" : "", tr->status.iterations,
	       tr->status.objective, tr->status.grad_norm,
	       tr->status.converged ? "" : " (not converged)");
}

/* train --cache: every pass, training metrics too, streamed from the cache. */
static int train_cache(struct fl_node_args *a)
{
	struct fl_schema *s = NULL;
	struct fl_model *m = NULL;
	struct fl_train_report tr;
	int r;

	if ((r = fl_node_args_require(a->schema, "--schema", "train")) != 0 ||
	    (r = fl_node_args_require(a->out, "--out", "train")) != 0)
		return r;
	if (a->data != NULL || a->train.l2_auto || a->train.valid_frac > 0 ||
	    a->train.solver == FL_SOLVER_SGD) {
		fprintf(stderr,
		        "%s train: --cache trains on all cached rows with newton or lbfgs "
		        "and a given --l2; --data, --l2 auto, --validation-split and "
		        "--solver sgd need the rows in memory\n",
		        FL_NODE_PROG);
		return FL_EXIT_USAGE;
	}
	if ((r = fl_node_load_schema(a, &s)) != 0 ||
	    (r = fl_train_cache(s, a->cache, &a->train, a->quiet ? NULL : cache_progress, NULL, &m,
	                        &tr)) != 0)
		goto out;
	print_fit(a, &tr);
	fl_node_print_metrics("training", &tr.train);
	if ((r = fl_model_save(m, a->out)) != 0)
		goto out;
	printf("model written to %s\n", a->out);
out:
	fl_model_free(m);
	fl_schema_free(s);
	return r ? fl_node_fail(r) : 0;
}

int fl_cmd_node_train(int argc, char **argv)
{
	struct fl_node_args a;
	struct fl_schema *s = NULL;
	struct fl_rowset *rows = NULL;
	struct fl_model *m = NULL;
	struct fl_load_report rep;
	struct fl_train_report tr;
	struct fl_cli_progress pg;
	int r;

	if ((r = fl_node_args_parse(argc, argv, &a)) != 0)
		return r;
	if (a.train.cv != FL_CV_AUTO && !(a.train.l2_auto && a.train.valid_frac == 0)) {
		fprintf(stderr,
		        "%s train: --cv %s chooses how --l2 auto cross-validates; it needs "
		        "--l2 auto without --validation-split\n",
		        FL_NODE_PROG, fl_cv_mode_name(a.train.cv));
		return FL_EXIT_USAGE;
	}
	if (a.cache != NULL)
		return train_cache(&a);
	if ((r = fl_node_args_require(a.schema, "--schema", "train")) != 0 ||
	    (r = fl_node_args_require(a.data, "--data", "train")) != 0 ||
	    (r = fl_node_args_require(a.out, "--out", "train")) != 0)
		return r;
	if (a.train.l2_auto && a.train.valid_frac == 0 && !a.quiet)
		fprintf(stderr,
		        "%s: --l2 auto without --validation-split: choosing by 5-fold "
		        "cross-validation\n",
		        FL_NODE_PROG);
	fl_cli_read_progress(FL_NODE_PROG, "train", !a.quiet);
	if ((r = fl_node_load_schema(&a, &s)) != 0 ||
	    (r = fl_rowset_load(s, a.data, a.bad_rows, a.train.layout, &rows, &rep)) != 0 ||
	    (r = fl_spline_prepare_rows(s, rows)) != 0) /* knots from this site's data */
		goto out;
	/* Training reports its own progress from here. */
	fl_cli_read_progress(FL_NODE_PROG, "train", 0);
	if (!a.quiet)
		fl_cli_load_notices(FL_NODE_PROG, a.data, &rep);
	if (!a.quiet) {
		fl_cli_progress_start(&pg, fl_cli_now());
		a.train.progress = train_progress;
		a.train.progress_arg = &pg;
	}
	/* The rows are split and standardised in place: stored once. */
	if ((r = fl_train_rows(s, rows, &a.train, &m, &tr)) != 0)
		goto out;
	if (tr.n_grid > 0) {
		printf("%-10s %16s %10s\n", "l2", "valid log-loss", "valid AUC");
		for (size_t g = 0; g < tr.n_grid; g++)
			printf("%-10g %16.6f %10.4f%s\n", tr.grid[g].l2, tr.grid[g].valid_log_loss,
			       tr.grid[g].valid_auc, tr.grid[g].l2 == tr.l2 ? "  <- chosen" : "");
		if (tr.cv == FL_CV_APPROX)
			printf("cross-validation: approximate (each fold's model one Newton "
			       "step from the fit on all rows)\n");
		else if (tr.cv == FL_CV_EXACT)
			printf("cross-validation: exact (every fold fitted)\n");
	}
	print_fit(&a, &tr);
	fl_node_print_metrics("training", &tr.train);
	if (tr.valid.rows > 0)
		fl_node_print_metrics("validation", &tr.valid);
	if ((r = fl_model_save(m, a.out)) != 0)
		goto out;
	printf("model written to %s\n", a.out);
out:
	fl_model_free(m);
	fl_rowset_free(rows);
	fl_schema_free(s);
	return r ? fl_node_fail(r) : 0;
}
