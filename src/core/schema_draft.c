/*
 * Drafting a schema from a CSV for a person to review, and the words that
 * say which label value means converted.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/csv.h"
#include "fedlead/error.h"
#include "fedlead/mapping.h"
#include "fedlead/schema.h"
#include "fedlead/source.h"
#include "fedlead/splitmix.h"
#include "fedlead/strv.h"
#include "fedlead/utf8.h"

#include "datetime_int.h"
#include "spline_int.h"

/* ---- Drafting a schema from a CSV ---- */

/* Columns with more distinct text values than this look like identifiers or
 * free text, not categories: the draft ignores them. */
#define DRAFT_MAX_CATEGORIES 100

/* Numeric values kept per column for the drafted clip range: a uniform
 * sample (reservoir) of at most this many, so a large file costs bounded
 * memory and the quantiles are still well within a reviewer's rounding. */
#define DRAFT_MAX_SAMPLE 100000

/* The fewest values a column needs for the schema round's clip range
 * at any k (fl_schema_round_clip_min(); draft_clip() says why). */
#define DRAFT_ROUND_MIN_VALUES 50

/*
 * Identifiers: a column is drafted as an ID (ignored) when it has at least
 * DRAFT_ID_MIN_ROWS values and at least 95 % of them are distinct, for text,
 * or every one of them distinct, for integers: counts and amounts
 * (employees, visits) often come out 95 % distinct in a few hundred leads,
 * while an identifier never repeats (beyond the sketch's exact range, 95 %
 * of the estimate). Decimals are measurements, which are often all
 * different, and never IDs. Distinct values are counted in bounded memory with a
 * k-minimum-values sketch: the DRAFT_SKETCH smallest 64-bit hashes of the
 * trimmed values are kept (16 KiB a column at most), so the count is exact
 * while a column has at most that many distinct values and an estimate
 * beyond (relative error about 1/sqrt(2048), 2 %).
 */
#define DRAFT_ID_MIN_ROWS 50
#define DRAFT_ID_SHARE 0.95
#define DRAFT_SKETCH 2048

/* What CRMs write for "no answer", compared trimmed and in any ASCII case;
 * the draft lists the ones it finds as the feature's "missing_values". */
static const char *const placeholders[] = {"select", "n/a",     "na", "-", "null",
                                           "none",   "unknown", "?",  NULL};
#define N_PLACEHOLDERS 8

/* Currency symbols and codes the draft recognises at either end of a
 * number ("$5,000", "12.50 EUR", "€ 12,50"). */
static const char *const currencies[] = {
        "$",   "\xE2\x82\xAC", "\xC2\xA3", "\xC2\xA5", "\xE2\x82\xB9", "CHF",
        "EUR", "USD",          "GBP",      "JPY",      "INR",          NULL};

/* The number formats tried on a column whose values are not plain numbers:
 * decimal separator and thousands separator (each with the column's
 * currency, when it has one). */
static const struct {
	char decimal;
	const char *thousands;
} formats[] = {{'.', ""}, {'.', ","}, {',', ""}, {',', "."}, {',', " "}};
#define N_FORMATS 5

struct draft_val {
	char *v; /* trimmed text */
	uint64_t n;
};

struct draft_col {
	int numeric, integer, overflow;
	int trimmed;            /* some value had blanks around it */
	uint64_t n_blank;       /* empty fields */
	uint64_t n_present;     /* fields with a value: not empty, not a placeholder */
	uint64_t bad_line;      /* first line with a value draft_utf8() refuses, or 0 */
	struct draft_val *vals; /* sorted distinct values (up to DRAFT_MAX_CATEGORIES) */
	size_t n_vals;
	uint64_t ph_n[N_PLACEHOLDERS]; /* placeholders found, and how often */
	char *ph_text[N_PLACEHOLDERS]; /* each as first written */
	unsigned formats;              /* bit i: every value reads in formats[i] */
	char currency[FL_NUMBER_CURRENCY_MAX + 1];
	uint64_t *sketch; /* the smallest distinct hashes, sorted */
	size_t n_sketch, sketch_cap;
	double *sample; /* numeric values seen (a reservoir sample), for the clip */
	size_t n_sample, cap;
	uint64_t n_seen;
	struct fl_date_scan dates; /* whether every value is a date, and in which format */
};

static int draft_add_number(struct draft_col *c, double x, uint64_t *rng)
{
	uint64_t k;

	/* -0 and 0 alike: a bound of "-0.0" would tell how one lead wrote
	 * its zero. */
	x += 0.0;
	c->n_seen++;
	if (c->n_sample < DRAFT_MAX_SAMPLE) {
		if (c->n_sample == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 64;
			double *ns;

			if (cap > DRAFT_MAX_SAMPLE)
				cap = DRAFT_MAX_SAMPLE;
			if ((ns = realloc(c->sample, cap * sizeof(*ns))) == NULL)
				return FL_ERR_NOMEM;
			c->sample = ns;
			c->cap = cap;
		}
		c->sample[c->n_sample++] = x;
		return 0;
	}
	if ((k = fl_splitmix64(rng) % c->n_seen) < DRAFT_MAX_SAMPLE)
		c->sample[k] = x;
	return 0;
}

static int double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* x rounded down (up = 0) or up (up = 1) to two significant digits. */
static double round_outward(double x, int up)
{
	double k, p, r;

	if (x == 0 || !isfinite(x))
		return x;
	/* Scaled by a power of ten that is exact (10^k for k >= 0), so that
	 * 0.013 comes out as 13 / 1000 and not as 13 * 0.001. */
	k = 1 - floor(log10(fabs(x)));
	p = pow(10, fabs(k));
	if (k >= 0)
		r = (up ? ceil(x * p) : floor(x * p)) / p;
	else
		r = (up ? ceil(x / p) : floor(x / p)) * p;
	/* Never inward, whatever the rounding of the division did. */
	if (up ? r < x : r > x)
		r = up ? nextafter(r, INFINITY) : nextafter(r, -INFINITY);
	return r;
}

/*
 * The rounding cell of sorted v at index i: the run of values around v[i]
 * that round outward (round_outward(, up)) to the bound v[i] does, as
 * [*s, *e). Walked, not searched: the walk counts the run of equal
 * bounds around i, which can only undercount should the rounding of
 * log10() at a power of ten not be monotone, and moving from one cell to
 * the next it reads each value once.
 */
static void round_cell(const double *v, size_t n, size_t i, int up, size_t *s, size_t *e)
{
	double b = round_outward(v[i], up);

	*s = i;
	*e = i + 1;
	while (*s > 0 && round_outward(v[*s - 1], up) == b)
		(*s)--;
	while (*e < n && round_outward(v[*e], up) == b)
		(*e)++;
}

uint64_t fl_schema_round_clip_min(uint64_t k)
{
	/* Why these numbers: see draft_clip(). */
	if (k < 2 || k > UINT64_MAX / 4)
		return 0;
	return 4 * k > DRAFT_ROUND_MIN_VALUES ? 4 * k : DRAFT_ROUND_MIN_VALUES;
}

/*
 * The drafted clip range of a numeric column, from its sample (sorted by
 * the caller): its 0.5 % and 99.5 % quantiles (by rank in the sample; the
 * minimum and maximum below 200 values), rounded outward to two
 * significant digits. This is drafted from local data for a person to
 * review: under differential privacy the clip range is part of the agreed
 * contract and must not be re-derived from any partner's data at training
 * time (that would make the bound itself a release). Returns 1 with the
 * range in *lo, *hi.
 *
 * round_k > 0 drafts the schema round's range, which leaves the site. A
 * bound is the value at a rank rounded outward, so it says where that
 * value lies to two significant digits: alone near it, it is one lead's
 * value. So a bound must pass two tests (the fourth privacy review's
 * finding 1 and its review's):
 *  - its rank is at least round_k from its end (index round_k from the
 *    bottom, n - 1 - round_k from the top), so at least round_k values lie
 *    beyond it, and at least the 1st (99th) percentile's;
 *  - its rounding cell (the values that round outward to the same bound)
 *    holds at least round_k of the sample's values, so the bound is where
 *    at least k leads are, never where one is.
 * (Beyond DRAFT_MAX_SAMPLE values the sample is a subset of the column,
 * so its counts never exceed the column's.)
 * A bound whose cell is too thin moves inward, cell by cell, up to the
 * median; none found there: no range (returns 0). round_k is the node's
 * schema_min_count, k; with k = 1 each rule holds for one lead alone, so
 * the round needs k >= 2 for any range.
 * The caller drafts the round's range only from fl_schema_round_clip_min(k)
 * values on: max(4 k, DRAFT_ROUND_MIN_VALUES). Privacy needs 2 k + 1 (a
 * rank k from each end); the rest is for the range to be worth a person's
 * review. At 4 k the two ranks leave at least the middle half of the
 * values between them, and below DRAFT_ROUND_MIN_VALUES values the 1st and
 * 99th percentiles by rank are the ends themselves (clamped to k): a
 * range from so few says more about chance than about the column. (It was
 * 100 k before the cell rule, where the percentile ranks are about k
 * already; the cell rule makes the bound k leads' whatever the rank.)
 */
static int draft_clip(struct draft_col *c, size_t round_k, double *lo, double *hi)
{
	size_t n = c->n_sample, a, b, s, e;

	if (round_k > 0) {
		/* n >= fl_schema_round_clip_min(round_k) >= 2 round_k + 1: the
		 * caller's check. */
		a = (size_t)floor(0.01 * (double)(n - 1));
		b = (size_t)ceil(0.99 * (double)(n - 1));
		a = a < round_k ? round_k : a;
		b = b > n - 1 - round_k ? n - 1 - round_k : b;
		/* Inward to the first cell of k values, low bound up to the
		 * median's index (n - 1) / 2 and high bound down to n / 2. */
		for (;; a = e) {
			if (a > (n - 1) / 2)
				return 0;
			round_cell(c->sample, n, a, 0, &s, &e);
			if (e - s >= round_k)
				break;
		}
		for (;; b = s - 1) {
			if (b < n / 2)
				return 0;
			round_cell(c->sample, n, b, 1, &s, &e);
			if (e - s >= round_k)
				break;
			if (s == 0) /* a thin cell of every value: never, as n > k */
				return 0;
		}
	} else {
		a = (size_t)floor(0.005 * (double)(n - 1));
		b = (size_t)ceil(0.995 * (double)(n - 1));
	}
	*lo = round_outward(c->sample[a], 0);
	*hi = round_outward(c->sample[b], 1);
	if (fabs(*lo) > FL_SCHEMA_MAX_CLIP)
		*lo = *lo < 0 ? -FL_SCHEMA_MAX_CLIP : FL_SCHEMA_MAX_CLIP;
	if (fabs(*hi) > FL_SCHEMA_MAX_CLIP)
		*hi = *hi < 0 ? -FL_SCHEMA_MAX_CLIP : FL_SCHEMA_MAX_CLIP;
	/* A constant column still needs a range with low below high. */
	if (!(*lo < *hi)) {
		if (*hi < FL_SCHEMA_MAX_CLIP)
			*hi = round_outward(*lo + fmax(1, fabs(*lo) * 0.01), 1);
		else
			*lo = round_outward(*hi - fmax(1, fabs(*hi) * 0.01), 0);
	}
	return 1;
}

/* Whether the len bytes at s are well-formed UTF-8 without NUL bytes: a
 * schema holds nothing else (jansson's json_string() returns NULL for other
 * text and stops at a NUL, which would drop or cut the name or value in the
 * draft without a word). */
static int draft_utf8(const char *s, size_t len)
{
	return fl_utf8_valid(s, len, FL_UTF8_NO_NUL);
}

static void trim_blanks(const char **b, const char **e)
{
	while (*b < *e && (**b == ' ' || **b == '\t'))
		(*b)++;
	while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

/* The index of the placeholder the len bytes at s are, or -1. */
static int placeholder_index(const char *s, size_t len)
{
	for (int i = 0; placeholders[i] != NULL; i++)
		if (fl_schema_fold_cmp(s, len, placeholders[i], strlen(placeholders[i])) == 0)
			return i;
	return -1;
}

/* Adds the hash of a value to the column's distinct-value sketch. */
static int draft_sketch(struct draft_col *c, const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t lo = 0, hi = c->n_sketch;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	h = fl_mix64(h);
	if (c->n_sketch == DRAFT_SKETCH && h >= c->sketch[DRAFT_SKETCH - 1])
		return 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->sketch[mid] == h)
			return 0;
		if (c->sketch[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (c->n_sketch == c->sketch_cap && c->n_sketch < DRAFT_SKETCH) {
		size_t cap = c->sketch_cap ? 2 * c->sketch_cap : 64;
		uint64_t *ns = realloc(c->sketch, cap * sizeof(*ns));

		if (ns == NULL)
			return FL_ERR_NOMEM;
		c->sketch = ns;
		c->sketch_cap = cap;
	}
	if (c->n_sketch == DRAFT_SKETCH)
		c->n_sketch--; /* the largest makes room */
	memmove(&c->sketch[lo + 1], &c->sketch[lo], (c->n_sketch - lo) * sizeof(*c->sketch));
	c->sketch[lo] = h;
	c->n_sketch++;
	return 0;
}

/* The number of distinct values: exact below DRAFT_SKETCH, else the
 * k-minimum-values estimate (k - 1) / (the k-th smallest hash / 2^64). */
static uint64_t draft_distinct(const struct draft_col *c, int *estimated)
{
	*estimated = c->n_sketch == DRAFT_SKETCH;
	if (!*estimated)
		return c->n_sketch;
	return (uint64_t)((DRAFT_SKETCH - 1) /
	                  ((double)c->sketch[DRAFT_SKETCH - 1] / 18446744073709551616.0));
}

/* Narrows the number formats the column's values all read in. */
static void draft_formats(struct draft_col *c, const char *s, size_t len)
{
	if (c->currency[0] == '\0') {
		const char *b = s, *e = s + len;

		trim_blanks(&b, &e);
		if (b < e && (*b == '-' || *b == '+'))
			b++;
		for (size_t i = 0; currencies[i] != NULL; i++) {
			size_t n = strlen(currencies[i]);

			if ((size_t)(e - b) > n && (memcmp(b, currencies[i], n) == 0 ||
			                            memcmp(e - n, currencies[i], n) == 0)) {
				memcpy(c->currency, currencies[i], n + 1);
				break;
			}
		}
	}
	for (int i = 0; i < N_FORMATS; i++) {
		struct fl_number_format nf = {.decimal = formats[i].decimal};
		double x;

		if (!(c->formats & (1u << i)))
			continue;
		memcpy(nf.thousands, formats[i].thousands, strlen(formats[i].thousands) + 1);
		memcpy(nf.currency, c->currency, sizeof(nf.currency));
		if (fl_parse_number(s, len, &nf, &x) != 0)
			c->formats &= ~(1u << i);
	}
}

/* The format of formats[i] with the column's currency. */
static struct fl_number_format draft_format(const struct draft_col *c, int i)
{
	struct fl_number_format nf = {.decimal = formats[i].decimal};

	memcpy(nf.thousands, formats[i].thousands, strlen(formats[i].thousands) + 1);
	memcpy(nf.currency, c->currency, sizeof(nf.currency));
	return nf;
}

/*
 * Which format a column of formatted numbers is drafted with, or -1 when
 * none fits. The one needing the fewest separators wins; "1,234" reads as
 * one thousand two hundred and thirty-four (thousands ",") or as 1.234
 * (decimal ","): when every value reads both ways, a semicolon-separated
 * file (where the decimal comma is at home) takes the decimal comma and
 * any other the thousands separator, and *ambiguous says so.
 */
static int draft_pick_format(const struct draft_col *c, char delimiter, int *ambiguous)
{
	static const int comma_first[] = {0, 2, 3, 4, 1}, point_first[] = {0, 1, 2, 3, 4};
	const int *order = delimiter == ';' ? comma_first : point_first;

	*ambiguous = 0;
	for (int k = 0; k < N_FORMATS; k++) {
		int i = order[k];

		if (!(c->formats & (1u << i)))
			continue;
		if (i == 1)
			*ambiguous = (c->formats & 0x1c) != 0;
		else if (i >= 2)
			*ambiguous = (c->formats & 0x2) != 0;
		return i;
	}
	return -1;
}

/* strcmp of a NUL-terminated a against the len bytes at b. */
static int text_cmp(const char *a, const char *b, size_t len)
{
	size_t alen = strlen(a);
	int c = memcmp(a, b, alen < len ? alen : len);

	return c != 0 ? c : (alen > len) - (alen < len);
}

static int draft_add_value(struct draft_col *c, const char *v, size_t len)
{
	size_t lo = 0, hi = c->n_vals;
	struct draft_val *nv;
	char *t;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = text_cmp(c->vals[mid].v, v, len);

		if (cmp == 0) {
			c->vals[mid].n++;
			return 0;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (c->overflow)
		return 0;
	/* One more distinct value than a category list may hold. */
	if (c->n_vals == DRAFT_MAX_CATEGORIES) {
		c->overflow = 1;
		return 0;
	}
	if ((nv = realloc(c->vals, (c->n_vals + 1) * sizeof(*nv))) == NULL)
		return FL_ERR_NOMEM;
	c->vals = nv;
	if ((t = malloc(len + 1)) == NULL)
		return FL_ERR_NOMEM;
	memcpy(t, v, len);
	t[len] = '\0';
	memmove(&nv[lo + 1], &nv[lo], (c->n_vals - lo) * sizeof(*nv));
	nv[lo] = (struct draft_val){t, 1};
	c->n_vals++;
	return 0;
}

/* Numbers sort as numbers so "10" comes after "9" in drafted value lists. */
static int numeric_text_cmp(const void *a, const void *b)
{
	double x = strtod(*(char *const *)a, NULL), y = strtod(*(char *const *)b, NULL);

	return (x > y) - (x < y);
}

static int strcmp_qsort(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Values equal under "case": "fold", adjacent; within a group the most
 * frequent spelling first, ties in byte order. */
static int val_fold_cmp(const void *a, const void *b)
{
	const struct draft_val *x = *(struct draft_val *const *)a,
	                       *y = *(struct draft_val *const *)b;
	int c = fl_schema_fold_cmp(x->v, strlen(x->v), y->v, strlen(y->v));

	if (c != 0)
		return c;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->v, y->v);
}

/* One drafted category: its spelling and how many rows have it (in any
 * spelling, when folded). */
struct draft_group {
	const char *text;
	uint64_t n;
	size_t spellings;
};

/* The column's values grouped as "case": "fold" matches them; *groups
 * gets an array in fold order. */
static int draft_groups(const struct draft_col *c, struct draft_group **groups, size_t *n_groups)
{
	struct draft_val **p = malloc((c->n_vals ? c->n_vals : 1) * sizeof(*p));
	struct draft_group *g = calloc(c->n_vals ? c->n_vals : 1, sizeof(*g));
	size_t k = 0;

	*groups = NULL;
	*n_groups = 0;
	if (p == NULL || g == NULL) {
		free(p);
		free(g);
		return FL_ERR_NOMEM;
	}
	for (size_t i = 0; i < c->n_vals; i++)
		p[i] = &c->vals[i];
	qsort(p, c->n_vals, sizeof(*p), val_fold_cmp);
	for (size_t i = 0; i < c->n_vals; i++) {
		if (k > 0 && fl_schema_fold_cmp(g[k - 1].text, strlen(g[k - 1].text), p[i]->v,
		                                strlen(p[i]->v)) == 0) {
			g[k - 1].n += p[i]->n;
			g[k - 1].spellings++;
			continue;
		}
		g[k++] = (struct draft_group){p[i]->v, p[i]->n, 1};
	}
	free(p);
	*groups = g;
	*n_groups = k;
	return 0;
}

/* Sorts pointers to the names themselves, so equal names end up adjacent and
 * their columns are recovered from the pointer's position in names[]. */
static int name_ptr_cmp(const void *a, const void *b)
{
	return strcmp(**(char **const *)a, **(char **const *)b);
}

/* A header naming a column twice cannot become a schema (every column plays
 * one role); unnamed columns are left out of the draft, so they may repeat. */
static int draft_check_header(char **names, size_t n, const char *path)
{
	char ***sorted = malloc((n ? n : 1) * sizeof(*sorted));
	int r = 0;

	if (sorted == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &names[i];
	qsort(sorted, n, sizeof(*sorted), name_ptr_cmp);
	for (size_t i = 1; i < n; i++) {
		size_t a = (size_t)(sorted[i - 1] - names), b = (size_t)(sorted[i] - names);

		if ((*sorted[i])[0] == '\0' || strcmp(*sorted[i - 1], *sorted[i]) != 0)
			continue;
		r = fl_fail(FL_ERR_DATA, "%s:1: column \"%s\" appears twice (columns %zu and %zu)",
		            path, *sorted[i], (a < b ? a : b) + 1, (a < b ? b : a) + 1);
		break;
	}
	free(sorted);
	return r;
}

/* ---- Which label value means converted ---- */

/* Words for a conversion, and for its opposite, as CRMs and data sets write
 * them; compared after label_word() has folded case, '_' and '-'. */
static const char *const positive_words[] = {
        "converted", "conversion", "won",    "closed won", "win",        "yes",        "y",
        "true",      "t",          "1",      "success",    "successful", "sale",       "sold",
        "purchased", "purchase",   "bought", "signed",     "accepted",   "subscribed", "positive",
        "customer",  "booked",     "paid",   "qualified",  "deal won",   NULL};
static const char *const negative_words[] = {
        "lost",         "closed lost", "lose",     "loss",      "no",       "n",
        "false",        "f",           "0",        "failure",   "failed",   "fail",
        "unsuccessful", "no sale",     "rejected", "declined",  "negative", "churned",
        "disqualified", "unqualified", "dead",     "deal lost", "none",     NULL};

/* v in lower case, trimmed, with '_' and '-' as blanks and runs of blanks as
 * one: "Closed_Won " and "closed-won" are both "closed won". */
static void label_word(const char *v, char *out, size_t outsz)
{
	size_t k = 0;
	int blank = 1; /* drops leading blanks */

	for (; *v != '\0' && k + 1 < outsz; v++) {
		char ch = *v;

		if (ch == '_' || ch == '-' || ch == ' ' || ch == '\t') {
			if (!blank)
				out[k++] = ' ';
			blank = 1;
			continue;
		}
		out[k++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
		blank = 0;
	}
	if (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
}

static int word_in(const char *w, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(w, *list) == 0)
			return 1;
	return 0;
}

/* 1: a word for a conversion; -1: for its opposite (or a negated
 * conversion: "not converted", "non converted", "unconverted", "did not
 * convert"); 0: neither. */
static int label_polarity(const char *v)
{
	static const char *const negations[] = {"not ",   "non ",     "no ", "un",
	                                        "never ", "did not ", NULL};
	char w[64];

	label_word(v, w, sizeof(w));
	if (word_in(w, positive_words))
		return 1;
	if (word_in(w, negative_words))
		return -1;
	for (size_t i = 0; negations[i] != NULL; i++) {
		size_t n = strlen(negations[i]);

		if (strncmp(w, negations[i], n) == 0 && w[n] != '\0' &&
		    (word_in(w + n, positive_words) || strncmp(w + n, "convert", 7) == 0))
			return -1;
	}
	return 0;
}

int fl_schema_label_positive(const char *const v[2])
{
	double x[2];
	int p[2];

	/* Numbers say only as 1 against 0 or -1: "2" against "1" could mean
	 * either (some data sets code yes as 2). */
	if (fl_parse_double(v[0], strlen(v[0]), &x[0]) == 0 &&
	    fl_parse_double(v[1], strlen(v[1]), &x[1]) == 0) {
		for (int i = 0; i < 2; i++)
			if (x[i] == 1 && (x[1 - i] == 0 || x[1 - i] == -1))
				return i;
		return -1;
	}
	p[0] = label_polarity(v[0]);
	p[1] = label_polarity(v[1]);
	for (int i = 0; i < 2; i++) {
		if (p[i] == 1 && p[1 - i] != 1)
			return i;
	}
	for (int i = 0; i < 2; i++)
		if (p[i] == 0 && p[1 - i] == -1)
			return i;
	return -1;
}

/*
 * Records the dialect the caller gave (nothing detected): the partner who
 * drafts reads the same file with the schema as it was drafted. It is
 * outside the fingerprint, so a partner whose files differ changes it
 * without changing the contract.
 */
static void draft_dialect(json_t *root, const struct fl_csv_dialect *d)
{
	if (d->delimiter != 0)
		json_object_set_new(root, "delimiter",
		                    json_string(fl_csv_delimiter_name(d->delimiter)));
	if (d->encoding != FL_CSV_UTF8)
		json_object_set_new(root, "encoding",
		                    json_string(fl_csv_encoding_name(d->encoding)));
	if (d->number.decimal == ',')
		json_object_set_new(root, "decimal", json_string(","));
	if (d->number.thousands[0] != '\0')
		json_object_set_new(root, "thousands", json_string(d->number.thousands));
	if (d->number.currency[0] != '\0')
		json_object_set_new(root, "currency", json_string(d->number.currency));
}

int fl_schema_draft(const char *csv_path, const char *label, const char *id, size_t max_levels,
                    char **json_out)
{
	struct fl_schema_draft_opts o = {.label = label, .id = id, .max_levels = max_levels};

	return fl_schema_draft_opts(csv_path, &o, json_out);
}

/* 1234567 as "1,234,567", for the decision table. */
static void group_digits(uint64_t v, char *buf, size_t n)
{
	char t[32];
	size_t len, k = 0;

	snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
	len = strlen(t);
	for (size_t i = 0; i < len && k + 2 < n; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = t[i];
	}
	buf[k] = '\0';
}

/* An integer JSON value as text, for the decision table. */
static const char *json_dumps_int(const json_t *v, char *buf, size_t n)
{
	snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	return buf;
}

/* One line of the decision table. */
struct draft_row {
	const char *name;
	const char *kind;
	char why[384];
	char check[256];
};

/* Appends printf text to a fixed buffer, cutting it short with "..." rather
 * than overflowing. */
static void cat_text(char *buf, size_t n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void cat_text(char *buf, size_t n, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;
	int w;

	if (used + 1 >= n)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + used, n - used, fmt, ap);
	va_end(ap);
	if (w > 0 && (size_t)w >= n - used && n > 4)
		memcpy(buf + n - 4, "...", 4);
}

/* Display width of UTF-8 text: its code points. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/*
 * The decision table: a header and one line per column, in file order, the
 * columns aligned (names, kinds and reasons padded with blanks), "check:"
 * last. Plain text, so that it reads the same in a terminal and a log.
 */
static char *draft_table(const struct draft_row *rows, size_t n)
{
	size_t wn = strlen("column"), wk = strlen("kind"), ww = strlen("why"), cap = 256, len = 0;
	char *out;

	for (size_t i = 0; i < n; i++) {
		wn = text_width(rows[i].name) > wn ? text_width(rows[i].name) : wn;
		wk = strlen(rows[i].kind) > wk ? strlen(rows[i].kind) : wk;
		ww = text_width(rows[i].why) > ww ? text_width(rows[i].why) : ww;
		cap += strlen(rows[i].name) + strlen(rows[i].why) + strlen(rows[i].check) + 64;
	}
	cap += (n + 1) * (wn + wk + ww + 8);
	if ((out = malloc(cap)) == NULL)
		return NULL;
	for (size_t i = 0; i <= n; i++) {
		const char *name = i == 0 ? "column" : rows[i - 1].name,
		           *kind = i == 0 ? "kind" : rows[i - 1].kind,
		           *why = i == 0 ? "why" : rows[i - 1].why,
		           *check = i == 0 ? "check" : rows[i - 1].check;
		int w = snprintf(out + len, cap - len, "%s%*s  %-*s  %s%*s  %s%s\n", name,
		                 (int)(wn - text_width(name)), "", (int)wk, kind, why,
		                 (int)(ww - text_width(why)), "",
		                 i == 0 || check[0] == '\0' ? "" : "check: ", check);

		if (w < 0 || (size_t)w >= cap - len) {
			free(out);
			return NULL;
		}
		/* A row without a check ends after its reason. */
		len += (size_t)w;
		while (len >= 2 && out[len - 2] == ' ') {
			out[len - 2] = '\n';
			out[--len] = '\0';
		}
	}
	return out;
}

/* Lists the placeholders found in a column as the feature's
 * "missing_values", and says in its row of the table what is missing:
 * "missing (imputed): 3 empty, "N/A" (19)". A placeholder seen fewer than
 * min_count times is left out like a rare category value (the schema round
 * sends nothing held fewer than k times); it is then an unlisted value. */
static void draft_missing(const struct draft_col *c, json_t *jf, struct draft_row *row,
                          const char *what, uint64_t min_count)
{
	json_t *arr = NULL;
	char n[32];
	int first = 1, any = 0;

	if (c->n_blank > 0) {
		group_digits(c->n_blank, n, sizeof(n));
		cat_text(row->why, sizeof(row->why), "; missing (%s): %s empty", what, n);
		first = 0;
	}
	for (int i = 0; i < N_PLACEHOLDERS; i++) {
		if (c->ph_n[i] == 0 || (min_count > 1 && c->ph_n[i] < min_count))
			continue;
		if (arr == NULL && (arr = json_array()) != NULL)
			json_object_set_new(jf, "missing_values", arr);
		if (arr != NULL)
			json_array_append_new(arr, json_string(c->ph_text[i]));
		group_digits(c->ph_n[i], n, sizeof(n));
		if (first)
			cat_text(row->why, sizeof(row->why), "; missing (%s): ", what);
		cat_text(row->why, sizeof(row->why), "%s\"%s\" (%s)", first ? "" : ", ",
		         c->ph_text[i], n);
		first = 0;
		any = 1;
	}
	if (any)
		cat_text(row->check, sizeof(row->check), "%sare the placeholders no answer?",
		         row->check[0] ? "; " : "");
}

/* ---- The calendar date of a month column and a day column ---- */

/* The month (1..12) a text names in English, in any ASCII case: the whole
 * name, its first three letters or "sept"; 0 for none. */
static int month_of_name(const char *v)
{
	static const char *const names[] = {"january",   "february", "march",    "april",
	                                    "may",       "june",     "july",     "august",
	                                    "september", "october",  "november", "december"};
	size_t len = strlen(v);

	for (int m = 0; m < 12; m++) {
		size_t k = 0;

		while (k < len && names[m][k] != '\0' && (v[k] | 0x20) == names[m][k])
			k++;
		if (k == len && (len == strlen(names[m]) || len == 3 || (m == 8 && len == 4)))
			return m + 1;
	}
	return 0;
}

/* Whether a column name says what it holds: word, in any ASCII case. */
static int name_says(const char *name, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = name; *p != '\0'; p++) {
		size_t k = 0;

		while (k < n && p[k] != '\0' && (p[k] | 0x20) == word[k])
			k++;
		if (k == n)
			return 1;
	}
	return 0;
}

/* The number of a whole-number text from lo to hi, or 0. */
static int small_int(const char *v, int lo, int hi)
{
	char *end;
	long x = strtol(v, &end, 10);

	return end != v && *end == '\0' && x >= lo && x <= hi ? (int)x : 0;
}

/* A month column: every value a month's English name, or a whole number
 * from 1 to 12 in a column whose name says "month"; at least 2 values. */
static int is_month_column(const struct draft_col *c, const char *name)
{
	int names = 1, numbers = c->numeric && c->integer && name_says(name, "month");

	if (c->overflow || c->n_vals < 2)
		return 0;
	for (size_t k = 0; k < c->n_vals; k++) {
		names = names && month_of_name(c->vals[k].v) > 0;
		numbers = numbers && small_int(c->vals[k].v, 1, 12) > 0;
	}
	return names || numbers;
}

/* A day-of-month column: whole numbers from 1 to 31 (at least 2 of them)
 * in a column whose name says "day": numbers from 1 to 31 alone could be
 * any count. */
static int is_day_column(const struct draft_col *c, const char *name)
{
	if (!c->numeric || !c->integer || c->overflow || c->n_vals < 2 || !name_says(name, "day"))
		return 0;
	for (size_t k = 0; k < c->n_vals; k++)
		if (small_int(c->vals[k].v, 1, 31) == 0)
			return 0;
	return 1;
}

/* A drafted date level: its month and day for the calendar order. */
struct date_level {
	int month, day;
	const char *m, *d; /* the two texts, as the groups spell them */
	uint64_t n;
};

static int date_level_cmp(const void *a, const void *b)
{
	const struct date_level *x = a, *y = b;

	if (x->month != y->month)
		return x->month - y->month;
	if (x->day != y->day)
		return x->day - y->day;
	return strcmp(x->d, y->d);
}

/* The group of a column (draft_groups()) a field falls in, or SIZE_MAX. */
static size_t field_group(const struct draft_group *g, size_t n, const struct fl_csv_field *f)
{
	const char *b = f->s, *e = f->s + f->len;

	trim_blanks(&b, &e);
	if (b == e || placeholder_index(b, (size_t)(e - b)) >= 0)
		return SIZE_MAX;
	for (size_t k = 0; k < n; k++)
		if (fl_schema_fold_cmp(g[k].text, strlen(g[k].text), b, (size_t)(e - b)) == 0)
			return k;
	return SIZE_MAX;
}

/* The placeholders of both columns as the date feature's "missing_values"
 * (a placeholder in either makes the date missing). */
static void draft_date_missing(const struct draft_col *cm, const struct draft_col *cd, json_t *jf,
                               struct draft_row *row, uint64_t min_count)
{
	json_t *first, *arr, *v;
	size_t k;

	draft_missing(cm, jf, row, "to other", min_count);
	first = json_incref(json_object_get(jf, "missing_values"));
	draft_missing(cd, jf, row, "to other", min_count);
	arr = json_object_get(jf, "missing_values");
	if (first != NULL && arr == NULL)
		json_object_set(jf, "missing_values", first);
	else if (first != NULL)
		json_array_foreach(first, k, v)
		{
			size_t j;
			json_t *w;
			int dup = 0;

			json_array_foreach(arr, j, w) dup =
			        dup || fl_schema_fold_cmp(json_string_value(v),
			                                  strlen(json_string_value(v)),
			                                  json_string_value(w),
			                                  strlen(json_string_value(w))) == 0;
			if (!dup)
				json_array_append(arr, v);
		}
	json_decref(first);
}

/*
 * The calendar date of a month column and a day-of-month column, read
 * together as one categorical feature ("month day", values "may 5"):
 * a second pass over the file counts the dates, and the levels are the
 * dates held at least min_count times (all of them below 2), as for any
 * category, in calendar order; the rest go to "(other)". Appends the
 * feature to feats and fills row; *drafted is 1 when row is filled (the
 * feature drafted, or skipped because the source cannot be read twice).
 * A file without such a pair of columns, or without a date held often
 * enough, drafts nothing.
 */
static int draft_calendar(struct fl_source *csv, struct fl_mapping_binding *mb,
                          struct draft_col *cols, char **names, size_t ncol, size_t label_col,
                          size_t id_col, uint64_t min_count, json_t *feats, struct draft_row *row,
                          int *drafted)
{
	struct draft_group *gm = NULL, *gd = NULL;
	struct date_level *lv = NULL;
	struct fl_csv_record rec;
	size_t cm = SIZE_MAX, cd = SIZE_MAX, ngm = 0, ngd = 0, n_lv = 0, n_rare = 0;
	uint64_t *count = NULL, dated = 0;
	char text[FL_SCHEMA_MAX_JOINED + 1], name[512];
	json_t *jf = NULL, *vals, *jc;
	int r, fold;

	*drafted = 0;
	for (size_t i = 0; i < ncol; i++) {
		if (i == label_col || i == id_col || names[i][0] == '\0')
			continue;
		if (cm == SIZE_MAX && is_month_column(&cols[i], names[i]))
			cm = i;
		else if (cd == SIZE_MAX && is_day_column(&cols[i], names[i]))
			cd = i;
	}
	if (cm == SIZE_MAX || cd == SIZE_MAX)
		return 0;
	if ((r = draft_groups(&cols[cm], &gm, &ngm)) != 0 ||
	    (r = draft_groups(&cols[cd], &gd, &ngd)) != 0)
		goto out;
	r = FL_ERR_NOMEM;
	if ((count = calloc(ngm * ngd, sizeof(*count))) == NULL ||
	    (lv = calloc(ngm * ngd, sizeof(*lv))) == NULL)
		goto out;
	snprintf(name, sizeof(name), "%s %s", names[cm], names[cd]);
	/* A pipe is read once: say what was not drafted, and why. */
	if (fl_source_rewind(csv) != 0) {
		r = FL_ERR_NOMEM;
		if ((row->name = fl_strdup(name)) == NULL)
			goto out;
		row->kind = "skipped";
		snprintf(row->why, sizeof(row->why),
		         "columns \"%s\" and \"%s\" read together are a calendar date, but "
		         "counting the dates needs a second pass (%s)",
		         names[cm], names[cd], fl_errmsg());
		snprintf(row->check, sizeof(row->check), "draft from a file to have it proposed");
		fl_err_clear();
		*drafted = 1;
		r = 0;
		goto out;
	}
	if ((r = fl_source_next(csv, &rec)) < 0)
		goto out;
	while ((r = fl_source_next(csv, &rec)) == 1) {
		size_t a, b;

		if (mb != NULL)
			rec = *fl_mapping_apply(mb, &rec);
		if (rec.n_fields != ncol ||
		    (a = field_group(gm, ngm, &rec.fields[cm])) == SIZE_MAX ||
		    (b = field_group(gd, ngd, &rec.fields[cd])) == SIZE_MAX)
			continue;
		count[a * ngd + b]++;
		dated++;
	}
	if (r < 0)
		goto out;
	for (size_t a = 0; a < ngm; a++)
		for (size_t b = 0; b < ngd; b++) {
			uint64_t n = count[a * ngd + b];

			if (n == 0)
				continue;
			if (min_count > 1 && n < min_count) {
				n_rare++;
				continue;
			}
			lv[n_lv++] = (struct date_level){
			        month_of_name(gm[a].text) ? month_of_name(gm[a].text)
			                                  : small_int(gm[a].text, 1, 12),
			        small_int(gd[b].text, 1, 31), gm[a].text, gd[b].text, n};
		}
	r = 0;
	if (n_lv == 0)
		goto out;
	qsort(lv, n_lv, sizeof(*lv), date_level_cmp);
	fold = cols[cm].trimmed || cols[cd].trimmed;
	for (size_t a = 0; a < ngm; a++)
		fold = fold || gm[a].spellings > 1;
	r = FL_ERR_NOMEM;
	if ((jf = json_object()) == NULL || (vals = json_array()) == NULL ||
	    json_object_set_new(jf, "name", json_string(name)) != 0 ||
	    json_object_set_new(jf, "type", json_string("categorical")) != 0 ||
	    (jc = json_array()) == NULL || json_object_set_new(jf, "columns", jc) != 0 ||
	    json_array_append_new(jc, json_string(names[cm])) != 0 ||
	    json_array_append_new(jc, json_string(names[cd])) != 0 ||
	    (fold && json_object_set_new(jf, "case", json_string("fold")) != 0) ||
	    json_object_set_new(jf, "values", vals) != 0)
		goto out;
	for (size_t k = 0; k < n_lv; k++) {
		snprintf(text, sizeof(text), "%s %s", lv[k].m, lv[k].d);
		if (json_array_append_new(vals, json_string(text)) != 0)
			goto out;
	}
	if (json_object_set_new(jf, "other", json_true()) != 0)
		goto out;
	row->name = fl_strdup(name);
	row->kind = "categorical";
	snprintf(row->why, sizeof(row->why),
	         "month and day read together as the calendar date (columns \"%s\" and "
	         "\"%s\"): one effect per date, %zu dates",
	         names[cm], names[cd], n_lv);
	if (n_rare > 0)
		cat_text(row->why, sizeof(row->why),
		         "; %zu in fewer than %llu rows left out (they go to other)", n_rare,
		         (unsigned long long)min_count);
	snprintf(row->check, sizeof(row->check),
	         "is the date the same calendar day every year (no year column)?");
	draft_date_missing(&cols[cm], &cols[cd], jf, row, min_count);
	if (row->name == NULL || json_array_append(feats, jf) != 0)
		goto out;
	*drafted = 1;
	r = 0;
out:
	json_decref(jf);
	free(gm);
	free(gd);
	free(count);
	free(lv);
	return r;
}

int fl_schema_draft_opts(const char *csv_path, const struct fl_schema_draft_opts *o,
                         char **json_out)
{
	const char *label = o->label, *id = o->id;
	size_t max_levels = o->max_levels;
	struct fl_source *csv = NULL; /* a file or a query (source.h) */
	struct fl_mapping_binding *mb = NULL;
	struct fl_csv_record rec;
	struct draft_col *cols = NULL;
	struct draft_row *rows = NULL;
	struct draft_group *groups = NULL;
	char **names = NULL, **list = NULL, delimiter;
	int *fmt = NULL;
	size_t ncol = 0, label_col = SIZE_MAX, id_col = SIZE_MAX, n_groups = 0;
	uint64_t n_rows = 0;
	uint64_t rng = 0x666c2d636c6970ull;
	json_t *root = NULL, *feats, *ign, *jl;
	int r, pos, plain_dialect, need_pass2 = 0, dated = 0;

	*json_out = NULL;
	if (o->table != NULL)
		*o->table = NULL;
	if (label == NULL)
		return fl_fail(FL_ERR_INVALID, "no label column given");
	if (id != NULL && strcmp(id, label) == 0)
		return fl_fail(FL_ERR_INVALID, "the id column and the label column are both \"%s\"",
		               id);
	/* Number formats are guessed only when the caller gave none for the
	 * file: a format given is the person's decision. */
	plain_dialect = (o->dialect.number.decimal == 0 || o->dialect.number.decimal == '.') &&
	                o->dialect.number.thousands[0] == '\0' &&
	                o->dialect.number.currency[0] == '\0';
	if ((r = fl_source_open(csv_path, &o->dialect, &csv)) != 0)
		goto out;
	if ((r = fl_source_next(csv, &rec)) <= 0) {
		if (r == 0)
			r = fl_fail(FL_ERR_DATA, "%s: the file is empty (no header)", csv_path);
		goto out;
	}
	/* The partner's mapping: the draft sees the schema's names and values. */
	if (o->mapping != NULL) {
		if ((r = fl_mapping_bind(o->mapping, NULL, csv_path, &rec, &mb)) != 0)
			goto out;
		rec = *fl_mapping_header(mb);
	}
	ncol = rec.n_fields;
	if ((cols = calloc(ncol, sizeof(*cols))) == NULL ||
	    (names = calloc(ncol, sizeof(*names))) == NULL ||
	    (rows = calloc(ncol + 1, sizeof(*rows))) == NULL || /* + the calendar date */
	    (fmt = malloc(ncol * sizeof(*fmt))) == NULL ||
	    (list = calloc(DRAFT_MAX_CATEGORIES + 1, sizeof(*list))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < ncol; i++) {
		if (!draft_utf8(rec.fields[i].s, rec.fields[i].len)) {
			r = fl_fail(FL_ERR_DATA,
			            "%s:1: the name of column %zu is not UTF-8 text without NUL "
			            "bytes (convert the file to UTF-8)",
			            csv_path, i + 1);
			goto out;
		}
		if ((names[i] = fl_strdup(rec.fields[i].s)) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		cols[i].numeric = cols[i].integer = 1;
		fl_date_scan_init(&cols[i].dates);
		cols[i].formats = plain_dialect ? (1u << N_FORMATS) - 1 : 0;
		fmt[i] = -1;
		if (strcmp(names[i], label) == 0)
			label_col = i;
		if (id != NULL && strcmp(names[i], id) == 0)
			id_col = i;
	}
	delimiter = fl_source_csv(csv) != NULL ? fl_csv_delimiter(fl_source_csv(csv)) : 0;
	if ((r = draft_check_header(names, ncol, csv_path)) != 0)
		goto out;
	if (label_col == SIZE_MAX) {
		r = fl_fail(FL_ERR_DATA, "%s:1: label column \"%s\" is not in the header", csv_path,
		            label);
		goto out;
	}
	/* A drafted id that the file lacks would only fail later, at binding. */
	if (id != NULL && id_col == SIZE_MAX) {
		r = fl_fail(FL_ERR_DATA, "%s:1: id column \"%s\" is not in the header", csv_path,
		            id);
		goto out;
	}
	while ((r = fl_source_next(csv, &rec)) == 1) {
		n_rows++;
		if (mb != NULL)
			rec = *fl_mapping_apply(mb, &rec);
		if (rec.n_fields != ncol) {
			r = fl_fail(FL_ERR_DATA, "%s:%llu: %zu fields, but the header has %zu",
			            csv_path, (unsigned long long)rec.line, rec.n_fields, ncol);
			goto out;
		}
		for (size_t i = 0; i < ncol; i++) {
			const struct fl_csv_field *f = &rec.fields[i];
			struct draft_col *c = &cols[i];
			const char *b = f->s, *e = f->s + f->len;
			double x;
			int ph;

			if (i == id_col)
				continue;
			if (f->len == 0) {
				c->n_blank++;
				continue;
			}
			/* The label's values are matched exactly: kept as they are. */
			if (i == label_col) {
				if ((r = draft_add_value(c, f->s, f->len)) != 0)
					goto out;
				if (c->bad_line == 0 && !draft_utf8(f->s, f->len))
					c->bad_line = rec.line;
				continue;
			}
			trim_blanks(&b, &e);
			/* A field of blanks only is text, as the encoder reads it. */
			if (b == e) {
				b = f->s;
				e = f->s + f->len;
			} else if ((ph = placeholder_index(b, (size_t)(e - b))) >= 0) {
				/* Kept as first written; a placeholder is ASCII (it
				 * equals one of the words in ASCII case). */
				if (c->ph_n[ph]++ == 0) {
					if ((c->ph_text[ph] = malloc((size_t)(e - b) + 1)) ==
					    NULL) {
						r = FL_ERR_NOMEM;
						goto out;
					}
					memcpy(c->ph_text[ph], b, (size_t)(e - b));
					c->ph_text[ph][e - b] = '\0';
				}
				continue;
			}
			c->n_present++;
			if (b != f->s || e != f->s + f->len)
				c->trimmed = 1;
			if (c->numeric &&
			    fl_parse_number(f->s, f->len, &o->dialect.number, &x) != 0) {
				/* Not a plain number column: if a format reads it,
				 * the second pass samples every row, so the rows
				 * sampled so far must not stay in twice (a clip
				 * bound's cell would count its leads twice). */
				c->numeric = 0;
				c->n_sample = 0;
				c->n_seen = 0;
			}
			if (c->numeric && (fabs(x) >= 9e15 || x != trunc(x)))
				c->integer = 0;
			if (c->numeric && (r = draft_add_number(c, x, &rng)) != 0)
				goto out;
			if (c->formats != 0)
				draft_formats(c, f->s, f->len);
			if ((r = draft_sketch(c, b, (size_t)(e - b))) != 0)
				goto out;
			if (!c->overflow && c->bad_line == 0 && !draft_utf8(b, (size_t)(e - b)))
				c->bad_line = rec.line;
			if ((r = draft_add_value(c, b, (size_t)(e - b))) != 0)
				goto out;
			fl_date_scan_add(&c->dates, b, (size_t)(e - b));
		}
	}
	if (r < 0)
		goto out;
	if (n_rows == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no data rows (the file has only a header)", csv_path);
		goto out;
	}
	if (cols[label_col].n_vals != 2 || cols[label_col].n_blank > 0) {
		r = fl_fail(FL_ERR_DATA,
		            "%s: label column \"%s\" must take exactly two values and never be "
		            "empty (found %s%zu distinct values%s)",
		            csv_path, label, cols[label_col].overflow ? "more than " : "",
		            cols[label_col].n_vals,
		            cols[label_col].n_blank > 0 ? " and empty fields" : "");
		goto out;
	}
	if (cols[label_col].bad_line != 0) {
		r = fl_fail(FL_ERR_DATA,
		            "%s:%llu: column \"%s\": the value is not UTF-8 text without NUL "
		            "bytes (convert the file to UTF-8)",
		            csv_path, (unsigned long long)cols[label_col].bad_line, label);
		goto out;
	}

	/* The label's values decide which one means converted, never their
	 * order: alphabetically "Not Converted" comes after "Converted". */
	{
		const char *lv[2] = {cols[label_col].vals[0].v, cols[label_col].vals[1].v};

		if (o->positive != NULL) {
			pos = strcmp(lv[0], o->positive) == 0   ? 0
			      : strcmp(lv[1], o->positive) == 0 ? 1
			                                        : -1;
			if (pos < 0) {
				r = fl_fail(
				        FL_ERR_INVALID,
				        "--positive \"%s\" is not a value of label column \"%s\" "
				        "(it takes \"%s\" and \"%s\")",
				        o->positive, label, lv[0], lv[1]);
				goto out;
			}
		} else if ((pos = fl_schema_label_positive(lv)) < 0) {
			r = fl_fail(FL_ERR_DATA,
			            "%s: label column \"%s\" takes \"%s\" and \"%s\", which do not "
			            "say which one means converted (use --positive VALUE)",
			            csv_path, label, lv[0], lv[1]);
			goto out;
		}
	}

	/* Formatted numbers are read again, now that their format is known,
	 * for the drafted clip range. */
	for (size_t i = 0; i < ncol; i++) {
		struct draft_col *c = &cols[i];
		int ambiguous;

		if (i == label_col || i == id_col || c->numeric || c->n_present == 0)
			continue;
		if ((fmt[i] = draft_pick_format(c, delimiter, &ambiguous)) >= 0)
			need_pass2 = 1;
	}
	if (need_pass2) {
		if ((r = fl_source_rewind(csv)) != 0 || (r = fl_source_next(csv, &rec)) < 0)
			goto out;
		while ((r = fl_source_next(csv, &rec)) == 1) {
			if (mb != NULL)
				rec = *fl_mapping_apply(mb, &rec);
			for (size_t i = 0; i < ncol && rec.n_fields == ncol; i++) {
				const struct fl_csv_field *f = &rec.fields[i];
				struct fl_number_format nf;
				double x;

				if (fmt[i] < 0 || f->len == 0)
					continue;
				nf = draft_format(&cols[i], fmt[i]);
				if (placeholder_index(f->s, f->len) >= 0 ||
				    fl_parse_number(f->s, f->len, &nf, &x) != 0)
					continue;
				if ((r = draft_add_number(&cols[i], x, &rng)) != 0)
					goto out;
			}
		}
		if (r < 0)
			goto out;
	}

	r = FL_ERR_NOMEM;
	if ((root = json_object()) == NULL || (jl = json_object()) == NULL)
		goto out;
	json_object_set_new(root, "fedlead_schema", json_integer(FL_SCHEMA_VERSION));
	json_object_set_new(root, "comment",
	                    json_string("Drafted by fedlead-node schema: review every feature "
	                                "before partners agree on it. Each clip range is "
	                                "drafted from this file's values (0.5 % and 99.5 % "
	                                "quantiles, rounded outward): with differential privacy "
	                                "it is part of the agreed contract, so partners settle "
	                                "it once and never re-derive it from data."));
	draft_dialect(root, &o->dialect);
	json_object_set_new(root, "label", jl);
	json_object_set_new(jl, "column", json_string(label));
	json_object_set_new(jl, "positive", json_string(cols[label_col].vals[pos].v));
	json_object_set_new(jl, "negative", json_string(cols[label_col].vals[1 - pos].v));
	if (id != NULL)
		json_object_set_new(root, "id", json_string(id));
	feats = json_array();
	ign = json_array();
	json_object_set_new(root, "features", feats);
	json_object_set_new(root, "ignore", ign);
	if (feats == NULL || ign == NULL)
		goto out;
	for (size_t i = 0; i < ncol; i++) {
		struct draft_col *c = &cols[i];
		struct draft_row *row = &rows[i];
		uint64_t n_missing = c->n_blank, distinct;
		size_t n_list = 0, n_rare = 0;
		int estimated, ambiguous = 0, fold = 0, as_numbers;
		char a[32], bnum[32];
		json_t *jf;

		for (int k = 0; k < N_PLACEHOLDERS; k++)
			n_missing += c->ph_n[k];
		row->name = names[i][0] != '\0' ? names[i] : "(no name)";
		row->kind = "ignore";
		if (i == label_col) {
			row->kind = "label";
			snprintf(row->why, sizeof(row->why), "positive \"%s\"%s, negative \"%s\"",
			         cols[label_col].vals[pos].v,
			         o->positive != NULL ? " (--positive)"
			                             : " (a word for a conversion)",
			         cols[label_col].vals[1 - pos].v);
			snprintf(row->check, sizeof(row->check),
			         "leads are ranked by how likely \"%s\" is",
			         cols[label_col].vals[pos].v);
			continue;
		}
		if (i == id_col) {
			row->kind = "id";
			snprintf(row->why, sizeof(row->why),
			         "--id: written next to each score, never a feature");
			continue;
		}
		/* A schema cannot name an unnamed column (an exported row index,
		 * say); binding will report it as an extra column. */
		if (names[i][0] == '\0') {
			row->kind = "skipped";
			snprintf(row->why, sizeof(row->why), "column %zu has no name in the header",
			         i + 1);
			continue;
		}
		if (c->n_present == 0) {
			json_array_append_new(ign, json_string(names[i]));
			snprintf(row->why, sizeof(row->why), "no values (every field %s)",
			         c->n_blank == n_rows ? "empty" : "empty or a placeholder");
			continue;
		}
		/* Dates, however many and however unique, are never categories
		 * nor identifiers. */
		if (!c->numeric && (r = fl_date_draft_feature(root, feats, names[i], &c->dates,
		                                              n_missing > 0)) != 0) {
			enum fl_date_format df;
			int64_t first, last;
			int kind = fl_date_scan_result(&c->dates, &df, &first, &last);

			if (r < 0)
				goto out;
			jf = json_array_get(feats, json_array_size(feats) - 1);
			row->kind = "date";
			snprintf(row->why, sizeof(row->why),
			         "dates in format %s, reference %s, clip [0, %s]",
			         fl_date_format_name(df),
			         json_string_value(json_object_get(jf, "reference")),
			         json_dumps_int(json_array_get(json_object_get(jf, "clip"), 1), a,
			                        sizeof(a)));
			snprintf(row->check, sizeof(row->check),
			         "%sthe reference day and the clip range",
			         kind == FL_DATE_AMBIGUOUS ? "day or month first? (no value says); "
			                                   : "");
			draft_missing(c, jf, row, "imputed", o->min_count);
			continue;
		}
		r = FL_ERR_NOMEM;
		/* An estimate may come out above the count of values. */
		if ((distinct = draft_distinct(c, &estimated)) > c->n_present)
			distinct = c->n_present;
		group_digits(distinct, a, sizeof(a));
		group_digits(c->n_present, bnum, sizeof(bnum));
		/* Identifiers: nearly every text value different, every integer
		 * (see DRAFT_ID_MIN_ROWS). */
		if (c->n_present >= DRAFT_ID_MIN_ROWS &&
		    (double)distinct >= DRAFT_ID_SHARE * (double)c->n_present &&
		    (c->numeric ? c->integer && (estimated || distinct == c->n_present)
		                : fmt[i] < 0)) {
			json_array_append_new(ign, json_string(names[i]));
			snprintf(
			        row->why, sizeof(row->why),
			        "nearly unique (%s%s distinct values in %s rows): looks like an ID",
			        estimated ? "about " : "", a, bnum);
			snprintf(row->check, sizeof(row->check),
			         "not a feature (an ID goes in --id)");
			continue;
		}
		if (!c->numeric && fmt[i] < 0 && c->overflow) {
			json_array_append_new(ign, json_string(names[i]));
			snprintf(row->why, sizeof(row->why),
			         "free text: more than %d distinct values (%s%s in %s rows)",
			         DRAFT_MAX_CATEGORIES, estimated ? "about " : "", a, bnum);
			snprintf(row->check, sizeof(row->check), "not a category");
			continue;
		}
		free(groups);
		groups = NULL;
		if ((r = draft_groups(c, &groups, &n_groups)) != 0)
			goto out;
		r = FL_ERR_NOMEM;
		/* One value, with or without blanks: nothing to learn from. */
		if (!c->overflow && n_groups == 1) {
			json_array_append_new(ign, json_string(names[i]));
			if (n_missing == 0) {
				snprintf(row->why, sizeof(row->why),
				         "constant: every value is \"%s\"", groups[0].text);
				snprintf(row->check, sizeof(row->check), "not a feature");
			} else {
				group_digits(n_missing, a, sizeof(a));
				snprintf(row->why, sizeof(row->why),
				         "one value (\"%s\"), otherwise empty or a placeholder (%s "
				         "rows)",
				         groups[0].text, a);
				snprintf(row->check, sizeof(row->check),
				         "does an empty field mean something? then make it a "
				         "feature");
			}
			continue;
		}
		if ((jf = json_object()) == NULL)
			goto out;
		json_object_set_new(jf, "name", json_string(names[i]));
		if ((c->numeric && !(c->integer && !c->overflow && c->n_vals <= max_levels)) ||
		    (!c->numeric && fmt[i] >= 0)) {
			row->kind = "numeric";
			json_object_set_new(jf, "type", json_string("numeric"));
			json_object_set_new(jf, "missing",
			                    json_string(n_missing > 0 ? "impute" : "error"));
			if (c->n_sample > (o->round_clip ? 2 : 0)) {
				/* The schema round's rank k (the node's
				 * schema_min_count), 0 for the draft's own range. */
				size_t round_k = (size_t)o->round_clip;
				uint64_t need = fl_schema_round_clip_min(o->round_clip);
				double lo, hi;
				json_t *jc;

				qsort(c->sample, c->n_sample, sizeof(*c->sample), double_cmp);
				if (round_k > 0 && (need == 0 || c->n_sample < need ||
				                    !draft_clip(c, round_k, &lo, &hi))) {
					/* k < 2, too few values, or no bound whose rounding
					 * k values share: the transform alone leaves
					 * (README, "What the schema round discloses"). */
					if (need == 0)
						snprintf(row->why, sizeof(row->why),
						         "numbers, no clip range (k = %zu: none "
						         "below "
						         "2)",
						         round_k);
					else if (c->n_sample < need)
						snprintf(
						        row->why, sizeof(row->why),
						        "numbers, no clip range (%zu values, fewer "
						        "than %llu for k = %zu)",
						        c->n_sample, (unsigned long long)need,
						        round_k);
					else
						snprintf(row->why, sizeof(row->why),
						         "numbers, no clip range (no bound short "
						         "of the "
						         "median rounds alike for k = %zu values)",
						         round_k);
				} else {
					if (round_k == 0)
						draft_clip(c, 0, &lo, &hi);
					if ((jc = json_array()) == NULL)
						goto out;
					json_object_set_new(jf, "clip", jc);
					json_array_append_new(jc, json_real(lo));
					json_array_append_new(jc, json_real(hi));
					snprintf(row->why, sizeof(row->why),
					         "numbers, clip [%g, %g]", lo, hi);
				}
				/* The sample is sorted (above). */
				if (o->transforms &&
				    (r = fl_transform_draft(jf, c->sample, c->n_sample, distinct,
				                            o->round_clip, row->why,
				                            sizeof(row->why))) != 0)
					goto out;
			} else
				snprintf(row->why, sizeof(row->why), "numbers");
			if (!c->numeric) {
				struct fl_number_format nf = draft_format(c, fmt[i]);
				char d[96];

				draft_pick_format(c, delimiter, &ambiguous);
				fl_number_describe(&nf, d, sizeof(d));
				cat_text(row->why, sizeof(row->why), "; written with %s", d);
				if (nf.decimal == ',')
					json_object_set_new(jf, "decimal", json_string(","));
				if (nf.thousands[0] != '\0')
					json_object_set_new(jf, "thousands",
					                    json_string(nf.thousands));
				if (nf.currency[0] != '\0')
					json_object_set_new(jf, "currency",
					                    json_string(nf.currency));
				if (ambiguous && nf.decimal == ',')
					snprintf(row->check, sizeof(row->check),
					         "assumed a decimal comma (the file is "
					         "semicolon-separated), else set \"decimal\": "
					         "\".\", "
					         "\"thousands\": \",\"");
				else if (ambiguous)
					snprintf(row->check, sizeof(row->check),
					         "assumed \",\" separates thousands, else set "
					         "\"decimal\": \",\"");
				else
					snprintf(row->check, sizeof(row->check),
					         "the number format");
			}
			cat_text(row->check, sizeof(row->check), "%sthe clip range",
			         row->check[0] ? "; " : "");
			if (json_object_get(jf, "transform") != NULL)
				cat_text(row->check, sizeof(row->check), "; the transform");
			draft_missing(c, jf, row, "imputed", o->min_count);
			json_array_append_new(feats, jf);
			continue;
		}
		/* Categories: trimmed, one entry per value as case folding matches
		 * it (spelled as most rows spell it), the rare ones left out. */
		if (c->bad_line != 0) {
			json_decref(jf);
			r = fl_fail(FL_ERR_DATA,
			            "%s:%llu: column \"%s\": the value is not UTF-8 text "
			            "without NUL bytes (convert the file to UTF-8)",
			            csv_path, (unsigned long long)c->bad_line, names[i]);
			goto out;
		}
		as_numbers = c->numeric;
		for (size_t k = 0; k < n_groups; k++) {
			if (o->min_count > 1 && groups[k].n < o->min_count) {
				groups[k].spellings = 0; /* left out */
				n_rare++;
				continue;
			}
			if (groups[k].spellings > 1)
				fold = 1;
			list[n_list++] = (char *)groups[k].text;
		}
		/* Trimmed values need the trimming encoder too. */
		fold = fold || c->trimmed;
		if (n_list == 0) {
			json_decref(jf);
			json_array_append_new(ign, json_string(names[i]));
			snprintf(row->why, sizeof(row->why),
			         "every value is in fewer than %llu rows (min_count)",
			         (unsigned long long)o->min_count);
			snprintf(row->check, sizeof(row->check), "not a feature at this k");
			continue;
		}
		qsort(list, n_list, sizeof(*list), as_numbers ? numeric_text_cmp : strcmp_qsort);
		row->kind = "categorical";
		json_object_set_new(jf, "type", json_string("categorical"));
		if (fold)
			json_object_set_new(jf, "case", json_string("fold"));
		{
			json_t *vals = json_array();

			if (vals == NULL)
				goto out;
			json_object_set_new(jf, "values", vals);
			for (size_t k = 0; k < n_list; k++)
				json_array_append_new(vals, json_string(list[k]));
		}
		json_object_set_new(jf, "other", json_true());
		snprintf(row->why, sizeof(row->why), "%zu value%s%s", n_list,
		         n_list == 1 ? "" : "s",
		         as_numbers ? " (integers, at most --max-levels)" : "");
		if (n_rare > 0)
			cat_text(row->why, sizeof(row->why),
			         "; %zu in fewer than %llu rows left out (they go to other)",
			         n_rare, (unsigned long long)o->min_count);
		if (fold) {
			for (size_t k = 0; k < n_groups; k++)
				if (groups[k].spellings > 1) {
					cat_text(row->why, sizeof(row->why),
					         "; case folded (\"%s\" in %zu spellings)",
					         groups[k].text, groups[k].spellings);
					break;
				}
			if (c->trimmed)
				cat_text(row->why, sizeof(row->why),
				         "; blanks around values trimmed");
		}
		snprintf(row->check, sizeof(row->check), "the values");
		draft_missing(c, jf, row, "to other", o->min_count);
		json_array_append_new(feats, jf);
	}
	if ((r = draft_calendar(csv, mb, cols, names, ncol, label_col, id_col, o->min_count, feats,
	                        &rows[ncol], &dated)) != 0)
		goto out;
	if (json_array_size(feats) == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no column besides the label can be a feature",
		            csv_path);
		goto out;
	}
	r = FL_ERR_NOMEM;
	if ((*json_out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	if (o->table != NULL && (*o->table = draft_table(rows, ncol + (size_t)dated)) == NULL) {
		free(*json_out);
		*json_out = NULL;
		goto out;
	}
	r = 0;
out:
	for (size_t i = 0; cols != NULL && i < ncol; i++) {
		for (size_t k = 0; k < cols[i].n_vals; k++)
			free(cols[i].vals[k].v);
		free(cols[i].vals);
		for (int k = 0; k < N_PLACEHOLDERS; k++)
			free(cols[i].ph_text[k]);
		free(cols[i].sketch);
		free(cols[i].sample);
	}
	free(cols);
	if (rows != NULL)
		free((char *)rows[ncol].name);
	free(rows);
	fl_mapping_binding_free(mb);
	free(groups);
	free(list);
	free(fmt);
	fl_strv_free(names, ncol);
	json_decref(root);
	fl_source_free(csv);
	return r;
}
