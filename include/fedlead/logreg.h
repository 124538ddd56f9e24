/*
 * L2-regularised logistic regression solvers.
 *
 * The objective is  f(w) = L(w) + (l2 / 2) * sum_{j >= 1} w_j^2,  where L is
 * the data term summed over rows (see fl_linalg_logistic) and column 0 is the
 * unpenalised intercept.
 *
 * Newton and L-BFGS are "ask/tell" state machines: the solver asks for the
 * data-term sums (loss, gradient, and for Newton the Hessian) at a point and
 * is told them. Local training evaluates on the partner's rows; the
 * federation coordinator asks every partner and tells the solver the sums, so
 * a federated run takes exactly the steps a pooled run takes.
 */
#ifndef FEDLEAD_LOGREG_H
#define FEDLEAD_LOGREG_H

#include <stddef.h>
#include <stdint.h>

enum fl_solver_kind { FL_SOLVER_NEWTON = 0, FL_SOLVER_LBFGS = 1, FL_SOLVER_SGD = 2 };

/* "newton", "lbfgs", "sgd"; parse returns -1 for an unknown name. */
const char *fl_solver_name(enum fl_solver_kind k);
int fl_solver_parse(const char *name, enum fl_solver_kind *k);

/*
 * Shape constraints (a monotone effect, spline.h): within the block
 * [offset, offset + n) of the weights, w_B = M u with u[0..n_free) free
 * and u[n_free..n) >= 0; Minv is M's inverse (both n x n, row-major,
 * given by the caller so that every party builds them the same way).
 * With a spline's M (n_free 1), u[k] is the k-th increment of its
 * B-spline weights, so u >= 0 is a monotone curve; a single weight's sign
 * is n = 1, n_free = 0, M = +-1. Blocks do not overlap and never hold the intercept.
 *
 * Only Newton enforces them, as a projected Newton method (Bertsekas
 * 1982): in the coordinates u, the variables at their bound whose
 * gradient pushes them out are held there, Newton's step is taken in the
 * others, and the trial points are projected onto the bounds, with an
 * Armijo test along that projected arc. Every choice depends only on the
 * told values, so a federation that tells the same sums takes the same
 * steps as a pooled run. The gradient norm reported and tested against
 * tol is then the norm of the projected gradient u - P(u - g_u) in the
 * coordinates u (zero exactly at the constrained optimum).
 */
struct fl_solver_block {
	size_t offset, n, n_free;
	const double *M, *Minv;
};

struct fl_solver_bounds {
	size_t n_blocks;
	const struct fl_solver_block *blocks;
};

/*
 * The minimum of a quadratic model over the shape constraints: w minimises
 *   q(w) = g'(w - w0) + 1/2 (w - w0)' B (w - w0)
 * over the w whose coordinates u (w_B = M u_B in each block of b, as
 * above) keep u_B[n_free..n) >= 0. B is d x d, symmetric and positive
 * definite (not changed); g, w0 and w are d doubles (w0 need not keep the
 * bounds). This is the step of a Newton method whose Hessian B is fixed
 * (the differential privacy plan's, coord_train.c), post-processing of
 * B and g only.
 *
 * Without blocks (b NULL or empty) it is Newton's full step w = w0 -
 * B^-1 g, by a Cholesky solve, the same arithmetic bit for bit as the
 * step without shape constraints. With blocks, a primal active-set method
 * in u (solver_bounds.c) that ends at the constrained minimum in exact
 * arithmetic: bound coordinates at 0 exactly or above it, the free
 * coordinates at the minimum of their face (a Cholesky solve), and every
 * held coordinate's gradient at least -tol, tol = 1e-10 times the largest
 * gradient in u where it starts. A face whose matrix fails Cholesky in
 * rounding gets the growing ridge of the projected Newton direction (a
 * shorter step, which the next iteration continues). It takes at most
 * 8 (n + 1) iterations, n the bound coordinates; past that it stops at the
 * feasible point reached, whose model value is not above that of w0
 * moved onto the bounds (u clamped at 0), with converged 0.
 * Deterministic: the same inputs give the same w bit for bit.
 *
 * Returns 0; FL_ERR_INVALID naming a block that does not fit;
 * FL_ERR_NUMERIC "solver: the quadratic model is not finite" or "...
 * is not positive definite on the free coordinates" (or the Cholesky
 * solve's error without blocks); FL_ERR_NOMEM. *st is set in every case.
 */
struct fl_qp_status {
	int iterations; /* active-set iterations (0 without blocks) */
	int converged;  /* the KKT conditions hold to tol */
	size_t n_bound; /* coordinates held >= 0 */
	size_t n_held;  /* of them, held at 0 in the solution */
	double kkt;     /* the largest KKT residual in u (see above) */
	double tol;     /* the tolerance on a held coordinate's gradient */
};
int fl_solver_qp(size_t d, const struct fl_solver_bounds *b, const double *B, const double *g,
                 const double *w0, double *w, struct fl_qp_status *st);

struct fl_solver_opts {
	double l2;    /* >= 0 */
	double tol;   /* converged when ||grad f|| <= tol (absolute) */
	int max_iter; /* iterations (accepted steps), > 0 */
	int lbfgs_m;  /* L-BFGS memory; 0 = 10 */
	/* Shape constraints (Newton only; NULL: none). The solver copies
	 * them and moves w0 onto them (the nearest point in u that is). */
	const struct fl_solver_bounds *bounds;
	/* Newton without shape constraints: the data term's Hessian (d*d,
	 * without the l2 term) at a point whose scores are within hess0_dz
	 * (root mean square, weighted by s(1 - s)) of w0's, as a run ended
	 * with it (fl_solver_driver.keep); NULL: none. When hess0_dz is at
	 * most the distance at which Newton keeps a Hessian (1e-3), w0 is
	 * asked for without the Hessian and its step is solved with this one
	 * plus l2: a warm start along a path of penalties saves a Hessian. */
	const double *hess0;
	double hess0_dz;
	/* Newton without shape constraints: nonzero when the caller can
	 * evaluate the Hessian from a fixed sample of its rows (a local run
	 * on many rows, fl_rowset_logistic_sampled()). The solver then asks
	 * for one (need_hess FL_SOLVER_HESS_SAMPLED) at the start from zero
	 * and after a step that moves the scores by more than 0.1 (logreg.c,
	 * "Sampled Hessians"), and never keeps it. A federation leaves it 0:
	 * its partners are asked for exact sums only. A checkpoint does not
	 * hold it (a restored solver asks for exact Hessians). */
	int hess_sample;
};

struct fl_solver_status {
	int iterations;  /* accepted steps */
	int evaluations; /* points evaluated (line-search trials included) */
	double objective;
	double grad_norm; /* of f, at the current point */
	int converged;
};

struct fl_solver;

/* w0 may be NULL (start at zero). kind must be NEWTON or LBFGS. */
int fl_solver_new(enum fl_solver_kind kind, size_t d, const struct fl_solver_opts *opts,
                  const double *w0, struct fl_solver **out);

#define FL_SOLVER_DONE 0
#define FL_SOLVER_EVAL 1
/* need_hess when a Hessian from a sample of the rows serves (only with
 * fl_solver_opts.hess_sample); any nonzero need_hess asks for a Hessian. */
#define FL_SOLVER_HESS_SAMPLED 2
/* An eval_sampled that gave the exact Hessian (fl_solver_driver). */
#define FL_SOLVER_HESS_EXACT 1
/*
 * What to evaluate next: returns FL_SOLVER_EVAL with *w (d doubles, owned by
 * the solver, valid until the next tell) and *need_hess, or FL_SOLVER_DONE
 * when converged or out of iterations, or a negative FL_ERR_* (e.g. the line
 * search failed).
 */
int fl_solver_ask(struct fl_solver *s, const double **w, int *need_hess);

/* The data-term sums at the point last asked for; hess may be NULL unless
 * need_hess was set. Returns 0 or FL_ERR_NUMERIC for non-finite input. */
int fl_solver_tell(struct fl_solver *s, double loss, const double *grad, const double *hess);

/*
 * Sets the shape constraints of a solver restored from a checkpoint (the
 * checkpoint does not hold them): the same bounds as the saved solver's,
 * before the first ask. The point is left as it is. Errors: FL_ERR_INVALID
 * "solver: shape constraints need the newton solver" or naming a block
 * that does not fit; FL_ERR_NOMEM.
 */
int fl_solver_constrain(struct fl_solver *s, const struct fl_solver_bounds *b);

/* Best point so far (d doubles) and progress. */
const double *fl_solver_weights(const struct fl_solver *s);
void fl_solver_get_status(const struct fl_solver *s, struct fl_solver_status *st);
void fl_solver_free(struct fl_solver *s);

/*
 * Checkpoints. fl_solver_save() serialises the complete state of the ask/tell
 * machine into *buf (malloc'd, caller frees; *len bytes). A solver restored
 * from it with fl_solver_restore() asks for exactly the same points, bit for
 * bit, and ends with the same weights as the original would have, so a
 * coordinator that saves after every tell and restarts after a crash
 * reproduces an uninterrupted run. Save may be called at any time; ask does
 * not change the state.
 *
 * Layout (little-endian; doubles as their IEEE-754 bit patterns):
 *   "FLSOLV1\n"  magic (8 bytes)
 *   u32 version (1 or 2), u32 kind, u64 d, f64 l2, f64 tol, u32 max_iter,
 *   u32 m (L-BFGS memory, 0 for Newton), u32 phase, u32 need_hess,
 *   u32 converged, u32 iterations, u32 evaluations, u32 halvings,
 *   f64 f, f64 gnorm, f64 dphi0, f64 alpha, u32 count, u32 head,
 *   i32 err, u32 errlen                                   (120 bytes so far)
 *   version 2 only: f64 step_dz, f64 hess_dz, u32 hess_kept, u32 0
 *                                                         (144 bytes so far)
 *   errlen bytes: the message a failed solver repeats
 *   f64[d] w, g, p, x
 *   count times, oldest first: f64 rho, f64[d] s, f64[d] y
 *   version 2 with hess_kept 1: the kept Hessian's lower triangle, row by
 *   row (d (d + 1) / 2 doubles)
 * Newton keeps its Hessian for the points its last, small steps reach
 * (logreg.c, "Reusing the Hessian"); version 2 holds it and the distances
 * that decide its reuse. A state without them (L-BFGS, Newton before its
 * first step) is written as version 1, which is also what fedlead wrote
 * before it reused the Hessian; such a checkpoint restores as a state with
 * no Hessian kept. The shape constraints are not part of the state: the
 * caller sets the same ones again with fl_solver_constrain().
 *
 * Restore checks every field and the total length before allocating
 * (d <= FL_SOLVER_MAX_CHECKPOINT_D, m <= 1000) and returns FL_ERR_DATA
 * "solver checkpoint is malformed (...)" on any inconsistency, with
 * *out = NULL. Both return 0 on success.
 */
#define FL_SOLVER_MAX_CHECKPOINT_D 10000000
int fl_solver_save(const struct fl_solver *s, uint8_t **buf, size_t *len);
int fl_solver_restore(const uint8_t *buf, size_t len, struct fl_solver **out);

/*
 * The number of coefficients d of the solver in a checkpoint, from its
 * header, so that a caller can refuse a solver of another dimension before
 * fl_solver_restore() takes memory for it; nobody else reads the layout.
 * Makes the same header checks as fl_solver_restore() (the body is checked
 * only by restoring). Returns 0, or FL_ERR_DATA "solver checkpoint is
 * malformed (...)" with *d = 0.
 */
int fl_solver_checkpoint_dim(const uint8_t *buf, size_t len, size_t *d);

/* A partner's rows, already encoded and standardised. c may be NULL. */
struct fl_logreg_data {
	size_t n, d;
	const double *X, *y, *c;
};

/*
 * The one driver of the ask/tell loop, for data a caller can evaluate
 * itself (rows in memory, a column cache): asks the solver for points,
 * evaluates the data-term sums there with eval, tells them, until it is
 * done.
 *
 * eval(arg, w, loss, grad, hess) stores the sums at w (d doubles): *loss,
 * grad[d] and, when hess is not NULL, the Hessian hess[d*d]. It returns 0
 * or a negative FL_ERR_* with fl_errmsg() set, which ends the run with
 * that error. progress (may be NULL) is called after every evaluation the
 * solver is told.
 */
struct fl_solver_driver {
	int (*eval)(void *arg, const double *w, double *loss, double *grad, double *hess);
	/* May be NULL (eval serves): the same sums with the Hessian from a
	 * sample of the rows, for need_hess FL_SOLVER_HESS_SAMPLED. It may
	 * return FL_SOLVER_HESS_EXACT instead of 0 when it gave the exact
	 * Hessian because a sample does not serve the rows: the run then
	 * asks for exact Hessians only. */
	int (*eval_sampled)(void *arg, const double *w, double *loss, double *grad, double *hess);
	void (*progress)(void *arg, const struct fl_solver_status *st);
	void *arg;
	/* May be NULL. After a successful Newton run: the data term's Hessian
	 * the solver kept (d*d) and *keep_dz its distance from the solution,
	 * for the next run's fl_solver_opts.hess0 (*keep_dz is infinite when
	 * none was kept). */
	double *keep;
	double *keep_dz;
};

/*
 * Runs the solver kind (NEWTON or LBFGS) in d coefficients with opts from
 * w (d doubles) and stores the solution in w. *st (may be NULL) gets the
 * final status, even on failure. Returns 0; or FL_ERR_INVALID "train: no
 * vector for the solution", FL_ERR_NOMEM "train: out of memory for D
 * coefficients", or the solver's or eval's error.
 */
int fl_solver_run(enum fl_solver_kind kind, size_t d, const struct fl_solver_opts *opts,
                  const struct fl_solver_driver *drv, double *w, struct fl_solver_status *st);

/* Runs Newton or L-BFGS locally (fl_solver_run() over the rows).
 * w: in = start, out = solution. */
int fl_logreg_train(const struct fl_logreg_data *data, enum fl_solver_kind kind,
                    const struct fl_solver_opts *opts, double *w, struct fl_solver_status *st);
/* The same, calling watch(arg, status) after every evaluation (progress). */
int fl_logreg_train_watch(const struct fl_logreg_data *data, enum fl_solver_kind kind,
                          const struct fl_solver_opts *opts, double *w, struct fl_solver_status *st,
                          void (*watch)(void *arg, const struct fl_solver_status *st), void *arg);

struct fl_sgd_opts {
	double l2;
	int epochs;   /* passes over the rows, > 0 */
	size_t batch; /* rows per mini-batch, > 0 */
	double lr;    /* initial learning rate; decays as lr / (1 + t * decay) */
	double decay;
	uint64_t seed;        /* row shuffling */
	double prox_mu;       /* FedProx: adds (mu/2)||w - anchor||^2; 0 = off */
	const double *anchor; /* d doubles, required when prox_mu > 0 */
};

/* Mini-batch SGD (FedAvg's local step); w in/out. */
int fl_logreg_sgd(const struct fl_logreg_data *data, const struct fl_sgd_opts *opts, double *w);

/* Objective f(w) for the data, for tests and reports. */
double fl_logreg_objective(const struct fl_logreg_data *data, double l2, const double *w);

/* The objective's penalty, (l2 / 2) * sum over j >= 1 of w_j^2 (the
 * intercept w_0 is not penalised): a model's final_loss is the weighted
 * log-loss summed over its training rows plus this, for a local and a
 * federated model alike. */
double fl_logreg_penalty(double l2, const double *w, size_t d);

#endif
