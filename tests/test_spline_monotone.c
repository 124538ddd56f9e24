/*
 * Tests for "monotone": "increasing" | "decreasing" on spline and bins
 * features, enforced by the Newton solver (src/core/solver_bounds.c,
 * the monotone part of src/core/spline.c): on noisy data whose true
 * effect is monotone, the unconstrained curve dips and the constrained
 * one does not (checked on a fine grid, beyond the boundary knots too);
 * the constrained optimum satisfies the KKT conditions, checked here from
 * the rows with this file's own arithmetic; --explain's curve is
 * monotone; the model file keeps the constraint; solvers that cannot
 * enforce it refuse it with the exact message; the check a node makes of
 * a final model's weights (fl_spline_monotone_verify()) refuses them
 * beyond its tolerance, naming the feature.
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
#include <unistd.h>

#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/model.h"
#include "fedlead/schema.h"
#include "fedlead/spline.h"
#include "fedlead/train.h"

#include "support/schema_parse.h"

#define HEAD                                                                                       \
	"{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": \"1\", "             \
	"\"negative\": \"0\"}, \"features\": ["

/* Knots 0, 1, ..., 10: many, so that an unconstrained fit follows noise. */
#define KNOTS "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"
#define L2 0.5

/* One binned feature whose effect may not rise. */
#define DECREASING_BINS                                                                            \
	HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"bins\", \"knots\": [0, "   \
	     "5, "                                                                                 \
	     "10], \"monotone\": \"decreasing\"}]}"

#define parse_ok(json) schema_parse_ok((json), "t.json")

static uint64_t next(uint64_t *st)
{
	uint64_t z = (*st += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *st)
{
	return (double)(next(st) >> 11) / 9007199254740992.0;
}

/* A saturating true effect: rises to 5, flat from there (where noise
 * makes an unconstrained curve wiggle); sign -1 turns it around. */
static double truth(double a, double sign)
{
	return sign * 2.5 * (a < 5 ? a / 5 - 1 : 0);
}

/* n rows "y,a" with a uniform on [0, 10], y drawn from the true effect. */
static void write_rows(const char *path, size_t n, uint64_t seed, double sign)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fprintf(fp, "y,a\n");
	for (size_t i = 0; i < n; i++) {
		double a = 10 * uniform(&seed);
		double p = 1 / (1 + exp(-(truth(a, sign) + 0.5)));

		fprintf(fp, "%d,%.6f\n", uniform(&seed) < p, a);
	}
	assert_int_equal(fclose(fp), 0);
}

static char *temp_rows(size_t n, uint64_t seed, double sign)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/fl_test_monotone_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_rows(path, n, seed, sign);
	return path;
}

/* The schema of schema_json and the rows of path read under it. */
static struct fl_schema *load(const char *schema_json, const char *path, struct fl_dataset **ds)
{
	struct fl_schema *s = parse_ok(schema_json);
	struct fl_load_report rep;

	*ds = NULL;
	assert_int_equal(fl_dataset_load(s, path, FL_BAD_ROWS_FAIL, ds, &rep), 0);
	return s;
}

static struct fl_model *train(const char *schema_json, const char *path, enum fl_solver_kind solver,
                              int *rc, struct fl_dataset **dsp)
{
	struct fl_dataset *ds;
	struct fl_schema *s = load(schema_json, path, &ds);
	struct fl_train_opts o;
	struct fl_train_report tr;
	struct fl_model *m = NULL;

	fl_train_opts_default(&o);
	o.solver = solver;
	o.l2 = L2;
	fl_err_clear();
	*rc = fl_train_local(s, ds, &o, &m, &tr);
	if (*rc == 0 && solver == FL_SOLVER_NEWTON)
		assert_true(tr.status.converged);
	if (dsp != NULL)
		*dsp = ds;
	else
		fl_dataset_free(ds);
	fl_schema_free(s);
	return m;
}

/* The deepest dip of feature 0's effect (sign +1: the largest fall from
 * a point to any later one; sign -1: the largest rise) on a fine grid
 * from 3 below the first knot to 3 above the last (the linear
 * continuation included). */
static double worst_violation(const struct fl_model *m, double sign)
{
	double worst = 0, peak = sign * fl_spline_effect(m, 0, -3);

	for (int k = 1; k <= 3200; k++) {
		double e = sign * fl_spline_effect(m, 0, -3 + 16.0 * k / 3200);

		if (peak - e > worst)
			worst = peak - e;
		if (e > peak)
			peak = e;
	}
	return worst;
}

/* On monotone but noisy data, the unconstrained curve dips; asked
 * "increasing", it never falls, also beyond the boundary knots. */
static void check_dip_removed(const char *transform, double sign)
{
	char plain[512], mono[512];
	const char *path = temp_rows(1500, 11, sign);
	struct fl_model *mp, *mm;
	int rc;

	snprintf(plain, sizeof(plain),
	         HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"%s\", "
	              "\"knots\": " KNOTS "}]}",
	         transform);
	snprintf(mono, sizeof(mono),
	         HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"%s\", "
	              "\"knots\": " KNOTS ", \"monotone\": \"%s\"}]}",
	         transform, sign > 0 ? "increasing" : "decreasing");
	mp = train(plain, path, FL_SOLVER_NEWTON, &rc, NULL);
	assert_int_equal(rc, 0);
	mm = train(mono, path, FL_SOLVER_NEWTON, &rc, NULL);
	if (rc != 0)
		fail_msg("monotone training failed: %s", fl_errmsg());
	/* The data make the free curve dip by a visible amount (0.12 to 2
	 * log-odds here)... */
	assert_true(worst_violation(mp, sign) > 0.1);
	/* ...and the constrained one not at all (rounding aside). */
	assert_true(worst_violation(mm, sign) <= 1e-9);
	/* It still follows the data's rise from 0 to 5. */
	assert_true(sign * (fl_spline_effect(mm, 0, 7) - fl_spline_effect(mm, 0, 0.2)) > 1.5);
	fl_model_free(mp);
	fl_model_free(mm);
	unlink(path);
}

static void test_spline_increasing(void **state)
{
	(void)state;
	check_dip_removed("spline", 1);
}

static void test_spline_decreasing(void **state)
{
	(void)state;
	check_dip_removed("spline", -1);
}

static void test_bins_increasing(void **state)
{
	(void)state;
	check_dip_removed("bins", 1);
}

static void test_bins_decreasing(void **state)
{
	(void)state;
	check_dip_removed("bins", -1);
}

/*
 * KKT of the constrained optimum, from the rows and this file's own
 * arithmetic: the objective's gradient g (log-loss summed over rows plus
 * l2/2 |w_1..|^2), and for the block the B-spline weights beta = P' w
 * (P the spline's column transform, P = L^-1, so the block is beta' b).
 * Moving u_k (beta_k - beta_{k-1} times the direction, k >= 1) moves
 * beta_k.. together, which moves w by L' e_{k..}: its derivative is
 * D_k = dir * sum_{m >= k} (L g)_m. At the optimum, D_k = 0 where u_k > 0
 * and D_k >= 0 where u_k = 0; the level (sum of all (L g)_m) and the
 * intercept have zero derivative.
 */
static void check_kkt(const char *transform, double sign)
{
	char mono[512];
	const char *path = temp_rows(1500, 29, sign);
	struct fl_dataset *ds = NULL;
	struct fl_model *m;
	const struct fl_feature *f;
	size_t d, nb, o;
	double *g, *L, *Lg, *beta, scale;
	int rc, bound = 0;

	snprintf(mono, sizeof(mono),
	         HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"%s\", "
	              "\"knots\": " KNOTS ", \"monotone\": \"%s\"}]}",
	         transform, sign > 0 ? "increasing" : "decreasing");
	m = train(mono, path, FL_SOLVER_NEWTON, &rc, &ds);
	if (rc != 0)
		fail_msg("monotone training failed: %s", fl_errmsg());
	f = &m->schema->features[0];
	d = m->schema->dim;
	nb = fl_spline_basis_width(f);
	o = f->enc_offset;
	assert_int_equal(d, 1 + nb);
	/* The block's columns enter the solver unscaled (like one-hot). */
	for (size_t j = 1; j < d; j++) {
		assert_true(m->scaler->center[j] == 0);
		assert_true(m->scaler->scale[j] == 1);
	}
	g = calloc(d, sizeof(double));
	L = calloc(nb * nb, sizeof(double));
	Lg = calloc(nb, sizeof(double));
	beta = calloc(nb, sizeof(double));
	assert_true(g && L && Lg && beta);
	for (size_t i = 0; i < ds->n; i++) {
		const double *x = ds->X + i * ds->dim;
		double z = m->w[0];

		for (size_t j = 1; j < d; j++)
			z += m->w[j] * x[j];
		z = 1 / (1 + exp(-z)) - ds->y[i];
		g[0] += z;
		for (size_t j = 1; j < d; j++)
			g[j] += z * x[j];
	}
	for (size_t j = 1; j < d; j++)
		g[j] += L2 * m->w[j];
	/* L = P^-1 by Gauss-Jordan on [P | I] (P lower triangular, so no
	 * pivoting); bins have P = I. */
	{
		double *A = calloc(nb * 2 * nb, sizeof(double));

		assert_non_null(A);
		for (size_t r = 0; r < nb; r++) {
			for (size_t c = 0; c < nb; c++)
				A[r * 2 * nb + c] = f->pspline != NULL ? f->pspline[r * nb + c]
				                                       : (double)(r == c);
			A[r * 2 * nb + nb + r] = 1;
		}
		for (size_t c = 0; c < nb; c++) {
			double piv = A[c * 2 * nb + c];

			for (size_t k = 0; k < 2 * nb; k++)
				A[c * 2 * nb + k] /= piv;
			for (size_t r = 0; r < nb; r++) {
				double t = A[r * 2 * nb + c];

				if (r == c || t == 0)
					continue;
				for (size_t k = 0; k < 2 * nb; k++)
					A[r * 2 * nb + k] -= t * A[c * 2 * nb + k];
			}
		}
		for (size_t r = 0; r < nb; r++)
			memcpy(L + r * nb, A + r * 2 * nb + nb, nb * sizeof(double));
		free(A);
	}
	for (size_t r = 0; r < nb; r++) {
		for (size_t k = 0; k < nb; k++) {
			Lg[r] += L[r * nb + k] * g[o + k];
			beta[r] +=
			        (f->pspline != NULL ? f->pspline[k * nb + r] : (double)(k == r)) *
			        m->w[o + k];
		}
	}
	/* Tolerances against the gradient's own size (rows, not 1). */
	scale = (double)ds->n * 1e-7;
	assert_true(fabs(g[0]) <= scale);
	{
		double level = 0;

		for (size_t r = 0; r < nb; r++)
			level += Lg[r];
		assert_true(fabs(level) <= scale);
	}
	for (size_t k = 1; k < nb; k++) {
		double D = 0, u = sign * (beta[k] - beta[k - 1]);

		for (size_t r = k; r < nb; r++)
			D += Lg[r];
		D *= sign;
		/* Primal: the weights keep their order. */
		assert_true(u >= -1e-12);
		if (u > 1e-9) {
			if (fabs(D) > scale)
				fail_msg("free increment %zu (%g) has derivative %g", k, u, D);
		} else {
			if (D < -scale)
				fail_msg("bound increment %zu has derivative %g < 0", k, D);
			bound += D > 1e-3; /* the constraint holds it */
		}
	}
	/* The constraint is active somewhere: else this checked nothing. */
	assert_true(bound > 0);
	free(g);
	free(L);
	free(Lg);
	free(beta);
	fl_dataset_free(ds);
	fl_model_free(m);
	unlink(path);
}

static void test_kkt_spline_increasing(void **state)
{
	(void)state;
	check_kkt("spline", 1);
}

static void test_kkt_spline_decreasing(void **state)
{
	(void)state;
	check_kkt("spline", -1);
}

static void test_kkt_bins_increasing(void **state)
{
	(void)state;
	check_kkt("bins", 1);
}

/* The model file keeps the constraint, and --explain's curve says so and
 * is monotone. */
static void test_model_file_and_explain(void **state)
{
	const char *path = temp_rows(1500, 11, 1);
	struct fl_model *m, *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, got, n = 0;
	char text[8192], *line;
	double prev = -INFINITY;
	FILE *fp;
	int rc;

	(void)state;
	m = train(HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": \"spline\", "
	               "\"knots\": " KNOTS ", \"monotone\": \"increasing\"}]}",
	          path, FL_SOLVER_NEWTON, &rc, NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(fl_model_encode(m, &buf, &len), 0);
	assert_int_equal(fl_model_decode(buf, len, "m.fdl", &back), 0);
	assert_int_equal(back->schema->features[0].monotone, 1);
	assert_non_null(strstr(back->schema->canonical, "\"monotone\":\"increasing\""));
	assert_memory_equal(back->schema->fingerprint, m->schema->fingerprint, FL_FINGERPRINT_LEN);
	assert_true(worst_violation(back, 1) <= 1e-9);

	assert_non_null(fp = tmpfile());
	assert_int_equal(fl_spline_explain(back, fp), 0);
	rewind(fp);
	got = fread(text, 1, sizeof(text) - 1, fp);
	text[got] = '\0';
	fclose(fp);
	assert_non_null(strstr(text, "Effect of a (spline, 11 knots at 0, 1, 2, 3, 4, 5, 6, 7, "
	                             "8, 9, 10; asked increasing), log-odds against the "
	                             "average lead:\n"));
	/* Every printed point of the curve is at least the one before it (the
	 * text's four decimals). */
	for (line = strchr(text, '\n'); line != NULL; line = strchr(line + 1, '\n')) {
		double at, e;

		if (sscanf(line + 1, "%lf %lf", &at, &e) != 2)
			continue;
		assert_true(e >= prev);
		prev = e;
		n++;
	}
	assert_int_equal(n, 21);
	free(buf);
	fl_model_free(back);
	fl_model_free(m);
	unlink(path);
}

/*
 * On a plain or log1p numeric feature "monotone" is the sign of its
 * weight. The data's effect of a is falling (sign -1); asked "increasing",
 * the best the model can do is no effect: the weight is 0 and the
 * objective's derivative along a growing weight, computed here from the
 * rows, is positive (the bound holds it); asked "decreasing", the weight
 * is the free fit's, negative.
 */
static void check_sign(const char *transform)
{
	char inc[400], dec[400], free_[400];
	const char *path = temp_rows(1500, 41, -1);
	struct fl_dataset *ds = NULL;
	struct fl_model *mi, *md, *mf;
	double g = 0, z0;
	int rc;

	snprintf(free_, sizeof(free_), HEAD "{\"name\": \"a\", \"type\": \"numeric\"%s%s%s}]}",
	         transform ? ", \"transform\": \"" : "", transform ? transform : "",
	         transform ? "\"" : "");
	snprintf(inc, sizeof(inc),
	         HEAD
	         "{\"name\": \"a\", \"type\": \"numeric\", \"monotone\": \"increasing\"%s%s%s}]}",
	         transform ? ", \"transform\": \"" : "", transform ? transform : "",
	         transform ? "\"" : "");
	snprintf(dec, sizeof(dec),
	         HEAD
	         "{\"name\": \"a\", \"type\": \"numeric\", \"monotone\": \"decreasing\"%s%s%s}]}",
	         transform ? ", \"transform\": \"" : "", transform ? transform : "",
	         transform ? "\"" : "");
	mf = train(free_, path, FL_SOLVER_NEWTON, &rc, NULL);
	assert_int_equal(rc, 0);
	mi = train(inc, path, FL_SOLVER_NEWTON, &rc, &ds);
	assert_int_equal(rc, 0);
	md = train(dec, path, FL_SOLVER_NEWTON, &rc, NULL);
	assert_int_equal(rc, 0);
	assert_true(mf->w[1] < -0.1);
	assert_true(fabs(md->w[1] - mf->w[1]) <= 1e-9 * fabs(mf->w[1]));
	assert_true(mi->w[1] == 0);
	/* The objective's derivative in w_1 at the constrained optimum,
	 * from the rows: sum (p - y) x, x standardised as the model does. */
	for (size_t i = 0; i < ds->n; i++) {
		double x = (ds->X[i * ds->dim + 1] - mi->scaler->center[1]) / mi->scaler->scale[1];

		z0 = mi->w[0] + mi->w[1] * x;
		g += (1 / (1 + exp(-z0)) - ds->y[i]) * x;
	}
	assert_true(g > 1);
	/* The canonical form and a model read back keep it. */
	assert_non_null(strstr(mi->schema->canonical, "\"monotone\":\"increasing\""));
	{
		uint8_t *buf = NULL;
		size_t len = 0;
		struct fl_model *rb = NULL;

		assert_int_equal(fl_model_encode(mi, &buf, &len), 0);
		assert_int_equal(fl_model_decode(buf, len, "m.fdl", &rb), 0);
		assert_int_equal(rb->schema->features[0].monotone, 1);
		free(buf);
		fl_model_free(rb);
	}
	fl_dataset_free(ds);
	fl_model_free(mf);
	fl_model_free(mi);
	fl_model_free(md);
	unlink(path);
}

static void test_sign_plain(void **state)
{
	(void)state;
	check_sign(NULL);
}

static void test_sign_log1p(void **state)
{
	(void)state;
	check_sign("log1p");
}

/* L-BFGS and SGD do not enforce it, and say so instead of ignoring it;
 * a word other than the two is refused by the schema. */
static void test_refusals(void **state)
{
	const char *path = temp_rows(200, 5, 1);
	const char *schema = DECREASING_BINS;
	struct fl_schema *s = NULL;
	const char *bad = HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": "
	                       "\"spline\", \"monotone\": \"up\"}]}";
	struct fl_model *m;
	int rc;

	(void)state;
	m = train(schema, path, FL_SOLVER_LBFGS, &rc, NULL);
	assert_int_equal(rc, FL_ERR_INVALID);
	assert_null(m);
	assert_string_equal(fl_errmsg(), "feature \"a\": \"monotone\" is enforced by the newton "
	                                 "solver only, not by lbfgs; train with newton or "
	                                 "remove it");
	m = train(schema, path, FL_SOLVER_SGD, &rc, NULL);
	assert_int_equal(rc, FL_ERR_INVALID);
	assert_null(m);
	assert_string_equal(fl_errmsg(), "feature \"a\": \"monotone\" is enforced by the newton "
	                                 "solver only, not by sgd; train with newton or "
	                                 "remove it");
	m = train(schema, path, FL_SOLVER_NEWTON, &rc, NULL);
	assert_int_equal(rc, 0);
	fl_model_free(m);
	fl_err_clear();
	assert_int_equal(fl_schema_parse(bad, strlen(bad), "t.json", &s), FL_ERR_SCHEMA);
	assert_string_equal(fl_errmsg(), "t.json: features[0].monotone (feature \"a\"): must be "
	                                 "\"increasing\" or \"decreasing\"");
	unlink(path);
}

/*
 * --l2 auto --cv approx takes each fold's model as an unconstrained Newton
 * step, which cannot keep a monotone effect: refused, naming why; --cv
 * exact fits every fold with the constraint.
 */
static void test_cv_approx_refused(void **state)
{
	const char *path = temp_rows(200, 5, 1);
	struct fl_dataset *ds;
	struct fl_schema *s = load(DECREASING_BINS, path, &ds);
	struct fl_train_opts o;
	struct fl_train_report tr;
	struct fl_model *m = NULL;

	(void)state;
	fl_train_opts_default(&o);
	o.l2_auto = 1;
	o.cv = FL_CV_APPROX;
	fl_err_clear();
	assert_int_equal(fl_train_local(s, ds, &o, &m, &tr), FL_ERR_INVALID);
	assert_null(m);
	assert_string_equal(fl_errmsg(), "train: approximate cross-validation cannot keep the "
	                                 "schema's monotone effects; use exact");
	o.cv = FL_CV_EXACT;
	assert_int_equal(fl_train_local(s, ds, &o, &m, &tr), 0);
	assert_int_equal(tr.cv, FL_CV_EXACT);
	fl_model_free(m);
	fl_dataset_free(ds);
	fl_schema_free(s);
	unlink(path);
}

/*
 * fl_spline_monotone_verify(), the check each node makes of a final
 * model: bins "a" declared decreasing (its bin weights must not rise) and
 * plain "b" declared increasing (its weight not negative). A rise of 0.2
 * between bins 1 and 2 is refused naming the feature, the bins and the
 * tolerance 1e-9 (1 + 1) = 2e-9; a rise of 1e-9 is within it, one of
 * 3e-9 is not; b's negative weight is refused.
 */
static void test_verify(void **state)
{
	const char *json = HEAD "{\"name\": \"a\", \"type\": \"numeric\", \"transform\": "
	                        "\"bins\", \"knots\": [0, 5, 10, 15], \"monotone\": "
	                        "\"decreasing\"}, {\"name\": \"b\", \"type\": \"numeric\", "
	                        "\"monotone\": \"increasing\"}]}";
	struct fl_schema *s = parse_ok(json);
	size_t a = s->features[0].enc_offset, b = s->features[1].enc_offset;
	double *w = calloc(s->dim, sizeof(double));

	(void)state;
	assert_non_null(w);
	w[a] = 1;
	w[a + 1] = 0.5;
	w[a + 2] = 0.5;
	w[b] = 0.1;
	assert_int_equal(fl_spline_monotone_verify(s, w), 0);
	w[a + 2] = 0.5 + 1e-9;
	assert_int_equal(fl_spline_monotone_verify(s, w), 0);
	w[a + 2] = 0.5 + 3e-9;
	assert_int_equal(fl_spline_monotone_verify(s, w), FL_ERR_DATA);
	w[a + 2] = 0.7;
	assert_int_equal(fl_spline_monotone_verify(s, w), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "feature \"a\" is declared \"monotone\": \"decreasing\", "
	                                 "but the model's bin weights 1 and 2 make its effect "
	                                 "rise by 0.2 log-odds (tolerance 2e-09)");
	w[a + 2] = 0.5;
	w[b] = -0.1;
	assert_int_equal(fl_spline_monotone_verify(s, w), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "feature \"b\" is declared \"monotone\": \"increasing\", "
	                                 "but its weight in the model is -0.1, so its effect "
	                                 "falls");
	free(w);
	fl_schema_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spline_increasing),
	        cmocka_unit_test(test_spline_decreasing),
	        cmocka_unit_test(test_bins_increasing),
	        cmocka_unit_test(test_bins_decreasing),
	        cmocka_unit_test(test_kkt_spline_increasing),
	        cmocka_unit_test(test_kkt_spline_decreasing),
	        cmocka_unit_test(test_kkt_bins_increasing),
	        cmocka_unit_test(test_model_file_and_explain),
	        cmocka_unit_test(test_sign_plain),
	        cmocka_unit_test(test_sign_log1p),
	        cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_cv_approx_refused),
	        cmocka_unit_test(test_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
