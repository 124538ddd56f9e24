/*
 * Local training: from a raw encoded dataset to a model file, with an
 * optional validation split and automatic choice of the L2 strength.
 */
#ifndef FEDLEAD_TRAIN_H
#define FEDLEAD_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/encode.h"
#include "fedlead/logreg.h"
#include "fedlead/model.h"
#include "fedlead/rowset.h"

#define FL_L2_GRID_MAX 16

/*
 * How --l2 auto cross-validates without a validation split (fl_train_opts.cv):
 * EXACT fits every fold at every strength; APPROX fits all the training rows
 * once per strength and takes each fold's model as one Newton step from
 * that fit without the fold's rows (core/cv_int.h), Newton without shape
 * constraints only; AUTO is APPROX from FL_CV_APPROX_MIN_ROWS training rows
 * on where it can, else EXACT. After EXACT the final model is a fit from
 * zero at the chosen strength: --l2 of that strength's bit for bit; after
 * APPROX it is the fit continued from the path's point for that strength
 * (fitted to FL_CV_PATH_TOL) to the solver's tolerance: the same model to
 * within that tolerance (1e-9 relative), a pass or two instead of the
 * whole way.
 */
enum fl_cv_mode { FL_CV_AUTO = 0, FL_CV_EXACT = 1, FL_CV_APPROX = 2 };
#define FL_CV_APPROX_MIN_ROWS ((size_t)100000)
/* The gradient per lead to which approximate cross-validation fits its
 * path's points (train.c, search_l2). */
#define FL_CV_PATH_TOL 1e-6
/* APPROX keeps every fold's Hessian: AUTO uses it only while k d^2 doubles
 * stay within this. */
#define FL_CV_APPROX_MAX_BYTES ((size_t)256 << 20)

/* Where fl_train_local() is, for a progress line (see fl_train_opts). */
struct fl_train_progress {
	const char *phase; /* "l2 search" or "fit" */
	double l2;         /* of this solver run */
	size_t fit, fits;  /* this run (1-based) of all the runs training makes */
	int iteration;     /* accepted steps of this run */
	double objective;  /* of this run at its current point */
};

struct fl_train_opts {
	enum fl_solver_kind solver;
	double l2;         /* used unless l2_auto */
	int l2_auto;       /* pick l2 from the grid by validation log-loss */
	double valid_frac; /* 0: no validation split (auto then uses k-fold) */
	int kfold;         /* folds for auto without a split; 0 = 5 */
	uint64_t seed;     /* split and SGD shuffling */
	double pos_weight; /* weight of converted rows; 1 = none, 0 = balanced */
	double tol;        /* converged when ||grad f|| <= tol * rows; 0 = 1e-10 */
	int max_iter;      /* 0 = 100 for Newton, 10000 for L-BFGS */
	int epochs;        /* SGD; 0 = 50 */
	size_t batch;      /* SGD; 0 = 64 */
	double lr;         /* SGD; 0 = 0.5 */
	/* How the k folds are fitted (FL_CV_AUTO = 0 by default). */
	enum fl_cv_mode cv;
	/* Threads of the passes over rows; 0 = fl_threads_default(). The
	 * model is the same for every count. */
	unsigned threads;
	/* How the rows are held (rowset.h); FL_ROWS_AUTO chooses from the
	 * schema. The model is the same (to rounding) in either. */
	enum fl_rows_layout layout;
	/* Called after every Newton or L-BFGS evaluation of fl_train_local()
	 * (not SGD's epochs); NULL = none. */
	void (*progress)(void *arg, const struct fl_train_progress *p);
	void *progress_arg;
};

void fl_train_opts_default(struct fl_train_opts *o);

struct fl_l2_candidate {
	double l2, valid_log_loss, valid_auc;
};

struct fl_train_report {
	struct fl_solver_status status;
	struct fl_l2_candidate grid[FL_L2_GRID_MAX];
	size_t n_grid; /* 0 unless l2_auto */
	double l2;     /* the strength used for the model */
	double pos_weight;
	struct fl_metric_set train, valid;
	/* With n_grid by k-fold cross-validation: FL_CV_EXACT or FL_CV_APPROX,
	 * as used; otherwise FL_CV_AUTO. */
	enum fl_cv_mode cv;
};

/* The grid --l2 auto searches (sum-form penalty, see logreg.h). */
size_t fl_l2_grid(double *out, size_t max);

/* "auto", "exact" or "approx" as a mode; returns 0, or -1 for another text. */
int fl_cv_mode_parse(const char *text, enum fl_cv_mode *out);
/* The mode's name: "auto", "exact" or "approx". */
const char *fl_cv_mode_name(enum fl_cv_mode m);

/*
 * Trains a local model on raw (unstandardised) rows. raw is not modified:
 * training works on a copy in o->layout (rowset.h; compact for a schema
 * with categories, so the copy is small), through fl_train_rows().
 * Standardisation uses statistics of the training part only.
 */
int fl_train_local(const struct fl_schema *s, const struct fl_dataset *raw,
                   const struct fl_train_opts *opts, struct fl_model **out,
                   struct fl_train_report *rep);

/*
 * fl_train_local() on rows the caller hands over: they are split (the
 * validation rows moved to the end, rowset.h) and standardised in place,
 * so a file loaded with fl_rowset_load() is stored once. rows stays the
 * caller's to free.
 */
int fl_train_rows(const struct fl_schema *s, struct fl_rowset *rows, const struct fl_train_opts *o,
                  struct fl_model **out, struct fl_train_report *rep);

/* What a training run found, as a model's provenance records it. */
struct fl_train_facts {
	const char *solver; /* "newton", "lbfgs", "sgd", "fedavg" */
	double l2, pos_weight;
	uint64_t rows, positives;
	int iterations;
	double final_loss, grad_norm;
	struct fl_metric_set train, valid; /* valid.rows == 0: no validation */
};

/*
 * Stamps a newly trained model's provenance: the facts, this fedlead's
 * version and the time now (RFC 3339, UTC). Every trainer (local, from a
 * cache, federated) stamps through here, so the three models say the same
 * things the same way. Federation fields are the caller's to add.
 */
int fl_train_stamp(struct fl_model *m, const struct fl_train_facts *f);

/* Trains on standardised rows with the given solver settings; w (dim) in/out. */
int fl_train_fit(const struct fl_dataset *std, const struct fl_train_opts *opts, double l2,
                 double pos_weight, double *w, struct fl_solver_status *st);

/*
 * fl_train_local's work on every row of a column cache (cache.h) at
 * cache_path, each pass streamed from disk, for data larger than memory.
 * opts: solver newton or lbfgs, a given l2 (not auto), no validation split;
 * pos_weight 0 = balanced; tol and max_iter as fl_train_fit's when 0.
 * progress (may be NULL) is called after every solver evaluation with
 * progress_arg. *out gets the model with its standardisation from the
 * cache's statistics and its provenance; rep gets status, l2, pos_weight and
 * the training metrics (n_grid and valid are 0). Returns 0, FL_ERR_INVALID
 * for options a cache cannot serve, FL_ERR_DATA when the rows hold one class
 * only ("PATH: the rows contain only converted leads"), or the error of
 * opening, training on or scoring the cache.
 */
int fl_train_cache(const struct fl_schema *s, const char *cache_path,
                   const struct fl_train_opts *opts,
                   void (*progress)(void *arg, const struct fl_solver_status *st),
                   void *progress_arg, struct fl_model **out, struct fl_train_report *rep);

#endif
