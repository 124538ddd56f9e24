/*
 * Lead schema: parsing, validation, canonical form and fingerprint.
 */
#include "fedlead/schema.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fedlead/csv.h"
#include "fedlead/error.h"
#include "fedlead/splitmix.h"
#include "fedlead/utf8.h"

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

static void free_strv(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void fl_schema_free(struct fl_schema *s)
{
	if (s == NULL)
		return;
	free(s->label);
	free(s->positive);
	free(s->negative);
	free(s->id);
	for (size_t i = 0; i < s->n_features; i++) {
		free(s->features[i].name);
		free_strv(s->features[i].values, s->features[i].n_values);
	}
	free(s->features);
	free_strv(s->ignore, s->n_ignore);
	free(s->canonical);
	free(s);
}

/* Only these keys are accepted, so that a typo ("lable") is an error and not
 * a silently different contract. */
static int check_keys(json_t *obj, const char *const *allowed, const char *origin,
                      const char *where)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		size_t i;

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return fl_fail(FL_ERR_SCHEMA, "%s: %sunknown key \"%s\"", origin, where,
			               key);
	}
	return 0;
}

/* A required, non-empty string member. */
static int get_string(json_t *obj, const char *key, int required, const char *origin,
                      const char *where, char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return fl_fail(FL_ERR_SCHEMA, "%s: %smissing \"%s\"", origin, where, key);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0)
		return fl_fail(FL_ERR_SCHEMA, "%s: %s\"%s\" must be a non-empty string", origin,
		               where, key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fl_fail(FL_ERR_SCHEMA, "%s: %s\"%s\" contains a NUL character", origin,
		               where, key);
	if ((*out = xstrdup(json_string_value(v))) == NULL)
		return FL_ERR_NOMEM;
	return 0;
}

/* Category values may be written as strings or integers (for integer-coded
 * columns); both become the text a CSV field must match. */
static int category_text(json_t *v, char **out)
{
	char buf[32];

	*out = NULL;
	if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
		*out = xstrdup(json_string_value(v));
	else if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		*out = xstrdup(buf);
	} else
		return FL_ERR_SCHEMA;
	return *out == NULL ? FL_ERR_NOMEM : 0;
}

static int strcmp_qsort(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *const dialect_keys[] = {"delimiter", "encoding", "decimal",
                                           "thousands", "currency", NULL};

/* Reads the dialect keys of obj into *d (the file's, or one feature's
 * number format); *set gets the FL_DIALECT_* bit of each key given. */
static int parse_dialect_keys(json_t *obj, const char *origin, const char *where,
                              const char *const *keys, struct fl_csv_dialect *d, unsigned *set)
{
	char *text = NULL, what[96];
	int r = 0;

	for (size_t i = 0; keys[i] != NULL && r == 0; i++) {
		if ((r = get_string(obj, keys[i], 0, origin, where, &text)) != 0 || text == NULL)
			continue;
		snprintf(what, sizeof(what), "%s%s", where, keys[i]);
		if ((r = fl_csv_dialect_set(d, set, keys[i], what, text)) != 0)
			r = fl_fail(FL_ERR_SCHEMA, "%s: %s", origin, fl_errmsg());
		free(text);
		text = NULL;
	}
	return r;
}

/*
 * A numeric feature's own number format ("decimal", "thousands",
 * "currency"), over the file's: a CRM may write money as "$1,234" and
 * every other number plainly. Like the file's dialect, it says how values
 * are written, not what they mean, so it stays out of the fingerprint.
 */
static int parse_number_format(json_t *jf, const char *origin, const char *where,
                               struct fl_feature *f)
{
	static const char *const keys[] = {"decimal", "thousands", "currency", NULL};
	struct fl_csv_dialect d = {0};
	int r;

	if ((r = parse_dialect_keys(jf, origin, where, keys, &d, &f->number_set)) == 0)
		f->number = d.number;
	return r;
}

/*
 * A numeric feature's "clip": [low, high], two finite numbers with low below
 * high. Errors name the JSON path and the feature. The bounds are limited
 * to FL_SCHEMA_MAX_CLIP so that sums of their squares stay finite.
 */
static int parse_clip(json_t *jc, size_t idx, const char *origin, struct fl_feature *f)
{
	double b[2];

	if (!json_is_array(jc) || json_array_size(jc) != 2 ||
	    !json_is_number(json_array_get(jc, 0)) || !json_is_number(json_array_get(jc, 1)))
		return fl_fail(
		        FL_ERR_SCHEMA,
		        "%s: features[%zu].clip (feature \"%.40s\"): must be [low, high], two "
		        "numbers",
		        origin, idx, f->name);
	for (int k = 0; k < 2; k++) {
		/* + 0.0 turns -0 into 0, so that both write the same canonical
		 * text. */
		b[k] = json_number_value(json_array_get(jc, (size_t)k)) + 0.0;
		if (!isfinite(b[k]) || fabs(b[k]) > FL_SCHEMA_MAX_CLIP)
			return fl_fail(
			        FL_ERR_SCHEMA,
			        "%s: features[%zu].clip[%d] (feature \"%.40s\"): %.17g is not a "
			        "finite number from -1e15 to 1e15",
			        origin, idx, k, f->name, b[k]);
	}
	if (!(b[0] < b[1]))
		return fl_fail(
		        FL_ERR_SCHEMA,
		        "%s: features[%zu].clip (feature \"%.40s\"): the low bound %.17g is not "
		        "below the high bound %.17g",
		        origin, idx, f->name, b[0], b[1]);
	f->has_clip = 1;
	f->clip_lo = b[0];
	f->clip_hi = b[1];
	return 0;
}

static int parse_feature(json_t *jf, size_t idx, const char *origin, struct fl_feature *f)
{
	static const char *const num_keys[] = {"name",    "type",      "missing",  "clip",
	                                       "decimal", "thousands", "currency", NULL};
	static const char *const cat_keys[] = {"name", "type", "values", "other", NULL};
	char where[64], *type = NULL, *missing = NULL, **sorted = NULL;
	json_t *values, *other;
	int r;

	snprintf(where, sizeof(where), "features[%zu]: ", idx);
	if (!json_is_object(jf))
		return fl_fail(FL_ERR_SCHEMA, "%s: %smust be an object", origin, where);
	if ((r = get_string(jf, "name", 1, origin, where, &f->name)) != 0)
		goto out;
	snprintf(where, sizeof(where), "feature \"%.40s\": ", f->name);
	if ((r = get_string(jf, "type", 1, origin, where, &type)) != 0)
		goto out;
	if (strcmp(type, "numeric") == 0) {
		f->type = FL_NUMERIC;
		if ((r = check_keys(jf, num_keys, origin, where)) != 0)
			goto out;
		if ((r = get_string(jf, "missing", 0, origin, where, &missing)) != 0)
			goto out;
		if (missing == NULL || strcmp(missing, "error") == 0)
			f->missing = FL_MISSING_ERROR;
		else if (strcmp(missing, "impute") == 0)
			f->missing = FL_MISSING_IMPUTE;
		else {
			r = fl_fail(FL_ERR_SCHEMA,
			            "%s: %sunknown missing policy \"%s\" (expected \"error\" or "
			            "\"impute\")",
			            origin, where, missing);
			goto out;
		}
		f->enc_width = f->missing == FL_MISSING_IMPUTE ? 2 : 1;
		if ((r = parse_number_format(jf, origin, where, f)) != 0 ||
		    (json_object_get(jf, "clip") != NULL &&
		     (r = parse_clip(json_object_get(jf, "clip"), idx, origin, f)) != 0))
			goto out;
	} else if (strcmp(type, "categorical") == 0) {
		f->type = FL_CATEGORICAL;
		/* Said plainly rather than as an unknown key: a clip range on a
		 * one-hot block means nothing (each row adds 1 to one column). */
		if (json_object_get(jf, "clip") != NULL) {
			r = fl_fail(FL_ERR_SCHEMA,
			            "%s: features[%zu].clip (feature \"%.40s\"): a clip range "
			            "applies to "
			            "numeric features only",
			            origin, idx, f->name);
			goto out;
		}
		if ((r = check_keys(jf, cat_keys, origin, where)) != 0)
			goto out;
		values = json_object_get(jf, "values");
		if (!json_is_array(values) || json_array_size(values) == 0) {
			r = fl_fail(FL_ERR_SCHEMA, "%s: %s\"values\" must be a non-empty array",
			            origin, where);
			goto out;
		}
		if (json_array_size(values) > FL_SCHEMA_MAX_VALUES) {
			r = fl_fail(FL_ERR_SCHEMA, "%s: %smore than %d values", origin, where,
			            FL_SCHEMA_MAX_VALUES);
			goto out;
		}
		other = json_object_get(jf, "other");
		if (other != NULL && !json_is_boolean(other)) {
			r = fl_fail(FL_ERR_SCHEMA, "%s: %s\"other\" must be true or false", origin,
			            where);
			goto out;
		}
		f->other = other != NULL && json_is_true(other);
		f->n_values = json_array_size(values);
		if ((f->values = calloc(f->n_values, sizeof(*f->values))) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		for (size_t i = 0; i < f->n_values; i++) {
			if ((r = category_text(json_array_get(values, i), &f->values[i])) != 0) {
				if (r == FL_ERR_SCHEMA)
					r = fl_fail(FL_ERR_SCHEMA,
					            "%s: %svalues[%zu] must be a string or an "
					            "integer",
					            origin, where, i);
				goto out;
			}
		}
		/* Sorted, so that 10,000 values cost a sort and not 50 million
		 * comparisons (schemas also arrive from peers). */
		if ((sorted = malloc(f->n_values * sizeof(*sorted))) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		memcpy(sorted, f->values, f->n_values * sizeof(*sorted));
		qsort(sorted, f->n_values, sizeof(*sorted), strcmp_qsort);
		for (size_t i = 1; i < f->n_values; i++)
			if (strcmp(sorted[i - 1], sorted[i]) == 0) {
				r = fl_fail(FL_ERR_SCHEMA, "%s: %svalue \"%s\" is listed twice",
				            origin, where, sorted[i]);
				goto out;
			}
		f->enc_width = f->n_values + (f->other ? 1 : 0);
	} else {
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: %sunknown type \"%s\" (expected \"numeric\" or \"categorical\")",
		            origin, where, type);
		goto out;
	}
	r = 0;
out:
	free(sorted);
	free(type);
	free(missing);
	return r;
}

/* Every column may play one role only: two roles for one header name would
 * make the encoding depend on which one wins. */
static int check_unique_columns(const struct fl_schema *s, const char *origin)
{
	size_t n = 2 + (s->id != NULL) + s->n_features + s->n_ignore, k = 0;
	const char **names = malloc(n * sizeof(*names));
	int r = 0;

	if (names == NULL)
		return FL_ERR_NOMEM;
	names[k++] = s->label;
	if (s->id != NULL)
		names[k++] = s->id;
	for (size_t i = 0; i < s->n_features; i++)
		names[k++] = s->features[i].name;
	for (size_t i = 0; i < s->n_ignore; i++)
		names[k++] = s->ignore[i];
	/* Quadratic, but schemas are small and this runs once. */
	for (size_t i = 0; i < k && r == 0; i++)
		for (size_t j = i + 1; j < k; j++)
			if (strcmp(names[i], names[j]) == 0) {
				r = fl_fail(FL_ERR_SCHEMA,
				            "%s: column \"%s\" is named more than once", origin,
				            names[i]);
				break;
			}
	free(names);
	return r;
}

/* The canonical form: every default explicit, keys sorted, no blanks, ASCII
 * only. Equal canonical text means equal encoding. */
static int make_canonical(struct fl_schema *s)
{
	json_t *root = json_object(), *label = json_object(), *feats = json_array(),
	       *ign = json_array();
	int r = FL_ERR_NOMEM;
	char **sorted = NULL;

	if (root == NULL || label == NULL || feats == NULL || ign == NULL)
		goto out;
	json_object_set_new(label, "column", json_string(s->label));
	json_object_set_new(label, "positive", json_string(s->positive));
	json_object_set_new(label, "negative", json_string(s->negative));
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		json_t *jf = json_object(), *vals;

		if (jf == NULL || json_array_append_new(feats, jf) != 0)
			goto out;
		json_object_set_new(jf, "name", json_string(f->name));
		if (f->type == FL_NUMERIC) {
			json_object_set_new(jf, "type", json_string("numeric"));
			json_object_set_new(
			        jf, "missing",
			        json_string(f->missing == FL_MISSING_IMPUTE ? "impute" : "error"));
			/* Only when present: a schema without clip ranges keeps the
			 * canonical text (and fingerprint) it always had. Reals are
			 * written with 17 digits, so [0, 1] and [0.0, 1.0] agree. */
			if (f->has_clip) {
				json_t *jc = json_array();

				if (jc == NULL || json_object_set_new(jf, "clip", jc) != 0 ||
				    json_array_append_new(jc, json_real(f->clip_lo)) != 0 ||
				    json_array_append_new(jc, json_real(f->clip_hi)) != 0)
					goto out;
			}
			continue;
		}
		json_object_set_new(jf, "type", json_string("categorical"));
		json_object_set_new(jf, "other", json_boolean(f->other));
		if ((vals = json_array()) == NULL)
			goto out;
		json_object_set_new(jf, "values", vals);
		for (size_t j = 0; j < f->n_values; j++)
			json_array_append_new(vals, json_string(f->values[j]));
	}
	/* The order of ignored columns carries no meaning, so it is normalised. */
	if (s->n_ignore > 0) {
		if ((sorted = malloc(s->n_ignore * sizeof(*sorted))) == NULL)
			goto out;
		memcpy(sorted, s->ignore, s->n_ignore * sizeof(*sorted));
		qsort(sorted, s->n_ignore, sizeof(*sorted), strcmp_qsort);
		for (size_t i = 0; i < s->n_ignore; i++)
			json_array_append_new(ign, json_string(sorted[i]));
	}
	json_object_set_new(root, "fedlead_schema", json_integer(FL_SCHEMA_VERSION));
	json_object_set(root, "label", label);
	json_object_set_new(root, "id", s->id ? json_string(s->id) : json_null());
	json_object_set(root, "features", feats);
	json_object_set(root, "ignore", ign);
	s->canonical = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (s->canonical == NULL)
		goto out;
	if (EVP_Digest(s->canonical, strlen(s->canonical), s->fingerprint, NULL, EVP_sha256(),
	               NULL) != 1) {
		r = fl_fail(FL_ERR_CRYPTO, "SHA-256 of the schema failed");
		goto out;
	}
	r = 0;
out:
	free(sorted);
	json_decref(root);
	json_decref(label);
	json_decref(feats);
	json_decref(ign);
	return r;
}

/*
 * The dialect keys: how this partner's files are written ("delimiter": ";",
 * "encoding": "windows-1252"). They are left out of the canonical form, and
 * so of the fingerprint, on purpose: a dialect is a property of one
 * partner's export, not of the model. Partners whose CRMs write different
 * files must still agree on one fingerprint, and a model means the same
 * whichever separator its rows were read with (as a column mapping never
 * changes the fingerprint either).
 */
static int parse_dialect(json_t *root, const char *origin, struct fl_schema *s)
{
	return parse_dialect_keys(root, origin, "", dialect_keys, &s->dialect, NULL);
}

int fl_schema_parse(const char *json, size_t len, const char *origin, struct fl_schema **out)
{
	static const char *const top_keys[] = {
	        "fedlead_schema", "label",    "id",      "features",  "ignore",   "comment",
	        "delimiter",      "encoding", "decimal", "thousands", "currency", NULL};
	static const char *const label_keys[] = {"column", "positive", "negative", NULL};
	struct fl_schema *s = NULL;
	json_t *root = NULL, *v, *label, *feats, *ign;
	json_error_t jerr;
	int r;

	*out = NULL;
	if (len > FL_SCHEMA_MAX_BYTES)
		return fl_fail(FL_ERR_SCHEMA, "%s: schema larger than %u bytes", origin,
		               FL_SCHEMA_MAX_BYTES);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		r = fl_fail(FL_ERR_SCHEMA, "%s:%d:%d: %s", origin, jerr.line, jerr.column,
		            jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		r = fl_fail(FL_ERR_SCHEMA, "%s: the schema must be a JSON object", origin);
		goto out;
	}
	if ((r = check_keys(root, top_keys, origin, "")) != 0)
		goto out;
	v = json_object_get(root, "fedlead_schema");
	if (v == NULL) {
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: missing \"fedlead_schema\": %d (the format version)", origin,
		            FL_SCHEMA_VERSION);
		goto out;
	}
	if (!json_is_integer(v)) {
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: \"fedlead_schema\" must be the integer %d (the format version)",
		            origin, FL_SCHEMA_VERSION);
		goto out;
	}
	if (json_integer_value(v) != FL_SCHEMA_VERSION) {
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: schema format version %lld is not supported (this fedlead reads "
		            "version %d)",
		            origin, (long long)json_integer_value(v), FL_SCHEMA_VERSION);
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	label = json_object_get(root, "label");
	if (!json_is_object(label)) {
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: \"label\" must be an object with \"column\", \"positive\" and "
		            "\"negative\"",
		            origin);
		goto out;
	}
	if ((r = check_keys(label, label_keys, origin, "label: ")) != 0 ||
	    (r = get_string(label, "column", 1, origin, "label: ", &s->label)) != 0 ||
	    (r = get_string(label, "positive", 1, origin, "label: ", &s->positive)) != 0 ||
	    (r = get_string(label, "negative", 1, origin, "label: ", &s->negative)) != 0)
		goto out;
	if (strcmp(s->positive, s->negative) == 0) {
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: label: \"positive\" and \"negative\" are both \"%s\"", origin,
		            s->positive);
		goto out;
	}
	if ((r = get_string(root, "id", 0, origin, "", &s->id)) != 0 ||
	    (r = parse_dialect(root, origin, s)) != 0)
		goto out;

	feats = json_object_get(root, "features");
	if (!json_is_array(feats) || json_array_size(feats) == 0) {
		r = fl_fail(FL_ERR_SCHEMA, "%s: \"features\" must be a non-empty array", origin);
		goto out;
	}
	if (json_array_size(feats) > FL_SCHEMA_MAX_FEATURES) {
		r = fl_fail(FL_ERR_SCHEMA, "%s: more than %d features", origin,
		            FL_SCHEMA_MAX_FEATURES);
		goto out;
	}
	if ((s->features = calloc(json_array_size(feats), sizeof(*s->features))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	s->dim = 1; /* the intercept */
	for (size_t i = 0; i < json_array_size(feats); i++) {
		struct fl_feature *f = &s->features[i];

		s->n_features = i + 1;
		if ((r = parse_feature(json_array_get(feats, i), i, origin, f)) != 0)
			goto out;
		f->enc_offset = s->dim;
		s->dim += f->enc_width;
		if (s->dim > FL_SCHEMA_MAX_DIM) {
			r = fl_fail(FL_ERR_SCHEMA,
			            "%s: the encoded model would have more than %d "
			            "columns",
			            origin, FL_SCHEMA_MAX_DIM);
			goto out;
		}
	}

	ign = json_object_get(root, "ignore");
	if (ign != NULL) {
		if (!json_is_array(ign)) {
			r = fl_fail(FL_ERR_SCHEMA,
			            "%s: \"ignore\" must be an array of column names", origin);
			goto out;
		}
		if (json_array_size(ign) > FL_SCHEMA_MAX_FEATURES) {
			r = fl_fail(FL_ERR_SCHEMA, "%s: more than %d ignored columns", origin,
			            FL_SCHEMA_MAX_FEATURES);
			goto out;
		}
		if (json_array_size(ign) > 0 &&
		    (s->ignore = calloc(json_array_size(ign), sizeof(*s->ignore))) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		for (size_t i = 0; i < json_array_size(ign); i++) {
			v = json_array_get(ign, i);
			if (!json_is_string(v) || json_string_length(v) == 0) {
				r = fl_fail(FL_ERR_SCHEMA,
				            "%s: ignore[%zu] must be a non-empty string", origin,
				            i);
				goto out;
			}
			if ((s->ignore[i] = xstrdup(json_string_value(v))) == NULL) {
				r = FL_ERR_NOMEM;
				goto out;
			}
			s->n_ignore = i + 1;
		}
	}
	if ((r = check_unique_columns(s, origin)) != 0)
		goto out;
	if ((r = make_canonical(s)) != 0)
		goto out;
	*out = s;
	s = NULL;
	r = 0;
out:
	json_decref(root);
	fl_schema_free(s);
	return r;
}

int fl_schema_load(const char *path, struct fl_schema **out)
{
	FILE *fp;
	char *buf = NULL;
	size_t len;
	struct stat st;
	int r;

	*out = NULL;
	if ((fp = fopen(path, "rb")) == NULL)
		return fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fileno(fp), &st) != 0) {
		r = fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > FL_SCHEMA_MAX_BYTES) {
		r = fl_fail(FL_ERR_SCHEMA, "%s: not a regular file of at most %u bytes", path,
		            FL_SCHEMA_MAX_BYTES);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	len = fread(buf, 1, (size_t)st.st_size, fp);
	if (ferror(fp)) {
		r = fl_fail(FL_ERR_IO, "%s: read error", path);
		goto out;
	}
	r = fl_schema_parse(buf, len, path, out);
out:
	free(buf);
	fclose(fp);
	return r;
}

void fl_schema_fingerprint_hex(const struct fl_schema *s, char out[65])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < FL_FINGERPRINT_LEN; i++) {
		out[2 * i] = hex[s->fingerprint[i] >> 4];
		out[2 * i + 1] = hex[s->fingerprint[i] & 15];
	}
	out[64] = '\0';
}

void fl_schema_column_name(const struct fl_schema *s, size_t j, char *buf, size_t bufsz)
{
	if (bufsz == 0)
		return;
	if (j == 0) {
		snprintf(buf, bufsz, "(intercept)");
		return;
	}
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t k;

		if (j < f->enc_offset || j >= f->enc_offset + f->enc_width)
			continue;
		k = j - f->enc_offset;
		if (f->type == FL_NUMERIC)
			snprintf(buf, bufsz, k == 0 ? "%s" : "%s (missing)", f->name);
		else if (k < f->n_values)
			snprintf(buf, bufsz, "%s=%s", f->name, f->values[k]);
		else
			snprintf(buf, bufsz, "%s=(other)", f->name);
		return;
	}
	snprintf(buf, bufsz, "(column %zu)", j);
}

/* ---- Drafting a schema from a CSV ---- */

/* Columns with more distinct text values than this look like identifiers or
 * free text, not categories: the draft ignores them. */
#define DRAFT_MAX_CATEGORIES 100

/* Numeric values kept per column for the drafted clip range: a uniform
 * sample (reservoir) of at most this many, so a large file costs bounded
 * memory and the quantiles are still well within a reviewer's rounding. */
#define DRAFT_MAX_SAMPLE 100000

struct draft_col {
	int numeric, integer, missing, overflow;
	uint64_t bad_line; /* first line with a value draft_utf8() refuses, or 0 */
	char **vals;       /* sorted distinct values (up to DRAFT_MAX_CATEGORIES) */
	uint64_t *counts;  /* rows holding each of vals */
	size_t n_vals;
	double *sample; /* numeric values seen (a reservoir sample), for the clip */
	size_t n_sample, cap;
	uint64_t n_seen;
};

static int draft_add_number(struct draft_col *c, double x, uint64_t *rng)
{
	uint64_t k;

	c->n_seen++;
	if (c->n_sample < DRAFT_MAX_SAMPLE) {
		if (c->n_sample == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 64;
			double *ns;

			if (cap > DRAFT_MAX_SAMPLE)
				cap = DRAFT_MAX_SAMPLE;
			if ((ns = realloc(c->sample, cap * sizeof(*ns))) == NULL)
				return FL_ERR_NOMEM;
			c->sample = ns;
			c->cap = cap;
		}
		c->sample[c->n_sample++] = x;
		return 0;
	}
	if ((k = fl_splitmix64(rng) % c->n_seen) < DRAFT_MAX_SAMPLE)
		c->sample[k] = x;
	return 0;
}

static int double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* x rounded down (up = 0) or up (up = 1) to two significant digits. */
static double round_outward(double x, int up)
{
	double k, p, r;

	if (x == 0 || !isfinite(x))
		return x;
	/* Scaled by a power of ten that is exact (10^k for k >= 0), so that
	 * 0.013 comes out as 13 / 1000 and not as 13 * 0.001. */
	k = 1 - floor(log10(fabs(x)));
	p = pow(10, fabs(k));
	if (k >= 0)
		r = (up ? ceil(x * p) : floor(x * p)) / p;
	else
		r = (up ? ceil(x / p) : floor(x / p)) * p;
	/* Never inward, whatever the rounding of the division did. */
	if (up ? r < x : r > x)
		r = up ? nextafter(r, INFINITY) : nextafter(r, -INFINITY);
	return r;
}

/*
 * The drafted clip range of a numeric column: its 0.5 % and 99.5 %
 * quantiles (by rank in the sample; the minimum and maximum below 200
 * values), rounded outward to two significant digits. This is drafted from
 * local data for a person to review: under differential privacy the clip
 * range is part of the agreed contract and must not be re-derived from any
 * partner's data at training time (that would make the bound itself a
 * release).
 */
static void draft_clip(struct draft_col *c, double *lo, double *hi)
{
	size_t n = c->n_sample;

	qsort(c->sample, n, sizeof(*c->sample), double_cmp);
	*lo = round_outward(c->sample[(size_t)floor(0.005 * (double)(n - 1))], 0);
	*hi = round_outward(c->sample[(size_t)ceil(0.995 * (double)(n - 1))], 1);
	if (fabs(*lo) > FL_SCHEMA_MAX_CLIP)
		*lo = *lo < 0 ? -FL_SCHEMA_MAX_CLIP : FL_SCHEMA_MAX_CLIP;
	if (fabs(*hi) > FL_SCHEMA_MAX_CLIP)
		*hi = *hi < 0 ? -FL_SCHEMA_MAX_CLIP : FL_SCHEMA_MAX_CLIP;
	/* A constant column still needs a range with low below high. */
	if (!(*lo < *hi)) {
		if (*hi < FL_SCHEMA_MAX_CLIP)
			*hi = round_outward(*lo + fmax(1, fabs(*lo) * 0.01), 1);
		else
			*lo = round_outward(*hi - fmax(1, fabs(*hi) * 0.01), 0);
	}
}

/* Whether the len bytes at s are well-formed UTF-8 without NUL bytes: a
 * schema holds nothing else (jansson's json_string() returns NULL for other
 * text and stops at a NUL, which would drop or cut the name or value in the
 * draft without a word). */
static int draft_utf8(const char *s, size_t len)
{
	return fl_utf8_valid(s, len, FL_UTF8_NO_NUL);
}

static int draft_add_value(struct draft_col *c, const char *v)
{
	size_t lo = 0, hi = c->n_vals;
	uint64_t *nc;
	char **nv;

	if (c->overflow)
		return 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(c->vals[mid], v);

		if (cmp == 0) {
			c->counts[mid]++;
			return 0;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* One more distinct value than a category list may hold. */
	if (c->n_vals == DRAFT_MAX_CATEGORIES) {
		c->overflow = 1;
		return 0;
	}
	if ((nc = realloc(c->counts, (c->n_vals + 1) * sizeof(*nc))) == NULL)
		return FL_ERR_NOMEM;
	c->counts = nc;
	if ((nv = realloc(c->vals, (c->n_vals + 1) * sizeof(*nv))) == NULL)
		return FL_ERR_NOMEM;
	c->vals = nv;
	memmove(&nv[lo + 1], &nv[lo], (c->n_vals - lo) * sizeof(*nv));
	if ((nv[lo] = xstrdup(v)) == NULL) {
		memmove(&nv[lo], &nv[lo + 1], (c->n_vals - lo) * sizeof(*nv));
		return FL_ERR_NOMEM;
	}
	memmove(&nc[lo + 1], &nc[lo], (c->n_vals - lo) * sizeof(*nc));
	nc[lo] = 1;
	c->n_vals++;
	return 0;
}

/* Numbers sort as numbers so "10" comes after "9" in drafted value lists. */
static int numeric_text_cmp(const void *a, const void *b)
{
	double x = strtod(*(char *const *)a, NULL), y = strtod(*(char *const *)b, NULL);

	return (x > y) - (x < y);
}

/* The values held at least min_count times (all for min_count <= 1). */
static json_t *draft_values(struct draft_col *c, uint64_t min_count)
{
	json_t *arr = json_array();
	size_t k = 0;

	/* Dropped first, while counts[] still lines up with vals[]. */
	for (size_t i = 0; i < c->n_vals; i++) {
		if (c->counts[i] < min_count) {
			free(c->vals[i]);
			continue;
		}
		c->vals[k] = c->vals[i];
		c->counts[k++] = c->counts[i];
	}
	c->n_vals = k;
	if (c->numeric)
		qsort(c->vals, c->n_vals, sizeof(*c->vals), numeric_text_cmp);
	for (size_t i = 0; arr != NULL && i < c->n_vals; i++)
		json_array_append_new(arr, json_string(c->vals[i]));
	return arr;
}

/* Sorts pointers to the names themselves, so equal names end up adjacent and
 * their columns are recovered from the pointer's position in names[]. */
static int name_ptr_cmp(const void *a, const void *b)
{
	return strcmp(**(char **const *)a, **(char **const *)b);
}

/* A header naming a column twice cannot become a schema (every column plays
 * one role); unnamed columns are left out of the draft, so they may repeat. */
static int draft_check_header(char **names, size_t n, const char *path)
{
	char ***sorted = malloc((n ? n : 1) * sizeof(*sorted));
	int r = 0;

	if (sorted == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &names[i];
	qsort(sorted, n, sizeof(*sorted), name_ptr_cmp);
	for (size_t i = 1; i < n; i++) {
		size_t a = (size_t)(sorted[i - 1] - names), b = (size_t)(sorted[i] - names);

		if ((*sorted[i])[0] == '\0' || strcmp(*sorted[i - 1], *sorted[i]) != 0)
			continue;
		r = fl_fail(FL_ERR_DATA, "%s:1: column \"%s\" appears twice (columns %zu and %zu)",
		            path, *sorted[i], (a < b ? a : b) + 1, (a < b ? b : a) + 1);
		break;
	}
	free(sorted);
	return r;
}

/* ---- Which label value means converted ---- */

/* Words for a conversion, and for its opposite, as CRMs and data sets write
 * them; compared after label_word() has folded case, '_' and '-'. */
static const char *const positive_words[] = {
        "converted", "conversion", "won",    "closed won", "win",        "yes",        "y",
        "true",      "t",          "1",      "success",    "successful", "sale",       "sold",
        "purchased", "purchase",   "bought", "signed",     "accepted",   "subscribed", "positive",
        "customer",  "booked",     "paid",   "qualified",  "deal won",   NULL};
static const char *const negative_words[] = {
        "lost",         "closed lost", "lose",     "loss",      "no",       "n",
        "false",        "f",           "0",        "failure",   "failed",   "fail",
        "unsuccessful", "no sale",     "rejected", "declined",  "negative", "churned",
        "disqualified", "unqualified", "dead",     "deal lost", "none",     NULL};

/* v in lower case, trimmed, with '_' and '-' as blanks and runs of blanks as
 * one: "Closed_Won " and "closed-won" are both "closed won". */
static void label_word(const char *v, char *out, size_t outsz)
{
	size_t k = 0;
	int blank = 1; /* drops leading blanks */

	for (; *v != '\0' && k + 1 < outsz; v++) {
		char ch = *v;

		if (ch == '_' || ch == '-' || ch == ' ' || ch == '\t') {
			if (!blank)
				out[k++] = ' ';
			blank = 1;
			continue;
		}
		out[k++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
		blank = 0;
	}
	if (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
}

static int word_in(const char *w, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(w, *list) == 0)
			return 1;
	return 0;
}

/* 1: a word for a conversion; -1: for its opposite (or a negated
 * conversion: "not converted", "non converted", "unconverted", "did not
 * convert"); 0: neither. */
static int label_polarity(const char *v)
{
	static const char *const negations[] = {"not ",   "non ",     "no ", "un",
	                                        "never ", "did not ", NULL};
	char w[64];

	label_word(v, w, sizeof(w));
	if (word_in(w, positive_words))
		return 1;
	if (word_in(w, negative_words))
		return -1;
	for (size_t i = 0; negations[i] != NULL; i++) {
		size_t n = strlen(negations[i]);

		if (strncmp(w, negations[i], n) == 0 && w[n] != '\0' &&
		    (word_in(w + n, positive_words) || strncmp(w + n, "convert", 7) == 0))
			return -1;
	}
	return 0;
}

int fl_schema_label_positive(const char *const v[2])
{
	double x[2];
	int p[2];

	/* Numbers say only as 1 against 0 or -1: "2" against "1" could mean
	 * either (some data sets code yes as 2). */
	if (fl_parse_double(v[0], strlen(v[0]), &x[0]) == 0 &&
	    fl_parse_double(v[1], strlen(v[1]), &x[1]) == 0) {
		for (int i = 0; i < 2; i++)
			if (x[i] == 1 && (x[1 - i] == 0 || x[1 - i] == -1))
				return i;
		return -1;
	}
	p[0] = label_polarity(v[0]);
	p[1] = label_polarity(v[1]);
	for (int i = 0; i < 2; i++) {
		if (p[i] == 1 && p[1 - i] != 1)
			return i;
	}
	for (int i = 0; i < 2; i++)
		if (p[i] == 0 && p[1 - i] == -1)
			return i;
	return -1;
}

/*
 * Records the dialect the caller gave (nothing detected): the partner who
 * drafts reads the same file with the schema as it was drafted. It is
 * outside the fingerprint, so a partner whose files differ changes it
 * without changing the contract.
 */
static void draft_dialect(json_t *root, const struct fl_csv_dialect *d)
{
	if (d->delimiter != 0)
		json_object_set_new(root, "delimiter",
		                    json_string(fl_csv_delimiter_name(d->delimiter)));
	if (d->encoding != FL_CSV_UTF8)
		json_object_set_new(root, "encoding",
		                    json_string(fl_csv_encoding_name(d->encoding)));
	if (d->number.decimal == ',')
		json_object_set_new(root, "decimal", json_string(","));
	if (d->number.thousands[0] != '\0')
		json_object_set_new(root, "thousands", json_string(d->number.thousands));
	if (d->number.currency[0] != '\0')
		json_object_set_new(root, "currency", json_string(d->number.currency));
}

int fl_schema_draft(const char *csv_path, const char *label, const char *id, size_t max_levels,
                    char **json_out)
{
	struct fl_schema_draft_opts o = {.label = label, .id = id, .max_levels = max_levels};

	return fl_schema_draft_opts(csv_path, &o, json_out);
}

int fl_schema_draft_opts(const char *csv_path, const struct fl_schema_draft_opts *o,
                         char **json_out)
{
	const char *label = o->label, *id = o->id;
	size_t max_levels = o->max_levels;
	struct fl_csv *csv = NULL;
	struct fl_csv_record rec;
	struct draft_col *cols = NULL;
	char **names = NULL;
	size_t ncol = 0, label_col = SIZE_MAX, id_col = SIZE_MAX;
	uint64_t n_rows = 0;
	uint64_t rng = 0x666c2d636c6970ull;
	json_t *root = NULL, *feats, *ign, *jl;
	int r, pos;

	*json_out = NULL;
	if (label == NULL)
		return fl_fail(FL_ERR_INVALID, "no label column given");
	if (id != NULL && strcmp(id, label) == 0)
		return fl_fail(FL_ERR_INVALID, "the id column and the label column are both \"%s\"",
		               id);
	if ((r = fl_csv_open_dialect(csv_path, &o->dialect, &csv)) != 0)
		goto out;
	if ((r = fl_csv_next(csv, &rec)) <= 0) {
		if (r == 0)
			r = fl_fail(FL_ERR_DATA, "%s: the file is empty (no header)", csv_path);
		goto out;
	}
	ncol = rec.n_fields;
	if ((cols = calloc(ncol, sizeof(*cols))) == NULL ||
	    (names = calloc(ncol, sizeof(*names))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < ncol; i++) {
		if (!draft_utf8(rec.fields[i].s, rec.fields[i].len)) {
			r = fl_fail(FL_ERR_DATA,
			            "%s:1: the name of column %zu is not UTF-8 text without NUL "
			            "bytes (convert the file to UTF-8)",
			            csv_path, i + 1);
			goto out;
		}
		if ((names[i] = xstrdup(rec.fields[i].s)) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		cols[i].numeric = cols[i].integer = 1;
		if (strcmp(names[i], label) == 0)
			label_col = i;
		if (id != NULL && strcmp(names[i], id) == 0)
			id_col = i;
	}
	if ((r = draft_check_header(names, ncol, csv_path)) != 0)
		goto out;
	if (label_col == SIZE_MAX) {
		r = fl_fail(FL_ERR_DATA, "%s:1: label column \"%s\" is not in the header", csv_path,
		            label);
		goto out;
	}
	/* A drafted id that the file lacks would only fail later, at binding. */
	if (id != NULL && id_col == SIZE_MAX) {
		r = fl_fail(FL_ERR_DATA, "%s:1: id column \"%s\" is not in the header", csv_path,
		            id);
		goto out;
	}
	while ((r = fl_csv_next(csv, &rec)) == 1) {
		n_rows++;
		if (rec.n_fields != ncol) {
			r = fl_fail(FL_ERR_DATA, "%s:%llu: %zu fields, but the header has %zu",
			            csv_path, (unsigned long long)rec.line, rec.n_fields, ncol);
			goto out;
		}
		for (size_t i = 0; i < ncol; i++) {
			const struct fl_csv_field *f = &rec.fields[i];
			double x;

			if (f->len == 0) {
				cols[i].missing = 1;
				continue;
			}
			if (cols[i].numeric &&
			    fl_parse_number(f->s, f->len, &o->dialect.number, &x) != 0)
				cols[i].numeric = 0;
			if (cols[i].numeric && (fabs(x) >= 9e15 || x != trunc(x)))
				cols[i].integer = 0;
			if (cols[i].numeric && (r = draft_add_number(&cols[i], x, &rng)) != 0)
				goto out;
			if (!cols[i].overflow && cols[i].bad_line == 0 && !draft_utf8(f->s, f->len))
				cols[i].bad_line = rec.line;
			if ((r = draft_add_value(&cols[i], f->s)) != 0)
				goto out;
		}
	}
	if (r < 0)
		goto out;
	if (n_rows == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no data rows (the file has only a header)", csv_path);
		goto out;
	}
	if (cols[label_col].n_vals != 2 || cols[label_col].missing) {
		r = fl_fail(FL_ERR_DATA,
		            "%s: label column \"%s\" must take exactly two values and never be "
		            "empty (found %s%zu distinct values%s)",
		            csv_path, label, cols[label_col].overflow ? "more than " : "",
		            cols[label_col].n_vals,
		            cols[label_col].missing ? " and empty fields" : "");
		goto out;
	}
	if (cols[label_col].bad_line != 0) {
		r = fl_fail(FL_ERR_DATA,
		            "%s:%llu: column \"%s\": the value is not UTF-8 text without NUL "
		            "bytes (convert the file to UTF-8)",
		            csv_path, (unsigned long long)cols[label_col].bad_line, label);
		goto out;
	}

	/* The label's values decide which one means converted, never their
	 * order: alphabetically "Not Converted" comes after "Converted". */
	if (o->positive != NULL) {
		pos = strcmp(cols[label_col].vals[0], o->positive) == 0   ? 0
		      : strcmp(cols[label_col].vals[1], o->positive) == 0 ? 1
		                                                          : -1;
		if (pos < 0) {
			r = fl_fail(FL_ERR_INVALID,
			            "--positive \"%s\" is not a value of label column \"%s\" (it "
			            "takes \"%s\" and \"%s\")",
			            o->positive, label, cols[label_col].vals[0],
			            cols[label_col].vals[1]);
			goto out;
		}
	} else if ((pos = fl_schema_label_positive((const char *const *)cols[label_col].vals)) <
	           0) {
		r = fl_fail(FL_ERR_DATA,
		            "%s: label column \"%s\" takes \"%s\" and \"%s\", which do not say "
		            "which one means converted (use --positive VALUE)",
		            csv_path, label, cols[label_col].vals[0], cols[label_col].vals[1]);
		goto out;
	}

	r = FL_ERR_NOMEM;
	if ((root = json_object()) == NULL || (jl = json_object()) == NULL)
		goto out;
	json_object_set_new(root, "fedlead_schema", json_integer(FL_SCHEMA_VERSION));
	json_object_set_new(root, "comment",
	                    json_string("Drafted by fedlead-node schema: review every feature "
	                                "before partners agree on it. Each clip range is "
	                                "drafted from this file's values (0.5 % and 99.5 % "
	                                "quantiles, rounded outward): with differential privacy "
	                                "it is part of the agreed contract, so partners settle "
	                                "it once and never re-derive it from data."));
	draft_dialect(root, &o->dialect);
	json_object_set_new(root, "label", jl);
	json_object_set_new(jl, "column", json_string(label));
	json_object_set_new(jl, "positive", json_string(cols[label_col].vals[pos]));
	json_object_set_new(jl, "negative", json_string(cols[label_col].vals[1 - pos]));
	if (id != NULL)
		json_object_set_new(root, "id", json_string(id));
	feats = json_array();
	ign = json_array();
	json_object_set_new(root, "features", feats);
	json_object_set_new(root, "ignore", ign);
	if (feats == NULL || ign == NULL)
		goto out;
	for (size_t i = 0; i < ncol; i++) {
		struct draft_col *c = &cols[i];
		json_t *jf;

		/* A schema cannot name an unnamed column (an exported row index,
		 * say); binding will report it as an extra column. */
		if (i == label_col || i == id_col || names[i][0] == '\0')
			continue;
		if (c->n_vals == 0 || (!c->numeric && c->overflow)) {
			json_array_append_new(ign, json_string(names[i]));
			continue;
		}
		if ((jf = json_object()) == NULL)
			goto out;
		json_array_append_new(feats, jf);
		json_object_set_new(jf, "name", json_string(names[i]));
		if (c->numeric && !(c->integer && !c->overflow && c->n_vals <= max_levels)) {
			json_object_set_new(jf, "type", json_string("numeric"));
			json_object_set_new(jf, "missing",
			                    json_string(c->missing ? "impute" : "error"));
			if (c->n_sample > 0) {
				double lo, hi;
				json_t *jc = json_array();

				draft_clip(c, &lo, &hi);
				if (jc == NULL)
					goto out;
				json_object_set_new(jf, "clip", jc);
				json_array_append_new(jc, json_real(lo));
				json_array_append_new(jc, json_real(hi));
			}
		} else {
			if (c->bad_line != 0) {
				r = fl_fail(FL_ERR_DATA,
				            "%s:%llu: column \"%s\": the value is not UTF-8 text "
				            "without NUL bytes (convert the file to UTF-8)",
				            csv_path, (unsigned long long)c->bad_line, names[i]);
				goto out;
			}
			json_t *vals = draft_values(c, o->min_count);

			/* Every value held fewer than min_count times: the column
			 * says nothing it may say, and is ignored. */
			if (vals != NULL && json_array_size(vals) == 0) {
				json_decref(vals);
				json_array_remove(feats, json_array_size(feats) - 1);
				json_array_append_new(ign, json_string(names[i]));
				continue;
			}
			json_object_set_new(jf, "type", json_string("categorical"));
			json_object_set_new(jf, "values", vals);
			json_object_set_new(jf, "other", json_true());
		}
	}
	if (json_array_size(feats) == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no column besides the label can be a feature",
		            csv_path);
		goto out;
	}
	if ((*json_out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	r = 0;
out:
	for (size_t i = 0; cols != NULL && i < ncol; i++) {
		free_strv(cols[i].vals, cols[i].n_vals);
		free(cols[i].counts);
		free(cols[i].sample);
	}
	free(cols);
	free_strv(names, ncol);
	json_decref(root);
	fl_csv_free(csv);
	return r;
}
