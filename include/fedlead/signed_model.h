/*
 * Signed model files and raw model file I/O.
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

#define FL_MODEL_SIG_MAGIC "FLSIGN1\n"
#define FL_MODEL_SIG_MAX (1u << 20)

/* Appends a signature made with key_path (the certificate's private key). */
int fl_model_file_sign(const uint8_t *file, size_t len, const char *key_path,
		       const char *cert_path, uint8_t **out, size_t *out_len);

/*
 * Checks that the file carries a signature by a certificate that chains to
 * ca_path (and is not revoked in crl_path, if given) and that the signature
 * covers the model. FL_ERR_AUTH with a message otherwise ("model is not
 * signed", "model signature does not verify ..."). signer gets the signing
 * certificate's identity.
 */
int fl_model_file_verify(const uint8_t *file, size_t len, const char *ca_path,
			 const char *crl_path, char *signer, size_t signer_len);

/* Splits off the trailer: *model_len is the length of the unsigned part,
 * *sig and *sig_len the signature block (NULL/0 when unsigned). FL_ERR_MODEL for
 * a damaged trailer. */
int fl_model_file_split(const uint8_t *file, size_t len, size_t *model_len, const uint8_t **sig,
			size_t *sig_len);

/*
 * Reads a whole regular file into *buf (malloc'ed, *len bytes). Refuses
 * (FL_ERR_MODEL) a file larger than the largest well-formed signed model:
 * FL_MODEL_MAX_BYTES + FL_MODEL_SIG_MAX + 56 bytes of framing. Does not
 * check the content. Implemented in src/model.c, as are fl_model_file_split()
 * and fl_model_write_file(), because loading and saving use them.
 */
int fl_model_read_file(const char *path, uint8_t **buf, size_t *len);

/* Writes bytes atomically (temporary file, fsync, rename, directory
 * fsync), mode 0644; fl_model_save() is this after fl_model_encode(). */
int fl_model_write_file(const char *path, const uint8_t *buf, size_t len);

#endif
