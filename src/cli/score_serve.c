/*
 * fedlead-score serve: the scoring service (include/fedlead/serve.h). Every
 * setting can come from the config file (--config) and be overridden by a
 * flag of the same name, as for the daemons.
 */
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fedlead/cli.h"
#include "fedlead/commands.h"
#include "fedlead/config.h"
#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/serve.h"

static const char *prog = "fedlead-score serve";

struct serve_config {
	char *model, *verify_ca, *crl, *schema_fingerprint, *reference;
	int allow_unsigned, follow_schema;
	double watch_interval;
	uint64_t reasons, max_batch;
	int direction;
	char *listen, *port_file, *token_file, *tls_cert, *tls_key, *client_ca, *audit_log;
	uint64_t max_connections, max_request, max_headers;
	double header_timeout, body_timeout, request_timeout;
	int log_level;
};

static const char *const directions[] = {"up", "down", "both", NULL};

#define K(...) FL_CFG_KEY(struct serve_config, __VA_ARGS__)
#define KR(...) FL_CFG_KEY_RANGE(struct serve_config, __VA_ARGS__)
#define KE(...) FL_CFG_KEY_ENUM(struct serve_config, __VA_ARGS__)

static const struct fl_cfg_key serve_keys[] = {
        K("model", "model", FL_CFG_PATH, model, NULL, "the model file to serve (required)"),
        K("model", "verify_ca", FL_CFG_PATH, verify_ca, NULL,
          "serve only a model signed by a certificate of this CA (the federation's)"),
        K("model", "crl", FL_CFG_PATH, crl, NULL,
          "certificate revocation list for verify_ca (and client_ca)"),
        K("model", "allow_unsigned", FL_CFG_BOOL, allow_unsigned, "no",
          "serve a model without checking its signature (no verify_ca)"),
        K("model", "schema_fingerprint", FL_CFG_STRING, schema_fingerprint, NULL,
          "the schema fingerprint (hex) the model must have; default: the first model's"),
        K("model", "follow_schema", FL_CFG_BOOL, follow_schema, "no",
          "on reload, accept a model with another schema"),
        K("model", "reference", FL_CFG_PATH, reference, NULL,
          "lead CSV whose scores give the deciles (the partner's training leads)"),
        KR("model", "watch_interval", FL_CFG_SECONDS, watch_interval, 0, 86400, "1s",
           "how often to look whether the model file changed (0: SIGHUP only)"),
        KR("scoring", "reasons", FL_CFG_U64, reasons, 0, 10, "3",
           "reason codes per lead and direction (a request may ask ?reasons=N)"),
        KE("scoring", "direction", direction, directions, "up",
           "reason codes towards conversion (up), against (down), or both "
           "(?direction=)"),
        KR("scoring", "max_batch", FL_CFG_U64, max_batch, 1, 10000000, "10000",
           "leads in one request at most"),
        K("network", "listen", FL_CFG_ADDR, listen, "127.0.0.1:7090", "address to listen on"),
        K("network", "port_file", FL_CFG_PATH, port_file, NULL,
          "write the bound port here (for port 0)"),
        KR("network", "max_connections", FL_CFG_U64, max_connections, 1, 100000, "64",
           "HTTP connections open at most"),
        KR("network", "header_timeout", FL_CFG_SECONDS, header_timeout, 0.01, 3600, NULL,
           "time for a request's headers to arrive, from the connection or the previous "
           "answer (default 10s)"),
        KR("network", "body_timeout", FL_CFG_SECONDS, body_timeout, 0.01, 3600, NULL,
           "time for a request's body to arrive, from the end of its headers (default 10s)"),
        KR("network", "request_timeout", FL_CFG_SECONDS, request_timeout, 0.01, 3600, NULL,
           "deprecated: the default of header_timeout and body_timeout"),
        KR("network", "max_request", FL_CFG_SIZE, max_request, 1024, 1u << 30, "16M",
           "largest request body"),
        KR("network", "max_headers", FL_CFG_SIZE, max_headers, 1024, 1u << 20, "8K",
           "largest request headers"),
        K("network", "token_file", FL_CFG_PATH, token_file, NULL,
          "require this bearer token (not for /healthz)"),
        K("network", "tls_cert", FL_CFG_PATH, tls_cert, NULL, "HTTPS: the service's certificate"),
        K("network", "tls_key", FL_CFG_PATH, tls_key, NULL, "HTTPS: its private key"),
        K("network", "client_ca", FL_CFG_PATH, client_ca, NULL,
          "HTTPS: require a client certificate from this CA"),
        K("log", "audit_log", FL_CFG_PATH, audit_log, NULL, "JSON-lines audit log"),
        KE("log", "log_level", log_level, fl_log_level_names, "info",
           "debug, info, notice, warn, error"),
        {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

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
	        "usage: fedlead-score serve [--config FILE] [--SETTING VALUE]... [--check]\n"
	        "       fedlead-score serve --version | --help\n\n"
	        "Serves a model over HTTP/1.1 for a partner's sales systems:\n"
	        "  POST /v1/score   one lead (a JSON object keyed by the schema's column names),\n"
	        "                   a batch (a JSON array of them) or text/csv with a header;\n"
	        "                   ?reasons=N&direction=up|down|both\n"
	        "  GET  /v1/model   fingerprint, provenance, signature, privacy, deciles\n"
	        "  GET  /healthz    and /metrics (Prometheus)\n"
	        "The model is reloaded on SIGHUP and when its file changes; a model whose\n"
	        "signature or schema does not pass is refused and the old one kept.\n"
	        "--check validates the configuration, the model and the TLS files and exits.\n\n"
	        "Settings (config file section in brackets):\n");
	fl_config_usage(serve_keys, fp);
	fprintf(fp, "\nExit status: 0 success, 1 runtime failure, 2 bad usage or configuration.\n");
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
	case OPT_VERSION: printf("fedlead-score %s\n", FL_VERSION); return FL_CLI_STOP;
	}
	return fl_fail(FL_ERR_INTERNAL, "option %d is not handled", ch);
}

static int to_opts(const struct serve_config *c, struct fl_serve_opts *o)
{
	static const enum fl_reasons_dir dirs[] = {FL_REASONS_UP, FL_REASONS_DOWN, FL_REASONS_BOTH};

	memset(o, 0, sizeof(*o));
	if (c->model == NULL)
		return fl_fail(FL_ERR_CONFIG, "model is required (the model file to serve)");
	if (c->verify_ca == NULL && !c->allow_unsigned)
		return fl_fail(FL_ERR_CONFIG,
		               "verify_ca is required: the service loads only a model whose "
		               "signature verifies (set allow_unsigned to serve one unchecked)");
	if (c->schema_fingerprint != NULL &&
	    (strlen(c->schema_fingerprint) != 64 ||
	     strspn(c->schema_fingerprint, "0123456789abcdef") != 64))
		return fl_fail(FL_ERR_CONFIG,
		               "schema_fingerprint: \"%s\" is not 64 lowercase hex digits",
		               c->schema_fingerprint);
	if (c->listen == NULL)
		return fl_fail(FL_ERR_CONFIG, "listen is required");
	o->model = c->model;
	o->verify_ca = c->verify_ca;
	o->crl = c->crl;
	o->allow_unsigned = c->allow_unsigned;
	o->schema_fingerprint = c->schema_fingerprint;
	o->follow_schema = c->follow_schema;
	o->reference = c->reference;
	o->watch_interval = c->watch_interval;
	o->n_reasons = (int)c->reasons;
	o->reasons = dirs[c->direction];
	o->max_batch = c->max_batch;
	o->listen = c->listen;
	o->port_file = c->port_file;
	o->max_connections = (size_t)c->max_connections;
	/* request_timeout, the one setting before there were two, still
	 * sets both where they are not given. */
	o->header_timeout = c->header_timeout > 0    ? c->header_timeout
	                    : c->request_timeout > 0 ? c->request_timeout
	                                             : 10;
	o->body_timeout = c->body_timeout > 0      ? c->body_timeout
	                  : c->request_timeout > 0 ? c->request_timeout
	                                           : 10;
	o->max_request = (size_t)c->max_request;
	o->max_headers = (size_t)c->max_headers;
	o->token_file = c->token_file;
	o->tls_cert = c->tls_cert;
	o->tls_key = c->tls_key;
	o->client_ca = c->client_ca;
	o->audit_log = c->audit_log;
	return 0;
}

static int check_only(const struct serve_config *c, const struct fl_serve_opts *o)
{
	struct fl_serve_model *sm = NULL;
	int r;

	if ((r = fl_serve_check(o, &sm)) != 0)
		return r;
	fl_config_dump(serve_keys, c, stdout);
	printf("; header_timeout %g s, body_timeout %g s\n", o->header_timeout, o->body_timeout);
	if (c->request_timeout > 0)
		printf("; request_timeout is deprecated: it stands for header_timeout and "
		       "body_timeout where they are not set\n");
	printf("; configuration OK: model %s (sha256 %s, schema fingerprint %s, %s)\n", o->model,
	       sm->sha256, sm->fingerprint,
	       sm->verified ? "signature verified" : "signature not checked");
	if (sm->ref_leads > 0)
		printf("; deciles against %llu reference leads\n",
		       (unsigned long long)sm->ref_leads);
	fl_serve_model_free(sm);
	return 0;
}

int fl_cmd_score_serve(int argc, char **argv)
{
	struct serve_config c = {0};
	struct fl_serve_opts o;
	struct main_ctx m = {0};
	int r;

	fl_log_init(prog, FL_LOG_INFO);
	r = fl_cli_configure(serve_keys, &c, argc, argv, extra_opts, on_option, &m);
	if (r == FL_CLI_STOP) {
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	fl_log_init(prog, (enum fl_log_level)c.log_level);
	if ((r = to_opts(&c, &o)) == 0 && !m.check && c.request_timeout > 0)
		fl_log(FL_LOG_NOTICE, "request_timeout is deprecated: it stands for header_timeout "
		                      "and body_timeout where they are not set");
	if (r == 0)
		r = m.check ? check_only(&c, &o) : fl_serve_run(&o);
out:
	if (r != 0)
		fl_cli_error(prog, r);
	fl_config_free(serve_keys, &c);
	return fl_cli_exit_code(r);
}
