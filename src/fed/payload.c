#include "fedlead/payload.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/accountant.h"
#include "fedlead/dgauss.h"
#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/spline.h"

size_t fl_payload_stats_len(size_t d)
{
	return 2 + 3 * d;
}

size_t fl_payload_valid_len(uint32_t bins)
{
	return 3 + 2 * (size_t)bins;
}

size_t fl_payload_eval_len(size_t d, int hess, int valid, uint32_t bins)
{
	return 1 + d + (hess ? d * (d + 1) / 2 : 0) + (valid ? fl_payload_valid_len(bins) : 0);
}

size_t fl_payload_fedavg_len(size_t d, int valid, uint32_t bins)
{
	return 2 + d + (valid ? fl_payload_valid_len(bins) : 0);
}

void fl_payload_stats_pack(const struct fl_stats *st, double *v)
{
	size_t d = st->dim;

	v[0] = st->rows;
	v[1] = st->positives;
	memcpy(v + 2, st->count, d * sizeof(double));
	memcpy(v + 2 + d, st->sum, d * sizeof(double));
	memcpy(v + 2 + 2 * d, st->sumsq, d * sizeof(double));
}

int fl_payload_stats_unpack(const double *v, size_t d, struct fl_stats **out)
{
	struct fl_stats *st;
	int r;

	if ((r = fl_stats_new(d, &st)) != 0)
		return r;
	st->rows = v[0];
	st->positives = v[1];
	memcpy(st->count, v + 2, d * sizeof(double));
	memcpy(st->sum, v + 2 + d, d * sizeof(double));
	memcpy(st->sumsq, v + 2 + 2 * d, d * sizeof(double));
	*out = st;
	return 0;
}

void fl_payload_hess_pack(const double *H, size_t d, double *v)
{
	for (size_t i = 0; i < d; i++)
		for (size_t j = i; j < d; j++)
			*v++ = H[i * d + j];
}

void fl_payload_hess_unpack(const double *v, size_t d, double *H)
{
	for (size_t i = 0; i < d; i++)
		for (size_t j = i; j < d; j++) {
			H[i * d + j] = *v;
			H[j * d + i] = *v++;
		}
}

static size_t hist_bin(double z, uint32_t bins, double range)
{
	double t = (z + range) / (2 * range) * bins;

	if (!(t > 0)) /* also NaN */
		return 0;
	if (t >= bins)
		return bins - 1;
	return (size_t)t;
}

void fl_payload_valid_pack(const double *X, const double *y, size_t n, size_t d, const double *w,
                           uint32_t bins, double range, double *v)
{
	double *hp = v + 3, *hn = v + 3 + bins;

	memset(v, 0, fl_payload_valid_len(bins) * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		double z = fl_linalg_dot(X + i * d, w, d);
		int pos = y[i] > 0.5;

		v[0] += 1;
		v[1] += pos;
		v[2] += fl_log1pexp(z) - (pos ? z : 0);
		(pos ? hp : hn)[hist_bin(z, bins, range)] += 1;
	}
}

void fl_payload_valid_metrics(const double *v, uint32_t bins, struct fl_valid_metrics *m)
{
	const double *hp = v + 3, *hn = v + 3 + bins;
	double neg_below = 0, pairs = 0, negatives = v[0] - v[1];

	m->rows = v[0];
	m->positives = v[1];
	m->log_loss = v[0] > 0 ? v[2] / v[0] : NAN;
	/* Walk bins from low to high scores: a positive beats every negative in
	 * a lower bin and ties, for one half, with those in its own bin. */
	for (uint32_t b = 0; b < bins; b++) {
		pairs += hp[b] * (neg_below + 0.5 * hn[b]);
		neg_below += hn[b];
	}
	m->auc = v[1] > 0 && negatives > 0 ? pairs / (v[1] * negatives) : NAN;
}

/* ---- the statistics round under differential privacy ---- */

/*
 * The scale exponents (entry divided by 2^e before the noise) of the rows
 * count, the positives count and a one-hot column's sum. The rows count
 * and the levels are needed only roughly (the rows divide sums of
 * thousands, and a level's frequency only centres its column for
 * training, where an error of a few per cent costs nothing), while every
 * unit of sensitivity they take is noise on the numeric sums of squares,
 * which standardisation rests on: rows 1/4 and levels 1/2 of a lead's
 * part. The positives get a full part: the privacy plan starts from the
 * intercept at their rate, and a rate off by half (CoIL's 260 converted
 * leads at 1/4) made one simulated run in ten 0.2 below at epsilon 8
 * (bench/README.md, "Differential privacy").
 */
#define STATS_DP_COUNT_EXP 2
#define STATS_DP_POS_EXP 0
#define STATS_DP_LEVEL_EXP 1
/* The smallest exponent above: the finest grid starts there. */
#define STATS_DP_MIN_EXP 0

/*
 * The range of a numeric or date feature's value column: its clip range,
 * or for "transform": "log1p" the clip range's image [log1p(lo),
 * log1p(hi)], as the column holds log1p of the clipped value (log1p is
 * increasing, so every encoded value lies in it). NaN ends when lo <= -1,
 * which stats_dp_check_clip() refuses.
 */
static void value_range(const struct fl_feature *f, double *lo, double *hi)
{
	if (f->transform == FL_TRANSFORM_LOG1P) {
		*lo = f->clip_lo > -1 ? log1p(f->clip_lo) : NAN;
		*hi = f->clip_hi > -1 ? log1p(f->clip_hi) : NAN;
	} else {
		*lo = f->clip_lo;
		*hi = f->clip_hi;
	}
}

/* The value range's midpoint: under differential privacy a numeric
 * feature's sums are of x - mid and (x - mid)^2 (see payload.h). */
static double clip_mid(const struct fl_feature *f)
{
	double lo, hi;

	value_range(f, &lo, &hi);
	return lo / 2 + hi / 2;
}

/* The value range's half-width about clip_mid(): |x - mid| <= B. */
static double clip_half(const struct fl_feature *f)
{
	double lo, hi, mid = clip_mid(f);

	value_range(f, &lo, &hi);
	return fmax(fabs(lo - mid), fabs(hi - mid));
}

/*
 * Whether feature f has a value column whose sums the DP statistics carry:
 * a numeric feature not encoded as a spline or bins block, or a date. A
 * block has no value column (it is not standardised, fl_feature_is_value()).
 */
static int stats_dp_valued(const struct fl_feature *f)
{
	return f->type == FL_DATE || (f->type == FL_NUMERIC && !fl_spline_is_block(f));
}

/*
 * The first column of f's block released as 0/1 levels, or enc_width for
 * none: a bins block's columns (bins, special values, missing indicator)
 * hold exactly one 1 per lead (fl_spline_encode() zeroes the block first),
 * like a categorical's levels; a spline block's basis columns are not 0/1
 * (and unbounded beyond the boundary knots), so only its special-value and
 * missing-indicator columns are released, again at most one 1 per lead.
 * The basis columns' sums are sent as 0 and spend nothing: no one
 * standardises a block, and their baselines stay 0 here (payload.h; the
 * model's come from the knots round's histogram).
 */
static size_t stats_dp_block_first(const struct fl_feature *f)
{
	return f->transform == FL_TRANSFORM_BINS ? 0 : fl_spline_basis_width(f);
}

/* The smallest e >= 0 with 2^e >= b. */
static int pow2_above(double b)
{
	int e = 0;

	if (b > 1) {
		(void)frexp(b, &e); /* b = m 2^e, 0.5 <= m < 1: 2^e > b >= 2^(e-1) */
		if (ldexp(1, e - 1) == b)
			e--;
	}
	return e;
}

const struct fl_feature *fl_payload_stats_unclipped(const struct fl_schema *s)
{
	for (size_t i = 0; i < s->n_features; i++)
		if ((s->features[i].type == FL_NUMERIC || s->features[i].type == FL_DATE) &&
		    !s->features[i].has_clip)
			return &s->features[i];
	return NULL;
}

/* Entry `at` of the packed layout (fl_payload_stats_pack()) in st. */
static double *stats_at(struct fl_stats *st, size_t at)
{
	size_t d = st->dim;

	return at == 0          ? &st->rows
	       : at == 1        ? &st->positives
	       : at < 2 + d     ? &st->count[at - 2]
	       : at < 2 + 2 * d ? &st->sum[at - 2 - d]
	                        : &st->sumsq[at - 2 - 2 * d];
}

/*
 * Walks the noised entries of the statistics vector: calls back with each
 * one's index in the packed vector and exponent e (scale 2^e), and adds up
 * the scaled per-lead bounds (see payload.h); with unscale, multiplies each
 * noised entry of unscale by its 2^e instead (the coordinator's way back).
 * Returns the entries' count.
 */
static size_t stats_dp_entries(const struct fl_schema *s, size_t *idx, int *exp, double *l1,
                               double *l2sq, struct fl_stats *unscale)
{
	size_t d = s->dim, k = 0;

#define ENTRY(at, e)                                                                               \
	do {                                                                                       \
		if (idx != NULL) {                                                                 \
			idx[k] = (at);                                                             \
			exp[k] = (e);                                                              \
		}                                                                                  \
		if (unscale != NULL)                                                               \
			*stats_at(unscale, (at)) = ldexp(*stats_at(unscale, (at)), (e));           \
		k++;                                                                               \
	} while (0)
	/* rows, positives: one lead adds 1 to each, 2^-STATS_DP_COUNT_EXP and
	 * 2^-STATS_DP_POS_EXP scaled */
	*l1 = ldexp(1, -STATS_DP_COUNT_EXP) + ldexp(1, -STATS_DP_POS_EXP);
	*l2sq = ldexp(1, -2 * STATS_DP_COUNT_EXP) + ldexp(1, -2 * STATS_DP_POS_EXP);
	ENTRY(0, STATS_DP_COUNT_EXP);
	ENTRY(1, STATS_DP_POS_EXP);
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t j = f->enc_offset;

		if (f->type == FL_NUMERIC && fl_spline_is_block(f)) {
			double b = ldexp(1, -STATS_DP_LEVEL_EXP);
			size_t c0 = stats_dp_block_first(f);

			for (size_t c = c0; c < f->enc_width; c++)
				ENTRY(2 + d + j + c, STATS_DP_LEVEL_EXP);
			if (c0 < f->enc_width) {
				*l1 += b;
				*l2sq += b * b;
			}
		} else if (f->type == FL_NUMERIC || f->type == FL_DATE) {
			/* |x - mid| <= B for x in the value range */
			double B = clip_half(f);
			int e1 = pow2_above(B), e2 = pow2_above(B * B);
			double b1 = B / ldexp(1, e1), b2 = B * B / ldexp(1, e2);

			if (f->missing == FL_MISSING_IMPUTE) {
				ENTRY(2 + j, 0);
				*l1 += 1;
				*l2sq += 1;
			}
			ENTRY(2 + d + j, e1);
			ENTRY(2 + 2 * d + j, e2);
			*l1 += b1 + b2;
			*l2sq += b1 * b1 + b2 * b2;
			/* A date's weekday and month blocks: one-hot, so one lead
			 * adds 1 to one sum of each (or to none when missing). */
			if (f->type == FL_DATE) {
				size_t w = 1 + (f->missing == FL_MISSING_IMPUTE);
				double b = ldexp(1, -STATS_DP_LEVEL_EXP);

				for (size_t c = w; c < f->enc_width; c++)
					ENTRY(2 + d + j + c, STATS_DP_LEVEL_EXP);
				*l1 += 2 * b;
				*l2sq += 2 * b * b;
			}
		} else {
			double b = ldexp(1, -STATS_DP_LEVEL_EXP);

			for (size_t c = 0; c < f->enc_width; c++)
				ENTRY(2 + d + j + c, STATS_DP_LEVEL_EXP);
			*l1 += b;
			*l2sq += b * b;
		}
	}
#undef ENTRY
	return k;
}

/*
 * The fixed point of the centred sums: each lead's scaled term (x - mid) /
 * 2^e1 or (x - mid)^2 / 2^e2, at most 1 in magnitude, is truncated towards
 * 0 to a multiple of 2^-STATS_DP_FIX_BITS and added as an integer. The sum
 * is then exact whatever the order or the number of leads, so removing one
 * lead moves it by exactly that lead's term, never more than its bound
 * (truncation only shrinks it). A sum of plain x and x^2 recentred
 * afterwards, or a floating-point sum of the terms, would instead move by
 * its rounding, which for a narrow clip far from 0 is many times the bound.
 * 2^32 steps per unit leave room for 2^30 leads in an int64_t.
 */
#define STATS_DP_FIX_BITS 32
#define STATS_DP_MAX_LEADS FL_PAYLOAD_DP_MAX_LEADS
/*
 * The doubles near a clip range are ulp(max(|lo|, |hi|)) apart. When that
 * is coarser than 2^-STATS_DP_MIN_STEPS of the half-width B, the centred
 * values are too coarse for the grid above (and the midpoint's own
 * rounding would take a visible share of B): such a clip is refused.
 */
#define STATS_DP_MIN_STEPS 24

/* Refuses a clip the fixed point cannot carry within its bound. */
static int stats_dp_check_clip(const struct fl_feature *f)
{
	double lo, hi, B, big, ulp;

	if (!stats_dp_valued(f))
		return 0; /* a block's released columns are 0/1 */
	if (f->transform == FL_TRANSFORM_LOG1P && !(f->clip_lo > -1))
		return fl_fail(
		        FL_ERR_INVALID,
		        "feature \"%.64s\" has \"transform\": \"log1p\" and clip [%.17g, "
		        "%.17g]: log1p needs values above -1, so its clip must start above -1",
		        f->name, f->clip_lo, f->clip_hi);
	value_range(f, &lo, &hi);
	B = clip_half(f);
	big = fmax(fabs(lo), fabs(hi));
	ulp = nextafter(big, INFINITY) - big;
	if (!(B > 0) || ulp > ldexp(B, -STATS_DP_MIN_STEPS))
		return fl_fail(FL_ERR_INVALID,
		               "feature \"%.64s\" has clip [%.17g, %.17g], too narrow for its "
		               "distance from 0: its values are %.3g apart there, more than 2^-%d "
		               "of its half-width %.6g, so its sums cannot be centred within "
		               "the per-lead bound",
		               f->name, f->clip_lo, f->clip_hi, ulp, STATS_DP_MIN_STEPS, B);
	return 0;
}

int fl_payload_stats_dp_plan(const struct fl_schema *s, double rho, unsigned noisy, int max_bits,
                             double max_var, struct fl_stats_dp *p)
{
	const struct fl_feature *f = fl_payload_stats_unclipped(s);
	double l1, l2sq;
	size_t n;
	int r;

	*p = (struct fl_stats_dp){0};
	if (f != NULL)
		return fl_fail(FL_ERR_INVALID, "feature \"%s\" has no clip range", f->name);
	for (size_t i = 0; i < s->n_features; i++)
		if ((r = stats_dp_check_clip(&s->features[i])) != 0)
			return r;
	n = stats_dp_entries(s, NULL, NULL, &l1, &l2sq, NULL);
	p->l1 = l1;
	p->l2 = sqrt(l2sq);
	p->n_noised = n;
	/* The noise lands on multiples of 2^(e - bits): at least 2^-max_bits
	 * for the smallest e, the counts'. */
	p->grid_bits = fl_dp_grid_calibrate(p->l1, p->l2, n, rho, noisy,
	                                    max_bits + STATS_DP_MIN_EXP, max_var, &p->sigma2);
	if (p->grid_bits >= 0)
		return 0;
	return fl_fail(FL_ERR_LIMIT,
	               "a statistics release of rho %.6g with sensitivity %.6g needs more noise "
	               "than a node can add",
	               rho, p->l2);
}

int fl_payload_stats_dp_pack(const struct fl_schema *s, const double *X, const double *y, size_t n,
                             double *v)
{
	size_t d = s->dim;
	struct fl_stats *st = NULL;
	int r;

	if (n > STATS_DP_MAX_LEADS)
		return fl_fail(FL_ERR_LIMIT,
		               "%zu leads are more than the statistics release can sum exactly "
		               "(%zu)",
		               n, STATS_DP_MAX_LEADS);
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];

		if (f->type != FL_NUMERIC && f->type != FL_DATE)
			continue;
		if (!f->has_clip)
			return fl_fail(FL_ERR_INVALID, "feature \"%s\" has no clip range", f->name);
		if ((r = stats_dp_check_clip(f)) != 0)
			return r;
	}
	/* Counts and the one-hot columns' sums are small integers, exact. */
	if ((r = fl_stats_new(d, &st)) != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		fl_stats_add(st, X + i * d, y[i]);
	fl_payload_stats_pack(st, v);
	fl_stats_free(st);
	/* A numeric feature's sums about its clip range's midpoint, lead by
	 * lead on the fixed point above. */
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t j = f->enc_offset;
		double mid, B, lo, hi;
		int e1, e2;
		int64_t q1 = 0, q2 = 0;

		if (!stats_dp_valued(f))
			continue;
		value_range(f, &lo, &hi);
		mid = clip_mid(f);
		B = clip_half(f);
		e1 = pow2_above(B);
		e2 = pow2_above(B * B);
		for (size_t k = 0; k < n; k++) {
			double x = X[k * d + j], c;

			if (isnan(x))
				continue;
			/* rows are clipped at encoding; again here, as the bound rests on it */
			c = (x < lo ? lo : x > hi ? hi : x) - mid;
			/* |c| <= B and c^2 <= B^2 (rounding is monotone); the casts truncate */
			q1 += (int64_t)ldexp(c, STATS_DP_FIX_BITS - e1);
			q2 += (int64_t)ldexp(c * c, STATS_DP_FIX_BITS - e2);
		}
		v[2 + d + j] = ldexp((double)q1, e1 - STATS_DP_FIX_BITS);
		v[2 + 2 * d + j] = ldexp((double)q2, e2 - STATS_DP_FIX_BITS);
	}
	return 0;
}

int fl_payload_stats_dp_noise(const struct fl_schema *s, const struct fl_stats_dp *p, double *v)
{
	size_t len = fl_payload_stats_len(s->dim), n, bad;
	size_t *idx = malloc(p->n_noised * sizeof(*idx));
	int *exp = malloc(p->n_noised * sizeof(*exp));
	double *x = malloc(p->n_noised * sizeof(*x)), l1, l2sq;
	struct fl_dgauss *g = NULL;
	int r = FL_ERR_NOMEM;

	if (idx == NULL || exp == NULL || x == NULL)
		goto out;
	n = stats_dp_entries(s, idx, exp, &l1, &l2sq, NULL);
	if (n != p->n_noised) {
		r = fl_fail(FL_ERR_INVALID, "statistics noise planned for %zu entries, not %zu",
		            p->n_noised, n);
		goto out;
	}
	/* Division by a power of two is exact, and so is the coordinator's
	 * way back (fl_payload_stats_denoise()). The entries travel in these
	 * scaled units: each is at most the rows plus noise whatever the clip
	 * ranges, so the fixed point's bound holds for any clip (in raw units
	 * a sum of squares reaches rows times the squared half-width, beyond
	 * the bound for a clip of [0, 1e6] from 200 leads). */
	for (size_t k = 0; k < n; k++)
		x[k] = ldexp(v[idx[k]], -exp[k]);
	if ((r = fl_dgauss_new((uint64_t)p->sigma2, &g)) != 0 ||
	    (r = fl_dgauss_add_grid(g, x, n, p->grid_bits, &bad)) != 0)
		goto out;
	memset(v, 0, len * sizeof(*v));
	for (size_t k = 0; k < n; k++)
		v[idx[k]] = x[k];
	r = 0;
out:
	if (x != NULL)
		OPENSSL_cleanse(x, p->n_noised * sizeof(*x));
	fl_dgauss_free(g);
	free(idx);
	free(exp);
	free(x);
	return r;
}

static double clampd(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

void fl_payload_stats_denoise(const struct fl_schema *s, struct fl_stats *st, int centred)
{
	double rows, l1, l2sq;

	/* Noised entries arrive in their scaled units (fl_payload_stats_dp_noise()). */
	if (centred)
		(void)stats_dp_entries(s, NULL, NULL, &l1, &l2sq, st);
	rows = fmax(2, round(st->rows));

	st->rows = rows;
	st->positives = clampd(round(st->positives), 1, rows - 1);
	st->count[0] = st->sum[0] = st->sumsq[0] = rows;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t j = f->enc_offset;

		size_t c0 = 0;

		if (stats_dp_valued(f)) {
			double cnt = f->missing == FL_MISSING_IMPUTE
			                     ? clampd(round(st->count[j]), 1, rows)
			                     : rows;
			double mean = st->sum[j] / cnt, var, w, m, mid;

			if (f->has_clip) {
				double lo, hi;

				/* centred: sums about the midpoint (fl_payload_stats_dp_pack()),
				 * of log1p values for a log1p feature (value_range()) */
				value_range(f, &lo, &hi);
				mid = centred ? clip_mid(f) : 0;
				w = hi - lo;
				m = clampd(mean, lo - mid, hi - mid);
				mean = m + mid;
				var = clampd(st->sumsq[j] / cnt - m * m, w * w / 400, w * w / 4);
			} else
				var = fmax(0, st->sumsq[j] / cnt - mean * mean);
			st->count[j] = cnt;
			st->sum[j] = mean * cnt;
			st->sumsq[j] = (var + mean * mean) * cnt;
			if (f->missing == FL_MISSING_IMPUTE) {
				st->count[j + 1] = rows;
				st->sum[j + 1] = st->sumsq[j + 1] = rows - cnt;
			}
			if (f->type != FL_DATE)
				continue;
			/* a date's one-hot blocks follow, as a categorical's */
			c0 = 1 + (f->missing == FL_MISSING_IMPUTE);
		}
		/* A spline block's basis columns: not released under DP (sent as
		 * 0, stats_dp_block_first()), plain sums otherwise, not 0/1. */
		if (f->type == FL_NUMERIC && fl_spline_is_block(f))
			for (; c0 < stats_dp_block_first(f); c0++)
				st->count[j + c0] = rows;
		for (size_t c = c0; c < f->enc_width; c++) {
			st->count[j + c] = rows;
			st->sum[j + c] = st->sumsq[j + c] = clampd(round(st->sum[j + c]), 0, rows);
		}
	}
}
