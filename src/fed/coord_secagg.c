/*
 * The coordinator's side of secure aggregation: a fresh session for each
 * round, the partners' secure-aggregation messages handed to the protocol
 * (fl_secagg_coord_*, secagg.c), and each step's frames sent on once
 * nobody owes the step, until the unmasked sum completes the round.
 */
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

#include "coord_int.h"
#include "fedlead/error.h"
#include "fedlead/fault.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/log.h"
#include "fedlead/secagg.h"
#include "fedlead/wire.h"

unsigned fl_coord_default_threshold(size_t n, unsigned c)
{
	size_t t = (n + c) / 2 + 1;

	if (t <= c)
		t = (size_t)c + 1;
	if (t > n)
		t = n;
	return t < 2 ? 2 : (unsigned)t;
}

/* The threshold t of this round's secret sharing. */
unsigned fl_coord_threshold(const struct fl_fedcoord *c)
{
	if (c->set.threshold)
		return c->set.threshold;
	return fl_coord_default_threshold(fl_coord_count(c, 0, 1), c->set.max_colluders);
}

void fl_coord_evidence_clear(struct fl_fedcoord *c)
{
	for (size_t i = 0; i < c->n_evidence; i++)
		fl_secagg_evidence_free(c->evidence[i]);
	free(c->evidence);
	c->evidence = NULL;
	c->n_evidence = 0;
}

/*
 * What the partners are shown of the attempt about to end: once they have
 * been asked to reveal shares in it, the evidence of earlier attempts is
 * of no use (each node checks evidence against the attempt it last
 * revealed in), and the evidence against every partner this attempt
 * proved to have revealed a bad share replaces it. Other faults (a bad
 * share dealt, an accusation, inconsistent dealing) prove nothing a node
 * can check: leaving such a partner out of the set the nodes revealed
 * over is refused by their one-set rule unless allow_participant_change.
 */
static int evidence_after_attempt(struct fl_fedcoord *c)
{
	if (c->sa == NULL || fl_secagg_coord_step(c->sa) != FL_SECAGG_UNMASK)
		return 0;
	fl_coord_evidence_clear(c);
	for (size_t i = 0; i < c->np; i++) {
		Fedlead__Wire__RevealEvidence *e = NULL, **v;
		int r;

		if ((r = fl_secagg_coord_evidence(c->sa, c->p[i].id, NULL, &e)) != 0)
			return r;
		if (e == NULL)
			continue;
		if ((v = realloc(c->evidence, (c->n_evidence + 1) * sizeof(*v))) == NULL) {
			fl_secagg_evidence_free(e);
			return FL_ERR_NOMEM;
		}
		c->evidence = v;
		c->evidence[c->n_evidence++] = e;
		fl_log(FL_LOG_INFO,
		       "round %llu: the next task carries the evidence that %s revealed a bad "
		       "share, for every partner to check",
		       (unsigned long long)c->round, c->p[i].id);
	}
	return 0;
}

/*
 * Prepares secure aggregation for the round being begun: a fresh session
 * (so nothing of an earlier attempt can be replayed into this one) and the
 * fixed-point format, with the bound that keeps the sum of every
 * participant's values from wrapping.
 */
int fl_coord_secure_begin(struct fl_fedcoord *c)
{
	const char **ids = NULL;
	size_t k = 0;
	Fedlead__Wire__RoundRef ref;
	Fedlead__Wire__UpdateKind kind;
	int r;

	fl_secagg_coord_free(c->sa);
	c->sa = NULL;
	free(c->secure_sum);
	c->secure_sum = NULL;
	if (!c->set.secure || c->task == T_FINAL || c->task == T_NONE)
		return 0;
	if (RAND_bytes(c->session, sizeof(c->session)) != 1)
		return fl_fail(FL_ERR_CRYPTO, "no randomness for the secure-aggregation session");
	fedlead__wire__sec_agg_params__init(&c->sap);
	c->sap.session = (ProtobufCBinaryData){sizeof(c->session), c->session};
	c->sap.frac_bits = c->task == T_STATS || c->task == T_KNOTS ? FL_SECAGG_STATS_FRAC_BITS
	                                                            : FL_SECAGG_FRAC_BITS;
	c->sap.bound = fl_fixed_bound(c->sap.frac_bits, c->np);
	/* t travels with each round: the participants are known only once the
	 * federation has started, after the early partners' Welcome. */
	c->sap.threshold = fl_coord_threshold(c);
	kind = c->task == T_STATS   ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS
	       : c->task == T_KNOTS ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_HIST
	       : c->task == T_EVAL  ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL
	                            : FEDLEAD__WIRE__UPDATE_KIND__UPDATE_FEDAVG;
	if ((ids = calloc(c->np + 1, sizeof(*ids))) == NULL)
		return FL_ERR_NOMEM;
	free(c->sap_participants);
	if ((c->sap_participants = calloc(c->np + 1, sizeof(char *))) == NULL) {
		free(ids);
		return FL_ERR_NOMEM;
	}
	for (size_t i = 0; i < c->np; i++) {
		c->p[i].sa_lost = 0;
		if (c->p[i].participant)
			ids[k++] = c->p[i].id;
	}
	/* Every node checks the list against its policy and signs it in its
	 * task hash: the same list for all, sorted (c->p is sorted). */
	for (size_t i = 0; i < k; i++)
		c->sap_participants[i] = (char *)ids[i];
	c->sap.participants = c->sap_participants;
	c->sap.n_participants = k;
	c->sap.evidence = c->evidence;
	c->sap.n_evidence = c->n_evidence;
	fl_coord_fill_ref(c, &ref);
	r = fl_secagg_coord_new(c->federation_id, &ref, &c->sap, fl_coord_threshold(c), ids, k,
	                        kind, fl_coord_expected_len(c), &c->sa);
	free(ids);
	return r;
}

/*
 * Excludes every participant the round proved to have deviated
 * (fl_secagg_coord_fault()): each is named in the log and the audit log,
 * refused for good (fl_fedcoord_join() turns a dropped partner away) and
 * the round is redone without it, whatever late_policy says: a proven
 * fault is not lateness, and waiting for the partner to come back would
 * only repeat it. With late_policy = abort the federation stops instead.
 * Returns 1 when it excluded anyone (the round in progress is over).
 */
static int secure_exclude(struct fl_fedcoord *c)
{
	char why[1024] = "";
	enum fl_late_policy keep = c->set.late_policy;
	size_t n = 0;

	if (c->sa == NULL)
		return 0;
	for (size_t i = 0; i < c->np; i++)
		n += c->p[i].participant && fl_secagg_coord_fault(c->sa, c->p[i].id) != NULL;
	if (n == 0)
		return 0;
	n = 0;
	if (evidence_after_attempt(c) != 0) {
		/* Without it the nodes refuse the next task by their policy. */
		fl_log(FL_LOG_ERROR, "round %llu: evidence of the exclusion: %s",
		       (unsigned long long)c->round, fl_errmsg());
		fl_coord_evidence_clear(c);
	}
	for (size_t i = 0; i < c->np; i++) {
		struct partner *p = &c->p[i];
		const char *fault = p->participant ? fl_secagg_coord_fault(c->sa, p->id) : NULL;

		/* Pending marks whom fl_coord_partners_lost() drops. */
		p->pending = fault != NULL;
		if (fault == NULL)
			continue;
		fl_log(FL_LOG_ERROR, "%s", fault);
		fl_audit_event(c->io.audit, "exclude", "{s:s, s:I, s:s}", "partner", p->id, "round",
		               (json_int_t)c->round, "reason", fault);
		if (n++ == 0)
			snprintf(why, sizeof(why), "%s", fault);
		if (p->connected) {
			Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
			Fedlead__Wire__Reject rj = FEDLEAD__WIRE__REJECT__INIT;

			rj.reason = (char *)fault;
			rj.permanent = 1;
			env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_REJECT;
			env.reject = &rj;
			p->connected = 0;
			c->io.send(c->io.ctx, p->id, &env);
			c->io.disconnect(c->io.ctx, p->id);
		}
	}
	fl_secagg_coord_free(c->sa);
	c->sa = NULL;
	free(c->secure_sum);
	c->secure_sum = NULL;
	if (keep != FL_LATE_ABORT)
		c->set.late_policy = FL_LATE_DROP;
	fl_coord_partners_lost(c, NULL, why);
	c->set.late_policy = keep;
	return 1;
}

/* Who owes a message in the current secure-aggregation step. */
static void secure_pending(struct fl_fedcoord *c)
{
	for (size_t i = 0; i < c->np; i++) {
		struct partner *p = &c->p[i];

		p->pending = p->participant && !p->sa_lost && fl_secagg_coord_owes(c->sa, p->id);
	}
}

static void secure_broadcast(struct fl_fedcoord *c, enum fl_secagg_step members,
                             const uint8_t *frame, size_t len, const char *type)
{
	for (size_t i = 0; i < c->np; i++) {
		struct partner *p = &c->p[i];

		if (p->participant && !p->sa_lost && p->connected &&
		    fl_secagg_coord_member(c->sa, members, p->id))
			c->io.send_frame(c->io.ctx, p->id, frame, len, type);
	}
}

/*
 * Moves secure aggregation on once nobody owes the current step: key list
 * to the advertisers, each partner's shares to it, the unmask request to
 * the survivors, and finally the unmasked sum to fl_coord_complete_round(). Partners
 * lost on the way (late_policy = drop) are left out of the next step; if
 * fewer than t remain, the round is abandoned and nothing is revealed.
 */
void fl_coord_secure_advance(struct fl_fedcoord *c)
{
	uint8_t *frame = NULL;
	size_t len;
	int r = 0;

	for (size_t i = 0; i < c->np; i++)
		if (c->p[i].pending)
			return;
	switch (fl_secagg_coord_step(c->sa)) {
	case FL_SECAGG_ADVERT:
		if ((r = fl_secagg_coord_key_list(c->sa, &frame, &len)) == 0)
			secure_broadcast(c, FL_SECAGG_ADVERT, frame, len, "key_list");
		fl_fault_point("keys", c->round);
		break;
	case FL_SECAGG_SHARES:
		for (size_t i = 0; r == 0 && i < c->np; i++) {
			struct partner *p = &c->p[i];

			if (!p->participant || p->sa_lost || !p->connected ||
			    !fl_secagg_coord_member(c->sa, FL_SECAGG_SHARES, p->id))
				continue;
			if ((r = fl_secagg_coord_shares_for(c->sa, p->id, &frame, &len)) == 0)
				c->io.send_frame(c->io.ctx, p->id, frame, len, "share_set");
			free(frame);
			frame = NULL;
		}
		if (r == 0 && fl_secagg_coord_count(c->sa, FL_SECAGG_SHARES) == 0)
			r = fl_fail(FL_ERR_PROTO, "no partner shared keys");
		fl_fault_point("shares", c->round);
		break;
	case FL_SECAGG_MASKED:
		if ((r = fl_secagg_coord_consistency_check(c->sa, &frame, &len)) == 0)
			secure_broadcast(c, FL_SECAGG_MASKED, frame, len, "consistency_check");
		fl_fault_point("masked", c->round);
		break;
	case FL_SECAGG_CONSISTENCY:
		if ((r = fl_secagg_coord_unmask_request(c->sa, &frame, &len)) == 0)
			secure_broadcast(c, FL_SECAGG_CONSISTENCY, frame, len, "unmask_request");
		fl_fault_point("consistency", c->round);
		break;
	case FL_SECAGG_UNMASK:
		fl_fault_point("unmask", c->round);
		/* Every survivor revealed: earlier evidence is of no use now. */
		fl_coord_evidence_clear(c);
		c->secure_sum = malloc((fl_coord_expected_len(c) + 1) * sizeof(double));
		if (c->secure_sum == NULL)
			r = FL_ERR_NOMEM;
		else if ((r = fl_secagg_coord_finish(c->sa, c->secure_sum)) != 0) {
			free(c->secure_sum);
			c->secure_sum = NULL;
		}
		break;
	}
	free(frame);
	/* A partner proven to have deviated (inconsistent dealing, found
	 * while unmasking) is excluded by name rather than the round failing
	 * with nobody to blame. */
	if (secure_exclude(c))
		return;
	if (r != 0) {
		char why[600];

		snprintf(why, sizeof(why), "secure aggregation failed: %s", fl_errmsg());
		/* Drop whoever is lost, then redo the round with fresh keys, or fail. */
		for (size_t i = 0; i < c->np; i++)
			c->p[i].pending = c->p[i].participant && c->p[i].sa_lost;
		fl_secagg_coord_free(c->sa);
		c->sa = NULL;
		if (c->set.late_policy != FL_LATE_DROP) {
			fl_coord_fail(c, why);
			return;
		}
		fl_coord_partners_lost(c, NULL, why);
		return;
	}
	if (c->secure_sum != NULL) {
		size_t lost = 0, total = 0;

		for (size_t i = 0; i < c->np; i++) {
			total += c->p[i].participant;
			lost += c->p[i].participant && c->p[i].sa_lost;
		}
		fl_log(FL_LOG_INFO, "round %llu: secure sum over %zu of %zu partners recovered",
		       (unsigned long long)c->round, total - lost, total);
		if (lost > 0 && c->task != T_FEDAVG) {
			/* An exact round needs every participant's sums: drop the
			 * lost ones and redo it over the survivors. */
			free(c->secure_sum);
			c->secure_sum = NULL;
			for (size_t i = 0; i < c->np; i++)
				c->p[i].pending = c->p[i].participant && c->p[i].sa_lost;
			fl_coord_partners_lost(c, NULL, "lost during secure aggregation");
			return;
		}
		for (size_t i = 0; i < c->np; i++)
			if (c->p[i].participant && c->p[i].sa_lost) {
				c->p[i].participant = 0;
				c->p[i].dropped = 1;
				fl_log(FL_LOG_WARN,
				       "round %llu: dropped partner %s (lost during secure "
				       "aggregation)",
				       (unsigned long long)c->round, c->p[i].id);
			}
		fl_coord_complete_round(c);
		return;
	}
	secure_pending(c);
	c->io.arm_timer(c->io.ctx, c->set.round_deadline);
}

/* One secure-aggregation message from a participant. */
int fl_coord_secure_message(struct fl_fedcoord *c, struct partner *p,
                            const Fedlead__Wire__Envelope *env)
{
	const uint8_t *cert;
	size_t cert_len;
	int r;

	if (c->sa == NULL || !p->participant || p->sa_lost)
		return fl_fail(FL_ERR_PROTO, "peer %s: %s outside secure aggregation", p->id,
		               fl_wire_type_name(env));
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT:
		if ((r = c->io.peer_cert(c->io.ctx, p->id, &cert, &cert_len)) != 0)
			return r;
		r = fl_secagg_coord_advert(c->sa, p->id, env->key_advert, cert, cert_len);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
		r = fl_secagg_coord_shares(c->sa, p->id, env->share_set);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE:
		r = fl_secagg_coord_masked(c->sa, p->id, env->masked_update);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE:
		r = fl_secagg_coord_signature(c->sa, p->id, env->consistency_signature);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY:
		r = fl_secagg_coord_reveal(c->sa, p->id, env->unmask_reply);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_ACCUSATION:
		r = fl_secagg_coord_accusation(c->sa, p->id, env->accusation);
		break;
	default: return fl_fail(FL_ERR_PROTO, "peer %s: unexpected message", p->id);
	}
	if (r != 0)
		return r;
	p->pending = 0;
	/* Whoever this message proved to have deviated goes now: nothing of
	 * the round is worth finishing with it (its input is in the sum). */
	if (secure_exclude(c))
		return 0;
	fl_coord_secure_advance(c);
	return 0;
}
