/*
 * fedlead-node join's settings: the key table that describes the node's
 * config file and its flags at once (config.h), the struct the table fills,
 * and the step from those settings to the client's options. The daemon, its
 * --check and the configuration fuzzer all use this one table.
 */
#ifndef FEDLEAD_NODE_CONFIG_H
#define FEDLEAD_NODE_CONFIG_H

#include <stdint.h>

#include "fedlead/client.h"
#include "fedlead/config.h"

/* The fields fl_node_config_keys fills, as read (strings owned). */
struct fl_node_config {
	char *schema, *data, *federation, *coordinator, *server_name;
	/* data's dialect, as written; NULL: the schema's */
	char *delimiter, *encoding, *decimal, *thousands, *currency;
	char *mapping; /* data's column mapping (mapping.h), or NULL */
	/* query: data is a PostgreSQL connection string and the rows are the
	 * query's (pg.h); query_key names the column naming a row in messages */
	char *query, *query_key;
	int bad_rows, log_level;
	char *ca, *cert, *key, *crl;
	char *model_out, *audit_log, *dump_dir;
	double backoff_initial, backoff_max, give_up_after;
	uint64_t max_frame;
	/* node policy (the keys of the policy block of the table) */
	int require_secure, allow_plaintext, allow_participant_change;
	uint64_t min_partners, max_colluders, max_local_epochs, max_rounds, max_federations;
	uint64_t schema_min_count; /* the schema round's k */
	struct fl_strlist partners;
	double federation_window;
	char *state_dir;
	char *ledger; /* derived by fl_node_config_opts(), not a key */
	/* differential privacy ([privacy]; struct fl_node_privacy) */
	double privacy_epsilon, privacy_delta, privacy_window, privacy_federation_epsilon;
	double privacy_clip;
	uint64_t privacy_releases, privacy_knots_max;
	char *privacy_ledger; /* STATE_DIR/privacy.ledger, derived, not a key */
};

/* The node's keys, sections [node], [coordinator], [tls], [state],
 * [reconnect], [network], [policy] and [privacy], ending with the all-zero entry. */
extern const struct fl_cfg_key fl_node_config_keys[];

/*
 * Checks that the required settings are there and agree with each other,
 * and fills *o (its node policy included), whose strings point into c: c
 * must outlive o. Every relaxed policy setting is logged as a warning. Returns 0 or FL_ERR_CONFIG
 * with fl_errmsg() naming the first missing one ("setting \"data\" is required (config file or
 * --data)").
 */
int fl_node_config_opts(struct fl_node_config *c, struct fl_node_opts *o);

/* The data's dialect as the config writes it ("delimiter", "encoding",
 * "decimal", "thousands", "currency"); *set gets the FL_DIALECT_* bits of
 * the keys given (set may be NULL). FL_ERR_CONFIG names a bad value. */
int fl_node_config_dialect(const struct fl_node_config *c, struct fl_csv_dialect *d, unsigned *set);

/* Frees what c holds (fl_config_free); c stays reusable. */
void fl_node_config_free(struct fl_node_config *c);

/* STATE_DIR/file, or file next to model_out when no state_dir is set (the
 * node's ledgers); malloc'ed, NULL when out of memory. */
char *fl_node_config_state_path(const struct fl_node_config *c, const char *file);

#endif
