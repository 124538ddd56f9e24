/*
 * fedlead-node cache: converts a lead CSV once into a binary column cache
 * that train --cache streams from disk, for data larger than memory.
 */
#include <stdio.h>

#include "cli/node_int.h"
#include "fedlead/cache.h"
#include "fedlead/cli.h"
#include "fedlead/commands.h"
#include "fedlead/schema.h"

int fl_cmd_node_cache(int argc, char **argv)
{
	struct fl_node_args a;
	struct fl_schema *s = NULL;
	struct fl_load_report rep;
	int r;

	if ((r = fl_node_args_parse(argc, argv, &a)) != 0 ||
	    (r = fl_node_args_require(a.schema, "--schema", "cache")) != 0 ||
	    (r = fl_node_args_require(a.data, "--data", "cache")) != 0 ||
	    (r = fl_node_args_require(a.out, "--out", "cache")) != 0)
		return r;
	fl_cli_read_progress(FL_NODE_PROG, "cache", !a.quiet);
	if ((r = fl_node_load_schema(&a, &s)) != 0 ||
	    (r = fl_cache_convert(s, a.data, a.out, a.bad_rows, &rep)) != 0)
		goto out;
	if (!a.quiet)
		fl_cli_load_notices(FL_NODE_PROG, a.data, &rep);
	printf("%s: %llu rows x %zu columns cached in %s\n", a.data, (unsigned long long)rep.rows,
	       s->dim, a.out);
out:
	fl_schema_free(s);
	return r ? fl_node_fail(r) : 0;
}
