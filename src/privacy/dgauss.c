/*
 * Exact discrete Gaussian sampling (Canonne, Kamath, Steinke 2020); see
 * include/fedlead/dgauss.h. Every probability is a ratio of integers and
 * every coin is a uniform integer compared with one: no floating point.
 */
#include "fedlead/dgauss.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "fedlead/error.h"

typedef unsigned __int128 u128;

/* Largest |Y| of a discrete-Laplace proposal the 128-bit arithmetic of the
 * acceptance test holds: |Y| * t < 2^63 for t <= 2^24 + 1. */
#define MAX_PROPOSAL ((uint64_t)1 << 38)

struct fl_dgauss {
	uint64_t sigma2;
	uint64_t t;    /* floor(sigma) + 1, the Laplace scale of the proposals */
	size_t pos;    /* next unread byte of buf */
	uint64_t res;  /* random bits not yet used, the lowest first */
	unsigned nres; /* how many */
	uint8_t buf[4096];
};

static int refill(struct fl_dgauss *g)
{
	if (RAND_priv_bytes(g->buf, sizeof(g->buf)) != 1)
		return fl_fail(FL_ERR_CRYPTO, "the random number generator failed");
	g->pos = 0;
	return 0;
}

/* k (1..128) uniform random bits. */
static int bits(struct fl_dgauss *g, unsigned k, u128 *out)
{
	unsigned nbytes = (k + 7) / 8;
	u128 v = 0;
	int r;

	if (g->pos + nbytes > sizeof(g->buf) && (r = refill(g)) != 0)
		return r;
	for (unsigned i = 0; i < nbytes; i++)
		v |= (u128)g->buf[g->pos + i] << (8 * i);
	/* Used randomness is not left lying in the buffer. */
	memset(g->buf + g->pos, 0, nbytes);
	g->pos += nbytes;
	if (k < 128)
		v &= ((u128)1 << k) - 1;
	*out = v;
	return 0;
}

/* Bits needed for v: by count-leading-zeros, not a shift per bit (the
 * shift loop was most of a sample's time: denominators reach 2^122). */
static unsigned bit_length(u128 v)
{
	uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;

	if (hi != 0)
		return 128 - (unsigned)__builtin_clzll(hi);
	return lo != 0 ? 64 - (unsigned)__builtin_clzll(lo) : 0;
}

/* Uniform on {0, ..., m - 1}, m >= 1, by rejection: exact. */
static int uniform(struct fl_dgauss *g, u128 m, u128 *out)
{
	unsigned k = bit_length(m - 1);
	u128 v;
	int r;

	if (k == 0) {
		*out = 0;
		return 0;
	}
	do {
		if ((r = bits(g, k, &v)) != 0)
			return r;
	} while (v >= m);
	*out = v;
	return 0;
}

/* One uniform random bit, from a 64-bit reservoir. */
static int coin(struct fl_dgauss *g, unsigned *b)
{
	if (g->nres == 0) {
		u128 v;
		int r;

		if ((r = bits(g, 64, &v)) != 0)
			return r;
		g->res = (uint64_t)v;
		g->nres = 64;
	}
	*b = (unsigned)(g->res & 1);
	g->res >>= 1;
	g->nres--;
	return 0;
}

/*
 * Bernoulli(num / den), 0 <= num <= den, den >= 1: exactly,
 * by comparing a uniform U in [0, 1), drawn one binary digit at a time,
 * with the binary digits of p = num / den (long division): the first digit
 * where they differ decides U < p. Two coins are used on average, where a
 * uniform integer below den would take as many bits as den has.
 */
static int bern(struct fl_dgauss *g, u128 num, u128 den, int *bit)
{
	u128 rem = num;
	unsigned u, p;
	int r;

	if (num >= den) {
		*bit = 1;
		return 0;
	}
	if (den >> 127) { /* 2 rem would not fit: a uniform integer below den */
		u128 v;

		if ((r = uniform(g, den, &v)) != 0)
			return r;
		*bit = v < num;
		return 0;
	}
	while (rem != 0) {
		rem <<= 1; /* < 2 den < 2^128 */
		p = rem >= den;
		if (p)
			rem -= den;
		if ((r = coin(g, &u)) != 0)
			return r;
		if (u != p) {
			*bit = u < p;
			return 0;
		}
	}
	/* p's digits are all 0 from here: U >= p. */
	*bit = 0;
	return 0;
}

/* Bernoulli(exp(-num/den)) for num <= den (CKS Algorithm 1, gamma <= 1). */
static int bern_exp_small(struct fl_dgauss *g, u128 num, u128 den, int *bit)
{
	uint64_t k = 1;
	int a, r;

	for (;;) {
		u128 dk;

		if (__builtin_mul_overflow(den, (u128)k, &dk))
			return fl_fail(FL_ERR_INTERNAL,
			               "discrete Gaussian: Bernoulli denominator overflow");
		if ((r = bern(g, num, dk, &a)) != 0)
			return r;
		if (!a)
			break;
		k++;
	}
	*bit = (int)(k & 1);
	return 0;
}

int fl_dgauss_bern_exp(struct fl_dgauss *g, u128 num, u128 den, int *bit)
{
	u128 whole, frac;
	int r;

	if (den == 0)
		return fl_fail(FL_ERR_INVALID, "discrete Gaussian: zero denominator");
	if (num <= den)
		return bern_exp_small(g, num, den, bit);
	/* exp(-gamma) = exp(-1)^floor(gamma) * exp(-(gamma - floor(gamma))):
	 * one coin per factor, stopping at the first 0. */
	whole = num / den;
	frac = num % den;
	for (u128 i = 0; i < whole; i++) {
		if ((r = bern_exp_small(g, 1, 1, bit)) != 0)
			return r;
		if (!*bit)
			return 0;
	}
	return bern_exp_small(g, frac, den, bit);
}

int fl_dgauss_laplace(struct fl_dgauss *g, uint64_t t, int64_t *y)
{
	int r, d, a;

	if (t == 0 || t > FL_DGAUSS_MAX_VAR)
		return fl_fail(FL_ERR_INVALID, "discrete Laplace scale %llu is out of range",
		               (unsigned long long)t);
	/* CKS Algorithm 2 with scale t: U uniform below t, accepted with
	 * probability exp(-U/t), plus t times a geometric count V. */
	for (;;) {
		u128 u, sign;
		uint64_t v = 0, x;

		if ((r = uniform(g, t, &u)) != 0)
			return r;
		if ((r = fl_dgauss_bern_exp(g, u, t, &d)) != 0)
			return r;
		if (!d)
			continue;
		for (;;) {
			if ((r = bern_exp_small(g, 1, 1, &a)) != 0)
				return r;
			if (!a)
				break;
			v++;
		}
		x = (uint64_t)u + t * v;
		if ((r = bits(g, 1, &sign)) != 0)
			return r;
		/* Zero would otherwise come out with both signs, twice as often. */
		if (sign && x == 0)
			continue;
		if (x > MAX_PROPOSAL)
			return fl_fail(FL_ERR_INTERNAL, "discrete Laplace sample out of range");
		*y = sign ? -(int64_t)x : (int64_t)x;
		return 0;
	}
}

static uint64_t isqrt(uint64_t v)
{
	uint64_t x = 0;

	for (int b = 31; b >= 0; b--) {
		uint64_t c = x | ((uint64_t)1 << b);

		if (c * c <= v)
			x = c;
	}
	return x;
}

int fl_dgauss_new(uint64_t sigma2, struct fl_dgauss **out)
{
	struct fl_dgauss *g;

	*out = NULL;
	if (sigma2 < 1 || sigma2 > FL_DGAUSS_MAX_VAR)
		return fl_fail(FL_ERR_INVALID,
		               "discrete Gaussian variance %llu is out of range (1 to %llu)",
		               (unsigned long long)sigma2, (unsigned long long)FL_DGAUSS_MAX_VAR);
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return FL_ERR_NOMEM;
	g->sigma2 = sigma2;
	g->t = isqrt(sigma2) + 1;
	g->pos = sizeof(g->buf); /* empty: the first draw fills it */
	*out = g;
	return 0;
}

void fl_dgauss_free(struct fl_dgauss *g)
{
	if (g == NULL)
		return;
	OPENSSL_cleanse(g, sizeof(*g));
	free(g);
}

int fl_dgauss_sample(struct fl_dgauss *g, int64_t *x)
{
	u128 s2 = g->sigma2, t = g->t;
	int r, c;

	/* CKS Algorithm 3: a discrete-Laplace proposal Y of scale t, accepted
	 * with probability exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)); times t^2
	 * the exponent is (|Y| t - sigma^2)^2 / (2 sigma^2 t^2), all integers. */
	for (;;) {
		int64_t y;
		u128 ay, diff;

		if ((r = fl_dgauss_laplace(g, g->t, &y)) != 0)
			return r;
		ay = (u128)(y < 0 ? -(uint64_t)y : (uint64_t)y) * t;
		diff = ay >= s2 ? ay - s2 : s2 - ay;
		if ((r = fl_dgauss_bern_exp(g, diff * diff, 2 * s2 * t * t, &c)) != 0)
			return r;
		if (c) {
			*x = y;
			return 0;
		}
	}
}

int fl_dgauss_add(struct fl_dgauss *g, uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t x;
		int r;

		if ((r = fl_dgauss_sample(g, &x)) != 0)
			return r;
		v[i] += (uint64_t)x;
	}
	return 0;
}

int fl_dgauss_add_grid(struct fl_dgauss *g, double *v, size_t n, int bits, size_t *bad)
{
	double scale;

	*bad = n;
	if (bits < 0 || bits > 52)
		return fl_fail(FL_ERR_INVALID, "noise grid of 2^-%d: expected 0 to 52 bits", bits);
	scale = (double)((uint64_t)1 << bits);
	for (size_t i = 0; i < n; i++) {
		/* Scaling by a power of two is exact. */
		double y = v[i] * scale;
		int64_t k, z;
		int r;

		/* From 2^52 on a double no longer holds k + z exactly. */
		if (!(y < 0x1p52 && y > -0x1p52)) {
			*bad = i;
			return fl_fail(
			        FL_ERR_LIMIT,
			        "update element %zu is %.17g, too large to carry exact noise "
			        "on a grid of 2^-%d",
			        i, v[i], bits);
		}
		/* Halves away from zero, like the fixed-point encoding; y is
		 * below 2^52, so the conversion truncates exactly. */
		k = (int64_t)y;
		if (y - (double)k >= 0.5)
			k++;
		else if (y - (double)k <= -0.5)
			k--;
		if ((r = fl_dgauss_sample(g, &z)) != 0)
			return r;
		v[i] = (double)(k + z) / scale;
	}
	return 0;
}
