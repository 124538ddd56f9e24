/*
 * fedlead-coordinator: runs a federation for the data team. Every setting
 * can come from the config file (--config) and be overridden by a flag of
 * the same name.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/cli.h"
#include "fedlead/config.h"
#include "fedlead/server.h"
#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/wire.h"
#include <openssl/ssl.h>

static const char *prog = "fedlead-coordinator";

struct cfg {
	char *id, *schema, *partners_file, *class_weight;
	struct fl_strlist partners;
	uint64_t min_partners, seed, max_iterations, rounds, local_epochs, local_batch, hist_bins;
	int algorithm, late_policy, log_level, secure;
	uint64_t threshold;
	double l2, validation_split, tolerance, local_lr, fedprox_mu, round_deadline, start_wait,
		hello_timeout;
	char *listen, *http_listen, *port_file;
	uint64_t max_frame, max_connections;
	/* network limits (issue 10) */
	uint64_t max_preauth, max_per_address, http_max_connections;
	double frame_timeout, http_timeout;
	char *http_token_file, *http_client_ca;
	char *ca, *cert, *key, *crl;
	char *state_dir, *model_out, *audit_log, *dump_dir;
};

static const char *const algorithms[] = {"newton", "lbfgs", "fedavg", NULL};
static const char *const policies[] = {"wait", "drop", "abort", NULL};
static const char *const levels[] = {"debug", "info", "notice", "warn", "error", NULL};

#define K(sec, name, type, field, dflt, help) \
	{sec, name, type, offsetof(struct cfg, field), NULL, 0, 0, dflt, help}
#define KR(sec, name, type, field, lo, hi, dflt, help) \
	{sec, name, type, offsetof(struct cfg, field), NULL, lo, hi, dflt, help}
#define KE(sec, name, field, choices, dflt, help) \
	{sec, name, FL_CFG_ENUM, offsetof(struct cfg, field), choices, 0, 0, dflt, help}

static const struct fl_cfg_key keys[] = {
	K("federation", "id", FL_CFG_STRING, id, NULL, "federation id (required)"),
	K("federation", "schema", FL_CFG_PATH, schema, NULL, "the agreed lead schema (required)"),
	K("federation", "partners", FL_CFG_LIST, partners, NULL,
	  "partner identities (certificate CN) allowed and expected, comma-separated"),
	K("federation", "partners_file", FL_CFG_PATH, partners_file, NULL,
	  "more partner identities, one per line"),
	KR("federation", "min_partners", FL_CFG_U64, min_partners, 1, 100000, "1",
	   "quorum: partners needed to start and to go on"),
	KE("federation", "algorithm", algorithm, algorithms, "newton", "newton, lbfgs or fedavg"),
	KR("federation", "l2", FL_CFG_L2, l2, 0, INFINITY, "1", "L2 strength, or auto"),
	K("federation", "class_weight", FL_CFG_STRING, class_weight, "1",
	  "weight of converted leads, or balanced"),
	KR("federation", "validation_split", FL_CFG_DOUBLE, validation_split, 0, 0.99, "0.2",
	   "fraction of each partner's rows held out for validation"),
	K("federation", "seed", FL_CFG_U64, seed, "1", "seed of the split and SGD shuffling"),
	KR("federation", "max_iterations", FL_CFG_U64, max_iterations, 1, 100000, "100",
	   "Newton / L-BFGS iterations per l2 value"),
	KR("federation", "tolerance", FL_CFG_DOUBLE, tolerance, 1e-16, 1, "1e-10",
	   "converged when the gradient norm is below tolerance x rows"),
	KR("federation", "rounds", FL_CFG_U64, rounds, 1, 100000, "20", "fedavg: rounds"),
	KR("federation", "local_epochs", FL_CFG_U64, local_epochs, 1, 10000, "2",
	   "fedavg: local SGD epochs per round"),
	KR("federation", "local_batch", FL_CFG_U64, local_batch, 1, 1000000, "64",
	   "fedavg: mini-batch rows"),
	KR("federation", "local_lr", FL_CFG_DOUBLE, local_lr, 1e-9, 100, "0.5",
	   "fedavg: initial learning rate"),
	KR("federation", "fedprox_mu", FL_CFG_DOUBLE, fedprox_mu, 0, INFINITY, "0",
	   "fedavg: FedProx proximal term (0 = plain FedAvg)"),
	KR("federation", "hist_bins", FL_CFG_U64, hist_bins, 2, 100000, "2000",
	   "score histogram bins for federated AUC"),
	K("federation", "secure_aggregation", FL_CFG_BOOL, secure, "on",
	  "mask every update so the coordinator learns only sums"),
	KR("federation", "threshold", FL_CFG_U64, threshold, 0, 255, "0",
	   "secure aggregation: t of t-of-n (0 = more than half of the partners)"),
	KR("rounds", "round_deadline", FL_CFG_SECONDS, round_deadline, 0.001, 1e7, "5m",
	   "time a round may take"),
	KE("rounds", "late_policy", late_policy, policies, "wait",
	   "when a partner is late or gone: wait, drop or abort"),
	KR("rounds", "start_wait", FL_CFG_SECONDS, start_wait, 0, 1e7, "30s",
	   "once the quorum is there, how long to wait for the other partners"),
	K("network", "listen", FL_CFG_ADDR, listen, "127.0.0.1:7443", "address for partners"),
	K("network", "http_listen", FL_CFG_ADDR, http_listen, "127.0.0.1:7080",
	  "address of /healthz, /status, /metrics (empty: off)"),
	K("network", "port_file", FL_CFG_PATH, port_file, NULL,
	  "write the bound ports here (for port 0)"),
	KR("network", "max_frame", FL_CFG_SIZE, max_frame, 1024, 1u << 30, "64M",
	   "largest message accepted from a joined partner"),
	KR("network", "hello_timeout", FL_CFG_SECONDS, hello_timeout, 0.01, 3600, "10s",
	   "time from connecting to the hello"),
	KR("network", "max_connections", FL_CFG_U64, max_connections, 1, 1000000, "1024",
	   "open connections at most"),
	/* Network limits: what a stranger who can open TCP connections can take
	 * (pre-Hello connections, slow frames, the HTTP endpoint). */
	KR("network", "max_preauth_connections", FL_CFG_U64, max_preauth, 1, 1000000, "256",
	   "connections that have not said hello, at most (oldest pushed out first)"),
	KR("network", "max_connections_per_address", FL_CFG_U64, max_per_address, 1, 1000000,
	   "64", "of those, from one address"),
	KR("network", "frame_timeout", FL_CFG_SECONDS, frame_timeout, 0.01, 86400, "60s",
	   "time from a frame's first bytes to its last"),
	KR("network", "http_max_connections", FL_CFG_U64, http_max_connections, 1, 100000, "64",
	   "HTTP connections open at most"),
	KR("network", "http_timeout", FL_CFG_SECONDS, http_timeout, 0.01, 3600, "10s",
	   "time an HTTP connection may stay open"),
	K("network", "http_token_file", FL_CFG_PATH, http_token_file, NULL,
	  "require this bearer token on HTTP (not for /healthz)"),
	K("network", "http_client_ca", FL_CFG_PATH, http_client_ca, NULL,
	  "HTTPS: require a client certificate from this CA"),
	K("tls", "ca", FL_CFG_PATH, ca, NULL, "the federation's CA certificate (required)"),
	K("tls", "cert", FL_CFG_PATH, cert, NULL, "coordinator certificate (required)"),
	K("tls", "key", FL_CFG_PATH, key, NULL, "coordinator private key (required)"),
	K("tls", "crl", FL_CFG_PATH, crl, NULL, "certificate revocation list"),
	K("state", "state_dir", FL_CFG_PATH, state_dir, NULL,
	  "checkpoints and lock (required)"),
	K("state", "model_out", FL_CFG_PATH, model_out, NULL,
	  "the coordinator's copy of the model (default STATE_DIR/model.fdl)"),
	K("state", "audit_log", FL_CFG_PATH, audit_log, NULL, "JSON-lines audit log"),
	KE("state", "log_level", log_level, levels, "info", "debug, info, notice, warn, error"),
	K("state", "dump_dir", FL_CFG_PATH, dump_dir, NULL,
	  "audit aid, off by default: write every payload received to this directory"),
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
	fprintf(fp, "usage: fedlead-coordinator [--config FILE] [--SETTING VALUE]... [--check]\n"
		    "       fedlead-coordinator --version | --help\n\n"
		    "Runs a federation: admits the partners on the allow-list over mutual TLS 1.3,\n"
		    "computes the shared standardisation, trains the model from the partners'\n"
		    "summed updates, and delivers the signed model to every participant.\n"
		    "--check validates the configuration, certificates and schema and exits.\n\n"
		    "Settings (config file section in brackets):\n");
	fl_config_usage(keys, fp);
	fprintf(fp, "\nExit status: 0 success, 1 runtime failure, 2 bad usage or configuration.\n");
}

/* Appends the identities in a partners file (one per line, # comments). */
static int read_partners_file(const char *path, struct fl_strlist *out)
{
	FILE *fp = fopen(path, "r");
	char line[1024];
	unsigned lineno = 0;

	if (fp == NULL)
		return fl_fail(FL_ERR_CONFIG, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *s = line, *e, **v;

		lineno++;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strcspn(s, "#\r\n");
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*e = '\0';
		if (*s == '\0')
			continue;
		if ((v = realloc(out->v, (out->n + 2) * sizeof(char *))) == NULL) {
			fclose(fp);
			return FL_ERR_NOMEM;
		}
		out->v = v;
		if ((v[out->n] = strdup(s)) == NULL) {
			fclose(fp);
			return FL_ERR_NOMEM;
		}
		v[++out->n] = NULL;
	}
	fclose(fp);
	return 0;
}

static int require(const char *v, const char *name)
{
	if (v != NULL)
		return 0;
	return fl_fail(FL_ERR_CONFIG, "setting \"%s\" is required (config file or --%s)", name,
		       name);
}

/* Turns the parsed configuration into the server's options. */
static int build_opts(struct cfg *c, struct fl_coord_opts *o, char **model_default)
{
	struct fl_coord_settings *s = &o->set;
	int r;

	if ((r = require(c->id, "id")) || (r = require(c->schema, "schema")) ||
	    (r = require(c->ca, "ca")) || (r = require(c->cert, "cert")) ||
	    (r = require(c->key, "key")) || (r = require(c->state_dir, "state_dir")))
		return r;
	if (c->partners_file && (r = read_partners_file(c->partners_file, &c->partners)) != 0)
		return r;
	memset(o, 0, sizeof(*o));
	s->federation_id = c->id;
	s->partners = (const char *const *)c->partners.v;
	s->n_partners = c->partners.n;
	s->min_partners = c->min_partners;
	s->algorithm = (enum fl_fed_algo)c->algorithm;
	s->l2_auto = c->l2 < 0;
	s->l2 = c->l2 < 0 ? 0 : c->l2;
	if (strcmp(c->class_weight, "balanced") == 0)
		s->class_weight = 0;
	else if (fl_cli_double(prog, "class_weight", c->class_weight, &s->class_weight) != 0 ||
		 !(s->class_weight > 0))
		return fl_fail(FL_ERR_CONFIG, "class_weight: \"%s\" is not a positive number or "
			       "\"balanced\"", c->class_weight);
	s->validation_split = c->validation_split;
	s->seed = c->seed;
	s->max_iterations = (int)c->max_iterations;
	s->tolerance = c->tolerance;
	s->fedavg_rounds = (int)c->rounds;
	s->local_epochs = (int)c->local_epochs;
	s->local_batch = c->local_batch;
	s->local_lr = c->local_lr;
	s->fedprox_mu = c->fedprox_mu;
	s->hist_bins = (uint32_t)c->hist_bins;
	s->hist_range = 20.0;
	s->round_deadline = c->round_deadline;
	s->late_policy = (enum fl_late_policy)c->late_policy;
	s->start_wait = c->start_wait;
	s->secure = c->secure;
	s->threshold = (unsigned)c->threshold;
	if ((r = fl_coord_settings_check(s)) != 0)
		return r;
	o->schema_path = c->schema;
	o->listen = c->listen;
	o->http_listen = c->http_listen;
	o->port_file = c->port_file;
	o->max_frame = c->max_frame;
	o->hello_timeout = c->hello_timeout;
	o->max_connections = c->max_connections;
	o->max_preauth = c->max_preauth;
	o->max_per_address = c->max_per_address;
	o->frame_timeout = c->frame_timeout;
	o->http_max_connections = c->http_max_connections;
	o->http_timeout = c->http_timeout;
	o->http_token_file = c->http_token_file;
	o->http_client_ca = c->http_client_ca;
	if (o->max_preauth + s->n_partners > o->max_connections)
		fl_log(FL_LOG_WARN, "max_preauth_connections (%zu) leaves room for fewer than the "
		       "%zu partners within max_connections (%zu): connections without hello can "
		       "fill every slot", o->max_preauth, s->n_partners, o->max_connections);
	o->tls = (struct fl_tls_opts){c->ca, c->cert, c->key, c->crl};
	o->state_dir = c->state_dir;
	o->audit_log = c->audit_log;
	o->dump_dir = c->dump_dir;
	o->model_out = c->model_out;
	if (o->model_out == NULL) {
		if ((*model_default = malloc(strlen(c->state_dir) + 16)) == NULL)
			return FL_ERR_NOMEM;
		sprintf(*model_default, "%s/model.fdl", c->state_dir);
		o->model_out = *model_default;
	}
	return 0;
}

/* --check: everything that can be checked without running. */
static int check_only(struct cfg *c, const struct fl_coord_opts *o)
{
	struct fl_schema *s = NULL;
	SSL_CTX *ctx = NULL;
	char fp[65];
	int r;

	if ((r = fl_schema_load(o->schema_path, &s)) != 0)
		return r;
	fl_schema_fingerprint_hex(s, fp);
	fl_schema_free(s);
	if ((r = fl_tls_server_ctx(&o->tls, &ctx)) != 0)
		return r;
	SSL_CTX_free(ctx);
	fl_config_dump(keys, c, stdout);
	printf("; configuration OK: schema fingerprint %s, %zu partners\n", fp, o->set.n_partners);
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
	return -1;
}

int main(int argc, char **argv)
{
	struct cfg c = {0};
	struct fl_coord_opts o;
	struct main_ctx m = {0};
	char *model_default = NULL;
	int r, code;

	setlocale(LC_ALL, "C");
	fl_log_init(prog, FL_LOG_INFO);
	code = fl_cli_configure(prog, keys, &c, argc, argv, extra_opts, on_option, &m);
	if (code != 0) {
		fl_config_free(keys, &c);
		return code == FL_CLI_STOP ? 0 : code;
	}
	fl_log_init(prog, (enum fl_log_level)c.log_level);
	if ((r = build_opts(&c, &o, &model_default)) == 0)
		r = m.check ? check_only(&c, &o) : fl_coordinator_run(&o);
	if (r != 0)
		fl_cli_error(prog, r);
	free(model_default);
	fl_config_free(keys, &c);
	return fl_cli_exit_code(r);
}
