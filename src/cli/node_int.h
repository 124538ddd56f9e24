/*
 * What fedlead-node's schema, check, train and cache commands share: one set
 * of options (each command takes them all and uses its own), the checks of
 * required options and the printing of errors under the program's name.
 */
#ifndef FEDLEAD_CLI_NODE_INT_H
#define FEDLEAD_CLI_NODE_INT_H

#include <stdint.h>

#include "fedlead/csv.h"
#include "fedlead/encode.h"
#include "fedlead/metrics.h"
#include "fedlead/train.h"

#define FL_NODE_PROG "fedlead-node"

struct fl_node_args {
	const char *schema, *data, *out, *label, *id, *cache;
	const char *positive; /* schema --positive */
	uint64_t max_levels;
	enum fl_bad_rows bad_rows;
	struct fl_train_opts train;
	int quiet;
	int no_label; /* check --no-label */
	/* --delimiter, --encoding, --decimal, --thousands, --currency, each
	 * only when given (its FL_DIALECT_* bit in dialect_set): they overwrite
	 * what the schema says, which stays otherwise. */
	struct fl_csv_dialect dialect;
	unsigned dialect_set;
	const char *mapping; /* --mapping: this partner's column mapping (mapping.h) */
	/* --query: --data is a PostgreSQL connection string and the rows are
	 * this query's (pg.h); data is then the connection's display name.
	 * --key: the column naming a row in messages (default: the first). */
	const char *query, *key;
};

/*
 * Parses the options of a command (argv[0] is its name) into *a, from the
 * defaults. Returns 0, or the exit code after printing the error once
 * ("fedlead-node: --l2: \"abc\" is not a number", "fedlead-node train:
 * unexpected argument \"x\"").
 */
int fl_node_args_parse(int argc, char **argv, struct fl_node_args *a);

/* 0 when value is set; otherwise prints "fedlead-node CMD: OPT is required
 * (see --help)" and returns FL_EXIT_USAGE. */
int fl_node_args_require(const char *value, const char *opt, const char *cmd);

/* Overwrites s's dialect with the dialect options given. */
void fl_node_args_dialect(const struct fl_node_args *a, struct fl_schema *s);

/* fl_schema_load() of --schema, then fl_node_args_dialect() and the
 * --mapping file (fl_mapping_load(), owned by *s from then on). */
int fl_node_load_schema(const struct fl_node_args *a, struct fl_schema **s);

/* Prints "fedlead-node: MESSAGE" for err and returns its exit code. */
int fl_node_fail(int err);

/* One line of training or validation metrics. */
void fl_node_print_metrics(const char *what, const struct fl_metric_set *m);

#endif
