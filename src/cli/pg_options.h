/*
 * The options that make PostgreSQL a lead source or a score sink
 * (--query, --key; --table, --create-table, --replace), shared by
 * fedlead-node's commands and fedlead-score.
 */
#ifndef FEDLEAD_CLI_PG_OPTIONS_H
#define FEDLEAD_CLI_PG_OPTIONS_H

/*
 * With query set, *data is a PostgreSQL connection string: registers the
 * query as a record source (fl_pg_source_register()) and replaces *data with
 * its display name, which the library opens as the query and messages print
 * without a password. Without a query, a *data that is a postgresql:// URI
 * is FL_ERR_INVALID "--data: a PostgreSQL connection string needs --query
 * (the SELECT whose rows are the leads)", and so is a key without a query.
 */
int fl_cli_data_query(const char **data, const char *query, const char *key);

struct fl_node_config;
/* The node's [node] query (join, schema propose and approve): data becomes
 * the query's source, named without its password wherever the node
 * prints it (fl_cli_data_query()); nothing without a query. */
int fl_cli_node_query(struct fl_node_config *c);

#include <getopt.h>

struct fl_pg_sink;

/* The PostgreSQL options of fedlead-score. */
struct fl_cli_pg {
	const char *query, *key, *table;
	unsigned sink_flags; /* FL_PG_SINK_CREATE (--create-table), _REPLACE (--replace) */
	struct fl_pg_sink *sink;
};

enum {
	FL_CLI_PG_OPT_QUERY = 2000,
	FL_CLI_PG_OPT_KEY,
	FL_CLI_PG_OPT_TABLE,
	FL_CLI_PG_OPT_CREATE,
	FL_CLI_PG_OPT_REPLACE
};

/* Their getopt_long() entries, for a command's table. */
#define FL_CLI_PG_LONG_OPTIONS                                                                     \
	{"query", required_argument, NULL, FL_CLI_PG_OPT_QUERY},                                   \
	        {"key", required_argument, NULL, FL_CLI_PG_OPT_KEY},                               \
	        {"table", required_argument, NULL, FL_CLI_PG_OPT_TABLE},                           \
	        {"create-table", no_argument, NULL, FL_CLI_PG_OPT_CREATE},                         \
	{                                                                                          \
		"replace", no_argument, NULL, FL_CLI_PG_OPT_REPLACE                                \
	}

/* The --help lines of those options, in fedlead-score's layout. */
#define FL_CLI_PG_USAGE                                                                            \
	"--query SELECT  with it --data is a PostgreSQL connection string (libpq's;\n"             \
	"            passwords from PGPASSFILE or the service file) and the leads are\n"           \
	"            the query's rows\n"                                                           \
	"--key COLUMN  the query's column that names a row in messages (default: the\n"            \
	"            first)\n"                                                                     \
	"--table NAME  with it --out is a PostgreSQL connection string and the scores\n"           \
	"            go into this table with COPY, all rows or none; --create-table\n"             \
	"            creates it, --replace replaces its rows\n"

/* 1 when c is one of those options (taken into *p), else 0. */
int fl_cli_pg_option(int c, const char *arg, struct fl_cli_pg *p);

/*
 * After the options: registers --query (fl_cli_data_query()) and, with
 * --table, makes *out a PostgreSQL score sink (the scorer writes to a
 * temporary file, *out from then on). --table without --out, or --out a
 * postgresql:// URI without --table, is FL_ERR_INVALID.
 */
int fl_cli_pg_prepare(struct fl_cli_pg *p, const char **data, const char **out, const char *tmpdir);

/* After a successful scoring: copies the scores into the table, prints
 * "PROG: wrote N scores to TABLE (NAME)" unless quiet, and sets *out to
 * NULL (nothing else to report). 0 without a sink. */
int fl_cli_pg_commit(struct fl_cli_pg *p, const char *prog, const char **out, int quiet);

void fl_cli_pg_free(struct fl_cli_pg *p);

#endif
