/*
 * Coordinator state machine. The shape of a federation:
 *
 *   WAITING --quorum--> STATS --sums--> TRAIN --converged--> FINAL --saved--> DONE
 *
 * Every step is a round: the coordinator sends one task to each
 * participant, waits for all answers (or applies the late policy), adds the
 * answers up in the order of the partners' names, and acts on the sum. A
 * checkpoint is written after every completed round, in a state from which
 * continue_federation() issues the next round; a restarted coordinator
 * restores it and continues identically.
 */
#include "fedlead/coord.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedlead/error.h"
#include "fedlead/fault.h"
#include "fedlead/payload.h"
#include "fedlead/logreg.h"
#include "fedlead/secagg.h"
#include "fedlead/masks.h"
#include <openssl/rand.h>
#include "fedlead/train.h"
#include "fedlead/wire.h"
#include "state.pb-c.h"

#define STATE_VERSION 1

enum task { T_NONE, T_STATS, T_EVAL, T_FEDAVG, T_FINAL };

struct partner {
	char *id;
	int connected, participant, dropped, pending, saved;
	int sa_lost; /* gone during this round's secure aggregation */
	double last_seen;
	double *vec; /* this round's answer, until the round completes */
	size_t vlen;
};

struct fl_fedcoord {
	struct fl_coord_settings set;
	char *federation_id;
	const struct fl_schema *schema;
	struct fl_fedcoord_io io;
	size_t d;

	enum fl_fed_phase phase;
	uint64_t round;
	struct partner *p;
	size_t np;
	int started, resumed, waiting_kick, start_timer;

	enum task task; /* of the round in progress */
	int need_hess, need_valid, valid_only;
	double *cur_w; /* weights sent in the round in progress */

	struct fl_scaler *scaler;
	double pos_weight, total_rows, total_positives;

	struct fl_solver *solver;
	double *w;      /* current weights */
	double *last_eval_w; /* weights of the last evaluation with validation */
	double l2;
	size_t l2_index, n_grid;
	double grid[FL_L2_GRID_MAX];
	struct fl_l2_candidate l2_results[FL_L2_GRID_MAX];
	int l2_iters[FL_L2_GRID_MAX];
	double *best_w;
	int fedavg_round, iterations;
	double train_loss, grad_norm, valid_log_loss, valid_auc;
	double valid_rows, valid_positives; /* of the last validation, for the model */

	struct fl_round_log *hist;
	size_t n_hist;

	uint8_t *model_file;
	size_t model_len;

	/* Secure aggregation of the round in progress (NULL when plain). */
	struct fl_secagg_coord *sa;
	Fedlead__Wire__SecAggParams sap;
	uint8_t session[FL_WIRE_SESSION_LEN];
	double *secure_sum; /* the unmasked sum, once the last step is done */
};

const char *fl_fed_algo_name(enum fl_fed_algo a)
{
	switch (a) {
	case FL_FED_NEWTON: return "newton";
	case FL_FED_LBFGS: return "lbfgs";
	case FL_FED_FEDAVG: return "fedavg";
	}
	return "?";
}

const char *fl_fed_phase_name(enum fl_fed_phase p)
{
	static const char *const names[] = {"waiting", "statistics", "training", "final", "done",
					    "failed"};

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int fl_coord_settings_check(const struct fl_coord_settings *s)
{
	/* The id goes into every key derivation of secure aggregation, whose
	 * context strings are bounded (FL_SA_MAX_NAME). */
	if (s->federation_id == NULL || s->federation_id[0] == '\0' ||
	    strlen(s->federation_id) > FL_FED_MAX_ID)
		return fl_fail(FL_ERR_CONFIG, "federation id must be 1 to %d characters",
			       FL_FED_MAX_ID);
	if (s->n_partners == 0)
		return fl_fail(FL_ERR_CONFIG, "no partners are allowed (partners = ...)");
	if (s->min_partners < 1 || s->min_partners > s->n_partners)
		return fl_fail(FL_ERR_CONFIG, "min_partners %zu must be between 1 and the %zu "
			       "allowed partners", s->min_partners, s->n_partners);
	for (size_t i = 0; i < s->n_partners; i++)
		for (size_t j = i + 1; j < s->n_partners; j++)
			if (strcmp(s->partners[i], s->partners[j]) == 0)
				return fl_fail(FL_ERR_CONFIG, "partner \"%s\" is listed twice",
					       s->partners[i]);
	if (s->l2_auto && !(s->validation_split > 0))
		return fl_fail(FL_ERR_CONFIG, "l2 = auto needs validation_split > 0: the grid is "
			       "judged on the partners' held-out rows");
	if (!(s->validation_split >= 0 && s->validation_split < 1))
		return fl_fail(FL_ERR_CONFIG, "validation_split must be from 0 up to 1");
	if (!s->l2_auto && !(s->l2 >= 0))
		return fl_fail(FL_ERR_CONFIG, "l2 must be at least 0 or auto");
	if (s->class_weight < 0)
		return fl_fail(FL_ERR_CONFIG, "class_weight must be positive (0 = balanced)");
	if (s->algorithm == FL_FED_FEDAVG &&
	    (s->fedavg_rounds < 1 || s->local_epochs < 1 || s->local_batch < 1 || !(s->local_lr > 0)))
		return fl_fail(FL_ERR_CONFIG, "fedavg needs rounds, local_epochs, local_batch and "
			       "local_lr above 0");
	if (s->hist_bins < 2 || s->hist_bins > FL_HIST_BINS_MAX || !(s->hist_range > 0))
		return fl_fail(FL_ERR_CONFIG, "hist_bins must be 2 to %d", FL_HIST_BINS_MAX);
	if (!(s->round_deadline > 0))
		return fl_fail(FL_ERR_CONFIG, "round_deadline must be positive");
	if (s->secure && (s->n_partners < 2 || s->n_partners > FL_WIRE_MAX_PARTIES))
		return fl_fail(FL_ERR_CONFIG, "secure aggregation needs 2 to %d partners",
			       FL_WIRE_MAX_PARTIES);
	/* With t at most half of n, a coordinator could tell two halves of the
	 * partners different stories and unmask one input: partners refuse
	 * such rounds, so the configuration is refused up front. */
	if (s->secure && s->threshold != 0 &&
	    (2 * (size_t)s->threshold <= s->n_partners || s->threshold > s->n_partners))
		return fl_fail(FL_ERR_CONFIG, "threshold %u must be more than half of the %zu "
			       "partners and at most all of them", s->threshold, s->n_partners);
	return 0;
}

static int partner_cmp(const void *a, const void *b)
{
	return strcmp(((const struct partner *)a)->id, ((const struct partner *)b)->id);
}

static struct partner *find_partner(struct fl_fedcoord *c, const char *id)
{
	struct partner key = {.id = (char *)id};

	return bsearch(&key, c->p, c->np, sizeof(*c->p), partner_cmp);
}

void fl_fedcoord_free(struct fl_fedcoord *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->np; i++) {
		free(c->p[i].id);
		free(c->p[i].vec);
	}
	free(c->p);
	free(c->federation_id);
	free(c->cur_w);
	fl_scaler_free(c->scaler);
	fl_solver_free(c->solver);
	free(c->w);
	free(c->last_eval_w);
	free(c->best_w);
	free(c->hist);
	free(c->model_file);
	fl_secagg_coord_free(c->sa);
	free(c->secure_sum);
	free(c);
}

int fl_fedcoord_new(const struct fl_coord_settings *s, const struct fl_schema *schema,
		    const struct fl_fedcoord_io *io, struct fl_fedcoord **out)
{
	struct fl_fedcoord *c;
	int r;

	*out = NULL;
	if ((r = fl_coord_settings_check(s)) != 0)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return FL_ERR_NOMEM;
	c->set = *s;
	c->schema = schema;
	c->io = *io;
	c->d = schema->dim;
	r = FL_ERR_NOMEM;
	if ((c->federation_id = strdup(s->federation_id)) == NULL ||
	    (c->p = calloc(s->n_partners, sizeof(*c->p))) == NULL ||
	    (c->cur_w = calloc(c->d, sizeof(double))) == NULL ||
	    (c->w = calloc(c->d, sizeof(double))) == NULL ||
	    (c->last_eval_w = calloc(c->d, sizeof(double))) == NULL ||
	    (c->best_w = calloc(c->d, sizeof(double))) == NULL)
		goto fail;
	c->set.federation_id = c->federation_id;
	c->set.partners = NULL; /* the copies live in c->p */
	for (size_t i = 0; i < s->n_partners; i++) {
		if ((c->p[i].id = strdup(s->partners[i])) == NULL)
			goto fail;
		c->np = i + 1;
	}
	qsort(c->p, c->np, sizeof(*c->p), partner_cmp);
	c->n_grid = s->l2_auto ? fl_l2_grid(c->grid, FL_L2_GRID_MAX) : 1;
	if (!s->l2_auto)
		c->grid[0] = s->l2;
	c->l2 = c->grid[0];
	c->train_loss = c->grad_norm = c->valid_log_loss = c->valid_auc = NAN;
	*out = c;
	return 0;
fail:
	fl_fedcoord_free(c);
	return r;
}

/* ---- sending ---- */

static void fill_ref(const struct fl_fedcoord *c, Fedlead__Wire__RoundRef *ref)
{
	fedlead__wire__round_ref__init(ref);
	ref->federation_id = c->federation_id;
	ref->round = c->round;
	ref->schema_fingerprint.data = (uint8_t *)c->schema->fingerprint;
	ref->schema_fingerprint.len = FL_FINGERPRINT_LEN;
}

static void send_to(struct fl_fedcoord *c, struct partner *p, const Fedlead__Wire__Envelope *env)
{
	if (!p->connected)
		return;
	if (c->io.send(c->io.ctx, p->id, env) != 0)
		fl_log(FL_LOG_WARN, "partner %s: could not queue %s: %s", p->id,
		       fl_wire_type_name(env), fl_errmsg());
}

static void send_reject(struct fl_fedcoord *c, const char *partner, const char *reason,
			int permanent)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Reject rj = FEDLEAD__WIRE__REJECT__INIT;

	rj.reason = (char *)reason;
	rj.permanent = permanent;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_REJECT;
	env.reject = &rj;
	c->io.send(c->io.ctx, partner, &env);
	c->io.disconnect(c->io.ctx, partner);
}

static void send_standardize(struct fl_fedcoord *c, struct partner *p)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Standardize st = FEDLEAD__WIRE__STANDARDIZE__INIT;
	Fedlead__Wire__RoundRef ref;

	fill_ref(c, &ref);
	/* Restored and waiting for the participants: they may have had the
	 * tasks of the round after the checkpoint before the restart, and that
	 * round is issued again once they are back. A standardisation numbered
	 * for the checkpoint's round would look stale to them. */
	if (c->waiting_kick)
		ref.round = c->round + 1;
	st.ref = &ref;
	st.n_center = st.n_scale = st.n_impute = st.n_baseline = c->d;
	st.center = c->scaler->center;
	st.scale = c->scaler->scale;
	st.impute = c->scaler->impute;
	st.baseline = c->scaler->baseline;
	st.pos_weight = c->pos_weight;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE;
	env.standardize = &st;
	send_to(c, p, &env);
}

static size_t count(const struct fl_fedcoord *c, int connected, int participant);

/* The task of the round in progress, to one partner. */
static void send_task(struct fl_fedcoord *c, struct partner *p)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__StatsTask st = FEDLEAD__WIRE__STATS_TASK__INIT;
	Fedlead__Wire__EvalTask ev = FEDLEAD__WIRE__EVAL_TASK__INIT;
	Fedlead__Wire__LocalTrainTask lt = FEDLEAD__WIRE__LOCAL_TRAIN_TASK__INIT;
	Fedlead__Wire__FinalModel fm = FEDLEAD__WIRE__FINAL_MODEL__INIT;
	Fedlead__Wire__RoundRef ref;

	fill_ref(c, &ref);
	switch (c->task) {
	case T_STATS:
		st.ref = &ref;
		st.secagg = c->sa ? &c->sap : NULL;
		env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK;
		env.stats_task = &st;
		break;
	case T_EVAL:
		ev.ref = &ref;
		ev.w = c->cur_w;
		ev.n_w = c->d;
		ev.need_hessian = c->need_hess;
		ev.need_validation = c->need_valid;
		ev.secagg = c->sa ? &c->sap : NULL;
		env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK;
		env.eval_task = &ev;
		break;
	case T_FEDAVG:
		lt.ref = &ref;
		lt.w = c->cur_w;
		lt.n_w = c->d;
		lt.epochs = (uint32_t)c->set.local_epochs;
		lt.batch = (uint32_t)c->set.local_batch;
		lt.lr = c->set.local_lr;
		lt.prox_mu = c->set.fedprox_mu;
		/* Each partner adds the penalty to its own rows' loss, so the
		 * average of the local objectives counts it once per partner:
		 * a share of l2 each makes their sum the pooled objective. */
		lt.l2 = c->l2 / (double)count(c, 0, 1);
		lt.need_validation = c->need_valid;
		lt.secagg = c->sa ? &c->sap : NULL;
		env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN;
		env.local_train = &lt;
		break;
	case T_FINAL:
		fm.ref = &ref;
		fm.model_file.data = c->model_file;
		fm.model_file.len = c->model_len;
		env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL;
		env.final_model = &fm;
		break;
	case T_NONE:
		return;
	}
	send_to(c, p, &env);
}

static size_t count(const struct fl_fedcoord *c, int connected, int participant)
{
	size_t n = 0;

	for (size_t i = 0; i < c->np; i++)
		n += (!connected || c->p[i].connected) && (!participant || c->p[i].participant);
	return n;
}

static size_t expected_len(const struct fl_fedcoord *c);

/* The threshold t of this round's secret sharing. */
static unsigned threshold(const struct fl_fedcoord *c)
{
	unsigned n = (unsigned)count(c, 0, 1), t = c->set.threshold ? c->set.threshold : n / 2 + 1;

	return t < 2 ? 2 : t;
}

/*
 * Prepares secure aggregation for the round being begun: a fresh session
 * (so nothing of an earlier attempt can be replayed into this one) and the
 * fixed-point format, with the bound that keeps the sum of every
 * participant's values from wrapping.
 */
static int secure_begin(struct fl_fedcoord *c)
{
	const char **ids = NULL;
	size_t k = 0;
	Fedlead__Wire__RoundRef ref;
	Fedlead__Wire__UpdateKind kind;
	int r;

	fl_secagg_coord_free(c->sa);
	c->sa = NULL;
	free(c->secure_sum);
	c->secure_sum = NULL;
	if (!c->set.secure || c->task == T_FINAL || c->task == T_NONE)
		return 0;
	if (RAND_bytes(c->session, sizeof(c->session)) != 1)
		return fl_fail(FL_ERR_CRYPTO, "no randomness for the secure-aggregation session");
	fedlead__wire__sec_agg_params__init(&c->sap);
	c->sap.session = (ProtobufCBinaryData){sizeof(c->session), c->session};
	c->sap.frac_bits = c->task == T_STATS ? FL_SECAGG_STATS_FRAC_BITS : FL_SECAGG_FRAC_BITS;
	c->sap.bound = fl_fixed_bound(c->sap.frac_bits, c->np);
	/* t travels with each round: the participants are known only once the
	 * federation has started, after the early partners' Welcome. */
	c->sap.threshold = threshold(c);
	kind = c->task == T_STATS  ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS
	       : c->task == T_EVAL ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL
				   : FEDLEAD__WIRE__UPDATE_KIND__UPDATE_FEDAVG;
	if ((ids = calloc(c->np + 1, sizeof(*ids))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < c->np; i++) {
		c->p[i].sa_lost = 0;
		if (c->p[i].participant)
			ids[k++] = c->p[i].id;
	}
	fill_ref(c, &ref);
	r = fl_secagg_coord_new(c->federation_id, &ref, &c->sap, threshold(c), ids, k, kind,
			      expected_len(c), &c->sa);
	free(ids);
	return r;
}

static void begin_round(struct fl_fedcoord *c, enum task t)
{
	c->round++;
	c->task = t;
	if (secure_begin(c) != 0) {
		fl_log(FL_LOG_ERROR, "round %llu: %s", (unsigned long long)c->round, fl_errmsg());
		c->task = T_NONE;
		return;
	}
	for (size_t i = 0; i < c->np; i++) {
		struct partner *p = &c->p[i];

		free(p->vec);
		p->vec = NULL;
		p->pending = p->participant && !(t == T_FINAL && p->saved);
		if (p->pending)
			send_task(c, p);
	}
	fl_fault_point(t == T_STATS ? "stats" : t == T_FINAL ? "final" : "task", c->round);
	c->io.arm_timer(c->io.ctx, c->set.round_deadline);
}

static void checkpoint(struct fl_fedcoord *c);

static void fail_federation(struct fl_fedcoord *c, const char *msg)
{
	c->phase = FL_PHASE_FAILED;
	c->task = T_NONE;
	c->io.arm_timer(c->io.ctx, 0);
	fl_log(FL_LOG_ERROR, "federation %s failed: %s", c->federation_id, msg);
	fl_audit_event(c->io.audit, "failed", "{s:s, s:I, s:s}", "federation", c->federation_id,
		       "round", (json_int_t)c->round, "reason", msg);
	/* Recorded, so a restart reports the failure instead of resuming a
	 * federation that was given up. */
	checkpoint(c);
	c->io.finished(c->io.ctx, 0, msg);
}

/* ---- checkpoints ---- */

int fl_fedcoord_save(const struct fl_fedcoord *c, uint8_t **out, size_t *len)
{
	Fedlead__State__CoordState st = FEDLEAD__STATE__COORD_STATE__INIT;
	Fedlead__State__RoundLog *logs = NULL, **logp = NULL;
	Fedlead__State__L2Result l2r[FL_L2_GRID_MAX], *l2p[FL_L2_GRID_MAX];
	char **parts = NULL, **dropped = NULL, **saved = NULL;
	uint8_t *solver = NULL, *buf = NULL;
	size_t solver_len = 0, np = 0, nd = 0, ns = 0;
	int r = FL_ERR_NOMEM;

	*out = NULL;
	*len = 0;
	if ((parts = calloc(c->np + 1, sizeof(char *))) == NULL ||
	    (dropped = calloc(c->np + 1, sizeof(char *))) == NULL ||
	    (saved = calloc(c->np + 1, sizeof(char *))) == NULL ||
	    (logs = calloc(c->n_hist + 1, sizeof(*logs))) == NULL ||
	    (logp = calloc(c->n_hist + 1, sizeof(*logp))) == NULL)
		goto out;
	for (size_t i = 0; i < c->np; i++) {
		if (c->p[i].participant)
			parts[np++] = c->p[i].id;
		if (c->p[i].dropped)
			dropped[nd++] = c->p[i].id;
		if (c->p[i].saved)
			saved[ns++] = c->p[i].id;
	}
	if (c->solver != NULL && (r = fl_solver_save(c->solver, &solver, &solver_len)) != 0)
		goto out;
	st.version = STATE_VERSION;
	st.federation_id = c->federation_id;
	st.schema_fingerprint.data = (uint8_t *)c->schema->fingerprint;
	st.schema_fingerprint.len = FL_FINGERPRINT_LEN;
	st.phase = c->phase;
	st.round = c->round;
	st.participants = parts;
	st.n_participants = np;
	st.dropped = dropped;
	st.n_dropped = nd;
	st.saved = saved;
	st.n_saved = ns;
	if (c->scaler != NULL) {
		st.n_center = st.n_scale = st.n_impute = st.n_baseline = c->d;
		st.center = c->scaler->center;
		st.scale = c->scaler->scale;
		st.impute = c->scaler->impute;
		st.baseline = c->scaler->baseline;
	}
	st.pos_weight = c->pos_weight;
	st.total_rows = c->total_rows;
	st.total_positives = c->total_positives;
	st.l2_index = (uint32_t)c->l2_index;
	st.l2 = c->l2;
	st.solver.data = solver;
	st.solver.len = solver_len;
	st.n_w = st.n_best_w = st.n_last_eval_w = c->d;
	st.w = c->w;
	st.best_w = c->best_w;
	st.last_eval_w = c->last_eval_w;
	for (size_t k = 0; k < c->l2_index && k < FL_L2_GRID_MAX; k++) {
		fedlead__state__l2_result__init(&l2r[k]);
		l2r[k].l2 = c->l2_results[k].l2;
		l2r[k].valid_log_loss = c->l2_results[k].valid_log_loss;
		l2r[k].valid_auc = c->l2_results[k].valid_auc;
		l2r[k].iterations = (uint32_t)c->l2_iters[k];
		l2p[k] = &l2r[k];
	}
	st.l2_results = l2p;
	st.n_l2_results = c->l2_index;
	st.fedavg_round = (uint32_t)c->fedavg_round;
	for (size_t i = 0; i < c->n_hist; i++) {
		fedlead__state__round_log__init(&logs[i]);
		logs[i].round = c->hist[i].round;
		logs[i].kind = c->hist[i].kind;
		logs[i].l2 = c->hist[i].l2;
		logs[i].train_loss = c->hist[i].train_loss;
		logs[i].grad_norm = c->hist[i].grad_norm;
		logs[i].valid_log_loss = c->hist[i].valid_log_loss;
		logs[i].valid_auc = c->hist[i].valid_auc;
		logs[i].partners = c->hist[i].partners;
		logp[i] = &logs[i];
	}
	st.history = logp;
	st.n_history = c->n_hist;
	st.model_file.data = c->model_file;
	st.model_file.len = c->model_len;
	st.iterations = (uint32_t)c->iterations;
	st.valid_log_loss = c->valid_log_loss;
	st.valid_auc = c->valid_auc;
	st.train_loss = c->train_loss;
	st.grad_norm = c->grad_norm;
	st.valid_rows = c->valid_rows;
	st.valid_positives = c->valid_positives;
	if ((buf = malloc(fedlead__state__coord_state__get_packed_size(&st) + 1)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	*len = fedlead__state__coord_state__pack(&st, buf);
	*out = buf;
	r = 0;
out:
	free(solver);
	free(parts);
	free(dropped);
	free(saved);
	free(logs);
	free(logp);
	return r;
}

static void checkpoint(struct fl_fedcoord *c)
{
	uint8_t *buf;
	size_t len;
	int r;

	if ((r = fl_fedcoord_save(c, &buf, &len)) != 0) {
		fl_log(FL_LOG_ERROR, "cannot serialise the checkpoint: %s", fl_strerror(r));
		return;
	}
	if (c->io.checkpoint(c->io.ctx, buf, len) != 0)
		fl_log(FL_LOG_ERROR, "checkpoint after round %llu not written: %s (the previous "
		       "one is intact)", (unsigned long long)c->round, fl_errmsg());
	free(buf);
}

static int add_history(struct fl_fedcoord *c, const char *kind)
{
	struct fl_round_log *h;

	if ((h = realloc(c->hist, (c->n_hist + 1) * sizeof(*h))) == NULL)
		return FL_ERR_NOMEM;
	c->hist = h;
	h[c->n_hist] = (struct fl_round_log){
		.round = c->round,
		.l2 = c->l2,
		.train_loss = c->train_loss,
		.grad_norm = c->grad_norm,
		.valid_log_loss = c->valid_log_loss,
		.valid_auc = c->valid_auc,
		.partners = (uint32_t)count(c, 0, 1),
	};
	snprintf(h[c->n_hist].kind, sizeof(h->kind), "%s", kind);
	c->n_hist++;
	fl_audit_event(c->io.audit, "round", "{s:I, s:s, s:f, s:f, s:f, s:f, s:i}", "round",
		       (json_int_t)c->round, "kind", kind, "l2", c->l2,
		       "train_loss", isfinite(c->train_loss) ? c->train_loss : -1.0,
		       "valid_log_loss", isfinite(c->valid_log_loss) ? c->valid_log_loss : -1.0,
		       "valid_auc", isfinite(c->valid_auc) ? c->valid_auc : -1.0, "partners",
		       (int)count(c, 0, 1));
	return 0;
}

/* ---- training logic ---- */

static int next_task(struct fl_fedcoord *c);

static int start_lambda(struct fl_fedcoord *c, size_t k)
{
	struct fl_solver_opts so = {
		.l2 = c->grid[k],
		.tol = c->set.tolerance * (c->total_rows > 0 ? c->total_rows : 1),
		.max_iter = c->set.max_iterations,
	};

	c->l2_index = k;
	c->l2 = c->grid[k];
	fl_solver_free(c->solver);
	c->solver = NULL;
	if (c->set.algorithm == FL_FED_FEDAVG)
		return 0;
	/* Warm start from the current weights: along the l2 grid the solution
	 * moves little, so Newton needs few rounds for each point. */
	return fl_solver_new(c->set.algorithm == FL_FED_NEWTON ? FL_SOLVER_NEWTON : FL_SOLVER_LBFGS,
			     c->d, &so, c->w, &c->solver);
}

static void now_rfc3339(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A count summed from the partners' updates, for the model's provenance: a
 * hostile or broken partner can make it anything, and converting a double
 * outside uint64_t's range is undefined. */
static uint64_t count_u64(double x)
{
	return x >= 0 && x < 18446744073709551616.0 ? (uint64_t)x : 0;
}

/* Builds and seals the model; the federation moves to delivering it. */
static int training_done(struct fl_fedcoord *c)
{
	struct fl_model *m = NULL;
	char created[32];
	int r;

	if ((r = fl_model_new(c->schema, &m)) != 0)
		goto out;
	memcpy(m->w, c->w, c->d * sizeof(double));
	memcpy(m->scaler->center, c->scaler->center, c->d * sizeof(double));
	memcpy(m->scaler->scale, c->scaler->scale, c->d * sizeof(double));
	memcpy(m->scaler->baseline, c->scaler->baseline, c->d * sizeof(double));
	memcpy(m->scaler->impute, c->scaler->impute, c->d * sizeof(double));
	now_rfc3339(created, sizeof(created));
	if ((r = fl_model_set_str(&m->prov.solver, fl_fed_algo_name(c->set.algorithm))) != 0 ||
	    (r = fl_model_set_str(&m->prov.created, created)) != 0 ||
	    (r = fl_model_set_str(&m->prov.tool_version, FL_VERSION)) != 0 ||
	    (r = fl_model_set_str(&m->prov.federation_id, c->federation_id)) != 0)
		goto out;
	m->prov.l2 = c->l2;
	m->prov.pos_weight = c->pos_weight;
	m->prov.rows = count_u64(c->total_rows);
	m->prov.positives = count_u64(c->total_positives);
	m->prov.iterations = c->iterations;
	m->prov.final_loss = c->train_loss * c->total_rows;
	m->prov.grad_norm = c->grad_norm;
	m->prov.train = (struct fl_metric_set){count_u64(c->total_rows),
					       count_u64(c->total_positives), NAN, c->train_loss};
	if (c->set.validation_split > 0)
		m->prov.valid = (struct fl_metric_set){count_u64(c->valid_rows),
						       count_u64(c->valid_positives), c->valid_auc,
						       c->valid_log_loss};
	m->prov.rounds = (uint32_t)c->round;
	for (size_t i = 0; i < c->np; i++)
		if (c->p[i].participant && (r = fl_model_add_participant(m, c->p[i].id)) != 0)
			goto out;
	if ((r = fl_model_set_history(m, c->hist, c->n_hist)) != 0)
		goto out;
	free(c->model_file);
	c->model_file = NULL;
	if ((r = c->io.seal_model(c->io.ctx, m, &c->model_file, &c->model_len)) != 0)
		goto out;
	fl_log(FL_LOG_NOTICE, "training finished after %llu rounds: l2 %g, %d iterations; "
	       "delivering the model to %zu partners", (unsigned long long)c->round, c->l2,
	       c->iterations, count(c, 0, 1));
	c->phase = FL_PHASE_FINAL;
	checkpoint(c);
	begin_round(c, T_FINAL);
	r = 0;
out:
	fl_model_free(m);
	return r;
}

/* The solver is done with one l2: record it, move on along the grid. */
static int lambda_done(struct fl_fedcoord *c)
{
	struct fl_solver_status st;
	size_t k = c->l2_index;

	fl_solver_get_status(c->solver, &st);
	memcpy(c->w, fl_solver_weights(c->solver), c->d * sizeof(double));
	/* Validation figures must belong to the final weights; when the last
	 * evaluation was a rejected line-search trial, evaluate once more. */
	if (c->need_valid && memcmp(c->last_eval_w, c->w, c->d * sizeof(double)) != 0) {
		memcpy(c->cur_w, c->w, c->d * sizeof(double));
		c->need_hess = 0;
		c->valid_only = 1;
		begin_round(c, T_EVAL);
		return 0;
	}
	if (!st.converged)
		fl_log(FL_LOG_WARN, "l2 %g: stopped after %d iterations without converging "
		       "(gradient norm %.3g)", c->l2, st.iterations, st.grad_norm);
	c->l2_results[k] = (struct fl_l2_candidate){c->l2, c->valid_log_loss, c->valid_auc};
	c->l2_iters[k] = st.iterations;
	if (c->set.l2_auto) {
		size_t best = 0;

		fl_log(FL_LOG_INFO, "l2 %g: validation log-loss %.6f, AUC %.4f", c->l2,
		       c->valid_log_loss, c->valid_auc);
		for (size_t i = 1; i <= k; i++)
			if (c->l2_results[i].valid_log_loss < c->l2_results[best].valid_log_loss)
				best = i;
		if (best == k)
			memcpy(c->best_w, c->w, c->d * sizeof(double));
		if (k + 1 < c->n_grid) {
			int r = start_lambda(c, k + 1);

			return r != 0 ? r : next_task(c);
		}
		/* The grid is done: go back to the best point. */
		memcpy(c->w, c->best_w, c->d * sizeof(double));
		c->l2 = c->grid[best];
		c->valid_log_loss = c->l2_results[best].valid_log_loss;
		c->valid_auc = c->l2_results[best].valid_auc;
		c->iterations = c->l2_iters[best];
		fl_log(FL_LOG_NOTICE, "l2 = auto chose %g (validation log-loss %.6f)", c->l2,
		       c->valid_log_loss);
		c->l2_index = c->n_grid;
	} else {
		c->iterations = st.iterations;
		c->l2_index = 1;
	}
	return training_done(c);
}

static int next_task(struct fl_fedcoord *c)
{
	const double *w;
	int need_hess, r;

	if (c->set.algorithm == FL_FED_FEDAVG) {
		if (c->fedavg_round >= c->set.fedavg_rounds) {
			/* Partners measured validation at the weights they were
			 * sent, not at their average: measure the final weights
			 * once more, so the model's figures are its own. */
			if (c->need_valid && memcmp(c->last_eval_w, c->w, c->d * sizeof(double)) != 0) {
				memcpy(c->cur_w, c->w, c->d * sizeof(double));
				c->need_hess = 0;
				c->valid_only = 1;
				begin_round(c, T_EVAL);
				return 0;
			}
			c->iterations = c->fedavg_round;
			return training_done(c);
		}
		memcpy(c->cur_w, c->w, c->d * sizeof(double));
		begin_round(c, T_FEDAVG);
		return 0;
	}
	if (c->l2_index >= c->n_grid) /* restored after the grid finished */
		return training_done(c);
	r = fl_solver_ask(c->solver, &w, &need_hess);
	if (r < 0)
		return r;
	if (r == FL_SOLVER_DONE)
		return lambda_done(c);
	memcpy(c->cur_w, w, c->d * sizeof(double));
	c->need_hess = need_hess;
	c->valid_only = 0;
	begin_round(c, T_EVAL);
	return 0;
}

/* Issues whatever comes next from the current (possibly restored) state. */
static int continue_federation(struct fl_fedcoord *c)
{
	switch (c->phase) {
	case FL_PHASE_STATS: begin_round(c, T_STATS); return 0;
	case FL_PHASE_TRAIN: return next_task(c);
	case FL_PHASE_FINAL: begin_round(c, T_FINAL); return 0;
	default: return 0;
	}
}

static void start_federation(struct fl_fedcoord *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->np; i++) {
		c->p[i].participant = c->p[i].connected;
		n += c->p[i].participant;
	}
	c->started = 1;
	c->phase = FL_PHASE_STATS;
	c->need_valid = c->set.validation_split > 0;
	fl_log(FL_LOG_NOTICE, "federation %s starts with %zu of %zu partners (%s)",
	       c->federation_id, n, c->np, fl_fed_algo_name(c->set.algorithm));
	continue_federation(c);
}

/* Adds up the answers of the round in partner-name order, so the sums are
 * the same in every run. */
static double *sum_answers(struct fl_fedcoord *c, size_t len)
{
	double *acc = calloc(len ? len : 1, sizeof(double));

	if (acc == NULL)
		return NULL;
	for (size_t i = 0; i < c->np; i++) {
		struct partner *p = &c->p[i];

		if (!p->participant || p->vec == NULL)
			continue;
		for (size_t j = 0; j < len; j++)
			acc[j] += p->vec[j];
		free(p->vec);
		p->vec = NULL;
	}
	return acc;
}

static void take_validation(struct fl_fedcoord *c, const double *v)
{
	struct fl_valid_metrics m;

	fl_payload_valid_metrics(v, c->set.hist_bins, &m);
	c->valid_rows = m.rows;
	c->valid_positives = m.positives;
	c->valid_log_loss = m.log_loss;
	c->valid_auc = m.auc;
}

static int finish_stats(struct fl_fedcoord *c, const double *acc)
{
	struct fl_stats *st = NULL;
	int r;

	if ((r = fl_payload_stats_unpack(acc, c->d, &st)) != 0)
		return r;
	c->total_rows = st->rows;
	c->total_positives = st->positives;
	if (st->positives <= 0 || st->positives >= st->rows) {
		r = fl_fail(FL_ERR_DATA, "the partners' training rows (%.0f) contain only %s leads",
			    st->rows, st->positives <= 0 ? "unconverted" : "converted");
		goto out;
	}
	fl_scaler_free(c->scaler);
	c->scaler = NULL;
	if ((r = fl_scaler_from_stats(c->schema, st, &c->scaler)) != 0)
		goto out;
	c->pos_weight = c->set.class_weight == 0 ? (st->rows - st->positives) / st->positives
						 : c->set.class_weight;
	fl_log(FL_LOG_INFO, "statistics: %.0f training rows, %.0f converted (%.2f %%) across %zu "
	       "partners", st->rows, st->positives, 100 * st->positives / st->rows, count(c, 0, 1));
	c->phase = FL_PHASE_TRAIN;
	if ((r = start_lambda(c, 0)) != 0)
		goto out;
	add_history(c, "stats");
	for (size_t i = 0; i < c->np; i++)
		if (c->p[i].participant)
			send_standardize(c, &c->p[i]);
out:
	fl_stats_free(st);
	return r;
}

static int finish_eval(struct fl_fedcoord *c, const double *acc)
{
	double *H = NULL;
	struct fl_solver_status st;
	size_t off = 1 + c->d;
	int r = 0;

	if (c->need_valid) {
		take_validation(c, acc + off + (c->need_hess ? c->d * (c->d + 1) / 2 : 0));
		memcpy(c->last_eval_w, c->cur_w, c->d * sizeof(double));
	}
	if (c->valid_only) {
		c->valid_only = 0;
		/* The training loss too belongs to the final weights (the last
		 * evaluation may have been a rejected line-search trial). */
		c->train_loss = acc[0] / c->total_rows;
		add_history(c, "validate");
		return 0; /* lambda_done() is called again by next_task() */
	}
	if (c->need_hess) {
		if ((H = malloc(c->d * c->d * sizeof(double))) == NULL)
			return FL_ERR_NOMEM;
		fl_payload_hess_unpack(acc + off, c->d, H);
	}
	r = fl_solver_tell(c->solver, acc[0], acc + 1, H);
	free(H);
	if (r != 0)
		return r;
	fl_solver_get_status(c->solver, &st);
	c->train_loss = acc[0] / c->total_rows;
	c->grad_norm = st.grad_norm;
	c->iterations = st.iterations;
	memcpy(c->w, fl_solver_weights(c->solver), c->d * sizeof(double));
	add_history(c, "eval");
	fl_log(FL_LOG_INFO, "round %llu: l2 %g, iteration %d, loss %.6f, gradient norm %.3g%s",
	       (unsigned long long)c->round, c->l2, st.iterations, c->train_loss, st.grad_norm,
	       "");
	if (c->need_valid)
		fl_log(FL_LOG_INFO, "round %llu: validation log-loss %.6f, AUC %.4f",
		       (unsigned long long)c->round, c->valid_log_loss, c->valid_auc);
	return 0;
}

static int finish_fedavg(struct fl_fedcoord *c, const double *acc)
{
	double rows = acc[0];

	if (!(rows > 0))
		return fl_fail(FL_ERR_DATA, "round %llu: the partners reported no training rows",
			       (unsigned long long)c->round);
	for (size_t j = 0; j < c->d; j++)
		c->w[j] = acc[2 + j] / rows;
	c->train_loss = acc[1] / rows;
	c->grad_norm = NAN;
	if (c->need_valid) {
		take_validation(c, acc + 2 + c->d);
		memcpy(c->last_eval_w, c->cur_w, c->d * sizeof(double));
	}
	c->fedavg_round++;
	add_history(c, "fedavg");
	fl_log(FL_LOG_INFO, "round %llu: fedavg %d of %d, loss %.6f, validation log-loss %.6f, "
	       "AUC %.4f", (unsigned long long)c->round, c->fedavg_round, c->set.fedavg_rounds,
	       c->train_loss, c->valid_log_loss, c->valid_auc);
	return 0;
}

static size_t expected_len(const struct fl_fedcoord *c)
{
	switch (c->task) {
	case T_STATS: return fl_payload_stats_len(c->d);
	case T_EVAL: return fl_payload_eval_len(c->d, c->need_hess, c->need_valid, c->set.hist_bins);
	case T_FEDAVG: return fl_payload_fedavg_len(c->d, c->need_valid, c->set.hist_bins);
	default: return 0;
	}
}

/* All answers are in: act on their sum. */
static void complete_round(struct fl_fedcoord *c)
{
	size_t len = expected_len(c);
	double *acc = NULL;
	int r;

	c->io.arm_timer(c->io.ctx, 0);
	if (c->task == T_FINAL) {
		c->task = T_NONE;
		c->phase = FL_PHASE_DONE;
		add_history(c, "final");
		checkpoint(c);
		fl_log(FL_LOG_NOTICE, "federation %s done: every participant saved the model",
		       c->federation_id);
		c->io.finished(c->io.ctx, 1, "done");
		return;
	}
	if (c->secure_sum != NULL) {
		acc = c->secure_sum; /* the sum over the survivors, unmasked */
		c->secure_sum = NULL;
	} else if ((acc = sum_answers(c, len)) == NULL) {
		fail_federation(c, "out of memory");
		return;
	}
	fl_secagg_coord_free(c->sa);
	c->sa = NULL;
	switch (c->task) {
	case T_STATS: r = finish_stats(c, acc); break;
	case T_EVAL: r = finish_eval(c, acc); break;
	case T_FEDAVG: r = finish_fedavg(c, acc); break;
	default: r = FL_ERR_INTERNAL; break;
	}
	free(acc);
	c->task = T_NONE;
	if (r == 0) {
		checkpoint(c);
		r = next_task(c);
	}
	if (r != 0)
		fail_federation(c, fl_errmsg()[0] ? fl_errmsg() : fl_strerror(r));
}

static void partners_lost(struct fl_fedcoord *c, struct partner *only, const char *why);

/* Who owes a message in the current secure-aggregation step. */
static void secure_pending(struct fl_fedcoord *c)
{
	for (size_t i = 0; i < c->np; i++) {
		struct partner *p = &c->p[i];

		p->pending = p->participant && !p->sa_lost && fl_secagg_coord_owes(c->sa, p->id);
	}
}

static void secure_broadcast(struct fl_fedcoord *c, enum fl_secagg_step members,
			     const uint8_t *frame, size_t len, const char *type)
{
	for (size_t i = 0; i < c->np; i++) {
		struct partner *p = &c->p[i];

		if (p->participant && !p->sa_lost && p->connected &&
		    fl_secagg_coord_member(c->sa, members, p->id))
			c->io.send_frame(c->io.ctx, p->id, frame, len, type);
	}
}

/*
 * Moves secure aggregation on once nobody owes the current step: key list
 * to the advertisers, each partner's shares to it, the unmask request to
 * the survivors, and finally the unmasked sum to complete_round(). Partners
 * lost on the way (late_policy = drop) are left out of the next step; if
 * fewer than t remain, the round is abandoned and nothing is revealed.
 */
static void secure_advance(struct fl_fedcoord *c)
{
	uint8_t *frame = NULL;
	size_t len;
	int r = 0;

	for (size_t i = 0; i < c->np; i++)
		if (c->p[i].pending)
			return;
	switch (fl_secagg_coord_step(c->sa)) {
	case FL_SECAGG_ADVERT:
		if ((r = fl_secagg_coord_key_list(c->sa, &frame, &len)) == 0)
			secure_broadcast(c, FL_SECAGG_ADVERT, frame, len, "key_list");
		fl_fault_point("keys", c->round);
		break;
	case FL_SECAGG_SHARES:
		for (size_t i = 0; r == 0 && i < c->np; i++) {
			struct partner *p = &c->p[i];

			if (!p->participant || p->sa_lost || !p->connected ||
			    !fl_secagg_coord_member(c->sa, FL_SECAGG_SHARES, p->id))
				continue;
			if ((r = fl_secagg_coord_shares_for(c->sa, p->id, &frame, &len)) == 0)
				c->io.send_frame(c->io.ctx, p->id, frame, len, "share_set");
			free(frame);
			frame = NULL;
		}
		if (r == 0 && fl_secagg_coord_count(c->sa, FL_SECAGG_SHARES) == 0)
			r = fl_fail(FL_ERR_PROTO, "no partner shared keys");
		fl_fault_point("shares", c->round);
		break;
	case FL_SECAGG_MASKED:
		if ((r = fl_secagg_coord_unmask_request(c->sa, &frame, &len)) == 0)
			secure_broadcast(c, FL_SECAGG_MASKED, frame, len, "unmask_request");
		fl_fault_point("masked", c->round);
		break;
	case FL_SECAGG_UNMASK:
		fl_fault_point("unmask", c->round);
		if ((c->secure_sum = malloc((expected_len(c) + 1) * sizeof(double))) == NULL)
			r = FL_ERR_NOMEM;
		else if ((r = fl_secagg_coord_finish(c->sa, c->secure_sum)) != 0) {
			free(c->secure_sum);
			c->secure_sum = NULL;
		}
		break;
	}
	free(frame);
	if (r != 0) {
		char why[600];

		snprintf(why, sizeof(why), "secure aggregation failed: %s", fl_errmsg());
		/* Drop whoever is lost, then redo the round with fresh keys, or fail. */
		for (size_t i = 0; i < c->np; i++)
			c->p[i].pending = c->p[i].participant && c->p[i].sa_lost;
		fl_secagg_coord_free(c->sa);
		c->sa = NULL;
		if (c->set.late_policy != FL_LATE_DROP) {
			fail_federation(c, why);
			return;
		}
		partners_lost(c, NULL, why);
		return;
	}
	if (c->secure_sum != NULL) {
		size_t lost = 0, total = 0;

		for (size_t i = 0; i < c->np; i++) {
			total += c->p[i].participant;
			lost += c->p[i].participant && c->p[i].sa_lost;
		}
		fl_log(FL_LOG_INFO, "round %llu: secure sum over %zu of %zu partners recovered",
		       (unsigned long long)c->round, total - lost, total);
		if (lost > 0 && c->task != T_FEDAVG) {
			/* An exact round needs every participant's sums: drop the
			 * lost ones and redo it over the survivors. */
			free(c->secure_sum);
			c->secure_sum = NULL;
			for (size_t i = 0; i < c->np; i++)
				c->p[i].pending = c->p[i].participant && c->p[i].sa_lost;
			partners_lost(c, NULL, "lost during secure aggregation");
			return;
		}
		for (size_t i = 0; i < c->np; i++)
			if (c->p[i].participant && c->p[i].sa_lost) {
				c->p[i].participant = 0;
				c->p[i].dropped = 1;
				fl_log(FL_LOG_WARN, "round %llu: dropped partner %s (lost during secure "
				       "aggregation)", (unsigned long long)c->round, c->p[i].id);
			}
		complete_round(c);
		return;
	}
	secure_pending(c);
	c->io.arm_timer(c->io.ctx, c->set.round_deadline);
}

/* One secure-aggregation message from a participant. */
static int secure_message(struct fl_fedcoord *c, struct partner *p,
			  const Fedlead__Wire__Envelope *env)
{
	const uint8_t *cert;
	size_t cert_len;
	int r;

	if (c->sa == NULL || !p->participant || p->sa_lost)
		return fl_fail(FL_ERR_PROTO, "peer %s: %s outside secure aggregation", p->id,
			       fl_wire_type_name(env));
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT:
		if ((r = c->io.peer_cert(c->io.ctx, p->id, &cert, &cert_len)) != 0)
			return r;
		r = fl_secagg_coord_advert(c->sa, p->id, env->key_advert, cert, cert_len);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
		r = fl_secagg_coord_shares(c->sa, p->id, env->share_set);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE:
		r = fl_secagg_coord_masked(c->sa, p->id, env->masked_update);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY:
		r = fl_secagg_coord_reveal(c->sa, p->id, env->unmask_reply);
		break;
	default: return fl_fail(FL_ERR_PROTO, "peer %s: unexpected message", p->id);
	}
	if (r != 0)
		return r;
	p->pending = 0;
	secure_advance(c);
	return 0;
}

static void maybe_complete(struct fl_fedcoord *c)
{
	for (size_t i = 0; i < c->np; i++)
		if (c->p[i].pending)
			return;
	if (c->task != T_NONE)
		complete_round(c);
}

/* Partners are gone or late: apply the late policy. Those that owe an
 * answer are lost, or only `only` when one partner failed or left while the
 * others may still be working on the round (or, in the final round, have
 * yet to confirm the model). */
static void partners_lost(struct fl_fedcoord *c, struct partner *only, const char *why)
{
	size_t left;

	if (c->set.late_policy == FL_LATE_ABORT) {
		char msg[512];

		snprintf(msg, sizeof(msg), "round %llu: %s (late_policy = abort)",
			 (unsigned long long)c->round, why);
		fail_federation(c, msg);
		return;
	}
	if (c->set.late_policy == FL_LATE_WAIT) {
		fl_log(FL_LOG_WARN, "round %llu: %s; waiting (late_policy = wait)",
		       (unsigned long long)c->round, why);
		c->io.arm_timer(c->io.ctx, c->set.round_deadline);
		return;
	}
	for (size_t i = 0; i < c->np; i++) {
		struct partner *p = &c->p[i];

		if (p->participant && (only != NULL ? p == only : p->pending)) {
			p->participant = 0;
			p->dropped = 1;
			p->pending = 0;
			free(p->vec);
			p->vec = NULL;
			fl_log(FL_LOG_WARN, "round %llu: dropped partner %s (%s)",
			       (unsigned long long)c->round, p->id, why);
			fl_audit_event(c->io.audit, "drop", "{s:s, s:I}", "partner", p->id, "round",
				       (json_int_t)c->round);
			/* Tell a late partner that is still connected, so it stops
			 * working for a federation that goes on without it. */
			if (p->connected) {
				char reason[128];

				snprintf(reason, sizeof(reason), "dropped from federation %.64s in "
					 "round %llu (late_policy = drop)", c->federation_id,
					 (unsigned long long)c->round);
				p->connected = 0;
				send_reject(c, p->id, reason, 1);
			}
		}
	}
	left = count(c, 0, 1);
	if (left < c->set.min_partners) {
		char msg[256];

		snprintf(msg, sizeof(msg), "only %zu partners left, below the quorum of %zu", left,
			 c->set.min_partners);
		fail_federation(c, msg);
		return;
	}
	if (c->task == T_FINAL) {
		maybe_complete(c);
		return;
	}
	/* The sums of an exact round are only meaningful over one set of
	 * partners: redo the round over those left, and restart the solver from
	 * the current weights since its objective has changed. */
	if (c->phase == FL_PHASE_TRAIN && c->solver != NULL) {
		int r;

		/* The round is issued again under a new number, so that answers
		 * to the abandoned one still in flight are stale, not taken as
		 * answers at the new point. */
		if ((r = start_lambda(c, c->l2_index)) == 0)
			r = next_task(c);
		if (r != 0)
			fail_federation(c, fl_errmsg());
		return;
	}
	if (c->task != T_NONE) /* T_NONE: restored, the caller continues */
		begin_round(c, c->task);
}

void fl_fedcoord_timer(struct fl_fedcoord *c)
{
	char why[512];
	size_t off = 0;

	if (c->phase == FL_PHASE_WAITING) {
		if (count(c, 1, 0) >= c->set.min_partners)
			start_federation(c);
		return;
	}
	if (c->waiting_kick) {
		/* Restored, and not everyone came back in time. */
		c->waiting_kick = 0;
		for (size_t i = 0; i < c->np; i++)
			c->p[i].pending = c->p[i].participant && !c->p[i].connected;
		partners_lost(c, NULL, "partners did not return after the coordinator restarted");
		if (c->phase < FL_PHASE_DONE && c->task == T_NONE)
			continue_federation(c);
		return;
	}
	if (c->task == T_NONE)
		return;
	if (c->sa != NULL && c->set.late_policy == FL_LATE_DROP) {
		/* Secure aggregation copes with dropouts itself: go on without
		 * the late ones if at least t are left. */
		for (size_t i = 0; i < c->np; i++)
			if (c->p[i].pending) {
				fl_log(FL_LOG_WARN, "round %llu: %s is late; continuing secure "
				       "aggregation without it", (unsigned long long)c->round,
				       c->p[i].id);
				c->p[i].sa_lost = 1;
				c->p[i].pending = 0;
			}
		secure_advance(c);
		return;
	}
	off += (size_t)snprintf(why, sizeof(why), "no answer within %g s from", c->set.round_deadline);
	for (size_t i = 0; i < c->np && off < sizeof(why) - 64; i++)
		if (c->p[i].pending)
			off += (size_t)snprintf(why + off, sizeof(why) - off, " %s", c->p[i].id);
	partners_lost(c, NULL, why);
}

int fl_fedcoord_join(struct fl_fedcoord *c, const char *partner, const Fedlead__Wire__Hello *h)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Welcome w = FEDLEAD__WIRE__WELCOME__INIT;
	Fedlead__Wire__Plan plan = FEDLEAD__WIRE__PLAN__INIT;
	struct partner *p = find_partner(c, partner);
	char reason[256], fp[65];
	int r;

	if (p == NULL) {
		snprintf(reason, sizeof(reason), "partner \"%s\" is not on the allow-list", partner);
		r = FL_ERR_AUTH;
		goto reject;
	}
	if (h->protocol_version != FL_WIRE_PROTOCOL_VERSION) {
		snprintf(reason, sizeof(reason), "protocol version %u is not supported (this "
			 "coordinator speaks %d)", h->protocol_version, FL_WIRE_PROTOCOL_VERSION);
		r = FL_ERR_PROTO;
		goto reject;
	}
	if (h->schema_fingerprint.len != FL_FINGERPRINT_LEN ||
	    memcmp(h->schema_fingerprint.data, c->schema->fingerprint, FL_FINGERPRINT_LEN) != 0) {
		fl_schema_fingerprint_hex(c->schema, fp);
		snprintf(reason, sizeof(reason), "schema fingerprint differs from the federation's "
			 "(%.16s...): the partner encodes its leads differently", fp);
		r = FL_ERR_AUTH;
		goto reject;
	}
	if (h->federation_id[0] != '\0' && strcmp(h->federation_id, c->federation_id) != 0) {
		snprintf(reason, sizeof(reason), "partner asked for federation \"%.64s\", this is "
			 "\"%.64s\"", h->federation_id, c->federation_id);
		r = FL_ERR_AUTH;
		goto reject;
	}
	if (p->dropped || (c->started && !p->participant && c->phase < FL_PHASE_DONE)) {
		snprintf(reason, sizeof(reason), "federation %.64s is training without partner "
			 "%.64s (%s)", c->federation_id, partner,
			 p->dropped ? "dropped" : "joined too late");
		r = FL_ERR_AUTH;
		goto reject;
	}
	if (c->phase >= FL_PHASE_DONE) {
		snprintf(reason, sizeof(reason), "federation %.64s has %s", c->federation_id,
			 c->phase == FL_PHASE_DONE ? "finished" : "failed");
		r = FL_ERR_AUTH;
		goto reject;
	}
	p->connected = 1;
	p->last_seen = now_seconds();
	plan.algorithm = (char *)fl_fed_algo_name(c->set.algorithm);
	plan.validation_split = c->set.validation_split;
	plan.seed = c->set.seed;
	plan.hist_bins = c->set.hist_bins;
	plan.hist_range = c->set.hist_range;
	plan.secure_aggregation = c->set.secure;
	plan.threshold = c->set.secure ? threshold(c) : 0;
	w.protocol_version = FL_WIRE_PROTOCOL_VERSION;
	w.federation_id = c->federation_id;
	w.coordinator_version = (char *)FL_VERSION;
	w.partner_identity = (char *)partner;
	w.plan = &plan;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME;
	env.welcome = &w;
	send_to(c, p, &env);
	fl_log(FL_LOG_NOTICE, "partner %s joined (%zu of %zu connected)", partner, count(c, 1, 0),
	       c->np);
	fl_audit_event(c->io.audit, "join", "{s:s, s:s}", "partner", partner, "version",
		       h->software_version);
	if (c->phase == FL_PHASE_WAITING) {
		if (count(c, 1, 0) == c->np)
			start_federation(c);
		else if (count(c, 1, 0) >= c->set.min_partners && !c->start_timer) {
			c->start_timer = 1;
			c->io.arm_timer(c->io.ctx, c->set.start_wait > 0 ? c->set.start_wait : 1e-3);
		}
		return 0;
	}
	/* A participant coming back: catch up and get the task in progress. */
	if (c->scaler != NULL && c->phase >= FL_PHASE_TRAIN)
		send_standardize(c, p);
	if (c->waiting_kick) {
		if (count(c, 1, 1) == count(c, 0, 1)) {
			c->waiting_kick = 0;
			c->io.arm_timer(c->io.ctx, 0);
			fl_log(FL_LOG_NOTICE, "all participants are back: resuming at round %llu",
			       (unsigned long long)c->round + 1);
			if ((r = continue_federation(c)) != 0)
				fail_federation(c, fl_errmsg());
		}
		return 0;
	}
	if (c->sa != NULL) {
		/* It lost this round's secrets: the round starts again, with fresh
		 * keys for everyone. */
		fl_log(FL_LOG_INFO, "round %llu: restarting secure aggregation for %s",
		       (unsigned long long)c->round, partner);
		/* A new round number, so that late answers of the abandoned
		 * attempt can never be taken for answers to this one. */
		begin_round(c, c->task);
		return 0;
	}
	if (p->pending)
		send_task(c, p);
	return 0;
reject:
	fl_log(FL_LOG_WARN, "rejected partner %s: %s", partner, reason);
	fl_audit_event(c->io.audit, "reject", "{s:s, s:s}", "partner", partner, "reason", reason);
	send_reject(c, partner, reason, 1);
	return fl_fail(r, "partner %s: %s", partner, reason);
}

void fl_fedcoord_leave(struct fl_fedcoord *c, const char *partner)
{
	struct partner *p = find_partner(c, partner);
	char why[128];

	if (p == NULL || !p->connected)
		return;
	p->connected = 0;
	p->last_seen = now_seconds();
	fl_log(FL_LOG_WARN, "partner %s disconnected", partner);
	if (c->phase == FL_PHASE_WAITING || !p->participant || c->phase >= FL_PHASE_DONE)
		return;
	if (c->sa != NULL && !p->sa_lost && !c->waiting_kick) {
		/* Its round secrets went with the connection. */
		if (c->set.late_policy == FL_LATE_DROP) {
			p->sa_lost = 1;
			p->pending = 0;
			secure_advance(c);
			return;
		}
		if (c->set.late_policy == FL_LATE_WAIT)
			return; /* the round restarts when it is back */
	}
	if (c->waiting_kick || !p->pending)
		return; /* nothing owed right now; a later round deals with it */
	/* Waiting is the policy's job; a gone partner under "drop" or "abort"
	 * is handled at once rather than at the deadline. */
	if (c->set.late_policy == FL_LATE_WAIT)
		return;
	snprintf(why, sizeof(why), "partner %.64s disconnected", partner);
	partners_lost(c, p, why);
}

int fl_fedcoord_message(struct fl_fedcoord *c, const char *partner,
			const Fedlead__Wire__Envelope *env)
{
	struct partner *p = find_partner(c, partner);
	const Fedlead__Wire__RoundRef *ref = fl_wire_ref(env);
	const char *type = fl_wire_type_name(env);
	int r;

	if (p == NULL || !p->connected)
		return fl_fail(FL_ERR_PROTO, "peer %s: %s before hello", partner, type);
	p->last_seen = now_seconds();
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE:
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATUS:
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT:
	case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
	case FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE:
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY:
		break;
	default:
		return fl_fail(FL_ERR_PROTO, "peer %s: unexpected %s message", partner, type);
	}
	/* An answer to an earlier round (overtaken by a retry) is dropped, never
	 * added to the current sums. */
	if (ref != NULL && ref->round < c->round && strcmp(ref->federation_id, c->federation_id) == 0) {
		fl_log(FL_LOG_WARN, "peer %s: ignored stale %s for round %llu (round %llu is in "
		       "progress)", partner, type, (unsigned long long)ref->round,
		       (unsigned long long)c->round);
		return 0;
	}
	if ((r = fl_wire_check_ref(ref, c->federation_id, c->round, c->schema->fingerprint,
				   partner, type)) != 0)
		return r;
	if (env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE &&
	    env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_STATUS)
		return secure_message(c, p, env);
	if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE && c->set.secure)
		return fl_fail(FL_ERR_PROTO, "peer %s: update in the clear in a secure federation",
			       partner);
	if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_STATUS) {
		const Fedlead__Wire__Status *s = env->status;

		if (s->code == FEDLEAD__WIRE__STATUS_CODE__STATUS_SAVED && c->task == T_FINAL &&
		    p->pending) {
			p->pending = 0;
			p->saved = 1;
			fl_log(FL_LOG_INFO, "partner %s saved the model", partner);
			maybe_complete(c);
			return 0;
		}
		if (s->code == FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR && p->participant) {
			char why[FL_WIRE_MAX_STRING + 64];

			fl_log(FL_LOG_ERROR, "partner %s: round %llu failed: %s", partner,
			       (unsigned long long)c->round, s->detail);
			snprintf(why, sizeof(why), "partner %s could not do its task: %s", partner,
				 s->detail);
			if (c->set.late_policy == FL_LATE_WAIT) {
				fail_federation(c, why);
				return 0;
			}
			partners_lost(c, p, why);
			return 0;
		}
		return fl_fail(FL_ERR_PROTO, "peer %s: unexpected status %d in round %llu", partner,
			       (int)s->code, (unsigned long long)c->round);
	}
	{
		const Fedlead__Wire__Update *u = env->update;
		Fedlead__Wire__UpdateKind want =
			c->task == T_STATS    ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS
			: c->task == T_EVAL   ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL
			: c->task == T_FEDAVG ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_FEDAVG
					      : FEDLEAD__WIRE__UPDATE_KIND__UPDATE_NONE;

		if (!p->participant || !p->pending)
			return fl_fail(FL_ERR_PROTO, "peer %s: update in round %llu, which it does "
				       "not owe", partner, (unsigned long long)c->round);
		if (u->kind != want || want == FEDLEAD__WIRE__UPDATE_KIND__UPDATE_NONE)
			return fl_fail(FL_ERR_PROTO, "peer %s: update of the wrong kind for round "
				       "%llu", partner, (unsigned long long)c->round);
		if (u->n_values != expected_len(c))
			return fl_fail(FL_ERR_PROTO, "peer %s: update with %zu values, expected %zu",
				       partner, u->n_values, expected_len(c));
		if ((p->vec = malloc(u->n_values * sizeof(double))) == NULL)
			return FL_ERR_NOMEM;
		memcpy(p->vec, u->values, u->n_values * sizeof(double));
		p->vlen = u->n_values;
		p->pending = 0;
		maybe_complete(c);
	}
	return 0;
}

int fl_fedcoord_restore(struct fl_fedcoord *c, const uint8_t *buf, size_t len)
{
	Fedlead__State__CoordState *st;
	int r = FL_ERR_DATA;

	st = fedlead__state__coord_state__unpack(NULL, len, buf);
	if (st == NULL)
		return fl_fail(FL_ERR_DATA, "checkpoint is malformed");
	if (st->version != STATE_VERSION) {
		fl_fail(FL_ERR_DATA, "checkpoint version %u is not supported", st->version);
		goto out;
	}
	if (strcmp(st->federation_id, c->federation_id) != 0) {
		fl_fail(FL_ERR_DATA, "checkpoint belongs to federation \"%.64s\", not \"%.64s\"",
			st->federation_id, c->federation_id);
		goto out;
	}
	if (st->schema_fingerprint.len != FL_FINGERPRINT_LEN ||
	    memcmp(st->schema_fingerprint.data, c->schema->fingerprint, FL_FINGERPRINT_LEN) != 0) {
		fl_fail(FL_ERR_DATA, "checkpoint was made with a different schema");
		goto out;
	}
	if (st->phase > FL_PHASE_FAILED || st->n_w != c->d || st->n_best_w != c->d ||
	    st->n_last_eval_w != c->d || st->n_l2_results > FL_L2_GRID_MAX ||
	    st->l2_index > c->n_grid ||
	    (st->phase >= FL_PHASE_TRAIN && st->phase <= FL_PHASE_FINAL &&
	     (st->n_center != c->d || st->n_scale != c->d || st->n_impute != c->d ||
	      st->n_baseline != c->d))) {
		fl_fail(FL_ERR_DATA, "checkpoint is inconsistent with the schema or settings");
		goto out;
	}
	c->phase = st->phase;
	c->round = st->round;
	for (size_t i = 0; i < st->n_participants; i++) {
		struct partner *p = find_partner(c, st->participants[i]);

		if (p == NULL) {
			fl_fail(FL_ERR_DATA, "checkpoint names partner \"%.64s\", who is no longer "
				"on the allow-list", st->participants[i]);
			goto out;
		}
		p->participant = 1;
	}
	for (size_t i = 0; i < st->n_dropped; i++) {
		struct partner *p = find_partner(c, st->dropped[i]);

		if (p != NULL)
			p->dropped = 1;
	}
	for (size_t i = 0; i < st->n_saved; i++) {
		struct partner *p = find_partner(c, st->saved[i]);

		if (p != NULL)
			p->saved = 1;
	}
	if (st->n_center == c->d) {
		if ((r = fl_scaler_new(c->d, &c->scaler)) != 0)
			goto out;
		memcpy(c->scaler->center, st->center, c->d * sizeof(double));
		memcpy(c->scaler->scale, st->scale, c->d * sizeof(double));
		memcpy(c->scaler->impute, st->impute, c->d * sizeof(double));
		memcpy(c->scaler->baseline, st->baseline, c->d * sizeof(double));
	}
	c->pos_weight = st->pos_weight;
	c->total_rows = st->total_rows;
	c->total_positives = st->total_positives;
	c->l2_index = st->l2_index;
	c->l2 = st->l2;
	memcpy(c->w, st->w, c->d * sizeof(double));
	memcpy(c->best_w, st->best_w, c->d * sizeof(double));
	memcpy(c->last_eval_w, st->last_eval_w, c->d * sizeof(double));
	for (size_t k = 0; k < st->n_l2_results; k++) {
		c->l2_results[k] = (struct fl_l2_candidate){st->l2_results[k]->l2,
							    st->l2_results[k]->valid_log_loss,
							    st->l2_results[k]->valid_auc};
		c->l2_iters[k] = (int)st->l2_results[k]->iterations;
	}
	c->fedavg_round = (int)st->fedavg_round;
	c->iterations = (int)st->iterations;
	c->valid_log_loss = st->valid_log_loss;
	c->valid_auc = st->valid_auc;
	c->train_loss = st->train_loss;
	c->grad_norm = st->grad_norm;
	c->valid_rows = st->valid_rows;
	c->valid_positives = st->valid_positives;
	if (st->solver.len > 0) {
		uint64_t sd = 0;

		fl_solver_free(c->solver);
		c->solver = NULL;
		if ((r = fl_solver_restore(st->solver.data, st->solver.len, &c->solver)) != 0)
			goto out;
		/* A solver for another dimension would be read past its weights; d
		 * is the u64 at byte 16 of the layout in logreg.h (restore checked it). */
		for (int k = 0; k < 8; k++)
			sd |= (uint64_t)st->solver.data[16 + k] << (8 * k);
		if (sd != c->d) {
			r = fl_fail(FL_ERR_DATA, "checkpoint is inconsistent with the schema or settings");
			goto out;
		}
	}
	for (size_t i = 0; i < st->n_history; i++) {
		const Fedlead__State__RoundLog *h = st->history[i];
		uint64_t save_round = c->round;

		c->round = h->round;
		c->l2 = h->l2;
		c->train_loss = h->train_loss;
		c->grad_norm = h->grad_norm;
		c->valid_log_loss = h->valid_log_loss;
		c->valid_auc = h->valid_auc;
		if ((r = add_history(c, h->kind)) != 0)
			goto out;
		c->hist[c->n_hist - 1].partners = h->partners;
		c->round = save_round;
	}
	/* add_history() above walked the logged values; put the current ones back. */
	c->l2 = st->l2;
	c->train_loss = st->train_loss;
	c->grad_norm = st->grad_norm;
	c->valid_log_loss = st->valid_log_loss;
	c->valid_auc = st->valid_auc;
	if (st->model_file.len > 0) {
		if ((c->model_file = malloc(st->model_file.len)) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		memcpy(c->model_file, st->model_file.data, st->model_file.len);
		c->model_len = st->model_file.len;
	}
	c->need_valid = c->set.validation_split > 0;
	c->started = c->phase != FL_PHASE_WAITING;
	c->resumed = 1;
	/* Wait for the participants to come back before the next round; the
	 * late policy applies to those that do not. */
	if (c->started && c->phase < FL_PHASE_DONE) {
		c->waiting_kick = 1;
		c->io.arm_timer(c->io.ctx, c->set.round_deadline);
	}
	fl_log(FL_LOG_NOTICE, "resumed federation %s after round %llu (phase %s)",
	       c->federation_id, (unsigned long long)c->round, fl_fed_phase_name(c->phase));
	r = 0;
out:
	fedlead__state__coord_state__free_unpacked(st, NULL);
	return r;
}

void fl_fedcoord_view(const struct fl_fedcoord *c, struct fl_fedcoord_view *v)
{
	v->phase = c->phase;
	v->round = c->round;
	v->expected = c->np;
	v->connected = count(c, 1, 0);
	v->participating = count(c, 0, 1);
	v->iterations = c->iterations;
	v->l2 = c->l2;
	v->train_loss = c->train_loss;
	v->grad_norm = c->grad_norm;
	v->valid_log_loss = c->valid_log_loss;
	v->valid_auc = c->valid_auc;
}

size_t fl_fedcoord_partner_count(const struct fl_fedcoord *c)
{
	return c->np;
}

void fl_fedcoord_partner(const struct fl_fedcoord *c, size_t i, const char **name,
			 int *connected, int *participating, double *last_seen)
{
	*name = c->p[i].id;
	*connected = c->p[i].connected;
	*participating = c->p[i].participant;
	*last_seen = c->p[i].last_seen;
}

size_t fl_fedcoord_history_len(const struct fl_fedcoord *c)
{
	return c->n_hist;
}

void fl_fedcoord_history(const struct fl_fedcoord *c, size_t i, struct fl_round_log *out)
{
	*out = c->hist[i];
}
