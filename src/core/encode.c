/*
 * CSV records to encoded feature vectors, column statistics, standardisation
 * and the in-memory dataset of one partner.
 */
#include "fedlead/encode.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "fedlead/datetime.h"
#include "fedlead/error.h"
#include "fedlead/rows.h"
#include "fedlead/spline.h"
#include "fedlead/splitmix.h"

/* How much of an offending field an error message quotes. */
#define QUOTE_MAX 60

struct cat_entry {
	const char *value;
	size_t k;   /* position in the schema's value list */
	size_t len; /* strlen(value) */
};

struct binding {
	size_t col;                     /* CSV column index */
	size_t *cols;                   /* a feature read from several columns: theirs */
	struct cat_entry *cats;         /* categorical: values (folded: in fold order) */
	uint32_t *slot;                 /* categorical, not folded: hash table of cats */
	size_t mask;                    /* its size - 1 (a power of two) */
	struct fl_number_format number; /* numeric: the file's, with the feature's own */
	/* numeric, plain numbers, no transform, no placeholders: a value the
	 * reader parsed (rec->num) is the value, as encode_numeric() finds,
	 * clipped to [lo, hi] when clip, written at x[at] (and 0 at x[at + 1]
	 * when impute): the feature's fields, here beside the column */
	int simple, clip, impute;
	size_t at;
	double lo, hi;
};

struct fl_binding {
	const struct fl_schema *s;
	int all_simple; /* every feature is simple (struct binding) */
	/* Every feature simple, unclipped, without an indicator, and
	 * feature i read from column run_col + i into x[1 + i]: a record
	 * whose fields there the reader all parsed is copied as it is. */
	int run;
	size_t run_col;
	const char *path;
	size_t n_header;
	size_t label_col, id_col;  /* SIZE_MAX when absent */
	struct binding *feat;      /* one per schema feature */
	const char *const *source; /* per CSV column, a mapping's renamed names, or NULL */
	char **extra;
	size_t n_extra;
};

struct header_entry {
	const char *name;
	size_t col;
};

static int header_cmp(const void *a, const void *b)
{
	const struct header_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : (x->col > y->col) - (x->col < y->col);
}

/* Under "case": "fold" the values are sorted, and found, as they match:
 * trimmed, ignoring ASCII case. */
static int cat_fold_cmp(const void *a, const void *b)
{
	const char *x = ((const struct cat_entry *)a)->value,
	           *y = ((const struct cat_entry *)b)->value;

	return fl_schema_fold_cmp(x, strlen(x), y, strlen(y));
}

/* FNV-1a of the NUL-terminated s; *len gets strlen(s). */
static uint64_t str_hash(const char *s, size_t *len)
{
	uint64_t h = 0xcbf29ce484222325u;
	const char *p = s;

	for (; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3u;
	*len = (size_t)(p - s);
	return h;
}

/* The hash table of a categorical feature's values (not folded): slots
 * hold 1 + an index into cats, 0 when empty; at most half of them used. */
static int cats_table(struct binding *fb, size_t n)
{
	size_t size = 8;

	while (size < 2 * n)
		size *= 2;
	if ((fb->slot = calloc(size, sizeof(*fb->slot))) == NULL)
		return FL_ERR_NOMEM;
	fb->mask = size - 1;
	for (size_t c = 0; c < n; c++) {
		size_t len, i = (size_t)str_hash(fb->cats[c].value, &len) & fb->mask;

		while (fb->slot[i] != 0)
			i = (i + 1) & fb->mask;
		fb->slot[i] = (uint32_t)(c + 1);
	}
	return 0;
}

/* The listed value a field is exactly (strcmp() equal), or NULL; one hash
 * probe instead of a binary search of strcmp() calls, with "case": "fold"
 * the fold order's binary search. */
static const struct cat_entry *find_category(const struct fl_feature *f, const struct binding *fb,
                                             const struct fl_csv_field *fld)
{
	size_t lo = 0, hi = f->n_values;

	if (!f->fold) {
		size_t len, i = (size_t)str_hash(fld->s, &len) & fb->mask;

		for (; fb->slot[i] != 0; i = (i + 1) & fb->mask) {
			const struct cat_entry *c = &fb->cats[fb->slot[i] - 1];

			size_t q = 0;

			/* Byte by byte: levels are a few bytes, shorter than the
			 * call to memcmp(). */
			while (q < len && c->value[q] == fld->s[q])
				q++;
			if (c->len == len && q == len)
				return c;
		}
		return NULL;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *v = fb->cats[mid].value;
		int c = fl_schema_fold_cmp(fld->s, fld->len, v, strlen(v));

		/* An empty field is a listed value only when that value is "" (a
		 * listed "  " folds to "" too, but the field is not it). */
		if (c == 0)
			return fld->len > 0 || v[0] == '\0' ? &fb->cats[mid] : NULL;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Finds a header column by name; duplicated names the schema uses are an
 * error because either copy could be meant. */
static int find_column(const struct header_entry *hdr, size_t n, const char *path, const char *name,
                       int required, size_t *col)
{
	size_t lo = 0, hi = n;

	*col = SIZE_MAX;
	while (lo < hi) { /* lower bound */
		size_t mid = (lo + hi) / 2;

		if (strcmp(hdr[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n || strcmp(hdr[lo].name, name) != 0) {
		if (required)
			return fl_fail(FL_ERR_DATA,
			               "%s:1: column \"%s\" required by the schema is missing",
			               path, name);
		return 0;
	}
	if (lo + 1 < n && strcmp(hdr[lo + 1].name, name) == 0)
		return fl_fail(FL_ERR_DATA,
		               "%s:1: column \"%s\" appears twice (columns %zu and %zu)", path,
		               name, hdr[lo].col + 1, hdr[lo + 1].col + 1);
	*col = hdr[lo].col;
	return 0;
}

/* The columns of a feature read from several, each required; the
 * message says which feature needs the one that is missing. */
static int bind_columns(const struct header_entry *hdr, size_t n, const char *path,
                        const struct fl_feature *f, struct binding *fb, unsigned char *used)
{
	int r;

	if ((fb->cols = calloc(f->n_columns, sizeof(*fb->cols))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t c = 0; c < f->n_columns; c++) {
		if ((r = find_column(hdr, n, path, f->columns[c], 0, &fb->cols[c])) != 0)
			return r;
		if (fb->cols[c] == SIZE_MAX)
			return fl_fail(FL_ERR_DATA,
			               "%s:1: column \"%s\" required by the schema (feature \"%s\" "
			               "reads it) is missing",
			               path, f->columns[c], f->name);
		used[fb->cols[c]] = 1;
	}
	fb->col = fb->cols[0];
	return 0;
}

/* Sets each feature's simple flag (struct binding). */
static void mark_simple(struct fl_binding *b)
{
	const struct fl_schema *s = b->s;

	b->all_simple = 1;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		const struct fl_number_format *nf = &b->feat[i].number;

		b->feat[i].simple = f->type == FL_NUMERIC && f->transform == FL_TRANSFORM_NONE &&
		                    f->n_missing_values == 0 && s->n_missing_values == 0 &&
		                    (nf->decimal == 0 || nf->decimal == '.') &&
		                    nf->thousands[0] == '\0' && nf->currency[0] == '\0';
		b->feat[i].clip = f->has_clip;
		b->feat[i].impute = f->missing == FL_MISSING_IMPUTE;
		b->feat[i].at = f->enc_offset;
		b->feat[i].lo = f->clip_lo;
		b->feat[i].hi = f->clip_hi;
		b->all_simple &= b->feat[i].simple;
	}
	b->run = b->all_simple && s->n_features > 0;
	b->run_col = s->n_features > 0 ? b->feat[0].col : 0;
	for (size_t i = 0; b->run && i < s->n_features; i++)
		b->run = !b->feat[i].clip && !b->feat[i].impute && b->feat[i].at == 1 + i &&
		         b->feat[i].col == b->run_col + i && b->feat[i].cols == NULL;
}

/* Whether the n bytes at ok are all 1 (sixteen or eight at a time). */
static inline int all_ok(const unsigned char *ok, size_t n)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	uint64_t diff = 0, w;
	size_t k = 0;

#if defined(__SSE2__)
	const __m128i ones16 = _mm_set1_epi8(1);
	__m128i d16 = _mm_setzero_si128();

	for (; k + 16 <= n; k += 16)
		d16 = _mm_or_si128(d16,
		                   _mm_xor_si128(_mm_loadu_si128((const void *)(ok + k)), ones16));
	if (_mm_movemask_epi8(_mm_cmpeq_epi8(d16, _mm_setzero_si128())) != 0xffff)
		return 0;
#endif
	for (; k + 8 <= n; k += 8) {
		memcpy(&w, ok + k, sizeof(w));
		diff |= w ^ ones;
	}
	for (; k < n; k++)
		diff |= ok[k] ^ 1u;
	return diff == 0;
}

/* A simple feature's value as encode_numeric() writes it. */
static inline void put_simple(const struct binding *fb, double v, double *x)
{
	if (fb->clip)
		v = v < fb->lo ? fb->lo : v > fb->hi ? fb->hi : v;
	x[fb->at] = v;
	if (fb->impute)
		x[fb->at + 1] = 0.0;
}

void fl_binding_plain_numbers(struct fl_binding *b)
{
	for (size_t i = 0; i < b->s->n_features; i++)
		if (b->s->features[i].type == FL_NUMERIC)
			memset(&b->feat[i].number, 0, sizeof(b->feat[i].number));
	mark_simple(b);
}

void fl_binding_free(struct fl_binding *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; b->feat != NULL && i < b->s->n_features; i++) {
		free(b->feat[i].cats);
		free(b->feat[i].slot);
		free(b->feat[i].cols);
	}
	free(b->feat);
	for (size_t i = 0; i < b->n_extra; i++)
		free(b->extra[i]);
	free(b->extra);
	free(b);
}

int fl_binding_new(const struct fl_schema *s, const struct fl_csv *csv,
                   const struct fl_csv_record *header, int need_label, struct fl_binding **out,
                   size_t *n_extra)
{
	return fl_binding_new_named(s, fl_csv_path(csv), header, need_label, out, n_extra);
}

int fl_binding_new_named(const struct fl_schema *s, const char *path,
                         const struct fl_csv_record *header, int need_label,
                         struct fl_binding **out, size_t *n_extra)
{
	struct fl_binding *b = NULL;
	struct header_entry *hdr = NULL;
	unsigned char *used = NULL;
	size_t n = header->n_fields, col;
	int r = FL_ERR_NOMEM;

	*out = NULL;
	*n_extra = 0;
	if ((b = calloc(1, sizeof(*b))) == NULL || (hdr = calloc(n, sizeof(*hdr))) == NULL ||
	    (used = calloc(n, 1)) == NULL ||
	    (b->feat = calloc(s->n_features, sizeof(*b->feat))) == NULL)
		goto out;
	b->s = s;
	b->path = path;
	b->n_header = n;
	for (size_t i = 0; i < n; i++)
		hdr[i] = (struct header_entry){header->fields[i].s, i};
	qsort(hdr, n, sizeof(*hdr), header_cmp);

	/* Without an id in the schema nothing is looked up: searching for a
	 * stand-in name would trip over a header with two unnamed columns.
	 * Scoring binds no label even when the column is there: open leads
	 * have no outcome yet, and an empty label must not make a row bad. */
	b->label_col = b->id_col = SIZE_MAX;
	if ((need_label && (r = find_column(hdr, n, path, s->label, 1, &b->label_col)) != 0) ||
	    (s->id != NULL && (r = find_column(hdr, n, path, s->id, 1, &b->id_col)) != 0))
		goto out;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];

		if (f->n_columns > 0) {
			if ((r = bind_columns(hdr, n, path, f, &b->feat[i], used)) != 0)
				goto out;
		} else if ((r = find_column(hdr, n, path, f->name, 1, &b->feat[i].col)) != 0) {
			goto out;
		}
		used[b->feat[i].col] = 1;
		if (f->type == FL_NUMERIC) {
			struct fl_csv_dialect d = s->dialect, own = {.number = f->number};

			fl_csv_dialect_merge(&d, &own, f->number_set);
			b->feat[i].number = d.number;
		}
		if (f->type != FL_CATEGORICAL)
			continue;
		if ((b->feat[i].cats = calloc(f->n_values, sizeof(struct cat_entry))) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		for (size_t k = 0; k < f->n_values; k++)
			b->feat[i].cats[k] =
			        (struct cat_entry){f->values[k], k, strlen(f->values[k])};
		if (f->fold) {
			qsort(b->feat[i].cats, f->n_values, sizeof(struct cat_entry), cat_fold_cmp);
		} else if ((r = cats_table(&b->feat[i], f->n_values)) != 0) {
			goto out;
		}
	}
	if (b->label_col != SIZE_MAX)
		used[b->label_col] = 1;
	if (b->id_col != SIZE_MAX)
		used[b->id_col] = 1;
	/* The label column is "used" when scoring unlabelled files too. */
	if ((r = find_column(hdr, n, path, s->label, 0, &col)) != 0)
		goto out;
	if (col != SIZE_MAX)
		used[col] = 1;
	for (size_t i = 0; i < s->n_ignore; i++) {
		if ((r = find_column(hdr, n, path, s->ignore[i], 0, &col)) != 0)
			goto out;
		if (col != SIZE_MAX)
			used[col] = 1;
	}
	for (size_t i = 0; i < n; i++) {
		char **ne;

		if (used[i])
			continue;
		r = FL_ERR_NOMEM;
		if ((ne = realloc(b->extra, (b->n_extra + 1) * sizeof(*ne))) == NULL)
			goto out;
		b->extra = ne;
		if ((ne[b->n_extra] = strdup(header->fields[i].s)) == NULL)
			goto out;
		b->n_extra++;
	}
	mark_simple(b);
	*n_extra = b->n_extra;
	*out = b;
	b = NULL;
	r = 0;
out:
	free(hdr);
	free(used);
	fl_binding_free(b);
	return r;
}

const char *fl_binding_extra(const struct fl_binding *b, size_t i)
{
	return i < b->n_extra ? b->extra[i] : NULL;
}

int fl_binding_has_label(const struct fl_binding *b)
{
	return b->label_col != SIZE_MAX;
}

size_t fl_binding_column(const struct fl_binding *b, size_t i)
{
	return b->feat[i].col;
}

int fl_binding_has_id(const struct fl_binding *b)
{
	return b->id_col != SIZE_MAX;
}

void fl_binding_set_sources(struct fl_binding *b, const char *const *source)
{
	b->source = source;
}

/* A column as messages name it: "\"industry\"", or with a mapping that
 * renamed it, the name the person sees in the file. */
static const char *column_text(const struct fl_binding *b, size_t col, const char *name, char *buf,
                               size_t n)
{
	if (b->source != NULL && b->source[col] != NULL)
		snprintf(buf, n, "\"%s\" (mapped to %s)", b->source[col], name);
	else
		snprintf(buf, n, "\"%s\"", name);
	return buf;
}

static int bad_field(const struct fl_binding *b, const struct fl_csv_record *rec, size_t col,
                     const char *what)
{
	const struct fl_csv_field *f = &rec->fields[col];
	const char *name = "";
	char cname[256];

	/* Name the column the schema knows it by. */
	if (col == b->label_col)
		name = b->s->label;
	for (size_t i = 0; i < b->s->n_features; i++)
		if (b->feat[i].col == col && b->s->features[i].n_columns == 0)
			name = b->s->features[i].name;
	return fl_fail(FL_ERR_DATA, "%s:%llu:%zu: column %s: \"%.*s%s\" %s", b->path,
	               (unsigned long long)rec->line, col + 1,
	               column_text(b, col, name, cname, sizeof(cname)),
	               (int)(f->len > QUOTE_MAX ? QUOTE_MAX : f->len), f->s,
	               f->len > QUOTE_MAX ? "..." : "", what);
}

/*
 * A numeric value or a date that is missing: an empty field, or a
 * placeholder of "missing_values" ("Select", "N/A"). With missing=impute the
 * value is NaN (imputed when standardised) and the indicator after it is
 * set; with missing=error the row is bad. Returns 1 when the value is
 * missing and encoded so, 0 when there is a value to read, or an error.
 */
static int encode_missing_value(const struct fl_binding *b, const struct fl_feature *f,
                                const struct fl_csv_record *rec, size_t col, double *x)
{
	const struct fl_csv_field *fld = &rec->fields[col];
	char cname[256];

	/* Without placeholders only an empty field is missing: the common
	 * case, tested here once a field instead of through the lists. */
	if (fld->len > 0 && f->n_missing_values == 0 && b->s->n_missing_values == 0)
		return 0;
	if (!fl_schema_is_missing(b->s, f, fld->s, fld->len))
		return 0;
	if (f->missing != FL_MISSING_IMPUTE && fld->len > 0)
		return bad_field(b, rec, col,
		                 "is a missing value (in \"missing_values\"), and the schema says "
		                 "missing=error");
	if (f->missing != FL_MISSING_IMPUTE)
		return fl_fail(FL_ERR_DATA,
		               "%s:%llu:%zu: column %s: missing value (the schema says "
		               "missing=error)",
		               b->path, (unsigned long long)rec->line, col + 1,
		               column_text(b, col, f->name, cname, sizeof(cname)));
	x[0] = NAN;
	x[1] = 1.0;
	return 1;
}

static int encode_numeric(const struct fl_binding *b, const struct fl_feature *f,
                          const struct binding *fb, const struct fl_csv_record *rec, double *x)
{
	size_t col = fb->col;
	const struct fl_csv_field *fld = &rec->fields[col];
	char what[160], fmt[96];
	double v, ind[2];
	int r, block = fl_spline_is_block(f);

	/* A spline or bins block has its own layout (spline.h). */
	if ((r = encode_missing_value(b, f, rec, col, block ? ind : x)) != 0) {
		if (r > 0 && block)
			fl_spline_encode(f, NAN, 1, x);
		return r < 0 ? r : 0;
	}
	if (fl_parse_number(fld->s, fld->len, &fb->number, &v) != 0) {
		char *end;
		double t = strtod(fld->s, &end);

		/* strtod accepts "nan" and "inf": say that is the problem. Blanks
		 * around a number are allowed, so they are around these too. */
		while (end != fld->s && (*end == ' ' || *end == '\t'))
			end++;
		if (end != fld->s && *end == '\0' && !isfinite(t))
			return bad_field(b, rec, col, "is not a finite number");
		/* Say how the number was expected, when not plainly. */
		fl_number_describe(&fb->number, fmt, sizeof(fmt));
		snprintf(what, sizeof(what), "is not a number%s%s%s", fmt[0] ? " (" : "", fmt,
		         fmt[0] ? ")" : "");
		return bad_field(b, rec, col, what);
	}
	/* The schema's clip range bounds every value wherever rows are encoded
	 * (training, scoring, statistics), so one lead's weight in any sum is
	 * the contract's and a model scores leads as it was trained on them. */
	if (f->has_clip && !(block && fl_spline_special(f, v) >= 0))
		v = v < f->clip_lo ? f->clip_lo : v > f->clip_hi ? f->clip_hi : v;
	if (block) {
		fl_spline_encode(f, v, 0, x);
		return 0;
	}
	if (f->transform == FL_TRANSFORM_LOG1P) {
		if (!(v > -1))
			return bad_field(b, rec, col,
			                 "is not above -1, which \"transform\": \"log1p\" needs");
		v = log1p(v);
	}
	x[0] = v;
	if (f->missing == FL_MISSING_IMPUTE)
		x[1] = 0.0;
	return 0;
}

/* join_fields() results. */
enum { JOIN_OK, JOIN_MISSING, JOIN_LONG };

/*
 * A feature read from several columns: their fields joined as
 * fl_schema_join() says into buf (cap bytes, at least
 * FL_SCHEMA_MAX_JOINED + 2 to match), as *out. JOIN_MISSING when a field
 * is empty or a placeholder, JOIN_LONG when fl_schema_join() says the text
 * is none of the listed values (cut: longer than any of them; or a field
 * of blanks only under "case": "fold").
 */
static int join_fields(const struct fl_binding *b, const struct fl_feature *f,
                       const struct binding *fb, const struct fl_csv_record *rec, char *buf,
                       size_t cap, struct fl_csv_field *out)
{
	struct fl_csv_field parts[FL_SCHEMA_MAX_COLUMNS] = {{0}};
	int missing = 0, cut;

	for (size_t c = 0; c < f->n_columns; c++) {
		parts[c] = rec->fields[fb->cols[c]];
		missing = missing || fl_schema_is_missing(b->s, f, parts[c].s, parts[c].len);
	}
	out->len = fl_schema_join(f, parts, buf, cap, &cut);
	out->s = buf;
	return missing ? JOIN_MISSING : cut ? JOIN_LONG : JOIN_OK;
}

static int encode_categorical(const struct fl_binding *b, const struct fl_feature *f,
                              const struct binding *fb, const struct fl_csv_record *rec, double *x)
{
	const struct fl_csv_field *fld = &rec->fields[fb->col];
	const struct cat_entry *hit = NULL;
	struct fl_csv_field joined;
	char cname[256], buf[FL_SCHEMA_MAX_JOINED + 2];
	int missing = 0;

	memset(x, 0, f->enc_width * sizeof(*x));
	/* A placeholder is never a listed value (the parser refuses that), so
	 * it is missing, as an empty field not listed as "" is. */
	if (f->n_columns > 0) {
		int state = join_fields(b, f, fb, rec, buf, sizeof(buf), &joined);

		fld = &joined;
		missing = state == JOIN_MISSING;
		if (state == JOIN_OK)
			hit = find_category(f, fb, fld);
	} else if (fld->len > 0 && fl_schema_is_missing(b->s, f, fld->s, fld->len))
		missing = 1;
	else if ((hit = find_category(f, fb, fld)) == NULL)
		missing = fld->len == 0;
	if (hit != NULL) {
		x[hit->k] = 1.0;
		return 0;
	}
	if (f->other) {
		x[f->n_values] = 1.0;
		return 0;
	}
	if (f->n_columns > 0 && missing)
		return fl_fail(FL_ERR_DATA,
		               "%s:%llu: feature \"%s\": a column it reads has no value (no "
		               "\"other\" category)",
		               b->path, (unsigned long long)rec->line, f->name);
	if (f->n_columns > 0)
		return fl_fail(FL_ERR_DATA,
		               "%s:%llu: feature \"%s\": \"%.*s%s\" is not a listed category and "
		               "there is no \"other\"",
		               b->path, (unsigned long long)rec->line, f->name,
		               (int)(fld->len > QUOTE_MAX ? QUOTE_MAX : fld->len), fld->s,
		               fld->len > QUOTE_MAX ? "..." : "");
	if (missing)
		return fl_fail(FL_ERR_DATA,
		               "%s:%llu:%zu: column %s: missing value (no \"other\" category)",
		               b->path, (unsigned long long)rec->line, fb->col + 1,
		               column_text(b, fb->col, f->name, cname, sizeof(cname)));
	return bad_field(b, rec, fb->col, "is not a listed category and there is no \"other\"");
}

/*
 * A date: its age in days against the schema's reference (clipped like a
 * numeric value), then the one-hot weekday and month. A missing date with
 * missing=impute leaves the age NaN (imputed later), sets the indicator
 * and no weekday or month: the indicator carries what is known.
 */
static int encode_date(const struct fl_binding *b, const struct fl_feature *f,
                       const struct binding *fb, const struct fl_csv_record *rec, double *x)
{
	const struct fl_csv_field *fld = &rec->fields[fb->col];
	size_t head = 1 + (f->missing == FL_MISSING_IMPUTE);
	struct fl_date d;
	char what[192];
	double age;
	int r;

	memset(x, 0, f->enc_width * sizeof(*x));
	if ((r = encode_missing_value(b, f, rec, fb->col, x)) != 0)
		return r < 0 ? r : 0;
	if (fl_date_parse(fld->s, fld->len, (enum fl_date_format)f->date_format, &d) != 0) {
		snprintf(what, sizeof(what), "is not a date in format %s (%s)",
		         fl_date_format_name((enum fl_date_format)f->date_format), fl_errmsg());
		return bad_field(b, rec, fb->col, what);
	}
	age = (double)(f->date_ref - d.days);
	if (f->has_clip)
		age = age < f->clip_lo ? f->clip_lo : age > f->clip_hi ? f->clip_hi : age;
	x[0] = age;
	x[head + (size_t)d.weekday] = 1.0;
	x[head + FL_DATE_WEEKDAYS + (size_t)(d.month - 1)] = 1.0;
	return 0;
}

int fl_encode_row(const struct fl_binding *b, const struct fl_csv_record *rec, double *x,
                  double *label, const char **id)
{
	const struct fl_schema *s = b->s;
	int r;

	if (rec->n_fields != b->n_header)
		return fl_fail(FL_ERR_DATA, "%s:%llu: %zu fields, but the header has %zu", b->path,
		               (unsigned long long)rec->line, rec->n_fields, b->n_header);
	if (b->label_col != SIZE_MAX) {
		const char *v = rec->fields[b->label_col].s;

		if (strcmp(v, s->positive) == 0)
			*label = 1.0;
		else if (strcmp(v, s->negative) == 0)
			*label = 0.0;
		else {
			char what[256];

			snprintf(what, sizeof(what),
			         "is not a label value (expected \"%.80s\" or "
			         "\"%.80s\")",
			         s->positive, s->negative);
			return bad_field(b, rec, b->label_col, what);
		}
	}
	if (id != NULL)
		*id = b->id_col != SIZE_MAX ? rec->fields[b->id_col].s : NULL;
	x[0] = 1.0;
	/* Plain decimals the reader parsed as it cut the record
	 * (fl_csv_want_numbers()): encode_numeric()'s result without its
	 * tests, which such a value passes; the others as below. */
	if (b->run && rec->num != NULL && all_ok(rec->num_ok + b->run_col, s->n_features)) {
		memcpy(x + 1, rec->num + b->run_col, s->n_features * sizeof(*x));
		return 0;
	}
	if (b->all_simple && rec->num != NULL) {
		/* In locals: the stores into x cannot change them, so they are
		 * not loaded again for every feature. */
		const struct binding *feat = b->feat;
		const double *num = rec->num;
		const unsigned char *ok = rec->num_ok;
		size_t n = s->n_features;

		for (size_t i = 0; i < n; i++) {
			const struct binding *fb = &feat[i];

			if (ok[fb->col])
				put_simple(fb, num[fb->col], x);
			else if ((r = encode_numeric(b, &s->features[i], fb, rec, x + fb->at)) != 0)
				return r;
		}
		return 0;
	}
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		const struct binding *fb = &b->feat[i];

		if (fb->simple && rec->num != NULL && rec->num_ok[fb->col]) {
			put_simple(fb, rec->num[fb->col], x);
			continue;
		}
		if (f->type == FL_NUMERIC)
			r = encode_numeric(b, f, &b->feat[i], rec, x + f->enc_offset);
		else if (f->type == FL_DATE)
			r = encode_date(b, f, &b->feat[i], rec, x + f->enc_offset);
		else
			r = encode_categorical(b, f, &b->feat[i], rec, x + f->enc_offset);
		if (r != 0)
			return r;
	}
	return 0;
}

/* ---- statistics ---- */

void fl_stats_free(struct fl_stats *st)
{
	if (st == NULL)
		return;
	free(st->count);
	free(st->sum);
	free(st->sumsq);
	free(st->min);
	free(st->max);
	free(st);
}

int fl_stats_new(size_t dim, struct fl_stats **out)
{
	struct fl_stats *st = calloc(1, sizeof(*st));

	*out = NULL;
	if (st == NULL)
		return FL_ERR_NOMEM;
	st->dim = dim;
	st->count = calloc(dim, sizeof(double));
	st->sum = calloc(dim, sizeof(double));
	st->sumsq = calloc(dim, sizeof(double));
	st->min = malloc(dim * sizeof(double));
	st->max = malloc(dim * sizeof(double));
	if (!st->count || !st->sum || !st->sumsq || !st->min || !st->max) {
		fl_stats_free(st);
		return FL_ERR_NOMEM;
	}
	for (size_t j = 0; j < dim; j++) {
		st->min[j] = INFINITY;
		st->max[j] = -INFINITY;
	}
	*out = st;
	return 0;
}

void fl_stats_add(struct fl_stats *st, const double *x, double label)
{
	st->rows += 1;
	st->positives += label;
	for (size_t j = 0; j < st->dim; j++)
		fl_stats_add_value(st, j, x[j]);
}

int fl_stats_merge(struct fl_stats *st, const struct fl_stats *o)
{
	if (st->dim != o->dim)
		return fl_fail(FL_ERR_INVALID, "statistics of %zu and %zu columns cannot be merged",
		               st->dim, o->dim);
	st->rows += o->rows;
	st->positives += o->positives;
	for (size_t j = 0; j < st->dim; j++) {
		st->count[j] += o->count[j];
		st->sum[j] += o->sum[j];
		st->sumsq[j] += o->sumsq[j];
		st->min[j] = fmin(st->min[j], o->min[j]);
		st->max[j] = fmax(st->max[j], o->max[j]);
	}
	return 0;
}

/* ---- standardisation ---- */

void fl_scaler_free(struct fl_scaler *sc)
{
	if (sc == NULL)
		return;
	free(sc->center);
	free(sc->scale);
	free(sc->baseline);
	free(sc->impute);
	free(sc);
}

int fl_scaler_new(size_t dim, struct fl_scaler **out)
{
	struct fl_scaler *sc = calloc(1, sizeof(*sc));

	*out = NULL;
	if (sc == NULL)
		return FL_ERR_NOMEM;
	sc->dim = dim;
	sc->center = calloc(dim, sizeof(double));
	sc->scale = malloc(dim * sizeof(double));
	sc->baseline = calloc(dim, sizeof(double));
	sc->impute = calloc(dim, sizeof(double));
	if (!sc->center || !sc->scale || !sc->baseline || !sc->impute) {
		fl_scaler_free(sc);
		return FL_ERR_NOMEM;
	}
	for (size_t j = 0; j < dim; j++)
		sc->scale[j] = 1.0;
	*out = sc;
	return 0;
}

int fl_scaler_from_stats(const struct fl_schema *s, const struct fl_stats *st,
                         struct fl_scaler **out)
{
	struct fl_scaler *sc;
	int r;

	*out = NULL;
	if (st->dim != s->dim)
		return fl_fail(FL_ERR_INVALID, "statistics have %zu columns, the schema %zu",
		               st->dim, s->dim);
	if (st->rows <= 0)
		return fl_fail(FL_ERR_DATA, "no rows to compute statistics from");
	/* Rows encoded before their knots were placed hold raw values in a
	 * spline block: a scaler from them would train on the wrong columns. */
	if (fl_spline_unplaced(s) != SIZE_MAX)
		return fl_fail(FL_ERR_INVALID,
		               "feature \"%s\": its knots are placed from the training data, "
		               "which this command does not do; write the knot values in the "
		               "schema (\"knots\": [...])",
		               s->features[fl_spline_unplaced(s)].name);
	if ((r = fl_scaler_new(s->dim, &sc)) != 0)
		return r;
	sc->baseline[0] = 1.0;
	/* Indicator and one-hot columns keep their 0/1 values; their baseline is
	 * how often they are 1. */
	for (size_t j = 1; j < s->dim; j++)
		sc->baseline[j] = st->sum[j] / st->rows;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t j = f->enc_offset;
		double mean, var;

		if (!fl_feature_is_value(f, j))
			continue;
		mean = st->count[j] > 0 ? st->sum[j] / st->count[j] : 0.0;
		var = st->count[j] > 0 ? st->sumsq[j] / st->count[j] - mean * mean : 0.0;
		sc->center[j] = mean;
		sc->impute[j] = mean;
		/* A constant column carries no information; leave it unscaled so it
		 * standardises to zero instead of dividing by zero. sumsq/n - mean^2
		 * of a constant leaves a rounding residue proportional to mean^2,
		 * so the test is relative: an absolute floor would also flatten
		 * genuine columns of small values (rates around 1e-7). */
		sc->scale[j] = var > 1e-12 * mean * mean ? sqrt(var) : 1.0;
		sc->baseline[j] = 0.0;
	}
	*out = sc;
	return 0;
}

void fl_scaler_apply(const struct fl_scaler *sc, double *x)
{
	for (size_t j = 0; j < sc->dim; j++) {
		double v = isnan(x[j]) ? sc->impute[j] : x[j];

		x[j] = (v - sc->center[j]) / sc->scale[j];
	}
}

/* ---- datasets ---- */

void fl_dataset_free(struct fl_dataset *ds)
{
	if (ds == NULL)
		return;
	free(ds->X);
	free(ds->y);
	fl_stats_free(ds->stats);
	free(ds);
}

int fl_encode_unseen(const struct fl_binding *b, const struct fl_csv_record *rec, const double *x,
                     size_t i)
{
	const struct fl_feature *f = &b->s->features[i];

	/* encode_categorical() sets the "(other)" column for a value it did not
	 * find and for a missing one; only the first is unseen. */
	return f->type == FL_CATEGORICAL && f->other && x[f->enc_offset + f->n_values] == 1.0 &&
	       !fl_encode_missing(b, rec, i);
}

int fl_encode_missing(const struct fl_binding *b, const struct fl_csv_record *rec, size_t i)
{
	const struct fl_feature *f = &b->s->features[i];
	const struct fl_csv_field *fld = &rec->fields[b->feat[i].col];

	/* A simple feature has no placeholders: only a blank is missing. */
	if (b->feat[i].simple && f->n_columns == 0)
		return fld->len == 0;
	for (size_t c = 1; c < f->n_columns; c++) {
		const struct fl_csv_field *p = &rec->fields[b->feat[i].cols[c]];

		if (fl_schema_is_missing(b->s, f, p->s, p->len))
			return 1;
	}
	return fl_schema_is_missing(b->s, f, fld->s, fld->len);
}

const char *fl_encode_text(const struct fl_binding *b, const struct fl_csv_record *rec, size_t i,
                           char *buf, size_t n, size_t *len)
{
	const struct fl_feature *f = &b->s->features[i];
	struct fl_csv_field t = rec->fields[b->feat[i].col];

	if (f->n_columns > 0)
		join_fields(b, f, &b->feat[i], rec, buf, n, &t);
	*len = t.len;
	return t.s;
}

void fl_load_report_extra(struct fl_load_report *rep, const struct fl_binding *b)
{
	size_t used = 0;

	rep->n_extra = b->n_extra;
	rep->extra[0] = '\0';
	for (size_t i = 0; i < b->n_extra; i++) {
		int w = snprintf(rep->extra + used, sizeof(rep->extra) - used, "%s%s",
		                 i ? ", " : "", b->extra[i]);

		if (w < 0 || (size_t)w >= sizeof(rep->extra) - used - 4) {
			snprintf(rep->extra + used, sizeof(rep->extra) - used, "%s...",
			         i ? ", " : "");
			break;
		}
		used += (size_t)w;
	}
}

/* Grows the row storage geometrically; realloc of large blocks remaps pages
 * rather than copying, so growth stays cheap. */
static int grow(struct fl_dataset *ds, size_t *cap)
{
	size_t ncap = *cap ? *cap * 2 : 1024;
	double *nx, *ny;

	if (ncap > SIZE_MAX / sizeof(double) / ds->dim)
		return fl_fail(FL_ERR_NOMEM, "too many rows for memory");
	if ((nx = realloc(ds->X, ncap * ds->dim * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	ds->X = nx;
	if ((ny = realloc(ds->y, ncap * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	ds->y = ny;
	*cap = ncap;
	return 0;
}

int fl_dataset_load(const struct fl_schema *s, const char *path, enum fl_bad_rows policy,
                    struct fl_dataset **out, struct fl_load_report *rep)
{
	struct fl_rows *rows = NULL;
	struct fl_dataset *ds = NULL;
	size_t cap = 0;
	int r;

	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	if ((ds = calloc(1, sizeof(*ds))) == NULL)
		return FL_ERR_NOMEM;
	ds->dim = s->dim;
	if ((r = fl_stats_new(s->dim, &ds->stats)) != 0 ||
	    (r = fl_rows_open(s, path, 1, policy, rep, &rows)) != 0)
		goto out;
	for (;;) {
		if (ds->n == cap && (r = grow(ds, &cap)) != 0)
			goto out;
		if ((r = fl_rows_next(rows, ds->X + ds->n * ds->dim, &ds->y[ds->n], NULL)) != 1)
			break;
		fl_stats_add(ds->stats, ds->X + ds->n * ds->dim, ds->y[ds->n]);
		ds->n++;
	}
	if (r < 0)
		goto out;
	if (ds->n == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no usable data rows", path);
		goto out;
	}
	rep->rows = ds->n;
	*out = ds;
	ds = NULL;
	r = 0;
out:
	fl_rows_close(rows);
	fl_dataset_free(ds);
	return r;
}

void fl_dataset_standardize(struct fl_dataset *ds, const struct fl_scaler *sc)
{
	for (size_t i = 0; i < ds->n; i++)
		fl_scaler_apply(sc, ds->X + i * ds->dim);
}

struct fl_dataset *fl_dataset_alloc(size_t n, size_t dim)
{
	struct fl_dataset *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->dim = dim;
	d->X = malloc((n ? n : 1) * dim * sizeof(double));
	d->y = malloc((n ? n : 1) * sizeof(double));
	if (d->X == NULL || d->y == NULL) {
		fl_dataset_free(d);
		return NULL;
	}
	return d;
}

int fl_dataset_split(const struct fl_dataset *ds, double frac, uint64_t seed,
                     struct fl_dataset **train, struct fl_dataset **valid)
{
	struct fl_dataset *t = NULL, *v = NULL;
	size_t nv = 0;
	/* A row goes to validation when its hash falls below frac * 2^64. */
	uint64_t cut;

	*train = *valid = NULL;
	if (!(frac > 0.0 && frac < 1.0))
		return fl_fail(FL_ERR_INVALID,
		               "validation fraction %g must be greater than 0 and less than 1",
		               frac);
	cut = (uint64_t)(frac * 18446744073709551616.0);
	for (size_t i = 0; i < ds->n; i++)
		nv += fl_mix64(seed ^ fl_mix64(i)) < cut;
	if ((t = fl_dataset_alloc(ds->n - nv, ds->dim)) == NULL ||
	    (v = fl_dataset_alloc(nv, ds->dim)) == NULL) {
		fl_dataset_free(t);
		return FL_ERR_NOMEM;
	}
	for (size_t i = 0; i < ds->n; i++) {
		struct fl_dataset *d = fl_mix64(seed ^ fl_mix64(i)) < cut ? v : t;

		memcpy(d->X + d->n * ds->dim, ds->X + i * ds->dim, ds->dim * sizeof(double));
		d->y[d->n++] = ds->y[i];
	}
	*train = t;
	*valid = v;
	return 0;
}
