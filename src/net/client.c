/*
 * The partner's federation client. Blocking I/O is enough here: a node has
 * one connection and nothing else to do while it waits for the coordinator.
 */
#include "fedlead/client.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fedlead/config.h"
#include "fedlead/error.h"
#include "fedlead/fault.h"
#include "fedlead/log.h"
#include "fedlead/mapping.h"
#include "fedlead/node.h"
#include "fedlead/partner_sign.h"
#include "fedlead/schema_round.h"
#include "fedlead/wire.h"
#include <openssl/pem.h>

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* SIGHUP: new certificates, key and CRL for the next connection. */
static void on_hup(int sig)
{
	(void)sig;
	reload_requested = 1;
}

struct session {
	const struct fl_node_opts *o;
	struct fl_fednode *node;
	struct fl_audit *audit;
	SSL_CTX *ctx;
	SSL *ssl;
	EVP_PKEY *key;     /* signs secure-aggregation key advertisements */
	X509_STORE *store; /* checks the other partners' certificates */
	int fd;
	char peer[300]; /* "coordinator HOST:PORT" for messages */
	unsigned long dumped;
};

static double real_now(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void real_sleep(void *arg, double s)
{
	struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};

	(void)arg;
	while (!stop_requested && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static struct fl_node_clock node_clock = {real_now, real_sleep, NULL};

void fl_node_set_clock(const struct fl_node_clock *c)
{
	node_clock = c != NULL ? *c : (struct fl_node_clock){real_now, real_sleep, NULL};
}

static double monotonic(void)
{
	return node_clock.now(node_clock.arg);
}

static void sleep_seconds(double s)
{
	node_clock.sleep(node_clock.arg, s);
}

/* Connects with a timeout, trying every address of the host. */
static int dial(const char *host, uint16_t port, double timeout, int *out)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char service[8];
	int fd = -1, r, err = 0;

	*out = -1;
	snprintf(service, sizeof(service), "%u", port);
	if ((r = getaddrinfo(host, service, &hints, &res)) != 0)
		return fl_fail(FL_ERR_IO, "coordinator %s:%u: %s", host, port, gai_strerror(r));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t len = sizeof(err);
		int one = 1;

		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) <
		    0)
			continue;
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
			err = errno;
			close(fd);
			fd = -1;
			continue;
		}
		pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
		if (poll(&pfd, 1, (int)(timeout * 1000)) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
			if (err == 0)
				err = ETIMEDOUT;
			close(fd);
			fd = -1;
			continue;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fl_fail(FL_ERR_IO, "coordinator %s:%u: %s", host, port,
		               strerror(err ? err : ECONNREFUSED));
	*out = fd;
	return 0;
}

static int ssl_read_fn(void *ctx, void *buf, size_t n)
{
	struct session *s = ctx;
	int r;

	do
		r = SSL_read(s->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	while (r <= 0 && SSL_get_error(s->ssl, r) == SSL_ERROR_WANT_READ && !stop_requested);
	return r;
}

static int ssl_write_fn(void *ctx, const void *buf, size_t n)
{
	struct session *s = ctx;

	return SSL_write(s->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
}

/* The audit aid: every frame exactly as it goes into TLS. */
static void dump_frame(struct session *s, const char *type, const uint8_t *frame, size_t len)
{
	char path[4096];
	FILE *fp;

	if (s->o->dump_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%06lu-%s.bin", s->o->dump_dir, ++s->dumped, type);
	if ((fp = fopen(path, "wb")) == NULL) {
		fl_log(FL_LOG_WARN, "%s: %s", path, strerror(errno));
		return;
	}
	fwrite(frame, 1, len, fp);
	fclose(fp);
}

static int send_frame(struct session *s, const char *type, uint8_t *frame, size_t len)
{
	int r;

	dump_frame(s, type, frame, len);
	r = fl_wire_write_all(ssl_write_fn, s, frame, len);
	/* What this partner sends (an update, revealed shares) is wiped once
	 * it is in TLS's hands. */
	OPENSSL_cleanse(frame, len);
	free(frame);
	if (r != 0)
		return fl_fail(FL_ERR_IO, "%s: write failed", s->peer);
	fl_audit_event(s->audit, "send", "{s:s, s:I}", "type", type, "bytes", (json_int_t)len);
	return 0;
}

static void close_session(struct session *s)
{
	if (s->ssl != NULL) {
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	if (s->node != NULL)
		fl_fednode_disconnected(s->node);
}

/*
 * In TLS 1.3 the coordinator judges this node's certificate only after the
 * node has finished its side of the handshake, so a refusal arrives as an
 * alert on the first write or read, which would otherwise look like a
 * dropped connection. The same certificate will be refused again: the
 * caller says why and stops instead of reconnecting for ever.
 */
static int cert_refused(char *why, size_t n)
{
	unsigned long e = ERR_peek_last_error();
	const char *text;

	if (e == 0 || ERR_GET_LIB(e) != ERR_LIB_SSL)
		return 0;
	switch (ERR_GET_REASON(e)) {
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
		text = ERR_reason_error_string(e);
		snprintf(why, n, "%s", text ? text : "certificate alert");
		return 1;
	default: return 0;
	}
}

/* Dials the coordinator and completes the TLS handshake. */
static int open_tls(struct session *s)
{
	const struct fl_node_opts *o = s->o;
	char host[FL_CFG_HOST_MAX], why[256];
	uint16_t port;
	int r;

	if ((r = fl_config_addr_split(o->coordinator, host, sizeof(host), &port)) != 0)
		return r;
	snprintf(s->peer, sizeof(s->peer), "coordinator %s", o->coordinator);
	if ((r = dial(host, port, 10.0, &s->fd)) != 0)
		return r;
	if ((r = fl_tls_client_new(s->ctx, s->fd, o->server_name ? o->server_name : host,
	                           &s->ssl)) != 0)
		return r;
	ERR_clear_error(); /* so cert_refused() sees this connection's errors only */
	if (SSL_connect(s->ssl) != 1) {
		/* The verification result only when verification failed: a
		 * handshake that ends before the coordinator's certificate
		 * arrives (a TLS 1.2 coordinator) is not "no certificate", it
		 * is what OpenSSL says. */
		if (SSL_get_verify_result(s->ssl) != X509_V_OK)
			fl_tls_verify_error(s->ssl, why, sizeof(why));
		else
			fl_tls_last_error(why, sizeof(why));
		/* A certificate the node cannot trust is not going to get better by
		 * retrying; anything else (the coordinator restarting) may. */
		return fl_fail(SSL_get_verify_result(s->ssl) != X509_V_OK ? FL_ERR_AUTH : FL_ERR_IO,
		               "%s: TLS handshake failed: %s", s->peer, why);
	}
	return 0;
}

static int open_session(struct session *s)
{
	char why[256];
	uint8_t *frame;
	size_t len;
	int r;

	if ((r = open_tls(s)) != 0)
		return r;
	if ((r = fl_fednode_hello(s->node, s->o->federation_id, &frame, &len)) != 0)
		return r;
	if ((r = send_frame(s, "hello", frame, len)) != 0 && cert_refused(why, sizeof(why)))
		r = fl_fail(FL_ERR_AUTH, "%s refused this node's certificate: %s", s->peer, why);
	return r;
}

#define SESSION_DONE 1
#define SESSION_RETRY 0

/*
 * Serves one connection: reads a frame, hands the message to the node state
 * machine, sends what it answers. Returns SESSION_DONE when the model is
 * saved, SESSION_RETRY when the connection ended and the node should
 * reconnect, or an error that ends the node.
 */
static int serve(struct session *s)
{
	for (;;) {
		Fedlead__Wire__Envelope *env = NULL;
		Fedlead__Wire__Envelope__BodyCase kind;
		uint8_t *body = NULL, *frame = NULL;
		size_t len, flen;
		const char *type;
		int r;

		if (stop_requested)
			return fl_fail(FL_ERR_IO, "stopped by a signal");
		r = fl_wire_read_frame(ssl_read_fn, s, s->o->max_frame, s->peer, &body, &len);
		if (r != 0) {
			char why[256];

			if (!fl_fednode_welcomed(s->node) && cert_refused(why, sizeof(why)))
				return fl_fail(FL_ERR_AUTH,
				               "%s refused this node's certificate: %s", s->peer,
				               why);
			fl_log(FL_LOG_WARN, "%s", fl_errmsg());
			return SESSION_RETRY;
		}
		r = fl_wire_decode(body, len, s->peer, &env);
		/* A received frame may carry what the coordinator relays for
		 * this partner (encrypted shares, its weights): wiped once read. */
		OPENSSL_cleanse(body, len);
		free(body);
		if (r != 0) {
			fl_log(FL_LOG_ERROR, "%s", fl_errmsg());
			return SESSION_RETRY;
		}
		type = fl_wire_type_name(env);
		fl_audit_event(s->audit, "recv", "{s:s, s:I}", "type", type, "bytes",
		               (json_int_t)len + 4);
		kind = env->body_case;
		r = fl_fednode_input(s->node, s->peer, env, &frame, &flen);
		fl_wire_free(env);
		if (frame != NULL) {
			Fedlead__Wire__Envelope *sent = NULL;
			int sr;

			/* Name what leaves the site in the audit log. */
			type = "update";
			if (fl_wire_decode(frame + 4, flen - 4, "self", &sent) == 0)
				type = fl_wire_type_name(sent);
			fl_wire_free(sent);
			if ((sr = send_frame(s, type, frame, flen)) != 0 && r >= 0) {
				fl_log(FL_LOG_WARN, "%s", fl_errmsg());
				return SESSION_RETRY;
			}
			if (r == FL_FEDNODE_REPLY)
				fl_fault_point(type, fl_fednode_last_round(s->node));
		}
		if (r == FL_FEDNODE_DONE)
			return SESSION_DONE;
		if (r == FL_FEDNODE_CLOSE)
			return SESSION_RETRY;
		if (r < 0) {
			/* Policy refusals and a permanent Reject end the node (a
			 * refusal is logged already); a Welcome or final model that
			 * fails leaves it to the caller, by the error, to stop or
			 * reconnect; a task that fails closes this connection. */
			if (fl_fednode_fatal(s->node) ||
			    kind == FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME ||
			    kind == FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL)
				return r;
			fl_log(FL_LOG_ERROR, "%s", fl_errmsg());
			return SESSION_RETRY;
		}
	}
}

/* The certificate key and the CA store, for secure aggregation. */
static int load_credentials(struct session *s)
{
	FILE *fp = fopen(s->o->tls.key, "r");

	if (fp == NULL)
		return fl_fail(FL_ERR_IO, "%s: %s", s->o->tls.key, strerror(errno));
	s->key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (s->key == NULL)
		return fl_fail(FL_ERR_CONFIG, "%s: cannot read the private key", s->o->tls.key);
	return fl_sa_store_load(s->o->tls.ca, s->o->tls.crl, &s->store);
}

/* Swaps in freshly loaded TLS settings and credentials, keeping the old
 * ones when the new files do not load. */
static void reload(struct session *s)
{
	struct session fresh = {.o = s->o, .fd = -1};

	if (fl_tls_client_ctx(&s->o->tls, &fresh.ctx) != 0 || load_credentials(&fresh) != 0) {
		fl_log(FL_LOG_ERROR, "SIGHUP: keeping the old certificates: %s", fl_errmsg());
		SSL_CTX_free(fresh.ctx);
		EVP_PKEY_free(fresh.key);
		X509_STORE_free(fresh.store);
		return;
	}
	SSL_CTX_free(s->ctx);
	EVP_PKEY_free(s->key);
	X509_STORE_free(s->store);
	s->ctx = fresh.ctx;
	s->key = fresh.key;
	s->store = fresh.store;
	fl_fednode_set_credentials(s->node, s->key, s->store);
	fl_log(FL_LOG_NOTICE, "SIGHUP: reloaded certificates, key and CRL for the next connection");
}

static double jitter(void)
{
	uint32_t x = 0;

	RAND_bytes((unsigned char *)&x, sizeof(x));
	return 0.5 + (double)x / 4294967296.0; /* 0.5 .. 1.5 */
}

int fl_node_run(const struct fl_node_opts *o)
{
	struct session s = {.o = o, .fd = -1};
	struct fl_schema *schema = NULL;
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;
	struct sigaction sa = {.sa_handler = on_stop};
	double backoff = o->backoff_initial > 0 ? o->backoff_initial : 1.0, last_ok = monotonic();
	size_t ntr, nva;
	int r;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = fl_schema_load(o->schema_path, &schema)) == 0)
		fl_csv_dialect_merge(&schema->dialect, &o->dialect, o->dialect_set);
	/* The mapping renames and maps this partner's export as it is read;
	 * the schema's fingerprint, which the coordinator checks, is the
	 * agreed one whatever the mapping. */
	if (r == 0 && o->mapping_path != NULL &&
	    (r = fl_mapping_load(o->mapping_path, &schema->mapping)) == 0)
		r = fl_mapping_check_schema(schema->mapping, schema);
	if (r != 0 || (r = fl_dataset_load(schema, o->data_path, o->bad_rows, &ds, &rep)) != 0)
		goto out;
	if (rep.skipped > 0)
		fl_log(FL_LOG_WARN, "%s: skipped %llu bad rows; first: %s", o->data_path,
		       (unsigned long long)rep.skipped, rep.samples[0]);
	if ((r = fl_fednode_new(schema, ds, &s.node)) != 0)
		goto out;
	ds = NULL;
	if ((r = fl_audit_open(o->audit_log, &s.audit)) != 0 ||
	    (r = fl_tls_client_ctx(&o->tls, &s.ctx)) != 0 || (r = load_credentials(&s)) != 0)
		goto out;
	fl_fednode_set_credentials(s.node, s.key, s.store);
	fl_fednode_set_audit(s.node, s.audit);
	fl_fednode_set_output(s.node, o->tls.ca, o->tls.crl, o->model_out);
	if ((r = fl_fednode_set_policy(s.node, &o->policy)) != 0 ||
	    (r = fl_fednode_set_ledger(s.node, o->ledger, o->max_federations,
	                               o->federation_window)) != 0)
		goto out;
	if (o->dump_dir != NULL && mkdir(o->dump_dir, 0700) != 0 && errno != EEXIST) {
		r = fl_fail(FL_ERR_IO, "%s: %s", o->dump_dir, strerror(errno));
		goto out;
	}
	fl_log(FL_LOG_INFO, "loaded %llu leads from %s", (unsigned long long)rep.rows,
	       o->data_path);
	for (;;) {
		if (reload_requested) {
			reload_requested = 0;
			reload(&s);
		}
		r = open_session(&s);
		if (r == 0) {
			r = serve(&s);
			if (fl_fednode_welcomed(s.node) || r == SESSION_DONE) {
				backoff = o->backoff_initial > 0 ? o->backoff_initial : 1.0;
				last_ok = monotonic();
			}
			if (r < 0 && fl_fednode_fatal(s.node))
				goto out; /* refused by this node's policy */
		} else if (!stop_requested)
			fl_log(FL_LOG_WARN, "%s", fl_errmsg());
		close_session(&s);
		if (r == SESSION_DONE) {
			r = 0;
			break;
		}
		if (stop_requested) {
			/* A requested stop is a clean exit; the coordinator applies
			 * its late policy to the missing partner. */
			fl_log(FL_LOG_NOTICE, "stopped by a signal");
			r = 0;
			goto out;
		}
		if (r < 0 && (r == FL_ERR_AUTH || r == FL_ERR_MODEL || r == FL_ERR_DATA ||
		              r == FL_ERR_NOMEM))
			goto out;
		if (o->give_up_after > 0 && monotonic() - last_ok > o->give_up_after) {
			r = fl_fail(FL_ERR_IO, "no usable connection to %s for %g s; giving up",
			            o->coordinator, o->give_up_after);
			goto out;
		}
		/* Exponential backoff with jitter, so partners that lost the
		 * coordinator together do not come back in lockstep. */
		{
			double wait = backoff * jitter();

			fl_log(FL_LOG_INFO, "reconnecting in %.1f s", wait);
			sleep_seconds(wait);
			backoff = fmin(backoff * 2, o->backoff_max > 0 ? o->backoff_max : 60.0);
		}
	}
	fl_fednode_rows(s.node, &ntr, &nva);
	fl_log(FL_LOG_INFO, "done: trained on %zu local rows (%zu held out for validation)", ntr,
	       nva);
out:
	close_session(&s);
	SSL_CTX_free(s.ctx);
	EVP_PKEY_free(s.key);
	X509_STORE_free(s.store);
	fl_audit_close(s.audit);
	fl_fednode_free(s.node);
	fl_dataset_free(ds);
	fl_schema_free(schema);
	return r;
}

/* ---- the schema round ---- */

/* Reads and decodes one frame; an error names what was awaited. */
static int read_envelope(struct session *s, const char *awaiting, Fedlead__Wire__Envelope **env)
{
	uint8_t *body = NULL;
	size_t len;
	char why[256];
	int r;

	*env = NULL;
	if ((r = fl_wire_read_frame(ssl_read_fn, s, s->o->max_frame, s->peer, &body, &len)) != 0) {
		if (cert_refused(why, sizeof(why)))
			return fl_fail(FL_ERR_AUTH, "%s refused this node's certificate: %s",
			               s->peer, why);
		if (stop_requested)
			return fl_fail(FL_ERR_IO, "stopped by a signal while waiting for %s",
			               awaiting);
		return fl_fail(FL_ERR_IO,
		               "%s closed the connection while this node waited for %s (a "
		               "coordinator before protocol version 5 runs no schema round)",
		               s->peer, awaiting);
	}
	r = fl_wire_decode(body, len, s->peer, env);
	free(body);
	if (r == 0)
		fl_audit_event(s->audit, "recv", "{s:s, s:I}", "type", fl_wire_type_name(*env),
		               "bytes", (json_int_t)len + 4);
	return r;
}

int fl_node_schema_round(const struct fl_node_opts *o, const char *draft, size_t len,
                         struct fl_schema_proposal *out)
{
	struct session s = {.o = o, .fd = -1};
	struct sigaction sa = {.sa_handler = on_stop};
	Fedlead__Wire__Envelope *env = NULL;
	uint8_t *frame;
	size_t flen;
	char why[256];
	int r;

	*out = (struct fl_schema_proposal){0};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = fl_audit_open(o->audit_log, &s.audit)) != 0 ||
	    (r = fl_tls_client_ctx(&o->tls, &s.ctx)) != 0)
		goto out;
	if (o->dump_dir != NULL && mkdir(o->dump_dir, 0700) != 0 && errno != EEXIST) {
		r = fl_fail(FL_ERR_IO, "%s: %s", o->dump_dir, strerror(errno));
		goto out;
	}
	if ((r = open_tls(&s)) != 0 ||
	    (r = fl_schema_round_hello(o->federation_id, &frame, &flen)) != 0)
		goto out;
	if ((r = send_frame(&s, "hello", frame, flen)) != 0) {
		if (cert_refused(why, sizeof(why)))
			r = fl_fail(FL_ERR_AUTH, "%s refused this node's certificate: %s", s.peer,
			            why);
		goto out;
	}
	if ((r = read_envelope(&s, "the welcome", &env)) != 0 ||
	    (r = fl_schema_round_welcome(env, o->federation_id, s.peer)) != 0)
		goto out;
	fl_wire_free(env);
	env = NULL;
	fl_log(FL_LOG_NOTICE, "%s: in the schema round of federation %s; sending this node's draft",
	       s.peer, o->federation_id);
	if ((r = fl_schema_round_draft(draft, len, &frame, &flen)) != 0 ||
	    (r = send_frame(&s, "schema_draft", frame, flen)) != 0)
		goto out;
	fl_log(FL_LOG_NOTICE, "waiting for every partner's draft and the proposal");
	if ((r = read_envelope(&s, "the schema proposal", &env)) != 0)
		goto out;
	r = fl_schema_round_proposal(env, s.peer, out);
out:
	fl_wire_free(env);
	close_session(&s);
	SSL_CTX_free(s.ctx);
	fl_audit_close(s.audit);
	return r;
}
