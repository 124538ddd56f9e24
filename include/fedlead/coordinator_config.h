/*
 * fedlead-coordinator's settings: the key table that describes its config
 * file and its flags at once (config.h), the struct the table fills, and the
 * step from those settings to the server's options. The daemon, its --check
 * and the configuration fuzzer all use this one table.
 */
#ifndef FEDLEAD_COORDINATOR_CONFIG_H
#define FEDLEAD_COORDINATOR_CONFIG_H

#include <stdint.h>

#include "fedlead/config.h"
#include "fedlead/server.h"

/* The fields fl_coordinator_config_keys fills, as read (strings owned). */
struct fl_coordinator_config {
	char *id, *schema, *partners_file, *class_weight;
	struct fl_strlist partners;
	uint64_t min_partners, seed, max_iterations, rounds, local_epochs, local_batch, hist_bins;
	int algorithm, late_policy, log_level, secure, privacy, schema_round;
	uint64_t threshold, max_colluders;
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
	/* Not a key: STATE_DIR/model.fdl when model_out is not set, made by
	 * fl_coordinator_config_opts(). */
	char *model_default;
};

/* The coordinator's keys, sections [federation], [rounds], [network], [tls]
 * and [state], ending with the all-zero entry. */
extern const struct fl_cfg_key fl_coordinator_config_keys[];

/*
 * Checks the settings that the table cannot (required keys, class_weight,
 * the partners file, fl_coord_settings_check) and fills *o, whose strings
 * point into c: c must outlive o. Appends the identities of partners_file to
 * c->partners. Returns 0, FL_ERR_CONFIG with fl_errmsg() naming the setting
 * ("setting \"ca\" is required (config file or --ca)", "class_weight: \"x\" is
 * not a positive number or \"balanced\"", "PATH: No such file or
 * directory"), or FL_ERR_NOMEM.
 */
int fl_coordinator_config_opts(struct fl_coordinator_config *c, struct fl_coord_opts *o);

/* Frees what c holds (fl_config_free and model_default); c stays reusable. */
void fl_coordinator_config_free(struct fl_coordinator_config *c);

#endif
