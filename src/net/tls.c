/*
 * OpenSSL contexts for the coordinator and the nodes, and what a connection
 * tells about its peer. See include/fedlead/tls.h for the policy.
 */
#include "fedlead/tls.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fedlead/error.h"

/* Room for OpenSSL's reasons in a message. */
#define REASON_LEN 512

const char *fl_tls_last_error(char *buf, size_t n)
{
	size_t used = 0;
	unsigned long e;
	const char *data;
	int flags;

	if (n == 0)
		return buf;
	buf[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *reason = ERR_reason_error_string(e);
		char code[128];
		int k;

		/* A failed system call: its errno text; the data would only
		 * repeat the file name ("calling fopen(...)"). */
		if (ERR_SYSTEM_ERROR(e)) {
			if (strerror_r(ERR_GET_REASON(e), code, sizeof(code)) != 0)
				snprintf(code, sizeof(code), "system error %d", ERR_GET_REASON(e));
			reason = code;
			data = NULL;
		} else if (reason == NULL) {
			snprintf(code, sizeof(code), "error %08lX", e);
			reason = code;
		}
		if (used >= n - 1)
			continue; /* keep draining */
		if ((flags & ERR_TXT_STRING) && data != NULL && data[0] != '\0')
			k = snprintf(buf + used, n - used, "%s%s (%s)", used ? "; " : "", reason,
			             data);
		else
			k = snprintf(buf + used, n - used, "%s%s", used ? "; " : "", reason);
		if (k > 0)
			used += (size_t)k < n - used ? (size_t)k : n - 1 - used;
	}
	if (buf[0] == '\0')
		snprintf(buf, n, "no details from OpenSSL");
	return buf;
}

/* Records "<what>: <OpenSSL's reasons>" and returns code. */
static int ssl_fail(int code, const char *what)
{
	char reason[REASON_LEN];

	fl_tls_last_error(reason, sizeof(reason));
	return fl_fail(code, "%s: %s", what, reason);
}

/* A daemon cannot prompt: refuse to decrypt, and remember that we were
 * asked, to say so instead of OpenSSL's "bad decrypt". */
static int no_password(char *buf, int size, int rwflag, void *userdata)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)userdata = 1;
	return -1;
}

/* The part both ends share: TLS 1.3 only, one CA, optional CRL, own
 * certificate and key. */
static int ctx_common(SSL_CTX *ctx, const struct fl_tls_opts *o, int need_cert)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char what[1100];
	int asked = 0, r = FL_ERR_INTERNAL;

	ERR_clear_error();
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		r = ssl_fail(FL_ERR_CRYPTO, "cannot restrict TLS to version 1.3");
		goto out;
	}
	/* The federation CA is the only trust anchor: no system store. (An
	 * HTTPS server that asks for no client certificate has none.) */
	if (o->ca != NULL && (r = fl_cert_store_add(SSL_CTX_get_cert_store(ctx), o->ca, o->crl,
	                                            FL_CERT_TEXTS_OPENSSL)) != 0)
		goto out;
	if (o->cert == NULL && o->key == NULL && !need_cert) {
		r = 0;
		goto out;
	}
	if (o->cert == NULL || o->key == NULL) {
		r = fl_fail(FL_ERR_INVALID,
		            "a TLS certificate needs its key and a key its certificate");
		goto out;
	}
	snprintf(what, sizeof(what), "%s: cannot load certificate", o->cert);
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
		r = ssl_fail(FL_ERR_CONFIG, what);
		goto out;
	}
	/* The key is read here rather than by SSL_CTX_use_PrivateKey_file(),
	 * to refuse an encrypted one without a prompt and to tell a key of
	 * another certificate from an unreadable file. */
	snprintf(what, sizeof(what), "%s: cannot load private key", o->key);
	if ((bio = BIO_new_file(o->key, "r")) == NULL) {
		r = ssl_fail(FL_ERR_CONFIG, what);
		goto out;
	}
	if ((pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, &asked)) == NULL) {
		if (asked) {
			ERR_clear_error();
			r = fl_fail(
			        FL_ERR_CONFIG,
			        "%s: cannot load private key: it is encrypted, and fedlead needs "
			        "an unencrypted key file (readable by its owner only)",
			        o->key);
		} else
			r = ssl_fail(FL_ERR_CONFIG, what);
		goto out;
	}
	if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), pkey) != 1) {
		ERR_clear_error();
		r = fl_fail(FL_ERR_CONFIG, "%s: private key does not match the certificate %s",
		            o->key, o->cert);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		r = ssl_fail(FL_ERR_CONFIG, what);
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return r;
}

static int check_opts(const struct fl_tls_opts *o)
{
	if (o == NULL || o->ca == NULL || o->ca[0] == '\0')
		return fl_fail(FL_ERR_INVALID, "TLS needs the federation CA certificate file");
	return 0;
}

int fl_tls_server_ctx(const struct fl_tls_opts *o, SSL_CTX **out)
{
	STACK_OF(X509_NAME) *names = NULL;
	SSL_CTX *ctx = NULL;
	char what[1100];
	int r = FL_ERR_INTERNAL;

	*out = NULL;
	if ((r = check_opts(o)) != 0)
		goto out;
	if (o->cert == NULL || o->key == NULL) {
		r = fl_fail(FL_ERR_INVALID, "the coordinator needs a certificate and its key");
		goto out;
	}
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		r = ssl_fail(FL_ERR_CRYPTO, "cannot create a TLS context");
		goto out;
	}
	if ((r = ctx_common(ctx, o, 1)) != 0)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* Tell clients which CA we want, so a partner with several
	 * certificates picks the federation's. */
	snprintf(what, sizeof(what), "%s: cannot load CA names", o->ca);
	if ((names = SSL_load_client_CA_file(o->ca)) == NULL) {
		r = ssl_fail(FL_ERR_CONFIG, what);
		goto out;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	/* No resumption: every connection is a full handshake, so a partner
	 * revoked since its last connection is refused at once. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	*out = ctx;
	ctx = NULL;
	r = 0;
out:
	SSL_CTX_free(ctx);
	return r;
}

int fl_tls_client_ctx(const struct fl_tls_opts *o, SSL_CTX **out)
{
	SSL_CTX *ctx = NULL;
	int r = FL_ERR_INTERNAL;

	*out = NULL;
	if ((r = check_opts(o)) != 0)
		goto out;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		r = ssl_fail(FL_ERR_CRYPTO, "cannot create a TLS context");
		goto out;
	}
	if ((r = ctx_common(ctx, o, 0)) != 0)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	*out = ctx;
	ctx = NULL;
	r = 0;
out:
	SSL_CTX_free(ctx);
	return r;
}

int fl_tls_client_new(SSL_CTX *ctx, int fd, const char *host, SSL **out)
{
	unsigned char addr[16];
	SSL *ssl = NULL;
	int r = FL_ERR_INTERNAL;

	*out = NULL;
	if (host == NULL || host[0] == '\0') {
		r = fl_fail(FL_ERR_INVALID,
		            "TLS: no coordinator host name to check its certificate");
		goto out;
	}
	ERR_clear_error();
	if ((ssl = SSL_new(ctx)) == NULL) {
		r = ssl_fail(FL_ERR_CRYPTO, "cannot create a TLS connection");
		goto out;
	}
	if (fd >= 0 && SSL_set_fd(ssl, fd) != 1) {
		r = ssl_fail(FL_ERR_CRYPTO, "cannot attach TLS to the socket");
		goto out;
	}
	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
		/* An address is checked against the IP names; it is never sent
		 * as SNI (RFC 6066 allows only host names there). */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1) {
			r = ssl_fail(FL_ERR_INVALID, host);
			goto out;
		}
	} else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1) {
			r = ssl_fail(FL_ERR_INVALID, host);
			goto out;
		}
	}
	*out = ssl;
	ssl = NULL;
	r = 0;
out:
	SSL_free(ssl);
	return r;
}

int fl_tls_peer_identity(SSL *ssl, char *buf, size_t n)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	char id[FL_TLS_MAX_IDENTITY + 1];
	long v;
	int r;

	if (n > 0)
		buf[0] = '\0';
	if (cert == NULL)
		return fl_fail(FL_ERR_AUTH, "peer presented no certificate");
	if ((v = SSL_get_verify_result(ssl)) != X509_V_OK)
		return fl_fail(FL_ERR_AUTH, "peer certificate was not verified: %s",
		               X509_verify_cert_error_string(v));
	if ((r = fl_cert_identity(cert, id, sizeof(id))) != 0)
		return fl_fail(FL_ERR_AUTH, "peer certificate has an unusable identity");
	if (strlen(id) + 1 > n)
		return fl_fail(FL_ERR_INVALID, "peer identity of %zu bytes does not fit %zu",
		               strlen(id), n);
	memcpy(buf, id, strlen(id) + 1);
	return 0;
}

int fl_tls_verify_error(SSL *ssl, char *buf, size_t n)
{
	long v = SSL_get_verify_result(ssl);

	if (n == 0)
		return FL_ERR_INVALID;
	if (v != X509_V_OK) {
		snprintf(buf, n, "%s", X509_verify_cert_error_string(v));
		return FL_ERR_AUTH;
	}
	if (SSL_get0_peer_certificate(ssl) == NULL) {
		snprintf(buf, n, "peer presented no certificate");
		return FL_ERR_AUTH;
	}
	snprintf(buf, n, "ok");
	return 0;
}

int fl_tls_https_ctx(const struct fl_tls_opts *o, SSL_CTX **out)
{
	SSL_CTX *ctx = NULL;
	int r;

	*out = NULL;
	if (o->ca != NULL)
		return fl_tls_server_ctx(o, out);
	if (o->cert == NULL || o->key == NULL)
		return fl_fail(FL_ERR_INVALID, "HTTPS needs a certificate and its key");
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return ssl_fail(FL_ERR_CRYPTO, "cannot create a TLS context");
	if ((r = ctx_common(ctx, o, 1)) != 0) {
		SSL_CTX_free(ctx);
		return r;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	*out = ctx;
	return 0;
}
