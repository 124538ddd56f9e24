/*
 * An evhttp server kept within its limits (httpd.c), shared by the
 * coordinator's operator endpoint (http.c) and the scoring service
 * (serve.c): at most max_connections connections, a deadline per
 * connection (its whole life, or each request's), a bearer token compared
 * in constant time, optionally HTTPS (TLS 1.3, with or without client
 * certificates). What a request gets is the owner's callback's business.
 *
 * libevent 2.1's evhttp has no connection limit and no hook when a
 * connection is accepted, only one that makes its bufferevent (bevcb). So a
 * connection is counted when its bufferevent is made, and tied to its
 * evhttp_connection on the next turn of the loop (from the bufferevent's
 * callback argument, which evhttp sets to the connection); from then on the
 * connection's close callback uncounts it.
 *
 * Nor has it a hook when a request's headers are complete (2.2's
 * evhttp_set_newreqcb() would give one). For separate header and body
 * deadlines, a callback on the bufferevent's input buffer follows the
 * request's framing as the bytes arrive, before evhttp parses them: the
 * header lines up to the empty one, then Content-Length bytes of body (a
 * chunked body lasts until its answer).
 */
#ifndef FL_NET_HTTPD_INT_H
#define FL_NET_HTTPD_INT_H

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "fedlead/log.h"

struct fl_httpd;

/* The names of the settings, for the log lines that say which limit
 * acted ("no request within 10 s (http_timeout)"). */
struct fl_httpd_keys {
	const char *max_connections, *timeout, *token_file, *client_ca;
	const char *body_timeout; /* with per_request and body_timeout > 0 */
};

struct fl_httpd_conf {
	const char *listen; /* HOST:PORT, port 0 = ephemeral */
	size_t max_connections;
	/* Seconds. per_request 0: the connection's whole life, from the
	 * accept (the coordinator's endpoint: short GETs); 1: from the accept,
	 * and again from each answer, the next request must have arrived whole
	 * (a keep-alive client may send many; a trickling one is cut). */
	double timeout;
	int per_request;
	/* Seconds, with per_request (0: none, timeout covers the body too):
	 * timeout is then for the request's headers only, and the body has
	 * body_timeout from the end of its headers. An idle keep-alive
	 * connection and a slowloris client trickling headers are cut at
	 * timeout; a client that stalls in its body at body_timeout. */
	double body_timeout;
	size_t max_headers, max_body; /* bytes; larger requests get 413 or 400 from evhttp */
	int methods;                  /* EVHTTP_REQ_* allowed */
	SSL_CTX *tls;                 /* borrowed, may be NULL (plain HTTP) */
	const uint8_t *token_hash;    /* SHA-256 of the bearer token, or NULL */
	struct fl_httpd_keys keys;
	struct fl_audit *audit; /* may be NULL */
	/* Called for every request; peer is "HOST:PORT". */
	void (*cb)(struct evhttp_request *req, const char *peer, void *arg);
	void *arg;
};

/*
 * Binds conf->listen on base and starts serving. *port gets the bound
 * port. conf is copied (its strings and tls must outlive the server).
 * Returns 0, or FL_ERR_IO "cannot listen for HTTP on ADDR: REASON",
 * FL_ERR_CONFIG for a bad address, FL_ERR_NOMEM. *out is for
 * fl_httpd_free() (set even on failure once allocated).
 */
int fl_httpd_start(struct event_base *base, const struct fl_httpd_conf *conf, struct fl_httpd **out,
                   uint16_t *port);

/* Whether the Authorization header value carries the configured bearer
 * token (1), or not (0). The presented token is hashed, so the comparison
 * takes the same time whatever its length and wherever it differs. */
int fl_httpd_token_ok(const struct fl_httpd *h, const char *authorization);

/* Connections open now. */
size_t fl_httpd_connections(const struct fl_httpd *h);

/* Sends a reply with Content-Type type and Cache-Control: no-store. */
void fl_httpd_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
                    const char *body, size_t len);

/* Stops serving and frees everything; accepts NULL. */
void fl_httpd_free(struct fl_httpd *h);

#define FL_HTTPD_TOKEN_MAX 4096

/*
 * Reads a bearer-token file: one line of 16 to FL_HTTPD_TOKEN_MAX
 * characters without blanks (a trailing line end is allowed); its SHA-256
 * goes to hash. key names the setting in errors: FL_ERR_CONFIG "KEY PATH:
 * the token must be at least 16 characters", "...: longer than 4096
 * bytes", "...: the token must be one line without blanks", "KEY PATH:
 * REASON" when it cannot be read. The text is wiped.
 */
int fl_httpd_read_token(const char *key, const char *path, uint8_t hash[SHA256_DIGEST_LENGTH]);

/* This process's resident memory in bytes, for /metrics (0 when
 * /proc/self/statm cannot be read). */
long fl_httpd_rss_bytes(void);

/* Whether host is a loopback address or "localhost". */
int fl_httpd_is_loopback(const char *host);

#endif
