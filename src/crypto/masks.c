/*
 * The cryptographic core of secure aggregation: X25519 key pairs, HKDF
 * key agreement, ChaCha20 masks and ChaCha20-Poly1305 sealing of shares;
 * see include/fedlead/masks.h. All of it is OpenSSL 3's EVP API.
 */
#include "fedlead/masks.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "crypto/fields_int.h"
#include "fedlead/bytes.h"
#include "fedlead/error.h"

#define HKDF_SALT "fedlead-secagg-v1"
/* Keystream buffer of fl_sa_mask(): large enough that OpenSSL's wide
 * ChaCha20 code runs at full speed, small enough to stay in L2. */
#define MASK_CHUNK (64u * 1024)

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