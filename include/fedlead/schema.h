/*
 * The lead schema: the contract partners agree on.
 *
 * A schema names the label column and its two values, an optional id column,
 * the features with their types, and columns to ignore. It has a canonical
 * JSON form (keys sorted, defaults explicit, no blanks) whose SHA-256 is the
 * fingerprint stored in every model and checked when a node joins a
 * federation.
 *
 * Encoding (the order of model weights): column 0 is the intercept; then each
 * feature in declared order takes enc_width columns starting at enc_offset:
 *   numeric, missing=error   1 column  (the value)
 *   numeric, missing=impute  2 columns (the value, then a 0/1 missing indicator)
 *   categorical              one 0/1 column per listed value, plus one for
 *                            "other" when other=true
 *   date                     the age in days (reference - date, a numeric
 *                            column), the 0/1 missing indicator when
 *                            missing=impute, 7 one-hot weekday columns
 *                            (Mon..Sun), 12 one-hot month columns (Jan..Dec)
 *
 * A date feature, {"name": "Created", "type": "date", "format": "dmy",
 * "reference": "2026-01-01"}, reads its column in one of the formats of
 * fedlead/datetime.h and measures ages against the fixed reference day (a
 * schema never depends on the day it is used). Its age column is clipped
 * and standardised like a numeric value; its one-hot columns are left as
 * they are like a categorical feature's. The type, and so its keys, appear
 * only in schemas that use it: other schemas keep their canonical text.
 *
 * A numeric feature may carry a clip range, "clip": [low, high]: every value
 * is clipped into it when a row is encoded (training, scoring, statistics
 * alike), so that one lead's contribution to any sum is bounded by the
 * contract and not by the data. It is part of the canonical form and the
 * fingerprint only when present, so schemas without one keep theirs.
 * Differential privacy needs it on every numeric feature (the statistics
 * round's sums are bounded by it), and on every date feature's age.
 *
 * A categorical feature may be read from several columns of the file,
 * {"name": "month day", "type": "categorical", "columns": ["month", "day"],
 * "values": ["may 5", ...], "other": true}: its value is the columns'
 * texts joined by one space, in the order listed (under "case": "fold"
 * each text trimmed of blanks first). A blank or placeholder in any of
 * them makes the feature missing. One space reads best in reason codes
 * ("month day=may 5"); it is unambiguous because every listed value must
 * be exactly one non-empty text per column, without blanks, joined by
 * single spaces: a field that holds a blank itself ("a b" and "c", or "a"
 * and "b c") joins into a text with too many blanks, which no listed
 * value is, so it goes to "(other)" and never to another value (under
 * "case": "fold" a field of blanks only as well: "a b" and " " would
 * join into "a b ", which the fold's match trims to "a b"). The
 * columns stay free to be features of their own, but may not be the
 * label, the id or ignored. "columns" is in the canonical form only when
 * set.
 */
#ifndef FEDLEAD_SCHEMA_H
#define FEDLEAD_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/csv.h"

struct fl_mapping;

#define FL_SCHEMA_VERSION 1
#define FL_FINGERPRINT_LEN 32
/* Limits on a schema, checked before allocating. */
#define FL_SCHEMA_MAX_FEATURES 10000
#define FL_SCHEMA_MAX_VALUES 10000 /* categories per feature */
#define FL_SCHEMA_MAX_DIM 100000   /* encoded columns */
#define FL_SCHEMA_MAX_BYTES (8u * 1024 * 1024)
/* Largest |low| or |high| of a clip range: its square, times any count of
 * rows, stays far from overflow. */
#define FL_SCHEMA_MAX_CLIP 1e15
/* "missing_values": at most this many placeholders per list, each at most
 * FL_SCHEMA_MAX_PLACEHOLDER bytes. */
#define FL_SCHEMA_MAX_MISSING_VALUES 64
#define FL_SCHEMA_MAX_PLACEHOLDER 64
/* A categorical feature read from several columns ("columns"): at most
 * this many columns, and its listed values at most FL_SCHEMA_MAX_JOINED
 * bytes (a row's joined text is built on the stack). */
#define FL_SCHEMA_MAX_COLUMNS 8
#define FL_SCHEMA_MAX_JOINED 255

enum fl_feature_type { FL_NUMERIC = 0, FL_CATEGORICAL = 1, FL_DATE = 2 };
enum fl_missing_policy { FL_MISSING_ERROR = 0, FL_MISSING_IMPUTE = 1 };

struct fl_feature {
	char *name;
	enum fl_feature_type type;
	enum fl_missing_policy missing; /* numeric only */
	char **values;                  /* categorical only */
	size_t n_values;
	int other;               /* categorical: unknown values go to an "other" column */
	int has_clip;            /* numeric, date: a clip range is set */
	double clip_lo, clip_hi; /* numeric, date: clip_lo < clip_hi, both finite */
	int date_format;         /* date: an enum fl_date_format */
	int64_t date_ref;        /* date: the reference day (days since 1970-01-01) */
	size_t enc_offset, enc_width;
	/* numeric: the feature's own "decimal", "thousands", "currency" (the
	 * FL_DIALECT_* bits in number_set; the others are the file's) */
	struct fl_number_format number;
	unsigned number_set;
	/* "missing_values": field texts that mean "no value" for this feature
	 * (besides the schema's global list and the empty field); matched
	 * trimmed and ignoring ASCII case, stored as written. */
	char **missing_values;
	size_t n_missing_values;
	/* categorical: "case": "fold": values match trimmed and ignoring ASCII
	 * case ("google " is "Google"); 0: exact text, as always. */
	int fold;
	/* categorical: "columns", the file columns read together as this one
	 * feature (at least 2, in order), or NULL: the feature is the column
	 * named like it. Its value is the columns' texts joined by one space
	 * ("may" and "5" read "may 5"); see fl_encode_text(). */
	char **columns;
	size_t n_columns;
	/* numeric: "transform" (an enum fl_transform, fedlead/spline.h) and its
	 * keys; all zero for a plain numeric feature. */
	int transform;
	size_t n_knots;  /* spline, bins: knots, the boundary ones included */
	double *knots;   /* n_knots, strictly increasing; NULL until placed */
	int knots_given; /* the knots are written in the schema */
	double *special; /* "special" values, as written */
	size_t n_special;
	int monotone;    /* +1 "increasing", -1 "decreasing", 0 none */
	double *pspline; /* spline: (K+2)^2, the lower triangle of L^-1 */
};

struct fl_schema {
	char *label;    /* label column name */
	char *positive; /* label value meaning "converted" */
	char *negative; /* label value meaning "not converted" */
	char *id;       /* id column, or NULL */
	struct fl_feature *features;
	size_t n_features;
	char **ignore;
	size_t n_ignore;
	size_t dim; /* encoded width including the intercept column 0 */
	uint8_t fingerprint[FL_FINGERPRINT_LEN];
	char *canonical; /* canonical JSON text, NUL-terminated */
	/*
	 * How this partner's files are written ("delimiter", "encoding",
	 * "decimal", "thousands", "currency"; all zero: detect the separator,
	 * UTF-8, plain numbers). Not in the canonical form nor the
	 * fingerprint: see parse_dialect() in schema.c. A command's --delimiter
	 * and --encoding overwrite it after loading.
	 */
	struct fl_csv_dialect dialect;
	/* The top-level "missing_values", for every feature. */
	char **missing_values;
	size_t n_missing_values;
	/* This partner's column and value mapping (mapping.h), or NULL; owned:
	 * fl_schema_free() frees it. Like the dialect, not in the canonical
	 * form nor the fingerprint: rows.c applies it before binding. */
	struct fl_mapping *mapping;
};

/*
 * Parses schema JSON. origin names the text in error messages (a path).
 * Errors (FL_ERR_SCHEMA) name the JSON line and column or the offending key:
 * "coil.schema.json:12:5: features[3]: unknown type \"number\"".
 */
int fl_schema_parse(const char *json, size_t len, const char *origin, struct fl_schema **out);

/* Reads and parses a schema file. */
int fl_schema_load(const char *path, struct fl_schema **out);

/* Lowercase hex of the fingerprint; out must hold 65 bytes. */
void fl_schema_fingerprint_hex(const struct fl_schema *s, char out[65]);

/*
 * Name of encoded column j (0 <= j < dim) into buf: "(intercept)",
 * "MKOOPKLA", "MKOOPKLA (missing)", "PPERSAUT=6", "STYPE=(other)"; for a
 * date "Created (age days)", "Created (missing)", "Created (weekday=Mon)",
 * "Created (month=Mar)".
 */
void fl_schema_column_name(const struct fl_schema *s, size_t j, char *buf, size_t bufsz);

/* A date feature's one-hot blocks. */
#define FL_DATE_WEEKDAYS 7
#define FL_DATE_MONTHS 12

/*
 * Whether encoded column j is feature f's value column, the one that is
 * clipped, imputed and standardised: a numeric feature's value, a date's
 * age in days.
 */
int fl_feature_is_value(const struct fl_feature *f, size_t j);

/*
 * The parts of a feature that reason codes weigh and name separately: one
 * for a numeric or categorical feature (all its columns), three for a date
 * (the age with its missing indicator, the weekday block, the month
 * block). fl_feature_part() gives part p's encoded columns.
 */
size_t fl_feature_parts(const struct fl_feature *f);
void fl_feature_part(const struct fl_feature *f, size_t p, size_t *start, size_t *width);

/*
 * Compares two texts as "case": "fold" does: blanks (space, tab) around
 * them dropped, ASCII letters in lower case (bytes above 127 compare as
 * they are: "É" and "é" stay different). Returns <0, 0, >0 like strcmp.
 */
int fl_schema_fold_cmp(const char *a, size_t alen, const char *b, size_t blen);

/*
 * The value of feature f read from several columns (f->n_columns texts,
 * parts[k] the field of f->columns[k]): joined by one space, each trimmed
 * of blanks first under "case": "fold", into buf (cap > 0 bytes,
 * NUL-terminated). Returns its length; *cut is set to 1 when the text is
 * none of the listed values: it did not fit (they are at most
 * FL_SCHEMA_MAX_JOINED bytes, so a buf of FL_SCHEMA_MAX_JOINED + 2 cuts
 * only texts longer than any of them), or, under "case": "fold", a field
 * of blanks only trimmed to nothing (every listed value has a text for
 * each column; "may 5" and " " would otherwise join into "may 5 ", which
 * the fold's match reads as "may 5").
 */
size_t fl_schema_join(const struct fl_feature *f, const struct fl_csv_field *parts, char *buf,
                      size_t cap, int *cut);

/*
 * Whether the field text v (len bytes) means "no value" for feature f: the
 * empty field, or, trimmed of blanks, one of the schema's or the feature's
 * "missing_values" in any ASCII case ("n/a" for "N/A"). The encoder treats
 * it as it treats an empty field (imputed, missing=error, or "other").
 */
int fl_schema_is_missing(const struct fl_schema *s, const struct fl_feature *f, const char *v,
                         size_t len);

/*
 * Drafts a schema from a CSV for a person to review: columns whose
 * non-empty values all parse as numbers become numeric (categorical when they
 * take at most max_levels distinct integer values and the caller asked for
 * it), others categorical with their sorted distinct values and other=true.
 * Missing values give missing=impute. Each numeric feature gets a clip
 * range proposed from the file (its 0.5 % and 99.5 % quantiles, rounded
 * outward to two significant digits). Returns malloc'ed pretty JSON.
 *
 * It also decides, and says why in the decision table (opts.table):
 * identifiers (at least 50 values, at least 95 % distinct, text or
 * integers; counted with a bounded k-minimum-values sketch), constant
 * columns (one value, with or without empty fields) and free text (more
 * than 100 distinct values) are ignored; placeholders ("Select", "N/A",
 * "NA", "-", "null", "none", "unknown", "?", trimmed, any case) become the
 * feature's "missing_values"; category values are trimmed, and values that
 * differ only in case (or had blanks around them) give "case": "fold",
 * each listed once as most rows spell it; numbers with thousands
 * separators, a currency or a decimal comma are numeric with the format on
 * the feature (when "1,234" reads both ways, a semicolon-separated file
 * takes the decimal comma, any other the thousands separator).
 *
 * The label's positive value is the one of its two values that is a known
 * word for a conversion (fl_schema_label_positive()); when the values do not
 * say, the draft fails (FL_ERR_DATA) asking for --positive. An empty or
 * header-only file is FL_ERR_DATA.
 */
int fl_schema_draft(const char *csv_path, const char *label, const char *id, size_t max_levels,
                    char **json_out);

struct fl_schema_draft_opts {
	const char *label;    /* the label column (required) */
	const char *id;       /* the id column, or NULL */
	const char *positive; /* the label value meaning converted, or NULL: from the words */
	size_t max_levels;
	struct fl_csv_dialect dialect; /* how the file is written */
	/* Category values seen fewer than min_count times are left out of the
	 * drafted list (rows with them go to "other"); 0 or 1 keeps all. The
	 * federated schema round drafts with the node policy's k, so that a
	 * rarer value never leaves the site. A categorical column left with no
	 * value is ignored. */
	uint64_t min_count;
	/* When not NULL, receives the decision table (malloc'ed text, one
	 * line per column: what the draft decided and why, what to check). */
	char **table;
	/* The partner's mapping (mapping.h), or NULL: the draft names the
	 * columns and lists the values as the mapping makes them. */
	const struct fl_mapping *mapping;
	/* Propose a spline for numeric columns with enough distinct values
	 * (fl_transform_draft() in spline.c says when, and the table why).
	 * fedlead-node schema does, and so does the federation's schema
	 * round (with round_clip). */
	int transforms;
	/* 0, or k for the clip ranges of the federation's schema round
	 * (k = the node's schema_min_count, at least 1): the 1st and 99th
	 * percentiles by rank, but never nearer than k ranks to either end,
	 * rounded outward to two significant digits (which can take in the
	 * values beyond the rank), and a bound only where at least k values round
	 * to it (else the rank moves inward, up to the median). A column of
	 * fewer than fl_schema_round_clip_min(k) values gets no clip range
	 * (its transform is still drafted, with 3 values or more), and no
	 * column does when k < 2: a bound one lead's value, rounded, would
	 * say where that lead is (the fourth privacy review's finding 1 and
	 * its review; README.md, "What the schema round discloses"). The
	 * transform is chosen from the values held at least k times, those
	 * held fewer counted k to one (fl_transform_draft()). */
	uint64_t round_clip;
};

/* The fewest values a column needs for a clip range in the schema round
 * drafted with round_clip = k: max(4 k, 50), or 0 (none at all) for k < 2. */
uint64_t fl_schema_round_clip_min(uint64_t k);

/* fl_schema_draft() with every option. A positive value the label column
 * does not take is FL_ERR_INVALID. */
int fl_schema_draft_opts(const char *csv_path, const struct fl_schema_draft_opts *o,
                         char **json_out);

/*
 * Which of a label's two values means converted, from the words: 0 or 1
 * (the index into v), or -1 when the values do not say. A value is
 * positive when it is a known word for a conversion in any case and
 * spacing ("converted", "won", "Closed Won", "yes", "true", "1", ...), and
 * negative when it is a word for the opposite ("not converted", "lost",
 * "no", "false", "0", ...) or a positive word negated ("Not Converted",
 * "non-converted", "unconverted"). The positive value is the only positive
 * one, or else the one that is not negative when the other is; numbers say
 * only as 1 against 0 or -1. A negative word is never picked.
 */
int fl_schema_label_positive(const char *const v[2]);

void fl_schema_free(struct fl_schema *s);

#endif
