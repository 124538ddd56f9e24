/*
 * Tests for src/crypto/fixedpoint.c, the fixed-point encoding secure
 * aggregation sums in. Expected values never come from the code under
 * test: the bounds and encodings are derived by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "fedlead/error.h"
#include "fedlead/fixedpoint.h"

static void test_fixed_bound(void **state)
{
	(void)state;
	/* 16 fraction bits, 4 parties: floor((2^63 - 1) / 4) = 2^61 - 1,
	 * which as a double would round up to 2^61 (and 4 * 2^61 wraps);
	 * the largest double below it is 2^61 - 2^8 (53-bit mantissa), so
	 * the bound is (2^61 - 2^8) / 2^16 = 2^45 - 2^-8. */
	assert_true(fl_fixed_bound(16, 4) == 0x1p45 - 0x1p-8);
	/* 0 bits, 1 party: 2^63 - 1 -> the largest double below, 2^63 - 2^10. */
	assert_true(fl_fixed_bound(0, 1) == 0x1p63 - 0x1p10);
	/* 0 bits, 255 parties: (2^63 - 1) / 255 = 0x0080808080808080
	 * (255 * that = 2^63 - 128, remainder 127), 56 bits but a multiple of
	 * 8, so a double as it is. */
	assert_true(fl_fixed_bound(0, 255) == (double)0x0080808080808080ull);
	assert_true(fl_fixed_bound(-1, 4) == 0.0);
	assert_true(fl_fixed_bound(53, 4) == 0.0);
	assert_true(fl_fixed_bound(16, 0) == 0.0);
}

static void test_fixed_at_bound(void **state)
{
	const double b = 0x1p45 - 0x1p-8;
	double x[4], y[4];
	uint64_t e[4], sum = 0;
	size_t bad = 99;

	(void)state;
	/* Exactly the bound: encodings 2^61 - 2^8 and its negation. */
	x[0] = b;
	x[1] = -b;
	assert_int_equal(fl_fixed_encode(x, 2, 16, b, e, &bad), 0);
	assert_int_equal(bad, 2);
	assert_true(e[0] == 0x1FFFFFFFFFFFFF00ull);
	assert_true(e[1] == 0xE000000000000100ull);
	/* Four parties at +bound: 2^63 - 2^10, no wrap; it decodes to
	 * 4 * bound = 2^47 - 2^-6 exactly. */
	sum = 4 * e[0];
	assert_true(sum == 0x7FFFFFFFFFFFFC00ull);
	fl_fixed_decode(&sum, 1, 16, y);
	assert_true(y[0] == 0x1p47 - 0x1p-6);
	sum = 4 * e[1];
	fl_fixed_decode(&sum, 1, 16, y);
	assert_true(y[0] == -(0x1p47 - 0x1p-6));
	sum = 3 * e[0] + e[1];
	fl_fixed_decode(&sum, 1, 16, y);
	assert_true(y[0] == 2 * b);
	/* Just above: the next double after 2^45 - 2^-8 is 2^45. */
	x[0] = 0.5;
	x[1] = 0x1p45;
	x[2] = 1.0;
	e[0] = 12345;
	assert_int_equal(fl_fixed_encode(x, 3, 16, b, e, &bad), FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "update element 1 is 35184372088832, outside the "
	                                 "fixed-point bound +-35184372088831.996");
	assert_int_equal(bad, 1);
	assert_true(e[0] == 0 && e[1] == 0 && e[2] == 0);
	x[1] = -0x1p45;
	assert_int_equal(fl_fixed_encode(x, 3, 16, b, e, NULL), FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "update element 1 is -35184372088832, outside the "
	                                 "fixed-point bound +-35184372088831.996");
	x[1] = 1.0;
	x[2] = NAN;
	assert_int_equal(fl_fixed_encode(x, 3, 16, b, e, &bad), FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "update element 2 is not a finite number (nan)");
	assert_int_equal(bad, 2);
	x[0] = -INFINITY;
	assert_int_equal(fl_fixed_encode(x, 3, 16, b, e, &bad), FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "update element 0 is not a finite number (-inf)");
	assert_int_equal(bad, 0);
}

static void test_fixed_rounding_and_wrap(void **state)
{
	/* 0 fraction bits: halves go away from zero. 0.49999999999999994 (the
	 * double below 0.5) goes to 0, where floor(x + 0.5) would give 1. */
	const double x[] = {0.5, 1.5, 2.5, -0.5, -2.5, 0.49999999999999994, -0.0, -1.0, 3.0};
	const uint64_t want[] = {1, 2, 3, UINT64_MAX, UINT64_MAX - 2, 0, 0, UINT64_MAX, 3};
	uint64_t e[9];
	double y[9];
	const uint64_t special[] = {0x8000000000000000ull, UINT64_MAX, 0x7FFFFFFFFFFFFFFFull};

	(void)state;
	assert_int_equal(fl_fixed_encode(x, 9, 0, 10.0, e, NULL), 0);
	for (int i = 0; i < 9; i++)
		if (e[i] != want[i])
			fail_msg("x[%d] = %g: %llx", i, x[i], (unsigned long long)e[i]);
	fl_fixed_decode(e, 9, 0, y);
	assert_true(y[3] == -1.0 && y[4] == -3.0);
	/* -0.0 encodes as 0 and decodes as +0.0. */
	assert_true(y[6] == 0.0 && !signbit(y[6]));
	/* 2 fraction bits: 0.125 * 4 = 0.5 -> 1 -> 0.25; -0.375 * 4 = -1.5
	 * -> -2 -> -0.5. */
	{
		const double q[] = {0.125, -0.375, 1.75};

		assert_int_equal(fl_fixed_encode(q, 3, 2, 2.0, e, NULL), 0);
		assert_true(e[0] == 1 && e[1] == UINT64_MAX - 1 && e[2] == 7);
		fl_fixed_decode(e, 3, 2, y);
		assert_true(y[0] == 0.25 && y[1] == -0.5 && y[2] == 1.75);
	}
	/* The ends of int64. */
	fl_fixed_decode(special, 3, 0, y);
	assert_true(y[0] == -0x1p63);
	assert_true(y[1] == -1.0);
	assert_true(y[2] == 0x1p63); /* 2^63 - 1 rounds to the nearest double */
	fl_fixed_decode(special + 1, 1, 1, y);
	assert_true(y[0] == -0.5);
	/* Wrapping sum: 5 + (-7) = -2 mod 2^64. */
	{
		const double a[] = {5.0, -7.0};
		uint64_t s;

		assert_int_equal(fl_fixed_encode(a, 2, 8, 100.0, e, NULL), 0);
		s = e[0] + e[1];
		fl_fixed_decode(&s, 1, 8, y);
		assert_true(y[0] == -2.0);
	}
}

static void test_fixed_invalid(void **state)
{
	const double x[] = {1.0};
	uint64_t e[1];

	(void)state;
	assert_int_equal(fl_fixed_encode(x, 1, 53, 10.0, e, NULL), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "fixed point: 53 fraction bits, expected 0 to 52");
	assert_int_equal(fl_fixed_encode(x, 1, 0, 0x1p63, e, NULL), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "fixed point: bound 9.2233720368547758e+18 does not fit "
	                                 "int64 with 0 fraction bits");
	assert_int_equal(fl_fixed_encode(x, 1, 0, -1.0, e, NULL), FL_ERR_INVALID);
	assert_int_equal(fl_fixed_encode(x, 1, 0, NAN, e, NULL), FL_ERR_INVALID);
	/* The largest accepted bound for 0 bits is the largest double below
	 * 2^63. */
	assert_int_equal(fl_fixed_encode(x, 1, 0, 0x1p63 - 0x1p10, e, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fixed_bound),
	        cmocka_unit_test(test_fixed_at_bound),
	        cmocka_unit_test(test_fixed_rounding_and_wrap),
	        cmocka_unit_test(test_fixed_invalid),
	};

	return cmocka_run_group_tests_name("fixedpoint", tests, NULL, NULL);
}
