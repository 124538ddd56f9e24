/*
 * Feature transforms of numeric features: the schema keys, the B-spline
 * and bin encodings, knots from quantiles and the effect curves.
 */
#include "fedlead/spline.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/logreg.h"
#include "fedlead/model.h"
#include "fedlead/rowset.h"

#include "spline_int.h"

/* Cubic: four B-splines are non-zero at any value. */
#define DEGREE 3
/* Largest |knot| or |special value|, as for a clip range. */
#define MAX_ABS 1e15

static const char *const transform_names[] = {"", "spline", "bins", "log1p"};

int fl_spline_is_block(const struct fl_feature *f)
{
	return f->type == FL_NUMERIC &&
	       (f->transform == FL_TRANSFORM_SPLINE || f->transform == FL_TRANSFORM_BINS);
}

size_t fl_spline_basis_width(const struct fl_feature *f)
{
	if (f->transform == FL_TRANSFORM_SPLINE)
		return f->n_knots + DEGREE - 1;
	if (f->transform == FL_TRANSFORM_BINS)
		return f->n_knots - 1;
	return 0;
}

void fl_transform_free(struct fl_feature *f)
{
	free(f->knots);
	free(f->special);
	free(f->pspline);
	f->knots = f->special = f->pspline = NULL;
}

/* ---- the P-spline transform ---- */

/*
 * L^-1 for L L' = D'D + eps I, D the (n-2) x n second-difference matrix:
 * a ridge on the weights of the columns L^-1 b(v) is the P-spline penalty
 * on the weights of b(v). Row-major, lower triangular, n x n.
 */
static int pspline_matrix(size_t n, double **out)
{
	double *P = calloc(n * n, sizeof(double)), *L = calloc(n * n, sizeof(double)),
	       *Li = calloc(n * n, sizeof(double));
	int r = FL_ERR_NOMEM;

	*out = NULL;
	if (P == NULL || L == NULL || Li == NULL)
		goto out;
	for (size_t k = 0; k + 2 < n; k++) {
		const double d[3] = {1, -2, 1};

		for (size_t a = 0; a < 3; a++)
			for (size_t b = 0; b < 3; b++)
				P[(k + a) * n + k + b] += d[a] * d[b];
	}
	for (size_t i = 0; i < n; i++)
		P[i * n + i] += FL_SPLINE_RIDGE;
	/* Cholesky; P is positive definite (eps > 0), so no pivot vanishes. */
	for (size_t j = 0; j < n; j++) {
		double s = P[j * n + j];

		for (size_t k = 0; k < j; k++)
			s -= L[j * n + k] * L[j * n + k];
		L[j * n + j] = sqrt(s);
		for (size_t i = j + 1; i < n; i++) {
			double t = P[i * n + j];

			for (size_t k = 0; k < j; k++)
				t -= L[i * n + k] * L[j * n + k];
			L[i * n + j] = t / L[j * n + j];
		}
	}
	/* Forward substitution, column by column of the identity. */
	for (size_t c = 0; c < n; c++)
		for (size_t i = c; i < n; i++) {
			double t = i == c ? 1.0 : 0.0;

			for (size_t k = c; k < i; k++)
				t -= L[i * n + k] * Li[k * n + c];
			Li[i * n + c] = t / L[i * n + i];
		}
	*out = Li;
	Li = NULL;
	r = 0;
out:
	free(P);
	free(L);
	free(Li);
	return r;
}

/* ---- schema keys ---- */

static int feature_fail(const char *origin, size_t idx, const char *key, const struct fl_feature *f,
                        const char *what)
{
	return fl_fail(FL_ERR_SCHEMA, "%s: features[%zu].%s (feature \"%.40s\"): %s", origin, idx,
	               key, f->name, what);
}

/* A finite number of at most MAX_ABS, -0 as 0 (one canonical text). */
static int finite_number(json_t *v, double *out)
{
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v) + 0.0;
	return isfinite(*out) && fabs(*out) <= MAX_ABS ? 0 : -1;
}

static int parse_knots(json_t *jk, size_t idx, const char *origin, struct fl_feature *f)
{
	char what[160];
	size_t n;

	snprintf(what, sizeof(what),
	         "must be a count from 2 to %d, or an array of 2 to %d strictly increasing "
	         "numbers",
	         FL_SPLINE_MAX_KNOTS, FL_SPLINE_MAX_KNOTS);
	if (jk == NULL) {
		f->n_knots = FL_SPLINE_DEFAULT_KNOTS;
		return 0;
	}
	if (json_is_integer(jk)) {
		json_int_t k = json_integer_value(jk);

		if (k < 2 || k > FL_SPLINE_MAX_KNOTS)
			return feature_fail(origin, idx, "knots", f, what);
		f->n_knots = (size_t)k;
		return 0;
	}
	if (!json_is_array(jk) || (n = json_array_size(jk)) < 2 || n > FL_SPLINE_MAX_KNOTS)
		return feature_fail(origin, idx, "knots", f, what);
	if ((f->knots = malloc(n * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (finite_number(json_array_get(jk, i), &f->knots[i]) != 0)
			return fl_fail(
			        FL_ERR_SCHEMA,
			        "%s: features[%zu].knots[%zu] (feature \"%.40s\"): must be a "
			        "finite number from -1e15 to 1e15",
			        origin, idx, i, f->name);
		if (i > 0 && !(f->knots[i] > f->knots[i - 1]))
			return fl_fail(FL_ERR_SCHEMA,
			               "%s: features[%zu].knots[%zu] (feature \"%.40s\"): %.17g is "
			               "not above the knot before it (%.17g)",
			               origin, idx, i, f->name, f->knots[i], f->knots[i - 1]);
	}
	f->n_knots = n;
	f->knots_given = 1;
	return 0;
}

static int parse_special(json_t *js, size_t idx, const char *origin, struct fl_feature *f)
{
	char what[96];
	size_t n;

	snprintf(what, sizeof(what), "must be an array of 1 to %d numbers", FL_SPLINE_MAX_SPECIAL);
	if (!json_is_array(js) || (n = json_array_size(js)) == 0 || n > FL_SPLINE_MAX_SPECIAL)
		return feature_fail(origin, idx, "special", f, what);
	if ((f->special = malloc(n * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (finite_number(json_array_get(js, i), &f->special[i]) != 0)
			return fl_fail(
			        FL_ERR_SCHEMA,
			        "%s: features[%zu].special[%zu] (feature \"%.40s\"): must be "
			        "a finite number from -1e15 to 1e15",
			        origin, idx, i, f->name);
		for (size_t k = 0; k < i; k++)
			if (f->special[k] == f->special[i])
				return fl_fail(
				        FL_ERR_SCHEMA,
				        "%s: features[%zu].special (feature \"%.40s\"): %.17g "
				        "is listed twice",
				        origin, idx, f->name, f->special[i]);
	}
	f->n_special = n;
	return 0;
}

static int parse_monotone(json_t *jm, size_t idx, const char *origin, struct fl_feature *f)
{
	const char *mono = json_string_value(jm);

	if (jm == NULL)
		return 0;
	if (mono != NULL && strcmp(mono, "increasing") == 0)
		f->monotone = 1;
	else if (mono != NULL && strcmp(mono, "decreasing") == 0)
		f->monotone = -1;
	else
		return feature_fail(origin, idx, "monotone", f,
		                    "must be \"increasing\" or \"decreasing\"");
	return 0;
}

int fl_transform_parse(json_t *jf, size_t idx, const char *origin, struct fl_feature *f)
{
	json_t *jt = json_object_get(jf, "transform"), *jk = json_object_get(jf, "knots"),
	       *js = json_object_get(jf, "special"), *jm = json_object_get(jf, "monotone");
	const char *t = json_string_value(jt);
	int r;

	/* "monotone" alone on a plain (or log1p) numeric feature is the sign
	 * of its weight. */
	if (jt == NULL) {
		if (jk == NULL && js == NULL)
			return parse_monotone(jm, idx, origin, f);
		return feature_fail(origin, idx, jk != NULL ? "knots" : "special", f,
		                    "needs \"transform\": \"spline\" or \"bins\"");
	}
	if (t != NULL && strcmp(t, "spline") == 0)
		f->transform = FL_TRANSFORM_SPLINE;
	else if (t != NULL && strcmp(t, "bins") == 0)
		f->transform = FL_TRANSFORM_BINS;
	else if (t != NULL && strcmp(t, "log1p") == 0)
		f->transform = FL_TRANSFORM_LOG1P;
	else {
		char what[160];

		snprintf(what, sizeof(what),
		         "unknown transform \"%.40s\" (expected \"spline\", \"bins\" or \"log1p\")",
		         t != NULL ? t : "(not a string)");
		return feature_fail(origin, idx, "transform", f, what);
	}
	if (f->transform == FL_TRANSFORM_LOG1P) {
		if (jk != NULL || js != NULL)
			return feature_fail(origin, idx, jk != NULL ? "knots" : "special", f,
			                    "applies to \"spline\" and \"bins\" only");
		return parse_monotone(jm, idx, origin, f);
	}
	if ((r = parse_knots(jk, idx, origin, f)) != 0 ||
	    (js != NULL && (r = parse_special(js, idx, origin, f)) != 0) ||
	    (r = parse_monotone(jm, idx, origin, f)) != 0)
		return r;
	if (f->transform == FL_TRANSFORM_SPLINE &&
	    (r = pspline_matrix(fl_spline_basis_width(f), &f->pspline)) != 0)
		return r;
	f->enc_width = fl_spline_basis_width(f) + f->n_special + (f->missing == FL_MISSING_IMPUTE);
	return 0;
}

int fl_transform_canonical(json_t *jf, const struct fl_feature *f)
{
	json_t *a;

	if (f->monotone != 0 &&
	    json_object_set_new(jf, "monotone",
	                        json_string(f->monotone > 0 ? "increasing" : "decreasing")) != 0)
		return FL_ERR_NOMEM;
	if (f->transform == FL_TRANSFORM_NONE)
		return 0;
	if (json_object_set_new(jf, "transform", json_string(transform_names[f->transform])) != 0)
		return FL_ERR_NOMEM;
	if (!fl_spline_is_block(f))
		return 0;
	/* Knots placed from data are the model's, not the contract's: only
	 * their count is. Reals with 17 digits, as a clip range. */
	if (!f->knots_given) {
		if (json_object_set_new(jf, "knots", json_integer((json_int_t)f->n_knots)) != 0)
			return FL_ERR_NOMEM;
	} else {
		if ((a = json_array()) == NULL || json_object_set_new(jf, "knots", a) != 0)
			return FL_ERR_NOMEM;
		for (size_t i = 0; i < f->n_knots; i++)
			if (json_array_append_new(a, json_real(f->knots[i])) != 0)
				return FL_ERR_NOMEM;
	}
	/* In the order written: it is the order of their columns. */
	if (f->n_special > 0) {
		if ((a = json_array()) == NULL || json_object_set_new(jf, "special", a) != 0)
			return FL_ERR_NOMEM;
		for (size_t i = 0; i < f->n_special; i++)
			if (json_array_append_new(a, json_real(f->special[i])) != 0)
				return FL_ERR_NOMEM;
	}
	return 0;
}

void fl_transform_column_name(const struct fl_feature *f, size_t k, char *buf, size_t bufsz)
{
	size_t nb = fl_spline_basis_width(f);

	if (k >= nb + f->n_special)
		snprintf(buf, bufsz, "%s (missing)", f->name);
	else if (k >= nb)
		snprintf(buf, bufsz, "%s=%.17g (special)", f->name, f->special[k - nb]);
	else if (f->transform == FL_TRANSFORM_SPLINE)
		snprintf(buf, bufsz, "%s (spline %zu/%zu)", f->name, k + 1, nb);
	else if (f->knots == NULL)
		snprintf(buf, bufsz, "%s (bin %zu/%zu)", f->name, k + 1, nb);
	else
		snprintf(buf, bufsz, "%s (bin %s%.6g, %.6g%s)", f->name, k == 0 ? "(-inf" : "[",
		         k == 0 ? -INFINITY : f->knots[k], k + 1 == nb ? INFINITY : f->knots[k + 1],
		         ")");
}

/* A whole number from 1 to 31. */
static int is_day(double x)
{
	return x >= 1 && x <= 31 && x == floor(x);
}

/*
 * What the schema round's draft (round_k = k > 0) decides from, so that
 * no lead's value alone decides which transform leaves the site (review
 * of the fourth privacy review's fixes, finding 1b: one lead holding 32
 * turned a day of the month's bins into a spline). Of the values of
 * sorted v: *distinct counts the distinct ones held at least k times,
 * and the values held fewer times as if pooled k to a value (a column of
 * n different amounts counts n / k: counting only the values held k
 * times would give a measurement no spline ever); *days counts the days
 * held at least k times, and *other how many values are not days. A lead
 * then moves a count only by being the k-th to hold a value, or the k-th
 * more to hold a rare one: a fact about k leads, or about how many there
 * are, never about one lead's value.
 */
static void held_counts(const double *v, size_t n, uint64_t k, uint64_t *distinct, uint64_t *days,
                        size_t *other)
{
	size_t rare = 0;

	*distinct = *days = 0;
	*other = 0;
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && v[j] == v[i]; j++)
			;
		if (j - i >= k) {
			(*distinct)++;
			*days += is_day(v[i]);
		} else
			rare += j - i;
		if (!is_day(v[i]))
			*other += j - i;
	}
	*distinct += rare / k;
}

/* Whether the sorted sample looks like a day of the month: whole numbers
 * from 1 to 31 and nearly every one of them present. */
static int day_of_month(const double *v, size_t n, uint64_t distinct)
{
	if (n == 0 || distinct < FL_SPLINE_DRAFT_MIN_DAYS || distinct > 31 || v[0] < 1 ||
	    v[n - 1] > 31)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] != floor(v[i]))
			return 0;
	return 1;
}

int fl_transform_draft(json_t *jf, const double *v, size_t n, uint64_t distinct, uint64_t round_k,
                       char *why, size_t whysz)
{
	size_t used = strlen(why), run = 0;
	const char *counted = "";
	json_t *sp;
	int days_like;

	/* The schema round counts the values held at least k times, and up to
	 * k - 1 values other than a day still make a day of the month. */
	if (round_k > 0) {
		uint64_t days;
		size_t other;

		held_counts(v, n, round_k, &distinct, &days, &other);
		days_like = days >= FL_SPLINE_DRAFT_MIN_DAYS && other < round_k;
		counted = round_k > 1 ? ", those held fewer than k times counted k to one" : "";
	} else
		days_like = day_of_month(v, n, distinct);
	/* A day of the month acts through the calendar (paydays, month ends,
	 * when a campaign ran), not along a smooth curve: one bin per day,
	 * written out so every partner cuts at the same places. */
	if (days_like) {
		json_t *k = json_array();

		if (k == NULL || json_object_set_new(jf, "transform", json_string("bins")) != 0 ||
		    json_object_set_new(jf, "knots", k) != 0)
			return FL_ERR_NOMEM;
		for (int d = 0; d <= 31; d++)
			if (json_array_append_new(k, json_real(d + 0.5)) != 0)
				return FL_ERR_NOMEM;
		snprintf(why + used, whysz - used,
		         "; bins, one per day: whole numbers from 1 to 31 (%llu distinct%s), a "
		         "day of the month, whose effect need not be smooth",
		         (unsigned long long)distinct, counted);
		return 0;
	}
	if (distinct < FL_SPLINE_DRAFT_MIN_DISTINCT) {
		snprintf(why + used, whysz - used,
		         "; linear: %llu distinct values%s, fewer than %d",
		         (unsigned long long)distinct, counted, FL_SPLINE_DRAFT_MIN_DISTINCT);
		return 0;
	}
	if (json_object_set_new(jf, "transform", json_string("spline")) != 0 ||
	    json_object_set_new(jf, "knots", json_integer(FL_SPLINE_DEFAULT_KNOTS)) != 0)
		return FL_ERR_NOMEM;
	snprintf(why + used, whysz - used,
	         "; spline, %d knots at the training data's quantiles (%llu distinct values%s)",
	         FL_SPLINE_DEFAULT_KNOTS, (unsigned long long)distinct, counted);
	while (run < n && v[run] == v[0])
		run++;
	if (v[0] < 0 && run < n && v[run] >= 0 && (double)run >= 0.01 * (double)n) {
		if ((sp = json_array()) == NULL || json_object_set_new(jf, "special", sp) != 0 ||
		    json_array_append_new(sp, json_real(v[0])) != 0)
			return FL_ERR_NOMEM;
		used = strlen(why);
		snprintf(why + used, whysz - used,
		         "; %g (%.0f %% of rows, the only negative value) gets its own indicator",
		         v[0], 100.0 * (double)run / (double)n);
	}
	return 0;
}

/* ---- encoding ---- */

/*
 * All cubic B-splines on the clamped knot vector of f at x, which lies in
 * [first knot, last knot]: B[0..nb), and their derivatives dB unless it is
 * NULL (Cox-de Boor recursion; a zero denominator is a zero term). Only
 * the functions that can be non-zero at x are computed (at degree k, those
 * on mu - k .. mu); the recursion over all of them gives the same bits,
 * adding terms that are exactly 0.
 */
static size_t bspline(const struct fl_feature *f, double x, double *B, double *dB)
{
	size_t K = f->n_knots, nb = K + DEGREE - 1, m = nb + DEGREE + 1, mu;
	double t[FL_SPLINE_MAX_KNOTS + 2 * DEGREE], N[FL_SPLINE_MAX_KNOTS + 2 * DEGREE],
	        N2[FL_SPLINE_MAX_KNOTS + 2 * DEGREE];

	for (size_t i = 0; i < m; i++)
		t[i] = i <= DEGREE ? f->knots[0] : i >= nb ? f->knots[K - 1] : f->knots[i - DEGREE];
	/* The interval [t[mu], t[mu+1]) holding x; the last one is closed. */
	for (mu = DEGREE; mu + 1 < nb && !(x < t[mu + 1]); mu++)
		;
	for (size_t i = 0; i + 1 < m; i++)
		N[i] = i == mu;
	for (size_t k = 1; k <= DEGREE; k++) {
		if (k == DEGREE && dB != NULL)
			memcpy(N2, N, (m - 1) * sizeof(double));
		for (size_t i = mu - k; i <= mu; i++) {
			double a = t[i + k] > t[i] ? (x - t[i]) / (t[i + k] - t[i]) : 0,
			       b = t[i + k + 1] > t[i + 1]
			                   ? (t[i + k + 1] - x) / (t[i + k + 1] - t[i + 1])
			                   : 0;

			N[i] = a * N[i] + b * N[i + 1];
		}
	}
	for (size_t i = 0; i < nb; i++)
		B[i] = 0;
	for (size_t i = mu - DEGREE; i <= mu; i++)
		B[i] = N[i];
	if (dB == NULL)
		return mu;
	for (size_t i = 0; i < nb; i++)
		dB[i] = 0;
	for (size_t i = mu - DEGREE; i <= mu; i++) {
		double a = t[i + DEGREE] > t[i] ? N2[i] / (t[i + DEGREE] - t[i]) : 0,
		       b = t[i + DEGREE + 1] > t[i + 1] ? N2[i + 1] / (t[i + DEGREE + 1] - t[i + 1])
		                                        : 0;

		dB[i] = DEGREE * (a - b);
	}
	return mu;
}

/* The B-splines at x, their tangent lines beyond the boundary knots, into
 * B[0..nb); returns the first of the DEGREE + 1 that can be non-zero (the
 * others are exactly 0). */
static size_t basis_at(const struct fl_feature *f, double x, double *B)
{
	size_t K = f->n_knots, nb = fl_spline_basis_width(f), mu;
	double dB[FL_SPLINE_MAX_KNOTS + DEGREE];
	double lo = f->knots[0], hi = f->knots[K - 1], at = x < lo ? lo : x > hi ? hi : x;

	/* Inside the boundary knots the tangent term is 0 (x - at = 0): the
	 * derivatives are not needed, and adding 0 changes no bit. */
	mu = bspline(f, at, B, at == x ? NULL : dB);
	if (at != x)
		for (size_t i = 0; i < nb; i++)
			B[i] += dB[i] * (x - at);
	return mu - DEGREE;
}

void fl_spline_window(const struct fl_feature *f, double v, size_t *first, double *b)
{
	double B[FL_SPLINE_MAX_KNOTS + DEGREE];
	size_t k = basis_at(f, v, B);

	*first = k;
	memcpy(b, B + k, FL_SPLINE_WINDOW * sizeof(double));
}

void fl_spline_columns(const struct fl_feature *f, double x, double *out)
{
	size_t nb = fl_spline_basis_width(f);
	double B[FL_SPLINE_MAX_KNOTS + DEGREE];

	basis_at(f, x, B);
	for (size_t i = 0; i < nb; i++) {
		double s = 0;

		for (size_t j = 0; j <= i; j++)
			s += f->pspline[i * nb + j] * B[j];
		out[i] = s;
	}
}

void fl_spline_expand(const struct fl_feature *f, double *x)
{
	size_t nb = fl_spline_basis_width(f), bin = 0;
	double v = x[0];

	memset(x, 0, nb * sizeof(*x));
	if (isnan(v))
		return;
	if (f->transform == FL_TRANSFORM_SPLINE) {
		fl_spline_columns(f, v, x);
		return;
	}
	/* Bins: the count of inner knots at or below v. */
	while (bin + 1 < nb && v >= f->knots[bin + 1])
		bin++;
	x[bin] = 1.0;
}

int fl_spline_special(const struct fl_feature *f, double v)
{
	for (size_t k = 0; k < f->n_special; k++)
		if (f->special[k] == v)
			return (int)k;
	return -1;
}

void fl_spline_encode(const struct fl_feature *f, double v, int missing, double *x)
{
	size_t nb = fl_spline_basis_width(f);

	memset(x, 0, f->enc_width * sizeof(*x));
	x[0] = NAN;
	if (missing) {
		x[f->enc_width - 1] = 1.0;
	} else {
		int k = fl_spline_special(f, v);

		if (k >= 0)
			x[nb + (size_t)k] = 1.0;
		else
			x[0] = v;
	}
	if (f->knots != NULL)
		fl_spline_expand(f, x);
}

/* ---- knots ---- */

size_t fl_spline_unplaced(const struct fl_schema *s)
{
	for (size_t i = 0; i < s->n_features; i++)
		if (fl_spline_is_block(&s->features[i]) && s->features[i].knots == NULL)
			return i;
	return SIZE_MAX;
}

int fl_schema_set_knots(struct fl_schema *s, size_t i, const double *knots, size_t n)
{
	struct fl_feature *f;
	double *k;

	if (i >= s->n_features || !fl_spline_is_block(&s->features[i]))
		return fl_fail(FL_ERR_INVALID, "feature %zu has no spline or bins transform", i);
	f = &s->features[i];
	if (n != f->n_knots)
		return fl_fail(FL_ERR_INVALID, "feature \"%s\": %zu knots, the schema says %zu",
		               f->name, n, f->n_knots);
	for (size_t j = 0; j < n; j++)
		if (!isfinite(knots[j]) || (j > 0 && !(knots[j] > knots[j - 1])))
			return fl_fail(FL_ERR_INVALID,
			               "feature \"%s\": knot %zu (%.17g) is not finite and above "
			               "the one before",
			               f->name, j, knots[j]);
	if ((k = malloc(n * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	memcpy(k, knots, n * sizeof(double));
	free(f->knots);
	f->knots = k;
	return 0;
}

int fl_schema_copy_knots(struct fl_schema *dst, const struct fl_schema *src)
{
	int r;

	if (dst->n_features != src->n_features)
		return fl_fail(FL_ERR_INVALID, "copying knots between different schemas");
	for (size_t i = 0; i < src->n_features; i++) {
		const struct fl_feature *f = &src->features[i];

		if (fl_spline_is_block(f) && f->knots != NULL && !f->knots_given &&
		    (r = fl_schema_set_knots(dst, i, f->knots, f->n_knots)) != 0)
			return r;
	}
	return 0;
}

static int double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Puts the order statistics at[0..na) (ascending) of v[lo, hi) in place,
 * as a sort would, without sorting the rest: a three-way partition around
 * a median of three (runs of one value, as in counts, end in one step),
 * recursing only where an asked index lies; deeper than depth, the part
 * is sorted.
 */
static void select_at(double *v, size_t lo, size_t hi, const size_t *at, size_t na, int depth)
{
	while (na > 0 && hi - lo > 16 && depth-- > 0) {
		double a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1], p, x;
		size_t lt = lo, i = lo, gt = hi, k = 0, m;

		p = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
		/* v[lo, lt) < p, v[lt, i) == p, v[gt, hi) > p */
		while (i < gt) {
			x = v[i];
			if (x < p) {
				v[i++] = v[lt];
				v[lt++] = x;
			} else if (x > p) {
				v[i] = v[--gt];
				v[gt] = x;
			} else {
				i++;
			}
		}
		while (k < na && at[k] < lt)
			k++;
		select_at(v, lo, lt, at, k, depth);
		for (m = k; m < na && at[m] < gt; m++)
			;
		lo = gt;
		at += m;
		na -= m;
	}
	if (na > 0)
		qsort(v + lo, hi - lo, sizeof(*v), double_cmp);
}

int fl_spline_quantile_knots(const struct fl_feature *f, double *v, size_t n, double *k)
{
	size_t K = f->n_knots, at[2 * FL_SPLINE_MAX_KNOTS + 2], na = 0;

	if (n == 0)
		return fl_fail(FL_ERR_DATA, "feature \"%s\": no values to place knots at", f->name);
	/* The order statistics the knots interpolate, ascending: the first,
	 * each knot's two neighbours, the last. */
	at[na++] = 0;
	for (size_t i = 0; i < K; i++) {
		size_t lo = (size_t)floor((double)i / (double)(K - 1) * (double)(n - 1));

		for (size_t j = lo; j <= lo + 1 && j < n; j++)
			if (j > at[na - 1])
				at[na++] = j;
	}
	if (n - 1 > at[na - 1])
		at[na++] = n - 1;
	select_at(v, 0, n, at, na, 64);
	if (!(v[n - 1] > v[0]))
		return fl_fail(FL_ERR_DATA,
		               "feature \"%s\": every value is %.17g, so no knots can be placed "
		               "(a spline needs two distinct values)",
		               f->name, v[0]);
	/* Linear interpolation between order statistics (numpy's default). */
	for (size_t i = 0; i < K; i++) {
		double pos = (double)i / (double)(K - 1) * (double)(n - 1);
		size_t lo = (size_t)floor(pos);
		double frac = pos - (double)lo;

		k[i] = lo + 1 < n ? v[lo] + frac * (v[lo + 1] - v[lo]) : v[n - 1];
	}
	k[0] = v[0];
	k[K - 1] = v[n - 1];
	/* Ties: a run of equal knots is spread evenly up to the next larger
	 * one, or, at the top, down from the largest value. */
	for (size_t i = 1; i < K; i++) {
		size_t j = i, a;

		if (k[i] > k[i - 1])
			continue;
		while (j < K && !(k[j] > k[i - 1]))
			j++;
		if (j < K) {
			for (size_t t = i; t < j; t++)
				k[t] = k[i - 1] + (k[j] - k[i - 1]) * (double)(t - i + 1) /
				                          (double)(j - i + 1);
			continue;
		}
		/* The run reaches the largest value: spread the run's knots
		 * between the last smaller knot and the largest value. */
		for (a = i - 1; a > 0 && !(k[a] > k[a - 1]); a--)
			;
		for (size_t t = a; t + 1 < K; t++)
			k[t] = k[a - 1] +
			       (k[K - 1] - k[a - 1]) * (double)(t - a + 1) / (double)(K - a);
		break;
	}
	return 0;
}

/*
 * Places the knots of every block feature of s that has only a count, from
 * the raw values in column at[i] of n rows of X (stride doubles apart),
 * then expands those rows' blocks in place; placed[i] says which. The raw
 * value sits in the block's first column until then (fl_encode_row()).
 */
static int prepare(struct fl_schema *s, double *X, size_t n, size_t stride, const size_t *at,
                   unsigned char *placed)
{
	double *v, knots[FL_SPLINE_MAX_KNOTS];
	int r = 0;

	if ((v = malloc((n ? n : 1) * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t k = 0;

		if (!fl_spline_is_block(f) || f->knots != NULL)
			continue;
		for (size_t row = 0; row < n; row++) {
			double x = X[row * stride + at[i]];

			if (!isnan(x))
				v[k++] = x;
		}
		if ((r = fl_spline_quantile_knots(f, v, k, knots)) != 0 ||
		    (r = fl_schema_set_knots(s, i, knots, f->n_knots)) != 0)
			goto out;
		placed[i] = 1;
	}
	for (size_t row = 0; row < n; row++)
		for (size_t i = 0; i < s->n_features; i++)
			if (placed[i])
				fl_spline_expand(&s->features[i], X + row * stride + at[i]);
out:
	free(v);
	return r;
}

int fl_spline_prepare(struct fl_schema *s, struct fl_dataset *ds)
{
	unsigned char *placed = NULL;
	size_t *at = NULL;
	struct fl_stats *st = NULL;
	int r = 0;

	if (fl_spline_unplaced(s) == SIZE_MAX)
		return 0;
	if ((placed = calloc(s->n_features, 1)) == NULL ||
	    (at = malloc(s->n_features * sizeof(*at))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < s->n_features; i++)
		at[i] = s->features[i].enc_offset;
	if ((r = prepare(s, ds->X, ds->n, ds->dim, at, placed)) != 0 ||
	    (r = fl_stats_new(ds->dim, &st)) != 0)
		goto out;
	for (size_t row = 0; row < ds->n; row++)
		fl_stats_add(st, ds->X + row * ds->dim, ds->y[row]);
	fl_stats_free(ds->stats);
	ds->stats = st;
	st = NULL;
out:
	fl_stats_free(st);
	free(placed);
	free(at);
	return r;
}

/* Places the knots of the splines rs stores as pairs from their raw values
 * (in row order, as prepare() collects them) and expands those rows. */
static int place_pairs(struct fl_schema *s, struct fl_rowset *rs)
{
	double *v, knots[FL_SPLINE_MAX_KNOTS];
	size_t f = 0;
	int r = 0;

	if (rs->ns == 0 || rs->R == NULL)
		return 0;
	if ((v = malloc((rs->n ? rs->n : 1) * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < s->n_features && f < rs->ns; i++) {
		const struct fl_feature *ft = &s->features[i];
		size_t k = 0;

		if (ft->enc_offset != rs->sp[f].off)
			continue;
		for (size_t row = 0; row < rs->n; row++)
			if (!isnan(rs->R[row * rs->ns + f]))
				v[k++] = rs->R[row * rs->ns + f];
		if ((r = fl_spline_quantile_knots(ft, v, k, knots)) != 0 ||
		    (r = fl_schema_set_knots(s, i, knots, ft->n_knots)) != 0)
			goto out;
		f++;
	}
	fl_rowset_expand_splines(rs, s);
out:
	free(v);
	return r;
}

int fl_spline_prepare_rows(struct fl_schema *s, struct fl_rowset *rs)
{
	unsigned char *placed = NULL;
	size_t *at = NULL;
	int r = 0;

	if (fl_spline_unplaced(s) == SIZE_MAX) {
		/* Knots placed elsewhere (given, or the federation's): the
		 * pairs still wait for them. */
		fl_rowset_expand_splines(rs, s);
		return 0;
	}
	if ((placed = calloc(s->n_features, 1)) == NULL ||
	    (at = calloc(s->n_features, sizeof(*at))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	/* Splines stored as pairs (rowset.h) hold their raw values apart. */
	if ((r = place_pairs(s, rs)) != 0)
		goto out;
	/* A block's basis columns are dense in every layout (only its missing
	 * indicator, its last column, may be a group), so they sit side by
	 * side in a row of X from the position of the block's first column. */
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t p = 0;

		if (!fl_spline_is_block(f) || f->knots != NULL)
			continue;
		while (p < rs->nd && rs->dcol[p] != f->enc_offset)
			p++;
		if (p + fl_spline_basis_width(f) > rs->nd ||
		    rs->dcol[p + fl_spline_basis_width(f) - 1] !=
		            f->enc_offset + fl_spline_basis_width(f) - 1) {
			r = fl_fail(FL_ERR_INTERNAL,
			            "feature \"%s\": its spline columns are not dense", f->name);
			goto out;
		}
		at[i] = p;
	}
	r = prepare(s, rs->X, rs->n, rs->nd, at, placed);
out:
	free(placed);
	free(at);
	return r;
}

/* L = (Li)^-1 for the n x n lower triangular Li (the P-spline factor's
 * inverse, or the identity for bins), column by column. */
static void lower_inverse(const double *Li, size_t n, double *L)
{
	for (size_t c = 0; c < n; c++)
		for (size_t r = 0; r < n; r++) {
			double v = r == c ? 1.0 : 0.0;

			if (r < c) {
				L[r * n + c] = 0;
				continue;
			}
			for (size_t k = c; k < r; k++)
				v -= Li[r * n + k] * L[k * n + c];
			L[r * n + c] = v / Li[r * n + r];
		}
}

/* ---- effects ---- */

double fl_spline_effect(const struct fl_model *m, size_t i, double v)
{
	const struct fl_feature *f = &m->schema->features[i];
	double x[FL_SPLINE_MAX_KNOTS + FL_SPLINE_MAX_SPECIAL + DEGREE + 1], e = 0;

	if (f->type != FL_NUMERIC)
		return NAN;
	if (f->has_clip)
		v = v < f->clip_lo ? f->clip_lo : v > f->clip_hi ? f->clip_hi : v;
	if (!fl_spline_is_block(f)) {
		size_t j = f->enc_offset;

		if (f->transform == FL_TRANSFORM_LOG1P)
			v = v > -1 ? log1p(v) : NAN;
		return m->w[j] *
		       ((v - m->scaler->center[j]) / m->scaler->scale[j] - m->scaler->baseline[j]);
	}
	if (f->knots == NULL)
		return NAN;
	fl_spline_encode(f, v, 0, x);
	for (size_t k = 0; k < f->enc_width; k++)
		e += m->w[f->enc_offset + k] * (x[k] - m->scaler->baseline[f->enc_offset + k]);
	return e;
}

size_t fl_spline_density(const struct fl_model *m, size_t i, double *at, double *share)
{
	const struct fl_feature *f = &m->schema->features[i];
	const double *base;
	size_t nb = fl_spline_basis_width(f), K = f->n_knots;

	if (!fl_spline_is_block(f) || f->knots == NULL)
		return 0;
	base = m->scaler->baseline + f->enc_offset;
	if (f->transform == FL_TRANSFORM_BINS) {
		for (size_t k = 0; k < nb; k++) {
			at[k] = 0.5 * (f->knots[k] + f->knots[k + 1]);
			share[k] = base[k];
		}
		return nb;
	}
	/* The columns are L^-1 b, so the mean of b is L times their mean; L
	 * comes back from L^-1 by forward substitution. */
	for (size_t k = 0; k < nb; k++) {
		double t[DEGREE], s = 0;

		for (size_t d = 0; d < DEGREE; d++) {
			size_t q = k + 1 + d; /* position in the clamped knot vector */

			t[d] = q <= DEGREE ? f->knots[0]
			       : q >= nb   ? f->knots[K - 1]
			                   : f->knots[q - DEGREE];
			s += t[d];
		}
		at[k] = s / DEGREE;
	}
	{
		double L[(FL_SPLINE_MAX_KNOTS + DEGREE) * (FL_SPLINE_MAX_KNOTS + DEGREE)];
		const double *Li = f->pspline;

		lower_inverse(Li, nb, L);
		for (size_t r = 0; r < nb; r++) {
			double s = 0;

			for (size_t k = 0; k <= r; k++)
				s += L[r * nb + k] * base[k];
			share[r] = s;
		}
	}
	return nb;
}

/* The effect of a missing value or of special value k (k == n_special:
 * missing). */
static double block_indicator_effect(const struct fl_model *m, const struct fl_feature *f,
                                     size_t col)
{
	double e = 0;

	for (size_t k = 0; k < f->enc_width; k++) {
		size_t j = f->enc_offset + k;

		e += m->w[j] * ((k == col ? 1.0 : 0.0) - m->scaler->baseline[j]);
	}
	return e;
}

const char *fl_spline_effect_origin(const struct fl_model *m, size_t i)
{
	const struct fl_feature *f = &m->schema->features[i];
	size_t nb = fl_spline_basis_width(f);

	if (m->prov.privacy == NULL || f->transform != FL_TRANSFORM_SPLINE)
		return "against the average lead";
	for (size_t k = 0; k < nb; k++)
		if (m->scaler->baseline[f->enc_offset + k] != 0)
			return f->knots_given
			               ? "against the average lead"
			               : "against the average lead, its curve's part from the "
			                 "knots round's noised histogram";
	return f->knots_given ? "against a zero block, not the average lead: under differential "
	                        "privacy its basis averages are not released, and its knots are "
	                        "written in the schema, so no knots round measured them"
	                      : "against a zero block, not the average lead: under differential "
	                        "privacy its basis averages are not released, and this model "
	                        "has none from the knots round";
}

int fl_spline_explain(const struct fl_model *m, FILE *fp)
{
	const struct fl_schema *s = m->schema;

	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t nb = fl_spline_basis_width(f), K = f->n_knots;
		double lo = 0, hi = 0, steps;

		if (!fl_spline_is_block(f) || f->knots == NULL)
			continue;
		lo = f->knots[0];
		hi = f->knots[K - 1];
		fprintf(fp, "\nEffect of %s (%s, %zu knots", f->name, transform_names[f->transform],
		        K);
		for (size_t k = 0; k < K; k++)
			fprintf(fp, "%s%.6g", k ? ", " : " at ", f->knots[k]);
		fprintf(fp, "%s), log-odds %s:\n",
		        f->monotone > 0   ? "; asked increasing"
		        : f->monotone < 0 ? "; asked decreasing"
		                          : "",
		        fl_spline_effect_origin(m, i));
		/* Twice as many points as intervals, and the knots among them. */
		steps = (double)(2 * (K - 1));
		for (size_t k = 0; k <= (size_t)steps; k++) {
			double a = k % 2 == 0 ? f->knots[k / 2]
			                      : 0.5 * (f->knots[k / 2] + f->knots[k / 2 + 1]);
			double e = fl_spline_effect(m, i, a);
			int bar = (int)lround(fabs(e) * 20);

			fprintf(fp, "  %14.6g  %+8.4f  %s%.*s\n", a, e, e < 0 ? "-" : "+",
			        bar > 40 ? 40 : bar, "########################################");
		}
		for (size_t k = 0; k < f->n_special; k++)
			fprintf(fp, "  %14.6g  %+8.4f  (special value)\n", f->special[k],
			        block_indicator_effect(m, f, nb + k));
		if (f->missing == FL_MISSING_IMPUTE)
			fprintf(fp, "  %14s  %+8.4f\n", "(missing)",
			        block_indicator_effect(m, f, f->enc_width - 1));
		(void)lo;
		(void)hi;
	}
	return ferror(fp) ? fl_fail(FL_ERR_IO, "write failed") : 0;
}

/* ---- monotone effects ---- */

/*
 * A spline's block contributes w' L^-1 b(v) = beta' b(v) with beta = L^-T w,
 * the weights of the B-splines b; a bins block contributes beta = w, the
 * weight of each bin. B-spline weights that never decrease give a curve
 * that never decreases (a B-spline curve's derivative is a positive
 * combination of their differences), and so does its linear continuation
 * beyond the boundary knots, whose slope is the curve's there. So the
 * solver's coordinates are u[0] = beta[0] and u[k] = dir (beta[k] -
 * beta[k-1]) >= 0: beta = C S u (C the cumulative sums, S = diag(1, dir,
 * ..., dir)), w = L' C S u.
 */
static void monotone_maps(const struct fl_feature *f, double *M, double *Minv)
{
	size_t n = fl_spline_basis_width(f);
	double dir = f->monotone > 0 ? 1.0 : -1.0;
	/* Li zeroed: GCC cannot see that the loop below fills what
	 * lower_inverse() reads. */
	double L[(FL_SPLINE_MAX_KNOTS + DEGREE) * (FL_SPLINE_MAX_KNOTS + DEGREE)],
	        Li[(FL_SPLINE_MAX_KNOTS + DEGREE) * (FL_SPLINE_MAX_KNOTS + DEGREE)] = {0};

	for (size_t r = 0; r < n; r++)
		for (size_t c = 0; c < n; c++)
			Li[r * n + c] = f->transform == FL_TRANSFORM_SPLINE ? f->pspline[r * n + c]
			                                                    : (double)(r == c);
	lower_inverse(Li, n, L);
	for (size_t r = 0; r < n; r++) {
		double tail = 0;

		/* M[r][c] = (c ? dir : 1) * sum_{k >= c} L[k][r], c from the end. */
		for (size_t c = n; c-- > 0;) {
			tail += L[c * n + r];
			M[r * n + c] = c == 0 ? tail : dir * tail;
		}
		Minv[0 * n + r] = Li[r * n + 0];
		for (size_t k = 1; k < n; k++)
			Minv[k * n + r] = dir * (Li[r * n + k] - Li[r * n + k - 1]);
	}
}

int fl_spline_bounds(const struct fl_schema *s, struct fl_solver_bounds **out)
{
	struct fl_solver_bounds *b = NULL;
	struct fl_solver_block *blk = NULL;
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < s->n_features; i++)
		n += s->features[i].type == FL_NUMERIC && s->features[i].monotone != 0;
	if (n == 0)
		return 0;
	if ((b = calloc(1, sizeof(*b))) == NULL || (blk = calloc(n, sizeof(*blk))) == NULL) {
		free(b);
		return FL_ERR_NOMEM;
	}
	b->blocks = blk;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t nb = fl_spline_is_block(f) ? fl_spline_basis_width(f) : 1;
		double *M;

		if (f->type != FL_NUMERIC || f->monotone == 0)
			continue;
		if ((M = malloc(2 * nb * nb * sizeof(double))) == NULL) {
			fl_spline_bounds_free(b);
			return FL_ERR_NOMEM;
		}
		if (fl_spline_is_block(f)) {
			monotone_maps(f, M, M + nb * nb);
			blk[b->n_blocks++] =
			        (struct fl_solver_block){f->enc_offset, nb, 1, M, M + nb * nb};
			continue;
		}
		/* A plain or log1p value (standardised with a positive scale,
		 * log1p increasing): the effect's direction is its weight's
		 * sign, w = dir u with u >= 0. */
		M[0] = M[1] = f->monotone > 0 ? 1.0 : -1.0;
		blk[b->n_blocks++] = (struct fl_solver_block){f->enc_offset, 1, 0, M, M + 1};
	}
	*out = b;
	return 0;
}

void fl_spline_bounds_free(struct fl_solver_bounds *b)
{
	if (b == NULL)
		return;
	for (size_t k = 0; k < b->n_blocks; k++)
		free((void *)b->blocks[k].M);
	free((void *)b->blocks);
	free(b);
}

int fl_spline_monotone_refuse(const struct fl_schema *s, const char *solver)
{
	for (size_t i = 0; i < s->n_features; i++)
		if (s->features[i].monotone != 0)
			return fl_fail(FL_ERR_INVALID,
			               "feature \"%s\": \"monotone\" is enforced by the newton "
			               "solver only, not by %s; train with newton or remove it",
			               s->features[i].name, solver);
	return 0;
}

int fl_spline_monotone_verify(const struct fl_schema *s, const double *w)
{
	struct fl_solver_bounds *b = NULL;
	size_t k = 0;
	int r;

	if ((r = fl_spline_bounds(s, &b)) != 0 || b == NULL)
		return r;
	for (size_t i = 0; r == 0 && i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		const struct fl_solver_block *bk;
		double u[FL_SPLINE_MAX_KNOTS + DEGREE], beta = 0, big = 0, tol;
		double dir = f->monotone > 0 ? 1.0 : -1.0;
		const char *way = f->monotone > 0 ? "increasing" : "decreasing";

		if (f->type != FL_NUMERIC || f->monotone == 0)
			continue;
		bk = &b->blocks[k++]; /* fl_spline_bounds() keeps feature order */
		/* u = M^-1 w_B: the increments of the B-spline (or bin) weights
		 * beta, u[j] = dir (beta[j] - beta[j - 1]) (a plain value's: u =
		 * dir w). */
		for (size_t a = 0; a < bk->n; a++) {
			u[a] = 0;
			for (size_t e = 0; e < bk->n; e++)
				u[a] += bk->Minv[a * bk->n + e] * w[bk->offset + e];
		}
		for (size_t a = 0; a < bk->n; a++) {
			beta = a < bk->n_free ? u[a] : beta + dir * u[a];
			big = fabs(beta) > big ? fabs(beta) : big;
		}
		tol = FL_SPLINE_MONOTONE_TOL * (1 + big);
		for (size_t a = bk->n_free; r == 0 && a < bk->n; a++) {
			if (u[a] >= -tol)
				continue;
			if (!fl_spline_is_block(f))
				r = fl_fail(
				        FL_ERR_DATA,
				        "feature \"%s\" is declared \"monotone\": \"%s\", but its "
				        "weight in the model is %.6g, so its effect %s",
				        f->name, way, w[bk->offset],
				        f->monotone > 0 ? "falls" : "rises");
			else
				r = fl_fail(
				        FL_ERR_DATA,
				        "feature \"%s\" is declared \"monotone\": \"%s\", but the "
				        "model's %s weights %zu and %zu make its effect %s by %.6g "
				        "log-odds (tolerance %.3g)",
				        f->name, way,
				        f->transform == FL_TRANSFORM_BINS ? "bin" : "B-spline",
				        a - 1, a, f->monotone > 0 ? "fall" : "rise", -u[a], tol);
		}
	}
	fl_spline_bounds_free(b);
	return r;
}
