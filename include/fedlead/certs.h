/*
 * Certificates as fedlead reads them: the identity a certificate names.
 * Used by the TLS layer for peers, by model signatures for signers and by
 * secure aggregation for key advertisements, so all three agree on who a
 * certificate is.
 */
#ifndef FEDLEAD_CERTS_H
#define FEDLEAD_CERTS_H

#include <stddef.h>

#include <openssl/x509.h>

/* Longest identity accepted, in bytes. */
#define FL_CERT_MAX_IDENTITY 64

/*
 * A certificate's identity, by the rules fedlead uses everywhere: its only
 * subject CN or, without a CN, its first DNS name; letters, digits and
 * "-._@" (not first), at most FL_CERT_MAX_IDENTITY bytes. Returns 0,
 * FL_ERR_AUTH when there is no usable identity, FL_ERR_INVALID when it does
 * not fit n bytes. Records no message: callers say whose certificate it is.
 */
int fl_cert_identity(X509 *cert, char *buf, size_t n);

/* 1 when s is a usable identity by the rules above, else 0. */
int fl_cert_identity_valid(const char *s);

/*
 * Records "<path>: <what>: <OpenSSL's first reason>" (a failed system call
 * as its errno text: "ca.crt: cannot load CA certificate: No such file or
 * directory"), empties OpenSSL's error queue and returns code. For files of
 * keys, certificates and CRLs.
 */
int fl_cert_file_fail(int code, const char *path, const char *what);

/*
 * How fl_cert_store_add() words a file it cannot use. The TLS contexts and
 * model signatures have always quoted OpenSSL; secure aggregation's key
 * checks have their own shorter texts. Both are kept word for word.
 */
enum fl_cert_texts {
	/* "ca.crt: cannot load CA certificate: <reason>", "crl.pem: cannot
	 * load CRL: <reason>", "crl.pem: cannot use CRL: <reason>" */
	FL_CERT_TEXTS_OPENSSL,
	/* "ca.crt: cannot read: <reason>", "ca.crt: no CA certificate in the
	 * file", "ca.crt: cannot use a CA certificate", "crl.pem: cannot use a
	 * CRL" */
	FL_CERT_TEXTS_SHORT,
};

/*
 * The one way fedlead trusts a federation's CA: adds every certificate of
 * PEM file ca_path (which must hold at least one) to store and, when
 * crl_path is not NULL, every CRL of that PEM file (at least one), with CRL
 * checking turned on for every certificate of a chain, not only the leaf.
 * A file damaged after its last good entry is refused, not cut short. The
 * store trusts nothing else (no system store). Returns 0 or FL_ERR_CONFIG
 * naming the file (FL_ERR_CRYPTO when OpenSSL refuses a CRL it read, with
 * FL_CERT_TEXTS_OPENSSL); both files name "no CRL in the file" alike.
 * OpenSSL's error queue is left empty.
 */
int fl_cert_store_add(X509_STORE *store, const char *ca_path, const char *crl_path,
                      enum fl_cert_texts texts);

/* A new store filled by fl_cert_store_add(); *out is for X509_STORE_free(). */
int fl_cert_store_load(const char *ca_path, const char *crl_path, enum fl_cert_texts texts,
                       X509_STORE **out);

#endif
