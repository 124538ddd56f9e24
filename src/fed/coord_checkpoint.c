/*
 * Coordinator checkpoints: the state after each completed round as a
 * CoordState message (proto/state.proto), and its restoration after a
 * restart, checked against the schema and settings before anything is
 * taken from it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coord_int.h"
#include "fedlead/error.h"
#include "fedlead/knots.h"
#include "fedlead/logreg.h"
#include "state.pb-c.h"

/* 3: the knots section (KnotsState) with its spline basis means. A version
 * 2 checkpoint has the knots without the means: read, the model's spline
 * baselines under differential privacy then stay 0 (nothing can bring the
 * histogram back without a second release). A version 1 checkpoint has no
 * knots: they are placed again, as a version 1 coordinator did. A version
 * 2 coordinator refuses a version 3 checkpoint (not supported). */
#define STATE_VERSION 3
#define STATE_VERSION_NO_MEANS 2
#define STATE_VERSION_NO_KNOTS 1

int fl_fedcoord_save(const struct fl_fedcoord *c, uint8_t **out, size_t *len)
{
	Fedlead__State__CoordState st = FEDLEAD__STATE__COORD_STATE__INIT;
	Fedlead__State__RoundLog *logs = NULL, **logp = NULL;
	Fedlead__State__L2Result l2r[FL_L2_GRID_MAX], *l2p[FL_L2_GRID_MAX];
	Fedlead__State__KnotsState ks = FEDLEAD__STATE__KNOTS_STATE__INIT;
	char **parts = NULL, **dropped = NULL, **saved = NULL;
	uint8_t *solver = NULL, *buf = NULL;
	double *dp_hess = NULL;
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
		l2r[k].train_loss = c->l2_train_loss[k];
		l2r[k].grad_norm = c->l2_grad_norm[k];
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
	st.privacy = c->set.privacy != 0;
	st.dp_step = c->dp_step;
	st.dp_issued = c->dp_issued;
	if (c->dp_B != NULL) {
		size_t k = 0;

		if ((dp_hess = malloc(c->d * (c->d + 1) / 2 * sizeof(double))) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		for (size_t i = 0; i < c->d; i++)
			for (size_t j = i; j < c->d; j++)
				dp_hess[k++] = c->dp_B[i * c->d + j];
		st.dp_hessian = dp_hess;
		st.n_dp_hessian = k;
	}
	if (c->knots_ready) {
		ks.features = (uint32_t)fl_knots_features(c->schema);
		ks.values = c->knots;
		ks.n_values = c->n_knots;
		ks.basis_means = c->knots_means;
		ks.n_basis_means = c->knots_means != NULL ? c->n_knots_means : 0;
		/* Resumed from a version 2 checkpoint: still without means. */
		if (c->knots_means == NULL)
			st.version = STATE_VERSION_NO_MEANS;
		st.knots = &ks;
	}
	if ((buf = malloc(fedlead__state__coord_state__get_packed_size(&st) + 1)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	*len = fedlead__state__coord_state__pack(&st, buf);
	*out = buf;
	r = 0;
out:
	free(dp_hess);
	free(solver);
	free(parts);
	free(dropped);
	free(saved);
	free(logs);
	free(logp);
	return r;
}

void fl_coord_checkpoint(struct fl_fedcoord *c)
{
	uint8_t *buf;
	size_t len;
	int r;

	if ((r = fl_fedcoord_save(c, &buf, &len)) != 0) {
		fl_log(FL_LOG_ERROR, "cannot serialise the checkpoint: %s", fl_strerror(r));
		return;
	}
	if (c->io.checkpoint(c->io.ctx, buf, len) != 0)
		fl_log(FL_LOG_ERROR,
		       "checkpoint after round %llu not written: %s (the previous "
		       "one is intact)",
		       (unsigned long long)c->round, fl_errmsg());
	free(buf);
}

/*
 * The knots round's outcome. Version 2 holds the knots once placed, and a
 * checkpoint from training on has them whenever the schema places knots
 * from data (training needs them): one without is damaged, not old.
 */
static int restore_knots(struct fl_fedcoord *c, const Fedlead__State__CoordState *st)
{
	size_t nf = c->schema != NULL ? fl_knots_features(c->schema) : 0;

	if (st->version == STATE_VERSION_NO_KNOTS) {
		if (st->knots != NULL)
			return fl_fail(FL_ERR_DATA,
			               "checkpoint of version %u holds a knots section, which "
			               "that version does not have",
			               st->version);
		return 0; /* placed again (continue_federation()) */
	}
	if (st->knots == NULL) {
		if (nf > 0 && st->phase >= FL_PHASE_TRAIN && st->phase <= FL_PHASE_FINAL)
			return fl_fail(FL_ERR_DATA,
			               "checkpoint of phase %s has no knots section, but the "
			               "schema places the knots of %zu features from data",
			               fl_fed_phase_name(st->phase), nf);
		return 0;
	}
	if (st->version == STATE_VERSION_NO_MEANS) {
		if (st->knots->n_basis_means != 0)
			return fl_fail(FL_ERR_DATA,
			               "checkpoint of version %u holds spline basis means, which "
			               "that version does not have",
			               st->version);
		if (fl_knots_means_len(c->schema) > 0 && c->set.privacy)
			fl_log(FL_LOG_WARN,
			       "checkpoint of version %u has no spline basis means: the model's "
			       "baselines of the spline basis columns stay 0 (its explanations "
			       "of those features are measured against a zero block)",
			       st->version);
	}
	return fl_coord_knots_restore(c, st->knots->features, st->knots->values,
	                              st->knots->n_values, st->version != STATE_VERSION_NO_MEANS,
	                              st->knots->basis_means, st->knots->n_basis_means);
}

int fl_fedcoord_restore(struct fl_fedcoord *c, const uint8_t *buf, size_t len)
{
	Fedlead__State__CoordState *st;
	int r = FL_ERR_DATA;

	st = fedlead__state__coord_state__unpack(NULL, len, buf);
	if (st == NULL)
		return fl_fail(FL_ERR_DATA, "checkpoint is malformed");
	if (st->version != STATE_VERSION && st->version != STATE_VERSION_NO_MEANS &&
	    st->version != STATE_VERSION_NO_KNOTS) {
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
	/* The plan the partners were told (and charge for) is not changed by
	 * a restart. */
	if (st->privacy != (c->set.privacy != 0)) {
		fl_fail(FL_ERR_DATA, "checkpoint was made with privacy = %s, the settings say %s",
		        st->privacy ? "on" : "off", c->set.privacy ? "on" : "off");
		goto out;
	}
	if (st->privacy && st->dp_step > (uint64_t)c->set.max_iterations + 1) {
		fl_fail(FL_ERR_DATA, "checkpoint is inconsistent with the schema or settings");
		goto out;
	}
	/* The plan's Hessian is released once per l2: a checkpoint between its
	 * release and the last Newton step must hold it. */
	if ((st->n_dp_hessian != 0 &&
	     (!st->privacy || st->n_dp_hessian != c->d * (c->d + 1) / 2)) ||
	    (st->privacy && st->phase == FL_PHASE_TRAIN && st->dp_step >= 1 &&
	     st->dp_step < (uint64_t)c->set.max_iterations && st->n_dp_hessian == 0)) {
		fl_fail(FL_ERR_DATA, "checkpoint is inconsistent with the schema or settings");
		goto out;
	}
	if (st->n_dp_hessian != 0) {
		size_t k = 0;

		free(c->dp_B);
		if ((c->dp_B = malloc(c->d * c->d * sizeof(double))) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		for (size_t i = 0; i < c->d; i++)
			for (size_t j = i; j < c->d; j++) {
				c->dp_B[i * c->d + j] = c->dp_B[j * c->d + i] = st->dp_hessian[k++];
			}
	}
	if ((r = restore_knots(c, st)) != 0)
		goto out;
	c->phase = st->phase;
	c->round = st->round;
	c->dp_step = st->dp_step;
	c->dp_issued = st->dp_issued;
	for (size_t i = 0; i < st->n_participants; i++) {
		struct partner *p = fl_coord_find_partner(c, st->participants[i]);

		if (p == NULL) {
			fl_fail(FL_ERR_DATA,
			        "checkpoint names partner \"%.64s\", who is no longer "
			        "on the allow-list",
			        st->participants[i]);
			goto out;
		}
		p->participant = 1;
	}
	for (size_t i = 0; i < st->n_dropped; i++) {
		struct partner *p = fl_coord_find_partner(c, st->dropped[i]);

		if (p != NULL)
			p->dropped = 1;
	}
	for (size_t i = 0; i < st->n_saved; i++) {
		struct partner *p = fl_coord_find_partner(c, st->saved[i]);

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
		/* A loss of exactly 0 is no fit's: the field was not written. */
		c->l2_train_loss[k] =
		        st->l2_results[k]->train_loss != 0 ? st->l2_results[k]->train_loss : NAN;
		c->l2_grad_norm[k] =
		        st->l2_results[k]->grad_norm != 0 ? st->l2_results[k]->grad_norm : NAN;
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
		size_t sd;

		fl_solver_free(c->solver);
		c->solver = NULL;
		/* A solver for another dimension would be read past its weights:
		 * refuse it before it is restored and takes memory. */
		if ((r = fl_solver_checkpoint_dim(st->solver.data, st->solver.len, &sd)) != 0)
			goto out;
		if (sd != c->d) {
			r = fl_fail(FL_ERR_DATA,
			            "checkpoint is inconsistent with the schema or settings");
			goto out;
		}
		/* The checkpoint does not hold the shape constraints: the
		 * schema gives them again. */
		if ((r = fl_solver_restore(st->solver.data, st->solver.len, &c->solver)) != 0 ||
		    (r = fl_coord_solver_bounds(c)) != 0)
			goto out;
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
		if ((r = fl_coord_add_history(c, h->kind)) != 0)
			goto out;
		c->hist[c->n_hist - 1].partners = h->partners;
		c->round = save_round;
	}
	/* fl_coord_add_history() above walked the logged values; put the current ones back. */
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
	fl_log(FL_LOG_NOTICE, "resumed federation %s after round %llu (phase %s)", c->federation_id,
	       (unsigned long long)c->round, fl_fed_phase_name(c->phase));
	if (c->set.privacy && c->phase == FL_PHASE_TRAIN)
		fl_log(FL_LOG_WARN,
		       "differential privacy: if an evaluation was in progress when the "
		       "coordinator stopped, it is issued again, and partners that answered it "
		       "were charged a release for it beyond the %llu planned (%llu issued "
		       "before the restart)",
		       (unsigned long long)c->dp_planned, (unsigned long long)c->dp_issued);
	r = 0;
out:
	fedlead__state__coord_state__free_unpacked(st, NULL);
	return r;
}
