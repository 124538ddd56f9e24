/*
 * SVG chart builders. Layout is computed in viewBox units; text widths are
 * estimated from character counts (no font metrics are available, and the
 * reader's font is unknown), with margins generous enough for the estimate
 * to be off by a fair amount.
 *
 * Robustness comes first: domains are made finite and non-empty before any
 * coordinate is computed, every coordinate goes through one function that
 * clamps it, and every string goes through the escaper.
 */
#include "fedlead/svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/utf8.h"

#define FONT_FAMILY                                                                                \
	"system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'DejaVu Sans', "   \
	"sans-serif"
#define INK "#1a202c"      /* titles and values */
#define INK_SOFT "#4a5568" /* ticks and axis labels */
#define GRID "#e2e8f0"     /* gridlines */
#define AXIS "#718096"     /* axis lines */
#define MAX_TICKS 24
/* Average glyph width as a share of the font size, for layout estimates. */
#define GLYPH 0.58

/* ---- buffer ---- */

static int buf_reserve(struct fl_svg_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->err != 0)
		return b->err;
	if (extra > FL_SVG_MAX_BYTES || b->len + extra > FL_SVG_MAX_BYTES) {
		b->err = fl_fail(FL_ERR_LIMIT, "the document would be larger than %u MiB",
		                 FL_SVG_MAX_BYTES >> 20);
		return b->err;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap < 4096 ? 4096 : b->cap;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(b->data, cap)) == NULL) {
		b->err = FL_ERR_NOMEM;
		return b->err;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int fl_svg_buf_put(struct fl_svg_buf *b, const char *s, size_t n)
{
	int r;

	if ((r = buf_reserve(b, n)) != 0)
		return r;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int put_str(struct fl_svg_buf *b, const char *s)
{
	return fl_svg_buf_put(b, s, strlen(s));
}

int fl_svg_buf_printf(struct fl_svg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	if ((r = buf_reserve(b, 256)) != 0)
		return r;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = fl_fail(FL_ERR_INTERNAL, "formatting failed");
		return b->err;
	}
	if ((size_t)n >= b->cap - b->len) {
		if ((r = buf_reserve(b, (size_t)n)) != 0)
			return r;
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return 0;
}

int fl_svg_buf_escape_max(struct fl_svg_buf *b, const char *s, size_t max_chars)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0;

	if (s == NULL)
		return b->err;
	while (*p != '\0' && b->err == 0) {
		size_t n = fl_utf8_char(p, strnlen((const char *)p, 4), NULL);

		if (chars == max_chars) {
			put_str(b, "\xe2\x80\xa6"); /* … */
			break;
		}
		chars++;
		switch (*p) {
		case '&': put_str(b, "&amp;"); break;
		case '<': put_str(b, "&lt;"); break;
		case '>': put_str(b, "&gt;"); break;
		case '"': put_str(b, "&quot;"); break;
		case '\'': put_str(b, "&#39;"); break;
		default:
			if (n == 0 || (*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) {
				put_str(b, replacement);
				p++;
				continue;
			}
			fl_svg_buf_put(b, (const char *)p, n);
			p += n;
			continue;
		}
		p++;
	}
	return b->err;
}

int fl_svg_buf_escape(struct fl_svg_buf *b, const char *s)
{
	return fl_svg_buf_escape_max(b, s, SIZE_MAX);
}

int fl_svg_buf_take(struct fl_svg_buf *b, char **out, size_t *len)
{
	int r = b->err;

	*out = NULL;
	*len = 0;
	if (r == 0 && b->data == NULL)
		r = fl_svg_buf_put(b, "", 0);
	if (r == 0) {
		*out = b->data;
		*len = b->len;
		b->data = NULL;
	}
	fl_svg_buf_free(b);
	return r;
}

void fl_svg_buf_free(struct fl_svg_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Characters (not bytes) of a UTF-8 string, for width estimates. */
static size_t text_chars(const char *s)
{
	size_t n = 0;

	for (; s != NULL && *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* ---- ticks and numbers ---- */

static double nice_step(double raw)
{
	double mag = pow(10, floor(log10(raw))), f = raw / mag;

	if (f <= 1)
		return mag;
	if (f <= 2)
		return 2 * mag;
	if (f <= 2.5)
		return 2.5 * mag;
	if (f <= 5)
		return 5 * mag;
	return 10 * mag;
}

int fl_svg_ticks(double *lo, double *hi, int target, int expand, double *ticks, int max,
                 double *step_out)
{
	double a = *lo, z = *hi, step, k0, k1;
	int n = 0;

	if (step_out != NULL)
		*step_out = 0;
	if (target < 1)
		target = 1;
	if (!isfinite(a) && !isfinite(z)) {
		a = 0;
		z = 1;
	} else if (!isfinite(a)) {
		a = z;
	} else if (!isfinite(z)) {
		z = a;
	}
	if (a > z) {
		double t = a;

		a = z;
		z = t;
	}
	/* A span too small to show next to the values' magnitude is widened
	 * around them, so steps stay representable. */
	if (!(z - a > 1e-9 * fmax(fabs(a), fabs(z)))) {
		double mid = a / 2 + z / 2, pad = mid != 0 ? fabs(mid) * 0.1 : 1;

		a = mid - pad;
		z = mid + pad;
	}
	/* Spans near the double range would overflow below. */
	if (!isfinite(z - a)) {
		a = -1e300;
		z = 1e300;
	}
	step = nice_step((z - a) / target);
	if (expand) {
		a = floor(a / step) * step;
		z = ceil(z / step) * step;
	}
	k0 = ceil(a / step - 1e-9);
	k1 = floor(z / step + 1e-9);
	if (isfinite(k0) && isfinite(k1) && k1 - k0 <= MAX_TICKS * 4) {
		for (double k = k0; k <= k1 && n < max; k++) {
			double t = k * step;

			ticks[n++] = fabs(t) < step * 1e-9 ? 0 : t;
		}
	}
	if (n == 0 && max >= 2) {
		ticks[n++] = a;
		ticks[n++] = z;
	}
	*lo = a;
	*hi = z;
	if (step_out != NULL)
		*step_out = step;
	return n;
}

/* Decimals needed to write multiples of step exactly (0.25 -> 2), at most 6. */
static int decimals_for(double step)
{
	int d = 0;

	if (!(step > 0) || !isfinite(step))
		return 2;
	while (d < 6) {
		double s = step * pow(10, d);

		if (fabs(s - round(s)) <= 1e-6 * s)
			break;
		d++;
	}
	return d;
}

/* Integer with thousands separators ("12,345"). */
static void format_int(char *buf, size_t n, double v)
{
	char digits[64];
	size_t len, k = 0, lead;
	int neg = v < 0;

	if (fabs(v) >= 1e18) {
		snprintf(buf, n, "%.3g", v);
		return;
	}
	snprintf(digits, sizeof(digits), "%.0f", fabs(v));
	len = strlen(digits);
	if (neg && strcmp(digits, "0") != 0 && k + 1 < n)
		buf[k++] = '-';
	lead = len % 3 == 0 ? 3 : len % 3;
	for (size_t i = 0; i < len && k + 2 < n; i++) {
		if (i >= lead && (i - lead) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = digits[i];
	}
	buf[k < n ? k : n - 1] = '\0';
}

void fl_svg_format(char *buf, size_t n, double v, double step, enum fl_svg_fmt fmt)
{
	int d;

	if (n == 0)
		return;
	if (!isfinite(v)) {
		snprintf(buf, n, "\xe2\x80\x93"); /* – */
		return;
	}
	switch (fmt) {
	case FL_SVG_INT: format_int(buf, n, round(v)); return;
	case FL_SVG_PCT:
		d = step > 0 ? decimals_for(step * 100) : (fabs(v) < 0.1 ? 2 : 1);
		snprintf(buf, n, "%.*f%%", d, v * 100 == 0 ? 0.0 : v * 100);
		return;
	case FL_SVG_TIMES:
		d = step > 0 ? decimals_for(step) : 1;
		snprintf(buf, n, "%.*f\xc3\x97", d, v == 0 ? 0.0 : v);
		return;
	case FL_SVG_LOGIT: {
		/* As the probability, with the decimals its round value needs. */
		double q = 100 / (1 + exp(-v));

		if (q < 1e-6 || q > 100 - 1e-6) {
			snprintf(buf, n, "%.3g%%", q);
			return;
		}
		d = decimals_for(q < 50 ? q : 100 - q);
		snprintf(buf, n, "%.*f%%", d > 8 ? 8 : d, q);
		return;
	}
	case FL_SVG_NUM:
	default:
		if (step >= 1 && fabs(v) < 1e15) {
			format_int(buf, n, round(v));
			return;
		}
		d = step > 0 ? decimals_for(step) : (fabs(v) < 10 ? 3 : fabs(v) < 1000 ? 1 : 0);
		if (fabs(v) >= 1e15 || (fabs(v) < 1e-6 && v != 0 && step <= 0))
			snprintf(buf, n, "%.3g", v);
		else
			snprintf(buf, n, "%.*f", d, v == 0 ? 0.0 : v);
		return;
	}
}

/* ---- shared chart parts ---- */

/* A linear map from a domain onto a pixel range; out-of-domain values clamp. */
struct scale {
	double d0, d1, p0, p1;
};

static double map(const struct scale *s, double v)
{
	double t;

	if (!isfinite(v))
		v = s->d0;
	t = (v - s->d0) / (s->d1 - s->d0);
	if (!(t >= 0))
		t = 0;
	if (t > 1)
		t = 1;
	return s->p0 + t * (s->p1 - s->p0);
}

/* Writes a coordinate; non-finite never reaches here, but a 0 is safer than "nan". */
static void coord(struct fl_svg_buf *b, double v)
{
	fl_svg_buf_printf(b, "%.1f", isfinite(v) ? v : 0.0);
}

static void attr(struct fl_svg_buf *b, const char *name, const char *value)
{
	fl_svg_buf_printf(b, " %s=\"", name);
	fl_svg_buf_escape(b, value);
	put_str(b, "\"");
}

static void open_svg(struct fl_svg_buf *b, double w, double h, const char *title)
{
	fl_svg_buf_printf(b,
	                  "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" "
	                  "viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
	                  "font-family=\"%s\" font-size=\"12\">",
	                  w, h, w, h, FONT_FAMILY);
	put_str(b, "<title>");
	fl_svg_buf_escape(b, title != NULL ? title : "chart");
	put_str(b, "</title>");
	fl_svg_buf_printf(b, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>", w, h);
	if (title != NULL) {
		put_str(b,
		        "<text x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"600\" fill=\"" INK
		        "\">");
		fl_svg_buf_escape_max(b, title, (size_t)((w - 24) / (15 * GLYPH)));
		put_str(b, "</text>");
	}
}

static void text_at(struct fl_svg_buf *b, double x, double y, const char *anchor, int size,
                    const char *fill, const char *s, size_t max_chars)
{
	put_str(b, "<text x=\"");
	coord(b, x);
	put_str(b, "\" y=\"");
	coord(b, y);
	fl_svg_buf_printf(b, "\" text-anchor=\"%s\" font-size=\"%d\"", anchor, size);
	attr(b, "fill", fill);
	put_str(b, ">");
	fl_svg_buf_escape_max(b, s, max_chars);
	put_str(b, "</text>");
}

static void line(struct fl_svg_buf *b, double x1, double y1, double x2, double y2,
                 const char *stroke, double width, int dashed)
{
	put_str(b, "<line x1=\"");
	coord(b, x1);
	put_str(b, "\" y1=\"");
	coord(b, y1);
	put_str(b, "\" x2=\"");
	coord(b, x2);
	put_str(b, "\" y2=\"");
	coord(b, y2);
	put_str(b, "\"");
	attr(b, "stroke", stroke);
	fl_svg_buf_printf(b, " stroke-width=\"%.1f\"%s/>", width,
	                  dashed ? " stroke-dasharray=\"6 4\"" : "");
}

struct legend_item {
	const char *name, *color;
	int dashed, box;
};

/* Legend entries from x0 at baseline y, wrapping onto more rows at xmax. */
static void legend(struct fl_svg_buf *b, double x0, double y, double xmax,
                   const struct legend_item *it, size_t n)
{
	double x = x0;
	int any = 0;

	for (size_t i = 0; i < n; i++) {
		size_t chars;

		if (it[i].name == NULL)
			continue;
		chars = text_chars(it[i].name);
		if (chars > 40)
			chars = 40;
		if (any && x + 26 + chars * 12 * GLYPH > xmax) {
			x = x0;
			y += 18;
		}
		any = 1;
		if (it[i].box) {
			put_str(b, "<rect x=\"");
			coord(b, x);
			put_str(b, "\" y=\"");
			coord(b, y - 10);
			put_str(b, "\" width=\"14\" height=\"12\" rx=\"2\"");
			attr(b, "fill", it[i].color);
			put_str(b, "/>");
		} else {
			line(b, x, y - 4, x + 18, y - 4, it[i].color, 2.5, it[i].dashed);
		}
		text_at(b, x + 22, y, "start", 12, INK_SOFT, it[i].name, 40);
		x += 22 + chars * 12 * GLYPH + 16;
	}
}

/* Rows the legend will take, to reserve the space before drawing. */
static int legend_rows(double x0, double xmax, const struct legend_item *it, size_t n)
{
	double x = x0;
	int rows = 0;

	for (size_t i = 0; i < n; i++) {
		size_t chars;

		if (it[i].name == NULL)
			continue;
		chars = text_chars(it[i].name);
		if (chars > 40)
			chars = 40;
		if (rows == 0 || x + 26 + chars * 12 * GLYPH > xmax) {
			rows++;
			x = x0;
		}
		x += 22 + chars * 12 * GLYPH + 16;
	}
	return rows;
}

/* Adds the log-odds of p to ticks unless it is off [lo, hi] or closer than gap to one there. */
static void logit_try(double p, double lo, double hi, double gap, double *ticks, int *n, int max)
{
	double z = log(p / (1 - p));

	if (!(z >= lo && z <= hi) || *n >= max)
		return;
	for (int i = 0; i < *n; i++)
		if (fabs(ticks[i] - z) < gap)
			return;
	ticks[(*n)++] = z;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Ticks of a log-odds axis at round probabilities: first 50 % and the powers
 * of ten (and their complements), then 2 and 5 times them, then 30 % and
 * 70 %, each only where it keeps about (hi - lo) / target from the others.
 */
static int logit_ticks(double lo, double hi, int target, double *ticks, int max)
{
	double gap = (hi - lo) / (target + 1), p;
	int n = 0;

	logit_try(0.5, lo, hi, gap, ticks, &n, max);
	for (int k = 1; k <= 12; k++) {
		p = pow(10, -k);
		logit_try(p, lo, hi, gap, ticks, &n, max);
		logit_try(1 - p, lo, hi, gap, ticks, &n, max);
	}
	for (int k = 1; k <= 12; k++) {
		p = pow(10, -k);
		logit_try(2 * p, lo, hi, gap, ticks, &n, max);
		logit_try(1 - 2 * p, lo, hi, gap, ticks, &n, max);
		if (k > 1) {
			logit_try(5 * p, lo, hi, gap, ticks, &n, max);
			logit_try(1 - 5 * p, lo, hi, gap, ticks, &n, max);
		}
	}
	logit_try(0.3, lo, hi, gap, ticks, &n, max);
	logit_try(0.7, lo, hi, gap, ticks, &n, max);
	if (n == 0 && max >= 2) {
		ticks[n++] = lo;
		ticks[n++] = hi;
	}
	qsort(ticks, (size_t)n, sizeof(*ticks), cmp_double);
	return n;
}

/* Domain of an axis: fixed, or derived from [lo, hi] of the data with nice ticks. */
static int axis_domain(const struct fl_svg_axis *ax, double lo, double hi, int target, double *d0,
                       double *d1, double *ticks, double *step)
{
	int fixed = isfinite(ax->min) && isfinite(ax->max) && ax->min < ax->max;

	if (ax->fmt == FL_SVG_LOGIT) {
		double pad;

		if (fixed) {
			lo = ax->min;
			hi = ax->max;
		}
		if (!isfinite(lo) || !isfinite(hi)) {
			lo = -5; /* about 0.7 % to 50 % */
			hi = 0;
		}
		pad = hi > lo ? (hi - lo) * 0.03 : 0.5;
		*d0 = fixed ? lo : lo - pad;
		*d1 = fixed ? hi : hi + pad;
		*step = 0;
		return logit_ticks(*d0, *d1, target, ticks, MAX_TICKS);
	}
	if (fixed) {
		lo = ax->min;
		hi = ax->max;
	} else if (ax->zero && isfinite(lo) && isfinite(hi)) {
		lo = fmin(lo, 0);
		hi = fmax(hi, 0);
	}
	*d0 = lo;
	*d1 = hi;
	return fl_svg_ticks(d0, d1, target, !fixed, ticks, MAX_TICKS, step);
}

/* Longest tick label, for the y margin. */
static size_t tick_label_chars(const double *t, int n, double step, enum fl_svg_fmt fmt)
{
	char s[64];
	size_t m = 1;

	for (int i = 0; i < n; i++) {
		fl_svg_format(s, sizeof(s), t[i], step, fmt);
		if (text_chars(s) > m)
			m = text_chars(s);
	}
	return m;
}

/* The plot area and its axes. */
struct frame {
	double x0, x1, y0, y1; /* plot area: x0 < x1 left to right, y0 < y1 top to bottom */
	struct scale sx, sy;
};

static void draw_y_axis(struct fl_svg_buf *b, const struct frame *f, const struct fl_svg_axis *ax,
                        const double *t, int nt, double step, double w, double h)
{
	char s[64];

	(void)w;
	for (int i = 0; i < nt; i++) {
		double y = map(&f->sy, t[i]);

		line(b, f->x0, y, f->x1, y, GRID, 1, 0);
		fl_svg_format(s, sizeof(s), t[i], step, ax->fmt);
		text_at(b, f->x0 - 6, y + 4, "end", 12, INK_SOFT, s, 16);
	}
	line(b, f->x0, f->y0, f->x0, f->y1, AXIS, 1, 0);
	if (ax->label != NULL) {
		double cy = (f->y0 + f->y1) / 2;
		size_t max = (size_t)((f->y1 - f->y0) / (13 * GLYPH));

		put_str(b, "<text transform=\"translate(15 ");
		coord(b, cy);
		put_str(b,
		        ") rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" fill=\"" INK_SOFT
		        "\">");
		fl_svg_buf_escape_max(b, ax->label, max);
		put_str(b, "</text>");
	}
	(void)h;
}

static void draw_x_label(struct fl_svg_buf *b, const struct frame *f, const struct fl_svg_axis *ax,
                         double h)
{
	if (ax->label != NULL)
		text_at(b, (f->x0 + f->x1) / 2, h - 10, "middle", 13, INK_SOFT, ax->label,
		        (size_t)((f->x1 - f->x0) / (13 * GLYPH)));
}

static void draw_marks(struct fl_svg_buf *b, const struct frame *f, const struct fl_svg_chart *c)
{
	for (size_t i = 0; i < c->n_marks; i++) {
		const struct fl_svg_mark *m = &c->marks[i];
		double x, y, tw;
		int left;

		if (!isfinite(m->x) || !isfinite(m->y))
			continue;
		x = map(&f->sx, m->x);
		y = map(&f->sy, m->y);
		put_str(b, "<circle cx=\"");
		coord(b, x);
		put_str(b, "\" cy=\"");
		coord(b, y);
		put_str(b, "\" r=\"4.5\" fill=\"#fff\" stroke=\"" INK "\" stroke-width=\"2\"/>");
		if (m->text == NULL)
			continue;
		tw = (double)text_chars(m->text) * 12 * GLYPH;
		left = x + 10 + tw > f->x1;
		/* Below-right of the dot: curves in these charts rise to the upper left. */
		/* A white halo keeps the text legible where it crosses a line. */
		put_str(b, "<g stroke=\"#fff\" stroke-width=\"4\" paint-order=\"stroke\" "
		           "font-weight=\"600\">");
		text_at(b, left ? x - 10 : x + 10, y + 18 > f->y1 - 4 ? y - 10 : y + 18,
		        left ? "end" : "start", 12, INK, m->text, 60);
		put_str(b, "</g>");
	}
}

/* ---- line chart ---- */

static void series_path(struct fl_svg_buf *b, const struct frame *f, const struct fl_svg_series *s,
                        int fill)
{
	size_t i = 0;

	while (i < s->n) {
		size_t start, end;
		int step = (s->style & FL_SVG_STEP) != 0;

		while (i < s->n && !(isfinite(s->x[i]) && isfinite(s->y[i])))
			i++;
		if (i >= s->n)
			break;
		start = i;
		while (i < s->n && isfinite(s->x[i]) && isfinite(s->y[i]))
			i++;
		end = i; /* [start, end) finite */
		if (step && end - start < 2)
			continue;
		put_str(b, "<path d=\"M");
		if (fill) {
			coord(b, map(&f->sx, s->x[start]));
			put_str(b, " ");
			coord(b, map(&f->sy, 0));
			put_str(b, " L");
		}
		for (size_t k = start; k < end; k++) {
			double x = map(&f->sx, s->x[k]), y;

			if (step) {
				/* The last point closes the previous step at its x. */
				y = map(&f->sy, s->y[k < end - 1 ? k : k - 1]);
				if (k > start) {
					put_str(b, " L");
					coord(b, x);
					put_str(b, " ");
					coord(b, map(&f->sy, s->y[k - 1]));
				}
			} else {
				y = map(&f->sy, s->y[k]);
			}
			put_str(b, k == start ? "" : " L");
			coord(b, x);
			put_str(b, " ");
			coord(b, y);
		}
		if (fill) {
			put_str(b, " L");
			coord(b, map(&f->sx, s->x[end - 1]));
			put_str(b, " ");
			coord(b, map(&f->sy, 0));
			put_str(b, " Z\"");
			attr(b, "fill", s->color);
			put_str(b, " fill-opacity=\"0.16\" stroke=\"none\"/>");
		} else {
			put_str(b, "\" fill=\"none\"");
			attr(b, "stroke", s->color);
			fl_svg_buf_printf(b, " stroke-width=\"2.5\" stroke-linejoin=\"round\"%s/>",
			                  s->style & FL_SVG_DASHED ? " stroke-dasharray=\"6 4\""
			                                           : "");
		}
		if (!fill && (s->style & FL_SVG_MARKERS))
			for (size_t k = start; k < end; k++) {
				put_str(b, "<circle cx=\"");
				coord(b, map(&f->sx, s->x[k]));
				put_str(b, "\" cy=\"");
				coord(b, map(&f->sy, s->y[k]));
				put_str(b, "\" r=\"2.5\"");
				attr(b, "fill", s->color);
				put_str(b, "/>");
			}
	}
}

int fl_svg_line_chart(struct fl_svg_buf *b, const struct fl_svg_chart *c,
                      const struct fl_svg_series *s, size_t ns)
{
	double w = c->width > 0 ? c->width : 480, h = c->height > 0 ? c->height : 320;
	double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
	double xt[MAX_TICKS], yt[MAX_TICKS], xstep, ystep, top;
	struct legend_item *items = NULL;
	struct frame f;
	int nxt, nyt, rows, any_fill = 0;
	size_t points = 0;

	if (ns > 0 && (items = calloc(ns, sizeof(*items))) == NULL)
		return b->err ? b->err : (b->err = FL_ERR_NOMEM);
	for (size_t k = 0; k < ns; k++) {
		items[k] = (struct legend_item){s[k].name, s[k].color,
		                                (s[k].style & FL_SVG_DASHED) != 0, 0};
		any_fill |= (s[k].style & FL_SVG_FILL) != 0;
		for (size_t i = 0; i < s[k].n; i++) {
			if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i]))
				continue;
			points++;
			xlo = fmin(xlo, s[k].x[i]);
			xhi = fmax(xhi, s[k].x[i]);
			ylo = fmin(ylo, s[k].y[i]);
			yhi = fmax(yhi, s[k].y[i]);
		}
	}
	for (size_t i = 0; i < c->n_marks; i++) {
		if (!isfinite(c->marks[i].x) || !isfinite(c->marks[i].y))
			continue;
		xlo = fmin(xlo, c->marks[i].x);
		xhi = fmax(xhi, c->marks[i].x);
		ylo = fmin(ylo, c->marks[i].y);
		yhi = fmax(yhi, c->marks[i].y);
	}
	if (any_fill && isfinite(ylo)) {
		/* Shading runs to y = 0, which must be on the chart. */
		ylo = fmin(ylo, 0);
		yhi = fmax(yhi, 0);
	}
	nxt = axis_domain(&c->x, xlo, xhi, (int)(w / 80), &f.sx.d0, &f.sx.d1, xt, &xstep);
	nyt = axis_domain(&c->y, ylo, yhi, (int)(h / 60), &f.sy.d0, &f.sy.d1, yt, &ystep);

	rows = legend_rows(12, w - 12, items, ns);
	top = (c->title != NULL ? 34 : 12) + rows * 18 + (rows > 0 ? 8 : 0);
	f.x0 = 12 + (c->y.label != NULL ? 18 : 0) +
	       (double)tick_label_chars(yt, nyt, ystep, c->y.fmt) * 12 * GLYPH + 8;
	f.x1 = w - 18;
	f.y0 = top + 6;
	f.y1 = h - (c->x.label != NULL ? 46 : 28);
	f.sx.p0 = f.x0;
	f.sx.p1 = f.x1;
	f.sy.p0 = f.y1;
	f.sy.p1 = f.y0;

	open_svg(b, w, h, c->title);
	if (rows > 0)
		legend(b, 12, (c->title != NULL ? 34 : 12) + 12, w - 12, items, ns);
	draw_y_axis(b, &f, &c->y, yt, nyt, ystep, w, h);
	for (int i = 0; i < nxt; i++) {
		char t[64];
		double x = map(&f.sx, xt[i]);

		line(b, x, f.y1, x, f.y1 + 4, AXIS, 1, 0);
		fl_svg_format(t, sizeof(t), xt[i], xstep, c->x.fmt);
		text_at(b, x, f.y1 + 18, "middle", 12, INK_SOFT, t, 16);
	}
	line(b, f.x0, f.y1, f.x1, f.y1, AXIS, 1, 0);
	draw_x_label(b, &f, &c->x, h);
	for (size_t k = 0; k < ns; k++)
		if (s[k].style & FL_SVG_FILL)
			series_path(b, &f, &s[k], 1);
	for (size_t k = 0; k < ns; k++)
		series_path(b, &f, &s[k], 0);
	if (points == 0)
		text_at(b, (f.x0 + f.x1) / 2, (f.y0 + f.y1) / 2, "middle", 14, INK_SOFT, "no data",
		        20);
	draw_marks(b, &f, c);
	put_str(b, "</svg>\n");
	free(items);
	return b->err;
}

/* ---- vertical bars ---- */

int fl_svg_bar_chart(struct fl_svg_buf *b, const struct fl_svg_chart *c, const char *const *cats,
                     size_t ncat, const struct fl_svg_bars *s, size_t ns, double ref,
                     const char *ref_label)
{
	double w = c->width > 0 ? c->width : 480, h = c->height > 0 ? c->height : 320;
	double lo = INFINITY, hi = -INFINITY, yt[MAX_TICKS], ystep, top, band, inner, bw;
	struct legend_item *items = NULL;
	struct frame f;
	int nyt, rows, any_labels = 0;
	size_t bars = 0;

	if (ns > 0 && (items = calloc(ns, sizeof(*items))) == NULL)
		return b->err ? b->err : (b->err = FL_ERR_NOMEM);
	for (size_t k = 0; k < ns; k++) {
		items[k] = (struct legend_item){s[k].name, s[k].color, 0, 1};
		any_labels |= s[k].value_labels;
		for (size_t i = 0; i < ncat; i++) {
			if (!isfinite(s[k].v[i]))
				continue;
			bars++;
			lo = fmin(lo, s[k].v[i]);
			hi = fmax(hi, s[k].v[i]);
		}
	}
	if (isfinite(ref)) {
		lo = fmin(lo, ref);
		hi = fmax(hi, ref);
	}
	/* Bars grow from zero. */
	if (isfinite(lo)) {
		lo = fmin(lo, 0);
		hi = fmax(hi, 0);
		/* Headroom for the value labels above the tallest bar. */
		if (any_labels && hi > 0)
			hi += (hi - lo) * 0.08;
		/* All zero: show 0..1 rather than a range centred on 0. */
		if (lo == 0 && hi == 0)
			hi = 1;
	}
	nyt = axis_domain(&c->y, lo, hi, (int)(h / 60), &f.sy.d0, &f.sy.d1, yt, &ystep);

	rows = legend_rows(12, w - 12, items, ns);
	top = (c->title != NULL ? 34 : 12) + rows * 18 + (rows > 0 ? 8 : 0);
	f.x0 = 12 + (c->y.label != NULL ? 18 : 0) +
	       (double)tick_label_chars(yt, nyt, ystep, c->y.fmt) * 12 * GLYPH + 8;
	f.x1 = w - 18;
	f.y0 = top + 6;
	f.y1 = h - (c->x.label != NULL ? 46 : 28);
	f.sy.p0 = f.y1;
	f.sy.p1 = f.y0;
	f.sx = (struct scale){0, 1, f.x0, f.x1};

	open_svg(b, w, h, c->title);
	if (rows > 0)
		legend(b, 12, (c->title != NULL ? 34 : 12) + 12, w - 12, items, ns);
	draw_y_axis(b, &f, &c->y, yt, nyt, ystep, w, h);
	band = ncat > 0 ? (f.x1 - f.x0) / (double)ncat : 0;
	inner = band * 0.78;
	bw = ns > 0 ? inner / (double)ns : 0;
	for (size_t i = 0; i < ncat; i++) {
		double bx = f.x0 + band * (double)i + (band - inner) / 2;

		for (size_t k = 0; k < ns; k++) {
			double v = s[k].v[i], y0, y1;

			if (!isfinite(v))
				continue;
			y0 = map(&f.sy, 0);
			y1 = map(&f.sy, v);
			put_str(b, "<rect x=\"");
			coord(b, bx + bw * (double)k + 0.5);
			put_str(b, "\" y=\"");
			coord(b, fmin(y0, y1));
			put_str(b, "\" width=\"");
			coord(b, fmax(bw - 1, 0.5));
			put_str(b, "\" height=\"");
			coord(b, fabs(y1 - y0));
			put_str(b, "\" rx=\"1.5\"");
			attr(b, "fill", s[k].color);
			put_str(b, "/>");
			if (s[k].value_labels) {
				char t[64];
				int size = bw >= 30 ? 11 : 10;

				fl_svg_format(t, sizeof(t), v, 0, c->y.fmt);
				/* Rotated when the bar is too narrow for the text. */
				if (text_chars(t) * size * GLYPH > bw + 6) {
					put_str(b, "<text transform=\"translate(");
					coord(b, bx + bw * ((double)k + 0.5) + 3.5);
					put_str(b, " ");
					coord(b, fmin(y0, y1) - 4);
					fl_svg_buf_printf(
					        b,
					        ") rotate(-90)\" font-size=\"%d\" fill=\"" INK
					        "\">",
					        size);
					fl_svg_buf_escape(b, t);
					put_str(b, "</text>");
				} else {
					text_at(b, bx + bw * ((double)k + 0.5),
					        v >= 0 ? y1 - 4 : y1 + 12, "middle", size, INK, t,
					        16);
				}
			}
		}
		text_at(b, f.x0 + band * ((double)i + 0.5), f.y1 + 18, "middle", 12, INK_SOFT,
		        cats != NULL ? cats[i] : NULL,
		        band >= 14 ? (size_t)(band / (12 * GLYPH)) : 1);
	}
	line(b, f.x0, map(&f.sy, 0), f.x1, map(&f.sy, 0), AXIS, 1, 0);
	if (isfinite(ref)) {
		double y = map(&f.sy, ref);

		line(b, f.x0, y, f.x1, y, INK, 1.5, 1);
		if (ref_label != NULL)
			text_at(b, f.x1 - 2, y - 5, "end", 12, INK, ref_label, 30);
	}
	draw_x_label(b, &f, &c->x, h);
	if (bars == 0)
		text_at(b, (f.x0 + f.x1) / 2, (f.y0 + f.y1) / 2, "middle", 14, INK_SOFT, "no data",
		        20);
	put_str(b, "</svg>\n");
	free(items);
	return b->err;
}

/* ---- horizontal bars ---- */

#define HBAR_ROW 24
#define HBAR_LABEL_CHARS 38

int fl_svg_hbar_chart(struct fl_svg_buf *b, const struct fl_svg_chart *c, const char *const *labels,
                      const double *v, size_t n, const char *pos_color, const char *neg_color)
{
	double w = c->width > 0 ? c->width : 720, top = c->title != NULL ? 40 : 14;
	double h = c->height > 0 ? c->height : top + (double)(n > 0 ? n : 1) * HBAR_ROW + 52;
	double lo = 0, hi = 0, xt[MAX_TICKS], xstep, span, row;
	size_t label_chars = 4;
	struct frame f;
	int nxt;

	for (size_t i = 0; i < n; i++) {
		size_t ch = text_chars(labels[i]);

		if (isfinite(v[i])) {
			lo = fmin(lo, v[i]);
			hi = fmax(hi, v[i]);
		}
		if (ch > label_chars)
			label_chars = ch;
	}
	if (label_chars > HBAR_LABEL_CHARS)
		label_chars = HBAR_LABEL_CHARS;
	/* Room beyond the bar ends for their values. */
	span = hi - lo;
	if (span > 0) {
		if (hi > 0)
			hi += span * 0.12;
		if (lo < 0)
			lo -= span * 0.12;
	}
	f.x0 = 12 + (double)label_chars * 12 * GLYPH + 10;
	if (f.x0 > w * 0.45)
		f.x0 = w * 0.45;
	f.x1 = w - 18;
	f.y0 = top;
	f.y1 = h - 46;
	row = n > 0 ? (f.y1 - f.y0) / (double)n : 0;
	nxt = axis_domain(&c->x, lo, hi, (int)((f.x1 - f.x0) / 90), &f.sx.d0, &f.sx.d1, xt, &xstep);
	f.sx.p0 = f.x0;
	f.sx.p1 = f.x1;

	open_svg(b, w, h, c->title);
	for (int i = 0; i < nxt; i++) {
		char t[64];
		double x = map(&f.sx, xt[i]);

		line(b, x, f.y0, x, f.y1, GRID, 1, 0);
		fl_svg_format(t, sizeof(t), xt[i], xstep, c->x.fmt);
		text_at(b, x, f.y1 + 18, "middle", 12, INK_SOFT, t, 16);
	}
	draw_x_label(b, &f, &c->x, h);
	for (size_t i = 0; i < n; i++) {
		double y = f.y0 + row * (double)i, x0 = map(&f.sx, 0), x1, bh = fmin(row * 0.7, 18);
		char t[64];

		text_at(b, f.x0 - 8, y + row / 2 + 4, "end", 12, INK, labels[i], HBAR_LABEL_CHARS);
		if (!isfinite(v[i]))
			continue;
		x1 = map(&f.sx, v[i]);
		put_str(b, "<rect x=\"");
		coord(b, fmin(x0, x1));
		put_str(b, "\" y=\"");
		coord(b, y + (row - bh) / 2);
		put_str(b, "\" width=\"");
		coord(b, fabs(x1 - x0));
		put_str(b, "\" height=\"");
		coord(b, bh);
		put_str(b, "\" rx=\"1.5\"");
		attr(b, "fill", v[i] >= 0 ? pos_color : neg_color);
		put_str(b, "/>");
		fl_svg_format(t + 1, sizeof(t) - 1, v[i], 0, c->x.fmt);
		t[0] = '+';
		text_at(b, v[i] >= 0 ? x1 + 5 : x1 - 5, y + row / 2 + 4,
		        v[i] >= 0 ? "start" : "end", 11, INK_SOFT, v[i] > 0 ? t : t + 1, 16);
	}
	line(b, map(&f.sx, 0), f.y0, map(&f.sx, 0), f.y1, AXIS, 1.2, 0);
	if (n == 0)
		text_at(b, (f.x0 + f.x1) / 2, (f.y0 + f.y1) / 2 + 4, "middle", 14, INK_SOFT,
		        "no data", 20);
	put_str(b, "</svg>\n");
	return b->err;
}
