/*
 * The coordinator's HTTP endpoint for operators: /healthz, /status (JSON),
 * /metrics (Prometheus text) and the dashboard at /. Requests are answered
 * by fl_http_route(), which does no I/O; the rest of this file keeps the
 * endpoint within its limits: at most http_max_connections connections,
 * each closed http_timeout after it was opened whatever it is doing (so a
 * client trickling its headers cannot hold one), optionally a bearer token
 * or HTTPS with a client certificate.
 *
 * libevent 2.1's evhttp has no connection limit and no hook when a
 * connection is accepted, only one that makes its bufferevent (bevcb). So a
 * connection is counted when its bufferevent is made, and tied to its
 * evhttp_connection on the next turn of the loop (from the bufferevent's
 * callback argument, which evhttp sets to the connection); from then on the
 * connection's close callback uncounts it.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fedlead/config.h"
#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/report.h"
#include "fedlead/tls.h"
#include "server_int.h"

#define TOKEN_FILE_MAX 4096

struct hconn {
	struct fl_http *h;
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* once bound */
	struct event *timer;             /* binding, then the lifetime */
	char addr[300];
	unsigned served;
	int refused; /* over http_max_connections: already logged */
	struct hconn *next, *prev;
};

struct fl_http {
	struct server *s;
	struct evhttp *http;
	SSL_CTX *tls; /* with http_client_ca: HTTPS, client certificate required */
	unsigned char token_hash[32];
	int have_token;
	struct hconn *conns;
	size_t n;
};

/* ---- answering ---- */

static long rss_bytes(void)
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

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *status_json(struct server *s)
{
	struct fl_fedcoord_view v;
	json_t *o, *parts = json_array(), *hist = json_array();

	fl_fedcoord_view(s->fc, &v);
	for (size_t i = 0; i < fl_fedcoord_partner_count(s->fc); i++) {
		const char *name;
		int connected, participating;
		double seen;

		fl_fedcoord_partner(s->fc, i, &name, &connected, &participating, &seen);
		json_array_append_new(parts, json_pack("{s:s, s:b, s:b, s:o}", "name", name,
		                                       "connected", connected, "participating",
		                                       participating, "last_seen",
		                                       seen > 0 ? json_real(seen) : json_null()));
	}
	for (size_t i = 0; i < fl_fedcoord_history_len(s->fc); i++) {
		struct fl_round_log h;

		fl_fedcoord_history(s->fc, i, &h);
		json_array_append_new(
		        hist, json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:i}", "round",
		                        (json_int_t)h.round, "kind", h.kind, "l2",
		                        num_or_null(h.l2), "train_loss", num_or_null(h.train_loss),
		                        "grad_norm", num_or_null(h.grad_norm), "valid_log_loss",
		                        num_or_null(h.valid_log_loss), "valid_auc",
		                        num_or_null(h.valid_auc), "partners", (int)h.partners));
	}
	o = json_pack(
	        "{s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I}, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	        "federation", s->o->set.federation_id, "phase", fl_fed_phase_name(v.phase),
	        "algorithm", fl_fed_algo_name(s->o->set.algorithm), "round", (json_int_t)v.round,
	        "partners", "expected", (json_int_t)v.expected, "connected",
	        (json_int_t)v.connected, "participating", (json_int_t)v.participating, "iterations",
	        v.iterations, "l2", num_or_null(v.l2), "train_loss", num_or_null(v.train_loss),
	        "grad_norm", num_or_null(v.grad_norm), "valid_log_loss",
	        num_or_null(v.valid_log_loss), "valid_auc", num_or_null(v.valid_auc),
	        "partner_list", parts, "history", hist);
	return o;
}

static int metrics_text(struct server *s, char **text, size_t *len)
{
	struct fl_fedcoord_view v;
	const char *fed = s->o->set.federation_id;
	size_t open, preauth;
	FILE *fp;

	if ((fp = open_memstream(text, len)) == NULL)
		return FL_ERR_NOMEM;
	fl_fedcoord_view(s->fc, &v);
	fl_server_counts(s, &open, &preauth);
#define METRIC(type, name, help, fmt, val)                                                         \
	fprintf(fp,                                                                                \
	        "# HELP fedlead_" name " " help "\n# TYPE fedlead_" name " " type "\n"             \
	        "fedlead_" name "{federation=\"%s\"} " fmt "\n",                                   \
	        fed, val)
#define GAUGE(name, help, fmt, val) METRIC("gauge", name, help, fmt, val)
#define COUNTER(name, help, fmt, val) METRIC("counter", name, help, fmt, val)
	GAUGE("round", "Current round of the federation.", "%llu", (unsigned long long)v.round);
	GAUGE("phase", "Phase: 0 waiting, 1 statistics, 2 training, 3 final, 4 done, 5 failed.",
	      "%d", (int)v.phase);
	GAUGE("partners_expected", "Partners on the allow-list.", "%zu", v.expected);
	GAUGE("partners_connected", "Partners connected now.", "%zu", v.connected);
	GAUGE("partners_participating", "Partners taking part in training.", "%zu",
	      v.participating);
	GAUGE("train_loss", "Mean training log-loss at the current weights.", "%.10g",
	      v.train_loss);
	GAUGE("valid_log_loss", "Mean validation log-loss at the current weights.", "%.10g",
	      v.valid_log_loss);
	GAUGE("valid_auc", "Validation AUC from summed score histograms.", "%.10g", v.valid_auc);
	GAUGE("connections_open", "Open partner connections.", "%zu", s->nconns);
	GAUGE("connections_preauth", "Open partner connections that have not said hello.", "%zu",
	      preauth);
	GAUGE("http_connections_open", "Open HTTP connections.", "%zu", fl_http_connections(s));
	COUNTER("rejected_connections_total", "Connections refused or closed for cause.", "%llu",
	        (unsigned long long)s->rejected);
	COUNTER("received_bytes_total", "Bytes of frames received.", "%llu",
	        (unsigned long long)s->bytes_in);
	COUNTER("sent_bytes_total", "Bytes of frames queued for partners.", "%llu",
	        (unsigned long long)s->bytes_out);
	GAUGE("resident_memory_bytes", "Resident memory of the coordinator.", "%ld", rss_bytes());
#undef GAUGE
#undef COUNTER
#undef METRIC
	return fclose(fp) == 0 ? 0 : FL_ERR_NOMEM;
}

static int set_reply(struct fl_http_reply *out, int code, const char *reason, const char *type,
                     const char *body, size_t len)
{
	out->code = code;
	out->reason = reason;
	out->type = type;
	if ((out->body = malloc(len + 1)) == NULL)
		return FL_ERR_NOMEM;
	memcpy(out->body, body, len);
	out->body[len] = '\0';
	out->len = len;
	return 0;
}

/* The presented bearer token is hashed, so the comparison takes the same
 * time whatever its length and wherever it differs. */
static int token_ok(const struct fl_http *h, const char *authorization)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	const char *t;
	int ok;

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

int fl_http_route(struct server *s, int method, const char *uri, const char *authorization,
                  const char *peer, struct fl_http_reply *out)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	/* HEAD is allowed (monitoring probes use it); libevent drops the body. */
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD)
		return set_reply(out, 405, "Method Not Allowed", "text/plain", "GET only\n", 9);
	/* /healthz says only that the process answers: probes need no token. */
	if (strcmp(uri, "/healthz") == 0)
		return set_reply(out, 200, "OK", "text/plain", "ok\n", 3);
	if (s->http != NULL && s->http->have_token && !token_ok(s->http, authorization)) {
		const char *why = authorization == NULL ? "no bearer token" : "wrong bearer token";

		fl_log(FL_LOG_WARN, "HTTP request from %s refused: %s (http_token_file)", peer,
		       why);
		fl_audit_event(s->audit, "reject", "{s:s, s:s}", "peer", peer, "reason", why);
		out->header = "WWW-Authenticate: Bearer realm=\"fedlead\"";
		return set_reply(out, 401, "Unauthorized", "text/plain", "bearer token required\n",
		                 22);
	}
	if (strcmp(uri, "/") == 0 &&
	    fl_dashboard_html(s->fc, &s->o->set, (double)time(NULL), &text, &len) == 0) {
		out->code = 200;
		out->reason = "OK";
		out->type = "text/html; charset=utf-8";
		out->body = text;
		out->len = len;
		return 0;
	}
	if (strcmp(uri, "/status") == 0) {
		json_t *o = status_json(s);

		text = json_dumps(o,
		                  JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
		json_decref(o);
		if (text == NULL)
			return FL_ERR_NOMEM;
		out->code = 200;
		out->reason = "OK";
		out->type = "application/json";
		out->body = text;
		out->len = strlen(text);
		return 0;
	}
	if (strcmp(uri, "/metrics") == 0) {
		if ((r = metrics_text(s, &text, &len)) != 0) {
			free(text);
			return r;
		}
		out->code = 200;
		out->reason = "OK";
		out->type = "text/plain; version=0.0.4";
		out->body = text;
		out->len = len;
		return 0;
	}
	return set_reply(out, 404, "Not Found", "text/plain", "not found\n", 10);
}

/* ---- connections ---- */

static struct hconn *find_hconn(struct fl_http *h, struct evhttp_connection *evcon)
{
	for (struct hconn *c = h->conns; c; c = c->next)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

static void hconn_free(struct hconn *c)
{
	struct fl_http *h = c->h;

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

static void http_cb(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct hconn *c = find_hconn(s->http, evcon);
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	struct fl_http_reply rep;
	char peer[300];
	struct evbuffer *b;

	if (c != NULL) {
		c->served++;
		snprintf(peer, sizeof(peer), "%s", c->addr);
	} else {
		const char *host = "?";
		ev_uint16_t port = 0;

		evhttp_connection_get_peer(evcon, (char **)&host, &port);
		snprintf(peer, sizeof(peer), "%s:%u", host, port);
	}
	if (fl_http_route(
	            s, evhttp_request_get_command(req), evhttp_request_get_uri(req),
	            evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"),
	            peer, &rep) != 0) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	evhttp_add_header(hdrs, "Content-Type", rep.type);
	evhttp_add_header(hdrs, "Cache-Control", "no-store");
	if (rep.header != NULL) {
		char name[64];
		const char *colon = strchr(rep.header, ':');
		size_t n = (size_t)(colon - rep.header);

		snprintf(name, sizeof(name), "%.*s", (int)n, rep.header);
		evhttp_add_header(hdrs, name, colon + 2);
	}
	if ((b = evbuffer_new()) != NULL) {
		evbuffer_add(b, rep.body, rep.len);
		evhttp_send_reply(req, rep.code, rep.reason, b);
		evbuffer_free(b);
	} else
		evhttp_send_error(req, 500, "Internal Server Error");
	free(rep.body);
}

static void closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct hconn *c = arg;
	struct server *s = c->h->s;

	(void)evcon;
	if (c->h->tls != NULL && c->served == 0 && !c->refused) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		char why[256];

		if (ssl != NULL && !SSL_is_init_finished(ssl)) {
			if (fl_tls_verify_error(ssl, why, sizeof(why)) == 0)
				fl_tls_last_error(why, sizeof(why));
			fl_log(FL_LOG_WARN, "HTTPS connection from %s refused: %s (http_client_ca)",
			       c->addr, why);
			fl_audit_event(s->audit, "reject", "{s:s, s:s}", "peer", c->addr, "reason",
			               why);
		}
	}
	hconn_free(c);
}

static void lifetime_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *c = arg;
	struct server *s = c->h->s;

	(void)fd;
	(void)what;
	if (c->served == 0) {
		fl_log(FL_LOG_WARN,
		       "HTTP connection from %s: no request within %g s "
		       "(http_timeout); closing",
		       c->addr, s->o->http_timeout);
		fl_audit_event(s->audit, "reject", "{s:s, s:s}", "peer", c->addr, "reason",
		               "no request within http_timeout");
	} else
		fl_log(FL_LOG_DEBUG,
		       "HTTP connection from %s: open for %g s (http_timeout); "
		       "closing",
		       c->addr, s->o->http_timeout);
	evhttp_connection_free(c->evcon); /* calls closed_cb, which frees c */
}

static struct timeval tv_of(double seconds)
{
	struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - floor(seconds)) * 1e6)};

	return tv;
}

/* The turn of the loop after the connection was made: tie it to its
 * evhttp_connection, or refuse it when there are too many. */
static void bind_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *c = arg;
	struct fl_http *h = c->h;
	struct server *s = h->s;
	bufferevent_data_cb rd;
	bufferevent_event_cb ev;
	void *cbarg = NULL;
	struct timeval tv;

	(void)fd;
	(void)what;
	bufferevent_getcb(c->bev, &rd, NULL, &ev, &cbarg);
	if (rd == NULL || cbarg == NULL) {
		/* evhttp has already given up on it (the bufferevent is freed
		 * but for our reference). */
		bufferevent_decref(c->bev);
		hconn_free(c);
		return;
	}
	c->evcon = cbarg;
	bufferevent_decref(c->bev);
	{
		char *host = NULL;
		ev_uint16_t port = 0;

		evhttp_connection_get_peer(c->evcon, &host, &port);
		snprintf(c->addr, sizeof(c->addr), "%s:%u", host ? host : "?", port);
	}
	evhttp_connection_set_closecb(c->evcon, closed_cb, c);
	if (h->n > s->o->http_max_connections) {
		fl_log(FL_LOG_WARN,
		       "refusing an HTTP connection from %s: %zu open "
		       "(http_max_connections)",
		       c->addr, h->n - 1);
		fl_audit_event(s->audit, "reject", "{s:s, s:s}", "peer", c->addr, "reason",
		               "http_max_connections");
		c->refused = 1;
		evhttp_connection_free(c->evcon);
		return;
	}
	event_free(c->timer);
	tv = tv_of(s->o->http_timeout);
	if ((c->timer = evtimer_new(s->base, lifetime_cb, c)) != NULL)
		evtimer_add(c->timer, &tv);
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	struct server *s = arg;
	struct fl_http *h = s->http;
	struct hconn *c = calloc(1, sizeof(*c));
	struct timeval now = {0, 0};
	SSL *ssl = NULL;

	if (c == NULL)
		return NULL; /* evhttp makes a plain one; bind_cb never sees it */
	if (h->tls != NULL) {
		if ((ssl = SSL_new(h->tls)) == NULL) {
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

/* Reads and checks the token of path; its SHA-256 goes to hash. */
static int read_token(const char *path, uint8_t hash[SHA256_DIGEST_LENGTH])
{
	char buf[TOKEN_FILE_MAX + 2];
	unsigned int mdlen = 0;
	size_t n;
	FILE *fp = fopen(path, "r");
	int r = 0;

	if (fp == NULL)
		return fl_fail(FL_ERR_CONFIG, "http_token_file %s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (n > TOKEN_FILE_MAX)
		r = fl_fail(FL_ERR_CONFIG, "http_token_file %s: longer than %d bytes", path,
		            TOKEN_FILE_MAX);
	else if (n < 16)
		r = fl_fail(FL_ERR_CONFIG,
		            "http_token_file %s: the token must be at least 16 "
		            "characters",
		            path);
	else if (strcspn(buf, " \t\r\n") != n)
		r = fl_fail(FL_ERR_CONFIG,
		            "http_token_file %s: the token must be one line "
		            "without blanks",
		            path);
	else if (EVP_Digest(buf, n, hash, &mdlen, EVP_sha256(), NULL) != 1)
		r = fl_fail(FL_ERR_INTERNAL, "http_token_file %s: cannot hash the token", path);
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

int fl_http_check_token_file(const char *path)
{
	uint8_t hash[SHA256_DIGEST_LENGTH];
	int r = read_token(path, hash);

	OPENSSL_cleanse(hash, sizeof(hash));
	return r;
}

static int is_loopback(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "localhost") == 0;
}

int fl_http_start(struct server *s)
{
	const struct fl_coord_opts *o = s->o;
	char host[FL_CFG_HOST_MAX];
	struct evhttp_bound_socket *b;
	struct fl_http *h;
	uint16_t port;
	int r;

	if (o->http_listen == NULL)
		return 0;
	if ((r = fl_config_addr_split(o->http_listen, host, sizeof(host), &port)) != 0)
		return r;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return FL_ERR_NOMEM;
	h->s = s;
	s->http = h;
	if (o->http_token_file != NULL) {
		if ((r = read_token(o->http_token_file, h->token_hash)) != 0)
			return r;
		h->have_token = 1;
	}
	if (o->http_client_ca != NULL) {
		struct fl_tls_opts t = {o->http_client_ca, o->tls.cert, o->tls.key, o->tls.crl};

		if ((r = fl_tls_server_ctx(&t, &h->tls)) != 0)
			return fl_fail(r, "http_client_ca: %s", fl_errmsg());
	}
	if ((h->http = evhttp_new(s->base)) == NULL)
		return FL_ERR_NOMEM;
	evhttp_set_gencb(h->http, http_cb, s);
	evhttp_set_bevcb(h->http, bev_cb, s);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(h->http, 8192);
	evhttp_set_max_body_size(h->http, 0);
	{
		/* libevent's own timeout restarts with every byte; the lifetime
		 * timer (lifetime_cb) is the one that counts and comes first. */
		struct timeval tv = tv_of(2 * o->http_timeout);

		evhttp_set_timeout_tv(h->http, &tv);
	}
	if ((b = evhttp_bind_socket_with_handle(h->http, host, port)) == NULL)
		return fl_fail(FL_ERR_IO, "cannot listen for HTTP on %s: %s", o->http_listen,
		               strerror(errno));
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&ss, &len) == 0)
			s->http_port = ntohs(ss.ss_family == AF_INET
			                             ? ((struct sockaddr_in *)&ss)->sin_port
			                             : ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (!is_loopback(host) && !h->have_token && h->tls == NULL)
		fl_log(FL_LOG_WARN,
		       "the HTTP endpoint on %s has no authentication: anyone who "
		       "can reach it can read the federation's status (set http_token_file or "
		       "http_client_ca, or listen on 127.0.0.1)",
		       o->http_listen);
	fl_log(FL_LOG_INFO, "HTTP%s status on %s:%u (/healthz, /status, /metrics)%s",
	       h->tls ? "S" : "", host, s->http_port,
	       h->have_token ? ", bearer token required"
	       : h->tls      ? ", client certificate "
	                       "required"
	                     : "");
	return 0;
}

size_t fl_http_connections(const struct server *s)
{
	return s->http != NULL ? s->http->n : 0;
}

void fl_http_stop(struct server *s)
{
	struct fl_http *h = s->http;

	if (h == NULL)
		return;
	/* evhttp_free() frees the connections, whose close callbacks free
	 * their records; records still waiting for bind_cb hold a reference. */
	if (h->http)
		evhttp_free(h->http);
	while (h->conns != NULL) {
		struct hconn *c = h->conns;

		if (c->evcon == NULL)
			bufferevent_decref(c->bev);
		hconn_free(c);
	}
	SSL_CTX_free(h->tls);
	OPENSSL_cleanse(h->token_hash, sizeof(h->token_hash));
	free(h);
	s->http = NULL;
}
