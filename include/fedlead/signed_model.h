/*
 * Signed model files.
 *
 * A signed model file is the model file (model.h) followed by the trailer
 * magic "FLSIGN1\n", a 4-byte big-endian length and a SignatureBlock
 * (proto/sign.proto) whose signature covers every byte before the trailer.
 * fl_model_decode() reads signed files too and ignores the trailer; only
 * fl_model_file_verify() trusts it.
 */
#ifndef FEDLEAD_SIGNED_MODEL_H
#define FEDLEAD_SIGNED_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* The trailer's framing, fl_model_file_split() and the raw file I/O
 * (fl_model_read_file(), fl_model_write_file()) are the core layer's. */
#include "fedlead/model.h"

/* Appends a signature made with key_path (the certificate's private key). */
int fl_model_file_sign(const uint8_t *file, size_t len, const char *key_path, const char *cert_path,
                       uint8_t **out, size_t *out_len);

/*
 * Checks that the file carries a signature by a certificate that chains to
 * ca_path (and is not revoked in crl_path, if given) and that the signature
 * covers the model. FL_ERR_AUTH with a message otherwise ("model is not
 * signed", "model signature does not verify ..."). signer gets the signing
 * certificate's identity.
 */
int fl_model_file_verify(const uint8_t *file, size_t len, const char *ca_path, const char *crl_path,
                         char *signer, size_t signer_len);

#endif
