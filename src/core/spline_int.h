/*
 * The schema's side of feature transforms (spline.c): parsing the keys of
 * a numeric feature and writing them into the canonical form.
 */
#ifndef FEDLEAD_CORE_SPLINE_INT_H
#define FEDLEAD_CORE_SPLINE_INT_H

#include <jansson.h>
#include <stddef.h>

#include "fedlead/schema.h"

/*
 * Reads "transform", "knots", "special" and "monotone" of numeric feature
 * idx and sets f->enc_width (f->missing is already set). Errors
 * (FL_ERR_SCHEMA) name the JSON path and the feature:
 * "s.json: features[2].knots (feature \"age\"): ...".
 */
int fl_transform_parse(json_t *jf, size_t idx, const char *origin, struct fl_feature *f);

/* Adds the transform's keys to a numeric feature's canonical object, only
 * when a transform is set (other schemas keep their fingerprint). */
int fl_transform_canonical(json_t *jf, const struct fl_feature *f);

/* Name of column k of a spline or bins block. */
void fl_transform_column_name(const struct fl_feature *f, size_t k, char *buf, size_t bufsz);

/*
 * The draft's proposal for a numeric column, from a sample of its values
 * sorted ascending (n > 0) and its count of distinct values: bins, one per
 * day, for a day of the month (below); otherwise a spline
 * ("transform": "spline", "knots": 5) when it has at least
 * FL_SPLINE_DRAFT_MIN_DISTINCT distinct values, and "special": [v] when its
 * smallest value v is negative, every other value is not, and v holds at
 * least 1 % of the sample ("-1 = never"). Adds the keys to jf and says why
 * in why (appended, cut short rather than overflowing).
 * round_k > 0 drafts for the schema round (k = the node's
 * schema_min_count): distinct is then counted in the sample, the values
 * held fewer than k times k to one (the argument is ignored; see
 * held_counts() in spline.c), and a day of the month
 * needs FL_SPLINE_DRAFT_MIN_DAYS days each held k times and allows up to
 * k - 1 values that are not a day, so that no lead alone decides which
 * transform leaves the site.
 */
#define FL_SPLINE_DRAFT_MIN_DISTINCT 10
/* ... and bins, one per day ("knots": [0.5, 1.5, ..., 31.5]), for whole
 * numbers from 1 to 31 with at least this many distinct values (a day of
 * the month). */
#define FL_SPLINE_DRAFT_MIN_DAYS 28
int fl_transform_draft(json_t *jf, const double *sorted, size_t n, uint64_t distinct,
                       uint64_t round_k, char *why, size_t whysz);

/* Frees the transform's arrays of f. */
void fl_transform_free(struct fl_feature *f);

#endif
