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
	int bad_rows, log_level;
	char *ca, *cert, *key, *crl;
	char *model_out, *audit_log, *dump_dir;
	double backoff_initial, backoff_max, give_up_after;
	uint64_t max_frame;
};

/* The node's keys, sections [node], [coordinator], [tls], [state],
 * [reconnect] and [network], ending with the all-zero entry. */
extern const struct fl_cfg_key fl_node_config_keys[];

/*
 * Checks that the required settings are there and fills *o, whose strings
 * point into c: c must outlive o. Returns 0 or FL_ERR_CONFIG with fl_errmsg()
 * naming the first missing one ("setting \"data\" is required (config file
 * or --data)").
 */
int fl_node_config_opts(const struct fl_node_config *c, struct fl_node_opts *o);

/* Frees what c holds (fl_config_free); c stays reusable. */
void fl_node_config_free(struct fl_node_config *c);

#endif
