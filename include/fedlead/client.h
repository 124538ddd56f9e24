/*
 * fedlead-node's federation client: connects to the coordinator over mutual
 * TLS 1.3, moves frames between it and the node state machine (node.h, which
 * applies the node policy, answers the tasks and saves the final signed
 * model), and reconnects with exponential backoff and jitter.
 */
#ifndef FEDLEAD_CLIENT_H
#define FEDLEAD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/encode.h"
#include "fedlead/node.h"
#include "fedlead/tls.h"

struct fl_node_opts {
	const char *schema_path;
	const char *data_path;
	enum fl_bad_rows bad_rows;
	/* How data_path is written, where the node's config says (the
	 * FL_DIALECT_* bits of dialect_set): overwrites the schema's. */
	struct fl_csv_dialect dialect;
	unsigned dialect_set;
	const char *mapping_path;  /* this partner's column mapping (mapping.h), or NULL */
	const char *federation_id; /* the federation to join (also policy.federation_id) */
	const char *coordinator;   /* HOST:PORT */
	const char *server_name;   /* name the coordinator's certificate must carry;
	                              NULL = the host of coordinator */
	struct fl_tls_opts tls;
	const char *model_out;
	const char *audit_log; /* NULL = none */
	const char *dump_dir;  /* NULL = off: writes every frame sent, before TLS */
	size_t max_frame;
	double backoff_initial, backoff_max; /* seconds */
	double give_up_after;                /* seconds without a connection; 0 = never */
	struct fl_node_policy policy;        /* what this partner accepts */
	const char *ledger;                  /* federations joined (see fl_fednode_set_ledger) */
	uint64_t max_federations;            /* on this data per window; 0 = no limit */
	double federation_window;            /* seconds */
};

/*
 * Runs until the final model is verified and saved (0), the coordinator
 * refuses the partner for good (FL_ERR_AUTH), the node's policy refuses
 * what the coordinator asks (FL_ERR_AUTH, "policy RULE: ...; refused"), the
 * federation fails, or a signal asks the node to stop (FL_ERR_IO with a
 * message).
 */
int fl_node_run(const struct fl_node_opts *o);

/*
 * The schema round (README, "The schema round"): one connection with o's
 * coordinator, TLS and federation settings (schema_path and data_path are
 * not used); sends draft (what fl_schema_round_strip() made) and waits for
 * the proposal, which *out receives (fl_schema_proposal_free()). No
 * reconnection: the operator runs it again. Errors name the coordinator.
 */
struct fl_schema_proposal;
int fl_node_schema_round(const struct fl_node_opts *o, const char *draft, size_t len,
                         struct fl_schema_proposal *out);

/*
 * The clock fl_node_run() measures give_up_after with and the wait between
 * connection attempts: CLOCK_MONOTONIC and nanosleep() unless replaced. A
 * seam for tests, which check the backoff schedule without waiting it out;
 * NULL restores the real clock. Not thread-safe: set it before the run.
 */
struct fl_node_clock {
	double (*now)(void *arg);
	void (*sleep)(void *arg, double seconds);
	void *arg;
};
void fl_node_set_clock(const struct fl_node_clock *c);

#endif
