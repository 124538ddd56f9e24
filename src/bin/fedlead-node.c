/*
 * fedlead-node: runs at a partner's site. Drafts and checks lead schemas,
 * validates lead exports and trains local models.
 */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedlead/cache.h"
#include "fedlead/cli.h"
#include "fedlead/config.h"
#include "fedlead/log.h"
#include "fedlead/client.h"
#include "fedlead/wire.h"
#include <openssl/ssl.h>
#include <stddef.h>
#include "fedlead/error.h"
#include "fedlead/metrics.h"
#include "fedlead/schema.h"
#include "fedlead/score.h"
#include "fedlead/train.h"

static const char *prog = "fedlead-node";

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: fedlead-node schema --data LEADS.csv --label COLUMN [--id COLUMN]\n"
		"                           [--max-levels N] [--out SCHEMA.json]\n"
		"       fedlead-node check --schema SCHEMA.json --data LEADS.csv [--bad-rows fail|skip]\n"
		"       fedlead-node train --schema SCHEMA.json --data LEADS.csv --out MODEL.fdl\n"
		"                          [--l2 LAMBDA|auto] [--solver newton|lbfgs|sgd]\n"
		"                          [--validation-split FRACTION] [--class-weight W|balanced]\n"
		"                          [--seed N] [--bad-rows fail|skip] [--quiet]\n"
		"       fedlead-node cache --schema SCHEMA.json --data LEADS.csv --out LEADS.flc\n"
		"                          [--bad-rows fail|skip] [--quiet]\n"
		"       fedlead-node train --schema SCHEMA.json --cache LEADS.flc --out MODEL.fdl\n"
		"                          [--l2 LAMBDA] [--solver newton|lbfgs]\n"
		"                          [--class-weight W|balanced] [--quiet]\n"
		"       fedlead-node inspect MODEL.fdl\n"
		"       fedlead-node join [--config NODE.conf] [--SETTING VALUE]... [--check]\n"
		"       fedlead-node --version | --help\n"
		"\n"
		"schema   drafts a lead schema from a CSV for a person to review\n"
		"check    validates a lead file against a schema and summarises each column\n"
		"train    trains a local-only conversion model and prints its metrics\n"
		"cache    converts a lead CSV once into a binary cache that train --cache\n"
		"         streams from disk, for data larger than memory\n"
		"inspect  prints a model's drivers and provenance\n"
		"join     takes part in a federation (see fedlead-node join --help)\n"
		"\n"
		"Exit status: 0 success, 1 runtime failure, 2 bad usage or bad input.\n");
}

static int fail(int err)
{
	fl_cli_error(prog, err);
	return fl_cli_exit_code(err);
}

struct opts {
	const char *schema, *data, *out, *label, *id, *cache;
	uint64_t max_levels;
	enum fl_bad_rows bad_rows;
	struct fl_train_opts train;
	int quiet;
};

enum { OPT_SCHEMA = 256, OPT_DATA, OPT_OUT, OPT_LABEL, OPT_ID, OPT_MAX_LEVELS, OPT_BAD_ROWS,
       OPT_L2, OPT_SOLVER, OPT_VSPLIT, OPT_CLASS_WEIGHT, OPT_SEED, OPT_QUIET, OPT_HELP,
       OPT_VERSION, OPT_CACHE };

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
	{"class-weight", required_argument, NULL, OPT_CLASS_WEIGHT},
	{"seed", required_argument, NULL, OPT_SEED},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{"cache", required_argument, NULL, OPT_CACHE},
	{NULL, 0, NULL, 0},
};

/*
 * getopt's own messages name argv[0], which for a subcommand is the command
 * ("train: unrecognized option"), so they are turned off (opterr = 0, a
 * leading ':' in the option string) and reported here under the program's
 * name. c is '?' (unknown or ambiguous) or ':' (value missing).
 */
static int bad_option(int c, char **argv)
{
	char shortopt[3] = {'-', (char)optopt, '\0'};
	const char *text = optopt > 0 && optopt < 128 ? shortopt : argv[optind - 1];

	if (c == ':')
		fprintf(stderr, "%s: option \"%s\" needs a value (see --help)\n", prog, text);
	else
		fprintf(stderr, "%s: unrecognized option \"%s\" (see --help)\n", prog, text);
	return FL_EXIT_USAGE;
}

/* Returns 0, or an exit code when the program should stop. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_SCHEMA: o->schema = optarg; break;
		case OPT_DATA: o->data = optarg; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_LABEL: o->label = optarg; break;
		case OPT_ID: o->id = optarg; break;
		case OPT_QUIET: o->quiet = 1; break;
		case OPT_CACHE: o->cache = optarg; break;
		case OPT_MAX_LEVELS:
			if (fl_cli_u64(prog, "--max-levels", optarg, &o->max_levels) != 0)
				return FL_EXIT_USAGE;
			break;
		case OPT_BAD_ROWS:
			if (fl_cli_bad_rows(prog, optarg, &o->bad_rows) != 0)
				return FL_EXIT_USAGE;
			break;
		case OPT_L2:
			if (strcmp(optarg, "auto") == 0)
				o->train.l2_auto = 1;
			else if (fl_cli_double(prog, "--l2", optarg, &o->train.l2) != 0)
				return FL_EXIT_USAGE;
			else if (o->train.l2 < 0) {
				fprintf(stderr, "%s: --l2: must be at least 0 or \"auto\"\n", prog);
				return FL_EXIT_USAGE;
			}
			break;
		case OPT_SOLVER:
			if (fl_solver_parse(optarg, &o->train.solver) != 0) {
				fprintf(stderr, "%s: --solver: \"%s\" is not newton, lbfgs or sgd\n",
					prog, optarg);
				return FL_EXIT_USAGE;
			}
			break;
		case OPT_VSPLIT:
			if (fl_cli_double(prog, "--validation-split", optarg,
					  &o->train.valid_frac) != 0)
				return FL_EXIT_USAGE;
			if (!(o->train.valid_frac >= 0 && o->train.valid_frac < 1)) {
				fprintf(stderr, "%s: --validation-split: must be from 0 up to (not "
						"including) 1\n", prog);
				return FL_EXIT_USAGE;
			}
			break;
		case OPT_CLASS_WEIGHT:
			if (strcmp(optarg, "balanced") == 0)
				o->train.pos_weight = 0;
			else if (fl_cli_double(prog, "--class-weight", optarg,
					       &o->train.pos_weight) != 0)
				return FL_EXIT_USAGE;
			else if (!(o->train.pos_weight > 0)) {
				fprintf(stderr, "%s: --class-weight: must be positive or "
						"\"balanced\"\n", prog);
				return FL_EXIT_USAGE;
			}
			break;
		case OPT_SEED:
			if (fl_cli_u64(prog, "--seed", optarg, &o->train.seed) != 0)
				return FL_EXIT_USAGE;
			break;
		default:
			return bad_option(c, argv);
		}
	}
	return 0;
}

static int require(const char *value, const char *opt, const char *cmd)
{
	if (value != NULL)
		return 0;
	fprintf(stderr, "%s %s: %s is required (see --help)\n", prog, cmd, opt);
	return FL_EXIT_USAGE;
}

static int cmd_schema(struct opts *o)
{
	char *json = NULL;
	FILE *fp;
	int r;

	if ((r = require(o->data, "--data", "schema")) || (r = require(o->label, "--label", "schema")))
		return r;
	if ((r = fl_schema_draft(o->data, o->label, o->id, o->max_levels, &json)) != 0)
		return fail(r);
	fp = o->out ? fopen(o->out, "w") : stdout;
	if (fp == NULL) {
		perror(o->out);
		free(json);
		return FL_EXIT_FAILURE;
	}
	fprintf(fp, "%s\n", json);
	free(json);
	if (o->out && fclose(fp) != 0) {
		perror(o->out);
		return FL_EXIT_FAILURE;
	}
	if (o->out)
		fprintf(stderr, "%s: drafted %s: review every feature before partners agree on it\n",
			prog, o->out);
	return 0;
}

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
			printf("%s%s=%.0f", k ? ", " : "", k < f->n_values ? f->values[k] : "(other)",
			       st->sum[j + k]);
		}
		printf("\n");
	}
}

static int cmd_check(struct opts *o)
{
	struct fl_schema *s = NULL;
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	char fp_hex[65];
	int r;

	if ((r = require(o->schema, "--schema", "check")) || (r = require(o->data, "--data", "check")))
		return r;
	if ((r = fl_schema_load(o->schema, &s)) != 0)
		return fail(r);
	if ((r = fl_dataset_load(s, o->data, o->bad_rows, &ds, &rep)) != 0) {
		fl_schema_free(s);
		return fail(r);
	}
	fl_cli_load_notices(prog, o->data, &rep);
	fl_schema_fingerprint_hex(s, fp_hex);
	printf("%s: %llu rows valid against %s (fingerprint %.16s...)\n", o->data,
	       (unsigned long long)rep.rows, o->schema, fp_hex);
	printf("label %s: %.0f converted (%s), %.0f not converted (%s): %.2f %% converted\n",
	       s->label, ds->stats->positives, s->positive, ds->stats->rows - ds->stats->positives,
	       s->negative, 100.0 * ds->stats->positives / ds->stats->rows);
	print_column_summary(s, ds->stats);
	fl_dataset_free(ds);
	fl_schema_free(s);
	return 0;
}

static void print_metrics(const char *what, const struct fl_metric_set *m)
{
	printf("%-11s %8llu leads, %6llu converted, AUC %.4f, log-loss %.5f\n", what,
	       (unsigned long long)m->rows, (unsigned long long)m->positives, m->auc, m->log_loss);
}

/* ---- cache: training on data larger than memory ---- */

static int cmd_cache(struct opts *o)
{
	struct fl_schema *s = NULL;
	struct fl_load_report rep;
	int r;

	if ((r = require(o->schema, "--schema", "cache")) || (r = require(o->data, "--data", "cache")) ||
	    (r = require(o->out, "--out", "cache")))
		return r;
	if ((r = fl_schema_load(o->schema, &s)) != 0 ||
	    (r = fl_cache_convert(s, o->data, o->out, o->bad_rows, &rep)) != 0)
		goto out;
	if (!o->quiet)
		fl_cli_load_notices(prog, o->data, &rep);
	printf("%s: %llu rows x %zu columns cached in %s\n", o->data,
	       (unsigned long long)rep.rows, s->dim, o->out);
out:
	fl_schema_free(s);
	return r ? fail(r) : 0;
}

static void cache_progress(void *arg, const struct fl_solver_status *st)
{
	(void)arg;
	fprintf(stderr, "%s: pass %d, iteration %d: objective %.10g, gradient norm %.3g\n", prog,
		st->evaluations, st->iterations, st->objective, st->grad_norm);
}

static int rank_score(void *rk, double z, double y)
{
	return fl_ranker_add(rk, z, y > 0.5);
}

/* train --cache: fl_train_local's work, with every pass streamed from the
 * cache (training metrics too: the ranker spools scores to disk). */
static int cmd_train_cache(struct opts *o)
{
	struct fl_schema *s = NULL;
	struct fl_cache *c = NULL;
	struct fl_model *m = NULL;
	struct fl_ranker *rk = NULL;
	struct fl_cache_train_opts co = {.kind = o->train.solver, .pos_weight = o->train.pos_weight};
	struct fl_solver_status st;
	struct fl_eval ev;
	const struct fl_stats *sum;
	double *w = NULL;
	int r;

	if ((r = require(o->schema, "--schema", "train")) || (r = require(o->out, "--out", "train")))
		return r;
	if (o->data != NULL || o->train.l2_auto || o->train.valid_frac > 0 ||
	    o->train.solver == FL_SOLVER_SGD) {
		fprintf(stderr, "%s train: --cache trains on all cached rows with newton or lbfgs "
				"and a given --l2; --data, --l2 auto, --validation-split and "
				"--solver sgd need the rows in memory\n", prog);
		return FL_EXIT_USAGE;
	}
	if ((r = fl_schema_load(o->schema, &s)) != 0 || (r = fl_cache_open(s, o->cache, &c)) != 0)
		goto out;
	sum = fl_cache_stats(c);
	if (sum->positives <= 0 || sum->positives >= sum->rows) {
		r = fl_fail(FL_ERR_DATA, "%s: the rows contain only %s leads", o->cache,
			    sum->positives <= 0 ? "unconverted" : "converted");
		goto out;
	}
	if (co.pos_weight == 0) /* balanced */
		co.pos_weight = (sum->rows - sum->positives) / sum->positives;
	co.solver = (struct fl_solver_opts){
		.l2 = o->train.l2,
		.tol = 1e-10 * sum->rows, /* as fl_train_fit's default */
		.max_iter = o->train.solver == FL_SOLVER_NEWTON ? 100 : 10000,
	};
	co.progress = o->quiet ? NULL : cache_progress;
	r = FL_ERR_NOMEM;
	if ((w = calloc(s->dim, sizeof(double))) == NULL)
		goto out;
	if ((r = fl_cache_train(c, &co, w, &st)) != 0 ||
	    (r = fl_ranker_new(NULL, 1u << 18, &rk)) != 0 || /* ~6 MB, then spools */
	    (r = fl_cache_scores(c, w, rank_score, rk)) != 0 ||
	    (r = fl_ranker_finish(rk, 0, &ev)) != 0 || (r = fl_model_new(s, &m)) != 0)
		goto out;
	memcpy(m->w, w, s->dim * sizeof(double));
	fl_scaler_free(m->scaler);
	m->scaler = NULL;
	if ((r = fl_scaler_from_stats(s, sum, &m->scaler)) != 0 ||
	    (r = fl_train_stamp(m, &(struct fl_train_facts){
	             .solver = fl_solver_name(co.kind),
	             .l2 = o->train.l2,
	             .pos_weight = co.pos_weight,
	             .rows = (uint64_t)sum->rows,
	             .positives = (uint64_t)sum->positives,
	             .iterations = st.iterations,
	             .final_loss = st.objective,
	             .grad_norm = st.grad_norm,
	             .train = {ev.rows, ev.positives, ev.auc, ev.log_loss},
	     })) != 0)
		goto out;
	printf("solver %s, l2 %g%s: %d iterations, objective %.10g, gradient norm %.3g%s\n",
	       fl_solver_name(co.kind), o->train.l2, co.pos_weight != 1 ? " (class-weighted)" : "",
	       st.iterations, st.objective, st.grad_norm, st.converged ? "" : " (not converged)");
	print_metrics("training", &m->prov.train);
	if ((r = fl_model_save(m, o->out)) != 0)
		goto out;
	printf("model written to %s\n", o->out);
	r = 0;
out:
	fl_model_free(m);
	fl_ranker_free(rk);
	fl_cache_free(c);
	fl_schema_free(s);
	free(w);
	return r ? fail(r) : 0;
}

static int cmd_train(struct opts *o)
{
	struct fl_schema *s = NULL;
	struct fl_dataset *ds = NULL;
	struct fl_model *m = NULL;
	struct fl_load_report rep;
	struct fl_train_report tr;
	int r;

	if (o->cache != NULL)
		return cmd_train_cache(o);
	if ((r = require(o->schema, "--schema", "train")) || (r = require(o->data, "--data", "train")) ||
	    (r = require(o->out, "--out", "train")))
		return r;
	if (o->train.l2_auto && o->train.valid_frac == 0 && !o->quiet)
		fprintf(stderr, "%s: --l2 auto without --validation-split: choosing by 5-fold "
				"cross-validation\n", prog);
	if ((r = fl_schema_load(o->schema, &s)) != 0 ||
	    (r = fl_dataset_load(s, o->data, o->bad_rows, &ds, &rep)) != 0)
		goto out;
	if (!o->quiet)
		fl_cli_load_notices(prog, o->data, &rep);
	if ((r = fl_train_local(s, ds, &o->train, &m, &tr)) != 0)
		goto out;
	if (tr.n_grid > 0) {
		printf("%-10s %16s %10s\n", "l2", "valid log-loss", "valid AUC");
		for (size_t g = 0; g < tr.n_grid; g++)
			printf("%-10g %16.6f %10.4f%s\n", tr.grid[g].l2, tr.grid[g].valid_log_loss,
			       tr.grid[g].valid_auc, tr.grid[g].l2 == tr.l2 ? "  <- chosen" : "");
	}
	printf("solver %s, l2 %g%s: %d iterations, objective %.10g, gradient norm %.3g%s\n",
	       fl_solver_name(o->train.solver), tr.l2, tr.pos_weight != 1 ? " (class-weighted)" : "",
	       tr.status.iterations, tr.status.objective, tr.status.grad_norm,
	       tr.status.converged ? "" : " (not converged)");
	print_metrics("training", &tr.train);
	if (tr.valid.rows > 0)
		print_metrics("validation", &tr.valid);
	if ((r = fl_model_save(m, o->out)) != 0)
		goto out;
	printf("model written to %s\n", o->out);
	r = 0;
out:
	fl_model_free(m);
	fl_dataset_free(ds);
	fl_schema_free(s);
	return r ? fail(r) : 0;
}

static int cmd_inspect(int argc, char **argv)
{
	struct fl_model *m = NULL;
	int r;

	if (argc != 1) {
		fprintf(stderr, "%s inspect: expects one model file\n", prog);
		return FL_EXIT_USAGE;
	}
	if ((r = fl_model_load(argv[0], &m)) != 0)
		return fail(r);
	r = fl_score_explain(m, stdout, 10);
	if (r != 0)
		r = fail(r);
	fl_model_free(m);
	return r;
}

/* ---- join: the federation client ---- */

struct join_cfg {
	char *schema, *data, *federation, *coordinator, *server_name;
	int bad_rows, log_level;
	char *ca, *cert, *key, *crl;
	char *model_out, *audit_log, *dump_dir;
	double backoff_initial, backoff_max, give_up_after;
	uint64_t max_frame;
};

static const char *const bad_rows_choices[] = {"fail", "skip", NULL};
static const char *const level_choices[] = {"debug", "info", "notice", "warn", "error", NULL};

#define JK(sec, name, type, field, dflt, help) \
	{sec, name, type, offsetof(struct join_cfg, field), NULL, 0, 0, dflt, help}
#define JKR(sec, name, type, field, lo, hi, dflt, help) \
	{sec, name, type, offsetof(struct join_cfg, field), NULL, lo, hi, dflt, help}
#define JKE(sec, name, field, choices, dflt, help) \
	{sec, name, FL_CFG_ENUM, offsetof(struct join_cfg, field), choices, 0, 0, dflt, help}

static const struct fl_cfg_key join_keys[] = {
	JK("node", "schema", FL_CFG_PATH, schema, NULL, "the agreed lead schema (required)"),
	JK("node", "data", FL_CFG_PATH, data, NULL, "this partner's lead CSV (required)"),
	JKE("node", "bad_rows", bad_rows, bad_rows_choices, "fail", "fail or skip bad rows"),
	JK("node", "federation", FL_CFG_STRING, federation, NULL,
	   "federation id to join (empty: the coordinator's)"),
	JK("coordinator", "address", FL_CFG_ADDR, coordinator, NULL,
	   "coordinator HOST:PORT (required)"),
	JK("coordinator", "server_name", FL_CFG_STRING, server_name, NULL,
	   "name in the coordinator's certificate (default: the host of address)"),
	JK("tls", "ca", FL_CFG_PATH, ca, NULL, "the federation's CA certificate (required)"),
	JK("tls", "cert", FL_CFG_PATH, cert, NULL, "this partner's certificate (required)"),
	JK("tls", "key", FL_CFG_PATH, key, NULL, "this partner's private key (required)"),
	JK("tls", "crl", FL_CFG_PATH, crl, NULL, "certificate revocation list"),
	JK("state", "model_out", FL_CFG_PATH, model_out, NULL,
	   "where to save the final model (required)"),
	JK("state", "audit_log", FL_CFG_PATH, audit_log, NULL,
	   "JSON-lines log of everything sent and received"),
	JKE("state", "log_level", log_level, level_choices, "info",
	    "debug, info, notice, warn, error"),
	JK("state", "dump_dir", FL_CFG_PATH, dump_dir, NULL,
	   "audit aid: write every message sent, before encryption, to this directory"),
	JKR("reconnect", "backoff_initial", FL_CFG_SECONDS, backoff_initial, 0.01, 3600, "1s",
	    "first reconnection delay"),
	JKR("reconnect", "backoff_max", FL_CFG_SECONDS, backoff_max, 0.01, 86400, "60s",
	    "longest reconnection delay"),
	JKR("reconnect", "give_up_after", FL_CFG_SECONDS, give_up_after, 0, 1e9, "0",
	    "stop after this long without a usable connection (0 = never)"),
	JKR("network", "max_frame", FL_CFG_SIZE, max_frame, 1024, 1u << 30, "64M",
	    "largest message accepted from the coordinator"),
	{NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

enum { JOPT_CONFIG = 1500, JOPT_CHECK, JOPT_HELP };

static const struct option join_extra[] = {
	{"config", required_argument, NULL, JOPT_CONFIG},
	{"check", no_argument, NULL, JOPT_CHECK},
	{"help", no_argument, NULL, JOPT_HELP},
	{NULL, 0, NULL, 0},
};

static int join_option(int ch, const char *arg, void *ctx)
{
	(void)arg;
	switch (ch) {
	case JOPT_CONFIG: return 0;
	case JOPT_CHECK: *(int *)ctx = 1; return 0;
	case JOPT_HELP:
		printf("usage: fedlead-node join [--config NODE.conf] [--SETTING VALUE]... [--check]\n\n"
		       "Takes part in a federation: connects to the coordinator over mutual TLS 1.3,\n"
		       "answers its tasks with sums over this partner's rows (never a row), and\n"
		       "saves the final model after checking the coordinator's signature.\n\n"
		       "Settings (config file section in brackets):\n");
		fl_config_usage(join_keys, stdout);
		return FL_CLI_STOP;
	}
	return -1;
}

static int cmd_join(int argc, char **argv)
{
	struct join_cfg c = {0};
	struct fl_node_opts o;
	int check = 0, r, code;
	const char *missing = NULL;

	code = fl_cli_configure(prog, join_keys, &c, argc, argv, join_extra, join_option, &check);
	if (code != 0) {
		fl_config_free(join_keys, &c);
		return code == FL_CLI_STOP ? 0 : code;
	}
	fl_log_init(prog, (enum fl_log_level)c.log_level);
	if (!c.schema)
		missing = "schema";
	else if (!c.data)
		missing = "data";
	else if (!c.coordinator)
		missing = "address";
	else if (!c.ca)
		missing = "ca";
	else if (!c.cert)
		missing = "cert";
	else if (!c.key)
		missing = "key";
	else if (!c.model_out)
		missing = "model_out";
	if (missing != NULL) {
		r = fl_fail(FL_ERR_CONFIG, "setting \"%s\" is required (config file or --%s)",
			    missing, missing);
		goto out;
	}
	o = (struct fl_node_opts){
		.schema_path = c.schema,
		.data_path = c.data,
		.bad_rows = (enum fl_bad_rows)c.bad_rows,
		.federation_id = c.federation,
		.coordinator = c.coordinator,
		.server_name = c.server_name,
		.tls = {c.ca, c.cert, c.key, c.crl},
		.model_out = c.model_out,
		.audit_log = c.audit_log,
		.dump_dir = c.dump_dir,
		.max_frame = c.max_frame,
		.backoff_initial = c.backoff_initial,
		.backoff_max = c.backoff_max,
		.give_up_after = c.give_up_after,
	};
	if (check) {
		struct fl_schema *s = NULL;
		SSL_CTX *ctx = NULL;

		if ((r = fl_schema_load(c.schema, &s)) == 0 && (r = fl_tls_client_ctx(&o.tls, &ctx)) == 0)
			fl_config_dump(join_keys, &c, stdout);
		SSL_CTX_free(ctx);
		fl_schema_free(s);
		goto out;
	}
	r = fl_node_run(&o);
out:
	if (r != 0)
		fl_cli_error(prog, r);
	fl_config_free(join_keys, &c);
	return fl_cli_exit_code(r);
}

/* Results on stdout that could not be written (a full disk, a closed pipe)
 * must not end in exit status 0. */
static int close_stdout(int r)
{
	int err = fflush(stdout) != 0 ? errno : 0;

	if (err != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write standard output: %s\n", prog,
			err != 0 ? strerror(err) : "write error");
		if (r == 0)
			r = FL_EXIT_FAILURE;
	}
	return r;
}

static int run(int argc, char **argv)
{
	struct opts o = {0};
	const char *cmd;
	int r;

	setlocale(LC_ALL, "C");
	fl_train_opts_default(&o.train);
	if (argc < 2) {
		usage(stderr);
		return FL_EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("fedlead-node %s\n", FL_VERSION);
		return 0;
	}
	/* "fedlead-node train --help" is a question, not a typo. */
	for (int i = 2; i < argc && strcmp(cmd, "join") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	if (strcmp(cmd, "inspect") == 0)
		return cmd_inspect(argc - 2, argv + 2);
	if (strcmp(cmd, "join") == 0)
		return cmd_join(argc - 1, argv + 1);
	if ((r = parse_opts(argc - 1, argv + 1, &o)) != 0)
		return r;
	if (optind != argc - 1) {
		fprintf(stderr, "%s %s: unexpected argument \"%s\"\n", prog, cmd, argv[optind + 1]);
		return FL_EXIT_USAGE;
	}
	if (strcmp(cmd, "schema") == 0)
		return cmd_schema(&o);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(&o);
	if (strcmp(cmd, "train") == 0)
		return cmd_train(&o);
	if (strcmp(cmd, "cache") == 0)
		return cmd_cache(&o);
	fprintf(stderr, "%s: unknown command \"%s\" (see --help)\n", prog, cmd);
	return FL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	return close_stdout(run(argc, argv));
}
