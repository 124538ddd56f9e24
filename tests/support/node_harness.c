/*
 * The node harness of node_harness.h: one fixture for a test program's
 * group, nodes with audit logs, and coordinator messages built by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/log.h"
#include "support/node_harness.h"

#define COIL_SCHEMA FL_TEST_DATA "/coil2000/coil2000.schema.json"
#define COIL_DATA FL_TEST_DATA "/coil2000/train.csv"

const char *const CONSORTIUM[3] = {"acme", "globex", "initech"};

struct fixture *FX;

int node_fixture_setup(void **state, const char *dir_template, const char *coordinator,
                       uint32_t threshold)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct fl_load_report rep;

	if (fx == NULL || fl_schema_load(COIL_SCHEMA, &fx->s) != 0 ||
	    fl_dataset_load(fx->s, COIL_DATA, FL_BAD_ROWS_FAIL, &fx->raw, &rep) != 0)
		return -1;
	fx->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	fx->store = X509_STORE_new();
	snprintf(fx->dir, sizeof(fx->dir), "%s", dir_template);
	if (fx->key == NULL || fx->store == NULL || mkdtemp(fx->dir) == NULL)
		return -1;
	fx->coordinator = coordinator;
	fx->threshold = threshold;
	FX = fx;
	*state = fx;
	return 0;
}

int node_fixture_teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	if (system(cmd) != 0)
		return -1;
	EVP_PKEY_free(fx->key);
	X509_STORE_free(fx->store);
	fl_dataset_free(fx->raw);
	fl_schema_free(fx->s);
	free(fx);
	FX = NULL;
	return 0;
}

struct fl_dataset *rows_copy(const struct fl_dataset *src)
{
	struct fl_dataset *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->n = src->n;
	d->dim = src->dim;
	d->X = malloc(src->n * src->dim * sizeof(double));
	d->y = malloc(src->n * sizeof(double));
	assert_non_null(d->X);
	assert_non_null(d->y);
	memcpy(d->X, src->X, src->n * src->dim * sizeof(double));
	memcpy(d->y, src->y, src->n * sizeof(double));
	return d;
}

double *filled(size_t n, double v)
{
	double *x = malloc((n ? n : 1) * sizeof(double));

	assert_non_null(x);
	for (size_t i = 0; i < n; i++)
		x[i] = v;
	return x;
}

void tnode_start(struct tnode *t, const struct fl_node_policy *pol, const char *name)
{
	snprintf(t->audit_path, sizeof(t->audit_path), "%s/%s.audit.jsonl", FX->dir, name);
	unlink(t->audit_path);
	assert_int_equal(fl_fednode_new(FX->s, rows_copy(FX->raw), &t->n), 0);
	fl_fednode_set_credentials(t->n, FX->key, FX->store);
	assert_int_equal(fl_audit_open(t->audit_path, &t->audit), 0);
	fl_fednode_set_audit(t->n, t->audit);
	if (pol != NULL)
		assert_int_equal(fl_fednode_set_policy(t->n, pol), 0);
}

void tnode_free(struct tnode *t)
{
	fl_fednode_free(t->n);
	fl_audit_close(t->audit);
}

json_t *audit_events(const struct tnode *t, const char *event)
{
	json_t *out = json_array();
	FILE *fp = fopen(t->audit_path, "r");
	char line[8192];

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		json_t *j = json_loads(line, 0, NULL);

		assert_non_null(j);
		if (strcmp(json_string_value(json_object_get(j, "event")), event) == 0)
			json_array_append(out, j);
		json_decref(j);
	}
	fclose(fp);
	return out;
}

void assert_refused(struct tnode *t, int r, const uint8_t *frame, const char *rule, const char *msg)
{
	json_t *ev = audit_events(t, "refuse"), *last;

	assert_int_equal(r, FL_ERR_AUTH);
	assert_null(frame);
	assert_string_equal(fl_errmsg(), msg);
	assert_int_equal(fl_fednode_fatal(t->n), 1);
	assert_true(json_array_size(ev) >= 1);
	last = json_array_get(ev, json_array_size(ev) - 1);
	assert_string_equal(json_string_value(json_object_get(last, "rule")), rule);
	assert_string_equal(json_string_value(json_object_get(last, "reason")), msg);
	json_decref(ev);
}

Fedlead__Wire__Envelope *welcome(struct welcome_msg *m, const char *fed, int secure)
{
	fedlead__wire__envelope__init(&m->env);
	fedlead__wire__welcome__init(&m->w);
	fedlead__wire__plan__init(&m->plan);
	m->plan.algorithm = (char *)"newton";
	m->plan.seed = 1;
	m->plan.hist_bins = NODE_HARNESS_BINS;
	m->plan.hist_range = 20;
	m->plan.secure_aggregation = secure;
	m->plan.threshold = secure ? FX->threshold : 0;
	/* The fewest privacy_releases of any test's node (nodes without
	 * differential privacy ignore the plan). */
	m->plan.privacy_releases = 1;
	m->plan.privacy_plan = (char *)FL_DP_PLAN;
	m->w.protocol_version = FL_WIRE_PROTOCOL_VERSION;
	m->w.federation_id = (char *)fed;
	m->w.coordinator_version = (char *)FX->coordinator;
	m->w.partner_identity = (char *)ME;
	m->w.plan = &m->plan;
	m->env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME;
	m->env.welcome = &m->w;
	return &m->env;
}

void round_ref(Fedlead__Wire__RoundRef *ref, const char *fed, uint64_t round)
{
	fedlead__wire__round_ref__init(ref);
	ref->federation_id = (char *)fed;
	ref->round = round;
	ref->schema_fingerprint.data = FX->s->fingerprint;
	ref->schema_fingerprint.len = FL_FINGERPRINT_LEN;
}

void task_ref_fed(struct task_msg *m, const char *fed, uint64_t round)
{
	memset(m, 0, sizeof(*m));
	fedlead__wire__envelope__init(&m->env);
	round_ref(&m->ref, fed, round);
}

void task_free(struct task_msg *m)
{
	for (size_t i = 0; i < sizeof(m->vec) / sizeof(m->vec[0]); i++)
		free(m->vec[i]);
}

Fedlead__Wire__SecAggParams *task_secagg(struct task_msg *m, int frac, double bound)
{
	fedlead__wire__sec_agg_params__init(&m->sap);
	memset(m->session, 7, sizeof(m->session));
	m->sap.session = (ProtobufCBinaryData){sizeof(m->session), m->session};
	m->sap.frac_bits = frac;
	m->sap.bound = bound;
	m->sap.threshold = 3;
	/* every task names its participants (secagg.h) */
	m->sap.participants = (char **)CONSORTIUM;
	m->sap.n_participants = 3;
	return &m->sap;
}

Fedlead__Wire__Envelope *standardize_task(struct task_msg *m, const char *fed, uint64_t round,
                                          size_t d)
{
	task_ref_fed(m, fed, round);
	fedlead__wire__standardize__init(&m->std);
	m->std.ref = &m->ref;
	m->std.n_center = m->std.n_scale = m->std.n_impute = m->std.n_baseline = d;
	m->std.center = m->vec[0] = filled(d, 0);
	m->std.scale = m->vec[1] = filled(d, 1);
	m->std.impute = m->vec[2] = filled(d, 0);
	m->std.baseline = m->vec[3] = filled(d, 0);
	m->std.pos_weight = 1;
	m->env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE;
	m->env.standardize = &m->std;
	return &m->env;
}

Fedlead__Wire__Envelope *local_train_task(struct task_msg *m, const char *fed, uint64_t round,
                                          uint32_t epochs)
{
	task_ref_fed(m, fed, round);
	fedlead__wire__local_train_task__init(&m->lt);
	m->lt.ref = &m->ref;
	m->lt.n_w = FX->s->dim;
	m->lt.w = m->vec[0] = filled(FX->s->dim, 0);
	m->lt.epochs = epochs;
	m->lt.batch = 512;
	m->lt.lr = 0.1;
	m->env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN;
	m->env.local_train = &m->lt;
	return &m->env;
}

Fedlead__Wire__Envelope *eval_task_fed(struct task_msg *m, const char *fed, uint64_t round,
                                       size_t nw)
{
	task_ref_fed(m, fed, round);
	fedlead__wire__eval_task__init(&m->ev);
	m->ev.ref = &m->ref;
	m->ev.n_w = nw;
	m->ev.w = m->vec[0] = filled(nw, 0);
	m->env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK;
	m->env.eval_task = &m->ev;
	return &m->env;
}
