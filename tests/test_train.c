/*
 * Tests for src/train.c: local training on the CoIL 2000 leads.
 *
 * The central check is a golden model: tests/tools/reference_logreg.py fits
 * the same L2-regularised logistic regression with numpy, sharing no code
 * with fedlead, and wrote tests/data/golden/coil2000_l2_1.json. fedlead must
 * reproduce its scaler and weights. Other checks compute what they need with
 * naive loops written here (gradient, objective, AUC), never with fedlead's
 * kernels.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cv_int.h"
#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/logreg.h"
#include "fedlead/metrics.h"
#include "fedlead/schema.h"
#include "fedlead/splitmix.h"
#include "fedlead/train.h"

#define COIL_SCHEMA FL_TEST_DATA "/coil2000/coil2000.schema.json"
#define COIL_DATA FL_TEST_DATA "/coil2000/train.csv"
#define GOLDEN FL_TEST_DATA "/golden/coil2000_l2_1.json"

/* Loaded once: the CoIL schema and raw rows, and fedlead's Newton fit on all
 * rows with l2 = 1, which several tests compare against. */
struct fixture {
	struct fl_schema *s;
	struct fl_dataset *raw;
	struct fl_model *newton;
	struct fl_train_report newton_rep;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct fl_load_report lrep;
	struct fl_train_opts o;

	if (fx == NULL)
		return -1;
	*state = fx;
	if (fl_schema_load(COIL_SCHEMA, &fx->s) != 0 ||
	    fl_dataset_load(fx->s, COIL_DATA, FL_BAD_ROWS_FAIL, &fx->raw, &lrep) != 0) {
		fprintf(stderr, "setup: %s\n", fl_errmsg());
		return -1;
	}
	fl_train_opts_default(&o);
	o.solver = FL_SOLVER_NEWTON;
	o.l2 = 1.0;
	o.valid_frac = 0;
	if (fl_train_local(fx->s, fx->raw, &o, &fx->newton, &fx->newton_rep) != 0) {
		fprintf(stderr, "setup: %s\n", fl_errmsg());
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx == NULL)
		return 0;
	fl_model_free(fx->newton);
	fl_dataset_free(fx->raw);
	fl_schema_free(fx->s);
	free(fx);
	return 0;
}

/* ---- independent helpers ---- */

static double rel_diff(const double *a, const double *b, size_t n, double *max_abs)
{
	double num = 0, den = 0;

	*max_abs = 0;
	for (size_t j = 0; j < n; j++) {
		double d = a[j] - b[j];

		num += d * d;
		den += b[j] * b[j];
		if (fabs(d) > *max_abs)
			*max_abs = fabs(d);
	}
	return sqrt(num) / sqrt(den);
}

/*
 * Standardises a copy of the raw rows the way the documentation says
 * (population mean and standard deviation of each numeric value column over
 * all rows, two-pass), without fedlead's scaler. Caller frees.
 */
static double *standardise_by_hand(const struct fl_schema *s, const struct fl_dataset *raw)
{
	size_t n = raw->n, d = raw->dim;
	double *X = malloc(n * d * sizeof(double));

	assert_non_null(X);
	memcpy(X, raw->X, n * d * sizeof(double));
	for (size_t f = 0; f < s->n_features; f++) {
		size_t j = s->features[f].enc_offset;
		double mean = 0, var = 0, sd;

		if (s->features[f].type != FL_NUMERIC)
			continue;
		/* CoIL has no missing values: every numeric is missing=error. */
		assert_int_equal(s->features[f].missing, FL_MISSING_ERROR);
		for (size_t i = 0; i < n; i++)
			mean += X[i * d + j];
		mean /= (double)n;
		for (size_t i = 0; i < n; i++)
			var += (X[i * d + j] - mean) * (X[i * d + j] - mean);
		var /= (double)n;
		sd = var > 1e-12 * (1 + mean * mean) ? sqrt(var) : 1.0;
		for (size_t i = 0; i < n; i++)
			X[i * d + j] = (X[i * d + j] - mean) / sd;
	}
	return X;
}

static double sigmoid(double z)
{
	return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

/*
 * Gradient of f(w) = sum_i c_i [log(1+e^z_i) - y_i z_i] + l2/2 sum_{j>=1} w_j^2
 * with a plain double loop; c_i = pos_weight for converted rows, else 1.
 */
static double grad_norm_by_hand(const double *X, const double *y, size_t n, size_t d,
                                const double *w, double l2, double pos_weight)
{
	double *g = calloc(d, sizeof(double)), norm = 0;

	assert_non_null(g);
	for (size_t i = 0; i < n; i++) {
		double z = 0, r, c = y[i] > 0.5 ? pos_weight : 1.0;

		for (size_t j = 0; j < d; j++)
			z += X[i * d + j] * w[j];
		r = c * (sigmoid(z) - y[i]);
		for (size_t j = 0; j < d; j++)
			g[j] += r * X[i * d + j];
	}
	for (size_t j = 1; j < d; j++)
		g[j] += l2 * w[j];
	for (size_t j = 0; j < d; j++)
		norm += g[j] * g[j];
	free(g);
	return sqrt(norm);
}

static double objective_by_hand(const double *X, const double *y, size_t n, size_t d,
                                const double *w, double l2)
{
	double f = 0;

	for (size_t i = 0; i < n; i++) {
		double z = 0;

		for (size_t j = 0; j < d; j++)
			z += X[i * d + j] * w[j];
		/* log(1 + e^z) - y z, written so neither exp overflows */
		f += (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - y[i] * z;
	}
	for (size_t j = 1; j < d; j++)
		f += 0.5 * l2 * w[j] * w[j];
	return f;
}

/* AUC by counting pairs: P(score of a positive > score of a negative),
 * ties one half. O(pos * neg), fine for a validation part. */
static double auc_by_pairs(const double *z, const double *y, size_t n)
{
	double num = 0, pairs = 0;

	for (size_t i = 0; i < n; i++) {
		if (y[i] < 0.5)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (y[k] > 0.5)
				continue;
			num += z[i] > z[k] ? 1.0 : z[i] == z[k] ? 0.5 : 0.0;
			pairs += 1;
		}
	}
	return num / pairs;
}

static json_t *golden_array(json_t *g, const char *key, size_t n)
{
	json_t *a = json_object_get(g, key);

	assert_true(json_is_array(a));
	assert_int_equal(json_array_size(a), n);
	return a;
}

/* ---- tests ---- */

/* fedlead's fit on all CoIL rows equals the independent numpy fit. */
static void test_golden_model(void **state)
{
	struct fixture *fx = *state;
	const struct fl_model *m = fx->newton;
	json_error_t jerr;
	json_t *g = json_load_file(GOLDEN, 0, &jerr), *cols, *wa, *ca, *sa;
	double *wref, rel, max_abs;
	char name[256];

	if (g == NULL)
		fail_msg("%s:%d: %s", GOLDEN, jerr.line, jerr.text);
	assert_int_equal(json_integer_value(json_object_get(g, "rows")), fx->raw->n);
	assert_int_equal(json_integer_value(json_object_get(g, "positives")), 348);
	assert_int_equal(json_integer_value(json_object_get(g, "dim")), m->dim);
	assert_true(json_number_value(json_object_get(g, "l2")) == 1.0);
	assert_int_equal(m->prov.rows, 5822);
	assert_int_equal(m->prov.positives, 348);
	assert_true(m->prov.l2 == 1.0);
	assert_int_equal(fx->newton_rep.valid.rows, 0);

	/* Same encoded columns in the same order. */
	cols = golden_array(g, "columns", m->dim);
	for (size_t j = 0; j < m->dim; j++) {
		fl_schema_column_name(fx->s, j, name, sizeof(name));
		assert_string_equal(name, json_string_value(json_array_get(cols, j)));
	}
	/* Same standardisation (two-pass numpy against fedlead's sums: equal to
	 * rounding). */
	ca = golden_array(g, "center", m->dim);
	sa = golden_array(g, "scale", m->dim);
	for (size_t j = 0; j < m->dim; j++) {
		double c = json_number_value(json_array_get(ca, j));
		double sc = json_number_value(json_array_get(sa, j));

		assert_true(fabs(m->scaler->center[j] - c) <= 1e-12 * (1 + fabs(c)));
		assert_true(fabs(m->scaler->scale[j] - sc) <= 1e-12 * sc);
	}
	/* Same weights. */
	wa = golden_array(g, "weights", m->dim);
	wref = malloc(m->dim * sizeof(double));
	assert_non_null(wref);
	for (size_t j = 0; j < m->dim; j++)
		wref[j] = json_number_value(json_array_get(wa, j));
	rel = rel_diff(m->w, wref, m->dim, &max_abs);
	printf("golden: ||w - w_ref|| / ||w_ref|| = %.3g, max |w_j - w_ref_j| = %.3g\n", rel,
	       max_abs);
	assert_true(rel <= 1e-6);
	/* Same objective value at the solution. */
	assert_true(fabs(fx->newton_rep.status.objective -
	                 json_number_value(json_object_get(g, "objective"))) <=
	            1e-9 * json_number_value(json_object_get(g, "objective")));
	assert_true(fx->newton_rep.status.converged);
	free(wref);
	json_decref(g);
}

/* The gradient of the objective, computed here with a naive loop over rows
 * standardised here, vanishes at fedlead's Newton solution. */
static void test_newton_gradient_vanishes(void **state)
{
	struct fixture *fx = *state;
	double *X = standardise_by_hand(fx->s, fx->raw);
	double gn =
	        grad_norm_by_hand(X, fx->raw->y, fx->raw->n, fx->raw->dim, fx->newton->w, 1.0, 1.0);

	printf("||grad f|| at the Newton solution: %.3g (bound %.3g)\n", gn,
	       1e-8 * (double)fx->raw->n);
	assert_true(gn < 1e-8 * (double)fx->raw->n);
	/* The objective fedlead reports is the objective at its weights. */
	assert_true(fabs(objective_by_hand(X, fx->raw->y, fx->raw->n, fx->raw->dim, fx->newton->w,
	                                   1.0) -
	                 fx->newton_rep.status.objective) <=
	            1e-9 * fx->newton_rep.status.objective);
	free(X);
}

/* Newton and L-BFGS minimise the same strictly convex function. */
static void test_lbfgs_agrees_with_newton(void **state)
{
	struct fixture *fx = *state;
	struct fl_train_opts o;
	struct fl_train_report rep;
	struct fl_model *m = NULL;
	double rel, max_abs;

	fl_train_opts_default(&o);
	o.solver = FL_SOLVER_LBFGS;
	o.l2 = 1.0;
	if (fl_train_local(fx->s, fx->raw, &o, &m, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_true(rep.status.converged);
	assert_string_equal(m->prov.solver, "lbfgs");
	rel = rel_diff(m->w, fx->newton->w, m->dim, &max_abs);
	printf("L-BFGS vs Newton: relative %.3g, max abs %.3g (%d iterations)\n", rel, max_abs,
	       rep.status.iterations);
	assert_true(rel <= 1e-6);
	fl_model_free(m);
}

/* SGD gets close to the optimum: objective within 1 % of Newton's. */
static void test_sgd_near_optimum(void **state)
{
	struct fixture *fx = *state;
	struct fl_train_opts o;
	struct fl_train_report rep;
	struct fl_model *m = NULL;
	double *X, f_sgd, f_newton = fx->newton_rep.status.objective;

	fl_train_opts_default(&o);
	o.solver = FL_SOLVER_SGD;
	o.l2 = 1.0;
	if (fl_train_local(fx->s, fx->raw, &o, &m, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	X = standardise_by_hand(fx->s, fx->raw);
	f_sgd = objective_by_hand(X, fx->raw->y, fx->raw->n, fx->raw->dim, m->w, 1.0);
	printf("SGD objective %.10g, Newton %.10g (+%.3f %%)\n", f_sgd, f_newton,
	       100 * (f_sgd - f_newton) / f_newton);
	/* Newton's is the minimum; SGD can only be above it. */
	assert_true(f_sgd >= f_newton * (1 - 1e-12));
	assert_true(f_sgd <= 1.01 * f_newton);
	/* What train reports is the objective at the weights it returned. */
	assert_true(fabs(rep.status.objective - f_sgd) <= 1e-9 * f_sgd);
	assert_string_equal(m->prov.solver, "sgd");
	free(X);
	fl_model_free(m);
}

/* --l2 auto with a 20 % validation split (seed 1). */
static void test_l2_auto_validation(void **state)
{
	struct fixture *fx = *state;
	struct fl_train_opts o;
	struct fl_train_report rep;
	struct fl_model *m = NULL;
	struct fl_dataset *tr = NULL, *va = NULL;
	double grid[FL_L2_GRID_MAX], *z;
	size_t n_grid = fl_l2_grid(grid, FL_L2_GRID_MAX), best = 0;

	fl_train_opts_default(&o);
	o.l2_auto = 1;
	o.valid_frac = 0.2;
	o.seed = 1;
	if (fl_train_local(fx->s, fx->raw, &o, &m, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	printf("l2 auto: chose l2 = %g, validation AUC %.4f on %llu leads\n", rep.l2, rep.valid.auc,
	       (unsigned long long)rep.valid.rows);
	assert_true(rep.valid.auc >= 0.73);

	/* Every grid point was tried and the one with the lowest validation
	 * log-loss was chosen. */
	assert_int_equal(rep.n_grid, n_grid);
	for (size_t g = 0; g < n_grid; g++) {
		assert_true(rep.grid[g].l2 == grid[g]);
		assert_true(isfinite(rep.grid[g].valid_log_loss));
		if (rep.grid[g].valid_log_loss < rep.grid[best].valid_log_loss)
			best = g;
	}
	assert_true(rep.l2 == grid[best]);
	assert_true(m->prov.l2 == rep.l2);

	/* The held-out rows are the split's, and the AUC is the model's on
	 * them: recomputed here by counting pairs. */
	assert_int_equal(fl_dataset_split(fx->raw, 0.2, 1, &tr, &va), 0);
	assert_int_equal(rep.valid.rows, va->n);
	assert_int_equal(rep.train.rows, tr->n);
	assert_int_equal(m->prov.rows, tr->n);
	assert_int_equal(m->prov.valid.rows, va->n);
	z = malloc(va->n * sizeof(double));
	assert_non_null(z);
	for (size_t i = 0; i < va->n; i++) {
		z[i] = 0;
		for (size_t j = 0; j < va->dim; j++)
			z[i] += m->w[j] * (va->X[i * va->dim + j] - m->scaler->center[j]) /
			        m->scaler->scale[j];
	}
	assert_true(fabs(auc_by_pairs(z, va->y, va->n) - rep.valid.auc) <= 1e-12);
	free(z);
	fl_dataset_free(tr);
	fl_dataset_free(va);
	fl_model_free(m);
}

/*
 * --l2 auto by 5-fold cross-validation warm-starts each fold's path from the
 * strength before; the figures of every candidate must be those of cold
 * fits from zero, one per fold and strength, made here on the standardised
 * rows with the fold rule of train.c (row i is in fold
 * mix64(seed ^ mix64(i ^ 0x5a5a)) % k), to the solver's tolerance: both
 * stop at a gradient norm of 1e-10 per row, from different starts, which
 * moves the log-loss by up to 4e-9 relative at l2 = 0.01 on CoIL's nearly
 * collinear columns.
 */
static void test_l2_auto_kfold_warm(void **state)
{
	struct fixture *fx = *state;
	const int k = 5;
	struct fl_train_opts o;
	struct fl_train_report rep;
	struct fl_model *m = NULL;
	struct fl_stats *st = NULL;
	struct fl_scaler *sc = NULL;
	struct fl_solver_status ss;
	size_t n = fx->raw->n, dim = fx->raw->dim, n_grid;
	struct fl_dataset *fit = fl_dataset_alloc(n, dim), *hold = fl_dataset_alloc(n, dim);
	double grid[FL_L2_GRID_MAX], *z = malloc(n * sizeof(double)),
	                             *yall = malloc(n * sizeof(double)),
	                             *w = malloc(dim * sizeof(double));
	double *x = malloc(dim * sizeof(double));

	assert_true(fit != NULL && hold != NULL && z != NULL && yall != NULL && w != NULL &&
	            x != NULL);
	n_grid = fl_l2_grid(grid, FL_L2_GRID_MAX);
	fl_train_opts_default(&o);
	o.l2_auto = 1;
	o.seed = 7;
	o.kfold = k;
	if (fl_train_local(fx->s, fx->raw, &o, &m, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(rep.n_grid, n_grid);

	assert_int_equal(fl_stats_new(dim, &st), 0);
	for (size_t i = 0; i < n; i++)
		fl_stats_add(st, fx->raw->X + i * dim, fx->raw->y[i]);
	assert_int_equal(fl_scaler_from_stats(fx->s, st, &sc), 0);
	for (size_t g = 0; g < n_grid; g++) {
		size_t nall = 0;

		for (int f = 0; f < k; f++) {
			fit->n = hold->n = 0;
			for (size_t i = 0; i < n; i++) {
				struct fl_dataset *to =
				        fl_mix64(o.seed ^ fl_mix64(i ^ 0x5a5a)) % (uint64_t)k ==
				                        (uint64_t)f
				                ? hold
				                : fit;

				memcpy(x, fx->raw->X + i * dim, dim * sizeof(double));
				fl_scaler_apply(sc, x);
				memcpy(to->X + to->n * dim, x, dim * sizeof(double));
				to->y[to->n++] = fx->raw->y[i];
			}
			memset(w, 0, dim * sizeof(double));
			assert_int_equal(fl_train_fit(fit, &o, grid[g], 1.0, w, &ss), 0);
			for (size_t i = 0; i < hold->n; i++) {
				z[nall] = 0;
				for (size_t j = 0; j < dim; j++)
					z[nall] += w[j] * hold->X[i * dim + j];
				yall[nall++] = hold->y[i];
			}
		}
		assert_int_equal(nall, n);
		assert_true(rep.grid[g].l2 == grid[g]);
		assert_true(fabs(rep.grid[g].valid_log_loss - fl_log_loss(z, yall, n)) <=
		            1e-7 * fl_log_loss(z, yall, n));
		assert_true(fabs(rep.grid[g].valid_auc - fl_auc(z, yall, n)) <= 1e-6);
	}
	free(x);
	free(w);
	free(z);
	free(yall);
	fl_dataset_free(fit);
	fl_dataset_free(hold);
	fl_scaler_free(sc);
	fl_stats_free(st);
	fl_model_free(m);
}

/* What the progress hook saw: every call, in order, by run. */
struct seen {
	size_t calls, runs;
	char phase[16][16];
	double l2[16];
	size_t fit[16], fits[16];
	int last_iteration[16];
};

static void record(void *arg, const struct fl_train_progress *p)
{
	struct seen *s = arg;

	s->calls++;
	if (s->runs == 0 || s->fit[s->runs - 1] != p->fit) {
		assert_true(s->runs < 16);
		snprintf(s->phase[s->runs], sizeof(s->phase[0]), "%s", p->phase);
		s->l2[s->runs] = p->l2;
		s->fit[s->runs] = p->fit;
		s->fits[s->runs] = p->fits;
		s->runs++;
	}
	/* Iterations grow within a run. */
	assert_true(p->iteration >= s->last_iteration[s->runs - 1]);
	s->last_iteration[s->runs - 1] = p->iteration;
	assert_true(isfinite(p->objective));
}

/* The progress hook names every solver run of --l2 auto with a validation
 * split: the grid from strong to weak penalty (runs 1 to 7 of 8, "l2
 * search"), then the final fit at the chosen l2 (run 8 of 8, "fit"). */
static void test_progress_hook(void **state)
{
	struct fixture *fx = *state;
	struct fl_train_opts o;
	struct fl_train_report rep;
	struct fl_model *m = NULL;
	struct seen seen = {0};
	double grid[FL_L2_GRID_MAX];
	size_t n_grid = fl_l2_grid(grid, FL_L2_GRID_MAX);

	assert_int_equal(n_grid, 7);
	fl_train_opts_default(&o);
	o.l2_auto = 1;
	o.valid_frac = 0.2;
	o.seed = 1;
	o.progress = record;
	o.progress_arg = &seen;
	if (fl_train_local(fx->s, fx->raw, &o, &m, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(seen.runs, 8);
	assert_true(seen.calls > 8);
	for (size_t k = 0; k < 7; k++) {
		assert_string_equal(seen.phase[k], "l2 search");
		assert_true(seen.l2[k] == grid[6 - k]);
		assert_int_equal(seen.fit[k], k + 1);
		assert_int_equal(seen.fits[k], 8);
	}
	assert_string_equal(seen.phase[7], "fit");
	assert_true(seen.l2[7] == rep.l2);
	assert_int_equal(seen.fit[7], 8);
	assert_int_equal(seen.fits[7], 8);
	fl_model_free(m);
}

/* Class weight "balanced" (pos_weight 0) weighs converted rows by
 * negatives / positives, and the fit is optimal for that weighting. */
static void test_class_weight_balanced(void **state)
{
	struct fixture *fx = *state;
	struct fl_train_opts o;
	struct fl_train_report rep;
	struct fl_model *m = NULL;
	double want = (5822.0 - 348.0) / 348.0, *X, gn;

	fl_train_opts_default(&o);
	o.pos_weight = 0;
	if (fl_train_local(fx->s, fx->raw, &o, &m, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_true(fabs(rep.pos_weight - want) <= 1e-12 * want);
	assert_true(fabs(m->prov.pos_weight - want) <= 1e-12 * want);
	X = standardise_by_hand(fx->s, fx->raw);
	gn = grad_norm_by_hand(X, fx->raw->y, fx->raw->n, fx->raw->dim, m->w, 1.0, want);
	assert_true(gn < 1e-8 * (double)fx->raw->n);
	/* ...and not for the unweighted objective (the weight was applied). */
	gn = grad_norm_by_hand(X, fx->raw->y, fx->raw->n, fx->raw->dim, m->w, 1.0, 1.0);
	assert_true(gn > 1.0);
	free(X);
	fl_model_free(m);
}

/* A small dataset built by hand: one numeric feature. */
static const char *TINY_SCHEMA = "{\"fedlead_schema\": 1,"
                                 " \"label\": {\"column\": \"won\", \"positive\": \"1\","
                                 " \"negative\": \"0\"},"
                                 " \"features\": [{\"name\": \"x\", \"type\": \"numeric\"}]}";

static void one_class(double label, const char *want)
{
	struct fl_schema *s = NULL;
	struct fl_dataset ds = {0};
	struct fl_train_opts o;
	struct fl_train_report rep;
	struct fl_model *m = (struct fl_model *)&ds; /* must be reset to NULL */
	double X[4 * 2] = {1, 0.5, 1, 1.5, 1, 2.5, 1, 4};
	double y[4] = {label, label, label, label};

	assert_int_equal(fl_schema_parse(TINY_SCHEMA, strlen(TINY_SCHEMA), "tiny", &s), 0);
	assert_int_equal(s->dim, 2);
	ds.n = 4;
	ds.dim = 2;
	ds.X = X;
	ds.y = y;
	fl_train_opts_default(&o);
	fl_err_clear();
	assert_int_equal(fl_train_local(s, &ds, &o, &m, &rep), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), want);
	assert_null(m);
	/* The rows were not touched (standardisation works on a copy). */
	assert_true(X[1] == 0.5 && X[7] == 4);
	fl_schema_free(s);
}

static void test_one_class_fails(void **state)
{
	(void)state;
	one_class(0.0, "the training rows contain only unconverted leads");
	one_class(1.0, "the training rows contain only converted leads");
}

/* --l2 auto on leads where one fold keeps a single class to fit on is
 * refused, naming the fold, instead of reporting NaN losses: here one
 * lead of 20 converted, so the fold that holds it out fits on unconverted
 * leads only. */
static void test_cv_fold_one_class(void **state)
{
	struct fl_schema *s = NULL;
	struct fl_dataset ds = {0};
	struct fl_train_opts o;
	struct fl_train_report rep;
	struct fl_model *m = NULL;
	double X[20 * 2], y[20];
	char want[256];

	(void)state;
	assert_int_equal(fl_schema_parse(TINY_SCHEMA, strlen(TINY_SCHEMA), "tiny", &s), 0);
	for (size_t i = 0; i < 20; i++) {
		X[2 * i] = 1;
		X[2 * i + 1] = (double)i;
		y[i] = i == 7;
	}
	ds.n = 20;
	ds.dim = 2;
	ds.X = X;
	ds.y = y;
	fl_train_opts_default(&o);
	o.l2_auto = 1;
	snprintf(want, sizeof(want),
	         "--l2 auto: fold %d of 5 leaves only unconverted leads to fit on (20 leads in "
	         "all): cross-validation needs both in every fold; give the strength with --l2 N",
	         fl_cv_fold(o.seed, 7, 5) + 1);
	fl_err_clear();
	assert_int_equal(fl_train_local(s, &ds, &o, &m, &rep), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), want);
	assert_null(m);
	fl_schema_free(s);
}

/* A dataset that does not match the schema, and a split that leaves one
 * side empty, are refused with their messages. */
static void test_bad_inputs(void **state)
{
	struct fl_schema *s = NULL;
	struct fl_dataset ds = {0};
	struct fl_train_opts o;
	struct fl_train_report rep;
	struct fl_model *m = NULL;
	double X[2 * 3] = {1, 0, 0, 1, 1, 1}, y[2] = {0, 1};

	(void)state;
	assert_int_equal(fl_schema_parse(TINY_SCHEMA, strlen(TINY_SCHEMA), "tiny", &s), 0);
	ds.n = 2;
	ds.dim = 3;
	ds.X = X;
	ds.y = y;
	fl_train_opts_default(&o);
	assert_int_equal(fl_train_local(s, &ds, &o, &m, &rep), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "dataset has 3 columns, the schema 2");
	assert_null(m);

	/* Two rows and a split of one in a million: (all but certainly) no row
	 * is held out, which must be refused rather than validated on nothing. */
	ds.dim = 2;
	o.valid_frac = 1e-6;
	assert_int_equal(fl_train_local(s, &ds, &o, &m, &rep), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "2 rows are too few for a validation split of 1e-06");
	assert_null(m);
	fl_schema_free(s);
}

/*
 * Leads for the cross-validation tests, drawn here from a known model:
 * numeric x1..x4 (x1 and x2 matter), CV_NOISE numeric columns of noise, and
 * a 40-level category whose levels shift the log-odds (sd 0.3). The noise
 * gives the penalty something to do, so the strengths' validation losses
 * differ clearly.
 */
#define CV_NOISE 30
#define CV_LEVELS 40

static double cv_unif(uint64_t *st)
{
	return ((double)(fl_splitmix64(st) >> 11) + 0.5) / 9007199254740992.0;
}

static double cv_normal(uint64_t *st)
{
	double u = cv_unif(st), v = cv_unif(st);

	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static void cv_leads(size_t n, uint64_t seed, struct fl_schema **s, struct fl_dataset **ds)
{
	char json[8192];
	size_t len, cat;
	double effect[CV_LEVELS];
	uint64_t st = seed;

	len = (size_t)snprintf(json, sizeof(json),
	                       "{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", "
	                       "\"positive\": \"1\", \"negative\": \"0\"}, \"features\": [");
	for (int j = 0; j < 4 + CV_NOISE; j++)
		len += (size_t)snprintf(json + len, sizeof(json) - len,
		                        "{\"name\": \"x%d\", \"type\": \"numeric\"}, ", j + 1);
	len += (size_t)snprintf(json + len, sizeof(json) - len,
	                        "{\"name\": \"source\", \"type\": \"categorical\", \"values\": [");
	for (int l = 0; l < CV_LEVELS; l++)
		len += (size_t)snprintf(json + len, sizeof(json) - len, "%s\"s%d\"", l ? ", " : "",
		                        l);
	len += (size_t)snprintf(json + len, sizeof(json) - len, "]}]}");
	assert_true(len < sizeof(json));
	assert_int_equal(fl_schema_parse(json, len, "cv", s), 0);
	cat = (*s)->features[4 + CV_NOISE].enc_offset;
	assert_non_null(*ds = fl_dataset_alloc(n, (*s)->dim));
	for (int l = 0; l < CV_LEVELS; l++)
		effect[l] = 0.3 * cv_normal(&st);
	for (size_t i = 0; i < n; i++) {
		double *x = (*ds)->X + i * (*ds)->dim, z = -1.0;
		int l = (int)(fl_splitmix64(&st) % CV_LEVELS);

		memset(x, 0, (*ds)->dim * sizeof(double));
		x[0] = 1;
		for (int j = 1; j <= 4 + CV_NOISE; j++)
			x[j] = cv_normal(&st);
		x[cat + (size_t)l] = 1;
		z += 0.8 * x[1] - 0.5 * x[2] + effect[l];
		(*ds)->y[i] = cv_unif(&st) < 1 / (1 + exp(-z));
	}
	(*ds)->n = n;
}

/*
 * --l2 auto's approximate cross-validation (one Newton step per fold from
 * the fit on all rows) against the exact one (every fold fitted, the path
 * test_l2_auto_kfold_warm holds to cold fits) on 20,000 leads (35 numeric
 * and 40 level columns): every strength's out-of-fold log-loss within 2e-4
 * relative (measured: 6e-5 at most; a fold's model left at the fit on all
 * rows would be about 7e-3 off, those rows being in it), AUC within 1e-3,
 * and the same strength chosen.
 */
static void test_cv_approx_near_exact(void **state)
{
	struct fl_schema *s = NULL;
	struct fl_dataset *ds = NULL;
	struct fl_train_opts o;
	struct fl_train_report ex, ap;
	struct fl_model *mx = NULL, *ma = NULL;

	(void)state;
	cv_leads(20000, 11, &s, &ds);
	assert_int_equal(s->dim, 75);
	fl_train_opts_default(&o);
	o.l2_auto = 1;
	o.cv = FL_CV_EXACT;
	if (fl_train_local(s, ds, &o, &mx, &ex) != 0)
		fail_msg("%s", fl_errmsg());
	o.cv = FL_CV_APPROX;
	if (fl_train_local(s, ds, &o, &ma, &ap) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(ex.cv, FL_CV_EXACT);
	assert_int_equal(ap.cv, FL_CV_APPROX);
	assert_int_equal(ap.n_grid, ex.n_grid);
	for (size_t g = 0; g < ex.n_grid; g++) {
		printf("l2 %-6g exact %.6f approx %.6f (%+.1e relative), AUC %.4f %.4f\n",
		       ex.grid[g].l2, ex.grid[g].valid_log_loss, ap.grid[g].valid_log_loss,
		       ap.grid[g].valid_log_loss / ex.grid[g].valid_log_loss - 1,
		       ex.grid[g].valid_auc, ap.grid[g].valid_auc);
		assert_true(ap.grid[g].l2 == ex.grid[g].l2);
		assert_true(fabs(ap.grid[g].valid_log_loss - ex.grid[g].valid_log_loss) <=
		            2e-4 * ex.grid[g].valid_log_loss);
		assert_true(fabs(ap.grid[g].valid_auc - ex.grid[g].valid_auc) <= 1e-3);
	}
	assert_true(ap.l2 == ex.l2);
	/* Approximate: the final fit starts at the path's point for that
	 * strength (fewer Newton iterations than from zero) and runs to the
	 * solver's tolerance: the cold fit's weights within 1e-9 relative,
	 * the precision federation needs. */
	assert_true(ap.status.converged);
	assert_true(ap.status.iterations < ex.status.iterations);
	{
		double dn = 0, nn = 0;

		for (size_t j = 0; j < s->dim; j++) {
			dn += (ma->w[j] - mx->w[j]) * (ma->w[j] - mx->w[j]);
			nn += mx->w[j] * mx->w[j];
		}
		printf("final weights: approx - exact %.1e relative, %d against %d iterations\n",
		       sqrt(dn / nn), ap.status.iterations, ex.status.iterations);
		assert_true(sqrt(dn) <= 1e-9 * sqrt(nn));
	}
	fl_model_free(mx);
	fl_model_free(ma);
	fl_dataset_free(ds);
	fl_schema_free(s);
}

/* fl_train_local()'s report, its model dropped; fails the test on an error. */
static void train_report(const struct fl_schema *s, const struct fl_dataset *ds,
                         const struct fl_train_opts *o, struct fl_train_report *rep)
{
	struct fl_model *m = NULL;

	if (fl_train_local(s, ds, o, &m, rep) != 0)
		fail_msg("%s", fl_errmsg());
	fl_model_free(m);
}

/*
 * --cv auto (the default) is exact below FL_CV_APPROX_MIN_ROWS training rows,
 * with the candidates of --cv exact bit for bit, and approximate from there
 * on; approx asked for where it cannot work is refused by name.
 */
static void test_cv_auto_threshold(void **state)
{
	struct fixture *fx = *state;
	struct fl_schema *s = NULL;
	struct fl_dataset *ds = NULL;
	struct fl_train_opts o;
	struct fl_train_report au, ex;
	struct fl_model *m = NULL;

	fl_train_opts_default(&o);
	o.l2_auto = 1;
	train_report(fx->s, fx->raw, &o, &au);
	o.cv = FL_CV_EXACT;
	train_report(fx->s, fx->raw, &o, &ex);
	assert_int_equal(au.cv, FL_CV_EXACT);
	assert_int_equal(au.n_grid, ex.n_grid);
	assert_memory_equal(au.grid, ex.grid, ex.n_grid * sizeof(ex.grid[0]));

	/* A validation split: no cross-validation to name. */
	o.cv = FL_CV_APPROX;
	o.valid_frac = 0.2;
	train_report(fx->s, fx->raw, &o, &au);
	assert_int_equal(au.cv, FL_CV_AUTO);

	/* Only Newton leaves the Hessians the step needs. */
	o.valid_frac = 0;
	o.solver = FL_SOLVER_LBFGS;
	fl_err_clear();
	assert_int_equal(fl_train_local(fx->s, fx->raw, &o, &m, &au), FL_ERR_INVALID);
	assert_string_equal(
	        fl_errmsg(),
	        "train: approximate cross-validation needs the newton solver, not lbfgs");
	assert_null(m);

	/* The threshold counts training rows: one below it, exact. */
	cv_leads(FL_CV_APPROX_MIN_ROWS, 5, &s, &ds);
	fl_train_opts_default(&o);
	o.l2_auto = 1;
	train_report(s, ds, &o, &au);
	assert_int_equal(au.cv, FL_CV_APPROX);
	ds->n = FL_CV_APPROX_MIN_ROWS - 1;
	o.max_iter = 1; /* what is asserted is the mode, not the fits */
	train_report(s, ds, &o, &au);
	assert_int_equal(au.cv, FL_CV_EXACT);
	fl_dataset_free(ds);
	fl_schema_free(s);
}

/*
 * A fold's system that is not positive definite in the approximation (as
 * a Hessian that underflowed would leave it; the test hook
 * fl_cv_test_indefinite_fold makes fold 2's so): --cv auto falls back to
 * exact cross-validation, with the candidates and the model of --cv exact
 * bit for bit; --cv approx is refused, naming the fold, the strength and
 * the way out.
 */
static void test_cv_approx_fallback(void **state)
{
	struct fl_schema *s = NULL;
	struct fl_dataset *ds = NULL;
	struct fl_train_opts o;
	struct fl_train_report au, ex;
	struct fl_model *ma = NULL, *mx = NULL;
	char want[256];

	(void)state;
	cv_leads(FL_CV_APPROX_MIN_ROWS, 5, &s, &ds);
	fl_train_opts_default(&o);
	o.l2_auto = 1;
	o.max_iter = 2; /* what is asserted is the mode and the fallback's bits */
	fl_cv_test_indefinite_fold = 1;
	if (fl_train_local(s, ds, &o, &ma, &au) != 0)
		fail_msg("%s", fl_errmsg());
	o.cv = FL_CV_EXACT;
	if (fl_train_local(s, ds, &o, &mx, &ex) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(au.cv, FL_CV_EXACT);
	assert_int_equal(au.n_grid, ex.n_grid);
	assert_memory_equal(au.grid, ex.grid, ex.n_grid * sizeof(ex.grid[0]));
	assert_true(au.l2 == ex.l2);
	assert_memory_equal(ma->w, mx->w, s->dim * sizeof(double));
	fl_model_free(ma);
	fl_model_free(mx);
	ma = NULL;
	o.cv = FL_CV_APPROX;
	fl_err_clear();
	assert_int_equal(fl_train_local(s, ds, &o, &ma, &au), FL_ERR_NUMERIC);
	assert_null(ma);
	snprintf(want, sizeof(want),
	         "approximate cross-validation, fold 2 of 5 at l2 10000: Hessian is not positive "
	         "definite (leading minor 1 of %zu); --cv exact fits every fold instead",
	         s->dim);
	assert_string_equal(fl_errmsg(), want);
	/* Without the hook the same leads take the approximation. */
	fl_cv_test_indefinite_fold = -1;
	o.cv = FL_CV_AUTO;
	train_report(s, ds, &o, &au);
	assert_int_equal(au.cv, FL_CV_APPROX);
	fl_dataset_free(ds);
	fl_schema_free(s);
}

/*
 * The approximation's step itself (core/cv.c), against the formula worked
 * out here with naive loops and Gaussian elimination: at any point w (not
 * only a solution), fold k's model is
 *   w_-k = w - (sum over other rows of c s(1-s) x x' + l2 I')^-1 (grad F(w) - g_k)
 * with grad F(w) the gradient of the whole objective (data term plus
 * l2 w', intercept unpenalised) and g_k fold k's share of the data term's;
 * its rows are scored by w_-k, fold after fold. With class weights, and
 * once with the folds' Hessians from the solver (kept) and once computed
 * afresh (kept NULL): the same scores.
 */
static void test_cv_one_step(void **state)
{
	enum { N = 3000, P = 4, D = P + 1, K = 5 };
	static const char *schema =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"1\","
	        " \"negative\": \"0\"}, \"features\": [{\"name\": \"a\", \"type\": \"numeric\"},"
	        " {\"name\": \"b\", \"type\": \"numeric\"}, {\"name\": \"c\", \"type\": "
	        "\"numeric\"},"
	        " {\"name\": \"d\", \"type\": \"numeric\"}]}";
	const double l2 = 3.0, pw = 2.5, w[D] = {-0.4, 0.7, -0.3, 0.05, 0.2};
	struct fl_schema *s = NULL;
	struct fl_dataset *ds;
	struct fl_rowset *rs = NULL;
	struct fl_cv_folds *f = NULL;
	double *z = malloc(N * sizeof(double)), *z2 = malloc(N * sizeof(double)),
	       *y = malloc(N * sizeof(double)), gall[D] = {0}, H[D * D], loss;
	size_t nz = 0, off = 0;
	uint64_t st = 99;

	(void)state;
	assert_true(z != NULL && z2 != NULL && y != NULL);
	assert_int_equal(fl_schema_parse(schema, strlen(schema), "cv", &s), 0);
	assert_int_equal(s->dim, D);
	assert_non_null(ds = fl_dataset_alloc(N, D));
	for (size_t i = 0; i < N; i++) {
		double *x = ds->X + i * D, t = 0.3;

		x[0] = 1;
		for (int j = 1; j < D; j++)
			x[j] = cv_normal(&st);
		t += x[1] - 0.5 * x[2];
		ds->y[i] = cv_unif(&st) < 1 / (1 + exp(-t));
	}
	ds->n = N;
	assert_int_equal(fl_rowset_from_dataset(s, ds, FL_ROWS_DENSE, &rs), 0);
	assert_int_equal(fl_cv_folds_new(rs, K, 3, pw, 1, &f), 0);
	/* The solver's evaluation at w leaves the folds' shares; it returns
	 * the data term's sums, as one pass over all rows would. */
	assert_int_equal(fl_cv_eval(f, w, &loss, gall, H), 0);
	assert_int_equal(fl_cv_oof_scores(f, w, l2, H, z, y, &nz), 0);
	assert_int_equal(nz, N);
	assert_int_equal(fl_cv_oof_scores(f, w, l2, NULL, z2, y, &nz), 0);
	assert_int_equal(nz, N);
	for (size_t i = 0; i < N; i++)
		assert_true(fabs(z2[i] - z[i]) <= 1e-12 * (1 + fabs(z[i])));

	/* Here: grad F(w) over all rows, with the penalty. */
	memset(gall, 0, sizeof(gall));
	for (size_t i = 0; i < N; i++) {
		const double *x = ds->X + i * D;
		double t = 0, c = ds->y[i] > 0.5 ? pw : 1;

		for (int j = 0; j < D; j++)
			t += w[j] * x[j];
		for (int j = 0; j < D; j++)
			gall[j] += c * (1 / (1 + exp(-t)) - ds->y[i]) * x[j];
	}
	for (int j = 1; j < D; j++)
		gall[j] += l2 * w[j];
	for (int k = 0; k < K; k++) {
		double A[D][D + 1] = {{0}}, wk[D];

		/* [A | b]: the other folds' Hessian plus l2 I', and g_k - grad F. */
		for (int j = 0; j < D; j++)
			A[j][D] = -gall[j];
		for (size_t i = 0; i < N; i++) {
			const double *x = ds->X + i * D;
			double t = 0, p, c = ds->y[i] > 0.5 ? pw : 1;
			int in = (int)(fl_mix64(3 ^ fl_mix64(i ^ 0x5a5a)) % K) == k;

			for (int j = 0; j < D; j++)
				t += w[j] * x[j];
			p = 1 / (1 + exp(-t));
			for (int j = 0; j < D; j++) {
				if (in)
					A[j][D] += c * (p - ds->y[i]) * x[j];
				else
					for (int l = 0; l < D; l++)
						A[j][l] += c * p * (1 - p) * x[j] * x[l];
			}
		}
		for (int j = 1; j < D; j++)
			A[j][j] += l2;
		/* Gaussian elimination (A is positive definite: no pivoting). */
		for (int j = 0; j < D; j++)
			for (int r = j + 1; r < D; r++) {
				double m = A[r][j] / A[j][j];

				for (int l = j; l <= D; l++)
					A[r][l] -= m * A[j][l];
			}
		for (int j = D - 1; j >= 0; j--) {
			double b = A[j][D];

			for (int l = j + 1; l < D; l++)
				b -= A[j][l] * wk[l];
			wk[j] = b / A[j][j];
		}
		for (int j = 0; j < D; j++)
			wk[j] += w[j];
		/* Fold k's rows, in their order, scored by w_-k. */
		for (size_t i = 0; i < N; i++) {
			const double *x = ds->X + i * D;
			double t = 0;

			if ((int)(fl_mix64(3 ^ fl_mix64(i ^ 0x5a5a)) % K) != k)
				continue;
			for (int j = 0; j < D; j++)
				t += wk[j] * x[j];
			assert_true(y[off] == ds->y[i]);
			assert_true(fabs(z[off] - t) <= 1e-9 * (1 + fabs(t)));
			off++;
		}
	}
	assert_int_equal(off, N);
	fl_cv_folds_free(f);
	fl_rowset_free(rs);
	fl_dataset_free(ds);
	fl_schema_free(s);
	free(z);
	free(z2);
	free(y);
}

/* The modes' names, as --cv takes them. */
static void test_cv_mode_parse(void **state)
{
	enum fl_cv_mode m = FL_CV_AUTO;

	(void)state;
	assert_int_equal(fl_cv_mode_parse("exact", &m), 0);
	assert_int_equal(m, FL_CV_EXACT);
	assert_string_equal(fl_cv_mode_name(m), "exact");
	assert_int_equal(fl_cv_mode_parse("approx", &m), 0);
	assert_int_equal(m, FL_CV_APPROX);
	assert_string_equal(fl_cv_mode_name(m), "approx");
	assert_int_equal(fl_cv_mode_parse("auto", &m), 0);
	assert_int_equal(m, FL_CV_AUTO);
	assert_string_equal(fl_cv_mode_name(m), "auto");
	assert_int_equal(fl_cv_mode_parse("Exact", &m), -1);
	assert_int_equal(fl_cv_mode_parse("", &m), -1);
	assert_int_equal(m, FL_CV_AUTO);
}

/* With an overwhelming l2 every penalised weight is ~0, so the unpenalised
 * intercept alone fits the data: sigmoid(w0) = base rate, w0 = log(2/3) for
 * 2 converted leads of 5. The scaler is the population mean and sd. */
static void test_huge_l2_gives_base_rate(void **state)
{
	struct fl_schema *s = NULL;
	struct fl_dataset ds = {0};
	struct fl_train_opts o;
	struct fl_train_report rep;
	struct fl_model *m = NULL;
	double X[5 * 2] = {1, 1, 1, 2, 1, 3, 1, 4, 1, 5}, y[5] = {0, 1, 0, 0, 1};

	(void)state;
	assert_int_equal(fl_schema_parse(TINY_SCHEMA, strlen(TINY_SCHEMA), "tiny", &s), 0);
	ds.n = 5;
	ds.dim = 2;
	ds.X = X;
	ds.y = y;
	fl_train_opts_default(&o);
	o.l2 = 1e12;
	if (fl_train_local(s, &ds, &o, &m, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	/* Mean 3, population sd sqrt(2). */
	assert_true(fabs(m->scaler->center[1] - 3.0) < 1e-15);
	assert_true(fabs(m->scaler->scale[1] - sqrt(2.0)) < 1e-15);
	assert_true(fabs(m->w[0] - log(2.0 / 3.0)) < 1e-9);
	assert_true(fabs(m->w[1]) < 1e-9);
	assert_int_equal(m->prov.rows, 5);
	assert_int_equal(m->prov.positives, 2);
	fl_model_free(m);
	fl_schema_free(s);
}

/*
 * Many dense rows (200,000 x 5, where Newton's first steps take their
 * Hessian from a sample of the rows, logreg.h): the weights of
 * fl_train_fit() are those of Newton with every Hessian exact (the
 * single-piece kernel, fl_logreg_train()) to 1e-9 relative, and the same
 * bits for 1 and 2 threads.
 */
static void test_many_rows_sampled_hessian(void **state)
{
	enum { N = 200000, D = 5 };
	struct fl_dataset ds = {.n = N, .dim = D};
	struct fl_train_opts o;
	struct fl_solver_opts so = {.l2 = 1.0, .tol = 1e-10 * N, .max_iter = 100};
	struct fl_solver_status st;
	double w1[D] = {0}, w2[D] = {0}, we[D] = {0}, wt[D] = {-1.5, 1.0, -0.5, 0.25, 2.0}, dmax;
	uint64_t rng = 11;

	(void)state;
	ds.X = malloc(N * D * sizeof(double));
	ds.y = malloc(N * sizeof(double));
	assert_non_null(ds.X);
	assert_non_null(ds.y);
	for (size_t i = 0; i < N; i++) {
		double z = wt[0];

		ds.X[i * D] = 1;
		for (size_t j = 1; j < D; j++) {
			ds.X[i * D + j] = 2 * ((double)(fl_splitmix64(&rng) >> 11) * 0x1.0p-53) - 1;
			z += wt[j] * ds.X[i * D + j];
		}
		ds.y[i] = (double)(fl_splitmix64(&rng) >> 11) * 0x1.0p-53 < 1 / (1 + exp(-z));
	}
	fl_train_opts_default(&o);
	o.threads = 1;
	assert_int_equal(fl_train_fit(&ds, &o, 1.0, 1.0, w1, &st), 0);
	assert_true(st.converged);
	o.threads = 2;
	assert_int_equal(fl_train_fit(&ds, &o, 1.0, 1.0, w2, &st), 0);
	assert_memory_equal(w1, w2, sizeof(w1));
	assert_int_equal(fl_logreg_train(&(struct fl_logreg_data){N, D, ds.X, ds.y, NULL},
	                                 FL_SOLVER_NEWTON, &so, we, &st),
	                 0);
	assert_true(st.converged);
	assert_true(rel_diff(w1, we, D, &dmax) <= 1e-9);
	free(ds.X);
	free(ds.y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_golden_model),
	        cmocka_unit_test(test_newton_gradient_vanishes),
	        cmocka_unit_test(test_lbfgs_agrees_with_newton),
	        cmocka_unit_test(test_sgd_near_optimum),
	        cmocka_unit_test(test_l2_auto_validation),
	        cmocka_unit_test(test_l2_auto_kfold_warm),
	        cmocka_unit_test(test_progress_hook),
	        cmocka_unit_test(test_class_weight_balanced),
	        cmocka_unit_test(test_one_class_fails),
	        cmocka_unit_test(test_cv_fold_one_class),
	        cmocka_unit_test(test_bad_inputs),
	        cmocka_unit_test(test_huge_l2_gives_base_rate),
	        cmocka_unit_test(test_cv_approx_near_exact),
	        cmocka_unit_test(test_cv_auto_threshold),
	        cmocka_unit_test(test_cv_approx_fallback),
	        cmocka_unit_test(test_cv_one_step),
	        cmocka_unit_test(test_cv_mode_parse),
	        cmocka_unit_test(test_many_rows_sampled_hessian),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
