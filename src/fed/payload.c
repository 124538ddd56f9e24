#include "fedlead/payload.h"

#include <math.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/linalg.h"

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
