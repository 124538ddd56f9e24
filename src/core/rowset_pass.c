/*
 * The passes over a rowset (include/fedlead/rowset.h): the logistic data
 * term's loss, gradient and Hessian, on both cores.
 *
 * The rows are cut into chunks of a fixed number of rows; each chunk sums
 * into its own partial result and the partials are added in chunk order
 * once a wave of them is done. Neither the chunks nor the order depend on
 * the thread count, so neither does a single bit of the result.
 *
 * Dense rows go through fl_linalg_logistic(), chunk by chunk. Compact rows
 * (a dense block plus one column index per one-hot group) are handled here:
 *   z_i   = xd_i . w_dense + sum_g w[k_ig]
 *   grad  = Xd^T r scattered to the dense columns, plus r_i added at k_ig
 *   hess  = dense x dense by dsyrk of sqrt(h)-scaled rows (as linalg.c),
 *           dense x group: h_i xd_i added to row k_ig of a (d+1) x nd block,
 *           group x group: h_i added at (k_ig, k_il) for g <= l
 * A one costs no multiply and no stored double. An empty slot (k = d) lands
 * in a padding row and column d that is thrown away, so no branch is
 * needed for a missing date.
 *
 * A spline stored as pairs (rowset.h) is summed in its raw B-spline basis,
 * with beta = L^-T w for the block's weights: the scores and the gradient
 * from each row's windows (four values a feature) directly; for the
 * Hessian, each sub-block of rows writes its windows, scaled, into a
 * scratch copy of the dense block widened by the spline blocks' columns;
 * the dense x spline and spline x spline terms are summed from it pair of
 * windows by pair of windows (window_syrk()), and each one-hot column's
 * leads sum those rows into its row of B (group_windows()). The leads are
 * sorted by window pair and by column for that, and the sorts kept between
 * passes in the rowset's order; each group's most frequent column is the
 * total less the others. The sum over all chunks is mapped back to the encoded columns once
 * (g = L^-1 g_beta, H = L^-1 H_beta L^-T): the same sums as the dense
 * encoded columns, with a row's spline costing its four values instead of
 * the block's width.
 */
#include "fedlead/rowset.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/logreg.h"
#include "fedlead/parallel.h"
#include "fedlead/spline.h"
#include "rowset_int.h"

#define W FL_SPLINE_WINDOW

/* Whether rs is in the compact layout (one-hot slots or spline pairs). */
static int compact(const struct fl_rowset *rs)
{
	return rs->nk > 0 || rs->ns > 0;
}

/* The windows a spline block's rows can start at: one per first column. */
static size_t window_count(const struct fl_rowset *rs, size_t f)
{
	return rs->sp[f].end - rs->sp[f].off - (W - 1);
}

/* The pairs of spline blocks f <= g (window_syrk()). */
static size_t block_pairs(const struct fl_rowset *rs)
{
	return rs->ns * (rs->ns + 1) / 2;
}

/* Four doubles, unaligned and aliasing like the intrinsics' __m256d_u: the
 * kernels' vectors (two SSE2 operations, or one AVX2 operation in the copy
 * compiled for it). */
typedef double v4u __attribute__((vector_size(32), aligned(8), may_alias));

int fl_rowset_pass_no_avx2; /* rowset_int.h */

/* Whether the kernels' AVX2 copies run: the CPU has AVX2 and the test of
 * the SSE2 copies did not ask for those. Both copies give the same bits. */
static int use_avx2(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	return !fl_rowset_pass_no_avx2 && __builtin_cpu_supports("avx2");
#else
	return 0;
#endif
}

/* The kernel name(params): name##_body(args) in an SSE2 copy and, on
 * x86-64, one compiled for AVX2, chosen by use_avx2(). The bodies multiply
 * and add, never fused, so both copies give the same bits. */
#if defined(__x86_64__) && defined(__GNUC__)
#define SIMD_COPIES(name, params, args)                                                            \
	static void name##_sse2 params                                                             \
	{                                                                                          \
		name##_body args;                                                                  \
	}                                                                                          \
	__attribute__((target("avx2"))) static void name##_avx2 params                             \
	{                                                                                          \
		name##_body args;                                                                  \
	}                                                                                          \
	static void name params                                                                    \
	{                                                                                          \
		if (use_avx2())                                                                    \
			name##_avx2 args;                                                          \
		else                                                                               \
			name##_sse2 args;                                                          \
	}
#else
#define SIMD_COPIES(name, params, args)                                                            \
	static void name params                                                                    \
	{                                                                                          \
		name##_body args;                                                                  \
	}
#endif

/* Rows of a compact chunk handled together: their z, r, h and scaled dense
 * rows stay in L1/L2 while the group pairs are added. */
#define SUB_ROWS 256

/* nset of a group whose pairs walk every row of a sub-block. */
#define ALL_ROWS SIZE_MAX

/* Rows whose group x group pairs are added together (a multiple of
 * SUB_ROWS): the Hessian's group blocks (2.6 MB of upper triangle for 810
 * columns, more than L2) are swept once per PAIR_ROWS rows instead of once
 * per sub-block. Their slots by group and h take 35 x 16 KiB + 32 KiB for
 * 35 groups. 4,096 rows: 0.139 s a pass with the Hessian against 0.151 s
 * with 256 (200,000 CRM-like leads, best of 12). */
#define PAIR_ROWS 4096

/* A sub-block's leads are numbered in a byte (group_windows()'s sort). */
_Static_assert(SUB_ROWS <= 256, "SUB_ROWS must fit the sort's uint8_t");

/* Widened columns group_windows() sums in registers at a time; the
 * widened rows' stride is a whole number of them. */
#define GROUP_COLS 16
#define PAD(n) (((n) + GROUP_COLS - 1) / GROUP_COLS * GROUP_COLS)

/* Sub-blocks of SUB_ROWS in a chunk of n rows. */
#define SUB_BLOCKS(n) (((n) + SUB_ROWS - 1) / SUB_ROWS)

/* Memory of the dense partials that run in one wave. */
#define DENSE_WAVE_BYTES ((size_t)8 << 20)

/* One chunk's partial sums. */
struct partial {
	double loss;
	double *hdiag;  /* dense, sampled Hessian: the exact diagonal (d) */
	double *grad;   /* d + 1 (compact: the padding column last) */
	double *hess;   /* dense: d * d; compact: (d + 1)^2, upper triangle */
	double *gd;     /* compact: nd, the dense columns' gradient */
	double *hdd;    /* compact: nd x ldh, dense x dense (upper triangle) */
	double *B;      /* compact: (d + 1) * nd, group column x dense column */
	double *scaled; /* compact: SUB_ROWS * nd */
	double *gw;     /* splines: nws * W, the gradient by window slot */
	double *tot;    /* splines, hess: PAD(nde), sum h_i x_i over the widened columns */
	uint32_t *skip; /* splines, hess: nk, each group's column derived (d: none) */
	uint32_t *cnt;  /* splines, hess: the sorts' counts, d + 1 + nk or nwb + 1 */
	uint16_t *pos;  /* splines, hess: d + 1 + nk, where each column's leads end in ord */
	uint8_t *ord;   /* splines, hess: nk * SUB_ROWS, a sub-block's leads by column */
	uint16_t *wpos; /* splines, hess: nwb, where each window pair's leads end in word */
	uint8_t *word;  /* splines, hess: npairs * SUB_ROWS, a sub-block's leads by window pair */
	double *hp;     /* compact: PAIR_ROWS, h of a block of rows for group_pairs() */
	uint32_t *kt;   /* compact: nk * PAIR_ROWS, the block's slots by group */
	uint32_t *set;  /* compact: nk * PAIR_ROWS, a sparse group's rows that set a column */
	size_t *nset;   /* compact: nk, their count (ALL_ROWS: walk every row) */
};

struct pass {
	const struct fl_rowset *rs;
	const double *c, *w;
	double *wext;    /* compact: w with a 0 for the padding column */
	double *wd;      /* compact: w gathered at the dense columns (nde) */
	size_t nde;      /* dense columns and spline blocks' columns */
	size_t ldh;      /* the stride of hdd: PAD(nde) with splines (window_syrk()), else nde */
	size_t nwb;      /* splines: the window pairs' buckets (sort_by_windows()) */
	uint32_t *dcole; /* nde: their columns (the dense ones first) */
	/* ns: each spline block's first widened column, less the block's
	 * first column (mod SIZE_MAX + 1), and its first window slot likewise */
	size_t *dsa;
	size_t *dws;
	size_t nws; /* window slots: per spline block, one per first column */
	int hess;
	struct fl_rowset_order *order; /* splines, hess: the kept sorts, or NULL */
	unsigned every;                /* dense: the Hessian from one block of rows in every */
	size_t chunk_rows, wave_first;
	struct partial *p; /* one per chunk of the current wave */
};

static void partial_free(struct partial *p)
{
	free(p->hdiag);
	free(p->grad);
	free(p->hess);
	free(p->gd);
	free(p->hdd);
	free(p->B);
	free(p->scaled);
	free(p->gw);
	free(p->tot);
	free(p->skip);
	free(p->cnt);
	free(p->pos);
	free(p->ord);
	free(p->wpos);
	free(p->word);
	free(p->hp);
	free(p->kt);
	free(p->set);
	free(p->nset);
}

static int partial_alloc(struct partial *p, const struct fl_rowset *rs, size_t nd, size_t nws,
                         size_t nwb, int hess, unsigned every)
{
	size_t d = rs->d, de = compact(rs) ? d + 1 : d;
	size_t ncnt = de + rs->nk > nwb + 1 ? de + rs->nk : nwb + 1; /* the sorts' counts */

	memset(p, 0, sizeof(*p));
	if ((p->grad = fl_matrix_alloc(1, de)) == NULL ||
	    (hess && (p->hess = fl_matrix_alloc(de, de)) == NULL))
		return FL_ERR_NOMEM;
	if (!compact(rs))
		return hess && every > 1 && (p->hdiag = fl_matrix_alloc(1, d)) == NULL
		               ? FL_ERR_NOMEM
		               : 0;
	if (rs->ns > 0 && ((hess && ((p->tot = fl_matrix_alloc(1, PAD(nd))) == NULL ||
	                             (p->skip = malloc((rs->nk + 1) * sizeof(uint32_t))) == NULL ||
	                             (p->cnt = malloc(ncnt * sizeof(uint32_t))) == NULL ||
	                             (p->wpos = malloc(nwb * sizeof(uint16_t))) == NULL ||
	                             (p->word = malloc(block_pairs(rs) * SUB_ROWS)) == NULL ||
	                             (p->pos = malloc((de + rs->nk) * sizeof(uint16_t))) == NULL ||
	                             (p->ord = malloc((rs->nk + 1) * SUB_ROWS)) == NULL)) ||
	                   (p->gw = fl_matrix_alloc(nws, W)) == NULL))
		return FL_ERR_NOMEM;
	if ((p->gd = fl_matrix_alloc(1, nd)) == NULL ||
	    (hess && ((p->hdd = fl_matrix_alloc(nd, rs->ns > 0 ? PAD(nd) : nd)) == NULL ||
	              (p->B = fl_matrix_alloc(de, nd)) == NULL ||
	              (p->scaled = fl_matrix_alloc(SUB_ROWS, rs->ns > 0 ? PAD(nd) : nd)) == NULL ||
	              (p->hp = malloc(PAIR_ROWS * sizeof(double))) == NULL ||
	              (p->kt = malloc((rs->nk + 1) * PAIR_ROWS * sizeof(uint32_t))) == NULL ||
	              (p->set = malloc((rs->nk + 1) * PAIR_ROWS * sizeof(uint32_t))) == NULL ||
	              (p->nset = malloc((rs->nk + 1) * sizeof(size_t))) == NULL)))
		return FL_ERR_NOMEM;
	return 0;
}

/* y += a x, element by element (the bits of the plain loop: a multiply and
 * an add each, never fused). Two lanes at a time where the compiler has
 * vector types: the one-hot rows of B take a row per group for every lead,
 * and -O2 leaves the plain loop scalar. */
static void axpy(size_t n, double a, const double *restrict x, double *restrict y)
{
	size_t i = 0;
#if defined(__GNUC__)
	typedef double v2 __attribute__((vector_size(16), aligned(8)));
	v2 av = {a, a};

	for (; i + 4 <= n; i += 4) {
		v2 x0, x1, y0, y1;

		memcpy(&x0, x + i, sizeof(x0));
		memcpy(&x1, x + i + 2, sizeof(x1));
		memcpy(&y0, y + i, sizeof(y0));
		memcpy(&y1, y + i + 2, sizeof(y1));
		y0 += av * x0;
		y1 += av * x1;
		memcpy(y + i, &y0, sizeof(y0));
		memcpy(y + i + 2, &y1, sizeof(y1));
	}
#endif
	for (; i < n; i++)
		y[i] += a * x[i];
}

/* A sub-block of rows with spline windows, for group_windows(). */
struct windows {
	size_t rows, nk, nde, d;
	const double *Xs;     /* rows x PAD(nde): sqrt(h_i) x the widened row */
	const double *sh, *V; /* rows: sqrt(h_i); rows x nk, or NULL (all ones) */
	const uint32_t *K;    /* rows x nk */
	const uint32_t *gfirst, *gend;
	const uint32_t *skip; /* nk: the column each group leaves out */
	uint16_t *pos;        /* d + 1 + nk: where each column's leads end in ord */
	uint32_t *cnt;        /* scratch: d + 1 + nk */
	uint8_t *ord;         /* nk x rows: the leads by column, group by group */
	double *B;            /* (d + 1) x nde */
	double *tot;          /* PAD(nde): += the sum of h_i x_i; NULL: no group needs it */
};

/* cnt[k] = the leads among rows of K (nk slots each) whose group sets
 * column k, and cnt[d + 1 + g] those whose group g is empty. */
static void count_by_column(const uint32_t *K, size_t rows, size_t nk, size_t d, uint32_t *cnt)
{
	memset(cnt, 0, (d + 1 + nk) * sizeof(*cnt));
	for (size_t i = 0; i < rows; i++)
		for (size_t g = 0; g < nk; g++) {
			uint32_t k = K[i * nk + g];

			cnt[k == d ? d + 1 + g : k]++;
		}
}

/*
 * The leads of a sub-block in order of their column, group by group: group
 * g's take ord[g * rows, (g + 1) * rows), column by column, those with an
 * empty slot last; afterwards pos[k] is where column k's leads end,
 * counted from the start of its group's part (a counting sort; at most
 * rows, so 16 bits hold it for any number of groups). A column's counter
 * is the same for every group, and an empty slot is counted at d + 1 + g.
 * Row by row, all groups at once: one
 * lead's increments go to different counters, so a run of leads at one
 * column does not make each increment wait on the last.
 */
static void sort_by_column(const struct windows *a)
{
	size_t rows = a->rows, nk = a->nk, d = a->d;
	const uint32_t *K = a->K;
	uint16_t *pos = a->pos;
	uint8_t *ord = a->ord;

	count_by_column(K, rows, nk, d, a->cnt);
	for (size_t g = 0; g < nk; g++) {
		uint16_t run = 0;

		for (uint32_t j = a->gfirst[g]; j < a->gend[g]; j++) {
			pos[j] = run;
			run = (uint16_t)(run + a->cnt[j]);
		}
		pos[d + 1 + g] = run;
	}
	for (size_t i = 0; i < rows; i++)
		for (size_t g = 0; g < nk; g++) {
			uint32_t k = K[i * nk + g];

			ord[g * rows + pos[k == d ? d + 1 + g : k]++] = (uint8_t)i;
		}
}

/* s[0, GROUP_COLS) = the sum of m_t x_t over the leads ord[t0, t1), each
 * x_t the row at Xs + ord[t] * ld + c and m_t its sqrt(h) (times its value
 * of group g with V); or over every lead when ord is NULL. */
static inline __attribute__((always_inline)) void sum_rows(const struct windows *a,
                                                           const uint8_t *ord, size_t t0, size_t t1,
                                                           size_t g, size_t c, double *s)
{
	size_t ld = PAD(a->nde), nk = a->nk;
	const double *sh = a->sh, *V = a->V;
	v4u acc[GROUP_COLS / 4];

	for (size_t q = 0; q < GROUP_COLS / 4; q++)
		acc[q] = (v4u){0, 0, 0, 0};
	for (size_t t = t0; t < t1; t++) {
		size_t i = ord != NULL ? ord[t] : t;
		double m = ord == NULL || V == NULL ? sh[i] : sh[i] * V[i * nk + g];
		v4u mv = {m, m, m, m};
		const double *x = a->Xs + i * ld + c;

		for (size_t q = 0; q < GROUP_COLS / 4; q++)
			acc[q] += mv * *(const v4u *)(x + 4 * q);
	}
	memcpy(s, acc, sizeof(acc));
}

/*
 * The group x dense and group x spline terms of B: row k of B gathers
 * h_i v_ig x_i over the widened columns (the dense ones and each spline
 * block's) of the leads whose group g sets column k; and tot the same
 * over every lead. With the leads sorted by column (sort_by_column()),
 * each column's leads are summed in registers, GROUP_COLS columns at a
 * time, and added to B once a sub-block: a lead costs loads and adds, not
 * the stores to a B larger than L1 that a lead at a time would make, each
 * waiting on the one before it at the same column. The rows summed are
 * the widened ones, sqrt(h_i) x_i, times sqrt(h_i) v_ig. A group's skipped
 * column (choose_skipped()) and its empty slots are not summed. A
 * multiply and an add each, never fused, so the SSE2 and AVX2 copies give
 * the same bits.
 */
static inline __attribute__((always_inline)) void group_windows_body(const struct windows *a)
{
	size_t rows = a->rows, nde = a->nde, ld = PAD(nde);
	double s[GROUP_COLS];

	for (size_t c = 0; a->tot != NULL && c < ld; c += GROUP_COLS) {
		sum_rows(a, NULL, 0, rows, 0, c, s);
		for (size_t q = 0; q < GROUP_COLS; q++)
			a->tot[c + q] += s[q];
	}
	for (size_t g = 0; g < a->nk; g++) {
		const uint8_t *og = a->ord + g * rows;
		size_t t0 = 0;

		for (uint32_t j = a->gfirst[g]; j < a->gend[g]; t0 = a->pos[j], j++) {
			double *bk = a->B + (size_t)j * nde;

			if (j == a->skip[g] || a->pos[j] == t0)
				continue;
			for (size_t c = 0; c < ld; c += GROUP_COLS) {
				sum_rows(a, og, t0, a->pos[j], g, c, s);
				for (size_t q = 0; q < GROUP_COLS && c + q < nde; q++)
					bk[c + q] += s[q];
			}
		}
	}
}

SIMD_COPIES(group_windows, (const struct windows *a), (a))

/* y = a x, element by element, two lanes at a time as axpy(). */
static void scale(size_t n, double a, const double *restrict x, double *restrict y)
{
	size_t i = 0;
#if defined(__GNUC__)
	typedef double v2 __attribute__((vector_size(16), aligned(8)));
	v2 av = {a, a};

	for (; i + 2 <= n; i += 2) {
		v2 x0;

		memcpy(&x0, x + i, sizeof(x0));
		x0 *= av;
		memcpy(y + i, &x0, sizeof(x0));
	}
#endif
	for (; i < n; i++)
		y[i] = a * x[i];
}

/* Four aligned doubles: a window slot. */
typedef double v4a __attribute__((vector_size(32), aligned(32), may_alias));

/* out (nde widened columns) += the window slots acc (nws x W). */
static void fold_slots(const struct pass *ps, const double *acc, double *out)
{
	const struct fl_rowset *rs = ps->rs;
	const double *a = acc;
	double *o = out + rs->nd; /* the blocks' widened columns follow the dense */

	for (size_t f = 0; f < rs->ns; f++) {
		size_t n = rs->sp[f].end - rs->sp[f].off - (W - 1);

		for (size_t s = 0; s < n; s++)
			for (size_t t = 0; t < W; t++)
				o[s + t] += a[s * W + t];
		a += n * W;
		o += rs->sp[f].end - rs->sp[f].off;
	}
}

/* z_i += beta . b_i over each spline window of rows [i0, i0 + rows) (the
 * block weights in raw basis, ps->wd): the four products of a window in
 * one vector, the windows' vectors added lane by lane and the four lanes
 * as (a0 + a1) + (a2 + a3) once a lead: the lanes' sum across a vector
 * costs more than the products, and a lead now pays it once, not once a
 * spline (bench/README.md, "The spline blocks' Hessian by window pairs"). */
static inline __attribute__((always_inline)) void
window_scores_body(const struct pass *ps, size_t i0, size_t rows, double *z)
{
	size_t ns = ps->rs->ns;
	const size_t *dsa = ps->dsa;

	for (size_t i = 0; i < rows; i++) {
		const double *b = ps->rs->B + (i0 + i) * ns * W;
		const uint32_t *st = ps->rs->S + (i0 + i) * ns;
		v4u acc = {0, 0, 0, 0};

		for (size_t f = 0; f < ns; f++)
			acc += *(const v4u *)(ps->wd + (st[f] + dsa[f])) *
			       *(const v4u *)(b + f * W);
		z[i] += (acc[0] + acc[1]) + (acc[2] + acc[3]);
	}
}

/* gw (by window slot) += r_i b_i at each spline window of rows
 * [i0, i0 + rows). */
static inline __attribute__((always_inline)) void
window_grad_body(const struct pass *ps, size_t i0, size_t rows, const double *r, double *gw)
{
	size_t ns = ps->rs->ns;
	const size_t *dws = ps->dws;

	for (size_t i = 0; i < rows; i++) {
		const double *b = ps->rs->B + (i0 + i) * ns * W;
		const uint32_t *st = ps->rs->S + (i0 + i) * ns;
		v4a rv = {r[i], r[i], r[i], r[i]};

		for (size_t f = 0; f < ns; f++)
			*(v4a *)(gw + (st[f] + dws[f]) * W) += rv * *(const v4u *)(b + f * W);
	}
}

SIMD_COPIES(window_scores, (const struct pass *ps, size_t i0, size_t rows, double *z),
            (ps, i0, rows, z))
SIMD_COPIES(window_grad,
            (const struct pass *ps, size_t i0, size_t rows, const double *r, double *gw),
            (ps, i0, rows, r, gw))

/* Rows [i0, i0 + rows) widened and scaled by sqrt(h_i) into xs (stride
 * PAD(nde)), for window_syrk() and group_windows(): the dense block, then each spline block's
 * columns, zero but for the window's four values (spline block f's
 * columns follow the dense block's and the blocks before it, so a window
 * starting at column S is at S + dsa[f]); and sqrt(h_i) into sh. */
static void widen_scaled(const struct pass *ps, size_t i0, size_t rows, const double *h, double *sh,
                         double *xs)
{
	const struct fl_rowset *rs = ps->rs;
	size_t nd = rs->nd, nde = ps->nde, ns = rs->ns, ld = PAD(nde);

	for (size_t i = 0; i < rows; i++) {
		double *x = xs + i * ld, si = sqrt(h[i]);
		const double *b = rs->B + (i0 + i) * ns * W;
		const uint32_t *st = rs->S + (i0 + i) * ns;

		scale(nd, si, rs->X + (i0 + i) * nd, x);
		memset(x + nd, 0, (ld - nd) * sizeof(double));
		for (size_t f = 0; f < ns; f++) {
			double *q = x + (st[f] + ps->dsa[f]);

			for (size_t t = 0; t < W; t++)
				q[t] = si * b[f * W + t];
		}
		sh[i] = si;
	}
}

/*
 * group x group over a block of rows (their h in p->hp, their slots by group
 * in p->kt, V the block's values or NULL), pair by pair: the rows' pairs of
 * two groups fall in one small block of the Hessian, which stays in cache
 * while the rows are walked. A group that sets a column in at most a quarter
 * of the rows (a missing indicator) lists those rows, and its pairs walk only
 * them: the other rows would add to the padding. Every cell outside the
 * padding gets the same adds in the same row order however the rows are
 * blocked.
 */
static void group_pairs(struct partial *p, size_t d, size_t nk, size_t rows, const double *V)
{
	size_t de = d + 1;
	const double *h = p->hp;
	double *hess = p->hess;

	for (size_t g = 0; g < nk; g++) {
		const uint32_t *k = p->kt + g * PAIR_ROWS;
		uint32_t *set = p->set + g * PAIR_ROWS;
		size_t m = 0;

		for (size_t i = 0; i < rows; i++) {
			set[m] = (uint32_t)i;
			m += k[i] != d;
		}
		p->nset[g] = 4 * m <= rows ? m : ALL_ROWS;
	}
	for (size_t g = 0; g < nk; g++) {
		const uint32_t *ka = p->kt + g * PAIR_ROWS;

		for (size_t l = g; l < nk; l++) {
			const uint32_t *cb = p->kt + l * PAIR_ROWS, *set = NULL;
			size_t m = p->nset[g] < p->nset[l] ? p->nset[g] : p->nset[l];

			if (m != ALL_ROWS)
				set = p->set + (p->nset[g] < p->nset[l] ? g : l) * PAIR_ROWS;
			if (set != NULL && V == NULL) {
				for (size_t t = 0; t < m; t++) {
					size_t i = set[t];

					hess[(size_t)ka[i] * de + cb[i]] += h[i];
				}
			} else if (set != NULL) {
				for (size_t t = 0; t < m; t++) {
					size_t i = set[t];

					hess[(size_t)ka[i] * de + cb[i]] +=
					        h[i] * V[i * nk + g] * V[i * nk + l];
				}
			} else if (V == NULL) {
				for (size_t i = 0; i < rows; i++)
					hess[(size_t)ka[i] * de + cb[i]] += h[i];
			} else {
				for (size_t i = 0; i < rows; i++)
					hess[(size_t)ka[i] * de + cb[i]] +=
					        h[i] * V[i * nk + g] * V[i * nk + l];
			}
		}
	}
}

/*
 * The widened columns' Hessian, hdd (stride PAD(nde), its upper triangle)
 * += Xs' Xs over a sub-block's rows Xs = sqrt(h_i) x_i, without the zeros
 * of the spline blocks. A lead sets four columns of each spline block, its
 * window there, so the cells of two blocks f <= g that a lead adds to are
 * the four by four of its two windows. The leads are put in order of their
 * pair of windows, pair of blocks by pair of blocks (sort_by_windows()),
 * and each pair of windows is summed over its leads in registers, four
 * rows by four columns, and added to hdd once a sub-block; the dense
 * columns' rows over every lead, four rows by twelve columns at a time.
 * On bank marketing's six splines (44 widened columns) that is 84 vector
 * products a lead where the dsyrk of the widened rows made 248 (and spent
 * a third of its time packing them), and a pass with the Hessian 7 to
 * 10 % faster (bench/README.md, "The spline blocks' Hessian by window
 * pairs"). The sort depends on the window starts S alone, so it is kept in
 * the rowset with the groups' (fl_rowset_order). Cells left of the
 * diagonal get partial sums that add_compact() never reads. A multiply and
 * an add each, never fused, so the SSE2 and AVX2 copies give the same
 * bits.
 */
/* hdd rows [j, j + R) by columns [c, c + 4 NQ) += their products over the
 * sub-block's first m leads (R <= 4, NQ <= 3). */
static inline __attribute__((always_inline)) void syrk_tile(const double *Xs, size_t ld, size_t m,
                                                            size_t j, size_t R, size_t c, size_t NQ,
                                                            double *hdd)
{
	v4u acc[4][3];

	for (size_t i = 0; i < R; i++)
		for (size_t q = 0; q < NQ; q++)
			acc[i][q] = (v4u){0, 0, 0, 0};
	for (size_t t = 0; t < m; t++) {
		const double *x = Xs + t * ld;
		v4u xc[3];

		for (size_t q = 0; q < NQ; q++)
			xc[q] = *(const v4u *)(x + c + 4 * q);
		for (size_t i = 0; i < R; i++) {
			v4u bv = {x[j + i], x[j + i], x[j + i], x[j + i]};

			for (size_t q = 0; q < NQ; q++)
				acc[i][q] += bv * xc[q];
		}
	}
	for (size_t i = 0; i < R; i++)
		for (size_t q = 0; q < NQ; q++)
			*(v4u *)(hdd + (j + i) * ld + c + 4 * q) += acc[i][q];
}

/* hdd rows [j, j + R) from column j rounded down to four on to ld. */
static inline __attribute__((always_inline)) void syrk_rows(const double *Xs, size_t ld, size_t m,
                                                            size_t j, size_t R, double *hdd)
{
	size_t c = j & ~(size_t)3;

	for (; c + 12 <= ld; c += 12)
		syrk_tile(Xs, ld, m, j, R, c, 3, hdd);
	if (c + 8 == ld)
		syrk_tile(Xs, ld, m, j, R, c, 2, hdd);
	else if (c + 4 == ld)
		syrk_tile(Xs, ld, m, j, R, c, 1, hdd);
}

/* hdd rows [qa, qa + 4) by columns [qb, qb + 4) += the products over the
 * leads ord[t0, t1): two windows' cells. */
static inline __attribute__((always_inline)) void syrk_windows(const double *Xs, size_t ld,
                                                               const uint8_t *ord, size_t t0,
                                                               size_t t1, size_t qa, size_t qb,
                                                               double *hdd)
{
	v4u a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;

	for (size_t t = t0; t < t1; t++) {
		const double *x = Xs + ord[t] * ld;
		v4u u = *(const v4u *)(x + qb);
		v4u b0 = {x[qa], x[qa], x[qa], x[qa]};
		v4u b1 = {x[qa + 1], x[qa + 1], x[qa + 1], x[qa + 1]};
		v4u b2 = {x[qa + 2], x[qa + 2], x[qa + 2], x[qa + 2]};
		v4u b3 = {x[qa + 3], x[qa + 3], x[qa + 3], x[qa + 3]};

		a0 += b0 * u;
		a1 += b1 * u;
		a2 += b2 * u;
		a3 += b3 * u;
	}
	*(v4u *)(hdd + qa * ld + qb) += a0;
	*(v4u *)(hdd + (qa + 1) * ld + qb) += a1;
	*(v4u *)(hdd + (qa + 2) * ld + qb) += a2;
	*(v4u *)(hdd + (qa + 3) * ld + qb) += a3;
}

/*
 * The leads of a sub-block (rows of them from i0) in order of their pair of
 * windows, for each pair of spline blocks f <= g in turn: the pair's order
 * in word[pair * rows ...], and where each of its buckets ends in wpos
 * (ps->nwb in all; cnt is scratch of as many and one more). Bucket (a, b)
 * of a pair, a and b the windows' indices in f and g, is a *
 * window_count(g) + b.
 */
static void sort_by_windows(const struct pass *ps, size_t i0, size_t rows, uint32_t *cnt,
                            uint16_t *wpos, uint8_t *word)
{
	const struct fl_rowset *rs = ps->rs;
	size_t ns = rs->ns;
	const uint32_t *S = rs->S + i0 * ns;

	for (size_t f = 0; f < ns; f++)
		for (size_t g = f; g < ns; g++) {
			uint32_t of = rs->sp[f].off, og = rs->sp[g].off;
			size_t nwg = window_count(rs, g), nb = window_count(rs, f) * nwg;

			memset(cnt, 0, (nb + 1) * sizeof(*cnt));
			for (size_t t = 0; t < rows; t++)
				cnt[(S[t * ns + f] - of) * nwg + (S[t * ns + g] - og) + 1]++;
			for (size_t b = 1; b < nb; b++)
				cnt[b] += cnt[b - 1];
			for (size_t t = 0; t < rows; t++)
				word[cnt[(S[t * ns + f] - of) * nwg + (S[t * ns + g] - og)]++] =
				        (uint8_t)t;
			for (size_t b = 0; b < nb; b++)
				wpos[b] = (uint16_t)cnt[b];
			wpos += nb;
			word += rows;
		}
}

static inline __attribute__((always_inline)) void window_syrk_body(const struct pass *ps,
                                                                   size_t rows, const double *Xs,
                                                                   const uint16_t *wpos,
                                                                   const uint8_t *word, double *hdd)
{
	const struct fl_rowset *rs = ps->rs;
	size_t nd = rs->nd, ld = PAD(ps->nde), j = 0;

	for (; j + 4 <= nd; j += 4)
		syrk_rows(Xs, ld, rows, j, 4, hdd);
	for (; j < nd; j++)
		syrk_rows(Xs, ld, rows, j, 1, hdd);
	for (size_t f = 0; f < rs->ns; f++)
		for (size_t g = f; g < rs->ns; g++) {
			size_t nwg = window_count(rs, g), nb = window_count(rs, f) * nwg;
			size_t qf = rs->sp[f].off + ps->dsa[f], qg = rs->sp[g].off + ps->dsa[g];

			for (size_t b = 0, t0 = 0; b < nb; t0 = wpos[b], b++)
				if (wpos[b] > t0)
					syrk_windows(Xs, ld, word, t0, wpos[b], qf + b / nwg,
					             qg + b % nwg, hdd);
			wpos += nb;
			word += rows;
		}
}

SIMD_COPIES(window_syrk,
            (const struct pass *ps, size_t rows, const double *Xs, const uint16_t *wpos,
             const uint8_t *word, double *hdd),
            (ps, rows, Xs, wpos, word, hdd))

/*
 * What a pass with the Hessian derives from K and S alone, kept in the rowset
 * (fedlead/rowset.h, order) for the next pass over the same rows: each
 * chunk's skipped columns (choose_skipped()) and each sub-block's sorts
 * (sort_by_column(), sort_by_windows()). Built by the first such pass,
 * chunk by chunk on the chunk's thread; a later pass over rows with another
 * K or S, count or chunking builds it again. Either part may be left out
 * (NULL), for its memory. The same code makes it either way, so a pass
 * gives the same bits with it or without it (a part left out, or the whole
 * NULL: every pass sorts for itself).
 */
struct fl_rowset_order {
	const uint32_t *K, *S; /* the rows it is of, 0 rows when stale */
	size_t n, chunk_rows;
	unsigned char *done; /* per chunk: built */
	uint32_t *skip;      /* groups: per chunk: nk */
	uint16_t *pos;       /* groups: per sub-block (SUB_BLOCKS() a chunk): d + 1 + nk */
	uint8_t *ord;        /* groups: n x nk: each sub-block's nk x rows */
	uint16_t *wpos;      /* splines: per sub-block: the pass's nwb */
	uint8_t *word;       /* splines: n x pairs of blocks: each sub-block's pairs x rows */
};

struct fl_rowset_order *fl_rowset_order_new(void)
{
	return calloc(1, sizeof(struct fl_rowset_order));
}

static void order_drop(struct fl_rowset_order *o)
{
	free(o->done);
	free(o->skip);
	free(o->pos);
	free(o->ord);
	free(o->wpos);
	free(o->word);
	memset(o, 0, sizeof(*o));
}

void fl_rowset_order_free(struct fl_rowset_order *o)
{
	if (o == NULL)
		return;
	order_drop(o);
	free(o);
}

void fl_rowset_order_stale(struct fl_rowset_order *o)
{
	if (o != NULL)
		o->K = NULL;
}

/*
 * rs's kept order for a pass in chunks of chunk_rows (n_chunks of them)
 * with nwb window pairs' buckets a sub-block, made ready to use or to
 * build; NULL when it cannot serve (none kept, no memory). Each part is
 * kept only within half the memory of what it is derived from, and the
 * pass sorts for itself where it is not: the groups' (a byte a lead and
 * group, and two bytes a column every SUB_ROWS leads, which wide rows make
 * large) within half of K; the splines' (a byte a lead and pair of blocks,
 * and two bytes a bucket every SUB_ROWS leads) within half of the window
 * values B, which up to 31 splines of a few knots hold.
 */
static struct fl_rowset_order *order_for(const struct fl_rowset *rs, size_t chunk_rows,
                                         size_t n_chunks, size_t nwb)
{
	struct fl_rowset_order *o = rs->order;
	size_t n = rs->n, nk = rs->nk, ns = rs->ns, d = rs->d, sbc = SUB_BLOCKS(chunk_rows), nsb;
	size_t npairs = block_pairs(rs);

	if (o == NULL)
		return NULL;
	if (o->K == rs->K && o->S == rs->S && o->n == n && o->chunk_rows == chunk_rows && n > 0)
		return o;
	order_drop(o);
	if (n == 0 || n_chunks > SIZE_MAX / sbc || (o->done = calloc(n_chunks, 1)) == NULL) {
		order_drop(o);
		return NULL;
	}
	/* Sub-blocks: every chunk's but the last, which holds the rest of the
	 * rows (a chunk is 65,536 rows, a fold of a small file far fewer). */
	nsb = (n_chunks - 1) * sbc + SUB_BLOCKS(n - (n_chunks - 1) * chunk_rows);
	if (nk > 0 && nsb <= SIZE_MAX / (d + 1 + nk) / 2 &&
	    nsb * (d + 1 + nk) * 2 <= n * nk * sizeof(uint32_t) / 2 - n * nk &&
	    ((o->skip = malloc(n_chunks * nk * sizeof(uint32_t))) == NULL ||
	     (o->pos = malloc(nsb * (d + 1 + nk) * sizeof(uint16_t))) == NULL ||
	     (o->ord = malloc(n * nk)) == NULL)) {
		free(o->skip);
		free(o->pos);
		o->skip = NULL;
		o->pos = NULL;
	}
	if (ns > 0 && nwb > 0 && nsb <= SIZE_MAX / nwb / 2 &&
	    n * npairs + nsb * nwb * 2 <= n * ns * W * sizeof(double) / 2 &&
	    ((o->wpos = malloc(nsb * nwb * sizeof(uint16_t))) == NULL ||
	     (o->word = malloc(n * npairs)) == NULL)) {
		free(o->wpos);
		o->wpos = NULL;
	}
	o->K = rs->K;
	o->S = rs->S;
	o->n = n;
	o->chunk_rows = chunk_rows;
	return o;
}

/*
 * Each group's most frequent column among rows [r0, r0 + n), which
 * group_windows() leaves out: when every lead sets one column of the group
 * (no empty slot) with a one (no values), that column's row of B is the
 * sum over all leads (tot) less the group's other rows (derive_skipped()),
 * and the leads most often at one column cost nothing. A group with an
 * empty slot or values leaves out only the empty slot (d), as the other
 * terms do. The choice depends on the chunk's rows only, not on the
 * thread count.
 */
static void choose_skipped(const struct pass *ps, size_t r0, size_t n, struct partial *p,
                           uint32_t *skip)
{
	const struct fl_rowset *rs = ps->rs;
	size_t d = rs->d, nk = rs->nk;
	const uint32_t *K = rs->K + r0 * nk;
	uint32_t *cnt = p->cnt;

	count_by_column(K, n, nk, d, cnt);
	for (size_t g = 0; g < nk; g++) {
		uint32_t best = (uint32_t)d;

		if (rs->V == NULL && cnt[d + 1 + g] == 0)
			for (uint32_t j = rs->gfirst[g]; j < rs->gend[g]; j++)
				if (best == d || cnt[j] > cnt[best])
					best = j;
		skip[g] = best;
	}
}

/* The rows of B that group_windows() left out (choose_skipped()). */
static void derive_skipped(const struct pass *ps, struct partial *p, const uint32_t *skip)
{
	const struct fl_rowset *rs = ps->rs;
	size_t nde = ps->nde, d = rs->d;

	for (size_t g = 0; g < rs->nk; g++) {
		double *bc = p->B + (size_t)skip[g] * nde;

		if (skip[g] == d)
			continue;
		memcpy(bc, p->tot, nde * sizeof(double));
		for (uint32_t j = rs->gfirst[g]; j < rs->gend[g]; j++)
			if (j != skip[g])
				for (size_t c = 0; c < nde; c++)
					bc[c] -= p->B[(size_t)j * nde + c];
	}
}

/* The compact pass over rows [r0, r0 + n) into p (zeroed here). With
 * splines, the dense block's columns and the spline blocks' (widened) are
 * summed as one: nde columns in gd, hdd and B. */
static void compact_chunk(const struct pass *ps, size_t r0, size_t n, struct partial *p)
{
	const struct fl_rowset *rs = ps->rs;
	size_t d = rs->d, de = d + 1, nd = rs->nd, nde = ps->nde, nk = rs->nk, ns = rs->ns;
	double z[SUB_ROWS], rr[SUB_ROWS], h[SUB_ROWS], sh[SUB_ROWS], sum = 0;
	size_t pr = 0; /* rows waiting for group_pairs() */
	/* The sorts of splines: kept (ps->order) or this pass's */
	struct fl_rowset_order *o = ps->order;
	size_t chunk = r0 / ps->chunk_rows, sb0 = chunk * SUB_BLOCKS(ps->chunk_rows);
	int built = o != NULL && o->done[chunk];
	int gkept = o != NULL && o->ord != NULL, wkept = o != NULL && o->word != NULL;
	uint32_t *skip = gkept ? o->skip + chunk * nk : p->skip;
	int derives = 0; /* a group's column is derived from tot */

	memset(p->grad, 0, de * sizeof(double));
	memset(p->gd, 0, nde * sizeof(double));
	if (ns > 0)
		memset(p->gw, 0, ps->nws * W * sizeof(double));
	if (ps->hess) {
		memset(p->hess, 0, de * de * sizeof(double));
		memset(p->hdd, 0, nde * ps->ldh * sizeof(double));
		memset(p->B, 0, de * nde * sizeof(double));
		if (ns > 0) {
			memset(p->tot, 0, PAD(nde) * sizeof(double));
			if (!built || !gkept)
				choose_skipped(ps, r0, n, p, skip);
			for (size_t g = 0; g < nk; g++)
				derives |= skip[g] != d;
		}
	}
	for (size_t s0 = 0; s0 < n; s0 += SUB_ROWS) {
		size_t rows = n - s0 < SUB_ROWS ? n - s0 : SUB_ROWS, i0 = r0 + s0;
		const double *Xb = rs->X + i0 * nd, *Vb = rs->V != NULL ? rs->V + i0 * nk : NULL;
		const uint32_t *Kb = rs->K + i0 * nk;

		if (nd > 0)
			cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)rows, (blasint)nd, 1.0,
			            Xb, (blasint)nd, ps->wd, 1, 0.0, z, 1);
		else
			memset(z, 0, rows * sizeof(double));
		if (ns > 0)
			window_scores(ps, i0, rows, z);
		for (size_t i = 0; i < rows; i++) {
			const uint32_t *k = Kb + i * nk;
			double zi = z[i];

			if (Vb == NULL)
				for (size_t g = 0; g < nk; g++)
					zi += ps->wext[k[g]];
			else
				for (size_t g = 0; g < nk; g++)
					zi += ps->wext[k[g]] * Vb[i * nk + g];
			z[i] = zi;
		}
		for (size_t i = 0; i < rows; i++) {
			/* The arithmetic of fl_linalg_logistic(), row by row. */
			double zi = z[i], yi = rs->y[i0 + i];
			double ci = ps->c != NULL ? ps->c[i0 + i] : 1.0;
			double e = exp(-fabs(zi));
			double s = zi >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

			sum += ci * ((zi > 0 ? zi : 0) - yi * zi + log1p(e));
			rr[i] = ci * (s - yi);
			h[i] = ci * (e / ((1.0 + e) * (1.0 + e)));
		}
		if (nd > 0)
			cblas_dgemv(CblasRowMajor, CblasTrans, (blasint)rows, (blasint)nd, 1.0, Xb,
			            (blasint)nd, rr, 1, 1.0, p->gd, 1);
		if (ns > 0)
			window_grad(ps, i0, rows, rr, p->gw);
		/* An empty slot (k = d) would add to the padding, which is thrown
		 * away: skipped, here and below, so that the rows of a mostly
		 * empty group (a missing indicator) do not queue on one cell. */
		for (size_t i = 0; i < rows; i++) {
			const uint32_t *k = Kb + i * nk;

			for (size_t g = 0; g < nk; g++)
				if (k[g] != d)
					p->grad[k[g]] +=
					        Vb == NULL ? rr[i] : rr[i] * Vb[i * nk + g];
		}
		if (!ps->hess)
			continue;
		if (ns > 0) {
			size_t sb = sb0 + s0 / SUB_ROWS;
			uint16_t *wpos = wkept ? o->wpos + sb * ps->nwb : p->wpos;
			uint8_t *word = wkept ? o->word + i0 * block_pairs(rs) : p->word;
			struct windows wa = {.rows = rows,
			                     .nk = nk,
			                     .nde = nde,
			                     .d = d,
			                     .Xs = p->scaled,
			                     .sh = sh,
			                     .V = Vb,
			                     .K = Kb,
			                     .gfirst = rs->gfirst,
			                     .gend = rs->gend,
			                     .skip = skip,
			                     .pos = gkept ? o->pos + sb * (d + 1 + nk) : p->pos,
			                     .ord = gkept ? o->ord + i0 * nk : p->ord,
			                     .cnt = p->cnt,
			                     .B = p->B,
			                     .tot = derives ? p->tot : NULL};

			widen_scaled(ps, i0, rows, h, sh, p->scaled);
			if (!built || !wkept)
				sort_by_windows(ps, i0, rows, p->cnt, wpos, word);
			window_syrk(ps, rows, p->scaled, wpos, word, p->hdd);
			/* dense x group and spline x group: rows of B */
			if (!built || !gkept)
				sort_by_column(&wa);
			group_windows(&wa);
		} else if (nd > 0) {
			for (size_t i = 0; i < rows; i++)
				scale(nd, sqrt(h[i]), Xb + i * nd, p->scaled + i * nd);
			cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)nd,
			            (blasint)rows, 1.0, p->scaled, (blasint)nd, 1.0, p->hdd,
			            (blasint)nd);
			/* dense x group: row k of B gathers h_i xd_i */
			for (size_t i = 0; i < rows; i++) {
				const uint32_t *k = Kb + i * nk;
				const double *xi = Xb + i * nd;

				for (size_t g = 0; g < nk; g++) {
					double hv = Vb == NULL ? h[i] : h[i] * Vb[i * nk + g];

					if (k[g] == d)
						continue;
					axpy(nd, hv, xi, p->B + (size_t)k[g] * nd);
				}
			}
		}
		memcpy(p->hp + pr, h, rows * sizeof(double));
		for (size_t g = 0; g < nk; g++)
			for (size_t i = 0; i < rows; i++)
				p->kt[g * PAIR_ROWS + pr + i] = Kb[i * nk + g];
		pr += rows;
		if (pr == PAIR_ROWS || s0 + rows == n) {
			group_pairs(p, d, nk, pr, Vb != NULL ? Vb - (pr - rows) * nk : NULL);
			pr = 0;
		}
	}
	if (ns > 0)
		fold_slots(ps, p->gw, p->gd);
	if (ns > 0 && ps->hess) {
		derive_skipped(ps, p, skip);
		if (o != NULL)
			o->done[chunk] = 1;
	}
	p->loss = sum;
}

/* beta of spline block sp (its columns [off, end)): L^-T w on the basis,
 * w itself on the special-value columns. */
static void block_to_raw(const struct fl_rowset_spline *sp, const double *w, double *beta)
{
	size_t nb = sp->nb;

	for (size_t j = 0; j < nb; j++) {
		double t = 0;

		for (size_t c = j; c < nb; c++)
			t += sp->Li[c * nb + j] * w[sp->off + c];
		beta[j] = t;
	}
	for (size_t j = sp->off + nb; j < sp->end; j++)
		beta[j - sp->off] = w[j];
}

/*
 * Maps the raw-basis gradient and (full, symmetric) Hessian of the spline
 * blocks back to the encoded columns: g_S = Li g_S, then H = T H T^T block
 * by block (rows, then columns); the upper triangle is kept and mirrored,
 * so the result is exactly symmetric.
 */
static void to_encoded(const struct fl_rowset *rs, double *grad, double *hess)
{
	size_t d = rs->d;
	double t[FL_SPLINE_MAX_KNOTS + W];

	for (size_t f = 0; f < rs->ns; f++) {
		const struct fl_rowset_spline *sp = &rs->sp[f];
		const double *Li = sp->Li;
		size_t nb = sp->nb, off = sp->off;

		for (size_t c = nb; c-- > 0;) {
			double v = 0;

			for (size_t j = 0; j <= c; j++)
				v += Li[c * nb + j] * grad[off + j];
			grad[off + c] = v;
		}
		if (hess == NULL)
			continue;
		/* rows off..off+nb: H[S, :] = Li H[S, :] */
		for (size_t col = 0; col < d; col++) {
			for (size_t c = 0; c < nb; c++) {
				double v = 0;

				for (size_t j = 0; j <= c; j++)
					v += Li[c * nb + j] * hess[(off + j) * d + col];
				t[c] = v;
			}
			for (size_t c = 0; c < nb; c++)
				hess[(off + c) * d + col] = t[c];
		}
		/* columns: H[:, S] = H[:, S] Li^T */
		for (size_t row = 0; row < d; row++) {
			double *hr = hess + row * d + off;

			for (size_t c = 0; c < nb; c++) {
				double v = 0;

				for (size_t j = 0; j <= c; j++)
					v += hr[j] * Li[c * nb + j];
				t[c] = v;
			}
			memcpy(hr, t, nb * sizeof(double));
		}
	}
	if (hess != NULL)
		for (size_t i = 0; i < d; i++)
			for (size_t j = i + 1; j < d; j++)
				hess[j * d + i] = hess[i * d + j];
}

static void dense_chunk(const struct pass *ps, size_t r0, size_t n, struct partial *p)
{
	const struct fl_rowset *rs = ps->rs;

	fl_linalg_logistic_sampled(rs->X + r0 * rs->nd, n, rs->d, rs->y + r0,
	                           ps->c != NULL ? ps->c + r0 : NULL, ps->w, r0, ps->every,
	                           &p->loss, p->grad, ps->hess ? p->hess : NULL, p->hdiag, NULL);
}

static void run_chunk(void *arg, size_t c)
{
	struct pass *ps = arg;
	size_t chunk = ps->wave_first + c, r0 = chunk * ps->chunk_rows;
	size_t n = ps->rs->n - r0 < ps->chunk_rows ? ps->rs->n - r0 : ps->chunk_rows;

	if (compact(ps->rs))
		compact_chunk(ps, r0, n, &ps->p[c]);
	else
		dense_chunk(ps, r0, n, &ps->p[c]);
}

/* Adds a compact partial into the d x d upper triangle of hess and grad. */
static void add_compact(const struct pass *ps, const struct partial *p, double *grad, double *hess)
{
	const struct fl_rowset *rs = ps->rs;
	const uint32_t *dcol = ps->dcole;
	size_t d = rs->d, de = d + 1, nd = ps->nde;

	for (size_t a = 0; a < nd; a++)
		grad[dcol[a]] += p->gd[a];
	for (size_t j = 0; j < d; j++)
		grad[j] += p->grad[j];
	if (hess == NULL)
		return;
	/* The dense columns ascend, then each spline block's: a pair of them
	 * goes to the upper triangle as (smaller, larger). */
	for (size_t a = 0; a < nd; a++)
		for (size_t b = a; b < nd; b++) {
			size_t ja = dcol[a], jb = dcol[b];

			hess[(ja < jb ? ja : jb) * d + (ja < jb ? jb : ja)] +=
			        p->hdd[a * ps->ldh + b];
		}
	for (size_t j = 0; j < d; j++) {
		const double *b = p->B + j * nd;

		for (size_t a = 0; a < nd; a++) {
			size_t q = dcol[a];

			if (b[a] != 0)
				hess[(j < q ? j : q) * d + (j < q ? q : j)] += b[a];
		}
	}
	for (size_t j = 0; j < d; j++)
		for (size_t l = j; l < d; l++)
			hess[j * d + l] += p->hess[j * de + l];
}

/* fl_rowset_logistic(), and with every > 1 (dense rows, hess) the sampled
 * rows' Hessian and the exact diagonal in hdiag (d doubles). */
static int logistic_pass(const struct fl_rowset *rs, const double *c, const double *w,
                         unsigned threads, unsigned every, double *loss, double *grad, double *hess,
                         double *hdiag)
{
	struct pass ps = {.rs = rs, .c = c, .w = w, .hess = hess != NULL, .every = every};
	size_t d = rs->d, n_chunks, wave, allocated = 0;
	int r = FL_ERR_NOMEM;

	*loss = 0;
	if (hdiag != NULL)
		memset(hdiag, 0, d * sizeof(*hdiag));
	memset(grad, 0, d * sizeof(*grad));
	if (hess != NULL)
		memset(hess, 0, d * d * sizeof(*hess));
	if (d == 0 || rs->n == 0)
		return 0;
	if (threads == 0)
		threads = 1;
	ps.chunk_rows = rs->chunk_rows > 0 ? rs->chunk_rows : FL_ROWSET_CHUNK_ROWS;
	n_chunks = fl_parallel_chunks(rs->n, ps.chunk_rows);
	/* A wave of partials at a time bounds the memory (a compact
	 * Hessian partial is (d+1)^2 doubles); the waves are added in chunk
	 * order, so their size changes nothing in the result. Dense
	 * partials (d^2 doubles) up to DENSE_WAVE_BYTES go in one wave: a
	 * thread the machine holds back then does not stall the others at
	 * the end of every wave. */
	wave = 2 * (size_t)threads;
	if (!compact(rs)) {
		size_t most =
		        DENSE_WAVE_BYTES / ((d + (hess != NULL ? d * d : 0)) * sizeof(double));

		wave = most > wave ? most : wave;
	}
	if (wave > n_chunks)
		wave = n_chunks;
	ps.nde = rs->nd;
	for (size_t f = 0; f < rs->ns; f++)
		ps.nde += rs->sp[f].end - rs->sp[f].off;
	if ((ps.dcole = malloc((ps.nde ? ps.nde : 1) * sizeof(uint32_t))) == NULL)
		goto out;
	if ((ps.dsa = malloc((rs->ns ? rs->ns : 1) * sizeof(size_t))) == NULL ||
	    (ps.dws = malloc((rs->ns ? rs->ns : 1) * sizeof(size_t))) == NULL)
		goto out;
	memcpy(ps.dcole, rs->dcol, rs->nd * sizeof(uint32_t));
	for (size_t f = 0, a = rs->nd; f < rs->ns; f++) {
		ps.dsa[f] = a - rs->sp[f].off;
		ps.dws[f] = ps.nws - rs->sp[f].off;
		ps.nws += window_count(rs, f);
		for (uint32_t j = rs->sp[f].off; j < rs->sp[f].end; j++)
			ps.dcole[a++] = j;
	}
	ps.ldh = rs->ns > 0 ? PAD(ps.nde) : ps.nde;
	for (size_t f = 0; f < rs->ns; f++)
		for (size_t g = f; g < rs->ns; g++)
			ps.nwb += window_count(rs, f) * window_count(rs, g);
	if (hess != NULL && rs->ns > 0)
		ps.order = order_for(rs, ps.chunk_rows, n_chunks, ps.nwb);
	if ((ps.p = calloc(wave, sizeof(*ps.p))) == NULL)
		goto out;
	for (; allocated < wave; allocated++)
		if (partial_alloc(&ps.p[allocated], rs, ps.nde, ps.nws, ps.nwb, ps.hess, every) !=
		    0) {
			partial_free(&ps.p[allocated]);
			goto out;
		}
	if (rs->R != NULL) {
		r = fl_fail(FL_ERR_INTERNAL,
		            "train: spline rows used before their knots were placed");
		goto out;
	}
	if (compact(rs)) {
		if ((ps.wext = fl_matrix_alloc(1, d + 1)) == NULL ||
		    (ps.wd = fl_matrix_alloc(1, ps.nde ? ps.nde : 1)) == NULL)
			goto out;
		memcpy(ps.wext, w, d * sizeof(*w));
		for (size_t a = 0; a < rs->nd; a++)
			ps.wd[a] = w[rs->dcol[a]];
		for (size_t f = 0, a = rs->nd; f < rs->ns; f++) {
			block_to_raw(&rs->sp[f], w, ps.wd + a);
			a += rs->sp[f].end - rs->sp[f].off;
		}
	}
	for (size_t first = 0; first < n_chunks; first += wave) {
		size_t m = n_chunks - first < wave ? n_chunks - first : wave;

		ps.wave_first = first;
		fl_parallel_for(threads, m, run_chunk, &ps);
		for (size_t k = 0; k < m; k++) {
			const struct partial *p = &ps.p[k];

			*loss += p->loss;
			for (size_t j = 0; p->hdiag != NULL && j < d; j++)
				hdiag[j] += p->hdiag[j];
			if (compact(rs)) {
				add_compact(&ps, p, grad, hess);
				continue;
			}
			/* Dense: the first chunk is written as is, so one chunk
			 * gives fl_linalg_logistic()'s bits. */
			for (size_t j = 0; j < d; j++)
				grad[j] += p->grad[j];
			if (hess != NULL)
				for (size_t j = 0; j < d * d; j++)
					hess[j] += p->hess[j];
		}
	}
	if (hess != NULL && compact(rs))
		for (size_t i = 0; i < d; i++)
			for (size_t j = i + 1; j < d; j++)
				hess[j * d + i] = hess[i * d + j];
	if (rs->ns > 0)
		to_encoded(rs, grad, hess);
	r = 0;
out:
	if (r == FL_ERR_NOMEM)
		fl_fail(r, "train: out of memory for a pass over %zu columns", d);
	for (size_t k = 0; k < allocated; k++)
		partial_free(&ps.p[k]);
	free(ps.p);
	free(ps.wext);
	free(ps.wd);
	free(ps.dcole);
	free(ps.dsa);
	free(ps.dws);
	return r;
}

int fl_rowset_logistic(const struct fl_rowset *rs, const double *c, const double *w,
                       unsigned threads, double *loss, double *grad, double *hess)
{
	return logistic_pass(rs, c, w, threads, 1, loss, grad, hess, NULL);
}

int fl_rowset_logistic_sampled(const struct fl_rowset *rs, const double *c, const double *w,
                               unsigned threads, double *loss, double *grad, double *hess)
{
	double *hdiag;
	int r;

	if (compact(rs) || hess == NULL)
		return logistic_pass(rs, c, w, threads, 1, loss, grad, hess, NULL);
	if ((hdiag = fl_matrix_alloc(1, rs->d)) == NULL)
		return fl_fail(FL_ERR_NOMEM, "train: out of memory for a pass over %zu columns",
		               rs->d);
	r = logistic_pass(rs, c, w, threads, FL_HESS_SAMPLE_EVERY, loss, grad, hess, hdiag);
	if (r == 0 && fl_hess_sample_fit(hess, hdiag, rs->d) != 0)
		r = (r = logistic_pass(rs, c, w, threads, 1, loss, grad, hess, NULL)) != 0
		            ? r
		            : FL_SOLVER_HESS_EXACT;
	free(hdiag);
	return r;
}

void fl_rowset_scores(const struct fl_rowset *rs, const double *w, double *z)
{
	if (!compact(rs)) {
		fl_linalg_gemv(rs->X, rs->n, rs->d, w, z);
		return;
	}
	for (size_t i = 0; i < rs->n; i++) {
		const double *x = rs->X + i * rs->nd;
		const uint32_t *k = rs->K + i * rs->nk;
		double zi = 0;

		for (size_t a = 0; a < rs->nd; a++)
			zi += x[a] * w[rs->dcol[a]];
		for (size_t g = 0; g < rs->nk; g++)
			if (k[g] < rs->d)
				zi += rs->V != NULL ? w[k[g]] * rs->V[i * rs->nk + g] : w[k[g]];
		z[i] = zi;
	}
	/* Spline pairs, feature by feature, with the block's raw-basis
	 * weights. */
	for (size_t f = 0; f < rs->ns; f++) {
		const struct fl_rowset_spline *sp = &rs->sp[f];
		double beta[FL_SPLINE_MAX_KNOTS + FL_SPLINE_MAX_SPECIAL + W];

		block_to_raw(sp, w, beta);
		for (size_t i = 0; i < rs->n; i++) {
			const double *b = rs->B + (i * rs->ns + f) * W;
			const double *wb = beta + (rs->S[i * rs->ns + f] - sp->off);

			z[i] += wb[0] * b[0] + wb[1] * b[1] + wb[2] * b[2] + wb[3] * b[3];
		}
	}
}
