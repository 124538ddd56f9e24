/*
 * What the coordinator's server (server.c) and its HTTP endpoint (http.c)
 * share, and the seams tests/test_server.c drives without a real network:
 * a server on a caller's event_base, accepting descriptors it is handed.
 */
#ifndef FL_NET_SERVER_INT_H
#define FL_NET_SERVER_INT_H

#include <event2/event.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fedlead/coord.h"
#include "fedlead/log.h"
#include "fedlead/server.h"

struct conn;
struct fl_http;

struct server {
	const struct fl_coord_opts *o;
	struct event_base *base;
	SSL_CTX *ctx;
	struct evconnlistener *listener;
	struct fl_http *http;
	struct event *round_timer, *sig_term, *sig_int, *sig_hup;
	struct fl_schema *schema;
	struct fl_fedcoord *fc;
	struct fl_audit *audit;
	struct conn *conns, *conns_tail; /* oldest first */
	size_t nconns;
	int result, finished;
	char result_msg[512];
	uint64_t bytes_in, bytes_out, frames_in, frames_out, rejected, dumped;
	uint16_t port, http_port;
};

/* The server's side of an accepted partner connection on fd (owned from
 * here on), from the peer address sa: the connection limits, then a TLS
 * bufferevent on s->base. */
void fl_server_accept(struct server *s, evutil_socket_t fd, const struct sockaddr *sa,
                      socklen_t slen);

/* Connections open now, and of those the ones that have not said Hello
 * (neither counts connections already being closed). */
void fl_server_counts(const struct server *s, size_t *open, size_t *preauth);

/* Makes s->fc, the federation's state machine, talking to the partners
 * through s (s->o, s->base, s->schema and s->audit set). Returns 0 or
 * FL_ERR_*. */
int fl_server_fedcoord(struct server *s);

/* Frees every connection (at shutdown, or at the end of a test). */
void fl_server_close_all(struct server *s);

/* ---- the HTTP endpoint (http.c) ---- */

/* One answer of the endpoint: status code, reason phrase, Content-Type,
 * extra header (NULL or "Name: value") and body (malloc'ed, caller frees). */
struct fl_http_reply {
	int code;
	const char *reason, *type, *header;
	char *body;
	size_t len;
};

/*
 * Answers one request without any I/O: method is EVHTTP_REQ_*, uri the
 * request target, authorization the Authorization header or NULL, peer the
 * client's address for the log. With a bearer token configured, a request
 * for anything but /healthz without the right token is 401 with
 * "WWW-Authenticate: Bearer realm=\"fedlead\"", logged and audited.
 * (With http_client_ca, a client without a good certificate never gets
 * this far: its TLS handshake fails.) Returns 0, or FL_ERR_NOMEM.
 */
int fl_http_route(struct server *s, int method, const char *uri, const char *authorization,
                  const char *peer, struct fl_http_reply *out);

/* Starts the endpoint on s->o->http_listen (nothing when NULL): reads the
 * token file, binds, and sets s->http_port. Returns 0 or FL_ERR_*. */
int fl_http_start(struct server *s);

/* HTTP connections open now. */
size_t fl_http_connections(const struct server *s);

/* Stops it and frees everything; accepts s->http == NULL. */
void fl_http_stop(struct server *s);

#endif
