/*
 * Text built in memory (src/util/obuf.c): what the scoring service's
 * answers and the CLI's scored lines are written with. JSON strings
 * escaped as RFC 8259 asks (quotes, backslashes, control characters; UTF-8
 * as it is), CSV fields quoted only where RFC 4180 needs it, numbers as
 * numfmt writes them, and text that outgrows the first block kept whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/obuf.h"

/* b's text so far as a C string, for the assertions. */
static const char *text(struct fl_obuf *b)
{
	fl_obuf_char(b, '\0');
	b->len--;
	return b->p;
}

static void test_json_string(void **state)
{
	struct fl_obuf b = {NULL, 0, 0, 0};

	(void)state;
	fl_obuf_json_string(&b, "industry=Software", 17);
	assert_string_equal(text(&b), "\"industry=Software\"");
	b.len = 0;
	fl_obuf_json_string(&b, "say \"hi\"\\now", 12);
	assert_string_equal(text(&b), "\"say \\\"hi\\\"\\\\now\"");
	b.len = 0;
	/* Control characters as \u00XX, the NUL too; UTF-8 unchanged. */
	fl_obuf_json_string(&b, "a\nb\x01\0c M\xc3\xbcnchen", 15);
	assert_int_equal(b.len, strlen("\"a\\u000ab\\u0001\\u0000c M\xc3\xbcnchen\""));
	assert_memory_equal(b.p, "\"a\\u000ab\\u0001\\u0000c M\xc3\xbcnchen\"", b.len);
	b.len = 0;
	fl_obuf_json_string(&b, "", 0);
	assert_string_equal(text(&b), "\"\"");
	assert_int_equal(b.oom, 0);
	fl_obuf_free(&b);
}

static void test_csv_field(void **state)
{
	struct fl_obuf b = {NULL, 0, 0, 0};

	(void)state;
	fl_obuf_csv_field(&b, "plain text", 10);
	fl_obuf_char(&b, '|');
	fl_obuf_csv_field(&b, "a,b", 3);
	fl_obuf_char(&b, '|');
	fl_obuf_csv_field(&b, "say \"hi\"", 8);
	fl_obuf_char(&b, '|');
	fl_obuf_csv_field(&b, "two\nlines", 9);
	assert_string_equal(text(&b), "plain text|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"");
	fl_obuf_free(&b);
}

static void test_numbers(void **state)
{
	struct fl_obuf b = {NULL, 0, 0, 0};
	char want[128];

	(void)state;
	fl_obuf_g(&b, 0.46222910683093033, 17);
	fl_obuf_char(&b, ' ');
	fl_obuf_g(&b, -0.151371949939857, 17);
	fl_obuf_char(&b, ' ');
	fl_obuf_fixed(&b, 0.0078125, 6);
	fl_obuf_char(&b, ' ');
	fl_obuf_u64(&b, UINT64_MAX);
	snprintf(want, sizeof(want), "%.17g %.17g %.6f %llu", 0.46222910683093033,
	         -0.151371949939857, 0.0078125, (unsigned long long)UINT64_MAX);
	assert_string_equal(text(&b), want);
	fl_obuf_free(&b);
}

/* 100,000 lines of growing length: every byte where it was put, across
 * every doubling of the block. */
static void test_growth(void **state)
{
	struct fl_obuf b = {NULL, 0, 0, 0};
	size_t at = 0;

	(void)state;
	for (unsigned i = 0; i < 100000; i++) {
		fl_obuf_u64(&b, i);
		fl_obuf_str(&b, i % 7 ? "," : ",\"seven\"\n");
	}
	assert_int_equal(b.oom, 0);
	assert_true(b.len <= b.cap);
	for (unsigned i = 0; i < 100000; i++) {
		char want[32];
		int n = snprintf(want, sizeof(want), i % 7 ? "%u," : "%u,\"seven\"\n", i);

		assert_true(at + (size_t)n <= b.len);
		assert_memory_equal(b.p + at, want, (size_t)n);
		at += (size_t)n;
	}
	assert_int_equal(at, b.len);
	fl_obuf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_json_string),
	        cmocka_unit_test(test_csv_field),
	        cmocka_unit_test(test_numbers),
	        cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
