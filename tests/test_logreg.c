/*
 * The solvers against optima known in closed form, against each other, and
 * against an independent naive evaluation of the objective written here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/logreg.h"
#include "support/gauss.h"

/* ---- independent helpers ------------------------------------------------ */

static uint64_t lcg_state;

static double lcg_uniform(void)
{
	lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
	return (double)(lcg_state >> 11) * 0x1.0p-53;
}

static double lcg_normal(void)
{
	double u1 = lcg_uniform(), u2 = lcg_uniform();

	return sqrt(-2 * log(1 - u1)) * cos(2 * 3.14159265358979323846 * u2);
}

/* Data-term loss, gradient and (if hess) Hessian, one row and one entry at a
 * time by the textbook formulas. */
static void naive_eval(const struct fl_logreg_data *D, const double *w, double *loss, double *grad,
                       double *hess)
{
	size_t d = D->d;

	*loss = 0;
	for (size_t j = 0; j < d; j++)
		grad[j] = 0;
	if (hess != NULL)
		for (size_t j = 0; j < d * d; j++)
			hess[j] = 0;
	for (size_t i = 0; i < D->n; i++) {
		const double *x = D->X + i * d;
		double z = 0, s, c = D->c != NULL ? D->c[i] : 1.0;

		for (size_t j = 0; j < d; j++)
			z += x[j] * w[j];
		s = 1 / (1 + exp(-z));
		*loss += c * (D->y[i] == 1 ? log(1 + exp(-z)) : log(1 + exp(z)));
		for (size_t j = 0; j < d; j++)
			grad[j] += c * (s - D->y[i]) * x[j];
		if (hess != NULL)
			for (size_t j = 0; j < d; j++)
				for (size_t k = 0; k < d; k++)
					hess[j * d + k] += c * s * (1 - s) * x[j] * x[k];
	}
}

/* f(w) = data loss + l2/2 sum_{j>=1} w_j^2, naively. */
static double naive_objective(const struct fl_logreg_data *D, double l2, const double *w)
{
	double loss, *g = malloc(D->d * sizeof(double));
	double reg = 0;

	assert_non_null(g);
	naive_eval(D, w, &loss, g, NULL);
	for (size_t j = 1; j < D->d; j++)
		reg += w[j] * w[j];
	free(g);
	return loss + 0.5 * l2 * reg;
}

static double rel_diff(const double *a, const double *b, size_t d)
{
	double num = 0, den = 0;

	for (size_t j = 0; j < d; j++) {
		num += (a[j] - b[j]) * (a[j] - b[j]);
		den += b[j] * b[j];
	}
	return sqrt(num / den);
}

/* ---- the synthetic problem ---------------------------------------------- */

#define SYN_N 2000
#define SYN_D 20
#define SYN_L2 10.0

struct synth {
	double X[SYN_N * SYN_D], y[SYN_N], c[SYN_N];
	struct fl_logreg_data data;
};

/* Column 0 is the intercept; labels drawn from a known logistic model with
 * intercept -1, so the fitted intercept is far from 0 and a wrongly
 * penalised intercept would show. */
static struct synth *make_synth(void)
{
	struct synth *S = malloc(sizeof(*S));
	double wt[SYN_D];

	assert_non_null(S);
	lcg_state = 20240601;
	wt[0] = -1;
	for (size_t j = 1; j < SYN_D; j++)
		wt[j] = 2 * lcg_uniform() - 1;
	for (size_t i = 0; i < SYN_N; i++) {
		double z = 0;

		S->X[i * SYN_D] = 1;
		for (size_t j = 1; j < SYN_D; j++)
			S->X[i * SYN_D + j] = lcg_normal();
		for (size_t j = 0; j < SYN_D; j++)
			z += S->X[i * SYN_D + j] * wt[j];
		S->y[i] = lcg_uniform() < 1 / (1 + exp(-z)) ? 1 : 0;
		S->c[i] = 0.5 + lcg_uniform();
	}
	S->data = (struct fl_logreg_data){.n = SYN_N, .d = SYN_D, .X = S->X, .y = S->y};
	return S;
}

static const struct fl_solver_opts syn_opts = {
        .l2 = SYN_L2, .tol = 1e-10 * SYN_N, .max_iter = 500, .lbfgs_m = 0};

/* ---- tests -------------------------------------------------------------- */

static void test_solver_names(void **state)
{
	enum fl_solver_kind k = FL_SOLVER_SGD;

	(void)state;
	assert_string_equal(fl_solver_name(FL_SOLVER_NEWTON), "newton");
	assert_string_equal(fl_solver_name(FL_SOLVER_LBFGS), "lbfgs");
	assert_string_equal(fl_solver_name(FL_SOLVER_SGD), "sgd");
	assert_int_equal(fl_solver_parse("newton", &k), 0);
	assert_int_equal(k, FL_SOLVER_NEWTON);
	assert_int_equal(fl_solver_parse("lbfgs", &k), 0);
	assert_int_equal(k, FL_SOLVER_LBFGS);
	assert_int_equal(fl_solver_parse("sgd", &k), 0);
	assert_int_equal(k, FL_SOLVER_SGD);
	assert_int_equal(fl_solver_parse("bfgs", &k), -1);
	assert_int_equal(k, FL_SOLVER_SGD);
	assert_string_equal(fl_errmsg(), "unknown solver \"bfgs\" (expected newton, lbfgs or sgd)");
	assert_int_equal(fl_solver_parse(NULL, &k), -1);
}

static void test_solver_new_rejects_bad_options(void **state)
{
	struct fl_solver *s = (struct fl_solver *)&s;
	struct fl_solver_opts o = {.l2 = 1, .tol = 1e-6, .max_iter = 0};

	(void)state;
	assert_int_equal(fl_solver_new(FL_SOLVER_NEWTON, 3, &o, NULL, &s), FL_ERR_INVALID);
	assert_null(s);
	assert_string_equal(fl_errmsg(), "solver: max_iter must be > 0, got 0");
	o.max_iter = 10;
	o.l2 = -1;
	assert_int_equal(fl_solver_new(FL_SOLVER_LBFGS, 3, &o, NULL, &s), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "solver: l2 must be a finite number >= 0, got -1");
	o.l2 = 1;
	assert_int_equal(fl_solver_new(FL_SOLVER_SGD, 3, &o, NULL, &s), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "solver: sgd is not an ask/tell solver (use newton or lbfgs)");
	fl_solver_free(NULL);
}

/*
 * Intercept only: f(w0) = sum_i log(1+e^w0) - y_i w0 is stationary where
 * sigmoid(w0) = mean(y), so w0* = log(p/(1-p)); l2 must not touch w0.
 * With weights, p is the weighted label mean.
 */
static void test_intercept_only_closed_form(void **state)
{
	double X[10], y[10] = {1, 0, 0, 1, 0, 0, 0, 1, 0, 0}, c[10];
	struct fl_logreg_data D = {.n = 10, .d = 1, .X = X, .y = y};
	struct fl_solver_opts o = {.l2 = 100, .tol = 1e-12, .max_iter = 50};
	struct fl_solver_status st;
	double w, want = log(0.3 / 0.7), cw = 0, cy = 0;

	(void)state;
	for (int i = 0; i < 10; i++) {
		X[i] = 1;
		c[i] = 1 + i;
		cw += c[i];
		cy += c[i] * y[i];
	}
	for (int kind = FL_SOLVER_NEWTON; kind <= FL_SOLVER_LBFGS; kind++) {
		w = 0;
		D.c = NULL;
		assert_int_equal(fl_logreg_train(&D, (enum fl_solver_kind)kind, &o, &w, &st), 0);
		assert_true(st.converged);
		assert_true(fabs(w - want) <= 1e-10);
		/* c = 1..10: p = (1 + 4 + 8) / 55. */
		assert_true(cw == 55 && cy == 13);
		w = 0;
		D.c = c;
		assert_int_equal(fl_logreg_train(&D, (enum fl_solver_kind)kind, &o, &w, &st), 0);
		assert_true(st.converged);
		assert_true(fabs(w - log(13.0 / 42.0)) <= 1e-10);
	}
}

/*
 * One binary feature, no penalty: the model is saturated, so it reproduces
 * the label mean in each group: w0 = logit(p0), w0 + w1 = logit(p1).
 * Group x=0 has 1 positive in 4 rows, group x=1 has 4 in 5.
 */
static void test_binary_feature_closed_form(void **state)
{
	double X[18] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	double y[9] = {1, 0, 0, 0, 1, 1, 0, 1, 1};
	struct fl_logreg_data D = {.n = 9, .d = 2, .X = X, .y = y};
	struct fl_solver_opts o = {.l2 = 0, .tol = 1e-12, .max_iter = 200};
	double w0 = log(0.25 / 0.75), w1 = log(0.8 / 0.2) - w0;

	(void)state;
	for (int kind = FL_SOLVER_NEWTON; kind <= FL_SOLVER_LBFGS; kind++) {
		double w[2] = {0, 0};
		struct fl_solver_status st;

		assert_int_equal(fl_logreg_train(&D, (enum fl_solver_kind)kind, &o, w, &st), 0);
		assert_true(st.converged);
		assert_true(fabs(w[0] - w0) <= 1e-10);
		assert_true(fabs(w[1] - w1) <= 1e-10);
	}
}

/* Newton and L-BFGS on 2000 x 20: same optimum, stationary by an
 * independent gradient, intercept unpenalised. */
static void test_synthetic_newton_lbfgs_agree(void **state)
{
	struct synth *S = make_synth();
	double wn[SYN_D] = {0}, wl[SYN_D] = {0}, g[SYN_D], loss;
	struct fl_solver_status sn, sl;
	double gnorm = 0;

	(void)state;
	assert_int_equal(fl_logreg_train(&S->data, FL_SOLVER_NEWTON, &syn_opts, wn, &sn), 0);
	assert_int_equal(fl_logreg_train(&S->data, FL_SOLVER_LBFGS, &syn_opts, wl, &sl), 0);
	print_message("synthetic %dx%d: newton %d iterations / %d evaluations, "
	              "lbfgs %d iterations / %d evaluations\n",
	              SYN_N, SYN_D, sn.iterations, sn.evaluations, sl.iterations, sl.evaluations);
	assert_true(sn.converged);
	assert_true(sl.converged);
	assert_true(sn.grad_norm <= syn_opts.tol);
	assert_true(sl.grad_norm <= syn_opts.tol);
	assert_true(rel_diff(wl, wn, SYN_D) <= 1e-6);

	/* Stationarity of f, checked with the naive gradient: the data
	 * gradient alone vanishes in the intercept, and balances l2 w_j in
	 * every other coordinate. */
	naive_eval(&S->data, wn, &loss, g, NULL);
	for (size_t j = 1; j < SYN_D; j++)
		g[j] += SYN_L2 * wn[j];
	for (size_t j = 0; j < SYN_D; j++)
		gnorm += g[j] * g[j];
	assert_true(sqrt(gnorm) <= 1e-8 * SYN_N);
	assert_true(fabs(g[0]) <= 1e-8 * SYN_N);
	/* Had w0 been penalised, g0 would be -l2 w0, and w0 is clearly not 0. */
	assert_true(fabs(SYN_L2 * wn[0]) > 1);
	/* The reported objective is f at the solution. */
	assert_true(fabs(sn.objective - naive_objective(&S->data, SYN_L2, wn)) <=
	            1e-10 * sn.objective);
	assert_true(fabs(fl_logreg_objective(&S->data, SYN_L2, wn) - sn.objective) <=
	            1e-10 * sn.objective);
	free(S);
}

/*
 * Solver economy: with no gradient tolerance at all (tol = 0), Newton used
 * to go on until its line search hit the rounding floor of the loss, 40
 * halvings and more passes beyond any precision a user sees. Now it stops
 * as soon as its next step would move the objective by at most 1e-12 of
 * itself and the weights by at most 1e-9 of their norm: converged, every
 * pass an accepted step (no rejected trials), at the optimum the default
 * tolerance reaches, stationary by the naive gradient.
 */
static void test_newton_stops_when_steps_are_negligible(void **state)
{
	struct synth *S = make_synth();
	struct fl_solver_opts o = syn_opts;
	double w[SYN_D] = {0}, wref[SYN_D] = {0}, g[SYN_D], loss, gn = 0;
	struct fl_solver_status st, sref;

	(void)state;
	o.tol = 0;
	o.max_iter = 100;
	assert_int_equal(fl_logreg_train(&S->data, FL_SOLVER_NEWTON, &o, w, &st), 0);
	assert_int_equal(fl_logreg_train(&S->data, FL_SOLVER_NEWTON, &syn_opts, wref, &sref), 0);
	print_message("tol 0: %d iterations / %d evaluations; tol 1e-10 n: %d / %d\n",
	              st.iterations, st.evaluations, sref.iterations, sref.evaluations);
	assert_true(st.converged);
	assert_int_equal(st.evaluations, st.iterations + 1);
	assert_true(st.iterations <= sref.iterations + 1);
	assert_true(rel_diff(w, wref, SYN_D) <= 1e-10);
	naive_eval(&S->data, w, &loss, g, NULL);
	for (size_t j = 0; j < SYN_D; j++) {
		g[j] += j > 0 ? SYN_L2 * w[j] : 0;
		gn += g[j] * g[j];
	}
	assert_true(sqrt(gn) <= 1e-8 * SYN_N);
	free(S);
}

/* Runs the ask/tell loop with the naive evaluator; nparts > 1 splits the
 * rows into parts whose sums are told, as the coordinator does. */
static void drive_naive(const struct fl_logreg_data *D, enum fl_solver_kind kind,
                        const struct fl_solver_opts *o, int nparts, double *w,
                        struct fl_solver_status *st)
{
	struct fl_solver *s = NULL;
	size_t d = D->d;
	double *g = malloc(d * sizeof(double)), *h = malloc(d * d * sizeof(double));
	double *gp = malloc(d * sizeof(double)), *hp = malloc(d * d * sizeof(double));
	const double *x;
	int need_hess, r, first = 1;

	assert_non_null(g);
	assert_non_null(h);
	assert_non_null(gp);
	assert_non_null(hp);
	assert_int_equal(fl_solver_new(kind, d, o, NULL, &s), 0);
	while ((r = fl_solver_ask(s, &x, &need_hess)) == FL_SOLVER_EVAL) {
		double loss = 0, lp;

		if (first) {
			/* The first point asked is the start, with the Hessian
			 * for Newton only. */
			for (size_t j = 0; j < d; j++)
				assert_true(x[j] == 0);
			assert_int_equal(need_hess, kind == FL_SOLVER_NEWTON);
			first = 0;
		}
		memset(g, 0, d * sizeof(double));
		memset(h, 0, d * d * sizeof(double));
		for (int p = 0; p < nparts; p++) {
			size_t lo = D->n * p / nparts, hi = D->n * (p + 1) / nparts;
			struct fl_logreg_data part = {
			        .n = hi - lo, .d = d, .X = D->X + lo * d, .y = D->y + lo};

			part.c = D->c != NULL ? D->c + lo : NULL;
			naive_eval(&part, x, &lp, gp, need_hess ? hp : NULL);
			loss += lp;
			for (size_t j = 0; j < d; j++)
				g[j] += gp[j];
			if (need_hess)
				for (size_t j = 0; j < d * d; j++)
					h[j] += hp[j];
		}
		assert_int_equal(fl_solver_tell(s, loss, g, need_hess ? h : NULL), 0);
	}
	assert_int_equal(r, FL_SOLVER_DONE);
	/* Done is final. */
	assert_int_equal(fl_solver_ask(s, &x, &need_hess), FL_SOLVER_DONE);
	memcpy(w, fl_solver_weights(s), d * sizeof(double));
	fl_solver_get_status(s, st);
	fl_solver_free(s);
	free(g);
	free(h);
	free(gp);
	free(hp);
}

static void test_ask_tell_matches_train(void **state)
{
	struct synth *S = make_synth();

	(void)state;
	S->data.c = S->c;
	for (int kind = FL_SOLVER_NEWTON; kind <= FL_SOLVER_LBFGS; kind++) {
		double wt[SYN_D] = {0}, wa[SYN_D], wb[SYN_D], wf[SYN_D];
		struct fl_solver_status st, sa, sb, sf;

		assert_int_equal(
		        fl_logreg_train(&S->data, (enum fl_solver_kind)kind, &syn_opts, wt, &st),
		        0);
		drive_naive(&S->data, (enum fl_solver_kind)kind, &syn_opts, 1, wa, &sa);
		assert_true(st.converged && sa.converged);
		assert_true(rel_diff(wa, wt, SYN_D) <= 1e-7);
		/* Same told values, same run, bit for bit. */
		drive_naive(&S->data, (enum fl_solver_kind)kind, &syn_opts, 1, wb, &sb);
		assert_memory_equal(wa, wb, sizeof(wa));
		assert_int_equal(sa.evaluations, sb.evaluations);
		assert_int_equal(sa.iterations, sb.iterations);
		/* Sums over three partners reach the pooled optimum. */
		drive_naive(&S->data, (enum fl_solver_kind)kind, &syn_opts, 3, wf, &sf);
		assert_true(sf.converged);
		assert_true(rel_diff(wf, wt, SYN_D) <= 1e-7);
	}
	free(S);
}

/* A driver whose evaluation can be made to fail on its n-th call. */
struct counting_eval {
	const struct fl_logreg_data *data;
	int evals, progress, fail_at;
	struct fl_solver_status last;
};

static int counting_eval(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	struct counting_eval *ce = arg;
	const struct fl_logreg_data *D = ce->data;

	if (++ce->evals == ce->fail_at)
		return fl_fail(FL_ERR_IO, "leads.cache: read failed after %d passes",
		               ce->evals - 1);
	fl_linalg_logistic(D->X, D->n, D->d, D->y, D->c, w, loss, grad, hess);
	return 0;
}

static void counting_progress(void *arg, const struct fl_solver_status *st)
{
	struct counting_eval *ce = arg;

	ce->progress++;
	ce->last = *st;
}

/* fl_solver_run(): every evaluation is told and reported; an evaluation's
 * error ends the run with that error and leaves w as it was. */
static void test_solver_run(void **state)
{
	struct synth *S = make_synth();

	(void)state;
	for (int kind = FL_SOLVER_NEWTON; kind <= FL_SOLVER_LBFGS; kind++) {
		struct counting_eval ce = {&S->data, 0, 0, 0, {0}};
		struct fl_solver_driver drv = {
		        .eval = counting_eval, .progress = counting_progress, .arg = &ce};
		double w[SYN_D] = {0}, zero[SYN_D] = {0}, wn[SYN_D];
		struct fl_solver_status st, sn;

		assert_int_equal(
		        fl_solver_run((enum fl_solver_kind)kind, SYN_D, &syn_opts, &drv, w, &st),
		        0);
		assert_true(st.converged);
		assert_int_equal(ce.evals, st.evaluations);
		assert_int_equal(ce.progress, st.evaluations);
		assert_int_equal(ce.last.evaluations, st.evaluations);
		/* The same optimum as a hand-written loop over naive sums. */
		drive_naive(&S->data, (enum fl_solver_kind)kind, &syn_opts, 1, wn, &sn);
		assert_true(rel_diff(w, wn, SYN_D) <= 1e-7);

		ce = (struct counting_eval){&S->data, 0, 0, 3, {0}};
		memset(w, 0, sizeof(w));
		assert_int_equal(
		        fl_solver_run((enum fl_solver_kind)kind, SYN_D, &syn_opts, &drv, w, &st),
		        FL_ERR_IO);
		assert_string_equal(fl_errmsg(), "leads.cache: read failed after 2 passes");
		assert_int_equal(st.evaluations, 2);
		assert_int_equal(ce.progress, 2);
		assert_memory_equal(w, zero, sizeof(w));

		assert_int_equal(
		        fl_solver_run((enum fl_solver_kind)kind, SYN_D, &syn_opts, &drv, NULL, &st),
		        FL_ERR_INVALID);
		assert_string_equal(fl_errmsg(), "train: no vector for the solution");
	}
	free(S);
}

static void test_max_iter_stops_unconverged(void **state)
{
	struct synth *S = make_synth();
	struct fl_solver_opts o = syn_opts;
	double w[SYN_D] = {0};
	struct fl_solver_status st;

	(void)state;
	o.max_iter = 1;
	assert_int_equal(fl_logreg_train(&S->data, FL_SOLVER_NEWTON, &o, w, &st), 0);
	assert_int_equal(st.iterations, 1);
	assert_false(st.converged);
	assert_true(st.grad_norm > o.tol);
	free(S);
}

static void test_sgd_reaches_optimum(void **state)
{
	struct synth *S = make_synth();
	double wn[SYN_D] = {0}, ws[SYN_D] = {0}, ws2[SYN_D] = {0};
	struct fl_sgd_opts o = {
	        .l2 = SYN_L2, .epochs = 40, .batch = 32, .lr = 0.5, .decay = 0.002, .seed = 7};
	double fn, fs;

	(void)state;
	assert_int_equal(fl_logreg_train(&S->data, FL_SOLVER_NEWTON, &syn_opts, wn, NULL), 0);
	assert_int_equal(fl_logreg_sgd(&S->data, &o, ws), 0);
	fn = naive_objective(&S->data, SYN_L2, wn);
	fs = naive_objective(&S->data, SYN_L2, ws);
	print_message("sgd objective %.6f vs newton %.6f, |w_sgd - w_newton| / |w_newton| = %.2g\n",
	              fs, fn, rel_diff(ws, wn, SYN_D));
	assert_true(fs >= fn * (1 - 1e-12));
	assert_true(fs <= fn * 1.01);
	/* The seed fixes the shuffles, so the run repeats exactly. */
	assert_int_equal(fl_logreg_sgd(&S->data, &o, ws2), 0);
	assert_memory_equal(ws, ws2, sizeof(ws));
	free(S);
}

/* SGD leaves the intercept unpenalised too: with l2 = 1000 on ten rows a
 * penalised intercept would be pulled to about -0.002 instead of
 * logit(0.3) = -0.847. */
static void test_sgd_intercept_unpenalised(void **state)
{
	double X[10], y[10] = {0, 1, 0, 0, 1, 0, 0, 0, 1, 0}, w = 0;
	struct fl_logreg_data D = {.n = 10, .d = 1, .X = X, .y = y};
	struct fl_sgd_opts o = {
	        .l2 = 1000, .epochs = 3000, .batch = 2, .lr = 0.5, .decay = 0.01, .seed = 11};

	(void)state;
	for (int i = 0; i < 10; i++)
		X[i] = 1;
	assert_int_equal(fl_logreg_sgd(&D, &o, &w), 0);
	assert_true(fabs(w - log(0.3 / 0.7)) <= 1e-2);
}

static void test_sgd_prox_pins_to_anchor(void **state)
{
	struct synth *S = make_synth();
	double anchor[SYN_D], w[SYN_D] = {0}, w0[SYN_D] = {0};
	struct fl_sgd_opts o = {.l2 = SYN_L2, .epochs = 2, .batch = 64, .lr = 0.5, .seed = 3};
	double dist = 0, dist0 = 0, na = 0;

	(void)state;
	for (size_t j = 0; j < SYN_D; j++) {
		anchor[j] = 3.0 - 0.25 * (double)j;
		na += anchor[j] * anchor[j];
	}
	o.anchor = anchor;
	o.prox_mu = 1e9;
	assert_int_equal(fl_logreg_sgd(&S->data, &o, w), 0);
	o.prox_mu = 0;
	assert_int_equal(fl_logreg_sgd(&S->data, &o, w0), 0);
	for (size_t j = 0; j < SYN_D; j++) {
		dist += (w[j] - anchor[j]) * (w[j] - anchor[j]);
		dist0 += (w0[j] - anchor[j]) * (w0[j] - anchor[j]);
	}
	/* The minimiser of f + mu/2 |w-a|^2 is a - grad f(a)/mu + O(1/mu^2),
	 * and |grad f(a)| is at most a few thousand here. */
	assert_true(sqrt(dist) <= 1e-4 * sqrt(na));
	/* Without the proximal term the weights go elsewhere. */
	assert_true(sqrt(dist0) > 0.5 * sqrt(na));
	free(S);
}

static void test_sgd_rejects_bad_options(void **state)
{
	double X[2] = {1, 1}, y[2] = {0, 1}, w[1] = {0.5};
	struct fl_logreg_data D = {.n = 2, .d = 1, .X = X, .y = y};
	struct fl_sgd_opts o = {.epochs = 1, .batch = 1, .lr = 0.1, .prox_mu = 1};

	(void)state;
	assert_int_equal(fl_logreg_sgd(&D, &o, w), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "sgd: prox_mu is 1 but no anchor was given");
	o.prox_mu = 0;
	o.batch = 0;
	assert_int_equal(fl_logreg_sgd(&D, &o, w), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "sgd: the batch size must be > 0");
	o.batch = 1;
	o.lr = 0;
	assert_int_equal(fl_logreg_sgd(&D, &o, w), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "sgd: the learning rate must be a finite number > 0, got 0");
	assert_true(w[0] == 0.5);
}

static void test_tell_non_finite(void **state)
{
	struct fl_solver *s = NULL;
	struct fl_solver_opts o = {.l2 = 1, .tol = 1e-8, .max_iter = 10};
	double g[3] = {1, 2, 3}, h[9] = {0};
	const double *x;
	int need_hess;

	(void)state;
	assert_int_equal(fl_solver_new(FL_SOLVER_NEWTON, 3, &o, NULL, &s), 0);
	assert_int_equal(fl_solver_ask(s, &x, &need_hess), FL_SOLVER_EVAL);
	assert_int_equal(fl_solver_tell(s, NAN, g, h), FL_ERR_NUMERIC);
	assert_string_equal(fl_errmsg(),
	                    "non-finite loss (nan) told to the solver at evaluation 1");
	/* The failure sticks: ask repeats it rather than asking again. */
	fl_err_clear();
	assert_int_equal(fl_solver_ask(s, &x, &need_hess), FL_ERR_NUMERIC);
	assert_string_equal(fl_errmsg(),
	                    "non-finite loss (nan) told to the solver at evaluation 1");
	fl_solver_free(s);

	/* L-BFGS: a good first evaluation, then an infinite gradient entry. */
	s = NULL;
	assert_int_equal(fl_solver_new(FL_SOLVER_LBFGS, 3, &o, NULL, &s), 0);
	assert_int_equal(fl_solver_ask(s, &x, &need_hess), FL_SOLVER_EVAL);
	assert_int_equal(need_hess, 0);
	assert_int_equal(fl_solver_tell(s, 5, g, NULL), 0);
	assert_int_equal(fl_solver_ask(s, &x, &need_hess), FL_SOLVER_EVAL);
	g[2] = INFINITY;
	assert_int_equal(fl_solver_tell(s, 4, g, NULL), FL_ERR_NUMERIC);
	assert_string_equal(fl_errmsg(), "non-finite gradient component 2 (inf) told to the "
	                                 "solver at evaluation 2");
	fl_solver_free(s);

	/* Newton: a NaN in the Hessian is caught too. */
	s = NULL;
	g[2] = 3;
	h[5] = NAN;
	assert_int_equal(fl_solver_new(FL_SOLVER_NEWTON, 3, &o, NULL, &s), 0);
	assert_int_equal(fl_solver_ask(s, &x, &need_hess), FL_SOLVER_EVAL);
	assert_int_equal(fl_solver_tell(s, 1, g, h), FL_ERR_NUMERIC);
	assert_string_equal(fl_errmsg(), "non-finite Hessian entry (1, 2) (nan) told to the "
	                                 "solver at evaluation 1");
	fl_solver_free(s);
}

/* With l2 = 0 and separable data the Hessian degenerates as the weights
 * grow; Newton must keep going (ridge) and end cleanly, not fail. */
static void test_newton_separable_no_penalty(void **state)
{
	double X[8] = {1, -2, 1, -1, 1, 1, 1, 2};
	double y[4] = {0, 0, 1, 1};
	struct fl_logreg_data D = {.n = 4, .d = 2, .X = X, .y = y};
	struct fl_solver_opts o = {.l2 = 0, .tol = 1e-6, .max_iter = 100};
	double w[2] = {0, 0};
	struct fl_solver_status st;

	(void)state;
	assert_int_equal(fl_logreg_train(&D, FL_SOLVER_NEWTON, &o, w, &st), 0);
	/* The loss can only approach 0 by growing w1 without bound. */
	assert_true(w[1] > 5);
	assert_true(st.objective < 1e-3);
	assert_true(isfinite(w[0]) && isfinite(w[1]));
}

/* ---- checkpoints -------------------------------------------------------- */

/* Told values at x: the textbook sums in plain C in a fixed order, so the
 * same point always gets the same bits, with the loss in its overflow-free
 * form because runs start far from the optimum. */
static void tell_naive(struct fl_solver *s, const struct fl_logreg_data *D, const double *x,
                       int need_hess, double *g, double *h)
{
	size_t d = D->d;
	double loss = 0;

	memset(g, 0, d * sizeof(double));
	if (need_hess)
		memset(h, 0, d * d * sizeof(double));
	for (size_t i = 0; i < D->n; i++) {
		const double *xi = D->X + i * d;
		double z = 0, p, c = D->c != NULL ? D->c[i] : 1.0;

		for (size_t j = 0; j < d; j++)
			z += xi[j] * x[j];
		/* -log p(y | z) = log(1 + e^z) - y z. */
		loss += c * ((z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - D->y[i] * z);
		p = z > 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
		for (size_t j = 0; j < d; j++)
			g[j] += c * (p - D->y[i]) * xi[j];
		if (need_hess)
			for (size_t j = 0; j < d; j++)
				for (size_t k = 0; k < d; k++)
					h[j * d + k] += c * p * (1 - p) * xi[j] * xi[k];
	}
	assert_int_equal(fl_solver_tell(s, loss, g, need_hess ? h : NULL), 0);
}

/* The points an uninterrupted run asks for, in order. */
struct trace {
	size_t n, d;
	double *x;
	int *need_hess;
	double w[SYN_D];
	struct fl_solver_status st;
};

static void status_equal(const struct fl_solver_status *a, const struct fl_solver_status *b)
{
	assert_int_equal(a->iterations, b->iterations);
	assert_int_equal(a->evaluations, b->evaluations);
	assert_int_equal(a->converged, b->converged);
	/* Bit patterns: the objective is NaN before the first tell. */
	assert_memory_equal(&a->objective, &b->objective, sizeof(double));
	assert_memory_equal(&a->grad_norm, &b->grad_norm, sizeof(double));
}

/* Runs s from where it stands to the end, checking every asked point and
 * Hessian request against the trace from position k on. */
static void finish_like(struct fl_solver *s, const struct fl_logreg_data *D, const struct trace *t,
                        size_t k, double *g, double *h)
{
	const double *x;
	int need_hess, r;

	while ((r = fl_solver_ask(s, &x, &need_hess)) == FL_SOLVER_EVAL) {
		assert_true(k < t->n);
		assert_memory_equal(x, t->x + k * t->d, t->d * sizeof(double));
		assert_int_equal(need_hess, t->need_hess[k]);
		tell_naive(s, D, x, need_hess, g, h);
		k++;
	}
	assert_int_equal(r, FL_SOLVER_DONE);
	assert_int_equal(k, t->n);
}

static void record_trace(const struct fl_logreg_data *D, enum fl_solver_kind kind,
                         const struct fl_solver_opts *o, const double *w0, struct trace *t,
                         double *g, double *h)
{
	struct fl_solver *s = NULL;
	size_t cap = 16, d = D->d;
	const double *x;
	int need_hess, r;

	t->n = 0;
	t->d = d;
	t->x = malloc(cap * d * sizeof(double));
	t->need_hess = malloc(cap * sizeof(int));
	assert_non_null(t->x);
	assert_non_null(t->need_hess);
	assert_int_equal(fl_solver_new(kind, d, o, w0, &s), 0);
	while ((r = fl_solver_ask(s, &x, &need_hess)) == FL_SOLVER_EVAL) {
		if (t->n == cap) {
			cap *= 2;
			t->x = realloc(t->x, cap * d * sizeof(double));
			t->need_hess = realloc(t->need_hess, cap * sizeof(int));
			assert_non_null(t->x);
			assert_non_null(t->need_hess);
		}
		memcpy(t->x + t->n * d, x, d * sizeof(double));
		t->need_hess[t->n++] = need_hess;
		tell_naive(s, D, x, need_hess, g, h);
	}
	assert_int_equal(r, FL_SOLVER_DONE);
	memcpy(t->w, fl_solver_weights(s), d * sizeof(double));
	fl_solver_get_status(s, &t->st);
	fl_solver_free(s);
}

/*
 * The promise a crash-safe coordinator relies on: checkpoint after any tell
 * k (and before the first), throw the solver away, restore, carry on; the
 * restored solver asks for the same points bit for bit and ends with the
 * same weights and counts as the run that was never interrupted.
 */
static void check_resume_everywhere(const struct fl_logreg_data *D, enum fl_solver_kind kind,
                                    const struct fl_solver_opts *o, const double *w0,
                                    struct trace *t)
{
	size_t d = D->d;
	double *g = malloc(d * sizeof(double)), *h = malloc(d * d * sizeof(double));
	struct fl_solver *s = NULL, *r = NULL;
	const double *x;
	int need_hess;

	assert_non_null(g);
	assert_non_null(h);
	record_trace(D, kind, o, w0, t, g, h);
	assert_true(t->st.converged);
	assert_int_equal(t->st.evaluations, (int)t->n);

	assert_int_equal(fl_solver_new(kind, d, o, w0, &s), 0);
	for (size_t k = 0; k <= t->n; k++) {
		uint8_t *buf = NULL, *buf2 = NULL;
		size_t len = 0, len2 = 0;
		struct fl_solver_status before, after;
		double wr[SYN_D];

		fl_solver_get_status(s, &before);
		assert_int_equal(fl_solver_save(s, &buf, &len), 0);
		assert_int_equal(fl_solver_restore(buf, len, &r), 0);
		assert_non_null(r);
		/* The restored solver is the same state: same status, and it
		 * saves to the same bytes. */
		fl_solver_get_status(r, &after);
		status_equal(&before, &after);
		assert_int_equal(fl_solver_save(r, &buf2, &len2), 0);
		assert_int_equal(len2, len);
		assert_memory_equal(buf2, buf, len);
		free(buf);
		free(buf2);

		finish_like(r, D, t, k, g, h);
		memcpy(wr, fl_solver_weights(r), d * sizeof(double));
		assert_memory_equal(wr, t->w, d * sizeof(double));
		fl_solver_get_status(r, &after);
		status_equal(&after, &t->st);
		fl_solver_free(r);
		r = NULL;

		/* Advance the original by one evaluation. */
		if (k < t->n) {
			assert_int_equal(fl_solver_ask(s, &x, &need_hess), FL_SOLVER_EVAL);
			tell_naive(s, D, x, need_hess, g, h);
		}
	}
	fl_solver_free(s);
	free(g);
	free(h);
}

static void free_trace(struct trace *t)
{
	free(t->x);
	free(t->need_hess);
}

static void test_checkpoint_resume_newton(void **state)
{
	struct synth *S = make_synth();
	struct fl_solver_opts o = syn_opts;
	double w0[SYN_D];
	struct trace t;
	int halved = 0, reasked = 0;

	(void)state;
	S->data.c = S->c;
	o.l2 = 0.1;
	/* Far from the optimum the logistic saturates, the Hessian is small
	 * and the full Newton step overshoots: halvings, and re-evaluation
	 * of the accepted point for its Hessian, are exercised. */
	for (size_t j = 0; j < SYN_D; j++)
		w0[j] = j % 2 ? 4.0 : -4.0;
	check_resume_everywhere(&S->data, FL_SOLVER_NEWTON, &o, w0, &t);
	for (size_t k = 1; k < t.n; k++) {
		halved += !t.need_hess[k];
		reasked += t.need_hess[k] && !t.need_hess[k - 1] &&
		           memcmp(t.x + k * SYN_D, t.x + (k - 1) * SYN_D, sizeof(t.w)) == 0;
	}
	print_message("newton from far: %zu evaluations, %d iterations, %d halved trials, "
	              "%d Hessian re-evaluations\n",
	              t.n, t.st.iterations, halved, reasked);
	assert_true(halved > 0);
	assert_true(reasked > 0);
	free_trace(&t);
	free(S);
}

/*
 * Newton's last steps move the scores too little to change the Hessian:
 * the solver asks for those points without it (a pass without the Hessian
 * costs a quarter of one with it) and solves with the one it kept. From
 * zero on the synthetic rows the first points bring a Hessian and the last
 * ones do not; the run ends stationary by the naive gradient, and a
 * checkpoint after any tell, kept Hessian included, resumes it bit for
 * bit.
 */
static void test_newton_reuses_hessian(void **state)
{
	struct synth *S = make_synth();
	double g[SYN_D], loss, gn = 0;
	struct trace t;
	int with = 0;

	(void)state;
	check_resume_everywhere(&S->data, FL_SOLVER_NEWTON, &syn_opts, NULL, &t);
	for (size_t k = 0; k < t.n; k++)
		with += t.need_hess[k];
	print_message("newton from zero: %zu evaluations, %d with the Hessian\n", t.n, with);
	assert_true(t.need_hess[0] && t.need_hess[1]);
	assert_false(t.need_hess[t.n - 1]);
	assert_true(with < (int)t.n);
	naive_eval(&S->data, t.w, &loss, g, NULL);
	for (size_t j = 0; j < SYN_D; j++) {
		g[j] += j > 0 ? SYN_L2 * t.w[j] : 0;
		gn += g[j] * g[j];
	}
	assert_true(sqrt(gn) <= syn_opts.tol);
	free_trace(&t);
	free(S);
}

/* fl_solver_run()'s driver over rows by naive_eval(), counting the
 * evaluations and the Hessians asked for. */
struct hess_count {
	const struct fl_logreg_data *D;
	int evals, hessians;
};

static int hess_count_eval(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	struct hess_count *hc = arg;

	hc->evals++;
	hc->hessians += hess != NULL;
	naive_eval(hc->D, w, loss, grad, hess);
	return 0;
}

/* A driver whose "sampled" Hessian is the first half of the rows' times
 * two (about as far from the whole as a small sample's). */
struct sample_count {
	const struct fl_logreg_data *D;
	int evals, exact, sampled, first;
};

static int exact_eval(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	struct sample_count *sc = arg;

	if (sc->evals++ == 0)
		sc->first = hess != NULL ? 1 : 0;
	sc->exact += hess != NULL;
	naive_eval(sc->D, w, loss, grad, hess);
	return 0;
}

static int sampled_eval(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	struct sample_count *sc = arg;
	const struct fl_logreg_data *D = sc->D;
	struct fl_logreg_data half = {D->n / 2, D->d, D->X, D->y, D->c};
	double l, *g = malloc(D->d * sizeof(double));

	assert_non_null(g);
	if (sc->evals++ == 0)
		sc->first = FL_SOLVER_HESS_SAMPLED;
	sc->sampled++;
	naive_eval(D, w, loss, grad, NULL);
	naive_eval(&half, w, &l, g, hess);
	for (size_t j = 0; j < D->d * D->d; j++)
		hess[j] *= 2;
	free(g);
	return 0;
}

/* A driver whose sample never serves: the exact Hessian, said so. */
static int refusing_eval(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	struct sample_count *sc = arg;

	sc->evals++;
	sc->sampled++;
	naive_eval(sc->D, w, loss, grad, hess);
	return FL_SOLVER_HESS_EXACT;
}

/*
 * Sampled Hessians (fl_solver_opts.hess_sample): a run from zero asks for
 * one at the start and after long steps, and for the exact one near the
 * optimum; it ends where the exact run ends (1e-9 relative, the precision
 * a federation compares models to), converged. Without hess_sample, or
 * from a start that is not zero, the first Hessian asked for is exact;
 * without the option no sampled one is ever asked for. A driver that
 * answers the first with the exact Hessian (FL_SOLVER_HESS_EXACT) is
 * asked for exact ones only from then on: the exact run, bit for bit.
 */
static void test_newton_sampled_hessian(void **state)
{
	struct synth *S = make_synth();
	struct fl_solver_opts o = syn_opts;
	double w[SYN_D] = {0}, we[SYN_D] = {0};
	struct fl_solver_status st, se;
	struct sample_count sc = {&S->data, 0, 0, 0, -1}, ec = {&S->data, 0, 0, 0, -1};
	struct fl_solver_driver drv = {.eval = exact_eval,
	                               .eval_sampled = sampled_eval,
	                               .arg = &sc},
	                        dre = {.eval = exact_eval,
	                               .eval_sampled = sampled_eval,
	                               .arg = &ec};
	struct fl_solver *s;
	const double *x;
	int need;

	(void)state;
	S->data.c = S->c;
	assert_int_equal(fl_solver_run(FL_SOLVER_NEWTON, SYN_D, &o, &dre, we, &se), 0);
	assert_true(se.converged);
	assert_int_equal(ec.sampled, 0);
	assert_int_equal(ec.first, 1);

	o.hess_sample = 1;
	assert_int_equal(fl_solver_run(FL_SOLVER_NEWTON, SYN_D, &o, &drv, w, &st), 0);
	assert_true(st.converged);
	assert_int_equal(sc.first, FL_SOLVER_HESS_SAMPLED);
	assert_true(sc.sampled >= 1);
	assert_true(sc.exact >= 1);
	assert_true(rel_diff(w, we, SYN_D) <= 1e-9);

	sc = (struct sample_count){&S->data, 0, 0, 0, -1};
	drv.eval_sampled = refusing_eval;
	memset(w, 0, sizeof(w));
	assert_int_equal(fl_solver_run(FL_SOLVER_NEWTON, SYN_D, &o, &drv, w, &st), 0);
	assert_int_equal(sc.sampled, 1);
	assert_int_equal(st.evaluations, se.evaluations);
	assert_memory_equal(w, we, sizeof(w));

	/* From a start that is not zero: the exact Hessian first. */
	w[0] = 0.5;
	assert_int_equal(fl_solver_new(FL_SOLVER_NEWTON, SYN_D, &o, w, &s), 0);
	assert_int_equal(fl_solver_ask(s, &x, &need), FL_SOLVER_EVAL);
	assert_int_equal(need, 1);
	fl_solver_free(s);
	/* L-BFGS ignores the option. */
	assert_int_equal(fl_solver_new(FL_SOLVER_LBFGS, SYN_D, &o, NULL, &s), 0);
	assert_int_equal(fl_solver_ask(s, &x, &need), FL_SOLVER_EVAL);
	assert_int_equal(need, 0);
	fl_solver_free(s);
	free(S);
}

/*
 * A warm start along a path of penalties (--l2 auto): the run at l2 = 10
 * hands the Hessian it kept to the run at l2 = 1, which starts at its
 * solution. That start is asked for without the Hessian, so the run asks
 * for one fewer than the same run started cold, and it ends at the same
 * optimum: stationary by the naive gradient. A checkpoint after any tell,
 * the first included, resumes it bit for bit. A Hessian further away than
 * the solver keeps one for is not used, and a non-finite one is refused.
 */
static void test_newton_warm_hessian(void **state)
{
	struct synth *S = make_synth();
	double H[SYN_D * SYN_D], w1[SYN_D] = {0}, wc[SYN_D], ww[SYN_D], g[SYN_D], loss, gn = 0,
	                         dz = 0;
	struct hess_count hc = {&S->data, 0, 0}, cold = {&S->data, 0, 0};
	struct fl_solver_driver drv = {
	        .eval = hess_count_eval, .arg = &hc, .keep = H, .keep_dz = &dz};
	struct fl_solver_opts o = syn_opts;
	struct fl_solver *s = NULL;
	struct trace t;
	const double *x;
	int need_hess;

	(void)state;
	assert_int_equal(fl_solver_run(FL_SOLVER_NEWTON, SYN_D, &o, &drv, w1, NULL), 0);
	assert_true(dz >= 0 && dz <= 1e-3);
	/* Cold from w1 at l2 = 1. */
	o.l2 = 1;
	memcpy(wc, w1, sizeof(wc));
	drv.arg = &cold;
	drv.keep = NULL;
	assert_int_equal(fl_solver_run(FL_SOLVER_NEWTON, SYN_D, &o, &drv, wc, NULL), 0);
	/* Warm: the same with the Hessian of the run before. */
	o.hess0 = H;
	o.hess0_dz = dz;
	memcpy(ww, w1, sizeof(ww));
	hc = (struct hess_count){&S->data, 0, 0};
	drv.arg = &hc;
	assert_int_equal(fl_solver_run(FL_SOLVER_NEWTON, SYN_D, &o, &drv, ww, NULL), 0);
	print_message("l2 1 from l2 10's optimum: cold %d evaluations, %d Hessians; warm %d, %d\n",
	              cold.evals, cold.hessians, hc.evals, hc.hessians);
	assert_int_equal(hc.hessians, cold.hessians - 1);
	assert_true(hc.evals <= cold.evals);
	naive_eval(&S->data, ww, &loss, g, NULL);
	for (size_t j = 0; j < SYN_D; j++) {
		g[j] += j > 0 ? ww[j] : 0;
		gn += g[j] * g[j];
	}
	assert_true(sqrt(gn) <= o.tol);
	assert_true(rel_diff(ww, wc, SYN_D) <= 1e-9);
	check_resume_everywhere(&S->data, FL_SOLVER_NEWTON, &o, w1, &t);
	assert_false(t.need_hess[0]);
	free_trace(&t);
	/* Too far to be kept: the start asks for the Hessian. */
	o.hess0_dz = 2e-3;
	assert_int_equal(fl_solver_new(FL_SOLVER_NEWTON, SYN_D, &o, w1, &s), 0);
	assert_int_equal(fl_solver_ask(s, &x, &need_hess), FL_SOLVER_EVAL);
	assert_true(need_hess);
	fl_solver_free(s);
	o.hess0_dz = dz;
	H[5] = NAN;
	assert_int_equal(fl_solver_new(FL_SOLVER_NEWTON, SYN_D, &o, w1, &s), FL_ERR_INVALID);
	assert_null(s);
	assert_string_equal(fl_errmsg(),
	                    "solver: non-finite entry (0, 5) (nan) in the warm start's Hessian");
	free(S);
}

/*
 * Predicting the last passes (logreg.c): the intercept alone (d = 1, no
 * penalty) with f(w) = cosh(a (w - c)), told in closed form. With
 * u = a (w - c), Newton's iterates are u - tanh(u) and its steps move the
 * score by tanh(u) / a (|g| / H for one coefficient); the optimum is c.
 * From u = 1: u = 1, 0.2384, 0.004426, 2.9e-8, with gradient a sinh(u).
 */
#define COSH_MAX_EVALS 16

struct cosh_run {
	double a, c, w0;
	struct fl_solver_opts o;
	size_t n;
	double x[COSH_MAX_EVALS];
	int need_hess[COSH_MAX_EVALS];
	double w;
	struct fl_solver_status st;
};

static void cosh_tell(struct fl_solver *s, const struct cosh_run *cr, double x, int need_hess)
{
	double u = cr->a * (x - cr->c), g = cr->a * sinh(u), h = cr->a * cr->a * cosh(u);

	assert_int_equal(fl_solver_tell(s, cosh(u), &g, need_hess ? &h : NULL), 0);
}

/* Runs s to the end; with check, against the points, Hessian requests and
 * weights recorded in cr from position k on, else recording them. */
static void cosh_finish(struct fl_solver *s, struct cosh_run *cr, size_t k, int check)
{
	const double *x;
	int need_hess, r;

	while ((r = fl_solver_ask(s, &x, &need_hess)) == FL_SOLVER_EVAL) {
		assert_true(k < COSH_MAX_EVALS);
		if (check) {
			assert_true(k < cr->n);
			assert_memory_equal(x, &cr->x[k], sizeof(double));
			assert_int_equal(need_hess, cr->need_hess[k]);
		} else {
			cr->x[k] = x[0];
			cr->need_hess[k] = need_hess;
		}
		cosh_tell(s, cr, x[0], need_hess);
		k++;
	}
	assert_int_equal(r, FL_SOLVER_DONE);
	if (check) {
		struct fl_solver_status st;

		assert_int_equal(k, cr->n);
		assert_memory_equal(fl_solver_weights(s), &cr->w, sizeof(double));
		fl_solver_get_status(s, &st);
		status_equal(&st, &cr->st);
	} else {
		cr->n = k;
		cr->w = fl_solver_weights(s)[0];
		fl_solver_get_status(s, &cr->st);
	}
}

/* The run from u = 1 at tolerance tol, recorded in cr, and resumed from a
 * checkpoint after every tell: the same points, requests and weights. */
static void cosh_run(double a, double c, double tol, struct cosh_run *cr)
{
	struct fl_solver *s = NULL, *r = NULL;
	const double *x;
	int need_hess;

	memset(cr, 0, sizeof(*cr));
	cr->a = a;
	cr->c = c;
	cr->w0 = c + 1 / a;
	cr->o = (struct fl_solver_opts){.l2 = 0, .tol = tol, .max_iter = 50};
	assert_int_equal(fl_solver_new(FL_SOLVER_NEWTON, 1, &cr->o, &cr->w0, &s), 0);
	cosh_finish(s, cr, 0, 0);
	fl_solver_free(s);
	assert_int_equal(fl_solver_new(FL_SOLVER_NEWTON, 1, &cr->o, &cr->w0, &s), 0);
	for (size_t k = 0; k <= cr->n; k++) {
		uint8_t *buf = NULL;
		size_t len = 0;

		assert_int_equal(fl_solver_save(s, &buf, &len), 0);
		assert_int_equal(fl_solver_restore(buf, len, &r), 0);
		free(buf);
		cosh_finish(r, cr, k, 1);
		fl_solver_free(r);
		if (k < cr->n) {
			assert_int_equal(fl_solver_ask(s, &x, &need_hess), FL_SOLVER_EVAL);
			cosh_tell(s, cr, x[0], need_hess);
		}
	}
	fl_solver_free(s);
}

static int cosh_hessians(const struct cosh_run *cr)
{
	int n = 0;

	for (size_t k = 0; k < cr->n; k++)
		n += cr->need_hess[k];
	return n;
}

/*
 * The gradient at the next point predicted within the tolerance: a = 1,
 * tol 0.2. The second point (u = 0.2384, gradient 0.2407) is not within it
 * and brings a Hessian; its step moves the score by 0.234, more than the
 * kept Hessian allows for, but is predicted to leave a gradient of at most
 * 2 x 0.2407 x 0.234 = 0.113: the third point is asked for without the
 * Hessian (two of three instead of three), and the run stops there
 * (gradient 0.004426), at the Newton iterate itself, as it did when it
 * asked for a Hessian there.
 */
static void test_newton_predicts_last_gradient(void **state)
{
	struct cosh_run cr;
	double u1 = 1 - tanh(1.0), u2 = u1 - tanh(u1);

	(void)state;
	cosh_run(1.0, 1.0, 0.2, &cr);
	assert_int_equal(cr.n, 3);
	assert_true(cr.need_hess[0] && cr.need_hess[1] && !cr.need_hess[2]);
	assert_int_equal(cosh_hessians(&cr), 2);
	assert_true(cr.st.converged);
	assert_true(cr.st.grad_norm <= 0.2);
	assert_memory_equal(&cr.w, &cr.x[2], sizeof(double));
	assert_true(fabs(cr.w - (1.0 + u2)) <= 1e-15);
}

/*
 * A wrong prediction: a = 100 changes the curvature a hundred times faster
 * than a logistic loss can (|h'| <= h), beyond what the prediction allows
 * for. tol 0.316. At the second point (gradient 24.07, step 0.00234) the
 * third is predicted at most 2 x 24.07 x 0.00234 = 0.113, but its gradient
 * is 0.442: the kept Hessian is too far (0.00234 > 1e-3), so the same point
 * is asked for again with it, the one extra pass, without one. From there
 * the run is the one that asks for every Hessian: its next step is small
 * (4.4e-5), the fourth point comes without the Hessian as it always did,
 * and the run ends at the optimum.
 */
static void test_newton_wrong_prediction(void **state)
{
	struct cosh_run cr;

	(void)state;
	cosh_run(100.0, 1.0, 0.316, &cr);
	assert_int_equal(cr.n, 5);
	assert_true(cr.need_hess[0] && cr.need_hess[1] && !cr.need_hess[2] && cr.need_hess[3] &&
	            !cr.need_hess[4]);
	assert_memory_equal(&cr.x[3], &cr.x[2], sizeof(double));
	assert_true(fabs(100 * sinh(100 * (cr.x[2] - 1.0))) > 0.316);
	assert_true(cr.st.converged);
	assert_true(fabs(cr.w - 1.0) < 1e-12);
}

static void test_checkpoint_resume_lbfgs(void **state)
{
	struct synth *S = make_synth();
	struct fl_solver_opts o = syn_opts;
	double w0[SYN_D];
	struct trace t;

	(void)state;
	S->data.c = S->c;
	/* A memory of 3 wraps the ring of pairs many times; the far start
	 * makes the line search halve. */
	o.lbfgs_m = 3;
	o.l2 = 0.1;
	for (size_t j = 0; j < SYN_D; j++)
		w0[j] = j % 2 ? 4.0 : -4.0;
	check_resume_everywhere(&S->data, FL_SOLVER_LBFGS, &o, w0, &t);
	print_message("lbfgs m=3 from far: %zu evaluations, %d iterations\n", t.n, t.st.iterations);
	assert_true(t.st.iterations > 2 * o.lbfgs_m);
	/* Some trial was rejected. */
	assert_true((int)t.n > t.st.iterations + 1);
	free_trace(&t);
	free(S);
}

/* A small problem and an L-BFGS checkpoint taken once its ring of 3 pairs
 * is full, for the tests that take checkpoints apart. */
#define TINY_N 40
#define TINY_D 4

struct tiny {
	double X[TINY_N * TINY_D], y[TINY_N];
	struct fl_logreg_data data;
};

static void make_tiny(struct tiny *T)
{
	lcg_state = 77;
	for (size_t i = 0; i < TINY_N; i++) {
		T->X[i * TINY_D] = 1;
		for (size_t j = 1; j < TINY_D; j++)
			T->X[i * TINY_D + j] = lcg_normal();
		T->y[i] = lcg_uniform() < 0.5 + 0.4 * tanh(T->X[i * TINY_D + 1]) ? 1 : 0;
	}
	T->data = (struct fl_logreg_data){.n = TINY_N, .d = TINY_D, .X = T->X, .y = T->y};
}

static const struct fl_solver_opts tiny_opts = {
        .l2 = 0.5, .tol = 1e-12, .max_iter = 100, .lbfgs_m = 3};

/* Saves the solver after `tells` evaluations. */
static void tiny_checkpoint(const struct tiny *T, enum fl_solver_kind kind, int tells,
                            uint8_t **buf, size_t *len, struct fl_solver_status *st)
{
	struct fl_solver *s = NULL;
	double g[TINY_D], h[TINY_D * TINY_D];
	const double *x;
	int need_hess;

	assert_int_equal(fl_solver_new(kind, TINY_D, &tiny_opts, NULL, &s), 0);
	for (int k = 0; k < tells; k++) {
		assert_int_equal(fl_solver_ask(s, &x, &need_hess), FL_SOLVER_EVAL);
		tell_naive(s, &T->data, x, need_hess, g, h);
	}
	if (st != NULL)
		fl_solver_get_status(s, st);
	assert_int_equal(fl_solver_save(s, buf, len), 0);
	fl_solver_free(s);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void set_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void set_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The documented layout, read back by hand: offsets from logreg.h. */
static void test_checkpoint_layout(void **state)
{
	struct tiny T;
	struct fl_solver_status st;
	uint8_t *buf;
	size_t len;
	uint64_t d = 0;
	double w[TINY_D];

	(void)state;
	make_tiny(&T);
	tiny_checkpoint(&T, FL_SOLVER_LBFGS, 8, &buf, &len, &st);
	assert_memory_equal(buf, "FLSOLV1\n", 8);
	assert_int_equal(le32(buf + 8), 1);
	assert_int_equal(le32(buf + 12), FL_SOLVER_LBFGS);
	for (int i = 7; i >= 0; i--)
		d = d << 8 | buf[16 + i];
	assert_int_equal(d, TINY_D);
	assert_int_equal(le32(buf + 40), 100); /* max_iter */
	assert_int_equal(le32(buf + 44), 3);   /* m */
	assert_int_equal(le32(buf + 64), 8);   /* evaluations */
	assert_int_equal(le32(buf + 60), st.iterations);
	assert_true(st.iterations > 3);       /* so the ring is full: */
	assert_int_equal(le32(buf + 104), 3); /* count */
	assert_int_equal(le32(buf + 116), 0); /* no error message */
	/* 120-byte header, w g p x, then 3 x (rho, s, y). */
	assert_int_equal(len, 120 + 4 * TINY_D * 8 + 3 * (8 + 2 * TINY_D * 8));
	/* w is the first vector; doubles are little-endian bit patterns. */
	for (size_t j = 0; j < TINY_D; j++) {
		uint64_t v = 0;

		for (int i = 7; i >= 0; i--)
			v = v << 8 | buf[120 + 8 * j + (size_t)i];
		memcpy(&w[j], &v, sizeof(v));
	}
	{
		struct fl_solver *s = NULL;

		assert_int_equal(fl_solver_restore(buf, len, &s), 0);
		assert_memory_equal(w, fl_solver_weights(s), sizeof(w));
		fl_solver_free(s);
	}
	free(buf);
}

static void expect_malformed(const uint8_t *buf, size_t len, const char *why)
{
	struct fl_solver *s = (struct fl_solver *)&s;
	char want[256];

	assert_int_equal(fl_solver_restore(buf, len, &s), FL_ERR_DATA);
	assert_null(s);
	snprintf(want, sizeof(want), "solver checkpoint is malformed (%s)", why);
	assert_string_equal(fl_errmsg(), want);
}

/* fl_solver_checkpoint_dim(): the dimension from the header, for callers that
 * must check it before restoring; the header checks are restore's. */
/*
 * A warm start with a Hessian (fl_solver_opts.hess0) asks for none at its
 * start: a checkpoint there says so and restores to the same bytes; the
 * same start claiming to ask for it, or a cold start claiming not to, is
 * refused.
 */
static void test_checkpoint_warm_start(void **state)
{
	struct tiny T;
	struct fl_solver_opts o = tiny_opts;
	struct fl_solver *s = NULL, *r = NULL;
	double H[TINY_D * TINY_D], g[TINY_D], loss, w0[TINY_D] = {0};
	uint8_t *buf, *again;
	size_t len, len2;

	(void)state;
	make_tiny(&T);
	naive_eval(&T.data, w0, &loss, g, H);
	o.hess0 = H;
	o.hess0_dz = 0;
	assert_int_equal(fl_solver_new(FL_SOLVER_NEWTON, TINY_D, &o, w0, &s), 0);
	assert_int_equal(fl_solver_save(s, &buf, &len), 0);
	assert_int_equal(le32(buf + 48), 0); /* PH_START */
	assert_int_equal(le32(buf + 52), 0); /* need_hess */
	assert_int_equal(fl_solver_restore(buf, len, &r), 0);
	assert_int_equal(fl_solver_save(r, &again, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(again, buf, len);
	free(again);
	fl_solver_free(r);
	set_le32(buf + 52, 1);
	expect_malformed(buf, len, "need_hess = 1 in phase 0");
	free(buf);
	fl_solver_free(s);
	assert_int_equal(fl_solver_new(FL_SOLVER_NEWTON, TINY_D, &tiny_opts, w0, &s), 0);
	assert_int_equal(fl_solver_save(s, &buf, &len), 0);
	set_le32(buf + 52, 0);
	expect_malformed(buf, len, "need_hess = 0 in phase 0");
	free(buf);
	fl_solver_free(s);
}

static void test_checkpoint_dim(void **state)
{
	struct tiny T;
	uint8_t *buf;
	size_t len, d;
	char want[128];

	(void)state;
	make_tiny(&T);
	tiny_checkpoint(&T, FL_SOLVER_NEWTON, 2, &buf, &len, NULL);
	d = 99;
	assert_int_equal(fl_solver_checkpoint_dim(buf, len, &d), 0);
	assert_int_equal(d, TINY_D);
	d = 99;
	assert_int_equal(fl_solver_checkpoint_dim(buf, len - 1, &d), FL_ERR_DATA);
	assert_int_equal(d, 0);
	snprintf(want, sizeof(want), "solver checkpoint is malformed (%zu bytes, expected %zu)",
	         len - 1, len);
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(fl_solver_checkpoint_dim(buf, 100, &d), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(),
	                    "solver checkpoint is malformed (100 bytes, shorter than the 120-byte "
	                    "header)");
	buf[0] = 'X';
	assert_int_equal(fl_solver_checkpoint_dim(buf, len, &d), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(),
	                    "solver checkpoint is malformed (not a solver checkpoint)");
	free(buf);
}

static void test_checkpoint_truncated_refused(void **state)
{
	struct tiny T;
	uint8_t *buf, *cut;
	size_t len;
	char why[128];

	(void)state;
	make_tiny(&T);
	for (int kind = FL_SOLVER_NEWTON; kind <= FL_SOLVER_LBFGS; kind++) {
		tiny_checkpoint(&T, (enum fl_solver_kind)kind, 6, &buf, &len, NULL);
		/* Copies of exactly the cut length, so ASan sees any read past
		 * it. */
		for (size_t n = 0; n < len; n++) {
			cut = malloc(n > 0 ? n : 1);
			assert_non_null(cut);
			memcpy(cut, buf, n);
			if (n < 120)
				snprintf(why, sizeof(why),
				         "%zu bytes, shorter than the 120-byte header", n);
			else if (le32(buf + 8) == 2 && n < 144)
				snprintf(why, sizeof(why),
				         "%zu bytes, shorter than the 144-byte header", n);
			else
				snprintf(why, sizeof(why), "%zu bytes, expected %zu", n, len);
			expect_malformed(cut, n, why);
			free(cut);
		}
		cut = malloc(len + 1);
		assert_non_null(cut);
		memcpy(cut, buf, len);
		cut[len] = 0;
		snprintf(why, sizeof(why), "%zu bytes, expected %zu", len + 1, len);
		expect_malformed(cut, len + 1, why);
		free(cut);
		free(buf);
	}
	expect_malformed(NULL, 0, "0 bytes, shorter than the 120-byte header");
}

static void test_checkpoint_bad_fields_refused(void **state)
{
	struct tiny T;
	uint8_t *buf, *bad;
	size_t len;
	char why[128];

	(void)state;
	make_tiny(&T);
	tiny_checkpoint(&T, FL_SOLVER_LBFGS, 8, &buf, &len, NULL);
	bad = malloc(len);
	assert_non_null(bad);

	memcpy(bad, buf, len);
	bad[3] = 'X';
	expect_malformed(bad, len, "not a solver checkpoint");
	memcpy(bad, buf, len);
	set_le32(bad + 8, 3);
	expect_malformed(bad, len, "version 3, expected 1 or 2");
	memcpy(bad, buf, len);
	set_le32(bad + 12, 7);
	expect_malformed(bad, len, "unknown solver kind 7");
	/* Newton keeps no L-BFGS memory. */
	memcpy(bad, buf, len);
	set_le32(bad + 12, FL_SOLVER_NEWTON);
	expect_malformed(bad, len, "L-BFGS memory 3 for newton");
	memcpy(bad, buf, len);
	set_le32(bad + 44, 1001);
	expect_malformed(bad, len, "L-BFGS memory 1001 for lbfgs");
	memcpy(bad, buf, len);
	set_le64(bad + 16, 10000001);
	expect_malformed(bad, len, "10000001 coefficients, expected 1 to 10000000");
	memcpy(bad, buf, len);
	set_le64(bad + 16, 0);
	expect_malformed(bad, len, "0 coefficients, expected 1 to 10000000");
	/* The largest d, in a buffer far too short for it: refused by the
	 * length before anything of that size is allocated. 120 + 32 d + 3 (8 +
	 * 16 d) with d = 10^7 is 800000144. */
	memcpy(bad, buf, len);
	set_le64(bad + 16, 10000000);
	snprintf(why, sizeof(why), "%zu bytes, expected 800000144", len);
	expect_malformed(bad, len, why);
	memcpy(bad, buf, len);
	set_le32(bad + 104, 4); /* count > m */
	snprintf(why, sizeof(why), "history of 4 pairs at slot %u in a memory of 3",
	         le32(buf + 108));
	expect_malformed(bad, len, why);
	memcpy(bad, buf, len);
	set_le32(bad + 108, 3); /* head outside the ring */
	expect_malformed(bad, len, "history of 3 pairs at slot 3 in a memory of 3");
	memcpy(bad, buf, len);
	set_le32(bad + 52, 1); /* need_hess for L-BFGS */
	snprintf(why, sizeof(why), "need_hess = 1 in phase %u", le32(buf + 48));
	expect_malformed(bad, len, why);
	memcpy(bad, buf, len);
	set_le32(bad + 64, (uint32_t)le32(buf + 60) - 1); /* evaluations < iterations */
	snprintf(why, sizeof(why), "%u iterations, %u evaluations, max_iter 100", le32(buf + 60),
	         le32(buf + 60) - 1);
	expect_malformed(bad, len, why);
	memcpy(bad, buf, len);
	set_le64(bad + 24, 0x7ff8000000000000u); /* l2 = NaN */
	expect_malformed(bad, len, "l2 = nan");
	memcpy(bad, buf, len);
	set_le32(bad + 112, (uint32_t)FL_ERR_NUMERIC); /* an error, but not failed */
	snprintf(why, sizeof(why), "error -8 in phase %u", le32(buf + 48));
	expect_malformed(bad, len, why);
	/* rho of the oldest pair, after header and the four vectors: -1. */
	memcpy(bad, buf, len);
	set_le64(bad + 120 + 4 * TINY_D * 8, 0xbff0000000000000u);
	expect_malformed(bad, len, "L-BFGS pair 0 has rho = -1");
	free(bad);
	free(buf);
}

/*
 * Every byte of a checkpoint changed three ways: restore either refuses with
 * FL_ERR_DATA or yields a solver that runs without crashing (a changed
 * weight or step is still a valid state). The fields that fix sizes and
 * identity - magic, version, kind, d, count, err, errlen - never pass.
 */
/* A tiny Newton run's first checkpoint that keeps a Hessian (version 2). */
static void tiny_kept_checkpoint(const struct tiny *T, uint8_t **buf, size_t *len)
{
	for (int tells = 1; tells < 20; tells++) {
		tiny_checkpoint(T, FL_SOLVER_NEWTON, tells, buf, len, NULL);
		if (le32(*buf + 8) == 2 && le32(*buf + 136) == 1)
			return;
		free(*buf);
	}
	fail_msg("no tiny Newton checkpoint keeps a Hessian");
}

static double le64d(const uint8_t *p)
{
	uint64_t v = 0;
	double x;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	memcpy(&x, &v, sizeof(x));
	return x;
}

/*
 * Version 2 (a kept Hessian): after the 120 bytes of version 1, f64
 * step_dz, f64 hess_dz, u32 hess_kept, u32 0, and at the end the Hessian's
 * lower triangle. Its fields are checked, and a state version 1 can hold
 * is refused as version 2 (one encoding per state).
 */
static void test_checkpoint_kept_hessian_refused(void **state)
{
	struct tiny T;
	uint8_t *buf, *bad;
	size_t len;
	char why[128];
	double step, dist;

	(void)state;
	make_tiny(&T);
	tiny_kept_checkpoint(&T, &buf, &len);
	assert_int_equal(len, 144 + 4 * TINY_D * 8 + TINY_D * (TINY_D + 1) / 2 * 8);
	step = le64d(buf + 120);
	dist = le64d(buf + 128);
	assert_true(step > 0 && dist >= 0);
	bad = malloc(len);
	assert_non_null(bad);
	memcpy(bad, buf, len);
	set_le32(bad + 136, 2);
	snprintf(why, sizeof(why), "kept Hessian 2, step %g, distance %g", step, dist);
	expect_malformed(bad, len, why);
	memcpy(bad, buf, len);
	set_le32(bad + 140, 1);
	snprintf(why, sizeof(why), "kept Hessian 1, step %g, distance %g", step, dist);
	expect_malformed(bad, len, why);
	memcpy(bad, buf, len);
	set_le64(bad + 120, 0x7ff8000000000000u);
	snprintf(why, sizeof(why), "kept Hessian 1, step nan, distance %g", dist);
	expect_malformed(bad, len, why);
	memcpy(bad, buf, len);
	set_le64(bad + 128, 0xbff0000000000000u);
	snprintf(why, sizeof(why), "kept Hessian 1, step %g, distance -1", step);
	expect_malformed(bad, len, why);
	memcpy(bad, buf, len);
	memset(bad + 120, 0, 24);
	expect_malformed(bad, len, "kept Hessian 0, step 0, distance 0");
	/* Without the Hessian the length is 36 doubles less. */
	memcpy(bad, buf, len);
	set_le32(bad + 136, 0);
	snprintf(why, sizeof(why), "%zu bytes, expected %zu", len,
	         len - TINY_D * (TINY_D + 1) / 2 * 8);
	expect_malformed(bad, len, why);
	free(bad);
	free(buf);
}

/*
 * A version 1 Newton checkpoint, as fedlead wrote before it kept the
 * Hessian, still restores: the same state without a kept Hessian, so the
 * run asks for one where it needs it and ends at the same optimum.
 */
static void test_checkpoint_version1_newton(void **state)
{
	struct tiny T;
	struct fl_solver *s = NULL;
	struct fl_solver_status st, st2;
	uint8_t *buf, *v1, *again;
	size_t len, len1, len2;
	double g[TINY_D], h[TINY_D * TINY_D], w[TINY_D];
	const double *x;
	int need_hess, r;

	(void)state;
	make_tiny(&T);
	tiny_kept_checkpoint(&T, &buf, &len);
	/* The weights the uninterrupted run ends with. */
	assert_int_equal(fl_solver_restore(buf, len, &s), 0);
	while ((r = fl_solver_ask(s, &x, &need_hess)) == FL_SOLVER_EVAL)
		tell_naive(s, &T.data, x, need_hess, g, h);
	assert_int_equal(r, FL_SOLVER_DONE);
	memcpy(w, fl_solver_weights(s), sizeof(w));
	fl_solver_get_status(s, &st);
	fl_solver_free(s);
	/* Version 1 of the same state: no version 2 fields, no Hessian. */
	len1 = len - 24 - TINY_D * (TINY_D + 1) / 2 * 8;
	v1 = malloc(len1);
	assert_non_null(v1);
	memcpy(v1, buf, 120);
	memcpy(v1 + 120, buf + 144, len1 - 120);
	set_le32(v1 + 8, 1);
	assert_int_equal(fl_solver_restore(v1, len1, &s), 0);
	/* Saved again before anything changed, it is the same version 1. */
	assert_int_equal(fl_solver_save(s, &again, &len2), 0);
	assert_int_equal(len2, len1);
	assert_memory_equal(again, v1, len1);
	free(again);
	while ((r = fl_solver_ask(s, &x, &need_hess)) == FL_SOLVER_EVAL)
		tell_naive(s, &T.data, x, need_hess, g, h);
	assert_int_equal(r, FL_SOLVER_DONE);
	fl_solver_get_status(s, &st2);
	assert_true(st.converged && st2.converged);
	assert_true(rel_diff(fl_solver_weights(s), w, TINY_D) <= 1e-12);
	fl_solver_free(s);
	free(v1);
	free(buf);
}

static void test_checkpoint_byte_flips(void **state)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	struct tiny T;
	uint8_t *buf, *bad;
	size_t len;
	int refused = 0, accepted = 0;

	(void)state;
	make_tiny(&T);
	tiny_checkpoint(&T, FL_SOLVER_LBFGS, 8, &buf, &len, NULL);
	bad = malloc(len);
	assert_non_null(bad);
	for (size_t pos = 0; pos < len; pos++) {
		for (size_t k = 0; k < sizeof(masks); k++) {
			struct fl_solver *s = NULL;
			int r, steps = 0, need_hess;
			const double *x;
			double g[TINY_D], h[TINY_D * TINY_D];

			memcpy(bad, buf, len);
			bad[pos] ^= masks[k];
			r = fl_solver_restore(bad, len, &s);
			if (pos < 24 || (pos >= 104 && pos < 108) || (pos >= 112 && pos < 120)) {
				assert_int_equal(r, FL_ERR_DATA);
			}
			if (r != 0) {
				assert_int_equal(r, FL_ERR_DATA);
				assert_null(s);
				assert_true(strncmp(fl_errmsg(), "solver checkpoint is malformed (",
				                    32) == 0);
				refused++;
				continue;
			}
			accepted++;
			/* Run on; non-finite values may be told, which the
			 * solver refuses, so tell only finite ones. */
			while (steps++ < 200 &&
			       fl_solver_ask(s, &x, &need_hess) == FL_SOLVER_EVAL) {
				double loss;
				int finite = 1;

				naive_eval(&T.data, x, &loss, g, need_hess ? h : NULL);
				for (size_t j = 0; j < TINY_D; j++)
					finite &= isfinite(x[j]) && isfinite(g[j]);
				if (!finite || !isfinite(loss) ||
				    fl_solver_tell(s, loss, g, need_hess ? h : NULL) != 0)
					break;
			}
			fl_solver_free(s);
		}
	}
	print_message("%zu-byte checkpoint, %d changes refused, %d accepted\n", len, refused,
	              accepted);
	assert_int_equal(refused + accepted, (int)(3 * len));
	free(bad);
	free(buf);
}

/* A solver that failed stays failed across a checkpoint, with its message. */
static void test_checkpoint_failed_solver(void **state)
{
	struct fl_solver *s = NULL, *r = NULL;
	struct fl_solver_opts o = {.l2 = 1, .tol = 1e-8, .max_iter = 10};
	double g[3] = {1, 2, 3};
	const double *x;
	uint8_t *buf;
	size_t len;
	int need_hess;

	(void)state;
	assert_int_equal(fl_solver_new(FL_SOLVER_LBFGS, 3, &o, NULL, &s), 0);
	assert_int_equal(fl_solver_ask(s, &x, &need_hess), FL_SOLVER_EVAL);
	assert_int_equal(fl_solver_tell(s, INFINITY, g, NULL), FL_ERR_NUMERIC);
	assert_int_equal(fl_solver_save(s, &buf, &len), 0);
	fl_solver_free(s);
	assert_int_equal(fl_solver_restore(buf, len, &r), 0);
	fl_err_clear();
	assert_int_equal(fl_solver_ask(r, &x, &need_hess), FL_ERR_NUMERIC);
	assert_null(x);
	assert_string_equal(fl_errmsg(),
	                    "non-finite loss (inf) told to the solver at evaluation 1");
	assert_int_equal(fl_solver_tell(r, 1, g, NULL), FL_ERR_INVALID);
	fl_solver_free(r);
	free(buf);
}

/* ---- the quadratic model's minimum over shape constraints (fl_solver_qp) ---- */

/* A hand-worked case: d = 3, the intercept free and a block of two
 * weights both held >= 0 (M = I). q = g'w + w'Bw / 2 from w0 = 0 with
 * B = [[2, 0, 0], [0, 2, 1], [0, 1, 2]], g = (-2, 4, -1). Unconstrained:
 * w = -B^-1 g = (1, -3, 2), w_1 < 0. With w_1 = 0: q(w_2) = -w_2 + w_2^2,
 * so w_2 = 1/2, and w_1's gradient 4 + 1/2 = 4.5 > 0 keeps it at 0: the
 * optimum is (1, 0, 1/2). */
static const double I2[4] = {1, 0, 0, 1};

static void test_qp_hand_worked(void **state)
{
	const double B[9] = {2, 0, 0, 0, 2, 1, 0, 1, 2}, g[3] = {-2, 4, -1}, w0[3] = {0};
	const struct fl_solver_block blk = {1, 2, 0, I2, I2};
	const struct fl_solver_bounds b = {1, &blk};
	struct fl_qp_status st;
	double w[3];

	(void)state;
	assert_int_equal(fl_solver_qp(3, NULL, B, g, w0, w, &st), 0);
	assert_true(fabs(w[0] - 1) < 1e-15 && fabs(w[1] + 3) < 1e-14 && fabs(w[2] - 2) < 1e-14);
	assert_int_equal(fl_solver_qp(3, &b, B, g, w0, w, &st), 0);
	assert_true(st.converged);
	assert_int_equal(st.n_bound, 2);
	assert_int_equal(st.n_held, 1);
	assert_true(fabs(w[0] - 1) < 1e-15);
	assert_true(w[1] == 0); /* held at its bound exactly */
	assert_true(fabs(w[2] - 0.5) < 1e-15);
	assert_true(st.kkt < 1e-14);
}

/* Isotonic regression: B = I, w0 = 0 and g = -t make q = |w - t|^2 / 2
 * (up to a constant), and with the block's weights beta = C u (C the
 * cumulative sums, u[1..] >= 0) the optimum is t's increasing fit by
 * pooling adjacent violators: t = (3, 1, 2) pools 3 and 1 to 2, then 2
 * and 2: (2, 2, 2); t = (1, 4, 2, 5) gives (1, 3, 3, 5). */
static void test_qp_isotonic(void **state)
{
	const double C3[9] = {1, 0, 0, 1, 1, 0, 1, 1, 1}, D3[9] = {1, 0, 0, -1, 1, 0, 0, -1, 1};
	const double C4[16] = {1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1};
	const double D4[16] = {1, 0, 0, 0, -1, 1, 0, 0, 0, -1, 1, 0, 0, 0, -1, 1};
	const struct fl_solver_block b3 = {1, 3, 1, C3, D3}, b4 = {1, 4, 1, C4, D4};
	const struct fl_solver_bounds bb3 = {1, &b3}, bb4 = {1, &b4};
	double B[25] = {0}, g3[4] = {-0.5, -3, -1, -2}, g4[5] = {0, -1, -4, -2, -5}, w0[5] = {0};
	double w[5], want4[5] = {0, 1, 3, 3, 5};
	struct fl_qp_status st;

	(void)state;
	for (size_t j = 0; j < 4; j++)
		B[j * 4 + j] = 1;
	assert_int_equal(fl_solver_qp(4, &bb3, B, g3, w0, w, &st), 0);
	assert_true(st.converged);
	assert_true(fabs(w[0] - 0.5) < 1e-15);
	for (size_t j = 1; j < 4; j++)
		assert_true(fabs(w[j] - 2) < 1e-14);
	memset(B, 0, sizeof(B));
	for (size_t j = 0; j < 5; j++)
		B[j * 5 + j] = 1;
	assert_int_equal(fl_solver_qp(5, &bb4, B, g4, w0, w, &st), 0);
	assert_true(st.converged);
	assert_int_equal(st.n_held, 1);
	for (size_t j = 0; j < 5; j++)
		assert_true(fabs(w[j] - want4[j]) < 1e-14);
}

/*
 * Random problems with two blocks of random unit lower-triangular maps M
 * (d = 9: the intercept, a block of 4 with one free coordinate, a free
 * weight, a block of 3 with none free), B a random positive definite
 * matrix, g and w0 random. Against an independent solution: every one of
 * the 2^6 ways of holding the bound coordinates at 0 is solved here by
 * Gaussian elimination in u (A = T'BT, c = T'g written out here), and the
 * one that satisfies the KKT conditions (the bound coordinates >= 0, the
 * held ones' gradients >= 0) is the optimum, unique as q is strictly
 * convex. fl_solver_qp's weights equal it to 1e-9, and its own KKT
 * residual is small.
 */
static void test_qp_against_enumeration(void **state)
{
	enum { D = 9, NB = 6 };
	const size_t off[2] = {1, 6}, n[2] = {4, 3}, nfree[2] = {1, 0};
	double M[2][16], Mi[2][16], T[D * D], B[D * D], A[D * D], c[D], u0[D], g[D], w0[D];
	double w[D], best[D];
	size_t bnd[NB], nb = 0;
	struct fl_solver_block blk[2];
	struct fl_solver_bounds b = {2, blk};
	struct fl_qp_status st;
	int held_total = 0;

	(void)state;
	lcg_state = 20261206;
	for (int trial = 0; trial < 40; trial++) {
		int found = 0;

		nb = 0;
		memset(T, 0, sizeof(T));
		for (size_t j = 0; j < D; j++)
			T[j * D + j] = 1;
		for (int k = 0; k < 2; k++) {
			size_t m = n[k];

			/* M unit lower triangular, Mi its inverse by forward
			 * substitution. */
			for (size_t i = 0; i < m; i++)
				for (size_t j = 0; j < m; j++)
					M[k][i * m + j] = i == j ? 1 : i > j ? lcg_normal() : 0;
			for (size_t j = 0; j < m; j++)
				for (size_t i = 0; i < m; i++) {
					double t = i == j ? 1 : 0;

					for (size_t q = 0; q < i; q++)
						t -= M[k][i * m + q] * Mi[k][q * m + j];
					Mi[k][i * m + j] = t;
				}
			blk[k] = (struct fl_solver_block){off[k], m, nfree[k], M[k], Mi[k]};
			for (size_t i = 0; i < m; i++)
				for (size_t j = 0; j < m; j++)
					T[(off[k] + i) * D + off[k] + j] = M[k][i * m + j];
			for (size_t i = nfree[k]; i < m; i++)
				bnd[nb++] = off[k] + i;
		}
		/* B = R R' + I / 2, random. */
		{
			double R[D * D];

			for (size_t i = 0; i < D * D; i++)
				R[i] = lcg_normal();
			for (size_t i = 0; i < D; i++)
				for (size_t j = 0; j < D; j++) {
					double t = i == j ? 0.5 : 0;

					for (size_t q = 0; q < D; q++)
						t += R[i * D + q] * R[j * D + q];
					B[i * D + j] = t;
				}
		}
		for (size_t j = 0; j < D; j++) {
			g[j] = 3 * lcg_normal();
			w0[j] = lcg_normal();
		}
		/* A = T'BT, c = T'g, u0 = T^-1 w0 (by elimination). */
		for (size_t i = 0; i < D; i++)
			for (size_t j = 0; j < D; j++) {
				double t = 0;

				for (size_t p = 0; p < D; p++)
					for (size_t q = 0; q < D; q++)
						t += T[p * D + i] * B[p * D + q] * T[q * D + j];
				A[i * D + j] = t;
			}
		for (size_t i = 0; i < D; i++) {
			c[i] = 0;
			for (size_t p = 0; p < D; p++)
				c[i] += T[p * D + i] * g[p];
		}
		{
			double Tc[D * D];

			memcpy(Tc, T, sizeof(T));
			memcpy(u0, w0, sizeof(u0));
			gauss_solve(Tc, u0, D);
		}
		for (unsigned set = 0; set < 1u << NB; set++) {
			unsigned char held[D] = {0};
			size_t fr[D], nf = 0;
			double F[D * D], y[D], u[D], r[D];
			int ok = 1;

			for (size_t q = 0; q < NB; q++)
				held[bnd[q]] = (set >> q) & 1;
			for (size_t j = 0; j < D; j++)
				if (!held[j])
					fr[nf++] = j;
			/* A_FF u_F = A_FF u0_F + A_FH u0_H - c_F */
			for (size_t a = 0; a < nf; a++) {
				y[a] = -c[fr[a]];
				for (size_t j = 0; j < D; j++)
					y[a] += A[fr[a] * D + j] * u0[j];
				for (size_t e = 0; e < nf; e++)
					F[a * nf + e] = A[fr[a] * D + fr[e]];
			}
			gauss_solve(F, y, nf);
			memset(u, 0, sizeof(u));
			for (size_t a = 0; a < nf; a++)
				u[fr[a]] = y[a];
			for (size_t i = 0; i < D; i++) {
				r[i] = c[i];
				for (size_t j = 0; j < D; j++)
					r[i] += A[i * D + j] * (u[j] - u0[j]);
			}
			for (size_t q = 0; q < NB; q++)
				ok &= held[bnd[q]] ? r[bnd[q]] >= 0 : u[bnd[q]] >= 0;
			if (!ok)
				continue;
			assert_false(found);
			found = 1;
			held_total += __builtin_popcount(set);
			for (size_t i = 0; i < D; i++) {
				best[i] = 0;
				for (size_t j = 0; j < D; j++)
					best[i] += T[i * D + j] * u[j];
			}
		}
		assert_true(found);
		assert_int_equal(fl_solver_qp(D, &b, B, g, w0, w, &st), 0);
		assert_true(st.converged);
		for (size_t j = 0; j < D; j++)
			if (fabs(w[j] - best[j]) > 1e-9 * (1 + fabs(best[j])))
				fail_msg("trial %d: w[%zu] = %.17g, the enumeration's %.17g", trial,
				         j, w[j], best[j]);
		assert_true(st.kkt <= 1e-9 * (1 + st.tol / 1e-10));
	}
	/* The constraints bound in many of the trials, not in none. */
	printf("  qp: %d bound coordinates held at 0 over 40 trials\n", held_total);
	assert_true(held_total >= 20);
}

/*
 * Without blocks the step is Newton's, w = w0 - B^-1 g, the arithmetic of
 * the differential privacy plan's step before shape constraints (a copy
 * of B, -g solved in place, w0 added): the same bits. With blocks whose
 * bounds do not bind, the same point to rounding.
 */
static void newton_step(size_t d, const double *B, const double *g, const double *w0, double *w)
{
	double *F = malloc(d * d * sizeof(double));

	assert_non_null(F);
	memcpy(F, B, d * d * sizeof(double));
	for (size_t j = 0; j < d; j++)
		w[j] = -g[j];
	assert_int_equal(fl_linalg_spd_solve(F, d, w), 0);
	for (size_t j = 0; j < d; j++)
		w[j] += w0[j];
	free(F);
}

static void test_qp_unconstrained_is_newton(void **state)
{
	enum { D = 6 };
	double B[D * D], g[D], w0[D], w[D], ref[D];
	const double C2[4] = {1, 0, 1, 1}, D2[4] = {1, 0, -1, 1};
	const struct fl_solver_block blk = {2, 2, 1, C2, D2};
	const struct fl_solver_bounds b = {1, &blk};
	struct fl_qp_status st;

	(void)state;
	lcg_state = 7;
	for (size_t i = 0; i < D; i++)
		for (size_t j = 0; j <= i; j++)
			B[i * D + j] = B[j * D + i] =
			        i == j ? 4 + lcg_uniform() : 0.3 * lcg_normal();
	for (size_t j = 0; j < D; j++) {
		g[j] = lcg_normal();
		w0[j] = lcg_normal();
	}
	newton_step(D, B, g, w0, ref);
	assert_int_equal(fl_solver_qp(D, NULL, B, g, w0, w, &st), 0);
	assert_memory_equal(w, ref, sizeof(w));
	assert_true(st.converged);
	/* The block's increment w_3 - w_2 >= 0 holds at the Newton point
	 * (made so by choosing w0): the bounds change nothing. */
	w0[3] = w0[2] + 10;
	newton_step(D, B, g, w0, ref);
	assert_true(ref[3] - ref[2] > 1);
	assert_int_equal(fl_solver_qp(D, &b, B, g, w0, w, &st), 0);
	assert_true(st.converged);
	assert_int_equal(st.n_held, 0);
	for (size_t j = 0; j < D; j++)
		assert_true(fabs(w[j] - ref[j]) < 1e-13 * (1 + fabs(ref[j])));
}

/*
 * A face whose matrix is singular in doubles (B's block [[1, 1], [1, 1]]):
 * Cholesky fails on it, the ridge lets the method go on, and since every
 * later step on that face is ridged too it stops at the cap, 8 (2 + 1) =
 * 24 iterations, saying it did not converge, at a feasible point that is
 * a minimum: from w0 = (0, 1/4, 1/4), both weights free, q = -(s - 1/2) +
 * (s - 1/2)^2 / 2 in s = w1 + w2 is least on s = 3/2.
 */
static void test_qp_singular_face(void **state)
{
	const double B[9] = {1, 0, 0, 0, 1, 1, 0, 1, 1}, g[3] = {0, -1, -1};
	const double w0[3] = {0, 0.25, 0.25};
	const struct fl_solver_block blk = {1, 2, 0, I2, I2};
	const struct fl_solver_bounds b = {1, &blk};
	struct fl_qp_status st;
	double w[3];

	(void)state;
	assert_int_equal(fl_solver_qp(3, &b, B, g, w0, w, &st), 0);
	assert_false(st.converged);
	assert_int_equal(st.iterations, 24);
	assert_true(w[0] == 0 && w[1] >= 0 && w[2] >= 0);
	assert_true(fabs(w[1] + w[2] - 1.5) < 1e-9);
}

/* Errors name what is wrong. */
static void test_qp_errors(void **state)
{
	const double B[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, w0[3] = {0};
	double g[3] = {1, 1, 1}, w[3];
	const struct fl_solver_block wide = {2, 2, 0, I2, I2}, ok = {1, 2, 0, I2, I2};
	const struct fl_solver_bounds bw = {1, &wide}, bo = {1, &ok};
	struct fl_qp_status st;

	(void)state;
	assert_int_equal(fl_solver_qp(3, &bw, B, g, w0, w, &st), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "solver: constrained block 0 (columns 2 to 4) does not "
	                                 "fit 3 coefficients");
	g[1] = NAN;
	assert_int_equal(fl_solver_qp(3, &bo, B, g, w0, w, &st), FL_ERR_NUMERIC);
	assert_string_equal(fl_errmsg(), "solver: the quadratic model is not finite");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_solver_names),
	        cmocka_unit_test(test_solver_new_rejects_bad_options),
	        cmocka_unit_test(test_intercept_only_closed_form),
	        cmocka_unit_test(test_binary_feature_closed_form),
	        cmocka_unit_test(test_synthetic_newton_lbfgs_agree),
	        cmocka_unit_test(test_ask_tell_matches_train),
	        cmocka_unit_test(test_solver_run),
	        cmocka_unit_test(test_max_iter_stops_unconverged),
	        cmocka_unit_test(test_sgd_reaches_optimum),
	        cmocka_unit_test(test_sgd_intercept_unpenalised),
	        cmocka_unit_test(test_sgd_prox_pins_to_anchor),
	        cmocka_unit_test(test_sgd_rejects_bad_options),
	        cmocka_unit_test(test_tell_non_finite),
	        cmocka_unit_test(test_newton_separable_no_penalty),
	        cmocka_unit_test(test_checkpoint_resume_newton),
	        cmocka_unit_test(test_newton_reuses_hessian),
	        cmocka_unit_test(test_newton_warm_hessian),
	        cmocka_unit_test(test_newton_sampled_hessian),
	        cmocka_unit_test(test_newton_predicts_last_gradient),
	        cmocka_unit_test(test_newton_wrong_prediction),
	        cmocka_unit_test(test_checkpoint_resume_lbfgs),
	        cmocka_unit_test(test_checkpoint_layout),
	        cmocka_unit_test(test_checkpoint_warm_start),
	        cmocka_unit_test(test_checkpoint_dim),
	        cmocka_unit_test(test_checkpoint_truncated_refused),
	        cmocka_unit_test(test_newton_stops_when_steps_are_negligible),
	        cmocka_unit_test(test_checkpoint_bad_fields_refused),
	        cmocka_unit_test(test_checkpoint_kept_hessian_refused),
	        cmocka_unit_test(test_checkpoint_version1_newton),
	        cmocka_unit_test(test_checkpoint_byte_flips),
	        cmocka_unit_test(test_checkpoint_failed_solver),
	        cmocka_unit_test(test_qp_hand_worked),
	        cmocka_unit_test(test_qp_isotonic),
	        cmocka_unit_test(test_qp_against_enumeration),
	        cmocka_unit_test(test_qp_unconstrained_is_newton),
	        cmocka_unit_test(test_qp_singular_face),
	        cmocka_unit_test(test_qp_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
