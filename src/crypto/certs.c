/*
 * The identity a certificate names; see include/fedlead/certs.h.
 */
#include "fedlead/certs.h"

#include <string.h>

#include <openssl/err.h>
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
		    (k = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
		                                           X509_NAME_get_entry(name, idx)))) >= 0) {
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
