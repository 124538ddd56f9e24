/*
 * Signatures by a partner's certificate key for secure aggregation: key
 * advertisements and digests (the survivor set), and the CA/CRL store
 * they are checked against; see include/fedlead/partner_sign.h.
 *
 * Like signature.c, this module links libcrypto only; a certificate's
 * identity comes from certs.c (fl_cert_identity()), by the same rules as
 * fl_tls_peer_identity() in src/net/tls.c.
 */
#include "fedlead/partner_sign.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/fields_int.h"
#include "fedlead/certs.h"
#include "fedlead/error.h"

#define KEYS_CONTEXT "fedlead-secagg-keys-v1"
#define DIGEST_CONTEXT "fedlead-secagg-digest-v1"
#define MAX_IDENTITY FL_CERT_MAX_IDENTITY

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

/*
 * key's signature of msg into *sig, malloc'ed (*sig_len bytes), both left
 * alone on failure. 0, or -1 with OpenSSL's error queue emptied: callers
 * say what could not be signed.
 */
static int sign_with(EVP_PKEY *key, const struct enc *msg, uint8_t **sig, size_t *sig_len)
{
	EVP_MD_CTX *md = NULL;
	uint8_t *s = NULL;
	size_t slen = 0;
	int r = -1;

	ERR_clear_error();
	/* One-shot EVP_DigestSign: the only form EdDSA supports. */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, is_eddsa(key) ? NULL : EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &slen, msg->buf, msg->len) != 1 ||
	    (s = malloc(slen)) == NULL || EVP_DigestSign(md, s, &slen, msg->buf, msg->len) != 1) {
		ERR_clear_error();
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

int fl_sa_sign_keys(EVP_PKEY *key, const char *federation_id, uint64_t round, const char *identity,
                    const uint8_t c_pub[FL_SA_KEY_LEN], const uint8_t s_pub[FL_SA_KEY_LEN],
                    uint8_t **sig, size_t *sig_len)
{
	struct enc msg;
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
	if (sign_with(key, &msg, sig, sig_len) != 0) {
		r = fl_fail(FL_ERR_CRYPTO, "key advertisement of %s: cannot sign with the key",
		            identity);
		goto out;
	}
	r = 0;
out:
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
	/* Without a store the caller verified the chain already (the
	 * coordinator, in the TLS handshake that presented it). */
	if (store == NULL)
		goto named;
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
named:
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

/* ---- Signed digests ----------------------------------------------------- */

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

	*sig = NULL;
	*sig_len = 0;
	if (key == NULL || !name_ok(label))
		return fl_fail(FL_ERR_INVALID, "signature: no key or label");
	digest_message(&msg, label, digest);
	if (sign_with(key, &msg, sig, sig_len) != 0)
		return fl_fail(FL_ERR_CRYPTO, "%s: cannot sign with the key", label);
	return 0;
}

/* Both verifiers: the certificate is checked against store, or, without
 * one, is the peer's own from its TLS handshake (partner_cert()). */
static int verify_digest(X509_STORE *store, const uint8_t *cert_der, size_t cert_len,
                         const char *identity, const char *label,
                         const uint8_t digest[FL_SA_KEY_LEN], const uint8_t *sig, size_t sig_len)
{
	X509 *cert = NULL;
	struct enc msg;
	int r;

	if ((r = partner_cert(store, cert_der, cert_len, identity, label, &cert)) != 0)
		return r;
	digest_message(&msg, label, digest);
	r = verify_with(X509_get0_pubkey(cert), msg.buf, msg.len, sig, sig_len);
	if (r == FL_ERR_AUTH)
		r = fl_fail(FL_ERR_AUTH, "%s of %s: signature does not verify", label, identity);
	X509_free(cert);
	return r;
}

int fl_sa_verify_digest(X509_STORE *store, const uint8_t *cert_der, size_t cert_len,
                        const char *identity, const char *label,
                        const uint8_t digest[FL_SA_KEY_LEN], const uint8_t *sig, size_t sig_len)
{
	if (identity == NULL || !fl_cert_identity_valid(identity))
		return fl_fail(FL_ERR_INVALID, "%s: identity is not a usable name", label);
	if (store == NULL || !name_ok(label))
		return fl_fail(FL_ERR_INVALID, "signature of %s: no CA store or label", identity);
	return verify_digest(store, cert_der, cert_len, identity, label, digest, sig, sig_len);
}

int fl_sa_verify_digest_peer(const uint8_t *cert_der, size_t cert_len, const char *identity,
                             const char *label, const uint8_t digest[FL_SA_KEY_LEN],
                             const uint8_t *sig, size_t sig_len)
{
	if (identity == NULL || !fl_cert_identity_valid(identity))
		return fl_fail(FL_ERR_INVALID, "%s: identity is not a usable name", label);
	if (!name_ok(label))
		return fl_fail(FL_ERR_INVALID, "signature of %s: no label", identity);
	return verify_digest(NULL, cert_der, cert_len, identity, label, digest, sig, sig_len);
}

/* ---- The CA/CRL store --------------------------------------------------- */

int fl_sa_store_load(const char *ca_path, const char *crl_path, X509_STORE **out)
{
	if (out != NULL)
		*out = NULL;
	if (ca_path == NULL || out == NULL)
		return fl_fail(FL_ERR_INVALID, "key advertisements: no CA file");
	return fl_cert_store_load(ca_path, crl_path, FL_CERT_TEXTS_SHORT, out);
}