/*
 * Private to the solvers (src/core/logreg.c) and their checkpoint codec
 * (src/core/solver_state.c): the ask/tell state machine's state, and the
 * limits that the codec checks a restored state against.
 */
#ifndef FEDLEAD_CORE_LOGREG_INT_H
#define FEDLEAD_CORE_LOGREG_INT_H

#include <stddef.h>

#include "fedlead/logreg.h"

/* Halvings of the step before the line search gives up. */
#define LS_MAX_HALVINGS 40
/* A sanity bound on the L-BFGS memory. */
#define LBFGS_MAX_M 1000

enum phase {
	PH_START,  /* evaluate the starting point */
	PH_TRIAL,  /* evaluate a line-search trial point */
	PH_HESS,   /* Newton: re-evaluate the accepted point for its Hessian */
	PH_DONE,   /* converged, out of iterations, or line search exhausted */
	PH_FAILED, /* told non-finite values; sticky */
};

struct fl_solver {
	enum fl_solver_kind kind;
	size_t d;
	double l2, tol;
	int max_iter;

	enum phase phase;
	int need_hess;
	int iterations, evaluations, converged;

	double *w;    /* current (accepted) point */
	double *g;    /* gradient of f at w */
	double f;     /* f(w); NAN before the first tell */
	double gnorm; /* ||g|| */
	double *p;    /* search direction from w */
	double *x;    /* point being asked for */
	double *gt;   /* scratch: gradient of f told at x */
	double dphi0; /* g . p */
	double alpha; /* step of x along p */
	int halvings;

	/* Newton */
	double *H;     /* Hessian of f at w (full d*d), or at an earlier point */
	double *F;     /* its Cholesky factor while solving */
	int f_ok;      /* F is the factor of H as it is now (no ridge): reused */
	int have_hess; /* H was told at w itself */
	/* Newton without shape constraints keeps H after a step too small to
	 * change it (logreg.c, "Reusing the Hessian"): hess_kept says H holds
	 * a Hessian (part of the state, checkpointed), hess_dz how far the
	 * scores have moved since it was told, step_dz how far the full step
	 * along p moves them (0: the direction is not a Newton step). */
	int hess_kept;
	double hess_dz, step_dz;
	/* Sampled Hessians (logreg.c): the caller can evaluate them
	 * (fl_solver_opts.hess_sample), and the point asked for now may have
	 * one. Neither is checkpointed. */
	int sample_ok, sample_now;

	/* L-BFGS: ring buffer of the last m pairs s = w_{k+1} - w_k, y = g_{k+1} - g_k */
	int m, count, head;
	double *S, *Y, *rho, *a;

	/* Shape constraints (solver_bounds.c): the blocks, and at the current
	 * point w its coordinates u, the gradient there g_u, the variables
	 * held at their bound, and the projected trial point ut. */
	size_t n_blk;
	struct fl_solver_block *blk; /* M and Minv owned (malloc'd copies) */
	double *u, *gu, *ut;
	unsigned char *bound, *active;

	/* Error to repeat from ask() once failed. */
	int err;
	char errmsg[256];
};

/* solver_bounds.c: the projected Newton method of logreg.h. */
int fl_bounds_attach(struct fl_solver *s, const struct fl_solver_bounds *b, int project);
void fl_bounds_free(struct fl_solver *s);
/* u, g_u and the held variables at w from w and g. */
void fl_bounds_refresh(struct fl_solver *s);
/* The norm of u - P(u - g_u). */
double fl_bounds_pgnorm(const struct fl_solver *s);
/* The projected Newton direction into p (in u); s->H is turned into the
 * Hessian in u. Returns 1, or 0 when it fell back to steepest descent. */
int fl_bounds_direction(struct fl_solver *s);
/* ut = P(u + alpha p) and, when x is not NULL, x = the weights of ut. */
void fl_bounds_point(struct fl_solver *s, double alpha, double *x);
/* The decrease the Armijo test asks a fraction of, for the trial at
 * alpha (ut set): alpha * sum_free -g_u p + sum_held g_u (u - ut). */
double fl_bounds_decrease(const struct fl_solver *s, double alpha);
/* g_u . p */
double fl_bounds_slope(const struct fl_solver *s);
/* p = -g_u (steepest descent in u). */
void fl_bounds_steepest(struct fl_solver *s);

#endif
