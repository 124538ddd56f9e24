/*
 * Tests for the average lead's spline basis from the knots round's summed
 * histogram (fl_knots_basis_means() in src/fed/knots.c): hand-made
 * histograms against values worked out here. With the two knots 0 and 1
 * the cubic B-splines are the Bernstein polynomials C(3, j) t^j (1 - t)^(3 - j),
 * and the encoded columns c are L^-1 b with L L' = D'D + eps I (spline.h),
 * so L times the means of c is the mean of the Bernstein polynomials: L is
 * computed here by its own Cholesky factorisation of D'D + eps I.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/knots.h"
#include "fedlead/schema.h"
#include "fedlead/spline.h"

/* A bins feature with knots from data first (its histogram comes first and
 * gets no means), then a spline with knots from data on the clip [0, 1]. */
#define SCHEMA                                                                                     \
	"{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": \"1\", "             \
	"\"negative\": \"0\"}, \"features\": ["                                                    \
	"{\"name\": \"z\", \"type\": \"numeric\", \"clip\": [-1, 1], \"transform\": \"bins\", "    \
	"\"knots\": 3},"                                                                           \
	"{\"name\": \"a\", \"type\": \"numeric\", \"clip\": [0, 1], \"transform\": \"spline\", "   \
	"\"knots\": 2, \"special\": [-1], \"missing\": \"impute\"},"                               \
	"{\"name\": \"u\", \"type\": \"numeric\"}]}"

#define BINS FL_KNOTS_BINS
#define NB 4 /* the spline's basis columns: two knots, cubic */

static struct fl_schema *schema_with_knots(void)
{
	struct fl_schema *s = NULL;
	const double kz[3] = {-1, 0, 1}, ka[2] = {0, 1};

	if (fl_schema_parse(SCHEMA, strlen(SCHEMA), "t.json", &s) != 0)
		fail_msg("parse: %s", fl_errmsg());
	assert_int_equal(fl_schema_set_knots(s, 0, kz, 3), 0);
	assert_int_equal(fl_schema_set_knots(s, 1, ka, 2), 0);
	return s;
}

/* The Bernstein polynomials of degree 3 at t. */
static void bernstein(double t, double *b)
{
	b[0] = (1 - t) * (1 - t) * (1 - t);
	b[1] = 3 * t * (1 - t) * (1 - t);
	b[2] = 3 * t * t * (1 - t);
	b[3] = t * t * t;
}

/* L, lower triangular, with L L' = D'D + eps I (D: second differences of 4). */
static void pspline_factor(double L[NB][NB])
{
	const double d[2][NB] = {{1, -2, 1, 0}, {0, 1, -2, 1}};
	double P[NB][NB] = {{0}};

	for (size_t i = 0; i < NB; i++)
		for (size_t j = 0; j < NB; j++) {
			for (size_t k = 0; k < 2; k++)
				P[i][j] += d[k][i] * d[k][j];
			P[i][j] += i == j ? FL_SPLINE_RIDGE : 0;
		}
	memset(L, 0, sizeof(double) * NB * NB);
	for (size_t j = 0; j < NB; j++) {
		double s = P[j][j];

		for (size_t k = 0; k < j; k++)
			s -= L[j][k] * L[j][k];
		L[j][j] = sqrt(s);
		for (size_t i = j + 1; i < NB; i++) {
			double t = P[i][j];

			for (size_t k = 0; k < j; k++)
				t -= L[i][k] * L[j][k];
			L[i][j] = t / L[j][j];
		}
	}
}

/* The means of the encoded columns, mapped back to the B-splines' (L m),
 * against want, to 1e-12. */
static void assert_bernstein_means(const double *m, const double *want)
{
	double L[NB][NB];

	pspline_factor(L);
	for (size_t i = 0; i < NB; i++) {
		double got = 0;

		for (size_t k = 0; k <= i; k++)
			got += L[i][k] * m[k];
		if (!(fabs(got - want[i]) <= 1e-12))
			fail_msg("B-spline %zu: mean %.17g, want %.17g", i, got, want[i]);
	}
}

/* The midpoint of bin b of the clip [0, 1]. */
static double mid(size_t b)
{
	return ((double)b + 0.5) / BINS;
}

/* All the mass in one bin: the basis at that bin's midpoint. The bins
 * feature's histogram, before it, gets no means whatever it holds. */
static void test_one_bin(void **state)
{
	struct fl_schema *s = schema_with_knots();
	double h[2 * BINS] = {0}, m[NB], want[NB];

	(void)state;
	assert_int_equal(fl_knots_means_len(s), NB);
	assert_true(fl_knots_means_feature(&s->features[1]));
	assert_false(fl_knots_means_feature(&s->features[0]));
	h[3] = 50; /* z's */
	h[BINS + 77] = 7;
	assert_int_equal(fl_knots_basis_means(s, h, m), 0);
	bernstein(mid(77), want);
	assert_bernstein_means(m, want);
	/* And the encoding's own columns at that value (7 c / 7: to a
	 * rounding). */
	{
		double x[NB + 2];

		fl_spline_encode(&s->features[1], mid(77), 0, x);
		for (size_t j = 0; j < NB; j++)
			assert_true(fabs(m[j] - x[j]) <= 1e-15 * fabs(x[j]));
	}
	fl_schema_free(s);
}

/* Two bins, 3 leads and 1: the weighted mean of the basis at their
 * midpoints. */
static void test_two_bins(void **state)
{
	struct fl_schema *s = schema_with_knots();
	double h[2 * BINS] = {0}, m[NB], want[NB], b0[NB], b1[NB];

	(void)state;
	h[BINS + 0] = 3;
	h[BINS + 255] = 1;
	assert_int_equal(fl_knots_basis_means(s, h, m), 0);
	bernstein(mid(0), b0);
	bernstein(mid(255), b1);
	for (size_t j = 0; j < NB; j++)
		want[j] = (3 * b0[j] + b1[j]) / 4;
	assert_bernstein_means(m, want);
	fl_schema_free(s);
}

/*
 * Noise: counts below 0 are taken as they are (so that the sums stay
 * unbiased), (10 b(m_64) + 6 b(m_128) - 2 b(m_192)) / 14, as long as the
 * counts add up to more than 0; otherwise the negative ones count as 0.
 */
static void test_negative_counts(void **state)
{
	struct fl_schema *s = schema_with_knots();
	double h[2 * BINS] = {0}, m[NB], want[NB], b[3][NB];

	(void)state;
	h[BINS + 64] = 10;
	h[BINS + 128] = 6;
	h[BINS + 192] = -2;
	assert_int_equal(fl_knots_basis_means(s, h, m), 0);
	bernstein(mid(64), b[0]);
	bernstein(mid(128), b[1]);
	bernstein(mid(192), b[2]);
	for (size_t j = 0; j < NB; j++)
		want[j] = (10 * b[0][j] + 6 * b[1][j] - 2 * b[2][j]) / 14;
	assert_bernstein_means(m, want);

	memset(h, 0, sizeof(h));
	h[BINS + 10] = 4;
	h[BINS + 100] = -9;
	assert_int_equal(fl_knots_basis_means(s, h, m), 0);
	bernstein(mid(10), want);
	assert_bernstein_means(m, want);
	fl_schema_free(s);
}

/* A histogram without a positive count: refused, naming the feature. */
static void test_empty(void **state)
{
	struct fl_schema *s = schema_with_knots();
	double h[2 * BINS] = {0}, m[NB];

	(void)state;
	h[BINS + 5] = -1;
	assert_int_equal(fl_knots_basis_means(s, h, m), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "feature \"a\": the federation's histogram of its values "
	                                 "is empty, so no average lead can be taken from it");
	fl_schema_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_one_bin),
	        cmocka_unit_test(test_two_bins),
	        cmocka_unit_test(test_negative_counts),
	        cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
