/*
 * Training rows stored as a dense block plus one column index per one-hot
 * group (include/fedlead/rowset.h): layout, loading, statistics,
 * standardisation and the validation split, all in place. The passes over
 * the rows are in rowset_pass.c.
 */
#include "fedlead/rowset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "fedlead/error.h"
#include "fedlead/rows.h"
#include "fedlead/spline.h"
#include "fedlead/splitmix.h"
#include "rowset_int.h"

#define W FL_SPLINE_WINDOW

/* Whether feature f is stored as B-spline pairs in the compact layout: a
 * spline whose rows arrive with the raw value (knots still to be placed). */
static int spline_pairs(const struct fl_feature *f)
{
	return f->type == FL_NUMERIC && f->transform == FL_TRANSFORM_SPLINE && f->knots == NULL &&
	       f->pspline != NULL && fl_spline_basis_width(f) >= W;
}

/* Marks columns [first, end) as group g. */
static void add_group(struct fl_rowset *rs, int *in_group, size_t first, size_t end)
{
	for (size_t j = first; j < end; j++)
		in_group[j] = 1;
	rs->gfirst[rs->nk] = (uint32_t)first;
	rs->gend[rs->nk] = (uint32_t)end;
	rs->nk++;
}

/* Fills dcol and the groups of s (groups only when compact). in_group has
 * d entries. Groups come in column order, so a row's K is ascending. */
/* Whether feature f's bins are a one-hot group: knots known before its rows
 * are encoded, so each row sets one bin or special-value column, or none
 * (missing). */
static int bins_group(const struct fl_feature *f)
{
	return f->type == FL_NUMERIC && f->transform == FL_TRANSFORM_BINS && f->knots != NULL;
}

static int plan_layout(const struct fl_schema *s, int compact, struct fl_rowset *rs, int *in_group)
{
	rs->nk = rs->nd = rs->ns = 0;
	memset(in_group, 0, s->dim * sizeof(*in_group));
	for (size_t i = 0; compact && i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t off = f->enc_offset, head = 1 + (f->missing == FL_MISSING_IMPUTE);

		if (spline_pairs(f)) {
			struct fl_rowset_spline *sp = &rs->sp[rs->ns];
			size_t nb = fl_spline_basis_width(f), end = off + nb + f->n_special;

			sp->off = (uint32_t)off;
			sp->nb = (uint32_t)nb;
			sp->end = (uint32_t)end;
			if ((sp->Li = malloc(nb * nb * sizeof(double))) == NULL)
				return FL_ERR_NOMEM;
			memcpy(sp->Li, f->pspline, nb * nb * sizeof(double));
			rs->ns++;
			for (size_t j = off; j < end; j++)
				in_group[j] = 1;
		}
		if (bins_group(f))
			add_group(rs, in_group, off, off + fl_spline_basis_width(f) + f->n_special);

		if (f->type == FL_CATEGORICAL) {
			add_group(rs, in_group, off, off + f->enc_width);
		} else if (f->type == FL_NUMERIC || f->type == FL_DATE) {
			/* The missing indicator is a group of one column: a
			 * number's last column (after a spline's basis and its
			 * special values), a date's second. */
			size_t mi = f->type == FL_NUMERIC ? off + f->enc_width - 1 : off + 1;

			if (f->missing == FL_MISSING_IMPUTE && f->enc_width >= 2)
				add_group(rs, in_group, mi, mi + 1);
			if (f->type == FL_DATE &&
			    f->enc_width == head + FL_DATE_WEEKDAYS + FL_DATE_MONTHS) {
				add_group(rs, in_group, off + head, off + head + FL_DATE_WEEKDAYS);
				add_group(rs, in_group, off + head + FL_DATE_WEEKDAYS,
				          off + f->enc_width);
			}
		}
		/* Bins, and a spline whose knots were placed before its rows
		 * were encoded, keep their basis and special-value columns
		 * dense. */
	}
	for (size_t j = 0; j < s->dim; j++)
		if (!in_group[j])
			rs->dcol[rs->nd++] = (uint32_t)j;
	return 0;
}

/* Groups and dense columns of s in the compact layout, counted. */
static void count_layout(const struct fl_schema *s, size_t *nd, size_t *nk, size_t *ns)
{
	size_t grouped = 0;

	*nk = *ns = 0;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t head = 1 + (f->missing == FL_MISSING_IMPUTE);

		if (spline_pairs(f)) {
			(*ns)++;
			grouped += fl_spline_basis_width(f) + f->n_special;
		}
		if (bins_group(f)) {
			(*nk)++;
			grouped += fl_spline_basis_width(f) + f->n_special;
		}

		if (f->type == FL_CATEGORICAL) {
			(*nk)++;
			grouped += f->enc_width;
			continue;
		}
		if (f->type != FL_NUMERIC && f->type != FL_DATE)
			continue;
		if (f->missing == FL_MISSING_IMPUTE && f->enc_width >= 2) {
			(*nk)++;
			grouped++;
		}
		if (f->type == FL_DATE &&
		    f->enc_width == head + FL_DATE_WEEKDAYS + FL_DATE_MONTHS) {
			*nk += 2;
			grouped += FL_DATE_WEEKDAYS + FL_DATE_MONTHS;
		}
	}
	*nd = s->dim - grouped;
}

enum fl_rows_layout fl_rowset_layout_auto(const struct fl_schema *s)
{
	size_t nd, nk, ns;

	/* A spline stored as pairs costs its window start and four values. */
	count_layout(s, &nd, &nk, &ns);
	return nk + ns > 0 && 8 * nd + 4 * nk + (4 + 8 * W) * ns <= 4 * s->dim ? FL_ROWS_COMPACT
	                                                                       : FL_ROWS_DENSE;
}

void fl_rowset_free(struct fl_rowset *rs)
{
	if (rs == NULL || rs->view)
		return;
	free(rs->dcol);
	free(rs->gfirst);
	free(rs->gend);
	free(rs->X);
	free(rs->K);
	free(rs->V);
	for (size_t f = 0; rs->sp != NULL && f < rs->ns; f++)
		free(rs->sp[f].Li);
	free(rs->sp);
	free(rs->S);
	free(rs->B);
	free(rs->R);
	free(rs->y);
	fl_rowset_order_free(rs->order);
	free(rs);
}

/* Room for cap rows (cap >= rs->n). */
static int reserve(struct fl_rowset *rs, size_t cap)
{
	double *X, *y;
	uint32_t *K;

	fl_rowset_order_stale(rs->order);
	if (cap == 0)
		cap = 1;
	if ((rs->nd > 0 && cap > SIZE_MAX / sizeof(double) / rs->nd) ||
	    (rs->nk > 0 && cap > SIZE_MAX / sizeof(uint32_t) / rs->nk))
		return fl_fail(FL_ERR_NOMEM, "too many rows for memory");
	if ((X = realloc(rs->X, (rs->nd ? rs->nd : 1) * cap * sizeof(double))) == NULL)
		return fl_fail(FL_ERR_NOMEM, "out of memory for %zu rows", cap);
	rs->X = X;
	if ((K = realloc(rs->K, (rs->nk ? rs->nk : 1) * cap * sizeof(uint32_t))) == NULL)
		return fl_fail(FL_ERR_NOMEM, "out of memory for %zu rows", cap);
	rs->K = K;
	if (rs->ns > 0) {
		uint32_t *S;
		double *B, *R;

		if (cap > SIZE_MAX / sizeof(double) / W / rs->ns)
			return fl_fail(FL_ERR_NOMEM, "too many rows for memory");
		if ((S = realloc(rs->S, rs->ns * cap * sizeof(uint32_t))) == NULL)
			return fl_fail(FL_ERR_NOMEM, "out of memory for %zu rows", cap);
		rs->S = S;
		if ((B = realloc(rs->B, rs->ns * W * cap * sizeof(double))) == NULL)
			return fl_fail(FL_ERR_NOMEM, "out of memory for %zu rows", cap);
		rs->B = B;
		if (rs->R != NULL) {
			if ((R = realloc(rs->R, rs->ns * cap * sizeof(double))) == NULL)
				return fl_fail(FL_ERR_NOMEM, "out of memory for %zu rows", cap);
			rs->R = R;
		}
	}
	if ((y = realloc(rs->y, cap * sizeof(double))) == NULL)
		return fl_fail(FL_ERR_NOMEM, "out of memory for %zu rows", cap);
	rs->y = y;
	rs->cap = cap;
	return 0;
}

int fl_rowset_new(const struct fl_schema *s, enum fl_rows_layout layout, size_t cap,
                  struct fl_rowset **out)
{
	struct fl_rowset *rs = NULL;
	int *in_group = NULL, r = FL_ERR_NOMEM;

	*out = NULL;
	if (layout == FL_ROWS_AUTO)
		layout = fl_rowset_layout_auto(s);
	if (s->dim >= UINT32_MAX)
		return fl_fail(FL_ERR_LIMIT, "%zu encoded columns are too many", s->dim);
	if ((rs = calloc(1, sizeof(*rs))) == NULL ||
	    (rs->dcol = malloc(s->dim * sizeof(uint32_t))) == NULL ||
	    (rs->gfirst = malloc(s->dim * sizeof(uint32_t))) == NULL ||
	    (rs->gend = malloc(s->dim * sizeof(uint32_t))) == NULL ||
	    (rs->sp = calloc(s->n_features ? s->n_features : 1, sizeof(*rs->sp))) == NULL ||
	    (in_group = malloc(s->dim * sizeof(int))) == NULL)
		goto out;
	rs->d = s->dim;
	if ((r = plan_layout(s, layout == FL_ROWS_COMPACT, rs, in_group)) != 0)
		goto out;
	if (rs->ns > 0 && (rs->order = fl_rowset_order_new()) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	/* Pairs arrive as raw values, expanded once the knots are placed. */
	if (rs->ns > 0 && (rs->R = malloc(sizeof(double))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if ((r = reserve(rs, cap)) != 0)
		goto out;
	*out = rs;
	rs = NULL;
	r = 0;
out:
	free(in_group);
	fl_rowset_free(rs);
	return r;
}

/* Bit j set: x[j] is not 0 (a NaN is not), for j < n <= 64; two columns
 * at a time where SSE2 is there. */
static uint64_t nonzero_mask(const double *x, size_t n)
{
	uint64_t m = 0;
	size_t j = 0;
#if defined(__SSE2__)
	__m128d z = _mm_setzero_pd();

	for (; j + 2 <= n; j += 2)
		m |= (uint64_t)_mm_movemask_pd(_mm_cmpneq_pd(_mm_loadu_pd(x + j), z)) << j;
#endif
	for (; j < n; j++)
		m |= (uint64_t)(x[j] != 0) << j;
	return m;
}

/* The column of a one-hot group (columns [first, end) of x) that is 1, d
 * when none is set; FL_ERR_DATA when the group is not one-hot. */
static int group_column(const double *x, size_t first, size_t end, size_t d, uint32_t *k)
{
	*k = (uint32_t)d;
	/* The common case without a branch a column: a mask of the
	 * non-zeros, one bit set and that column 1. */
	if (end - first <= 64) {
		uint64_t m = nonzero_mask(x + first, end - first);
		size_t j = first;

		if (m == 0)
			return 0;
		if ((m & (m - 1)) == 0) {
#if defined(__GNUC__)
			j += (size_t)__builtin_ctzll(m);
#else
			while ((m & 1) == 0) {
				m >>= 1;
				j++;
			}
#endif
			if (x[j] == 1) {
				*k = (uint32_t)j;
				return 0;
			}
		}
	}
	for (size_t j = first; j < end; j++) {
		if (x[j] == 0)
			continue;
		if (x[j] != 1 || *k != d)
			return fl_fail(FL_ERR_DATA,
			               "row does not fit the compact layout (column %zu)", j);
		*k = (uint32_t)j;
	}
	return 0;
}

int fl_rowset_push(struct fl_rowset *rs, const double *x, double y)
{
	double *xd;
	uint32_t *k;
	int r;

	if (rs->n == rs->cap && (r = reserve(rs, rs->cap * 2)) != 0)
		return r;
	fl_rowset_order_stale(rs->order);
	xd = rs->X + rs->n * rs->nd;
	k = rs->K + rs->n * rs->nk;
	for (size_t a = 0; a < rs->nd; a++)
		xd[a] = x[rs->dcol[a]];
	for (size_t g = 0; g < rs->nk; g++)
		if ((r = group_column(x, rs->gfirst[g], rs->gend[g], rs->d, &k[g])) != 0)
			return r;
	for (size_t f = 0; f < rs->ns; f++) {
		const struct fl_rowset_spline *sp = &rs->sp[f];
		uint32_t *st = rs->S + rs->n * rs->ns + f;
		double *b = rs->B + (rs->n * rs->ns + f) * W;

		/* The raw value is in the block's first column until the knots
		 * are placed (fl_spline_encode()); a special value sets its
		 * indicator (the window ending there), a missing one nothing. */
		if (rs->R == NULL)
			return fl_fail(FL_ERR_INTERNAL, "spline rows pushed after their expansion");
		rs->R[rs->n * rs->ns + f] = x[sp->off];
		*st = sp->off;
		memset(b, 0, W * sizeof(double));
		for (size_t j = sp->off + sp->nb; j < sp->end; j++) {
			if (x[j] == 0)
				continue;
			if (x[j] != 1 || !isnan(x[sp->off]))
				return fl_fail(FL_ERR_DATA,
				               "row does not fit the compact layout (column %zu)",
				               j);
			*st = (uint32_t)(j - (W - 1));
			b[W - 1] = 1.0;
		}
	}
	rs->y[rs->n++] = y;
	return 0;
}

void fl_rowset_expand_splines(struct fl_rowset *rs, const struct fl_schema *s)
{
	size_t f = 0;

	if (rs->R == NULL)
		return;
	for (size_t i = 0; i < s->n_features && f < rs->ns; i++) {
		const struct fl_feature *ft = &s->features[i];

		if (ft->enc_offset != rs->sp[f].off)
			continue;
		for (size_t row = 0; row < rs->n; row++) {
			double v = rs->R[row * rs->ns + f];
			size_t first;

			if (isnan(v))
				continue; /* special or missing: set at the push */
			fl_spline_window(ft, v, &first, rs->B + (row * rs->ns + f) * W);
			rs->S[row * rs->ns + f] = rs->sp[f].off + (uint32_t)first;
		}
		f++;
	}
	free(rs->R);
	rs->R = NULL;
	fl_rowset_order_stale(rs->order); /* S written */
}

int fl_rowset_new_like(const struct fl_rowset *rs, size_t cap, struct fl_rowset **out)
{
	struct fl_rowset *c = NULL;
	size_t d = rs->d ? rs->d : 1;
	int r = FL_ERR_NOMEM;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->dcol = malloc(d * sizeof(uint32_t))) == NULL ||
	    (c->gfirst = malloc(d * sizeof(uint32_t))) == NULL ||
	    (c->gend = malloc(d * sizeof(uint32_t))) == NULL ||
	    (rs->ns > 0 && (c->sp = calloc(rs->ns, sizeof(*c->sp))) == NULL))
		goto out;
	c->d = rs->d;
	c->nd = rs->nd;
	c->nk = rs->nk;
	c->chunk_rows = rs->chunk_rows;
	memcpy(c->dcol, rs->dcol, rs->nd * sizeof(uint32_t));
	memcpy(c->gfirst, rs->gfirst, rs->nk * sizeof(uint32_t));
	memcpy(c->gend, rs->gend, rs->nk * sizeof(uint32_t));
	for (; c->ns < rs->ns; c->ns++) {
		size_t nb = rs->sp[c->ns].nb;

		c->sp[c->ns] = rs->sp[c->ns];
		if ((c->sp[c->ns].Li = malloc(nb * nb * sizeof(double))) == NULL)
			goto out;
		memcpy(c->sp[c->ns].Li, rs->sp[c->ns].Li, nb * nb * sizeof(double));
	}
	if (rs->R != NULL && (c->R = malloc(sizeof(double))) == NULL)
		goto out;
	if (c->ns > 0 && (c->order = fl_rowset_order_new()) == NULL)
		goto out;
	if ((r = reserve(c, cap)) != 0)
		goto out;
	*out = c;
	c = NULL;
	r = 0;
out:
	fl_rowset_free(c);
	return r;
}

int fl_rowset_append(struct fl_rowset *dst, const struct fl_rowset *src, size_t i)
{
	int r;

	if (dst->n == dst->cap && (r = reserve(dst, dst->cap * 2)) != 0)
		return r;
	fl_rowset_order_stale(dst->order);
	memcpy(dst->X + dst->n * dst->nd, src->X + i * src->nd, src->nd * sizeof(double));
	memcpy(dst->K + dst->n * dst->nk, src->K + i * src->nk, src->nk * sizeof(uint32_t));
	if (src->ns > 0) {
		memcpy(dst->S + dst->n * dst->ns, src->S + i * src->ns, src->ns * sizeof(uint32_t));
		memcpy(dst->B + dst->n * dst->ns * W, src->B + i * src->ns * W,
		       src->ns * W * sizeof(double));
		if (src->R != NULL)
			memcpy(dst->R + dst->n * dst->ns, src->R + i * src->ns,
			       src->ns * sizeof(double));
	}
	dst->y[dst->n++] = src->y[i];
	return 0;
}

/*
 * Writes the encoded block (columns [off, end)) of spline f in row i into
 * x: the raw value before expansion, else L^-1 b as fl_spline_columns() in
 * spline.c sums it (ascending j, the zeros of b left out, which adds only
 * exact zeros there), so the bits are fl_spline_encode()'s.
 */
static void spline_block(const struct fl_rowset *rs, size_t i, size_t f, double *x)
{
	const struct fl_rowset_spline *sp = &rs->sp[f];
	const double *b = rs->B + (i * rs->ns + f) * W;
	size_t first = rs->S[i * rs->ns + f] - sp->off, nb = sp->nb;

	memset(x, 0, (sp->end - sp->off) * sizeof(*x));
	for (size_t q = 0; q < W; q++)
		if (first + q >= nb)
			x[first + q] = b[q];
	if (rs->R != NULL) {
		x[0] = rs->R[i * rs->ns + f];
		return;
	}
	for (size_t c = first; c < nb; c++) {
		double t = 0;

		for (size_t j = first; j <= c && j < first + W; j++)
			t += sp->Li[c * nb + j] * b[j - first];
		x[c] = t;
	}
}

void fl_rowset_row(const struct fl_rowset *rs, size_t i, double *x)
{
	const double *xd = rs->X + i * rs->nd;
	const uint32_t *k = rs->K + i * rs->nk;

	memset(x, 0, rs->d * sizeof(*x));
	for (size_t a = 0; a < rs->nd; a++)
		x[rs->dcol[a]] = xd[a];
	for (size_t g = 0; g < rs->nk; g++)
		if (k[g] < rs->d)
			x[k[g]] = rs->V != NULL ? rs->V[i * rs->nk + g] : 1.0;
	for (size_t f = 0; f < rs->ns; f++)
		spline_block(rs, i, f, x + rs->sp[f].off);
}

void fl_rowset_view(const struct fl_rowset *rs, size_t start, size_t count, struct fl_rowset *out)
{
	*out = *rs;
	out->X = rs->X + start * rs->nd;
	out->K = rs->K + start * rs->nk;
	out->V = rs->V != NULL ? rs->V + start * rs->nk : NULL;
	out->S = rs->S != NULL ? rs->S + start * rs->ns : NULL;
	out->B = rs->B != NULL ? rs->B + start * rs->ns * W : NULL;
	out->R = rs->R != NULL ? rs->R + start * rs->ns : NULL;
	out->y = rs->y + start;
	out->n = out->cap = count;
	out->view = 1;
}

int fl_rowset_load(const struct fl_schema *s, const char *path, enum fl_bad_rows policy,
                   enum fl_rows_layout layout, struct fl_rowset **out, struct fl_load_report *rep)
{
	struct fl_rows *rows = NULL;
	struct fl_rowset *rs = NULL;
	double *x = NULL, label = 0;
	int r;

	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	if ((r = fl_rowset_new(s, layout, 1024, &rs)) != 0)
		goto out;
	if ((x = malloc(s->dim * sizeof(double))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if ((r = fl_rows_open(s, path, 1, policy, rep, &rows)) != 0)
		goto out;
	while ((r = fl_rows_next(rows, x, &label, NULL)) == 1)
		if ((r = fl_rowset_push(rs, x, label)) != 0)
			goto out;
	if (r < 0)
		goto out;
	if (rs->n == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no usable data rows", path);
		goto out;
	}
	/* Give back the slack of the last doubling. */
	if ((r = reserve(rs, rs->n)) != 0)
		goto out;
	rep->rows = rs->n;
	*out = rs;
	rs = NULL;
	r = 0;
out:
	fl_rows_close(rows);
	fl_rowset_free(rs);
	free(x);
	return r;
}

int fl_rowset_from_dataset(const struct fl_schema *s, const struct fl_dataset *ds,
                           enum fl_rows_layout layout, struct fl_rowset **out)
{
	struct fl_rowset *rs = NULL;
	int r = 0, chose = layout == FL_ROWS_AUTO;

	*out = NULL;
	if (ds->dim != s->dim)
		return fl_fail(FL_ERR_INVALID, "dataset has %zu columns, the schema %zu", ds->dim,
		               s->dim);
	if (chose)
		layout = fl_rowset_layout_auto(s);
	if ((r = fl_rowset_new(s, layout, ds->n, &rs)) != 0)
		return r;
	for (size_t i = 0; i < ds->n && r == 0; i++)
		r = fl_rowset_push(rs, ds->X + i * ds->dim, ds->y[i]);
	fl_rowset_free(r != 0 ? rs : NULL);
	/* Hand-made rows (not from the encoder) need not be one-hot: under
	 * AUTO they are kept dense; a caller that asked for compact is told. */
	if (r == FL_ERR_DATA && chose && layout == FL_ROWS_COMPACT)
		return fl_rowset_from_dataset(s, ds, FL_ROWS_DENSE, out);
	if (r != 0)
		return r;
	*out = rs;
	return 0;
}

void fl_rowset_stats(const struct fl_rowset *rs, struct fl_stats *st)
{
	for (size_t i = 0; i < rs->n; i++) {
		const double *xd = rs->X + i * rs->nd;

		st->rows += 1;
		st->positives += rs->y[i];
		for (size_t a = 0; a < rs->nd; a++)
			fl_stats_add_value(st, rs->dcol[a], xd[a]);
	}
	/* A spline's columns as the encoder writes them, row by row, so their
	 * sums are fl_stats_add()'s to the bit. */
	for (size_t f = 0; f < rs->ns; f++) {
		const struct fl_rowset_spline *sp = &rs->sp[f];
		double x[FL_SPLINE_MAX_KNOTS + FL_SPLINE_MAX_SPECIAL + W];

		for (size_t i = 0; i < rs->n; i++) {
			spline_block(rs, i, f, x);
			for (size_t j = sp->off; j < sp->end; j++)
				fl_stats_add_value(st, j, x[j - sp->off]);
		}
	}
	if (rs->nk == 0 || rs->n == 0)
		return;
	/* A group column is 1 in the rows whose slot names it and 0 in all
	 * others: its sums are counts, exact in any order, so they equal the
	 * row-by-row sums of fl_stats_add() to the bit. */
	{
		double *ones = calloc(rs->d + 1, sizeof(double));

		if (ones == NULL) {
			/* No memory for the counts: row by row, dense. */
			for (size_t i = 0; i < rs->n; i++)
				for (size_t g = 0; g < rs->nk; g++)
					for (size_t j = rs->gfirst[g]; j < rs->gend[g]; j++) {
						double v = rs->K[i * rs->nk + g] == j;

						st->count[j] += 1;
						st->sum[j] += v;
						st->sumsq[j] += v;
						st->min[j] = fmin(st->min[j], v);
						st->max[j] = fmax(st->max[j], v);
					}
			return;
		}
		for (size_t i = 0; i < rs->n * rs->nk; i++)
			ones[rs->K[i]] += 1;
		for (size_t g = 0; g < rs->nk; g++)
			for (size_t j = rs->gfirst[g]; j < rs->gend[g]; j++) {
				st->count[j] += (double)rs->n;
				st->sum[j] += ones[j];
				st->sumsq[j] += ones[j];
				/* The values the column takes: 0 unless every row
				 * has it, 1 if any row has it. */
				if (ones[j] < (double)rs->n) {
					st->min[j] = fmin(st->min[j], 0.0);
					st->max[j] = fmax(st->max[j], 0.0);
				}
				if (ones[j] > 0) {
					st->min[j] = fmin(st->min[j], 1.0);
					st->max[j] = fmax(st->max[j], 1.0);
				}
			}
		free(ones);
	}
}

int fl_rowset_standardize(struct fl_rowset *rs, const struct fl_scaler *sc)
{
	if (sc->dim != rs->d)
		return fl_fail(FL_ERR_INTERNAL, "a scaler of %zu columns for rows of %zu", sc->dim,
		               rs->d);
	for (size_t g = 0; g < rs->nk; g++)
		for (size_t j = rs->gfirst[g]; j < rs->gend[g]; j++)
			if (sc->center[j] != 0 || sc->scale[j] != 1)
				return fl_fail(FL_ERR_INTERNAL,
				               "one-hot column %zu would be standardised", j);
	for (size_t f = 0; f < rs->ns; f++)
		for (size_t j = rs->sp[f].off; j < rs->sp[f].end; j++)
			if (sc->center[j] != 0 || sc->scale[j] != 1)
				return fl_fail(FL_ERR_INTERNAL,
				               "spline column %zu would be standardised", j);
	for (size_t i = 0; i < rs->n; i++) {
		double *x = rs->X + i * rs->nd;

		/* The arithmetic of fl_scaler_apply(), column by column. */
		for (size_t a = 0; a < rs->nd; a++) {
			size_t j = rs->dcol[a];
			double v = isnan(x[a]) ? sc->impute[j] : x[a];

			x[a] = (v - sc->center[j]) / sc->scale[j];
		}
	}
	return 0;
}

int fl_rowset_split(struct fl_rowset *rs, double frac, uint64_t seed, size_t *n_train)
{
	size_t nv = 0, nt = 0, v = 0, nd = rs->nd, nk = rs->nk, ns = rs->ns;
	double *Xv = NULL, *yv = NULL, *Bv = NULL, *Rv = NULL;
	uint32_t *Kv = NULL, *Sv = NULL;
	uint64_t cut;
	int r = FL_ERR_NOMEM;

	*n_train = 0;
	/* The assignment and message of fl_dataset_split(). */
	if (!(frac > 0.0 && frac < 1.0))
		return fl_fail(FL_ERR_INVALID,
		               "validation fraction %g must be greater than 0 and less than 1",
		               frac);
	cut = (uint64_t)(frac * 18446744073709551616.0);
	fl_rowset_order_stale(rs->order);
	for (size_t i = 0; i < rs->n; i++)
		nv += fl_mix64(seed ^ fl_mix64(i)) < cut;
	if ((Xv = malloc((nv * nd + 1) * sizeof(double))) == NULL ||
	    (Kv = malloc((nv * nk + 1) * sizeof(uint32_t))) == NULL ||
	    (yv = malloc((nv + 1) * sizeof(double))) == NULL ||
	    (Sv = malloc((nv * ns + 1) * sizeof(uint32_t))) == NULL ||
	    (Bv = malloc((nv * ns * W + 1) * sizeof(double))) == NULL ||
	    (Rv = malloc((nv * ns + 1) * sizeof(double))) == NULL)
		goto out;
	for (size_t i = 0; i < rs->n; i++) {
		if (fl_mix64(seed ^ fl_mix64(i)) < cut) {
			memcpy(Xv + v * nd, rs->X + i * nd, nd * sizeof(double));
			memcpy(Kv + v * nk, rs->K + i * nk, nk * sizeof(uint32_t));
			if (ns > 0) {
				memcpy(Sv + v * ns, rs->S + i * ns, ns * sizeof(uint32_t));
				memcpy(Bv + v * ns * W, rs->B + i * ns * W,
				       ns * W * sizeof(double));
				if (rs->R != NULL)
					memcpy(Rv + v * ns, rs->R + i * ns, ns * sizeof(double));
			}
			yv[v++] = rs->y[i];
			continue;
		}
		if (nt != i) {
			memmove(rs->X + nt * nd, rs->X + i * nd, nd * sizeof(double));
			memmove(rs->K + nt * nk, rs->K + i * nk, nk * sizeof(uint32_t));
			if (ns > 0) {
				memmove(rs->S + nt * ns, rs->S + i * ns, ns * sizeof(uint32_t));
				memmove(rs->B + nt * ns * W, rs->B + i * ns * W,
				        ns * W * sizeof(double));
				if (rs->R != NULL)
					memmove(rs->R + nt * ns, rs->R + i * ns,
					        ns * sizeof(double));
			}
			rs->y[nt] = rs->y[i];
		}
		nt++;
	}
	memcpy(rs->X + nt * nd, Xv, nv * nd * sizeof(double));
	memcpy(rs->K + nt * nk, Kv, nv * nk * sizeof(uint32_t));
	memcpy(rs->y + nt, yv, nv * sizeof(double));
	if (ns > 0) {
		memcpy(rs->S + nt * ns, Sv, nv * ns * sizeof(uint32_t));
		memcpy(rs->B + nt * ns * W, Bv, nv * ns * W * sizeof(double));
		if (rs->R != NULL)
			memcpy(rs->R + nt * ns, Rv, nv * ns * sizeof(double));
	}
	*n_train = nt;
	r = 0;
out:
	if (r == FL_ERR_NOMEM)
		fl_fail(r, "out of memory for a validation split of %zu rows", nv);
	free(Xv);
	free(Kv);
	free(yv);
	free(Sv);
	free(Bv);
	free(Rv);
	return r;
}
