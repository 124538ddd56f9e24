/*
 * Fuzz target: model files. fl_model_file_split and fl_model_decode on the
 * input, and fl_model_decode once more with the checksum repaired (else
 * nearly every mutation stops at the SHA-256). A model that decodes must
 * encode, decode again and encode to the same bytes, describe itself as
 * JSON and score a row.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "fedlead/error.h"
#include "fedlead/model.h"
#include "fedlead/signed_model.h"
#include "fuzz_common.h"

static void check_split(const uint8_t *data, size_t size)
{
	const uint8_t *sig = NULL;
	size_t model_len = 0, sig_len = 0;

	if (fl_model_file_split(data, size, &model_len, &sig, &sig_len) != 0)
		return;
	if (model_len > size)
		fz_die("split: model part of %zu bytes in %zu", model_len, size);
	if (sig != NULL && (sig < data || sig_len > size || (size_t)(sig - data) > size - sig_len ||
	                    (size_t)(sig - data) < model_len))
		fz_die("split: signature block outside the file");
	if (sig == NULL && sig_len != 0)
		fz_die("split: signature length without a signature");
}

static void decode(const uint8_t *data, size_t size)
{
	struct fl_model *m = NULL, *again = NULL;
	uint8_t *b1 = NULL, *b2 = NULL;
	size_t l1, l2;
	char *json = NULL;
	double *x;

	if (fl_model_decode(data, size, "fuzz.flm", &m) != 0) {
		if (m != NULL)
			fz_die("fl_model_decode failed but returned a model");
		return;
	}
	if (m->dim != m->schema->dim || m->scaler->dim != m->dim)
		fz_die("model of dim %zu, schema %zu", m->dim, m->schema->dim);
	if (fl_model_encode(m, &b1, &l1) != 0)
		fz_die("a decoded model does not encode: %s", fl_errmsg());
	if (fl_model_decode(b1, l1, "again", &again) != 0)
		fz_die("a re-encoded model does not decode: %s", fl_errmsg());
	if (fl_model_encode(again, &b2, &l2) != 0 || l1 != l2 || memcmp(b1, b2, l1) != 0)
		fz_die("model encoding is not stable");
	if (fl_model_to_json(m, &json) != 0)
		fz_die("a decoded model has no JSON form: %s", fl_errmsg());
	if ((x = calloc(m->dim, sizeof(double))) == NULL)
		fz_die("out of memory");
	x[0] = 1;
	(void)fl_model_logit(m, x);
	free(x);
	free(json);
	free(b1);
	free(b2);
	fl_model_free(again);
	fl_model_free(m);
}

/* Magic, 4-byte big-endian payload length, payload, SHA-256 of what precedes. */
#define HDR 12
#define SUM 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	size_t plen;

	fz_init();
	check_split(data, size);
	decode(data, size);
	if (size < HDR + SUM || memcmp(data, "FLMODEL\n", 8) != 0)
		return 0;
	plen = (size_t)data[8] << 24 | (size_t)data[9] << 16 | (size_t)data[10] << 8 | data[11];
	if (plen > size - HDR - SUM || (copy = malloc(size)) == NULL)
		return 0;
	memcpy(copy, data, size);
	SHA256(copy, HDR + plen, copy + HDR + plen);
	decode(copy, size);
	free(copy);
	return 0;
}
