/*
 * Cross-validation folds for the l2 search: see cv_int.h.
 */
#include "core/cv_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/splitmix.h"

struct fl_cv_folds {
	int k;
	size_t d, n;
	unsigned threads;
	struct fl_rowset **hold; /* k folds of rows */
	double **c;              /* k class weights, or NULL each */
	double *loss;            /* k */
	double *g;               /* k x d: the folds' gradients at wlast */
	double *H;               /* k x d x d: at the last point asked with one */
	double *wlast;           /* d: the last point evaluated */
	int have_g, have_H;
	double *A, *b, *wk, *gsum; /* scratch: d x d, d, d, d */
};

int fl_cv_fold(uint64_t seed, size_t i, int k)
{
	return (int)(fl_mix64(seed ^ fl_mix64(i ^ 0x5a5a)) % (uint64_t)k);
}

size_t fl_cv_hessian_bytes(int k, size_t d)
{
	size_t per = sizeof(double);

	if (k <= 0 || d > SIZE_MAX / d || d * d > SIZE_MAX / per / (size_t)k)
		return SIZE_MAX;
	return (size_t)k * d * d * per;
}

void fl_cv_folds_free(struct fl_cv_folds *f)
{
	if (f == NULL)
		return;
	for (int j = 0; j < f->k; j++) {
		if (f->hold != NULL)
			fl_rowset_free(f->hold[j]);
		if (f->c != NULL)
			free(f->c[j]);
	}
	free(f->hold);
	free(f->c);
	free(f->loss);
	free(f->g);
	free(f->H);
	free(f->wlast);
	free(f->A);
	free(f->b);
	free(f->wk);
	free(f->gsum);
	free(f);
}

int fl_cv_folds_new(const struct fl_rowset *tr, int k, uint64_t seed, double pw, unsigned threads,
                    struct fl_cv_folds **out)
{
	struct fl_cv_folds *f;
	size_t d = tr->d ? tr->d : 1, hb = fl_cv_hessian_bytes(k, d);
	int r = FL_ERR_NOMEM;

	*out = NULL;
	if (hb == SIZE_MAX || (f = calloc(1, sizeof(*f))) == NULL)
		return FL_ERR_NOMEM;
	f->k = k;
	f->d = tr->d;
	f->n = tr->n;
	f->threads = threads;
	if ((f->hold = calloc((size_t)k, sizeof(*f->hold))) == NULL ||
	    (f->c = calloc((size_t)k, sizeof(*f->c))) == NULL ||
	    (f->loss = calloc((size_t)k, sizeof(double))) == NULL ||
	    (f->g = fl_matrix_alloc((size_t)k, d)) == NULL ||
	    (f->H = fl_matrix_alloc((size_t)k * d, d)) == NULL ||
	    (f->wlast = fl_matrix_alloc(1, d)) == NULL || (f->A = fl_matrix_alloc(d, d)) == NULL ||
	    (f->b = fl_matrix_alloc(1, d)) == NULL || (f->wk = fl_matrix_alloc(1, d)) == NULL ||
	    (f->gsum = fl_matrix_alloc(1, d)) == NULL)
		goto fail;
	/* Room for a fold's expected share and some: appends grow past it. */
	for (int j = 0; j < k; j++)
		if ((r = fl_rowset_new_like(tr, tr->n / (size_t)k + tr->n / 50 + 16,
		                            &f->hold[j])) != 0)
			goto fail;
	for (size_t i = 0; i < tr->n; i++)
		if ((r = fl_rowset_append(f->hold[fl_cv_fold(seed, i, k)], tr, i)) != 0)
			goto fail;
	r = FL_ERR_NOMEM;
	if (pw != 1.0)
		for (int j = 0; j < k; j++) {
			const struct fl_rowset *h = f->hold[j];

			if ((f->c[j] = malloc((h->n ? h->n : 1) * sizeof(double))) == NULL)
				goto fail;
			for (size_t i = 0; i < h->n; i++)
				f->c[j][i] = h->y[i] > 0.5 ? pw : 1.0;
		}
	*out = f;
	return 0;
fail:
	fl_cv_folds_free(f);
	return r;
}

int fl_cv_eval(void *arg, const double *w, double *loss, double *grad, double *hess)
{
	struct fl_cv_folds *f = arg;
	size_t d = f->d;
	int r;

	f->have_g = 0;
	for (int j = 0; j < f->k; j++)
		if ((r = fl_rowset_logistic(f->hold[j], f->c[j], w, f->threads, &f->loss[j],
		                            f->g + (size_t)j * d,
		                            hess != NULL ? f->H + (size_t)j * d * d : NULL)) != 0) {
			f->have_H &= hess == NULL;
			return r;
		}
	/* The sums in fold order, so every thread count gives the same bits. */
	*loss = 0;
	memset(grad, 0, d * sizeof(*grad));
	for (int j = 0; j < f->k; j++) {
		*loss += f->loss[j];
		fl_linalg_axpy(1.0, f->g + (size_t)j * d, grad, d);
	}
	if (hess != NULL) {
		memset(hess, 0, d * d * sizeof(*hess));
		for (int j = 0; j < f->k; j++)
			fl_linalg_axpy(1.0, f->H + (size_t)j * d * d, hess, d * d);
		f->have_H = 1;
	}
	memcpy(f->wlast, w, d * sizeof(*w));
	f->have_g = 1;
	return 0;
}

/*
 * Whether the folds' Hessians sum to kept, the data term's Hessian the
 * solver kept (its diagonal had l2 added and taken off again: equal to
 * rounding). A trial point the line search rejected may have left others.
 */
static int holds_kept(struct fl_cv_folds *f, const double *kept, double l2)
{
	size_t d = f->d;

	if (kept == NULL || !f->have_H)
		return 0;
	memset(f->A, 0, d * d * sizeof(double));
	for (int j = 0; j < f->k; j++)
		fl_linalg_axpy(1.0, f->H + (size_t)j * d * d, f->A, d * d);
	for (size_t i = 0; i < d * d; i++)
		if (!(fabs(f->A[i] - kept[i]) <= 1e-12 * (fabs(kept[i]) + l2)))
			return 0;
	return 1;
}

int fl_cv_test_indefinite_fold = -1; /* cv_int.h */

int fl_cv_oof_scores(struct fl_cv_folds *f, const double *w, double l2, const double *kept,
                     double *z, double *y, size_t *nz)
{
	size_t d = f->d, off = 0;
	double loss;
	int r;

	*nz = 0;
	/* The folds' Hessians where the solver's kept one is not theirs, and
	 * the gradients at a point other than the last evaluated: by one
	 * more pass. */
	if (!holds_kept(f, kept, l2)) {
		if ((r = fl_cv_eval(f, w, &loss, f->gsum, f->A)) != 0)
			return r;
	} else if (!f->have_g || memcmp(f->wlast, w, d * sizeof(*w)) != 0) {
		if ((r = fl_cv_eval(f, w, &loss, f->gsum, NULL)) != 0)
			return r;
	}
	/* The full objective's gradient at w: the data term's plus l2 w'. */
	memset(f->gsum, 0, d * sizeof(double));
	for (int j = 0; j < f->k; j++)
		fl_linalg_axpy(1.0, f->g + (size_t)j * d, f->gsum, d);
	for (size_t j = 1; j < d; j++)
		f->gsum[j] += l2 * w[j];
	for (int k = 0; k < f->k; k++) {
		const struct fl_rowset *h = f->hold[k];

		if (h->n == 0 || h->n == f->n)
			continue;
		/* The Hessian without fold k, summed from the others (not the
		 * total minus fold k's: no cancellation), plus the penalty's. */
		memset(f->A, 0, d * d * sizeof(double));
		for (int j = 0; j < f->k; j++)
			if (j != k)
				fl_linalg_axpy(1.0, f->H + (size_t)j * d * d, f->A, d * d);
		for (size_t j = 1; j < d; j++)
			f->A[j * d + j] += l2;
		/* Minus the gradient without fold k: g_k - grad F(w). */
		for (size_t j = 0; j < d; j++)
			f->b[j] = f->g[(size_t)k * d + j] - f->gsum[j];
		if (k == fl_cv_test_indefinite_fold)
			f->A[0] = -1;
		if ((r = fl_linalg_spd_solve(f->A, d, f->b)) != 0)
			return fl_fail(r,
			               "approximate cross-validation, fold %d of %d at l2 %g: %s; "
			               "--cv exact fits every fold instead",
			               k + 1, f->k, l2, fl_errmsg());
		for (size_t j = 0; j < d; j++)
			f->wk[j] = w[j] + f->b[j];
		fl_rowset_scores(h, f->wk, z + off);
		memcpy(y + off, h->y, h->n * sizeof(double));
		off += h->n;
	}
	*nz = off;
	return 0;
}
