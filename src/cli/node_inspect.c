/*
 * fedlead-node inspect: prints a model's drivers and provenance.
 */
#include <stdio.h>

#include "cli/node_int.h"
#include "fedlead/cli.h"
#include "fedlead/commands.h"
#include "fedlead/model.h"
#include "fedlead/score.h"

int fl_cmd_node_inspect(int argc, char **argv)
{
	struct fl_model *m = NULL;
	int r;

	if (argc != 2) {
		fprintf(stderr, "%s inspect: expects one model file\n", FL_NODE_PROG);
		return FL_EXIT_USAGE;
	}
	if ((r = fl_model_load(argv[1], &m)) != 0)
		return fl_node_fail(r);
	r = fl_score_explain(m, stdout, 10);
	if (r != 0)
		r = fl_node_fail(r);
	fl_model_free(m);
	return r;
}
