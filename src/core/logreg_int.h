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
	double *H; /* Hessian of f at w (full d*d) */
	double *F; /* its Cholesky factor while solving */
	int have_hess;

	/* L-BFGS: ring buffer of the last m pairs s = w_{k+1} - w_k, y = g_{k+1} - g_k */
	int m, count, head;
	double *S, *Y, *rho, *a;

	/* Error to repeat from ask() once failed. */
	int err;
	char errmsg[256];
};

#endif
