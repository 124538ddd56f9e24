#include "support/schema_parse.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "fedlead/error.h"
#include "fedlead/schema.h"

struct fl_schema *schema_parse_ok(const char *json, const char *origin)
{
	struct fl_schema *s = NULL;

	if (fl_schema_parse(json, strlen(json), origin, &s) != 0)
		fail_msg("unexpected failure: %s", fl_errmsg());
	assert_non_null(s);
	return s;
}

void schema_parse_refused(const char *json, const char *origin, const char *msg)
{
	struct fl_schema *s = (struct fl_schema *)1;

	fl_err_clear();
	assert_int_equal(fl_schema_parse(json, strlen(json), origin, &s), FL_ERR_SCHEMA);
	assert_null(s);
	assert_string_equal(fl_errmsg(), msg);
}
