/*
 * Knots placed from a federation's data without pooling it (the knots
 * round, before the statistics round; README, "Federated knots").
 *
 * A spline or bins feature whose schema gives a knot count rather than the
 * knot values has its knots placed from data. In a federation every
 * partner sends, for each such feature, the counts of its training rows'
 * values in FL_KNOTS_BINS fine bins of equal width over the feature's clip
 * range (which is in the schema and its fingerprint, so every partner bins
 * alike); the coordinator learns only their sum (secure aggregation), takes
 * the knots at the quantiles of the summed histogram and sends them with
 * the statistics task, which every partner signs in its task hash; each
 * node checks them and encodes its rows with them, and the model records
 * them. Missing values and special values are in no bin (as they are in no
 * spline column).
 *
 * Histogram vector (UPDATE_HIST): for each such feature in schema order,
 * FL_KNOTS_BINS counts; bin b of a feature with clip [lo, hi] holds the
 * values v with lo + b w <= v < lo + (b + 1) w, w = (hi - lo) / FL_KNOTS_BINS,
 * the last bin closed.
 */
#ifndef FEDLEAD_KNOTS_H
#define FEDLEAD_KNOTS_H

#include <stddef.h>

#include "fedlead/encode.h"
#include "fedlead/schema.h"

#define FL_KNOTS_BINS 256

/* Whether feature f's knots are placed from data (a count in the schema). */
int fl_knots_from_data(const struct fl_feature *f);

/* How many features of s have their knots placed from data. */
size_t fl_knots_features(const struct fl_schema *s);

/* Values in a histogram update: fl_knots_features(s) * FL_KNOTS_BINS. */
size_t fl_knots_hist_len(const struct fl_schema *s);

/* Knot values the statistics task carries: the sum of those features'
 * knot counts. */
size_t fl_knots_values_len(const struct fl_schema *s);

/* The first feature with knots from data and no clip range, or NULL. */
const struct fl_feature *fl_knots_unclipped(const struct fl_schema *s);

/*
 * The histogram of n rows X (stride doubles apart) encoded before their
 * knots were placed (a block's raw value in its first column, NaN when
 * missing or special; fl_spline_encode()) into v (fl_knots_hist_len(s)
 * values). FL_ERR_INVALID naming a feature without a clip range.
 */
int fl_knots_hist_pack(const struct fl_schema *s, const double *X, size_t n, size_t stride,
                       double *v);

/*
 * The knots from a summed histogram h (fl_knots_hist_len(s) values), in
 * the statistics task's layout (fl_knots_values_len(s) values): feature by
 * feature, K knots at the i / (K - 1) quantiles of the distribution the
 * histogram describes, values spread evenly within each bin (the first
 * knot is the lower edge of the first non-empty bin, the last the upper
 * edge of the last one). Counts below 0 (noise) count as 0. The knots are
 * strictly increasing, at least w / K apart (w the bin width), and inside
 * the clip range. FL_ERR_DATA naming the feature when its histogram holds
 * no value.
 */
int fl_knots_from_hist(const struct fl_schema *s, const double *h, double *knots);

/*
 * The average lead's basis columns from the same histogram: post-processing
 * of the knots round's sum, no release of its own. Under differential
 * privacy the statistics round does not release a spline block's basis
 * sums (payload.h), so the model's baselines of those columns come from
 * here (fl_coord_finish_knots()); a bins block's columns are released as
 * levels and need none.
 *
 * Whether feature f gets them: a spline (not bins) with knots from data.
 */
int fl_knots_means_feature(const struct fl_feature *f);

/* Values of fl_knots_basis_means(): the basis widths of those features. */
size_t fl_knots_means_len(const struct fl_schema *s);

/*
 * For each such feature of s (knots placed) in schema order, the mean of
 * each encoded basis column (fl_spline_columns()) over the leads with a
 * value, from the summed histogram h (fl_knots_hist_len(s) counts): every
 * bin's count at the bin's midpoint, sum_b h_b c(m_b) / sum_b h_b. The
 * counts are taken as they are, noise below 0 included: the sums are then
 * unbiased, where counting negative counts as 0 (as the knots do) would
 * add about 0.4 sigma of spurious mass in every empty bin. When the counts
 * sum to 0 or less the negative ones count as 0; each mean is kept within
 * the column's range over the midpoints. Missing and special values are in
 * no bin: the caller scales these means by the share of leads with a
 * value. FL_ERR_DATA naming the feature when its histogram holds no value.
 */
int fl_knots_basis_means(const struct fl_schema *s, const double *h, double *means);

/* Checks means (fl_knots_means_len() values) against the range
 * fl_knots_basis_means() keeps them in, with the knots placed in s.
 * Errors: FL_ERR_DATA naming the feature and the column. */
int fl_knots_means_check(const struct fl_schema *s, const double *means);

/*
 * The knots round under differential privacy, one release of its own (a
 * node charges it to its ledger as kind "knots", priced as an evaluation,
 * and counts it among its privacy_releases). One lead is in one bin of
 * each feature's histogram, so removing it moves nf counts by 1 each (nf
 * features with knots from data): l1 sensitivity nf, l2 sqrt(nf). Each
 * count gets discrete Gaussian noise on a grid of 2^-bits, calibrated like
 * the statistics (fl_payload_stats_dp_plan()): rounding to the grid adds at
 * most one grid unit per count to the sensitivity.
 */
struct fl_knots_dp {
	double l1, l2; /* sensitivities in counts */
	size_t len;    /* counts noised: fl_knots_hist_len() */
	int grid_bits; /* noise on the grid of 2^-grid_bits counts */
	double sigma2; /* each partner's variance, in grid units (an integer) */
};

/*
 * The noise for one histogram release costing rho when the noise of `noisy`
 * partners adds up: the finest grid from max_bits down whose variance is at
 * most max_var. FL_ERR_INVALID when s has no feature with knots from data,
 * FL_ERR_LIMIT when no grid and variance suffice.
 */
int fl_knots_dp_plan(const struct fl_schema *s, double rho, unsigned noisy, int max_bits,
                     double max_var, struct fl_knots_dp *p);

/* Adds this partner's noise to the histogram v (p->len counts) in place
 * (OpenSSL's CSPRNG). FL_ERR_CRYPTO when the CSPRNG fails. */
int fl_knots_dp_noise(const struct fl_knots_dp *p, double *v);

/*
 * A node's check of the knots a statistics task carries (n values): as
 * many as the schema's features with knots from data need, each feature's
 * inside its clip range and strictly increasing. FL_ERR_PROTO with the
 * reason, e.g. "feature \"AGE\": knot 3 (71.5) is outside its clip range
 * [18, 70]" or "feature \"AGE\": knot 2 (40) is not above knot 1 (40)".
 */
int fl_knots_check(const struct fl_schema *s, const double *knots, size_t n);

/*
 * A node's rows and the knots placed in them. Created from the rows as
 * loaded (encoded before any knots were placed): it keeps each row's raw
 * value of each feature with knots from data, so that the rows can be
 * encoded again with other knots (a federation that starts again without
 * a partner places them again).
 */
struct fl_knots_rows;

int fl_knots_rows_new(const struct fl_schema *s, const struct fl_dataset *raw,
                      struct fl_knots_rows **out);
void fl_knots_rows_free(struct fl_knots_rows *k);

/* Puts the raw values back into raw (the rows k was made from): the rows
 * are as loaded again, without knots. */
void fl_knots_rows_reset(const struct fl_knots_rows *k, struct fl_dataset *raw);

/* Places knots (checked by fl_knots_check()) in k's schema and encodes
 * raw's rows with them. */
int fl_knots_rows_apply(struct fl_knots_rows *k, struct fl_dataset *raw, const double *knots,
                        size_t n);

/* k's schema: the node's, with the knots last applied (or none). */
const struct fl_schema *fl_knots_rows_schema(const struct fl_knots_rows *k);

#endif
