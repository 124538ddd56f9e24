/*
 * An evhttp server within its limits: connection cap, deadlines, bearer
 * token, HTTPS. See httpd_int.h.
 */
#include "httpd_int.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fedlead/config.h"
#include "fedlead/error.h"
#include "fedlead/tls.h"

/* Where a connection's current request is (body_timeout only). */
enum phase {
	PH_HEAD,   /* its header lines, or none yet */
	PH_BODY,   /* body_left bytes of body to come */
	PH_CHUNKS, /* a chunked body: until the answer */
};

struct hconn {
	struct fl_httpd *h;
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* once bound */
	struct event *timer;             /* binding, then the deadline */
	char addr[300];
	unsigned served;
	int refused; /* over max_connections: already logged */
	/* The request's framing as its bytes arrive (framing_cb). */
	enum phase phase;
	uint64_t body_left, length;
	unsigned pending; /* requests whole and not yet answered */
	int chunked, started;
	size_t head_lines, line_len;
	char line[64]; /* the start of the current header line */
	struct hconn *next, *prev;
};

struct fl_httpd {
	struct fl_httpd_conf c;
	struct event_base *base;
	struct evhttp *http;
	unsigned char token_hash[32];
	int have_token;
	struct hconn *conns;
	size_t n;
};

int fl_httpd_token_ok(const struct fl_httpd *h, const char *authorization)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	const char *t;
	int ok;

	if (!h->have_token)
		return 1;
	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return 0;
	for (t = authorization + 7; *t == ' '; t++)
		;
	if (EVP_Digest(t, strlen(t), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return 0;
	ok = CRYPTO_memcmp(md, h->token_hash, sizeof(md)) == 0;
	OPENSSL_cleanse(md, sizeof(md));
	return ok;
}

void fl_httpd_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
                    const char *body, size_t len)
{
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	struct evbuffer *b;

	evhttp_add_header(hdrs, "Content-Type", type);
	evhttp_add_header(hdrs, "Cache-Control", "no-store");
	if ((b = evbuffer_new()) != NULL && evbuffer_add(b, body, len) == 0)
		evhttp_send_reply(req, code, reason, b);
	else
		evhttp_send_error(req, 500, "Internal Server Error");
	if (b != NULL)
		evbuffer_free(b);
}

/* ---- connections ---- */

static struct hconn *find_hconn(struct fl_httpd *h, struct evhttp_connection *evcon)
{
	for (struct hconn *c = h->conns; c; c = c->next)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

static void hconn_free(struct hconn *c)
{
	struct fl_httpd *h = c->h;

	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->n--;
	if (c->timer)
		event_free(c->timer);
	free(c);
}

static struct timeval tv_of(double seconds)
{
	struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - floor(seconds)) * 1e6)};

	return tv;
}

/* ---- header and body deadlines ---- */

/* Before bind_cb, c->timer is the binding's: bind_cb arms the deadline
 * that the framing so far calls for. */
static void arm(struct hconn *c, double seconds)
{
	struct timeval tv = tv_of(seconds);

	if (c->timer != NULL && c->evcon != NULL)
		evtimer_add(c->timer, &tv);
}

static void disarm(struct hconn *c)
{
	if (c->timer != NULL && c->evcon != NULL)
		evtimer_del(c->timer);
}

/* One complete header line (its first bytes in c->line). */
static void header_line(struct hconn *c)
{
	size_t n = c->line_len < sizeof(c->line) ? c->line_len : sizeof(c->line) - 1;
	const char *v;

	c->line[n] = '\0';
	if (strncasecmp(c->line, "content-length:", 15) == 0) {
		for (v = c->line + 15; *v == ' ' || *v == '\t'; v++)
			;
		c->length = strtoull(v, NULL, 10);
	} else if (strncasecmp(c->line, "transfer-encoding:", 18) == 0 &&
	           strcasestr(c->line + 18, "chunked") != NULL)
		c->chunked = 1;
}

/* The empty line after the headers: the body's deadline starts, or, with
 * no body, the request is whole and has none until it is answered. */
static void headers_done(struct hconn *c)
{
	if (c->chunked)
		c->phase = PH_CHUNKS;
	else if (c->length > 0) {
		c->phase = PH_BODY;
		c->body_left = c->length;
	} else
		c->pending++;
	if (c->phase != PH_HEAD)
		arm(c, c->h->c.body_timeout);
	else
		disarm(c);
	c->head_lines = 0;
	c->length = 0;
	c->chunked = 0;
}

/* Follows the framing of the bytes just added to the connection's input
 * (see httpd_int.h). */
static void framing_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct hconn *c = arg;
	struct evbuffer_ptr at;
	struct evbuffer_iovec v[8];
	size_t len = evbuffer_get_length(buf), from;
	int n;

	if (info->n_added == 0 || info->n_added > len)
		return;
	from = len - info->n_added;
	while (from < len) {
		if (evbuffer_ptr_set(buf, &at, from, EVBUFFER_PTR_SET) != 0 ||
		    (n = evbuffer_peek(buf, (ev_ssize_t)(len - from), &at, v, 8)) <= 0)
			return;
		if (n > 8)
			n = 8;
		for (int k = 0; k < n && from < len; k++) {
			const unsigned char *p = v[k].iov_base;
			size_t m = v[k].iov_len < len - from ? v[k].iov_len : len - from;

			from += m;
			while (m > 0) {
				if (c->phase == PH_BODY) {
					size_t take = c->body_left < m ? (size_t)c->body_left : m;

					c->body_left -= take;
					p += take;
					m -= take;
					if (c->body_left == 0) {
						c->phase = PH_HEAD;
						c->pending++;
						disarm(c);
					}
					continue;
				}
				if (c->phase == PH_CHUNKS) {
					m = 0; /* the answer ends it (request_cb) */
					break;
				}
				c->started = 1;
				if (*p == '\n') {
					if (c->line_len == 0 && c->head_lines > 0)
						headers_done(c);
					else if (c->line_len > 0) {
						header_line(c);
						c->head_lines++;
					}
					c->line_len = 0;
				} else if (*p != '\r') {
					if (c->line_len < sizeof(c->line) - 1)
						c->line[c->line_len] = (char)*p;
					c->line_len++;
				}
				p++;
				m--;
			}
		}
	}
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct fl_httpd *h = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct hconn *c = find_hconn(h, evcon);
	char peer[300];

	if (c != NULL) {
		c->served++;
		snprintf(peer, sizeof(peer), "%s", c->addr);
	} else {
		const char *host = "?";
		ev_uint16_t port = 0;

		evhttp_connection_get_peer(evcon, (char **)&host, &port);
		snprintf(peer, sizeof(peer), "%s:%u", host, port);
	}
	h->c.cb(req, peer, h->c.arg);
	/* The next request on this connection has its own time, from now. */
	if (!h->c.per_request || (c = find_hconn(h, evcon)) == NULL || c->timer == NULL)
		return;
	if (h->c.body_timeout <= 0) {
		arm(c, h->c.timeout);
		return;
	}
	if (c->phase == PH_CHUNKS) {
		c->phase = PH_HEAD;
		c->pending++;
	}
	if (c->pending > 0)
		c->pending--;
	/* A request sent behind this one keeps the deadline of where it is. */
	if (c->phase == PH_HEAD && c->pending == 0) {
		c->started = c->head_lines > 0 || c->line_len > 0;
		arm(c, h->c.timeout);
	}
}

/* The framing callback leaves the bufferevent with its record: the
 * bufferevent may outlive it by a little (evhttp frees it after the close
 * callback). */
static void unhook(struct hconn *c)
{
	if (c->bev != NULL && c->h->c.per_request && c->h->c.body_timeout > 0)
		evbuffer_remove_cb(bufferevent_get_input(c->bev), framing_cb, c);
}

/* A TLS connection that closes before its handshake finished was refused
 * by the handshake (a client certificate missing or not of client_ca). */
static void log_handshake_refusal(struct hconn *c)
{
	struct fl_httpd *h = c->h;
	SSL *ssl;
	char why[256];

	if (h->c.tls == NULL || c->served > 0 || c->refused ||
	    (ssl = bufferevent_openssl_get_ssl(c->bev)) == NULL || SSL_is_init_finished(ssl))
		return;
	if (fl_tls_verify_error(ssl, why, sizeof(why)) == 0)
		fl_tls_last_error(why, sizeof(why));
	fl_log(FL_LOG_WARN, "HTTPS connection from %s refused: %s (%s)", c->addr, why,
	       h->c.keys.client_ca);
	fl_audit_event(h->c.audit, "reject", "{s:s, s:s}", "peer", c->addr, "reason", why);
}

static void closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct hconn *c = arg;

	(void)evcon;
	log_handshake_refusal(c);
	unhook(c);
	hconn_free(c);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *c = arg;
	struct fl_httpd *h = c->h;
	char reason[128];

	(void)fd;
	(void)what;
	if (h->c.per_request && h->c.body_timeout > 0 && c->phase != PH_HEAD) {
		fl_log(FL_LOG_WARN,
		       "HTTP connection from %s: the request's body did not arrive within %g s "
		       "(%s); closing",
		       c->addr, h->c.body_timeout, h->c.keys.body_timeout);
		snprintf(reason, sizeof(reason), "body not within %s", h->c.keys.body_timeout);
		fl_audit_event(h->c.audit, "reject", "{s:s, s:s}", "peer", c->addr, "reason",
		               reason);
	} else if (h->c.per_request && h->c.body_timeout > 0 && c->started) {
		fl_log(FL_LOG_WARN,
		       "HTTP connection from %s: the request's headers did not arrive within %g s "
		       "(%s); closing",
		       c->addr, h->c.timeout, h->c.keys.timeout);
		snprintf(reason, sizeof(reason), "headers not within %s", h->c.keys.timeout);
		fl_audit_event(h->c.audit, "reject", "{s:s, s:s}", "peer", c->addr, "reason",
		               reason);
	} else if (c->served == 0) {
		fl_log(FL_LOG_WARN, "HTTP connection from %s: no request within %g s (%s); closing",
		       c->addr, h->c.timeout, h->c.keys.timeout);
		snprintf(reason, sizeof(reason), "no request within %s", h->c.keys.timeout);
		fl_audit_event(h->c.audit, "reject", "{s:s, s:s}", "peer", c->addr, "reason",
		               reason);
	} else if (h->c.per_request)
		fl_log(FL_LOG_DEBUG,
		       "HTTP connection from %s: no further request within %g s (%s); closing",
		       c->addr, h->c.timeout, h->c.keys.timeout);
	else
		fl_log(FL_LOG_DEBUG, "HTTP connection from %s: open for %g s (%s); closing",
		       c->addr, h->c.timeout, h->c.keys.timeout);
	evhttp_connection_free(c->evcon); /* calls closed_cb, which frees c */
}

/* host:port of a socket's peer, as evhttp_connection_get_peer gives it. */
static void peer_of_fd(evutil_socket_t fd, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[256], serv[32];

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv, sizeof(serv),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, n, "(unknown)");
	else
		snprintf(out, n, "%s:%s", host, serv);
}

/* The turn of the loop after the connection was made: tie it to its
 * evhttp_connection, or refuse it when there are too many. */
static void bind_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *c = arg;
	struct fl_httpd *h = c->h;
	bufferevent_data_cb rd;
	bufferevent_event_cb ev;
	void *cbarg = NULL;
	struct timeval tv;

	(void)fd;
	(void)what;
	bufferevent_getcb(c->bev, &rd, NULL, &ev, &cbarg);
	/* Not rd: evhttp clears the read callback while it writes an answer,
	 * which a quick first request can have by now. */
	(void)rd;
	if (cbarg == NULL) {
		/* evhttp has already given up on it (the bufferevent is freed
		 * but for our reference, which keeps its socket open). A
		 * handshake can fail before this turn: the client's answer to
		 * the server's first flight read in the same turn as this
		 * timer, ahead of it; closed_cb is not set yet, so say it here. */
		peer_of_fd(bufferevent_getfd(c->bev), c->addr, sizeof(c->addr));
		log_handshake_refusal(c);
		unhook(c);
		bufferevent_decref(c->bev);
		hconn_free(c);
		return;
	}
	c->evcon = cbarg;
	{
		/* An answer ends in a segment shorter than the MSS, which Nagle
		 * holds back until the client acknowledges the previous one, and
		 * a client delays that acknowledgement (up to 40 ms on Linux):
		 * a batch's answer waited for it. */
		int one = 1;

		(void)setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one,
		                 sizeof(one));
	}
	bufferevent_decref(c->bev);
	{
		char *host = NULL;
		ev_uint16_t port = 0;

		evhttp_connection_get_peer(c->evcon, &host, &port);
		snprintf(c->addr, sizeof(c->addr), "%s:%u", host ? host : "?", port);
	}
	evhttp_connection_set_closecb(c->evcon, closed_cb, c);
	if (h->n > h->c.max_connections) {
		fl_log(FL_LOG_WARN, "refusing an HTTP connection from %s: %zu open (%s)", c->addr,
		       h->n - 1, h->c.keys.max_connections);
		fl_audit_event(h->c.audit, "reject", "{s:s, s:s}", "peer", c->addr, "reason",
		               h->c.keys.max_connections);
		c->refused = 1;
		evhttp_connection_free(c->evcon);
		return;
	}
	event_free(c->timer);
	tv = tv_of(c->phase != PH_HEAD ? h->c.body_timeout : h->c.timeout);
	if ((c->timer = evtimer_new(h->base, deadline_cb, c)) != NULL &&
	    (c->phase != PH_HEAD || c->pending == 0))
		evtimer_add(c->timer, &tv);
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	struct fl_httpd *h = arg;
	struct hconn *c = calloc(1, sizeof(*c));
	struct timeval now = {0, 0};
	SSL *ssl = NULL;

	if (c == NULL)
		return NULL; /* evhttp makes a plain one; bind_cb never sees it */
	if (h->c.tls != NULL) {
		if ((ssl = SSL_new(h->c.tls)) == NULL) {
			free(c);
			return NULL;
		}
		c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
		                                        BEV_OPT_CLOSE_ON_FREE);
	} else
		c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL || (c->timer = evtimer_new(base, bind_cb, c)) == NULL) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			SSL_free(ssl);
		free(c);
		return NULL;
	}
	/* Kept alive until bind_cb looks at it, even if evhttp frees it first. */
	bufferevent_incref(c->bev);
	if (h->c.per_request && h->c.body_timeout > 0 &&
	    evbuffer_add_cb(bufferevent_get_input(c->bev), framing_cb, c) == NULL) {
		bufferevent_decref(c->bev);
		bufferevent_free(c->bev);
		event_free(c->timer);
		free(c);
		return NULL;
	}
	snprintf(c->addr, sizeof(c->addr), "(new)");
	c->h = h;
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	h->n++;
	evtimer_add(c->timer, &now);
	return c->bev;
}

/* ---- setup ---- */

int fl_httpd_read_token(const char *key, const char *path, uint8_t hash[SHA256_DIGEST_LENGTH])
{
	char buf[FL_HTTPD_TOKEN_MAX + 2];
	unsigned int mdlen = 0;
	size_t n;
	FILE *fp = fopen(path, "r");
	int r = 0;

	if (fp == NULL)
		return fl_fail(FL_ERR_CONFIG, "%s %s: %s", key, path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (n > FL_HTTPD_TOKEN_MAX)
		r = fl_fail(FL_ERR_CONFIG, "%s %s: longer than %d bytes", key, path,
		            FL_HTTPD_TOKEN_MAX);
	else if (n < 16)
		r = fl_fail(FL_ERR_CONFIG, "%s %s: the token must be at least 16 characters", key,
		            path);
	else if (strcspn(buf, " \t\r\n") != n)
		r = fl_fail(FL_ERR_CONFIG, "%s %s: the token must be one line without blanks", key,
		            path);
	else if (EVP_Digest(buf, n, hash, &mdlen, EVP_sha256(), NULL) != 1)
		r = fl_fail(FL_ERR_INTERNAL, "%s %s: cannot hash the token", key, path);
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

int fl_httpd_is_loopback(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "localhost") == 0;
}

int fl_httpd_start(struct event_base *base, const struct fl_httpd_conf *conf, struct fl_httpd **out,
                   uint16_t *port)
{
	char host[FL_CFG_HOST_MAX];
	struct evhttp_bound_socket *b;
	struct fl_httpd *h;
	struct timeval tv;
	int r;

	*out = NULL;
	*port = 0;
	if ((r = fl_config_addr_split(conf->listen, host, sizeof(host), port)) != 0)
		return r;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return FL_ERR_NOMEM;
	*out = h;
	h->c = *conf;
	h->base = base;
	if (conf->token_hash != NULL) {
		memcpy(h->token_hash, conf->token_hash, sizeof(h->token_hash));
		h->have_token = 1;
	}
	if ((h->http = evhttp_new(base)) == NULL)
		return FL_ERR_NOMEM;
	evhttp_set_gencb(h->http, request_cb, h);
	evhttp_set_bevcb(h->http, bev_cb, h);
	evhttp_set_allowed_methods(h->http, (ev_uint16_t)conf->methods);
	evhttp_set_max_headers_size(h->http, (ev_ssize_t)conf->max_headers);
	evhttp_set_max_body_size(h->http, (ev_ssize_t)conf->max_body);
	/* libevent's own timeout restarts with every byte; the deadline timer
	 * (deadline_cb) is the one that counts and comes first. */
	tv = tv_of(2 * (conf->timeout > conf->body_timeout ? conf->timeout : conf->body_timeout));
	evhttp_set_timeout_tv(h->http, &tv);
	if ((b = evhttp_bind_socket_with_handle(h->http, host, *port)) == NULL)
		return fl_fail(FL_ERR_IO, "cannot listen for HTTP on %s: %s", conf->listen,
		               strerror(errno));
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&ss, &len) == 0)
			*port = ntohs(ss.ss_family == AF_INET
			                      ? ((struct sockaddr_in *)&ss)->sin_port
			                      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return 0;
}

size_t fl_httpd_connections(const struct fl_httpd *h)
{
	return h != NULL ? h->n : 0;
}

void fl_httpd_free(struct fl_httpd *h)
{
	if (h == NULL)
		return;
	/* evhttp_free() frees the connections, whose close callbacks free
	 * their records; records still waiting for bind_cb hold a reference. */
	if (h->http)
		evhttp_free(h->http);
	while (h->conns != NULL) {
		struct hconn *c = h->conns;

		if (c->evcon == NULL) {
			unhook(c);
			bufferevent_decref(c->bev);
		}
		hconn_free(c);
	}
	OPENSSL_cleanse(h->token_hash, sizeof(h->token_hash));
	free(h);
}

long fl_httpd_rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *fp = fopen("/proc/self/statm", "r");

	if (fp != NULL) {
		if (fscanf(fp, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(fp);
	}
	return rss * sysconf(_SC_PAGESIZE);
}
