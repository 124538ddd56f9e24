/*
 * Tests for src/tls.c: real TLS 1.3 handshakes between a coordinator-side
 * and a node-side SSL over a socketpair, with certificates made at test
 * time by deploy/fedlead-ca (and, for identities the tool refuses to issue,
 * by the openssl command directly).
 *
 * The handshake runs both ends in one thread on non-blocking sockets,
 * stepping each in turn until both have finished or failed; the number of
 * steps is bounded, nothing depends on time.
 *
 * In TLS 1.3 the client finishes its handshake before the server has
 * checked the client's certificate, so a refused partner sees the refusal
 * as an alert on its first read: the tests check that too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "fedlead/error.h"
#include "fedlead/tls.h"
#include "support/pki.h"

/* Signs a request with openssl directly: identities fedlead-ca refuses. */
#define RAW_SIGN                                                                                   \
	"openssl x509 -req -in %s.csr -CA ca/ca.crt -CAkey ca/ca.key -CAcreateserial -days 30 "    \
	"-extfile %s.ext -out %s.crt"

static int raw_partner(const char *name, const char *subj, const char *san)
{
	return sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s.key && "
	          "printf '[req]\\ndistinguished_name = dn\\n[dn]\\n' > req.cnf && "
	          "openssl req -config req.cnf -new -key %s.key -subj '%s' -out %s.csr && "
	          "printf 'basicConstraints = CA:FALSE\\nextendedKeyUsage = clientAuth\\n%s' > "
	          "%s.ext "
	          "&& " RAW_SIGN,
	          name, name, subj, name, san, name, name, name, name);
}

static int setup(void **state)
{
	(void)state;
	if (pki_setup("/tmp/fl_test_tls.XXXXXX") != 0 ||
	    ca("issue --dir ca --name coord.example --role coordinator --dns localhost "
	       "--ip 127.0.0.1 --out coord") != 0 ||
	    ca("issue --dir ca --name acme --role partner --out acme") != 0 ||
	    ca("issue --dir ca --name mallory --role partner --out mallory") != 0 ||
	    ca("revoke --dir ca --cert mallory.crt --reason keyCompromise") != 0 ||
	    ca("issue --dir ca --name oldco --role partner --start 20200101000000Z "
	       "--end 20200102000000Z --out oldco") != 0 ||
	    ca("init --dir other --name 'Other CA'") != 0 ||
	    ca("issue --dir other --name acme --role partner --out other-acme") != 0 ||
	    raw_partner("sanonly", "/O=Acme Corp", "subjectAltName = DNS:san-only.example\\n") !=
	            0 ||
	    raw_partner("spacey", "/CN=bad name", "") != 0 ||
	    raw_partner("twocn", "/CN=acme/CN=globex", "") != 0 ||
	    raw_partner("dashy", "/CN=-rf", "") != 0 ||
	    sh("openssl pkey -in acme.key -aes256 -passout pass:secret -out acme-enc.key") != 0 ||
	    sh("printf 'not a CRL\\n' > junk.pem"))
		return -1;
	return 0;
}

/* ---- a handshake over a socketpair ------------------------------------- */

struct side {
	SSL *ssl;
	int fd;
	int state; /* 0 running, 1 done, -1 failed */
	char err[512];
};

struct hs {
	struct side srv, cli;
};

static void step(struct side *s)
{
	int r, e;

	if (s->state != 0)
		return;
	r = SSL_do_handshake(s->ssl);
	if (r == 1) {
		s->state = 1;
		return;
	}
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	s->state = -1;
	/* Both ends share this thread's error queue: take it now. */
	fl_tls_last_error(s->err, sizeof(s->err));
}

static SSL_CTX *server_ctx(const char *cert, const char *key, int with_crl)
{
	struct fl_tls_opts o = {.ca = P("ca/ca.crt"), .cert = P(cert), .key = P(key)};
	SSL_CTX *ctx = NULL;
	int r;

	if (with_crl)
		o.crl = P("ca/crl.pem");
	if ((r = fl_tls_server_ctx(&o, &ctx)) != 0)
		fail_msg("server ctx: %s", fl_errmsg());
	return ctx;
}

static SSL_CTX *client_ctx(const char *cert, const char *key)
{
	struct fl_tls_opts o = {.ca = P("ca/ca.crt")};
	SSL_CTX *ctx = NULL;
	int r;

	if (cert != NULL) {
		o.cert = P(cert);
		o.key = P(key);
	}
	if ((r = fl_tls_client_ctx(&o, &ctx)) != 0)
		fail_msg("client ctx: %s", fl_errmsg());
	return ctx;
}

static void handshake(SSL_CTX *sctx, SSL_CTX *cctx, const char *host, struct hs *h)
{
	int fds[2];

	memset(h, 0, sizeof(*h));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK), 0);
	h->srv.fd = fds[0];
	h->cli.fd = fds[1];
	assert_non_null(h->srv.ssl = SSL_new(sctx));
	assert_int_equal(SSL_set_fd(h->srv.ssl, fds[0]), 1);
	SSL_set_accept_state(h->srv.ssl);
	if (fl_tls_client_new(cctx, fds[1], host, &h->cli.ssl) != 0)
		fail_msg("client_new: %s", fl_errmsg());
	SSL_set_connect_state(h->cli.ssl);
	/* A TLS 1.3 handshake is two flights each way; 100 steps is plenty. */
	for (int i = 0; i < 100 && (h->srv.state == 0 || h->cli.state == 0); i++) {
		step(&h->cli);
		step(&h->srv);
	}
}

static void hs_free(struct hs *h)
{
	SSL_free(h->srv.ssl);
	SSL_free(h->cli.ssl);
	close(h->srv.fd);
	close(h->cli.fd);
}

/* The client's first read after the server refused it: the alert. */
static void client_read_alert(struct hs *h, const char *alert)
{
	char buf[16], err[512];
	int r = SSL_read(h->cli.ssl, buf, sizeof(buf));

	assert_true(r <= 0);
	assert_int_equal(SSL_get_error(h->cli.ssl, r), SSL_ERROR_SSL);
	fl_tls_last_error(err, sizeof(err));
	if (strstr(err, alert) == NULL)
		fail_msg("client read error \"%s\" does not contain \"%s\"", err, alert);
}

/* The server refused the client, for reason. */
static void expect_server_refused(struct hs *h, const char *reason)
{
	char why[256];

	if (h->srv.state != -1)
		fail_msg("server handshake state %d, want failure", h->srv.state);
	assert_int_equal(fl_tls_verify_error(h->srv.ssl, why, sizeof(why)), FL_ERR_AUTH);
	assert_string_equal(why, reason);
}

/* ---- tests -------------------------------------------------------------- */

static void test_good_pair(void **state)
{
	(void)state;
	SSL_CTX *s = server_ctx("coord.crt", "coord.key", 1),
	        *c = client_ctx("acme.crt", "acme.key");
	struct hs h;
	char id[FL_TLS_MAX_IDENTITY + 1], why[64], buf[8];

	handshake(s, c, "localhost", &h);
	if (h.srv.state != 1 || h.cli.state != 1)
		fail_msg("handshake: server %d (%s), client %d (%s)", h.srv.state, h.srv.err,
		         h.cli.state, h.cli.err);
	assert_int_equal(SSL_version(h.srv.ssl), TLS1_3_VERSION);
	assert_int_equal(fl_tls_peer_identity(h.srv.ssl, id, sizeof(id)), 0);
	assert_string_equal(id, "acme");
	assert_int_equal(fl_tls_peer_identity(h.cli.ssl, id, sizeof(id)), 0);
	assert_string_equal(id, "coord.example");
	assert_int_equal(fl_tls_verify_error(h.srv.ssl, why, sizeof(why)), 0);
	assert_string_equal(why, "ok");
	/* The connection carries data both ways. */
	assert_int_equal(SSL_write(h.cli.ssl, "ping", 4), 4);
	assert_int_equal(SSL_read(h.srv.ssl, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(SSL_write(h.srv.ssl, "pong", 4), 4);
	assert_int_equal(SSL_read(h.cli.ssl, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);
	/* A buffer too small for the identity. */
	assert_int_equal(fl_tls_peer_identity(h.srv.ssl, id, 4), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "peer identity of 4 bytes does not fit 4");
	hs_free(&h);

	/* The coordinator dialled by address. */
	handshake(s, c, "127.0.0.1", &h);
	assert_int_equal(h.srv.state, 1);
	assert_int_equal(h.cli.state, 1);
	hs_free(&h);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}

static void test_wrong_host(void **state)
{
	(void)state;
	SSL_CTX *s = server_ctx("coord.crt", "coord.key", 0),
	        *c = client_ctx("acme.crt", "acme.key");
	struct hs h;
	char why[128];

	handshake(s, c, "other.example", &h);
	assert_int_equal(h.cli.state, -1);
	assert_int_equal(fl_tls_verify_error(h.cli.ssl, why, sizeof(why)), FL_ERR_AUTH);
	assert_string_equal(why, "hostname mismatch");
	assert_int_equal(h.srv.state, -1); /* it got the client's alert */
	hs_free(&h);

	handshake(s, c, "127.0.0.2", &h);
	assert_int_equal(h.cli.state, -1);
	assert_int_equal(fl_tls_verify_error(h.cli.ssl, why, sizeof(why)), FL_ERR_AUTH);
	assert_string_equal(why, "IP address mismatch");
	hs_free(&h);

	/* A wildcard would need the name to match too: "localhost" is not
	 * "sub.localhost". */
	handshake(s, c, "sub.localhost", &h);
	assert_int_equal(h.cli.state, -1);
	hs_free(&h);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}

static void test_client_without_certificate(void **state)
{
	(void)state;
	SSL_CTX *s = server_ctx("coord.crt", "coord.key", 1), *c = client_ctx(NULL, NULL);
	struct hs h;
	char id[80];

	handshake(s, c, "localhost", &h);
	expect_server_refused(&h, "peer presented no certificate");
	assert_int_equal(h.cli.state, 1);
	client_read_alert(&h, "tlsv13 alert certificate required");
	assert_int_equal(fl_tls_peer_identity(h.srv.ssl, id, sizeof(id)), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "peer presented no certificate");
	hs_free(&h);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}

static void test_client_of_another_ca(void **state)
{
	(void)state;
	SSL_CTX *s = server_ctx("coord.crt", "coord.key", 1), *c;
	struct fl_tls_opts o = {
	        .ca = P("ca/ca.crt"), .cert = P("other-acme.crt"), .key = P("other-acme.key")};
	struct hs h;

	/* Same name, "acme", but signed by another CA. */
	assert_int_equal(fl_tls_client_ctx(&o, &c), 0);
	handshake(s, c, "localhost", &h);
	expect_server_refused(&h, "unable to get local issuer certificate");
	client_read_alert(&h, "tlsv1 alert unknown ca");
	hs_free(&h);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}

static void test_expired_client(void **state)
{
	(void)state;
	SSL_CTX *s = server_ctx("coord.crt", "coord.key", 1),
	        *c = client_ctx("oldco.crt", "oldco.key");
	struct hs h;

	handshake(s, c, "localhost", &h);
	expect_server_refused(&h, "certificate has expired");
	client_read_alert(&h, "sslv3 alert certificate expired");
	hs_free(&h);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}

static void test_revoked_client(void **state)
{
	(void)state;
	SSL_CTX *with = server_ctx("coord.crt", "coord.key", 1),
	        *without = server_ctx("coord.crt", "coord.key", 0),
	        *c = client_ctx("mallory.crt", "mallory.key");
	struct hs h;
	char id[80];

	handshake(with, c, "localhost", &h);
	expect_server_refused(&h, "certificate revoked");
	client_read_alert(&h, "sslv3 alert certificate revoked");
	hs_free(&h);

	/* The CRL is what stops it: without one the certificate is fine. */
	handshake(without, c, "localhost", &h);
	assert_int_equal(h.srv.state, 1);
	assert_int_equal(fl_tls_peer_identity(h.srv.ssl, id, sizeof(id)), 0);
	assert_string_equal(id, "mallory");
	hs_free(&h);
	SSL_CTX_free(with);
	SSL_CTX_free(without);
	SSL_CTX_free(c);
}

static void test_tls12_client_refused(void **state)
{
	(void)state;
	SSL_CTX *s = server_ctx("coord.crt", "coord.key", 0), *c;
	struct hs h;

	/* A client built by hand that speaks TLS 1.2 at most. */
	assert_non_null(c = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_load_verify_file(c, P("ca/ca.crt")), 1);
	assert_int_equal(SSL_CTX_use_certificate_file(c, P("acme.crt"), SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(c, P("acme.key"), SSL_FILETYPE_PEM), 1);
	handshake(s, c, "localhost", &h);
	assert_int_equal(h.srv.state, -1);
	assert_int_equal(h.cli.state, -1);
	if (strstr(h.srv.err, "unsupported protocol") == NULL)
		fail_msg("server error: %s", h.srv.err);
	hs_free(&h);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}

/* A partner's certificate cannot act as the coordinator, nor the
 * coordinator's as a partner. */
static void test_roles_enforced(void **state)
{
	(void)state;
	SSL_CTX *s = server_ctx("acme.crt", "acme.key", 0), *c = client_ctx("acme.crt", "acme.key");
	struct hs h;
	char why[128];

	handshake(s, c, "acme", &h);
	assert_int_equal(h.cli.state, -1);
	assert_int_equal(fl_tls_verify_error(h.cli.ssl, why, sizeof(why)), FL_ERR_AUTH);
	assert_string_equal(why, "unsuitable certificate purpose");
	hs_free(&h);
	SSL_CTX_free(s);
	SSL_CTX_free(c);

	s = server_ctx("coord.crt", "coord.key", 0);
	c = client_ctx("coord.crt", "coord.key");
	handshake(s, c, "localhost", &h);
	expect_server_refused(&h, "unsuitable certificate purpose");
	hs_free(&h);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}

/* The server's view of a client with a given certificate: identity result. */
static int identity_of(const char *name, char *id, size_t n)
{
	char crt[64], key[64];
	SSL_CTX *s = server_ctx("coord.crt", "coord.key", 0), *c;
	struct hs h;
	int r;

	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	c = client_ctx(crt, key);
	handshake(s, c, "localhost", &h);
	if (h.srv.state != 1)
		fail_msg("handshake with %s: %s", name, h.srv.err);
	r = fl_tls_peer_identity(h.srv.ssl, id, n);
	hs_free(&h);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
	return r;
}

static void test_identities(void **state)
{
	(void)state;
	char id[FL_TLS_MAX_IDENTITY + 1];

	/* No CN: the first DNS name. */
	assert_int_equal(identity_of("sanonly", id, sizeof(id)), 0);
	assert_string_equal(id, "san-only.example");
	assert_int_equal(identity_of("spacey", id, sizeof(id)), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "peer certificate has an unusable identity");
	assert_string_equal(id, "");
	fl_err_clear();
	assert_int_equal(identity_of("twocn", id, sizeof(id)), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "peer certificate has an unusable identity");
	fl_err_clear();
	assert_int_equal(identity_of("dashy", id, sizeof(id)), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "peer certificate has an unusable identity");
}

static void test_context_errors(void **state)
{
	(void)state;
	struct fl_tls_opts o = {.ca = P("ca/ca.crt"), .cert = P("coord.crt"), .key = P("acme.key")};
	SSL_CTX *ctx = (SSL_CTX *)0x1;
	char want[512];

	assert_int_equal(fl_tls_server_ctx(&o, &ctx), FL_ERR_CONFIG);
	assert_null(ctx);
	snprintf(want, sizeof(want), "%s: private key does not match the certificate %s",
	         P("acme.key"), P("coord.crt"));
	assert_string_equal(fl_errmsg(), want);

	o.key = P("acme-enc.key");
	o.cert = P("acme.crt");
	assert_int_equal(fl_tls_client_ctx(&o, &ctx), FL_ERR_CONFIG);
	snprintf(want, sizeof(want),
	         "%s: cannot load private key: it is encrypted, and fedlead needs an unencrypted "
	         "key file (readable by its owner only)",
	         P("acme-enc.key"));
	assert_string_equal(fl_errmsg(), want);

	o.key = P("missing.key");
	assert_int_equal(fl_tls_client_ctx(&o, &ctx), FL_ERR_CONFIG);
	/* errno's text, then OpenSSL's BIO reason. */
	snprintf(want, sizeof(want),
	         "%s: cannot load private key: No such file or directory; no such file",
	         P("missing.key"));
	assert_string_equal(fl_errmsg(), want);

	o.key = P("acme.key");
	o.cert = P("missing.crt");
	assert_int_equal(fl_tls_client_ctx(&o, &ctx), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: cannot load certificate: ", P("missing.crt"));
	assert_memory_equal(fl_errmsg(), want, strlen(want));

	o.cert = P("acme.crt");
	o.ca = P("junk.pem");
	assert_int_equal(fl_tls_client_ctx(&o, &ctx), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: cannot load CA certificate: ", P("junk.pem"));
	assert_memory_equal(fl_errmsg(), want, strlen(want));

	o.ca = P("ca/ca.crt");
	o.crl = P("junk.pem");
	assert_int_equal(fl_tls_client_ctx(&o, &ctx), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: no CRL in the file", P("junk.pem"));
	assert_string_equal(fl_errmsg(), want);
	o.crl = P("missing.crl");
	assert_int_equal(fl_tls_client_ctx(&o, &ctx), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: cannot load CRL: ", P("missing.crl"));
	assert_memory_equal(fl_errmsg(), want, strlen(want));
	o.crl = NULL;

	o.key = NULL;
	assert_int_equal(fl_tls_client_ctx(&o, &ctx), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "a TLS certificate needs its key and a key its certificate");
	o.cert = NULL;
	assert_int_equal(fl_tls_server_ctx(&o, &ctx), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "the coordinator needs a certificate and its key");
	o.ca = NULL;
	assert_int_equal(fl_tls_client_ctx(&o, &ctx), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "TLS needs the federation CA certificate file");
	/* Nothing is left on the error queue for the next caller. */
	assert_int_equal(ERR_peek_error(), 0);
}

static void test_client_new_needs_host(void **state)
{
	(void)state;
	SSL_CTX *c = client_ctx("acme.crt", "acme.key");
	SSL *ssl = (SSL *)0x1;

	assert_int_equal(fl_tls_client_new(c, -1, "", &ssl), FL_ERR_INVALID);
	assert_null(ssl);
	assert_string_equal(fl_errmsg(), "TLS: no coordinator host name to check its certificate");
	/* Without a socket yet (a bufferevent will set it). */
	assert_int_equal(fl_tls_client_new(c, -1, "coord.example", &ssl), 0);
	assert_int_equal(SSL_get_fd(ssl), -1);
	assert_string_equal(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), "coord.example");
	SSL_free(ssl);
	/* An address is not sent as SNI. */
	assert_int_equal(fl_tls_client_new(c, -1, "::1", &ssl), 0);
	assert_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	SSL_free(ssl);
	SSL_CTX_free(c);
}

static void test_last_error(void **state)
{
	(void)state;
	char buf[256], small[10];

	ERR_clear_error();
	assert_string_equal(fl_tls_last_error(buf, sizeof(buf)), "no details from OpenSSL");
	ERR_raise_data(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE, "ca.crt");
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_CERTIFICATE_ASSIGNED);
	assert_string_equal(fl_tls_last_error(buf, sizeof(buf)),
	                    "cert already in hash table (ca.crt); no certificate assigned");
	assert_int_equal(ERR_peek_error(), 0);
	/* Cut to the buffer, and the queue is still drained. */
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_CERTIFICATE_ASSIGNED);
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_CERTIFICATE_ASSIGNED);
	assert_string_equal(fl_tls_last_error(small, sizeof(small)), "no certif");
	assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good_pair),
	        cmocka_unit_test(test_wrong_host),
	        cmocka_unit_test(test_client_without_certificate),
	        cmocka_unit_test(test_client_of_another_ca),
	        cmocka_unit_test(test_expired_client),
	        cmocka_unit_test(test_revoked_client),
	        cmocka_unit_test(test_tls12_client_refused),
	        cmocka_unit_test(test_roles_enforced),
	        cmocka_unit_test(test_identities),
	        cmocka_unit_test(test_context_errors),
	        cmocka_unit_test(test_client_new_needs_host),
	        cmocka_unit_test(test_last_error),
	};

	return cmocka_run_group_tests(tests, setup, pki_teardown);
}
