/*
 * From CSV records to encoded feature vectors, per the schema.
 *
 * A binding maps the schema's columns to positions in one CSV header.
 * Rows are encoded "raw" (numeric values in original units, missing numerics
 * as NaN until imputation) and then standardised with a scaler derived from
 * column statistics. Statistics are plain sums so that partners can add them
 * up in a federation.
 */
#ifndef FEDLEAD_ENCODE_H
#define FEDLEAD_ENCODE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "fedlead/csv.h"
#include "fedlead/schema.h"

struct fl_binding;

/*
 * Binds schema columns to the header record. A missing column is an error
 * (FL_ERR_DATA, "leads.csv:1: column \"AGE\" required by the schema is
 * missing"); a header name the schema uses that appears twice is an error
 * (either copy could be meant); header columns the schema
 * does not mention are reported through *n_extra (and named in
 * fl_binding_extra()) so the caller can print a notice.
 * need_label=0 binds without the label column (scoring unlabelled leads).
 */
int fl_binding_new(const struct fl_schema *s, const struct fl_csv *csv,
                   const struct fl_csv_record *header, int need_label, struct fl_binding **out,
                   size_t *n_extra);
/* fl_binding_new() for records that are not read from a file (source.h):
 * path is the name messages give, borrowed for the binding's life. */
int fl_binding_new_named(const struct fl_schema *s, const char *path,
                         const struct fl_csv_record *header, int need_label,
                         struct fl_binding **out, size_t *n_extra);
/* Name of the i-th extra header column. */
const char *fl_binding_extra(const struct fl_binding *b, size_t i);
int fl_binding_has_label(const struct fl_binding *b);
/* CSV column index (0-based) of schema feature i; of its first column
 * for a feature read from several. */
size_t fl_binding_column(const struct fl_binding *b, size_t i);
int fl_binding_has_id(const struct fl_binding *b);
/*
 * Tells the binding the file's own names of columns a mapping renamed
 * (mapping.h): source[col] for CSV column col, NULL when not renamed.
 * Messages then say "column \"Industry Vertical\" (mapped to industry)".
 * Borrowed: the array must outlive b.
 */
void fl_binding_set_sources(struct fl_binding *b, const char *const *source);
/* Reads every numeric feature's values as plain numbers (a decimal point,
 * no thousands separator or currency), whatever the schema's dialect and
 * the feature's own format say: for records whose numbers their source
 * writes so, such as a PostgreSQL query's (source.h). */
void fl_binding_plain_numbers(struct fl_binding *b);
void fl_binding_free(struct fl_binding *b);

/*
 * Encodes one record into x (schema dim doubles; x[0] = 1 for the intercept):
 * numeric values as parsed (NaN when missing and the policy is impute, with
 * the indicator column set to 1), categorical as one-hot. *label is 1 or 0
 * when the binding has the label, else untouched. *id points into the record
 * (or NULL). On a bad row returns FL_ERR_DATA with fl_errmsg() of the form
 * "leads.csv:17:4: column \"AGE\": \"abc\" is not a number".
 */
int fl_encode_row(const struct fl_binding *b, const struct fl_csv_record *rec, double *x,
                  double *label, const char **id);

/* Summable column statistics over raw encoded rows. */
struct fl_stats {
	size_t dim;
	double rows, positives;
	double *count; /* per encoded column: rows where the value was present */
	double *sum;   /* sum of present values */
	double *sumsq; /* sum of squares of present values */
	double *min, *max;
};

int fl_stats_new(size_t dim, struct fl_stats **out);
/* Adds one raw encoded row with its label (NaN entries count as missing). */
void fl_stats_add(struct fl_stats *st, const double *x, double label);

/* Adds value v of column j (a blank, NaN, counts nothing): the one update
 * fl_stats_add() makes per column, for passes that walk a row's columns in
 * their own layout (fl_rowset_stats()). */
static inline void fl_stats_add_value(struct fl_stats *st, size_t j, double v)
{
	if (isnan(v))
		return;
	st->count[j] += 1;
	st->sum[j] += v;
	st->sumsq[j] += v * v;
	if (v < st->min[j])
		st->min[j] = v;
	if (v > st->max[j])
		st->max[j] = v;
}
/* st += other (same dim); min/max combine. */
int fl_stats_merge(struct fl_stats *st, const struct fl_stats *other);
void fl_stats_free(struct fl_stats *st);

/*
 * Standardisation: x' = (x - center) / scale. Numeric value columns (and
 * a date's age) are centred on their mean and divided by their
 * (population) standard deviation, or 1 when it is zero; indicator and
 * one-hot columns and the intercept are left as they are (center 0,
 * scale 1). baseline[j] is the
 * mean of x'_j over the training rows (0 for numeric columns, the frequency
 * for indicators): reason codes measure a lead against it.
 */
struct fl_scaler {
	size_t dim;
	double *center, *scale, *baseline;
	double *impute; /* per column: raw value used for a missing numeric (the mean) */
};

/* An identity scaler (center 0, scale 1, baseline 0, impute 0). */
int fl_scaler_new(size_t dim, struct fl_scaler **out);
int fl_scaler_from_stats(const struct fl_schema *s, const struct fl_stats *st,
                         struct fl_scaler **out);
/* Imputes missing values and standardises a raw row in place. */
void fl_scaler_apply(const struct fl_scaler *sc, double *x);
void fl_scaler_free(struct fl_scaler *sc);

enum fl_bad_rows { FL_BAD_ROWS_FAIL = 0, FL_BAD_ROWS_SKIP = 1 };

#define FL_BAD_ROW_SAMPLES 5
#define FL_UNSEEN_COLUMNS 16

/* A categorical column's values that the schema does not list: the model
 * learned no weight for them, and they score as the feature's "(other)". */
struct fl_unseen {
	size_t feature;     /* index into the schema's features */
	const char *column; /* its name (the schema's string) */
	const char *source; /* the file's name for it when a mapping renamed it, else NULL
	                     * (the mapping's string, which the schema owns) */
	uint64_t leads;     /* leads with such a value in this column */
	char example[64];   /* the first such value (truncated) */
};

struct fl_load_report {
	uint64_t rows;                         /* rows loaded */
	uint64_t skipped;                      /* bad rows skipped (policy skip) */
	char samples[FL_BAD_ROW_SAMPLES][256]; /* first reasons, as error messages */
	size_t n_samples;
	size_t n_extra;  /* header columns the schema ignores implicitly */
	char extra[512]; /* their names, comma-separated (truncated with "...") */
	/* Unseen values, counted by fl_rows_next() when the caller sets
	 * want_unseen (scoring: in training and checks a value the schema
	 * does not list is what "(other)" is for): per column for the first
	 * FL_UNSEEN_COLUMNS columns that have any, the others only in
	 * n_unseen_more. */
	int want_unseen;
	uint64_t unseen_leads; /* leads with at least one unseen value */
	struct fl_unseen unseen[FL_UNSEEN_COLUMNS];
	size_t n_unseen;
	size_t n_unseen_more; /* further columns with unseen values */
};

/*
 * Whether feature i of the row just encoded from rec into the raw row x has
 * a value the schema does not list (not a missing one): the encoder put it
 * in the feature's "(other)" column.
 */
int fl_encode_unseen(const struct fl_binding *b, const struct fl_csv_record *rec, const double *x,
                     size_t i);

/*
 * Whether feature i of rec has no value: an empty field or a placeholder
 * of the schema's "missing_values" (fl_schema_is_missing()); for a feature
 * read from several columns, in any of them.
 */
int fl_encode_missing(const struct fl_binding *b, const struct fl_csv_record *rec, size_t i);

/*
 * The text of feature i in rec as the encoder matches it: its field, or
 * for a feature read from several columns (schema.h, "columns") the
 * fields joined by one space, each trimmed of blanks under "case": "fold",
 * written into buf and cut to fit its n bytes (n > 0). Returns the text
 * (the field's own, or buf) with its length in *len.
 */
const char *fl_encode_text(const struct fl_binding *b, const struct fl_csv_record *rec, size_t i,
                           char *buf, size_t n, size_t *len);

/* Fills rep->n_extra and rep->extra from a binding. */
void fl_load_report_extra(struct fl_load_report *rep, const struct fl_binding *b);

/* A partner's encoded data: n rows of dim doubles, row-major. */
struct fl_dataset {
	size_t n, dim;
	double *X;
	double *y;              /* 0 or 1 */
	struct fl_stats *stats; /* of the raw rows, before standardisation */
};

/*
 * Streams a labelled CSV into a raw encoded dataset (not yet standardised).
 * Memory: the numeric matrix, not the text.
 */
int fl_dataset_load(const struct fl_schema *s, const char *path, enum fl_bad_rows policy,
                    struct fl_dataset **out, struct fl_load_report *rep);

/* An empty dataset with room for n rows of dim columns (n = 0 allowed),
 * without statistics; NULL when memory is short. */
struct fl_dataset *fl_dataset_alloc(size_t n, size_t dim);

/* Applies a scaler to every row. */
void fl_dataset_standardize(struct fl_dataset *ds, const struct fl_scaler *sc);

/*
 * Splits off a validation part: rows are assigned by a hash of (seed, row
 * index) so the split is reproducible. frac in (0,1). Both outputs are new
 * datasets (the stats are not copied: they are NULL).
 */
int fl_dataset_split(const struct fl_dataset *ds, double frac, uint64_t seed,
                     struct fl_dataset **train, struct fl_dataset **valid);

void fl_dataset_free(struct fl_dataset *ds);

#endif
