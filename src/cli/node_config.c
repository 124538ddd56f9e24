/*
 * The node's key table and the checks that turn its settings into the
 * client's options (node_config.h).
 */
#include "fedlead/node_config.h"

#include <stddef.h>

#include "fedlead/error.h"

static const char *const bad_rows_choices[] = {"fail", "skip", NULL};
static const char *const level_choices[] = {"debug", "info", "notice", "warn", "error", NULL};

#define JK(sec, name, type, field, dflt, help) \
	{sec, name, type, offsetof(struct fl_node_config, field), NULL, 0, 0, dflt, help}
#define JKR(sec, name, type, field, lo, hi, dflt, help) \
	{sec, name, type, offsetof(struct fl_node_config, field), NULL, lo, hi, dflt, help}
#define JKE(sec, name, field, choices, dflt, help) \
	{sec, name, FL_CFG_ENUM, offsetof(struct fl_node_config, field), choices, 0, 0, dflt, help}

const struct fl_cfg_key fl_node_config_keys[] = {
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

int fl_node_config_opts(const struct fl_node_config *c, struct fl_node_opts *o)
{
	const char *missing = NULL;

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
	if (missing != NULL)
		return fl_fail(FL_ERR_CONFIG, "setting \"%s\" is required (config file or --%s)",
			       missing, missing);
	*o = (struct fl_node_opts){
		.schema_path = c->schema,
		.data_path = c->data,
		.bad_rows = (enum fl_bad_rows)c->bad_rows,
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
	};
	return 0;
}

void fl_node_config_free(struct fl_node_config *c)
{
	fl_config_free(fl_node_config_keys, c);
}
