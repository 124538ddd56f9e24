/*
 * Tests for the one UTF-8 validator (src/util/utf8.c), with known answers
 * from Markus Kuhn's "UTF-8 decoder capability and stress test"
 * (https://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-test.txt), copied by
 * hand: the section numbers below are that file's. Expected code points are
 * the file's, not computed here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fedlead/utf8.h"

struct ok_vec {
	const char *name;
	const char *bytes;
	size_t len;
	uint32_t cp;
};

struct bad_vec {
	const char *name;
	const char *bytes;
	size_t len;
};

#define V(s) s, sizeof(s) - 1

/* Well-formed single characters: fl_utf8_char() must take all of them. */
static const struct ok_vec OK[] = {
        {"2.1.1 U+0000", V("\x00"), 0x0000},
        {"2.1.2 U+0080", V("\xc2\x80"), 0x0080},
        {"2.1.3 U+0800", V("\xe0\xa0\x80"), 0x0800},
        {"2.1.4 U+10000", V("\xf0\x90\x80\x80"), 0x10000},
        {"2.2.1 U+007F", V("\x7f"), 0x007f},
        {"2.2.2 U+07FF", V("\xdf\xbf"), 0x07ff},
        {"2.2.3 U+FFFF", V("\xef\xbf\xbf"), 0xffff},
        {"2.3.1 U+D7FF", V("\xed\x9f\xbf"), 0xd7ff},
        {"2.3.2 U+E000", V("\xee\x80\x80"), 0xe000},
        {"2.3.3 U+FFFD", V("\xef\xbf\xbd"), 0xfffd},
        {"2.3.4 U+10FFFF", V("\xf4\x8f\xbf\xbf"), 0x10ffff},
        {"5.3.1 U+FFFE", V("\xef\xbf\xbe"), 0xfffe},
        {"U+00E9 e acute", V("\xc3\xa9"), 0x00e9},
        {"U+20AC euro sign", V("\xe2\x82\xac"), 0x20ac},
};

/* Ill-formed: refused as a whole and as the first character. */
static const struct bad_vec BAD[] = {
        {"2.1.5 5-byte U+200000", V("\xf8\x88\x80\x80\x80")},
        {"2.1.6 6-byte U+4000000", V("\xfc\x84\x80\x80\x80\x80")},
        {"2.2.4 4-byte U+1FFFFF", V("\xf7\xbf\xbf\xbf")},
        {"2.2.5 5-byte U+3FFFFFF", V("\xfb\xbf\xbf\xbf\xbf")},
        {"2.2.6 6-byte U+7FFFFFFF", V("\xfd\xbf\xbf\xbf\xbf\xbf")},
        {"2.3.5 U+110000", V("\xf4\x90\x80\x80")},
        {"3.1.1 first continuation byte", V("\x80")},
        {"3.1.2 last continuation byte", V("\xbf")},
        {"3.1.3 2 continuation bytes", V("\x80\xbf")},
        {"3.1.4 3 continuation bytes", V("\x80\xbf\x80")},
        {"3.2.1 lonely 2-byte start", V("\xc0\x20")},
        {"3.2.1 lonely 2-byte start DF", V("\xdf\x20")},
        {"3.2.2 lonely 3-byte start", V("\xe0\x20")},
        {"3.2.3 lonely 4-byte start", V("\xf0\x20")},
        {"3.2.4 lonely 5-byte start", V("\xf8\x20")},
        {"3.2.5 lonely 6-byte start", V("\xfc\x20")},
        {"3.3.1 2-byte U+0000, last byte missing", V("\xc0")},
        {"3.3.2 3-byte U+0000, last byte missing", V("\xe0\x80")},
        {"3.3.3 4-byte U+0000, last byte missing", V("\xf0\x80\x80")},
        {"3.3.6 2-byte U+07FF, last byte missing", V("\xdf")},
        {"3.3.7 3-byte U+FFFF, last byte missing", V("\xef\xbf")},
        {"3.3.8 4-byte U+1FFFFF, last byte missing", V("\xf7\xbf\xbf")},
        {"3.5.1 FE", V("\xfe")},
        {"3.5.2 FF", V("\xff")},
        {"3.5.3 FE FE FF FF", V("\xfe\xfe\xff\xff")},
        {"4.1.1 overlong '/' 2 bytes", V("\xc0\xaf")},
        {"4.1.2 overlong '/' 3 bytes", V("\xe0\x80\xaf")},
        {"4.1.3 overlong '/' 4 bytes", V("\xf0\x80\x80\xaf")},
        {"4.1.4 overlong '/' 5 bytes", V("\xf8\x80\x80\x80\xaf")},
        {"4.2.1 maximum overlong 2 bytes", V("\xc1\xbf")},
        {"4.2.2 maximum overlong 3 bytes", V("\xe0\x9f\xbf")},
        {"4.2.3 maximum overlong 4 bytes", V("\xf0\x8f\xbf\xbf")},
        {"4.3.1 overlong NUL 2 bytes", V("\xc0\x80")},
        {"4.3.2 overlong NUL 3 bytes", V("\xe0\x80\x80")},
        {"4.3.3 overlong NUL 4 bytes", V("\xf0\x80\x80\x80")},
        {"5.1.1 U+D800", V("\xed\xa0\x80")},
        {"5.1.2 U+DB7F", V("\xed\xad\xbf")},
        {"5.1.3 U+DB80", V("\xed\xae\x80")},
        {"5.1.4 U+DBFF", V("\xed\xaf\xbf")},
        {"5.1.5 U+DC00", V("\xed\xb0\x80")},
        {"5.1.6 U+DF80", V("\xed\xbe\x80")},
        {"5.1.7 U+DFFF", V("\xed\xbf\xbf")},
        {"5.2.1 U+D800 U+DC00", V("\xed\xa0\x80\xed\xb0\x80")},
        {"5.2.8 U+DBFF U+DFFF", V("\xed\xaf\xbf\xed\xbf\xbf")},
};

static void test_well_formed_characters(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(OK) / sizeof(OK[0]); i++) {
		uint32_t cp = 0xdeadbeef;

		print_message("%s\n", OK[i].name);
		assert_int_equal(fl_utf8_char(OK[i].bytes, OK[i].len, &cp), OK[i].len);
		assert_int_equal(cp, OK[i].cp);
		/* The code point is optional. */
		assert_int_equal(fl_utf8_char(OK[i].bytes, OK[i].len, NULL), OK[i].len);
		assert_int_equal(fl_utf8_valid(OK[i].bytes, OK[i].len, 0), 1);
	}
}

static void test_ill_formed_sequences(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		uint32_t cp = 0xdeadbeef;

		print_message("%s\n", BAD[i].name);
		assert_int_equal(fl_utf8_char(BAD[i].bytes, BAD[i].len, &cp), 0);
		assert_int_equal(cp, 0xdeadbeef); /* untouched on failure */
		assert_int_equal(fl_utf8_valid(BAD[i].bytes, BAD[i].len, 0), 0);
	}
}

/* Kuhn 1: "κόσμε", five characters of 2 and 3 bytes. */
static void test_kosme(void **state)
{
	static const char k[] = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
	static const uint32_t want[] = {0x03ba, 0x1f79, 0x03c3, 0x03bc, 0x03b5};
	size_t off = 0, n;
	uint32_t cp;

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		n = fl_utf8_char(k + off, sizeof(k) - 1 - off, &cp);
		assert_int_equal(n, i == 1 ? 3 : 2);
		assert_int_equal(cp, want[i]);
		off += n;
	}
	assert_int_equal(off, sizeof(k) - 1);
	assert_int_equal(fl_utf8_valid(k, sizeof(k) - 1, FL_UTF8_NO_NUL | FL_UTF8_NO_CONTROL), 1);
	/* One bad byte anywhere spoils the whole text. */
	{
		char t[sizeof(k)];

		memcpy(t, k, sizeof(k));
		t[7] = '\xff';
		assert_int_equal(fl_utf8_valid(t, sizeof(k) - 1, 0), 0);
	}
}

/* A character cut by the end of the buffer is not one, even when the bytes
 * past n would complete it. */
static void test_truncated_by_length(void **state)
{
	static const char euro[] = "\xe2\x82\xac";
	static const char four[] = "\xf0\x9f\x98\x80"; /* U+1F600 */

	(void)state;
	assert_int_equal(fl_utf8_char(euro, 3, NULL), 3);
	assert_int_equal(fl_utf8_char(euro, 2, NULL), 0);
	assert_int_equal(fl_utf8_char(euro, 1, NULL), 0);
	assert_int_equal(fl_utf8_char(euro, 0, NULL), 0);
	assert_int_equal(fl_utf8_char(four, 4, NULL), 4);
	assert_int_equal(fl_utf8_char(four, 3, NULL), 0);
	assert_int_equal(fl_utf8_valid(euro, 2, 0), 0);
	assert_int_equal(fl_utf8_valid("", 0, FL_UTF8_NO_NUL | FL_UTF8_NO_CONTROL), 1);
	/* A NUL-terminated string passed with strnlen(s, 4): the NUL ends it. */
	assert_int_equal(fl_utf8_char("\xe2\x82", strnlen("\xe2\x82", 4), NULL), 0);
}

static void test_nul_and_controls(void **state)
{
	(void)state;
	/* NUL: a character by default, refused by either flag. */
	assert_int_equal(fl_utf8_valid("a\0b", 3, 0), 1);
	assert_int_equal(fl_utf8_valid("a\0b", 3, FL_UTF8_NO_NUL), 0);
	assert_int_equal(fl_utf8_valid("a\0b", 3, FL_UTF8_NO_CONTROL), 0);
	/* C0, DEL and C1 controls: only FL_UTF8_NO_CONTROL refuses them. */
	assert_int_equal(fl_utf8_valid("a\tb", 3, FL_UTF8_NO_NUL), 1);
	assert_int_equal(fl_utf8_valid("a\tb", 3, FL_UTF8_NO_CONTROL), 0);
	assert_int_equal(fl_utf8_valid("\x1f", 1, FL_UTF8_NO_CONTROL), 0);
	assert_int_equal(fl_utf8_valid("\x7f", 1, FL_UTF8_NO_CONTROL), 0);
	assert_int_equal(fl_utf8_valid("\xc2\x85", 2, FL_UTF8_NO_NUL), 1);
	assert_int_equal(fl_utf8_valid("\xc2\x85", 2, FL_UTF8_NO_CONTROL), 0); /* NEL */
	assert_int_equal(fl_utf8_valid("\xc2\x9f", 2, FL_UTF8_NO_CONTROL), 0);
	/* Just outside the control ranges. */
	assert_int_equal(fl_utf8_valid(" ~", 2, FL_UTF8_NO_CONTROL), 1);
	assert_int_equal(fl_utf8_valid("\xc2\xa0", 2, FL_UTF8_NO_CONTROL), 1); /* NBSP */
	assert_int_equal(fl_utf8_is_control(0x00), 1);
	assert_int_equal(fl_utf8_is_control(0x1f), 1);
	assert_int_equal(fl_utf8_is_control(0x20), 0);
	assert_int_equal(fl_utf8_is_control(0x7e), 0);
	assert_int_equal(fl_utf8_is_control(0x7f), 1);
	assert_int_equal(fl_utf8_is_control(0x80), 1);
	assert_int_equal(fl_utf8_is_control(0x9f), 1);
	assert_int_equal(fl_utf8_is_control(0xa0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_well_formed_characters),
	        cmocka_unit_test(test_ill_formed_sequences),
	        cmocka_unit_test(test_kosme),
	        cmocka_unit_test(test_truncated_by_length),
	        cmocka_unit_test(test_nul_and_controls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
