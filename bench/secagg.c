/*
 * bench_secagg: what secure aggregation costs per round against plain
 * summation, and how fast masks expand.
 *
 *   bench_secagg --pki DIR [--partners 3,10,50] [--dims 100,10000,1000000]
 *                [--budget SECONDS] [--min-time SECONDS] [--max-reps N]
 *                [--mask-mib N] [--mask-reps N] [--no-mask] [--fresh-pages]
 *
 * DIR holds a fedlead-ca PKI: DIR/ca/ca.crt and, for every partner k,
 * DIR/pk.crt and DIR/pk.key (bench/fed.sh makes it with deploy/fedlead-ca).
 *
 * Part 1, mask expansion: fl_sa_mask() over --mask-mib MiB of uint64s,
 * against memcpy of as many bytes and OpenSSL's bare ChaCha20 keystream of
 * as many bytes (the floor of a mask), interleaved, best of --mask-reps.
 *
 * Part 2, one aggregation round of P partners over d values, every party in
 * this one process, messages passed as the frames the programs exchange:
 *
 *   plain    each partner encodes its Update frame (fl_wire_encode); the
 *            coordinator decodes it (fl_wire_frame_len, fl_wire_decode)
 *            and adds it to the sum. This is what a federation with
 *            secure_aggregation = off does with an update.
 *   secure   the whole fl_secagg_* protocol: every partner's start
 *            (fixed-point encoding, fresh keys, signed advertisement),
 *            keys (checks every other advertisement against the CA,
 *            Shamir-shares and seals its secrets), shares (self mask and
 *            P - 1 pairwise masks of d values) and unmask; the
 *            coordinator's bookkeeping, key list, share relay, the sum of
 *            the masked vectors and the unmasking. Every frame either side
 *            receives is decoded by fl_wire_decode on the receiving side's
 *            clock, as the programs do.
 *
 * The task message that starts a round and TLS are the same in both modes
 * and left out. Each party's calls are timed separately with the process
 * CPU clock (the program is single-threaded, so that is the party's CPU
 * time) and the monotonic clock. Per round the program reports the mean
 * node CPU per partner, the coordinator's CPU, and the critical path: the
 * slowest node of each of the four steps plus the coordinator, i.e. the
 * compute latency of the round when every partner runs on its own machine
 * (network round trips excluded; bench/fed.sh measures those on loopback).
 * The secure sum is checked against the plain one every round. Rounds are
 * repeated, plain and secure interleaved, until --min-time seconds (at most
 * --max-reps), and the best of each figure is kept. A combination whose
 * estimated time (from the mask rate of part 1 and the smaller runs)
 * exceeds --budget seconds is skipped and reported as such.
 *
 * Freed memory is kept for reuse (glibc mallopt), so that a round measures
 * computation rather than page faults on fresh 8 MB buffers, which some
 * virtual machines make very slow; --fresh-pages keeps glibc's default.
 * --no-mask skips part 1.
 *
 * Bytes are frame sizes with their 4-byte headers: what a partner sends
 * (plain: Update; secure: KeyAdvert + ShareSet + MaskedUpdate +
 * UnmaskReply) and receives beyond the task (secure: KeyList + ShareSet +
 * UnmaskRequest).
 */
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedlead/error.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/masks.h"
#include "fedlead/partner_sign.h"
#include "fedlead/secagg.h"
#include "fedlead/wire.h"

#define MAX_P 255
#define MAX_LIST 16
#define FED "bench-federation"
#define ROUND 7

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what)
{
	const char *m = fl_errmsg();

	fprintf(stderr, "bench_secagg: %s%s%s\n", what, m && *m ? ": " : "", m ? m : "");
	exit(1);
}

/* A stopwatch for one party: its CPU seconds, accumulated. */
struct watch {
	double cpu, c0;
};

static void start(struct watch *w)
{
	w->c0 = cpu_now();
}

static void stop(struct watch *w)
{
	w->cpu += cpu_now() - w->c0;
}

struct partner {
	char id[16];
	EVP_PKEY *key;
	uint8_t *cert;
	int cert_len;
};

/* What one round cost; the best over repetitions is kept field by field. */
struct cost {
	double node_cpu;    /* mean per partner */
	double step_cpu[4]; /* mean per partner, per secure step */
	double coord_cpu;
	double path_cpu;   /* slowest node per step + coordinator */
	double wall;       /* the whole round in this process (for estimates) */
	double sent, recv; /* bytes per partner (mean) */
	double coord_sent; /* bytes the coordinator sends in all */
	double err;        /* max |secure sum - plain sum| */
};

static void keep_best(struct cost *best, const struct cost *c, int first)
{
	if (first) {
		*best = *c;
		return;
	}
	best->node_cpu = fmin(best->node_cpu, c->node_cpu);
	for (int s = 0; s < 4; s++)
		best->step_cpu[s] = fmin(best->step_cpu[s], c->step_cpu[s]);
	best->coord_cpu = fmin(best->coord_cpu, c->coord_cpu);
	best->path_cpu = fmin(best->path_cpu, c->path_cpu);
	best->wall = fmin(best->wall, c->wall);
	best->err = fmax(best->err, c->err);
}

/* Partner u's update: d values in [-1, 1] from a fixed seed, so every
 * repetition sums the same vectors. (xorshift64*; the values only need to
 * look like a gradient to the encoder.) */
static void fill(double *x, size_t d, unsigned u)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (u + 1) + 12345;

	for (size_t i = 0; i < d; i++) {
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		x[i] = (double)((s * 0x2545f4914f6cdd1dull) >> 11) * 0x1p-52 - 1.0;
	}
}

/* Decodes one frame as the receiving program does: header check, then the
 * strict decoder. */
static Fedlead__Wire__Envelope *decode(const uint8_t *frame, size_t len, const char *peer)
{
	Fedlead__Wire__Envelope *env = NULL;
	uint32_t body;

	if (len < FL_WIRE_HEADER_LEN ||
	    fl_wire_frame_len(frame, FL_WIRE_DEFAULT_MAX_FRAME, peer, &body) != 0 ||
	    body != len - FL_WIRE_HEADER_LEN ||
	    fl_wire_decode(frame + FL_WIRE_HEADER_LEN, body, peer, &env) != 0)
		die("decoding a frame");
	return env;
}

struct setup {
	struct partner *p; /* sorted by identity, as the coordinator keeps them */
	size_t np;
	X509_STORE *store;
	uint8_t fp[FL_WIRE_FINGERPRINT_LEN];
	double *x, *sum, *out;
};

static void round_ref(struct setup *s, Fedlead__Wire__RoundRef *ref)
{
	fedlead__wire__round_ref__init(ref);
	ref->federation_id = FED;
	ref->round = ROUND;
	ref->schema_fingerprint = (ProtobufCBinaryData){sizeof(s->fp), s->fp};
}

/* One plain round: *c gets its cost; s->sum the plain sum (the reference
 * the secure round is checked against). */
static void plain_round(struct setup *s, size_t np, size_t d, struct cost *c)
{
	Fedlead__Wire__RoundRef ref;
	struct watch coord = {0}, node;
	double w0 = now(), path_node = 0;

	memset(c, 0, sizeof(*c));
	round_ref(s, &ref);
	memset(s->sum, 0, d * sizeof(double));
	for (size_t u = 0; u < np; u++) {
		Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT, *in;
		Fedlead__Wire__Update up = FEDLEAD__WIRE__UPDATE__INIT;
		uint8_t *frame = NULL;
		size_t len = 0;

		fill(s->x, d, (unsigned)u);
		memset(&node, 0, sizeof(node));
		start(&node);
		up.ref = &ref;
		up.kind = FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL;
		up.values = s->x;
		up.n_values = d;
		env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE;
		env.update = &up;
		if (fl_wire_encode(&env, &frame, &len) != 0)
			die("encoding an update");
		stop(&node);
		c->node_cpu += node.cpu / (double)np;
		path_node = fmax(path_node, node.cpu);
		c->sent += (double)len / (double)np;

		start(&coord);
		in = decode(frame, len, s->p[u].id);
		for (size_t i = 0; i < d; i++)
			s->sum[i] += in->update->values[i];
		fl_wire_free(in);
		free(frame);
		stop(&coord);
	}
	c->coord_cpu = coord.cpu;
	c->path_cpu = path_node + coord.cpu;
	c->wall = now() - w0;
}

/* One secure round; checks the result against s->sum. */
static void secure_round(struct setup *s, size_t np, size_t d, struct cost *c)
{
	Fedlead__Wire__RoundRef ref;
	Fedlead__Wire__SecAggParams sap = FEDLEAD__WIRE__SEC_AGG_PARAMS__INIT;
	struct fl_secagg_node **nodes = calloc(np, sizeof(*nodes));
	struct fl_secagg_history **hist = calloc(np, sizeof(*hist));
	static const uint8_t task[32] = {0x7a};
	static const struct fl_secagg_policy pol = {
	        .min_partners = 2, .allow_participant_change = 0, .max_colluders = 1};
	struct watch *nw = calloc(np * 4, sizeof(*nw)), coord = {0};
	struct fl_secagg_coord *co = NULL;
	const char *ids[MAX_P];
	uint8_t session[FL_WIRE_SESSION_LEN], *kl = NULL, *rq = NULL;
	size_t kl_len = 0, rq_len = 0;
	/* The coordinator's default threshold (fedcoord.c): more than half. */
	unsigned t = (unsigned)(np / 2 + 1) < 2 ? 2 : (unsigned)(np / 2 + 1);
	double w0 = now();

	if (nodes == NULL || nw == NULL)
		die("out of memory");
	memset(c, 0, sizeof(*c));
	round_ref(s, &ref);
	if (RAND_bytes(session, sizeof(session)) != 1)
		die("RAND_bytes");
	sap.session = (ProtobufCBinaryData){sizeof(session), session};
	sap.frac_bits = FL_SECAGG_FRAC_BITS;
	sap.bound = fl_fixed_bound(FL_SECAGG_FRAC_BITS, np);
	for (size_t u = 0; u < np; u++)
		ids[u] = s->p[u].id;
	sap.participants = (char **)ids;
	sap.n_participants = np;

	start(&coord);
	if (fl_secagg_coord_new(FED, &ref, &sap, t, ids, np,
	                        FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, d, &co) != 0)
		die("fl_secagg_coord_new");
	stop(&coord);

	/* Step 1: advertisements. */
	for (size_t u = 0; u < np; u++) {
		Fedlead__Wire__Envelope *in;
		uint8_t *f = NULL;
		size_t len = 0;

		fill(s->x, d, (unsigned)u);
		start(&nw[u * 4 + 0]);
		if (fl_secagg_history_new(&hist[u]) != 0 ||
		    fl_secagg_node_start(FED, &ref, &sap, t, s->p[u].id, s->p[u].key, task, &pol,
		                         hist[u], FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, s->x, d,
		                         &nodes[u], &f, &len) != 0)
			die("fl_secagg_node_start");
		stop(&nw[u * 4 + 0]);
		c->sent += (double)len;
		start(&coord);
		in = decode(f, len, s->p[u].id);
		if (fl_secagg_coord_advert(co, s->p[u].id, in->key_advert, s->p[u].cert,
		                           (size_t)s->p[u].cert_len) != 0)
			die("fl_secagg_coord_advert");
		fl_wire_free(in);
		free(f);
		stop(&coord);
	}
	start(&coord);
	if (fl_secagg_coord_key_list(co, &kl, &kl_len) != 0)
		die("fl_secagg_coord_key_list");
	stop(&coord);
	c->coord_sent += (double)(kl_len * np);

	/* Step 2: every partner checks the key list and shares its secrets. */
	for (size_t u = 0; u < np; u++) {
		Fedlead__Wire__Envelope *in;
		uint8_t *f = NULL;
		size_t len = 0;

		start(&nw[u * 4 + 1]);
		in = decode(kl, kl_len, "coordinator");
		if (fl_secagg_node_keys(nodes[u], in->key_list, s->store, &f, &len) != 0)
			die("fl_secagg_node_keys");
		fl_wire_free(in);
		stop(&nw[u * 4 + 1]);
		c->recv += (double)kl_len;
		c->sent += (double)len;
		start(&coord);
		in = decode(f, len, s->p[u].id);
		if (fl_secagg_coord_shares(co, s->p[u].id, in->share_set) != 0)
			die("fl_secagg_coord_shares");
		fl_wire_free(in);
		free(f);
		stop(&coord);
	}

	/* Step 3: the shares for each partner; its masked update; the sum. */
	for (size_t u = 0; u < np; u++) {
		Fedlead__Wire__Envelope *in;
		uint8_t *f = NULL, *m = NULL;
		size_t len = 0, mlen = 0;

		start(&coord);
		if (fl_secagg_coord_shares_for(co, s->p[u].id, &f, &len) != 0)
			die("fl_secagg_coord_shares_for");
		stop(&coord);
		c->recv += (double)len;
		c->coord_sent += (double)len;
		start(&nw[u * 4 + 2]);
		in = decode(f, len, "coordinator");
		if (fl_secagg_node_shares(nodes[u], in->share_set, &m, &mlen) != 0)
			die("fl_secagg_node_shares");
		fl_wire_free(in);
		stop(&nw[u * 4 + 2]);
		free(f);
		c->sent += (double)mlen;
		start(&coord);
		in = decode(m, mlen, s->p[u].id);
		if (fl_secagg_coord_masked(co, s->p[u].id, in->masked_update) != 0)
			die("fl_secagg_coord_masked");
		fl_wire_free(in);
		free(m);
		stop(&coord);
	}

	/* Step 4: the survivors sign the survivor set (ConsistencyCheck). */
	start(&coord);
	if (fl_secagg_coord_consistency_check(co, &rq, &rq_len) != 0)
		die("fl_secagg_coord_consistency_check");
	stop(&coord);
	c->coord_sent += (double)(rq_len * np);
	for (size_t u = 0; u < np; u++) {
		Fedlead__Wire__Envelope *in;
		uint8_t *f = NULL;
		size_t len = 0;

		start(&nw[u * 4 + 3]);
		in = decode(rq, rq_len, "coordinator");
		if (fl_secagg_node_consistency(nodes[u], in->consistency_check, &f, &len) != 0)
			die("fl_secagg_node_consistency");
		fl_wire_free(in);
		stop(&nw[u * 4 + 3]);
		c->recv += (double)rq_len;
		c->sent += (double)len;
		start(&coord);
		in = decode(f, len, s->p[u].id);
		if (fl_secagg_coord_signature(co, s->p[u].id, in->consistency_signature) != 0)
			die("fl_secagg_coord_signature");
		fl_wire_free(in);
		free(f);
		stop(&coord);
	}
	free(rq);
	rq = NULL;

	/* Step 5: unmasking. */
	start(&coord);
	if (fl_secagg_coord_unmask_request(co, &rq, &rq_len) != 0)
		die("fl_secagg_coord_unmask_request");
	stop(&coord);
	c->coord_sent += (double)(rq_len * np);
	for (size_t u = 0; u < np; u++) {
		Fedlead__Wire__Envelope *in;
		uint8_t *f = NULL;
		size_t len = 0;

		start(&nw[u * 4 + 3]);
		in = decode(rq, rq_len, "coordinator");
		if (fl_secagg_node_unmask(nodes[u], in->unmask_request, &f, &len) != 0)
			die("fl_secagg_node_unmask");
		fl_wire_free(in);
		fl_secagg_node_free(nodes[u]);
		nodes[u] = NULL;
		fl_secagg_history_free(hist[u]);
		hist[u] = NULL;
		stop(&nw[u * 4 + 3]);
		c->recv += (double)rq_len;
		c->sent += (double)len;
		start(&coord);
		in = decode(f, len, s->p[u].id);
		if (fl_secagg_coord_reveal(co, s->p[u].id, in->unmask_reply) != 0)
			die("fl_secagg_coord_reveal");
		fl_wire_free(in);
		free(f);
		stop(&coord);
	}
	start(&coord);
	if (fl_secagg_coord_finish(co, s->out) != 0)
		die("fl_secagg_coord_finish");
	fl_secagg_coord_free(co);
	stop(&coord);
	c->wall = now() - w0;

	c->coord_cpu = coord.cpu;
	c->path_cpu = coord.cpu;
	for (int st = 0; st < 4; st++) {
		double slowest = 0;

		for (size_t u = 0; u < np; u++) {
			slowest = fmax(slowest, nw[u * 4 + st].cpu);
			c->step_cpu[st] += nw[u * 4 + st].cpu / (double)np;
		}
		c->path_cpu += slowest;
		c->node_cpu += c->step_cpu[st];
	}
	c->sent /= (double)np;
	c->recv /= (double)np;
	for (size_t i = 0; i < d; i++)
		c->err = fmax(c->err, fabs(s->out[i] - s->sum[i]));
	/* Each encoding rounds by at most 2^-33; the sum of np of them. */
	if (!(c->err <= (double)np * 0x1p-32 + 1e-12)) {
		fprintf(stderr, "bench_secagg: the secure sum differs from the plain sum by %g\n",
		        c->err);
		exit(1);
	}
	free(kl);
	free(rq);
	free(nodes);
	free(hist);
	free(nw);
}

/* ---- part 1: mask expansion ---------------------------------------------- */

static double chacha_only(const uint8_t key[32], uint8_t *buf, size_t bytes)
{
	static const uint8_t iv[16];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	const size_t chunk = 64u * 1024;
	double c0 = cpu_now();
	int outl;

	if (ctx == NULL || EVP_EncryptInit_ex(ctx, EVP_chacha20(), NULL, key, iv) != 1)
		die("ChaCha20 setup");
	/* The same 64 KiB pieces fl_sa_mask encrypts, in place. */
	for (size_t off = 0; off < bytes; off += chunk) {
		size_t m = bytes - off < chunk ? bytes - off : chunk;

		if (EVP_EncryptUpdate(ctx, buf + off, &outl, buf + off, (int)m) != 1)
			die("ChaCha20");
	}
	EVP_CIPHER_CTX_free(ctx);
	return cpu_now() - c0;
}

struct best2 {
	double wall, cpu;
};

/* Prints part 1; returns fl_sa_mask's rate in bytes per CPU second. */
static double mask_part(size_t mib, int reps)
{
	size_t bytes = mib << 20, n = bytes / 8;
	uint64_t *v = malloc(bytes), *a = malloc(bytes);
	uint8_t seed[32] = {1, 2, 3}, key[32] = {4, 5, 6};
	struct best2 bm = {1e30, 1e30}, bk = {1e30, 1e30}, bc = {1e30, 1e30};
	double gb = (double)bytes / 1e9;

	if (v == NULL || a == NULL)
		die("out of memory for the mask buffers");
	memset(v, 1, bytes); /* fault the pages in */
	memset(a, 2, bytes);
	for (int r = 0; r < reps; r++) {
		double w, c;

		w = now();
		c = cpu_now();
		memcpy(a, v, bytes);
		bc.cpu = fmin(bc.cpu, cpu_now() - c);
		bc.wall = fmin(bc.wall, now() - w);

		w = now();
		c = chacha_only(key, (uint8_t *)a, bytes);
		bk.cpu = fmin(bk.cpu, c);
		bk.wall = fmin(bk.wall, now() - w);

		w = now();
		c = cpu_now();
		if (fl_sa_mask(seed, r % 2 ? -1 : 1, v, n) != 0)
			die("fl_sa_mask");
		bm.cpu = fmin(bm.cpu, cpu_now() - c);
		bm.wall = fmin(bm.wall, now() - w);
	}
	printf("1. Mask expansion over %zu MiB (%zu uint64s), best of %d, one core\n", mib, n,
	       reps);
	printf("                                                 wall    GB/s  ratio        CPU    "
	       "GB/s  ratio\n");
#define ROW(name, b)                                                                               \
	printf("   %-40s %7.1f ms %6.2f %6.2f  %7.1f ms %6.2f %6.2f\n", name, 1e3 * (b).wall,      \
	       gb / (b).wall, (b).wall / bc.wall, 1e3 * (b).cpu, gb / (b).cpu, (b).cpu / bc.cpu)
	ROW("memcpy (reference)", bc);
	ROW("ChaCha20 keystream alone (OpenSSL EVP)", bk);
	ROW("fl_sa_mask (keystream + add)", bm);
#undef ROW
	printf("   fl_sa_mask: %.2f GB/s of mask per CPU second, %.2f per wall-clock second "
	       "(target "
	       ">= 1 GB/s per core: %s by CPU time, %s by wall clock)\n",
	       gb / bm.cpu, gb / bm.wall, gb / bm.cpu >= 1.0 ? "MET" : "MISSED",
	       gb / bm.wall >= 1.0 ? "MET" : "MISSED");
	free(v);
	free(a);
	return (double)bytes / bm.cpu;
}

/* ---- setup ---------------------------------------------------------------- */

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct partner *)a)->id, ((const struct partner *)b)->id);
}

static void load_pki(const char *dir, size_t np, struct setup *s)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/ca/ca.crt", dir);
	if (fl_sa_store_load(path, NULL, &s->store) != 0)
		die("loading the CA");
	if ((s->p = calloc(np, sizeof(*s->p))) == NULL)
		die("out of memory");
	for (size_t k = 0; k < np; k++) {
		struct partner *p = &s->p[k];
		uint8_t *der = NULL;
		X509 *x;
		FILE *f;

		snprintf(p->id, sizeof(p->id), "p%zu", k + 1);
		snprintf(path, sizeof(path), "%s/%s.key", dir, p->id);
		if ((f = fopen(path, "r")) == NULL ||
		    (p->key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
			fprintf(stderr, "bench_secagg: cannot read %s\n", path);
			exit(1);
		}
		fclose(f);
		snprintf(path, sizeof(path), "%s/%s.crt", dir, p->id);
		if ((f = fopen(path, "r")) == NULL ||
		    (x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
			fprintf(stderr, "bench_secagg: cannot read %s\n", path);
			exit(1);
		}
		fclose(f);
		if ((p->cert_len = i2d_X509(x, &der)) <= 0)
			die("encoding a certificate");
		p->cert = der;
		X509_free(x);
	}
	s->np = np;
	memset(s->fp, 0xab, sizeof(s->fp));
}

/* Partners p1..pnp sorted by identity, as the coordinator orders them. */
static void pick(const struct setup *all, size_t np, struct setup *s)
{
	*s = *all;
	if ((s->p = malloc(np * sizeof(*s->p))) == NULL)
		die("out of memory");
	memcpy(s->p, all->p, np * sizeof(*s->p));
	qsort(s->p, np, sizeof(*s->p), by_id);
	s->np = np;
}

static size_t parse_list(const char *arg, size_t *v, const char *what)
{
	size_t n = 0;
	char *copy = strdup(arg), *tok, *save = NULL, *end;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long long x = strtoull(tok, &end, 10);

		if (*end != '\0' || x == 0 || n == MAX_LIST) {
			fprintf(stderr, "bench_secagg: bad %s list \"%s\"\n", what, arg);
			exit(2);
		}
		v[n++] = (size_t)x;
	}
	free(copy);
	return n;
}

static const char *fmt_bytes(double b, char *buf, size_t n)
{
	if (b >= 10e6)
		snprintf(buf, n, "%.1f MB", b / 1e6);
	else if (b >= 10e3)
		snprintf(buf, n, "%.1f kB", b / 1e3);
	else
		snprintf(buf, n, "%.0f B", b);
	return buf;
}

static const char *fmt_ms(double s, char *buf, size_t n)
{
	const char *sign = s < 0 ? "-" : "";

	s = fabs(s);
	if (s >= 10)
		snprintf(buf, n, "%s%.1f s", sign, s);
	else if (s >= 0.1)
		snprintf(buf, n, "%s%.0f ms", sign, 1e3 * s);
	else if (s >= 0.001)
		snprintf(buf, n, "%s%.2f ms", sign, 1e3 * s);
	else
		snprintf(buf, n, "%s%.0f us", sign, 1e6 * s);
	return buf;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"pki", required_argument, NULL, 'k'},
	        {"partners", required_argument, NULL, 'p'},
	        {"dims", required_argument, NULL, 'd'},
	        {"budget", required_argument, NULL, 'b'},
	        {"min-time", required_argument, NULL, 't'},
	        {"max-reps", required_argument, NULL, 'r'},
	        {"mask-mib", required_argument, NULL, 'm'},
	        {"mask-reps", required_argument, NULL, 'R'},
	        {"fresh-pages", no_argument, NULL, 'f'},
	        {"no-mask", no_argument, NULL, 'n'},
	        {NULL, 0, NULL, 0},
	};
	size_t ps[MAX_LIST] = {3, 10, 50}, ds[MAX_LIST] = {100, 10000, 1000000}, nps = 3, nds = 3;
	size_t maxp = 0, maxd = 0, mask_mib = 128;
	double budget = 60, min_time = 1.0, mask_rate;
	int max_reps = 9, mask_reps = 5, fresh = 0, no_mask = 0, c;
	const char *pki = NULL;
	struct setup all;
	struct {
		size_t p, d;
		int reps, skipped;
		double est;
		struct cost plain, secure;
	} res[MAX_LIST * MAX_LIST];
	size_t nres = 0;
	char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32], b7[32];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': pki = optarg; break;
		case 'p': nps = parse_list(optarg, ps, "partners"); break;
		case 'd': nds = parse_list(optarg, ds, "dims"); break;
		case 'b': budget = atof(optarg); break;
		case 't': min_time = atof(optarg); break;
		case 'r': max_reps = atoi(optarg); break;
		case 'm': mask_mib = (size_t)atoll(optarg); break;
		case 'R': mask_reps = atoi(optarg); break;
		case 'f': fresh = 1; break;
		case 'n': no_mask = 1; break;
		default: return 2;
		}
	}
	if (pki == NULL || max_reps < 1 || mask_reps < 1 || mask_mib < 1) {
		fprintf(stderr, "usage: bench_secagg --pki DIR [--partners 3,10,50] "
		                "[--dims 100,10000,1000000] [--budget S] [--min-time S] "
		                "[--max-reps N] [--mask-mib N] [--mask-reps N] [--no-mask] "
		                "[--fresh-pages]\n");
		return 2;
	}
	for (size_t i = 0; i < nps; i++) {
		if (ps[i] < 2 || ps[i] > MAX_P) {
			fprintf(stderr, "bench_secagg: partners must be 2 to %d\n", MAX_P);
			return 2;
		}
		maxp = ps[i] > maxp ? ps[i] : maxp;
	}
	for (size_t i = 0; i < nds; i++) {
		if (ds[i] > FL_WIRE_MAX_VECTOR) {
			fprintf(stderr, "bench_secagg: d must be at most %u\n", FL_WIRE_MAX_VECTOR);
			return 2;
		}
		maxd = ds[i] > maxd ? ds[i] : maxd;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
#ifdef __GLIBC__
	/* Frames and vectors of up to 8 MB are allocated and freed every
	 * round. By default glibc maps each one afresh, and the page faults
	 * (very slow in some virtual machines) then outweigh the computation
	 * and depend on the order of allocations more than on the work. Keep
	 * freed memory for reuse, so a round measures the computation;
	 * --fresh-pages measures with the default allocator instead. */
	if (!fresh) {
		mallopt(M_MMAP_THRESHOLD, 32 << 20);
		mallopt(M_TRIM_THRESHOLD, 1 << 30);
	}
#else
	(void)fresh;
#endif
	/* Without part 1, a rate typical of a current x86 core, for the
	 * estimates only. */
	mask_rate = no_mask ? 2e9 : mask_part(mask_mib, mask_reps);

	load_pki(pki, maxp, &all);
	if ((all.x = malloc(maxd * sizeof(double))) == NULL ||
	    (all.sum = malloc(maxd * sizeof(double))) == NULL ||
	    (all.out = malloc(maxd * sizeof(double))) == NULL)
		die("out of memory");

	for (size_t i = 0; i < nps; i++) {
		double fixed = -1; /* secure round at the smallest d of this P */
		size_t d_fixed = 0;
		struct setup s;

		pick(&all, ps[i], &s);
		for (size_t j = 0; j < nds; j++) {
			size_t np = ps[i], d = ds[j];
			double est, t0 = now();
			int reps = 0;

			res[nres].p = np;
			res[nres].d = d;
			res[nres].skipped = 0;
			/* Keystream: every partner expands a self mask and np - 1
			 * pairwise masks, the coordinator np self masks; plus the
			 * per-partner fixed costs measured at the smallest d. */
			est = (double)((np + 1) * np) * (double)d * 8.0 / mask_rate;
			if (fixed >= 0)
				est += fixed -
				       (double)((np + 1) * np) * (double)d_fixed * 8.0 / mask_rate;
			res[nres].est = est;
			if (est > budget) {
				res[nres].skipped = 1;
				res[nres].reps = 0;
				fprintf(stderr,
				        "bench_secagg: P = %zu, d = %zu skipped: estimated %.0f s "
				        "per secure round > budget %.0f s\n",
				        np, d, est, budget);
				nres++;
				continue;
			}
			fprintf(stderr,
			        "bench_secagg: P = %zu, d = %zu (estimated %.2f s per secure "
			        "round) ...\n",
			        np, d, est);
			do {
				struct cost pc, sc;

				plain_round(&s, np, d, &pc);
				secure_round(&s, np, d, &sc);
				keep_best(&res[nres].plain, &pc, reps == 0);
				keep_best(&res[nres].secure, &sc, reps == 0);
				reps++;
				if (fixed < 0 || d == d_fixed) {
					fixed = fixed < 0 ? sc.wall : fmin(fixed, sc.wall);
					d_fixed = d;
				}
				/* Only as many repetitions as fit in the budget. */
				if ((now() - t0) / reps * (reps + 1) > budget)
					break;
			} while (reps < max_reps && (now() - t0 < min_time || reps < 3));
			res[nres].reps = reps;
			nres++;
		}
		free(s.p);
	}

	printf("\n2. One aggregation round, every party in this process: plain summation vs "
	       "secure aggregation (fl_secagg_*)%s\n",
	       fresh ? ", glibc's default allocator (fresh pages for large buffers)" : "");
	printf("   CPU per round, best of the repetitions; node = mean per partner; path = "
	       "critical "
	       "path with each\n   partner on its own machine (slowest node of each of the 4 steps "
	       "+ "
	       "coordinator), network excluded\n");
	printf("   partners         d reps | node CPU: plain  secure   ratio | coordinator CPU: "
	       "plain  secure   ratio | path: plain  secure   added\n");
	for (size_t k = 0; k < nres; k++) {
		const struct cost *pc = &res[k].plain, *sc = &res[k].secure;

		if (res[k].skipped) {
			printf("   %8zu %9zu    - | skipped: one secure round estimated at %.0f s, "
			       "over "
			       "the %.0f s budget\n",
			       res[k].p, res[k].d, res[k].est, budget);
			continue;
		}
		printf("   %8zu %9zu %4d | %15s %7s %7.1f | %22s %7s %7.1f | %11s %7s %7s\n",
		       res[k].p, res[k].d, res[k].reps, fmt_ms(pc->node_cpu, b1, sizeof(b1)),
		       fmt_ms(sc->node_cpu, b2, sizeof(b2)), sc->node_cpu / pc->node_cpu,
		       fmt_ms(pc->coord_cpu, b3, sizeof(b3)), fmt_ms(sc->coord_cpu, b4, sizeof(b4)),
		       sc->coord_cpu / pc->coord_cpu, fmt_ms(pc->path_cpu, b5, sizeof(b5)),
		       fmt_ms(sc->path_cpu, b6, sizeof(b6)),
		       fmt_ms(sc->path_cpu - pc->path_cpu, b7, sizeof(b7)));
	}

	printf("\n   secure node CPU per partner by step (mean): start = encode, fresh keys, sign; "
	       "keys = verify the\n   other advertisements, Shamir, seal; masks = self mask + "
	       "pairwise masks; unmask = reveal shares\n");
	printf("   partners         d |    start     keys    masks   unmask\n");
	for (size_t k = 0; k < nres; k++) {
		const struct cost *sc = &res[k].secure;

		if (res[k].skipped)
			continue;
		printf("   %8zu %9zu | %8s %8s %8s %8s\n", res[k].p, res[k].d,
		       fmt_ms(sc->step_cpu[0], b1, sizeof(b1)),
		       fmt_ms(sc->step_cpu[1], b2, sizeof(b2)),
		       fmt_ms(sc->step_cpu[2], b3, sizeof(b3)),
		       fmt_ms(sc->step_cpu[3], b4, sizeof(b4)));
	}

	printf("\n   bytes per partner per round (frames with headers; the task message is the "
	       "same "
	       "in both modes and not counted)\n");
	printf("   partners         d | sent: plain     secure  ratio | received (secure): key "
	       "list + shares + unmask request | coordinator sends (secure)\n");
	for (size_t k = 0; k < nres; k++) {
		if (res[k].skipped)
			continue;
		printf("   %8zu %9zu | %11s %10s %6.3f | %51s | %s\n", res[k].p, res[k].d,
		       fmt_bytes(res[k].plain.sent, b1, sizeof(b1)),
		       fmt_bytes(res[k].secure.sent, b2, sizeof(b2)),
		       res[k].secure.sent / res[k].plain.sent,
		       fmt_bytes(res[k].secure.recv, b3, sizeof(b3)),
		       fmt_bytes(res[k].secure.coord_sent, b4, sizeof(b4)));
	}

	/* The target: secure adds under 50 ms for d <= 10,000, P <= 10. */
	{
		int met = 1, any = 0;
		double worst = 0;

		for (size_t k = 0; k < nres; k++) {
			double added;

			if (res[k].skipped || res[k].d > 10000 || res[k].p > 10)
				continue;
			added = res[k].secure.path_cpu - res[k].plain.path_cpu;
			worst = fmax(worst, added);
			met &= added < 0.050;
			any = 1;
		}
		if (any)
			printf("\n   d <= 10,000 and <= 10 partners: secure adds at most %s of "
			       "compute "
			       "per round over plain (target < 50 ms: %s)\n",
			       fmt_ms(worst, b1, sizeof(b1)), met ? "MET" : "MISSED");
	}
	printf("   every secure sum equalled the plain sum to within partners x 2^-32 (checked "
	       "every round)\n");
	for (size_t k = 0; k < all.np; k++) {
		EVP_PKEY_free(all.p[k].key);
		OPENSSL_free(all.p[k].cert);
	}
	free(all.p);
	X509_STORE_free(all.store);
	free(all.x);
	free(all.sum);
	free(all.out);
	return 0;
}
