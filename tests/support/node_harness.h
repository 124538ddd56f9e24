/*
 * A partner's node under test, driven in one process with crafted
 * coordinator messages (test_node_policy.c, test_dp_node.c): the CoIL 2000
 * leads as its rows, a throw-away signing key, an audit log read back as
 * JSON, and builders for the Welcome and the tasks a coordinator sends.
 * Include after <cmocka.h>.
 */
#ifndef FL_TEST_NODE_HARNESS_H
#define FL_TEST_NODE_HARNESS_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "fedlead/node.h"
#include "fedlead/schema.h"
#include "fedlead/wire.h"

/* The node's identity in every Welcome, and the plan's histogram bins. */
#define ME "globex"
#define NODE_HARNESS_BINS 100

/* The three partners every secure task names. */
extern const char *const CONSORTIUM[3];

struct fixture {
	struct fl_schema *s;
	struct fl_dataset *raw;
	EVP_PKEY *key;           /* signs key advertisements; any key will do here */
	X509_STORE *store;       /* empty: no advertisement gets as far as its check */
	char dir[64];            /* audit logs and ledgers */
	const char *coordinator; /* the Welcome's coordinator_version */
	uint32_t threshold;      /* the Welcome's threshold when secure */
};

extern struct fixture *FX;

/* Loads the rows and makes the key and a directory from dir_template
 * (mkdtemp); the Welcome names coordinator and, when secure, threshold. */
int node_fixture_setup(void **state, const char *dir_template, const char *coordinator,
                       uint32_t threshold);
int node_fixture_teardown(void **state);

/* A copy of src, for a node to own. */
struct fl_dataset *rows_copy(const struct fl_dataset *src);

/* n values v (malloc'ed, at least one). */
double *filled(size_t n, double v);

/* ---- a node under test, with its audit log ---- */

struct tnode {
	struct fl_fednode *n;
	struct fl_audit *audit;
	char audit_path[128];
	char ledger[128]; /* its privacy ledger, for the tests that give it one */
};

/* A node on the fixture's rows with its audit log at DIR/NAME.audit.jsonl
 * (emptied) and policy pol (the default when NULL). */
void tnode_start(struct tnode *t, const struct fl_node_policy *pol, const char *name);
void tnode_free(struct tnode *t);

/* The audit events named event, as JSON objects (caller frees with json_decref). */
json_t *audit_events(const struct tnode *t, const char *event);

/* The node refused with exactly msg under rule: the error, the fatal flag,
 * and one audit entry "refuse" with the rule and the same reason. */
void assert_refused(struct tnode *t, int r, const uint8_t *frame, const char *rule,
                    const char *msg);

/* ---- crafted coordinator messages ---- */

struct welcome_msg {
	Fedlead__Wire__Envelope env;
	Fedlead__Wire__Welcome w;
	Fedlead__Wire__Plan plan;
};

/* A Welcome to federation fed, newton, with or without secure aggregation. */
Fedlead__Wire__Envelope *welcome(struct welcome_msg *m, const char *fed, int secure);

struct task_msg {
	Fedlead__Wire__Envelope env;
	Fedlead__Wire__RoundRef ref;
	Fedlead__Wire__SecAggParams sap;
	Fedlead__Wire__StatsTask stats;
	Fedlead__Wire__Standardize std;
	Fedlead__Wire__LocalTrainTask lt;
	Fedlead__Wire__EvalTask ev;
	uint8_t session[FL_WIRE_SESSION_LEN];
	double *vec[5];
};

/* ref to round of federation fed, on the fixture's schema. */
void round_ref(Fedlead__Wire__RoundRef *ref, const char *fed, uint64_t round);

/* Clears m and names federation fed, round and the fixture's schema. */
void task_ref_fed(struct task_msg *m, const char *fed, uint64_t round);
void task_free(struct task_msg *m);

/* m's secure-aggregation parameters with the given fixed-point format:
 * 3 of 3 over CONSORTIUM, the smallest threshold a default node
 * (max_colluders = 1) accepts for three participants. */
Fedlead__Wire__SecAggParams *task_secagg(struct task_msg *m, int frac, double bound);

/* Identity standardisation with d columns. */
Fedlead__Wire__Envelope *standardize_task(struct task_msg *m, const char *fed, uint64_t round,
                                          size_t d);
/* Local training from w = 0, epochs over batches of 512. */
Fedlead__Wire__Envelope *local_train_task(struct task_msg *m, const char *fed, uint64_t round,
                                          uint32_t epochs);
/* An evaluation at w = 0 of nw weights. */
Fedlead__Wire__Envelope *eval_task_fed(struct task_msg *m, const char *fed, uint64_t round,
                                       size_t nw);

#endif
