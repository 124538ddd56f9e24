/*
 * A throw-away PKI for the tests that need certificates (certs, signature,
 * partner_sign, secagg, tls, server, client): a temporary directory made
 * per test program, a CA in it made by deploy/fedlead-ca, and the shell
 * and path helpers to issue, revoke and load what each test needs.
 * Include after <cmocka.h>.
 */
#ifndef FL_TEST_PKI_H
#define FL_TEST_PKI_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define CA_TOOL FL_TEST_DATA "/../../deploy/fedlead-ca"

/* The test directory, made by pki_setup. */
extern char pki_dir[64];

/* Makes pki_dir from dir_template (mkdtemp) and a CA in pki_dir/ca;
 * 0, or -1 with what failed on standard error. */
int pki_setup(const char *dir_template);

/* Removes pki_dir and everything in it; a cmocka group teardown. */
int pki_teardown(void **state);

/* Runs the shell command built from fmt in pki_dir; its output goes to
 * pki_dir/log, whose end is shown when it fails. Its exit status. */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs fedlead-ca with the arguments built from fmt, as sh does. */
int ca(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A path in pki_dir, in one of 64 rotating buffers: enough for every path
 * one test holds at a time. */
const char *P(const char *name);

/* The private key in the PEM file pki_dir/name, or NULL. */
EVP_PKEY *pki_load_key(const char *name);

/* The DER of the PEM certificate pki_dir/name (OPENSSL_malloc'ed), as a
 * peer gets it from the TLS handshake; NULL if it cannot be read. */
uint8_t *pki_load_der(const char *name, size_t *len);

#endif
