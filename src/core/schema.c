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
#include "fedlead/datetime.h"
#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/mapping.h"
#include "fedlead/spline.h"
#include "fedlead/strv.h"

#include "datetime_int.h"
#include "spline_int.h"

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
		fl_strv_free(s->features[i].values, s->features[i].n_values);
		fl_strv_free(s->features[i].missing_values, s->features[i].n_missing_values);
		fl_strv_free(s->features[i].columns, s->features[i].n_columns);
		fl_transform_free(&s->features[i]);
	}
	free(s->features);
	fl_strv_free(s->ignore, s->n_ignore);
	fl_strv_free(s->missing_values, s->n_missing_values);
	free(s->canonical);
	fl_mapping_free(s->mapping);
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
	if ((*out = fl_strdup(json_string_value(v))) == NULL)
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
		*out = fl_strdup(json_string_value(v));
	else if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		*out = fl_strdup(buf);
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

/* ---- Placeholders ("missing_values") and "case": "fold" ---- */

static void fold_trim(const char **b, const char **e)
{
	while (*b < *e && (**b == ' ' || **b == '\t'))
		(*b)++;
	while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

static int ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int fl_schema_fold_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *ae = a + alen, *be = b + blen;

	fold_trim(&a, &ae);
	fold_trim(&b, &be);
	for (; a < ae && b < be; a++, b++) {
		int x = ascii_lower((unsigned char)*a), y = ascii_lower((unsigned char)*b);

		if (x != y)
			return x - y;
	}
	return (a < ae) - (b < be);
}

static int fold_eq(const char *x, const char *y)
{
	return fl_schema_fold_cmp(x, strlen(x), y, strlen(y)) == 0;
}

/* Fold order, then byte order: texts equal under fold end up adjacent, in
 * an order that does not depend on qsort (messages name them). */
static int fold_qsort(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	int c = fl_schema_fold_cmp(x, strlen(x), y, strlen(y));

	return c != 0 ? c : strcmp(x, y);
}

static int in_fold_list(char *const *list, size_t n, const char *v, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (fl_schema_fold_cmp(list[i], strlen(list[i]), v, len) == 0)
			return 1;
	return 0;
}

size_t fl_schema_join(const struct fl_feature *f, const struct fl_csv_field *parts, char *buf,
                      size_t cap, int *cut)
{
	size_t n = 0;

	*cut = 0;
	for (size_t c = 0; c < f->n_columns; c++) {
		const char *b = parts[c].s, *e = parts[c].s + parts[c].len;
		size_t k;

		/* A field of blanks only trims to no text, which no listed
		 * value has for a column: the join is none of them. */
		if (f->fold) {
			fold_trim(&b, &e);
			if (b == e)
				*cut = 1;
		}
		if (c > 0 && n + 1 < cap)
			buf[n++] = ' ';
		else if (c > 0)
			*cut = 1;
		k = (size_t)(e - b) < cap - 1 - n ? (size_t)(e - b) : cap - 1 - n;
		memcpy(buf + n, b, k);
		n += k;
		if (k < (size_t)(e - b))
			*cut = 1;
	}
	buf[n] = '\0';
	return n;
}

int fl_schema_is_missing(const struct fl_schema *s, const struct fl_feature *f, const char *v,
                         size_t len)
{
	if (len == 0)
		return 1;
	return in_fold_list(s->missing_values, s->n_missing_values, v, len) ||
	       (f != NULL && in_fold_list(f->missing_values, f->n_missing_values, v, len));
}

/*
 * A "missing_values" list: at most FL_SCHEMA_MAX_MISSING_VALUES non-empty
 * strings of at most FL_SCHEMA_MAX_PLACEHOLDER bytes, none listed twice
 * (as they match: trimmed, in any ASCII case). path is the list's JSON path
 * ("missing_values", "features[2].missing_values"), feat the feature's
 * name or NULL.
 */
static int parse_missing_values(json_t *arr, const char *origin, const char *path, const char *feat,
                                char ***out, size_t *n_out)
{
	char ctx[96], **v = NULL, **sorted = NULL;
	size_t n;
	int r = 0;

	*out = NULL;
	*n_out = 0;
	if (feat != NULL)
		snprintf(ctx, sizeof(ctx), " (feature \"%.40s\")", feat);
	else
		ctx[0] = '\0';
	if (!json_is_array(arr))
		return fl_fail(FL_ERR_SCHEMA, "%s: %s%s: must be an array of strings", origin, path,
		               ctx);
	if ((n = json_array_size(arr)) > FL_SCHEMA_MAX_MISSING_VALUES)
		return fl_fail(FL_ERR_SCHEMA, "%s: %s%s: more than %d values", origin, path, ctx,
		               FL_SCHEMA_MAX_MISSING_VALUES);
	if (n == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL || (sorted = malloc(n * sizeof(*sorted))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		const char *t = json_string_value(e);

		if (!json_is_string(e) || strlen(t) != json_string_length(e) ||
		    json_string_length(e) > FL_SCHEMA_MAX_PLACEHOLDER ||
		    fl_schema_fold_cmp(t, strlen(t), "", 0) == 0) {
			r = fl_fail(FL_ERR_SCHEMA,
			            "%s: %s[%zu]%s: must be a non-blank string of at most %d bytes",
			            origin, path, i, ctx, FL_SCHEMA_MAX_PLACEHOLDER);
			goto out;
		}
		if ((v[i] = fl_strdup(t)) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
	}
	memcpy(sorted, v, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), fold_qsort);
	for (size_t i = 1; i < n; i++)
		if (fold_eq(sorted[i - 1], sorted[i])) {
			r = fl_fail(
			        FL_ERR_SCHEMA,
			        "%s: %s%s: \"%s\" and \"%s\" are the same placeholder (compared "
			        "trimmed, in any case)",
			        origin, path, ctx, sorted[i - 1], sorted[i]);
			goto out;
		}
	*out = v;
	*n_out = n;
	v = NULL;
out:
	free(sorted);
	fl_strv_free(v, n);
	return r;
}

/* The canonical form of a "missing_values" list: trimmed, in lower case and
 * sorted, since that is how it matches (equal lists, equal text). */
static json_t *canonical_missing_values(char *const *v, size_t n)
{
	json_t *arr = json_array();
	char **keys = calloc(n ? n : 1, sizeof(*keys));

	for (size_t i = 0; arr != NULL && keys != NULL && i < n; i++) {
		const char *b = v[i], *e = v[i] + strlen(v[i]);
		char *k;

		fold_trim(&b, &e);
		if ((k = keys[i] = malloc((size_t)(e - b) + 1)) == NULL)
			goto fail;
		for (size_t j = 0; b + j < e; j++)
			k[j] = (char)ascii_lower((unsigned char)b[j]);
		k[e - b] = '\0';
	}
	if (arr == NULL || keys == NULL)
		goto fail;
	qsort(keys, n, sizeof(*keys), strcmp_qsort);
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, json_string(keys[i])) != 0)
			goto fail;
	fl_strv_free(keys, n);
	return arr;
fail:
	fl_strv_free(keys, n);
	json_decref(arr);
	return NULL;
}

/* A categorical feature's values under its placeholders and "case": no
 * value may be a placeholder (it could never be encoded as itself), and
 * under "fold" no two values may match the same text. */
static int check_category_values(const struct fl_schema *s, struct fl_feature *f, size_t idx,
                                 const char *origin)
{
	char **sorted;
	int r = 0;

	for (size_t i = 0; i < f->n_values; i++)
		if (f->values[i][0] != '\0' &&
		    fl_schema_is_missing(s, f, f->values[i], strlen(f->values[i])))
			return fl_fail(
			        FL_ERR_SCHEMA,
			        "%s: features[%zu].values[%zu] (feature \"%.40s\"): \"%s\" is "
			        "also a missing value (in \"missing_values\")",
			        origin, idx, i, f->name, f->values[i]);
	/* Read from several columns: no column's text may be a placeholder
	 * either (a row with it is missing, never this value); the texts are
	 * split by single spaces (check_joined_value()). */
	for (size_t i = 0; i < f->n_values && f->n_columns > 0; i++) {
		const char *v = f->values[i];

		for (size_t k = 0, b = 0, e; k < f->n_columns; k++, b = e + 1) {
			for (e = b; v[e] != ' ' && v[e] != '\0'; e++)
				;
			if (fl_schema_is_missing(s, f, v + b, e - b))
				return fl_fail(
				        FL_ERR_SCHEMA,
				        "%s: features[%zu].values[%zu] (feature \"%.40s\"): "
				        "\"%s\" has a missing value (in \"missing_values\") for "
				        "column \"%s\": a row with it is missing, never this "
				        "value",
				        origin, idx, i, f->name, v, f->columns[k]);
		}
	}
	if (!f->fold)
		return 0;
	if ((sorted = malloc(f->n_values * sizeof(*sorted))) == NULL)
		return FL_ERR_NOMEM;
	memcpy(sorted, f->values, f->n_values * sizeof(*sorted));
	qsort(sorted, f->n_values, sizeof(*sorted), fold_qsort);
	for (size_t i = 1; i < f->n_values && r == 0; i++)
		if (fold_eq(sorted[i - 1], sorted[i]))
			r = fl_fail(
			        FL_ERR_SCHEMA,
			        "%s: features[%zu].values (feature \"%.40s\"): \"%s\" and \"%s\" "
			        "are the same value under \"case\": \"fold\"",
			        origin, idx, f->name, sorted[i - 1], sorted[i]);
	free(sorted);
	return r;
}

/* ---- date features ---- */

/* A feature's "missing": "error" (the default) or "impute". */
static int parse_missing(json_t *jf, const char *origin, const char *where, struct fl_feature *f)
{
	char *missing = NULL;
	int r;

	if ((r = get_string(jf, "missing", 0, origin, where, &missing)) != 0)
		return r;
	if (missing == NULL || strcmp(missing, "error") == 0)
		f->missing = FL_MISSING_ERROR;
	else if (strcmp(missing, "impute") == 0)
		f->missing = FL_MISSING_IMPUTE;
	else
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: %sunknown missing policy \"%s\" (expected \"error\" or "
		            "\"impute\")",
		            origin, where, missing);
	free(missing);
	return r;
}

/*
 * {"type": "date", "format": F, "reference": "YYYY-MM-DD", "missing": M,
 * "clip": [lo, hi]}. The format and the reference are required: a drafted
 * guess between day-first and month-first, or an age measured against the
 * day a command runs, would make one file encode differently from one
 * partner or one day to the next.
 */
static int parse_date_feature(json_t *jf, size_t idx, const char *origin, const char *where,
                              struct fl_feature *f)
{
	static const char *const keys[] = {"name",    "type", "format",         "reference",
	                                   "missing", "clip", "missing_values", NULL};
	char *format = NULL, *ref = NULL, names[160] = "";
	enum fl_date_format df;
	struct fl_date d;
	int r;

	f->type = FL_DATE;
	if ((r = check_keys(jf, keys, origin, where)) != 0 ||
	    (r = get_string(jf, "format", 1, origin, where, &format)) != 0 ||
	    (r = get_string(jf, "reference", 1, origin, where, &ref)) != 0 ||
	    (r = parse_missing(jf, origin, where, f)) != 0)
		goto out;
	if (fl_date_format_parse(format, &df) != 0) {
		for (int i = 0; i < FL_DATE_N_FORMATS; i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s\"%s\"",
			         i ? ", " : "", fl_date_format_name((enum fl_date_format)i));
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: %sunknown date format \"%.40s\" (expected one of %s)", origin,
		            where, format, names);
		goto out;
	}
	/* The reference is a plain date, so its canonical text is its own. */
	if ((r = fl_date_parse(ref, strlen(ref), FL_DATE_ISO, &d)) == 0 && strlen(ref) != 10)
		r = fl_fail(FL_ERR_DATA, "a day alone, without a time or blanks");
	if (r != 0) {
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: %s\"reference\" \"%.40s\" is not a date YYYY-MM-DD (%s)", origin,
		            where, ref, fl_errmsg());
		goto out;
	}
	f->date_format = (int)df;
	f->date_ref = d.days;
	f->enc_width = 1 + (f->missing == FL_MISSING_IMPUTE) + FL_DATE_WEEKDAYS + FL_DATE_MONTHS;
	if (json_object_get(jf, "clip") != NULL &&
	    (r = parse_clip(json_object_get(jf, "clip"), idx, origin, f)) != 0)
		goto out;
	r = 0;
out:
	free(format);
	free(ref);
	return r;
}

/* A date feature's canonical members; keys are sorted when dumped. */
static int canonical_date(json_t *jf, const struct fl_feature *f)
{
	struct fl_date d;
	char ref[16];
	json_t *jc;

	fl_date_civil(f->date_ref, &d);
	snprintf(ref, sizeof(ref), "%04d-%02d-%02d", d.year, d.month, d.day);
	if (json_object_set_new(jf, "type", json_string("date")) != 0 ||
	    json_object_set_new(jf, "format", json_string(fl_date_format_name(f->date_format))) !=
	            0 ||
	    json_object_set_new(jf, "reference", json_string(ref)) != 0 ||
	    json_object_set_new(
	            jf, "missing",
	            json_string(f->missing == FL_MISSING_IMPUTE ? "impute" : "error")) != 0)
		return FL_ERR_NOMEM;
	if (!f->has_clip)
		return 0;
	if ((jc = json_array()) == NULL || json_object_set_new(jf, "clip", jc) != 0 ||
	    json_array_append_new(jc, json_real(f->clip_lo)) != 0 ||
	    json_array_append_new(jc, json_real(f->clip_hi)) != 0)
		return FL_ERR_NOMEM;
	return 0;
}

/* A date feature's column k (0 <= k < enc_width). */
static void date_column_name(const struct fl_feature *f, size_t k, char *buf, size_t bufsz)
{
	size_t miss = f->missing == FL_MISSING_IMPUTE;

	if (k == 0)
		snprintf(buf, bufsz, "%s (age days)", f->name);
	else if (k == miss)
		snprintf(buf, bufsz, "%s (missing)", f->name);
	else if (k < 1 + miss + FL_DATE_WEEKDAYS)
		snprintf(buf, bufsz, "%s (weekday=%s)", f->name,
		         fl_date_weekday_name((int)(k - 1 - miss)));
	else
		snprintf(buf, bufsz, "%s (month=%s)", f->name,
		         fl_date_month_name((int)(k - miss - FL_DATE_WEEKDAYS)));
}

int fl_feature_is_value(const struct fl_feature *f, size_t j)
{
	/* A spline or bins block has no value column: it is not standardised. */
	return (f->type == FL_DATE || (f->type == FL_NUMERIC && !fl_spline_is_block(f))) &&
	       j == f->enc_offset;
}

size_t fl_feature_parts(const struct fl_feature *f)
{
	return f->type == FL_DATE ? 3 : 1;
}

void fl_feature_part(const struct fl_feature *f, size_t p, size_t *start, size_t *width)
{
	size_t head = 1 + (f->missing == FL_MISSING_IMPUTE);

	*start = f->enc_offset;
	*width = f->enc_width;
	if (f->type != FL_DATE)
		return;
	if (p == 0) {
		*width = head;
	} else if (p == 1) {
		*start += head;
		*width = FL_DATE_WEEKDAYS;
	} else {
		*start += head + FL_DATE_WEEKDAYS;
		*width = FL_DATE_MONTHS;
	}
}

/*
 * A categorical feature's "columns": 2 to FL_SCHEMA_MAX_COLUMNS distinct,
 * non-empty column names.
 */
static int parse_columns(json_t *jc, size_t idx, const char *origin, struct fl_feature *f)
{
	size_t n = json_is_array(jc) ? json_array_size(jc) : 0;

	if (n < 2 || n > FL_SCHEMA_MAX_COLUMNS)
		return fl_fail(FL_ERR_SCHEMA,
		               "%s: features[%zu].columns (feature \"%.40s\"): must be an array "
		               "of 2 to %d column names",
		               origin, idx, f->name, FL_SCHEMA_MAX_COLUMNS);
	if ((f->columns = calloc(n, sizeof(*f->columns))) == NULL)
		return FL_ERR_NOMEM;
	f->n_columns = n;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(jc, i);

		if (!json_is_string(e) || json_string_length(e) == 0 ||
		    strlen(json_string_value(e)) != json_string_length(e))
			return fl_fail(
			        FL_ERR_SCHEMA,
			        "%s: features[%zu].columns[%zu] (feature \"%.40s\"): must be "
			        "a non-empty string (a column name)",
			        origin, idx, i, f->name);
		if ((f->columns[i] = fl_strdup(json_string_value(e))) == NULL)
			return FL_ERR_NOMEM;
		for (size_t k = 0; k < i; k++)
			if (strcmp(f->columns[k], f->columns[i]) == 0)
				return fl_fail(
				        FL_ERR_SCHEMA,
				        "%s: features[%zu].columns (feature \"%.40s\"): column "
				        "\"%s\" is listed twice",
				        origin, idx, f->name, f->columns[i]);
	}
	return 0;
}

/*
 * A listed value of a feature read from several columns: one non-empty
 * text per column without blanks, joined by single spaces, so that a row
 * joins into it in one way only (fl_schema.h).
 */
static int check_joined_value(const struct fl_feature *f, size_t idx, size_t i, const char *origin)
{
	const char *v = f->values[i];
	size_t parts = 1, len = strlen(v);
	int ok = len > 0 && len <= FL_SCHEMA_MAX_JOINED && v[0] != ' ' && v[len - 1] != ' ';

	for (size_t k = 0; ok && k < len; k++) {
		if (v[k] == '\t' || (v[k] == ' ' && v[k + 1] == ' '))
			ok = 0;
		parts += v[k] == ' ';
	}
	if (ok && parts == f->n_columns)
		return 0;
	return fl_fail(FL_ERR_SCHEMA,
	               "%s: features[%zu].values[%zu] (feature \"%.40s\"): \"%.60s\" is not "
	               "%zu non-empty texts without blanks joined by single spaces, one for "
	               "each of its columns (at most %d bytes)",
	               origin, idx, i, f->name, v, f->n_columns, FL_SCHEMA_MAX_JOINED);
}

static int parse_feature(json_t *jf, size_t idx, const char *origin, struct fl_feature *f)
{
	static const char *const num_keys[] = {
	        "name",     "type",           "missing",   "clip",  "decimal", "thousands",
	        "currency", "missing_values", "transform", "knots", "special", "monotone",
	        NULL};
	static const char *const cat_keys[] = {"name", "type",           "values",  "other",
	                                       "case", "missing_values", "columns", NULL};
	char where[64], *type = NULL, *fcase = NULL, **sorted = NULL;
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
	if (json_object_get(jf, "missing_values") != NULL) {
		char path[48];

		snprintf(path, sizeof(path), "features[%zu].missing_values", idx);
		if ((r = parse_missing_values(json_object_get(jf, "missing_values"), origin, path,
		                              f->name, &f->missing_values, &f->n_missing_values)) !=
		    0)
			goto out;
	}
	/* Said plainly rather than as an unknown key, like "clip" below. */
	if (json_object_get(jf, "columns") != NULL && strcmp(type, "categorical") != 0) {
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: features[%zu].columns (feature \"%.40s\"): reading several "
		            "columns as one feature applies to categorical features only",
		            origin, idx, f->name);
		goto out;
	}
	if (strcmp(type, "numeric") == 0) {
		f->type = FL_NUMERIC;
		if (json_object_get(jf, "case") != NULL) {
			r = fl_fail(
			        FL_ERR_SCHEMA,
			        "%s: features[%zu].case (feature \"%.40s\"): \"case\" applies to "
			        "categorical features only",
			        origin, idx, f->name);
			goto out;
		}
		if ((r = check_keys(jf, num_keys, origin, where)) != 0 ||
		    (r = parse_missing(jf, origin, where, f)) != 0)
			goto out;
		f->enc_width = f->missing == FL_MISSING_IMPUTE ? 2 : 1;
		if ((r = parse_number_format(jf, origin, where, f)) != 0 ||
		    (json_object_get(jf, "clip") != NULL &&
		     (r = parse_clip(json_object_get(jf, "clip"), idx, origin, f)) != 0) ||
		    (r = fl_transform_parse(jf, idx, origin, f)) != 0)
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
		if ((r = get_string(jf, "case", 0, origin, where, &fcase)) != 0)
			goto out;
		if (fcase != NULL && strcmp(fcase, "fold") != 0 && strcmp(fcase, "exact") != 0) {
			r = fl_fail(
			        FL_ERR_SCHEMA,
			        "%s: features[%zu].case (feature \"%.40s\"): unknown value \"%s\" "
			        "(expected \"fold\" or \"exact\")",
			        origin, idx, f->name, fcase);
			goto out;
		}
		f->fold = fcase != NULL && strcmp(fcase, "fold") == 0;
		if (json_object_get(jf, "columns") != NULL &&
		    (r = parse_columns(json_object_get(jf, "columns"), idx, origin, f)) != 0)
			goto out;
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
			if (f->n_columns > 0 && (r = check_joined_value(f, idx, i, origin)) != 0)
				goto out;
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
	} else if (strcmp(type, "date") == 0) {
		if ((r = parse_date_feature(jf, idx, origin, where, f)) != 0)
			goto out;
	} else {
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: %sunknown type \"%s\" (expected \"numeric\", \"categorical\" or "
		            "\"date\")",
		            origin, where, type);
		goto out;
	}
	r = 0;
out:
	free(sorted);
	free(type);
	free(fcase);
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
	/* A feature's source columns may be features of their own, but not
	 * the label, the id or ignored: each of those says the column is not
	 * read as a feature. */
	for (size_t i = 0; i < s->n_features && r == 0; i++) {
		const struct fl_feature *f = &s->features[i];

		for (size_t c = 0; c < f->n_columns && r == 0; c++) {
			const char *col = f->columns[c], *role = NULL;

			if (strcmp(col, s->label) == 0)
				role = "the label column";
			else if (s->id != NULL && strcmp(col, s->id) == 0)
				role = "the id column";
			for (size_t g = 0; g < s->n_ignore && role == NULL; g++)
				if (strcmp(col, s->ignore[g]) == 0)
					role = "in \"ignore\"";
			if (role != NULL)
				r = fl_fail(FL_ERR_SCHEMA,
				            "%s: features[%zu].columns (feature \"%.40s\"): column "
				            "\"%s\" is %s",
				            origin, i, f->name, col, role);
		}
	}
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
		/* Placeholders and case folding change the encoding, so they are in
		 * the canonical form, but only when set: a schema without them
		 * keeps the fingerprint it always had. */
		if (f->n_missing_values > 0 &&
		    json_object_set_new(
		            jf, "missing_values",
		            canonical_missing_values(f->missing_values, f->n_missing_values)) != 0)
			goto out;
		if (f->fold)
			json_object_set_new(jf, "case", json_string("fold"));
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
			/* Only when set, like the clip range. */
			if (fl_transform_canonical(jf, f) != 0)
				goto out;
			continue;
		}
		if (f->type == FL_DATE) {
			if (canonical_date(jf, f) != 0)
				goto out;
			continue;
		}
		json_object_set_new(jf, "type", json_string("categorical"));
		json_object_set_new(jf, "other", json_boolean(f->other));
		/* Only when set: other schemas keep their canonical text. */
		if (f->n_columns > 0) {
			json_t *jc = json_array();

			if (jc == NULL || json_object_set_new(jf, "columns", jc) != 0)
				goto out;
			for (size_t j = 0; j < f->n_columns; j++)
				if (json_array_append_new(jc, json_string(f->columns[j])) != 0)
					goto out;
		}
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
	if (s->n_missing_values > 0 &&
	    json_object_set_new(root, "missing_values",
	                        canonical_missing_values(s->missing_values, s->n_missing_values)) !=
	            0)
		goto out;
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
	        "fedlead_schema", "label",          "id",       "features", "ignore",
	        "comment",        "delimiter",      "encoding", "decimal",  "thousands",
	        "currency",       "missing_values", NULL};
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
	if (json_object_get(root, "missing_values") != NULL &&
	    (r = parse_missing_values(json_object_get(root, "missing_values"), origin,
	                              "missing_values", NULL, &s->missing_values,
	                              &s->n_missing_values)) != 0)
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
		if ((r = parse_feature(json_array_get(feats, i), i, origin, f)) != 0 ||
		    (f->type == FL_CATEGORICAL &&
		     (r = check_category_values(s, f, i, origin)) != 0))
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
			if ((s->ignore[i] = fl_strdup(json_string_value(v))) == NULL) {
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
	char *buf;
	size_t len;
	int r;

	*out = NULL;
	if ((r = fl_file_read_all(path, FL_SCHEMA_MAX_BYTES, FL_ERR_SCHEMA, &buf, &len)) != 0)
		return r;
	r = fl_schema_parse(buf, len, path, out);
	free(buf);
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
		if (f->type == FL_DATE)
			date_column_name(f, k, buf, bufsz);
		else if (fl_spline_is_block(f))
			fl_transform_column_name(f, k, buf, bufsz);
		else if (f->type == FL_NUMERIC)
			snprintf(buf, bufsz, k == 0 ? "%s" : "%s (missing)", f->name);
		else if (k < f->n_values)
			snprintf(buf, bufsz, "%s=%s", f->name, f->values[k]);
		else
			snprintf(buf, bufsz, "%s=(other)", f->name);
		return;
	}
	snprintf(buf, bufsz, "(column %zu)", j);
}
