/*
 * Tests for src/secagg.c, the cryptographic core of secure aggregation.
 *
 * Expected values never come from the code under test:
 *   - GF(256) products are checked against FIPS-197's worked examples and
 *     against a reference multiply written here a different way (carry-less
 *     product, then long division by the AES polynomial 0x11B);
 *   - Shamir shares are checked to lie on one polynomial of degree t - 1
 *     through (0, secret), with that reference arithmetic;
 *   - the PRG and key-agreement golden vectors in tests/data/secagg/ were
 *     made by tests/data/secagg/gen.sh with the openssl command alone;
 *   - X25519 and ChaCha20-Poly1305 use the RFC 7748 and RFC 8439 vectors;
 *   - fixed-point bounds are derived by hand in the comments;
 *   - a key advertisement made here is verified by `openssl dgst -verify`
 *     over the message encoding as the header documents it.
 * Certificates are made at test time with deploy/fedlead-ca.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/shamir_int.h"
#include "fedlead/error.h"
#include "fedlead/masks.h"

#define CA_TOOL FL_TEST_DATA "/../../deploy/fedlead-ca"
#define GOLDEN FL_TEST_DATA "/secagg"

/* ---- helpers ------------------------------------------------------------ */

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	assert_int_equal(strlen(hex), 2 * len);
	for (size_t i = 0; i < len; i++) {
		unsigned b;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
}

/* The value of key in a "key value" golden file, into buf. */
static void golden(const char *file, const char *key, char *buf, size_t n)
{
	char line[512], path[512];
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", GOLDEN, file);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, n, "%s", line + klen + 1);
			fclose(f);
			return;
		}
	}
	fclose(f);
	fail_msg("%s: no %s", path, key);
}

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

/* ---- PRG masks ---------------------------------------------------------- */

static void test_mask_golden_first8(void **state)
{
	/* ChaCha20 keystream for key 00 01 .. 1f, IV (counter and nonce) all
	 * zero, from
	 *   head -c 64 /dev/zero | openssl enc -chacha20 \
	 *     -K 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \
	 *     -iv 00000000000000000000000000000000 | xxd
	 * which printed
	 *   39fd 2b7d d9c5 196a 8dbd 0377 b8dc 4a49
	 *   8a35 d86f bcde 6acc b2cc 7d4c d8ea 2492
	 *   2b23 cce7 a260 23ab 3f0e ef69 3ac8 7f64
	 *   2582 35ea b1f7 a32d c227 62a0 485b 410c
	 * Each 8 bytes read little-endian (last byte most significant). */
	static const uint64_t expect[8] = {
	        0x6a19c5d97d2bfd39, 0x494adcb87703bd8d, 0xcc6adebc6fd8358a, 0x9224ead84c7dccb2,
	        0xab2360a2e7cc232b, 0x647fc83a69ef0e3f, 0x2da3f7b1ea358225, 0x0c415b48a06227c2,
	};
	uint8_t seed[FL_SA_KEY_LEN];
	uint64_t v[8] = {0};

	(void)state;
	for (int i = 0; i < FL_SA_KEY_LEN; i++)
		seed[i] = (uint8_t)i;
	assert_int_equal(fl_sa_mask(seed, +1, v, 8), 0);
	assert_memory_equal(v, expect, sizeof(expect));
	/* -1 subtracts mod 2^64. */
	memset(v, 0, sizeof(v));
	assert_int_equal(fl_sa_mask(seed, -1, v, 8), 0);
	for (int i = 0; i < 8; i++)
		assert_true(v[i] == 0 - expect[i]);
	/* Adds mod 2^64 to what is there: UINT64_MAX + k = k - 1, and
	 * 5 - k wraps below zero. */
	for (int i = 0; i < 8; i++)
		v[i] = i % 2 ? UINT64_MAX : 5;
	assert_int_equal(fl_sa_mask(seed, +1, v, 4), 0);
	assert_int_equal(fl_sa_mask(seed, -1, v + 4, 4), 0);
	for (int i = 0; i < 4; i++)
		assert_true(v[i] == (i % 2 ? expect[i] - 1 : expect[i] + 5));
	/* The second call started the keystream over at element 0. */
	for (int i = 4; i < 8; i++)
		assert_true(v[i] == (i % 2 ? UINT64_MAX - expect[i - 4] : 5 - expect[i - 4]));
}

static void test_mask_golden_long(void **state)
{
	/* prg.txt: elements of the same keystream across the 64 KiB chunks
	 * the implementation streams through (8192 elements each). */
	char buf[128], path[256], line[256];
	uint8_t seed[FL_SA_KEY_LEN];
	uint64_t *v;
	size_t n, checked = 0;
	FILE *f;

	(void)state;
	golden("prg.txt", "seed", buf, sizeof(buf));
	unhex(buf, seed, sizeof(seed));
	golden("prg.txt", "n", buf, sizeof(buf));
	n = strtoull(buf, NULL, 10);
	assert_int_equal(n, 20000);
	assert_non_null(v = calloc(n, sizeof(*v)));
	assert_int_equal(fl_sa_mask(seed, +1, v, n), 0);
	snprintf(path, sizeof(path), "%s/prg.txt", GOLDEN);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long idx, want;

		if (sscanf(line, "%llu %llx", &idx, &want) != 2 || line[0] == '#' ||
		    strncmp(line, "n ", 2) == 0)
			continue;
		assert_true(idx < n);
		if (v[idx] != want)
			fail_msg("element %llu: %016llx, expected %016llx", idx,
			         (unsigned long long)v[idx], want);
		checked++;
	}
	fclose(f);
	assert_int_equal(checked, 18);
	free(v);
}

static void test_mask_cancels_and_errors(void **state)
{
	uint8_t seed[FL_SA_KEY_LEN] = {7};
	uint64_t v[3] = {1, 2, 3};

	(void)state;
	assert_int_equal(fl_sa_mask(seed, 0, v, 3), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "mask: sign 0, expected +1 or -1");
	assert_int_equal(fl_sa_mask(seed, 2, v, 3), FL_ERR_INVALID);
	assert_int_equal(fl_sa_mask(seed, 1, v, FL_SA_MAX_MASK_LEN + 1), FL_ERR_LIMIT);
	assert_int_equal(v[0], 1);
	assert_int_equal(fl_sa_mask(seed, 1, NULL, 0), 0);
}

/* ---- X25519 and key agreement ------------------------------------------- */

/* RFC 7748 section 6.1. */
#define ALICE_SEC "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUB "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_SEC "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define BOB_PUB "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"

static void test_x25519_rfc7748(void **state)
{
	struct fl_sa_keypair kp;
	uint8_t sec[FL_SA_KEY_LEN], pub[FL_SA_KEY_LEN];

	(void)state;
	unhex(ALICE_SEC, sec, sizeof(sec));
	unhex(ALICE_PUB, pub, sizeof(pub));
	assert_int_equal(fl_sa_keypair_from_secret(sec, &kp), 0);
	assert_memory_equal(kp.pub, pub, sizeof(pub));
	assert_memory_equal(kp.sec, sec, sizeof(sec));
	unhex(BOB_SEC, sec, sizeof(sec));
	unhex(BOB_PUB, pub, sizeof(pub));
	/* In place: the secret may be the pair's own. */
	memcpy(kp.sec, sec, sizeof(sec));
	assert_int_equal(fl_sa_keypair_from_secret(kp.sec, &kp), 0);
	assert_memory_equal(kp.pub, pub, sizeof(pub));
	fl_sa_keypair_clear(&kp);
	for (size_t i = 0; i < sizeof(kp); i++)
		assert_int_equal(((uint8_t *)&kp)[i], 0);
	fl_sa_keypair_clear(NULL);
}

static void test_agree_golden(void **state)
{
	/* agree.txt: X25519 of Alice's secret and Bob's public key by openssl
	 * pkeyutl (RFC 7748's K), HKDF-SHA256 by openssl kdf. */
	char buf[256], label[64], fed[64], lo[64], hi[64];
	uint8_t sec[FL_SA_KEY_LEN], pub[FL_SA_KEY_LEN], want[FL_SA_KEY_LEN], key[FL_SA_KEY_LEN];
	uint64_t round;

	(void)state;
	golden("agree.txt", "alice_sec", buf, sizeof(buf));
	unhex(buf, sec, sizeof(sec));
	golden("agree.txt", "bob_pub", buf, sizeof(buf));
	unhex(buf, pub, sizeof(pub));
	golden("agree.txt", "key", buf, sizeof(buf));
	unhex(buf, want, sizeof(want));
	golden("agree.txt", "label", label, sizeof(label));
	golden("agree.txt", "federation", fed, sizeof(fed));
	golden("agree.txt", "id_lo", lo, sizeof(lo));
	golden("agree.txt", "id_hi", hi, sizeof(hi));
	golden("agree.txt", "round", buf, sizeof(buf));
	round = strtoull(buf, NULL, 10);
	assert_int_equal(fl_sa_agree(sec, pub, label, fed, round, lo, hi, key), 0);
	assert_memory_equal(key, want, sizeof(want));
	/* Either order of the identities. */
	assert_int_equal(fl_sa_agree(sec, pub, label, fed, round, hi, lo, key), 0);
	assert_memory_equal(key, want, sizeof(want));
	/* Bob's side. */
	unhex(BOB_SEC, sec, sizeof(sec));
	unhex(ALICE_PUB, pub, sizeof(pub));
	assert_int_equal(fl_sa_agree(sec, pub, label, fed, round, hi, lo, key), 0);
	assert_memory_equal(key, want, sizeof(want));
}

static void test_agree_binds_context(void **state)
{
	struct fl_sa_keypair a, b;
	uint8_t k[8][FL_SA_KEY_LEN], kb[FL_SA_KEY_LEN];

	(void)state;
	assert_int_equal(fl_sa_keypair_new(&a), 0);
	assert_int_equal(fl_sa_keypair_new(&b), 0);
	assert_memory_not_equal(a.sec, b.sec, FL_SA_KEY_LEN);
	assert_int_equal(fl_sa_agree(a.sec, b.pub, "mask", "fed", 1, "acme", "beta", k[0]), 0);
	assert_int_equal(fl_sa_agree(b.sec, a.pub, "mask", "fed", 1, "beta", "acme", kb), 0);
	assert_memory_equal(k[0], kb, FL_SA_KEY_LEN);
	assert_int_equal(fl_sa_agree(a.sec, b.pub, "mask", "fed", 2, "acme", "beta", k[1]), 0);
	assert_int_equal(fl_sa_agree(a.sec, b.pub, "mask", "fee", 1, "acme", "beta", k[2]), 0);
	assert_int_equal(fl_sa_agree(a.sec, b.pub, "seal", "fed", 1, "acme", "beta", k[3]), 0);
	assert_int_equal(fl_sa_agree(a.sec, b.pub, "mask", "fed", 1, "acme", "gamma", k[4]), 0);
	/* Length prefixes: moving a byte from one field to the next is
	 * another key. */
	assert_int_equal(fl_sa_agree(a.sec, b.pub, "mas", "kfed", 1, "acme", "beta", k[5]), 0);
	assert_int_equal(fl_sa_agree(a.sec, b.pub, "mask", "fed", 1, "acm", "ebeta", k[6]), 0);
	assert_int_equal(fl_sa_agree(a.sec, b.pub, "mask", "fed", 1ull << 32, "acme", "beta", k[7]),
	                 0);
	for (int i = 0; i < 8; i++)
		for (int j = i + 1; j < 8; j++)
			assert_memory_not_equal(k[i], k[j], FL_SA_KEY_LEN);
	/* A pair made from the secret has the same public key. */
	{
		struct fl_sa_keypair c;

		assert_int_equal(fl_sa_keypair_from_secret(a.sec, &c), 0);
		assert_memory_equal(c.pub, a.pub, FL_SA_KEY_LEN);
		fl_sa_keypair_clear(&c);
	}
	fl_sa_keypair_clear(&a);
	fl_sa_keypair_clear(&b);
}

static void test_agree_errors(void **state)
{
	uint8_t sec[FL_SA_KEY_LEN], pub[FL_SA_KEY_LEN] = {0}, key[FL_SA_KEY_LEN];
	char longname[FL_SA_MAX_NAME + 2];

	(void)state;
	unhex(ALICE_SEC, sec, sizeof(sec));
	/* u = 0 and u = 1 are points of small order (RFC 7748 section 6.1,
	 * and the list of Curve25519 small-order points): the shared secret
	 * would be all zeros, known to anyone. */
	memset(key, 0xaa, sizeof(key));
	assert_int_equal(fl_sa_agree(sec, pub, "mask", "fed", 1, "acme", "beta", key), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key agreement with the peer's public key failed (a "
	                                 "small-order point?)");
	for (size_t i = 0; i < sizeof(key); i++)
		assert_int_equal(key[i], 0);
	pub[0] = 1;
	assert_int_equal(fl_sa_agree(sec, pub, "mask", "fed", 1, "acme", "beta", key), FL_ERR_AUTH);
	unhex(BOB_PUB, pub, sizeof(pub));
	assert_int_equal(fl_sa_agree(sec, pub, "mask", "fed", 1, "acme", "acme", key),
	                 FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "key agreement: both sides are \"acme\"");
	assert_int_equal(fl_sa_agree(sec, pub, "", "fed", 1, "acme", "beta", key), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "key agreement: label, federation id and identities must "
	                                 "be 1 to 255 bytes");
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(fl_sa_agree(sec, pub, "mask", longname, 1, "acme", "beta", key),
	                 FL_ERR_INVALID);
	longname[FL_SA_MAX_NAME] = '\0';
	assert_int_equal(fl_sa_agree(sec, pub, "mask", longname, 1, "acme", "beta", key), 0);
	assert_int_equal(fl_sa_pair_sign("acme", "beta"), 1);
	assert_int_equal(fl_sa_pair_sign("beta", "acme"), -1);
	assert_int_equal(fl_sa_pair_sign("acme", "acme"), 0);
}

/* ---- Fixed point -------------------------------------------------------- */

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

/* ---- Sealing ------------------------------------------------------------ */

static void test_open_rfc8439(void **state)
{
	/* RFC 8439 section 2.8.2: nonce || ciphertext || tag is what
	 * fl_sa_seal() lays out. */
	static const char pt_text[] = "Ladies and Gentlemen of the class of '99: If I could offer "
	                              "you only one tip for the future, sunscreen would be it.";
	static const char ct_hex[] =
	        "070000004041424344454647"
	        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	        "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	        "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
	        "3ff4def08e4b7a9de576d26586cec64b6116"
	        "1ae10b594f09e26a7e902ecbd0600691";
	const size_t len = sizeof(pt_text) - 1;
	uint8_t key[FL_SA_KEY_LEN], aad[12], ct[114 + FL_SA_SEAL_OVERHEAD], pt[114];

	(void)state;
	assert_int_equal(len, 114);
	unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", key, sizeof(key));
	unhex("50515253c0c1c2c3c4c5c6c7", aad, sizeof(aad));
	unhex(ct_hex, ct, sizeof(ct));
	assert_int_equal(fl_sa_open(key, aad, sizeof(aad), ct, sizeof(ct), pt), 0);
	assert_memory_equal(pt, pt_text, len);
}

static void expect_auth_fail(const uint8_t *key, const uint8_t *aad, size_t aad_len,
                             const uint8_t *ct, size_t ct_len)
{
	uint8_t pt[64];

	memset(pt, 0xaa, sizeof(pt));
	assert_int_equal(fl_sa_open(key, aad, aad_len, ct, ct_len, pt), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "share does not authenticate");
	/* What was decrypted before the tag check is wiped. */
	for (size_t i = 0; ct_len >= FL_SA_SEAL_OVERHEAD && i < ct_len - FL_SA_SEAL_OVERHEAD; i++)
		assert_int_equal(pt[i], 0);
}

static void test_seal_round_trip_and_tamper(void **state)
{
	uint8_t key[FL_SA_KEY_LEN], key2[FL_SA_KEY_LEN], share[40], aad[] = "acme->beta round 3";
	uint8_t ct[40 + FL_SA_SEAL_OVERHEAD], ct2[40 + FL_SA_SEAL_OVERHEAD], pt[40];

	(void)state;
	assert_int_equal(fl_sa_seed_new(key), 0);
	memcpy(key2, key, sizeof(key));
	key2[31] ^= 0x80;
	for (size_t i = 0; i < sizeof(share); i++)
		share[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(fl_sa_seal(key, aad, sizeof(aad), share, sizeof(share), ct), 0);
	assert_int_equal(fl_sa_open(key, aad, sizeof(aad), ct, sizeof(ct), pt), 0);
	assert_memory_equal(pt, share, sizeof(share));
	/* A fresh nonce every time. */
	assert_int_equal(fl_sa_seal(key, aad, sizeof(aad), share, sizeof(share), ct2), 0);
	assert_memory_not_equal(ct, ct2, FL_SA_NONCE_LEN);
	/* Any bit of nonce, ciphertext or tag; the aad; the key; the length. */
	for (size_t i = 0; i < sizeof(ct); i += 5) {
		memcpy(ct2, ct, sizeof(ct));
		ct2[i] ^= 0x01;
		expect_auth_fail(key, aad, sizeof(aad), ct2, sizeof(ct2));
	}
	aad[0] = 'b';
	expect_auth_fail(key, aad, sizeof(aad), ct, sizeof(ct));
	aad[0] = 'a';
	expect_auth_fail(key, aad, sizeof(aad) - 1, ct, sizeof(ct));
	expect_auth_fail(key, NULL, 0, ct, sizeof(ct));
	expect_auth_fail(key2, aad, sizeof(aad), ct, sizeof(ct));
	expect_auth_fail(key, aad, sizeof(aad), ct, sizeof(ct) - 1);
	expect_auth_fail(key, aad, sizeof(aad), ct, FL_SA_SEAL_OVERHEAD - 1);
	expect_auth_fail(key, aad, sizeof(aad), ct, 0);
	assert_int_equal(fl_sa_open(key, aad, sizeof(aad), ct, sizeof(ct), pt), 0);
	/* Empty plaintext, no aad. */
	assert_int_equal(fl_sa_seal(key, NULL, 0, NULL, 0, ct2), 0);
	assert_int_equal(fl_sa_open(key, NULL, 0, ct2, FL_SA_SEAL_OVERHEAD, NULL), 0);
	expect_auth_fail(key, aad, 1, ct2, FL_SA_SEAL_OVERHEAD);
	assert_int_equal(fl_sa_seal(key, NULL, 0, share, FL_SA_MAX_SEAL + 1, ct2), FL_ERR_LIMIT);
}

/* ---- The protocol's arithmetic: masks cancel ---------------------------- */

#define NPART 3
#define VLEN 10007 /* more than one 8192-element chunk, not a multiple */

static const char *const IDS[NPART] = {"acme", "beta", "gamma"};

struct party {
	struct fl_sa_keypair s; /* for the pairwise masks */
	uint8_t b[FL_SA_KEY_LEN];
	uint64_t *x, *y;
};

/* y_u = x_u + PRG(b_u) + sum_{v != u} sign(u, v) PRG(s_uv). */
static void mask_party(struct party *p, int u)
{
	memcpy(p[u].y, p[u].x, VLEN * sizeof(uint64_t));
	assert_int_equal(fl_sa_mask(p[u].b, +1, p[u].y, VLEN), 0);
	for (int v = 0; v < NPART; v++) {
		uint8_t k[FL_SA_KEY_LEN];

		if (v == u)
			continue;
		assert_int_equal(fl_sa_agree(p[u].s.sec, p[v].s.pub, FL_SA_LABEL_MASK, "fed", 3,
		                             IDS[u], IDS[v], k),
		                 0);
		assert_int_equal(fl_sa_mask(k, fl_sa_pair_sign(IDS[u], IDS[v]), p[u].y, VLEN), 0);
		OPENSSL_cleanse(k, sizeof(k));
	}
}

static void test_masks_cancel(void **state)
{
	struct party p[NPART];
	uint64_t *sum, *want;
	double *xd;
	size_t bad;

	(void)state;
	assert_non_null(sum = calloc(VLEN, sizeof(*sum)));
	assert_non_null(want = calloc(VLEN, sizeof(*want)));
	assert_non_null(xd = calloc(VLEN, sizeof(*xd)));
	for (int u = 0; u < NPART; u++) {
		assert_int_equal(fl_sa_keypair_new(&p[u].s), 0);
		assert_int_equal(fl_sa_seed_new(p[u].b), 0);
		assert_non_null(p[u].x = calloc(VLEN, sizeof(uint64_t)));
		assert_non_null(p[u].y = calloc(VLEN, sizeof(uint64_t)));
		for (size_t i = 0; i < VLEN; i++)
			xd[i] = ((double)i - 5000.0) * (u + 1) / 64.0;
		assert_int_equal(
		        fl_fixed_encode(xd, VLEN, 16, fl_fixed_bound(16, NPART), p[u].x, &bad), 0);
	}
	for (int u = 0; u < NPART; u++)
		mask_party(p, u);
	/* The coordinator: sum of y_u, then minus PRG(b_u) for each u (the
	 * b_u reconstructed from shares in the protocol). */
	for (int u = 0; u < NPART; u++) {
		assert_memory_not_equal(p[u].y, p[u].x, VLEN * sizeof(uint64_t));
		for (size_t i = 0; i < VLEN; i++)
			sum[i] += p[u].y[i];
	}
	for (int u = 0; u < NPART; u++)
		assert_int_equal(fl_sa_mask(p[u].b, -1, sum, VLEN), 0);
	for (int u = 0; u < NPART; u++)
		for (size_t i = 0; i < VLEN; i++)
			want[i] += p[u].x[i];
	assert_memory_equal(sum, want, VLEN * sizeof(uint64_t));
	/* Decoded: sum over u of (i - 5000)(u + 1)/64 = 6 (i - 5000)/64, exact
	 * in binary with 16 fraction bits. */
	fl_fixed_decode(sum, VLEN, 16, xd);
	for (size_t i = 0; i < VLEN; i++)
		assert_true(xd[i] == 6.0 * ((double)i - 5000.0) / 64.0);

	/* gamma drops out after masking but before sending y: the survivors
	 * hold Shamir shares (2 of 3) of its s secret; the coordinator
	 * recovers it, checks it against gamma's public key and removes
	 * gamma's pairwise masks from the survivors' sum. */
	{
		uint8_t shares[NPART * FL_SA_KEY_LEN], pick[2 * FL_SA_KEY_LEN], xs[2] = {1, 2};
		struct fl_sa_keypair rec;

		assert_int_equal(fl_shamir_split(p[2].s.sec, FL_SA_KEY_LEN, 2, NPART, shares), 0);
		memcpy(pick, shares, 2 * FL_SA_KEY_LEN); /* acme's and beta's */
		assert_int_equal(fl_shamir_combine(pick, xs, 2, FL_SA_KEY_LEN, rec.sec), 0);
		assert_int_equal(fl_sa_keypair_from_secret(rec.sec, &rec), 0);
		assert_int_equal(CRYPTO_memcmp(rec.pub, p[2].s.pub, FL_SA_KEY_LEN), 0);
		memset(sum, 0, VLEN * sizeof(*sum));
		memset(want, 0, VLEN * sizeof(*want));
		for (int u = 0; u < 2; u++) {
			for (size_t i = 0; i < VLEN; i++) {
				sum[i] += p[u].y[i];
				want[i] += p[u].x[i];
			}
			assert_int_equal(fl_sa_mask(p[u].b, -1, sum, VLEN), 0);
		}
		for (int u = 0; u < 2; u++) {
			uint8_t k[FL_SA_KEY_LEN];

			/* u added sign(u, gamma) PRG(s_u,gamma): take it off. */
			assert_int_equal(fl_sa_agree(rec.sec, p[u].s.pub, FL_SA_LABEL_MASK, "fed",
			                             3, IDS[2], IDS[u], k),
			                 0);
			assert_int_equal(fl_sa_mask(k, -fl_sa_pair_sign(IDS[u], IDS[2]), sum, VLEN),
			                 0);
		}
		assert_memory_equal(sum, want, VLEN * sizeof(uint64_t));
		fl_sa_keypair_clear(&rec);
	}
	for (int u = 0; u < NPART; u++) {
		fl_sa_keypair_clear(&p[u].s);
		free(p[u].x);
		free(p[u].y);
	}
	free(sum);
	free(want);
	free(xd);
}

/* ---- Signed key advertisements ------------------------------------------ */

static char dir[64];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048], full[2400];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && { %s; } >>log 2>&1", dir, cmd);
	r = system(full);
	if (r != 0) {
		fprintf(stderr, "command failed (%d): %s\n", r, cmd);
		snprintf(full, sizeof(full), "tail -n 20 '%s/log' >&2", dir);
		if (system(full) != 0)
			fprintf(stderr, "(no log)\n");
	}
	return r;
}

static const char *P(const char *name)
{
	static char buf[16][256];
	static int i;

	i = (i + 1) % 16;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int certs_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fl_test_secagg.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	if (sh("bash '%s' init --dir ca", CA_TOOL) != 0 ||
	    sh("bash '%s' issue --dir ca --name acme --role partner --out acme", CA_TOOL) != 0 ||
	    sh("bash '%s' issue --dir ca --name mallory --role partner --out mallory", CA_TOOL) !=
	            0 ||
	    sh("bash '%s' issue --dir ca --name coord.example --role coordinator --out coord",
	       CA_TOOL) != 0 ||
	    sh("bash '%s' issue --dir ca --name gone --role partner --out gone", CA_TOOL) != 0 ||
	    sh("bash '%s' revoke --dir ca --cert gone.crt --reason keyCompromise", CA_TOOL) != 0 ||
	    sh("bash '%s' init --dir other", CA_TOOL) != 0 ||
	    sh("bash '%s' issue --dir other --name acme --role partner --out other-acme",
	       CA_TOOL) != 0)
		return -1;
	return 0;
}

static int certs_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static EVP_PKEY *load_key(const char *name)
{
	EVP_PKEY *k;
	FILE *f;

	assert_non_null(f = fopen(P(name), "r"));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

/* The DER of a PEM certificate file, malloc'ed. */
static uint8_t *load_der(const char *name, size_t *len)
{
	uint8_t *der = NULL;
	X509 *x;
	FILE *f;
	int n;

	assert_non_null(f = fopen(P(name), "r"));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	assert_true((n = i2d_X509(x, &der)) > 0);
	X509_free(x);
	*len = (size_t)n;
	return der;
}

struct advert {
	uint8_t c_pub[FL_SA_KEY_LEN], s_pub[FL_SA_KEY_LEN];
	uint8_t *sig;
	size_t sig_len;
};

static void advert_make(const char *keyfile, const char *identity, struct advert *a)
{
	EVP_PKEY *k = load_key(keyfile);

	for (int i = 0; i < FL_SA_KEY_LEN; i++) {
		a->c_pub[i] = (uint8_t)(0x10 + i);
		a->s_pub[i] = (uint8_t)(0xa0 + i);
	}
	if (fl_sa_sign_keys(k, "fed-1", 42, identity, a->c_pub, a->s_pub, &a->sig, &a->sig_len) !=
	    0)
		fail_msg("sign: %s", fl_errmsg());
	EVP_PKEY_free(k);
}

static int verify(X509_STORE *st, const char *crt, const char *identity, const struct advert *a)
{
	size_t len;
	uint8_t *der = load_der(crt, &len);
	int r = fl_sa_verify_keys(st, der, len, "fed-1", 42, identity, a->c_pub, a->s_pub, a->sig,
	                          a->sig_len);

	OPENSSL_free(der);
	return r;
}

static void test_keys_sign_verify(void **state)
{
	X509_STORE *st = NULL;
	struct advert a;
	size_t len;
	uint8_t *der;

	(void)state;
	assert_int_equal(fl_sa_store_load(P("ca/ca.crt"), P("ca/crl.pem"), &st), 0);
	advert_make("acme.key", "acme", &a);
	assert_int_equal(verify(st, "acme.crt", "acme", &a), 0);
	/* Another round, federation or key: the signature is over them. */
	der = load_der("acme.crt", &len);
	assert_int_equal(fl_sa_verify_keys(st, der, len, "fed-1", 43, "acme", a.c_pub, a.s_pub,
	                                   a.sig, a.sig_len),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: signature does not verify");
	assert_int_equal(fl_sa_verify_keys(st, der, len, "fed-2", 42, "acme", a.c_pub, a.s_pub,
	                                   a.sig, a.sig_len),
	                 FL_ERR_AUTH);
	a.s_pub[5] ^= 1;
	assert_int_equal(verify(st, "acme.crt", "acme", &a), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: signature does not verify");
	a.s_pub[5] ^= 1;
	a.c_pub[31] ^= 0x40;
	assert_int_equal(verify(st, "acme.crt", "acme", &a), FL_ERR_AUTH);
	a.c_pub[31] ^= 0x40;
	/* Swapping c and s keys is another message too. */
	{
		struct advert b = a;

		memcpy(b.c_pub, a.s_pub, FL_SA_KEY_LEN);
		memcpy(b.s_pub, a.c_pub, FL_SA_KEY_LEN);
		assert_int_equal(verify(st, "acme.crt", "acme", &b), FL_ERR_AUTH);
	}
	a.sig[a.sig_len / 2] ^= 0x01;
	assert_int_equal(verify(st, "acme.crt", "acme", &a), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: signature does not verify");
	a.sig[a.sig_len / 2] ^= 0x01;
	assert_int_equal(
	        fl_sa_verify_keys(st, der, len, "fed-1", 42, "acme", a.c_pub, a.s_pub, a.sig, 0),
	        FL_ERR_AUTH);
	/* Garbage and trailing bytes are not a certificate. */
	assert_int_equal(fl_sa_verify_keys(st, der, len - 1, "fed-1", 42, "acme", a.c_pub, a.s_pub,
	                                   a.sig, a.sig_len),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: certificate is not DER X.509");
	{
		uint8_t *longer = malloc(len + 1);

		assert_non_null(longer);
		memcpy(longer, der, len);
		longer[len] = 0;
		assert_int_equal(fl_sa_verify_keys(st, longer, len + 1, "fed-1", 42, "acme",
		                                   a.c_pub, a.s_pub, a.sig, a.sig_len),
		                 FL_ERR_AUTH);
		assert_string_equal(fl_errmsg(),
		                    "key advertisement of acme: certificate is not DER X.509");
		free(longer);
	}
	assert_int_equal(verify(st, "acme.crt", "acme", &a), 0);
	OPENSSL_free(der);
	free(a.sig);
	X509_STORE_free(st);
}

static void test_keys_refused(void **state)
{
	X509_STORE *st = NULL;
	struct advert a, m, o, c, g;

	(void)state;
	assert_int_equal(fl_sa_store_load(P("ca/ca.crt"), P("ca/crl.pem"), &st), 0);
	/* mallory signs keys as acme, with her own certificate. */
	advert_make("mallory.key", "acme", &m);
	assert_int_equal(verify(st, "mallory.crt", "acme", &m), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "key advertisement of acme: certificate belongs to \"mallory\"");
	/* A certificate named acme by another CA. */
	advert_make("other-acme.key", "acme", &o);
	assert_int_equal(verify(st, "other-acme.crt", "acme", &o), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: certificate is not trusted: "
	                                 "unable to get local issuer certificate");
	/* acme's certificate with a signature by another key. */
	assert_int_equal(verify(st, "acme.crt", "acme", &o), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: signature does not verify");
	/* The coordinator's certificate is not a partner's. */
	advert_make("coord.key", "coord.example", &c);
	assert_int_equal(verify(st, "coord.crt", "coord.example", &c), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of coord.example: certificate is not "
	                                 "trusted: unsuitable certificate purpose");
	/* A revoked partner. */
	advert_make("gone.key", "gone", &g);
	assert_int_equal(verify(st, "gone.crt", "gone", &g), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of gone: certificate is not trusted: "
	                                 "certificate revoked");
	/* An identity that is not a name is not echoed. */
	advert_make("acme.key", "acme", &a);
	assert_int_equal(verify(st, "acme.crt", "../acme", &a), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "key advertisement: identity is not a usable name");
	free(a.sig);
	free(m.sig);
	free(o.sig);
	free(c.sig);
	free(g.sig);
	X509_STORE_free(st);
	/* Without the CRL the revoked certificate passes: the store decides. */
	assert_int_equal(fl_sa_store_load(P("ca/ca.crt"), NULL, &st), 0);
	advert_make("gone.key", "gone", &g);
	assert_int_equal(verify(st, "gone.crt", "gone", &g), 0);
	free(g.sig);
	X509_STORE_free(st);
}

static void test_keys_openssl_verifies(void **state)
{
	/* The signed message as the header documents it, built here by hand,
	 * verified by the openssl command with acme's public key. */
	struct advert a;
	uint8_t msg[512];
	size_t n = 0;
	FILE *f;
	const char *fields[] = {"fedlead-secagg-keys-v1", "fed-1"};

	(void)state;
	advert_make("acme.key", "acme", &a);
#define PUT32(v)                                                                                   \
	do {                                                                                       \
		msg[n++] = 0;                                                                      \
		msg[n++] = 0;                                                                      \
		msg[n++] = 0;                                                                      \
		msg[n++] = (uint8_t)(v);                                                           \
	} while (0)
	for (int i = 0; i < 2; i++) {
		PUT32(strlen(fields[i]));
		memcpy(msg + n, fields[i], strlen(fields[i]));
		n += strlen(fields[i]);
	}
	PUT32(8);
	for (int i = 0; i < 7; i++)
		msg[n++] = 0;
	msg[n++] = 42;
	PUT32(4);
	memcpy(msg + n, "acme", 4);
	n += 4;
	PUT32(32);
	memcpy(msg + n, a.c_pub, 32);
	n += 32;
	PUT32(32);
	memcpy(msg + n, a.s_pub, 32);
	n += 32;
#undef PUT32
	assert_non_null(f = fopen(P("msg.bin"), "wb"));
	assert_int_equal(fwrite(msg, 1, n, f), n);
	fclose(f);
	assert_non_null(f = fopen(P("msg.sig"), "wb"));
	assert_int_equal(fwrite(a.sig, 1, a.sig_len, f), a.sig_len);
	fclose(f);
	assert_int_equal(sh("openssl x509 -in acme.crt -pubkey -noout > acme.pub && "
	                    "openssl dgst -sha256 -verify acme.pub -signature msg.sig msg.bin"),
	                 0);
	/* And a changed byte fails there too. */
	msg[n - 1] ^= 1;
	assert_non_null(f = fopen(P("msg.bin"), "wb"));
	assert_int_equal(fwrite(msg, 1, n, f), n);
	fclose(f);
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd),
		         "cd '%s' && openssl dgst -sha256 -verify acme.pub -signature msg.sig "
		         "msg.bin >/dev/null 2>&1",
		         dir);
		assert_int_not_equal(system(cmd), 0);
	}
	free(a.sig);
}

static void test_store_load_errors(void **state)
{
	X509_STORE *st = (X509_STORE *)1;
	char want[512];

	(void)state;
	assert_int_equal(fl_sa_store_load(P("nonexistent.crt"), NULL, &st), FL_ERR_CONFIG);
	assert_null(st);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory",
	         P("nonexistent.crt"));
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(fl_sa_store_load(P("log"), NULL, &st), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: no CA certificate in the file", P("log"));
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(fl_sa_store_load(P("ca/ca.crt"), P("ca/ca.crt"), &st), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: no CRL in the file", P("ca/ca.crt"));
	assert_string_equal(fl_errmsg(), want);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
	        cmocka_unit_test(test_gf_known),
	        cmocka_unit_test(test_gf_all),
	        cmocka_unit_test(test_shamir_5_3),
	        cmocka_unit_test(test_shamir_any_t_of_n),
	        cmocka_unit_test(test_shamir_255),
	        cmocka_unit_test(test_shamir_known),
	        cmocka_unit_test(test_shamir_errors),
	        cmocka_unit_test(test_mask_golden_first8),
	        cmocka_unit_test(test_mask_golden_long),
	        cmocka_unit_test(test_mask_cancels_and_errors),
	        cmocka_unit_test(test_x25519_rfc7748),
	        cmocka_unit_test(test_agree_golden),
	        cmocka_unit_test(test_agree_binds_context),
	        cmocka_unit_test(test_agree_errors),
	        cmocka_unit_test(test_fixed_bound),
	        cmocka_unit_test(test_fixed_at_bound),
	        cmocka_unit_test(test_fixed_rounding_and_wrap),
	        cmocka_unit_test(test_fixed_invalid),
	        cmocka_unit_test(test_open_rfc8439),
	        cmocka_unit_test(test_seal_round_trip_and_tamper),
	        cmocka_unit_test(test_masks_cancel),
	};
	const struct CMUnitTest certs[] = {
	        cmocka_unit_test(test_keys_sign_verify),
	        cmocka_unit_test(test_keys_refused),
	        cmocka_unit_test(test_keys_openssl_verifies),
	        cmocka_unit_test(test_store_load_errors),
	};
	int r = cmocka_run_group_tests_name("secagg", pure, NULL, NULL);

	return r + cmocka_run_group_tests_name("secagg_keys", certs, certs_setup, certs_teardown);
}
