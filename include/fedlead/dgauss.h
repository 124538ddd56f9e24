/*
 * Exact sampling of the discrete Gaussian distribution on the integers,
 * N_Z(0, sigma^2): P[X = x] proportional to exp(-x^2 / (2 sigma^2)).
 *
 * This is the noise a partner adds to its fixed-point update before masking
 * (the distributed discrete Gaussian of Kairouz, Liu and Steinke, ICML 2021),
 * so the coordinator only ever sees noised sums. The sampler is Canonne,
 * Kamath and Steinke's ("The Discrete Gaussian for Differential Privacy",
 * NeurIPS 2020, Algorithms 1-3): integer arithmetic only, no floating point
 * anywhere on the sampling path, so the output distribution is exactly the
 * discrete Gaussian and not an approximation whose rounding could leak.
 *
 * Randomness comes from OpenSSL's CSPRNG (RAND_priv_bytes), read in blocks
 * into a buffer; each word is wiped from it as it is taken, and the bits
 * not yet used are wiped when the sampler is freed. A coin uses two random
 * bits on average (see dgauss.c); a sample takes about 60 at sigma^2 = 2^40,
 * 39 at 2^20, most of them the uniform parts of the proposals.
 *
 * sigma^2 is an integer (the variance in fixed-point units squared; with
 * 2^16 units per 1.0 an integer variance has ample resolution) from 1 to
 * FL_DGAUSS_MAX_VAR. Intermediate values need up to 2^124, computed in
 * unsigned 128-bit integers. One branch is not exact: a discrete-Laplace
 * proposal beyond 2^38 (2^14 times its scale t <= 2^24 or more) would
 * overflow, which happens with probability below exp(-16384) per
 * proposal; the sampler then fails with FL_ERR_INTERNAL rather than
 * return a value from a different distribution.
 */
#ifndef FEDLEAD_DGAUSS_H
#define FEDLEAD_DGAUSS_H

#include <stddef.h>
#include <stdint.h>

/* Largest variance accepted: sigma <= 2^24. */
#define FL_DGAUSS_MAX_VAR ((uint64_t)1 << 48)

struct fl_dgauss;

/*
 * A sampler for variance sigma2. FL_ERR_INVALID ("discrete Gaussian variance
 * N is out of range (1 to 281474976710656)") for a variance out of range.
 */
int fl_dgauss_new(uint64_t sigma2, struct fl_dgauss **out);

/* Wipes the buffered randomness. Accepts NULL. */
void fl_dgauss_free(struct fl_dgauss *g);

/* One sample into *x. FL_ERR_CRYPTO when the CSPRNG fails. */
int fl_dgauss_sample(struct fl_dgauss *g, int64_t *x);

/*
 * Adds n independent samples to v modulo 2^64 (v holds fixed-point values
 * in Z/2^64, see masks.h), so the noise wraps exactly like the masks do.
 */
int fl_dgauss_add(struct fl_dgauss *g, uint64_t *v, size_t n);

/*
 * Rounds each of n doubles v[i] to the grid of 2^-bits (halves away from
 * zero) and adds an independent sample times 2^-bits: in grid units, an
 * integer plus exact discrete Gaussian noise, held exactly in the double
 * (every result is below 2^53 grid units), so a fixed-point encoding with
 * at least `bits` fraction bits carries the noise exactly. FL_ERR_LIMIT
 * ("update element 3 is 1e+300, too large to carry exact noise on a grid of
 * 2^-20"; "update element 0 is not a number") for an element of 2^52 grid
 * units or more, or not finite, with *bad its index (n otherwise); v is
 * then unchanged (fl_dgauss_grid_check() runs first). FL_ERR_INVALID for
 * bits outside 0..52, FL_ERR_CRYPTO when the CSPRNG fails.
 */
int fl_dgauss_add_grid(struct fl_dgauss *g, double *v, size_t n, int bits, size_t *bad);

/*
 * The range test of fl_dgauss_add_grid() alone, with its errors, changing
 * nothing: a node runs it before it charges a release to its ledger, so a
 * vector that cannot be noised is refused without spending budget.
 */
int fl_dgauss_grid_check(const double *v, size_t n, int bits, size_t *bad);

/*
 * Whether every sum of `rows` terms, each at most sens in magnitude, fits
 * the grid of 2^-bits with room to spare: rows * sens * 2^bits below 2^51,
 * half the 2^52 grid units fl_dgauss_add_grid() takes (the other half is
 * room for the rounding of the sums and of the row clip). It looks at no
 * value, so a node that refuses on it before charging a release says
 * nothing about its data but the row count.
 */
int fl_dgauss_grid_fits(double rows, double sens, int bits);

/*
 * Building blocks, exposed for the known-answer tests:
 * Bernoulli(exp(-num/den)) for num >= 0, den > 0; and the discrete Laplace
 * distribution with integer scale t >= 1, P[Y = y] proportional to
 * exp(-|y| / t).
 */
int fl_dgauss_bern_exp(struct fl_dgauss *g, unsigned __int128 num, unsigned __int128 den, int *bit);
int fl_dgauss_laplace(struct fl_dgauss *g, uint64_t t, int64_t *y);

/*
 * The first 64 binary digits of num / den, floor(2^64 num / den), for
 * num < den, and into *rem (unless NULL) the remainder 2^64 num mod den:
 * what each Bernoulli coin compares its random bits with.
 */
uint64_t fl_dgauss_digits(unsigned __int128 num, unsigned __int128 den, unsigned __int128 *rem);

#endif
