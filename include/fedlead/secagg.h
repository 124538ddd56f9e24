/*
 * The secure-aggregation protocol (Bonawitz et al., CCS 2017, with signed key
 * advertisements), one aggregation at a time, without any networking:
 * struct fl_secagg_node is a partner's side of one round, struct fl_secagg_coord
 * the coordinator's. The cryptography is secagg.h's.
 *
 * Per round the coordinator learns the sum over the surviving partners of
 * their fixed-point vectors, and nothing that separates one partner's
 * vector from the others': every vector it receives is masked by a
 * self-mask and by pairwise masks that cancel in the sum. Masks of partners
 * that drop out after sharing are removed with t-of-n secret shares held
 * by the others; a node never reveals both kinds of share for one peer.
 *
 * Against a coordinator that deviates from the protocol (Bonawitz et al.'s
 * active-adversary variant, plus fedlead's own rules), a node also:
 * - signs, in its key advertisement, a hash of the task it received (see
 *   fl_wire_task_hash()) and refuses to go on unless every other
 *   advertisement signs the same hash: all partners were given the same
 *   weights, round, participants and parameters, so the coordinator cannot
 *   send one partner a task that isolates its update;
 * - refuses a task whose participant list leaves it out or is smaller than
 *   its policy's minimum, and a key list naming anyone not in that list;
 * - signs the survivor set before unmasking (ConsistencyCheck) and reveals
 *   shares only for a set that at least t survivors signed, so no two
 *   partners can be shown different survivor sets;
 * - within one federation, reveals sums over one survivor set only (the
 *   first one it revealed), unless its operator allows the set to change:
 *   two sums over different sets at weights that agree or nearly agree
 *   difference to the missing partners' update; the set loses a partner
 *   only when the task carries evidence, checked by the node itself, that
 *   the partner revealed a bad share (it is hostile: the difference is its
 *   own update).
 */
#ifndef FEDLEAD_SECAGG_H
#define FEDLEAD_SECAGG_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "fedlead/wire.h"

/* Fixed-point precision of the vectors (see fl_fixed_bound in fixedpoint.h). */
#define FL_SECAGG_FRAC_BITS 32
#define FL_SECAGG_STATS_FRAC_BITS 16

/* ---- partner side ---- */

struct fl_secagg_node;

/* What a node accepts; its own configuration, never the coordinator's. */
struct fl_secagg_policy {
	unsigned min_partners;        /* fewest partners a revealed sum may cover (>= 2) */
	int allow_participant_change; /* reveal sums over different sets in one federation */
	unsigned max_colluders;       /* partners assumed to collude with the coordinator */
};

/* What a node has revealed so far in one federation (one per federation,
 * kept by the node state machine across rounds and attempts). */
struct fl_secagg_history;
int fl_secagg_history_new(struct fl_secagg_history **out);
void fl_secagg_history_free(struct fl_secagg_history *h);
/* The survivor set of the sums revealed so far ("" before the first),
 * comma-separated, for messages and tests. */
const char *fl_secagg_history_set(const struct fl_secagg_history *h);
/*
 * Seeds an empty history with a set this data revealed sums over before
 * (read from the node's ledger; origin says where, e.g. 'federation "x"'),
 * so that the one-set rule spans federations and restarts. FL_ERR_NOMEM,
 * or 0 (a history that revealed already keeps its own set).
 */
int fl_secagg_history_seed(struct fl_secagg_history *h, const char *set, const char *origin);
/* Where the history's set came from: NULL when this node revealed it in
 * the federation it is in, else the origin given to the seed. */
const char *fl_secagg_history_origin(const struct fl_secagg_history *h);
/*
 * The one-set rule applied to a task's participants, before this partner
 * sends anything derived from its data: 0 when nothing was revealed yet,
 * when the participants include every partner of the set revealed over (a
 * survivor set may still be that set; the ConsistencyCheck refuses any
 * other), or when allow is set; otherwise FL_ERR_AUTH, e.g.
 *   "the task's participants {a,b} are not the set {a,b,c} this data's sums
 *    were revealed over in this federation: the two could be differenced"
 * (or "... in ORIGIN"). A list naming a partner twice is FL_ERR_PROTO.
 *
 * The task's evidence (protocol 4; SecAggParams.evidence) may prove that
 * partners of the set revealed bad shares in the attempt this node last
 * revealed in. Each piece is checked here alone, with the certificates,
 * x and session this node recorded when it revealed, and store (its CA):
 * the revealer's signature over its reply, the dealer's over the
 * commitment, the revealer's own acknowledgement of that commitment, and
 * a revealed share that differs from it. Then the set loses the proven
 * partners (written to proven, comma-separated, when not NULL): a sum
 * without a proven-hostile partner differences, with the earlier ones, to
 * that partner's update alone. Evidence that does not verify is
 * FL_ERR_AUTH "the coordinator's evidence against p2 does not verify:
 * WHAT" (WHAT, e.g., "it is from round 3; this partner last revealed
 * shares in round 4", "the share p2 revealed matches p1's signed
 * commitment"), and a task that also leaves out a partner the evidence
 * does not prove anything of is FL_ERR_AUTH too. Evidence is not looked at
 * when allow is set or nothing was revealed.
 */
int fl_secagg_history_check(struct fl_secagg_history *h, char *const *participants, size_t n,
                            int allow, Fedlead__Wire__RevealEvidence *const *evidence,
                            size_t n_evidence, X509_STORE *store, char *proven, size_t cap);

/*
 * Starts a round: encodes x (n values) in fixed point and makes fresh keys.
 * key signs the advertisement (the partner's certificate key). Fails with
 * FL_ERR_LIMIT naming the value when x exceeds the announced bound.
 * *advert receives the KeyAdvert frame to send.
 */
int fl_secagg_node_start(const char *federation_id, const Fedlead__Wire__RoundRef *ref,
                         const Fedlead__Wire__SecAggParams *p, unsigned t, const char *identity,
                         EVP_PKEY *key, const uint8_t task_hash[FL_WIRE_KEY_LEN],
                         const struct fl_secagg_policy *pol, struct fl_secagg_history *hist,
                         Fedlead__Wire__UpdateKind kind, const double *x, size_t n,
                         struct fl_secagg_node **out, uint8_t **advert, size_t *advert_len);

/* The KeyList: verifies every advertisement against the CA store, then
 * returns the ShareSet frame (this partner's shares, one per peer). */
int fl_secagg_node_keys(struct fl_secagg_node *s, const Fedlead__Wire__KeyList *kl,
                        X509_STORE *store, uint8_t **frame, size_t *len);

/*
 * The shares addressed to this partner: checks each against the
 * commitment its dealer signed for this partner (FL_ERR_AUTH when a
 * signature does not verify or a share does not open: the coordinator
 * relays both, so neither names the dealer) and returns the MaskedUpdate
 * frame. When a share opens but differs from its dealer's signed
 * commitment, the frame is an Accusation naming the dealer instead (see
 * proto/wire.proto), nothing of this partner's data leaves in this
 * attempt, and fl_secagg_node_accused() names the dealer. So is it for a
 * share that does not open, when the threshold leaves room for disclosing
 * this attempt's share-encryption secret (t > c + 1 and 2t > n + c + 1,
 * c = the policy's max_colluders); otherwise that is FL_ERR_AUTH.
 */
int fl_secagg_node_shares(struct fl_secagg_node *s, const Fedlead__Wire__ShareSet *ss,
                          uint8_t **frame, size_t *len);
/* The dealer this partner accused in this attempt, or NULL; and what its
 * share did ("does not match DEALER's signed commitment" or "does not
 * open under the keys both advertised"). */
const char *fl_secagg_node_accused(const struct fl_secagg_node *s);
const char *fl_secagg_node_accused_why(const struct fl_secagg_node *s);

/* The ConsistencyCheck: checks the survivor set against what this node
 * knows and its policy, and returns the ConsistencySignature frame. */
int fl_secagg_node_consistency(struct fl_secagg_node *s, const Fedlead__Wire__ConsistencyCheck *cc,
                               uint8_t **frame, size_t *len);

/* The UnmaskRequest: refuses a request whose sets differ from the ones
 * this node signed, that carries fewer than t valid survivor signatures
 * of them, or that names one peer both as survivor and dropped; returns
 * the UnmaskReply, signed with the partner's certificate key over each
 * share's commitment and the dealer's commitment it matched (see
 * proto/wire.proto, RevealedDigest), and records the attempt in the
 * history (what later evidence is checked against). */
int fl_secagg_node_unmask(struct fl_secagg_node *s, const Fedlead__Wire__UnmaskRequest *rq,
                          uint8_t **frame, size_t *len);

/* The node policy rule of the last FL_ERR_AUTH refusal of
 * fl_secagg_node_consistency() or fl_secagg_node_unmask():
 * "allow_participant_change" (the one-set rule) or "consistency_check". */
const char *fl_secagg_node_refused_rule(const struct fl_secagg_node *s);

/* Wipes all secrets. */
void fl_secagg_node_free(struct fl_secagg_node *s);

/* ---- coordinator side ---- */

struct fl_secagg_coord;

/* One aggregation of n values among the given partners (sorted), threshold t. */
int fl_secagg_coord_new(const char *federation_id, const Fedlead__Wire__RoundRef *ref,
                        const Fedlead__Wire__SecAggParams *p, unsigned t,
                        const char *const *partners, size_t np, Fedlead__Wire__UpdateKind kind,
                        size_t n, struct fl_secagg_coord **out);
void fl_secagg_coord_free(struct fl_secagg_coord *c);

/* Records a partner's advertisement with the certificate it presented. */
int fl_secagg_coord_advert(struct fl_secagg_coord *c, const char *partner,
                           const Fedlead__Wire__KeyAdvert *a, const uint8_t *cert, size_t cert_len);
/* The KeyList of everyone who advertised (at least t needed). */
int fl_secagg_coord_key_list(struct fl_secagg_coord *c, uint8_t **frame, size_t *len);
int fl_secagg_coord_shares(struct fl_secagg_coord *c, const char *partner,
                           const Fedlead__Wire__ShareSet *ss);
/* The ShareSet frame for one partner: the shares addressed to it. */
int fl_secagg_coord_shares_for(struct fl_secagg_coord *c, const char *partner, uint8_t **frame,
                               size_t *len);
int fl_secagg_coord_masked(struct fl_secagg_coord *c, const char *partner,
                           const Fedlead__Wire__MaskedUpdate *m);
/* The ConsistencyCheck (survivors = those whose masked input arrived). */
int fl_secagg_coord_consistency_check(struct fl_secagg_coord *c, uint8_t **frame, size_t *len);
/* Records a survivor's signature of the set. */
int fl_secagg_coord_signature(struct fl_secagg_coord *c, const char *partner,
                              const Fedlead__Wire__ConsistencySignature *sig);
/* The UnmaskRequest: the same sets, with the signatures received. */
int fl_secagg_coord_unmask_request(struct fl_secagg_coord *c, uint8_t **frame, size_t *len);
int fl_secagg_coord_reveal(struct fl_secagg_coord *c, const char *partner,
                           const Fedlead__Wire__UnmaskReply *r);
/* A holder's claim that a dealer's share does not match the dealer's
 * signed commitment: checked with the key it discloses, naming whoever
 * lied (fl_secagg_coord_fault()). */
int fl_secagg_coord_accusation(struct fl_secagg_coord *c, const char *partner,
                               const Fedlead__Wire__Accusation *a);
/*
 * What partner was proven to have done in this round, or NULL. Proven by
 * checks that need no trust in the coordinator: a share or commitment that
 * does not match its dealer's signature, a disclosed key that does not
 * open, t shares that each match their dealer's commitment but not its
 * secret; or a malformed message on the partner's own connection. E.g.
 *   "round 1: partner p2 revealed a share of p3's self-mask seed that does
 *    not match p3's signed commitment; p2 is excluded"
 * The functions that find a fault record it and return 0 (the message was
 * handled); fl_secagg_coord_finish() returns FL_ERR_AUTH with it when the
 * sum cannot be unmasked. A faulty partner owes nothing more and is no
 * member of any step.
 */
const char *fl_secagg_coord_fault(const struct fl_secagg_coord *c, const char *partner);
/*
 * The evidence that revealer's reply holds a share of owner that does not
 * match owner's signed commitment (owner NULL: the share that made it a
 * fault, if one did), for the partners' next task (SecAggParams.evidence).
 * *out is NULL when the revealer's reply was not verified, or (owner NULL)
 * proved nothing; free it with fl_secagg_evidence_free(). With an owner
 * whose share matched, it is evidence no node accepts (for tests).
 */
int fl_secagg_coord_evidence(const struct fl_secagg_coord *c, const char *revealer,
                             const char *owner, Fedlead__Wire__RevealEvidence **out);
void fl_secagg_evidence_free(Fedlead__Wire__RevealEvidence *e);
/* Removes the masks: out gets the n values of the sum over the survivors. */
int fl_secagg_coord_finish(struct fl_secagg_coord *c, double *out);

/* Progress, for the state machine. */
enum fl_secagg_step {
	FL_SECAGG_ADVERT,
	FL_SECAGG_SHARES,
	FL_SECAGG_MASKED,
	FL_SECAGG_CONSISTENCY,
	FL_SECAGG_UNMASK
};
enum fl_secagg_step fl_secagg_coord_step(const struct fl_secagg_coord *c);
/* Partners that still owe a message in the current step. */
int fl_secagg_coord_owes(const struct fl_secagg_coord *c, const char *partner);
size_t fl_secagg_coord_count(const struct fl_secagg_coord *c, enum fl_secagg_step step);
/* Who is in a step's set (advertised / shared / sent masked input / signed
 * the survivor set / revealed). */
int fl_secagg_coord_member(const struct fl_secagg_coord *c, enum fl_secagg_step step,
                           const char *partner);

#endif
