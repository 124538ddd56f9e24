/*
 * The coordinator's training: the statistics round's sums become the
 * scaler and class weight; evaluation rounds drive the ask/tell solver
 * (federated Newton or L-BFGS) along the l2 grid; FedAvg rounds average the
 * partners' local models; and the chosen weights are assembled into the
 * model that the final round delivers.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coord_int.h"
#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/logreg.h"
#include "fedlead/payload.h"
#include "fedlead/train.h"

int fl_coord_start_lambda(struct fl_fedcoord *c, size_t k)
{
	struct fl_solver_opts so = {
	        .l2 = c->grid[k],
	        .tol = c->set.tolerance * (c->total_rows > 0 ? c->total_rows : 1),
	        .max_iter = c->set.max_iterations,
	};

	c->l2_index = k;
	c->l2 = c->grid[k];
	c->dp_step = 0;
	fl_solver_free(c->solver);
	c->solver = NULL;
	if (c->set.algorithm == FL_FED_FEDAVG || c->set.privacy)
		return 0;
	/* Warm start from the current weights: along the l2 grid the solution
	 * moves little, so Newton needs few rounds for each point. */
	return fl_solver_new(c->set.algorithm == FL_FED_NEWTON ? FL_SOLVER_NEWTON : FL_SOLVER_LBFGS,
	                     c->d, &so, c->w, &c->solver);
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
	int r;

	if ((r = fl_model_new(c->schema, &m)) != 0)
		goto out;
	memcpy(m->w, c->w, c->d * sizeof(double));
	memcpy(m->scaler->center, c->scaler->center, c->d * sizeof(double));
	memcpy(m->scaler->scale, c->scaler->scale, c->d * sizeof(double));
	memcpy(m->scaler->baseline, c->scaler->baseline, c->d * sizeof(double));
	memcpy(m->scaler->impute, c->scaler->impute, c->d * sizeof(double));
	if ((r = fl_train_stamp(
	             m,
	             &(struct fl_train_facts){
	                     .solver = fl_fed_algo_name(c->set.algorithm),
	                     .l2 = c->l2,
	                     .pos_weight = c->pos_weight,
	                     .rows = count_u64(c->total_rows),
	                     .positives = count_u64(c->total_positives),
	                     .iterations = c->iterations,
	                     .final_loss = c->train_loss * c->total_rows,
	                     .grad_norm = c->grad_norm,
	                     .train = {count_u64(c->total_rows), count_u64(c->total_positives), NAN,
	                               c->train_loss},
	             })) != 0 ||
	    (r = fl_model_set_str(&m->prov.federation_id, c->federation_id)) != 0)
		goto out;
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
	fl_log(FL_LOG_NOTICE,
	       "training finished after %llu rounds: l2 %g, %d iterations; "
	       "delivering the model to %zu partners",
	       (unsigned long long)c->round, c->l2, c->iterations, fl_coord_count(c, 0, 1));
	/* The model file has no field for it yet: the coordinator's log and
	 * audit record that these weights were trained under the plan. The
	 * partners' epsilon and noise are theirs, in their own audit logs. */
	if (c->set.privacy) {
		fl_log(FL_LOG_NOTICE,
		       "trained under the partners' differential privacy: %llu evaluation "
		       "releases issued to each partner, %llu planned",
		       (unsigned long long)c->dp_issued, (unsigned long long)c->dp_planned);
		fl_audit_event(c->io.audit, "privacy_trained", "{s:s, s:I, s:I}", "federation",
		               c->federation_id, "planned", (json_int_t)c->dp_planned, "issued",
		               (json_int_t)c->dp_issued);
	}
	c->phase = FL_PHASE_FINAL;
	fl_coord_checkpoint(c);
	fl_coord_begin_round(c, T_FINAL);
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

	if (c->set.privacy) {
		/* The fixed plan has no convergence test: its steps are all
		 * taken, and the validation (when there is one) was measured at
		 * the weights reached. */
		st = (struct fl_solver_status){.iterations = c->set.max_iterations,
		                               .grad_norm = c->grad_norm,
		                               .converged = 1};
		fl_log(FL_LOG_INFO,
		       "l2 %g: the %d Newton steps of the privacy plan are taken (gradient norm "
		       "%.3g at the last evaluation)",
		       c->l2, st.iterations, st.grad_norm);
	} else {
		fl_solver_get_status(c->solver, &st);
		memcpy(c->w, fl_solver_weights(c->solver), c->d * sizeof(double));
	}
	/* Validation figures must belong to the final weights; when the last
	 * evaluation was a rejected line-search trial, evaluate once more. */
	if (!c->set.privacy && c->need_valid &&
	    memcmp(c->last_eval_w, c->w, c->d * sizeof(double)) != 0) {
		memcpy(c->cur_w, c->w, c->d * sizeof(double));
		c->need_hess = 0;
		c->valid_only = 1;
		fl_coord_begin_round(c, T_EVAL);
		return 0;
	}
	if (!st.converged)
		fl_log(FL_LOG_WARN,
		       "l2 %g: stopped after %d iterations without converging "
		       "(gradient norm %.3g)",
		       c->l2, st.iterations, st.grad_norm);
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
			int r = fl_coord_start_lambda(c, k + 1);

			return r != 0 ? r : fl_coord_next_task(c);
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

/*
 * Differential privacy's fixed plan at one l2: max_iterations evaluations
 * with the Hessian, each followed by a full Newton step, then (with
 * validation_split > 0) one evaluation for the validation figures at the
 * weights reached. Validation is asked for in that one only: the partners'
 * noise grows with what each evaluation releases.
 */
static int dp_next_task(struct fl_fedcoord *c)
{
	unsigned steps = (unsigned)c->set.max_iterations;
	int valid = c->set.validation_split > 0;

	if (c->dp_step >= steps + (valid ? 1u : 0u))
		return lambda_done(c);
	memcpy(c->cur_w, c->w, c->d * sizeof(double));
	c->need_hess = c->dp_step < steps;
	c->valid_only = c->dp_step >= steps;
	c->need_valid = c->valid_only;
	c->dp_fresh = 1;
	fl_coord_begin_round(c, T_EVAL);
	return 0;
}

/*
 * One damped Newton step from the noisy sums at cur_w: the objective's
 * gradient and Hessian (the l2 term added, the intercept unpenalised), the
 * Hessian made positive definite by the smallest ridge of a growing series
 * that lets its Cholesky factorisation succeed (the partners' noise can
 * make it indefinite), and the step taken in full. No line search: it
 * would compare noisy losses and ask for a data-dependent number of
 * evaluations. Everything here is post-processing of released sums.
 */
static int dp_newton_step(struct fl_fedcoord *c, const double *grad, double *H)
{
	size_t d = c->d;
	double *g = NULL, *F = NULL, maxdiag = 1, ridge = 0;
	int r = FL_ERR_NOMEM;

	if ((g = malloc(d * sizeof(double))) == NULL ||
	    (F = malloc(d * d * sizeof(double))) == NULL)
		goto out;
	for (size_t j = 0; j < d; j++) {
		g[j] = grad[j] + (j >= 1 ? c->l2 * c->cur_w[j] : 0);
		H[j * d + j] += j >= 1 ? c->l2 : 0;
		if (H[j * d + j] > maxdiag)
			maxdiag = H[j * d + j];
		if (!isfinite(g[j])) {
			r = fl_fail(FL_ERR_NUMERIC, "round %llu: the summed gradient is not finite",
			            (unsigned long long)c->round);
			goto out;
		}
	}
	c->grad_norm = fl_linalg_nrm2(g, d);
	for (int t = 0;; t++) {
		memcpy(F, H, d * d * sizeof(double));
		for (size_t j = 0; j < d; j++) {
			F[j * d + j] += ridge;
			c->w[j] = -g[j];
		}
		if (fl_linalg_spd_solve(F, d, c->w) == 0)
			break;
		if (t == 60) {
			r = fl_fail(FL_ERR_NUMERIC,
			            "round %llu: the summed Hessian is not finite, no Newton step",
			            (unsigned long long)c->round);
			goto out;
		}
		ridge = ridge == 0 ? 1e-10 * maxdiag : ridge * 10;
	}
	for (size_t j = 0; j < d; j++)
		c->w[j] += c->cur_w[j];
	r = 0;
out:
	free(g);
	free(F);
	return r;
}

int fl_coord_next_task(struct fl_fedcoord *c)
{
	const double *w;
	int need_hess, r;

	if (c->set.algorithm == FL_FED_FEDAVG) {
		if (c->fedavg_round >= c->set.fedavg_rounds) {
			/* Partners measured validation at the weights they were
			 * sent, not at their average: measure the final weights
			 * once more, so the model's figures are its own. */
			if (c->need_valid &&
			    memcmp(c->last_eval_w, c->w, c->d * sizeof(double)) != 0) {
				memcpy(c->cur_w, c->w, c->d * sizeof(double));
				c->need_hess = 0;
				c->valid_only = 1;
				fl_coord_begin_round(c, T_EVAL);
				return 0;
			}
			c->iterations = c->fedavg_round;
			return training_done(c);
		}
		memcpy(c->cur_w, c->w, c->d * sizeof(double));
		fl_coord_begin_round(c, T_FEDAVG);
		return 0;
	}
	if (c->l2_index >= c->n_grid) /* restored after the grid finished */
		return training_done(c);
	if (c->set.privacy)
		return dp_next_task(c);
	r = fl_solver_ask(c->solver, &w, &need_hess);
	if (r < 0)
		return r;
	if (r == FL_SOLVER_DONE)
		return lambda_done(c);
	memcpy(c->cur_w, w, c->d * sizeof(double));
	c->need_hess = need_hess;
	c->valid_only = 0;
	fl_coord_begin_round(c, T_EVAL);
	return 0;
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

int fl_coord_finish_stats(struct fl_fedcoord *c, const double *acc)
{
	struct fl_stats *st = NULL;
	int r;

	if ((r = fl_payload_stats_unpack(acc, c->d, &st)) != 0)
		return r;
	/* Noisy sums under differential privacy: rebuilt and clamped into
	 * what the schema allows (payload.h) before anything uses them. */
	if (c->set.privacy)
		fl_payload_stats_denoise(c->schema, st);
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
	fl_log(FL_LOG_INFO,
	       "statistics: %.0f training rows, %.0f converted (%.2f %%) across %zu "
	       "partners",
	       st->rows, st->positives, 100 * st->positives / st->rows, fl_coord_count(c, 0, 1));
	c->phase = FL_PHASE_TRAIN;
	if ((r = fl_coord_start_lambda(c, 0)) != 0)
		goto out;
	fl_coord_add_history(c, "stats");
	for (size_t i = 0; i < c->np; i++)
		if (c->p[i].participant)
			fl_coord_send_standardize(c, &c->p[i]);
out:
	fl_stats_free(st);
	return r;
}

int fl_coord_finish_eval(struct fl_fedcoord *c, const double *acc)
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
		c->dp_step += c->set.privacy;
		fl_coord_add_history(c, "validate");
		return 0; /* lambda_done() is called again by fl_coord_next_task() */
	}
	if (c->need_hess) {
		if ((H = malloc(c->d * c->d * sizeof(double))) == NULL)
			return FL_ERR_NOMEM;
		fl_payload_hess_unpack(acc + off, c->d, H);
	}
	if (c->set.privacy) {
		if (H == NULL)
			return fl_fail(FL_ERR_INVALID,
			               "privacy plan: an evaluation without the Hessian");
		r = dp_newton_step(c, acc + 1, H);
		free(H);
		if (r != 0)
			return r;
		c->dp_step++;
		c->train_loss = acc[0] / c->total_rows;
		c->iterations = (int)c->dp_step;
		fl_coord_add_history(c, "eval");
		fl_log(FL_LOG_INFO,
		       "round %llu: l2 %g, Newton step %u of %d (privacy plan), loss %.6f, "
		       "gradient norm %.3g",
		       (unsigned long long)c->round, c->l2, c->dp_step, c->set.max_iterations,
		       c->train_loss, c->grad_norm);
		return 0;
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
	fl_coord_add_history(c, "eval");
	fl_log(FL_LOG_INFO, "round %llu: l2 %g, iteration %d, loss %.6f, gradient norm %.3g%s",
	       (unsigned long long)c->round, c->l2, st.iterations, c->train_loss, st.grad_norm, "");
	if (c->need_valid)
		fl_log(FL_LOG_INFO, "round %llu: validation log-loss %.6f, AUC %.4f",
		       (unsigned long long)c->round, c->valid_log_loss, c->valid_auc);
	return 0;
}

int fl_coord_finish_fedavg(struct fl_fedcoord *c, const double *acc)
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
	fl_coord_add_history(c, "fedavg");
	fl_log(FL_LOG_INFO,
	       "round %llu: fedavg %d of %d, loss %.6f, validation log-loss %.6f, "
	       "AUC %.4f",
	       (unsigned long long)c->round, c->fedavg_round, c->set.fedavg_rounds, c->train_loss,
	       c->valid_log_loss, c->valid_auc);
	return 0;
}
