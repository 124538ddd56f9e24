/*
 * Signatures by a partner's certificate key in secure aggregation (the
 * variant of Bonawitz et al. with signed key advertisements): each partner
 * signs the two public keys it advertises for a round (masks.h), and, as
 * digests under a label (fl_sa_sign_digest()), each dealer its share
 * commitments ("share commitment"), each survivor the survivor set
 * ("survivor set") and each revealer its unmask reply ("unmask reply",
 * protocol 4; secagg.c). Every
 * partner verifies the others' signatures against the federation's CA and
 * CRL, loaded by fl_sa_store_load().
 *
 * Signatures are the certificate key's own, through OpenSSL 3's EVP API:
 * EC and RSA keys sign the SHA-256 of the message, Ed25519 the message.
 */
#ifndef FEDLEAD_PARTNER_SIGN_H
#define FEDLEAD_PARTNER_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "fedlead/masks.h"

/* Largest DER certificate fl_sa_verify_keys() parses, in bytes. */
#define FL_SA_MAX_CERT (64u * 1024)

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
 * fl_sa_verify_digest() for a certificate whose chain the caller verified
 * itself, e.g. the coordinator's, presented in the TLS handshake of the
 * partner's connection: the same checks and messages but the chain's.
 */
int fl_sa_verify_digest_peer(const uint8_t *cert_der, size_t cert_len, const char *identity,
                             const char *label, const uint8_t digest[FL_SA_KEY_LEN],
                             const uint8_t *sig, size_t sig_len);

/*
 * A store for fl_sa_verify_keys(): the CA certificate(s) of PEM file
 * ca_path and, when crl_path is not NULL, the CRLs of that PEM file,
 * checked for every certificate of a chain. *out is for X509_STORE_free().
 * FL_ERR_CONFIG naming the file: "ca.crt: no CA certificate in the file",
 * "crl.pem: cannot read: No such file or directory".
 */
int fl_sa_store_load(const char *ca_path, const char *crl_path, X509_STORE **out);

#endif
