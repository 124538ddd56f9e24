/*
 * Fuzz target: fl_mapping_parse on the input. A mapping that parses is
 * bound to two fixed headers, without a schema (as the draft binds it) and
 * with the test schema (as rows.c does), and applied to a few rows: the
 * renamed header and every mapped record keep the header's width, and
 * every field is a NUL-terminated string of its stated length.
 */
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/mapping.h"
#include "fuzz_common.h"

static void check_record(const struct fl_csv_record *r, size_t n, const char *what)
{
	if (r->n_fields != n)
		fz_die("%s has %zu fields, the header %zu", what, r->n_fields, n);
	for (size_t i = 0; i < n; i++)
		if (r->fields[i].s == NULL || strlen(r->fields[i].s) != r->fields[i].len)
			fz_die("%s field %zu: length %zu is not its text's", what, i,
			       r->fields[i].len);
}

static void bind_and_apply(const struct fl_mapping *m, const struct fl_schema *s,
                           const char *const *names, size_t n)
{
	static const char *const rows[][6] = {
	        {"L1", "34", "north", "1", "yes", "Fin. Services"},
	        {"", "", "", "", "", ""},
	        {"n/a", "Won", "Lost", "south", "2", "x"},
	};
	struct fl_csv_field hf[6], rf[6];
	struct fl_csv_record h = {.fields = hf, .n_fields = n, .line = 1},
	                     rec = {.fields = rf, .n_fields = n, .line = 2};
	struct fl_mapping_binding *mb = NULL;

	for (size_t i = 0; i < n; i++)
		hf[i] = (struct fl_csv_field){names[i], strlen(names[i])};
	if (fl_mapping_bind(m, s, "fuzz.csv", &h, &mb) != 0) {
		if (mb != NULL)
			fz_die("fl_mapping_bind failed but returned a binding");
		return;
	}
	check_record(fl_mapping_header(mb), n, "the renamed header");
	for (size_t i = 0; i < n; i++)
		if (fl_mapping_source(mb, i) != NULL &&
		    strcmp(fl_mapping_source(mb, i), names[i]) != 0)
			fz_die("column %zu is \"%s\", its source says \"%s\"", i, names[i],
			       fl_mapping_source(mb, i));
	for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		for (size_t i = 0; i < n; i++)
			rf[i] = (struct fl_csv_field){rows[k][i], strlen(rows[k][i])};
		check_record(fl_mapping_apply(mb, &rec), n, "a mapped row");
	}
	fl_mapping_binding_free(mb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const draft_header[] = {"Lead ID",  "Industry Vertical", "Sector",
	                                           "industry", "Converted?",        "visits"};
	static const char *const schema_header[] = {"lead",   "age",  "visits",
	                                            "region", "tier", "won"};
	struct fl_mapping *m = NULL;

	fz_init();
	if (fl_mapping_parse((const char *)data, size, "fuzz.json", &m) != 0) {
		if (m != NULL)
			fz_die("fl_mapping_parse failed but returned a mapping");
		return 0;
	}
	if (strcmp(fl_mapping_origin(m), "fuzz.json") != 0)
		fz_die("the mapping forgot its origin");
	bind_and_apply(m, NULL, draft_header, 6);
	bind_and_apply(m, fz_schema(), schema_header, 6);
	fl_mapping_free(m);
	return 0;
}
