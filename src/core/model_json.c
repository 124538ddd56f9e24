/*
 * The model as pretty JSON: the export for people and other tools
 * (fedlead-score --json, the report). Doubles with 17 significant digits, so
 * every weight reads back as the same double.
 */
#include "fedlead/model.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fedlead/error.h"
#include "fedlead/spline.h"
#include "model_int.h"

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

/* The differential privacy record; null when there is none. */
static json_t *privacy_json(struct jb *b, const struct fl_dp_record *r)
{
	json_t *o, *arr;

	if (r == NULL)
		return json_null();
	o = json_object();
	arr = json_array();
	if (o == NULL || arr == NULL) {
		b->failed = 1;
		json_decref(o);
		json_decref(arr);
		return NULL;
	}
	jset(b, o, "mechanism", jstr(r->mechanism));
	jset(b, o, "accountant", jstr(r->accountant));
	jset(b, o, "releases", ju64(r->releases));
	jset(b, o, "threshold", json_integer(r->threshold));
	jset(b, o, "gradient_clip", jreal(r->gradient_clip));
	for (size_t i = 0; i < r->n_partners && !b->failed; i++) {
		const struct fl_dp_partner *q = &r->partners[i];
		json_t *e = json_object();

		if (e == NULL) {
			b->failed = 1;
			break;
		}
		jset(b, e, "partner", jstr(q->partner));
		jset(b, e, "epsilon", jreal(q->epsilon));
		jset(b, e, "delta", jreal(q->delta));
		jset(b, e, "releases", ju64(q->releases));
		jset(b, e, "clip", jreal(q->clip));
		jset(b, e, "max_colluders", json_integer(q->max_colluders));
		jset(b, e, "rho", jreal(q->rho));
		jappend(b, arr, e);
	}
	jset(b, o, "partners", arr);
	return o;
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
	jset(b, o, "privacy", privacy_json(b, p->privacy));
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
	{
		int minor = FL_MODEL_FORMAT_MINOR;

		/* As fl_model_encode() writes it: 1.3 only with knots. */
		for (size_t i = 0; i < m->schema->n_features; i++)
			if (fl_spline_is_block(&m->schema->features[i]) &&
			    !m->schema->features[i].knots_given)
				minor = FL_MODEL_FORMAT_MINOR_KNOTS;
		snprintf(ver, sizeof(ver), "%d.%d", FL_MODEL_FORMAT_MAJOR, minor);
	}
	fl_schema_fingerprint_hex(m->schema, fp);
	jset(&b, root, "format", json_string(ver));
	jset(&b, root, "schema_fingerprint", json_string(fp));
	jset(&b, root, "schema", schema);
	schema = NULL;
	jset(&b, root, "dim", json_integer((json_int_t)m->dim));
	/* Knots placed from data are the model's, not the schema text's: an
	 * export that left them out could not be scored (spline.h). */
	for (size_t i = 0, any = 0; i < m->schema->n_features && !b.failed; i++) {
		const struct fl_feature *f = &m->schema->features[i];
		json_t *k;

		if (!fl_spline_is_block(f) || f->knots_given || f->knots == NULL)
			continue;
		if (!any++)
			jset(&b, root, "knots", json_object());
		if ((k = json_array()) == NULL) {
			b.failed = 1;
			break;
		}
		for (size_t q = 0; q < f->n_knots; q++)
			jappend(&b, k, jreal(f->knots[q]));
		jset(&b, json_object_get(root, "knots"), f->name, k);
	}
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
