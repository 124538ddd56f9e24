/*
 * Feature transforms of numeric features: cubic B-splines, bins and log1p.
 *
 * A numeric feature may say how its value enters the model:
 *   "transform": "log1p"   the value column holds log(1 + v) (v must be
 *                          above -1 after the clip), standardised as usual.
 *   "transform": "spline"  cubic B-splines on "knots" (the two boundary
 *                          knots included), linear beyond the boundary
 *                          knots; K knots give K + 2 columns.
 *   "transform": "bins"    piecewise constant: K knots cut the line into
 *                          K - 1 bins, one 0/1 column each (values below
 *                          the second knot are in the first bin, values
 *                          from the last but one knot on in the last).
 * "knots" is either a count (2 to FL_SPLINE_MAX_KNOTS; default 5), placed
 * at the quantiles of the training data when a model is trained and then
 * recorded in the model, or the knot values themselves (strictly
 * increasing), which are then part of the contract.
 * "special": [-1, ...] lists values that mean something of their own
 * ("never contacted"): each gets a 0/1 column, and such a row has no
 * spline or bin value. "monotone": "increasing" | "decreasing" asks for a
 * monotone effect: for spline and bins the Newton solver keeps the
 * B-spline (or bin) weights in that order, which makes the whole curve,
 * its linear continuation beyond the boundary knots included, monotone
 * (fl_spline_bounds()); on a plain or log1p numeric feature (no other
 * key needed) it is the sign of the value's weight. Special values and
 * the missing indicator are outside the curve and not constrained. L-BFGS and SGD (and so FedAvg)
 * do not enforce it and refuse such a schema (fl_spline_monotone_refuse()).
 *
 * Encoded block of a spline or bins feature: the basis (or bin) columns,
 * then one column per special value in the order written, then the missing
 * indicator when missing=impute. The block is not standardised (like a
 * one-hot block): its baseline is the training mean of each column, so a
 * lead's contribution sum_j w_j (x_j - baseline_j) is the effect of the
 * whole feature at its value against the average lead.
 *
 * Spline columns are not the raw B-splines b(v) but L^-1 b(v), where
 * L L' = D'D + eps I, D the second-difference matrix of the K + 2 spline
 * weights (a P-spline). The solver's ridge penalty on the encoded weights
 * is then the P-spline penalty on the B-spline weights: a larger l2 makes
 * the curve smoother (towards a straight line), and only eps of it shrinks
 * the line itself. The transform depends on K only, not on the knots.
 */
#ifndef FEDLEAD_SPLINE_H
#define FEDLEAD_SPLINE_H

#include <stddef.h>
#include <stdio.h>

#include "fedlead/encode.h"
#include "fedlead/schema.h"

struct fl_model;

enum fl_transform {
	FL_TRANSFORM_NONE = 0,
	FL_TRANSFORM_SPLINE = 1,
	FL_TRANSFORM_BINS = 2,
	FL_TRANSFORM_LOG1P = 3,
};

#define FL_SPLINE_MAX_KNOTS 64
#define FL_SPLINE_DEFAULT_KNOTS 5
#define FL_SPLINE_MAX_SPECIAL 16
/* The ridge share of the P-spline penalty (eps above). */
#define FL_SPLINE_RIDGE 1e-2

/* Whether feature f is encoded as a block of spline or bin columns. */
int fl_spline_is_block(const struct fl_feature *f);

/* Spline or bin columns of f (without specials and missing indicator). */
size_t fl_spline_basis_width(const struct fl_feature *f);

/* Cubic B-splines: at most this many are non-zero at any value. */
#define FL_SPLINE_WINDOW 4

/*
 * The raw B-spline values of spline feature f (knots placed) at the clipped
 * value v (not special, not missing): b[0..FL_SPLINE_WINDOW) are basis
 * functions *first.. of f, every other one is exactly 0. The encoded
 * columns are L^-1 b (above): column i is sum_{j <= i} pspline[i][j] b_j,
 * summed in ascending j, which is how fl_spline_encode() computes it.
 */
void fl_spline_window(const struct fl_feature *f, double v, size_t *first, double *b);

/*
 * The encoded basis columns of spline feature f (knots placed) at the
 * clipped value v (not special, not missing): the B-splines inside the
 * boundary knots, their tangent lines beyond them, through the P-spline
 * transform, into out[0..fl_spline_basis_width(f)), as fl_spline_encode()
 * writes them.
 */
void fl_spline_columns(const struct fl_feature *f, double v, double *out);

/* Which special value v is (index into f->special), or -1. */
int fl_spline_special(const struct fl_feature *f, double v);

/*
 * Encodes the value v of a spline or bins feature into its block x (all
 * enc_width columns): v is the clipped value, NaN when missing; special
 * values and the missing indicator are set here. With knots not yet
 * placed, the block holds v (or NaN) in its first column and zeros in the
 * basis columns: fl_spline_expand() finishes it once the knots are known.
 */
void fl_spline_encode(const struct fl_feature *f, double v, int missing, double *x);

/*
 * Turns a block encoded before its knots were placed (v in x[0]) into the
 * final encoding. f must have its knots.
 */
void fl_spline_expand(const struct fl_feature *f, double *x);

/* The first feature whose knots are still to be placed from data, or
 * SIZE_MAX when every spline and bins feature has its knots. */
size_t fl_spline_unplaced(const struct fl_schema *s);

/*
 * Sets feature i's knots (n values, n == f->n_knots, finite and strictly
 * increasing). Errors: FL_ERR_INVALID naming the feature.
 */
int fl_schema_set_knots(struct fl_schema *s, size_t i, const double *knots, size_t n);

/* Copies the placed knots of src's features to dst's (same canonical
 * text). */
int fl_schema_copy_knots(struct fl_schema *dst, const struct fl_schema *src);

/*
 * Places knots at quantiles of the values v[0..n) (NaN and special values
 * already left out by the caller): K knots at the i/(K-1) quantiles; ties
 * (a value held by many rows) are spread evenly up to the next distinct
 * knot, so the knots stay strictly increasing. Fewer than two distinct
 * values is FL_ERR_DATA. v is reordered in place (the order statistics the
 * knots need are put where a sort would put them).
 */
int fl_spline_quantile_knots(const struct fl_feature *f, double *v, size_t n, double *knots);

/*
 * Local training: places the knots of every feature that has a count from
 * the raw dataset's own values (rows encoded before placing), then expands
 * every row and recomputes the dataset's statistics. A schema without
 * such features is left alone.
 */
int fl_spline_prepare(struct fl_schema *s, struct fl_dataset *ds);

/* The same for raw training rows stored once (fl_rowset_load()); the
 * trainer takes their statistics itself. */
struct fl_rowset;
int fl_spline_prepare_rows(struct fl_schema *s, struct fl_rowset *rs);

/*
 * The effect of feature i at value v in log-odds against the average
 * training lead (the reason-code contribution of a lead with that value).
 */
double fl_spline_effect(const struct fl_model *m, size_t i, double v);

/*
 * What the effects of spline or bins feature i are measured against, as
 * the words after "log-odds": "against the average lead", with ", its
 * curve's part from the knots round's noised histogram" for a spline of a
 * model trained under differential privacy whose baselines came from it,
 * or "against a zero block, not the average lead: ..." with the reason for
 * such a spline whose basis baselines are 0 (the noised statistics do not
 * release them, and no knots round measured them: knots written in the
 * schema, or a coordinator resumed from a checkpoint without them).
 */
const char *fl_spline_effect_origin(const struct fl_model *m, size_t i);

/*
 * Where the training leads' values of spline or bins feature i lay, from
 * the model alone: for bins, each bin's share of the leads at its middle;
 * for a spline, the mean of each B-spline over the training leads (its
 * share of them, smoothed) at its centre (the mean of its inner knots).
 * Special values and missing ones are not in it. at and share receive
 * fl_spline_basis_width() points; returns that count, 0 when f has none.
 */
size_t fl_spline_density(const struct fl_model *m, size_t i, double *at, double *share);

/*
 * The shape constraints of the schema's monotone features for the Newton
 * solver (logreg.h: w_B = M u, u[1..) >= 0, for each such block), in
 * feature order; *out is NULL when no feature asks for one. They depend
 * on the schema only (not on knot values or data), so every party builds
 * the same. Free with fl_spline_bounds_free(). Errors: FL_ERR_NOMEM.
 */
struct fl_solver_bounds;
int fl_spline_bounds(const struct fl_schema *s, struct fl_solver_bounds **out);
void fl_spline_bounds_free(struct fl_solver_bounds *b);

/*
 * For a solver that cannot enforce "monotone" (solver names it, "sgd"):
 * FL_ERR_INVALID "feature \"a\": \"monotone\" is enforced by the newton
 * solver only, not by sgd; train with newton or remove it" when a feature
 * asks for it, else 0.
 */
int fl_spline_monotone_refuse(const struct fl_schema *s, const char *solver);

/*
 * Whether weights w (s->dim doubles, a model's standardised weights) keep
 * every feature that s declares monotone, as the Newton solver keeps it:
 * for a spline or bins feature, its B-spline (or bin) weights in the
 * declared order, which makes the whole curve monotone (above); for a
 * plain or log1p one, the sign of its weight. Each increment may go the
 * wrong way by at most FL_SPLINE_MONOTONE_TOL times (1 + the largest
 * B-spline weight's size), in log-odds: the rounding of the coordinate
 * change, far below any effect a score could show. Returns 0, or
 * FL_ERR_DATA naming the first feature that does not keep it:
 * "feature \"a\" is declared \"monotone\": \"increasing\", but the
 * model's B-spline weights 2 and 3 make its effect fall by 0.25 log-odds
 * (tolerance 1e-09)" ("bin weights" for bins), or for a plain value
 * "feature \"a\" is declared \"monotone\": \"increasing\", but its weight
 * in the model is -0.5, so its effect falls"; FL_ERR_NOMEM.
 */
#define FL_SPLINE_MONOTONE_TOL 1e-9
int fl_spline_monotone_verify(const struct fl_schema *s, const double *w);

/*
 * Writes each spline and bins feature's effect curve as text: the value at
 * the knots and between them, and the effect there. Returns 0 or FL_ERR_IO.
 */
int fl_spline_explain(const struct fl_model *m, FILE *fp);

#endif
