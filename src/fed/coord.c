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
 *
 * This file holds the settings, the lifecycle, the phases, joins and
 * leaves, the dispatch of partners' messages and the views. What a round's
 * sum means for training is in coord_train.c, secure aggregation is driven
 * from coord_secagg.c, and checkpoints are written and read in
 * coord_checkpoint.c.
 */
#include "fedlead/coord.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coord_int.h"
#include "fedlead/error.h"
#include "fedlead/fault.h"
#include "fedlead/knots.h"
#include "fedlead/logreg.h"
#include "fedlead/node.h"
#include "fedlead/payload.h"
#include "fedlead/secagg.h"
#include "fedlead/wire.h"

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
	static const char *const names[] = {"waiting", "statistics", "training",
	                                    "final",   "done",       "failed"};

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
		return fl_fail(FL_ERR_CONFIG,
		               "min_partners %zu must be between 1 and the %zu "
		               "allowed partners",
		               s->min_partners, s->n_partners);
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
	if (s->algorithm == FL_FED_FEDAVG && (s->fedavg_rounds < 1 || s->local_epochs < 1 ||
	                                      s->local_batch < 1 || !(s->local_lr > 0)))
		return fl_fail(FL_ERR_CONFIG, "fedavg needs rounds, local_epochs, local_batch and "
		                              "local_lr above 0");
	if (s->hist_bins < 2 || s->hist_bins > FL_HIST_BINS_MAX || !(s->hist_range > 0))
		return fl_fail(FL_ERR_CONFIG, "hist_bins must be 2 to %d", FL_HIST_BINS_MAX);
	if (!(s->round_deadline > 0))
		return fl_fail(FL_ERR_CONFIG, "round_deadline must be positive");
	if (s->secure && (s->n_partners < 2 || s->n_partners > FL_WIRE_MAX_PARTIES))
		return fl_fail(FL_ERR_CONFIG, "secure aggregation needs 2 to %d partners",
		               FL_WIRE_MAX_PARTIES);
	/* A federation that starts with the quorum of one (once start_wait has
	 * passed) would run its secure rounds with one participant, and a
	 * secure sum needs a threshold of at least 2: it would wait for ever
	 * in the statistics round. */
	if (s->secure && s->min_partners < 2)
		return fl_fail(FL_ERR_CONFIG,
		               "min_partners = %zu with secure aggregation: a "
		               "federation could start with one partner and would never finish its "
		               "statistics round (a secure sum needs at least 2); set min_partners "
		               "to 2 or more (partners' nodes require 3 by default)",
		               s->min_partners);
	/* With t at most half of n + c, a coordinator and c colluding
	 * partners could tell two groups of the others different stories and
	 * unmask one input: partners refuse such rounds (their max_colluders
	 * rule), so the configuration is refused up front. */
	if (s->secure && s->max_colluders >= s->n_partners)
		return fl_fail(FL_ERR_CONFIG, "max_colluders = %u must be below the %zu partners",
		               s->max_colluders, s->n_partners);
	if (s->secure && s->threshold != 0 &&
	    (s->threshold <= s->max_colluders ||
	     2 * (size_t)s->threshold <= s->n_partners + s->max_colluders ||
	     s->threshold > s->n_partners))
		return fl_fail(FL_ERR_CONFIG,
		               "threshold %u must be more than half of the %zu "
		               "partners plus max_colluders = %u, and at most all of them",
		               s->threshold, s->n_partners, s->max_colluders);
	/* L-BFGS needs a line search, whose number of evaluations depends on
	 * the data; FedAvg's local training has no bounded sensitivity. (That
	 * the partners' nodes add their noise under the masks, so need secure
	 * aggregation, is the daemon's check: see coordinator_config.c.) */
	if (s->privacy && s->algorithm != FL_FED_NEWTON)
		return fl_fail(FL_ERR_CONFIG,
		               "privacy = on needs algorithm = newton (a fixed number of damped "
		               "Newton steps); %s's number of evaluations depends on the data",
		               fl_fed_algo_name(s->algorithm));
	return 0;
}

uint64_t fl_coord_privacy_releases(const struct fl_coord_settings *s)
{
	double grid[FL_L2_GRID_MAX];
	uint64_t n_grid = s->l2_auto ? fl_l2_grid(grid, FL_L2_GRID_MAX) : 1;

	if (!s->privacy)
		return 0;
	/* 1: the statistics round, a release of its own (noised sums). */
	return 1 + n_grid * ((uint64_t)s->max_iterations + (s->validation_split > 0 ? 1 : 0));
}

int fl_coord_privacy_schema_check(const struct fl_coord_settings *s, const struct fl_schema *schema)
{
	const struct fl_feature *f = s->privacy ? fl_payload_stats_unclipped(schema) : NULL;

	if (f != NULL)
		return fl_fail(FL_ERR_CONFIG,
		               "privacy = on needs a clip range on every numeric feature of the "
		               "schema, which bounds each lead's part in the statistics round: "
		               "feature \"%s\" has none",
		               f->name);
	return 0;
}

static int partner_cmp(const void *a, const void *b)
{
	return strcmp(((const struct partner *)a)->id, ((const struct partner *)b)->id);
}

struct partner *fl_coord_find_partner(struct fl_fedcoord *c, const char *id)
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
		free(c->p[i].draft);
	}
	free(c->p);
	free(c->federation_id);
	free(c->cur_w);
	fl_scaler_free(c->scaler);
	fl_solver_free(c->solver);
	free(c->w);
	free(c->last_eval_w);
	free(c->best_w);
	free(c->dp_B);
	free(c->hist);
	free(c->model_file);
	fl_secagg_coord_free(c->sa);
	fl_coord_evidence_clear(c);
	free(c->sap_participants);
	free(c->secure_sum);
	free(c->schema_frame);
	fl_schema_free(c->kschema);
	free(c->knots);
	free(c->knots_means);
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
	if ((r = fl_coord_knots_schema_check(s, schema)) != 0)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return FL_ERR_NOMEM;
	c->set = *s;
	c->schema = schema;
	c->io = *io;
	/* The schema round has no schema yet: it is what the round agrees on. */
	if (schema == NULL && !s->schema_round) {
		free(c);
		return fl_fail(FL_ERR_INVALID, "a federation needs a schema");
	}
	/* Refused at the start, not after the statistics round. */
	if (schema != NULL && (r = fl_coord_monotone_check(s, schema)) != 0) {
		free(c);
		return r;
	}
	c->d = schema != NULL ? schema->dim : 0;
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
	c->dp_planned = fl_coord_privacy_releases(s) + fl_coord_knots_releases(s, schema);
	c->train_loss = c->grad_norm = c->valid_log_loss = c->valid_auc = NAN;
	*out = c;
	return 0;
fail:
	fl_fedcoord_free(c);
	return r;
}

/* ---- sending ---- */

void fl_coord_fill_ref(const struct fl_fedcoord *c, Fedlead__Wire__RoundRef *ref)
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

void fl_coord_send_standardize(struct fl_fedcoord *c, struct partner *p)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Standardize st = FEDLEAD__WIRE__STANDARDIZE__INIT;
	Fedlead__Wire__RoundRef ref;
	double *center = NULL, *scale = NULL;

	fl_coord_fill_ref(c, &ref);
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
	if (c->knots_ready) {
		st.knots = c->knots;
		st.n_knots = c->n_knots;
	}
	/* The privacy plan trains in its own encoding (coord_int.h). */
	if (c->set.privacy) {
		if ((center = malloc(c->d * sizeof(double))) == NULL ||
		    (scale = malloc(c->d * sizeof(double))) == NULL) {
			free(center);
			fl_coord_fail(c, "out of memory");
			return;
		}
		(void)fl_coord_dp_scaler(c, center, scale);
		st.center = center;
		st.scale = scale;
	}
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE;
	env.standardize = &st;
	send_to(c, p, &env);
	free(center);
	free(scale);
}

/* The task of the round in progress, to one partner. */
static void send_task(struct fl_fedcoord *c, struct partner *p)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__StatsTask st = FEDLEAD__WIRE__STATS_TASK__INIT;
	Fedlead__Wire__EvalTask ev = FEDLEAD__WIRE__EVAL_TASK__INIT;
	Fedlead__Wire__LocalTrainTask lt = FEDLEAD__WIRE__LOCAL_TRAIN_TASK__INIT;
	Fedlead__Wire__FinalModel fm = FEDLEAD__WIRE__FINAL_MODEL__INIT;
	Fedlead__Wire__RoundRef ref;

	fl_coord_fill_ref(c, &ref);
	switch (c->task) {
	case T_KNOTS:
	case T_STATS:
		st.ref = &ref;
		st.secagg = c->sa ? &c->sap : NULL;
		st.histograms = c->task == T_KNOTS;
		if (c->task == T_STATS && c->knots_ready) {
			st.knots = c->knots;
			st.n_knots = c->n_knots;
		}
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
		lt.l2 = c->l2 / (double)fl_coord_count(c, 0, 1);
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
	case T_NONE: return;
	}
	send_to(c, p, &env);
}

size_t fl_coord_count(const struct fl_fedcoord *c, int connected, int participant)
{
	size_t n = 0;

	for (size_t i = 0; i < c->np; i++)
		n += (!connected || c->p[i].connected) && (!participant || c->p[i].participant);
	return n;
}

/* ---- rounds, partners and messages ---- */

void fl_coord_begin_round(struct fl_fedcoord *c, enum task t)
{
	c->round++;
	c->task = t;
	if ((t == T_EVAL || t == T_STATS || t == T_KNOTS) && c->set.privacy) {
		/* Every attempt at an evaluation or at the statistics is a
		 * release at each node that answers it: one issued again (a
		 * partner lost its secrets, a round restarted) is charged again,
		 * beyond the plan. The plan's statistics round is the first
		 * release. */
		int fresh = t == T_EVAL ? c->dp_fresh
		            : t == T_KNOTS
		                    ? c->dp_issued == 0
		                    : c->dp_issued == fl_coord_knots_releases(&c->set, c->schema);

		c->dp_issued++;
		if (!fresh)
			fl_log(FL_LOG_WARN,
			       "round %llu: differential privacy: %s issued again, "
			       "release %llu of this federation where %llu were planned (each "
			       "partner that answered the abandoned attempt was charged for it)",
			       (unsigned long long)c->round,
			       t == T_EVAL    ? "an evaluation"
			       : t == T_KNOTS ? "the knots round"
			                      : "the statistics round",
			       (unsigned long long)c->dp_issued, (unsigned long long)c->dp_planned);
		if (!fresh)
			fl_audit_event(c->io.audit, "privacy_retry", "{s:I, s:I, s:I}", "round",
			               (json_int_t)c->round, "issued", (json_int_t)c->dp_issued,
			               "planned", (json_int_t)c->dp_planned);
	}
	c->dp_fresh = 0;
	if (fl_coord_secure_begin(c) != 0) {
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
	fl_fault_point(t == T_STATS   ? "stats"
	               : t == T_KNOTS ? "knots"
	               : t == T_FINAL ? "final"
	                              : "task",
	               c->round);
	c->io.arm_timer(c->io.ctx, c->set.round_deadline);
}

void fl_coord_fail(struct fl_fedcoord *c, const char *msg)
{
	c->phase = FL_PHASE_FAILED;
	c->task = T_NONE;
	c->io.arm_timer(c->io.ctx, 0);
	fl_log(FL_LOG_ERROR, "federation %s failed: %s", c->federation_id, msg);
	fl_audit_event(c->io.audit, "failed", "{s:s, s:I, s:s}", "federation", c->federation_id,
	               "round", (json_int_t)c->round, "reason", msg);
	/* Recorded, so a restart reports the failure instead of resuming a
	 * federation that was given up. */
	fl_coord_checkpoint(c);
	c->io.finished(c->io.ctx, 0, msg);
}

int fl_coord_add_history(struct fl_fedcoord *c, const char *kind)
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
	        .partners = (uint32_t)fl_coord_count(c, 0, 1),
	};
	snprintf(h[c->n_hist].kind, sizeof(h->kind), "%s", kind);
	c->n_hist++;
	fl_audit_event(c->io.audit, "round", "{s:I, s:s, s:f, s:f, s:f, s:f, s:i}", "round",
	               (json_int_t)c->round, "kind", kind, "l2", c->l2, "train_loss",
	               isfinite(c->train_loss) ? c->train_loss : -1.0, "valid_log_loss",
	               isfinite(c->valid_log_loss) ? c->valid_log_loss : -1.0, "valid_auc",
	               isfinite(c->valid_auc) ? c->valid_auc : -1.0, "partners",
	               (int)fl_coord_count(c, 0, 1));
	return 0;
}

/* Issues whatever comes next from the current (possibly restored) state. */
static int continue_federation(struct fl_fedcoord *c)
{
	switch (c->phase) {
	case FL_PHASE_STATS: fl_coord_begin_stats(c); return 0;
	case FL_PHASE_TRAIN:
		/* Restored from a version 1 checkpoint, which does not hold
		 * the knots placed from data: they are placed again, and the
		 * statistics follow. */
		if (fl_coord_knots_needed(c)) {
			fl_log(FL_LOG_WARN,
			       "the knots placed from the partners' data are not in "
			       "the checkpoint: placing them again, then the statistics");
			c->phase = FL_PHASE_STATS;
			fl_coord_begin_stats(c);
			return 0;
		}
		return fl_coord_next_task(c);
	case FL_PHASE_FINAL: fl_coord_begin_round(c, T_FINAL); return 0;
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
	if (c->set.privacy)
		fl_log(FL_LOG_NOTICE,
		       "differential privacy: %d Newton steps per l2 value (%s " FL_DP_PLAN
		       " takes %d), a fixed plan of %llu releases per partner (the statistics "
		       "round + %zu l2 value%s x (%d Newton steps%s)); a partner whose "
		       "privacy_releases are fewer refuses at the Welcome",
		       c->set.max_iterations,
		       c->set.max_iterations_plan ? "max_iterations not set: the plan"
		                                  : "max_iterations as set; the plan",
		       FL_DP_PLAN_EVALUATIONS, (unsigned long long)c->dp_planned, c->n_grid,
		       c->n_grid == 1 ? "" : "s", c->set.max_iterations,
		       c->set.validation_split > 0 ? " + 1 validation" : "");
	if (c->set.privacy)
		fl_coord_dp_plan(c);
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

size_t fl_coord_expected_len(const struct fl_fedcoord *c)
{
	switch (c->task) {
	case T_STATS: return fl_payload_stats_len(c->d);
	case T_KNOTS: return fl_knots_hist_len(c->schema);
	case T_EVAL:
		return fl_payload_eval_len(c->d, c->need_hess, c->need_valid, c->set.hist_bins);
	case T_FEDAVG: return fl_payload_fedavg_len(c->d, c->need_valid, c->set.hist_bins);
	default: return 0;
	}
}

/* All answers are in: act on their sum. */
void fl_coord_complete_round(struct fl_fedcoord *c)
{
	size_t len = fl_coord_expected_len(c);
	enum task done = c->task;
	double *acc = NULL;
	int r;

	c->io.arm_timer(c->io.ctx, 0);
	if (c->task == T_FINAL) {
		c->task = T_NONE;
		c->phase = FL_PHASE_DONE;
		fl_coord_add_history(c, "final");
		fl_coord_checkpoint(c);
		fl_log(FL_LOG_NOTICE, "federation %s done: every participant saved the model",
		       c->federation_id);
		c->io.finished(c->io.ctx, 1, "done");
		return;
	}
	if (c->secure_sum != NULL) {
		acc = c->secure_sum; /* the sum over the survivors, unmasked */
		c->secure_sum = NULL;
	} else if ((acc = sum_answers(c, len)) == NULL) {
		fl_coord_fail(c, "out of memory");
		return;
	}
	fl_secagg_coord_free(c->sa);
	c->sa = NULL;
	switch (c->task) {
	case T_KNOTS: r = fl_coord_finish_knots(c, acc); break;
	case T_STATS: r = fl_coord_finish_stats(c, acc); break;
	case T_EVAL: r = fl_coord_finish_eval(c, acc); break;
	case T_FEDAVG: r = fl_coord_finish_fedavg(c, acc); break;
	default: r = FL_ERR_INTERNAL; break;
	}
	free(acc);
	c->task = T_NONE;
	if (r == 0 && done == T_KNOTS) {
		fl_coord_begin_round(c, T_STATS);
		return;
	}
	if (r == 0) {
		fl_coord_checkpoint(c);
		r = fl_coord_next_task(c);
	}
	if (r != 0)
		fl_coord_fail(c, fl_errmsg()[0] ? fl_errmsg() : fl_strerror(r));
}

static void maybe_complete(struct fl_fedcoord *c)
{
	for (size_t i = 0; i < c->np; i++)
		if (c->p[i].pending)
			return;
	if (c->task != T_NONE)
		fl_coord_complete_round(c);
}

/* Partners are gone or late: apply the late policy. Those that owe an
 * answer are lost, or only `only` when one partner failed or left while the
 * others may still be working on the round (or, in the final round, have
 * yet to confirm the model). */
void fl_coord_partners_lost(struct fl_fedcoord *c, struct partner *only, const char *why)
{
	size_t left;

	if (c->set.late_policy == FL_LATE_ABORT) {
		char msg[512];

		snprintf(msg, sizeof(msg), "round %llu: %s (late_policy = abort)",
		         (unsigned long long)c->round, why);
		fl_coord_fail(c, msg);
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

				snprintf(reason, sizeof(reason),
				         "dropped from federation %.64s in "
				         "round %llu (late_policy = drop)",
				         c->federation_id, (unsigned long long)c->round);
				p->connected = 0;
				send_reject(c, p->id, reason, 1);
			}
		}
	}
	left = fl_coord_count(c, 0, 1);
	if (left < c->set.min_partners) {
		char msg[256];

		snprintf(msg, sizeof(msg), "only %zu partners left, below the quorum of %zu", left,
		         c->set.min_partners);
		fl_coord_fail(c, msg);
		return;
	}
	if (c->task == T_FINAL) {
		maybe_complete(c);
		return;
	}
	/* Every sum so far covered the dropped partner too: its rows are in
	 * the standardisation, the class weight and the row counts of the
	 * model's provenance. Start again from the statistics of those left
	 * (under a new round number, so that answers to the abandoned round
	 * still in flight are stale), so the model is its participants' own. */
	if (c->phase == FL_PHASE_TRAIN) {
		if (c->set.privacy)
			fl_log(FL_LOG_WARN,
			       "differential privacy: training starts again from the statistics of "
			       "the partners left, so they are asked for the %llu planned "
			       "evaluation releases again (%llu issued so far in this federation)",
			       (unsigned long long)c->dp_planned, (unsigned long long)c->dp_issued);
		c->phase = FL_PHASE_STATS;
		c->need_valid = c->set.validation_split > 0;
		fl_coord_knots_forget(c);
		fl_coord_begin_stats(c);
		return;
	}
	/* Knots placed with the dropped partner's values: placed again. */
	if (c->task == T_STATS && c->knots_ready) {
		fl_coord_knots_forget(c);
		fl_coord_begin_stats(c);
		return;
	}
	if (c->task != T_NONE) /* T_NONE: restored, the caller continues */
		fl_coord_begin_round(c, c->task);
}

void fl_fedcoord_timer(struct fl_fedcoord *c)
{
	char why[512];
	size_t off = 0;

	if (c->phase == FL_PHASE_WAITING) {
		if (fl_coord_count(c, 1, 0) >= c->set.min_partners)
			start_federation(c);
		return;
	}
	if (c->waiting_kick) {
		/* Restored, and not everyone came back in time. */
		c->waiting_kick = 0;
		for (size_t i = 0; i < c->np; i++)
			c->p[i].pending = c->p[i].participant && !c->p[i].connected;
		fl_coord_partners_lost(c, NULL,
		                       "partners did not return after the coordinator restarted");
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
				fl_log(FL_LOG_WARN,
				       "round %llu: %s is late; continuing secure "
				       "aggregation without it",
				       (unsigned long long)c->round, c->p[i].id);
				c->p[i].sa_lost = 1;
				c->p[i].pending = 0;
			}
		fl_coord_secure_advance(c);
		return;
	}
	off += (size_t)snprintf(why, sizeof(why), "no answer within %g s from",
	                        c->set.round_deadline);
	for (size_t i = 0; i < c->np && off < sizeof(why) - 64; i++)
		if (c->p[i].pending)
			off += (size_t)snprintf(why + off, sizeof(why) - off, " %s", c->p[i].id);
	fl_coord_partners_lost(c, NULL, why);
}

int fl_fedcoord_join(struct fl_fedcoord *c, const char *partner, const Fedlead__Wire__Hello *h)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Welcome w = FEDLEAD__WIRE__WELCOME__INIT;
	Fedlead__Wire__Plan plan = FEDLEAD__WIRE__PLAN__INIT;
	struct partner *p = fl_coord_find_partner(c, partner);
	char reason[640], fp[65];
	int r;

	if (p == NULL) {
		snprintf(reason, sizeof(reason), "partner \"%s\" is not on the allow-list",
		         partner);
		r = FL_ERR_AUTH;
		goto reject;
	}
	if (h->protocol_version != FL_WIRE_PROTOCOL_VERSION) {
		snprintf(reason, sizeof(reason),
		         "protocol version %u is not supported (this "
		         "coordinator speaks %d)",
		         h->protocol_version, FL_WIRE_PROTOCOL_VERSION);
		r = FL_ERR_PROTO;
		goto reject;
	}
	if (c->set.schema_round || h->schema_round) {
		if ((r = fl_coord_schema_join(c, p, h, reason, sizeof(reason))) != 0)
			goto reject;
		return 0;
	}
	if (h->schema_fingerprint.len != FL_FINGERPRINT_LEN ||
	    memcmp(h->schema_fingerprint.data, c->schema->fingerprint, FL_FINGERPRINT_LEN) != 0) {
		fl_schema_fingerprint_hex(c->schema, fp);
		snprintf(reason, sizeof(reason),
		         "schema fingerprint differs from the federation's "
		         "(%.16s...): the partner encodes its leads differently",
		         fp);
		r = FL_ERR_AUTH;
		goto reject;
	}
	if (h->federation_id[0] != '\0' && strcmp(h->federation_id, c->federation_id) != 0) {
		snprintf(reason, sizeof(reason),
		         "partner asked for federation \"%.64s\", this is "
		         "\"%.64s\"",
		         h->federation_id, c->federation_id);
		r = FL_ERR_AUTH;
		goto reject;
	}
	if (p->dropped || (c->started && !p->participant && c->phase < FL_PHASE_DONE)) {
		snprintf(reason, sizeof(reason),
		         "federation %.64s is training without partner "
		         "%.64s (%s)",
		         c->federation_id, partner, p->dropped ? "dropped" : "joined too late");
		r = FL_ERR_AUTH;
		goto reject;
	}
	if (c->phase >= FL_PHASE_DONE) {
		snprintf(reason, sizeof(reason), "federation %.64s has %s", c->federation_id,
		         c->phase == FL_PHASE_DONE ? "finished" : "failed");
		r = FL_ERR_AUTH;
		goto reject;
	}
	if ((r = fl_coord_dp_join(c, p, h, reason, sizeof(reason))) != 0) {
		fl_log(FL_LOG_WARN, "rejected partner %s: %s", partner, reason);
		fl_audit_event(c->io.audit, "reject", "{s:s, s:s}", "partner", partner, "reason",
		               reason);
		send_reject(c, partner, reason, 1);
		fl_coord_dp_refused(c, p, reason);
		return fl_fail(r, "partner %s: %s", partner, reason);
	}
	p->connected = 1;
	p->last_seen = now_seconds();
	plan.algorithm = (char *)fl_fed_algo_name(c->set.algorithm);
	plan.validation_split = c->set.validation_split;
	plan.seed = c->set.seed;
	plan.hist_bins = c->set.hist_bins;
	plan.hist_range = c->set.hist_range;
	plan.secure_aggregation = c->set.secure;
	plan.threshold = c->set.secure ? fl_coord_threshold(c) : 0;
	plan.privacy_releases = c->dp_planned;
	plan.privacy_plan = (char *)(c->dp_planned ? FL_DP_PLAN : "");
	plan.privacy_knots_releases = fl_coord_knots_planned(c);
	w.protocol_version = FL_WIRE_PROTOCOL_VERSION;
	w.federation_id = c->federation_id;
	w.coordinator_version = (char *)FL_VERSION;
	w.partner_identity = (char *)partner;
	w.plan = &plan;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME;
	env.welcome = &w;
	send_to(c, p, &env);
	fl_log(FL_LOG_NOTICE, "partner %s joined (%zu of %zu connected)", partner,
	       fl_coord_count(c, 1, 0), c->np);
	fl_audit_event(c->io.audit, "join", "{s:s, s:s}", "partner", partner, "version",
	               h->software_version);
	if (c->phase == FL_PHASE_WAITING) {
		if (fl_coord_count(c, 1, 0) == c->np)
			start_federation(c);
		else if (fl_coord_count(c, 1, 0) >= c->set.min_partners && !c->start_timer) {
			c->start_timer = 1;
			c->io.arm_timer(c->io.ctx,
			                c->set.start_wait > 0 ? c->set.start_wait : 1e-3);
		}
		return 0;
	}
	/* A participant coming back: catch up and get the task in progress.
	 * Not while the knots are to be placed again (restored from a
	 * checkpoint without them): the statistics round that follows them
	 * brings a new standardisation. */
	if (c->scaler != NULL && c->phase >= FL_PHASE_TRAIN && !fl_coord_knots_needed(c))
		fl_coord_send_standardize(c, p);
	if (c->waiting_kick) {
		if (fl_coord_count(c, 1, 1) == fl_coord_count(c, 0, 1)) {
			c->waiting_kick = 0;
			c->io.arm_timer(c->io.ctx, 0);
			fl_log(FL_LOG_NOTICE, "all participants are back: resuming at round %llu",
			       (unsigned long long)c->round + 1);
			if ((r = continue_federation(c)) != 0)
				fl_coord_fail(c, fl_errmsg());
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
		fl_coord_begin_round(c, c->task);
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
	struct partner *p = fl_coord_find_partner(c, partner);
	char why[128];

	if (p == NULL || !p->connected)
		return;
	p->connected = 0;
	p->last_seen = now_seconds();
	fl_log(FL_LOG_WARN, "partner %s disconnected", partner);
	if (c->set.schema_round) {
		fl_coord_schema_leave(c);
		return;
	}
	if (c->phase == FL_PHASE_WAITING || !p->participant || c->phase >= FL_PHASE_DONE)
		return;
	if (c->sa != NULL && !p->sa_lost && !c->waiting_kick) {
		/* Its round secrets went with the connection. */
		if (c->set.late_policy == FL_LATE_DROP) {
			p->sa_lost = 1;
			p->pending = 0;
			fl_coord_secure_advance(c);
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
	fl_coord_partners_lost(c, p, why);
}

int fl_fedcoord_message(struct fl_fedcoord *c, const char *partner,
                        const Fedlead__Wire__Envelope *env)
{
	struct partner *p = fl_coord_find_partner(c, partner);
	const Fedlead__Wire__RoundRef *ref = fl_wire_ref(env);
	const char *type = fl_wire_type_name(env);
	int r;

	if (p == NULL || !p->connected)
		return fl_fail(FL_ERR_PROTO, "peer %s: %s before hello", partner, type);
	p->last_seen = now_seconds();
	if (c->set.schema_round)
		return fl_coord_schema_message(c, p, env);
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE:
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATUS:
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT:
	case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
	case FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE:
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE:
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY:
	case FEDLEAD__WIRE__ENVELOPE__BODY_ACCUSATION: break;
	default: return fl_fail(FL_ERR_PROTO, "peer %s: unexpected %s message", partner, type);
	}
	/* An answer to an earlier round (overtaken by a retry) is dropped, never
	 * added to the current sums. */
	if (ref != NULL && ref->round < c->round &&
	    strcmp(ref->federation_id, c->federation_id) == 0) {
		fl_log(FL_LOG_WARN,
		       "peer %s: ignored stale %s for round %llu (round %llu is in "
		       "progress)",
		       partner, type, (unsigned long long)ref->round, (unsigned long long)c->round);
		return 0;
	}
	if ((r = fl_wire_check_ref(ref, c->federation_id, c->round, c->schema->fingerprint, partner,
	                           type)) != 0)
		return r;
	if (env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE &&
	    env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_STATUS)
		return fl_coord_secure_message(c, p, env);
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
				fl_coord_fail(c, why);
				return 0;
			}
			fl_coord_partners_lost(c, p, why);
			return 0;
		}
		return fl_fail(FL_ERR_PROTO, "peer %s: unexpected status %d in round %llu", partner,
		               (int)s->code, (unsigned long long)c->round);
	}
	{
		const Fedlead__Wire__Update *u = env->update;
		Fedlead__Wire__UpdateKind want =
		        c->task == T_STATS    ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS
		        : c->task == T_KNOTS  ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_HIST
		        : c->task == T_EVAL   ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL
		        : c->task == T_FEDAVG ? FEDLEAD__WIRE__UPDATE_KIND__UPDATE_FEDAVG
		                              : FEDLEAD__WIRE__UPDATE_KIND__UPDATE_NONE;

		if (!p->participant || !p->pending)
			return fl_fail(FL_ERR_PROTO,
			               "peer %s: update in round %llu, which it does "
			               "not owe",
			               partner, (unsigned long long)c->round);
		if (u->kind != want || want == FEDLEAD__WIRE__UPDATE_KIND__UPDATE_NONE)
			return fl_fail(FL_ERR_PROTO,
			               "peer %s: update of the wrong kind for round "
			               "%llu",
			               partner, (unsigned long long)c->round);
		if (u->n_values != fl_coord_expected_len(c))
			return fl_fail(FL_ERR_PROTO,
			               "peer %s: update with %zu values, expected %zu", partner,
			               u->n_values, fl_coord_expected_len(c));
		if ((p->vec = malloc(u->n_values * sizeof(double))) == NULL)
			return FL_ERR_NOMEM;
		memcpy(p->vec, u->values, u->n_values * sizeof(double));
		p->vlen = u->n_values;
		p->pending = 0;
		maybe_complete(c);
	}
	return 0;
}

void fl_fedcoord_view(const struct fl_fedcoord *c, struct fl_fedcoord_view *v)
{
	v->phase = c->phase;
	v->round = c->round;
	v->expected = c->np;
	v->connected = fl_coord_count(c, 1, 0);
	v->participating = fl_coord_count(c, 0, 1);
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

void fl_fedcoord_partner(const struct fl_fedcoord *c, size_t i, const char **name, int *connected,
                         int *participating, double *last_seen)
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
