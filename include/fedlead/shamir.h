/*
 * Shamir t-of-n secret sharing over GF(256), byte by byte: how a partner's
 * self-mask seed and key-agreement secret outlive it in secure aggregation
 * (see masks.h), so the others can unmask the sum if it drops out.
 *
 * OpenSSL has no Shamir sharing, so this is fedlead's own code, over
 * GF(256) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11B), in
 * constant time (no secret-indexed tables, no secret-dependent branches).
 * The random coefficients come from OpenSSL's RAND_bytes and are wiped.
 */
#ifndef FEDLEAD_SHAMIR_H
#define FEDLEAD_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

/* Shamir over GF(256): shares live at x = 1..255. */
#define FL_SA_MAX_PARTIES 255

/*
 * Splits len bytes of secret into n shares of len bytes each, written to
 * shares (n * len bytes, caller's; share i, 0-based, is the one at
 * x = i + 1) so that any t of them recover the secret and t - 1 of them
 * reveal nothing about it. The random polynomial coefficients come from
 * RAND_bytes and are wiped. t = 1 makes every share the secret itself.
 * FL_ERR_INVALID unless 1 <= t <= n <= FL_SA_MAX_PARTIES; FL_ERR_CRYPTO
 * when the random generator fails (shares are then zeroed).
 */
int fl_shamir_split(const uint8_t *secret, size_t len, unsigned t, unsigned n, uint8_t *shares);

/*
 * Recovers the secret (len bytes into secret, caller's) from k shares
 * (k * len bytes, share j at x = xs[j]) by Lagrange interpolation at 0.
 * With k >= t shares of one split the result is the secret; with fewer it
 * is a value unrelated to it, and nothing here can tell: Shamir shares
 * carry no integrity, so a caller that can check the result (a
 * reconstructed X25519 secret against the advertised public key) must.
 * FL_ERR_INVALID "Shamir share 2 is at x = 0" or "Shamir shares 1 and 4
 * are both at x = 7", or k = 0 or k > FL_SA_MAX_PARTIES.
 */
int fl_shamir_combine(const uint8_t *shares, const uint8_t *xs, unsigned k, size_t len,
                      uint8_t *secret);

#endif
