/*
 * Private to src/report: the page pieces report.c and dashboard.c share
 * (page.c), and the small formatting helpers both use, inline here.
 */
#ifndef FEDLEAD_REPORT_PAGE_INT_H
#define FEDLEAD_REPORT_PAGE_INT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fedlead/metrics.h"
#include "fedlead/model.h"
#include "fedlead/svg.h"

/* Okabe-Ito colours: told apart by readers with colour-vision deficiencies. */
#define C_MODEL "#0072b2"
#define C_VALID "#e69f00"

/* Points a history chart draws at most, however long the history. */
#define MAX_HISTORY_POINTS 1500

/*
 * Appends the effect curve of spline or bins feature i (effects.c); 0 and
 * nothing for other features.
 */
int fl_report_effect_chart(struct fl_svg_buf *b, const struct fl_model *m, size_t i);

/* The style sheet of both pages. */
extern const char fl_page_css[];

/* ---- small helpers ---- */

static inline int put(struct fl_svg_buf *b, const char *s)
{
	return fl_svg_buf_put(b, s, strlen(s));
}

/* Escaped text, or a dash for a missing value. */
static inline void esc(struct fl_svg_buf *b, const char *s)
{
	if (s == NULL || *s == '\0')
		put(b, "\xe2\x80\x93");
	else
		fl_svg_buf_escape(b, s);
}

/* A number with d decimals, or a dash when it is not finite. */
static inline void num(struct fl_svg_buf *b, double v, int d)
{
	if (isfinite(v))
		fl_svg_buf_printf(b, "%.*f", d, v == 0 ? 0.0 : v);
	else
		put(b, "\xe2\x80\x93");
}

/* A share as a percentage with d decimals, or a dash. */
static inline void pct(struct fl_svg_buf *b, double v, int d)
{
	if (isfinite(v))
		fl_svg_buf_printf(b, "%.*f %%", d, v * 100 == 0 ? 0.0 : v * 100);
	else
		put(b, "\xe2\x80\x93");
}

static inline void count(struct fl_svg_buf *b, uint64_t v)
{
	char s[64];

	fl_svg_format(s, sizeof(s), (double)v, 1, FL_SVG_INT);
	put(b, s);
}

static inline double ratio(double a, double c)
{
	return c > 0 ? a / c : NAN;
}

/* The <head> up to the title: charset, viewport, a reload every refresh
 * seconds (0 = none) and a policy that lets the page load and run nothing. */
static inline void page_head(struct fl_svg_buf *b, int refresh)
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

static inline void card(struct fl_svg_buf *b, const char *key, const char *value_html,
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

static inline void figure_open(struct fl_svg_buf *b, int wide)
{
	put(b, wide ? "<figure class=\"wide\">" : "<figure>");
}

static inline void figure_close(struct fl_svg_buf *b, const char *caption)
{
	if (caption != NULL) {
		put(b, "<figcaption>");
		put(b, caption);
		put(b, "</figcaption>");
	}
	put(b, "</figure>\n");
}

/*
 * Loss and AUC per round, as two figures. Long histories are thinned to at
 * most MAX_HISTORY_POINTS evenly spaced rounds, always keeping the last.
 * Returns b->err.
 */
int fl_page_history_charts(struct fl_svg_buf *b, const struct fl_round_log *h, size_t n);

#endif
