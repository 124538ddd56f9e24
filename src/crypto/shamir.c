/*
 * Shamir secret sharing over GF(256); see include/fedlead/shamir.h.
 *
 * Shamir sharing is fedlead's own code because OpenSSL has none; its
 * GF(256) arithmetic is written to run in constant time, since the bytes
 * it multiplies are secrets (seeds and X25519 secret keys): no lookup
 * tables indexed by them and no branches on them, only shifts, xors and
 * masks. The coefficients come from OpenSSL's RAND_bytes.
 */
#include "fedlead/shamir.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "crypto/shamir_int.h"
#include "fedlead/error.h"

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