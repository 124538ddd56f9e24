/*
 * Detached signatures over a blob (the federation's final model file) with
 * a certificate of the federation CA.
 *
 * The signature block (proto/sign.proto) carries the signer's certificate,
 * so a verifier needs only the CA file (and its CRL). The signature is over
 * the blob exactly as given: with an EC or RSA key it is SHA-256 then the
 * key's signature, the same as `openssl dgst -sha256 -sign KEY`; an Ed25519
 * key signs the blob itself.
 *
 * Every certificate of the federation chains to the same CA, partners'
 * included, so verification also requires the signer's certificate to be a
 * coordinator's (extended key usage serverAuth, as fedlead-ca issues it).
 */
#ifndef FEDLEAD_SIGNATURE_H
#define FEDLEAD_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

/* A signature block is refused above this many bytes. */
#define FL_SIGN_MAX_BLOCK (1u << 20)
/* Intermediate certificates a block may carry. */
#define FL_SIGN_MAX_CHAIN 8

/*
 * Signs len bytes of data with the PEM private key at key_path (not
 * encrypted) whose PEM certificate is at cert_path (further certificates in
 * that file are carried as the chain). *block is a malloc'ed signature
 * block of *block_len bytes for the caller to free(). A file that cannot
 * be used is FL_ERR_CONFIG, naming it: "coord.key: private key does not
 * match the certificate coord.crt".
 */
int fl_sign_blob(const char *key_path, const char *cert_path, const uint8_t *data, size_t len,
                 uint8_t **block, size_t *block_len);

/*
 * Verifies that block (block_len bytes, at most FL_SIGN_MAX_BLOCK) is a
 * signature over exactly len bytes of data by a certificate that chains to
 * the CA in ca_path, is valid now and, with crl_path (may be NULL), is not
 * revoked. On success the signer's identity (its subject CN, the rules of
 * fl_tls_peer_identity()) is in signer (signer_len bytes). FL_ERR_AUTH:
 *   "malformed signature block (<why>)"
 *   "model signer certificate is not trusted: <X.509 verify error>"
 *   "model signature does not verify (the model was altered or signed by
 *    another key)"
 *   "model signer certificate has an unusable identity"
 * FL_ERR_CONFIG when the CA or CRL file cannot be used.
 */
int fl_verify_blob(const uint8_t *data, size_t len, const uint8_t *block, size_t block_len,
                   const char *ca_path, const char *crl_path, char *signer, size_t signer_len);

#endif
