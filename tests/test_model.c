/*
 * Tests for src/model.c: the model file format, its validation, the framing
 * of the signature trailer, raw file I/O, atomic saving and the JSON view.
 *
 * Frames with a valid checksum around a doctored payload are built here with
 * an independent implementation of the framing (frame() below), so the
 * checks behind the checksum are reachable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "fedlead/error.h"
#include "fedlead/model.h"
#include "fedlead/signed_model.h"
#include "model.pb-c.h"

#define SCHEMA_JSON                                                                                \
	"{\"fedlead_schema\":1,\"label\":{\"column\":\"y\",\"positive\":\"1\",\"negative\":\"0\"}" \
	","                                                                                        \
	"\"id\":\"lead_id\",\"features\":[{\"name\":\"age\",\"type\":\"numeric\",\"missing\":"     \
	"\"impute\"},{\"name\":\"region\",\"type\":\"categorical\",\"values\":[\"north\","         \
	"\"south\"],\"other\":true}],\"ignore\":[\"notes\"]}"
#define DIM 6

/* Column names of the encoding, from the rules in include/fedlead/schema.h. */
static const char *const column_names[DIM] = {
        "(intercept)", "age", "age (missing)", "region=north", "region=south", "region=(other)",
};

static const double W[DIM] = {-1.75, 0.1, 1.0 / 3.0, -2.5e10, 5e-324, 0.0};
static const double CENTER[DIM] = {0, 41.5, 0, 0, 0, 0};
static const double SCALE[DIM] = {1, 12.25, 1, 1, 1, 1};
static const double BASELINE[DIM] = {1, 0, 0.125, 0.5, 0.375, 0.125};
static const double IMPUTE[DIM] = {0, 41.5, 0, 0, 0, 0};

/* A federation's log: NaN where a round measured nothing. */
#define NHIST 3
static const struct fl_round_log HISTORY[NHIST] = {
        {1, "stats", 0, NAN, NAN, NAN, NAN, 4},
        {2, "fedavg", 1e-3, 0.5, 0.125, 0.45, 0.75, 3},
        {30, "final", 1e-3, 0.3333, 1e-7, 0.43, 0.79, 3},
};

static struct fl_schema *parse_schema(void)
{
	struct fl_schema *s = NULL;

	assert_int_equal(fl_schema_parse(SCHEMA_JSON, strlen(SCHEMA_JSON), "test", &s), 0);
	assert_int_equal(s->dim, DIM);
	return s;
}

/* A model with every field set to a hand-chosen value. */
static struct fl_model *make_model(void)
{
	struct fl_schema *s = parse_schema();
	struct fl_model *m = NULL;
	struct fl_provenance *p;

	assert_int_equal(fl_model_new(s, &m), 0);
	fl_schema_free(s); /* the model holds its own copy */
	memcpy(m->w, W, sizeof(W));
	memcpy(m->scaler->center, CENTER, sizeof(CENTER));
	memcpy(m->scaler->scale, SCALE, sizeof(SCALE));
	memcpy(m->scaler->baseline, BASELINE, sizeof(BASELINE));
	memcpy(m->scaler->impute, IMPUTE, sizeof(IMPUTE));
	p = &m->prov;
	assert_int_equal(fl_model_set_str(&p->solver, "lbfgs"), 0);
	p->l2 = 1e-3;
	p->pos_weight = 2.5;
	p->rows = 1000;
	p->positives = 125;
	p->iterations = 42;
	p->final_loss = 0.3333;
	p->grad_norm = 1e-7;
	p->train = (struct fl_metric_set){800, 100, 0.8125, 0.41};
	p->valid = (struct fl_metric_set){200, 25, 0.79, 0.43};
	assert_int_equal(fl_model_set_str(&p->created, "2024-05-06T07:08:09Z"), 0);
	assert_int_equal(fl_model_set_str(&p->tool_version, "0.1.0"), 0);
	assert_int_equal(fl_model_set_str(&p->federation_id, "fed-1"), 0);
	p->rounds = 30;
	assert_int_equal(fl_model_add_participant(m, "acme"), 0);
	assert_int_equal(fl_model_add_participant(m, "globex"), 0);
	assert_int_equal(fl_model_add_participant(m, "initech"), 0);
	assert_int_equal(fl_model_set_history(m, HISTORY, NHIST), 0);
	return m;
}

static void assert_doubles_identical(const double *a, const double *b, size_t n)
{
	assert_memory_equal(a, b, n * sizeof(double));
}

static void assert_opt_str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_metric_identical(const struct fl_metric_set *a, const struct fl_metric_set *b)
{
	assert_int_equal(a->rows, b->rows);
	assert_int_equal(a->positives, b->positives);
	assert_doubles_identical(&a->auc, &b->auc, 1);
	assert_doubles_identical(&a->log_loss, &b->log_loss, 1);
}

/* Field by field and bit for bit, so NaN equals the same NaN. */
static void assert_round_logs_identical(const struct fl_round_log *a, const struct fl_round_log *b,
                                        size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].round, b[i].round);
		assert_string_equal(a[i].kind, b[i].kind);
		assert_doubles_identical(&a[i].l2, &b[i].l2, 1);
		assert_doubles_identical(&a[i].train_loss, &b[i].train_loss, 1);
		assert_doubles_identical(&a[i].grad_norm, &b[i].grad_norm, 1);
		assert_doubles_identical(&a[i].valid_log_loss, &b[i].valid_log_loss, 1);
		assert_doubles_identical(&a[i].valid_auc, &b[i].valid_auc, 1);
		assert_int_equal(a[i].partners, b[i].partners);
	}
}

static void assert_models_identical(const struct fl_model *a, const struct fl_model *b)
{
	const struct fl_provenance *p = &a->prov, *q = &b->prov;

	assert_int_equal(a->dim, b->dim);
	assert_int_equal(b->schema->dim, b->dim);
	assert_string_equal(a->schema->canonical, b->schema->canonical);
	assert_memory_equal(a->schema->fingerprint, b->schema->fingerprint, FL_FINGERPRINT_LEN);
	assert_int_equal(b->scaler->dim, b->dim);
	assert_doubles_identical(a->w, b->w, a->dim);
	assert_doubles_identical(a->scaler->center, b->scaler->center, a->dim);
	assert_doubles_identical(a->scaler->scale, b->scaler->scale, a->dim);
	assert_doubles_identical(a->scaler->baseline, b->scaler->baseline, a->dim);
	assert_doubles_identical(a->scaler->impute, b->scaler->impute, a->dim);
	assert_opt_str_equal(p->solver, q->solver);
	assert_doubles_identical(&p->l2, &q->l2, 1);
	assert_doubles_identical(&p->pos_weight, &q->pos_weight, 1);
	assert_int_equal(p->rows, q->rows);
	assert_int_equal(p->positives, q->positives);
	assert_int_equal(p->iterations, q->iterations);
	assert_doubles_identical(&p->final_loss, &q->final_loss, 1);
	assert_doubles_identical(&p->grad_norm, &q->grad_norm, 1);
	assert_metric_identical(&p->train, &q->train);
	assert_metric_identical(&p->valid, &q->valid);
	assert_opt_str_equal(p->created, q->created);
	assert_opt_str_equal(p->tool_version, q->tool_version);
	assert_opt_str_equal(p->federation_id, q->federation_id);
	assert_int_equal(p->rounds, q->rounds);
	assert_int_equal(p->n_participants, q->n_participants);
	for (size_t i = 0; i < p->n_participants; i++)
		assert_string_equal(p->participants[i], q->participants[i]);
	assert_int_equal(p->n_history, q->n_history);
	assert_round_logs_identical(p->history, q->history, p->n_history);
}

static void sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
}

/* The framing of include/fedlead/model.h around any payload. */
static uint8_t *frame(const uint8_t *payload, size_t plen, size_t *len)
{
	uint8_t *b = malloc(12 + plen + 32);

	assert_non_null(b);
	memcpy(b, "FLMODEL\n", 8);
	b[8] = (uint8_t)(plen >> 24);
	b[9] = (uint8_t)(plen >> 16);
	b[10] = (uint8_t)(plen >> 8);
	b[11] = (uint8_t)plen;
	if (plen > 0)
		memcpy(b + 12, payload, plen);
	sha256(b, 12 + plen, b + 12 + plen);
	*len = 12 + plen + 32;
	return b;
}

/* Unpacks the payload of a valid encoding for a test to doctor in place. */
static Fedlead__ModelFile *unpack(const uint8_t *buf, size_t len)
{
	Fedlead__ModelFile *mf;

	assert_true(len >= 44);
	mf = fedlead__model_file__unpack(NULL, len - 44, buf + 12);
	assert_non_null(mf);
	return mf;
}

/* Packs a (doctored) message into a frame with a correct checksum. */
static uint8_t *repack(Fedlead__ModelFile *mf, size_t *len)
{
	size_t plen = fedlead__model_file__get_packed_size(mf);
	uint8_t *p = malloc(plen > 0 ? plen : 1), *b;

	assert_non_null(p);
	assert_int_equal(fedlead__model_file__pack(mf, p), plen);
	b = frame(p, plen, len);
	free(p);
	fedlead__model_file__free_unpacked(mf, NULL);
	return b;
}

static void encode_model(uint8_t **buf, size_t *len)
{
	struct fl_model *m = make_model();

	assert_int_equal(fl_model_encode(m, buf, len), 0);
	fl_model_free(m);
}

/* Decodes buf expecting refusal with exactly msg. */
static void assert_refused(const uint8_t *buf, size_t len, const char *msg)
{
	struct fl_model *m = (struct fl_model *)&m; /* must be reset to NULL */

	assert_int_equal(fl_model_decode(buf, len, "m.flm", &m), FL_ERR_MODEL);
	assert_null(m);
	assert_string_equal(fl_errmsg(), msg);
}

/* ---- construction ------------------------------------------------------ */

static void test_new_is_zero_with_identity_scaler(void **state)
{
	struct fl_schema *s = parse_schema();
	struct fl_model *m = NULL;

	(void)state;
	assert_int_equal(fl_model_new(s, &m), 0);
	assert_ptr_not_equal(m->schema, s);
	assert_string_equal(m->schema->canonical, s->canonical);
	assert_memory_equal(m->schema->fingerprint, s->fingerprint, FL_FINGERPRINT_LEN);
	fl_schema_free(s);
	assert_int_equal(m->dim, DIM);
	assert_int_equal(m->scaler->dim, DIM);
	for (size_t j = 0; j < DIM; j++) {
		assert_true(m->w[j] == 0.0);
		assert_true(m->scaler->center[j] == 0.0);
		assert_true(m->scaler->scale[j] == 1.0);
	}
	assert_null(m->prov.solver);
	assert_null(m->prov.participants);
	assert_int_equal(m->prov.n_participants, 0);
	assert_null(m->prov.history);
	assert_int_equal(m->prov.n_history, 0);
	fl_model_free(m);
	fl_model_free(NULL);
}

static void test_set_str_and_participants(void **state)
{
	struct fl_model *m = make_model();
	char name[32];

	(void)state;
	assert_int_equal(fl_model_set_str(&m->prov.solver, "newton"), 0);
	assert_string_equal(m->prov.solver, "newton");
	assert_int_equal(fl_model_set_str(&m->prov.solver, NULL), 0);
	assert_null(m->prov.solver);

	assert_int_equal(m->prov.n_participants, 3);
	assert_string_equal(m->prov.participants[2], "initech");
	for (size_t i = 3; i < FL_MODEL_MAX_PARTICIPANTS; i++) {
		snprintf(name, sizeof(name), "p%zu", i);
		assert_int_equal(fl_model_add_participant(m, name), 0);
	}
	assert_int_equal(m->prov.n_participants, 10000);
	assert_string_equal(m->prov.participants[9999], "p9999");
	assert_int_equal(fl_model_add_participant(m, "one too many"), FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "a model lists at most 10000 participants");
	assert_int_equal(m->prov.n_participants, 10000);
	fl_model_free(m);
}

static void test_set_history(void **state)
{
	struct fl_model *m = make_model();
	struct fl_round_log mine[2], bad[2];
	struct fl_round_log *big;

	(void)state;
	/* make_model() set HISTORY; the model holds a copy. */
	assert_int_equal(m->prov.n_history, NHIST);
	assert_ptr_not_equal(m->prov.history, HISTORY);
	assert_round_logs_identical(m->prov.history, HISTORY, NHIST);

	memcpy(mine, &HISTORY[1], sizeof(mine));
	assert_int_equal(fl_model_set_history(m, mine, 2), 0);
	mine[0].round = 99;
	strcpy(mine[0].kind, "eval");
	assert_int_equal(m->prov.n_history, 2);
	assert_round_logs_identical(m->prov.history, &HISTORY[1], 2);

	/* Its own entries may be the source (here: keep the last one). */
	assert_int_equal(fl_model_set_history(m, &m->prov.history[1], 1), 0);
	assert_int_equal(m->prov.n_history, 1);
	assert_round_logs_identical(m->prov.history, &HISTORY[2], 1);

	/* A kind of 15 characters fits; 16 without a terminator does not, and
	 * the history is left as it was. */
	memcpy(bad, HISTORY, sizeof(bad));
	strcpy(bad[0].kind, "abcdefghijklmno");
	memset(bad[1].kind, 'x', sizeof(bad[1].kind));
	assert_int_equal(fl_model_set_history(m, bad, 2), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "history entry 1: kind is not a string of at most 15 characters");
	assert_int_equal(m->prov.n_history, 1);
	assert_round_logs_identical(m->prov.history, &HISTORY[2], 1);
	assert_int_equal(fl_model_set_history(m, bad, 1), 0);
	assert_string_equal(m->prov.history[0].kind, "abcdefghijklmno");

	assert_int_equal(fl_model_set_history(m, NULL, 1), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "fl_model_set_history: no model or history");
	assert_int_equal(fl_model_set_history(NULL, HISTORY, 1), FL_ERR_INVALID);

	/* The limit, and one past it. */
	big = calloc(FL_MODEL_MAX_HISTORY + 1, sizeof(*big));
	assert_non_null(big);
	big[FL_MODEL_MAX_HISTORY - 1].round = 7;
	assert_int_equal(fl_model_set_history(m, big, FL_MODEL_MAX_HISTORY + 1), FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "a model holds at most 1000000 history entries");
	assert_int_equal(m->prov.n_history, 1);
	assert_int_equal(fl_model_set_history(m, big, FL_MODEL_MAX_HISTORY), 0);
	assert_int_equal(m->prov.n_history, 1000000);
	assert_int_equal(m->prov.history[999999].round, 7);
	free(big);

	/* Empty clears. */
	assert_int_equal(fl_model_set_history(m, NULL, 0), 0);
	assert_null(m->prov.history);
	assert_int_equal(m->prov.n_history, 0);
	fl_model_free(m);
}

static void test_logit(void **state)
{
	struct fl_model *m = make_model();
	const double w[DIM] = {0.5, 2, -1, 0.25, 0, 4};
	const double x[DIM] = {1, 3, 0, 1, 0, 0};

	(void)state;
	memcpy(m->w, w, sizeof(w));
	/* 0.5*1 + 2*3 + 0.25*1, exact in binary. */
	assert_true(fl_model_logit(m, x) == 6.75);
	fl_model_free(m);
}

/* ---- encoding ---------------------------------------------------------- */

static void test_encode_layout(void **state)
{
	struct fl_model *m = make_model();
	Fedlead__ModelFile *mf;
	uint8_t *buf = NULL, sum[32];
	size_t len = 0, plen;

	(void)state;
	assert_int_equal(fl_model_encode(m, &buf, &len), 0);
	assert_true(len > 44);
	assert_memory_equal(buf, "FLMODEL\n", 8);
	plen = (size_t)buf[8] << 24 | (size_t)buf[9] << 16 | (size_t)buf[10] << 8 | buf[11];
	assert_int_equal(plen, len - 44);
	sha256(buf, len - 32, sum);
	assert_memory_equal(sum, buf + len - 32, 32);

	/* The payload is the documented protobuf message. */
	mf = unpack(buf, len);
	assert_int_equal(mf->format_major, 1);
	assert_int_equal(mf->format_minor, 2);
	assert_string_equal(mf->schema_json, m->schema->canonical);
	assert_int_equal(mf->schema_fingerprint.len, 32);
	assert_memory_equal(mf->schema_fingerprint.data, m->schema->fingerprint, 32);
	assert_int_equal(mf->n_weights, DIM);
	assert_doubles_identical(mf->weights, W, DIM);
	assert_int_equal(mf->n_scale, DIM);
	assert_doubles_identical(mf->scale, SCALE, DIM);
	assert_non_null(mf->provenance);
	assert_string_equal(mf->provenance->solver, "lbfgs");
	assert_int_equal(mf->provenance->n_participants, 3);
	assert_string_equal(mf->provenance->participants[1], "globex");
	assert_int_equal(mf->provenance->n_history, NHIST);
	for (size_t i = 0; i < NHIST; i++) {
		const Fedlead__RoundLog *h = mf->provenance->history[i];

		assert_int_equal(h->round, HISTORY[i].round);
		assert_string_equal(h->kind, HISTORY[i].kind);
		/* NaN ("not measured") travels as its bit pattern. */
		assert_doubles_identical(&h->train_loss, &HISTORY[i].train_loss, 1);
		assert_doubles_identical(&h->valid_auc, &HISTORY[i].valid_auc, 1);
		assert_int_equal(h->partners, HISTORY[i].partners);
	}
	assert_true(isnan(mf->provenance->history[0]->grad_norm));
	fedlead__model_file__free_unpacked(mf, NULL);
	free(buf);
	fl_model_free(m);
}

static void test_round_trip_is_exact(void **state)
{
	struct fl_model *m = make_model(), *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(fl_model_encode(m, &buf, &len), 0);
	assert_int_equal(fl_model_decode(buf, len, "m.flm", &back), 0);
	assert_models_identical(m, back);
	/* The decoded copy is independent of the buffer. */
	memset(buf, 0, len);
	free(buf);
	assert_doubles_identical(back->w, W, DIM);
	assert_string_equal(back->prov.participants[0], "acme");
	fl_model_free(back);
	fl_model_free(m);
}

static void test_round_trip_unset_provenance(void **state)
{
	struct fl_schema *s = parse_schema();
	struct fl_model *m = NULL, *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(fl_model_new(s, &m), 0);
	fl_schema_free(s);
	m->w[0] = -0.0; /* a sign bit survives the packed array */
	m->prov.pos_weight = 0;
	assert_int_equal(fl_model_encode(m, &buf, &len), 0);
	assert_int_equal(fl_model_decode(buf, len, "m.flm", &back), 0);
	assert_models_identical(m, back);
	assert_true(signbit(back->w[0]));
	assert_null(back->prov.solver);
	assert_null(back->prov.created);
	assert_null(back->prov.federation_id);
	assert_null(back->prov.participants);
	assert_null(back->prov.history);
	assert_int_equal(back->prov.n_history, 0);
	free(buf);
	fl_model_free(back);
	fl_model_free(m);
}

static void test_encode_refuses_unloadable_model(void **state)
{
	struct fl_model *m = make_model();
	uint8_t *buf = (uint8_t *)&buf;
	size_t len = 99;

	(void)state;
	m->w[1] = NAN;
	assert_int_equal(fl_model_encode(m, &buf, &len), FL_ERR_INVALID);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_string_equal(fl_errmsg(), "model: weight of column \"age\" is not finite (nan)");
	m->w[1] = 0;
	m->scaler->scale[1] = 0;
	assert_int_equal(fl_model_encode(m, &buf, &len), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "model: scale of column \"age\" must be positive (got 0)");
	m->scaler->scale[1] = 1;

	/* The history struct is public, so the encoder checks it again. */
	memset(m->prov.history[1].kind, 'k', sizeof(m->prov.history[1].kind));
	assert_int_equal(fl_model_encode(m, &buf, &len), FL_ERR_INVALID);
	assert_string_equal(
	        fl_errmsg(),
	        "model: history entry 1: kind is not a string of at most 15 characters");
	strcpy(m->prov.history[1].kind, "fedavg");
	/* Refused from the count alone, before the entries are read. */
	m->prov.n_history = FL_MODEL_MAX_HISTORY + 1;
	assert_int_equal(fl_model_encode(m, &buf, &len), FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "model: 1000001 history entries (limit 1000000)");
	m->prov.n_history = NHIST;
	assert_int_equal(fl_model_encode(m, &buf, &len), 0);
	free(buf);
	fl_model_free(m);
}

/* ---- refusing bad files ------------------------------------------------ */

static void test_every_single_byte_flip_is_refused(void **state)
{
	static const uint8_t masks[] = {0x01, 0x10, 0x80, 0xff};
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	encode_model(&buf, &len);
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof(masks); k++) {
			struct fl_model *m = (struct fl_model *)&m;

			buf[i] ^= masks[k];
			if (fl_model_decode(buf, len, "flip", &m) != FL_ERR_MODEL || m != NULL)
				fail_msg("flipping byte %zu with 0x%02x was not refused", i,
				         masks[k]);
			assert_memory_equal(fl_errmsg(), "flip: ", 6);
			buf[i] ^= masks[k];
		}
	}
	/* The exact messages for the three parts of the file. */
	buf[3] ^= 0x20;
	assert_refused(buf, len, "m.flm: not a fedlead model file");
	buf[3] ^= 0x20;
	buf[40] ^= 0x01;
	assert_refused(buf, len, "m.flm: model file is corrupt (checksum mismatch)");
	buf[40] ^= 0x01;
	buf[len - 1] ^= 0x01;
	assert_refused(buf, len, "m.flm: model file is corrupt (checksum mismatch)");
	buf[len - 1] ^= 0x01;
	free(buf);
}

static void test_truncated_and_oversized(void **state)
{
	const size_t cuts_short[] = {0, 1, 7, 8, 11};
	uint8_t *buf = NULL, *longer;
	size_t len = 0;
	char msg[128];

	(void)state;
	encode_model(&buf, &len);
	/* Too short to say how long it should be. */
	for (size_t i = 0; i < sizeof(cuts_short) / sizeof(cuts_short[0]); i++) {
		snprintf(msg, sizeof(msg),
		         "m.flm: truncated model file (%zu bytes, expected at least 44)",
		         cuts_short[i]);
		assert_refused(buf, cuts_short[i], msg);
	}
	/* The header says how long: the full length of the encoding. */
	const size_t cuts[] = {12, 13, 44, len / 2, len - 33, len - 32, len - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		snprintf(msg, sizeof(msg), "m.flm: truncated model file (%zu bytes, expected %zu)",
		         cuts[i], len);
		assert_refused(buf, cuts[i], msg);
	}
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, buf, len);
	longer[len] = '\n';
	snprintf(msg, sizeof(msg), "m.flm: trailing data after the model (%zu bytes, expected %zu)",
	         len + 1, len);
	assert_refused(longer, len + 1, msg);

	/* A length over the limit is refused from the header alone. */
	memcpy(longer, "FLMODEL\n\x10\x00\x00\x01", 12);
	assert_refused(longer, len,
	               "m.flm: model payload of 268435457 bytes exceeds the limit of 268435456 "
	               "bytes");
	free(longer);
	assert_refused((const uint8_t *)"{\"weights\": [1, 2, 3]}", 22,
	               "m.flm: not a fedlead model file");
	assert_refused((const uint8_t *)"{\n", 2, "m.flm: not a fedlead model file");
	assert_refused((const uint8_t *)"FL", 2,
	               "m.flm: truncated model file (2 bytes, expected at least 44)");
	free(buf);
}

static void test_unknown_major_version(void **state)
{
	Fedlead__ModelFile *mf;
	struct fl_model *m = NULL;
	uint8_t *buf = NULL, *bad;
	size_t len = 0, blen = 0;

	(void)state;
	encode_model(&buf, &len);
	mf = unpack(buf, len);
	mf->format_major = 2;
	bad = repack(mf, &blen);
	assert_refused(bad, blen, "m.flm: model format 2.x is not supported by this fedlead (1.x)");
	free(bad);

	/* A newer minor version of format 1 only adds fields: it loads. */
	mf = unpack(buf, len);
	mf->format_minor = 7;
	bad = repack(mf, &blen);
	assert_int_equal(fl_model_decode(bad, blen, "m.flm", &m), 0);
	assert_doubles_identical(m->w, W, DIM);
	fl_model_free(m);
	free(bad);
	free(buf);
}

static void test_fingerprint_mismatch(void **state)
{
	Fedlead__ModelFile *mf;
	uint8_t *buf = NULL, *bad;
	size_t len = 0, blen = 0;
	char *south;

	(void)state;
	encode_model(&buf, &len);

	/* The recorded fingerprint altered. */
	mf = unpack(buf, len);
	mf->schema_fingerprint.data[17] ^= 0x04;
	bad = repack(mf, &blen);
	assert_refused(bad, blen,
	               "m.flm: schema fingerprint mismatch: the embedded schema does not match the "
	               "recorded fingerprint");
	free(bad);

	/* The schema altered (a category renamed) under the old fingerprint. */
	mf = unpack(buf, len);
	south = strstr(mf->schema_json, "south");
	assert_non_null(south);
	south[1] = 'a';
	bad = repack(mf, &blen);
	assert_refused(bad, blen,
	               "m.flm: schema fingerprint mismatch: the embedded schema does not match the "
	               "recorded fingerprint");
	free(bad);

	mf = unpack(buf, len);
	mf->schema_fingerprint.len = 31;
	bad = repack(mf, &blen);
	assert_refused(bad, blen, "m.flm: schema fingerprint has 31 bytes, expected 32");
	free(bad);
	free(buf);
}

static void test_bad_numbers_refused(void **state)
{
	Fedlead__ModelFile *mf;
	uint8_t *buf = NULL, *bad;
	size_t len = 0, blen = 0;

	(void)state;
	encode_model(&buf, &len);

	mf = unpack(buf, len);
	mf->weights[3] = NAN;
	bad = repack(mf, &blen);
	assert_refused(bad, blen, "m.flm: weight of column \"region=north\" is not finite (nan)");
	free(bad);

	mf = unpack(buf, len);
	mf->weights[0] = -INFINITY;
	bad = repack(mf, &blen);
	assert_refused(bad, blen, "m.flm: weight of column \"(intercept)\" is not finite (-inf)");
	free(bad);

	mf = unpack(buf, len);
	mf->center[1] = INFINITY;
	bad = repack(mf, &blen);
	assert_refused(bad, blen, "m.flm: center of column \"age\" is not finite (inf)");
	free(bad);

	mf = unpack(buf, len);
	mf->scale[1] = 0;
	bad = repack(mf, &blen);
	assert_refused(bad, blen, "m.flm: scale of column \"age\" must be positive (got 0)");
	free(bad);

	mf = unpack(buf, len);
	mf->scale[5] = -2;
	bad = repack(mf, &blen);
	assert_refused(bad, blen,
	               "m.flm: scale of column \"region=(other)\" must be positive (got -2)");
	free(bad);

	mf = unpack(buf, len);
	mf->impute[2] = NAN;
	bad = repack(mf, &blen);
	assert_refused(bad, blen, "m.flm: impute of column \"age (missing)\" is not finite (nan)");
	free(bad);
	free(buf);
}

static void test_vector_lengths_must_match_schema(void **state)
{
	Fedlead__ModelFile *mf;
	uint8_t *buf = NULL, *bad;
	size_t len = 0, blen = 0;

	(void)state;
	encode_model(&buf, &len);

	mf = unpack(buf, len);
	mf->n_weights = 5;
	bad = repack(mf, &blen);
	assert_refused(bad, blen, "m.flm: model has 5 weight values but its schema has 6 columns");
	free(bad);

	/* One value too many is as wrong as one too few. */
	mf = unpack(buf, len);
	{
		double *seven = calloc(DIM + 1, sizeof(double));

		assert_non_null(seven);
		for (size_t j = 0; j <= DIM; j++)
			seven[j] = 1;
		free(mf->scale);
		mf->scale = seven; /* freed with the message */
		mf->n_scale = DIM + 1;
	}
	bad = repack(mf, &blen);
	assert_refused(bad, blen, "m.flm: model has 7 scale values but its schema has 6 columns");
	free(bad);

	mf = unpack(buf, len);
	mf->n_baseline = 0;
	bad = repack(mf, &blen);
	assert_refused(bad, blen,
	               "m.flm: model has 0 baseline values but its schema has 6 columns");
	free(bad);
	free(buf);
}

static void test_malformed_payload_behind_valid_checksum(void **state)
{
	/* Field 3 (schema_json) claims 16 bytes and has 1. */
	static const uint8_t junk[] = {0x1a, 0x10, 'a'};
	Fedlead__ModelFile *mf;
	uint8_t *buf = NULL, *bad;
	size_t len = 0, blen = 0;

	(void)state;
	bad = frame(junk, sizeof(junk), &blen);
	assert_refused(bad, blen, "m.flm: model payload is not a valid ModelFile message");
	free(bad);

	/* An empty payload is a message with every field unset: format 0. */
	bad = frame(NULL, 0, &blen);
	assert_refused(bad, blen, "m.flm: model format 0.x is not supported by this fedlead (1.x)");
	free(bad);

	/* An embedded schema that is not a schema: the schema module's
	 * message, reported as a model error about this file. */
	encode_model(&buf, &len);
	mf = unpack(buf, len);
	mf->schema_json[0] = '[';
	bad = repack(mf, &blen);
	{
		struct fl_model *m = NULL;
		const char *prefix = "m.flm: embedded schema";

		assert_int_equal(fl_model_decode(bad, blen, "m.flm", &m), FL_ERR_MODEL);
		assert_null(m);
		assert_memory_equal(fl_errmsg(), prefix, strlen(prefix));
	}
	free(bad);
	free(buf);
}

static void test_history_checked_on_decode(void **state)
{
	static const Fedlead__RoundLog init = FEDLEAD__ROUND_LOG__INIT;
	Fedlead__ModelFile *mf;
	Fedlead__Provenance *pv;
	struct fl_model *m = NULL;
	uint8_t *buf = NULL, *bad;
	size_t len = 0, blen = 0, n;

	(void)state;
	encode_model(&buf, &len);

	/* A kind of 16 bytes does not fit struct fl_round_log; 15 do. */
	mf = unpack(buf, len);
	free(mf->provenance->history[2]->kind);
	mf->provenance->history[2]->kind = strdup("abcdefghijklmnop");
	bad = repack(mf, &blen);
	assert_refused(bad, blen, "m.flm: history entry 2 has a kind of 16 bytes (at most 15)");
	free(bad);
	mf = unpack(buf, len);
	free(mf->provenance->history[2]->kind);
	mf->provenance->history[2]->kind = strdup("abcdefghijklmno");
	bad = repack(mf, &blen);
	assert_int_equal(fl_model_decode(bad, blen, "m.flm", &m), 0);
	assert_string_equal(m->prov.history[2].kind, "abcdefghijklmno");
	assert_round_logs_identical(m->prov.history, HISTORY, 2);
	fl_model_free(m);
	free(bad);

	/* One entry past the limit is refused, the limit itself loads. The
	 * added entries are empty messages: round 0, kind "". */
	mf = unpack(buf, len);
	pv = mf->provenance;
	n = FL_MODEL_MAX_HISTORY + 1;
	pv->history = realloc(pv->history, n * sizeof(*pv->history));
	assert_non_null(pv->history);
	for (size_t i = NHIST; i < n; i++) {
		pv->history[i] = malloc(sizeof(**pv->history));
		assert_non_null(pv->history[i]);
		*pv->history[i] = init;
	}
	pv->n_history = n;
	{
		size_t plen = fedlead__model_file__get_packed_size(mf);
		uint8_t *p = malloc(plen);

		assert_non_null(p);
		assert_int_equal(fedlead__model_file__pack(mf, p), plen);
		bad = frame(p, plen, &blen);
		assert_refused(bad, blen,
		               "m.flm: model has 1000001 history entries (limit 1000000)");
		free(bad);

		free(pv->history[n - 1]);
		pv->n_history = n - 1;
		plen = fedlead__model_file__get_packed_size(mf);
		assert_int_equal(fedlead__model_file__pack(mf, p), plen);
		bad = frame(p, plen, &blen);
		free(p);
	}
	fedlead__model_file__free_unpacked(mf, NULL);
	assert_int_equal(fl_model_decode(bad, blen, "m.flm", &m), 0);
	assert_int_equal(m->prov.n_history, 1000000);
	assert_round_logs_identical(m->prov.history, HISTORY, NHIST);
	assert_int_equal(m->prov.history[999999].round, 0);
	assert_string_equal(m->prov.history[999999].kind, "");
	fl_model_free(m);
	free(bad);
	free(buf);
}

/* ---- the signature trailer --------------------------------------------- */

/*
 * The trailer of include/fedlead/modelsign.h after a model file: the magic,
 * the length claimed (which tests may make disagree with the block) and the
 * block.
 */
static uint8_t *add_trailer(const uint8_t *model, size_t mlen, uint32_t claimed,
                            const uint8_t *block, size_t n, size_t *len)
{
	uint8_t *b = malloc(mlen + 12 + n);

	assert_non_null(b);
	memcpy(b, model, mlen);
	memcpy(b + mlen, "FLSIGN1\n", 8);
	b[mlen + 8] = (uint8_t)(claimed >> 24);
	b[mlen + 9] = (uint8_t)(claimed >> 16);
	b[mlen + 10] = (uint8_t)(claimed >> 8);
	b[mlen + 11] = (uint8_t)claimed;
	if (n > 0)
		memcpy(b + mlen + 12, block, n);
	*len = mlen + 12 + n;
	return b;
}

static const uint8_t BLOCK[] = "not a signature, and the decoder does not care";
#define BLOCK_LEN (sizeof(BLOCK) - 1)

static void test_signed_file_decodes(void **state)
{
	struct fl_model *m = make_model(), *back = NULL;
	uint8_t *buf = NULL, *sgn;
	const uint8_t *sig = (const uint8_t *)&sig;
	size_t len = 0, slen = 0, mlen = 99, siglen = 99;

	(void)state;
	assert_int_equal(fl_model_encode(m, &buf, &len), 0);
	sgn = add_trailer(buf, len, BLOCK_LEN, BLOCK, BLOCK_LEN, &slen);
	assert_int_equal(fl_model_decode(sgn, slen, "m.flm", &back), 0);
	assert_models_identical(m, back);
	fl_model_free(back);

	assert_int_equal(fl_model_file_split(sgn, slen, &mlen, &sig, &siglen), 0);
	assert_int_equal(mlen, len);
	assert_ptr_equal(sig, sgn + len + 12);
	assert_int_equal(siglen, BLOCK_LEN);
	assert_int_equal(fl_model_file_split(buf, len, &mlen, &sig, &siglen), 0);
	assert_int_equal(mlen, len);
	assert_null(sig);
	assert_int_equal(siglen, 0);

	/* The block's content is not the decoder's business... */
	for (size_t i = len + 12; i < slen; i++) {
		sgn[i] ^= 0xff;
		assert_int_equal(fl_model_decode(sgn, slen, "m.flm", &back), 0);
		fl_model_free(back);
		sgn[i] ^= 0xff;
	}
	/* ...but the model in front of it still has its checksum. */
	sgn[len / 2] ^= 0x01;
	assert_refused(sgn, slen, "m.flm: model file is corrupt (checksum mismatch)");
	free(sgn);

	/* A block of exactly the limit. */
	{
		uint8_t *big = calloc(FL_MODEL_SIG_MAX, 1);

		assert_non_null(big);
		sgn = add_trailer(buf, len, FL_MODEL_SIG_MAX, big, FL_MODEL_SIG_MAX, &slen);
		free(big);
		assert_int_equal(fl_model_decode(sgn, slen, "m.flm", &back), 0);
		fl_model_free(back);
		assert_int_equal(fl_model_file_split(sgn, slen, &mlen, &sig, &siglen), 0);
		assert_int_equal(siglen, 1048576);
		free(sgn);
	}
	free(buf);
	fl_model_free(m);
}

static void test_damaged_trailer_refused(void **state)
{
	uint8_t *buf = NULL, *sgn;
	const uint8_t *sig = (const uint8_t *)&sig;
	size_t len = 0, slen = 0, mlen = 99, siglen = 99;
	char msg[160];

	(void)state;
	encode_model(&buf, &len);
	sgn = add_trailer(buf, len, BLOCK_LEN, BLOCK, BLOCK_LEN, &slen);

	/* Cut inside the magic or the length: the length is unknown. */
	for (size_t cut = len + 1; cut < len + 12; cut++) {
		snprintf(msg, sizeof(msg),
		         "m.flm: truncated signature (%zu bytes, expected at least %zu)", cut,
		         len + 12);
		assert_refused(sgn, cut, msg);
	}
	/* Cut inside the block. */
	for (size_t cut = len + 12; cut < slen; cut++) {
		snprintf(msg, sizeof(msg), "m.flm: truncated signature (%zu bytes, expected %zu)",
		         cut, slen);
		assert_refused(sgn, cut, msg);
	}
	free(sgn);

	/* One byte more than the length says. */
	{
		uint8_t block[BLOCK_LEN + 1];

		memcpy(block, BLOCK, BLOCK_LEN);
		block[BLOCK_LEN] = 'x';
		sgn = add_trailer(buf, len, BLOCK_LEN, block, sizeof(block), &slen);
		snprintf(msg, sizeof(msg),
		         "m.flm: trailing data after the signature (%zu bytes, expected %zu)",
		         len + 12 + BLOCK_LEN + 1, len + 12 + BLOCK_LEN);
		assert_refused(sgn, slen, msg);
		free(sgn);
	}

	sgn = add_trailer(buf, len, 0, NULL, 0, &slen);
	assert_refused(sgn, slen, "m.flm: empty signature block");
	free(sgn);

	/* Over the limit: refused from the length alone. */
	sgn = add_trailer(buf, len, FL_MODEL_SIG_MAX + 1, BLOCK, BLOCK_LEN, &slen);
	assert_refused(
	        sgn, slen,
	        "m.flm: signature block of 1048577 bytes exceeds the limit of 1048576 bytes");
	free(sgn);
	sgn = add_trailer(buf, len, 0xffffffffu, BLOCK, BLOCK_LEN, &slen);
	assert_refused(sgn, slen,
	               "m.flm: signature block of 4294967295 bytes exceeds the limit of 1048576 "
	               "bytes");
	free(sgn);

	/* Anything after the checksum that is not the trailer magic is still
	 * trailing data, whatever follows it. */
	sgn = add_trailer(buf, len, BLOCK_LEN, BLOCK, BLOCK_LEN, &slen);
	sgn[len + 6] = '2'; /* "FLSIGN2\n" */
	snprintf(msg, sizeof(msg), "m.flm: trailing data after the model (%zu bytes, expected %zu)",
	         slen, len);
	assert_refused(sgn, slen, msg);
	sgn[len + 6] = '1';
	sgn[len] = 'f';
	assert_refused(sgn, slen, msg);

	/* fl_model_file_split() checks the same framing, names the file "model"
	 * and leaves its outputs empty on failure. */
	sgn[len] = 'F';
	sgn[len + 11] = (uint8_t)(BLOCK_LEN - 1); /* one byte short (BLOCK_LEN < 256) */
	assert_int_equal(fl_model_file_split(sgn, slen, &mlen, &sig, &siglen), FL_ERR_MODEL);
	snprintf(msg, sizeof(msg),
	         "model: trailing data after the signature (%zu bytes, expected %zu)", slen,
	         slen - 1);
	assert_string_equal(fl_errmsg(), msg);
	assert_int_equal(mlen, 0);
	assert_null(sig);
	assert_int_equal(siglen, 0);
	assert_int_equal(fl_model_file_split((const uint8_t *)"FLMODEL\n", 8, &mlen, &sig, &siglen),
	                 FL_ERR_MODEL);
	assert_string_equal(fl_errmsg(),
	                    "model: truncated model file (8 bytes, expected at least 44)");
	/* The split does not read the checksum: that is the decoder's job. */
	sgn[len + 11] = (uint8_t)BLOCK_LEN;
	sgn[20] ^= 0x01;
	assert_int_equal(fl_model_file_split(sgn, slen, &mlen, &sig, &siglen), 0);
	assert_int_equal(mlen, len);
	assert_int_equal(siglen, BLOCK_LEN);
	free(sgn);
	free(buf);
}

/* ---- files ------------------------------------------------------------- */

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void test_save_and_load(void **state)
{
	char dir[] = "/tmp/fl_model_test_XXXXXX";
	char path[256], missing[256], msg[512];
	struct fl_model *m = make_model(), *back = NULL;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/lead.flm", dir);
	assert_int_equal(fl_model_save(m, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(count_entries(dir), 1); /* no temporary file left */
	assert_int_equal(fl_model_load(path, &back), 0);
	assert_models_identical(m, back);
	fl_model_free(back);

	/* Saving again replaces the file. */
	m->w[2] = 42.0;
	assert_int_equal(fl_model_save(m, path), 0);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(fl_model_load(path, &back), 0);
	assert_true(back->w[2] == 42.0);
	fl_model_free(back);

	/* A model that cannot be encoded leaves the old file alone. */
	m->w[2] = NAN;
	assert_int_equal(fl_model_save(m, path), FL_ERR_INVALID);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(fl_model_load(path, &back), 0);
	assert_true(back->w[2] == 42.0);
	fl_model_free(back);
	m->w[2] = 1;

	snprintf(missing, sizeof(missing), "%s/no/such/dir/lead.flm", dir);
	assert_int_equal(fl_model_save(m, missing), FL_ERR_IO);
	snprintf(msg, sizeof(msg),
	         "%s: cannot save the model (create temporary file): No such file or directory",
	         missing);
	assert_string_equal(fl_errmsg(), msg);

	back = (struct fl_model *)&back;
	assert_int_equal(fl_model_load(missing, &back), FL_ERR_IO);
	assert_null(back);
	snprintf(msg, sizeof(msg), "%s: cannot open: No such file or directory", missing);
	assert_string_equal(fl_errmsg(), msg);

	assert_int_equal(fl_model_load(dir, &back), FL_ERR_IO);
	snprintf(msg, sizeof(msg), "%s: not a regular file", dir);
	assert_string_equal(fl_errmsg(), msg);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	fl_model_free(m);
}

/* Failures after the temporary file exists remove it and keep the old model. */
static void test_save_failure_cleans_up(void **state)
{
	char dir[] = "/tmp/fl_model_fail_XXXXXX";
	char path[256], sub[256], msg[512];
	struct fl_model *m = make_model(), *back = NULL;
	struct rlimit old, small;
	void (*old_handler)(int);

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/lead.flm", dir);
	assert_int_equal(fl_model_save(m, path), 0);

	/* rename() onto a directory fails. */
	snprintf(sub, sizeof(sub), "%s/taken", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(fl_model_save(m, sub), FL_ERR_IO);
	snprintf(msg, sizeof(msg), "%s: cannot save the model (rename): Is a directory", sub);
	assert_string_equal(fl_errmsg(), msg);
	assert_int_equal(count_entries(dir), 2); /* lead.flm and taken/ */
	assert_int_equal(rmdir(sub), 0);

	/* A write cut short by the file size limit (a full disk, in effect). */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 100;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	m->w[2] = 7;
	assert_int_equal(fl_model_save(m, path), FL_ERR_IO);
	snprintf(msg, sizeof(msg), "%s: cannot save the model (write): File too large", path);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);
	assert_string_equal(fl_errmsg(), msg);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(fl_model_load(path, &back), 0);
	assert_doubles_identical(&back->w[2], &W[2], 1);
	fl_model_free(back);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	fl_model_free(m);
}

static void test_write_and_read_file(void **state)
{
	static const uint8_t bytes[] = "any bytes at all\0\xff";
	char dir[] = "/tmp/fl_model_raw_XXXXXX";
	char path[256], sub[256], msg[512];
	uint8_t *buf = (uint8_t *)&buf, *enc = NULL, *sgn;
	size_t len = 99, elen = 0, slen = 0;
	struct fl_model *m = NULL;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/raw.bin", dir);
	assert_int_equal(fl_model_write_file(path, bytes, sizeof(bytes)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(fl_model_read_file(path, &buf, &len), 0);
	assert_int_equal(len, sizeof(bytes));
	assert_memory_equal(buf, bytes, sizeof(bytes));
	free(buf);

	/* Empty files are files too. */
	assert_int_equal(fl_model_write_file(path, NULL, 0), 0);
	assert_int_equal(fl_model_read_file(path, &buf, &len), 0);
	assert_int_equal(len, 0);
	free(buf);

	/* A signed file, written raw, loads as a model. */
	encode_model(&enc, &elen);
	sgn = add_trailer(enc, elen, BLOCK_LEN, BLOCK, BLOCK_LEN, &slen);
	assert_int_equal(fl_model_write_file(path, sgn, slen), 0);
	assert_int_equal(fl_model_load(path, &m), 0);
	assert_doubles_identical(m->w, W, DIM);
	fl_model_free(m);
	free(sgn);
	free(enc);

	/* The same messages as saving and loading a model. */
	snprintf(sub, sizeof(sub), "%s/taken", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(fl_model_write_file(sub, bytes, sizeof(bytes)), FL_ERR_IO);
	snprintf(msg, sizeof(msg), "%s: cannot save the model (rename): Is a directory", sub);
	assert_string_equal(fl_errmsg(), msg);
	assert_int_equal(count_entries(dir), 2);
	buf = (uint8_t *)&buf;
	len = 99;
	assert_int_equal(fl_model_read_file(sub, &buf, &len), FL_ERR_IO);
	assert_null(buf);
	assert_int_equal(len, 0);
	snprintf(msg, sizeof(msg), "%s: not a regular file", sub);
	assert_string_equal(fl_errmsg(), msg);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(fl_model_read_file(sub, &buf, &len), FL_ERR_IO);
	snprintf(msg, sizeof(msg), "%s: cannot open: No such file or directory", sub);
	assert_string_equal(fl_errmsg(), msg);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/*
 * The largest well-formed file is 12 + 268435456 + 32 bytes of model and
 * 12 + 1048576 of trailer: 269484088 bytes. Sparse files of that size and one
 * byte more cost no disk.
 */
static void test_read_size_limit(void **state)
{
	char path[] = "/tmp/fl_model_big_XXXXXX";
	char msg[512];
	uint8_t *buf = (uint8_t *)&buf;
	size_t len = 99;
	struct fl_model *m = (struct fl_model *)&m;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 269484089), 0);
	close(fd);
	assert_int_equal(fl_model_read_file(path, &buf, &len), FL_ERR_MODEL);
	assert_null(buf);
	assert_int_equal(len, 0);
	snprintf(msg, sizeof(msg),
	         "%s: model file of 269484089 bytes exceeds the limit of 269484088 bytes", path);
	assert_string_equal(fl_errmsg(), msg);
	assert_int_equal(fl_model_load(path, &m), FL_ERR_MODEL);
	assert_null(m);
	assert_string_equal(fl_errmsg(), msg);

	/* At the limit the file is read, and its zeros are not a model. */
	assert_int_equal(truncate(path, 269484088), 0);
	assert_int_equal(fl_model_read_file(path, &buf, &len), 0);
	assert_int_equal(len, 269484088);
	assert_true(buf[0] == 0 && buf[len - 1] == 0);
	free(buf);
	assert_int_equal(fl_model_load(path, &m), FL_ERR_MODEL);
	snprintf(msg, sizeof(msg), "%s: not a fedlead model file", path);
	assert_string_equal(fl_errmsg(), msg);
	unlink(path);
}

static void test_load_reports_path(void **state)
{
	char path[] = "/tmp/fl_model_trunc_XXXXXX";
	char msg[512];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct fl_model *m = NULL;
	int fd;

	(void)state;
	encode_model(&buf, &len);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, 100), 100);
	close(fd);
	assert_int_equal(fl_model_load(path, &m), FL_ERR_MODEL);
	assert_null(m);
	snprintf(msg, sizeof(msg), "%s: truncated model file (100 bytes, expected %zu)", path, len);
	assert_string_equal(fl_errmsg(), msg);
	unlink(path);
	free(buf);
}

/*
 * tests/data/model/format-1.0.flm was written by make_format_1_0.py next to
 * it, from the format description alone. Every release must keep reading it.
 */
static void test_golden_format_1_0(void **state)
{
	static const double w[DIM] = {-2.5, 0.1, -0.75, 1.0, -1.0, 0.5};
	static const double center[DIM] = {0, 40, 0, 0, 0, 0};
	static const double scale[DIM] = {1, 12.5, 1, 1, 1, 1};
	static const double baseline[DIM] = {1, 0, 0.25, 0.5, 0.375, 0.125};
	struct fl_schema *s = parse_schema();
	struct fl_model *m = NULL;
	const struct fl_provenance *p;
	FILE *fp;
	uint8_t file[2048], *again = NULL;
	size_t flen, alen = 0;

	(void)state;
	assert_int_equal(fl_model_load(FL_TEST_DATA "/model/format-1.0.flm", &m), 0);
	assert_int_equal(m->dim, DIM);
	assert_memory_equal(m->schema->fingerprint, s->fingerprint, FL_FINGERPRINT_LEN);
	assert_doubles_identical(m->w, w, DIM);
	assert_doubles_identical(m->scaler->center, center, DIM);
	assert_doubles_identical(m->scaler->scale, scale, DIM);
	assert_doubles_identical(m->scaler->baseline, baseline, DIM);
	assert_doubles_identical(m->scaler->impute, center, DIM);
	p = &m->prov;
	assert_string_equal(p->solver, "fedavg");
	assert_true(p->l2 == 0.01);
	assert_true(p->pos_weight == 1.0);
	assert_int_equal(p->rows, 1000);
	assert_int_equal(p->positives, 60);
	assert_int_equal(p->iterations, 7);
	assert_true(p->final_loss == 0.2);
	assert_true(p->grad_norm == 1e-9);
	assert_int_equal(p->train.rows, 1000);
	assert_int_equal(p->train.positives, 60);
	assert_true(p->train.auc == 0.75);
	assert_true(p->train.log_loss == 0.2);
	assert_int_equal(p->valid.rows, 250);
	assert_int_equal(p->valid.positives, 15);
	assert_true(p->valid.auc == 0.7);
	assert_true(p->valid.log_loss == 0.21);
	assert_string_equal(p->created, "2024-01-02T03:04:05Z");
	assert_string_equal(p->tool_version, "0.1.0");
	assert_string_equal(p->federation_id, "fed-demo");
	assert_int_equal(p->rounds, 12);
	assert_int_equal(p->n_participants, 2);
	assert_string_equal(p->participants[0], "acme");
	assert_string_equal(p->participants[1], "globex");

	/* A 1.0 file does not say whether differential privacy was used. */
	assert_null(p->privacy);
	assert_int_equal(m->format_minor, 0);
	{
		char dp[256];

		fl_model_privacy_text(m, dp, sizeof(dp));
		assert_string_equal(dp, "differential privacy not recorded (model format 1.0)");
	}

	/* Re-encoding writes format 1.2. By the protobuf rules the payload
	 * differs from the 1.0 writer's in one field only: format_minor = 2 is
	 * now set, two bytes (tag 0x10, value 0x02) right after format_major
	 * (0x08 0x01); an empty history and no privacy record add nothing.
	 * Length and checksum follow from the payload (frame() above). */
	fp = fopen(FL_TEST_DATA "/model/format-1.0.flm", "rb");
	assert_non_null(fp);
	flen = fread(file, 1, sizeof(file), fp);
	fclose(fp);
	assert_true(flen > 44 && flen < sizeof(file));
	assert_memory_equal(file + 12, "\x08\x01\x1a", 3);
	{
		uint8_t payload[2048], *expect;
		size_t plen = flen - 44, elen = 0;

		memcpy(payload, file + 12, 2);
		memcpy(payload + 2, "\x10\x02", 2);
		memcpy(payload + 4, file + 14, plen - 2);
		expect = frame(payload, plen + 2, &elen);
		assert_int_equal(fl_model_encode(m, &again, &alen), 0);
		assert_int_equal(alen, elen);
		assert_memory_equal(again, expect, elen);
		free(expect);
	}
	free(again);
	fl_model_free(m);
	fl_schema_free(s);
}

/*
 * tests/data/model/format-1.1.flm: the 1.0 golden model plus a round
 * history, written by make_format_1_1.py from the format description.
 */
static void test_golden_format_1_1(void **state)
{
	struct fl_model *m = NULL;
	const struct fl_round_log *h;
	FILE *fp;
	uint8_t file[2048], *again = NULL;
	size_t flen, alen = 0;

	(void)state;
	assert_int_equal(fl_model_load(FL_TEST_DATA "/model/format-1.1.flm", &m), 0);
	assert_int_equal(m->dim, DIM);
	assert_true(m->w[0] == -2.5);
	assert_string_equal(m->prov.solver, "fedavg");
	assert_int_equal(m->prov.rounds, 12);
	assert_int_equal(m->prov.n_participants, 2);
	assert_string_equal(m->prov.participants[1], "globex");
	assert_int_equal(m->prov.n_history, 3);
	h = m->prov.history;
	assert_int_equal(h[0].round, 1);
	assert_string_equal(h[0].kind, "stats");
	assert_true(h[0].l2 == 0);
	assert_true(isnan(h[0].train_loss) && isnan(h[0].grad_norm));
	assert_true(isnan(h[0].valid_log_loss) && isnan(h[0].valid_auc));
	assert_int_equal(h[0].partners, 2);
	assert_int_equal(h[1].round, 2);
	assert_string_equal(h[1].kind, "fedavg");
	assert_true(h[1].l2 == 0.01);
	assert_true(h[1].train_loss == 0.25);
	assert_true(h[1].grad_norm == 0.5);
	assert_true(h[1].valid_log_loss == 0.3);
	assert_true(h[1].valid_auc == 0.625);
	assert_int_equal(h[1].partners, 2);
	assert_int_equal(h[2].round, 12);
	assert_string_equal(h[2].kind, "final");
	assert_true(h[2].l2 == 0.01);
	assert_true(h[2].train_loss == 0.2);
	assert_true(h[2].grad_norm == 1e-9);
	assert_true(h[2].valid_log_loss == 0.21);
	assert_true(h[2].valid_auc == 0.7);
	assert_int_equal(h[2].partners, 2);

	assert_null(m->prov.privacy);
	assert_int_equal(m->format_minor, 1);
	{
		char dp[256];

		fl_model_privacy_text(m, dp, sizeof(dp));
		assert_string_equal(dp, "differential privacy not recorded (model format 1.1)");
	}

	/* A format 1.2 writer produces these very bytes but for format_minor
	 * (fields in number order, unset scalars omitted, NaN kept, no
	 * privacy record): 0x10 0x01 becomes 0x10 0x02, and the checksum
	 * follows. */
	fp = fopen(FL_TEST_DATA "/model/format-1.1.flm", "rb");
	assert_non_null(fp);
	flen = fread(file, 1, sizeof(file), fp);
	fclose(fp);
	assert_true(flen > 44 && flen < sizeof(file));
	assert_memory_equal(file + 12, "\x08\x01\x10\x01", 4);
	{
		uint8_t *expect;
		size_t elen = 0;

		file[15] = 0x02;
		expect = frame(file + 12, flen - 44, &elen);
		assert_int_equal(fl_model_encode(m, &again, &alen), 0);
		assert_int_equal(alen, elen);
		assert_memory_equal(again, expect, elen);
		free(expect);
	}
	free(again);
	fl_model_free(m);
}

/*
 * tests/data/model/format-1.2.flm: the 1.1 golden model plus a privacy
 * record, written by make_format_1_2.py from the format description.
 */
static void test_golden_format_1_2(void **state)
{
	struct fl_model *m = NULL;
	const struct fl_dp_record *r;
	FILE *fp;
	uint8_t file[2048], *again = NULL;
	size_t flen, alen = 0;
	char dp[512];

	(void)state;
	assert_int_equal(fl_model_load(FL_TEST_DATA "/model/format-1.2.flm", &m), 0);
	assert_int_equal(m->format_minor, 2);
	assert_true(m->w[0] == -2.5);
	assert_int_equal(m->prov.n_history, 3);
	assert_string_equal(m->prov.history[2].kind, "final");
	r = m->prov.privacy;
	assert_non_null(r);
	assert_string_equal(r->mechanism, "distributed discrete Gaussian");
	assert_string_equal(r->accountant, "zCDP");
	assert_int_equal(r->releases, 4);
	assert_int_equal(r->threshold, 2);
	assert_int_equal(r->n_partners, 2);
	assert_string_equal(r->partners[0].partner, "acme");
	assert_true(r->partners[0].epsilon == 1.0 && r->partners[0].delta == 1e-6);
	assert_int_equal(r->partners[0].releases, 30);
	assert_true(r->partners[0].clip == 3.0 && r->partners[0].rho == 0.0126);
	assert_int_equal(r->partners[0].max_colluders, 1);
	assert_string_equal(r->partners[1].partner, "globex");
	assert_int_equal(r->partners[1].max_colluders, 0);
	fl_model_privacy_text(m, dp, sizeof(dp));
	assert_string_equal(dp, "trained with differential privacy: \xce\xb5 = 1, \xce\xb4 = "
	                        "10\xe2\x81\xbb\xe2\x81\xb6 per partner (distributed discrete "
	                        "Gaussian under secure aggregation, zCDP accountant, 4 of 30 "
	                        "releases, clip 3)");

	/* A format 1.2 writer produces these very bytes. Drop this half when
	 * the minor version moves on. */
	fp = fopen(FL_TEST_DATA "/model/format-1.2.flm", "rb");
	assert_non_null(fp);
	flen = fread(file, 1, sizeof(file), fp);
	fclose(fp);
	assert_true(flen < sizeof(file));
	assert_int_equal(fl_model_encode(m, &again, &alen), 0);
	assert_int_equal(alen, flen);
	assert_memory_equal(again, file, flen);
	free(again);
	fl_model_free(m);
}

/*
 * Format 1.2's privacy record: every field survives encoding and decoding,
 * the JSON view shows it, and the plain-words line says what a reader
 * needs, with plan v7's gradient clip (0.8 of the clip 3: 2.4 per lead). A
 * new model without a record was trained without differential privacy.
 */
static void test_privacy_round_trip(void **state)
{
	struct fl_model *m = make_model(), *back = NULL;
	struct fl_dp_partner parts[2] = {
	        {.partner = "acme",
	         .epsilon = 1,
	         .delta = 1e-6,
	         .releases = 30,
	         .clip = 3,
	         .max_colluders = 1,
	         .rho = 0.0126},
	        {.partner = "globex",
	         .epsilon = 1,
	         .delta = 1e-6,
	         .releases = 30,
	         .clip = 3,
	         .max_colluders = 0,
	         .rho = 0.0126},
	};
	struct fl_dp_record rec = {.mechanism = "distributed discrete Gaussian",
	                           .accountant = "zCDP",
	                           .releases = 4,
	                           .threshold = 2,
	                           .gradient_clip = 0.8,
	                           .partners = parts,
	                           .n_partners = 2};
	const struct fl_dp_record *r;
	char dp[512], *json = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	fl_model_privacy_text(m, dp, sizeof(dp));
	assert_string_equal(dp, "trained without differential privacy");
	assert_int_equal(fl_model_set_privacy(m, &rec), 0);
	parts[0].partner = "changed"; /* the model holds its own copy */
	assert_int_equal(fl_model_encode(m, &buf, &len), 0);
	assert_int_equal(fl_model_decode(buf, len, "m.flm", &back), 0);
	assert_int_equal(back->format_minor, 2);
	r = back->prov.privacy;
	assert_non_null(r);
	assert_string_equal(r->mechanism, "distributed discrete Gaussian");
	assert_string_equal(r->accountant, "zCDP");
	assert_int_equal(r->releases, 4);
	assert_int_equal(r->threshold, 2);
	assert_true(r->gradient_clip == 0.8);
	assert_int_equal(r->n_partners, 2);
	assert_string_equal(r->partners[0].partner, "acme");
	assert_string_equal(r->partners[1].partner, "globex");
	assert_true(r->partners[0].epsilon == 1 && r->partners[0].delta == 1e-6);
	assert_int_equal(r->partners[0].releases, 30);
	assert_true(r->partners[0].clip == 3 && r->partners[0].rho == 0.0126);
	assert_int_equal(r->partners[0].max_colluders, 1);
	assert_int_equal(r->partners[1].max_colluders, 0);
	fl_model_privacy_text(back, dp, sizeof(dp));
	assert_string_equal(dp, "trained with differential privacy: \xce\xb5 = 1, \xce\xb4 = "
	                        "10\xe2\x81\xbb\xe2\x81\xb6 per partner (distributed discrete "
	                        "Gaussian under secure aggregation, zCDP accountant, 4 of 30 "
	                        "releases, clip 3, each lead's gradient clipped to 2.4 in the "
	                        "evaluations without the Hessian)");
	assert_int_equal(fl_model_to_json(back, &json), 0);
	assert_non_null(strstr(json, "\"mechanism\": \"distributed discrete Gaussian\""));
	assert_non_null(strstr(json, "\"gradient_clip\": 0.80000000000000004"));
	assert_non_null(strstr(json, "\"partner\": \"globex\""));
	free(json);

	/* Partners whose terms differ are listed one by one; a delta that is
	 * not a power of ten keeps its mantissa. */
	back->prov.privacy->partners[1].epsilon = 2;
	back->prov.privacy->partners[1].delta = 2.5e-7;
	fl_model_privacy_text(back, dp, sizeof(dp));
	assert_string_equal(dp,
	                    "trained with differential privacy, per partner: acme \xce\xb5 = 1, "
	                    "\xce\xb4 = 10\xe2\x81\xbb\xe2\x81\xb6 (30 releases, clip 3); "
	                    "globex \xce\xb5 = 2, \xce\xb4 = 2.5 \xc3\x97 "
	                    "10\xe2\x81\xbb\xe2\x81\xb7 (30 releases, clip 3) (distributed "
	                    "discrete Gaussian under secure aggregation, zCDP accountant, 4 "
	                    "releases, each lead's gradient clipped to 0.8 of its partner's "
	                    "clip in the evaluations without the Hessian)");
	fl_model_free(back);
	back = NULL;
	free(buf);

	/* A record that cannot be true is refused with the file's name. */
	parts[0].partner = "acme";
	parts[1].delta = 1;
	assert_int_equal(fl_model_set_privacy(m, &rec), 0);
	assert_int_equal(fl_model_encode(m, &buf, &len), 0);
	assert_int_equal(fl_model_decode(buf, len, "m.flm", &back), FL_ERR_MODEL);
	assert_null(back);
	assert_string_equal(fl_errmsg(), "m.flm: privacy of partner 2: epsilon, delta, releases, "
	                                 "clip or rho out of range");
	free(buf);
	parts[1].delta = 1e-6;
	rec.gradient_clip = -0.8;
	assert_int_equal(fl_model_set_privacy(m, &rec), 0);
	assert_int_equal(fl_model_encode(m, &buf, &len), 0);
	assert_int_equal(fl_model_decode(buf, len, "m.flm", &back), FL_ERR_MODEL);
	assert_null(back);
	assert_string_equal(fl_errmsg(), "m.flm: privacy gradient clip -0.8 out of range");
	free(buf);

	/* Removing the record. */
	assert_int_equal(fl_model_set_privacy(m, NULL), 0);
	assert_null(m->prov.privacy);
	fl_model_free(m);
}

/* ---- JSON -------------------------------------------------------------- */

static double jnum(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_real(v));
	return json_real_value(v);
}

static void test_to_json(void **state)
{
	struct fl_model *m = make_model();
	json_t *root, *schema, *ws, *pv, *parts;
	json_error_t jerr;
	char fp[65];
	char *text = NULL;

	(void)state;
	assert_int_equal(fl_model_to_json(m, &text), 0);
	assert_non_null(strstr(text, "\n  \"")); /* indented by two */
	root = json_loads(text, 0, &jerr);
	assert_non_null(root);

	assert_string_equal(json_string_value(json_object_get(root, "format")), "1.2");
	fl_schema_fingerprint_hex(m->schema, fp);
	assert_string_equal(json_string_value(json_object_get(root, "schema_fingerprint")), fp);
	schema = json_loads(m->schema->canonical, 0, &jerr);
	assert_non_null(schema);
	assert_true(json_equal(json_object_get(root, "schema"), schema));
	json_decref(schema);
	assert_int_equal(json_integer_value(json_object_get(root, "dim")), DIM);

	ws = json_object_get(root, "weights");
	assert_true(json_is_array(ws));
	assert_int_equal(json_array_size(ws), DIM);
	for (size_t j = 0; j < DIM; j++) {
		json_t *e = json_array_get(ws, j);
		double v;

		assert_string_equal(json_string_value(json_object_get(e, "column")),
		                    column_names[j]);
		/* Printed with 17 digits, each number reads back bit for bit. */
		v = jnum(e, "weight");
		assert_doubles_identical(&v, &W[j], 1);
		v = jnum(e, "center");
		assert_doubles_identical(&v, &CENTER[j], 1);
		v = jnum(e, "scale");
		assert_doubles_identical(&v, &SCALE[j], 1);
		v = jnum(e, "baseline");
		assert_doubles_identical(&v, &BASELINE[j], 1);
		v = jnum(e, "impute");
		assert_doubles_identical(&v, &IMPUTE[j], 1);
	}

	pv = json_object_get(root, "provenance");
	assert_true(json_is_object(pv));
	assert_string_equal(json_string_value(json_object_get(pv, "solver")), "lbfgs");
	assert_true(jnum(pv, "l2") == 1e-3);
	assert_true(jnum(pv, "pos_weight") == 2.5);
	assert_int_equal(json_integer_value(json_object_get(pv, "rows")), 1000);
	assert_int_equal(json_integer_value(json_object_get(pv, "positives")), 125);
	assert_int_equal(json_integer_value(json_object_get(pv, "iterations")), 42);
	assert_true(jnum(pv, "final_loss") == 0.3333);
	assert_true(jnum(pv, "grad_norm") == 1e-7);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(pv, "train"), "rows")),
	                 800);
	assert_true(jnum(json_object_get(pv, "train"), "auc") == 0.8125);
	assert_true(jnum(json_object_get(pv, "valid"), "log_loss") == 0.43);
	assert_string_equal(json_string_value(json_object_get(pv, "created")),
	                    "2024-05-06T07:08:09Z");
	assert_string_equal(json_string_value(json_object_get(pv, "tool_version")), "0.1.0");
	assert_string_equal(json_string_value(json_object_get(pv, "federation_id")), "fed-1");
	assert_int_equal(json_integer_value(json_object_get(pv, "rounds")), 30);
	parts = json_object_get(pv, "participants");
	assert_int_equal(json_array_size(parts), 3);
	assert_string_equal(json_string_value(json_array_get(parts, 2)), "initech");
	{
		json_t *hist = json_object_get(pv, "history"), *e;

		assert_true(json_is_array(hist));
		assert_int_equal(json_array_size(hist), NHIST);
		/* Round 1 measured nothing: its NaNs are null. */
		e = json_array_get(hist, 0);
		assert_int_equal(json_object_size(e), 8);
		assert_int_equal(json_integer_value(json_object_get(e, "round")), 1);
		assert_string_equal(json_string_value(json_object_get(e, "kind")), "stats");
		assert_true(jnum(e, "l2") == 0);
		assert_true(json_is_null(json_object_get(e, "train_loss")));
		assert_true(json_is_null(json_object_get(e, "grad_norm")));
		assert_true(json_is_null(json_object_get(e, "valid_log_loss")));
		assert_true(json_is_null(json_object_get(e, "valid_auc")));
		assert_int_equal(json_integer_value(json_object_get(e, "partners")), 4);
		e = json_array_get(hist, 2);
		assert_int_equal(json_integer_value(json_object_get(e, "round")), 30);
		assert_string_equal(json_string_value(json_object_get(e, "kind")), "final");
		assert_true(jnum(e, "l2") == 1e-3);
		assert_true(jnum(e, "train_loss") == 0.3333);
		assert_true(jnum(e, "grad_norm") == 1e-7);
		assert_true(jnum(e, "valid_log_loss") == 0.43);
		assert_true(jnum(e, "valid_auc") == 0.79);
		assert_int_equal(json_integer_value(json_object_get(e, "partners")), 3);
	}
	json_decref(root);
	free(text);

	/* No validation, an undefined AUC and unset strings are null. */
	m->prov.valid.rows = 0;
	m->prov.train.auc = NAN;
	assert_int_equal(fl_model_set_str(&m->prov.created, NULL), 0);
	assert_int_equal(fl_model_to_json(m, &text), 0);
	root = json_loads(text, 0, &jerr);
	assert_non_null(root);
	pv = json_object_get(root, "provenance");
	assert_true(json_is_null(json_object_get(pv, "valid")));
	assert_true(json_is_null(json_object_get(json_object_get(pv, "train"), "auc")));
	assert_true(json_is_null(json_object_get(pv, "created")));
	assert_int_equal(json_array_size(json_object_get(pv, "history")), NHIST);
	json_decref(root);
	free(text);

	/* A local model has an empty history, not a missing one. */
	assert_int_equal(fl_model_set_history(m, NULL, 0), 0);
	assert_int_equal(fl_model_to_json(m, &text), 0);
	root = json_loads(text, 0, &jerr);
	assert_non_null(root);
	pv = json_object_get(root, "provenance");
	assert_true(json_is_array(json_object_get(pv, "history")));
	assert_int_equal(json_array_size(json_object_get(pv, "history")), 0);
	json_decref(root);
	free(text);
	fl_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_new_is_zero_with_identity_scaler),
	        cmocka_unit_test(test_set_str_and_participants),
	        cmocka_unit_test(test_set_history),
	        cmocka_unit_test(test_logit),
	        cmocka_unit_test(test_encode_layout),
	        cmocka_unit_test(test_round_trip_is_exact),
	        cmocka_unit_test(test_round_trip_unset_provenance),
	        cmocka_unit_test(test_encode_refuses_unloadable_model),
	        cmocka_unit_test(test_every_single_byte_flip_is_refused),
	        cmocka_unit_test(test_truncated_and_oversized),
	        cmocka_unit_test(test_unknown_major_version),
	        cmocka_unit_test(test_fingerprint_mismatch),
	        cmocka_unit_test(test_bad_numbers_refused),
	        cmocka_unit_test(test_vector_lengths_must_match_schema),
	        cmocka_unit_test(test_malformed_payload_behind_valid_checksum),
	        cmocka_unit_test(test_history_checked_on_decode),
	        cmocka_unit_test(test_signed_file_decodes),
	        cmocka_unit_test(test_damaged_trailer_refused),
	        cmocka_unit_test(test_save_and_load),
	        cmocka_unit_test(test_save_failure_cleans_up),
	        cmocka_unit_test(test_write_and_read_file),
	        cmocka_unit_test(test_read_size_limit),
	        cmocka_unit_test(test_load_reports_path),
	        cmocka_unit_test(test_golden_format_1_0),
	        cmocka_unit_test(test_golden_format_1_1),
	        cmocka_unit_test(test_golden_format_1_2),
	        cmocka_unit_test(test_privacy_round_trip),
	        cmocka_unit_test(test_to_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
