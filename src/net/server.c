/*
 * The coordinator's event loop: sockets, TLS, framing and the limits that
 * keep partner connections bounded (the HTTP endpoint is in http.c).
 * Callbacks here never look inside a message beyond its type: decoding is
 * fl_wire_decode()'s, acting on it fedcoord's.
 *
 * Limits, so that no one who can open a TCP connection can lock partners
 * out or make the coordinator's memory grow without bound:
 *   - max_connections: every partner connection, open at once.
 *   - max_preauth_connections: those that have not said Hello yet (TLS
 *     handshake included). The rest of max_connections is room only a
 *     connection that has said Hello can use.
 *   - max_connections_per_address: of those, from one address.
 * When one of the last two is full, a new connection closes the oldest
 * connection in the same scope that has not finished its TLS handshake,
 * first one that has sent nothing at all: an attacker holding idle
 * connections cannot keep a partner's fresh handshake out, and connections
 * that have shown a valid certificate are never pushed out. Only when
 * there is nothing to push out is the new connection refused.
 *   - hello_timeout: from accept to Hello, the TLS handshake included,
 *     however slowly its bytes arrive.
 *   - frame_timeout: a frame whose first bytes have arrived must be
 *     complete within it, before and after the Hello.
 *   - input is read only up to one whole frame (the pre-Hello or the
 *     max_frame limit) ahead, with a high watermark.
 * After the Hello, a partner that owes an answer is judged by the round
 * deadline (fedcoord), and one that has vanished by TCP keepalive.
 */
#include "fedlead/server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fedlead/config.h"
#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/log.h"
#include "fedlead/report.h"
#include "fedlead/signed_model.h"
#include "fedlead/statefile.h"
#include "fedlead/wire.h"
#include "server_int.h"

#define CHECKPOINT_NAME "checkpoint"
#define CHECKPOINT_MAX (1u << 30)

struct conn {
	struct server *srv;
	struct bufferevent *bev;
	struct event *timer;       /* hello timeout, then the deferred free */
	struct event *frame_timer; /* a frame started and not complete */
	char addr[300];
	char host[256]; /* addr without the port: the per-address limit's key */
	char id[256];   /* certificate identity, after the handshake */
	uint8_t *cert;  /* its DER certificate, relayed for secure aggregation */
	size_t cert_len;
	int handshaken, joined, closing;
	struct conn *next, *prev; /* in order of arrival */
};

static void conn_free(struct conn *c)
{
	struct server *s = c->srv;

	if (c->joined && !s->finished)
		fl_fedcoord_leave(s->fc, c->id);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		s->conns_tail = c->prev;
	s->nconns--;
	if (c->timer)
		event_free(c->timer);
	if (c->frame_timer)
		event_free(c->frame_timer);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c->cert);
	free(c);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_free(arg);
}

static void schedule_reap(struct conn *c)
{
	struct timeval now = {0, 0};

	if (c->timer)
		event_free(c->timer);
	c->timer = evtimer_new(c->srv->base, reap_cb, c);
	evtimer_add(c->timer, &now);
}

/*
 * Closing is always deferred to the loop, so a callback may close the
 * connection it is running for (or another) and carry on safely. With
 * flush, what is queued (a Reject, say) is sent first; a broken connection
 * is dropped at once.
 */
static void conn_close(struct conn *c, int flush)
{
	if (c->closing && flush)
		return;
	c->closing = 1;
	if (c->joined && !c->srv->finished)
		fl_fedcoord_leave(c->srv->fc, c->id);
	c->joined = 0;
	bufferevent_disable(c->bev, EV_READ);
	if (c->frame_timer)
		evtimer_del(c->frame_timer);
	if (!flush || evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		schedule_reap(c);
	/* otherwise write_cb reaps it once the output has drained */
}

static struct conn *find_conn(struct server *s, const char *id)
{
	for (struct conn *c = s->conns; c; c = c->next)
		if (c->joined && !c->closing && strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static int queue_frame(struct server *s, struct conn *c, const Fedlead__Wire__Envelope *env)
{
	uint8_t *frame;
	size_t len;
	int r;

	if ((r = fl_wire_encode(env, &frame, &len)) != 0)
		return r;
	r = bufferevent_write(c->bev, frame, len) == 0 ? 0 : FL_ERR_NOMEM;
	free(frame);
	if (r == 0) {
		s->bytes_out += len;
		s->frames_out++;
		fl_audit_event(s->audit, "send", "{s:s, s:s, s:I}", "peer",
		               c->id[0] ? c->id : c->addr, "type", fl_wire_type_name(env), "bytes",
		               (json_int_t)len);
	}
	return r;
}

/* ---- callbacks from fedcoord ---- */

static struct conn *pending_join; /* the connection whose Hello is being handled */

static int io_send(void *ctx, const char *partner, const Fedlead__Wire__Envelope *env)
{
	struct server *s = ctx;
	struct conn *c = find_conn(s, partner);

	if (c == NULL && pending_join != NULL && strcmp(pending_join->id, partner) == 0)
		c = pending_join;
	if (c == NULL)
		return fl_fail(FL_ERR_IO, "partner %s is not connected", partner);
	return queue_frame(s, c, env);
}

static int io_send_frame(void *ctx, const char *partner, const uint8_t *frame, size_t len,
                         const char *type)
{
	struct server *s = ctx;
	struct conn *c = find_conn(s, partner);

	if (c == NULL)
		return fl_fail(FL_ERR_IO, "partner %s is not connected", partner);
	if (bufferevent_write(c->bev, frame, len) != 0)
		return FL_ERR_NOMEM;
	s->bytes_out += len;
	s->frames_out++;
	fl_audit_event(s->audit, "send", "{s:s, s:s, s:I}", "peer", c->id, "type", type, "bytes",
	               (json_int_t)len);
	return 0;
}

static int io_peer_cert(void *ctx, const char *partner, const uint8_t **der, size_t *len)
{
	struct server *s = ctx;
	struct conn *c = find_conn(s, partner);

	if (c == NULL || c->cert == NULL)
		return fl_fail(FL_ERR_INTERNAL, "partner %s: no certificate to relay", partner);
	*der = c->cert;
	*len = c->cert_len;
	return 0;
}

static void io_disconnect(void *ctx, const char *partner)
{
	struct server *s = ctx;
	struct conn *c = find_conn(s, partner);

	if (c == NULL && pending_join != NULL && strcmp(pending_join->id, partner) == 0)
		c = pending_join;
	if (c != NULL) {
		c->joined = 0; /* fedcoord asked for this: no leave() back */
		conn_close(c, 1);
	}
}

static void io_arm_timer(void *ctx, double seconds)
{
	struct server *s = ctx;
	struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - floor(seconds)) * 1e6)};

	evtimer_del(s->round_timer);
	if (seconds > 0)
		evtimer_add(s->round_timer, &tv);
}

static int io_checkpoint(void *ctx, const uint8_t *state, size_t len)
{
	struct server *s = ctx;

	return fl_state_write(s->o->state_dir, CHECKPOINT_NAME, state, len);
}

static int io_seal_model(void *ctx, struct fl_model *m, uint8_t **file, size_t *len)
{
	struct server *s = ctx;
	uint8_t *plain = NULL;
	size_t plen;
	int r;

	*file = NULL;
	if ((r = fl_model_encode(m, &plain, &plen)) != 0)
		return r;
	r = fl_model_file_sign(plain, plen, s->o->tls.key, s->o->tls.cert, file, len);
	free(plain);
	if (r != 0)
		return r;
	if (s->o->model_out != NULL &&
	    (r = fl_model_write_file(s->o->model_out, *file, *len)) != 0) {
		free(*file);
		*file = NULL;
		return r;
	}
	fl_log(FL_LOG_NOTICE, "signed model written to %s",
	       s->o->model_out ? s->o->model_out : "(nowhere)");
	return 0;
}

static void io_finished(void *ctx, int ok, const char *message)
{
	struct server *s = ctx;
	struct timeval soon = {0, 300000};

	s->finished = 1;
	s->result = ok ? 0 : FL_ERR_PROTO;
	snprintf(s->result_msg, sizeof(s->result_msg), "%s", message);
	/* Give the last frames a moment to leave. */
	event_base_loopexit(s->base, &soon);
}

/* The schema round's outcome for the data team, in the state directory:
 * the proposal as every partner received it, or the conflicts. */
static void io_schema_proposal(void *ctx, const char *schema_json, const char *conflicts)
{
	struct server *s = ctx;
	const char *name = schema_json ? "schema.proposed.json" : "schema.conflicts.txt";
	const char *text = schema_json ? schema_json : conflicts ? conflicts : "";
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", s->o->state_dir, name);
	if (fl_file_write_atomic(path, NULL, text, strlen(text)) != 0)
		fl_log(FL_LOG_ERROR, "%s", fl_errmsg());
	else
		fl_log(FL_LOG_NOTICE, "schema round: wrote %s", path);
}

static void round_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	(void)fd;
	(void)what;
	fl_fedcoord_timer(s->fc);
}

/* ---- partner connections ---- */

static void dump_payload(struct server *s, struct conn *c, const uint8_t *body, size_t len)
{
	char path[4096];
	FILE *fp;

	if (s->o->dump_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%06llu-%s.bin", s->o->dump_dir,
	         (unsigned long long)++s->dumped, c->id[0] ? c->id : "unknown");
	if ((fp = fopen(path, "wb")) == NULL) {
		fl_log(FL_LOG_WARN, "%s: %s", path, strerror(errno));
		return;
	}
	fwrite(body, 1, len, fp);
	fclose(fp);
}

static int handle_frame(struct server *s, struct conn *c, const uint8_t *body, size_t len)
{
	Fedlead__Wire__Envelope *env = NULL;
	int r;

	s->frames_in++;
	dump_payload(s, c, body, len);
	if ((r = fl_wire_decode(body, len, c->id, &env)) != 0)
		return r;
	fl_audit_event(s->audit, "recv", "{s:s, s:s, s:I}", "peer", c->id, "type",
	               fl_wire_type_name(env), "bytes", (json_int_t)len + 4);
	if (!c->joined) {
		struct conn *old;

		if (env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_HELLO) {
			r = fl_fail(FL_ERR_PROTO, "peer %s: %s before hello", c->id,
			            fl_wire_type_name(env));
			goto out;
		}
		/* A partner reconnecting replaces its old connection. */
		if ((old = find_conn(s, c->id)) != NULL) {
			fl_log(FL_LOG_INFO,
			       "partner %s reconnected from %s; closing its old "
			       "connection",
			       c->id, c->addr);
			conn_close(old, 1);
		}
		pending_join = c;
		r = fl_fedcoord_join(s->fc, c->id, env->hello);
		pending_join = NULL;
		if (r == 0) {
			c->joined = 1;
			evtimer_del(c->timer);
			/* From now on a frame may be as large as max_frame; read
			 * no further ahead than one. */
			bufferevent_setwatermark(c->bev, EV_READ, 0, 4 + s->o->max_frame);
		} else
			s->rejected++;
		goto out;
	}
	r = fl_fedcoord_message(s->fc, c->id, env);
out:
	fl_wire_free(env);
	return r;
}

static void frame_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct server *s = c->srv;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t have = evbuffer_get_length(in);
	char what_frame[64] = "a frame header";
	uint8_t hdr[4];

	(void)fd;
	(void)what;
	if (have >= 4) {
		evbuffer_copyout(in, hdr, 4);
		snprintf(what_frame, sizeof(what_frame), "a frame of %lu bytes",
		         (unsigned long)hdr[0] << 24 | (unsigned long)hdr[1] << 16 |
		                 (unsigned long)hdr[2] << 8 | hdr[3]);
		have -= 4;
	}
	fl_log(FL_LOG_WARN,
	       "%s%s%s: %s incomplete after %g s, %zu bytes of it received "
	       "(frame_timeout); closing",
	       c->addr, c->id[0] ? " " : "", c->id, what_frame, s->o->frame_timeout, have);
	fl_audit_event(s->audit, "reject", "{s:s, s:s, s:s}", "peer", c->id[0] ? c->id : c->addr,
	               "address", c->addr, "reason", "frame_timeout");
	s->rejected++;
	conn_close(c, 0);
}

/* After reading: a partial frame left in the buffer must be complete within
 * frame_timeout of its first bytes (restarted when a frame was taken, as
 * what is left is then the start of the next one). */
static void frame_timer_update(struct conn *c, int consumed)
{
	size_t left = evbuffer_get_length(bufferevent_get_input(c->bev));
	struct timeval tv;

	if (left == 0) {
		evtimer_del(c->frame_timer);
		return;
	}
	if (!consumed && evtimer_pending(c->frame_timer, NULL))
		return;
	tv.tv_sec = (time_t)c->srv->o->frame_timeout;
	tv.tv_usec =
	        (suseconds_t)((c->srv->o->frame_timeout - floor(c->srv->o->frame_timeout)) * 1e6);
	evtimer_add(c->frame_timer, &tv);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct server *s = c->srv;
	struct evbuffer *in = bufferevent_get_input(bev);
	int consumed = 0;

	while (!c->closing) {
		uint8_t hdr[4], *body;
		uint32_t len;
		size_t limit = c->joined ? s->o->max_frame : FL_WIRE_PREAUTH_MAX_FRAME;
		int r;

		if (evbuffer_get_length(in) < 4)
			break;
		evbuffer_copyout(in, hdr, 4);
		/* The length is checked before any memory is taken for the body. */
		if (fl_wire_frame_len(hdr, limit, c->id, &len) != 0) {
			fl_log(FL_LOG_WARN, "%s (from %s); closing", fl_errmsg(), c->addr);
			conn_close(c, 1);
			return;
		}
		if (evbuffer_get_length(in) < 4 + (size_t)len)
			break;
		if ((body = malloc(len)) == NULL) {
			conn_close(c, 1);
			return;
		}
		evbuffer_drain(in, 4);
		evbuffer_remove(in, body, len);
		s->bytes_in += 4 + (uint64_t)len;
		consumed = 1;
		r = handle_frame(s, c, body, len);
		free(body);
		if (r != 0) {
			fl_log(FL_LOG_WARN, "%s; closing the connection from %s", fl_errmsg(),
			       c->addr);
			conn_close(c, 1);
			return;
		}
	}
	if (!c->closing)
		frame_timer_update(c, consumed);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		schedule_reap(c);
}

/* Why a handshake failed, in words an operator can act on. */
static void handshake_reason(struct conn *c, char *buf, size_t n)
{
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (vr != X509_V_OK)
		snprintf(buf, n, "client certificate refused: %s",
		         X509_verify_cert_error_string(vr));
	else if (e != 0) {
		char tmp[256];

		ERR_error_string_n(e, tmp, sizeof(tmp));
		snprintf(buf, n, "%s", tmp);
	} else
		snprintf(buf, n, "connection closed during the handshake");
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct server *s = c->srv;
	char why[300];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

		if (fl_tls_peer_identity(ssl, c->id, sizeof(c->id)) != 0) {
			fl_log(FL_LOG_WARN, "connection from %s refused: %s", c->addr, fl_errmsg());
			s->rejected++;
			conn_close(c, 1);
			return;
		}
		{
			X509 *x = SSL_get1_peer_certificate(ssl);
			int n = x ? i2d_X509(x, NULL) : -1;

			if (n > 0 && (c->cert = malloc((size_t)n)) != NULL) {
				uint8_t *q = c->cert;

				c->cert_len = (size_t)i2d_X509(x, &q);
			}
			X509_free(x);
		}
		c->handshaken = 1;
		fl_log(FL_LOG_INFO, "TLS connection from %s: certificate of \"%s\"", c->addr,
		       c->id);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		if (!c->handshaken) {
			handshake_reason(c, why, sizeof(why));
			fl_log(FL_LOG_WARN, "TLS handshake with %s failed: %s", c->addr, why);
			fl_audit_event(s->audit, "reject", "{s:s, s:s}", "peer", c->addr, "reason",
			               why);
			s->rejected++;
		} else if (c->joined)
			fl_log(FL_LOG_INFO, "partner %s closed its connection", c->id);
		conn_close(c, 0); /* broken: nothing more can be sent */
	}
}

static void hello_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	fl_log(FL_LOG_WARN, "%s%s%s: no hello within %g s; closing", c->addr, c->id[0] ? " " : "",
	       c->id, c->srv->o->hello_timeout);
	c->srv->rejected++;
	conn_close(c, 1);
}

/*
 * How far a connection that has not said Hello has got: 0 nothing of a TLS
 * handshake yet (silent, or a first record still trickling in), 1 in its
 * handshake, 2 handshake done with a verified certificate.
 */
static int preauth_stage(const struct conn *c)
{
	SSL *ssl;

	if (c->handshaken)
		return 2;
	/* Not SSL_in_before(): libevent starts the handshake as soon as the
	 * socket is writable, whether or not the peer has sent anything. */
	ssl = bufferevent_openssl_get_ssl(c->bev);
	return ssl != NULL && SSL_get_state(ssl) != TLS_ST_BEFORE ? 1 : 0;
}

/* Connections that have not said Hello, in all and from host. */
static void count_preauth(const struct server *s, const char *host, size_t *all, size_t *from_host)
{
	*all = *from_host = 0;
	for (const struct conn *c = s->conns; c; c = c->next)
		if (!c->joined && !c->closing) {
			(*all)++;
			if (strcmp(c->host, host) == 0)
				(*from_host)++;
		}
}

/* The one to push out for a newcomer: of the connections that have not
 * said Hello (from host, unless NULL), the oldest that has sent nothing,
 * else the oldest still in its handshake; NULL if each has a verified
 * certificate. */
static struct conn *victim(struct server *s, const char *host)
{
	struct conn *best = NULL;
	int best_stage = 2;

	for (struct conn *c = s->conns; c; c = c->next) {
		int st;

		if (c->joined || c->closing || (host != NULL && strcmp(c->host, host) != 0))
			continue;
		if ((st = preauth_stage(c)) < best_stage) {
			best = c;
			best_stage = st;
			if (st == 0)
				break;
		}
	}
	return best;
}

static void refuse(struct server *s, evutil_socket_t fd, const char *addr, const char *why,
                   const char *limit)
{
	fl_log(FL_LOG_WARN, "refusing a connection: %s (%s); from %s", why, limit, addr);
	fl_audit_event(s->audit, "reject", "{s:s, s:s}", "peer", addr, "reason", limit);
	s->rejected++;
	evutil_closesocket(fd);
}

/* Closes v at once (it is in no callback now) for the newcomer at addr. */
static void push_out(struct server *s, struct conn *v, const char *addr, const char *why,
                     const char *limit)
{
	fl_log(FL_LOG_WARN, "%s: closed to make room for %s: %s (%s)", v->addr, addr, why, limit);
	fl_audit_event(s->audit, "reject", "{s:s, s:s}", "peer", v->addr, "reason", limit);
	s->rejected++;
	v->closing = 1;
	conn_free(v);
}

/* Room for one more connection from host (addr is host:port), making it
 * if need be. Returns 0, or -1 after refusing fd. */
static int admit(struct server *s, evutil_socket_t fd, const char *host, const char *addr)
{
	const struct fl_coord_opts *o = s->o;
	size_t all, mine;
	char why[400];
	struct conn *v;

	if (s->nconns >= o->max_connections) {
		snprintf(why, sizeof(why), "%zu connections open", s->nconns);
		refuse(s, fd, addr, why, "max_connections");
		return -1;
	}
	count_preauth(s, host, &all, &mine);
	if (mine >= o->max_per_address) {
		snprintf(why, sizeof(why), "%zu connections from %s have not said hello", mine,
		         host);
		if ((v = victim(s, host)) == NULL) {
			refuse(s, fd, addr, why, "max_connections_per_address");
			return -1;
		}
		push_out(s, v, addr, why, "max_connections_per_address");
		all--;
	}
	if (all >= o->max_preauth) {
		snprintf(why, sizeof(why), "%zu connections have not said hello", all);
		if ((v = victim(s, NULL)) == NULL) {
			refuse(s, fd, addr, why, "max_preauth_connections");
			return -1;
		}
		push_out(s, v, addr, why, "max_preauth_connections");
	}
	return 0;
}

/* A partner that vanishes without a FIN (power cut, dropped route) is
 * noticed in about two minutes, not at the next round deadline. Errors are
 * ignored: this is not a TCP socket in the unit tests. */
static void keepalive(evutil_socket_t fd)
{
	int on = 1, idle = 60, intvl = 10, cnt = 6;

	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

void fl_server_accept(struct server *s, evutil_socket_t fd, const struct sockaddr *sa,
                      socklen_t slen)
{
	struct conn *c;
	SSL *ssl;
	char host[256] = "", serv[32] = "", addr[300];
	struct timeval tv;

	if (getnameinfo(sa, slen, host, sizeof(host), serv, sizeof(serv),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(host, sizeof(host), "(unknown)");
	snprintf(addr, sizeof(addr), "%s:%s", host, serv);
	if (admit(s, fd, host, addr) != 0)
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL || (ssl = SSL_new(s->ctx)) == NULL) {
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->srv = s;
	snprintf(c->host, sizeof(c->host), "%s", host);
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	keepalive(fd);
	c->bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                        BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(s->base, hello_timeout_cb, c);
	c->frame_timer = evtimer_new(s->base, frame_timeout_cb, c);
	if (c->bev == NULL || c->timer == NULL || c->frame_timer == NULL) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			SSL_free(ssl);
		if (c->timer)
			event_free(c->timer);
		if (c->frame_timer)
			event_free(c->frame_timer);
		free(c);
		return;
	}
	c->prev = s->conns_tail;
	if (s->conns_tail)
		s->conns_tail->next = c;
	else
		s->conns = c;
	s->conns_tail = c;
	s->nconns++;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	/* Before the Hello no frame may exceed FL_WIRE_PREAUTH_MAX_FRAME: read
	 * no further ahead than one. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 4 + FL_WIRE_PREAUTH_MAX_FRAME);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	tv.tv_sec = (time_t)s->o->hello_timeout;
	tv.tv_usec = (suseconds_t)((s->o->hello_timeout - floor(s->o->hello_timeout)) * 1e6);
	evtimer_add(c->timer, &tv);
}

void fl_server_counts(const struct server *s, size_t *open, size_t *preauth)
{
	*open = *preauth = 0;
	for (const struct conn *c = s->conns; c; c = c->next)
		if (!c->closing) {
			(*open)++;
			if (!c->joined)
				(*preauth)++;
		}
}

void fl_server_close_all(struct server *s)
{
	while (s->conns != NULL) {
		s->finished = 1;
		conn_free(s->conns);
	}
}

int fl_server_fedcoord(struct server *s)
{
	struct fl_fedcoord_io io = {
	        .ctx = s,
	        .audit = s->audit,
	        .send = io_send,
	        .send_frame = io_send_frame,
	        .peer_cert = io_peer_cert,
	        .disconnect = io_disconnect,
	        .arm_timer = io_arm_timer,
	        .checkpoint = io_checkpoint,
	        .seal_model = io_seal_model,
	        .schema_proposal = io_schema_proposal,
	        .finished = io_finished,
	};

	if ((s->round_timer = evtimer_new(s->base, round_timer_cb, s)) == NULL)
		return FL_ERR_NOMEM;
	return fl_fedcoord_new(&s->o->set, s->schema, &io, &s->fc);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int slen,
                      void *arg)
{
	(void)l;
	fl_server_accept(arg, fd, sa, (socklen_t)slen);
}

/* ---- setup ---- */

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;

	(void)what;
	if (sig == SIGHUP) {
		SSL_CTX *ctx = NULL;

		/* New connections use the new certificates and CRL; established
		 * ones keep theirs, so the federation is not disturbed. */
		if (fl_tls_server_ctx(&s->o->tls, &ctx) != 0) {
			fl_log(FL_LOG_ERROR, "SIGHUP: keeping the old TLS settings: %s",
			       fl_errmsg());
			return;
		}
		SSL_CTX_free(s->ctx);
		s->ctx = ctx;
		fl_log(FL_LOG_NOTICE, "SIGHUP: reloaded certificates and CRL");
		return;
	}
	/* A requested stop is a clean exit: every completed round is in the
	 * checkpoint, and a restart resumes from it. */
	fl_log(FL_LOG_NOTICE, "stopping on signal %d; the last checkpoint is in %s", (int)sig,
	       s->o->state_dir);
	s->result = 0;
	s->finished = 1;
	event_base_loopbreak(s->base);
}

static int bind_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[FL_CFG_HOST_MAX], service[8];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
	uint16_t port;
	int r;

	if ((r = fl_config_addr_split(addr, host, sizeof(host), &port)) != 0)
		return r;
	snprintf(service, sizeof(service), "%u", port);
	if ((r = getaddrinfo(host, service, &hints, &res)) != 0)
		return fl_fail(FL_ERR_CONFIG, "%s: %s", addr, gai_strerror(r));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static uint16_t bound_port(evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int write_port_file(struct server *s)
{
	char tmp[4096];
	FILE *fp;

	if (s->o->port_file == NULL)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->o->port_file);
	if ((fp = fopen(tmp, "w")) == NULL)
		return fl_fail(FL_ERR_IO, "%s: %s", tmp, strerror(errno));
	fprintf(fp, "listen=%u\nhttp=%u\n", s->port, s->http_port);
	if (fclose(fp) != 0 || rename(tmp, s->o->port_file) != 0)
		return fl_fail(FL_ERR_IO, "%s: %s", s->o->port_file, strerror(errno));
	return 0;
}

int fl_coordinator_run(const struct fl_coord_opts *o)
{
	struct server s = {.o = o};
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	uint8_t *state = NULL;
	size_t state_len;
	int lock_fd = -1, r;

	signal(SIGPIPE, SIG_IGN);
	/* The schema round has no schema: it is what the round agrees on. */
	if (!o->set.schema_round && (r = fl_schema_load(o->schema_path, &s.schema)) != 0)
		goto out;
	if (!o->set.schema_round && (r = fl_coord_privacy_schema_check(&o->set, s.schema)) != 0) {
		char why[600];

		snprintf(why, sizeof(why), "%s: %s", o->schema_path, fl_errmsg());
		r = fl_fail(r, "%s", why);
		goto out;
	}
	if ((r = fl_statedir_open(o->state_dir, 1, &lock_fd)) != 0)
		goto out;
	if ((r = fl_tls_server_ctx(&o->tls, &s.ctx)) != 0 ||
	    (r = fl_audit_open(o->audit_log, &s.audit)) != 0)
		goto out;
	if (o->dump_dir != NULL && mkdir(o->dump_dir, 0700) != 0 && errno != EEXIST) {
		r = fl_fail(FL_ERR_IO, "%s: %s", o->dump_dir, strerror(errno));
		goto out;
	}
	if ((s.base = event_base_new()) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if ((r = fl_server_fedcoord(&s)) != 0)
		goto out;
	r = o->set.schema_round ? 0
	                        : fl_state_read(o->state_dir, CHECKPOINT_NAME, CHECKPOINT_MAX,
	                                        &state, &state_len);
	if (r < 0)
		goto out;
	if (r == 1 && (r = fl_fedcoord_restore(s.fc, state, state_len)) != 0) {
		r = fl_fail(r, "%s/%s: %s", o->state_dir, CHECKPOINT_NAME, fl_errmsg());
		goto out;
	}
	{
		struct fl_fedcoord_view v;

		fl_fedcoord_view(s.fc, &v);
		if (v.phase == FL_PHASE_DONE || v.phase == FL_PHASE_FAILED) {
			r = v.phase == FL_PHASE_DONE
			            ? 0
			            : fl_fail(FL_ERR_PROTO,
			                      "the federation in %s "
			                      "failed earlier; remove the directory to start it "
			                      "afresh",
			                      o->state_dir);
			fl_log(FL_LOG_NOTICE, "federation %s already %s (state in %s)",
			       o->set.federation_id, fl_fed_phase_name(v.phase), o->state_dir);
			goto out;
		}
	}
	if ((r = bind_addr(o->listen, &ss, &sslen)) != 0)
		goto out;
	s.listener = evconnlistener_new_bind(s.base, accept_cb, &s,
	                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	                                             LEV_OPT_CLOSE_ON_EXEC,
	                                     128, (struct sockaddr *)&ss, (int)sslen);
	if (s.listener == NULL) {
		r = fl_fail(FL_ERR_IO, "cannot listen on %s: %s", o->listen, strerror(errno));
		goto out;
	}
	s.port = bound_port(evconnlistener_get_fd(s.listener));
	if ((r = fl_http_start(&s)) != 0 || (r = write_port_file(&s)) != 0)
		goto out;
	s.sig_term = evsignal_new(s.base, SIGTERM, signal_cb, &s);
	s.sig_int = evsignal_new(s.base, SIGINT, signal_cb, &s);
	s.sig_hup = evsignal_new(s.base, SIGHUP, signal_cb, &s);
	evsignal_add(s.sig_term, NULL);
	evsignal_add(s.sig_int, NULL);
	evsignal_add(s.sig_hup, NULL);
	fl_log(FL_LOG_NOTICE, "federation %s: listening on port %u for %zu partners (quorum %zu)",
	       o->set.federation_id, s.port, o->set.n_partners, o->set.min_partners);
	event_base_dispatch(s.base);
	r = s.result;
	if (r != 0 && s.result_msg[0] != '\0')
		r = fl_fail(r, "%s", s.result_msg);
out:
	fl_server_close_all(&s);
	free(state);
	if (s.listener)
		evconnlistener_free(s.listener);
	fl_http_stop(&s);
	if (s.round_timer)
		event_free(s.round_timer);
	if (s.sig_term)
		event_free(s.sig_term);
	if (s.sig_int)
		event_free(s.sig_int);
	if (s.sig_hup)
		event_free(s.sig_hup);
	fl_fedcoord_free(s.fc);
	if (s.base)
		event_base_free(s.base);
	SSL_CTX_free(s.ctx);
	fl_audit_close(s.audit);
	fl_schema_free(s.schema);
	if (lock_fd >= 0)
		fl_statedir_close(lock_fd);
	return r;
}
