/*
 * Shared fixtures of the fuzz targets, their replay driver and the seed
 * generator: a tiny schema and partner rows built in memory, the test
 * credentials of fuzz_creds.h, a memfd standing in for a file, frame
 * iteration over a fuzz input, and a whole federation (coordinator and
 * three nodes) pumped in memory.
 *
 * Everything is deterministic (see fz_init()), so an input replays the same
 * way every time.
 */
#ifndef FEDLEAD_FUZZ_COMMON_H
#define FEDLEAD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fedlead/coord.h"
#include "fedlead/encode.h"
#include "fedlead/node.h"
#include "fedlead/schema.h"
#include "fedlead/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message: a fuzz target found something that must not be. */
void fz_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Call first (idempotent). Silences fl_log (the fuzzer runs millions of
 * inputs) and makes OpenSSL's randomness a constant: every RAND_bytes()
 * request gets the same bytes, whoever asks and in whichever order. Then the
 * keys, sessions and nonces of secure aggregation are the same in a recorded
 * run and in its replay, so the seeds carry valid signatures, commitments and
 * sealed shares and the fuzzer gets past the cryptographic checks to the
 * code behind them. (Secure aggregation still works with every party
 * holding the same keys; nothing here tests its secrecy.)
 */
void fz_init(void);

#define FZ_NP 3
#define FZ_FED "fz-fed"
/* Partner names, sorted as the coordinator sorts them. */
extern const char *const fz_names[FZ_NP];

/* The schema of tests/data/encode/leads.schema.json (dim 10), parsed once. */
const struct fl_schema *fz_schema(void);
extern const char fz_schema_json[];

/* A fresh copy of partner i's raw rows (deterministic, both classes). */
struct fl_dataset *fz_dataset(int i);

/* Test credentials (fuzz_creds.h), loaded once: partner i's key and DER
 * certificate, and a store trusting the test CA. */
EVP_PKEY *fz_key(int i);
const uint8_t *fz_cert_der(int i, size_t *len);
X509_STORE *fz_store(void);
/* The PEM texts, for the generator (which signs files by path). */
const char *fz_ca_pem_text(void);
const char *fz_key_pem_text(int i);
const char *fz_cert_pem_text(int i);

/*
 * A memfd holding data, reachable by the returned path ("/proc/self/fd/N"),
 * so that a decoder that wants a file name reads the fuzz input without the
 * disk. One per process, rewritten on every call.
 */
const char *fz_memfile(const uint8_t *data, size_t size);

/*
 * Frames in a fuzz input: a 4-byte big-endian length checked with
 * fl_wire_frame_len() against FL_WIRE_PREAUTH_MAX_FRAME, then the body.
 * Returns 1 with the next body, 0 when the input ends or the length is
 * refused (the rest of the input is then dropped, as a connection would be).
 */
struct fz_reader {
	const uint8_t *p;
	size_t n;
};
int fz_next_byte(struct fz_reader *r, uint8_t *b);
int fz_next_frame(struct fz_reader *r, const uint8_t **body, size_t *len);

/* Appends a frame header and body to a growing buffer (for the generator). */
struct fz_buf {
	uint8_t *p;
	size_t n, cap;
};
void fz_buf_add(struct fz_buf *b, const void *data, size_t n);
void fz_buf_byte(struct fz_buf *b, uint8_t v);
void fz_buf_frame(struct fz_buf *b, const uint8_t *body, size_t len);

/* Coordinator settings: algorithm (enum fl_fed_algo; 3 = newton with l2 =
 * auto), late policy, secure aggregation on or off. Strings are static. */
void fz_settings(struct fl_coord_settings *s, int algo, int late, int secure);

/* The Welcome a coordinator with those settings sends partner i. */
void fz_welcome(Fedlead__Wire__Welcome *w, Fedlead__Wire__Plan *plan, int i, int secure);

/* The node policy of a plaintext fixture: plaintext updates allowed. */
void fz_allow_plaintext(struct fl_fednode *n);

/* ---- a federation in memory ------------------------------------------ */

struct fz_msg {
	int to_coord; /* 1: from node `who` to the coordinator; 0: to node `who` */
	int who;
	uint8_t *frame; /* header and body */
	size_t len;
	struct fz_msg *next;
};

struct fz_fed {
	struct fl_coord_settings set;
	struct fl_fedcoord *c;
	struct fl_fednode *node[FZ_NP];
	int joined[FZ_NP];
	struct fz_msg *head, *tail;
	double timer;
	int finished, ok;
	uint8_t *ckpt; /* the last checkpoint written, or NULL */
	size_t ckpt_len;
	/* Called for every message delivered (the generator records them). */
	void (*record)(void *ctx, const struct fz_msg *m);
	void *rctx;
	/* Called for every checkpoint written. */
	void (*on_checkpoint)(void *ctx, const uint8_t *state, size_t len);
};

/* A coordinator with these settings and three fresh nodes; 0 or FL_ERR_*. */
int fz_fed_new(struct fz_fed *f, const struct fl_coord_settings *s);
/* Node i says hello (its Welcome is queued). */
int fz_fed_join(struct fz_fed *f, int i);
/* Delivers queued messages (firing the timer when idle) for at most steps
 * deliveries; returns the steps taken. */
int fz_fed_pump(struct fz_fed *f, int steps);
void fz_fed_free(struct fz_fed *f);

#endif
