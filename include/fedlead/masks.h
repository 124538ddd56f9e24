/*
 * The cryptographic core of secure aggregation (Bonawitz et al., "Practical
 * Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017,
 * the variant with signed key advertisements).
 *
 * Pure functions: no sockets, no protocol state. Each partner masks its
 * update, encoded as fixed point in Z/2^64 (fixedpoint.h), with a self
 * mask PRG(b_u) and pairwise masks +-PRG(s_uv) that cancel in the sum; the
 * coordinator learns only the sum over the partners that survive. Seeds
 * and key-agreement secrets travel as Shamir shares (shamir.h), sealed for
 * each recipient; the keys a partner advertises are signed with its
 * certificate key (partner_sign.h).
 *
 * Every primitive here comes from OpenSSL 3's EVP API: X25519,
 * HKDF-SHA256, ChaCha20 (the PRG), ChaCha20-Poly1305 (sealing) and
 * RAND_bytes.
 *
 * Secrets are fixed-size arrays (FL_SA_KEY_LEN bytes); every function
 * wipes its own copies of them (OPENSSL_cleanse) on every path. Wiping the
 * caller's buffers is the caller's job (fl_sa_keypair_clear() for pairs).
 */
#ifndef FEDLEAD_MASKS_H
#define FEDLEAD_MASKS_H

#include <stddef.h>
#include <stdint.h>

/* X25519 keys, PRG seeds and derived keys, in bytes. */
#define FL_SA_KEY_LEN 32
/* ChaCha20-Poly1305 nonce and tag around a sealed share, in bytes. */
#define FL_SA_NONCE_LEN 12
#define FL_SA_TAG_LEN 16
#define FL_SA_SEAL_OVERHEAD (FL_SA_NONCE_LEN + FL_SA_TAG_LEN)
/* Largest plaintext and aad fl_sa_seal()/fl_sa_open() take, in bytes
 * (a sealed share is a few hundred bytes; this only bounds a bad peer). */
#define FL_SA_MAX_SEAL (1u << 20)
/* Longest label, federation id or identity fl_sa_agree() and the key
 * advertisement functions (partner_sign.h) take, in bytes. */
#define FL_SA_MAX_NAME 255
/* Most elements one fl_sa_mask() call expands: ChaCha20's 32-bit block
 * counter covers 2^32 blocks of 64 bytes, i.e. 2^35 uint64s. */
#define FL_SA_MAX_MASK_LEN ((size_t)1 << 35)

/* HKDF labels for the two keys a pair of partners agrees on per round:
 * s_uv (from the s keys) seeds the pairwise mask, c_uv (from the c keys)
 * seals the shares one sends the other. */
#define FL_SA_LABEL_MASK "mask"
#define FL_SA_LABEL_SEAL "seal"

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

#endif
