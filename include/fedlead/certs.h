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

#endif
