/*
 * An exact ranker for lead scores with memory bounded by mem_records,
 * whatever the number of rows (src/core/ranker.c): scores are spooled to an
 * unlinked temporary file and sorted by an external merge sort when they do
 * not fit. One walk in rank order gives every row's rank and decile, the
 * metrics of struct fl_eval (metrics.h) and a summary for charts.
 */
#ifndef FEDLEAD_RANKER_H
#define FEDLEAD_RANKER_H

#include <stddef.h>
#include <stdint.h>

struct fl_eval; /* metrics.h */

/*
 * Temporary files go to tmpdir (NULL = $TMPDIR or /tmp). Rank 1 is the
 * highest score; ties are ranked in input order.
 */
struct fl_ranker;

int fl_ranker_new(const char *tmpdir, size_t mem_records, struct fl_ranker **out);
/* Adds the score of the next row; label is 0, 1, or -1 when unknown. */
int fl_ranker_add(struct fl_ranker *r, double z, int label);
/*
 * Optional, before fl_ranker_join(): sorts the scores r holds in memory, on
 * the calling thread (the one that added them), so that the join and
 * fl_ranker_finish() have less left to do on theirs. Nothing to do once r
 * has spilled.
 */
int fl_ranker_sort_held(struct fl_ranker *r);
/*
 * Rankers of consecutive stretches of the rows, filled on different
 * threads (one ranker a thread), made one: more's rows follow r's, as if
 * r had been given them after its own. more is left empty (free it with
 * fl_ranker_free()); r takes no more scores of its own after a join (it
 * may join others, then be finished). When neither has spilled, more's
 * records join as they are and the memory bound is the two bounds
 * together; otherwise they are read back into r's runs. The ranks and
 * deciles are those of one ranker given every row in order; so are the
 * metrics without labels. With labels, the log-loss and Brier sums of the
 * two are added as two sums, so they may differ from one ranker's in the
 * last bit: a caller that needs those exact adds every row to one ranker.
 */
int fl_ranker_join(struct fl_ranker *r, struct fl_ranker *more);
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
/*
 * After finish: the ranks of rows first .. first + n - 1 into rank[], in
 * input order. Unlike fl_ranker_rank() it changes nothing in r, so
 * several threads may call it at once (each with its own rank[]).
 */
int fl_ranker_ranks(const struct fl_ranker *r, uint64_t first, size_t n, uint64_t *rank);
void fl_ranker_free(struct fl_ranker *r);
/*
 * A new unlinked temporary file in the ranker's directory (*fd, read and
 * write), for a caller that spools per-lead output beside the ranking;
 * errors name the directory as the ranker's own do.
 */
int fl_ranker_tmpfile(const struct fl_ranker *r, int *fd);

/*
 * A fixed-size summary of the ranking for charts (ROC, cumulative gains,
 * score distribution), collected during fl_ranker_finish()'s sorted walk, so
 * a report needs no per-lead memory. Points are taken at ends of tie groups
 * (leads with equal scores are never split), at about every
 * 1/FL_CURVE_POINTS of the rows: joining them with straight lines gives the
 * ROC and gains curves with ties drawn as diagonals, as AUC counts them.
 */
#define FL_CURVE_POINTS 200
#define FL_SCORE_BINS 50

struct fl_curves {
	int labelled; /* every row had a label (cum_pos and hist_pos are meaningful) */
	uint64_t rows, positives;
	size_t n_points; /* entries used below, at most FL_CURVE_POINTS + 1 */
	/* Point k: the cum_rows[k] highest-scored leads hold cum_pos[k] converted
	 * ones. Point 0 is (0, 0), the last (rows, positives). */
	uint64_t cum_rows[FL_CURVE_POINTS + 1], cum_pos[FL_CURVE_POINTS + 1];
	/* Histogram of the scores z (log-odds, where probabilities spread out
	 * evenly even when most are near 0) over FL_SCORE_BINS equal bins from
	 * z_lo (lowest score) to z_hi (highest score); all rows fall in bin 0 when
	 * the two are equal. Unlabelled rows count in hist_neg. */
	double z_lo, z_hi;
	uint64_t hist_pos[FL_SCORE_BINS], hist_neg[FL_SCORE_BINS];
};

/* After a successful fl_ranker_finish(): copies the summary into *out. */
int fl_ranker_curves(const struct fl_ranker *r, struct fl_curves *out);

#endif
