/*
 * The coordinator's protocol state machine, without any networking.
 *
 * The network glue (src/net/server.c) tells it who joined, left, and what they
 * sent; it answers through the callbacks in struct fl_fedcoord_io. It runs
 * the statistics round, the training rounds (federated Newton or L-BFGS by
 * driving the ask/tell solver with summed partner evaluations, or FedAvg),
 * the L2 grid when l2 = auto, and the delivery of the final model. It only
 * ever adds partner vectors up.
 */
#ifndef FEDLEAD_COORD_H
#define FEDLEAD_COORD_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/log.h"
#include "fedlead/model.h"
#include "fedlead/schema.h"
#include "wire.pb-c.h"

enum fl_fed_algo { FL_FED_NEWTON = 0, FL_FED_LBFGS = 1, FL_FED_FEDAVG = 2 };
enum fl_late_policy { FL_LATE_WAIT = 0, FL_LATE_DROP = 1, FL_LATE_ABORT = 2 };
enum fl_fed_phase {
	FL_PHASE_WAITING = 0, /* for partners to join */
	FL_PHASE_STATS = 1,   /* federated column statistics */
	FL_PHASE_TRAIN = 2,   /* training rounds */
	FL_PHASE_FINAL = 3,   /* delivering the signed model */
	FL_PHASE_DONE = 4,
	FL_PHASE_FAILED = 5,
};

const char *fl_fed_algo_name(enum fl_fed_algo a);
const char *fl_fed_phase_name(enum fl_fed_phase p);

#define FL_FED_MAX_ID 64 /* characters of a federation id */

struct fl_coord_settings {
	const char *federation_id;
	const char *const *partners; /* the allow-list: who may join and is expected */
	size_t n_partners;
	size_t min_partners; /* quorum */
	enum fl_fed_algo algorithm;
	double l2;
	int l2_auto;
	double class_weight; /* weight of converted rows; 0 = balanced */
	double validation_split;
	uint64_t seed;
	int max_iterations; /* Newton / L-BFGS iterations per l2 */
	/* 1: max_iterations was not set and is the differential privacy
	 * plan's FL_DP_PLAN_EVALUATIONS (privacy = on); only the log says it. */
	int max_iterations_plan;
	double tolerance; /* converged when ||grad f|| <= tolerance * rows */
	int fedavg_rounds;
	int local_epochs;
	size_t local_batch;
	double local_lr;
	double fedprox_mu;
	uint32_t hist_bins;
	double hist_range;
	double round_deadline; /* seconds a round may take */
	enum fl_late_policy late_policy;
	double start_wait;      /* seconds to wait for missing partners once quorum is met */
	int secure;             /* secure aggregation of every update */
	unsigned threshold;     /* t of t-of-n; 0 = the smallest safe one (below) */
	unsigned max_colluders; /* partners assumed to collude with a deviating coordinator */
	/* Differential privacy at the partners' nodes: training runs a fixed
	 * plan of evaluations (see fl_coord_privacy_releases()), announced in
	 * the Welcome, so that each node knows before it releases anything
	 * whether its privacy_releases cover it. */
	int privacy;
	/* The schema round instead of training (coord_schema.c): every partner
	 * on the allow-list sends its drafted schema, and each gets their
	 * merge, or the conflicts, back. No schema is needed, none is used. */
	int schema_round;
};

/*
 * The releases a federation with privacy on asks every partner for, each
 * one charged to the partner's privacy ledger: the statistics round (its
 * sums noised within the schema's clip ranges), then for each l2 value (the grid's, with l2 =
 * auto), max_iterations damped Newton steps of one evaluation each (no line search, no convergence
 * test: their number does not depend on the data), and one validation evaluation at the weights
 * reached when validation_split > 0. 0 when privacy is off.
 */
uint64_t fl_coord_privacy_releases(const struct fl_coord_settings *s);

/*
 * With privacy on, every numeric feature of the schema needs a clip range
 * (the partners' nodes refuse the statistics round without one): FL_ERR_CONFIG
 * naming the schema's first numeric feature without one, e.g. "privacy = on
 * needs a clip range on every numeric feature of the schema, which bounds
 * each lead's part in the statistics round: feature \"AGE\" has none".
 * 0 otherwise. The daemon and --check call it; the library's coordinator
 * does not, so that it can be driven with any schema in tests.
 */
int fl_coord_privacy_schema_check(const struct fl_coord_settings *s,
                                  const struct fl_schema *schema);

/*
 * FL_ERR_CONFIG when a spline or bins feature of the schema places its
 * knots from the federation's data (a knot count) and has no clip range,
 * over which the knots round's histograms are binned: "feature \"AGE\"
 * places its knots from the federation's data, which needs a clip range in
 * the schema ...". fl_fedcoord_new() and --check call it.
 */
int fl_coord_knots_schema_check(const struct fl_coord_settings *s, const struct fl_schema *schema);

/*
 * The threshold of a round with n participants when none is configured:
 * the smallest t that partners' nodes accept with max_colluders = c
 * (t > c and 2t > n + c, see fl_node_threshold_safe()), at most n and at
 * least 2.
 */
unsigned fl_coord_default_threshold(size_t n, unsigned c);

/* Checks settings for contradictions; FL_ERR_CONFIG with a message. */
int fl_coord_settings_check(const struct fl_coord_settings *s);

struct fl_fedcoord_io {
	void *ctx;
	struct fl_audit *audit; /* may be NULL */
	/* Queues a message for a connected partner. */
	int (*send)(void *ctx, const char *partner, const Fedlead__Wire__Envelope *env);
	/* Queues an encoded frame (secure-aggregation steps build their own). */
	int (*send_frame)(void *ctx, const char *partner, const uint8_t *frame, size_t len,
	                  const char *type);
	/* The DER certificate the partner presented in its TLS handshake. */
	int (*peer_cert)(void *ctx, const char *partner, const uint8_t **der, size_t *len);
	/* Closes a partner's connection once what was queued is sent. */
	void (*disconnect)(void *ctx, const char *partner);
	/* Arms the one timer (seconds > 0) or disarms it (0). */
	void (*arm_timer)(void *ctx, double seconds);
	/* Persists a checkpoint after a completed round; 0 or an error (logged,
	 * the federation goes on and the previous checkpoint stays valid). */
	int (*checkpoint)(void *ctx, const uint8_t *state, size_t len);
	/* Signs the final model and keeps the coordinator's copy; returns the
	 * file bytes to deliver (malloc'ed). */
	int (*seal_model)(void *ctx, struct fl_model *m, uint8_t **file, size_t *len);
	/* The schema round's outcome, for the data team (may be NULL): the
	 * merged schema (NULL on conflict) and each conflict, one a line. */
	void (*schema_proposal)(void *ctx, const char *schema_json, const char *conflicts);
	/* The federation ended (ok = 1) or failed (ok = 0, message says why). */
	void (*finished)(void *ctx, int ok, const char *message);
};

struct fl_fedcoord;

/* schema must outlive the state machine; settings strings are copied. */
int fl_fedcoord_new(const struct fl_coord_settings *s, const struct fl_schema *schema,
                    const struct fl_fedcoord_io *io, struct fl_fedcoord **out);
void fl_fedcoord_free(struct fl_fedcoord *c);

/* Restores a checkpoint (before any partner joins). FL_ERR_DATA when it
 * belongs to another federation or schema or is malformed. */
int fl_fedcoord_restore(struct fl_fedcoord *c, const uint8_t *state, size_t len);

/* Serialises the state (what checkpoint() receives). */
int fl_fedcoord_save(const struct fl_fedcoord *c, uint8_t **state, size_t *len);

/*
 * A partner with a verified certificate sent its Hello. Sends a Welcome (and
 * whatever the partner needs to catch up) or a Reject and returns
 * FL_ERR_AUTH / FL_ERR_PROTO with fl_errmsg() saying why.
 */
int fl_fedcoord_join(struct fl_fedcoord *c, const char *partner, const Fedlead__Wire__Hello *h);

/* The partner's connection closed. */
void fl_fedcoord_leave(struct fl_fedcoord *c, const char *partner);

/* A message from a joined partner. A negative return means the glue must
 * close that partner's connection (fl_errmsg() says why); the federation
 * itself carries on. */
int fl_fedcoord_message(struct fl_fedcoord *c, const char *partner,
                        const Fedlead__Wire__Envelope *env);

/* The timer armed through io->arm_timer fired. */
void fl_fedcoord_timer(struct fl_fedcoord *c);

/* For /status and /metrics. */
struct fl_fedcoord_view {
	enum fl_fed_phase phase;
	uint64_t round;
	size_t expected, connected, participating;
	int iterations;
	double l2;
	double train_loss, grad_norm, valid_log_loss, valid_auc;
};
void fl_fedcoord_view(const struct fl_fedcoord *c, struct fl_fedcoord_view *v);

/* Per partner: name, connected, participating, last seen (unix seconds). */
size_t fl_fedcoord_partner_count(const struct fl_fedcoord *c);
void fl_fedcoord_partner(const struct fl_fedcoord *c, size_t i, const char **name, int *connected,
                         int *participating, double *last_seen);

/* Round history: i-th completed round's log (struct fl_round_log in model.h). */
size_t fl_fedcoord_history_len(const struct fl_fedcoord *c);
void fl_fedcoord_history(const struct fl_fedcoord *c, size_t i, struct fl_round_log *out);

#endif
