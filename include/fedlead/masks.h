/*
 * The cryptographic core of secure aggregation (Bonawitz et al., "Practical
 * Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017,
 * the variant with signed key advertisements).
 *
 * Pure functions: no sockets, no protocol state. Each partner masks its
 * update, encoded as fixed point in Z/2^64, with a self mask PRG(b_u) and
 * pairwise masks +-PRG(s_uv) that cancel in the sum; the coordinator learns
 * only the sum over the partners that survive. Seeds and key-agreement
 * secrets travel as Shamir shares, sealed for each recipient.
 *
 * Every primitive except Shamir sharing comes from OpenSSL 3's EVP API:
 * X25519, HKDF-SHA256, ChaCha20 (the PRG), ChaCha20-Poly1305 (sealing),
 * the certificate key's signatures and RAND_bytes. Shamir sharing is over
 * GF(256) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11B), in
 * constant time (no secret-indexed tables, no secret-dependent branches).
 *
 * Secrets are fixed-size arrays (FL_SA_KEY_LEN bytes); every function
 * wipes its own copies of them (OPENSSL_cleanse) on every path. Wiping the
 * caller's buffers is the caller's job (fl_sa_keypair_clear() for pairs).
 */
#ifndef FEDLEAD_MASKS_H
#define FEDLEAD_MASKS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

/* X25519 keys, PRG seeds and derived keys, in bytes. */
#define FL_SA_KEY_LEN 32
/* Shamir over GF(256): shares live at x = 1..255. */
#define FL_SA_MAX_PARTIES 255
/* ChaCha20-Poly1305 nonce and tag around a sealed share, in bytes. */
#define FL_SA_NONCE_LEN 12
#define FL_SA_TAG_LEN 16
#define FL_SA_SEAL_OVERHEAD (FL_SA_NONCE_LEN + FL_SA_TAG_LEN)
/* Largest plaintext and aad fl_sa_seal()/fl_sa_open() take, in bytes
 * (a sealed share is a few hundred bytes; this only bounds a bad peer). */
#define FL_SA_MAX_SEAL (1u << 20)
/* Longest label, federation id or identity fl_sa_agree() and the key
 * advertisement functions take, in bytes. */
#define FL_SA_MAX_NAME 255
/* Largest DER certificate fl_sa_verify_keys() parses, in bytes. */
#define FL_SA_MAX_CERT (64u * 1024)
/* Largest fixed-point fraction fl_fixed_*() take, in bits. */
#define FL_FIXED_MAX_FRAC_BITS 52
/* Most elements one fl_sa_mask() call expands: ChaCha20's 32-bit block
 * counter covers 2^32 blocks of 64 bytes, i.e. 2^35 uint64s. */
#define FL_SA_MAX_MASK_LEN ((size_t)1 << 35)

/* HKDF labels for the two keys a pair of partners agrees on per round:
 * s_uv (from the s keys) seeds the pairwise mask, c_uv (from the c keys)
 * seals the shares one sends the other. */
#define FL_SA_LABEL_MASK "mask"
#define FL_SA_LABEL_SEAL "seal"

/* ---- Fixed point in Z/2^64 (two's complement) ---------------------------
 * With frac_bits f, a value v is encoded as round(v * 2^f) (halves away
 * from zero, so encoding is symmetric: -v encodes to -(encoding of v)),
 * taken mod 2^64. Sums of encodings, computed mod 2^64, decode to the
 * sum of the values as long as that sum never leaves int64. */

/*
 * The largest |v| a party may send so that the sum of max_parties
 * encodings cannot wrap: the largest double B with
 * max_parties * round(B * 2^f) <= 2^63 - 1, i.e.
 * floor((2^63 - 1) / max_parties) rounded down to a double, times 2^-f.
 * Returns 0.0 when frac_bits is outside 0..FL_FIXED_MAX_FRAC_BITS or
 * max_parties is 0 (a bound nothing but 0 passes).
 */
double fl_fixed_bound(int frac_bits, size_t max_parties);

/*
 * Encodes n doubles x into out (n uint64s, caller's). Every |x[i]| must be
 * at most bound (normally fl_fixed_bound() of the federation's size).
 * FL_ERR_LIMIT for the first element that is not: "update element 3 is
 * 1e+300, outside the fixed-point bound +-2147483647.9999998" (%.17g) or
 * "update element 3 is not a finite number (nan)"; then out is zeroed
 * and, when bad is not NULL, *bad is that index. FL_ERR_INVALID for
 * frac_bits outside 0..FL_FIXED_MAX_FRAC_BITS or a bound that is negative,
 * not finite or too large for int64 at this scale. *bad is n when no
 * element was bad.
 */
int fl_fixed_encode(const double *x, size_t n, int frac_bits, double bound, uint64_t *out,
                    size_t *bad);

/* Decodes n values (two's complement int64 / 2^frac_bits) into out
 * (caller's). frac_bits outside 0..FL_FIXED_MAX_FRAC_BITS is treated as 0. */
void fl_fixed_decode(const uint64_t *in, size_t n, int frac_bits, double *out);

/* ---- Shamir t-of-n secret sharing over GF(256), byte by byte ------------ */

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

/* ---- X25519 key pairs --------------------------------------------------- */

/* Raw X25519 keys, as RFC 7748 writes them. Wipe with fl_sa_keypair_clear(). */
struct fl_sa_keypair {
	uint8_t pub[FL_SA_KEY_LEN];
	uint8_t sec[FL_SA_KEY_LEN];
};

/* A fresh key pair into *kp (caller's). FL_ERR_CRYPTO when OpenSSL fails
 * (*kp is then zeroed). Make new pairs every round: a dropped partner's
 * s secret is reconstructed by the others and is public from then on. */
int fl_sa_keypair_new(struct fl_sa_keypair *kp);

/* The pair of secret sec (the public key recomputed; used when a dropped
 * partner's secret was reconstructed, to check it against the public key
 * it advertised). FL_ERR_CRYPTO when OpenSSL fails (*kp is zeroed). */
int fl_sa_keypair_from_secret(const uint8_t sec[FL_SA_KEY_LEN], struct fl_sa_keypair *kp);

/* Wipes *kp; NULL is fine. */
void fl_sa_keypair_clear(struct fl_sa_keypair *kp);

/* A fresh random seed (the self-mask seed b_u) from RAND_bytes.
 * FL_ERR_CRYPTO when the generator fails (seed is zeroed). */
int fl_sa_seed_new(uint8_t seed[FL_SA_KEY_LEN]);

/* ---- Key agreement ------------------------------------------------------ */

/*
 * key = HKDF-SHA256(ikm = X25519(sec, peer_pub), salt = "fedlead-secagg-v1",
 *   info = be32(|label|) label be32(|fed|) fed be64(round)
 *          be32(|lo|) lo be32(|hi|) hi)
 * where lo and hi are id_a and id_b in bytewise order (strcmp), so both
 * partners derive the same key whichever way round they name the pair, and
 * keys of other labels, federations, rounds or pairs differ. All strings
 * are 1 to FL_SA_MAX_NAME bytes and id_a != id_b (FL_ERR_INVALID).
 * FL_ERR_AUTH "key agreement with the peer's public key failed (a
 * small-order point?)" when X25519 fails or gives the all-zero secret.
 * key (caller's) is zeroed on failure.
 */
int fl_sa_agree(const uint8_t sec[FL_SA_KEY_LEN], const uint8_t peer_pub[FL_SA_KEY_LEN],
                const char *label, const char *federation_id, uint64_t round, const char *id_a,
                const char *id_b, uint8_t key[FL_SA_KEY_LEN]);

/*
 * The sign of the pairwise mask partner self applies with the key it
 * shares with peer: +1 when self sorts before peer (strcmp), -1 after, so
 * the pair's two masks cancel. 0 when the identities are equal.
 */
int fl_sa_pair_sign(const char *self, const char *peer);

/* ---- PRG masks ---------------------------------------------------------- */

/*
 * v[i] += sign * PRG(seed)[i] (mod 2^64) for i < n, where PRG(seed) is the
 * ChaCha20 keystream with key seed, block counter 0 and nonce 0, read as
 * little-endian uint64s (element i is keystream bytes 8i..8i+7). sign is
 * +1 or -1. Streams the keystream through a 64 KiB buffer (wiped), so it
 * takes no memory proportional to n. FL_ERR_INVALID for another sign,
 * FL_ERR_LIMIT for n > FL_SA_MAX_MASK_LEN, FL_ERR_CRYPTO when OpenSSL
 * fails (v is then partly masked: discard it).
 */
int fl_sa_mask(const uint8_t seed[FL_SA_KEY_LEN], int sign, uint64_t *v, size_t n);

/* ---- Sealing shares for one recipient ----------------------------------- */

/*
 * ChaCha20-Poly1305 of len bytes pt under key with aad (aad_len bytes,
 * authenticated, not encrypted; bind sender, recipient and round there).
 * out (caller's) gets len + FL_SA_SEAL_OVERHEAD bytes: a random 12-byte
 * nonce, the ciphertext, the 16-byte tag (the RFC 8439 layout after the
 * nonce). FL_ERR_LIMIT when len or aad_len exceeds FL_SA_MAX_SEAL,
 * FL_ERR_CRYPTO when OpenSSL fails.
 */
int fl_sa_seal(const uint8_t key[FL_SA_KEY_LEN], const uint8_t *aad, size_t aad_len,
               const uint8_t *pt, size_t len, uint8_t *out);

/*
 * Opens what fl_sa_seal() made: ct_len bytes of ct into pt (caller's,
 * ct_len - FL_SA_SEAL_OVERHEAD bytes). Any failure, a short or altered
 * ct, another aad or key, is FL_ERR_AUTH "share does not authenticate",
 * with pt wiped. Nothing of pt is usable unless it returned 0.
 */
int fl_sa_open(const uint8_t key[FL_SA_KEY_LEN], const uint8_t *aad, size_t aad_len,
               const uint8_t *ct, size_t ct_len, uint8_t *pt);

/* ---- Signed key advertisements ------------------------------------------ */

/*
 * Signs partner identity's two public keys for federation_id's round with
 * its certificate key (key: an EC, RSA or Ed25519 private key, e.g. from
 * PEM_read_PrivateKey on its key file; not consumed). The signed message
 * is be32-length-prefixed fields: "fedlead-secagg-keys-v1", federation_id,
 * be64(round), identity, c_pub, s_pub. EC and RSA sign its SHA-256;
 * Ed25519 signs it whole. *sig is malloc'ed (*sig_len bytes) for the
 * caller to free(). FL_ERR_INVALID for a federation id or identity not 1
 * to FL_SA_MAX_NAME bytes, FL_ERR_CRYPTO when the key cannot sign.
 */
int fl_sa_sign_keys(EVP_PKEY *key, const char *federation_id, uint64_t round, const char *identity,
                    const uint8_t c_pub[FL_SA_KEY_LEN], const uint8_t s_pub[FL_SA_KEY_LEN],
                    uint8_t **sig, size_t *sig_len);

/*
 * Verifies a key advertisement: the certificate (cert_len bytes of DER,
 * at most FL_SA_MAX_CERT) chains to store (with its CRLs and flags; see
 * fl_sa_store_load()), is valid now and is a partner's (extended key usage
 * clientAuth, as fedlead-ca issues it); its identity (subject CN, or the
 * first DNS name without one, with the rules of fl_tls_peer_identity())
 * is identity; and sig (sig_len bytes) is its key's signature of the
 * message of fl_sa_sign_keys(). FL_ERR_AUTH, for identity acme:
 *   "key advertisement of acme: certificate is not DER X.509"
 *   "key advertisement of acme: certificate is not trusted: <X.509 reason>"
 *   "key advertisement of acme: certificate has an unusable identity"
 *   "key advertisement of acme: certificate belongs to \"mallory\""
 *   "key advertisement of acme: signature does not verify"
 * FL_ERR_INVALID when identity is not a usable name ("key advertisement:
 * identity is not a usable name"), so an untrusted name is never echoed.
 */
int fl_sa_verify_keys(X509_STORE *store, const uint8_t *cert_der, size_t cert_len,
                      const char *federation_id, uint64_t round, const char *identity,
                      const uint8_t c_pub[FL_SA_KEY_LEN], const uint8_t s_pub[FL_SA_KEY_LEN],
                      const uint8_t *sig, size_t sig_len);

/*
 * A signature by a partner's certificate key over a 32-byte digest, under a
 * label that says what is signed (e.g. "survivor set"): the message is
 * be32-length-prefixed "fedlead-secagg-digest-v1", label and digest, so a
 * signature made for one purpose never verifies for another (nor as a key
 * advertisement). fl_sa_verify_digest() checks the certificate as
 * fl_sa_verify_keys() does, its errors naming the label: "survivor set of
 * acme: signature does not verify".
 */
int fl_sa_sign_digest(EVP_PKEY *key, const char *label, const uint8_t digest[FL_SA_KEY_LEN],
                      uint8_t **sig, size_t *sig_len);
int fl_sa_verify_digest(X509_STORE *store, const uint8_t *cert_der, size_t cert_len,
                        const char *identity, const char *label,
                        const uint8_t digest[FL_SA_KEY_LEN], const uint8_t *sig, size_t sig_len);

/*
 * A store for fl_sa_verify_keys(): the CA certificate(s) of PEM file
 * ca_path and, when crl_path is not NULL, the CRLs of that PEM file,
 * checked for every certificate of a chain. *out is for X509_STORE_free().
 * FL_ERR_CONFIG naming the file: "ca.crt: no CA certificate in the file",
 * "crl.pem: cannot read: No such file or directory".
 */
int fl_sa_store_load(const char *ca_path, const char *crl_path, X509_STORE **out);

#endif
