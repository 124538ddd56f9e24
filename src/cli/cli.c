#include "fedlead/cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedlead/config.h"
#include "fedlead/csv.h"
#include "fedlead/error.h"
#include "fedlead/linalg.h"

int fl_cli_exit_code(int err)
{
	switch (err) {
	case 0: return FL_EXIT_OK;
	case FL_ERR_INVALID:
	case FL_ERR_SCHEMA:
	case FL_ERR_DATA:
	case FL_ERR_MODEL:
	case FL_ERR_CONFIG:
	case FL_ERR_LIMIT: return FL_EXIT_USAGE;
	default: return FL_EXIT_FAILURE;
	}
}

int fl_cli_double(const char *opt, const char *text, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(v))
		return fl_fail(FL_ERR_INVALID, "%s: \"%s\" is not a number", opt, text);
	*out = v;
	return 0;
}

int fl_cli_u64(const char *opt, const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	/* strtoull skips blanks and accepts a sign, negating modulo 2^64:
	 * " -1" would become 18446744073709551615. Only digits are valid. */
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || !isdigit((unsigned char)text[0]))
		return fl_fail(FL_ERR_INVALID, "%s: \"%s\" is not a non-negative whole number", opt,
		               text);
	*out = v;
	return 0;
}

int fl_cli_dialect_option(const char *key, const char *text, struct fl_csv_dialect *d,
                          unsigned *set)
{
	char what[32];

	snprintf(what, sizeof(what), "--%s", key);
	return fl_csv_dialect_set(d, set, key, what, text);
}

int fl_cli_bad_rows(const char *text, enum fl_bad_rows *out)
{
	if (strcmp(text, "fail") == 0)
		*out = FL_BAD_ROWS_FAIL;
	else if (strcmp(text, "skip") == 0)
		*out = FL_BAD_ROWS_SKIP;
	else
		return fl_fail(FL_ERR_INVALID, "--bad-rows: \"%s\" is not fail or skip", text);
	return 0;
}

int fl_cli_bad_option(int c, char **argv)
{
	char shortopt[3] = {'-', (char)optopt, '\0'};
	const char *text = optopt > 0 && optopt < 128 ? shortopt : argv[optind - 1];

	if (c == ':')
		return fl_fail(FL_ERR_INVALID, "option \"%s\" needs a value (see --help)", text);
	return fl_fail(FL_ERR_INVALID, "unrecognized option \"%s\" (see --help)", text);
}

void fl_cli_error(const char *prog, int err)
{
	const char *msg = fl_errmsg();

	fprintf(stderr, "%s: %s\n", prog, msg[0] != '\0' ? msg : fl_strerror(err));
}

void fl_cli_load_notices(const char *prog, const char *path, const struct fl_load_report *rep)
{
	if (rep->n_extra > 0)
		fprintf(stderr, "%s: notice: %s: %zu column%s not in the schema, ignored: %s\n",
		        prog, path, rep->n_extra, rep->n_extra == 1 ? "" : "s", rep->extra);
	if (rep->unseen_leads > 0) {
		fprintf(stderr,
		        "%s: warning: %s: %llu lead%s with values the schema does not list "
		        "(each scores as its column's \"(other)\"):\n",
		        prog, path, (unsigned long long)rep->unseen_leads,
		        rep->unseen_leads == 1 ? "" : "s");
		for (size_t i = 0; i < rep->n_unseen; i++) {
			const struct fl_unseen *u = &rep->unseen[i];

			if (u->source != NULL)
				fprintf(stderr, "  column \"%s\" (mapped to %s)", u->source,
				        u->column);
			else
				fprintf(stderr, "  column \"%s\"", u->column);
			fprintf(stderr, ": %llu lead%s, first \"%s\"\n",
			        (unsigned long long)u->leads, u->leads == 1 ? "" : "s", u->example);
		}
		if (rep->n_unseen_more > 0)
			fprintf(stderr, "  and %zu more column%s\n", rep->n_unseen_more,
			        rep->n_unseen_more == 1 ? "" : "s");
	}
	if (rep->skipped == 0)
		return;
	fprintf(stderr, "%s: warning: %s: skipped %llu bad row%s (--bad-rows=skip); first %s:\n",
	        prog, path, (unsigned long long)rep->skipped, rep->skipped == 1 ? "" : "s",
	        rep->n_samples == 1 ? "reason" : "reasons");
	for (size_t i = 0; i < rep->n_samples; i++)
		fprintf(stderr, "  %s\n", rep->samples[i]);
}

double fl_cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void fl_cli_progress_start(struct fl_cli_progress *pg, double now)
{
	pg->start = pg->last = now;
}

int fl_cli_progress_due(struct fl_cli_progress *pg, double now)
{
	if (now - pg->start < 1.0 || now - pg->last < 1.0)
		return 0;
	pg->last = now;
	return 1;
}

void fl_cli_train_progress_text(const struct fl_train_progress *p, double elapsed, char *buf,
                                size_t n)
{
	int k = snprintf(buf, n,
	                 "train: %s, l2 %g (run %zu of %zu), iteration %d, objective %.10g; %.0f s "
	                 "elapsed",
	                 p->phase, p->l2, p->fit, p->fits, p->iteration, p->objective, elapsed);

	/* Runs before this one are done: the rest take as long on average. */
	if (p->fit > 1 && k > 0 && (size_t)k < n)
		snprintf(buf + k, n - (size_t)k, ", about %.0f s left",
		         elapsed * (double)(p->fits - (p->fit - 1)) / (double)(p->fit - 1));
}

void fl_cli_read_progress_text(const char *cmd, const struct fl_csv_progress *p, double elapsed,
                               double left, char *buf, size_t n)
{
	char pass[32] = "";
	int k;

	if (p->pass > 1)
		snprintf(pass, sizeof(pass), " (pass %u)", p->pass);
	/* The first record of every pass is the header. */
	k = snprintf(buf, n, "%s: reading %s%s: %llu rows", cmd, p->name, pass,
	             (unsigned long long)(p->records > 0 ? p->records - 1 : 0));
	if (k > 0 && (size_t)k < n && p->size > 0)
		k += snprintf(buf + k, n - (size_t)k, ", %.0f %%",
		              floor(100.0 * (double)p->bytes / (double)p->size));
	if (k > 0 && (size_t)k < n)
		k += snprintf(buf + k, n - (size_t)k, "; %.0f s elapsed", elapsed);
	if (k > 0 && (size_t)k < n && p->size > 0 && left >= 0)
		snprintf(buf + k, n - (size_t)k, ", about %.0f s left", left);
}

/* fl_cli_read_progress()'s state: one command per process. */
static struct {
	const char *prog, *cmd;
	struct fl_cli_progress pg;
	unsigned pass; /* the pass the rate is measured in */
	double t0;     /* when it was first seen (or the command began) */
	uint64_t b0;   /* its bytes then */
} read_pg;

static void read_progress(void *arg, const struct fl_csv_progress *p)
{
	double now = fl_cli_now(), left = -1;
	char line[512];

	(void)arg;
	/* A new pass's rate is measured from its first report; the first
	 * pass's from the command's start. */
	if (p->pass != read_pg.pass) {
		read_pg.pass = p->pass;
		if (p->pass > 1) {
			read_pg.t0 = now;
			read_pg.b0 = p->bytes;
		}
	}
	if (!fl_cli_progress_due(&read_pg.pg, now))
		return;
	if (p->bytes > read_pg.b0 && now > read_pg.t0)
		left = (double)(p->size - p->bytes) * (now - read_pg.t0) /
		       (double)(p->bytes - read_pg.b0);
	fl_cli_read_progress_text(read_pg.cmd, p, now - read_pg.pg.start, left, line, sizeof(line));
	fprintf(stderr, "%s: %s\n", read_pg.prog, line);
}

void fl_cli_read_progress(const char *prog, const char *cmd, int on)
{
	if (!on) {
		fl_csv_set_progress(NULL, NULL);
		return;
	}
	read_pg.prog = prog;
	read_pg.cmd = cmd;
	read_pg.pass = 1;
	read_pg.b0 = 0;
	read_pg.t0 = fl_cli_now();
	fl_cli_progress_start(&read_pg.pg, read_pg.t0);
	fl_csv_set_progress(read_progress, NULL);
}

int fl_cli_close_stdout(const char *prog, int code)
{
	int err = fflush(stdout) != 0 ? errno : 0;

	if (err != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write standard output: %s\n", prog,
		        err != 0 ? strerror(err) : "write error");
		if (code == 0)
			code = FL_EXIT_FAILURE;
	}
	return code;
}

/* Key options are numbered from here, clear of getopt's '?' and ':' and of
 * the callers' own option values. */
#define KEY_OPT_BASE 2000

int fl_cli_configure(const struct fl_cfg_key *keys, void *obj, int argc, char **argv,
                     const struct option *extra,
                     int (*on_extra)(int ch, const char *arg, void *ctx), void *ctx)
{
	struct option *opts = NULL;
	const char *config = NULL;
	int ch, r, nkeys = (int)fl_config_count(keys), config_val = -1;

	if ((r = fl_config_defaults(keys, obj)) != 0 ||
	    (r = fl_config_getopt(keys, extra, KEY_OPT_BASE, &opts)) != 0)
		return r;
	/* First pass: only --config, so that flags override the file whatever
	 * their order on the command line. Errors wait for the second pass. */
	for (const struct option *e = extra; e != NULL && e->name != NULL; e++)
		if (strcmp(e->name, "config") == 0)
			config_val = e->val;
	opterr = 0;
	optind = 0; /* 0, not 1: also forgets a half-read "-xy" of an earlier parse */
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1)
		if (ch == config_val)
			config = optarg;
	if (config != NULL && (r = fl_config_load(keys, obj, config)) != 0)
		goto out;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch >= KEY_OPT_BASE && ch < KEY_OPT_BASE + nkeys) {
			const struct fl_cfg_key *k = &keys[ch - KEY_OPT_BASE];
			char origin[80];

			snprintf(origin, sizeof(origin), "--%s", k->name);
			if ((r = fl_config_set(keys, obj, k->name, optarg, origin)) != 0)
				goto out;
			continue;
		}
		if (ch == '?' || ch == ':') {
			r = fl_cli_bad_option(ch, argv);
			goto out;
		}
		if ((r = on_extra(ch, optarg, ctx)) != 0)
			goto out;
	}
	r = 0;
	if (optind != argc)
		r = fl_fail(FL_ERR_INVALID, "unexpected argument \"%s\"", argv[optind]);
out:
	free(opts);
	return r;
}

const struct fl_cli_cmd *fl_cli_find(const struct fl_cli_cmd *cmds, const char *name)
{
	for (const struct fl_cli_cmd *c = cmds; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

void fl_cli_commands_usage(const struct fl_cli_cmd *cmds, FILE *fp)
{
	int width = 0;

	for (const struct fl_cli_cmd *c = cmds; c->name != NULL; c++)
		if ((int)strlen(c->name) > width)
			width = (int)strlen(c->name);
	width++;
	for (const struct fl_cli_cmd *c = cmds; c->name != NULL; c++) {
		fprintf(fp, "%-*s ", width, c->name);
		for (const char *h = c->help; *h != '\0'; h++) {
			fputc(*h, fp);
			if (*h == '\n')
				fprintf(fp, "%*s", width + 1, "");
		}
		fputc('\n', fp);
	}
}

static int is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int fl_cli_dispatch(const char *prog, const struct fl_cli_cmd *cmds, void (*usage)(FILE *fp),
                    int argc, char **argv)
{
	const struct fl_cli_cmd *cmd;

	fl_linalg_blas_own_threads();
	if (argc < 2) {
		usage(stderr);
		return FL_EXIT_USAGE;
	}
	if (is_help(argv[1])) {
		usage(stdout);
		return FL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", prog, FL_VERSION);
		return FL_EXIT_OK;
	}
	cmd = fl_cli_find(cmds, argv[1]);
	/* "fedlead-node train --help" is a question, not a typo. */
	for (int i = 2; i < argc && (cmd == NULL || !cmd->own_help); i++)
		if (is_help(argv[i])) {
			usage(stdout);
			return FL_EXIT_OK;
		}
	if (cmd == NULL) {
		fl_cli_error(prog, fl_fail(FL_ERR_INVALID, "unknown command \"%s\" (see --help)",
		                           argv[1]));
		return FL_EXIT_USAGE;
	}
	return cmd->main(argc - 1, argv + 1);
}
