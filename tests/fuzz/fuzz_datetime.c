/*
 * Fuzz target: the date parser. The first byte picks a format, the rest is
 * the value, parsed by fl_date_parse(). A date that parses must be a real
 * calendar day whose day number agrees with fl_date_days() and
 * fl_date_civil(), and written again in the same format it must parse to
 * the same day. A refusal must say why. The value, split at newlines, is
 * also a column for fl_date_detect(): a format it finds parses every line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/datetime.h"
#include "fedlead/error.h"
#include "fuzz_common.h"

static int days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/* d written in format f, the plainest way that format allows. */
static void write_date(enum fl_date_format f, const struct fl_date *d, char *buf, size_t n)
{
	static const char *const full[12] = {"January",   "February", "March",    "April",
	                                     "May",       "June",     "July",     "August",
	                                     "September", "October",  "November", "December"};
	const char *mon = fl_date_month_name(d->month);

	switch (f) {
	case FL_DATE_ISO: snprintf(buf, n, "%04d-%02d-%02d", d->year, d->month, d->day); break;
	case FL_DATE_DMY: snprintf(buf, n, "%d/%d/%04d", d->day, d->month, d->year); break;
	case FL_DATE_MDY: snprintf(buf, n, "%02d-%02d-%04d", d->month, d->day, d->year); break;
	case FL_DATE_YMD_SLASH: snprintf(buf, n, "%04d/%d/%d", d->year, d->month, d->day); break;
	case FL_DATE_DMY_DOT: snprintf(buf, n, "%02d.%02d.%04d", d->day, d->month, d->year); break;
	case FL_DATE_D_MON_Y: snprintf(buf, n, "%d-%s-%04d", d->day, mon, d->year); break;
	case FL_DATE_MON_D_Y:
		snprintf(buf, n, "%s %d, %04d", full[d->month - 1], d->day, d->year);
		break;
	default: snprintf(buf, n, "%02d %s %04d", d->day, full[d->month - 1], d->year); break;
	}
}

static void check_detect(const char *text, size_t len)
{
	char *copy = malloc(len + 1), **lines = NULL;
	const char *fmt;
	size_t n = 0;
	enum fl_date_format f;
	struct fl_date d;
	int r;

	if (copy == NULL || (lines = malloc((len + 1) * sizeof(*lines))) == NULL)
		fz_die("out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (char *p = copy, *nl;; p = nl + 1) {
		lines[n++] = p;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
	}
	r = fl_date_detect((const char *const *)lines, n, &fmt);
	if (r != FL_DATE_NONE) {
		if (fmt == NULL || fl_date_format_parse(fmt, &f) != 0)
			fz_die("detection found no format name");
		for (size_t i = 0; i < n; i++)
			if (lines[i][0] != '\0' &&
			    fl_date_parse(lines[i], strlen(lines[i]), f, &d) != 0)
				fz_die("detected %s, but line %zu does not parse: %s", fmt, i,
				       fl_errmsg());
	} else if (fmt != NULL)
		fz_die("no date column, but a format");
	free(lines);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum fl_date_format f;
	struct fl_date d, c, again;
	char buf[64];

	fz_init();
	if (size == 0)
		return 0;
	f = (enum fl_date_format)(data[0] % FL_DATE_N_FORMATS);
	data++;
	size--;
	if (fl_date_parse((const char *)data, size, f, &d) != 0) {
		if (fl_errmsg()[0] == '\0')
			fz_die("a refusal without a reason");
	} else {
		if (d.year < 1 || d.year > 9999 || d.month < 1 || d.month > 12 || d.day < 1 ||
		    d.day > days_in_month(d.year, d.month) || d.weekday < 0 || d.weekday > 6)
			fz_die("%04d-%02d-%02d (weekday %d) is not a day", d.year, d.month, d.day,
			       d.weekday);
		if (fl_date_days(d.year, d.month, d.day) != d.days)
			fz_die("day number %lld is not that of %04d-%02d-%02d", (long long)d.days,
			       d.year, d.month, d.day);
		fl_date_civil(d.days, &c);
		if (c.year != d.year || c.month != d.month || c.day != d.day ||
		    c.weekday != d.weekday)
			fz_die("day %lld is %04d-%02d-%02d, not %04d-%02d-%02d", (long long)d.days,
			       c.year, c.month, c.day, d.year, d.month, d.day);
		write_date(f, &d, buf, sizeof(buf));
		if (fl_date_parse(buf, strlen(buf), f, &again) != 0 || again.days != d.days)
			fz_die("\"%s\" does not parse back to day %lld", buf, (long long)d.days);
	}
	if (memchr(data, '\0', size) == NULL)
		check_detect((const char *)data, size);
	return 0;
}
