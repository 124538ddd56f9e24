/*
 * Differential privacy at the node (src/fed/node.c, dp_*; the grid noise of
 * src/privacy/dgauss.c): the noise a partner adds under the masks has the
 * variance it claims, each evaluation is charged to the partner's privacy
 * ledger before it leaves and the audited noise meets the per-release cost,
 * and what would exceed the budget (across federations, or beyond the
 * planned releases) is refused with its exact message. The node is driven
 * in one process with crafted coordinator messages, as in
 * test_node_policy.c.
 */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fedlead/accountant.h"
#include "fedlead/dgauss.h"
#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/knots.h"
#include "fedlead/ledger.h"
#include "fedlead/linalg.h"
#include "fedlead/log.h"
#include "fedlead/logreg.h"
#include "fedlead/model.h"
#include "fedlead/node.h"
#include "fedlead/payload.h"
#include "fedlead/schema.h"
#include "fedlead/secagg.h"
#include "fedlead/signed_model.h"
#include "fedlead/spline.h"
#include "fedlead/wire.h"
#include "support/node_harness.h"
#include "support/pki.h"

#define FED "fed-dp"
#define BINS NODE_HARNESS_BINS

static int group_setup(void **state)
{
	return node_fixture_setup(state, "/tmp/fl-dp-node.XXXXXX", "test", 3);
}

static int group_teardown(void **state)
{
	return node_fixture_teardown(state);
}

/*
 * An allocation that fails on demand (the link wraps malloc for this test
 * only, tests/CMakeLists.txt): the next malloc of exactly oom_size bytes
 * returns NULL, once.
 */
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
static size_t oom_size;

void *__wrap_malloc(size_t size)
{
	if (oom_size != 0 && size == oom_size) {
		oom_size = 0;
		return NULL;
	}
	return __real_malloc(size);
}

/* ---- the grid noise ---- */

/* 40,000 samples of N_Z(0, 10^4) on a grid of 2^-8: every value on the
 * grid, the mean within 3 grid units of 0 (6 standard errors) and the
 * variance within 4 % of 10^4 (the standard error of a variance estimate
 * from n normal samples is sqrt(2/n) = 0.7 %). */
static void test_grid_noise_variance(void **state)
{
	const size_t n = 40000;
	double *v = calloc(n, sizeof(double)), sum = 0, sq = 0, mean, var;
	struct fl_dgauss *g = NULL;
	size_t bad;

	(void)state;
	assert_non_null(v);
	assert_int_equal(fl_dgauss_new(10000, &g), 0);
	assert_int_equal(fl_dgauss_add_grid(g, v, n, 8, &bad), 0);
	assert_int_equal(bad, n);
	for (size_t i = 0; i < n; i++) {
		double k = v[i] * 256;

		assert_true(k == floor(k));
		sum += k;
		sq += k * k;
	}
	mean = sum / (double)n;
	var = sq / (double)n - mean * mean;
	assert_true(fabs(mean) < 3);
	assert_true(var > 9600 && var < 10400);
	/* Values are rounded to the grid first (halves away from zero). */
	fl_dgauss_free(g);
	g = NULL;
	free(v);
}

/* Values the grid cannot hold exactly are refused, naming the element,
 * before any is noised: v is unchanged, so a node can check first and
 * charge its ledger after (dp_release()). */
static void test_grid_noise_limits(void **state)
{
	double v[3] = {0.5, 1e300, 0};
	struct fl_dgauss *g = NULL;
	size_t bad;

	(void)state;
	assert_int_equal(fl_dgauss_new(1, &g), 0);
	assert_int_equal(fl_dgauss_add_grid(g, v, 3, 20, &bad), FL_ERR_LIMIT);
	assert_int_equal(bad, 1);
	assert_string_equal(fl_errmsg(), "update element 1 is 1.0000000000000001e+300, too "
	                                 "large to carry exact noise on a grid of 2^-20");
	fl_dgauss_free(g);
	g = NULL;
	/* Checked before anything is noised: the element before it is as it
	 * was (noise of variance 10^6 would leave it so with probability
	 * 4e-4). */
	assert_int_equal(fl_dgauss_new(1000000, &g), 0);
	assert_int_equal(fl_dgauss_add_grid(g, v, 3, 20, &bad), FL_ERR_LIMIT);
	assert_true(v[0] == 0.5 && v[1] == 1e300 && v[2] == 0);
	v[1] = NAN;
	assert_int_equal(fl_dgauss_grid_check(v, 3, 20, &bad), FL_ERR_LIMIT);
	assert_int_equal(bad, 1);
	assert_string_equal(fl_errmsg(), "update element 1 is not a number");
	v[1] = 0;
	assert_int_equal(fl_dgauss_grid_check(v, 3, 20, &bad), 0);
	assert_int_equal(bad, 3);
	assert_true(v[0] == 0.5 && v[1] == 0 && v[2] == 0);
	assert_int_equal(fl_dgauss_add_grid(g, v, 3, 53, &bad), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "noise grid of 2^-53: expected 0 to 52 bits");
	fl_dgauss_free(g);
}

/* ---- a node with differential privacy on ---- */

/* A node with epsilon 1, delta 1e-6 and `releases` releases per
 * federation, its ledger at DIR/NAME.ledger (kept if it exists). */
/* A node with privacy_releases = releases and privacy_knots_max =
 * knots_max. */
static void tnode_new_knots(struct tnode *t, const char *name, uint64_t releases,
                            uint64_t knots_max)
{
	struct fl_node_policy pol;

	snprintf(t->ledger, sizeof(t->ledger), "%s/%s.ledger", FX->dir, name);
	fl_node_policy_default(&pol);
	pol.privacy.epsilon = 1;
	pol.privacy.releases = releases;
	pol.privacy.knots_max = knots_max;
	pol.privacy.ledger = t->ledger;
	tnode_start(t, &pol, name);
}

static void tnode_new(struct tnode *t, const char *name, uint64_t releases)
{
	tnode_new_knots(t, name, releases, FL_NODE_PRIVACY_KNOTS_MAX_DEFAULT);
}

/* Every task of this federation carries its secure-aggregation parameters. */
static Fedlead__Wire__SecAggParams *secagg(struct task_msg *m)
{
	return task_secagg(m, FL_SECAGG_FRAC_BITS, fl_fixed_bound(FL_SECAGG_FRAC_BITS, 3));
}

static Fedlead__Wire__Envelope *standardize(struct task_msg *m, const char *fed, uint64_t round)
{
	return standardize_task(m, fed, round, FX->s->dim);
}

static Fedlead__Wire__Envelope *eval_task(struct task_msg *m, const char *fed, uint64_t round)
{
	eval_task_fed(m, fed, round, FX->s->dim);
	m->ev.need_hessian = 1;
	m->ev.secagg = secagg(m);
	return &m->env;
}

static Fedlead__Wire__Envelope *local_train(struct task_msg *m, const char *fed, uint64_t round)
{
	local_train_task(m, fed, round, 1);
	m->lt.secagg = secagg(m);
	return &m->env;
}

/* Welcome and standardisation in federation fed. */
static void join(struct tnode *t, const char *fed)
{
	struct welcome_msg w;
	struct task_msg m;
	uint8_t *frame = NULL;
	size_t len;

	assert_int_equal(fl_fednode_input(t->n, "c", welcome(&w, fed, 1), &frame, &len),
	                 FL_FEDNODE_NONE);
	assert_int_equal(fl_fednode_input(t->n, "c", standardize(&m, fed, 2), &frame, &len),
	                 FL_FEDNODE_NONE);
	task_free(&m);
}

static int eval(struct tnode *t, const char *fed, uint64_t round, uint8_t **frame)
{
	struct task_msg m;
	size_t len;
	int r;

	r = fl_fednode_input(t->n, "c", eval_task(&m, fed, round), frame, &len);
	task_free(&m);
	return r;
}

/* The window's budget for epsilon 1, delta 1e-6, in ledger units. */
static uint64_t budget_units(void)
{
	return (uint64_t)floor(fl_dp_rho_budget(1, 1e-6) * FL_LEDGER_UNITS);
}

/*
 * One evaluation under DP: charged to the ledger before the key
 * advertisement goes out, audited with its epsilon, and the audited noise
 * of each block (loss, gradient, Hessian) meets the block's share of the
 * evaluation's cost (the federation's rho less the statistics release's
 * tenth, over the 3 evaluations of privacy_releases = 4) for two honest
 * partners (3 of 3, one colluder) without
 * being more than 1 % above what that share needs; the shares add up to
 * the release's cost.
 */
static void test_release_charged_and_calibrated(void **state)
{
	struct tnode t;
	struct fl_ledger *l = NULL;
	const struct fl_release *e;
	uint8_t *frame = NULL;
	json_t *ev, *a, *blocks;
	size_t d = FX->s->dim;
	double rho, sum = 0, R = sqrt(1.0 + (double)FX->s->n_features);
	/* At w = 0 with rows clipped to R: loss log 2, gradient (with the
	 * Hessian, plan v7) R sigmoid(0 R) = R / 2, Hessian R^2 / 4; shares
	 * 0.02 : 1 : 1 of the release's rho. */
	const char *names[3] = {"loss", "gradient", "hessian"};
	const double sens[3] = {log(2.0), R / 2, R * R / 4}, share[3] = {0.02, 1, 1};
	const uint64_t per_eval =
	        (budget_units() - (uint64_t)floor(0.1 * (double)budget_units())) / 3;
	const size_t len[3] = {1, d, d * (d + 1) / 2};
	int repaired;

	(void)state;
	tnode_new(&t, "release", 4);
	join(&t, FED);
	assert_int_equal(eval(&t, FED, 3, &frame), FL_FEDNODE_REPLY);
	assert_non_null(frame);
	free(frame);
	tnode_free(&t);

	assert_int_equal(fl_ledger_open(t.ledger, 0, &l, &repaired), 0);
	assert_int_equal(fl_ledger_count(l), 1);
	e = fl_ledger_entry(l, 0);
	assert_string_equal(e->federation, FED);
	assert_string_equal(e->kind, "evaluate");
	assert_int_equal(e->round, 3);
	assert_int_equal(e->rho_e12, per_eval);
	fl_ledger_close(l);

	ev = audit_events(&t, "privacy_release");
	assert_int_equal(json_array_size(ev), 1);
	a = json_array_get(ev, 0);
	rho = json_real_value(json_object_get(a, "rho"));
	assert_true(fabs(rho - (double)per_eval / FL_LEDGER_UNITS) < 1e-15);
	assert_int_equal(json_integer_value(json_object_get(a, "honest_partners")), 2);
	assert_true(fabs(json_real_value(json_object_get(a, "clip")) - R) < 1e-12);
	blocks = json_object_get(a, "blocks");
	assert_int_equal(json_array_size(blocks), 3);
	for (size_t k = 0; k < 3; k++) {
		json_t *b = json_array_get(blocks, k);
		double scale = ldexp(1, (int)json_integer_value(json_object_get(b, "grid_bits")));
		double s2u = json_real_value(json_object_get(b, "sigma2")) * scale * scale;
		double D = json_real_value(json_object_get(b, "sensitivity"));
		double rb = json_real_value(json_object_get(b, "rho")), got;
		size_t n = (size_t)json_integer_value(json_object_get(b, "values"));

		assert_string_equal(json_string_value(json_object_get(b, "block")), names[k]);
		assert_int_equal(n, len[k]);
		assert_true(fabs(D - sens[k]) < 1e-12 * sens[k]);
		assert_true(fabs(rb - rho * share[k] / 2.02) < 1e-12 * rho);
		got = fl_dp_ddg_rho(sqrt((double)n) * D * scale + (double)n,
		                    D * scale + sqrt((double)n), s2u, 2, n);
		assert_true(got <= rb * (1 + 1e-12));
		assert_true(got >= rb * 0.99);
		sum += rb;
	}
	assert_true(fabs(sum - rho) < 1e-12 * rho);
	/* The epsilon this federation has spent: this one release. */
	assert_true(fabs(json_real_value(json_object_get(a, "epsilon")) -
	                 fl_dp_epsilon(rho, 1e-6)) < 1e-9);
	assert_string_equal(json_string_value(json_object_get(a, "mechanism")),
	                    "distributed discrete Gaussian");
	json_decref(ev);
}

static Fedlead__Wire__Envelope *hello_of(struct tnode *t, const char *fed);

/* An evaluation at weights (w0, 0, ...), with or without the Hessian. */
static int eval_at(struct tnode *t, uint64_t round, int hess, double w0, uint8_t **frame)
{
	struct task_msg m;
	size_t len;
	int r;

	eval_task(&m, FED, round);
	m.ev.need_hessian = hess;
	m.ev.w[0] = w0;
	r = fl_fednode_input(t->n, "c", &m.env, frame, &len);
	task_free(&m);
	return r;
}

/*
 * Plan v7 (bench/README.md, "A gradient mechanism for epsilon 1"), the
 * node's side, with privacy_releases = 5 (the statistics and 4
 * evaluations) at epsilon 1, delta 1e-6:
 * - the federation's rho is rho(1, 1e-6) = 0.024355970354675707, the
 *   largest rho whose conversion (Canonne, Kamath and Steinke 2020,
 *   Corollary 13: epsilon = min over a > 1 of a rho + (a log(1 - 1/a) -
 *   log(a - 1) - log delta) / (a - 1)) is at most 1, found by bisection
 *   over a grid of 200,001 a = 1 + e^s, s from -30 to 30, in a few lines
 *   of Python independent of src/privacy/accountant.c;
 * - the statistics take 0.1 of it, 0.0024355970354675707, and each
 *   evaluation 0.9 / 4 = 0.225, 0.0054800933298020340;
 * - the first evaluation, with the Hessian, gives the gradient and the
 *   Hessian 1 / 2.02 of that each (0.0027129174900010070; the loss 0.02 /
 *   2.02), and its gradient's sensitivity is R sigmoid(||w|| R): R / 2
 *   at w = 0, R / (1 + e^(-3 R)) at ||w|| = 3;
 * - every other evaluation gives the gradient 1 / 1.02 of it
 *   (0.0053726405194137580), sensitivity 0.8 R whatever w;
 * - the whole plan, 0.1 + 4 x 0.225 = 1 of rho, is (epsilon 1, delta
 *   1e-6): the Hello's rho_needed before any release.
 * Ledger units are 1e-12 of rho, rounded down, hence the tolerances.
 */
static void test_plan_v7_shares(void **state)
{
	struct tnode t;
	Fedlead__Wire__Envelope *env;
	uint8_t *frame = NULL;
	json_t *ev;
	double R = sqrt(1.0 + (double)FX->s->n_features);
	/* Per evaluation: {hess, w0, gradient sensitivity, gradient rho}. */
	const struct {
		int hess;
		double w0, sens, rho;
	} want[4] = {
	        {1, 0, R / 2, 0.0027129174900010070},
	        {0, 0, 0.8 * R, 0.0053726405194137580},
	        {0, 3, 0.8 * R, 0.0053726405194137580},
	        {1, 3, R / (1 + exp(-3 * R)), 0.0027129174900010070},
	};
	struct fl_ledger *l = NULL;
	int repaired;

	(void)state;
	tnode_new(&t, "v7", 5);
	env = hello_of(&t, FED);
	assert_true(fabs(env->hello->privacy->rho - 0.024355970354675707) < 1e-11);
	assert_true(fabs(env->hello->privacy->rho_needed - 0.024355970354675707) < 1e-11);
	assert_true(fl_dp_epsilon(env->hello->privacy->rho_needed, 1e-6) <= 1);
	assert_true(fl_dp_epsilon(env->hello->privacy->rho_needed, 1e-6) > 1 - 1e-9);
	fl_wire_free(env);
	join(&t, FED);
	for (int k = 0; k < 4; k++) {
		assert_int_equal(eval_at(&t, 3 + (uint64_t)k, want[k].hess, want[k].w0, &frame),
		                 FL_FEDNODE_REPLY);
		free(frame);
		frame = NULL;
	}
	tnode_free(&t);

	assert_int_equal(fl_ledger_open(t.ledger, 0, &l, &repaired), 0);
	assert_int_equal(fl_ledger_count(l), 4);
	for (size_t k = 0; k < 4; k++)
		assert_true(fabs((double)fl_ledger_entry(l, k)->rho_e12 / FL_LEDGER_UNITS -
		                 0.0054800933298020340) < 1e-11);
	fl_ledger_close(l);
	ev = audit_events(&t, "privacy_release");
	assert_int_equal(json_array_size(ev), 4);
	for (size_t k = 0; k < 4; k++) {
		json_t *blocks = json_object_get(json_array_get(ev, k), "blocks");
		json_t *g = json_array_get(blocks, 1);

		assert_int_equal(json_array_size(blocks), want[k].hess ? 3 : 2);
		assert_string_equal(json_string_value(json_object_get(g, "block")), "gradient");
		if (!(fabs(json_real_value(json_object_get(g, "sensitivity")) - want[k].sens) <
		      1e-12 * R))
			fail_msg("evaluation %zu: gradient sensitivity %.17g, want %.17g", k,
			         json_real_value(json_object_get(g, "sensitivity")), want[k].sens);
		assert_true(fabs(json_real_value(json_object_get(g, "rho")) - want[k].rho) < 1e-11);
	}
	/* After the four: 0.9 of rho spent, epsilon(0.9 rho, 1e-6) < 1. */
	assert_true(fabs(json_real_value(json_object_get(json_array_get(ev, 3), "epsilon")) -
	                 fl_dp_epsilon(4 * 0.0054800933298020340, 1e-6)) < 1e-6);
	json_decref(ev);
}

/* Releases beyond the plan are refused, with nothing sent. */
static void test_releases_refused(void **state)
{
	struct tnode t;
	uint8_t *frame = NULL;

	(void)state;
	tnode_new(&t, "releases", 1);
	join(&t, FED);
	assert_int_equal(eval(&t, FED, 3, &frame), FL_FEDNODE_REPLY);
	free(frame);
	frame = NULL;
	assert_refused(&t, eval(&t, FED, 4, &frame), frame, "privacy_releases",
	               "policy privacy_releases: round 4 would be release 2 of federation "
	               "\"fed-dp\", and this node splits its budget over privacy_releases = 1; "
	               "refused");
	tnode_free(&t);
}

/*
 * The budget holds across federations on this node, exactly at its edge:
 * after another federation spent all but what this one may spend (its
 * whole share: the window's budget, privacy_federation_epsilon unset), the
 * Welcome is accepted; one unit (1e-12 of rho) more and it is refused
 * before anything is answered. Its plan: the statistics release a tenth
 * of its rho, the 19 evaluations of privacy_releases = 20 the rest. A restarted node rejoining a
 * federation needs only its remaining releases.
 */
static void test_budget_across_federations(void **state)
{
	struct tnode t;
	struct fl_ledger *l = NULL;
	struct fl_release rel = {0};
	struct welcome_msg w;
	uint8_t *frame = NULL;
	uint64_t B = budget_units(), stats = (uint64_t)floor(0.1 * (double)B),
	         per = (B - stats) / 19, plan = stats + 19 * per;
	size_t len;
	int repaired;
	char path[128], msg[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/across.ledger", FX->dir);
	unlink(path);
	assert_int_equal(fl_ledger_open(path, 1, &l, &repaired), 0);
	rel.time = (int64_t)time(NULL) - 60;
	rel.rho_e12 = B - plan;
	strcpy(rel.federation, "fed-a");
	rel.round = 3;
	strcpy(rel.kind, "evaluate");
	if (rel.rho_e12 > 0)
		assert_int_equal(fl_ledger_charge(l, &rel, B, 0), 0);
	fl_ledger_close(l);

	tnode_new(&t, "across", 20);
	assert_int_equal(fl_fednode_input(t.n, "c", welcome(&w, "fed-b", 1), &frame, &len),
	                 FL_FEDNODE_NONE);
	tnode_free(&t);

	assert_int_equal(fl_ledger_open(path, 0, &l, &repaired), 0);
	rel.rho_e12 = 1;
	assert_int_equal(fl_ledger_charge(l, &rel, B, 0), 0);
	fl_ledger_close(l);
	tnode_new(&t, "across", 20);
	snprintf(msg, sizeof(msg),
	         "policy privacy_budget: federation \"fed-b\" would spend rho %.6g on its "
	         "remaining releases (the statistics and 19 evaluations), but this node's "
	         "window has rho %.6g of %.6g left (privacy_epsilon = "
	         "1, privacy_delta = 1e-06, privacy_window = 31536000 s, ledger %s); refused",
	         (double)plan / FL_LEDGER_UNITS, (double)(plan - 1) / FL_LEDGER_UNITS,
	         (double)B / FL_LEDGER_UNITS, t.ledger);
	assert_refused(&t, fl_fednode_input(t.n, "c", welcome(&w, "fed-b", 1), &frame, &len), frame,
	               "privacy_budget", msg);
	tnode_free(&t);

	/* fed-b made one evaluation before a restart, recorded as a unit less
	 * than one costs: the statistics and 18 evaluations are left, and they
	 * fit. */
	assert_int_equal(fl_ledger_open(path, 0, &l, &repaired), 0);
	rel.time = (int64_t)time(NULL);
	rel.rho_e12 = per - 1;
	strcpy(rel.federation, "fed-b");
	assert_int_equal(fl_ledger_charge(l, &rel, B, 0), 0);
	fl_ledger_close(l);
	tnode_new(&t, "across", 20);
	assert_int_equal(fl_fednode_input(t.n, "c", welcome(&w, "fed-b", 1), &frame, &len),
	                 FL_FEDNODE_NONE);
	tnode_free(&t);
}

/* What the ledger at path has charged to federation fed, in ledger units. */
static uint64_t fed_spent(const char *path, const char *fed)
{
	struct fl_ledger *l = NULL;
	int repaired;
	uint64_t s = 0;

	assert_int_equal(fl_ledger_open(path, 0, &l, &repaired), 0);
	for (size_t i = 0; i < fl_ledger_count(l); i++)
		if (strcmp(fl_ledger_entry(l, i)->federation, fed) == 0)
			s += fl_ledger_entry(l, i)->rho_e12;
	fl_ledger_close(l);
	return s;
}

/* A fresh ledger at DIR/NAME.ledger holding one evaluation of federation
 * fed costing rho_e12 units. */
static void ledger_with(const char *name, const char *fed, uint64_t rho_e12)
{
	struct fl_ledger *l = NULL;
	struct fl_release rel = {0};
	char path[128];
	int repaired;

	snprintf(path, sizeof(path), "%s/%s.ledger", FX->dir, name);
	unlink(path);
	assert_int_equal(fl_ledger_open(path, 1, &l, &repaired), 0);
	rel.time = (int64_t)time(NULL) - 60;
	rel.rho_e12 = rho_e12;
	snprintf(rel.federation, sizeof(rel.federation), "%s", fed);
	rel.round = 3;
	strcpy(rel.kind, "evaluate");
	assert_int_equal(fl_ledger_charge(l, &rel, budget_units(), 0), 0);
	fl_ledger_close(l);
}

/*
 * Releases cost by kind, so the count of privacy_releases alone does not
 * bound a federation's spending; the sum does, exactly at its edge. With
 * privacy_releases = 3 the federation may spend the statistics (a tenth of
 * its rho, S) and two evaluations (half the rest each, E): S + 2E.
 *  - Three evaluations: the third is release 3 of 3 but would spend
 *    3E > S + 2E, so it is refused before anything is charged or sent.
 *  - One evaluation already recorded at S (the Welcome accepts: the
 *    statistics and one evaluation, S + E, are left of 2E): two more
 *    evaluations instead of the statistics spend exactly S + 2E and are
 *    both answered.
 *  - Recorded at S + 1 unit: the second of them would pass the edge by
 *    one unit (1e-12 of rho) and is refused, with nothing charged.
 * (A federation whose remaining plan does not fit is refused at the
 * Welcome already: test_resume_after_plan_change.)
 */
static void test_spending_edge_refused(void **state)
{
	struct tnode t;
	uint8_t *frame = NULL;
	uint64_t B = budget_units(), S = (uint64_t)floor(0.1 * (double)B), E = (B - S) / 2;
	char msg[600];

	(void)state;
	tnode_new(&t, "edge-eee", 3);
	join(&t, FED);
	assert_int_equal(eval(&t, FED, 3, &frame), FL_FEDNODE_REPLY);
	free(frame);
	frame = NULL;
	assert_int_equal(eval(&t, FED, 4, &frame), FL_FEDNODE_REPLY);
	free(frame);
	frame = NULL;
	snprintf(msg, sizeof(msg),
	         "policy privacy_budget: round 5: an evaluation release of rho %.6g would take "
	         "federation \"fed-dp\" past its rho %.6g (%.6g spent in 2 releases); refused",
	         (double)E / FL_LEDGER_UNITS, (double)(S + 2 * E) / FL_LEDGER_UNITS,
	         (double)(2 * E) / FL_LEDGER_UNITS);
	assert_refused(&t, eval(&t, FED, 5, &frame), frame, "privacy_budget", msg);
	tnode_free(&t);
	assert_int_equal(fed_spent(t.ledger, FED), 2 * E);

	ledger_with("edge-fits", FED, S);
	tnode_new(&t, "edge-fits", 3);
	join(&t, FED);
	for (uint64_t round = 4; round <= 5; round++) {
		assert_int_equal(eval(&t, FED, round, &frame), FL_FEDNODE_REPLY);
		assert_non_null(frame);
		free(frame);
		frame = NULL;
	}
	tnode_free(&t);
	assert_int_equal(fed_spent(t.ledger, FED), S + 2 * E);

	ledger_with("edge-past", FED, S + 1);
	tnode_new(&t, "edge-past", 3);
	join(&t, FED);
	assert_int_equal(eval(&t, FED, 4, &frame), FL_FEDNODE_REPLY);
	free(frame);
	frame = NULL;
	snprintf(msg, sizeof(msg),
	         "policy privacy_budget: round 5: an evaluation release of rho %.6g would take "
	         "federation \"fed-dp\" past its rho %.6g (%.6g spent in 2 releases); refused",
	         (double)E / FL_LEDGER_UNITS, (double)(S + 2 * E) / FL_LEDGER_UNITS,
	         (double)(S + 1 + E) / FL_LEDGER_UNITS);
	assert_refused(&t, eval(&t, FED, 5, &frame), frame, "privacy_budget", msg);
	tnode_free(&t);
	assert_int_equal(fed_spent(t.ledger, FED), S + 1 + E);
}

/*
 * The coordinator's plan of releases is checked at the Welcome, before the
 * ledger is touched: none (a data-dependent number of evaluations) or more
 * than privacy_releases is refused; exactly privacy_releases is accepted.
 */
static void test_plan_refused(void **state)
{
	struct tnode t;
	struct welcome_msg w;
	uint8_t *frame = NULL;
	size_t len;

	(void)state;
	tnode_new(&t, "noplan", 20);
	unlink(t.ledger);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 0;
	assert_refused(&t, fl_fednode_input(t.n, "c", &w.env, &frame, &len), frame,
	               "privacy_releases",
	               "policy privacy_releases: coordinator runs federation \"fed-dp\" without a "
	               "privacy plan (a fixed number of evaluations; privacy = on in its "
	               "[federation] section), so it could ask for more than this node's "
	               "privacy_releases = 20; refused");
	assert_int_equal(access(t.ledger, F_OK), -1);
	tnode_free(&t);

	tnode_new(&t, "bigplan", 20);
	unlink(t.ledger);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 21;
	assert_refused(&t, fl_fednode_input(t.n, "c", &w.env, &frame, &len), frame,
	               "privacy_releases",
	               "policy privacy_releases: federation \"fed-dp\" plans 21 "
	               "releases, but this node splits its budget over privacy_releases = 20; "
	               "refused");
	assert_int_equal(access(t.ledger, F_OK), -1);
	tnode_free(&t);

	tnode_new(&t, "fitplan", 20);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 20;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	tnode_free(&t);
}

/* What differential privacy cannot cover is refused, not sent without it. */
static void test_unprotected_refused(void **state)
{
	struct tnode t;
	struct welcome_msg w;
	struct task_msg m;
	uint8_t *frame = NULL;
	size_t len;

	(void)state;
	tnode_new(&t, "plain", 20);
	{
		struct fl_node_policy pol;

		fl_node_policy_default(&pol);
		pol.allow_plaintext = 1;
		pol.privacy.epsilon = 1;
		pol.privacy.ledger = t.ledger;
		assert_int_equal(fl_fednode_set_policy(t.n, &pol), 0);
	}
	assert_refused(&t, fl_fednode_input(t.n, "c", welcome(&w, FED, 0), &frame, &len), frame,
	               "privacy_epsilon",
	               "policy privacy_epsilon: coordinator runs federation \"fed-dp\" without "
	               "secure aggregation; this node adds its noise under the masks; refused");
	tnode_free(&t);

	tnode_new(&t, "fedavg", 20);
	join(&t, FED);
	assert_refused(&t, fl_fednode_input(t.n, "c", local_train(&m, FED, 3), &frame, &len), frame,
	               "privacy_epsilon",
	               "policy privacy_epsilon: coordinator sent local_train: this node bounds "
	               "the sensitivity of newton and lbfgs evaluations only, not of FedAvg's "
	               "local training; refused");
	task_free(&m);
	tnode_free(&t);
}

/* ---- the statistics round under differential privacy ---- */

#define DP_SCHEMA FL_TEST_DATA "/coil2000/coil2000-dp.schema.json"

/* The fixture's schema and rows, swapped for the copy with clip ranges
 * (tests/data/coil2000/coil2000-dp.schema.json: M* [0, 9], MAANTHUI
 * [1, 10], MGEMOMV [1, 6], A* [0, 12]; no value of the rows is outside). */
struct swapped {
	struct fl_schema *s;
	struct fl_dataset *raw;
};

static void use_dp_schema(struct swapped *sw)
{
	struct fl_load_report rep;

	sw->s = FX->s;
	sw->raw = FX->raw;
	FX->s = NULL;
	FX->raw = NULL;
	if (fl_schema_load(DP_SCHEMA, &FX->s) != 0 ||
	    fl_dataset_load(FX->s, FL_TEST_DATA "/coil2000/train.csv", FL_BAD_ROWS_FAIL, &FX->raw,
	                    &rep) != 0)
		fail_msg("%s", fl_errmsg());
}

static void restore_schema(struct swapped *sw)
{
	fl_schema_free(FX->s);
	fl_dataset_free(FX->raw);
	FX->s = sw->s;
	FX->raw = sw->raw;
}

/* The DP schema with each feature object edited by edit(f, its name), and
 * the CoIL rows encoded with it (origin names it); restore_schema() puts
 * the fixture's back. */
static void use_edited_schema(struct swapped *sw, const char *origin,
                              void (*edit)(json_t *f, const char *name))
{
	struct fl_load_report rep;
	json_error_t jerr;
	json_t *root, *f;
	size_t i;
	char *text;

	sw->s = FX->s;
	sw->raw = FX->raw;
	assert_non_null(root = json_load_file(DP_SCHEMA, 0, &jerr));
	json_array_foreach(json_object_get(root, "features"), i, f)
	{
		edit(f, json_string_value(json_object_get(f, "name")));
	}
	assert_non_null(text = json_dumps(root, 0));
	json_decref(root);
	if (fl_schema_parse(text, strlen(text), origin, &FX->s) != 0 ||
	    fl_dataset_load(FX->s, FL_TEST_DATA "/coil2000/train.csv", FL_BAD_ROWS_FAIL, &FX->raw,
	                    &rep) != 0)
		fail_msg("%s", fl_errmsg());
	free(text);
}

/* MGODPR a spline of 4 knots placed from data. */
static void knots_edit(json_t *f, const char *name)
{
	if (strcmp(name, "MGODPR") == 0) {
		json_object_set_new(f, "transform", json_string("spline"));
		json_object_set_new(f, "knots", json_integer(4));
	}
}

static void use_knots_schema(struct swapped *sw)
{
	use_edited_schema(sw, "knots.json", knots_edit);
}

/*
 * Each noised entry of the statistics vector and its scale exponent, by
 * hand from the bounds in payload.h: rows 1, divided by 4 (2^2, so 1/16
 * in the l2 sensitivity squared), positives 1 undivided; a numeric feature's
 * sums about its clip range's midpoint, with B the half-range 4.5 ([0, 9],
 * [1, 10]), 2.5 ([1, 6]) or 6 ([0, 12]) scaled by the power of two at or
 * above B and B^2 (8 and 32; 4 and 8; 8 and 64; every feature is
 * missing=error, so no count); each level column's sum divided by 2.
 * exp[k] == INT_MIN: not noised, sent as 0. Returns the l2 sensitivity
 * squared, with categorical features counting 1/4 each.
 */
static double stats_layout(const struct fl_schema *s, int *exp)
{
	size_t d = s->dim, len = fl_payload_stats_len(d);
	double l2sq = 1 / 16.0 + 1; /* rows 1/4, positives 1 */

	for (size_t k = 0; k < len; k++)
		exp[k] = INT_MIN;
	exp[0] = 2;
	exp[1] = 0;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t j = f->enc_offset;

		if (f->type == FL_CATEGORICAL) {
			for (size_t c = 0; c < f->enc_width; c++)
				exp[2 + d + j + c] = 1;
			l2sq += 0.25;
			continue;
		}
		assert_int_equal(f->missing, FL_MISSING_ERROR);
		if (f->clip_hi - f->clip_lo == 9) {
			exp[2 + d + j] = 3, exp[2 + 2 * d + j] = 5;
			l2sq += pow(4.5 / 8, 2) + pow(20.25 / 32, 2);
		} else if (f->clip_hi == 6) {
			exp[2 + d + j] = 2, exp[2 + 2 * d + j] = 3;
			l2sq += pow(2.5 / 4, 2) + pow(6.25 / 8, 2);
		} else {
			assert_true(f->clip_hi == 12);
			exp[2 + d + j] = 3, exp[2 + 2 * d + j] = 6;
			l2sq += pow(6 / 8.0, 2) + pow(36 / 64.0, 2);
		}
	}
	return l2sq;
}

/* The packed statistics of the fixture's rows, as do_stats() computes them
 * under differential privacy (sums about the clip ranges' midpoints). */
static double *exact_stats(void)
{
	double *v = malloc(fl_payload_stats_len(FX->s->dim) * sizeof(double));

	assert_non_null(v);
	if (fl_payload_stats_dp_pack(FX->s, FX->raw->X, FX->raw->y, FX->raw->n, v) != 0)
		fail_msg("%s", fl_errmsg());
	return v;
}

/*
 * The mechanism itself: the plan's sensitivity is the hand-computed one,
 * its variance meets the release's rho for two honest partners within 1 %,
 * and over 60 draws the noise (noisy minus exact, divided by each entry's
 * scale) has the planned variance: its sum of squares over M samples is
 * within 6 standard deviations of the chi-square's mean M (the noise is a
 * discrete Gaussian, whose variance is within 1e-9 of sigma2 at these
 * sizes; rounding to the grid adds at most half a grid unit). Entries not
 * noised are exactly 0, and every noised one lies on its grid.
 */
static void test_stats_noise_calibrated(void **state)
{
	struct swapped sw;
	struct fl_stats_dp p;
	size_t len, n = 0, draws = 60;
	double *v, *vc, *x, rho = (double)(budget_units() / 5) / FL_LEDGER_UNITS, l2sq, scale, var;
	double sum = 0, sq = 0, M, got;
	int *exp;

	(void)state;
	use_dp_schema(&sw);
	len = fl_payload_stats_len(FX->s->dim);
	exp = malloc(len * sizeof(int));
	x = malloc(len * sizeof(double));
	assert_non_null(exp);
	assert_non_null(x);
	l2sq = stats_layout(FX->s, exp);
	for (size_t k = 0; k < len; k++)
		n += exp[k] != INT_MIN;
	v = exact_stats();
	vc = malloc(len * sizeof(double)); /* what the noise is added to */
	assert_non_null(vc);
	memcpy(vc, v, len * sizeof(double));
	assert_int_equal(fl_payload_stats_dp_plan(FX->s, rho, 2, FL_SECAGG_STATS_FRAC_BITS,
	                                          (double)((uint64_t)1 << 40), &p),
	                 0);
	assert_int_equal(p.n_noised, n);
	assert_true(fabs(p.l2 * p.l2 - l2sq) < 1e-9);
	assert_true(p.grid_bits >= 0 && p.grid_bits <= FL_SECAGG_STATS_FRAC_BITS);
	scale = ldexp(1, p.grid_bits);
	got = fl_dp_ddg_rho(p.l1 * scale + (double)n, p.l2 * scale + sqrt((double)n), p.sigma2, 2,
	                    n);
	assert_true(got <= rho * (1 + 1e-12));
	assert_true(got >= rho * 0.99);
	var = p.sigma2 / (scale * scale);
	printf("  statistics release: %zu entries noised, l2 %.4f, sigma %.4g per scaled entry "
	       "(grid 2^-%d)\n",
	       n, p.l2, sqrt(var), p.grid_bits);
	for (size_t r = 0; r < draws; r++) {
		memcpy(x, v, len * sizeof(double));
		assert_int_equal(fl_payload_stats_dp_noise(FX->s, &p, x), 0);
		for (size_t k = 0; k < len; k++) {
			double z, g;

			if (exp[k] == INT_MIN) {
				assert_true(x[k] == 0);
				continue;
			}
			/* sent in scaled units (x / 2^e, on the grid of 2^-bits) */
			g = ldexp(x[k], p.grid_bits);
			assert_true(g == floor(g));
			z = x[k] - ldexp(vc[k], -exp[k]);
			sum += z;
			sq += z * z;
		}
	}
	M = (double)(draws * n);
	printf("  %.0f noise samples: mean %.4g, variance %.6g, planned %.6g\n", M, sum / M, sq / M,
	       var);
	assert_true(fabs(sum / M) < 6 * sqrt(var / M));
	assert_true(fabs(sq / var - M) < 6 * sqrt(2 * M));
	free(vc);
	free(v);
	free(x);
	free(exp);
	restore_schema(&sw);
}

/*
 * The per-lead bounds the sensitivities rest on (README, "Bounded
 * contributions"), checked on single leads, since every vector is a sum
 * over leads and adding or removing one adds or removes its own vector.
 *
 * Statistics: every lead of the CoIL rows and a lead at the extremes (each
 * numeric feature at the clip bound of larger magnitude, one level per
 * categorical feature, converted): its packed statistics, each noised
 * entry divided by its scale, have l2 norm at most the plan's and l1 norm
 * at most the plan's, and the extreme lead reaches both (so the bound is
 * not loose); the entries the node does not noise are functions of the
 * others.
 */
static void test_stats_per_lead_bound(void **state)
{
	struct swapped sw;
	struct fl_stats_dp p;
	size_t d, len;
	double *x, *v, worst2 = 0;
	int *exp;

	(void)state;
	use_dp_schema(&sw);
	d = FX->s->dim;
	len = fl_payload_stats_len(d);
	exp = malloc(len * sizeof(int));
	v = malloc(len * sizeof(double));
	x = calloc(d, sizeof(double));
	assert_non_null(exp);
	assert_non_null(v);
	assert_non_null(x);
	(void)stats_layout(FX->s, exp);
	assert_int_equal(fl_payload_stats_dp_plan(FX->s, 0.01, 2, FL_SECAGG_STATS_FRAC_BITS,
	                                          (double)((uint64_t)1 << 40), &p),
	                 0);
	for (size_t i = 0; i <= FX->raw->n; i++) {
		double l1 = 0, l2 = 0, label = 1;

		if (i < FX->raw->n) {
			memcpy(x, FX->raw->X + i * d, d * sizeof(double));
			label = FX->raw->y[i];
		} else {
			memset(x, 0, d * sizeof(double));
			x[0] = 1;
			for (size_t k = 0; k < FX->s->n_features; k++) {
				const struct fl_feature *f = &FX->s->features[k];

				x[f->enc_offset] = f->type == FL_CATEGORICAL ? 1
				                   : fabs(f->clip_lo) > fabs(f->clip_hi)
				                           ? f->clip_lo
				                           : f->clip_hi;
			}
		}
		if (fl_payload_stats_dp_pack(FX->s, x, &label, 1, v) != 0)
			fail_msg("%s", fl_errmsg());
		for (size_t k = 0; k < len; k++) {
			double z;

			if (exp[k] == INT_MIN)
				continue;
			z = fabs(ldexp(v[k], -exp[k]));
			l1 += z;
			l2 += z * z;
		}
		assert_true(sqrt(l2) <= p.l2 * (1 + 1e-12));
		assert_true(l1 <= p.l1 * (1 + 1e-12));
		if (i == FX->raw->n) {
			assert_true(fabs(sqrt(l2) - p.l2) < 1e-9);
			assert_true(fabs(l1 - p.l1) < 1e-9);
		} else if (l2 > worst2)
			worst2 = l2;
	}
	printf("  statistics: largest per-lead l2 among the CoIL leads %.4f, bound %.4f\n",
	       sqrt(worst2), p.l2);
	free(x);
	free(v);
	free(exp);
	restore_schema(&sw);
}

/*
 * Evaluations: for a lead x with ||x|| <= R, class weight c and weights w,
 * its loss is at most c (log 2 + ||w|| R), its gradient's norm at most c R,
 * its packed Hessian's norm at most c R^2 / 4, and its validation sums are
 * 1 row, at most 1 positive, a log-loss at most log 2 + ||w|| R and one
 * histogram count. Checked on 2,000 random leads scaled to norm R (and
 * below), random w, both labels, c = 1 and c = 15.7 (CoIL's balanced
 * weight), and on the worst case x parallel to w.
 */
static void test_eval_per_lead_bounds(void **state)
{
	const size_t d = 12, bins = 50;
	const double R = sqrt((double)d);
	double x[12], w[12], g[12], H[144], hp[78], val[3 + 2 * 50];
	uint64_t rng = 12345;

	(void)state;
	for (int t = 0; t < 2000; t++) {
		double nx = 0, nw = 0, loss, c = t % 2 ? 15.7 : 1, y = (t / 2) % 2, ng = 0, nh = 0;
		double l, wr, hist = 0;

		for (size_t j = 0; j < d; j++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			x[j] = (double)(rng >> 11) / 9007199254740992.0 - 0.5;
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			w[j] = ((double)(rng >> 11) / 9007199254740992.0 - 0.5) * (t % 7);
			nx += x[j] * x[j];
			nw += w[j] * w[j];
		}
		nw = sqrt(nw);
		for (size_t j = 0; j < d; j++) /* half of them on the sphere, others inside */
			x[j] = t % 4 < 2 ? x[j] * R / sqrt(nx) : x[j] * R / sqrt(nx) * 0.3;
		if (t % 10 == 9 && nw > 0) /* x along w: |z| = ||w|| R */
			for (size_t j = 0; j < d; j++)
				x[j] = w[j] / nw * R * (t % 20 == 19 ? -1 : 1);
		fl_linalg_logistic(x, 1, d, &y, &c, w, &loss, g, H);
		fl_payload_hess_pack(H, d, hp);
		for (size_t j = 0; j < d; j++)
			ng += g[j] * g[j];
		for (size_t j = 0; j < d * (d + 1) / 2; j++)
			nh += hp[j] * hp[j];
		wr = nw * R;
		l = log(2.0) + wr;
		assert_true(loss >= 0 && loss <= c * l * (1 + 1e-12));
		assert_true(sqrt(ng) <= c * R * (1 + 1e-12));
		assert_true(sqrt(nh) <= c * R * R / 4 * (1 + 1e-12));
		fl_payload_valid_pack(x, &y, 1, d, w, (uint32_t)bins, 20, val);
		assert_true(val[0] == 1 && val[1] == y);
		assert_true(val[2] >= 0 && val[2] <= l * (1 + 1e-12));
		for (size_t b = 0; b < 2 * bins; b++) {
			assert_true(val[3 + b] == 0 || val[3 + b] == 1);
			hist += val[3 + b];
		}
		assert_true(hist == 1);
	}
}

static Fedlead__Wire__Envelope *stats_task(struct task_msg *m, const char *fed, uint64_t round)
{
	task_ref_fed(m, fed, round);
	fedlead__wire__stats_task__init(&m->stats);
	m->stats.ref = &m->ref;
	m->stats.secagg = task_secagg(m, FL_SECAGG_STATS_FRAC_BITS,
	                              fl_fixed_bound(FL_SECAGG_STATS_FRAC_BITS, 3));
	m->env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK;
	m->env.stats_task = &m->stats;
	return &m->env;
}

static int stats(struct tnode *t, const char *fed, uint64_t round, uint8_t **frame)
{
	struct task_msg m;
	size_t len;
	int r;

	r = fl_fednode_input(t->n, "c", stats_task(&m, fed, round), frame, &len);
	task_free(&m);
	return r;
}

/*
 * The statistics round at a node with differential privacy: charged to the
 * ledger once, as kind "stats", before the key advertisement leaves, and
 * audited with the mechanism's numbers; it costs a tenth of the
 * federation's rho and counts among privacy_releases, so a node that
 * splits its budget over 2 answers one evaluation (the other nine tenths)
 * after it and refuses the next.
 */
static void test_stats_release_charged(void **state)
{
	struct swapped sw;
	struct tnode t;
	struct welcome_msg w;
	struct task_msg m;
	struct fl_ledger *l = NULL;
	const struct fl_release *e;
	uint8_t *frame = NULL;
	size_t len;
	int repaired, *exp;
	json_t *ev, *a;
	double l2sq;

	(void)state;
	use_dp_schema(&sw);
	exp = malloc(fl_payload_stats_len(FX->s->dim) * sizeof(int));
	assert_non_null(exp);
	l2sq = stats_layout(FX->s, exp);
	tnode_new(&t, "stats", 2);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "stats", 2);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 2;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	assert_int_equal(stats(&t, FED, 1, &frame), FL_FEDNODE_REPLY);
	assert_non_null(frame);
	free(frame);
	frame = NULL;

	ev = audit_events(&t, "privacy_release");
	assert_int_equal(json_array_size(ev), 1);
	a = json_array_get(ev, 0);
	assert_string_equal(json_string_value(json_object_get(a, "kind")), "stats");
	assert_true(fabs(json_real_value(json_object_get(a, "sensitivity")) - sqrt(l2sq)) < 1e-9);
	assert_int_equal(json_integer_value(json_object_get(a, "honest_partners")), 2);
	assert_true(fabs(json_real_value(json_object_get(a, "epsilon")) -
	                 fl_dp_epsilon(floor(0.1 * (double)budget_units()) / FL_LEDGER_UNITS,
	                               1e-6)) < 1e-9);
	json_decref(ev);
	assert_int_equal(json_array_size(ev = audit_events(&t, "privacy_unprotected")), 0);
	json_decref(ev);

	/* Release 2 of 2: an evaluation; a third release is refused. */
	assert_int_equal(fl_fednode_input(t.n, "c", standardize(&m, FED, 2), &frame, &len),
	                 FL_FEDNODE_NONE);
	task_free(&m);
	assert_int_equal(eval(&t, FED, 3, &frame), FL_FEDNODE_REPLY);
	free(frame);
	frame = NULL;
	assert_refused(&t, eval(&t, FED, 4, &frame), frame, "privacy_releases",
	               "policy privacy_releases: round 4 would be release 3 of federation "
	               "\"fed-dp\", and this node splits its budget over privacy_releases = 2; "
	               "refused");
	tnode_free(&t);

	/* The ledger (locked while the node lives): the statistics release (a
	 * tenth of the budget), then the evaluation (the rest). */
	assert_int_equal(fl_ledger_open(t.ledger, 0, &l, &repaired), 0);
	assert_int_equal(fl_ledger_count(l), 2);
	e = fl_ledger_entry(l, 0);
	assert_string_equal(e->federation, FED);
	assert_string_equal(e->kind, "stats");
	assert_int_equal(e->round, 1);
	assert_int_equal(e->rho_e12, (uint64_t)floor(0.1 * (double)budget_units()));
	e = fl_ledger_entry(l, 1);
	assert_string_equal(e->kind, "evaluate");
	assert_int_equal(e->round, 3);
	assert_int_equal(e->rho_e12,
	                 budget_units() - (uint64_t)floor(0.1 * (double)budget_units()));
	fl_ledger_close(l);
	free(exp);
	restore_schema(&sw);
}

/*
 * A wide clip range (the review's counter-example): clip [0, 1e6] on the
 * first numeric feature of the CoIL rows (values 0 to 9) gives a centred
 * sum of squares of about 5,822 * (5e5)^2 = 1.5e15 in raw units, beyond
 * the statistics' fixed-point bound for three partners (4.7e13); the node
 * charged its ledger and then refused fatally. Sent in scaled units it
 * answers: one reply, and exactly one ledger entry of kind "stats" for
 * the release's share of the budget.
 */
static void test_stats_wide_clip_answered(void **state)
{
	struct swapped sw;
	struct tnode t;
	struct welcome_msg w;
	struct fl_ledger *l = NULL;
	const struct fl_release *e;
	uint8_t *frame = NULL;
	size_t len, i = 0;
	int repaired;

	(void)state;
	use_dp_schema(&sw);
	while (FX->s->features[i].type != FL_NUMERIC)
		i++;
	FX->s->features[i].clip_lo = 0;
	FX->s->features[i].clip_hi = 1e6;
	tnode_new(&t, "wide", 2);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "wide", 2);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 2;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	assert_int_equal(stats(&t, FED, 1, &frame), FL_FEDNODE_REPLY);
	assert_non_null(frame);
	free(frame);
	tnode_free(&t);
	assert_int_equal(fl_ledger_open(t.ledger, 0, &l, &repaired), 0);
	assert_int_equal(fl_ledger_count(l), 1);
	e = fl_ledger_entry(l, 0);
	assert_string_equal(e->kind, "stats");
	assert_int_equal(e->round, 1);
	assert_int_equal(e->rho_e12, (uint64_t)floor(0.1 * (double)budget_units()));
	fl_ledger_close(l);
	restore_schema(&sw);
}

/* Without a clip range on every numeric feature, the statistics round is
 * refused before anything is computed or charged. */
static void test_stats_refused_without_clip(void **state)
{
	struct tnode t;
	struct welcome_msg w;
	uint8_t *frame = NULL;
	size_t len;
	char fp[65], msg[600];

	(void)state;
	tnode_new(&t, "noclip", 20);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "noclip", 20);
	assert_int_equal(fl_fednode_input(t.n, "c", welcome(&w, FED, 1), &frame, &len),
	                 FL_FEDNODE_NONE);
	fl_schema_fingerprint_hex(FX->s, fp);
	snprintf(msg, sizeof(msg),
	         "policy privacy_clip: round 1: the statistics round would release the sums of "
	         "feature \"MAANTHUI\", which has no clip range in the schema (fingerprint "
	         "%.16s...); differential privacy bounds each lead's part by \"clip\": [low, high] "
	         "on every numeric feature; refused",
	         fp);
	assert_refused(&t, stats(&t, FED, 1, &frame), frame, "privacy_clip", msg);
	tnode_free(&t);
	{
		struct fl_ledger *l = NULL;
		int repaired;

		assert_int_equal(fl_ledger_open(t.ledger, 0, &l, &repaired), 0);
		assert_int_equal(fl_ledger_count(l), 0);
		fl_ledger_close(l);
	}
}

/*
 * The Welcome's budget check counts a statistics release already made: a
 * restarted node rejoining federation fed-b after its statistics round
 * (one release of 20, a tenth of the federation's rho) needs only its 19
 * evaluations (the rest, split equally), and is accepted when the window
 * has exactly that left; one unit (1e-12 of rho) less and it is refused.
 */
static void test_budget_counts_stats(void **state)
{
	struct tnode t;
	struct fl_ledger *l = NULL;
	struct fl_release rel = {0};
	struct welcome_msg w;
	uint8_t *frame = NULL;
	uint64_t B = budget_units(), st = (uint64_t)floor(0.1 * (double)B), per = (B - st) / 19;
	size_t len;
	int repaired;
	char path[128], msg[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/statsedge.ledger", FX->dir);
	unlink(path);
	assert_int_equal(fl_ledger_open(path, 1, &l, &repaired), 0);
	rel.time = (int64_t)time(NULL) - 60;
	rel.rho_e12 = B - st - 19 * per;
	strcpy(rel.federation, "fed-a");
	rel.round = 3;
	strcpy(rel.kind, "evaluate");
	if (rel.rho_e12 > 0)
		assert_int_equal(fl_ledger_charge(l, &rel, B, 0), 0);
	rel.rho_e12 = st;
	strcpy(rel.federation, "fed-b");
	rel.round = 1;
	strcpy(rel.kind, "stats");
	assert_int_equal(fl_ledger_charge(l, &rel, B, 0), 0);
	fl_ledger_close(l);

	tnode_new(&t, "statsedge", 20);
	welcome(&w, "fed-b", 1);
	w.plan.privacy_releases = 20;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	tnode_free(&t);

	assert_int_equal(fl_ledger_open(path, 0, &l, &repaired), 0);
	rel.rho_e12 = 1;
	strcpy(rel.federation, "fed-a");
	strcpy(rel.kind, "evaluate");
	assert_int_equal(fl_ledger_charge(l, &rel, B, 0), 0);
	fl_ledger_close(l);
	tnode_new(&t, "statsedge", 20);
	snprintf(msg, sizeof(msg),
	         "policy privacy_budget: federation \"fed-b\" would spend rho %.6g on its "
	         "remaining releases (19 evaluations), but this node's window has rho %.6g of "
	         "%.6g left (privacy_epsilon = "
	         "1, privacy_delta = 1e-06, privacy_window = 31536000 s, ledger %s); refused",
	         (double)(19 * per) / FL_LEDGER_UNITS, (double)(19 * per - 1) / FL_LEDGER_UNITS,
	         (double)B / FL_LEDGER_UNITS, t.ledger);
	welcome(&w, "fed-b", 1);
	w.plan.privacy_releases = 20;
	assert_refused(&t, fl_fednode_input(t.n, "c", &w.env, &frame, &len), frame,
	               "privacy_budget", msg);
	tnode_free(&t);
}

static void test_privacy_settings(void **state)
{
	struct fl_node_policy pol;

	(void)state;
	fl_node_policy_default(&pol);
	assert_true(pol.privacy.epsilon == 0);
	assert_true(pol.privacy.delta == 1e-6);
	assert_int_equal(pol.privacy.releases, 20);
	pol.privacy.epsilon = 1;
	assert_int_equal(fl_node_policy_check(&pol), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "privacy_epsilon needs a privacy ledger file");
	pol.privacy.ledger = "x";
	pol.privacy.federation_epsilon = 2;
	assert_int_equal(fl_node_policy_check(&pol), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "privacy_federation_epsilon = 2 must be from 0 (all of "
	                                 "privacy_epsilon) to privacy_epsilon = 1");
	pol.privacy.federation_epsilon = 0;
	pol.privacy.delta = 1;
	assert_int_equal(fl_node_policy_check(&pol), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "privacy_delta = 1 must be above 0 and below 1");
}

/* The Hello of node t for federation fed, decoded. */
static Fedlead__Wire__Envelope *hello_of(struct tnode *t, const char *fed)
{
	Fedlead__Wire__Envelope *env = NULL;
	uint8_t *frame = NULL;
	size_t len = 0;

	assert_int_equal(fl_fednode_hello(t->n, fed, &frame, &len), 0);
	assert_int_equal(
	        fl_wire_decode(frame + FL_WIRE_HEADER_LEN, len - FL_WIRE_HEADER_LEN, "node", &env),
	        0);
	free(frame);
	assert_int_equal(env->body_case, FEDLEAD__WIRE__ENVELOPE__BODY_HELLO);
	return env;
}

/* The bytes of file path (malloc'ed, *n of them). */
static char *file_bytes(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	char *b = malloc(1 << 16);

	assert_non_null(fp);
	assert_non_null(b);
	*n = fread(b, 1, 1 << 16, fp);
	assert_true(*n < (1 << 16));
	fclose(fp);
	return b;
}

/* Asserts that the file at path holds exactly the n bytes b. */
static void assert_file_is(const char *path, const char *b, size_t n)
{
	size_t m;
	char *now = file_bytes(path, &m);

	assert_int_equal(m, n);
	assert_memory_equal(now, b, n);
	free(now);
}

/* A fresh ledger at DIR/NAME.ledger holding, for federation fed, a
 * statistics release costing stats units and an evaluation costing eval. */
static void ledger_stats_eval(const char *name, const char *fed, uint64_t stats, uint64_t eval)
{
	struct fl_ledger *l = NULL;
	struct fl_release rel = {0};
	char path[128];
	int repaired;

	snprintf(path, sizeof(path), "%s/%s.ledger", FX->dir, name);
	unlink(path);
	assert_int_equal(fl_ledger_open(path, 1, &l, &repaired), 0);
	rel.time = (int64_t)time(NULL) - 60;
	snprintf(rel.federation, sizeof(rel.federation), "%s", fed);
	rel.rho_e12 = stats;
	rel.round = 1;
	strcpy(rel.kind, "stats");
	assert_int_equal(fl_ledger_charge(l, &rel, budget_units(), 0), 0);
	rel.rho_e12 = eval;
	rel.round = 3;
	strcpy(rel.kind, "evaluate");
	assert_int_equal(fl_ledger_charge(l, &rel, budget_units(), 0), 0);
	fl_ledger_close(l);
}

/*
 * The review's "resume after the plan changed": federation fed-dp made its
 * statistics and one evaluation under an older split of privacy_releases
 * = 3 (a third of its rho B each). Under this plan its one remaining
 * evaluation costs E, half of the nine tenths left by the statistics'
 * tenth S, which is more than the third its share has left. The Welcome
 * refuses it up front with the rho compared, nothing is charged (the
 * ledger's bytes are as they were), and the Hello announces E itself as
 * rho_needed (not clamped to what is left), so a coordinator that checks
 * refuses it too. At the edge: an evaluation recorded at E + 1 unit beside
 * the statistics at S leaves E - 1 and is refused; at E it is accepted.
 */
static void test_resume_after_plan_change(void **state)
{
	struct tnode t;
	struct welcome_msg w;
	Fedlead__Wire__Envelope *env;
	uint8_t *frame = NULL;
	uint64_t B = budget_units(), S = (uint64_t)floor(0.1 * (double)B), E = (B - S) / 2,
	         third = B / 3;
	size_t len, n;
	char msg[700], *before;

	(void)state;
	ledger_stats_eval("resume", FED, third, third);
	tnode_new(&t, "resume", 3);
	before = file_bytes(t.ledger, &n);
	env = hello_of(&t, FED);
	assert_true(env->hello->privacy->rho_needed == (double)E / FL_LEDGER_UNITS);
	assert_true(env->hello->privacy->rho_left == (double)(B - 2 * third) / FL_LEDGER_UNITS);
	assert_int_equal(env->hello->privacy->releases_done, 2);
	fl_wire_free(env);
	snprintf(msg, sizeof(msg),
	         "policy privacy_budget: federation \"fed-dp\" would spend rho %.6g on its "
	         "remaining releases (1 evaluation), but its share has rho %.6g left (%.6g of "
	         "its rho %.6g spent in 2 releases; privacy_federation_epsilon = 1, "
	         "privacy_releases = 3); refused",
	         (double)E / FL_LEDGER_UNITS, (double)(S + 2 * E - 2 * third) / FL_LEDGER_UNITS,
	         (double)(2 * third) / FL_LEDGER_UNITS, (double)(S + 2 * E) / FL_LEDGER_UNITS);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 3;
	assert_refused(&t, fl_fednode_input(t.n, "c", &w.env, &frame, &len), frame,
	               "privacy_budget", msg);
	tnode_free(&t);
	assert_file_is(t.ledger, before, n);
	free(before);

	ledger_stats_eval("resume-edge", FED, S, E + 1);
	tnode_new(&t, "resume-edge", 3);
	snprintf(msg, sizeof(msg),
	         "policy privacy_budget: federation \"fed-dp\" would spend rho %.6g on its "
	         "remaining releases (1 evaluation), but its share has rho %.6g left (%.6g of "
	         "its rho %.6g spent in 2 releases; privacy_federation_epsilon = 1, "
	         "privacy_releases = 3); refused",
	         (double)E / FL_LEDGER_UNITS, (double)(E - 1) / FL_LEDGER_UNITS,
	         (double)(S + E + 1) / FL_LEDGER_UNITS, (double)(S + 2 * E) / FL_LEDGER_UNITS);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 3;
	assert_refused(&t, fl_fednode_input(t.n, "c", &w.env, &frame, &len), frame,
	               "privacy_budget", msg);
	tnode_free(&t);

	ledger_stats_eval("resume-fits", FED, S, E);
	tnode_new(&t, "resume-fits", 3);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 3;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	tnode_free(&t);
}

/*
 * The DP plan version: the Hello announces "fedlead-dp-v7", and a Welcome
 * from a coordinator that speaks another plan (v6, whose gradients are not
 * clipped per row and whose plan has two evaluations; an older one; or,
 * from before the field, none) is refused before the ledger is touched:
 * its bytes stay as they were.
 */
static void test_plan_version_refused(void **state)
{
	static const char *const other[3] = {"fedlead-dp-v6", "fedlead-dp-v3", ""};
	struct tnode t;
	struct welcome_msg w;
	Fedlead__Wire__Envelope *env;
	uint8_t *frame = NULL;
	size_t len, n;
	char msg[600], *before;

	(void)state;
	ledger_with("planv", "fed-a", 1000);
	tnode_new(&t, "planv", 3);
	env = hello_of(&t, FED);
	assert_string_equal(env->hello->privacy->plan, "fedlead-dp-v7");
	fl_wire_free(env);
	tnode_free(&t);
	before = file_bytes(t.ledger, &n);
	for (int i = 0; i < 3; i++) {
		tnode_new(&t, "planv", 3);
		welcome(&w, FED, 1);
		w.plan.privacy_releases = 3;
		w.plan.privacy_plan = (char *)other[i];
		snprintf(msg, sizeof(msg),
		         "policy privacy_epsilon: coordinator of federation \"fed-dp\" speaks "
		         "differential privacy plan \"%s\", this node \"fedlead-dp-v7\" (their "
		         "statistics and noise would not match); refused",
		         other[i]);
		assert_refused(&t, fl_fednode_input(t.n, "c", &w.env, &frame, &len), frame,
		               "privacy_epsilon", msg);
		tnode_free(&t);
		assert_file_is(t.ledger, before, n);
	}
	free(before);
}

/* The Status a node replied in frame: its code and detail. */
static void assert_status(const uint8_t *frame, size_t len, const char *detail)
{
	Fedlead__Wire__Envelope *env = NULL;

	assert_non_null(frame);
	assert_int_equal(
	        fl_wire_decode(frame + FL_WIRE_HEADER_LEN, len - FL_WIRE_HEADER_LEN, "node", &env),
	        0);
	assert_int_equal(env->body_case, FEDLEAD__WIRE__ENVELOPE__BODY_STATUS);
	assert_int_equal(env->status->code, FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR);
	assert_string_equal(env->status->detail, detail);
	fl_wire_free(env);
}

/*
 * A scaler that is unusable whatever the data (the review's subnormal
 * scale 4.94e-324 on column 1: its inverse is infinite) is refused at the
 * Standardize, naming the column, before any release; the evaluation that
 * follows is answered "eval_task before standardisation" and the ledger
 * holds nothing. A scaler that is usable but overflows on some leads'
 * values (centre -1e308, scale 0.5 on MAANTHUI, column 41, and 2.78e-308
 * on AMOTSCO, column 305, which one lead alone makes infinite) is not
 * refused: a refusal there would tell the coordinator, without noise,
 * whether such a lead exists. The rows are made finite before the row
 * clip, and the evaluation is answered and charged once.
 */
static Fedlead__Wire__Envelope *key_advert_of(uint8_t *frame, size_t len);

static void test_standardize_not_finite_refused(void **state)
{
	int r;
	struct tnode t;
	struct welcome_msg w;
	struct task_msg m;
	uint8_t *frame = NULL;
	json_t *ev;
	size_t len;

	(void)state;
	tnode_new(&t, "subnormal", 4);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "subnormal", 4);
	assert_int_equal(fl_fednode_input(t.n, "c", welcome(&w, FED, 1), &frame, &len),
	                 FL_FEDNODE_NONE);
	standardize(&m, FED, 2);
	m.std.scale[1] = 4.94e-324;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	assert_status(frame, len,
	              "invalid standardisation of column 1 (STYPE=Affluent senior apartments): "
	              "scale 4.9406564584124654e-324 is not a positive number with a finite "
	              "inverse");
	free(frame);
	frame = NULL;
	task_free(&m);

	assert_int_equal(fl_fednode_input(t.n, "c", eval_task(&m, FED, 3), &frame, &len),
	                 FL_FEDNODE_REPLY);
	assert_status(frame, len, "eval_task before standardisation");
	free(frame);
	frame = NULL;
	task_free(&m);
	ev = audit_events(&t, "privacy_release");
	assert_int_equal(json_array_size(ev), 0);
	json_decref(ev);

	standardize(&m, FED, 4);
	m.std.center[41] = -1e308;
	m.std.scale[41] = 0.5;
	m.std.scale[305] = 5 / DBL_MAX;
	fl_err_clear();
	r = fl_fednode_input(t.n, "c", &m.env, &frame, &len);
	if (r != FL_FEDNODE_NONE)
		fail_msg("the Standardize was refused: %d %s", r, fl_errmsg());
	task_free(&m);
	assert_int_equal(fl_fednode_input(t.n, "c", eval_task(&m, FED, 5), &frame, &len),
	                 FL_FEDNODE_REPLY);
	task_free(&m);
	{
		Fedlead__Wire__Envelope *env = key_advert_of(frame, len);

		fl_wire_free(env);
	}
	free(frame);
	tnode_free(&t);
	assert_true(fed_spent(t.ledger, FED) > 0);
	ev = audit_events(&t, "privacy_release");
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
}

/*
 * Review rev9 (oom_standardize()): a Standardize that fails half-way (out of memory) must not
 * leave rows behind that a later evaluation sums. The node answers the
 * Standardize with "out of memory while standardising"; an evaluation
 * after it must be answered "eval_task before standardisation" with
 * nothing charged or released, as after a Standardize refused for its
 * values. Two places: the factors of plan v7's gradient clip
 * (dp_clip_train(), (n_train + 1) doubles), after which the validation
 * rows are left unclipped, and the copy of the validation rows (n_valid x
 * dim doubles), after which the training rows are left raw: neither
 * standardised nor clipped to R, while the release's noise assumes R.
 */
static void oom_standardize(int k)
{
	struct tnode t;
	struct welcome_msg w;
	struct task_msg m;
	uint8_t *frame = NULL;
	size_t len, ntr, nva;
	json_t *ev;
	char name[32];

	snprintf(name, sizeof(name), "oom-%d", k);
	tnode_new(&t, name, 5);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, name, 5);
	welcome(&w, FED, 1);
	w.plan.validation_split = 0.2;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	assert_int_equal(fl_fednode_input(t.n, "c", standardize(&m, FED, 2), &frame, &len),
	                 FL_FEDNODE_NONE);
	task_free(&m);
	fl_fednode_rows(t.n, &ntr, &nva);
	assert_true(nva > 0);
	oom_size = k == 0 ? (ntr + 1) * sizeof(double) : nva * FX->s->dim * sizeof(double);
	assert_int_equal(fl_fednode_input(t.n, "c", standardize(&m, FED, 3), &frame, &len),
	                 FL_FEDNODE_REPLY);
	task_free(&m);
	assert_int_equal(oom_size, 0); /* the allocation did fail */
	assert_status(frame, len, "out of memory while standardising");
	free(frame);
	frame = NULL;
	eval_task(&m, FED, 4);
	m.ev.need_hessian = 0;
	m.ev.need_validation = 1;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	task_free(&m);
	ev = audit_events(&t, "privacy_release");
	if (json_array_size(ev) != 0)
		fail_msg("case %d: an evaluation after a Standardize that failed was "
		         "released (%zu releases)",
		         k, json_array_size(ev));
	json_decref(ev);
	assert_status(frame, len, "eval_task before standardisation");
	free(frame);
	frame = NULL;
	tnode_free(&t);
}

static void test_oom_standardize_gradient_factors(void **state)
{
	(void)state;
	oom_standardize(0);
}

static void test_oom_standardize_validation_copy(void **state)
{
	(void)state;
	oom_standardize(1);
}

/* The key advertisement a node replied in frame (decoded; caller frees). */
static Fedlead__Wire__Envelope *key_advert_of(uint8_t *frame, size_t len)
{
	Fedlead__Wire__Envelope *env = NULL;

	assert_non_null(frame);
	assert_int_equal(
	        fl_wire_decode(frame + FL_WIRE_HEADER_LEN, len - FL_WIRE_HEADER_LEN, "node", &env),
	        0);
	assert_int_equal(env->body_case, FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT);
	assert_int_equal(env->key_advert->task_hash.len, 32);
	return env;
}

/* Node `name` with privacy_releases = 4 and max_colluders c answers the
 * evaluation of round 3 (3 of 3); its key advertisement. */
static Fedlead__Wire__Envelope *advert_with_colluders(struct tnode *t, const char *name, unsigned c)
{
	struct fl_node_policy pol;
	struct task_msg m;
	uint8_t *frame = NULL;
	size_t len;

	snprintf(t->ledger, sizeof(t->ledger), "%s/%s.ledger", FX->dir, name);
	unlink(t->ledger);
	fl_node_policy_default(&pol);
	pol.privacy.epsilon = 1;
	pol.privacy.releases = 4;
	pol.privacy.ledger = t->ledger;
	pol.max_colluders = c;
	tnode_start(t, &pol, name);
	join(t, FED);
	assert_int_equal(fl_fednode_input(t->n, "c", eval_task(&m, FED, 3), &frame, &len),
	                 FL_FEDNODE_REPLY);
	task_free(&m);
	{
		Fedlead__Wire__Envelope *env = key_advert_of(frame, len);

		free(frame);
		return env;
	}
}

/*
 * max_colluders sets a node's noise (t - max_colluders honest partners),
 * so it is in the DP task tag: two nodes that differ only in it (1 and 2;
 * 3 of 3 is safe for both) sign different task hashes for the same
 * evaluation, while two with the same settings sign the same one. A key
 * list that puts them in one secure round is refused by the first, with
 * the secure-aggregation engine's exact message, before it deals a share.
 * (A stock coordinator refuses the second partner at its Hello already:
 * test_fed.c, test_privacy_terms.)
 */
static void test_colluders_in_task_tag(void **state)
{
	struct tnode a, b, c;
	Fedlead__Wire__Envelope *ea, *eb, *ec;
	struct keylist_entries {
		Fedlead__Wire__Envelope env;
		Fedlead__Wire__RoundRef ref;
		Fedlead__Wire__KeyList kl;
		Fedlead__Wire__KeyEntry e[3], *ep[3];
	} m;
	const Fedlead__Wire__KeyAdvert *src[3];
	uint8_t cert[1] = {0x30}, *frame = NULL;
	size_t len = 0;

	(void)state;
	ea = advert_with_colluders(&a, "colluders-1", 1);
	eb = advert_with_colluders(&b, "colluders-2", 2);
	ec = advert_with_colluders(&c, "colluders-1b", 1);
	assert_memory_not_equal(ea->key_advert->task_hash.data, eb->key_advert->task_hash.data, 32);
	assert_memory_equal(ea->key_advert->task_hash.data, ec->key_advert->task_hash.data, 32);

	/* acme: the max_colluders = 2 node's advert; globex: a's own. */
	src[0] = eb->key_advert;
	src[1] = ea->key_advert;
	src[2] = ec->key_advert;
	memset(&m, 0, sizeof(m));
	fedlead__wire__envelope__init(&m.env);
	round_ref(&m.ref, FED, 3);
	fedlead__wire__key_list__init(&m.kl);
	m.kl.ref = &m.ref;
	for (size_t i = 0; i < 3; i++) {
		fedlead__wire__key_entry__init(&m.e[i]);
		m.e[i].identity = (char *)CONSORTIUM[i];
		m.e[i].certificate = (ProtobufCBinaryData){sizeof(cert), cert};
		m.e[i].c_pub = src[i]->c_pub;
		m.e[i].s_pub = src[i]->s_pub;
		m.e[i].b_commit = src[i]->b_commit;
		m.e[i].signature = src[i]->signature;
		m.e[i].task_hash = src[i]->task_hash;
		m.ep[i] = &m.e[i];
	}
	m.kl.entries = m.ep;
	m.kl.n_entries = 3;
	m.env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST;
	m.env.key_list = &m.kl;
	assert_int_equal(fl_fednode_input(a.n, "c", &m.env, &frame, &len), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "partner acme was given a different task than this "
	                                 "partner (weights, round, participants or parameters); "
	                                 "refused: a coordinator that does this can isolate one "
	                                 "partner's update");
	assert_null(frame);
	fl_wire_free(ea);
	fl_wire_free(eb);
	fl_wire_free(ec);
	tnode_free(&a);
	tnode_free(&b);
	tnode_free(&c);
}

/*
 * Protocol version 6 changed the statistics a node with differential
 * privacy sends (sums about the clip midpoints), version 7 the
 * standardisation (it carries the knots placed from data). The Hello says
 * 7, so a coordinator of version 6 rejects it there; and a Welcome of
 * version 6 is refused before anything is answered or charged: the ledger
 * stays empty.
 */
static void test_previous_protocol_refused(void **state)
{
	struct tnode t;
	struct welcome_msg w;
	Fedlead__Wire__Envelope *env;
	uint8_t *frame = NULL;
	size_t len = 0;

	(void)state;
	tnode_new(&t, "proto5", 3);
	env = hello_of(&t, FED);
	assert_int_equal(env->hello->protocol_version, 7);
	assert_non_null(env->hello->privacy);
	fl_wire_free(env);
	welcome(&w, FED, 1);
	w.w.protocol_version = 6;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "coordinator speaks protocol version 6, this node "
	                                 "version 7");
	assert_null(frame);
	tnode_free(&t);
	assert_int_equal(fed_spent(t.ledger, FED), 0);
}

/*
 * The terms a node announces in its Hello: its settings, and what its
 * ledger has left for the federation (before and after one release);
 * a node without differential privacy announces none.
 */
static void test_hello_terms(void **state)
{
	struct tnode t;
	struct fl_node_policy pol;
	Fedlead__Wire__Envelope *env;
	const Fedlead__Wire__PrivacyTerms *q;
	uint8_t *frame = NULL;
	uint64_t budget = budget_units(), stats = (uint64_t)floor(0.1 * (double)budget),
	         per = (budget - stats) / 3;

	(void)state;
	snprintf(t.ledger, sizeof(t.ledger), "%s/hello.ledger", FX->dir);
	fl_node_policy_default(&pol);
	pol.privacy.epsilon = 1;
	pol.privacy.releases = 4;
	pol.privacy.clip = 3;
	pol.privacy.ledger = t.ledger;
	tnode_start(&t, &pol, "hello");
	env = hello_of(&t, FED);
	q = env->hello->privacy;
	assert_non_null(q);
	assert_string_equal(q->mechanism, "distributed discrete Gaussian");
	assert_string_equal(q->accountant, "zCDP");
	assert_true(q->epsilon == 1 && q->federation_epsilon == 1 && q->delta == 1e-6);
	assert_true(q->window == FL_NODE_PRIVACY_WINDOW_DEFAULT);
	assert_int_equal(q->releases, 4);
	assert_true(q->clip == 3);
	assert_int_equal(q->max_colluders, 1);
	assert_true(q->rho == (double)budget / FL_LEDGER_UNITS);
	assert_true(q->rho_left == (double)budget / FL_LEDGER_UNITS);
	assert_true(q->rho_needed == (double)(stats + 3 * per) / FL_LEDGER_UNITS);
	assert_int_equal(q->releases_done, 0);
	fl_wire_free(env);

	join(&t, FED);
	assert_int_equal(eval(&t, FED, 3, &frame), FL_FEDNODE_REPLY);
	free(frame);
	env = hello_of(&t, FED);
	q = env->hello->privacy;
	assert_true(q->rho_left == (double)(budget - per) / FL_LEDGER_UNITS);
	assert_true(q->rho_needed == (double)(stats + 2 * per) / FL_LEDGER_UNITS);
	assert_int_equal(q->releases_done, 1);
	fl_wire_free(env);
	/* Another federation: none of its releases made, the window shared. */
	env = hello_of(&t, "fed-other");
	q = env->hello->privacy;
	assert_true(q->rho_left == (double)(budget - per) / FL_LEDGER_UNITS);
	assert_true(q->rho_needed == (double)(stats + 3 * per) / FL_LEDGER_UNITS);
	assert_int_equal(q->releases_done, 0);
	fl_wire_free(env);
	tnode_free(&t);

	fl_node_policy_default(&pol);
	tnode_start(&t, &pol, "hello-off");
	env = hello_of(&t, FED);
	assert_null(env->hello->privacy);
	fl_wire_free(env);
	tnode_free(&t);
}

/*
 * The final model records each partner's privacy; a node saves it only
 * when the record for itself matches its own settings (a partner never
 * takes the coordinator's word for its own privacy). A record that differs
 * in one field is refused naming that field, and nothing is written.
 */
static double final_gradient_clip = FL_DP_GRAD_CLIP; /* what the record says */

/* Model m, signed by the test's coordinator, delivered as the final model
 * of round `round`; the node saves it to out or refuses it (expect). */
static void deliver_model(struct tnode *t, const struct fl_model *m, uint64_t round,
                          const char *out, int expect)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__FinalModel fm = FEDLEAD__WIRE__FINAL_MODEL__INIT;
	Fedlead__Wire__RoundRef ref;
	uint8_t *file = NULL, *signed_file = NULL, *frame = NULL;
	size_t flen = 0, slen = 0, len = 0;

	assert_int_equal(fl_model_encode(m, &file, &flen), 0);
	assert_int_equal(
	        fl_model_file_sign(file, flen, P("coord.key"), P("coord.crt"), &signed_file, &slen),
	        0);
	fl_fednode_set_output(t->n, P("ca/ca.crt"), NULL, out);
	round_ref(&ref, FED, round);
	fm.ref = &ref;
	fm.model_file.data = signed_file;
	fm.model_file.len = slen;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL;
	env.final_model = &fm;
	assert_int_equal(fl_fednode_input(t->n, "c", &env, &frame, &len), expect);
	assert_non_null(frame); /* the Status: saved, or the error */
	free(frame);
	free(signed_file);
	free(file);
}

/* The privacy record of a node with privacy_epsilon 1 and clip `clip`. */
static void final_record(double clip, struct fl_dp_partner *me, struct fl_dp_record *rec)
{
	*me = (struct fl_dp_partner){.partner = ME,
	                             .epsilon = 1,
	                             .delta = 1e-6,
	                             .releases = 30,
	                             .clip = clip,
	                             .max_colluders = 1,
	                             .rho = floor(fl_dp_rho_budget(1, 1e-6) * FL_LEDGER_UNITS) /
	                                    FL_LEDGER_UNITS};
	*rec = (struct fl_dp_record){.mechanism = FL_DP_MECHANISM,
	                             .accountant = FL_DP_ACCOUNTANT,
	                             .releases = 4,
	                             .threshold = 3,
	                             .gradient_clip = final_gradient_clip,
	                             .partners = me,
	                             .n_partners = 1};
}

static void send_final(struct tnode *t, double clip, const char *out, int expect)
{
	struct fl_dp_partner me;
	struct fl_dp_record rec;
	struct fl_model *m = NULL;

	final_record(clip, &me, &rec);
	assert_int_equal(fl_model_new(FX->s, &m), 0);
	if (clip > 0) /* 0: no privacy record */
		assert_int_equal(fl_model_set_privacy(m, &rec), 0);
	deliver_model(t, m, 3, out, expect);
	fl_model_free(m);
}

static void test_final_model_privacy(void **state)
{
	struct tnode a, b;
	char out[160];
	struct fl_node_policy pol;

	(void)state;
	assert_int_equal(pki_setup("/tmp/fl-dp-node-pki.XXXXXX"), 0);
	assert_int_equal(ca("issue --dir ca --name coord.example --role coordinator --out coord"),
	                 0);
	snprintf(out, sizeof(out), "%s/final.fdl", pki_dir);

	/* clip 3 at the node, 2 in the record: refused, nothing written. */
	snprintf(a.ledger, sizeof(a.ledger), "%s/final-a.ledger", FX->dir);
	fl_node_policy_default(&pol);
	pol.privacy.epsilon = 1;
	pol.privacy.releases = 30;
	pol.privacy.clip = 3;
	pol.privacy.ledger = a.ledger;
	tnode_start(&a, &pol, "final-a");
	join(&a, FED);
	send_final(&a, 2, out, FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "privacy provenance: the model records clip = 2 for this "
	                                 "partner (globex), this node's is 3");
	assert_int_equal(access(out, F_OK), -1);
	tnode_free(&a);

	/* No record for a node that added noise; a record for one that did
	 * not: both refused. */
	tnode_start(&a, &pol, "final-a2");
	join(&a, FED);
	send_final(&a, 0, out, FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "privacy provenance: the model records no differential "
	                                 "privacy for this partner (globex), but this node added "
	                                 "noise for epsilon 1 (privacy_epsilon)");
	assert_int_equal(access(out, F_OK), -1);
	tnode_free(&a);
	fl_node_policy_default(&pol);
	pol.allow_plaintext = 1;
	tnode_start(&a, &pol, "final-off");
	join(&a, FED);
	send_final(&a, 3, out, FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "privacy provenance: the model records epsilon = 1 for "
	                                 "this partner (globex), but this node adds no noise "
	                                 "(privacy_epsilon = 0)");
	assert_int_equal(access(out, F_OK), -1);
	tnode_free(&a);
	fl_node_policy_default(&pol);
	pol.privacy.epsilon = 1;
	pol.privacy.releases = 30;
	pol.privacy.clip = 3;

	/* The same record with the node's own clip: saved. */
	snprintf(b.ledger, sizeof(b.ledger), "%s/final-b.ledger", FX->dir);
	pol.privacy.ledger = b.ledger;
	tnode_start(&b, &pol, "final-b");
	join(&b, FED);
	send_final(&b, 3, out, FL_FEDNODE_DONE);
	assert_int_equal(access(out, F_OK), 0);
	tnode_free(&b);

	/* A record of another per-lead gradient clip than the 0.8 this node
	 * applied (plan v7): refused. */
	assert_int_equal(unlink(out), 0);
	snprintf(b.ledger, sizeof(b.ledger), "%s/final-c.ledger", FX->dir);
	pol.privacy.ledger = b.ledger;
	tnode_start(&b, &pol, "final-c");
	join(&b, FED);
	final_gradient_clip = 1;
	send_final(&b, 3, out, FL_ERR_AUTH);
	final_gradient_clip = FL_DP_GRAD_CLIP;
	assert_string_equal(fl_errmsg(), "privacy provenance: the model records gradient_clip = 1 "
	                                 "for this partner (globex), this node's is 0.8");
	assert_int_equal(access(out, F_OK), -1);
	tnode_free(&b);
	pki_teardown(NULL);
}

/*
 * Knots from the federation's data under differential privacy: the knots
 * round is one release of its own, kind "knots", priced as an evaluation
 * (the rest of the budget after the statistics' tenth, over
 * privacy_releases - 1) and charged to the ledger once, before the noised
 * histogram leaves. Its sensitivity is the root of the features whose
 * knots are placed from data (one lead is in one bin of each): here 1.
 * With privacy_releases = 3 the plan is knots, statistics, one evaluation,
 * and the ledger holds exactly those three, adding up to the budget.
 */
static void test_knots_release_charged(void **state)
{
	struct swapped sw;
	struct tnode t;
	struct welcome_msg w;
	struct task_msg m;
	struct fl_ledger *l = NULL;
	const struct fl_release *e;
	uint8_t *frame = NULL;
	size_t len;
	int repaired;
	json_t *ev, *a;
	double knots[4] = {0, 2.5, 5, 9};
	uint64_t per_stats = (uint64_t)floor(0.1 * (double)budget_units()),
	         per_eval = (budget_units() - per_stats) / 2;

	(void)state;
	use_knots_schema(&sw);
	tnode_new(&t, "knots", 3);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "knots", 3);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 3;
	w.plan.privacy_knots_releases = 1;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);

	/* Release 1: the histograms. */
	stats_task(&m, FED, 1);
	m.stats.histograms = 1;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	task_free(&m);
	free(frame);
	frame = NULL;
	ev = audit_events(&t, "privacy_release");
	assert_int_equal(json_array_size(ev), 1);
	a = json_array_get(ev, 0);
	assert_string_equal(json_string_value(json_object_get(a, "kind")), "knots");
	assert_true(json_real_value(json_object_get(a, "sensitivity")) == 1.0);
	assert_true(fabs(json_real_value(json_object_get(a, "rho")) -
	                 (double)per_eval / FL_LEDGER_UNITS) < 1e-15);
	assert_true(json_real_value(json_object_get(a, "sigma2")) > 0);
	json_decref(ev);

	/* Release 2: the statistics, with the knots the coordinator placed. */
	stats_task(&m, FED, 2);
	m.stats.knots = knots;
	m.stats.n_knots = 4;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	task_free(&m);
	free(frame);
	frame = NULL;
	/* Release 3: an evaluation; a fourth release is refused. */
	assert_int_equal(fl_fednode_input(t.n, "c", standardize(&m, FED, 3), &frame, &len),
	                 FL_FEDNODE_NONE);
	task_free(&m);
	assert_int_equal(eval(&t, FED, 4, &frame), FL_FEDNODE_REPLY);
	free(frame);
	frame = NULL;
	assert_refused(&t, eval(&t, FED, 5, &frame), frame, "privacy_releases",
	               "policy privacy_releases: round 5 would be release 4 of federation "
	               "\"fed-dp\", and this node splits its budget over privacy_releases = 3; "
	               "refused");
	tnode_free(&t);

	assert_int_equal(fl_ledger_open(t.ledger, 0, &l, &repaired), 0);
	assert_int_equal(fl_ledger_count(l), 3);
	e = fl_ledger_entry(l, 0);
	assert_string_equal(e->kind, "knots");
	assert_int_equal(e->round, 1);
	assert_int_equal(e->rho_e12, per_eval);
	e = fl_ledger_entry(l, 1);
	assert_string_equal(e->kind, "stats");
	assert_int_equal(e->round, 2);
	assert_int_equal(e->rho_e12, per_stats);
	e = fl_ledger_entry(l, 2);
	assert_string_equal(e->kind, "evaluate");
	assert_int_equal(e->round, 4);
	assert_int_equal(e->rho_e12, per_eval);
	fl_ledger_close(l);
	restore_schema(&sw);
}

/*
 * Knots placed again (dp-review3, finding 1), in a plan that names two
 * knots rounds (a coordinator that resumed without its knots welcomes the
 * node again, once its ledger holds the first knots release; the node
 * allows two with privacy_knots_max = 2, dp_welcome_knots()): a second
 * histogram request after the knots were applied puts the raw values back
 * in the rows, so a Standardize that follows is refused, naming the round,
 * until a statistics task brings the new knots; an evaluation meanwhile is
 * answered "before standardisation". Nothing of that is charged.
 */
static void test_knots_again_blocks_standardize(void **state)
{
	struct swapped sw;
	struct tnode t;
	struct welcome_msg w;
	struct task_msg m;
	uint8_t *frame = NULL;
	size_t len;
	json_t *ev;
	double knots[4] = {0, 2.5, 5, 9};

	(void)state;
	use_knots_schema(&sw);
	tnode_new_knots(&t, "knots-again", 5, 2);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new_knots(&t, "knots-again", 5, 2);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 5;
	w.plan.privacy_knots_releases = 1;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	stats_task(&m, FED, 1);
	m.stats.histograms = 1;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	task_free(&m);
	free(frame);
	stats_task(&m, FED, 2);
	m.stats.knots = knots;
	m.stats.n_knots = 4;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	task_free(&m);
	free(frame);
	w.plan.privacy_knots_releases = 2;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	/* The histograms again: the rows hold raw values until new knots. */
	stats_task(&m, FED, 3);
	m.stats.histograms = 1;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	task_free(&m);
	free(frame);
	frame = NULL;
	assert_int_equal(fl_fednode_input(t.n, "c", standardize(&m, FED, 4), &frame, &len),
	                 FL_FEDNODE_REPLY);
	task_free(&m);
	assert_status(frame, len,
	              "standardisation before the knots of the histograms of round 3 were "
	              "applied: a statistics task carrying them must come first");
	free(frame);
	frame = NULL;
	assert_int_equal(fl_fednode_input(t.n, "c", eval_task(&m, FED, 5), &frame, &len),
	                 FL_FEDNODE_REPLY);
	task_free(&m);
	assert_status(frame, len, "eval_task before standardisation");
	free(frame);
	frame = NULL;
	/* The new knots, then the standardisation is taken. */
	stats_task(&m, FED, 6);
	m.stats.knots = knots;
	m.stats.n_knots = 4;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	task_free(&m);
	free(frame);
	assert_int_equal(fl_fednode_input(t.n, "c", standardize(&m, FED, 7), &frame, &len),
	                 FL_FEDNODE_NONE);
	task_free(&m);
	ev = audit_events(&t, "privacy_release");
	assert_int_equal(json_array_size(ev), 4); /* knots, stats, knots, stats */
	json_decref(ev);
	tnode_free(&t);
	restore_schema(&sw);
}

/*
 * A partner that comes back to a resumed federation with its rows as loaded
 * (protocol 7): a standardisation without knots is refused, by the message
 * order alone (it would train on the values as loaded); one carrying them
 * encodes the rows first, and the evaluation is answered. Neither is a
 * release.
 */
static void test_knots_in_standardize(void **state)
{
	struct swapped sw;
	struct tnode t;
	struct welcome_msg w;
	struct task_msg m;
	uint8_t *frame = NULL;
	size_t len;
	json_t *ev;
	double knots[4] = {0, 2.5, 5, 9};

	(void)state;
	use_knots_schema(&sw);
	tnode_new(&t, "knots-std", 5);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "knots-std", 5);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 5;
	w.plan.privacy_knots_releases = 1;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	assert_int_equal(fl_fednode_input(t.n, "c", standardize(&m, FED, 2), &frame, &len),
	                 FL_ERR_AUTH);
	task_free(&m);
	assert_string_equal(fl_errmsg(),
	                    "policy knots: round 2: the standardisation carries no knots, and this "
	                    "node's rows hold none of the 4 knots placed from the federation's "
	                    "data; refused");
	tnode_free(&t);

	tnode_new(&t, "knots-std", 5);
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	standardize(&m, FED, 2);
	m.std.knots = knots;
	m.std.n_knots = 4;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_NONE);
	task_free(&m);
	ev = audit_events(&t, "privacy_release");
	assert_int_equal(json_array_size(ev), 0);
	json_decref(ev);
	assert_int_equal(fl_fednode_input(t.n, "c", eval_task(&m, FED, 3), &frame, &len),
	                 FL_FEDNODE_REPLY);
	task_free(&m);
	free(frame);
	ev = audit_events(&t, "privacy_release");
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
	tnode_free(&t);
	restore_schema(&sw);
}

/*
 * A standardisation whose knots differ from the rows' is checked whole
 * before the rows are encoded with them (the fourth privacy review's
 * finding 2): with new knots and an invalid class weight, then an invalid
 * scale, it is refused with its error and no pass over the rows; the same
 * message made valid encodes the rows (the counter is live) and the
 * evaluation that follows is answered.
 */
static void test_standardize_checked_before_knots(void **state)
{
	struct swapped sw;
	struct tnode t;
	struct welcome_msg w;
	struct task_msg m;
	uint8_t *frame = NULL;
	size_t len;
	uint64_t passes;
	double knots[4] = {0, 2.5, 5, 9};

	(void)state;
	use_knots_schema(&sw);
	tnode_new(&t, "knots-std-bad", 5);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "knots-std-bad", 5);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 5;
	w.plan.privacy_knots_releases = 1;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	passes = fl_fednode_row_passes(t.n);

	standardize(&m, FED, 2);
	m.std.knots = knots;
	m.std.n_knots = 4;
	m.std.pos_weight = 0;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	assert_status(frame, len, "invalid class weight 0");
	free(frame);
	frame = NULL;
	assert_int_equal(fl_fednode_row_passes(t.n), passes);

	m.std.pos_weight = 1;
	m.std.scale[1] = -1;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	assert_status(frame, len,
	              "invalid standardisation of column 1 (STYPE=Affluent senior apartments): "
	              "scale -1 is not a positive number with a finite inverse");
	free(frame);
	frame = NULL;
	assert_int_equal(fl_fednode_row_passes(t.n), passes);

	m.std.scale[1] = 1;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_NONE);
	assert_true(fl_fednode_row_passes(t.n) > passes);
	task_free(&m);
	assert_int_equal(fl_fednode_input(t.n, "c", eval_task(&m, FED, 3), &frame, &len),
	                 FL_FEDNODE_REPLY);
	task_free(&m);
	free(frame);
	tnode_free(&t);
	restore_schema(&sw);
}

/* A statistics task of round r: the histograms, or the statistics with
 * knots (NULL: none). Returns the node's answer, the frame freed. */
static int send_stats(struct tnode *t, uint64_t round, int histograms, double *knots)
{
	struct task_msg m;
	uint8_t *frame = NULL;
	size_t len;
	int r;

	stats_task(&m, FED, round);
	m.stats.histograms = histograms;
	if (knots != NULL) {
		m.stats.knots = knots;
		m.stats.n_knots = 4;
	}
	r = fl_fednode_input(t->n, "c", &m.env, &frame, &len);
	task_free(&m);
	free(frame);
	return r;
}

/* The number of entries of the ledger at path, and of them of kind. */
static size_t ledger_kind(const char *path, const char *kind, size_t *all)
{
	struct fl_ledger *l = NULL;
	size_t k = 0;
	int repaired;

	assert_int_equal(fl_ledger_open(path, 0, &l, &repaired), 0);
	*all = fl_ledger_count(l);
	for (size_t i = 0; i < *all; i++)
		k += strcmp(fl_ledger_entry(l, i)->kind, kind) == 0;
	fl_ledger_close(l);
	return k;
}

/*
 * The Welcome's count of knots rounds (Plan.privacy_knots_releases) is
 * checked against the node's own bounds, never taken as sent (the fourth
 * privacy review's finding 3, and its review's): for a schema without
 * knots from data, 0; with them, 1 to privacy_knots_max (default 1). Any
 * other count is refused naming the field and both values, before
 * anything is charged. A coordinator resumed from a checkpoint without its
 * knots names 2 once the ledger holds a knots release: a node with the
 * default cap refuses it naming privacy_knots_max, one with
 * privacy_knots_max = 2 takes it.
 */
static int welcome_knots(struct tnode *t, uint64_t named)
{
	struct welcome_msg w;
	uint8_t *frame = NULL;
	size_t len;

	welcome(&w, FED, 1);
	w.plan.privacy_releases = 3;
	w.plan.privacy_knots_releases = named;
	return fl_fednode_input(t->n, "c", &w.env, &frame, &len);
}

/* r must be the refusal of a Welcome naming named knots rounds, over
 * privacy_knots_max = cap, with done knots releases in the ledger. */
static void expect_knots_max(struct tnode *t, int r, uint64_t named, uint64_t cap, uint64_t done)
{
	char msg[400];

	snprintf(msg, sizeof(msg),
	         "policy privacy_knots_max: coordinator of federation \"fed-dp\" names "
	         "privacy_knots_releases = %llu in its plan, more than this node's "
	         "privacy_knots_max = %llu (its schema places knots from the federation's "
	         "data; %llu knots releases in its ledger for this federation); refused",
	         (unsigned long long)named, (unsigned long long)cap, (unsigned long long)done);
	assert_refused(t, r, NULL, "privacy_knots_max", msg);
}

static void test_welcome_knots_checked(void **state)
{
	struct swapped sw;
	struct tnode t;
	size_t all;

	(void)state;
	tnode_new(&t, "knots-named-plain", 3);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "knots-named-plain", 3);
	assert_refused(&t, welcome_knots(&t, 1), NULL, "privacy_releases",
	               "policy privacy_releases: coordinator of federation \"fed-dp\" names "
	               "privacy_knots_releases = 1 in its plan, this node answers 0 (its schema "
	               "places no knots from the federation's data; 0 knots releases in its "
	               "ledger for this federation); refused");
	tnode_free(&t);
	tnode_new(&t, "knots-named-plain", 3);
	assert_int_equal(welcome_knots(&t, 0), FL_FEDNODE_NONE);
	tnode_free(&t);

	use_knots_schema(&sw);
	tnode_new(&t, "knots-named-check", 3);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "knots-named-check", 3);
	assert_refused(&t, welcome_knots(&t, 0), NULL, "privacy_releases",
	               "policy privacy_releases: coordinator of federation \"fed-dp\" names "
	               "privacy_knots_releases = 0 in its plan, this node answers 1 (its schema "
	               "places knots from the federation's data; 0 knots releases in its "
	               "ledger for this federation); refused");
	tnode_free(&t);
	tnode_new(&t, "knots-named-check", 3);
	expect_knots_max(&t, welcome_knots(&t, 2), 2, 1, 0);
	tnode_free(&t);
	/* A partner not yet charged for the first knots round, facing a
	 * coordinator resumed without its knots (2 named): taken with
	 * privacy_knots_max = 2. */
	tnode_new_knots(&t, "knots-named-check", 3, 2);
	assert_int_equal(welcome_knots(&t, 2), FL_FEDNODE_NONE);
	tnode_free(&t);
	tnode_new(&t, "knots-named-check", 3);
	assert_int_equal(welcome_knots(&t, 1), FL_FEDNODE_NONE);
	assert_int_equal(send_stats(&t, 1, 1, NULL), FL_FEDNODE_REPLY);
	tnode_free(&t);
	/* A coordinator resumed without its knots names 2: refused with the
	 * default cap; with privacy_knots_max = 2, 3 is refused. */
	for (uint64_t cap = 1; cap <= 2; cap++) {
		tnode_new_knots(&t, "knots-named-check", 3, cap);
		expect_knots_max(&t, welcome_knots(&t, cap + 1), cap + 1, cap, 1);
		tnode_free(&t);
	}
	tnode_new_knots(&t, "knots-named-check", 3, 2);
	assert_refused(&t, welcome_knots(&t, 0), NULL, "privacy_releases",
	               "policy privacy_releases: coordinator of federation \"fed-dp\" names "
	               "privacy_knots_releases = 0 in its plan, this node answers 1 to 2 (its "
	               "schema places knots from the federation's data; 1 knots releases in its "
	               "ledger for this federation); refused");
	tnode_free(&t);
	for (uint64_t named = 1; named <= 2; named++) {
		tnode_new_knots(&t, "knots-named-check", 3, 2);
		assert_int_equal(welcome_knots(&t, named), FL_FEDNODE_NONE);
		tnode_free(&t);
	}
	/* Nothing was charged by the refusals: the one knots release. */
	assert_int_equal(ledger_kind(t.ledger, "knots", &all), 1);
	assert_int_equal(all, 1);
	restore_schema(&sw);
}

/*
 * The review of the fourth privacy review's fixes (finding 3a): the
 * Welcome's count was checked against one more than the knots releases
 * in the ledger, at every Welcome, and a Welcome is taken at any point of
 * a connection: a coordinator that welcomed the node again naming one
 * more knots round after each histogram got 7 knots releases of a plan of
 * 8 (each charged, but the evaluations' releases spent on histograms of
 * the same rows). Now privacy_knots_max caps them: with the default 1 the
 * second Welcome is refused, naming the key; with 3, three histograms,
 * then a Welcome naming 4 is refused, and one naming 3 again is taken but
 * its histograms are not. The ledger holds the cap's knots releases.
 */
static void test_knots_welcome_repeated(void **state)
{
	struct swapped sw;
	struct tnode t;
	struct welcome_msg w;
	uint8_t *frame = NULL;
	size_t len, all;

	(void)state;
	use_knots_schema(&sw);
	for (uint64_t cap = 1; cap <= 3; cap += 2) {
		uint64_t round = 1;
		char msg[400];

		tnode_new_knots(&t, "knots-again-welcome", 8, cap);
		unlink(t.ledger);
		tnode_free(&t);
		tnode_new_knots(&t, "knots-again-welcome", 8, cap);
		welcome(&w, FED, 1);
		w.plan.privacy_releases = 8;
		for (uint64_t k = 0; k < cap; k++) {
			w.plan.privacy_knots_releases = k + 1;
			assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len),
			                 FL_FEDNODE_NONE);
			assert_int_equal(send_stats(&t, round++, 1, NULL), FL_FEDNODE_REPLY);
		}
		w.plan.privacy_knots_releases = cap + 1;
		expect_knots_max(&t, fl_fednode_input(t.n, "c", &w.env, &frame, &len), cap + 1, cap,
		                 cap);
		tnode_free(&t);
		tnode_new_knots(&t, "knots-again-welcome", 8, cap);
		w.plan.privacy_knots_releases = cap;
		assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
		snprintf(msg, sizeof(msg),
		         "policy privacy_releases: round %llu would be knots release %llu of "
		         "federation \"fed-dp\", whose plan names %llu; refused",
		         (unsigned long long)round, (unsigned long long)cap + 1,
		         (unsigned long long)cap);
		assert_refused(&t, send_stats(&t, round, 1, NULL), NULL, "privacy_releases", msg);
		tnode_free(&t);
		assert_int_equal(ledger_kind(t.ledger, "knots", &all), cap);
		assert_int_equal(all, cap);
	}
	restore_schema(&sw);
}

/*
 * The Welcome names the knots rounds (Plan.privacy_knots_releases;
 * dp-review3, finding 2) and a node answers no more of them, refusing
 * before anything is charged or read. The review's sequence, in a plan of
 * 8 releases: the histograms, the statistics with their knots, a
 * Standardize and an evaluation, once per knots round the plan names; then
 * the histograms again are refused (after the statistics with a plan of
 * one, a third time with a plan of two), and the ledger holds the named
 * knots releases only. Asked twice in a row (the review's "knots slot"),
 * the second is refused too.
 */
static void test_knots_rounds_named(void **state)
{
	struct swapped sw;
	struct tnode t;
	struct welcome_msg w;
	struct task_msg m;
	uint8_t *frame = NULL;
	size_t len, all;
	uint64_t passes;
	double knots[4] = {0, 2.5, 5, 9};
	char name[32], msg[256];

	(void)state;
	use_knots_schema(&sw);
	for (uint64_t named = 1; named <= 2; named++) {
		uint64_t round = 1;

		snprintf(name, sizeof(name), "knots-named-%llu", (unsigned long long)named);
		tnode_new_knots(&t, name, 8, 2);
		unlink(t.ledger);
		tnode_free(&t);
		tnode_new_knots(&t, name, 8, 2);
		welcome(&w, FED, 1);
		w.plan.privacy_releases = 8;
		for (uint64_t k = 0; k < named; k++) {
			/* Welcomed again naming one more knots round once the
			 * ledger holds one (a coordinator resumed without its
			 * knots), which privacy_knots_max = 2 allows. */
			w.plan.privacy_knots_releases = k + 1;
			assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len),
			                 FL_FEDNODE_NONE);
			assert_int_equal(send_stats(&t, round++, 1, NULL), FL_FEDNODE_REPLY);
			assert_int_equal(send_stats(&t, round++, 0, knots), FL_FEDNODE_REPLY);
			assert_int_equal(fl_fednode_input(t.n, "c", standardize(&m, FED, round++),
			                                  &frame, &len),
			                 FL_FEDNODE_NONE);
			task_free(&m);
			assert_int_equal(eval(&t, FED, round++, &frame), FL_FEDNODE_REPLY);
			free(frame);
			frame = NULL;
		}
		passes = fl_fednode_row_passes(t.n);
		snprintf(msg, sizeof(msg),
		         "policy privacy_releases: round %llu would be knots release %llu of "
		         "federation \"fed-dp\", whose plan names %llu; refused",
		         (unsigned long long)round, (unsigned long long)named + 1,
		         (unsigned long long)named);
		assert_refused(&t, send_stats(&t, round, 1, NULL), NULL, "privacy_releases", msg);
		assert_int_equal(fl_fednode_row_passes(t.n), passes);
		tnode_free(&t);
		assert_int_equal(ledger_kind(t.ledger, "knots", &all), named);
		assert_int_equal(all, 3 * named); /* knots, stats, evaluate each */
	}

	tnode_new(&t, "knots-slot", 2);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "knots-slot", 2);
	welcome(&w, FED, 1);
	w.plan.privacy_releases = 2;
	w.plan.privacy_knots_releases = 1;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	assert_int_equal(send_stats(&t, 1, 1, NULL), FL_FEDNODE_REPLY);
	assert_refused(&t, send_stats(&t, 2, 1, NULL), NULL, "privacy_releases",
	               "policy privacy_releases: round 2 would be knots release 2 of federation "
	               "\"fed-dp\", whose plan names 1; refused");
	tnode_free(&t);
	assert_int_equal(ledger_kind(t.ledger, "knots", &all), 1);
	assert_int_equal(all, 1);
	restore_schema(&sw);
}

/*
 * A refused release reads no row (dp-review3, finding 3): the node decides
 * the release's count, share and calibration before it sums or re-encodes
 * its rows, so a refusal takes as long whatever the rows hold, and a
 * refused statistics task does not put knots into the rows.
 * fl_fednode_row_passes() counts the passes over the rows: each answered
 * task below makes some (so the count is live), each refusal none. An
 * evaluation beyond privacy_releases, and statistics with knots beyond it
 * (the old order encoded the rows with the knots first).
 */
static void test_refusal_reads_no_rows(void **state)
{
	struct swapped sw;
	struct tnode t;
	struct welcome_msg w;
	uint8_t *frame = NULL;
	size_t len, all;
	uint64_t passes;
	double knots[4] = {0, 2.5, 5, 9};

	(void)state;
	tnode_new(&t, "passes-eval", 1);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "passes-eval", 1);
	join(&t, FED);
	passes = fl_fednode_row_passes(t.n);
	assert_int_equal(eval(&t, FED, 3, &frame), FL_FEDNODE_REPLY);
	free(frame);
	frame = NULL;
	assert_true(fl_fednode_row_passes(t.n) > passes);
	passes = fl_fednode_row_passes(t.n);
	assert_refused(&t, eval(&t, FED, 4, &frame), frame, "privacy_releases",
	               "policy privacy_releases: round 4 would be release 2 of federation "
	               "\"fed-dp\", and this node splits its budget over privacy_releases = 1; "
	               "refused");
	assert_int_equal(fl_fednode_row_passes(t.n), passes);
	tnode_free(&t);

	use_knots_schema(&sw);
	tnode_new(&t, "passes-stats", 1);
	unlink(t.ledger);
	tnode_free(&t);
	tnode_new(&t, "passes-stats", 1);
	welcome(&w, FED, 1);
	w.plan.privacy_knots_releases = 1;
	assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
	passes = fl_fednode_row_passes(t.n);
	assert_int_equal(send_stats(&t, 1, 1, NULL), FL_FEDNODE_REPLY);
	assert_true(fl_fednode_row_passes(t.n) > passes);
	passes = fl_fednode_row_passes(t.n);
	assert_refused(&t, send_stats(&t, 2, 0, knots), NULL, "privacy_releases",
	               "policy privacy_releases: round 2 would be release 2 of federation "
	               "\"fed-dp\", and this node splits its budget over privacy_releases = 1; "
	               "refused");
	assert_int_equal(fl_fednode_row_passes(t.n), passes);
	tnode_free(&t);
	assert_int_equal(ledger_kind(t.ledger, "knots", &all), 1);
	assert_int_equal(all, 1);
	restore_schema(&sw);
}

/* The noise grid's range from the row count and the bound alone
 * (dp-review3, finding 4): rows x sens x 2^bits below 2^51 fits, from
 * 2^51 on it does not; no value is looked at. */
static void test_grid_fits_edge(void **state)
{
	(void)state;
	assert_true(fl_dgauss_grid_fits(0x1p19 - 1, 1, 32));
	assert_false(fl_dgauss_grid_fits(0x1p19, 1, 32));
	assert_true(fl_dgauss_grid_fits(0x1p30, nextafter(32, 0), 16));
	assert_false(fl_dgauss_grid_fits(0x1p30, 32, 16));
	assert_true(fl_dgauss_grid_fits(0, 1e300, 52));
	assert_false(fl_dgauss_grid_fits(1, NAN, 0));
	assert_false(fl_dgauss_grid_fits(1, INFINITY, 0));
	assert_false(fl_dgauss_grid_fits(1, 1, 53));
}

/* The fixture's schema swapped for one numeric feature x in [0, 1] and
 * `rows` rows (1, i mod 2) with label i mod 2. */
static void use_rows_schema(struct swapped *sw, size_t rows)
{
	const char *text =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": \"1\", "
	        "\"negative\": \"0\"}, \"features\": [{\"name\": \"x\", \"type\": \"numeric\", "
	        "\"clip\": [0, 1]}]}";
	struct fl_dataset *d = calloc(1, sizeof(*d));

	sw->s = FX->s;
	sw->raw = FX->raw;
	assert_int_equal(fl_schema_parse(text, strlen(text), "x.json", &FX->s), 0);
	assert_int_equal(FX->s->dim, 2);
	assert_non_null(d);
	d->n = rows;
	d->dim = 2;
	assert_non_null(d->X = malloc(rows * 2 * sizeof(double)));
	assert_non_null(d->y = malloc(rows * sizeof(double)));
	for (size_t i = 0; i < rows; i++) {
		d->X[2 * i] = 1;
		d->X[2 * i + 1] = d->y[i] = (double)(i % 2);
	}
	FX->raw = d;
}

/*
 * The evaluation's grid check at its edge, at a real node: 2^19 rows whose
 * gradient block moves by at most 1 each (an evaluation without the
 * Hessian: plan v7 clips each row's term to 0.8 R, and privacy_clip =
 * 1.25 makes that exactly 1; no class weight) on the grid of 2^-32 (epsilon 10^7 over 2 releases
 * makes the noise fine enough for the protocol's finest grid, which the answered release's audit
 * confirms) make 2^51 grid units: refused before the charge, reading no row; one row fewer is
 * answered.
 */
static void test_eval_grid_edge(void **state)
{
	struct swapped sw;
	struct fl_node_policy pol;
	struct welcome_msg w;
	struct task_msg m;
	struct tnode t;
	uint8_t *frame = NULL;
	size_t len, all;
	uint64_t passes;
	json_t *ev, *b;

	(void)state;
	for (size_t rows = ((size_t)1 << 19) - 1; rows <= (size_t)1 << 19; rows++) {
		use_rows_schema(&sw, rows);
		fl_node_policy_default(&pol);
		pol.privacy.epsilon = 1e7;
		pol.privacy.releases = 2;
		pol.privacy.clip = 1.25;
		pol.privacy.ledger = t.ledger;
		snprintf(t.ledger, sizeof(t.ledger), "%s/grid-edge-%zu.ledger", FX->dir, rows);
		unlink(t.ledger);
		tnode_start(&t, &pol, "grid-edge");
		welcome(&w, FED, 1);
		w.plan.privacy_releases = 2;
		assert_int_equal(fl_fednode_input(t.n, "c", &w.env, &frame, &len), FL_FEDNODE_NONE);
		assert_int_equal(fl_fednode_input(t.n, "c", standardize(&m, FED, 2), &frame, &len),
		                 FL_FEDNODE_NONE);
		task_free(&m);
		passes = fl_fednode_row_passes(t.n);
		eval_task(&m, FED, 3);
		m.ev.need_hessian = 0;
		if (rows < (size_t)1 << 19) {
			assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len),
			                 FL_FEDNODE_REPLY);
			free(frame);
			frame = NULL;
			ev = audit_events(&t, "privacy_release");
			assert_int_equal(json_array_size(ev), 1);
			b = json_array_get(json_object_get(json_array_get(ev, 0), "blocks"), 1);
			assert_string_equal(json_string_value(json_object_get(b, "block")),
			                    "gradient");
			assert_int_equal(json_integer_value(json_object_get(b, "grid_bits")), 32);
			assert_true(json_real_value(json_object_get(b, "sensitivity")) == 1.0);
			json_decref(ev);
		} else {
			assert_refused(
			        &t, fl_fednode_input(t.n, "c", &m.env, &frame, &len), frame,
			        "bound",
			        "policy bound: round 3: the evaluation's gradient block sums "
			        "524288 rows that each move it by up to 1, more than a grid of "
			        "2^-32 carries with exact noise; nothing was charged to the "
			        "privacy ledger; refused");
			assert_int_equal(fl_fednode_row_passes(t.n), passes);
		}
		task_free(&m);
		tnode_free(&t);
		assert_int_equal(ledger_kind(t.ledger, "evaluate", &all), rows < (size_t)1 << 19);
		restore_schema(&sw);
	}
}

/* The noise of the knots round: sensitivity sqrt(features), and counts
 * that stay on the grid the fixed point carries. */
static void test_knots_noise(void **state)
{
	struct fl_schema *s;
	struct fl_knots_dp p;
	const char *text =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": \"1\", "
	        "\"negative\": \"0\"}, \"features\": [{\"name\": \"a\", \"type\": \"numeric\", "
	        "\"clip\": [0, 1], \"transform\": \"spline\", \"knots\": 5}, {\"name\": \"b\", "
	        "\"type\": \"numeric\", \"clip\": [0, 1], \"transform\": \"bins\", \"knots\": 3}]}";
	double v[2 * FL_KNOTS_BINS], sum = 0, sq = 0, var;

	(void)state;
	assert_int_equal(fl_schema_parse(text, strlen(text), "k.json", &s), 0);
	assert_int_equal(fl_knots_dp_plan(s, 0.01, 2, 32, (double)((uint64_t)1 << 40), &p), 0);
	assert_true(p.l2 == sqrt(2.0));
	assert_true(p.l1 == 2.0);
	assert_int_equal(p.len, 2 * FL_KNOTS_BINS);
	for (size_t k = 0; k < p.len; k++)
		v[k] = 100;
	assert_int_equal(fl_knots_dp_noise(&p, v), 0);
	for (size_t k = 0; k < p.len; k++) {
		double g = ldexp(v[k] - 100, p.grid_bits);

		assert_true(g == floor(g)); /* on the grid */
		sum += v[k] - 100;
		sq += (v[k] - 100) * (v[k] - 100);
	}
	/* The variance drawn is the one planned (512 draws: within 25 %). */
	var = sq / (double)p.len - (sum / (double)p.len) * (sum / (double)p.len);
	printf("  knots noise: planned variance %.4g, drawn %.4g\n",
	       p.sigma2 / ldexp(1, 2 * p.grid_bits), var);
	assert_true(fabs(var / (p.sigma2 / ldexp(1, 2 * p.grid_bits)) - 1) < 0.25);
	fl_schema_free(s);
}

/*
 * A node saves a final model only when it records the knots this node
 * encoded its rows with (those of the statistics task it checked): the
 * same model with one knot moved is refused, naming it, and not written.
 */
static void send_knots_final(struct tnode *t, const double *knots, const char *out, int expect)
{
	struct fl_schema *s = NULL;
	struct fl_model *m = NULL;
	size_t at = 0;

	assert_int_equal(fl_schema_parse(FX->s->canonical, strlen(FX->s->canonical), "s", &s), 0);
	for (size_t i = 0; i < s->n_features; i++)
		if (fl_knots_from_data(&s->features[i])) {
			assert_int_equal(
			        fl_schema_set_knots(s, i, knots + at, s->features[i].n_knots), 0);
			at += s->features[i].n_knots;
		}
	assert_int_equal(fl_model_new(s, &m), 0);
	deliver_model(t, m, 9, out, expect);
	fl_model_free(m);
	fl_schema_free(s);
}

static void test_final_model_knots(void **state)
{
	struct swapped sw;
	struct tnode t;
	struct welcome_msg w;
	struct task_msg m;
	struct fl_node_policy pol;
	uint8_t *frame = NULL;
	size_t len;
	char out[160];
	double knots[4] = {0, 2.5, 5, 9}, moved[4] = {0, 2.5, 5.5, 9};

	(void)state;
	assert_int_equal(pki_setup("/tmp/fl-dp-node-pki.XXXXXX"), 0);
	assert_int_equal(ca("issue --dir ca --name coord.example --role coordinator --out coord"),
	                 0);
	snprintf(out, sizeof(out), "%s/final-knots.fdl", pki_dir);
	use_knots_schema(&sw);

	fl_node_policy_default(&pol);
	tnode_start(&t, &pol, "final-knots");
	assert_int_equal(fl_fednode_input(t.n, "c", welcome(&w, FED, 1), &frame, &len),
	                 FL_FEDNODE_NONE);
	stats_task(&m, FED, 2);
	m.stats.knots = knots;
	m.stats.n_knots = 4;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	task_free(&m);
	free(frame);
	frame = NULL;
	send_knots_final(&t, moved, out, FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "knots: the model records knot 2 of feature \"MGODPR\" as "
	                                 "5.5, but this node encoded its rows with 5");
	assert_int_equal(access(out, F_OK), -1);
	tnode_free(&t);

	tnode_start(&t, &pol, "final-knots2");
	assert_int_equal(fl_fednode_input(t.n, "c", welcome(&w, FED, 1), &frame, &len),
	                 FL_FEDNODE_NONE);
	stats_task(&m, FED, 2);
	m.stats.knots = knots;
	m.stats.n_knots = 4;
	assert_int_equal(fl_fednode_input(t.n, "c", &m.env, &frame, &len), FL_FEDNODE_REPLY);
	task_free(&m);
	free(frame);
	send_knots_final(&t, knots, out, FL_FEDNODE_DONE);
	assert_int_equal(access(out, F_OK), 0);
	tnode_free(&t);
	unlink(out);
	pki_teardown(NULL);
	restore_schema(&sw);
}

/*
 * A node saves a final model only when every feature its schema declares
 * monotone has its effect in the declared direction (the solver's
 * constraint, checked from the weights: fl_spline_monotone_verify()), with
 * or without differential privacy: here MGODPR a spline on the knots 0,
 * 3, 6, 9, "increasing", and MAANTHUI a plain value, "decreasing". A
 * model whose spline weights fall by 0.25 log-odds between B-splines 2
 * and 3 is refused naming the feature and nothing is written; so is one
 * whose MAANTHUI weight is positive; a fall within the rounding tolerance
 * (1e-12) is saved.
 */
static void monotone_edit(json_t *f, const char *name)
{
	if (strcmp(name, "MGODPR") == 0) {
		json_object_set_new(f, "transform", json_string("spline"));
		json_object_set_new(f, "knots", json_pack("[iiii]", 0, 3, 6, 9));
		json_object_set_new(f, "monotone", json_string("increasing"));
	} else if (strcmp(name, "MAANTHUI") == 0) {
		json_object_set_new(f, "monotone", json_string("decreasing"));
	}
}

/* A model of FX->s whose MGODPR block is M u (its increments u, from the
 * schema's own constraint maps), MAANTHUI's weight `plain`; with the
 * privacy record of clip `clip` when clip > 0. */
static struct fl_model *monotone_model(const double *u, double plain, double clip)
{
	struct fl_solver_bounds *b = NULL;
	struct fl_dp_partner me;
	struct fl_dp_record rec;
	struct fl_model *m = NULL;

	assert_int_equal(fl_model_new(FX->s, &m), 0);
	assert_int_equal(fl_spline_bounds(FX->s, &b), 0);
	assert_int_equal(b->n_blocks, 2);
	for (size_t k = 0; k < b->n_blocks; k++) {
		const struct fl_solver_block *bk = &b->blocks[k];

		for (size_t i = 0; i < bk->n; i++) {
			double t = 0;

			for (size_t j = 0; j < bk->n; j++)
				t += bk->M[i * bk->n + j] * (bk->n == 1 ? -plain : u[j]);
			m->w[bk->offset + i] = t;
		}
	}
	fl_spline_bounds_free(b);
	if (clip > 0) {
		final_record(clip, &me, &rec);
		assert_int_equal(fl_model_set_privacy(m, &rec), 0);
	}
	return m;
}

/* A node of policy pol (privacy record of clip `clip` in the models when
 * clip > 0) refuses the two models that break the constraints, naming
 * the feature, and saves the one within the tolerance. */
static void final_monotone_node(const struct fl_node_policy *pol, const char *name, double clip,
                                const char *out)
{
	const double bad[6] = {0, 1, 1, -0.25, 1, 1}, edge[6] = {0, 1, 1, -1e-12, 1, 1};
	const double good[6] = {0.5, 0, 2, 0, 1, 0};
	struct tnode t;
	struct fl_model *m;

	tnode_start(&t, pol, name);
	join(&t, FED);
	m = monotone_model(bad, -0.5, clip);
	deliver_model(&t, m, 3, out, FL_ERR_AUTH);
	fl_model_free(m);
	assert_string_equal(fl_errmsg(), "monotone: feature \"MGODPR\" is declared \"monotone\": "
	                                 "\"increasing\", but the model's B-spline weights 2 and 3 "
	                                 "make its effect fall by 0.25 log-odds (tolerance "
	                                 "4.75e-09)");
	assert_int_equal(access(out, F_OK), -1);
	m = monotone_model(good, 0.5, clip);
	deliver_model(&t, m, 3, out, FL_ERR_AUTH);
	fl_model_free(m);
	assert_string_equal(fl_errmsg(), "monotone: feature \"MAANTHUI\" is declared \"monotone\": "
	                                 "\"decreasing\", but its weight in the model is 0.5, so "
	                                 "its effect rises");
	assert_int_equal(access(out, F_OK), -1);
	m = monotone_model(edge, -0.5, clip);
	deliver_model(&t, m, 3, out, FL_FEDNODE_DONE);
	fl_model_free(m);
	assert_int_equal(access(out, F_OK), 0);
	assert_int_equal(unlink(out), 0);
	tnode_free(&t);
}

/* The final-model tests' start: a PKI with the coordinator's certificate,
 * the model's path `name` in it (into out, 160 bytes), and the schema with
 * monotone features (restored from *sw). */
static void monotone_setup(struct swapped *sw, char *out, const char *name)
{
	assert_int_equal(pki_setup("/tmp/fl-dp-node-pki.XXXXXX"), 0);
	assert_int_equal(ca("issue --dir ca --name coord.example --role coordinator --out coord"),
	                 0);
	snprintf(out, 160, "%s/%s", pki_dir, name);
	use_edited_schema(sw, "monotone.json", monotone_edit);
}

/* MGODPR's feature in the schema m carries. */
static const struct fl_feature *mgodpr(const struct fl_model *m)
{
	for (size_t i = 0; i < m->schema->n_features; i++)
		if (strcmp(m->schema->features[i].name, "MGODPR") == 0)
			return &m->schema->features[i];
	fail_msg("the model has no MGODPR");
	return NULL;
}

static void test_final_model_monotone(void **state)
{
	struct swapped sw;
	struct fl_node_policy pol;
	char out[160], ledger[160];

	(void)state;
	monotone_setup(&sw, out, "final-monotone.fdl");

	/* Without differential privacy. */
	fl_node_policy_default(&pol);
	pol.allow_plaintext = 1;
	final_monotone_node(&pol, "final-mono", 0, out);
	/* With differential privacy: the privacy record matches, the curve
	 * does not. */
	fl_node_policy_default(&pol);
	pol.privacy.epsilon = 1;
	pol.privacy.releases = 30;
	pol.privacy.clip = 3;
	snprintf(ledger, sizeof(ledger), "%s/final-mono-dp.ledger", FX->dir);
	pol.privacy.ledger = ledger;
	final_monotone_node(&pol, "final-mono-dp", 3, out);
	restore_schema(&sw);
	pki_teardown(NULL);
}

/* The model's logit of a lead whose only nonzero column block is MGODPR's
 * at value v, through the model's own scaler (as the scorer applies it). */
static double mgodpr_logit(const struct fl_model *m, double v)
{
	const struct fl_feature *f = mgodpr(m);
	double *x = calloc(m->dim, sizeof(double)), z;

	assert_non_null(x);
	for (size_t j = 0; j < m->dim; j++)
		x[j] = m->scaler->center[j];
	fl_spline_encode(f, v, 0, x + f->enc_offset);
	fl_scaler_apply(m->scaler, x);
	z = fl_model_logit(m, x);
	free(x);
	return z;
}

/* Asserts that m, scored as the scorer scores, lowers the logit by more
 * than one log-odds between two neighbouring whole values of MGODPR in
 * 0..9: the model the node is handed really breaks "increasing". */
static void assert_mgodpr_falls(const struct fl_model *m)
{
	int falls = 0;

	for (double v = 0; v < 9; v += 1)
		falls |= mgodpr_logit(m, v + 1) < mgodpr_logit(m, v) - 1;
	assert_true(falls);
}

/*
 * A final model whose weights keep MGODPR increasing but whose scaler
 * divides one of its basis columns by 0.001 (the scorer applies the
 * scaler to every column, fl_scaler_apply()), so the score falls from 47.4
 * to 3.4 log-odds as MGODPR goes from 0 to 5: the node must refuse it.
 * A check of the weights alone would save it.
 */
static void test_final_model_scale_checked(void **state)
{
	const double good[6] = {0.5, 1, 1, 1, 1, 1};
	struct swapped sw;
	struct fl_node_policy pol;
	struct fl_model *m;
	struct tnode tn;
	char out[160];
	size_t off = 0;

	(void)state;
	monotone_setup(&sw, out, "final-scale.fdl");
	fl_node_policy_default(&pol);
	pol.allow_plaintext = 1;
	m = monotone_model(good, -0.5, 0);
	off = mgodpr(m)->enc_offset;
	{
		double *v = malloc(m->dim * sizeof(double));
		int found = 0;

		assert_non_null(v);
		/* One basis column's scale: the effective weights w / scale. */
		for (size_t j = 1; j < 6 && !found; j++)
			for (double f = 1e-3; f <= 1e3 && !found; f *= 1e6) {
				memcpy(v, m->w, m->dim * sizeof(double));
				v[off + j] /= f;
				if (fl_spline_monotone_verify(FX->s, v) != 0) {
					m->scaler->scale[off + j] = f;
					found = 1;
				}
			}
		assert_true(found);
		free(v);
	}
	assert_int_equal(fl_spline_monotone_verify(FX->s, m->w), 0);
	assert_mgodpr_falls(m);
	tnode_start(&tn, &pol, "scale");
	join(&tn, FED);
	deliver_model(&tn, m, 3, out, FL_ERR_AUTH);
	{
		static const char want[] = "monotone: feature \"MGODPR\" is declared \"monotone\": "
		                           "\"increasing\", but the model's B-spline weights ";

		assert_memory_equal(fl_errmsg(), want, sizeof(want) - 1);
	}
	assert_int_equal(access(out, F_OK), -1);
	fl_model_free(m);
	tnode_free(&tn);
	restore_schema(&sw);
	pki_teardown(NULL);
}

/* MGODPR as 6 bins, not monotone: the same columns as monotone_edit's
 * spline. */
static void bins_edit(json_t *f, const char *name)
{
	if (strcmp(name, "MGODPR") == 0) {
		json_object_set_new(f, "transform", json_string("bins"));
		json_object_set_new(f, "knots", json_pack("[iiiiiii]", 0, 1, 2, 3, 4, 5, 9));
	} else if (strcmp(name, "MAANTHUI") == 0) {
		json_object_set_new(f, "monotone", json_string("decreasing"));
	}
}

/*
 * A final model whose own schema makes MGODPR 6 bins instead of the
 * federation's monotone spline, with the same number of columns: the node
 * checks the weights against its own schema's spline, the scorer reads
 * them as bins. The node must refuse a model of another schema.
 */
static void test_final_model_other_schema_refused(void **state)
{
	struct swapped sw, sw2;
	struct fl_node_policy pol;
	struct fl_schema *node_s;
	struct fl_model *m;
	struct tnode tn;
	char out[160];
	size_t off = 0;

	(void)state;
	monotone_setup(&sw, out, "final-schema.fdl");
	node_s = FX->s;
	use_edited_schema(&sw2, "bins.json", bins_edit);
	assert_int_equal(FX->s->dim, node_s->dim);
	assert_int_equal(fl_model_new(FX->s, &m), 0);
	off = mgodpr(m)->enc_offset;
	/* A spline weight vector M e_c (increments >= 0 in the node's
	 * schema) that falls somewhere when read as bin weights. */
	{
		struct fl_solver_bounds *b = NULL;
		int found = 0;

		assert_int_equal(fl_spline_bounds(node_s, &b), 0);
		for (size_t c = 1; c < 6 && !found; c++) {
			for (size_t j = 0; j < 6; j++)
				m->w[off + j] =
				        100 * b->blocks[b->blocks[0].n == 6 ? 0 : 1].M[j * 6 + c];
			for (size_t j = 1; j < 6; j++)
				if (m->w[off + j] < m->w[off + j - 1] - 1)
					found = 1;
		}
		fl_spline_bounds_free(b);
		assert_true(found);
	}
	m->w[off + 6 + 0] = 0;
	for (size_t i = 0; i < m->schema->n_features; i++)
		if (strcmp(m->schema->features[i].name, "MAANTHUI") == 0)
			m->w[m->schema->features[i].enc_offset] = -0.5;
	/* Monotone by the node's own schema, falling as the model scores it. */
	assert_int_equal(fl_spline_monotone_verify(node_s, m->w), 0);
	assert_mgodpr_falls(m);
	restore_schema(&sw2);
	fl_node_policy_default(&pol);
	pol.allow_plaintext = 1;
	tnode_start(&tn, &pol, "schema");
	join(&tn, FED);
	deliver_model(&tn, m, 3, out, FL_ERR_AUTH);
	assert_string_equal(
	        fl_errmsg(),
	        "final model: its schema is not the federation's (another fingerprint)");
	assert_int_equal(access(out, F_OK), -1);
	fl_model_free(m);
	tnode_free(&tn);
	restore_schema(&sw);
	pki_teardown(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_grid_noise_variance),
	        cmocka_unit_test(test_grid_noise_limits),
	        cmocka_unit_test(test_release_charged_and_calibrated),
	        cmocka_unit_test(test_plan_v7_shares),
	        cmocka_unit_test(test_releases_refused),
	        cmocka_unit_test(test_budget_across_federations),
	        cmocka_unit_test(test_spending_edge_refused),
	        cmocka_unit_test(test_plan_refused),
	        cmocka_unit_test(test_unprotected_refused),
	        cmocka_unit_test(test_privacy_settings),
	        cmocka_unit_test(test_hello_terms),
	        cmocka_unit_test(test_previous_protocol_refused),
	        cmocka_unit_test(test_final_model_privacy),
	        cmocka_unit_test(test_stats_noise_calibrated),
	        cmocka_unit_test(test_stats_per_lead_bound),
	        cmocka_unit_test(test_eval_per_lead_bounds),
	        cmocka_unit_test(test_stats_release_charged),
	        cmocka_unit_test(test_stats_wide_clip_answered),
	        cmocka_unit_test(test_stats_refused_without_clip),
	        cmocka_unit_test(test_budget_counts_stats),
	        cmocka_unit_test(test_resume_after_plan_change),
	        cmocka_unit_test(test_plan_version_refused),
	        cmocka_unit_test(test_standardize_not_finite_refused),
	        cmocka_unit_test(test_oom_standardize_gradient_factors),
	        cmocka_unit_test(test_oom_standardize_validation_copy),
	        cmocka_unit_test(test_colluders_in_task_tag),
	        cmocka_unit_test(test_knots_release_charged),
	        cmocka_unit_test(test_knots_again_blocks_standardize),
	        cmocka_unit_test(test_knots_in_standardize),
	        cmocka_unit_test(test_standardize_checked_before_knots),
	        cmocka_unit_test(test_welcome_knots_checked),
	        cmocka_unit_test(test_knots_rounds_named),
	        cmocka_unit_test(test_knots_welcome_repeated),
	        cmocka_unit_test(test_refusal_reads_no_rows),
	        cmocka_unit_test(test_grid_fits_edge),
	        cmocka_unit_test(test_eval_grid_edge),
	        cmocka_unit_test(test_knots_noise),
	        cmocka_unit_test(test_final_model_knots),
	        cmocka_unit_test(test_final_model_monotone),
	        cmocka_unit_test(test_final_model_scale_checked),
	        cmocka_unit_test(test_final_model_other_schema_refused),
	};

	fl_log_init("test_dp_node", FL_LOG_ERROR);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
