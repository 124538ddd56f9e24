/*
 * Tests for the draft's decisions (src/core/schema_draft.c) and the schema
 * keys they write: placeholders ("missing_values"), "case": "fold", number
 * formats, IDs, constant columns, min_count and the decision table, with the
 * exact text a person reads; and how the encoder treats placeholders and
 * folded values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedlead/csv.h"
#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/schema.h"

#include "support/schema_parse.h"

#define ORIGIN "t.json"

static void write_tmp(char path[64], const char *bytes, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/fl_test_draft_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

#define parse_ok(json) schema_parse_ok((json), ORIGIN)
#define expect_error(json, msg) schema_parse_refused((json), ORIGIN, (msg))

/* A schema with one numeric and one categorical feature; %s is spliced in
 * at the top level, %s into the numeric feature and %s into the
 * categorical one. */
static char *schema_text(const char *top, const char *num, const char *cat)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
	         "{\"fedlead_schema\": 1, %s\"label\": {\"column\": \"y\", \"positive\": \"yes\", "
	         "\"negative\": \"no\"}, \"features\": ["
	         "{\"name\": \"visits\", \"type\": \"numeric\", \"missing\": \"impute\"%s},"
	         "{\"name\": \"source\", \"type\": \"categorical\", \"values\": [\"Google\", "
	         "\"Direct\"], \"other\": true%s}]}",
	         top, num, cat);
	return buf;
}

/* ---- parsing, canonical form, fingerprint ---- */

static void test_parse_and_canonical(void **state)
{
	struct fl_schema *plain, *s;
	char hex[65];

	(void)state;
	plain = parse_ok(schema_text("", "", ""));
	/* Not set, or set to nothing: the canonical form (and fingerprint) of a
	 * schema without the keys. */
	s = parse_ok(schema_text("\"missing_values\": [], ", ", \"missing_values\": []",
	                         ", \"case\": \"exact\""));
	assert_string_equal(s->canonical, plain->canonical);
	assert_memory_equal(s->fingerprint, plain->fingerprint, FL_FINGERPRINT_LEN);
	assert_null(strstr(plain->canonical, "missing_values"));
	assert_null(strstr(plain->canonical, "case"));
	fl_schema_free(s);

	/* Set: in the canonical form, trimmed, in lower case and sorted, so
	 * that lists that match the same texts have one fingerprint. */
	s = parse_ok(schema_text("\"missing_values\": [\"Select\", \" N/A \"], ",
	                         ", \"missing_values\": [\"unknown\", \"-\"]",
	                         ", \"case\": \"fold\", \"missing_values\": [\"?\"]"));
	assert_int_equal(s->n_missing_values, 2);
	assert_string_equal(s->missing_values[0], "Select");
	assert_string_equal(s->missing_values[1], " N/A ");
	assert_int_equal(s->features[0].n_missing_values, 2);
	assert_true(s->features[1].fold);
	assert_false(s->features[0].fold);
	assert_string_equal(
	        s->canonical,
	        "{\"features\":[{\"missing\":\"impute\",\"missing_values\":[\"-\",\"unknown\"],"
	        "\"name\":\"visits\",\"type\":\"numeric\"},{\"case\":\"fold\","
	        "\"missing_values\":[\"?\"],\"name\":\"source\",\"other\":true,\"type\":"
	        "\"categorical\",\"values\":[\"Google\",\"Direct\"]}],\"fedlead_schema\":1,"
	        "\"id\":null,\"ignore\":[],\"label\":{\"column\":\"y\",\"negative\":\"no\","
	        "\"positive\":\"yes\"},\"missing_values\":[\"n/a\",\"select\"]}");
	fl_schema_fingerprint_hex(s, hex);
	assert_memory_not_equal(s->fingerprint, plain->fingerprint, FL_FINGERPRINT_LEN);
	fl_schema_free(s);

	/* The same lists written otherwise: the same fingerprint. */
	{
		struct fl_schema *a = parse_ok(schema_text("\"missing_values\": [\"select\", "
		                                           "\"n/a\"], ",
		                                           ", \"missing_values\": [\"-\", "
		                                           "\"UNKNOWN\"]",
		                                           ", \"missing_values\": [\"?\"], "
		                                           "\"case\": \"fold\""));
		char hex2[65];

		fl_schema_fingerprint_hex(a, hex2);
		assert_string_equal(hex, hex2);
		fl_schema_free(a);
	}
	/* Each key alone changes the fingerprint. */
	s = parse_ok(schema_text("", "", ", \"case\": \"fold\""));
	assert_memory_not_equal(s->fingerprint, plain->fingerprint, FL_FINGERPRINT_LEN);
	fl_schema_free(s);
	s = parse_ok(schema_text("\"missing_values\": [\"Select\"], ", "", ""));
	assert_memory_not_equal(s->fingerprint, plain->fingerprint, FL_FINGERPRINT_LEN);
	fl_schema_free(s);
	fl_schema_free(plain);
}

static void test_parse_errors(void **state)
{
	char long_value[80], *text, many[1024];
	size_t k;

	(void)state;
	expect_error(schema_text("\"missing_values\": \"Select\", ", "", ""),
	             "t.json: missing_values: must be an array of strings");
	expect_error(schema_text("\"missing_values\": [\"NA\", \"Select\", \" na\"], ", "", ""),
	             "t.json: missing_values: \" na\" and \"NA\" are the same placeholder "
	             "(compared trimmed, in any case)");
	expect_error(schema_text("", ", \"missing_values\": [\"-\", 3]", ""),
	             "t.json: features[0].missing_values[1] (feature \"visits\"): must be a "
	             "non-blank string of at most 64 bytes");
	expect_error(schema_text("", "", ", \"missing_values\": [\"  \"]"),
	             "t.json: features[1].missing_values[0] (feature \"source\"): must be a "
	             "non-blank string of at most 64 bytes");
	memset(long_value, 'x', 65);
	long_value[65] = '\0';
	text = malloc(4096);
	assert_non_null(text);
	snprintf(text, 4096, ", \"missing_values\": [\"%s\"]", long_value);
	expect_error(schema_text("", text, ""),
	             "t.json: features[0].missing_values[0] (feature \"visits\"): must be a "
	             "non-blank string of at most 64 bytes");
	free(text);
	k = (size_t)snprintf(many, sizeof(many), "\"missing_values\": [");
	for (int i = 0; i < 65; i++)
		k += (size_t)snprintf(many + k, sizeof(many) - k, "%s\"p%d\"", i ? "," : "", i);
	snprintf(many + k, sizeof(many) - k, "], ");
	expect_error(schema_text(many, "", ""), "t.json: missing_values: more than 64 values");
	/* A listed value that is a placeholder could never be encoded as
	 * itself. */
	expect_error(schema_text("\"missing_values\": [\"google\"], ", "", ""),
	             "t.json: features[1].values[0] (feature \"source\"): \"Google\" is also a "
	             "missing value (in \"missing_values\")");
	expect_error(schema_text("", "", ", \"case\": \"lower\""),
	             "t.json: features[1].case (feature \"source\"): unknown value \"lower\" "
	             "(expected \"fold\" or \"exact\")");
	expect_error(schema_text("", ", \"case\": \"fold\"", ""),
	             "t.json: features[0].case (feature \"visits\"): \"case\" applies to "
	             "categorical features only");
	expect_error(
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": \"yes\", "
	        "\"negative\": \"no\"}, \"features\": [{\"name\": \"source\", \"type\": "
	        "\"categorical\", \"case\": \"fold\", \"values\": [\"Google\", \"Direct\", "
	        "\" google\"]}]}",
	        "t.json: features[0].values (feature \"source\"): \" google\" and \"Google\" "
	        "are the same value under \"case\": \"fold\"");
}

/* ---- encoding ---- */

struct bound {
	struct fl_csv *csv;
	struct fl_binding *b;
	size_t n_extra;
};

/* Encodes every row of csv text under the schema into X (rows of s->dim),
 * also recording which features are unseen and missing. */
static void encode_all(const struct fl_schema *s, const char *csv, size_t n_rows, double *X,
                       int *unseen, int *missing)
{
	struct fl_csv *c;
	struct fl_binding *b;
	struct fl_csv_record rec;
	char path[64];
	size_t n_extra;
	double y;

	write_tmp(path, csv, strlen(csv));
	assert_int_equal(fl_csv_open(path, &c), 0);
	assert_int_equal(fl_csv_next(c, &rec), 1);
	assert_int_equal(fl_binding_new(s, c, &rec, 1, &b, &n_extra), 0);
	for (size_t i = 0; i < n_rows; i++) {
		assert_int_equal(fl_csv_next(c, &rec), 1);
		if (fl_encode_row(b, &rec, X + i * s->dim, &y, NULL) != 0)
			fail_msg("row %zu: %s", i + 1, fl_errmsg());
		for (size_t f = 0; f < s->n_features; f++) {
			unseen[i * s->n_features + f] =
			        fl_encode_unseen(b, &rec, X + i * s->dim, f);
			missing[i * s->n_features + f] = fl_encode_missing(b, &rec, f);
		}
	}
	fl_binding_free(b);
	fl_csv_free(c);
	unlink(path);
}

static int same_row(const double *a, const double *b, size_t dim)
{
	for (size_t j = 0; j < dim; j++)
		if (!(a[j] == b[j] || (isnan(a[j]) && isnan(b[j]))))
			return 0;
	return 1;
}

static void test_encode_placeholders_and_fold(void **state)
{
	/* Row 1 has empty fields; rows 2 to 4 placeholders in other spellings
	 * and blanks; row 5 a value in another case; row 6 an unseen value. */
	static const char csv[] = "visits,source,y\n"
	                          ",,yes\n"
	                          "Select,N/A,no\n"
	                          "\" n/a \",\" select\",yes\n"
	                          "-,?,no\n"
	                          "3,\" GOOGLE \",yes\n"
	                          "4,Brand new,no\n";
	struct fl_schema *s = parse_ok(schema_text("\"missing_values\": [\"Select\", \"N/A\"], ",
	                                           ", \"missing_values\": [\"-\"]",
	                                           ", \"case\": \"fold\", \"missing_values\": "
	                                           "[\"?\"]"));
	double X[6 * 6];
	int unseen[12], missing[12];

	(void)state;
	/* intercept, visits, visits (missing), Google, Direct, (other) */
	assert_int_equal(s->dim, 6);
	encode_all(s, csv, 6, X, unseen, missing);
	assert_true(isnan(X[1]) && X[2] == 1 && X[5] == 1 && X[3] == 0 && X[4] == 0);
	for (size_t i = 1; i < 4; i++)
		if (!same_row(X + i * 6, X, 6))
			fail_msg("row %zu is not encoded as the row of empty fields", i + 1);
	for (size_t i = 0; i < 4; i++) {
		assert_true(missing[2 * i] && missing[2 * i + 1]);
		assert_false(unseen[2 * i] || unseen[2 * i + 1]);
	}
	/* " GOOGLE " is Google under fold, and not unseen. */
	assert_true(X[4 * 6 + 1] == 3 && X[4 * 6 + 2] == 0 && X[4 * 6 + 3] == 1 &&
	            X[4 * 6 + 5] == 0);
	assert_false(unseen[9] || missing[9]);
	/* A value the schema does not list is unseen (not missing). */
	assert_true(X[5 * 6 + 5] == 1);
	assert_true(unseen[11]);
	assert_false(missing[11]);
	fl_schema_free(s);
}

/* Under fold an empty field is missing, even where a listed value of blanks
 * folds to "" too; a field of blanks is that value. */
static void test_encode_fold_empty_field(void **state)
{
	static const char csv[] = "tag,y\n"
	                          ",yes\n"
	                          "\"   \",no\n"
	                          "A,yes\n";
	struct fl_schema *s = parse_ok(
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": \"yes\", "
	        "\"negative\": \"no\"}, \"features\": [{\"name\": \"tag\", \"type\": "
	        "\"categorical\", \"case\": \"fold\", \"values\": [\"  \", \"a\"], \"other\": "
	        "true}]}");
	double X[3 * 4];
	int unseen[3], missing[3];

	(void)state;
	encode_all(s, csv, 3, X, unseen, missing);
	/* intercept, "  ", a, (other) */
	assert_true(X[1] == 0 && X[2] == 0 && X[3] == 1);
	assert_true(missing[0] && !unseen[0]);
	assert_true(X[4 + 1] == 1 && X[4 + 3] == 0);
	assert_true(X[8 + 2] == 1 && X[8 + 3] == 0);
	assert_false(missing[2] || unseen[2]);
	fl_schema_free(s);
}

static void test_encode_placeholder_errors(void **state)
{
	static const char num[] = "visits,source,y\nSelect,Google,yes\n";
	static const char cat[] = "visits,source,y\n1,n/a,yes\n";
	struct fl_schema *s;
	struct fl_csv *c;
	struct fl_binding *b;
	struct fl_csv_record rec;
	char path[64], msg[256];
	size_t n_extra;
	double x[8], y;

	(void)state;
	/* missing=error and other=false: a placeholder is refused as an empty
	 * field is, and says it is a placeholder. */
	s = parse_ok(
	        "{\"fedlead_schema\": 1, \"missing_values\": [\"select\", \"N/A\"], \"label\": "
	        "{\"column\": \"y\", \"positive\": \"yes\", \"negative\": \"no\"}, "
	        "\"features\": [{\"name\": \"visits\", \"type\": \"numeric\"}, {\"name\": "
	        "\"source\", \"type\": \"categorical\", \"values\": [\"Google\"]}]}");
	write_tmp(path, num, strlen(num));
	assert_int_equal(fl_csv_open(path, &c), 0);
	assert_int_equal(fl_csv_next(c, &rec), 1);
	assert_int_equal(fl_binding_new(s, c, &rec, 1, &b, &n_extra), 0);
	assert_int_equal(fl_csv_next(c, &rec), 1);
	assert_int_equal(fl_encode_row(b, &rec, x, &y, NULL), FL_ERR_DATA);
	snprintf(msg, sizeof(msg),
	         "%s:2:1: column \"visits\": \"Select\" is a missing value (in "
	         "\"missing_values\"), and the schema says missing=error",
	         path);
	assert_string_equal(fl_errmsg(), msg);
	fl_binding_free(b);
	fl_csv_free(c);
	unlink(path);

	write_tmp(path, cat, strlen(cat));
	assert_int_equal(fl_csv_open(path, &c), 0);
	assert_int_equal(fl_csv_next(c, &rec), 1);
	assert_int_equal(fl_binding_new(s, c, &rec, 1, &b, &n_extra), 0);
	assert_int_equal(fl_csv_next(c, &rec), 1);
	assert_int_equal(fl_encode_row(b, &rec, x, &y, NULL), FL_ERR_DATA);
	snprintf(msg, sizeof(msg),
	         "%s:2:2: column \"source\": missing value (no \"other\" category)", path);
	assert_string_equal(fl_errmsg(), msg);
	fl_binding_free(b);
	fl_csv_free(c);
	unlink(path);
	fl_schema_free(s);
}

/* ---- the draft ---- */

/* The leads file of the decision tests: 60 rows, written here so that each
 * column's values are plain to see. */
static char *decisions_csv(char delim)
{
	char *buf = malloc(64 * 1024);
	size_t k = 0;
	char d = delim;

	assert_non_null(buf);
	k += (size_t)sprintf(buf + k,
	                     "Lead Number%cEmail%cMagazine%cDo Not Call%cLead Source%cCity%c"
	                     "Visits%cRevenue%cRate%cCost%cBudget%cStatus\n",
	                     d, d, d, d, d, d, d, d, d, d, d);
	for (int i = 0; i < 60; i++) {
		static const char *const source[] = {"Google", "google",   "Direct Traffic",
		                                     "Select", "Referral", "Google"};
		static const char *const city[] = {"Mumbai", "Thane", "N/A", ""};
		char visits[16], revenue[32];
		int rev = 500 + 250 * i;

		if (i % 5 == 4)
			snprintf(visits, sizeof(visits), "unknown");
		else
			snprintf(visits, sizeof(visits), "%d", i % 7);
		if (rev >= 1000)
			snprintf(revenue, sizeof(revenue), "\"$%d,%03d\"", rev / 1000, rev % 1000);
		else
			snprintf(revenue, sizeof(revenue), "$%d", rev);
		k += (size_t)sprintf(
		        buf + k,
		        "%d%clead%d@example.com%cNo%c%s%c%s%c%s%c%s%c%s%c\"\xE2\x82\xAC %d,%02d\"%c"
		        "%d.50 EUR%c$%dk%c%s\n",
		        1000 + i, d, i, d, d, i % 3 == 0 ? "Yes" : "", d,
		        i == 7 ? "\" Google \"" : source[i % 6], d,
		        i % 8 == 3 ? "n/a" : city[i % 4], d, visits, d, revenue, d, i % 20 + 1,
		        (i * 7) % 100, d, i % 9 + 10, d, i % 3 + 5, d,
		        i % 3 == 0 ? "Converted" : "Not Converted");
	}
	return buf;
}

static json_t *feature_json(json_t *root, const char *name)
{
	json_t *f;
	size_t i;

	json_array_foreach(json_object_get(root, "features"), i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
			return f;
	}
	return NULL;
}

/* The feature as compact JSON with sorted keys, to compare whole. */
static char *feature_text(json_t *root, const char *name)
{
	json_t *f = feature_json(root, name);

	if (f == NULL)
		fail_msg("no feature \"%s\"", name);
	return json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
}

static void expect_feature(json_t *root, const char *name, const char *want)
{
	char *got = feature_text(root, name);

	assert_string_equal(got, want);
	free(got);
}

static void test_draft_decisions(void **state)
{
	char *csv = decisions_csv(','), path[64], *json = NULL, *table = NULL;
	struct fl_schema_draft_opts o = {.label = "Status", .table = &table, .transforms = 1};
	struct fl_schema *s;
	json_t *root, *ign;
	json_error_t jerr;

	(void)state;
	write_tmp(path, csv, strlen(csv));
	if (fl_schema_draft_opts(path, &o, &json) != 0)
		fail_msg("draft failed: %s", fl_errmsg());
	assert_non_null(root = json_loads(json, 0, &jerr));
	/* It is a schema. */
	assert_int_equal(fl_schema_parse(json, strlen(json), ORIGIN, &s), 0);
	assert_string_equal(s->positive, "Converted");
	fl_schema_free(s);

	ign = json_object_get(root, "ignore");
	assert_int_equal(json_array_size(ign), 4);
	assert_string_equal(json_string_value(json_array_get(ign, 0)), "Lead Number");
	assert_string_equal(json_string_value(json_array_get(ign, 1)), "Email");
	assert_string_equal(json_string_value(json_array_get(ign, 2)), "Magazine");
	assert_string_equal(json_string_value(json_array_get(ign, 3)), "Do Not Call");
	/* Google (21 rows, one of them " Google "), google (10): folded,
	 * spelled as most rows spell it; "Select" is missing. */
	expect_feature(root, "Lead Source",
	               "{\"case\":\"fold\",\"missing_values\":[\"Select\"],\"name\":\"Lead "
	               "Source\",\"other\":true,\"type\":\"categorical\",\"values\":[\"Direct "
	               "Traffic\",\"Google\",\"Referral\"]}");
	/* "N/A" (15) and "n/a" (8) are one placeholder, listed as first
	 * written. */
	expect_feature(root, "City",
	               "{\"missing_values\":[\"N/A\"],\"name\":\"City\",\"other\":true,\"type\":"
	               "\"categorical\",\"values\":[\"Mumbai\",\"Thane\"]}");
	/* Numbers with a placeholder are numbers: 0 to 6, "unknown" imputed. */
	expect_feature(
	        root, "Visits",
	        "{\"clip\":[0.0,6.0],\"missing\":\"impute\",\"missing_values\":[\"unknown\"],"
	        "\"name\":\"Visits\",\"type\":\"numeric\"}");
	/* $500 to $15,250: the clip is their minimum and maximum rounded
	 * outward to two significant digits; 60 distinct values (at least
	 * 10) make a spline. */
	expect_feature(root, "Revenue",
	               "{\"clip\":[500.0,16000.0],\"currency\":\"$\",\"knots\":5,\"missing\":"
	               "\"error\",\"name\":\"Revenue\",\"thousands\":\",\",\"transform\":"
	               "\"spline\",\"type\":\"numeric\"}");
	/* € 1,00 to € 20,73, 60 distinct values */
	expect_feature(root, "Rate",
	               "{\"clip\":[1.0,21.0],\"currency\":\"\xE2\x82\xAC\",\"decimal\":\",\","
	               "\"knots\":5,\"missing\":\"error\",\"name\":\"Rate\",\"transform\":"
	               "\"spline\",\"type\":\"numeric\"}");
	/* 10.50 EUR to 18.50 EUR: 9 distinct values stay linear */
	expect_feature(root, "Cost",
	               "{\"clip\":[10.0,19.0],\"currency\":\"EUR\",\"missing\":\"error\","
	               "\"name\":\"Cost\",\"type\":\"numeric\"}");
	/* "$5k" is not a number. */
	expect_feature(root, "Budget",
	               "{\"name\":\"Budget\",\"other\":true,\"type\":\"categorical\",\"values\":["
	               "\"$5k\",\"$6k\",\"$7k\"]}");

	/* Visits (7 distinct values) and Cost (9) stay linear; Revenue and
	 * Rate (60 each) get splines. */
	assert_string_equal(
	        table, "column       kind         why                                             "
	               "                                                                          "
	               "                   check\n"
	               "Lead Number  ignore       nearly unique (60 distinct values in 60 rows): l"
	               "ooks like an ID                                                           "
	               "                   check: not a feature (an ID goes in --id)\n"
	               "Email        ignore       nearly unique (60 distinct values in 60 rows): l"
	               "ooks like an ID                                                           "
	               "                   check: not a feature (an ID goes in --id)\n"
	               "Magazine     ignore       constant: every value is \"No\"                 "
	               "                                                                          "
	               "                     check: not a feature\n"
	               "Do Not Call  ignore       one value (\"Yes\"), otherwise empty or a placeh"
	               "older (40 rows)                                                           "
	               "                     check: does an empty field mean something? then make "
	               "it a feature\n"
	               "Lead Source  categorical  3 values; case folded (\"Google\" in 2 spellings"
	               "); blanks around values trimmed; missing (to other): \"Select\" (10)      "
	               "                       check: the values; are the placeholders no answer?"
	               "\n"
	               "City         categorical  2 values; missing (to other): 7 empty, \"N/A\" ("
	               "23)                                                                       "
	               "                     check: the values; are the placeholders no answer?\n"
	               "Visits       numeric      numbers, clip [0, 6]; linear: 7 distinct values,"
	               " fewer than 10; missing (imputed): \"unknown\" (12)                       "
	               "                     check: the clip range; are the placeholders no answer"
	               "?\n"
	               "Revenue      numeric      numbers, clip [500, 16000]; spline, 5 knots at t"
	               "he training data's quantiles (60 distinct values); written with thousands "
	               "\",\", currency \"$\"  check: assumed \",\" separates thousands, else set "
	               "\"decimal\": \",\"; the clip range; the transform\n"
	               "Rate         numeric      numbers, clip [1, 21]; spline, 5 knots at the tr"
	               "aining data's quantiles (60 distinct values); written with decimal \",\", "
	               "currency \"\xE2\x82\xAC"
	               "\"         check: the number format; the clip ra"
	               "nge; the transform\n"
	               "Cost         numeric      numbers, clip [10, 19]; linear: 9 distinct value"
	               "s, fewer than 10; written with currency \"EUR\"                           "
	               "                     check: the number format; the clip range\n"
	               "Budget       categorical  3 values                                        "
	               "                                                                          "
	               "                   check: the values\n"
	               "Status       label        positive \"Converted\" (a word for a conversion)"
	               ", negative \"Not Converted\"                                              "
	               "                       check: leads are ranked by how likely \"Converted\""
	               " is\n");
	json_decref(root);
	free(json);
	free(table);
	unlink(path);
	free(csv);
}

/* The same file semicolon-separated: "$1,250" reads as thousands or as a
 * decimal comma; in a semicolon file the draft takes the decimal comma and
 * says what to set otherwise. */
static void test_draft_semicolon_decimal(void **state)
{
	char *csv = decisions_csv(';'), path[64], *json = NULL, *table = NULL, *line;
	struct fl_schema_draft_opts o = {.label = "Status", .table = &table, .transforms = 1};
	json_t *root;
	json_error_t jerr;

	(void)state;
	write_tmp(path, csv, strlen(csv));
	if (fl_schema_draft_opts(path, &o, &json) != 0)
		fail_msg("draft failed: %s", fl_errmsg());
	assert_non_null(root = json_loads(json, 0, &jerr));
	/* $500, $750 and "$1,000" to "$15,250" as 1 to 15.25: [1, 750]. */
	expect_feature(root, "Revenue",
	               "{\"clip\":[1.0,750.0],\"currency\":\"$\",\"decimal\":\",\",\"knots\":5,"
	               "\"missing\":\"error\",\"name\":\"Revenue\",\"transform\":\"spline\","
	               "\"type\":\"numeric\"}");
	assert_non_null(line = strstr(table, "\nRevenue "));
	assert_non_null(strstr(line, "numbers, clip [1, 750]; spline, 5 knots at the training "
	                             "data's quantiles (60 distinct values); written with "
	                             "decimal \",\", currency \"$\" "));
	assert_non_null(strstr(line, "check: assumed a decimal comma (the file is "
	                             "semicolon-separated), else set \"decimal\": \".\", "
	                             "\"thousands\": \",\"; the clip range; the transform\n"));
	json_decref(root);
	free(json);
	/* Without transforms (the federation's schema round), no spline. */
	o.transforms = 0;
	o.table = NULL;
	if (fl_schema_draft_opts(path, &o, &json) != 0)
		fail_msg("draft failed: %s", fl_errmsg());
	assert_non_null(root = json_loads(json, 0, &jerr));
	expect_feature(root, "Revenue",
	               "{\"clip\":[1.0,750.0],\"currency\":\"$\",\"decimal\":\",\",\"missing\":"
	               "\"error\",\"name\":\"Revenue\",\"type\":\"numeric\"}");
	json_decref(root);
	free(json);
	free(table);
	unlink(path);
	free(csv);
}

/* min_count: values in fewer rows are left out of the list (to "other");
 * a column left with none is ignored. */
static void test_draft_min_count(void **state)
{
	char csv[2048], path[64], *json = NULL, *table = NULL;
	struct fl_schema_draft_opts o = {.label = "y", .min_count = 3, .table = &table};
	size_t k;
	json_t *root, *ign;
	json_error_t jerr;

	(void)state;
	k = (size_t)snprintf(csv, sizeof(csv), "tag,rare,y\n");
	/* tag: a in 5 rows, b in 3, c in 2, D and d in 1 each (2 as folded);
	 * rare: every value in 1 or 2 rows. */
	{
		static const char *const tag[] = {"a", "a", "a", "a", "a", "b",
		                                  "b", "b", "c", "c", "D", "d"};
		static const char *const rare[] = {"p", "p", "q", "r", "r", "s",
		                                   "t", "u", "u", "v", "w", "x"};

		for (int i = 0; i < 12; i++)
			k += (size_t)snprintf(csv + k, sizeof(csv) - k, "%s,%s,%s\n", tag[i],
			                      rare[i], i % 2 ? "yes" : "no");
	}
	write_tmp(path, csv, k);
	if (fl_schema_draft_opts(path, &o, &json) != 0)
		fail_msg("draft failed: %s", fl_errmsg());
	assert_non_null(root = json_loads(json, 0, &jerr));
	/* D and d are left out, so nothing needs folding. */
	expect_feature(root, "tag",
	               "{\"name\":\"tag\",\"other\":true,\"type\":\"categorical\","
	               "\"values\":[\"a\",\"b\"]}");
	ign = json_object_get(root, "ignore");
	assert_int_equal(json_array_size(ign), 1);
	assert_string_equal(json_string_value(json_array_get(ign, 0)), "rare");
	assert_string_equal(
	        table,
	        "column  kind         why                                                    "
	        "       check\n"
	        "tag     categorical  2 values; 2 in fewer than 3 rows left out (they go to o"
	        "ther)  check: the values\n"
	        "rare    ignore       every value is in fewer than 3 rows (min_count)        "
	        "       check: not a feature at this k\n"
	        "y       label        positive \"yes\" (a word for a conversion), negative \""
	        "no\"       check: leads are ranked by how likely \"yes\" is\n");
	json_decref(root);
	free(json);
	free(table);

	/* Without min_count every value is listed. */
	o.min_count = 0;
	o.table = NULL;
	if (fl_schema_draft_opts(path, &o, &json) != 0)
		fail_msg("draft failed: %s", fl_errmsg());
	assert_non_null(root = json_loads(json, 0, &jerr));
	expect_feature(
	        root, "tag",
	        "{\"case\":\"fold\",\"name\":\"tag\",\"other\":true,\"type\":\"categorical\","
	        "\"values\":[\"D\",\"a\",\"b\",\"c\"]}");
	json_decref(root);
	free(json);
	unlink(path);

	/* A placeholder is a value like any other for min_count: "N/A" in 2
	 * rows is not listed at k = 3 (the schema round sends nothing rarer),
	 * "Select" in 3 rows is. */
	k = (size_t)snprintf(csv, sizeof(csv), "src,y\n");
	{
		static const char *const src[] = {"a",      "a",      "a",   "b",   "b",      "b",
		                                  "Select", "Select", "N/A", "N/A", "Select", "b"};

		for (int i = 0; i < 12; i++)
			k += (size_t)snprintf(csv + k, sizeof(csv) - k, "%s,%s\n", src[i],
			                      i % 2 ? "yes" : "no");
	}
	write_tmp(path, csv, k);
	o.min_count = 3;
	if (fl_schema_draft_opts(path, &o, &json) != 0)
		fail_msg("draft failed: %s", fl_errmsg());
	assert_non_null(root = json_loads(json, 0, &jerr));
	expect_feature(root, "src",
	               "{\"missing_values\":[\"Select\"],\"name\":\"src\",\"other\":true,"
	               "\"type\":\"categorical\",\"values\":[\"a\",\"b\"]}");
	json_decref(root);
	free(json);
	unlink(path);
}

/* The draft's ID rule needs 50 values: 49 all-different integers are a
 * numeric feature, 50 an ID; 95 % distinct text is an ID, less is not;
 * integers must all differ. */
static void test_draft_id_threshold(void **state)
{
	char csv[8192], path[64], *json = NULL;
	struct fl_schema_draft_opts o = {.label = "y"};
	json_t *root, *ign;
	json_error_t jerr;
	size_t k;

	(void)state;
	for (int n = 49; n <= 50; n++) {
		k = (size_t)snprintf(csv, sizeof(csv), "num,txt,near,k,y\n");
		/* near: two rows share a value (49 distinct of 50, 98 %) */
		for (int i = 0; i < n; i++)
			k += (size_t)snprintf(csv + k, sizeof(csv) - k, "%d,t%d,n%d,%d,%s\n", i * 3,
			                      i, i < 2 ? 0 : i, i % 3, i % 2 ? "yes" : "no");
		write_tmp(path, csv, k);
		if (fl_schema_draft_opts(path, &o, &json) != 0)
			fail_msg("draft failed: %s", fl_errmsg());
		assert_non_null(root = json_loads(json, 0, &jerr));
		ign = json_object_get(root, "ignore");
		if (n == 49) {
			assert_non_null(feature_json(root, "num"));
			assert_non_null(feature_json(root, "txt"));
			assert_int_equal(json_array_size(ign), 0);
		} else {
			assert_int_equal(json_array_size(ign), 3);
			assert_null(feature_json(root, "num"));
		}
		json_decref(root);
		free(json);
		unlink(path);
	}
	/* Integers must all differ to be an ID: a count 98 % distinct (49 of
	 * 50, as employee counts come out in a few hundred leads) is a
	 * numeric feature, while text 98 % distinct is an ID. */
	k = (size_t)snprintf(csv, sizeof(csv), "employees,email,y\n");
	for (int i = 0; i < 50; i++)
		k += (size_t)snprintf(csv + k, sizeof(csv) - k, "%d,e%d@x,%s\n", i < 2 ? 7 : 10 * i,
		                      i < 2 ? 0 : i, i % 2 ? "yes" : "no");
	write_tmp(path, csv, k);
	if (fl_schema_draft_opts(path, &o, &json) != 0)
		fail_msg("draft failed: %s", fl_errmsg());
	assert_non_null(root = json_loads(json, 0, &jerr));
	assert_non_null(feature_json(root, "employees"));
	assert_null(feature_json(root, "email"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(root, "ignore"), 0)),
	                    "email");
	json_decref(root);
	free(json);
	unlink(path);
	/* 50 values, 47 distinct (94 %): a category. */
	k = (size_t)snprintf(csv, sizeof(csv), "near,y\n");
	for (int i = 0; i < 50; i++)
		k += (size_t)snprintf(csv + k, sizeof(csv) - k, "n%d,%s\n", i < 4 ? 0 : i,
		                      i % 2 ? "yes" : "no");
	write_tmp(path, csv, k);
	if (fl_schema_draft_opts(path, &o, &json) != 0)
		fail_msg("draft failed: %s", fl_errmsg());
	assert_non_null(root = json_loads(json, 0, &jerr));
	assert_non_null(feature_json(root, "near"));
	json_decref(root);
	free(json);
	unlink(path);
}

/*
 * The schema round's clip range (round_clip = k, the node's
 * schema_min_count): ranks at least k from each end, a bound only where k
 * values round to it, none for a column of fewer than max(4 k, 50) values
 * (the fourth privacy review's finding 1, and its review). k = 3; the 3
 * smallest and 3 largest values are distinctive (one lead each), the rest
 * 100, 102.5, ... At 49 values no range (the old rule sent the 2nd
 * smallest and largest, rounded: [-5.6, 8900]). At 50 the ranks are 3
 * from each end, the first and last plain values: 100 (rounds down to
 * 100, as 102.5, 105 and 107.5 do) and 207.5 (rounds up to 210, as 202.5
 * and 205 do). At 300 the 1st percentile's rank is 2, the 3rd smallest
 * value (-3.33, rounded -3.4), and the 99th's 297, the 3rd largest (7777,
 * rounded 7800): both are clamped to rank 3 from each end, 100 and 832.5;
 * 832.5 alone rounds up to 840, so the high bound moves inward to 830,
 * which 822.5, 825, 827.5 and 830 round up to. With k = 1 no range at
 * all; with k = 2 the same as k = 3 (4 values share each bound).
 */
static void round_clip_csv(char *csv, size_t size, size_t n, size_t *len)
{
	static const double lo[] = {-7.77, -5.55, -3.33}, hi[] = {7777, 8888, 9999};
	size_t k = (size_t)snprintf(csv, size, "v,y\n");

	for (size_t i = 0; i < n; i++) {
		double v = i < 3        ? lo[i]
		           : i >= n - 3 ? hi[i - (n - 3)]
		                        : 100 + 2.5 * (double)(i - 3);

		k += (size_t)snprintf(csv + k, size - k, "%.17g,%s\n", v, i % 2 ? "yes" : "no");
	}
	*len = k;
}

/* The draft of csv (len bytes) under o, as text in *json and parsed. */
static json_t *draft_text(const char *csv, size_t len, const struct fl_schema_draft_opts *o,
                          char **json)
{
	char path[64];
	json_t *root;

	write_tmp(path, csv, len);
	if (fl_schema_draft_opts(path, o, json) != 0)
		fail_msg("draft failed: %s", fl_errmsg());
	unlink(path);
	assert_non_null(root = json_loads(*json, 0, NULL));
	return root;
}

/* The draft of csv (len bytes) with round_clip = k: feature "v" must be
 * want, and the decision table's line for it must hold why. */
static void expect_round_clip(const char *csv, size_t len, uint64_t k, const char *want,
                              const char *why)
{
	char *json = NULL, *table = NULL;
	struct fl_schema_draft_opts o = {
	        .label = "y", .min_count = k, .transforms = 1, .round_clip = k, .table = &table};
	json_t *root = draft_text(csv, len, &o, &json);

	expect_feature(root, "v", want);
	if (strstr(table, why) == NULL)
		fail_msg("no \"%s\" in the table:\n%s", why, table);
	json_decref(root);
	free(json);
	free(table);
}

#define ROUND_SPLINE                                                                               \
	"\"knots\":5,\"missing\":\"error\",\"name\":\"v\",\"transform\":\"spline\",\"type\":"      \
	"\"numeric\"}"

static void test_draft_round_clip(void **state)
{
	static const struct {
		size_t n;
		uint64_t k;
		const char *want, *why;
	} cases[] = {
	        {49, 3, "{" ROUND_SPLINE,
	         "numbers, no clip range (49 values, fewer than 50 for k = 3)"},
	        {50, 3, "{\"clip\":[100.0,210.0]," ROUND_SPLINE, "numbers, clip [100, 210]"},
	        {300, 3, "{\"clip\":[100.0,830.0]," ROUND_SPLINE, "numbers, clip [100, 830]"},
	        {300, 2, "{\"clip\":[100.0,830.0]," ROUND_SPLINE, "numbers, clip [100, 830]"},
	        {300, 1, "{" ROUND_SPLINE, "numbers, no clip range (k = 1: none below 2)"},
	};
	static char csv[16384];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		round_clip_csv(csv, sizeof(csv), cases[i].n, &len);
		expect_round_clip(csv, len, cases[i].k, cases[i].want, cases[i].why);
	}
	/* 60 values 10 apart from 100.5: each rounds to its own bound, so no
	 * bound short of the median is shared by k = 3 values. */
	len = (size_t)snprintf(csv, sizeof(csv), "v,y\n");
	for (int i = 0; i < 60; i++)
		len += (size_t)snprintf(csv + len, sizeof(csv) - len, "%.1f,%s\n", 100.5 + 10 * i,
		                        i % 2 ? "yes" : "no");
	expect_round_clip(
	        csv, len, 3, "{" ROUND_SPLINE,
	        "numbers, no clip range (no bound short of the median rounds alike for k = 3 "
	        "values)");
}

/*
 * The review of the fourth privacy review's fixes (finding 1a): a bound
 * k ranks from the end is still one lead's value, rounded, when nobody
 * else is near it. k = 3, 300 values: 3 leads at 0 and 3 at 2,000,000
 * (the k beyond each bound), one lead at 123,456 and one at 987,654, the
 * rest 500,004 to 500,295. The old rule sent [120000, 990000]: each bound
 * that one lead's value to two significant digits. Each of those leads is
 * alone in its rounding cell, so the bounds move inward to the first cell
 * k values share: [500000, 510000], where the 292 plain values are. Neither
 * lone value nor any rounding of it is in the draft.
 */
static void test_round_clip_lone_lead(void **state)
{
	static char csv[16384];
	static const char *const lone[] = {"123456", "120000", "130000",
	                                   "987654", "980000", "990000"};
	char *json = NULL;
	struct fl_schema_draft_opts o = {
	        .label = "y", .min_count = 3, .transforms = 1, .round_clip = 3};
	size_t k = (size_t)snprintf(csv, sizeof(csv), "v,y\n"), n = 300;
	json_t *root;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		double v = i < 3        ? 0
		           : i == 3     ? 123456
		           : i == n - 4 ? 987654
		           : i >= n - 3 ? 2e6
		                        : 500000 + (double)i;

		k += (size_t)snprintf(csv + k, sizeof(csv) - k, "%.17g,%s\n", v,
		                      i % 2 ? "yes" : "no");
	}
	root = draft_text(csv, k, &o, &json);
	expect_feature(root, "v", "{\"clip\":[500000.0,510000.0]," ROUND_SPLINE);
	for (size_t i = 0; i < sizeof(lone) / sizeof(lone[0]); i++)
		if (strstr(json, lone[i]) != NULL)
			fail_msg("%s is in the draft: %s", lone[i], json);
	json_decref(root);
	free(json);
}

static json_t *feature_at(json_t *root, size_t i)
{
	return json_array_get(json_object_get(root, "features"), i);
}

/* The first feature's clip range is [lo, hi]. */
static void expect_clip(json_t *root, double lo, double hi)
{
	json_t *clip = json_object_get(feature_at(root, 0), "clip");

	if (json_array_size(clip) != 2 || json_real_value(json_array_get(clip, 0)) != lo ||
	    json_real_value(json_array_get(clip, 1)) != hi) {
		char *t = json_dumps(clip, JSON_COMPACT);

		fail_msg("clip %s, want [%g, %g]", t ? t : "(none)", lo, hi);
	}
}

/*
 * The third review of the clip ranges: a column whose numbers need a format
 * ("$5,001.5") is sampled again by the draft's second pass, and the rows
 * before its first formatted value were in the sample twice, so a lone
 * lead filled a rounding cell of k = 2 by itself. Here 123.5 comes first,
 * before the first "$": alone in its cell, it must not be a bound
 * (the draft sent [120, 5100]); the bounds are where the plain values
 * share cells, [5000, 5100], as for the same numbers without "$". A zero
 * written "-0" by one lead is a zero like the others.
 */
static void test_round_clip_formatted_once(void **state)
{
	static char csv[16384];
	char *json = NULL;
	struct fl_schema_draft_opts o = {
	        .label = "y", .min_count = 2, .transforms = 1, .round_clip = 2};
	size_t k = (size_t)snprintf(csv, sizeof(csv), "v,y\n123.5,no\n$5001.5,yes\n");
	json_t *root;

	(void)state;
	for (int i = 0; i < 3; i++)
		k += (size_t)snprintf(csv + k, sizeof(csv) - k, "%d.5,no\n", 10 + i);
	for (int i = 2; i <= 56; i++)
		k += (size_t)snprintf(csv + k, sizeof(csv) - k, "$%d.5,%s\n", 5000 + i,
		                      i % 2 ? "yes" : "no");
	root = draft_text(csv, k, &o, &json);
	expect_clip(root, 5000, 5100);
	if (strstr(json, "120") != NULL)
		fail_msg("the lone lead's 120 is in the draft: %s", json);
	json_decref(root);
	free(json);

	/* 30 zeros, one of them written "-0", and 40 values from 40 to 44,
	 * ten at each (k = 10): the low bound is a zero, and a plain one. */
	o.min_count = o.round_clip = 10;
	k = (size_t)snprintf(csv, sizeof(csv), "v,y\n");
	for (int i = 0; i < 30; i++)
		k += (size_t)snprintf(csv + k, sizeof(csv) - k, "%s,%s\n", i == 10 ? "-0" : "0",
		                      i % 2 ? "yes" : "no");
	for (int i = 0; i < 40; i++)
		k += (size_t)snprintf(csv + k, sizeof(csv) - k, "%d.25,%s\n", 40 + i / 10,
		                      i % 2 ? "yes" : "no");
	root = draft_text(csv, k, &o, &json);
	{
		json_t *lo = json_array_get(json_object_get(feature_at(root, 0), "clip"), 0);

		if (lo == NULL || json_real_value(lo) != 0 || signbit(json_real_value(lo)))
			fail_msg("the low bound is not 0.0: %s", json);
	}
	json_decref(root);
	free(json);
}

/*
 * The review of the fourth privacy review's fixes (finding 1b): which
 * transform the round's draft proposes turned on one lead, and the
 * coordinator reads it. Now the values held at least k times count, the
 * rarer ones k to one, and up to k - 1 values that are not a day still
 * make a day of the month.
 * k = 3. 620 leads with whole days 1 to 31 (20 each) get bins; one or two
 * more holding 32 (the old rule: a spline) still get bins; three (k) make
 * it a spline. 180 leads over 9 values (0.5 to 8.5, 20 each) get no
 * transform (fewer than 10 distinct); one or two more at 9.5 (the old
 * rule: a spline) change nothing; three make it a spline.
 */
static void test_transform_one_lead(void **state)
{
	static const struct {
		int days, base, extra;
		const char *want;
	} cases[] = {
	        {1, 620, 0, "bins"},   {1, 620, 1, "bins"},   {1, 620, 2, "bins"},
	        {1, 620, 3, "spline"}, {0, 180, 0, NULL},     {0, 180, 1, NULL},
	        {0, 180, 2, NULL},     {0, 180, 3, "spline"},
	};
	static char csv[16384];
	char *json = NULL;
	struct fl_schema_draft_opts o = {
	        .label = "y", .min_count = 3, .transforms = 1, .round_clip = 3};
	json_t *root, *t;

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t k = (size_t)snprintf(csv, sizeof(csv), "v,y\n");

		for (int i = 0; i < cases[c].base + cases[c].extra; i++) {
			double v = cases[c].days ? (i < cases[c].base ? 1 + i % 31 : 32)
			                         : (i < cases[c].base ? 0.5 + i % 9 : 9.5);

			k += (size_t)snprintf(csv + k, sizeof(csv) - k, "%g,%s\n", v,
			                      i % 2 ? "yes" : "no");
		}
		root = draft_text(csv, k, &o, &json);
		assert_non_null(feature_json(root, "v"));
		t = json_object_get(feature_json(root, "v"), "transform");
		if (cases[c].want == NULL
		            ? t != NULL
		            : t == NULL || strcmp(json_string_value(t), cases[c].want) != 0)
			fail_msg("case %zu (%d + %d): %s", c, cases[c].base, cases[c].extra, json);
		json_decref(root);
		free(json);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_and_canonical),
	        cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_encode_placeholders_and_fold),
	        cmocka_unit_test(test_encode_fold_empty_field),
	        cmocka_unit_test(test_encode_placeholder_errors),
	        cmocka_unit_test(test_draft_decisions),
	        cmocka_unit_test(test_draft_semicolon_decimal),
	        cmocka_unit_test(test_draft_min_count),
	        cmocka_unit_test(test_draft_id_threshold),
	        cmocka_unit_test(test_draft_round_clip),
	        cmocka_unit_test(test_round_clip_lone_lead),
	        cmocka_unit_test(test_round_clip_formatted_once),
	        cmocka_unit_test(test_transform_one_lead),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
