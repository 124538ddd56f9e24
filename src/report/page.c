/*
 * The parts of a page that the model report (report.c) and the coordinator's
 * dashboard (dashboard.c) share: the style sheet, the page head, cards,
 * figures and the training-history charts.
 */
#include "page_int.h"

#include <stdlib.h>

#include "fedlead/error.h"

const char fl_page_css[] =
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
        /* The federation panel: partner and set cells span their rows. */
        "table.fed td.p{font-weight:650}table.fed .l{text-align:left}"
        "table.fed tr.fed td{background:#f3f8fc}"
        ".gains{padding-left:20px;line-height:1.5;font-size:14.5px}"
        ".gains .up{color:#2f855a;font-weight:600}.gains .down{color:#c53030;font-weight:600}"
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

/* ---- training history (model provenance and dashboard) ---- */

/*
 * Loss and AUC per round. Long histories are thinned to at most
 * MAX_HISTORY_POINTS evenly spaced rounds, always keeping the last.
 */
int fl_page_history_charts(struct fl_svg_buf *b, const struct fl_round_log *h, size_t n)
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
