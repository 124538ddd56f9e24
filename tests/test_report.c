/*
 * Tests for src/report.c (the model report and the dashboard) and for the
 * chart summary the ranker collects for it (fl_ranker_curves in metrics.c).
 *
 * Expected values are worked out by hand in the comments, or computed by the
 * naive code in the test (no sorting, no merging). The pages are checked for
 * what a reader relies on: the sentence and figures, escaping of hostile
 * names from data and certificates, and no NaN or infinity on degenerate
 * data (all scores equal, no converted lead, no history).
 */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fedlead/error.h"
#include "fedlead/metrics.h"
#include "fedlead/model.h"
#include "fedlead/payload.h"
#include "fedlead/report.h"
#include "fedlead/schema.h"
#include "fedlead/score.h"

/* ---- helpers ---- */

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

static void assert_finite_page(const char *html)
{
	if (has_word(html, "nan") || has_word(html, "inf") || has_word(html, "infinity"))
		fail_msg("a non-finite number on the page:\n%s", html);
}

static void assert_has(const char *html, const char *want)
{
	if (strstr(html, want) == NULL)
		fail_msg("missing from the page: %s", want);
}

/* Case-insensitive: "<SCRIPT" is as bad as "<script". */
static void assert_lacks(const char *html, const char *bad)
{
	size_t n = strlen(bad);

	for (const char *p = html; *p; p++)
		if (strncasecmp(p, bad, n) == 0)
			fail_msg("on the page but must not be: %s", bad);
}

static size_t occurrences(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

/* A ranker fed with n scores and labels (-1 = unknown), finished. */
static struct fl_ranker *ranked(const double *z, const int *y, size_t n, size_t mem,
                                struct fl_eval *ev, struct fl_curves *cv)
{
	struct fl_ranker *r = NULL;

	assert_int_equal(fl_ranker_new(NULL, mem, &r), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(fl_ranker_add(r, z[i], y[i]), 0);
	assert_int_equal(fl_ranker_finish(r, 0, ev), 0);
	assert_int_equal(fl_ranker_curves(r, cv), 0);
	return r;
}

/* ---- the ranker's chart summary ---- */

static void test_curves_by_hand(void **state)
{
	/*
	 * Scores 3, 2, 2, 1, 0 with labels 1, 0, 1, 1, 0. Tie groups from the
	 * top: {3} 1 row 1 converted; {2, 2} 2 rows 1 converted; {1}; {0}.
	 * Points are due every ceil(k * 5 / 200) rows, i.e. at every group end,
	 * and never inside the tie: (0,0) (1,1) (3,2) (4,3) (5,3).
	 * Histogram over [0, 3] in 50 bins: bin(z) = floor(z / 3 * 50), the top
	 * score in the last bin: 3 -> 49, 2 -> 33, 1 -> 16, 0 -> 0.
	 */
	const double z[5] = {3, 2, 2, 1, 0};
	const int y[5] = {1, 0, 1, 1, 0};
	const uint64_t rows[5] = {0, 1, 3, 4, 5}, pos[5] = {0, 1, 2, 3, 3};
	struct fl_eval ev;
	struct fl_curves cv;
	struct fl_ranker *r;
	uint64_t hp = 0, hn = 0;

	(void)state;
	r = ranked(z, y, 5, 1024, &ev, &cv);
	assert_int_equal(cv.labelled, 1);
	assert_int_equal(cv.rows, 5);
	assert_int_equal(cv.positives, 3);
	assert_int_equal(cv.n_points, 5);
	for (size_t k = 0; k < 5; k++) {
		assert_int_equal(cv.cum_rows[k], rows[k]);
		assert_int_equal(cv.cum_pos[k], pos[k]);
	}
	assert_true(cv.z_lo == 0 && cv.z_hi == 3);
	assert_int_equal(cv.hist_pos[49], 1);
	assert_int_equal(cv.hist_pos[33], 1);
	assert_int_equal(cv.hist_neg[33], 1);
	assert_int_equal(cv.hist_pos[16], 1);
	assert_int_equal(cv.hist_neg[0], 1);
	for (size_t i = 0; i < FL_SCORE_BINS; i++) {
		hp += cv.hist_pos[i];
		hn += cv.hist_neg[i];
	}
	assert_int_equal(hp, 3);
	assert_int_equal(hn, 2);
	fl_ranker_free(r);
}

/*
 * 1000 distinct scores z_i = j_i / 100 - 5 with j_i = 7919 i mod 1000 (a
 * permutation of 0..999, as 7919 and 1000 are coprime), converted when
 * i mod 3 == 0; ranked with room for only 16 records, so the runs spill and
 * merge. With distinct scores a point falls exactly every 1000 / 200 = 5
 * rows; the top 5k leads are those with j >= 1000 - 5k, counted naively.
 */
static void test_curves_external_merge_vs_naive(void **state)
{
	enum { N = 1000 };
	double z[N];
	int y[N];
	struct fl_eval ev;
	struct fl_curves cv;
	struct fl_ranker *r;

	(void)state;
	for (int i = 0; i < N; i++) {
		z[i] = (double)((7919 * i) % N) / 100 - 5;
		y[i] = i % 3 == 0;
	}
	r = ranked(z, y, N, 16, &ev, &cv);
	assert_int_equal(cv.n_points, FL_CURVE_POINTS + 1);
	assert_int_equal(cv.cum_rows[0], 0);
	assert_int_equal(cv.cum_pos[0], 0);
	for (int k = 1; k <= FL_CURVE_POINTS; k++) {
		uint64_t want = 0;

		for (int i = 0; i < N; i++)
			want += y[i] && (7919 * i) % N >= N - 5 * k;
		assert_int_equal(cv.cum_rows[k], 5 * k);
		assert_int_equal(cv.cum_pos[k], want);
	}
	assert_int_equal(cv.cum_pos[FL_CURVE_POINTS], 334); /* i = 0, 3, ..., 999 */
	/* Histogram: equal bins over [z_lo, z_hi] = [-5, 4.99], counted naively. */
	assert_true(cv.z_lo == -5 && cv.z_hi == 4.99);
	for (int b = 0; b < FL_SCORE_BINS; b++) {
		uint64_t wp = 0, wn = 0;

		for (int i = 0; i < N; i++) {
			double t = (z[i] + 5) / 9.99 * FL_SCORE_BINS;
			int bin = t >= FL_SCORE_BINS - 1 ? FL_SCORE_BINS - 1 : (int)t;

			if (bin != b)
				continue;
			wp += y[i];
			wn += !y[i];
		}
		assert_int_equal(cv.hist_pos[b], wp);
		assert_int_equal(cv.hist_neg[b], wn);
	}
	fl_ranker_free(r);
}

static void test_curves_ties_unlabelled_and_order(void **state)
{
	const double z[10] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
	const int y[10] = {1, 0, 0, 1, 0, 0, 1, 0, 0, 0};
	const int unknown[10] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
	struct fl_eval ev;
	struct fl_curves cv;
	struct fl_ranker *r = NULL;

	(void)state;
	/* One tie group: only its two ends, (0, 0) and (10, 3); one bin. */
	r = ranked(z, y, 10, 1024, &ev, &cv);
	assert_int_equal(cv.n_points, 2);
	assert_int_equal(cv.cum_rows[1], 10);
	assert_int_equal(cv.cum_pos[1], 3);
	assert_int_equal(cv.hist_pos[0], 3);
	assert_int_equal(cv.hist_neg[0], 7);
	fl_ranker_free(r);

	/* No labels: not labelled, nothing counted as converted. */
	r = ranked(z, unknown, 10, 1024, &ev, &cv);
	assert_int_equal(cv.labelled, 0);
	assert_int_equal(cv.positives, 0);
	assert_int_equal(cv.cum_pos[cv.n_points - 1], 0);
	assert_int_equal(cv.hist_neg[0], 10);
	fl_ranker_free(r);

	/* Asked before finish. */
	assert_int_equal(fl_ranker_new(NULL, 1024, &r), 0);
	assert_int_equal(fl_ranker_add(r, 1.0, 1), 0);
	assert_int_equal(fl_ranker_curves(r, &cv), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "ranker: fl_ranker_curves needs a successful fl_ranker_finish first");
	fl_ranker_free(r);
}

/* ---- models for the report ---- */

/*
 * A hand model (as in test_score.c): columns 0 intercept, 1 visits,
 * 2 visits (missing), 3 industry=retail, 4 industry=tech, 5 industry=(other).
 */
static const char *HAND_SCHEMA =
        "{\"fedlead_schema\": 1,"
        " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},"
        " \"id\": \"lead\","
        " \"features\": ["
        "  {\"name\": \"visits\", \"type\": \"numeric\", \"missing\": \"impute\"},"
        "  {\"name\": \"industry\", \"type\": \"categorical\", \"values\": [\"retail\", \"tech\"],"
        "   \"other\": true}]}";

/* A category value and a feature name no page may show raw. */
static const char *HOSTILE_SCHEMA =
        "{\"fedlead_schema\": 1,"
        " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},"
        " \"features\": ["
        "  {\"name\": \"region\", \"type\": \"categorical\","
        "   \"values\": [\"north\", \"<script>alert(1)</script>\"], \"other\": true},"
        "  {\"name\": \"x\\\"><img src=x>\", \"type\": \"numeric\"}]}";

static struct fl_model *model_from(const char *schema_json, const double *w, size_t dim)
{
	struct fl_schema *s = NULL;
	struct fl_model *m = NULL;

	if (fl_schema_parse(schema_json, strlen(schema_json), "test", &s) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(s->dim, dim);
	if (fl_model_new(s, &m) != 0)
		fail_msg("%s", fl_errmsg());
	fl_schema_free(s);
	memcpy(m->w, w, dim * sizeof(double));
	return m;
}

static struct fl_model *hand_model(void)
{
	static const double w[6] = {-1.0, 0.8, 0.5, -0.4, 1.2, 0.3};
	static const double base[6] = {1, 0, 0.2, 0.5, 0.3, 0.2};
	struct fl_model *m = model_from(HAND_SCHEMA, w, 6);

	memcpy(m->scaler->baseline, base, sizeof(base));
	m->scaler->center[1] = 10;
	m->scaler->scale[1] = 5;
	m->scaler->impute[1] = 10;
	assert_int_equal(fl_model_set_str(&m->prov.solver, "newton"), 0);
	assert_int_equal(fl_model_set_str(&m->prov.created, "2026-01-02T03:04:05Z"), 0);
	assert_int_equal(fl_model_set_str(&m->prov.tool_version, "0.1.0"), 0);
	return m;
}

static void test_report_escapes_hostile_names(void **state)
{
	/* Columns: 0 intercept, 1 region=north, 2 region=<script>..., 3 region=(other),
	 * 4 the numeric feature with the hostile name. */
	static const double w[5] = {0, 0.1, 2.0, -0.3, -1.5};
	struct fl_model *m = model_from(HOSTILE_SCHEMA, w, 5);
	struct fl_round_log hist[2] = {
	        {.round = 1,
	         .kind = "stats",
	         .l2 = NAN,
	         .train_loss = NAN,
	         .grad_norm = NAN,
	         .valid_log_loss = NAN,
	         .valid_auc = NAN,
	         .partners = 2},
	        {.round = 2,
	         .kind = "eval",
	         .l2 = 1,
	         .train_loss = 0.6,
	         .grad_norm = 0.1,
	         .valid_log_loss = 0.62,
	         .valid_auc = 0.7,
	         .partners = 2},
	};
	const double z[4] = {2, 1, 0, -1};
	const int y[4] = {1, 0, 1, 0};
	struct fl_report_meta meta = {
	        .model_path = "<img src=x onerror=alert(3)>.fdl",
	        .data_path = "leads<script>.csv",
	        .signer = "CN=<script>evil()</script>",
	        .generated = "2026-01-02T03:04:05Z",
	};
	struct fl_eval ev;
	struct fl_curves cv;
	struct fl_ranker *r;
	char *html;
	size_t len;

	(void)state;
	assert_int_equal(fl_model_set_str(&m->prov.federation_id, "fed<script>x</script>"), 0);
	assert_int_equal(fl_model_set_str(&m->prov.solver, "newton<b>"), 0);
	assert_int_equal(fl_model_add_participant(m, "<script>cn()</script>"), 0);
	assert_int_equal(fl_model_add_participant(m, "globex & sons"), 0);
	assert_int_equal(fl_model_set_history(m, hist, 2), 0);
	r = ranked(z, y, 4, 1024, &ev, &cv);
	if (fl_report_html(m, &ev, &cv, &meta, &html, &len) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(strlen(html), len);
	/* Nothing hostile arrives raw ... */
	assert_lacks(html, "<script");
	assert_lacks(html, "<img");
	assert_lacks(html, "newton<b>");
	/* ... and all of it is there, escaped. */
	assert_has(html, "region=&lt;script&gt;alert(1)&lt;/script&gt;");
	assert_has(html, "x&quot;&gt;&lt;img src=x&gt; (+1 sd)");
	assert_has(html, "&lt;script&gt;cn()&lt;/script&gt;, globex &amp; sons");
	assert_has(html, "CN=&lt;script&gt;evil()&lt;/script&gt; (signature verified)");
	assert_has(html, "<title>Lead scoring report \xe2\x80\x94 &lt;img src=x "
	                 "onerror=alert(3)&gt;.fdl</title>");
	assert_has(html, "leads&lt;script&gt;.csv");
	assert_has(html, "fed&lt;script&gt;x&lt;/script&gt;");
	assert_has(html, "newton&lt;b&gt;");
	/* The federation's history is drawn (NaN rounds break the lines). */
	assert_has(html, "<title>Loss per round</title>");
	assert_finite_page(html);
	free(html);
	fl_ranker_free(r);
	fl_model_free(m);
}

static void test_report_sentence_and_degenerate_scores(void **state)
{
	/*
	 * Twenty leads, all with the same score, every other one converted
	 * (10 of 20). Ties keep input order, so deciles 1-2 (the top 20 %,
	 * ranks 1..ceil(20 * 2 / 10) = 4) hold rows 1-4: 2 converted of 10,
	 * 20 % of conversions, 20 % / 20 % = 1.0x random.
	 */
	double z[20];
	int y[20];
	struct fl_model *m = hand_model();
	struct fl_eval ev;
	struct fl_curves cv;
	struct fl_ranker *r;
	char *html;
	size_t len;

	(void)state;
	for (int i = 0; i < 20; i++) {
		z[i] = 0.25;
		y[i] = i % 2 == 0;
	}
	r = ranked(z, y, 20, 1024, &ev, &cv);
	assert_int_equal(fl_report_html(m, &ev, &cv, NULL, &html, &len), 0);
	assert_has(html, "Calling the top 20 % of leads reaches <b>20 %</b> of all conversions "
	                 "(<b>1.0\xc3\x97</b> random).");
	assert_has(html, "<title>ROC curve \xe2\x80\x94 AUC 0.500</title>");
	for (const char *const *t =
	             (const char *const[]){"Cumulative gains", "Lift by decile",
	                                   "Calibration by decile", "Score distribution",
	                                   "Top drivers", NULL};
	     *t != NULL; t++) {
		char want[64];

		snprintf(want, sizeof(want), "<title>%s</title>", *t);
		assert_has(html, want);
	}
	assert_finite_page(html);
	free(html);
	fl_ranker_free(r);

	/* No converted lead at all: AUC is undefined, the page says why and
	 * draws no curve, with no NaN anywhere. */
	for (int i = 0; i < 20; i++)
		y[i] = 0;
	r = ranked(z, y, 20, 1024, &ev, &cv);
	assert_true(isnan(ev.auc));
	assert_int_equal(fl_report_html(m, &ev, &cv, NULL, &html, &len), 0);
	assert_has(html, "This file has no converted leads");
	assert_has(html, "<title>ROC curve \xe2\x80\x94 AUC not defined</title>");
	assert_has(html, ">no data</text>");
	assert_finite_page(html);
	free(html);
	fl_ranker_free(r);
	fl_model_free(m);
}

static void test_report_unlabelled_and_model_only(void **state)
{
	/* Ten unlabelled leads at logit 0: probability 0.5 each, so 5 expected
	 * conversions and a mean score of 50.0 %. */
	double z[10] = {0};
	int y[10];
	struct fl_model *m = hand_model();
	struct fl_eval ev;
	struct fl_curves cv;
	struct fl_ranker *r;
	char *html = (char *)1;
	size_t len = 1;

	(void)state;
	for (int i = 0; i < 10; i++)
		y[i] = -1;
	r = ranked(z, y, 10, 1024, &ev, &cv);
	assert_int_equal(fl_report_html(m, &ev, &cv, NULL, &html, &len), 0);
	assert_has(html, "Expected conversions</div><div class=\"v\">5</div>");
	assert_has(html, "Mean score</div><div class=\"v\">50.0 %</div>");
	assert_has(html, "<title>Predicted conversion rate by decile</title>");
	assert_has(html, "<title>Score distribution</title>");
	assert_lacks(html, "ROC");
	assert_lacks(html, "Calling the top");
	assert_finite_page(html);
	free(html);
	fl_ranker_free(r);

	/* A file with a header and no leads: said so, nothing drawn, no NaN. */
	r = ranked(z, y, 0, 1024, &ev, &cv);
	assert_int_equal(fl_report_html(m, &ev, &cv, NULL, &html, &len), 0);
	assert_has(html, "The file has no leads to score.");
	assert_int_equal(occurrences(html, ">no data</text>"), 2);
	assert_finite_page(html);
	free(html);
	fl_ranker_free(r);

	/* The model alone: drivers and provenance. The drivers, in log-odds
	 * against the average lead (baseline 0.5 retail, 0.3 tech, 0.2 other):
	 * tech 1.2 - (0.5*-0.4 + 0.3*1.2 + 0.2*0.3) = 0.98, visits +1 sd 0.8,
	 * visits (missing) 0.5 (1 - 0.2) = 0.4, other 0.08, retail -0.62. */
	assert_int_equal(fl_report_html(m, NULL, NULL, NULL, &html, &len), 0);
	assert_has(html, ">industry=tech</text>");
	assert_has(html, ">+0.980</text>");
	assert_has(html, ">visits (+1 sd)</text>");
	assert_has(html, ">+0.800</text>");
	assert_has(html, ">+0.400</text>");
	assert_has(html, ">+0.080</text>");
	assert_has(html, ">-0.620</text>");
	assert_has(html, "newton, L2 0");
	assert_has(html, "2026-01-02T03:04:05Z");
	assert_lacks(html, "<h2>Deciles</h2>");
	assert_finite_page(html);
	/* Its differential privacy, in plain words and escaped (the record is
	 * text from a file). */
	assert_has(html, "<tr><td>Differential privacy</td><td>trained without differential "
	                 "privacy</td></tr>");
	free(html);
	{
		struct fl_dp_partner p = {.partner = "acme",
		                          .epsilon = 0.5,
		                          .delta = 1e-8,
		                          .releases = 8,
		                          .clip = 2,
		                          .rho = 0.001};
		struct fl_dp_record rec = {.mechanism = "<b>noise</b>",
		                           .accountant = "zCDP",
		                           .releases = 8,
		                           .partners = &p,
		                           .n_partners = 1};

		assert_int_equal(fl_model_set_privacy(m, &rec), 0);
	}
	assert_int_equal(fl_report_html(m, NULL, NULL, NULL, &html, &len), 0);
	assert_has(html, "<tr><td>Differential privacy</td><td>trained with differential privacy: "
	                 "\xce\xb5 = 0.5, \xce\xb4 = 10\xe2\x81\xbb\xe2\x81\xb8 per partner "
	                 "(&lt;b&gt;noise&lt;/b&gt; under secure aggregation, zCDP accountant, 8 "
	                 "of 8 releases, clip 2)</td></tr>");
	assert_lacks(html, "<b>noise");
	free(html);

	/* Metrics without curves (or the reverse) is a caller's mistake. */
	assert_int_equal(fl_report_html(m, &ev, NULL, NULL, &html, &len), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "report: metrics and curves go together");
	assert_null(html);
	assert_int_equal(len, 0);
	fl_model_free(m);
}

/* ---- scoring a file for the report ---- */

/* Leads of test_score.c: logits 1.8, -2.2, -0.2, 0.2, -0.6, 1.8. */
static const char *LEADS = "lead,visits,industry,won\n"
                           "A1,20,tech,yes\n"
                           "B2,5,retail,no\n"
                           "\"Acme, Inc.\",,finance,yes\n"
                           "\"Bob \"\"B\"\" Ltd\",10,tech,no\n"
                           "E5,15,retail,no\n"
                           "F6,20,tech,no\n";

struct dir {
	char path[64];
};

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* Files in the directory whose name contains part. */
static int files_with(const char *dir, const char *part)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, part) != NULL;
	closedir(d);
	return n;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static void test_report_score_and_file(void **state)
{
	/*
	 * Ranked by logit (ties in input order): A1 1.8 (won), F6 1.8, Bob 0.2,
	 * Acme -0.2 (won), E5 -0.6, B2 -2.2. AUC: A1 beats 3 negatives and ties
	 * F6 (3.5), Acme beats E5 and B2 (2): 5.5 / 8. Curve points at every
	 * tie-group end: (0,0) (2,1) (3,1) (4,2) (5,2) (6,2).
	 * Top 20 %: deciles 1-2 are ranks 1..ceil(6 * 2 / 10) = 2, A1 and F6:
	 * 2 of 6 leads (33 %), 1 of 2 conversions (50 %), 0.5 / (1/3) = 1.5x.
	 */
	const uint64_t rows[6] = {0, 2, 3, 4, 5, 6}, pos[6] = {0, 1, 1, 2, 2, 2};
	struct fl_model *m = hand_model();
	struct fl_score_opts o = {.eval = 1};
	struct fl_score_report rep;
	struct fl_curves cv;
	struct dir d;
	char data[128], out[128], want[512], empty[128];
	char *html;

	(void)state;
	snprintf(d.path, sizeof(d.path), "/tmp/fl_test_report_XXXXXX");
	assert_non_null(mkdtemp(d.path));
	snprintf(data, sizeof(data), "%s/leads.csv", d.path);
	snprintf(out, sizeof(out), "%s/report.html", d.path);
	write_file(data, LEADS);
	o.data = data;
	if (fl_report_score(m, &o, &rep, &cv) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(rep.load.rows, 6);
	assert_int_equal(rep.ev.rows, 6);
	assert_int_equal(rep.ev.positives, 2);
	assert_true(fabs(rep.ev.auc - 5.5 / 8) < 1e-15);
	assert_int_equal(cv.n_points, 6);
	for (size_t k = 0; k < 6; k++) {
		assert_int_equal(cv.cum_rows[k], rows[k]);
		assert_int_equal(cv.cum_pos[k], pos[k]);
	}

	if (fl_report_file(m, &o, NULL, out, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	html = slurp(out);
	assert_true(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
	assert_has(html, "Calling the top 33 % of leads reaches <b>50 %</b> of all conversions "
	                 "(<b>1.5\xc3\x97</b> random).");
	assert_has(html, "<title>ROC curve \xe2\x80\x94 AUC 0.688</title>");
	assert_finite_page(html);
	free(html);
	assert_int_equal(files_with(d.path, ".tmp."), 0);

	/* A bad row stops the report with the row's own message, and leaves no
	 * file behind (the earlier report stays as it was). */
	unlink(out);
	write_file(data, "lead,visits,industry,won\nA1,20,tech,yes\nB2,abc,tech,no\n");
	assert_int_equal(fl_report_file(m, &o, NULL, out, NULL), FL_ERR_DATA);
	snprintf(want, sizeof(want), "%s:3:2: column \"visits\": \"abc\" is not a number", data);
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(files_with(d.path, ".tmp."), 0);

	/* Under --bad-rows skip the row is counted and its reason kept. */
	o.policy = FL_BAD_ROWS_SKIP;
	assert_int_equal(fl_report_score(m, &o, &rep, &cv), 0);
	assert_int_equal(rep.load.rows, 1);
	assert_int_equal(rep.load.skipped, 1);
	assert_string_equal(rep.load.samples[0], want);

	/* An empty file, and no file named at all. */
	snprintf(empty, sizeof(empty), "%s/empty.csv", d.path);
	write_file(empty, "");
	o.data = empty;
	assert_int_equal(fl_report_score(m, &o, &rep, &cv), FL_ERR_DATA);
	snprintf(want, sizeof(want), "%s: the file is empty (no header)", empty);
	assert_string_equal(fl_errmsg(), want);
	o.data = NULL;
	assert_int_equal(fl_report_score(m, &o, &rep, &cv), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "report: no lead file to score");
	remove_dir(d.path);
	fl_model_free(m);
}

/* ---- what federation added ---- */

/* An evaluation as the panel receives it, with only what it shows. */
static struct fl_eval eval_of(uint64_t rows, uint64_t pos, double auc, double ll, uint64_t hits)
{
	return (struct fl_eval){.rows = rows,
	                        .positives = pos,
	                        .auc = auc,
	                        .log_loss = ll,
	                        .top_k = rows / 10,
	                        .top_k_positives = hits};
}

static void test_report_federation_panel(void **state)
{
	struct fl_model *m = hand_model();
	struct fl_report_compare cmp[2] = {
	        {.name = "<script>x()</script> & co",
	         .model_path = "local.fdl",
	         .data_path = "own.csv"},
	        {.name = "globex", .model_path = "g.fdl", .data_path = "g.csv"},
	};
	struct fl_report_meta meta = {.compare = cmp, .n_compare = 2};
	const double z[4] = {2, 1, 0, -1};
	const int y[4] = {1, 0, 1, 0};
	struct fl_eval ev;
	struct fl_curves cv;
	struct fl_ranker *r;
	double lo, hi;
	char *html, *panel;
	size_t len;

	(void)state;
	/*
	 * Hanley-McNeil by hand for AUC 0.75 with 50 converted and 150 not:
	 * Q1 = 0.75 / 1.25 = 0.6, Q2 = 2 * 0.5625 / 1.75 = 0.642857;
	 * var = (0.1875 + 49 * 0.0375 + 149 * 0.080357) / 7500 = 0.0018664,
	 * se = 0.043202, 1.96 se = 0.084676: 0.665324 .. 0.834676.
	 */
	fl_report_auc_interval(0.75, 50, 150, &lo, &hi);
	assert_true(fabs(lo - 0.665324) < 1e-6 && fabs(hi - 0.834676) < 1e-6);
	fl_report_auc_interval(NAN, 50, 150, &lo, &hi);
	assert_true(isnan(lo) && isnan(hi));
	fl_report_auc_interval(0.75, 0, 150, &lo, &hi);
	assert_true(isnan(lo) && isnan(hi));

	/* Partner 1: 7 more in its top 10 % of its own leads, one fewer on all
	 * leads. Partner 2: as many on its own; on all leads no AUC (one class)
	 * and no conversions. */
	cmp[0].own[0] = eval_of(200, 50, 0.75, 0.5, 10);
	cmp[0].own[1] = eval_of(200, 50, 0.8, 0.45, 17);
	cmp[0].all[0] = eval_of(1000, 100, 0.7, 0.3, 40);
	cmp[0].all[1] = eval_of(1000, 100, 0.71, 0.31, 39);
	cmp[1].own[0] = eval_of(30, 10, 0.6, 0.6, 2);
	cmp[1].own[1] = eval_of(30, 10, 0.6, 0.6, 2);
	cmp[1].all[0] = eval_of(1000, 0, NAN, 0.1, 0);
	cmp[1].all[1] = eval_of(1000, 0, NAN, 0.1, 0);

	r = ranked(z, y, 4, 1024, &ev, &cv);
	assert_int_equal(fl_report_html(m, &ev, &cv, &meta, &html, &len), 0);
	assert_int_equal(strlen(html), len);
	assert_int_equal(occurrences(html, "<h2>What federation added</h2>"), 1);
	/* The panel comes before the charts, where a reader starts. */
	panel = strstr(html, "<h2>What federation added</h2>");
	assert_true(panel < strstr(html, "<title>Cumulative gains</title>"));
	/* Four rows per partner, one for each model and held-out set. */
	assert_int_equal(occurrences(html, "<tr data-partner="), 8);
	assert_int_equal(occurrences(html, "data-model=\"federated\""), 4);
	assert_int_equal(occurrences(html, "<td rowspan=\"4\" class=\"p\">"), 2);
	/* The hostile partner name is there, escaped, and never raw. */
	assert_lacks(html, "<script");
	assert_has(html, "<tr data-partner=\"&lt;script&gt;x()&lt;/script&gt; &amp; co\" "
	                 "data-leads=\"own\" data-model=\"local\">");
	assert_has(html, "<li><b>&lt;script&gt;x()&lt;/script&gt; &amp; co</b>, on its own 200 "
	                 "held-out leads (50 converted): AUC 0.7500 \xe2\x86\x92 0.8000 (<span "
	                 "class=\"up\">+0.0500</span>), log-loss 0.5000 \xe2\x86\x92 0.4500 "
	                 "(-0.0500, better); <span class=\"up\">finds 7 more converted "
	                 "leads</span> in its top 10 % (10 \xe2\x86\x92 17 of 20).</li>");
	assert_has(html, "on all partners&#39; 1,000 held-out leads (100 converted): AUC 0.7000 "
	                 "\xe2\x86\x92 0.7100 (<span class=\"up\">+0.0100</span>), log-loss 0.3000 "
	                 "\xe2\x86\x92 0.3100 (+0.0100, worse); <span class=\"down\">finds 1 fewer "
	                 "converted lead</span> in its top 10 % (40 \xe2\x86\x92 39 of 100).</li>");
	assert_has(html, "<li><b>globex</b>, on its own 30 held-out leads (10 converted): AUC "
	                 "0.6000 \xe2\x86\x92 0.6000 (<span class=\"same\">+0.0000</span>), "
	                 "log-loss 0.6000 \xe2\x86\x92 0.6000 (+0.0000); finds as many converted "
	                 "leads in its top 10 % (2 \xe2\x86\x92 2 of 3).</li>");
	/* A row: AUC to 4 places, the interval worked out above, conversions. */
	assert_has(html, "<td class=\"l\">local only</td><td>0.7500</td><td>0.665\xe2\x80\x93"
	                 "0.835</td><td>0.5000</td><td>10 of 20</td></tr>");
	assert_has(html, "<td rowspan=\"2\" class=\"l\">all partners&#39; held-out: 1,000 "
	                 "(100 converted)</td>");
	/* An undefined AUC and interval are dashes, not NaN. */
	assert_has(html, "<td class=\"l\">federated</td><td>\xe2\x80\x93</td><td>\xe2\x80\x93"
	                 "\xe2\x80\x93\xe2\x80\x93</td><td>0.1000</td><td>0 of 100</td></tr>");
	assert_finite_page(html);
	free(html);

	/* Without partners to compare there is no panel, and a report of the
	 * model alone shows it too. */
	assert_int_equal(fl_report_html(m, &ev, &cv, NULL, &html, &len), 0);
	assert_lacks(html, "What federation added");
	free(html);
	assert_int_equal(fl_report_html(m, NULL, NULL, &meta, &html, &len), 0);
	assert_int_equal(occurrences(html, "<tr data-partner="), 8);
	free(html);
	fl_ranker_free(r);
	fl_model_free(m);
}

static void test_report_compare_eval(void **state)
{
	/*
	 * Twenty tech leads with visits 1..20, converted at visits 3, 18 and 20.
	 * The federated model (visits weight +0.8) ranks by visits, highest
	 * first; the local one (-0.8) the other way round. No ties.
	 * All leads: top 10 % = 2 leads. Federated: visits 20, 19 (1 converted);
	 * AUC: 20 beats 17 negatives, 18 beats 16 (all below but 3), 3 beats 2:
	 * 35 / 51. Local: visits 1, 2 (none converted); AUC 16 / 51.
	 * Own leads (visits 1..10, converted at 3): top 10 % = 1 lead, visits 10
	 * or 1, neither converted; AUC 2 / 9 federated, 7 / 9 local.
	 */
	struct fl_model *fed = hand_model(), *local = hand_model(), *other;
	static const double w5[5] = {0, 0.1, 2.0, -0.3, -1.5};
	struct fl_score_opts o = {0};
	struct fl_report_compare c;
	struct dir d;
	char own[128], all[128], nolabel[128], want[512], text[2048];
	size_t n = 0;

	(void)state;
	local->w[1] = -0.8;
	snprintf(d.path, sizeof(d.path), "/tmp/fl_test_report_XXXXXX");
	assert_non_null(mkdtemp(d.path));
	snprintf(own, sizeof(own), "%s/own.csv", d.path);
	snprintf(all, sizeof(all), "%s/all.csv", d.path);
	snprintf(nolabel, sizeof(nolabel), "%s/nolabel.csv", d.path);
	n = (size_t)snprintf(text, sizeof(text), "lead,visits,industry,won\n");
	for (int v = 1; v <= 20; v++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "L%d,%d,tech,%s\n", v, v,
		                      v == 3 || v == 18 || v == 20 ? "yes" : "no");
	write_file(all, text);
	n = (size_t)snprintf(text, sizeof(text), "lead,visits,industry,won\n");
	for (int v = 1; v <= 10; v++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "L%d,%d,tech,%s\n", v, v,
		                      v == 3 ? "yes" : "no");
	write_file(own, text);
	write_file(nolabel, "lead,visits,industry\nL1,1,tech\n");

	c = (struct fl_report_compare){.name = "acme", .model_path = "local.fdl", .data_path = own};
	if (fl_report_compare_eval(fed, local, &o, all, &c) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(c.all[0].rows, 20);
	assert_int_equal(c.all[0].positives, 3);
	assert_int_equal(c.all[0].top_k, 2);
	assert_int_equal(c.all[1].top_k, 2);
	assert_int_equal(c.all[1].top_k_positives, 1);
	assert_int_equal(c.all[0].top_k_positives, 0);
	assert_true(fabs(c.all[1].auc - 35.0 / 51) < 1e-12);
	assert_true(fabs(c.all[0].auc - 16.0 / 51) < 1e-12);
	assert_int_equal(c.own[0].rows, 10);
	assert_int_equal(c.own[1].positives, 1);
	assert_int_equal(c.own[0].top_k, 1);
	assert_int_equal(c.own[0].top_k_positives, 0);
	assert_int_equal(c.own[1].top_k_positives, 0);
	assert_true(fabs(c.own[1].auc - 2.0 / 9) < 1e-12);
	assert_true(fabs(c.own[0].auc - 7.0 / 9) < 1e-12);

	/* A holdout file without the label column cannot be compared on. */
	c.data_path = nolabel;
	assert_int_equal(fl_report_compare_eval(fed, local, &o, all, &c), FL_ERR_DATA);
	snprintf(want, sizeof(want), "%s:1: column \"won\" required by the schema is missing",
	         nolabel);
	assert_string_equal(fl_errmsg(), want);

	/* A local model of another schema is refused before any scoring. */
	other = model_from(HOSTILE_SCHEMA, w5, 5);
	c.data_path = own;
	assert_int_equal(fl_report_compare_eval(fed, other, &o, all, &c), FL_ERR_MODEL);
	assert_true(strncmp(fl_errmsg(), "local.fdl: schema fingerprint ", 30) == 0);
	assert_non_null(strstr(fl_errmsg(), "... differs from the federated model's "));
	remove_dir(d.path);
	fl_model_free(other);
	fl_model_free(local);
	fl_model_free(fed);
}

/* ---- the dashboard ---- */

static void test_dashboard_escapes_and_degenerate(void **state)
{
	const struct fl_dashboard_partner parts[2] = {
	        {"<script>alert('cn')</script>", 1, 1, 988},
	        {"globex", 0, 0, 0},
	};
	struct fl_dashboard d = {
	        .federation_id = "fed<b>1</b>",
	        .algorithm = "newton",
	        .view = {.phase = FL_PHASE_WAITING,
	                 .round = 0,
	                 .expected = 2,
	                 .connected = 1,
	                 .iterations = 0,
	                 .l2 = NAN,
	                 .train_loss = NAN,
	                 .grad_norm = NAN,
	                 .valid_log_loss = NAN,
	                 .valid_auc = NAN},
	        .max_iterations = 100,
	        .partners = parts,
	        .n_partners = 2,
	        .now = 1000,
	        .refresh = 5,
	};
	char *html;
	size_t len;

	(void)state;
	assert_int_equal(fl_dashboard_render(&d, &html, &len), 0);
	assert_int_equal(strlen(html), len);
	assert_lacks(html, "<script");
	assert_lacks(html, "fed<b>");
	assert_has(html, "<h1>Federation fed&lt;b&gt;1&lt;/b&gt;</h1>");
	assert_has(html, "<tr><td>&lt;script&gt;alert(&#39;cn&#39;)&lt;/script&gt;</td>");
	/* 1000 - 988 = 12 seconds; globex was never seen. */
	assert_has(html, "12 s ago");
	assert_has(html, "never");
	assert_has(html, ">1 / 2<");
	assert_has(html, "<meta http-equiv=\"refresh\" content=\"5\">");
	assert_has(html, "solver iteration 0 of at most 100");
	/* No history yet: both charts say so, with no NaN anywhere. */
	assert_int_equal(occurrences(html, ">no data</text>"), 2);
	assert_finite_page(html);
	free(html);

	d.refresh = 0;
	assert_int_equal(fl_dashboard_render(&d, &html, &len), 0);
	assert_lacks(html, "http-equiv=\"refresh\"");
	free(html);
}

static void test_dashboard_history(void **state)
{
	const struct fl_round_log hist[4] = {
	        {.round = 1,
	         .kind = "stats",
	         .l2 = NAN,
	         .train_loss = NAN,
	         .grad_norm = NAN,
	         .valid_log_loss = NAN,
	         .valid_auc = NAN,
	         .partners = 3},
	        {.round = 2,
	         .kind = "fedavg",
	         .l2 = 1,
	         .train_loss = 0.69,
	         .grad_norm = NAN,
	         .valid_log_loss = 0.7,
	         .valid_auc = 0.5,
	         .partners = 3},
	        {.round = 3,
	         .kind = "fedavg",
	         .l2 = 1,
	         .train_loss = 0.3,
	         .grad_norm = NAN,
	         .valid_log_loss = 0.31,
	         .valid_auc = 0.72,
	         .partners = 3},
	        {.round = 4,
	         .kind = "fedavg",
	         .l2 = 1,
	         .train_loss = 0.25,
	         .grad_norm = NAN,
	         .valid_log_loss = 0.27,
	         .valid_auc = 0.75,
	         .partners = 2},
	};
	struct fl_dashboard d = {
	        .federation_id = "f",
	        .algorithm = "fedavg",
	        .view = {.phase = FL_PHASE_TRAIN,
	                 .round = 5,
	                 .expected = 3,
	                 .connected = 2,
	                 .participating = 3,
	                 .l2 = 1,
	                 .train_loss = 0.25,
	                 .grad_norm = NAN,
	                 .valid_log_loss = 0.27,
	                 .valid_auc = 0.75},
	        .max_iterations = 20,
	        .fedavg_done = 3,
	        .history = hist,
	        .n_history = 4,
	        .now = 1000,
	};
	char *html;
	size_t len;

	(void)state;
	assert_int_equal(fl_dashboard_render(&d, &html, &len), 0);
	assert_has(html, "FedAvg round 3 of 20; L2 1");
	assert_has(html, "<title>Loss per round</title>");
	assert_has(html, "<title>Validation AUC per round</title>");
	assert_lacks(html, ">no data</text>");
	/* Newest round first in the table, with its figures. */
	assert_has(html, "<tr><td>4</td><td>fedavg</td><td>1</td><td>0.25000</td><td>\xe2\x80\x93"
	                 "</td><td>0.27000</td><td>0.7500</td><td>2</td></tr>");
	assert_true(strstr(html, "<tr><td>4</td>") < strstr(html, "<tr><td>1</td>"));
	assert_finite_page(html);
	free(html);
}

/* fl_dashboard_html() on a real state machine, before anyone joined. */
static void test_dashboard_of_fedcoord(void **state)
{
	static const char *const names[2] = {"<b>acme</b>", "globex"};
	struct fl_model *m = hand_model();
	struct fl_coord_settings s = {
	        .federation_id = "fed-x",
	        .partners = names,
	        .n_partners = 2,
	        .min_partners = 2,
	        .algorithm = FL_FED_NEWTON,
	        .l2 = 1,
	        .class_weight = 1,
	        .seed = 1,
	        .max_iterations = 100,
	        .tolerance = 1e-10,
	        .fedavg_rounds = 20,
	        .local_epochs = 2,
	        .local_batch = 64,
	        .local_lr = 0.5,
	        .hist_bins = FL_HIST_BINS_DEFAULT,
	        .hist_range = FL_HIST_RANGE_DEFAULT,
	        .round_deadline = 60,
	        .late_policy = FL_LATE_WAIT,
	        .start_wait = 30,
	};
	struct fl_fedcoord_io io = {0};
	struct fl_fedcoord *c = NULL;
	char *html;
	size_t len;

	(void)state;
	if (fl_fedcoord_new(&s, m->schema, &io, &c) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(fl_dashboard_html(c, &s, 1000, &html, &len), 0);
	assert_has(html, "<title>fedlead \xc2\xb7 fed-x \xc2\xb7 waiting</title>");
	assert_has(html, "algorithm newton");
	assert_has(html, "reloads every 5 s");
	assert_has(html, ">0 / 2<");
	assert_has(html, "solver iteration 0 of at most 100");
	assert_has(html, "&lt;b&gt;acme&lt;/b&gt;");
	assert_lacks(html, "<b>acme");
	assert_finite_page(html);
	free(html);
	fl_fedcoord_free(c);
	fl_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_curves_by_hand),
	        cmocka_unit_test(test_curves_external_merge_vs_naive),
	        cmocka_unit_test(test_curves_ties_unlabelled_and_order),
	        cmocka_unit_test(test_report_escapes_hostile_names),
	        cmocka_unit_test(test_report_sentence_and_degenerate_scores),
	        cmocka_unit_test(test_report_unlabelled_and_model_only),
	        cmocka_unit_test(test_report_score_and_file),
	        cmocka_unit_test(test_report_federation_panel),
	        cmocka_unit_test(test_report_compare_eval),
	        cmocka_unit_test(test_dashboard_escapes_and_degenerate),
	        cmocka_unit_test(test_dashboard_history),
	        cmocka_unit_test(test_dashboard_of_fedcoord),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
