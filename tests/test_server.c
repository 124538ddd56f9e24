/*
 * The coordinator's server without a real network: a server on a private
 * event_base is handed one end of a socketpair() per "connection", with a
 * made-up peer address, and the test plays the partner on the other end
 * (raw bytes, or a real TLS client driven step by step). The HTTP answers
 * are checked by calling fl_http_route() directly; only the HTTP connection
 * limits use a listening socket on 127.0.0.1.
 *
 * Log lines are read back from standard error, which each test sends to a
 * file, and compared exactly (less the timestamp and program prefix).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/schema.h"
#include "fedlead/tls.h"
#include "fedlead/wire.h"
#include "net/server_int.h"
#include "support/pki.h"

#define SCHEMA FL_TEST_DATA "/coil2000/coil2000.schema.json"
#define TOKEN "s3cret-token-0123456789"

static int group_setup(void **state)
{
	(void)state;
	if (pki_setup("/tmp/fl_test_server.XXXXXX") != 0 ||
	    ca("issue --dir ca --name coordinator --role coordinator --dns localhost "
	       "--ip 127.0.0.1 --out coord") != 0 ||
	    ca("issue --dir ca --name p1 --role partner --out p1") != 0 ||
	    sh("printf '%%s\\n' '" TOKEN "' > token && printf 'short\\n' > short"))
		return -1;
	return 0;
}

/* ---- a server on a private loop ---- */

static const char *const partners[] = {"p1", "p2", NULL};

struct fx {
	struct fl_coord_opts o;
	struct server s;
	SSL_CTX *client_ctx;
	int saved_stderr;
	char logpath[300];
	int peers[16]; /* the test's ends of the socketpairs */
	SSL *ssl[16];  /* a TLS client on peers[i], when the test made one */
	int n;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct fl_tls_opts client = {P("ca/ca.crt"), P("p1.crt"), P("p1.key"), NULL};
	int fd;

	if (f == NULL)
		return -1;
	f->o.set.federation_id = "test-fed";
	f->o.set.partners = partners;
	f->o.set.n_partners = 2;
	f->o.set.min_partners = 2;
	f->o.set.algorithm = FL_FED_NEWTON;
	f->o.set.l2 = 1;
	f->o.set.class_weight = 1;
	f->o.set.validation_split = 0.2;
	f->o.set.seed = 1;
	f->o.set.max_iterations = 10;
	f->o.set.tolerance = 1e-10;
	f->o.set.fedavg_rounds = 1;
	f->o.set.local_epochs = 1;
	f->o.set.local_batch = 64;
	f->o.set.local_lr = 0.5;
	f->o.set.hist_bins = 100;
	f->o.set.hist_range = 20;
	f->o.set.round_deadline = 60;
	f->o.set.late_policy = FL_LATE_WAIT;
	f->o.set.start_wait = 60;
	f->o.tls = (struct fl_tls_opts){P("ca/ca.crt"), P("coord.crt"), P("coord.key"), NULL};
	f->o.state_dir = pki_dir;
	f->o.max_frame = 4u << 20;
	f->o.hello_timeout = 30;
	f->o.max_connections = 100;
	f->o.max_preauth = 100;
	f->o.max_per_address = 100;
	f->o.frame_timeout = 30;
	f->o.http_max_connections = 2;
	f->o.http_timeout = 30;
	f->s.o = &f->o;
	assert_non_null(f->s.base = event_base_new());
	assert_int_equal(fl_schema_load(SCHEMA, &f->s.schema), 0);
	assert_int_equal(fl_tls_server_ctx(&f->o.tls, &f->s.ctx), 0);
	assert_int_equal(fl_tls_client_ctx(&client, &f->client_ctx), 0);
	assert_int_equal(fl_server_fedcoord(&f->s), 0);
	/* Log lines go to a file the test reads. */
	snprintf(f->logpath, sizeof(f->logpath), "%s/stderr.%d", pki_dir, rand());
	fflush(stderr);
	f->saved_stderr = dup(2);
	fd = open(f->logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && f->saved_stderr >= 0);
	dup2(fd, 2);
	close(fd);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	fflush(stderr);
	dup2(f->saved_stderr, 2);
	close(f->saved_stderr);
	fl_server_close_all(&f->s);
	fl_http_stop(&f->s);
	for (int i = 0; i < f->n; i++) {
		SSL_free(f->ssl[i]);
		if (f->peers[i] >= 0)
			close(f->peers[i]);
	}
	fl_fedcoord_free(f->s.fc);
	if (f->s.round_timer)
		event_free(f->s.round_timer);
	event_base_free(f->s.base);
	SSL_CTX_free(f->s.ctx);
	SSL_CTX_free(f->client_ctx);
	fl_schema_free(f->s.schema);
	free(f);
	return 0;
}

/* The log so far, with "TIMESTAMP PROG[PID] LEVEL: " cut from each line. */
static char *log_text(struct fx *f)
{
	static char out[1 << 16];
	char line[4096];
	FILE *fp = fopen(f->logpath, "r");
	size_t n = 0;

	out[0] = '\0';
	if (fp == NULL)
		return out;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *m = strstr(line, ": ");

		m = m ? m + 2 : line;
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", m);
		if (n >= sizeof(out))
			break;
	}
	fclose(fp);
	return out;
}

static int log_has(struct fx *f, const char *want)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s\n", want);
	return strstr(log_text(f), buf) != NULL;
}

/* cmocka reports on standard error, which is the log file during a test:
 * failures are written to the real one first. */
#define fail_log(f, ...)                                                                           \
	do {                                                                                       \
		dprintf((f)->saved_stderr, __VA_ARGS__);                                           \
		dprintf((f)->saved_stderr, "\nlog:\n%s", log_text(f));                             \
		fail();                                                                            \
	} while (0)
#define assert_logged(f, line)                                                                     \
	do {                                                                                       \
		if (!log_has(f, line))                                                             \
			fail_log(f, "expected the log line\n  %s", line);                          \
	} while (0)

/* Hands the server a new connection from "ip:port"; returns its index. */
static int connect_from(struct fx *f, const char *ip, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int sv[2];

	assert_true(f->n < 16);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	evutil_make_socket_nonblocking(sv[0]);
	evutil_make_socket_nonblocking(sv[1]);
	fl_server_accept(&f->s, sv[0], (struct sockaddr *)&sa, sizeof(sa));
	f->peers[f->n] = sv[1];
	return f->n++;
}

/* Runs the loop until nothing is ready. */
static void pump(struct fx *f)
{
	for (int i = 0; i < 5; i++)
		event_base_loop(f->s.base, EVLOOP_NONBLOCK);
}

/* Runs the loop until cond(f) or `secs` seconds have passed. */
static int run_until(struct fx *f, int (*cond)(struct fx *, const void *), const void *arg,
                     double secs)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timeval tick = {0, 5000};

		if (cond(f, arg))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 > secs)
			return 0;
		event_base_loopexit(f->s.base, &tick);
		event_base_dispatch(f->s.base);
	}
}

static int logged(struct fx *f, const void *line)
{
	return log_has(f, line);
}

#define assert_run_logged(f, line, secs)                                                           \
	do {                                                                                       \
		if (!run_until(f, logged, line, secs))                                             \
			fail_log(f, "expected the log line within %g s\n  %s", (double)(secs),     \
			         line);                                                            \
	} while (0)

/* The peer end was closed by the server (EOF, or reset). */
static int peer_closed(struct fx *f, int i)
{
	char b[4096];
	ssize_t n;

	pump(f); /* the server's side is freed in the loop */
	while ((n = recv(f->peers[i], b, sizeof(b), MSG_DONTWAIT)) > 0)
		;
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static size_t open_conns(struct fx *f)
{
	size_t open, pre;

	fl_server_counts(&f->s, &open, &pre);
	return open;
}

static size_t preauth_conns(struct fx *f)
{
	size_t open, pre;

	fl_server_counts(&f->s, &open, &pre);
	return pre;
}

/* A TLS client on connection i with p1's certificate, one step at a time. */
static void tls_start(struct fx *f, int i)
{
	assert_int_equal(fl_tls_client_new(f->client_ctx, f->peers[i], "localhost", &f->ssl[i]), 0);
	SSL_set_connect_state(f->ssl[i]);
	assert_int_equal(SSL_do_handshake(f->ssl[i]), -1); /* ClientHello sent, waiting */
	assert_int_equal(SSL_get_error(f->ssl[i], -1), SSL_ERROR_WANT_READ);
}

static int handshaken(struct fx *f, const void *arg)
{
	int i = *(const int *)arg;
	char b[1];

	if (SSL_is_init_finished(f->ssl[i])) {
		/* TLS 1.3: the server's verdict on our certificate comes after our
		 * Finished; a read lets the client take in its session tickets. */
		SSL_read(f->ssl[i], b, 0);
		ERR_clear_error();
		return log_has(f, "TLS connection from 10.0.0.1:1001: certificate of \"p1\"");
	}
	SSL_do_handshake(f->ssl[i]);
	ERR_clear_error();
	return 0;
}

static void tls_complete(struct fx *f, int i)
{
	tls_start(f, i);
	if (!run_until(f, handshaken, &i, 10))
		fail_log(f, "no TLS handshake");
}

/* Sends it all, letting the server read while the socket is full. */
static void tls_send(struct fx *f, int i, const void *data, size_t len)
{
	for (int tries = 0; tries < 1000; tries++) {
		int n = SSL_write(f->ssl[i], data, (int)len);

		if (n == (int)len)
			return;
		assert_int_equal(SSL_get_error(f->ssl[i], n), SSL_ERROR_WANT_WRITE);
		pump(f);
	}
	fail_log(f, "cannot send %zu bytes", len);
}

/* ---- partner connections ---- */

/* The per-address limit pushes out the oldest connection from the same
 * address; the pre-Hello limit the oldest from anywhere. */
static void test_preauth_limits_push_out_oldest(void **state)
{
	struct fx *f = *state;
	int a1, a2, a3, b1, c1;

	f->o.max_preauth = 3;
	f->o.max_per_address = 2;
	a1 = connect_from(f, "10.0.0.1", 1001);
	a2 = connect_from(f, "10.0.0.1", 1002);
	assert_int_equal(preauth_conns(f), 2);
	a3 = connect_from(f, "10.0.0.1", 1003);
	assert_logged(f, "10.0.0.1:1001: closed to make room for 10.0.0.1:1003: 2 connections "
	                 "from 10.0.0.1 have not said hello (max_connections_per_address)");
	assert_int_equal(preauth_conns(f), 2);
	assert_true(peer_closed(f, a1));
	assert_false(peer_closed(f, a2));
	b1 = connect_from(f, "10.0.0.2", 2001);
	assert_int_equal(preauth_conns(f), 3);
	c1 = connect_from(f, "10.0.0.3", 3001);
	assert_logged(f, "10.0.0.1:1002: closed to make room for 10.0.0.3:3001: 3 connections "
	                 "have not said hello (max_preauth_connections)");
	assert_true(peer_closed(f, a2));
	assert_false(peer_closed(f, a3) || peer_closed(f, b1) || peer_closed(f, c1));
	assert_int_equal(open_conns(f), 3);
	assert_int_equal(f->s.rejected, 2);
}

/* A connection in its TLS handshake is pushed out only after every silent
 * one, even when it is older. */
static void test_push_out_prefers_silent(void **state)
{
	struct fx *f = *state;
	int x, y, z, w;

	f->o.max_preauth = 2;
	x = connect_from(f, "10.0.0.1", 1001);
	tls_start(f, x);
	pump(f);
	y = connect_from(f, "10.0.0.2", 2002);
	z = connect_from(f, "10.0.0.3", 3003);
	assert_logged(f, "10.0.0.2:2002: closed to make room for 10.0.0.3:3003: 2 connections "
	                 "have not said hello (max_preauth_connections)");
	assert_true(peer_closed(f, y));
	w = connect_from(f, "10.0.0.4", 4004);
	assert_logged(f, "10.0.0.3:3003: closed to make room for 10.0.0.4:4004: 2 connections "
	                 "have not said hello (max_preauth_connections)");
	assert_true(peer_closed(f, z));
	assert_false(peer_closed(f, w));
	/* Once only handshaking connections are left, the oldest of them goes. */
	tls_start(f, w);
	pump(f);
	(void)connect_from(f, "10.0.0.5", 5005);
	assert_logged(f, "10.0.0.1:1001: closed to make room for 10.0.0.5:5005: 2 connections "
	                 "have not said hello (max_preauth_connections)");
}

/* A connection with a verified certificate is never pushed out: with no
 * one else to push out, the newcomer is refused. And max_connections. */
static void test_refusals(void **state)
{
	struct fx *f = *state;
	int x, y;

	f->o.max_preauth = 1;
	f->o.max_connections = 2;
	x = connect_from(f, "10.0.0.1", 1001);
	tls_complete(f, x);
	y = connect_from(f, "10.0.0.9", 9009);
	assert_logged(f, "refusing a connection: 1 connections have not said hello "
	                 "(max_preauth_connections); from 10.0.0.9:9009");
	assert_true(peer_closed(f, y));
	assert_false(peer_closed(f, x));
	f->o.max_preauth = 5;
	f->o.max_per_address = 1;
	y = connect_from(f, "10.0.0.1", 1002);
	assert_logged(f, "refusing a connection: 1 connections from 10.0.0.1 have not said hello "
	                 "(max_connections_per_address); from 10.0.0.1:1002");
	assert_true(peer_closed(f, y));
	f->o.max_per_address = 5;
	(void)connect_from(f, "10.0.0.2", 2002);
	y = connect_from(f, "10.0.0.3", 3003);
	assert_logged(f, "refusing a connection: 2 connections open (max_connections); from "
	                 "10.0.0.3:3003");
	assert_true(peer_closed(f, y));
	assert_int_equal(open_conns(f), 2);
	assert_int_equal(f->s.rejected, 3);
}

static void test_hello_timeout(void **state)
{
	struct fx *f = *state;
	int x;

	f->o.hello_timeout = 0.05;
	x = connect_from(f, "10.0.0.1", 1001);
	assert_run_logged(f, "10.0.0.1:1001: no hello within 0.05 s; closing", 5);
	pump(f);
	assert_true(peer_closed(f, x));
	assert_int_equal(open_conns(f), 0);
}

/* A partial frame before the Hello: closed at frame_timeout, which names
 * the partner, the frame's announced size and how much of it came. */
static void test_frame_timeout_before_hello(void **state)
{
	struct fx *f = *state;
	const uint8_t part[14] = {0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	int x;

	f->o.frame_timeout = 0.1;
	x = connect_from(f, "10.0.0.1", 1001);
	tls_complete(f, x);
	tls_send(f, x, part, sizeof(part));
	assert_run_logged(f,
	                  "10.0.0.1:1001 p1: a frame of 100 bytes incomplete after "
	                  "0.1 s, 10 bytes of it received (frame_timeout); closing",
	                  5);
	pump(f);
	assert_int_equal(open_conns(f), 0);
}

static int joined(struct fx *f, const void *arg)
{
	(void)arg;
	return log_has(f, "partner p1 joined (1 of 2 connected)");
}

/* p1's Hello, as a node sends it, on connection i. */
static void send_hello(struct fx *f, int i)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Hello h = FEDLEAD__WIRE__HELLO__INIT;
	uint8_t *frame;
	size_t len;

	h.protocol_version = FL_WIRE_PROTOCOL_VERSION;
	h.software_version = "test";
	h.schema_fingerprint.data = f->s.schema->fingerprint;
	h.schema_fingerprint.len = FL_FINGERPRINT_LEN;
	h.federation_id = "test-fed";
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	assert_int_equal(fl_wire_encode(&env, &frame, &len), 0);
	tls_send(f, i, frame, len);
	free(frame);
}

/* An admitted partner parking a large partial frame: read up to the
 * frame's size, then closed at frame_timeout; a frame that keeps coming
 * in full is not cut. */
static void test_frame_timeout_after_hello(void **state)
{
	struct fx *f = *state;
	static uint8_t chunk[65536];
	uint8_t hdr[4] = {0, 0x10, 0, 0}; /* 1 MiB */
	int x;

	f->o.frame_timeout = 0.2;
	x = connect_from(f, "10.0.0.1", 1001);
	tls_complete(f, x);
	send_hello(f, x);
	assert_true(run_until(f, joined, NULL, 5));
	assert_int_equal(preauth_conns(f), 0);
	/* More than the pre-Hello limit is now acceptable, up to max_frame. */
	tls_send(f, x, hdr, 4);
	for (int k = 0; k < 4; k++)
		tls_send(f, x, chunk, sizeof(chunk));
	assert_run_logged(f,
	                  "10.0.0.1:1001 p1: a frame of 1048576 bytes incomplete "
	                  "after 0.2 s, 262144 bytes of it received (frame_timeout); "
	                  "closing",
	                  5);
	assert_logged(f, "partner p1 disconnected");
}

/* Frame lengths are judged on the header alone: 64 KiB before the Hello,
 * max_frame after it. */
static void test_frame_length_limits(void **state)
{
	struct fx *f = *state;
	const uint8_t big[4] = {0, 1, 0, 1};     /* 65537 */
	const uint8_t huge[4] = {0, 0x40, 0, 1}; /* max_frame + 1 */
	int x, y;

	x = connect_from(f, "10.0.0.1", 1001);
	tls_complete(f, x);
	tls_send(f, x, big, 4);
	assert_run_logged(f,
	                  "peer p1: frame of 65537 bytes exceeds the limit of 65536 bytes "
	                  "(from 10.0.0.1:1001); closing",
	                  5);
	assert_int_equal(open_conns(f), 0);
	y = connect_from(f, "10.0.0.1", 1001);
	tls_complete(f, y);
	send_hello(f, y);
	assert_true(run_until(f, joined, NULL, 5));
	tls_send(f, y, huge, 4);
	assert_run_logged(f,
	                  "peer p1: frame of 4194305 bytes exceeds the limit of 4194304 bytes "
	                  "(from 10.0.0.1:1001); closing",
	                  5);
}

/* ---- the HTTP endpoint ---- */

static void route(struct fx *f, int method, const char *uri, const char *auth,
                  struct fl_http_reply *r)
{
	assert_int_equal(fl_http_route(&f->s, method, uri, auth, "10.0.0.5:80", r), 0);
}

static void test_http_routes(void **state)
{
	struct fx *f = *state;
	struct fl_http_reply r;

	route(f, EVHTTP_REQ_GET, "/healthz", NULL, &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.type, "text/plain");
	assert_string_equal(r.body, "ok\n");
	free(r.body);
	route(f, EVHTTP_REQ_POST, "/status", NULL, &r);
	assert_int_equal(r.code, 405);
	assert_string_equal(r.body, "GET only\n");
	free(r.body);
	route(f, EVHTTP_REQ_GET, "/Status", NULL, &r);
	assert_int_equal(r.code, 404);
	assert_string_equal(r.reason, "Not Found");
	assert_string_equal(r.body, "not found\n");
	free(r.body);
	route(f, EVHTTP_REQ_GET, "/status", NULL, &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.type, "application/json");
	assert_non_null(strstr(r.body, "\"federation\": \"test-fed\",\n  \"phase\": \"waiting\""));
	free(r.body);
	route(f, EVHTTP_REQ_HEAD, "/metrics", NULL, &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.type, "text/plain; version=0.0.4");
	assert_non_null(
	        strstr(r.body, "\nfedlead_connections_preauth{federation=\"test-fed\"} 0\n"));
	assert_non_null(
	        strstr(r.body, "\nfedlead_http_connections_open{federation=\"test-fed\"} 0\n"));
	free(r.body);
}

static void test_http_token(void **state)
{
	struct fx *f = *state;
	struct fl_http_reply r;

	f->o.http_listen = "127.0.0.1:0";
	f->o.http_token_file = P("token");
	assert_int_equal(fl_http_start(&f->s), 0);
	route(f, EVHTTP_REQ_GET, "/status", NULL, &r);
	assert_int_equal(r.code, 401);
	assert_string_equal(r.header, "WWW-Authenticate: Bearer realm=\"fedlead\"");
	assert_string_equal(r.body, "bearer token required\n");
	free(r.body);
	assert_logged(f,
	              "HTTP request from 10.0.0.5:80 refused: no bearer token (http_token_file)");
	route(f, EVHTTP_REQ_GET, "/metrics", "Bearer " TOKEN "x", &r);
	assert_int_equal(r.code, 401);
	free(r.body);
	route(f, EVHTTP_REQ_GET, "/metrics", "Basic " TOKEN, &r);
	assert_int_equal(r.code, 401);
	free(r.body);
	assert_logged(f, "HTTP request from 10.0.0.5:80 refused: wrong bearer token "
	                 "(http_token_file)");
	route(f, EVHTTP_REQ_GET, "/status", "Bearer " TOKEN, &r);
	assert_int_equal(r.code, 200);
	free(r.body);
	route(f, EVHTTP_REQ_GET, "/status", "bearer " TOKEN, &r);
	assert_int_equal(r.code, 200);
	free(r.body);
	route(f, EVHTTP_REQ_GET, "/healthz", NULL, &r);
	assert_int_equal(r.code, 200);
	free(r.body);
}

static void test_http_token_file_errors(void **state)
{
	struct fx *f = *state;
	char want[512];

	f->o.http_listen = "127.0.0.1:0";
	f->o.http_token_file = P("short");
	assert_int_equal(fl_http_start(&f->s), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "http_token_file %s: the token must be at least 16 characters",
	         P("short"));
	assert_string_equal(fl_errmsg(), want);
	fl_http_stop(&f->s);
	f->o.http_token_file = P("missing");
	assert_int_equal(fl_http_start(&f->s), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "http_token_file %s: No such file or directory", P("missing"));
	assert_string_equal(fl_errmsg(), want);
	/* fedlead-coordinator --check reads the file the same way. */
	assert_int_equal(fl_http_check_token_file(P("missing")), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(fl_http_check_token_file(P("short")), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "http_token_file %s: the token must be at least 16 characters",
	         P("short"));
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(fl_http_check_token_file(P("token")), 0);
}

/* Connections to the HTTP endpoint (on 127.0.0.1): the third of
 * http_max_connections = 2 is refused, and one that sends half a request
 * is closed at http_timeout. */
static int http_conns_are(struct fx *f, const void *arg)
{
	return fl_http_connections(&f->s) == *(const size_t *)arg;
}

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	getsockname(fd, (struct sockaddr *)&sa, &len);
	return ntohs(sa.sin_port);
}

static void test_http_limits(void **state)
{
	struct fx *f = *state;
	char want[256];
	size_t two = 2, none = 0;
	int a, b, c;

	f->o.http_listen = "127.0.0.1:0";
	f->o.http_timeout = 0.3;
	assert_int_equal(fl_http_start(&f->s), 0);
	a = tcp_connect(f->s.http_port);
	assert_int_equal(write(a, "GET /sta", 8), 8);
	b = tcp_connect(f->s.http_port);
	assert_true(run_until(f, http_conns_are, &two, 5));
	c = tcp_connect(f->s.http_port);
	snprintf(want, sizeof(want),
	         "refusing an HTTP connection from 127.0.0.1:%d: 2 open "
	         "(http_max_connections)",
	         local_port(c));
	assert_run_logged(f, want, 5);
	snprintf(want, sizeof(want),
	         "HTTP connection from 127.0.0.1:%d: no request within 0.3 s "
	         "(http_timeout); closing",
	         local_port(a));
	assert_run_logged(f, want, 5);
	assert_true(run_until(f, http_conns_are, &none, 5));
	close(a);
	close(b);
	close(c);
}

/* A TLS client of the HTTPS endpoint, driven one step per turn of the loop:
 * handshake, then the request, then reading the answer into buf. */
struct https_client {
	SSL *ssl;
	int sent;
	char buf[8192];
	size_t len;
};

static int https_step(struct fx *f, const void *arg)
{
	struct https_client *c = (struct https_client *)arg;
	const char *req = "GET /healthz HTTP/1.0\r\n\r\n";
	int n;

	(void)f;
	if (!SSL_is_init_finished(c->ssl))
		SSL_do_handshake(c->ssl);
	else if (!c->sent)
		c->sent = SSL_write(c->ssl, req, (int)strlen(req)) > 0;
	else if ((n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - 1 - c->len))) > 0)
		c->len += (size_t)n;
	ERR_clear_error();
	c->buf[c->len] = '\0';
	return strstr(c->buf, "\r\n\r\nok\n") != NULL;
}

struct https_refusal {
	struct https_client *c;
	const char *line;
};

static int https_refused(struct fx *f, const void *arg)
{
	const struct https_refusal *r = arg;

	https_step(f, r->c);
	return log_has(f, r->line);
}

static void https_connect(struct fx *f, SSL_CTX *ctx, struct https_client *c, int *fd)
{
	*fd = tcp_connect(f->s.http_port);
	evutil_make_socket_nonblocking(*fd);
	assert_int_equal(fl_tls_client_new(ctx, *fd, "localhost", &c->ssl), 0);
	SSL_set_connect_state(c->ssl);
}

/* With http_client_ca: a client without a certificate is refused in the
 * handshake, logged; one with a certificate from that CA gets its answer. */
static void test_https_client_certificate(void **state)
{
	struct fx *f = *state;
	struct fl_tls_opts anon_opts = {P("ca/ca.crt"), NULL, NULL, NULL};
	struct https_client anon = {0}, good = {0};
	struct https_refusal refusal = {&anon, NULL};
	SSL_CTX *anon_ctx = NULL;
	char want[256];
	int a, b;

	f->o.http_listen = "127.0.0.1:0";
	f->o.http_client_ca = P("ca/ca.crt");
	assert_int_equal(fl_http_start(&f->s), 0);
	assert_int_equal(fl_tls_client_ctx(&anon_opts, &anon_ctx), 0);
	https_connect(f, anon_ctx, &anon, &a);
	snprintf(want, sizeof(want),
	         "HTTPS connection from 127.0.0.1:%d refused: peer presented "
	         "no certificate (http_client_ca)",
	         local_port(a));
	refusal.line = want;
	if (!run_until(f, https_refused, &refusal, 10))
		fail_log(f, "expected the log line\n  %s", want);
	https_connect(f, f->client_ctx, &good, &b);
	if (!run_until(f, https_step, &good, 10))
		fail_log(f, "no answer over HTTPS; got \"%s\"", good.buf);
	assert_true(strncmp(good.buf, "HTTP/1.0 200 OK\r\n", 17) == 0 ||
	            strncmp(good.buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	SSL_free(anon.ssl);
	SSL_free(good.ssl);
	SSL_CTX_free(anon_ctx);
	close(a);
	close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_preauth_limits_push_out_oldest, fx_setup,
	                                        fx_teardown),
	        cmocka_unit_test_setup_teardown(test_push_out_prefers_silent, fx_setup,
	                                        fx_teardown),
	        cmocka_unit_test_setup_teardown(test_refusals, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_hello_timeout, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_frame_timeout_before_hello, fx_setup,
	                                        fx_teardown),
	        cmocka_unit_test_setup_teardown(test_frame_timeout_after_hello, fx_setup,
	                                        fx_teardown),
	        cmocka_unit_test_setup_teardown(test_frame_length_limits, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_http_routes, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_http_token, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_http_token_file_errors, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_http_limits, fx_setup, fx_teardown),
	        cmocka_unit_test_setup_teardown(test_https_client_certificate, fx_setup,
	                                        fx_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, pki_teardown);
}
