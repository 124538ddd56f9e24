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
 *
 * A numeric feature may carry a clip range, "clip": [low, high]: every value
 * is clipped into it when a row is encoded (training, scoring, statistics
 * alike), so that one lead's contribution to any sum is bounded by the
 * contract and not by the data. It is part of the canonical form and the
 * fingerprint only when present, so schemas without one keep theirs.
 * Differential privacy needs it on every numeric feature (the statistics
 * round's sums are bounded by it).
 */
#ifndef FEDLEAD_SCHEMA_H
#define FEDLEAD_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/csv.h"

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

enum fl_feature_type { FL_NUMERIC = 0, FL_CATEGORICAL = 1 };
enum fl_missing_policy { FL_MISSING_ERROR = 0, FL_MISSING_IMPUTE = 1 };

struct fl_feature {
	char *name;
	enum fl_feature_type type;
	enum fl_missing_policy missing; /* numeric only */
	char **values;                  /* categorical only */
	size_t n_values;
	int other;               /* categorical: unknown values go to an "other" column */
	int has_clip;            /* numeric: a clip range is set */
	double clip_lo, clip_hi; /* numeric: clip_lo < clip_hi, both finite */
	size_t enc_offset, enc_width;
	/* numeric: the feature's own "decimal", "thousands", "currency" (the
	 * FL_DIALECT_* bits in number_set; the others are the file's) */
	struct fl_number_format number;
	unsigned number_set;
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
 * "MKOOPKLA", "MKOOPKLA (missing)", "PPERSAUT=6", "STYPE=(other)".
 */
void fl_schema_column_name(const struct fl_schema *s, size_t j, char *buf, size_t bufsz);

/*
 * Drafts a schema from a CSV for a person to review: columns whose
 * non-empty values all parse as numbers become numeric (categorical when they
 * take at most max_levels distinct integer values and the caller asked for
 * it), others categorical with their sorted distinct values and other=true.
 * Missing values give missing=impute. Each numeric feature gets a clip
 * range proposed from the file (its 0.5 % and 99.5 % quantiles, rounded
 * outward to two significant digits). Returns malloc'ed pretty JSON.
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
};

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
