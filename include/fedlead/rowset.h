/*
 * Training rows as lead data is shaped: a dense block of numbers plus, per
 * one-hot group (a categorical feature's levels, a date's weekday or month,
 * a missing-value indicator), the index of the column that is 1.
 *
 * A CRM export is mostly categories: 25 categorical columns of 2 to 60
 * levels encode into ~800 columns of which ~25 are non-zero in a row. Stored
 * densely that is 6.4 KB of doubles a row and an O(columns^2) Hessian per
 * row; stored here it is the numeric block plus 4 bytes a group, and the
 * passes touch only the pairs present in a row (O(non-zeros^2)), with no
 * multiply for a one.
 *
 * Layout of n rows (row-major, one allocation each):
 *   X  n x nd doubles: the dense columns dcol[0..nd) (ascending; column 0,
 *      the intercept, and every numeric value are dense)
 *   K  n x nk column indices, one slot per group: the group's column that
 *      is set, or d when none is (a missing date sets no weekday)
 *   V  n x nk values of the slots, or NULL when every set column is 1 (the
 *      one-hot case)
 *   S  n x ns: per spline feature stored as pairs, the first of the
 *      FL_SPLINE_WINDOW consecutive columns its row sets
 *   B  n x ns x FL_SPLINE_WINDOW: their values
 *   R  n x ns raw values (NaN: missing or special) while the knots are not
 *      placed (fl_spline_prepare_rows() expands them), else NULL
 *   y  n labels, 0 or 1
 * A group's slot can hold any column of its range, so a feature that gives
 * a few (index, value) pairs takes as many slots.
 *
 * Spline features (issue 13's "fixed number of (index, value) pairs per
 * row"): a cubic B-spline value has at most four non-zero basis values, so
 * in the compact layout a spline whose rows arrive before its knots are
 * placed (fl_rowset_load(), knots from data) is stored as its raw B-spline
 * window b (first column, four values): a special value is a window ending
 * at its indicator column (0, 0, 0, 1), a missing one a window of zeros
 * (the missing indicator is its own group). The encoded columns are
 * L^-1 b (spline.h, the P-spline transform), dense in the block; the passes
 * work in the raw basis instead, with the block's weights mapped to
 * beta = L^-T w before a pass and its gradient and Hessian mapped back
 * (g = L^-1 g_beta, H = L^-1 H_beta L^-T) after it: the same sums, with
 * the Hessian accumulating only the pairs present in a row.
 *
 * The layout is chosen from the schema alone (fl_rowset_layout_auto()), so
 * every row of a file and every fold of it share it. Dense means nk = 0 and
 * dcol = 0..d-1: X is then exactly the dense matrix of encode.h and the
 * passes run fl_linalg_logistic() over it.
 */
#ifndef FEDLEAD_ROWSET_H
#define FEDLEAD_ROWSET_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/encode.h"
#include "fedlead/schema.h"

enum fl_rows_layout { FL_ROWS_AUTO = 0, FL_ROWS_DENSE = 1, FL_ROWS_COMPACT = 2 };

/* Rows per chunk of a parallel pass. The chunks, and so the order in which
 * partial sums are added, depend only on the row count: any thread count
 * gives the same bits. */
#define FL_ROWSET_CHUNK_ROWS ((size_t)1 << 16)

/* A spline feature stored as pairs: columns [off, end) are its basis
 * (nb columns) and special-value indicators; Li is L^-1 (nb x nb, lower
 * triangular, row-major), the rowset's own copy. */
struct fl_rowset_spline {
	uint32_t off, nb, end;
	double *Li;
};

struct fl_rowset {
	size_t n, cap, d;
	size_t nd, nk, ns;
	uint32_t *dcol;              /* nd dense column indices, ascending */
	uint32_t *gfirst, *gend;     /* nk groups: columns [gfirst, gend) */
	double *X;                   /* n x nd */
	uint32_t *K;                 /* n x nk; d = no column set */
	double *V;                   /* n x nk, or NULL (all ones) */
	struct fl_rowset_spline *sp; /* ns spline features stored as pairs */
	uint32_t *S;                 /* n x ns window starts */
	double *B;                   /* n x ns x FL_SPLINE_WINDOW window values */
	double *R;                   /* n x ns raw values before expansion, or NULL */
	double *y;                   /* n */
	size_t chunk_rows;           /* rows per chunk of a pass; 0 = FL_ROWSET_CHUNK_ROWS */
	int view;                    /* 1: borrows every array (fl_rowset_view()) */
	/* Splines: what the passes with the Hessian derive from K and S alone
	 * (each sub-block's leads in order of their group columns, and of
	 * their windows in each pair of spline blocks), kept for the next pass
	 * over the same rows; NULL otherwise. A view shares its rowset's,
	 * which knows which rows it holds. */
	struct fl_rowset_order *order;
};

/*
 * The layout the passes are fastest and smallest in for schema s:
 * FL_ROWS_COMPACT when storing the groups as indices at least halves a row
 * (8 nd + 4 nk <= 4 d bytes), else FL_ROWS_DENSE. The Hessian's work per
 * row is about d^2 / 2 dense and nd^2 / 2 + nk nd + nk^2 / 2 compact, so the
 * same rule keeps the work: a schema of numbers alone (nk = 0) stays dense,
 * where BLAS is fastest.
 */
enum fl_rows_layout fl_rowset_layout_auto(const struct fl_schema *s);

/*
 * Expands the spline features stored as pairs whose raw values R holds,
 * with the knots of s (the schema the rowset was made from, knots now
 * placed): fl_spline_prepare_rows() calls it. Frees R.
 */
void fl_rowset_expand_splines(struct fl_rowset *rs, const struct fl_schema *s);

/* An empty rowset of schema s in layout (AUTO chooses), room for cap rows.
 * Returns 0 or FL_ERR_NOMEM. */
int fl_rowset_new(const struct fl_schema *s, enum fl_rows_layout layout, size_t cap,
                  struct fl_rowset **out);
void fl_rowset_free(struct fl_rowset *rs);

/*
 * Appends raw encoded row x (d doubles) with label y, growing as needed.
 * Returns 0; FL_ERR_NOMEM; or FL_ERR_DATA "row does not fit the compact
 * layout (column J)" when a group column is not 0 or 1 or a group has two
 * ones (never for rows fl_encode_row() made).
 */
int fl_rowset_push(struct fl_rowset *rs, const double *x, double y);

/* An empty rowset of rs's layout with room for cap rows, and row i of src
 * appended to dst (same layout). Return 0 or FL_ERR_NOMEM. */
int fl_rowset_new_like(const struct fl_rowset *rs, size_t cap, struct fl_rowset **out);
int fl_rowset_append(struct fl_rowset *dst, const struct fl_rowset *src, size_t i);

/* Writes row i back as d dense doubles. */
void fl_rowset_row(const struct fl_rowset *rs, size_t i, double *x);

/* A view of rows [start, start + count) of rs, borrowing its arrays (do
 * not free it). */
void fl_rowset_view(const struct fl_rowset *rs, size_t start, size_t count, struct fl_rowset *out);

/*
 * Streams a labelled CSV into a raw (not standardised) rowset: the row
 * pipeline of fl_dataset_load() with its messages and bad-row policy, but
 * each row stored compactly as it is read, so the file is never held as a
 * dense matrix.
 */
int fl_rowset_load(const struct fl_schema *s, const char *path, enum fl_bad_rows policy,
                   enum fl_rows_layout layout, struct fl_rowset **out, struct fl_load_report *rep);

/* A copy of a raw dense dataset in layout (AUTO chooses; a dataset whose
 * rows do not fit COMPACT is copied dense under AUTO). */
int fl_rowset_from_dataset(const struct fl_schema *s, const struct fl_dataset *ds,
                           enum fl_rows_layout layout, struct fl_rowset **out);

/* Adds every raw row of rs to st, as fl_stats_add() would row by row. */
void fl_rowset_stats(const struct fl_rowset *rs, struct fl_stats *st);

/*
 * Standardises the rows in place. Group columns must be left unchanged by
 * sc (centre 0, scale 1, as fl_scaler_from_stats() makes one-hot and
 * indicator columns); returns FL_ERR_INTERNAL otherwise.
 */
int fl_rowset_standardize(struct fl_rowset *rs, const struct fl_scaler *sc);

/*
 * Moves the rows fl_dataset_split(frac, seed) puts in validation to the end,
 * both parts in their original order; *n_train is the number of rows before
 * them. Memory: a copy of the validation rows only.
 */
int fl_rowset_split(struct fl_rowset *rs, double frac, uint64_t seed, size_t *n_train);

/*
 * The data-term sums of fl_linalg_logistic() (linalg.h) over the rows:
 * loss, grad (d doubles) and, when hess is not NULL, the full Hessian
 * (d * d). c (n weights) may be NULL. The rows are cut into fixed chunks
 * that run on up to threads threads and are summed in chunk order, so the
 * result is the same for every thread count. In the dense layout a single
 * chunk gives fl_linalg_logistic()'s result bit for bit. With the Hessian
 * it may keep what it derived from K and S in rs->order for the next pass, so
 * two passes over one rowset, or over views of it, must not run at once.
 * Returns 0 or FL_ERR_NOMEM.
 */
int fl_rowset_logistic(const struct fl_rowset *rs, const double *c, const double *w,
                       unsigned threads, double *loss, double *grad, double *hess);

/*
 * fl_rowset_logistic() with the Hessian estimated from a fixed sample of
 * the rows, for Newton's first steps on many rows (logreg.h,
 * fl_solver_opts.hess_sample): in the dense layout, one block of rows
 * (fl_linalg_logistic_sampled()) in FL_HESS_SAMPLE_EVERY, drawn by a hash
 * of its first row's number (each chunk's rows numbered from the chunk's
 * first), made into the estimate by fl_hess_sample_fit() with the exact
 * diagonal. loss and grad are those of fl_rowset_logistic() bit for bit,
 * and so is everything in the compact layout (whose Hessian costs no d^2
 * a row) or without hess. The sample depends on the rows and the chunking
 * only, so the result is the same for every thread count. Returns 0; or
 * FL_SOLVER_HESS_EXACT (1) with fl_rowset_logistic()'s exact Hessian,
 * from a second pass, when the sample did not represent every column
 * (fl_hess_sample_fit()); or FL_ERR_NOMEM.
 */
int fl_rowset_logistic_sampled(const struct fl_rowset *rs, const double *c, const double *w,
                               unsigned threads, double *loss, double *grad, double *hess);

/* z_i = x_i . w for every row (n doubles). */
void fl_rowset_scores(const struct fl_rowset *rs, const double *w, double *z);

#endif
