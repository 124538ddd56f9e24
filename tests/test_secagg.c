/*
 * Tests for src/sagg.c, the secure-aggregation protocol engine, with five
 * in-memory partners and one coordinator exchanging real frames: every
 * message goes through fl_wire_encode() on one side and fl_wire_decode()
 * (after the 4-byte header) on the other, as it would over TLS.
 *
 * Expected sums never come from the engine: each partner's vector is
 * encoded with fl_fixed_encode() (tested in test_secagg.c), the encodings
 * of the partners that should count are added mod 2^64 here and decoded,
 * so a correct unmasking reproduces that sum bit for bit. That sum is also
 * checked against a plain double sum to the fixed-point precision, so an
 * encoder that was wrong in the same way on both sides would still fail.
 *
 * Partners "die" at a chosen step (they stop answering), which is how the
 * dropout cases are driven; the adversarial cases alter decoded messages
 * between the coordinator and a node, as a malicious coordinator (or
 * network) would. Certificates are made at test time with
 * deploy/fedlead-ca.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "fedlead/error.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/masks.h"
#include "fedlead/partner_sign.h"
#include "fedlead/secagg.h"
#include "fedlead/wire.h"
#include "support/pki.h"

#define FED "test-federation"
#define NP 5  /* partners */
#define NV 67 /* values per vector: odd, and not a whole number of PRG blocks */
#define KEYLEN FL_SA_KEY_LEN

static const char *const ids[NP] = {"p1", "p2", "p3", "p4", "p5"};

/* ---- certificates (made once for the whole program) --------------------- */

static EVP_PKEY *keys[NP];
static uint8_t *ders[NP];
static size_t der_lens[NP];
static uint8_t *other_der; /* "p3" certified by another CA */
static size_t other_der_len;
static X509_STORE *store;

static int certs_setup(void **state)
{
	char name[64];

	(void)state;
	if (pki_setup("/tmp/fl_test_sagg.XXXXXX") != 0 || ca("init --dir other") != 0 ||
	    ca("issue --dir other --name p3 --role partner --out other-p3") != 0)
		return -1;
	for (int i = 0; i < NP; i++) {
		if (ca("issue --dir ca --name %s --role partner --out %s", ids[i], ids[i]) != 0)
			return -1;
		snprintf(name, sizeof(name), "%s.key", ids[i]);
		if ((keys[i] = pki_load_key(name)) == NULL)
			return -1;
		snprintf(name, sizeof(name), "%s.crt", ids[i]);
		if ((ders[i] = pki_load_der(name, &der_lens[i])) == NULL)
			return -1;
	}
	if ((other_der = pki_load_der("other-p3.crt", &other_der_len)) == NULL ||
	    fl_sa_store_load(P("ca/ca.crt"), P("ca/crl.pem"), &store) != 0)
		return -1;
	return 0;
}

static int certs_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NP; i++) {
		EVP_PKEY_free(keys[i]);
		OPENSSL_free(ders[i]);
	}
	OPENSSL_free(other_der);
	X509_STORE_free(store);
	return pki_teardown(state);
}

/* ---- one round among the five partners ---------------------------------- */

/* The first step a partner does not take: it "dies" just before it. */
enum stop { RUNS = 0, NO_ADVERT, NO_SHARES, NO_MASKED, NO_SIGN, NO_REVEAL };

struct round {
	uint8_t fp[FL_WIRE_FINGERPRINT_LEN], session[FL_WIRE_SESSION_LEN];
	Fedlead__Wire__RoundRef ref;
	Fedlead__Wire__SecAggParams p;
	Fedlead__Wire__UpdateKind kind;
	unsigned t;
	double x[NP][NV];
	enum stop stop[NP];
	struct fl_secagg_coord *c;
	struct fl_secagg_node *node[NP];
	Fedlead__Wire__Envelope *kl;     /* the KeyList, decoded */
	Fedlead__Wire__Envelope *to[NP]; /* the ShareSet for each partner */
	Fedlead__Wire__Envelope *cc;     /* the ConsistencyCheck */
	Fedlead__Wire__Envelope *rq;     /* the UnmaskRequest */
	uint8_t task[32];                /* the task hash every partner signs */
	struct fl_secagg_policy pol;
	struct fl_secagg_history *hist[NP];
};

/* The participant list of every task: all five. */
static char *participants[NP] = {"p1", "p2", "p3", "p4", "p5"};

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [-b, b]. */
static double uniform(uint64_t *s, double b)
{
	return ((double)(splitmix(s) >> 11) * 0x1p-53 * 2.0 - 1.0) * b;
}

/*
 * A fresh round: a random session, vectors from seed with values spread
 * over the whole fixed-point range (some at exactly +-bound, where a sum of
 * five must still not wrap), and the coordinator's side.
 */
static void round_begin(struct round *R, uint64_t round, unsigned t, int frac_bits, uint64_t seed)
{
	memset(R, 0, sizeof(*R));
	memset(R->fp, 0xa5, sizeof(R->fp));
	assert_int_equal(RAND_bytes(R->session, sizeof(R->session)), 1);
	fedlead__wire__round_ref__init(&R->ref);
	R->ref.federation_id = (char *)FED;
	R->ref.round = round;
	R->ref.schema_fingerprint = (ProtobufCBinaryData){sizeof(R->fp), R->fp};
	fedlead__wire__sec_agg_params__init(&R->p);
	R->p.session = (ProtobufCBinaryData){sizeof(R->session), R->session};
	R->p.frac_bits = frac_bits;
	R->p.bound = fl_fixed_bound(frac_bits, NP);
	R->p.participants = participants;
	R->p.n_participants = NP;
	assert_true(R->p.bound > 1e3);
	R->t = t;
	memset(R->task, 0x5c, sizeof(R->task));
	R->pol.min_partners = 2;
	for (int i = 0; i < NP; i++)
		assert_int_equal(fl_secagg_history_new(&R->hist[i]), 0);
	R->kind = frac_bits == FL_SECAGG_STATS_FRAC_BITS ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS
	                                                 : FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL;
	for (int i = 0; i < NP; i++)
		for (int j = 0; j < NV; j++) {
			double b = j % 4 == 0 ? R->p.bound : j % 4 == 1 ? 10.0 : 1e3;

			R->x[i][j] = j == 2   ? (i % 2 ? -R->p.bound : R->p.bound)
			             : j == 3 ? 0.0
			                      : uniform(&seed, b);
		}
	assert_int_equal(fl_secagg_coord_new(FED, &R->ref, &R->p, t, ids, NP, R->kind, NV, &R->c),
	                 0);
}

static void round_end(struct round *R)
{
	for (int i = 0; i < NP; i++) {
		fl_secagg_node_free(R->node[i]);
		fl_secagg_history_free(R->hist[i]);
		fl_wire_free(R->to[i]);
	}
	fl_wire_free(R->kl);
	fl_wire_free(R->cc);
	fl_wire_free(R->rq);
	fl_secagg_coord_free(R->c);
}

/* Partner i takes step s (one of the enum stop steps). */
static int takes(const struct round *R, int i, enum stop s)
{
	return R->stop[i] == RUNS || R->stop[i] > s;
}

/* Partner i's masked input reached the coordinator. */
static int survives(const struct round *R, int i)
{
	return takes(R, i, NO_MASKED);
}

/* Decodes a frame as the receiver does (header, then body); frees it. */
static Fedlead__Wire__Envelope *decode(uint8_t *frame, size_t len,
                                       Fedlead__Wire__Envelope__BodyCase want)
{
	Fedlead__Wire__Envelope *env = NULL;
	uint32_t blen;

	assert_non_null(frame);
	assert_true(len > FL_WIRE_HEADER_LEN);
	assert_int_equal(fl_wire_frame_len(frame, FL_WIRE_DEFAULT_MAX_FRAME, "test", &blen), 0);
	assert_int_equal(blen, len - FL_WIRE_HEADER_LEN);
	if (fl_wire_decode(frame + FL_WIRE_HEADER_LEN, blen, "test", &env) != 0)
		fail_msg("decode: %s", fl_errmsg());
	free(frame);
	assert_int_equal(env->body_case, want);
	return env;
}

static void step_adverts(struct round *R)
{
	for (int i = 0; i < NP; i++) {
		Fedlead__Wire__Envelope *env;
		uint8_t *frame = NULL;
		size_t len = 0;

		if (!takes(R, i, NO_ADVERT))
			continue;
		if (fl_secagg_node_start(FED, &R->ref, &R->p, R->t, ids[i], keys[i], R->task,
		                         &R->pol, R->hist[i], R->kind, R->x[i], NV, &R->node[i],
		                         &frame, &len) != 0)
			fail_msg("node_start %s: %s", ids[i], fl_errmsg());
		env = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT);
		assert_int_equal(
		        fl_secagg_coord_advert(R->c, ids[i], env->key_advert, ders[i], der_lens[i]),
		        0);
		fl_wire_free(env);
	}
}

/* The KeyList into R->kl; returns the coordinator's result. */
static int step_key_list(struct round *R)
{
	uint8_t *frame = NULL;
	size_t len = 0;
	int r = fl_secagg_coord_key_list(R->c, &frame, &len);

	if (r == 0)
		R->kl = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST);
	return r;
}

/* Partner i answers the key list kl; its ShareSet goes to the coordinator. */
static void keys_one(struct round *R, int i, const Fedlead__Wire__KeyList *kl)
{
	Fedlead__Wire__Envelope *env;
	uint8_t *frame = NULL;
	size_t len = 0;

	if (fl_secagg_node_keys(R->node[i], kl, store, &frame, &len) != 0)
		fail_msg("node_keys %s: %s", ids[i], fl_errmsg());
	env = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET);
	if (fl_secagg_coord_shares(R->c, ids[i], env->share_set) != 0)
		fail_msg("coord_shares %s: %s", ids[i], fl_errmsg());
	fl_wire_free(env);
}

static void step_keys(struct round *R)
{
	for (int i = 0; i < NP; i++)
		if (takes(R, i, NO_SHARES))
			keys_one(R, i, R->kl->key_list);
}

/* The ShareSet for every partner that shared (into R->to); returns the
 * coordinator's result. */
static int step_shares_for(struct round *R)
{
	for (int i = 0; i < NP; i++) {
		uint8_t *frame = NULL;
		size_t len = 0;
		int r;

		if (!fl_secagg_coord_member(R->c, FL_SECAGG_SHARES, ids[i]))
			continue;
		if ((r = fl_secagg_coord_shares_for(R->c, ids[i], &frame, &len)) != 0)
			return r;
		R->to[i] = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET);
	}
	return 0;
}

/* Partner i answers its ShareSet; its masked input goes to the coordinator,
 * after checking that no element of it is the plain encoding. */
static void masked_one(struct round *R, int i)
{
	Fedlead__Wire__Envelope *env;
	uint64_t enc[NV];
	uint8_t *frame = NULL;
	size_t len = 0, bad;

	if (fl_secagg_node_shares(R->node[i], R->to[i]->share_set, &frame, &len) != 0)
		fail_msg("node_shares %s: %s", ids[i], fl_errmsg());
	env = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE);
	assert_int_equal(env->masked_update->n_values, NV);
	assert_int_equal(fl_fixed_encode(R->x[i], NV, R->p.frac_bits, R->p.bound, enc, &bad), 0);
	for (int j = 0; j < NV; j++)
		assert_true(env->masked_update->values[j] != enc[j]);
	if (fl_secagg_coord_masked(R->c, ids[i], env->masked_update) != 0)
		fail_msg("coord_masked %s: %s", ids[i], fl_errmsg());
	fl_wire_free(env);
}

static void step_masked(struct round *R)
{
	for (int i = 0; i < NP; i++)
		if (R->to[i] != NULL && survives(R, i))
			masked_one(R, i);
}

/* The ConsistencyCheck into R->cc; returns the coordinator's result. */
static int step_consistency_check(struct round *R)
{
	uint8_t *frame = NULL;
	size_t len = 0;
	int r = fl_secagg_coord_consistency_check(R->c, &frame, &len);

	if (r == 0)
		R->cc = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK);
	return r;
}

/* Partner i signs the set of cc; its signature goes to the coordinator. */
static void sign_one(struct round *R, int i, const Fedlead__Wire__ConsistencyCheck *cc)
{
	Fedlead__Wire__Envelope *env;
	uint8_t *frame = NULL;
	size_t len = 0;

	if (fl_secagg_node_consistency(R->node[i], cc, &frame, &len) != 0)
		fail_msg("node_consistency %s: %s", ids[i], fl_errmsg());
	env = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE);
	if (fl_secagg_coord_signature(R->c, ids[i], env->consistency_signature) != 0)
		fail_msg("coord_signature %s: %s", ids[i], fl_errmsg());
	fl_wire_free(env);
}

/* ConsistencyCheck, the survivors' signatures and the UnmaskRequest (into
 * R->rq); returns the coordinator's first failure. */
static int step_unmask_request(struct round *R)
{
	uint8_t *frame = NULL;
	size_t len = 0;
	int r;

	if ((r = step_consistency_check(R)) != 0)
		return r;
	for (int i = 0; i < NP; i++)
		if (survives(R, i) && takes(R, i, NO_SIGN) && R->node[i] != NULL)
			sign_one(R, i, R->cc->consistency_check);
	if ((r = fl_secagg_coord_unmask_request(R->c, &frame, &len)) == 0)
		R->rq = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST);
	return r;
}

/* Partner i answers request rq; returns the decoded UnmaskReply. */
static Fedlead__Wire__Envelope *unmask_one(struct round *R, int i,
                                           const Fedlead__Wire__UnmaskRequest *rq)
{
	uint8_t *frame = NULL;
	size_t len = 0;

	if (fl_secagg_node_unmask(R->node[i], rq, &frame, &len) != 0)
		fail_msg("node_unmask %s: %s", ids[i], fl_errmsg());
	return decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY);
}

static void step_reveal(struct round *R)
{
	for (int i = 0; i < NP; i++) {
		Fedlead__Wire__Envelope *env;

		if (!takes(R, i, NO_REVEAL) || !takes(R, i, NO_SIGN) || !survives(R, i) ||
		    R->node[i] == NULL)
			continue;
		env = unmask_one(R, i, R->rq->unmask_request);
		if (fl_secagg_coord_reveal(R->c, ids[i], env->unmask_reply) != 0)
			fail_msg("coord_reveal %s: %s", ids[i], fl_errmsg());
		fl_wire_free(env);
	}
}

/*
 * The sum the coordinator must find over the partners in[]: their
 * encodings added mod 2^64, decoded. Also checks it against the plain
 * double sum: each encoding is within 2^-(f+1) of its value, and the
 * double sums round at most four times.
 */
static void expected_sum(const struct round *R, const int in[NP], double out[NV])
{
	uint64_t acc[NV] = {0}, enc[NV];
	size_t bad;

	for (int i = 0; i < NP; i++) {
		if (!in[i])
			continue;
		assert_int_equal(
		        fl_fixed_encode(R->x[i], NV, R->p.frac_bits, R->p.bound, enc, &bad), 0);
		for (int j = 0; j < NV; j++)
			acc[j] += enc[j];
	}
	fl_fixed_decode(acc, NV, R->p.frac_bits, out);
	for (int j = 0; j < NV; j++) {
		double plain = 0, mag = 0;

		for (int i = 0; i < NP; i++)
			if (in[i]) {
				plain += R->x[i][j];
				mag += fabs(R->x[i][j]);
			}
		assert_true(fabs(out[j] - plain) <=
		            NP * ldexp(1.0, -(R->p.frac_bits + 1)) + 8 * DBL_EPSILON * mag);
	}
}

static void expect_survivor_sum(const struct round *R, const double got[NV])
{
	double want[NV];
	int in[NP];

	for (int i = 0; i < NP; i++)
		in[i] = survives(R, i);
	expected_sum(R, in, want);
	for (int j = 0; j < NV; j++)
		if (got[j] != want[j])
			fail_msg("element %d: unmasked %.17g, survivors' sum %.17g", j, got[j],
			         want[j]);
}

/* Runs every step; returns coord_finish's result (asserting all others). */
static int run_round(struct round *R, double out[NV])
{
	step_adverts(R);
	assert_int_equal(step_key_list(R), 0);
	step_keys(R);
	assert_int_equal(step_shares_for(R), 0);
	step_masked(R);
	assert_int_equal(step_unmask_request(R), 0);
	step_reveal(R);
	return fl_secagg_coord_finish(R->c, out);
}

/* out holds nothing the coordinator wrote: every element is still NaN. */
static void assert_untouched(const double out[NV])
{
	for (int j = 0; j < NV; j++)
		assert_true(isnan(out[j]));
}

static void fill_nan(double out[NV])
{
	for (int j = 0; j < NV; j++)
		out[j] = NAN;
}

/* ---- no dropout ---------------------------------------------------------- */

static void test_no_dropout(void **state)
{
	static const unsigned ts[] = {3, 4, 5};
	struct round R;
	double out[NV];

	(void)state;
	for (size_t k = 0; k < sizeof(ts) / sizeof(ts[0]); k++) {
		round_begin(&R, 1, ts[k], FL_SECAGG_FRAC_BITS, 100 + k);
		step_adverts(&R);
		assert_int_equal(fl_secagg_coord_count(R.c, FL_SECAGG_ADVERT), NP);
		assert_int_equal(step_key_list(&R), 0);
		assert_int_equal(R.kl->key_list->n_entries, NP);
		step_keys(&R);
		assert_int_equal(fl_secagg_coord_count(R.c, FL_SECAGG_SHARES), NP);
		assert_int_equal(step_shares_for(&R), 0);
		for (int i = 0; i < NP; i++)
			assert_int_equal(R.to[i]->share_set->n_shares, NP - 1);
		step_masked(&R);
		assert_int_equal(step_unmask_request(&R), 0);
		assert_int_equal(R.rq->unmask_request->n_survivors, NP);
		assert_int_equal(R.rq->unmask_request->n_dropped, 0);
		step_reveal(&R);
		assert_int_equal(fl_secagg_coord_count(R.c, FL_SECAGG_UNMASK), NP);
		assert_int_equal(fl_secagg_coord_finish(R.c, out), 0);
		expect_survivor_sum(&R, out);
		round_end(&R);
	}
	/* The statistics round's precision (and kind). */
	round_begin(&R, 1, 3, FL_SECAGG_STATS_FRAC_BITS, 7);
	assert_int_equal(run_round(&R, out), 0);
	expect_survivor_sum(&R, out);
	round_end(&R);
}

/* ---- dropouts ------------------------------------------------------------ */

/* One round with the partners stopped as in stop[]; the sum must be the
 * survivors'. */
static void dropout_case(const enum stop stop[NP], uint64_t seed)
{
	struct round R;
	double out[NV];

	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, seed);
	memcpy(R.stop, stop, sizeof(R.stop));
	fill_nan(out);
	if (fl_secagg_coord_finish(R.c, out) == 0)
		fail_msg("finish before anything happened");
	assert_int_equal(run_round(&R, out), 0);
	expect_survivor_sum(&R, out);
	round_end(&R);
}

static void test_dropout_after_masked(void **state)
{
	/* One partner stops after its masked input: the other four reveal. */
	const enum stop one[NP] = {RUNS, RUNS, RUNS, NO_REVEAL, RUNS};
	/* Two stop (the first in key-list order among them, whose shares
	 * the coordinator would otherwise use first): three reveal. */
	const enum stop two[NP] = {NO_REVEAL, RUNS, RUNS, RUNS, NO_REVEAL};

	(void)state;
	dropout_case(one, 11);
	dropout_case(two, 12);
}

static void test_dropout_before_masked(void **state)
{
	/* p2 shared its keys but its masked input never came: its pairwise
	 * masks are removed with its reconstructed secret. */
	const enum stop one[NP] = {RUNS, NO_MASKED, RUNS, RUNS, RUNS};
	/* ... and p4 also stops after its masked input: three reveal. */
	const enum stop two[NP] = {RUNS, NO_MASKED, RUNS, NO_REVEAL, RUNS};
	/* Earlier dropouts: p5 advertised but never shared; p1 never advertised. */
	const enum stop early[NP] = {NO_ADVERT, RUNS, RUNS, RUNS, NO_SHARES};
	struct round R;
	double out[NV], all[NV];
	const int everyone[NP] = {1, 1, 1, 1, 1};

	(void)state;
	dropout_case(one, 21);
	dropout_case(two, 22);
	dropout_case(early, 23);

	/* The request names p2 as dropped, and the sum is not everyone's. */
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 24);
	memcpy(R.stop, one, sizeof(R.stop));
	assert_int_equal(run_round(&R, out), 0);
	assert_int_equal(R.rq->unmask_request->n_survivors, 4);
	assert_int_equal(R.rq->unmask_request->n_dropped, 1);
	assert_string_equal(R.rq->unmask_request->dropped[0], "p2");
	expect_survivor_sum(&R, out);
	expected_sum(&R, everyone, all);
	assert_true(memcmp(all, out, sizeof(out)) != 0);
	round_end(&R);
}

static void test_dropout_below_threshold(void **state)
{
	struct round R;
	double out[NV];

	(void)state;
	/* Three stop after their masked input: two reveals, t = 3. */
	{
		const enum stop s[NP] = {NO_REVEAL, RUNS, NO_REVEAL, RUNS, NO_REVEAL};

		round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 31);
		memcpy(R.stop, s, sizeof(R.stop));
		fill_nan(out);
		assert_int_equal(run_round(&R, out), FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(),
		                    "round 1: only 2 partners revealed shares, the threshold is 3");
		assert_untouched(out);
		round_end(&R);
	}
	/* One before its masked input, two after: four masked, two reveals. */
	{
		const enum stop s[NP] = {RUNS, NO_MASKED, NO_REVEAL, NO_REVEAL, RUNS};

		round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 32);
		memcpy(R.stop, s, sizeof(R.stop));
		fill_nan(out);
		assert_int_equal(run_round(&R, out), FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(),
		                    "round 1: only 2 partners revealed shares, the threshold is 3");
		assert_untouched(out);
		round_end(&R);
	}
	/* Three stop before their masked input: no unmask request at all. */
	{
		const enum stop s[NP] = {NO_MASKED, NO_MASKED, RUNS, NO_MASKED, RUNS};

		round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 33);
		memcpy(R.stop, s, sizeof(R.stop));
		step_adverts(&R);
		assert_int_equal(step_key_list(&R), 0);
		step_keys(&R);
		assert_int_equal(step_shares_for(&R), 0);
		step_masked(&R);
		assert_int_equal(step_unmask_request(&R), FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(),
		                    "round 1: masked input from only 2 partners, the threshold is "
		                    "3: the round is abandoned and nothing is revealed");
		assert_null(R.rq);
		fill_nan(out);
		assert_int_equal(fl_secagg_coord_finish(R.c, out), FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(),
		                    "round 1: only 0 partners revealed shares, the threshold is 3");
		assert_untouched(out);
		round_end(&R);
	}
	/* Three stop before sharing keys. */
	{
		const enum stop s[NP] = {RUNS, NO_SHARES, NO_SHARES, RUNS, NO_SHARES};

		round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 34);
		memcpy(R.stop, s, sizeof(R.stop));
		step_adverts(&R);
		assert_int_equal(step_key_list(&R), 0);
		step_keys(&R);
		assert_int_equal(step_shares_for(&R), FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(),
		                    "round 1: only 2 partners shared keys, the threshold is 3");
		round_end(&R);
	}
	/* Three never advertise. */
	{
		const enum stop s[NP] = {NO_ADVERT, NO_ADVERT, RUNS, RUNS, NO_ADVERT};

		round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 35);
		memcpy(R.stop, s, sizeof(R.stop));
		step_adverts(&R);
		assert_int_equal(step_key_list(&R), FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(),
		                    "round 1: only 2 partners advertised keys, the threshold is 3");
		round_end(&R);
	}
}

/* ---- a malicious coordinator: the key list ------------------------------- */

/* Node i is given kl; it must refuse with code and message, sending nothing. */
static void refuses_keys(struct round *R, int i, const Fedlead__Wire__KeyList *kl, int code,
                         const char *msg)
{
	uint8_t *frame = (uint8_t *)"sentinel";
	size_t len = 1;

	assert_int_equal(fl_secagg_node_keys(R->node[i], kl, store, &frame, &len), code);
	assert_string_equal(fl_errmsg(), msg);
	assert_null(frame);
	assert_int_equal(len, 0);
}

static void test_forged_key_list(void **state)
{
	struct round R;
	Fedlead__Wire__KeyEntry *e3, saved;
	uint8_t *sig;
	double out[NV];

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 41);
	step_adverts(&R);
	assert_int_equal(step_key_list(&R), 0);
	e3 = R.kl->key_list->entries[2];
	assert_string_equal(e3->identity, "p3");
	saved = *e3;

	/* Altered keys or commitment of p3: its signature no longer covers
	 * them. Each node that is shown one refuses. */
	e3->c_pub.data[7] ^= 0x01;
	refuses_keys(&R, 0, R.kl->key_list, FL_ERR_AUTH,
	             "key advertisement of p3: signature does not verify");
	e3->c_pub.data[7] ^= 0x01;
	e3->s_pub.data[31] ^= 0x20;
	refuses_keys(&R, 1, R.kl->key_list, FL_ERR_AUTH,
	             "key advertisement of p3: signature does not verify");
	e3->s_pub.data[31] ^= 0x20;
	e3->b_commit.data[0] ^= 0x80;
	refuses_keys(&R, 3, R.kl->key_list, FL_ERR_AUTH,
	             "key advertisement of p3: signature does not verify");
	e3->b_commit.data[0] ^= 0x80;
	sig = e3->signature.data;
	sig[e3->signature.len - 3] ^= 0x04;
	refuses_keys(&R, 4, R.kl->key_list, FL_ERR_AUTH,
	             "key advertisement of p3: signature does not verify");
	sig[e3->signature.len - 3] ^= 0x04;
	/* p4's certificate in p3's place, or a "p3" of another CA. */
	e3->certificate = (ProtobufCBinaryData){der_lens[3], ders[3]};
	refuses_keys(&R, 0, R.kl->key_list, FL_ERR_AUTH,
	             "key advertisement of p3: certificate belongs to \"p4\"");
	e3->certificate = (ProtobufCBinaryData){other_der_len, other_der};
	refuses_keys(&R, 0, R.kl->key_list, FL_ERR_AUTH,
	             "key advertisement of p3: certificate is not trusted: unable to get local "
	             "issuer certificate");
	*e3 = saved;

	/* Out of order, a partner left out, too few. */
	R.kl->key_list->entries[2] = R.kl->key_list->entries[3];
	R.kl->key_list->entries[3] = e3;
	refuses_keys(&R, 0, R.kl->key_list, FL_ERR_PROTO,
	             "coordinator: key list is not sorted by identity");
	R.kl->key_list->entries[3] = R.kl->key_list->entries[2];
	R.kl->key_list->entries[2] = e3;
	R.kl->key_list->n_entries = 4;
	refuses_keys(&R, 4, R.kl->key_list, FL_ERR_PROTO,
	             "coordinator: the key list leaves this partner out");
	R.kl->key_list->n_entries = 2;
	refuses_keys(&R, 0, R.kl->key_list, FL_ERR_PROTO,
	             "coordinator: key list of 2 partners is below the threshold 3");
	R.kl->key_list->n_entries = NP;

	/* A refused list leaves nothing behind: the honest one then works
	 * and the round gives the right sum. */
	step_keys(&R);
	assert_int_equal(step_shares_for(&R), 0);
	step_masked(&R);
	assert_int_equal(step_unmask_request(&R), 0);
	step_reveal(&R);
	assert_int_equal(fl_secagg_coord_finish(R.c, out), 0);
	expect_survivor_sum(&R, out);
	round_end(&R);
}

static void test_key_substitution(void **state)
{
	struct round R;
	Fedlead__Wire__KeyEntry *e2, saved;

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 42);
	step_adverts(&R);
	assert_int_equal(step_key_list(&R), 0);
	e2 = R.kl->key_list->entries[1];
	saved = *e2;
	/* The coordinator hands p2 a list where p2's own keys are p4's (which
	 * carry a valid signature, just not p2's): p2 would mask with, and
	 * encrypt to, keys the coordinator may know. */
	e2->c_pub = R.kl->key_list->entries[3]->c_pub;
	refuses_keys(&R, 1, R.kl->key_list, FL_ERR_AUTH,
	             "coordinator: the key list carries other keys for this partner");
	*e2 = saved;
	e2->s_pub = R.kl->key_list->entries[3]->s_pub;
	refuses_keys(&R, 1, R.kl->key_list, FL_ERR_AUTH,
	             "coordinator: the key list carries other keys for this partner");
	*e2 = saved;
	e2->b_commit = R.kl->key_list->entries[3]->b_commit;
	refuses_keys(&R, 1, R.kl->key_list, FL_ERR_AUTH,
	             "coordinator: the key list carries other keys for this partner");
	*e2 = saved;
	/* p4's whole entry (certificate, keys, signature) under p2's name. */
	{
		Fedlead__Wire__KeyEntry e4 = *R.kl->key_list->entries[3];

		e4.identity = (char *)"p2";
		R.kl->key_list->entries[1] = &e4;
		refuses_keys(&R, 1, R.kl->key_list, FL_ERR_AUTH,
		             "coordinator: the key list carries other keys for this partner");
		/* Shown to another partner, the same entry is refused there. */
		refuses_keys(&R, 0, R.kl->key_list, FL_ERR_AUTH,
		             "key advertisement of p2: certificate belongs to \"p4\"");
		R.kl->key_list->entries[1] = e2;
	}
	round_end(&R);
}

/*
 * A threshold of at most half the key list lets a coordinator that tells
 * some partners "p5 survived" and the others "p5 dropped" gather t shares
 * of each of p5's secrets and unmask p5 alone (no partner sees both
 * requests). Nodes refuse such a threshold before sharing anything.
 */
static void test_threshold_too_low(void **state)
{
	struct round R;

	(void)state;
	round_begin(&R, 1, 2, FL_SECAGG_FRAC_BITS, 43);
	step_adverts(&R);
	assert_int_equal(step_key_list(&R), 0);
	refuses_keys(&R, 0, R.kl->key_list, FL_ERR_PROTO,
	             "coordinator: threshold 2 is not more than half of the 5 partners in the "
	             "key list; refused");
	R.kl->key_list->n_entries = 3; /* p1, p2, p3: 2 of 3 is fine */
	{
		uint8_t *frame = NULL;
		size_t len = 0;

		if (fl_secagg_node_keys(R.node[0], R.kl->key_list, store, &frame, &len) != 0)
			fail_msg("node_keys: %s", fl_errmsg());
		fl_wire_free(decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET));
	}
	R.kl->key_list->n_entries = NP;
	round_end(&R);
}

/* ---- a malicious coordinator: shares and unmasking ----------------------- */

/* Everyone up to their masked input, all masked. */
static void up_to_masked(struct round *R)
{
	step_adverts(R);
	assert_int_equal(step_key_list(R), 0);
	step_keys(R);
	assert_int_equal(step_shares_for(R), 0);
	step_masked(R);
}

static void refuses_unmask(struct round *R, int i, const Fedlead__Wire__UnmaskRequest *rq, int code,
                           const char *msg)
{
	uint8_t *frame = (uint8_t *)"sentinel";
	size_t len = 1;

	assert_int_equal(fl_secagg_node_unmask(R->node[i], rq, &frame, &len), code);
	assert_string_equal(fl_errmsg(), msg);
	assert_null(frame);
	assert_int_equal(len, 0);
}

/* An UnmaskRequest naming survivors s and dropped d (NULL-terminated). */
static void request(struct round *R, Fedlead__Wire__UnmaskRequest *rq, char **s, char **d)
{
	fedlead__wire__unmask_request__init(rq);
	rq->ref = &R->ref;
	rq->survivors = s;
	while (s[rq->n_survivors] != NULL)
		rq->n_survivors++;
	rq->dropped = d;
	while (d[rq->n_dropped] != NULL)
		rq->n_dropped++;
}

/* A ConsistencyCheck naming survivors sv and dropped dv (NULL-terminated). */
static void check_msg(struct round *R, Fedlead__Wire__ConsistencyCheck *cc, char **sv, char **dv)
{
	fedlead__wire__consistency_check__init(cc);
	cc->ref = &R->ref;
	cc->survivors = sv;
	while (sv[cc->n_survivors] != NULL)
		cc->n_survivors++;
	cc->dropped = dv;
	while (dv[cc->n_dropped] != NULL)
		cc->n_dropped++;
}

/* Partner i signs the sets sv / dv; returns its decoded signature. */
static Fedlead__Wire__Envelope *sign_set(struct round *R, int i, char **sv, char **dv)
{
	Fedlead__Wire__ConsistencyCheck cc;
	uint8_t *frame = NULL;
	size_t len = 0;

	check_msg(R, &cc, sv, dv);
	if (fl_secagg_node_consistency(R->node[i], &cc, &frame, &len) != 0)
		fail_msg("node_consistency %s: %s", ids[i], fl_errmsg());
	return decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE);
}

static void refuses_check(struct round *R, int i, char **sv, char **dv, int code, const char *msg)
{
	Fedlead__Wire__ConsistencyCheck cc;
	uint8_t *frame = (uint8_t *)"sentinel";
	size_t len = 1;

	check_msg(R, &cc, sv, dv);
	assert_int_equal(fl_secagg_node_consistency(R->node[i], &cc, &frame, &len), code);
	assert_string_equal(fl_errmsg(), msg);
	assert_null(frame);
	/* The rule the node audits a refusal under comes from the engine. */
	if (code == FL_ERR_AUTH)
		assert_string_equal(fl_secagg_node_refused_rule(R->node[i]),
		                    strncmp(msg, "node policy: ", 13) == 0
		                            ? "allow_participant_change"
		                            : "consistency_check");
}

/*
 * Bonawitz et al.'s attack on the passive protocol: tell some partners "p5
 * survived" and others "p5 dropped", and collect both p5's self-mask seed
 * and its mask secret (so its input alone). With the ConsistencyCheck every
 * partner signs one survivor set per round and reveals only for a set that
 * t survivors signed; with t > n/2 two sets cannot both reach t.
 */
static void test_both_shares_refused(void **state)
{
	char *all[] = {"p1", "p2", "p3", "p4", "p5", NULL},
	     *four[] = {"p1", "p2", "p3", "p4", NULL};
	char *p5[] = {"p5", NULL}, *none[] = {NULL};
	Fedlead__Wire__Envelope *sig[NP] = {NULL}, *env;
	Fedlead__Wire__SurvivorSignature g[NP], *gp[NP];
	Fedlead__Wire__UnmaskRequest rq;
	struct round R;

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 51);
	up_to_masked(&R);
	/* p5 as a survivor and as dropped in one set. */
	refuses_check(&R, 0, all, p5, FL_ERR_AUTH,
	              "coordinator asked for both shares of partner p5; refused");
	/* Other malformed sets. */
	{
		char *two[] = {"p1", "p4", NULL}, *nome[] = {"p1", "p2", "p3", NULL};
		char *stranger[] = {"p1", "p2", "p3", "p4", "mallory", NULL};
		char *p1[] = {"p1", NULL}, *twice[] = {"p1", "p2", "p2", "p3", "p4", "p5", NULL};
		char *no_p5[] = {"p1", "p2", "p3", "p4", NULL};

		refuses_check(&R, 3, two, none, FL_ERR_PROTO,
		              "coordinator: consistency_check names 2 survivors, below the "
		              "threshold 3");
		refuses_check(&R, 3, nome, none, FL_ERR_PROTO,
		              "coordinator: consistency_check does not count this partner as a "
		              "survivor");
		refuses_check(&R, 3, stranger, none, FL_ERR_PROTO,
		              "coordinator: consistency_check names \"mallory\", who did not share "
		              "keys");
		refuses_check(&R, 0, all, p1, FL_ERR_AUTH,
		              "coordinator asked for both shares of partner p1; refused");
		refuses_check(&R, 0, twice, none, FL_ERR_PROTO,
		              "coordinator: consistency_check names a partner twice");
		/* p5 shared keys: it is a survivor or dropped, never neither. */
		refuses_check(&R, 0, no_p5, none, FL_ERR_PROTO,
		              "coordinator: consistency_check leaves out p5, who shared keys");
	}
	/* The split: p1 and p2 are shown "p5 dropped", p3, p4, p5 "all survived". */
	sig[0] = sign_set(&R, 0, four, p5);
	sig[1] = sign_set(&R, 1, four, p5);
	for (int i = 2; i < NP; i++)
		sig[i] = sign_set(&R, i, all, none);
	/* A partner signs one set per round. */
	refuses_check(&R, 1, all, none, FL_ERR_PROTO,
	              "coordinator: consistency_check out of order");
	for (int i = 0; i < NP; i++) {
		fedlead__wire__survivor_signature__init(&g[i]);
		g[i].identity = (char *)ids[i];
		g[i].signature = sig[i]->consistency_signature->signature;
		gp[i] = &g[i];
	}
	/* p2, asked for p5's mask secret: every signature is relayed, but only
	 * p1's and p2's are of the set p2 signed: 2 < t. */
	request(&R, &rq, four, p5);
	rq.signatures = gp;
	rq.n_signatures = NP;
	refuses_unmask(&R, 1, &rq, FL_ERR_AUTH,
	               "coordinator: only 2 survivors' signatures of the survivor set verify, "
	               "fewer than the threshold 3; refused");
	/* A set other than the one signed. */
	request(&R, &rq, all, none);
	rq.signatures = gp;
	rq.n_signatures = NP;
	refuses_unmask(&R, 1, &rq, FL_ERR_AUTH,
	               "coordinator: the unmask request's survivor set differs from the one this "
	               "partner signed; refused");
	/* Signatures claimed by the wrong identities do not count either. */
	request(&R, &rq, all, none);
	g[0].signature = sig[2]->consistency_signature->signature; /* p3's, labelled p1 */
	g[1].signature = sig[3]->consistency_signature->signature; /* p4's, labelled p2 */
	rq.signatures = gp;
	rq.n_signatures = 2;
	refuses_unmask(&R, 2, &rq, FL_ERR_AUTH,
	               "coordinator: only 0 survivors' signatures of the survivor set verify, "
	               "fewer than the threshold 3; refused");
	/* The majority set, with its three signatures: p3 reveals p5's seed share. */
	g[0].signature = sig[0]->consistency_signature->signature;
	g[1].signature = sig[1]->consistency_signature->signature;
	rq.signatures = gp;
	rq.n_signatures = NP;
	env = unmask_one(&R, 2, &rq);
	assert_int_equal(env->unmask_reply->n_shares, 5);
	assert_string_equal(env->unmask_reply->shares[4]->owner, "p5");
	assert_int_equal(env->unmask_reply->shares[4]->what, 1);
	fl_wire_free(env);
	/* Asking again for the same set is answered. */
	fl_wire_free(unmask_one(&R, 2, &rq));
	for (int i = 0; i < NP; i++)
		fl_wire_free(sig[i]);
	round_end(&R);
}

/*
 * A ShareSet entry recorded in round 1 (p2's share for p1) delivered in
 * place of p2's share in a later round or a restarted attempt of round 1:
 * its key and associated data are those of the earlier session, so it does
 * not open. Shares are opened only when they are to be revealed, so p1
 * still sends its masked input and refuses at the unmask request; the
 * round then completes from the other four, with the right sum.
 */
/* Partner i refuses its ShareSet with code and msg, sending nothing. */
static void refuses_shares(struct round *R, int i, int code, const char *msg)
{
	uint8_t *frame = (uint8_t *)"x";
	size_t len = 1;

	assert_int_equal(fl_secagg_node_shares(R->node[i], R->to[i]->share_set, &frame, &len),
	                 code);
	assert_string_equal(fl_errmsg(), msg);
	assert_null(frame);
	assert_int_equal(len, 0);
	assert_null(fl_secagg_node_accused(R->node[i]));
}

static void test_replayed_share(void **state)
{
	static const uint64_t later[] = {2, 1};
	struct round R1, R2;
	Fedlead__Wire__EncryptedShare *old = NULL, *cur = NULL;
	double out[NV];

	(void)state;
	round_begin(&R1, 1, 3, FL_SECAGG_FRAC_BITS, 61);
	assert_int_equal(run_round(&R1, out), 0);
	expect_survivor_sum(&R1, out);
	for (size_t i = 0; i < R1.to[0]->share_set->n_shares; i++)
		if (strcmp(R1.to[0]->share_set->shares[i]->from, "p2") == 0)
			old = R1.to[0]->share_set->shares[i];
	assert_non_null(old);
	assert_string_equal(old->to, "p1");

	for (size_t k = 0; k < sizeof(later) / sizeof(later[0]); k++) {
		round_begin(&R2, later[k], 3, FL_SECAGG_FRAC_BITS, 62 + k);
		step_adverts(&R2);
		assert_int_equal(step_key_list(&R2), 0);
		step_keys(&R2);
		assert_int_equal(step_shares_for(&R2), 0);
		cur = NULL;
		for (size_t i = 0; i < R2.to[0]->share_set->n_shares; i++)
			if (strcmp(R2.to[0]->share_set->shares[i]->from, "p2") == 0)
				cur = R2.to[0]->share_set->shares[i];
		assert_non_null(cur);
		assert_int_equal(cur->ciphertext.len, old->ciphertext.len);
		memcpy(cur->ciphertext.data, old->ciphertext.data, old->ciphertext.len);
		/* Refused on receipt (before p1's masked input leaves), naming
		 * nobody: the coordinator relays the ciphertext. */
		refuses_shares(&R2, 0, FL_ERR_AUTH, "share from p2 does not authenticate; refused");
		R2.stop[0] = NO_MASKED;
		step_masked(&R2);
		assert_int_equal(step_unmask_request(&R2), 0);
		step_reveal(&R2);
		assert_int_equal(fl_secagg_coord_finish(R2.c, out), 0);
		expect_survivor_sum(&R2, out);
		round_end(&R2);
	}

	/* Within a round: p2's share for p3, readdressed to p1. */
	round_begin(&R2, 1, 3, FL_SECAGG_FRAC_BITS, 65);
	step_adverts(&R2);
	assert_int_equal(step_key_list(&R2), 0);
	step_keys(&R2);
	assert_int_equal(step_shares_for(&R2), 0);
	for (size_t i = 0; i < R2.to[2]->share_set->n_shares; i++)
		if (strcmp(R2.to[2]->share_set->shares[i]->from, "p2") == 0)
			old = R2.to[2]->share_set->shares[i];
	for (size_t i = 0; i < R2.to[0]->share_set->n_shares; i++)
		if (strcmp(R2.to[0]->share_set->shares[i]->from, "p2") == 0)
			memcpy(R2.to[0]->share_set->shares[i]->ciphertext.data,
			       old->ciphertext.data, old->ciphertext.len);
	refuses_shares(&R2, 0, FL_ERR_AUTH, "share from p2 does not authenticate; refused");
	round_end(&R2);

	/* A share from someone not in the key list, or for someone else. */
	round_begin(&R2, 1, 3, FL_SECAGG_FRAC_BITS, 66);
	step_adverts(&R2);
	assert_int_equal(step_key_list(&R2), 0);
	step_keys(&R2);
	assert_int_equal(step_shares_for(&R2), 0);
	{
		Fedlead__Wire__EncryptedShare *e = R2.to[0]->share_set->shares[0];
		char *from = e->from, *to = e->to;
		uint8_t *frame = (uint8_t *)"x";
		size_t len = 1;

		e->to = (char *)"p3";
		assert_int_equal(
		        fl_secagg_node_shares(R2.node[0], R2.to[0]->share_set, &frame, &len),
		        FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(),
		                    "coordinator: share from \"p2\" to \"p3\" does not "
		                    "belong here");
		assert_null(frame);
		e->to = to;
		e->from = (char *)"mallory";
		assert_int_equal(
		        fl_secagg_node_shares(R2.node[0], R2.to[0]->share_set, &frame, &len),
		        FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(), "coordinator: share from \"mallory\" to \"p1\" "
		                                 "does not belong here");
		e->from = from;
		/* The same share twice. */
		{
			Fedlead__Wire__EncryptedShare *second = R2.to[0]->share_set->shares[1];

			R2.to[0]->share_set->shares[1] = e;
			assert_int_equal(fl_secagg_node_shares(R2.node[0], R2.to[0]->share_set,
			                                       &frame, &len),
			                 FL_ERR_PROTO);
			assert_string_equal(fl_errmsg(), "coordinator: two shares from p2");
			R2.to[0]->share_set->shares[1] = second;
		}
	}
	round_end(&R2);

	round_end(&R1);
}

/* ---- what a revealer signs, written from proto/wire.proto ------------ */

static void md_name(EVP_MD_CTX *md, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);
	uint8_t be[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};

	assert_int_equal(EVP_DigestUpdate(md, be, 4), 1);
	assert_int_equal(EVP_DigestUpdate(md, s, n), 1);
}

static void md_round(EVP_MD_CTX *md, uint64_t round)
{
	uint8_t r8[8];

	for (int i = 0; i < 8; i++)
		r8[i] = (uint8_t)(round >> (56 - 8 * i));
	assert_int_equal(EVP_DigestUpdate(md, r8, 8), 1);
}

/* "FEDERATION#SESSION-IN-HEX" of a round. */
static void spec_context(const struct round *R, char *out)
{
	int k = sprintf(out, "%s#", FED);

	for (size_t i = 0; i < sizeof(R->session); i++)
		k += sprintf(out + k, "%02x", R->session[i]);
}

/* A share's commitment: SHA-256("fedlead-secagg-share-v1\0", context,
 * be64(round), dealer, holder, kind, x, share), names length-prefixed. */
static void spec_share_commit(const struct round *R, const char *dealer, const char *holder,
                              unsigned kind, unsigned x, const uint8_t *share, uint8_t out[32])
{
	static const char tag[] = "fedlead-secagg-share-v1";
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char ctx[256];
	uint8_t kx[2] = {(uint8_t)kind, (uint8_t)x};

	spec_context(R, ctx);
	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(md, tag, sizeof(tag)), 1);
	md_name(md, ctx);
	md_round(md, R->ref.round);
	md_name(md, dealer);
	md_name(md, holder);
	assert_int_equal(EVP_DigestUpdate(md, kx, 2), 1);
	assert_int_equal(EVP_DigestUpdate(md, share, 32), 1);
	assert_int_equal(EVP_DigestFinal_ex(md, out, NULL), 1);
	EVP_MD_CTX_free(md);
}

/* A dealer's signature of its two commitments for one holder:
 * SHA-256("fedlead-secagg-share-commitment-v1\0", context, be64(round),
 * dealer, holder, x, seed commitment, secret commitment), under the label
 * "share commitment". */
static void spec_sign_commitment(const struct round *R, int dealer, const char *holder, unsigned x,
                                 const uint8_t seed[32], const uint8_t secret[32], uint8_t **sig,
                                 size_t *len)
{
	static const char tag[] = "fedlead-secagg-share-commitment-v1";
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t x1 = (uint8_t)x, digest[32];
	char ctx[256];

	spec_context(R, ctx);
	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(md, tag, sizeof(tag)), 1);
	md_name(md, ctx);
	md_round(md, R->ref.round);
	md_name(md, ids[dealer]);
	md_name(md, holder);
	assert_int_equal(EVP_DigestUpdate(md, &x1, 1), 1);
	assert_int_equal(EVP_DigestUpdate(md, seed, 32), 1);
	assert_int_equal(EVP_DigestUpdate(md, secret, 32), 1);
	assert_int_equal(EVP_DigestFinal_ex(md, digest, NULL), 1);
	EVP_MD_CTX_free(md);
	assert_int_equal(fl_sa_sign_digest(keys[dealer], "share commitment", digest, sig, len), 0);
}

/*
 * Partner i's reply u re-signed as a hostile partner would sign it, after
 * the share of owner (NULL: none) is altered: each share's commitment as
 * revealed, next to the one of the share as dealt (which is the dealer's
 * signed commitment: the node checked it on receipt).
 */
static void resign_reply(const struct round *R, int i, Fedlead__Wire__UnmaskReply *u,
                         const char *owner)
{
	static const char tag[] = "fedlead-secagg-reveal-v1";
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t n4[4] = {0, 0, 0, (uint8_t)u->n_shares}, digest[32], *sig = NULL;
	char ctx[256];
	size_t siglen = 0;

	spec_context(R, ctx);
	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(md, tag, sizeof(tag)), 1);
	md_name(md, ctx);
	md_round(md, R->ref.round);
	md_name(md, ids[i]);
	assert_int_equal(EVP_DigestUpdate(md, n4, 4), 1);
	for (size_t k = 0; k < u->n_shares; k++) {
		Fedlead__Wire__RevealedShare *s = u->shares[k];
		uint8_t dealt[32], shown[32], w = (uint8_t)s->what;

		spec_share_commit(R, s->owner, ids[i], s->what, (unsigned)i + 1, s->share.data,
		                  dealt);
		if (owner != NULL && strcmp(s->owner, owner) == 0)
			s->share.data[5] ^= 0x01;
		spec_share_commit(R, s->owner, ids[i], s->what, (unsigned)i + 1, s->share.data,
		                  shown);
		md_name(md, s->owner);
		assert_int_equal(EVP_DigestUpdate(md, &w, 1), 1);
		assert_int_equal(EVP_DigestUpdate(md, shown, 32), 1);
		assert_int_equal(EVP_DigestUpdate(md, dealt, 32), 1);
	}
	assert_int_equal(EVP_DigestFinal_ex(md, digest, NULL), 1);
	EVP_MD_CTX_free(md);
	assert_int_equal(fl_sa_sign_digest(keys[i], "unmask reply", digest, &sig, &siglen), 0);
	free(u->signature.data);
	u->signature = (ProtobufCBinaryData){siglen, sig};
}

/*
 * p1 reveals a share that is not the one dealt to it (altered, or a lie):
 * the share does not match what its owner signed for p1, so the
 * coordinator names p1, by a check that needs nobody's word (the owner's
 * signature and the reply p1 signed), and sets all of p1's shares aside.
 * With t shares of every owner left from the others, the sum over the
 * survivors is still unmasked; with fewer, nothing is. No honest partner
 * is ever named. p1 signs the altered reply as it is (a hostile
 * revealer), or, when msg speaks of the signature, the reply is altered
 * after p1 signed it, which names p1 all the same: the reply came on p1's
 * own connection, and what it signed is checked against what the dealers
 * signed.
 */
static void tamper_case(const enum stop stop[NP], unsigned t, const char *owner, unsigned what,
                        const char *msg, int unmasked)
{
	struct round R;
	double out[NV];

	round_begin(&R, 1, t, FL_SECAGG_FRAC_BITS, 71);
	memcpy(R.stop, stop, sizeof(R.stop));
	up_to_masked(&R);
	assert_int_equal(step_unmask_request(&R), 0);
	for (int i = 0; i < NP; i++) {
		Fedlead__Wire__Envelope *env;
		int hit = 0;

		if (!survives(&R, i))
			continue;
		env = unmask_one(&R, i, R.rq->unmask_request);
		/* p1 is first in key-list order: its shares are among those
		 * the coordinator would combine. */
		for (size_t k = 0; i == 0 && k < env->unmask_reply->n_shares; k++) {
			Fedlead__Wire__RevealedShare *s = env->unmask_reply->shares[k];

			if (strcmp(s->owner, owner) == 0) {
				assert_int_equal(s->what, what);
				hit = 1;
			}
		}
		assert_int_equal(hit, i == 0);
		if (i == 0 && strstr(msg, "signature") == NULL)
			resign_reply(&R, 0, env->unmask_reply, owner);
		else if (i == 0)
			for (size_t k = 0; k < env->unmask_reply->n_shares; k++)
				if (strcmp(env->unmask_reply->shares[k]->owner, owner) == 0)
					env->unmask_reply->shares[k]->share.data[5] ^= 0x01;
		assert_int_equal(fl_secagg_coord_reveal(R.c, ids[i], env->unmask_reply), 0);
		fl_wire_free(env);
		if (i == 0) {
			assert_string_equal(fl_secagg_coord_fault(R.c, "p1"), msg);
			assert_false(fl_secagg_coord_member(R.c, FL_SECAGG_UNMASK, "p1"));
			assert_false(fl_secagg_coord_owes(R.c, "p1"));
		}
	}
	fill_nan(out);
	if (unmasked) {
		assert_int_equal(fl_secagg_coord_finish(R.c, out), 0);
		expect_survivor_sum(&R, out);
	} else {
		char want[128];

		assert_int_equal(fl_secagg_coord_finish(R.c, out), FL_ERR_PROTO);
		snprintf(want, sizeof(want),
		         "round 1: only %u partners revealed shares, the threshold is %u", t - 1,
		         t);
		assert_string_equal(fl_errmsg(), want);
		assert_untouched(out);
	}
	for (int i = 1; i < NP; i++)
		assert_null(fl_secagg_coord_fault(R.c, ids[i]));
	round_end(&R);
}

static void test_malformed_share(void **state)
{
	const enum stop all[NP] = {RUNS, RUNS, RUNS, RUNS, RUNS};
	const enum stop p4_dropped[NP] = {RUNS, RUNS, RUNS, NO_MASKED, RUNS};

	(void)state;
	tamper_case(all, 3, "p3", 1,
	            "round 1: partner p1 revealed a share of p3's self-mask seed that does not "
	            "match p3's signed commitment; p1 is excluded",
	            1);
	tamper_case(p4_dropped, 3, "p4", 2,
	            "round 1: partner p1 revealed a share of p4's mask secret that does not "
	            "match p4's signed commitment; p1 is excluded",
	            1);
	/* The default threshold of five partners (4): the four others are
	 * exactly t. */
	tamper_case(all, 4, "p3", 1,
	            "round 1: partner p1 revealed a share of p3's self-mask seed that does not "
	            "match p3's signed commitment; p1 is excluded",
	            1);
	/* With one partner dropped, three honest revealers are not enough. */
	tamper_case(p4_dropped, 4, "p4", 2,
	            "round 1: partner p1 revealed a share of p4's mask secret that does not "
	            "match p4's signed commitment; p1 is excluded",
	            0);
	/* Altered after p1 signed its reply: its signature does not verify. */
	tamper_case(all, 3, "p3", 1,
	            "round 1: partner p1's unmask reply does not carry its valid signature; p1 "
	            "is excluded",
	            1);
	tamper_case(p4_dropped, 4, "p4", 2,
	            "round 1: partner p1's unmask reply does not carry its valid signature; p1 "
	            "is excluded",
	            0);
}

/* No partner but `who` (NULL: none) has a fault recorded. */
static void only_fault(const struct round *R, const char *who, const char *msg)
{
	for (int i = 0; i < NP; i++) {
		const char *f = fl_secagg_coord_fault(R->c, ids[i]);

		if (who != NULL && strcmp(ids[i], who) == 0)
			assert_string_equal(f, msg);
		else if (f != NULL)
			fail_msg("%s was named: %s", ids[i], f);
	}
}

/*
 * A commitment that does not carry its dealer's signature. At the
 * coordinator (which has the dealer's certificate from its handshake) it
 * names the dealer; at a holder, after the coordinator checked it, it can
 * only be the coordinator's doing, and names nobody.
 */
static void test_commitment_signature(void **state)
{
	Fedlead__Wire__Envelope *env;
	Fedlead__Wire__ShareCommitment *keep;
	struct round R;
	uint8_t *frame = NULL;
	size_t len = 0;

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 91);
	step_adverts(&R);
	assert_int_equal(step_key_list(&R), 0);
	for (int i = 0; i < NP; i++) {
		if (fl_secagg_node_keys(R.node[i], R.kl->key_list, store, &frame, &len) != 0)
			fail_msg("node_keys %s: %s", ids[i], fl_errmsg());
		env = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET);
		if (i == 2) {
			/* p3's commitment for p1, re-signed by nobody. */
			Fedlead__Wire__ShareCommitment *cm = env->share_set->shares[0]->commitment;

			assert_string_equal(env->share_set->shares[0]->to, "p1");
			cm->seed.data[0] ^= 0x01;
		}
		assert_int_equal(fl_secagg_coord_shares(R.c, ids[i], env->share_set), 0);
		fl_wire_free(env);
	}
	only_fault(&R, "p3",
	           "round 1: partner p3's commitment to the shares it dealt p1 does not carry its "
	           "valid signature; p3 is excluded");
	assert_false(fl_secagg_coord_member(R.c, FL_SECAGG_SHARES, "p3"));
	assert_false(fl_secagg_coord_owes(R.c, "p3"));
	assert_int_equal(fl_secagg_coord_shares(R.c, "p3", NULL), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer p3: share_set out of order");
	round_end(&R);

	/* Relayed to a holder: altered, missing. */
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 92);
	step_adverts(&R);
	assert_int_equal(step_key_list(&R), 0);
	step_keys(&R);
	assert_int_equal(step_shares_for(&R), 0);
	only_fault(&R, NULL, NULL);
	assert_string_equal(R.to[0]->share_set->shares[0]->from, "p2");
	keep = R.to[0]->share_set->shares[0]->commitment;
	keep->signature.data[keep->signature.len / 2] ^= 0x01;
	refuses_shares(&R, 0, FL_ERR_AUTH,
	               "coordinator: the commitment to p2's share for this partner does not carry "
	               "p2's signature; refused");
	keep->signature.data[keep->signature.len / 2] ^= 0x01;
	R.to[0]->share_set->shares[0]->commitment = NULL;
	refuses_shares(&R, 0, FL_ERR_PROTO,
	               "coordinator: the share from p2 comes without p2's commitment to it; "
	               "refused");
	R.to[0]->share_set->shares[0]->commitment = keep;
	round_end(&R);
}

#ifdef FL_FAULT_INJECTION
/* Partner i answers the key list as a hostile partner doing `act`. */
static void keys_hostile(struct round *R, int i, const char *act)
{
	assert_int_equal(setenv("FEDLEAD_HOSTILE", act, 1), 0);
	keys_one(R, i, R->kl->key_list);
	assert_int_equal(unsetenv("FEDLEAD_HOSTILE"), 0);
}

/*
 * p3 deals p1 a share that its signed commitment does not match. p1 sees
 * it on receipt and, instead of its masked input, sends an Accusation with
 * the key of p3's share; the coordinator opens p3's own ciphertext with it
 * and names p3. The other holders go on (the state machine then excludes
 * p3 and redoes the round).
 */
static void test_bad_dealer_accused(void **state)
{
	Fedlead__Wire__Envelope *env;
	struct round R;
	uint8_t *frame = NULL;
	size_t len = 0;

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 93);
	step_adverts(&R);
	assert_int_equal(step_key_list(&R), 0);
	for (int i = 0; i < NP; i++)
		if (i == 2)
			keys_hostile(&R, i, "bad-share@1");
		else
			keys_one(&R, i, R.kl->key_list);
	assert_int_equal(step_shares_for(&R), 0);
	only_fault(&R, NULL, NULL);
	assert_int_equal(fl_secagg_node_shares(R.node[0], R.to[0]->share_set, &frame, &len), 0);
	assert_string_equal(fl_secagg_node_accused(R.node[0]), "p3");
	env = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_ACCUSATION);
	assert_string_equal(env->accusation->dealer, "p3");
	/* Nothing more of this attempt from p1. */
	assert_int_equal(fl_secagg_node_shares(R.node[0], R.to[0]->share_set, &frame, &len),
	                 FL_ERR_PROTO);
	assert_int_equal(fl_secagg_coord_accusation(R.c, "p1", env->accusation), 0);
	only_fault(&R, "p3",
	           "round 1: partner p3 dealt p1 a share that does not match p3's signed "
	           "commitment (p1's evidence checked); p3 is excluded");
	assert_false(fl_secagg_coord_owes(R.c, "p1"));
	assert_int_equal(fl_secagg_coord_accusation(R.c, "p1", env->accusation), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer p1: accusation out of order");
	fl_wire_free(env);
	/* p3's shares to the others matched: they answer as usual. */
	for (int i = 1; i < NP; i++)
		if (i != 2)
			masked_one(&R, i);
	round_end(&R);
}

/*
 * p3 seals p1 a share that does not open. The coordinator relays
 * ciphertexts, so the key of that share proves nothing; p1 discloses its
 * share-encryption secret of this attempt, which its policy allows only
 * while the threshold keeps one more colluder out (4 of 5 with
 * max_colluders = 1): the coordinator checks it against p1's advertised
 * key, derives the share's key itself and names p3. With 3 of 5 p1 only
 * refuses, naming nobody. A disclosed secret that is not p1's names p1.
 */
static void test_garbage_share(void **state)
{
	for (int k = 0; k < 3; k++) {
		Fedlead__Wire__Envelope *env;
		struct round R;
		uint8_t *frame = NULL;
		size_t len = 0;

		(void)state;
		round_begin(&R, 1, k == 1 ? 3 : 4, FL_SECAGG_FRAC_BITS, 98 + k);
		R.pol.max_colluders = 1;
		step_adverts(&R);
		assert_int_equal(step_key_list(&R), 0);
		for (int i = 0; i < NP; i++)
			if (i == 2)
				keys_hostile(&R, i, "garbage-share@1");
			else
				keys_one(&R, i, R.kl->key_list);
		assert_int_equal(step_shares_for(&R), 0);
		only_fault(&R, NULL, NULL);
		if (k == 1) {
			refuses_shares(&R, 0, FL_ERR_AUTH,
			               "share from p3 does not authenticate; refused");
			round_end(&R);
			continue;
		}
		assert_int_equal(fl_secagg_node_shares(R.node[0], R.to[0]->share_set, &frame, &len),
		                 0);
		assert_string_equal(fl_secagg_node_accused(R.node[0]), "p3");
		assert_string_equal(fl_secagg_node_accused_why(R.node[0]),
		                    "does not open under the keys both advertised");
		env = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_ACCUSATION);
		assert_int_equal(env->accusation->key.len, 0);
		assert_int_equal(env->accusation->c_secret.len, 32);
		if (k == 2)
			env->accusation->c_secret.data[7] ^= 0x01;
		assert_int_equal(fl_secagg_coord_accusation(R.c, "p1", env->accusation), 0);
		if (k == 0)
			only_fault(
			        &R, "p3",
			        "round 1: partner p3 sent p1 a share that does not open under the "
			        "keys both advertised (p1's evidence checked); p3 is excluded");
		else
			only_fault(&R, "p1",
			           "round 1: partner p1 accused p3 of dealing it a share that does "
			           "not "
			           "open, but the secret key it disclosed is not the one it "
			           "advertised; p1 is excluded");
		fl_wire_free(env);
		round_end(&R);
	}
}

/*
 * p2 accuses p1 falsely: with the true key (p1's share matches p1's
 * commitment) or with another key (it opens nothing). Either way p2 is
 * named, never p1.
 */
static void test_false_accusation(void **state)
{
	for (int forged = 0; forged < 2; forged++) {
		Fedlead__Wire__Envelope *env;
		struct round R;
		uint8_t *frame = NULL;
		size_t len = 0;

		(void)state;
		round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 94 + forged);
		step_adverts(&R);
		assert_int_equal(step_key_list(&R), 0);
		step_keys(&R);
		assert_int_equal(step_shares_for(&R), 0);
		assert_int_equal(setenv("FEDLEAD_HOSTILE", "false-accuse@1", 1), 0);
		assert_int_equal(fl_secagg_node_shares(R.node[1], R.to[1]->share_set, &frame, &len),
		                 0);
		assert_int_equal(unsetenv("FEDLEAD_HOSTILE"), 0);
		env = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_ACCUSATION);
		assert_string_equal(env->accusation->dealer, "p1");
		if (forged)
			env->accusation->key.data[0] ^= 0x01;
		assert_int_equal(fl_secagg_coord_accusation(R.c, "p2", env->accusation), 0);
		only_fault(
		        &R, "p2",
		        forged ? "round 1: partner p2 accused p1 of dealing it a bad share, but "
		                 "the key it disclosed does not open the share p1 sent it; p2 is "
		                 "excluded"
		               : "round 1: partner p2 accused p1 of dealing it a bad share, but "
		                 "the share matches p1's signed commitment; p2 is excluded");
		fl_wire_free(env);
		round_end(&R);
	}
}

/*
 * p3 deals p1 a seed share off its polynomial, and commits to it as it
 * is: every share matches p3's signature, so nobody can refuse it on
 * receipt, but t of them do not rebuild the seed p3 committed to in its
 * advertisement. That names p3: the shares and signatures are the proof.
 */
static void test_inconsistent_dealing(void **state)
{
	struct round R;
	double out[NV];

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 96);
	step_adverts(&R);
	assert_int_equal(step_key_list(&R), 0);
	for (int i = 0; i < NP; i++)
		if (i == 2)
			keys_hostile(&R, i, "inconsistent@1");
		else
			keys_one(&R, i, R.kl->key_list);
	assert_int_equal(step_shares_for(&R), 0);
	step_masked(&R);
	assert_int_equal(step_unmask_request(&R), 0);
	step_reveal(&R);
	only_fault(&R, NULL, NULL);
	fill_nan(out);
	assert_int_equal(fl_secagg_coord_finish(R.c, out), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "round 1: the shares p3 dealt do not rebuild the self-mask seed it "
	                    "committed to, though each matches its signed commitment "
	                    "(inconsistent dealing); p3 is excluded");
	only_fault(&R, "p3", fl_errmsg());
	assert_untouched(out);
	round_end(&R);
}

#endif

/*
 * Every unmask reply is signed by its revealer (protocol 4): the
 * signature verifies over what wire.proto says it covers (computed here
 * from the documented format, not by the engine), and the coordinator
 * takes the reply. A reply without it, or with one that does not verify,
 * names its revealer and sets its shares aside.
 */
static void test_reply_signature(void **state)
{
	Fedlead__Wire__Envelope *env;
	struct round R;
	double out[NV];
	ProtobufCBinaryData keep;

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 81);
	up_to_masked(&R);
	assert_int_equal(step_unmask_request(&R), 0);
	/* p1: signed, and re-signing it from the spec (nothing altered) gives
	 * a signature that verifies too; both are accepted. */
	env = unmask_one(&R, 0, R.rq->unmask_request);
	assert_true(env->unmask_reply->signature.len > 0);
	resign_reply(&R, 0, env->unmask_reply, NULL);
	assert_int_equal(fl_secagg_coord_reveal(R.c, "p1", env->unmask_reply), 0);
	assert_null(fl_secagg_coord_fault(R.c, "p1"));
	assert_true(fl_secagg_coord_member(R.c, FL_SECAGG_UNMASK, "p1"));
	fl_wire_free(env);
	/* p2: no signature. */
	env = unmask_one(&R, 1, R.rq->unmask_request);
	keep = env->unmask_reply->signature;
	env->unmask_reply->signature = (ProtobufCBinaryData){0, NULL};
	assert_int_equal(fl_secagg_coord_reveal(R.c, "p2", env->unmask_reply), 0);
	assert_string_equal(fl_secagg_coord_fault(R.c, "p2"),
	                    "round 1: partner p2 sent an unsigned unmask reply; p2 is excluded");
	env->unmask_reply->signature = keep;
	fl_wire_free(env);
	/* p3: a signature by p3's key over another reply (the engine's own
	 * reply of p3, one byte of the signature flipped). */
	env = unmask_one(&R, 2, R.rq->unmask_request);
	env->unmask_reply->signature.data[env->unmask_reply->signature.len / 2] ^= 0x01;
	assert_int_equal(fl_secagg_coord_reveal(R.c, "p3", env->unmask_reply), 0);
	assert_string_equal(fl_secagg_coord_fault(R.c, "p3"),
	                    "round 1: partner p3's unmask reply does not carry its valid "
	                    "signature; p3 is excluded");
	fl_wire_free(env);
	/* p4 signs with p5's key. */
	env = unmask_one(&R, 3, R.rq->unmask_request);
	{
		Fedlead__Wire__UnmaskReply *u = env->unmask_reply;
		EVP_PKEY *mine = keys[3];

		keys[3] = keys[4];
		resign_reply(&R, 3, u, NULL);
		keys[3] = mine;
	}
	assert_int_equal(fl_secagg_coord_reveal(R.c, "p4", env->unmask_reply), 0);
	assert_string_equal(fl_secagg_coord_fault(R.c, "p4"),
	                    "round 1: partner p4's unmask reply does not carry its valid "
	                    "signature; p4 is excluded");
	fl_wire_free(env);
	env = unmask_one(&R, 4, R.rq->unmask_request);
	assert_int_equal(fl_secagg_coord_reveal(R.c, "p5", env->unmask_reply), 0);
	fl_wire_free(env);
	/* Their shares were set aside: p1 and p5 are two, below t = 3. */
	fill_nan(out);
	assert_int_equal(fl_secagg_coord_finish(R.c, out), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "round 1: only 2 partners revealed shares, the threshold "
	                                 "is 3");
	assert_untouched(out);
	/* No evidence against any of them reaches a node: what they did is
	 * proven to the coordinator only. */
	for (int i = 0; i < NP; i++) {
		Fedlead__Wire__RevealEvidence *e = (void *)1;

		assert_int_equal(fl_secagg_coord_evidence(R.c, ids[i], NULL, &e), 0);
		assert_null(e);
	}
	round_end(&R);
}

/* Participants without the names of drop (comma-separated). */
static size_t without(const char *drop, char **out)
{
	size_t k = 0;

	for (int i = 0; i < NP; i++) {
		char pad[8];

		snprintf(pad, sizeof(pad), ",%s,", ids[i]);
		if (strstr(drop, pad) == NULL)
			out[k++] = (char *)ids[i];
	}
	return k;
}

/* Node i's history check of a task without drop (",p1,"), with evidence. */
static int check_task(struct round *R, int i, const char *drop,
                      Fedlead__Wire__RevealEvidence *const *ev, size_t nev, char proven[64])
{
	char *parts[NP];
	size_t n = without(drop, parts);

	return fl_secagg_history_check(R->hist[i], parts, n, 0, ev, nev, store, proven, 64);
}

static void refuses_evidence(struct round *R, int i, const char *drop,
                             Fedlead__Wire__RevealEvidence *ev, const char *msg)
{
	char proven[64] = "x";

	assert_int_equal(check_task(R, i, drop, &ev, 1, proven), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), msg);
	assert_string_equal(proven, "");
	assert_string_equal(fl_secagg_history_set(R->hist[i]), "p1,p2,p3,p4,p5");
}

/*
 * p1 reveals an altered share of p3's seed and signs its reply as it is.
 * The coordinator's evidence (p1's signed reply, p3's signed commitment)
 * convinces every honest node by its own checks, against its own record
 * of the attempt: each then takes a task without p1 and holds the set
 * without p1. Evidence that does not prove it is refused, each time
 * naming what failed, and the set stays.
 */
static void test_reveal_evidence(void **state)
{
	Fedlead__Wire__Envelope *env;
	Fedlead__Wire__RevealEvidence *ev = NULL, *honest = NULL;
	struct round R;
	char proven[64];

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 82);
	up_to_masked(&R);
	assert_int_equal(step_unmask_request(&R), 0);
	for (int i = 0; i < NP; i++) {
		env = unmask_one(&R, i, R.rq->unmask_request);
		if (i == 0)
			resign_reply(&R, 0, env->unmask_reply, "p3");
		assert_int_equal(fl_secagg_coord_reveal(R.c, ids[i], env->unmask_reply), 0);
		fl_wire_free(env);
	}
	only_fault(&R, "p1",
	           "round 1: partner p1 revealed a share of p3's self-mask seed that does not "
	           "match p3's signed commitment; p1 is excluded");
	assert_int_equal(fl_secagg_coord_evidence(R.c, "p1", NULL, &ev), 0);
	assert_non_null(ev);
	assert_string_equal(ev->revealer, "p1");
	assert_string_equal(ev->shares[ev->bad]->owner, "p3");
	assert_string_equal(ev->commitment->holder, "p1");
	/* Evidence against an honest revealer: its real signed reply. */
	assert_int_equal(fl_secagg_coord_evidence(R.c, "p2", NULL, &honest), 0);
	assert_null(honest);
	assert_int_equal(fl_secagg_coord_evidence(R.c, "p2", "p3", &honest), 0);
	assert_non_null(honest);

	/* A task leaving out p1 without evidence: the one-set rule. */
	assert_int_equal(check_task(&R, 1, ",p1,", NULL, 0, proven), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "the task's participants {p2,p3,p4,p5} are not the set "
	                    "{p1,p2,p3,p4,p5} this data's sums were revealed over in this "
	                    "federation: the two could be differenced");

	/* Forged: the signature. */
	ev->signature.data[ev->signature.len / 2] ^= 0x01;
	refuses_evidence(&R, 1, ",p1,", ev,
	                 "the coordinator's evidence against p1 does not verify: the unmask "
	                 "reply it shows does not carry p1's signature");
	ev->signature.data[ev->signature.len / 2] ^= 0x01;
	/* Forged: what p1 signed, with its signature. */
	ev->shares[ev->bad]->revealed.data[0] ^= 0x01;
	refuses_evidence(&R, 1, ",p1,", ev,
	                 "the coordinator's evidence against p1 does not verify: the unmask "
	                 "reply it shows does not carry p1's signature");
	ev->shares[ev->bad]->revealed.data[0] ^= 0x01;
	/* Forged: the dealer's commitment (p3's signature no longer holds). */
	ev->commitment->seed.data[0] ^= 0x01;
	refuses_evidence(&R, 1, ",p1,", ev,
	                 "the coordinator's evidence against p1 does not verify: the commitment "
	                 "it shows does not carry p3's signature");
	ev->commitment->seed.data[0] ^= 0x01;
	/* A second commitment p3 signs for p1 (p3 colluding with the
	 * coordinator to frame p1): its signature verifies (the check after
	 * it is the one that fails), but p1 never acknowledged it. */
	{
		ProtobufCBinaryData keep = ev->commitment->signature;
		uint8_t *sig = NULL;
		size_t len = 0;

		ev->commitment->seed.data[0] ^= 0x01;
		spec_sign_commitment(&R, 2, "p1", 1, ev->commitment->seed.data,
		                     ev->commitment->secret.data, &sig, &len);
		ev->commitment->signature = (ProtobufCBinaryData){len, sig};
		refuses_evidence(&R, 1, ",p1,", ev,
		                 "the coordinator's evidence against p1 does not verify: p1 "
		                 "acknowledged another commitment of p3's than the one it shows");
		ev->commitment->seed.data[0] ^= 0x01;
		free(sig);
		ev->commitment->signature = keep;
	}
	/* An honest partner's real reply: its share matches. */
	refuses_evidence(&R, 1, ",p2,", honest,
	                 "the coordinator's evidence against p2 does not verify: the share p2 "
	                 "revealed matches p3's signed commitment");
	/* Evidence of another round, and of another attempt of this round. */
	ev->ref->round = 7;
	refuses_evidence(&R, 1, ",p1,", ev,
	                 "the coordinator's evidence against p1 does not verify: it is from "
	                 "round 7; this partner last revealed shares in round 1");
	ev->ref->round = 1;
	ev->session.data[0] ^= 0x01;
	refuses_evidence(&R, 1, ",p1,", ev,
	                 "the coordinator's evidence against p1 does not verify: it is from "
	                 "another attempt of round 1 than the one this partner revealed shares "
	                 "in");
	ev->session.data[0] ^= 0x01;
	/* Naming a partner outside the set this node revealed over. */
	{
		char *who = ev->revealer;

		ev->revealer = "p9";
		refuses_evidence(&R, 1, ",p1,", ev,
		                 "the coordinator's evidence against p9 does not verify: p9 is "
		                 "not in the set {p1,p2,p3,p4,p5} this partner revealed sums over");
		ev->revealer = who;
	}
	/* Valid evidence against p1 does not let the task leave out p5 too. */
	{
		char *dummy[NP];

		(void)dummy;
		assert_int_equal(check_task(&R, 1, ",p1,p5,", &ev, 1, proven), FL_ERR_AUTH);
		assert_string_equal(fl_errmsg(),
		                    "the task's participants {p2,p3,p4} leave out partners of the "
		                    "set {p1,p2,p3,p4,p5} this data's sums were revealed over in "
		                    "this federation, and the coordinator's evidence proves a bad "
		                    "reveal of p1 only: the two could be differenced");
		assert_string_equal(fl_secagg_history_set(R.hist[1]), "p1,p2,p3,p4,p5");
	}
	/* A node that holds no reply of this federation (its set came from
	 * its ledger, after a restart) cannot check it. */
	{
		struct fl_secagg_history *h;
		char *parts[NP];
		size_t n = without(",p1,", parts);

		assert_int_equal(fl_secagg_history_new(&h), 0);
		assert_int_equal(fl_secagg_history_seed(h, "p1,p2,p3,p4,p5", "federation \"x\""),
		                 0);
		assert_int_equal(fl_secagg_history_check(h, parts, n, 0, &ev, 1, store, proven,
		                                         sizeof(proven)),
		                 FL_ERR_AUTH);
		assert_string_equal(
		        fl_errmsg(),
		        "the coordinator's evidence against p1 does not verify: this "
		        "partner holds no unmask reply of its own in this federation to "
		        "check it against");
		fl_secagg_history_free(h);
	}

	/* The real evidence: every honest node takes the task without p1. */
	for (int i = 1; i < NP; i++) {
		memset(proven, 'x', sizeof(proven));
		if (check_task(&R, i, ",p1,", &ev, 1, proven) != 0)
			fail_msg("%s: %s", ids[i], fl_errmsg());
		assert_string_equal(proven, "p1");
		assert_string_equal(fl_secagg_history_set(R.hist[i]), "p2,p3,p4,p5");
	}
	/* The same evidence again (a retry of the task, before a round is
	 * unmasked) changes nothing and is no refusal. */
	assert_int_equal(check_task(&R, 1, ",p1,", &ev, 1, proven), 0);
	assert_string_equal(proven, "");
	assert_string_equal(fl_secagg_history_set(R.hist[1]), "p2,p3,p4,p5");
	/* From then on the set is the smaller one: a task without p2 is
	 * refused as any other change. */
	assert_int_equal(check_task(&R, 1, ",p1,p2,", NULL, 0, proven), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "the task's participants {p3,p4,p5} are not the set {p2,p3,p4,p5} "
	                    "this data's sums were revealed over in this federation: the two "
	                    "could be differenced");
	fl_secagg_evidence_free(ev);
	fl_secagg_evidence_free(honest);
	round_end(&R);
}

#ifdef FL_FAULT_INJECTION
/* A revealer altering its share, through the node's own engine. */
static void test_bad_reveal(void **state)
{
	Fedlead__Wire__Envelope *env;
	struct round R;
	double out[NV];

	(void)state;
	round_begin(&R, 1, 4, FL_SECAGG_FRAC_BITS, 97);
	up_to_masked(&R);
	assert_int_equal(step_unmask_request(&R), 0);
	for (int i = 0; i < NP; i++) {
		if (i == 4)
			assert_int_equal(setenv("FEDLEAD_HOSTILE", "bad-reveal@1", 1), 0);
		env = unmask_one(&R, i, R.rq->unmask_request);
		assert_int_equal(unsetenv("FEDLEAD_HOSTILE"), 0);
		assert_int_equal(fl_secagg_coord_reveal(R.c, ids[i], env->unmask_reply), 0);
		fl_wire_free(env);
	}
	only_fault(&R, "p5",
	           "round 1: partner p5 revealed a share of p1's self-mask seed that does not "
	           "match p1's signed commitment; p5 is excluded");
	assert_int_equal(fl_secagg_coord_finish(R.c, out), 0);
	expect_survivor_sum(&R, out);
	/* p5 signed what it revealed: the evidence convinces the others. */
	{
		Fedlead__Wire__RevealEvidence *ev = NULL;
		char proven[64];

		assert_int_equal(fl_secagg_coord_evidence(R.c, "p5", NULL, &ev), 0);
		assert_non_null(ev);
		for (int i = 0; i < 4; i++) {
			if (check_task(&R, i, ",p5,", &ev, 1, proven) != 0)
				fail_msg("%s: %s", ids[i], fl_errmsg());
			assert_string_equal(proven, "p5");
			assert_string_equal(fl_secagg_history_set(R.hist[i]), "p1,p2,p3,p4");
		}
		fl_secagg_evidence_free(ev);
	}
	round_end(&R);
}
#endif

/* The coordinator refuses a reply revealing the wrong kind of share. */
static void test_wrong_kind_of_share(void **state)
{
	const enum stop p4_dropped[NP] = {RUNS, RUNS, RUNS, NO_MASKED, RUNS};
	Fedlead__Wire__Envelope *env;
	struct round R;

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 72);
	memcpy(R.stop, p4_dropped, sizeof(R.stop));
	up_to_masked(&R);
	assert_int_equal(step_unmask_request(&R), 0);
	env = unmask_one(&R, 0, R.rq->unmask_request);
	assert_int_equal(env->unmask_reply->shares[0]->what, 1);
	env->unmask_reply->shares[0]->what = 2; /* p1's own seed share as a "secret" share */
	assert_int_equal(fl_secagg_coord_reveal(R.c, "p1", env->unmask_reply), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer p1: revealed the wrong kind of share of p1");
	fl_wire_free(env);
	env = unmask_one(&R, 1, R.rq->unmask_request);
	assert_string_equal(env->unmask_reply->shares[4]->owner, "p4");
	env->unmask_reply->shares[4]->what = 1; /* a dropped partner's "seed" */
	assert_int_equal(fl_secagg_coord_reveal(R.c, "p2", env->unmask_reply), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer p2: revealed the wrong kind of share of p4");
	fl_wire_free(env);
	round_end(&R);
}

/* ---- a deviating coordinator: tasks, participants, survivor sets -------- */

/*
 * The coordinator sends p5 a task that differs from everyone else's (say,
 * weights that zero the others' Hessians so "the sum" is p5's alone): the
 * task hash p5 signs differs, and every other partner refuses before it
 * sends anything derived from its data. Copying the others' hash into p5's
 * entry does not help: p5's signature covers the hash p5 computed.
 */
static void test_different_task_refused(void **state)
{
	struct round R;
	uint8_t *frame = NULL, good[32];
	size_t len = 0;

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 61);
	for (int i = 0; i < NP; i++) {
		Fedlead__Wire__Envelope *env;

		if (i == 4)
			R.task[0] ^= 1; /* p5 was given another task */
		if (fl_secagg_node_start(FED, &R.ref, &R.p, R.t, ids[i], keys[i], R.task, &R.pol,
		                         R.hist[i], R.kind, R.x[i], NV, &R.node[i], &frame,
		                         &len) != 0)
			fail_msg("node_start %s: %s", ids[i], fl_errmsg());
		if (i == 4)
			R.task[0] ^= 1;
		env = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT);
		assert_int_equal(
		        fl_secagg_coord_advert(R.c, ids[i], env->key_advert, ders[i], der_lens[i]),
		        0);
		fl_wire_free(env);
	}
	assert_int_equal(step_key_list(&R), 0);
	for (int i = 0; i < 4; i++)
		refuses_keys(&R, i, R.kl->key_list, FL_ERR_AUTH,
		             "partner p5 was given a different task than this partner (weights, "
		             "round, participants or parameters); refused: a coordinator that does "
		             "this can isolate one partner's update");
	/* p5 itself sees the four others differ from its task. */
	refuses_keys(&R, 4, R.kl->key_list, FL_ERR_AUTH,
	             "partner p1 was given a different task than this partner (weights, round, "
	             "participants or parameters); refused: a coordinator that does this can "
	             "isolate one partner's update");
	/* The coordinator relabels p5's entry with the common hash. */
	memcpy(good, R.task, sizeof(good));
	memcpy(R.kl->key_list->entries[4]->task_hash.data, good, sizeof(good));
	refuses_keys(&R, 0, R.kl->key_list, FL_ERR_AUTH,
	             "key advertisement of p5: signature does not verify");
	round_end(&R);
}

/* Who takes part is the node's business: left out, too few, strangers. */
static void test_participants_checked(void **state)
{
	char *three[] = {"p1", "p2", "p3"}, *four[] = {"p1", "p2", "p3", "p4"};
	struct round R;
	uint8_t *frame = (uint8_t *)"sentinel";
	size_t len = 1;

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 71);
	/* A task whose participant list leaves p5 out. */
	R.p.participants = four;
	R.p.n_participants = 4;
	assert_int_equal(fl_secagg_node_start(FED, &R.ref, &R.p, R.t, "p5", keys[4], R.task, &R.pol,
	                                      R.hist[4], R.kind, R.x[4], NV, &R.node[4], &frame,
	                                      &len),
	                 FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(),
	                    "coordinator: the task's participant list leaves this partner out");
	assert_null(R.node[4]);
	/* Three participants, where p1's policy wants four in any sum. */
	R.p.participants = three;
	R.p.n_participants = 3;
	R.pol.min_partners = 4;
	assert_int_equal(fl_secagg_node_start(FED, &R.ref, &R.p, R.t, "p1", keys[0], R.task, &R.pol,
	                                      R.hist[0], R.kind, R.x[0], NV, &R.node[0], &frame,
	                                      &len),
	                 FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "node policy min_partners: the task has 3 participants, "
	                                 "fewer than the 4 this partner requires in any sum; "
	                                 "refused");
	assert_null(frame);
	R.pol.min_partners = 2;
	round_end(&R);
	/* A key list naming someone outside the task's list (p4 and p5 here). */
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 72);
	step_adverts(&R);
	assert_int_equal(step_key_list(&R), 0);
	fl_secagg_node_free(R.node[0]);
	R.node[0] = NULL;
	R.p.participants = three;
	R.p.n_participants = 3;
	/* p1 restarts the round believing only p1..p3 take part. */
	{
		Fedlead__Wire__Envelope *env;

		if (fl_secagg_node_start(FED, &R.ref, &R.p, R.t, "p1", keys[0], R.task, &R.pol,
		                         R.hist[0], R.kind, R.x[0], NV, &R.node[0], &frame,
		                         &len) != 0)
			fail_msg("node_start p1: %s", fl_errmsg());
		env = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT);
		/* its fresh keys replace the old ones in the list */
		memcpy(R.kl->key_list->entries[0]->c_pub.data, env->key_advert->c_pub.data, 32);
		memcpy(R.kl->key_list->entries[0]->s_pub.data, env->key_advert->s_pub.data, 32);
		memcpy(R.kl->key_list->entries[0]->b_commit.data, env->key_advert->b_commit.data,
		       32);
		fl_wire_free(env);
	}
	refuses_keys(&R, 0, R.kl->key_list, FL_ERR_AUTH,
	             "coordinator: the key list names \"p4\", who is not among the task's "
	             "participants; refused");
	round_end(&R);
}

/*
 * Dropout differencing: a sum over all five at some weights, then (after
 * "p5 dropped") a sum over four at the same or nearly the same weights; the
 * difference is p5's update. A node reveals sums over one survivor set per
 * federation unless its operator allows the set to change.
 */
static void test_one_survivor_set_per_federation(void **state)
{
	char *four[] = {"p1", "p2", "p3", "p4", NULL}, *p5[] = {"p5", NULL};
	struct fl_secagg_history *keep[NP];
	struct round R;
	double out[NV];

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 91);
	assert_int_equal(run_round(&R, out), 0);
	assert_string_equal(fl_secagg_history_set(R.hist[0]), "p1,p2,p3,p4,p5");
	/* Round 2 of the same federation: the histories carry over. */
	for (int i = 0; i < NP; i++) {
		keep[i] = R.hist[i];
		R.hist[i] = NULL;
	}
	round_end(&R);
	round_begin(&R, 2, 3, FL_SECAGG_FRAC_BITS, 92);
	for (int i = 0; i < NP; i++) {
		fl_secagg_history_free(R.hist[i]);
		R.hist[i] = keep[i];
	}
	up_to_masked(&R);
	refuses_check(
	        &R, 0, four, p5, FL_ERR_AUTH,
	        "node policy: this federation's sums so far were over {p1,p2,p3,p4,p5}; the "
	        "coordinator now asks to reveal a sum over {p1,p2,p3,p4}, which would let the "
	        "two be differenced; refused (allow_participant_change permits it)");
	/* The engine names the rule itself (the node audits it). */
	assert_string_equal(fl_secagg_node_refused_rule(R.node[0]), "allow_participant_change");
	/* The same set as before is fine. */
	{
		char *all[] = {"p1", "p2", "p3", "p4", "p5", NULL}, *none[] = {NULL};

		fl_wire_free(sign_set(&R, 1, all, none));
	}
	round_end(&R);
	/* An operator who allows it gets the sum over four. */
	round_begin(&R, 2, 3, FL_SECAGG_FRAC_BITS, 93);
	R.pol.allow_participant_change = 1;
	assert_int_equal(fl_secagg_history_new(&keep[0]), 0);
	fl_secagg_history_free(R.hist[0]);
	R.hist[0] = keep[0];
	up_to_masked(&R);
	fl_wire_free(sign_set(&R, 0, four, p5));
	round_end(&R);
}

/* Every attempt starts from fresh secrets, so shares revealed in one
 * attempt never combine with another's. */
static void test_fresh_secrets_per_attempt(void **state)
{
	struct round R;
	Fedlead__Wire__Envelope *a, *b;
	uint8_t *frame = NULL;
	size_t len = 0;
	struct fl_secagg_node *n2 = NULL;

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 95);
	assert_int_equal(fl_secagg_node_start(FED, &R.ref, &R.p, R.t, "p1", keys[0], R.task, &R.pol,
	                                      R.hist[0], R.kind, R.x[0], NV, &R.node[0], &frame,
	                                      &len),
	                 0);
	a = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT);
	assert_int_equal(fl_secagg_node_start(FED, &R.ref, &R.p, R.t, "p1", keys[0], R.task, &R.pol,
	                                      R.hist[0], R.kind, R.x[0], NV, &n2, &frame, &len),
	                 0);
	b = decode(frame, len, FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT);
	assert_memory_not_equal(a->key_advert->c_pub.data, b->key_advert->c_pub.data, 32);
	assert_memory_not_equal(a->key_advert->s_pub.data, b->key_advert->s_pub.data, 32);
	assert_memory_not_equal(a->key_advert->b_commit.data, b->key_advert->b_commit.data, 32);
	assert_memory_equal(a->key_advert->task_hash.data, R.task, 32);
	fl_wire_free(a);
	fl_wire_free(b);
	fl_secagg_node_free(n2);
	round_end(&R);
}

/* ---- misuse of the engine ------------------------------------------------- */

static void test_out_of_order_and_bounds(void **state)
{
	struct round R;
	uint8_t *frame = (uint8_t *)"x";
	size_t len = 1;
	char msg[256];

	(void)state;
	round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 81);
	/* A value over the announced bound is refused before anything is sent. */
	R.x[2][6] = R.p.bound * 2;
	assert_int_equal(fl_secagg_node_start(FED, &R.ref, &R.p, 3, "p3", keys[2], R.task, &R.pol,
	                                      R.hist[2], R.kind, R.x[2], NV, &R.node[2], &frame,
	                                      &len),
	                 FL_ERR_LIMIT);
	snprintf(msg, sizeof(msg),
	         "update element 6 is %.17g, outside the fixed-point bound "
	         "+-%.17g",
	         R.p.bound * 2, R.p.bound);
	assert_string_equal(fl_errmsg(), msg);
	assert_null(R.node[2]);
	assert_null(frame);
	R.x[2][6] = 0;
	step_adverts(&R);
	/* A second advertisement, or one from a stranger. */
	assert_int_equal(fl_secagg_coord_advert(R.c, "mallory", NULL, ders[0], der_lens[0]),
	                 FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer mallory: key_advert out of order");
	/* Nodes: shares or an unmask request before the key list. */
	{
		Fedlead__Wire__ShareSet ss = FEDLEAD__WIRE__SHARE_SET__INIT;
		Fedlead__Wire__UnmaskRequest rq = FEDLEAD__WIRE__UNMASK_REQUEST__INIT;

		assert_int_equal(fl_secagg_node_shares(R.node[0], &ss, &frame, &len), FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(), "coordinator: share_set out of order");
		assert_int_equal(fl_secagg_node_unmask(R.node[0], &rq, &frame, &len), FL_ERR_PROTO);
		assert_string_equal(fl_errmsg(), "coordinator: unmask_request out of order");
	}
	assert_int_equal(step_key_list(&R), 0);
	step_keys(&R);
	assert_int_equal(fl_secagg_node_keys(R.node[0], R.kl->key_list, store, &frame, &len),
	                 FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "coordinator: key_list out of order");
	assert_int_equal(step_shares_for(&R), 0);
	/* The coordinator: a masked input of the wrong length is p1's own
	 * doing (its own connection): p1 is named and owes nothing more. */
	{
		Fedlead__Wire__MaskedUpdate mu = FEDLEAD__WIRE__MASKED_UPDATE__INIT;
		uint64_t v[NV - 1] = {0};

		mu.kind = R.kind;
		mu.values = v;
		mu.n_values = NV - 1;
		assert_null(fl_secagg_coord_fault(R.c, "p1"));
		assert_int_equal(fl_secagg_coord_masked(R.c, "p1", &mu), 0);
		snprintf(msg, sizeof(msg),
		         "round 1: partner p1 sent a masked update of %d values of kind %d, "
		         "expected %d of kind %d; p1 is excluded",
		         NV - 1, (int)R.kind, NV, (int)R.kind);
		assert_string_equal(fl_secagg_coord_fault(R.c, "p1"), msg);
		assert_false(fl_secagg_coord_owes(R.c, "p1"));
		assert_false(fl_secagg_coord_member(R.c, FL_SECAGG_SHARES, "p1"));
		for (int i = 1; i < NP; i++)
			assert_null(fl_secagg_coord_fault(R.c, ids[i]));
	}
	R.stop[0] = NO_MASKED;
	step_masked(&R);
	assert_int_equal(fl_secagg_coord_masked(R.c, "p1", NULL), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer p1: masked_update out of order");
	round_end(&R);

	/* The coordinator's own parameters. */
	{
		struct fl_secagg_coord *c = (struct fl_secagg_coord *)1;
		const char *unsorted[] = {"p2", "p1", "p3"};

		round_begin(&R, 1, 3, FL_SECAGG_FRAC_BITS, 82);
		assert_int_equal(fl_secagg_coord_new(FED, &R.ref, &R.p, 1, ids, NP, R.kind, NV, &c),
		                 FL_ERR_INVALID);
		assert_string_equal(fl_errmsg(), "secure aggregation needs 2 <= threshold (1) <= "
		                                 "partners (5) <= 255");
		assert_null(c);
		assert_int_equal(fl_secagg_coord_new(FED, &R.ref, &R.p, 6, ids, NP, R.kind, NV, &c),
		                 FL_ERR_INVALID);
		assert_int_equal(
		        fl_secagg_coord_new(FED, &R.ref, &R.p, 2, unsorted, 3, R.kind, NV, &c),
		        FL_ERR_INVALID);
		assert_string_equal(fl_errmsg(), "secure aggregation: partner \"p1\" is out of "
		                                 "order (partners must be sorted and distinct)");
		assert_null(c);
		round_end(&R);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_no_dropout),
	        cmocka_unit_test(test_dropout_after_masked),
	        cmocka_unit_test(test_dropout_before_masked),
	        cmocka_unit_test(test_dropout_below_threshold),
	        cmocka_unit_test(test_forged_key_list),
	        cmocka_unit_test(test_key_substitution),
	        cmocka_unit_test(test_threshold_too_low),
	        cmocka_unit_test(test_both_shares_refused),
	        cmocka_unit_test(test_replayed_share),
	        cmocka_unit_test(test_malformed_share),
	        cmocka_unit_test(test_commitment_signature),
#ifdef FL_FAULT_INJECTION
	        cmocka_unit_test(test_bad_dealer_accused),
	        cmocka_unit_test(test_false_accusation),
	        cmocka_unit_test(test_garbage_share),
	        cmocka_unit_test(test_inconsistent_dealing),
	        cmocka_unit_test(test_bad_reveal),
#endif
	        cmocka_unit_test(test_reply_signature),
	        cmocka_unit_test(test_reveal_evidence),
	        cmocka_unit_test(test_wrong_kind_of_share),
	        cmocka_unit_test(test_out_of_order_and_bounds),
	        cmocka_unit_test(test_different_task_refused),
	        cmocka_unit_test(test_participants_checked),
	        cmocka_unit_test(test_one_survivor_set_per_federation),
	        cmocka_unit_test(test_fresh_secrets_per_attempt),
	};

	return cmocka_run_group_tests_name("sagg", tests, certs_setup, certs_teardown);
}
