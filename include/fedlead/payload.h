/*
 * What a partner's update vector holds, shared by node and coordinator.
 *
 * Every vector is a fixed function of the task and the schema dimension d;
 * nothing in it grows with the partner's rows, and every entry is a sum
 * over rows. The coordinator only ever adds vectors up.
 *
 *   stats   rows, positives, count[d], sum[d], sumsq[d]
 *   eval    loss, grad[d], [hess upper triangle, d(d+1)/2], [validation]
 *   fedavg  rows, loss at the received w, rows * w_local[d], [validation]
 *   validation (when asked): rows, positives, log-loss sum,
 *           hist_pos[bins], hist_neg[bins] (counts of validation scores per
 *           logit bin, for AUC without any per-lead score leaving the site)
 */
#ifndef FEDLEAD_PAYLOAD_H
#define FEDLEAD_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/encode.h"

#define FL_HIST_BINS_DEFAULT 2000
#define FL_HIST_RANGE_DEFAULT 20.0
#define FL_HIST_BINS_MAX 100000

size_t fl_payload_stats_len(size_t d);
size_t fl_payload_valid_len(uint32_t bins);
size_t fl_payload_eval_len(size_t d, int hess, int valid, uint32_t bins);
size_t fl_payload_fedavg_len(size_t d, int valid, uint32_t bins);

/* Packs raw column statistics; unpacks summed ones (min/max are not sent). */
void fl_payload_stats_pack(const struct fl_stats *st, double *v);
int fl_payload_stats_unpack(const double *v, size_t d, struct fl_stats **out);

/* Upper triangle of a symmetric d*d matrix, row by row, and back. */
void fl_payload_hess_pack(const double *H, size_t d, double *v);
void fl_payload_hess_unpack(const double *v, size_t d, double *H);

/* Validation sums at w over rows X (standardised), appended at v. */
void fl_payload_valid_pack(const double *X, const double *y, size_t n, size_t d, const double *w,
                           uint32_t bins, double range, double *v);

struct fl_valid_metrics {
	double rows, positives, log_loss, auc; /* log_loss is the mean */
};

/* Metrics from summed validation sums (AUC from the histograms, ties within
 * a bin counted one half). */
void fl_payload_valid_metrics(const double *v, uint32_t bins, struct fl_valid_metrics *m);

#endif
