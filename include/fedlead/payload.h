/*
 * What a partner's update vector holds, shared by node and coordinator.
 *
 * Every vector is a fixed function of the task and the schema dimension d;
 * nothing in it grows with the partner's rows, and every entry is a sum
 * over rows. The coordinator only ever adds vectors up.
 *
 *   stats   rows, positives, count[d], sum[d], sumsq[d]
 *   eval    loss, grad[d], [hess upper triangle, d(d+1)/2], [validation]
 *   fedavg  rows, loss at the received w, rows * w_local[d], [validation]
 *   validation (when asked): rows, positives, log-loss sum,
 *           hist_pos[bins], hist_neg[bins] (counts of validation scores per
 *           logit bin, for AUC without any per-lead score leaving the site)
 */
#ifndef FEDLEAD_PAYLOAD_H
#define FEDLEAD_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/encode.h"
#include "fedlead/schema.h"

#define FL_HIST_BINS_DEFAULT 2000
#define FL_HIST_RANGE_DEFAULT 20.0
#define FL_HIST_BINS_MAX 100000

size_t fl_payload_stats_len(size_t d);
size_t fl_payload_valid_len(uint32_t bins);
size_t fl_payload_eval_len(size_t d, int hess, int valid, uint32_t bins);
size_t fl_payload_fedavg_len(size_t d, int valid, uint32_t bins);

/* Packs raw column statistics; unpacks summed ones (min/max are not sent). */
void fl_payload_stats_pack(const struct fl_stats *st, double *v);
int fl_payload_stats_unpack(const double *v, size_t d, struct fl_stats **out);

/*
 * The statistics vector under differential privacy (the statistics round
 * as one release; node.c charges it, the mechanism is the evaluations').
 *
 * A numeric feature's sums are taken about its clip range's midpoint
 * mid = (lo + hi) / 2: sum of x - mid and of (x - mid)^2 (the node
 * converts its sums; the coordinator converts back). Its variance is then
 * the mean square about mid less the squared mean offset, both of the size
 * of the variance itself, rather than the difference of two quantities
 * many times larger (the mean square about 0 of ages around 40 is ten
 * times their variance, and its noise was as large as the variance).
 *
 * Bounds come from the schema's clip ranges, one lead added or removed:
 * rows 1; positives 1; for a numeric feature with clip [lo, hi] and
 * B = (hi - lo) / 2: its count 1 (missing = impute only), its centred sum
 * B, its centred sum of squares B^2; for a categorical feature, one of its level columns
 * moves by 1; a date feature counts as a numeric one (its age in days,
 * with its clip range) and two one-hot blocks (weekday, month).
 *
 * Transforms (fedlead/spline.h): a "log1p" feature's column holds
 * log1p(v), so its range is [log1p(lo), log1p(hi)] (lo > -1, refused
 * otherwise): its midpoint, half-width and the coordinator's clamps are
 * those of that range. A "bins" block's columns (bins, special values,
 * missing indicator) hold exactly one 1 per lead and are released as a
 * categorical's levels; a "spline" block releases its special-value and
 * missing-indicator columns the same way (at most one 1 per lead) and not
 * its basis columns, which are not 0/1 and need no statistics (a block is
 * not standardised): they are sent as 0, spend nothing, and their
 * baselines here are 0 (the model's come from the knots round's histogram,
 * fl_knots_basis_means(), when the federation places the knots). Every other entry is a function of
 * those (the intercept's and the one-hot columns' counts are the rows, a missing indicator's sum is
 * the rows minus the value's count, a 0/1 column's sum of squares its sum): the node sends it as an
 * exact 0 and the coordinator rebuilds it (fl_payload_stats_denoise()), so it costs no budget.
 *
 * One noise scale fits all the noised entries: entry k is divided by a
 * power of two 2^e_k >= its bound (e_k >= 0; exact in binary), so that one
 * lead moves each scaled entry by at most 1; rows are divided by 4 (e =
 * 2), positives not (e = 0) and level columns by 2 (e = 1), so that they
 * take little of the sensitivity (payload.c says why); the noise is added
 * on a grid of 2^-bits in those units, and the entry is sent in them: at
 * most the rows plus the noise whatever the clip ranges, so it fits the
 * fixed-point bound for any clip (fl_payload_stats_denoise() multiplies
 * it back). The l2 sensitivity of the scaled vector is sqrt(sum of
 * (bound_k / 2^e_k)^2 over the groups above, a categorical feature or a
 * block counting once), the l1 the sum; rounding to the grid adds at most
 * 1 grid unit per entry. The result is a multiple of 2^-bits with bits <=
 * max_bits, exact in a fixed-point encoding of max_bits fraction bits.
 */
struct fl_stats_dp {
	double l1, l2;   /* sensitivities of the scaled entries, before rounding */
	size_t n_noised; /* entries noised; the rest are sent as 0 */
	int grid_bits;   /* noise on the grid of 2^-grid_bits (scaled units) */
	double sigma2;   /* each partner's variance, in grid units (an integer) */
};

/* The first numeric or date feature of s without a clip range, or NULL. */
const struct fl_feature *fl_payload_stats_unclipped(const struct fl_schema *s);

/*
 * The most leads a statistics or knots release sums under differential
 * privacy: the statistics' fixed point holds 2^30 of them in an int64_t,
 * and a knots count of 2^30 on the finest grid (2^-16) stays far below the
 * 2^52 grid units the noise carries exactly. A node refuses more before it
 * reads a row.
 */
#define FL_PAYLOAD_DP_MAX_LEADS ((size_t)1 << 30)

/*
 * The noise for one release costing rho when the noise of `noisy` partners
 * adds up (fl_dp_ddg_sigma2()): the finest grid from max_bits down whose
 * variance is at most max_var. FL_ERR_INVALID when a numeric feature has no
 * clip range ("feature \"AGE\" has no clip range") or one too narrow for
 * its distance from 0 (as fl_payload_stats_dp_pack()), FL_ERR_LIMIT when no
 * grid and variance suffice.
 */
int fl_payload_stats_dp_plan(const struct fl_schema *s, double rho, unsigned noisy, int max_bits,
                             double max_var, struct fl_stats_dp *p);

/*
 * The packed statistics (fl_payload_stats_pack()'s layout) of n encoded
 * rows X (n x s->dim) with labels y, as a node releases them under
 * differential privacy: a numeric or date feature's sum and sum of squares
 * are of x - mid and (x - mid)^2, mid its clip range's midpoint, built lead
 * by lead on an exact fixed point (payload.c says why), so that removing
 * one lead moves each by at most its bound below. FL_ERR_INVALID naming
 * the feature when it has no clip range or a clip too narrow for its
 * distance from 0 ("feature \"ts\" has clip [1700000000000, 1700000000000.25],
 * too narrow ..."), FL_ERR_LIMIT for more than 2^30 rows.
 */
int fl_payload_stats_dp_pack(const struct fl_schema *s, const double *X, const double *y, size_t n,
                             double *v);

/*
 * Noises the packed statistics v (fl_payload_stats_len(s->dim) values, of
 * fl_payload_stats_dp_pack()) in place as planned: the entries that carry
 * information get this partner's discrete Gaussian noise (OpenSSL's
 * CSPRNG), the others become 0. FL_ERR_LIMIT for an entry too large for
 * exact noise (see fl_dgauss_add_grid()), FL_ERR_CRYPTO when the CSPRNG
 * fails.
 */
int fl_payload_stats_dp_noise(const struct fl_schema *s, const struct fl_stats_dp *p, double *v);

/*
 * At the coordinator, the summed statistics of a federation under
 * differential privacy: with centred, first multiplies each noised entry
 * back by its scale 2^e (they travel scaled, see above); then rebuilds the entries the nodes sent
 * as 0 and makes the noisy ones usable. Counts are rounded; rows at least 2 and positives from 1 to
 * rows - 1 (a noisy count cannot tell that a class is absent; training goes on rather than divide
 * by zero); a numeric feature's count from 1 to rows, its mean into its clip range, and its
 * variance into
 * [((hi - lo) / 20)^2, (hi - lo)^2 / 4]: the upper end is the largest
 * variance of values in [lo, hi] (Popoviciu), the lower end keeps a noise-
 * swamped estimate from blowing one standardised column up by more than 20
 * times its range (of log1p values for a log1p feature). A level's count,
 * and a bins block's or a spline block's indicator's, goes into [0, rows];
 * a spline block's basis columns are left as sent. A numeric feature
 * without a clip range (not possible under DP, where nodes refuse it) only
 * has its variance kept at or above 0. centred: the numeric sums are about
 * the clip ranges' midpoints, as nodes that add noise send them
 * (fl_payload_stats_dp_pack()); 0 for plain sums.
 */
void fl_payload_stats_denoise(const struct fl_schema *s, struct fl_stats *st, int centred);

/* Upper triangle of a symmetric d*d matrix, row by row, and back. */
void fl_payload_hess_pack(const double *H, size_t d, double *v);
void fl_payload_hess_unpack(const double *v, size_t d, double *H);

/* Validation sums at w over rows X (standardised), appended at v. */
void fl_payload_valid_pack(const double *X, const double *y, size_t n, size_t d, const double *w,
                           uint32_t bins, double range, double *v);

struct fl_valid_metrics {
	double rows, positives, log_loss, auc; /* log_loss is the mean */
};

/* Metrics from summed validation sums (AUC from the histograms, ties within
 * a bin counted one half). */
void fl_payload_valid_metrics(const double *v, uint32_t bins, struct fl_valid_metrics *m);

#endif
