/*
 * The model as a fedlead.ModelFile message (proto/model.proto): encoding,
 * and decoding with every value a scorer relies on checked. The framing
 * around the message (magic, length, checksum, signature trailer) is
 * model_file.c's.
 */
#include "fedlead/model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fedlead/error.h"
#include "fedlead/sealed.h"
#include "fedlead/spline.h"
#include "fedlead/utf8.h"
#include "model.pb-c.h"
#include "model_int.h"

static int knots_to_pb(const struct fl_schema *s, Fedlead__ModelFile *mf);
static void knots_pb_free(Fedlead__ModelFile *mf);
static int knots_from_pb(const Fedlead__ModelFile *mf, struct fl_schema *s, const char *origin);

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

/*
 * The privacy record as protobuf messages that borrow its strings; *msgs
 * and *ptrs are the partners' (freed by the caller), *pb the record.
 */
static int privacy_to_pb(const struct fl_dp_record *r, Fedlead__Privacy *pb,
                         Fedlead__PartnerPrivacy **msgs, Fedlead__PartnerPrivacy ***ptrs)
{
	static const Fedlead__PartnerPrivacy init = FEDLEAD__PARTNER_PRIVACY__INIT;
	Fedlead__PartnerPrivacy *v = NULL, **pv = NULL;

	*msgs = NULL;
	*ptrs = NULL;
	if (r->n_partners > FL_MODEL_MAX_PARTICIPANTS)
		return fl_fail(FL_ERR_LIMIT, "model: %zu partners' privacy (limit %d)",
		               r->n_partners, FL_MODEL_MAX_PARTICIPANTS);
	if (r->n_partners > 0 && r->partners == NULL)
		return fl_fail(FL_ERR_INVALID, "model: %zu partners' privacy but no record",
		               r->n_partners);
	if (r->n_partners > 0 && ((v = calloc(r->n_partners, sizeof(*v))) == NULL ||
	                          (pv = calloc(r->n_partners, sizeof(*pv))) == NULL)) {
		free(v);
		return FL_ERR_NOMEM;
	}
	for (size_t i = 0; i < r->n_partners; i++) {
		const struct fl_dp_partner *p = &r->partners[i];

		v[i] = init;
		v[i].partner = str_or_empty(p->partner);
		v[i].epsilon = p->epsilon;
		v[i].delta = p->delta;
		v[i].releases = p->releases;
		v[i].clip = p->clip;
		v[i].max_colluders = p->max_colluders;
		v[i].rho = p->rho;
		pv[i] = &v[i];
	}
	pb->mechanism = str_or_empty(r->mechanism);
	pb->accountant = str_or_empty(r->accountant);
	pb->releases = r->releases;
	pb->threshold = r->threshold;
	pb->gradient_clip = r->gradient_clip;
	pb->n_partners = r->n_partners;
	pb->partners = pv;
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
	Fedlead__Privacy priv = FEDLEAD__PRIVACY__INIT;
	Fedlead__PartnerPrivacy *dp = NULL, **dp_ptrs = NULL;
	const struct fl_provenance *p;
	const struct fl_scaler *sc;
	uint8_t *b = NULL;
	size_t plen, total, hl = fl_seal_header_len(&fl_model_file_seal);
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
		if (!fl_model_kind_ok(&p->history[i])) {
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
	if (p->privacy != NULL) {
		if ((r = privacy_to_pb(p->privacy, &priv, &dp, &dp_ptrs)) != 0)
			goto out;
		pv.privacy = &priv;
	}
	mf.provenance = &pv;
	if ((r = knots_to_pb(m->schema, &mf)) != 0)
		goto out;
	if (mf.n_knots > 0)
		mf.format_minor = FL_MODEL_FORMAT_MINOR_KNOTS;

	plen = fedlead__model_file__get_packed_size(&mf);
	if (plen > FL_MODEL_MAX_BYTES) {
		r = fl_fail(FL_ERR_LIMIT, "model: %zu bytes exceeds the limit of %u bytes", plen,
		            FL_MODEL_MAX_BYTES);
		goto out;
	}
	total = fl_seal_overhead(&fl_model_file_seal) + plen;
	if ((b = malloc(total)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if (fedlead__model_file__pack(&mf, b + hl) != plen) {
		r = fl_fail(FL_ERR_INTERNAL, "model: protobuf packing size changed");
		goto out;
	}
	if ((r = fl_seal_frame(&fl_model_file_seal, 0, b, plen, "model")) != 0)
		goto out;
	*buf = b;
	*len = total;
	b = NULL;
	r = 0;
out:
	knots_pb_free(&mf);
	free(dp_ptrs);
	free(dp);
	free(hist_ptrs);
	free(hist);
	free(b);
	return r;
}

/* The knots placed from data (FeatureKnots), borrowed from the schema. */
static int knots_to_pb(const struct fl_schema *s, Fedlead__ModelFile *mf)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_features; i++)
		n += fl_spline_is_block(&s->features[i]) && !s->features[i].knots_given;
	if (n == 0)
		return 0;
	if ((mf->knots = calloc(n, sizeof(*mf->knots) + sizeof(**mf->knots))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		Fedlead__FeatureKnots *k;

		if (!fl_spline_is_block(f) || f->knots_given)
			continue;
		if (f->knots == NULL)
			return fl_fail(FL_ERR_INVALID,
			               "model: feature \"%s\" has no knots placed yet", f->name);
		k = (Fedlead__FeatureKnots *)(mf->knots + n) + mf->n_knots;
		fedlead__feature_knots__init(k);
		k->feature = (uint32_t)i;
		k->n_values = f->n_knots;
		k->values = f->knots;
		mf->knots[mf->n_knots++] = k;
	}
	return 0;
}

static void knots_pb_free(Fedlead__ModelFile *mf)
{
	free(mf->knots);
	mf->knots = NULL;
	mf->n_knots = 0;
}

/* Sets the knots a model records; every feature that needs them must get
 * them once, and no other. */
static int knots_from_pb(const Fedlead__ModelFile *mf, struct fl_schema *s, const char *origin)
{
	size_t i;
	int r;

	for (size_t k = 0; k < mf->n_knots; k++) {
		const Fedlead__FeatureKnots *fk = mf->knots[k];
		const struct fl_feature *f;

		if (fk->feature >= s->n_features ||
		    !fl_spline_is_block(&s->features[fk->feature]) ||
		    s->features[fk->feature].knots_given)
			return fl_fail(FL_ERR_MODEL,
			               "%s: knots for feature %" PRIu32
			               ", which has no knots placed from data",
			               origin, fk->feature);
		f = &s->features[fk->feature];
		if (f->knots != NULL)
			return fl_fail(FL_ERR_MODEL, "%s: feature \"%s\": knots given twice",
			               origin, f->name);
		if ((r = fl_schema_set_knots(s, fk->feature, fk->values, fk->n_values)) != 0)
			return r == FL_ERR_NOMEM
			               ? r
			               : fl_fail(FL_ERR_MODEL, "%s: %s", origin, fl_errmsg());
	}
	if ((i = fl_spline_unplaced(s)) != SIZE_MAX)
		return fl_fail(FL_ERR_MODEL, "%s: feature \"%s\": the model records no knots",
		               origin, s->features[i].name);
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

/* The privacy record of a file (format 1.2), checked like the rest of the
 * provenance: text that prints, numbers that mean something. */
static int privacy_from_pb(const Fedlead__Privacy *pb, struct fl_provenance *p, const char *origin)
{
	struct fl_dp_record *r;

	if (pb == NULL)
		return 0;
	if (!prov_text(pb->mechanism) || !prov_text(pb->accountant))
		return fl_fail(FL_ERR_MODEL,
		               "%s: privacy mechanism or accountant is not UTF-8 text", origin);
	if (!(pb->gradient_clip >= 0 && isfinite(pb->gradient_clip)))
		return fl_fail(FL_ERR_MODEL, "%s: privacy gradient clip %g out of range", origin,
		               pb->gradient_clip);
	if (pb->n_partners > FL_MODEL_MAX_PARTICIPANTS)
		return fl_fail(FL_ERR_MODEL, "%s: model records %zu partners' privacy (limit %d)",
		               origin, pb->n_partners, FL_MODEL_MAX_PARTICIPANTS);
	for (size_t i = 0; i < pb->n_partners; i++) {
		const Fedlead__PartnerPrivacy *q = pb->partners[i];

		if (!prov_text(q->partner))
			return fl_fail(FL_ERR_MODEL,
			               "%s: privacy of partner %zu: its name is not UTF-8 text",
			               origin, i + 1);
		if (!(q->epsilon > 0 && isfinite(q->epsilon)) || !(q->delta > 0 && q->delta < 1) ||
		    !(q->clip > 0 && isfinite(q->clip)) || !(q->rho >= 0 && isfinite(q->rho)) ||
		    q->releases == 0)
			return fl_fail(
			        FL_ERR_MODEL,
			        "%s: privacy of partner %zu: epsilon, delta, releases, clip or "
			        "rho out of range",
			        origin, i + 1);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return FL_ERR_NOMEM;
	p->privacy = r;
	r->releases = pb->releases;
	r->threshold = pb->threshold;
	r->gradient_clip = pb->gradient_clip;
	if (copy_opt_str(pb->mechanism, &r->mechanism) != 0 ||
	    copy_opt_str(pb->accountant, &r->accountant) != 0)
		return FL_ERR_NOMEM;
	if (pb->n_partners == 0)
		return 0;
	if ((r->partners = calloc(pb->n_partners, sizeof(*r->partners))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < pb->n_partners; i++) {
		const Fedlead__PartnerPrivacy *q = pb->partners[i];
		struct fl_dp_partner *d = &r->partners[i];

		r->n_partners = i + 1;
		d->epsilon = q->epsilon;
		d->delta = q->delta;
		d->releases = q->releases;
		d->clip = q->clip;
		d->max_colluders = q->max_colluders;
		d->rho = q->rho;
		if (copy_opt_str(q->partner, &d->partner) != 0)
			return FL_ERR_NOMEM;
	}
	return 0;
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
	if ((r = privacy_from_pb(pv->privacy, p, origin)) != 0)
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
	const uint8_t *payload = NULL;
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
	if ((r = fl_model_frame_open(buf, len, origin, &payload, &plen)) != 0)
		goto out;
	mf = fedlead__model_file__unpack(NULL, plen, payload);
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
	if ((r = fl_model_alloc(s, &m)) != 0)
		goto out;
	s = NULL; /* owned by m */
	memcpy(m->w, mf->weights, m->dim * sizeof(double));
	memcpy(m->scaler->center, mf->center, m->dim * sizeof(double));
	memcpy(m->scaler->scale, mf->scale, m->dim * sizeof(double));
	memcpy(m->scaler->baseline, mf->baseline, m->dim * sizeof(double));
	memcpy(m->scaler->impute, mf->impute, m->dim * sizeof(double));
	if ((r = knots_from_pb(mf, m->schema, origin)) != 0)
		goto out;
	m->prov.pos_weight = 0; /* whatever the file says, even an absent 0 */
	m->format_minor = mf->format_minor;
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
