/*
 * The coordinator's key table and the checks that turn its settings into
 * the server's options (coordinator_config.h).
 */
#include "fedlead/coordinator_config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/cli.h"
#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/node.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const algorithms[] = {"newton", "lbfgs", "fedavg", NULL};
static const char *const policies[] = {"wait", "drop", "abort", NULL};

#define K(...) FL_CFG_KEY(struct fl_coordinator_config, __VA_ARGS__)
#define KR(...) FL_CFG_KEY_RANGE(struct fl_coordinator_config, __VA_ARGS__)
#define KE(...) FL_CFG_KEY_ENUM(struct fl_coordinator_config, __VA_ARGS__)

const struct fl_cfg_key fl_coordinator_config_keys[] = {
        K("federation", "id", FL_CFG_STRING, id, NULL, "federation id (required)"),
        K("federation", "schema", FL_CFG_PATH, schema, NULL, "the agreed lead schema (required)"),
        K("federation", "partners", FL_CFG_LIST, partners, NULL,
          "partner identities (certificate CN) allowed and expected, comma-separated"),
        K("federation", "partners_file", FL_CFG_PATH, partners_file, NULL,
          "more partner identities, one per line"),
        KR("federation", "min_partners", FL_CFG_U64, min_partners, 1, 100000, "2",
           "quorum: partners needed to start and to go on"),
        KE("federation", "algorithm", algorithm, algorithms, "newton", "newton, lbfgs or fedavg"),
        KR("federation", "l2", FL_CFG_L2, l2, 0, INFINITY, "1", "L2 strength, or auto"),
        K("federation", "class_weight", FL_CFG_STRING, class_weight, "1",
          "weight of converted leads, or balanced"),
        KR("federation", "validation_split", FL_CFG_DOUBLE, validation_split, 0, 0.99, "0.2",
           "fraction of each partner's rows held out for validation"),
        K("federation", "seed", FL_CFG_U64, seed, "1", "seed of the split and SGD shuffling"),
        KR("federation", "max_iterations", FL_CFG_U64, max_iterations, 0, 100000, "0",
           "Newton / L-BFGS iterations per l2 value; 0: 100, or with privacy = on the "
           "differential privacy plan's " STR(FL_DP_PLAN_EVALUATIONS) " evaluations"),
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
           "secure aggregation: t of t-of-n (0 = the smallest that keeps max_colluders out: "
           "more than half of the participants plus max_colluders)"),
        KR("federation", "max_colluders", FL_CFG_U64, max_colluders, 0, 254, "1",
           "partners assumed to collude with a deviating coordinator; the partners' nodes "
           "refuse a threshold that does not keep their own max_colluders out"),
        K("federation", "schema_round", FL_CFG_BOOL, schema_round, "off",
          "run the schema round instead of training: merge the partners' drafted schemas "
          "and send them the proposal (no schema needed)"),
        K("federation", "privacy", FL_CFG_BOOL, privacy, "off",
          "partners add differential-privacy noise: train a fixed plan of evaluations "
          "(max_iterations Newton steps, no line search) announced in the Welcome"),
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
        KR("network", "max_connections_per_address", FL_CFG_U64, max_per_address, 1, 1000000, "64",
           "of those, from one address"),
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
        K("state", "state_dir", FL_CFG_PATH, state_dir, NULL, "checkpoints and lock (required)"),
        K("state", "model_out", FL_CFG_PATH, model_out, NULL,
          "the coordinator's copy of the model (default STATE_DIR/model.fdl)"),
        K("state", "audit_log", FL_CFG_PATH, audit_log, NULL, "JSON-lines audit log"),
        KE("state", "log_level", log_level, fl_log_level_names, "info",
           "debug, info, notice, warn, error"),
        K("state", "dump_dir", FL_CFG_PATH, dump_dir, NULL,
          "audit aid, off by default: write every payload received to this directory"),
        {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

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

int fl_coordinator_config_opts(struct fl_coordinator_config *c, struct fl_coord_opts *o)
{
	struct fl_coord_settings *s = &o->set;
	int r;

	if ((r = require(c->id, "id")) ||
	    (!c->schema_round && (r = require(c->schema, "schema"))) ||
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
	else if (fl_cli_double("class_weight", c->class_weight, &s->class_weight) != 0 ||
	         !(s->class_weight > 0))
		return fl_fail(FL_ERR_CONFIG,
		               "class_weight: \"%s\" is not a positive number or "
		               "\"balanced\"",
		               c->class_weight);
	s->validation_split = c->validation_split;
	s->seed = c->seed;
	/* Not set (0): under privacy the plan's evaluations, which nodes set
	 * for it (privacy_releases) accept; a setting is kept as it is. */
	s->max_iterations_plan = c->max_iterations == 0 && c->privacy;
	s->max_iterations = c->max_iterations > 0 ? (int)c->max_iterations
	                    : c->privacy          ? FL_DP_PLAN_EVALUATIONS
	                                          : 100;
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
	s->max_colluders = (unsigned)c->max_colluders;
	s->privacy = c->privacy;
	s->schema_round = c->schema_round;
	/* Partners' nodes add their noise under the masks and refuse a
	 * federation without them. */
	if (s->privacy && !s->secure)
		return fl_fail(FL_ERR_CONFIG, "privacy = on needs secure_aggregation = on: the "
		                              "partners add their noise under the masks");
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
		fl_log(FL_LOG_WARN,
		       "max_preauth_connections (%zu) leaves room for fewer than the "
		       "%zu partners within max_connections (%zu): connections without hello can "
		       "fill every slot",
		       o->max_preauth, s->n_partners, o->max_connections);
	o->tls = (struct fl_tls_opts){c->ca, c->cert, c->key, c->crl};
	o->state_dir = c->state_dir;
	o->audit_log = c->audit_log;
	o->dump_dir = c->dump_dir;
	o->model_out = c->model_out;
	if (o->model_out == NULL) {
		free(c->model_default);
		if ((c->model_default = malloc(strlen(c->state_dir) + 16)) == NULL)
			return FL_ERR_NOMEM;
		sprintf(c->model_default, "%s/model.fdl", c->state_dir);
		o->model_out = c->model_default;
	}
	return 0;
}

void fl_coordinator_config_free(struct fl_coordinator_config *c)
{
	fl_config_free(fl_coordinator_config_keys, c);
	free(c->model_default);
	c->model_default = NULL;
}
