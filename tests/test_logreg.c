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
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/logreg.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_solver_names),
	        cmocka_unit_test(test_solver_new_rejects_bad_options),
	        cmocka_unit_test(test_intercept_only_closed_form),
	        cmocka_unit_test(test_binary_feature_closed_form),
	        cmocka_unit_test(test_synthetic_newton_lbfgs_agree),
	        cmocka_unit_test(test_ask_tell_matches_train),
	        cmocka_unit_test(test_max_iter_stops_unconverged),
	        cmocka_unit_test(test_sgd_reaches_optimum),
	        cmocka_unit_test(test_sgd_intercept_unpenalised),
	        cmocka_unit_test(test_sgd_prox_pins_to_anchor),
	        cmocka_unit_test(test_sgd_rejects_bad_options),
	        cmocka_unit_test(test_tell_non_finite),
	        cmocka_unit_test(test_newton_separable_no_penalty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
