/*
 * Tests for src/crypto/masks.c, the cryptographic core of secure
 * aggregation: X25519 keys, key agreement, PRG masks and sealed shares.
 *
 * Expected values never come from the code under test:
 *   - the PRG and key-agreement golden vectors in tests/data/secagg/ were
 *     made by tests/data/secagg/gen.sh with the openssl command alone;
 *   - X25519 and ChaCha20-Poly1305 use the RFC 7748 and RFC 8439 vectors;
 *   - masks are checked to cancel in a sum of fixed-point vectors, with a
 *     dropped partner's secret recovered from Shamir shares.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fedlead/error.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/masks.h"
#include "fedlead/shamir.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mask_golden_first8),
	        cmocka_unit_test(test_mask_golden_long),
	        cmocka_unit_test(test_mask_cancels_and_errors),
	        cmocka_unit_test(test_x25519_rfc7748),
	        cmocka_unit_test(test_agree_golden),
	        cmocka_unit_test(test_agree_binds_context),
	        cmocka_unit_test(test_agree_errors),
	        cmocka_unit_test(test_open_rfc8439),
	        cmocka_unit_test(test_seal_round_trip_and_tamper),
	        cmocka_unit_test(test_masks_cancel),
	};

	return cmocka_run_group_tests_name("secagg", tests, NULL, NULL);
}
