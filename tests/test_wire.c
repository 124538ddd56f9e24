/*
 * Tests for src/wire.c: framing, the strict decoder, the encoder and the
 * round-reference check.
 *
 * Bodies that break a rule are written here byte by byte with a small
 * protobuf writer of the test's own (struct pb below), following the field
 * numbers and types of proto/wire.proto, so the decoder is not tested
 * against its own encoder alone. One Hello is also compared byte for byte
 * with its hand-written encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/wire.h"

static const uint8_t FP[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                               16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* ---- an independent protobuf writer ----------------------------------- */

struct pb {
	uint8_t b[8192];
	size_t n;
};

static void pb_byte(struct pb *p, uint8_t c)
{
	assert_true(p->n < sizeof(p->b));
	p->b[p->n++] = c;
}

static void pb_varint(struct pb *p, uint64_t v)
{
	while (v >= 0x80) {
		pb_byte(p, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	pb_byte(p, (uint8_t)v);
}

static void pb_tag(struct pb *p, unsigned field, unsigned wt)
{
	pb_varint(p, (uint64_t)field << 3 | wt);
}

static void pb_uint(struct pb *p, unsigned field, uint64_t v)
{
	pb_tag(p, field, 0);
	pb_varint(p, v);
}

static void pb_bytes(struct pb *p, unsigned field, const void *data, size_t n)
{
	pb_tag(p, field, 2);
	pb_varint(p, n);
	assert_true(p->n + n <= sizeof(p->b));
	memcpy(p->b + p->n, data, n);
	p->n += n;
}

static void pb_str(struct pb *p, unsigned field, const char *s)
{
	pb_bytes(p, field, s, strlen(s));
}

static void pb_sub(struct pb *p, unsigned field, const struct pb *sub)
{
	pb_bytes(p, field, sub->b, sub->n);
}

static void pb_double(struct pb *p, unsigned field, double x)
{
	uint64_t u;

	memcpy(&u, &x, 8);
	pb_tag(p, field, 1);
	for (int i = 0; i < 8; i++)
		pb_byte(p, (uint8_t)(u >> (8 * i)));
}

/* A packed repeated double field (little-endian IEEE 754 each). */
static void pb_doubles(struct pb *p, unsigned field, const double *x, size_t n)
{
	pb_tag(p, field, 2);
	pb_varint(p, n * 8);
	for (size_t k = 0; k < n; k++) {
		uint64_t u;

		memcpy(&u, &x[k], 8);
		for (int i = 0; i < 8; i++)
			pb_byte(p, (uint8_t)(u >> (8 * i)));
	}
}

/* A RoundRef: federation, round, fingerprint of fplen bytes of FP. */
static void pb_ref(struct pb *p, unsigned field, const char *fed, uint64_t round, size_t fplen)
{
	struct pb r = {.n = 0};

	pb_str(&r, 1, fed);
	pb_uint(&r, 2, round);
	pb_bytes(&r, 3, FP, fplen);
	pb_sub(p, field, &r);
}

/* An envelope around body as field `which`. */
static void pb_env(struct pb *env, unsigned which, const struct pb *body)
{
	env->n = 0;
	pb_sub(env, which, body);
}

/* Decodes raw bytes and expects failure with code and exactly msg. */
static void expect_refused(const struct pb *p, int code, const char *msg)
{
	Fedlead__Wire__Envelope *env = (Fedlead__Wire__Envelope *)0x1;

	fl_err_clear();
	assert_int_equal(fl_wire_decode(p->b, p->n, "acme", &env), code);
	assert_null(env);
	assert_string_equal(fl_errmsg(), msg);
}

static Fedlead__Wire__Envelope *expect_accepted(const struct pb *p)
{
	Fedlead__Wire__Envelope *env = NULL;
	int r = fl_wire_decode(p->b, p->n, "acme", &env);

	if (r != 0)
		fail_msg("refused: %s", fl_errmsg());
	assert_non_null(env);
	return env;
}

/* ---- messages built with the generated structs ------------------------ */

static const double V3[3] = {1.5, -2.25, 1e-300};

struct msgs {
	Fedlead__Wire__RoundRef ref;
	Fedlead__Wire__Hello hello;
	Fedlead__Wire__Plan plan;
	Fedlead__Wire__Welcome welcome;
	Fedlead__Wire__Reject reject;
	Fedlead__Wire__StatsTask stats;
	Fedlead__Wire__Standardize stdz;
	Fedlead__Wire__EvalTask eval;
	Fedlead__Wire__LocalTrainTask local;
	Fedlead__Wire__FinalModel final;
	Fedlead__Wire__Update update;
	Fedlead__Wire__Status status;
	double center[3], scale[3], impute[3], baseline[3];
	uint8_t model[5];
};

static void msgs_init(struct msgs *m)
{
	static const Fedlead__Wire__RoundRef ref = FEDLEAD__WIRE__ROUND_REF__INIT;
	static const Fedlead__Wire__Hello hello = FEDLEAD__WIRE__HELLO__INIT;
	static const Fedlead__Wire__Plan plan = FEDLEAD__WIRE__PLAN__INIT;
	static const Fedlead__Wire__Welcome welcome = FEDLEAD__WIRE__WELCOME__INIT;
	static const Fedlead__Wire__Reject reject = FEDLEAD__WIRE__REJECT__INIT;
	static const Fedlead__Wire__StatsTask stats = FEDLEAD__WIRE__STATS_TASK__INIT;
	static const Fedlead__Wire__Standardize stdz = FEDLEAD__WIRE__STANDARDIZE__INIT;
	static const Fedlead__Wire__EvalTask eval = FEDLEAD__WIRE__EVAL_TASK__INIT;
	static const Fedlead__Wire__LocalTrainTask local = FEDLEAD__WIRE__LOCAL_TRAIN_TASK__INIT;
	static const Fedlead__Wire__FinalModel final = FEDLEAD__WIRE__FINAL_MODEL__INIT;
	static const Fedlead__Wire__Update update = FEDLEAD__WIRE__UPDATE__INIT;
	static const Fedlead__Wire__Status status = FEDLEAD__WIRE__STATUS__INIT;

	memset(m, 0, sizeof(*m));
	m->ref = ref;
	m->ref.federation_id = "fed-2024";
	m->ref.round = 5;
	m->ref.schema_fingerprint.data = (uint8_t *)FP;
	m->ref.schema_fingerprint.len = 32;

	m->hello = hello;
	m->hello.protocol_version = 1;
	m->hello.software_version = "0.1.0";
	m->hello.schema_fingerprint.data = (uint8_t *)FP;
	m->hello.schema_fingerprint.len = 32;
	m->hello.federation_id = "fed1";

	m->plan = plan;
	m->plan.algorithm = "newton";
	m->plan.validation_split = 0.2;
	m->plan.seed = 0xfedcba9876543210ull;
	m->plan.hist_bins = 1000;
	m->plan.hist_range = 12.5;
	m->welcome = welcome;
	m->welcome.protocol_version = 1;
	m->welcome.federation_id = "fed-2024";
	m->welcome.coordinator_version = "0.1.0";
	m->welcome.partner_identity = "acme";
	m->welcome.plan = &m->plan;

	m->reject = reject;
	m->reject.reason = "schema fingerprint differs: \"Zürich\" column missing";
	m->reject.permanent = 1;

	m->stats = stats;
	m->stats.ref = &m->ref;

	for (int i = 0; i < 3; i++) {
		m->center[i] = i + 0.5;
		m->scale[i] = i + 1;
		m->impute[i] = -i;
		m->baseline[i] = 1.0 / (i + 3);
	}
	m->stdz = stdz;
	m->stdz.ref = &m->ref;
	m->stdz.n_center = m->stdz.n_scale = m->stdz.n_impute = m->stdz.n_baseline = 3;
	m->stdz.center = m->center;
	m->stdz.scale = m->scale;
	m->stdz.impute = m->impute;
	m->stdz.baseline = m->baseline;
	m->stdz.pos_weight = 3.75;

	m->eval = eval;
	m->eval.ref = &m->ref;
	m->eval.n_w = 3;
	m->eval.w = (double *)V3;
	m->eval.need_hessian = 1;
	m->eval.need_validation = 0;

	m->local = local;
	m->local.ref = &m->ref;
	m->local.n_w = 3;
	m->local.w = (double *)V3;
	m->local.epochs = 4;
	m->local.batch = 256;
	m->local.lr = 0.05;
	m->local.prox_mu = 0.01;
	m->local.l2 = 1e-4;
	m->local.need_validation = 1;

	memcpy(m->model, "FLMOD", 5);
	m->final = final;
	m->final.ref = &m->ref;
	m->final.model_file.data = m->model;
	m->final.model_file.len = 5;

	m->update = update;
	m->update.ref = &m->ref;
	m->update.kind = FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL;
	m->update.n_values = 3;
	m->update.values = (double *)V3;

	m->status = status;
	m->status.ref = &m->ref;
	m->status.code = FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR;
	m->status.detail = "local_train with invalid settings";
}

/* An envelope with body case c pointing at the right member of m. */
static Fedlead__Wire__Envelope envelope_of(struct msgs *m, Fedlead__Wire__Envelope__BodyCase c)
{
	Fedlead__Wire__Envelope e = FEDLEAD__WIRE__ENVELOPE__INIT;

	e.body_case = c;
	switch (c) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_HELLO: e.hello = &m->hello; break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME: e.welcome = &m->welcome; break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_REJECT: e.reject = &m->reject; break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK: e.stats_task = &m->stats; break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE: e.standardize = &m->stdz; break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK: e.eval_task = &m->eval; break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN: e.local_train = &m->local; break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL: e.final_model = &m->final; break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE: e.update = &m->update; break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATUS: e.status = &m->status; break;
	default: break;
	}
	return e;
}

static const char *const TYPE_NAMES[11] = {
        "invalid",   "hello",       "welcome",     "reject", "stats_task", "standardize",
        "eval_task", "local_train", "final_model", "update", "status",
};

/* Encodes, checks the header against the body length, decodes the body. */
static Fedlead__Wire__Envelope *round_trip(const Fedlead__Wire__Envelope *e, uint8_t **frame,
                                           size_t *flen)
{
	Fedlead__Wire__Envelope *d = NULL;
	uint32_t n;
	int r;

	if ((r = fl_wire_encode(e, frame, flen)) != 0)
		fail_msg("encode: %s", fl_errmsg());
	assert_true(*flen > 4);
	assert_int_equal(fl_wire_frame_len(*frame, FL_WIRE_DEFAULT_MAX_FRAME, "acme", &n), 0);
	assert_int_equal(n, *flen - 4);
	if ((r = fl_wire_decode(*frame + 4, n, "acme", &d)) != 0)
		fail_msg("decode: %s", fl_errmsg());
	return d;
}

static void assert_ref(const Fedlead__Wire__RoundRef *r)
{
	assert_non_null(r);
	assert_string_equal(r->federation_id, "fed-2024");
	assert_int_equal(r->round, 5);
	assert_int_equal(r->schema_fingerprint.len, 32);
	assert_memory_equal(r->schema_fingerprint.data, FP, 32);
}

static void assert_v3(const double *v, size_t n)
{
	assert_int_equal(n, 3);
	/* Exact: doubles travel as their 8 bytes. */
	for (int i = 0; i < 3; i++)
		assert_true(v[i] == V3[i]);
}

static void test_round_trip_every_type(void **state)
{
	(void)state;
	struct msgs m;

	msgs_init(&m);
	for (int c = 1; c <= 10; c++) {
		Fedlead__Wire__Envelope e = envelope_of(&m, (Fedlead__Wire__Envelope__BodyCase)c);
		Fedlead__Wire__Envelope *d;
		uint8_t *frame = NULL;
		size_t flen = 0;

		d = round_trip(&e, &frame, &flen);
		assert_int_equal(d->body_case, c);
		assert_string_equal(fl_wire_type_name(d), TYPE_NAMES[c]);
		if (c <= 3)
			assert_null(fl_wire_ref(d));
		else
			assert_ref(fl_wire_ref(d));
		switch (c) {
		case FEDLEAD__WIRE__ENVELOPE__BODY_HELLO:
			assert_int_equal(d->hello->protocol_version, 1);
			assert_string_equal(d->hello->software_version, "0.1.0");
			assert_int_equal(d->hello->schema_fingerprint.len, 32);
			assert_memory_equal(d->hello->schema_fingerprint.data, FP, 32);
			assert_string_equal(d->hello->federation_id, "fed1");
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME:
			assert_int_equal(d->welcome->protocol_version, 1);
			assert_string_equal(d->welcome->federation_id, "fed-2024");
			assert_string_equal(d->welcome->coordinator_version, "0.1.0");
			assert_string_equal(d->welcome->partner_identity, "acme");
			assert_non_null(d->welcome->plan);
			assert_string_equal(d->welcome->plan->algorithm, "newton");
			assert_true(d->welcome->plan->validation_split == 0.2);
			assert_true(d->welcome->plan->seed == 0xfedcba9876543210ull);
			assert_int_equal(d->welcome->plan->hist_bins, 1000);
			assert_true(d->welcome->plan->hist_range == 12.5);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_REJECT:
			assert_string_equal(d->reject->reason, m.reject.reason);
			assert_true(d->reject->permanent);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE:
			assert_int_equal(d->standardize->n_center, 3);
			assert_int_equal(d->standardize->n_scale, 3);
			assert_int_equal(d->standardize->n_impute, 3);
			assert_int_equal(d->standardize->n_baseline, 3);
			for (int i = 0; i < 3; i++) {
				assert_true(d->standardize->center[i] == i + 0.5);
				assert_true(d->standardize->scale[i] == i + 1);
				assert_true(d->standardize->impute[i] == -i);
				assert_true(d->standardize->baseline[i] == 1.0 / (i + 3));
			}
			assert_true(d->standardize->pos_weight == 3.75);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK:
			assert_v3(d->eval_task->w, d->eval_task->n_w);
			assert_true(d->eval_task->need_hessian);
			assert_false(d->eval_task->need_validation);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN:
			assert_v3(d->local_train->w, d->local_train->n_w);
			assert_int_equal(d->local_train->epochs, 4);
			assert_int_equal(d->local_train->batch, 256);
			assert_true(d->local_train->lr == 0.05);
			assert_true(d->local_train->prox_mu == 0.01);
			assert_true(d->local_train->l2 == 1e-4);
			assert_true(d->local_train->need_validation);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL:
			assert_int_equal(d->final_model->model_file.len, 5);
			assert_memory_equal(d->final_model->model_file.data, "FLMOD", 5);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE:
			assert_int_equal(d->update->kind, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL);
			assert_v3(d->update->values, d->update->n_values);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_STATUS:
			assert_int_equal(d->status->code, FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR);
			assert_string_equal(d->status->detail, "local_train with invalid settings");
			break;
		default: break;
		}
		fl_wire_free(d);
		free(frame);
	}
}

/* The Hello frame as wire.proto lays it out, written by hand. */
static void test_hello_bytes(void **state)
{
	(void)state;
	struct msgs m;
	Fedlead__Wire__Envelope e;
	uint8_t want[4 + 2 + 2 + 7 + 34 + 6], *frame = NULL;
	size_t flen = 0, k = 0;

	msgs_init(&m);
	e = envelope_of(&m, FEDLEAD__WIRE__ENVELOPE__BODY_HELLO);
	/* header: body = 2 (tag, length of hello) + 49 (hello) = 51 bytes */
	want[k++] = 0, want[k++] = 0, want[k++] = 0, want[k++] = 51;
	want[k++] = 0x0a, want[k++] = 49; /* field 1 (hello), 49 bytes */
	want[k++] = 0x08, want[k++] = 1;  /* protocol_version = 1 */
	want[k++] = 0x12, want[k++] = 5;  /* software_version */
	memcpy(want + k, "0.1.0", 5), k += 5;
	want[k++] = 0x1a, want[k++] = 32; /* schema_fingerprint */
	memcpy(want + k, FP, 32), k += 32;
	want[k++] = 0x22, want[k++] = 4; /* federation_id */
	memcpy(want + k, "fed1", 4), k += 4;
	assert_int_equal(k, sizeof(want));
	assert_int_equal(fl_wire_encode(&e, &frame, &flen), 0);
	assert_int_equal(flen, sizeof(want));
	assert_memory_equal(frame, want, sizeof(want));
	free(frame);
}

static void test_frame_len(void **state)
{
	(void)state;
	static const uint8_t five[4] = {0, 0, 0, 5}, big[4] = {0xff, 0xff, 0xff, 0xff},
	                     zero[4] = {0, 0, 0, 0}, over[4] = {0, 1, 0, 1}, at[4] = {0, 1, 0, 0};
	uint32_t n = 99;

	assert_int_equal(fl_wire_frame_len(five, 5, "acme", &n), 0);
	assert_int_equal(n, 5);
	/* Exactly the limit is allowed; one byte more is not. */
	assert_int_equal(fl_wire_frame_len(at, FL_WIRE_PREAUTH_MAX_FRAME, "acme", &n), 0);
	assert_int_equal(n, 65536);
	assert_int_equal(fl_wire_frame_len(over, FL_WIRE_PREAUTH_MAX_FRAME, "acme", &n),
	                 FL_ERR_LIMIT);
	assert_int_equal(n, 0);
	assert_string_equal(fl_errmsg(),
	                    "peer acme: frame of 65537 bytes exceeds the limit of 65536 bytes");
	assert_int_equal(fl_wire_frame_len(big, FL_WIRE_DEFAULT_MAX_FRAME, "10.0.0.7:4411", &n),
	                 FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "peer 10.0.0.7:4411: frame of 4294967295 bytes exceeds "
	                                 "the limit of 16777216 bytes");
	assert_int_equal(fl_wire_frame_len(zero, FL_WIRE_DEFAULT_MAX_FRAME, "acme", &n),
	                 FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "peer acme: empty frame");
	/* A caller without a peer name still gets a sentence. */
	assert_int_equal(fl_wire_frame_len(zero, FL_WIRE_DEFAULT_MAX_FRAME, NULL, &n),
	                 FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "peer (unnamed): empty frame");
}

/* ---- the blocking helpers over an in-memory transport ----------------- */

struct mem {
	uint8_t *buf;
	size_t len, pos, chunk; /* at most chunk bytes per call */
	int fail_at;            /* call number that fails (0: never) */
	int calls;
};

static int mem_read(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;
	size_t k = m->len - m->pos;

	if (++m->calls == m->fail_at)
		return fl_fail(FL_ERR_IO, "acme: TLS read failed: boom");
	if (k > n)
		k = n;
	if (k > m->chunk)
		k = m->chunk;
	memcpy(buf, m->buf + m->pos, k);
	m->pos += k;
	return (int)k;
}

static int mem_write(void *ctx, const void *buf, size_t n)
{
	struct mem *m = ctx;
	size_t k = m->len - m->pos;

	if (++m->calls == m->fail_at)
		return fl_fail(FL_ERR_IO, "acme: TLS write failed: boom");
	if (k > n)
		k = n;
	if (k > m->chunk)
		k = m->chunk;
	memcpy(m->buf + m->pos, buf, k);
	m->pos += k;
	return (int)k;
}

static void test_read_frame(void **state)
{
	(void)state;
	struct msgs m;
	Fedlead__Wire__Envelope e, *d = NULL;
	uint8_t *f1 = NULL, *f2 = NULL, stream[1024], *body = NULL;
	size_t l1 = 0, l2 = 0, blen = 0;
	struct mem in = {.buf = stream, .chunk = 1};

	msgs_init(&m);
	e = envelope_of(&m, FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE);
	assert_int_equal(fl_wire_encode(&e, &f1, &l1), 0);
	e = envelope_of(&m, FEDLEAD__WIRE__ENVELOPE__BODY_STATUS);
	assert_int_equal(fl_wire_encode(&e, &f2, &l2), 0);
	assert_true(l1 + l2 <= sizeof(stream));
	memcpy(stream, f1, l1);
	memcpy(stream + l1, f2, l2);
	in.len = l1 + l2;

	/* One byte per read: the reader assembles both frames. */
	assert_int_equal(fl_wire_read_frame(mem_read, &in, 4096, "acme", &body, &blen), 0);
	assert_int_equal(blen, l1 - 4);
	assert_memory_equal(body, f1 + 4, blen);
	assert_int_equal(fl_wire_decode(body, blen, "acme", &d), 0);
	assert_string_equal(fl_wire_type_name(d), "update");
	fl_wire_free(d);
	free(body);
	assert_int_equal(fl_wire_read_frame(mem_read, &in, 4096, "acme", &body, &blen), 0);
	assert_int_equal(blen, l2 - 4);
	assert_memory_equal(body, f2 + 4, blen);
	free(body);

	/* Clean end of file between frames. */
	assert_int_equal(fl_wire_read_frame(mem_read, &in, 4096, "acme", &body, &blen), FL_ERR_IO);
	assert_null(body);
	assert_int_equal(blen, 0);
	assert_string_equal(fl_errmsg(), "peer acme: connection closed");

	/* End of file inside the header and inside the body. */
	in = (struct mem){.buf = stream, .len = 3, .chunk = 64};
	assert_int_equal(fl_wire_read_frame(mem_read, &in, 4096, "acme", &body, &blen),
	                 FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(),
	                    "peer acme: connection closed in a frame header (3 of 4 bytes)");
	in = (struct mem){.buf = stream, .len = 10, .chunk = 64};
	assert_int_equal(fl_wire_read_frame(mem_read, &in, 4096, "acme", &body, &blen),
	                 FL_ERR_PROTO);
	{
		char want[128];

		snprintf(want, sizeof(want),
		         "peer acme: connection closed in a frame (6 of %zu bytes)", l1 - 4);
		assert_string_equal(fl_errmsg(), want);
	}

	/* A frame over the limit is refused after its 4 header bytes: nothing
	 * of the body is read (and so nothing was allocated for it). */
	in = (struct mem){.buf = stream, .len = l1, .chunk = 64};
	assert_int_equal(fl_wire_read_frame(mem_read, &in, l1 - 5, "acme", &body, &blen),
	                 FL_ERR_LIMIT);
	assert_int_equal(in.pos, 4);
	assert_null(body);
	{
		uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4};

		in = (struct mem){.buf = huge, .len = sizeof(huge), .chunk = 64};
		assert_int_equal(fl_wire_read_frame(mem_read, &in, FL_WIRE_DEFAULT_MAX_FRAME,
		                                    "acme", &body, &blen),
		                 FL_ERR_LIMIT);
		assert_int_equal(in.pos, 4);
		assert_string_equal(fl_errmsg(), "peer acme: frame of 4294967295 bytes exceeds "
		                                 "the limit of 16777216 bytes");
	}

	/* A transport error is passed on with its own message. */
	in = (struct mem){.buf = stream, .len = l1, .chunk = 2, .fail_at = 3};
	assert_int_equal(fl_wire_read_frame(mem_read, &in, 4096, "acme", &body, &blen), FL_ERR_IO);
	assert_null(body);
	assert_string_equal(fl_errmsg(), "acme: TLS read failed: boom");
	free(f1);
	free(f2);
}

static void test_write_all(void **state)
{
	(void)state;
	uint8_t src[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, dst[10] = {0};
	struct mem out = {.buf = dst, .len = sizeof(dst), .chunk = 3};

	assert_int_equal(fl_wire_write_all(mem_write, &out, src, sizeof(src)), 0);
	assert_int_equal(out.pos, 10);
	assert_memory_equal(dst, src, 10);
	assert_int_equal(out.calls, 4); /* 3 + 3 + 3 + 1 */

	/* The peer stops taking bytes after 6. */
	out = (struct mem){.buf = dst, .len = 6, .chunk = 3};
	assert_int_equal(fl_wire_write_all(mem_write, &out, src, sizeof(src)), FL_ERR_IO);
	assert_string_equal(fl_errmsg(), "connection closed after 6 of 10 bytes were sent");

	out = (struct mem){.buf = dst, .len = 10, .chunk = 3, .fail_at = 2};
	assert_int_equal(fl_wire_write_all(mem_write, &out, src, sizeof(src)), FL_ERR_IO);
	assert_string_equal(fl_errmsg(), "acme: TLS write failed: boom");
}

/* ---- robustness --------------------------------------------------------- */

/* Every proper prefix of a valid body is refused (the envelope's one field
 * is length-prefixed, so any cut leaves it short), with no crash. */
static void test_every_truncation_refused(void **state)
{
	(void)state;
	struct msgs m;

	msgs_init(&m);
	for (int c = 1; c <= 10; c++) {
		Fedlead__Wire__Envelope e = envelope_of(&m, (Fedlead__Wire__Envelope__BodyCase)c);
		uint8_t *frame = NULL;
		size_t flen = 0;

		assert_int_equal(fl_wire_encode(&e, &frame, &flen), 0);
		for (size_t cut = 0; cut < flen - 4; cut++) {
			Fedlead__Wire__Envelope *d = NULL;
			/* A copy of exactly cut bytes, so ASan sees any overread. */
			uint8_t *copy = malloc(cut ? cut : 1);

			assert_non_null(copy);
			memcpy(copy, frame + 4, cut);
			assert_int_equal(fl_wire_decode(copy, cut, "acme", &d), FL_ERR_PROTO);
			assert_null(d);
			free(copy);
		}
		free(frame);
	}
}

static uint32_t lcg_state;
static uint32_t lcg(void)
{
	lcg_state = lcg_state * 1664525u + 1013904223u;
	return lcg_state >> 8;
}

/* Anything the decoder accepts, the encoder accepts too, and re-decoding
 * gives the same type: a decoded message is always safe to use and send. */
static void assert_consistent(const Fedlead__Wire__Envelope *d)
{
	Fedlead__Wire__Envelope *d2 = NULL;
	uint8_t *frame = NULL;
	size_t flen = 0;

	if (fl_wire_encode(d, &frame, &flen) != 0)
		fail_msg("decoded but not encodable: %s", fl_errmsg());
	assert_int_equal(fl_wire_decode(frame + 4, flen - 4, "acme", &d2), 0);
	assert_int_equal(d2->body_case, d->body_case);
	fl_wire_free(d2);
	free(frame);
}

static void test_random_bytes(void **state)
{
	(void)state;
	int accepted = 0;

	lcg_state = 12345;
	for (int it = 0; it < 20000; it++) {
		size_t n = lcg() % 96;
		uint8_t *b = malloc(n ? n : 1);
		Fedlead__Wire__Envelope *d = NULL;
		int r;

		assert_non_null(b);
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)lcg();
		/* Bias half the inputs towards a plausible start: a known body
		 * tag and a length that fits. */
		if (it % 2 == 0 && n >= 2) {
			b[0] = (uint8_t)((1 + lcg() % 10) << 3 | 2);
			b[1] = (uint8_t)(n - 2 < 0x7f ? n - 2 : 0x7f);
		}
		r = fl_wire_decode(b, n, "acme", &d);
		if (r == 0) {
			accepted++;
			assert_consistent(d);
		} else {
			assert_int_equal(r, FL_ERR_PROTO);
			assert_null(d);
		}
		fl_wire_free(d);
		free(b);
	}
	/* Some random bodies do decode (e.g. a hello with a zero version): the
	 * accept path was exercised, not only the refusals. */
	assert_true(accepted > 0);
}

/* Valid frames with one to four random bytes changed. */
static void test_mutated_frames(void **state)
{
	(void)state;
	struct msgs m;
	int accepted = 0, refused = 0;

	msgs_init(&m);
	lcg_state = 777;
	for (int c = 1; c <= 10; c++) {
		Fedlead__Wire__Envelope e = envelope_of(&m, (Fedlead__Wire__Envelope__BodyCase)c);
		uint8_t *frame = NULL;
		size_t flen = 0;

		assert_int_equal(fl_wire_encode(&e, &frame, &flen), 0);
		for (int it = 0; it < 2000; it++) {
			size_t n = flen - 4;
			uint8_t *b = malloc(n);
			Fedlead__Wire__Envelope *d = NULL;
			int k = 1 + (int)(lcg() % 4), r;

			assert_non_null(b);
			memcpy(b, frame + 4, n);
			while (k-- > 0)
				b[lcg() % n] = (uint8_t)lcg();
			r = fl_wire_decode(b, n, "acme", &d);
			if (r == 0) {
				accepted++;
				assert_consistent(d);
			} else {
				refused++;
				assert_int_equal(r, FL_ERR_PROTO);
			}
			fl_wire_free(d);
			free(b);
		}
		free(frame);
	}
	assert_true(accepted > 0);
	assert_true(refused > 0);
}

/* ---- each validation rule, with its message ------------------------------ */

static void test_structure_rules(void **state)
{
	(void)state;
	struct pb env = {.n = 0}, b = {.n = 0};

	/* No body at all. */
	expect_refused(&env, FL_ERR_PROTO, "peer acme: malformed message (no body)");

	/* A hello of protocol version 0 (empty hello) decodes: the version is
	 * the coordinator's to refuse, with a Reject that names it. */
	pb_env(&env, 1, &b);
	{
		Fedlead__Wire__Envelope *d = expect_accepted(&env);

		assert_string_equal(fl_wire_type_name(d), "hello");
		assert_int_equal(d->hello->protocol_version, 0);
		fl_wire_free(d);
	}

	env.n = 0;
	pb_uint(&env, 99, 1);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (unknown field 99 in the envelope)");

	b.n = 0;
	pb_uint(&b, 15, 1);
	pb_env(&env, 1, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (unknown field 15 in hello)");

	/* Two bodies: protobuf would keep the last one. */
	env.n = 0;
	b.n = 0;
	pb_sub(&env, 1, &b);
	pb_sub(&env, 2, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (more than one body in the envelope)");

	/* The same body twice. */
	env.n = 0;
	pb_sub(&env, 3, &b);
	pb_sub(&env, 3, &b);
	expect_refused(&env, FL_ERR_PROTO, "peer acme: malformed message (reject occurs twice)");

	b.n = 0;
	pb_uint(&b, 1, 1);
	pb_uint(&b, 1, 1);
	pb_env(&env, 1, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (hello.protocol_version occurs twice)");

	/* protocol_version sent as fixed32 instead of a varint. */
	b.n = 0;
	pb_tag(&b, 1, 5);
	pb_byte(&b, 1), pb_byte(&b, 0), pb_byte(&b, 0), pb_byte(&b, 0);
	pb_env(&env, 1, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (hello.protocol_version has the wrong wire "
	               "type)");

	/* Varints wider than their field: protobuf-c would cut them. */
	b.n = 0;
	pb_uint(&b, 1, (uint64_t)1 << 32 | 1);
	pb_env(&env, 1, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (hello.protocol_version is out of range)");
	b.n = 0;
	pb_uint(&b, 2, 2);
	pb_env(&env, 3, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (reject.permanent is out of range)");
	b.n = 0;
	pb_ref(&b, 1, "f", 1, 32);
	pb_uint(&b, 2, (uint64_t)1 << 31);
	pb_env(&env, 9, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (update.kind is out of range)");
	/* A negative enum is sign-extended to ten bytes and in range (and then
	 * an unknown kind). */
	b.n = 0;
	pb_ref(&b, 1, "f", 1, 32);
	pb_uint(&b, 2, (uint64_t)(int64_t)-1);
	pb_env(&env, 9, &b);
	expect_refused(&env, FL_ERR_PROTO, "peer acme: update: unknown kind -1");
	/* The largest round is fine: it is a uint64. */
	b.n = 0;
	pb_ref(&b, 1, "f", UINT64_MAX, 32);
	pb_env(&env, 4, &b);
	{
		Fedlead__Wire__Envelope *d = expect_accepted(&env);

		assert_true(fl_wire_ref(d)->round == UINT64_MAX);
		fl_wire_free(d);
	}

	/* A group (wire type 3) where the hello should be. */
	env.n = 0;
	pb_tag(&env, 1, 3);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (hello has the wrong wire type)");

	/* Field number 0, and an 11-byte varint. */
	env.n = 0;
	pb_byte(&env, 0x00);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (bad field tag in the envelope)");
	env.n = 0;
	for (int i = 0; i < 10; i++)
		pb_byte(&env, 0xff);
	pb_byte(&env, 0x01);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (bad field tag in the envelope)");

	/* A hello that claims 5 bytes and has 1. */
	env.n = 0;
	pb_tag(&env, 1, 2);
	pb_varint(&env, 5);
	pb_byte(&env, 0x08);
	expect_refused(&env, FL_ERR_PROTO, "peer acme: malformed message (hello is truncated)");

	/* A double cut short inside an update. */
	b.n = 0;
	pb_ref(&b, 1, "f", 1, 32);
	pb_tag(&b, 3, 2);
	pb_varint(&b, 7);
	for (int i = 0; i < 7; i++)
		pb_byte(&b, 0);
	pb_env(&env, 9, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (update.values is not a whole number of "
	               "values)");

	/* An unpacked repeated double (wire type 1). */
	b.n = 0;
	pb_ref(&b, 1, "f", 1, 32);
	pb_uint(&b, 2, 1);
	pb_double(&b, 3, 1.0);
	pb_env(&env, 9, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (update.values has the wrong wire type)");
}

static void hello_with_version(struct pb *env, const char *version)
{
	struct pb b = {.n = 0};

	pb_uint(&b, 1, 1);
	pb_str(&b, 2, version);
	pb_bytes(&b, 3, FP, 32);
	pb_str(&b, 4, "fed1");
	pb_env(env, 1, &b);
}

static void test_string_rules(void **state)
{
	(void)state;
	struct pb env = {.n = 0}, b = {.n = 0}, plan = {.n = 0};
	char s[1100];
	Fedlead__Wire__Envelope *d;

	/* The NUL is inside the field: protobuf-c would have cut it off. */
	b.n = 0;
	pb_uint(&b, 1, 1);
	pb_bytes(&b, 2, "a\0b", 3);
	pb_bytes(&b, 3, FP, 32);
	pb_env(&env, 1, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (hello.software_version contains a NUL byte)");

	static const struct {
		const char *s, *what;
	} bad[] = {
	        {"\xc3\x28", "is not valid UTF-8"},         /* lead byte, no continuation */
	        {"\xc0\xaf", "is not valid UTF-8"},         /* overlong '/' */
	        {"\xed\xa0\x80", "is not valid UTF-8"},     /* surrogate U+D800 */
	        {"\xf4\x90\x80\x80", "is not valid UTF-8"}, /* above U+10FFFF */
	        {"\xe2\x82", "is not valid UTF-8"},         /* cut short */
	        {"red\x1b[31m", "contains a control character"},
	        {"two\nlines", "contains a control character"},
	        {"del\x7f", "contains a control character"},
	        {"c1 \xc2\x9b", "contains a control character"}, /* U+009B CSI */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[160];

		hello_with_version(&env, bad[i].s);
		snprintf(want, sizeof(want),
		         "peer acme: malformed message (hello.software_version %s)", bad[i].what);
		expect_refused(&env, FL_ERR_PROTO, want);
	}

	hello_with_version(&env, "Zürich \xe2\x80\x94 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x99\x82");
	d = expect_accepted(&env);
	assert_string_equal(d->hello->software_version,
	                    "Zürich \xe2\x80\x94 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x99\x82");
	fl_wire_free(d);

	/* 1024 bytes is the limit, 1025 is over it. */
	memset(s, 'v', 1024);
	s[1024] = '\0';
	hello_with_version(&env, s);
	d = expect_accepted(&env);
	assert_int_equal(strlen(d->hello->software_version), 1024);
	fl_wire_free(d);
	s[1024] = 'v';
	s[1025] = '\0';
	hello_with_version(&env, s);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (hello.software_version is 1025 bytes long, "
	               "the limit is 1024)");

	/* A nested string names its full path. */
	pb_str(&plan, 1, "newton\t");
	b.n = 0;
	pb_uint(&b, 1, 1);
	pb_str(&b, 2, "fed");
	pb_sub(&b, 5, &plan);
	pb_env(&env, 2, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: malformed message (welcome.plan.algorithm contains a control "
	               "character)");
}

static void test_content_rules(void **state)
{
	(void)state;
	struct pb env = {.n = 0}, b = {.n = 0}, plan = {.n = 0};
	const double nan3[3] = {1, 2, NAN}, inf1[1] = {INFINITY};
	Fedlead__Wire__Envelope *d;

	/* Every round message needs its reference. */
	static const struct {
		unsigned field;
		const char *type;
	} round_msgs[] = {
	        {4, "stats_task"},  {5, "standardize"}, {6, "eval_task"}, {7, "local_train"},
	        {8, "final_model"}, {9, "update"},      {10, "status"},
	};
	for (size_t i = 0; i < sizeof(round_msgs) / sizeof(round_msgs[0]); i++) {
		char want[128];

		b.n = 0;
		if (round_msgs[i].field == 9)
			pb_uint(&b, 2, 1); /* a kind, so only the ref is missing */
		pb_env(&env, round_msgs[i].field, &b);
		snprintf(want, sizeof(want), "peer acme: %s: round reference missing",
		         round_msgs[i].type);
		expect_refused(&env, FL_ERR_PROTO, want);
	}

	b.n = 0;
	pb_ref(&b, 1, "fed", 3, 31);
	pb_uint(&b, 2, 1);
	pb_env(&env, 9, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: update: schema fingerprint is 31 bytes, expected 32");

	b.n = 0;
	pb_ref(&b, 1, "fed", 3, 32);
	pb_env(&env, 4, &b);
	d = expect_accepted(&env);
	assert_string_equal(fl_wire_type_name(d), "stats_task");
	assert_int_equal(fl_wire_ref(d)->round, 3);
	fl_wire_free(d);

	/* A hello of this protocol version needs a 32-byte fingerprint. */
	b.n = 0;
	pb_uint(&b, 1, FL_WIRE_PROTOCOL_VERSION);
	pb_str(&b, 4, "fed");
	pb_env(&env, 1, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: hello: schema fingerprint is 0 bytes, expected 32");

	b.n = 0;
	pb_uint(&b, 1, 1);
	pb_str(&b, 2, "fed");
	pb_env(&env, 2, &b);
	expect_refused(&env, FL_ERR_PROTO, "peer acme: welcome: plan missing");

	pb_str(&plan, 1, "lbfgs");
	pb_double(&plan, 2, NAN);
	pb_sub(&b, 5, &plan);
	pb_env(&env, 2, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: welcome: plan.validation_split is not a finite number");

	b.n = 0;
	pb_ref(&b, 1, "fed", 3, 32);
	pb_uint(&b, 2, 1);
	pb_doubles(&b, 3, nan3, 3);
	pb_env(&env, 9, &b);
	expect_refused(&env, FL_ERR_PROTO, "peer acme: update: values[2] is not a finite number");

	b.n = 0;
	pb_ref(&b, 1, "fed", 3, 32);
	pb_doubles(&b, 2, inf1, 1);
	pb_env(&env, 6, &b);
	expect_refused(&env, FL_ERR_PROTO, "peer acme: eval_task: w[0] is not a finite number");

	b.n = 0;
	pb_ref(&b, 1, "fed", 3, 32);
	pb_doubles(&b, 2, nan3, 2);
	pb_double(&b, 5, INFINITY);
	pb_env(&env, 7, &b);
	expect_refused(&env, FL_ERR_PROTO, "peer acme: local_train: lr is not a finite number");

	b.n = 0;
	pb_ref(&b, 1, "fed", 3, 32);
	pb_doubles(&b, 2, nan3, 2);
	pb_doubles(&b, 3, nan3, 2);
	pb_doubles(&b, 4, nan3, 1);
	pb_doubles(&b, 5, nan3, 2);
	pb_env(&env, 5, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: standardize: center, scale, impute and baseline differ in "
	               "length (2, 2, 1, 2)");
	b.n = 0;
	pb_ref(&b, 1, "fed", 3, 32);
	for (unsigned f = 2; f <= 5; f++)
		pb_doubles(&b, f, nan3, 3);
	pb_env(&env, 5, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: standardize: center[2] is not a finite number");
	b.n = 0;
	pb_ref(&b, 1, "fed", 3, 32);
	pb_double(&b, 6, -INFINITY);
	pb_env(&env, 5, &b);
	expect_refused(&env, FL_ERR_PROTO,
	               "peer acme: standardize: pos_weight is not a finite number");

	/* Enumerations. */
	b.n = 0;
	pb_ref(&b, 1, "fed", 3, 32);
	pb_env(&env, 9, &b);
	expect_refused(&env, FL_ERR_PROTO, "peer acme: update: kind not set");
	pb_uint(&b, 2, 7);
	pb_env(&env, 9, &b);
	expect_refused(&env, FL_ERR_PROTO, "peer acme: update: unknown kind 7");
	b.n = 0;
	pb_ref(&b, 1, "fed", 3, 32);
	pb_uint(&b, 2, 9);
	pb_env(&env, 10, &b);
	expect_refused(&env, FL_ERR_PROTO, "peer acme: status: unknown code 9");
}

/* A vector one entry over the limit is refused from its length alone,
 * before protobuf-c allocates its 128 MiB copy. */
static void test_vector_limit(void **state)
{
	(void)state;
	struct pb head = {.n = 0}, ref = {.n = 0};
	size_t nv = (size_t)FL_WIRE_MAX_VECTOR + 1, vbytes = nv * 8, ulen, total;
	uint8_t *buf, *p;
	Fedlead__Wire__Envelope *d = (Fedlead__Wire__Envelope *)0x1;
	struct msgs m;
	Fedlead__Wire__Envelope e;
	uint8_t *frame = NULL;
	size_t flen = 0;

	/* update = ref, kind, values (tag, length, vbytes of zeros) */
	pb_ref(&ref, 1, "fed", 3, 32);
	pb_uint(&ref, 2, 1);
	pb_tag(&ref, 3, 2);
	pb_varint(&ref, vbytes);
	ulen = ref.n + vbytes;
	pb_tag(&head, 9, 2);
	pb_varint(&head, ulen);
	total = head.n + ulen;
	/* calloc: the zero pages are never touched by the decoder. */
	buf = calloc(1, total);
	assert_non_null(buf);
	p = buf;
	memcpy(p, head.b, head.n);
	memcpy(p + head.n, ref.b, ref.n);
	assert_int_equal(fl_wire_decode(buf, total, "acme", &d), FL_ERR_PROTO);
	assert_null(d);
	assert_string_equal(fl_errmsg(), "peer acme: malformed message (update.values has "
	                                 "16777217 values, the limit is 16777216)");
	free(buf);

	/* The encoder refuses it too, from the count alone. */
	msgs_init(&m);
	m.update.n_values = nv;
	e = envelope_of(&m, FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE);
	assert_int_equal(fl_wire_encode(&e, &frame, &flen), FL_ERR_INVALID);
	assert_null(frame);
	assert_int_equal(flen, 0);
	assert_string_equal(fl_errmsg(),
	                    "message not sent: update: values has 16777217 values, the limit is "
	                    "16777216");
}

static void test_encode_refuses(void **state)
{
	(void)state;
	struct msgs m;
	Fedlead__Wire__Envelope e = FEDLEAD__WIRE__ENVELOPE__INIT;
	uint8_t *frame = (uint8_t *)0x1;
	size_t flen = 7;

	assert_int_equal(fl_wire_encode(&e, &frame, &flen), FL_ERR_INVALID);
	assert_null(frame);
	assert_int_equal(flen, 0);
	assert_string_equal(fl_errmsg(), "message not sent: malformed message (no body)");

	/* A body case whose message pointer is NULL is no body either. */
	e.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE;
	assert_int_equal(fl_wire_encode(&e, &frame, &flen), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "message not sent: malformed message (no body)");
	assert_string_equal(fl_wire_type_name(&e), "invalid");
	assert_null(fl_wire_ref(&e));

	msgs_init(&m);
	m.update.ref = NULL;
	e = envelope_of(&m, FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE);
	assert_int_equal(fl_wire_encode(&e, &frame, &flen), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "message not sent: update: round reference missing");

	msgs_init(&m);
	m.status.detail = "row 12: \"x\"\nis bad";
	e = envelope_of(&m, FEDLEAD__WIRE__ENVELOPE__BODY_STATUS);
	assert_int_equal(fl_wire_encode(&e, &frame, &flen), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "message not sent: malformed message (status.detail "
	                                 "contains a control character)");

	msgs_init(&m);
	m.ref.schema_fingerprint.len = 20;
	e = envelope_of(&m, FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK);
	assert_int_equal(fl_wire_encode(&e, &frame, &flen), FL_ERR_INVALID);
	assert_string_equal(
	        fl_errmsg(),
	        "message not sent: stats_task: schema fingerprint is 20 bytes, expected 32");

	assert_int_equal(fl_wire_encode(NULL, &frame, &flen), FL_ERR_INVALID);
	assert_null(frame);
}

static void test_check_ref(void **state)
{
	(void)state;
	Fedlead__Wire__RoundRef r = FEDLEAD__WIRE__ROUND_REF__INIT;
	uint8_t other[32];

	r.federation_id = "x";
	r.round = 5;
	r.schema_fingerprint.data = (uint8_t *)FP;
	r.schema_fingerprint.len = 32;
	assert_int_equal(fl_wire_check_ref(&r, "x", 5, FP, "acme", "update"), 0);

	assert_int_equal(fl_wire_check_ref(&r, "y", 5, FP, "acme", "update"), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer acme: update for federation \"x\", expected \"y\"");

	r.federation_id = "y";
	r.round = 3;
	assert_int_equal(fl_wire_check_ref(&r, "y", 5, FP, "acme", "update"), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(),
	                    "peer acme: update for round 3, but round 5 is in progress (stale)");
	r.round = 9;
	assert_int_equal(fl_wire_check_ref(&r, "y", 5, FP, "acme", "status"), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(),
	                    "peer acme: status for round 9, but round 5 is in progress (future)");
	/* Rounds are 64-bit on the wire. */
	r.round = UINT64_MAX;
	assert_int_equal(fl_wire_check_ref(&r, "y", UINT64_MAX, FP, "acme", "status"), 0);

	memcpy(other, FP, 32);
	other[31] ^= 1;
	r.round = 5;
	assert_int_equal(fl_wire_check_ref(&r, "y", 5, other, "acme", "update"), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer acme: update with a different schema fingerprint");
	r.schema_fingerprint.len = 16;
	assert_int_equal(fl_wire_check_ref(&r, "y", 5, FP, "acme", "update"), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer acme: update with a different schema fingerprint");

	assert_int_equal(fl_wire_check_ref(NULL, "y", 5, FP, "acme", "update"), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer acme: update: round reference missing");
}

static void test_type_names(void **state)
{
	(void)state;
	struct msgs m;
	Fedlead__Wire__Envelope e = FEDLEAD__WIRE__ENVELOPE__INIT;

	assert_string_equal(fl_wire_type_name(NULL), "invalid");
	assert_string_equal(fl_wire_type_name(&e), "invalid");
	assert_null(fl_wire_ref(NULL));
	msgs_init(&m);
	for (int c = 1; c <= 10; c++) {
		e = envelope_of(&m, (Fedlead__Wire__Envelope__BodyCase)c);
		assert_string_equal(fl_wire_type_name(&e), TYPE_NAMES[c]);
		if (c >= 4)
			assert_ptr_equal(fl_wire_ref(&e), &m.ref);
		else
			assert_null(fl_wire_ref(&e));
	}
	e.body_case = (Fedlead__Wire__Envelope__BodyCase)42;
	assert_string_equal(fl_wire_type_name(&e), "invalid");
	fl_wire_free(NULL);
}

static void test_clean_string(void **state)
{
	(void)state;
	char out[2048], src[2100];
	struct msgs m;
	Fedlead__Wire__Envelope e;
	uint8_t *frame = NULL;
	size_t flen = 0;

	fl_wire_clean_string(out, sizeof(out), "plain text, Zürich");
	assert_string_equal(out, "plain text, Zürich");
	fl_wire_clean_string(out, sizeof(out), "a\x1b[0m\nb\xff\xc3");
	assert_string_equal(out, "a?[0m?b??");
	fl_wire_clean_string(out, sizeof(out), NULL);
	assert_string_equal(out, "");
	/* Cut at a character boundary: "abc" + a 3-byte euro sign into 5 bytes
	 * (4 characters' room) keeps "abc", not half a euro. */
	fl_wire_clean_string(out, 5, "abc\xe2\x82\xac");
	assert_string_equal(out, "abc");
	fl_wire_clean_string(out, 7, "abc\xe2\x82\xac");
	assert_string_equal(out, "abc\xe2\x82\xac");
	/* Never longer than the protocol's limit. */
	memset(src, 'x', 2000);
	src[2000] = '\0';
	fl_wire_clean_string(out, sizeof(out), src);
	assert_int_equal(strlen(out), FL_WIRE_MAX_STRING);

	/* What it produces is accepted by the encoder. */
	msgs_init(&m);
	fl_wire_clean_string(out, sizeof(out), "bad\tdetail \xc0\xaf\x9b end");
	m.status.detail = out;
	e = envelope_of(&m, FEDLEAD__WIRE__ENVELOPE__BODY_STATUS);
	assert_int_equal(fl_wire_encode(&e, &frame, &flen), 0);
	free(frame);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip_every_type),
	        cmocka_unit_test(test_hello_bytes),
	        cmocka_unit_test(test_frame_len),
	        cmocka_unit_test(test_read_frame),
	        cmocka_unit_test(test_write_all),
	        cmocka_unit_test(test_every_truncation_refused),
	        cmocka_unit_test(test_random_bytes),
	        cmocka_unit_test(test_mutated_frames),
	        cmocka_unit_test(test_structure_rules),
	        cmocka_unit_test(test_string_rules),
	        cmocka_unit_test(test_content_rules),
	        cmocka_unit_test(test_vector_limit),
	        cmocka_unit_test(test_encode_refuses),
	        cmocka_unit_test(test_check_ref),
	        cmocka_unit_test(test_type_names),
	        cmocka_unit_test(test_clean_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
