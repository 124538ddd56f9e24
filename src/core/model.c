/*
 * The model file: framing, protobuf payload, validation, atomic save and a
 * JSON view.
 *
 * Layout on disk (all sizes in bytes):
 *   0   8  magic "FLMODEL\n"
 *   8   4  payload length L, big-endian
 *   12  L  fedlead.ModelFile (proto/model.proto)
 *   12+L 32 SHA-256 of bytes [0, 12+L)
 * The checksum covers the header too, so a flipped length byte is caught
 * even when the resulting length happens to be consistent.
 *
 * A signed file goes on (include/fedlead/modelsign.h):
 *   44+L    8  magic "FLSIGN1\n"
 *   52+L    4  signature block length S, big-endian, 1 <= S <= FL_MODEL_SIG_MAX
 *   56+L    S  the signature block (read by src/modelsign.c only)
 * Decoding checks that framing and ignores the block: whether to trust the
 * signer is fl_model_file_verify()'s question, not the decoder's.
 *
 * The raw file I/O declared in modelsign.h lives here too, because loading
 * and saving are built on it and there must be one copy of it.
 */
#include "fedlead/model.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "fedlead/error.h"
#include "fedlead/utf8.h"
#include "fedlead/signed_model.h"
#include "model.pb-c.h"

#define MODEL_MAGIC "FLMODEL\n"
#define MODEL_MAGIC_LEN 8
#define MODEL_HEADER_LEN 12 /* magic + 4-byte length */
#define MODEL_SUM_LEN 32    /* SHA-256 */
#define MODEL_MIN_LEN (MODEL_HEADER_LEN + MODEL_SUM_LEN)
#define SIG_MAGIC_LEN 8
#define SIG_HEADER_LEN 12 /* magic + 4-byte length */
/* The largest well-formed file: a payload and a signature block at their limits. */
#define MODEL_FILE_MAX                                                                             \
	((uintmax_t)MODEL_MIN_LEN + FL_MODEL_MAX_BYTES + SIG_HEADER_LEN + FL_MODEL_SIG_MAX)
#define KIND_MAX (sizeof(((struct fl_round_log *)0)->kind) - 1)

_Static_assert(sizeof(FL_MODEL_SIG_MAGIC) - 1 == SIG_MAGIC_LEN, "trailer magic length");
_Static_assert(MODEL_FILE_MAX <= SIZE_MAX, "a whole model file fits in memory");

/* Generous for a column name; fl_schema_column_name() truncates beyond it. */
#define COLUMN_NAME_MAX 1024

static void free_strv(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void fl_model_free(struct fl_model *m)
{
	if (m == NULL)
		return;
	fl_schema_free(m->schema);
	free(m->w);
	fl_scaler_free(m->scaler);
	free(m->prov.solver);
	free(m->prov.created);
	free(m->prov.tool_version);
	free(m->prov.federation_id);
	free_strv(m->prov.participants, m->prov.n_participants);
	free(m->prov.history);
	free(m);
}

/* A model with zero weights and an identity scaler around an owned schema. */
static int model_alloc(struct fl_schema *s, struct fl_model **out)
{
	struct fl_model *m = NULL;
	int r = FL_ERR_NOMEM;

	*out = NULL;
	if (s->dim == 0 || s->dim > FL_SCHEMA_MAX_DIM) {
		r = fl_fail(FL_ERR_INTERNAL, "schema has %zu encoded columns", s->dim);
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto out;
	m->dim = s->dim;
	if ((m->w = calloc(m->dim, sizeof(*m->w))) == NULL)
		goto out;
	if ((r = fl_scaler_new(m->dim, &m->scaler)) != 0)
		goto out;
	m->prov.pos_weight = 1;
	m->schema = s;
	*out = m;
	m = NULL;
	r = 0;
out:
	fl_model_free(m);
	return r;
}

int fl_model_new(const struct fl_schema *s, struct fl_model **out)
{
	struct fl_schema *copy = NULL;
	struct fl_model *m = NULL;
	int r = FL_ERR_INTERNAL;

	*out = NULL;
	if (s == NULL || s->canonical == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_new: no schema");
		goto out;
	}
	/* Re-parsing the canonical text is the one deep copy that cannot drift
	 * from the schema module's own notion of what a schema contains. */
	if ((r = fl_schema_parse(s->canonical, strlen(s->canonical), "schema", &copy)) != 0)
		goto out;
	if ((r = model_alloc(copy, &m)) != 0)
		goto out;
	copy = NULL; /* owned by m */
	*out = m;
	m = NULL;
	r = 0;
out:
	fl_schema_free(copy);
	fl_model_free(m);
	return r;
}

int fl_model_set_str(char **field, const char *value)
{
	char *copy = NULL;

	if (field == NULL)
		return fl_fail(FL_ERR_INVALID, "fl_model_set_str: no field");
	if (value != NULL && (copy = strdup(value)) == NULL)
		return FL_ERR_NOMEM;
	free(*field);
	*field = copy;
	return 0;
}

int fl_model_add_participant(struct fl_model *m, const char *name)
{
	char **v = NULL;
	char *copy = NULL;
	int r = FL_ERR_NOMEM;

	if (m == NULL || name == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_add_participant: no model or name");
		goto out;
	}
	if (m->prov.n_participants >= FL_MODEL_MAX_PARTICIPANTS) {
		r = fl_fail(FL_ERR_LIMIT, "a model lists at most %d participants",
		            FL_MODEL_MAX_PARTICIPANTS);
		goto out;
	}
	if ((copy = strdup(name)) == NULL)
		goto out;
	/* Growing by one is quadratic only up to the small bound above, and
	 * keeps the struct free of a capacity field callers would have to
	 * maintain. */
	v = realloc(m->prov.participants, (m->prov.n_participants + 1) * sizeof(*v));
	if (v == NULL)
		goto out;
	m->prov.participants = v;
	v[m->prov.n_participants++] = copy;
	copy = NULL;
	r = 0;
out:
	free(copy);
	return r;
}

/* A kind is a C string inside its fixed array (at most KIND_MAX characters). */
static int kind_ok(const struct fl_round_log *h)
{
	return memchr(h->kind, '\0', sizeof(h->kind)) != NULL;
}

int fl_model_set_history(struct fl_model *m, const struct fl_round_log *h, size_t n)
{
	struct fl_round_log *copy = NULL;
	int r = FL_ERR_NOMEM;

	if (m == NULL || (h == NULL && n > 0)) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_set_history: no model or history");
		goto out;
	}
	if (n > FL_MODEL_MAX_HISTORY) {
		r = fl_fail(FL_ERR_LIMIT, "a model holds at most %d history entries",
		            FL_MODEL_MAX_HISTORY);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!kind_ok(&h[i])) {
			r = fl_fail(FL_ERR_INVALID,
			            "history entry %zu: kind is not a string of at most %zu "
			            "characters",
			            i, KIND_MAX);
			goto out;
		}
	}
	/* Copied before the old history is freed: h may point into it. */
	if (n > 0) {
		if ((copy = malloc(n * sizeof(*copy))) == NULL)
			goto out;
		memcpy(copy, h, n * sizeof(*copy));
	}
	free(m->prov.history);
	m->prov.history = copy;
	m->prov.n_history = n;
	copy = NULL;
	r = 0;
out:
	free(copy);
	return r;
}

/*
 * Checks the numbers a scorer relies on: everything finite, scales positive.
 * what names the model in the message ("m.flm", "model"), code is the error
 * to report.
 */
static int check_values(const struct fl_schema *s, const double *w, const double *center,
                        const double *scale, const double *baseline, const double *impute,
                        const char *what, int code)
{
	static const char *const names[] = {"weight", "center", "scale", "baseline", "impute"};
	const double *vec[] = {w, center, scale, baseline, impute};
	char col[COLUMN_NAME_MAX];

	for (size_t k = 0; k < sizeof(vec) / sizeof(vec[0]); k++) {
		for (size_t j = 0; j < s->dim; j++) {
			double v = vec[k][j];

			if (isfinite(v) && (k != 2 || v > 0))
				continue;
			fl_schema_column_name(s, j, col, sizeof(col));
			if (!isfinite(v))
				return fl_fail(code, "%s: %s of column \"%s\" is not finite (%g)",
				               what, names[k], col, v);
			return fl_fail(code, "%s: scale of column \"%s\" must be positive (got %g)",
			               what, col, v);
		}
	}
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int sha256(const uint8_t *data, size_t len, uint8_t out[MODEL_SUM_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != MODEL_SUM_LEN)
		return fl_fail(FL_ERR_CRYPTO, "SHA-256 of the model file failed");
	return 0;
}

/* protobuf-c packs strings with strlen(), so NULL ("not set") becomes "". */
static char *str_or_empty(const char *s)
{
	return (char *)(s != NULL ? s : "");
}

static void metric_to_pb(const struct fl_metric_set *ms, Fedlead__MetricSet *pb)
{
	pb->rows = ms->rows;
	pb->positives = ms->positives;
	pb->auc = ms->auc;
	pb->log_loss = ms->log_loss;
}

/*
 * The history as protobuf messages that borrow the kinds: one array of
 * messages and one of pointers to them, which is what protobuf-c packs.
 */
static int history_to_pb(const struct fl_provenance *p, Fedlead__RoundLog **msgs,
                         Fedlead__RoundLog ***ptrs)
{
	static const Fedlead__RoundLog init = FEDLEAD__ROUND_LOG__INIT;
	Fedlead__RoundLog *v = NULL, **pv = NULL;

	*msgs = NULL;
	*ptrs = NULL;
	if (p->n_history == 0)
		return 0;
	if ((v = calloc(p->n_history, sizeof(*v))) == NULL ||
	    (pv = calloc(p->n_history, sizeof(*pv))) == NULL) {
		free(v);
		return FL_ERR_NOMEM;
	}
	for (size_t i = 0; i < p->n_history; i++) {
		const struct fl_round_log *h = &p->history[i];

		v[i] = init;
		v[i].round = h->round;
		v[i].kind = (char *)h->kind;
		v[i].l2 = h->l2;
		v[i].train_loss = h->train_loss;
		v[i].grad_norm = h->grad_norm;
		v[i].valid_log_loss = h->valid_log_loss;
		v[i].valid_auc = h->valid_auc;
		v[i].partners = h->partners;
		pv[i] = &v[i];
	}
	*msgs = v;
	*ptrs = pv;
	return 0;
}

int fl_model_encode(const struct fl_model *m, uint8_t **buf, size_t *len)
{
	Fedlead__ModelFile mf = FEDLEAD__MODEL_FILE__INIT;
	Fedlead__Provenance pv = FEDLEAD__PROVENANCE__INIT;
	Fedlead__MetricSet train = FEDLEAD__METRIC_SET__INIT;
	Fedlead__MetricSet valid = FEDLEAD__METRIC_SET__INIT;
	Fedlead__RoundLog *hist = NULL, **hist_ptrs = NULL;
	const struct fl_provenance *p;
	const struct fl_scaler *sc;
	uint8_t *b = NULL;
	size_t plen, total;
	int r = FL_ERR_INTERNAL;

	*buf = NULL;
	*len = 0;
	if (m == NULL || m->schema == NULL || m->schema->canonical == NULL || m->w == NULL ||
	    m->scaler == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_encode: incomplete model");
		goto out;
	}
	sc = m->scaler;
	p = &m->prov;
	if (m->dim != m->schema->dim || sc->dim != m->dim) {
		r = fl_fail(FL_ERR_INVALID,
		            "model: %zu weights and %zu scaler columns for a schema of %zu columns",
		            m->dim, sc->dim, m->schema->dim);
		goto out;
	}
	/* Refuse now what fl_model_decode() would refuse later: a model that
	 * saves but cannot be loaded is found out too late. */
	if ((r = check_values(m->schema, m->w, sc->center, sc->scale, sc->baseline, sc->impute,
	                      "model", FL_ERR_INVALID)) != 0)
		goto out;
	if (p->n_participants > FL_MODEL_MAX_PARTICIPANTS) {
		r = fl_fail(FL_ERR_LIMIT, "model: %zu participants (limit %d)", p->n_participants,
		            FL_MODEL_MAX_PARTICIPANTS);
		goto out;
	}
	for (size_t i = 0; i < p->n_participants; i++) {
		if (p->participants[i] == NULL) {
			r = fl_fail(FL_ERR_INVALID, "model: participant %zu has no name", i);
			goto out;
		}
	}
	if (p->n_history > FL_MODEL_MAX_HISTORY) {
		r = fl_fail(FL_ERR_LIMIT, "model: %zu history entries (limit %d)", p->n_history,
		            FL_MODEL_MAX_HISTORY);
		goto out;
	}
	if (p->n_history > 0 && p->history == NULL) {
		r = fl_fail(FL_ERR_INVALID, "model: %zu history entries but no history",
		            p->n_history);
		goto out;
	}
	for (size_t i = 0; i < p->n_history; i++) {
		if (!kind_ok(&p->history[i])) {
			r = fl_fail(FL_ERR_INVALID,
			            "model: history entry %zu: kind is not a string of at most %zu "
			            "characters",
			            i, KIND_MAX);
			goto out;
		}
	}

	/* The message borrows the model's arrays; nothing is copied until
	 * packing. protobuf-c's types are not const, but packing only reads. */
	mf.format_major = FL_MODEL_FORMAT_MAJOR;
	mf.format_minor = FL_MODEL_FORMAT_MINOR;
	mf.schema_json = m->schema->canonical;
	mf.schema_fingerprint.len = FL_FINGERPRINT_LEN;
	mf.schema_fingerprint.data = (uint8_t *)m->schema->fingerprint;
	mf.n_weights = mf.n_center = mf.n_scale = mf.n_baseline = mf.n_impute = m->dim;
	mf.weights = m->w;
	mf.center = sc->center;
	mf.scale = sc->scale;
	mf.baseline = sc->baseline;
	mf.impute = sc->impute;

	pv.solver = str_or_empty(p->solver);
	pv.l2 = p->l2;
	pv.pos_weight = p->pos_weight;
	pv.rows = p->rows;
	pv.positives = p->positives;
	pv.iterations = p->iterations;
	pv.final_loss = p->final_loss;
	pv.grad_norm = p->grad_norm;
	metric_to_pb(&p->train, &train);
	metric_to_pb(&p->valid, &valid);
	pv.train = &train;
	pv.valid = &valid;
	pv.created = str_or_empty(p->created);
	pv.tool_version = str_or_empty(p->tool_version);
	pv.federation_id = str_or_empty(p->federation_id);
	pv.rounds = p->rounds;
	pv.n_participants = p->n_participants;
	pv.participants = p->participants;
	if ((r = history_to_pb(p, &hist, &hist_ptrs)) != 0)
		goto out;
	pv.n_history = p->n_history;
	pv.history = hist_ptrs;
	mf.provenance = &pv;

	plen = fedlead__model_file__get_packed_size(&mf);
	if (plen > FL_MODEL_MAX_BYTES) {
		r = fl_fail(FL_ERR_LIMIT, "model: %zu bytes exceeds the limit of %u bytes", plen,
		            FL_MODEL_MAX_BYTES);
		goto out;
	}
	total = MODEL_HEADER_LEN + plen + MODEL_SUM_LEN;
	if ((b = malloc(total)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	memcpy(b, MODEL_MAGIC, MODEL_MAGIC_LEN);
	put_be32(b + MODEL_MAGIC_LEN, (uint32_t)plen);
	if (fedlead__model_file__pack(&mf, b + MODEL_HEADER_LEN) != plen) {
		r = fl_fail(FL_ERR_INTERNAL, "model: protobuf packing size changed");
		goto out;
	}
	if ((r = sha256(b, MODEL_HEADER_LEN + plen, b + MODEL_HEADER_LEN + plen)) != 0)
		goto out;
	*buf = b;
	*len = total;
	b = NULL;
	r = 0;
out:
	free(hist_ptrs);
	free(hist);
	free(b);
	return r;
}

/*
 * Checks the framing: magic, length and the optional signature trailer, not
 * the checksum. On success *model_len is the length of the unsigned file
 * (header, payload, checksum) and *sig, *sig_len the signature block,
 * NULL and 0 for an unsigned file. Nothing here allocates, so a hostile
 * length costs nothing.
 */
static int split_frame(const uint8_t *buf, size_t len, const char *origin, size_t *model_len,
                       const uint8_t **sig, size_t *sig_len)
{
	size_t n = len < MODEL_MAGIC_LEN ? len : MODEL_MAGIC_LEN;
	size_t expect, rest, want;
	const uint8_t *t;
	uint32_t plen, slen;

	*model_len = 0;
	*sig = NULL;
	*sig_len = 0;
	/* Compare what is there first: a short prefix of some other file is
	 * "not a model", a short prefix of a model is "truncated". */
	if (n > 0 && memcmp(buf, MODEL_MAGIC, n) != 0)
		return fl_fail(FL_ERR_MODEL, "%s: not a fedlead model file", origin);
	if (len < MODEL_HEADER_LEN)
		return fl_fail(FL_ERR_MODEL,
		               "%s: truncated model file (%zu bytes, expected at least %d)", origin,
		               len, MODEL_MIN_LEN);
	plen = get_be32(buf + MODEL_MAGIC_LEN);
	if (plen > FL_MODEL_MAX_BYTES)
		return fl_fail(FL_ERR_MODEL,
		               "%s: model payload of %" PRIu32
		               " bytes exceeds the limit of %u bytes",
		               origin, plen, FL_MODEL_MAX_BYTES);
	expect = MODEL_HEADER_LEN + (size_t)plen + MODEL_SUM_LEN;
	if (len < expect)
		return fl_fail(FL_ERR_MODEL, "%s: truncated model file (%zu bytes, expected %zu)",
		               origin, len, expect);
	if (len == expect) {
		*model_len = expect;
		return 0;
	}

	/* Same rule as for the magic above: bytes that begin like a trailer
	 * are a damaged trailer, anything else is what it always was. */
	t = buf + expect;
	rest = len - expect;
	n = rest < SIG_MAGIC_LEN ? rest : SIG_MAGIC_LEN;
	if (memcmp(t, FL_MODEL_SIG_MAGIC, n) != 0)
		return fl_fail(FL_ERR_MODEL,
		               "%s: trailing data after the model (%zu bytes, expected %zu)",
		               origin, len, expect);
	if (rest < SIG_HEADER_LEN)
		return fl_fail(FL_ERR_MODEL,
		               "%s: truncated signature (%zu bytes, expected at least %zu)", origin,
		               len, expect + SIG_HEADER_LEN);
	slen = get_be32(t + SIG_MAGIC_LEN);
	if (slen == 0)
		return fl_fail(FL_ERR_MODEL, "%s: empty signature block", origin);
	if (slen > FL_MODEL_SIG_MAX)
		return fl_fail(FL_ERR_MODEL,
		               "%s: signature block of %" PRIu32
		               " bytes exceeds the limit of %u bytes",
		               origin, slen, FL_MODEL_SIG_MAX);
	want = expect + SIG_HEADER_LEN + slen;
	if (len < want)
		return fl_fail(FL_ERR_MODEL, "%s: truncated signature (%zu bytes, expected %zu)",
		               origin, len, want);
	if (len > want)
		return fl_fail(FL_ERR_MODEL,
		               "%s: trailing data after the signature (%zu bytes, expected %zu)",
		               origin, len, want);
	*model_len = expect;
	*sig = t + SIG_HEADER_LEN;
	*sig_len = slen;
	return 0;
}

int fl_model_file_split(const uint8_t *file, size_t len, size_t *model_len, const uint8_t **sig,
                        size_t *sig_len)
{
	*model_len = 0;
	*sig = NULL;
	*sig_len = 0;
	if (file == NULL && len > 0)
		return fl_fail(FL_ERR_INVALID, "fl_model_file_split: no buffer");
	return split_frame(file, len, "model", model_len, sig, sig_len);
}

/* Checks the framing and the checksum; on success *payload_len is L. */
static int check_frame(const uint8_t *buf, size_t len, const char *origin, size_t *payload_len)
{
	uint8_t sum[MODEL_SUM_LEN];
	const uint8_t *sig;
	size_t mlen, slen, plen;
	int r;

	*payload_len = 0;
	if ((r = split_frame(buf, len, origin, &mlen, &sig, &slen)) != 0)
		return r;
	plen = mlen - MODEL_MIN_LEN;
	if ((r = sha256(buf, MODEL_HEADER_LEN + plen, sum)) != 0)
		return r;
	if (CRYPTO_memcmp(sum, buf + MODEL_HEADER_LEN + plen, MODEL_SUM_LEN) != 0)
		return fl_fail(FL_ERR_MODEL, "%s: model file is corrupt (checksum mismatch)",
		               origin);
	*payload_len = plen;
	return 0;
}

/* "" is how proto3 says "not set" (see proto/model.proto). */
static int copy_opt_str(const char *src, char **dst)
{
	*dst = NULL;
	if (src == NULL || src[0] == '\0')
		return 0;
	if ((*dst = strdup(src)) == NULL)
		return FL_ERR_NOMEM;
	return 0;
}

static void metric_from_pb(const Fedlead__MetricSet *pb, struct fl_metric_set *ms)
{
	memset(ms, 0, sizeof(*ms));
	if (pb == NULL)
		return;
	ms->rows = pb->rows;
	ms->positives = pb->positives;
	ms->auc = pb->auc;
	ms->log_loss = pb->log_loss;
}

/*
 * Whether s is UTF-8 text without control characters. protobuf-c does not
 * check proto3 strings, and provenance is printed and written as JSON
 * (jansson refuses other text, so fl_model_to_json() would fail).
 */
static int prov_text(const char *s)
{
	return fl_utf8_valid(s, strlen(s), FL_UTF8_NO_CONTROL);
}

static int prov_from_pb(const Fedlead__Provenance *pv, struct fl_provenance *p, const char *origin)
{
	const char *const names[] = {"solver", "created", "tool_version", "federation_id"};
	int r = 0;

	if (pv == NULL)
		return 0;
	{
		const char *const texts[] = {pv->solver, pv->created, pv->tool_version,
		                             pv->federation_id};

		for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++)
			if (texts[k] != NULL && !prov_text(texts[k]))
				return fl_fail(FL_ERR_MODEL, "%s: provenance %s is not UTF-8 text",
				               origin, names[k]);
	}
	for (size_t i = 0; i < pv->n_participants; i++)
		if (!prov_text(pv->participants[i]))
			return fl_fail(FL_ERR_MODEL,
			               "%s: provenance participant %zu is not UTF-8 text", origin,
			               i + 1);
	if (pv->n_participants > FL_MODEL_MAX_PARTICIPANTS)
		return fl_fail(FL_ERR_MODEL, "%s: model lists %zu participants (limit %d)", origin,
		               pv->n_participants, FL_MODEL_MAX_PARTICIPANTS);
	if (pv->n_history > FL_MODEL_MAX_HISTORY)
		return fl_fail(FL_ERR_MODEL, "%s: model has %zu history entries (limit %d)", origin,
		               pv->n_history, FL_MODEL_MAX_HISTORY);
	for (size_t i = 0; i < pv->n_history; i++) {
		size_t klen = strlen(pv->history[i]->kind);

		if (klen > KIND_MAX)
			return fl_fail(
			        FL_ERR_MODEL,
			        "%s: history entry %zu has a kind of %zu bytes (at most %zu)",
			        origin, i, klen, KIND_MAX);
		if (!prov_text(pv->history[i]->kind))
			return fl_fail(FL_ERR_MODEL,
			               "%s: history entry %zu has a kind that is not UTF-8 text",
			               origin, i);
	}
	p->l2 = pv->l2;
	p->pos_weight = pv->pos_weight;
	p->rows = pv->rows;
	p->positives = pv->positives;
	p->iterations = pv->iterations;
	p->final_loss = pv->final_loss;
	p->grad_norm = pv->grad_norm;
	metric_from_pb(pv->train, &p->train);
	metric_from_pb(pv->valid, &p->valid);
	p->rounds = pv->rounds;
	if ((r = copy_opt_str(pv->solver, &p->solver)) != 0 ||
	    (r = copy_opt_str(pv->created, &p->created)) != 0 ||
	    (r = copy_opt_str(pv->tool_version, &p->tool_version)) != 0 ||
	    (r = copy_opt_str(pv->federation_id, &p->federation_id)) != 0)
		return r;
	if (pv->n_history > 0) {
		if ((p->history = calloc(pv->n_history, sizeof(*p->history))) == NULL)
			return FL_ERR_NOMEM;
		p->n_history = pv->n_history;
		for (size_t i = 0; i < pv->n_history; i++) {
			const Fedlead__RoundLog *h = pv->history[i];
			struct fl_round_log *d = &p->history[i];

			d->round = h->round;
			/* Length checked above; calloc left the rest zero. */
			memcpy(d->kind, h->kind, strlen(h->kind));
			d->l2 = h->l2;
			d->train_loss = h->train_loss;
			d->grad_norm = h->grad_norm;
			d->valid_log_loss = h->valid_log_loss;
			d->valid_auc = h->valid_auc;
			d->partners = h->partners;
		}
	}
	if (pv->n_participants == 0)
		return 0;
	if ((p->participants = calloc(pv->n_participants, sizeof(char *))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < pv->n_participants; i++) {
		/* Counted as it goes, so fl_model_free() frees exactly what exists. */
		if ((p->participants[i] = strdup(pv->participants[i])) == NULL)
			return FL_ERR_NOMEM;
		p->n_participants++;
	}
	return 0;
}

int fl_model_decode(const uint8_t *buf, size_t len, const char *origin, struct fl_model **out)
{
	Fedlead__ModelFile *mf = NULL;
	struct fl_schema *s = NULL;
	struct fl_model *m = NULL;
	char msg[1024];
	size_t plen = 0, jlen;
	int r = FL_ERR_INTERNAL;

	*out = NULL;
	if (origin == NULL)
		origin = "model";
	if (buf == NULL && len > 0) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_decode: no buffer");
		goto out;
	}
	if ((r = check_frame(buf, len, origin, &plen)) != 0)
		goto out;
	mf = fedlead__model_file__unpack(NULL, plen, buf + MODEL_HEADER_LEN);
	if (mf == NULL) {
		/* The checksum held, so this is a writer's bug or a forgery, not
		 * a disk error. */
		r = fl_fail(FL_ERR_MODEL, "%s: model payload is not a valid ModelFile message",
		            origin);
		goto out;
	}
	if (mf->format_major != FL_MODEL_FORMAT_MAJOR) {
		r = fl_fail(FL_ERR_MODEL,
		            "%s: model format %" PRIu32
		            ".x is not supported by this fedlead (%d.x)",
		            origin, mf->format_major, FL_MODEL_FORMAT_MAJOR);
		goto out;
	}
	/* Any minor version of our major is accepted: minors only add fields,
	 * which protobuf skips. */
	if (mf->schema_fingerprint.len != FL_FINGERPRINT_LEN) {
		r = fl_fail(FL_ERR_MODEL, "%s: schema fingerprint has %zu bytes, expected %d",
		            origin, mf->schema_fingerprint.len, FL_FINGERPRINT_LEN);
		goto out;
	}
	jlen = strlen(mf->schema_json);
	if (jlen > FL_SCHEMA_MAX_BYTES) {
		r = fl_fail(FL_ERR_MODEL,
		            "%s: embedded schema of %zu bytes exceeds the limit of %u", origin,
		            jlen, FL_SCHEMA_MAX_BYTES);
		goto out;
	}
	if ((r = fl_schema_parse(mf->schema_json, jlen, "embedded schema", &s)) != 0) {
		if (r == FL_ERR_NOMEM)
			goto out;
		/* The schema module's message says where in the JSON; the
		 * model file is what the user has to replace. */
		snprintf(msg, sizeof(msg), "%s", fl_errmsg());
		r = fl_fail(FL_ERR_MODEL, "%s: %s", origin, msg);
		goto out;
	}
	if (CRYPTO_memcmp(s->fingerprint, mf->schema_fingerprint.data, FL_FINGERPRINT_LEN) != 0) {
		r = fl_fail(FL_ERR_MODEL,
		            "%s: schema fingerprint mismatch: the embedded schema does not match "
		            "the recorded fingerprint",
		            origin);
		goto out;
	}
	{
		static const char *const names[] = {"weight", "center", "scale", "baseline",
		                                    "impute"};
		const size_t counts[] = {mf->n_weights, mf->n_center, mf->n_scale, mf->n_baseline,
		                         mf->n_impute};

		for (size_t k = 0; k < 5; k++) {
			if (counts[k] != s->dim) {
				r = fl_fail(FL_ERR_MODEL,
				            "%s: model has %zu %s values but its schema has %zu "
				            "columns",
				            origin, counts[k], names[k], s->dim);
				goto out;
			}
		}
	}
	if ((r = check_values(s, mf->weights, mf->center, mf->scale, mf->baseline, mf->impute,
	                      origin, FL_ERR_MODEL)) != 0)
		goto out;
	if ((r = model_alloc(s, &m)) != 0)
		goto out;
	s = NULL; /* owned by m */
	memcpy(m->w, mf->weights, m->dim * sizeof(double));
	memcpy(m->scaler->center, mf->center, m->dim * sizeof(double));
	memcpy(m->scaler->scale, mf->scale, m->dim * sizeof(double));
	memcpy(m->scaler->baseline, mf->baseline, m->dim * sizeof(double));
	memcpy(m->scaler->impute, mf->impute, m->dim * sizeof(double));
	m->prov.pos_weight = 0; /* whatever the file says, even an absent 0 */
	if ((r = prov_from_pb(mf->provenance, &m->prov, origin)) != 0)
		goto out;
	*out = m;
	m = NULL;
	r = 0;
out:
	if (mf != NULL)
		fedlead__model_file__free_unpacked(mf, NULL);
	fl_schema_free(s);
	fl_model_free(m);
	return r;
}

static int save_fail(const char *path, const char *step, int err)
{
	return fl_fail(FL_ERR_IO, "%s: cannot save the model (%s): %s", path, step, strerror(err));
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Makes the rename durable: the new directory entry must reach the disk. */
static int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	int fd = -1, rc = -1, err = 0;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else if ((dir = malloc((size_t)(slash - path) + 1)) != NULL) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	if (dir == NULL) {
		err = ENOMEM;
		goto out;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err = errno;
		goto out;
	}
	if (fsync(fd) != 0) {
		err = errno;
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(dir);
	errno = err;
	return rc;
}

int fl_model_write_file(const char *path, const uint8_t *buf, size_t len)
{
	static const char suffix[] = ".tmp.XXXXXX";
	char *tmp = NULL;
	int fd = -1, have_tmp = 0;
	int r = FL_ERR_INTERNAL;

	if (path == NULL || (buf == NULL && len > 0)) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_write_file: no path or buffer");
		goto out;
	}
	if ((tmp = malloc(strlen(path) + sizeof(suffix))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	strcpy(tmp, path);
	strcat(tmp, suffix);
	/* Same directory as the target, so rename() is atomic: a reader sees
	 * the old model or the new one, never half of one. */
	if ((fd = mkstemp(tmp)) < 0) {
		r = save_fail(path, "create temporary file", errno);
		goto out;
	}
	have_tmp = 1;
	if (fchmod(fd, 0644) != 0) {
		r = save_fail(path, "chmod", errno);
		goto out;
	}
	if (write_all(fd, buf, len) != 0) {
		r = save_fail(path, "write", errno);
		goto out;
	}
	if (fsync(fd) != 0) {
		r = save_fail(path, "fsync", errno);
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = save_fail(path, "close", errno);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		r = save_fail(path, "rename", errno);
		goto out;
	}
	have_tmp = 0;
	if (fsync_parent(path) != 0) {
		r = save_fail(path, "sync directory", errno);
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (have_tmp)
		unlink(tmp);
	free(tmp);
	return r;
}

int fl_model_save(const struct fl_model *m, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = FL_ERR_INTERNAL;

	if (path == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_save: no path");
		goto out;
	}
	/* Encoded before anything touches the disk: a model that cannot be
	 * encoded leaves the old file alone. */
	if ((r = fl_model_encode(m, &buf, &len)) != 0)
		goto out;
	r = fl_model_write_file(path, buf, len);
out:
	free(buf);
	return r;
}

int fl_model_read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *b = NULL;
	size_t have = 0, want;
	int fd = -1;
	int r = FL_ERR_INTERNAL;

	*buf = NULL;
	*len = 0;
	if (path == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_read_file: no path");
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = fl_fail(FL_ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	/* The size is checked before anything is allocated for it. */
	if ((uintmax_t)st.st_size > MODEL_FILE_MAX) {
		r = fl_fail(FL_ERR_MODEL,
		            "%s: model file of %jd bytes exceeds the limit of %ju bytes", path,
		            (intmax_t)st.st_size, MODEL_FILE_MAX);
		goto out;
	}
	want = (size_t)st.st_size;
	if ((b = malloc(want > 0 ? want : 1)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	/* A file that shrinks while read is returned as what was read, and the
	 * framing reports it as truncated. */
	while (have < want) {
		ssize_t n = read(fd, b + have, want - have);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = fl_fail(FL_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	*buf = b;
	*len = have;
	b = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(b);
	return r;
}

int fl_model_load(const char *path, struct fl_model **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = FL_ERR_INTERNAL;

	*out = NULL;
	if (path == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_load: no path");
		goto out;
	}
	if ((r = fl_model_read_file(path, &buf, &len)) != 0)
		goto out;
	r = fl_model_decode(buf, len, path, out);
out:
	free(buf);
	return r;
}

/* ---- JSON view ---------------------------------------------------------- */

/*
 * Builders with a sticky failure flag, so that one check at the end covers
 * every allocation jansson makes on the way.
 */
struct jb {
	int failed;
};

static void jset(struct jb *b, json_t *obj, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(obj, key, v) != 0)
		b->failed = 1;
}

static void jappend(struct jb *b, json_t *arr, json_t *v)
{
	if (v == NULL || json_array_append_new(arr, v) != 0)
		b->failed = 1;
}

/* JSON has no NaN or infinity; such values (an undefined AUC) become null. */
static json_t *jreal(double d)
{
	return isfinite(d) ? json_real(d) : json_null();
}

static json_t *ju64(uint64_t v)
{
	if (v > (uint64_t)LLONG_MAX)
		return json_real((double)v);
	return json_integer((json_int_t)v);
}

static json_t *jstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *metric_json(struct jb *b, const struct fl_metric_set *ms)
{
	json_t *o = json_object();

	if (o == NULL) {
		b->failed = 1;
		return NULL;
	}
	jset(b, o, "rows", ju64(ms->rows));
	jset(b, o, "positives", ju64(ms->positives));
	jset(b, o, "auc", jreal(ms->auc));
	jset(b, o, "log_loss", jreal(ms->log_loss));
	return o;
}

/* The round log; values that were not measured (NaN) are null. */
static json_t *history_json(struct jb *b, const struct fl_provenance *p)
{
	json_t *arr = json_array();

	if (arr == NULL) {
		b->failed = 1;
		return NULL;
	}
	for (size_t i = 0; i < p->n_history && !b->failed; i++) {
		const struct fl_round_log *h = &p->history[i];
		json_t *o = json_object();

		if (o == NULL) {
			b->failed = 1;
			break;
		}
		jset(b, o, "round", ju64(h->round));
		/* kind_ok() held when the history was set or decoded, but the
		 * struct is public: never read past the array. */
		jset(b, o, "kind", json_stringn(h->kind, strnlen(h->kind, sizeof(h->kind))));
		jset(b, o, "l2", jreal(h->l2));
		jset(b, o, "train_loss", jreal(h->train_loss));
		jset(b, o, "grad_norm", jreal(h->grad_norm));
		jset(b, o, "valid_log_loss", jreal(h->valid_log_loss));
		jset(b, o, "valid_auc", jreal(h->valid_auc));
		jset(b, o, "partners", json_integer(h->partners));
		jappend(b, arr, o);
	}
	return arr;
}

static json_t *prov_json(struct jb *b, const struct fl_provenance *p)
{
	json_t *o = json_object(), *parts = json_array();

	if (o == NULL || parts == NULL) {
		b->failed = 1;
		json_decref(o);
		json_decref(parts);
		return NULL;
	}
	jset(b, o, "solver", jstr(p->solver));
	jset(b, o, "l2", jreal(p->l2));
	jset(b, o, "pos_weight", jreal(p->pos_weight));
	jset(b, o, "rows", ju64(p->rows));
	jset(b, o, "positives", ju64(p->positives));
	jset(b, o, "iterations", json_integer(p->iterations));
	jset(b, o, "final_loss", jreal(p->final_loss));
	jset(b, o, "grad_norm", jreal(p->grad_norm));
	jset(b, o, "train", metric_json(b, &p->train));
	jset(b, o, "valid", p->valid.rows > 0 ? metric_json(b, &p->valid) : json_null());
	jset(b, o, "created", jstr(p->created));
	jset(b, o, "tool_version", jstr(p->tool_version));
	jset(b, o, "federation_id", jstr(p->federation_id));
	jset(b, o, "rounds", json_integer(p->rounds));
	for (size_t i = 0; i < p->n_participants; i++)
		jappend(b, parts, jstr(p->participants[i]));
	jset(b, o, "participants", parts);
	jset(b, o, "history", history_json(b, p));
	return o;
}

int fl_model_to_json(const struct fl_model *m, char **out)
{
	struct jb b = {0};
	json_t *root = NULL, *schema = NULL, *weights = NULL;
	json_error_t jerr;
	char fp[65], ver[32], col[COLUMN_NAME_MAX];
	char *text = NULL;
	int r = FL_ERR_INTERNAL;

	*out = NULL;
	if (m == NULL || m->schema == NULL || m->scaler == NULL || m->w == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_to_json: incomplete model");
		goto out;
	}
	if ((root = json_object()) == NULL || (weights = json_array()) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	schema = json_loads(m->schema->canonical, 0, &jerr);
	if (schema == NULL) {
		r = fl_fail(FL_ERR_INTERNAL, "model schema is not JSON: %s", jerr.text);
		goto out;
	}
	snprintf(ver, sizeof(ver), "%d.%d", FL_MODEL_FORMAT_MAJOR, FL_MODEL_FORMAT_MINOR);
	fl_schema_fingerprint_hex(m->schema, fp);
	jset(&b, root, "format", json_string(ver));
	jset(&b, root, "schema_fingerprint", json_string(fp));
	jset(&b, root, "schema", schema);
	schema = NULL;
	jset(&b, root, "dim", json_integer((json_int_t)m->dim));
	for (size_t j = 0; j < m->dim && !b.failed; j++) {
		json_t *w = json_object();

		if (w == NULL) {
			b.failed = 1;
			break;
		}
		fl_schema_column_name(m->schema, j, col, sizeof(col));
		jset(&b, w, "column", json_string(col));
		jset(&b, w, "weight", jreal(m->w[j]));
		jset(&b, w, "center", jreal(m->scaler->center[j]));
		jset(&b, w, "scale", jreal(m->scaler->scale[j]));
		jset(&b, w, "baseline", jreal(m->scaler->baseline[j]));
		jset(&b, w, "impute", jreal(m->scaler->impute[j]));
		jappend(&b, weights, w);
	}
	jset(&b, root, "weights", weights);
	weights = NULL;
	jset(&b, root, "provenance", prov_json(&b, &m->prov));
	if (b.failed) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	/* %.17g: every double reads back as the same double. */
	if ((text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	*out = text;
	r = 0;
out:
	json_decref(schema);
	json_decref(weights);
	json_decref(root);
	return r;
}

double fl_model_logit(const struct fl_model *m, const double *x)
{
	const double *w = m->w;
	double z = 0;

	for (size_t j = 0; j < m->dim; j++)
		z += w[j] * x[j];
	return z;
}
