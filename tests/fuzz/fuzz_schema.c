/*
 * Fuzz target: fl_schema_parse on the input. A schema that parses must
 * name every encoded column, and its canonical form must parse to the same
 * schema (same canonical text, so the same fingerprint).
 */
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/schema.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_schema *s = NULL, *again = NULL;
	char name[256], hex[65];
	size_t width = 1;

	fz_init();
	if (fl_schema_parse((const char *)data, size, "fuzz.schema.json", &s) != 0) {
		if (s != NULL)
			fz_die("fl_schema_parse failed but returned a schema");
		return 0;
	}
	for (size_t i = 0; i < s->n_features; i++) {
		if (s->features[i].enc_offset != width)
			fz_die("feature %zu starts at column %zu, expected %zu", i,
			       s->features[i].enc_offset, width);
		width += s->features[i].enc_width;
	}
	if (width != s->dim || s->dim > FL_SCHEMA_MAX_DIM)
		fz_die("features cover %zu columns, dim is %zu", width, s->dim);
	for (size_t j = 0; j < s->dim; j++) {
		fl_schema_column_name(s, j, name, sizeof(name));
		if (memchr(name, '\0', sizeof(name)) == NULL || name[0] == '\0')
			fz_die("column %zu has no name", j);
	}
	fl_schema_fingerprint_hex(s, hex);
	if (strlen(hex) != 64)
		fz_die("fingerprint hex is %zu characters", strlen(hex));
	if (fl_schema_parse(s->canonical, strlen(s->canonical), "canonical", &again) != 0)
		fz_die("the canonical form does not parse: %s\n%s", fl_errmsg(), s->canonical);
	if (strcmp(again->canonical, s->canonical) != 0 ||
	    memcmp(again->fingerprint, s->fingerprint, FL_FINGERPRINT_LEN) != 0)
		fz_die("the canonical form is not canonical:\n%s\n%s", s->canonical,
		       again->canonical);
	fl_schema_free(again);
	fl_schema_free(s);
	return 0;
}
