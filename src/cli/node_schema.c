/*
 * fedlead-node schema: drafts a lead schema from a CSV for a person to
 * review.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/node_int.h"
#include "cli/node_schema_round.h"
#include "fedlead/cli.h"
#include "fedlead/commands.h"
#include "fedlead/mapping.h"
#include "fedlead/schema.h"

int fl_cmd_node_schema(int argc, char **argv)
{
	struct fl_node_args a;
	struct fl_schema_draft_opts o;
	struct fl_mapping *m = NULL;
	char *json = NULL, *table = NULL;
	FILE *fp;
	int r;

	if (fl_node_schema_sub(argc, argv, &r))
		return r;
	if ((r = fl_node_args_parse(argc, argv, &a)) != 0 ||
	    (r = fl_node_args_require(a.data, "--data", "schema")) != 0 ||
	    (r = fl_node_args_require(a.label, "--label", "schema")) != 0)
		return r;
	fl_cli_read_progress(FL_NODE_PROG, "schema", !a.quiet);
	o = (struct fl_schema_draft_opts){.transforms = 1,
	                                  .label = a.label,
	                                  .id = a.id,
	                                  .positive = a.positive,
	                                  .max_levels = a.max_levels,
	                                  .dialect = a.dialect,
	                                  .table = a.quiet ? NULL : &table};
	if (a.mapping != NULL && (r = fl_mapping_load(a.mapping, &m)) != 0)
		return fl_node_fail(r);
	o.mapping = m;
	r = fl_schema_draft_opts(a.data, &o, &json);
	fl_mapping_free(m);
	if (r != 0)
		return fl_node_fail(r);
	/* What the draft decided and why, for the person who reviews it; on
	 * stderr, so that the schema alone goes to stdout. */
	if (table != NULL)
		fputs(table, stderr);
	free(table);
	fp = a.out ? fopen(a.out, "w") : stdout;
	if (fp == NULL) {
		perror(a.out);
		free(json);
		return FL_EXIT_FAILURE;
	}
	fprintf(fp, "%s\n", json);
	free(json);
	if (a.out && fclose(fp) != 0) {
		perror(a.out);
		return FL_EXIT_FAILURE;
	}
	if (a.out)
		fprintf(stderr,
		        "%s: drafted %s: review every feature before partners agree on it\n",
		        FL_NODE_PROG, a.out);
	return 0;
}
