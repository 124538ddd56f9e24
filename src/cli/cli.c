#include "fedlead/cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/config.h"
#include "fedlead/error.h"

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

int fl_cli_double(const char *prog, const char *opt, const char *text, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(*out)) {
		fprintf(stderr, "%s: %s: \"%s\" is not a number\n", prog, opt, text);
		return -1;
	}
	return 0;
}

int fl_cli_u64(const char *prog, const char *opt, const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	/* strtoull skips blanks and accepts a sign, negating modulo 2^64:
	 * " -1" would become 18446744073709551615. Only digits are valid. */
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || !isdigit((unsigned char)text[0])) {
		fprintf(stderr, "%s: %s: \"%s\" is not a non-negative whole number\n", prog, opt,
		        text);
		return -1;
	}
	*out = v;
	return 0;
}

int fl_cli_bad_rows(const char *prog, const char *text, enum fl_bad_rows *out)
{
	if (strcmp(text, "fail") == 0)
		*out = FL_BAD_ROWS_FAIL;
	else if (strcmp(text, "skip") == 0)
		*out = FL_BAD_ROWS_SKIP;
	else {
		fprintf(stderr, "%s: --bad-rows: \"%s\" is not fail or skip\n", prog, text);
		return -1;
	}
	return 0;
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
	if (rep->skipped == 0)
		return;
	fprintf(stderr, "%s: warning: %s: skipped %llu bad row%s (--bad-rows=skip); first %s:\n",
	        prog, path, (unsigned long long)rep->skipped, rep->skipped == 1 ? "" : "s",
	        rep->n_samples == 1 ? "reason" : "reasons");
	for (size_t i = 0; i < rep->n_samples; i++)
		fprintf(stderr, "  %s\n", rep->samples[i]);
}

/* Key options are numbered from here, clear of getopt's '?' and ':' and of
 * the callers' own option values. */
#define KEY_OPT_BASE 2000

int fl_cli_configure(const char *prog, const struct fl_cfg_key *keys, void *obj, int argc,
		     char **argv, const struct option *extra,
		     int (*on_extra)(int ch, const char *arg, void *ctx), void *ctx)
{
	struct option *opts = NULL;
	const char *config = NULL;
	int ch, r, nkeys = (int)fl_config_count(keys), code = 0, config_val = -1;

	if ((r = fl_config_defaults(keys, obj)) != 0 ||
	    (r = fl_config_getopt(keys, extra, KEY_OPT_BASE, &opts)) != 0) {
		fl_cli_error(prog, r);
		return FL_EXIT_FAILURE;
	}
	/* First pass: only --config, so that flags override the file whatever
	 * their order on the command line. */
	for (const struct option *e = extra; e != NULL && e->name != NULL; e++)
		if (strcmp(e->name, "config") == 0)
			config_val = e->val;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (ch == config_val)
			config = optarg;
	if (config != NULL && (r = fl_config_load(keys, obj, config)) != 0) {
		fl_cli_error(prog, r);
		code = fl_cli_exit_code(r);
		goto out;
	}
	opterr = 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch >= KEY_OPT_BASE && ch < KEY_OPT_BASE + nkeys) {
			const struct fl_cfg_key *k = &keys[ch - KEY_OPT_BASE];
			char origin[80];

			snprintf(origin, sizeof(origin), "--%s", k->name);
			if ((r = fl_config_set(keys, obj, k->name, optarg, origin)) != 0) {
				fl_cli_error(prog, r);
				code = FL_EXIT_USAGE;
				goto out;
			}
			continue;
		}
		if (ch == '?' || ch == ':' || (r = on_extra(ch, optarg, ctx)) < 0) {
			fprintf(stderr, "%s: see --help for the options\n", prog);
			code = FL_EXIT_USAGE;
			goto out;
		}
		if (r > 0) {
			code = FL_CLI_STOP;
			goto out;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, argv[optind]);
		code = FL_EXIT_USAGE;
	}
out:
	free(opts);
	return code;
}
