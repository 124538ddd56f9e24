/*
 * Ranking-quality metrics for lead scores on arrays: exact AUC (ties count
 * one half), log-loss and Brier score, and the decile of a rank. The same
 * metrics for data of any size come from the ranker (ranker.c), which
 * shares the per-row helpers in ranker_int.h.
 */
#include "fedlead/metrics.h"

#include <math.h>
#include <stdlib.h>

#include "ranker_int.h"

double fl_auc(const double *z, const double *y, size_t n)
{
	struct rec *a = NULL;
	uint64_t pos = 0, neg = 0, above = 0, gpos = 0, gneg = 0;
	wide_t u2 = 0;
	double auc = NAN;

	if (n == 0 || n > SIZE_MAX / 2 / sizeof(*a))
		goto out;
	if ((a = malloc(n * sizeof(*a))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (isnan(z[i]))
			goto out;
		a[i].hi = z_key(z[i]);
		a[i].lo = (uint64_t)i << 1 | (y[i] >= 0.5);
	}
	fl_ranker_sort_recs(a, n);
	/*
	 * Walk tie groups from the highest score down. Each negative of a group
	 * scores 1 against every positive above the group and 1/2 against each
	 * positive in it; summing twice that keeps everything an integer.
	 */
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && a[i].hi != a[i - 1].hi) {
			u2 += (wide_t)gneg * (2 * above + gpos);
			above += gpos;
			gpos = gneg = 0;
		}
		if (a[i].lo & 1)
			gpos++;
		else
			gneg++;
	}
	u2 += (wide_t)gneg * (2 * above + gpos);
	pos = above + gpos;
	neg = n - pos;
	if (pos > 0 && neg > 0)
		auc = (double)u2 / (2.0 * (double)pos * (double)neg);
out:
	free(a);
	return auc;
}

double fl_log_loss(const double *z, const double *y, size_t n)
{
	struct ksum k = {0, 0};

	for (size_t i = 0; i < n; i++)
		ksum_add(&k, row_loss(z[i], y[i]));
	return ksum_value(&k) / (double)n;
}

double fl_brier(const double *z, const double *y, size_t n)
{
	struct ksum k = {0, 0};

	for (size_t i = 0; i < n; i++)
		ksum_add(&k, row_brier(z[i], y[i]));
	return ksum_value(&k) / (double)n;
}

/*
 * 1 + floor(10 (rank - 1) / n): decile 1 holds ranks 1 .. ceil(n/10). When
 * n < 10 some deciles stay empty. Returns 0 when rank is not in 1..n.
 */
int fl_decile_of_rank(uint64_t rank, uint64_t n)
{
	if (n == 0 || rank == 0 || rank > n)
		return 0;
#ifdef __SIZEOF_INT128__
	return 1 + (int)((wide_t)(rank - 1) * 10 / n);
#else
	if (rank - 1 <= UINT64_MAX / 10)
		return 1 + (int)((rank - 1) * 10 / n);
	return 1 + (int)floorl((long double)(rank - 1) * 10 / (long double)n);
#endif
}
