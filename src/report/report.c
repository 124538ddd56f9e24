/*
 * The model report: one HTML page of inline SVG charts (svg.c) for a
 * sales-operations analyst. It leads with one sentence in plain language,
 * then the charts that answer "how much better than calling at random is
 * this ranking", each with a line on how to read it, then the drivers and
 * where the model came from. It needs no script.
 *
 * Memory never depends on the number of leads: the charts are drawn from the
 * ranker's fixed-size summary (struct fl_curves) and the decile table.
 */
#include "fedlead/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/schema.h"
#include "fedlead/spline.h"
#include "fedlead/svg.h"
#include "page_int.h"

/* Okabe-Ito colours (C_MODEL and C_VALID are in page_int.h). */
#define C_CONVERTED "#d55e00"
#define C_NOT "#0072b2"
#define C_PREDICTED "#56b4e9"
#define C_OBSERVED "#e69f00"
#define C_PERFECT "#009e73"
#define C_RANDOM "#8a94a6"
#define C_UP "#0072b2"
#define C_DOWN "#d55e00"

#define DRIVERS_MAX 50

/* ---- drivers ---- */

static int drivers_chart(struct fl_svg_buf *b, const struct fl_model *m, int top)
{
	const struct fl_schema *s = m->schema;
	struct fl_driver *d = NULL;
	char(*names)[200] = NULL;
	const char **labels = NULL;
	double *v = NULL;
	size_t n = 0, k = 0, up = 0, down = 0;
	struct fl_svg_chart c = {
	        .title = "Top drivers",
	        .width = 960,
	        .x = {.label = "Effect on the log-odds of converting, against the average lead "
	                       "(+0.69 = twice the odds)",
	              .min = NAN,
	              .max = NAN,
	              .zero = 1},
	};
	int r = FL_ERR_NOMEM;

	if (top <= 0)
		top = 10;
	if (top > DRIVERS_MAX)
		top = DRIVERS_MAX;
	if ((r = fl_score_drivers(m, &d, &n)) != 0)
		goto out;
	r = FL_ERR_NOMEM;
	if ((names = calloc(2 * (size_t)top, sizeof(*names))) == NULL ||
	    (labels = calloc(2 * (size_t)top, sizeof(*labels))) == NULL ||
	    (v = calloc(2 * (size_t)top, sizeof(*v))) == NULL)
		goto out;
	while (up < n && up < (size_t)top && d[up].effect > 0)
		up++;
	/* Against conversion: the strongest last, so the chart reads top to bottom
	 * from most helpful to most harmful. */
	while (down < n - up && down < (size_t)top && d[n - 1 - down].effect < 0)
		down++;
	for (size_t i = 0; i < up + down; i++, k++) {
		const struct fl_driver *dr = i < up ? &d[i] : &d[n - down + (i - up)];

		fl_schema_column_name(s, dr->col, names[k], sizeof(names[k]));
		/* Numeric effects are per standard deviation: say so. */
		for (size_t f = 0; f < s->n_features; f++)
			if (fl_feature_is_value(&s->features[f], dr->col)) {
				size_t len = strlen(names[k]);

				snprintf(names[k] + len, sizeof(names[k]) - len, " (+1 sd)");
				break;
			}
		labels[k] = names[k];
		v[k] = dr->effect;
	}
	r = fl_svg_hbar_chart(b, &c, labels, v, k, C_UP, C_DOWN);
out:
	free(v);
	free(labels);
	free(names);
	free(d);
	return r != 0 ? r : b->err;
}

/* ---- charts of the evaluation ---- */

/* Conversions among the top 20 % of leads (deciles 1 and 2), exactly. */
static void top20(const struct fl_eval *ev, double *lead_share, double *conv_share)
{
	uint64_t rows = ev->deciles[0].rows + ev->deciles[1].rows;
	uint64_t pos = ev->deciles[0].positives + ev->deciles[1].positives;

	*lead_share = ratio((double)rows, (double)ev->rows);
	*conv_share = ratio((double)pos, (double)ev->positives);
}

static void gains_chart(struct fl_svg_buf *b, const struct fl_eval *ev, const struct fl_curves *cv)
{
	double x[FL_CURVE_POINTS + 1], y[FL_CURVE_POINTS + 1];
	double rx[2] = {0, 1}, ry[2] = {0, 1}, px[3] = {0, NAN, 1}, py[3] = {0, 1, 1};
	double ls, cs;
	size_t n = 0;
	char text[96];
	struct fl_svg_mark mark;
	struct fl_svg_series s[3] = {
	        {"Perfect ranking", px, py, 3, C_PERFECT, FL_SVG_DASHED},
	        {"Random calling", rx, ry, 2, C_RANDOM, FL_SVG_DASHED},
	        {"This model", x, y, 0, C_MODEL, 0},
	};
	struct fl_svg_chart c = {
	        .title = "Cumulative gains",
	        .x = {.label = "Share of leads called, highest scores first",
	              .min = 0,
	              .max = 1,
	              .fmt = FL_SVG_PCT},
	        .y = {.label = "Conversions reached", .min = 0, .max = 1, .fmt = FL_SVG_PCT},
	};

	if (cv->rows > 0 && cv->positives > 0) {
		for (size_t k = 0; k < cv->n_points; k++, n++) {
			x[n] = (double)cv->cum_rows[k] / (double)cv->rows;
			y[n] = (double)cv->cum_pos[k] / (double)cv->positives;
		}
		px[1] = (double)cv->positives / (double)cv->rows;
		top20(ev, &ls, &cs);
		snprintf(text, sizeof(text), "top %.0f %% \xe2\x86\x92 %.0f %% of conversions",
		         100 * ls, 100 * cs);
		mark = (struct fl_svg_mark){ls, cs, text};
		c.marks = &mark;
		c.n_marks = 1;
	} else {
		s[0].n = 0; /* no perfect line without conversions */
	}
	s[2].n = n;
	fl_svg_line_chart(b, &c, s, 3);
}

static void roc_chart(struct fl_svg_buf *b, const struct fl_eval *ev, const struct fl_curves *cv)
{
	double x[FL_CURVE_POINTS + 1], y[FL_CURVE_POINTS + 1], rx[2] = {0, 1}, ry[2] = {0, 1};
	uint64_t neg = cv->rows - cv->positives;
	size_t n = 0;
	char title[64], name[64];
	struct fl_svg_series s[2] = {
	        {"Random", rx, ry, 2, C_RANDOM, FL_SVG_DASHED},
	        {name, x, y, 0, C_MODEL, 0},
	};
	struct fl_svg_chart c = {
	        .title = title,
	        .x = {.label = "False positive rate: non-converted leads flagged",
	              .min = 0,
	              .max = 1,
	              .fmt = FL_SVG_PCT},
	        .y = {.label = "True positive rate", .min = 0, .max = 1, .fmt = FL_SVG_PCT},
	};

	if (isfinite(ev->auc)) {
		snprintf(title, sizeof(title), "ROC curve \xe2\x80\x94 AUC %.3f", ev->auc);
		snprintf(name, sizeof(name), "This model (AUC %.3f)", ev->auc);
	} else {
		snprintf(title, sizeof(title), "ROC curve \xe2\x80\x94 AUC not defined");
		snprintf(name, sizeof(name), "This model");
	}
	if (cv->positives > 0 && neg > 0)
		for (size_t k = 0; k < cv->n_points; k++, n++) {
			x[n] = (double)(cv->cum_rows[k] - cv->cum_pos[k]) / (double)neg;
			y[n] = (double)cv->cum_pos[k] / (double)cv->positives;
		}
	s[1].n = n;
	fl_svg_line_chart(b, &c, s, 2);
}

static const char *const DECILE_NAMES[FL_DECILES] = {"1", "2", "3", "4", "5",
                                                     "6", "7", "8", "9", "10"};

static void lift_chart(struct fl_svg_buf *b, const struct fl_eval *ev)
{
	double lift[FL_DECILES], base = ratio((double)ev->positives, (double)ev->rows);
	struct fl_svg_bars s = {NULL, lift, C_MODEL, 1};
	struct fl_svg_chart c = {
	        .title = "Lift by decile",
	        .x = {.label = "Decile (1 = the tenth of leads with the highest scores)"},
	        .y = {.label = "Rate \xc3\xb7 average rate",
	              .min = NAN,
	              .max = NAN,
	              .fmt = FL_SVG_TIMES},
	};

	for (int d = 0; d < FL_DECILES; d++) {
		double rate = ratio((double)ev->deciles[d].positives, (double)ev->deciles[d].rows);

		lift[d] = base > 0 ? rate / base : NAN;
	}
	fl_svg_bar_chart(b, &c, DECILE_NAMES, FL_DECILES, &s, 1, base > 0 ? 1.0 : NAN,
	                 "random = 1\xc3\x97");
}

static void calibration_chart(struct fl_svg_buf *b, const struct fl_eval *ev)
{
	double pred[FL_DECILES], obs[FL_DECILES];
	struct fl_svg_bars s[2] = {
	        {"Predicted (mean score)", pred, C_PREDICTED, 0},
	        {"Observed conversion rate", obs, C_OBSERVED, 0},
	};
	struct fl_svg_chart c = {
	        .title = "Calibration by decile",
	        .x = {.label = "Decile (1 = highest scores)"},
	        .y = {.label = "Conversion rate", .min = NAN, .max = NAN, .fmt = FL_SVG_PCT},
	};

	for (int d = 0; d < FL_DECILES; d++) {
		int empty = ev->deciles[d].rows == 0;

		pred[d] = empty ? NAN : ev->deciles[d].mean_prob;
		obs[d] = ratio((double)ev->deciles[d].positives, (double)ev->deciles[d].rows);
	}
	fl_svg_bar_chart(b, &c, DECILE_NAMES, FL_DECILES, s, 2, NAN, NULL);
}

/*
 * Score distribution from the ranker's histogram: each class as the share
 * of its own leads per probability bin, so a class of 6 % of the leads is as
 * visible as the other 94 %.
 */
static void distribution_chart(struct fl_svg_buf *b, const struct fl_curves *cv, int labelled)
{
	double x[FL_SCORE_BINS + 1], yp[FL_SCORE_BINS + 1], yn[FL_SCORE_BINS + 1];
	double lo = cv->z_lo, hi = cv->z_hi, width = hi - lo;
	uint64_t np = 0, nn = 0, cp[FL_SCORE_BINS] = {0}, cn[FL_SCORE_BINS] = {0}, fewest;
	size_t bins = FL_SCORE_BINS, merge;
	struct fl_svg_series s[2] = {
	        {labelled ? "Not converted" : "All leads", x, yn, 0, C_NOT,
	         FL_SVG_STEP | FL_SVG_FILL},
	        {"Converted", x, yp, 0, C_CONVERTED, FL_SVG_STEP | FL_SVG_FILL},
	};
	struct fl_svg_chart c = {
	        .title = "Score distribution",
	        .width = 960,
	        .height = 340,
	        .x = {.label = "Predicted conversion probability (log-odds scale)",
	              .min = NAN,
	              .max = NAN,
	              .fmt = FL_SVG_LOGIT},
	        .y = {.label = labelled ? "Share of the group's leads" : "Share of leads",
	              .min = NAN,
	              .max = NAN,
	              .zero = 1,
	              .fmt = FL_SVG_PCT},
	};

	for (size_t i = 0; i < FL_SCORE_BINS; i++) {
		np += cv->hist_pos[i];
		nn += cv->hist_neg[i];
	}
	if (!labelled) {
		nn += np;
		np = 0;
	}
	/* Fewer, wider bins for small groups, so 50 converted leads draw a shape
	 * rather than noise: 10, 25 or 50 bins (which divide the ranker's 50). */
	fewest = labelled && np > 0 && np < nn ? np : nn;
	bins = fewest >= 625 ? 50 : fewest >= 100 ? 25 : 10;
	merge = FL_SCORE_BINS / bins;
	for (size_t i = 0; i < FL_SCORE_BINS; i++) {
		cp[i / merge] += labelled ? cv->hist_pos[i] : 0;
		cn[i / merge] += cv->hist_neg[i] + (labelled ? 0 : cv->hist_pos[i]);
	}
	if (!(width > 0) || !isfinite(width)) {
		/* Every lead has the same score (or the range is beyond the
		 * doubles): one narrow bar. */
		bins = 1;
		lo = isfinite(lo) ? lo - 0.05 : isfinite(hi) ? hi - 0.05 : 0;
		width = 0.1;
	}
	for (size_t i = 0; i <= bins; i++) {
		x[i] = lo + width * (double)i / (double)bins;
		yn[i] = nn > 0 && i < bins ? (double)cn[i] / (double)nn : 0;
		yp[i] = np > 0 && i < bins ? (double)cp[i] / (double)np : 0;
	}
	if (bins == 1) {
		yn[1] = yn[0];
		yp[1] = yp[0];
	}
	s[0].n = nn > 0 ? bins + 1 : 0;
	s[1].n = labelled && np > 0 ? bins + 1 : 0;
	fl_svg_line_chart(b, &c, s, labelled ? 2 : 1);
}

static void predicted_deciles_chart(struct fl_svg_buf *b, const struct fl_eval *ev)
{
	double pred[FL_DECILES];
	struct fl_svg_bars s = {NULL, pred, C_PREDICTED, 1};
	struct fl_svg_chart c = {
	        .title = "Predicted conversion rate by decile",
	        .x = {.label = "Decile (1 = the tenth of leads with the highest scores)"},
	        .y = {.label = "Mean predicted probability",
	              .min = NAN,
	              .max = NAN,
	              .fmt = FL_SVG_PCT},
	};

	for (int d = 0; d < FL_DECILES; d++)
		pred[d] = ev->deciles[d].rows > 0 ? ev->deciles[d].mean_prob : NAN;
	fl_svg_bar_chart(b, &c, DECILE_NAMES, FL_DECILES, &s, 1, NAN, NULL);
}

/* ---- what federation added ---- */

void fl_report_auc_interval(double auc, uint64_t np, uint64_t nn, double *lo, double *hi)
{
	double a = auc, q1 = a / (2 - a), q2 = 2 * a * a / (1 + a), var, se;

	*lo = *hi = NAN;
	if (!isfinite(a) || np == 0 || nn == 0)
		return;
	var = (a * (1 - a) + ((double)np - 1) * (q1 - a * a) + ((double)nn - 1) * (q2 - a * a)) /
	      ((double)np * (double)nn);
	se = sqrt(var > 0 ? var : 0);
	*lo = a - 1.96 * se;
	*hi = a + 1.96 * se;
}

/* One model on one labelled file, with top_k = a tenth of the rows. The
 * number of rows is known only after a pass, so the first model's pass is
 * made twice (the files are held-out sets, small next to training data). */
static int compare_pass(const struct fl_model *m, const struct fl_score_opts *o, const char *data,
                        uint64_t top_k, struct fl_eval *ev)
{
	struct fl_score_opts so = *o;
	struct fl_score_report rep;
	int r;

	so.data = data;
	so.out = NULL;
	so.eval = 1;
	so.top_k = top_k;
	so.n_reasons = 0;
	if ((r = fl_score_file(m, &so, &rep)) == 0)
		*ev = rep.ev;
	return r;
}

int fl_report_compare_eval(const struct fl_model *fed, const struct fl_model *local,
                           const struct fl_score_opts *o, const char *all_data,
                           struct fl_report_compare *c)
{
	const char *files[2] = {c->data_path, all_data};
	struct fl_eval *out[2] = {c->own, c->all};
	int r;

	/* Same fingerprint, same encoded columns: otherwise the two models would
	 * read different columns of the same file, and the comparison is void. */
	if (memcmp(fed->schema->fingerprint, local->schema->fingerprint,
	           sizeof(fed->schema->fingerprint)) != 0) {
		char a[65], b[65];

		fl_schema_fingerprint_hex(local->schema, a);
		fl_schema_fingerprint_hex(fed->schema, b);
		return fl_fail(FL_ERR_MODEL,
		               "%s: schema fingerprint %.16s... differs from the federated "
		               "model's %.16s...",
		               c->model_path, a, b);
	}
	for (int f = 0; f < 2; f++) {
		struct fl_eval first;

		if (files[f] == NULL)
			return fl_fail(FL_ERR_INVALID, "report: no lead file to compare on");
		if ((r = compare_pass(fed, o, files[f], 0, &first)) != 0 ||
		    (r = compare_pass(local, o, files[f], first.rows / 10, &out[f][0])) != 0 ||
		    (r = compare_pass(fed, o, files[f], first.rows / 10, &out[f][1])) != 0)
			return r;
	}
	return 0;
}

int fl_report_compare_dp(const struct fl_model *fed, const struct fl_model *dp, const char *dp_path,
                         const struct fl_score_opts *o, const char *all_data,
                         struct fl_report_compare *c)
{
	char a[160], b[160];
	int r;

	if (dp->schema->dim != fed->schema->dim)
		return fl_fail(FL_ERR_MODEL, "%s: %zu encoded columns, the federated model has %zu",
		               dp_path, dp->schema->dim, fed->schema->dim);
	for (size_t j = 0; j < dp->schema->dim; j++) {
		fl_schema_column_name(dp->schema, j, a, sizeof(a));
		fl_schema_column_name(fed->schema, j, b, sizeof(b));
		if (strcmp(a, b) != 0)
			return fl_fail(FL_ERR_MODEL,
			               "%s: encoded column %zu is %s, the federated model's is %s",
			               dp_path, j, a, b);
	}
	if ((r = compare_pass(dp, o, c->data_path, c->own[1].top_k, &c->own[2])) != 0 ||
	    (r = compare_pass(dp, o, all_data, c->all[1].top_k, &c->all[2])) != 0)
		return r;
	c->has_dp = 1;
	return 0;
}

static void compare_row(struct fl_svg_buf *b, const struct fl_report_compare *c, int all, int model)
{
	static const char *const ids[] = {"local", "federated", "federated_dp"};
	static const char *const labels[] = {"local only", "federated", "federated with DP"};
	const struct fl_eval *ev = all ? &c->all[model] : &c->own[model];
	int per_set = c->has_dp ? 3 : 2;
	double lo, hi;

	fl_report_auc_interval(ev->auc, ev->positives, ev->rows - ev->positives, &lo, &hi);
	put(b, "<tr data-partner=\"");
	fl_svg_buf_escape(b, c->name);
	fl_svg_buf_printf(b, "\" data-leads=\"%s\" data-model=\"%s\"%s>", all ? "all" : "own",
	                  ids[model], model ? " class=\"fed\"" : "");
	if (!all && !model) {
		fl_svg_buf_printf(b, "<td rowspan=\"%d\" class=\"p\">", 2 * per_set);
		esc(b, c->name);
		put(b, "</td>");
	}
	if (!model) {
		fl_svg_buf_printf(b, "<td rowspan=\"%d\" class=\"l\">", per_set);
		put(b, all ? "all partners&#39; held-out: " : "its own held-out: ");
		count(b, ev->rows);
		put(b, " (");
		count(b, ev->positives);
		put(b, " converted)</td>");
	}
	put(b, "<td class=\"l\">");
	put(b, labels[model]);
	put(b, "</td><td>");
	num(b, ev->auc, 4);
	put(b, "</td><td>");
	num(b, lo, 3);
	put(b, "\xe2\x80\x93");
	num(b, hi, 3);
	put(b, "</td><td>");
	num(b, ev->log_loss, 4);
	put(b, "</td><td>");
	count(b, ev->top_k_positives);
	put(b, " of ");
	count(b, ev->top_k);
	put(b, "</td></tr>\n");
}

/* "acme, on its own 1,408 held-out leads (687 converted): AUC 0.7713 → 0.7788
 * (+0.0074), log-loss 0.5759 → 0.5688 (-0.0071, better); finds 3 fewer
 * converted leads in its top 10 % (117 → 114 of 140)." AUC first: it is the
 * steadier figure; the top-10 % count is the one a sales team feels. */
static void compare_gain(struct fl_svg_buf *b, const struct fl_report_compare *c, int all)
{
	const struct fl_eval *l = all ? &c->all[0] : &c->own[0], *f = all ? &c->all[1] : &c->own[1];
	long long d = (long long)f->top_k_positives - (long long)l->top_k_positives;

	put(b, "<li><b>");
	esc(b, c->name);
	put(b, "</b>, ");
	put(b, all ? "on all partners&#39; " : "on its own ");
	count(b, l->rows);
	put(b, " held-out leads (");
	count(b, l->positives);
	put(b, " converted): AUC ");
	num(b, l->auc, 4);
	put(b, " \xe2\x86\x92 ");
	num(b, f->auc, 4);
	if (isfinite(f->auc - l->auc))
		fl_svg_buf_printf(b, " (<span class=\"%s\">%+.4f</span>)",
		                  f->auc > l->auc   ? "up"
		                  : f->auc < l->auc ? "down"
		                                    : "same",
		                  f->auc - l->auc);
	put(b, ", log-loss ");
	num(b, l->log_loss, 4);
	put(b, " \xe2\x86\x92 ");
	num(b, f->log_loss, 4);
	if (isfinite(f->log_loss - l->log_loss))
		fl_svg_buf_printf(b, " (%+.4f%s)", f->log_loss - l->log_loss,
		                  f->log_loss < l->log_loss   ? ", better"
		                  : f->log_loss > l->log_loss ? ", worse"
		                                              : "");
	if (d > 0)
		fl_svg_buf_printf(b, "; <span class=\"up\">finds %lld more converted lead%s</span>",
		                  d, d == 1 ? "" : "s");
	else if (d < 0)
		fl_svg_buf_printf(b,
		                  "; <span class=\"down\">finds %lld fewer converted lead%s</span>",
		                  -d, d == -1 ? "" : "s");
	else
		put(b, "; finds as many converted leads");
	put(b, " in its top 10 % (");
	count(b, l->top_k_positives);
	put(b, " \xe2\x86\x92 ");
	count(b, f->top_k_positives);
	put(b, " of ");
	count(b, f->top_k);
	put(b, ").</li>\n");
}

static void federation_panel(struct fl_svg_buf *b, const struct fl_report_meta *meta)
{
	if (meta->n_compare == 0 || meta->compare == NULL)
		return;
	put(b, "<section class=\"fedpanel\">\n<h2>What federation added</h2>\n"
	       "<p class=\"note\">Each partner&#39;s local-only model against the federated model, "
	       "on held-out leads no model was trained on: the partner&#39;s own, and all "
	       "partners&#39; (the leads of this report). Top 10 %: conversions among the "
	       "best-scored tenth of the leads.</p>\n<p>With the federated model instead of its "
	       "local-only one:</p>\n<ul class=\"gains\">\n");
	for (size_t i = 0; i < meta->n_compare; i++)
		for (int all = 0; all < 2; all++)
			compare_gain(b, &meta->compare[i], all);
	put(b, "</ul>\n<table class=\"fed\">\n<tr><th>Partner</th><th class=\"l\">Held-out leads"
	       "</th><th class=\"l\">Model</th><th>AUC</th><th>95 % interval</th><th>Log-loss</th>"
	       "<th>Converted in top 10 %</th></tr>\n");
	for (size_t i = 0; i < meta->n_compare; i++)
		for (int all = 0; all < 2; all++)
			for (int model = 0; model < (meta->compare[i].has_dp ? 3 : 2); model++)
				compare_row(b, &meta->compare[i], all, model);
	put(b, "</table>\n<p class=\"note\">Intervals are 95 % for each AUC alone "
	       "(Hanley and McNeil, 1982). Both models score the same leads, so a difference "
	       "is more certain than overlapping intervals suggest; with few converted leads, "
	       "a difference of a few in the top 10 % can be chance.</p>\n</section>\n");
}

/* ---- the model report ---- */

static void headline(struct fl_svg_buf *b, const struct fl_eval *ev)
{
	double ls, cs;

	put(b, "<p class=\"headline\">");
	if (ev->positives == 0) {
		put(b, "This file has no converted leads, so how well the model ranks them "
		       "cannot be measured; the charts below show the scores only.");
	} else {
		top20(ev, &ls, &cs);
		fl_svg_buf_printf(b,
		                  "Calling the top %.0f %% of leads reaches <b>%.0f %%</b> of all "
		                  "conversions (<b>",
		                  100 * ls, 100 * cs);
		num(b, cs / ls, 1);
		put(b, "\xc3\x97</b> random).");
	}
	put(b, "</p>\n");
}

/* log-loss and Brier score of always predicting the average rate: the bar to beat. */
static void baselines(const struct fl_eval *ev, double *ll, double *brier)
{
	double p = ratio((double)ev->positives, (double)ev->rows);

	*ll = p > 0 && p < 1 ? -(p * log(p) + (1 - p) * log1p(-p)) : 0;
	*brier = isfinite(p) ? p * (1 - p) : NAN;
}

static void labelled_cards(struct fl_svg_buf *b, const struct fl_eval *ev)
{
	struct fl_svg_buf v = {0}, n = {0};
	double bl, bb;

	baselines(ev, &bl, &bb);
	put(b, "<div class=\"cards\">\n");
	count(&v, ev->rows);
	card(b, "Leads", v.data, "in the scored file");
	fl_svg_buf_free(&v);

	count(&v, ev->positives);
	pct(&n, ratio((double)ev->positives, (double)ev->rows), 1);
	put(&n, " converted");
	card(b, "Conversions", v.data, n.data);
	fl_svg_buf_free(&v);
	fl_svg_buf_free(&n);

	num(&v, ev->auc, 3);
	card(b, "AUC", v.data,
	     "chance a converted lead scores above a non-converted one (0.5 = random)");
	fl_svg_buf_free(&v);

	num(&v, ev->log_loss, 4);
	put(&n, "lower is better; always guessing the average rate: ");
	num(&n, bl, 4);
	card(b, "Log-loss", v.data, n.data);
	fl_svg_buf_free(&v);
	fl_svg_buf_free(&n);

	num(&v, ev->brier, 4);
	put(&n, "squared error of the probability; average-rate guess: ");
	num(&n, bb, 4);
	card(b, "Brier score", v.data, n.data);
	fl_svg_buf_free(&v);
	fl_svg_buf_free(&n);
	put(b, "</div>\n");
}

static void unlabelled_cards(struct fl_svg_buf *b, const struct fl_eval *ev)
{
	struct fl_svg_buf v = {0};
	double expected = 0;

	for (int d = 0; d < FL_DECILES; d++)
		expected += ev->deciles[d].mean_prob * (double)ev->deciles[d].rows;
	put(b, "<div class=\"cards\">\n");
	count(&v, ev->rows);
	card(b, "Leads scored", v.data, "in the file");
	fl_svg_buf_free(&v);
	num(&v, expected, 0);
	card(b, "Expected conversions", v.data, "sum of the predicted probabilities");
	fl_svg_buf_free(&v);
	pct(&v, ratio(expected, (double)ev->rows), 1);
	card(b, "Mean score", v.data, "average predicted conversion probability");
	fl_svg_buf_free(&v);
	pct(&v, ev->deciles[0].rows > 0 ? ev->deciles[0].mean_prob : NAN, 1);
	card(b, "Top decile", v.data, "mean predicted probability of the best tenth");
	fl_svg_buf_free(&v);
	put(b, "</div>\n");
}

static void decile_table(struct fl_svg_buf *b, const struct fl_eval *ev, int labelled)
{
	double base = ratio((double)ev->positives, (double)ev->rows);
	uint64_t cum = 0;

	put(b, "<h2>Deciles</h2>\n<table>\n<tr><th>Decile</th><th>Leads</th>");
	if (labelled)
		put(b, "<th>Converted</th><th>Conversion rate</th>");
	put(b, "<th>Predicted</th>");
	if (labelled)
		put(b, "<th>Lift</th><th>Conversions reached (cumulative)</th>");
	put(b, "</tr>\n");
	for (int d = 0; d < FL_DECILES; d++) {
		const struct fl_decile *dc = &ev->deciles[d];
		double rate = ratio((double)dc->positives, (double)dc->rows);

		cum += dc->positives;
		fl_svg_buf_printf(b, "<tr><td>%d%s</td><td>", d + 1,
		                  d == 0   ? " (highest scores)"
		                  : d == 9 ? " (lowest)"
		                           : "");
		count(b, dc->rows);
		put(b, "</td>");
		if (labelled) {
			put(b, "<td>");
			count(b, dc->positives);
			put(b, "</td><td>");
			pct(b, rate, 1);
			put(b, "</td>");
		}
		put(b, "<td>");
		pct(b, dc->rows > 0 ? dc->mean_prob : NAN, 1);
		put(b, "</td>");
		if (labelled) {
			put(b, "<td>");
			num(b, base > 0 ? rate / base : NAN, 2);
			put(b, "\xc3\x97</td><td>");
			pct(b, ratio((double)cum, (double)ev->positives), 0);
			put(b, "</td>");
		}
		put(b, "</tr>\n");
	}
	put(b, "</table>\n");
}

static void kv_row(struct fl_svg_buf *b, const char *key)
{
	put(b, "<tr><td>");
	put(b, key);
	put(b, "</td><td>");
}

static void provenance(struct fl_svg_buf *b, const struct fl_model *m,
                       const struct fl_report_meta *meta)
{
	const struct fl_provenance *p = &m->prov;
	char fp[65];

	fl_schema_fingerprint_hex(m->schema, fp);
	put(b, "<h2>Where the model comes from</h2>\n<table class=\"kv\">\n");
	if (meta->model_path != NULL) {
		kv_row(b, "Model file");
		put(b, "<code>");
		esc(b, meta->model_path);
		put(b, "</code></td></tr>\n");
	}
	kv_row(b, "Schema fingerprint");
	fl_svg_buf_printf(b, "<code>%s</code></td></tr>\n", fp);
	kv_row(b, "Features");
	fl_svg_buf_printf(b, "%zu features, %zu weights</td></tr>\n", m->schema->n_features,
	                  m->dim);
	kv_row(b, "Algorithm");
	esc(b, p->solver);
	put(b, ", L2 ");
	if (isfinite(p->l2))
		fl_svg_buf_printf(b, "%g", p->l2);
	else
		put(b, "\xe2\x80\x93");
	if (isfinite(p->pos_weight) && p->pos_weight != 1)
		fl_svg_buf_printf(b, ", converted leads weighted %g", p->pos_weight);
	put(b, "</td></tr>\n");
	kv_row(b, "Training leads");
	count(b, p->rows);
	put(b, " (");
	count(b, p->positives);
	put(b, " converted)</td></tr>\n");
	kv_row(b, p->federation_id != NULL ? "Iterations, rounds" : "Iterations");
	fl_svg_buf_printf(b, "%d", p->iterations);
	if (p->federation_id != NULL)
		fl_svg_buf_printf(b, " iterations in %u federation rounds", (unsigned)p->rounds);
	put(b, "</td></tr>\n");
	if (p->train.rows > 0) {
		kv_row(b, "On training leads");
		put(b, "AUC ");
		num(b, p->train.auc, 3);
		put(b, ", log-loss ");
		num(b, p->train.log_loss, 4);
		put(b, "</td></tr>\n");
	}
	if (p->valid.rows > 0) {
		kv_row(b, "On held-out leads");
		count(b, p->valid.rows);
		put(b, " leads, AUC ");
		num(b, p->valid.auc, 3);
		put(b, ", log-loss ");
		num(b, p->valid.log_loss, 4);
		put(b, "</td></tr>\n");
	}
	if (p->federation_id != NULL) {
		kv_row(b, "Federation");
		esc(b, p->federation_id);
		put(b, "</td></tr>\n");
	}
	if (p->n_participants > 0) {
		kv_row(b, "Partners");
		fl_svg_buf_printf(b, "%zu: ", p->n_participants);
		for (size_t i = 0; i < p->n_participants; i++) {
			if (i > 0)
				put(b, ", ");
			esc(b, p->participants[i]);
		}
		put(b, "</td></tr>\n");
	}
	{
		char dp[1024];

		fl_model_privacy_text(m, dp, sizeof(dp));
		kv_row(b, "Differential privacy");
		esc(b, dp);
		put(b, "</td></tr>\n");
	}
	if (meta->signer != NULL) {
		kv_row(b, "Signed by");
		esc(b, meta->signer);
		put(b, " (signature verified)</td></tr>\n");
	}
	kv_row(b, "Created");
	esc(b, p->created);
	put(b, "</td></tr>\n");
	kv_row(b, "fedlead version");
	esc(b, p->tool_version);
	put(b, "</td></tr>\n</table>\n");
}

/*
 * Values the schema does not list, by column: they score as the column's
 * "(other)", so a reader must know how many leads that touched before
 * trusting their scores.
 */
static void unseen_panel(struct fl_svg_buf *b, const struct fl_load_report *l)
{
	if (l == NULL || l->unseen_leads == 0)
		return;
	put(b, "<section class=\"unseen\">\n<h2>Values the schema does not list</h2>\n<p>");
	count(b, l->unseen_leads);
	put(b, l->unseen_leads == 1 ? " lead has" : " leads have");
	put(b, " a value the schema does not list; each such value scores as its column&#39;s "
	       "&ldquo;(other)&rdquo; and its reason codes say &ldquo;unseen&rdquo;.</p>\n"
	       "<table>\n<tr><th>Column</th><th>Leads</th><th>First value</th></tr>\n");
	for (size_t i = 0; i < l->n_unseen; i++) {
		put(b, "<tr><td>");
		if (l->unseen[i].source != NULL) { /* renamed by the partner's mapping */
			esc(b, l->unseen[i].source);
			put(b, " (mapped to ");
			esc(b, l->unseen[i].column);
			put(b, ")");
		} else
			esc(b, l->unseen[i].column);
		put(b, "</td><td>");
		count(b, l->unseen[i].leads);
		put(b, "</td><td>");
		esc(b, l->unseen[i].example);
		put(b, "</td></tr>\n");
	}
	put(b, "</table>\n");
	if (l->n_unseen_more > 0) {
		put(b, "<p class=\"note\">and ");
		count(b, l->n_unseen_more);
		put(b, l->n_unseen_more == 1 ? " more column</p>\n" : " more columns</p>\n");
	}
	put(b, "</section>\n");
}

int fl_report_html(const struct fl_model *m, const struct fl_eval *ev, const struct fl_curves *cv,
                   const struct fl_report_meta *meta, char **html, size_t *len)
{
	static const struct fl_report_meta none = {0};
	struct fl_svg_buf b = {0};
	int labelled;

	*html = NULL;
	*len = 0;
	if (meta == NULL)
		meta = &none;
	if ((ev == NULL) != (cv == NULL))
		return fl_fail(FL_ERR_INVALID, "report: metrics and curves go together");
	labelled = ev != NULL && cv->labelled && isfinite(ev->log_loss);

	page_head(&b, 0);
	put(&b, "<title>Lead scoring report");
	if (meta->model_path != NULL) {
		put(&b, " \xe2\x80\x94 ");
		fl_svg_buf_escape(&b, meta->model_path);
	}
	put(&b, "</title>\n<style>");
	put(&b, fl_page_css);
	put(&b, "</style>\n</head>\n<body>\n<main>\n<header><h1>Lead scoring report</h1>"
	        "<p class=\"sub\">");
	if (meta->model_path != NULL) {
		put(&b, "Model <code>");
		esc(&b, meta->model_path);
		put(&b, "</code>");
	}
	if (meta->data_path != NULL) {
		put(&b, " \xc2\xb7 leads <code>");
		esc(&b, meta->data_path);
		put(&b, "</code>");
	}
	if (meta->generated != NULL) {
		put(&b, " \xc2\xb7 made ");
		esc(&b, meta->generated);
	}
	put(&b, "</p></header>\n");
	unseen_panel(&b, meta->load);
	if (ev == NULL)
		federation_panel(&b, meta);

	if (ev != NULL && labelled) {
		headline(&b, ev);
		labelled_cards(&b, ev);
		federation_panel(&b, meta);
		put(&b, "<div class=\"grid\">\n");
		figure_open(&b, 0);
		gains_chart(&b, ev, cv);
		figure_close(&b,
		             "Call leads from the highest score down: the blue line is the share "
		             "of all conversions reached so far. The higher above the grey "
		             "diagonal (calling at random), the better.");
		figure_open(&b, 0);
		roc_chart(&b, ev, cv);
		figure_close(&b,
		             "For every cut-off: conversions found against non-converted leads "
		             "flagged. The area under the curve (AUC) is the chance a converted "
		             "lead scores above a non-converted one.");
		figure_open(&b, 0);
		lift_chart(&b, ev);
		figure_close(&b, "How many times the average conversion rate each tenth of the "
		                 "leads reaches. A good ranking falls from left to right.");
		figure_open(&b, 0);
		calibration_chart(&b, ev);
		figure_close(&b,
		             "Predicted against observed conversion rate per decile. Close bars "
		             "mean the scores can be read as probabilities.");
		figure_open(&b, 1);
		distribution_chart(&b, cv, 1);
		figure_close(&b, "Scores of converted and not-converted leads, each as a share of "
		                 "its own group. The less they overlap, the better the model "
		                 "separates them. The axis is in log-odds, so the many low scores "
		                 "spread out instead of piling up at 0.");
		put(&b, "</div>\n");
	} else if (ev != NULL) {
		if (ev->rows == 0) {
			put(&b, "<p class=\"headline\">The file has no leads to score.</p>\n");
		} else {
			put(&b, "<p class=\"headline\">Scores for ");
			count(&b, ev->rows);
			put(&b, " leads. The file has no outcomes (or <code>--eval</code> was not "
			        "given), so ranking quality is not shown.</p>\n");
		}
		unlabelled_cards(&b, ev);
		federation_panel(&b, meta);
		put(&b, "<div class=\"grid\">\n");
		figure_open(&b, 0);
		distribution_chart(&b, cv, 0);
		figure_close(&b, "How the predicted conversion probabilities are spread over the "
		                 "leads (log-odds axis, so low scores spread out).");
		figure_open(&b, 0);
		predicted_deciles_chart(&b, ev);
		figure_close(&b, "Mean predicted probability of each tenth of the leads, highest "
		                 "scores first.");
		put(&b, "</div>\n");
	}

	put(&b, "<h2>What drives the score</h2>\n<div class=\"grid\">");
	figure_open(&b, 1);
	drivers_chart(&b, m, meta->top_drivers);
	figure_close(&b, "The features that move a lead's score most, up (blue) and down "
	                 "(orange), against the average lead: for a category, having that value; "
	                 "for a number, one standard deviation more.");
	put(&b, "</div>\n");
	{
		size_t shown = 0;

		/* Spline and bins features: one curve each, never a basis column. */
		for (size_t i = 0; i < m->schema->n_features; i++) {
			char cap[512];

			if (!fl_spline_is_block(&m->schema->features[i]))
				continue;
			if (shown++ == 0)
				put(&b, "<h2>Effect curves</h2>\n<div class=\"grid\">\n");
			figure_open(&b, 0);
			fl_report_effect_chart(&b, m, i);
			snprintf(cap, sizeof(cap),
			         "How this number moves a lead's score, in log-odds %s; shaded: "
			         "where the training leads' values lay.",
			         fl_spline_effect_origin(m, i));
			figure_close(&b, cap);
		}
		if (shown > 0)
			put(&b, "</div>\n");
	}

	if (ev != NULL)
		decile_table(&b, ev, labelled);
	if (m->prov.n_history > 0) {
		put(&b, "<h2>Federated training</h2>\n<div class=\"grid\">\n");
		fl_page_history_charts(&b, m->prov.history, m->prov.n_history);
		put(&b, "</div>\n");
	}
	provenance(&b, m, meta);
	put(&b, "<footer>Made by fedlead-score. Scores are conversion probabilities from a "
	        "logistic-regression model; deciles split the ranked leads into tenths.</footer>\n"
	        "</main>\n</body>\n</html>\n");
	return fl_svg_buf_take(&b, html, len);
}

/* ---- scoring for the report ---- */

int fl_report_score(const struct fl_model *m, const struct fl_score_opts *o,
                    struct fl_score_report *rep, struct fl_curves *cv)
{
	struct fl_ranker *rk = NULL;
	int r;

	memset(rep, 0, sizeof(*rep));
	memset(cv, 0, sizeof(*cv));
	if (o->data == NULL)
		return fl_fail(FL_ERR_INVALID, "report: no lead file to score");
	if ((r = fl_score_rank(m, o, rep, &rk)) == 0)
		r = fl_ranker_curves(rk, cv);
	fl_ranker_free(rk);
	return r;
}

/* Writes text to path through a temporary file in the same directory; a
 * report is an ordinary file to share, so its mode follows the umask. */
static int save_atomic(const char *path, const char *text, size_t len)
{
	static const struct fl_file_opts opts = {.what = "write the report",
	                                         .create_what = "create the report",
	                                         .mode = 0666,
	                                         .flags = FL_FILE_UMASK};

	return fl_file_write_atomic(path, &opts, text, len);
}

int fl_report_file(const struct fl_model *m, const struct fl_score_opts *o,
                   const struct fl_report_meta *meta, const char *path, struct fl_score_report *rep)
{
	struct fl_score_report own;
	struct fl_report_meta with_load = {0};
	struct fl_curves *cv = NULL;
	char *html = NULL;
	size_t len;
	int r;

	if (rep == NULL)
		rep = &own;
	/* About 4 KiB: kept off the stack of callers with small stacks. */
	if ((cv = malloc(sizeof(*cv))) == NULL)
		return FL_ERR_NOMEM;
	if (meta != NULL)
		with_load = *meta;
	with_load.load = &rep->load;
	if ((r = fl_report_score(m, o, rep, cv)) == 0 &&
	    (r = fl_report_html(m, &rep->ev, cv, &with_load, &html, &len)) == 0)
		r = save_atomic(path, html, len);
	free(html);
	free(cv);
	return r;
}
