/*
 * deviant_coord: a coordinator that deviates from the protocol, for
 * tests/e2e/deviant.sh. It is built from fedlead's own libraries (the wire
 * codec, the TLS contexts, the coordinator's secure-aggregation engine), not
 * from a patched copy of fedlead-coordinator, so what it sends is the real
 * protocol, and it plays one scripted attack per run (--attack NAME) against
 * stock fedlead-node processes:
 *
 *   downgrade       a Welcome whose plan says secure_aggregation = false
 *   plaintext-task  a secure plan, then a statistics task without secure
 *                   aggregation (a plain Update would reach the coordinator)
 *   bound           a statistics task with a fixed-point bound of the
 *                   coordinator's choosing (1000.5), not any federation's
 *   bound-change    an honest statistics round, then one with the bound of
 *                   a two-partner federation (printed as "bounds: OLD then NEW")
 *   rounds          a task for round 10001
 *   epochs          local training with a million epochs
 *   sub2            a statistics task naming two participants, sent to them
 *   keylist2        a task naming everyone, then a key list of two entries
 *   weights         one evaluation task with other weights for one partner
 *   survivors       (4 partners, t = 3) different survivor sets shown to
 *                   different partners: p3 is told p4 dropped, the others
 *                   that everyone survived; then unmask requests that mix them
 *   replay-round    an honest round 1, then round 2 answered with round 1's
 *                   key list
 *   replay-attempt  round 1 up to the survivors' signatures (attempt A), the
 *                   same round again with a fresh session (attempt B), then
 *                   attempt A's signed unmask request in attempt B
 *   differencing    (4 partners, t = 3) an honest round over all four, then
 *                   the same task again, with p4's masked input ignored: a
 *                   sum over the three survivors, whose difference with the
 *                   first is p4's update
 *   sub-n-1         (4 partners, t = 3) an honest round over all four, then
 *                   a task naming only p1, p2, p3
 *   frame           (4 partners) an honest round over all four, then a task
 *                   naming only p1, p2, p3 that carries "evidence" that p4
 *                   revealed a bad share: p4's real signed unmask reply of
 *                   round 1 and p1's real signed commitment for p4 (whose
 *                   share p4 revealed as it was dealt)
 *   frame-forged    the same, with the commitment of p1's share in p4's
 *                   signed reply changed to differ from p1's
 *   honest          one honest statistics round over everyone (t = n): in
 *                   itself no attack, but run once with four partners and
 *                   again, after the nodes restart, with three, it is the
 *                   sub-federation of n - 1 across runs
 *   honest-newton   the stock coordinator's first two rounds over everyone
 *                   (t = n), no deviation: the statistics, the
 *                   standardisation computed from them as the stock
 *                   coordinator does (class_weight = 1), and one Newton
 *                   evaluation with the Hessian at w = 0. With --record,
 *                   what it legitimately learns is what
 *                   tests/tools/hessian_attack.py works from
 *                   (tests/e2e/dp_attack.sh)
 *
 * It listens on 127.0.0.1 (ephemeral port unless --port), TLS 1.3 with
 * mutual certificates, prints "listening on 127.0.0.1:PORT" on stdout once
 * it accepts connections, waits for --partners partners, plays the attack
 * (printing "round R: sum[0] = X" for each sum it unmasks: what it learned),
 * prints "attack NAME: played" and then sends every partner still connected,
 * and every partner that reconnects (after its Hello), a permanent Reject
 * "deviant coordinator: the attack is over", until it is stopped.
 *
 * Every payload it receives is written to --dump-dir as the stock
 * coordinator's --dump-dir does: NNNNNN-PARTNER.bin, the Envelope without
 * its 4-byte length, numbered in the order received. Progress goes to
 * stderr. Exit status: 2 for bad usage, 1 when it cannot start.
 *
 * --record FILE receives, as one JSON object a line, every unmasked sum
 * (exactly what a coordinator obtains from a secure round) and every
 * standardisation it sends:
 *   {"round": R, "kind": "stats" | "eval", "d": D, "layout": {NAME: [OFFSET,
 *    LENGTH], ...}, "values": [...]}     (the layout of src/fed/payload.c)
 *   {"round": R, "kind": "standardize", "d": D, "center": [...], "scale":
 *    [...], "impute": [...], "pos_weight": W}
 * Numbers are written with %.17g, so they read back exactly.
 * --privacy-releases N puts N in the Welcome's plan (Plan.privacy_releases,
 * what a coordinator with privacy = on announces): a node with
 * privacy_epsilon refuses a plan without it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/masks.h"
#include "fedlead/node.h"
#include "fedlead/payload.h"
#include "fedlead/schema.h"
#include "fedlead/secagg.h"
#include "fedlead/tls.h"
#include "fedlead/wire.h"

#define MAXP 8
#define IO_TIMEOUT 60    /* s: a partner that says nothing for this long is gone */
#define DRAIN_TIMEOUT 10 /* s: after the deviation */
#define BINS 10

struct peer {
	char id[FL_TLS_MAX_IDENTITY + 1];
	int fd;
	SSL *ssl;
	uint8_t *cert; /* DER, as presented in the handshake */
	size_t cert_len;
	Fedlead__Wire__Envelope *advert; /* its key advertisement of the round */
	uint8_t *csig;                   /* its signature of a survivor set */
	size_t csig_len;
};

/* One aggregation: its round, session and the engine of secagg.c. */
struct round {
	uint64_t round;
	uint8_t session[FL_WIRE_SESSION_LEN];
	Fedlead__Wire__SecAggParams sap;
	Fedlead__Wire__RoundRef ref;
	char *parts[MAXP];
	struct fl_secagg_coord *sa;
	int eval;                   /* an evaluation (with the Hessian), or the statistics */
	size_t nv;                  /* values in the vector */
	uint8_t *key_list, *unmask; /* frames sent, kept for replays */
	size_t key_list_len, unmask_len;
	double *sum; /* unmasked, nv values; NULL until then */
};

static struct {
	SSL_CTX *ctx;
	int lfd;
	const char *dump;
	unsigned long dumped;
	struct fl_schema *schema;
	const char *fed;
	FILE *record;          /* --record, or NULL */
	uint64_t privacy_plan; /* --privacy-releases */
	struct peer p[MAXP];
	size_t np;
} G = {.lfd = -1, .fed = "test-federation"};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("deviant_coord: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void dump(const char *who, const uint8_t *body, size_t len)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%06lu-%s.bin", G.dump, ++G.dumped, who);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(body, 1, len, fp) != len) {
		say("%s: %s", path, strerror(errno));
		exit(1); /* a dump with a hole in it would prove nothing */
	}
	fclose(fp);
}

static int read_cb(void *ctx, void *buf, size_t n)
{
	SSL *ssl = ctx;
	int r = SSL_read(ssl, buf, (int)n);

	if (r > 0)
		return r;
	if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN)
		return 0;
	return fl_fail(FL_ERR_IO, "connection lost");
}

static int write_cb(void *ctx, const void *buf, size_t n)
{
	SSL *ssl = ctx;
	int r = SSL_write(ssl, buf, (int)n);

	return r > 0 ? r : fl_fail(FL_ERR_IO, "write failed");
}

static void drop_conn(struct peer *p)
{
	if (p->ssl != NULL) {
		SSL_shutdown(p->ssl);
		SSL_free(p->ssl);
	}
	if (p->fd >= 0)
		close(p->fd);
	p->ssl = NULL;
	p->fd = -1;
}

/* Reads one message from p (dumped as received); NULL once p is gone. */
static Fedlead__Wire__Envelope *recv_env(struct peer *p)
{
	Fedlead__Wire__Envelope *env = NULL;
	uint8_t *body = NULL;
	size_t len;

	if (p->ssl == NULL)
		return NULL;
	if (fl_wire_read_frame(read_cb, p->ssl, FL_WIRE_DEFAULT_MAX_FRAME, p->id, &body, &len) !=
	    0) {
		say("%s: %s: closed", p->id, fl_errmsg());
		drop_conn(p);
		return NULL;
	}
	dump(p->id, body, len);
	if (fl_wire_decode(body, len, p->id, &env) != 0) {
		say("%s", fl_errmsg());
		drop_conn(p);
	}
	free(body);
	return env;
}

/* Reads one message of the given type from p; NULL (p dropped) otherwise. */
static Fedlead__Wire__Envelope *expect(struct peer *p, Fedlead__Wire__Envelope__BodyCase want)
{
	Fedlead__Wire__Envelope *env = recv_env(p);

	if (env != NULL && env->body_case != want) {
		say("%s: unexpected %s%s%s", p->id, fl_wire_type_name(env),
		    env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_STATUS ? ": " : "",
		    env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_STATUS ? env->status->detail
		                                                           : "");
		fl_wire_free(env);
		drop_conn(p);
		return NULL;
	}
	return env;
}

static void send_frame(struct peer *p, const uint8_t *frame, size_t len, const char *what)
{
	if (p->ssl == NULL)
		return;
	say("%s -> %s", what, p->id);
	if (fl_wire_write_all(write_cb, p->ssl, frame, len) != 0) {
		say("%s: %s", p->id, fl_errmsg());
		drop_conn(p);
	}
}

static void send_env(struct peer *p, const Fedlead__Wire__Envelope *env)
{
	uint8_t *frame;
	size_t len;

	if (fl_wire_encode(env, &frame, &len) != 0) {
		say("%s", fl_errmsg());
		exit(1);
	}
	send_frame(p, frame, len, fl_wire_type_name(env));
	free(frame);
}

static void reject(struct peer *p)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Reject rj = FEDLEAD__WIRE__REJECT__INIT;

	rj.reason = "deviant coordinator: the attack is over";
	rj.permanent = 1;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_REJECT;
	env.reject = &rj;
	send_env(p, &env);
	drop_conn(p);
}

/* Accepts one TLS connection and reads its Hello; 0 and p filled, or -1. */
static int accept_one(struct peer *p)
{
	struct timeval tv = {IO_TIMEOUT, 0};
	Fedlead__Wire__Envelope *env;
	X509 *x;
	uint8_t *der = NULL;
	int fd, n;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if ((fd = accept(G.lfd, NULL, NULL)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	p->fd = fd;
	if ((p->ssl = SSL_new(G.ctx)) == NULL || SSL_set_fd(p->ssl, fd) != 1 ||
	    SSL_accept(p->ssl) != 1 || fl_tls_peer_identity(p->ssl, p->id, sizeof(p->id)) != 0 ||
	    (x = SSL_get1_peer_certificate(p->ssl)) == NULL) {
		say("a connection failed its handshake");
		drop_conn(p);
		return -1;
	}
	n = i2d_X509(x, &der);
	X509_free(x);
	if (n <= 0) {
		drop_conn(p);
		return -1;
	}
	p->cert = der;
	p->cert_len = (size_t)n;
	if ((env = expect(p, FEDLEAD__WIRE__ENVELOPE__BODY_HELLO)) == NULL)
		return -1;
	fl_wire_free(env);
	say("%s connected", p->id);
	return 0;
}

static int cmp_peer(const void *a, const void *b)
{
	return strcmp(((const struct peer *)a)->id, ((const struct peer *)b)->id);
}

static void welcome(struct peer *p, int secure, unsigned t)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Welcome w = FEDLEAD__WIRE__WELCOME__INIT;
	Fedlead__Wire__Plan plan = FEDLEAD__WIRE__PLAN__INIT;

	plan.algorithm = "newton";
	plan.validation_split = 0;
	plan.seed = 1;
	plan.hist_bins = BINS;
	plan.hist_range = 20;
	plan.secure_aggregation = secure;
	plan.threshold = secure ? t : 0;
	plan.privacy_releases = G.privacy_plan;
	/* The plan a stock coordinator speaks when it has one: the deviations
	 * are elsewhere. */
	plan.privacy_plan = G.privacy_plan ? FL_DP_PLAN : "";
	w.protocol_version = FL_WIRE_PROTOCOL_VERSION;
	w.federation_id = (char *)G.fed;
	w.coordinator_version = "deviant";
	w.partner_identity = p->id;
	w.plan = &plan;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME;
	env.welcome = &w;
	send_env(p, &env);
}

static void welcome_all(int secure, unsigned t)
{
	for (size_t i = 0; i < G.np; i++)
		welcome(&G.p[i], secure, t);
}

static void fill_ref(uint64_t round, Fedlead__Wire__RoundRef *ref)
{
	fedlead__wire__round_ref__init(ref);
	ref->federation_id = (char *)G.fed;
	ref->round = round;
	ref->schema_fingerprint = (ProtobufCBinaryData){FL_FINGERPRINT_LEN, G.schema->fingerprint};
}

/* Bit i of a mask: partner G.p[i]. */
#define ALL ((1u << G.np) - 1)
#define HAS(m, i) (((m) >> (i)) & 1u)

/*
 * A secure aggregation of the statistics (eval = 0) or of an evaluation
 * over the partners of mask parts, threshold t, with a fresh session.
 */
static void round_new(struct round *R, uint64_t round, int eval, unsigned parts, unsigned t)
{
	size_t k = 0, d = G.schema->dim;

	memset(R, 0, sizeof(*R));
	R->round = round;
	R->eval = eval;
	R->nv = eval ? fl_payload_eval_len(d, 1, 0, BINS) : fl_payload_stats_len(d);
	if (RAND_bytes(R->session, sizeof(R->session)) != 1)
		exit(1);
	for (size_t i = 0; i < G.np; i++)
		if (HAS(parts, i))
			R->parts[k++] = G.p[i].id;
	fedlead__wire__sec_agg_params__init(&R->sap);
	R->sap.session = (ProtobufCBinaryData){sizeof(R->session), R->session};
	R->sap.frac_bits = eval ? FL_SECAGG_FRAC_BITS : FL_SECAGG_STATS_FRAC_BITS;
	/* The stock coordinator's bound, for the federation's size (a node
	 * pins the first one it accepts). */
	R->sap.bound = fl_fixed_bound(R->sap.frac_bits, G.np);
	R->sap.threshold = t;
	R->sap.participants = R->parts;
	R->sap.n_participants = k;
	fill_ref(round, &R->ref);
	if (fl_secagg_coord_new(G.fed, &R->ref, &R->sap, t, (const char *const *)R->parts, k,
	                        eval ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL
	                             : FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS,
	                        R->nv, &R->sa) != 0) {
		say("%s", fl_errmsg());
		exit(1);
	}
}

static void round_free(struct round *R)
{
	fl_secagg_coord_free(R->sa);
	free(R->key_list);
	free(R->unmask);
	free(R->sum);
	for (size_t i = 0; i < G.np; i++) {
		fl_wire_free(G.p[i].advert);
		G.p[i].advert = NULL;
	}
	memset(R, 0, sizeof(*R));
}

static void send_stats(struct round *R, unsigned to, int secure)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__StatsTask st = FEDLEAD__WIRE__STATS_TASK__INIT;

	st.ref = &R->ref;
	st.secagg = secure ? &R->sap : NULL;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK;
	env.stats_task = &st;
	for (size_t i = 0; i < G.np; i++)
		if (HAS(to, i))
			send_env(&G.p[i], &env);
}

/* The key advertisements of the partners in *who (those that do not send
 * one leave *who). */
static void adverts(struct round *R, unsigned *who)
{
	for (size_t i = 0; i < G.np; i++) {
		struct peer *p = &G.p[i];

		if (!HAS(*who, i))
			continue;
		if ((p->advert = expect(p, FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT)) == NULL ||
		    fl_secagg_coord_advert(R->sa, p->id, p->advert->key_advert, p->cert,
		                           p->cert_len) != 0) {
			if (p->advert != NULL)
				say("%s", fl_errmsg());
			*who &= ~(1u << i);
		}
	}
}

/* The engine's key list (everyone who advertised) to the partners in who. */
static void key_list(struct round *R, unsigned who)
{
	if (fl_secagg_coord_key_list(R->sa, &R->key_list, &R->key_list_len) != 0) {
		say("%s", fl_errmsg());
		return;
	}
	for (size_t i = 0; i < G.np; i++)
		if (HAS(who, i))
			send_frame(&G.p[i], R->key_list, R->key_list_len, "key_list");
}

/* Shares in from *who, each partner's shares out to it. */
static void shares(struct round *R, unsigned *who)
{
	for (size_t i = 0; i < G.np; i++) {
		Fedlead__Wire__Envelope *e;

		if (!HAS(*who, i))
			continue;
		if ((e = expect(&G.p[i], FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET)) == NULL ||
		    fl_secagg_coord_shares(R->sa, G.p[i].id, e->share_set) != 0) {
			if (e != NULL)
				say("%s", fl_errmsg());
			*who &= ~(1u << i);
		}
		fl_wire_free(e);
	}
	for (size_t i = 0; i < G.np; i++) {
		uint8_t *f;
		size_t len;

		if (!HAS(*who, i))
			continue;
		if (fl_secagg_coord_shares_for(R->sa, G.p[i].id, &f, &len) != 0) {
			say("%s", fl_errmsg());
			continue;
		}
		send_frame(&G.p[i], f, len, "share_set");
		free(f);
	}
}

/* Masked inputs from *who; those in ignore are read but not given to the
 * engine (as if they had never arrived). */
static void masked(struct round *R, unsigned *who, unsigned ignore)
{
	for (size_t i = 0; i < G.np; i++) {
		Fedlead__Wire__Envelope *e;

		if (!HAS(*who, i))
			continue;
		if ((e = expect(&G.p[i], FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE)) == NULL ||
		    (!HAS(ignore, i) &&
		     fl_secagg_coord_masked(R->sa, G.p[i].id, e->masked_update) != 0)) {
			if (e != NULL)
				say("%s", fl_errmsg());
			*who &= ~(1u << i);
		}
		fl_wire_free(e);
	}
}

/* The survivors' signatures of a survivor set, from *who (kept in
 * p->csig, and given to the engine unless raw). */
static void signatures(struct round *R, unsigned *who, int raw)
{
	for (size_t i = 0; i < G.np; i++) {
		struct peer *p = &G.p[i];
		Fedlead__Wire__Envelope *e;

		if (!HAS(*who, i))
			continue;
		if ((e = expect(p, FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE)) == NULL ||
		    (!raw &&
		     fl_secagg_coord_signature(R->sa, p->id, e->consistency_signature) != 0)) {
			if (e != NULL)
				say("%s", fl_errmsg());
			*who &= ~(1u << i);
			fl_wire_free(e);
			continue;
		}
		free(p->csig);
		p->csig_len = e->consistency_signature->signature.len;
		if ((p->csig = malloc(p->csig_len)) == NULL)
			exit(1);
		memcpy(p->csig, e->consistency_signature->signature.data, p->csig_len);
		fl_wire_free(e);
	}
}

/* The engine's survivor set to who, and their signatures back. */
static void consistency(struct round *R, unsigned *who)
{
	uint8_t *f;
	size_t len;

	if (fl_secagg_coord_consistency_check(R->sa, &f, &len) != 0) {
		say("%s", fl_errmsg());
		*who = 0;
		return;
	}
	for (size_t i = 0; i < G.np; i++)
		if (HAS(*who, i))
			send_frame(&G.p[i], f, len, "consistency_check");
	free(f);
	signatures(R, who, 0);
}

/* Writes n values as a JSON array, exactly (%.17g). */
static void record_array(const double *v, size_t n)
{
	fputc('[', G.record);
	for (size_t j = 0; j < n; j++)
		fprintf(G.record, "%s%.17g", j ? ", " : "", v[j]);
	fputc(']', G.record);
}

static void record_end(void)
{
	fputs("}\n", G.record);
	if (fflush(G.record) != 0 || ferror(G.record)) {
		say("--record: %s", strerror(errno));
		exit(1); /* a record with a hole in it would prove nothing */
	}
}

/* An unmasked sum into --record, with the layout of its vector. */
static void record_sum(const struct round *R, const double *sum)
{
	size_t d = G.schema->dim;

	if (G.record == NULL)
		return;
	fprintf(G.record, "{\"round\": %llu, \"kind\": \"%s\", \"d\": %zu, \"layout\": ",
	        (unsigned long long)R->round, R->eval ? "eval" : "stats", d);
	if (R->eval)
		fprintf(G.record,
		        "{\"loss\": [0, 1], \"grad\": [1, %zu], \"hess_upper\": [%zu, %zu]}", d,
		        1 + d, d * (d + 1) / 2);
	else
		fprintf(G.record,
		        "{\"rows\": [0, 1], \"positives\": [1, 1], \"count\": [2, %zu], "
		        "\"sum\": [%zu, %zu], \"sumsq\": [%zu, %zu]}",
		        d, 2 + d, d, 2 + 2 * d, d);
	fputs(", \"values\": ", G.record);
	record_array(sum, R->nv);
	record_end();
}

/* The engine's unmask request to who, their replies, and the sum (kept
 * in R->sum; NULL when there is none). */
static void unmask(struct round *R, unsigned *who)
{
	double *sum;

	if (fl_secagg_coord_unmask_request(R->sa, &R->unmask, &R->unmask_len) != 0) {
		say("%s", fl_errmsg());
		*who = 0;
		return;
	}
	for (size_t i = 0; i < G.np; i++)
		if (HAS(*who, i))
			send_frame(&G.p[i], R->unmask, R->unmask_len, "unmask_request");
	for (size_t i = 0; i < G.np; i++) {
		Fedlead__Wire__Envelope *e;

		if (!HAS(*who, i))
			continue;
		if ((e = expect(&G.p[i], FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY)) == NULL ||
		    fl_secagg_coord_reveal(R->sa, G.p[i].id, e->unmask_reply) != 0) {
			if (e != NULL)
				say("%s", fl_errmsg());
			*who &= ~(1u << i);
		}
		fl_wire_free(e);
	}
	if ((sum = malloc(R->nv * sizeof(double))) == NULL)
		exit(1);
	if (fl_secagg_coord_finish(R->sa, sum) == 0) {
		/* For the test: what the coordinator learned (of a statistics
		 * round, the number of rows in the sum). */
		printf("round %llu: sum[0] = %.17g\n", (unsigned long long)R->round, sum[0]);
		fflush(stdout);
		record_sum(R, sum);
		R->sum = sum;
		return;
	}
	say("round %llu: %s", (unsigned long long)R->round, fl_errmsg());
	free(sum);
}

/* A whole honest statistics round over the partners of mask parts, t = n. */
static void honest_stats(struct round *R, uint64_t round, unsigned parts)
{
	unsigned who = parts;

	round_new(R, round, 0, parts, (unsigned)__builtin_popcount(parts));
	send_stats(R, who, 1);
	adverts(R, &who);
	key_list(R, who);
	shares(R, &who);
	masked(R, &who, 0);
	consistency(R, &who);
	unmask(R, &who);
}

/* A survivor set of our own making, to one partner. */
static void send_cc(const struct round *R, struct peer *p, char **surv, size_t ns, char **drop,
                    size_t nd)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__ConsistencyCheck cc = FEDLEAD__WIRE__CONSISTENCY_CHECK__INIT;

	cc.ref = (Fedlead__Wire__RoundRef *)&R->ref;
	cc.survivors = surv;
	cc.n_survivors = ns;
	cc.dropped = drop;
	cc.n_dropped = nd;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK;
	env.consistency_check = &cc;
	send_env(p, &env);
}

/* An unmask request of our own making, with the signatures of the
 * partners in signers (whatever set each signed), to one partner. */
static void send_unmask(const struct round *R, struct peer *p, char **surv, size_t ns, char **drop,
                        size_t nd, unsigned signers)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__UnmaskRequest rq = FEDLEAD__WIRE__UNMASK_REQUEST__INIT;
	Fedlead__Wire__SurvivorSignature g[MAXP], *gp[MAXP];

	for (size_t i = 0; i < G.np; i++) {
		if (!HAS(signers, i) || G.p[i].csig == NULL)
			continue;
		fedlead__wire__survivor_signature__init(&g[rq.n_signatures]);
		g[rq.n_signatures].identity = G.p[i].id;
		g[rq.n_signatures].signature = (ProtobufCBinaryData){G.p[i].csig_len, G.p[i].csig};
		gp[rq.n_signatures] = &g[rq.n_signatures];
		rq.n_signatures++;
	}
	rq.ref = (Fedlead__Wire__RoundRef *)&R->ref;
	rq.survivors = surv;
	rq.n_survivors = ns;
	rq.dropped = drop;
	rq.n_dropped = nd;
	rq.signatures = gp;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST;
	env.unmask_request = &rq;
	send_env(p, &env);
}

/* Reads whatever each partner in who sends next (it refuses: nothing, and
 * the connection closes; anything it does send is in the dump). */
static void drain(unsigned who)
{
	for (size_t i = 0; i < G.np; i++) {
		struct timeval tv = {DRAIN_TIMEOUT, 0};
		Fedlead__Wire__Envelope *e;

		if (!HAS(who, i) || G.p[i].ssl == NULL)
			continue;
		/* A node that answers instead of refusing would then wait for
		 * the next step: do not wait as long for it. */
		setsockopt(G.p[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while ((e = recv_env(&G.p[i])) != NULL) {
			say("%s sent %s", G.p[i].id, fl_wire_type_name(e));
			fl_wire_free(e);
		}
	}
}

/* ---- the attacks ---- */

/* No deviation in itself: one honest statistics round over everyone. */
static void attack_honest(void)
{
	struct round R;

	welcome_all(1, (unsigned)G.np);
	honest_stats(&R, 1, ALL);
	round_free(&R);
}

/*
 * No deviation either: what the stock coordinator does first, with
 * class_weight = 1 and no validation. The statistics round; the
 * standardisation from its sum (fl_scaler_from_stats(), as
 * coord_train.c); then round 2, one Newton evaluation at w = 0 with the
 * Hessian, which is 1/4 of the sum of x x^T over every training row.
 */
static void attack_honest_newton(void)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Standardize sd = FEDLEAD__WIRE__STANDARDIZE__INIT;
	Fedlead__Wire__EvalTask ev = FEDLEAD__WIRE__EVAL_TASK__INIT;
	size_t d = G.schema->dim;
	struct fl_stats *st = NULL;
	struct fl_scaler *sc = NULL;
	double *zero = calloc(d, sizeof(double));
	unsigned who = ALL;
	struct round R1, R2;

	if (zero == NULL)
		exit(1);
	welcome_all(1, (unsigned)G.np);
	honest_stats(&R1, 1, ALL);
	if (R1.sum == NULL || fl_payload_stats_unpack(R1.sum, d, &st) != 0) {
		say("no statistics to standardise with%s%s", fl_errmsg()[0] ? ": " : "",
		    fl_errmsg());
		goto out;
	}
	/* Nodes under differential privacy send noised, centred and scaled
	 * sums: decoded as the stock coordinator does (fl_coord_finish_stats()). */
	if (G.privacy_plan > 0)
		fl_payload_stats_denoise(G.schema, st, 1);
	if (fl_scaler_from_stats(G.schema, st, &sc) != 0) {
		say("no statistics to standardise with%s%s", fl_errmsg()[0] ? ": " : "",
		    fl_errmsg());
		goto out;
	}
	sd.ref = &R1.ref;
	sd.center = sc->center;
	sd.n_center = d;
	sd.scale = sc->scale;
	sd.n_scale = d;
	sd.impute = sc->impute;
	sd.n_impute = d;
	sd.baseline = sc->baseline;
	sd.n_baseline = d;
	sd.pos_weight = 1;
	if (G.record != NULL) {
		fprintf(G.record, "{\"round\": %llu, \"kind\": \"standardize\", \"d\": %zu",
		        (unsigned long long)R1.round, d);
		fputs(", \"center\": ", G.record);
		record_array(sc->center, d);
		fputs(", \"scale\": ", G.record);
		record_array(sc->scale, d);
		fputs(", \"impute\": ", G.record);
		record_array(sc->impute, d);
		fprintf(G.record, ", \"pos_weight\": %.17g", sd.pos_weight);
		record_end();
	}
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE;
	env.standardize = &sd;
	for (size_t i = 0; i < G.np; i++)
		send_env(&G.p[i], &env);
	round_new(&R2, 2, 1, ALL, (unsigned)G.np);
	ev.ref = &R2.ref;
	ev.w = zero;
	ev.n_w = d;
	ev.need_hessian = 1;
	ev.secagg = &R2.sap;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK;
	env.eval_task = &ev;
	for (size_t i = 0; i < G.np; i++)
		send_env(&G.p[i], &env);
	adverts(&R2, &who);
	key_list(&R2, who);
	shares(&R2, &who);
	masked(&R2, &who, 0);
	consistency(&R2, &who);
	unmask(&R2, &who);
	round_free(&R2);
out:
	round_free(&R1);
	fl_stats_free(st);
	fl_scaler_free(sc);
	free(zero);
}

static void attack_downgrade(void)
{
	welcome_all(0, 0);
	drain(ALL);
}

static void attack_plaintext_task(void)
{
	struct round R;

	welcome_all(1, (unsigned)G.np);
	round_new(&R, 1, 0, ALL, (unsigned)G.np);
	send_stats(&R, ALL, 0);
	drain(ALL);
	round_free(&R);
}

static void attack_bound(void)
{
	struct round R;

	welcome_all(1, (unsigned)G.np);
	round_new(&R, 1, 0, ALL, (unsigned)G.np);
	R.sap.bound = 1000.5;
	send_stats(&R, ALL, 1);
	drain(ALL);
	round_free(&R);
}

/* An honest statistics round, then a second one with the bound of a
 * two-partner federation: a valid bound, but not the one this federation
 * started with (a changing bound is a one-bit oracle per change). */
static void attack_bound_change(void)
{
	struct round R1, R2;

	welcome_all(1, (unsigned)G.np);
	honest_stats(&R1, 1, ALL);
	round_new(&R2, 2, 0, ALL, (unsigned)G.np);
	R2.sap.bound = fl_fixed_bound(FL_SECAGG_STATS_FRAC_BITS, 2);
	printf("bounds: %.17g then %.17g\n", R1.sap.bound, R2.sap.bound);
	fflush(stdout);
	send_stats(&R2, ALL, 1);
	drain(ALL);
	round_free(&R1);
	round_free(&R2);
}

/* A task for a round beyond any the node allows (max_rounds). */
static void attack_rounds(void)
{
	struct round R;

	welcome_all(1, (unsigned)G.np);
	round_new(&R, 10001, 0, ALL, (unsigned)G.np);
	send_stats(&R, ALL, 1);
	drain(ALL);
	round_free(&R);
}

/* Local training with a million epochs (max_local_epochs). */
static void attack_epochs(void)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__LocalTrainTask lt = FEDLEAD__WIRE__LOCAL_TRAIN_TASK__INIT;
	double *w = calloc(G.schema->dim, sizeof(double));
	struct round R;

	if (w == NULL)
		exit(1);
	welcome_all(1, (unsigned)G.np);
	round_new(&R, 1, 1, ALL, (unsigned)G.np);
	lt.ref = &R.ref;
	lt.w = w;
	lt.n_w = G.schema->dim;
	lt.epochs = 1000000;
	lt.batch = 32;
	lt.lr = 0.1;
	lt.secagg = &R.sap;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN;
	env.local_train = &lt;
	for (size_t i = 0; i < G.np; i++)
		send_env(&G.p[i], &env);
	drain(ALL);
	round_free(&R);
	free(w);
}

static void attack_sub2(void)
{
	struct round R;

	welcome_all(1, (unsigned)G.np);
	round_new(&R, 1, 0, 3u, 2);
	send_stats(&R, 3u, 1);
	drain(3u);
	round_free(&R);
}

static void attack_keylist2(void)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__KeyList kl = FEDLEAD__WIRE__KEY_LIST__INIT;
	Fedlead__Wire__KeyEntry e[2], *ep[2];
	unsigned who = ALL;
	struct round R;

	welcome_all(1, (unsigned)G.np);
	round_new(&R, 1, 0, ALL, (unsigned)G.np);
	send_stats(&R, ALL, 1);
	adverts(&R, &who);
	/* The advertisements of the first two partners only, as received. */
	for (size_t i = 0; i < 2; i++) {
		const Fedlead__Wire__KeyAdvert *a;

		if (G.p[i].advert == NULL) {
			say("%s sent no key advertisement", G.p[i].id);
			drain(ALL);
			round_free(&R);
			return;
		}
		a = G.p[i].advert->key_advert;
		fedlead__wire__key_entry__init(&e[i]);
		e[i].identity = G.p[i].id;
		e[i].certificate = (ProtobufCBinaryData){G.p[i].cert_len, G.p[i].cert};
		e[i].c_pub = a->c_pub;
		e[i].s_pub = a->s_pub;
		e[i].signature = a->signature;
		e[i].b_commit = a->b_commit;
		e[i].task_hash = a->task_hash;
		ep[i] = &e[i];
	}
	kl.ref = &R.ref;
	kl.entries = ep;
	kl.n_entries = 2;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST;
	env.key_list = &kl;
	for (size_t i = 0; i < G.np; i++)
		send_env(&G.p[i], &env);
	drain(ALL);
	round_free(&R);
}

static void attack_weights(void)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Standardize sd = FEDLEAD__WIRE__STANDARDIZE__INIT;
	Fedlead__Wire__EvalTask ev = FEDLEAD__WIRE__EVAL_TASK__INIT;
	size_t d = G.schema->dim;
	double *zero = calloc(d, sizeof(double)), *one = calloc(d, sizeof(double)),
	       *w = calloc(d, sizeof(double));
	unsigned who = ALL;
	struct round R;

	if (zero == NULL || one == NULL || w == NULL)
		exit(1);
	for (size_t j = 0; j < d; j++)
		one[j] = 1;
	welcome_all(1, (unsigned)G.np);
	round_new(&R, 1, 1, ALL, (unsigned)G.np);
	sd.ref = &R.ref;
	sd.center = zero;
	sd.n_center = d;
	sd.scale = one;
	sd.n_scale = d;
	sd.impute = zero;
	sd.n_impute = d;
	sd.baseline = zero;
	sd.n_baseline = d;
	sd.pos_weight = 1;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE;
	env.standardize = &sd;
	for (size_t i = 0; i < G.np; i++)
		send_env(&G.p[i], &env);
	/* The target, the first partner, gets w = 0; the others an intercept
	 * of -30, which makes their Hessians all but zero: the "sum" of the
	 * Hessians would be the target's own. */
	w[0] = -30;
	ev.ref = &R.ref;
	ev.n_w = d;
	ev.need_hessian = 1;
	ev.secagg = &R.sap;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK;
	env.eval_task = &ev;
	for (size_t i = 0; i < G.np; i++) {
		ev.w = i == 0 ? zero : w;
		send_env(&G.p[i], &env);
	}
	adverts(&R, &who);
	key_list(&R, who);
	drain(ALL);
	round_free(&R);
	free(zero);
	free(one);
	free(w);
}

static void attack_survivors(void)
{
	/* Needs p1..p4: set A (everyone survived) to p1, p2, p4; set B (p4
	 * dropped) to p3. */
	char *all[MAXP], *three[MAXP], *p4[1];
	unsigned who = ALL;
	struct round R;

	if (G.np != 4) {
		say("survivors needs 4 partners");
		exit(2);
	}
	welcome_all(1, 3);
	round_new(&R, 1, 0, ALL, 3);
	send_stats(&R, ALL, 1);
	adverts(&R, &who);
	key_list(&R, who);
	shares(&R, &who);
	masked(&R, &who, 0);
	for (size_t i = 0; i < 4; i++)
		all[i] = G.p[i].id;
	for (size_t i = 0; i < 3; i++)
		three[i] = G.p[i].id;
	p4[0] = G.p[3].id;
	send_cc(&R, &G.p[0], all, 4, NULL, 0);
	send_cc(&R, &G.p[1], all, 4, NULL, 0);
	send_cc(&R, &G.p[2], three, 3, p4, 1);
	send_cc(&R, &G.p[3], all, 4, NULL, 0);
	signatures(&R, &who, 1);
	/* p1 and p4: set A with the three signatures of A (an honest request:
	 * they reveal p4's self-mask seed share). p2, which signed A: set B
	 * with every signature. p3, which signed B: set B with every
	 * signature, of which only its own is of B. Were p2 and p3 to answer,
	 * the coordinator would hold shares of p4's mask secret too. */
	send_unmask(&R, &G.p[0], all, 4, NULL, 0, 0xbu);
	send_unmask(&R, &G.p[3], all, 4, NULL, 0, 0xbu);
	send_unmask(&R, &G.p[1], three, 3, p4, 1, ALL);
	send_unmask(&R, &G.p[2], three, 3, p4, 1, ALL);
	drain(0x6u);
	for (size_t i = 0; i < 4; i += 3) {
		Fedlead__Wire__Envelope *e = recv_env(&G.p[i]);

		if (e != NULL)
			say("%s sent %s", G.p[i].id, fl_wire_type_name(e));
		fl_wire_free(e);
	}
	round_free(&R);
}

static void attack_replay_round(void)
{
	struct round R1, R2;
	unsigned who = ALL;

	welcome_all(1, (unsigned)G.np);
	honest_stats(&R1, 1, ALL);
	round_new(&R2, 2, 0, ALL, (unsigned)G.np);
	send_stats(&R2, ALL, 1);
	adverts(&R2, &who);
	for (size_t i = 0; i < G.np; i++)
		send_frame(&G.p[i], R1.key_list, R1.key_list_len, "round 1's key_list");
	drain(ALL);
	round_free(&R1);
	round_free(&R2);
}

static void attack_replay_attempt(void)
{
	struct round A, B;
	unsigned who = ALL;
	uint8_t *old = NULL;
	size_t old_len = 0;

	welcome_all(1, (unsigned)G.np);
	/* Attempt A up to the survivors' signatures, and its unmask request
	 * built but not sent. */
	round_new(&A, 1, 0, ALL, (unsigned)G.np);
	send_stats(&A, ALL, 1);
	adverts(&A, &who);
	key_list(&A, who);
	shares(&A, &who);
	masked(&A, &who, 0);
	consistency(&A, &who);
	if (fl_secagg_coord_unmask_request(A.sa, &old, &old_len) != 0) {
		say("%s", fl_errmsg());
		exit(1);
	}
	/* Attempt B: the same round, a fresh session, up to the signatures. */
	who = ALL;
	round_new(&B, 1, 0, ALL, (unsigned)G.np);
	send_stats(&B, ALL, 1);
	adverts(&B, &who);
	key_list(&B, who);
	shares(&B, &who);
	masked(&B, &who, 0);
	consistency(&B, &who);
	for (size_t i = 0; i < G.np; i++)
		send_frame(&G.p[i], old, old_len, "attempt A's unmask_request");
	drain(ALL);
	free(old);
	round_free(&A);
	round_free(&B);
}

/* An honest round over everyone, then the same task where the last
 * partner is treated as dropped (sub = 0) or not asked at all (sub = 1). */
static void attack_second_set(int sub)
{
	unsigned last = 1u << (G.np - 1), who;
	struct round R1, R2;

	if (G.np != 4) {
		say("this attack needs 4 partners");
		exit(2);
	}
	welcome_all(1, 3);
	honest_stats(&R1, 1, ALL);
	who = sub ? ALL & ~last : ALL;
	round_new(&R2, 2, 0, who, 3);
	send_stats(&R2, who, 1);
	adverts(&R2, &who);
	key_list(&R2, who);
	shares(&R2, &who);
	masked(&R2, &who, sub ? 0 : last);
	who &= ~last; /* the dropped partner is not asked to sign */
	consistency(&R2, &who);
	drain(ALL & ~last);
	round_free(&R1);
	round_free(&R2);
}

/*
 * An honest round over all four, then a task over p1, p2, p3 with evidence
 * against p4 made from round 1's real messages (forged: one value p4 signed
 * changed so that its reply seems to reveal a share that does not match).
 */
static void attack_frame_case(int forged)
{
	unsigned last = 1u << (G.np - 1), who;
	Fedlead__Wire__RevealEvidence *ev = NULL;
	struct round R1, R2;

	if (G.np != 4) {
		say("this attack needs 4 partners");
		exit(2);
	}
	welcome_all(1, 3);
	honest_stats(&R1, 1, ALL);
	if (fl_secagg_coord_evidence(R1.sa, G.p[G.np - 1].id, G.p[0].id, &ev) != 0 || ev == NULL) {
		say("no reply of %s to make evidence of", G.p[G.np - 1].id);
		exit(1);
	}
	if (forged)
		ev->shares[ev->bad]->revealed.data[0] ^= 0x01;
	who = ALL & ~last;
	round_new(&R2, 2, 0, who, 3);
	R2.sap.evidence = &ev;
	R2.sap.n_evidence = 1;
	send_stats(&R2, who, 1);
	drain(who);
	fl_secagg_evidence_free(ev);
	round_free(&R1);
	round_free(&R2);
}

static void attack_frame(void)
{
	attack_frame_case(0);
}

static void attack_frame_forged(void)
{
	attack_frame_case(1);
}

static void attack_differencing(void)
{
	attack_second_set(0);
}

static void attack_sub_n_1(void)
{
	attack_second_set(1);
}

static const struct {
	const char *name;
	void (*fn)(void);
} attacks[] = {
        {"honest", attack_honest},
        {"honest-newton", attack_honest_newton},
        {"downgrade", attack_downgrade},
        {"plaintext-task", attack_plaintext_task},
        {"bound", attack_bound},
        {"bound-change", attack_bound_change},
        {"rounds", attack_rounds},
        {"epochs", attack_epochs},
        {"sub2", attack_sub2},
        {"keylist2", attack_keylist2},
        {"weights", attack_weights},
        {"survivors", attack_survivors},
        {"replay-round", attack_replay_round},
        {"replay-attempt", attack_replay_attempt},
        {"differencing", attack_differencing},
        {"sub-n-1", attack_sub_n_1},
        {"frame", attack_frame},
        {"frame-forged", attack_frame_forged},
};

static void usage(FILE *fp)
{
	fprintf(fp, "usage: deviant_coord --attack NAME --partners N --schema SCHEMA --ca CA\n"
	            "                     --cert CERT --key KEY --dump-dir DIR [--port P]\n"
	            "                     [--federation ID] [--record FILE]\n"
	            "                     [--privacy-releases N]\nattacks:");
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++)
		fprintf(fp, " %s", attacks[i].name);
	fputc('\n', fp);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"attack", required_argument, NULL, 'a'},
	                                   {"partners", required_argument, NULL, 'n'},
	                                   {"schema", required_argument, NULL, 's'},
	                                   {"ca", required_argument, NULL, 'C'},
	                                   {"cert", required_argument, NULL, 'c'},
	                                   {"key", required_argument, NULL, 'k'},
	                                   {"dump-dir", required_argument, NULL, 'd'},
	                                   {"port", required_argument, NULL, 'p'},
	                                   {"federation", required_argument, NULL, 'f'},
	                                   {"record", required_argument, NULL, 'r'},
	                                   {"privacy-releases", required_argument, NULL, 'P'},
	                                   {"help", no_argument, NULL, 'h'},
	                                   {NULL, 0, NULL, 0}};
	struct fl_tls_opts tls = {0};
	const char *attack = NULL, *schema = NULL, *record = NULL;
	void (*fn)(void) = NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	long n = 0, port = 0, releases = 0;
	int c, one = 1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'a': attack = optarg; break;
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 's': schema = optarg; break;
		case 'C': tls.ca = optarg; break;
		case 'c': tls.cert = optarg; break;
		case 'k': tls.key = optarg; break;
		case 'd': G.dump = optarg; break;
		case 'p': port = strtol(optarg, NULL, 10); break;
		case 'f': G.fed = optarg; break;
		case 'r': record = optarg; break;
		case 'P': releases = strtol(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	for (size_t i = 0; attack != NULL && i < sizeof(attacks) / sizeof(attacks[0]); i++)
		if (strcmp(attacks[i].name, attack) == 0)
			fn = attacks[i].fn;
	if (fn == NULL || n < 2 || n > MAXP || schema == NULL || tls.ca == NULL ||
	    tls.cert == NULL || tls.key == NULL || G.dump == NULL || port < 0 || port > 65535 ||
	    releases < 0 || optind != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (fl_schema_load(schema, &G.schema) != 0 || fl_tls_server_ctx(&tls, &G.ctx) != 0) {
		say("%s", fl_errmsg());
		return 1;
	}
	G.privacy_plan = (uint64_t)releases;
	if (record != NULL && (G.record = fopen(record, "w")) == NULL) {
		say("%s: %s", record, strerror(errno));
		return 1;
	}
	if (mkdir(G.dump, 0700) != 0 && errno != EEXIST) {
		say("%s: %s", G.dump, strerror(errno));
		return 1;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if ((G.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(G.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(G.lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(G.lfd, 64) != 0 ||
	    getsockname(G.lfd, (struct sockaddr *)&sa, &sl) != 0) {
		say("127.0.0.1:%ld: %s", port, strerror(errno));
		return 1;
	}
	printf("listening on 127.0.0.1:%u\n", ntohs(sa.sin_port));
	fflush(stdout);
	while (G.np < (size_t)n) {
		struct peer *p = &G.p[G.np];
		int dup = 0;

		if (accept_one(p) != 0)
			continue;
		for (size_t i = 0; i < G.np; i++)
			dup |= strcmp(G.p[i].id, p->id) == 0;
		if (dup) {
			say("%s connected twice", p->id);
			reject(p);
			free(p->cert);
			continue;
		}
		G.np++;
	}
	/* Sorted by identity, as the key list is (p1 < p2 < ...). */
	qsort(G.p, G.np, sizeof(G.p[0]), cmp_peer);
	say("playing %s against %zu partners", attack, G.np);
	fn();
	printf("attack %s: played\n", attack);
	fflush(stdout);
	for (size_t i = 0; i < G.np; i++)
		if (G.p[i].ssl != NULL)
			reject(&G.p[i]);
	for (;;) {
		struct peer p;

		if (accept_one(&p) != 0)
			continue;
		printf("reconnect %s\n", p.id);
		fflush(stdout);
		reject(&p);
		free(p.cert);
	}
}
