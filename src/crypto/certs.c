/*
 * The identity a certificate names, and the store of the federation's CA
 * and CRLs; see include/fedlead/certs.h.
 */
#include "fedlead/certs.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fedlead/error.h"

static int identity_char_ok(unsigned char c, int first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	/* A leading '.' or '-' would make ".." or "-x" of a name used as a
	 * file name or an argument. */
	return !first && (c == '-' || c == '.' || c == '_' || c == '@');
}

static int identity_ok(const unsigned char *s, size_t len)
{
	if (len == 0 || len > FL_CERT_MAX_IDENTITY)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!identity_char_ok(s[i], i == 0))
			return 0;
	return 1;
}

int fl_cert_identity_valid(const char *s)
{
	return identity_ok((const unsigned char *)s, strlen(s));
}

int fl_cert_identity(X509 *cert, char *buf, size_t n)
{
	X509_NAME *name = X509_get_subject_name(cert);
	GENERAL_NAMES *gens = NULL;
	unsigned char *utf8 = NULL;
	const unsigned char *id = NULL;
	size_t idlen = 0;
	int idx, r = FL_ERR_AUTH;

	if (n > 0)
		buf[0] = '\0';
	idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (idx >= 0) {
		int k;

		/* Two CNs: which one is the partner is anyone's guess. */
		if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) < 0 &&
		    (k = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(
		                                            name, idx)))) >= 0) {
			id = utf8;
			idlen = (size_t)k;
		}
	} else {
		gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
		for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

			if (g->type == GEN_DNS) {
				id = ASN1_STRING_get0_data(g->d.dNSName);
				idlen = (size_t)ASN1_STRING_length(g->d.dNSName);
				break;
			}
		}
	}
	/* identity_ok() also refuses an embedded NUL. */
	if (id == NULL || !identity_ok(id, idlen))
		goto out;
	if (idlen + 1 > n) {
		r = FL_ERR_INVALID;
		goto out;
	}
	memcpy(buf, id, idlen);
	buf[idlen] = '\0';
	r = 0;
out:
	ERR_clear_error();
	OPENSSL_free(utf8);
	GENERAL_NAMES_free(gens);
	return r;
}

/* The earliest error on OpenSSL's queue as text (a failed system call as
 * its errno text); the queue is emptied. */
static const char *ossl_reason(char *buf, size_t n)
{
	unsigned long e = ERR_peek_error();

	if (e == 0)
		snprintf(buf, n, "no details from OpenSSL");
	else if (ERR_SYSTEM_ERROR(e)) {
		if (strerror_r(ERR_GET_REASON(e), buf, n) != 0)
			snprintf(buf, n, "system error %d", ERR_GET_REASON(e));
	} else if (ERR_reason_error_string(e) != NULL)
		snprintf(buf, n, "%s", ERR_reason_error_string(e));
	else
		snprintf(buf, n, "error %08lX", e);
	ERR_clear_error();
	return buf;
}

int fl_cert_file_fail(int code, const char *path, const char *what)
{
	char reason[256];

	return fl_fail(code, "%s: %s: %s", path, what, ossl_reason(reason, sizeof(reason)));
}

/* The read loop ends at the end of the file ("no start line") or at a
 * damaged entry, which must not pass for the end. */
static int at_end(void)
{
	unsigned long e = ERR_peek_last_error();

	return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

static int add_cas(X509_STORE *store, const char *path, enum fl_cert_texts texts)
{
	int openssl = texts == FL_CERT_TEXTS_OPENSSL;
	const char *load = "cannot load CA certificate";
	X509 *ca = NULL;
	BIO *bio = NULL;
	int r = FL_ERR_INTERNAL, count = 0;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		r = fl_cert_file_fail(FL_ERR_CONFIG, path, openssl ? load : "cannot read");
		goto out;
	}
	while ((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, ca) != 1) {
			r = openssl ? fl_cert_file_fail(FL_ERR_CONFIG, path, load)
			            : fl_fail(FL_ERR_CONFIG, "%s: cannot use a CA certificate",
			                      path);
			goto out;
		}
		X509_free(ca);
		ca = NULL;
		count++;
	}
	if (openssl && (count == 0 || !at_end())) {
		r = fl_cert_file_fail(FL_ERR_CONFIG, path, load);
		goto out;
	}
	if (count == 0) {
		r = fl_fail(FL_ERR_CONFIG, "%s: no CA certificate in the file", path);
		goto out;
	}
	if (!at_end()) {
		r = fl_fail(FL_ERR_CONFIG, "%s: cannot use a CA certificate", path);
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	X509_free(ca);
	BIO_free(bio);
	return r;
}

static int add_crls(X509_STORE *store, const char *path, enum fl_cert_texts texts)
{
	int openssl = texts == FL_CERT_TEXTS_OPENSSL;
	X509_CRL *crl = NULL;
	BIO *bio = NULL;
	int r = FL_ERR_INTERNAL, count = 0;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		r = fl_cert_file_fail(FL_ERR_CONFIG, path,
		                      openssl ? "cannot load CRL" : "cannot read");
		goto out;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_crl(store, crl) != 1) {
			r = openssl ? fl_cert_file_fail(FL_ERR_CRYPTO, path, "cannot use CRL")
			            : fl_fail(FL_ERR_CONFIG, "%s: cannot use a CRL", path);
			goto out;
		}
		X509_CRL_free(crl);
		crl = NULL;
		count++;
	}
	if (count == 0 && (at_end() || !openssl)) {
		r = fl_fail(FL_ERR_CONFIG, "%s: no CRL in the file", path);
		goto out;
	}
	if (!at_end()) {
		r = openssl ? fl_cert_file_fail(FL_ERR_CONFIG, path, "cannot load CRL")
		            : fl_fail(FL_ERR_CONFIG, "%s: cannot use a CRL", path);
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	X509_CRL_free(crl);
	BIO_free(bio);
	return r;
}

int fl_cert_store_add(X509_STORE *store, const char *ca_path, const char *crl_path,
                      enum fl_cert_texts texts)
{
	int r;

	ERR_clear_error();
	if ((r = add_cas(store, ca_path, texts)) != 0)
		return r;
	if (crl_path == NULL)
		return 0;
	if ((r = add_crls(store, crl_path, texts)) != 0)
		return r;
	/* Every certificate of a chain, not only the leaf: an intermediate CA
	 * that was revoked must not go on vouching for partners. */
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	return 0;
}

int fl_cert_store_load(const char *ca_path, const char *crl_path, enum fl_cert_texts texts,
                       X509_STORE **out)
{
	X509_STORE *store;
	int r;

	*out = NULL;
	if ((store = X509_STORE_new()) == NULL)
		return FL_ERR_NOMEM;
	if ((r = fl_cert_store_add(store, ca_path, crl_path, texts)) != 0) {
		X509_STORE_free(store);
		return r;
	}
	*out = store;
	return 0;
}
