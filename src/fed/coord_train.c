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
#include "fedlead/spline.h"
#include "fedlead/train.h"

int fl_coord_monotone_check(const struct fl_coord_settings *s, const struct fl_schema *schema)
{
	/* Under differential privacy (newton only) dp_newton_step() keeps
	 * the constraints. */
	if (s->algorithm != FL_FED_NEWTON)
		return fl_spline_monotone_refuse(schema, fl_fed_algo_name(s->algorithm));
	return 0;
}

int fl_coord_solver_bounds(struct fl_fedcoord *c)
{
	struct fl_solver_bounds *b = NULL;
	int r;

	if ((r = fl_spline_bounds(c->schema, &b)) == 0)
		r = fl_solver_constrain(c->solver, b);
	fl_spline_bounds_free(b);
	return r;
}

int fl_coord_start_lambda(struct fl_fedcoord *c, size_t k)
{
	struct fl_solver_bounds *b = NULL;
	int r;
	struct fl_solver_opts so = {
	        .l2 = c->grid[k],
	        .tol = c->set.tolerance * (c->total_rows > 0 ? c->total_rows : 1),
	        .max_iter = c->set.max_iterations,
	};

	c->l2_index = k;
	c->l2 = c->grid[k];
	c->dp_step = 0;
	free(c->dp_B);
	c->dp_B = NULL;
	fl_solver_free(c->solver);
	c->solver = NULL;
	/* The schema of a schema round is known only now. */
	if ((r = fl_coord_monotone_check(&c->set, c->schema)) != 0)
		return r;
	if (c->set.algorithm == FL_FED_FEDAVG || c->set.privacy)
		return 0;
	/* A monotone effect: the solver projects each step onto it, from the
	 * summed gradient and Hessian, as a pooled run does. */
	if ((r = fl_spline_bounds(c->schema, &b)) != 0)
		return r;
	so.bounds = b;
	/* Warm start from the current weights: along the l2 grid the solution
	 * moves little, so Newton needs few rounds for each point. */
	r = fl_solver_new(c->set.algorithm == FL_FED_NEWTON ? FL_SOLVER_NEWTON : FL_SOLVER_LBFGS,
	                  c->d, &so, c->w, &c->solver);
	fl_spline_bounds_free(b);
	return r;
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
	if (c->set.privacy)
		fl_coord_dp_model_weights(c, c->w, m->w);
	else
		memcpy(m->w, c->w, c->d * sizeof(double));
	memcpy(m->scaler->center, c->scaler->center, c->d * sizeof(double));
	memcpy(m->scaler->scale, c->scaler->scale, c->d * sizeof(double));
	memcpy(m->scaler->baseline, c->scaler->baseline, c->d * sizeof(double));
	/* The spline basis sums the noised statistics did not release: their
	 * baselines from the knots round's histogram, in the model only (the
	 * plan's encoding, coord_privacy.c, centres on c->scaler's). */
	if (c->set.privacy && fl_coord_dp_noisy(c))
		fl_coord_knots_baselines(c, m->scaler->baseline);
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
	                     /* As a local model defines it: the objective
	                      * the solver minimised, penalty included. */
	                     .final_loss = c->train_loss * c->total_rows +
	                                   fl_logreg_penalty(c->l2, m->w, c->d),
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
	if ((r = fl_model_set_history(m, c->hist, c->n_hist)) != 0 ||
	    (r = fl_coord_dp_record(c, m)) != 0)
		goto out;
	free(c->model_file);
	c->model_file = NULL;
	if ((r = c->io.seal_model(c->io.ctx, m, &c->model_file, &c->model_len)) != 0)
		goto out;
	fl_log(FL_LOG_NOTICE,
	       "training finished after %llu rounds: l2 %g, %d iterations; "
	       "delivering the model to %zu partners",
	       (unsigned long long)c->round, c->l2, c->iterations, fl_coord_count(c, 0, 1));
	/* The model records each participant's terms (fl_coord_dp_record());
	 * the noise of each release is in the partners' own audit logs. */
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
	c->l2_train_loss[k] = c->train_loss;
	c->l2_grad_norm[k] = st.grad_norm;
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
		/* The training figures too: the last point's would otherwise go
		 * into the model beside the chosen point's weights. */
		c->train_loss = c->l2_train_loss[best];
		c->grad_norm = c->l2_grad_norm[best];
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
 * Differential privacy's fixed plan at one l2: max_iterations evaluations,
 * the first with the Hessian and the others with the gradient only, each
 * followed by a full Newton step with the first's Hessian; then (with
 * validation_split > 0) one evaluation for the validation figures at the
 * weights reached. The first evaluation is at the intercept-only model of
 * the statistics' rate (fl_coord_dp_intercept()): its Hessian, sum c r (1 -
 * r) x x^T, is the curvature near a model that ranks little, where (1/4)
 * sum c x x^T at w = 0 bounds it only (Boehning's bound), 4.4 times too
 * curved for CoIL's 6 % converted. The Hessian is the costliest release
 * (sensitivity R^2 / 4 over d(d+1)/2 values whatever w), so releasing it
 * once leaves the later releases to the gradient alone, which the partners
 * then noise far less. Validation is asked for in the last evaluation
 * only: the partners' noise grows with what each releases.
 */
static int dp_next_task(struct fl_fedcoord *c)
{
	unsigned steps = (unsigned)c->set.max_iterations;
	int valid = c->set.validation_split > 0;

	if (c->dp_step >= steps + (valid ? 1u : 0u))
		return lambda_done(c);
	if (c->dp_step == 0 && c->l2_index == 0) {
		memset(c->w, 0, c->d * sizeof(double));
		c->w[0] = fl_coord_dp_intercept(c);
	}
	memcpy(c->cur_w, c->w, c->d * sizeof(double));
	c->need_hess = c->dp_step == 0;
	c->valid_only = c->dp_step >= steps;
	c->need_valid = c->valid_only;
	c->dp_fresh = 1;
	fl_coord_begin_round(c, T_EVAL);
	return 0;
}

/*
 * The noise in a released Hessian, measured where the schema says the true
 * value is 0: two columns of one categorical feature are never 1 in the
 * same row (one-hot), so every entry between them in sum c x x^T is
 * exactly 0 and what the sum holds there is the partners' noise alone.
 * The plan's encoding centres those columns (x'_j = (x_j - p_j) / k, x'_0 =
 * 1 / k: fl_coord_dp_scaler()), so the entry between levels j and l of the
 * 0/1 encoding is, up to k^2, r = H_jl + p_l H_j0 + p_j H_l0 + p_j p_l H_00
 * of the released H, which carries independent noise of variance s^2 in
 * each of those packed entries: r's is s^2 (1 + p_j^2 + p_l^2 + p_j^2
 * p_l^2). Returns s estimated as the root of sum r^2 / sum of those
 * factors, or -1 when the schema has none, and subtracts r from H_jl (in
 * both triangles): the 0/1 encoding's entry becomes its true value 0.
 */
static double dp_hessian_noise(const struct fl_fedcoord *c, double *H)
{
	double ss = 0, wsum = 0;
	size_t d = c->d;

	for (size_t i = 0; i < c->schema->n_features; i++) {
		const struct fl_feature *f = &c->schema->features[i];

		if (f->type != FL_CATEGORICAL)
			continue;
		for (size_t j = f->enc_offset; j < f->enc_offset + f->enc_width; j++)
			for (size_t l = j + 1; l < f->enc_offset + f->enc_width; l++) {
				double pj = fl_coord_dp_freq(c, j), pl = fl_coord_dp_freq(c, l);
				double r = H[j * d + l] + pl * H[j * d] + pj * H[l * d] +
				           pj * pl * H[0];

				ss += r * r;
				wsum += 1 + pj * pj + pl * pl + pj * pj * pl * pl;
				H[j * d + l] -= r;
				H[l * d + j] = H[j * d + l];
			}
	}
	return wsum == 0 ? -1 : sqrt(ss / wsum);
}

/* The federation's l2 in the plan's encoding: the penalty l2 |w|^2 on the
 * model's standardised weights is (l2 / k^2) |w'|^2 on the plan's. */
static double dp_l2(const struct fl_fedcoord *c)
{
	double *center = malloc(c->d * sizeof(double)), *scale = malloc(c->d * sizeof(double));
	double k = 1;

	if (center != NULL && scale != NULL)
		k = fl_coord_dp_scaler(c, center, scale);
	free(center);
	free(scale);
	return c->l2 / (k * k);
}

/*
 * The plan's Hessian from the noisy sum H (d*d, consumed): the entries the
 * schema knows to be 0 set to 0, the l2 term added (the intercept
 * unpenalised), then projected onto the matrices whose
 * eigenvalues are at least l2 + sqrt(d) s, s the noise measured by
 * dp_hessian_noise(). Noise of that size per entry has a spectral norm
 * near 2 sqrt(d) s; flooring at half of it removes the directions the noise
 * made flat or negative, which a full step would follow far out, and
 * leaves the well-measured ones alone: noisy Newton (Avella-Medina,
 * Bradshaw and Loh 2023) with the Hessian noised once and made positive
 * definite. Post-processing of the released sum only.
 */
static int dp_take_hessian(struct fl_fedcoord *c, double *H)
{
	size_t d = c->d;
	double s = dp_hessian_noise(c, H), l2 = dp_l2(c), floor = l2;
	int r;

	for (size_t j = 1; j < d; j++)
		H[j * d + j] += l2;
	if (s >= 0)
		floor += sqrt((double)d) * s;
	else
		fl_log(FL_LOG_WARN,
		       "round %llu: the schema has no categorical feature of two values or more, "
		       "so the noise in the Hessian cannot be measured; its eigenvalues are "
		       "floored at l2 = %g only",
		       (unsigned long long)c->round, l2);
	if (!(floor > 0))
		floor = 1e-10;
	if ((r = fl_linalg_sym_floor(H, d, floor)) != 0)
		return r == FL_ERR_NUMERIC ? fl_fail(FL_ERR_NUMERIC,
		                                     "round %llu: the summed Hessian is not "
		                                     "finite, no Newton step",
		                                     (unsigned long long)c->round)
		                           : r;
	/* Exactly symmetric, so the checkpoint's triangle restores it bit for
	 * bit. */
	for (size_t i = 0; i < d; i++)
		for (size_t j = i + 1; j < d; j++)
			H[j * d + i] = H[i * d + j];
	fl_log(FL_LOG_INFO,
	       "round %llu: the plan's Hessian: noise %.4g per entry measured on the schema's "
	       "zero entries, eigenvalues floored at %.6g",
	       (unsigned long long)c->round, s, floor);
	free(c->dp_B);
	c->dp_B = H;
	return 0;
}

/*
 * One Newton step from the noisy gradient at cur_w with the plan's
 * Hessian: the objective's gradient (the l2 term added, the intercept
 * unpenalised), and the step taken in full. No line search: it would
 * compare noisy losses and ask for a data-dependent number of evaluations.
 * Everything here is post-processing of released sums.
 *
 * With monotone features the step is the quadratic model's minimum over
 * their constraints, min g'(w - cur_w) + 1/2 (w - cur_w)' B (w - cur_w)
 * with each monotone block's increments u >= 0 (fl_spline_bounds(),
 * fl_solver_qp()): still post-processing of the same B and g, so it costs
 * no privacy and no node sends anything else. The plan's weights are the
 * model's, column for column, times k / cal > 0 (centring moves the
 * intercept only: fl_coord_dp_model_weights()), and the cone u >= 0 is
 * kept by a positive scaling, so plan weights inside it give model
 * weights inside it. Without monotone features fl_solver_qp() is the
 * plain Newton step, in the same arithmetic as before.
 */
static int dp_newton_step(struct fl_fedcoord *c, const double *grad)
{
	struct fl_solver_bounds *b = NULL;
	struct fl_qp_status qs;
	size_t d = c->d;
	double *g = NULL, l2 = dp_l2(c);
	int r = FL_ERR_NOMEM;

	if (c->dp_B == NULL)
		return fl_fail(FL_ERR_INTERNAL, "privacy plan: a Newton step without the Hessian");
	if ((g = malloc(d * sizeof(double))) == NULL)
		goto out;
	for (size_t j = 0; j < d; j++) {
		g[j] = grad[j] + (j >= 1 ? l2 * c->cur_w[j] : 0);
		if (!isfinite(g[j])) {
			r = fl_fail(FL_ERR_NUMERIC, "round %llu: the summed gradient is not finite",
			            (unsigned long long)c->round);
			goto out;
		}
	}
	c->grad_norm = fl_linalg_nrm2(g, d);
	if ((r = fl_spline_bounds(c->schema, &b)) != 0 ||
	    (r = fl_solver_qp(d, b, c->dp_B, g, c->cur_w, c->w, &qs)) != 0)
		goto out;
	if (b != NULL)
		fl_log(qs.converged ? FL_LOG_INFO : FL_LOG_WARN,
		       "round %llu: the Newton step keeps the monotone features: %zu of %zu "
		       "increments held at their bound (%d active-set iterations, KKT residual "
		       "%.3g, tolerance %.3g%s)",
		       (unsigned long long)c->round, qs.n_held, qs.n_bound, qs.iterations, qs.kkt,
		       qs.tol, qs.converged ? "" : "; stopped at the iteration cap");
	r = 0;
out:
	fl_spline_bounds_free(b);
	free(g);
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
		fl_payload_stats_denoise(c->schema, st, fl_coord_dp_noisy(c));
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
		if (H != NULL && (r = dp_take_hessian(c, H)) != 0) {
			free(H);
			return r;
		}
		/* H is the plan's now (or there was none) */
		if ((r = dp_newton_step(c, acc + 1)) != 0)
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
