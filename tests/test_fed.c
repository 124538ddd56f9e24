/*
 * Tests for the federation protocol (src/fedcoord.c, src/fednode.c) run in
 * one process: no sockets and no TLS, but every message goes through
 * fl_wire_encode() and fl_wire_decode() exactly as on the network.
 *
 * The harness plays the network glue. The coordinator's send() encodes the
 * envelope into a frame and queues it; pump() delivers queued frames one at
 * a time, after the callback that queued them has returned, to an in-memory
 * fl_fednode (welcome, tasks) or back to the coordinator (the node's reply),
 * so no call is re-entrant. Timers are recorded and fired by the tests
 * (fl_fedcoord_timer()), never by the clock.
 *
 * The CoIL 2000 leads are split by row ranges into three partners of
 * unequal size (50 %, 30 %, 20 %). The headline check: exact federated
 * Newton and L-BFGS give the model fl_train_local() fits on the pooled rows.
 * Other expected values are computed here with naive loops (log-loss, AUC,
 * norms) or from the protocol's documented layouts and messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedlead/coord.h"
#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/knots.h"
#include "fedlead/linalg.h"
#include "fedlead/log.h"
#include "fedlead/logreg.h"
#include "fedlead/model.h"
#include "fedlead/node.h"
#include "fedlead/payload.h"
#include "fedlead/schema.h"
#include "fedlead/spline.h"
#include "fedlead/train.h"
#include "fedlead/wire.h"
#include "state.pb-c.h"

#define COIL_SCHEMA FL_TEST_DATA "/coil2000/coil2000.schema.json"
#define COIL_DATA FL_TEST_DATA "/coil2000/train.csv"

#define NP 3
#define OUTSIDER NP /* harness slot for a name that is not one of the nodes */
#define FED_ID "fed-test"
#define DEADLINE 300.0

/* Sorted, as the coordinator orders its partners. */
static const char *const NAMES[NP] = {"acme", "globex", "initech"};

#define assert_near(a, b, tol)                                                                     \
	do {                                                                                       \
		double a_ = (a), b_ = (b);                                                         \
		if (!(fabs(a_ - b_) <= (tol)))                                                     \
			fail_msg("%s = %.17g, expected %.17g (tolerance %g)", #a, a_, b_,          \
			         (double)(tol));                                                   \
	} while (0)

/* ---- data ---- */

struct fixture {
	struct fl_schema *s;
	struct fl_dataset *raw;
	size_t lo[NP], hi[NP]; /* partner i holds rows [lo, hi) */
};

static struct fl_dataset *dataset_new(size_t n, size_t dim)
{
	struct fl_dataset *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->dim = dim;
	d->X = malloc((n ? n : 1) * dim * sizeof(double));
	d->y = malloc((n ? n : 1) * sizeof(double));
	assert_non_null(d->X);
	assert_non_null(d->y);
	return d;
}

static void dataset_append(struct fl_dataset *d, const struct fl_dataset *src)
{
	double *X = realloc(d->X, (d->n + src->n + 1) * d->dim * sizeof(double));
	double *y = realloc(d->y, (d->n + src->n + 1) * sizeof(double));

	assert_non_null(X);
	assert_non_null(y);
	d->X = X;
	d->y = y;
	memcpy(d->X + d->n * d->dim, src->X, src->n * src->dim * sizeof(double));
	memcpy(d->y + d->n, src->y, src->n * sizeof(double));
	d->n += src->n;
}

/* A copy of rows [lo, hi) of src. */
static struct fl_dataset *rows_copy(const struct fl_dataset *src, size_t lo, size_t hi)
{
	struct fl_dataset *d = dataset_new(hi - lo, src->dim);

	memcpy(d->X, src->X + lo * src->dim, (hi - lo) * src->dim * sizeof(double));
	memcpy(d->y, src->y + lo, (hi - lo) * sizeof(double));
	d->n = hi - lo;
	return d;
}

static struct fl_dataset *partner_rows(const struct fixture *fx, int i)
{
	return rows_copy(fx->raw, fx->lo[i], fx->hi[i]);
}

/* The rows of the partners in mask (bit i = partner i), in partner order. */
static struct fl_dataset *pooled_rows(const struct fixture *fx, unsigned mask)
{
	struct fl_dataset *d = dataset_new(0, fx->raw->dim);

	for (int i = 0; i < NP; i++)
		if (mask & (1u << i)) {
			struct fl_dataset *p = partner_rows(fx, i);

			dataset_append(d, p);
			fl_dataset_free(p);
		}
	return d;
}

/* Each partner's training and validation parts, as a node splits them, put
 * together in partner order. */
static uint64_t count_positives(const struct fl_dataset *d)
{
	uint64_t n = 0;

	for (size_t i = 0; i < d->n; i++)
		n += d->y[i] > 0.5;
	return n;
}

static void split_rows(const struct fixture *fx, double frac, uint64_t seed,
                       struct fl_dataset **train, struct fl_dataset **valid)
{
	*train = dataset_new(0, fx->raw->dim);
	*valid = dataset_new(0, fx->raw->dim);
	for (int i = 0; i < NP; i++) {
		struct fl_dataset *p = partner_rows(fx, i), *t = NULL, *v = NULL;

		assert_int_equal(fl_dataset_split(p, frac, seed, &t, &v), 0);
		dataset_append(*train, t);
		dataset_append(*valid, v);
		fl_dataset_free(p);
		fl_dataset_free(t);
		fl_dataset_free(v);
	}
}

static int group_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct fl_load_report lrep;
	size_t n;

	if (fx == NULL)
		return -1;
	*state = fx;
	if (fl_schema_load(COIL_SCHEMA, &fx->s) != 0 ||
	    fl_dataset_load(fx->s, COIL_DATA, FL_BAD_ROWS_FAIL, &fx->raw, &lrep) != 0) {
		fprintf(stderr, "setup: %s\n", fl_errmsg());
		return -1;
	}
	n = fx->raw->n;
	fx->lo[0] = 0;
	fx->hi[0] = fx->lo[1] = n / 2;
	fx->hi[1] = fx->lo[2] = n * 8 / 10;
	fx->hi[2] = n;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx != NULL) {
		fl_dataset_free(fx->raw);
		fl_schema_free(fx->s);
		free(fx);
	}
	return 0;
}

/* ---- the harness ---- */

struct qmsg {
	int to_coord; /* else to node `who` */
	int who;
	uint8_t *frame;
	size_t len;
};

struct blob {
	uint8_t *b;
	size_t len;
};

struct harness {
	const struct fixture *fx;
	struct fl_coord_settings set;
	struct fl_fedcoord *c;
	struct fl_fednode *node[NP];
	int connected[NP + 1];
	uint64_t mute_from[NP]; /* a node ignores tasks of these rounds and later (0: never) */
	uint64_t stop_round;    /* pump() stops before a task of this round (0: never) */
	int stop_final;         /* pump() stops before a FinalModel */
	struct qmsg *q;
	size_t qhead, qlen, qcap;
	struct qmsg held[64]; /* tasks a muted node ignored */
	size_t n_held;
	/* What the callbacks saw. */
	struct blob *ckpt;
	size_t n_ckpt;
	struct blob sealed;
	int n_sealed;
	int finished, finished_ok;
	char finished_msg[1024];
	double timer;
	int timer_calls;
	int rejects[NP + 1], reject_permanent[NP + 1], disconnects[NP + 1];
	char reject[NP + 1][FL_WIRE_MAX_STRING + 1];
	struct blob final_file[NP];
	struct blob last_update[NP];
	size_t max_update_values;
	/* Per node: the Welcome's privacy plan, and the evaluation tasks it
	 * received (all, with the Hessian, with validation). */
	uint64_t plan_releases[NP];
	uint64_t plan_knots[NP]; /* the Welcome's Plan.privacy_knots_releases */
	char plan_name[NP][32];  /* the Welcome's Plan.privacy_plan */
	int eval_tasks[NP], hess_tasks[NP], valid_tasks[NP];
	int errors; /* failures where none may happen: printed when they do */
};

static int name_index(const char *name)
{
	for (int i = 0; i < NP; i++)
		if (strcmp(name, NAMES[i]) == 0)
			return i;
	return OUTSIDER;
}

static void blob_set(struct blob *b, const uint8_t *data, size_t len)
{
	free(b->b);
	b->b = malloc(len ? len : 1);
	assert_non_null(b->b);
	memcpy(b->b, data, len);
	b->len = len;
}

static void unexpected(struct harness *h, const char *what)
{
	fprintf(stderr, "harness: %s: %s\n", what, fl_errmsg());
	h->errors++;
}

static void enqueue(struct harness *h, int to_coord, int who, uint8_t *frame, size_t len)
{
	if (h->qlen == h->qcap) {
		size_t cap = h->qcap ? 2 * h->qcap : 16;
		struct qmsg *q = realloc(h->q, cap * sizeof(*q));

		assert_non_null(q);
		h->q = q;
		h->qcap = cap;
	}
	h->q[h->qlen++] = (struct qmsg){to_coord, who, frame, len};
}

static int io_send(void *ctx, const char *partner, const Fedlead__Wire__Envelope *env)
{
	struct harness *h = ctx;
	int i = name_index(partner), r;
	uint8_t *frame = NULL;
	size_t len = 0;

	if ((r = fl_wire_encode(env, &frame, &len)) != 0) {
		unexpected(h, "coordinator sent a message the wire refuses");
		return r;
	}
	if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_REJECT) {
		h->rejects[i]++;
		h->reject_permanent[i] = env->reject->permanent;
		snprintf(h->reject[i], sizeof(h->reject[i]), "%s", env->reject->reason);
		free(frame);
		return 0;
	}
	if (i == OUTSIDER || !h->connected[i]) {
		free(frame);
		unexpected(h, "coordinator sent to a partner that is not connected");
		return FL_ERR_IO;
	}
	enqueue(h, 0, i, frame, len);
	return 0;
}

static void io_disconnect(void *ctx, const char *partner)
{
	struct harness *h = ctx;
	int i = name_index(partner);

	h->disconnects[i]++;
	h->connected[i] = 0;
}

static void io_arm_timer(void *ctx, double seconds)
{
	struct harness *h = ctx;

	h->timer = seconds;
	h->timer_calls++;
}

static int io_checkpoint(void *ctx, const uint8_t *state, size_t len)
{
	struct harness *h = ctx;
	struct blob *b = realloc(h->ckpt, (h->n_ckpt + 1) * sizeof(*b));

	assert_non_null(b);
	h->ckpt = b;
	b[h->n_ckpt] = (struct blob){NULL, 0};
	blob_set(&b[h->n_ckpt], state, len);
	h->n_ckpt++;
	return 0;
}

static int io_seal(void *ctx, struct fl_model *m, uint8_t **file, size_t *len)
{
	struct harness *h = ctx;
	int r;

	if ((r = fl_model_encode(m, file, len)) != 0) {
		unexpected(h, "fl_model_encode");
		return r;
	}
	blob_set(&h->sealed, *file, *len);
	h->n_sealed++;
	return 0;
}

static void io_finished(void *ctx, int ok, const char *message)
{
	struct harness *h = ctx;

	h->finished++;
	h->finished_ok = ok;
	snprintf(h->finished_msg, sizeof(h->finished_msg), "%s", message);
}

static void settings_default(struct fl_coord_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->federation_id = FED_ID;
	s->partners = NAMES;
	s->n_partners = NP;
	s->min_partners = 2;
	s->algorithm = FL_FED_NEWTON;
	s->l2 = 1.0;
	s->class_weight = 1.0;
	s->validation_split = 0;
	s->seed = 1;
	s->max_iterations = 100;
	s->tolerance = 1e-10;
	s->fedavg_rounds = 20;
	s->local_epochs = 2;
	s->local_batch = 64;
	s->local_lr = 0.5;
	s->fedprox_mu = 0;
	s->hist_bins = FL_HIST_BINS_DEFAULT;
	s->hist_range = FL_HIST_RANGE_DEFAULT;
	s->round_deadline = DEADLINE;
	s->late_policy = FL_LATE_WAIT;
	s->start_wait = 30;
}

/* Fresh nodes holding the fixture's partner rows, and a new coordinator. */
/* The coordinator's audit log for the harnesses made while it is set. */
static struct fl_audit *harness_audit;

static struct harness *harness_new(const struct fixture *fx, const struct fl_coord_settings *s)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct fl_fedcoord_io io = {
	        .ctx = h,
	        .audit = harness_audit,
	        .send = io_send,
	        .disconnect = io_disconnect,
	        .arm_timer = io_arm_timer,
	        .checkpoint = io_checkpoint,
	        .seal_model = io_seal,
	        .finished = io_finished,
	};

	assert_non_null(h);
	h->fx = fx;
	h->set = *s;
	for (int i = 0; i < NP; i++) {
		struct fl_node_policy pol;

		assert_int_equal(fl_fednode_new(fx->s, partner_rows(fx, i), &h->node[i]), 0);
		/* These federations are plaintext (the secure protocol has its
		 * own tests) and some go on with two partners: the nodes'
		 * policy says so explicitly. */
		fl_node_policy_default(&pol);
		pol.federation_id = FED_ID;
		pol.allow_plaintext = 1;
		pol.min_partners = 2;
		assert_int_equal(fl_fednode_set_policy(h->node[i], &pol), 0);
	}
	if (fl_fedcoord_new(s, fx->s, &io, &h->c) != 0)
		fail_msg("fl_fedcoord_new: %s", fl_errmsg());
	return h;
}

static void harness_free(struct harness *h)
{
	if (h == NULL)
		return;
	fl_fedcoord_free(h->c);
	for (int i = 0; i < NP; i++) {
		fl_fednode_free(h->node[i]);
		free(h->final_file[i].b);
		free(h->last_update[i].b);
	}
	for (size_t k = h->qhead; k < h->qlen; k++)
		free(h->q[k].frame);
	free(h->q);
	for (size_t k = 0; k < h->n_held; k++)
		free(h->held[k].frame);
	for (size_t k = 0; k < h->n_ckpt; k++)
		free(h->ckpt[k].b);
	free(h->ckpt);
	free(h->sealed.b);
	free(h);
}

static Fedlead__Wire__Envelope *decode_frame(struct harness *h, const uint8_t *frame, size_t len,
                                             const char *peer)
{
	Fedlead__Wire__Envelope *env = NULL;

	assert_true(len > FL_WIRE_HEADER_LEN);
	if (fl_wire_decode(frame + FL_WIRE_HEADER_LEN, len - FL_WIRE_HEADER_LEN, peer, &env) != 0)
		unexpected(h, "a frame did not decode");
	return env;
}

static void deliver_to_node(struct harness *h, struct qmsg *m)
{
	int i = m->who, r;
	struct fl_fednode *n = h->node[i];
	Fedlead__Wire__Envelope *env;
	const Fedlead__Wire__RoundRef *ref;
	uint8_t *out = NULL;
	size_t olen = 0;

	if (!h->connected[i])
		return; /* the connection is gone; so is what was in flight */
	if ((env = decode_frame(h, m->frame, m->len, "coordinator")) == NULL)
		return;
	if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME) {
		assert_string_equal(env->welcome->partner_identity, NAMES[i]);
		h->plan_releases[i] = env->welcome->plan->privacy_releases;
		h->plan_knots[i] = env->welcome->plan->privacy_knots_releases;
		snprintf(h->plan_name[i], sizeof(h->plan_name[i]), "%s",
		         env->welcome->plan->privacy_plan);
		if (fl_fednode_welcome(n, env->welcome) != 0)
			unexpected(h, "node refused the welcome");
		goto out;
	}
	ref = fl_wire_ref(env);
	if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK) {
		h->eval_tasks[i]++;
		h->hess_tasks[i] += env->eval_task->need_hessian;
		h->valid_tasks[i] += env->eval_task->need_validation;
	}
	if (h->mute_from[i] != 0 && ref != NULL && ref->round >= h->mute_from[i]) {
		assert_true(h->n_held < sizeof(h->held) / sizeof(h->held[0]));
		h->held[h->n_held++] = *m;
		m->frame = NULL; /* kept for release() */
		goto out;
	}
	r = fl_fednode_handle(n, env, &out, &olen);
	if (r == FL_FEDNODE_REPLY) {
		Fedlead__Wire__Envelope *sent = decode_frame(h, out, olen, NAMES[i]);

		/* What leaves a site never grows with its rows. */
		if (sent != NULL && sent->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE) {
			blob_set(&h->last_update[i], out, olen);
			if (sent->update->n_values > h->max_update_values)
				h->max_update_values = sent->update->n_values;
		}
		fl_wire_free(sent);
		enqueue(h, 1, i, out, olen);
	} else if (r == FL_FEDNODE_FINAL) {
		blob_set(&h->final_file[i], env->final_model->model_file.data,
		         env->final_model->model_file.len);
		if (fl_fednode_status(n, ref, FEDLEAD__WIRE__STATUS_CODE__STATUS_SAVED, "", &out,
		                      &olen) != 0)
			unexpected(h, "node could not build its status");
		else
			enqueue(h, 1, i, out, olen);
	} else if (r < 0) {
		unexpected(h, "node refused a task");
	}
out:
	fl_wire_free(env);
}

static int deliver_to_coord(struct harness *h, int i, const uint8_t *frame, size_t len)
{
	Fedlead__Wire__Envelope *env = decode_frame(h, frame, len, NAMES[i]);
	int r;

	if (env == NULL)
		return FL_ERR_PROTO;
	r = fl_fedcoord_message(h->c, NAMES[i], env);
	fl_wire_free(env);
	return r;
}

/* Whether pump() must stop before delivering m. */
static int stop_before(struct harness *h, const struct qmsg *m)
{
	Fedlead__Wire__Envelope *env;
	const Fedlead__Wire__RoundRef *ref;
	int stop;

	if (m->to_coord || (h->stop_round == 0 && !h->stop_final))
		return 0;
	env = decode_frame(h, m->frame, m->len, "coordinator");
	ref = fl_wire_ref(env);
	stop = (h->stop_round != 0 && ref != NULL && ref->round >= h->stop_round) ||
	       (h->stop_final && env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL);
	fl_wire_free(env);
	return stop;
}

/* Delivers queued frames until none are left, or until the next one is a
 * task of round stop_round or later, or a final model with stop_final. */
static void pump(struct harness *h)
{
	while (h->qhead < h->qlen) {
		struct qmsg m = h->q[h->qhead];

		if (stop_before(h, &m))
			return;
		h->qhead++;
		if (m.to_coord) {
			if (deliver_to_coord(h, m.who, m.frame, m.len) < 0)
				unexpected(h, "coordinator refused a node's reply");
		} else {
			deliver_to_node(h, &m);
		}
		free(m.frame);
	}
	h->qhead = h->qlen = 0;
}

/* Unmutes node i and queues what it ignored. */
static void release(struct harness *h, int i)
{
	size_t k = 0;

	h->mute_from[i] = 0;
	for (size_t j = 0; j < h->n_held; j++) {
		if (h->held[j].who == i)
			enqueue(h, 0, i, h->held[j].frame, h->held[j].len);
		else
			h->held[k++] = h->held[j];
	}
	h->n_held = k;
}

/* Node i connects as `as` (its own name when NULL) and sends its Hello
 * asking for federation fed (may be ""); returns what fl_fedcoord_join()
 * returned. hello_edit may change the decoded Hello first. */
static int join_as(struct harness *h, int i, const char *as, const char *fed,
                   void (*hello_edit)(Fedlead__Wire__Hello *))
{
	Fedlead__Wire__Envelope *env;
	uint8_t *frame = NULL;
	size_t len = 0;
	int r, slot;

	assert_int_equal(fl_fednode_hello(h->node[i], fed, &frame, &len), 0);
	env = decode_frame(h, frame, len, as ? as : NAMES[i]);
	free(frame);
	assert_non_null(env);
	assert_int_equal(env->body_case, FEDLEAD__WIRE__ENVELOPE__BODY_HELLO);
	if (hello_edit != NULL)
		hello_edit(env->hello);
	slot = name_index(as ? as : NAMES[i]);
	h->connected[slot] = 1;
	fl_err_clear();
	r = fl_fedcoord_join(h->c, as ? as : NAMES[i], env->hello);
	fl_wire_free(env);
	return r;
}

static void join(struct harness *h, int i)
{
	int r = join_as(h, i, NULL, "", NULL);

	if (r != 0)
		fail_msg("join %s: %s", NAMES[i], fl_errmsg());
}

static void join_all(struct harness *h)
{
	for (int i = 0; i < NP; i++)
		join(h, i);
}

/* The partner's connection closes. */
static void leave(struct harness *h, int i)
{
	h->connected[i] = 0;
	fl_fedcoord_leave(h->c, NAMES[i]);
}

/* Sends env as partner i's message, through the wire encoder and decoder. */
static int inject(struct harness *h, int i, const Fedlead__Wire__Envelope *env)
{
	uint8_t *frame = NULL;
	size_t len = 0;
	int r;

	if (fl_wire_encode(env, &frame, &len) != 0)
		fail_msg("inject: %s", fl_errmsg());
	fl_err_clear();
	r = deliver_to_coord(h, i, frame, len);
	free(frame);
	return r;
}

/* An Update as partner i would send it, with the given values. */
static int inject_update(struct harness *h, int i, uint64_t round, Fedlead__Wire__UpdateKind kind,
                         double *values, size_t n)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Update up = FEDLEAD__WIRE__UPDATE__INIT;
	Fedlead__Wire__RoundRef ref = FEDLEAD__WIRE__ROUND_REF__INIT;

	ref.federation_id = (char *)FED_ID;
	ref.round = round;
	ref.schema_fingerprint.data = h->fx->s->fingerprint;
	ref.schema_fingerprint.len = FL_FINGERPRINT_LEN;
	up.ref = &ref;
	up.kind = kind;
	up.values = values;
	up.n_values = n;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE;
	env.update = &up;
	return inject(h, i, &env);
}

/* A Status as partner i would send it. */
static int inject_status(struct harness *h, int i, uint64_t round, Fedlead__Wire__StatusCode code,
                         const char *detail)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Status st = FEDLEAD__WIRE__STATUS__INIT;
	Fedlead__Wire__RoundRef ref = FEDLEAD__WIRE__ROUND_REF__INIT;

	ref.federation_id = (char *)FED_ID;
	ref.round = round;
	ref.schema_fingerprint.data = h->fx->s->fingerprint;
	ref.schema_fingerprint.len = FL_FINGERPRINT_LEN;
	st.ref = &ref;
	st.code = code;
	st.detail = (char *)detail;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STATUS;
	env.status = &st;
	return inject(h, i, &env);
}

/* ---- results ---- */

static struct fl_model *sealed_model(const struct harness *h)
{
	struct fl_model *m = NULL;

	assert_int_equal(h->n_sealed, 1);
	if (fl_model_decode(h->sealed.b, h->sealed.len, "sealed model", &m) != 0)
		fail_msg("sealed model: %s", fl_errmsg());
	return m;
}

/* The federation finished well: every participant in mask got and
 * confirmed the sealed model, nobody else got it. (A coordinator restored
 * in the final phase delivers the model sealed before the restart.) */
static void assert_done(const struct harness *h, unsigned mask)
{
	struct fl_fedcoord_view v;
	const struct blob *model = &h->sealed;

	assert_int_equal(h->errors, 0);
	if (h->finished != 1 || !h->finished_ok)
		fail_msg("finished %d times, ok %d: %s", h->finished, h->finished_ok,
		         h->finished_msg);
	assert_string_equal(h->finished_msg, "done");
	fl_fedcoord_view(h->c, &v);
	assert_int_equal(v.phase, FL_PHASE_DONE);
	if (h->n_sealed == 0)
		for (int i = NP; i-- > 0;)
			if (mask & (1u << i))
				model = &h->final_file[i];
	assert_non_null(model->b);
	for (int i = 0; i < NP; i++) {
		if (mask & (1u << i)) {
			assert_int_equal(h->final_file[i].len, model->len);
			assert_memory_equal(h->final_file[i].b, model->b, model->len);
		} else {
			assert_null(h->final_file[i].b);
		}
	}
}

static double norm_diff(const double *a, const double *b, size_t d)
{
	double s = 0;

	for (size_t j = 0; j < d; j++)
		s += (a[j] - b[j]) * (a[j] - b[j]);
	return sqrt(s);
}

static double norm(const double *a, size_t d)
{
	double s = 0;

	for (size_t j = 0; j < d; j++)
		s += a[j] * a[j];
	return sqrt(s);
}

static double rel_diff(const double *a, const double *b, size_t d)
{
	return norm_diff(a, b, d) / norm(b, d);
}

/* Entries agree to tol relative to their size (absolute below 1). */
static void assert_vec_close(const char *what, const double *a, const double *b, size_t d,
                             double tol)
{
	for (size_t j = 0; j < d; j++)
		if (!(fabs(a[j] - b[j]) <= tol * fmax(1.0, fabs(b[j]))))
			fail_msg("%s[%zu] = %.17g, expected %.17g", what, j, a[j], b[j]);
}

/* Mean log-loss and exact AUC of a model on raw rows, computed naively. */
static void naive_metrics(const struct fl_model *m, const struct fl_dataset *raw, double *log_loss,
                          double *auc)
{
	struct fl_dataset *d = rows_copy(raw, 0, raw->n);
	double *z = malloc((raw->n + 1) * sizeof(double)), loss = 0, good = 0, pairs = 0;

	assert_non_null(z);
	fl_dataset_standardize(d, m->scaler);
	for (size_t i = 0; i < d->n; i++) {
		double p;

		z[i] = 0;
		for (size_t j = 0; j < d->dim; j++)
			z[i] += d->X[i * d->dim + j] * m->w[j];
		p = 1 / (1 + exp(-z[i]));
		loss += d->y[i] > 0.5 ? -log(p) : -log(1 - p);
	}
	for (size_t i = 0; i < d->n; i++)
		for (size_t k = 0; k < d->n; k++)
			if (d->y[i] > 0.5 && d->y[k] < 0.5) {
				pairs += 1;
				good += z[i] > z[k] ? 1 : z[i] == z[k] ? 0.5 : 0;
			}
	*log_loss = loss / (double)d->n;
	*auc = good / pairs;
	free(z);
	fl_dataset_free(d);
}

static struct fl_model *train_pooled(const struct fixture *fx, const struct fl_dataset *rows,
                                     enum fl_solver_kind solver, double l2, double tol,
                                     int max_iter, struct fl_train_report *rep)
{
	struct fl_train_opts o;
	struct fl_model *m = NULL;

	fl_train_opts_default(&o);
	o.solver = solver;
	o.l2 = l2;
	o.valid_frac = 0;
	o.pos_weight = 1;
	o.tol = tol;
	o.max_iter = max_iter;
	if (fl_train_local(fx->s, rows, &o, &m, rep) != 0)
		fail_msg("pooled training: %s", fl_errmsg());
	return m;
}

static void run_to_end(struct harness *h)
{
	join_all(h);
	pump(h);
}

/* ---- 1. exact federated training equals pooled training ---- */

static void check_exact(void **state, enum fl_fed_algo algo, enum fl_solver_kind solver, double tol,
                        int max_iter)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct fl_train_report rep;
	struct fl_model *fed, *pool;
	struct harness *h;
	double rel;

	settings_default(&s);
	s.algorithm = algo;
	s.max_iterations = max_iter;
	s.tolerance = tol;
	h = harness_new(fx, &s);
	run_to_end(h);
	assert_done(h, 7);
	fed = sealed_model(h);
	pool = train_pooled(fx, fx->raw, solver, 1.0, tol, max_iter, &rep);

	rel = rel_diff(fed->w, pool->w, fx->s->dim);
	printf("  %s: ||w_fed - w_pool|| / ||w_pool|| = %.3e; iterations fed %d, pooled %d; "
	       "%u rounds; pooled gradient norm %.3e\n",
	       fl_fed_algo_name(algo), rel, fed->prov.iterations, rep.status.iterations,
	       fed->prov.rounds, rep.status.grad_norm);
	assert_true(rep.status.converged);
	assert_true(rel < 1e-6);
	/* final_loss means the same for both: the objective at the weights,
	 * penalty included. */
	assert_near(fed->prov.final_loss, pool->prov.final_loss, 1e-8 * pool->prov.final_loss);
	/* Standardisation from summed statistics equals the pooled one. */
	assert_vec_close("center", fed->scaler->center, pool->scaler->center, fx->s->dim, 1e-12);
	assert_vec_close("scale", fed->scaler->scale, pool->scaler->scale, fx->s->dim, 1e-12);
	assert_vec_close("impute", fed->scaler->impute, pool->scaler->impute, fx->s->dim, 1e-12);
	assert_vec_close("baseline", fed->scaler->baseline, pool->scaler->baseline, fx->s->dim,
	                 1e-12);
	if (algo == FL_FED_NEWTON)
		assert_int_equal(fed->prov.iterations, rep.status.iterations);

	/* Provenance names the federation. */
	assert_int_equal(fed->prov.rows, fx->raw->n);
	assert_int_equal(fed->prov.positives, count_positives(fx->raw));
	assert_string_equal(fed->prov.solver, fl_fed_algo_name(algo));
	assert_string_equal(fed->prov.federation_id, FED_ID);
	assert_true(fed->prov.l2 == 1.0);
	assert_true(fed->prov.pos_weight == 1.0);
	assert_int_equal(fed->prov.n_participants, NP);
	for (int i = 0; i < NP; i++)
		assert_string_equal(fed->prov.participants[i], NAMES[i]);
	/* The history: one statistics round, one per evaluation, the final one
	 * (logged after sealing, so not in the model). */
	assert_true(fed->prov.n_history >= 2);
	assert_string_equal(fed->prov.history[0].kind, "stats");
	assert_int_equal(fed->prov.history[0].round, 1);
	for (size_t k = 1; k < fed->prov.n_history; k++) {
		assert_string_equal(fed->prov.history[k].kind, "eval");
		assert_int_equal(fed->prov.history[k].round, k + 1);
		assert_int_equal(fed->prov.history[k].partners, NP);
		assert_true(isnan(fed->prov.history[k].valid_auc));
	}
	assert_int_equal(fed->prov.rounds, fed->prov.n_history);
	assert_int_equal(fl_fedcoord_history_len(h->c), fed->prov.n_history + 1);
	/* Nothing a node sent grew with its rows: the longest update is an
	 * evaluation (loss, gradient and for Newton the Hessian triangle). */
	{
		size_t d = fx->s->dim;

		assert_int_equal(h->max_update_values,
		                 algo == FL_FED_NEWTON ? 1 + d + d * (d + 1) / 2 : 2 + 3 * d);
	}
	fl_model_free(fed);
	fl_model_free(pool);
	harness_free(h);
}

static void test_newton_equals_pooled(void **state)
{
	check_exact(state, FL_FED_NEWTON, FL_SOLVER_NEWTON, 1e-10, 100);
}

/*
 * Spline, bins and special-value columns (spline.h) with knots written in
 * the schema: every partner encodes alike, so the exact federation still
 * gives the pooled model.
 */
static void test_spline_newton_equals_pooled(void **state)
{
	struct fixture *fx = *state, sp = *fx;
	struct fixture *spp = &sp;
	struct fl_load_report lrep;
	json_error_t jerr;
	json_t *root = json_load_file(COIL_SCHEMA, 0, &jerr), *f;
	char *text;
	size_t i;

	assert_non_null(root);
	json_array_foreach(json_object_get(root, "features"), i, f)
	{
		const char *name = json_string_value(json_object_get(f, "name"));

		if (strcmp(name, "MGODPR") == 0 || strcmp(name, "MRELGE") == 0) {
			json_object_set_new(f, "transform", json_string("spline"));
			json_object_set_new(f, "knots", json_pack("[iiii]", 0, 3, 6, 9));
		} else if (strcmp(name, "MGEMOMV") == 0) {
			json_object_set_new(f, "transform", json_string("bins"));
			json_object_set_new(f, "knots", json_pack("[iiiii]", 1, 2, 3, 4, 6));
			json_object_set_new(f, "special", json_pack("[i]", 5));
		}
	}
	assert_non_null(text = json_dumps(root, 0));
	json_decref(root);
	assert_int_equal(fl_schema_parse(text, strlen(text), "spline.json", &sp.s), 0);
	free(text);
	assert_int_equal(sp.s->dim, fx->s->dim + 2 * 5 + 4);
	if (fl_dataset_load(sp.s, COIL_DATA, FL_BAD_ROWS_FAIL, &sp.raw, &lrep) != 0)
		fail_msg("load: %s", fl_errmsg());
	check_exact((void **)&spp, FL_FED_NEWTON, FL_SOLVER_NEWTON, 1e-10, 100);
	fl_dataset_free(sp.raw);
	fl_schema_free(sp.s);
}

/*
 * A categorical feature read from two columns (schema.h, "columns"): each
 * partner joins its own rows' fields, and the exact federation gives the
 * pooled model. The columns stay features of their own.
 */
static void test_joined_newton_equals_pooled(void **state)
{
	struct fixture *fx = *state, jx = *fx;
	struct fixture *jxp = &jx;
	struct fl_load_report lrep;
	json_error_t jerr;
	json_t *root = json_load_file(COIL_SCHEMA, 0, &jerr);
	char *text;

	assert_non_null(root);
	assert_int_equal(
	        json_array_append_new(json_object_get(root, "features"),
	                              json_pack("{s:s, s:s, s:[s,s], s:[s,s,s,s,s,s], s:b}", "name",
	                                        "MGEMOMV MGODRK", "type", "categorical", "columns",
	                                        "MGEMOMV", "MGODRK", "values", "1 0", "2 0", "3 0",
	                                        "2 1", "3 1", "4 0", "other", 1)),
	        0);
	assert_non_null(text = json_dumps(root, 0));
	json_decref(root);
	assert_int_equal(fl_schema_parse(text, strlen(text), "joined.json", &jx.s), 0);
	free(text);
	assert_int_equal(jx.s->dim, fx->s->dim + 7);
	if (fl_dataset_load(jx.s, COIL_DATA, FL_BAD_ROWS_FAIL, &jx.raw, &lrep) != 0)
		fail_msg("load: %s", fl_errmsg());
	check_exact((void **)&jxp, FL_FED_NEWTON, FL_SOLVER_NEWTON, 1e-10, 100);
	fl_dataset_free(jx.raw);
	fl_schema_free(jx.s);
}

/*
 * Knots from the federation's data (knots.h): a schema whose spline and
 * bins features give knot counts, on synthetic leads with dense values
 * (x skewed over [0, 100] with missing values, z bell-shaped over [-5, 5]).
 */
#define KNOTS_SCHEMA                                                                               \
	"{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"yes\", "         \
	"\"negative\": \"no\"}, \"features\": ["                                                   \
	"{\"name\": \"x\", \"type\": \"numeric\", \"missing\": \"impute\", \"clip\": [0, 100], "   \
	"\"transform\": \"spline\", \"knots\": 6},"                                                \
	"{\"name\": \"z\", \"type\": \"numeric\", \"clip\": [-5, 5], \"transform\": \"bins\", "    \
	"\"knots\": 5},"                                                                           \
	"{\"name\": \"u\", \"type\": \"numeric\"}]}"

static double knots_uniform(uint64_t *st)
{
	*st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*st >> 11) / 9007199254740992.0;
}

/* fx gets the schema and 1800 rows (raw, knots not placed), split as the
 * COIL fixture is; returns the CSV's path (to unlink). */
static void knots_fixture(struct fixture *fx, char *path)
{
	struct fl_load_report lrep;
	uint64_t st = 42;
	FILE *fp;
	int fd;

	strcpy(path, "/tmp/fl-knots-XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	fprintf(fp, "x,z,u,won\n");
	for (int i = 0; i < 1800; i++) {
		double a = knots_uniform(&st), x = 100 * a * a;
		double z =
		        10 * (knots_uniform(&st) + knots_uniform(&st) + knots_uniform(&st)) / 3 - 5;
		double u = knots_uniform(&st);
		double p = 1 / (1 + exp(-(1.5 * sin(x / 15) + z * z / 8 - 1 + u)));

		if (i % 20 == 7)
			fprintf(fp, ",%.6f,%.6f,%s\n", z, u, knots_uniform(&st) < p ? "yes" : "no");
		else
			fprintf(fp, "%.6f,%.6f,%.6f,%s\n", x, z, u,
			        knots_uniform(&st) < p ? "yes" : "no");
	}
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(fl_schema_parse(KNOTS_SCHEMA, strlen(KNOTS_SCHEMA), "knots.json", &fx->s),
	                 0);
	if (fl_dataset_load(fx->s, path, FL_BAD_ROWS_FAIL, &fx->raw, &lrep) != 0)
		fail_msg("load: %s", fl_errmsg());
	fx->lo[0] = 0;
	fx->hi[0] = fx->lo[1] = 900;
	fx->hi[1] = fx->lo[2] = 1440;
	fx->hi[2] = 1800;
}

/*
 * The knots round: the federation's knots are those of the pooled rows'
 * histogram (the test bins the pooled values itself), within one fine bin
 * of the pooled values' own quantiles (local placement), recorded in the
 * model; and the model equals the one trained on the pooled rows with
 * those knots (1e-6).
 */
static void test_knots_from_data_equals_pooled(void **state)
{
	struct fixture kx = {0};
	struct fl_coord_settings s;
	struct fl_train_report rep;
	struct fl_model *fed, *pool;
	struct harness *h;
	struct fl_schema *ps;
	double hist[2 * FL_KNOTS_BINS] = {0}, want[11], *vals;
	char path[64];
	size_t at = 0, k = 0;

	(void)state;
	knots_fixture(&kx, path);
	assert_int_equal(fl_knots_features(kx.s), 2);
	assert_int_equal(fl_knots_hist_len(kx.s), 2 * FL_KNOTS_BINS);
	settings_default(&s);
	h = harness_new(&kx, &s);
	run_to_end(h);
	assert_done(h, 7);
	fed = sealed_model(h);
	assert_string_equal(fed->prov.history[0].kind, "knots");
	assert_string_equal(fed->prov.history[1].kind, "stats");

	/* The pooled histogram, binned here: bin floor((v - lo) / w). */
	assert_non_null(vals = malloc(kx.raw->n * sizeof(double)));
	for (size_t i = 0; i < kx.s->n_features; i++) {
		const struct fl_feature *f = &kx.s->features[i];
		double lo = f->clip_lo, hi = f->clip_hi;

		if (!fl_knots_from_data(f))
			continue;
		for (size_t r = 0; r < kx.raw->n; r++) {
			double v = kx.raw->X[r * kx.raw->dim + f->enc_offset];
			long b = (long)floor((v - lo) / (hi - lo) * FL_KNOTS_BINS);

			if (isnan(v))
				continue;
			hist[k * FL_KNOTS_BINS + (b < 0                ? 0
			                          : b >= FL_KNOTS_BINS ? FL_KNOTS_BINS - 1
			                                               : b)] += 1;
		}
		k++;
	}
	assert_int_equal(fl_knots_from_hist(kx.s, hist, want), 0);
	for (size_t i = 0; i < kx.s->n_features; i++) {
		const struct fl_feature *f = &kx.s->features[i], *mf = &fed->schema->features[i];
		double local[FL_SPLINE_MAX_KNOTS], w = (f->clip_hi - f->clip_lo) / FL_KNOTS_BINS;
		size_t nv = 0;

		if (!fl_knots_from_data(f))
			continue;
		assert_non_null(mf->knots);
		for (size_t r = 0; r < kx.raw->n; r++) {
			double v = kx.raw->X[r * kx.raw->dim + f->enc_offset];

			if (!isnan(v))
				vals[nv++] = v;
		}
		assert_int_equal(fl_spline_quantile_knots(f, vals, nv, local), 0);
		for (size_t j = 0; j < f->n_knots; j++) {
			printf("  %s knot %zu: federated %.6f, pooled histogram %.6f, pooled "
			       "quantile %.6f\n",
			       f->name, j, mf->knots[j], want[at + j], local[j]);
			/* The model records them: the pooled histogram's, exactly. */
			assert_true(mf->knots[j] == want[at + j]);
			assert_true(fabs(mf->knots[j] - local[j]) <= w);
		}
		at += f->n_knots;
	}
	free(vals);

	/* The pooled model with those knots. */
	assert_int_equal(fl_schema_parse(kx.s->canonical, strlen(kx.s->canonical), "pooled", &ps),
	                 0);
	at = 0;
	for (size_t i = 0; i < ps->n_features; i++)
		if (fl_knots_from_data(&ps->features[i])) {
			assert_int_equal(
			        fl_schema_set_knots(ps, i, want + at, ps->features[i].n_knots), 0);
			at += ps->features[i].n_knots;
		}
	{
		struct fixture px = kx;
		struct fl_dataset *rows = rows_copy(kx.raw, 0, kx.raw->n);
		double rel;

		px.s = ps;
		for (size_t r = 0; r < rows->n; r++)
			for (size_t i = 0; i < ps->n_features; i++)
				if (fl_knots_from_data(&ps->features[i]))
					fl_spline_expand(&ps->features[i],
					                 rows->X + r * rows->dim +
					                         ps->features[i].enc_offset);
		pool = train_pooled(&px, rows, FL_SOLVER_NEWTON, 1.0, 1e-10, 100, &rep);
		rel = rel_diff(fed->w, pool->w, ps->dim);
		printf("  knots from data: ||w_fed - w_pool|| / ||w_pool|| = %.3e\n", rel);
		assert_true(rep.status.converged);
		assert_true(rel < 1e-6);
		assert_vec_close("baseline", fed->scaler->baseline, pool->scaler->baseline, ps->dim,
		                 1e-12);
		assert_vec_close("center", fed->scaler->center, pool->scaler->center, ps->dim,
		                 1e-12);
		fl_dataset_free(rows);
	}
	fl_model_free(pool);
	fl_model_free(fed);
	fl_schema_free(ps);
	harness_free(h);
	fl_dataset_free(kx.raw);
	fl_schema_free(kx.s);
	unlink(path);
}

/*
 * privacy = on with knots from data: the Welcome names one knots round
 * (Plan.privacy_knots_releases) beside the statistics and the evaluations,
 * every partner's alike, and the federation asks for exactly that one,
 * also when a partner drops in training (the knots, from a noised release,
 * are kept; a second knots round would be refused by the nodes).
 */
static struct fl_model *delivered_model(const struct harness *h, int i);

static void test_privacy_plan_knots(void **state)
{
	struct fixture kx = {0};
	struct fl_coord_settings s;
	struct fl_model *fed;
	struct harness *h;
	char path[64];

	(void)state;
	knots_fixture(&kx, path);
	settings_default(&s);
	s.privacy = 1;
	s.max_iterations = 2;
	h = harness_new(&kx, &s);
	run_to_end(h);
	assert_done(h, 7);
	for (int i = 0; i < NP; i++) {
		assert_int_equal(h->plan_releases[i], 1 + 1 + 2);
		assert_int_equal(h->plan_knots[i], 1);
	}
	fed = sealed_model(h);
	assert_int_equal(fed->prov.n_history, 4);
	assert_string_equal(fed->prov.history[0].kind, "knots");
	assert_string_equal(fed->prov.history[1].kind, "stats");
	fl_model_free(fed);
	harness_free(h);

	/* A partner lost in training: the others start again from the
	 * statistics with the same knots, not from another knots round. */
	s.late_policy = FL_LATE_DROP;
	h = harness_new(&kx, &s);
	h->stop_round = 3;
	run_to_end(h);
	leave(h, 2);
	h->stop_round = 0;
	pump(h);
	assert_done(h, 3);
	fed = sealed_model(h);
	assert_int_equal(fed->prov.n_history, 5);
	assert_string_equal(fed->prov.history[0].kind, "knots");
	for (size_t k = 1; k < fed->prov.n_history; k++)
		assert_string_equal(fed->prov.history[k].kind, k < 3 ? "stats" : "eval");
	fl_model_free(fed);
	harness_free(h);

	/* A coordinator resumed from a checkpoint before the final phase
	 * names every knots round the federation had, those before the
	 * restart included, when it places its knots again. */
	s.late_policy = FL_LATE_WAIT;
	h = harness_new(&kx, &s);
	run_to_end(h);
	assert_done(h, 7);
	for (size_t k = 0, resumed = 0; k < h->n_ckpt; k++) {
		struct harness *r = harness_new(&kx, &s);
		struct fl_fedcoord_view v;
		uint64_t rounds = 0;

		if (fl_fedcoord_restore(r->c, h->ckpt[k].b, h->ckpt[k].len) != 0)
			fail_msg("restore checkpoint %zu: %s", k, fl_errmsg());
		fl_fedcoord_view(r->c, &v);
		if (v.phase >= FL_PHASE_FINAL) {
			harness_free(r);
			continue;
		}
		join_all(r);
		pump(r);
		assert_done(r, 7);
		fed = delivered_model(r, 0);
		for (size_t j = 0; j < fed->prov.n_history; j++)
			rounds += strcmp(fed->prov.history[j].kind, "knots") == 0;
		for (int i = 0; i < NP; i++)
			if (r->plan_knots[i] != rounds)
				fail_msg("resumed from checkpoint %zu (phase %s): the Welcome "
				         "names %llu "
				         "knots rounds, the federation had %llu",
				         k, fl_fed_phase_name(v.phase),
				         (unsigned long long)r->plan_knots[i],
				         (unsigned long long)rounds);
		printf("  resumed from checkpoint %zu (phase %s): %llu knots rounds named and "
		       "had\n",
		       k, fl_fed_phase_name(v.phase), (unsigned long long)rounds);
		resumed++;
		fl_model_free(fed);
		harness_free(r);
		if (k + 1 == h->n_ckpt)
			assert_true(resumed > 0);
	}
	harness_free(h);
	fl_dataset_free(kx.raw);
	fl_schema_free(kx.s);
	unlink(path);
}

/* A node checks the knots a statistics task carries (inside the clip
 * range, strictly increasing, as many as the schema needs) and refuses
 * others, naming the feature and the knot. */
static void knots_refused(const struct fixture *kx, int how, const char *want_fixed)
{
	struct fl_coord_settings s;
	struct harness *h;
	Fedlead__Wire__Envelope *env;
	uint8_t *out = NULL;
	size_t olen = 0;
	char want[512];
	double *kn;

	settings_default(&s);
	h = harness_new(kx, &s);
	h->stop_round = 2; /* round 1 is the knots round, 2 the statistics */
	run_to_end(h);
	assert_true(h->qhead < h->qlen);
	env = decode_frame(h, h->q[h->qhead].frame, h->q[h->qhead].len, "coordinator");
	assert_int_equal(env->body_case, FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK);
	assert_int_equal(env->stats_task->n_knots, 6 + 5);
	kn = env->stats_task->knots;
	snprintf(want, sizeof(want), "%s", want_fixed);
	if (how == 0) {
		kn[3] = 100.5; /* x's clip is [0, 100] */
	} else if (how == 1) {
		kn[6 + 2] = kn[6 + 1]; /* z's third knot */
		snprintf(want, sizeof(want),
		         "policy knots: round 2: feature \"z\": knot 2 (%.17g) is not above "
		         "knot 1 (%.17g); refused",
		         kn[6 + 2], kn[6 + 1]);
	} else {
		env->stats_task->n_knots = 10;
	}
	fl_err_clear();
	assert_true(fl_fednode_handle(h->node[0], env, &out, &olen) < 0);
	assert_null(out);
	assert_string_equal(fl_errmsg(), want);
	assert_true(fl_fednode_fatal(h->node[0]));
	fl_wire_free(env);
	harness_free(h);
}

static void test_knots_refused(void **state)
{
	struct fixture kx = {0};
	char path[64];

	(void)state;
	knots_fixture(&kx, path);
	knots_refused(&kx, 0,
	              "policy knots: round 2: feature \"x\": knot 3 (100.5) is outside its clip "
	              "range [0, 100]; refused");
	knots_refused(&kx, 1, NULL);
	knots_refused(&kx, 2,
	              "policy knots: round 2: the statistics task carries 10 knot values, the "
	              "schema's features with knots from data need 11; refused");
	fl_dataset_free(kx.raw);
	fl_schema_free(kx.s);
	unlink(path);
}

/*
 * "monotone" in a federation: the coordinator's Newton step is projected
 * onto the constraints from the summed gradient and Hessian, so the
 * federated model equals the pooled one (1e-6) with the constraints
 * holding (they bind: the unconstrained model differs), and a coordinator
 * restarted from any checkpoint ends with the same weights bit for bit.
 */
static struct fl_schema *monotone_schema(int monotone)
{
	json_error_t jerr;
	json_t *root = json_load_file(COIL_SCHEMA, 0, &jerr), *f;
	struct fl_schema *s = NULL;
	char *text;
	size_t i;

	assert_non_null(root);
	json_array_foreach(json_object_get(root, "features"), i, f)
	{
		const char *name = json_string_value(json_object_get(f, "name"));

		if (strcmp(name, "MGODPR") == 0 || strcmp(name, "MRELGE") == 0) {
			json_object_set_new(f, "transform", json_string("spline"));
			json_object_set_new(f, "knots", json_pack("[iiii]", 0, 3, 6, 9));
			if (monotone)
				json_object_set_new(f, "monotone",
				                    json_string(strcmp(name, "MGODPR") == 0
				                                        ? "decreasing"
				                                        : "increasing"));
		} else if (strcmp(name, "MGEMOMV") == 0) {
			json_object_set_new(f, "transform", json_string("bins"));
			json_object_set_new(f, "knots", json_pack("[iiiii]", 1, 2, 3, 4, 6));
			json_object_set_new(f, "special", json_pack("[i]", 5));
			if (monotone)
				json_object_set_new(f, "monotone", json_string("decreasing"));
		}
	}
	assert_non_null(text = json_dumps(root, 0));
	json_decref(root);
	if (fl_schema_parse(text, strlen(text), "spline.json", &s) != 0)
		fail_msg("schema: %s", fl_errmsg());
	free(text);
	return s;
}

/* Feature name's effect never rises (dir -1) or falls (dir +1) by more
 * than rounding from lo to hi (special values left out). */
static void assert_monotone_effect(const struct fl_model *m, const char *name, double dir,
                                   double lo, double hi)
{
	size_t i = 0;
	double prev;

	while (strcmp(m->schema->features[i].name, name) != 0)
		i++;
	prev = fl_spline_effect(m, i, lo);
	for (int k = 1; k <= 1000; k++) {
		double v = lo + (hi - lo) * k / 1000, e;

		/* A special value (MGEMOMV's 5) has its own effect, off the
		 * curve. */
		if (fl_spline_special(&m->schema->features[i], v) >= 0)
			continue;
		e = fl_spline_effect(m, i, v);
		if (dir * (e - prev) < -1e-9)
			fail_msg("%s: the effect moves against \"monotone\" at %g (%g to %g)", name,
			         lo + (hi - lo) * k / 1000, prev, e);
		prev = e;
	}
}

static void resume_everywhere(const struct fixture *fx, const struct fl_coord_settings *s,
                              size_t step);

/* sp and plain (copies of the fixture) get the CoIL rows under
 * monotone_schema(1) and monotone_schema(0). */
static void monotone_fixtures(struct fixture *sp, struct fixture *plain)
{
	struct fl_load_report lrep;

	sp->s = monotone_schema(1);
	plain->s = monotone_schema(0);
	if (fl_dataset_load(sp->s, COIL_DATA, FL_BAD_ROWS_FAIL, &sp->raw, &lrep) != 0 ||
	    fl_dataset_load(plain->s, COIL_DATA, FL_BAD_ROWS_FAIL, &plain->raw, &lrep) != 0)
		fail_msg("load: %s", fl_errmsg());
}

static void monotone_fixtures_free(struct fixture *sp, struct fixture *plain)
{
	fl_dataset_free(sp->raw);
	fl_dataset_free(plain->raw);
	fl_schema_free(sp->s);
	fl_schema_free(plain->s);
}

static void test_monotone_newton_equals_pooled(void **state)
{
	struct fixture *fx = *state, sp = *fx, plain = *fx;
	struct fl_coord_settings s;
	struct fl_train_report rep, prep;
	struct fl_model *fed, *pool, *free_pool;
	struct harness *h;
	double rel, rel_free;

	monotone_fixtures(&sp, &plain);
	settings_default(&s);
	s.algorithm = FL_FED_NEWTON;
	s.max_iterations = 100;
	s.tolerance = 1e-10;
	h = harness_new(&sp, &s);
	run_to_end(h);
	assert_done(h, 7);
	fed = sealed_model(h);
	pool = train_pooled(&sp, sp.raw, FL_SOLVER_NEWTON, 1.0, 1e-10, 100, &rep);
	free_pool = train_pooled(&plain, plain.raw, FL_SOLVER_NEWTON, 1.0, 1e-10, 100, &prep);
	rel = rel_diff(fed->w, pool->w, sp.s->dim);
	rel_free = rel_diff(pool->w, free_pool->w, sp.s->dim);
	printf("  monotone newton: ||w_fed - w_pool|| / ||w_pool|| = %.3e; iterations fed %d, "
	       "pooled %d; constrained vs unconstrained %.3e\n",
	       rel, fed->prov.iterations, rep.status.iterations, rel_free);
	assert_true(rep.status.converged);
	assert_true(rel < 1e-6);
	assert_int_equal(fed->prov.iterations, rep.status.iterations);
	assert_near(fed->prov.final_loss, pool->prov.final_loss, 1e-8 * pool->prov.final_loss);
	/* The constraints bind on these data... */
	assert_true(rel_free > 1e-3);
	/* ...and hold in the federated model, beyond the knots too. */
	assert_monotone_effect(fed, "MGODPR", -1, -3, 12);
	assert_monotone_effect(fed, "MRELGE", 1, -3, 12);
	assert_monotone_effect(fed, "MGEMOMV", -1, 0, 8);
	fl_model_free(fed);
	fl_model_free(pool);
	fl_model_free(free_pool);
	harness_free(h);

	/* Restarted from every checkpoint: the same weights, bit for bit. */
	resume_everywhere(&sp, &s, 1);

	/* Algorithms that cannot enforce it refuse the federation at once. */
	s.algorithm = FL_FED_FEDAVG;
	{
		struct fl_fedcoord *c = NULL;
		struct fl_fedcoord_io io = {0};

		fl_err_clear();
		assert_int_equal(fl_fedcoord_new(&s, sp.s, &io, &c), FL_ERR_INVALID);
		assert_null(c);
		assert_string_equal(fl_errmsg(), "feature \"MGEMOMV\": \"monotone\" is enforced by "
		                                 "the newton solver only, not by fedavg; train "
		                                 "with newton or remove it");
	}
	monotone_fixtures_free(&sp, &plain);
}

/*
 * "monotone" under the differential privacy plan (these nodes add no
 * noise, so the run is deterministic): each of the plan's full Newton
 * steps is the quadratic model's minimum over the constraints
 * (fl_solver_qp(), post-processing of the same released sums), and the
 * model keeps every monotone curve, beyond the knots too. The plan
 * without the constraints gives a model that breaks them on these data,
 * so they bind; the same Welcome, the same releases (4 evaluations, the
 * Hessian in the first). A coordinator restarted from any checkpoint ends
 * with the same weights bit for bit. FedAvg still refuses such a schema
 * (test_monotone_newton_equals_pooled()).
 */
static void test_privacy_monotone(void **state)
{
	struct fixture *fx = *state, sp = *fx, plain = *fx;
	struct fl_coord_settings s;
	struct fl_model *fed, *free_fed;
	struct harness *h;

	monotone_fixtures(&sp, &plain);
	settings_default(&s);
	s.privacy = 1;
	s.max_iterations = 4;
	h = harness_new(&sp, &s);
	run_to_end(h);
	assert_done(h, 7);
	fed = sealed_model(h);
	for (int i = 0; i < NP; i++) {
		assert_int_equal(h->plan_releases[i], 1 + 4);
		assert_int_equal(h->eval_tasks[i], 4);
		assert_int_equal(h->hess_tasks[i], 1);
	}
	assert_int_equal(fed->prov.iterations, 4);
	harness_free(h);
	h = harness_new(&plain, &s);
	run_to_end(h);
	assert_done(h, 7);
	free_fed = sealed_model(h);
	harness_free(h);
	printf("  privacy plan, monotone: constrained vs unconstrained %.3e\n",
	       rel_diff(fed->w, free_fed->w, sp.s->dim));
	/* Without the constraints the plan's model breaks them... */
	assert_int_equal(fl_spline_monotone_verify(sp.s, free_fed->w), FL_ERR_DATA);
	/* ...with them it keeps them, as the nodes check, and on the curve. */
	if (fl_spline_monotone_verify(sp.s, fed->w) != 0)
		fail_msg("%s", fl_errmsg());
	assert_monotone_effect(fed, "MGODPR", -1, -3, 12);
	assert_monotone_effect(fed, "MRELGE", 1, -3, 12);
	assert_monotone_effect(fed, "MGEMOMV", -1, 0, 8);
	fl_model_free(fed);
	fl_model_free(free_fed);

	/* Restarted from every checkpoint: the same weights, bit for bit. */
	resume_everywhere(&sp, &s, 1);
	monotone_fixtures_free(&sp, &plain);
}

static void test_lbfgs_equals_pooled(void **state)
{
	/* L-BFGS converges linearly on this ill-conditioned problem (one-hot
	 * columns, light penalty): a tighter tolerance brings both runs close to
	 * the optimum, where their paths, which part ways in rounding, meet. */
	check_exact(state, FL_FED_LBFGS, FL_SOLVER_LBFGS, 1e-12, 10000);
}

/* ---- 2. fedavg ---- */

struct fedavg_result {
	double fed_ll, fed_auc, pool_ll, pool_auc, reported_ll, reported_auc;
	uint32_t rounds;
};

static void run_fedavg(const struct fixture *fx, const struct fl_coord_settings *s,
                       struct fedavg_result *res)
{
	struct fl_dataset *tr = NULL, *va = NULL;
	struct fl_train_report rep;
	struct fl_model *fed, *pool;
	struct harness *h = harness_new(fx, s);

	run_to_end(h);
	assert_done(h, 7);
	fed = sealed_model(h);
	split_rows(fx, s->validation_split, s->seed, &tr, &va);
	pool = train_pooled(fx, tr, FL_SOLVER_NEWTON, s->l2, 1e-10, 100, &rep);
	naive_metrics(fed, va, &res->fed_ll, &res->fed_auc);
	naive_metrics(pool, va, &res->pool_ll, &res->pool_auc);
	res->reported_ll = fed->prov.valid.log_loss;
	res->reported_auc = fed->prov.valid.auc;
	res->rounds = fed->prov.rounds;
	/* The model trained on the training parts only, and was validated on
	 * the held-out ones. */
	assert_int_equal(fed->prov.rows, tr->n);
	assert_int_equal(fed->prov.valid.rows, va->n);
	assert_int_equal(fed->prov.valid.positives, count_positives(va));
	fl_model_free(fed);
	fl_model_free(pool);
	fl_dataset_free(tr);
	fl_dataset_free(va);
	harness_free(h);
}

/* The model's validation figures are its own: the log-loss the
 * coordinator put in the model (from summed partner sums) equals the one
 * computed here on the held-out rows, and the histogram AUC is the exact
 * one but for ties within a bin. */
static void assert_reported_valid(const struct fedavg_result *res)
{
	assert_near(res->reported_ll, res->fed_ll, 1e-9 * res->fed_ll);
	assert_near(res->reported_auc, res->fed_auc, 0.005);
}

static void test_fedavg_defaults(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct fedavg_result res;

	/* deploy/config/coordinator.conf: 20 rounds of 2 epochs, batch 64,
	 * learning rate 0.5. */
	settings_default(&s);
	s.algorithm = FL_FED_FEDAVG;
	s.validation_split = 0.2;
	run_fedavg(fx, &s, &res);
	printf("  fedavg l2 %g, %d rounds of %d epochs, lr %g: validation log-loss %.6f, pooled "
	       "Newton %.6f (%+.2f %%); AUC %.4f, pooled %.4f; %u rounds\n",
	       s.l2, s.fedavg_rounds, s.local_epochs, s.local_lr, res.fed_ll, res.pool_ll,
	       100 * (res.fed_ll / res.pool_ll - 1), res.fed_auc, res.pool_auc, res.rounds);
	assert_reported_valid(&res);
	/* Plain SGD at this rate ends noisy: a few per cent off. */
	assert_true(fabs(res.fed_ll / res.pool_ll - 1) < 0.05);
	/* 20 fedavg rounds, a statistics round and one to validate the final
	 * weights. */
	assert_int_equal(res.rounds, 22);
}

static void test_fedavg_within_one_percent(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct fedavg_result res;

	/* A penalty at which the pooled model generalises well, and a smaller
	 * learning rate: FedAvg lands within 1 % of the pooled log-loss. */
	settings_default(&s);
	s.algorithm = FL_FED_FEDAVG;
	s.validation_split = 0.2;
	s.l2 = 100;
	s.local_epochs = 5;
	s.local_lr = 0.1;
	run_fedavg(fx, &s, &res);
	printf("  fedavg l2 %g, %d rounds of %d epochs, lr %g: validation log-loss %.6f, pooled "
	       "Newton %.6f (%+.2f %%); AUC %.4f, pooled %.4f\n",
	       s.l2, s.fedavg_rounds, s.local_epochs, s.local_lr, res.fed_ll, res.pool_ll,
	       100 * (res.fed_ll / res.pool_ll - 1), res.fed_auc, res.pool_auc);
	assert_reported_valid(&res);
	assert_true(res.fed_ll <= 1.01 * res.pool_ll);
}

/* ---- 3. l2 = auto ---- */

static void test_l2_auto(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct fl_dataset *tr = NULL, *va = NULL;
	struct fl_train_report rep;
	struct fl_model *fed, *pool;
	struct harness *h;
	double grid[FL_L2_GRID_MAX], last[FL_L2_GRID_MAX], ll, auc, rel;
	size_t n_grid, best = 0;

	settings_default(&s);
	s.l2_auto = 1;
	s.validation_split = 0.2;
	h = harness_new(fx, &s);
	run_to_end(h);
	assert_done(h, 7);
	fed = sealed_model(h);
	n_grid = fl_l2_grid(grid, FL_L2_GRID_MAX);
	assert_true(n_grid >= 2);

	/* Every grid point was trained, each evaluation reporting validation
	 * metrics; the last entry of a point holds them at its final weights. */
	printf("  l2 = auto:");
	for (size_t g = 0; g < n_grid; g++) {
		int evals = 0, seen = 0;

		for (size_t k = 1; k < fed->prov.n_history; k++) {
			const struct fl_round_log *e = &fed->prov.history[k];

			if (e->l2 != grid[g])
				continue;
			seen = 1;
			last[g] = e->valid_log_loss;
			assert_true(isfinite(e->valid_log_loss) && e->valid_log_loss > 0);
			/* 0.5 at w = 0, where every score ties. */
			assert_true(isfinite(e->valid_auc) && e->valid_auc >= 0.5 &&
			            e->valid_auc < 1);
			evals += strcmp(e->kind, "eval") == 0;
			if (strcmp(e->kind, "eval") != 0)
				assert_string_equal(e->kind, "validate");
		}
		assert_true(seen);
		assert_true(evals >= 1);
		if (last[g] < last[best])
			best = g;
		printf(" %g: %.6f (%d rounds);", grid[g], last[g], evals);
	}
	printf(" chose %g after %u rounds\n", fed->prov.l2, fed->prov.rounds);
	/* The grid point with the least validation log-loss, and its metrics. */
	assert_true(fed->prov.l2 == grid[best]);
	assert_true(fed->prov.valid.log_loss == last[best]);

	/* The figures in the model are the model's own on the held-out rows,
	 * and the model is the pooled fit of the training rows at that l2. */
	split_rows(fx, s.validation_split, s.seed, &tr, &va);
	naive_metrics(fed, va, &ll, &auc);
	assert_int_equal(fed->prov.valid.rows, va->n);
	assert_int_equal(fed->prov.valid.positives, count_positives(va));
	assert_near(fed->prov.valid.log_loss, ll, 1e-9 * ll);
	assert_near(fed->prov.valid.auc, auc, 0.005);
	pool = train_pooled(fx, tr, FL_SOLVER_NEWTON, grid[best], 1e-10, 100, &rep);
	rel = rel_diff(fed->w, pool->w, fx->s->dim);
	printf("  l2 = auto: ||w_fed - w_pool|| / ||w_pool|| = %.3e at l2 %g\n", rel, grid[best]);
	assert_true(rel < 1e-6);
	/* The training figures belong to the chosen point, not to the last
	 * one tried (on this data the chosen point is not the last, so a
	 * model stamped with the last point's figures fails here). */
	assert_true(best + 1 < n_grid);
	assert_near(fed->prov.final_loss, pool->prov.final_loss, 1e-8 * pool->prov.final_loss);
	assert_near(fed->prov.train.log_loss, pool->prov.train.log_loss,
	            1e-8 * pool->prov.train.log_loss);
	assert_true(fed->prov.grad_norm < 1e-6);
	fl_model_free(pool);
	fl_model_free(fed);
	fl_dataset_free(tr);
	fl_dataset_free(va);
	harness_free(h);
}

/* Node i says hello with the privacy terms t (none when NULL), as a node
 * with differential privacy on does (these nodes add no noise themselves). */
static int join_dp(struct harness *h, int i, const Fedlead__Wire__PrivacyTerms *t)
{
	Fedlead__Wire__Hello hello = FEDLEAD__WIRE__HELLO__INIT;

	hello.protocol_version = FL_WIRE_PROTOCOL_VERSION;
	hello.software_version = "test";
	hello.schema_fingerprint.data = (uint8_t *)h->fx->s->fingerprint;
	hello.schema_fingerprint.len = FL_FINGERPRINT_LEN;
	hello.federation_id = "";
	hello.privacy = (Fedlead__Wire__PrivacyTerms *)t;
	h->connected[i] = 1;
	fl_err_clear();
	return fl_fedcoord_join(h->c, NAMES[i], &hello);
}

static Fedlead__Wire__PrivacyTerms dp_terms(double epsilon, uint64_t releases, double rho_left)
{
	Fedlead__Wire__PrivacyTerms t = FEDLEAD__WIRE__PRIVACY_TERMS__INIT;

	t.mechanism = FL_DP_MECHANISM;
	t.accountant = FL_DP_ACCOUNTANT;
	t.epsilon = t.federation_epsilon = epsilon;
	t.delta = 1e-6;
	t.window = 86400;
	t.releases = releases;
	t.clip = 3;
	t.max_colluders = 1;
	t.plan = "fedlead-dp-v7";
	t.rho = 0.02;
	t.rho_needed = 0.02;
	t.rho_left = rho_left;
	return t;
}

/* The audit events named event in path, as JSON (an array). */
static json_t *audit_read(const char *path, const char *event)
{
	json_t *out = json_array();
	char line[4096];
	FILE *fp = fopen(path, "r");

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		json_t *e = json_loads(line, 0, NULL);

		assert_non_null(e);
		if (strcmp(json_string_value(json_object_get(e, "event")), event) == 0)
			json_array_append(out, e);
		json_decref(e);
	}
	fclose(fp);
	return out;
}

/*
 * privacy = on and the partners' terms from their Hellos: the plan line up
 * front names the tightest budget (least left after this federation), the
 * model records every participant's terms, and a partner whose budget
 * cannot pay for the plan, whose privacy_releases are fewer than the plan,
 * or whose terms differ from the others' is refused by name; when too few
 * are left to start, the federation fails with the reason. Without privacy
 * = on the coordinator takes no notice (the node refuses the plan itself).
 */
static void test_privacy_terms(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct harness *h;
	struct fl_model *m;
	Fedlead__Wire__PrivacyTerms t[NP];
	char path[] = "/tmp/fl-test-fed-audit.XXXXXX", dp[512];
	json_t *ev;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(fl_audit_open(path, &harness_audit), 0);
	settings_default(&s);
	s.privacy = 1;
	s.max_iterations = 4;
	s.min_partners = 3;
	t[0] = dp_terms(1, 30, 0.05);
	t[1] = dp_terms(1, 30, 0.025);
	t[2] = dp_terms(1, 30, 0.03);
	h = harness_new(fx, &s);
	for (int i = 0; i < NP; i++)
		assert_int_equal(join_dp(h, i, &t[i]), 0);
	pump(h);
	assert_done(h, 7);
	fl_audit_close(harness_audit);
	harness_audit = NULL;
	ev = audit_read(path, "privacy_plan");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "plan")),
	                    "privacy plan: 5 releases per partner; tightest budget: globex, "
	                    "epsilon 1 (delta 1e-06) for this federation, 30 releases (rho 0.02 of "
	                    "the 0.025 its window has left)");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "tightest")),
	                    "globex");
	json_decref(ev);
	unlink(path);
	m = sealed_model(h);
	assert_non_null(m->prov.privacy);
	assert_int_equal(m->prov.privacy->n_partners, 3);
	/* The statistics round and the 4 evaluations. */
	assert_int_equal(m->prov.privacy->releases, 5);
	for (int i = 0; i < NP; i++) {
		const struct fl_dp_partner *e = &m->prov.privacy->partners[i];

		assert_string_equal(e->partner, NAMES[i]);
		assert_true(e->epsilon == 1 && e->delta == 1e-6 && e->clip == 3 && e->rho == 0.02);
		assert_int_equal(e->releases, 30);
		assert_int_equal(e->max_colluders, 1);
	}
	fl_model_privacy_text(m, dp, sizeof(dp));
	assert_string_equal(dp, "trained with differential privacy: \xce\xb5 = 1, \xce\xb4 = "
	                        "10\xe2\x81\xbb\xe2\x81\xb6 per partner (distributed discrete "
	                        "Gaussian under secure aggregation, zCDP accountant, 5 of 30 "
	                        "releases, clip 3, each lead's gradient clipped to 2.4 in the "
	                        "evaluations without the Hessian)");
	assert_true(m->prov.privacy->gradient_clip == 0.8);
	fl_model_free(m);
	harness_free(h);

	/* A budget too small for this federation: refused by name; with
	 * min_partners = 3 the federation cannot start. */
	t[1] = dp_terms(1, 30, 0.01);
	h = harness_new(fx, &s);
	assert_int_equal(join_dp(h, 0, &t[0]), 0);
	assert_int_equal(join_dp(h, 1, &t[1]), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "partner globex: privacy budget of partner globex cannot pay for this "
	                    "federation: its 30 releases would spend rho 0.02 (epsilon 1, delta "
	                    "1e-06), and its window has rho 0.01 left");
	assert_true(h->reject_permanent[1]);
	assert_int_equal(h->finished, 1);
	assert_false(h->finished_ok);
	assert_string_equal(
	        h->finished_msg,
	        "cannot start within the partners' privacy: privacy budget of partner "
	        "globex cannot pay for this federation: its 30 releases would spend rho "
	        "0.02 (epsilon 1, delta 1e-06), and its window has rho 0.01 left");
	harness_free(h);

	/* Fewer privacy_releases than the plan; then terms that differ from
	 * the first partner's, or none at all beside a noisy partner. With
	 * min_partners = 2 and one refused, the federation can still start. */
	s.min_partners = 2;
	t[1] = dp_terms(1, 3, 0.05);
	h = harness_new(fx, &s);
	assert_int_equal(join_dp(h, 1, &t[1]), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "partner globex: privacy plan: 5 releases per partner, but "
	                    "partner globex's node splits its budget over "
	                    "privacy_releases = 3");
	assert_int_equal(h->finished, 0);
	t[1] = dp_terms(2, 30, 0.05);
	assert_int_equal(join_dp(h, 0, &t[0]), 0);
	assert_int_equal(join_dp(h, 1, &t[1]), FL_ERR_AUTH);
	assert_string_equal(
	        fl_errmsg(),
	        "partner globex: partner globex's privacy terms (epsilon 2 (delta 1e-06), "
	        "30 releases, clip 3, max_colluders 1) differ from acme's (epsilon 1 (delta "
	        "1e-06), 30 releases, clip 3, max_colluders 1): their noise would not add up "
	        "in one round; every partner's privacy_federation_epsilon (or "
	        "privacy_epsilon), privacy_delta, privacy_releases, privacy_clip and "
	        "max_colluders must be the same");
	/* max_colluders sets a node's noise (threshold - max_colluders honest
	 * partners), so partners that differ in it cannot share a round. */
	t[1] = dp_terms(1, 30, 0.05);
	t[1].max_colluders = 2;
	assert_int_equal(join_dp(h, 1, &t[1]), FL_ERR_AUTH);
	assert_string_equal(
	        fl_errmsg(),
	        "partner globex: partner globex's privacy terms (epsilon 1 (delta 1e-06), "
	        "30 releases, clip 3, max_colluders 2) differ from acme's (epsilon 1 (delta "
	        "1e-06), 30 releases, clip 3, max_colluders 1): their noise would not add up "
	        "in one round; every partner's privacy_federation_epsilon (or "
	        "privacy_epsilon), privacy_delta, privacy_releases, privacy_clip and "
	        "max_colluders must be the same");
	assert_true(h->reject_permanent[1]);
	assert_int_equal(join_dp(h, 2, NULL), FL_ERR_AUTH);
	assert_string_equal(
	        fl_errmsg(),
	        "partner initech: partner initech's privacy terms (no differential "
	        "privacy) differ from acme's (epsilon 1 (delta 1e-06), 30 releases, clip "
	        "3, max_colluders 1): their noise would not add up in one round; every "
	        "partner's privacy_federation_epsilon (or privacy_epsilon), privacy_delta, "
	        "privacy_releases, privacy_clip and max_colluders must be the same");
	assert_int_equal(h->finished, 1);
	assert_false(h->finished_ok);
	harness_free(h);

	/* privacy = off: the coordinator takes no notice of the terms. */
	s.privacy = 0;
	h = harness_new(fx, &s);
	assert_int_equal(join_dp(h, 0, &t[1]), 0);
	assert_int_equal(h->rejects[0], 0);
	harness_free(h);
}

/*
 * The DP plan version a partner announces (PrivacyTerms.plan): a partner
 * of another plan, or of none (a node from before the field), is refused
 * at its Hello by name, before any round; with min_partners = 2 of three
 * the federation cannot start once two are refused, and no task went out.
 */
static void test_privacy_plan_version(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct harness *h;
	Fedlead__Wire__PrivacyTerms t[NP];

	settings_default(&s);
	s.privacy = 1;
	s.max_iterations = 4;
	s.min_partners = 2;
	for (int i = 0; i < NP; i++)
		t[i] = dp_terms(1, 30, 0.05);
	t[1].plan = "fedlead-dp-v3";
	t[2].plan = "";
	h = harness_new(fx, &s);
	assert_int_equal(join_dp(h, 0, &t[0]), 0);
	assert_int_equal(join_dp(h, 1, &t[1]), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "partner globex: partner globex follows differential privacy plan "
	                    "\"fedlead-dp-v3\"; this coordinator speaks \"fedlead-dp-v7\" only, "
	                    "and partners of different plans cannot train together");
	assert_true(h->reject_permanent[1]);
	assert_int_equal(h->finished, 0);
	assert_int_equal(join_dp(h, 2, &t[2]), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "partner initech: partner initech announces no differential privacy "
	                    "plan (a node from before plans were announced); this coordinator "
	                    "speaks \"fedlead-dp-v7\" only");
	assert_true(h->reject_permanent[2]);
	assert_int_equal(h->finished, 1);
	assert_false(h->finished_ok);
	assert_string_equal(h->finished_msg,
	                    "cannot start within the partners' privacy: partner initech announces "
	                    "no differential privacy plan (a node from before plans were "
	                    "announced); this coordinator speaks \"fedlead-dp-v7\" only");
	for (int i = 0; i < NP; i++)
		assert_int_equal(h->eval_tasks[i], 0);
	harness_free(h);
}

/*
 * The privacy plan's weights on the pooled rows without noise, computed
 * here step by step in the plan's encoding (coord_int.h): each 0/1 column
 * centred at its frequency p_j (the model scaler's baseline), every
 * column divided by k = 0.75 sqrt(E / (1 + features)), E = 1 + the
 * values' columns + sum p_j (1 - p_j), and l2 / k^2 for l2: the Hessian
 * at the start plus the l2 term, its eigenvalues floored at that l2 (the
 * noise measured on the schema's zero entries is 0), and `steps` full steps
 * with it and the exact gradient from the start: every weight 0 but the
 * intercept, k log(P / N) for P converted and N other leads (class weight
 * 1: the intercept column is 1 / k, so the model starts at the log-odds of
 * the rate of converted leads); then back to the model's
 * standardised units (w_j / k, and the intercept (w_0 - sum p_j w_j) / k;
 * no row was clipped, so no calibration).
 */
static void dp_plan_reference(const struct fixture *fx, const struct fl_scaler *sc0, double l2,
                              int steps, double *w)
{
	size_t n = fx->raw->n, d = fx->s->dim;
	double *X = malloc(n * d * sizeof(double)), *H = malloc(d * d * sizeof(double));
	double *F = malloc(d * d * sizeof(double)), *g = malloc(d * sizeof(double)), loss;
	double *p = calloc(d, sizeof(double)), E = 1, k, w0, pos = 0;
	struct fl_scaler *sc = NULL;

	assert_non_null(X);
	assert_non_null(H);
	assert_non_null(F);
	assert_non_null(g);
	assert_non_null(p);
	assert_int_equal(fl_scaler_new(d, &sc), 0);
	for (size_t i = 0; i < fx->s->n_features; i++) {
		const struct fl_feature *f = &fx->s->features[i];

		for (size_t j = f->enc_offset; j < f->enc_offset + f->enc_width; j++) {
			if (fl_feature_is_value(f, j)) {
				E += 1;
				continue;
			}
			p[j] = sc0->baseline[j] > 0 && sc0->baseline[j] < 1 ? sc0->baseline[j] : 0;
			E += p[j] * (1 - p[j]);
		}
	}
	k = 0.75 * sqrt(E / (1.0 + (double)fx->s->n_features));
	for (size_t j = 0; j < d; j++) {
		sc->center[j] = sc0->center[j] + p[j] * sc0->scale[j];
		sc->scale[j] = sc0->scale[j] * k;
		sc->impute[j] = sc0->impute[j];
	}
	l2 /= k * k;
	memcpy(X, fx->raw->X, n * d * sizeof(double));
	for (size_t i = 0; i < n; i++)
		fl_scaler_apply(sc, X + i * d);
	memset(w, 0, d * sizeof(double));
	for (size_t i = 0; i < n; i++)
		pos += fx->raw->y[i];
	w[0] = k * log(pos / ((double)n - pos));
	fl_linalg_logistic(X, n, d, fx->raw->y, NULL, w, &loss, g, H);
	for (size_t j = 1; j < d; j++)
		H[j * d + j] += l2;
	assert_int_equal(fl_linalg_sym_floor(H, d, l2), 0);
	for (int t = 0; t < steps; t++) {
		if (t > 0)
			fl_linalg_logistic(X, n, d, fx->raw->y, NULL, w, &loss, g, NULL);
		for (size_t j = 0; j < d; j++)
			g[j] = -(g[j] + (j >= 1 ? l2 * w[j] : 0));
		for (size_t i = 0; i < d; i++)
			for (size_t j = 0; j < d; j++)
				F[i * d + j] = H[(i < j ? i : j) * d + (i < j ? j : i)];
		assert_int_equal(fl_linalg_spd_solve(F, d, g), 0);
		for (size_t j = 0; j < d; j++)
			w[j] += g[j];
	}
	w0 = w[0];
	for (size_t j = 1; j < d; j++) {
		w0 -= p[j] * w[j];
		w[j] /= k;
	}
	w[0] = w0 / k;
	fl_scaler_free(sc);
	free(p);
	free(X);
	free(H);
	free(F);
	free(g);
}

/*
 * privacy = on: a fixed plan of releases, announced in the Welcome (the
 * statistics round and the evaluations), and exactly that many rounds, the
 * Hessian asked for in the first evaluation only. Without noise (these
 * nodes add none) the weights are those of the plan's steps on the pooled
 * rows (dp_plan_reference()).
 */
static void test_privacy_plan(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct fl_train_report rep;
	struct fl_model *fed, *pool;
	struct harness *h;
	double rel, *w;

	settings_default(&s);
	s.privacy = 1;
	s.max_iterations = 4;
	assert_int_equal(fl_coord_privacy_releases(&s), 1 + 4);
	h = harness_new(fx, &s);
	run_to_end(h);
	assert_done(h, 7);
	fed = sealed_model(h);
	for (int i = 0; i < NP; i++) {
		assert_int_equal(h->plan_releases[i], 1 + 4);
		assert_int_equal(h->plan_knots[i], 0);
		assert_string_equal(h->plan_name[i], "fedlead-dp-v7");
		assert_int_equal(h->eval_tasks[i], 4);
		assert_int_equal(h->hess_tasks[i], 1);
		assert_int_equal(h->valid_tasks[i], 0);
	}
	/* stats, then the 4 evaluations; nothing else was asked for. */
	assert_int_equal(fed->prov.n_history, 5);
	for (size_t k = 1; k < fed->prov.n_history; k++)
		assert_string_equal(fed->prov.history[k].kind, "eval");
	assert_int_equal(fed->prov.iterations, 4);
	w = malloc(fx->s->dim * sizeof(double));
	assert_non_null(w);
	dp_plan_reference(fx, fed->scaler, 1.0, 4, w);
	rel = rel_diff(fed->w, w, fx->s->dim);
	printf("  privacy plan: ||w_fed - w_plan(pooled)|| / ||w_plan|| = %.3e\n", rel);
	assert_true(rel < 1e-9);
	/* For the log: how far the plan's four steps are from the optimum. */
	pool = train_pooled(fx, fx->raw, FL_SOLVER_NEWTON, 1.0, 1e-10, 100, &rep);
	rel = rel_diff(fed->w, pool->w, fx->s->dim);
	printf("  privacy plan: ||w_fed - w_pool(converged)|| / ||w_pool|| = %.3e\n", rel);
	free(w);
	fl_model_free(pool);
	fl_model_free(fed);
	harness_free(h);

	/* l2 = auto with validation: per grid point 3 Newton evaluations (the
	 * first with the Hessian) and one validation evaluation at the weights
	 * reached. */
	settings_default(&s);
	s.privacy = 1;
	s.max_iterations = 3;
	s.l2_auto = 1;
	s.validation_split = 0.2;
	{
		double grid[FL_L2_GRID_MAX];
		size_t n_grid = fl_l2_grid(grid, FL_L2_GRID_MAX), valid_rounds = 0;

		assert_int_equal(fl_coord_privacy_releases(&s), 1 + 4 * n_grid);
		h = harness_new(fx, &s);
		run_to_end(h);
		assert_done(h, 7);
		fed = sealed_model(h);
		for (int i = 0; i < NP; i++) {
			assert_int_equal(h->plan_releases[i], 1 + 4 * n_grid);
			assert_int_equal(h->eval_tasks[i], 4 * n_grid);
			assert_int_equal(h->hess_tasks[i], n_grid);
			assert_int_equal(h->valid_tasks[i], n_grid);
		}
		assert_int_equal(fed->prov.n_history, 1 + 4 * n_grid);
		for (size_t k = 1; k < fed->prov.n_history; k++)
			if (strcmp(fed->prov.history[k].kind, "validate") == 0) {
				valid_rounds++;
				assert_true(fed->prov.history[k].valid_log_loss >=
				            fed->prov.valid.log_loss);
			}
		assert_int_equal(valid_rounds, n_grid);
		fl_model_free(fed);
		harness_free(h);
	}

	/* The plan needs Newton: L-BFGS's line search is data-dependent. */
	settings_default(&s);
	s.privacy = 1;
	s.algorithm = FL_FED_LBFGS;
	assert_int_equal(fl_coord_settings_check(&s), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "privacy = on needs algorithm = newton (a fixed number of "
	                                 "damped Newton steps); lbfgs's number of evaluations "
	                                 "depends on the data");
	/* The daemon's check of the schema: every numeric feature needs a clip
	 * range under privacy (the stock CoIL schema has none; its copy for
	 * differential privacy has them all). */
	{
		struct fl_schema *dp = NULL;

		settings_default(&s);
		assert_int_equal(fl_coord_privacy_schema_check(&s, fx->s), 0);
		s.privacy = 1;
		assert_int_equal(fl_coord_privacy_schema_check(&s, fx->s), FL_ERR_CONFIG);
		assert_string_equal(fl_errmsg(),
		                    "privacy = on needs a clip range on every numeric "
		                    "feature of the schema, which bounds each lead's part "
		                    "in the statistics round: feature \"MAANTHUI\" has "
		                    "none");
		assert_int_equal(
		        fl_schema_load(FL_TEST_DATA "/coil2000/coil2000-dp.schema.json", &dp), 0);
		assert_int_equal(fl_coord_privacy_schema_check(&s, dp), 0);
		fl_schema_free(dp);
	}
}

/* ---- 4. checkpoints ---- */

/* The model the partners received. */
static struct fl_model *delivered_model(const struct harness *h, int i)
{
	struct fl_model *m = NULL;

	assert_non_null(h->final_file[i].b);
	if (fl_model_decode(h->final_file[i].b, h->final_file[i].len, "delivered model", &m) != 0)
		fail_msg("delivered model: %s", fl_errmsg());
	return m;
}

static void assert_same_history(const struct fl_model *a, const struct fl_model *b)
{
	assert_int_equal(a->prov.rounds, b->prov.rounds);
	assert_int_equal(a->prov.iterations, b->prov.iterations);
	assert_int_equal(a->prov.n_history, b->prov.n_history);
	for (size_t k = 0; k < a->prov.n_history; k++) {
		const struct fl_round_log *x = &a->prov.history[k], *y = &b->prov.history[k];

		assert_int_equal(x->round, y->round);
		assert_string_equal(x->kind, y->kind);
		assert_memory_equal(&x->l2, &y->l2, sizeof(double));
		assert_memory_equal(&x->train_loss, &y->train_loss, sizeof(double));
		assert_memory_equal(&x->valid_log_loss, &y->valid_log_loss, sizeof(double));
		assert_int_equal(x->partners, y->partners);
	}
}

/* Runs a federation, then restarts a coordinator from checkpoints 0, step,
 * 2 step, ... and the last four (the end of training, the final phase, and
 * done), with fresh nodes: each ends with the uninterrupted run's model,
 * bit for bit. */
static void resume_everywhere(const struct fixture *fx, const struct fl_coord_settings *s,
                              size_t step)
{
	struct harness *h = harness_new(fx, s);
	struct fl_model *ref;
	size_t d = fx->s->dim, resumed = 0;

	run_to_end(h);
	assert_done(h, 7);
	ref = sealed_model(h);
	assert_true(h->n_ckpt >= 3);
	for (size_t k = 0; k < h->n_ckpt; k++) {
		struct harness *r;
		struct fl_fedcoord_view v;
		struct fl_model *m;

		if (k % step != 0 && k + 4 < h->n_ckpt)
			continue;
		r = harness_new(fx, s);
		if (fl_fedcoord_restore(r->c, h->ckpt[k].b, h->ckpt[k].len) != 0)
			fail_msg("restore checkpoint %zu: %s", k, fl_errmsg());
		fl_fedcoord_view(r->c, &v);
		if (v.phase == FL_PHASE_DONE) {
			/* The last checkpoint: nothing is left to do. */
			assert_int_equal(k, h->n_ckpt - 1);
			assert_int_equal(join_as(r, 0, NULL, "", NULL), FL_ERR_AUTH);
			assert_string_equal(r->reject[0], "federation " FED_ID " has finished");
			harness_free(r);
			continue;
		}
		/* Waiting for the participants to come back, within the deadline. */
		assert_true(r->timer == DEADLINE);
		join_all(r);
		pump(r);
		assert_done(r, 7);
		/* A restart in the final phase delivers the sealed model kept in
		 * the checkpoint; otherwise training finishes anew. */
		assert_int_equal(r->n_sealed, v.phase == FL_PHASE_FINAL ? 0 : 1);
		m = delivered_model(r, 0);
		if (memcmp(m->w, ref->w, d * sizeof(double)) != 0)
			fail_msg("resumed from checkpoint %zu of %zu (round %llu, phase %s): "
			         "weights "
			         "differ by %.3e",
			         k, h->n_ckpt, (unsigned long long)v.round,
			         fl_fed_phase_name(v.phase), rel_diff(m->w, ref->w, d));
		assert_memory_equal(m->scaler->center, ref->scaler->center, d * sizeof(double));
		assert_memory_equal(m->scaler->scale, ref->scaler->scale, d * sizeof(double));
		assert_true(m->prov.l2 == ref->prov.l2);
		assert_memory_equal(&m->prov.valid.log_loss, &ref->prov.valid.log_loss,
		                    sizeof(double));
		assert_memory_equal(&m->prov.valid.auc, &ref->prov.valid.auc, sizeof(double));
		if (m->prov.valid.rows != ref->prov.valid.rows ||
		    m->prov.valid.positives != ref->prov.valid.positives)
			fail_msg("resumed from checkpoint %zu of %zu (round %llu, phase %s): the "
			         "model says %llu validation rows (%llu converted), the "
			         "uninterrupted "
			         "run's %llu (%llu)",
			         k, h->n_ckpt, (unsigned long long)v.round,
			         fl_fed_phase_name(v.phase), (unsigned long long)m->prov.valid.rows,
			         (unsigned long long)m->prov.valid.positives,
			         (unsigned long long)ref->prov.valid.rows,
			         (unsigned long long)ref->prov.valid.positives);
		assert_memory_equal(&m->prov.train.log_loss, &ref->prov.train.log_loss,
		                    sizeof(double));
		assert_same_history(m, ref);
		assert_int_equal(fl_fedcoord_history_len(r->c), fl_fedcoord_history_len(h->c));
		resumed++;
		fl_model_free(m);
		harness_free(r);
	}
	printf("  %s%s: resumed from %zu of %zu checkpoints, %u rounds, identical\n",
	       fl_fed_algo_name(s->algorithm), s->l2_auto ? " (l2 = auto)" : "", resumed, h->n_ckpt,
	       ref->prov.rounds);
	fl_model_free(ref);
	harness_free(h);
}

static void test_resume_newton(void **state)
{
	struct fl_coord_settings s;

	settings_default(&s);
	resume_everywhere(*state, &s, 1);
}

/* The privacy plan resumes where it stopped (its step count is in the
 * checkpoint), with validation at the end; a checkpoint of a federation
 * without the plan is refused under it, and the reverse. */
static void test_resume_privacy(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct harness *h, *r;

	settings_default(&s);
	s.privacy = 1;
	s.max_iterations = 3;
	s.validation_split = 0.2;
	resume_everywhere(fx, &s, 1);

	h = harness_new(fx, &s);
	run_to_end(h);
	s.privacy = 0;
	r = harness_new(fx, &s);
	assert_int_equal(fl_fedcoord_restore(r->c, h->ckpt[2].b, h->ckpt[2].len), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(),
	                    "checkpoint was made with privacy = on, the settings say off");
	harness_free(r);
	harness_free(h);
	h = harness_new(fx, &s);
	run_to_end(h);
	s.privacy = 1;
	r = harness_new(fx, &s);
	assert_int_equal(fl_fedcoord_restore(r->c, h->ckpt[2].b, h->ckpt[2].len), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(),
	                    "checkpoint was made with privacy = off, the settings say on");
	harness_free(r);
	harness_free(h);
}

static void test_resume_l2_auto(void **state)
{
	struct fl_coord_settings s;

	settings_default(&s);
	s.l2_auto = 1;
	s.validation_split = 0.2;
	resume_everywhere(*state, &s, 6);
}

static void test_resume_fedavg(void **state)
{
	struct fl_coord_settings s;

	settings_default(&s);
	s.algorithm = FL_FED_FEDAVG;
	s.fedavg_rounds = 4;
	s.validation_split = 0.2;
	resume_everywhere(*state, &s, 1);
}

/* A checkpoint k of h re-encoded after edit() changed it. */
static struct blob ckpt_edit(const struct harness *h, size_t k,
                             void (*edit)(Fedlead__State__CoordState *st))
{
	Fedlead__State__CoordState *st;
	struct blob b = {NULL, 0};

	st = fedlead__state__coord_state__unpack(NULL, h->ckpt[k].len, h->ckpt[k].b);
	assert_non_null(st);
	edit(st);
	assert_non_null(b.b = malloc(fedlead__state__coord_state__get_packed_size(st) + 1));
	b.len = fedlead__state__coord_state__pack(st, b.b);
	fedlead__state__coord_state__free_unpacked(st, NULL);
	return b;
}

/* What a version 1 coordinator wrote: no knots section. */
static void edit_version1(Fedlead__State__CoordState *st)
{
	st->version = 1;
	fedlead__state__knots_state__free_unpacked(st->knots, NULL);
	st->knots = NULL;
}

static void edit_drop_knots(Fedlead__State__CoordState *st)
{
	fedlead__state__knots_state__free_unpacked(st->knots, NULL);
	st->knots = NULL;
}

static void edit_knot_short(Fedlead__State__CoordState *st)
{
	st->knots->n_values--;
}

static void edit_knot_order(Fedlead__State__CoordState *st)
{
	st->knots->values[2] = st->knots->values[1];
}

static void edit_v1_with_knots(Fedlead__State__CoordState *st)
{
	st->version = 1;
}

/* What a version 2 coordinator wrote: knots without their basis means. */
static void edit_version2(Fedlead__State__CoordState *st)
{
	st->version = 2;
	st->knots->n_basis_means = 0;
}

static void edit_mean_short(Fedlead__State__CoordState *st)
{
	st->knots->n_basis_means--;
}

static void edit_mean_nan(Fedlead__State__CoordState *st)
{
	st->knots->basis_means[3] = NAN;
}

/* A B-spline column's mean is a weighted average of the column's values:
 * never a million. */
static void edit_mean_far(Fedlead__State__CoordState *st)
{
	st->knots->basis_means[3] = 1e6;
}

static void edit_v2_with_means(Fedlead__State__CoordState *st)
{
	st->version = 2;
}

/* Checkpoint k of h after edit(), refused by a coordinator saying msg. */
static void refused_edit(const struct fixture *fx, const struct fl_coord_settings *s,
                         const struct harness *h, size_t k,
                         void (*edit)(Fedlead__State__CoordState *st), const char *msg)
{
	struct blob b = ckpt_edit(h, k, edit);
	struct harness *r = harness_new(fx, s);

	assert_int_equal(fl_fedcoord_restore(r->c, b.b, b.len), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), msg);
	harness_free(r);
	free(b.b);
}

/* Checkpoint k's version and its knots section's basis means (copied into
 * means, at most 16; returns their count). */
static size_t ckpt_means(const struct harness *h, size_t k, unsigned *version, double *means)
{
	Fedlead__State__CoordState *st;
	size_t n;

	st = fedlead__state__coord_state__unpack(NULL, h->ckpt[k].len, h->ckpt[k].b);
	assert_non_null(st);
	assert_non_null(st->knots);
	*version = st->version;
	n = st->knots->n_basis_means;
	assert_true(n <= 16);
	if (n > 0)
		memcpy(means, st->knots->basis_means, n * sizeof(double));
	fedlead__state__coord_state__free_unpacked(st, NULL);
	return n;
}

/*
 * The knots round's basis means (fl_knots_basis_means()) in the checkpoint
 * (version 3): x's spline (6 knots: 8 basis columns; z's bins get none).
 * Scaled by the share of leads with a value (x is missing in 1 lead of 20),
 * they are the exact baselines this federation without differential
 * privacy took from its statistics, to the midpoint rule's error: a bin is
 * 100 / 256 wide, and a lead's column at its bin's midpoint is off by at
 * most the column's slope times half a bin (about 0.16 for column 0, whose
 * B-spline falls from 1 to 0 over the first knot interval, 3.6 wide, where
 * the skewed x crowds); averaged over the leads the error measured 0.0045,
 * and 0.01 holds with room. A coordinator restored from it saves the same
 * means again; one restored from a version 2 checkpoint has none and says
 * so in the version of its own checkpoints.
 */
static void check_knots_means(const struct fixture *kx, const struct fl_coord_settings *s,
                              const struct harness *h, size_t train, const struct fl_model *ref)
{
	const struct fl_feature *x = &kx->s->features[0];
	double m[16], again[16], share, worst = 0;
	unsigned version;
	struct harness *r;
	struct blob b;
	size_t n;

	n = ckpt_means(h, train, &version, m);
	assert_int_equal(version, 3);
	assert_int_equal(n, 8);
	share = 1 - ref->scaler->baseline[x->enc_offset + 8];
	assert_true(fabs(share - 0.95) < 1e-12);
	for (size_t j = 0; j < 8; j++) {
		double exact = ref->scaler->baseline[x->enc_offset + j];

		printf("  x basis column %zu: exact baseline %.6f, from the histogram %.6f\n", j,
		       exact, share * m[j]);
		worst = fmax(worst, fabs(share * m[j] - exact));
	}
	printf("  largest difference %.3g\n", worst);
	assert_true(worst < 1e-2);

	r = harness_new(kx, s);
	assert_int_equal(fl_fedcoord_restore(r->c, h->ckpt[train].b, h->ckpt[train].len), 0);
	join_all(r);
	pump(r);
	assert_done(r, 7);
	assert_int_equal(ckpt_means(r, 0, &version, again), 8);
	assert_int_equal(version, 3);
	assert_memory_equal(again, m, 8 * sizeof(double));
	harness_free(r);

	b = ckpt_edit(h, train, edit_version2);
	r = harness_new(kx, s);
	assert_int_equal(fl_fedcoord_restore(r->c, b.b, b.len), 0);
	join_all(r);
	pump(r);
	assert_done(r, 7);
	assert_int_equal(ckpt_means(r, 0, &version, again), 0);
	assert_int_equal(version, 2);
	harness_free(r);
	free(b.b);

	refused_edit(kx, s, h, train, edit_mean_short,
	             "checkpoint holds 7 spline basis means, the schema's splines with knots from "
	             "data have 8 basis columns");
	refused_edit(kx, s, h, train, edit_mean_nan,
	             "checkpoint's spline basis mean 3 (nan) is not finite");
	/* The range is the column's over the placed knots, which the message
	 * names; the test holds the text before it. */
	b = ckpt_edit(h, train, edit_mean_far);
	r = harness_new(kx, s);
	assert_int_equal(fl_fedcoord_restore(r->c, b.b, b.len), FL_ERR_DATA);
	{
		static const char want[] =
		        "checkpoint's spline basis means are refused: feature \"x\": spline basis "
		        "mean 3 (1000000) is outside its column's range [";

		assert_memory_equal(fl_errmsg(), want, sizeof(want) - 1);
	}
	harness_free(r);
	free(b.b);
	refused_edit(kx, s, h, train, edit_v2_with_means,
	             "checkpoint of version 2 holds spline basis means, which that version does "
	             "not have");
}

/* The phase of checkpoint k. */
static unsigned ckpt_phase(const struct harness *h, size_t k)
{
	Fedlead__State__CoordState *st;
	unsigned ph;

	st = fedlead__state__coord_state__unpack(NULL, h->ckpt[k].len, h->ckpt[k].b);
	assert_non_null(st);
	ph = st->phase;
	fedlead__state__coord_state__free_unpacked(st, NULL);
	return ph;
}

/*
 * Knots from the federation's data are in the checkpoint (version 2 on), from
 * the one written right after the knots round on: a coordinator restarted
 * from any checkpoint, with fresh nodes (their rows as loaded: the
 * standardisation brings the knots), ends with the uninterrupted run's
 * model bit for bit and its history has one knots round (a second would
 * be a second entry). A version 1 checkpoint, which has no knots, is read:
 * the knots are placed again. A damaged knots section is refused, saying
 * what is wrong.
 */
static void test_resume_knots(void **state)
{
	struct fixture kx = {0};
	struct fl_coord_settings s;
	struct harness *h, *r;
	struct fl_fedcoord_view v;
	struct fl_model *ref, *m;
	struct blob b;
	char path[64];
	size_t after_knots = SIZE_MAX, train = SIZE_MAX, knots_rounds = 0;

	(void)state;
	knots_fixture(&kx, path);
	settings_default(&s);
	resume_everywhere(&kx, &s, 1);

	h = harness_new(&kx, &s);
	run_to_end(h);
	assert_done(h, 7);
	ref = sealed_model(h);
	/* The first checkpoint is the knots round's (phase statistics). */
	assert_int_equal(ckpt_phase(h, 0), FL_PHASE_STATS);
	after_knots = 0;
	for (size_t k = 0; k < h->n_ckpt && train == SIZE_MAX; k++)
		if (ckpt_phase(h, k) == FL_PHASE_TRAIN)
			train = k;
	assert_true(train != SIZE_MAX);
	check_knots_means(&kx, &s, h, train, ref);
	r = harness_new(&kx, &s);
	assert_int_equal(
	        fl_fedcoord_restore(r->c, h->ckpt[after_knots].b, h->ckpt[after_knots].len), 0);
	join_all(r);
	pump(r);
	assert_done(r, 7);
	m = delivered_model(r, 0);
	assert_memory_equal(m->w, ref->w, kx.s->dim * sizeof(double));
	for (size_t k = 0; k < m->prov.n_history; k++)
		knots_rounds += strcmp(m->prov.history[k].kind, "knots") == 0;
	assert_int_equal(knots_rounds, 1);
	fl_model_free(m);
	harness_free(r);

	/* Version 1, from training: the knots are placed again (one more knots
	 * and statistics round), the same knots from the same rows. */
	b = ckpt_edit(h, train, edit_version1);
	r = harness_new(&kx, &s);
	assert_int_equal(fl_fedcoord_restore(r->c, b.b, b.len), 0);
	join_all(r);
	pump(r);
	assert_done(r, 7);
	m = delivered_model(r, 0);
	knots_rounds = 0;
	for (size_t k = 0; k < m->prov.n_history; k++)
		knots_rounds += strcmp(m->prov.history[k].kind, "knots") == 0;
	assert_int_equal(knots_rounds, 2);
	for (size_t i = 0; i < kx.s->n_features; i++)
		if (fl_knots_from_data(&kx.s->features[i]))
			assert_memory_equal(m->schema->features[i].knots,
			                    ref->schema->features[i].knots,
			                    kx.s->features[i].n_knots * sizeof(double));
	assert_true(rel_diff(m->w, ref->w, kx.s->dim) < 1e-9);
	fl_model_free(m);
	harness_free(r);
	free(b.b);

	/* Damaged: refused before anything is taken from it. */
	b = ckpt_edit(h, train, edit_drop_knots);
	r = harness_new(&kx, &s);
	assert_int_equal(fl_fedcoord_restore(r->c, b.b, b.len), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "checkpoint of phase training has no knots section, but "
	                                 "the schema places the knots of 2 features from data");
	fl_fedcoord_view(r->c, &v);
	assert_int_equal(v.phase, FL_PHASE_WAITING);
	harness_free(r);
	free(b.b);
	refused_edit(&kx, &s, h, train, edit_knot_short,
	             "checkpoint holds 10 knots of 2 features placed from data, the schema's 2 "
	             "such features need 11");
	b = ckpt_edit(h, train, edit_knot_order);
	r = harness_new(&kx, &s);
	assert_int_equal(fl_fedcoord_restore(r->c, b.b, b.len), FL_ERR_DATA);
	{
		const char *pre = "checkpoint's knots are refused: feature \"x\": knot 2 (";

		assert_true(strncmp(fl_errmsg(), pre, strlen(pre)) == 0);
	}
	assert_non_null(strstr(fl_errmsg(), ") is not above knot 1 ("));
	harness_free(r);
	free(b.b);
	refused_edit(&kx, &s, h, train, edit_v1_with_knots,
	             "checkpoint of version 1 holds a knots section, which that version does not "
	             "have");

	fl_model_free(ref);
	harness_free(h);
	fl_dataset_free(kx.raw);
	fl_schema_free(kx.s);
	unlink(path);
}

/* After a restart, a participant that does not come back is dropped at the
 * deadline (late_policy = drop), and the others finish. */
static void test_resume_without_a_partner(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct harness *h, *r;
	struct fl_model *m;

	settings_default(&s);
	s.late_policy = FL_LATE_DROP;
	h = harness_new(fx, &s);
	run_to_end(h);
	assert_done(h, 7);
	r = harness_new(fx, &s);
	assert_int_equal(fl_fedcoord_restore(r->c, h->ckpt[3].b, h->ckpt[3].len), 0);
	join(r, 0);
	join(r, 1);
	pump(r);
	assert_int_equal(r->finished, 0);
	fl_fedcoord_timer(r->c);
	pump(r);
	assert_done(r, 3);
	m = sealed_model(r);
	assert_int_equal(m->prov.n_participants, 2);
	assert_string_equal(m->prov.participants[0], "acme");
	assert_string_equal(m->prov.participants[1], "globex");
	fl_model_free(m);
	harness_free(r);
	harness_free(h);
}

/* A checkpoint of another federation, or not a checkpoint at all. */
static void test_restore_refuses(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct harness *h, *r;
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};

	settings_default(&s);
	h = harness_new(fx, &s);
	run_to_end(h);
	s.federation_id = "other-fed";
	r = harness_new(fx, &s);
	assert_int_equal(fl_fedcoord_restore(r->c, h->ckpt[0].b, h->ckpt[0].len), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(),
	                    "checkpoint belongs to federation \"" FED_ID "\", not \"other-fed\"");
	assert_int_equal(fl_fedcoord_restore(r->c, junk, sizeof(junk)), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "checkpoint is malformed");
	harness_free(r);
	harness_free(h);
}

/* A checkpoint whose solver has another number of coefficients than the
 * schema: refused before the solver is restored (it would be read past its
 * weights), while the same checkpoint with its own solver restores. */
static void test_restore_refuses_other_dimension(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct harness *h, *r;
	struct fl_solver_opts so = {.l2 = 1, .tol = 1e-8, .max_iter = 10};
	struct fl_solver *small = NULL;
	Fedlead__State__CoordState *st = NULL;
	ProtobufCBinaryData own;
	uint8_t *solver, *buf;
	size_t solver_len, len, k;

	settings_default(&s);
	h = harness_new(fx, &s);
	run_to_end(h);
	for (k = 0; k < h->n_ckpt; k++) {
		st = fedlead__state__coord_state__unpack(NULL, h->ckpt[k].len, h->ckpt[k].b);
		assert_non_null(st);
		if (st->solver.len > 0)
			break;
		fedlead__state__coord_state__free_unpacked(st, NULL);
		st = NULL;
	}
	assert_non_null(st); /* a Newton run checkpoints its solver */
	r = harness_new(fx, &s);
	assert_int_equal(fl_fedcoord_restore(r->c, h->ckpt[k].b, h->ckpt[k].len), 0);
	harness_free(r);

	assert_int_equal(fl_solver_new(FL_SOLVER_NEWTON, 3, &so, NULL, &small), 0);
	assert_int_equal(fl_solver_save(small, &solver, &solver_len), 0);
	own = st->solver;
	st->solver.data = solver;
	st->solver.len = solver_len;
	buf = malloc(fedlead__state__coord_state__get_packed_size(st));
	assert_non_null(buf);
	len = fedlead__state__coord_state__pack(st, buf);
	r = harness_new(fx, &s);
	assert_int_equal(fl_fedcoord_restore(r->c, buf, len), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "checkpoint is inconsistent with the schema or settings");
	harness_free(r);
	free(buf);
	free(solver);
	fl_solver_free(small);
	st->solver = own;
	fedlead__state__coord_state__free_unpacked(st, NULL);
	harness_free(h);
}

/* ---- 5. rejections ---- */

static void flip_fingerprint(Fedlead__Wire__Hello *hello)
{
	hello->schema_fingerprint.data[0] ^= 1;
}

/* A node of an older protocol (3: unsigned unmask replies). */
static void protocol_three(Fedlead__Wire__Hello *hello)
{
	hello->protocol_version = 3;
}

/* A node of the previous protocol (5: plain statistics sums under
 * differential privacy). */
static void protocol_five(Fedlead__Wire__Hello *hello)
{
	hello->protocol_version = 5;
}

static void test_join_rejections(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct fl_fedcoord_view v;
	struct harness *h;
	char want[512], hex[17];
	double values[1] = {0};

	settings_default(&s);
	h = harness_new(fx, &s);

	/* Not on the allow-list: refused for good, the connection closed. */
	assert_int_equal(join_as(h, 0, "mallory", "", NULL), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "partner mallory: partner \"mallory\" is not on the "
	                                 "allow-list");
	assert_int_equal(h->rejects[OUTSIDER], 1);
	assert_string_equal(h->reject[OUTSIDER], "partner \"mallory\" is not on the allow-list");
	assert_true(h->reject_permanent[OUTSIDER]);
	assert_int_equal(h->disconnects[OUTSIDER], 1);

	/* Another schema: the reason quotes the federation's fingerprint. */
	for (int j = 0; j < 8; j++)
		snprintf(hex + 2 * j, 3, "%02x", fx->s->fingerprint[j]);
	snprintf(want, sizeof(want),
	         "schema fingerprint differs from the federation's (%s...): the partner "
	         "encodes its leads differently",
	         hex);
	assert_int_equal(join_as(h, 1, NULL, "", flip_fingerprint), FL_ERR_AUTH);
	assert_string_equal(h->reject[1], want);
	assert_true(h->reject_permanent[1]);
	assert_int_equal(h->disconnects[1], 1);
	assert_true(strncmp(fl_errmsg(), "partner globex: ", 16) == 0);
	assert_string_equal(fl_errmsg() + 16, want);

	assert_int_equal(join_as(h, 1, NULL, "", protocol_three), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "partner globex: protocol version 3 is not supported "
	                                 "(this coordinator speaks 7)");
	/* The previous version, whose statistics under differential privacy
	 * this coordinator would misread: refused at the Hello too. */
	assert_int_equal(join_as(h, 1, NULL, "", protocol_five), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "partner globex: protocol version 5 is not supported "
	                                 "(this coordinator speaks 7)");
	/* And a node, to a coordinator of version 3 or 5. */
	{
		Fedlead__Wire__Welcome w = FEDLEAD__WIRE__WELCOME__INIT;

		w.protocol_version = 3;
		assert_int_equal(fl_fednode_welcome(h->node[1], &w), FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(),
		                    "coordinator speaks protocol version 3, this node version 7");
		w.protocol_version = 5;
		assert_int_equal(fl_fednode_welcome(h->node[1], &w), FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(),
		                    "coordinator speaks protocol version 5, this node version 7");
	}
	assert_int_equal(join_as(h, 1, NULL, "other-fed", NULL), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "partner globex: partner asked for federation "
	                                 "\"other-fed\", this is \"" FED_ID "\"");
	assert_int_equal(h->rejects[1], 4);
	/* Asking for this federation by name is fine. */
	assert_int_equal(join_as(h, 1, NULL, FED_ID, NULL), 0);

	/* Nobody refused counts as connected; nothing started. */
	fl_fedcoord_view(h->c, &v);
	assert_int_equal(v.connected, 1);
	assert_int_equal(v.phase, FL_PHASE_WAITING);
	assert_int_equal(h->errors, 0);

	/* A message from a partner that has not said hello. */
	assert_int_equal(
	        inject_update(h, 2, 1, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS, values, 1),
	        FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer initech: update before hello");

	/* The quorum of two is there: training starts start_wait later. */
	assert_int_equal(join_as(h, 0, NULL, "", NULL), 0);
	fl_fedcoord_view(h->c, &v);
	assert_int_equal(v.phase, FL_PHASE_WAITING);
	assert_true(h->timer == s.start_wait);
	fl_fedcoord_timer(h->c);
	fl_fedcoord_view(h->c, &v);
	assert_int_equal(v.phase, FL_PHASE_STATS);
	assert_int_equal(v.participating, 2);
	h->stop_round = 3;
	pump(h);
	/* Too late for this federation. */
	assert_int_equal(join_as(h, 2, NULL, "", NULL), FL_ERR_AUTH);
	assert_string_equal(h->reject[2], "federation " FED_ID " is training without partner "
	                                  "initech (joined too late)");
	h->stop_round = 0;
	pump(h);
	assert_done(h, 3);
	harness_free(h);
}

/* The model of an undisturbed Newton run with the default settings. */
static struct fl_model *reference_newton(const struct fixture *fx)
{
	struct fl_coord_settings s;
	struct harness *h;
	struct fl_model *m;

	settings_default(&s);
	h = harness_new(fx, &s);
	run_to_end(h);
	assert_done(h, 7);
	m = sealed_model(h);
	harness_free(h);
	return m;
}

static void test_update_rejections(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct fl_fedcoord_view v;
	struct harness *h;
	struct fl_model *ref = reference_newton(fx), *m;
	size_t d = fx->s->dim, len = 1 + d + d * (d + 1) / 2;
	double *junk = malloc((len + 1) * sizeof(double));
	char want[256];

	assert_non_null(junk);
	for (size_t j = 0; j <= len; j++)
		junk[j] = 1e6;
	settings_default(&s);
	h = harness_new(fx, &s);
	/* Round 3 (the second Newton evaluation): initech does not answer yet. */
	h->mute_from[2] = 3;
	run_to_end(h);
	fl_fedcoord_view(h->c, &v);
	assert_int_equal(v.round, 3);
	assert_int_equal(h->finished, 0);

	/* An answer for round 2 arriving now is dropped without a word. */
	assert_int_equal(inject_update(h, 0, 2, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, junk, len),
	                 0);
	assert_int_equal(inject_update(h, 2, 2, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, junk, len),
	                 0);
	/* One for a round not yet asked for is an error. */
	assert_int_equal(inject_update(h, 2, 4, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, junk, len),
	                 FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer initech: update for round 4, but round 3 is in "
	                                 "progress (future)");
	/* The length of a vector is fixed by the task and the schema. */
	assert_int_equal(
	        inject_update(h, 2, 3, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, junk, len - 1),
	        FL_ERR_PROTO);
	snprintf(want, sizeof(want), "peer initech: update with %zu values, expected %zu", len - 1,
	         len);
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(
	        inject_update(h, 2, 3, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, junk, len + 1),
	        FL_ERR_PROTO);
	snprintf(want, sizeof(want), "peer initech: update with %zu values, expected %zu", len + 1,
	         len);
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(
	        inject_update(h, 2, 3, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS, junk, 2 + 3 * d),
	        FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer initech: update of the wrong kind for round 3");
	/* acme's round-3 answer, sent again. */
	assert_non_null(h->last_update[0].b);
	fl_err_clear();
	assert_int_equal(deliver_to_coord(h, 0, h->last_update[0].b, h->last_update[0].len),
	                 FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer acme: update in round 3, which it does not owe");

	/* None of that touched the federation: initech answers, and the model
	 * is the undisturbed run's, bit for bit. */
	fl_fedcoord_view(h->c, &v);
	assert_int_equal(v.round, 3);
	release(h, 2);
	pump(h);
	assert_done(h, 7);
	m = sealed_model(h);
	assert_memory_equal(m->w, ref->w, d * sizeof(double));
	fl_model_free(m);
	fl_model_free(ref);
	free(junk);
	harness_free(h);
}

/* ---- 6. late partners ---- */

/* initech ignores round 3 and later; the deadline passes. */
static struct harness *late_run(const struct fixture *fx, struct fl_coord_settings *s)
{
	struct harness *h = harness_new(fx, s);
	struct fl_fedcoord_view v;

	h->mute_from[2] = 3;
	run_to_end(h);
	fl_fedcoord_view(h->c, &v);
	assert_int_equal(v.round, 3);
	assert_int_equal(h->finished, 0);
	assert_true(h->timer == DEADLINE);
	fl_fedcoord_timer(h->c);
	pump(h);
	return h;
}

/* initech was dropped with Newton under way: the solver restarted over the
 * two that were left, so the model is their pooled fit (under the
 * standardisation from all three partners' statistics). */
static void assert_fit_without_initech(const struct fixture *fx, const struct harness *h,
                                       const char *what)
{
	struct fl_solver_status st;
	struct fl_train_opts o;
	struct fl_dataset *rows = pooled_rows(fx, 3);
	struct fl_model *m = sealed_model(h);
	const char *name;
	int connected, participating;
	double last_seen, *w = calloc(fx->s->dim, sizeof(double)), rel;

	assert_non_null(w);
	assert_done(h, 3);
	assert_int_equal(m->prov.n_participants, 2);
	assert_string_equal(m->prov.participants[0], "acme");
	assert_string_equal(m->prov.participants[1], "globex");
	fl_fedcoord_partner(h->c, 2, &name, &connected, &participating, &last_seen);
	assert_string_equal(name, "initech");
	assert_int_equal(participating, 0);
	/* The model is acme's and globex's alone: its row counts and its
	 * standardisation are theirs, not those of the first rounds, which
	 * initech was in. */
	assert_int_equal(m->prov.train.rows, rows->n);
	assert_int_equal(m->prov.train.positives, count_positives(rows));
	{
		struct fl_stats *ps;
		struct fl_scaler *sc;

		assert_int_equal(fl_stats_new(fx->s->dim, &ps), 0);
		for (size_t i = 0; i < rows->n; i++)
			fl_stats_add(ps, rows->X + i * rows->dim, rows->y[i]);
		assert_int_equal(fl_scaler_from_stats(fx->s, ps, &sc), 0);
		for (size_t j = 0; j < fx->s->dim; j++) {
			assert_true(fabs(m->scaler->center[j] - sc->center[j]) <=
			            1e-9 * (1 + fabs(sc->center[j])));
			assert_true(fabs(m->scaler->scale[j] - sc->scale[j]) <=
			            1e-9 * (1 + fabs(sc->scale[j])));
		}
		fl_scaler_free(sc);
		fl_stats_free(ps);
	}
	fl_dataset_standardize(rows, m->scaler);
	fl_train_opts_default(&o);
	o.tol = 1e-10;
	assert_int_equal(fl_train_fit(rows, &o, 1.0, 1.0, w, &st), 0);
	rel = rel_diff(m->w, w, fx->s->dim);
	printf("  %s: ||w_fed - w_pool(acme, globex)|| / ||w_pool|| = %.3e, %u rounds\n", what, rel,
	       m->prov.rounds);
	assert_true(rel < 1e-6);
	free(w);
	fl_dataset_free(rows);
	fl_model_free(m);
}

static void test_late_drop(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct harness *h;

	settings_default(&s);
	s.late_policy = FL_LATE_DROP;
	h = late_run(fx, &s);
	assert_fit_without_initech(fx, h, "dropped at the deadline");

	/* A dropped partner stays out. */
	assert_int_equal(join_as(h, 2, NULL, "", NULL), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "partner initech: federation " FED_ID " is training "
	                                 "without partner initech (dropped)");
	harness_free(h);
}

static void test_late_abort(void **state)
{
	struct fl_coord_settings s;
	struct fl_fedcoord_view v;
	struct harness *h;

	settings_default(&s);
	s.late_policy = FL_LATE_ABORT;
	h = late_run(*state, &s);
	assert_int_equal(h->errors, 0);
	assert_int_equal(h->finished, 1);
	assert_int_equal(h->finished_ok, 0);
	assert_string_equal(h->finished_msg,
	                    "round 3: no answer within 300 s from initech (late_policy = abort)");
	fl_fedcoord_view(h->c, &v);
	assert_int_equal(v.phase, FL_PHASE_FAILED);
	assert_int_equal(h->n_sealed, 0);
	assert_true(h->timer == 0);
	harness_free(h);
}

static void test_late_quorum(void **state)
{
	struct fl_coord_settings s;
	struct harness *h;

	settings_default(&s);
	s.late_policy = FL_LATE_DROP;
	s.min_partners = 3;
	h = late_run(*state, &s);
	assert_int_equal(h->finished, 1);
	assert_int_equal(h->finished_ok, 0);
	assert_string_equal(h->finished_msg, "only 2 partners left, below the quorum of 3");
	assert_int_equal(h->n_sealed, 0);
	harness_free(h);
}

/* late_policy = wait: the deadline passes and the coordinator waits on; the
 * partner reconnects, gets the task again and the run ends as if nothing
 * had happened. */
static void test_late_wait(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct fl_model *ref = reference_newton(fx), *m;
	struct harness *h;
	int calls;

	settings_default(&s);
	h = harness_new(fx, &s);
	h->mute_from[2] = 3;
	run_to_end(h);
	calls = h->timer_calls;
	fl_fedcoord_timer(h->c);
	pump(h);
	assert_int_equal(h->finished, 0);
	assert_int_equal(h->timer_calls, calls + 1);
	assert_true(h->timer == DEADLINE);
	/* The old connection and what it carried are gone. */
	leave(h, 2);
	for (size_t k = 0; k < h->n_held; k++)
		free(h->held[k].frame);
	h->n_held = 0;
	h->mute_from[2] = 0;
	assert_int_equal(h->finished, 0);
	join(h, 2);
	pump(h);
	assert_done(h, 7);
	m = sealed_model(h);
	assert_memory_equal(m->w, ref->w, fx->s->dim * sizeof(double));
	fl_model_free(m);
	fl_model_free(ref);
	harness_free(h);
}

/* Under drop, a participant whose connection closes while it owes an
 * answer is dropped at once, without waiting for the deadline; the others,
 * still working on the round, stay. Their answers to the abandoned round,
 * in flight when it is issued again, must not count for the new one. */
static void test_disconnect_drops(void **state)
{
	struct fl_coord_settings s;
	struct harness *h;

	settings_default(&s);
	s.late_policy = FL_LATE_DROP;
	h = harness_new(*state, &s);
	h->stop_round = 3;
	run_to_end(h);
	leave(h, 2);
	assert_int_equal(h->finished, 0);
	h->stop_round = 0;
	pump(h);
	assert_fit_without_initech(*state, h, "dropped on disconnect");
	harness_free(h);
}

/* A partner that cannot do its task says so. Under wait the federation
 * fails with its reason; under drop only that partner is dropped, even
 * while the others are still working on the round. */
static void test_error_status(void **state)
{
	struct fixture *fx = *state;
	struct fl_coord_settings s;
	struct harness *h;

	settings_default(&s);
	h = harness_new(fx, &s);
	h->stop_round = 3;
	run_to_end(h);
	assert_int_equal(
	        inject_status(h, 2, 3, FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR, "out of disk"), 0);
	assert_int_equal(h->finished, 1);
	assert_int_equal(h->finished_ok, 0);
	assert_string_equal(h->finished_msg, "partner initech could not do its task: out of disk");
	harness_free(h);

	s.late_policy = FL_LATE_DROP;
	h = harness_new(fx, &s);
	h->stop_round = 3;
	run_to_end(h);
	assert_int_equal(
	        inject_status(h, 2, 3, FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR, "out of disk"), 0);
	assert_int_equal(h->finished, 0);
	h->stop_round = 0;
	pump(h);
	assert_fit_without_initech(fx, h, "dropped on an error status");
	harness_free(h);
}

/* A partner that cannot take the final model is dropped; the federation is
 * done only when the others have confirmed theirs. */
static void test_error_status_final(void **state)
{
	struct fl_coord_settings s;
	struct fl_fedcoord_view v;
	struct harness *h;

	settings_default(&s);
	s.late_policy = FL_LATE_DROP;
	h = harness_new(*state, &s);
	h->stop_final = 1;
	run_to_end(h);
	fl_fedcoord_view(h->c, &v);
	assert_int_equal(v.phase, FL_PHASE_FINAL);
	assert_int_equal(inject_status(h, 2, v.round, FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR,
	                               "signature does not verify"),
	                 0);
	fl_fedcoord_view(h->c, &v);
	assert_int_equal(v.phase, FL_PHASE_FINAL);
	assert_int_equal(h->finished, 0);
	h->connected[2] = 0; /* the glue closes the failed partner's connection */
	h->stop_final = 0;
	pump(h);
	assert_done(h, 3);
	harness_free(h);
}

/* A secure federation that could start with one partner would wait for
 * ever in its statistics round: refused when the coordinator starts. */
static void test_single_partner_quorum(void **state)
{
	struct fl_coord_settings s;

	(void)state;
	settings_default(&s);
	s.secure = 1;
	s.min_partners = 1;
	assert_int_equal(fl_coord_settings_check(&s), FL_ERR_CONFIG);
	assert_string_equal(
	        fl_errmsg(),
	        "min_partners = 1 with secure aggregation: a federation could start "
	        "with one partner and would never finish its statistics round (a "
	        "secure sum needs at least 2); set min_partners to 2 or more (partners' "
	        "nodes require 3 by default)");
	s.min_partners = 2;
	assert_int_equal(fl_coord_settings_check(&s), 0);
}

/*
 * The threshold the coordinator uses when none is configured is the
 * smallest one partners' nodes accept with max_colluders = c (t > c and
 * 2t > n + c): values worked out by hand from those two inequalities.
 * An explicit threshold below it is refused at start.
 */
static void test_threshold_keeps_colluders_out(void **state)
{
	static const char *const FIVE[] = {"p1", "p2", "p3", "p4", "p5"};
	struct fl_coord_settings s;

	(void)state;
	assert_int_equal(fl_coord_default_threshold(3, 1), 3); /* 2 * 2 = 4 <= 3 + 1 */
	assert_int_equal(fl_coord_default_threshold(4, 1), 3); /* 6 > 5 */
	assert_int_equal(fl_coord_default_threshold(5, 1), 4); /* 3: 6 <= 6 */
	assert_int_equal(fl_coord_default_threshold(2, 1), 2);
	assert_int_equal(fl_coord_default_threshold(3, 0), 2);
	assert_int_equal(fl_coord_default_threshold(10, 3), 7); /* 6: 12 <= 13 */
	assert_int_equal(fl_coord_default_threshold(2, 0), 2);  /* never below 2 */
	settings_default(&s);
	s.secure = 1;
	s.partners = FIVE; /* n_partners names, or the check reads past them */
	s.n_partners = 5;
	s.max_colluders = 1;
	s.threshold = 3;
	assert_int_equal(fl_coord_settings_check(&s), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(),
	                    "threshold 3 must be more than half of the 5 partners plus "
	                    "max_colluders = 1, and at most all of them");
	s.threshold = 4;
	assert_int_equal(fl_coord_settings_check(&s), 0);
	s.max_colluders = 5;
	assert_int_equal(fl_coord_settings_check(&s), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "max_colluders = 5 must be below the 5 partners");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_newton_equals_pooled),
	        cmocka_unit_test(test_spline_newton_equals_pooled),
	        cmocka_unit_test(test_joined_newton_equals_pooled),
	        cmocka_unit_test(test_knots_from_data_equals_pooled),
	        cmocka_unit_test(test_knots_refused),
	        cmocka_unit_test(test_resume_knots),
	        cmocka_unit_test(test_monotone_newton_equals_pooled),
	        cmocka_unit_test(test_privacy_monotone),
	        cmocka_unit_test(test_lbfgs_equals_pooled),
	        cmocka_unit_test(test_fedavg_defaults),
	        cmocka_unit_test(test_fedavg_within_one_percent),
	        cmocka_unit_test(test_l2_auto),
	        cmocka_unit_test(test_privacy_plan),
	        cmocka_unit_test(test_privacy_plan_knots),
	        cmocka_unit_test(test_privacy_terms),
	        cmocka_unit_test(test_privacy_plan_version),
	        cmocka_unit_test(test_resume_newton),
	        cmocka_unit_test(test_resume_privacy),
	        cmocka_unit_test(test_resume_l2_auto),
	        cmocka_unit_test(test_resume_fedavg),
	        cmocka_unit_test(test_resume_without_a_partner),
	        cmocka_unit_test(test_restore_refuses),
	        cmocka_unit_test(test_restore_refuses_other_dimension),
	        cmocka_unit_test(test_join_rejections),
	        cmocka_unit_test(test_update_rejections),
	        cmocka_unit_test(test_late_drop),
	        cmocka_unit_test(test_late_abort),
	        cmocka_unit_test(test_late_quorum),
	        cmocka_unit_test(test_late_wait),
	        cmocka_unit_test(test_disconnect_drops),
	        cmocka_unit_test(test_error_status),
	        cmocka_unit_test(test_error_status_final),
	        cmocka_unit_test(test_single_partner_quorum),
	        cmocka_unit_test(test_threshold_keeps_colluders_out),
	};

	fl_log_init("test_fed", FL_LOG_WARN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
