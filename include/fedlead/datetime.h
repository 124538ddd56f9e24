/*
 * Dates and timestamps as CRM exports write them, parsed exactly.
 *
 * No strptime, timegm or locale: the formats are a fixed set, month names
 * are English, and a date becomes a day number by integer civil-calendar
 * arithmetic (proleptic Gregorian), so a value means the same day on every
 * partner's machine whatever its locale or TZ.
 *
 * The formats, by the name a schema gives them ("format"):
 *   "iso"        2024-03-05, 2024-03-05T14:22:10, 2024-03-05 14:22:10.123Z,
 *                2024-03-05T14:22+01:00 (T or a blank before the time;
 *                fractional seconds; Z, +HH:MM, +HHMM or +HH)
 *   "dmy"        05/03/2024, 5/3/2024, 05-03-2024 (day first)
 *   "mdy"        03/05/2024, 3/5/2024, 03-05-2024 (month first)
 *   "ymd/"       2024/03/05
 *   "dmy."       05.03.2024
 *   "d-mon-y"    5-Mar-2024, 05-March-2024
 *   "mon d, y"   Mar 5, 2024, March 5 2024
 *   "d month y"  05 March 2024, 5 Mar 2024
 * Years have four digits. Every format but "iso" may be followed by a
 * time, "HH:MM" or "HH:MM:SS" (fractional seconds allowed), with "AM" or
 * "PM" (then the hour is 1 to 12). Blanks around the value are allowed.
 *
 * A UTC offset is checked (at most 14:00) but not applied: the date is the
 * calendar day the CRM wrote, whose weekday and month are the ones a
 * salesperson saw. The time of day is checked and then dropped: a date
 * feature works in whole days.
 */
#ifndef FEDLEAD_DATETIME_H
#define FEDLEAD_DATETIME_H

#include <stddef.h>
#include <stdint.h>

enum fl_date_format {
	FL_DATE_ISO = 0,
	FL_DATE_DMY,
	FL_DATE_MDY,
	FL_DATE_YMD_SLASH,
	FL_DATE_DMY_DOT,
	FL_DATE_D_MON_Y,
	FL_DATE_MON_D_Y,
	FL_DATE_D_MONTH_Y,
	FL_DATE_N_FORMATS
};

struct fl_date {
	int64_t days;         /* days since 1970-01-01 (negative before) */
	int year, month, day; /* month 1-12, day 1-31 */
	int weekday;          /* 0 = Monday ... 6 = Sunday */
};

/* A format's name ("iso", "dmy", ...), or NULL for a value out of range. */
const char *fl_date_format_name(enum fl_date_format f);

/* The format with that name: 0 and *out, or FL_ERR_INVALID. */
int fl_date_format_parse(const char *name, enum fl_date_format *out);

/*
 * Parses the len bytes at s (no NUL needed) as a date in format f.
 * Returns 0 and fills *out, or FL_ERR_DATA with fl_errmsg() saying why in
 * a phrase that fits in parentheses after the value: "day 31 does not
 * exist in February 2024", "month 13 is not from 1 to 12", "hour 25 is not
 * from 0 to 23", "expected day/month/year", "unknown month name \"Mrz\"".
 */
int fl_date_parse(const char *s, size_t len, enum fl_date_format f, struct fl_date *out);

/* The day number of a valid year, month, day (no check). */
int64_t fl_date_days(int year, int month, int day);

/* The calendar date of day number days (the inverse of fl_date_days()). */
void fl_date_civil(int64_t days, struct fl_date *out);

/* English names, for column names: "Mon".."Sun" (weekday 0..6), "Jan".."Dec"
 * (month 1..12); "?" out of range. */
const char *fl_date_weekday_name(int weekday);
const char *fl_date_month_name(int month);

/*
 * A column's values scanned one at a time, for the schema draft (which
 * reads a file once): which formats parse every non-empty value so far,
 * and each one's earliest and latest day. Initialise with
 * fl_date_scan_init(); nothing to free.
 */
struct fl_date_scan {
	unsigned alive; /* bit f: format f parses every value so far */
	uint64_t n;     /* non-empty values seen */
	int64_t first[FL_DATE_N_FORMATS], last[FL_DATE_N_FORMATS]; /* day numbers */
};

void fl_date_scan_init(struct fl_date_scan *sc);

/* Adds one value (len bytes at s); an empty one is skipped. */
void fl_date_scan_add(struct fl_date_scan *sc, const char *s, size_t len);

/* What fl_date_detect() found. */
enum { FL_DATE_NONE = 0, FL_DATE_FOUND = 1, FL_DATE_AMBIGUOUS = 2 };

/*
 * Whether the n values (empty strings skipped; at least one must be
 * non-empty) are all dates in one format, and which. FL_DATE_FOUND: one
 * format parses them all, *format_out is its name. FL_DATE_AMBIGUOUS: both
 * "dmy" and "mdy" parse them all (no day above 12 says which field is the
 * day), *format_out is "dmy" and a person must check. FL_DATE_NONE: no
 * format parses every value, *format_out is NULL.
 *
 * Day-first or month-first is decided by the values themselves: a first
 * field above 12 cannot be a month, so "mdy" fails on it, and a second
 * field above 12 rules out "dmy".
 */
int fl_date_detect(const char *const *values, size_t n, const char **format_out);

/*
 * fl_date_detect() over a scan: FL_DATE_NONE, FL_DATE_FOUND or
 * FL_DATE_AMBIGUOUS with *format as there, and the format's earliest and
 * latest day (when not FL_DATE_NONE).
 */
int fl_date_scan_result(const struct fl_date_scan *sc, enum fl_date_format *format, int64_t *first,
                        int64_t *last);

#endif
