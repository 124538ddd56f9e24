/*
 * fedlead-coordinator's server: libevent with TLS 1.3 bufferevents for the
 * partners, an evhttp endpoint for operators, checkpoints in a locked state
 * directory. The federation logic itself is in fedcoord.
 *
 * Memory under attack is bounded by the limits below (see README.md,
 * "Network limits"): a connection that has not said Hello holds at most
 * one pre-Hello frame (FL_WIRE_PREAUTH_MAX_FRAME) and its TLS state; a
 * partner's at most one max_frame; an HTTP connection its 8 KiB of headers
 * and one answer.
 */
#ifndef FEDLEAD_SERVER_H
#define FEDLEAD_SERVER_H

#include <stddef.h>

#include "fedlead/coord.h"
#include "fedlead/tls.h"

struct fl_coord_opts {
	struct fl_coord_settings set;
	const char *schema_path;
	const char *listen;      /* HOST:PORT for partners (port 0 = ephemeral) */
	const char *http_listen; /* HOST:PORT for /healthz, /status, /metrics; NULL = off */
	const char *port_file;   /* written after binding: "listen=PORT\nhttp=PORT\n" */
	size_t max_frame;        /* after the Hello; before it FL_WIRE_PREAUTH_MAX_FRAME */
	double hello_timeout;    /* seconds from accept to Hello, TLS handshake included */
	size_t max_connections;  /* partner connections open at once */
	size_t max_preauth;      /* of those, not yet past the Hello (oldest pushed out) */
	size_t max_per_address;  /* of those, from one address (oldest pushed out) */
	double frame_timeout;    /* seconds from a frame's first bytes to its last */
	size_t http_max_connections;
	double http_timeout;         /* seconds an HTTP connection may stay open */
	const char *http_token_file; /* bearer token required (except /healthz); NULL = none */
	const char *http_client_ca;  /* HTTPS, client certificate from this CA; NULL = HTTP */
	struct fl_tls_opts tls;
	const char *state_dir;
	const char *model_out; /* the coordinator's copy of the final model */
	const char *audit_log;
	const char *dump_dir; /* audit aid: every payload received, as received */
};

/* Runs the federation to its end: 0 when every participant saved the
 * model, an error otherwise (fl_errmsg() says why). */
int fl_coordinator_run(const struct fl_coord_opts *o);

/* Reads and checks an HTTP bearer-token file as fl_coordinator_run()
 * would (for --check): FL_ERR_CONFIG naming the file and the problem. */
int fl_http_check_token_file(const char *path);

#endif
