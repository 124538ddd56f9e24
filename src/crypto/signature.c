/*
 * Detached signatures with the federation's certificates; see
 * include/fedlead/sign.h.
 *
 * This module links libcrypto only (not libssl, not src/tls.c), so the few
 * lines that read OpenSSL's error queue and a certificate's identity are
 * its own; they follow the same rules as src/tls.c.
 */
#include "fedlead/signature.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fedlead/certs.h"
#include "fedlead/error.h"
#include "sign.pb-c.h"

#define DIGEST_SHA256 "sha256"
#define DIGEST_NONE "none" /* EdDSA: the algorithm hashes the message itself */

static int no_password(char *buf, int size, int rwflag, void *userdata)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)userdata;
	return -1; /* never prompt */
}

static int is_eddsa(const EVP_PKEY *pkey)
{
	return EVP_PKEY_is_a(pkey, "ED25519") || EVP_PKEY_is_a(pkey, "ED448");
}

/* The certificates of a PEM file: the first, and the rest as a chain. */
static int load_certs(const char *path, X509 **cert, STACK_OF(X509) * *chain)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	int r = FL_ERR_INTERNAL;

	*cert = NULL;
	*chain = NULL;
	ERR_clear_error();
	if ((bio = BIO_new_file(path, "r")) == NULL) {
		r = fl_cert_file_fail(FL_ERR_CONFIG, path, "cannot load certificate");
		goto out;
	}
	if ((*cert = PEM_read_bio_X509(bio, NULL, no_password, NULL)) == NULL) {
		r = fl_cert_file_fail(FL_ERR_CONFIG, path, "cannot load certificate");
		goto out;
	}
	if ((*chain = sk_X509_new_null()) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, no_password, NULL)) != NULL) {
		if (sk_X509_num(*chain) >= FL_SIGN_MAX_CHAIN) {
			r = fl_fail(FL_ERR_CONFIG, "%s: more than %d intermediate certificates",
			            path, FL_SIGN_MAX_CHAIN);
			goto out;
		}
		if (!sk_X509_push(*chain, x)) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		x = NULL;
	}
	ERR_clear_error(); /* the end of the file reads as "no start line" */
	r = 0;
out:
	X509_free(x);
	BIO_free(bio);
	if (r != 0) {
		X509_free(*cert);
		sk_X509_pop_free(*chain, X509_free);
		*cert = NULL;
		*chain = NULL;
	}
	return r;
}

/* DER of x into a malloc'ed buffer. */
static int to_der(X509 *x, ProtobufCBinaryData *out)
{
	unsigned char *p;
	int n = i2d_X509(x, NULL);

	out->data = NULL;
	out->len = 0;
	if (n <= 0)
		return fl_fail(FL_ERR_CRYPTO, "cannot encode a certificate");
	if ((out->data = malloc((size_t)n)) == NULL)
		return FL_ERR_NOMEM;
	p = out->data;
	i2d_X509(x, &p);
	out->len = (size_t)n;
	return 0;
}

int fl_sign_blob(const char *key_path, const char *cert_path, const uint8_t *data, size_t len,
                 uint8_t **block, size_t *block_len)
{
	Fedlead__Sign__SignatureBlock sb = FEDLEAD__SIGN__SIGNATURE_BLOCK__INIT;
	ProtobufCBinaryData *chain_der = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	BIO *bio = NULL;
	uint8_t *sig = NULL, *buf = NULL;
	size_t siglen = 0, n, nchain = 0;
	int eddsa, r = FL_ERR_INTERNAL;

	*block = NULL;
	*block_len = 0;
	if (key_path == NULL || cert_path == NULL || (data == NULL && len > 0)) {
		r = fl_fail(FL_ERR_INVALID, "fl_sign_blob: no key, certificate or data");
		goto out;
	}
	if ((r = load_certs(cert_path, &cert, &chain)) != 0)
		goto out;
	ERR_clear_error();
	if ((bio = BIO_new_file(key_path, "r")) == NULL ||
	    (pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL)) == NULL) {
		r = fl_cert_file_fail(FL_ERR_CONFIG, key_path, "cannot load private key");
		goto out;
	}
	if (X509_check_private_key(cert, pkey) != 1) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_CONFIG, "%s: private key does not match the certificate %s",
		            key_path, cert_path);
		goto out;
	}
	eddsa = is_eddsa(pkey);
	if (data == NULL)
		data = (const uint8_t *)""; /* len is 0 */
	if ((md = EVP_MD_CTX_new()) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	/* One-shot EVP_DigestSign: the only form EdDSA supports. */
	if (EVP_DigestSignInit(md, NULL, eddsa ? NULL : EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, data, len) != 1) {
		r = fl_cert_file_fail(FL_ERR_CRYPTO, key_path, "cannot sign");
		goto out;
	}
	if ((sig = malloc(siglen)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSign(md, sig, &siglen, data, len) != 1) {
		r = fl_cert_file_fail(FL_ERR_CRYPTO, key_path, "cannot sign");
		goto out;
	}
	if ((r = to_der(cert, &sb.signer_cert)) != 0)
		goto out;
	nchain = (size_t)sk_X509_num(chain);
	if (nchain > 0 && (chain_der = calloc(nchain, sizeof(*chain_der))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < nchain; i++)
		if ((r = to_der(sk_X509_value(chain, (int)i), &chain_der[i])) != 0)
			goto out;
	sb.n_chain = nchain;
	sb.chain = chain_der;
	sb.digest = eddsa ? DIGEST_NONE : DIGEST_SHA256;
	sb.signature.data = sig;
	sb.signature.len = siglen;
	n = fedlead__sign__signature_block__get_packed_size(&sb);
	if (n > FL_SIGN_MAX_BLOCK) {
		r = fl_fail(FL_ERR_LIMIT, "%s: the signature block would be %zu bytes, over %u",
		            cert_path, n, FL_SIGN_MAX_BLOCK);
		goto out;
	}
	if ((buf = malloc(n ? n : 1)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	fedlead__sign__signature_block__pack(&sb, buf);
	*block = buf;
	*block_len = n;
	buf = NULL;
	r = 0;
out:
	free(buf);
	free(sig);
	free(sb.signer_cert.data);
	for (size_t i = 0; chain_der != NULL && i < nchain; i++)
		free(chain_der[i].data);
	free(chain_der);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	return r;
}

/* Exactly one DER certificate, nothing after it. */
static X509 *from_der(const ProtobufCBinaryData *d)
{
	const unsigned char *p = d->data;
	X509 *x;

	if (d->len == 0 || d->len > (size_t)FL_SIGN_MAX_BLOCK)
		return NULL;
	x = d2i_X509(NULL, &p, (long)d->len);
	if (x != NULL && p != d->data + d->len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* The signer's CN (or first DNS name) by the rules of fl_tls_peer_identity. */
static int signer_identity(X509 *cert, char *buf, size_t n)
{
	char id[FL_CERT_MAX_IDENTITY + 1];

	if (fl_cert_identity(cert, id, sizeof(id)) != 0)
		return fl_fail(FL_ERR_AUTH, "model signer certificate has an unusable identity");
	if (strlen(id) + 1 > n)
		return fl_fail(FL_ERR_INVALID, "signer identity of %zu bytes does not fit %zu",
		               strlen(id), n);
	memcpy(buf, id, strlen(id) + 1);
	return 0;
}

int fl_verify_blob(const uint8_t *data, size_t len, const uint8_t *block, size_t block_len,
                   const char *ca_path, const char *crl_path, char *signer, size_t signer_len)
{
	Fedlead__Sign__SignatureBlock *sb = NULL;
	STACK_OF(X509) *chain = NULL;
	X509_STORE_CTX *sctx = NULL;
	X509_STORE *store = NULL;
	EVP_MD_CTX *md = NULL;
	X509 *cert = NULL, *x;
	EVP_PKEY *pub;
	int eddsa, r = FL_ERR_INTERNAL;

	if (signer != NULL && signer_len > 0)
		signer[0] = '\0';
	if ((data == NULL && len > 0) || ca_path == NULL || signer == NULL || signer_len == 0) {
		r = fl_fail(FL_ERR_INVALID, "fl_verify_blob: no data, CA or signer buffer");
		goto out;
	}
	if (block == NULL || block_len == 0) {
		r = fl_fail(FL_ERR_AUTH, "malformed signature block (empty)");
		goto out;
	}
	/* Bounded before protobuf-c allocates anything for it. */
	if (block_len > FL_SIGN_MAX_BLOCK) {
		r = fl_fail(FL_ERR_AUTH, "malformed signature block (%zu bytes, the limit is %u)",
		            block_len, FL_SIGN_MAX_BLOCK);
		goto out;
	}
	if ((sb = fedlead__sign__signature_block__unpack(NULL, block_len, block)) == NULL) {
		r = fl_fail(FL_ERR_AUTH, "malformed signature block (not a SignatureBlock)");
		goto out;
	}
	if (sb->n_chain > FL_SIGN_MAX_CHAIN) {
		r = fl_fail(FL_ERR_AUTH,
		            "malformed signature block (%zu chain certificates, the "
		            "limit is %d)",
		            sb->n_chain, FL_SIGN_MAX_CHAIN);
		goto out;
	}
	if (sb->signature.len == 0) {
		r = fl_fail(FL_ERR_AUTH, "malformed signature block (no signature)");
		goto out;
	}
	ERR_clear_error();
	if ((cert = from_der(&sb->signer_cert)) == NULL) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_AUTH,
		            "malformed signature block (the signer certificate is not DER X.509)");
		goto out;
	}
	if ((chain = sk_X509_new_null()) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < sb->n_chain; i++) {
		if ((x = from_der(&sb->chain[i])) == NULL) {
			ERR_clear_error();
			r = fl_fail(FL_ERR_AUTH,
			            "malformed signature block (chain certificate %zu "
			            "is not DER X.509)",
			            i + 1);
			goto out;
		}
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			r = FL_ERR_NOMEM;
			goto out;
		}
	}
	if ((pub = X509_get0_pubkey(cert)) == NULL) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_AUTH, "malformed signature block (the signer certificate has "
		                         "no usable key)");
		goto out;
	}
	/* The digest must be the one this key type signs with, so a block
	 * cannot ask for a weaker one. */
	eddsa = is_eddsa(pub);
	if (strcmp(sb->digest, eddsa ? DIGEST_NONE : DIGEST_SHA256) != 0) {
		r = fl_fail(FL_ERR_AUTH,
		            "malformed signature block (digest \"%.32s\", expected \"%s\")",
		            sb->digest, eddsa ? DIGEST_NONE : DIGEST_SHA256);
		goto out;
	}
	if ((r = fl_cert_store_load(ca_path, crl_path, FL_CERT_TEXTS_OPENSSL, &store)) != 0)
		goto out;
	if ((sctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sctx, store, cert, chain) != 1) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_ANY);
	if (X509_verify_cert(sctx) != 1) {
		int e = X509_STORE_CTX_get_error(sctx);

		ERR_clear_error();
		r = fl_fail(FL_ERR_AUTH, "model signer certificate is not trusted: %s",
		            X509_verify_cert_error_string(e));
		goto out;
	}
	/* Only a coordinator signs models: a partner's certificate chains to the
	 * same CA, but must not be able to pass off a model as the federation's. */
	if (X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0) != 1) {
		char cn[256] = "";

		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
		                          sizeof(cn));
		ERR_clear_error();
		r = fl_fail(FL_ERR_AUTH,
		            "model was signed by \"%.64s\", whose certificate is not a "
		            "coordinator's (no serverAuth)",
		            cn);
		goto out;
	}
	if (data == NULL)
		data = (const uint8_t *)""; /* len is 0 */
	if ((md = EVP_MD_CTX_new()) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(md, NULL, eddsa ? NULL : EVP_sha256(), NULL, pub) != 1 ||
	    EVP_DigestVerify(md, sb->signature.data, sb->signature.len, data, len) != 1) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_AUTH,
		            "model signature does not verify (the model was altered or "
		            "signed by another key)");
		goto out;
	}
	r = signer_identity(cert, signer, signer_len);
out:
	EVP_MD_CTX_free(md);
	X509_STORE_CTX_free(sctx);
	X509_STORE_free(store);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	fedlead__sign__signature_block__free_unpacked(sb, NULL);
	return r;
}
