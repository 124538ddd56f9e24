/*
 * Tests for src/modelsign.c: signing a model file and checking a signed one.
 *
 * The certificates are made for the run by deploy/fedlead-ca, the tool an
 * operator uses: a federation CA with a coordinator "coord", a partner
 * "acme" and a coordinator "retired" that gets revoked, and a second CA
 * with its own coordinator "mallory".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fedlead/error.h"
#include "fedlead/model.h"
#include "fedlead/signature.h"
#include "fedlead/signed_model.h"
#include "model.pb-c.h"

#define FEDLEAD_CA FL_TEST_DATA "/../../deploy/fedlead-ca"

#define SCHEMA_JSON                                                                                \
	"{\"fedlead_schema\":1,\"label\":{\"column\":\"y\",\"positive\":\"1\",\"negative\":\"0\"}" \
	",\"features\":[{\"name\":\"age\",\"type\":\"numeric\",\"missing\":\"impute\"}]}"

/* The sign module's messages (include/fedlead/sign.h), the chain errors
 * in OpenSSL's words. */
#define MSG_BAD_SIGNATURE                                                                          \
	"model signature does not verify (the model was altered or signed by another key)"
#define MSG_OTHER_CA                                                                               \
	"model signer certificate is not trusted: unable to get local issuer certificate"
#define MSG_REVOKED "model signer certificate is not trusted: certificate revoked"

static char dir[] = "/tmp/fl_modelsign_XXXXXX";

/* dir + "/" + name, in one of a few rotating buffers. */
static const char *at(const char *name)
{
	static char bufs[8][512];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd);
}

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	/* stdout (one line per certificate) is noise here; errors still show. */
	if (run("%s init --dir %s --name 'Test CA' >/dev/null", FEDLEAD_CA, at("ca")) != 0 ||
	    run("%s issue --dir %s --name coord --role coordinator --dns localhost --out %s "
	        ">/dev/null",
	        FEDLEAD_CA, at("ca"), at("coord")) != 0 ||
	    run("%s issue --dir %s --name acme --role partner --out %s >/dev/null", FEDLEAD_CA,
	        at("ca"), at("acme")) != 0 ||
	    run("%s issue --dir %s --name retired --role coordinator --dns localhost --out %s "
	        ">/dev/null",
	        FEDLEAD_CA, at("ca"), at("retired")) != 0 ||
	    run("%s revoke --dir %s --cert %s --reason superseded >/dev/null", FEDLEAD_CA, at("ca"),
	        at("retired.crt")) != 0 ||
	    run("%s init --dir %s --name 'Other CA' >/dev/null", FEDLEAD_CA, at("other")) != 0 ||
	    run("%s issue --dir %s --name mallory --role coordinator --dns localhost --out %s "
	        ">/dev/null",
	        FEDLEAD_CA, at("other"), at("mallory")) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return run("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

/* An encoded model with recognisable weights. */
static void model_file(uint8_t **buf, size_t *len)
{
	struct fl_schema *s = NULL;
	struct fl_model *m = NULL;

	assert_int_equal(fl_schema_parse(SCHEMA_JSON, strlen(SCHEMA_JSON), "test", &s), 0);
	assert_int_equal(fl_model_new(s, &m), 0);
	fl_schema_free(s);
	assert_int_equal(m->dim, 3); /* intercept, age, age (missing) */
	m->w[0] = -1.5;
	m->w[1] = 0.25;
	m->w[2] = 2;
	assert_int_equal(fl_model_set_str(&m->prov.solver, "fedavg"), 0);
	assert_int_equal(fl_model_encode(m, buf, len), 0);
	fl_model_free(m);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The model's own checksum, redone after a byte of it was changed. */
static void refresh_checksum(uint8_t *model, size_t mlen)
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(model, mlen - 32, model + mlen - 32, &n, EVP_sha256(), NULL),
	                 1);
	assert_int_equal(n, 32);
}

static void sign_with(const char *who, const uint8_t *file, size_t len, uint8_t **out,
                      size_t *out_len)
{
	char key[64], crt[64];

	snprintf(key, sizeof(key), "%s.key", who);
	snprintf(crt, sizeof(crt), "%s.crt", who);
	assert_int_equal(fl_model_file_sign(file, len, at(key), at(crt), out, out_len), 0);
}

/* Verifies against the federation CA and its CRL. */
static int verify(const uint8_t *file, size_t len, char *signer, size_t n)
{
	return fl_model_file_verify(file, len, at("ca/ca.crt"), at("ca/crl.pem"), signer, n);
}

static void test_sign_and_verify(void **state)
{
	uint8_t *file = NULL, *sgn = NULL;
	size_t len = 0, slen = 0, mlen = 0, siglen = 0;
	const uint8_t *sig = NULL;
	struct fl_model *m = NULL;
	char signer[128];

	(void)state;
	model_file(&file, &len);
	sign_with("coord", file, len, &sgn, &slen);

	/* The model, untouched, then the trailer around the block. */
	assert_true(slen > len + 12);
	assert_memory_equal(sgn, file, len);
	assert_memory_equal(sgn + len, "FLSIGN1\n", 8);
	assert_int_equal(be32(sgn + len + 8), slen - len - 12);
	assert_int_equal(fl_model_file_split(sgn, slen, &mlen, &sig, &siglen), 0);
	assert_int_equal(mlen, len);
	assert_ptr_equal(sig, sgn + len + 12);
	assert_int_equal(siglen, slen - len - 12);

	memset(signer, 'x', sizeof(signer));
	assert_int_equal(verify(sgn, slen, signer, sizeof(signer)), 0);
	assert_string_equal(signer, "coord");
	/* Without a CRL, and without wanting the name. */
	assert_int_equal(
	        fl_model_file_verify(sgn, slen, at("ca/ca.crt"), NULL, signer, sizeof(signer)), 0);
	assert_string_equal(signer, "coord");
	assert_int_equal(verify(sgn, slen, NULL, 0), 0);

	/* A plain decoder still reads a signed file as the model it carries. */
	assert_int_equal(fl_model_decode(sgn, slen, "signed.flm", &m), 0);
	assert_int_equal(m->dim, 3);
	assert_true(m->w[0] == -1.5 && m->w[1] == 0.25 && m->w[2] == 2);
	assert_string_equal(m->prov.solver, "fedavg");
	fl_model_free(m);

	/* Round trip through the file functions. */
	assert_int_equal(fl_model_write_file(at("signed.flm"), sgn, slen), 0);
	free(sgn);
	sgn = NULL;
	assert_int_equal(fl_model_read_file(at("signed.flm"), &sgn, &slen), 0);
	assert_int_equal(verify(sgn, slen, signer, sizeof(signer)), 0);
	assert_string_equal(signer, "coord");
	assert_int_equal(fl_model_load(at("signed.flm"), &m), 0);
	assert_true(m->w[2] == 2);
	fl_model_free(m);
	assert_int_equal(unlink(at("signed.flm")), 0);
	free(sgn);
	free(file);
}

static void test_unsigned_refused(void **state)
{
	uint8_t *file = NULL;
	size_t len = 0;
	char signer[64] = "stale";

	(void)state;
	model_file(&file, &len);
	assert_int_equal(verify(file, len, signer, sizeof(signer)), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "model is not signed");
	assert_string_equal(signer, "");
	free(file);
}

static void test_tampered_model_refused(void **state)
{
	uint8_t *file = NULL, *sgn = NULL;
	size_t len = 0, slen = 0;
	char signer[64];

	(void)state;
	model_file(&file, &len);
	sign_with("coord", file, len, &sgn, &slen);

	/* A weight changed by someone who also redid the checksum: only the
	 * signature can tell. Byte len - 40 is inside the payload. */
	sgn[len - 40] ^= 0x01;
	refresh_checksum(sgn, len);
	strcpy(signer, "stale");
	assert_int_equal(verify(sgn, slen, signer, sizeof(signer)), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), MSG_BAD_SIGNATURE);
	assert_string_equal(signer, "");

	/* Every other single-byte change of the model part is refused too. */
	sgn[len - 40] ^= 0x01;
	refresh_checksum(sgn, len);
	assert_int_equal(verify(sgn, slen, signer, sizeof(signer)), 0);
	for (size_t i = 0; i < len; i++) {
		int r;

		sgn[i] ^= 0x20;
		r = verify(sgn, slen, signer, sizeof(signer));
		if (r == 0 || signer[0] != '\0')
			fail_msg("changing byte %zu of the model was not refused", i);
		/* A changed header is no longer framed as a signed model. */
		if (i >= 12 && r != FL_ERR_AUTH)
			fail_msg("changing byte %zu: %d %s", i, r, fl_errmsg());
		sgn[i] ^= 0x20;
	}
	free(sgn);
	free(file);
}

static void test_tampered_signature_refused(void **state)
{
	uint8_t *file = NULL, *sgn = NULL;
	size_t len = 0, slen = 0;
	char signer[64];

	(void)state;
	model_file(&file, &len);
	sign_with("coord", file, len, &sgn, &slen);
	/* Whatever byte of the block changes, the file is refused. */
	for (size_t i = len + 12; i < slen; i++) {
		sgn[i] ^= 0x01;
		if (verify(sgn, slen, signer, sizeof(signer)) == 0)
			fail_msg("changing byte %zu of the signature block was not refused", i);
		sgn[i] ^= 0x01;
	}
	/* The last byte is inside the signature value itself. */
	sgn[slen - 1] ^= 0x01;
	assert_int_equal(verify(sgn, slen, signer, sizeof(signer)), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), MSG_BAD_SIGNATURE);
	sgn[slen - 1] ^= 0x01;

	/* A damaged trailer is a damaged file. */
	assert_int_equal(verify(sgn, slen - 1, signer, sizeof(signer)), FL_ERR_MODEL);
	{
		char msg[128];

		snprintf(msg, sizeof(msg), "model: truncated signature (%zu bytes, expected %zu)",
		         slen - 1, slen);
		assert_string_equal(fl_errmsg(), msg);
	}
	free(sgn);
	free(file);
}

static void test_untrusted_signers_refused(void **state)
{
	uint8_t *file = NULL, *sgn = NULL;
	size_t len = 0, slen = 0;
	char signer[64];

	(void)state;
	model_file(&file, &len);

	/* A coordinator of another federation. */
	sign_with("mallory", file, len, &sgn, &slen);
	strcpy(signer, "stale");
	assert_int_equal(verify(sgn, slen, signer, sizeof(signer)), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), MSG_OTHER_CA);
	assert_string_equal(signer, "");
	/* ...which its own CA vouches for. */
	assert_int_equal(
	        fl_model_file_verify(sgn, slen, at("other/ca.crt"), NULL, signer, sizeof(signer)),
	        0);
	assert_string_equal(signer, "mallory");
	free(sgn);

	/* A revoked coordinator: refused with the CRL, not without. */
	sign_with("retired", file, len, &sgn, &slen);
	assert_int_equal(verify(sgn, slen, signer, sizeof(signer)), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), MSG_REVOKED);
	assert_string_equal(signer, "");
	assert_int_equal(
	        fl_model_file_verify(sgn, slen, at("ca/ca.crt"), NULL, signer, sizeof(signer)), 0);
	assert_string_equal(signer, "retired");
	free(sgn);

	/* A partner's certificate chains to the same CA, but only a coordinator
	 * may sign a model. */
	sign_with("acme", file, len, &sgn, &slen);
	assert_int_equal(verify(sgn, slen, signer, sizeof(signer)), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "model was signed by \"acme\", whose certificate is not "
	                                 "a coordinator's (no serverAuth)");
	assert_string_equal(signer, "");
	free(sgn);
	free(file);
}

static void test_sign_refuses(void **state)
{
	uint8_t *file = NULL, *sgn = NULL, *again = (uint8_t *)&again;
	size_t len = 0, slen = 0, alen = 99;

	(void)state;
	model_file(&file, &len);
	sign_with("coord", file, len, &sgn, &slen);
	assert_int_equal(
	        fl_model_file_sign(sgn, slen, at("coord.key"), at("coord.crt"), &again, &alen),
	        FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "model is already signed");
	assert_null(again);
	assert_int_equal(alen, 0);

	/* Only a model that loads is signed. */
	file[len - 1] ^= 0x01;
	assert_int_equal(
	        fl_model_file_sign(file, len, at("coord.key"), at("coord.crt"), &again, &alen),
	        FL_ERR_MODEL);
	assert_string_equal(fl_errmsg(), "model: model file is corrupt (checksum mismatch)");
	assert_int_equal(fl_model_file_sign((const uint8_t *)"{}", 2, at("coord.key"),
	                                    at("coord.crt"), &again, &alen),
	                 FL_ERR_MODEL);
	assert_string_equal(fl_errmsg(), "model: not a fedlead model file");
	assert_null(again);
	free(sgn);
	free(file);
}

/* A signature that holds over a model this fedlead cannot load. */
static void test_signed_but_unloadable(void **state)
{
	Fedlead__ModelFile *mf;
	uint8_t *file = NULL, *payload, *block = NULL, *sgn;
	size_t len = 0, plen, blen = 0, slen;
	char signer[64];

	(void)state;
	model_file(&file, &len);
	mf = fedlead__model_file__unpack(NULL, len - 44, file + 12);
	assert_non_null(mf);
	mf->format_major = 2;
	plen = fedlead__model_file__get_packed_size(mf);
	/* Same length as before: only the value of one varint changed. */
	assert_int_equal(plen, len - 44);
	payload = file + 12;
	assert_int_equal(fedlead__model_file__pack(mf, payload), plen);
	fedlead__model_file__free_unpacked(mf, NULL);
	refresh_checksum(file, len);

	/* fl_model_file_sign() would refuse it, so sign the bytes directly. */
	assert_int_equal(fl_sign_blob(at("coord.key"), at("coord.crt"), file, len, &block, &blen),
	                 0);
	slen = len + 12 + blen;
	sgn = malloc(slen);
	assert_non_null(sgn);
	memcpy(sgn, file, len);
	memcpy(sgn + len, "FLSIGN1\n", 8);
	sgn[len + 8] = (uint8_t)(blen >> 24);
	sgn[len + 9] = (uint8_t)(blen >> 16);
	sgn[len + 10] = (uint8_t)(blen >> 8);
	sgn[len + 11] = (uint8_t)blen;
	memcpy(sgn + len + 12, block, blen);
	strcpy(signer, "stale");
	assert_int_equal(verify(sgn, slen, signer, sizeof(signer)), FL_ERR_MODEL);
	assert_string_equal(fl_errmsg(),
	                    "model: model format 2.x is not supported by this fedlead (1.x)");
	assert_string_equal(signer, "");
	free(sgn);
	free(block);
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sign_and_verify),
	        cmocka_unit_test(test_unsigned_refused),
	        cmocka_unit_test(test_tampered_model_refused),
	        cmocka_unit_test(test_tampered_signature_refused),
	        cmocka_unit_test(test_untrusted_signers_refused),
	        cmocka_unit_test(test_sign_refuses),
	        cmocka_unit_test(test_signed_but_unloadable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
