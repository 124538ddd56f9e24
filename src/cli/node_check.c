/*
 * fedlead-node check: validates a lead file against a schema and summarises
 * each column; --no-label validates an export of open leads, which has no
 * outcome yet.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/node_int.h"
#include "fedlead/cli.h"
#include "fedlead/commands.h"
#include "fedlead/error.h"
#include "fedlead/rows.h"
#include "fedlead/schema.h"
#include "fedlead/spline.h"

static void print_column_summary(const struct fl_schema *s, const struct fl_stats *st)
{
	printf("%-24s %-12s %10s  %s\n", "column", "type", "missing", "summary");
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t j = f->enc_offset;

		/* A date is summarised by its age in days. */
		if (f->type == FL_NUMERIC || f->type == FL_DATE) {
			size_t nb = fl_spline_basis_width(f);
			double present = st->count[j], special = 0;
			int log1p = f->transform == FL_TRANSFORM_LOG1P;

			/* A special value is an answer, not a missing one: it has
			 * its own indicator column after the basis (check_rows
			 * reads block features with their knots unplaced, so
			 * column j holds the raw value of the other leads). */
			for (size_t k = 0; k < f->n_special; k++)
				special += st->sum[j + nb + k];
			printf("%-24s %-12s %10.0f  ", f->name,
			       f->type == FL_DATE ? "date" : "numeric",
			       st->rows - present - special);
			if (present > 0 && log1p)
				printf("min %.6g  max %.6g  mean of log1p %.6g", expm1(st->min[j]),
				       expm1(st->max[j]), st->sum[j] / present);
			else if (present > 0)
				printf("%smin %.6g  max %.6g  mean %.6g",
				       f->type == FL_DATE ? "age days " : "", st->min[j],
				       st->max[j], st->sum[j] / present);
			else
				printf("(no values)");
			for (size_t k = 0; k < f->n_special; k++)
				printf("%s%.6g (special)=%.0f", present > 0 || k ? ", " : "  ",
				       f->special[k], st->sum[j + nb + k]);
			printf("\n");
			continue;
		}
		printf("%-24s %-12s %10s  ", f->name, "categorical", "-");
		for (size_t k = 0; k < f->enc_width; k++) {
			if (k == 6 && f->enc_width > 8) {
				printf("... (%zu values)", f->enc_width);
				break;
			}
			printf("%s%s=%.0f", k ? ", " : "",
			       k < f->n_values ? f->values[k] : "(other)", st->sum[j + k]);
		}
		printf("\n");
	}
}

/*
 * The summary describes the export's values, not their spline or bin
 * columns: without knots the encoder leaves a block's first column holding
 * the clipped value itself (as it does before knots are placed from the
 * data). Knots change no validation, and the fingerprint is taken before.
 */
static void unplace_knots(struct fl_schema *s)
{
	for (size_t i = 0; i < s->n_features; i++) {
		struct fl_feature *f = &s->features[i];

		if (fl_spline_is_block(f)) {
			free(f->knots);
			f->knots = NULL;
		}
	}
}

/*
 * Reads every row once, in memory that does not grow with the file: the
 * summary needs the column statistics, not the rows.
 */
static int check_rows(const struct fl_schema *s, const struct fl_node_args *a,
                      struct fl_load_report *rep, struct fl_stats **out)
{
	struct fl_rows *rows = NULL;
	struct fl_stats *st = NULL;
	double *x = NULL, label = 0;
	int r;

	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	if ((x = malloc(s->dim * sizeof(*x))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if ((r = fl_stats_new(s->dim, &st)) != 0 ||
	    (r = fl_rows_open(s, a->data, !a->no_label, a->bad_rows, rep, &rows)) != 0)
		goto out;
	while ((r = fl_rows_next(rows, x, &label, NULL)) == 1) {
		fl_stats_add(st, x, a->no_label ? 0 : label);
		rep->rows++;
	}
	if (r < 0)
		goto out;
	/* An empty export is an error here as for training and scoring. */
	if (rep->rows == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no usable data rows", a->data);
		goto out;
	}
	*out = st;
	st = NULL;
out:
	fl_rows_close(rows);
	fl_stats_free(st);
	free(x);
	return r;
}

int fl_cmd_node_check(int argc, char **argv)
{
	struct fl_node_args a;
	struct fl_schema *s = NULL;
	struct fl_stats *st = NULL;
	struct fl_load_report rep;
	char fp_hex[65];
	int r;

	if ((r = fl_node_args_parse(argc, argv, &a)) != 0 ||
	    (r = fl_node_args_require(a.schema, "--schema", "check")) != 0 ||
	    (r = fl_node_args_require(a.data, "--data", "check")) != 0)
		return r;
	fl_cli_read_progress(FL_NODE_PROG, "check", !a.quiet);
	if ((r = fl_node_load_schema(&a, &s)) != 0)
		goto out;
	fl_schema_fingerprint_hex(s, fp_hex);
	unplace_knots(s);
	if ((r = check_rows(s, &a, &rep, &st)) != 0)
		goto out;
	fl_cli_load_notices(FL_NODE_PROG, a.data, &rep);
	printf("%s: %llu rows valid against %s (fingerprint %.16s...)%s\n", a.data,
	       (unsigned long long)rep.rows, a.schema, fp_hex,
	       a.no_label ? ", label not checked (--no-label)" : "");
	if (!a.no_label)
		printf("label %s: %.0f converted (%s), %.0f not converted (%s): %.2f %% "
		       "converted\n",
		       s->label, st->positives, s->positive, st->rows - st->positives, s->negative,
		       100.0 * st->positives / st->rows);
	print_column_summary(s, st);
out:
	fl_stats_free(st);
	fl_schema_free(s);
	return r ? fl_node_fail(r) : 0;
}
