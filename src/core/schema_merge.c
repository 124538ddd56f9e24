/*
 * Merging drafted schemas (see include/fedlead/schema_merge.h for the
 * rules). JSON in, JSON out: the drafts are compared as JSON so that keys
 * this version does not know are carried through or reported, never lost.
 */
#include "fedlead/schema_merge.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/schema.h"

/* How a partner writes its files: outside the contract, left out. */
static const char *const dialect_keys[] = {"delimiter", "encoding", "decimal",
                                           "thousands", "currency", NULL};

static int in_list(const char *k, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(k, *list) == 0)
			return 1;
	return 0;
}

static int add_line(char ***v, size_t *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int add_line(char ***v, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL, **nv;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0 || (s = malloc((size_t)len + 1)) == NULL)
		return FL_ERR_NOMEM;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)len + 1, fmt, ap);
	va_end(ap);
	if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL) {
		free(s);
		return FL_ERR_NOMEM;
	}
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

/* A value as it appears in a conflict: compact JSON, or "absent". */
static char *show(json_t *v)
{
	char *s;

	if (v == NULL) {
		s = malloc(7);
		if (s != NULL)
			memcpy(s, "absent", 7);
		return s;
	}
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

struct merge {
	const struct fl_schema_merge_input *in;
	size_t n;
	unsigned flags; /* FL_MERGE_* */
	json_t **root;  /* each draft, parsed */
	/* per draft, name -> feature and name -> true for its ignored
	 * columns: jansson objects are hash tables, so a merge of drafts with
	 * 10,000 features costs linear time, not 10^8 comparisons */
	json_t **feat_idx, **ign_idx;
	struct fl_schema_merge_result *res;
};

static int conflict_value(struct merge *m, const char *where, const char *key, size_t a, json_t *va,
                          size_t b, json_t *vb)
{
	char *sa = show(va), *sb = show(vb);
	int r = FL_ERR_NOMEM;

	if (sa != NULL && sb != NULL)
		r = add_line(&m->res->conflicts, &m->res->n_conflicts,
		             "%s\"%s\" %s in %s, %s in %s", where, key, sa, m->in[a].name, sb,
		             m->in[b].name);
	free(sa);
	free(sb);
	return r;
}

/* The first draft whose value of key differs from draft 0's, or n. */
static size_t first_differing(json_t *const *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (!(v[0] == NULL && v[i] == NULL) &&
		    (v[0] == NULL || v[i] == NULL || !json_equal(v[0], v[i])))
			return i;
	return n;
}

/*
 * Keys this version does not merge by a rule: every object in objs (one per
 * draft) must hold the same value, absent included; it is then carried into
 * out. known lists the keys the caller merges itself.
 */
static int merge_generic(struct merge *m, json_t *const *objs, const char *const *known,
                         const char *where, json_t *out)
{
	json_t **v = calloc(m->n, sizeof(*v));
	int r = 0;

	if (v == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < m->n && r == 0; i++) {
		const char *key;
		json_t *val;

		json_object_foreach(objs[i], key, val)
		{
			size_t d;
			int seen = 0;

			(void)val;
			if (in_list(key, known) || in_list(key, dialect_keys))
				continue;
			/* Reported once, at the first draft that has it. */
			for (size_t j = 0; j < i && !seen; j++)
				seen = json_object_get(objs[j], key) != NULL;
			if (seen)
				continue;
			for (size_t j = 0; j < m->n; j++)
				v[j] = json_object_get(objs[j], key);
			if ((d = first_differing(v, m->n)) < m->n)
				r = conflict_value(m, where, key, 0, v[0], d, v[d]);
			else if (json_object_set(out, key, v[0]) != 0)
				r = FL_ERR_NOMEM;
			if (r != 0)
				break;
		}
	}
	free(v);
	return r;
}

static const char *json_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int merge_label(struct merge *m, json_t *out)
{
	static const char *const keys[] = {"column", "positive", "negative", NULL};
	json_t *label = json_object(), **objs = calloc(m->n, sizeof(*objs));
	int r = FL_ERR_NOMEM;

	if (label == NULL || objs == NULL)
		goto out;
	for (size_t i = 0; i < m->n; i++)
		objs[i] = json_object_get(m->root[i], "label");
	for (size_t k = 0; keys[k] != NULL; k++) {
		const char *a = json_str(objs[0], keys[k]);

		for (size_t i = 1; i < m->n; i++) {
			const char *b = json_str(objs[i], keys[k]);

			if (strcmp(a, b) == 0)
				continue;
			if (add_line(&m->res->conflicts, &m->res->n_conflicts,
			             "label: %s \"%s\" in %s, \"%s\" in %s", keys[k], a,
			             m->in[0].name, b, m->in[i].name) != 0)
				goto out;
			break;
		}
		json_object_set_new(label, keys[k], json_string(a));
	}
	if ((r = merge_generic(m, objs, keys, "label: ", label)) != 0)
		goto out;
	r = json_object_set_new(out, "label", label) == 0 ? 0 : FL_ERR_NOMEM;
	label = NULL;
out:
	json_decref(label);
	free(objs);
	return r;
}

/* A feature of draft i by name, or NULL. */
static json_t *find_feature(const struct merge *m, size_t i, const char *name)
{
	return json_object_get(m->feat_idx[i], name);
}

static int is_ignored(const struct merge *m, size_t i, const char *name)
{
	return json_object_get(m->ign_idx[i], name) != NULL;
}

/* The text a CSV field must match (values may be written as integers). */
static void value_text(json_t *v, char *buf, size_t n)
{
	if (json_is_string(v))
		snprintf(buf, n, "%s", json_string_value(v));
	else
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
}

struct value {
	json_t *v;
	const char *s; /* the value's text */
	double x;
};

static int value_bytes_cmp(const void *a, const void *b)
{
	return strcmp(((const struct value *)a)->s, ((const struct value *)b)->s);
}

static int value_num_cmp(const void *a, const void *b)
{
	double x = ((const struct value *)a)->x, y = ((const struct value *)b)->x;

	return (x > y) - (x < y);
}

/* Whether text is a plain number, as the draft's numeric_text_cmp reads it. */
static int plain_number(const char *text, double *x)
{
	char *end;

	*x = strtod(text, &end);
	return end != text && *end == '\0' && isfinite(*x);
}

/* A value's text, the key the merge compares values by: a string's own,
 * else value_text()'s into text. */
static const char *value_key(json_t *v, char text[32])
{
	if (json_is_string(v))
		return json_string_value(v);
	value_text(v, text, 32);
	return text;
}

/*
 * The union of the drafts' values (each draft's are distinct: parsed). In
 * the federation's schema round a feature read from several columns (the
 * calendar date) keeps only the values every draft lists: each partner
 * sent the values it holds at least k times, and a listed value another
 * partner holds 1 to k - 1 times would make that partner refuse the schema
 * (approve). Hundreds of dates spread thinly over the partners would
 * otherwise be refused in almost every federation; the rest go to
 * "(other)".
 */
static int merge_values(struct merge *m, json_t *const *fs, const char *name, json_t *out)
{
	struct value *vals = NULL;
	char(*texts)[32] = NULL; /* integer values' texts, where sorting does not move them */
	json_t *arr = json_array(), *seen = json_object(), *sorted = NULL, *all = NULL;
	size_t nv = 0, n_union = 0;
	int numeric = 1, r = FL_ERR_NOMEM;
	int every = (m->flags & FL_MERGE_TRANSFORMS) && m->n > 1 &&
	            json_object_get(fs[0], "columns") != NULL;

	if (arr == NULL || seen == NULL)
		goto out;
	/* First the distinct values (a set keyed by their text, so that many
	 * values cost no quadratic search), then their texts for sorting. */
	for (size_t i = 0; i < m->n; i++) {
		json_t *v;
		size_t k;

		json_array_foreach(json_object_get(fs[i], "values"), k, v)
		{
			char text[32];
			const char *t = value_key(v, text);
			json_t *c = json_object_get(seen, t);

			if (c != NULL) {
				json_integer_set(c, json_integer_value(c) + 1);
				continue;
			}
			if (json_object_set_new(seen, t, json_integer(1)) != 0 ||
			    json_array_append(arr, v) != 0)
				goto out;
		}
	}
	if (every) {
		/* Only the values all m->n drafts list (a draft lists a value
		 * once), in the order first seen. */
		size_t k;
		json_t *v;

		n_union = json_array_size(arr);
		if ((all = json_array()) == NULL)
			goto out;
		json_array_foreach(arr, k, v)
		{
			char text[32];

			if ((size_t)json_integer_value(json_object_get(seen, value_key(v, text))) ==
			            m->n &&
			    json_array_append(all, v) != 0)
				goto out;
		}
		json_decref(arr);
		arr = all;
		all = NULL;
		if (json_array_size(arr) == 0) {
			r = add_line(&m->res->conflicts, &m->res->n_conflicts,
			             "features \"%s\": no value is listed by every partner (%zu by "
			             "some only)",
			             name, n_union);
			goto out;
		}
		if (add_line(&m->res->notes, &m->res->n_notes,
		             "features \"%s\": %zu values listed by every partner, %zu by some "
		             "only (read as \"(other)\")",
		             name, json_array_size(arr), n_union - json_array_size(arr)) != 0)
			goto out;
	}
	nv = json_array_size(arr);
	if (nv > FL_SCHEMA_MAX_VALUES) {
		r = add_line(&m->res->conflicts, &m->res->n_conflicts,
		             "features \"%s\": %zu values together, more than a schema may list "
		             "(%d)",
		             name, nv, FL_SCHEMA_MAX_VALUES);
		goto out;
	}
	if ((vals = calloc(nv ? nv : 1, sizeof(*vals))) == NULL ||
	    (texts = calloc(nv ? nv : 1, sizeof(*texts))) == NULL ||
	    (sorted = json_array()) == NULL)
		goto out;
	for (size_t j = 0; j < nv; j++) {
		vals[j].v = json_array_get(arr, j);
		vals[j].s = value_key(vals[j].v, texts[j]);
		numeric &= plain_number(vals[j].s, &vals[j].x);
	}
	qsort(vals, nv, sizeof(*vals), numeric ? value_num_cmp : value_bytes_cmp);
	for (size_t j = 0; j < nv; j++)
		if (json_array_append(sorted, vals[j].v) != 0)
			goto out;
	r = json_object_set(out, "values", sorted) == 0 ? 0 : FL_ERR_NOMEM;
out:
	json_decref(sorted);
	free(texts);
	json_decref(all);
	json_decref(arr);
	json_decref(seen);
	free(vals);
	return r;
}

/* "other" must agree (absent is false, its default): with it false a value
 * the schema does not list is an error, with it true it is counted. */
static int merge_other(struct merge *m, json_t *const *fs, const char *name, json_t *out)
{
	int first = json_is_true(json_object_get(fs[0], "other"));

	for (size_t i = 1; i < m->n; i++) {
		int o = json_is_true(json_object_get(fs[i], "other"));

		if (o != first)
			return add_line(&m->res->conflicts, &m->res->n_conflicts,
			                "features \"%s\": \"other\" %s in %s, %s in %s", name,
			                first ? "true" : "false", m->in[0].name,
			                o ? "true" : "false", m->in[i].name);
	}
	return json_object_set_new(out, "other", json_boolean(first)) == 0 ? 0 : FL_ERR_NOMEM;
}

/* "error" (the default) beats "impute". */
static int merge_missing(struct merge *m, json_t *const *fs, const char *name, json_t *out)
{
	size_t strict = m->n, loose = m->n;

	for (size_t i = 0; i < m->n; i++) {
		const char *v = json_str(fs[i], "missing");

		if (v == NULL || strcmp(v, "error") == 0) {
			if (strict == m->n)
				strict = i;
		} else if (loose == m->n)
			loose = i;
	}
	if (strict < m->n && loose < m->n &&
	    add_line(&m->res->notes, &m->res->n_notes,
	             "features \"%s\": missing \"error\" (from %s) over \"impute\" (from %s): "
	             "rows with an empty \"%s\" will be refused where it was \"impute\"",
	             name, m->in[strict].name, m->in[loose].name, name) != 0)
		return FL_ERR_NOMEM;
	return json_object_set_new(out, "missing",
	                           json_string(strict < m->n ? "error" : "impute")) == 0
	               ? 0
	               : FL_ERR_NOMEM;
}

/* The widest range; a draft without one is noted (it clips nothing). */
static int merge_clip(struct merge *m, json_t *const *fs, const char *name, json_t *out)
{
	double lo = INFINITY, hi = -INFINITY;
	size_t without = m->n;
	json_t *jc;

	for (size_t i = 0; i < m->n; i++) {
		json_t *c = json_object_get(fs[i], "clip");

		if (c == NULL) {
			if (without == m->n)
				without = i;
			continue;
		}
		lo = fmin(lo, json_number_value(json_array_get(c, 0)));
		hi = fmax(hi, json_number_value(json_array_get(c, 1)));
	}
	if (!(lo < hi))
		return 0; /* no draft has one */
	if (without < m->n &&
	    add_line(&m->res->notes, &m->res->n_notes,
	             "features \"%s\": no clip range in %s; the others' widest is proposed", name,
	             m->in[without].name) != 0)
		return FL_ERR_NOMEM;
	if ((jc = json_array()) == NULL || json_array_append_new(jc, json_real(lo)) != 0 ||
	    json_array_append_new(jc, json_real(hi)) != 0 || json_object_set_new(out, "clip", jc)) {
		return FL_ERR_NOMEM;
	}
	return 0;
}

/* The names of the drafts i with pick(i), ", "-separated, into buf. */
static void names_of(const struct merge *m, const int *pick, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < m->n && o < len; i++)
		if (pick[i])
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "",
			                      m->in[i].name);
}

/*
 * The schema round's transforms (FL_MERGE_TRANSFORMS): a numeric feature
 * gets the transform a majority of the partners proposed (more than half
 * of them), with the knots of the first of those that proposed it, and the
 * union of the clip ranges they sent (each drafted from that partner's
 * 1st and 99th percentiles; a partner with too few values near them sends
 * none, and with none sent there is no range); no transform, and no clip
 * range, without a majority.
 * A note says which partners proposed what, for every feature any partner
 * proposed a transform for.
 */
static int merge_transform(struct merge *m, json_t *const *fs, const char *name, json_t *out)
{
	static const char *const kinds[] = {"spline", "bins", "log1p"};
	size_t count[3] = {0}, best = 0, first = m->n;
	int *by = calloc(m->n, sizeof(*by)), *none = calloc(m->n, sizeof(*none));
	char who[1024], rest[1024];
	double lo = INFINITY, hi = -INFINITY;
	int r = FL_ERR_NOMEM, knots_differ = 0;
	json_t *jc;

	if (by == NULL || none == NULL)
		goto out;
	for (size_t i = 0; i < m->n; i++) {
		const char *t = json_str(fs[i], "transform");

		none[i] = 1;
		for (size_t k = 0; t != NULL && k < 3; k++)
			if (strcmp(t, kinds[k]) == 0) {
				count[k]++;
				none[i] = 0;
			}
	}
	for (size_t k = 1; k < 3; k++)
		if (count[k] > count[best])
			best = k;
	r = 0;
	if (count[0] + count[1] + count[2] == 0)
		goto out;
	for (size_t i = 0; i < m->n; i++) {
		const char *t = json_str(fs[i], "transform");

		by[i] = t != NULL && strcmp(t, kinds[best]) == 0;
	}
	names_of(m, by, who, sizeof(who));
	if (2 * count[best] <= m->n) {
		r = add_line(&m->res->notes, &m->res->n_notes,
		             "features \"%s\": no transform: %s proposed by %s, not a majority of "
		             "the %zu partners",
		             name, kinds[best], who, m->n);
		goto out;
	}
	for (size_t i = 0; i < m->n; i++) {
		json_t *c = json_object_get(fs[i], "clip");

		if (!by[i])
			continue;
		if (first == m->n)
			first = i;
		else {
			json_t *a = json_object_get(fs[i], "knots"),
			       *b = json_object_get(fs[first], "knots");

			/* json_equal() calls two absent values unequal. */
			if ((a != NULL || b != NULL) && !json_equal(a, b))
				knots_differ = 1;
		}
		if (c != NULL) {
			lo = fmin(lo, json_number_value(json_array_get(c, 0)));
			hi = fmax(hi, json_number_value(json_array_get(c, 1)));
		}
	}
	r = FL_ERR_NOMEM;
	if (json_object_set_new(out, "transform", json_string(kinds[best])) != 0 ||
	    (json_object_get(fs[first], "knots") != NULL &&
	     json_object_set(out, "knots", json_object_get(fs[first], "knots")) != 0))
		goto out;
	if (lo < hi && ((jc = json_array()) == NULL || json_object_set_new(out, "clip", jc) != 0 ||
	                json_array_append_new(jc, json_real(lo)) != 0 ||
	                json_array_append_new(jc, json_real(hi)) != 0))
		goto out;
	for (size_t i = 0; i < m->n; i++)
		none[i] = !by[i];
	names_of(m, none, rest, sizeof(rest));
	if (lo < hi)
		r = add_line(&m->res->notes, &m->res->n_notes,
		             "features \"%s\": %s proposed by %s%s%s; clip [%.15g, %.15g], the "
		             "union of their ranges%s",
		             name, kinds[best], who, rest[0] ? ", not by " : "", rest, lo, hi,
		             knots_differ ? "; knots as proposed by the first of them" : "");
	else
		r = add_line(&m->res->notes, &m->res->n_notes,
		             "features \"%s\": %s proposed by %s%s%s; no clip range was sent: "
		             "add one before training, chosen from what the column means, not "
		             "from any partner's data (knots placed from the federation's data "
		             "need it)%s",
		             name, kinds[best], who, rest[0] ? ", not by " : "", rest,
		             knots_differ ? "; knots as proposed by the first of them" : "");
out:
	free(by);
	free(none);
	return r;
}

static int fold_qsort(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int c = fl_schema_fold_cmp(x, strlen(x), y, strlen(y));

	return c != 0 ? c : strcmp(x, y);
}

/*
 * "missing_values": the union of the drafts' placeholders (each partner's
 * "Select" or "N/A" means no value wherever it occurs), once each as they
 * match (trimmed, in any ASCII case), in that order. objs[i] may be NULL.
 */
static int merge_placeholders(struct merge *m, json_t *const *objs, json_t *out)
{
	const char **v = NULL;
	size_t n = 0, cap = 0;
	json_t *arr = NULL, *e;
	int r = FL_ERR_NOMEM;

	for (size_t i = 0; i < m->n; i++) {
		json_t *l = objs[i] != NULL ? json_object_get(objs[i], "missing_values") : NULL;
		size_t k;

		json_array_foreach(l, k, e)
		{
			if (!json_is_string(e))
				continue; /* fl_schema_parse() names it in the result */
			if (n == cap) {
				const char **nv =
				        realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

				if (nv == NULL)
					goto out;
				v = nv;
			}
			v[n++] = json_string_value(e);
		}
	}
	r = 0;
	if (n == 0)
		goto out;
	qsort(v, n, sizeof(*v), fold_qsort);
	r = FL_ERR_NOMEM;
	if ((arr = json_array()) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((i == 0 ||
		     fl_schema_fold_cmp(v[i - 1], strlen(v[i - 1]), v[i], strlen(v[i])) != 0) &&
		    json_array_append_new(arr, json_string(v[i])) != 0)
			goto out;
	r = json_object_set(out, "missing_values", arr) == 0 ? 0 : FL_ERR_NOMEM;
out:
	json_decref(arr);
	free(v);
	return r;
}

/*
 * A date's reference day: the latest of the drafts' (each drafts the first
 * of the month after its own latest date, so every partner's ages stay
 * positive), with a note when they differ. "YYYY-MM-DD" texts compare as
 * the days they name; fl_schema_parse() checks the result.
 */
static int merge_reference(struct merge *m, json_t *const *fs, const char *name, json_t *out)
{
	size_t late = 0, differ = 0;

	for (size_t i = 1; i < m->n; i++) {
		const char *a = json_str(fs[late], "reference"), *b = json_str(fs[i], "reference");

		if (a == NULL || b == NULL)
			continue;
		if (strcmp(b, a) != 0)
			differ = 1;
		if (strcmp(b, a) > 0)
			late = i;
	}
	if (json_str(fs[late], "reference") == NULL)
		return 0;
	if (differ && add_line(&m->res->notes, &m->res->n_notes,
	                       "features \"%s\": reference %s, the latest (from %s): ages count "
	                       "from there at every partner",
	                       name, json_str(fs[late], "reference"), m->in[late].name) != 0)
		return FL_ERR_NOMEM;
	return json_object_set(out, "reference", json_object_get(fs[late], "reference")) == 0
	               ? 0
	               : FL_ERR_NOMEM;
}

static int merge_feature(struct merge *m, const char *name, json_t *feats)
{
	static const char *const known[] = {"name",      "type",           "missing",
	                                    "clip",      "values",         "other",
	                                    "reference", "missing_values", NULL};
	static const char *const known_transforms[] = {
	        "name",      "type",           "missing",   "clip",  "values", "other",
	        "reference", "missing_values", "transform", "knots", NULL};
	json_t **fs = calloc(m->n, sizeof(*fs)), *out = NULL;
	const char *type;
	size_t has = m->n; /* the first draft that has it */
	int r = FL_ERR_NOMEM, complete = 1;

	if (fs == NULL)
		goto out;
	for (size_t i = 0; i < m->n; i++)
		if ((fs[i] = find_feature(m, i, name)) != NULL && has == m->n)
			has = i;
	for (size_t i = 0; i < m->n; i++) {
		if (fs[i] != NULL)
			continue;
		complete = 0;
		if (add_line(&m->res->conflicts, &m->res->n_conflicts,
		             is_ignored(m, i, name)
		                     ? "features \"%s\": a feature in %s, ignored in %s"
		                     : "features \"%s\": a feature in %s, no such column in %s",
		             name, m->in[has].name, m->in[i].name) != 0)
			goto out;
	}
	r = 0;
	if (!complete)
		goto out;
	type = json_str(fs[0], "type");
	for (size_t i = 1; i < m->n; i++) {
		if (strcmp(type, json_str(fs[i], "type")) == 0)
			continue;
		r = add_line(&m->res->conflicts, &m->res->n_conflicts,
		             "features \"%s\": type %s in %s, %s in %s", name, type, m->in[0].name,
		             json_str(fs[i], "type"), m->in[i].name);
		goto out;
	}
	r = FL_ERR_NOMEM;
	if ((out = json_object()) == NULL ||
	    json_object_set_new(out, "name", json_string(name)) != 0 ||
	    json_object_set_new(out, "type", json_string(type)) != 0)
		goto out;
	if (strcmp(type, "numeric") == 0 && (m->flags & FL_MERGE_TRANSFORMS)) {
		if ((r = merge_missing(m, fs, name, out)) != 0 ||
		    (r = merge_transform(m, fs, name, out)) != 0)
			goto out;
	} else if (strcmp(type, "numeric") == 0 || strcmp(type, "date") == 0) {
		if ((r = merge_missing(m, fs, name, out)) != 0 ||
		    (r = merge_clip(m, fs, name, out)) != 0 ||
		    (r = merge_reference(m, fs, name, out)) != 0)
			goto out;
	} else if (strcmp(type, "categorical") == 0) {
		if ((r = merge_values(m, fs, name, out)) != 0 ||
		    (r = merge_other(m, fs, name, out)) != 0)
			goto out;
	}
	{
		/* A type this version does not know merges every key but the
		 * name and type by the generic rule. */
		static const char *const unknown_type[] = {"name", "type", NULL};
		char where[512];
		int mine = strcmp(type, "numeric") == 0 || strcmp(type, "categorical") == 0 ||
		           strcmp(type, "date") == 0;

		snprintf(where, sizeof(where), "features \"%s\": ", name);
		if ((r = merge_generic(m, fs,
		                       !mine ? unknown_type
		                       : (m->flags & FL_MERGE_TRANSFORMS) &&
		                                       strcmp(type, "numeric") == 0
		                               ? known_transforms
		                               : known,
		                       where, out)) != 0 ||
		    (mine && (r = merge_placeholders(m, fs, out)) != 0))
			goto out;
	}
	r = json_array_append(feats, out) == 0 ? 0 : FL_ERR_NOMEM;
out:
	json_decref(out);
	free(fs);
	return r;
}

/* Every feature of every draft, in the order of first appearance. */
static int merge_features(struct merge *m, json_t *out)
{
	json_t *feats = json_array(), *done = json_object();
	int r = FL_ERR_NOMEM;

	if (feats == NULL || done == NULL)
		goto out;
	r = 0;
	for (size_t i = 0; i < m->n && r == 0; i++) {
		json_t *f;
		size_t k;

		json_array_foreach(json_object_get(m->root[i], "features"), k, f)
		{
			const char *name = json_str(f, "name");

			if (json_object_get(done, name) != NULL)
				continue;
			json_object_set_new(done, name, json_true());
			if ((r = merge_feature(m, name, feats)) != 0)
				break;
		}
	}
	if (r == 0)
		r = json_object_set(out, "features", feats) == 0 ? 0 : FL_ERR_NOMEM;
out:
	json_decref(feats);
	json_decref(done);
	return r;
}

/* The union of the ignore lists; a column ignored at one partner and a
 * feature at another was reported by merge_feature(). */
static int merge_ignore(struct merge *m, json_t *out)
{
	json_t *ign = json_array(), *seen = json_object();
	int r = FL_ERR_NOMEM;

	if (ign == NULL || seen == NULL)
		goto out;
	for (size_t i = 0; i < m->n; i++) {
		json_t *v;
		size_t k;

		json_array_foreach(json_object_get(m->root[i], "ignore"), k, v)
		{
			const char *name = json_string_value(v);
			int feature = 0;

			if (json_object_get(seen, name) != NULL)
				continue;
			json_object_set_new(seen, name, json_true());
			for (size_t j = 0; j < m->n && !feature; j++)
				feature = find_feature(m, j, name) != NULL;
			if (!feature && json_array_append(ign, v) != 0)
				goto out;
		}
	}
	r = json_object_set(out, "ignore", ign) == 0 ? 0 : FL_ERR_NOMEM;
out:
	json_decref(ign);
	json_decref(seen);
	return r;
}

static int bad(const char *name, const char *where, const char *what)
{
	return fl_fail(FL_ERR_SCHEMA, "%s: %s%s", name, where, what);
}

/* A draft has the shape of a schema: a label with three strings, features
 * with a string name and type, values strings or integers, a clip two
 * numbers, ignore a list of strings. */
/* Checks the shapes of draft `root` and indexes its features (by name, in
 * feat) and ignored columns (in ign). */
static int check_draft(json_t *root, const char *name, json_t *feat, json_t *ign_idx)
{
	json_t *label, *feats, *ign, *f, *v;
	size_t k, j;
	char where[96];

	if (!json_is_object(root))
		return bad(name, "", "a schema must be a JSON object");
	label = json_object_get(root, "label");
	if (!json_is_object(label) || !json_is_string(json_object_get(label, "column")) ||
	    !json_is_string(json_object_get(label, "positive")) ||
	    !json_is_string(json_object_get(label, "negative")))
		return bad(name, "",
		           "\"label\" must be an object with \"column\", \"positive\" and "
		           "\"negative\"");
	feats = json_object_get(root, "features");
	if (!json_is_array(feats))
		return bad(name, "", "\"features\" must be an array");
	json_array_foreach(feats, k, f)
	{
		json_t *vals = json_object_get(f, "values"), *clip = json_object_get(f, "clip");

		snprintf(where, sizeof(where), "features[%zu]: ", k);
		if (!json_is_object(f) || !json_is_string(json_object_get(f, "name")) ||
		    !json_is_string(json_object_get(f, "type")))
			return bad(name, where, "must be an object with a \"name\" and a \"type\"");
		if (json_object_get(feat, json_str(f, "name")) != NULL)
			return bad(name, where, "a second feature of the same name");
		if (json_object_set(feat, json_str(f, "name"), f) != 0)
			return FL_ERR_NOMEM;
		if (vals != NULL && !json_is_array(vals))
			return bad(name, where, "\"values\" must be an array");
		json_array_foreach(vals, j, v)
		{
			if (!json_is_string(v) && !json_is_integer(v))
				return bad(name, where, "values must be strings or integers");
		}
		if (clip != NULL && (!json_is_array(clip) || json_array_size(clip) != 2 ||
		                     !json_is_number(json_array_get(clip, 0)) ||
		                     !json_is_number(json_array_get(clip, 1))))
			return bad(name, where, "\"clip\" must be [low, high], two numbers");
		if (json_object_get(f, "missing") != NULL &&
		    !json_is_string(json_object_get(f, "missing")))
			return bad(name, where, "\"missing\" must be a string");
	}
	ign = json_object_get(root, "ignore");
	if (ign != NULL && !json_is_array(ign))
		return bad(name, "", "\"ignore\" must be an array");
	json_array_foreach(ign, k, v)
	{
		if (!json_is_string(v))
			return bad(name, "", "\"ignore\" must list column names");
		if (json_object_set(ign_idx, json_string_value(v), json_true()) != 0)
			return FL_ERR_NOMEM;
	}
	return 0;
}

void fl_schema_merge_result_free(struct fl_schema_merge_result *res)
{
	if (res == NULL)
		return;
	free(res->json);
	for (size_t i = 0; i < res->n_conflicts; i++)
		free(res->conflicts[i]);
	free(res->conflicts);
	for (size_t i = 0; i < res->n_notes; i++)
		free(res->notes[i]);
	free(res->notes);
	*res = (struct fl_schema_merge_result){0};
}

int fl_schema_merge(const struct fl_schema_merge_input *in, size_t n,
                    struct fl_schema_merge_result *res)
{
	return fl_schema_merge_opts(in, n, 0, res);
}

int fl_schema_merge_opts(const struct fl_schema_merge_input *in, size_t n, unsigned flags,
                         struct fl_schema_merge_result *res)
{
	static const char *const top_known[] = {"label", "features",       "ignore", "comment",
	                                        "id",    "missing_values", NULL};
	struct merge m = {.in = in, .n = n, .flags = flags, .res = res};
	json_t *out = NULL, **ids = NULL;
	struct fl_schema *check = NULL;
	char *text = NULL;
	int r;

	*res = (struct fl_schema_merge_result){0};
	if (n == 0)
		return fl_fail(FL_ERR_INVALID, "no drafts to merge");
	if ((m.root = calloc(n, sizeof(*m.root))) == NULL ||
	    (m.feat_idx = calloc(n, sizeof(*m.feat_idx))) == NULL ||
	    (m.ign_idx = calloc(n, sizeof(*m.ign_idx))) == NULL ||
	    (ids = calloc(n, sizeof(*ids))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	/* The shapes the rules rely on; everything else about a draft is
	 * judged by fl_schema_parse() on the merged schema, so that keys of a
	 * newer draft reach the rules below instead of stopping here. */
	for (size_t i = 0; i < n; i++) {
		json_error_t jerr;

		if ((m.root[i] = json_loadb(in[i].json, in[i].len, JSON_REJECT_DUPLICATES,
		                            &jerr)) == NULL) {
			r = fl_fail(FL_ERR_SCHEMA, "%s:%d:%d: %s", in[i].name, jerr.line,
			            jerr.column, jerr.text);
			goto out;
		}
		if ((m.feat_idx[i] = json_object()) == NULL ||
		    (m.ign_idx[i] = json_object()) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		if ((r = check_draft(m.root[i], in[i].name, m.feat_idx[i], m.ign_idx[i])) != 0)
			goto out;
	}
	r = FL_ERR_NOMEM;
	if ((out = json_object()) == NULL)
		goto out;
	json_object_set_new(out, "comment",
	                    json_string("Merged by fedlead-node schema merge from the partners' "
	                                "drafts: review every feature before approving it."));
	/* "id": null is what an absent id means. */
	for (size_t i = 0; i < n; i++) {
		ids[i] = json_object_get(m.root[i], "id");
		if (json_is_null(ids[i]))
			ids[i] = NULL;
	}
	{
		size_t d = first_differing(ids, n);

		if (d < n && (r = conflict_value(&m, "", "id", 0, ids[0], d, ids[d])) != 0)
			goto out;
		if (d == n && ids[0] != NULL)
			json_object_set(out, "id", ids[0]);
	}
	if ((r = merge_generic(&m, m.root, top_known, "", out)) != 0 ||
	    (r = merge_placeholders(&m, m.root, out)) != 0 || (r = merge_label(&m, out)) != 0 ||
	    (r = merge_features(&m, out)) != 0 || (r = merge_ignore(&m, out)) != 0)
		goto out;
	if (res->n_conflicts > 0) {
		r = fl_fail(
		        FL_ERR_SCHEMA,
		        "the drafts disagree on %zu point%s: edit one draft so that they agree, "
		        "then merge again",
		        res->n_conflicts, res->n_conflicts == 1 ? "" : "s");
		goto out;
	}
	if ((text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	/* What the rules made must be a schema: a column that is the label in
	 * one draft and a feature in another, say, is caught here. */
	if ((r = fl_schema_parse(text, strlen(text), "the merged schema", &check)) != 0)
		goto out;
	res->json = text;
	text = NULL;
	r = 0;
out:
	fl_schema_free(check);
	free(text);
	json_decref(out);
	for (size_t i = 0; m.root != NULL && i < n; i++) {
		json_decref(m.root[i]);
		if (m.feat_idx != NULL)
			json_decref(m.feat_idx[i]);
		if (m.ign_idx != NULL)
			json_decref(m.ign_idx[i]);
	}
	free(m.root);
	free(m.feat_idx);
	free(m.ign_idx);
	free(ids);
	return r;
}
