/*
 * A partner's column and value mapping; see include/fedlead/mapping.h.
 */
#include "fedlead/mapping.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/schema.h"
#include "fedlead/strv.h"
#include "fedlead/utf8.h"

/* One "from": "to" pair: a renamed column or a mapped value. */
struct pair {
	char *from, *to;
	size_t to_len;
};

/* A column with mapped values, by the schema's name; pairs sorted by from. */
struct value_map {
	char *column;
	struct pair *v;
	size_t n;
};

struct fl_mapping {
	char *origin;
	struct pair *rename; /* sorted by from */
	size_t n_rename;
	struct value_map *values; /* sorted by column */
	size_t n_values;
};

/* A column of the bound file whose values are mapped. */
struct mapped_col {
	size_t col;
	const struct value_map *vm;
};

struct fl_mapping_binding {
	const struct fl_mapping *m;
	size_t n_header;
	struct fl_csv_field *header; /* the renamed header */
	struct fl_csv_record header_rec;
	const char **source; /* per column: the file's name when renamed, else NULL */
	struct mapped_col *mapped;
	size_t n_mapped;
	struct fl_csv_field *fields; /* fl_mapping_apply()'s record */
	struct fl_csv_record rec;
};

static void free_pairs(struct pair *p, size_t n)
{
	for (size_t i = 0; p != NULL && i < n; i++) {
		free(p[i].from);
		free(p[i].to);
	}
	free(p);
}

void fl_mapping_free(struct fl_mapping *m)
{
	if (m == NULL)
		return;
	free(m->origin);
	free_pairs(m->rename, m->n_rename);
	for (size_t i = 0; m->values != NULL && i < m->n_values; i++) {
		free(m->values[i].column);
		free_pairs(m->values[i].v, m->values[i].n);
	}
	free(m->values);
	free(m);
}

static int pair_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pair *)a)->from, ((const struct pair *)b)->from);
}

static int pair_to_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pair *)a)->to, ((const struct pair *)b)->to);
}

static int value_map_cmp(const void *a, const void *b)
{
	return strcmp(((const struct value_map *)a)->column, ((const struct value_map *)b)->column);
}

/* "a number", for "(it is a number)". */
static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/*
 * The text must be UTF-8 before jansson sees it: its own message for a
 * stray byte ("unable to decode byte 0xe9") does not say what to do. A
 * leading byte-order mark, as some editors write one, is skipped (*skip).
 */
static int check_utf8(const char *json, size_t len, const char *origin, size_t *skip)
{
	size_t i = 0, line = 1, col = 1;

	*skip = 0;
	if (len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0)
		i = *skip = 3;
	while (i < len) {
		size_t n = fl_utf8_char(json + i, len - i, NULL);

		if (n == 0)
			return fl_fail(FL_ERR_CONFIG,
			               "%s:%zu:%zu: not UTF-8 text (byte 0x%02X); save the mapping "
			               "as UTF-8",
			               origin, line, col, (unsigned)(unsigned char)json[i]);
		if (json[i] == '\n')
			line++, col = 1;
		else
			col++;
		i += n;
	}
	return 0;
}

/*
 * The members of obj as pairs, sorted by from: every value a string (what
 * names them in messages, "columns" or "values[\"industry\"]"); with
 * names, neither side may be empty.
 */
static int parse_pairs(json_t *obj, const char *origin, const char *what, size_t max, int names,
                       struct pair **out, size_t *n_out)
{
	struct pair *p = NULL;
	const char *key;
	json_t *v;
	size_t n = 0, size = json_object_size(obj);
	int r = FL_ERR_NOMEM;

	*out = NULL;
	*n_out = 0;
	if (size > max)
		return fl_fail(FL_ERR_CONFIG, "%s: %s: more than %zu %s", origin, what, max,
		               names ? "columns" : "values");
	if (size > 0 && (p = calloc(size, sizeof(*p))) == NULL)
		return FL_ERR_NOMEM;
	json_object_foreach(obj, key, v)
	{
		if (!json_is_string(v)) {
			r = fl_fail(FL_ERR_CONFIG, "%s: %s[\"%s\"]: must be a string%s (it is %s)",
			            origin, what, key,
			            names ? ", the schema's name for the column" : "",
			            json_kind(v));
			goto out;
		}
		if (names && key[0] == '\0') {
			r = fl_fail(FL_ERR_CONFIG, "%s: %s[\"\"]: a column name cannot be empty",
			            origin, what);
			goto out;
		}
		if (names && json_string_length(v) == 0) {
			r = fl_fail(FL_ERR_CONFIG,
			            "%s: %s[\"%s\"]: the schema's name for the column cannot be "
			            "empty",
			            origin, what, key);
			goto out;
		}
		r = FL_ERR_NOMEM;
		if ((p[n].from = fl_strdup(key)) == NULL ||
		    (p[n].to = fl_strdup(json_string_value(v))) == NULL) {
			n++;
			goto out;
		}
		p[n].to_len = json_string_length(v);
		n++;
	}
	if (n > 0)
		qsort(p, n, sizeof(*p), pair_cmp);
	*out = p;
	*n_out = n;
	p = NULL;
	r = 0;
out:
	free_pairs(p, n);
	return r;
}

/* "columns": two file columns renamed to the same schema column would make
 * the binding pick one of them silently. */
static int parse_columns(json_t *cols, const char *origin, struct fl_mapping *m)
{
	struct pair *by_to = NULL;
	int r;

	if (!json_is_object(cols))
		return fl_fail(FL_ERR_CONFIG,
		               "%s: columns: must be an object of \"file column\": \"schema "
		               "column\"",
		               origin);
	if ((r = parse_pairs(cols, origin, "columns", FL_MAPPING_MAX_COLUMNS, 1, &m->rename,
	                     &m->n_rename)) != 0 ||
	    m->n_rename < 2)
		return r;
	if ((by_to = malloc(m->n_rename * sizeof(*by_to))) == NULL)
		return FL_ERR_NOMEM;
	memcpy(by_to, m->rename, m->n_rename * sizeof(*by_to));
	qsort(by_to, m->n_rename, sizeof(*by_to), pair_to_cmp);
	for (size_t i = 1; i < m->n_rename && r == 0; i++)
		if (strcmp(by_to[i - 1].to, by_to[i].to) == 0)
			r = fl_fail(FL_ERR_CONFIG,
			            "%s: columns: \"%s\" and \"%s\" are both renamed to \"%s\"",
			            origin, by_to[i - 1].from, by_to[i].from, by_to[i].to);
	free(by_to);
	return r;
}

static int parse_values(json_t *vals, const char *origin, struct fl_mapping *m)
{
	const char *key;
	json_t *v;
	size_t size = json_object_size(vals);
	char what[FL_ERRMSG_MAX];
	int r;

	if (!json_is_object(vals))
		return fl_fail(FL_ERR_CONFIG,
		               "%s: values: must be an object of \"schema column\": {\"file "
		               "value\": \"schema value\"}",
		               origin);
	if (size > FL_MAPPING_MAX_COLUMNS)
		return fl_fail(FL_ERR_CONFIG, "%s: values: more than %u columns", origin,
		               (unsigned)FL_MAPPING_MAX_COLUMNS);
	if (size > 0 && (m->values = calloc(size, sizeof(*m->values))) == NULL)
		return FL_ERR_NOMEM;
	json_object_foreach(vals, key, v)
	{
		struct value_map *vm = &m->values[m->n_values];

		snprintf(what, sizeof(what), "values[\"%s\"]", key);
		if (key[0] == '\0')
			return fl_fail(FL_ERR_CONFIG,
			               "%s: values[\"\"]: a column name cannot be empty", origin);
		if (!json_is_object(v))
			return fl_fail(FL_ERR_CONFIG,
			               "%s: %s: must be an object of \"file value\": \"schema "
			               "value\" (it is %s)",
			               origin, what, json_kind(v));
		if ((vm->column = fl_strdup(key)) == NULL)
			return FL_ERR_NOMEM;
		m->n_values++;
		if ((r = parse_pairs(v, origin, what, FL_MAPPING_MAX_VALUES, 0, &vm->v, &vm->n)) !=
		    0)
			return r;
	}
	if (m->n_values > 0)
		qsort(m->values, m->n_values, sizeof(*m->values), value_map_cmp);
	return 0;
}

int fl_mapping_parse(const char *json, size_t len, const char *origin, struct fl_mapping **out)
{
	static const char *const keys[] = {"fedlead_mapping", "comment", "columns", "values", NULL};
	struct fl_mapping *m = NULL;
	json_t *root = NULL, *v;
	json_error_t jerr;
	const char *key;
	size_t skip;
	int r;

	*out = NULL;
	if (len > FL_MAPPING_MAX_BYTES)
		return fl_fail(FL_ERR_CONFIG, "%s: mapping larger than %u bytes", origin,
		               FL_MAPPING_MAX_BYTES);
	if ((r = check_utf8(json, len, origin, &skip)) != 0)
		return r;
	if ((root = json_loadb(json + skip, len - skip, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return fl_fail(FL_ERR_CONFIG, "%s:%d:%d: %s", origin, jerr.line, jerr.column,
		               jerr.text);
	if (!json_is_object(root)) {
		r = fl_fail(FL_ERR_CONFIG, "%s: the mapping must be a JSON object", origin);
		goto out;
	}
	/* Only these keys: a typo ("colums") must not leave a partner's
	 * columns silently unmapped. */
	json_object_foreach(root, key, v)
	{
		size_t i;

		for (i = 0; keys[i] != NULL && strcmp(key, keys[i]) != 0; i++)
			;
		if (keys[i] == NULL) {
			r = fl_fail(FL_ERR_CONFIG,
			            "%s: unknown key \"%s\" (a mapping has fedlead_mapping, "
			            "comment, columns and values)",
			            origin, key);
			goto out;
		}
	}
	if ((v = json_object_get(root, "fedlead_mapping")) == NULL) {
		r = fl_fail(FL_ERR_CONFIG,
		            "%s: missing \"fedlead_mapping\": %d (the format version)", origin,
		            FL_MAPPING_VERSION);
		goto out;
	}
	if (!json_is_integer(v)) {
		r = fl_fail(FL_ERR_CONFIG,
		            "%s: \"fedlead_mapping\" must be the integer %d (the format version)",
		            origin, FL_MAPPING_VERSION);
		goto out;
	}
	if (json_integer_value(v) != FL_MAPPING_VERSION) {
		r = fl_fail(FL_ERR_CONFIG,
		            "%s: mapping format version %lld is not supported (this fedlead reads "
		            "version %d)",
		            origin, (long long)json_integer_value(v), FL_MAPPING_VERSION);
		goto out;
	}
	if ((v = json_object_get(root, "comment")) != NULL && !json_is_string(v)) {
		r = fl_fail(FL_ERR_CONFIG, "%s: comment: must be a string", origin);
		goto out;
	}
	r = FL_ERR_NOMEM;
	if ((m = calloc(1, sizeof(*m))) == NULL || (m->origin = fl_strdup(origin)) == NULL)
		goto out;
	if (((v = json_object_get(root, "columns")) != NULL &&
	     (r = parse_columns(v, origin, m)) != 0) ||
	    ((v = json_object_get(root, "values")) != NULL &&
	     (r = parse_values(v, origin, m)) != 0))
		goto out;
	*out = m;
	m = NULL;
	r = 0;
out:
	fl_mapping_free(m);
	json_decref(root);
	return r;
}

int fl_mapping_load(const char *path, struct fl_mapping **out)
{
	char *buf;
	size_t len;
	int r;

	*out = NULL;
	if ((r = fl_file_read_all(path, FL_MAPPING_MAX_BYTES, FL_ERR_CONFIG, &buf, &len)) != 0)
		return r;
	r = fl_mapping_parse(buf, len, path, out);
	free(buf);
	return r;
}

const char *fl_mapping_origin(const struct fl_mapping *m)
{
	return m->origin;
}

size_t fl_mapping_n_columns(const struct fl_mapping *m)
{
	return m->n_rename;
}

size_t fl_mapping_n_value_columns(const struct fl_mapping *m)
{
	return m->n_values;
}

static const struct pair *find_pair(const struct pair *p, size_t n, const char *from)
{
	struct pair key = {(char *)from, NULL, 0};

	return n > 0 ? bsearch(&key, p, n, sizeof(*p), pair_cmp) : NULL;
}

static int schema_has(const struct fl_schema *s, const char *name)
{
	if (strcmp(s->label, name) == 0 || (s->id != NULL && strcmp(s->id, name) == 0))
		return 1;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];

		/* A feature read from several columns is no column itself: its
		 * columns are what a mapping's values apply to. */
		if (f->n_columns == 0 && strcmp(f->name, name) == 0)
			return 1;
		for (size_t k = 0; k < f->n_columns; k++)
			if (strcmp(f->columns[k], name) == 0)
				return 1;
	}
	return 0;
}

int fl_mapping_check_schema(const struct fl_mapping *m, const struct fl_schema *s)
{
	for (size_t i = 0; i < m->n_values; i++) {
		const char *name = m->values[i].column;
		const struct pair *p;

		if (schema_has(s, name))
			continue;
		if ((p = find_pair(m->rename, m->n_rename, name)) != NULL && schema_has(s, p->to))
			return fl_fail(FL_ERR_CONFIG,
			               "%s: values[\"%s\"]: name the column as the schema does "
			               "(\"%s\"): values are mapped after columns are renamed",
			               m->origin, name, p->to);
		return fl_fail(FL_ERR_CONFIG, "%s: values[\"%s\"]: the schema has no column \"%s\"",
		               m->origin, name, name);
	}
	return 0;
}

void fl_mapping_binding_free(struct fl_mapping_binding *mb)
{
	if (mb == NULL)
		return;
	free(mb->header);
	free(mb->source);
	free(mb->mapped);
	free(mb->fields);
	free(mb);
}

struct hdr_entry {
	const char *name;
	size_t col;
};

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : (x->col > y->col) - (x->col < y->col);
}

/* The first entry named name in the sorted header, or n. */
static size_t hdr_find(const struct hdr_entry *h, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(h[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strcmp(h[lo].name, name) == 0 ? lo : n;
}

/* Renames the bound header: each source column must be there once, and no
 * target may be a column the file keeps under its own name. */
static int bind_renames(struct fl_mapping_binding *mb, const struct hdr_entry *h, size_t n,
                        const char *path)
{
	const struct fl_mapping *m = mb->m;
	const struct pair *first = NULL;
	size_t missing = 0;

	/* All missing columns are counted: many say the mapping is meant for
	 * another export. */
	for (size_t i = 0; i < m->n_rename; i++)
		if (hdr_find(h, n, m->rename[i].from) == n && missing++ == 0)
			first = &m->rename[i];
	if (missing == 1)
		return fl_fail(FL_ERR_DATA,
		               "%s:1: column \"%s\" is not in the header (the mapping %s renames "
		               "it to \"%s\")",
		               path, first->from, m->origin, first->to);
	if (missing > 1)
		return fl_fail(FL_ERR_DATA,
		               "%s:1: column \"%s\" is not in the header (the mapping %s renames "
		               "it to \"%s\"), nor are %zu more columns the mapping renames",
		               path, first->from, m->origin, first->to, missing - 1);
	for (size_t i = 0; i < m->n_rename; i++) {
		const struct pair *p = &m->rename[i];
		size_t k = hdr_find(h, n, p->from);

		if (k + 1 < n && strcmp(h[k + 1].name, p->from) == 0)
			return fl_fail(
			        FL_ERR_DATA,
			        "%s:1: column \"%s\" appears twice (columns %zu and %zu); the "
			        "mapping %s renames it to \"%s\"",
			        path, p->from, h[k].col + 1, h[k + 1].col + 1, m->origin, p->to);
		mb->header[h[k].col] = (struct fl_csv_field){p->to, strlen(p->to)};
		mb->source[h[k].col] = p->from;
	}
	for (size_t i = 0; i < m->n_rename; i++) {
		const struct pair *p = &m->rename[i];

		for (size_t k = hdr_find(h, n, p->to); k < n && strcmp(h[k].name, p->to) == 0; k++)
			if (mb->source[h[k].col] == NULL)
				return fl_fail(
				        FL_ERR_DATA,
				        "%s:1: the mapping %s renames column \"%s\" to \"%s\", "
				        "but the file has a column \"%s\" already (column %zu)",
				        path, m->origin, p->from, p->to, p->to, h[k].col + 1);
	}
	return 0;
}

int fl_mapping_bind(const struct fl_mapping *m, const struct fl_schema *s, const char *path,
                    const struct fl_csv_record *header, struct fl_mapping_binding **out)
{
	struct fl_mapping_binding *mb = NULL;
	struct hdr_entry *h = NULL;
	size_t n = header->n_fields;
	int r = FL_ERR_NOMEM;

	*out = NULL;
	if (s != NULL && (r = fl_mapping_check_schema(m, s)) != 0)
		return r;
	if ((mb = calloc(1, sizeof(*mb))) == NULL || (h = calloc(n ? n : 1, sizeof(*h))) == NULL ||
	    (mb->header = calloc(n ? n : 1, sizeof(*mb->header))) == NULL ||
	    (mb->source = calloc(n ? n : 1, sizeof(*mb->source))) == NULL ||
	    (mb->fields = calloc(n ? n : 1, sizeof(*mb->fields))) == NULL)
		goto out;
	mb->m = m;
	mb->n_header = n;
	for (size_t i = 0; i < n; i++) {
		h[i] = (struct hdr_entry){header->fields[i].s, i};
		mb->header[i] = header->fields[i];
	}
	qsort(h, n, sizeof(*h), hdr_cmp);
	if ((r = bind_renames(mb, h, n, path)) != 0)
		goto out;
	mb->header_rec =
	        (struct fl_csv_record){.fields = mb->header, .n_fields = n, .line = header->line};

	/* The columns whose values are mapped, by their names after renaming. */
	r = FL_ERR_NOMEM;
	if (m->n_values > 0 && (mb->mapped = calloc(n ? n : 1, sizeof(*mb->mapped))) == NULL)
		goto out;
	for (size_t i = 0; i < n && m->n_values > 0; i++) {
		struct value_map key = {(char *)mb->header[i].s, NULL, 0};
		const struct value_map *vm =
		        bsearch(&key, m->values, m->n_values, sizeof(*m->values), value_map_cmp);

		if (vm != NULL && vm->n > 0)
			mb->mapped[mb->n_mapped++] = (struct mapped_col){i, vm};
	}
	/* Drafting, with no schema to say which columns exist: a value map
	 * for a column the file lacks is a mistake to show now. */
	for (size_t i = 0; s == NULL && i < m->n_values; i++) {
		size_t k;

		for (k = 0; k < n && strcmp(mb->header[k].s, m->values[i].column) != 0; k++)
			;
		if (k == n) {
			r = fl_fail(FL_ERR_DATA,
			            "%s:1: column \"%s\" is not in the header after renaming (the "
			            "mapping %s maps its values)",
			            path, m->values[i].column, m->origin);
			goto out;
		}
	}
	*out = mb;
	mb = NULL;
	r = 0;
out:
	free(h);
	fl_mapping_binding_free(mb);
	return r;
}

const struct fl_csv_record *fl_mapping_header(const struct fl_mapping_binding *mb)
{
	return &mb->header_rec;
}

const struct fl_csv_record *fl_mapping_apply(struct fl_mapping_binding *mb,
                                             const struct fl_csv_record *rec)
{
	if (mb->n_mapped == 0 || rec->n_fields != mb->n_header)
		return rec;
	memcpy(mb->fields, rec->fields, rec->n_fields * sizeof(*mb->fields));
	for (size_t i = 0; i < mb->n_mapped; i++) {
		const struct mapped_col *mc = &mb->mapped[i];
		const struct pair *p = find_pair(mc->vm->v, mc->vm->n, rec->fields[mc->col].s);

		if (p != NULL)
			mb->fields[mc->col] = (struct fl_csv_field){p->to, p->to_len};
	}
	mb->rec = (struct fl_csv_record){
	        .fields = mb->fields, .n_fields = rec->n_fields, .line = rec->line};
	return &mb->rec;
}

const char *fl_mapping_source(const struct fl_mapping_binding *mb, size_t col)
{
	return col < mb->n_header ? mb->source[col] : NULL;
}

const char *const *fl_mapping_sources(const struct fl_mapping_binding *mb)
{
	return mb->source;
}
