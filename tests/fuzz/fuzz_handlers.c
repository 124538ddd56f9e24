/*
 * Fuzz target: every protobuf message handler, fed decoded envelopes.
 *
 * The first byte picks the receiver (low 3 bits) and its settings:
 *   0, 1  a partner (fl_fednode) welcomed into a plain (0) or secure (1)
 *         federation, then given every frame of the input in turn;
 *   2, 3, 4, 7  a coordinator (fl_fedcoord) in a plain (2, 3, 7) or secure
 *         (4) federation; bits 3-4 pick the algorithm (newton, lbfgs,
 *         fedavg, newton with l2 = auto), bits 5-6 the late policy;
 *   5     the secure-aggregation engine's coordinator side (fl_secagg_coord_*);
 *   6     its partner side (fl_secagg_node_*).
 * Frames are fz_next_frame()'s: a 4-byte length and a body. The
 * coordinator and the engine's coordinator side read an operation byte
 * before each step: the partner (low 2 bits; 3 is one not on the
 * allow-list) and what happens (see coord_mode() and sagg_coord_mode()).
 *
 * The harness behaves as the network glue does: a partner whose message the
 * coordinator refuses is disconnected (and may say hello again); a node
 * that refuses a task reconnects and is welcomed again. Randomness is a
 * constant (fz_init()), so the secure-aggregation seeds recorded by
 * gen_corpus.c replay with valid keys, signatures and sealed shares.
 */
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/model.h"
#include "fedlead/payload.h"
#include "fedlead/secagg.h"
#include "fuzz_common.h"

#define MAX_STEPS 256

static Fedlead__Wire__Envelope *decode(const uint8_t *body, size_t len, const char *peer)
{
	Fedlead__Wire__Envelope *env = NULL;

	if (fl_wire_decode(body, len, peer, &env) != 0)
		return NULL;
	return env;
}

/* What a handler sends must be what the other side accepts. */
static void check_frame(const uint8_t *frame, size_t len, const char *who)
{
	Fedlead__Wire__Envelope *env = NULL;

	if (len < 4 || fl_wire_decode(frame + 4, len - 4, who, &env) != 0)
		fz_die("%s sent a frame that does not decode: %s", who, fl_errmsg());
	fl_wire_free(env);
}

/* ---- (a) a partner ---------------------------------------------------- */

static void welcome_again(struct fl_fednode *n, int secure)
{
	Fedlead__Wire__Welcome w;
	Fedlead__Wire__Plan plan;

	fz_welcome(&w, &plan, 0, secure);
	if (fl_fednode_welcome(n, &w) != 0)
		fz_die("the fixture welcome is refused: %s", fl_errmsg());
}

static void node_mode(struct fz_reader *in, int secure)
{
	struct fl_fednode *n = NULL;
	const uint8_t *body;
	size_t len;

	if (fl_fednode_new(fz_schema(), fz_dataset(0), &n) != 0)
		fz_die("fl_fednode_new: %s", fl_errmsg());
	fl_fednode_set_credentials(n, fz_key(0), fz_store());
	if (!secure)
		fz_allow_plaintext(n);
	welcome_again(n, secure);
	for (int steps = 0; steps < MAX_STEPS && fz_next_frame(in, &body, &len); steps++) {
		Fedlead__Wire__Envelope *env = decode(body, len, "coordinator");
		uint8_t *frame = NULL;
		size_t flen = 0;
		int r;

		if (env == NULL)
			continue; /* nodeclient reconnects; the node keeps its state */
		switch (env->body_case) {
		case FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME:
			if (fl_fednode_welcome(n, env->welcome) != 0)
				welcome_again(n, secure);
			fl_wire_free(env);
			continue;
		case FEDLEAD__WIRE__ENVELOPE__BODY_REJECT: fl_wire_free(env); continue;
		default: break;
		}
		r = fl_fednode_handle(n, env, &frame, &flen);
		if (r == FL_FEDNODE_REPLY)
			check_frame(frame, flen, "the node");
		else if (frame != NULL)
			fz_die("fl_fednode_handle returned %d and a frame", r);
		free(frame);
		fl_wire_free(env);
		if (r == FL_FEDNODE_FINAL)
			break;
		if (r < 0)
			welcome_again(n, secure);
	}
	fl_fednode_free(n);
}

/* ---- (b) the coordinator ------------------------------------------------ */

struct coord_ctx {
	double timer;
	int finished;
};

static int c_send(void *ctx, const char *partner, const Fedlead__Wire__Envelope *env)
{
	uint8_t *frame;
	size_t len;
	int r;

	(void)ctx;
	(void)partner;
	/* Queued messages are encoded in the glue; do the same, so a message the
	 * encoder refuses shows up as the failure it is there. */
	if ((r = fl_wire_encode(env, &frame, &len)) != 0)
		return r;
	free(frame);
	return 0;
}

static int c_send_frame(void *ctx, const char *partner, const uint8_t *frame, size_t len,
                        const char *type)
{
	(void)ctx;
	(void)partner;
	check_frame(frame, len, type);
	return 0;
}

static int c_peer_cert(void *ctx, const char *partner, const uint8_t **der, size_t *len)
{
	(void)ctx;
	for (int i = 0; i < FZ_NP; i++)
		if (strcmp(partner, fz_names[i]) == 0) {
			*der = fz_cert_der(i, len);
			return 0;
		}
	return fl_fail(FL_ERR_INTERNAL, "no certificate for %s", partner);
}

static void c_disconnect(void *ctx, const char *partner)
{
	(void)ctx;
	(void)partner;
}

static void c_arm_timer(void *ctx, double seconds)
{
	((struct coord_ctx *)ctx)->timer = seconds;
}

static int c_checkpoint(void *ctx, const uint8_t *state, size_t len)
{
	(void)ctx;
	(void)state;
	(void)len;
	return 0;
}

static int c_seal(void *ctx, struct fl_model *m, uint8_t **file, size_t *len)
{
	(void)ctx;
	return fl_model_encode(m, file, len);
}

static void c_finished(void *ctx, int ok, const char *message)
{
	(void)ok;
	(void)message;
	((struct coord_ctx *)ctx)->finished = 1;
}

static int join(struct fl_fedcoord *c, const char *name)
{
	Fedlead__Wire__Hello h = FEDLEAD__WIRE__HELLO__INIT;

	h.protocol_version = FL_WIRE_PROTOCOL_VERSION;
	h.software_version = (char *)"fuzz";
	h.schema_fingerprint.data = (uint8_t *)fz_schema()->fingerprint;
	h.schema_fingerprint.len = FL_FINGERPRINT_LEN;
	h.federation_id = (char *)FZ_FED;
	return fl_fedcoord_join(c, name, &h);
}

/*
 * Operation byte: partner = op & 3 (3: "mallory", not allowed), then by
 * (op >> 2) & 3: 0 a frame from that partner follows, 1 it disconnects,
 * 2 it says a valid hello, 3 the round timer fires (if armed).
 */
static void coord_mode(struct fz_reader *in, uint8_t mode)
{
	struct coord_ctx cx = {0};
	struct fl_fedcoord_io io = {
	        .ctx = &cx,
	        .send = c_send,
	        .send_frame = c_send_frame,
	        .peer_cert = c_peer_cert,
	        .disconnect = c_disconnect,
	        .arm_timer = c_arm_timer,
	        .checkpoint = c_checkpoint,
	        .seal_model = c_seal,
	        .finished = c_finished,
	};
	struct fl_coord_settings s;
	struct fl_fedcoord *c = NULL;
	int joined[4] = {0};
	uint8_t op;

	fz_settings(&s, (mode >> 3) & 3, (mode >> 5) & 3, (mode & 7) == 4);
	if (fl_fedcoord_new(&s, fz_schema(), &io, &c) != 0)
		fz_die("fl_fedcoord_new: %s", fl_errmsg());
	for (int steps = 0; steps < MAX_STEPS && !cx.finished && fz_next_byte(in, &op); steps++) {
		int who = op & 3;
		const char *name = who < FZ_NP ? fz_names[who] : "mallory";

		switch ((op >> 2) & 3) {
		case 0: {
			const uint8_t *body;
			size_t len;
			Fedlead__Wire__Envelope *env;

			if (!fz_next_frame(in, &body, &len))
				break;
			if ((env = decode(body, len, name)) == NULL)
				break; /* the glue closes the connection */
			if (!joined[who]) {
				if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_HELLO)
					joined[who] = fl_fedcoord_join(c, name, env->hello) == 0;
			} else if (fl_fedcoord_message(c, name, env) < 0) {
				joined[who] = 0;
				fl_fedcoord_leave(c, name);
			}
			fl_wire_free(env);
			break;
		}
		case 1:
			if (joined[who]) {
				joined[who] = 0;
				fl_fedcoord_leave(c, name);
			}
			break;
		case 2:
			if (!joined[who])
				joined[who] = join(c, name) == 0;
			break;
		case 3:
			if (cx.timer > 0) {
				cx.timer = 0;
				fl_fedcoord_timer(c);
			}
			break;
		}
	}
	{
		struct fl_fedcoord_view v;

		fl_fedcoord_view(c, &v);
		for (size_t i = 0; i < fl_fedcoord_history_len(c); i++) {
			struct fl_round_log h;

			fl_fedcoord_history(c, i, &h);
		}
	}
	fl_fedcoord_free(c);
}

/* ---- the secure-aggregation engine ------------------------------------------ */

#define SA_N 4

static const uint8_t sa_session[FL_WIRE_SESSION_LEN] = "fuzz-session-16b";

static void sa_params(Fedlead__Wire__RoundRef *ref, Fedlead__Wire__SecAggParams *p)
{
	fedlead__wire__round_ref__init(ref);
	ref->federation_id = (char *)FZ_FED;
	ref->round = 1;
	ref->schema_fingerprint.data = (uint8_t *)fz_schema()->fingerprint;
	ref->schema_fingerprint.len = FL_FINGERPRINT_LEN;
	fedlead__wire__sec_agg_params__init(p);
	p->session.data = (uint8_t *)sa_session;
	p->session.len = sizeof(sa_session);
	p->frac_bits = FL_SECAGG_FRAC_BITS;
	p->bound = fl_fixed_bound(FL_SECAGG_FRAC_BITS, FZ_NP);
	p->participants = (char **)fz_names;
	p->n_participants = FZ_NP;
}

/* The task hash every fuzzed partner signs, and their policy. */
static const uint8_t sa_task[32] = {0x7a};
static const struct fl_secagg_policy sa_policy = {2, 0, 1};

/*
 * Operation byte: partner = (op & 3) % 3, then by (op >> 2) & 7: 0 a frame
 * from that partner follows (key_advert, share_set, masked_update or
 * unmask_reply), 1 the key list is made, 2 the partner's share set, 3 the
 * unmask request, 4 the sum is finished, 5 the progress queries.
 */
static void sagg_coord_mode(struct fz_reader *in)
{
	Fedlead__Wire__RoundRef ref;
	Fedlead__Wire__SecAggParams p;
	struct fl_secagg_coord *c = NULL;
	uint8_t op, *frame;
	size_t flen;
	double out[SA_N];

	sa_params(&ref, &p);
	if (fl_secagg_coord_new(FZ_FED, &ref, &p, 2, fz_names, FZ_NP,
	                        FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, SA_N, &c) != 0)
		fz_die("fl_secagg_coord_new: %s", fl_errmsg());
	for (int steps = 0; steps < MAX_STEPS && fz_next_byte(in, &op); steps++) {
		const char *name = fz_names[(op & 3) % FZ_NP];

		frame = NULL;
		switch ((op >> 2) & 7) {
		case 0: {
			const uint8_t *body, *der;
			size_t len, dlen;
			Fedlead__Wire__Envelope *env;

			if (!fz_next_frame(in, &body, &len))
				break;
			if ((env = decode(body, len, name)) == NULL)
				break;
			der = fz_cert_der((op & 3) % FZ_NP, &dlen);
			switch (env->body_case) {
			case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT:
				fl_secagg_coord_advert(c, name, env->key_advert, der, dlen);
				break;
			case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
				fl_secagg_coord_shares(c, name, env->share_set);
				break;
			case FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE:
				fl_secagg_coord_masked(c, name, env->masked_update);
				break;
			case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE:
				fl_secagg_coord_signature(c, name, env->consistency_signature);
				break;
			case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY:
				fl_secagg_coord_reveal(c, name, env->unmask_reply);
				break;
			case FEDLEAD__WIRE__ENVELOPE__BODY_ACCUSATION:
				fl_secagg_coord_accusation(c, name, env->accusation);
				break;
			default: break;
			}
			fl_wire_free(env);
			break;
		}
		case 1:
			if (fl_secagg_coord_key_list(c, &frame, &flen) == 0)
				check_frame(frame, flen, "key_list");
			break;
		case 2:
			if (fl_secagg_coord_shares_for(c, name, &frame, &flen) == 0)
				check_frame(frame, flen, "share_set");
			break;
		case 3:
			/* the consistency check first, then (once signed) the request */
			if (fl_secagg_coord_step(c) == FL_SECAGG_MASKED) {
				if (fl_secagg_coord_consistency_check(c, &frame, &flen) == 0)
					check_frame(frame, flen, "consistency_check");
			} else if (fl_secagg_coord_unmask_request(c, &frame, &flen) == 0)
				check_frame(frame, flen, "unmask_request");
			break;
		case 4: fl_secagg_coord_finish(c, out); break;
		default:
			(void)fl_secagg_coord_step(c);
			(void)fl_secagg_coord_owes(c, name);
			(void)fl_secagg_coord_count(c, (enum fl_secagg_step)(op % 5));
			(void)fl_secagg_coord_member(c, (enum fl_secagg_step)(op % 5), name);
			break;
		}
		free(frame);
	}
	fl_secagg_coord_free(c);
}

/* Partner acme's side: each frame goes to the step its body belongs to. */
static void sagg_node_mode(struct fz_reader *in)
{
	static const double x[SA_N] = {1.5, -2.25, 0, 1e6};
	Fedlead__Wire__RoundRef ref;
	Fedlead__Wire__SecAggParams p;
	struct fl_secagg_node *s = NULL;
	struct fl_secagg_history *h = NULL;
	uint8_t *frame = NULL;
	size_t flen;
	const uint8_t *body;
	size_t len;

	sa_params(&ref, &p);
	if (fl_secagg_history_new(&h) != 0 ||
	    fl_secagg_node_start(FZ_FED, &ref, &p, 2, fz_names[0], fz_key(0), sa_task, &sa_policy,
	                         h, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, x, SA_N, &s, &frame,
	                         &flen) != 0)
		fz_die("fl_secagg_node_start: %s", fl_errmsg());
	check_frame(frame, flen, "key_advert");
	free(frame);
	for (int steps = 0; steps < MAX_STEPS && fz_next_frame(in, &body, &len); steps++) {
		Fedlead__Wire__Envelope *env = decode(body, len, "coordinator");
		int r = -1;

		if (env == NULL)
			continue;
		frame = NULL;
		switch (env->body_case) {
		case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST:
			r = fl_secagg_node_keys(s, env->key_list, fz_store(), &frame, &flen);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
			r = fl_secagg_node_shares(s, env->share_set, &frame, &flen);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK:
			r = fl_secagg_node_consistency(s, env->consistency_check, &frame, &flen);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST:
			r = fl_secagg_node_unmask(s, env->unmask_request, &frame, &flen);
			break;
		default: break;
		}
		if (r == 0)
			check_frame(frame, flen, "the secure-aggregation node");
		free(frame);
		fl_wire_free(env);
	}
	fl_secagg_node_free(s);
	fl_secagg_history_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_reader in = {data, size};
	uint8_t mode;

	fz_init();
	if (!fz_next_byte(&in, &mode))
		return 0;
	switch (mode & 7) {
	case 0:
	case 1: node_mode(&in, mode & 1); break;
	case 5: sagg_coord_mode(&in); break;
	case 6: sagg_node_mode(&in); break;
	default: coord_mode(&in, mode); break;
	}
	return 0;
}
