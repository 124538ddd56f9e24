/*
 * The options fedlead-node's schema, check, train and cache commands share
 * (node_int.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/node_int.h"
#include "cli/pg_options.h"
#include "fedlead/cli.h"
#include "fedlead/error.h"
#include "fedlead/mapping.h"
#include "fedlead/parallel.h"
#include "fedlead/pg.h"

enum {
	OPT_SCHEMA = 256,
	OPT_DATA,
	OPT_OUT,
	OPT_LABEL,
	OPT_ID,
	OPT_MAX_LEVELS,
	OPT_BAD_ROWS,
	OPT_L2,
	OPT_SOLVER,
	OPT_VSPLIT,
	OPT_CLASS_WEIGHT,
	OPT_SEED,
	OPT_QUIET,
	OPT_HELP,
	OPT_VERSION,
	OPT_CACHE,
	OPT_DELIMITER,
	OPT_ENCODING,
	OPT_POSITIVE,
	OPT_NO_LABEL,
	OPT_DECIMAL,
	OPT_THOUSANDS,
	OPT_CURRENCY,
	OPT_MAPPING,
	OPT_THREADS,
	OPT_QUERY,
	OPT_KEY,
	OPT_CV
};

static const struct option long_opts[] = {
        {"schema", required_argument, NULL, OPT_SCHEMA},
        {"data", required_argument, NULL, OPT_DATA},
        {"out", required_argument, NULL, OPT_OUT},
        {"label", required_argument, NULL, OPT_LABEL},
        {"id", required_argument, NULL, OPT_ID},
        {"max-levels", required_argument, NULL, OPT_MAX_LEVELS},
        {"bad-rows", required_argument, NULL, OPT_BAD_ROWS},
        {"l2", required_argument, NULL, OPT_L2},
        {"solver", required_argument, NULL, OPT_SOLVER},
        {"validation-split", required_argument, NULL, OPT_VSPLIT},
        {"cv", required_argument, NULL, OPT_CV},
        {"class-weight", required_argument, NULL, OPT_CLASS_WEIGHT},
        {"seed", required_argument, NULL, OPT_SEED},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {"cache", required_argument, NULL, OPT_CACHE},
        {"delimiter", required_argument, NULL, OPT_DELIMITER},
        {"encoding", required_argument, NULL, OPT_ENCODING},
        {"positive", required_argument, NULL, OPT_POSITIVE},
        {"no-label", no_argument, NULL, OPT_NO_LABEL},
        {"decimal", required_argument, NULL, OPT_DECIMAL},
        {"thousands", required_argument, NULL, OPT_THOUSANDS},
        {"currency", required_argument, NULL, OPT_CURRENCY},
        {"mapping", required_argument, NULL, OPT_MAPPING},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"query", required_argument, NULL, OPT_QUERY},
        {"key", required_argument, NULL, OPT_KEY},
        {NULL, 0, NULL, 0},
};

/* Returns 0 or a negative FL_ERR_* with the message. */
static int parse(int argc, char **argv, struct fl_node_args *o)
{
	int c, r, li = 0;

	opterr = 0;
	optind = 0; /* 0, not 1: a full restart (see cli.c) */
	while ((c = getopt_long(argc, argv, ":", long_opts, &li)) != -1) {
		switch (c) {
		case OPT_SCHEMA: o->schema = optarg; break;
		case OPT_DATA: o->data = optarg; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_LABEL: o->label = optarg; break;
		case OPT_ID: o->id = optarg; break;
		case OPT_QUIET: o->quiet = 1; break;
		case OPT_CACHE: o->cache = optarg; break;
		case OPT_POSITIVE: o->positive = optarg; break;
		case OPT_NO_LABEL: o->no_label = 1; break;
		case OPT_MAPPING: o->mapping = optarg; break;
		case OPT_QUERY: o->query = optarg; break;
		case OPT_KEY: o->key = optarg; break;
		case OPT_DELIMITER:
		case OPT_ENCODING:
		case OPT_DECIMAL:
		case OPT_THOUSANDS:
		case OPT_CURRENCY:
			if ((r = fl_cli_dialect_option(long_opts[li].name, optarg, &o->dialect,
			                               &o->dialect_set)) != 0)
				return r;
			break;
		case OPT_MAX_LEVELS:
			if ((r = fl_cli_u64("--max-levels", optarg, &o->max_levels)) != 0)
				return r;
			break;
		case OPT_BAD_ROWS:
			if ((r = fl_cli_bad_rows(optarg, &o->bad_rows)) != 0)
				return r;
			break;
		case OPT_L2:
			if (strcmp(optarg, "auto") == 0)
				o->train.l2_auto = 1;
			else if ((r = fl_cli_double("--l2", optarg, &o->train.l2)) != 0)
				return r;
			else if (o->train.l2 < 0)
				return fl_fail(FL_ERR_INVALID,
				               "--l2: must be at least 0 or \"auto\"");
			break;
		case OPT_SOLVER:
			if (fl_solver_parse(optarg, &o->train.solver) != 0)
				return fl_fail(FL_ERR_INVALID,
				               "--solver: \"%s\" is not newton, lbfgs or sgd",
				               optarg);
			break;
		case OPT_CV:
			if (fl_cv_mode_parse(optarg, &o->train.cv) != 0)
				return fl_fail(FL_ERR_INVALID,
				               "--cv: \"%s\" is not auto, exact or approx", optarg);
			break;
		case OPT_VSPLIT:
			if ((r = fl_cli_double("--validation-split", optarg,
			                       &o->train.valid_frac)) != 0)
				return r;
			if (!(o->train.valid_frac >= 0 && o->train.valid_frac < 1))
				return fl_fail(FL_ERR_INVALID,
				               "--validation-split: must be from 0 up "
				               "to (not including) 1");
			break;
		case OPT_CLASS_WEIGHT:
			if (strcmp(optarg, "balanced") == 0)
				o->train.pos_weight = 0;
			else if ((r = fl_cli_double("--class-weight", optarg,
			                            &o->train.pos_weight)) != 0)
				return r;
			else if (!(o->train.pos_weight > 0))
				return fl_fail(FL_ERR_INVALID,
				               "--class-weight: must be positive or "
				               "\"balanced\"");
			break;
		case OPT_THREADS:
			if ((r = fl_threads_parse("--threads", optarg, &o->train.threads)) != 0)
				return r;
			break;
		case OPT_SEED:
			if ((r = fl_cli_u64("--seed", optarg, &o->train.seed)) != 0)
				return r;
			break;
		default:
			/* --help and --version never get here: the dispatcher
			 * answers them first (see fl_cli_dispatch). */
			return fl_cli_bad_option(c, argv);
		}
	}
	return 0;
}

int fl_node_args_parse(int argc, char **argv, struct fl_node_args *a)
{
	int r;

	memset(a, 0, sizeof(*a));
	fl_train_opts_default(&a->train);
	if ((r = parse(argc, argv, a)) != 0)
		return fl_node_fail(r);
	if (optind != argc) {
		fprintf(stderr, "%s %s: unexpected argument \"%s\"\n", FL_NODE_PROG, argv[0],
		        argv[optind]);
		return FL_EXIT_USAGE;
	}
	if ((r = fl_cli_data_query(&a->data, a->query, a->key)) != 0)
		return fl_node_fail(r);
	return 0;
}

int fl_node_args_require(const char *value, const char *opt, const char *cmd)
{
	if (value != NULL)
		return 0;
	fprintf(stderr, "%s %s: %s is required (see --help)\n", FL_NODE_PROG, cmd, opt);
	return FL_EXIT_USAGE;
}

void fl_node_args_dialect(const struct fl_node_args *a, struct fl_schema *s)
{
	fl_csv_dialect_merge(&s->dialect, &a->dialect, a->dialect_set);
}

int fl_node_load_schema(const struct fl_node_args *a, struct fl_schema **s)
{
	int r;

	if ((r = fl_schema_load(a->schema, s)) != 0)
		return r;
	fl_node_args_dialect(a, *s);
	if (a->mapping != NULL && (r = fl_mapping_load(a->mapping, &(*s)->mapping)) == 0)
		r = fl_mapping_check_schema((*s)->mapping, *s);
	if (r != 0) {
		fl_schema_free(*s);
		*s = NULL;
	}
	return r;
}

int fl_node_fail(int err)
{
	fl_cli_error(FL_NODE_PROG, err);
	return fl_cli_exit_code(err);
}

void fl_node_print_metrics(const char *what, const struct fl_metric_set *m)
{
	printf("%-11s %8llu leads, %6llu converted, AUC %.4f, log-loss %.5f\n", what,
	       (unsigned long long)m->rows, (unsigned long long)m->positives, m->auc, m->log_loss);
}
