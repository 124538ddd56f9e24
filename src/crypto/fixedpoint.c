/*
 * Fixed point in Z/2^64, the ring secure aggregation sums in; see
 * include/fedlead/fixedpoint.h. No libm: isfinite() is a macro and the
 * rounding is written out (round_half_away()).
 */
#include "fedlead/fixedpoint.h"

#include <math.h> /* isfinite(), a macro: no libm */
#include <string.h>

#include "fedlead/error.h"

/* 2^f as a double, exactly (f <= 63). */
static double pow2(int f)
{
	return (double)((uint64_t)1 << f);
}

/* round(y) for |y| < 2^63, halves away from zero, as an int64. Written out
 * so that the module needs no libm: below 2^52 the conversion truncates
 * and y - trunc(y) is exact; from 2^52 on every double is an integer. */
static int64_t round_half_away(double y)
{
	int64_t t = (int64_t)y;
	double frac = y - (double)t;

	if (frac >= 0.5)
		t++;
	else if (frac <= -0.5)
		t--;
	return t;
}

double fl_fixed_bound(int frac_bits, size_t max_parties)
{
	uint64_t m;
	int bits = 0;

	if (frac_bits < 0 || frac_bits > FL_FIXED_MAX_FRAC_BITS || max_parties == 0)
		return 0.0;
	/* The largest encoding each party may have: max_parties of them must
	 * still sum to at most INT64_MAX. */
	m = (uint64_t)INT64_MAX / (uint64_t)max_parties;
	/* (double)m rounds to nearest and may land above m (it does for
	 * max_parties = 4: 2^61 - 1 becomes 2^61, and four of those wrap).
	 * Clearing the bits below a double's 53-bit mantissa gives the
	 * largest double not above m, exactly. */
	for (uint64_t t = m; t != 0; t >>= 1)
		bits++;
	if (bits > 53)
		m &= ~(((uint64_t)1 << (bits - 53)) - 1);
	/* Dividing by a power of two is exact, and an encoding of a value
	 * <= this bound is <= m because m is an integer. */
	return (double)m / pow2(frac_bits);
}

int fl_fixed_encode(const double *x, size_t n, int frac_bits, double bound, uint64_t *out,
                    size_t *bad)
{
	size_t i = 0;
	double scale;
	int r = FL_ERR_INTERNAL;

	if (bad != NULL)
		*bad = n;
	if (frac_bits < 0 || frac_bits > FL_FIXED_MAX_FRAC_BITS) {
		r = fl_fail(FL_ERR_INVALID, "fixed point: %d fraction bits, expected 0 to %d",
		            frac_bits, FL_FIXED_MAX_FRAC_BITS);
		goto out;
	}
	/* bound * 2^f < 2^63 keeps every accepted value's encoding inside
	 * int64, so the conversion below is defined. */
	if (!isfinite(bound) || bound < 0.0 || bound * pow2(frac_bits) >= 0x1p63) {
		r = fl_fail(FL_ERR_INVALID,
		            "fixed point: bound %.17g does not fit int64 with %d fraction bits",
		            bound, frac_bits);
		goto out;
	}
	if (n > 0 && (x == NULL || out == NULL)) {
		r = fl_fail(FL_ERR_INVALID, "fixed point: no input or output vector");
		goto out;
	}
	scale = pow2(frac_bits);
	for (i = 0; i < n; i++) {
		double v = x[i];

		/* The negated test also catches NaN. */
		if (!(v <= bound && v >= -bound))
			break;
		/* Scaling by 2^f is exact; halves round away from zero, so
		 * encoding is symmetric in sign. A negative int64 becomes its
		 * two's complement mod 2^64. */
		out[i] = (uint64_t)round_half_away(v * scale);
	}
	if (i < n) {
		if (isfinite(x[i]))
			r = fl_fail(FL_ERR_LIMIT,
			            "update element %zu is %.17g, outside the fixed-point bound "
			            "+-%.17g",
			            i, x[i], bound);
		else
			r = fl_fail(FL_ERR_LIMIT, "update element %zu is not a finite number (%g)",
			            i, x[i]);
		if (bad != NULL)
			*bad = i;
		/* Half an encoding must not be mistaken for an update. */
		memset(out, 0, n * sizeof(*out));
		goto out;
	}
	r = 0;
out:
	return r;
}

void fl_fixed_decode(const uint64_t *in, size_t n, int frac_bits, double *out)
{
	double scale;

	if (frac_bits < 0 || frac_bits > FL_FIXED_MAX_FRAC_BITS)
		frac_bits = 0;
	scale = pow2(frac_bits);
	for (size_t i = 0; i < n; i++) {
		uint64_t u = in[i];
		/* Two's complement by arithmetic, without the
		 * implementation-defined conversion of a uint64 above
		 * INT64_MAX: u - 2^64 = -(~u) - 1. */
		int64_t s = u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)~u - 1;

		/* Exact division: |s| >= 1 keeps the quotient normal. */
		out[i] = (double)s / scale;
	}
}