/*
 * The cryptographic core of secure aggregation; see include/fedlead/secagg.h.
 *
 * Everything but Shamir sharing is OpenSSL 3's EVP API. Shamir sharing is
 * here because OpenSSL has none; its GF(256) arithmetic is written to run
 * in constant time, since the bytes it multiplies are secrets (seeds and
 * X25519 secret keys): no lookup tables indexed by them and no branches on
 * them, only shifts, xors and masks.
 *
 * Like src/sign.c, this module links libcrypto only, so the few lines that
 * read a certificate's identity are its own; they follow the rules of
 * fl_tls_peer_identity() in src/tls.c.
 */
#include "fedlead/masks.h"

#include <errno.h>
#include <math.h> /* isfinite(), a macro: no libm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/shamir_int.h"
#include "fedlead/bytes.h"
#include "fedlead/certs.h"
#include "fedlead/error.h"

#define HKDF_SALT "fedlead-secagg-v1"
#define KEYS_CONTEXT "fedlead-secagg-keys-v1"
#define DIGEST_CONTEXT "fedlead-secagg-digest-v1"
#define MAX_IDENTITY FL_CERT_MAX_IDENTITY
/* Keystream buffer of fl_sa_mask(): large enough that OpenSSL's wide
 * ChaCha20 code runs at full speed, small enough to stay in L2. */
#define MASK_CHUNK (64u * 1024)
/* be32 length prefixes: the HKDF info and the signed advertisement hold
 * at most five fields, each at most FL_SA_MAX_NAME bytes. */
#define MAX_ENCODED (6 * (4 + FL_SA_MAX_NAME))

/* ---- Fixed point -------------------------------------------------------- */

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

/* ---- GF(256) and Shamir ------------------------------------------------- */

uint8_t fl_sa_gf_mul(uint8_t a, uint8_t b)
{
	unsigned p = 0, x = a, y = b;

	/* Shift-and-add over the bits of b; masks stand in for branches:
	 * 0u - bit is all ones when the bit is set, zero otherwise. */
	for (int i = 0; i < 8; i++) {
		p ^= x & (0u - (y & 1u));
		y >>= 1;
		x <<= 1;
		/* x * X overflowed degree 7: reduce by x^8 + x^4 + x^3 + x + 1. */
		x ^= 0x11Bu & (0u - (x >> 8));
	}
	return (uint8_t)p;
}

uint8_t fl_sa_gf_inv(uint8_t a)
{
	/* a^254 = a^-1 for a != 0 (the multiplicative group has order 255)
	 * and 0 for a = 0. Square-and-multiply; the branches are on the bits
	 * of the public exponent only. */
	uint8_t r = 1, b = a;

	for (unsigned e = 254; e != 0; e >>= 1) {
		if (e & 1u)
			r = fl_sa_gf_mul(r, b);
		b = fl_sa_gf_mul(b, b);
	}
	return r;
}

int fl_shamir_split(const uint8_t *secret, size_t len, unsigned t, unsigned n, uint8_t *shares)
{
	/* coef[0] is the secret byte, coef[1..t-1] random. */
	uint8_t coef[FL_SA_MAX_PARTIES];
	int r = FL_ERR_INTERNAL;

	if (t < 1 || t > n || n > FL_SA_MAX_PARTIES) {
		r = fl_fail(FL_ERR_INVALID,
		            "Shamir: threshold %u of %u shares, expected 1 <= t <= n <= %d", t, n,
		            FL_SA_MAX_PARTIES);
		goto out;
	}
	if (len > 0 && (secret == NULL || shares == NULL)) {
		r = fl_fail(FL_ERR_INVALID, "Shamir: no secret or share buffer");
		goto out;
	}
	if (len > SIZE_MAX / n) {
		r = fl_fail(FL_ERR_LIMIT, "Shamir: %u shares of %zu bytes overflow", n, len);
		goto out;
	}
	for (size_t j = 0; j < len; j++) {
		coef[0] = secret[j];
		if (t > 1 && RAND_bytes(coef + 1, (int)(t - 1)) != 1) {
			ERR_clear_error();
			memset(shares, 0, (size_t)n * len);
			r = fl_fail(FL_ERR_CRYPTO, "Shamir: the random generator failed");
			goto out;
		}
		for (unsigned i = 0; i < n; i++) {
			uint8_t x = (uint8_t)(i + 1), y = coef[t - 1];

			/* Horner: ((c_{t-1} x + c_{t-2}) x + ...) x + c_0. */
			for (unsigned k = t - 1; k-- > 0;)
				y = fl_sa_gf_mul(y, x) ^ coef[k];
			shares[(size_t)i * len + j] = y;
		}
	}
	r = 0;
out:
	OPENSSL_cleanse(coef, sizeof(coef));
	return r;
}

int fl_shamir_combine(const uint8_t *shares, const uint8_t *xs, unsigned k, size_t len,
                      uint8_t *secret)
{
	/* basis[j]: the Lagrange basis polynomial of share j at 0,
	 * prod_{m != j} x_m / (x_m - x_j); subtraction is xor in GF(2^8).
	 * It depends on the public xs only. */
	uint8_t basis[FL_SA_MAX_PARTIES];
	unsigned seen[256];
	int r = FL_ERR_INTERNAL;

	if (k == 0 || k > FL_SA_MAX_PARTIES) {
		r = fl_fail(FL_ERR_INVALID, "Shamir: %u shares to combine, expected 1 to %d", k,
		            FL_SA_MAX_PARTIES);
		goto out;
	}
	if (xs == NULL || (len > 0 && (shares == NULL || secret == NULL))) {
		r = fl_fail(FL_ERR_INVALID, "Shamir: no shares, x values or secret buffer");
		goto out;
	}
	/* Two shares at one x would divide by zero below; x = 0 is the secret
	 * itself, never a share. */
	memset(seen, 0, sizeof(seen));
	for (unsigned j = 0; j < k; j++) {
		if (xs[j] == 0) {
			r = fl_fail(FL_ERR_INVALID, "Shamir share %u is at x = 0", j + 1);
			goto out;
		}
		if (seen[xs[j]] != 0) {
			r = fl_fail(FL_ERR_INVALID, "Shamir shares %u and %u are both at x = %u",
			            seen[xs[j]], j + 1, xs[j]);
			goto out;
		}
		seen[xs[j]] = j + 1;
	}
	for (unsigned j = 0; j < k; j++) {
		uint8_t num = 1, den = 1;

		for (unsigned m = 0; m < k; m++) {
			if (m == j)
				continue;
			num = fl_sa_gf_mul(num, xs[m]);
			den = fl_sa_gf_mul(den, xs[m] ^ xs[j]);
		}
		basis[j] = fl_sa_gf_mul(num, fl_sa_gf_inv(den));
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t s = 0;

		for (unsigned j = 0; j < k; j++)
			s ^= fl_sa_gf_mul(basis[j], shares[(size_t)j * len + i]);
		secret[i] = s;
	}
	r = 0;
out:
	return r;
}

/* ---- X25519 ------------------------------------------------------------- */

/* The raw pair of pkey into *kp. */
static int raw_pair(EVP_PKEY *pkey, struct fl_sa_keypair *kp)
{
	size_t plen = FL_SA_KEY_LEN, slen = FL_SA_KEY_LEN;

	if (EVP_PKEY_get_raw_public_key(pkey, kp->pub, &plen) != 1 ||
	    EVP_PKEY_get_raw_private_key(pkey, kp->sec, &slen) != 1 || plen != FL_SA_KEY_LEN ||
	    slen != FL_SA_KEY_LEN)
		return FL_ERR_CRYPTO;
	return 0;
}

int fl_sa_keypair_new(struct fl_sa_keypair *kp)
{
	EVP_PKEY *pkey = NULL;
	int r = FL_ERR_INTERNAL;

	OPENSSL_cleanse(kp, sizeof(*kp));
	ERR_clear_error();
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) == NULL || raw_pair(pkey, kp) != 0) {
		ERR_clear_error();
		OPENSSL_cleanse(kp, sizeof(*kp));
		r = fl_fail(FL_ERR_CRYPTO, "cannot make an X25519 key pair");
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(pkey); /* wipes its copy of the secret */
	return r;
}

int fl_sa_keypair_from_secret(const uint8_t sec[FL_SA_KEY_LEN], struct fl_sa_keypair *kp)
{
	EVP_PKEY *pkey = NULL;
	int r = FL_ERR_INTERNAL;

	/* sec may be kp->sec: copy it out before kp is wiped. */
	ERR_clear_error();
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sec, FL_SA_KEY_LEN);
	OPENSSL_cleanse(kp, sizeof(*kp));
	if (pkey == NULL || raw_pair(pkey, kp) != 0) {
		ERR_clear_error();
		OPENSSL_cleanse(kp, sizeof(*kp));
		r = fl_fail(FL_ERR_CRYPTO, "cannot use an X25519 secret key");
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(pkey);
	return r;
}

void fl_sa_keypair_clear(struct fl_sa_keypair *kp)
{
	if (kp != NULL)
		OPENSSL_cleanse(kp, sizeof(*kp));
}

int fl_sa_seed_new(uint8_t seed[FL_SA_KEY_LEN])
{
	if (RAND_bytes(seed, FL_SA_KEY_LEN) != 1) {
		ERR_clear_error();
		OPENSSL_cleanse(seed, FL_SA_KEY_LEN);
		return fl_fail(FL_ERR_CRYPTO, "the random generator failed");
	}
	return 0;
}

/* ---- Length-prefixed encodings ------------------------------------------ */

struct enc {
	uint8_t buf[MAX_ENCODED];
	size_t len;
};

static void put_be32(struct enc *e, uint32_t v)
{
	fl_put_be32(e->buf + e->len, v);
	e->len += 4;
}

static void put_be64(struct enc *e, uint64_t v)
{
	fl_put_be64(e->buf + e->len, v);
	e->len += 8;
}

/* be32(len) then the bytes; callers have bounded len by FL_SA_MAX_NAME. */
static void put_field(struct enc *e, const void *p, size_t len)
{
	put_be32(e, (uint32_t)len);
	memcpy(e->buf + e->len, p, len);
	e->len += len;
}

/* 1 when s is a string of 1 to FL_SA_MAX_NAME bytes. */
static int name_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strnlen(s, FL_SA_MAX_NAME + 1) <= FL_SA_MAX_NAME;
}

/* ---- Key agreement ------------------------------------------------------ */

static int hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len,
                       uint8_t out[FL_SA_KEY_LEN])
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5];
	int r = FL_ERR_CRYPTO;

	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, HKDF_SALT,
	                                              sizeof(HKDF_SALT) - 1);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, FL_SA_KEY_LEN, params) != 1)
		goto out;
	r = 0;
out:
	EVP_KDF_CTX_free(kctx); /* wipes its copy of the key */
	EVP_KDF_free(kdf);
	return r;
}

int fl_sa_agree(const uint8_t sec[FL_SA_KEY_LEN], const uint8_t peer_pub[FL_SA_KEY_LEN],
                const char *label, const char *federation_id, uint64_t round, const char *id_a,
                const char *id_b, uint8_t key[FL_SA_KEY_LEN])
{
	static const uint8_t zero[FL_SA_KEY_LEN];
	uint8_t shared[FL_SA_KEY_LEN];
	size_t shared_len = sizeof(shared);
	EVP_PKEY *mine = NULL, *peer = NULL;
	EVP_PKEY_CTX *dctx = NULL;
	struct enc info = {.len = 0};
	const char *lo, *hi;
	int cmp, r = FL_ERR_INTERNAL;

	OPENSSL_cleanse(key, FL_SA_KEY_LEN);
	OPENSSL_cleanse(shared, sizeof(shared));
	if (!name_ok(label) || !name_ok(federation_id) || !name_ok(id_a) || !name_ok(id_b)) {
		r = fl_fail(FL_ERR_INVALID,
		            "key agreement: label, federation id and identities must be 1 to %d "
		            "bytes",
		            FL_SA_MAX_NAME);
		goto out;
	}
	if ((cmp = strcmp(id_a, id_b)) == 0) {
		r = fl_fail(FL_ERR_INVALID, "key agreement: both sides are \"%s\"", id_a);
		goto out;
	}
	lo = cmp < 0 ? id_a : id_b;
	hi = cmp < 0 ? id_b : id_a;
	ERR_clear_error();
	if ((mine = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sec, FL_SA_KEY_LEN)) ==
	            NULL ||
	    (peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, FL_SA_KEY_LEN)) ==
	            NULL ||
	    (dctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL)) == NULL ||
	    EVP_PKEY_derive_init(dctx) != 1) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_CRYPTO, "key agreement: cannot set up X25519");
		goto out;
	}
	/* OpenSSL's X25519 itself refuses an all-zero result (RFC 7748
	 * section 6.1: the peer sent a small-order point, and the "shared"
	 * secret would be known to everyone); the memcmp is a second check
	 * that does not rely on that. */
	if (EVP_PKEY_derive_set_peer(dctx, peer) != 1 ||
	    EVP_PKEY_derive(dctx, shared, &shared_len) != 1 || shared_len != sizeof(shared) ||
	    CRYPTO_memcmp(shared, zero, sizeof(shared)) == 0) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_AUTH, "key agreement with the peer's public key failed (a "
		                         "small-order point?)");
		goto out;
	}
	put_field(&info, label, strlen(label));
	put_field(&info, federation_id, strlen(federation_id));
	put_be64(&info, round);
	put_field(&info, lo, strlen(lo));
	put_field(&info, hi, strlen(hi));
	if (hkdf_sha256(shared, sizeof(shared), info.buf, info.len, key) != 0) {
		ERR_clear_error();
		OPENSSL_cleanse(key, FL_SA_KEY_LEN);
		r = fl_fail(FL_ERR_CRYPTO, "key agreement: HKDF-SHA256 failed");
		goto out;
	}
	r = 0;
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(mine);
	return r;
}

int fl_sa_pair_sign(const char *self, const char *peer)
{
	int c = strcmp(self, peer);

	return c < 0 ? 1 : c > 0 ? -1 : 0;
}

/* ---- PRG masks ---------------------------------------------------------- */

int fl_sa_mask(const uint8_t seed[FL_SA_KEY_LEN], int sign, uint64_t *v, size_t n)
{
	/* OpenSSL's ChaCha20 IV: 4-byte little-endian block counter, then
	 * the 12-byte nonce; all zero. */
	static const uint8_t iv[16];
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *ks = NULL;
	int r = FL_ERR_INTERNAL;

	if (sign != 1 && sign != -1) {
		r = fl_fail(FL_ERR_INVALID, "mask: sign %d, expected +1 or -1", sign);
		goto out;
	}
	if (n > FL_SA_MAX_MASK_LEN) {
		r = fl_fail(FL_ERR_LIMIT, "mask: %zu elements, the limit is %zu", n,
		            FL_SA_MAX_MASK_LEN);
		goto out;
	}
	if (n == 0) {
		r = 0;
		goto out;
	}
	if (v == NULL) {
		r = fl_fail(FL_ERR_INVALID, "mask: no vector");
		goto out;
	}
	if ((ks = malloc(MASK_CHUNK)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	ERR_clear_error();
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_chacha20(), NULL, seed, iv) != 1) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_CRYPTO, "mask: cannot set up ChaCha20");
		goto out;
	}
	for (size_t done = 0; done < n;) {
		size_t m = n - done < MASK_CHUNK / 8 ? n - done : MASK_CHUNK / 8;
		uint64_t *p = v + done;
		int outl = 0;

		/* The keystream is ChaCha20 of zeros, in place. */
		memset(ks, 0, m * 8);
		if (EVP_EncryptUpdate(ctx, ks, &outl, ks, (int)(m * 8)) != 1 ||
		    (size_t)outl != m * 8) {
			ERR_clear_error();
			r = fl_fail(FL_ERR_CRYPTO, "mask: ChaCha20 failed");
			goto out;
		}
		/* Two loops rather than a multiply by sign, so each one
		 * vectorises as a plain add or subtract. */
		if (sign > 0)
			for (size_t i = 0; i < m; i++)
				p[i] += fl_get_le64(ks + 8 * i);
		else
			for (size_t i = 0; i < m; i++)
				p[i] -= fl_get_le64(ks + 8 * i);
		done += m;
	}
	r = 0;
out:
	if (ks != NULL)
		OPENSSL_cleanse(ks, MASK_CHUNK);
	free(ks);
	EVP_CIPHER_CTX_free(ctx); /* wipes the key schedule */
	return r;
}

/* ---- Sealing ------------------------------------------------------------ */

int fl_sa_seal(const uint8_t key[FL_SA_KEY_LEN], const uint8_t *aad, size_t aad_len,
               const uint8_t *pt, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tail[16]; /* a stream cipher's Final writes nothing */
	int outl = 0, fin = 0, r = FL_ERR_INTERNAL;

	if (len > FL_SA_MAX_SEAL || aad_len > FL_SA_MAX_SEAL) {
		r = fl_fail(FL_ERR_LIMIT, "seal: %zu bytes with %zu of aad, the limit is %u", len,
		            aad_len, FL_SA_MAX_SEAL);
		goto out;
	}
	if (out == NULL || (len > 0 && pt == NULL) || (aad_len > 0 && aad == NULL)) {
		r = fl_fail(FL_ERR_INVALID, "seal: no input or output buffer");
		goto out;
	}
	ERR_clear_error();
	/* A random 96-bit nonce per message: keys are per pair and round and
	 * seal a handful of messages, far from the birthday bound. */
	if (RAND_bytes(out, FL_SA_NONCE_LEN) != 1 || (ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, out) != 1 ||
	    (aad_len > 0 && EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1) ||
	    (len > 0 && EVP_EncryptUpdate(ctx, out + FL_SA_NONCE_LEN, &outl, pt, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(ctx, tail, &fin) != 1 || fin != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, FL_SA_TAG_LEN,
	                        out + FL_SA_NONCE_LEN + len) != 1) {
		ERR_clear_error();
		OPENSSL_cleanse(out, len + FL_SA_SEAL_OVERHEAD);
		r = fl_fail(FL_ERR_CRYPTO, "seal: ChaCha20-Poly1305 failed");
		goto out;
	}
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int fl_sa_open(const uint8_t key[FL_SA_KEY_LEN], const uint8_t *aad, size_t aad_len,
               const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tail[16]; /* a stream cipher's Final writes nothing */
	size_t len = 0;
	int outl = 0, fin = 0, r = FL_ERR_INTERNAL;

	/* Every way of failing reads the same: a forger learns nothing from
	 * which check stopped it. */
	if (ct == NULL || ct_len < FL_SA_SEAL_OVERHEAD ||
	    ct_len - FL_SA_SEAL_OVERHEAD > FL_SA_MAX_SEAL || aad_len > FL_SA_MAX_SEAL ||
	    (aad_len > 0 && aad == NULL))
		goto fail;
	len = ct_len - FL_SA_SEAL_OVERHEAD;
	if (len > 0 && pt == NULL)
		goto fail;
	ERR_clear_error();
	/* The tag is cast away from const only because the ctrl takes a void
	 * pointer; OpenSSL copies it. */
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, ct) != 1 ||
	    (aad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1) ||
	    (len > 0 && EVP_DecryptUpdate(ctx, pt, &outl, ct + FL_SA_NONCE_LEN, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, FL_SA_TAG_LEN,
	                        (void *)(ct + FL_SA_NONCE_LEN + len)) != 1 ||
	    EVP_DecryptFinal_ex(ctx, tail, &fin) != 1 || fin != 0)
		goto fail;
	r = 0;
	goto out;
fail:
	ERR_clear_error();
	if (pt != NULL && len > 0)
		OPENSSL_cleanse(pt, len);
	r = fl_fail(FL_ERR_AUTH, "share does not authenticate");
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/* ---- Signed key advertisements ------------------------------------------ */

static void keys_message(struct enc *e, const char *federation_id, uint64_t round,
                         const char *identity, const uint8_t c_pub[FL_SA_KEY_LEN],
                         const uint8_t s_pub[FL_SA_KEY_LEN])
{
	uint8_t r8[8];

	e->len = 0;
	for (int i = 0; i < 8; i++)
		r8[i] = (uint8_t)(round >> (56 - 8 * i));
	put_field(e, KEYS_CONTEXT, sizeof(KEYS_CONTEXT) - 1);
	put_field(e, federation_id, strlen(federation_id));
	put_field(e, r8, sizeof(r8));
	put_field(e, identity, strlen(identity));
	put_field(e, c_pub, FL_SA_KEY_LEN);
	put_field(e, s_pub, FL_SA_KEY_LEN);
}

/* EdDSA hashes the message itself and takes no digest. */
static int is_eddsa(const EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448");
}

int fl_sa_sign_keys(EVP_PKEY *key, const char *federation_id, uint64_t round, const char *identity,
                    const uint8_t c_pub[FL_SA_KEY_LEN], const uint8_t s_pub[FL_SA_KEY_LEN],
                    uint8_t **sig, size_t *sig_len)
{
	struct enc msg;
	EVP_MD_CTX *md = NULL;
	uint8_t *s = NULL;
	size_t slen = 0;
	int r = FL_ERR_INTERNAL;

	if (sig != NULL)
		*sig = NULL;
	if (sig_len != NULL)
		*sig_len = 0;
	if (key == NULL || sig == NULL || sig_len == NULL || c_pub == NULL || s_pub == NULL) {
		r = fl_fail(FL_ERR_INVALID, "key advertisement: no key or output");
		goto out;
	}
	if (!name_ok(federation_id) || !name_ok(identity)) {
		r = fl_fail(FL_ERR_INVALID,
		            "key advertisement: federation id and identity must be 1 to %d bytes",
		            FL_SA_MAX_NAME);
		goto out;
	}
	keys_message(&msg, federation_id, round, identity, c_pub, s_pub);
	ERR_clear_error();
	/* One-shot EVP_DigestSign: the only form EdDSA supports. */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, is_eddsa(key) ? NULL : EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &slen, msg.buf, msg.len) != 1 || (s = malloc(slen)) == NULL ||
	    EVP_DigestSign(md, s, &slen, msg.buf, msg.len) != 1) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_CRYPTO, "key advertisement of %s: cannot sign with the key",
		            identity);
		goto out;
	}
	*sig = s;
	*sig_len = slen;
	s = NULL;
	r = 0;
out:
	free(s);
	EVP_MD_CTX_free(md);
	return r;
}

/* The certificate's identity (fl_cert_identity); 0 or -1. */
static int cert_identity(X509 *cert, char buf[MAX_IDENTITY + 1])
{
	return fl_cert_identity(cert, buf, MAX_IDENTITY + 1) == 0 ? 0 : -1;
}

/*
 * Parses and checks a partner's certificate for a signature by `what` of
 * identity (see fl_sa_verify_keys()); *cert is for X509_free().
 */
static int partner_cert(X509_STORE *store, const uint8_t *cert_der, size_t cert_len,
                        const char *identity, const char *what, X509 **cert)
{
	char owner[MAX_IDENTITY + 1];
	const unsigned char *p = cert_der;
	X509_STORE_CTX *sctx = NULL;
	int r = FL_ERR_INTERNAL;

	*cert = NULL;
	ERR_clear_error();
	/* Bounded before OpenSSL parses (and allocates for) it; the whole
	 * buffer must be the one certificate. */
	if (cert_der == NULL || cert_len == 0 || cert_len > FL_SA_MAX_CERT ||
	    (*cert = d2i_X509(NULL, &p, (long)cert_len)) == NULL || p != cert_der + cert_len) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_AUTH, "%s of %s: certificate is not DER X.509", what, identity);
		goto out;
	}
	if ((sctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sctx, store, *cert, NULL) != 1) {
		ERR_clear_error();
		r = FL_ERR_NOMEM;
		goto out;
	}
	/* Only partners sign these: a coordinator's certificate (also of
	 * this CA) must not pass for a partner's. */
	X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(sctx) != 1) {
		int e = X509_STORE_CTX_get_error(sctx);

		ERR_clear_error();
		r = fl_fail(FL_ERR_AUTH, "%s of %s: certificate is not trusted: %s", what, identity,
		            X509_verify_cert_error_string(e));
		goto out;
	}
	if (cert_identity(*cert, owner) != 0) {
		r = fl_fail(FL_ERR_AUTH, "%s of %s: certificate has an unusable identity", what,
		            identity);
		goto out;
	}
	if (strcmp(owner, identity) != 0) {
		r = fl_fail(FL_ERR_AUTH, "%s of %s: certificate belongs to \"%s\"", what, identity,
		            owner);
		goto out;
	}
	if (X509_get0_pubkey(*cert) == NULL) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_AUTH, "%s of %s: certificate has no usable key", what, identity);
		goto out;
	}
	r = 0;
out:
	X509_STORE_CTX_free(sctx);
	if (r != 0) {
		X509_free(*cert);
		*cert = NULL;
	}
	return r;
}

static int verify_with(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t *sig,
                       size_t sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	if (md == NULL)
		return FL_ERR_NOMEM;
	ok = sig != NULL && sig_len != 0 &&
	     EVP_DigestVerifyInit(md, NULL, is_eddsa(pub) ? NULL : EVP_sha256(), NULL, pub) == 1 &&
	     EVP_DigestVerify(md, sig, sig_len, msg, len) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	return ok ? 0 : FL_ERR_AUTH;
}

int fl_sa_verify_keys(X509_STORE *store, const uint8_t *cert_der, size_t cert_len,
                      const char *federation_id, uint64_t round, const char *identity,
                      const uint8_t c_pub[FL_SA_KEY_LEN], const uint8_t s_pub[FL_SA_KEY_LEN],
                      const uint8_t *sig, size_t sig_len)
{
	X509 *cert = NULL;
	struct enc msg;
	int r;

	/* The claimed identity comes from the network: check it before it
	 * is put in any message. */
	if (identity == NULL || !fl_cert_identity_valid(identity))
		return fl_fail(FL_ERR_INVALID, "key advertisement: identity is not a usable name");
	if (store == NULL || !name_ok(federation_id) || c_pub == NULL || s_pub == NULL)
		return fl_fail(FL_ERR_INVALID,
		               "key advertisement of %s: no CA store, federation id or keys",
		               identity);
	if ((r = partner_cert(store, cert_der, cert_len, identity, "key advertisement", &cert)) !=
	    0)
		return r;
	keys_message(&msg, federation_id, round, identity, c_pub, s_pub);
	r = verify_with(X509_get0_pubkey(cert), msg.buf, msg.len, sig, sig_len);
	if (r == FL_ERR_AUTH)
		r = fl_fail(FL_ERR_AUTH, "key advertisement of %s: signature does not verify",
		            identity);
	X509_free(cert);
	return r;
}

/* The message of fl_sa_sign_digest(): the label, then the digest. */
static void digest_message(struct enc *e, const char *label, const uint8_t digest[FL_SA_KEY_LEN])
{
	e->len = 0;
	put_field(e, DIGEST_CONTEXT, sizeof(DIGEST_CONTEXT) - 1);
	put_field(e, label, strlen(label));
	put_field(e, digest, FL_SA_KEY_LEN);
}

int fl_sa_sign_digest(EVP_PKEY *key, const char *label, const uint8_t digest[FL_SA_KEY_LEN],
                      uint8_t **sig, size_t *sig_len)
{
	struct enc msg;
	EVP_MD_CTX *md = NULL;
	uint8_t *s = NULL;
	size_t slen = 0;
	int r;

	*sig = NULL;
	*sig_len = 0;
	if (key == NULL || !name_ok(label))
		return fl_fail(FL_ERR_INVALID, "signature: no key or label");
	digest_message(&msg, label, digest);
	ERR_clear_error();
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, is_eddsa(key) ? NULL : EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &slen, msg.buf, msg.len) != 1 || (s = malloc(slen)) == NULL ||
	    EVP_DigestSign(md, s, &slen, msg.buf, msg.len) != 1) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_CRYPTO, "%s: cannot sign with the key", label);
		free(s);
		EVP_MD_CTX_free(md);
		return r;
	}
	EVP_MD_CTX_free(md);
	*sig = s;
	*sig_len = slen;
	return 0;
}

int fl_sa_verify_digest(X509_STORE *store, const uint8_t *cert_der, size_t cert_len,
                        const char *identity, const char *label,
                        const uint8_t digest[FL_SA_KEY_LEN], const uint8_t *sig, size_t sig_len)
{
	X509 *cert = NULL;
	struct enc msg;
	int r;

	if (identity == NULL || !fl_cert_identity_valid(identity))
		return fl_fail(FL_ERR_INVALID, "%s: identity is not a usable name", label);
	if (store == NULL || !name_ok(label))
		return fl_fail(FL_ERR_INVALID, "signature of %s: no CA store or label", identity);
	if ((r = partner_cert(store, cert_der, cert_len, identity, label, &cert)) != 0)
		return r;
	digest_message(&msg, label, digest);
	r = verify_with(X509_get0_pubkey(cert), msg.buf, msg.len, sig, sig_len);
	if (r == FL_ERR_AUTH)
		r = fl_fail(FL_ERR_AUTH, "%s of %s: signature does not verify", label, identity);
	X509_free(cert);
	return r;
}

int fl_sa_store_load(const char *ca_path, const char *crl_path, X509_STORE **out)
{
	if (out != NULL)
		*out = NULL;
	if (ca_path == NULL || out == NULL)
		return fl_fail(FL_ERR_INVALID, "key advertisements: no CA file");
	return fl_cert_store_load(ca_path, crl_path, FL_CERT_TEXTS_SHORT, out);
}
