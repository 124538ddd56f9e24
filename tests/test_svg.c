/*
 * Tests for src/svg.c: escaping of hostile text, nice ticks worked out by
 * hand, label formats, and charts of degenerate data (one value, no data,
 * NaN) that must still be valid SVG with no "nan" or "inf" in them.
 */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "fedlead/error.h"
#include "fedlead/svg.h"

#define FFFD "\xef\xbf\xbd"

/* The buffer's text after escaping s (with at most max characters). */
static char *escaped(const char *s, size_t max)
{
	struct fl_svg_buf b = {0};
	char *out;
	size_t len;

	assert_int_equal(fl_svg_buf_escape_max(&b, s, max), 0);
	assert_int_equal(fl_svg_buf_take(&b, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	return out;
}

static void test_escape_hostile_markup(void **state)
{
	char *s;

	(void)state;
	s = escaped("<script>alert('x')</script> & \"q\"", SIZE_MAX);
	assert_string_equal(s,
	                    "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
	free(s);
	/* Already-escaped text is escaped again: the reader sees what was there. */
	s = escaped("&lt;", SIZE_MAX);
	assert_string_equal(s, "&amp;lt;");
	free(s);
}

static void test_escape_bad_utf8_and_controls(void **state)
{
	char *s;

	(void)state;
	/* Control characters other than tab and newline, a stray 0xff and DEL are
	 * replaced; valid UTF-8 (é, €, 😀) passes through. */
	s = escaped("a\x01"
	            "b\xff"
	            "c\x7f"
	            "d\t\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	            SIZE_MAX);
	assert_string_equal(s,
	                    "a" FFFD "b" FFFD "c" FFFD "d\t\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	free(s);
	/* Overlong '/' (C0 AF): two replacements; a UTF-16 surrogate (ED A0 80):
	 * three; a sequence cut short at the end: one per byte. */
	s = escaped("\xc0\xaf|\xed\xa0\x80|\xe2\x82", SIZE_MAX);
	assert_string_equal(s, FFFD FFFD "|" FFFD FFFD FFFD "|" FFFD FFFD);
	free(s);
}

static void test_escape_max_counts_characters(void **state)
{
	char *s;

	(void)state;
	s = escaped("abcdef", 3);
	assert_string_equal(s, "abc\xe2\x80\xa6");
	free(s);
	s = escaped("abc", 3); /* fits: no ellipsis */
	assert_string_equal(s, "abc");
	free(s);
	/* Characters, not bytes: "é" is two bytes and one character. */
	s = escaped("\xc3\xa9\xc3\xa9\xc3\xa9", 2);
	assert_string_equal(s, "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
	free(s);
	/* An entity counts as the one character it stands for. */
	s = escaped("<<<<", 2);
	assert_string_equal(s, "&lt;&lt;\xe2\x80\xa6");
	free(s);
}

static void test_buffer_limit_is_sticky(void **state)
{
	struct fl_svg_buf b = {0};
	char small[1] = {'x'}, *out = (char *)1;
	size_t len = 7;

	(void)state;
	assert_int_equal(fl_svg_buf_put(&b, "ok", 2), 0);
	/* The size is checked before anything is read or allocated. */
	assert_int_equal(fl_svg_buf_put(&b, small, (size_t)FL_SVG_MAX_BYTES), FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "the document would be larger than 64 MiB");
	assert_int_equal(fl_svg_buf_printf(&b, "%d", 1), FL_ERR_LIMIT);
	assert_int_equal(fl_svg_buf_escape(&b, "y"), FL_ERR_LIMIT);
	assert_int_equal(fl_svg_buf_take(&b, &out, &len), FL_ERR_LIMIT);
	assert_null(out);
	assert_int_equal(len, 0);
	assert_null(b.data);
	fl_svg_buf_free(&b);
	fl_svg_buf_free(NULL);
}

static void assert_ticks(double lo, double hi, int target, int expand, double want_lo,
                         double want_hi, const double *want, int nwant)
{
	double t[32], step;
	int n = fl_svg_ticks(&lo, &hi, target, expand, t, 32, &step);

	assert_int_equal(n, nwant);
	assert_true(fabs(lo - want_lo) < 1e-12);
	assert_true(fabs(hi - want_hi) < 1e-12);
	for (int i = 0; i < n; i++) {
		if (fabs(t[i] - want[i]) > 1e-12)
			fail_msg("tick %d = %.17g, want %.17g", i, t[i], want[i]);
	}
}

static void test_ticks_by_hand(void **state)
{
	(void)state;
	/* 1/5 = 0.2, a nice step already. */
	assert_ticks(0, 1, 5, 1, 0, 1, (double[]){0, 0.2, 0.4, 0.6, 0.8, 1}, 6);
	/* span 0.74 / 5 = 0.148 -> 0.2; the range grows to [0, 1]. */
	assert_ticks(0.13, 0.87, 5, 1, 0, 1, (double[]){0, 0.2, 0.4, 0.6, 0.8, 1}, 6);
	/* Fixed (not expanded): [0.13, 0.87] keeps its ends, ticks inside. */
	assert_ticks(0.13, 0.87, 5, 0, 0.13, 0.87, (double[]){0.2, 0.4, 0.6, 0.8}, 4);
	/* 0..1234 / 4 = 308.5 -> 500: [0, 1500]. */
	assert_ticks(0, 1234, 4, 1, 0, 1500, (double[]){0, 500, 1000, 1500}, 4);
	/* 2.5 steps: 0..10 / 4 = 2.5. */
	assert_ticks(0, 10, 4, 1, 0, 10, (double[]){0, 2.5, 5, 7.5, 10}, 5);
	/* Reversed bounds are put in order; negative ranges work: 4 / 4 = 1. */
	assert_ticks(-3, -7, 4, 1, -7, -3, (double[]){-7, -6, -5, -4, -3}, 5);
}

static void test_ticks_degenerate(void **state)
{
	(void)state;
	/* Equal bounds 0.3: widened by 10 % to [0.27, 0.33]; 0.06 / 5 = 0.012
	 * -> 0.02; expanded to [0.26, 0.34]. */
	assert_ticks(0.3, 0.3, 5, 1, 0.26, 0.34, (double[]){0.26, 0.28, 0.30, 0.32, 0.34}, 5);
	/* Equal bounds 0: [-1, 1]; 2 / 5 = 0.4 -> 0.5. */
	assert_ticks(0, 0, 5, 1, -1, 1, (double[]){-1, -0.5, 0, 0.5, 1}, 5);
	/* Nothing finite: [0, 1]. */
	assert_ticks(NAN, INFINITY, 5, 1, 0, 1, (double[]){0, 0.2, 0.4, 0.6, 0.8, 1}, 6);
	/* One finite bound: as if both were equal to it. */
	assert_ticks(NAN, 0, 5, 1, -1, 1, (double[]){-1, -0.5, 0, 0.5, 1}, 5);
}

static void test_format(void **state)
{
	char s[64];

	(void)state;
	fl_svg_format(s, sizeof(s), 12345, 1, FL_SVG_INT);
	assert_string_equal(s, "12,345");
	fl_svg_format(s, sizeof(s), 1234567, 1, FL_SVG_INT);
	assert_string_equal(s, "1,234,567");
	fl_svg_format(s, sizeof(s), -999, 1, FL_SVG_INT);
	assert_string_equal(s, "-999");
	fl_svg_format(s, sizeof(s), 0.25, 0.05, FL_SVG_PCT);
	assert_string_equal(s, "25%");
	fl_svg_format(s, sizeof(s), 0.125, 0.025, FL_SVG_PCT);
	assert_string_equal(s, "12.5%");
	fl_svg_format(s, sizeof(s), 0.75, 0.25, FL_SVG_NUM);
	assert_string_equal(s, "0.75");
	fl_svg_format(s, sizeof(s), 2.5, 0.5, FL_SVG_TIMES);
	assert_string_equal(s, "2.5\xc3\x97");
	/* Log-odds shown as probabilities: logit(0.1), logit(0.001), 0 = 50 %, logit(0.998). */
	fl_svg_format(s, sizeof(s), log(0.1 / 0.9), 0, FL_SVG_LOGIT);
	assert_string_equal(s, "10%");
	fl_svg_format(s, sizeof(s), log(0.001 / 0.999), 0, FL_SVG_LOGIT);
	assert_string_equal(s, "0.1%");
	fl_svg_format(s, sizeof(s), 0, 0, FL_SVG_LOGIT);
	assert_string_equal(s, "50%");
	fl_svg_format(s, sizeof(s), log(0.998 / 0.002), 0, FL_SVG_LOGIT);
	assert_string_equal(s, "99.8%");
	/* Never "nan" or "inf". */
	fl_svg_format(s, sizeof(s), NAN, 0.1, FL_SVG_NUM);
	assert_string_equal(s, "\xe2\x80\x93");
	fl_svg_format(s, sizeof(s), INFINITY, 0.1, FL_SVG_PCT);
	assert_string_equal(s, "\xe2\x80\x93");
}

/* True when word occurs (any case) with no letter on either side. */
static int has_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = s; *p; p++) {
		if (strncasecmp(p, word, n) != 0)
			continue;
		if ((p == s || !isalpha((unsigned char)p[-1])) && !isalpha((unsigned char)p[n]))
			return 1;
	}
	return 0;
}

/* A well-formed chart: one <svg> ... </svg>, no NaN or infinity anywhere. */
static void assert_clean_svg(const char *svg)
{
	assert_non_null(svg);
	assert_true(strncmp(svg, "<svg ", 5) == 0);
	assert_non_null(strstr(svg, "</svg>\n"));
	assert_null(strstr(svg + 5, "<svg "));
	if (has_word(svg, "nan") || has_word(svg, "inf") || has_word(svg, "infinity"))
		fail_msg("non-finite number in: %s", svg);
}

static char *take(struct fl_svg_buf *b)
{
	char *out;
	size_t len;

	assert_int_equal(fl_svg_buf_take(b, &out, &len), 0);
	return out;
}

static void test_line_chart_degenerate(void **state)
{
	/* Every point the same; a series of only NaN; an empty series. */
	double x[4] = {0.5, 0.5, 0.5, 0.5}, y[4] = {2, 2, 2, 2}, nan4[4] = {NAN, NAN, NAN, NAN};
	struct fl_svg_series s[3] = {
	        {"same", x, y, 4, "#0072b2", FL_SVG_MARKERS},
	        {"missing", nan4, nan4, 4, "#e69f00", FL_SVG_FILL},
	        {"empty", x, y, 0, "#000", FL_SVG_STEP},
	};
	struct fl_svg_chart c = {.title = "Degenerate",
	                         .x = {.label = "x", .min = NAN, .max = NAN},
	                         .y = {.label = "y", .min = NAN, .max = NAN, .fmt = FL_SVG_PCT}};
	struct fl_svg_mark mark = {0.5, 2, "here"};
	struct fl_svg_buf b = {0};
	char *svg;

	(void)state;
	c.marks = &mark;
	c.n_marks = 1;
	assert_int_equal(fl_svg_line_chart(&b, &c, s, 3), 0);
	svg = take(&b);
	assert_clean_svg(svg);
	assert_non_null(strstr(svg, "<title>Degenerate</title>"));
	assert_null(strstr(svg, "no data")); /* there is a point */
	free(svg);

	/* Nothing finite at all: the chart says so. */
	assert_int_equal(fl_svg_line_chart(&b, &c, s + 1, 2), 0);
	svg = take(&b);
	assert_clean_svg(svg);
	assert_non_null(strstr(svg, ">no data</text>"));
	free(svg);

	/* A log-odds axis over a single score. */
	c.x.fmt = FL_SVG_LOGIT;
	assert_int_equal(fl_svg_line_chart(&b, &c, s, 1), 0);
	svg = take(&b);
	assert_clean_svg(svg);
	free(svg);
}

static void test_line_chart_breaks_at_nan(void **state)
{
	/* A NaN in the middle splits the line into two paths. */
	double x[5] = {0, 1, 2, 3, 4}, y[5] = {1, 2, NAN, 3, 4};
	struct fl_svg_series s = {"a", x, y, 5, "#123456", 0};
	struct fl_svg_chart c = {.x = {.min = NAN, .max = NAN}, .y = {.min = NAN, .max = NAN}};
	struct fl_svg_buf b = {0};
	char *svg;
	size_t paths = 0;

	(void)state;
	assert_int_equal(fl_svg_line_chart(&b, &c, &s, 1), 0);
	svg = take(&b);
	assert_clean_svg(svg);
	for (const char *p = svg; (p = strstr(p, "<path d=\"M")) != NULL; p++)
		paths++;
	assert_int_equal(paths, 2);
	free(svg);
}

/* Numeric value of attribute name in the element starting at p. */
static double attr_of(const char *p, const char *name)
{
	char key[32];
	const char *end = strchr(p, '>'), *a;

	snprintf(key, sizeof(key), " %s=\"", name);
	a = strstr(p, key);
	assert_non_null(a);
	assert_true(a < end);
	return strtod(a + strlen(key), NULL);
}

/* The k-th <rect> with the given fill (the background rect has fill #fff). */
static const char *nth_rect(const char *svg, const char *fill, int k)
{
	char key[64];
	const char *p = svg;

	snprintf(key, sizeof(key), "fill=\"%s\"", fill);
	while ((p = strstr(p, "<rect ")) != NULL) {
		const char *end = strchr(p, '>');
		const char *f = strstr(p, key);

		if (f != NULL && f < end && k-- == 0)
			return p;
		p++;
	}
	fail_msg("no rect %d with %s", k, key);
	return NULL;
}

static void test_bar_chart_heights_proportional(void **state)
{
	/* Bars grow from zero, so heights are in the ratio of the values 1 : 2 : 4. */
	double v[3] = {1, 2, 4};
	const char *cats[3] = {"a", "b", "c"};
	struct fl_svg_bars s = {NULL, v, "#aa0000", 1}; /* no legend swatch in that colour */
	struct fl_svg_chart c = {.title = "Bars", .y = {.min = NAN, .max = NAN}};
	struct fl_svg_buf b = {0};
	char *svg;
	double h0, h1, h2, y0, y2;

	(void)state;
	assert_int_equal(fl_svg_bar_chart(&b, &c, cats, 3, &s, 1, 1.0, "random"), 0);
	svg = take(&b);
	assert_clean_svg(svg);
	h0 = attr_of(nth_rect(svg, "#aa0000", 0), "height");
	h1 = attr_of(nth_rect(svg, "#aa0000", 1), "height");
	h2 = attr_of(nth_rect(svg, "#aa0000", 2), "height");
	y0 = attr_of(nth_rect(svg, "#aa0000", 0), "y");
	y2 = attr_of(nth_rect(svg, "#aa0000", 2), "y");
	/* Coordinates are written to 0.1: allow that rounding. */
	assert_true(fabs(h1 - 2 * h0) <= 0.2);
	assert_true(fabs(h2 - 4 * h0) <= 0.3);
	/* All stand on the same baseline. */
	assert_true(fabs((y0 + h0) - (y2 + h2)) <= 0.2);
	assert_non_null(strstr(svg, ">random</text>"));
	free(svg);
}

static void test_bar_chart_degenerate(void **state)
{
	double zero[3] = {0, 0, 0}, nan3[3] = {NAN, NAN, NAN};
	const char *cats[3] = {"<script>", "b", "c"};
	struct fl_svg_bars s[2] = {{"zero", zero, "#111111", 1}, {"missing", nan3, "#222222", 1}};
	struct fl_svg_chart c = {.y = {.min = NAN, .max = NAN, .fmt = FL_SVG_TIMES}};
	struct fl_svg_buf b = {0};
	char *svg;

	(void)state;
	assert_int_equal(fl_svg_bar_chart(&b, &c, cats, 3, s, 2, NAN, NULL), 0);
	svg = take(&b);
	assert_clean_svg(svg);
	assert_null(strstr(svg, "<script"));
	assert_non_null(strstr(svg, "&lt;script&gt;"));
	free(svg);
	assert_int_equal(fl_svg_bar_chart(&b, &c, cats, 3, s + 1, 1, NAN, NULL), 0);
	svg = take(&b);
	assert_clean_svg(svg);
	assert_non_null(strstr(svg, ">no data</text>"));
	free(svg);
	/* No categories at all. */
	assert_int_equal(fl_svg_bar_chart(&b, &c, NULL, 0, s, 1, NAN, NULL), 0);
	svg = take(&b);
	assert_clean_svg(svg);
	free(svg);
}

static void test_hbar_zero_line_and_escaping(void **state)
{
	/* +2 and -1 meet at the zero line; the +2 bar is twice as long. */
	double v[2] = {2, -1};
	const char *labels[2] = {"REGION=<script>alert(1)</script>", "AGE"};
	struct fl_svg_chart c = {.title = "Drivers", .x = {.min = NAN, .max = NAN, .zero = 1}};
	struct fl_svg_buf b = {0};
	const char *pos, *neg;
	char *svg;

	(void)state;
	assert_int_equal(fl_svg_hbar_chart(&b, &c, labels, v, 2, "#0000ff", "#ff0000"), 0);
	svg = take(&b);
	assert_clean_svg(svg);
	assert_null(strstr(svg, "<script"));
	assert_non_null(strstr(svg, "REGION=&lt;script&gt;alert(1)&lt;/script&gt;"));
	pos = nth_rect(svg, "#0000ff", 0);
	neg = nth_rect(svg, "#ff0000", 0);
	assert_true(fabs(attr_of(pos, "x") - (attr_of(neg, "x") + attr_of(neg, "width"))) <= 0.2);
	assert_true(fabs(attr_of(pos, "width") - 2 * attr_of(neg, "width")) <= 0.3);
	assert_non_null(strstr(svg, ">+2.000</text>"));
	assert_non_null(strstr(svg, ">-1.000</text>"));
	free(svg);

	/* No bars, or only NaN: still a clean chart. */
	assert_int_equal(fl_svg_hbar_chart(&b, &c, labels, v, 0, "#0000ff", "#ff0000"), 0);
	svg = take(&b);
	assert_clean_svg(svg);
	assert_non_null(strstr(svg, ">no data</text>"));
	free(svg);
	v[0] = v[1] = NAN;
	assert_int_equal(fl_svg_hbar_chart(&b, &c, labels, v, 2, "#0000ff", "#ff0000"), 0);
	svg = take(&b);
	assert_clean_svg(svg);
	free(svg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_escape_hostile_markup),
	        cmocka_unit_test(test_escape_bad_utf8_and_controls),
	        cmocka_unit_test(test_escape_max_counts_characters),
	        cmocka_unit_test(test_buffer_limit_is_sticky),
	        cmocka_unit_test(test_ticks_by_hand),
	        cmocka_unit_test(test_ticks_degenerate),
	        cmocka_unit_test(test_format),
	        cmocka_unit_test(test_line_chart_degenerate),
	        cmocka_unit_test(test_line_chart_breaks_at_nan),
	        cmocka_unit_test(test_bar_chart_heights_proportional),
	        cmocka_unit_test(test_bar_chart_degenerate),
	        cmocka_unit_test(test_hbar_zero_line_and_escaping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
