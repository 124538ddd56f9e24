/*
 * Tests for src/core/source.c, the record-source seam, and the parts of
 * src/db/ that need no server (connection strings' display names). A
 * source registered by name is read by the row pipeline (rows.c) as a
 * file would be, through two passes, and the encoder's "NAME:LINE:COL"
 * messages come out in the source's own position. The server itself is
 * tested end to end (tests/e2e/pgsql.sh).
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

#include "fedlead/error.h"
#include "fedlead/pg.h"
#include "fedlead/rows.h"
#include "fedlead/schema.h"
#include "fedlead/source.h"

#define DIM 10
#define SCHEMA_PATH FL_TEST_DATA "/encode/leads.schema.json"

/* A source of fixed records: a header and three rows, the second bad. */
static const char *const TABLE[][6] = {
        {"lead", "age", "visits", "region", "tier", "won"},
        {"L-1", "31", "2", "north", "1", "yes"},
        {"L-2", "abc", "1", "south", "2", "no"},
        {"L-3", "", "4", "west", "3", "no"},
};
#define N_RECORDS 4

struct fake {
	size_t next;
	struct fl_csv_field f[6];
	int rewinds;
	int *freed;
};

static int fake_next(void *impl, struct fl_csv_record *rec)
{
	struct fake *k = impl;

	if (k->next == N_RECORDS)
		return 0;
	for (size_t i = 0; i < 6; i++)
		k->f[i] = (struct fl_csv_field){TABLE[k->next][i], strlen(TABLE[k->next][i])};
	k->next++;
	*rec = (struct fl_csv_record){.fields = k->f, .n_fields = 6, .line = k->next};
	return 1;
}

static int fake_rewind(void *impl)
{
	struct fake *k = impl;

	k->next = 0;
	k->rewinds++;
	return 0;
}

static void fake_position(void *impl, uint64_t line, size_t col, char *buf, size_t n)
{
	struct fake *k = impl;

	snprintf(buf, n, "crm: row %llu (lead \"%s\", column %zu)", (unsigned long long)(line - 1),
	         k->next > 0 ? k->f[0].s : "", col + 1);
}

static uint64_t fake_bytes(void *impl)
{
	return ((struct fake *)impl)->next;
}

static void fake_free(void *impl)
{
	struct fake *k = impl;

	(*k->freed)++;
	free(k);
}

static const struct fl_source_ops fake_ops = {fake_next,  fake_rewind, fake_position,
                                              fake_bytes, fake_free,   0};

static int fake_open(void *arg, const char *name, const struct fl_csv_dialect *d,
                     struct fl_source **out)
{
	struct fake *k = calloc(1, sizeof(*k));

	(void)d;
	assert_non_null(k);
	k->freed = arg;
	return fl_source_new(name, &fake_ops, k, out);
}

static struct fl_schema *schema(void)
{
	struct fl_schema *s = NULL;

	assert_int_equal(fl_schema_load(SCHEMA_PATH, &s), 0);
	return s;
}

/* rows.c reads a registered source: good rows, a bad one named by the
 * source's position, a rewind, and the source freed with the rows. */
static void test_rows_from_registered_source(void **state)
{
	struct fl_schema *s = schema();
	struct fl_rows *rows = NULL;
	struct fl_load_report rep = {0};
	double x[DIM], label;
	const char *id;
	int freed = 0;

	(void)state;
	assert_int_equal(fl_source_register("crm", fake_open, &freed, NULL), 0);
	assert_true(fl_source_registered("crm"));
	assert_false(fl_source_registered("crm2"));
	assert_int_equal(fl_rows_open(s, "crm", 1, FL_BAD_ROWS_FAIL, &rep, &rows), 0);
	assert_int_equal(fl_rows_next(rows, x, &label, &id), 1);
	assert_string_equal(id, "L-1");
	assert_true(x[1] == 31 && x[4] == 1 && x[7] == 1 && label == 1);
	assert_int_equal(fl_rows_next(rows, x, &label, &id), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "crm: row 2 (lead \"L-2\", column 2): column \"age\": "
	                                 "\"abc\" is not a number");
	/* A second pass from the header. */
	assert_int_equal(fl_rows_rewind(rows, NULL), 0);
	assert_int_equal(fl_rows_next(rows, x, &label, &id), 1);
	assert_string_equal(id, "L-1");
	fl_rows_close(rows);
	assert_int_equal(freed, 1);

	/* Skipped, the bad row's sample is in the source's words too. */
	assert_int_equal(fl_rows_open(s, "crm", 1, FL_BAD_ROWS_SKIP, &rep, &rows), 0);
	assert_int_equal(fl_rows_next(rows, x, &label, &id), 1);
	assert_int_equal(fl_rows_next(rows, x, &label, &id), 1);
	assert_string_equal(id, "L-3");
	assert_true(x[6] == 1); /* west: region's (other) */
	assert_int_equal(fl_rows_next(rows, x, &label, &id), 0);
	assert_int_equal(rep.skipped, 1);
	assert_string_equal(rep.samples[0], "crm: row 2 (lead \"L-2\", column 2): column \"age\": "
	                                    "\"abc\" is not a number");
	fl_rows_close(rows);
	assert_int_equal(freed, 2);
	fl_source_registry_clear();
	assert_false(fl_source_registered("crm"));
	fl_schema_free(s);
}

/* A header the schema cannot bind: line 1 without a column. */
static void test_header_error_restated(void **state)
{
	struct fl_source *src = NULL;
	int freed = 0;

	(void)state;
	assert_int_equal(fl_source_register("crm", fake_open, &freed, NULL), 0);
	assert_int_equal(fl_source_open("crm", NULL, &src), 0);
	assert_string_equal(fl_source_name(src), "crm");
	assert_null(fl_source_csv(src));
	fl_fail(FL_ERR_DATA, "crm:1: column \"x\" required by the schema is missing");
	assert_int_equal(fl_source_restate(src, FL_ERR_DATA), FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "crm: row 0 (lead \"\", column 0): column \"x\" required "
	                                 "by the schema is missing");
	/* Messages about something else are left as they are. */
	fl_fail(FL_ERR_IO, "crm: cannot connect: refused");
	fl_source_restate(src, FL_ERR_IO);
	assert_string_equal(fl_errmsg(), "crm: cannot connect: refused");
	fl_fail(FL_ERR_DATA, "crm:12x: odd");
	fl_source_restate(src, FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "crm:12x: odd");
	fl_fail(FL_ERR_DATA, "crmx:3:1: other name");
	fl_source_restate(src, FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "crmx:3:1: other name");
	fl_source_free(src);
	fl_source_registry_clear();
}

/* A file is a file: no registration, no rewriting. */
static void test_file_source(void **state)
{
	struct fl_source *src = NULL;
	struct fl_csv_record rec;

	(void)state;
	assert_int_equal(fl_source_open(SCHEMA_PATH ".missing", NULL, &src), FL_ERR_IO);
	assert_null(src);
	assert_int_equal(fl_source_open(FL_TEST_DATA "/bank-marketing/bank.csv", NULL, &src), 0);
	assert_non_null(fl_source_csv(src));
	assert_int_equal(fl_source_next(src, &rec), 1);
	assert_int_equal(rec.n_fields, 17);
	fl_fail(FL_ERR_DATA, "%s:1:2: kept", fl_source_name(src));
	fl_source_restate(src, FL_ERR_DATA);
	assert_non_null(strstr(fl_errmsg(), "bank.csv:1:2: kept"));
	fl_source_free(src);
}

/* Connection strings as messages name them: never a secret. */
static void test_display_name(void **state)
{
	char *name = NULL;

	(void)state;
	assert_int_equal(fl_pg_display_name("--data", "postgresql:///crm", &name), 0);
	assert_string_equal(name, "postgresql:///crm");
	free(name);
	assert_int_equal(fl_pg_display_name("--data", "service=crm", &name), 0);
	assert_string_equal(name, "service=crm");
	free(name);
	assert_int_equal(
	        fl_pg_display_name("--data", "postgresql://fl:s3cret@db.internal:5433/crm", &name),
	        0);
	assert_string_equal(name, "user=fl dbname=crm host=db.internal port=5433");
	free(name);
	assert_int_equal(fl_pg_display_name("--out",
	                                    "host='/run/my pg' password='it\\'s' dbname=crm "
	                                    "sslpassword=k3y",
	                                    &name),
	                 0);
	assert_string_equal(name, "dbname=crm host='/run/my pg'");
	free(name);
	/* Values that need quoting are quoted back as libpq reads them. */
	assert_int_equal(
	        fl_pg_display_name("--data", "password=x application_name='a\\'b\\\\c'", &name), 0);
	assert_string_equal(name, "application_name='a\\'b\\\\c'");
	free(name);
	assert_int_equal(fl_pg_display_name("--data", "host='unterminated password=s3cret", &name),
	                 FL_ERR_INVALID);
	assert_null(name);
	assert_string_equal(fl_errmsg(),
	                    "--data: not a PostgreSQL connection string libpq can read");
	assert_true(fl_pg_is_uri("postgresql://x") && fl_pg_is_uri("postgres:///crm"));
	assert_false(fl_pg_is_uri("leads.csv") || fl_pg_is_uri("service=crm"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rows_from_registered_source),
	        cmocka_unit_test(test_header_error_restated),
	        cmocka_unit_test(test_file_source),
	        cmocka_unit_test(test_display_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
