/*
 * The partner's side of the federation protocol, without any networking:
 * given a decoded message from the coordinator (Welcome, Reject, a task, the
 * final model), decide what to do and compute the reply from the partner's
 * rows. The network client (src/net/client.c) only moves frames: it feeds
 * every message to fl_fednode_input() and sends what comes back.
 *
 * The node enforces its own privacy policy (struct fl_node_policy) and never
 * relies on the coordinator's configuration: every message that would take
 * this partner outside the policy is refused with an error naming the rule,
 * "policy RULE: WHAT; refused", logged, written to the audit log (event
 * "refuse", with "rule" and "reason") and marked fatal, so the node stops
 * instead of reconnecting into the same refusal.
 */
#ifndef FEDLEAD_NODE_H
#define FEDLEAD_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/encode.h"
#include "fedlead/schema.h"
#include "fedlead/secagg.h"
#include "wire.pb-c.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

struct fl_fednode;
struct fl_audit;

/* Defaults of the node policy (also the config defaults of fedlead-node). */
#define FL_NODE_MIN_PARTNERS_DEFAULT 3
#define FL_NODE_MAX_LOCAL_EPOCHS_DEFAULT 100
#define FL_NODE_MAX_ROUNDS_DEFAULT 10000
#define FL_NODE_MAX_COLLUDERS_DEFAULT 1
#define FL_NODE_PRIVACY_DELTA_DEFAULT 1e-6
#define FL_NODE_PRIVACY_RELEASES_DEFAULT 20
#define FL_NODE_PRIVACY_KNOTS_MAX_DEFAULT 1
#define FL_NODE_PRIVACY_WINDOW_DEFAULT (365.0 * 86400)
/* How the Hello's privacy terms and the model's record name them. */
#define FL_DP_MECHANISM "distributed discrete Gaussian"
#define FL_DP_ACCOUNTANT "zCDP"
/*
 * The differential privacy plan this node follows and the coordinator
 * speaks, announced in the Hello (PrivacyTerms.plan) and the Welcome
 * (Plan.privacy_plan): the statistics' encoding (sums about the clip
 * midpoints), the split of a federation's rho (a tenth to the statistics,
 * the rest equally over the evaluations), the blocks' shares of an
 * evaluation, and what the task tag binds (dp_task_tag() in node.c). A
 * change to any of them is a new plan: nodes and coordinators of different
 * plans refuse each other before anything is charged, since the noise of
 * one would not add up with the other's, or the coordinator would decode
 * the statistics wrongly. v4: max_colluders joined the task tag. v5: the
 * statistics travel in scaled units, a log1p feature's about its own range,
 * a block's indicators as levels; the positives count takes a full part of
 * the sensitivity; the knots round is a release; training starts at the
 * intercept of the noisy rate. v6: the Welcome names the knots rounds
 * (Plan.privacy_knots_releases) and a node answers no more of them; every
 * refusal of a release is decided before the rows are read; the noise
 * grid's range is checked from the row count and the sensitivity, not from
 * the values; the knots release sums at most 2^30 rows like the
 * statistics. v7: the gradient of an evaluation whose task does not ask
 * for the Hessian clips each row's term to FL_DP_GRAD_CLIP R over the rows
 * clipped at FL_DP_GRAD_ROW_CLIP R, and that of one whose task asks for it
 * (the plan's first) has sensitivity c R sigma(||w|| R), which holds for
 * any w; the plan takes four evaluations (privacy_releases = 5 with the
 * statistics).
 */
#define FL_DP_PLAN_VERSION 7
#define FL_DP_PLAN_STR_(v) #v
#define FL_DP_PLAN_STR(v) FL_DP_PLAN_STR_(v)
#define FL_DP_PLAN "fedlead-dp-v" FL_DP_PLAN_STR(FL_DP_PLAN_VERSION)

/* The evaluations plan v7 takes per l2 value (the Hessian once, then the
 * gradient alone): the coordinator's max_iterations when privacy = on and
 * max_iterations is not set, so that with the statistics they are the
 * privacy_releases = 5 its nodes are set for (l2 fixed, no validation). */
#define FL_DP_PLAN_EVALUATIONS 4

/*
 * Plan v7's per-row gradient clip, as a fraction of the row clip R
 * (privacy_clip): in every evaluation without the Hessian, each row's term
 * c x (sigmoid(z) - y) is scaled to l2 norm at most FL_DP_GRAD_CLIP R,
 * which is then that gradient's sensitivity. The rows there are clipped at
 * FL_DP_GRAD_ROW_CLIP R, not R. The values are bench/dp_mech.py's
 * gclip4-80 (cg = 0.8, rg = 100), simulated in bench/README.md, "A
 * gradient mechanism for epsilon 1". Integers, so that the assertion
 * below can compare them (80 / 100.0 is the double 0.8 exactly).
 */
#define FL_DP_GRAD_CLIP_PERCENT 80
#define FL_DP_GRAD_CLIP (FL_DP_GRAD_CLIP_PERCENT / 100.0)
#define FL_DP_GRAD_ROW_CLIP 100

/* These values are part of plan v7: the plan name, which nodes and
 * coordinators compare, must stand for one gradient mechanism and one
 * number of evaluations. A change to any of them is a new plan: raise
 * FL_DP_PLAN_VERSION and write the new plan's values here (the build
 * fails until both agree). */
_Static_assert(FL_DP_PLAN_VERSION == 7 && FL_DP_GRAD_CLIP_PERCENT == 80 &&
                       FL_DP_GRAD_ROW_CLIP == 100 && FL_DP_PLAN_EVALUATIONS == 4,
               "differential privacy plan v7 clips gradients at 0.8 R over rows "
               "clipped at 100 R in 4 evaluations: another value needs a new "
               "FL_DP_PLAN_VERSION");

/*
 * Differential privacy, decided by this partner alone (see the comment above
 * dp_release() in src/fed/node.c for the mechanism and its assumptions).
 * With epsilon > 0 every training evaluation this node sends carries
 * discrete Gaussian noise under the masks, calibrated so that the sum over
 * the honest survivors of a round costs at most
 * rho(federation_epsilon, delta) / releases in zCDP, and each release is
 * charged to the ledger before it leaves; a federation whose plan would
 * take the window past rho(epsilon, delta) is refused at the Welcome.
 */
struct fl_node_privacy {
	double epsilon;            /* budget per window; 0 = differential privacy off */
	double delta;              /* of (epsilon, delta), in (0, 1) */
	double window;             /* seconds the budget covers */
	double federation_epsilon; /* what one federation may spend; 0 = epsilon */
	uint64_t releases;         /* evaluations one federation's share is split over */
	/* Most knots rounds (histograms) one federation gets, >= 1: a
	 * Welcome naming more is refused (privacy_knots_max). */
	uint64_t knots_max;
	double clip;        /* l2 bound of a standardised row; 0 = sqrt(1 + features) */
	const char *ledger; /* the privacy ledger file (required when epsilon > 0) */
};

/* What this partner accepts, whatever the coordinator asks for. */
struct fl_node_policy {
	const char *federation_id;   /* the only federation to join; NULL = any */
	const char *const *partners; /* the consortium expected; NULL = not checked */
	size_t n_partners;
	int allow_plaintext; /* updates without secure aggregation (inside TLS) */
	size_t min_partners; /* fewest partners a secure sum may cover (>= 2) */
	/* Partners that may collude with the coordinator: a round is refused
	 * unless its threshold t keeps them out (2t > participants + this,
	 * and t > this), see fl_node_threshold_safe(). */
	unsigned max_colluders;
	uint32_t max_local_epochs;      /* largest local_train epochs */
	uint64_t max_rounds;            /* largest round number */
	int allow_participant_change;   /* reveal sums over a changed set (see secagg.h) */
	struct fl_node_privacy privacy; /* off unless privacy.epsilon > 0 */
};

/* The safe defaults: secure aggregation required, sums over 3 partners at
 * least, any federation id, no consortium list. */
void fl_node_policy_default(struct fl_node_policy *p);

/*
 * Whether a t-of-n secret sharing keeps c partners colluding with the
 * coordinator from unmasking one partner's input. Two conditions:
 *   t > c:       the colluders' own shares do not reconstruct a secret;
 *   2t > n + c:  the ConsistencyCheck holds. A coordinator that shows
 *                "p survived" to one group of honest partners and "p
 *                dropped" to another needs t signatures on each set; the
 *                colluders sign both, so the two groups need t - c honest
 *                signers each, 2(t - c) <= n - c of them in all.
 */
int fl_node_threshold_safe(unsigned t, size_t n, unsigned c);

/* Checks a policy's settings against each other: FL_ERR_CONFIG naming the
 * settings, or 0. fl_fednode_set_policy() checks too. */
int fl_node_policy_check(const struct fl_node_policy *p);

/* Takes ownership of raw (the partner's encoded, unstandardised rows). */
int fl_fednode_new(const struct fl_schema *s, struct fl_dataset *raw, struct fl_fednode **out);
void fl_fednode_free(struct fl_fednode *n);

/*
 * For secure aggregation: the key that signs this partner's key
 * advertisements (its certificate key) and the CA store that checks the
 * other partners' certificates. Both stay owned by the caller.
 */
void fl_fednode_set_credentials(struct fl_fednode *n, EVP_PKEY *key, X509_STORE *store);

/*
 * Replaces the policy (fl_fednode_new() starts with fl_node_policy_default()).
 * Strings are copied. FL_ERR_CONFIG for min_partners below 2 or above
 * FL_WIRE_MAX_PARTIES, or a partner list shorter than min_partners.
 */
int fl_fednode_set_policy(struct fl_fednode *n, const struct fl_node_policy *p);

/* Where join, reject, refuse and model events go (may be NULL; caller's). */
void fl_fednode_set_audit(struct fl_fednode *n, struct fl_audit *audit);

/*
 * The final model: verified against ca (and crl, may be NULL) and written to
 * model_out by fl_fednode_input(). Strings stay the caller's.
 */
void fl_fednode_set_output(struct fl_fednode *n, const char *ca, const char *crl,
                           const char *model_out);

/*
 * The ledger of federations joined on this data, in the file path (one line
 * per federation: "v1 UNIX-TIME DATA-SHA256 FEDERATION-ID"). A Welcome into a
 * federation not yet in the ledger is refused (rule max_federations) when
 * max federations on the same rows (schema and values) were already joined
 * within the last window seconds; otherwise it is appended before the node
 * answers anything. The ledger also keeps the set of partners each
 * federation revealed sums over ("r1 UNIX-TIME DATA-SHA256 HEX-SET
 * FEDERATION-ID", written before the reply that reveals leaves): a later
 * federation on the same rows within the window, or the same federation
 * after a restart, is held to that set (rule allow_participant_change).
 * max = 0 turns the ledger off, and with it both rules.
 */
int fl_fednode_set_ledger(struct fl_fednode *n, const char *path, uint64_t max, double window);

/* Builds the Hello frame (malloc'ed) for federation_id (may be ""). With
 * differential privacy on it carries the node's terms, and opens the
 * privacy ledger to say what is left of the budget. */
int fl_fednode_hello(struct fl_fednode *n, const char *federation_id, uint8_t **frame, size_t *len);

/*
 * Applies the coordinator's Welcome: checks the protocol version, the plan
 * and the policy, records the federation in the ledger, and splits off the
 * validation rows. Safe to call again after a reconnect (the split is
 * deterministic). Policy refusals (fatal, see the file comment):
 *   "policy federation: coordinator runs federation \"X\", this node joins
 *    only \"Y\"; refused"
 *   "policy require_secure_aggregation: coordinator runs federation X without
 *    secure aggregation, so this partner's updates would reach it in
 *    plaintext; refused"
 *   "policy max_federations: this data already joined N federations in the
 *    last S s (max_federations = N); refused"
 */
int fl_fednode_welcome(struct fl_fednode *n, const Fedlead__Wire__Welcome *w);

#define FL_FEDNODE_REPLY 1 /* *frame holds the reply to send */
#define FL_FEDNODE_NONE 0  /* nothing to send */
#define FL_FEDNODE_FINAL 2 /* a FinalModel: the caller verifies and saves it */
#define FL_FEDNODE_DONE 3  /* model saved: send *frame (Status SAVED), then stop */
#define FL_FEDNODE_CLOSE 4 /* the coordinator refused this partner for now: reconnect */

/*
 * Handles one task. Returns FL_FEDNODE_REPLY with a malloc'ed frame, NONE,
 * FINAL, or a negative FL_ERR_* for a message that must close the
 * connection (wrong federation, stale round, malformed task). A task the
 * node cannot do for a reason of its own (say, invalid SGD settings) is
 * answered with an error Status instead. Policy refusals (fatal):
 *   "policy max_rounds: ...", "policy max_local_epochs: ...",
 *   "policy vector_size: ...", "policy bound: ...", "policy min_partners:
 *   ...", "policy partners: ...", "policy require_secure_aggregation: ..."
 * (the exact texts are in src/fed/node.c and tests/test_node_policy.c).
 */
int fl_fednode_handle(struct fl_fednode *n, const Fedlead__Wire__Envelope *env, uint8_t **frame,
                      size_t *len);

/*
 * The one entry of the network client: any message from the coordinator
 * (peer names it in messages, "coordinator HOST:PORT"). Welcome and tasks
 * as fl_fednode_welcome() and fl_fednode_handle(); a Reject returns
 * FL_FEDNODE_CLOSE (temporary) or FL_ERR_AUTH "PEER refused this partner:
 * REASON" (permanent, fatal); a FinalModel is verified and saved (see
 * fl_fednode_set_output()) and returns FL_FEDNODE_DONE with the SAVED
 * status to send, or an error with *frame holding the error Status to send
 * before stopping. On a negative return the connection closes;
 * fl_fednode_fatal() says whether the node must stop rather than reconnect.
 */
int fl_fednode_input(struct fl_fednode *n, const char *peer, const Fedlead__Wire__Envelope *env,
                     uint8_t **frame, size_t *len);

/* 1 when the last error ends the node: a policy refusal, a permanent
 * Reject, a final model that does not verify or cannot be saved. */
int fl_fednode_fatal(const struct fl_fednode *n);

/* 1 once a Welcome was accepted on the current connection (cleared by
 * fl_fednode_disconnected()). */
int fl_fednode_welcomed(const struct fl_fednode *n);
void fl_fednode_disconnected(struct fl_fednode *n);

/* Builds a Status frame for the round of ref. */
int fl_fednode_status(const struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
                      Fedlead__Wire__StatusCode code, const char *detail, uint8_t **frame,
                      size_t *len);

/* The newest round this node has seen. */
uint64_t fl_fednode_last_round(const struct fl_fednode *n);

/* Rows on this site: training and validation parts (after the Welcome). */
void fl_fednode_rows(const struct fl_fednode *n, size_t *train, size_t *valid);

/*
 * How many times this node has read its rows for a task (a sum over them,
 * or their encoding with knots): a task it refuses reads none, so the time
 * a refusal takes says nothing of the rows. For tests.
 */
uint64_t fl_fednode_row_passes(const struct fl_fednode *n);

#endif
