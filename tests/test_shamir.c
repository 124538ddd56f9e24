/*
 * Tests for src/crypto/shamir.c, Shamir secret sharing over GF(256).
 *
 * Expected values never come from the code under test:
 *   - GF(256) products are checked against FIPS-197's worked examples and
 *     against a reference multiply written here a different way (carry-less
 *     product, then long division by the AES polynomial 0x11B);
 *   - Shamir shares are checked to lie on one polynomial of degree t - 1
 *     through (0, secret), with that reference arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "crypto/shamir_int.h"
#include "fedlead/error.h"
#include "fedlead/masks.h" /* FL_SA_KEY_LEN: the secrets secure aggregation shares */
#include "fedlead/shamir.h"

/* ---- GF(256) ------------------------------------------------------------ */

/* Reference product: carry-less multiply into 15 bits, then reduce by long
 * division by x^8 + x^4 + x^3 + x + 1 (0x11B), from the top bit down. */
static uint8_t ref_mul(uint8_t a, uint8_t b)
{
	unsigned p = 0;

	for (int i = 0; i < 8; i++)
		if (b & (1u << i))
			p ^= (unsigned)a << i;
	for (int d = 14; d >= 8; d--)
		if (p & (1u << d))
			p ^= 0x11Bu << (d - 8);
	return (uint8_t)p;
}

/* Reference inverse by search. */
static uint8_t ref_inv(uint8_t a)
{
	for (unsigned b = 1; b < 256; b++)
		if (ref_mul(a, (uint8_t)b) == 1)
			return (uint8_t)b;
	return 0;
}

static void test_gf_known(void **state)
{
	(void)state;
	/* FIPS-197 section 4.2: {57} x {83} = {c1}; section 4.2.1:
	 * {57} x {13} = {fe}; section 5.1.1's S-box example: {53}^-1 = {ca}. */
	assert_int_equal(fl_sa_gf_mul(0x57, 0x83), 0xc1);
	assert_int_equal(fl_sa_gf_mul(0x83, 0x57), 0xc1);
	assert_int_equal(fl_sa_gf_mul(0x57, 0x13), 0xfe);
	assert_int_equal(fl_sa_gf_mul(0x53, 0xca), 0x01);
	assert_int_equal(fl_sa_gf_inv(0x53), 0xca);
	/* x^-1 = x^7 + x^3 + x^2 + 1 = {8d}, since x * {8d} = x^8 + x^4 +
	 * x^3 + x = 1 mod 0x11B. */
	assert_int_equal(fl_sa_gf_inv(0x02), 0x8d);
	assert_int_equal(fl_sa_gf_inv(0x01), 0x01);
	assert_int_equal(fl_sa_gf_inv(0x00), 0x00);
}

static void test_gf_all(void **state)
{
	(void)state;
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++)
			if (fl_sa_gf_mul((uint8_t)a, (uint8_t)b) != ref_mul((uint8_t)a, (uint8_t)b))
				fail_msg("%02x * %02x", a, b);
	for (unsigned a = 1; a < 256; a++) {
		uint8_t i = fl_sa_gf_inv((uint8_t)a);

		assert_int_equal(ref_mul((uint8_t)a, i), 1);
		assert_int_equal(i, ref_inv((uint8_t)a));
	}
}

/* ---- Shamir ------------------------------------------------------------- */

static const uint8_t SECRET[FL_SA_KEY_LEN] = {0x9a, 0x00, 0xff, 0x01, 0x42, 0x13, 0x37, 0xc0,
                                              0xde, 0xad, 0xbe, 0xef, 0x00, 0x80, 0x7f, 0x55,
                                              0xaa, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70,
                                              0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0};

/* Reference Lagrange interpolation at point z of the k points (xs, ys). */
static uint8_t ref_interp(const uint8_t *xs, const uint8_t *ys, unsigned k, uint8_t z)
{
	uint8_t s = 0;

	for (unsigned j = 0; j < k; j++) {
		uint8_t num = 1, den = 1;

		for (unsigned m = 0; m < k; m++) {
			if (m == j)
				continue;
			num = ref_mul(num, z ^ xs[m]);
			den = ref_mul(den, xs[j] ^ xs[m]);
		}
		s ^= ref_mul(ys[j], ref_mul(num, ref_inv(den)));
	}
	return s;
}

/* Combines the shares whose bits are set in subset; 0 when it recovered
 * SECRET. */
static int combine_subset(const uint8_t *shares, unsigned n, unsigned subset, size_t len,
                          uint8_t *got)
{
	uint8_t pick[FL_SA_MAX_PARTIES * FL_SA_KEY_LEN], xs[FL_SA_MAX_PARTIES];
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		if (!(subset & (1u << i)))
			continue;
		memcpy(pick + k * len, shares + i * len, len);
		xs[k++] = (uint8_t)(i + 1);
	}
	assert_int_equal(fl_shamir_combine(pick, xs, k, len, got), 0);
	return memcmp(got, SECRET, len) == 0 ? 0 : -1;
}

static void test_shamir_5_3(void **state)
{
	uint8_t shares[5 * FL_SA_KEY_LEN], got[FL_SA_KEY_LEN];
	unsigned ok_sets = 0;

	(void)state;
	assert_int_equal(fl_shamir_split(SECRET, sizeof(SECRET), 3, 5, shares), 0);
	/* All five shares lie on one polynomial of degree 2 through
	 * (0, secret): interpolate through shares 1..3 (reference code) and
	 * predict the secret and shares 4 and 5. */
	for (size_t b = 0; b < FL_SA_KEY_LEN; b++) {
		uint8_t xs[3] = {1, 2, 3}, ys[3];

		for (int i = 0; i < 3; i++)
			ys[i] = shares[i * FL_SA_KEY_LEN + b];
		assert_int_equal(ref_interp(xs, ys, 3, 0), SECRET[b]);
		assert_int_equal(ref_interp(xs, ys, 3, 4), shares[3 * FL_SA_KEY_LEN + b]);
		assert_int_equal(ref_interp(xs, ys, 3, 5), shares[4 * FL_SA_KEY_LEN + b]);
	}
	/* Every subset of 3, 4 or 5 shares recovers the secret; every
	 * subset of 2 gives something else (each byte of a 2-share guess is
	 * the secret's with probability 1/256, all 32 with 2^-256). */
	for (unsigned s = 1; s < 32; s++) {
		int k = __builtin_popcount(s);

		if (k >= 3) {
			assert_int_equal(combine_subset(shares, 5, s, FL_SA_KEY_LEN, got), 0);
			ok_sets++;
		} else if (k == 2) {
			assert_int_equal(combine_subset(shares, 5, s, FL_SA_KEY_LEN, got), -1);
		}
	}
	assert_int_equal(ok_sets, 10 + 5 + 1);
}

static void test_shamir_any_t_of_n(void **state)
{
	uint8_t shares[8 * FL_SA_KEY_LEN], got[FL_SA_KEY_LEN];

	(void)state;
	for (unsigned n = 1; n <= 8; n++) {
		for (unsigned t = 1; t <= n; t++) {
			assert_int_equal(fl_shamir_split(SECRET, 7, t, n, shares), 0);
			for (unsigned s = 1; s < (1u << n); s++) {
				unsigned k = (unsigned)__builtin_popcount(s);

				if (k >= t)
					assert_int_equal(combine_subset(shares, n, s, 7, got), 0);
			}
		}
	}
}

static void test_shamir_255(void **state)
{
	static uint8_t shares[255 * FL_SA_KEY_LEN], pick[255 * FL_SA_KEY_LEN];
	uint8_t xs[255], got[FL_SA_KEY_LEN];

	(void)state;
	assert_int_equal(fl_shamir_split(SECRET, FL_SA_KEY_LEN, 128, 255, shares), 0);
	/* The last 128 shares, in reverse order: any order of x works. */
	for (unsigned j = 0; j < 128; j++) {
		unsigned i = 254 - j;

		memcpy(pick + j * FL_SA_KEY_LEN, shares + i * FL_SA_KEY_LEN, FL_SA_KEY_LEN);
		xs[j] = (uint8_t)(i + 1);
	}
	assert_int_equal(fl_shamir_combine(pick, xs, 128, FL_SA_KEY_LEN, got), 0);
	assert_memory_equal(got, SECRET, FL_SA_KEY_LEN);
	/* One share fewer than the threshold does not. */
	assert_int_equal(fl_shamir_combine(pick, xs, 127, FL_SA_KEY_LEN, got), 0);
	assert_memory_not_equal(got, SECRET, FL_SA_KEY_LEN);
}

static void test_shamir_known(void **state)
{
	/* By hand, 2-of-n for the byte 0x42 with f(x) = 0x42 + 0x07 x:
	 * f(1) = 0x42 ^ 0x07 = 0x45; f(2) = 0x42 ^ (0x07 * x) = 0x42 ^ 0x0e
	 * = 0x4c; f(3) = 0x42 ^ (0x07 * (x + 1)) = 0x42 ^ 0x09 = 0x4b. */
	const uint8_t s12[] = {0x45, 0x4c}, x12[] = {1, 2};
	const uint8_t s32[] = {0x4b, 0x4c}, x32[] = {3, 2};
	uint8_t got = 0;

	(void)state;
	assert_int_equal(fl_shamir_combine(s12, x12, 2, 1, &got), 0);
	assert_int_equal(got, 0x42);
	assert_int_equal(fl_shamir_combine(s32, x32, 2, 1, &got), 0);
	assert_int_equal(got, 0x42);
}

static void test_shamir_errors(void **state)
{
	uint8_t shares[4 * 2] = {0}, got[2];
	const uint8_t zero_x[] = {1, 0, 3}, dup_x[] = {7, 2, 7, 4};

	(void)state;
	assert_int_equal(fl_shamir_combine(shares, zero_x, 3, 2, got), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "Shamir share 2 is at x = 0");
	assert_int_equal(fl_shamir_combine(shares, dup_x, 4, 2, got), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "Shamir shares 1 and 3 are both at x = 7");
	assert_int_equal(fl_shamir_combine(shares, dup_x, 0, 2, got), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "Shamir: 0 shares to combine, expected 1 to 255");
	assert_int_equal(fl_shamir_split(SECRET, 2, 4, 3, shares), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "Shamir: threshold 4 of 3 shares, expected 1 <= t <= n <= 255");
	assert_int_equal(fl_shamir_split(SECRET, 2, 0, 3, shares), FL_ERR_INVALID);
	assert_int_equal(fl_shamir_split(SECRET, 2, 2, 256, shares), FL_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_gf_known),      cmocka_unit_test(test_gf_all),
	        cmocka_unit_test(test_shamir_5_3),    cmocka_unit_test(test_shamir_any_t_of_n),
	        cmocka_unit_test(test_shamir_255),    cmocka_unit_test(test_shamir_known),
	        cmocka_unit_test(test_shamir_errors),
	};

	return cmocka_run_group_tests_name("shamir", tests, NULL, NULL);
}
