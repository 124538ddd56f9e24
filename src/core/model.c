/*
 * The model: its struct, the setters that keep it consistent, and the
 * logit. The protobuf codec is in model_codec.c, the file framing and file
 * I/O in model_file.c, the JSON view in model_json.c.
 */
#include "fedlead/model.h"

#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "model_int.h"

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
