/*
 * Signed model files: the trailer around a signature block of the
 * signature module.
 *
 * The framing of the trailer (fl_model_sig_seal, fl_model_file_split) and
 * the raw file I/O (fl_model_read_file, fl_model_write_file) live in
 * src/core/model_file.c, because decoding, loading and saving a model are
 * built on them and there must be one copy of each. This file only makes
 * and checks signatures.
 */
#include "fedlead/signed_model.h"

#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/model.h"
#include "fedlead/sealed.h"
#include "fedlead/signature.h"

int fl_model_file_sign(const uint8_t *file, size_t len, const char *key_path, const char *cert_path,
                       uint8_t **out, size_t *out_len)
{
	struct fl_model *m = NULL;
	const uint8_t *sig = NULL;
	uint8_t *block = NULL, *b = NULL;
	size_t mlen = 0, slen = 0, blen = 0, total, hl = fl_seal_header_len(&fl_model_sig_seal);
	int r = FL_ERR_INTERNAL;

	*out = NULL;
	*out_len = 0;
	if (file == NULL || key_path == NULL || cert_path == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_file_sign: no file, key or certificate");
		goto out;
	}
	if ((r = fl_model_file_split(file, len, &mlen, &sig, &slen)) != 0)
		goto out;
	/* A second signature would have to cover the first one, and a reader
	 * looks for exactly one trailer. */
	if (sig != NULL) {
		r = fl_fail(FL_ERR_INVALID, "model is already signed");
		goto out;
	}
	/* A signature vouches for the model: only one that loads gets one. */
	if ((r = fl_model_decode(file, len, "model", &m)) != 0)
		goto out;
	if ((r = fl_sign_blob(key_path, cert_path, file, len, &block, &blen)) != 0)
		goto out;
	if (blen == 0 || blen > FL_MODEL_SIG_MAX) {
		r = fl_fail(FL_ERR_LIMIT,
		            "model signature block of %zu bytes is empty or over the limit of %u "
		            "bytes",
		            blen, FL_MODEL_SIG_MAX);
		goto out;
	}
	total = len + hl + blen;
	if ((b = malloc(total)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	memcpy(b, file, len);
	fl_seal_put_header(&fl_model_sig_seal, 0, blen, b + len);
	memcpy(b + len + hl, block, blen);
	*out = b;
	*out_len = total;
	b = NULL;
	r = 0;
out:
	free(block);
	free(b);
	fl_model_free(m);
	return r;
}

int fl_model_file_verify(const uint8_t *file, size_t len, const char *ca_path, const char *crl_path,
                         char *signer, size_t signer_len)
{
	struct fl_model *m = NULL;
	const uint8_t *sig = NULL;
	char scratch[256];
	char *who = signer;
	size_t who_len = signer_len;
	size_t mlen = 0, slen = 0;
	int r = FL_ERR_INTERNAL;

	if (who == NULL || who_len == 0) {
		who = scratch;
		who_len = sizeof(scratch);
	}
	who[0] = '\0';
	if ((file == NULL && len > 0) || ca_path == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_file_verify: no file or CA");
		goto out;
	}
	if ((r = fl_model_file_split(file, len, &mlen, &sig, &slen)) != 0)
		goto out;
	if (sig == NULL) {
		r = fl_fail(FL_ERR_AUTH, "model is not signed");
		goto out;
	}
	/* The signature first: a model altered on the way is an
	 * authentication failure whether or not its checksum was redone. */
	if ((r = fl_verify_blob(file, mlen, sig, slen, ca_path, crl_path, who, who_len)) != 0)
		goto out;
	/* Signed is not the same as loadable (a newer major format, a writer's
	 * bug): the caller is about to use the file as a model. */
	if ((r = fl_model_decode(file, mlen, "model", &m)) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		who[0] = '\0';
	fl_model_free(m);
	return r;
}
