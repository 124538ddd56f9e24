/*
 * Knots placed from a federation's data: the partners' fine histograms,
 * the coordinator's quantiles of their sum, and the node's check and use
 * of the knots it is sent (knots.h).
 */
#include "fedlead/knots.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/accountant.h"
#include "fedlead/dgauss.h"
#include "fedlead/error.h"
#include "fedlead/spline.h"

int fl_knots_from_data(const struct fl_feature *f)
{
	return fl_spline_is_block(f) && !f->knots_given;
}

size_t fl_knots_features(const struct fl_schema *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_features; i++)
		n += fl_knots_from_data(&s->features[i]);
	return n;
}

size_t fl_knots_hist_len(const struct fl_schema *s)
{
	return fl_knots_features(s) * FL_KNOTS_BINS;
}

size_t fl_knots_values_len(const struct fl_schema *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_features; i++)
		if (fl_knots_from_data(&s->features[i]))
			n += s->features[i].n_knots;
	return n;
}

const struct fl_feature *fl_knots_unclipped(const struct fl_schema *s)
{
	for (size_t i = 0; i < s->n_features; i++)
		if (fl_knots_from_data(&s->features[i]) && !s->features[i].has_clip)
			return &s->features[i];
	return NULL;
}

static size_t bin_of(const struct fl_feature *f, double v)
{
	double t = (v - f->clip_lo) / (f->clip_hi - f->clip_lo) * FL_KNOTS_BINS;

	if (!(t > 0))
		return 0;
	if (t >= FL_KNOTS_BINS)
		return FL_KNOTS_BINS - 1;
	return (size_t)t;
}

int fl_knots_hist_pack(const struct fl_schema *s, const double *X, size_t n, size_t stride,
                       double *v)
{
	const struct fl_feature *u = fl_knots_unclipped(s);
	size_t k = 0;

	if (u != NULL)
		return fl_fail(FL_ERR_INVALID,
		               "feature \"%s\": knots from the federation's data need a clip range "
		               "in the schema (the fine bins span it)",
		               u->name);
	memset(v, 0, fl_knots_hist_len(s) * sizeof(*v));
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		double *h = v + k * FL_KNOTS_BINS;

		if (!fl_knots_from_data(f))
			continue;
		for (size_t row = 0; row < n; row++) {
			double x = X[row * stride + f->enc_offset];

			if (!isnan(x))
				h[bin_of(f, x)] += 1;
		}
		k++;
	}
	return 0;
}

/* The value below which a share q of the histogram's mass lies, the mass
 * of each bin spread evenly over it; c are the counts (>= 0), N their sum. */
static double hist_quantile(const struct fl_feature *f, const double *c, double N, double q)
{
	double w = (f->clip_hi - f->clip_lo) / FL_KNOTS_BINS, t = q * N, cum = 0;
	size_t b;

	for (b = 0; b < FL_KNOTS_BINS; b++) {
		if (c[b] > 0 && cum + c[b] >= t)
			break;
		cum += c[b];
	}
	if (b == FL_KNOTS_BINS) /* rounding at q = 1 */
		for (b = FL_KNOTS_BINS - 1; b > 0 && !(c[b] > 0); b--)
			;
	return f->clip_lo + ((double)b + fmin(1, fmax(0, (t - cum) / c[b]))) * w;
}

int fl_knots_from_hist(const struct fl_schema *s, const double *h, double *knots)
{
	size_t k = 0, at = 0;

	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		double c[FL_KNOTS_BINS], N = 0, *kn = knots + at, w, gap;
		size_t K = f->n_knots;

		if (!fl_knots_from_data(f))
			continue;
		for (size_t b = 0; b < FL_KNOTS_BINS; b++) {
			double x = h[k * FL_KNOTS_BINS + b];

			c[b] = isfinite(x) && x > 0 ? x : 0;
			N += c[b];
		}
		if (!(N > 0))
			return fl_fail(
			        FL_ERR_DATA,
			        "feature \"%s\": the federation's histogram of its values is "
			        "empty, so no knots can be placed",
			        f->name);
		for (size_t j = 0; j < K; j++)
			kn[j] = hist_quantile(f, c, N, (double)j / (double)(K - 1));
		/* The mass spread evenly keeps the knots at least w / (K - 1)
		 * apart; the passes below hold w / K whatever rounding did, and
		 * keep them in the clip range (K w / K fits in one bin). */
		w = (f->clip_hi - f->clip_lo) / FL_KNOTS_BINS;
		gap = w / (double)K;
		kn[0] = fmax(kn[0], f->clip_lo);
		for (size_t j = 1; j < K; j++)
			if (!(kn[j] >= kn[j - 1] + gap))
				kn[j] = kn[j - 1] + gap;
		if (kn[K - 1] > f->clip_hi) {
			kn[K - 1] = f->clip_hi;
			for (size_t j = K - 1; j-- > 0;)
				if (!(kn[j] <= kn[j + 1] - gap))
					kn[j] = kn[j + 1] - gap;
		}
		at += K;
		k++;
	}
	return 0;
}

int fl_knots_means_feature(const struct fl_feature *f)
{
	return fl_knots_from_data(f) && f->transform == FL_TRANSFORM_SPLINE;
}

size_t fl_knots_means_len(const struct fl_schema *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_features; i++)
		if (fl_knots_means_feature(&s->features[i]))
			n += fl_spline_basis_width(&s->features[i]);
	return n;
}

/* The range of each of f's basis columns over the histogram's bin
 * midpoints: where the means below may lie. */
static void basis_range(const struct fl_feature *f, double *lo, double *hi)
{
	size_t nb = fl_spline_basis_width(f);
	double w = (f->clip_hi - f->clip_lo) / FL_KNOTS_BINS;

	for (size_t j = 0; j < nb; j++) {
		lo[j] = INFINITY;
		hi[j] = -INFINITY;
	}
	for (size_t b = 0; b < FL_KNOTS_BINS; b++) {
		double c[FL_SPLINE_MAX_KNOTS + 2];

		fl_spline_columns(f, f->clip_lo + ((double)b + 0.5) * w, c);
		for (size_t j = 0; j < nb; j++) {
			lo[j] = fmin(lo[j], c[j]);
			hi[j] = fmax(hi[j], c[j]);
		}
	}
}

int fl_knots_basis_means(const struct fl_schema *s, const double *h, double *means)
{
	size_t k = 0, at = 0;

	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		const double *hf = h + k * FL_KNOTS_BINS;
		double a[FL_KNOTS_BINS], sum = 0, pos = 0, w, *mean = means + at;
		double lo[FL_SPLINE_MAX_KNOTS + 2], hi[FL_SPLINE_MAX_KNOTS + 2];
		size_t nb = fl_spline_basis_width(f);

		if (!fl_knots_from_data(f))
			continue;
		k++;
		if (f->transform != FL_TRANSFORM_SPLINE)
			continue;
		for (size_t b = 0; b < FL_KNOTS_BINS; b++) {
			a[b] = isfinite(hf[b]) ? hf[b] : 0;
			sum += a[b];
			pos += a[b] > 0 ? a[b] : 0;
		}
		if (!(pos > 0))
			return fl_fail(
			        FL_ERR_DATA,
			        "feature \"%s\": the federation's histogram of its values is "
			        "empty, so no average lead can be taken from it",
			        f->name);
		if (!(sum > 0)) {
			for (size_t b = 0; b < FL_KNOTS_BINS; b++)
				a[b] = a[b] > 0 ? a[b] : 0;
			sum = pos;
		}
		w = (f->clip_hi - f->clip_lo) / FL_KNOTS_BINS;
		for (size_t j = 0; j < nb; j++)
			mean[j] = 0;
		for (size_t b = 0; b < FL_KNOTS_BINS; b++) {
			double c[FL_SPLINE_MAX_KNOTS + 2];

			fl_spline_columns(f, f->clip_lo + ((double)b + 0.5) * w, c);
			for (size_t j = 0; j < nb; j++)
				mean[j] += a[b] * c[j];
		}
		basis_range(f, lo, hi);
		for (size_t j = 0; j < nb; j++)
			mean[j] = fmin(hi[j], fmax(lo[j], mean[j] / sum));
		at += nb;
	}
	return 0;
}

int fl_knots_means_check(const struct fl_schema *s, const double *means)
{
	size_t at = 0;

	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		double lo[FL_SPLINE_MAX_KNOTS + 2], hi[FL_SPLINE_MAX_KNOTS + 2];
		size_t nb = fl_spline_basis_width(f);

		if (!fl_knots_means_feature(f))
			continue;
		basis_range(f, lo, hi);
		for (size_t j = 0; j < nb; j++)
			if (!(means[at + j] >= lo[j] && means[at + j] <= hi[j]))
				return fl_fail(FL_ERR_DATA,
				               "feature \"%s\": spline basis mean %zu (%.17g) is "
				               "outside its column's range [%.17g, %.17g]",
				               f->name, j, means[at + j], lo[j], hi[j]);
		at += nb;
	}
	return 0;
}

int fl_knots_dp_plan(const struct fl_schema *s, double rho, unsigned noisy, int max_bits,
                     double max_var, struct fl_knots_dp *p)
{
	size_t nf = fl_knots_features(s);

	*p = (struct fl_knots_dp){0};
	if (nf == 0)
		return fl_fail(FL_ERR_INVALID, "no feature has its knots placed from data");
	p->l1 = (double)nf;
	p->l2 = sqrt((double)nf);
	p->len = fl_knots_hist_len(s);
	p->grid_bits = fl_dp_grid_calibrate(p->l1, p->l2, p->len, rho, noisy, max_bits, max_var,
	                                    &p->sigma2);
	if (p->grid_bits >= 0)
		return 0;
	return fl_fail(FL_ERR_LIMIT,
	               "a histogram release of rho %.6g with sensitivity %.6g needs more noise "
	               "than a node can add",
	               rho, p->l2);
}

int fl_knots_dp_noise(const struct fl_knots_dp *p, double *v)
{
	struct fl_dgauss *g = NULL;
	size_t bad;
	int r;

	if ((r = fl_dgauss_new((uint64_t)p->sigma2, &g)) == 0)
		r = fl_dgauss_add_grid(g, v, p->len, p->grid_bits, &bad);
	fl_dgauss_free(g);
	return r;
}

int fl_knots_check(const struct fl_schema *s, const double *knots, size_t n)
{
	size_t at = 0;

	if (n != fl_knots_values_len(s))
		return fl_fail(FL_ERR_PROTO,
		               "the statistics task carries %zu knot values, the schema's features "
		               "with knots from data need %zu",
		               n, fl_knots_values_len(s));
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		const double *kn = knots + at;

		if (!fl_knots_from_data(f))
			continue;
		for (size_t j = 0; j < f->n_knots; j++) {
			if (!f->has_clip || !(kn[j] >= f->clip_lo && kn[j] <= f->clip_hi))
				return fl_fail(
				        FL_ERR_PROTO,
				        "feature \"%s\": knot %zu (%.17g) is outside its clip "
				        "range [%.17g, %.17g]",
				        f->name, j, kn[j], f->has_clip ? f->clip_lo : NAN,
				        f->has_clip ? f->clip_hi : NAN);
			if (j > 0 && !(kn[j] > kn[j - 1]))
				return fl_fail(
				        FL_ERR_PROTO,
				        "feature \"%s\": knot %zu (%.17g) is not above knot %zu "
				        "(%.17g)",
				        f->name, j, kn[j], j - 1, kn[j - 1]);
		}
		at += f->n_knots;
	}
	return 0;
}

struct fl_knots_rows {
	struct fl_schema *s; /* a copy of the node's, where the knots go */
	size_t n, nf;        /* rows, features with knots from data */
	double *v;           /* n x nf raw values */
};

int fl_knots_rows_new(const struct fl_schema *s, const struct fl_dataset *raw,
                      struct fl_knots_rows **out)
{
	struct fl_knots_rows *k;
	int r;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return FL_ERR_NOMEM;
	k->n = raw->n;
	k->nf = fl_knots_features(s);
	/* Re-parsing the canonical text: the one deep copy of a schema. */
	if ((r = fl_schema_parse(s->canonical, strlen(s->canonical), "schema", &k->s)) != 0)
		goto fail;
	if ((k->v = malloc((k->n * k->nf > 0 ? k->n * k->nf : 1) * sizeof(double))) == NULL) {
		r = FL_ERR_NOMEM;
		goto fail;
	}
	for (size_t row = 0; row < k->n; row++) {
		size_t c = 0;

		for (size_t i = 0; i < s->n_features; i++)
			if (fl_knots_from_data(&s->features[i]))
				k->v[row * k->nf + c++] =
				        raw->X[row * raw->dim + s->features[i].enc_offset];
	}
	*out = k;
	return 0;
fail:
	fl_knots_rows_free(k);
	return r;
}

void fl_knots_rows_free(struct fl_knots_rows *k)
{
	if (k == NULL)
		return;
	fl_schema_free(k->s);
	free(k->v);
	free(k);
}

void fl_knots_rows_reset(const struct fl_knots_rows *k, struct fl_dataset *raw)
{
	for (size_t row = 0; row < k->n; row++) {
		size_t c = 0;

		for (size_t i = 0; i < k->s->n_features; i++) {
			const struct fl_feature *f = &k->s->features[i];
			double *x = raw->X + row * raw->dim + f->enc_offset;

			if (!fl_knots_from_data(f))
				continue;
			memset(x, 0, fl_spline_basis_width(f) * sizeof(*x));
			x[0] = k->v[row * k->nf + c++];
		}
	}
}

int fl_knots_rows_apply(struct fl_knots_rows *k, struct fl_dataset *raw, const double *knots,
                        size_t n)
{
	size_t at = 0;
	int r;

	if ((r = fl_knots_check(k->s, knots, n)) != 0)
		return r;
	for (size_t i = 0; i < k->s->n_features; i++) {
		const struct fl_feature *f = &k->s->features[i];

		if (!fl_knots_from_data(f))
			continue;
		if ((r = fl_schema_set_knots(k->s, i, knots + at, f->n_knots)) != 0)
			return r;
		at += f->n_knots;
	}
	fl_knots_rows_reset(k, raw);
	for (size_t row = 0; row < k->n; row++)
		for (size_t i = 0; i < k->s->n_features; i++)
			if (fl_knots_from_data(&k->s->features[i]))
				fl_spline_expand(&k->s->features[i],
				                 raw->X + row * raw->dim +
				                         k->s->features[i].enc_offset);
	return 0;
}

const struct fl_schema *fl_knots_rows_schema(const struct fl_knots_rows *k)
{
	return k->s;
}
