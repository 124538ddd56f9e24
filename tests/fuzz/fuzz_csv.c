/*
 * Fuzz target: CSV parsing. The input is a CSV file (in a memfd), read
 *   - record by record with fl_csv_next(), where every field that
 *     fl_parse_double() takes must be exactly what strtod() makes of it,
 *     and every field is UTF-8 without NUL bytes (the reader refuses the
 *     rest), alongside a reader that wants numbers (the same records, and
 *     the values fl_parse_double() gives); a second time as a semicolon-separated Windows-1252 file
 *     (converted as read), where fl_parse_number() with a decimal comma
 *     and thousands point must give a finite number when it takes a field;
 *   - into a dataset against the fixture schema with fl_dataset_load(),
 *     failing and skipping bad rows; a loaded dataset must have the
 *     schema's width and 0/1 labels;
 *   - by fl_schema_draft() (label "won", id "lead"), whose draft must be a
 *     schema fl_schema_parse() accepts.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/csv.h"
#include "fedlead/encode.h"
#include "fedlead/error.h"
#include "fedlead/schema.h"
#include "fedlead/utf8.h"
#include "fuzz_common.h"

/* fl_parse_double() against strtod() on the same (trimmed) text. */
static void check_number(const char *s, size_t len)
{
	char buf[512], *end;
	double a, b;
	size_t i = 0, j = len;

	if (fl_parse_double(s, len, &a) != 0)
		return;
	while (i < j && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (j > i && (s[j - 1] == ' ' || s[j - 1] == '\t'))
		j--;
	if (j - i >= sizeof(buf))
		return; /* strtod() reads it too; only the copy here is bounded */
	memcpy(buf, s + i, j - i);
	buf[j - i] = '\0';
	errno = 0;
	b = strtod(buf, &end);
	if (*end != '\0' || !isfinite(a) || memcmp(&a, &b, sizeof(a)) != 0)
		fz_die("fl_parse_double(\"%s\") = %.17g, strtod() says %.17g", buf, a, b);
}

/* The reader that wants numbers (fl_csv_want_numbers()) gives the record
 * rec of the one that does not, and each value it takes is
 * fl_parse_double()'s, bit for bit. */
static void check_fast(struct fl_csv *fast, int r, const struct fl_csv_record *rec)
{
	struct fl_csv_record f;
	double v;

	if (fast == NULL)
		return;
	if (fl_csv_next(fast, &f) != r)
		fz_die("the reader that wants numbers returns otherwise");
	if (r != 1)
		return;
	if (f.line != rec->line || f.n_fields != rec->n_fields)
		fz_die("the reader that wants numbers cuts line %llu otherwise",
		       (unsigned long long)rec->line);
	for (size_t i = 0; i < f.n_fields; i++) {
		if (f.fields[i].len != rec->fields[i].len ||
		    memcmp(f.fields[i].s, rec->fields[i].s, f.fields[i].len + 1) != 0)
			fz_die("the reader that wants numbers gives field %zu otherwise", i + 1);
		if (f.num != NULL && f.num_ok[i] &&
		    (fl_parse_double(f.fields[i].s, f.fields[i].len, &v) != 0 ||
		     memcmp(&v, &f.num[i], sizeof(v)) != 0))
			fz_die("\"%s\": the reader's value %.17g", f.fields[i].s, f.num[i]);
	}
}

static void read_records(const char *path, const struct fl_csv_dialect *d)
{
	struct fl_csv *csv = NULL, *fast = NULL;
	struct fl_csv_record rec;
	double v;
	int r;

	if (fl_csv_open_dialect(path, d, &csv) != 0)
		return;
	if (fl_csv_open_dialect(path, d, &fast) == 0)
		fl_csv_want_numbers(fast);
	while ((r = fl_csv_next(csv, &rec)) == 1) {
		check_fast(fast, r, &rec);
		for (size_t i = 0; i < rec.n_fields; i++) {
			const char *f = rec.fields[i].s;
			size_t len = rec.fields[i].len;

			if (strlen(f) > len)
				fz_die("a CSV field is longer than its length");
			if (!fl_utf8_valid(f, len, FL_UTF8_NO_NUL))
				fz_die("a CSV field is not UTF-8 without NUL bytes");
			check_number(f, len);
			if (fl_parse_number(f, len, &d->number, &v) == 0 && !isfinite(v))
				fz_die("fl_parse_number(\"%s\") = %g", f, v);
		}
	}
	check_fast(fast, r, &rec);
	if (r == 0 && fl_csv_delimiter(csv) == 0)
		fz_die("the reader ended without deciding the separator");
	fl_csv_free(csv);
	fl_csv_free(fast);
}

static void load(const char *path, enum fl_bad_rows policy)
{
	const struct fl_schema *s = fz_schema();
	struct fl_dataset *ds = NULL;
	struct fl_load_report rep;

	memset(&rep, 0, sizeof(rep));
	if (fl_dataset_load(s, path, policy, &ds, &rep) != 0) {
		if (ds != NULL)
			fz_die("fl_dataset_load failed but returned a dataset");
		return;
	}
	if (ds->dim != s->dim || ds->n != rep.rows)
		fz_die("dataset of %zu x %zu, report says %llu rows", ds->n, ds->dim,
		       (unsigned long long)rep.rows);
	if (rep.n_samples > FL_BAD_ROW_SAMPLES ||
	    memchr(rep.extra, '\0', sizeof(rep.extra)) == NULL)
		fz_die("load report out of bounds");
	for (size_t i = 0; i < ds->n; i++) {
		if (ds->y[i] != 0 && ds->y[i] != 1)
			fz_die("label %g", ds->y[i]);
		if (ds->X[i * ds->dim] != 1)
			fz_die("intercept column is %g", ds->X[i * ds->dim]);
	}
	fl_dataset_free(ds);
}

static void draft(const char *path, const struct fl_csv_dialect *d)
{
	struct fl_schema_draft_opts o = {.label = "won", .id = "lead", .max_levels = 5};
	struct fl_schema *s = NULL;
	char *json = NULL;

	o.dialect = *d;
	if (fl_schema_draft_opts(path, &o, &json) != 0)
		return;
	if (fl_schema_parse(json, strlen(json), "draft", &s) != 0)
		fz_die("a drafted schema does not parse: %s\n%s", fl_errmsg(), json);
	fl_schema_free(s);
	free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fl_csv_dialect plain = {0};
	static const struct fl_csv_dialect crm = {
	        .delimiter = ';',
	        .encoding = FL_CSV_WINDOWS_1252,
	        .number = {.decimal = ',', .thousands = ".", .currency = "\xE2\x82\xAC"}};
	const char *path;

	fz_init();
	path = fz_memfile(data, size);
	read_records(path, &plain);
	read_records(path, &crm);
	load(path, FL_BAD_ROWS_FAIL);
	load(path, FL_BAD_ROWS_SKIP);
	draft(path, &plain);
	draft(path, &crm);
	return 0;
}
