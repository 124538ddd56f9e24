/*
 * The number formatter (src/util/numfmt.c) against the C library: "%.Nf"
 * and "%.Ng" byte for byte, and the shortest output read back by strtod as
 * the same double with the fewest digits any "%.Ng" needs to do so. Over
 * hundreds of thousands of doubles from a fixed seed: random bit patterns
 * (every exponent, subnormals), the ranges a scored file writes
 * (probabilities, contributions), ties of the rounding (k / 2^m written
 * with fewer places than they have), integers beyond 2^64, and the special
 * values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/numfmt.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* splitmix64: a fixed sequence, so a failure reproduces. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double from_bits(uint64_t b)
{
	double v;

	memcpy(&v, &b, sizeof(v));
	return v;
}

static uint64_t to_bits(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof(b));
	return b;
}

/* One of the kinds of value the tests cover, by i. */
static double sample(unsigned i)
{
	uint64_t u = rnd();
	double unit = (double)(u >> 11) * 0x1p-53;

	switch (i % 8) {
	case 0: /* any finite double */
		for (;;) {
			double v = from_bits(u);

			if (isfinite(v))
				return v;
			u = rnd();
		}
	case 1: return unit;                                        /* a probability */
	case 2: return (unit - 0.5) * 20;                           /* a contribution */
	case 3: return ldexp((double)(u % 4096), -12);              /* a tie for few places */
	case 4: return -ldexp((double)(u % 1024), -(int)(u >> 60)); /* short dyadic */
	case 5: return ldexp(unit + 1, (int)(u % 200));             /* large: 2^64 and up */
	case 6: return ldexp(unit, -1074 + (int)(u % 60));          /* subnormals and near */
	default: return (double)(int64_t)(u % 2000001) - 1000000;   /* integers */
	}
}

/* 10^-p as the nearest double, for p = 0 to 17. */
static const double POW10_NEG[] = {1e0,  1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,  1e-8,
                                   1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15, 1e-16, 1e-17};

static void check_fixed(double v, int places)
{
	char want[FL_NUMFMT_MAX + 64], got[FL_NUMFMT_MAX];
	size_t n;

	snprintf(want, sizeof(want), "%.*f", places, v);
	n = fl_numfmt_fixed(got, v, places);
	if (strcmp(want, got) != 0 || n != strlen(want))
		fail_msg("%%.%df of %a: printf \"%s\", fl_numfmt_fixed \"%s\"", places, v, want,
		         got);
}

static void check_g(double v, int digits)
{
	char want[FL_NUMFMT_MAX + 64], got[FL_NUMFMT_MAX];
	size_t n;

	snprintf(want, sizeof(want), "%.*g", digits, v);
	n = fl_numfmt_g(got, v, digits);
	if (strcmp(want, got) != 0 || n != strlen(want))
		fail_msg("%%.%dg of %a: printf \"%s\", fl_numfmt_g \"%s\"", digits, v, want, got);
}

/* The significant digits of a number as text, without leading and
 * trailing zeros. */
static void sig_digits(const char *s, char *out)
{
	size_t n = 0;

	for (; *s && *s != 'e'; s++)
		if (*s >= '0' && *s <= '9' && (n > 0 || *s != '0'))
			out[n++] = *s;
	while (n > 0 && out[n - 1] == '0')
		n--;
	out[n] = '\0';
}

static void check_shortest(double v)
{
	char got[FL_NUMFMT_MAX], want[64], dg[32], dw[32];
	double back;
	int p;

	fl_numfmt_shortest(got, v);
	back = strtod(got, NULL);
	if (to_bits(back) != to_bits(v))
		fail_msg("shortest of %a is \"%s\", which reads back as %a", v, got, back);
	/* The fewest digits printf's correctly rounded "%.Ng" needs. */
	for (p = 1; p < 17; p++) {
		snprintf(want, sizeof(want), "%.*g", p, v);
		if (to_bits(strtod(want, NULL)) == to_bits(v))
			break;
	}
	snprintf(want, sizeof(want), "%.*g", p, v);
	sig_digits(got, dg);
	sig_digits(want, dw);
	if (strcmp(dg, dw) != 0)
		fail_msg("shortest of %a is \"%s\"; \"%%.%dg\" gives \"%s\"", v, got, p, want);
	/* At 17 digits the layout is "%.17g"'s with trailing zeros dropped. */
	if (p == 17) {
		snprintf(want, sizeof(want), "%.17g", v);
		if (strcmp(got, want) != 0)
			fail_msg("shortest of %a is \"%s\", %%.17g \"%s\"", v, got, want);
	}
}

static void test_fixed_random(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 200000; i++) {
		double v = sample(i);

		check_fixed(v, (int)(rnd() % (FL_NUMFMT_FIXED_MAX + 1)));
		/* The two precisions a scored file writes. */
		check_fixed(v, 6);
		check_fixed(v, 4);
	}
}

/*
 * The values a scored file writes, a million of each kind, at its two
 * precisions and at one at random: each against printf. Ties for p places
 * are the odd multiples of 2^-(p+1) (v 10^p is then a half), here with
 * up to 53 bits, so that the tie is decided far from the point; the
 * carries (0.9999995 to 1.000000) sit next to j + 1/2 10^-p; and the
 * integers around 2^63, where the formatter stops using 64 bits.
 */
static double scored_sample(unsigned i, int p)
{
	uint64_t u = rnd();
	double unit = (double)(u >> 11) * 0x1p-53, v;

	switch (i % 6) {
	case 0: return unit;                                 /* a probability */
	case 1: return ldexp(unit - 0.5, (int)(u % 24) - 8); /* a contribution */
	case 2:                                              /* a tie, of either sign */
		v = ldexp((double)((u >> 11) | 1), -(p + 1) - (int)(u % 54));
		return u & 1024 ? -v : v;
	case 3: /* next to a carry at p places */
		v = ((double)(u % 1000) + 1 - 0.5 * (double)POW10_NEG[p]);
		for (int k = (int)(u >> 60) % 4; k-- > 0;)
			v = nextafter(v, (u & 2048) ? 0 : 2000);
		return u & 1024 ? -v : v;
	case 4: /* integers at and around 2^63 */
		return ldexp((double)((u >> 11) | (UINT64_C(1) << 52)), 9 + (int)(u % 4));
	default: return (double)(u % 100000) / 10000; /* short decimals */
	}
}

static void test_fixed_scored(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 1000000; i++) {
		int p = (int)(rnd() % (FL_NUMFMT_FIXED_MAX + 1));

		check_fixed(scored_sample(i, 6), 6);
		check_fixed(scored_sample(i, 4), 4);
		check_fixed(scored_sample(i, p), p);
	}
}

static void test_g_random(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 100000; i++) {
		double v = sample(i);

		check_g(v, 17);
		check_g(v, 1 + (int)(rnd() % 17));
	}
}

static void test_shortest_random(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 100000; i++)
		check_shortest(sample(i));
}

static void test_special_values(void **state)
{
	static const double vals[] = {0.0,
	                              -0.0,
	                              1.0,
	                              -1.0,
	                              0.1,
	                              0.5,
	                              1.5,
	                              2.5,
	                              0.125,
	                              0.0078125, /* a tie at the seventh place */
	                              -0.00000049,
	                              0.9999995,
	                              9.5,
	                              99.5,
	                              1e15,
	                              1e16,
	                              1e17,
	                              1e22,
	                              1e23,
	                              18446744073709551616.0, /* 2^64 */
	                              DBL_MAX,
	                              -DBL_MAX,
	                              DBL_MIN,
	                              DBL_TRUE_MIN,
	                              -DBL_TRUE_MIN,
	                              5e-324,
	                              0x1p-1022,
	                              0x1.fffffffffffffp-1023,
	                              1e-5,
	                              1e-4,
	                              123456789012345678.0,
	                              0x1.fffffffffffffp62, /* the largest below 2^63 */
	                              0x1p63,
	                              0x1.0000000000001p63,
	                              0x1.fffffffffffffp63,
	                              9007199254740993.0 / 2, /* 2^52 + 0.5: a tie */
	                              4503599627370495.5,
	                              -4503599627370496.5,
	                              0.00005, /* below its tie at 4 places */
	                              0.00000050000000000000002,
	                              999999.9999995,
	                              -0.99995,
	                              INFINITY,
	                              -INFINITY,
	                              NAN,
	                              -NAN};
	char got[FL_NUMFMT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		for (int p = 0; p <= FL_NUMFMT_FIXED_MAX; p++)
			check_fixed(vals[i], p);
		for (int p = 1; p <= 17; p++)
			check_g(vals[i], p);
		if (isfinite(vals[i]))
			check_shortest(vals[i]);
	}
	/* What the shortest output promises, spelled out. */
	fl_numfmt_shortest(got, 0.1);
	assert_string_equal(got, "0.1");
	fl_numfmt_shortest(got, -0.0);
	assert_string_equal(got, "-0");
	fl_numfmt_shortest(got, 1e300);
	assert_string_equal(got, "1e+300");
	fl_numfmt_shortest(got, 5e-324);
	assert_string_equal(got, "5e-324");
	fl_numfmt_shortest(got, 123456.0);
	assert_string_equal(got, "123456");
	fl_numfmt_shortest(got, 1e-5);
	assert_string_equal(got, "1e-05");
	fl_numfmt_shortest(got, NAN);
	assert_string_equal(got, "nan");
	fl_numfmt_shortest(got, -INFINITY);
	assert_string_equal(got, "-inf");
	fl_numfmt_fixed(got, -0.00000049, 6);
	assert_string_equal(got, "-0.000000");
	fl_numfmt_fixed(got, 0.0078125, 6);
	assert_string_equal(got, "0.007812");
}

static void test_u64(void **state)
{
	char got[32], want[32];
	static const uint64_t vals[] = {0, 1, 9, 10, 99, 1000000, UINT64_MAX};

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		snprintf(want, sizeof(want), "%llu", (unsigned long long)vals[i]);
		assert_int_equal(fl_numfmt_u64(got, vals[i]), strlen(want));
		assert_string_equal(got, want);
	}
	for (unsigned i = 0; i < 10000; i++) {
		uint64_t v = rnd() >> (rnd() % 64);

		snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
		fl_numfmt_u64(got, v);
		assert_string_equal(got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fixed_random),   cmocka_unit_test(test_fixed_scored),
	        cmocka_unit_test(test_g_random),       cmocka_unit_test(test_shortest_random),
	        cmocka_unit_test(test_special_values), cmocka_unit_test(test_u64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
