/*
 * Scoring a lead file with a model: scores, ranks, deciles, reason codes and
 * ranking-quality metrics, in memory that does not grow with the rows.
 */
#ifndef FEDLEAD_SCORE_H
#define FEDLEAD_SCORE_H

#include <stdint.h>
#include <stdio.h>

#include "fedlead/encode.h"
#include "fedlead/metrics.h"
#include "fedlead/model.h"

#define FL_MAX_REASONS 10

/* Which reason codes a scored lead carries (--reasons up|down|both). */
enum fl_reasons_dir {
	FL_REASONS_UP = 1,   /* the strongest drivers towards conversion */
	FL_REASONS_DOWN = 2, /* the strongest drivers against it */
	FL_REASONS_BOTH = 3
};

struct fl_score_opts {
	const char *data; /* lead CSV ("-": standard input; it is read once) */
	const char *out;  /* scored CSV path; NULL = no per-lead output */
	int eval;         /* the label column must be present */
	uint64_t top_k;   /* 0 = no top-K figures */
	double top_share; /* with top_k 0: the best share of the leads, in (0, 1]; 0 = none */
	enum fl_bad_rows policy;
	int n_reasons;               /* reason codes per lead and direction, 0..FL_MAX_REASONS */
	enum fl_reasons_dir reasons; /* 0 = FL_REASONS_UP */
	int sort_rank;               /* --out in rank order (best first), not file order */
	const char *tmpdir;          /* for the ranking spill files; NULL = $TMPDIR */
	size_t mem_records;          /* ranking records kept in memory; 0 = 1<<20 */
	unsigned threads;            /* threads scoring; 0 = fl_threads_default() */
	size_t spool_bytes;          /* output lines kept in memory before they spill; 0 = 8 MiB */
};

struct fl_score_report {
	struct fl_eval ev;
	struct fl_load_report load;
	uint64_t bytes; /* CSV bytes read in the scoring pass */
};

/*
 * Scores opts->data, reading it once. The output file appears only when
 * scoring succeeded (it is written under a temporary name and renamed).
 * Memory is bounded whatever the number of leads: about 24 bytes per
 * mem_records for the ranking, spool_bytes for the output lines waiting
 * for their ranks, and two batches of 4096 leads being read and scored;
 * beyond that, unlinked files in tmpdir. The output is the same, byte for
 * byte, for any threads, mem_records and spool_bytes.
 */
int fl_score_file(const struct fl_model *m, const struct fl_score_opts *opts,
                  struct fl_score_report *rep);

/*
 * The first pass of fl_score_file() alone: scores every good row of
 * opts->data into a new ranker (*rk, for fl_ranker_free()), which is
 * finished, so rep->ev holds the metrics and the ranker can give curves.
 * opts->out and opts->n_reasons are ignored.
 */
int fl_score_rank(const struct fl_model *m, const struct fl_score_opts *opts,
                  struct fl_score_report *rep, struct fl_ranker **rk);

/* The effect of one encoded column on a lead's log-odds, against the
 * average training lead. */
struct fl_driver {
	size_t col;
	double effect;
};

/*
 * A model's drivers: every encoded column's effect, as --explain and the
 * report state it (one standard deviation up for a numeric value; having
 * this value instead of the feature's average mix for a category or a
 * missing-value indicator), from the strongest towards conversion to the
 * strongest against. Columns whose effect is not finite are left out.
 * *out is malloc'ed (*n entries) for free().
 */
int fl_score_drivers(const struct fl_model *m, struct fl_driver **out, size_t *n);

/* Contribution of encoded column j to a standardised row's logit, against
 * the average training lead: w_j * (x_j - baseline_j). */
double fl_score_contribution(const struct fl_model *m, const double *x, size_t j);

/* Prints the model's top positive and negative drivers in human terms. */
int fl_score_explain(const struct fl_model *m, FILE *fp, int top);

/* One reason code of a lead, as --out writes it. */
struct fl_reason {
	double contribution; /* to the lead's log-odds, against the average training lead */
	char text[192];      /* "industry=Software", "industry=(unseen: Biotech)" */
};

/*
 * Reason codes for a caller that scores leads one at a time (the scoring
 * service): the model's table of reasons is built once by
 * fl_reasoner_new() (FL_ERR_NOMEM), not per lead.
 *
 * fl_reasoner_reasons() gives the strongest n (0..FL_MAX_REASONS) reason
 * codes of one sign of a lead (sign 1: towards conversion, -1: against),
 * strongest first, exactly as fl_score_file() writes them: rec is the
 * lead's CSV record read through b, raw its raw encoded row and x the same
 * row standardised. Returns how many were filled (fewer when the lead has
 * fewer contributions of that sign).
 */
struct fl_reasoner;

int fl_reasoner_new(const struct fl_model *m, struct fl_reasoner **out);
size_t fl_reasoner_reasons(struct fl_reasoner *r, const struct fl_binding *b,
                           const struct fl_csv_record *rec, const double *raw, const double *x,
                           int n, int sign, struct fl_reason *out);
void fl_reasoner_free(struct fl_reasoner *r);

#endif
