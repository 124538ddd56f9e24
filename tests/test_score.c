/*
 * Tests for src/score.c: scoring a lead file with a model built by hand.
 *
 * The model (schema HAND_SCHEMA, weights and scaler set below) encodes to
 * six columns:
 *   0 intercept, 1 visits, 2 visits (missing), 3 industry=retail,
 *   4 industry=tech, 5 industry=(other)
 * with visits standardised as (v - 10) / 5 (a missing visits is imputed as
 * 10, so x1 = 0 and the indicator x2 = 1), weights
 *   w = (-1.0, 0.8, 0.5, -0.4, 1.2, 0.3)
 * and baseline (average training lead)
 *   b = (1, 0, 0.2, 0.5, 0.3, 0.2).
 * So the logit is z = -1 + 0.8 x1 + 0.5 x2 - 0.4 retail + 1.2 tech + 0.3 other,
 * and the reason-code contribution of a feature is sum_j w_j (x_j - b_j):
 *   visits   = 0.8 x1 + 0.5 (x2 - 0.2)
 *   industry = retail: -0.4*0.5 + 1.2*(-0.3) + 0.3*(-0.2) = -0.62
 *              tech:    0.2    + 1.2*0.7    - 0.06       =  0.98
 *              other:   0.2    - 0.36       + 0.3*0.8    =  0.08
 *
 * The six leads of LEADS, worked out by hand:
 *   lead          visits industry won   x1  x2   z     visits  industry
 *   A1            20     tech     yes    2   0   1.8    1.5     0.98
 *   B2            5      retail   no    -1   0  -2.2   -0.9    -0.62
 *   Acme, Inc.    -      finance  yes    0   1  -0.2    0.4     0.08
 *   Bob "B" Ltd   10     tech     no     0   0   0.2   -0.1     0.98
 *   E5            15     retail   no     1   0  -0.6    0.7    -0.62
 *   F6            20     tech     no     2   0   1.8    1.5     0.98
 * Ranks by z (ties in input order): A1 1, F6 2, Bob 3, Acme 4, E5 5, B2 6;
 * decile of rank r among 6 is 1 + floor((r - 1) * 10 / 6): 1, 2, 4, 6, 7, 9.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/model.h"
#include "fedlead/schema.h"
#include "fedlead/score.h"

#include "core/score_int.h"

static const char *HAND_SCHEMA =
        "{\"fedlead_schema\": 1,"
        " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},"
        " \"id\": \"lead\","
        " \"features\": ["
        "  {\"name\": \"visits\", \"type\": \"numeric\", \"missing\": \"impute\"},"
        "  {\"name\": \"industry\", \"type\": \"categorical\", \"values\": [\"retail\", \"tech\"],"
        "   \"other\": true}]}";

static const char *LEADS = "lead,visits,industry,won\n"
                           "A1,20,tech,yes\n"
                           "B2,5,retail,no\n"
                           "\"Acme, Inc.\",,finance,yes\n"
                           "\"Bob \"\"B\"\" Ltd\",10,tech,no\n"
                           "E5,15,retail,no\n"
                           "F6,20,tech,no\n";

/* The scored file for LEADS with two reason codes. Scores are sigmoid(z):
 * sigmoid(1.8) = 0.8581489, sigmoid(-2.2) = 0.0997504, sigmoid(-0.2) =
 * 0.4501660, sigmoid(0.2) = 0.5498340, sigmoid(-0.6) = 0.3543437. Reasons are
 * the positive contributions, largest first, named by the lead's own field
 * text ("finance" is not a listed industry: its reason says it is unseen);
 * ids with a comma or a quote are quoted as RFC 4180 says. */
static const char *SCORED[] = {
        "lead,score,rank,decile,reason_1,contribution_1,reason_2,contribution_2",
        "A1,0.858149,1,1,visits=20,1.5000,industry=tech,0.9800",
        "B2,0.099750,6,9,,,,",
        "\"Acme, Inc.\",0.450166,4,6,visits=(missing),0.4000,industry=(unseen: finance),0.0800",
        "\"Bob \"\"B\"\" Ltd\",0.549834,3,4,industry=tech,0.9800,,",
        "E5,0.354344,5,7,visits=15,0.7000,,",
        "F6,0.858149,2,2,visits=20,1.5000,industry=tech,0.9800",
        NULL,
};

static const double LOGITS[6] = {1.8, -2.2, -0.2, 0.2, -0.6, 1.8};
static const double LABELS[6] = {1, 0, 1, 0, 0, 0};

struct fixture {
	struct fl_model *m;
	char dir[64];
};

static struct fl_model *hand_model(const char *schema_json)
{
	static const double w[6] = {-1.0, 0.8, 0.5, -0.4, 1.2, 0.3};
	static const double base[6] = {1, 0, 0.2, 0.5, 0.3, 0.2};
	struct fl_schema *s = NULL;
	struct fl_model *m = NULL;

	if (fl_schema_parse(schema_json, strlen(schema_json), "hand", &s) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(s->dim, 6);
	if (fl_model_new(s, &m) != 0)
		fail_msg("%s", fl_errmsg());
	fl_schema_free(s);
	memcpy(m->w, w, sizeof(w));
	memcpy(m->scaler->baseline, base, sizeof(base));
	m->scaler->center[1] = 10;
	m->scaler->scale[1] = 5;
	m->scaler->impute[1] = 10;
	return m;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/fl_test_score_XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	fx->m = hand_model(HAND_SCHEMA);
	*state = fx;
	return 0;
}

/* Removes the files a test made and requires the directory to be empty
 * afterwards: a temporary output file left behind fails the test. */
static int teardown(void **state)
{
	struct fixture *fx = *state;
	DIR *d = opendir(fx->dir);
	struct dirent *e;
	int leftovers = 0;
	char p[512];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (strstr(e->d_name, ".tmp.") != NULL) {
			fprintf(stderr, "left behind: %s\n", e->d_name);
			leftovers++;
		}
		snprintf(p, sizeof(p), "%s/%s", fx->dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(fx->dir);
	fl_model_free(fx->m);
	free(fx);
	return leftovers ? -1 : 0;
}

static void path_in(const struct fixture *fx, const char *name, char out[256])
{
	snprintf(out, 256, "%s/%s", fx->dir, name);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Whole file into a malloc'ed string. */
static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* Compares a file with expected lines, one by one. */
static void assert_lines(const char *path, const char *const *want)
{
	char *text = slurp(path), *line = text, *nl;
	size_t i = 0;

	for (; want[i] != NULL; i++) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			fail_msg("%s: line %zu missing (want \"%s\")", path, i + 1, want[i]);
		*nl = '\0';
		if (strcmp(line, want[i]) != 0)
			fail_msg("%s:%zu:\n got: %s\nwant: %s", path, i + 1, line, want[i]);
		line = nl + 1;
	}
	if (*line != '\0')
		fail_msg("%s: unexpected line %zu: %s", path, i + 1, line);
	free(text);
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void default_opts(struct fl_score_opts *o, const char *data, const char *out)
{
	memset(o, 0, sizeof(*o));
	o->data = data;
	o->out = out;
	o->n_reasons = 2;
	o->policy = FL_BAD_ROWS_FAIL;
}

/* ---- tests ---- */

static void test_scored_file(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256];

	path_in(fx, "leads.csv", data);
	path_in(fx, "scored.csv", out);
	write_file(data, LEADS);
	default_opts(&o, data, out);
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_lines(out, SCORED);
	assert_int_equal(rep.load.rows, 6);
	assert_int_equal(rep.load.skipped, 0);
	assert_int_equal(rep.load.n_extra, 0);
	assert_int_equal(rep.bytes, strlen(LEADS));
	/* Without eval no label-based metric is claimed. */
	assert_int_equal(rep.ev.rows, 6);
	assert_int_equal(rep.ev.positives, 0);
}

/*
 * Reason texts as CSV fields: an unseen value with a comma or a quote makes
 * the field quoted, a value is cut to 80 bytes, and a text of more than 191
 * bytes (a 120-byte feature name) is cut there. All these leads have z =
 * -0.2 (tied: ranks in input order, deciles 1, 4, 7 of 3).
 */
static void test_reason_fields(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256], a90[91], a80[81], a61[62], name[121], schema[1024], text[2048];
	const char *want[5];
	char l1[256], l2[256], l3[512];
	struct fl_model *m;

	memset(a90, 'a', 90);
	a90[90] = '\0';
	memset(a80, 'a', 80);
	a80[80] = '\0';
	memset(a61, 'a', 61);
	a61[61] = '\0';
	memset(name, 'i', 120);
	name[120] = '\0';
	path_in(fx, "leads.csv", data);
	path_in(fx, "scored.csv", out);
	snprintf(text, sizeof(text),
	         "lead,visits,industry,won\nQ1,,\"fin,ance\",yes\nQ2,,\"x\"\"y\",no\nQ3,,%s,no\n",
	         a90);
	write_file(data, text);
	default_opts(&o, data, out);
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	snprintf(l3, sizeof(l3),
	         "Q3,0.450166,3,7,visits=(missing),0.4000,industry=(unseen: %s),0.0800", a80);
	want[0] = "lead,score,rank,decile,reason_1,contribution_1,reason_2,contribution_2";
	want[1] = "Q1,0.450166,1,1,visits=(missing),0.4000,\"industry=(unseen: fin,ance)\",0.0800";
	want[2] = "Q2,0.450166,2,4,visits=(missing),0.4000,\"industry=(unseen: x\"\"y)\",0.0800";
	want[3] = l3;
	want[4] = NULL;
	assert_lines(out, want);

	/* The industry named by 120 bytes: 120 + 10 + 80 + 1 bytes, cut to
	 * 191. */
	snprintf(schema, sizeof(schema),
	         "{\"fedlead_schema\": 1,"
	         " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},"
	         " \"id\": \"lead\","
	         " \"features\": ["
	         "  {\"name\": \"visits\", \"type\": \"numeric\", \"missing\": \"impute\"},"
	         "  {\"name\": \"%s\", \"type\": \"categorical\", \"values\": [\"retail\", "
	         "\"tech\"], \"other\": true}]}",
	         name);
	m = hand_model(schema);
	snprintf(text, sizeof(text), "lead,visits,%s,won\nQ1,,%s,yes\nQ2,,tech,no\n", name, a90);
	write_file(data, text);
	if (fl_score_file(m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	/* Q2: tech, z = -1 + 0.5 + 1.2 = 0.7, sigmoid 0.6681878. */
	snprintf(l1, sizeof(l1), "Q1,0.450166,2,6,visits=(missing),0.4000,%s=(unseen: %s,0.0800",
	         name, a61);
	snprintf(l2, sizeof(l2), "Q2,0.668188,1,1,%s=tech,0.9800,visits=(missing),0.4000", name);
	want[1] = l1;
	want[2] = l2;
	want[3] = NULL;
	assert_lines(out, want);
	fl_model_free(m);
}

/*
 * A reason is its feature's name and field as written, the whole text
 * quoted when the field has a comma, and "(missing)" for a placeholder
 * the schema lists, never the placeholder itself; fields of 1 to 14 bytes,
 * with and without a comma. Industry lists "retail, online", "technology"
 * and "a,bcd" for retail, tech and "(other)" (columns 3 to 5:
 * contributions -0.62, 0.98 and 0.08). The strongest two reasons each
 * way; leads:
 *   Q1 visits 20.000000 (x1 2), technology: z 1.8, visits 1.5, industry 0.98
 *   Q2 visits n/a (missing), a,bcd: z -0.2, visits 0.4, industry 0.08
 *   Q3 visits 15 (x1 1), technology: z 1.0, industry 0.98, visits 0.7
 *   Q4 visits 35 (x1 5), retail, online: z 2.6, visits 3.9, industry -0.62
 * Ranks 2, 4, 3, 1; deciles of ranks 1 to 4 among 4 are 1, 3, 6, 8.
 */
static void test_reason_plain_text(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256];
	const char *want[] = {
	        "lead,score,rank,decile,reason_1,contribution_1,reason_2,contribution_2,"
	        "down_reason_1,down_contribution_1,down_reason_2,down_contribution_2",
	        "Q1,0.858149,2,3,visits=20.000000,1.5000,industry=technology,0.9800,,,,",
	        "Q2,0.450166,4,8,visits=(missing),0.4000,\"industry=a,bcd\",0.0800,,,,",
	        "Q3,0.731059,3,6,industry=technology,0.9800,visits=15,0.7000,,,,",
	        "Q4,0.930862,1,1,visits=35,3.9000,,,\"industry=retail, online\",-0.6200,,",
	        NULL};
	struct fl_model *m = hand_model(
	        "{\"fedlead_schema\": 1,"
	        " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},"
	        " \"id\": \"lead\","
	        " \"features\": ["
	        "  {\"name\": \"visits\", \"type\": \"numeric\", \"missing\": \"impute\","
	        "   \"missing_values\": [\"n/a\"]},"
	        "  {\"name\": \"industry\", \"type\": \"categorical\", \"values\": "
	        "[\"retail, online\", \"technology\", \"a,bcd\"]}]}");

	path_in(fx, "leads.csv", data);
	path_in(fx, "scored.csv", out);
	write_file(data,
	           "lead,visits,industry,won\nQ1,20.000000,technology,yes\nQ2,n/a,\"a,bcd\",no\n"
	           "Q3,15,technology,no\nQ4,35,\"retail, online\",no\n");
	default_opts(&o, data, out);
	o.reasons = FL_REASONS_UP | FL_REASONS_DOWN;
	if (fl_score_file(m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_lines(out, want);
	fl_model_free(m);
}

/*
 * The three reasons of each lead against a choice made here by sorting:
 * 20 features, each one column, standardised as it is (centre 0, scale 1,
 * baseline 0), so feature k contributes w_k v_k; small integer values and
 * weights give many equal contributions (the earlier feature first) and
 * leads with fewer than three positive ones. 2,000 leads, one after
 * another, as the scorer meets them.
 */
enum { SORTED_NF = 20, SORTED_NL = 2000 };

/* test_reasons_sorted(): scores data into out with the SSE2 code (path 1)
 * or the AVX2 one where the CPU has it (path 0), and checks each lead's
 * reasons against the three largest positive w[k] * v[i][k] (sign 1), or
 * the three most negative ones (sign -1, --reasons down). */
static void check_sorted(const struct fl_model *m, const char *data, const char *out,
                         int v[SORTED_NL][SORTED_NF], const double *w, int path, int sign)
{
	struct fl_score_opts o;
	struct fl_score_report rep;
	char *text, *line;

	fl_score_no_avx2 = path;
	default_opts(&o, data, out);
	o.n_reasons = 3;
	o.threads = 1;
	o.reasons = sign > 0 ? FL_REASONS_UP : FL_REASONS_DOWN;
	if (fl_score_file(m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	text = slurp(out);
	line = strtok(text, "\n");
	assert_string_equal(line,
	                    sign > 0 ? "row,score,rank,decile,reason_1,contribution_1,reason_2,"
	                               "contribution_2,reason_3,contribution_3"
	                             : "row,score,rank,decile,down_reason_1,down_contribution_1,"
	                               "down_reason_2,down_contribution_2,down_reason_3,"
	                               "down_contribution_3");
	for (int i = 0; i < SORTED_NL; i++) {
		char want[256], *p;
		int used[SORTED_NF] = {0}, n = 0;

		assert_non_null(line = strtok(NULL, "\n"));
		/* Past the row, score, rank and decile. */
		p = line;
		for (int f = 0; f < 4; f++) {
			p = strchr(p, ',');
			assert_non_null(p);
			p++;
		}
		want[0] = '\0';
		for (int r = 0; r < 3; r++) {
			int best = -1;

			for (int k = 0; k < SORTED_NF; k++)
				if (!used[k] && sign * w[k] * v[i][k] > 0 &&
				    (best < 0 ||
				     sign * w[k] * v[i][k] > sign * w[best] * v[i][best]))
					best = k;
			if (best < 0) {
				snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s,",
				         r ? "," : "");
				continue;
			}
			used[best] = 1;
			n++;
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%sf%d=%d,%.4f",
			         r ? "," : "", best + 1, v[i][best], w[best] * v[i][best]);
		}
		if (strcmp(p, want) != 0)
			fail_msg("lead %d (%d reasons): \"%s\", want \"%s\"", i, n, p, want);
	}
	free(text);
	fl_score_no_avx2 = 0;
}

static void test_reasons_sorted(void **state)
{
	struct fixture *fx = *state;
	enum { NF = SORTED_NF, NL = SORTED_NL };
	static const double w[NF] = {1, 0.5, 1, 2, 1, 0.5, 1, 1, 2, 0.25,
	                             1, 1,   3, 1, 1, 0.5, 2, 1, 1, 1};
	struct fl_schema *sch = NULL;
	struct fl_model *m = NULL;
	char data[256], out[256], json[4096];
	int v[NL][NF];
	size_t at = 0;
	FILE *fp;
	unsigned seed = 12345;

	at += (size_t)snprintf(json + at, sizeof(json) - at,
	                       "{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", "
	                       "\"positive\": \"yes\", \"negative\": \"no\"}, \"features\": [");
	for (int k = 0; k < NF; k++)
		at += (size_t)snprintf(json + at, sizeof(json) - at,
		                       "%s{\"name\": \"f%d\", \"type\": \"numeric\"}",
		                       k ? ", " : "", k + 1);
	snprintf(json + at, sizeof(json) - at, "]}");
	if (fl_schema_parse(json, strlen(json), "sorted", &sch) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(sch->dim, NF + 1);
	if (fl_model_new(sch, &m) != 0)
		fail_msg("%s", fl_errmsg());
	fl_schema_free(sch);
	for (int k = 0; k < NF; k++) {
		m->w[k + 1] = w[k];
		m->scaler->center[k + 1] = 0;
		m->scaler->scale[k + 1] = 1;
		m->scaler->baseline[k + 1] = 0;
	}
	path_in(fx, "sorted.csv", data);
	path_in(fx, "scored.csv", out);
	assert_non_null(fp = fopen(data, "w"));
	for (int k = 0; k < NF; k++)
		fprintf(fp, "f%d,", k + 1);
	fprintf(fp, "won\n");
	for (int i = 0; i < NL; i++) {
		for (int k = 0; k < NF; k++) {
			seed = seed * 1103515245u + 12345u;
			/* -5 .. 5, and every tenth lead mostly negative. */
			v[i][k] = (int)(seed >> 16) % 11 - 5 - (i % 10 == 9 ? 4 : 0);
			fprintf(fp, "%d,", v[i][k]);
		}
		fprintf(fp, "no\n");
	}
	assert_int_equal(fclose(fp), 0);
	/* Where the CPU has AVX2, its copy of the arithmetic and of the
	 * choice first, then the SSE2 one; each against the choice here, for
	 * each direction. */
	for (int path = 0; path < 2; path++) {
		check_sorted(m, data, out, v, w, path, 1);
		check_sorted(m, data, out, v, w, path, -1);
	}
	fl_model_free(m);
}

/* The same, with no reason codes, and with more reason slots than features. */
static void test_reason_count(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256];
	static const char *none[] = {
	        "lead,score,rank,decile",
	        "A1,0.858149,1,1",
	        "B2,0.099750,6,9",
	        "\"Acme, Inc.\",0.450166,4,6",
	        "\"Bob \"\"B\"\" Ltd\",0.549834,3,4",
	        "E5,0.354344,5,7",
	        "F6,0.858149,2,2",
	        NULL,
	};
	static const char *three[] = {
	        "lead,score,rank,decile,reason_1,contribution_1,reason_2,contribution_2,"
	        "reason_3,contribution_3",
	        "A1,0.858149,1,1,visits=20,1.5000,industry=tech,0.9800,,",
	        "B2,0.099750,6,9,,,,,,",
	        "\"Acme, Inc.\",0.450166,4,6,visits=(missing),0.4000,industry=(unseen: finance),"
	        "0.0800,,",
	        "\"Bob \"\"B\"\" Ltd\",0.549834,3,4,industry=tech,0.9800,,,,",
	        "E5,0.354344,5,7,visits=15,0.7000,,,,",
	        "F6,0.858149,2,2,visits=20,1.5000,industry=tech,0.9800,,",
	        NULL,
	};

	path_in(fx, "leads.csv", data);
	path_in(fx, "scored.csv", out);
	write_file(data, LEADS);
	default_opts(&o, data, out);
	o.n_reasons = 0;
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_lines(out, none);
	o.n_reasons = 3;
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_lines(out, three);

	o.n_reasons = FL_MAX_REASONS + 1;
	assert_int_equal(fl_score_file(fx->m, &o, &rep), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "reason codes per lead must be 0 to 10");
	o.n_reasons = -1;
	assert_int_equal(fl_score_file(fx->m, &o, &rep), FL_ERR_INVALID);
}

/* Reasons against conversion: the most negative contributions (from the
 * table at the top: B2 visits -0.9, industry -0.62; Bob visits -0.1; E5
 * industry -0.62), alone and beside the positive ones. */
static void test_reasons_down(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256];
	static const char *down[] = {
	        "lead,score,rank,decile,down_reason_1,down_contribution_1,down_reason_2,"
	        "down_contribution_2",
	        "A1,0.858149,1,1,,,,",
	        "B2,0.099750,6,9,visits=5,-0.9000,industry=retail,-0.6200",
	        "\"Acme, Inc.\",0.450166,4,6,,,,",
	        "\"Bob \"\"B\"\" Ltd\",0.549834,3,4,visits=10,-0.1000,,",
	        "E5,0.354344,5,7,industry=retail,-0.6200,,",
	        "F6,0.858149,2,2,,,,",
	        NULL,
	};
	static const char *both[] = {
	        "lead,score,rank,decile,reason_1,contribution_1,down_reason_1,down_contribution_1",
	        "A1,0.858149,1,1,visits=20,1.5000,,",
	        "B2,0.099750,6,9,,,visits=5,-0.9000",
	        "\"Acme, Inc.\",0.450166,4,6,visits=(missing),0.4000,,",
	        "\"Bob \"\"B\"\" Ltd\",0.549834,3,4,industry=tech,0.9800,visits=10,-0.1000",
	        "E5,0.354344,5,7,visits=15,0.7000,industry=retail,-0.6200",
	        "F6,0.858149,2,2,visits=20,1.5000,,",
	        NULL,
	};

	path_in(fx, "leads.csv", data);
	path_in(fx, "scored.csv", out);
	write_file(data, LEADS);
	default_opts(&o, data, out);
	o.reasons = FL_REASONS_DOWN;
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_lines(out, down);
	o.reasons = FL_REASONS_BOTH;
	o.n_reasons = 1;
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_lines(out, both);
}

/* --sort rank: SCORED's lines, best rank first (ties in input order). Run
 * with a ranking memory of four records, so the ranking spills to disk too. */
static void test_sort_rank(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256];
	const char *want[] = {SCORED[0], SCORED[1], SCORED[6], SCORED[4],
	                      SCORED[3], SCORED[5], SCORED[2], NULL};

	path_in(fx, "leads.csv", data);
	path_in(fx, "scored.csv", out);
	write_file(data, LEADS);
	default_opts(&o, data, out);
	o.sort_rank = 1;
	o.tmpdir = fx->dir;
	o.mem_records = 4;
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_lines(out, want);
}

/* Unseen values are counted per column, with the first one as an example;
 * a listed value or a missing one is not unseen. */
static void test_unseen_counted(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256];

	path_in(fx, "leads.csv", data);
	write_file(data, "lead,visits,industry,won\n"
	                 "A1,20,tech,yes\n"
	                 "B2,5,Finance,no\n"
	                 "C3,5,,no\n"
	                 "D4,,TECH,no\n"
	                 "E5,15,finance,no\n");
	default_opts(&o, data, NULL);
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(rep.load.rows, 5);
	assert_int_equal(rep.load.unseen_leads, 3);
	assert_int_equal(rep.load.n_unseen, 1);
	assert_int_equal(rep.load.n_unseen_more, 0);
	assert_string_equal(rep.load.unseen[0].column, "industry");
	assert_int_equal(rep.load.unseen[0].leads, 3);
	assert_string_equal(rep.load.unseen[0].example, "Finance");
}

/* --top P %: the best share of the leads, rounded down, never below one. */
static void test_top_share(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256];

	path_in(fx, "leads.csv", data);
	write_file(data, LEADS);
	default_opts(&o, data, NULL);
	o.eval = 1;
	o.top_share = 0.5;
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(rep.ev.top_k, 3);
	/* A1 (converted), F6, Bob: one of the three converted. */
	assert_int_equal(rep.ev.top_k_positives, 1);
	o.top_share = 0.01;
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(rep.ev.top_k, 1);
	assert_int_equal(rep.ev.top_k_positives, 1);
}

/* --eval: AUC, log-loss, Brier, deciles, top-K and lift against values
 * worked out by hand from LOGITS and LABELS. */
static void test_eval_metrics(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256];
	double ll, brier = 0;

	path_in(fx, "leads.csv", data);
	write_file(data, LEADS);
	default_opts(&o, data, NULL);
	o.eval = 1;
	o.top_k = 2;
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(rep.ev.rows, 6);
	assert_int_equal(rep.ev.positives, 2);
	/* Pairs (converted, not): A1 (1.8) beats Bob, E5, B2 and ties F6 (1.8):
	 * 3.5; Acme (-0.2) beats E5 and B2 but not F6 or Bob: 2. 5.5 of 8. */
	assert_true(fabs(rep.ev.auc - 5.5 / 8) < 1e-15);
	/* Mean log-loss: -log sigmoid(z) for converted, -log(1 - sigmoid(z)) =
	 * log(1 + e^z) for the others. */
	ll = (log1p(exp(-1.8)) + log1p(exp(-2.2)) + log1p(exp(0.2)) + log1p(exp(0.2)) +
	      log1p(exp(-0.6)) + log1p(exp(1.8))) /
	     6;
	assert_true(fabs(rep.ev.log_loss - ll) < 1e-12);
	for (int i = 0; i < 6; i++) {
		double p = 1 / (1 + exp(-LOGITS[i]));

		brier += (p - LABELS[i]) * (p - LABELS[i]) / 6;
	}
	assert_true(fabs(rep.ev.brier - brier) < 1e-12);
	/* Top 2 are A1 (converted) and F6 (not): 1 hit; base rate 2/6; lift
	 * (1/2) / (1/3) = 1.5. */
	assert_int_equal(rep.ev.top_k, 2);
	assert_int_equal(rep.ev.top_k_positives, 1);
	assert_true(fabs(rep.ev.top_k_share - 0.5) < 1e-15);
	assert_true(fabs(rep.ev.lift_at_top_k - 1.5) < 1e-12);
	/* Deciles: ranks 1..6 fall in deciles 1, 2, 4, 6, 7, 9. */
	assert_int_equal(rep.ev.deciles[0].rows, 1);
	assert_int_equal(rep.ev.deciles[0].positives, 1);
	assert_true(fabs(rep.ev.deciles[0].mean_prob - 1 / (1 + exp(-1.8))) < 1e-12);
	assert_int_equal(rep.ev.deciles[1].rows, 1);
	assert_int_equal(rep.ev.deciles[1].positives, 0);
	assert_int_equal(rep.ev.deciles[2].rows, 0);
	assert_int_equal(rep.ev.deciles[5].rows, 1);
	assert_int_equal(rep.ev.deciles[5].positives, 1);
	assert_true(fabs(rep.ev.deciles[5].mean_prob - 1 / (1 + exp(0.2))) < 1e-12);
	assert_int_equal(rep.ev.deciles[8].rows, 1);
	assert_int_equal(rep.ev.deciles[9].rows, 0);

	/* K larger than the file is capped; lift of everything is 1. */
	o.top_k = 100;
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(rep.ev.top_k, 6);
	assert_int_equal(rep.ev.top_k_positives, 2);
	assert_true(fabs(rep.ev.lift_at_top_k - 1.0) < 1e-12);
}

/* Bad rows under skip: counted, reasons kept, and the rows take no rank. */
static void test_bad_rows_skip(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256], want0[512], want1[512];
	static const char *bad = "lead,visits,industry,won\n"
	                         "A1,20,tech,yes\n"
	                         "B2,5,retail,no\n"
	                         "C3,abc,tech,no\n"
	                         "\"Acme, Inc.\",,finance,yes\n"
	                         "\"Bob \"\"B\"\" Ltd\",10,tech,no\n"
	                         "D4,3,tech,maybe\n"
	                         "E5,15,retail,no\n"
	                         "F6,20,tech,no\n";

	path_in(fx, "bad.csv", data);
	path_in(fx, "scored.csv", out);
	write_file(data, bad);
	default_opts(&o, data, out);
	o.eval = 1;
	o.policy = FL_BAD_ROWS_SKIP;
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(rep.load.rows, 6);
	assert_int_equal(rep.load.skipped, 2);
	assert_int_equal(rep.load.n_samples, 2);
	snprintf(want0, sizeof(want0), "%s:4:2: column \"visits\": \"abc\" is not a number", data);
	snprintf(want1, sizeof(want1),
	         "%s:7:4: column \"won\": \"maybe\" is not a label value (expected \"yes\" or "
	         "\"no\")",
	         data);
	assert_string_equal(rep.load.samples[0], want0);
	assert_string_equal(rep.load.samples[1], want1);
	/* The good rows are ranked among themselves exactly as in LEADS. */
	assert_lines(out, SCORED);
	assert_int_equal(rep.ev.rows, 6);
	assert_int_equal(rep.ev.positives, 2);
	assert_true(fabs(rep.ev.auc - 5.5 / 8) < 1e-15);
}

/* Bad rows under fail: the message names file, line and column, and no
 * output file (nor a temporary one) is left behind. */
static void test_bad_rows_fail(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256], want[512];

	path_in(fx, "bad.csv", data);
	path_in(fx, "scored.csv", out);
	write_file(data, "lead,visits,industry,won\n"
	                 "A1,20,tech,yes\n"
	                 "B2,5,retail,no\n"
	                 "C3,nan,tech,no\n");
	default_opts(&o, data, out);
	o.eval = 1;
	assert_int_equal(fl_score_file(fx->m, &o, &rep), FL_ERR_DATA);
	snprintf(want, sizeof(want), "%s:4:2: column \"visits\": \"nan\" is not a finite number",
	         data);
	assert_string_equal(fl_errmsg(), want);
	assert_false(exists(out));

	/* A row with too few fields. */
	write_file(data, "lead,visits,industry,won\n"
	                 "A1,20,tech,yes\n"
	                 "B2,5,retail\n");
	assert_int_equal(fl_score_file(fx->m, &o, &rep), FL_ERR_DATA);
	snprintf(want, sizeof(want), "%s:3: 3 fields, but the header has 4", data);
	assert_string_equal(fl_errmsg(), want);
	assert_false(exists(out));
	/* teardown fails if a *.tmp.* file is left in the directory */
}

/* A file without the label column scores without eval and is refused with
 * eval. */
static void test_unlabelled(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256], want[512];
	static const char *nolabel = "lead,industry,visits,notes\n"
	                             "A1,tech,20,x\n"
	                             "B2,retail,5,\n"
	                             "\"Acme, Inc.\",finance,,\n"
	                             "\"Bob \"\"B\"\" Ltd\",tech,10,\n"
	                             "E5,retail,15,\n"
	                             "F6,tech,20,\n";

	path_in(fx, "nolabel.csv", data);
	path_in(fx, "scored.csv", out);
	write_file(data, nolabel);
	default_opts(&o, data, out);
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	/* Column order does not matter; the unknown column is reported. */
	assert_lines(out, SCORED);
	assert_int_equal(rep.load.rows, 6);
	assert_int_equal(rep.load.n_extra, 1);
	assert_string_equal(rep.load.extra, "notes");
	assert_int_equal(rep.ev.positives, 0);

	unlink(out);
	o.eval = 1;
	assert_int_equal(fl_score_file(fx->m, &o, &rep), FL_ERR_DATA);
	snprintf(want, sizeof(want), "%s:1: column \"won\" required by the schema is missing",
	         data);
	assert_string_equal(fl_errmsg(), want);
	assert_false(exists(out));
}

/* HAND_SCHEMA without its id column. */
static const char *NOID_SCHEMA =
        "{\"fedlead_schema\": 1,"
        " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},"
        " \"features\": ["
        "  {\"name\": \"visits\", \"type\": \"numeric\", \"missing\": \"impute\"},"
        "  {\"name\": \"industry\", \"type\": \"categorical\","
        "   \"values\": [\"retail\", \"tech\"], \"other\": true}]}";

/* Without an id column the first output column is the lead's row number in
 * the input (1 = first lead after the header), also when rows are skipped,
 * so the scores can be joined back to the file. */
static void test_row_numbers(void **state)
{
	struct fixture *fx = *state;
	struct fl_model *m;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256];
	static const char *want[] = {
	        "row,score,rank,decile",
	        "1,0.099750,3,7", /* B2: z -2.2 */
	        "3,0.858149,1,1", /* A1: z 1.8 */
	        "4,0.354344,2,4", /* E5: z -0.6 */
	        NULL,
	};

	m = hand_model(NOID_SCHEMA);
	path_in(fx, "noid.csv", data);
	path_in(fx, "scored.csv", out);
	write_file(data, "visits,industry,won\n"
	                 "5,retail,no\n"
	                 "x,tech,no\n"
	                 "20,tech,yes\n"
	                 "\n" /* blank lines are not records */
	                 "15,retail,no\n");
	default_opts(&o, data, out);
	o.n_reasons = 0;
	o.policy = FL_BAD_ROWS_SKIP;
	if (fl_score_file(m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(rep.load.skipped, 1);
	assert_lines(out, want);
	fl_model_free(m);
}

/* Row numbers over their carries (9 to 10 up to 999 to 1000) and past
 * skipped rows (each 97th, the 100th and the 1000th): each lead's is its
 * line in the input less the header. */
static void test_row_numbers_many(void **state)
{
	struct fixture *fx = *state;
	struct fl_model *m;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256], line[256], want[32];
	FILE *fp;
	int row = 0;

	m = hand_model(NOID_SCHEMA);
	path_in(fx, "noid.csv", data);
	path_in(fx, "scored.csv", out);
	fp = fopen(data, "w");
	assert_non_null(fp);
	fprintf(fp, "visits,industry,won\n");
	for (int i = 1; i <= 1200; i++)
		fprintf(fp, "%s,tech,no\n", i % 97 == 0 || i == 100 || i == 1000 ? "x" : "20");
	fclose(fp);
	default_opts(&o, data, out);
	o.policy = FL_BAD_ROWS_SKIP;
	if (fl_score_file(m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(rep.load.skipped, 12 + 2);
	fp = fopen(out, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp)); /* the header */
	while (fgets(line, sizeof(line), fp) != NULL) {
		do
			row++;
		while (row % 97 == 0 || row == 100 || row == 1000);
		snprintf(want, sizeof(want), "%d,", row);
		if (strncmp(line, want, strlen(want)) != 0)
			fail_msg("lead of row %d: %s", row, line);
	}
	fclose(fp);
	assert_int_equal(row, 1200);
	fl_model_free(m);
}

/* A generated file with many ties, for the ranker comparison. */
static void write_many(const char *path, int n)
{
	static const char *ind[] = {"retail", "tech", "finance", "tech", "retail"};
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fprintf(fp, "lead,visits,industry,won\n");
	for (int i = 0; i < n; i++) {
		if (i % 11 == 4)
			fprintf(fp, "L%d,,%s,%s\n", i, ind[i % 5], i % 3 == 0 ? "yes" : "no");
		else
			fprintf(fp, "L%d,%d,%s,%s\n", i, (i * 7) % 13, ind[i % 5],
			        i % 3 == 0 ? "yes" : "no");
	}
	assert_int_equal(fclose(fp), 0);
}

static void assert_eval_equal(const struct fl_eval *a, const struct fl_eval *b)
{
	assert_int_equal(a->rows, b->rows);
	assert_int_equal(a->positives, b->positives);
	assert_true(a->auc == b->auc);
	assert_true(fabs(a->log_loss - b->log_loss) <= 1e-14 * a->log_loss);
	assert_true(fabs(a->brier - b->brier) <= 1e-14 * a->brier);
	assert_int_equal(a->top_k, b->top_k);
	assert_int_equal(a->top_k_positives, b->top_k_positives);
	for (int d = 0; d < FL_DECILES; d++) {
		assert_int_equal(a->deciles[d].rows, b->deciles[d].rows);
		assert_int_equal(a->deciles[d].positives, b->deciles[d].positives);
	}
}

/* Ranking through spill files gives the same output, byte for byte, as
 * ranking in memory. The ranker's smallest buffer is 4 records (a merge
 * needs two input blocks and an output block), so 6 and 500 rows spill. */
static void test_spill_matches_memory(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report mem, spill;
	char data[256], out_mem[256], out_spill[256], *a, *b;

	path_in(fx, "leads.csv", data);
	path_in(fx, "mem.csv", out_mem);
	path_in(fx, "spill.csv", out_spill);
	for (int round = 0; round < 2; round++) {
		if (round == 0)
			write_file(data, LEADS);
		else
			write_many(data, 500);
		default_opts(&o, data, out_mem);
		o.eval = 1;
		o.top_k = 7;
		o.n_reasons = 2;
		if (fl_score_file(fx->m, &o, &mem) != 0)
			fail_msg("%s", fl_errmsg());
		o.out = out_spill;
		o.mem_records = 4;
		o.tmpdir = fx->dir;
		if (fl_score_file(fx->m, &o, &spill) != 0)
			fail_msg("%s", fl_errmsg());
		a = slurp(out_mem);
		b = slurp(out_spill);
		assert_string_equal(a, b);
		assert_eval_equal(&mem.ev, &spill.ev);
		if (round == 0)
			assert_lines(out_spill, SCORED);
		free(a);
		free(b);
	}
}

/* The output does not depend on the thread count nor on the memory
 * bounds: 1, 2 and 3 threads, and every line and rank spilled to files (a
 * spool of 1 byte, 100 ranking records), give the same bytes, in file and in
 * rank order. 20,000 leads are five batches of 4096 read while the one
 * before is scored in slices of 512; the leads have ties, missing and unseen
 * values and reasons both ways. */
static void test_threads_and_bounds_identical(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report ref, rep;
	char data[256], out_ref[256], out[256], *a, *b;
	static const unsigned threads[] = {2, 3};

	path_in(fx, "many.csv", data);
	path_in(fx, "ref.csv", out_ref);
	path_in(fx, "out.csv", out);
	write_many(data, 20000);
	for (int sort = 0; sort < 2; sort++) {
		default_opts(&o, data, out_ref);
		o.eval = 1;
		o.top_k = 100;
		o.n_reasons = 3;
		o.reasons = FL_REASONS_BOTH;
		o.sort_rank = sort;
		o.threads = 1;
		if (fl_score_file(fx->m, &o, &ref) != 0)
			fail_msg("%s", fl_errmsg());
		assert_int_equal(ref.load.rows, 20000);
		a = slurp(out_ref);
		o.out = out;
		for (size_t t = 0; t <= sizeof(threads) / sizeof(threads[0]); t++) {
			if (t < sizeof(threads) / sizeof(threads[0])) {
				o.threads = threads[t];
			} else {
				/* The spill paths, on two threads. */
				o.threads = 2;
				o.spool_bytes = 1;
				o.mem_records = 100;
				o.tmpdir = fx->dir;
			}
			if (fl_score_file(fx->m, &o, &rep) != 0)
				fail_msg("%s", fl_errmsg());
			b = slurp(out);
			if (strcmp(a, b) != 0)
				fail_msg("sort %d, %u threads%s: the output differs", sort,
				         o.threads, o.spool_bytes ? ", spilled" : "");
			assert_eval_equal(&ref.ev, &rep.ev);
			free(b);
		}
		free(a);
	}
}

/* The rank (third field) of scored line l; no field before it is quoted. */
static unsigned long line_rank(const char *l)
{
	const char *c = strchr(l, ',');

	assert_non_null(c);
	c = strchr(c + 1, ',');
	assert_non_null(c);
	return strtoul(c + 1, NULL, 10);
}

/*
 * Lines longer than the second phase reads back at a time (2 MiB): leads
 * whose ids run to 300,000 and 2,500,000 bytes, in a file long enough to be
 * read in parts. In file order, on 1, 2 and 3 threads, spooled in memory or in
 * files, the lines are those of --sort rank (written line by line, another
 * way), put back in file order, and the ids come in the file's order.
 */
static void test_long_lines(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256], by_rank[256], *ranked, **want;
	size_t n_want = 0;
	const int n = 30;
	FILE *fp;

	path_in(fx, "long.csv", data);
	path_in(fx, "out.csv", out);
	path_in(fx, "by_rank.csv", by_rank);
	assert_non_null(fp = fopen(data, "w"));
	fprintf(fp, "lead,visits,industry,won\n");
	for (int i = 0; i < n; i++) {
		int len = i == 7 || i == 22 ? 2500000 : i % 5 == 4 ? 300000 : 0;

		fprintf(fp, "L%d", i);
		for (int k = 0; k < len; k++)
			fputc('x', fp);
		fprintf(fp, ",%d,%s,%s\n", (i * 7) % 13, i % 2 ? "tech" : "retail",
		        i % 3 == 0 ? "yes" : "no");
	}
	assert_int_equal(fclose(fp), 0);
	default_opts(&o, data, by_rank);
	o.n_reasons = 3;
	o.reasons = FL_REASONS_BOTH;
	o.sort_rank = 1;
	o.threads = 1;
	if (fl_score_file(fx->m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(rep.load.rows, n);
	/* Line r of the ranked file (after the header) has rank r. */
	ranked = slurp(by_rank);
	assert_non_null(want = calloc((size_t)n + 1, sizeof(*want)));
	for (char *l = strtok(ranked, "\n"); l != NULL; l = strtok(NULL, "\n"))
		want[n_want++] = l;
	assert_int_equal(n_want, (size_t)n + 1);
	o.sort_rank = 0;
	o.out = out;
	for (int t = 1; t <= 4; t++) {
		char *got, *l;
		int i = 0;

		o.threads = t < 4 ? (unsigned)t : 2;
		if (t == 4) {
			o.spool_bytes = 1;
			o.mem_records = 4;
			o.tmpdir = fx->dir;
		}
		if (fl_score_file(fx->m, &o, &rep) != 0)
			fail_msg("%s", fl_errmsg());
		got = slurp(out);
		l = strtok(got, "\n");
		assert_non_null(l);
		assert_string_equal(l, want[0]);
		for (l = strtok(NULL, "\n"); l != NULL; l = strtok(NULL, "\n"), i++) {
			char id[16];
			unsigned long r = line_rank(l);

			snprintf(id, sizeof(id), "L%d", i);
			assert_true(i < n);
			assert_true(strncmp(l, id, strlen(id)) == 0 &&
			            (l[strlen(id)] == 'x' || l[strlen(id)] == ','));
			assert_true(r >= 1 && r <= (unsigned long)n);
			if (strcmp(l, want[r]) != 0)
				fail_msg("%d threads%s: line %d differs from rank %lu's", o.threads,
				         o.spool_bytes ? ", spilled" : "", i, r);
		}
		assert_int_equal(i, n);
		free(got);
	}
	free(want);
	free(ranked);
}

/* A bad row deep in the file, read on whichever thread reads its batch,
 * fails the run with the reader's exact message, and no output appears. */
static void test_bad_row_late(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256], want[512];
	FILE *fp;

	path_in(fx, "late.csv", data);
	path_in(fx, "scored.csv", out);
	write_many(data, 10000);
	fp = fopen(data, "a");
	assert_non_null(fp);
	fprintf(fp, "Z1,many,tech,no\n");
	assert_int_equal(fclose(fp), 0);
	for (unsigned t = 1; t <= 2; t++) {
		default_opts(&o, data, out);
		o.threads = t;
		assert_int_equal(fl_score_file(fx->m, &o, &rep), FL_ERR_DATA);
		snprintf(want, sizeof(want),
		         "%s:10002:2: column \"visits\": \"many\" is not a number", data);
		assert_string_equal(fl_errmsg(), want);
		assert_false(exists(out));
	}
}

/*
 * A file of several megabytes, so that two or three threads read it in
 * parts (fl_csv_split()): ids with quoted line ends around every place a
 * cut may fall, missing, unseen and bad visits, blank lines. bad: every
 * bad_every-th lead has visits "many" (0: none). With noid, no id column.
 */
static void write_parts(const char *path, int n, int bad_every, int noid)
{
	static const char *ind[] = {"retail", "tech", "finance", "tech", "retail", "media"};
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fprintf(fp, noid ? "visits,industry,won,note\n" : "lead,visits,industry,won,note\n");
	for (int i = 0; i < n; i++) {
		if (!noid)
			fprintf(fp, i % 2 ? "\"L%d\n,x\"," : "L%d,", i);
		if (bad_every > 0 && i % bad_every == bad_every - 1)
			fprintf(fp, "many,");
		else if (i % 11 == 4)
			fprintf(fp, ",");
		else
			fprintf(fp, "%d,", (i * 7) % 13);
		fprintf(fp, "%s,%s,\"a\n%d,tech,no\n\"\n%s", ind[i % 6], i % 3 == 0 ? "yes" : "no",
		        i, i % 5000 == 7 ? "\n" : "");
	}
	assert_int_equal(fclose(fp), 0);
}

static void assert_load_equal(const struct fl_load_report *a, const struct fl_load_report *b)
{
	assert_int_equal(a->rows, b->rows);
	assert_int_equal(a->skipped, b->skipped);
	assert_int_equal(a->n_samples, b->n_samples);
	for (size_t i = 0; i < a->n_samples; i++)
		assert_string_equal(a->samples[i], b->samples[i]);
	assert_int_equal(a->unseen_leads, b->unseen_leads);
	assert_int_equal(a->n_unseen, b->n_unseen);
	assert_int_equal(a->n_unseen_more, b->n_unseen_more);
	for (size_t i = 0; i < a->n_unseen; i++) {
		assert_int_equal(a->unseen[i].feature, b->unseen[i].feature);
		assert_int_equal(a->unseen[i].leads, b->unseen[i].leads);
		assert_string_equal(a->unseen[i].example, b->unseen[i].example);
	}
	assert_int_equal(a->n_extra, b->n_extra);
	assert_string_equal(a->extra, b->extra);
}

/*
 * write_parts()'s file, with and without an id column, scored on one
 * thread and then in parts on 2 and 3 threads and with every spool and
 * ranker in files (on spilled_threads): the same bytes, in file and rank
 * order, and the same counts. labelled: with --eval, reasons both ways,
 * and bad rows skipped; otherwise none of those.
 */
static void parts_against_one(struct fixture *fx, int labelled, unsigned spilled_threads)
{
	struct fl_model *noid = hand_model(NOID_SCHEMA);
	struct fl_score_opts o;
	struct fl_score_report ref, rep;
	char data[256], out_ref[256], out[256], *a, *b;
	uint64_t cut[2], line[2];
	unsigned n_cut;

	path_in(fx, "parts.csv", data);
	path_in(fx, "ref.csv", out_ref);
	path_in(fx, "out.csv", out);
	for (int variant = 0; variant < 2; variant++) {
		struct fl_model *m = variant == 0 ? fx->m : noid;

		write_parts(data, 130000, labelled ? 997 : 0, variant);
		/* Large enough for three parts. */
		assert_int_equal(fl_csv_split(data, 3, 0, cut, line, &n_cut), 0);
		assert_int_equal(n_cut, 2);
		for (int sort = 0; sort < 2; sort++) {
			default_opts(&o, data, out_ref);
			o.top_k = 100;
			o.sort_rank = sort;
			o.threads = 1;
			if (labelled) {
				o.eval = 1;
				o.n_reasons = 2;
				o.reasons = FL_REASONS_BOTH;
				o.policy = FL_BAD_ROWS_SKIP;
			}
			if (fl_score_file(m, &o, &ref) != 0)
				fail_msg("%s", fl_errmsg());
			if (labelled) {
				assert_true(ref.load.skipped > 100);
				assert_true(ref.load.n_unseen == 1 &&
				            ref.load.unseen_leads > 40000);
			} else {
				assert_int_equal(ref.load.rows, 130000);
			}
			a = slurp(out_ref);
			o.out = out;
			for (unsigned t = 2; t <= 4; t++) {
				o.threads = t < 4 ? t : spilled_threads;
				if (t == 4) {
					o.spool_bytes = 1;
					o.mem_records = 100;
					o.tmpdir = fx->dir;
				}
				if (fl_score_file(m, &o, &rep) != 0)
					fail_msg("%s", fl_errmsg());
				b = slurp(out);
				if (strcmp(a, b) != 0)
					fail_msg("variant %d, sort %d, %u threads: the output "
					         "differs",
					         variant, sort, o.threads);
				if (labelled) {
					assert_eval_equal(&ref.ev, &rep.ev);
				} else {
					/* No labels: the deciles' sizes and mean
					 * probabilities, bit for bit. */
					assert_true(isnan(rep.ev.auc) && isnan(rep.ev.log_loss));
					assert_int_equal(ref.ev.rows, rep.ev.rows);
					assert_int_equal(ref.ev.top_k, rep.ev.top_k);
					for (int d = 0; d < FL_DECILES; d++) {
						assert_int_equal(ref.ev.deciles[d].rows,
						                 rep.ev.deciles[d].rows);
						assert_true(ref.ev.deciles[d].mean_prob ==
						            rep.ev.deciles[d].mean_prob);
					}
				}
				assert_load_equal(&ref.load, &rep.load);
				assert_int_equal(ref.bytes, rep.bytes);
				free(b);
			}
			free(a);
		}
	}
	fl_model_free(noid);
}

/*
 * Read in two or three parts at once, a file gives the bytes one thread
 * writes, in file and rank order, with and without an id column (the
 * positions of the later parts' leads count the records before them, bad
 * ones included), skipped rows and unseen values counted as one reader
 * counts them, and the spools spilled or not (on two threads).
 */
static void test_parts_identical(void **state)
{
	parts_against_one(*state, 1, 2);
}

/*
 * Without labels the parts rank their own scores and their rankers are
 * joined (fl_ranker_join()), and with no row skipped every part writes its
 * lines at its own place in the output (the positions of a middle part
 * counted, not read): the bytes one thread writes, with and without an id
 * column, spooled in memory or in files (on three threads).
 */
static void test_parts_joined(void **state)
{
	parts_against_one(*state, 0, 3);
}

/* Read in parts, a bad row fails the run with the message one reader
 * gives: the first in the file, with its line, whichever part holds it. */
static void test_parts_bad_row(void **state)
{
	struct fixture *fx = *state;
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], out[256], want[512];
	uint64_t cut[1], line[1];
	unsigned n_cut;

	path_in(fx, "parts.csv", data);
	path_in(fx, "scored.csv", out);
	for (int where = 0; where < 2; where++) {
		/* Lead 100 (in the first part) and lead 60000 (in the second),
		 * or only the latter. */
		write_parts(data, 90000, 0, 0);
		{
			FILE *fp = fopen(data, "r+");
			char *text = slurp(data), *p;
			char key[32];

			assert_non_null(fp);
			for (int lead = where == 0 ? 100 : 60000; lead <= 60000; lead += 59900) {
				snprintf(key, sizeof(key), "\nL%d,", lead);
				p = strstr(text, key);
				assert_non_null(p);
				/* "L100,9," becomes "L100,x,": a visits that is no number. */
				p[strlen(key)] = 'x';
			}
			assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
			assert_int_equal(fclose(fp), 0);
			free(text);
		}
		assert_int_equal(fl_csv_split(data, 2, 0, cut, line, &n_cut), 0);
		assert_int_equal(n_cut, 1);
		default_opts(&o, data, out);
		o.threads = 1;
		assert_int_equal(fl_score_file(fx->m, &o, &rep), FL_ERR_DATA);
		snprintf(want, sizeof(want), "%s", fl_errmsg());
		/* Lead i starts on line 2 + 3 i + i / 2 + the blank lines before
		 * it (an odd lead's id breaks a line, every note two). */
		assert_non_null(strstr(want, where == 0 ? ":353:2: " : ":210014:2: "));
		o.threads = 2;
		assert_int_equal(fl_score_file(fx->m, &o, &rep), FL_ERR_DATA);
		assert_string_equal(fl_errmsg(), want);
		assert_false(exists(out));
	}
}

/* fl_score_contribution against the hand values, and the explanation's
 * driver order: effects against the average lead are tech +0.98, visits
 * +0.8 (per sd), visits missing 0.5 * (1 - 0.2) = +0.4, other +0.08, and
 * retail -0.62. */
/* ---- numbers parsed as the reader cuts the record (fl_csv_want_numbers()) ---- */

/* Every field of text quoted: the tokenizer, not the numeric fast path,
 * reads every record of such a file. */
static void write_quoted(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	int open = 0;

	assert_non_null(fp);
	for (const char *c = text; *c; c++) {
		if (!open && *c != '\n') {
			fputc('"', fp);
			open = 1;
		}
		if (open && (*c == ',' || *c == '\n')) {
			fputc('"', fp);
			open = 0;
		}
		if (*c == '"')
			fputc('"', fp);
		fputc(*c, fp);
	}
	assert_int_equal(fclose(fp), 0);
}

/* Scores text as written and with every field quoted; the two scored
 * files must be the same bytes. Returns the first. */
static char *score_both_ways(const struct fixture *fx, const struct fl_model *m, const char *text)
{
	struct fl_score_opts o;
	struct fl_score_report rep;
	char data[256], quoted[256], out[256], outq[256], *a, *b;

	path_in(fx, "plain.csv", data);
	path_in(fx, "quoted.csv", quoted);
	path_in(fx, "plain-scored.csv", out);
	path_in(fx, "quoted-scored.csv", outq);
	write_file(data, text);
	write_quoted(quoted, text);
	default_opts(&o, data, out);
	o.n_reasons = 3;
	if (fl_score_file(m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	o.data = quoted;
	o.out = outq;
	if (fl_score_file(m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	a = slurp(out);
	b = slurp(outq);
	assert_string_equal(a, b);
	free(b);
	return a;
}

/* Values the reader parses and ones it leaves to the encoder, side by side
 * in one column: the scores and reasons do not depend on which did. */
static const char *TRICKY = "lead,visits,industry,won\n"
                            "A,20,tech,yes\n"
                            "B,+20,tech,no\n"
                            "C,2e1,tech,no\n"
                            "D,20.000,tech,no\n"
                            "E,,retail,no\n"
                            "F,0.20E2,retail,no\n"
                            "G,-0,finance,no\n"
                            "H,1.00000000000000000001,tech,no\n"
                            "I,9007199254740993,tech,no\n"
                            "J,.5,retail,yes\n"
                            "K,5.,retail,no\n";

static void test_fast_numbers_mixed_schema(void **state)
{
	struct fixture *fx = *state;
	char *got = score_both_ways(fx, fx->m, TRICKY);

	/* "+20" and "20.000" are the value 20, as "20" is (z = 1.8, the
	 * first line of SCORED), and their reasons quote the field's text. */
	assert_non_null(strstr(got, "\nA,0.858149,2,1,visits=20,1.5000,industry=tech,0.9800,,\n"));
	assert_non_null(strstr(got, "\nB,0.858149,3,2,visits=+20,1.5000,industry=tech,0.9800,,\n"));
	assert_non_null(strstr(got, "\nC,0.858149,4,3,visits=2e1,1.5000,industry=tech,0.9800,,\n"));
	assert_non_null(
	        strstr(got, "\nD,0.858149,5,4,visits=20.000,1.5000,industry=tech,0.9800,,\n"));
	free(got);
}

/* Scoring text (written to data) fails with the error data + where, and
 * leaves no output file. */
static void assert_bad_file(const struct fl_model *m, const char *data, const char *out,
                            const char *text, const char *where)
{
	struct fl_score_opts o;
	struct fl_score_report rep;
	char want[512];

	write_file(data, text);
	default_opts(&o, data, out);
	assert_int_equal(fl_score_file(m, &o, &rep), FL_ERR_DATA);
	snprintf(want, sizeof(want), "%s%s", data, where);
	assert_string_equal(fl_errmsg(), want);
	assert_false(exists(out));
}

/* A schema of three numeric features, spend's keys added. */
#define NUMERIC_SCHEMA(spend)                                                                      \
	"{\"fedlead_schema\": 1,"                                                                  \
	" \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},"          \
	" \"id\": \"lead\", \"features\": ["                                                       \
	"  {\"name\": \"visits\", \"type\": \"numeric\", \"missing\": \"impute\","                 \
	"   \"clip\": [0, 30]},"                                                                   \
	"  {\"name\": \"pages\", \"type\": \"numeric\", \"missing\": \"impute\"},"                 \
	"  {\"name\": \"spend\", \"type\": \"numeric\"" spend "}]}"

/* A schema of numeric features only (clipped, imputed, plain) takes the
 * encoder's loop for such rows; a log1p feature takes the general one. */
static void test_fast_numbers_numeric_schema(void **state)
{
	/* spend plain, then with a transform (the encoder's general loop). */
	static const char *const schemas[2] = {NUMERIC_SCHEMA(""),
	                                       NUMERIC_SCHEMA(", \"transform\": \"log1p\"")};
	static const char *text = "lead,visits,pages,spend,won\n"
	                          "A,12,3,100,yes\n"
	                          "B,45,-3,0.5,no\n"
	                          "C,-7,,1e2,no\n"
	                          "D,+12,3.0,100.,no\n"
	                          "E,1E1,0.3e1,12345678901234567890,yes\n"
	                          "F,30.0000000000000000001,2,7,no\n";
	struct fixture *fx = *state;

	for (int k = 0; k < 2; k++) {
		struct fl_schema *s = NULL;
		struct fl_model *m = NULL;
		char data[256], out[256], *got;

		if (fl_schema_parse(schemas[k], strlen(schemas[k]), "numeric", &s) != 0 ||
		    fl_model_new(s, &m) != 0)
			fail_msg("%s", fl_errmsg());
		fl_schema_free(s);
		for (size_t j = 0; j < m->dim; j++) {
			m->w[j] = 0.25 * (double)j - 0.4;
			m->scaler->center[j] = j == 0 ? 0 : 1.5;
			m->scaler->scale[j] = j == 0 ? 1 : 4;
			m->scaler->baseline[j] = j == 0 ? 1 : 0.1;
			m->scaler->impute[j] = 2;
		}
		got = score_both_ways(fx, m, text);
		/* spend 100 written three ways: (100 - 1.5) / 4 = 24.625
		 * standardised, 0.85 * (24.625 - 0.1) = 20.84625 its
		 * contribution, the strongest. */
		if (k == 0) {
			assert_non_null(strstr(got, "\nA,1.000000,3,4,spend=100,20.8462,,,,\n"));
			assert_non_null(
			        strstr(got, "\nC,1.000000,2,2,spend=1e2,20.8462,visits=-7,"));
			assert_non_null(strstr(got, "\nD,1.000000,4,6,spend=100.,20.8462,,,,\n"));
		}
		free(got);

		/* A bad value in a row the fast path cuts: the error names
		 * file, line and column as always. */
		path_in(fx, "bad.csv", data);
		path_in(fx, "scored.csv", out);
		assert_bad_file(m, data, out,
		                "lead,visits,pages,spend,won\nA,12,3,100,yes\nB,4,5x,1,no\n",
		                ":3:3: column \"pages\": \"5x\" is not a number");
		assert_bad_file(
		        m, data, out, "lead,visits,pages,spend,won\nA,12,3,100,yes\nB,4,5,,no\n",
		        ":3:4: column \"spend\": missing value (the schema says missing=error)");
		fl_model_free(m);
	}
}

/*
 * Plain numeric features only, in adjacent columns in the schema's order:
 * a record whose values the reader all parsed is taken as it is, any other
 * goes feature by feature; the same scores and reasons either way, and a
 * bad value's error names its line and column.
 */
static void test_fast_numbers_run(void **state)
{
	static const char *schema =
	        "{\"fedlead_schema\": 1,"
	        " \"label\": {\"column\": \"won\", \"positive\": \"yes\", \"negative\": \"no\"},"
	        " \"id\": \"lead\", \"features\": ["
	        "  {\"name\": \"a\", \"type\": \"numeric\", \"missing\": \"error\"},"
	        "  {\"name\": \"b\", \"type\": \"numeric\", \"missing\": \"error\"},"
	        "  {\"name\": \"c\", \"type\": \"numeric\", \"missing\": \"error\"}]}";
	static const double w[4] = {0, 0.5, -1, 0.25};
	struct fixture *fx = *state;
	struct fl_schema *s = NULL;
	struct fl_model *m = NULL;
	char data[256], out[256], *got;

	if (fl_schema_parse(schema, strlen(schema), "run", &s) != 0 || fl_model_new(s, &m) != 0)
		fail_msg("%s", fl_errmsg());
	fl_schema_free(s);
	for (size_t j = 1; j < 4; j++) {
		m->w[j] = w[j];
		m->scaler->center[j] = 0;
		m->scaler->scale[j] = 2;
		m->scaler->baseline[j] = 0;
	}
	/* a, b, c = 1, 2, 3 standardised 0.5, 1, 1.5: contributions 0.25,
	 * -1, 0.375, z = -0.375, score 1 / (1 + e^0.375) = 0.407333. B's
	 * "1e0" is left to the encoder, C's "2.0" and "+3" are not. */
	got = score_both_ways(fx, m,
	                      "lead,a,b,c,won\n"
	                      "A,1,2,3,yes\n"
	                      "B,1e0,2,3,no\n"
	                      "C,1,2.0,+3,no\n");
	assert_non_null(strstr(got, "\nA,0.407333,1,1,c=3,0.3750,a=1,0.2500,,\n"));
	assert_non_null(strstr(got, "\nB,0.407333,2,4,c=3,0.3750,a=1e0,0.2500,,\n"));
	assert_non_null(strstr(got, "\nC,0.407333,3,7,c=+3,0.3750,a=1,0.2500,,\n"));
	free(got);

	path_in(fx, "bad.csv", data);
	path_in(fx, "scored.csv", out);
	assert_bad_file(m, data, out, "lead,a,b,c,won\nA,1,2,3,yes\nB,1,2x,3,no\n",
	                ":3:3: column \"b\": \"2x\" is not a number");
	assert_bad_file(m, data, out, "lead,a,b,c,won\nA,1,2,3,yes\nB,1,2,,no\n",
	                ":3:4: column \"c\": missing value (the schema says missing=error)");
	fl_model_free(m);
}

static void test_contribution_and_explain(void **state)
{
	struct fixture *fx = *state;
	double x[6] = {1, 2, 0, 0, 1, 0}; /* A1, standardised */
	char path[256], *text, *p_tech, *p_visits, *p_missing, *p_other, *p_retail, *p_against;
	FILE *fp;

	assert_true(fabs(fl_score_contribution(fx->m, x, 1) - 1.6) < 1e-12);
	assert_true(fabs(fl_score_contribution(fx->m, x, 2) - (-0.1)) < 1e-12);
	assert_true(fabs(fl_score_contribution(fx->m, x, 4) - 0.84) < 1e-12);
	assert_true(fabs(fl_score_contribution(fx->m, x, 0) - 0.0) < 1e-12);

	path_in(fx, "explain.txt", path);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fl_score_explain(fx->m, fp, 10), 0);
	fclose(fp);
	text = slurp(path);
	p_tech = strstr(text, "   +0.9800  industry=tech ");
	p_visits = strstr(text, "   +0.8000  visits ");
	p_missing = strstr(text, "   +0.4000  visits (missing) ");
	p_other = strstr(text, "   +0.0800  industry=(other) ");
	p_against = strstr(text, "Top drivers against conversion:");
	p_retail = strstr(text, "   -0.6200  industry=retail ");
	assert_non_null(p_tech);
	assert_non_null(p_visits);
	assert_non_null(p_missing);
	assert_non_null(p_other);
	assert_non_null(p_against);
	assert_non_null(p_retail);
	assert_true(p_tech < p_visits && p_visits < p_missing && p_missing < p_other &&
	            p_other < p_against && p_against < p_retail);
	/* A numeric driver is also given per unit: 0.8 / 5 = 0.16. */
	assert_non_null(strstr(p_visits, "per +1 unit: +0.16 (1 sd = 5 units, mean 10)"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_scored_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reason_count, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reasons_down, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sort_rank, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unseen_counted, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_top_share, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_eval_metrics, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_rows_skip, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_rows_fail, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unlabelled, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_row_numbers, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_row_numbers_many, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_spill_matches_memory, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_threads_and_bounds_identical, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reason_fields, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reason_plain_text, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reasons_sorted, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_row_late, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_parts_identical, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_parts_joined, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_parts_bad_row, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fast_numbers_mixed_schema, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fast_numbers_numeric_schema, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fast_numbers_run, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_contribution_and_explain, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
