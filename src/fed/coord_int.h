/*
 * Private to the coordinator's state machine (src/fed/coord*.c): its state
 * and the functions its files share. Nothing outside those files includes
 * this; the public face is include/fedlead/coord.h.
 *
 *   coord.c             settings, lifecycle, phases, joins and leaves,
 *                       message dispatch, views
 *   coord_train.c       statistics round, Newton/L-BFGS and FedAvg rounds,
 *                       the l2 grid, model assembly
 *   coord_secagg.c      driving secure aggregation (fl_secagg_coord_*)
 *   coord_checkpoint.c  fl_fedcoord_save / fl_fedcoord_restore
 *   coord_schema.c      the schema round
 *   coord_knots.c       the knots round (knots from the federation's data)
 */
#ifndef FEDLEAD_FED_COORD_INT_H
#define FEDLEAD_FED_COORD_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/coord.h"
#include "fedlead/train.h"
#include "fedlead/wire.h"
#include "wire.pb-c.h"

struct fl_model;
struct fl_secagg_coord;
struct fl_solver;

enum task { T_NONE, T_STATS, T_EVAL, T_FEDAVG, T_FINAL, T_KNOTS };

/* A partner's differential privacy, from its Hello (coord_privacy.c). */
struct coord_dp {
	int on;
	double epsilon, fed_epsilon, delta, window, clip, rho, rho_left, rho_needed;
	uint64_t releases, done;
	unsigned max_colluders;
};

struct partner {
	char *id;
	struct coord_dp dp;
	int dp_known;   /* dp is from its last accepted Hello */
	int dp_refused; /* refused before the start for its privacy terms */
	int connected, participant, dropped, pending, saved;
	int sa_lost; /* gone during this round's secure aggregation */
	double last_seen;
	double *vec; /* this round's answer, until the round completes */
	size_t vlen;
	/* The schema round (coord_schema.c): the partner's draft, once sent. */
	char *draft;
	size_t draft_len;
};

struct fl_fedcoord {
	struct fl_coord_settings set;
	char *federation_id;
	const struct fl_schema *schema;
	struct fl_fedcoord_io io;
	size_t d;

	enum fl_fed_phase phase;
	uint64_t round;
	struct partner *p;
	size_t np;
	int started, resumed, waiting_kick, start_timer;

	enum task task; /* of the round in progress */
	int need_hess, need_valid, valid_only;
	double *cur_w; /* weights sent in the round in progress */

	struct fl_scaler *scaler;
	double pos_weight, total_rows, total_positives;

	struct fl_solver *solver;
	double *w;           /* current weights */
	double *last_eval_w; /* weights of the last evaluation with validation */
	double l2;
	size_t l2_index, n_grid;
	double grid[FL_L2_GRID_MAX];
	struct fl_l2_candidate l2_results[FL_L2_GRID_MAX];
	int l2_iters[FL_L2_GRID_MAX];
	/* each grid point's training loss and gradient norm at its final
	 * weights: the chosen one's go into the model */
	double l2_train_loss[FL_L2_GRID_MAX], l2_grad_norm[FL_L2_GRID_MAX];
	double *best_w;
	int fedavg_round, iterations;
	double train_loss, grad_norm, valid_log_loss, valid_auc;
	double valid_rows, valid_positives; /* of the last validation, for the model */

	/* Differential privacy (set.privacy): the fixed plan (coord_train.c). */
	uint64_t dp_planned; /* fl_coord_privacy_releases() */
	uint64_t dp_issued;  /* evaluation rounds issued, retries included */
	unsigned dp_step;    /* evaluations done at the current l2 */
	int dp_fresh;        /* the next T_EVAL round is the plan's next, not a retry */
	double *dp_B;        /* d*d: the plan's projected Hessian at this l2, or NULL */

	struct fl_round_log *hist;
	size_t n_hist;

	uint8_t *model_file;
	size_t model_len;

	/* Secure aggregation of the round in progress (NULL when plain). */
	struct fl_secagg_coord *sa;
	Fedlead__Wire__SecAggParams sap;
	char **sap_participants; /* sap.participants: ids owned by the partners */
	uint8_t session[FL_WIRE_SESSION_LEN];
	double *secure_sum; /* the unmasked sum, once the last step is done */
	/* Evidence of the bad reveals of the last attempt the partners revealed
	 * in, for every task until one is unmasked (sap.evidence). */
	Fedlead__Wire__RevealEvidence **evidence;
	size_t n_evidence;

	/* Knots from the federation's data (coord_knots.c): the coordinator's
	 * copy of the schema holding them (c->schema points to it once made),
	 * the knots as the statistics task carries them, and whether they are
	 * placed for the current participants. */
	struct fl_schema *kschema;
	double *knots;
	size_t n_knots;
	int knots_ready;
	/* The average lead's spline basis columns among the leads with a
	 * value, from the same histogram (fl_knots_basis_means()), for the
	 * model's baselines under differential privacy; NULL when not known (a
	 * coordinator resumed from a version 2 checkpoint). */
	double *knots_means;
	size_t n_knots_means;

	/* The schema round's proposal as sent (an encoded frame), for a
	 * partner that reconnects after it went out (coord_schema.c). */
	uint8_t *schema_frame;
	size_t schema_frame_len;
};

/* coord.c */
struct partner *fl_coord_find_partner(struct fl_fedcoord *c, const char *id);
/* Partners that are connected and/or participate (0 = either way). */
size_t fl_coord_count(const struct fl_fedcoord *c, int connected, int participant);
void fl_coord_fill_ref(const struct fl_fedcoord *c, Fedlead__Wire__RoundRef *ref);
void fl_coord_send_standardize(struct fl_fedcoord *c, struct partner *p);
/* Numbers a new round of task t and sends it to every participant. */
void fl_coord_begin_round(struct fl_fedcoord *c, enum task t);
void fl_coord_fail(struct fl_fedcoord *c, const char *msg);
int fl_coord_add_history(struct fl_fedcoord *c, const char *kind);
/* Values in each answer to the round in progress. */
size_t fl_coord_expected_len(const struct fl_fedcoord *c);
void fl_coord_complete_round(struct fl_fedcoord *c);
void fl_coord_partners_lost(struct fl_fedcoord *c, struct partner *only, const char *why);

/* coord_knots.c */
/* Under privacy, the knots round is one more release in the plan (1), or
 * there is none (0). */
uint64_t fl_coord_knots_releases(const struct fl_coord_settings *s, const struct fl_schema *schema);
/* The knots rounds the Welcome names (Plan.privacy_knots_releases): those
 * completed, in the history, and the one to come while no knots are held. */
uint64_t fl_coord_knots_planned(const struct fl_fedcoord *c);
/* Whether the knots round comes before the statistics round. */
int fl_coord_knots_needed(const struct fl_fedcoord *c);
/* The knots round when needed, else the statistics round. */
void fl_coord_begin_stats(struct fl_fedcoord *c);
/* The participants changed: knots are placed again from those left (not
 * under differential privacy: they came from a noised release). */
void fl_coord_knots_forget(struct fl_fedcoord *c);
/* The knots from the summed histograms acc, placed, logged and checkpointed. */
int fl_coord_finish_knots(struct fl_fedcoord *c, const double *acc);
/* Knots from a checkpoint (coord_checkpoint.c): features and n values as
 * saved, checked against the schema like a node checks them, then placed,
 * with the n_means basis means saved beside them when have_means (a
 * version 2 checkpoint has none). FL_ERR_DATA saying what does not match. */
int fl_coord_knots_restore(struct fl_fedcoord *c, uint32_t features, const double *v, size_t n,
                           int have_means, const double *means, size_t n_means);
/* Under differential privacy, the model's baselines of the spline basis
 * columns the statistics did not release: the knots round's means scaled by
 * the share of leads with a value (1 less the block's released special
 * and missing shares). Leaves them 0 where no means are known. */
void fl_coord_knots_baselines(const struct fl_fedcoord *c, double *baseline);

/* coord_train.c */
int fl_coord_start_lambda(struct fl_fedcoord *c, size_t k);
/* Refuses a schema with a monotone feature when the settings' algorithm
 * cannot enforce it (federated Newton can, with or without differential
 * privacy). */
int fl_coord_monotone_check(const struct fl_coord_settings *s, const struct fl_schema *schema);
/* Sets the schema's shape constraints on a restored solver. */
int fl_coord_solver_bounds(struct fl_fedcoord *c);
int fl_coord_next_task(struct fl_fedcoord *c);
int fl_coord_finish_stats(struct fl_fedcoord *c, const double *acc);
int fl_coord_finish_eval(struct fl_fedcoord *c, const double *acc);
int fl_coord_finish_fedavg(struct fl_fedcoord *c, const double *acc);

/* coord_schema.c: the schema round (set.schema_round) instead of training. */
int fl_coord_schema_join(struct fl_fedcoord *c, struct partner *p, const Fedlead__Wire__Hello *h,
                         char *reason, size_t reason_len);
int fl_coord_schema_message(struct fl_fedcoord *c, struct partner *p,
                            const Fedlead__Wire__Envelope *env);
/* A partner left: once the proposal is out and every partner has gone with
 * it, the round is done. */
void fl_coord_schema_leave(struct fl_fedcoord *c);

/* coord_secagg.c */
unsigned fl_coord_threshold(const struct fl_fedcoord *c);
int fl_coord_secure_begin(struct fl_fedcoord *c);
void fl_coord_evidence_clear(struct fl_fedcoord *c);
void fl_coord_secure_advance(struct fl_fedcoord *c);
int fl_coord_secure_message(struct fl_fedcoord *c, struct partner *p,
                            const Fedlead__Wire__Envelope *env);

/* coord_checkpoint.c */
void fl_coord_checkpoint(struct fl_fedcoord *c);

/* coord_privacy.c (privacy = on; each a no-op otherwise) */
/* Takes p's terms from its Hello, or refuses it: 0, or an FL_ERR_* with
 * reason (n bytes) set. */
int fl_coord_dp_join(struct fl_fedcoord *c, struct partner *p, const Fedlead__Wire__Hello *h,
                     char *reason, size_t n);
/* After a refusal by fl_coord_dp_join() before the start: fails the
 * federation when too few partners are left to start. */
void fl_coord_dp_refused(struct fl_fedcoord *c, struct partner *p, const char *reason);
/* Logs and audits the plan line, naming the tightest budget. */
void fl_coord_dp_plan(struct fl_fedcoord *c);
/* Records the participants' terms in the model. */
int fl_coord_dp_record(const struct fl_fedcoord *c, struct fl_model *m);

/*
 * The encoding the privacy plan trains in (privacy = on), derived from the
 * model's scaler alone, so a restored coordinator sends the same: every
 * 0/1 column (levels, missing indicators) centred at its frequency (the
 * scaler's baseline) and every column, the intercept too, divided by k =
 * FL_DP_CLIP_KAPPA sqrt(E ||x||^2) / sqrt(1 + features), E ||x||^2 the
 * expected squared norm of a centred row (1 for the intercept and each
 * standardised value, p (1 - p) for a 0/1 column of frequency p). The
 * nodes clip rows to their privacy_clip R in this encoding, so a row is
 * clipped at R k in the centred one: with the default R = sqrt(1 +
 * features), at kappa times the typical norm. Neither moves a node's
 * privacy (each clips to its own R and calibrates to it); both decide how
 * much of each row the noise buries (bench/README.md, "Differential
 * privacy"). fl_coord_dp_scaler() fills center and scale (d values each)
 * from the model's scaler and returns k.
 */
/* Whether a participant adds noise (and so centres its statistics). */
int fl_coord_dp_noisy(const struct fl_fedcoord *c);

#define FL_DP_CLIP_KAPPA 0.75
double fl_coord_dp_scaler(const struct fl_fedcoord *c, double *center, double *scale);

/* The centring of column j in that encoding, in standardised units (its
 * frequency for a 0/1 column, 0 otherwise). */
double fl_coord_dp_freq(const struct fl_fedcoord *c, size_t j);

/*
 * The model's weights (in the scaler's standardised units, d values) from
 * weights w in the plan's encoding: the change of variables undone, and
 * the whole scaled by min(1, R k / sqrt(E ||x||^2)) when the partners
 * clipped rows at R (R k in the centred encoding): a model fitted to rows
 * scaled down to that norm scores a typical unclipped row on that scale
 * (without it the held-out log-loss grows by 0.2 on the bank leads; the
 * AUC does not move).
 */
void fl_coord_dp_model_weights(const struct fl_fedcoord *c, const double *w, double *out);

/*
 * Where the privacy plan starts: the intercept's weight in the plan's
 * encoding (its column is 1 / k) at the log-odds of the class-weighted
 * rate of converted leads in the statistics, every other weight 0. The
 * first evaluation's Hessian is then the one near a model that ranks
 * nothing yet, sum c r (1 - r) x x^T with r that rate, instead of the
 * bound (1/4) sum c x x^T at w = 0, which for CoIL's 6 % converted leads
 * is 4.4 times too curved: two Newton steps with it went a quarter of the
 * way (bench/README.md, "Differential privacy"). Post-processing of the
 * released counts; 0 when they are missing.
 */
double fl_coord_dp_intercept(const struct fl_fedcoord *c);

#endif
