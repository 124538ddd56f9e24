/*
 * Tests for src/core/rows.c, the one row pipeline: header binding, the
 * next good row under either --bad-rows policy with its position and line,
 * the skip count and samples, and the second pass after a rewind.
 *
 * Fixture tests/data/encode/leads.schema.json encodes to 10 columns:
 *   0 intercept, 1 age, 2 age (missing), 3 visits, 4 region=north,
 *   5 region=south, 6 region=(other), 7 tier=1, 8 tier=2, 9 tier=3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/rows.h"
#include "fedlead/schema.h"

#define DIM 10
#define SCHEMA_PATH FL_TEST_DATA "/encode/leads.schema.json"

/* Rows 2 and 4 are bad; row 3 spans two lines (a quoted newline). The
 * schema ignores "notes" by name, not "source". */
static const char CSV[] = "lead,age,visits,region,tier,won,notes,source\n"
                          "A,1,1,north,1,yes,,web\n"
                          "B,x,1,north,1,no,,web\n"
                          "C,2,1,south,2,no,\"two\nlines\",fair\n"
                          "D,3,1,north,9,yes,,web\n"
                          "E,4,2,north,3,yes,,\n";

static void write_tmp(char path[64], const char *bytes, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/fl_test_rows_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static struct fl_schema *load_schema(void)
{
	struct fl_schema *s = NULL;

	if (fl_schema_load(SCHEMA_PATH, &s) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(s->dim, DIM);
	return s;
}

static void test_skip_counts_and_positions(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_load_report rep;
	struct fl_rows *rows = NULL;
	double x[DIM], label = -1;
	const char *id = NULL;
	char path[64], msg[512];

	(void)state;
	write_tmp(path, CSV, strlen(CSV));
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(fl_rows_open(s, path, 1, FL_BAD_ROWS_SKIP, &rep, &rows), 0);
	/* The header's column the schema does not use, named. */
	assert_int_equal(rep.n_extra, 1);
	assert_string_equal(rep.extra, "source");

	assert_int_equal(fl_rows_next(rows, x, &label, &id), 1);
	assert_string_equal(id, "A");
	assert_true(label == 1 && x[0] == 1 && x[1] == 1 && x[4] == 1 && x[7] == 1);
	assert_int_equal(fl_rows_index(rows), 1);
	assert_int_equal(fl_rows_line(rows), 2);

	/* B (line 3) is skipped: C is the 3rd data record, on line 4. */
	assert_int_equal(fl_rows_next(rows, x, &label, &id), 1);
	assert_string_equal(id, "C");
	assert_true(label == 0 && x[1] == 2 && x[5] == 1 && x[8] == 1);
	assert_int_equal(fl_rows_index(rows), 3);
	assert_int_equal(fl_rows_line(rows), 4);
	assert_string_equal(fl_rows_record(rows)->fields[6].s, "two\nlines");

	/* D (line 6) is skipped: E is the 5th record, on line 7. */
	assert_int_equal(fl_rows_next(rows, x, NULL, NULL), 1);
	assert_int_equal(fl_rows_index(rows), 5);
	assert_int_equal(fl_rows_line(rows), 7);
	assert_int_equal(fl_rows_next(rows, x, NULL, NULL), 0);

	assert_int_equal(rep.skipped, 2);
	assert_int_equal(rep.n_samples, 2);
	assert_int_equal(rep.rows, 0); /* the caller's to fill */
	snprintf(msg, sizeof(msg), "%s:3:2: column \"age\": \"x\" is not a number", path);
	assert_string_equal(rep.samples[0], msg);
	snprintf(msg, sizeof(msg),
	         "%s:6:5: column \"tier\": \"9\" is not a listed category and there is no "
	         "\"other\"",
	         path);
	assert_string_equal(rep.samples[1], msg);

	/* A second pass without a report counts nothing and starts over. */
	assert_int_equal(fl_rows_rewind(rows, NULL), 0);
	assert_int_equal(fl_rows_next(rows, x, NULL, &id), 1);
	assert_string_equal(id, "A");
	assert_int_equal(fl_rows_index(rows), 1);
	assert_int_equal(fl_rows_next(rows, x, NULL, &id), 1);
	assert_string_equal(id, "C");
	assert_int_equal(fl_rows_index(rows), 3);
	assert_int_equal(rep.skipped, 2);
	fl_rows_close(rows);
	unlink(path);
	fl_schema_free(s);
}

static void test_fail_policy_stops_at_the_first_bad_row(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_load_report rep;
	struct fl_rows *rows = NULL;
	double x[DIM];
	char path[64], msg[512];

	(void)state;
	write_tmp(path, CSV, strlen(CSV));
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(fl_rows_open(s, path, 1, FL_BAD_ROWS_FAIL, &rep, &rows), 0);
	assert_int_equal(fl_rows_next(rows, x, NULL, NULL), 1);
	assert_int_equal(fl_rows_next(rows, x, NULL, NULL), FL_ERR_DATA);
	snprintf(msg, sizeof(msg), "%s:3:2: column \"age\": \"x\" is not a number", path);
	assert_string_equal(fl_errmsg(), msg);
	assert_int_equal(rep.skipped, 0);
	fl_rows_close(rows);
	unlink(path);
	fl_schema_free(s);
}

static void test_open_errors(void **state)
{
	struct fl_schema *s = load_schema();
	struct fl_rows *rows = (struct fl_rows *)1;
	char path[64], msg[512];

	(void)state;
	write_tmp(path, "", 0);
	assert_int_equal(fl_rows_open(s, path, 1, FL_BAD_ROWS_SKIP, NULL, &rows), FL_ERR_DATA);
	assert_null(rows);
	snprintf(msg, sizeof(msg), "%s: the file is empty (no header)", path);
	assert_string_equal(fl_errmsg(), msg);
	unlink(path);

	/* Without the label column: refused when it is needed, fine when not. */
	{
		static const char csv[] = "lead,age,visits,region,tier\nA,1,1,north,1\n";
		double x[DIM], label = -7;

		write_tmp(path, csv, strlen(csv));
		assert_int_equal(fl_rows_open(s, path, 1, FL_BAD_ROWS_SKIP, NULL, &rows),
		                 FL_ERR_DATA);
		snprintf(msg, sizeof(msg), "%s:1: column \"won\" required by the schema is missing",
		         path);
		assert_string_equal(fl_errmsg(), msg);
		assert_int_equal(fl_rows_open(s, path, 0, FL_BAD_ROWS_SKIP, NULL, &rows), 0);
		assert_int_equal(fl_rows_next(rows, x, &label, NULL), 1);
		assert_true(label == -7); /* untouched: there is no label */
		fl_rows_close(rows);
		unlink(path);
	}
	assert_int_equal(
	        fl_rows_open(s, "/nonexistent/leads.csv", 1, FL_BAD_ROWS_SKIP, NULL, &rows),
	        FL_ERR_IO);
	assert_string_equal(fl_errmsg(), "/nonexistent/leads.csv: No such file or directory");
	fl_rows_close(NULL);
	fl_schema_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_skip_counts_and_positions),
	        cmocka_unit_test(test_fail_policy_stops_at_the_first_bad_row),
	        cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
