/*
 * Fixed point in Z/2^64 (two's complement), the ring secure aggregation
 * sums updates in (see masks.h). With frac_bits f, a value v is encoded
 * as round(v * 2^f) (halves away from zero, so encoding is symmetric: -v
 * encodes to -(encoding of v)), taken mod 2^64. Sums of encodings,
 * computed mod 2^64, decode to the sum of the values as long as that sum
 * never leaves int64.
 */
#ifndef FEDLEAD_FIXEDPOINT_H
#define FEDLEAD_FIXEDPOINT_H

#include <stddef.h>
#include <stdint.h>

/* Largest fixed-point fraction fl_fixed_*() take, in bits. */
#define FL_FIXED_MAX_FRAC_BITS 52

/*
 * The largest |v| a party may send so that the sum of max_parties
 * encodings cannot wrap: the largest double B with
 * max_parties * round(B * 2^f) <= 2^63 - 1, i.e.
 * floor((2^63 - 1) / max_parties) rounded down to a double, times 2^-f.
 * Returns 0.0 when frac_bits is outside 0..FL_FIXED_MAX_FRAC_BITS or
 * max_parties is 0 (a bound nothing but 0 passes).
 */
double fl_fixed_bound(int frac_bits, size_t max_parties);

/*
 * Encodes n doubles x into out (n uint64s, caller's). Every |x[i]| must be
 * at most bound (normally fl_fixed_bound() of the federation's size).
 * FL_ERR_LIMIT for the first element that is not: "update element 3 is
 * 1e+300, outside the fixed-point bound +-2147483647.9999998" (%.17g) or
 * "update element 3 is not a finite number (nan)"; then out is zeroed
 * and, when bad is not NULL, *bad is that index. FL_ERR_INVALID for
 * frac_bits outside 0..FL_FIXED_MAX_FRAC_BITS or a bound that is negative,
 * not finite or too large for int64 at this scale. *bad is n when no
 * element was bad.
 */
int fl_fixed_encode(const double *x, size_t n, int frac_bits, double bound, uint64_t *out,
                    size_t *bad);

/* Decodes n values (two's complement int64 / 2^frac_bits) into out
 * (caller's). frac_bits outside 0..FL_FIXED_MAX_FRAC_BITS is treated as 0. */
void fl_fixed_decode(const uint64_t *in, size_t n, int frac_bits, double *out);

#endif
