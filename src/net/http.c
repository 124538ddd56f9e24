/*
 * The coordinator's HTTP endpoint for operators: /healthz, /status (JSON),
 * /metrics (Prometheus text) and the dashboard at /. Requests are answered
 * by fl_http_route(), which does no I/O; httpd.c keeps the endpoint within
 * its limits: at most http_max_connections connections, each closed
 * http_timeout after it was opened whatever it is doing (so a client
 * trickling its headers cannot hold one), optionally a bearer token or
 * HTTPS with a client certificate.
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
#include "httpd_int.h"
#include "server_int.h"

struct fl_http {
	struct server *s;
	struct fl_httpd *d;
	SSL_CTX *tls; /* with http_client_ca: HTTPS, client certificate required */
	unsigned char token_hash[32];
	int have_token;
};

/* ---- answering ---- */

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
	GAUGE("resident_memory_bytes", "Resident memory of the coordinator.", "%ld",
	      fl_httpd_rss_bytes());
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
	if (s->http != NULL && s->http->have_token &&
	    !fl_httpd_token_ok(s->http->d, authorization)) {
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

/* ---- requests ---- */

static void http_cb(struct evhttp_request *req, const char *peer, void *arg)
{
	struct server *s = arg;
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	struct fl_http_reply rep;

	if (fl_http_route(
	            s, evhttp_request_get_command(req), evhttp_request_get_uri(req),
	            evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"),
	            peer, &rep) != 0) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	if (rep.header != NULL) {
		char name[64];
		const char *colon = strchr(rep.header, ':');
		size_t n = (size_t)(colon - rep.header);

		snprintf(name, sizeof(name), "%.*s", (int)n, rep.header);
		evhttp_add_header(hdrs, name, colon + 2);
	}
	fl_httpd_reply(req, rep.code, rep.reason, rep.type, rep.body, rep.len);
	free(rep.body);
}

/* ---- setup ---- */

int fl_http_check_token_file(const char *path)
{
	uint8_t hash[SHA256_DIGEST_LENGTH];
	int r = fl_httpd_read_token("http_token_file", path, hash);

	OPENSSL_cleanse(hash, sizeof(hash));
	return r;
}

int fl_http_start(struct server *s)
{
	const struct fl_coord_opts *o = s->o;
	char host[FL_CFG_HOST_MAX];
	struct fl_httpd_conf hc = {0};
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
		if ((r = fl_httpd_read_token("http_token_file", o->http_token_file,
		                             h->token_hash)) != 0)
			return r;
		h->have_token = 1;
	}
	if (o->http_client_ca != NULL) {
		struct fl_tls_opts t = {o->http_client_ca, o->tls.cert, o->tls.key, o->tls.crl};

		if ((r = fl_tls_server_ctx(&t, &h->tls)) != 0)
			return fl_fail(r, "http_client_ca: %s", fl_errmsg());
	}
	hc.listen = o->http_listen;
	hc.max_connections = o->http_max_connections;
	hc.timeout = o->http_timeout;
	hc.max_headers = 8192;
	hc.max_body = 0;
	hc.methods = EVHTTP_REQ_GET | EVHTTP_REQ_HEAD;
	hc.tls = h->tls;
	hc.token_hash = h->have_token ? h->token_hash : NULL;
	hc.keys = (struct fl_httpd_keys){"http_max_connections", "http_timeout", "http_token_file",
	                                 "http_client_ca", NULL};
	hc.audit = s->audit;
	hc.cb = http_cb;
	hc.arg = s;
	if ((r = fl_httpd_start(s->base, &hc, &h->d, &s->http_port)) != 0)
		return r;
	if (!fl_httpd_is_loopback(host) && !h->have_token && h->tls == NULL)
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
	return s->http != NULL ? fl_httpd_connections(s->http->d) : 0;
}

void fl_http_stop(struct server *s)
{
	struct fl_http *h = s->http;

	if (h == NULL)
		return;
	fl_httpd_free(h->d);
	SSL_CTX_free(h->tls);
	OPENSSL_cleanse(h->token_hash, sizeof(h->token_hash));
	free(h);
	s->http = NULL;
}
