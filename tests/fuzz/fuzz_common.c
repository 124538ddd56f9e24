/*
 * Fixtures shared by the fuzz targets (see fuzz_common.h).
 */
#define _GNU_SOURCE /* memfd_create */
/* RAND_set_rand_method() is deprecated in OpenSSL 3 but still the one way
 * to replace what RAND_bytes() returns inside the library. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "fuzz_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/model.h"
#include "fedlead/payload.h"
#include "fuzz_creds.h"

const char *const fz_names[FZ_NP] = {"acme", "globex", "initech"};

/* tests/data/encode/leads.schema.json: numeric with and without imputation,
 * categorical with and without "other", an id and an ignored column. */
const char fz_schema_json[] =
        "{\"fedlead_schema\": 1,\n"
        " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},\n"
        " \"id\": \"lead\",\n"
        " \"features\": [\n"
        "  {\"name\": \"age\", \"type\": \"numeric\", \"missing\": \"impute\"},\n"
        "  {\"name\": \"visits\", \"type\": \"numeric\"},\n"
        "  {\"name\": \"region\", \"type\": \"categorical\", \"values\": [\"north\", \"south\"],"
        " \"other\": true},\n"
        "  {\"name\": \"tier\", \"type\": \"categorical\", \"values\": [1, 2, 3]}\n"
        " ],\n"
        " \"ignore\": [\"notes\"]}\n";

void fz_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz target: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* The same bytes for every request, whoever asks and how often. */
static int fixed_bytes(unsigned char *buf, int num)
{
	for (int i = 0; i < num; i++)
		buf[i] = (unsigned char)(0xa5 ^ (i * 151 + 7));
	return 1;
}

static int fixed_status(void)
{
	return 1;
}

void fz_init(void)
{
	static RAND_METHOD fixed = {NULL, fixed_bytes, NULL, NULL, fixed_bytes, fixed_status};
	static int done;

	if (done)
		return;
	/* Above every level: nothing is written. */
	fl_log_init("fuzz", (enum fl_log_level)(FL_LOG_ERROR + 1));
	if (RAND_set_rand_method(&fixed) != 1)
		fz_die("RAND_set_rand_method failed");
	done = 1;
}

const struct fl_schema *fz_schema(void)
{
	static struct fl_schema *s;

	if (s == NULL) {
		if (fl_schema_parse(fz_schema_json, strlen(fz_schema_json), "fuzz.schema.json",
		                    &s) != 0)
			fz_die("fixture schema: %s", fl_errmsg());
		if (s->dim != 10)
			fz_die("fixture schema has dim %zu, expected 10", s->dim);
	}
	return s;
}

/*
 * Raw encoded rows as fl_dataset_load() makes them from the schema above:
 * [1, age (NaN when missing), age missing, visits, north, south, other
 * region, tier 1, tier 2, tier 3].
 */
struct fl_dataset *fz_dataset(int i)
{
	const size_t n = 16, d = 10;
	struct fl_dataset *ds = calloc(1, sizeof(*ds));
	uint32_t x = 2654435761u * (uint32_t)(i + 1);

	if (ds == NULL || (ds->X = calloc(n * d, sizeof(double))) == NULL ||
	    (ds->y = calloc(n, sizeof(double))) == NULL)
		fz_die("out of memory");
	ds->n = n;
	ds->dim = d;
	for (size_t r = 0; r < n; r++) {
		double *row = ds->X + r * d;
		unsigned visits, region, tier;

		x = x * 1103515245u + 12345u;
		visits = (x >> 8) % 10;
		region = (x >> 12) % 3;
		tier = (x >> 16) % 3;
		row[0] = 1;
		if ((x >> 20) % 5 == 0) {
			row[1] = NAN;
			row[2] = 1;
		} else
			row[1] = 20 + (double)((x >> 4) % 50);
		row[3] = visits;
		row[4 + region] = 1;
		row[7 + tier] = 1;
		/* Both classes in every partner's rows, not separable. */
		ds->y[r] = r == 0 ? 1 : r == 1 ? 0 : (visits + tier + (x >> 24) % 4 > 7);
	}
	return ds;
}

/* ---- credentials ------------------------------------------------------- */

static const char *const key_pems[FZ_NP] = {fz_acme_key_pem, fz_globex_key_pem, fz_initech_key_pem};
static const char *const cert_pems[FZ_NP] = {fz_acme_cert_pem, fz_globex_cert_pem,
                                             fz_initech_cert_pem};

const char *fz_ca_pem_text(void)
{
	return fz_ca_pem;
}

const char *fz_key_pem_text(int i)
{
	return key_pems[i];
}

const char *fz_cert_pem_text(int i)
{
	return cert_pems[i];
}

EVP_PKEY *fz_key(int i)
{
	static EVP_PKEY *keys[FZ_NP];

	if (keys[i] == NULL) {
		BIO *b = BIO_new_mem_buf(key_pems[i], -1);

		if (b == NULL || (keys[i] = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL)
			fz_die("cannot load the test key of %s", fz_names[i]);
		BIO_free(b);
	}
	return keys[i];
}

const uint8_t *fz_cert_der(int i, size_t *len)
{
	static uint8_t *der[FZ_NP];
	static size_t der_len[FZ_NP];

	if (der[i] == NULL) {
		BIO *b = BIO_new_mem_buf(cert_pems[i], -1);
		X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		int n = x ? i2d_X509(x, &der[i]) : -1;

		if (n <= 0)
			fz_die("cannot load the test certificate of %s", fz_names[i]);
		der_len[i] = (size_t)n;
		X509_free(x);
		BIO_free(b);
	}
	*len = der_len[i];
	return der[i];
}

X509_STORE *fz_store(void)
{
	static X509_STORE *store;

	if (store == NULL) {
		BIO *b = BIO_new_mem_buf(fz_ca_pem, -1);
		X509 *ca = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

		if (ca == NULL || (store = X509_STORE_new()) == NULL ||
		    X509_STORE_add_cert(store, ca) != 1)
			fz_die("cannot load the test CA");
		X509_free(ca);
		BIO_free(b);
	}
	return store;
}

/* ---- input helpers ----------------------------------------------------- */

const char *fz_memfile(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];

	if (fd < 0) {
		if ((fd = memfd_create("fuzz-input", 0)) < 0)
			fz_die("memfd_create failed");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		fz_die("cannot write the memfd");
	return path;
}

int fz_next_byte(struct fz_reader *r, uint8_t *b)
{
	if (r->n == 0)
		return 0;
	*b = r->p[0];
	r->p++;
	r->n--;
	return 1;
}

int fz_next_frame(struct fz_reader *r, const uint8_t **body, size_t *len)
{
	uint32_t n;

	if (r->n < FL_WIRE_HEADER_LEN ||
	    fl_wire_frame_len(r->p, FL_WIRE_PREAUTH_MAX_FRAME, "fuzz", &n) != 0 ||
	    n > r->n - FL_WIRE_HEADER_LEN) {
		r->n = 0;
		return 0;
	}
	*body = r->p + FL_WIRE_HEADER_LEN;
	*len = n;
	r->p += FL_WIRE_HEADER_LEN + n;
	r->n -= FL_WIRE_HEADER_LEN + n;
	return 1;
}

void fz_buf_add(struct fz_buf *b, const void *data, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = (b->n + n) * 2 + 64;

		if ((b->p = realloc(b->p, cap)) == NULL)
			fz_die("out of memory");
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->n, data, n);
	b->n += n;
}

void fz_buf_byte(struct fz_buf *b, uint8_t v)
{
	fz_buf_add(b, &v, 1);
}

void fz_buf_frame(struct fz_buf *b, const uint8_t *body, size_t len)
{
	uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
	                  (uint8_t)len};

	fz_buf_add(b, hdr, 4);
	fz_buf_add(b, body, len);
}

/* ---- settings ----------------------------------------------------------- */

void fz_settings(struct fl_coord_settings *s, int algo, int late, int secure)
{
	memset(s, 0, sizeof(*s));
	s->federation_id = FZ_FED;
	s->partners = fz_names;
	s->n_partners = FZ_NP;
	s->min_partners = 2;
	s->algorithm = algo == 3 ? FL_FED_NEWTON : (enum fl_fed_algo)algo;
	s->l2 = 1.0;
	s->l2_auto = algo == 3;
	s->class_weight = 0; /* balanced */
	s->validation_split = 0.25;
	s->seed = 7;
	s->max_iterations = 4;
	s->tolerance = 1e-9;
	s->fedavg_rounds = 3;
	s->local_epochs = 1;
	s->local_batch = 4;
	s->local_lr = 0.5;
	s->fedprox_mu = 0.01;
	s->hist_bins = 16;
	s->hist_range = 20;
	s->round_deadline = 60;
	s->late_policy = (enum fl_late_policy)(late % 3);
	s->start_wait = 1;
	s->secure = secure;
	s->threshold = 0;
	/* As the stock coordinator: t = 3 of 3, which the nodes' default policy
	 * (max_colluders = 1) accepts. */
	s->max_colluders = 1;
}

void fz_welcome(Fedlead__Wire__Welcome *w, Fedlead__Wire__Plan *plan, int i, int secure)
{
	fedlead__wire__welcome__init(w);
	fedlead__wire__plan__init(plan);
	plan->algorithm = (char *)"newton";
	plan->validation_split = 0.25;
	plan->seed = 7;
	plan->hist_bins = 16;
	plan->hist_range = 20;
	plan->secure_aggregation = secure;
	plan->threshold = secure ? 3 : 0;
	w->protocol_version = FL_WIRE_PROTOCOL_VERSION;
	w->federation_id = (char *)FZ_FED;
	w->coordinator_version = (char *)"fuzz";
	w->partner_identity = (char *)fz_names[i];
	w->plan = plan;
}

/* ---- a federation in memory ------------------------------------------ */

static int name_index(const char *name)
{
	for (int i = 0; i < FZ_NP; i++)
		if (strcmp(name, fz_names[i]) == 0)
			return i;
	return -1;
}

static void enqueue(struct fz_fed *f, int to_coord, int who, const uint8_t *frame, size_t len)
{
	struct fz_msg *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->frame = malloc(len)) == NULL)
		fz_die("out of memory");
	memcpy(m->frame, frame, len);
	m->len = len;
	m->to_coord = to_coord;
	m->who = who;
	if (f->tail)
		f->tail->next = m;
	else
		f->head = m;
	f->tail = m;
}

static int io_send(void *ctx, const char *partner, const Fedlead__Wire__Envelope *env)
{
	struct fz_fed *f = ctx;
	int i = name_index(partner), r;
	uint8_t *frame;
	size_t len;

	if ((r = fl_wire_encode(env, &frame, &len)) != 0)
		return r;
	if (i >= 0)
		enqueue(f, 0, i, frame, len);
	free(frame);
	return 0;
}

static int io_send_frame(void *ctx, const char *partner, const uint8_t *frame, size_t len,
                         const char *type)
{
	struct fz_fed *f = ctx;
	int i = name_index(partner);

	(void)type;
	if (i >= 0)
		enqueue(f, 0, i, frame, len);
	return 0;
}

static int io_peer_cert(void *ctx, const char *partner, const uint8_t **der, size_t *len)
{
	int i = name_index(partner);

	(void)ctx;
	if (i < 0)
		return fl_fail(FL_ERR_INTERNAL, "no certificate for %s", partner);
	*der = fz_cert_der(i, len);
	return 0;
}

static void io_disconnect(void *ctx, const char *partner)
{
	(void)ctx;
	(void)partner;
}

static void io_arm_timer(void *ctx, double seconds)
{
	((struct fz_fed *)ctx)->timer = seconds;
}

static int io_checkpoint(void *ctx, const uint8_t *state, size_t len)
{
	struct fz_fed *f = ctx;

	free(f->ckpt);
	if ((f->ckpt = malloc(len ? len : 1)) == NULL)
		fz_die("out of memory");
	memcpy(f->ckpt, state, len);
	f->ckpt_len = len;
	if (f->on_checkpoint)
		f->on_checkpoint(f->rctx, state, len);
	return 0;
}

static int io_seal(void *ctx, struct fl_model *m, uint8_t **file, size_t *len)
{
	(void)ctx;
	return fl_model_encode(m, file, len);
}

static void io_finished(void *ctx, int ok, const char *message)
{
	struct fz_fed *f = ctx;

	(void)message;
	f->finished = 1;
	f->ok = ok;
}

void fz_allow_plaintext(struct fl_fednode *n)
{
	struct fl_node_policy p;

	fl_node_policy_default(&p);
	p.allow_plaintext = 1;
	if (fl_fednode_set_policy(n, &p) != 0)
		fz_die("fl_fednode_set_policy: %s", fl_errmsg());
}

int fz_fed_new(struct fz_fed *f, const struct fl_coord_settings *s)
{
	struct fl_fedcoord_io io = {
	        .ctx = f,
	        .send = io_send,
	        .send_frame = io_send_frame,
	        .peer_cert = io_peer_cert,
	        .disconnect = io_disconnect,
	        .arm_timer = io_arm_timer,
	        .checkpoint = io_checkpoint,
	        .seal_model = io_seal,
	        .finished = io_finished,
	};
	int r;

	f->set = *s;
	if ((r = fl_fedcoord_new(s, fz_schema(), &io, &f->c)) != 0)
		return r;
	for (int i = 0; i < FZ_NP; i++) {
		if ((r = fl_fednode_new(fz_schema(), fz_dataset(i), &f->node[i])) != 0)
			fz_die("fl_fednode_new: %s", fl_errmsg());
		fl_fednode_set_credentials(f->node[i], fz_key(i), fz_store());
		if (!s->secure)
			fz_allow_plaintext(f->node[i]);
	}
	return 0;
}

int fz_fed_join(struct fz_fed *f, int i)
{
	Fedlead__Wire__Envelope *env = NULL;
	uint8_t *frame;
	size_t len;
	int r;

	if (f->joined[i])
		return 0;
	if ((r = fl_fednode_hello(f->node[i], FZ_FED, &frame, &len)) != 0)
		fz_die("fl_fednode_hello: %s", fl_errmsg());
	if ((r = fl_wire_decode(frame + 4, len - 4, fz_names[i], &env)) != 0)
		fz_die("a node's hello does not decode: %s", fl_errmsg());
	free(frame);
	f->joined[i] = 1;
	if ((r = fl_fedcoord_join(f->c, fz_names[i], env->hello)) != 0)
		f->joined[i] = 0;
	fl_wire_free(env);
	return r;
}

static void node_gone(struct fz_fed *f, int i)
{
	if (f->joined[i]) {
		f->joined[i] = 0;
		fl_fedcoord_leave(f->c, fz_names[i]);
	}
}

static void deliver(struct fz_fed *f, const struct fz_msg *m)
{
	Fedlead__Wire__Envelope *env = NULL;
	uint8_t *frame = NULL;
	size_t len = 0;
	int i = m->who, r;

	if (fl_wire_decode(m->frame + 4, m->len - 4, m->to_coord ? fz_names[i] : "coordinator",
	                   &env) != 0)
		fz_die("a frame of the federation does not decode: %s", fl_errmsg());
	if (m->to_coord) {
		/* As the coordinator's glue does: close on a refused message. */
		if (f->joined[i] && fl_fedcoord_message(f->c, fz_names[i], env) < 0)
			node_gone(f, i);
		goto out;
	}
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME:
		if (fl_fednode_welcome(f->node[i], env->welcome) != 0)
			node_gone(f, i);
		goto out;
	case FEDLEAD__WIRE__ENVELOPE__BODY_REJECT: node_gone(f, i); goto out;
	default: break;
	}
	r = fl_fednode_handle(f->node[i], env, &frame, &len);
	if (r == FL_FEDNODE_REPLY) {
		enqueue(f, 1, i, frame, len);
	} else if (r == FL_FEDNODE_FINAL) {
		if (fl_fednode_status(f->node[i], env->final_model->ref,
		                      FEDLEAD__WIRE__STATUS_CODE__STATUS_SAVED, "", &frame,
		                      &len) != 0)
			fz_die("fl_fednode_status: %s", fl_errmsg());
		enqueue(f, 1, i, frame, len);
	} else if (r < 0) {
		/* The node reconnects, as nodeclient does after an error. */
		node_gone(f, i);
		fz_fed_join(f, i);
	}
out:
	free(frame);
	fl_wire_free(env);
}

int fz_fed_pump(struct fz_fed *f, int steps)
{
	int k = 0;

	while (k < steps && !f->finished) {
		struct fz_msg *m = f->head;

		if (m == NULL) {
			if (f->timer > 0) {
				f->timer = 0;
				fl_fedcoord_timer(f->c);
				k++;
				continue;
			}
			break;
		}
		f->head = m->next;
		if (f->head == NULL)
			f->tail = NULL;
		if (f->record)
			f->record(f->rctx, m);
		deliver(f, m);
		free(m->frame);
		free(m);
		k++;
	}
	return k;
}

void fz_fed_free(struct fz_fed *f)
{
	while (f->head) {
		struct fz_msg *m = f->head;

		f->head = m->next;
		free(m->frame);
		free(m);
	}
	f->tail = NULL;
	fl_fedcoord_free(f->c);
	for (int i = 0; i < FZ_NP; i++)
		fl_fednode_free(f->node[i]);
	free(f->ckpt);
	memset(f, 0, sizeof(*f));
}
