/*
 * L2-regularised logistic regression: Newton and L-BFGS as ask/tell state
 * machines, a local driver for them, and mini-batch SGD for FedAvg/FedProx.
 *
 * The solvers never see data. They ask for the data-term sums at a point and
 * are told them, so the same code runs on one partner's rows or on sums over
 * all partners collected by the coordinator. The points they ask for depend
 * only on the values told, so every party can replay a run exactly.
 */
#include "fedlead/logreg.h"

#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/splitmix.h"
#include "logreg_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Armijo sufficient-decrease constant. */
#define LS_C1 1e-4
/*
 * Near the optimum the decrease a step promises (about |g|^2 / |H|) falls
 * below the rounding error of the summed loss, and a test on f alone rejects
 * every step although the gradient still shrinks. Then, like Hager and
 * Zhang's "approximate Wolfe" test, we accept a step whose loss is equal up
 * to this relative noise level and whose slope along the direction says the
 * step did not overshoot: phi'(a) <= (1 - 2 c1) |phi'(0)|. On a quadratic
 * this is exactly the Armijo test, computed from gradients, which do not
 * cancel.
 */
#define LS_NOISE 1e-10
/* Default L-BFGS memory. */
#define LBFGS_DEFAULT_M 10
/* Ridge added to a Hessian that is not numerically positive definite:
 * first RIDGE_FIRST times its largest diagonal entry, growing by RIDGE_GROW. */
#define RIDGE_FIRST 1e-10
#define RIDGE_GROW 100.0
#define RIDGE_TRIES 8

const char *fl_solver_name(enum fl_solver_kind k)
{
	switch (k) {
	case FL_SOLVER_NEWTON: return "newton";
	case FL_SOLVER_LBFGS: return "lbfgs";
	case FL_SOLVER_SGD: return "sgd";
	}
	return "unknown";
}

int fl_solver_parse(const char *name, enum fl_solver_kind *k)
{
	static const enum fl_solver_kind kinds[] = {FL_SOLVER_NEWTON, FL_SOLVER_LBFGS,
	                                            FL_SOLVER_SGD};
	int r = -1;

	if (name == NULL)
		goto out;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(name, fl_solver_name(kinds[i])) == 0) {
			*k = kinds[i];
			r = 0;
			goto out;
		}
	}
	fl_fail(FL_ERR_INVALID, "unknown solver \"%s\" (expected newton, lbfgs or sgd)", name);
out:
	return r;
}

void fl_solver_free(struct fl_solver *s)
{
	if (s == NULL)
		return;
	free(s->w);
	free(s->g);
	free(s->p);
	free(s->x);
	free(s->gt);
	free(s->H);
	free(s->F);
	free(s->S);
	free(s->Y);
	free(s->rho);
	free(s->a);
	fl_bounds_free(s);
	free(s);
}

/* Checks the options shared by the solvers; what names the caller. */
static int check_l2(const char *what, double l2)
{
	if (!(isfinite(l2) && l2 >= 0))
		return fl_fail(FL_ERR_INVALID, "%s: l2 must be a finite number >= 0, got %g", what,
		               l2);
	return 0;
}

static int newton_warm_hessian(struct fl_solver *s, const struct fl_solver_opts *o);

static int all_zero(const double *x, size_t d)
{
	for (size_t j = 0; j < d; j++)
		if (x[j] != 0)
			return 0;
	return 1;
}

int fl_solver_new(enum fl_solver_kind kind, size_t d, const struct fl_solver_opts *opts,
                  const double *w0, struct fl_solver **out)
{
	struct fl_solver *s = NULL;
	int r = FL_ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || opts == NULL) {
		r = fl_fail(FL_ERR_INVALID, "solver: missing options or output");
		goto out;
	}
	if (kind != FL_SOLVER_NEWTON && kind != FL_SOLVER_LBFGS) {
		r = fl_fail(FL_ERR_INVALID,
		            "solver: %s is not an ask/tell solver (use newton or lbfgs)",
		            fl_solver_name(kind));
		goto out;
	}
	if (d == 0) {
		r = fl_fail(FL_ERR_INVALID, "solver: the model has no coefficients");
		goto out;
	}
	if ((r = check_l2("solver", opts->l2)) != 0)
		goto out;
	if (!(isfinite(opts->tol) && opts->tol >= 0)) {
		r = fl_fail(FL_ERR_INVALID, "solver: tol must be a finite number >= 0, got %g",
		            opts->tol);
		goto out;
	}
	if (opts->max_iter <= 0) {
		r = fl_fail(FL_ERR_INVALID, "solver: max_iter must be > 0, got %d", opts->max_iter);
		goto out;
	}
	if (opts->bounds != NULL && opts->bounds->n_blocks > 0 && kind != FL_SOLVER_NEWTON) {
		r = fl_fail(FL_ERR_INVALID, "solver: shape constraints need the newton solver");
		goto out;
	}
	if (opts->lbfgs_m < 0 || opts->lbfgs_m > LBFGS_MAX_M) {
		r = fl_fail(FL_ERR_INVALID, "solver: lbfgs_m must be between 0 and %d, got %d",
		            LBFGS_MAX_M, opts->lbfgs_m);
		goto out;
	}

	r = FL_ERR_NOMEM;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	s->kind = kind;
	s->d = d;
	s->l2 = opts->l2;
	s->tol = opts->tol;
	s->max_iter = opts->max_iter;
	s->f = NAN;
	s->gnorm = NAN;
	if ((s->w = fl_matrix_alloc(1, d)) == NULL || (s->g = fl_matrix_alloc(1, d)) == NULL ||
	    (s->p = fl_matrix_alloc(1, d)) == NULL || (s->x = fl_matrix_alloc(1, d)) == NULL ||
	    (s->gt = fl_matrix_alloc(1, d)) == NULL)
		goto out;
	if (kind == FL_SOLVER_NEWTON) {
		/* fl_matrix_alloc checks d*d for overflow. */
		if ((s->H = fl_matrix_alloc(d, d)) == NULL ||
		    (s->F = fl_matrix_alloc(d, d)) == NULL)
			goto out;
	} else {
		s->m = opts->lbfgs_m > 0 ? opts->lbfgs_m : LBFGS_DEFAULT_M;
		if ((s->S = fl_matrix_alloc((size_t)s->m, d)) == NULL ||
		    (s->Y = fl_matrix_alloc((size_t)s->m, d)) == NULL ||
		    (s->rho = fl_matrix_alloc(1, (size_t)s->m)) == NULL ||
		    (s->a = fl_matrix_alloc(1, (size_t)s->m)) == NULL)
			goto out;
	}
	if (w0 != NULL)
		memcpy(s->w, w0, d * sizeof(*w0));
	memcpy(s->x, s->w, d * sizeof(*s->x));
	s->phase = PH_START;
	s->need_hess = kind == FL_SOLVER_NEWTON;
	if ((r = fl_bounds_attach(s, opts->bounds, 1)) != 0)
		goto out;
	if ((r = newton_warm_hessian(s, opts)) != 0)
		goto out;
	s->sample_ok = kind == FL_SOLVER_NEWTON && opts->hess_sample && s->n_blk == 0;
	/* From zero every score is 0 and the first step long. */
	s->sample_now = s->sample_ok && s->need_hess && all_zero(s->x, d);

	*out = s;
	s = NULL;
	r = 0;
out:
	if (r == FL_ERR_NOMEM)
		fl_fail(r, "solver: out of memory for %zu coefficients", d);
	fl_solver_free(s);
	return r;
}

int fl_solver_ask(struct fl_solver *s, const double **w, int *need_hess)
{
	int r = FL_ERR_INTERNAL;

	if (w != NULL)
		*w = NULL;
	if (need_hess != NULL)
		*need_hess = 0;
	if (s == NULL || w == NULL || need_hess == NULL) {
		r = fl_fail(FL_ERR_INVALID, "solver: missing argument to ask");
		goto out;
	}
	switch (s->phase) {
	case PH_DONE: r = FL_SOLVER_DONE; break;
	case PH_FAILED:
		/* Repeat the failure so a caller that only checks ask() sees why. */
		r = fl_fail(s->err, "%s", s->errmsg);
		break;
	case PH_START:
	case PH_TRIAL:
	case PH_HESS:
		*w = s->x;
		*need_hess = s->need_hess && s->sample_now ? FL_SOLVER_HESS_SAMPLED : s->need_hess;
		r = FL_SOLVER_EVAL;
		break;
	}
out:
	return r;
}

/* Enters the failed state with a message that ask() will repeat. */
static int fail_sticky(struct fl_solver *s, int code, const char *msg)
{
	snprintf(s->errmsg, sizeof(s->errmsg), "%s", msg);
	s->err = code;
	s->phase = PH_FAILED;
	return fl_fail(code, "%s", msg);
}

/* Adds the l2 term (intercept w_0 excluded) to the data-term Hessian. */
static void set_hessian(struct fl_solver *s, const double *hess, int sampled)
{
	size_t d = s->d;

	memcpy(s->H, hess, d * d * sizeof(*hess));
	for (size_t j = 1; j < d; j++)
		s->H[j * d + j] += s->l2;
	s->have_hess = 1;
	s->f_ok = 0;
	/* fl_bounds_direction() turns H into the Hessian in u: with shape
	 * constraints it is never reused. */
	s->hess_kept = s->n_blk == 0 && !sampled;
	s->hess_dz = 0;
}

/*
 * Newton direction: solves H p = -g. If H is not numerically positive
 * definite (l2 = 0 with separable data drives s(1-s) to zero, or a column is
 * constant zero), a growing ridge is added; if even that fails the direction
 * falls back to steepest descent. Every choice depends only on H and g. A
 * kept H (a step taken without a new Hessian) is not factored again: its
 * factor from the step before solves for the new g (the same bits).
 */
static int newton_direction(struct fl_solver *s)
{
	size_t d = s->d;
	double maxdiag = 1.0, ridge;

	if (s->f_ok) {
		for (size_t j = 0; j < d; j++)
			s->p[j] = -s->g[j];
		if (fl_linalg_spd_solve_factored(s->F, d, s->p) == 0)
			return 1;
	}
	for (size_t j = 0; j < d; j++)
		if (s->H[j * d + j] > maxdiag)
			maxdiag = s->H[j * d + j];
	ridge = 0;
	for (int t = 0; t <= RIDGE_TRIES; t++) {
		memcpy(s->F, s->H, d * d * sizeof(*s->F));
		for (size_t j = 0; j < d; j++) {
			s->F[j * d + j] += ridge;
			s->p[j] = -s->g[j];
		}
		if (fl_linalg_spd_solve(s->F, d, s->p) == 0) {
			s->f_ok = ridge == 0;
			return 1;
		}
		ridge = ridge == 0 ? RIDGE_FIRST * maxdiag : ridge * RIDGE_GROW;
	}
	s->f_ok = 0;
	for (size_t j = 0; j < d; j++)
		s->p[j] = -s->g[j];
	return 0;
}

/*
 * Whether the Newton step p from w is too small to matter: it changes the
 * objective by about -g.p / 2 (exactly so on the quadratic model whose
 * minimum it is) and the weights by ||p||. Once the objective would move by
 * at most NEWTON_F_REL of itself (the mean log-loss's last digits a user
 * could ever see) and the weights by at most NEWTON_W_REL of their norm
 * (the precision a federation compares models to), taking it only spends a
 * pass over every partner's rows. Both must hold: the later of the two
 * decides. The test uses only g, p, f and w, so a federated run stops
 * where the pooled one does. The step is still added to the weights, without
 * evaluating it (see next_step()).
 */
#define NEWTON_F_REL 1e-12
#define NEWTON_W_REL 1e-9
static int newton_step_negligible(const struct fl_solver *s)
{
	size_t d = s->d;
	double df = 0.5 * fabs(fl_linalg_dot(s->g, s->p, d));

	return df <= NEWTON_F_REL * fabs(s->f) &&
	       fl_linalg_nrm2(s->p, d) <= NEWTON_W_REL * fl_linalg_nrm2(s->w, d);
}

/* The same test for the projected step to P(u + p), set as ut and x. */
static int bounded_step_negligible(const struct fl_solver *s)
{
	size_t d = s->d;
	double df = 0.5 * fabs(fl_bounds_decrease(s, 1.0)), dw = 0;

	for (size_t j = 0; j < d; j++)
		dw += (s->x[j] - s->w[j]) * (s->x[j] - s->w[j]);
	return df <= NEWTON_F_REL * fabs(s->f) &&
	       sqrt(dw) <= NEWTON_W_REL * fl_linalg_nrm2(s->w, d);
}

/*
 * Reusing the Hessian. The Hessian of the data term is sum_i h(z_i) x_i x_i^T
 * with h = s(1 - s), and |h'(z)| <= h(z): when a step moves every score
 * z_i = x_i . w by at most dz, each h_i changes by a factor within e^(+-dz),
 * and so does the Hessian (in the order of its quadratic forms). Newton's
 * last steps are that small (on 1M leads the last two move the scores by
 * 4e-4 and 1e-7), and a pass that builds the Hessian costs about four that
 * do not (bench/README.md). So after such a step the next point is asked
 * for without the Hessian, and its direction is solved with the one kept:
 * a step with a Hessian off by a factor 1 + dz leaves dz of the error,
 * while the test that ends the run (newton_step_negligible()) is the same.
 * Once the steps since the Hessian was told add up to more than
 * NEWTON_REUSE_DZ, the next point is asked for with it, as always.
 *
 * How far a step p moves the scores is measured by what the solver knows:
 * p'Hp = sum_i h_i (x_i . p)^2 and H_00 = sum_i h_i (the intercept's column
 * is all ones), so sqrt(p'Hp / H_00) is the h-weighted root mean square of
 * the score changes; for the Newton step p'Hp = -g.p. It is a mean, not a
 * bound on every lead, which is why NEWTON_REUSE_DZ is small: the rows
 * where h matters most weigh the most in it. Every choice depends only on
 * told values, so a federation reuses the Hessian where a pooled run does
 * (and asks its partners for a gradient only), and the kept Hessian is
 * part of the checkpoint.
 */
#define NEWTON_REUSE_DZ 1e-3

/* The h-weighted RMS score change of the Newton step p (-g.p = p'Hp), or
 * 0 when there is no Hessian to measure it with. */
static double newton_step_dz(const struct fl_solver *s, double gp)
{
	double h00 = s->H[0];

	return h00 > 0 && isfinite(gp) ? sqrt(fabs(gp) / h00) : 0;
}

/*
 * Predicting the last pass. Near the optimum the gradient left after a
 * step is predicted from the same distances: a Newton step with the Hessian
 * of w that moves the scores by dz leaves about |g| dz (quadratic
 * convergence: h changes by a factor 1 + O(dz) along the step), and a step
 * solved with a Hessian told D away leaves about |g| D more (the Hessian is
 * off by a factor 1 + O(D)). When the gradient at the full step's point is
 * predicted within the tolerance, the run will stop there, and the Hessian
 * the solver used to ask for there would go unused: the point is asked for
 * without it. NEWTON_PRED_QUAD and NEWTON_PRED_KEPT are above what the
 * bank-marketing leads show (1.8 and 3.2); leads with rare categories
 * (CoIL 2000) converge more slowly (up to 12 for a fresh Hessian), and
 * then the prediction can be wrong: the gradient there is above the
 * tolerance, the kept Hessian is too far to serve (newton_can_keep()), and
 * the same point is asked for again with it (PH_HESS). That costs one pass
 * without the Hessian, and from there the run is the one it always was. A
 * right prediction ends the run where it always ended, at the same point,
 * without a step added; so the weights are those of a run that asks for
 * every Hessian, bit for bit, either way (a pass gives the same loss and
 * gradient with or without the Hessian). At the default tolerance the
 * gradient is never that close after a step long enough to need a Hessian
 * (bench/README.md, "The l2 search"); with tol = 0 nothing is predicted.
 */
#define NEWTON_PRED_QUAD 2.0
#define NEWTON_PRED_KEPT 4.0

/*
 * Sampled Hessians. Far from the optimum a Newton step's length comes from
 * the model being wrong, not from the Hessian's last digits: a Hessian off
 * by a relative e leaves about e of the gradient (as a kept one does,
 * above), while a step that moves the scores by dz leaves a fraction of
 * order dz (0.35 after the first steps on 1M leads, bench/README.md). So
 * where the caller can (fl_solver_opts.hess_sample: many rows, a Hessian
 * from one block of rows in eight, e about 1 %), the start from zero and
 * the point a step longer than NEWTON_SAMPLE_DZ reaches are asked for
 * with a sampled Hessian; closer in, where Newton converges quadratically,
 * with the exact one. The gradient is always exact, so the optimum and
 * the test that ends the run are unchanged; only the early steps' route
 * to it differs. A sampled Hessian is never kept (reused at another
 * point, handed to a warm start) and never decides the last, negligible
 * step alone: that needs a step shorter than 1e-9 of the weights, which
 * follows a step far shorter than NEWTON_SAMPLE_DZ. A driver whose sample
 * does not represent the rows gives the exact Hessian and says so
 * (FL_SOLVER_HESS_EXACT): the run is then the exact run (fl_solver_run()).
 */
#define NEWTON_SAMPLE_DZ 0.1

/* Whether the kept Hessian serves at w. */
static int newton_can_keep(const struct fl_solver *s)
{
	return s->hess_kept && s->n_blk == 0 && s->hess_dz <= NEWTON_REUSE_DZ;
}

/* Whether the point at alpha along the current direction can be asked for
 * without the Hessian: the kept one is close enough to it, or (for the
 * full step) the run is predicted to stop there. */
static int newton_can_reuse(const struct fl_solver *s, double alpha)
{
	if (!s->hess_kept || s->n_blk != 0 || !(s->step_dz > 0))
		return 0;
	if (s->hess_dz + alpha * s->step_dz <= NEWTON_REUSE_DZ)
		return 1;
	return alpha == 1.0 &&
	       s->gnorm * (NEWTON_PRED_QUAD * s->step_dz + NEWTON_PRED_KEPT * s->hess_dz) <= s->tol;
}

/*
 * A warm start's Hessian (fl_solver_opts.hess0): the data term's Hessian a
 * run along a path of penalties ended with, at most NEWTON_REUSE_DZ from
 * w0 (else it is not used). It is kept as a Hessian told then, with the
 * new l2, so w0 is asked for without one and its step solved with it.
 */
static int newton_warm_hessian(struct fl_solver *s, const struct fl_solver_opts *o)
{
	size_t d = s->d;

	if (o->hess0 == NULL || s->kind != FL_SOLVER_NEWTON || s->n_blk > 0 ||
	    !(o->hess0_dz >= 0 && o->hess0_dz <= NEWTON_REUSE_DZ))
		return 0;
	for (size_t i = 0; i < d * d; i++)
		if (!isfinite(o->hess0[i]))
			return fl_fail(FL_ERR_INVALID,
			               "solver: non-finite entry (%zu, %zu) (%g) in the warm "
			               "start's Hessian",
			               i / d, i % d, o->hess0[i]);
	set_hessian(s, o->hess0, 0);
	s->have_hess = 0;
	s->hess_dz = o->hess0_dz;
	s->need_hess = 0;
	return 0;
}

/*
 * L-BFGS direction by the two-loop recursion: p = -H_k g with the inverse
 * Hessian approximation built from the stored pairs, scaled initially by
 * gamma = s'y / y'y of the newest pair.
 */
static void lbfgs_direction(struct fl_solver *s)
{
	size_t d = s->d;
	int idx;

	for (size_t j = 0; j < d; j++)
		s->p[j] = -s->g[j];
	if (s->count == 0)
		return;
	for (int k = 0; k < s->count; k++) {
		idx = (s->head - 1 - k + s->m) % s->m;
		s->a[idx] = s->rho[idx] * fl_linalg_dot(s->S + (size_t)idx * d, s->p, d);
		fl_linalg_axpy(-s->a[idx], s->Y + (size_t)idx * d, s->p, d);
	}
	idx = (s->head - 1 + s->m) % s->m;
	{
		const double *yn = s->Y + (size_t)idx * d;
		double gamma = 1.0 / (s->rho[idx] * fl_linalg_dot(yn, yn, d));

		for (size_t j = 0; j < d; j++)
			s->p[j] *= gamma;
	}
	for (int k = s->count - 1; k >= 0; k--) {
		double b;

		idx = (s->head - 1 - k + s->m) % s->m;
		b = s->rho[idx] * fl_linalg_dot(s->Y + (size_t)idx * d, s->p, d);
		fl_linalg_axpy(s->a[idx] - b, s->S + (size_t)idx * d, s->p, d);
	}
}

/* Remembers the step from w to x (gradient gt there) if its curvature is
 * safely positive, which keeps the L-BFGS matrix positive definite. */
static void lbfgs_remember(struct fl_solver *s)
{
	size_t d = s->d;
	double *sv = s->S + (size_t)s->head * d, *yv = s->Y + (size_t)s->head * d;
	double sy = 0, ss = 0, yy = 0;

	/* Check the curvature before storing: when the history is full, the
	 * slot at head still holds the oldest pair, which a rejected pair must
	 * not overwrite. */
	for (size_t j = 0; j < d; j++) {
		double a = s->x[j] - s->w[j], b = s->gt[j] - s->g[j];

		sy += a * b;
		ss += a * a;
		yy += b * b;
	}
	if (!(sy > 1e-10 * sqrt(ss) * sqrt(yy)))
		return;
	for (size_t j = 0; j < d; j++) {
		sv[j] = s->x[j] - s->w[j];
		yv[j] = s->gt[j] - s->g[j];
	}
	s->rho[s->head] = 1.0 / sy;
	s->head = (s->head + 1) % s->m;
	if (s->count < s->m)
		s->count++;
}

/* Sets the point to ask for: w + alpha p, or with shape constraints the
 * weights of P(u + alpha p). */
static void set_trial(struct fl_solver *s)
{
	if (s->n_blk > 0)
		fl_bounds_point(s, s->alpha, s->x);
	else
		for (size_t j = 0; j < s->d; j++)
			s->x[j] = s->w[j] + s->alpha * s->p[j];
	s->phase = PH_TRIAL;
}

/* At a freshly accepted point: stop, or choose the next direction and trial. */
static void next_step(struct fl_solver *s)
{
	size_t d = s->d;

	if (s->n_blk > 0)
		fl_bounds_refresh(s);
	s->gnorm = s->n_blk > 0 ? fl_bounds_pgnorm(s) : fl_linalg_nrm2(s->g, d);
	if (s->gnorm <= s->tol) {
		/* At a point asked for without the Hessian, the kept one still
		 * gives the Newton step: taken as the negligible step below is,
		 * without a pass, it leaves the weights as close to the optimum
		 * as a fresh Hessian's last pass would. */
		if (s->kind == FL_SOLVER_NEWTON && !s->have_hess && newton_can_keep(s) &&
		    newton_direction(s)) {
			for (size_t j = 0; j < d; j++)
				s->w[j] += s->p[j];
			/* How far the kept Hessian is from the solution, for a
			 * warm start (fl_solver_driver.keep). */
			s->hess_dz += newton_step_dz(s, fl_linalg_dot(s->g, s->p, d));
		}
		s->converged = 1;
		s->phase = PH_DONE;
		return;
	}
	if (s->iterations >= s->max_iter) {
		s->phase = PH_DONE;
		return;
	}
	if (s->kind == FL_SOLVER_NEWTON && !s->have_hess && !newton_can_keep(s)) {
		/* The step was accepted after halving, at a trial that was
		 * evaluated without the Hessian, and the kept one is too far
		 * from w (or there is none): ask for it at w. */
		memcpy(s->x, s->w, d * sizeof(*s->x));
		s->need_hess = 1;
		s->phase = PH_HESS;
		return;
	}
	if (s->kind == FL_SOLVER_NEWTON && s->n_blk > 0) {
		if (fl_bounds_direction(s)) {
			fl_bounds_point(s, 1.0, s->x);
			if (bounded_step_negligible(s)) {
				/* As below, projected onto the bounds. */
				memcpy(s->w, s->x, d * sizeof(*s->w));
				s->converged = 1;
				s->phase = PH_DONE;
				return;
			}
		}
		s->alpha = 1.0;
	} else if (s->kind == FL_SOLVER_NEWTON) {
		int newton = newton_direction(s);

		s->step_dz = newton ? newton_step_dz(s, fl_linalg_dot(s->g, s->p, d)) : 0;
		if (newton && newton_step_negligible(s)) {
			/* The step is taken without a pass to check it: at
			 * this size it is far inside the region where the full
			 * Newton step is always accepted, and it makes the
			 * weights quadratically closer to the optimum for free.
			 * The objective and gradient norm reported stay those
			 * of the point before it (the objective is the same
			 * to 1e-12 of itself). */
			for (size_t j = 0; j < d; j++)
				s->w[j] += s->p[j];
			s->hess_dz += s->step_dz;
			s->converged = 1;
			s->phase = PH_DONE;
			return;
		}
		s->alpha = 1.0;
	} else {
		lbfgs_direction(s);
		s->alpha = s->count > 0 ? 1.0 : 1.0 / s->gnorm;
	}
	/* 1/|g| overflows only for a subnormal gradient (tol = 0). */
	if (!isfinite(s->alpha))
		s->alpha = 1.0;
	s->dphi0 = s->n_blk > 0 ? fl_bounds_slope(s) : fl_linalg_dot(s->g, s->p, d);
	if (!(s->dphi0 < 0)) {
		/* Not a descent direction (only possible through rounding):
		 * start over from steepest descent. */
		if (s->n_blk > 0) {
			fl_bounds_steepest(s);
			s->dphi0 = fl_bounds_slope(s);
		} else {
			for (size_t j = 0; j < d; j++)
				s->p[j] = -s->g[j];
			s->dphi0 = -s->gnorm * s->gnorm;
		}
		s->step_dz = 0;
		s->alpha = isfinite(1.0 / s->gnorm) ? 1.0 / s->gnorm : 1.0;
		s->count = 0;
		s->head = 0;
	}
	s->halvings = 0;
	/* Newton asks for the Hessian only at the full step, which is almost
	 * always accepted; a shorter accepted step costs one re-evaluation
	 * (PH_HESS) instead of a Hessian at every rejected trial, unless the
	 * kept Hessian serves there. A step too small to change the Hessian
	 * asks for none. */
	s->need_hess = s->kind == FL_SOLVER_NEWTON && !newton_can_reuse(s, s->alpha);
	s->sample_now = s->need_hess && s->sample_ok && s->step_dz > NEWTON_SAMPLE_DZ;
	set_trial(s);
}

/* Checks told values; returns 0 or a sticky FL_ERR_NUMERIC naming the value. */
static int check_finite(struct fl_solver *s, double loss, const double *grad, const double *hess)
{
	char msg[200];
	size_t d = s->d;
	int ev = s->evaluations + 1;

	if (!isfinite(loss)) {
		snprintf(msg, sizeof(msg),
		         "non-finite loss (%g) told to the solver at evaluation %d", loss, ev);
		return fail_sticky(s, FL_ERR_NUMERIC, msg);
	}
	for (size_t j = 0; j < d; j++) {
		if (!isfinite(grad[j])) {
			snprintf(msg, sizeof(msg),
			         "non-finite gradient component %zu (%g) told to the solver at "
			         "evaluation %d",
			         j, grad[j], ev);
			return fail_sticky(s, FL_ERR_NUMERIC, msg);
		}
	}
	if (hess == NULL)
		return 0;
	for (size_t i = 0; i < d * d; i++) {
		if (!isfinite(hess[i])) {
			snprintf(msg, sizeof(msg),
			         "non-finite Hessian entry (%zu, %zu) (%g) told to the solver at "
			         "evaluation %d",
			         i / d, i % d, hess[i], ev);
			return fail_sticky(s, FL_ERR_NUMERIC, msg);
		}
	}
	return 0;
}

int fl_solver_tell(struct fl_solver *s, double loss, const double *grad, const double *hess)
{
	size_t d;
	double ft, reg = 0;
	int r = FL_ERR_INTERNAL, accept, sampled;

	if (s == NULL || grad == NULL) {
		r = fl_fail(FL_ERR_INVALID, "solver: missing argument to tell");
		goto out;
	}
	d = s->d;
	if (s->phase == PH_DONE || s->phase == PH_FAILED) {
		r = fl_fail(FL_ERR_INVALID, "solver: told values but no evaluation is pending");
		goto out;
	}
	if (s->need_hess && hess == NULL) {
		r = fl_fail(FL_ERR_INVALID, "solver: asked for the Hessian but was told none");
		goto out;
	}
	if (!s->need_hess)
		hess = NULL;
	if ((r = check_finite(s, loss, grad, hess)) != 0)
		goto out;
	s->evaluations++;
	sampled = s->sample_now;
	s->sample_now = 0;

	/* Objective and gradient of f at x: data term plus l2 on w_1.. only. */
	for (size_t j = 0; j < d; j++) {
		double pen = j > 0 ? s->l2 * s->x[j] : 0;

		reg += 0.5 * pen * s->x[j];
		s->gt[j] = grad[j] + pen;
	}
	ft = loss + reg;

	switch (s->phase) {
	case PH_START:
	case PH_HESS:
		/* The point is w itself (for PH_HESS, already accepted). */
		s->f = ft;
		memcpy(s->g, s->gt, d * sizeof(*s->g));
		if (hess != NULL)
			set_hessian(s, hess, sampled);
		next_step(s);
		break;
	case PH_TRIAL:
		if (s->n_blk > 0) {
			/* Along the projected arc (Bertsekas's Armijo rule);
			 * recomputed from w, g and p, which a checkpoint keeps. */
			double dec, dphi = 0;

			fl_bounds_refresh(s);
			fl_bounds_point(s, s->alpha, NULL);
			dec = fl_bounds_decrease(s, s->alpha);
			accept = ft <= s->f - LS_C1 * dec;
			for (size_t j = 0; j < d; j++)
				dphi += s->gt[j] * (s->x[j] - s->w[j]);
			if (!accept && fabs(ft - s->f) <= LS_NOISE * fabs(s->f))
				accept = dphi <= (1 - 2 * LS_C1) * dec;
		} else {
			accept = ft <= s->f + LS_C1 * s->alpha * s->dphi0;
			if (!accept && fabs(ft - s->f) <= LS_NOISE * fabs(s->f)) {
				double dphi = fl_linalg_dot(s->gt, s->p, d);

				accept = dphi <= (1 - 2 * LS_C1) * -s->dphi0;
			}
		}
		if (!accept) {
			if (++s->halvings > LS_MAX_HALVINGS) {
				/* No decrease along a descent direction even
				 * for a tiny step: the told values are at
				 * their noise floor. Keep the best point. */
				s->phase = PH_DONE;
				break;
			}
			s->alpha *= 0.5;
			s->need_hess = 0;
			set_trial(s);
			break;
		}
		if (s->kind == FL_SOLVER_LBFGS)
			lbfgs_remember(s);
		memcpy(s->w, s->x, d * sizeof(*s->w));
		memcpy(s->g, s->gt, d * sizeof(*s->g));
		s->f = ft;
		s->iterations++;
		s->have_hess = 0;
		/* The kept Hessian is now this step further from w; after a
		 * step that was not measured (not a Newton step) it is not
		 * kept. */
		if (s->step_dz > 0) {
			s->hess_dz += s->alpha * s->step_dz;
		} else {
			s->hess_kept = 0;
			s->hess_dz = 0;
		}
		if (hess != NULL)
			set_hessian(s, hess, sampled);
		next_step(s);
		break;
	case PH_DONE:
	case PH_FAILED: break;
	}
	r = 0;
out:
	return r;
}

const double *fl_solver_weights(const struct fl_solver *s)
{
	return s->w;
}

void fl_solver_get_status(const struct fl_solver *s, struct fl_solver_status *st)
{
	st->iterations = s->iterations;
	st->evaluations = s->evaluations;
	st->objective = s->f;
	st->grad_norm = s->gnorm;
	st->converged = s->converged;
}

/* Checks a data set; what names the caller. */
static int check_data(const char *what, const struct fl_logreg_data *data)
{
	if (data == NULL)
		return fl_fail(FL_ERR_INVALID, "%s: no data", what);
	if (data->d == 0)
		return fl_fail(FL_ERR_INVALID, "%s: the data have no columns", what);
	if (data->n > 0 && (data->X == NULL || data->y == NULL))
		return fl_fail(FL_ERR_INVALID, "%s: %zu rows but no matrix or labels", what,
		               data->n);
	return 0;
}

int fl_solver_run(enum fl_solver_kind kind, size_t d, const struct fl_solver_opts *opts,
                  const struct fl_solver_driver *drv, double *w, struct fl_solver_status *st)
{
	struct fl_solver *s = NULL;
	struct fl_solver_status now;
	double *grad = NULL, *hess = NULL;
	const double *x;
	int r = FL_ERR_INTERNAL, need_hess;

	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if (w == NULL) {
		r = fl_fail(FL_ERR_INVALID, "train: no vector for the solution");
		goto out;
	}
	if ((r = fl_solver_new(kind, d, opts, w, &s)) != 0)
		goto out;
	if ((grad = fl_matrix_alloc(1, d)) == NULL ||
	    (kind == FL_SOLVER_NEWTON && (hess = fl_matrix_alloc(d, d)) == NULL)) {
		r = fl_fail(FL_ERR_NOMEM, "train: out of memory for %zu coefficients", d);
		goto out;
	}
	while ((r = fl_solver_ask(s, &x, &need_hess)) == FL_SOLVER_EVAL) {
		double loss;

		int (*eval)(void *, const double *, double *, double *, double *) =
		        need_hess == FL_SOLVER_HESS_SAMPLED && drv->eval_sampled != NULL
		                ? drv->eval_sampled
		                : drv->eval;

		r = eval(drv->arg, x, &loss, grad, need_hess ? hess : NULL);
		if (r == FL_SOLVER_HESS_EXACT && eval == drv->eval_sampled) {
			/* A sample does not serve these rows: exact Hessians
			 * from here on, this one kept as any exact one. */
			s->sample_ok = s->sample_now = 0;
			r = 0;
		}
		if (r != 0 || (r = fl_solver_tell(s, loss, grad, need_hess ? hess : NULL)) != 0)
			goto out;
		if (drv->progress != NULL) {
			fl_solver_get_status(s, &now);
			drv->progress(drv->arg, &now);
		}
	}
	if (r != FL_SOLVER_DONE)
		goto out;
	memcpy(w, fl_solver_weights(s), d * sizeof(*w));
	if (drv->keep != NULL && drv->keep_dz != NULL) {
		*drv->keep_dz = INFINITY;
		if (s->kind == FL_SOLVER_NEWTON && s->hess_kept) {
			/* The data term's: without the l2 that set_hessian()
			 * added. */
			memcpy(drv->keep, s->H, d * d * sizeof(*s->H));
			for (size_t j = 1; j < d; j++)
				drv->keep[j * d + j] -= s->l2;
			*drv->keep_dz = s->hess_dz;
		}
	}
	r = 0;
out:
	if (s != NULL && st != NULL)
		fl_solver_get_status(s, st);
	free(grad);
	free(hess);
	fl_solver_free(s);
	return r;
}

/* The data-term sums over rows in memory, for fl_solver_run(). */
static int eval_rows(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	const struct fl_logreg_data *data = arg;

	fl_linalg_logistic(data->X, data->n, data->d, data->y, data->c, w, loss, grad, hess);
	return 0;
}

/* fl_logreg_train_watch()'s driver argument: the rows and the watcher. */
struct watched {
	const struct fl_logreg_data *data;
	void (*watch)(void *arg, const struct fl_solver_status *st);
	void *arg;
};

static int eval_watched(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	return eval_rows((void *)((struct watched *)arg)->data, w, loss, grad, hess);
}

static void progress_watched(void *arg, const struct fl_solver_status *st)
{
	struct watched *wd = arg;

	wd->watch(wd->arg, st);
}

int fl_logreg_train(const struct fl_logreg_data *data, enum fl_solver_kind kind,
                    const struct fl_solver_opts *opts, double *w, struct fl_solver_status *st)
{
	return fl_logreg_train_watch(data, kind, opts, w, st, NULL, NULL);
}

int fl_logreg_train_watch(const struct fl_logreg_data *data, enum fl_solver_kind kind,
                          const struct fl_solver_opts *opts, double *w, struct fl_solver_status *st,
                          void (*watch)(void *arg, const struct fl_solver_status *st), void *arg)
{
	struct watched wd = {data, watch, arg};
	struct fl_solver_driver drv = {.eval = eval_watched,
	                               .progress = watch != NULL ? progress_watched : NULL,
	                               .arg = &wd};
	int r;

	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if ((r = check_data("train", data)) != 0)
		return r;
	/* Says "train" also when the solver's own memory ran out, as it
	 * always has for rows in memory. */
	if ((r = fl_solver_run(kind, data->d, opts, &drv, w, st)) == FL_ERR_NOMEM)
		fl_fail(r, "train: out of memory for %zu coefficients", data->d);
	return r;
}

/* Uniform in [0, bound) without modulo bias, by rejecting the short tail. */
static uint64_t uniform_below(uint64_t *state, uint64_t bound)
{
	uint64_t threshold = (0 - bound) % bound, v;

	do
		v = fl_splitmix64(state);
	while (v < threshold);
	return v % bound;
}

/*
 * Mini-batch SGD on the same objective as the full-batch solvers, plus the
 * optional FedProx term:
 *
 *   f(w) = sum_i c_i l_i(w) + (l2/2) sum_{j>=1} w_j^2 + (mu/2) ||w - a||^2.
 *
 * It works on the mean scale f/n so that learning rates of 0.1-1 suit any n.
 * Step t (counting mini-batches from 0 over all epochs) on batch B does
 *
 *   eta   = lr / (1 + t * decay)
 *   g_B   = (1/|B|) sum_{i in B} c_i (sigmoid(x_i . w) - y_i) x_i
 *   w_j  <- (w_j - eta g_B,j + eta (mu/n) a_j) / (1 + eta (l2 m_j + mu) / n)
 *
 * with m_0 = 0 (intercept unpenalised) and m_j = 1 otherwise. g_B estimates
 * the data-term gradient of f/n without bias; the quadratic terms are taken
 * implicitly (a proximal step), which is stable for any mu, so a huge mu
 * simply pins w to the anchor. A fixed point of the update is a stationary
 * point of f. Rows are reshuffled every epoch (Fisher-Yates, seeded) and
 * gathered into a contiguous block for fl_linalg_logistic.
 */
int fl_logreg_sgd(const struct fl_logreg_data *data, const struct fl_sgd_opts *opts, double *w)
{
	size_t *perm = NULL;
	double *Xb = NULL, *yb = NULL, *cb = NULL, *grad = NULL, *wk = NULL;
	uint64_t rng;
	size_t n, d, batch;
	double t = 0, mu, inv_n;
	int r = FL_ERR_INTERNAL;

	if ((r = check_data("sgd", data)) != 0)
		goto out;
	if (opts == NULL || w == NULL) {
		r = fl_fail(FL_ERR_INVALID, "sgd: missing options or weights");
		goto out;
	}
	if ((r = check_l2("sgd", opts->l2)) != 0)
		goto out;
	r = FL_ERR_INVALID;
	if (opts->epochs <= 0) {
		fl_fail(r, "sgd: epochs must be > 0, got %d", opts->epochs);
		goto out;
	}
	if (opts->batch == 0) {
		fl_fail(r, "sgd: the batch size must be > 0");
		goto out;
	}
	if (!(isfinite(opts->lr) && opts->lr > 0)) {
		fl_fail(r, "sgd: the learning rate must be a finite number > 0, got %g", opts->lr);
		goto out;
	}
	if (!(isfinite(opts->decay) && opts->decay >= 0)) {
		fl_fail(r, "sgd: decay must be a finite number >= 0, got %g", opts->decay);
		goto out;
	}
	if (!(isfinite(opts->prox_mu) && opts->prox_mu >= 0)) {
		fl_fail(r, "sgd: prox_mu must be a finite number >= 0, got %g", opts->prox_mu);
		goto out;
	}
	if (opts->prox_mu > 0 && opts->anchor == NULL) {
		fl_fail(r, "sgd: prox_mu is %g but no anchor was given", opts->prox_mu);
		goto out;
	}
	n = data->n;
	d = data->d;
	r = 0;
	if (n == 0)
		goto out;
	batch = opts->batch < n ? opts->batch : n;
	mu = opts->prox_mu;
	inv_n = 1.0 / (double)n;

	r = FL_ERR_NOMEM;
	if (n > SIZE_MAX / sizeof(*perm) || (perm = malloc(n * sizeof(*perm))) == NULL ||
	    (Xb = fl_matrix_alloc(batch, d)) == NULL || (yb = fl_matrix_alloc(1, batch)) == NULL ||
	    (grad = fl_matrix_alloc(1, d)) == NULL || (wk = fl_matrix_alloc(1, d)) == NULL) {
		fl_fail(r, "sgd: out of memory for a batch of %zu rows of %zu columns", batch, d);
		goto out;
	}
	if (data->c != NULL && (cb = fl_matrix_alloc(1, batch)) == NULL) {
		fl_fail(r, "sgd: out of memory for a batch of %zu rows of %zu columns", batch, d);
		goto out;
	}
	/* Work on a copy: w changes only if the whole run succeeds. */
	memcpy(wk, w, d * sizeof(*w));
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	rng = opts->seed;

	for (int epoch = 0; epoch < opts->epochs; epoch++) {
		for (size_t i = n - 1; i > 0; i--) {
			size_t k = (size_t)uniform_below(&rng, (uint64_t)i + 1), tmp = perm[i];

			perm[i] = perm[k];
			perm[k] = tmp;
		}
		for (size_t start = 0; start < n; start += batch, t += 1) {
			size_t rows = n - start < batch ? n - start : batch;
			double eta = opts->lr / (1 + t * opts->decay), loss;

			for (size_t i = 0; i < rows; i++) {
				size_t src = perm[start + i];

				memcpy(Xb + i * d, data->X + src * d, d * sizeof(*Xb));
				yb[i] = data->y[src];
				if (cb != NULL)
					cb[i] = data->c[src];
			}
			fl_linalg_logistic(Xb, rows, d, yb, cb, wk, &loss, grad, NULL);
			for (size_t j = 0; j < d; j++) {
				double v = wk[j] - eta * grad[j] / (double)rows;
				double pen = (j > 0 ? opts->l2 : 0) + mu;

				if (mu > 0)
					v += eta * mu * inv_n * opts->anchor[j];
				wk[j] = v / (1 + eta * pen * inv_n);
			}
		}
		for (size_t j = 0; j < d; j++) {
			if (!isfinite(wk[j])) {
				r = fl_fail(FL_ERR_NUMERIC,
				            "sgd: weights became non-finite in epoch %d "
				            "(learning rate %g too large?)",
				            epoch + 1, opts->lr);
				goto out;
			}
		}
	}
	memcpy(w, wk, d * sizeof(*w));
	r = 0;
out:
	free(perm);
	free(Xb);
	free(yb);
	free(cb);
	free(grad);
	free(wk);
	return r;
}

double fl_logreg_objective(const struct fl_logreg_data *data, double l2, const double *w)
{
	double z[256], sum = 0;
	size_t n = data->n, d = data->d;

	/* Loss in the same stable form as fl_linalg_logistic, but without
	 * the gradient, so no scratch beyond the stack is needed. */
	for (size_t start = 0; start < n; start += 256) {
		size_t rows = n - start < 256 ? n - start : 256;

		fl_linalg_gemv(data->X + start * d, rows, d, w, z);
		for (size_t i = 0; i < rows; i++) {
			double zi = z[i], yi = data->y[start + i];
			double ci = data->c != NULL ? data->c[start + i] : 1.0;

			sum += ci * ((zi > 0 ? zi : 0) - yi * zi + log1p(exp(-fabs(zi))));
		}
	}
	return sum + fl_logreg_penalty(l2, w, d);
}

double fl_logreg_penalty(double l2, const double *w, size_t d)
{
	double sum = 0;

	for (size_t j = 1; j < d; j++)
		sum += 0.5 * l2 * w[j] * w[j];
	return sum;
}
