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

/* Frees the transform's arrays of f. */
void fl_transform_free(struct fl_feature *f);

#endif
