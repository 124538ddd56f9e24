/*
 * The model: its struct, the setters that keep it consistent, and the
 * logit. The protobuf codec is in model_codec.c, the file framing and file
 * I/O in model_file.c, the JSON view in model_json.c.
 */
#include "fedlead/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/spline.h"
#include "fedlead/strv.h"
#include "model_int.h"

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
	fl_strv_free(m->prov.participants, m->prov.n_participants);
	free(m->prov.history);
	fl_model_set_privacy(m, NULL);
	free(m);
}

int fl_model_alloc(struct fl_schema *s, struct fl_model **out)
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
	m->format_minor = FL_MODEL_FORMAT_MINOR;
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
	if ((r = fl_schema_parse(s->canonical, strlen(s->canonical), "schema", &copy)) != 0 ||
	    (r = fl_schema_copy_knots(copy, s)) != 0) /* the model's, not the text's */
		goto out;
	if ((r = fl_model_alloc(copy, &m)) != 0)
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
int fl_model_kind_ok(const struct fl_round_log *h)
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
		if (!fl_model_kind_ok(&h[i])) {
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

double fl_model_logit(const struct fl_model *m, const double *x)
{
	const double *w = m->w;
	double z = 0;

	for (size_t j = 0; j < m->dim; j++)
		z += w[j] * x[j];
	return z;
}

static void dp_record_free(struct fl_dp_record *r)
{
	if (r == NULL)
		return;
	free(r->mechanism);
	free(r->accountant);
	for (size_t i = 0; r->partners != NULL && i < r->n_partners; i++)
		free(r->partners[i].partner);
	free(r->partners);
	free(r);
}

int fl_model_set_privacy(struct fl_model *m, const struct fl_dp_record *r)
{
	struct fl_dp_record *c = NULL;
	int e = FL_ERR_NOMEM;

	if (m == NULL)
		return fl_fail(FL_ERR_INVALID, "fl_model_set_privacy: no model");
	if (r != NULL) {
		if (r->n_partners > FL_MODEL_MAX_PARTICIPANTS)
			return fl_fail(FL_ERR_LIMIT, "a model records at most %d partners' privacy",
			               FL_MODEL_MAX_PARTICIPANTS);
		if ((c = calloc(1, sizeof(*c))) == NULL)
			goto fail;
		*c = *r;
		c->mechanism = c->accountant = NULL;
		c->partners = NULL;
		c->n_partners = 0;
		if ((r->mechanism != NULL && (c->mechanism = strdup(r->mechanism)) == NULL) ||
		    (r->accountant != NULL && (c->accountant = strdup(r->accountant)) == NULL))
			goto fail;
		if (r->n_partners > 0 &&
		    (c->partners = calloc(r->n_partners, sizeof(*c->partners))) == NULL)
			goto fail;
		for (size_t i = 0; i < r->n_partners; i++) {
			c->partners[i] = r->partners[i];
			c->partners[i].partner = NULL;
			/* Counted as it goes, so dp_record_free() frees what exists. */
			c->n_partners = i + 1;
			if (r->partners[i].partner != NULL &&
			    (c->partners[i].partner = strdup(r->partners[i].partner)) == NULL)
				goto fail;
		}
	}
	dp_record_free(m->prov.privacy);
	m->prov.privacy = c;
	return 0;
fail:
	dp_record_free(c);
	return e;
}

/* Appends to buf (n bytes, NUL-terminated), truncating. */
static void put(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void put(char *buf, size_t n, const char *fmt, ...)
{
	size_t l = strlen(buf);
	va_list ap;

	if (l + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + l, n - l, fmt, ap);
	va_end(ap);
}

/* delta as "10⁻⁶" or "2.5 × 10⁻⁷" (superscript exponent). */
static void put_delta(char *buf, size_t n, double delta)
{
	static const char *const sup[] = {"\u2070", "\u00b9", "\u00b2", "\u00b3", "\u2074",
	                                  "\u2075", "\u2076", "\u2077", "\u2078", "\u2079"};
	char digits[16];
	double e, mant;

	if (!(delta > 0) || !isfinite(delta)) {
		put(buf, n, "%g", delta);
		return;
	}
	e = floor(log10(delta));
	mant = delta / pow(10, e);
	/* log10 may land one off for an exact power of ten. */
	if (mant >= 9.9999999995) {
		e += 1;
		mant /= 10;
	} else if (mant < 0.99999999995) {
		e -= 1;
		mant *= 10;
	}
	if (e == 0) {
		put(buf, n, "%g", delta);
		return;
	}
	if (fabs(mant - 1) > 5e-10)
		put(buf, n, "%.6g \u00d7 ", mant);
	put(buf, n, "10%s", e < 0 ? "\u207b" : "");
	snprintf(digits, sizeof(digits), "%.0f", fabs(e));
	for (const char *d = digits; *d != '\0'; d++)
		put(buf, n, "%s", sup[*d - '0']);
}

static int same_terms(const struct fl_dp_partner *a, const struct fl_dp_partner *b)
{
	return a->epsilon == b->epsilon && a->delta == b->delta && a->releases == b->releases &&
	       a->clip == b->clip;
}

void fl_model_privacy_text(const struct fl_model *m, char *buf, size_t n)
{
	const struct fl_dp_record *r = m->prov.privacy;
	const char *mech, *acc;
	int same = 1;

	if (n == 0)
		return;
	buf[0] = '\0';
	if (r == NULL || r->n_partners == 0) {
		if (m->format_minor < 2)
			put(buf, n, "differential privacy not recorded (model format %d.%u)",
			    FL_MODEL_FORMAT_MAJOR, (unsigned)m->format_minor);
		else
			put(buf, n, "trained without differential privacy");
		return;
	}
	mech = r->mechanism != NULL ? r->mechanism : "unnamed mechanism";
	acc = r->accountant != NULL ? r->accountant : "unnamed";
	for (size_t i = 1; i < r->n_partners; i++)
		same &= same_terms(&r->partners[0], &r->partners[i]);
	if (same) {
		const struct fl_dp_partner *p = &r->partners[0];

		put(buf, n,
		    "trained with differential privacy: \u03b5 = %g, \u03b4 = ", p->epsilon);
		put_delta(buf, n, p->delta);
		put(buf, n,
		    " per partner (%s under secure aggregation, %s accountant, %llu of %llu "
		    "releases, clip %g",
		    mech, acc, (unsigned long long)r->releases, (unsigned long long)p->releases,
		    p->clip);
		if (r->gradient_clip > 0)
			put(buf, n,
			    ", each lead's gradient clipped to %g in the evaluations without the "
			    "Hessian",
			    r->gradient_clip * p->clip);
		put(buf, n, ")");
		return;
	}
	put(buf, n, "trained with differential privacy, per partner:");
	for (size_t i = 0; i < r->n_partners; i++) {
		const struct fl_dp_partner *p = &r->partners[i];

		put(buf, n, "%s %s \u03b5 = %g, \u03b4 = ", i > 0 ? ";" : "",
		    p->partner != NULL ? p->partner : "?", p->epsilon);
		put_delta(buf, n, p->delta);
		put(buf, n, " (%llu releases, clip %g)", (unsigned long long)p->releases, p->clip);
	}
	put(buf, n, " (%s under secure aggregation, %s accountant, %llu releases", mech, acc,
	    (unsigned long long)r->releases);
	if (r->gradient_clip > 0)
		put(buf, n,
		    ", each lead's gradient clipped to %g of its partner's clip in the "
		    "evaluations without the Hessian",
		    r->gradient_clip);
	put(buf, n, ")");
}
