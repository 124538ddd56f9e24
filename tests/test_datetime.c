/*
 * Tests for src/core/datetime.c: every format with known answers (day
 * numbers and weekdays checked against a calendar, not against the code),
 * leap years 2000, 1900 and 2024, the exact reasons for refused values, and
 * the detection of a column's format including day-first against
 * month-first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "fedlead/datetime.h"
#include "fedlead/error.h"

static void parse_ok(const char *v, const char *format, int64_t days, int y, int m, int d,
                     int weekday)
{
	enum fl_date_format f;
	struct fl_date dt;
	int r;

	assert_int_equal(fl_date_format_parse(format, &f), 0);
	r = fl_date_parse(v, strlen(v), f, &dt);
	if (r != 0)
		print_error("\"%s\" as %s: %s\n", v, format, fl_errmsg());
	assert_int_equal(r, 0);
	assert_int_equal(dt.days, days);
	assert_int_equal(dt.year, y);
	assert_int_equal(dt.month, m);
	assert_int_equal(dt.day, d);
	assert_int_equal(dt.weekday, weekday);
}

static void parse_bad(const char *v, const char *format, const char *why)
{
	enum fl_date_format f;
	struct fl_date dt;

	assert_int_equal(fl_date_format_parse(format, &f), 0);
	assert_int_equal(fl_date_parse(v, strlen(v), f, &dt), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), why);
}

/* 2024-03-05 is day 19787, a Tuesday (1); the same day in every format. */
static void test_formats(void **state)
{
	(void)state;
	parse_ok("2024-03-05", "iso", 19787, 2024, 3, 5, 1);
	parse_ok("2024-03-05T14:22:10", "iso", 19787, 2024, 3, 5, 1);
	parse_ok("2024-03-05 14:22:10", "iso", 19787, 2024, 3, 5, 1);
	parse_ok("2024-03-05T14:22:10Z", "iso", 19787, 2024, 3, 5, 1);
	parse_ok("2024-03-05T14:22:10.123456Z", "iso", 19787, 2024, 3, 5, 1);
	parse_ok("2024-03-05T14:22+01:00", "iso", 19787, 2024, 3, 5, 1);
	parse_ok("2024-03-05T23:59:59-0800", "iso", 19787, 2024, 3, 5, 1);
	parse_ok("2024-03-05T00:00:00+14", "iso", 19787, 2024, 3, 5, 1);
	parse_ok(" 2024-03-05 ", "iso", 19787, 2024, 3, 5, 1);
	parse_ok("05/03/2024", "dmy", 19787, 2024, 3, 5, 1);
	parse_ok("5/3/2024", "dmy", 19787, 2024, 3, 5, 1);
	parse_ok("05-03-2024", "dmy", 19787, 2024, 3, 5, 1);
	parse_ok("05/03/2024 14:22", "dmy", 19787, 2024, 3, 5, 1);
	parse_ok("3/5/2024", "mdy", 19787, 2024, 3, 5, 1);
	parse_ok("03/05/2024 2:22 PM", "mdy", 19787, 2024, 3, 5, 1);
	parse_ok("03/05/2024 12:00:00 am", "mdy", 19787, 2024, 3, 5, 1);
	parse_ok("03/05/2024 11:59:59PM", "mdy", 19787, 2024, 3, 5, 1);
	parse_ok("2024/03/05", "ymd/", 19787, 2024, 3, 5, 1);
	parse_ok("2024/3/5 08:00", "ymd/", 19787, 2024, 3, 5, 1);
	parse_ok("05.03.2024", "dmy.", 19787, 2024, 3, 5, 1);
	parse_ok("5.3.2024 14:22:10", "dmy.", 19787, 2024, 3, 5, 1);
	parse_ok("5-Mar-2024", "d-mon-y", 19787, 2024, 3, 5, 1);
	parse_ok("05-MARCH-2024", "d-mon-y", 19787, 2024, 3, 5, 1);
	parse_ok("Mar 5, 2024", "mon d, y", 19787, 2024, 3, 5, 1);
	parse_ok("March 05 2024 9:15 AM", "mon d, y", 19787, 2024, 3, 5, 1);
	parse_ok("05 March 2024", "d month y", 19787, 2024, 3, 5, 1);
	parse_ok("5 mar 2024 17:00", "d month y", 19787, 2024, 3, 5, 1);
}

/* Day numbers across eras and leap rules: 2000 is a leap year (divisible
 * by 400), 1900 is not (by 100), 2024 is (by 4). */
static void test_calendar(void **state)
{
	struct fl_date dt;

	(void)state;
	parse_ok("1970-01-01", "iso", 0, 1970, 1, 1, 3);
	parse_ok("1969-12-31", "iso", -1, 1969, 12, 31, 2);
	parse_ok("2000-02-29", "iso", 11016, 2000, 2, 29, 1);
	parse_ok("1900-03-01", "iso", -25508, 1900, 3, 1, 3);
	parse_ok("2024-02-29", "iso", 19782, 2024, 2, 29, 3);
	parse_ok("2024-12-31", "iso", 20088, 2024, 12, 31, 1);
	parse_ok("2026-01-01", "iso", 20454, 2026, 1, 1, 3);
	parse_ok("0001-01-01", "iso", -719162, 1, 1, 1, 0);
	parse_ok("9999-12-31", "iso", 2932896, 9999, 12, 31, 4);
	parse_bad("1900-02-29", "iso", "day 29 does not exist in February 1900");
	parse_bad("2023-02-29", "iso", "day 29 does not exist in February 2023");
	parse_bad("29/02/1900", "dmy", "day 29 does not exist in February 1900");
	/* fl_date_civil() is the inverse of fl_date_days() everywhere. */
	for (int64_t d = -800000; d <= 3000000; d += 997) {
		fl_date_civil(d, &dt);
		assert_int_equal(fl_date_days(dt.year, dt.month, dt.day), d);
	}
}

static void test_refused(void **state)
{
	(void)state;
	parse_bad("31/02/2024", "dmy", "day 31 does not exist in February 2024");
	parse_bad("31/04/2024", "dmy", "day 31 does not exist in April 2024");
	parse_bad("00/01/2024", "dmy", "day 0 does not exist in January 2024");
	parse_bad("13/05/2024", "mdy", "month 13 is not from 1 to 12");
	parse_bad("2024-00-10", "iso", "month 0 is not from 1 to 12");
	parse_bad("0000-01-01", "iso", "year 0000 does not exist");
	parse_bad("2024-03-05T24:00:00", "iso", "hour 24 is not from 0 to 23");
	parse_bad("2024-03-05T10:60", "iso", "minute 60 is not from 0 to 59");
	parse_bad("2024-03-05T10:59:61", "iso", "second 61 is not from 0 to 60");
	parse_bad("2024-03-05T10:00+15:00", "iso", "UTC offset 15:00 is not from 00:00 to 14:00");
	parse_bad("2024-03-05T10:00+01:0", "iso", "expected a UTC offset +HH:MM");
	parse_bad("03/05/2024 13:00 PM", "mdy", "hour 13 is not from 1 to 12 before PM");
	parse_bad("03/05/2024 0:30 AM", "mdy", "hour 0 is not from 1 to 12 before AM");
	parse_bad("05/03/2024 noon", "dmy", "expected a time HH:MM[:SS] after the date");
	parse_bad("2024-03-05T14:22:10 UTC", "iso", "unexpected text after the timestamp");
	parse_bad("05/03/24", "dmy", "expected day/month/year");
	parse_bad("05/03-2024", "dmy", "expected day/month/year");
	parse_bad("2024-3-5", "iso", "expected YYYY-MM-DD with an optional THH:MM:SS");
	parse_bad("20240305", "iso", "expected YYYY-MM-DD with an optional THH:MM:SS");
	parse_bad("5-Mrz-2024", "d-mon-y", "unknown month name \"Mrz\"");
	parse_bad("Marc 5, 2024", "mon d, y", "unknown month name \"Marc\"");
	parse_bad("5 Mar, 2024", "d month y", "expected day Month year");
	parse_bad("2024.03.05", "dmy.", "expected day.month.year");
	parse_bad("", "iso", "expected YYYY-MM-DD with an optional THH:MM:SS");
}

static int detect(const char *const *v, size_t n, const char **fmt)
{
	return fl_date_detect(v, n, fmt);
}

static void test_detect(void **state)
{
	static const char *const iso[] = {"2024-03-05", "", "2024-03-06T10:00:00Z"};
	static const char *const dmy[] = {"05/03/2024", "13/03/2024", ""};
	static const char *const mdy[] = {"03/05/2024", "03/13/2024 2:00 PM"};
	static const char *const undecided[] = {"05/03/2024", "12/11/2023", "1/2/2022"};
	static const char *const both[] = {"13/03/2024", "03/13/2024"};
	static const char *const mixed[] = {"2024-03-05", "05/03/2024"};
	static const char *const words[] = {"5-Mar-2024", "28-Feb-2023"};
	static const char *const long_words[] = {"Mar 5, 2024", "December 31, 2023"};
	static const char *const dots[] = {"05.03.2024", "31.12.2023"};
	static const char *const ymd[] = {"2024/03/05", "2023/12/31"};
	static const char *const dmonth[] = {"05 March 2024", "1 Jan 2020"};
	static const char *const numbers[] = {"12", "13"};
	static const char *const empty[] = {"", ""};
	static const char *const bad_day[] = {"2024-03-05", "2023-02-29"};
	const char *fmt = "x";

	(void)state;
	assert_int_equal(detect(iso, 3, &fmt), FL_DATE_FOUND);
	assert_string_equal(fmt, "iso");
	/* A first field above 12 is a day. */
	assert_int_equal(detect(dmy, 3, &fmt), FL_DATE_FOUND);
	assert_string_equal(fmt, "dmy");
	/* A second field above 12 is a day, so the first is the month. */
	assert_int_equal(detect(mdy, 2, &fmt), FL_DATE_FOUND);
	assert_string_equal(fmt, "mdy");
	/* Nothing decides: day-first is drafted, and said to be a guess. */
	assert_int_equal(detect(undecided, 3, &fmt), FL_DATE_AMBIGUOUS);
	assert_string_equal(fmt, "dmy");
	/* Both orders in one column: not dates in one format. */
	assert_int_equal(detect(both, 2, &fmt), FL_DATE_NONE);
	assert_null(fmt);
	assert_int_equal(detect(mixed, 2, &fmt), FL_DATE_NONE);
	assert_null(fmt);
	assert_int_equal(detect(words, 2, &fmt), FL_DATE_FOUND);
	assert_string_equal(fmt, "d-mon-y");
	assert_int_equal(detect(long_words, 2, &fmt), FL_DATE_FOUND);
	assert_string_equal(fmt, "mon d, y");
	assert_int_equal(detect(dots, 2, &fmt), FL_DATE_FOUND);
	assert_string_equal(fmt, "dmy.");
	assert_int_equal(detect(ymd, 2, &fmt), FL_DATE_FOUND);
	assert_string_equal(fmt, "ymd/");
	assert_int_equal(detect(dmonth, 2, &fmt), FL_DATE_FOUND);
	assert_string_equal(fmt, "d month y");
	assert_int_equal(detect(numbers, 2, &fmt), FL_DATE_NONE);
	assert_int_equal(detect(empty, 2, &fmt), FL_DATE_NONE);
	/* One impossible day makes the column not a date column. */
	assert_int_equal(detect(bad_day, 2, &fmt), FL_DATE_NONE);
}

static void test_names(void **state)
{
	enum fl_date_format f;

	(void)state;
	assert_string_equal(fl_date_weekday_name(0), "Mon");
	assert_string_equal(fl_date_weekday_name(6), "Sun");
	assert_string_equal(fl_date_month_name(1), "Jan");
	assert_string_equal(fl_date_month_name(12), "Dec");
	assert_string_equal(fl_date_month_name(13), "?");
	assert_int_equal(fl_date_format_parse("dd/mm/yyyy", &f), FL_ERR_INVALID);
	for (int i = 0; i < FL_DATE_N_FORMATS; i++) {
		assert_int_equal(fl_date_format_parse(fl_date_format_name(i), &f), 0);
		assert_int_equal(f, i);
	}
	assert_null(fl_date_format_name(FL_DATE_N_FORMATS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_formats), cmocka_unit_test(test_calendar),
	        cmocka_unit_test(test_refused), cmocka_unit_test(test_detect),
	        cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
