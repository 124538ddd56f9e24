/*
 * fedlead-node check: validates a lead file against a schema and summarises
 * each column.
 */
#include <stdio.h>

#include "cli/node_int.h"
#include "fedlead/cli.h"
#include "fedlead/commands.h"
#include "fedlead/schema.h"

static void print_column_summary(const struct fl_schema *s, const struct fl_stats *st)
{
	printf("%-24s %-12s %10s  %s\n", "column", "type", "missing", "summary");
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t j = f->enc_offset;

		if (f->type == FL_NUMERIC) {
			double present = st->count[j];
			double missing = st->rows - present;

			printf("%-24s %-12s %10.0f  ", f->name, "numeric", missing);
			if (present > 0)
				printf("min %.6g  max %.6g  mean %.6g\n", st->min[j], st->max[j],
				       st->sum[j] / present);
			else
				printf("(no values)\n");
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

int fl_cmd_node_check(int argc, char **argv)
{
	struct fl_node_args a;
	struct fl_schema *s = NULL;
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	char fp_hex[65];
	int r;

	if ((r = fl_node_args_parse(argc, argv, &a)) != 0 ||
	    (r = fl_node_args_require(a.schema, "--schema", "check")) != 0 ||
	    (r = fl_node_args_require(a.data, "--data", "check")) != 0)
		return r;
	if ((r = fl_schema_load(a.schema, &s)) != 0)
		return fl_node_fail(r);
	if ((r = fl_dataset_load(s, a.data, a.bad_rows, &ds, &rep)) != 0) {
		fl_schema_free(s);
		return fl_node_fail(r);
	}
	fl_cli_load_notices(FL_NODE_PROG, a.data, &rep);
	fl_schema_fingerprint_hex(s, fp_hex);
	printf("%s: %llu rows valid against %s (fingerprint %.16s...)\n", a.data,
	       (unsigned long long)rep.rows, a.schema, fp_hex);
	printf("label %s: %.0f converted (%s), %.0f not converted (%s): %.2f %% converted\n",
	       s->label, ds->stats->positives, s->positive, ds->stats->rows - ds->stats->positives,
	       s->negative, 100.0 * ds->stats->positives / ds->stats->rows);
	print_column_summary(s, ds->stats);
	fl_dataset_free(ds);
	fl_schema_free(s);
	return 0;
}
