/*
 * Cross-validation folds for the l2 search (train.c): the fold rule, and
 * approximate k-fold cross-validation by one Newton step from the fit on
 * all training rows.
 *
 * Exact k-fold cross-validation fits every fold at every strength. The
 * approximation fits all rows once per strength, with the rows held fold by
 * fold so that every pass of that fit also leaves each fold's own share of
 * the gradient g_k and of the Hessian H_k; at the solution w, fold k's
 * model is one Newton step on the objective without fold k's rows:
 *
 *   w_-k = w - (H - H_k + l2 I')^-1 (grad F(w) - g_k)
 *
 * (I' the identity without the intercept; grad F(w) is about 0 at the
 * solution). Its error is that of a Newton step from a point a fold's share
 * of the rows away (quadratic in it), so it shrinks as folds grow.
 */
#ifndef FEDLEAD_CORE_CV_INT_H
#define FEDLEAD_CORE_CV_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/rowset.h"

/* The fold of row i of k: mix64(seed ^ mix64(i ^ 0x5a5a)) % k. */
int fl_cv_fold(uint64_t seed, size_t i, int k);

/* Bytes of the k folds' Hessians of d coefficients (SIZE_MAX on overflow). */
size_t fl_cv_hessian_bytes(int k, size_t d);

struct fl_cv_folds;

/*
 * tr's rows copied out fold by fold (fl_cv_fold(seed, i, k)), in their
 * order within each fold, with the class weight pw of converted rows (1:
 * none), and room for the folds' gradients and Hessians. The passes run on
 * threads threads. Returns 0 or FL_ERR_NOMEM.
 */
int fl_cv_folds_new(const struct fl_rowset *tr, int k, uint64_t seed, double pw, unsigned threads,
                    struct fl_cv_folds **out);
void fl_cv_folds_free(struct fl_cv_folds *f);

/*
 * fl_solver_driver's eval over every training row, fold by fold (the sums
 * of the folds' fl_rowset_logistic(), in fold order); arg is the folds.
 * Keeps each fold's gradient at w, and each fold's Hessian when hess is
 * not NULL.
 */
int fl_cv_eval(void *arg, const double *w, double *loss, double *grad, double *hess);

/*
 * The out-of-fold scores at strength l2 from the solution w of the fit on
 * all rows that fl_cv_eval() drove: each fold's rows scored by its one-step
 * model w_-k, fold after fold into z (*nz of them), their labels into y.
 * kept: the data term's Hessian the solver kept (fl_solver_driver.keep,
 * within its reuse distance of w), or NULL. The folds' Hessians are those
 * of the last Hessian evaluated; when they do not sum to kept (none was
 * kept, or a rejected line-search trial evaluated them last) they are
 * computed at w (a pass), as are the gradients when the last point
 * evaluated was not w. A fold holding
 * every row (tiny data) is left out, as exact cross-validation leaves it.
 * Returns 0, FL_ERR_NOMEM, or FL_ERR_NUMERIC when a fold's system is not
 * positive definite (naming the fold and the strength).
 */
int fl_cv_oof_scores(struct fl_cv_folds *f, const double *w, double l2, const double *kept,
                     double *z, double *y, size_t *nz);

/* Tests only: the fold (from 0) whose system fl_cv_oof_scores() makes not
 * positive definite (its first diagonal entry negative), as a Hessian that
 * underflowed would; -1, the default: none. */
extern int fl_cv_test_indefinite_fold;

#endif
