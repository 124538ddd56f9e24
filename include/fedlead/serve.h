/*
 * fedlead-score serve: a small HTTP/1.1 scoring service for one partner's
 * sales systems (src/net/serve.c, serve_model.c). One process, one libevent
 * loop: a request is scored whole by the model loaded when it arrived, so a
 * reload (SIGHUP, or the model file replaced) never fails or mixes a
 * request.
 *
 * The model file holds no score distribution (a federated model's would
 * have to be summed under secure aggregation), so the decile of a lead is
 * taken against a reference lead file the partner names (its own training
 * leads, say): scored with each model as it is loaded, its 9 cut scores
 * give the decile a reference lead with that score would have had in
 * fedlead-score's ranking of the reference file (rank 1 + the number of
 * reference leads scored strictly higher; ties take the best decile of
 * their group).
 */
#ifndef FEDLEAD_SERVE_H
#define FEDLEAD_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/model.h"
#include "fedlead/score.h"

struct fl_serve_opts {
	/* The model and the rules for loading it. */
	const char *model;
	const char *verify_ca, *crl;
	int allow_unsigned;             /* serve a model whose signature is not checked */
	const char *schema_fingerprint; /* hex; NULL: the first model's */
	int follow_schema;              /* accept a new model's schema on reload */
	const char *reference;          /* lead CSV for the deciles; NULL: no deciles */
	double watch_interval; /* seconds between looks at the model file; 0: SIGHUP only */
	/* Scoring. */
	int n_reasons;               /* default reason codes per lead and direction */
	enum fl_reasons_dir reasons; /* default direction */
	uint64_t max_batch;          /* leads in one request */
	/* Network. */
	const char *listen;
	const char *port_file; /* "http=PORT\n" once bound */
	size_t max_connections;
	double header_timeout; /* seconds for a request's headers, from the
	                        * connection or the previous answer */
	double body_timeout;   /* seconds for its body, from its headers' end */
	size_t max_request;    /* bytes of a request body */
	size_t max_headers;    /* bytes of a request's headers */
	const char *token_file;
	const char *tls_cert, *tls_key; /* HTTPS */
	const char *client_ca;          /* with HTTPS: client certificates from this CA */
	const char *audit_log;
};

/* ---- a loaded model (serve_model.c) ---- */

struct fl_serve_model {
	struct fl_model *m;
	char fingerprint[65];              /* the schema's, hex */
	char sha256[65];                   /* of the model file's bytes, hex */
	char signer[256];                  /* "" when the signature was not checked */
	int verified;                      /* the signature was checked against verify_ca */
	uint64_t generation;               /* 1 for the first model loaded, then +1 per load */
	char loaded[32];                   /* RFC 3339, UTC */
	uint64_t ref_leads;                /* leads of the reference file; 0: no deciles */
	double cuts[FL_DECILES - 1];       /* logit of the reference lead at each decile's end */
	uint64_t cut_rank[FL_DECILES - 1]; /* its rank */
};

/*
 * Loads o->model under o's rules: its signature verified against
 * o->verify_ca (unless o->allow_unsigned and no CA), its schema fingerprint
 * equal to expect_fp (hex, NULL: any), then the reference scored for the
 * deciles. Errors name the file: "model.fdl: model signature does not
 * verify ...", "model.fdl: schema fingerprint 12ab... is not the one
 * served (34cd...; set follow_schema to accept a new schema)". *out is for
 * fl_serve_model_free().
 */
int fl_serve_model_load(const struct fl_serve_opts *o, const char *expect_fp, uint64_t generation,
                        struct fl_serve_model **out);
void fl_serve_model_free(struct fl_serve_model *sm);

/* Decile (1 = best tenth) of a logit against the reference; 0 without one. */
int fl_serve_decile(const struct fl_serve_model *sm, double z);

/* ---- scoring a request body (serve_score.c, no network I/O) ---- */

/* What went wrong with a request, for the answer and /metrics. */
enum fl_serve_error {
	FL_SERVE_OK = 0,
	FL_SERVE_BAD_JSON,   /* not JSON */
	FL_SERVE_BAD_LEAD,   /* JSON, but not a lead or a batch of them */
	FL_SERVE_BAD_VALUE,  /* a value the schema refuses (as fedlead-score would) */
	FL_SERVE_BAD_CSV,    /* a CSV body the reader refuses */
	FL_SERVE_BAD_OPTION, /* a query parameter */
	FL_SERVE_TOO_MANY,   /* more leads than max_batch */
	FL_SERVE_MEDIA_TYPE, /* neither JSON nor CSV */
	FL_SERVE_INTERNAL,   /* memory, a temporary file */
	FL_SERVE_N_ERRORS
};

/* "bad_json", "bad_lead", ... for /metrics and the answer's "kind". */
const char *fl_serve_error_name(enum fl_serve_error e);

struct fl_serve_request {
	const char *content_type; /* the header, NULL when absent */
	const char *body;
	size_t len;
	const char *query; /* after '?', NULL when none: reasons=N, direction=up|down|both */
	int n_reasons;     /* the defaults */
	enum fl_reasons_dir reasons;
	uint64_t max_batch;
};

struct fl_serve_answer {
	int code;         /* HTTP status */
	const char *type; /* Content-Type */
	char *body;       /* malloc'ed JSON */
	size_t len;
	enum fl_serve_error error;
	uint64_t leads; /* scored (0 unless code is 200) */
};

/*
 * Scores a request: one lead (a JSON object keyed by the schema's column
 * names) or a batch (an array of them), or text/csv with a header. Every
 * lead is read by the same reader and encoder as fedlead-score's, so its
 * score, logit and reason codes are the CLI's to the last bit. A bad lead
 * fails the whole request (400, nothing scored): the error names the JSON
 * path ("$[3].revenue") and gives fedlead-score's reason ("column
 * \"revenue\": \"12,5k\" is not a number"). Returns 0 with *ans filled (a
 * 4xx answer too), or FL_ERR_NOMEM. ans->body is for free().
 */
int fl_serve_score(const struct fl_serve_model *sm, const struct fl_serve_request *req,
                   struct fl_serve_answer *ans);

/* ---- the service (serve.c) ---- */

/* Runs until SIGTERM or SIGINT: 0 on a clean stop, else an error. */
int fl_serve_run(const struct fl_serve_opts *o);

/* Checks o as fl_serve_run() would, without listening: the model loads
 * under its rules, the token file reads, the TLS files load. */
int fl_serve_check(const struct fl_serve_opts *o, struct fl_serve_model **out);

#endif
