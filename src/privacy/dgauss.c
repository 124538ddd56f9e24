/*
 * Exact discrete Gaussian sampling (Canonne, Kamath, Steinke 2020); see
 * include/fedlead/dgauss.h. Every probability is a ratio of integers and
 * every coin is a uniform integer compared with one: no floating point.
 *
 * Speed: a sample is mostly Bernoulli coins, and each coin is a random
 * branch the processor mispredicts half the time. So a coin compares 64
 * random bits at once with the first 64 binary digits of its probability
 * (one XOR and a count of leading zeros finds the first digit where they
 * differ, which decides it, exactly as comparing digit by digit would),
 * and gives back the random bits after that digit, which the decision did
 * not look at: on average a coin still uses two random bits. The digits
 * come from at most one hardware 128-by-64-bit division per
 * Bernoulli(exp(-x)) chain, not from a loop per digit, and where they are
 * known exactly (exp(-1), and exp(-U/t) with t a power of two) a chain's
 * first coins are one uniform compared with several thresholds without a
 * branch per coin (bern_exp_one(), bern_exp_dyadic()). The randomness is
 * not the cost: RAND_priv_bytes is a few percent of a sample's time.
 */
#include "fedlead/dgauss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "fedlead/error.h"

typedef unsigned __int128 u128;

/* Largest |Y| of a discrete-Laplace proposal the 128-bit arithmetic of the
 * acceptance test holds: |Y| * t <= 2^62 for t <= 2^24 (sigma <= 2^24). */
#define MAX_PROPOSAL ((uint64_t)1 << 38)

struct fl_dgauss {
	uint64_t sigma2;
	uint64_t t;    /* 2^tlog, the Laplace scale of the proposals */
	unsigned tlog; /* log2 t */
	size_t pos;    /* next unread byte of buf */
	u128 res;      /* random bits not yet used, from the top bit down */
	unsigned nres; /* how many (the bits below them are 0) */
	uint8_t buf[4096];
};

/*
 * The reservoir, copied out of the sampler for the length of one public
 * call: every helper below is inlined into that call, so the compiler
 * keeps the bits in registers instead of storing them back after every
 * coin (g escapes to RAND_priv_bytes, a copy that does not escape need not
 * be kept in memory). store() puts it back.
 */
struct rbits {
	u128 res;
	unsigned nres;
	struct fl_dgauss *g;
};

#define HOT static inline __attribute__((always_inline))

static inline struct rbits load(struct fl_dgauss *g)
{
	return (struct rbits){g->res, g->nres, g};
}

static inline void store(const struct rbits *s)
{
	s->g->res = s->res;
	s->g->nres = s->nres;
}

static int refill(struct fl_dgauss *g)
{
	if (RAND_priv_bytes(g->buf, sizeof(g->buf)) != 1)
		return fl_fail(FL_ERR_CRYPTO, "the random number generator failed");
	g->pos = 0;
	return 0;
}

/* At least 64 bits in the reservoir. */
HOT int top_up(struct rbits *s)
{
	uint64_t w;
	int r;

	if (s->nres >= 64)
		return 0;
	if (s->g->pos + sizeof(w) > sizeof(s->g->buf) && (r = refill(s->g)) != 0)
		return r;
	memcpy(&w, s->g->buf + s->g->pos, sizeof(w));
	/* Used randomness is not left lying in the buffer. */
	memset(s->g->buf + s->g->pos, 0, sizeof(w));
	s->g->pos += sizeof(w);
	s->res |= (u128)w << (64 - s->nres);
	s->nres += 64;
	return 0;
}

/* k (0..64) uniform random bits. */
HOT int take(struct rbits *s, unsigned k, uint64_t *out)
{
	int r;

	if ((r = top_up(s)) != 0)
		return r;
	*out = k == 0 ? 0 : (uint64_t)(s->res >> (128 - k));
	s->res <<= k;
	s->nres -= k;
	return 0;
}

/*
 * Compares a uniform U in [0, 1) with p, given by its first 64 binary
 * digits P: *lt = 1 when U < p. Sets *tie (and uses 64 bits) when U's
 * first 64 digits equal P's, so the digits after them decide; the caller
 * goes on exactly. Otherwise uses the bits up to the first that differs.
 */
HOT int coin64(struct rbits *s, uint64_t p, int *lt, int *tie)
{
	uint64_t d, u;
	unsigned j;
	int r;

	if ((r = top_up(s)) != 0)
		return r;
	u = (uint64_t)(s->res >> 64);
	d = u ^ p;
	if (d == 0) {
		s->res <<= 64;
		s->nres -= 64;
		*tie = 1;
		return 0;
	}
	j = (unsigned)__builtin_clzll(d);
	/* At the first digit that differs, U < p when p's digit is 1. */
	*lt = (int)((p >> (63 - j)) & 1);
	*tie = 0;
	s->res <<= j + 1;
	s->nres -= j + 1;
	return 0;
}

/* floor(hi:lo / d) for hi < d: one instruction on x86-64. */
static inline uint64_t div128_64(uint64_t hi, uint64_t lo, uint64_t d)
{
#if defined(__x86_64__)
	uint64_t q, rem;

	__asm__("divq %4" : "=a"(q), "=d"(rem) : "a"(lo), "d"(hi), "rm"(d) : "cc");
	(void)rem;
	return q;
#else
	return (uint64_t)((((u128)hi << 64) | lo) / d);
#endif
}

/*
 * The first 64 binary digits of num / den, floor(2^64 num / den), for
 * num < den, and the remainder 2^64 num mod den when rem is not NULL.
 * Long division one digit at a time, written so 2 rem never overflows
 * (den may exceed 2^127); den < 2^64 takes one division instead.
 */
uint64_t fl_dgauss_digits(u128 num, u128 den, u128 *rem)
{
	uint64_t q = 0;

	if ((den >> 64) == 0 && rem == NULL)
		return div128_64((uint64_t)num, 0, (uint64_t)den);
	for (int i = 0; i < 64; i++) {
		q <<= 1;
		if (num >= den - num) { /* 2 num >= den */
			num -= den - num;
			q |= 1;
		} else {
			num <<= 1;
		}
	}
	if (rem != NULL)
		*rem = num;
	return q;
}

/* Bits needed for v (v < 2^64). */
static unsigned bit_length(uint64_t v)
{
	return v != 0 ? 64 - (unsigned)__builtin_clzll(v) : 0;
}

/* Uniform on {0, ..., m - 1}, 1 <= m < 2^64, by rejection: exact. */
HOT int uniform(struct rbits *s, uint64_t m, uint64_t *out)
{
	unsigned k = bit_length(m - 1);
	uint64_t v;
	int r;

	do {
		if ((r = take(s, k, &v)) != 0)
			return r;
	} while (v >= m);
	*out = v;
	return 0;
}

/*
 * Bernoulli(num / den), num < den, once U's first 64 digits have equalled
 * p's: U's digits from the 65th on against those of rem / den, rem =
 * 2^64 num mod den, one at a time (a tie happens with probability 2^-64).
 */
__attribute__((noinline, cold)) static int bern_tail(struct fl_dgauss *g, u128 num, u128 den,
                                                     int *bit)
{
	struct rbits s = load(g);
	u128 rem;
	int r = 0;

	(void)fl_dgauss_digits(num, den, &rem);
	while (rem != 0) {
		uint64_t u;
		unsigned p = rem >= den - rem;

		rem = p ? rem - (den - rem) : rem << 1;
		if ((r = take(&s, 1, &u)) != 0)
			break;
		if (u != p) {
			*bit = u < p;
			store(&s);
			return 0;
		}
	}
	/* p's digits are all 0 from here: U >= p. */
	*bit = 0;
	store(&s);
	return r;
}

/* floor(2^64 / k) for 2 <= k < RECIP_N: the digits of 1 / k, the coins of
 * Bernoulli(exp(-1)) (a chain rarely gets past k = 8). */
#define R(k) ((uint64_t)(((u128)1 << 64) / (k)))
#define RECIP_N 16
static const uint64_t recip[RECIP_N] = {0,    0,    R(2),  R(3),  R(4),  R(5),  R(6),  R(7),
                                        R(8), R(9), R(10), R(11), R(12), R(13), R(14), R(15)};
#undef R

/* floor(q / k): by a constant for the k a chain reaches 99 % of the time
 * (the compiler turns those into a multiplication), a division after. */
static inline uint64_t q_over(uint64_t q, uint64_t k)
{
	switch (k) {
	case 1: return q;
	case 2: return q / 2;
	case 3: return q / 3;
	case 4: return q / 4;
	case 5: return q / 5;
	default: return q / k;
	}
}

/*
 * Bernoulli(exp(-num/den)) for 0 < num <= den (CKS Algorithm 1, gamma <=
 * 1): the chain of Bernoulli(gamma / k) coins, k = 1, 2, ..., stopping at
 * the first 0; k odd then means 1. q is floor(2^64 num / den) (ignored
 * when num = den): the digits of gamma / k are floor(q / k), since
 * floor(floor(x) / k) = floor(x / k) for an integer k.
 */
HOT int chain(struct rbits *s, u128 num, u128 den, uint64_t q, uint64_t k, int *bit)
{
	int r;

	for (;; k++) {
		uint64_t p;
		int a, tie;

		if (num == den) {
			if (k == 1)
				continue; /* gamma / 1 = 1 */
			p = k < RECIP_N ? recip[k] : UINT64_MAX / k + (UINT64_MAX % k == k - 1);
		} else {
			p = q_over(q, k);
		}
		if ((r = coin64(s, p, &a, &tie)) != 0)
			return r;
		if (tie) {
			u128 dk;

			if (__builtin_mul_overflow(den, (u128)k, &dk))
				return fl_fail(FL_ERR_INTERNAL,
				               "discrete Gaussian: Bernoulli denominator overflow");
			store(s);
			r = bern_tail(s->g, num, dk, &a);
			*s = load(s->g);
			if (r != 0)
				return r;
		}
		if (!a)
			break;
	}
	*bit = (int)(k & 1);
	return 0;
}

HOT int bern_exp_small(struct rbits *s, u128 num, u128 den, uint64_t q, int *bit)
{
	if (num == 0) {
		*bit = 1;
		return 0;
	}
	return chain(s, num, den, q, 1, bit);
}

/*
 * How many leading bits of U decide U < T against its first 64 bits R: up
 * to and including the first digit where R and T differ, all 64 when none
 * does. The bits after them were not looked at and stay in the reservoir.
 */
static inline unsigned decided(uint64_t r, uint64_t t)
{
	return (unsigned)__builtin_clzll((r ^ t) | 1) + 1;
}

static inline void consume(struct rbits *s, unsigned n)
{
	s->res <<= n;
	s->nres -= n;
}

/*
 * The chain's first coins by inversion, without a branch per coin. The
 * chain stops at the first 0, at K, with P[K > k] = gamma^k / k! (all of
 * the first k coins 1), so one uniform U gives K exactly as the least k
 * with U >= gamma^k / k!: K = 1 + [U < gamma] + [U < gamma^2 / 2] + ...,
 * each comparison on U's first 64 bits when the threshold has at most 64
 * binary digits. Past the thresholds compared, the chain goes on with
 * fresh coins from the next k: given K > k, those give K's law exactly.
 */

/* Bernoulli(exp(-1)): thresholds 1/2, 1/6, 1/24, then coins from k = 5.
 * 1/6 and 1/24 have infinitely many digits: when R equals their first 64
 * (probability 2^-63), bern_tail() compares U's next digits exactly. */
HOT int bern_exp_one(struct rbits *s, int *bit)
{
	static const uint64_t t2 = (uint64_t)1 << 63;
	static const uint64_t t3 = (uint64_t)(((u128)1 << 64) / 6);
	static const uint64_t t4 = (uint64_t)(((u128)1 << 64) / 24);
	uint64_t u;
	unsigned n, c2, c3, c4;
	int r;

	if ((r = top_up(s)) != 0)
		return r;
	u = (uint64_t)(s->res >> 64);
	c2 = u < t2;
	c3 = u < t3;
	c4 = u < t4;
	if (__builtin_expect(u == t3 || u == t4, 0)) {
		/* U's first 64 digits are those of 1/6 (so 1/24 < U < 1/2)
		 * or of 1/24 (1/120 < U < 1/6): U below that threshold decides
		 * K = 4 against 3, or K >= 5 against 4. */
		int below;

		consume(s, 64);
		store(s);
		r = bern_tail(s->g, 1, u == t3 ? 6 : 24, &below);
		*s = load(s->g);
		if (r != 0)
			return r;
		if (u == t3) {
			*bit = !below;
			return 0;
		}
		if (!below) {
			*bit = 0;
			return 0;
		}
		return chain(s, 1, 1, 0, 5, bit);
	}
	n = decided(u, t2);
	if (c2 && decided(u, t3) > n)
		n = decided(u, t3);
	if (c3 && decided(u, t4) > n)
		n = decided(u, t4);
	consume(s, n);
	if (__builtin_expect(c4, 0)) /* K >= 5: 1 in 24 */
		return chain(s, 1, 1, 0, 5, bit);
	*bit = (int)((2 + c2 + c3) & 1);
	return 0;
}

/* Bernoulli(exp(-u / 2^j)), 0 < u < 2^j, j <= 31: thresholds gamma =
 * u 2^(64-j) / 2^64 and gamma^2 / 2 = u^2 2^(63-2j) / 2^64, both with at
 * most 64 binary digits (so a comparison of R with them is exact, and R
 * equal to one means U >= it), then coins from k = 3. */
HOT int bern_exp_dyadic(struct rbits *s, uint64_t u, unsigned j, int *bit)
{
	const uint64_t t1 = u << (64 - j), t2 = (u * u) << (63 - 2 * j);
	uint64_t x;
	unsigned n, c1, c2;
	int r;

	if ((r = top_up(s)) != 0)
		return r;
	x = (uint64_t)(s->res >> 64);
	c1 = x < t1;
	c2 = x < t2;
	n = decided(x, t1);
	if (c1 && decided(x, t2) > n)
		n = decided(x, t2);
	consume(s, n);
	if (c2) /* K >= 3 */
		return chain(s, u, (u128)1 << j, t1, 3, bit);
	*bit = !c1; /* K = 1 + c1 */
	return 0;
}

/*
 * exp(-gamma) = exp(-1)^floor(gamma) * exp(-(gamma - floor(gamma))): one
 * coin per factor, stopping at the first 0, so the whole part is
 * subtracted one at a time as the coins come up 1 (1.6 of them on
 * average) instead of divided out. On return *num <= den, and *bit = 0
 * when a coin already decided (then *num is meaningless).
 */
HOT int bern_exp_whole(struct rbits *s, u128 *num, u128 den, int *bit)
{
	int r;

	*bit = 1;
	while (*num > den) {
		if ((r = bern_exp_one(s, bit)) != 0)
			return r;
		if (!*bit)
			return 0;
		*num -= den;
	}
	return 0;
}

int fl_dgauss_bern_exp(struct fl_dgauss *g, u128 num, u128 den, int *bit)
{
	struct rbits s;
	int r;

	if (den == 0)
		return fl_fail(FL_ERR_INVALID, "discrete Gaussian: zero denominator");
	s = load(g);
	if ((r = bern_exp_whole(&s, &num, den, bit)) == 0 && *bit) {
		if (num == den) /* exp(-1), as the sampler draws it */
			r = bern_exp_one(&s, bit);
		else
			r = bern_exp_small(&s, num, den, fl_dgauss_digits(num, den, NULL), bit);
	}
	store(&s);
	return r;
}

/* CKS Algorithm 2 with scale t: U uniform below t, accepted with
 * probability exp(-U/t), plus t times a geometric count V. t = 2^tlog
 * when tlog >= 0: then U is tlog random bits, and its digits as a
 * fraction of t are U shifted, no division. */
HOT int laplace(struct rbits *s, uint64_t t, int tlog, int64_t *y)
{
	int r, d, a;

	for (;;) {
		uint64_t u, v = 0, x, sign;

		if (tlog >= 0)
			r = take(s, (unsigned)tlog, &u);
		else
			r = uniform(s, t, &u);
		if (r != 0)
			return r;
		if (u != 0) {
			if (tlog >= 0 && tlog <= 31)
				r = bern_exp_dyadic(s, u, (unsigned)tlog, &d);
			else
				r = bern_exp_small(s, u, t,
				                   tlog >= 0 ? u << (64 - tlog)
				                             : fl_dgauss_digits(u, t, NULL),
				                   &d);
			if (r != 0)
				return r;
			if (!d)
				continue;
		}
		for (;;) {
			if ((r = bern_exp_one(s, &a)) != 0)
				return r;
			if (!a)
				break;
			v++;
		}
		x = u + t * v;
		if ((r = take(s, 1, &sign)) != 0)
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

int fl_dgauss_laplace(struct fl_dgauss *g, uint64_t t, int64_t *y)
{
	if (t == 0 || t > FL_DGAUSS_MAX_VAR)
		return fl_fail(FL_ERR_INVALID, "discrete Laplace scale %llu is out of range",
		               (unsigned long long)t);
	struct rbits s = load(g);
	int r = laplace(&s, t, (t & (t - 1)) == 0 ? (int)bit_length(t) - 1 : -1, y);

	store(&s);
	return r;
}

int fl_dgauss_new(uint64_t sigma2, struct fl_dgauss **out)
{
	struct fl_dgauss *g;
	unsigned j = 0;

	*out = NULL;
	if (sigma2 < 1 || sigma2 > FL_DGAUSS_MAX_VAR)
		return fl_fail(FL_ERR_INVALID,
		               "discrete Gaussian variance %llu is out of range (1 to %llu)",
		               (unsigned long long)sigma2, (unsigned long long)FL_DGAUSS_MAX_VAR);
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return FL_ERR_NOMEM;
	/*
	 * The proposal scale: Algorithm 3 is exact for any t > 0 (the
	 * proposal's exp(-|y|/t) times the acceptance is exp(-y^2 / (2
	 * sigma^2)) times a constant), and costs least near t = sigma (1.32
	 * proposals per sample; 1.45 at t = sigma sqrt 2, 1.53 at sigma /
	 * sqrt 2). A power of two within a factor sqrt 2 of sigma makes the
	 * uniform part of each proposal rejection-free and its fraction of t
	 * a shift: the smallest 2^j >= sigma, halved when above sigma sqrt 2.
	 */
	while (((u128)1 << (2 * j)) < sigma2)
		j++;
	if (j > 0 && ((u128)1 << (2 * j)) > 2 * (u128)sigma2)
		j--;
	g->sigma2 = sigma2;
	g->tlog = j;
	g->t = (uint64_t)1 << j;
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

HOT int sample(struct rbits *s, int64_t *x)
{
	const uint64_t s2 = s->g->sigma2, t = s->g->t;
	const unsigned j = s->g->tlog;
	int r, c;

	/* CKS Algorithm 3: a discrete-Laplace proposal Y of scale t, accepted
	 * with probability exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)); times t^2
	 * the exponent is (|Y| t - sigma^2)^2 / (2 sigma^2 t^2), all integers. */
	for (;;) {
		int64_t y = 0;
		uint64_t ay, diff;
		u128 num, den = (u128)s2 << (2 * j + 1);

		if ((r = laplace(s, t, (int)j, &y)) != 0)
			return r;
		ay = (y < 0 ? -(uint64_t)y : (uint64_t)y) * t; /* <= 2^38 * 2^24 */
		diff = ay >= s2 ? ay - s2 : s2 - ay;
		num = (u128)diff * diff;
		if ((r = bern_exp_whole(s, &num, den, &c)) != 0)
			return r;
		if (c && num < den) {
			/* The digits of num / (sigma^2 2^(2j+1)): num 2^(63-2j) /
			 * sigma^2, below sigma^2 2^64, so one 128-by-64-bit
			 * division (2j + 1 <= 51). */
			u128 n = num << (63 - 2 * j);

			if ((r = bern_exp_small(s, num, den,
			                        div128_64((uint64_t)(n >> 64), (uint64_t)n, s2),
			                        &c)) != 0)
				return r;
		} else if (c && (r = bern_exp_one(s, &c)) != 0) {
			return r;
		}
		if (c) {
			*x = y;
			return 0;
		}
	}
}

int fl_dgauss_sample(struct fl_dgauss *g, int64_t *x)
{
	struct rbits s = load(g);
	int r = sample(&s, x);

	store(&s);
	return r;
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

int fl_dgauss_grid_check(const double *v, size_t n, int bits, size_t *bad)
{
	double scale;

	*bad = n;
	if (bits < 0 || bits > 52)
		return fl_fail(FL_ERR_INVALID, "noise grid of 2^-%d: expected 0 to 52 bits", bits);
	scale = (double)((uint64_t)1 << bits);
	for (size_t i = 0; i < n; i++) {
		/* Scaling by a power of two is exact. */
		double y = v[i] * scale;

		if (isnan(v[i])) {
			*bad = i;
			return fl_fail(FL_ERR_LIMIT, "update element %zu is not a number", i);
		}
		/* From 2^52 on a double no longer holds k + z exactly. */
		if (!(y < 0x1p52 && y > -0x1p52)) {
			*bad = i;
			return fl_fail(
			        FL_ERR_LIMIT,
			        "update element %zu is %.17g, too large to carry exact noise "
			        "on a grid of 2^-%d",
			        i, v[i], bits);
		}
	}
	return 0;
}

int fl_dgauss_grid_fits(double rows, double sens, int bits)
{
	/* Scaling by a power of two is exact; NaN fits nothing. */
	return bits >= 0 && bits <= 52 && rows >= 0 && sens >= 0 &&
	       rows * sens * ldexp(1, bits) < 0x1p51;
}

int fl_dgauss_add_grid(struct fl_dgauss *g, double *v, size_t n, int bits, size_t *bad)
{
	double scale;
	int r;

	/* Every element first, so a refusal leaves v as it was. */
	if ((r = fl_dgauss_grid_check(v, n, bits, bad)) != 0)
		return r;
	scale = (double)((uint64_t)1 << bits);
	for (size_t i = 0; i < n; i++) {
		double y = v[i] * scale;
		int64_t k, z;

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
