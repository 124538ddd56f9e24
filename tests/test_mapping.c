/*
 * Tests for src/core/mapping.c, a partner's column and value mapping: the
 * parser and each of its refusals with its exact message, binding to a
 * file's header (renames, collisions, missing columns), the per-row value
 * mapping, and the mapping as rows.c applies it before the schema: the
 * same encoded rows as the hand-cleaned file, messages that name the
 * file's own column, unseen values counted after mapping, and the draft.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/mapping.h"
#include "fedlead/rows.h"
#include "fedlead/schema.h"

/* Encodes to 1 + 1 + 3 + 2 = 7 columns: intercept, visits, industry=
 * finance, industry=retail, industry=(other), size=large, size=small. */
static const char SCHEMA[] =
        "{\"fedlead_schema\": 1,"
        " \"label\": {\"column\": \"converted\", \"positive\": \"yes\", \"negative\": \"no\"},"
        " \"id\": \"lead\","
        " \"features\": ["
        "  {\"name\": \"visits\", \"type\": \"numeric\"},"
        "  {\"name\": \"industry\", \"type\": \"categorical\", \"values\": [\"finance\", "
        "\"retail\"], \"other\": true},"
        "  {\"name\": \"size\", \"type\": \"categorical\", \"values\": [\"large\", "
        "\"small\"]}"
        " ]}";
#define DIM 7

/* Acme's export: its own names, spellings and separator. */
static const char ACME_CSV[] = "Lead ID;Visits;Industry Vertical;Company Size;Converted?\n"
                               "A;3;Fin. Services;L;Won\n"
                               "B;5;Retail;S;Lost\n"
                               "C;7;Financial services;L;Won\n"
                               "D;1;Energy;S;Lost\n";
static const char ACME_MAPPING[] =
        "{\"fedlead_mapping\": 1, \"comment\": \"Acme's CRM\",\n"
        " \"columns\": {\"Lead ID\": \"lead\", \"Visits\": \"visits\", \"Industry Vertical\": "
        "\"industry\",\n"
        "             \"Company Size\": \"size\", \"Converted?\": \"converted\"},\n"
        " \"values\": {\"industry\": {\"Fin. Services\": \"finance\", \"Financial services\": "
        "\"finance\", \"Retail\": \"retail\"},\n"
        "            \"size\": {\"L\": \"large\", \"S\": \"small\"},\n"
        "            \"converted\": {\"Won\": \"yes\", \"Lost\": \"no\"}}}";
/* The same leads as the schema names them, written by hand. */
static const char CLEAN_CSV[] = "lead,visits,industry,size,converted\n"
                                "A,3,finance,large,yes\n"
                                "B,5,retail,small,no\n"
                                "C,7,finance,large,yes\n"
                                "D,1,Energy,small,no\n";

static void write_tmp(char path[64], const char *bytes, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/fl_test_mapping_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static struct fl_schema *schema(void)
{
	struct fl_schema *s = NULL;

	if (fl_schema_parse(SCHEMA, strlen(SCHEMA), "leads.schema.json", &s) != 0)
		fail_msg("%s", fl_errmsg());
	assert_int_equal(s->dim, DIM);
	return s;
}

static struct fl_mapping *mapping(const char *json)
{
	struct fl_mapping *m = NULL;

	if (fl_mapping_parse(json, strlen(json), "acme.json", &m) != 0)
		fail_msg("%s", fl_errmsg());
	return m;
}

/* The parse of json fails with FL_ERR_CONFIG and exactly msg. */
static void refused(const char *json, size_t len, const char *msg)
{
	struct fl_mapping *m = (struct fl_mapping *)1;

	assert_int_equal(fl_mapping_parse(json, len, "acme.json", &m), FL_ERR_CONFIG);
	assert_null(m);
	assert_string_equal(fl_errmsg(), msg);
}
#define REFUSED(json, msg) refused(json, strlen(json), msg)

static void test_parse(void **state)
{
	struct fl_mapping *m = mapping(ACME_MAPPING);

	(void)state;
	assert_string_equal(fl_mapping_origin(m), "acme.json");
	assert_int_equal(fl_mapping_n_columns(m), 5);
	assert_int_equal(fl_mapping_n_value_columns(m), 3);
	fl_mapping_free(m);
	/* Both parts are optional; a byte-order mark (as editors write) is
	 * skipped. */
	m = mapping("\xEF\xBB\xBF{\"fedlead_mapping\": 1}");
	assert_int_equal(fl_mapping_n_columns(m), 0);
	assert_int_equal(fl_mapping_n_value_columns(m), 0);
	fl_mapping_free(m);
	fl_mapping_free(NULL);
}

static void test_parse_refusals(void **state)
{
	(void)state;
	REFUSED("{\"fedlead_mapping\": 1,\n \"columns\": {\"Caf\xE9\": \"x\"}}",
	        "acme.json:2:18: not UTF-8 text (byte 0xE9); save the mapping as UTF-8");
	REFUSED("{\"fedlead_mapping\": 1,\n \"columns\": {\"A\": \"x\", \"A\": \"y\"}}",
	        "acme.json:2:26: duplicate object key near '\"A\"'");
	REFUSED("[1]", "acme.json: the mapping must be a JSON object");
	REFUSED("{\"columns\": {}}", "acme.json: missing \"fedlead_mapping\": 1 (the format "
	                             "version)");
	REFUSED("{\"fedlead_mapping\": \"1\"}",
	        "acme.json: \"fedlead_mapping\" must be the integer 1 (the format version)");
	REFUSED("{\"fedlead_mapping\": 2}",
	        "acme.json: mapping format version 2 is not supported (this fedlead reads "
	        "version 1)");
	REFUSED("{\"fedlead_mapping\": 1, \"colums\": {}}",
	        "acme.json: unknown key \"colums\" (a mapping has fedlead_mapping, comment, "
	        "columns and values)");
	REFUSED("{\"fedlead_mapping\": 1, \"comment\": 7}", "acme.json: comment: must be a string");
	REFUSED("{\"fedlead_mapping\": 1, \"columns\": [\"Sector\"]}",
	        "acme.json: columns: must be an object of \"file column\": \"schema column\"");
	REFUSED("{\"fedlead_mapping\": 1, \"columns\": {\"Sector\": 3}}",
	        "acme.json: columns[\"Sector\"]: must be a string, the schema's name for the "
	        "column (it is a number)");
	REFUSED("{\"fedlead_mapping\": 1, \"columns\": {\"\": \"x\"}}",
	        "acme.json: columns[\"\"]: a column name cannot be empty");
	REFUSED("{\"fedlead_mapping\": 1, \"columns\": {\"Sector\": \"\"}}",
	        "acme.json: columns[\"Sector\"]: the schema's name for the column cannot be "
	        "empty");
	REFUSED("{\"fedlead_mapping\": 1, \"columns\": {\"Sector\": \"industry\", \"Industry "
	        "Vertical\": \"industry\", \"Size\": \"size\"}}",
	        "acme.json: columns: \"Industry Vertical\" and \"Sector\" are both renamed to "
	        "\"industry\"");
	REFUSED("{\"fedlead_mapping\": 1, \"values\": [\"x\"]}",
	        "acme.json: values: must be an object of \"schema column\": {\"file value\": "
	        "\"schema value\"}");
	REFUSED("{\"fedlead_mapping\": 1, \"values\": {\"industry\": [\"Fin\"]}}",
	        "acme.json: values[\"industry\"]: must be an object of \"file value\": \"schema "
	        "value\" (it is an array)");
	REFUSED("{\"fedlead_mapping\": 1, \"values\": {\"industry\": {\"Fin. Services\": 1}}}",
	        "acme.json: values[\"industry\"][\"Fin. Services\"]: must be a string (it is a "
	        "number)");
	REFUSED("{\"fedlead_mapping\": 1, \"values\": {\"industry\": {\"Fin\": null}}}",
	        "acme.json: values[\"industry\"][\"Fin\"]: must be a string (it is null)");
	REFUSED("{\"fedlead_mapping\": 1, \"values\": {\"\": {}}}",
	        "acme.json: values[\"\"]: a column name cannot be empty");
}

/* Limits hold before the pairs are allocated. */
static void test_parse_limits(void **state)
{
	size_t cap = (size_t)FL_MAPPING_MAX_VALUES * 16 + 256, n = 0;
	char *big = malloc(FL_MAPPING_MAX_BYTES + 1);
	char *json = malloc(cap);

	(void)state;
	assert_non_null(big);
	assert_non_null(json);
	memset(big, ' ', FL_MAPPING_MAX_BYTES + 1);
	refused(big, FL_MAPPING_MAX_BYTES + 1, "acme.json: mapping larger than 4194304 bytes");
	n += (size_t)snprintf(json + n, cap - n,
	                      "{\"fedlead_mapping\": 1, \"values\": {\"industry\": {");
	for (size_t i = 0; i <= FL_MAPPING_MAX_VALUES; i++)
		n += (size_t)snprintf(json + n, cap - n, "%s\"v%zu\": \"x\"", i ? "," : "", i);
	snprintf(json + n, cap - n, "}}}");
	refused(json, strlen(json), "acme.json: values[\"industry\"]: more than 100000 values");
	free(json);
	free(big);
}

static void test_load(void **state)
{
	struct fl_mapping *m = NULL;
	char path[64];

	(void)state;
	assert_int_equal(fl_mapping_load("/nonexistent/acme.json", &m), FL_ERR_IO);
	assert_string_equal(fl_errmsg(), "/nonexistent/acme.json: No such file or directory");
	assert_int_equal(fl_mapping_load("/tmp", &m), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "/tmp: not a regular file of at most 4194304 bytes");
	write_tmp(path, ACME_MAPPING, strlen(ACME_MAPPING));
	assert_int_equal(fl_mapping_load(path, &m), 0);
	assert_string_equal(fl_mapping_origin(m), path);
	fl_mapping_free(m);
	unlink(path);
}

static void test_check_schema(void **state)
{
	struct fl_schema *s = schema();
	struct fl_mapping *m = mapping(ACME_MAPPING);

	(void)state;
	assert_int_equal(fl_mapping_check_schema(m, s), 0);
	fl_mapping_free(m);
	m = mapping("{\"fedlead_mapping\": 1, \"values\": {\"sector\": {\"a\": \"b\"}}}");
	assert_int_equal(fl_mapping_check_schema(m, s), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "acme.json: values[\"sector\"]: the schema has no column "
	                                 "\"sector\"");
	fl_mapping_free(m);
	/* Keyed by the file's name instead of the schema's. */
	m = mapping("{\"fedlead_mapping\": 1, \"columns\": {\"Industry Vertical\": \"industry\"},"
	            " \"values\": {\"Industry Vertical\": {\"Fin\": \"finance\"}}}");
	assert_int_equal(fl_mapping_check_schema(m, s), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(),
	                    "acme.json: values[\"Industry Vertical\"]: name the column as the "
	                    "schema does (\"industry\"): values are mapped after columns are "
	                    "renamed");
	fl_mapping_free(m);
	fl_schema_free(s);
}

/* A header record over the given names. */
static struct fl_csv_record header(struct fl_csv_field *f, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		f[i] = (struct fl_csv_field){names[i], strlen(names[i])};
	return (struct fl_csv_record){.fields = f, .n_fields = n, .line = 1};
}

static void bind_refused(const char *json, const char *const *names, size_t n,
                         const struct fl_schema *s, const char *msg)
{
	struct fl_mapping *m = mapping(json);
	struct fl_mapping_binding *mb = (struct fl_mapping_binding *)1;
	struct fl_csv_field f[8];
	struct fl_csv_record h = header(f, names, n);

	assert_int_equal(fl_mapping_bind(m, s, "leads.csv", &h, &mb), FL_ERR_DATA);
	assert_null(mb);
	assert_string_equal(fl_errmsg(), msg);
	fl_mapping_free(m);
}

static void test_bind_refusals(void **state)
{
	static const char *const names[] = {"Lead ID", "Sector", "industry", "Sector"};
	static const char *const two[] = {"Lead ID", "Region"};

	(void)state;
	bind_refused("{\"fedlead_mapping\": 1, \"columns\": {\"Industry Vertical\": \"industry\"}}",
	             two, 2, NULL,
	             "leads.csv:1: column \"Industry Vertical\" is not in the header (the "
	             "mapping acme.json renames it to \"industry\")");
	bind_refused("{\"fedlead_mapping\": 1, \"columns\": {\"Industry Vertical\": \"industry\", "
	             "\"Size\": \"size\", \"Region\": \"region\", \"Visits\": \"visits\"}}",
	             two, 2, NULL,
	             "leads.csv:1: column \"Industry Vertical\" is not in the header (the "
	             "mapping acme.json renames it to \"industry\"), nor are 2 more columns the "
	             "mapping renames");
	bind_refused("{\"fedlead_mapping\": 1, \"columns\": {\"Sector\": \"industry\"}}", names, 4,
	             NULL,
	             "leads.csv:1: column \"Sector\" appears twice (columns 2 and 4); the "
	             "mapping acme.json renames it to \"industry\"");
	bind_refused("{\"fedlead_mapping\": 1, \"columns\": {\"Lead ID\": \"industry\"}}", names, 3,
	             NULL,
	             "leads.csv:1: the mapping acme.json renames column \"Lead ID\" to "
	             "\"industry\", but the file has a column \"industry\" already (column 3)");
	/* Drafting (no schema): a value map for a column the file lacks. */
	bind_refused("{\"fedlead_mapping\": 1, \"values\": {\"size\": {\"L\": \"large\"}}}", two, 2,
	             NULL,
	             "leads.csv:1: column \"size\" is not in the header after renaming (the "
	             "mapping acme.json maps its values)");
}

static void test_bind_and_apply(void **state)
{
	static const char *const names[] = {"A", "B", "Sector", "x"};
	/* A and B swap names (neither collides with a column kept as it is). */
	struct fl_mapping *m = mapping(
	        "{\"fedlead_mapping\": 1, \"columns\": {\"A\": \"B\", \"B\": \"A\", \"Sector\": "
	        "\"industry\"}, \"values\": {\"industry\": {\"Fin\": \"finance\", \"n/a\": \"\"},"
	        " \"A\": {}}}");
	struct fl_mapping_binding *mb = NULL;
	struct fl_csv_field f[4], rf[4];
	struct fl_csv_record h = header(f, names, 4), rec;
	const struct fl_csv_record *out;
	static const char *const row1[] = {"1", "2", "Fin", "Fin"};
	static const char *const row2[] = {"1", "2", "n/a", "x"};
	static const char *const row3[] = {"1", "2", "Retail", "x"};

	(void)state;
	assert_int_equal(fl_mapping_bind(m, NULL, "leads.csv", &h, &mb), 0);
	out = fl_mapping_header(mb);
	assert_int_equal(out->n_fields, 4);
	assert_string_equal(out->fields[0].s, "B");
	assert_string_equal(out->fields[1].s, "A");
	assert_string_equal(out->fields[2].s, "industry");
	assert_int_equal(out->fields[2].len, 8);
	assert_string_equal(out->fields[3].s, "x");
	assert_string_equal(fl_mapping_source(mb, 0), "A");
	assert_string_equal(fl_mapping_source(mb, 2), "Sector");
	assert_null(fl_mapping_source(mb, 3));
	assert_null(fl_mapping_source(mb, 99));
	assert_string_equal(fl_mapping_sources(mb)[1], "B");

	/* Only the mapped column's value is replaced ("x" holds the same
	 * text and keeps it). */
	rec = header(rf, row1, 4);
	rec.line = 7;
	out = fl_mapping_apply(mb, &rec);
	assert_int_equal(out->line, 7);
	assert_string_equal(out->fields[2].s, "finance");
	assert_int_equal(out->fields[2].len, 7);
	assert_string_equal(out->fields[3].s, "Fin");
	assert_ptr_equal(out->fields[0].s, row1[0]);
	/* "" is a missing value. */
	rec = header(rf, row2, 4);
	out = fl_mapping_apply(mb, &rec);
	assert_string_equal(out->fields[2].s, "");
	assert_int_equal(out->fields[2].len, 0);
	/* Unmapped values pass as they are. */
	rec = header(rf, row3, 4);
	out = fl_mapping_apply(mb, &rec);
	assert_string_equal(out->fields[2].s, "Retail");
	/* A row of the wrong width is left for the encoder to report. */
	rec = header(rf, row1, 3);
	assert_ptr_equal(fl_mapping_apply(mb, &rec), &rec);
	fl_mapping_binding_free(mb);
	fl_mapping_free(m);
}

/* Reads every row of path with s; returns the rows read. */
static size_t read_all(const struct fl_schema *s, const char *path, double x[][DIM], double *y,
                       struct fl_load_report *rep)
{
	struct fl_rows *rows = NULL;
	size_t n = 0;
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->want_unseen = 1;
	if (fl_rows_open(s, path, 1, FL_BAD_ROWS_FAIL, rep, &rows) != 0)
		fail_msg("%s", fl_errmsg());
	while (n < 8 && (r = fl_rows_next(rows, x[n], &y[n], NULL)) == 1)
		n++;
	assert_int_equal(r, 0);
	fl_rows_close(rows);
	return n;
}

/* The mapped export encodes exactly as the hand-cleaned file does, and
 * unseen values are counted after mapping, under the file's name. */
static void test_rows_equal_the_cleaned_file(void **state)
{
	struct fl_schema *s = schema(), *plain = schema();
	double x[8][DIM], xc[8][DIM], y[8], yc[8];
	struct fl_load_report rep, repc;
	char acme[64], clean[64], mpath[64];
	size_t n;

	(void)state;
	write_tmp(acme, ACME_CSV, strlen(ACME_CSV));
	write_tmp(clean, CLEAN_CSV, strlen(CLEAN_CSV));
	write_tmp(mpath, ACME_MAPPING, strlen(ACME_MAPPING));
	assert_int_equal(fl_mapping_load(mpath, &s->mapping), 0);
	n = read_all(s, acme, x, y, &rep);
	assert_int_equal(n, 4);
	assert_int_equal(read_all(plain, clean, xc, yc, &repc), 4);
	assert_memory_equal(x, xc, sizeof(double) * DIM * n);
	assert_memory_equal(y, yc, sizeof(double) * n);
	/* By hand: C is finance and large, a conversion. */
	assert_true(x[2][1] == 7 && x[2][2] == 1 && x[2][3] == 0 && x[2][5] == 1 && y[2] == 1);
	/* Fin. Services and Financial services are finance, not unseen;
	 * Energy is, under the name in Acme's header. */
	assert_int_equal(rep.unseen_leads, 1);
	assert_int_equal(rep.n_unseen, 1);
	assert_string_equal(rep.unseen[0].column, "industry");
	assert_string_equal(rep.unseen[0].source, "Industry Vertical");
	assert_string_equal(rep.unseen[0].example, "Energy");
	assert_int_equal(rep.unseen[0].leads, 1);
	assert_null(repc.unseen[0].source);
	/* The mapping is no part of the contract. */
	assert_memory_equal(s->fingerprint, plain->fingerprint, FL_FINGERPRINT_LEN);
	assert_string_equal(s->canonical, plain->canonical);
	fl_schema_free(s);
	fl_schema_free(plain);
	unlink(acme);
	unlink(clean);
	unlink(mpath);
}

/* A bad value in a renamed column is reported under the file's name. */
static void test_row_errors_name_the_file_column(void **state)
{
	static const char bad_size[] = "Lead ID;Visits;Industry Vertical;Company Size;Converted?\n"
	                               "A;3;Retail;XL;Won\n";
	static const char no_size[] = "Lead ID;Visits;Industry Vertical;Company Size;Converted?\n"
	                              "A;3;Retail;;Won\n";
	static const char bad_label[] = "Lead ID;Visits;Industry Vertical;Company Size;Converted?\n"
	                                "A;3;Retail;L;Maybe\n";
	static const char no_visits[] =
	        "Lead ID;Visits;Industry Vertical;Company Size;Converted?\nA;;Retail;L;Won\n";
	const char *csv[] = {bad_size, no_size, bad_label, no_visits};
	const char *msg[] = {
	        ":2:4: column \"Company Size\" (mapped to size): \"XL\" is not a listed category "
	        "and there is no \"other\"",
	        ":2:4: column \"Company Size\" (mapped to size): missing value (no \"other\" "
	        "category)",
	        ":2:5: column \"Converted?\" (mapped to converted): \"Maybe\" is not a label value "
	        "(expected \"yes\" or \"no\")",
	        ":2:2: column \"Visits\" (mapped to visits): missing value (the schema says "
	        "missing=error)"};
	struct fl_schema *s = schema();
	struct fl_rows *rows = NULL;
	double x[DIM], y;
	char path[64], want[256];

	(void)state;
	s->mapping = mapping(ACME_MAPPING);
	for (size_t i = 0; i < 4; i++) {
		write_tmp(path, csv[i], strlen(csv[i]));
		assert_int_equal(fl_rows_open(s, path, 1, FL_BAD_ROWS_FAIL, NULL, &rows), 0);
		assert_int_equal(fl_rows_next(rows, x, &y, NULL), FL_ERR_DATA);
		snprintf(want, sizeof(want), "%s%s", path, msg[i]);
		assert_string_equal(fl_errmsg(), want);
		fl_rows_close(rows);
		unlink(path);
	}
	fl_schema_free(s);
}

/* Opening a file against a schema checks the mapping against both. */
static void test_rows_open_refusals(void **state)
{
	struct fl_schema *s = schema();
	struct fl_rows *rows = NULL;
	char path[64], want[256];

	(void)state;
	s->mapping = mapping("{\"fedlead_mapping\": 1, \"columns\": {\"Sector\": \"industry\"}}");
	write_tmp(path, CLEAN_CSV, strlen(CLEAN_CSV));
	assert_int_equal(fl_rows_open(s, path, 1, FL_BAD_ROWS_FAIL, NULL, &rows), FL_ERR_DATA);
	assert_null(rows);
	snprintf(want, sizeof(want),
	         "%s:1: column \"Sector\" is not in the header (the mapping acme.json renames it "
	         "to \"industry\")",
	         path);
	assert_string_equal(fl_errmsg(), want);
	/* A column of the schema the renamed header lacks. */
	fl_mapping_free(s->mapping);
	s->mapping = mapping("{\"fedlead_mapping\": 1, \"columns\": {\"size\": \"Size\"}}");
	assert_int_equal(fl_rows_open(s, path, 1, FL_BAD_ROWS_FAIL, NULL, &rows), FL_ERR_DATA);
	snprintf(want, sizeof(want),
	         "%s:1: column \"size\" required by the schema is missing (in the header as the "
	         "mapping acme.json renames it)",
	         path);
	assert_string_equal(fl_errmsg(), want);
	fl_mapping_free(s->mapping);
	s->mapping = mapping("{\"fedlead_mapping\": 1, \"values\": {\"Sector\": {}}}");
	assert_int_equal(fl_rows_open(s, path, 1, FL_BAD_ROWS_FAIL, NULL, &rows), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(),
	                    "acme.json: values[\"Sector\"]: the schema has no column \"Sector\"");
	unlink(path);
	fl_schema_free(s);
}

/* The draft of a mapped export names the schema's columns and values. */
static void test_draft(void **state)
{
	struct fl_mapping *m = mapping(ACME_MAPPING);
	struct fl_schema_draft_opts o = {.label = "converted", .id = "lead", .max_levels = 0};
	struct fl_schema *d = NULL;
	char path[64], *json = NULL;

	(void)state;
	write_tmp(path, ACME_CSV, strlen(ACME_CSV));
	o.mapping = m;
	assert_int_equal(fl_schema_draft_opts(path, &o, &json), 0);
	assert_int_equal(fl_schema_parse(json, strlen(json), "draft", &d), 0);
	assert_string_equal(d->label, "converted");
	assert_string_equal(d->positive, "yes");
	assert_string_equal(d->id, "lead");
	assert_int_equal(d->n_features, 3);
	assert_string_equal(d->features[1].name, "industry");
	assert_int_equal(d->features[1].n_values, 3);
	assert_string_equal(d->features[1].values[0], "Energy");
	assert_string_equal(d->features[1].values[1], "finance");
	assert_string_equal(d->features[1].values[2], "retail");
	assert_string_equal(d->features[2].name, "size");
	fl_schema_free(d);
	free(json);
	unlink(path);
	fl_mapping_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_parse_refusals),
	        cmocka_unit_test(test_parse_limits),
	        cmocka_unit_test(test_load),
	        cmocka_unit_test(test_check_schema),
	        cmocka_unit_test(test_bind_refusals),
	        cmocka_unit_test(test_bind_and_apply),
	        cmocka_unit_test(test_rows_equal_the_cleaned_file),
	        cmocka_unit_test(test_row_errors_name_the_file_column),
	        cmocka_unit_test(test_rows_open_refusals),
	        cmocka_unit_test(test_draft),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
