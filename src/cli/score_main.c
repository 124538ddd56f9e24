/*
 * fedlead-score: scores lead files with a trained model, evaluates ranking
 * quality and explains the model. Run by sales operations; src/bin/ holds
 * its main().
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/pg_options.h"
#include "fedlead/cli.h"
#include "fedlead/commands.h"
#include "fedlead/error.h"
#include "fedlead/mapping.h"
#include "fedlead/parallel.h"
#include "fedlead/report.h"
#include "fedlead/score.h"
#include "fedlead/signed_model.h"

static const char *prog = "fedlead-score";

static void usage(FILE *fp)
{
	fprintf(fp,
	        "usage: fedlead-score --model MODEL.fdl --data LEADS.csv [--out SCORED.csv]\n"
	        "                     [--eval] [--top K|P%%] [--json] [--reasons N]\n"
	        "                     [--reasons up|down|both] [--sort file|rank]\n"
	        "                     [--report REPORT.html [--compare "
	        "NAME=LOCAL.fdl:HOLDOUT.csv]... [--compare-dp DP.fdl]]\n"
	        "                     [--bad-rows fail|skip] [--tmpdir DIR] [--memory MIB]\n"
	        "                     [--threads N|auto] [--quiet]\n"
	        "                     [--delimiter ,|;|tab|'|'] [--encoding windows-1252|latin1]\n"
	        "                     [--decimal ,] [--thousands SEP] [--currency SYMBOL]\n"
	        "                     [--mapping MAPPING.json]\n"
	        "       fedlead-score ... --verify-ca CA.pem [--crl CRL.pem]\n"
	        "       fedlead-score --model MODEL.fdl --explain [--top N]\n"
	        "       fedlead-score --model MODEL.fdl --export json\n"
	        "       fedlead-score --version | --help\n"
	        "\n"
	        "--out       writes one row per lead: id, score (conversion probability), rank,\n"
	        "            decile (1 = best tenth) and the top reason codes with their\n"
	        "            contributions to the log-odds; a value the schema does not list\n"
	        "            shows as COLUMN=(unseen: VALUE)\n"
	        "--reasons N  reason codes per lead (default 3); up (default): the strongest\n"
	        "            drivers towards conversion, down: against it (down_reason_K\n"
	        "            columns), both: N of each\n"
	        "--sort rank  writes --out best-scored lead first (default: file order)\n"
	        "--threads   threads scoring (default auto: every core this process may use);\n"
	        "            the output is the same for any count\n"
	        "--memory    MiB kept in memory for the ranking and the scored lines waiting\n"
	        "            for their ranks (default 32); beyond it they spill to --tmpdir\n"
	        "--top K     hits among the K best leads; --top 10%% takes the best tenth\n"
	        "--eval      the file has the label column: prints AUC, log-loss, Brier score,\n"
	        "            calibration by decile and, with --top K, hits among the K best\n"
	        "--json      prints the metrics as one JSON object\n"
	        "--report    writes a self-contained HTML report (charts, drivers,\n"
	        "            provenance; with --eval also gains, ROC, lift, calibration)\n"
	        "--compare NAME=LOCAL.fdl:HOLDOUT.csv  (with --report and --eval, once per\n"
	        "            partner) adds a \"what federation added\" panel: partner NAME's\n"
	        "            local-only model against MODEL (the federated one) on its own\n"
	        "            held-out leads HOLDOUT.csv and on the --data leads (all partners'\n"
	        "            held-out): AUC with a 95 %% interval, log-loss, converted leads in\n"
	        "            the top 10 %%. NAME ends at the first '=', LOCAL.fdl at the last ':'\n"
	        "--compare-dp DP.fdl  (with --compare) adds the federation trained under\n"
	        "            differential privacy to every partner's rows of the panel\n"
	        "--explain   prints the model's top positive and negative drivers\n"
	        "--export json  prints the whole model as JSON\n"
	        "--verify-ca   refuses the model unless it carries a valid signature by a\n"
	        "            certificate of this CA (a federation's coordinator)\n"
	        "--delimiter the field separator; detected from the header by default\n"
	        "--encoding  the file's encoding when it is not UTF-8 (converted as read)\n"
	        "--decimal , --thousands SEP --currency SYMBOL  how the file writes numbers\n"
	        "            (\"1.234,5\", \"$1,234.50\"); the default is a plain decimal point\n"
	        "--mapping   the partner's column mapping: its names for the schema's columns\n"
	        "            and values (a JSON file; README.md, \"Column mapping\")\n");
	fputs(FL_CLI_PG_USAGE
	      "\n"
	      "Exit status: 0 success, 1 runtime failure, 2 bad usage or bad input.\n",
	      fp);
}

static int fail(int err)
{
	fl_cli_error(prog, err);
	return fl_cli_exit_code(err);
}

static void print_eval_text(const struct fl_eval *ev)
{
	printf("leads %llu, converted %llu (%.2f %%)\n", (unsigned long long)ev->rows,
	       (unsigned long long)ev->positives,
	       ev->rows ? 100.0 * (double)ev->positives / (double)ev->rows : 0.0);
	printf("AUC %.4f   log-loss %.5f   Brier %.5f\n", ev->auc, ev->log_loss, ev->brier);
	if (ev->top_k > 0)
		printf("top %llu: %llu converted (%.2f %%), lift %.2fx over random\n",
		       (unsigned long long)ev->top_k, (unsigned long long)ev->top_k_positives,
		       100.0 * ev->top_k_share, ev->lift_at_top_k);
	printf("\ncalibration by decile (1 = highest scores)\n");
	printf("%6s %8s %10s %10s %10s\n", "decile", "leads", "converted", "observed", "predicted");
	for (int d = 0; d < FL_DECILES; d++) {
		const struct fl_decile *dc = &ev->deciles[d];

		printf("%6d %8llu %10llu %9.2f%% %9.2f%%\n", d + 1, (unsigned long long)dc->rows,
		       (unsigned long long)dc->positives,
		       dc->rows ? 100.0 * (double)dc->positives / (double)dc->rows : 0.0,
		       100.0 * dc->mean_prob);
	}
}

/* JSON has no NaN: an undefined metric (AUC with one class) is null. */
static json_t *real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* "unseen": the leads with values the schema does not list, by column. */
static int unseen_json(const struct fl_load_report *l, json_t *o)
{
	json_t *u = json_object(), *cols = json_array();

	if (u == NULL || cols == NULL) {
		json_decref(u);
		json_decref(cols);
		return FL_ERR_NOMEM;
	}
	json_object_set_new(u, "leads", json_integer((json_int_t)l->unseen_leads));
	for (size_t i = 0; i < l->n_unseen; i++) {
		json_t *c =
		        json_pack("{s:s, s:I, s:s}", "column", l->unseen[i].column, "leads",
		                  (json_int_t)l->unseen[i].leads, "example", l->unseen[i].example);

		/* The file's name of a column the mapping renamed. */
		if (c != NULL && l->unseen[i].source != NULL)
			json_object_set_new(c, "file_column", json_string(l->unseen[i].source));
		json_array_append_new(cols, c);
	}
	json_object_set_new(u, "columns", cols);
	json_object_set_new(u, "more_columns", json_integer((json_int_t)l->n_unseen_more));
	json_object_set_new(o, "unseen", u);
	return 0;
}

static int print_eval_json(const struct fl_eval *ev, const struct fl_score_report *rep)
{
	json_t *o = json_object(), *dec = json_array();
	char *s;
	int r;

	if (o == NULL || dec == NULL)
		return FL_ERR_NOMEM;
	json_object_set_new(o, "rows", json_integer((json_int_t)ev->rows));
	json_object_set_new(o, "positives", json_integer((json_int_t)ev->positives));
	json_object_set_new(o, "auc", real_or_null(ev->auc));
	json_object_set_new(o, "log_loss", real_or_null(ev->log_loss));
	json_object_set_new(o, "brier", real_or_null(ev->brier));
	json_object_set_new(o, "top_k", json_integer((json_int_t)ev->top_k));
	json_object_set_new(o, "top_k_positives", json_integer((json_int_t)ev->top_k_positives));
	json_object_set_new(o, "lift_at_top_k", real_or_null(ev->lift_at_top_k));
	json_object_set_new(o, "skipped_rows", json_integer((json_int_t)rep->load.skipped));
	if ((r = unseen_json(&rep->load, o)) != 0) {
		json_decref(o);
		json_decref(dec);
		return r;
	}
	for (int d = 0; d < FL_DECILES; d++) {
		const struct fl_decile *dc = &ev->deciles[d];

		json_array_append_new(dec, json_pack("{s:i, s:I, s:I, s:o}", "decile", d + 1,
		                                     "rows", (json_int_t)dc->rows, "positives",
		                                     (json_int_t)dc->positives, "mean_score",
		                                     real_or_null(dc->mean_prob)));
	}
	json_object_set_new(o, "deciles", dec);
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (s == NULL)
		return FL_ERR_NOMEM;
	printf("%s\n", s);
	free(s);
	return 0;
}

/*
 * Loads the model; with a CA, only after its signature and the signer's
 * certificate chain check out, so a tampered or unsigned model is refused.
 */
static int load_model(const char *path, const char *ca, const char *crl, int quiet,
                      struct fl_model **m, char signer[256])
{
	uint8_t *buf = NULL;
	size_t len;
	int r;

	if (ca == NULL)
		return fl_model_load(path, m);
	if ((r = fl_model_read_file(path, &buf, &len)) == 0 &&
	    (r = fl_model_file_verify(buf, len, ca, crl, signer, 256)) != 0)
		r = fl_fail(r, "%s: %s", path, fl_errmsg());
	if (r == 0)
		r = fl_model_decode(buf, len, path, m);
	if (r == 0 && !quiet)
		fprintf(stderr, "%s: %s: signature by \"%s\" verified against %s\n", prog, path,
		        signer, ca);
	free(buf);
	return r;
}

/*
 * --compare NAME=LOCAL.fdl:HOLDOUT.csv, split in a copy of the argument:
 * the name ends at the first '=' (a partner's name has none), the model
 * path at the last ':' (a model path may hold one, the holdout path not).
 */
static int parse_compare(const char *arg, char **copy, struct fl_report_compare *c)
{
	char *eq, *colon;

	*copy = NULL;
	if ((eq = strchr(arg, '=')) == NULL)
		return fl_fail(FL_ERR_INVALID,
		               "--compare: \"%s\" is not NAME=LOCAL.fdl:HOLDOUT.csv (no '=')", arg);
	if ((colon = strrchr(eq, ':')) == NULL)
		return fl_fail(FL_ERR_INVALID,
		               "--compare: \"%s\" is not NAME=LOCAL.fdl:HOLDOUT.csv (no ':')", arg);
	if (eq == arg || colon == eq + 1 || colon[1] == '\0')
		return fl_fail(
		        FL_ERR_INVALID,
		        "--compare: \"%s\" is not NAME=LOCAL.fdl:HOLDOUT.csv (a part is empty)",
		        arg);
	if ((*copy = strdup(arg)) == NULL)
		return FL_ERR_NOMEM;
	(*copy)[eq - arg] = '\0';
	(*copy)[colon - arg] = '\0';
	memset(c, 0, sizeof(*c));
	c->name = *copy;
	c->model_path = *copy + (eq - arg) + 1;
	c->data_path = *copy + (colon - arg) + 1;
	return 0;
}

/* --mapping: the mapping, checked against the model's schema, read as
 * the model's schema's own (each model owns a copy). */
static int attach_mapping(struct fl_model *m, const char *path)
{
	int r;

	if (path == NULL)
		return 0;
	if ((r = fl_mapping_load(path, &m->schema->mapping)) == 0)
		r = fl_mapping_check_schema(m->schema->mapping, m->schema);
	return r;
}

/* Scores every --compare partner's files with its local model and the
 * federated one; an error names the partner it is about. */
static int run_compare(const struct fl_model *fed, const struct fl_score_opts *so,
                       const char *dp_path, const char *mapping, struct fl_report_compare *cmp,
                       size_t n)
{
	struct fl_model *dp = NULL;
	int r = 0;

	if (dp_path != NULL) {
		if ((r = fl_model_load(dp_path, &dp)) != 0)
			return fl_fail(r, "--compare-dp: %s", fl_errmsg());
		dp->schema->dialect = fed->schema->dialect;
		if ((r = attach_mapping(dp, mapping)) != 0)
			goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		struct fl_model *local = NULL;

		if ((r = fl_model_load(cmp[i].model_path, &local)) == 0) {
			local->schema->dialect = fed->schema->dialect;
			if ((r = attach_mapping(local, mapping)) == 0)
				r = fl_report_compare_eval(fed, local, so, so->data, &cmp[i]);
		}
		if (r == 0 && dp != NULL)
			r = fl_report_compare_dp(fed, dp, dp_path, so, so->data, &cmp[i]);
		fl_model_free(local);
		if (r != 0 && r != FL_ERR_NOMEM)
			r = fl_fail(r, "--compare %s: %s", cmp[i].name, fl_errmsg());
	}
out:
	fl_model_free(dp);
	return r;
}

/* --top K or --top P%: a share of the leads, resolved once they are counted. */
static int parse_top(const char *arg, struct fl_score_opts *so)
{
	size_t n = strlen(arg);
	char num[32];
	double p;

	so->top_share = 0;
	if (n == 0 || arg[n - 1] != '%')
		return fl_cli_u64("--top", arg, &so->top_k);
	if (n > sizeof(num) ||
	    (snprintf(num, sizeof(num), "%.*s", (int)(n - 1), arg),
	     fl_cli_double("--top", num, &p) != 0) ||
	    !(p > 0 && p <= 100))
		return fl_fail(FL_ERR_INVALID,
		               "--top: \"%s\" is not a share of the leads above 0 %% and at "
		               "most 100 %%",
		               arg);
	so->top_k = 0;
	so->top_share = p / 100;
	return 0;
}

enum {
	OPT_MODEL = 256,
	OPT_DATA,
	OPT_OUT,
	OPT_EVAL,
	OPT_TOP,
	OPT_JSON,
	OPT_REASONS,
	OPT_BAD_ROWS,
	OPT_TMPDIR,
	OPT_QUIET,
	OPT_EXPLAIN,
	OPT_EXPORT,
	OPT_HELP,
	OPT_VERSION,
	OPT_VERIFY_CA,
	OPT_CRL,
	OPT_REPORT,
	OPT_COMPARE,
	OPT_COMPARE_DP,
	OPT_SORT,
	OPT_DELIMITER,
	OPT_ENCODING,
	OPT_DECIMAL,
	OPT_THOUSANDS,
	OPT_CURRENCY,
	OPT_MAPPING,
	OPT_THREADS,
	OPT_MEMORY
};

static const struct option long_opts[] = {
        {"model", required_argument, NULL, OPT_MODEL},
        {"data", required_argument, NULL, OPT_DATA},
        {"out", required_argument, NULL, OPT_OUT},
        {"eval", no_argument, NULL, OPT_EVAL},
        {"top", required_argument, NULL, OPT_TOP},
        {"json", no_argument, NULL, OPT_JSON},
        {"reasons", required_argument, NULL, OPT_REASONS},
        {"bad-rows", required_argument, NULL, OPT_BAD_ROWS},
        {"tmpdir", required_argument, NULL, OPT_TMPDIR},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"explain", no_argument, NULL, OPT_EXPLAIN},
        {"export", required_argument, NULL, OPT_EXPORT},
        {"verify-ca", required_argument, NULL, OPT_VERIFY_CA},
        {"crl", required_argument, NULL, OPT_CRL},
        {"report", required_argument, NULL, OPT_REPORT},
        {"compare", required_argument, NULL, OPT_COMPARE},
        {"compare-dp", required_argument, NULL, OPT_COMPARE_DP},
        {"sort", required_argument, NULL, OPT_SORT},
        {"delimiter", required_argument, NULL, OPT_DELIMITER},
        {"encoding", required_argument, NULL, OPT_ENCODING},
        {"decimal", required_argument, NULL, OPT_DECIMAL},
        {"thousands", required_argument, NULL, OPT_THOUSANDS},
        {"currency", required_argument, NULL, OPT_CURRENCY},
        {"mapping", required_argument, NULL, OPT_MAPPING},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"memory", required_argument, NULL, OPT_MEMORY},
        FL_CLI_PG_LONG_OPTIONS,
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
};

int fl_cmd_score(int argc, char **argv)
{
	struct fl_score_opts so = {.n_reasons = 3};
	struct fl_score_report rep;
	struct fl_model *m = NULL;
	const char *model = NULL, *export = NULL, *verify_ca = NULL, *crl = NULL, *report = NULL,
	           *compare_dp = NULL, *mapping = NULL;
	char signer[256] = "";
	struct fl_report_compare cmp[FL_REPORT_MAX_COMPARE];
	char *cmp_copy[FL_REPORT_MAX_COMPARE] = {NULL};
	const char *cmp_arg[FL_REPORT_MAX_COMPARE];
	size_t n_cmp = 0;
	int c, json = 0, quiet = 0, explain = 0, r;
	uint64_t v;
	struct fl_csv_dialect dialect = {0};
	unsigned dialect_set = 0;
	struct fl_cli_pg pg = {0}; /* PostgreSQL as source and sink (pg_options.h) */
	int li = 0;

	opterr = 0;
	optind = 0; /* 0, not 1: a full restart of getopt */
	while ((c = getopt_long(argc, argv, ":", long_opts, &li)) != -1) {
		switch (c) {
		case OPT_MODEL: model = optarg; break;
		case OPT_DATA: so.data = optarg; break;
		case OPT_OUT: so.out = optarg; break;
		case OPT_EVAL: so.eval = 1; break;
		case OPT_JSON: json = 1; break;
		case OPT_TMPDIR: so.tmpdir = optarg; break;
		case OPT_QUIET: quiet = 1; break;
		case OPT_EXPLAIN: explain = 1; break;
		case OPT_EXPORT: export = optarg; break;
		case OPT_VERIFY_CA: verify_ca = optarg; break;
		case OPT_CRL: crl = optarg; break;
		case OPT_REPORT: report = optarg; break;
		case OPT_COMPARE_DP: compare_dp = optarg; break;
		case OPT_MAPPING: mapping = optarg; break;
		case OPT_COMPARE:
			if (n_cmp == FL_REPORT_MAX_COMPARE)
				return fail(fl_fail(FL_ERR_INVALID,
				                    "--compare: at most %d partners",
				                    FL_REPORT_MAX_COMPARE));
			cmp_arg[n_cmp++] = optarg;
			break;
		case OPT_TOP:
			if ((r = parse_top(optarg, &so)) != 0)
				return fail(r);
			break;
		case OPT_SORT:
			if (strcmp(optarg, "rank") != 0 && strcmp(optarg, "file") != 0)
				return fail(fl_fail(FL_ERR_INVALID,
				                    "--sort: \"%s\" is not file or rank", optarg));
			so.sort_rank = strcmp(optarg, "rank") == 0;
			break;
		case OPT_REASONS:
			if (strcmp(optarg, "up") == 0 || strcmp(optarg, "down") == 0 ||
			    strcmp(optarg, "both") == 0) {
				so.reasons = optarg[0] == 'u'   ? FL_REASONS_UP
				             : optarg[0] == 'd' ? FL_REASONS_DOWN
				                                : FL_REASONS_BOTH;
				break;
			}
			if (fl_cli_u64("--reasons", optarg, &v) != 0)
				return fail(
				        fl_fail(FL_ERR_INVALID,
				                "--reasons: \"%s\" is neither a number of reason "
				                "codes nor up, down or both",
				                optarg));
			if (v > FL_MAX_REASONS)
				return fail(fl_fail(FL_ERR_INVALID, "--reasons: at most %d",
				                    FL_MAX_REASONS));
			so.n_reasons = (int)v;
			break;
		case OPT_THREADS:
			if ((r = fl_threads_parse("--threads", optarg, &so.threads)) != 0)
				return fail(r);
			break;
		case OPT_MEMORY:
			/* Half for the ranking's 24-byte records, half for lines. */
			if (fl_cli_u64("--memory", optarg, &v) != 0 || v < 1 || v > (1u << 20))
				return fail(fl_fail(FL_ERR_INVALID,
				                    "--memory: \"%s\" is not a size in MiB (1 to "
				                    "1048576)",
				                    optarg));
			so.spool_bytes = (size_t)(v << 19);
			so.mem_records = (size_t)(v << 19) / 24;
			break;
		case OPT_BAD_ROWS:
			if ((r = fl_cli_bad_rows(optarg, &so.policy)) != 0)
				return fail(r);
			break;
		case OPT_DELIMITER:
		case OPT_ENCODING:
		case OPT_DECIMAL:
		case OPT_THOUSANDS:
		case OPT_CURRENCY:
			if ((r = fl_cli_dialect_option(long_opts[li].name, optarg, &dialect,
			                               &dialect_set)) != 0)
				return fail(r);
			break;
		case OPT_HELP: usage(stdout); return 0;
		case OPT_VERSION: printf("fedlead-score %s\n", FL_VERSION); return 0;
		default:
			if (fl_cli_pg_option(c, optarg, &pg))
				break;
			return fail(fl_cli_bad_option(c, argv));
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, argv[optind]);
		return FL_EXIT_USAGE;
	}
	if (model == NULL) {
		fprintf(stderr, "%s: --model is required (see --help)\n", prog);
		return FL_EXIT_USAGE;
	}
	if (export != NULL && strcmp(export, "json") != 0) {
		fprintf(stderr, "%s: --export: \"%s\" is not a known format (json)\n", prog,
		        export);
		return FL_EXIT_USAGE;
	}
	if (so.data == NULL && !explain && export == NULL) {
		fprintf(stderr, "%s: --data, --explain or --export is required (see --help)\n",
		        prog);
		return FL_EXIT_USAGE;
	}
	if (report != NULL && so.data == NULL) {
		fprintf(stderr, "%s: --report needs --data (see --help)\n", prog);
		return FL_EXIT_USAGE;
	}
	if (n_cmp > 0 && (report == NULL || !so.eval)) {
		fprintf(stderr, "%s: --compare needs --report and --eval (see --help)\n", prog);
		return FL_EXIT_USAGE;
	}
	if (compare_dp != NULL && n_cmp == 0) {
		fprintf(stderr, "%s: --compare-dp needs --compare (see --help)\n", prog);
		return FL_EXIT_USAGE;
	}
	/* From here on every exit goes through out:, which frees the copies. */
	if ((r = fl_cli_pg_prepare(&pg, &so.data, &so.out, so.tmpdir)) != 0)
		goto out;
	for (size_t i = 0; i < n_cmp; i++) {
		if ((r = parse_compare(cmp_arg[i], &cmp_copy[i], &cmp[i])) != 0)
			goto out;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cmp[j].name, cmp[i].name) == 0) {
				r = fl_fail(FL_ERR_INVALID,
				            "--compare: partner \"%s\" is named twice",
				            cmp[i].name);
				goto out;
			}
	}
	if ((r = load_model(model, verify_ca, crl, quiet, &m, signer)) != 0)
		goto out;
	/* --json keeps stderr for errors and warnings. */
	fl_cli_read_progress(prog, "score", !quiet && !json);
	/* A model's schema carries no dialect (it is not part of the
	 * fingerprint): the lead file is read as detected, or as given here. */
	fl_csv_dialect_merge(&m->schema->dialect, &dialect, dialect_set);
	/* Nor a mapping: the partner's own, for its own exports. */
	if ((r = attach_mapping(m, mapping)) != 0)
		goto out;
	if (export != NULL) {
		char *s = NULL;

		if ((r = fl_model_to_json(m, &s)) == 0)
			printf("%s\n", s);
		free(s);
		goto out;
	}
	if (explain) {
		if (so.top_share > 0) {
			r = fl_fail(FL_ERR_INVALID,
			            "--top: with --explain, the number of drivers, not a share");
			goto out;
		}
		r = fl_score_explain(m, stdout,
		                     so.top_k ? (int)(so.top_k > 1000 ? 1000 : so.top_k) : 10);
		goto out;
	}
	/* The report makes its own pass over the leads (it collects the curves);
	 * the scoring pass is needed besides only for the per-lead file. */
	if ((report == NULL || so.out != NULL) &&
	    ((r = fl_score_file(m, &so, &rep)) != 0 ||
	     (r = fl_cli_pg_commit(&pg, prog, &so.out, quiet || json)) != 0))
		goto out;
	if (report != NULL) {
		char when[32];
		time_t now = time(NULL);
		struct tm tm;
		struct fl_report_meta meta = {.model_path = model,
		                              .data_path = so.data,
		                              .signer = signer[0] ? signer : NULL,
		                              .compare = cmp,
		                              .n_compare = n_cmp};

		if (gmtime_r(&now, &tm) != NULL &&
		    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
			meta.generated = when;
		if ((r = run_compare(m, &so, compare_dp, mapping, cmp, n_cmp)) != 0 ||
		    (r = fl_report_file(m, &so, &meta, report, &rep)) != 0)
			goto out;
	}
	if (!quiet)
		fl_cli_load_notices(prog, so.data, &rep.load);
	if (json)
		r = print_eval_json(&rep.ev, &rep);
	else if (so.eval)
		print_eval_text(&rep.ev);
	else if (!quiet)
		printf("scored %llu leads\n", (unsigned long long)rep.load.rows);
	if (so.out != NULL && !quiet && !json)
		fprintf(stderr, "%s: wrote %s\n", prog, so.out);
	if (report != NULL && !quiet && !json)
		fprintf(stderr, "%s: wrote %s\n", prog, report);
out:
	fl_cli_pg_free(&pg);
	fl_model_free(m);
	for (size_t i = 0; i < n_cmp; i++)
		free(cmp_copy[i]);
	return r ? fail(r) : 0;
}
