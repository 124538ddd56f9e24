/*
 * fedlead-coordinator: runs a federation for the data team. Every setting
 * can come from the config file (--config) and be overridden by a flag of
 * the same name (coordinator_config.h has the table). src/bin/ holds its
 * main().
 */
#include <getopt.h>
#include <stdio.h>

#include <openssl/ssl.h>

#include "fedlead/cli.h"
#include "fedlead/commands.h"
#include "fedlead/config.h"
#include "fedlead/coordinator_config.h"
#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/schema.h"
#include "fedlead/server.h"

static const char *prog = "fedlead-coordinator";

enum { OPT_CONFIG = 1000, OPT_CHECK, OPT_HELP, OPT_VERSION };

static const struct option extra_opts[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"check", no_argument, NULL, OPT_CHECK},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
};

static void usage(FILE *fp)
{
	fprintf(fp,
	        "usage: fedlead-coordinator [--config FILE] [--SETTING VALUE]... [--check]\n"
	        "       fedlead-coordinator --version | --help\n\n"
	        "Runs a federation: admits the partners on the allow-list over mutual TLS 1.3,\n"
	        "computes the shared standardisation, trains the model from the partners'\n"
	        "summed updates, and delivers the signed model to every participant.\n"
	        "--check validates the configuration, certificates and schema and exits.\n\n"
	        "Settings (config file section in brackets):\n");
	fl_config_usage(fl_coordinator_config_keys, fp);
	fprintf(fp, "\nExit status: 0 success, 1 runtime failure, 2 bad usage or configuration.\n");
}

/* --check: everything that can be checked without running. */
static int check_only(struct fl_coordinator_config *c, const struct fl_coord_opts *o)
{
	struct fl_schema *s = NULL;
	SSL_CTX *ctx = NULL;
	char fp[65];
	int r;

	if (o->set.schema_round) {
		if ((r = fl_tls_server_ctx(&o->tls, &ctx)) != 0)
			return r;
		SSL_CTX_free(ctx);
		fl_config_dump(fl_coordinator_config_keys, c, stdout);
		printf("; configuration OK: schema round for %zu partners\n", o->set.n_partners);
		return 0;
	}
	if ((r = fl_schema_load(o->schema_path, &s)) != 0)
		return r;
	if ((r = fl_coord_privacy_schema_check(&o->set, s)) != 0 ||
	    (r = fl_coord_knots_schema_check(&o->set, s)) != 0) {
		char why[600];

		snprintf(why, sizeof(why), "%s: %s", o->schema_path, fl_errmsg());
		fl_schema_free(s);
		return fl_fail(r, "%s", why);
	}
	fl_schema_fingerprint_hex(s, fp);
	fl_schema_free(s);
	if ((r = fl_tls_server_ctx(&o->tls, &ctx)) != 0)
		return r;
	SSL_CTX_free(ctx);
	if (o->http_token_file != NULL && (r = fl_http_check_token_file(o->http_token_file)) != 0)
		return r;
	fl_config_dump(fl_coordinator_config_keys, c, stdout);
	printf("; configuration OK: schema fingerprint %s, %zu partners\n", fp, o->set.n_partners);
	if (o->set.privacy)
		printf("; privacy plan: %llu releases per partner (the statistics round and "
		       "%llu evaluations)\n",
		       (unsigned long long)fl_coord_privacy_releases(&o->set),
		       (unsigned long long)fl_coord_privacy_releases(&o->set) - 1);
	return 0;
}

struct main_ctx {
	int check;
};

static int on_option(int ch, const char *arg, void *ctx)
{
	struct main_ctx *m = ctx;

	(void)arg;
	switch (ch) {
	case OPT_CONFIG: return 0;
	case OPT_CHECK: m->check = 1; return 0;
	case OPT_HELP: usage(stdout); return FL_CLI_STOP;
	case OPT_VERSION: printf("fedlead-coordinator %s\n", FL_VERSION); return FL_CLI_STOP;
	}
	return fl_fail(FL_ERR_INTERNAL, "option %d is not handled", ch);
}

int fl_cmd_coordinator(int argc, char **argv)
{
	struct fl_coordinator_config c = {0};
	struct fl_coord_opts o;
	struct main_ctx m = {0};
	int r;

	fl_log_init(prog, FL_LOG_INFO);
	r = fl_cli_configure(fl_coordinator_config_keys, &c, argc, argv, extra_opts, on_option, &m);
	if (r == FL_CLI_STOP) {
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	fl_log_init(prog, (enum fl_log_level)c.log_level);
	if ((r = fl_coordinator_config_opts(&c, &o)) == 0)
		r = m.check ? check_only(&c, &o) : fl_coordinator_run(&o);
out:
	if (r != 0)
		fl_cli_error(prog, r);
	fl_coordinator_config_free(&c);
	return fl_cli_exit_code(r);
}
