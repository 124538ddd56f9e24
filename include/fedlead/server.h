/*
 * fedlead-coordinator's server: libevent with TLS 1.3 bufferevents for the
 * partners, an evhttp endpoint for operators, checkpoints in a locked state
 * directory. The federation logic itself is in fedcoord.
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
	double hello_timeout;    /* seconds from accept to Hello */
	size_t max_connections;
	struct fl_tls_opts tls;
	const char *state_dir;
	const char *model_out; /* the coordinator's copy of the final model */
	const char *audit_log;
	const char *dump_dir; /* audit aid: every payload received, as received */
};

/* Runs the federation to its end: 0 when every participant saved the
 * model, an error otherwise (fl_errmsg() says why). */
int fl_coordinator_run(const struct fl_coord_opts *o);

#endif
