/*
 * The model report and the coordinator's dashboard: HTML pages built from
 * inline SVG charts (svg.c) and a little CSS.
 *
 * The report is for a sales-operations analyst: it leads with one sentence
 * in plain language, then the charts that answer "how much better than
 * calling at random is this ranking", each with a line on how to read it,
 * then the drivers and where the model came from. The dashboard is for the
 * data team watching a federation; it reloads itself with a meta refresh, so
 * neither page needs a script.
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
#include "fedlead/svg.h"

/* Okabe-Ito colours: told apart by readers with colour-vision deficiencies. */
#define C_MODEL "#0072b2"
#define C_CONVERTED "#d55e00"
#define C_NOT "#0072b2"
#define C_PREDICTED "#56b4e9"
#define C_OBSERVED "#e69f00"
#define C_PERFECT "#009e73"
#define C_RANDOM "#8a94a6"
#define C_UP "#0072b2"
#define C_DOWN "#d55e00"
#define C_VALID "#e69f00"

/* Points a dashboard chart draws at most, however long the history. */
#define MAX_HISTORY_POINTS 1500
#define DRIVERS_MAX 50
#define DASHBOARD_REFRESH 5

static const char CSS[] =
        ":root{--ink:#1a202c;--soft:#4a5568;--line:#e2e8f0;--accent:#0072b2}"
        "*{box-sizing:border-box}"
        "body{margin:0;background:#f4f6f9;color:var(--ink);"
        "font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,"
        "'DejaVu Sans',sans-serif}"
        "main{max-width:1160px;margin:0 auto;padding:28px 24px 40px}"
        "h1{font-size:26px;margin:0 0 2px;line-height:1.25}"
        "h2{font-size:18px;margin:30px 0 10px}"
        ".sub{color:var(--soft);margin:0;font-size:14px;overflow-wrap:anywhere}"
        ".headline{font-size:20px;line-height:1.4;background:#fff;border-left:6px solid "
        "var(--accent);border-radius:6px;padding:14px 20px;margin:20px 0 16px;"
        "box-shadow:0 1px 2px rgba(0,0,0,.06)}"
        ".headline b{color:var(--accent)}"
        ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px}"
        ".card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px}"
        ".card .k{color:var(--soft);font-size:12px;text-transform:uppercase;letter-spacing:.05em}"
        ".card .v{font-size:26px;font-weight:650;line-height:1.3;overflow-wrap:anywhere}"
        ".card .n{color:var(--soft);font-size:12.5px;line-height:1.35}"
        ".grid{display:grid;grid-template-columns:1fr 1fr;gap:16px;margin-top:16px}"
        "figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:8px;"
        "padding:6px 6px 10px}"
        "figure.wide{grid-column:1/-1}"
        "figcaption{font-size:13px;color:var(--soft);padding:2px 10px 0;line-height:1.4}"
        "svg.chart{display:block;width:100%;height:auto}"
        "table{border-collapse:collapse;width:100%;background:#fff;font-size:13.5px;"
        "border:1px solid var(--line);border-radius:8px}"
        "th,td{padding:6px 12px;border-bottom:1px solid var(--line);text-align:right;"
        "vertical-align:top}"
        "th{background:#edf2f7;font-weight:600;color:var(--soft)}"
        "th:first-child,td:first-child{text-align:left}"
        "table.kv td{text-align:left;overflow-wrap:anywhere}"
        "table.kv td:first-child{color:var(--soft);width:28%;white-space:nowrap}"
        "code{font:12.5px ui-monospace,'DejaVu Sans Mono',monospace;overflow-wrap:anywhere}"
        ".note{color:var(--soft);font-size:13px}"
        ".badge{display:inline-block;padding:1px 10px;border-radius:12px;font-size:14px;"
        "font-weight:600;color:#fff}"
        ".b-wait{background:#b7791f}.b-run{background:#0072b2}.b-done{background:#2f855a}"
        ".b-fail{background:#c53030}.b-off{background:#a0aec0}"
        "footer{margin-top:30px;color:var(--soft);font-size:12.5px}"
        "@media (max-width:820px){.grid{grid-template-columns:1fr}}"
        "@media print{@page{size:A4;margin:12mm}"
        "body{background:#fff;font-size:10.5pt}main{max-width:none;padding:0}"
        ".headline{box-shadow:none;border:1px solid var(--line);border-left:6px solid "
        "var(--accent)}"
        /* Two charts side by side on A4 too (the narrow-screen rule above
         * would otherwise apply to the printed page's width). */
        ".grid{grid-template-columns:1fr 1fr;gap:8px}.cards{grid-template-columns:repeat(5,1fr);"
        "gap:8px}.card{padding:8px 10px}.card .v{font-size:20px}"
        "figure,.card,tr,.headline,table{break-inside:avoid}figcaption{font-size:8.5pt}"
        "h2{break-after:avoid}}";

/* ---- small helpers ---- */

static int put(struct fl_svg_buf *b, const char *s)
{
	return fl_svg_buf_put(b, s, strlen(s));
}

/* Escaped text, or a dash for a missing value. */
static void esc(struct fl_svg_buf *b, const char *s)
{
	if (s == NULL || *s == '\0')
		put(b, "\xe2\x80\x93");
	else
		fl_svg_buf_escape(b, s);
}

/* A number with d decimals, or a dash when it is not finite. */
static void num(struct fl_svg_buf *b, double v, int d)
{
	if (isfinite(v))
		fl_svg_buf_printf(b, "%.*f", d, v == 0 ? 0.0 : v);
	else
		put(b, "\xe2\x80\x93");
}

/* A share as a percentage with d decimals, or a dash. */
static void pct(struct fl_svg_buf *b, double v, int d)
{
	if (isfinite(v))
		fl_svg_buf_printf(b, "%.*f %%", d, v * 100 == 0 ? 0.0 : v * 100);
	else
		put(b, "\xe2\x80\x93");
}

static void count(struct fl_svg_buf *b, uint64_t v)
{
	char s[64];

	fl_svg_format(s, sizeof(s), (double)v, 1, FL_SVG_INT);
	put(b, s);
}

static double ratio(double a, double c)
{
	return c > 0 ? a / c : NAN;
}

static void page_head(struct fl_svg_buf *b, int refresh)
{
	put(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
	if (refresh > 0)
		fl_svg_buf_printf(b, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh);
	/* Nothing on the page may load or run anything. */
	put(b, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	       "style-src 'unsafe-inline'; img-src data:\">\n"
	       "<meta name=\"referrer\" content=\"no-referrer\">\n");
}

static void card(struct fl_svg_buf *b, const char *key, const char *value_html,
                 const char *note_html)
{
	put(b, "<div class=\"card\"><div class=\"k\">");
	put(b, key);
	put(b, "</div><div class=\"v\">");
	put(b, value_html);
	put(b, "</div>");
	if (note_html != NULL) {
		put(b, "<div class=\"n\">");
		put(b, note_html);
		put(b, "</div>");
	}
	put(b, "</div>\n");
}

static void figure_open(struct fl_svg_buf *b, int wide)
{
	put(b, wide ? "<figure class=\"wide\">" : "<figure>");
}

static void figure_close(struct fl_svg_buf *b, const char *caption)
{
	if (caption != NULL) {
		put(b, "<figcaption>");
		put(b, caption);
		put(b, "</figcaption>");
	}
	put(b, "</figure>\n");
}

/* ---- drivers ---- */

struct driver {
	size_t col;
	double effect;
};

static int driver_cmp(const void *a, const void *b)
{
	double x = ((const struct driver *)a)->effect, y = ((const struct driver *)b)->effect;

	return (x < y) - (x > y);
}

/*
 * Effect of encoded column j in log-odds against the average training lead,
 * as fedlead-score --explain states it: one standard deviation up for a
 * numeric value, having this value instead of the average mix for a
 * category or a missing-value indicator.
 */
static double column_effect(const struct fl_model *m, const struct fl_feature *f, size_t j)
{
	double avg = 0;

	if (f->type == FL_NUMERIC && j == f->enc_offset)
		return m->w[j];
	if (f->type == FL_NUMERIC)
		return m->w[j] * (1 - m->scaler->baseline[j]);
	for (size_t k = f->enc_offset; k < f->enc_offset + f->enc_width; k++)
		avg += m->scaler->baseline[k] * m->w[k];
	return m->w[j] - avg;
}

static int drivers_chart(struct fl_svg_buf *b, const struct fl_model *m, int top)
{
	const struct fl_schema *s = m->schema;
	struct driver *d = NULL;
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
	if ((d = malloc((s->dim > 0 ? s->dim : 1) * sizeof(*d))) == NULL ||
	    (names = calloc(2 * (size_t)top, sizeof(*names))) == NULL ||
	    (labels = calloc(2 * (size_t)top, sizeof(*labels))) == NULL ||
	    (v = calloc(2 * (size_t)top, sizeof(*v))) == NULL)
		goto out;
	for (size_t i = 0; i < s->n_features; i++)
		for (size_t j = s->features[i].enc_offset;
		     j < s->features[i].enc_offset + s->features[i].enc_width; j++) {
			double e = column_effect(m, &s->features[i], j);

			if (isfinite(e))
				d[n++] = (struct driver){j, e};
		}
	qsort(d, n, sizeof(*d), driver_cmp);
	while (up < n && up < (size_t)top && d[up].effect > 0)
		up++;
	/* Against conversion: the strongest last, so the chart reads top to bottom
	 * from most helpful to most harmful. */
	while (down < n - up && down < (size_t)top && d[n - 1 - down].effect < 0)
		down++;
	for (size_t i = 0; i < up + down; i++, k++) {
		const struct driver *dr = i < up ? &d[i] : &d[n - down + (i - up)];

		fl_schema_column_name(s, dr->col, names[k], sizeof(names[k]));
		/* Numeric effects are per standard deviation: say so. */
		for (size_t f = 0; f < s->n_features; f++)
			if (s->features[f].type == FL_NUMERIC &&
			    s->features[f].enc_offset == dr->col) {
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

/* ---- training history (model provenance and dashboard) ---- */

/*
 * Loss and AUC per round. Long histories are thinned to at most
 * MAX_HISTORY_POINTS evenly spaced rounds, always keeping the last.
 */
static int history_charts(struct fl_svg_buf *b, const struct fl_round_log *h, size_t n)
{
	size_t stride =
	        n > MAX_HISTORY_POINTS ? (n + MAX_HISTORY_POINTS - 1) / MAX_HISTORY_POINTS : 1;
	size_t m = 0;
	double *x = NULL, *tl = NULL, *vl = NULL, *va = NULL;
	unsigned style;
	struct fl_svg_series loss[2], auc[1];
	struct fl_svg_chart cl = {
	        .title = "Loss per round",
	        .x = {.label = "Round", .min = NAN, .max = NAN, .fmt = FL_SVG_INT},
	        .y = {.label = "Mean log-loss", .min = NAN, .max = NAN},
	};
	struct fl_svg_chart ca = {
	        .title = "Validation AUC per round",
	        .x = {.label = "Round", .min = NAN, .max = NAN, .fmt = FL_SVG_INT},
	        .y = {.label = "AUC on held-out leads", .min = NAN, .max = NAN},
	};

	if ((x = malloc((n / stride + 2) * sizeof(double))) == NULL ||
	    (tl = malloc((n / stride + 2) * sizeof(double))) == NULL ||
	    (vl = malloc((n / stride + 2) * sizeof(double))) == NULL ||
	    (va = malloc((n / stride + 2) * sizeof(double))) == NULL) {
		free(x);
		free(tl);
		free(vl);
		free(va);
		return b->err ? b->err : (b->err = FL_ERR_NOMEM);
	}
	for (size_t i = 0; i < n; i += stride) {
		size_t k = i + stride >= n ? n - 1 : i; /* the last round is always shown */

		x[m] = (double)h[k].round;
		tl[m] = h[k].train_loss;
		vl[m] = h[k].valid_log_loss;
		va[m] = h[k].valid_auc;
		m++;
		if (k == n - 1)
			break;
	}
	style = m <= 60 ? FL_SVG_MARKERS : 0;
	loss[0] = (struct fl_svg_series){"Training", x, tl, m, C_MODEL, style};
	loss[1] = (struct fl_svg_series){"Validation (held-out leads)", x, vl, m, C_VALID, style};
	auc[0] = (struct fl_svg_series){"Validation AUC", x, va, m, C_VALID, style};
	figure_open(b, 0);
	fl_svg_line_chart(b, &cl, loss, 2);
	figure_close(b, "Mean log-loss of the shared model after each round: training on the "
	                "partners' rows, validation on the rows they hold out. Lower is better.");
	figure_open(b, 0);
	fl_svg_line_chart(b, &ca, auc, 1);
	figure_close(b, "Chance that a held-out converted lead scores above a held-out "
	                "non-converted one (0.5 = random, 1 = perfect), from summed score "
	                "histograms.");
	free(x);
	free(tl);
	free(vl);
	free(va);
	return b->err;
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
	put(&b, CSS);
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

	if (ev != NULL && labelled) {
		headline(&b, ev);
		labelled_cards(&b, ev);
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

	if (ev != NULL)
		decile_table(&b, ev, labelled);
	if (m->prov.n_history > 0) {
		put(&b, "<h2>Federated training</h2>\n<div class=\"grid\">\n");
		history_charts(&b, m->prov.history, m->prov.n_history);
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
	struct fl_csv *csv = NULL;
	struct fl_binding *bnd = NULL;
	struct fl_ranker *rk = NULL;
	struct fl_csv_record rec;
	double *x = NULL, label = -1;
	size_t n_extra;
	int r;

	memset(rep, 0, sizeof(*rep));
	memset(cv, 0, sizeof(*cv));
	if (o->data == NULL)
		return fl_fail(FL_ERR_INVALID, "report: no lead file to score");
	if ((x = malloc(m->dim * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	if ((r = fl_csv_open(o->data, &csv)) != 0 ||
	    (r = fl_ranker_new(o->tmpdir, o->mem_records ? o->mem_records : (1u << 20), &rk)) != 0)
		goto out;
	if ((r = fl_csv_next(csv, &rec)) <= 0) {
		if (r == 0)
			r = fl_fail(FL_ERR_DATA, "%s: the file is empty (no header)", o->data);
		goto out;
	}
	if ((r = fl_binding_new(m->schema, csv, &rec, o->eval, &bnd, &n_extra)) != 0)
		goto out;
	fl_load_report_extra(&rep->load, bnd);
	while ((r = fl_csv_next(csv, &rec)) == 1) {
		if ((r = fl_encode_row(bnd, &rec, x, &label, NULL)) != 0) {
			if (r != FL_ERR_DATA || o->policy != FL_BAD_ROWS_SKIP)
				goto out;
			if (rep->load.n_samples < FL_BAD_ROW_SAMPLES)
				snprintf(rep->load.samples[rep->load.n_samples++],
				         sizeof(rep->load.samples[0]), "%s", fl_errmsg());
			rep->load.skipped++;
			continue;
		}
		fl_scaler_apply(m->scaler, x);
		if ((r = fl_ranker_add(rk, fl_model_logit(m, x), o->eval ? (int)label : -1)) != 0)
			goto out;
		rep->load.rows++;
	}
	if (r < 0)
		goto out;
	rep->bytes = fl_csv_bytes_read(csv);
	if ((r = fl_ranker_finish(rk, o->top_k, &rep->ev)) != 0 ||
	    (r = fl_ranker_curves(rk, cv)) != 0)
		goto out;
	r = 0;
out:
	fl_ranker_free(rk);
	fl_binding_free(bnd);
	fl_csv_free(csv);
	free(x);
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
	struct fl_curves *cv = NULL;
	char *html = NULL;
	size_t len;
	int r;

	if (rep == NULL)
		rep = &own;
	/* About 4 KiB: kept off the stack of callers with small stacks. */
	if ((cv = malloc(sizeof(*cv))) == NULL)
		return FL_ERR_NOMEM;
	if ((r = fl_report_score(m, o, rep, cv)) == 0 &&
	    (r = fl_report_html(m, &rep->ev, cv, meta, &html, &len)) == 0)
		r = save_atomic(path, html, len);
	free(html);
	free(cv);
	return r;
}

/* ---- the dashboard ---- */

static const char *phase_badge(enum fl_fed_phase p)
{
	switch (p) {
	case FL_PHASE_WAITING: return "b-wait";
	case FL_PHASE_DONE: return "b-done";
	case FL_PHASE_FAILED: return "b-fail";
	default: return "b-run";
	}
}

static void utc_time(struct fl_svg_buf *b, double t, int with_date)
{
	char s[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (!(t > 0) || !isfinite(t) || gmtime_r(&tt, &tm) == NULL ||
	    strftime(s, sizeof(s), with_date ? "%Y-%m-%d %H:%M:%S UTC" : "%H:%M:%S UTC", &tm) ==
	            0) {
		put(b, "\xe2\x80\x93");
		return;
	}
	put(b, s);
}

/* "just now", "12 s ago", "4 min ago", "3 h ago", "2 days ago". */
static void ago(struct fl_svg_buf *b, double now, double t)
{
	double d = now - t;

	if (!(t > 0) || !isfinite(d)) {
		put(b, "never");
		return;
	}
	if (d < 2)
		put(b, "just now");
	else if (d < 120)
		fl_svg_buf_printf(b, "%.0f s ago", floor(d));
	else if (d < 7200)
		fl_svg_buf_printf(b, "%.0f min ago", floor(d / 60));
	else if (d < 172800)
		fl_svg_buf_printf(b, "%.0f h ago", floor(d / 3600));
	else
		fl_svg_buf_printf(b, "%.0f days ago", floor(d / 86400));
}

/* The "round k (iteration i of at most n)" card. */
static void round_card(struct fl_svg_buf *b, const struct fl_dashboard *d)
{
	struct fl_svg_buf v = {0}, n = {0};
	int is_fedavg = d->algorithm != NULL && strcmp(d->algorithm, "fedavg") == 0;

	count(&v, d->view.round);
	if (is_fedavg) {
		fl_svg_buf_printf(&n, "FedAvg round %zu", d->fedavg_done);
		if (d->max_iterations > 0)
			fl_svg_buf_printf(&n, " of %d", d->max_iterations);
	} else {
		fl_svg_buf_printf(&n, "solver iteration %d", d->view.iterations);
		if (d->max_iterations > 0)
			fl_svg_buf_printf(&n, " of at most %d", d->max_iterations);
		if (d->l2_auto)
			put(&n, " for this L2 value");
	}
	if (isfinite(d->view.l2) && d->view.phase >= FL_PHASE_TRAIN)
		fl_svg_buf_printf(&n, "; L2 %g", d->view.l2);
	card(b, "Round", v.data, n.data);
	fl_svg_buf_free(&v);
	fl_svg_buf_free(&n);
}

int fl_dashboard_render(const struct fl_dashboard *d, char **html, size_t *len)
{
	struct fl_svg_buf b = {0}, v = {0}, n = {0};
	const struct fl_fedcoord_view *w = &d->view;
	const char *phase = fl_fed_phase_name(w->phase);

	*html = NULL;
	*len = 0;
	page_head(&b, d->refresh);
	put(&b, "<title>fedlead \xc2\xb7 ");
	esc(&b, d->federation_id);
	put(&b, " \xc2\xb7 ");
	esc(&b, phase);
	put(&b, "</title>\n<style>");
	put(&b, CSS);
	put(&b, "</style>\n</head>\n<body>\n<main>\n<header><h1>Federation ");
	esc(&b, d->federation_id);
	put(&b, "</h1><p class=\"sub\">fedlead coordinator \xc2\xb7 algorithm ");
	esc(&b, d->algorithm);
	put(&b, " \xc2\xb7 page made ");
	utc_time(&b, d->now, 1);
	if (d->refresh > 0)
		fl_svg_buf_printf(&b, " \xc2\xb7 reloads every %d s", d->refresh);
	put(&b, "</p></header>\n<h2>Now</h2>\n<div class=\"cards\">\n");

	put(&v, "<span class=\"badge ");
	put(&v, phase_badge(w->phase));
	put(&v, "\">");
	esc(&v, phase);
	put(&v, "</span>");
	card(&b, "Phase", v.data,
	     w->phase == FL_PHASE_WAITING ? "for partners to join"
	     : w->phase == FL_PHASE_STATS ? "summing column statistics"
	     : w->phase == FL_PHASE_TRAIN ? "training rounds"
	     : w->phase == FL_PHASE_FINAL ? "delivering the signed model"
	     : w->phase == FL_PHASE_DONE  ? "every partner has the model"
	                                  : "see the coordinator's log");
	fl_svg_buf_free(&v);
	round_card(&b, d);

	fl_svg_buf_printf(&v, "%zu / %zu", w->connected, w->expected);
	fl_svg_buf_printf(&n, "connected of expected; %zu taking part", w->participating);
	card(&b, "Partners", v.data, n.data);
	fl_svg_buf_free(&v);
	fl_svg_buf_free(&n);

	num(&v, w->train_loss, 4);
	card(&b, "Training loss", v.data, "mean log-loss at the current weights");
	fl_svg_buf_free(&v);

	num(&v, w->valid_auc, 3);
	put(&n, "validation AUC; validation log-loss ");
	num(&n, w->valid_log_loss, 4);
	card(&b, "Validation", v.data, n.data);
	fl_svg_buf_free(&v);
	fl_svg_buf_free(&n);
	put(&b, "</div>\n");

	put(&b, "<h2>Partners</h2>\n<table>\n<tr><th>Partner (certificate)</th><th>Connection"
	        "</th><th>Taking part</th><th>Last seen</th></tr>\n");
	for (size_t i = 0; i < d->n_partners; i++) {
		const struct fl_dashboard_partner *p = &d->partners[i];

		put(&b, "<tr><td>");
		esc(&b, p->name);
		put(&b, p->connected ? "</td><td><span class=\"badge b-done\">connected</span>"
		                     : "</td><td><span class=\"badge b-off\">not connected</span>");
		put(&b, p->participating ? "</td><td>yes</td><td>" : "</td><td>no</td><td>");
		ago(&b, d->now, p->last_seen);
		if (p->last_seen > 0) {
			put(&b, " <span class=\"note\">(");
			utc_time(&b, p->last_seen, 0);
			put(&b, ")</span>");
		}
		put(&b, "</td></tr>\n");
	}
	if (d->n_partners == 0)
		put(&b, "<tr><td colspan=\"4\">no partners on the allow-list</td></tr>\n");
	put(&b, "</table>\n");

	put(&b, "<h2>Training</h2>\n<div class=\"grid\">\n");
	history_charts(&b, d->history, d->n_history);
	put(&b, "</div>\n");
	if (d->n_history > 0) {
		size_t first = d->n_history > 10 ? d->n_history - 10 : 0;

		put(&b, "<h2>Last rounds</h2>\n<table>\n<tr><th>Round</th><th>Step</th><th>L2</th>"
		        "<th>Training loss</th><th>Gradient norm</th><th>Validation loss</th>"
		        "<th>Validation AUC</th><th>Partners</th></tr>\n");
		for (size_t i = d->n_history; i-- > first;) {
			const struct fl_round_log *h = &d->history[i];

			put(&b, "<tr><td>");
			count(&b, h->round);
			put(&b, "</td><td>");
			esc(&b, h->kind);
			put(&b, "</td><td>");
			if (isfinite(h->l2))
				fl_svg_buf_printf(&b, "%g", h->l2);
			else
				put(&b, "\xe2\x80\x93");
			put(&b, "</td><td>");
			num(&b, h->train_loss, 5);
			put(&b, "</td><td>");
			if (isfinite(h->grad_norm))
				fl_svg_buf_printf(&b, "%.3g", h->grad_norm);
			else
				put(&b, "\xe2\x80\x93");
			put(&b, "</td><td>");
			num(&b, h->valid_log_loss, 5);
			put(&b, "</td><td>");
			num(&b, h->valid_auc, 4);
			fl_svg_buf_printf(&b, "</td><td>%u</td></tr>\n", (unsigned)h->partners);
		}
		put(&b, "</table>\n");
	}
	put(&b, "<footer>Also served here: <code>/status</code> (JSON), <code>/metrics</code> "
	        "(Prometheus), <code>/healthz</code>.</footer>\n</main>\n</body>\n</html>\n");
	return fl_svg_buf_take(&b, html, len);
}

/* Rounds kept whole at the end of a thinned history, for the table of last rounds. */
#define HISTORY_TAIL 10

int fl_dashboard_html(const struct fl_fedcoord *c, const struct fl_coord_settings *set, double now,
                      char **html, size_t *len)
{
	struct fl_dashboard d = {0};
	struct fl_dashboard_partner *parts = NULL;
	struct fl_round_log *hist = NULL, h;
	size_t np = fl_fedcoord_partner_count(c), nh = fl_fedcoord_history_len(c), keep = 0;
	size_t stride = 1, tail;
	int r = FL_ERR_NOMEM;

	*html = NULL;
	*len = 0;
	/* A page is made every few seconds for as long as a federation runs:
	 * copy at most MAX_HISTORY_POINTS rounds, however long the history. */
	if (nh > MAX_HISTORY_POINTS)
		stride = (nh + MAX_HISTORY_POINTS - HISTORY_TAIL - 1) /
		         (MAX_HISTORY_POINTS - HISTORY_TAIL);
	tail = nh > HISTORY_TAIL ? nh - HISTORY_TAIL : 0;
	if ((np > 0 && (parts = calloc(np, sizeof(*parts))) == NULL) ||
	    (nh > 0 && (hist = malloc((nh < MAX_HISTORY_POINTS ? nh : MAX_HISTORY_POINTS + 1) *
	                              sizeof(*hist))) == NULL))
		goto out;
	for (size_t i = 0; i < np; i++)
		fl_fedcoord_partner(c, i, &parts[i].name, &parts[i].connected,
		                    &parts[i].participating, &parts[i].last_seen);
	for (size_t i = 0; i < nh; i++) {
		fl_fedcoord_history(c, i, &h);
		d.fedavg_done += strcmp(h.kind, "fedavg") == 0;
		if (i >= tail || i % stride == 0)
			hist[keep++] = h;
	}
	fl_fedcoord_view(c, &d.view);
	d.federation_id = set->federation_id;
	d.algorithm = fl_fed_algo_name(set->algorithm);
	d.max_iterations =
	        set->algorithm == FL_FED_FEDAVG ? set->fedavg_rounds : set->max_iterations;
	d.l2_auto = set->l2_auto && set->algorithm != FL_FED_FEDAVG;
	d.partners = parts;
	d.n_partners = np;
	d.history = hist;
	d.n_history = keep;
	d.now = now;
	d.refresh = DASHBOARD_REFRESH;
	r = fl_dashboard_render(&d, html, len);
out:
	free(parts);
	free(hist);
	return r;
}
