/*
 * Ranking-quality metrics for lead scores (src/core/metrics.c).
 *
 * Scores are logits z (the probability is sigmoid(z)); sorting by z is
 * sorting by probability, and log-loss computed from z stays exact for very
 * confident predictions.
 */
#ifndef FEDLEAD_METRICS_H
#define FEDLEAD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define FL_DECILES 10

struct fl_decile {
	uint64_t rows, positives;
	double mean_prob; /* mean predicted probability in the decile */
};

struct fl_eval {
	uint64_t rows, positives;
	double auc;      /* tied scores count one half; NaN when one class is absent */
	double log_loss; /* mean, natural log */
	double brier;    /* mean squared error of the probability */
	struct fl_decile deciles[FL_DECILES]; /* [0] = the highest-scored tenth */
	uint64_t top_k, top_k_positives;      /* top_k = min(K asked, rows) */
	double top_k_share;                   /* top_k_positives / top_k */
	double lift_at_top_k;                 /* top_k_share / (positives / rows) */
};

/* Exact metrics on arrays (y in {0,1}); for small data and tests. */
double fl_auc(const double *z, const double *y, size_t n);
double fl_log_loss(const double *z, const double *y, size_t n);
double fl_brier(const double *z, const double *y, size_t n);

/* Decile (1..10) of a 1-based rank among n. */
int fl_decile_of_rank(uint64_t rank, uint64_t n);

/* The same metrics for any number of rows, and ranks, come from the
 * ranker; a caller of either needs one include. */
#include "fedlead/ranker.h"

#endif
