/*
 * The node's key table and the checks that turn its settings into the
 * client's options (node_config.h).
 */
#include "fedlead/node_config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/node.h"

static const char *const bad_rows_choices[] = {"fail", "skip", NULL};

#define JK(...) FL_CFG_KEY(struct fl_node_config, __VA_ARGS__)
#define JKR(...) FL_CFG_KEY_RANGE(struct fl_node_config, __VA_ARGS__)
#define JKE(...) FL_CFG_KEY_ENUM(struct fl_node_config, __VA_ARGS__)

const struct fl_cfg_key fl_node_config_keys[] = {
        JK("node", "schema", FL_CFG_PATH, schema, NULL, "the agreed lead schema (required)"),
        JK("node", "data", FL_CFG_PATH, data, NULL,
           "this partner's lead CSV, or with query a PostgreSQL connection string (required)"),
        JK("node", "query", FL_CFG_STRING, query, NULL,
           "the SELECT whose rows are the leads, when data is a PostgreSQL database"),
        JK("node", "query_key", FL_CFG_STRING, query_key, NULL,
           "the query's column that names a row in messages (default: the first)"),
        JKE("node", "bad_rows", bad_rows, bad_rows_choices, "fail", "fail or skip bad rows"),
        JK("node", "delimiter", FL_CFG_STRING, delimiter, NULL,
           "data's field separator: , ; tab | or auto (default: the schema's)"),
        JK("node", "encoding", FL_CFG_STRING, encoding, NULL,
           "data's encoding: utf-8, windows-1252 or latin1 (default: the schema's)"),
        JK("node", "decimal", FL_CFG_STRING, decimal, NULL,
           "data's decimal separator, . or , (default: the schema's)"),
        JK("node", "thousands", FL_CFG_STRING, thousands, NULL,
           "data's thousands separator (default: the schema's)"),
        JK("node", "currency", FL_CFG_STRING, currency, NULL,
           "currency symbol stripped from data's numbers (default: the schema's)"),
        JK("node", "mapping", FL_CFG_PATH, mapping, NULL,
           "data's column mapping: its names for the schema's columns and values (JSON)"),
        JK("node", "federation", FL_CFG_STRING, federation, NULL,
           "federation id to join; any other is refused (required)"),
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
        JKE("state", "log_level", log_level, fl_log_level_names, "info",
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
        /*
         * Node policy: what this partner accepts whatever the coordinator
         * says (struct fl_node_policy, checked in src/fed/node.c). Keep these
         * keys together: the defaults are the safe ones, and relaxing one is
         * an explicit setting that the node warns about every round.
         */
        JK("policy", "require_secure_aggregation", FL_CFG_BOOL, require_secure, "yes",
           "refuse a coordinator that does not mask updates (turning it off also needs "
           "allow_plaintext_updates)"),
        JK("policy", "allow_plaintext_updates", FL_CFG_BOOL, allow_plaintext, "no",
           "send updates unmasked (inside TLS) if the coordinator asks; warns every round"),
        JKR("policy", "min_partners", FL_CFG_U64, min_partners, 2, 255, "3",
            "fewest partners a secure sum may cover; below 3 warns every round"),
        JKR("policy", "max_colluders", FL_CFG_U64, max_colluders, 0, 254, "1",
            "partners that may collude with the coordinator: a round's threshold must keep "
            "them out (2 x threshold > participants + max_colluders); 0 warns every round"),
        JK("policy", "allow_participant_change", FL_CFG_BOOL, allow_participant_change, "no",
           "reveal sums over a different set of partners than earlier in the federation (after "
           "a drop); two such sums can be differenced to isolate the missing partners"),
        JK("policy", "partners", FL_CFG_LIST, partners, NULL,
           "the consortium, this partner included; any other participant is refused"),
        JKR("policy", "max_local_epochs", FL_CFG_U64, max_local_epochs, 1, 4294967295.0, "100",
            "most local SGD epochs a task may ask for"),
        JKR("policy", "max_rounds", FL_CFG_U64, max_rounds, 1, 1e12, "10000",
            "highest round number accepted"),
        JKR("policy", "max_federations", FL_CFG_U64, max_federations, 0, 1e9, "10",
            "most federations joined on the same data per window (0 = no limit)"),
        JKR("policy", "federation_window", FL_CFG_SECONDS, federation_window, 1, 1e10, "720h",
            "the window of max_federations"),
        /* The schema round (fedlead-node schema propose): k. */
        JKR("policy", "schema_min_count", FL_CFG_U64, schema_min_count, 1, 1e9, "10",
            "schema round: category values held fewer times than this never leave the site"),
        JK("state", "state_dir", FL_CFG_PATH, state_dir, NULL,
           "the node's own state (ledger of federations joined); default: model_out's directory"),
        /*
         * Differential privacy: this partner's own budget, enforced by its
         * node across every federation on its data (the privacy ledger in
         * state_dir). Off (0) by default.
         */
        JKR("privacy", "privacy_epsilon", FL_CFG_DOUBLE, privacy_epsilon, 0, 100, "0",
            "privacy budget per window; 0 = no differential privacy (noise under the masks, "
            "newton and lbfgs only)"),
        JKR("privacy", "privacy_delta", FL_CFG_DOUBLE, privacy_delta, 1e-300, 0.5, "1e-6",
            "delta of the (epsilon, delta) budget"),
        JKR("privacy", "privacy_window", FL_CFG_SECONDS, privacy_window, 1, 1e10, "8760h",
            "the time the budget covers; releases older than this no longer count"),
        JKR("privacy", "privacy_federation_epsilon", FL_CFG_DOUBLE, privacy_federation_epsilon, 0,
            100, "0", "what one federation may spend of the budget; 0 = all of it"),
        JKR("privacy", "privacy_releases", FL_CFG_U64, privacy_releases, 1, 100000, "20",
            "evaluations one federation's share is split over; one more is refused"),
        JKR("privacy", "privacy_knots_max", FL_CFG_U64, privacy_knots_max, 1, 100000, "1",
            "with privacy_epsilon > 0: most knots rounds (histograms) one federation gets; "
            "a plan naming more is refused"),
        JKR("privacy", "privacy_clip", FL_CFG_DOUBLE, privacy_clip, 0, 1e6, "0",
            "l2 norm every standardised row is clipped to; 0 = the square root of 1 + the "
            "number of features"),
        {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

/*
 * The node policy from the policy keys: contradictions are configuration
 * errors, and every relaxation is announced at start (and every round, by
 * the node). c->ledger is malloc'ed.
 */
static int node_policy(struct fl_node_config *c, struct fl_node_policy *p)
{
	int r;

	fl_node_policy_default(p);
	if (!c->require_secure && !c->allow_plaintext)
		return fl_fail(FL_ERR_CONFIG,
		               "require_secure_aggregation = no needs "
		               "allow_plaintext_updates = yes as well: plaintext updates show this "
		               "partner's sums to the coordinator");
	if (c->require_secure && c->allow_plaintext)
		return fl_fail(FL_ERR_CONFIG, "allow_plaintext_updates = yes needs "
		                              "require_secure_aggregation = no as well");
	if (c->partners.n > 0 && c->partners.n < c->min_partners)
		return fl_fail(FL_ERR_CONFIG,
		               "partners names %zu partners, fewer than "
		               "min_partners = %llu",
		               c->partners.n, (unsigned long long)c->min_partners);
	p->federation_id = c->federation;
	p->allow_plaintext = c->allow_plaintext;
	p->min_partners = (size_t)c->min_partners;
	p->max_colluders = (unsigned)c->max_colluders;
	p->allow_participant_change = c->allow_participant_change;
	p->max_local_epochs = (uint32_t)c->max_local_epochs;
	p->max_rounds = c->max_rounds;
	p->privacy.epsilon = c->privacy_epsilon;
	p->privacy.delta = c->privacy_delta;
	p->privacy.window = c->privacy_window;
	p->privacy.federation_epsilon = c->privacy_federation_epsilon;
	p->privacy.releases = c->privacy_releases;
	p->privacy.knots_max = c->privacy_knots_max;
	p->privacy.clip = c->privacy_clip;
	/* The ledger path comes last (below); checked then. */
	p->privacy.ledger = c->privacy_epsilon > 0 ? "" : NULL;
	if (c->partners.n > 0) {
		p->partners = (const char *const *)c->partners.v;
		p->n_partners = c->partners.n;
	}
	if ((r = fl_node_policy_check(p)) != 0)
		return r;
	if (c->allow_plaintext)
		fl_log(FL_LOG_WARN,
		       "allow_plaintext_updates = yes: if the coordinator does not use "
		       "secure aggregation, it will see this partner's updates alone");
	if (c->min_partners < FL_NODE_MIN_PARTNERS_DEFAULT)
		fl_log(FL_LOG_WARN,
		       "min_partners = %llu: a sum may cover only %llu partners, from "
		       "which each can compute the other's update",
		       (unsigned long long)c->min_partners, (unsigned long long)c->min_partners);
	if (c->max_colluders < FL_NODE_MAX_COLLUDERS_DEFAULT)
		fl_log(FL_LOG_WARN,
		       "max_colluders = %llu: one partner colluding with the coordinator "
		       "could obtain this partner's update",
		       (unsigned long long)c->max_colluders);
	if (c->allow_participant_change)
		fl_log(FL_LOG_WARN,
		       "allow_participant_change = yes: after a partner drops, sums "
		       "over the others may be differenced with earlier ones to isolate it");
	free(c->ledger);
	c->ledger = NULL;
	free(c->privacy_ledger);
	c->privacy_ledger = NULL;
	if ((c->max_federations > 0 &&
	     (c->ledger = fl_node_config_state_path(c, "federations.ledger")) == NULL) ||
	    (c->privacy_epsilon > 0 &&
	     (c->privacy_ledger = fl_node_config_state_path(c, "privacy.ledger")) == NULL))
		return FL_ERR_NOMEM;
	p->privacy.ledger = c->privacy_ledger;
	return fl_node_policy_check(p);
}

char *fl_node_config_state_path(const struct fl_node_config *c, const char *file)
{
	const char *dir = c->state_dir, *slash;
	char *out;
	int n, dlen;

	/* No state_dir: model_out's directory. */
	if (dir == NULL) {
		dir = c->model_out != NULL ? c->model_out : "";
		slash = strrchr(dir, '/');
		if (slash == NULL)
			dir = ".", dlen = 1;
		else
			dlen = slash == dir ? 1 : (int)(slash - dir);
	} else {
		dlen = (int)strlen(dir);
	}
	n = snprintf(NULL, 0, "%.*s/%s", dlen, dir, file);
	if ((out = malloc((size_t)n + 1)) != NULL)
		snprintf(out, (size_t)n + 1, "%.*s/%s", dlen, dir, file);
	return out;
}

int fl_node_config_dialect(const struct fl_node_config *c, struct fl_csv_dialect *d, unsigned *set)
{
	const struct {
		const char *key, *value;
	} keys[] = {{"delimiter", c->delimiter},
	            {"encoding", c->encoding},
	            {"decimal", c->decimal},
	            {"thousands", c->thousands},
	            {"currency", c->currency}};
	unsigned bits = 0;

	*d = (struct fl_csv_dialect){0};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].value != NULL &&
		    fl_csv_dialect_set(d, &bits, keys[i].key, keys[i].key, keys[i].value) != 0)
			return fl_fail(FL_ERR_CONFIG, "%s", fl_errmsg());
	if (set != NULL)
		*set = bits;
	return 0;
}

int fl_node_config_opts(struct fl_node_config *c, struct fl_node_opts *o)
{
	const char *missing = NULL;
	struct fl_node_policy pol;
	struct fl_csv_dialect dialect;
	unsigned dialect_set;
	int r;

	if (!c->schema)
		missing = "schema";
	else if (!c->data)
		missing = "data";
	else if (!c->coordinator)
		missing = "address";
	else if (!c->ca)
		missing = "ca";
	else if (!c->cert)
		missing = "cert";
	else if (!c->key)
		missing = "key";
	else if (!c->model_out)
		missing = "model_out";
	else if (!c->federation)
		missing = "federation";
	if (missing != NULL)
		return fl_fail(FL_ERR_CONFIG, "setting \"%s\" is required (config file or --%s)",
		               missing, missing);
	if ((r = node_policy(c, &pol)) != 0 ||
	    (r = fl_node_config_dialect(c, &dialect, &dialect_set)) != 0)
		return r;
	*o = (struct fl_node_opts){
	        .schema_path = c->schema,
	        .data_path = c->data,
	        .bad_rows = (enum fl_bad_rows)c->bad_rows,
	        .dialect = dialect,
	        .dialect_set = dialect_set,
	        .mapping_path = c->mapping,
	        .federation_id = c->federation,
	        .coordinator = c->coordinator,
	        .server_name = c->server_name,
	        .tls = {c->ca, c->cert, c->key, c->crl},
	        .model_out = c->model_out,
	        .audit_log = c->audit_log,
	        .dump_dir = c->dump_dir,
	        .max_frame = c->max_frame,
	        .backoff_initial = c->backoff_initial,
	        .backoff_max = c->backoff_max,
	        .give_up_after = c->give_up_after,
	        .policy = pol,
	        .ledger = c->ledger,
	        .max_federations = c->max_federations,
	        .federation_window = c->federation_window,
	};
	return 0;
}

void fl_node_config_free(struct fl_node_config *c)
{
	free(c->ledger);
	c->ledger = NULL;
	free(c->privacy_ledger);
	c->privacy_ledger = NULL;
	fl_config_free(fl_node_config_keys, c);
}
