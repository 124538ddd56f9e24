/*
 * Tests for a categorical feature read from several columns ("columns",
 * schema.h) across the modules it touches: the schema (parsing, the exact
 * errors, the canonical text written out by hand, the fingerprint, column
 * names), the encoding of rows (one-hot columns written by hand, missing
 * and unseen dates, the exact messages without "other", case folding),
 * the draft's calendar date from a month and a day column (values, the
 * decision table, min_count, no proposal for a day column beyond 31), and
 * reason codes naming the joined value.
 *
 * JOINED_SCHEMA encodes to 9 columns:
 *   0 intercept, 1 visits, 2 month=apr, 3 month=may, 4 month=(other),
 *   5 month day=apr 1, 6 month day=may 5, 7 month day=may 6,
 *   8 month day=(other).
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

#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/model.h"
#include "fedlead/schema.h"
#include "fedlead/score.h"

#include "support/schema_parse.h"

#define ORIGIN "t.json"
#define DIM 9

/* features[%s] spliced after "visits": the joined feature's members. */
#define SCHEMA_WITH(members)                                                                       \
	"{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": \"yes\", "           \
	"\"negative\": \"no\"}, \"features\": ["                                                   \
	"{\"name\": \"visits\", \"type\": \"numeric\"},"                                           \
	"{\"name\": \"month\", \"type\": \"categorical\", \"values\": [\"apr\", \"may\"], "        \
	"\"other\": true},"                                                                        \
	"{\"name\": \"month day\", " members "}], \"ignore\": [\"notes\"]}"

static const char JOINED_SCHEMA[] =
        SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"month\", \"day\"], "
                    "\"values\": [\"apr 1\", \"may 5\", \"may 6\"], \"other\": true");

/* Its canonical text, by hand: "columns" in key order, kept in the order
 * written (it is the order of the join). */
static const char JOINED_CANONICAL[] =
        "{\"features\":[{\"missing\":\"error\",\"name\":\"visits\",\"type\":\"numeric\"},"
        "{\"name\":\"month\",\"other\":true,\"type\":\"categorical\",\"values\":[\"apr\","
        "\"may\"]},"
        "{\"columns\":[\"month\",\"day\"],\"name\":\"month day\",\"other\":true,\"type\":"
        "\"categorical\",\"values\":[\"apr 1\",\"may 5\",\"may 6\"]}],"
        "\"fedlead_schema\":1,\"id\":null,\"ignore\":[\"notes\"],"
        "\"label\":{\"column\":\"y\",\"negative\":\"no\",\"positive\":\"yes\"}}";

#define parse_ok(json) schema_parse_ok((json), ORIGIN)
#define expect_error(json, msg) schema_parse_refused((json), ORIGIN, (msg))

static void write_tmp(char path[64], const char *bytes)
{
	int fd;

	snprintf(path, 64, "/tmp/fl_test_joined_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
	assert_int_equal(close(fd), 0);
}

/* ---- the schema ---- */

static void test_parse_and_canonical(void **state)
{
	struct fl_schema *s = parse_ok(JOINED_SCHEMA);
	static const char *const names[DIM] = {
	        "(intercept)",     "visits",          "month=apr",
	        "month=may",       "month=(other)",   "month day=apr 1",
	        "month day=may 5", "month day=may 6", "month day=(other)"};
	char buf[64];

	(void)state;
	assert_int_equal(s->dim, DIM);
	assert_int_equal(s->features[2].n_columns, 2);
	assert_string_equal(s->features[2].columns[0], "month");
	assert_string_equal(s->features[2].columns[1], "day");
	assert_int_equal(s->features[1].n_columns, 0);
	assert_null(s->features[1].columns);
	assert_string_equal(s->canonical, JOINED_CANONICAL);
	for (size_t j = 0; j < DIM; j++) {
		fl_schema_column_name(s, j, buf, sizeof(buf));
		assert_string_equal(buf, names[j]);
	}
	fl_schema_free(s);
}

static void test_schema_errors(void **state)
{
	(void)state;
	expect_error(SCHEMA_WITH("\"type\": \"numeric\", \"columns\": [\"month\", \"day\"]"),
	             "t.json: features[2].columns (feature \"month day\"): reading several "
	             "columns as one feature applies to categorical features only");
	expect_error(SCHEMA_WITH("\"type\": \"date\", \"format\": \"iso\", \"reference\": "
	                         "\"2026-01-01\", \"columns\": [\"month\", \"day\"]"),
	             "t.json: features[2].columns (feature \"month day\"): reading several "
	             "columns as one feature applies to categorical features only");
	expect_error(SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"month\"], "
	                         "\"values\": [\"may\"]"),
	             "t.json: features[2].columns (feature \"month day\"): must be an array of 2 "
	             "to 8 column names");
	expect_error(SCHEMA_WITH("\"type\": \"categorical\", \"columns\": \"month\", "
	                         "\"values\": [\"may\"]"),
	             "t.json: features[2].columns (feature \"month day\"): must be an array of 2 "
	             "to 8 column names");
	expect_error(SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"a\", \"b\", \"c\", "
	                         "\"d\", \"e\", \"f\", \"g\", \"h\", \"i\"], \"values\": [\"x\"]"),
	             "t.json: features[2].columns (feature \"month day\"): must be an array of 2 "
	             "to 8 column names");
	expect_error(SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"month\", \"\"], "
	                         "\"values\": [\"may 5\"]"),
	             "t.json: features[2].columns[1] (feature \"month day\"): must be a non-empty "
	             "string (a column name)");
	expect_error(SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"month\", 5], "
	                         "\"values\": [\"may 5\"]"),
	             "t.json: features[2].columns[1] (feature \"month day\"): must be a non-empty "
	             "string (a column name)");
	/* A column's text that is a placeholder: the value could never be
	 * encoded (the row is missing), while the schema round counted it. */
	expect_error(SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"month\", \"day\"], "
	                         "\"missing_values\": [\"unknown\"], "
	                         "\"values\": [\"may 5\", \"may UNKNOWN\"]"),
	             "t.json: features[2].values[1] (feature \"month day\"): \"may UNKNOWN\" has a "
	             "missing value (in \"missing_values\") for column \"day\": a row with it is "
	             "missing, never this value");
	expect_error(SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"month\", \"day\", "
	                         "\"month\"], \"values\": [\"may 5 x\"]"),
	             "t.json: features[2].columns (feature \"month day\"): column \"month\" is "
	             "listed twice");
	/* Each listed value: one blank-free text per column, single spaces. */
	static const char *const bad_values[] = {"\"may\"",    "\"may 5 x\"", "\"may  5\"",
	                                         "\" may 5\"", "\"may 5 \"",  "\"may\\t5\""};
	static const char *const quoted[] = {"may",    "may 5 x", "may  5",
	                                     " may 5", "may 5 ",  "may\t5"};

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		char json[1024], msg[512];

		snprintf(json, sizeof(json),
		         SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"month\", "
		                     "\"day\"], \"values\": [\"apr 1\", %s]"),
		         bad_values[i]);
		snprintf(msg, sizeof(msg),
		         "t.json: features[2].values[1] (feature \"month day\"): \"%s\" is not 2 "
		         "non-empty texts without blanks joined by single spaces, one for each of "
		         "its columns (at most 255 bytes)",
		         quoted[i]);
		expect_error(json, msg);
	}
	/* The columns are read as a feature: not the label, id or ignored. */
	expect_error(SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"month\", \"y\"], "
	                         "\"values\": [\"may yes\"]"),
	             "t.json: features[2].columns (feature \"month day\"): column \"y\" is the "
	             "label column");
	expect_error(SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"notes\", \"day\"], "
	                         "\"values\": [\"a 5\"]"),
	             "t.json: features[2].columns (feature \"month day\"): column \"notes\" is in "
	             "\"ignore\"");
}

/* "columns" is in the canonical form, so partners agree on it: adding it,
 * or swapping the columns, changes the fingerprint. */
static void test_fingerprint(void **state)
{
	struct fl_schema *joined = parse_ok(JOINED_SCHEMA);
	struct fl_schema *plain = parse_ok(
	        SCHEMA_WITH("\"type\": \"categorical\", \"values\": [\"apr 1\", \"may 5\", "
	                    "\"may 6\"], \"other\": true"));
	struct fl_schema *swapped = parse_ok(
	        SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"day\", \"month\"], "
	                    "\"values\": [\"apr 1\", \"may 5\", \"may 6\"], \"other\": true"));

	(void)state;
	assert_true(strstr(plain->canonical, "columns") == NULL);
	assert_memory_not_equal(joined->fingerprint, plain->fingerprint, FL_FINGERPRINT_LEN);
	assert_memory_not_equal(joined->fingerprint, swapped->fingerprint, FL_FINGERPRINT_LEN);
	assert_memory_not_equal(plain->fingerprint, swapped->fingerprint, FL_FINGERPRINT_LEN);
	fl_schema_free(joined);
	fl_schema_free(plain);
	fl_schema_free(swapped);
}

/* ---- encoding ---- */

/* Encodes n rows of csv; unseen and missing per row for feature 2. */
static int encode_rows(const struct fl_schema *s, const char *csv, size_t n, double X[][DIM],
                       int *unseen, int *missing)
{
	struct fl_csv *c;
	struct fl_binding *b = NULL;
	struct fl_csv_record rec;
	char path[64];
	size_t n_extra;
	double y;
	int r;

	write_tmp(path, csv);
	assert_int_equal(fl_csv_open(path, &c), 0);
	assert_int_equal(fl_csv_next(c, &rec), 1);
	r = fl_binding_new(s, c, &rec, 1, &b, &n_extra);
	for (size_t i = 0; r == 0 && i < n; i++) {
		assert_int_equal(fl_csv_next(c, &rec), 1);
		if ((r = fl_encode_row(b, &rec, X[i], &y, NULL)) != 0)
			break;
		if (unseen != NULL)
			unseen[i] = fl_encode_unseen(b, &rec, X[i], 2);
		if (missing != NULL)
			missing[i] = fl_encode_missing(b, &rec, 2);
	}
	fl_binding_free(b);
	fl_csv_free(c);
	unlink(path);
	return r;
}

/* Encodes n rows (at most 8) of csv and checks each against want, and
 * feature 2's unseen and missing flags. */
static void expect_rows(const struct fl_schema *s, const char *csv, size_t n,
                        const double want[][DIM], const int *want_unseen, const int *want_missing)
{
	double X[8][DIM];
	int unseen[8], missing[8];

	assert_true(n <= 8);
	if (encode_rows(s, csv, n, X, unseen, missing) != 0)
		fail_msg("%s", fl_errmsg());
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < DIM; j++)
			if (X[i][j] != want[i][j])
				fail_msg("row %zu column %zu: %g, expected %g", i + 1, j, X[i][j],
				         want[i][j]);
		if (unseen[i] != want_unseen[i] || missing[i] != want_missing[i])
			fail_msg("row %zu: unseen %d and missing %d, expected %d and %d", i + 1,
			         unseen[i], missing[i], want_unseen[i], want_missing[i]);
	}
}

static void test_encode_rows(void **state)
{
	/* Columns in another order than the schema's, an extra one ("notes"
	 * ignored); a day the schema does not list, blanks, and a field with
	 * a blank inside (it joins into "may 5 x", which no value is). */
	static const char csv[] = "day,y,notes,visits,month\n"
	                          "5,yes,a,3,may\n"
	                          "1,no,b,2,apr\n"
	                          "7,no,c,1,may\n"
	                          "5,yes,d,1,\n"
	                          ",no,e,4,may\n"
	                          "5 x,no,f,4,may\n"
	                          "6,no,g,2,jun\n";
	static const double want[7][DIM] = {
	        {1, 3, 0, 1, 0, 0, 1, 0, 0}, {1, 2, 1, 0, 0, 1, 0, 0, 0},
	        {1, 1, 0, 1, 0, 0, 0, 0, 1}, {1, 1, 0, 0, 1, 0, 0, 0, 1},
	        {1, 4, 0, 1, 0, 0, 0, 0, 1}, {1, 4, 0, 1, 0, 0, 0, 0, 1},
	        {1, 2, 0, 0, 1, 0, 0, 0, 1},
	};
	static const int want_unseen[7] = {0, 0, 1, 0, 0, 1, 1};
	static const int want_missing[7] = {0, 0, 0, 1, 1, 0, 0};
	struct fl_schema *s = parse_ok(JOINED_SCHEMA);

	(void)state;
	expect_rows(s, csv, 7, want, want_unseen, want_missing);
	fl_schema_free(s);
}

/* Without "other": the exact messages; and a missing column names the
 * feature that reads it. */
static void test_encode_errors(void **state)
{
	struct fl_schema *s = parse_ok(
	        SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"month\", \"day\"], "
	                    "\"values\": [\"apr 1\", \"may 5\", \"may 6\"]"));
	double X[2][DIM];

	(void)state;
	assert_int_equal(encode_rows(s, "y,visits,month,day\nno,1,may,7\n", 1, X, NULL, NULL),
	                 FL_ERR_DATA);
	assert_true(strstr(fl_errmsg(), ":2: feature \"month day\": \"may 7\" is not a listed "
	                                "category and there is no \"other\"") != NULL);
	assert_int_equal(encode_rows(s, "y,visits,month,day\nno,1,may,\n", 1, X, NULL, NULL),
	                 FL_ERR_DATA);
	assert_true(strstr(fl_errmsg(), ":2: feature \"month day\": a column it reads has no "
	                                "value (no \"other\" category)") != NULL);
	assert_int_equal(encode_rows(s, "y,visits,month\nno,1,may\n", 1, X, NULL, NULL),
	                 FL_ERR_DATA);
	assert_true(strstr(fl_errmsg(), ":1: column \"day\" required by the schema (feature "
	                                "\"month day\" reads it) is missing") != NULL);
	fl_schema_free(s);
}

/* Under "case": "fold" each field is trimmed and the join matched in any
 * case; a placeholder in either column makes the date missing. */
static void test_encode_fold(void **state)
{
	struct fl_schema *s = parse_ok(
	        SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"month\", \"day\"], "
	                    "\"case\": \"fold\", \"missing_values\": [\"unknown\"], "
	                    "\"values\": [\"apr 1\", \"may 5\", \"may 6\"], \"other\": true"));
	static const double want[3][DIM] = {
	        {1, 1, 0, 0, 1, 0, 1, 0, 0},
	        {1, 1, 0, 0, 1, 0, 0, 1, 0},
	        {1, 1, 0, 1, 0, 0, 0, 0, 1},
	};
	static const int want_unseen[3] = {0, 0, 0}, want_missing[3] = {0, 0, 1};

	(void)state;
	expect_rows(s, "y,visits,month,day\nno,1, May , 5\nno,1,MAY,6 \nno,1,may,Unknown\n", 3,
	            want, want_unseen, want_missing);
	fl_schema_free(s);
}

/*
 * Under "case": "fold" a field of blanks only is no text of its column:
 * "may 5" in the month column and " " in the day column joined into
 * "may 5 ", which the fold's match (trimmed) read as the listed "may 5",
 * so two different pairs of fields were one date; " " and "may 5" the
 * same from the other side. Both go to "(other)" (not missing: the field
 * is not empty), and the schema round's count agrees (fl_schema_join()).
 */
static void test_encode_fold_blank_field(void **state)
{
	struct fl_schema *s = parse_ok(
	        SCHEMA_WITH("\"type\": \"categorical\", \"columns\": [\"month\", \"day\"], "
	                    "\"case\": \"fold\", "
	                    "\"values\": [\"apr 1\", \"may 5\", \"may 6\"], \"other\": true"));
	static const double want[3][DIM] = {
	        {1, 1, 0, 0, 1, 0, 0, 0, 1},
	        {1, 1, 0, 0, 1, 0, 0, 0, 1},
	        {1, 1, 0, 1, 0, 0, 1, 0, 0},
	};
	static const int want_unseen[3] = {1, 1, 0}, want_missing[3] = {0, 0, 0};
	struct fl_csv_field parts[2] = {{"may 5", 5}, {" ", 1}};
	char buf[FL_SCHEMA_MAX_JOINED + 2];
	int cut;

	(void)state;
	expect_rows(s, "y,visits,month,day\nno,1,may 5,\" \"\nno,1,\" \",may 5\nno,1,may,5\n", 3,
	            want, want_unseen, want_missing);
	/* The rule the schema round counts by. */
	fl_schema_join(&s->features[2], parts, buf, sizeof(buf), &cut);
	assert_int_equal(cut, 1);
	fl_schema_free(s);
}

/* ---- the draft ---- */

/* A file with a month and a day column: 2 rows of jan 3, 3 of may 5, one
 * each of may 6 and dec 31, "y" alternating. */
#define DRAFT_CSV_ROWS                                                                             \
	"may,5,yes\nmay,5,no\nmay,5,yes\njan,3,no\njan,3,yes\nmay,6,no\ndec,31,yes\nmay,6,no\n"

static json_t *draft(const char *csv, uint64_t min_count, char **table)
{
	struct fl_schema_draft_opts o = {
	        .label = "y", .max_levels = 10, .min_count = min_count, .table = table};
	char path[64], *json = NULL;
	json_t *root;

	write_tmp(path, csv);
	if (fl_schema_draft_opts(path, &o, &json) != 0)
		fail_msg("draft: %s", fl_errmsg());
	unlink(path);
	assert_non_null(root = json_loads(json, 0, NULL));
	/* The draft parses as a schema. */
	fl_schema_free(parse_ok(json));
	free(json);
	return root;
}

/* The drafted feature named name, compact with sorted keys, or NULL. */
static char *feature(json_t *root, const char *name)
{
	json_t *f;
	size_t i;

	json_array_foreach(json_object_get(root, "features"), i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
			return json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
	}
	return NULL;
}

static void test_draft_calendar(void **state)
{
	char *table = NULL, *f;
	json_t *root;

	(void)state;
	root = draft("month,day,y\n" DRAFT_CSV_ROWS, 0, &table);
	/* Every date, in calendar order; the columns stay features. */
	f = feature(root, "month day");
	assert_non_null(f);
	assert_string_equal(f, "{\"columns\":[\"month\",\"day\"],\"name\":\"month day\","
	                       "\"other\":true,\"type\":\"categorical\",\"values\":[\"jan 3\","
	                       "\"may 5\",\"may 6\",\"dec 31\"]}");
	free(f);
	assert_non_null(f = feature(root, "month"));
	free(f);
	assert_non_null(f = feature(root, "day"));
	free(f);
	assert_non_null(strstr(table, "month day  categorical  month and day read together as "
	                              "the calendar date (columns \"month\" and \"day\"): one "
	                              "effect per date, 4 dates"));
	free(table);
	json_decref(root);

	/* min_count 2: dates held once go to "(other)", and the table says so. */
	root = draft("month,day,y\n" DRAFT_CSV_ROWS, 2, &table);
	f = feature(root, "month day");
	assert_string_equal(f, "{\"columns\":[\"month\",\"day\"],\"name\":\"month day\","
	                       "\"other\":true,\"type\":\"categorical\",\"values\":[\"jan 3\","
	                       "\"may 5\",\"may 6\"]}");
	free(f);
	assert_non_null(strstr(table, "3 dates; 1 in fewer than 2 rows left out (they go to "
	                              "other)"));
	free(table);
	json_decref(root);

	/* Month numbers in a column named like a month, the day column named
	 * otherwise ("Day of month"). */
	root = draft("Month,Day of month,y\n5,5,yes\n5,5,no\n1,3,no\n1,3,yes\n", 0, NULL);
	f = feature(root, "Month Day of month");
	assert_non_null(f);
	assert_string_equal(f, "{\"columns\":[\"Month\",\"Day of month\"],\"name\":\"Month Day of "
	                       "month\",\"other\":true,\"type\":\"categorical\",\"values\":[\"1 "
	                       "3\",\"5 5\"]}");
	free(f);
	json_decref(root);
}

static void test_draft_no_calendar(void **state)
{
	json_t *root;

	(void)state;
	/* A day column with 32 is no day of the month. */
	root = draft("month,day,y\n" DRAFT_CSV_ROWS "may,32,no\n", 0, NULL);
	assert_null(feature(root, "month day"));
	json_decref(root);
	/* Nor with 0. */
	root = draft("month,day,y\n" DRAFT_CSV_ROWS "may,0,no\n", 0, NULL);
	assert_null(feature(root, "month day"));
	json_decref(root);
	/* Numbers 1 to 12 in a column not named like a month are no month. */
	root = draft("grade,day,y\n5,5,yes\n5,5,no\n1,3,no\n1,3,yes\n", 0, NULL);
	assert_null(feature(root, "grade day"));
	json_decref(root);
	/* A text that is no month's name. */
	root = draft("month,day,y\n" DRAFT_CSV_ROWS "smarch,3,no\n", 0, NULL);
	assert_null(feature(root, "month day"));
	json_decref(root);
}

/* ---- reason codes ---- */

/* A model by hand over "month day" alone: weights 2 for "may 5", 0.5 for
 * "(other)", baselines 0, so a lead's reason is its date with the weight
 * as its contribution. */
static void test_reasons(void **state)
{
	static const char schema[] =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": \"yes\", "
	        "\"negative\": \"no\"}, \"id\": \"lead\", \"features\": [{\"name\": \"month "
	        "day\", \"type\": \"categorical\", \"columns\": [\"month\", \"day\"], \"values\": "
	        "[\"apr 1\", \"may 5\"], \"other\": true}]}";
	static const char leads[] = "lead,month,day,y\nA,may,5,yes\nB,may,6,no\nC,,5,no\n"
	                            "D,apr,1,no\n";
	static const double w[4] = {0, -1, 2, 0.5};
	struct fl_schema *s = parse_ok(schema);
	struct fl_model *m = NULL;
	struct fl_score_opts o = {0};
	struct fl_score_report rep;
	char data[64], out[64] = "/tmp/fl_test_joined_out_XXXXXX", line[256];
	FILE *fp;
	int fd;
	static const char *const want[] = {
	        "lead,score,rank,decile,reason_1,contribution_1\n",
	        "A,0.880797,1,1,month day=may 5,2.0000\n",
	        "B,0.622459,2,3,month day=(unseen: may 6),0.5000\n",
	        "C,0.622459,3,6,month day=(missing),0.5000\n",
	        "D,0.268941,4,8,,\n",
	};

	(void)state;
	assert_int_equal(fl_model_new(s, &m), 0);
	fl_schema_free(s);
	memcpy(m->w, w, sizeof(w));
	write_tmp(data, leads);
	assert_true((fd = mkstemp(out)) >= 0);
	close(fd);
	o.data = data;
	o.out = out;
	o.n_reasons = 1;
	o.policy = FL_BAD_ROWS_FAIL;
	if (fl_score_file(m, &o, &rep) != 0)
		fail_msg("%s", fl_errmsg());
	assert_non_null(fp = fopen(out, "r"));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_non_null(fgets(line, sizeof(line), fp));
		assert_string_equal(line, want[i]);
	}
	assert_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	unlink(data);
	unlink(out);
	fl_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_and_canonical),
	        cmocka_unit_test(test_schema_errors),
	        cmocka_unit_test(test_fingerprint),
	        cmocka_unit_test(test_encode_rows),
	        cmocka_unit_test(test_encode_errors),
	        cmocka_unit_test(test_encode_fold),
	        cmocka_unit_test(test_encode_fold_blank_field),
	        cmocka_unit_test(test_draft_calendar),
	        cmocka_unit_test(test_draft_no_calendar),
	        cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
