/*
 * Tests for src/sign.c: signing a blob with a federation certificate and
 * verifying it against the CA (and CRL).
 *
 * Certificates are made at test time with deploy/fedlead-ca, and with the
 * openssl command for what the tool does not make (RSA and Ed25519 keys, a
 * CA with an intermediate). Signatures are cross-checked with the openssl
 * command in both directions: one made here is verified by
 * `openssl dgst -verify`, and one made by `openssl dgst -sign` and packed
 * by the test is accepted by fl_verify_blob().
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

#include "fedlead/error.h"
#include "fedlead/signature.h"
#include "sign.pb-c.h"
#include "support/pki.h"

#define REQ_CNF "printf '[req]\\ndistinguished_name = dn\\n[dn]\\n' > req.cnf"

/* A leaf with key made by KEYGEN, signed by ISSUER (prefix of .crt/.key). */
static int raw_leaf(const char *name, const char *keygen, const char *issuer, const char *ext)
{
	return sh(REQ_CNF
	          " && %s -out %s.key && "
	          "openssl req -config req.cnf -new -key %s.key -subj '/CN=%s' -out %s.csr && "
	          "printf '%s' > %s.ext && "
	          "openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key -CAcreateserial -days 30 "
	          "-extfile %s.ext -out %s.crt",
	          keygen, name, name, name, name, ext, name, name, issuer, issuer, name, name);
}

#define EC_KEYGEN "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"
#define LEAF_EXT "basicConstraints = CA:FALSE\\nkeyUsage = digitalSignature\\n"
#define CA_EXT "basicConstraints = critical,CA:TRUE\\nkeyUsage = keyCertSign,cRLSign\\n"

static int setup(void **state)
{
	(void)state;
	if (pki_setup("/tmp/fl_test_sign.XXXXXX") != 0 ||
	    ca("issue --dir ca --name coord.example --role coordinator --out coord") != 0 ||
	    ca("issue --dir ca --name acme --role partner --out acme") != 0 ||
	    ca("issue --dir ca --name oldcoord --role coordinator --out oldcoord") != 0 ||
	    ca("revoke --dir ca --cert oldcoord.crt --reason keyCompromise") != 0 ||
	    ca("issue --dir ca --name expco --role coordinator --start 20200101000000Z "
	       "--end 20200102000000Z --out expco") != 0 ||
	    ca("init --dir other") != 0 ||
	    ca("issue --dir other --name coord.example --role coordinator --out "
	       "other-coord") != 0 ||
	    sh("cp ca/ca.crt cacert.crt && cp ca/ca.key cacert.key") != 0 ||
	    raw_leaf("rsa", "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048",
	             "cacert", LEAF_EXT) != 0 ||
	    raw_leaf("ed", "openssl genpkey -algorithm ED25519", "cacert", LEAF_EXT) != 0 ||
	    /* root -> intermediate -> leaf, the leaf's file carrying the
	     * intermediate after it */
	    sh(EC_KEYGEN " -out root.key && openssl req -config req.cnf -x509 -new -key root.key "
	                 "-subj /CN=Root -days 30 -addext basicConstraints=critical,CA:TRUE "
	                 "-addext keyUsage=keyCertSign,cRLSign -out root.crt") != 0 ||
	    raw_leaf("inter", EC_KEYGEN, "root", CA_EXT) != 0 ||
	    raw_leaf("leaf", EC_KEYGEN, "inter", LEAF_EXT) != 0 ||
	    sh("cat leaf.crt inter.crt > leaf-chain.crt") != 0)
		return -1;
	return 0;
}

static const uint8_t MODEL[] = "FLMODEL\n\x00\x00\x00\x10 a model payload, then its checksum";
#define MODEL_LEN (sizeof(MODEL) - 1)

static void sign_ok(const char *key, const char *crt, const uint8_t *data, size_t len,
                    uint8_t **block, size_t *blen)
{
	if (fl_sign_blob(P(key), P(crt), data, len, block, blen) != 0)
		fail_msg("sign: %s", fl_errmsg());
	assert_non_null(*block);
	assert_true(*blen > 0);
}

static int verify(const uint8_t *data, size_t len, const uint8_t *block, size_t blen,
                  const char *ca, const char *crl, char *signer)
{
	return fl_verify_blob(data, len, block, blen, P(ca), crl ? P(crl) : NULL, signer, 80);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static uint8_t *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(65536);

	assert_non_null(f);
	assert_non_null(buf);
	*n = fread(buf, 1, 65536, f);
	assert_true(*n < 65536);
	fclose(f);
	return buf;
}

static void test_round_trip(void **state)
{
	(void)state;
	uint8_t *block = NULL, *der;
	size_t blen = 0, derlen;
	char signer[80];
	Fedlead__Sign__SignatureBlock *sb;

	sign_ok("coord.key", "coord.crt", MODEL, MODEL_LEN, &block, &blen);
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "ca/ca.crt", "ca/crl.pem", signer),
	                 0);
	assert_string_equal(signer, "coord.example");

	/* What the block holds, read with the generated code. */
	assert_non_null(sb = fedlead__sign__signature_block__unpack(NULL, blen, block));
	assert_string_equal(sb->digest, "sha256");
	assert_int_equal(sb->n_chain, 0);
	assert_int_equal(sh("openssl x509 -in coord.crt -outform DER -out coord.der"), 0);
	der = read_file(P("coord.der"), &derlen);
	assert_int_equal(sb->signer_cert.len, derlen);
	assert_memory_equal(sb->signer_cert.data, der, derlen);
	free(der);

	/* The openssl command agrees the signature is SHA-256 ECDSA over the
	 * model bytes as given. */
	write_file(P("model.bin"), MODEL, MODEL_LEN);
	write_file(P("model.sig"), sb->signature.data, sb->signature.len);
	assert_int_equal(
	        sh("openssl x509 -in coord.crt -noout -pubkey > coord.pub && "
	           "openssl dgst -sha256 -verify coord.pub -signature model.sig model.bin"),
	        0);
	fedlead__sign__signature_block__free_unpacked(sb, NULL);
	free(block);

	/* Empty data signs and verifies too. */
	sign_ok("coord.key", "coord.crt", NULL, 0, &block, &blen);
	assert_int_equal(verify(NULL, 0, block, blen, "ca/ca.crt", NULL, signer), 0);
	assert_int_equal(verify(MODEL, 1, block, blen, "ca/ca.crt", NULL, signer), FL_ERR_AUTH);
	free(block);
}

/* A signature made by the openssl command, packed here, is accepted. */
static void test_verifies_openssl_signature(void **state)
{
	(void)state;
	Fedlead__Sign__SignatureBlock sb = FEDLEAD__SIGN__SIGNATURE_BLOCK__INIT;
	uint8_t *der, *sig, *block;
	size_t derlen, siglen, blen;
	char signer[80];

	write_file(P("model2.bin"), MODEL, MODEL_LEN);
	assert_int_equal(sh("openssl dgst -sha256 -sign acme.key -out model2.sig model2.bin && "
	                    "openssl x509 -in acme.crt -outform DER -out acme.der"),
	                 0);
	der = read_file(P("acme.der"), &derlen);
	sig = read_file(P("model2.sig"), &siglen);
	sb.signer_cert.data = der;
	sb.signer_cert.len = derlen;
	sb.digest = "sha256";
	sb.signature.data = sig;
	sb.signature.len = siglen;
	blen = fedlead__sign__signature_block__get_packed_size(&sb);
	assert_non_null(block = malloc(blen));
	fedlead__sign__signature_block__pack(&sb, block);
	/* acme's certificate chains to the federation CA, but a partner is not
	 * the coordinator: its signature on a model is refused. */
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "ca/ca.crt", "ca/crl.pem", signer),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "model was signed by \"acme\", whose certificate is not "
	                                 "a coordinator's (no serverAuth)");
	assert_string_equal(signer, "");
	free(block);
	free(der);
	free(sig);

	/* The same by the coordinator's key, made with the openssl command. */
	assert_int_equal(sh("openssl dgst -sha256 -sign coord.key -out model2.sig model2.bin && "
	                    "openssl x509 -in coord.crt -outform DER -out coord.der"),
	                 0);
	der = read_file(P("coord.der"), &derlen);
	sig = read_file(P("model2.sig"), &siglen);
	sb.signer_cert.data = der;
	sb.signer_cert.len = derlen;
	sb.signature.data = sig;
	sb.signature.len = siglen;
	blen = fedlead__sign__signature_block__get_packed_size(&sb);
	assert_non_null(block = malloc(blen));
	fedlead__sign__signature_block__pack(&sb, block);
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "ca/ca.crt", "ca/crl.pem", signer),
	                 0);
	assert_string_equal(signer, "coord.example");

	/* A weaker digest is not something a block can ask for. */
	sb.digest = "md5";
	fedlead__sign__signature_block__pack(&sb, block);
	blen = fedlead__sign__signature_block__get_packed_size(&sb);
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "ca/ca.crt", NULL, signer),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "malformed signature block (digest \"md5\", expected \"sha256\")");
	assert_string_equal(signer, "");
	free(block);
	free(der);
	free(sig);
}

static void test_altered_data_refused(void **state)
{
	(void)state;
	uint8_t *block = NULL, copy[MODEL_LEN];
	size_t blen = 0;
	char signer[80];

	sign_ok("coord.key", "coord.crt", MODEL, MODEL_LEN, &block, &blen);
	/* One flipped bit anywhere: first byte, a middle one, the last one. */
	for (size_t pos = 0; pos < MODEL_LEN; pos += MODEL_LEN / 4) {
		memcpy(copy, MODEL, MODEL_LEN);
		copy[pos] ^= 0x01;
		assert_int_equal(verify(copy, MODEL_LEN, block, blen, "ca/ca.crt", NULL, signer),
		                 FL_ERR_AUTH);
		assert_string_equal(fl_errmsg(), "model signature does not verify (the model was "
		                                 "altered or signed by another key)");
		assert_string_equal(signer, "");
	}
	memcpy(copy, MODEL, MODEL_LEN);
	copy[MODEL_LEN - 1] ^= 0x80;
	assert_int_equal(verify(copy, MODEL_LEN, block, blen, "ca/ca.crt", NULL, signer),
	                 FL_ERR_AUTH);
	/* One byte short. */
	assert_int_equal(verify(MODEL, MODEL_LEN - 1, block, blen, "ca/ca.crt", NULL, signer),
	                 FL_ERR_AUTH);
	free(block);
}

/* Another certificate with a valid chain put in front of the signature. */
static void test_swapped_certificate_refused(void **state)
{
	(void)state;
	Fedlead__Sign__SignatureBlock *sb;
	uint8_t *block = NULL, *der, *forged;
	size_t blen = 0, derlen, flen;
	char signer[80];

	sign_ok("coord.key", "coord.crt", MODEL, MODEL_LEN, &block, &blen);
	assert_non_null(sb = fedlead__sign__signature_block__unpack(NULL, blen, block));
	/* oldcoord is a coordinator certificate of the same CA (revoked, but
	 * no CRL is given here), so only the signature itself can fail. */
	assert_int_equal(sh("openssl x509 -in oldcoord.crt -outform DER -out oldcoord2.der"), 0);
	der = read_file(P("oldcoord2.der"), &derlen);
	free(sb->signer_cert.data);
	sb->signer_cert.data = der;
	sb->signer_cert.len = derlen;
	flen = fedlead__sign__signature_block__get_packed_size(sb);
	assert_non_null(forged = malloc(flen));
	fedlead__sign__signature_block__pack(sb, forged);
	assert_int_equal(verify(MODEL, MODEL_LEN, forged, flen, "ca/ca.crt", NULL, signer),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "model signature does not verify (the model was altered "
	                                 "or signed by another key)");
	fedlead__sign__signature_block__free_unpacked(sb, NULL);
	free(forged);
	free(block);
}

static void test_untrusted_signers(void **state)
{
	(void)state;
	uint8_t *block = NULL;
	size_t blen = 0;
	char signer[80];

	/* Same name, another CA. */
	sign_ok("other-coord.key", "other-coord.crt", MODEL, MODEL_LEN, &block, &blen);
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "ca/ca.crt", "ca/crl.pem", signer),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "model signer certificate is not trusted: unable to get "
	                                 "local issuer certificate");
	assert_string_equal(signer, "");
	/* It does verify against its own CA. */
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "other/ca.crt", NULL, signer), 0);
	free(block);

	/* Revoked: refused with the CRL, accepted without it. */
	sign_ok("oldcoord.key", "oldcoord.crt", MODEL, MODEL_LEN, &block, &blen);
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "ca/ca.crt", "ca/crl.pem", signer),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "model signer certificate is not trusted: certificate "
	                                 "revoked");
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "ca/ca.crt", NULL, signer), 0);
	assert_string_equal(signer, "oldcoord");
	free(block);

	sign_ok("expco.key", "expco.crt", MODEL, MODEL_LEN, &block, &blen);
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "ca/ca.crt", NULL, signer),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "model signer certificate is not trusted: certificate has "
	                                 "expired");
	free(block);
}

static void test_key_types_and_chain(void **state)
{
	(void)state;
	Fedlead__Sign__SignatureBlock *sb;
	uint8_t *block = NULL;
	size_t blen = 0;
	char signer[80];

	sign_ok("rsa.key", "rsa.crt", MODEL, MODEL_LEN, &block, &blen);
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "ca/ca.crt", "ca/crl.pem", signer),
	                 0);
	assert_string_equal(signer, "rsa");
	assert_non_null(sb = fedlead__sign__signature_block__unpack(NULL, blen, block));
	assert_string_equal(sb->digest, "sha256");
	assert_int_equal(sb->signature.len, 256); /* 2048-bit RSA */
	fedlead__sign__signature_block__free_unpacked(sb, NULL);
	free(block);

	sign_ok("ed.key", "ed.crt", MODEL, MODEL_LEN, &block, &blen);
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "ca/ca.crt", NULL, signer), 0);
	assert_string_equal(signer, "ed");
	assert_non_null(sb = fedlead__sign__signature_block__unpack(NULL, blen, block));
	assert_string_equal(sb->digest, "none");
	assert_int_equal(sb->signature.len, 64); /* Ed25519 */
	fedlead__sign__signature_block__free_unpacked(sb, NULL);
	assert_int_equal(verify(MODEL, MODEL_LEN - 1, block, blen, "ca/ca.crt", NULL, signer),
	                 FL_ERR_AUTH);
	free(block);

	/* The intermediate travels in the block; the root alone verifies. */
	sign_ok("leaf.key", "leaf-chain.crt", MODEL, MODEL_LEN, &block, &blen);
	assert_non_null(sb = fedlead__sign__signature_block__unpack(NULL, blen, block));
	assert_int_equal(sb->n_chain, 1);
	fedlead__sign__signature_block__free_unpacked(sb, NULL);
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "root.crt", NULL, signer), 0);
	assert_string_equal(signer, "leaf");
	free(block);
	/* Without it, the leaf does not chain. */
	sign_ok("leaf.key", "leaf.crt", MODEL, MODEL_LEN, &block, &blen);
	assert_int_equal(verify(MODEL, MODEL_LEN, block, blen, "root.crt", NULL, signer),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "model signer certificate is not trusted: unable to get "
	                                 "local issuer certificate");
	free(block);
}

static void test_malformed_blocks(void **state)
{
	(void)state;
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
	Fedlead__Sign__SignatureBlock sb = FEDLEAD__SIGN__SIGNATURE_BLOCK__INIT;
	uint8_t *big, buf[256], *block = NULL;
	size_t n, blen = 0;
	char signer[80];

	assert_int_equal(verify(MODEL, MODEL_LEN, junk, sizeof(junk), "ca/ca.crt", NULL, signer),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "malformed signature block (not a SignatureBlock)");
	assert_int_equal(verify(MODEL, MODEL_LEN, NULL, 0, "ca/ca.crt", NULL, signer), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "malformed signature block (empty)");

	/* Over the limit is refused from its length alone. */
	assert_non_null(big = calloc(1, FL_SIGN_MAX_BLOCK + 1));
	assert_int_equal(
	        verify(MODEL, MODEL_LEN, big, FL_SIGN_MAX_BLOCK + 1, "ca/ca.crt", NULL, signer),
	        FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "malformed signature block (1048577 bytes, the limit is 1048576)");
	free(big);

	sb.signer_cert.data = (uint8_t *)"not DER";
	sb.signer_cert.len = 7;
	sb.digest = "sha256";
	sb.signature.data = (uint8_t *)"sig";
	sb.signature.len = 3;
	n = fedlead__sign__signature_block__pack(&sb, buf);
	assert_int_equal(verify(MODEL, MODEL_LEN, buf, n, "ca/ca.crt", NULL, signer), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "malformed signature block (the signer certificate is not DER X.509)");
	sb.signature.len = 0;
	n = fedlead__sign__signature_block__pack(&sb, buf);
	assert_int_equal(verify(MODEL, MODEL_LEN, buf, n, "ca/ca.crt", NULL, signer), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "malformed signature block (no signature)");

	/* Every truncation of a real block is refused, never accepted. */
	sign_ok("coord.key", "coord.crt", MODEL, MODEL_LEN, &block, &blen);
	for (size_t cut = 0; cut < blen; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);

		assert_non_null(copy);
		memcpy(copy, block, cut);
		assert_int_equal(verify(MODEL, MODEL_LEN, copy, cut, "ca/ca.crt", NULL, signer),
		                 FL_ERR_AUTH);
		free(copy);
	}
	free(block);
}

static void test_sign_errors(void **state)
{
	(void)state;
	uint8_t *block = (uint8_t *)0x1, *good = NULL;
	size_t blen = 9, glen = 0;
	char want[512], signer[80];

	assert_int_equal(
	        fl_sign_blob(P("acme.key"), P("coord.crt"), MODEL, MODEL_LEN, &block, &blen),
	        FL_ERR_CONFIG);
	assert_null(block);
	assert_int_equal(blen, 0);
	snprintf(want, sizeof(want), "%s: private key does not match the certificate %s",
	         P("acme.key"), P("coord.crt"));
	assert_string_equal(fl_errmsg(), want);

	assert_int_equal(
	        fl_sign_blob(P("missing.key"), P("coord.crt"), MODEL, MODEL_LEN, &block, &blen),
	        FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: cannot load private key: No such file or directory",
	         P("missing.key"));
	assert_string_equal(fl_errmsg(), want);

	assert_int_equal(
	        fl_sign_blob(P("coord.key"), P("coord.key"), MODEL, MODEL_LEN, &block, &blen),
	        FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: cannot load certificate: no start line", P("coord.key"));
	assert_string_equal(fl_errmsg(), want);

	/* Verification with an unusable CA or CRL file names it. */
	sign_ok("coord.key", "coord.crt", MODEL, MODEL_LEN, &good, &glen);
	assert_int_equal(fl_verify_blob(MODEL, MODEL_LEN, good, glen, P("missing.crt"), NULL,
	                                signer, sizeof(signer)),
	                 FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: cannot load CA certificate: No such file or directory",
	         P("missing.crt"));
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(fl_verify_blob(MODEL, MODEL_LEN, good, glen, P("ca/ca.crt"),
	                                P("coord.crt"), signer, sizeof(signer)),
	                 FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: no CRL in the file", P("coord.crt"));
	assert_string_equal(fl_errmsg(), want);
	/* A signer buffer too small for the name. */
	assert_int_equal(
	        fl_verify_blob(MODEL, MODEL_LEN, good, glen, P("ca/ca.crt"), NULL, signer, 13),
	        FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "signer identity of 13 bytes does not fit 13");
	free(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_verifies_openssl_signature),
	        cmocka_unit_test(test_altered_data_refused),
	        cmocka_unit_test(test_swapped_certificate_refused),
	        cmocka_unit_test(test_untrusted_signers),
	        cmocka_unit_test(test_key_types_and_chain),
	        cmocka_unit_test(test_malformed_blocks),
	        cmocka_unit_test(test_sign_errors),
	};

	return cmocka_run_group_tests(tests, setup, pki_teardown);
}
