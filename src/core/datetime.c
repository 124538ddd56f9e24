/*
 * Dates and timestamps: a small exact parser for a fixed set of formats,
 * civil-calendar arithmetic, and the detection of a column's format.
 */
#include "fedlead/datetime.h"

#include <stdio.h>
#include <string.h>

#include "fedlead/error.h"

static const char *const format_names[FL_DATE_N_FORMATS] = {
        "iso", "dmy", "mdy", "ymd/", "dmy.", "d-mon-y", "mon d, y", "d month y"};

/* What a value must look like, for "expected ..." reasons. */
static const char *const format_shapes[FL_DATE_N_FORMATS] = {
        "YYYY-MM-DD with an optional THH:MM:SS",
        "day/month/year",
        "month/day/year",
        "year/month/day",
        "day.month.year",
        "day-Mon-year",
        "Mon day, year",
        "day Month year"};

static const char *const month_names[12] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
static const char *const weekday_names[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

const char *fl_date_format_name(enum fl_date_format f)
{
	return (unsigned)f < FL_DATE_N_FORMATS ? format_names[f] : NULL;
}

int fl_date_format_parse(const char *name, enum fl_date_format *out)
{
	for (int i = 0; i < FL_DATE_N_FORMATS; i++)
		if (strcmp(name, format_names[i]) == 0) {
			*out = (enum fl_date_format)i;
			return 0;
		}
	return FL_ERR_INVALID;
}

const char *fl_date_weekday_name(int weekday)
{
	return weekday >= 0 && weekday < 7 ? weekday_names[weekday] : "?";
}

const char *fl_date_month_name(int month)
{
	static const char *const abbr[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

	return month >= 1 && month <= 12 ? abbr[month - 1] : "?";
}

/* ---- civil calendar (proleptic Gregorian), after Howard Hinnant's
 * days_from_civil / civil_from_days: integer arithmetic only, exact for any
 * year a four-digit field can hold ---- */

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && leap(y) ? 29 : dim[m - 1];
}

int64_t fl_date_days(int year, int month, int day)
{
	int64_t y = (int64_t)year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;                                                 /* [0, 399] */
	int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1; /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */

	return era * 146097 + doe - 719468;
}

void fl_date_civil(int64_t days, struct fl_date *out)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;

	out->days = days;
	out->year = (int)(yoe + era * 400 + (m <= 2));
	out->month = (int)m;
	out->day = (int)d;
	/* 1970-01-01 was a Thursday (3 when Monday is 0). */
	out->weekday = (int)(((days + 3) % 7 + 7) % 7);
}

/* ---- the parser ---- */

struct cur {
	const char *p, *e;
};

static int at(const struct cur *c, char ch)
{
	return c->p < c->e && *c->p == ch;
}

static int eat(struct cur *c, char ch)
{
	if (!at(c, ch))
		return 0;
	c->p++;
	return 1;
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* From min to max digits as a number; 0 when there are fewer than min. */
static int number(struct cur *c, int min, int max, int *v)
{
	int n = 0, x = 0;

	while (n < max && c->p < c->e && is_digit(*c->p)) {
		x = x * 10 + (*c->p - '0');
		c->p++;
		n++;
	}
	/* More digits than max is a different shape, not a longer number. */
	if (n < min || (c->p < c->e && is_digit(*c->p)))
		return 0;
	*v = x;
	return 1;
}

static int blanks(struct cur *c)
{
	int n = 0;

	while (c->p < c->e && (*c->p == ' ' || *c->p == '\t')) {
		c->p++;
		n++;
	}
	return n;
}

/* An English month name, full or its first three letters, in any case. */
static int month_name(struct cur *c, int *month, char *why, size_t whysz)
{
	const char *s = c->p;
	size_t n = 0;

	while (s + n < c->e && is_alpha(s[n]))
		n++;
	if (n == 0)
		return 0;
	for (int m = 0; m < 12; m++) {
		size_t full = strlen(month_names[m]), k;

		if (n != 3 && n != full)
			continue;
		for (k = 0; k < n && lower(s[k]) == lower(month_names[m][k]); k++)
			;
		if (k == n) {
			*month = m + 1;
			c->p += n;
			return 1;
		}
	}
	snprintf(why, whysz, "unknown month name \"%.*s\"", (int)(n > 20 ? 20 : n), s);
	return -1;
}

/* The time after a date: H:MM or H:MM:SS (with a fraction), then AM/PM
 * unless iso; for iso HH, then Z or an offset. 0, or -1 with why set. */
static int time_of_day(struct cur *c, int iso, char *why, size_t whysz)
{
	int h, mi, sec = 0, ampm = 0, oh, om = 0;

	if (!number(c, iso ? 2 : 1, 2, &h) || !eat(c, ':') || !number(c, 2, 2, &mi)) {
		snprintf(why, whysz, "expected a time HH:MM[:SS] after the date");
		return -1;
	}
	if (eat(c, ':')) {
		if (!number(c, 2, 2, &sec)) {
			snprintf(why, whysz, "expected seconds after HH:MM:");
			return -1;
		}
		if (at(c, '.') || at(c, ',')) {
			int nd = 0;

			for (c->p++; c->p < c->e && is_digit(*c->p); c->p++)
				nd++;
			if (nd == 0) {
				snprintf(why, whysz,
				         "expected digits after the seconds' decimal point");
				return -1;
			}
		}
	}
	if (!iso) {
		struct cur t = *c;

		blanks(&t);
		if (t.e - t.p >= 2 && (lower(t.p[0]) == 'a' || lower(t.p[0]) == 'p') &&
		    lower(t.p[1]) == 'm') {
			ampm = lower(t.p[0]) == 'a' ? 1 : 2;
			c->p = t.p + 2;
		}
	} else if (eat(c, 'Z') || eat(c, 'z')) {
		/* UTC */
	} else if (at(c, '+') || at(c, '-')) {
		const char *q = ++c->p;

		/* +HH, +HH:MM or +HHMM */
		if (!number(c, 2, 4, &oh) || c->p - q == 3 ||
		    (c->p - q == 2 && eat(c, ':') && !number(c, 2, 2, &om))) {
			snprintf(why, whysz, "expected a UTC offset +HH:MM");
			return -1;
		}
		if (c->p - q == 4) {
			om = oh % 100;
			oh /= 100;
		}
		if (oh > 14 || om > 59 || (oh == 14 && om > 0)) {
			snprintf(why, whysz, "UTC offset %02d:%02d is not from 00:00 to 14:00", oh,
			         om);
			return -1;
		}
	}
	if (ampm != 0 && (h < 1 || h > 12)) {
		snprintf(why, whysz, "hour %d is not from 1 to 12 before %s", h,
		         ampm == 1 ? "AM" : "PM");
		return -1;
	}
	if (h > 23) {
		snprintf(why, whysz, "hour %d is not from 0 to 23", h);
		return -1;
	}
	if (mi > 59) {
		snprintf(why, whysz, "minute %d is not from 0 to 59", mi);
		return -1;
	}
	/* 60 is a leap second, which ISO 8601 and CRMs may write. */
	if (sec > 60) {
		snprintf(why, whysz, "second %d is not from 0 to 60", sec);
		return -1;
	}
	return 0;
}

/* The parse, with the reason for a refusal in why (never set on success). */
static int parse(const char *s, size_t len, enum fl_date_format f, struct fl_date *out, char *why,
                 size_t whysz)
{
	struct cur c = {s, s + len};
	int y = 0, m = 0, d = 0, a, b, k;
	char sep;

	while (c.e > c.p && (c.e[-1] == ' ' || c.e[-1] == '\t'))
		c.e--;
	blanks(&c);
	if ((unsigned)f >= FL_DATE_N_FORMATS) {
		snprintf(why, whysz, "unknown date format");
		return -1;
	}
	switch (f) {
	case FL_DATE_ISO:
		if (!number(&c, 4, 4, &y) || !eat(&c, '-') || !number(&c, 2, 2, &m) ||
		    !eat(&c, '-') || !number(&c, 2, 2, &d))
			goto shape;
		break;
	case FL_DATE_DMY:
	case FL_DATE_MDY:
		if (!number(&c, 1, 2, &a) || !(at(&c, '/') || at(&c, '-')))
			goto shape;
		sep = *c.p++;
		if (!number(&c, 1, 2, &b) || !eat(&c, sep) || !number(&c, 4, 4, &y))
			goto shape;
		d = f == FL_DATE_DMY ? a : b;
		m = f == FL_DATE_DMY ? b : a;
		break;
	case FL_DATE_YMD_SLASH:
		if (!number(&c, 4, 4, &y) || !eat(&c, '/') || !number(&c, 1, 2, &m) ||
		    !eat(&c, '/') || !number(&c, 1, 2, &d))
			goto shape;
		break;
	case FL_DATE_DMY_DOT:
		if (!number(&c, 1, 2, &d) || !eat(&c, '.') || !number(&c, 1, 2, &m) ||
		    !eat(&c, '.') || !number(&c, 4, 4, &y))
			goto shape;
		break;
	case FL_DATE_D_MON_Y:
		if (!number(&c, 1, 2, &d) || !eat(&c, '-'))
			goto shape;
		if ((k = month_name(&c, &m, why, whysz)) < 0)
			return -1;
		if (k == 0 || !eat(&c, '-') || !number(&c, 4, 4, &y))
			goto shape;
		break;
	case FL_DATE_MON_D_Y:
		if ((k = month_name(&c, &m, why, whysz)) < 0)
			return -1;
		if (k == 0 || blanks(&c) == 0 || !number(&c, 1, 2, &d))
			goto shape;
		k = eat(&c, ',');
		if (blanks(&c) + k == 0 || !number(&c, 4, 4, &y))
			goto shape;
		break;
	case FL_DATE_D_MONTH_Y:
		if (!number(&c, 1, 2, &d) || blanks(&c) == 0)
			goto shape;
		if ((k = month_name(&c, &m, why, whysz)) < 0)
			return -1;
		if (k == 0 || blanks(&c) == 0 || !number(&c, 4, 4, &y))
			goto shape;
		break;
	default: goto shape;
	}
	if (c.p < c.e) {
		int iso = f == FL_DATE_ISO;

		/* ISO separates the time by T (or a blank, as SQL exports do);
		 * the others by blanks. */
		if (iso ? !(eat(&c, 'T') || eat(&c, 't') || eat(&c, ' ')) : blanks(&c) == 0)
			goto shape;
		if (time_of_day(&c, iso, why, whysz) != 0)
			return -1;
		if (c.p < c.e) {
			snprintf(why, whysz, "unexpected text after the %s",
			         iso ? "timestamp" : "date and time");
			return -1;
		}
	}
	if (y < 1) {
		snprintf(why, whysz, "year 0000 does not exist");
		return -1;
	}
	if (m < 1 || m > 12) {
		snprintf(why, whysz, "month %d is not from 1 to 12", m);
		return -1;
	}
	if (d < 1 || d > days_in_month(y, m)) {
		snprintf(why, whysz, "day %d does not exist in %s %d", d, month_names[m - 1], y);
		return -1;
	}
	fl_date_civil(fl_date_days(y, m, d), out);
	return 0;
shape:
	snprintf(why, whysz, "expected %s", format_shapes[f]);
	return -1;
}

int fl_date_parse(const char *s, size_t len, enum fl_date_format f, struct fl_date *out)
{
	char why[128];

	if (parse(s, len, f, out, why, sizeof(why)) != 0)
		return fl_fail(FL_ERR_DATA, "%s", why);
	return 0;
}

void fl_date_scan_init(struct fl_date_scan *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->alive = (1u << FL_DATE_N_FORMATS) - 1;
}

void fl_date_scan_add(struct fl_date_scan *sc, const char *s, size_t len)
{
	struct fl_date dt;
	char why[128];

	if (len == 0 || sc->alive == 0)
		return;
	for (int f = 0; f < FL_DATE_N_FORMATS; f++) {
		if (!(sc->alive & (1u << f)))
			continue;
		if (parse(s, len, (enum fl_date_format)f, &dt, why, sizeof(why)) != 0) {
			sc->alive &= ~(1u << f);
			continue;
		}
		if (sc->n == 0 || dt.days < sc->first[f])
			sc->first[f] = dt.days;
		if (sc->n == 0 || dt.days > sc->last[f])
			sc->last[f] = dt.days;
	}
	sc->n++;
}

int fl_date_scan_result(const struct fl_date_scan *sc, enum fl_date_format *format, int64_t *first,
                        int64_t *last)
{
	int f, res = FL_DATE_FOUND;

	*format = FL_DATE_ISO;
	*first = *last = 0;
	if (sc->n == 0 || sc->alive == 0)
		return FL_DATE_NONE;
	/* Only day/month/year can be read both ways; every other pair of
	 * formats differs in its separators or field widths. */
	if ((sc->alive & (1u << FL_DATE_DMY)) && (sc->alive & (1u << FL_DATE_MDY))) {
		f = FL_DATE_DMY;
		res = FL_DATE_AMBIGUOUS;
	} else {
		for (f = 0; !(sc->alive & (1u << f)); f++)
			;
	}
	*format = (enum fl_date_format)f;
	*first = sc->first[f];
	*last = sc->last[f];
	return res;
}

int fl_date_detect(const char *const *values, size_t n, const char **format_out)
{
	struct fl_date_scan sc;
	enum fl_date_format f;
	int64_t first, last;
	int r;

	fl_date_scan_init(&sc);
	for (size_t i = 0; i < n && sc.alive != 0; i++)
		fl_date_scan_add(&sc, values[i], strlen(values[i]));
	r = fl_date_scan_result(&sc, &f, &first, &last);
	*format_out = r == FL_DATE_NONE ? NULL : fl_date_format_name(f);
	return r;
}
