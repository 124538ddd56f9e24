/*
 * Tests for the one CA/CRL store loader (fl_cert_store_add/load in
 * src/crypto/certs.c) that secure aggregation, model signatures and the TLS
 * contexts share: what it trusts, that the CRL is really checked, that a
 * damaged file is refused rather than cut short, and the exact texts of
 * both wordings. A CA, a partner and a revoked partner are made for the
 * test with deploy/fedlead-ca.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "fedlead/certs.h"
#include "fedlead/error.h"
#include "support/pki.h"

/* A PEM block whose body is not base64: a damaged entry. */
#define DAMAGED(kind) "-----BEGIN " kind "-----\n!!not base64!!\n-----END " kind "-----\n"

/* name = the bytes of file from, then extra. */
static int append_copy(const char *name, const char *from, const char *extra)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cat '%s' > '%s' && printf '%%s' '%s' >> '%s'", from, name,
	         extra, name);
	return sh("%s", cmd);
}

static int setup(void **state)
{
	(void)state;
	if (pki_setup("/tmp/fl_test_certs.XXXXXX") != 0 ||
	    ca("issue --dir ca --name acme --role partner --out acme") != 0 ||
	    ca("issue --dir ca --name gone --role partner --out gone") != 0 ||
	    ca("revoke --dir ca --cert gone.crt --reason keyCompromise") != 0 ||
	    append_copy("ca-damaged.crt", P("ca/ca.crt"), DAMAGED("CERTIFICATE")) != 0 ||
	    append_copy("crl-damaged.pem", P("ca/crl.pem"), DAMAGED("X509 CRL")) != 0 ||
	    sh("printf 'no PEM here\\n' > text.txt") != 0)
		return -1;
	return 0;
}

/* The verification error for certificate file name against store. */
static int verify(X509_STORE *store, const char *name)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *cert;
	FILE *f;
	int e;

	assert_non_null(ctx);
	assert_non_null(f = fopen(P(name), "r"));
	assert_non_null(cert = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
	e = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_free(cert);
	ERR_clear_error();
	return e;
}

static void test_trusts_the_ca_and_checks_the_crl(void **state)
{
	X509_STORE *st = NULL;

	(void)state;
	for (int t = 0; t < 2; t++) {
		enum fl_cert_texts texts = t ? FL_CERT_TEXTS_SHORT : FL_CERT_TEXTS_OPENSSL;

		/* Without a CRL the revoked partner still chains. */
		assert_int_equal(fl_cert_store_load(P("ca/ca.crt"), NULL, texts, &st), 0);
		assert_int_equal(verify(st, "acme.crt"), X509_V_OK);
		assert_int_equal(verify(st, "gone.crt"), X509_V_OK);
		X509_STORE_free(st);

		assert_int_equal(fl_cert_store_load(P("ca/ca.crt"), P("ca/crl.pem"), texts, &st),
		                 0);
		assert_int_equal(verify(st, "acme.crt"), X509_V_OK);
		assert_int_equal(verify(st, "gone.crt"), X509_V_ERR_CERT_REVOKED);
		assert_true((X509_VERIFY_PARAM_get_flags(X509_STORE_get0_param(st)) &
		             (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL)) ==
		            (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL));
		X509_STORE_free(st);
		assert_int_equal(ERR_peek_error(), 0);
	}
	/* Into an existing store, as the TLS contexts do. */
	assert_non_null(st = X509_STORE_new());
	assert_int_equal(
	        fl_cert_store_add(st, P("ca/ca.crt"), P("ca/crl.pem"), FL_CERT_TEXTS_OPENSSL), 0);
	assert_int_equal(verify(st, "gone.crt"), X509_V_ERR_CERT_REVOKED);
	X509_STORE_free(st);
}

/* fl_cert_store_load() must fail with code and the message want (a prefix
 * when prefix is set), leave *out NULL and OpenSSL's queue empty. */
static void expect_fail(const char *ca, const char *crl, enum fl_cert_texts texts, int code,
                        const char *want, int prefix)
{
	X509_STORE *st = (X509_STORE *)1;

	assert_int_equal(fl_cert_store_load(ca, crl, texts, &st), code);
	assert_null(st);
	if (prefix)
		assert_memory_equal(fl_errmsg(), want, strlen(want));
	else
		assert_string_equal(fl_errmsg(), want);
	assert_int_equal(ERR_peek_error(), 0);
}

static void test_openssl_texts(void **state)
{
	const enum fl_cert_texts T = FL_CERT_TEXTS_OPENSSL;
	char want[512];

	(void)state;
	snprintf(want, sizeof(want), "%s: cannot load CA certificate: No such file or directory",
	         P("missing.crt"));
	expect_fail(P("missing.crt"), NULL, T, FL_ERR_CONFIG, want, 0);
	snprintf(want, sizeof(want), "%s: cannot load CA certificate: ", P("text.txt"));
	expect_fail(P("text.txt"), NULL, T, FL_ERR_CONFIG, want, 1);
	/* A good certificate followed by a damaged one is not a good file. */
	snprintf(want, sizeof(want), "%s: cannot load CA certificate: ", P("ca-damaged.crt"));
	expect_fail(P("ca-damaged.crt"), NULL, T, FL_ERR_CONFIG, want, 1);

	snprintf(want, sizeof(want), "%s: cannot load CRL: No such file or directory",
	         P("missing.crl"));
	expect_fail(P("ca/ca.crt"), P("missing.crl"), T, FL_ERR_CONFIG, want, 0);
	snprintf(want, sizeof(want), "%s: no CRL in the file", P("ca/ca.crt"));
	expect_fail(P("ca/ca.crt"), P("ca/ca.crt"), T, FL_ERR_CONFIG, want, 0);
	snprintf(want, sizeof(want), "%s: cannot load CRL: ", P("crl-damaged.pem"));
	expect_fail(P("ca/ca.crt"), P("crl-damaged.pem"), T, FL_ERR_CONFIG, want, 1);
}

static void test_short_texts(void **state)
{
	const enum fl_cert_texts T = FL_CERT_TEXTS_SHORT;
	char want[512];

	(void)state;
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory",
	         P("missing.crt"));
	expect_fail(P("missing.crt"), NULL, T, FL_ERR_CONFIG, want, 0);
	snprintf(want, sizeof(want), "%s: no CA certificate in the file", P("text.txt"));
	expect_fail(P("text.txt"), NULL, T, FL_ERR_CONFIG, want, 0);
	snprintf(want, sizeof(want), "%s: cannot use a CA certificate", P("ca-damaged.crt"));
	expect_fail(P("ca-damaged.crt"), NULL, T, FL_ERR_CONFIG, want, 0);

	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory",
	         P("missing.crl"));
	expect_fail(P("ca/ca.crt"), P("missing.crl"), T, FL_ERR_CONFIG, want, 0);
	snprintf(want, sizeof(want), "%s: no CRL in the file", P("text.txt"));
	expect_fail(P("ca/ca.crt"), P("text.txt"), T, FL_ERR_CONFIG, want, 0);
	snprintf(want, sizeof(want), "%s: cannot use a CRL", P("crl-damaged.pem"));
	expect_fail(P("ca/ca.crt"), P("crl-damaged.pem"), T, FL_ERR_CONFIG, want, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_trusts_the_ca_and_checks_the_crl),
	        cmocka_unit_test(test_openssl_texts),
	        cmocka_unit_test(test_short_texts),
	};

	return cmocka_run_group_tests(tests, setup, pki_teardown);
}
