/*
 * Shape constraints in the Newton solver (logreg.h): a projected Newton
 * method with an epsilon-active set (Bertsekas, "Projected Newton methods
 * for optimization problems with simple constraints", 1982).
 *
 * The solver keeps its point w in the model's weights; a constrained block
 * of them is w_B = M u_B, and the bounds are u_B[1..n) >= 0. At every
 * accepted point the coordinates u = M^-1 w, the gradient g_u = M' g and
 * the Hessian M' H M are formed, the variables at (or within eps of) their
 * bound whose gradient pushes them out are held (only a diagonal step,
 * which the projection turns into "stay at the bound"), Newton's step is
 * solved in the others, and trial points are P(u + alpha p) mapped back to
 * weights. Everything is recomputed from w, g and p, which a checkpoint
 * holds, so a restored solver continues bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "logreg_int.h"

/* Largest eps of the active set (Bertsekas's epsilon): a bound variable
 * within this of its bound, with a gradient pushing it out, is held. */
#define ACTIVE_EPS 1e-8
/* As newton_direction(): a growing ridge for a Hessian that is not
 * numerically positive definite. */
#define RIDGE_FIRST 1e-10
#define RIDGE_GROW 100.0
#define RIDGE_TRIES 8

void fl_bounds_free(struct fl_solver *s)
{
	for (size_t k = 0; k < s->n_blk; k++) {
		free(s->blk[k].M);
		free(s->blk[k].Minv);
	}
	free(s->blk);
	free(s->u);
	free(s->gu);
	free(s->ut);
	free(s->bound);
	free(s->active);
	s->blk = NULL;
	s->u = s->gu = s->ut = NULL;
	s->bound = s->active = NULL;
	s->n_blk = 0;
}

/* out = u from w: M^-1 w_B in each block, w elsewhere. */
static void to_u(const struct fl_solver *s, const double *w, double *u)
{
	memcpy(u, w, s->d * sizeof(*u));
	for (size_t k = 0; k < s->n_blk; k++) {
		const struct bound_block *b = &s->blk[k];

		for (size_t i = 0; i < b->n; i++) {
			double t = 0;

			for (size_t j = 0; j < b->n; j++)
				t += b->Minv[i * b->n + j] * w[b->offset + j];
			u[b->offset + i] = t;
		}
	}
}

/* out = w from u: M u_B in each block. */
static void from_u(const struct fl_solver *s, const double *u, double *w)
{
	memcpy(w, u, s->d * sizeof(*w));
	for (size_t k = 0; k < s->n_blk; k++) {
		const struct bound_block *b = &s->blk[k];

		for (size_t i = 0; i < b->n; i++) {
			double t = 0;

			for (size_t j = 0; j < b->n; j++)
				t += b->M[i * b->n + j] * u[b->offset + j];
			w[b->offset + i] = t;
		}
	}
}

int fl_bounds_attach(struct fl_solver *s, const struct fl_solver_bounds *b, int project)
{
	size_t d = s->d;

	if (b == NULL || b->n_blocks == 0)
		return 0;
	if (s->kind != FL_SOLVER_NEWTON)
		return fl_fail(FL_ERR_INVALID, "solver: shape constraints need the newton solver");
	if (s->n_blk > 0)
		return fl_fail(FL_ERR_INVALID, "solver: shape constraints are already set");
	/* Blocks inside 1..d, in no particular order, not overlapping. */
	for (size_t k = 0; k < b->n_blocks; k++) {
		const struct fl_solver_block *bk = &b->blocks[k];

		if (bk->n == 0 || bk->offset == 0 || bk->offset > d || bk->n > d - bk->offset ||
		    bk->n_free > bk->n || bk->M == NULL || bk->Minv == NULL)
			return fl_fail(
			        FL_ERR_INVALID,
			        "solver: constrained block %zu (columns %zu to %zu) does not "
			        "fit %zu coefficients",
			        k, bk->offset, bk->offset + bk->n, d);
		for (size_t q = 0; q < k; q++)
			if (bk->offset < b->blocks[q].offset + b->blocks[q].n &&
			    b->blocks[q].offset < bk->offset + bk->n)
				return fl_fail(FL_ERR_INVALID,
				               "solver: constrained blocks %zu and %zu overlap", q,
				               k);
	}
	if ((s->blk = calloc(b->n_blocks, sizeof(*s->blk))) == NULL)
		goto nomem;
	s->n_blk = b->n_blocks;
	for (size_t k = 0; k < b->n_blocks; k++) {
		size_t n = b->blocks[k].n;

		s->blk[k].offset = b->blocks[k].offset;
		s->blk[k].n = n;
		s->blk[k].n_free = b->blocks[k].n_free;
		if ((s->blk[k].M = malloc(n * n * sizeof(double))) == NULL ||
		    (s->blk[k].Minv = malloc(n * n * sizeof(double))) == NULL)
			goto nomem;
		memcpy(s->blk[k].M, b->blocks[k].M, n * n * sizeof(double));
		memcpy(s->blk[k].Minv, b->blocks[k].Minv, n * n * sizeof(double));
	}
	if ((s->u = fl_matrix_alloc(1, d)) == NULL || (s->gu = fl_matrix_alloc(1, d)) == NULL ||
	    (s->ut = fl_matrix_alloc(1, d)) == NULL || (s->bound = calloc(d, 1)) == NULL ||
	    (s->active = calloc(d, 1)) == NULL)
		goto nomem;
	for (size_t k = 0; k < s->n_blk; k++)
		memset(s->bound + s->blk[k].offset + s->blk[k].n_free, 1,
		       s->blk[k].n - s->blk[k].n_free);
	if (project) {
		/* The nearest point in u that keeps the constraints; the same
		 * arithmetic for every party that starts from the same w. */
		to_u(s, s->w, s->u);
		for (size_t j = 0; j < d; j++)
			if (s->bound[j] && !(s->u[j] > 0))
				s->u[j] = 0;
		from_u(s, s->u, s->w);
		memcpy(s->x, s->w, d * sizeof(*s->x));
	}
	return 0;
nomem:
	fl_bounds_free(s);
	return fl_fail(FL_ERR_NOMEM, "solver: out of memory for the shape constraints");
}

int fl_solver_constrain(struct fl_solver *s, const struct fl_solver_bounds *b)
{
	if (s == NULL)
		return fl_fail(FL_ERR_INVALID, "solver: missing argument to constrain");
	return fl_bounds_attach(s, b, 0);
}

double fl_bounds_pgnorm(const struct fl_solver *s)
{
	double t = 0;

	for (size_t j = 0; j < s->d; j++) {
		double r = s->gu[j];

		if (s->bound[j]) {
			double moved = s->u[j] - s->gu[j];

			r = s->u[j] - (moved > 0 ? moved : 0);
		}
		t += r * r;
	}
	return sqrt(t);
}

void fl_bounds_refresh(struct fl_solver *s)
{
	size_t d = s->d;
	double eps;

	to_u(s, s->w, s->u);
	memcpy(s->gu, s->g, d * sizeof(*s->gu));
	for (size_t k = 0; k < s->n_blk; k++) {
		const struct bound_block *b = &s->blk[k];

		for (size_t i = 0; i < b->n; i++) {
			double t = 0;

			for (size_t j = 0; j < b->n; j++)
				t += b->M[j * b->n + i] * s->g[b->offset + j];
			s->gu[b->offset + i] = t;
		}
	}
	eps = fl_bounds_pgnorm(s);
	if (!(eps < ACTIVE_EPS))
		eps = ACTIVE_EPS;
	for (size_t j = 0; j < d; j++)
		s->active[j] = s->bound[j] && s->u[j] <= eps && s->gu[j] > 0;
}

/* H (d x d, symmetric) becomes T' H T, T the block-diagonal map from u to
 * w (M in each block, the identity elsewhere). */
static void hessian_to_u(struct fl_solver *s)
{
	size_t d = s->d;
	double *H = s->H, *t = s->ut; /* ut is free until the first trial */

	for (size_t k = 0; k < s->n_blk; k++) {
		const struct bound_block *b = &s->blk[k];
		size_t o = b->offset, n = b->n;

		for (size_t r = 0; r < d; r++) {
			for (size_t c = 0; c < n; c++) {
				double v = 0;

				for (size_t q = 0; q < n; q++)
					v += H[r * d + o + q] * b->M[q * n + c];
				t[c] = v;
			}
			memcpy(H + r * d + o, t, n * sizeof(*t));
		}
		for (size_t c = 0; c < d; c++) {
			for (size_t r = 0; r < n; r++) {
				double v = 0;

				for (size_t q = 0; q < n; q++)
					v += b->M[q * n + r] * H[(o + q) * d + c];
				t[r] = v;
			}
			for (size_t r = 0; r < n; r++)
				H[(o + r) * d + c] = t[r];
		}
	}
}

int fl_bounds_direction(struct fl_solver *s)
{
	size_t d = s->d;
	double maxdiag = 1.0, ridge = 0;

	hessian_to_u(s);
	for (size_t j = 0; j < d; j++)
		if (s->H[j * d + j] > maxdiag)
			maxdiag = s->H[j * d + j];
	for (int t = 0; t <= RIDGE_TRIES; t++) {
		memcpy(s->F, s->H, d * d * sizeof(*s->F));
		for (size_t j = 0; j < d; j++) {
			s->F[j * d + j] += ridge;
			s->p[j] = -s->gu[j];
		}
		/* A held variable is decoupled from the others: its step is
		 * -g / H_jj, towards the bound it stays at. */
		for (size_t j = 0; j < d; j++) {
			if (!s->active[j])
				continue;
			for (size_t i = 0; i < d; i++)
				if (i != j)
					s->F[i * d + j] = s->F[j * d + i] = 0;
		}
		if (fl_linalg_spd_solve(s->F, d, s->p) == 0)
			return 1;
		ridge = ridge == 0 ? RIDGE_FIRST * maxdiag : ridge * RIDGE_GROW;
	}
	fl_bounds_steepest(s);
	return 0;
}

void fl_bounds_steepest(struct fl_solver *s)
{
	for (size_t j = 0; j < s->d; j++)
		s->p[j] = -s->gu[j];
}

void fl_bounds_point(struct fl_solver *s, double alpha, double *x)
{
	for (size_t j = 0; j < s->d; j++) {
		double v = s->u[j] + alpha * s->p[j];

		s->ut[j] = s->bound[j] && !(v > 0) ? 0 : v;
	}
	if (x != NULL)
		from_u(s, s->ut, x);
}

double fl_bounds_decrease(const struct fl_solver *s, double alpha)
{
	double free_part = 0, held = 0;

	for (size_t j = 0; j < s->d; j++) {
		if (s->active[j])
			held += s->gu[j] * (s->u[j] - s->ut[j]);
		else
			free_part -= s->gu[j] * s->p[j];
	}
	return alpha * free_part + held;
}

double fl_bounds_slope(const struct fl_solver *s)
{
	return fl_linalg_dot(s->gu, s->p, s->d);
}
