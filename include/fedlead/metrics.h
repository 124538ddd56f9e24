/*
 * Ranking-quality metrics for lead scores.
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
	double top_k_share;   /* top_k_positives / top_k */
	double lift_at_top_k; /* top_k_share / (positives / rows) */
};

/* Exact metrics on arrays (y in {0,1}); for small data and tests. */
double fl_auc(const double *z, const double *y, size_t n);
double fl_log_loss(const double *z, const double *y, size_t n);
double fl_brier(const double *z, const double *y, size_t n);

/*
 * Exact ranking with memory bounded by mem_records, whatever the number of
 * scores: scores are spooled to an unlinked temporary file in tmpdir (NULL =
 * $TMPDIR or /tmp) and sorted by an external merge sort when they do not fit.
 * Rank 1 is the highest score; ties are ranked in input order.
 */
struct fl_ranker;

int fl_ranker_new(const char *tmpdir, size_t mem_records, struct fl_ranker **out);
/* Adds the score of the next row; label is 0, 1, or -1 when unknown. */
int fl_ranker_add(struct fl_ranker *r, double z, int label);
/*
 * Sorts and computes the metrics (those needing labels only when every row
 * had one; ev->positives etc. are 0 otherwise). top_k may be 0.
 */
int fl_ranker_finish(struct fl_ranker *r, uint64_t top_k, struct fl_eval *ev);
/*
 * After finish: rank (1-based) and decile (1..10, 1 = best) of row i, in
 * input order. Fastest when called with i = 0, 1, 2, ...
 */
int fl_ranker_rank(struct fl_ranker *r, uint64_t i, uint64_t *rank, int *decile);
void fl_ranker_free(struct fl_ranker *r);

/* Decile (1..10) of a 1-based rank among n. */
int fl_decile_of_rank(uint64_t rank, uint64_t n);

#endif
