/*
 * Numbers as text without printf (src/util/numfmt.c): exact, independent of
 * the locale, and fast enough for a scored file's millions of values.
 *
 * Each function writes a NUL-terminated string into buf, which must hold at
 * least FL_NUMFMT_MAX bytes, and returns its length. The output is the same
 * byte for byte as the printf conversion named (in the C locale, rounding
 * to nearest, ties to even, on the exact binary value), including "-0.0000"
 * for a negative value that rounds to zero, "inf", "-inf", "nan" and "-nan".
 */
#ifndef FEDLEAD_NUMFMT_H
#define FEDLEAD_NUMFMT_H

#include <stddef.h>
#include <stdint.h>

/* The longest output: "%.17f" of -DBL_MAX is 1 + 309 + 1 + 17 digits. */
#define FL_NUMFMT_MAX 352
/* The most places fl_numfmt_fixed() takes. */
#define FL_NUMFMT_FIXED_MAX 17

/* snprintf(buf, n, "%.*f", places, v); places 0 to FL_NUMFMT_FIXED_MAX. */
size_t fl_numfmt_fixed(char *buf, double v, int places);

/* snprintf(buf, n, "%.*g", digits, v); digits 1 to 17. "%.17g" reads back
 * (strtod) as the same double. */
size_t fl_numfmt_g(char *buf, double v, int digits);

/*
 * The fewest significant digits that read back (strtod) as exactly v, the
 * nearest such number when several have that many digits, laid out as
 * "%.17g" lays out its digits: "0.1" for 0.1 (where "%.17g" writes
 * "0.10000000000000001"), "1e+300", "-0", "inf", "nan".
 */
size_t fl_numfmt_shortest(char *buf, double v);

/* The decimal digits of v ("%llu"). */
size_t fl_numfmt_u64(char *buf, uint64_t v);

#endif
