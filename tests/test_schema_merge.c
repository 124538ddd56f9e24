/*
 * Tests for src/core/schema_merge.c: the union of drafts, every conflict
 * with the exact line a person reads, keys this version does not know, and
 * that what it writes is a schema.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/schema.h"
#include "fedlead/schema_merge.h"

/* Two drafts as fedlead-node schema writes them (dialect keys, comment and
 * clip ranges included), of partners that hold different values. */
static const char A[] =
        "{\"fedlead_schema\": 1, \"comment\": \"drafted\", \"delimiter\": \";\",\n"
        " \"label\": {\"column\": \"Converted\", \"positive\": \"1\", \"negative\": \"0\"},\n"
        " \"features\": [\n"
        "  {\"name\": \"Lead Source\", \"type\": \"categorical\",\n"
        "   \"values\": [\"Google\", \"Olark Chat\"], \"other\": true},\n"
        "  {\"name\": \"Visits\", \"type\": \"numeric\", \"missing\": \"impute\",\n"
        "   \"clip\": [0, 25], \"decimal\": \",\"},\n"
        "  {\"name\": \"Tier\", \"type\": \"categorical\", \"values\": [\"2\", \"9\"],\n"
        "   \"other\": true}\n"
        " ],\n"
        " \"ignore\": [\"Prospect ID\"]}\n";
static const char B[] =
        "{\"fedlead_schema\": 1, \"comment\": \"drafted elsewhere\", \"encoding\": "
        "\"windows-1252\",\n"
        " \"label\": {\"column\": \"Converted\", \"positive\": \"1\", \"negative\": \"0\"},\n"
        " \"features\": [\n"
        "  {\"name\": \"Visits\", \"type\": \"numeric\", \"missing\": \"error\",\n"
        "   \"clip\": [-1.5, 12]},\n"
        "  {\"name\": \"Lead Source\", \"type\": \"categorical\",\n"
        "   \"values\": [\"Direct Traffic\", \"Google\"], \"other\": true},\n"
        "  {\"name\": \"Tier\", \"type\": \"categorical\", \"values\": [\"10\", \"2\"],\n"
        "   \"other\": true}\n"
        " ],\n"
        " \"ignore\": [\"Lead Number\", \"Prospect ID\"]}\n";

/* The merge of A and B, written out by hand from the rules: features in
 * order of first appearance, values united and sorted (Tier's as numbers,
 * as the draft sorts an integer-coded column), "error" over "impute", the
 * widest clip, the ignore lists united, no dialect key, no draft comment. */
static const char AB_CANONICAL[] =
        "{\"features\":["
        "{\"name\":\"Lead Source\",\"other\":true,\"type\":\"categorical\",\"values\":["
        "\"Direct Traffic\",\"Google\",\"Olark Chat\"]},"
        "{\"clip\":[-1.5,25.0],\"missing\":\"error\",\"name\":\"Visits\",\"type\":\"numeric\"},"
        "{\"name\":\"Tier\",\"other\":true,\"type\":\"categorical\",\"values\":[\"2\",\"9\","
        "\"10\"]}"
        "],\"fedlead_schema\":1,\"id\":null,\"ignore\":[\"Lead Number\",\"Prospect ID\"],"
        "\"label\":{\"column\":\"Converted\",\"negative\":\"0\",\"positive\":\"1\"}}";

/* s with its first "from" replaced by "to" (which must be there). */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);

	assert_non_null(p);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
	return out;
}

static int merge(const char *const *json, const char *const *names, size_t n,
                 struct fl_schema_merge_result *res)
{
	struct fl_schema_merge_input in[8];

	for (size_t i = 0; i < n; i++)
		in[i] = (struct fl_schema_merge_input){names[i], json[i], strlen(json[i])};
	return fl_schema_merge(in, n, res);
}

static void merge2(const char *a, const char *b, struct fl_schema_merge_result *res, int want)
{
	const char *j[] = {a, b}, *names[] = {"a.json", "b.json"};

	fl_err_clear();
	assert_int_equal(merge(j, names, 2, res), want);
}

static void test_union(void **state)
{
	struct fl_schema_merge_result res;
	struct fl_schema *s = NULL;

	(void)state;
	merge2(A, B, &res, 0);
	assert_int_equal(res.n_conflicts, 0);
	assert_non_null(res.json);
	assert_int_equal(fl_schema_parse(res.json, strlen(res.json), "merged", &s), 0);
	assert_string_equal(s->canonical, AB_CANONICAL);
	/* Dialect keys are each partner's: none is carried into the contract. */
	assert_null(strstr(res.json, "delimiter"));
	assert_null(strstr(res.json, "encoding"));
	assert_null(strstr(res.json, "decimal"));
	assert_null(strstr(res.json, "drafted"));
	/* The one decision a partner must hear about: its blanks are refused. */
	assert_int_equal(res.n_notes, 1);
	assert_string_equal(res.notes[0],
	                    "features \"Visits\": missing \"error\" (from b.json) over \"impute\" "
	                    "(from a.json): rows with an empty \"Visits\" will be refused where it "
	                    "was \"impute\"");
	fl_schema_free(s);
	fl_schema_merge_result_free(&res);
}

/* The merge does not depend on which draft comes first, except for the
 * order of features (the encoding's), which follows the first draft. */
static void test_union_order(void **state)
{
	struct fl_schema_merge_result ab, ba;
	struct fl_schema *s1 = NULL, *s2 = NULL;

	(void)state;
	merge2(A, B, &ab, 0);
	merge2(B, A, &ba, 0);
	assert_int_equal(fl_schema_parse(ab.json, strlen(ab.json), "ab", &s1), 0);
	assert_int_equal(fl_schema_parse(ba.json, strlen(ba.json), "ba", &s2), 0);
	assert_string_equal(s2->features[0].name, "Visits");
	assert_string_equal(s2->features[1].name, "Lead Source");
	assert_int_equal(s1->features[0].n_values, 3);
	assert_int_equal(s2->features[1].n_values, 3);
	assert_true(s2->features[0].clip_lo == -1.5);
	assert_true(s2->features[0].clip_hi == 25);
	fl_schema_free(s1);
	fl_schema_free(s2);
	fl_schema_merge_result_free(&ab);
	fl_schema_merge_result_free(&ba);
}

/* A merge of one draft is that draft without its dialect. */
static void test_single(void **state)
{
	const char *j[] = {A}, *names[] = {"a.json"};
	struct fl_schema_merge_result res;
	struct fl_schema *s = NULL, *a = NULL;

	(void)state;
	assert_int_equal(merge(j, names, 1, &res), 0);
	assert_int_equal(fl_schema_parse(res.json, strlen(res.json), "m", &s), 0);
	assert_int_equal(fl_schema_parse(A, strlen(A), "a", &a), 0);
	assert_string_equal(s->canonical, a->canonical);
	assert_int_equal(s->dialect.delimiter, 0);
	fl_schema_free(s);
	fl_schema_free(a);
	fl_schema_merge_result_free(&res);
}

static const char TYPED[] =
        "{\"fedlead_schema\": 1,\n"
        " \"label\": {\"column\": \"Converted\", \"positive\": \"1\", \"negative\": \"0\"},\n"
        " \"features\": [\n"
        "  {\"name\": \"Lead Source\", \"type\": \"numeric\"},\n"
        "  {\"name\": \"Visits\", \"type\": \"numeric\"},\n"
        "  {\"name\": \"Tier\", \"type\": \"categorical\", \"values\": [\"2\"]}\n"
        " ],\n"
        " \"ignore\": []}\n";

static void expect_conflicts(const char *a, const char *b, const char *const *want, size_t n)
{
	struct fl_schema_merge_result res;

	merge2(a, b, &res, FL_ERR_SCHEMA);
	assert_null(res.json);
	for (size_t i = 0; i < res.n_conflicts && i < n; i++)
		assert_string_equal(res.conflicts[i], want[i]);
	assert_int_equal(res.n_conflicts, n);
	fl_schema_merge_result_free(&res);
}

static void test_conflict_type(void **state)
{
	static const char *const want[] = {
	        "features \"Lead Source\": type numeric in a.json, categorical in b.json",
	        "features \"Tier\": \"other\" false in a.json, true in b.json",
	};

	(void)state;
	expect_conflicts(TYPED, B, want, 2);
	assert_string_equal(fl_errmsg(),
	                    "the drafts disagree on 2 points: edit one draft so that they agree, "
	                    "then merge again");
}

static void test_conflict_label(void **state)
{
	static const char *const want[] = {
	        "label: positive \"1\" in a.json, \"yes\" in b.json",
	        "label: negative \"0\" in a.json, \"no\" in b.json",
	};
	char *b = replace(B, "\"positive\": \"1\", \"negative\": \"0\"",
	                  "\"positive\": \"yes\", \"negative\": \"no\"");

	(void)state;
	expect_conflicts(A, b, want, 2);
	assert_string_equal(fl_errmsg(),
	                    "the drafts disagree on 2 points: edit one draft so that they agree, "
	                    "then merge again");
	free(b);
}

/* A column ignored at one partner and a feature at another; a column one
 * partner's export does not have. */
static const char IGNORING[] =
        "{\"fedlead_schema\": 1,\n"
        " \"label\": {\"column\": \"Converted\", \"positive\": \"1\", \"negative\": \"0\"},\n"
        " \"features\": [\n"
        "  {\"name\": \"Visits\", \"type\": \"numeric\", \"clip\": [0, 3]},\n"
        "  {\"name\": \"Tier\", \"type\": \"categorical\", \"values\": [\"2\"], \"other\": "
        "true}\n"
        " ],\n"
        " \"ignore\": [\"Lead Source\"]}\n";

static void test_conflict_ignore(void **state)
{
	static const char *const want[] = {
	        "features \"Lead Source\": a feature in a.json, ignored in b.json",
	};
	static const char *const want_missing[] = {
	        "features \"Lead Source\": a feature in b.json, no such column in a.json",
	};
	char *b = replace(IGNORING, "[\"Lead Source\"]", "[]");

	(void)state;
	expect_conflicts(A, IGNORING, want, 1);
	expect_conflicts(b, A, want_missing, 1);
	free(b);
}

static void test_conflict_id(void **state)
{
	static const char *const want[] = {"\"id\" \"Prospect ID\" in a.json, absent in b.json"};
	char *a1 = replace(B, "\"fedlead_schema\": 1,",
	                   "\"fedlead_schema\": 1, \"id\": \"Prospect ID\",");
	char *a = replace(a1, "\"Lead Number\", \"Prospect ID\"", "\"Lead Number\"");

	(void)state;
	expect_conflicts(a, B, want, 1);
	free(a1);
	free(a);
}

/* Keys this version does not know (another partner's newer draft): carried
 * when every draft says the same, a conflict when they differ or one lacks
 * it, at the top, on a feature, and on a feature of a type this version
 * does not know. */
static const char HEAD[] =
        "{\"fedlead_schema\": 1%s,\n"
        " \"label\": {\"column\": \"y\", \"positive\": \"yes\", \"negative\": \"no\"},\n"
        " \"features\": [{\"name\": \"Lead Source\", \"type\": \"categorical\", \"values\": "
        "[\"a\"]%s}, %s],\n"
        " \"ignore\": []}\n";

static void unknown_case(const char *top_a, const char *feat_a, const char *other_a,
                         const char *top_b, const char *feat_b, const char *other_b,
                         struct fl_schema_merge_result *res, int want)
{
	char a[1024], b[1024];

	snprintf(a, sizeof(a), HEAD, top_a, feat_a, other_a);
	snprintf(b, sizeof(b), HEAD, top_b, feat_b, other_b);
	merge2(a, b, res, want);
}

#define NUM "{\"name\": \"v\", \"type\": \"numeric\"}"

static void test_unknown_keys(void **state)
{
	static const char *const want_feat[] = {
	        "features \"Lead Source\": \"case\" \"fold\" in a.json, absent in b.json",
	};
	static const char *const want_date[] = {
	        "features \"Created\": \"format\" \"%Y-%m-%d\" in a.json, \"%d/%m/%Y\" in b.json",
	};
	struct fl_schema_merge_result res;

	(void)state;
	unknown_case("", ", \"case\": \"fold\"", NUM, "", "", NUM, &res, FL_ERR_SCHEMA);
	assert_int_equal(res.n_conflicts, 1);
	assert_string_equal(res.conflicts[0], want_feat[0]);
	fl_schema_merge_result_free(&res);

	unknown_case("", "",
	             "{\"name\": \"Created\", \"type\": \"date\", \"format\": \"%Y-%m-%d\", "
	             "\"reference\": \"2026-01-01\"}",
	             "", "",
	             "{\"name\": \"Created\", \"type\": \"date\", \"format\": \"%d/%m/%Y\", "
	             "\"reference\": \"2026-01-01\"}",
	             &res, FL_ERR_SCHEMA);
	assert_int_equal(res.n_conflicts, 1);
	assert_string_equal(res.conflicts[0], want_date[0]);
	fl_schema_merge_result_free(&res);

	/* The same unknown key everywhere is carried into the merged schema,
	 * which this version's parser then judges: it reaches the parser. */
	unknown_case(", \"x_future\": {\"k\": [1, 2]}", ", \"x_case\": \"fold\"", NUM,
	             ", \"x_future\": {\"k\": [1, 2]}", ", \"x_case\": \"fold\"", NUM, &res,
	             FL_ERR_SCHEMA);
	assert_int_equal(res.n_conflicts, 0);
	assert_string_equal(fl_errmsg(), "the merged schema: unknown key \"x_future\"");
	fl_schema_merge_result_free(&res);
	unknown_case("", ", \"x_case\": \"fold\"", NUM, "", ", \"x_case\": \"fold\"", NUM, &res,
	             FL_ERR_SCHEMA);
	assert_int_equal(res.n_conflicts, 0);
	assert_string_equal(fl_errmsg(),
	                    "the merged schema: feature \"Lead Source\": unknown key \"x_case\"");
	fl_schema_merge_result_free(&res);
}

/* Placeholders are united (a partner's "Select" means no value wherever it
 * occurs), once each as they match (equal spellings: the first in byte
 * order, whatever the drafts' order); a date's reference is the latest, with
 * a note, and its clip the widest. */
static void expect_json(json_t *v, const char *want)
{
	char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_placeholders_and_dates(void **state)
{
	struct fl_schema_merge_result res;
	struct fl_schema *s = NULL;
	json_t *root, *f;

	(void)state;
	unknown_case(", \"missing_values\": [\"Select\"]", ", \"missing_values\": [\"-\"]",
	             "{\"name\": \"Created\", \"type\": \"date\", \"format\": \"dmy\", "
	             "\"reference\": \"2026-01-01\", \"clip\": [0, 300]}",
	             ", \"missing_values\": [\"n/a\", \"SELECT\"]", "",
	             "{\"name\": \"Created\", \"type\": \"date\", \"format\": \"dmy\", "
	             "\"reference\": \"2026-03-01\", \"clip\": [0, 500], \"missing\": \"impute\"}",
	             &res, 0);
	assert_int_equal(res.n_conflicts, 0);
	assert_int_equal(fl_schema_parse(res.json, strlen(res.json), "merged", &s), 0);
	assert_non_null(root = json_loads(res.json, 0, NULL));
	expect_json(json_object_get(root, "missing_values"), "[\"n/a\",\"SELECT\"]");
	f = json_array_get(json_object_get(root, "features"), 0);
	expect_json(json_object_get(f, "missing_values"), "[\"-\"]");
	f = json_array_get(json_object_get(root, "features"), 1);
	assert_string_equal(json_string_value(json_object_get(f, "reference")), "2026-03-01");
	assert_string_equal(json_string_value(json_object_get(f, "missing")), "error");
	assert_true(json_number_value(json_array_get(json_object_get(f, "clip"), 1)) == 500);
	assert_int_equal(res.n_notes, 2);
	assert_string_equal(res.notes[1], "features \"Created\": reference 2026-03-01, the latest "
	                                  "(from b.json): ages count from there at every partner");
	json_decref(root);
	fl_schema_free(s);
	fl_schema_merge_result_free(&res);
}

static void test_bad_draft(void **state)
{
	const char *j[] = {A, "{\"fedlead_schema\": 1}"}, *names[] = {"a.json", "b.json"};
	struct fl_schema_merge_result res;

	(void)state;
	fl_err_clear();
	assert_int_equal(merge(j, names, 2, &res), FL_ERR_SCHEMA);
	assert_null(res.json);
	assert_string_equal(fl_errmsg(), "b.json: \"label\" must be an object with \"column\", "
	                                 "\"positive\" and \"negative\"");
	fl_schema_merge_result_free(&res);
	assert_int_equal(fl_schema_merge(NULL, 0, &res), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "no drafts to merge");
}

/* The schema round's k: values seen fewer than min_count times are left out
 * of the draft, and a categorical column left with none is ignored. */
static void test_draft_min_count(void **state)
{
	char path[] = "/tmp/fl_test_schema_merge_XXXXXX";
	struct fl_schema_draft_opts o = {.label = "won", .min_count = 3};
	struct fl_schema *s = NULL;
	char *json = NULL;
	FILE *fp;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	/* src: "web" 3 times, "fair" 2, "call" once; rare: 2 values twice
	 * each; n: numeric. */
	fputs("src,rare,n,won\n"
	      "web,a,1,yes\nweb,a,2,no\nweb,b,3,yes\nfair,b,4,no\nfair,c,5,yes\n"
	      "call,c,6,no\n",
	      fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(fl_schema_draft_opts(path, &o, &json), 0);
	assert_int_equal(fl_schema_parse(json, strlen(json), "draft", &s), 0);
	assert_int_equal(s->n_features, 2);
	assert_string_equal(s->features[0].name, "src");
	assert_int_equal(s->features[0].n_values, 1);
	assert_string_equal(s->features[0].values[0], "web");
	assert_string_equal(s->features[1].name, "n");
	assert_int_equal(s->n_ignore, 1);
	assert_string_equal(s->ignore[0], "rare");
	assert_null(strstr(json, "fair"));
	assert_null(strstr(json, "call"));
	fl_schema_free(s);
	free(json);
	/* min_count 2 keeps "fair" and every value of "rare"; 0 keeps all. */
	o.min_count = 2;
	assert_int_equal(fl_schema_draft_opts(path, &o, &json), 0);
	assert_int_equal(fl_schema_parse(json, strlen(json), "draft", &s), 0);
	assert_int_equal(s->features[0].n_values, 2);
	assert_int_equal(s->features[1].n_values, 3);
	fl_schema_free(s);
	free(json);
	o.min_count = 0;
	assert_int_equal(fl_schema_draft_opts(path, &o, &json), 0);
	assert_int_equal(fl_schema_parse(json, strlen(json), "draft", &s), 0);
	assert_int_equal(s->features[0].n_values, 3);
	fl_schema_free(s);
	free(json);
	unlink(path);
}

/* Transform keys (issue "Explainable non-linear effects"): drafts that
 * agree keep them, as written; drafts that differ are conflicts a person
 * settles, since the knots and special values are part of the contract. */
static void test_transforms(void **state)
{
	static const char *const want[] = {
	        "features \"Visits\": \"knots\" 5 in a.json, 7 in b.json",
	        "features \"Visits\": \"special\" [-1] in a.json, absent in b.json",
	};
	const char *spline = "\"clip\": [0, 25], \"decimal\": \",\", \"transform\": "
	                     "\"spline\", \"knots\": 5, \"special\": [-1]";
	char *a = replace(A, "\"clip\": [0, 25], \"decimal\": \",\"", spline);
	char *b = replace(A, "\"clip\": [0, 25], \"decimal\": \",\"",
	                  "\"clip\": [0, 25], \"transform\": \"spline\", \"knots\": 7");
	struct fl_schema_merge_result res;
	struct fl_schema *s = NULL;
	json_t *root, *f;

	(void)state;
	merge2(a, a, &res, 0);
	assert_int_equal(res.n_conflicts, 0);
	assert_int_equal(fl_schema_parse(res.json, strlen(res.json), "merged", &s), 0);
	assert_non_null(root = json_loads(res.json, 0, NULL));
	f = json_array_get(json_object_get(root, "features"), 1);
	assert_string_equal(json_string_value(json_object_get(f, "transform")), "spline");
	expect_json(json_object_get(f, "knots"), "5");
	expect_json(json_object_get(f, "special"), "[-1]");
	json_decref(root);
	fl_schema_free(s);
	fl_schema_merge_result_free(&res);

	expect_conflicts(a, b, want, 2);
	assert_string_equal(fl_errmsg(),
	                    "the drafts disagree on 2 points: edit one draft so that they agree, "
	                    "then merge again");
	free(a);
	free(b);
}

/* The schema round's drafts (FL_MERGE_TRANSFORMS): a partner's draft
 * of three numeric columns, each with the transform and clip given (NULL:
 * none, as a node sends a column it proposes no transform for). */
static char *round_draft(const char *visits, const char *rooms, const char *spend)
{
	char *s = NULL;
	const char *cols[3] = {visits, rooms, spend}, *names[3] = {"Visits", "Rooms", "Spend"};
	size_t len = 0;
	FILE *fp = open_memstream(&s, &len);

	assert_non_null(fp);
	fprintf(fp, "{\"fedlead_schema\": 1, \"label\": {\"column\": \"Converted\", \"positive\": "
	            "\"1\", \"negative\": \"0\"}, \"features\": [");
	for (int i = 0; i < 3; i++)
		fprintf(fp,
		        "%s{\"name\": \"%s\", \"type\": \"numeric\", \"missing\": \"impute\"%s%s}",
		        i ? ", " : "", names[i], cols[i] ? ", " : "", cols[i] ? cols[i] : "");
	fprintf(fp, "]}");
	fclose(fp);
	return s;
}

/* The schema round's merge of drafts d from p1, p2 and p3 into *res (in
 * holds the inputs): no conflict, and exactly the n notes want. */
static void merge_round3(char *d[3], struct fl_schema_merge_input in[3],
                         struct fl_schema_merge_result *res, const char *const *want, size_t n)
{
	static const char *const ids[] = {"p1", "p2", "p3"};

	for (int i = 0; i < 3; i++)
		in[i] = (struct fl_schema_merge_input){ids[i], d[i], strlen(d[i])};
	assert_int_equal(fl_schema_merge_opts(in, 3, FL_MERGE_TRANSFORMS, res), 0);
	assert_int_equal(res->n_conflicts, 0);
	assert_int_equal(res->n_notes, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(res->notes[i], want[i]);
}

/* A schema round draft with the calendar date read from "month" and "day"
 * listing the dates given (a JSON array's inside). */
static char *date_draft(const char *dates)
{
	char *s = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&s, &len);

	assert_non_null(fp);
	fprintf(fp,
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": "
	        "\"yes\", \"negative\": \"no\"}, \"features\": [{\"name\": \"month day\", "
	        "\"type\": \"categorical\", \"columns\": [\"month\", \"day\"], \"values\": "
	        "[%s], \"other\": true}]}",
	        dates);
	fclose(fp);
	return s;
}

/*
 * A feature read from several columns keeps, in the schema round, only the
 * values every partner's draft lists (each partner lists the dates it holds
 * k times or more; a date another partner holds fewer times would make it
 * refuse the schema), with a note; none in common is a conflict. A merge
 * outside the round keeps the union.
 */
static void test_joined_values_every_partner(void **state)
{
	char *d[3] = {date_draft("\"may 5\", \"may 6\", \"jun 1\""),
	              date_draft("\"jun 1\", \"may 5\""),
	              date_draft("\"may 5\", \"jul 2\", \"jun 1\"")};
	static const char *const want[] = {
	        "features \"month day\": 2 values listed by every partner, 2 by some only (read "
	        "as \"(other)\")"};
	struct fl_schema_merge_input in[3];
	struct fl_schema_merge_result res;
	struct fl_schema *s = NULL;

	(void)state;
	merge_round3(d, in, &res, want, 1);
	assert_int_equal(fl_schema_parse(res.json, strlen(res.json), "merged", &s), 0);
	assert_int_equal(s->features[0].n_values, 2);
	assert_string_equal(s->features[0].values[0], "jun 1");
	assert_string_equal(s->features[0].values[1], "may 5");
	fl_schema_free(s);
	fl_schema_merge_result_free(&res);

	/* Outside the round: the union of the four. */
	assert_int_equal(fl_schema_merge_opts(in, 3, 0, &res), 0);
	assert_int_equal(res.n_conflicts, 0);
	assert_int_equal(fl_schema_parse(res.json, strlen(res.json), "merged", &s), 0);
	assert_int_equal(s->features[0].n_values, 4);
	fl_schema_free(s);
	fl_schema_merge_result_free(&res);

	free(d[2]);
	d[2] = date_draft("\"jul 2\"");
	in[2] = (struct fl_schema_merge_input){"p3", d[2], strlen(d[2])};
	assert_int_not_equal(fl_schema_merge_opts(in, 3, FL_MERGE_TRANSFORMS, &res), 0);
	assert_int_equal(res.n_conflicts, 1);
	assert_string_equal(res.conflicts[0], "features \"month day\": no value is listed by "
	                                      "every partner (4 by some only)");
	fl_schema_merge_result_free(&res);
	for (int i = 0; i < 3; i++)
		free(d[i]);
}

/*
 * The federation's schema round merges transforms by majority: a spline
 * every partner proposed, with the union of their clip ranges; none for a
 * column one partner of three proposed one for; log1p where two of three
 * proposed it (the third a spline). Notes say who proposed what. The plain
 * merge keeps calling differing transforms conflicts (test_transforms).
 */
static void test_transform_majority(void **state)
{
	char *d[3] = {round_draft("\"transform\": \"spline\", \"knots\": 5, \"clip\": [0, 50]",
	                          "\"transform\": \"spline\", \"knots\": 5, \"clip\": [1, 4]",
	                          "\"transform\": \"log1p\", \"clip\": [0, 9000]"),
	              round_draft("\"transform\": \"spline\", \"knots\": 5, \"clip\": [-5, 40]",
	                          NULL, "\"transform\": \"log1p\", \"clip\": [10, 12000]"),
	              round_draft("\"transform\": \"spline\", \"knots\": 5, \"clip\": [10, 120]",
	                          NULL,
	                          "\"transform\": \"spline\", \"knots\": 5, \"clip\": [0, 99000]")};
	static const char *const want_notes[] = {
	        "features \"Visits\": spline proposed by p1, p2, p3; clip [-5, 120], the union of "
	        "their ranges",
	        "features \"Rooms\": no transform: spline proposed by p1, not a majority of the 3 "
	        "partners",
	        "features \"Spend\": log1p proposed by p1, p2, not by p3; clip [0, 12000], the "
	        "union "
	        "of their ranges",
	};
	struct fl_schema_merge_input in[3];
	struct fl_schema_merge_result res;
	struct fl_schema *s = NULL;
	json_t *root, *f;

	(void)state;
	merge_round3(d, in, &res, want_notes, 3);
	assert_int_equal(fl_schema_parse(res.json, strlen(res.json), "merged", &s), 0);
	fl_schema_free(s);
	assert_non_null(root = json_loads(res.json, 0, NULL));
	f = json_array_get(json_object_get(root, "features"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "transform")), "spline");
	expect_json(json_object_get(f, "knots"), "5");
	expect_json(json_object_get(f, "clip"), "[-5.0,120.0]");
	f = json_array_get(json_object_get(root, "features"), 1);
	assert_null(json_object_get(f, "transform"));
	assert_null(json_object_get(f, "knots"));
	assert_null(json_object_get(f, "clip"));
	f = json_array_get(json_object_get(root, "features"), 2);
	assert_string_equal(json_string_value(json_object_get(f, "transform")), "log1p");
	assert_null(json_object_get(f, "knots"));
	expect_json(json_object_get(f, "clip"), "[0.0,12000.0]");
	json_decref(root);
	fl_schema_merge_result_free(&res);

	/* The plain merge (fedlead-node schema merge): still conflicts. */
	assert_int_equal(fl_schema_merge(in, 3, &res), FL_ERR_SCHEMA);
	assert_true(res.n_conflicts > 0);
	fl_schema_merge_result_free(&res);
	for (int i = 0; i < 3; i++)
		free(d[i]);
}

/*
 * A partner with too few leads (or none sharing a bound's rounding)
 * proposes a transform without a clip range (the fourth privacy review's finding 1): the union is
 * of the ranges that were sent only, and with none sent the proposal has the transform and no
 * range, and says so.
 */
static void test_transform_without_clip(void **state)
{
	char *d[3] = {round_draft("\"transform\": \"spline\", \"knots\": 5, \"clip\": [3, 50]",
	                          "\"transform\": \"spline\", \"knots\": 5", NULL),
	              round_draft("\"transform\": \"spline\", \"knots\": 5",
	                          "\"transform\": \"spline\", \"knots\": 5", NULL),
	              round_draft("\"transform\": \"spline\", \"knots\": 5, \"clip\": [10, 120]",
	                          NULL, NULL)};
	static const char *const want_notes[] = {
	        "features \"Visits\": spline proposed by p1, p2, p3; clip [3, 120], the union of "
	        "their ranges",
	        "features \"Rooms\": spline proposed by p1, p2, not by p3; no clip range was sent: "
	        "add one before training, chosen from what the column means, not from any "
	        "partner's data (knots placed from the federation's data need it)",
	};
	struct fl_schema_merge_input in[3];
	struct fl_schema_merge_result res;
	json_t *root, *f;

	(void)state;
	merge_round3(d, in, &res, want_notes, 2);
	assert_non_null(root = json_loads(res.json, 0, NULL));
	f = json_array_get(json_object_get(root, "features"), 0);
	expect_json(json_object_get(f, "clip"), "[3.0,120.0]");
	f = json_array_get(json_object_get(root, "features"), 1);
	assert_string_equal(json_string_value(json_object_get(f, "transform")), "spline");
	assert_null(json_object_get(f, "clip"));
	json_decref(root);
	fl_schema_merge_result_free(&res);
	for (int i = 0; i < 3; i++)
		free(d[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_union),
	        cmocka_unit_test(test_union_order),
	        cmocka_unit_test(test_single),
	        cmocka_unit_test(test_conflict_type),
	        cmocka_unit_test(test_conflict_label),
	        cmocka_unit_test(test_conflict_ignore),
	        cmocka_unit_test(test_conflict_id),
	        cmocka_unit_test(test_unknown_keys),
	        cmocka_unit_test(test_placeholders_and_dates),
	        cmocka_unit_test(test_bad_draft),
	        cmocka_unit_test(test_draft_min_count),
	        cmocka_unit_test(test_transforms),
	        cmocka_unit_test(test_transform_majority),
	        cmocka_unit_test(test_joined_values_every_partner),
	        cmocka_unit_test(test_transform_without_clip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
