/*
 * A drafted date feature: the format found by the scan, a reference day
 * and a clip range from the file's dates.
 */
#include <stdio.h>
#include <string.h>

#include "datetime_int.h"
#include "fedlead/error.h"

/* x > 0 rounded up to two significant digits, exactly (integers). */
static int64_t round_up2(int64_t x)
{
	int64_t p = 1;

	while (x >= 100 * p)
		p *= 10;
	return (x + p - 1) / p * p;
}

/*
 * Appends to root's "comment" (creating it) the sentence asking a person
 * to check the drafted order of day and month. The name is not cut: a cut
 * could split a UTF-8 character, which jansson refuses.
 */
static int add_check_note(json_t *root, const char *name)
{
	static const char fmt[] = "%s%sColumn \"%s\": no value tells day-first from month-first "
	                          "(no field above 12), so \"format\": \"dmy\" (day first) is a "
	                          "guess: check it (\"mdy\" is month first).";
	json_t *c = json_object_get(root, "comment");
	const char *old = json_is_string(c) ? json_string_value(c) : "";
	json_t *n = json_sprintf(fmt, old, old[0] ? " " : "", name);

	if (n == NULL || json_object_set_new(root, "comment", n) != 0)
		return FL_ERR_NOMEM;
	return 0;
}

int fl_date_draft_feature(json_t *root, json_t *feats, const char *name,
                          const struct fl_date_scan *sc, int missing)
{
	enum fl_date_format f;
	int64_t first, last, age;
	struct fl_date d;
	char ref[32];
	json_t *jf, *jc;
	int kind = fl_date_scan_result(sc, &f, &first, &last);

	if (kind == FL_DATE_NONE)
		return 0;
	/* The first of the month after the latest date; in December 9999,
	 * which has no next month with a four-digit year, its last day. */
	fl_date_civil(last, &d);
	if (d.year == 9999 && d.month == 12) {
		d.day = 31;
	} else {
		d.month = d.month == 12 ? 1 : d.month + 1;
		d.year += d.month == 1;
		d.day = 1;
	}
	snprintf(ref, sizeof(ref), "%04d-%02d-%02d", d.year, d.month, d.day);
	/* At least 1, so that the range has low below high. */
	age = fl_date_days(d.year, d.month, d.day) - first;
	age = age < 1 ? 1 : round_up2(age);
	if ((jf = json_object()) == NULL || json_array_append_new(feats, jf) != 0 ||
	    json_object_set_new(jf, "name", json_string(name)) != 0 ||
	    json_object_set_new(jf, "type", json_string("date")) != 0 ||
	    json_object_set_new(jf, "format", json_string(fl_date_format_name(f))) != 0 ||
	    json_object_set_new(jf, "reference", json_string(ref)) != 0 ||
	    json_object_set_new(jf, "missing", json_string(missing ? "impute" : "error")) != 0 ||
	    (jc = json_array()) == NULL || json_object_set_new(jf, "clip", jc) != 0 ||
	    json_array_append_new(jc, json_integer(0)) != 0 ||
	    json_array_append_new(jc, json_integer(age)) != 0)
		return FL_ERR_NOMEM;
	if (kind == FL_DATE_AMBIGUOUS && add_check_note(root, name) != 0)
		return FL_ERR_NOMEM;
	return 1;
}
