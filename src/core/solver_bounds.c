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
#include <stdint.h>
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
		free((void *)s->blk[k].M);
		free((void *)s->blk[k].Minv);
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

/* How blocks_apply() maps a vector: by M (u to w), by M^-1 (w to u) or by
 * M' (a gradient in w to one in u). */
enum block_map { BY_M, BY_MINV, BY_MT };

/* out = the block-diagonal map T (M, M^-1 or M' in each block, the
 * identity elsewhere) applied to in (d doubles each, not overlapping). */
static void blocks_apply(const struct fl_solver_block *blk, size_t n_blk, size_t d,
                         enum block_map how, const double *in, double *out)
{
	memcpy(out, in, d * sizeof(*out));
	for (size_t k = 0; k < n_blk; k++) {
		const struct fl_solver_block *b = &blk[k];
		const double *A = how == BY_MINV ? b->Minv : b->M;

		for (size_t i = 0; i < b->n; i++) {
			double t = 0;

			for (size_t j = 0; j < b->n; j++)
				t += (how == BY_MT ? A[j * b->n + i] : A[i * b->n + j]) *
				     in[b->offset + j];
			out[b->offset + i] = t;
		}
	}
}

/* u from w: M^-1 w_B in each block, w elsewhere. */
static void to_u(const struct fl_solver_block *blk, size_t n_blk, size_t d, const double *w,
                 double *u)
{
	blocks_apply(blk, n_blk, d, BY_MINV, w, u);
}

/* w from u: M u_B in each block. */
static void from_u(const struct fl_solver_block *blk, size_t n_blk, size_t d, const double *u,
                   double *w)
{
	blocks_apply(blk, n_blk, d, BY_M, u, w);
}

/* The gradient in u: g_u = T' g, T the block-diagonal map from u to w (M
 * in each block, the identity elsewhere). */
static void grad_to_u(const struct fl_solver_block *blk, size_t n_blk, size_t d, const double *g,
                      double *gu)
{
	blocks_apply(blk, n_blk, d, BY_MT, g, gu);
}

/* Blocks inside 1..d, in no particular order, not overlapping. */
static int check_blocks(const struct fl_solver_bounds *b, size_t d)
{
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
	return 0;
}

/* bound[j] = 1 for the coordinates held >= 0 (u[n_free..n) of each block). */
static void mark_bound(const struct fl_solver_block *blk, size_t n_blk, unsigned char *bound)
{
	for (size_t k = 0; k < n_blk; k++)
		memset(bound + blk[k].offset + blk[k].n_free, 1, blk[k].n - blk[k].n_free);
}

int fl_bounds_attach(struct fl_solver *s, const struct fl_solver_bounds *b, int project)
{
	size_t d = s->d;
	int r;

	if (b == NULL || b->n_blocks == 0)
		return 0;
	if (s->kind != FL_SOLVER_NEWTON)
		return fl_fail(FL_ERR_INVALID, "solver: shape constraints need the newton solver");
	if (s->n_blk > 0)
		return fl_fail(FL_ERR_INVALID, "solver: shape constraints are already set");
	if ((r = check_blocks(b, d)) != 0)
		return r;
	if ((s->blk = calloc(b->n_blocks, sizeof(*s->blk))) == NULL)
		goto nomem;
	s->n_blk = b->n_blocks;
	for (size_t k = 0; k < b->n_blocks; k++) {
		size_t n = b->blocks[k].n;
		double *M, *Minv;

		s->blk[k].offset = b->blocks[k].offset;
		s->blk[k].n = n;
		s->blk[k].n_free = b->blocks[k].n_free;
		if ((M = malloc(n * n * sizeof(double))) == NULL)
			goto nomem;
		s->blk[k].M = M;
		if ((Minv = malloc(n * n * sizeof(double))) == NULL)
			goto nomem;
		s->blk[k].Minv = Minv;
		memcpy(M, b->blocks[k].M, n * n * sizeof(double));
		memcpy(Minv, b->blocks[k].Minv, n * n * sizeof(double));
	}
	if ((s->u = fl_matrix_alloc(1, d)) == NULL || (s->gu = fl_matrix_alloc(1, d)) == NULL ||
	    (s->ut = fl_matrix_alloc(1, d)) == NULL || (s->bound = calloc(d, 1)) == NULL ||
	    (s->active = calloc(d, 1)) == NULL)
		goto nomem;
	mark_bound(s->blk, s->n_blk, s->bound);
	if (project) {
		/* The nearest point in u that keeps the constraints; the same
		 * arithmetic for every party that starts from the same w. */
		to_u(s->blk, s->n_blk, d, s->w, s->u);
		for (size_t j = 0; j < d; j++)
			if (s->bound[j] && !(s->u[j] > 0))
				s->u[j] = 0;
		from_u(s->blk, s->n_blk, d, s->u, s->w);
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

	to_u(s->blk, s->n_blk, d, s->w, s->u);
	grad_to_u(s->blk, s->n_blk, d, s->g, s->gu);
	eps = fl_bounds_pgnorm(s);
	if (!(eps < ACTIVE_EPS))
		eps = ACTIVE_EPS;
	for (size_t j = 0; j < d; j++)
		s->active[j] = s->bound[j] && s->u[j] <= eps && s->gu[j] > 0;
}

/* H (d x d, symmetric) becomes T' H T, T the block-diagonal map from u to
 * w (M in each block, the identity elsewhere); t is d doubles of scratch. */
static void hessian_to_u(const struct fl_solver_block *blk, size_t n_blk, size_t d, double *H,
                         double *t)
{
	for (size_t k = 0; k < n_blk; k++) {
		const struct fl_solver_block *b = &blk[k];
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

	/* ut is free until the first trial; F is overwritten below */
	s->f_ok = 0;
	hessian_to_u(s->blk, s->n_blk, d, s->H, s->ut);
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
		from_u(s->blk, s->n_blk, s->d, s->ut, x);
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

/*
 * The quadratic model's minimum over the shape constraints (logreg.h,
 * fl_solver_qp()): a primal active-set method (Nocedal and Wright,
 * "Numerical Optimization", 2nd ed., algorithm 16.3) on bounds u_j >= 0,
 * in the coordinates u the projected Newton method above uses.
 *
 * In u the problem is  min c'(u - u0) + 1/2 (u - u0)' A (u - u0)  over
 * u_j >= 0 for the bound j, with A = T'BT, c = T'g, u0 = T^-1 w0 (T the
 * block-diagonal map from u to w, invertible, so A is positive definite
 * when B is). The working set W starts as the bound coordinates of u0
 * that are not above 0, clamped to 0. Each iteration solves the model's
 * minimum on the face u_W = 0 (a Cholesky solve in the others), walks
 * towards it until a bound coordinate reaches 0 (which joins W, set to 0
 * exactly), and at the face's minimum releases the member of W whose
 * gradient is most negative, if below -tol; when none is, the point is
 * the constrained minimum. In exact arithmetic the model strictly
 * decreases from face minimum to face minimum, so no face repeats and
 * the method ends; QP_ITER_PER_BOUND bounds the iterations in rounding.
 * Every choice (ties to the lowest index) depends only on B, g, w0 and
 * the blocks, so every party and a restarted coordinator computes the
 * same point.
 */
#define QP_KKT_REL 1e-10
#define QP_ITER_PER_BOUND 8

/* r = c + A (u - u0) */
static void qp_gradient(const double *A, const double *c, const double *u, const double *u0,
                        size_t d, double *r)
{
	for (size_t i = 0; i < d; i++) {
		double t = c[i];

		for (size_t j = 0; j < d; j++)
			t += A[i * d + j] * (u[j] - u0[j]);
		r[i] = t;
	}
}

/* Newton's step without bounds, as the differential privacy plan took it
 * before shape constraints: w = w0 - B^-1 g, in this order of arithmetic. */
static int qp_newton(size_t d, const double *B, const double *g, const double *w0, double *w)
{
	double *F = d <= SIZE_MAX / sizeof(double) / d ? malloc(d * d * sizeof(double)) : NULL;
	int r;

	if (F == NULL)
		return fl_fail(FL_ERR_NOMEM, "solver: out of memory for %zu coefficients", d);
	memcpy(F, B, d * d * sizeof(*F));
	for (size_t j = 0; j < d; j++)
		w[j] = -g[j];
	if ((r = fl_linalg_spd_solve(F, d, w)) == 0)
		for (size_t j = 0; j < d; j++)
			w[j] += w0[j];
	free(F);
	return r;
}

/*
 * p (nf doubles) = the step to the minimum of the model on the face of the
 * free coordinates fr[0..nf): A_FF p = -r_F, solved in F (nf x nf). B is
 * positive definite and T invertible, so A_FF is too; should rounding
 * make it fail Cholesky, it gets the growing ridge of the projected Newton
 * direction above (a shorter step, which the next iteration continues),
 * rather than stopping a federation. Returns 0, 1 when the step is
 * ridged (not the face's minimum), or FL_ERR_NUMERIC.
 */
static int qp_face_step(const double *A, size_t d, const size_t *fr, size_t nf, const double *rg,
                        double *F, double *p)
{
	double maxdiag = 1.0, ridge = 0;

	for (size_t a = 0; a < nf; a++)
		if (A[fr[a] * d + fr[a]] > maxdiag)
			maxdiag = A[fr[a] * d + fr[a]];
	for (int t = 0; t <= RIDGE_TRIES; t++) {
		for (size_t a = 0; a < nf; a++) {
			for (size_t e = 0; e < nf; e++)
				F[a * nf + e] = A[fr[a] * d + fr[e]];
			F[a * nf + a] += ridge;
			p[a] = -rg[fr[a]];
		}
		if (fl_linalg_spd_solve(F, nf, p) == 0)
			return ridge > 0;
		ridge = ridge == 0 ? RIDGE_FIRST * maxdiag : ridge * RIDGE_GROW;
	}
	return FL_ERR_NUMERIC;
}

int fl_solver_qp(size_t d, const struct fl_solver_bounds *b, const double *B, const double *g,
                 const double *w0, double *w, struct fl_qp_status *st)
{
	double *A = NULL, *F = NULL, *c = NULL, *u0 = NULL, *u = NULL, *rg = NULL, *p = NULL;
	unsigned char *bound = NULL, *held = NULL;
	size_t *fr = NULL, n_bound = 0, cap;
	double tol = 0;
	int r;

	*st = (struct fl_qp_status){0};
	if (b == NULL || b->n_blocks == 0) {
		r = qp_newton(d, B, g, w0, w);
		st->converged = r == 0;
		return r;
	}
	if ((r = check_blocks(b, d)) != 0)
		return r;
	r = FL_ERR_NOMEM;
	if ((A = fl_matrix_alloc(d, d)) == NULL || (F = fl_matrix_alloc(d, d)) == NULL ||
	    (c = fl_matrix_alloc(1, d)) == NULL || (u0 = fl_matrix_alloc(1, d)) == NULL ||
	    (u = fl_matrix_alloc(1, d)) == NULL || (rg = fl_matrix_alloc(1, d)) == NULL ||
	    (p = fl_matrix_alloc(1, d)) == NULL || (fr = calloc(d, sizeof(*fr))) == NULL ||
	    (bound = calloc(d, 1)) == NULL || (held = calloc(d, 1)) == NULL) {
		fl_fail(r, "solver: out of memory for %zu coefficients", d);
		goto out;
	}
	memcpy(A, B, d * d * sizeof(*A));
	hessian_to_u(b->blocks, b->n_blocks, d, A, p);
	grad_to_u(b->blocks, b->n_blocks, d, g, c);
	to_u(b->blocks, b->n_blocks, d, w0, u0);
	mark_bound(b->blocks, b->n_blocks, bound);
	memcpy(u, u0, d * sizeof(*u));
	for (size_t j = 0; j < d; j++) {
		n_bound += bound[j];
		if (bound[j] && !(u[j] > 0)) {
			u[j] = 0;
			held[j] = 1;
		}
	}
	/* The tolerance on a held coordinate's gradient, against the
	 * gradient's size where the method starts. */
	qp_gradient(A, c, u, u0, d, rg);
	for (size_t j = 0; j < d; j++) {
		if (!isfinite(rg[j])) {
			r = fl_fail(FL_ERR_NUMERIC, "solver: the quadratic model is not finite");
			goto out;
		}
		if (fabs(rg[j]) > tol)
			tol = fabs(rg[j]);
	}
	tol *= QP_KKT_REL;
	cap = QP_ITER_PER_BOUND * (n_bound + 1);
	for (st->iterations = 0; (size_t)st->iterations < cap; st->iterations++) {
		size_t nf = 0, block = SIZE_MAX, release = SIZE_MAX;
		double alpha = 1, worst = -tol;
		int ridged = 0;

		for (size_t j = 0; j < d; j++)
			if (!held[j])
				fr[nf++] = j;
		if (nf > 0 && (ridged = qp_face_step(A, d, fr, nf, rg, F, p)) < 0) {
			r = fl_fail(FL_ERR_NUMERIC,
			            "solver: the quadratic model is not positive definite on the "
			            "free coordinates");
			goto out;
		}
		/* The longest step towards the face's minimum that keeps every
		 * bound: the first coordinate to reach 0 blocks it. */
		for (size_t a = 0; a < nf; a++) {
			size_t j = fr[a];

			if (bound[j] && p[a] < 0 && -u[j] / p[a] < alpha) {
				alpha = -u[j] / p[a];
				block = j;
			}
		}
		for (size_t a = 0; a < nf; a++) {
			size_t j = fr[a];

			u[j] += alpha * p[a];
			if (bound[j] && !(u[j] > 0))
				u[j] = 0; /* rounding below the bound */
		}
		if (block != SIZE_MAX) {
			u[block] = 0;
			held[block] = 1;
		}
		if (block != SIZE_MAX || ridged) {
			qp_gradient(A, c, u, u0, d, rg);
			continue;
		}
		/* At the face's minimum: release the held coordinate whose
		 * gradient would most lower the model as it rises. */
		qp_gradient(A, c, u, u0, d, rg);
		for (size_t j = 0; j < d; j++)
			if (held[j] && rg[j] < worst) {
				worst = rg[j];
				release = j;
			}
		if (release == SIZE_MAX) {
			st->converged = 1;
			st->iterations++;
			break;
		}
		held[release] = 0;
	}
	/* The KKT conditions at the point reached: u_W = 0 exactly, every
	 * bound coordinate >= 0 exactly; the residual is the largest gradient
	 * of a free coordinate and the largest negative one of a held. */
	for (size_t j = 0; j < d; j++) {
		double v = held[j] ? (rg[j] < 0 ? -rg[j] : 0) : fabs(rg[j]);

		st->n_held += held[j];
		if (v > st->kkt)
			st->kkt = v;
	}
	st->n_bound = n_bound;
	st->tol = tol;
	from_u(b->blocks, b->n_blocks, d, u, w);
	r = 0;
out:
	free(A);
	free(F);
	free(c);
	free(u0);
	free(u);
	free(rg);
	free(p);
	free(fr);
	free(bound);
	free(held);
	return r;
}
