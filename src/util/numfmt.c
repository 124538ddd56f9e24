/*
 * Numbers as text without printf (include/fedlead/numfmt.h).
 *
 * A double is f * 2^e with f < 2^53, so its decimal expansion is exact
 * and finite. Two paths:
 *
 * - fixed places, the common case of a scored file (a probability with six
 *   places, a contribution with four): the fraction times 10^places fits in
 *   128 bits, so the digits and the remainder that decides the rounding are
 *   exact integer arithmetic, a few multiplications per number. A value of
 *   2^64 or more has no fraction and its integer digits come from the big
 *   numbers below.
 * - significant digits ("%.17g") and the shortest round trip: the
 *   digit generation of Steele & White / Burger & Dybvig ("Printing
 *   floating-point numbers quickly and accurately", 1996) on small big
 *   numbers: v = r / s exactly, each digit is floor(10 r / s), and for the
 *   shortest output the generation stops as soon as the digits so far
 *   identify v among its neighbours (the margins m- and m+ are half the gaps
 *   to them). Slower, but exact for every double.
 */
#include "fedlead/numfmt.h"

#include <math.h>
#include <string.h>

/* ---- small big numbers: enough for 10^340 * 2^1080 ---- */

#define BIG_LIMBS 80 /* 2560 bits */

struct big {
	int n; /* limbs in use; no leading zero limbs */
	uint32_t d[BIG_LIMBS];
};

static void big_set(struct big *a, uint64_t v)
{
	a->n = 0;
	while (v != 0) {
		a->d[a->n++] = (uint32_t)v;
		v >>= 32;
	}
}

static void big_mul_small(struct big *a, uint32_t m)
{
	uint64_t carry = 0;

	for (int i = 0; i < a->n; i++) {
		uint64_t t = (uint64_t)a->d[i] * m + carry;

		a->d[i] = (uint32_t)t;
		carry = t >> 32;
	}
	if (carry != 0)
		a->d[a->n++] = (uint32_t)carry;
}

static void big_mul_pow10(struct big *a, int k)
{
	for (; k >= 9; k -= 9)
		big_mul_small(a, 1000000000u);
	if (k > 0) {
		uint32_t p = 1;

		while (k-- > 0)
			p *= 10;
		big_mul_small(a, p);
	}
}

static void big_shl(struct big *a, int bits)
{
	int limbs = bits / 32, sh = bits % 32;

	if (a->n == 0)
		return;
	if (sh != 0) {
		uint32_t carry = 0;

		for (int i = 0; i < a->n; i++) {
			uint32_t t = a->d[i];

			a->d[i] = t << sh | carry;
			carry = t >> (32 - sh);
		}
		if (carry != 0)
			a->d[a->n++] = carry;
	}
	if (limbs > 0) {
		memmove(a->d + limbs, a->d, (size_t)a->n * sizeof(a->d[0]));
		memset(a->d, 0, (size_t)limbs * sizeof(a->d[0]));
		a->n += limbs;
	}
}

static int big_cmp(const struct big *a, const struct big *b)
{
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (int i = a->n; i-- > 0;)
		if (a->d[i] != b->d[i])
			return a->d[i] < b->d[i] ? -1 : 1;
	return 0;
}

static void big_add(struct big *r, const struct big *a, const struct big *b)
{
	const struct big *lo = a->n < b->n ? a : b, *hi = a->n < b->n ? b : a;
	uint64_t carry = 0;
	int i;

	for (i = 0; i < hi->n; i++) {
		uint64_t t = (uint64_t)hi->d[i] + (i < lo->n ? lo->d[i] : 0) + carry;

		r->d[i] = (uint32_t)t;
		carry = t >> 32;
	}
	r->n = hi->n;
	if (carry != 0)
		r->d[r->n++] = (uint32_t)carry;
}

/* a -= b, with a >= b. */
static void big_sub(struct big *a, const struct big *b)
{
	int64_t borrow = 0;

	for (int i = 0; i < a->n; i++) {
		int64_t t = (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0) - borrow;

		borrow = t < 0;
		a->d[i] = (uint32_t)(t + (borrow << 32));
	}
	while (a->n > 0 && a->d[a->n - 1] == 0)
		a->n--;
}

/* r < 10 s: returns floor(r / s) and leaves r mod s in r. */
static int big_digit(struct big *r, const struct big *s)
{
	int d = 0;

	while (big_cmp(r, s) >= 0) {
		big_sub(r, s);
		d++;
	}
	return d;
}

/* a /= m, returning the remainder. */
static uint32_t big_div_small(struct big *a, uint32_t m)
{
	uint64_t rem = 0;

	for (int i = a->n; i-- > 0;) {
		uint64_t t = rem << 32 | a->d[i];

		a->d[i] = (uint32_t)(t / m);
		rem = t % m;
	}
	while (a->n > 0 && a->d[a->n - 1] == 0)
		a->n--;
	return (uint32_t)rem;
}

/* ---- pieces of the output ---- */

/* Two decimal digits at a time: the digits of n at 2n, 2n + 1. */
static const char PAIRS[201] = "00010203040506070809101112131415161718192021222324"
                               "25262728293031323334353637383940414243444546474849"
                               "50515253545556575859606162636465666768697071727374"
                               "75767778798081828384858687888990919293949596979899";

static const uint64_t POW10[20] = {1ull,
                                   10ull,
                                   100ull,
                                   1000ull,
                                   10000ull,
                                   100000ull,
                                   1000000ull,
                                   10000000ull,
                                   100000000ull,
                                   1000000000ull,
                                   10000000000ull,
                                   100000000000ull,
                                   1000000000000ull,
                                   10000000000000ull,
                                   100000000000000ull,
                                   1000000000000000ull,
                                   10000000000000000ull,
                                   100000000000000000ull,
                                   1000000000000000000ull,
                                   10000000000000000000ull};

/* The last n digits of v (v < 10^n, leading zeros written) ending at end,
 * two at a time from the last; in 32 bits once v fits (a scored file's
 * numbers always do: cheaper divisions by 100). */
static inline void put_digits(char *end, uint64_t v, int n)
{
	uint32_t w;

	for (; v > UINT32_MAX; n -= 2) {
		end -= 2;
		memcpy(end, PAIRS + 2 * (v % 100), 2);
		v /= 100;
	}
	for (w = (uint32_t)v; n >= 2; n -= 2) {
		end -= 2;
		memcpy(end, PAIRS + 2 * (w % 100), 2);
		w /= 100;
	}
	if (n > 0)
		end[-1] = (char)('0' + w);
}

/* The digits of v without the NUL: their count. */
static inline size_t put_u64(char *buf, uint64_t v)
{
	/* The count from the bit length: log10(2) is about 1233 / 4096. */
	unsigned t = (unsigned)(64 - __builtin_clzll(v | 1)) * 1233 >> 12;
	size_t n = t + (v >= POW10[t]);

	if (v < 10) {
		buf[0] = (char)('0' + v);
		return 1;
	}
	put_digits(buf + n, v, (int)n);
	return n;
}

size_t fl_numfmt_u64(char *buf, uint64_t v)
{
	size_t n = put_u64(buf, v);

	buf[n] = '\0';
	return n;
}

/* inf and nan as printf writes them; 0 for a finite v. */
static size_t special(char *buf, double v)
{
	const char *s;

	if (isnan(v))
		s = signbit(v) ? "-nan" : "nan";
	else if (isinf(v))
		s = v < 0 ? "-inf" : "inf";
	else
		return 0;
	strcpy(buf, s);
	return strlen(s);
}

/* v = f * 2^e, f < 2^53, for a finite v (its sign aside). */
static void split(double v, uint64_t *f, int *e)
{
	uint64_t bits;
	int be;

	memcpy(&bits, &v, sizeof(bits));
	be = (int)(bits >> 52 & 0x7ff);
	*f = bits & ((UINT64_C(1) << 52) - 1);
	if (be == 0) {
		*e = -1074;
	} else {
		*f |= UINT64_C(1) << 52;
		*e = be - 1075;
	}
}

/* The decimal digits of the integer f * 2^e (e > 0) into buf. */
static size_t big_int_digits(char *buf, uint64_t f, int e)
{
	struct big a;
	char tmp[FL_NUMFMT_MAX];
	size_t n = 0;

	big_set(&a, f);
	big_shl(&a, e);
	while (a.n > 0) {
		uint32_t rem = big_div_small(&a, 1000000000u);

		for (int k = 0; k < 9; k++) {
			tmp[n++] = (char)('0' + rem % 10);
			rem /= 10;
		}
	}
	while (n > 1 && tmp[n - 1] == '0')
		n--;
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

/* fl_numfmt_fixed() of an integer of 2^63 or more, or of inf or nan (top:
 * the exponent bits are all set), after the sign. */
static size_t fixed_rare(char *buf, size_t n, double v, int places, int top)
{
	uint64_t f;
	int e;

	if (top)
		return special(buf, v);
	split(v, &f, &e);
	n += big_int_digits(buf + n, f, e);
	if (places > 0) {
		buf[n++] = '.';
		memset(buf + n, '0', (size_t)places);
		n += (size_t)places;
	}
	buf[n] = '\0';
	return n;
}

size_t fl_numfmt_fixed(char *buf, double v, int places)
{
	uint64_t bits, f, ip, q;
	unsigned be;
	size_t n;
	int e;

	memcpy(&bits, &v, sizeof(bits));
	be = (unsigned)(bits >> 52 & 0x7ff);
	if (places < 0)
		places = 0;
	if (places > FL_NUMFMT_FIXED_MAX)
		places = FL_NUMFMT_FIXED_MAX;
	n = bits >> 63;
	buf[0] = '-';
	/* 2^63 and up (e > 10), inf and nan. */
	if (be > 1075 + 10)
		return fixed_rare(buf, n, v, places, be == 0x7ff);
	f = bits & ((UINT64_C(1) << 52) - 1);
	if (be == 0) {
		e = -1074;
	} else {
		f |= UINT64_C(1) << 52;
		e = (int)be - 1075;
	}
	if (e >= 0) {
		/* An integer below 2^63: no fraction to round. */
		ip = f << e;
		q = 0;
	} else {
		/*
		 * v = ip + fr / 2^k; the places are fr 10^p / 2^k rounded to
		 * the nearest integer, ties to even. fr < 2^k and 10^p < 2^57,
		 * so the product fits in 128 bits, and shifted right by k - 1
		 * (keeping the first bit below the point) in 64. That bit set
		 * means at least a half: more unless all bits below it are 0,
		 * i.e. unless the product's lowest bit set is bit k - 1, and
		 * the product of fr and 2^p 5^p has ctz(fr) + p zero bits
		 * below its lowest. Rounding 2q + 1 up to 2q + 2 is then right
		 * except at a tie to an even q.
		 */
		unsigned k = (unsigned)-e;
		uint64_t fr, q2;
		unsigned __int128 prod;

		ip = k < 64 ? f >> k : 0;
		fr = k < 64 ? f & ((UINT64_C(1) << k) - 1) : f;
		prod = (unsigned __int128)fr * POW10[places];
		q2 = k - 1 < 128 ? (uint64_t)(prod >> (k - 1)) : 0;
		q = (q2 + 1) >> 1;
		if ((q2 & 1) && (unsigned)__builtin_ctzll(fr) + (unsigned)places == k - 1 &&
		    ((places > 0 ? q2 >> 1 : ip) & 1) == 0)
			q = q2 >> 1;
		if (q == POW10[places]) {
			q = 0;
			ip++;
		}
	}
	n += put_u64(buf + n, ip);
	if (places > 0) {
		buf[n++] = '.';
		n += (size_t)places;
		/* The two precisions a scored file writes, in 32 bits. */
		if (places == 6) {
			uint32_t w = (uint32_t)q, hi = w / 10000, lo = w % 10000;

			memcpy(buf + n - 6, PAIRS + 2 * hi, 2);
			memcpy(buf + n - 4, PAIRS + 2 * (lo / 100), 2);
			memcpy(buf + n - 2, PAIRS + 2 * (lo % 100), 2);
		} else if (places == 4) {
			uint32_t w = (uint32_t)q;

			memcpy(buf + n - 4, PAIRS + 2 * (w / 100), 2);
			memcpy(buf + n - 2, PAIRS + 2 * (w % 100), 2);
		} else {
			put_digits(buf + n, q, places);
		}
	}
	buf[n] = '\0';
	return n;
}

/* ---- significant digits ---- */

/* The scaled start of a digit generation: v = r / s, and *k with
 * 10^(k-1) <= v < 10^k once the caller's fix-up is done. */
static int estimate_k(double v)
{
	return (int)ceil(log10(v) - 1e-10);
}

/*
 * The first `digits` significant digits of v > 0 (finite), rounded to
 * nearest with ties to even, into d[]; returns the decimal exponent k with
 * v ~ 0.d1 d2 ... * 10^k.
 */
/*
 * digits_fixed()'s common case in 128-bit integers: v = f / 2^-e with
 * -e < 128 and 10^(k-1) <= v < 10^k, where p = digits - k places are
 * 0 to 22. Then q = floor(f 10^p / 2^-e) has `digits` digits and the
 * remainder decides the rounding exactly, as in fl_numfmt_fixed();
 * f 10^p < 2^53 2^74 fits. A score, a logit or a contribution written
 * with "%.17g" takes this path (the big numbers took 30 times as long).
 * Returns 0 where it does not apply.
 */
static int digits_fixed_128(uint64_t f, int e, int k, int digits, char *d, int *kout)
{
	unsigned __int128 p10, prod, rem, half;
	uint64_t q, lo, hi;
	unsigned sh;
	int p = digits - k;

	if (e >= 0 || e <= -128 || p < 0 || p > 22)
		return 0;
	p10 = p < 20 ? POW10[p] : (unsigned __int128)POW10[p - 19] * POW10[19];
	sh = (unsigned)-e;
	prod = (unsigned __int128)f * p10;
	if ((prod >> sh) >> 64 != 0)
		return 0;
	q = (uint64_t)(prod >> sh);
	lo = POW10[digits - 1];
	hi = POW10[digits];
	if (q < lo || q >= hi)
		return 0; /* k's estimate was off by one: the big numbers fix it */
	rem = prod & (((unsigned __int128)1 << sh) - 1);
	half = (unsigned __int128)1 << (sh - 1);
	if (rem > half || (rem == half && (q & 1)))
		q++;
	if (q == hi) {
		/* 99..9 became 100..0: one more place before the point. */
		q = lo;
		k++;
	}
	for (int i = digits; i-- > 0;) {
		d[i] = (char)('0' + q % 10);
		q /= 10;
	}
	*kout = k;
	return 1;
}

static int digits_fixed(double v, int digits, char *d)
{
	struct big r, s;
	uint64_t f;
	int e, k, c;

	split(v, &f, &e);
	if (digits_fixed_128(f, e, estimate_k(v), digits, d, &k))
		return k;
	big_set(&r, f);
	big_set(&s, 1);
	if (e >= 0)
		big_shl(&r, e);
	else
		big_shl(&s, -e);
	k = estimate_k(v);
	if (k >= 0)
		big_mul_pow10(&s, k);
	else
		big_mul_pow10(&r, -k);
	if (big_cmp(&r, &s) >= 0) {
		big_mul_small(&s, 10);
		k++;
	}
	for (int i = 0; i < digits; i++) {
		big_mul_small(&r, 10);
		d[i] = (char)('0' + big_digit(&r, &s));
	}
	/* Round on the rest: 2r against s. */
	big_shl(&r, 1);
	c = big_cmp(&r, &s);
	if (c > 0 || (c == 0 && ((d[digits - 1] - '0') & 1))) {
		int i = digits - 1;

		while (i >= 0 && d[i] == '9')
			d[i--] = '0';
		if (i >= 0) {
			d[i]++;
		} else {
			/* 99..9 became 100..0: one more place before the point. */
			d[0] = '1';
			k++;
		}
	}
	return k;
}

/*
 * The shortest digits that identify v > 0 (finite) among the doubles,
 * nearest to v when several are as short; returns their count in *nd and
 * the exponent k as digits_fixed() does.
 */
static int digits_shortest(double v, char *d, int *nd)
{
	struct big r, s, mp, mm, t;
	uint64_t f;
	int e, k, ok, n = 0;

	split(v, &f, &e);
	/* Round to even: the boundaries belong to v when f is even. */
	ok = (f & 1) == 0;
	if (e >= 0) {
		big_set(&r, f);
		big_shl(&r, e + (f == UINT64_C(1) << 52 ? 2 : 1));
		big_set(&s, f == UINT64_C(1) << 52 ? 4 : 2);
		big_set(&mp, 1);
		big_shl(&mp, e + (f == UINT64_C(1) << 52 ? 1 : 0));
		big_set(&mm, 1);
		big_shl(&mm, e);
	} else if (e == -1074 || f != UINT64_C(1) << 52) {
		big_set(&r, f);
		big_shl(&r, 1);
		big_set(&s, 1);
		big_shl(&s, 1 - e);
		big_set(&mp, 1);
		big_set(&mm, 1);
	} else {
		/* A power of two: the gap below is half the gap above. */
		big_set(&r, f);
		big_shl(&r, 2);
		big_set(&s, 1);
		big_shl(&s, 2 - e);
		big_set(&mp, 2);
		big_set(&mm, 1);
	}
	k = estimate_k(v);
	if (k >= 0) {
		big_mul_pow10(&s, k);
	} else {
		big_mul_pow10(&r, -k);
		big_mul_pow10(&mp, -k);
		big_mul_pow10(&mm, -k);
	}
	big_add(&t, &r, &mp);
	if (ok ? big_cmp(&t, &s) >= 0 : big_cmp(&t, &s) > 0) {
		big_mul_small(&s, 10);
		k++;
	}
	for (;;) {
		int dig, low, high;

		big_mul_small(&r, 10);
		big_mul_small(&mp, 10);
		big_mul_small(&mm, 10);
		dig = big_digit(&r, &s);
		low = ok ? big_cmp(&r, &mm) <= 0 : big_cmp(&r, &mm) < 0;
		big_add(&t, &r, &mp);
		high = ok ? big_cmp(&t, &s) >= 0 : big_cmp(&t, &s) > 0;
		if (!low && !high) {
			d[n++] = (char)('0' + dig);
			continue;
		}
		if (low && high) {
			int c;

			/* Both last digits identify v: the nearer one, ties to even. */
			big_add(&t, &r, &r);
			c = big_cmp(&t, &s);
			if (c > 0 || (c == 0 && (dig & 1)))
				dig++;
		} else if (high) {
			dig++;
		}
		d[n++] = (char)('0' + dig);
		break;
	}
	*nd = n;
	return k;
}

/*
 * Lays out digits d[0..nd) (nd >= 1, trailing zeros allowed) with exponent
 * k the way "%.<P>g" does: plain when -4 <= k - 1 < P, else d.ddde+XX;
 * trailing zeros of the fraction and a bare point are dropped.
 */
static size_t layout_g(char *buf, size_t n, const char *d, int nd, int k, int P)
{
	int x = k - 1;

	while (nd > 1 && d[nd - 1] == '0')
		nd--;
	if (x >= -4 && x < P) {
		if (x < 0) {
			buf[n++] = '0';
			buf[n++] = '.';
			for (int i = 0; i < -x - 1; i++)
				buf[n++] = '0';
			memcpy(buf + n, d, (size_t)nd);
			n += (size_t)nd;
		} else {
			for (int i = 0; i <= x; i++)
				buf[n++] = i < nd ? d[i] : '0';
			if (nd > x + 1) {
				buf[n++] = '.';
				memcpy(buf + n, d + x + 1, (size_t)(nd - x - 1));
				n += (size_t)(nd - x - 1);
			}
		}
	} else {
		unsigned ax = (unsigned)(x < 0 ? -x : x);

		buf[n++] = d[0];
		if (nd > 1) {
			buf[n++] = '.';
			memcpy(buf + n, d + 1, (size_t)(nd - 1));
			n += (size_t)(nd - 1);
		}
		buf[n++] = 'e';
		buf[n++] = x < 0 ? '-' : '+';
		if (ax < 10)
			buf[n++] = '0';
		n += fl_numfmt_u64(buf + n, ax);
	}
	buf[n] = '\0';
	return n;
}

size_t fl_numfmt_g(char *buf, double v, int digits)
{
	char d[20];
	size_t n;
	int k;

	if ((n = special(buf, v)) != 0)
		return n;
	if (digits < 1)
		digits = 1;
	if (digits > 17)
		digits = 17;
	if (signbit(v))
		buf[n++] = '-';
	if (v == 0) {
		d[0] = '0';
		return layout_g(buf, n, d, 1, 1, digits);
	}
	k = digits_fixed(fabs(v), digits, d);
	return layout_g(buf, n, d, digits, k, digits);
}

size_t fl_numfmt_shortest(char *buf, double v)
{
	char d[24];
	size_t n;
	int k, nd;

	if ((n = special(buf, v)) != 0)
		return n;
	if (signbit(v))
		buf[n++] = '-';
	if (v == 0) {
		d[0] = '0';
		return layout_g(buf, n, d, 1, 1, 17);
	}
	k = digits_shortest(fabs(v), d, &nd);
	return layout_g(buf, n, d, nd, k, 17);
}
