/*
 * What the metrics (metrics.c) and the ranker (ranker.c) share: the sortable
 * record, the score order key, per-row losses and a compensated sum.
 */
#ifndef FEDLEAD_CORE_RANKER_INT_H
#define FEDLEAD_CORE_RANKER_INT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SIZEOF_INT128__
/* Twice the Mann-Whitney U reaches n^2/2, which overflows 64 bits past 6e9 rows. */
__extension__ typedef unsigned __int128 wide_t;
#else
typedef long double wide_t;
#endif

/*
 * Sortable record: ascending (hi, lo). For scores hi is the order key of z
 * (descending z) and lo is row << 1 | positive, so equal scores keep input
 * order. For (row, rank) pairs hi is the row and lo the rank.
 */
struct rec {
	uint64_t hi, lo;
};

/* Compensated (Neumaier) sum: a mean over millions of rows keeps full precision. */
struct ksum {
	double s, c;
};

static inline void ksum_add(struct ksum *k, double x)
{
	double t = k->s + x;

	if (fabs(k->s) >= fabs(x))
		k->c += (k->s - t) + x;
	else
		k->c += (x - t) + k->s;
	k->s = t;
}

static inline double ksum_value(const struct ksum *k)
{
	return k->s + k->c;
}

/* log(1 + e^z) without overflow for large z or loss of precision for small. */
static inline double softplus(double z)
{
	return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

static inline double sigmoid(double z)
{
	double e;

	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	e = exp(z);
	return e / (1.0 + e);
}

/*
 * Log-loss of one row: log(1 + e^z) - y z. For y = 1 it is written as
 * softplus(-z), so a confident correct prediction gives a tiny loss instead
 * of the difference of two large numbers.
 */
static inline double row_loss(double z, double y)
{
	if (y == 0)
		return softplus(z);
	if (y == 1)
		return softplus(-z);
	return softplus(z) - y * z;
}

/* Squared error of sigmoid(z) against y; 1 - p is taken as sigmoid(-z) to keep precision. */
static inline double row_brier(double z, double y)
{
	double d = y == 1 ? sigmoid(-z) : sigmoid(z) - y;

	return d * d;
}

/*
 * Maps a score to an unsigned key that sorts ascending for descending z, so
 * that records compare as plain integers. -0.0 becomes +0.0 first: the two
 * compare equal as doubles and must tie.
 */
static inline uint64_t z_key(double z)
{
	uint64_t b;

	if (z == 0)
		z = 0.0;
	memcpy(&b, &z, sizeof(b));
	if (b >> 63)
		b = ~b;
	else
		b |= UINT64_C(1) << 63;
	return ~b;
}

/* Sorts ascending by (hi, lo): MSD radix sort, then introsort (ranker.c). */
void fl_ranker_sort_recs(struct rec *a, size_t n);

#endif
