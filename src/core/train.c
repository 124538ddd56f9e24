/*
 * Local training pipeline: split, standardise, choose l2, fit, measure.
 */
#include "fedlead/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cv_int.h"
#include "fedlead/cache.h"
#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/metrics.h"
#include "fedlead/parallel.h"
#include "fedlead/spline.h"

void fl_train_opts_default(struct fl_train_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->solver = FL_SOLVER_NEWTON;
	o->l2 = 1.0;
	o->pos_weight = 1.0;
	o->seed = 1;
}

size_t fl_l2_grid(double *out, size_t max)
{
	/* Decades around the useful range of the sum-form penalty: at 1e-2 the
	 * model is nearly unregularised, at 1e4 a few thousand rows are shrunk
	 * hard towards the base rate. */
	static const double grid[] = {1e-2, 1e-1, 1, 10, 100, 1e3, 1e4};
	size_t n = sizeof(grid) / sizeof(grid[0]);

	if (n > max)
		n = max;
	memcpy(out, grid, n * sizeof(double));
	return n;
}

int fl_cv_mode_parse(const char *text, enum fl_cv_mode *out)
{
	static const enum fl_cv_mode modes[] = {FL_CV_AUTO, FL_CV_EXACT, FL_CV_APPROX};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(text, fl_cv_mode_name(modes[i])) == 0) {
			*out = modes[i];
			return 0;
		}
	return -1;
}

const char *fl_cv_mode_name(enum fl_cv_mode m)
{
	return m == FL_CV_EXACT ? "exact" : m == FL_CV_APPROX ? "approx" : "auto";
}

static int weights_for(const struct fl_rowset *d, double pos_weight, double **c)
{
	*c = NULL;
	if (pos_weight == 1.0)
		return 0;
	if ((*c = malloc((d->n ? d->n : 1) * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < d->n; i++)
		(*c)[i] = d->y[i] > 0.5 ? pos_weight : 1.0;
	return 0;
}

static unsigned threads_of(const struct fl_train_opts *o)
{
	return o->threads > 0 ? o->threads : fl_threads_default();
}

/* fl_train_local()'s count of solver runs, for its progress lines. */
struct tracker {
	const struct fl_train_opts *o;
	struct fl_train_progress p;
};

static void track(void *arg, const struct fl_solver_status *st)
{
	struct tracker *t = arg;

	t->p.iteration = st->iterations;
	t->p.objective = st->objective;
	t->o->progress(t->o->progress_arg, &t->p);
}

/* fl_solver_run()'s driver over standardised rows. */
struct fit_eval {
	const struct fl_rowset *rows;
	struct fl_cv_folds *folds; /* not NULL: the same rows, fold by fold */
	const double *c;
	unsigned threads;
	struct tracker *t; /* NULL: no progress */
};

static int eval_rows(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	const struct fit_eval *fe = arg;

	if (fe->folds != NULL)
		return fl_cv_eval(fe->folds, w, loss, grad, hess);
	return fl_rowset_logistic(fe->rows, fe->c, w, fe->threads, loss, grad, hess);
}

static int eval_rows_sampled(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	const struct fit_eval *fe = arg;

	return fl_rowset_logistic_sampled(fe->rows, fe->c, w, fe->threads, loss, grad, hess);
}

/* Whether Newton's first steps take their Hessian from a sample of the
 * rows (logreg.h, fl_solver_opts.hess_sample): dense rows only (a compact
 * row's Hessian costs its few pairs, not d^2), as many as linalg.h says. */
static int hess_sample_pays(const struct fl_rowset *rs)
{
	return rs->nk == 0 && rs->ns == 0 && fl_hess_sample_pays(rs->n, rs->d);
}

static void progress_rows(void *arg, const struct fl_solver_status *st)
{
	track(((struct fit_eval *)arg)->t, st);
}

/* The rows as one dense matrix, for SGD's shuffled mini-batches. */
static double *densify(const struct fl_rowset *rs)
{
	double *X;

	if (rs->nk == 0 && rs->ns == 0)
		return NULL;
	if ((X = fl_matrix_alloc(rs->n ? rs->n : 1, rs->d)) == NULL)
		return NULL;
	for (size_t i = 0; i < rs->n; i++)
		fl_rowset_row(rs, i, X + i * rs->d);
	return X;
}

/* Along a path of penalties: the Hessian a Newton run kept, handed to the
 * next run (fl_solver_opts.hess0), and its distance (infinite: none). */
struct warm_hess {
	double *H; /* d * d */
	double dz;
};

/* One solver run at l2, counted as the next of t's runs (t may be NULL),
 * with the schema's shape constraints b (NULL: none; Newton only), warm
 * started with wh's Hessian and leaving its own there (wh may be NULL).
 * folds (Newton or L-BFGS; may be NULL) holds std's rows fold by fold and
 * their class weights: the passes run over it. */
static int fit_tracked(const struct fl_rowset *std, const struct fl_train_opts *opts, double l2,
                       double pos_weight, const struct fl_solver_bounds *b, double *w,
                       struct fl_solver_status *st, struct tracker *t, struct warm_hess *wh,
                       struct fl_cv_folds *folds)
{
	double *c = NULL, *g = NULL, *Xd = NULL, loss;
	int r;

	memset(st, 0, sizeof(*st));
	if (folds == NULL && (r = weights_for(std, pos_weight, &c)) != 0)
		return r;
	if (opts->solver == FL_SOLVER_SGD) {
		struct fl_logreg_data data = {std->n, std->d, std->X, std->y, c};
		struct fl_sgd_opts so = {
		        .l2 = l2,
		        .epochs = opts->epochs ? opts->epochs : 50,
		        .batch = opts->batch ? opts->batch : 64,
		        .lr = opts->lr > 0 ? opts->lr : 0.5,
		        .decay = 1e-3,
		        .seed = opts->seed,
		};

		/* SGD gathers rows in a shuffled order: compact rows are made
		 * dense for it (a copy; SGD is FedAvg's local step, not the
		 * path for big files). */
		if (std->nk > 0 || std->ns > 0) {
			if ((Xd = densify(std)) == NULL) {
				r = FL_ERR_NOMEM;
				goto out;
			}
			data.X = Xd;
		}
		if ((r = fl_logreg_sgd(&data, &so, w)) != 0)
			goto out;
		/* SGD has no convergence test of its own: report where it ended. */
		if ((g = malloc(std->d * sizeof(double))) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		if ((r = fl_rowset_logistic(std, c, w, threads_of(opts), &loss, g, NULL)) != 0)
			goto out;
		for (size_t j = 1; j < std->d; j++)
			g[j] += l2 * w[j];
		st->iterations = so.epochs;
		st->objective = loss + fl_logreg_penalty(l2, w, std->d);
		st->grad_norm = fl_linalg_nrm2(g, std->d);
		st->converged = 0;
	} else {
		struct fl_solver_opts so = {
		        .l2 = l2,
		        .tol = (opts->tol > 0 ? opts->tol : 1e-10) *
		               (std->n > 0 ? (double)std->n : 1.0),
		        .max_iter = opts->max_iter > 0
		                            ? opts->max_iter
		                            : (opts->solver == FL_SOLVER_NEWTON ? 100 : 10000),
		        .bounds = b,
		        .hess0 = wh != NULL && isfinite(wh->dz) ? wh->H : NULL,
		        .hess0_dz = wh != NULL && isfinite(wh->dz) ? wh->dz : 0,
		        .hess_sample = hess_sample_pays(std),
		};
		struct fit_eval fe = {std, folds, c, threads_of(opts), t};
		struct fl_solver_driver drv = {.eval = eval_rows,
		                               .eval_sampled = eval_rows_sampled,
		                               .arg = &fe,
		                               .keep = wh != NULL ? wh->H : NULL,
		                               .keep_dz = wh != NULL ? &wh->dz : NULL};

		if (std->d == 0) {
			r = fl_fail(FL_ERR_INVALID, "train: the data have no columns");
			goto out;
		}
		if (t != NULL && opts->progress != NULL) {
			t->p.fit++;
			t->p.l2 = l2;
			drv.progress = progress_rows;
		}
		/* Says "train" also when the solver's own memory ran out, as it
		 * always has for rows in memory. */
		if ((r = fl_solver_run(opts->solver, std->d, &so, &drv, w, st)) == FL_ERR_NOMEM)
			fl_fail(r, "train: out of memory for %zu coefficients", std->d);
	}
out:
	free(Xd);
	free(g);
	free(c);
	return r;
}

int fl_train_fit(const struct fl_dataset *std, const struct fl_train_opts *opts, double l2,
                 double pos_weight, double *w, struct fl_solver_status *st)
{
	struct fl_rowset rs = {.n = std->n,
	                       .cap = std->n,
	                       .d = std->dim,
	                       .nd = std->dim,
	                       .X = std->X,
	                       .y = std->y,
	                       .view = 1};
	int r;

	/* The dataset's own matrix, seen as dense rows (no copy). */
	if ((rs.dcol = malloc((std->dim ? std->dim : 1) * sizeof(uint32_t))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t j = 0; j < std->dim; j++)
		rs.dcol[j] = (uint32_t)j;
	r = fit_tracked(&rs, opts, l2, pos_weight, NULL, w, st, NULL, NULL, NULL);
	free(rs.dcol);
	return r;
}

static void measure(const struct fl_rowset *d, const double *w, struct fl_metric_set *m)
{
	double *z = malloc((d->n ? d->n : 1) * sizeof(double));

	memset(m, 0, sizeof(*m));
	m->rows = d->n;
	for (size_t i = 0; i < d->n; i++)
		m->positives += d->y[i] > 0.5;
	m->auc = m->log_loss = NAN;
	if (z == NULL || d->n == 0) {
		free(z);
		return;
	}
	fl_rowset_scores(d, w, z);
	m->auc = fl_auc(z, d->y, d->n);
	m->log_loss = fl_log_loss(z, d->y, d->n);
	free(z);
}

/*
 * Whether k-fold cross-validation on the n training rows approximates
 * (cv_int.h), by o->cv: AUTO where it can from FL_CV_APPROX_MIN_ROWS rows on,
 * APPROX where it can or an error naming why not.
 */
static int cv_approx(const struct fl_train_opts *o, size_t n, size_t d, int k,
                     const struct fl_solver_bounds *b, int *approx)
{
	*approx = 0;
	if (o->cv == FL_CV_EXACT)
		return 0;
	if (o->cv == FL_CV_APPROX) {
		if (o->solver != FL_SOLVER_NEWTON)
			return fl_fail(FL_ERR_INVALID,
			               "train: approximate cross-validation needs the newton "
			               "solver, not %s",
			               fl_solver_name(o->solver));
		if (b != NULL)
			return fl_fail(FL_ERR_INVALID,
			               "train: approximate cross-validation cannot keep the "
			               "schema's monotone effects; use exact");
		*approx = 1;
		return 0;
	}
	*approx = o->solver == FL_SOLVER_NEWTON && b == NULL && n >= FL_CV_APPROX_MIN_ROWS &&
	          fl_cv_hessian_bytes(k, d) <= FL_CV_APPROX_MAX_BYTES;
	return 0;
}

/*
 * The l2 search: validation log-loss and AUC for each of the n_grid
 * strengths, on the validation set va when there is one, otherwise by
 * k-fold cross-validation on tr (AUC over the pooled out-of-fold scores).
 * Each fit runs from strong to weak penalty, warm-started from the one
 * before it (the path is smooth, so Newton needs few steps per point).
 * Exact cross-validation (approx 0) gives each fold its own path, so its
 * rows are copied out once and not once per strength; SGD, which stops
 * where its epochs end rather than at the optimum, starts every fit from w
 * instead. Approximate cross-validation walks one path over all of tr,
 * held fold by fold, and takes the folds' models from each point of it.
 */
static int fold_classes(const struct fl_rowset *fit, int f, int k, size_t n)
{
	size_t pos = 0;

	for (size_t i = 0; i < fit->n; i++)
		pos += fit->y[i] > 0.5;
	if (pos > 0 && pos < fit->n)
		return 0;
	if (fit->n == 0)
		return fl_fail(FL_ERR_DATA,
		               "--l2 auto: fold %d of %d holds every lead (%zu leads in all): "
		               "cross-validation needs leads to fit on; give the strength "
		               "with --l2 N",
		               f + 1, k, n);
	return fl_fail(FL_ERR_DATA,
	               "--l2 auto: fold %d of %d leaves only %s leads to fit on (%zu leads "
	               "in all): cross-validation needs both in every fold; give the "
	               "strength with --l2 N",
	               f + 1, k, pos == 0 ? "unconverted" : "converted", n);
}

static int search_l2(const struct fl_rowset *tr, const struct fl_rowset *va,
                     const struct fl_train_opts *o, const double *grid, size_t n_grid, double pw,
                     const struct fl_solver_bounds *b, int approx, double *w, double *wpath,
                     struct fl_l2_candidate *cand, struct tracker *t)
{
	struct fl_rowset *fit = NULL, *hold = NULL;
	struct fl_cv_folds *folds = NULL;
	struct fl_solver_status st;
	struct fl_metric_set m;
	int k = o->kfold > 0 ? o->kfold : 5, warm = o->solver != FL_SOLVER_SGD, r = 0;
	double *z = NULL, *yall = NULL, *wf = NULL;
	struct warm_hess wh = {NULL, INFINITY}, *whp = NULL;
	size_t nall = 0;

	for (size_t g = 0; g < n_grid; g++)
		cand[g].l2 = grid[g];
	/* Newton hands each fit's Hessian to the next strength's, which
	 * starts where that one ended: its first point needs none. */
	if (o->solver == FL_SOLVER_NEWTON) {
		if ((wh.H = fl_matrix_alloc(tr->d ? tr->d : 1, tr->d ? tr->d : 1)) == NULL) {
			r = fl_fail(FL_ERR_NOMEM,
			            "train: out of memory for the Hessian of %zu "
			            "coefficients",
			            tr->d);
			goto out;
		}
		whp = &wh;
	}
	if (va != NULL) {
		for (size_t g = n_grid; g-- > 0;) {
			if ((r = fit_tracked(tr, o, grid[g], pw, b, w, &st, t, whp, NULL)) != 0)
				goto out;
			measure(va, w, &m);
			cand[g].valid_log_loss = m.log_loss;
			cand[g].valid_auc = m.auc;
		}
		goto out;
	}
	/* z holds every strength's out-of-fold scores, row-aligned with yall. */
	if ((z = malloc((n_grid * tr->n + 1) * sizeof(double))) == NULL ||
	    (yall = malloc((tr->n + 1) * sizeof(double))) == NULL ||
	    (wf = malloc(tr->d * sizeof(double))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if (approx) {
		double sp = 0, sn = 0;
		/* The path's points need not be the solver's last digit: the
		 * folds' step starts from w with its gradient (fl_cv_oof_scores),
		 * so a point off by a gradient g moves a fold's model by a
		 * second-order term in H^-1 g. 1e-6 per lead saves Newton's last
		 * pass or two at every strength; the final fit, which starts from
		 * the chosen point, goes on to the full tolerance. */
		struct fl_train_opts po = *o;

		po.tol = FL_CV_PATH_TOL > po.tol ? FL_CV_PATH_TOL : po.tol;

		/* One path over all the rows; the folds' models from each of
		 * its points. */
		if ((r = fl_cv_folds_new(tr, k, o->seed, pw, threads_of(o), &folds)) != 0) {
			r = fl_fail(r,
			            "train: out of memory for %d folds' Hessians of %zu "
			            "coefficients",
			            k, tr->d);
			goto out;
		}
		/* The path starts where an infinite penalty ends: the
		 * intercept alone, at the weighted base rate. From there the
		 * strongest fit takes two Newton passes with a Hessian fewer
		 * than from zero (on CRM-like leads). */
		for (size_t i = 0; i < tr->n; i++) {
			if (tr->y[i] > 0.5)
				sp += pw;
			else
				sn += 1.0;
		}
		memset(w, 0, tr->d * sizeof(double));
		w[0] = log(sp / sn);
		for (size_t g = n_grid; g-- > 0;) {
			r = fit_tracked(tr, &po, grid[g], pw, NULL, w, &st, t, whp, folds);
			if (r == 0 && wpath != NULL)
				memcpy(wpath + g * tr->d, w, tr->d * sizeof(double));
			if (r == 0)
				r = fl_cv_oof_scores(folds, w, grid[g],
				                     isfinite(wh.dz) ? wh.H : NULL, z + g * tr->n,
				                     yall, &nall);
			if (r != 0)
				goto out;
		}
		goto score;
	}
	if ((r = fl_rowset_new_like(tr, tr->n, &fit)) != 0 ||
	    (r = fl_rowset_new_like(tr, tr->n, &hold)) != 0)
		goto out;
	for (int f = 0; f < k; f++) {
		fit->n = hold->n = 0;
		for (size_t i = 0; i < tr->n; i++)
			if ((r = fl_rowset_append(fl_cv_fold(o->seed, i, k) == f ? hold : fit, tr,
			                          i)) != 0)
				goto out;
		if (hold->n == 0)
			continue;
		/* A fold fitted on no rows or on one class has no finite
		 * optimum (the unpenalised intercept runs off): its out-of-fold
		 * scores would be NaN, and so would every strength's loss. */
		if ((r = fold_classes(fit, f, k, tr->n)) != 0)
			goto out;
		memcpy(wf, w, tr->d * sizeof(double));
		wh.dz = INFINITY; /* the last fold's Hessian is of other rows */
		for (size_t g = n_grid; g-- > 0;) {
			if (!warm)
				memcpy(wf, w, tr->d * sizeof(double));
			if ((r = fit_tracked(fit, o, grid[g], pw, b, wf, &st, t, whp, NULL)) != 0)
				goto out;
			fl_rowset_scores(hold, wf, z + g * tr->n + nall);
		}
		memcpy(yall + nall, hold->y, hold->n * sizeof(double));
		nall += hold->n;
	}
score:
	for (size_t g = 0; g < n_grid; g++) {
		cand[g].valid_log_loss = fl_log_loss(z + g * tr->n, yall, nall);
		cand[g].valid_auc = fl_auc(z + g * tr->n, yall, nall);
	}
out:
	fl_cv_folds_free(folds);
	fl_rowset_free(fit);
	fl_rowset_free(hold);
	free(z);
	free(yall);
	free(wf);
	free(wh.H);
	return r;
}

int fl_train_stamp(struct fl_model *m, const struct fl_train_facts *f)
{
	char created[32];
	time_t t = time(NULL);
	struct tm tm;
	int r;

	gmtime_r(&t, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((r = fl_model_set_str(&m->prov.solver, f->solver)) != 0 ||
	    (r = fl_model_set_str(&m->prov.created, created)) != 0 ||
	    (r = fl_model_set_str(&m->prov.tool_version, FL_VERSION)) != 0)
		return r;
	m->prov.l2 = f->l2;
	m->prov.pos_weight = f->pos_weight;
	m->prov.rows = f->rows;
	m->prov.positives = f->positives;
	m->prov.iterations = f->iterations;
	m->prov.final_loss = f->final_loss;
	m->prov.grad_norm = f->grad_norm;
	m->prov.train = f->train;
	m->prov.valid = f->valid;
	return 0;
}

int fl_train_local(const struct fl_schema *s, const struct fl_dataset *raw,
                   const struct fl_train_opts *o, struct fl_model **out,
                   struct fl_train_report *rep)
{
	struct fl_rowset *rs = NULL;
	int r;

	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	if (raw->dim != s->dim)
		return fl_fail(FL_ERR_INVALID, "dataset has %zu columns, the schema %zu", raw->dim,
		               s->dim);
	/* raw is the caller's: training works on its own (compact) copy. */
	if ((r = fl_rowset_from_dataset(s, raw, o->layout, &rs)) != 0)
		return r;
	r = fl_train_rows(s, rs, o, out, rep);
	fl_rowset_free(rs);
	return r;
}

int fl_train_rows(const struct fl_schema *s, struct fl_rowset *rows, const struct fl_train_opts *o,
                  struct fl_model **out, struct fl_train_report *rep)
{
	struct fl_rowset tr, va;
	struct fl_stats *st = NULL;
	struct fl_scaler *sc = NULL;
	struct fl_model *m = NULL;
	struct fl_solver_bounds *b = NULL;
	double *w = NULL, *wpath = NULL, grid[FL_L2_GRID_MAX], pw = o->pos_weight;
	struct tracker t = {o, {.phase = "fit", .fits = 1}};
	int r, have_va = 0;

	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	if (rows->d != s->dim)
		return fl_fail(FL_ERR_INVALID, "dataset has %zu columns, the schema %zu", rows->d,
		               s->dim);
	/* A monotone effect is kept by Newton's projected steps only. */
	if (o->solver != FL_SOLVER_NEWTON &&
	    (r = fl_spline_monotone_refuse(s, fl_solver_name(o->solver))) != 0)
		return r;
	if ((r = fl_spline_bounds(s, &b)) != 0)
		return r;
	if (o->valid_frac > 0) {
		size_t nt;

		if ((r = fl_rowset_split(rows, o->valid_frac, o->seed, &nt)) != 0)
			goto out;
		fl_rowset_view(rows, 0, nt, &tr);
		fl_rowset_view(rows, nt, rows->n - nt, &va);
		have_va = 1;
		if (va.n == 0 || tr.n == 0) {
			r = fl_fail(FL_ERR_DATA,
			            "%zu rows are too few for a validation split of %g", rows->n,
			            o->valid_frac);
			goto out;
		}
	} else {
		fl_rowset_view(rows, 0, rows->n, &tr);
	}
	/* Standardise with the training part's statistics only, so validation
	 * rows stay unseen; in place, so the rows are stored once. */
	if ((r = fl_stats_new(s->dim, &st)) != 0)
		goto out;
	fl_rowset_stats(&tr, st);
	if ((r = fl_scaler_from_stats(s, st, &sc)) != 0 ||
	    (r = fl_rowset_standardize(rows, sc)) != 0)
		goto out;
	if (st->positives <= 0 || st->positives >= st->rows) {
		r = fl_fail(FL_ERR_DATA, "the training rows contain only %s leads",
		            st->positives <= 0 ? "unconverted" : "converted");
		goto out;
	}
	if (pw == 0) /* balanced */
		pw = (st->rows - st->positives) / st->positives;
	if (!(pw > 0) || !isfinite(pw)) {
		r = fl_fail(FL_ERR_INVALID, "class weight %g must be positive", pw);
		goto out;
	}
	rep->pos_weight = pw;
	if ((w = calloc(s->dim, sizeof(double))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	rep->l2 = o->l2;
	if (o->l2_auto) {
		size_t best = 0, k = (size_t)(o->kfold > 0 ? o->kfold : 5);
		int approx = 0;

		rep->n_grid = fl_l2_grid(grid, FL_L2_GRID_MAX);
		if (!have_va) {
			if ((r = cv_approx(o, tr.n, tr.d, (int)k, b, &approx)) != 0)
				goto out;
			rep->cv = approx ? FL_CV_APPROX : FL_CV_EXACT;
		}
		t.p.phase = "l2 search";
		/* k-fold fits every fold at every point; folds left empty by a
		 * tiny file are skipped, so the count is an upper bound. The
		 * approximation fits all rows once per point. */
		t.p.fits = rep->n_grid * (have_va || approx ? 1 : k) + 1;
		if (approx && (wpath = malloc(rep->n_grid * s->dim * sizeof(double))) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		r = search_l2(&tr, have_va ? &va : NULL, o, grid, rep->n_grid, pw, b, approx, w,
		              wpath, rep->grid, &t);
		if (r == FL_ERR_NUMERIC && approx && o->cv == FL_CV_AUTO) {
			/* A fold's system not positive definite: exact instead. */
			rep->cv = FL_CV_EXACT;
			t.p.fit = 0;
			t.p.fits = rep->n_grid * k + 1;
			memset(w, 0, s->dim * sizeof(double));
			r = search_l2(&tr, NULL, o, grid, rep->n_grid, pw, b, 0, w, NULL, rep->grid,
			              &t);
		}
		if (r != 0)
			goto out;
		for (size_t g = 1; g < rep->n_grid; g++)
			if (rep->grid[g].valid_log_loss < rep->grid[best].valid_log_loss)
				best = g;
		rep->l2 = grid[best];
		/* The approximation's path fitted all the rows at every strength:
		 * the final fit starts at its point for the chosen one (within the
		 * solver's tolerance of a cold fit, and a pass or two instead of
		 * Newton's whole way from zero: a fifth of the search's time on
		 * CRM-like leads). Exact cross-validation fitted folds only, so
		 * its final fit starts from zero and equals --l2 <chosen>'s. */
		if (rep->cv == FL_CV_APPROX)
			memcpy(w, wpath + best * s->dim, s->dim * sizeof(double));
		else
			memset(w, 0, s->dim * sizeof(double));
		t.p.phase = "fit";
		t.p.fit = t.p.fits - 1;
	}
	if ((r = fit_tracked(&tr, o, rep->l2, pw, b, w, &rep->status, &t, NULL, NULL)) != 0)
		goto out;
	measure(&tr, w, &rep->train);
	if (have_va)
		measure(&va, w, &rep->valid);

	if ((r = fl_model_new(s, &m)) != 0)
		goto out;
	memcpy(m->w, w, s->dim * sizeof(double));
	fl_scaler_free(m->scaler);
	m->scaler = sc;
	sc = NULL;
	if ((r = fl_train_stamp(m, &(struct fl_train_facts){
	                                   .solver = fl_solver_name(o->solver),
	                                   .l2 = rep->l2,
	                                   .pos_weight = pw,
	                                   .rows = (uint64_t)st->rows,
	                                   .positives = (uint64_t)st->positives,
	                                   .iterations = rep->status.iterations,
	                                   .final_loss = rep->status.objective,
	                                   .grad_norm = rep->status.grad_norm,
	                                   .train = rep->train,
	                                   .valid = rep->valid,
	                           })) != 0)
		goto out;
	*out = m;
	m = NULL;
	r = 0;
out:
	fl_model_free(m);
	fl_scaler_free(sc);
	fl_stats_free(st);
	fl_spline_bounds_free(b);
	free(w);
	free(wpath);
	return r;
}

static int rank_score(void *rk, double z, double y)
{
	return fl_ranker_add(rk, z, y > 0.5);
}

int fl_train_cache(const struct fl_schema *s, const char *cache_path,
                   const struct fl_train_opts *opts,
                   void (*progress)(void *arg, const struct fl_solver_status *st),
                   void *progress_arg, struct fl_model **out, struct fl_train_report *rep)
{
	struct fl_cache *c = NULL;
	struct fl_model *m = NULL;
	struct fl_ranker *rk = NULL;
	struct fl_cache_train_opts co = {.kind = opts->solver,
	                                 .pos_weight = opts->pos_weight,
	                                 .progress = progress,
	                                 .progress_arg = progress_arg,
	                                 .threads = opts->threads};
	struct fl_eval ev;
	const struct fl_stats *sum;
	struct fl_solver_bounds *b = NULL;
	double *w = NULL;
	int r;

	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	if (opts->l2_auto || opts->valid_frac > 0 ||
	    (opts->solver != FL_SOLVER_NEWTON && opts->solver != FL_SOLVER_LBFGS))
		return fl_fail(FL_ERR_INVALID,
		               "training from a cache needs newton or lbfgs, a given "
		               "l2 and no validation split");
	if (opts->solver != FL_SOLVER_NEWTON &&
	    (r = fl_spline_monotone_refuse(s, fl_solver_name(opts->solver))) != 0)
		return r;
	if ((r = fl_spline_bounds(s, &b)) != 0 || (r = fl_cache_open(s, cache_path, &c)) != 0)
		goto out;
	sum = fl_cache_stats(c);
	if (sum->positives <= 0 || sum->positives >= sum->rows) {
		r = fl_fail(FL_ERR_DATA, "%s: the rows contain only %s leads", cache_path,
		            sum->positives <= 0 ? "unconverted" : "converted");
		goto out;
	}
	if (co.pos_weight == 0) /* balanced */
		co.pos_weight = (sum->rows - sum->positives) / sum->positives;
	co.solver = (struct fl_solver_opts){
	        .l2 = opts->l2,
	        .tol = (opts->tol > 0 ? opts->tol : 1e-10) * sum->rows, /* as fl_train_fit */
	        .max_iter = opts->max_iter > 0                 ? opts->max_iter
	                    : opts->solver == FL_SOLVER_NEWTON ? 100
	                                                       : 10000,
	        .bounds = b,
	};
	r = FL_ERR_NOMEM;
	if ((w = calloc(s->dim, sizeof(double))) == NULL)
		goto out;
	/* Training metrics too come from the cache: the ranker keeps ~6 MB of
	 * scores in memory and spools the rest to disk. */
	if ((r = fl_cache_train(c, &co, w, &rep->status)) != 0 ||
	    (r = fl_ranker_new(NULL, 1u << 18, &rk)) != 0 ||
	    (r = fl_cache_scores(c, w, rank_score, rk)) != 0 ||
	    (r = fl_ranker_finish(rk, 0, &ev)) != 0 || (r = fl_model_new(s, &m)) != 0)
		goto out;
	memcpy(m->w, w, s->dim * sizeof(double));
	fl_scaler_free(m->scaler);
	m->scaler = NULL;
	rep->l2 = opts->l2;
	rep->pos_weight = co.pos_weight;
	rep->train = (struct fl_metric_set){ev.rows, ev.positives, ev.auc, ev.log_loss};
	if ((r = fl_scaler_from_stats(s, sum, &m->scaler)) != 0 ||
	    (r = fl_train_stamp(m, &(struct fl_train_facts){
	                                   .solver = fl_solver_name(co.kind),
	                                   .l2 = opts->l2,
	                                   .pos_weight = co.pos_weight,
	                                   .rows = (uint64_t)sum->rows,
	                                   .positives = (uint64_t)sum->positives,
	                                   .iterations = rep->status.iterations,
	                                   .final_loss = rep->status.objective,
	                                   .grad_norm = rep->status.grad_norm,
	                                   .train = rep->train,
	                           })) != 0)
		goto out;
	*out = m;
	m = NULL;
	r = 0;
out:
	fl_model_free(m);
	fl_ranker_free(rk);
	fl_cache_free(c);
	fl_spline_bounds_free(b);
	free(w);
	return r;
}
