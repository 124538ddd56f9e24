/*
 * Tests for the node policy (src/fed/node.c): a partner's node refuses what
 * a deviating coordinator asks for, whatever the coordinator's own
 * configuration says. The node state machine is driven in one process with
 * crafted messages (Welcome, tasks, key lists, unmask requests, Reject), as
 * a coordinator patched to deviate would send them; each refusal is checked
 * by its exact message, its audit-log entry and its fatal flag, and that no
 * reply frame (nothing derived from the rows) comes back.
 *
 * The CoIL 2000 leads serve as the partner's rows; what matters here is the
 * schema's dimension, not the values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/log.h"
#include "fedlead/node.h"
#include "fedlead/schema.h"
#include "fedlead/secagg.h"
#include "fedlead/wire.h"
#include "support/node_harness.h"

#define FED "fed-policy"

static int group_setup(void **state)
{
	return node_fixture_setup(state, "/tmp/fl-node-policy.XXXXXX", "deviating", 2);
}

static int group_teardown(void **state)
{
	return node_fixture_teardown(state);
}

/* ---- a node under test, with its audit log ---- */

static void tnode_new(struct tnode *t, const struct fl_node_policy *pol, const char *name)
{
	tnode_start(t, pol, name);
}

/* ---- crafted coordinator messages, all of federation FED ---- */

/* A stats task; secure with the given fixed-point format, or plain (frac < 0). */
static Fedlead__Wire__Envelope *stats_task(struct task_msg *m, uint64_t round, int frac,
                                           double bound)
{
	task_ref_fed(m, FED, round);
	fedlead__wire__stats_task__init(&m->stats);
	m->stats.ref = &m->ref;
	if (frac >= 0)
		m->stats.secagg = task_secagg(m, frac, bound);
	m->env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK;
	m->env.stats_task = &m->stats;
	return &m->env;
}

/* Identity standardisation with d columns. */
static Fedlead__Wire__Envelope *standardize(struct task_msg *m, uint64_t round, size_t d)
{
	return standardize_task(m, FED, round, d);
}

static Fedlead__Wire__Envelope *local_train(struct task_msg *m, uint64_t round, uint32_t epochs)
{
	return local_train_task(m, FED, round, epochs);
}

static Fedlead__Wire__Envelope *eval_task(struct task_msg *m, uint64_t round, size_t nw)
{
	return eval_task_fed(m, FED, round, nw);
}

struct keylist_msg {
	Fedlead__Wire__Envelope env;
	Fedlead__Wire__RoundRef ref;
	Fedlead__Wire__KeyList kl;
	Fedlead__Wire__KeyEntry e[4], *ep[4];
	uint8_t junk[32];
};

/* A key list naming ids (sorted); nothing in it would verify, which does
 * not matter: the policy is checked first. */
static Fedlead__Wire__Envelope *key_list(struct keylist_msg *m, uint64_t round,
                                         const char *const *ids, size_t n)
{
	memset(m, 0, sizeof(*m));
	fedlead__wire__envelope__init(&m->env);
	round_ref(&m->ref, FED, round);
	fedlead__wire__key_list__init(&m->kl);
	m->kl.ref = &m->ref;
	for (size_t i = 0; i < n; i++) {
		fedlead__wire__key_entry__init(&m->e[i]);
		m->e[i].identity = (char *)ids[i];
		m->e[i].c_pub = m->e[i].s_pub = m->e[i].b_commit =
		        (ProtobufCBinaryData){sizeof(m->junk), m->junk};
		m->ep[i] = &m->e[i];
	}
	m->kl.entries = m->ep;
	m->kl.n_entries = n;
	m->env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST;
	m->env.key_list = &m->kl;
	return &m->env;
}

/* ---- log capture: what fl_log writes to standard error ---- */

struct capture {
	int saved;
	char path[128];
};

static void capture_start(struct capture *c)
{
	int fd;

	snprintf(c->path, sizeof(c->path), "%s/stderr.txt", FX->dir);
	fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	c->saved = dup(2);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
}

/* Stops capturing; returns the number of lines containing text. */
static int capture_count(struct capture *c, const char *text)
{
	FILE *fp;
	char line[8192];
	int n = 0;

	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	fp = fopen(c->path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		n += strstr(line, text) != NULL;
	fclose(fp);
	return n;
}

/* ---- tests ---- */

static void secure_start(struct tnode *tn, uint64_t round);

static void default_policy(struct fl_node_policy *p)
{
	fl_node_policy_default(p);
	p->federation_id = FED;
}

/* Attack 1: a coordinator started with --secure-aggregation no. */
static void test_downgrade_refused(void **state)
{
	struct fl_node_policy pol;
	struct welcome_msg w;
	struct task_msg t;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len;
	int r;

	(void)state;
	default_policy(&pol);
	tnode_new(&tn, &pol, "downgrade");
	r = fl_fednode_input(tn.n, "coordinator 127.0.0.1:1", welcome(&w, FED, 0), &frame, &len);
	assert_refused(&tn, r, frame, "require_secure_aggregation",
	               "policy require_secure_aggregation: coordinator runs federation "
	               "\"fed-policy\" without secure aggregation, so this partner's updates would "
	               "reach it in plaintext; refused");
	assert_int_equal(fl_fednode_welcomed(tn.n), 0);
	/* Nothing of the rows is answered after a refused Welcome either. */
	r = fl_fednode_input(tn.n, "coordinator 127.0.0.1:1", stats_task(&t, 1, -1, 0), &frame,
	                     &len);
	assert_int_equal(r, FL_ERR_PROTO);
	assert_null(frame);
	assert_string_equal(fl_errmsg(), "coordinator: stats_task before welcome");
	tnode_free(&tn);
}

/* Plaintext allowed explicitly: accepted, with a warning on every round. */
/* A downgrade in the middle of a secure federation: a plain task. */
static void test_downgrade_mid_federation(void **state)
{
	struct fl_node_policy pol;
	struct task_msg t;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len;
	int r;

	(void)state;
	default_policy(&pol);
	pol.allow_plaintext = 1; /* the plan said secure: allowing plaintext changes nothing */
	tnode_new(&tn, &pol, "downgrade2");
	secure_start(&tn, 1);
	r = fl_fednode_input(tn.n, "c", stats_task(&t, 2, -1, 0), &frame, &len);
	assert_refused(&tn, r, frame, "require_secure_aggregation",
	               "policy require_secure_aggregation: coordinator sent stats_task without "
	               "secure aggregation in a secure federation; refused");
	tnode_free(&tn);
}

static void test_plaintext_allowed_warns_every_round(void **state)
{
	struct fl_node_policy pol;
	struct welcome_msg w;
	struct task_msg t;
	struct capture cap;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len;

	(void)state;
	default_policy(&pol);
	pol.allow_plaintext = 1;
	tnode_new(&tn, &pol, "plaintext");
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, FED, 0), &frame, &len),
	                 FL_FEDNODE_NONE);
	capture_start(&cap);
	for (uint64_t round = 1; round <= 3; round++) {
		assert_int_equal(
		        fl_fednode_input(tn.n, "c", stats_task(&t, round, -1, 0), &frame, &len),
		        FL_FEDNODE_REPLY);
		free(frame);
		frame = NULL;
	}
	assert_int_equal(capture_count(&cap, "this partner's update goes to the coordinator in "
	                                     "plaintext (allow_plaintext_updates = yes)"),
	                 3);
	tnode_free(&tn);
}

static void test_wrong_federation(void **state)
{
	struct fl_node_policy pol;
	struct welcome_msg w;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len;
	int r;

	(void)state;
	default_policy(&pol);
	tnode_new(&tn, &pol, "federation");
	r = fl_fednode_input(tn.n, "c", welcome(&w, "other-fed", 1), &frame, &len);
	assert_refused(&tn, r, frame, "federation",
	               "policy federation: coordinator runs federation \"other-fed\", this node "
	               "joins only \"fed-policy\"; refused");
	tnode_free(&tn);
}

/* A secure federation is welcomed and its first stats task answered with
 * a key advertisement (the format the stock coordinator uses for 3). */
static void secure_start(struct tnode *tn, uint64_t round)
{
	struct welcome_msg w;
	struct task_msg t;
	uint8_t *frame = NULL;
	size_t len;

	assert_int_equal(fl_fednode_input(tn->n, "c", welcome(&w, FED, 1), &frame, &len),
	                 FL_FEDNODE_NONE);
	assert_int_equal(fl_fednode_input(tn->n, "c",
	                                  stats_task(&t, round, FL_SECAGG_STATS_FRAC_BITS,
	                                             fl_fixed_bound(FL_SECAGG_STATS_FRAC_BITS, 3)),
	                                  &frame, &len),
	                 FL_FEDNODE_REPLY);
	free(frame);
}

/* Attack 4: sub-federations of two. */
static void test_small_key_list(void **state)
{
	static const char *const two[] = {"acme", ME};
	struct fl_node_policy pol;
	struct keylist_msg kl;
	struct capture cap;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len;
	int r;

	(void)state;
	default_policy(&pol);
	tnode_new(&tn, &pol, "keylist");
	secure_start(&tn, 1);
	r = fl_fednode_input(tn.n, "c", key_list(&kl, 1, two, 2), &frame, &len);
	assert_refused(&tn, r, frame, "min_partners",
	               "policy min_partners: round 1: the key list names 2 partners, fewer than "
	               "min_partners = 3; refused");
	tnode_free(&tn);

	/* Lowered explicitly: the policy lets the list through (to the
	 * signature checks, which this junk list fails) and warns. */
	pol.min_partners = 2;
	tnode_new(&tn, &pol, "keylist2");
	capture_start(&cap);
	secure_start(&tn, 1);
	assert_int_equal(capture_count(&cap, "round 1: min_partners = 2 allows a sum over 2 "
	                                     "partners"),
	                 1);
	r = fl_fednode_input(tn.n, "c", key_list(&kl, 1, two, 2), &frame, &len);
	assert_true(r < 0);
	assert_null(frame);
	assert_int_equal(fl_fednode_fatal(tn.n), 0);
	assert_null(strstr(fl_errmsg(), "policy"));
	tnode_free(&tn);
}

static void test_participant_outside_consortium(void **state)
{
	static const char *const ids[] = {"acme", ME, "mallory"};
	struct fl_node_policy pol;
	struct keylist_msg kl;
	struct welcome_msg w;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len;
	int r;

	(void)state;
	default_policy(&pol);
	pol.partners = CONSORTIUM;
	pol.n_partners = 3;
	tnode_new(&tn, &pol, "consortium");
	secure_start(&tn, 1);
	r = fl_fednode_input(tn.n, "c", key_list(&kl, 1, ids, 3), &frame, &len);
	assert_refused(&tn, r, frame, "partners",
	               "policy partners: round 1: the key list names \"mallory\", who is not in "
	               "this node's partners list; refused");
	tnode_free(&tn);

	/* This partner itself under a name outside the list. */
	tnode_new(&tn, &pol, "consortium2");
	welcome(&w, FED, 1);
	w.w.partner_identity = (char *)"hooli";
	r = fl_fednode_input(tn.n, "c", &w.env, &frame, &len);
	assert_refused(&tn, r, frame, "partners",
	               "policy partners: coordinator calls this partner \"hooli\", who is not in "
	               "this node's partners list; refused");
	tnode_free(&tn);
}

/* The sum of an unmasking is over the survivors: two is a sub-federation. */
static void test_unmask_survivors(void **state)
{
	static char *two[] = {(char *)"acme", (char *)ME};
	struct fl_node_policy pol;
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__UnmaskRequest rq = FEDLEAD__WIRE__UNMASK_REQUEST__INIT;
	Fedlead__Wire__RoundRef ref = FEDLEAD__WIRE__ROUND_REF__INIT;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len;
	int r;

	(void)state;
	default_policy(&pol);
	tnode_new(&tn, &pol, "unmask");
	secure_start(&tn, 1);
	ref.federation_id = (char *)FED;
	ref.round = 1;
	ref.schema_fingerprint = (ProtobufCBinaryData){FL_FINGERPRINT_LEN, FX->s->fingerprint};
	rq.ref = &ref;
	rq.survivors = two;
	rq.n_survivors = 2;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST;
	env.unmask_request = &rq;
	r = fl_fednode_input(tn.n, "c", &env, &frame, &len);
	assert_refused(&tn, r, frame, "min_partners",
	               "policy min_partners: round 1: the unmask request names 2 survivors, fewer "
	               "than min_partners = 3; refused");
	tnode_free(&tn);
}

static void test_epochs_and_rounds(void **state)
{
	struct fl_node_policy pol;
	struct welcome_msg w;
	struct task_msg t;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len;
	int r;

	(void)state;
	default_policy(&pol);
	pol.allow_plaintext = 1;
	tnode_new(&tn, &pol, "epochs");
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, FED, 0), &frame, &len), 0);
	assert_int_equal(fl_fednode_input(tn.n, "c", standardize(&t, 2, FX->s->dim), &frame, &len),
	                 FL_FEDNODE_NONE);
	task_free(&t);
	r = fl_fednode_input(tn.n, "c", local_train(&t, 3, 101), &frame, &len);
	task_free(&t);
	assert_refused(&tn, r, frame, "max_local_epochs",
	               "policy max_local_epochs: coordinator sent local_train with 101 epochs, "
	               "more than max_local_epochs = 100; refused");
	/* 2^31 - 1, the reviewer's value, likewise. */
	r = fl_fednode_input(tn.n, "c", local_train(&t, 3, 2147483647u), &frame, &len);
	task_free(&t);
	assert_refused(&tn, r, frame, "max_local_epochs",
	               "policy max_local_epochs: coordinator sent local_train with 2147483647 "
	               "epochs, more than max_local_epochs = 100; refused");
	/* Within the bound, the task is done. */
	assert_int_equal(fl_fednode_input(tn.n, "c", local_train(&t, 4, 1), &frame, &len),
	                 FL_FEDNODE_REPLY);
	task_free(&t);
	free(frame);
	frame = NULL;
	r = fl_fednode_input(tn.n, "c", stats_task(&t, 10001, -1, 0), &frame, &len);
	assert_refused(&tn, r, frame, "max_rounds",
	               "policy max_rounds: coordinator sent stats_task for round 10001, beyond "
	               "max_rounds = 10000; refused");
	tnode_free(&tn);
}

static void test_vector_sizes(void **state)
{
	struct fl_node_policy pol;
	struct welcome_msg w;
	struct task_msg t;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len, d = FX->s->dim;
	char want[256];
	int r;

	(void)state;
	default_policy(&pol);
	pol.allow_plaintext = 1;
	tnode_new(&tn, &pol, "sizes");
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, FED, 0), &frame, &len), 0);
	r = fl_fednode_input(tn.n, "c", standardize(&t, 2, d + 1), &frame, &len);
	task_free(&t);
	snprintf(want, sizeof(want),
	         "policy vector_size: coordinator sent standardize for %zu "
	         "columns, the schema has %zu; refused",
	         d + 1, d);
	assert_refused(&tn, r, frame, "vector_size", want);
	assert_int_equal(fl_fednode_input(tn.n, "c", standardize(&t, 2, d), &frame, &len), 0);
	task_free(&t);
	r = fl_fednode_input(tn.n, "c", eval_task(&t, 3, d - 1), &frame, &len);
	task_free(&t);
	snprintf(want, sizeof(want),
	         "policy vector_size: coordinator sent eval_task with %zu "
	         "weights, the schema has %zu; refused",
	         d - 1, d);
	assert_refused(&tn, r, frame, "vector_size", want);
	tnode_free(&tn);
}

/* The bound as a one-bit oracle: only the bounds the policy allows, pinned
 * for the federation, and the precision fixed by the protocol. */
static void test_bound(void **state)
{
	const int f = FL_SECAGG_STATS_FRAC_BITS;
	struct fl_node_policy pol;
	struct welcome_msg w;
	struct task_msg t;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len;
	char want[512];
	int r;

	(void)state;
	default_policy(&pol);
	tnode_new(&tn, &pol, "bound");
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, FED, 1), &frame, &len), 0);
	r = fl_fednode_input(tn.n, "c", stats_task(&t, 1, f, 1000.0), &frame, &len);
	assert_refused(&tn, r, frame, "bound",
	               "policy bound: coordinator sent stats_task with the fixed-point bound 1000, "
	               "which is not the bound of a federation of 2 to 255 partners; refused");
	r = fl_fednode_input(tn.n, "c", stats_task(&t, 1, 20, fl_fixed_bound(20, 3)), &frame, &len);
	assert_refused(&tn, r, frame, "bound",
	               "policy bound: coordinator sent stats_task with 20 fractional bits, the "
	               "protocol fixes 16; refused");
	/* The bound of a "federation" of one: all of a partner's range. */
	r = fl_fednode_input(tn.n, "c", stats_task(&t, 1, f, fl_fixed_bound(f, 1)), &frame, &len);
	snprintf(want, sizeof(want),
	         "policy bound: coordinator sent stats_task with the "
	         "fixed-point bound %.17g, which is not the bound of a federation of 2 to 255 "
	         "partners; refused",
	         fl_fixed_bound(f, 1));
	assert_refused(&tn, r, frame, "bound", want);
	/* Accepted once, then pinned: another allowed bound is refused later. */
	assert_int_equal(fl_fednode_input(tn.n, "c", stats_task(&t, 1, f, fl_fixed_bound(f, 4)),
	                                  &frame, &len),
	                 FL_FEDNODE_REPLY);
	free(frame);
	frame = NULL;
	r = fl_fednode_input(tn.n, "c", stats_task(&t, 2, f, fl_fixed_bound(f, 5)), &frame, &len);
	snprintf(want, sizeof(want),
	         "policy bound: coordinator sent stats_task with the "
	         "fixed-point bound %.17g, but this federation uses %.17g; refused",
	         fl_fixed_bound(f, 5), fl_fixed_bound(f, 4));
	assert_refused(&tn, r, frame, "bound", want);
	tnode_free(&tn);

	/* With a consortium list the size is known: no choice at all. */
	pol.partners = CONSORTIUM;
	pol.n_partners = 3;
	tnode_new(&tn, &pol, "bound2");
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, FED, 1), &frame, &len), 0);
	r = fl_fednode_input(tn.n, "c", stats_task(&t, 1, f, fl_fixed_bound(f, 4)), &frame, &len);
	snprintf(want, sizeof(want),
	         "policy bound: coordinator sent stats_task with the "
	         "fixed-point bound %.17g, which is not the bound of a federation of 3 to 3 "
	         "partners; refused",
	         fl_fixed_bound(f, 4));
	assert_refused(&tn, r, frame, "bound", want);
	tnode_free(&tn);
}

static int ledger_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[2048];
	int n = 0;

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		n++;
	fclose(fp);
	return n;
}

/* Attack 4 across federations: the ledger counts those joined on this data. */
static void test_max_federations(void **state)
{
	struct fl_node_policy pol;
	struct welcome_msg w;
	struct tnode tn;
	char ledger[160], want[512], line[256], digest[65];
	uint8_t *frame = NULL;
	size_t len;
	FILE *fp;
	int r;

	(void)state;
	snprintf(ledger, sizeof(ledger), "%s/federations.ledger", FX->dir);
	unlink(ledger);
	fl_node_policy_default(&pol); /* any federation id: this test names several */
	tnode_new(&tn, &pol, "ledger");
	assert_int_equal(fl_fednode_set_ledger(tn.n, ledger, 2, 3600), 0);
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, "fed-a", 1), &frame, &len), 0);
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, "fed b", 1), &frame, &len), 0);
	assert_int_equal(ledger_lines(ledger), 2);
	r = fl_fednode_input(tn.n, "c", welcome(&w, "fed-c", 1), &frame, &len);
	snprintf(want, sizeof(want),
	         "policy max_federations: this data already joined 2 other "
	         "federations in the last 3600 s (max_federations = 2, ledger %s), and \"fed-c\" "
	         "would be one more; refused",
	         ledger);
	assert_refused(&tn, r, frame, "max_federations", want);
	assert_int_equal(ledger_lines(ledger), 2);
	/* Rejoining one already counted is not a new federation. */
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, "fed b", 1), &frame, &len), 0);
	assert_int_equal(ledger_lines(ledger), 2);
	tnode_free(&tn);

	/* Entries older than the window do not count: the two federations
	 * above, dated back to 1970, leave room for one more. */
	fp = fopen(ledger, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	assert_int_equal(sscanf(line, "v1 %*d %64s", digest), 1);
	assert_int_equal(strlen(digest), 64);
	fp = fopen(ledger, "w");
	assert_non_null(fp);
	fprintf(fp, "v1 1000 %s old-1\nv1 2000 %s old-2\n", digest, digest);
	fclose(fp);
	tnode_new(&tn, &pol, "ledger2");
	assert_int_equal(fl_fednode_set_ledger(tn.n, ledger, 1, 3600), 0);
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, "fed-a", 1), &frame, &len), 0);
	assert_int_equal(ledger_lines(ledger), 3);
	tnode_free(&tn);

	/* A damaged ledger refuses rather than forgets. */
	fp = fopen(ledger, "a");
	assert_non_null(fp);
	fputs("garbage\n", fp);
	fclose(fp);
	tnode_new(&tn, &pol, "ledger3");
	assert_int_equal(fl_fednode_set_ledger(tn.n, ledger, 1, 3600), 0);
	r = fl_fednode_input(tn.n, "c", welcome(&w, "fed-z", 1), &frame, &len);
	assert_int_equal(r, FL_ERR_DATA);
	snprintf(want, sizeof(want), "%s:4: not a ledger line", ledger);
	assert_string_equal(fl_errmsg(), want);
	tnode_free(&tn);
}

static void test_reject(void **state)
{
	struct fl_node_policy pol;
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Reject rj = FEDLEAD__WIRE__REJECT__INIT;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len;
	json_t *ev;

	(void)state;
	default_policy(&pol);
	tnode_new(&tn, &pol, "reject");
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_REJECT;
	env.reject = &rj;
	rj.reason = (char *)"federation is full";
	assert_int_equal(fl_fednode_input(tn.n, "coordinator h:1", &env, &frame, &len),
	                 FL_FEDNODE_CLOSE);
	assert_int_equal(fl_fednode_fatal(tn.n), 0);
	rj.reason = (char *)"not on the allow-list";
	rj.permanent = 1;
	assert_int_equal(fl_fednode_input(tn.n, "coordinator h:1", &env, &frame, &len),
	                 FL_ERR_AUTH);
	assert_null(frame);
	assert_int_equal(fl_fednode_fatal(tn.n), 1);
	assert_string_equal(fl_errmsg(),
	                    "coordinator h:1 refused this partner: not on the allow-list");
	ev = audit_events(&tn, "reject");
	assert_int_equal(json_array_size(ev), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 1), "reason")),
	                    "not on the allow-list");
	json_decref(ev);
	tnode_free(&tn);
}

/*
 * The review's attack: with 2t <= n + c, the coordinator and c colluding
 * partners show two groups of honest partners different survivor sets and
 * collect both secrets of one partner. The default node (max_colluders =
 * 1) refuses such a threshold before it sends anything.
 */
static void test_colluder_threshold(void **state)
{
	static const char *const five[] = {"acme", "globex", "hooli", "initech", "umbrella"};
	struct fl_node_policy pol;
	struct welcome_msg w;
	struct task_msg t;
	struct capture cap;
	struct tnode tn;
	uint8_t *frame = NULL;
	size_t len;
	int r;

	(void)state;
	default_policy(&pol);
	tnode_new(&tn, &pol, "colluders");
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, FED, 1), &frame, &len), 0);
	stats_task(&t, 1, FL_SECAGG_STATS_FRAC_BITS, fl_fixed_bound(FL_SECAGG_STATS_FRAC_BITS, 3));
	t.sap.threshold = 2; /* more than half of 3: enough before the review */
	r = fl_fednode_input(tn.n, "c", &t.env, &frame, &len);
	assert_refused(&tn, r, frame, "max_colluders",
	               "policy max_colluders: round 1: threshold 2 of 3 participants would let the "
	               "coordinator and 1 colluding partner unmask one partner's update (it needs "
	               "threshold > max_colluders and 2 x threshold > participants + "
	               "max_colluders); refused");
	tnode_free(&tn);

	/* A task without a threshold does not fall back to the Welcome's,
	 * which no task hash covers. */
	tnode_new(&tn, &pol, "colluders-t0");
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, FED, 1), &frame, &len), 0);
	t.sap.threshold = 0;
	assert_int_equal(fl_fednode_input(tn.n, "c", &t.env, &frame, &len), FL_ERR_PROTO);
	assert_null(frame);
	assert_string_equal(fl_errmsg(), "coordinator: round 1: the task carries no "
	                                 "secure-aggregation threshold");
	tnode_free(&tn);

	/* 3 of 5, the review's case: refused; 4 of 5 is answered. */
	tnode_new(&tn, &pol, "colluders5");
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, FED, 1), &frame, &len), 0);
	stats_task(&t, 1, FL_SECAGG_STATS_FRAC_BITS, fl_fixed_bound(FL_SECAGG_STATS_FRAC_BITS, 5));
	t.sap.participants = (char **)five;
	t.sap.n_participants = 5;
	t.sap.threshold = 3;
	r = fl_fednode_input(tn.n, "c", &t.env, &frame, &len);
	assert_refused(&tn, r, frame, "max_colluders",
	               "policy max_colluders: round 1: threshold 3 of 5 participants would let the "
	               "coordinator and 1 colluding partner unmask one partner's update (it needs "
	               "threshold > max_colluders and 2 x threshold > participants + "
	               "max_colluders); refused");
	tnode_free(&tn);
	tnode_new(&tn, &pol, "colluders5b");
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, FED, 1), &frame, &len), 0);
	t.sap.threshold = 4;
	assert_int_equal(fl_fednode_input(tn.n, "c", &t.env, &frame, &len), FL_FEDNODE_REPLY);
	free(frame);
	tnode_free(&tn);

	/* Lowered explicitly to 0: 2 of 3 is answered, with a warning every
	 * round. */
	pol.max_colluders = 0;
	tnode_new(&tn, &pol, "colluders0");
	capture_start(&cap);
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, FED, 1), &frame, &len), 0);
	stats_task(&t, 1, FL_SECAGG_STATS_FRAC_BITS, fl_fixed_bound(FL_SECAGG_STATS_FRAC_BITS, 3));
	t.sap.threshold = 2;
	assert_int_equal(fl_fednode_input(tn.n, "c", &t.env, &frame, &len), FL_FEDNODE_REPLY);
	free(frame);
	assert_int_equal(capture_count(&cap, "round 1: max_colluders = 0: one partner colluding "
	                                     "with the coordinator could obtain this partner's "
	                                     "update"),
	                 1);
	tnode_free(&tn);
	task_free(&t);

	/* The rule itself, at its edges (2t > n + c and t > c). */
	assert_true(fl_node_threshold_safe(3, 3, 1));
	assert_false(fl_node_threshold_safe(2, 3, 1));
	assert_true(fl_node_threshold_safe(2, 3, 0));
	assert_false(fl_node_threshold_safe(3, 5, 1));
	assert_true(fl_node_threshold_safe(4, 5, 1));
	assert_false(fl_node_threshold_safe(6, 10, 3));
	assert_true(fl_node_threshold_safe(7, 10, 3));
	assert_false(fl_node_threshold_safe(2, 2, 2)); /* t > c */
}

/* Reads the data digest from the first line of a ledger. */
static void ledger_digest(const char *ledger, char digest[65])
{
	char line[512];
	FILE *fp = fopen(ledger, "r");

	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	assert_int_equal(sscanf(line, "v1 %*d %64s", digest), 1);
}

/* Hex of a string, as the ledger writes revealed sets. */
static void hex_of(const char *s, char *out)
{
	for (; *s; s++, out += 2)
		sprintf(out, "%02x", (unsigned char)*s);
	*out = '\0';
}

/*
 * Sub-federations across federations: once this data's sums were revealed
 * over a set of partners (the ledger's "r1" line), a task of another
 * federation on the same data over another set is refused before anything
 * is sent; the same set is answered; an entry older than the window, or
 * allow_participant_change, lets it through.
 */
static void test_participant_sets_across_federations(void **state)
{
	static const char *const other[] = {"acme", "globex", "hooli"};
	struct fl_node_policy pol;
	struct welcome_msg w;
	struct task_msg t;
	struct tnode tn;
	char ledger[160], digest[65], hex[128], want[1024];
	uint8_t *frame = NULL;
	size_t len;
	FILE *fp;
	int r;

	(void)state;
	snprintf(ledger, sizeof(ledger), "%s/sets.ledger", FX->dir);
	unlink(ledger);
	fl_node_policy_default(&pol);
	tnode_new(&tn, &pol, "sets0");
	assert_int_equal(fl_fednode_set_ledger(tn.n, ledger, 10, 3600), 0);
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, "fed-a", 1), &frame, &len), 0);
	tnode_free(&tn);
	ledger_digest(ledger, digest);
	/* fed-a revealed sums over acme, globex, initech (CONSORTIUM). */
	hex_of("acme,globex,initech", hex);
	fp = fopen(ledger, "a");
	assert_non_null(fp);
	fprintf(fp, "r1 %lld %s %s fed-a\n", (long long)time(NULL), digest, hex);
	fclose(fp);

	tnode_new(&tn, &pol, "sets1");
	assert_int_equal(fl_fednode_set_ledger(tn.n, ledger, 10, 3600), 0);
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, "fed-b", 1), &frame, &len), 0);
	stats_task(&t, 1, FL_SECAGG_STATS_FRAC_BITS, fl_fixed_bound(FL_SECAGG_STATS_FRAC_BITS, 3));
	t.ref.federation_id = (char *)"fed-b";
	t.sap.participants = (char **)other;
	r = fl_fednode_input(tn.n, "c", &t.env, &frame, &len);
	snprintf(want, sizeof(want),
	         "policy allow_participant_change: round 1: the task's participants "
	         "{acme,globex,hooli} are not the set {acme,globex,initech} this data's sums were "
	         "revealed over in federation \"fed-a\": the two could be differenced; refused");
	assert_refused(&tn, r, frame, "allow_participant_change", want);
	tnode_free(&tn);

	/* The same set as before is answered. */
	tnode_new(&tn, &pol, "sets2");
	assert_int_equal(fl_fednode_set_ledger(tn.n, ledger, 10, 3600), 0);
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, "fed-c", 1), &frame, &len), 0);
	t.ref.federation_id = (char *)"fed-c";
	t.sap.participants = (char **)CONSORTIUM;
	assert_int_equal(fl_fednode_input(tn.n, "c", &t.env, &frame, &len), FL_FEDNODE_REPLY);
	free(frame);
	tnode_free(&tn);

	/* A task over more partners than the set goes on to the
	 * ConsistencyCheck (the extra one may drop, and a survivor set other
	 * than the revealed one is refused there). */
	{
		static const char *const more[] = {"acme", "globex", "hooli", "initech"};

		tnode_new(&tn, &pol, "sets2b");
		assert_int_equal(fl_fednode_set_ledger(tn.n, ledger, 10, 3600), 0);
		assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, "fed-c", 1), &frame, &len),
		                 0);
		t.sap.participants = (char **)more;
		t.sap.n_participants = 4;
		assert_int_equal(fl_fednode_input(tn.n, "c", &t.env, &frame, &len),
		                 FL_FEDNODE_REPLY);
		free(frame);
		tnode_free(&tn);
		t.sap.n_participants = 3;
	}

	/* The operator allows it. */
	pol.allow_participant_change = 1;
	tnode_new(&tn, &pol, "sets3");
	assert_int_equal(fl_fednode_set_ledger(tn.n, ledger, 10, 3600), 0);
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, "fed-d", 1), &frame, &len), 0);
	t.ref.federation_id = (char *)"fed-d";
	t.sap.participants = (char **)other;
	assert_int_equal(fl_fednode_input(tn.n, "c", &t.env, &frame, &len), FL_FEDNODE_REPLY);
	free(frame);
	tnode_free(&tn);
	pol.allow_participant_change = 0;

	/* Outside the window (dated 1970) the set no longer binds another
	 * federation. */
	fp = fopen(ledger, "w");
	assert_non_null(fp);
	fprintf(fp, "v1 1000 %s fed-a\nr1 1000 %s %s fed-a\n", digest, digest, hex);
	fclose(fp);
	tnode_new(&tn, &pol, "sets4");
	assert_int_equal(fl_fednode_set_ledger(tn.n, ledger, 10, 3600), 0);
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, "fed-e", 1), &frame, &len), 0);
	t.ref.federation_id = (char *)"fed-e";
	assert_int_equal(fl_fednode_input(tn.n, "c", &t.env, &frame, &len), FL_FEDNODE_REPLY);
	free(frame);
	tnode_free(&tn);

	/* ... but it binds fed-a itself, at any age (a restarted node). */
	tnode_new(&tn, &pol, "sets5");
	assert_int_equal(fl_fednode_set_ledger(tn.n, ledger, 10, 3600), 0);
	assert_int_equal(fl_fednode_input(tn.n, "c", welcome(&w, "fed-a", 1), &frame, &len), 0);
	t.ref.federation_id = (char *)"fed-a";
	r = fl_fednode_input(tn.n, "c", &t.env, &frame, &len);
	snprintf(want, sizeof(want),
	         "policy allow_participant_change: round 1: the task's participants "
	         "{acme,globex,hooli} are not the set {acme,globex,initech} this data's sums were "
	         "revealed over in federation \"fed-a\": the two could be differenced; refused");
	assert_refused(&tn, r, frame, "allow_participant_change", want);
	tnode_free(&tn);

	/* A damaged revealed-set line refuses rather than forgets. */
	fp = fopen(ledger, "a");
	assert_non_null(fp);
	fprintf(fp, "r1 1000 %s 6g fed-a\n", digest);
	fclose(fp);
	tnode_new(&tn, &pol, "sets6");
	assert_int_equal(fl_fednode_set_ledger(tn.n, ledger, 10, 3600), 0);
	r = fl_fednode_input(tn.n, "c", welcome(&w, "fed-a", 1), &frame, &len);
	assert_int_equal(r, FL_ERR_DATA);
	snprintf(want, sizeof(want), "%s:4: not a ledger line", ledger); /* after fed-e's */
	assert_string_equal(fl_errmsg(), want);
	tnode_free(&tn);
	task_free(&t);
}

static void test_policy_settings(void **state)
{
	struct fl_node_policy pol;
	struct tnode tn;

	(void)state;
	tnode_new(&tn, NULL, "settings");
	fl_node_policy_default(&pol);
	assert_int_equal(pol.min_partners, 3);
	assert_int_equal(pol.allow_plaintext, 0);
	assert_int_equal(pol.max_local_epochs, 100);
	pol.min_partners = 1;
	assert_int_equal(fl_fednode_set_policy(tn.n, &pol), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "min_partners 1 must be from 2 to 255");
	pol.min_partners = 4;
	pol.partners = CONSORTIUM;
	pol.n_partners = 3;
	assert_int_equal(fl_fednode_set_policy(tn.n, &pol), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(),
	                    "the partners list names 3 partners, fewer than min_partners = 4");
	assert_int_equal(pol.max_colluders, 1);
	pol.partners = NULL;
	pol.n_partners = 0;
	pol.min_partners = 3;
	pol.max_colluders = 3;
	assert_int_equal(fl_fednode_set_policy(tn.n, &pol), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "max_colluders = 3 must be below min_partners = 3: no "
	                                 "threshold keeps that many colluders out of a sum over 3 "
	                                 "partners");
	tnode_free(&tn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_downgrade_refused),
	        cmocka_unit_test(test_downgrade_mid_federation),
	        cmocka_unit_test(test_plaintext_allowed_warns_every_round),
	        cmocka_unit_test(test_wrong_federation),
	        cmocka_unit_test(test_small_key_list),
	        cmocka_unit_test(test_participant_outside_consortium),
	        cmocka_unit_test(test_unmask_survivors),
	        cmocka_unit_test(test_epochs_and_rounds),
	        cmocka_unit_test(test_vector_sizes),
	        cmocka_unit_test(test_bound),
	        cmocka_unit_test(test_max_federations),
	        cmocka_unit_test(test_reject),
	        cmocka_unit_test(test_colluder_threshold),
	        cmocka_unit_test(test_participant_sets_across_federations),
	        cmocka_unit_test(test_policy_settings),
	};

	fl_log_init("test_node_policy", FL_LOG_INFO);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
