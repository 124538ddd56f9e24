/*
 * Small SVG chart builders for reports people read: a growing text buffer
 * with HTML/XML escaping, "nice" axis ticks, line charts, vertical bar charts
 * and horizontal bar charts.
 *
 * Every chart is one self-contained <svg> element with a viewBox, so it
 * scales to its container (a laptop screen or an A4 column) and needs no
 * script, stylesheet or font download. Every string that reaches the output
 * (titles, labels, legend names) is escaped; every number is checked, so
 * degenerate data (one value, no points, NaN) still gives a valid chart with
 * no "nan" or "inf" in it.
 */
#ifndef FEDLEAD_SVG_H
#define FEDLEAD_SVG_H

#include <stddef.h>

/* A buffer never grows past this; further writes fail with FL_ERR_LIMIT. */
#define FL_SVG_MAX_BYTES (64u * 1024 * 1024)

/*
 * Growable NUL-terminated text. The first failure is kept in err and every
 * later write is a no-op returning it, so a builder can write many pieces
 * and check once.
 */
struct fl_svg_buf {
	char *data; /* NUL-terminated, or NULL while empty */
	size_t len, cap;
	int err; /* 0, or the first FL_ERR_* */
};

/* Appends n bytes. Returns 0 or b->err. */
int fl_svg_buf_put(struct fl_svg_buf *b, const char *s, size_t n);
/* Appends formatted text (C locale numbers: callers use setlocale "C"). */
int fl_svg_buf_printf(struct fl_svg_buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/*
 * Appends s escaped for HTML/XML text and attribute values (& < > " ' as
 * entities). Bytes that are not valid UTF-8 and control characters other
 * than tab and newline become U+FFFD, so hostile or binary input cannot
 * break the document. NULL appends nothing.
 */
int fl_svg_buf_escape(struct fl_svg_buf *b, const char *s);
/* Like fl_svg_buf_escape() but keeps at most max_chars characters, ending
 * with an ellipsis when it cut (for labels in a fixed space). */
int fl_svg_buf_escape_max(struct fl_svg_buf *b, const char *s, size_t max_chars);
/*
 * Hands the text to the caller: *out (malloc'ed, NUL-terminated) and *len,
 * or b->err if any write failed. b is empty afterwards either way.
 */
int fl_svg_buf_take(struct fl_svg_buf *b, char **out, size_t *len);
void fl_svg_buf_free(struct fl_svg_buf *b);

/*
 * Nice ticks: a step of 1, 2, 2.5 or 5 times a power of ten giving about
 * target intervals over [*lo, *hi]. With expand, the range grows outwards
 * to whole steps (and *lo, *hi are updated); ticks are the multiples of the
 * step inside the range. Equal or non-finite bounds are first widened into
 * a finite range around the value (0..1 when nothing is known). Returns the
 * number of ticks written to ticks[] (at most max, at least 2 when max >= 2)
 * and the step through *step (may be NULL).
 */
int fl_svg_ticks(double *lo, double *hi, int target, int expand, double *ticks, int max,
                 double *step);

/* How tick and value labels are written. */
enum fl_svg_fmt {
	FL_SVG_NUM = 0,   /* 0.25 */
	FL_SVG_PCT = 1,   /* values are shares: 0.25 is "25%" */
	FL_SVG_INT = 2,   /* 12,345 */
	FL_SVG_TIMES = 3, /* 2.5× (lift) */
	FL_SVG_LOGIT = 4, /* values are log-odds; an axis puts its ticks at round
	                   * probabilities ("1%", "10%", "50%", "90%") */
};

/*
 * Formats v for a label with as many decimals as step needs (step 0.25 ->
 * two decimals). Never writes "nan" or "inf": a non-finite v gives "–".
 */
void fl_svg_format(char *buf, size_t n, double v, double step, enum fl_svg_fmt fmt);

struct fl_svg_axis {
	const char *label;   /* axis title; NULL = none */
	double min, max;     /* fixed domain when both are finite and min < max */
	int zero;            /* a derived domain includes 0 */
	enum fl_svg_fmt fmt; /* tick labels */
};

/* A labelled dot, e.g. "20 % of leads -> 52 % of conversions". */
struct fl_svg_mark {
	double x, y;
	const char *text;
};

struct fl_svg_chart {
	const char *title;    /* heading inside the chart and its accessible name */
	double width, height; /* viewBox units (about CSS px); 0 = 480 x 320 */
	struct fl_svg_axis x, y;
	const struct fl_svg_mark *marks; /* drawn on top; may be NULL */
	size_t n_marks;
};

/* Series styles, OR-ed. */
#define FL_SVG_DASHED 1u
#define FL_SVG_STEP 2u    /* y[i] holds from x[i] to x[i+1]; the last y is unused */
#define FL_SVG_FILL 4u    /* shade between the line and y = 0 */
#define FL_SVG_MARKERS 8u /* a dot on every point */

struct fl_svg_series {
	const char *name;    /* legend entry; NULL = not in the legend */
	const double *x, *y; /* n points; a non-finite coordinate breaks the line */
	size_t n;
	const char *color; /* CSS colour such as "#0072b2" */
	unsigned style;
};

/*
 * Appends a line chart of ns series. Domains not fixed by the chart come
 * from the finite points (with nice ticks); with no finite point at all the
 * axes still get a default range and the chart says "no data".
 */
int fl_svg_line_chart(struct fl_svg_buf *b, const struct fl_svg_chart *c,
                      const struct fl_svg_series *s, size_t ns);

struct fl_svg_bars {
	const char *name; /* legend entry; NULL = not in the legend */
	const double *v;  /* one value per category; non-finite = no bar */
	const char *color;
	int value_labels; /* write each value above its bar (chart y format) */
};

/*
 * Appends a vertical bar chart: ncat categories along x (labels cats[i]),
 * ns series side by side in each. ref, when finite, draws a dashed
 * horizontal reference line labelled ref_label (e.g. lift 1 = random).
 */
int fl_svg_bar_chart(struct fl_svg_buf *b, const struct fl_svg_chart *c, const char *const *cats,
                     size_t ncat, const struct fl_svg_bars *s, size_t ns, double ref,
                     const char *ref_label);

/*
 * Appends a horizontal bar chart: one bar per label from a zero line,
 * positive values in pos_color, negative in neg_color, each with its value
 * (chart x format, signed). The height grows with n when c->height is 0.
 */
int fl_svg_hbar_chart(struct fl_svg_buf *b, const struct fl_svg_chart *c, const char *const *labels,
                      const double *v, size_t n, const char *pos_color, const char *neg_color);

#endif
