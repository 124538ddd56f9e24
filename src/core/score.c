/*
 * Scoring pipeline. One pass over the lead file reads, scores and explains
 * every lead, feeding the ranker (which spills to disk) and spooling each
 * lead's output line without its rank; a second phase writes the lines with
 * their ranks and deciles (see "one pass over the leads" below). Memory
 * stays constant in the number of leads.
 */
#define _GNU_SOURCE /* sync_file_range */
#include "fedlead/score.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/linalg.h"
#include "fedlead/numfmt.h"
#include "fedlead/obuf.h"
#include "fedlead/parallel.h"
#include "fedlead/rows.h"
#include "fedlead/source.h"
#include "fedlead/spline.h"
#include "score_int.h"

double fl_score_contribution(const struct fl_model *m, const double *x, size_t j)
{
	return m->w[j] * (x[j] - m->scaler->baseline[j]);
}

int fl_score_no_avx2; /* score_int.h */

#if defined(__x86_64__) && defined(__GNUC__)
/* Whether the AVX2 copies (standardise_avx2(), mask64()) may run here. */
static int use_avx2(void)
{
	static atomic_int have = -1;
	int h = atomic_load_explicit(&have, memory_order_relaxed);

	if (h < 0) {
		__builtin_cpu_init();
		h = __builtin_cpu_supports("avx2") != 0;
		atomic_store_explicit(&have, h, memory_order_relaxed);
	}
	return h && !fl_score_no_avx2;
}
#endif

/* Part "every column" of a feature, for reasons. */
#define WHOLE SIZE_MAX

/* Writes one CSV field, quoted only when RFC 4180 requires it. */
static void put_field(FILE *fp, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

struct reason {
	size_t feature, part;
	double contribution;
};

/*
 * Where reasons come from, worked out once per model rather than per lead:
 * every part of every feature (fl_feature_part()) with its columns, in
 * schema order. A date with "missing": "impute" also has its WHOLE entry,
 * used instead of its parts for a lead whose date is missing.
 */
struct rpart {
	size_t feature, part, start, width;
};

struct rtab {
	struct rpart *parts; /* every feature's parts, in order */
	size_t *first;       /* parts of feature i: [first[i], first[i + 1]) */
	struct rpart *whole; /* whole[i]: feature i as one reason */
	size_t n_parts;
	/* Every part is one column and none is ever replaced by its WHOLE
	 * (no date with "missing": "impute"): the candidates are the same
	 * parts for every lead, so their pointers are set once
	 * (cand_init()), and part q is column col0 + q when contig. */
	int flat, contig;
	size_t col0;
};

static void rtab_free(struct rtab *t)
{
	free(t->parts);
	free(t->first);
	free(t->whole);
	memset(t, 0, sizeof(*t));
}

static int rtab_init(const struct fl_model *m, struct rtab *t)
{
	const struct fl_schema *s = m->schema;
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < s->n_features; i++)
		n += fl_feature_parts(&s->features[i]);
	t->parts = malloc((n > 0 ? n : 1) * sizeof(*t->parts));
	t->first = malloc((s->n_features + 1) * sizeof(*t->first));
	t->whole = malloc((s->n_features > 0 ? s->n_features : 1) * sizeof(*t->whole));
	if (t->parts == NULL || t->first == NULL || t->whole == NULL) {
		rtab_free(t);
		return FL_ERR_NOMEM;
	}
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];

		t->first[i] = t->n_parts;
		t->whole[i] = (struct rpart){i, WHOLE, f->enc_offset, f->enc_width};
		for (size_t p = 0; p < fl_feature_parts(f); p++) {
			struct rpart *rp = &t->parts[t->n_parts++];

			rp->feature = i;
			rp->part = p;
			fl_feature_part(f, p, &rp->start, &rp->width);
		}
	}
	t->first[s->n_features] = t->n_parts;
	t->flat = 1;
	t->contig = 1;
	t->col0 = t->n_parts > 0 ? t->parts[0].start : 0;
	for (size_t q = 0; q < t->n_parts; q++) {
		const struct fl_feature *f = &s->features[t->parts[q].feature];

		if (t->parts[q].width != 1 ||
		    (f->type == FL_DATE && f->missing == FL_MISSING_IMPUTE))
			t->flat = 0;
		if (t->parts[q].start != t->col0 + q)
			t->contig = 0;
	}
	t->contig &= t->flat;
	return 0;
}

/* A lead's candidate reasons: parts and their contributions, in two
 * arrays so that choosing the strongest scans plain doubles. */
struct cand {
	const struct rpart **rp;
	double *c;
	double guess[2]; /* top3_of()'s, for each sign */
	/* c already holds this lead's contributions of a contiguous table
	 * (score_lead()); with bit d of masked (at most 64 of them) also
	 * bits[d]: bit q set when s * c[q] >= guess[d], s 1 for d 0 and -1
	 * for d 1. */
	int fused, masked;
	uint64_t bits[2];
};

/* A flat table's candidates are its parts in order, for every lead. */
static void cand_init(const struct rtab *t, const struct cand *cand)
{
	for (size_t q = 0; t->flat && q < t->n_parts; q++)
		cand->rp[q] = &t->parts[q];
}

/*
 * Every candidate reason of standardised row x with its contribution, in
 * the order top_reasons() has always considered them, into out (room for
 * n_parts); returns their count. Each contribution is summed exactly as
 * feature_contribution() sums it, so the reasons and their values do not
 * change; computing them once serves both directions.
 */
static size_t candidates(const struct fl_model *m, const struct rtab *t, const double *x,
                         const struct cand *out)
{
	const struct fl_schema *s = m->schema;
	const double *w = m->w, *b = m->scaler->baseline;
	size_t k = 0;

	/* One column a part, the same parts for every lead: a plain loop
	 * (vectorised when the columns follow each other). 0 + v as below,
	 * so that a -0 contribution is +0 there too. */
	if (t->contig && out->fused)
		return t->n_parts;
	if (t->contig) {
		const double *wc = w + t->col0, *xc = x + t->col0, *bc = b + t->col0;

		for (size_t q = 0; q < t->n_parts; q++)
			out->c[q] = 0.0 + wc[q] * (xc[q] - bc[q]);
		return t->n_parts;
	}
	if (t->flat) {
		for (size_t q = 0; q < t->n_parts; q++) {
			size_t j = t->parts[q].start;

			out->c[q] = 0.0 + w[j] * (x[j] - b[j]);
		}
		return t->n_parts;
	}

	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		/* A missing date is one reason, "Created=(missing)": its
		 * weekday and month are unknown, not reasons of their own. */
		int whole = f->type == FL_DATE && f->missing == FL_MISSING_IMPUTE &&
		            x[f->enc_offset + 1] == 1.0;
		const struct rpart *rp = whole ? &t->whole[i] : &t->parts[t->first[i]];
		const struct rpart *end = whole ? rp + 1 : &t->parts[t->first[i + 1]];

		for (; rp < end; rp++) {
			double c = 0;

			for (size_t j = rp->start; j < rp->start + rp->width; j++)
				c += w[j] * (x[j] - b[j]);
			out->rp[k] = rp;
			out->c[k++] = c;
		}
	}
	return k;
}

/* One candidate x at position q into the *k (at most n) kept in v and at,
 * strongest first, the earlier first among equals, when it is above thr;
 * returns what the next must exceed: thr until n are kept, then the
 * weakest kept one. */
static inline double keep_top(double x, size_t q, size_t n, size_t *k, size_t *at, double *v,
                              double thr)
{
	size_t pos;

	if (!(x > thr))
		return thr;
	pos = *k < n ? (*k)++ : *k - 1;
	while (pos > 0 && v[pos - 1] < x) {
		v[pos] = v[pos - 1];
		at[pos] = at[pos - 1];
		pos--;
	}
	v[pos] = x;
	at[pos] = q;
	return *k == n ? v[n - 1] : thr;
}

/*
 * top_reasons() for one sign (s 1 or -1, a constant once inlined): the
 * positions of the n largest s * c[q] above 0 into at[], strongest first,
 * the earlier position first among equals. Only values and positions move
 * while scanning; most candidates fall short of the weakest kept one and
 * cost one comparison, four at a time (one branch for four).
 */
static inline size_t top_of(const double *c, size_t n_cand, size_t n, double s, size_t *at,
                            double *v)
{
	size_t k = 0, q = 0;
	/* What a candidate must exceed: 0 until n are kept, then the
	 * weakest kept one. */
	double thr = 0;

	for (;;) {
		size_t stop;

		for (; q + 4 <= n_cand; q += 4)
			if ((s * c[q] > thr) | (s * c[q + 1] > thr) | (s * c[q + 2] > thr) |
			    (s * c[q + 3] > thr))
				break;
		if (q >= n_cand)
			break;
		/* One by one through this group of four, or the last few. */
		stop = q + 4 <= n_cand ? q + 4 : n_cand;
		for (; q < stop; q++)
			thr = keep_top(s * c[q], q, n, &k, at, v, thr);
	}
	return k;
}

/*
 * top_of() for n = 3, the default: a branch-free pass keeps the three
 * largest values above 0 (a min/max network over each s * c[q]), so the
 * third of them is a bound no later candidate of the top three is below;
 * only the few candidates at or above it, and above 0, are then ranked by
 * top_of(), which gives them the order it gives among all. More than 16
 * such (equal contributions): top_of() over all.
 */
/* One value x through the network that keeps the three largest in
 * *v0 >= *v1 >= *v2 (none below 0, NaN never kept). */
static inline void top3_step(double x, double *v0, double *v1, double *v2)
{
#if defined(__SSE2__)
	/* The same selections by SSE2's scalar max and min, without the
	 * branches a compiler may make of the conditional expressions. */
	__m128d a = _mm_set_sd(x), b0 = _mm_set_sd(*v0), b1 = _mm_set_sd(*v1), lo;

	lo = _mm_min_sd(b0, a);
	*v0 = _mm_cvtsd_f64(_mm_max_sd(a, b0));
	a = lo;
	lo = _mm_min_sd(b1, a);
	*v1 = _mm_cvtsd_f64(_mm_max_sd(a, b1));
	*v2 = _mm_cvtsd_f64(_mm_max_sd(lo, _mm_set_sd(*v2)));
#else
	double lo = x > *v0 ? *v0 : x;

	*v0 = x > *v0 ? x : *v0;
	x = lo;
	lo = x > *v1 ? *v1 : x;
	*v1 = x > *v1 ? x : *v1;
	*v2 = lo > *v2 ? lo : *v2;
#endif
}

/* mask64() (below) with SSE2, two at a time. */
static inline uint64_t mask64_sse2(const double *c, size_t n, double s, double t)
{
	uint64_t bits = 0;
	size_t j = 0;

#if defined(__SSE2__)
	const __m128d sv = _mm_set1_pd(s), tv = _mm_set1_pd(t);

	if (t > 0)
		for (; j + 2 <= n; j += 2)
			bits |= (uint64_t)_mm_movemask_pd(
			                _mm_cmpge_pd(_mm_mul_pd(sv, _mm_loadu_pd(c + j)), tv))
			        << j;
	else
		for (; j + 2 <= n; j += 2)
			bits |= (uint64_t)_mm_movemask_pd(
			                _mm_cmpgt_pd(_mm_mul_pd(sv, _mm_loadu_pd(c + j)), tv))
			        << j;
#endif
	for (; j < n; j++) {
		double x = s * c[j];

		bits |= (uint64_t)(t > 0 ? x >= t : x > 0) << j;
	}
	return bits;
}

#if defined(__x86_64__) && defined(__GNUC__)
/*
 * Bit j set for each of the n (at most 64) c[j] with s * c[j] at or above
 * t (above 0 when t is 0), eight at a time: s * c[j] is c[j] with its sign
 * bit flipped when s is -1, which is exact, as the product is.
 */
__attribute__((target("avx2"))) static uint64_t mask64(const double *c, size_t n, double s,
                                                       double t)
{
	const __m256d flip = _mm256_set1_pd(s < 0 ? -0.0 : 0.0), tv = _mm256_set1_pd(t),
	              zero = _mm256_setzero_pd();
	uint64_t bits = 0;
	size_t j = 0;

	for (; j + 8 <= n; j += 8) {
		__m256d a = _mm256_xor_pd(flip, _mm256_loadu_pd(c + j));
		__m256d b = _mm256_xor_pd(flip, _mm256_loadu_pd(c + j + 4));
		__m256d ma = _mm256_cmp_pd(a, tv, _CMP_GE_OQ),
		        mb = _mm256_cmp_pd(b, tv, _CMP_GE_OQ);

		/* t 0: above 0, i.e. at or above it and not 0. */
		if (!(t > 0)) {
			ma = _mm256_andnot_pd(_mm256_cmp_pd(a, zero, _CMP_EQ_OQ), ma);
			mb = _mm256_andnot_pd(_mm256_cmp_pd(b, zero, _CMP_EQ_OQ), mb);
		}
		bits |= (uint64_t)((unsigned)_mm256_movemask_pd(ma) |
		                   (unsigned)_mm256_movemask_pd(mb) << 4)
		        << j;
	}
	for (; j < n; j++) {
		double x = s * c[j];

		bits |= (uint64_t)(t > 0 ? x >= t : x > 0) << j;
	}
	return bits;
}
#endif

/*
 * The candidates q with s * c[q] at or above t (above 0 when t is 0), in
 * order, into cv (s * c[q]) and cq (q): their count, or 17 when there are
 * more than 16. A mask of them, 64 at a time (mask64()); only those are
 * visited.
 */
static inline size_t above(const double *c, size_t n_cand, double s, double t, double *cv,
                           size_t *cq)
{
	size_t m = 0;

	for (size_t q0 = 0; q0 < n_cand; q0 += 64) {
		size_t n = n_cand - q0 < 64 ? n_cand - q0 : 64;
		uint64_t bits;

#if defined(__x86_64__) && defined(__GNUC__)
		if (use_avx2())
			bits = mask64(c + q0, n, s, t);
		else
#endif
			bits = mask64_sse2(c + q0, n, s, t);
		for (; bits != 0; bits &= bits - 1) {
			size_t b = (size_t)__builtin_ctzll(bits);

			if (m == 16)
				return 17;
			cv[m] = s * c[q0 + b];
			cq[m++] = q0 + b;
		}
	}
	return m;
}

/* top_of() for n = 3 among the m candidates above() gave. */
static inline size_t top3_among(const double *cv, const size_t *cq, size_t m, size_t *at, double *v)
{
	size_t k = top_of(cv, m, 3, 1.0, at, v);

	for (size_t j = 0; j < k; j++)
		at[j] = cq[at[j]];
	return k;
}

/* top3_among() for the candidates of the set bits of bits (at most 64),
 * as above() would list them: in order, s * c[q] ranked as top_of() ranks
 * it. */
static inline size_t top3_bits(const double *c, double s, uint64_t bits, size_t *at, double *v)
{
	size_t k = 0;
	double thr = 0;

	for (; bits != 0; bits &= bits - 1) {
		size_t q = (size_t)__builtin_ctzll(bits);

		thr = keep_top(s * c[q], q, 3, &k, at, v, thr);
	}
	return k;
}

/*
 * *guess: a bound the lead before found useful (0: none). When at least
 * three and at most 16 candidates are at or above it, the top three are
 * among them (no other reaches the third of them), and the network is not
 * needed; the choice is the same either way. The next lead's guess is
 * half this one's third value: leads of one file are alike (on the 1M x
 * 64 benchmark, 93 % of the leads take the short way).
 */
static inline size_t top3_of(struct cand *cand, size_t n_cand, int d, size_t *at, double *v)
{
	const double *c = cand->c, s = d == 0 ? 1.0 : -1.0;
	double cv[16], v0 = 0, v1 = 0, v2 = 0, *guess = &cand->guess[d];
	size_t cq[16], m, k, q = 0;

	/* bits & (bits - 1) drops the lowest set bit: two of them dropped,
	 * any left means at least three. */
	uint64_t two = cand->bits[d] & (cand->bits[d] - 1);

	if (*guess > 0 && (cand->masked >> d & 1) && (two & (two - 1)) != 0) {
		k = top3_bits(c, s, cand->bits[d], at, v);
		*guess = 0.5 * v[2];
		return k;
	}
	if (*guess > 0 && !(cand->masked >> d & 1) &&
	    (m = above(c, n_cand, s, *guess, cv, cq)) >= 3 && m <= 16) {
		k = top3_among(cv, cq, m, at, v);
		*guess = 0.5 * v[2];
		return k;
	}
	{
#if defined(__SSE2__)
		/* Four networks side by side, candidates q mod 4 (max and min
		 * of SSE2: a > b ? a : b, and a < b ? a : b, NaN never kept),
		 * then the other three's through the first one's. Two vectors:
		 * the two chains of max and min run at once. */
		const __m128d sv = _mm_set1_pd(s);
		__m128d a0 = _mm_setzero_pd(), a1 = a0, a2 = a0, b0 = a0, b1 = a0, b2 = a0;
		double w[6][2];

		for (; q + 4 <= n_cand; q += 4) {
			__m128d x = _mm_mul_pd(sv, _mm_loadu_pd(c + q)), lo;
			__m128d y = _mm_mul_pd(sv, _mm_loadu_pd(c + q + 2)), ylo;

			lo = _mm_min_pd(a0, x);
			ylo = _mm_min_pd(b0, y);
			a0 = _mm_max_pd(x, a0);
			b0 = _mm_max_pd(y, b0);
			x = lo;
			y = ylo;
			lo = _mm_min_pd(a1, x);
			ylo = _mm_min_pd(b1, y);
			a1 = _mm_max_pd(x, a1);
			b1 = _mm_max_pd(y, b1);
			a2 = _mm_max_pd(lo, a2);
			b2 = _mm_max_pd(ylo, b2);
		}
		_mm_storeu_pd(w[0], a0);
		_mm_storeu_pd(w[1], a1);
		_mm_storeu_pd(w[2], a2);
		_mm_storeu_pd(w[3], b0);
		_mm_storeu_pd(w[4], b1);
		_mm_storeu_pd(w[5], b2);
		v0 = w[0][0];
		v1 = w[1][0];
		v2 = w[2][0];
		for (size_t j = 0; j < 6; j++)
			for (size_t l = j < 3; l < 2; l++)
				top3_step(w[j][l], &v0, &v1, &v2);
#endif
	}
	for (; q < n_cand; q++)
		top3_step(s * c[q], &v0, &v1, &v2);
	/* v2 is above 0 but when fewer than three are. */
	m = above(c, n_cand, s, v2, cv, cq);
	k = m <= 16 ? top3_among(cv, cq, m, at, v) : top_of(c, n_cand, 3, s, at, v);
	*guess = k == 3 ? 0.5 * v[2] : 0;
	return k;
}

/*
 * The n strongest contributions of one sign among the candidates (sign 1:
 * the largest positive ones, sign -1: the most negative), strongest first;
 * on equal contributions the earlier feature first.
 */
static size_t top_reasons(struct cand *cand, size_t n_cand, int n, int sign, struct reason *out)
{
	size_t at[FL_MAX_REASONS], k;
	double v[FL_MAX_REASONS];

	/* n == 0 (--reasons 0) keeps nothing. */
	if (n <= 0)
		return 0;
	if (n > FL_MAX_REASONS)
		n = FL_MAX_REASONS;
	if (n == 3)
		k = sign > 0 ? top3_of(cand, n_cand, 0, at, v) : top3_of(cand, n_cand, 1, at, v);
	else
		k = sign > 0 ? top_of(cand->c, n_cand, (size_t)n, 1.0, at, v)
		             : top_of(cand->c, n_cand, (size_t)n, -1.0, at, v);
	for (size_t j = 0; j < k; j++)
		out[j] = (struct reason){cand->rp[at[j]]->feature, cand->rp[at[j]]->part,
		                         v[j] * sign};
	return k;
}

/* A reason's text, cut as snprintf() into 192 bytes would cut it. */
#define REASON_TEXT 192
struct rtext {
	char s[REASON_TEXT];
	size_t n;
};

static void rtext_put(struct rtext *t, const char *p, size_t len)
{
	if (len > REASON_TEXT - 1 - t->n)
		len = REASON_TEXT - 1 - t->n;
	memcpy(t->s + t->n, p, len);
	t->n += len;
	t->s[t->n] = '\0';
}

static void rtext_str(struct rtext *t, const char *p)
{
	rtext_put(t, p, strlen(p));
}

/*
 * The value that made a reason: the field text from the lead's row. A value
 * the schema does not list says so: its contribution is the weight the
 * model learned for the feature's "(other)" column (from other values, or
 * from blanks), never one learned for this value.
 *
 * Such a text is four pieces: the feature's name, "=" (or "=(missing)",
 * "=(unseen: "), the value and ")" or nothing; reason_pieces() gives them,
 * or with dates 0 for a date's derived column, which reason_text() names.
 */
struct rpieces {
	const char *p[4];
	size_t n[4];
	char joined[FL_SCHEMA_MAX_JOINED + 2];
};

static int reason_pieces(const struct fl_model *m, const struct fl_binding *b,
                         const struct fl_csv_record *rec, const double *raw, size_t feature,
                         size_t part, int dates, struct rpieces *rp)
{
	const struct fl_feature *f = &m->schema->features[feature];
	size_t len;
	/* The field, or a feature's several fields joined ("may 5"). */
	const char *text;
	int missing = fl_encode_missing(b, rec, feature);

	if (dates && f->type == FL_DATE && part != WHOLE && !missing)
		return 0;
	text = fl_encode_text(b, rec, feature, rp->joined, sizeof(rp->joined), &len);
	rp->p[0] = f->name;
	rp->n[0] = strlen(f->name);
	rp->p[2] = rp->p[3] = "";
	rp->n[2] = rp->n[3] = 0;
	if (missing) {
		rp->p[1] = "=(missing)";
		rp->n[1] = 10;
		return 1;
	}
	rp->p[2] = text;
	rp->n[2] = strnlen(text, len > 80 ? 80 : len);
	if (fl_encode_unseen(b, rec, raw, feature)) {
		rp->p[1] = "=(unseen: ";
		rp->n[1] = 10;
		rp->p[3] = ")";
		rp->n[3] = 1;
	} else {
		rp->p[1] = "=";
		rp->n[1] = 1;
	}
	return 1;
}

static void reason_text(const struct fl_model *m, const struct fl_binding *b,
                        const struct fl_csv_record *rec, const double *raw, size_t feature,
                        size_t part, struct rtext *t)
{
	const struct fl_feature *f = &m->schema->features[feature];
	char col[160];
	struct rpieces rp;
	size_t start, width;

	t->n = 0;
	t->s[0] = '\0';
	if (!reason_pieces(m, b, rec, raw, feature, part, 1, &rp)) {
		/* A date's reasons name the derived column that made them: its
		 * age (as encoded, after the clip), or the weekday or month it
		 * fell on. */
		fl_feature_part(f, part, &start, &width);
		if (part == 0) {
			char num[FL_NUMFMT_MAX];
			size_t nl = fl_numfmt_fixed(num, raw[start], 0);

			fl_schema_column_name(m->schema, start, col, sizeof(col));
			rtext_str(t, col);
			rtext_put(t, "=", 1);
			rtext_put(t, num, nl);
			return;
		}
		for (size_t j = start; j < start + width; j++)
			if (raw[j] == 1.0) {
				fl_schema_column_name(m->schema, j, t->s, sizeof(t->s));
				t->n = strlen(t->s);
				return;
			}
		/* None of its columns set: the value, as for any feature. */
		reason_pieces(m, b, rec, raw, feature, part, 0, &rp);
	}
	for (int k = 0; k < 4; k++)
		rtext_put(t, rp.p[k], rp.n[k]);
}

/* Whether n bytes at s need quoting in a CSV field. */
static int csv_special(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return 1;
	return 0;
}

/* A reason's text as a CSV field: when it is short enough that
 * reason_text() would not cut it (a name of up to 100 bytes, a value of up
 * to 80) and needs no quotes, its pieces as they are, else reason_text()'s
 * through fl_obuf_csv_field(). */
static void reason_field(const struct fl_model *m, const struct fl_binding *b,
                         const struct fl_csv_record *rec, const double *raw,
                         const struct reason *rs, struct fl_obuf *out)
{
	struct rpieces rp;
	struct rtext t;

	if (reason_pieces(m, b, rec, raw, rs->feature, rs->part, 1, &rp) && rp.n[0] <= 100 &&
	    !csv_special(rp.p[0], rp.n[0]) && !csv_special(rp.p[2], rp.n[2])) {
		for (int k = 0; k < 4; k++)
			fl_obuf_put(out, rp.p[k], rp.n[k]);
		return;
	}
	reason_text(m, b, rec, raw, rs->feature, rs->part, &t);
	fl_obuf_csv_field(out, t.s, t.n);
}

/*
 * reason_field()'s common case worked out once per model: a feature whose
 * reason is its one field as it is ("f58=298.6"), i.e. not a date, read
 * from one column, not categorical with an "(other)" column (a value may
 * be unseen), with no placeholders ("missing_values") to look up (an empty
 * field is then its only missing value), and a name of at most 100 bytes
 * that needs no quotes. Its "name=" is written once here and copied.
 */
#define RNAME_PAD 16
struct rnames {
	char *text;   /* each plain feature's "name=", then RNAME_PAD bytes more */
	uint32_t *at; /* feature i's "name=" is at text + at[i] */
	uint8_t *len; /* and has len[i] bytes; 0: feature i is not plain */
};

static void rnames_free(struct rnames *rn)
{
	free(rn->text);
	free(rn->at);
	free(rn->len);
	memset(rn, 0, sizeof(*rn));
}

static int rnames_init(const struct fl_model *m, struct rnames *rn)
{
	const struct fl_schema *s = m->schema;
	size_t n = s->n_features, used = 0;

	memset(rn, 0, sizeof(*rn));
	/* Each name counts at most 100 bytes and its "=". */
	rn->text = calloc(n * 101 + RNAME_PAD, 1);
	rn->at = calloc(n > 0 ? n : 1, sizeof(*rn->at));
	rn->len = calloc(n > 0 ? n : 1, sizeof(*rn->len));
	if (rn->text == NULL || rn->at == NULL || rn->len == NULL) {
		rnames_free(rn);
		return FL_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t nl = strlen(f->name);

		if (f->type == FL_DATE || f->n_columns > 0 ||
		    (f->type == FL_CATEGORICAL && f->other) || s->n_missing_values > 0 ||
		    f->n_missing_values > 0 || nl > 100 || csv_special(f->name, nl))
			continue;
		memcpy(rn->text + used, f->name, nl);
		rn->text[used + nl] = '=';
		rn->at[i] = (uint32_t)used;
		rn->len[i] = (uint8_t)(nl + 1);
		used += nl + 1;
	}
	return 0;
}

/* Bytes that end a plain reason's value (1: needs quotes, 2: a NUL, where
 * reason_pieces() cuts the text). */
static const unsigned char VALUE_STOP[256] = {
        [','] = 1, ['"'] = 1, ['\r'] = 1, ['\n'] = 1, ['\0'] = 2};

/* Whether one of the 8 bytes of x is below 0x2d, as every byte that stops
 * a value (VALUE_STOP: NUL, LF, CR, '"', ',') is: the exact test for a
 * byte below n (n <= 128), (x - n 0x01..) & ~x & 0x80... Digits, '.',
 * '-' and letters are not; a value with one that is (a space, a '+') is
 * looked at byte by byte. */
static inline int has_low(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;

	return ((x - ones * 0x2d) & ~x & high) != 0;
}

/* The value of a plain reason, lim bytes at s, copied to d (with room for
 * 80): where it ends, or NULL when it needs quotes. A value of 4 to 16
 * bytes (a number, a short level) is read and written as two words that
 * may overlap, without a branch a byte, and looked at byte by byte only
 * when it may hold a byte that stops it. */
static char *plain_value(const char *s, size_t lim, char *d)
{
	if (lim >= 8 && lim <= 16) {
		uint64_t a, b;

		memcpy(&a, s, 8);
		memcpy(&b, s + lim - 8, 8);
		if (!has_low(a) && !has_low(b)) {
			memcpy(d, &a, 8);
			memcpy(d + lim - 8, &b, 8);
			return d + lim;
		}
	} else if (lim >= 4 && lim < 8) {
		uint32_t a, b;

		memcpy(&a, s, 4);
		memcpy(&b, s + lim - 4, 4);
		if (!has_low(a | (uint64_t)b << 32)) {
			memcpy(d, &a, 4);
			memcpy(d + lim - 4, &b, 4);
			return d + lim;
		}
	}
	for (size_t i = 0; i < lim; i++) {
		unsigned char c = (unsigned char)s[i];

		if (VALUE_STOP[c] != 0) {
			if (VALUE_STOP[c] == 1)
				return NULL;
			break;
		}
		*d++ = (char)c;
	}
	return d;
}

/* A plain feature's reason (struct rnames) written at d, which has room
 * for RNAME_PAD + 100 + 80 bytes: where it ends, or NULL where
 * reason_field() is needed (the feature is not plain, its field is empty
 * or needs quotes). The same bytes as reason_field(). */
static char *reason_plain(const struct rnames *rn, const struct fl_binding *b,
                          const struct fl_csv_record *rec, size_t feature, char *d)
{
	size_t nl = rn->len[feature];
	const struct fl_csv_field *fld;

	if (nl == 0)
		return NULL;
	fld = &rec->fields[fl_binding_column(b, feature)];
	if (fld->len == 0)
		return NULL;
	/* The short names in one fixed-size copy: text has the room. */
	if (nl <= RNAME_PAD)
		memcpy(d, rn->text + rn->at[feature], RNAME_PAD);
	else
		memcpy(d, rn->text + rn->at[feature], nl);
	return plain_value(fld->s, fld->len < 80 ? fld->len : 80, d + nl);
}

static int reasons_up(const struct fl_score_opts *o)
{
	return o->reasons == 0 || (o->reasons & FL_REASONS_UP);
}

static int reasons_down(const struct fl_score_opts *o)
{
	return (o->reasons & FL_REASONS_DOWN) != 0;
}

static void write_header(FILE *fp, const struct fl_model *m, const struct fl_score_opts *o)
{
	put_field(fp, m->schema->id != NULL ? m->schema->id : "row");
	fputs(",score,rank,decile", fp);
	for (int k = 1; reasons_up(o) && k <= o->n_reasons; k++)
		fprintf(fp, ",reason_%d,contribution_%d", k, k);
	for (int k = 1; reasons_down(o) && k <= o->n_reasons; k++)
		fprintf(fp, ",down_reason_%d,down_contribution_%d", k, k);
	fputc('\n', fp);
}

/* Output goes to a temporary file beside the target and is renamed into
 * place only when complete, so a failed run never leaves a partial file
 * that looks finished. Mode: what an ordinary file gets under the umask. */
static const struct fl_file_opts score_out_opts = {.what = "write output",
                                                   .create_what = "create output",
                                                   .mode = 0666,
                                                   .flags = FL_FILE_UMASK};

/* --top K, or --top P %: the best P % of the leads, rounded down, at least
 * one lead when there are any. */
static uint64_t top_k(const struct fl_score_opts *o, uint64_t rows)
{
	double k;

	if (o->top_k > 0 || !(o->top_share > 0))
		return o->top_k;
	k = floor(o->top_share * (double)rows);
	return k < 1 ? (rows > 0) : (uint64_t)k;
}

/* ---- one pass over the leads ----
 *
 * Each lead is read, encoded and scored once. Rank and decile need every
 * score before the first line can be written, so the pass keeps two
 * things: what ranking needs (the score and the label, in the ranker,
 * which spills sorted runs to disk beyond mem_records) and each lead's
 * output line without its rank and decile (the id, the score and the
 * reasons, formatted: about 75 bytes a lead with three reasons, text the
 * output needs anyway), kept in memory up to spool_bytes and spilled to an unlinked
 * file beyond. The second phase reads those lines back in lead order and
 * writes them with the ranks.
 *
 * Why lines and not the leads' byte offsets in the CSV: writing a lead's
 * reasons needs its field text as encoded (after the --mapping's renames
 * and the encoding's conversion), and re-reading it by offset would mean
 * tokenising and converting the row again, which is the cost one pass
 * removes; a spooled line is about a fifth of a 64-column row's text.
 *
 * Both cores: the leads are read in batches. While one thread reads batch
 * t + 1 (the CSV reader is sequential), the others score and format batch
 * t in fixed slices, each slice into its own buffer (fl_parallel_for). The
 * lines and scores of a batch are then taken in lead order, so the output
 * does not depend on the thread count. With one thread there is nothing to
 * overlap: each lead is scored as soon as it is read, while its record is
 * still in the cache, and no record is copied.
 */

#define BATCH_ROWS 4096
#define SLICE_ROWS 512
#define N_SLICES (BATCH_ROWS / SLICE_ROWS)
/* A batch stops taking leads once it holds this much field text. */
#define BATCH_TEXT (8u << 20)
/* Spooled lines kept in memory before they go to a file, by default: more
 * only costs page faults (the file's pages are the kernel's cache, read
 * back once, in order). */
#define SPOOL_BYTES_DEFAULT (8u << 20)

/* Leads as read: each one's encoded row and a copy of its CSV record. */
struct batch {
	size_t n;
	double *raw; /* BATCH_ROWS * dim */
	double *z;   /* scores, filled by the slices */
	int *label;
	uint64_t *index; /* fl_rows_index() */
	size_t *fld_at;  /* first field of lead i in fields */
	size_t *n_fld;
	size_t *id_at; /* offset of the id text, SIZE_MAX: none */
	struct fl_csv_field *fields;
	size_t n_fields, cap_fields;
	struct fl_obuf text;
	int err; /* reading failed: err and its message */
	char msg[FL_ERRMSG_MAX];
};

/* A slice's scratch and output. */
struct slice {
	double *x;
	struct cand cand;
	struct fl_obuf out;
	/* The last lead position written (pos_len digits; 0: none): the
	 * next lead's is most often one more. */
	uint64_t pos;
	size_t pos_len;
	char pos_text[24];
};

struct pass {
	const struct fl_model *m;
	const struct fl_score_opts *o;
	struct fl_rows *rows;
	const struct rtab *rt;
	const struct rnames *rn;
	int write;        /* format output lines */
	int inline_score; /* one thread: read_batch() scores too (into slice 0) */
	/* A part of the file after the first (score_lanes()): its lines are
	 * spooled with a struct line_ext, and without the lead's position as
	 * the id, which is known only once the parts before it are read. */
	int ext;
	int active; /* score_lanes(): the part reads in this step */
	int eof;
	struct batch b[2];
	struct slice sl[N_SLICES];
	struct batch *rd, *proc; /* this step's batch to read and to score */
};

static void batch_free(struct batch *b)
{
	free(b->raw);
	free(b->z);
	free(b->label);
	free(b->index);
	free(b->fld_at);
	free(b->n_fld);
	free(b->id_at);
	free(b->fields);
	free(b->text.p);
}

static int batch_init(struct batch *b, size_t dim)
{
	memset(b, 0, sizeof(*b));
	b->raw = malloc(BATCH_ROWS * (dim > 0 ? dim : 1) * sizeof(*b->raw));
	b->z = malloc(BATCH_ROWS * sizeof(*b->z));
	b->label = malloc(BATCH_ROWS * sizeof(*b->label));
	b->index = malloc(BATCH_ROWS * sizeof(*b->index));
	b->fld_at = malloc(BATCH_ROWS * sizeof(*b->fld_at));
	b->n_fld = malloc(BATCH_ROWS * sizeof(*b->n_fld));
	b->id_at = malloc(BATCH_ROWS * sizeof(*b->id_at));
	if (b->raw == NULL || b->z == NULL || b->label == NULL || b->index == NULL ||
	    b->fld_at == NULL || b->n_fld == NULL || b->id_at == NULL)
		return FL_ERR_NOMEM;
	return 0;
}

/* Keeps a copy of the lead's record (field text at offsets into b->text,
 * made pointers once the batch is complete). */
static int batch_keep(struct batch *b, const struct fl_csv_record *rec, const char *id)
{
	size_t i = b->n;

	if (b->n_fields + rec->n_fields > b->cap_fields) {
		size_t cap = b->cap_fields ? b->cap_fields : 1024;
		struct fl_csv_field *nf;

		while (cap < b->n_fields + rec->n_fields)
			cap *= 2;
		if ((nf = realloc(b->fields, cap * sizeof(*nf))) == NULL)
			return FL_ERR_NOMEM;
		b->fields = nf;
		b->cap_fields = cap;
	}
	b->fld_at[i] = b->n_fields;
	b->n_fld[i] = rec->n_fields;
	for (size_t k = 0; k < rec->n_fields; k++) {
		const struct fl_csv_field *f = &rec->fields[k];

		b->fields[b->n_fields++] =
		        (struct fl_csv_field){(const char *)(uintptr_t)b->text.len, f->len};
		fl_obuf_put(&b->text, f->s, f->len);
		fl_obuf_char(&b->text, '\0');
	}
	b->id_at[i] = SIZE_MAX;
	if (id != NULL) {
		b->id_at[i] = b->text.len;
		fl_obuf_put(&b->text, id, strlen(id) + 1);
	}
	return b->text.oom ? FL_ERR_NOMEM : 0;
}

/* Lead position index ("%llu") at d, which has room for 24 bytes: from
 * the slice's last one plus one in its digits when it follows it. */
static size_t put_position(struct slice *sl, uint64_t index, char *d)
{
	size_t i = sl->pos_len;

	if (i > 0 && index == sl->pos + 1 && index != 0) {
		while (i > 0 && sl->pos_text[i - 1] == '9')
			sl->pos_text[--i] = '0';
		if (i > 0) {
			sl->pos_text[i - 1]++;
		} else {
			/* 99..9 became 100..0. */
			sl->pos_text[0] = '1';
			sl->pos_text[sl->pos_len++] = '0';
		}
	} else {
		sl->pos_len = fl_numfmt_u64(sl->pos_text, index);
	}
	sl->pos = index;
	memcpy(d, sl->pos_text, sizeof(sl->pos_text));
	return sl->pos_len;
}

/* One lead's output line without rank and decile, as a spool record:
 * the lengths of its head ("id,score") and tail (",reasons...\n"), then
 * both. */
struct line_hdr {
	uint32_t head, tail;
};

/* After the line_hdr in the spool of a part after the first: the lead's
 * position within its part (UINT64_MAX when the line starts with the
 * lead's id). Its score and label wait in the part's score file. */
struct line_ext {
	uint64_t index;
};

static void format_lead(const struct pass *ps, const struct fl_csv_record *rec, const char *id,
                        uint64_t index, const double *raw, struct slice *sl, const double *x,
                        double z)
{
	const struct fl_model *m = ps->m;
	const struct fl_score_opts *o = ps->o;
	struct fl_obuf *out = &sl->out;
	size_t at = out->len, n_cand = 0;
	size_t hdr = sizeof(struct line_hdr) + (ps->ext ? sizeof(struct line_ext) : 0);
	struct line_hdr h = {0, 0};
	/* index UINT64_MAX: the line has its id. */
	struct line_ext e = {id != NULL ? UINT64_MAX : index};
	struct reason reasons[2][FL_MAX_REASONS];
	size_t nr[2] = {0, 0};
	const struct fl_binding *b = fl_rows_binding(ps->rows);
	char *d;

	/* The reasons first: they do not need z, so the processor chooses
	 * them while the logit's sum (one long chain of additions) is still
	 * being added up. */
	if (o->n_reasons > 0)
		n_cand = candidates(m, ps->rt, x, &sl->cand);
	for (int dir = 0; dir < 2; dir++)
		if (dir == 0 ? reasons_up(o) : reasons_down(o))
			nr[dir] = top_reasons(&sl->cand, n_cand, o->n_reasons, dir == 0 ? 1 : -1,
			                      reasons[dir]);
	if (fl_obuf_room(out, hdr) == 0)
		out->len += hdr;
	if (id != NULL)
		fl_obuf_csv_field(out, id, strlen(id));
	/* The rest in room taken once: a position, the score and each
	 * reason at its longest (quoted, every byte doubled) with its
	 * contribution. */
	if (fl_obuf_room(out, 26 + FL_NUMFMT_MAX +
	                              2 * (size_t)o->n_reasons *
	                                      (4 + 2 * REASON_TEXT + RNAME_PAD + FL_NUMFMT_MAX)) !=
	    0)
		return;
	d = out->p + out->len;
	if (id == NULL && !ps->ext)
		/* The lead's position in the input, not among the good rows:
		 * with skipped rows the two differ, and only the first lets a
		 * person join the scores back to the file. (In a later part
		 * of the file it is written in the second phase.) */
		d += put_position(sl, index, d);
	*d++ = ',';
	d += fl_numfmt_fixed(d, fl_sigmoid(z), 6);
	h.head = (uint32_t)((size_t)(d - out->p) - at - hdr);
	for (int dir = 0; dir < 2; dir++) {
		if (dir == 0 ? !reasons_up(o) : !reasons_down(o))
			continue;
		/* n pairs, empty when the lead has fewer contributions of
		 * that sign. */
		for (size_t k = 0; k < (size_t)o->n_reasons; k++) {
			const struct reason *rs = &reasons[dir][k];
			char *end;

			if (k >= nr[dir]) {
				memcpy(d, ",,", 2);
				d += 2;
				continue;
			}
			*d++ = ',';
			if ((end = reason_plain(ps->rn, b, rec, rs->feature, d)) != NULL) {
				d = end;
			} else {
				out->len = (size_t)(d - out->p);
				reason_field(m, b, rec, raw, rs, out);
				d = out->p + out->len;
			}
			*d++ = ',';
			d += fl_numfmt_fixed(d, rs->contribution, 4);
		}
	}
	*d++ = '\n';
	out->len = (size_t)(d - out->p);
	if (!out->oom) {
		h.tail = (uint32_t)(out->len - at - hdr - h.head);
		memcpy(out->p + at, &h, sizeof(h));
		if (ps->ext)
			memcpy(out->p + at + sizeof(h), &e, sizeof(e));
	}
}

/*
 * fl_scaler_apply() and fl_model_logit() in one function, the same
 * operations in the same order: the same doubles. Standardises raw into
 * x and returns the logit.
 */
static double standardise(const struct fl_model *m, const double *raw, double *x)
{
	const struct fl_scaler *sc = m->scaler;
	const double *w = m->w;
	double z = 0;
	size_t j = 0;

#if defined(__SSE2__)
	/* Two columns at a time: the same subtraction and division in each
	 * lane, a missing value (NaN) replaced by its imputed one first. */
	for (; j + 2 <= m->dim; j += 2) {
		__m128d v = _mm_loadu_pd(raw + j), nan = _mm_cmpunord_pd(v, v);

		v = _mm_or_pd(_mm_andnot_pd(nan, v), _mm_and_pd(nan, _mm_loadu_pd(sc->impute + j)));
		_mm_storeu_pd(x + j, _mm_div_pd(_mm_sub_pd(v, _mm_loadu_pd(sc->center + j)),
		                                _mm_loadu_pd(sc->scale + j)));
	}
#endif
	for (; j < m->dim; j++) {
		double v = isnan(raw[j]) ? sc->impute[j] : raw[j];

		x[j] = (v - sc->center[j]) / sc->scale[j];
	}
	for (j = 0; j < m->dim; j++)
		z += w[j] * x[j];
	return z;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The columns standardise_avx2() reads. */
struct cols {
	const double *raw, *w, *b, *imp, *ctr, *scl;
};

/*
 * Columns j to j + 3 of standardise_avx2(): x stored, the products added
 * to *zv one by one in column order; returns the contributions.
 */
__attribute__((target("avx2"), always_inline)) static inline __m256d
step4(const struct cols *k, size_t j, double *x, __m128d *zv)
{
	__m256d v = _mm256_loadu_pd(k->raw + j), wv = _mm256_loadu_pd(k->w + j), p;
	__m128d lo, hi, z = *zv;

	v = _mm256_blendv_pd(v, _mm256_loadu_pd(k->imp + j), _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
	v = _mm256_div_pd(_mm256_sub_pd(v, _mm256_loadu_pd(k->ctr + j)),
	                  _mm256_loadu_pd(k->scl + j));
	if (x != NULL)
		_mm256_storeu_pd(x + j, v);
	p = _mm256_mul_pd(wv, v);
	lo = _mm256_castpd256_pd128(p);
	hi = _mm256_extractf128_pd(p, 1);
	z = _mm_add_sd(z, lo);
	z = _mm_add_sd(z, _mm_unpackhi_pd(lo, lo));
	z = _mm_add_sd(z, hi);
	*zv = _mm_add_sd(z, _mm_unpackhi_pd(hi, hi));
	/* 0 + v: a -0 contribution is +0, as in candidates(). */
	return _mm256_add_pd(_mm256_setzero_pd(),
	                     _mm256_mul_pd(wv, _mm256_sub_pd(v, _mm256_loadu_pd(k->b + j))));
}

/* What standardise_avx2() does with the contributions: the n_c of the
 * table starting at column col0 into c, and (n_c at most 64) with bit d of
 * masked set bits[d], mask64() of them for direction d (s 1 for d 0, -1
 * for d 1) at the bound g[d]. */
struct outs {
	double *c;
	size_t col0, n_c;
	int masked;
	double g[2];
	uint64_t bits[2];
};

/* The lanes of cv (columns j to j + 3) that are contributions, one by one. */
__attribute__((target("avx2"))) static void some_lanes(__m256d cv, size_t j, struct outs *o)
{
	double l4[4];

	_mm256_storeu_pd(l4, cv);
	for (size_t l = 0; l < 4; l++) {
		size_t q = j + l - o->col0;

		if (j + l < o->col0 || q >= o->n_c)
			continue;
		o->c[q] = l4[l];
	}
}

/* Column j of standardise_avx2() alone: x[j] (x not NULL), the product
 * added to z, which is returned, and the contribution when in the table. */
static inline double one_col(const struct cols *k, size_t j, double *x, double z,
                             const struct outs *o)
{
	double v = isnan(k->raw[j]) ? k->imp[j] : k->raw[j], xj = (v - k->ctr[j]) / k->scl[j];

	if (x != NULL)
		x[j] = xj;
	if (j >= o->col0 && j - o->col0 < o->n_c)
		o->c[j - o->col0] = 0.0 + k->w[j] * (xj - k->b[j]);
	return z + k->w[j] * xj;
}

/*
 * standardise() four columns at a time, and with o->n_c not 0 also the
 * contributions of a contiguous table, as candidates() computes them (and
 * their masks, struct outs). AVX2 without FMA: each lane's subtraction,
 * division and product is the one the scalar code rounds, and the logit's
 * products are added one by one in column order, so z and x are the same
 * doubles.
 */
__attribute__((target("avx2"))) static double
standardise_avx2(const struct fl_model *m, const double *raw, double *x, struct outs *o)
{
	const struct fl_scaler *sc = m->scaler;
	const struct cols k = {raw, m->w, sc->baseline, sc->impute, sc->center, sc->scale};
	const size_t dim = m->dim, n_c = o->n_c, col0 = n_c > 0 ? o->col0 : 0;
	double *const c = o->c, *xs = n_c > 0 ? NULL : x;
	__m128d zv;
	double z = 0;
	size_t j = 0;

	/* With the contributions, x is not needed (candidates() has them).
	 * The columns before the table's (the intercept) one by one, then
	 * four at a time those in the table, then the rest. */
	for (; j < col0 && j < dim; j++)
		z = one_col(&k, j, xs, z, o);
	zv = _mm_set_sd(z);
	for (; j + 4 <= dim && j + 4 <= col0 + n_c; j += 4)
		_mm256_storeu_pd(c + (j - col0), step4(&k, j, xs, &zv));
	for (; j + 4 <= dim; j += 4) {
		__m256d cv = step4(&k, j, xs, &zv);

		if (n_c > 0)
			some_lanes(cv, j, o);
	}
	z = _mm_cvtsd_f64(zv);
	for (; j < dim; j++)
		z = one_col(&k, j, xs, z, o);
	/* The contributions are in the cache: they were just stored. */
	for (int d = 0; d < 2; d++)
		if (o->masked >> d & 1)
			o->bits[d] = mask64(c, n_c, d == 0 ? 1.0 : -1.0, o->g[d]);
	return z;
}
#endif

/* Scores lead raw (and formats its line into sl->out). */
static double score_lead(const struct pass *ps, struct slice *sl, const double *raw,
                         const struct fl_csv_record *rec, const char *id, uint64_t index)
{
	const struct fl_model *m = ps->m;
	double z;

	sl->cand.fused = 0;
	sl->cand.masked = 0;
#if defined(__x86_64__) && defined(__GNUC__)
	if (use_avx2()) {
		/* The contributions too, while the row is in registers, when
		 * candidates() would compute them for every column; and which
		 * of them top3_of() would look at first. */
		struct outs o = {NULL, ps->rt->col0, 0, 0, {0, 0}, {0, 0}};

		if (ps->write && ps->o->n_reasons > 0 && ps->rt->contig) {
			o.c = sl->cand.c;
			o.n_c = ps->rt->n_parts;
			if (o.n_c <= 64 && ps->o->n_reasons == 3)
				o.masked = reasons_up(ps->o) | reasons_down(ps->o) << 1;
			o.g[0] = sl->cand.guess[0];
			o.g[1] = sl->cand.guess[1];
		}
		z = standardise_avx2(m, raw, sl->x, &o);
		sl->cand.fused = o.n_c > 0;
		sl->cand.masked = o.masked;
		sl->cand.bits[0] = o.bits[0];
		sl->cand.bits[1] = o.bits[1];
	} else
#endif
		z = standardise(m, raw, sl->x);
	if (ps->write)
		format_lead(ps, rec, id, index, raw, sl, sl->x, z);
	return z;
}

/* Scores (and formats) one slice of the batch being scored. */
static void score_slice(struct pass *ps, size_t c)
{
	struct batch *b = ps->proc;
	struct slice *sl = &ps->sl[c];
	size_t end = (c + 1) * SLICE_ROWS < b->n ? (c + 1) * SLICE_ROWS : b->n;

	sl->out.len = 0;
	for (size_t i = c * SLICE_ROWS; i < end; i++) {
		/* Records are kept only for output lines. */
		struct fl_csv_record rec = {.fields = NULL};
		const char *id = NULL;

		if (ps->write) {
			rec.fields = b->fields + b->fld_at[i];
			rec.n_fields = b->n_fld[i];
			if (b->id_at[i] != SIZE_MAX)
				id = b->text.p + b->id_at[i];
		}
		b->z[i] = score_lead(ps, sl, b->raw + i * ps->m->dim, &rec, id, b->index[i]);
	}
}

/* Reads the next batch of good leads into b (on the reading thread). */
static void read_batch(struct pass *ps, struct batch *b)
{
	size_t dim = ps->m->dim;
	int r = 0;

	b->n = 0;
	b->n_fields = 0;
	b->text.len = 0;
	b->err = 0;
	/* Slice 0's lines are this thread's only when it scores as it reads;
	 * otherwise another thread is formatting the previous batch there. */
	if (ps->inline_score)
		ps->sl[0].out.len = 0;
	while (b->n < BATCH_ROWS && b->text.len < BATCH_TEXT) {
		double label = -1;
		const char *id = NULL;
		/* Scored as it is read, a lead's row is not kept: one row's
		 * room, which stays in the cache, instead of the batch's. */
		double *row = ps->inline_score ? b->raw : b->raw + b->n * dim;

		r = fl_rows_next(ps->rows, row, &label, &id);
		if (r == 0) {
			ps->eof = 1;
			break;
		}
		if (r < 0)
			break;
		b->label[b->n] = ps->o->eval ? (int)label : -1;
		b->index[b->n] = fl_rows_index(ps->rows);
		if (ps->inline_score)
			/* One thread: the lead is scored while its record is still
			 * in the cache, with no copy. */
			b->z[b->n] = score_lead(ps, &ps->sl[0], row, fl_rows_record(ps->rows), id,
			                        b->index[b->n]);
		else if (ps->write && (r = batch_keep(b, fl_rows_record(ps->rows), id)) != 0)
			break;
		b->n++;
	}
	if (r < 0) {
		/* The message is this thread's: keep it for the caller's. */
		b->err = r;
		snprintf(b->msg, sizeof(b->msg), "%s", fl_errmsg());
		ps->eof = 1;
		return;
	}
	for (size_t k = 0; k < b->n_fields; k++)
		b->fields[k].s = b->text.p + (uintptr_t)b->fields[k].s;
}

static size_t n_slices(const struct batch *b)
{
	return b == NULL ? 0 : (b->n + SLICE_ROWS - 1) / SLICE_ROWS;
}

/* A step: chunk 0 reads the next batch (when there is one to read), the
 * rest score the slices of the previous one. */
static void step_chunk(void *arg, size_t c)
{
	struct pass *ps = arg;

	if (ps->rd != NULL) {
		if (c == 0) {
			read_batch(ps, ps->rd);
			return;
		}
		c--;
	}
	score_slice(ps, c);
}

/* Output lines waiting for their ranks: in memory up to a bound, then in an
 * unlinked file. */
struct pending {
	/* The lines while they fit; once spilled, the read buffer: the
	 * unread lines read back are mem.p[at, mem.len). */
	struct fl_obuf mem;
	size_t bound;
	uint64_t total; /* bytes added */
	FILE *fp;       /* once spilled */
	const char *dir;
	int ext; /* each line has a struct line_ext */
	/* reading back */
	size_t at;
	int eof; /* the whole file is read (or it never was spilled) */
};

/* Bytes read back from a spill file at a time, at least. */
#define PENDING_BLOCK (256u << 10)

static int pending_io(const struct pending *p, const char *what)
{
	return fl_fail(FL_ERR_IO, "%s: cannot %s the scored leads' spill file: %s", p->dir, what,
	               strerror(errno));
}

/* A spill file, unlinked, in the ranker's directory. */
static int spill_file(struct fl_ranker *rk, FILE **fp)
{
	int fd, r;

	if ((r = fl_ranker_tmpfile(rk, &fd)) != 0)
		return r;
	if ((*fp = fdopen(fd, "w+")) == NULL) {
		close(fd);
		return FL_ERR_NOMEM;
	}
	return 0;
}

static int pending_add(struct pending *p, struct fl_ranker *rk, const char *data, size_t n)
{
	int r;

	p->total += n;
	if (p->fp == NULL && p->mem.len + n <= p->bound) {
		fl_obuf_put(&p->mem, data, n);
		return p->mem.oom ? FL_ERR_NOMEM : 0;
	}
	if (p->fp == NULL) {
		if ((r = spill_file(rk, &p->fp)) != 0)
			return r;
		if (p->mem.len > 0 && fwrite(p->mem.p, 1, p->mem.len, p->fp) != p->mem.len)
			return pending_io(p, "write");
		/* From here on the memory is a read buffer of the same bound. */
		p->mem.len = 0;
	}
	if (fwrite(data, 1, n, p->fp) != n)
		return pending_io(p, "write");
	return 0;
}

static int pending_rewind(struct pending *p)
{
	p->at = 0;
	p->eof = p->fp == NULL;
	if (p->fp != NULL) {
		p->mem.len = 0;
		if (fflush(p->fp) != 0 || fseeko(p->fp, 0, SEEK_SET) != 0)
			return pending_io(p, "read");
	}
	return 0;
}

/* Reads more of the spill file back, until want unread bytes are in
 * memory or the file ends: how many are. */
static int pending_more(struct pending *p, size_t want, size_t *have)
{
	while (p->mem.len - p->at < want && !p->eof) {
		size_t got, room;

		if (p->at > 0) {
			memmove(p->mem.p, p->mem.p + p->at, p->mem.len - p->at);
			p->mem.len -= p->at;
			p->at = 0;
		}
		room = want - p->mem.len > PENDING_BLOCK ? want - p->mem.len : PENDING_BLOCK;
		if (fl_obuf_room(&p->mem, room) != 0)
			return FL_ERR_NOMEM;
		got = fread(p->mem.p + p->mem.len, 1, room, p->fp);
		p->mem.len += got;
		if (got < room) {
			if (ferror(p->fp))
				return pending_io(p, "read");
			if (feof(p->fp))
				p->eof = 1;
		}
	}
	*have = p->mem.len - p->at;
	return 0;
}

/* Where the spooled line at s (with n bytes from there in memory) ends: 0
 * if it is not all there. */
static size_t line_size(const struct pending *p, const char *s, size_t n)
{
	struct line_hdr h;
	size_t hdr = sizeof(h) + (p->ext ? sizeof(struct line_ext) : 0), len;

	if (n < hdr)
		return 0;
	memcpy(&h, s, sizeof(h));
	len = hdr + h.head + (size_t)h.tail;
	return len <= n ? len : 0;
}

/* The next spooled line: its head and tail (and with p->ext, *e), valid
 * until the next call. */
static int pending_next(struct pending *p, const char **head, size_t *hl, const char **tail,
                        size_t *tl, struct line_ext *e)
{
	struct line_hdr h;
	size_t xl = p->ext ? sizeof(*e) : 0, have;
	const char *s;
	int r;

	if ((r = pending_more(p, sizeof(h) + xl, &have)) != 0)
		return r;
	if (have >= sizeof(h) + xl) {
		memcpy(&h, p->mem.p + p->at, sizeof(h));
		if ((r = pending_more(p, sizeof(h) + xl + h.head + (size_t)h.tail, &have)) != 0)
			return r;
	}
	if (have < sizeof(h) + xl || line_size(p, p->mem.p + p->at, have) == 0)
		return fl_fail(FL_ERR_INTERNAL, "score: a spooled line is missing");
	s = p->mem.p + p->at;
	if (xl > 0)
		memcpy(e, s + sizeof(h), xl);
	s += sizeof(h) + xl;
	p->at += sizeof(h) + xl + h.head + h.tail;
	*head = s;
	*hl = h.head;
	*tail = s + h.head;
	*tl = h.tail;
	return 0;
}

static void pending_free(struct pending *p)
{
	if (p->fp != NULL)
		fclose(p->fp);
	free(p->mem.p);
}

/*
 * The pass: every good lead of rows scored into a new ranker (*out), and,
 * with p, its output line spooled into p. rep->load.rows counts the leads.
 */
static int score_pass(const struct fl_model *m, const struct fl_score_opts *o, struct fl_rows *rows,
                      struct pending *p, struct fl_score_report *rep, struct fl_ranker **out)
{
	struct pass ps;
	struct rtab rt;
	struct rnames rn;
	struct fl_ranker *rk = NULL;
	size_t n_cand_max;
	unsigned threads = o->threads ? o->threads : fl_threads_default();
	int cur = 0, have = 0, r;

	*out = NULL;
	memset(&ps, 0, sizeof(ps));
	ps.m = m;
	ps.o = o;
	ps.rows = rows;
	ps.rt = &rt;
	ps.rn = &rn;
	ps.write = p != NULL;
	ps.inline_score = threads == 1;
	if ((r = rtab_init(m, &rt)) != 0)
		return r;
	if ((r = rnames_init(m, &rn)) != 0) {
		rtab_free(&rt);
		return r;
	}
	n_cand_max = rt.n_parts > 0 ? rt.n_parts : 1;
	if ((r = batch_init(&ps.b[0], m->dim)) != 0 || (r = batch_init(&ps.b[1], m->dim)) != 0)
		goto out;
	for (size_t c = 0; c < N_SLICES; c++) {
		ps.sl[c].x = malloc((m->dim > 0 ? m->dim : 1) * sizeof(double));
		ps.sl[c].cand.rp = malloc(n_cand_max * sizeof(*ps.sl[c].cand.rp));
		ps.sl[c].cand.c = malloc(n_cand_max * sizeof(*ps.sl[c].cand.c));
		if (ps.sl[c].x == NULL || ps.sl[c].cand.rp == NULL || ps.sl[c].cand.c == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		cand_init(&rt, &ps.sl[c].cand);
	}
	if ((r = fl_ranker_new(o->tmpdir, o->mem_records ? o->mem_records : (1u << 20), &rk)) != 0)
		goto out;
	for (;;) {
		struct batch *done;
		size_t chunks, n_done;

		if (ps.inline_score) {
			if (ps.eof)
				break;
			ps.rd = &ps.b[0];
			read_batch(&ps, ps.rd);
			done = ps.rd;
			n_done = 1;
		} else {
			ps.rd = ps.eof ? NULL : &ps.b[cur];
			ps.proc = have ? &ps.b[1 - cur] : NULL;
			chunks = (ps.rd != NULL) + n_slices(ps.proc);
			if (chunks == 0)
				break;
			fl_parallel_for(threads, chunks, step_chunk, &ps);
			done = ps.proc;
			n_done = n_slices(done);
		}
		if (done != NULL) {
			for (size_t c = 0; c < n_done; c++) {
				if (ps.sl[c].out.oom) {
					r = FL_ERR_NOMEM;
					goto out;
				}
				if (p != NULL &&
				    (r = pending_add(p, rk, ps.sl[c].out.p, ps.sl[c].out.len)) != 0)
					goto out;
			}
			for (size_t i = 0; i < done->n; i++)
				if ((r = fl_ranker_add(rk, done->z[i], done->label[i])) != 0)
					goto out;
			rep->load.rows += done->n;
		}
		have = 0;
		if (ps.rd != NULL) {
			if (ps.rd->err != 0) {
				r = fl_fail(ps.rd->err, "%s", ps.rd->msg);
				goto out;
			}
			have = ps.rd->n > 0;
			cur = 1 - cur;
		}
	}
	/* A header alone (or only bad rows skipped) has no ranking to report:
	 * an AUC of NaN with exit status 0 would pass for a result. */
	if (rep->load.rows == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no usable data rows", o->data);
		goto out;
	}
	rep->bytes = fl_rows_bytes_read(rows);
	if ((r = fl_ranker_finish(rk, top_k(o, rep->load.rows), &rep->ev)) != 0)
		goto out;
	*out = rk;
	rk = NULL;
	r = 0;
out:
	fl_ranker_free(rk);
	for (size_t c = 0; c < N_SLICES; c++) {
		free(ps.sl[c].x);
		free(ps.sl[c].cand.rp);
		free(ps.sl[c].cand.c);
		free(ps.sl[c].out.p);
	}
	batch_free(&ps.b[0]);
	batch_free(&ps.b[1]);
	rtab_free(&rt);
	rnames_free(&rn);
	return r;
}

/* The parts of the file read at once (score_lanes()), or the whole file as
 * one part: each one's spooled lines, its leads and its records. */
#define MAX_LANES 8
struct parts {
	struct pending p[MAX_LANES];
	uint64_t leads[MAX_LANES];   /* good leads of part k */
	uint64_t records[MAX_LANES]; /* records of part k, bad ones included */
	size_t n;
};

/* ---- several parts of the file at once ----
 *
 * With two threads or more and a large UTF-8 file, the reading itself is
 * shared: the file is cut into parts at record boundaries (fl_csv_split(),
 * which counts quotes from the start of the file so that no cut falls in a
 * quoted field), and each thread reads, scores and formats its own part,
 * its lines spooled apart. The parts are then put back in file order: the
 * later parts' scores go to the ranker after the first's (their rankers
 * joined, or their scores added), their leads' positions are known once
 * the parts before them are counted, and the second phase writes each
 * part at its place (write_parts()) or takes the lines part after part.
 * The output is the bytes one thread writes: the same leads, lines and
 * ranks.
 */

/* The reports of the parts in one, as one reader of the whole file counts
 * (bad rows, their first messages, unseen values by column in the order
 * they first appear). more holds the columns counted in n_unseen_more.
 * -1 when a part had columns beyond its own table: which columns they were
 * is not known here, so the counts cannot be told exactly. */
struct unseen_more {
	size_t feature[MAX_LANES * FL_UNSEEN_COLUMNS];
	size_t n;
};

static int merge_load(struct fl_load_report *rep, const struct fl_load_report *a,
                      struct unseen_more *more)
{
	if (a->n_unseen_more > 0)
		return -1;
	rep->rows += a->rows;
	rep->skipped += a->skipped;
	for (size_t i = 0; i < a->n_samples && rep->n_samples < FL_BAD_ROW_SAMPLES; i++)
		memcpy(rep->samples[rep->n_samples++], a->samples[i], sizeof(rep->samples[0]));
	rep->unseen_leads += a->unseen_leads;
	for (size_t i = 0; i < a->n_unseen; i++) {
		size_t k, j;

		for (k = 0; k < rep->n_unseen && rep->unseen[k].feature != a->unseen[i].feature;
		     k++)
			;
		if (k < rep->n_unseen) {
			rep->unseen[k].leads += a->unseen[i].leads;
			continue;
		}
		if (rep->n_unseen < FL_UNSEEN_COLUMNS) {
			rep->unseen[rep->n_unseen++] = a->unseen[i];
			continue;
		}
		for (j = 0; j < more->n && more->feature[j] != a->unseen[i].feature; j++)
			;
		if (j == more->n) {
			more->feature[more->n++] = a->unseen[i].feature;
			rep->n_unseen_more++;
		}
	}
	return 0;
}

/* A lead's score and label, as a part after the first keeps them for the
 * ranker until the parts before it are added. */
struct zrec {
	double z;
	int64_t label;
};

/* score_lanes()'s parts, each read by its own thread from start to end. */
struct lanes {
	struct pass ps[MAX_LANES];
	struct parts *pt;
	struct fl_ranker *rk; /* part 0 adds its scores as they come */
	/* Without labels, each later part ranks its own scores, sorted on
	 * its own thread, and its ranker joins part 0's at the end
	 * (fl_ranker_join(): the same ranks). With labels the later parts keep
	 * their scores in a file for part 0's ranker, which adds them in row
	 * order after its own: the same sums of losses, bit for bit. */
	int join;
	struct fl_ranker *prk[MAX_LANES];
	FILE *zs[MAX_LANES]; /* the other parts' struct zrec, in order */
	struct zrec *zbuf[MAX_LANES];
	int err[MAX_LANES]; /* part k failed: err and its message */
	char msg[MAX_LANES][FL_ERRMSG_MAX];
	/* The first part that failed (n: none yet): the parts after it stop,
	 * as a single reader would never reach them. */
	atomic_size_t failed;
};

static int lane_batch(struct lanes *ln, size_t k)
{
	struct pass *ps = &ln->ps[k];
	struct batch *b = &ps->b[0];
	int r;

	read_batch(ps, b);
	if (ps->sl[0].out.oom)
		return FL_ERR_NOMEM;
	if ((r = pending_add(&ln->pt->p[k], ln->rk, ps->sl[0].out.p, ps->sl[0].out.len)) != 0)
		return r;
	ln->pt->leads[k] += b->n;
	for (size_t i = 0; (k == 0 || ln->join) && i < b->n; i++)
		if ((r = fl_ranker_add(k == 0 ? ln->rk : ln->prk[k], b->z[i], b->label[i])) != 0)
			return r;
	if (k > 0 && !ln->join && b->n > 0) {
		for (size_t i = 0; i < b->n; i++)
			ln->zbuf[k][i] = (struct zrec){b->z[i], b->label[i]};
		if (fwrite(ln->zbuf[k], sizeof(struct zrec), b->n, ln->zs[k]) != b->n)
			return pending_io(&ln->pt->p[k], "write");
	}
	if (b->err != 0) {
		memcpy(ln->msg[k], b->msg, sizeof(ln->msg[k]));
		return b->err;
	}
	return 0;
}

/* Part k, read, scored and spooled to its end (or until a part before it
 * fails). */
static void lane_run(void *arg, size_t k)
{
	struct lanes *ln = arg;
	size_t f;
	int r = 0;

	while (!ln->ps[k].eof && atomic_load(&ln->failed) > k)
		if ((r = lane_batch(ln, k)) != 0)
			break;
	/* The part's scores sorted here, on its own thread. */
	if (r == 0 && ln->join)
		r = fl_ranker_sort_held(k == 0 ? ln->rk : ln->prk[k]);
	if (r == 0)
		return;
	if (ln->msg[k][0] == '\0')
		snprintf(ln->msg[k], sizeof(ln->msg[k]), "%s", fl_errmsg());
	ln->err[k] = r;
	f = atomic_load(&ln->failed);
	while (f > k && !atomic_compare_exchange_weak(&ln->failed, &f, k))
		;
}

static void lane_free(struct pass *ps)
{
	free(ps->sl[0].x);
	free(ps->sl[0].cand.rp);
	free(ps->sl[0].cand.c);
	free(ps->sl[0].out.p);
	batch_free(&ps->b[0]);
	fl_rows_close(ps->rows);
}

/* The scores of part k > 0, from its score file, to the ranker. */
static int lane_rank(struct lanes *ln, size_t k)
{
	uint64_t left = ln->pt->leads[k];

	if (fflush(ln->zs[k]) != 0 || fseeko(ln->zs[k], 0, SEEK_SET) != 0)
		return pending_io(&ln->pt->p[k], "read");
	while (left > 0) {
		size_t n = left < BATCH_ROWS ? (size_t)left : BATCH_ROWS;
		int r;

		if (fread(ln->zbuf[k], sizeof(struct zrec), n, ln->zs[k]) != n)
			return pending_io(&ln->pt->p[k], "read");
		for (size_t i = 0; i < n; i++)
			if ((r = fl_ranker_add(ln->rk, ln->zbuf[k][i].z,
			                       (int)ln->zbuf[k][i].label)) != 0)
				return r;
		left -= n;
	}
	return 0;
}

/*
 * fl_score_file()'s pass over the n parts of o->data that start at
 * cut[k - 1] (line[k - 1]) into pt and a new ranker *out. 1: the counts of
 * unseen values cannot be merged exactly; the caller reads the file again
 * as one part.
 */
static int score_lanes(const struct fl_model *m, const struct fl_score_opts *o, const uint64_t *cut,
                       const uint64_t *line, size_t n, struct parts *pt,
                       struct fl_score_report *rep, struct fl_ranker **out)
{
	struct lanes *ln;
	struct fl_load_report lrep[MAX_LANES];
	struct unseen_more more = {{0}, 0};
	struct rtab rt;
	struct rnames rn;
	size_t n_cand_max, failed, mem;
	int r;

	*out = NULL;
	if ((ln = calloc(1, sizeof(*ln))) == NULL)
		return FL_ERR_NOMEM;
	if ((r = rtab_init(m, &rt)) != 0) {
		free(ln);
		return r;
	}
	if ((r = rnames_init(m, &rn)) != 0) {
		rtab_free(&rt);
		free(ln);
		return r;
	}
	ln->pt = pt;
	ln->join = !o->eval;
	atomic_init(&ln->failed, n);
	n_cand_max = rt.n_parts > 0 ? rt.n_parts : 1;
	pt->n = n;
	mem = o->mem_records ? o->mem_records : (1u << 20);
	/* Joined rankers share the bound (at least the 4 records a ranker
	 * needs). */
	if (ln->join)
		mem = mem / n < 4 ? 4 : mem / n;
	if ((r = fl_ranker_new(o->tmpdir, mem, &ln->rk)) != 0)
		goto out;
	for (size_t k = 0; k < n; k++) {
		struct pass *ps = &ln->ps[k];
		struct fl_load_report *lr = k == 0 ? &rep->load : &lrep[k];

		if (k > 0) {
			memset(lr, 0, sizeof(*lr));
			lr->want_unseen = 1;
		}
		if (k > 0 && ln->join && (r = fl_ranker_new(o->tmpdir, mem, &ln->prk[k])) != 0)
			goto out;
		if (k > 0 && !ln->join) {
			if ((r = spill_file(ln->rk, &ln->zs[k])) != 0)
				goto out;
			if ((ln->zbuf[k] = malloc(BATCH_ROWS * sizeof(*ln->zbuf[k]))) == NULL) {
				r = FL_ERR_NOMEM;
				goto out;
			}
		}
		ps->m = m;
		ps->o = o;
		ps->rt = &rt;
		ps->rn = &rn;
		ps->write = 1;
		ps->inline_score = 1;
		ps->ext = k > 0;
		if ((r = fl_rows_open_range(m->schema, o->data, o->eval, o->policy, lr,
		                            k == 0 ? 0 : cut[k - 1],
		                            k + 1 < n ? cut[k] : UINT64_MAX,
		                            k == 0 ? 1 : line[k - 1], &ps->rows)) != 0 ||
		    (r = batch_init(&ps->b[0], m->dim)) != 0)
			goto out;
		ps->sl[0].x = malloc((m->dim > 0 ? m->dim : 1) * sizeof(double));
		ps->sl[0].cand.rp = malloc(n_cand_max * sizeof(*ps->sl[0].cand.rp));
		ps->sl[0].cand.c = malloc(n_cand_max * sizeof(*ps->sl[0].cand.c));
		if (ps->sl[0].x == NULL || ps->sl[0].cand.rp == NULL || ps->sl[0].cand.c == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		cand_init(&rt, &ps->sl[0].cand);
	}
	/* Each part to its end on its own thread: no step to wait for. */
	fl_parallel_for((unsigned)n, n, lane_run, ln);
	if ((failed = atomic_load(&ln->failed)) < n) {
		r = fl_fail(ln->err[failed], "%s", ln->msg[failed]);
		goto out;
	}
	for (size_t k = 0; k < n; k++)
		pt->records[k] = fl_rows_index(ln->ps[k].rows);
	rep->load.rows = pt->leads[0];
	for (size_t k = 1; k < n; k++) {
		lrep[k].rows = pt->leads[k];
		if (merge_load(&rep->load, &lrep[k], &more) != 0) {
			r = 1;
			goto out;
		}
		if ((r = ln->join ? fl_ranker_join(ln->rk, ln->prk[k]) : lane_rank(ln, k)) != 0)
			goto out;
	}
	if (rep->load.rows == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no usable data rows", o->data);
		goto out;
	}
	for (size_t k = 0; k < n; k++)
		rep->bytes += fl_rows_bytes_read(ln->ps[k].rows);
	if ((r = fl_ranker_finish(ln->rk, top_k(o, rep->load.rows), &rep->ev)) != 0)
		goto out;
	*out = ln->rk;
	ln->rk = NULL;
	r = 0;
out:
	fl_ranker_free(ln->rk);
	for (size_t k = 0; k < n; k++) {
		lane_free(&ln->ps[k]);
		fl_ranker_free(ln->prk[k]);
		if (ln->zs[k] != NULL)
			fclose(ln->zs[k]);
		free(ln->zbuf[k]);
	}
	rtab_free(&rt);
	rnames_free(&rn);
	free(ln);
	return r;
}

/*
 * Whether o->data is read in parts (score_lanes()): with --out, two threads
 * or more, and a UTF-8 file named by path, not a registered source, whose
 * schema has no mapping (a mapped unseen value names its source column
 * through the reader's own binding); the cuts, when it is.
 */
static size_t lanes_for(const struct fl_model *m, const struct fl_score_opts *o, uint64_t *cut,
                        uint64_t *line)
{
	unsigned threads = o->threads ? o->threads : fl_threads_default();
	unsigned n_cut = 0;

	if (o->out == NULL || threads < 2 || strcmp(o->data, "-") == 0 ||
	    m->schema->mapping != NULL || m->schema->dialect.encoding != FL_CSV_UTF8 ||
	    fl_source_registered(o->data))
		return 1;
	if (threads > MAX_LANES)
		threads = MAX_LANES;
	/* A file that cannot be read is refused by the reader, as always. */
	if (fl_csv_split(o->data, threads, 0, cut, line, &n_cut) != 0)
		return 1;
	return n_cut + 1;
}

/* Where one lead's output line lies in the spool of --sort rank. */
struct spool_ref {
	uint64_t off, len;
};

/*
 * --sort rank: the second phase spools each lead's line to an unlinked file
 * and its place there to a second one, at the lead's rank; the lines are
 * then copied in rank order. Memory stays constant whatever the leads;
 * the cost is one more write and read of the output.
 */
struct spool {
	FILE *lines;
	int idx;
};

static int spool_open(struct fl_ranker *rk, struct spool *sp)
{
	int fd, r;

	sp->lines = NULL;
	sp->idx = -1;
	if ((r = fl_ranker_tmpfile(rk, &fd)) != 0)
		return r;
	if ((sp->lines = fdopen(fd, "w+")) == NULL) {
		close(fd);
		return FL_ERR_NOMEM;
	}
	return fl_ranker_tmpfile(rk, &sp->idx);
}

static void spool_close(struct spool *sp)
{
	if (sp->lines != NULL)
		fclose(sp->lines);
	if (sp->idx >= 0)
		close(sp->idx);
}

static int spool_io(const char *what, const char *data)
{
	return fl_fail(FL_ERR_IO, "%s: cannot %s the rank-order spool: %s", data, what,
	               strerror(errno));
}

/* Copies the spooled lines of ranks 1..n to fp. */
static int spool_copy(struct spool *sp, uint64_t n, FILE *fp, const char *data)
{
	struct spool_ref ref[512];
	char *buf = NULL;
	size_t cap = 0;
	int r = 0;

	if (fflush(sp->lines) != 0)
		return spool_io("write", data);
	for (uint64_t k = 0; k < n && r == 0; k += 512) {
		size_t m = n - k < 512 ? (size_t)(n - k) : 512;
		ssize_t got = pread(sp->idx, ref, m * sizeof(*ref), (off_t)(k * sizeof(*ref)));

		if (got != (ssize_t)(m * sizeof(*ref))) {
			r = spool_io("read", data);
			break;
		}
		for (size_t j = 0; j < m; j++) {
			if (ref[j].len > cap) {
				char *nb = realloc(buf, ref[j].len);

				if (nb == NULL) {
					r = FL_ERR_NOMEM;
					break;
				}
				buf = nb;
				cap = ref[j].len;
			}
			if (pread(fileno(sp->lines), buf, ref[j].len, (off_t)ref[j].off) !=
			    (ssize_t)ref[j].len) {
				r = spool_io("read", data);
				break;
			}
			fwrite(buf, 1, ref[j].len, fp);
		}
	}
	free(buf);
	return r;
}

/* ---- the second phase in file order, on every thread ----
 *
 * The spooled lines are read back in order and cut into pieces of whole
 * lines; in each step every thread puts the ranks into one piece's lines,
 * each piece into its own buffer, while one of them writes the previous
 * step's buffers, in order. The bytes are those one thread writes line
 * after line.
 */

/* A step reads back this many bytes of spooled lines, cut into one piece
 * a thread (one more line when a single line is longer), each of at most
 * PIECE_LINES lines: with its buffers about 3.5 times that in memory,
 * whatever the threads; fewer, larger steps wait less for each other. */
#define STEP_BYTES (2u << 20)
#define PIECE_LINES 16384
#define MAX_PIECES 8
/* Written bytes handed to the kernel's writeback at a time, so that the
 * output's final fsync has little left to write. */
#define KICK_BYTES (8u << 20)

struct piece {
	const char *at; /* its spooled lines */
	size_t bytes, n;
	uint64_t first; /* the lead index of its first line */
	uint64_t base;  /* records of the parts before (ext lines' positions) */
	int ext;
	int err; /* formatting failed: err and its message */
	char msg[FL_ERRMSG_MAX];
};

struct writer {
	const struct fl_ranker *rk;
	uint64_t rows;
	FILE *fp;
	struct piece pc[MAX_PIECES];
	size_t n_pc;
	struct fl_obuf out[2][MAX_PIECES]; /* this step's and the last one's */
	size_t n_prev;                     /* buffers of out[1 - cur] to write */
	int cur;
	uint64_t *rank[MAX_PIECES];
	int fd;          /* the output's file, for writeback; -1: none */
	uint64_t kicked; /* bytes handed to writeback */
	size_t unkicked; /* bytes written since */
};

/* The lines of piece c with their ranks and deciles, into this step's
 * buffer c. */
static void piece_format(struct writer *wr, size_t c)
{
	struct piece *pc = &wr->pc[c];
	struct fl_obuf *out = &wr->out[wr->cur][c];
	uint64_t *rank = wr->rank[c];
	size_t hdr = sizeof(struct line_hdr) + (pc->ext ? sizeof(struct line_ext) : 0);
	const char *s = pc->at;
	char num[24], *d;
	uint64_t from[10];
	int r;

	out->len = 0;
	if ((r = fl_ranker_ranks(wr->rk, pc->first, pc->n, rank)) != 0) {
		pc->err = r;
		snprintf(pc->msg, sizeof(pc->msg), "%s", fl_errmsg());
		return;
	}
	/* The lines, each with its rank and decile and up to 20 digits of
	 * position, in room taken once. */
	if (fl_obuf_room(out, pc->bytes + pc->n * (2 * sizeof(num) + 4)) != 0) {
		pc->err = FL_ERR_NOMEM;
		return;
	}
	/* fl_decile_of_rank() without a division a line: decile k + 1 starts
	 * at rank ceil(k n / 10) + 1. */
	for (int k = 1; k < 10; k++)
		from[k] = (uint64_t)(((unsigned __int128)k * wr->rows + 9) / 10) + 1;
	d = out->p;
	for (size_t i = 0; i < pc->n; i++) {
		struct line_hdr h;
		struct line_ext e = {UINT64_MAX};
		int decile = 1;

		memcpy(&h, s, sizeof(h));
		if (pc->ext)
			memcpy(&e, s + sizeof(h), sizeof(e));
		s += hdr;
		if (e.index != UINT64_MAX)
			d += fl_numfmt_u64(d, pc->base + e.index);
		memcpy(d, s, h.head);
		d += h.head;
		*d++ = ',';
		d += fl_numfmt_u64(d, rank[i]);
		*d++ = ',';
		for (int k = 1; k < 10; k++)
			decile += rank[i] >= from[k];
		if (rank[i] == 0 || rank[i] > wr->rows)
			decile = fl_decile_of_rank(rank[i], wr->rows);
		d += fl_numfmt_u64(d, (uint64_t)decile);
		memcpy(d, s + h.head, h.tail);
		d += h.tail;
		s += h.head + (size_t)h.tail;
	}
	out->len = (size_t)(d - out->p);
}

/* The error a thread recorded (err, its message msg), raised on this one. */
static int relay_err(int err, const char *msg)
{
	return err == FL_ERR_NOMEM ? FL_ERR_NOMEM : fl_fail(err, "%s", msg);
}

/* Writeback of fd's bytes from *kicked to end started as the output grows,
 * so that the final fsync has little left to write; advice only: that
 * fsync still reports any error. */
static void kick_writeback(int fd, uint64_t *kicked, uint64_t end)
{
#ifdef SYNC_FILE_RANGE_WRITE
	if (end > *kicked) {
		(void)sync_file_range(fd, (off_t)*kicked, (off_t)(end - *kicked),
		                      SYNC_FILE_RANGE_WRITE);
		*kicked = end;
	}
#else
	(void)fd;
	(void)kicked;
	(void)end;
#endif
}

/* Chunk 0 writes the last step's buffers; chunk c > 0 formats piece c - 1. */
static void writer_chunk(void *arg, size_t c)
{
	struct writer *wr = arg;

	if (c > 0) {
		piece_format(wr, c - 1);
		return;
	}
	/* A failed write leaves the stream's error set, which
	 * fl_file_commit() reports. */
	for (size_t j = 0; j < wr->n_prev; j++) {
		(void)fwrite(wr->out[1 - wr->cur][j].p, 1, wr->out[1 - wr->cur][j].len, wr->fp);
		wr->unkicked += wr->out[1 - wr->cur][j].len;
	}
	wr->n_prev = 0;
	if (wr->fd >= 0 && wr->unkicked >= KICK_BYTES && fflush(wr->fp) == 0) {
		off_t end = lseek(wr->fd, 0, SEEK_CUR);

		if (end > 0)
			kick_writeback(wr->fd, &wr->kicked, (uint64_t)end);
		wr->unkicked = 0;
	}
}

/* One step: the pieces cut (n_pc of them) formatted, the last step's
 * buffers written. */
static int writer_step(struct writer *wr, unsigned threads)
{
	fl_parallel_for(threads, 1 + wr->n_pc, writer_chunk, wr);
	for (size_t c = 0; c < wr->n_pc; c++)
		if (wr->pc[c].err != 0)
			return relay_err(wr->pc[c].err, wr->pc[c].msg);
	wr->n_prev = wr->n_pc;
	wr->n_pc = 0;
	wr->cur = 1 - wr->cur;
	return 0;
}

/* Cuts up to want pieces from part p's unread lines, at most left lines;
 * returns the lines taken. */
static size_t writer_cut(struct writer *wr, struct pending *p, size_t have, uint64_t left,
                         size_t want, uint64_t first, uint64_t base)
{
	size_t piece_bytes = STEP_BYTES / want;
	const char *s = p->mem.p + p->at;
	size_t taken = 0, used = 0;

	while (wr->n_pc < want && left > 0) {
		struct piece *pc = &wr->pc[wr->n_pc];
		size_t len;

		memset(pc, 0, sizeof(*pc));
		pc->at = s + used;
		pc->first = first + taken;
		pc->base = base;
		pc->ext = p->ext;
		while (left > 0 && pc->n < PIECE_LINES && (pc->n == 0 || pc->bytes < piece_bytes) &&
		       (len = line_size(p, s + used, have - used)) != 0) {
			pc->bytes += len;
			pc->n++;
			used += len;
			left--;
		}
		if (pc->n == 0)
			break;
		taken += pc->n;
		wr->n_pc++;
	}
	p->at += used;
	return taken;
}

/* Reads the next step's bytes of p and cuts them into pieces for `want`
 * threads (writer_cut()), reading on when one line is longer than a step:
 * *got lines, at least one, or an error. */
static int writer_fill(struct writer *wr, struct pending *p, uint64_t left, size_t want,
                       uint64_t first, uint64_t base, size_t *got)
{
	size_t have = 0;
	int r;

	if ((r = pending_more(p, STEP_BYTES, &have)) != 0)
		return r;
	*got = writer_cut(wr, p, have, left, want, first, base);
	if (*got == 0 && have >= sizeof(struct line_hdr) + (p->ext ? sizeof(struct line_ext) : 0)) {
		/* One line longer than what was read. */
		struct line_hdr h;

		memcpy(&h, p->mem.p + p->at, sizeof(h));
		if ((r = pending_more(p, have + h.head + (size_t)h.tail, &have)) != 0)
			return r;
		*got = writer_cut(wr, p, have, left, want, first, base);
	}
	if (*got == 0)
		return fl_fail(FL_ERR_INTERNAL, "score: a spooled line is missing");
	return 0;
}

/* The second phase in file order: every part's spooled lines with their
 * ranks, written to fp (fd its file, or -1). */
static int write_in_order(const struct fl_model *m, const struct fl_score_opts *o, struct parts *pt,
                          const struct fl_ranker *rk, FILE *fp, int fd, uint64_t rows)
{
	struct writer *wr;
	uint64_t first = 0, base = 0;
	unsigned threads = o->threads ? o->threads : fl_threads_default();
	int r = 0;

	/* The pieces of a step are bounded, whatever the threads. */
	if (threads > MAX_PIECES)
		threads = MAX_PIECES;
	write_header(fp, m, o);
	if ((wr = calloc(1, sizeof(*wr))) == NULL)
		return FL_ERR_NOMEM;
	wr->rk = rk;
	wr->rows = rows;
	wr->fp = fp;
	wr->fd = fd;
	for (unsigned c = 0; c < threads; c++)
		if ((wr->rank[c] = malloc(PIECE_LINES * sizeof(uint64_t))) == NULL)
			r = FL_ERR_NOMEM;
	for (size_t k = 0; k < pt->n && r == 0; k++) {
		struct pending *p = &pt->p[k];
		uint64_t left = pt->leads[k];

		if ((r = pending_rewind(p)) != 0)
			break;
		while (left > 0 && r == 0) {
			size_t got;

			if ((r = writer_fill(wr, p, left, threads, first, base, &got)) != 0)
				break;
			r = writer_step(wr, threads);
			first += got;
			left -= got;
		}
		base += pt->records[k];
	}
	/* The last step's buffers. */
	if (r == 0 && wr->n_prev > 0)
		writer_chunk(wr, 0);
	for (unsigned c = 0; c < MAX_PIECES; c++) {
		free(wr->out[0][c].p);
		free(wr->out[1][c].p);
		free(wr->rank[c]);
	}
	free(wr);
	return r;
}

/* ---- the second phase, each part on its own thread ----
 *
 * When the file was read in parts, each part's lines can be written by its
 * own thread at their place in the output (pwrite), with no step to wait
 * for: a part's output is its spooled lines with two commas, a rank and a
 * decile each, and for a part after the first the lead's position, so its
 * size is known from its ranks before a byte is written. Only the
 * positions need the part's records: they are counted without reading
 * the lines when the part skipped no row (positions 1 to its records,
 * moved on by the records before it); a part in the middle that skipped
 * rows sends the whole file to write_in_order().
 */

struct part_out {
	struct writer *wr; /* its own, with one piece at a time */
	struct pending *p;
	struct fl_file *dst;
	uint64_t leads, records;
	uint64_t first; /* the lead index of its first line */
	uint64_t base;  /* records of the parts before */
	uint64_t off;   /* where its bytes go */
	uint64_t size;  /* its bytes, counted (not for the last part) */
	uint64_t kicked;
	int positions; /* its lines have no id: the position is written */
	int last;
	int err; /* failed: err and its message */
	char msg[FL_ERRMSG_MAX];
};

struct parts_out {
	struct part_out po[MAX_LANES];
	size_t n;
	int fd;
	int sizing; /* this call counts the sizes; otherwise it writes */
};

static unsigned u64_digits(uint64_t v)
{
	unsigned d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* The decimal digits of a + 1, a + 2, ..., b, together. */
static uint64_t range_digits(uint64_t a, uint64_t b)
{
	uint64_t sum = b > a ? b - a : 0, p = 10;

	/* Each number at or above 10^k has a digit more. */
	for (int k = 1; k < 20 && b >= p; k++) {
		uint64_t from = a + 1 > p ? a + 1 : p;

		sum += b >= from ? b - from + 1 : 0;
		if (p > UINT64_MAX / 10)
			break;
		p *= 10;
	}
	return sum;
}

/* Part po's bytes in the output. */
static int part_size(struct part_out *po)
{
	struct writer *wr = po->wr;
	size_t hdr = sizeof(struct line_hdr) + (po->p->ext ? sizeof(struct line_ext) : 0);
	uint64_t size = po->p->total - po->leads * hdr + 2 * po->leads;
	int r;

	for (uint64_t i = 0; i < po->leads; i += PIECE_LINES) {
		size_t n = po->leads - i < PIECE_LINES ? (size_t)(po->leads - i) : PIECE_LINES;

		if ((r = fl_ranker_ranks(wr->rk, po->first + i, n, wr->rank[0])) != 0)
			return r;
		for (size_t j = 0; j < n; j++)
			size += u64_digits(wr->rank[0][j]) +
			        (fl_decile_of_rank(wr->rank[0][j], wr->rows) == 10 ? 2 : 1);
	}
	if (po->positions)
		size += range_digits(po->base, po->base + po->records);
	po->size = size;
	return 0;
}

/* Part po's lines with their ranks, written at po->off. */
static int part_write(struct part_out *po, int fd)
{
	struct writer *wr = po->wr;
	struct pending *p = po->p;
	uint64_t left = po->leads, first = po->first, end = po->off + po->size;
	int r;

	if ((r = pending_rewind(p)) != 0)
		return r;
	while (left > 0) {
		size_t got;
		const struct fl_obuf *out;

		if ((r = writer_fill(wr, p, left, 1, first, po->base, &got)) != 0)
			return r;
		piece_format(wr, 0);
		wr->n_pc = 0;
		if (wr->pc[0].err != 0)
			return relay_err(wr->pc[0].err, wr->pc[0].msg);
		out = &wr->out[wr->cur][0];
		if ((r = fl_file_pwrite(po->dst, out->p, out->len, po->off)) != 0)
			return r;
		po->off += out->len;
		/* As writer_chunk() does, for this part's bytes. */
		if (po->off - po->kicked >= KICK_BYTES)
			kick_writeback(fd, &po->kicked, po->off);
		first += got;
		left -= got;
	}
	/* The part's last bytes too: the final fsync then waits for what is
	 * under way, and writes nothing itself. */
	kick_writeback(fd, &po->kicked, po->off);
	if (!po->last && po->off != end)
		return fl_fail(FL_ERR_INTERNAL,
		               "score: a part's lines came to %llu bytes, not the %llu counted",
		               (unsigned long long)(po->off - (end - po->size)),
		               (unsigned long long)po->size);
	return 0;
}

static void part_chunk(void *arg, size_t k)
{
	struct parts_out *pw = arg;
	struct part_out *po = &pw->po[k];
	int r;

	if (pw->sizing)
		r = po->last ? 0 : part_size(po);
	else
		r = part_write(po, pw->fd);
	if (r != 0) {
		po->err = r;
		snprintf(po->msg, sizeof(po->msg), "%s", fl_errmsg());
	}
}

/* Runs part_chunk() on every part: the first part's error, if any. */
static int parts_run(struct parts_out *pw)
{
	fl_parallel_for((unsigned)pw->n, pw->n, part_chunk, pw);
	for (size_t k = 0; k < pw->n; k++)
		if (pw->po[k].err != 0)
			return relay_err(pw->po[k].err, pw->po[k].msg);
	return 0;
}

/* The second phase with each part on its own thread (pt->n > 1): 1 when a
 * middle part's size cannot be counted (nothing written then). */
static int write_parts(const struct fl_model *m, const struct fl_score_opts *o, struct parts *pt,
                       const struct fl_ranker *rk, FILE *fp, struct fl_file *dst, uint64_t rows)
{
	struct parts_out *pw;
	uint64_t first = 0, base = 0;
	off_t at;
	int r = 0;

	for (size_t k = 1; k + 1 < pt->n; k++)
		if (m->schema->id == NULL && pt->leads[k] != pt->records[k])
			return 1;
	write_header(fp, m, o);
	/* A stream that failed is reported by fl_file_commit(). */
	if (fflush(fp) != 0)
		return 0;
	if ((at = lseek(fl_file_fd(dst), 0, SEEK_CUR)) < 0)
		return fl_fail(FL_ERR_IO, "%s: %s", o->out, strerror(errno));
	if ((pw = calloc(1, sizeof(*pw))) == NULL)
		return FL_ERR_NOMEM;
	pw->n = pt->n;
	pw->fd = fl_file_fd(dst);
	for (size_t k = 0; k < pt->n && r == 0; k++) {
		struct part_out *po = &pw->po[k];

		po->p = &pt->p[k];
		po->dst = dst;
		po->leads = pt->leads[k];
		po->records = pt->records[k];
		po->first = first;
		po->base = base;
		po->positions = k > 0 && m->schema->id == NULL;
		po->last = k + 1 == pt->n;
		first += pt->leads[k];
		base += pt->records[k];
		if ((po->wr = calloc(1, sizeof(*po->wr))) == NULL ||
		    (po->wr->rank[0] = malloc(PIECE_LINES * sizeof(uint64_t))) == NULL) {
			r = FL_ERR_NOMEM;
			break;
		}
		po->wr->rk = rk;
		po->wr->rows = rows;
		po->wr->fd = -1;
	}
	pw->sizing = 1;
	if (r == 0 && (r = parts_run(pw)) == 0) {
		for (size_t k = 0; k < pw->n; k++) {
			pw->po[k].off = pw->po[k].kicked = (uint64_t)at;
			at += (off_t)pw->po[k].size;
		}
		pw->sizing = 0;
		r = parts_run(pw);
	}
	for (size_t k = 0; k < pw->n; k++) {
		if (pw->po[k].wr == NULL)
			continue;
		free(pw->po[k].wr->out[0][0].p);
		free(pw->po[k].wr->out[1][0].p);
		free(pw->po[k].wr->rank[0]);
		free(pw->po[k].wr);
	}
	free(pw);
	return r;
}

/* The second phase with --sort rank: every spooled line with its rank and
 * decile, into sp in file order, indexed by rank for spool_copy(). (File
 * order goes by write_parts() or write_in_order().) */
static int write_scores(const struct fl_model *m, const struct fl_score_opts *o, struct parts *pt,
                        struct fl_ranker *rk, FILE *fp, struct spool *sp,
                        const struct fl_score_report *rep)
{
	struct fl_obuf line = {NULL, 0, 0, 0};
	uint64_t end = pt->leads[0], base = 0;
	size_t k = 0;
	int r = 0;

	write_header(fp, m, o);
	fp = sp->lines;
	for (size_t j = 0; j < pt->n && r == 0; j++)
		r = pending_rewind(&pt->p[j]);
	if (r != 0)
		return r;
	for (uint64_t i = 0; i < rep->load.rows; i++) {
		const char *head = NULL, *tail = NULL;
		size_t hl = 0, tl = 0;
		struct line_ext e = {0};
		uint64_t rank;
		int decile;
		char num[24];

		/* The next part's lines, positions after its records. */
		while (i >= end && k + 1 < pt->n) {
			base += pt->records[k];
			end += pt->leads[++k];
		}
		if ((r = pending_next(&pt->p[k], &head, &hl, &tail, &tl, &e)) != 0 ||
		    (r = fl_ranker_rank(rk, i, &rank, &decile)) != 0)
			break;
		line.len = 0;
		if (pt->p[k].ext && e.index != UINT64_MAX)
			fl_obuf_put(&line, num, fl_numfmt_u64(num, base + e.index));
		fl_obuf_put(&line, head, hl);
		fl_obuf_char(&line, ',');
		fl_obuf_put(&line, num, fl_numfmt_u64(num, rank));
		fl_obuf_char(&line, ',');
		fl_obuf_put(&line, num, fl_numfmt_u64(num, (uint64_t)decile));
		fl_obuf_put(&line, tail, tl);
		if (line.oom) {
			r = FL_ERR_NOMEM;
			break;
		}
		struct spool_ref ref = {(uint64_t)ftello(fp), line.len};

		if (pwrite(sp->idx, &ref, sizeof(ref), (off_t)((rank - 1) * sizeof(ref))) !=
		    (ssize_t)sizeof(ref)) {
			r = spool_io("write", o->data);
			break;
		}
		fwrite(line.p, 1, line.len, fp);
	}
	free(line.p);
	return r;
}

int fl_score_rank(const struct fl_model *m, const struct fl_score_opts *o,
                  struct fl_score_report *rep, struct fl_ranker **rk)
{
	struct fl_rows *rows = NULL;
	int r;

	*rk = NULL;
	memset(rep, 0, sizeof(*rep));
	rep->load.want_unseen = 1;
	if ((r = fl_rows_open(m->schema, o->data, o->eval, o->policy, &rep->load, &rows)) == 0)
		r = score_pass(m, o, rows, NULL, rep, rk);
	fl_rows_close(rows);
	return r;
}

int fl_score_file(const struct fl_model *m, const struct fl_score_opts *o,
                  struct fl_score_report *rep)
{
	struct fl_rows *rows = NULL;
	struct fl_ranker *rk = NULL;
	struct spool sp = {NULL, -1};
	struct parts pt;
	struct fl_file *dst = NULL;
	FILE *fp = NULL;
	uint64_t cut[MAX_LANES], line[MAX_LANES];
	size_t n_parts;
	const char *dir;
	int r;

	memset(rep, 0, sizeof(*rep));
	memset(&pt, 0, sizeof(pt));
	pt.n = 1;
	rep->load.want_unseen = 1;
	if (o->n_reasons < 0 || o->n_reasons > FL_MAX_REASONS)
		return fl_fail(FL_ERR_INVALID, "reason codes per lead must be 0 to %d",
		               FL_MAX_REASONS);
	dir = o->tmpdir;
	if (dir == NULL || dir[0] == '\0')
		dir = getenv("TMPDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	n_parts = lanes_for(m, o, cut, line);
	for (size_t k = 0; k < MAX_LANES; k++) {
		/* The bound is the spools' together. */
		pt.p[k].bound = (o->spool_bytes ? o->spool_bytes : SPOOL_BYTES_DEFAULT) / n_parts;
		if (pt.p[k].bound == 0)
			pt.p[k].bound = 1;
		pt.p[k].dir = dir;
		pt.p[k].ext = k > 0;
	}
	if (n_parts > 1) {
		r = score_lanes(m, o, cut, line, n_parts, &pt, rep, &rk);
		if (r != 1)
			goto scored;
		/* Read again as one part: the counts are one reader's. */
		for (size_t k = 0; k < MAX_LANES; k++) {
			size_t bound = pt.p[0].bound * n_parts;

			pending_free(&pt.p[k]);
			memset(&pt.p[k], 0, sizeof(pt.p[k]));
			pt.p[k].bound = bound;
			pt.p[k].dir = dir;
		}
		memset(pt.leads, 0, sizeof(pt.leads));
		pt.n = 1;
		memset(rep, 0, sizeof(*rep));
		rep->load.want_unseen = 1;
	}
	if ((r = fl_rows_open(m->schema, o->data, o->eval, o->policy, &rep->load, &rows)) != 0 ||
	    (r = score_pass(m, o, rows, o->out != NULL ? &pt.p[0] : NULL, rep, &rk)) != 0)
		goto out;
	pt.leads[0] = rep->load.rows;
scored:
	if (r != 0)
		goto out;
	if (o->out == NULL) {
		r = 0;
		goto out;
	}
	if ((o->sort_rank && (r = spool_open(rk, &sp)) != 0) ||
	    (r = fl_file_begin(o->out, &score_out_opts, &dst)) != 0)
		goto out;
	if ((fp = fl_file_stream(dst)) == NULL) {
		r = FL_ERR_IO;
		goto out;
	}
	if (o->sort_rank)
		r = write_scores(m, o, &pt, rk, fp, &sp, rep);
	else if (pt.n < 2 || (r = write_parts(m, o, &pt, rk, fp, dst, rep->load.rows)) == 1)
		r = write_in_order(m, o, &pt, rk, fp, fl_file_fd(dst), rep->load.rows);
	if (r != 0 || (o->sort_rank && (r = spool_copy(&sp, rep->load.rows, fp, o->data)) != 0))
		goto out;
	r = fl_file_commit(dst);
	dst = NULL;
out:
	fl_file_abort(dst);
	spool_close(&sp);
	for (size_t k = 0; k < MAX_LANES; k++)
		pending_free(&pt.p[k]);
	fl_rows_close(rows);
	fl_ranker_free(rk);
	return r;
}

/* ---- explaining a model ---- */

static int driver_cmp(const void *a, const void *b)
{
	double x = ((const struct fl_driver *)a)->effect, y = ((const struct fl_driver *)b)->effect;

	return (x < y) - (x > y);
}

/*
 * The effect of encoded column j, in log-odds against the average training
 * lead: for a numeric value column, one standard deviation above the mean;
 * for a one-hot or indicator column, having that value instead of the
 * feature's average mix of values.
 */
static double column_effect(const struct fl_model *m, const struct fl_feature *f, size_t j)
{
	size_t start = f->enc_offset, width = f->enc_width;
	double avg = 0;

	if (fl_feature_is_value(f, j))
		return m->w[j];
	/* A missing indicator (a date's too: its first part). */
	if (f->type == FL_NUMERIC ||
	    (f->type == FL_DATE && j == f->enc_offset + 1 && f->missing == FL_MISSING_IMPUTE))
		return m->w[j] * (1 - m->scaler->baseline[j]);
	/* A date's weekday or month against that block's average. */
	for (size_t p = 0; p < fl_feature_parts(f); p++) {
		fl_feature_part(f, p, &start, &width);
		if (j >= start && j < start + width)
			break;
	}
	for (size_t k = start; k < start + width; k++)
		avg += m->scaler->baseline[k] * m->w[k];
	return m->w[j] - avg;
}

int fl_score_drivers(const struct fl_model *m, struct fl_driver **out, size_t *n)
{
	const struct fl_schema *s = m->schema;
	struct fl_driver *d;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if ((d = malloc((s->dim > 0 ? s->dim : 1) * sizeof(*d))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < s->n_features; i++)
		/* A spline or bins feature is one effect curve
		 * (fl_spline_explain()), never a basis column. */
		for (size_t j = s->features[i].enc_offset;
		     !fl_spline_is_block(&s->features[i]) &&
		     j < s->features[i].enc_offset + s->features[i].enc_width;
		     j++) {
			double e = column_effect(m, &s->features[i], j);

			/* A NaN would make the order below undefined. */
			if (isfinite(e))
				d[k++] = (struct fl_driver){j, e};
		}
	qsort(d, k, sizeof(*d), driver_cmp);
	*out = d;
	*n = k;
	return 0;
}

static void print_driver(FILE *fp, const struct fl_model *m, const struct fl_driver *d)
{
	char name[160];
	const struct fl_feature *f = NULL;

	fl_schema_column_name(m->schema, d->col, name, sizeof(name));
	for (size_t i = 0; i < m->schema->n_features; i++)
		if (d->col >= m->schema->features[i].enc_offset &&
		    d->col < m->schema->features[i].enc_offset + m->schema->features[i].enc_width)
			f = &m->schema->features[i];
	fprintf(fp, "  %+8.4f  %-32s", d->effect, name);
	if (f != NULL && fl_feature_is_value(f, d->col))
		fprintf(fp, "  per +1 unit: %+.4g (1 sd = %.4g units, mean %.4g)",
		        m->w[d->col] / m->scaler->scale[d->col], m->scaler->scale[d->col],
		        m->scaler->center[d->col]);
	else
		fprintf(fp, "  (%.1f %% of training leads)", 100 * m->scaler->baseline[d->col]);
	fputc('\n', fp);
}

int fl_score_explain(const struct fl_model *m, FILE *fp, int top)
{
	const struct fl_schema *s = m->schema;
	struct fl_driver *d;
	char fp_hex[65];
	size_t n;
	int r;

	if ((r = fl_score_drivers(m, &d, &n)) != 0)
		return r;
	fl_schema_fingerprint_hex(s, fp_hex);
	fprintf(fp,
	        "Model: %zu features, %zu weights; solver %s, l2 %g; trained on %llu leads "
	        "(%llu converted)\n",
	        s->n_features, s->dim, m->prov.solver ? m->prov.solver : "?", m->prov.l2,
	        (unsigned long long)m->prov.rows, (unsigned long long)m->prov.positives);
	fprintf(fp, "Schema fingerprint: %s\n", fp_hex);
	/* Where the model comes from: a federation's partners and rounds (its
	 * signer is checked and named by fedlead-score --verify-ca), or one
	 * site's own data. */
	if (m->prov.federation_id != NULL) {
		fprintf(fp, "Federation: %s, %u rounds, %zu partners:", m->prov.federation_id,
		        m->prov.rounds, m->prov.n_participants);
		for (size_t i = 0; i < m->prov.n_participants; i++)
			fprintf(fp, "%s %s", i ? "," : "", m->prov.participants[i]);
		fputc('\n', fp);
	} else {
		fprintf(fp, "Trained locally, on one site's leads\n");
	}
	if (m->prov.valid.rows > 0)
		fprintf(fp, "Validation: %llu leads, AUC %.4f, log-loss %.4f\n",
		        (unsigned long long)m->prov.valid.rows, m->prov.valid.auc,
		        m->prov.valid.log_loss);
	{
		char dp[1024];

		/* The sentence starts lower-case for the report's table. */
		fl_model_privacy_text(m, dp, sizeof(dp));
		dp[0] = (char)toupper((unsigned char)dp[0]);
		fprintf(fp, "%s\n", dp);
	}
	fprintf(fp, "Effects are log-odds against the average lead.\n");
	fprintf(fp, "\nTop drivers towards conversion:\n");
	for (size_t k = 0; k < n && k < (size_t)top && d[k].effect > 0; k++)
		print_driver(fp, m, &d[k]);
	fprintf(fp, "\nTop drivers against conversion:\n");
	for (size_t k = 0; k < n && k < (size_t)top && d[n - 1 - k].effect < 0; k++)
		print_driver(fp, m, &d[n - 1 - k]);
	free(d);
	if ((r = fl_spline_explain(m, fp)) != 0)
		return r;
	return ferror(fp) ? fl_fail(FL_ERR_IO, "write failed") : 0;
}

/* A reason's text is copied whole into the caller's fl_reason. */
_Static_assert(sizeof(((struct fl_reason *)0)->text) == REASON_TEXT, "reason text sizes differ");

struct fl_reasoner {
	const struct fl_model *m;
	struct rtab rt;
	struct cand cand;
};

int fl_reasoner_new(const struct fl_model *m, struct fl_reasoner **out)
{
	struct fl_reasoner *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL)
		return FL_ERR_NOMEM;
	r->m = m;
	if (rtab_init(m, &r->rt) != 0) {
		free(r);
		return FL_ERR_NOMEM;
	}
	r->cand.rp = malloc((r->rt.n_parts > 0 ? r->rt.n_parts : 1) * sizeof(*r->cand.rp));
	r->cand.c = malloc((r->rt.n_parts > 0 ? r->rt.n_parts : 1) * sizeof(*r->cand.c));
	if (r->cand.rp == NULL || r->cand.c == NULL) {
		fl_reasoner_free(r);
		return FL_ERR_NOMEM;
	}
	cand_init(&r->rt, &r->cand);
	*out = r;
	return 0;
}

size_t fl_reasoner_reasons(struct fl_reasoner *r, const struct fl_binding *b,
                           const struct fl_csv_record *rec, const double *raw, const double *x,
                           int n, int sign, struct fl_reason *out)
{
	struct reason reasons[FL_MAX_REASONS];
	size_t nr;

	if (n > FL_MAX_REASONS)
		n = FL_MAX_REASONS;
	nr = top_reasons(&r->cand, candidates(r->m, &r->rt, x, &r->cand), n, sign, reasons);
	for (size_t k = 0; k < nr; k++) {
		struct rtext t;

		out[k].contribution = reasons[k].contribution;
		reason_text(r->m, b, rec, raw, reasons[k].feature, reasons[k].part, &t);
		memcpy(out[k].text, t.s, t.n + 1);
	}
	return nr;
}

void fl_reasoner_free(struct fl_reasoner *r)
{
	if (r == NULL)
		return;
	free(r->cand.rp);
	free(r->cand.c);
	rtab_free(&r->rt);
	free(r);
}
