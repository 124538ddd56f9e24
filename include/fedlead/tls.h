/*
 * TLS 1.3 with mutual certificate authentication, as fedlead uses it.
 *
 * Both ends trust exactly one CA file (the federation's, from
 * deploy/fedlead-ca), never the system's store, and speak TLS 1.3 only.
 * The coordinator requires a client certificate; a node checks the
 * coordinator's certificate against the host name or address it dialled.
 * libssl also checks the certificates' purposes: only a serverAuth
 * certificate can act as the coordinator and only a clientAuth one as a
 * partner. With a CRL file, every certificate in the chain is checked
 * against it (an out-of-date CRL fails every handshake; see fedlead-ca crl).
 *
 * A partner's identity is its certificate's subject CN (or, without one,
 * its first DNS name), read only after verification and only if it is a
 * plain name usable in logs, file names and models.
 *
 * Private keys must not be encrypted: a daemon cannot prompt, so an
 * encrypted key is refused instead of blocking on the terminal.
 */
#ifndef FEDLEAD_TLS_H
#define FEDLEAD_TLS_H

#include <stddef.h>

#include "fedlead/certs.h"

#include <openssl/ssl.h>

/* Longest identity fl_tls_peer_identity() accepts (X.520 ub-common-name). */
#define FL_TLS_MAX_IDENTITY FL_CERT_MAX_IDENTITY

struct fl_tls_opts {
	const char *ca;   /* PEM file of the federation CA (required) */
	const char *cert; /* PEM certificate (chain) of this end */
	const char *key;  /* PEM private key of this end, unencrypted */
	const char *crl;  /* PEM CRL file, or NULL for none */
};

/*
 * A context for the coordinator: TLS 1.3 only, client certificate required
 * and verified against o->ca (and o->crl), own certificate o->cert with key
 * o->key (both required, checked to match). No session resumption: every
 * connection is a full handshake, checked against the CRL. *out is for
 * SSL_CTX_free(). A file that cannot be used is FL_ERR_CONFIG with a message
 * naming it and OpenSSL's reason ("coordinator.key: cannot load private
 * key: No such file or directory; no such file", "...: private key does not
 * match the certificate ...", "crl.pem: no CRL in the file"); a missing
 * option FL_ERR_INVALID.
 */
int fl_tls_server_ctx(const struct fl_tls_opts *o, SSL_CTX **out);

/*
 * A context for an HTTPS server (the scoring service): TLS 1.3 only, own
 * certificate o->cert with key o->key. With o->ca, as fl_tls_server_ctx():
 * a client certificate of that CA is required; without, none is asked
 * for (clients then authenticate otherwise, with a bearer token).
 */
int fl_tls_https_ctx(const struct fl_tls_opts *o, SSL_CTX **out);

/*
 * A context for a node: TLS 1.3 only, the server's certificate verified
 * against o->ca (and o->crl). o->cert and o->key are this partner's; both
 * may be NULL (the coordinator will then refuse the handshake), not one.
 */
int fl_tls_client_ctx(const struct fl_tls_opts *o, SSL_CTX **out);

/*
 * A client connection on fd (or, with fd < 0, none yet: e.g. for
 * bufferevent_openssl_socket_new, which sets it) that will accept only a
 * certificate for host: a DNS name (also sent as SNI) or an IPv4/IPv6
 * address. *out is for SSL_free().
 */
int fl_tls_client_new(SSL_CTX *ctx, int fd, const char *host, SSL **out);

/*
 * The verified peer's identity into buf (n bytes): its subject CN, or the
 * first DNS name when there is no CN. FL_ERR_AUTH when the peer presented
 * no certificate ("peer presented no certificate"), when it did not verify
 * ("peer certificate was not verified: <reason>"), or when the identity is
 * not 1 to FL_TLS_MAX_IDENTITY letters, digits, '-', '.', '_', '@' starting
 * with a letter or digit, or the certificate has several CNs ("peer
 * certificate has an unusable identity"). FL_ERR_INVALID when n is too
 * small for it.
 */
int fl_tls_peer_identity(SSL *ssl, char *buf, size_t n);

/*
 * Drains this thread's OpenSSL error queue into buf (n > 0 bytes) as one
 * line, the earliest error first, "; " between errors; "no details from
 * OpenSSL" when it was empty. Returns buf.
 */
const char *fl_tls_last_error(char *buf, size_t n);

/*
 * Why the peer's certificate was not accepted, into buf (n > 0 bytes), from
 * SSL_get_verify_result(): "certificate has expired", "certificate
 * revoked", "unable to get local issuer certificate", "hostname mismatch",
 * ... or "peer presented no certificate". Returns 0 (buf "ok") when the
 * peer presented a certificate that verified, FL_ERR_AUTH otherwise. It
 * records no message (it is for logging a handshake failure).
 */
int fl_tls_verify_error(SSL *ssl, char *buf, size_t n);

#endif
