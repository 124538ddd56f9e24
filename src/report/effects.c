/*
 * Effect curves of spline and bins features for the model report: the
 * feature's effect on the log-odds against its value, like a generalized
 * additive model's shape plot, with where the training leads lay shaded
 * underneath (from the model alone, fl_spline_density()).
 */
#include <math.h>
#include <stdio.h>

#include "fedlead/spline.h"
#include "fedlead/svg.h"
#include "page_int.h"

#define C_DENSITY "#c9d3e0"
#define CURVE_POINTS 120

int fl_report_effect_chart(struct fl_svg_buf *b, const struct fl_model *m, size_t i)
{
	const struct fl_feature *f = &m->schema->features[i];
	double x[CURVE_POINTS + 1], y[CURVE_POINTS + 1];
	double dx[FL_SPLINE_MAX_KNOTS + 3], dy[FL_SPLINE_MAX_KNOTS + 3], lo, hi, ylo = 0, yhi = 0,
	                                                                         dmax = 0;
	size_t nd;
	char title[160];
	struct fl_svg_series s[2] = {
	        {"Share of training leads (scaled)", dx, dy, 0, C_DENSITY, FL_SVG_FILL},
	        {"Effect", x, y, CURVE_POINTS + 1, C_MODEL, 0},
	};
	struct fl_svg_chart c = {
	        .title = title,
	        .x = {.label = f->name, .min = NAN, .max = NAN},
	        .y = {.label = "Effect (log-odds)", .min = NAN, .max = NAN, .zero = 1},
	};

	if (!fl_spline_is_block(f) || f->knots == NULL)
		return 0;
	snprintf(title, sizeof(title), "%.100s (%s)", f->name,
	         f->transform == FL_TRANSFORM_SPLINE ? "spline" : "bins");
	lo = f->knots[0];
	hi = f->knots[f->n_knots - 1];
	for (size_t k = 0; k <= CURVE_POINTS; k++) {
		x[k] = lo + (hi - lo) * (double)k / CURVE_POINTS;
		y[k] = fl_spline_effect(m, i, x[k]);
		ylo = fmin(ylo, y[k]);
		yhi = fmax(yhi, y[k]);
	}
	/* The density shares the effect's axis, shaded up from the zero line
	 * (the average lead) to a third of the curve's reach at its peak:
	 * where it is thin, the curve rests on few leads. */
	nd = fl_spline_density(m, i, dx, dy);
	for (size_t k = 0; k < nd; k++)
		dmax = fmax(dmax, dy[k]);
	for (size_t k = 0; k < nd; k++)
		dy[k] = dmax > 0 ? fmax(-ylo, yhi) / 3 * fmax(dy[k], 0) / dmax : 0;
	s[0].n = nd;
	return fl_svg_line_chart(b, &c, s, 2);
}
