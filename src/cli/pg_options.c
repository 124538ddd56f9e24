/*
 * --data with --query: PostgreSQL as a lead source; see pg_options.h.
 */
#include "cli/pg_options.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/node_config.h"
#include "fedlead/pg.h"

int fl_cli_data_query(const char **data, const char *query, const char *key)
{
	if (query == NULL) {
		if (key != NULL)
			return fl_fail(FL_ERR_INVALID, "--key: only with --query (it names the "
			                               "column that names a row of the query)");
		if (*data != NULL && fl_pg_is_uri(*data))
			return fl_fail(FL_ERR_INVALID,
			               "--data: a PostgreSQL connection string needs --query (the "
			               "SELECT whose rows are the leads)");
		return 0;
	}
	if (*data == NULL)
		return fl_fail(FL_ERR_INVALID,
		               "--query: needs --data, the PostgreSQL connection string");
	return fl_pg_source_register(*data, query, key, data);
}

int fl_cli_node_query(struct fl_node_config *c)
{
	const char *name = c->data;
	char *copy;
	int r;

	if ((r = fl_cli_data_query(&name, c->query, c->query_key)) != 0 || name == c->data)
		return r;
	if ((copy = strdup(name)) == NULL)
		return FL_ERR_NOMEM;
	free(c->data);
	c->data = copy;
	return 0;
}

int fl_cli_pg_option(int c, const char *arg, struct fl_cli_pg *p)
{
	switch (c) {
	case FL_CLI_PG_OPT_QUERY: p->query = arg; return 1;
	case FL_CLI_PG_OPT_KEY: p->key = arg; return 1;
	case FL_CLI_PG_OPT_TABLE: p->table = arg; return 1;
	case FL_CLI_PG_OPT_CREATE: p->sink_flags |= FL_PG_SINK_CREATE; return 1;
	case FL_CLI_PG_OPT_REPLACE: p->sink_flags |= FL_PG_SINK_REPLACE; return 1;
	default: return 0;
	}
}

int fl_cli_pg_prepare(struct fl_cli_pg *p, const char **data, const char **out, const char *tmpdir)
{
	int r;

	if ((r = fl_cli_data_query(data, p->query, p->key)) != 0)
		return r;
	if (p->table == NULL) {
		if (p->sink_flags != 0)
			return fl_fail(FL_ERR_INVALID, "--create-table and --replace need --table");
		if (*out != NULL && fl_pg_is_uri(*out))
			return fl_fail(FL_ERR_INVALID,
			               "--out: a PostgreSQL connection string needs --table (the "
			               "table the scores go to)");
		return 0;
	}
	if (*out == NULL)
		return fl_fail(FL_ERR_INVALID,
		               "--table: needs --out, the PostgreSQL connection string");
	if ((r = fl_pg_sink_new(*out, p->table, p->sink_flags, tmpdir, &p->sink)) != 0)
		return r;
	*out = fl_pg_sink_path(p->sink);
	return 0;
}

int fl_cli_pg_commit(struct fl_cli_pg *p, const char *prog, const char **out, int quiet)
{
	uint64_t rows;
	int r;

	if (p->sink == NULL)
		return 0;
	if ((r = fl_pg_sink_commit(p->sink, &rows)) != 0)
		return r;
	if (!quiet)
		fprintf(stderr, "%s: wrote %llu scores to %s (%s)\n", prog,
		        (unsigned long long)rows, p->table, fl_pg_sink_name(p->sink));
	*out = NULL;
	return 0;
}

void fl_cli_pg_free(struct fl_cli_pg *p)
{
	fl_pg_sink_free(p->sink);
	p->sink = NULL;
}
