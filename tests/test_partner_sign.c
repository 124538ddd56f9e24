/*
 * Tests for src/crypto/partner_sign.c, the signatures partners make over
 * their key advertisements, and the CA/CRL store they are checked against.
 *
 * Expected values never come from the code under test: a key advertisement
 * made here is verified by `openssl dgst -verify` over the message encoding
 * as the header documents it. Certificates are made at test time with
 * deploy/fedlead-ca.
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

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fedlead/error.h"
#include "fedlead/partner_sign.h"
#include "support/pki.h"

static int certs_setup(void **state)
{
	(void)state;
	if (pki_setup("/tmp/fl_test_secagg.XXXXXX") != 0 ||
	    ca("issue --dir ca --name acme --role partner --out acme") != 0 ||
	    ca("issue --dir ca --name mallory --role partner --out mallory") != 0 ||
	    ca("issue --dir ca --name coord.example --role coordinator --out coord") != 0 ||
	    ca("issue --dir ca --name gone --role partner --out gone") != 0 ||
	    ca("revoke --dir ca --cert gone.crt --reason keyCompromise") != 0 ||
	    ca("init --dir other") != 0 ||
	    ca("issue --dir other --name acme --role partner --out other-acme") != 0)
		return -1;
	return 0;
}

static EVP_PKEY *load_key(const char *name)
{
	EVP_PKEY *k = pki_load_key(name);

	assert_non_null(k);
	return k;
}

static uint8_t *load_der(const char *name, size_t *len)
{
	uint8_t *der = pki_load_der(name, len);

	assert_non_null(der);
	return der;
}

struct advert {
	uint8_t c_pub[FL_SA_KEY_LEN], s_pub[FL_SA_KEY_LEN];
	uint8_t *sig;
	size_t sig_len;
};

static void advert_make(const char *keyfile, const char *identity, struct advert *a)
{
	EVP_PKEY *k = load_key(keyfile);

	for (int i = 0; i < FL_SA_KEY_LEN; i++) {
		a->c_pub[i] = (uint8_t)(0x10 + i);
		a->s_pub[i] = (uint8_t)(0xa0 + i);
	}
	if (fl_sa_sign_keys(k, "fed-1", 42, identity, a->c_pub, a->s_pub, &a->sig, &a->sig_len) !=
	    0)
		fail_msg("sign: %s", fl_errmsg());
	EVP_PKEY_free(k);
}

static int verify(X509_STORE *st, const char *crt, const char *identity, const struct advert *a)
{
	size_t len;
	uint8_t *der = load_der(crt, &len);
	int r = fl_sa_verify_keys(st, der, len, "fed-1", 42, identity, a->c_pub, a->s_pub, a->sig,
	                          a->sig_len);

	OPENSSL_free(der);
	return r;
}

static void test_keys_sign_verify(void **state)
{
	X509_STORE *st = NULL;
	struct advert a;
	size_t len;
	uint8_t *der;

	(void)state;
	assert_int_equal(fl_sa_store_load(P("ca/ca.crt"), P("ca/crl.pem"), &st), 0);
	advert_make("acme.key", "acme", &a);
	assert_int_equal(verify(st, "acme.crt", "acme", &a), 0);
	/* Another round, federation or key: the signature is over them. */
	der = load_der("acme.crt", &len);
	assert_int_equal(fl_sa_verify_keys(st, der, len, "fed-1", 43, "acme", a.c_pub, a.s_pub,
	                                   a.sig, a.sig_len),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: signature does not verify");
	assert_int_equal(fl_sa_verify_keys(st, der, len, "fed-2", 42, "acme", a.c_pub, a.s_pub,
	                                   a.sig, a.sig_len),
	                 FL_ERR_AUTH);
	a.s_pub[5] ^= 1;
	assert_int_equal(verify(st, "acme.crt", "acme", &a), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: signature does not verify");
	a.s_pub[5] ^= 1;
	a.c_pub[31] ^= 0x40;
	assert_int_equal(verify(st, "acme.crt", "acme", &a), FL_ERR_AUTH);
	a.c_pub[31] ^= 0x40;
	/* Swapping c and s keys is another message too. */
	{
		struct advert b = a;

		memcpy(b.c_pub, a.s_pub, FL_SA_KEY_LEN);
		memcpy(b.s_pub, a.c_pub, FL_SA_KEY_LEN);
		assert_int_equal(verify(st, "acme.crt", "acme", &b), FL_ERR_AUTH);
	}
	a.sig[a.sig_len / 2] ^= 0x01;
	assert_int_equal(verify(st, "acme.crt", "acme", &a), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: signature does not verify");
	a.sig[a.sig_len / 2] ^= 0x01;
	assert_int_equal(
	        fl_sa_verify_keys(st, der, len, "fed-1", 42, "acme", a.c_pub, a.s_pub, a.sig, 0),
	        FL_ERR_AUTH);
	/* Garbage and trailing bytes are not a certificate. */
	assert_int_equal(fl_sa_verify_keys(st, der, len - 1, "fed-1", 42, "acme", a.c_pub, a.s_pub,
	                                   a.sig, a.sig_len),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: certificate is not DER X.509");
	{
		uint8_t *longer = malloc(len + 1);

		assert_non_null(longer);
		memcpy(longer, der, len);
		longer[len] = 0;
		assert_int_equal(fl_sa_verify_keys(st, longer, len + 1, "fed-1", 42, "acme",
		                                   a.c_pub, a.s_pub, a.sig, a.sig_len),
		                 FL_ERR_AUTH);
		assert_string_equal(fl_errmsg(),
		                    "key advertisement of acme: certificate is not DER X.509");
		free(longer);
	}
	assert_int_equal(verify(st, "acme.crt", "acme", &a), 0);
	OPENSSL_free(der);
	free(a.sig);
	X509_STORE_free(st);
}

static void test_keys_refused(void **state)
{
	X509_STORE *st = NULL;
	struct advert a, m, o, c, g;

	(void)state;
	assert_int_equal(fl_sa_store_load(P("ca/ca.crt"), P("ca/crl.pem"), &st), 0);
	/* mallory signs keys as acme, with her own certificate. */
	advert_make("mallory.key", "acme", &m);
	assert_int_equal(verify(st, "mallory.crt", "acme", &m), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "key advertisement of acme: certificate belongs to \"mallory\"");
	/* A certificate named acme by another CA. */
	advert_make("other-acme.key", "acme", &o);
	assert_int_equal(verify(st, "other-acme.crt", "acme", &o), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: certificate is not trusted: "
	                                 "unable to get local issuer certificate");
	/* acme's certificate with a signature by another key. */
	assert_int_equal(verify(st, "acme.crt", "acme", &o), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of acme: signature does not verify");
	/* The coordinator's certificate is not a partner's. */
	advert_make("coord.key", "coord.example", &c);
	assert_int_equal(verify(st, "coord.crt", "coord.example", &c), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of coord.example: certificate is not "
	                                 "trusted: unsuitable certificate purpose");
	/* A revoked partner. */
	advert_make("gone.key", "gone", &g);
	assert_int_equal(verify(st, "gone.crt", "gone", &g), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "key advertisement of gone: certificate is not trusted: "
	                                 "certificate revoked");
	/* An identity that is not a name is not echoed. */
	advert_make("acme.key", "acme", &a);
	assert_int_equal(verify(st, "acme.crt", "../acme", &a), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "key advertisement: identity is not a usable name");
	free(a.sig);
	free(m.sig);
	free(o.sig);
	free(c.sig);
	free(g.sig);
	X509_STORE_free(st);
	/* Without the CRL the revoked certificate passes: the store decides. */
	assert_int_equal(fl_sa_store_load(P("ca/ca.crt"), NULL, &st), 0);
	advert_make("gone.key", "gone", &g);
	assert_int_equal(verify(st, "gone.crt", "gone", &g), 0);
	free(g.sig);
	X509_STORE_free(st);
}

static void test_keys_openssl_verifies(void **state)
{
	/* The signed message as the header documents it, built here by hand,
	 * verified by the openssl command with acme's public key. */
	struct advert a;
	uint8_t msg[512];
	size_t n = 0;
	FILE *f;
	const char *fields[] = {"fedlead-secagg-keys-v1", "fed-1"};

	(void)state;
	advert_make("acme.key", "acme", &a);
#define PUT32(v)                                                                                   \
	do {                                                                                       \
		msg[n++] = 0;                                                                      \
		msg[n++] = 0;                                                                      \
		msg[n++] = 0;                                                                      \
		msg[n++] = (uint8_t)(v);                                                           \
	} while (0)
	for (int i = 0; i < 2; i++) {
		PUT32(strlen(fields[i]));
		memcpy(msg + n, fields[i], strlen(fields[i]));
		n += strlen(fields[i]);
	}
	PUT32(8);
	for (int i = 0; i < 7; i++)
		msg[n++] = 0;
	msg[n++] = 42;
	PUT32(4);
	memcpy(msg + n, "acme", 4);
	n += 4;
	PUT32(32);
	memcpy(msg + n, a.c_pub, 32);
	n += 32;
	PUT32(32);
	memcpy(msg + n, a.s_pub, 32);
	n += 32;
#undef PUT32
	assert_non_null(f = fopen(P("msg.bin"), "wb"));
	assert_int_equal(fwrite(msg, 1, n, f), n);
	fclose(f);
	assert_non_null(f = fopen(P("msg.sig"), "wb"));
	assert_int_equal(fwrite(a.sig, 1, a.sig_len, f), a.sig_len);
	fclose(f);
	assert_int_equal(sh("openssl x509 -in acme.crt -pubkey -noout > acme.pub && "
	                    "openssl dgst -sha256 -verify acme.pub -signature msg.sig msg.bin"),
	                 0);
	/* And a changed byte fails there too. */
	msg[n - 1] ^= 1;
	assert_non_null(f = fopen(P("msg.bin"), "wb"));
	assert_int_equal(fwrite(msg, 1, n, f), n);
	fclose(f);
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd),
		         "cd '%s' && openssl dgst -sha256 -verify acme.pub -signature msg.sig "
		         "msg.bin >/dev/null 2>&1",
		         pki_dir);
		assert_int_not_equal(system(cmd), 0);
	}
	free(a.sig);
}

static void test_store_load_errors(void **state)
{
	X509_STORE *st = (X509_STORE *)1;
	char want[512];

	(void)state;
	assert_int_equal(fl_sa_store_load(P("nonexistent.crt"), NULL, &st), FL_ERR_CONFIG);
	assert_null(st);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory",
	         P("nonexistent.crt"));
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(fl_sa_store_load(P("log"), NULL, &st), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: no CA certificate in the file", P("log"));
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(fl_sa_store_load(P("ca/ca.crt"), P("ca/ca.crt"), &st), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: no CRL in the file", P("ca/ca.crt"));
	assert_string_equal(fl_errmsg(), want);
}

int main(void)
{
	const struct CMUnitTest certs[] = {
	        cmocka_unit_test(test_keys_sign_verify),
	        cmocka_unit_test(test_keys_refused),
	        cmocka_unit_test(test_keys_openssl_verifies),
	        cmocka_unit_test(test_store_load_errors),
	};

	return cmocka_run_group_tests_name("secagg_keys", certs, certs_setup, pki_teardown);
}
