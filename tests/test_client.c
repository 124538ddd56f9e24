/*
 * Tests for src/net/client.c, fedlead-node's federation client, run through
 * fl_node_run() against a scripted coordinator in a thread of this process:
 * a real TLS server on a 127.0.0.1 ephemeral port, with certificates made at
 * test time by deploy/fedlead-ca. Each connection it accepts gets the
 * script's next action (a Welcome, a Reject, an oversized frame header).
 *
 * The client's clock is replaced (fl_node_set_clock): its "sleep" records
 * the wait and advances a fake clock, so the backoff schedule and
 * give_up_after are checked exactly and nothing waits on time. What the
 * client logs goes to stderr, which each test captures in a file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "fedlead/cli.h"
#include "fedlead/client.h"
#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/tls.h"
#include "fedlead/wire.h"
#include "support/pki.h"

#define COIL_SCHEMA FL_TEST_DATA "/coil2000/coil2000.schema.json"
#define COIL_DATA FL_TEST_DATA "/coil2000/train.csv"

static int setup(void **state)
{
	(void)state;
	if (pki_setup("/tmp/fl_test_client.XXXXXX") != 0 ||
	    ca("issue --dir ca --name coord.example --role coordinator --dns "
	       "coord.example --ip 127.0.0.1 --out coord") != 0 ||
	    ca("issue --dir ca --name acme --role partner --out acme") != 0)
		return -1;
	return 0;
}

/* ---- the fake clock ---- */

#define MAX_WAITS 256

static struct {
	double now;
	double waits[MAX_WAITS];
	int n;
} clk;

static double fake_now(void *arg)
{
	(void)arg;
	return clk.now;
}

static void fake_sleep(void *arg, double s)
{
	(void)arg;
	if (clk.n < MAX_WAITS)
		clk.waits[clk.n] = s;
	clk.n++;
	clk.now += s;
}

/* ---- the scripted coordinator ---- */

enum action {
	ACT_WELCOME_PLAIN, /* Welcome into "acme-2026" without secure aggregation */
	ACT_REJECT_NOW,    /* Reject, permanent = false */
	ACT_REJECT_EVER,   /* Reject, permanent = true */
	ACT_BIG_HEADER,    /* a header announcing max_frame + 1 bytes, then nothing */
};

#define MAX_SCRIPT 8

struct coord {
	SSL_CTX *ctx;
	int lfd, stop[2];
	uint16_t port;
	char addr[32];
	enum action script[MAX_SCRIPT];
	int nscript;
	size_t max_frame; /* what the client was given, for ACT_BIG_HEADER */
	pthread_t th;
	/* results, read after the thread has ended */
	int accepted;   /* TCP connections, including ones never served */
	int handshakes; /* completed TLS handshakes */
	int hellos;     /* Hello frames received */
};

static int ssl_read_all(SSL *ssl, uint8_t *buf, size_t n)
{
	while (n > 0) {
		int r = SSL_read(ssl, buf, (int)n);

		if (r <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

static int ssl_write_all(SSL *ssl, const uint8_t *buf, size_t n)
{
	while (n > 0) {
		int r = SSL_write(ssl, buf, (int)n);

		if (r <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reads one frame and says whether it was a Hello. Uses no fl_ function
 * that records a message: the client's error text lives in its thread. */
static int read_hello(SSL *ssl)
{
	uint8_t hdr[4], *body;
	uint32_t n;
	Fedlead__Wire__Envelope *env;
	int ok;

	if (ssl_read_all(ssl, hdr, 4) != 0)
		return 0;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (n == 0 || n > FL_WIRE_PREAUTH_MAX_FRAME || (body = malloc(n)) == NULL)
		return 0;
	if (ssl_read_all(ssl, body, n) != 0) {
		free(body);
		return 0;
	}
	env = fedlead__wire__envelope__unpack(NULL, n, body);
	free(body);
	ok = env != NULL && env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_HELLO &&
	     strcmp(env->hello->federation_id, "acme-2026") == 0;
	if (env != NULL)
		fedlead__wire__envelope__free_unpacked(env, NULL);
	return ok;
}

static void send_env(SSL *ssl, const Fedlead__Wire__Envelope *env)
{
	uint8_t *frame;
	size_t len;

	if (fl_wire_encode(env, &frame, &len) != 0) {
		fprintf(stderr, "scripted coordinator: cannot encode: %s\n", fl_errmsg());
		return;
	}
	ssl_write_all(ssl, frame, len);
	free(frame);
}

static void act(struct coord *c, SSL *ssl, enum action a)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Welcome w = FEDLEAD__WIRE__WELCOME__INIT;
	Fedlead__Wire__Plan plan = FEDLEAD__WIRE__PLAN__INIT;
	Fedlead__Wire__Reject rj = FEDLEAD__WIRE__REJECT__INIT;
	uint8_t hdr[4], sink[256];
	uint32_t big = (uint32_t)c->max_frame + 1;

	switch (a) {
	case ACT_WELCOME_PLAIN:
		plan.algorithm = (char *)"newton";
		plan.validation_split = 0.2;
		plan.seed = 7;
		plan.hist_bins = 64;
		plan.hist_range = 10;
		plan.secure_aggregation = 0;
		w.protocol_version = FL_WIRE_PROTOCOL_VERSION;
		w.federation_id = (char *)"acme-2026";
		w.coordinator_version = (char *)"test";
		w.partner_identity = (char *)"acme";
		w.plan = &plan;
		env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME;
		env.welcome = &w;
		send_env(ssl, &env);
		break;
	case ACT_REJECT_NOW:
	case ACT_REJECT_EVER:
		rj.permanent = a == ACT_REJECT_EVER;
		rj.reason = (char *)(rj.permanent ? "schema fingerprint does not match"
		                                  : "coordinator is full");
		env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_REJECT;
		env.reject = &rj;
		send_env(ssl, &env);
		break;
	case ACT_BIG_HEADER:
		hdr[0] = (uint8_t)(big >> 24);
		hdr[1] = (uint8_t)(big >> 16);
		hdr[2] = (uint8_t)(big >> 8);
		hdr[3] = (uint8_t)big;
		ssl_write_all(ssl, hdr, 4);
		/* A body follows, so that a client that ignored the limit
		 * fails the test on its message instead of hanging. */
		for (uint32_t left = big; left > 0;) {
			uint32_t k = left < sizeof(sink) ? left : (uint32_t)sizeof(sink);

			memset(sink, 0, k);
			if (ssl_write_all(ssl, sink, k) != 0)
				break;
			left -= k;
		}
		while (SSL_read(ssl, sink, sizeof(sink)) > 0)
			;
		return;
	}
}

static void *coord_main(void *arg)
{
	struct coord *c = arg;

	for (;;) {
		struct pollfd pfd[2] = {{.fd = c->lfd, .events = POLLIN},
		                        {.fd = c->stop[0], .events = POLLIN}};
		SSL *ssl;
		int fd;

		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents != 0)
			break;
		if ((fd = accept(c->lfd, NULL, NULL)) < 0)
			continue;
		c->accepted++;
		ssl = SSL_new(c->ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1) {
			c->handshakes++;
			if (read_hello(ssl)) {
				c->hellos++;
				if (c->accepted <= c->nscript)
					act(c, ssl, c->script[c->accepted - 1]);
			}
			SSL_shutdown(ssl);
		}
		SSL_free(ssl);
		close(fd);
		ERR_clear_error();
	}
	/* Connections the client made that were never served still count. */
	fcntl(c->lfd, F_SETFL, fcntl(c->lfd, F_GETFL) | O_NONBLOCK);
	for (int fd; (fd = accept(c->lfd, NULL, NULL)) >= 0; close(fd))
		c->accepted++;
	return NULL;
}

static SSL_CTX *coord_ctx(void)
{
	struct fl_tls_opts o = {
	        .ca = P("ca/ca.crt"), .cert = P("coord.crt"), .key = P("coord.key")};
	SSL_CTX *ctx = NULL;

	if (fl_tls_server_ctx(&o, &ctx) != 0)
		fail_msg("server ctx: %s", fl_errmsg());
	return ctx;
}

/* A listening socket on 127.0.0.1 at a port the kernel chooses. */
static int listen_local(uint16_t *port, int do_listen)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void coord_start(struct coord *c, SSL_CTX *ctx, const enum action *script, int n)
{
	memset(c, 0, sizeof(*c));
	c->ctx = ctx;
	c->lfd = listen_local(&c->port, 1);
	snprintf(c->addr, sizeof(c->addr), "127.0.0.1:%u", c->port);
	assert_int_equal(pipe(c->stop), 0);
	if (n > 0)
		memcpy(c->script, script, (size_t)n * sizeof(*script));
	c->nscript = n;
	c->max_frame = 1024;
	assert_int_equal(pthread_create(&c->th, NULL, coord_main, c), 0);
}

static void coord_stop(struct coord *c)
{
	assert_int_equal(write(c->stop[1], "x", 1), 1);
	assert_int_equal(pthread_join(c->th, NULL), 0);
	close(c->stop[0]);
	close(c->stop[1]);
	close(c->lfd);
	SSL_CTX_free(c->ctx);
}

/* ---- running the client ---- */

static void node_opts(struct fl_node_opts *o, const char *coordinator)
{
	memset(o, 0, sizeof(*o));
	o->schema_path = COIL_SCHEMA;
	o->data_path = COIL_DATA;
	o->bad_rows = FL_BAD_ROWS_FAIL;
	o->federation_id = "acme-2026";
	o->coordinator = coordinator;
	o->tls.ca = P("ca/ca.crt");
	o->tls.cert = P("acme.crt");
	o->tls.key = P("acme.key");
	o->model_out = P("pooled.fdl");
	o->audit_log = P("audit.jsonl");
	o->max_frame = 1024;
	o->backoff_initial = 1;
	o->backoff_max = 8;
	/* A regression that retries instead of stopping fails on this (on
	 * the fake clock, in a few dozen attempts) rather than hanging. */
	o->give_up_after = 30;
	fl_node_policy_default(&o->policy);
	o->policy.federation_id = "acme-2026";
}

static char logged[1 << 16];

/* Runs the client with the fake clock, its stderr captured in logged. */
static int run_node(const struct fl_node_opts *o)
{
	struct fl_node_clock fake = {fake_now, fake_sleep, NULL};
	int saved, fd, r;
	ssize_t n;

	memset(&clk, 0, sizeof(clk));
	clk.now = 1000;
	unlink(P("stderr"));
	unlink(P("audit.jsonl"));
	assert_true((fd = open(P("stderr"), O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
	fflush(stderr);
	assert_true((saved = dup(2)) >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	fl_node_set_clock(&fake);
	r = fl_node_run(o);
	fl_node_set_clock(NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, logged, sizeof(logged) - 1, 0);
	logged[n > 0 ? n : 0] = '\0';
	close(fd);
	return r;
}

static void expect_logged(const char *text)
{
	if (strstr(logged, text) == NULL)
		fail_msg("not in the log: \"%s\"\nlog:\n%s", text, logged);
}

static void expect_not_logged(const char *text)
{
	if (strstr(logged, text) != NULL)
		fail_msg("unexpected in the log: \"%s\"\nlog:\n%s", text, logged);
}

static void expect_error(int r, int code, const char *msg)
{
	if (r != code)
		fail_msg("fl_node_run returned %d, expected %d (%s)\nlog:\n%s", r, code,
		         fl_errmsg(), logged);
	assert_string_equal(fl_errmsg(), msg);
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *fp = fopen(path, "r");
	size_t n;

	buf[0] = '\0';
	if (fp == NULL)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* ---- the tests ---- */

/* A permanent Reject ends the node at once: no wait, no second connection,
 * and fedlead-node exits with status 1. */
static void test_permanent_reject_stops(void **state)
{
	static const enum action script[] = {ACT_REJECT_EVER};
	struct fl_node_opts o;
	struct coord c;
	char msg[256];
	int r;

	(void)state;
	coord_start(&c, coord_ctx(), script, 1);
	node_opts(&o, c.addr);
	r = run_node(&o);
	coord_stop(&c);
	snprintf(msg, sizeof(msg),
	         "coordinator %s refused this partner: schema fingerprint does not match", c.addr);
	expect_error(r, FL_ERR_AUTH, msg);
	assert_int_equal(c.hellos, 1);
	assert_int_equal(c.accepted, 1);
	assert_int_equal(clk.n, 0);
	assert_int_equal(fl_cli_exit_code(r), FL_EXIT_FAILURE);
	assert_non_null(strstr(slurp(P("audit.jsonl")), "schema fingerprint does not match"));
}

/* A Reject "for now" is logged and the node comes back after one backoff
 * wait; the next, permanent one stops it. */
static void test_transient_reject_reconnects(void **state)
{
	static const enum action script[] = {ACT_REJECT_NOW, ACT_REJECT_EVER};
	struct fl_node_opts o;
	struct coord c;
	char msg[256];
	int r;

	(void)state;
	coord_start(&c, coord_ctx(), script, 2);
	node_opts(&o, c.addr);
	r = run_node(&o);
	coord_stop(&c);
	snprintf(msg, sizeof(msg),
	         "coordinator %s refused this partner for now: "
	         "coordinator is full",
	         c.addr);
	expect_logged(msg);
	snprintf(msg, sizeof(msg),
	         "coordinator %s refused this partner: schema fingerprint does not match", c.addr);
	expect_error(r, FL_ERR_AUTH, msg);
	assert_int_equal(c.hellos, 2);
	assert_int_equal(c.accepted, 2);
	assert_int_equal(clk.n, 1);
	/* backoff_initial = 1 s, jittered by a factor in [0.5, 1.5) */
	assert_true(clk.waits[0] >= 0.5 && clk.waits[0] < 1.5);
}

/* The node's policy requires secure aggregation by default: a Welcome into
 * a plaintext federation is refused, audited, and ends the node without a
 * reconnect (fedlead-node exit status 1, see fl_node_run's comment). */
static void test_plaintext_welcome_refused_by_policy(void **state)
{
	static const enum action script[] = {ACT_WELCOME_PLAIN, ACT_REJECT_EVER};
	struct fl_node_opts o;
	struct coord c;
	const char *audit;
	int r;

	(void)state;
	coord_start(&c, coord_ctx(), script, 2);
	node_opts(&o, c.addr);
	r = run_node(&o);
	coord_stop(&c);
	expect_error(r, FL_ERR_AUTH,
	             "policy require_secure_aggregation: coordinator runs federation "
	             "\"acme-2026\" without secure aggregation, so this partner's updates would "
	             "reach it in plaintext; refused");
	assert_int_equal(fl_cli_exit_code(r), FL_EXIT_FAILURE);
	assert_int_equal(c.accepted, 1);
	assert_int_equal(clk.n, 0);
	expect_not_logged("joined federation");
	audit = slurp(P("audit.jsonl"));
	if (strstr(audit, "refuse") == NULL || strstr(audit, "require_secure_aggregation") == NULL)
		fail_msg("no refuse event in the audit log:\n%s", audit);
}

/* The control for the test above: the same Welcome with allow_plaintext is
 * joined, and the dropped connection is retried. */
static void test_plaintext_welcome_allowed_by_policy(void **state)
{
	static const enum action script[] = {ACT_WELCOME_PLAIN, ACT_REJECT_EVER};
	struct fl_node_opts o;
	struct coord c;
	char msg[256];
	int r;

	(void)state;
	coord_start(&c, coord_ctx(), script, 2);
	node_opts(&o, c.addr);
	o.policy.allow_plaintext = 1;
	r = run_node(&o);
	coord_stop(&c);
	expect_logged("joined federation acme-2026 as acme");
	snprintf(msg, sizeof(msg),
	         "coordinator %s refused this partner: schema fingerprint does not match", c.addr);
	expect_error(r, FL_ERR_AUTH, msg);
	assert_int_equal(c.accepted, 2);
	assert_int_equal(clk.n, 1);
}

/* A frame header announcing more than max_frame is refused on the header,
 * with a message naming the coordinator and both sizes (fl_wire_read_frame
 * checks it before it allocates the body); the node reconnects. */
static void test_oversized_frame_refused(void **state)
{
	static const enum action script[] = {ACT_BIG_HEADER, ACT_REJECT_EVER};
	struct fl_node_opts o;
	struct coord c;
	char msg[256];
	int r;

	(void)state;
	coord_start(&c, coord_ctx(), script, 2);
	node_opts(&o, c.addr);
	r = run_node(&o);
	coord_stop(&c);
	snprintf(msg, sizeof(msg),
	         "peer coordinator %s: frame of 1025 bytes exceeds the limit of 1024 bytes",
	         c.addr);
	expect_logged(msg);
	snprintf(msg, sizeof(msg),
	         "coordinator %s refused this partner: schema fingerprint does not match", c.addr);
	expect_error(r, FL_ERR_AUTH, msg);
	assert_int_equal(c.accepted, 2);
}

/* A coordinator certificate without the name the node expects is refused
 * for good: a certificate problem does not improve by retrying. */
static void test_server_name_mismatch_refused(void **state)
{
	struct fl_node_opts o;
	struct coord c;
	char msg[256];
	int r;

	(void)state;
	coord_start(&c, coord_ctx(), NULL, 0);
	node_opts(&o, c.addr);
	o.server_name = "coord.other.example";
	r = run_node(&o);
	coord_stop(&c);
	snprintf(msg, sizeof(msg), "coordinator %s: TLS handshake failed: hostname mismatch",
	         c.addr);
	expect_error(r, FL_ERR_AUTH, msg);
	assert_int_equal(c.accepted, 1);
	assert_int_equal(c.hellos, 0);
	assert_int_equal(clk.n, 0);
}

/* server_name replaces the dialled host in the check: the certificate's DNS
 * name is accepted on a connection to its address. */
static void test_server_name_match_accepted(void **state)
{
	static const enum action script[] = {ACT_REJECT_EVER};
	struct fl_node_opts o;
	struct coord c;
	char msg[256];
	int r;

	(void)state;
	coord_start(&c, coord_ctx(), script, 1);
	node_opts(&o, c.addr);
	o.server_name = "coord.example";
	r = run_node(&o);
	coord_stop(&c);
	snprintf(msg, sizeof(msg),
	         "coordinator %s refused this partner: schema fingerprint does not match", c.addr);
	expect_error(r, FL_ERR_AUTH, msg);
	assert_int_equal(c.hellos, 1);
}

/* A coordinator that speaks TLS 1.2 at most gets no Hello: the handshake
 * fails and the node keeps trying until give_up_after. */
static void test_tls12_coordinator_refused(void **state)
{
	struct fl_node_opts o;
	struct coord c;
	SSL_CTX *ctx;
	char msg[256];
	int r;

	(void)state;
	assert_non_null(ctx = SSL_CTX_new(TLS_server_method()));
	assert_int_equal(SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_use_certificate_file(ctx, P("coord.crt"), SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, P("coord.key"), SSL_FILETYPE_PEM), 1);
	coord_start(&c, ctx, NULL, 0);
	node_opts(&o, c.addr);
	o.give_up_after = 3;
	o.backoff_max = 1;
	r = run_node(&o);
	coord_stop(&c);
	assert_int_equal(c.handshakes, 0);
	assert_int_equal(c.hellos, 0);
	assert_true(c.accepted >= 2);
	assert_int_equal(c.accepted, clk.n + 1);
	/* OpenSSL's reason (the alert the coordinator sent when the node
	 * offered only TLS 1.3), not a certificate problem: there was none. */
	snprintf(msg, sizeof(msg),
	         "coordinator %s: TLS handshake failed: tlsv1 alert protocol version", c.addr);
	expect_logged(msg);
	expect_not_logged("peer presented no certificate");
	snprintf(msg, sizeof(msg), "no usable connection to %s for 3 s; giving up", c.addr);
	expect_error(r, FL_ERR_IO, msg);
}

/*
 * Nobody listens: every attempt is refused, the wait doubles from
 * backoff_initial up to backoff_max with a jitter factor in [0.5, 1.5), and
 * the node gives up at the first attempt after give_up_after seconds.
 */
static void test_backoff_capped_and_give_up(void **state)
{
	struct fl_node_opts o;
	char addr[32], msg[256];
	uint16_t port;
	double b = 1, total = 0, lo = 2, hi = 0;
	int fd, r;

	(void)state;
	fd = listen_local(&port, 0); /* bound, not listening: connections refused */
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	node_opts(&o, addr);
	o.backoff_initial = 1;
	o.backoff_max = 8;
	o.give_up_after = 60;
	r = run_node(&o);
	close(fd);
	snprintf(msg, sizeof(msg), "no usable connection to %s for 60 s; giving up", addr);
	expect_error(r, FL_ERR_IO, msg);
	snprintf(msg, sizeof(msg), "coordinator %s: Connection refused", addr);
	expect_logged(msg);
	assert_true(clk.n >= 7 && clk.n < MAX_WAITS);
	for (int i = 0; i < clk.n; i++) {
		double f = clk.waits[i] / b;

		if (!(f >= 0.5 && f < 1.5))
			fail_msg("wait %d: %g s for a backoff of %g s", i, clk.waits[i], b);
		lo = f < lo ? f : lo;
		hi = f > hi ? f : hi;
		total += clk.waits[i];
		b = b * 2 > 8 ? 8 : b * 2;
	}
	/* It gave up at the first check past 60 s, not before, not later. */
	assert_true(total > 60);
	assert_true(total - clk.waits[clk.n - 1] <= 60);
	/* Jitter: partners that lost the coordinator together spread out. */
	assert_true(hi - lo > 1e-6);
}

/* give_up_after = 0 means never: a permanent refusal is then the only way
 * out, after any number of waits (here 7, all after the first capped at backoff_max). */
static void test_no_give_up_when_zero(void **state)
{
	enum action script[MAX_SCRIPT];
	struct fl_node_opts o;
	struct coord c;
	SSL_CTX *ctx;
	int r;

	(void)state;
	/* Seven Rejects "for now", then a permanent one. */
	for (int i = 0; i < MAX_SCRIPT - 1; i++)
		script[i] = ACT_REJECT_NOW;
	script[MAX_SCRIPT - 1] = ACT_REJECT_EVER;
	ctx = coord_ctx();
	coord_start(&c, ctx, script, MAX_SCRIPT);
	node_opts(&o, c.addr);
	o.backoff_initial = 1;
	o.backoff_max = 2;
	o.give_up_after = 0;
	r = run_node(&o);
	coord_stop(&c);
	if (r != FL_ERR_AUTH)
		fail_msg("fl_node_run returned %d: %s\nlog:\n%s", r, fl_errmsg(), logged);
	assert_int_equal(c.accepted, MAX_SCRIPT);
	assert_int_equal(clk.n, MAX_SCRIPT - 1);
	for (int i = 1; i < clk.n; i++)
		assert_true(clk.waits[i] >= 1.0 && clk.waits[i] < 3.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_permanent_reject_stops),
	        cmocka_unit_test(test_transient_reject_reconnects),
	        cmocka_unit_test(test_plaintext_welcome_refused_by_policy),
	        cmocka_unit_test(test_plaintext_welcome_allowed_by_policy),
	        cmocka_unit_test(test_oversized_frame_refused),
	        cmocka_unit_test(test_server_name_mismatch_refused),
	        cmocka_unit_test(test_server_name_match_accepted),
	        cmocka_unit_test(test_tls12_coordinator_refused),
	        cmocka_unit_test(test_backoff_capped_and_give_up),
	        cmocka_unit_test(test_no_give_up_when_zero),
	};

	fl_log_init("fedlead-node", FL_LOG_INFO);
	return cmocka_run_group_tests(tests, setup, pki_teardown);
}
