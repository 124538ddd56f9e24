/*
 * The scoring service's process: an evhttp server (httpd.c: connection cap,
 * per-request deadline, bearer token, HTTPS) answering /v1/score,
 * /v1/model, /healthz and /metrics, and the model it serves, replaced
 * whole on SIGHUP or when the file changes. See include/fedlead/serve.h.
 *
 * One thread: a request is answered in one callback with the model that
 * was current when the callback began, and a reload runs between
 * callbacks, so no request sees two models or none. A reload that fails
 * (a bad signature, another schema, a half-written file) leaves the old
 * model serving and says why in the log.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fedlead/config.h"
#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/serve.h"
#include "fedlead/tls.h"
#include "httpd_int.h"

/* Latency histogram buckets of /v1/score, seconds. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

enum route { R_SCORE, R_MODEL, R_HEALTHZ, R_METRICS, R_OTHER, N_ROUTES };
static const char *const route_names[N_ROUTES] = {"/v1/score", "/v1/model", "/healthz", "/metrics",
                                                  "other"};
static const int codes[] = {200, 400, 401, 404, 405, 413, 415, 500};
#define N_CODES (sizeof(codes) / sizeof(codes[0]))

struct svc {
	const struct fl_serve_opts *o;
	struct event_base *base;
	struct fl_httpd *httpd;
	SSL_CTX *tls;
	uint8_t token_hash[32];
	int have_token;
	struct fl_audit *audit;
	struct event *sig_term, *sig_int, *sig_hup, *watch;
	struct fl_serve_model *cur;
	char expect_fp[65];
	struct stat seen; /* the model file as last loaded or tried */
	uint16_t port;
	/* /metrics */
	uint64_t requests[N_ROUTES][N_CODES];
	uint64_t errors[FL_SERVE_N_ERRORS];
	uint64_t auth_failures, reloads, reload_failures, leads;
	uint64_t hist[N_BUCKETS + 1];
	double hist_sum;
	uint64_t hist_count;
};

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void count(struct svc *v, enum route rt, int code)
{
	for (size_t i = 0; i < N_CODES; i++)
		if (codes[i] == code) {
			v->requests[rt][i]++;
			return;
		}
}

static void reply(struct svc *v, struct evhttp_request *req, enum route rt, int code,
                  const char *type, const char *body, size_t len)
{
	const char *reason = code == 200   ? "OK"
	                     : code == 400 ? "Bad Request"
	                     : code == 401 ? "Unauthorized"
	                     : code == 404 ? "Not Found"
	                     : code == 405 ? "Method Not Allowed"
	                     : code == 413 ? "Payload Too Large"
	                     : code == 415 ? "Unsupported Media Type"
	                                   : "Internal Server Error";

	count(v, rt, code);
	fl_httpd_reply(req, code, reason, type, body, len);
}

/* ---- /v1/model ---- */

static json_t *num(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static char *model_json(const struct svc *v)
{
	const struct fl_serve_model *sm = v->cur;
	const struct fl_provenance *p = &sm->m->prov;
	json_t *o, *parts = json_array(), *priv, *dec;
	char ptext[512];
	char *s;

	for (size_t i = 0; i < p->n_participants; i++)
		json_array_append_new(parts, json_string(p->participants[i]));
	fl_model_privacy_text(sm->m, ptext, sizeof(ptext));
	priv = json_pack("{s:s}", "text", ptext);
	if (p->privacy != NULL) {
		json_t *pp = json_array();

		for (size_t i = 0; i < p->privacy->n_partners; i++) {
			const struct fl_dp_partner *d = &p->privacy->partners[i];

			json_array_append_new(
			        pp, json_pack("{s:s, s:o, s:o, s:I, s:o, s:i, s:o}", "partner",
			                      d->partner, "epsilon", num(d->epsilon), "delta",
			                      num(d->delta), "releases", (json_int_t)d->releases,
			                      "clip", num(d->clip), "max_colluders",
			                      (int)d->max_colluders, "rho", num(d->rho)));
		}
		json_object_set_new(priv, "mechanism", str_or_null(p->privacy->mechanism));
		json_object_set_new(priv, "accountant", str_or_null(p->privacy->accountant));
		json_object_set_new(priv, "releases",
		                    json_integer((json_int_t)p->privacy->releases));
		json_object_set_new(priv, "threshold", json_integer(p->privacy->threshold));
		json_object_set_new(priv, "partners", pp);
	}
	if (sm->ref_leads > 0) {
		json_t *cuts = json_array();

		for (int d = 0; d < FL_DECILES - 1; d++)
			json_array_append_new(cuts, json_real(sm->cuts[d]));
		dec = json_pack("{s:s, s:I, s:o}", "reference", v->o->reference, "leads",
		                (json_int_t)sm->ref_leads, "cuts", cuts);
	} else
		dec = json_null();
	o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:{s:s, s:o, s:o}}", "path", v->o->model, "sha256",
	              sm->sha256, "generation", (json_int_t)sm->generation, "loaded", sm->loaded,
	              "schema_fingerprint", sm->fingerprint, "signature", "status",
	              sm->verified ? "verified" : "not checked (allow_unsigned)", "signer",
	              sm->verified ? json_string(sm->signer) : json_null(), "ca",
	              str_or_null(v->o->verify_ca));
	if (o == NULL)
		return NULL;
	json_object_set_new(
	        o, "provenance",
	        json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:i, s:o, s:o, s:{s:I, s:o, s:o}, "
	                  "s:{s:I, s:o, s:o}}",
	                  "created", str_or_null(p->created), "tool_version",
	                  str_or_null(p->tool_version), "solver", str_or_null(p->solver),
	                  "federation_id", str_or_null(p->federation_id), "participants", parts,
	                  "rows", (json_int_t)p->rows, "positives", (json_int_t)p->positives,
	                  "rounds", (int)p->rounds, "l2", num(p->l2), "final_loss",
	                  num(p->final_loss), "train", "rows", (json_int_t)p->train.rows, "auc",
	                  num(p->train.auc), "log_loss", num(p->train.log_loss), "valid", "rows",
	                  (json_int_t)p->valid.rows, "auc", num(p->valid.auc), "log_loss",
	                  num(p->valid.log_loss)));
	json_object_set_new(o, "privacy", priv);
	json_object_set_new(o, "deciles", dec);
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(o);
	return s;
}

/* ---- /metrics ---- */

static int metrics_text(const struct svc *v, char **text, size_t *len)
{
	FILE *fp = open_memstream(text, len);
	uint64_t cum = 0;

	if (fp == NULL)
		return FL_ERR_NOMEM;
	fputs("# HELP fedlead_serve_requests_total HTTP requests answered, by path and status.\n"
	      "# TYPE fedlead_serve_requests_total counter\n",
	      fp);
	for (int r = 0; r < N_ROUTES; r++)
		for (size_t c = 0; c < N_CODES; c++)
			if (v->requests[r][c] > 0 || (r == R_SCORE && codes[c] == 200))
				fprintf(fp,
				        "fedlead_serve_requests_total{path=\"%s\",code=\"%d\"} "
				        "%llu\n",
				        route_names[r], codes[c],
				        (unsigned long long)v->requests[r][c]);
	fputs("# HELP fedlead_serve_request_duration_seconds Time to answer a /v1/score "
	      "request, from its arrival in whole to its answer queued.\n"
	      "# TYPE fedlead_serve_request_duration_seconds histogram\n",
	      fp);
	for (size_t b = 0; b < N_BUCKETS; b++) {
		cum += v->hist[b];
		fprintf(fp, "fedlead_serve_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
		        buckets[b], (unsigned long long)cum);
	}
	cum += v->hist[N_BUCKETS];
	fprintf(fp,
	        "fedlead_serve_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	        "fedlead_serve_request_duration_seconds_sum %.9f\n"
	        "fedlead_serve_request_duration_seconds_count %llu\n",
	        (unsigned long long)cum, v->hist_sum, (unsigned long long)v->hist_count);
	fprintf(fp,
	        "# HELP fedlead_serve_leads_scored_total Leads scored.\n"
	        "# TYPE fedlead_serve_leads_scored_total counter\n"
	        "fedlead_serve_leads_scored_total %llu\n",
	        (unsigned long long)v->leads);
	fputs("# HELP fedlead_serve_errors_total Requests refused, by kind.\n"
	      "# TYPE fedlead_serve_errors_total counter\n",
	      fp);
	for (int e = 1; e < FL_SERVE_N_ERRORS; e++)
		fprintf(fp, "fedlead_serve_errors_total{kind=\"%s\"} %llu\n",
		        fl_serve_error_name((enum fl_serve_error)e),
		        (unsigned long long)v->errors[e]);
	fprintf(fp, "fedlead_serve_errors_total{kind=\"unauthorized\"} %llu\n",
	        (unsigned long long)v->auth_failures);
	fprintf(fp,
	        "# HELP fedlead_serve_model_info The model served (value 1).\n"
	        "# TYPE fedlead_serve_model_info gauge\n"
	        "fedlead_serve_model_info{sha256=\"%s\",schema_fingerprint=\"%s\",created=\"%s\","
	        "signature=\"%s\"} 1\n"
	        "# HELP fedlead_serve_model_generation Models loaded since start (1 = the first).\n"
	        "# TYPE fedlead_serve_model_generation gauge\n"
	        "fedlead_serve_model_generation %llu\n"
	        "# HELP fedlead_serve_model_reloads_total Reloads that replaced the model.\n"
	        "# TYPE fedlead_serve_model_reloads_total counter\n"
	        "fedlead_serve_model_reloads_total %llu\n"
	        "# HELP fedlead_serve_model_reload_failures_total Reloads refused (the old model "
	        "kept serving).\n"
	        "# TYPE fedlead_serve_model_reload_failures_total counter\n"
	        "fedlead_serve_model_reload_failures_total %llu\n"
	        "# HELP fedlead_serve_http_connections_open Open HTTP connections.\n"
	        "# TYPE fedlead_serve_http_connections_open gauge\n"
	        "fedlead_serve_http_connections_open %zu\n"
	        "# HELP fedlead_serve_resident_memory_bytes Resident memory of the service.\n"
	        "# TYPE fedlead_serve_resident_memory_bytes gauge\n"
	        "fedlead_serve_resident_memory_bytes %ld\n",
	        v->cur->sha256, v->cur->fingerprint,
	        v->cur->m->prov.created ? v->cur->m->prov.created : "",
	        v->cur->verified ? "verified" : "unchecked", (unsigned long long)v->cur->generation,
	        (unsigned long long)v->reloads, (unsigned long long)v->reload_failures,
	        fl_httpd_connections(v->httpd), fl_httpd_rss_bytes());
	return fclose(fp) == 0 ? 0 : FL_ERR_NOMEM;
}

/* ---- requests ---- */

static void score(struct svc *v, struct evhttp_request *req, const char *query)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct fl_serve_request rq = {0};
	struct fl_serve_answer ans;
	double t0 = now_mono(), dt;
	size_t b;

	rq.content_type = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	rq.body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	rq.len = len;
	rq.query = query;
	rq.n_reasons = v->o->n_reasons;
	rq.reasons = v->o->reasons;
	rq.max_batch = v->o->max_batch;
	if (len > 0 && rq.body == NULL) {
		v->errors[FL_SERVE_INTERNAL]++;
		reply(v, req, R_SCORE, 500, "text/plain", "out of memory\n", 14);
		return;
	}
	if (fl_serve_score(v->cur, &rq, &ans) != 0) {
		free(ans.body);
		v->errors[FL_SERVE_INTERNAL]++;
		reply(v, req, R_SCORE, 500, "text/plain", "out of memory\n", 14);
		return;
	}
	v->errors[ans.error]++;
	v->leads += ans.leads;
	reply(v, req, R_SCORE, ans.code, ans.type, ans.body, ans.len);
	free(ans.body);
	dt = now_mono() - t0;
	for (b = 0; b < N_BUCKETS && dt > buckets[b]; b++)
		;
	v->hist[b]++;
	v->hist_sum += dt;
	v->hist_count++;
}

static void request_cb(struct evhttp_request *req, const char *peer, void *arg)
{
	struct svc *v = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	const char *query = u != NULL ? evhttp_uri_get_query(u) : NULL;
	int method = evhttp_request_get_command(req);
	enum route rt = R_OTHER;
	char *text = NULL;
	size_t len = 0;

	if (path == NULL)
		path = "";
	if (strcmp(path, "/v1/score") == 0)
		rt = R_SCORE;
	else if (strcmp(path, "/v1/model") == 0)
		rt = R_MODEL;
	else if (strcmp(path, "/healthz") == 0)
		rt = R_HEALTHZ;
	else if (strcmp(path, "/metrics") == 0)
		rt = R_METRICS;
	/* /healthz says only that the process answers: probes need no token. */
	if (rt == R_HEALTHZ) {
		reply(v, req, rt, 200, "text/plain", "ok\n", 3);
		return;
	}
	if (!fl_httpd_token_ok(v->httpd, evhttp_find_header(evhttp_request_get_input_headers(req),
	                                                    "Authorization"))) {
		const char *why = evhttp_find_header(evhttp_request_get_input_headers(req),
		                                     "Authorization") == NULL
		                          ? "no bearer token"
		                          : "wrong bearer token";

		fl_log(FL_LOG_WARN, "HTTP request from %s refused: %s (token_file)", peer, why);
		fl_audit_event(v->audit, "reject", "{s:s, s:s}", "peer", peer, "reason", why);
		v->auth_failures++;
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		                  "Bearer realm=\"fedlead\"");
		reply(v, req, rt, 401, "text/plain", "bearer token required\n", 22);
		return;
	}
	if (rt == R_SCORE) {
		if (method != EVHTTP_REQ_POST) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
			reply(v, req, rt, 405, "text/plain", "POST leads to /v1/score\n", 24);
			return;
		}
		score(v, req, query);
		return;
	}
	if (rt == R_OTHER) {
		reply(v, req, rt, 404, "text/plain", "not found\n", 10);
		return;
	}
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply(v, req, rt, 405, "text/plain", "GET only\n", 9);
		return;
	}
	if (rt == R_MODEL) {
		if ((text = model_json(v)) == NULL) {
			reply(v, req, rt, 500, "text/plain", "out of memory\n", 14);
			return;
		}
		len = strlen(text);
		reply(v, req, rt, 200, "application/json", text, len);
	} else {
		if (metrics_text(v, &text, &len) != 0) {
			free(text);
			reply(v, req, rt, 500, "text/plain", "out of memory\n", 14);
			return;
		}
		reply(v, req, rt, 200, "text/plain; version=0.0.4", text, len);
	}
	free(text);
}

/* ---- the model ---- */

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Loads the model file again and, when it passes, serves it from the next
 * request on. why names what asked ("SIGHUP", "the file changed"). */
static void reload(struct svc *v, const char *why)
{
	struct fl_serve_model *sm = NULL;
	int r;

	if (stat(v->o->model, &v->seen) != 0)
		memset(&v->seen, 0, sizeof(v->seen));
	r = fl_serve_model_load(v->o, v->o->follow_schema ? NULL : v->expect_fp,
	                        v->cur->generation + 1, &sm);
	if (r != 0) {
		v->reload_failures++;
		fl_log(FL_LOG_ERROR, "model reload (%s) refused; still serving generation %llu: %s",
		       why, (unsigned long long)v->cur->generation, fl_errmsg());
		fl_audit_event(v->audit, "model_reload_refused", "{s:s, s:s}", "path", v->o->model,
		               "reason", fl_errmsg());
		return;
	}
	if (strcmp(sm->sha256, v->cur->sha256) == 0) {
		fl_log(FL_LOG_INFO, "model reload (%s): %s is unchanged (sha256 %.16s)", why,
		       v->o->model, sm->sha256);
		fl_serve_model_free(sm);
		return;
	}
	if (strcmp(sm->fingerprint, v->expect_fp) != 0)
		fl_log(FL_LOG_NOTICE, "following the model's new schema %s (was %s)",
		       sm->fingerprint, v->expect_fp);
	snprintf(v->expect_fp, sizeof(v->expect_fp), "%s", sm->fingerprint);
	fl_serve_model_free(v->cur);
	v->cur = sm;
	v->reloads++;
	fl_log(FL_LOG_NOTICE, "serving model generation %llu (%s): %s, sha256 %s, %s",
	       (unsigned long long)sm->generation, why, v->o->model, sm->sha256,
	       sm->verified ? "signature verified" : "signature not checked");
	fl_audit_event(v->audit, "model_loaded", "{s:s, s:s, s:I}", "path", v->o->model, "sha256",
	               sm->sha256, "generation", (json_int_t)sm->generation);
}

static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc *v = arg;
	struct stat st;

	(void)fd;
	(void)what;
	if (stat(v->o->model, &st) != 0 || same_file(&st, &v->seen))
		return;
	reload(v, "the file changed");
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct svc *v = arg;

	(void)what;
	if (sig == SIGHUP) {
		reload(v, "SIGHUP");
		return;
	}
	fl_log(FL_LOG_NOTICE, "stopping (%s)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopbreak(v->base);
}

/* ---- setup ---- */

static int write_port_file(const char *path, uint16_t port)
{
	char tmp[4096];
	FILE *fp;

	if (path == NULL)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL)
		return fl_fail(FL_ERR_IO, "%s: %s", tmp, strerror(errno));
	fprintf(fp, "http=%u\n", port);
	if (fclose(fp) != 0 || rename(tmp, path) != 0)
		return fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
	return 0;
}

/* Everything that can fail before listening: the model, the token, TLS. */
static int prepare(struct svc *v)
{
	const struct fl_serve_opts *o = v->o;
	int r;

	if (o->schema_fingerprint != NULL)
		snprintf(v->expect_fp, sizeof(v->expect_fp), "%s", o->schema_fingerprint);
	if (stat(o->model, &v->seen) != 0)
		memset(&v->seen, 0, sizeof(v->seen));
	if ((r = fl_serve_model_load(o, o->schema_fingerprint, 1, &v->cur)) != 0)
		return r;
	snprintf(v->expect_fp, sizeof(v->expect_fp), "%s", v->cur->fingerprint);
	if (o->token_file != NULL) {
		if ((r = fl_httpd_read_token("token_file", o->token_file, v->token_hash)) != 0)
			return r;
		v->have_token = 1;
	}
	if (o->tls_cert != NULL || o->tls_key != NULL || o->client_ca != NULL) {
		struct fl_tls_opts t = {o->client_ca, o->tls_cert, o->tls_key, o->crl};

		if (o->tls_cert == NULL || o->tls_key == NULL)
			return fl_fail(FL_ERR_CONFIG,
			               "HTTPS needs tls_cert and tls_key (client_ca alone is not "
			               "enough)");
		if ((r = fl_tls_https_ctx(&t, &v->tls)) != 0)
			return r;
	}
	return 0;
}

int fl_serve_check(const struct fl_serve_opts *o, struct fl_serve_model **out)
{
	struct svc v = {.o = o};
	int r;

	*out = NULL;
	if ((r = prepare(&v)) == 0) {
		*out = v.cur;
		v.cur = NULL;
	}
	fl_serve_model_free(v.cur);
	SSL_CTX_free(v.tls);
	OPENSSL_cleanse(v.token_hash, sizeof(v.token_hash));
	return r;
}

int fl_serve_run(const struct fl_serve_opts *o)
{
	struct svc v = {.o = o};
	struct fl_httpd_conf hc = {0};
	char host[FL_CFG_HOST_MAX];
	uint16_t port;
	int r;

	/* A client that goes away mid-answer must not kill the service. */
	signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
	/* A batch's buffers (the body made contiguous, its records, the
	 * answer) are a few hundred KiB each: glibc would map each afresh and
	 * unmap it after the request, and the page faults of touching them
	 * again were a third of a batch's time (perf, bench/serve.sh). Kept
	 * in the heap, the next request reuses them; what is kept is at most
	 * what the largest request took. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
	if ((r = fl_config_addr_split(o->listen, host, sizeof(host), &port)) != 0 ||
	    (r = prepare(&v)) != 0 || (r = fl_audit_open(o->audit_log, &v.audit)) != 0)
		goto out;
	if ((v.base = event_base_new()) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	hc.listen = o->listen;
	hc.max_connections = o->max_connections;
	hc.timeout = o->header_timeout;
	hc.per_request = 1;
	hc.body_timeout = o->body_timeout;
	hc.max_headers = o->max_headers;
	hc.max_body = o->max_request;
	hc.methods = EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST;
	hc.tls = v.tls;
	hc.token_hash = v.have_token ? v.token_hash : NULL;
	hc.keys = (struct fl_httpd_keys){"max_connections", "header_timeout", "token_file",
	                                 "client_ca", "body_timeout"};
	hc.audit = v.audit;
	hc.cb = request_cb;
	hc.arg = &v;
	if ((r = fl_httpd_start(v.base, &hc, &v.httpd, &v.port)) != 0 ||
	    (r = write_port_file(o->port_file, v.port)) != 0)
		goto out;
	v.sig_term = evsignal_new(v.base, SIGTERM, signal_cb, &v);
	v.sig_int = evsignal_new(v.base, SIGINT, signal_cb, &v);
	v.sig_hup = evsignal_new(v.base, SIGHUP, signal_cb, &v);
	if (v.sig_term == NULL || v.sig_int == NULL || v.sig_hup == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	evsignal_add(v.sig_term, NULL);
	evsignal_add(v.sig_int, NULL);
	evsignal_add(v.sig_hup, NULL);
	if (o->watch_interval > 0) {
		struct timeval tv = {
		        (time_t)o->watch_interval,
		        (suseconds_t)((o->watch_interval - floor(o->watch_interval)) * 1e6)};

		if ((v.watch = event_new(v.base, -1, EV_PERSIST, watch_cb, &v)) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		event_add(v.watch, &tv);
	}
	if (!fl_httpd_is_loopback(host) && !v.have_token && o->client_ca == NULL)
		fl_log(FL_LOG_WARN,
		       "the scoring service on %s has no authentication: anyone who can reach "
		       "it can score leads and read the model's provenance (set token_file or "
		       "client_ca, or listen on 127.0.0.1)",
		       o->listen);
	fl_log(FL_LOG_NOTICE, "serving model generation 1: %s, sha256 %s, %s", o->model,
	       v.cur->sha256,
	       v.cur->verified ? "signature verified" : "signature not checked (allow_unsigned)");
	if (v.cur->ref_leads > 0)
		fl_log(FL_LOG_INFO, "deciles against %llu reference leads of %s",
		       (unsigned long long)v.cur->ref_leads, o->reference);
	fl_log(FL_LOG_NOTICE,
	       "listening on %s%s:%u (POST /v1/score, GET /v1/model, /healthz, /metrics)%s",
	       v.tls ? "https://" : "http://", host, v.port,
	       v.have_token   ? ", bearer token required"
	       : o->client_ca ? ", client certificate required"
	                      : "");
	fl_audit_event(v.audit, "serve_start", "{s:s, s:s, s:i}", "model", o->model, "sha256",
	               v.cur->sha256, "port", (int)v.port);
	if (event_base_dispatch(v.base) != 0)
		r = fl_fail(FL_ERR_IO, "the event loop failed");
	else
		r = 0;
	fl_audit_event(v.audit, "serve_stop", NULL);
out:
	fl_httpd_free(v.httpd);
	if (v.watch)
		event_free(v.watch);
	if (v.sig_term)
		event_free(v.sig_term);
	if (v.sig_int)
		event_free(v.sig_int);
	if (v.sig_hup)
		event_free(v.sig_hup);
	if (v.base)
		event_base_free(v.base);
	SSL_CTX_free(v.tls);
	OPENSSL_cleanse(v.token_hash, sizeof(v.token_hash));
	fl_serve_model_free(v.cur);
	fl_audit_close(v.audit);
	return r;
}
