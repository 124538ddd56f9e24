/*
 * Tests for src/schema.c: parsing and validation (with the exact messages a
 * person sees), the canonical form and its fingerprint, the encoded layout,
 * drafting a schema from a CSV, and the shipped CoIL 2000 schema.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/schema.h"

#include "support/schema_parse.h"

#define ORIGIN "t.json"

/* A small schema used by several tests; every default is omitted. */
static const char SMALL[] =
        "{\"fedlead_schema\": 1,\n"
        " \"label\": {\"column\": \"converted\", \"positive\": \"yes\",\n"
        "           \"negative\": \"no\"},\n"
        " \"features\": [\n"
        "  {\"name\": \"age\", \"type\": \"numeric\", \"missing\": \"impute\"},\n"
        "  {\"name\": \"region\", \"type\": \"categorical\",\n"
        "   \"values\": [\"north\", \"south\"], \"other\": true},\n"
        "  {\"name\": \"visits\", \"type\": \"numeric\"},\n"
        "  {\"name\": \"tier\", \"type\": \"categorical\", \"values\": [1, 2, 3]}\n"
        " ],\n"
        " \"ignore\": [\"zip\", \"email\"]}\n";

/* Its canonical text, written out by hand from the rules: compact, keys
 * sorted at every level, defaults explicit ("missing":"error", "other":false,
 * "id":null), integer categories as strings, ignore sorted. */
static const char SMALL_CANONICAL[] =
        "{\"features\":["
        "{\"missing\":\"impute\",\"name\":\"age\",\"type\":\"numeric\"},"
        "{\"name\":\"region\",\"other\":true,\"type\":\"categorical\",\"values\":[\"north\","
        "\"south\"]},"
        "{\"missing\":\"error\",\"name\":\"visits\",\"type\":\"numeric\"},"
        "{\"name\":\"tier\",\"other\":false,\"type\":\"categorical\",\"values\":[\"1\",\"2\","
        "\"3\"]}"
        "],\"fedlead_schema\":1,\"id\":null,\"ignore\":[\"email\",\"zip\"],"
        "\"label\":{\"column\":\"converted\",\"negative\":\"no\",\"positive\":\"yes\"}}";

#define parse_ok(json) schema_parse_ok((json), ORIGIN)
#define expect_error(json, msg) schema_parse_refused((json), ORIGIN, (msg))

/* Writes exact bytes to a new temporary file; path receives its name. */
static void write_tmp(char path[64], const char *bytes, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/fl_test_schema_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void test_parse_small(void **state)
{
	struct fl_schema *s = parse_ok(SMALL);

	(void)state;
	assert_string_equal(s->label, "converted");
	assert_string_equal(s->positive, "yes");
	assert_string_equal(s->negative, "no");
	assert_null(s->id);
	assert_int_equal(s->n_features, 4);
	assert_string_equal(s->features[0].name, "age");
	assert_int_equal(s->features[0].type, FL_NUMERIC);
	assert_int_equal(s->features[0].missing, FL_MISSING_IMPUTE);
	assert_string_equal(s->features[1].name, "region");
	assert_int_equal(s->features[1].type, FL_CATEGORICAL);
	assert_int_equal(s->features[1].n_values, 2);
	assert_string_equal(s->features[1].values[0], "north");
	assert_string_equal(s->features[1].values[1], "south");
	assert_true(s->features[1].other);
	assert_int_equal(s->features[2].type, FL_NUMERIC);
	assert_int_equal(s->features[2].missing, FL_MISSING_ERROR);
	/* Integer-coded categories become the text a CSV field must match. */
	assert_int_equal(s->features[3].n_values, 3);
	assert_string_equal(s->features[3].values[0], "1");
	assert_string_equal(s->features[3].values[2], "3");
	assert_false(s->features[3].other);
	assert_int_equal(s->n_ignore, 2);
	fl_schema_free(s);
	fl_schema_free(NULL);
}

static void test_parse_id_and_comment(void **state)
{
	struct fl_schema *s =
	        parse_ok("{\"fedlead_schema\":1,\"comment\":\"reviewed 2024\",\"id\":\"lead_id\","
	                 "\"label\":{\"column\":\"y\",\"positive\":\"1\",\"negative\":\"0\"},"
	                 "\"features\":[{\"name\":\"a\",\"type\":\"numeric\"}]}");

	(void)state;
	assert_string_equal(s->id, "lead_id");
	assert_int_equal(s->n_ignore, 0);
	assert_null(s->ignore);
	fl_schema_free(s);
}

/* Builds a schema around one feature definition, to exercise feature errors. */
static void expect_feature_error(const char *feature_json, const char *msg)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
	         "{\"fedlead_schema\":1,\"label\":{\"column\":\"y\",\"positive\":\"1\","
	         "\"negative\":\"0\"},\"features\":[{\"name\":\"ok\",\"type\":\"numeric\"},%s]}",
	         feature_json);
	expect_error(buf, msg);
}

#define LABEL_OK "\"label\":{\"column\":\"y\",\"positive\":\"1\",\"negative\":\"0\"}"
#define FEAT_OK "\"features\":[{\"name\":\"a\",\"type\":\"numeric\"}]"

static void test_errors_top_level(void **state)
{
	(void)state;
	/* jansson only accepts an object or array at the top. */
	expect_error("[1, 2]", "t.json: the schema must be a JSON object");
	expect_error("{\"fedlead_schema\":1,\"lable\":{}," FEAT_OK "}",
	             "t.json: unknown key \"lable\"");
	expect_error("{\"fedlead_schema\":2," LABEL_OK "," FEAT_OK "}",
	             "t.json: schema format version 2 is not supported (this fedlead reads "
	             "version 1)");
	expect_error("{" LABEL_OK "," FEAT_OK "}",
	             "t.json: missing \"fedlead_schema\": 1 (the format version)");
	expect_error("{\"fedlead_schema\":\"1\"," LABEL_OK "," FEAT_OK "}",
	             "t.json: \"fedlead_schema\" must be the integer 1 (the format version)");
	expect_error("{\"fedlead_schema\":1," FEAT_OK "}",
	             "t.json: \"label\" must be an object with \"column\", \"positive\" and "
	             "\"negative\"");
	expect_error("{\"fedlead_schema\":1,\"label\":\"y\"," FEAT_OK "}",
	             "t.json: \"label\" must be an object with \"column\", \"positive\" and "
	             "\"negative\"");
	expect_error(
	        "{\"fedlead_schema\":1,\"label\":{\"column\":\"y\",\"positive\":\"1\"}," FEAT_OK
	        "}",
	        "t.json: label: missing \"negative\"");
	expect_error("{\"fedlead_schema\":1,\"label\":{\"column\":\"y\",\"positive\":\"1\","
	             "\"negative\":\"0\",\"value\":\"2\"}," FEAT_OK "}",
	             "t.json: label: unknown key \"value\"");
	expect_error("{\"fedlead_schema\":1,\"label\":{\"column\":\"\",\"positive\":\"1\","
	             "\"negative\":\"0\"}," FEAT_OK "}",
	             "t.json: label: \"column\" must be a non-empty string");
	expect_error("{\"fedlead_schema\":1,\"label\":{\"column\":\"y\",\"positive\":1,"
	             "\"negative\":\"0\"}," FEAT_OK "}",
	             "t.json: label: \"positive\" must be a non-empty string");
	expect_error("{\"fedlead_schema\":1,\"label\":{\"column\":\"y\",\"positive\":\"1\","
	             "\"negative\":\"1\"}," FEAT_OK "}",
	             "t.json: label: \"positive\" and \"negative\" are both \"1\"");
	expect_error("{\"fedlead_schema\":1," LABEL_OK ",\"id\":7," FEAT_OK "}",
	             "t.json: \"id\" must be a non-empty string");
	expect_error("{\"fedlead_schema\":1," LABEL_OK "}",
	             "t.json: \"features\" must be a non-empty array");
	expect_error("{\"fedlead_schema\":1," LABEL_OK ",\"features\":[]}",
	             "t.json: \"features\" must be a non-empty array");
	expect_error("{\"fedlead_schema\":1," LABEL_OK "," FEAT_OK ",\"ignore\":\"b\"}",
	             "t.json: \"ignore\" must be an array of column names");
	expect_error("{\"fedlead_schema\":1," LABEL_OK "," FEAT_OK ",\"ignore\":[\"b\",\"\"]}",
	             "t.json: ignore[1] must be a non-empty string");
	/* A NUL inside a name would silently truncate the column it matches;
	 * jansson refuses it at the end of the string token (column 48). */
	expect_error("{\"fedlead_schema\":1,\"label\":{\"column\":\"y\\u0000z\",\"positive\":"
	             "\"1\",\"negative\":\"0\"}," FEAT_OK "}",
	             "t.json:1:48: \\u0000 is not allowed without JSON_ALLOW_NUL near "
	             "'\"y\\u0000z\"'");
}

static void test_errors_features(void **state)
{
	(void)state;
	expect_feature_error("3", "t.json: features[1]: must be an object");
	expect_feature_error("{\"type\":\"numeric\"}", "t.json: features[1]: missing \"name\"");
	expect_feature_error("{\"name\":\"b\"}", "t.json: feature \"b\": missing \"type\"");
	expect_feature_error("{\"name\":\"b\",\"type\":\"number\"}",
	                     "t.json: feature \"b\": unknown type \"number\" (expected "
	                     "\"numeric\", \"categorical\" or \"date\")");
	expect_feature_error("{\"name\":\"b\",\"type\":\"numeric\",\"missing\":\"zero\"}",
	                     "t.json: feature \"b\": unknown missing policy \"zero\" (expected "
	                     "\"error\" or \"impute\")");
	expect_feature_error("{\"name\":\"b\",\"type\":\"numeric\",\"values\":[\"x\"]}",
	                     "t.json: feature \"b\": unknown key \"values\"");
	expect_feature_error("{\"name\":\"b\",\"type\":\"categorical\",\"values\":[\"x\"],"
	                     "\"missing\":\"impute\"}",
	                     "t.json: feature \"b\": unknown key \"missing\"");
	expect_feature_error("{\"name\":\"b\",\"type\":\"categorical\",\"values\":[]}",
	                     "t.json: feature \"b\": \"values\" must be a non-empty array");
	expect_feature_error("{\"name\":\"b\",\"type\":\"categorical\"}",
	                     "t.json: feature \"b\": \"values\" must be a non-empty array");
	expect_feature_error("{\"name\":\"b\",\"type\":\"categorical\",\"values\":[\"x\",\"y\","
	                     "\"x\"]}",
	                     "t.json: feature \"b\": value \"x\" is listed twice");
	/* 7 and "7" are the same CSV text, hence the same category. */
	expect_feature_error("{\"name\":\"b\",\"type\":\"categorical\",\"values\":[7,\"7\"]}",
	                     "t.json: feature \"b\": value \"7\" is listed twice");
	expect_feature_error("{\"name\":\"b\",\"type\":\"categorical\",\"values\":[\"x\",1.5]}",
	                     "t.json: feature \"b\": values[1] must be a string or an integer");
	expect_feature_error("{\"name\":\"b\",\"type\":\"categorical\",\"values\":[\"x\"],"
	                     "\"other\":\"yes\"}",
	                     "t.json: feature \"b\": \"other\" must be true or false");
}

static void test_errors_columns_named_twice(void **state)
{
	(void)state;
	/* feature vs feature */
	expect_feature_error("{\"name\":\"ok\",\"type\":\"numeric\"}",
	                     "t.json: column \"ok\" is named more than once");
	/* feature vs label */
	expect_feature_error("{\"name\":\"y\",\"type\":\"numeric\"}",
	                     "t.json: column \"y\" is named more than once");
	/* id vs label */
	expect_error("{\"fedlead_schema\":1," LABEL_OK ",\"id\":\"y\"," FEAT_OK "}",
	             "t.json: column \"y\" is named more than once");
	/* ignored vs feature */
	expect_error("{\"fedlead_schema\":1," LABEL_OK "," FEAT_OK ",\"ignore\":[\"a\"]}",
	             "t.json: column \"a\" is named more than once");
	/* ignored twice */
	expect_error("{\"fedlead_schema\":1," LABEL_OK "," FEAT_OK ",\"ignore\":[\"b\",\"b\"]}",
	             "t.json: column \"b\" is named more than once");
}

static void test_errors_syntax(void **state)
{
	(void)state;
	/* The value of "label" is missing: jansson stops at the '}' on line 2,
	 * the 12th character of that line. */
	expect_error("{\"fedlead_schema\": 1,\n  \"label\": }",
	             "t.json:2:12: unexpected token near '}'");
	/* An unterminated object ends at the end of the text. */
	expect_error("{\"fedlead_schema\": 1,\n\n",
	             "t.json:3:0: string or '}' expected near end of file");
	/* Duplicate keys would make the contract depend on the parser; jansson
	 * points at the last character of the repeated key. */
	expect_error("{\"fedlead_schema\": 1,\n \"fedlead_schema\": 1}",
	             "t.json:2:17: duplicate object key near '\"fedlead_schema\"'");
	expect_error("", "t.json:1:0: '[' or '{' expected near end of file");
}

/* A schema of n_feat categorical features with n_val integer values each
 * (the last one last_n_val), built in a malloc'ed buffer. */
static char *wide_schema(int n_feat, int n_val, int last_n_val, size_t *len)
{
	/* "f123" and its keys take under 64 bytes, a value under 8 */
	size_t cap = (size_t)n_feat * (64 + (size_t)(n_val > last_n_val ? n_val : last_n_val) * 8) +
	             4096;
	char *b = malloc(cap);
	size_t k = 0;

	assert_non_null(b);
	k += (size_t)sprintf(b, "{\"fedlead_schema\":1," LABEL_OK ",\"features\":[");
	for (int f = 0; f < n_feat; f++) {
		int nv = f == n_feat - 1 ? last_n_val : n_val;

		k += (size_t)sprintf(b + k,
		                     "%s{\"name\":\"f%d\",\"type\":\"categorical\",\"values\":[",
		                     f ? "," : "", f);
		for (int v = 0; v < nv; v++)
			k += (size_t)sprintf(b + k, "%s%d", v ? "," : "", v);
		k += (size_t)sprintf(b + k, "]}");
	}
	k += (size_t)sprintf(b + k, "]}");
	assert_true(k < cap);
	*len = k;
	return b;
}

static void test_limits(void **state)
{
	struct fl_schema *s = NULL;
	size_t len;
	char *b, msg[128];

	(void)state;
	/* Exactly the largest model: 1 + 9 * 10000 + 9999 = 100000 columns. */
	b = wide_schema(10, FL_SCHEMA_MAX_VALUES, FL_SCHEMA_MAX_VALUES - 1, &len);
	assert_int_equal(fl_schema_parse(b, len, ORIGIN, &s), 0);
	assert_int_equal(s->dim, FL_SCHEMA_MAX_DIM);
	assert_int_equal(s->features[9].enc_offset, 90001);
	fl_schema_free(s);
	free(b);

	/* One more column. */
	b = wide_schema(10, FL_SCHEMA_MAX_VALUES, FL_SCHEMA_MAX_VALUES, &len);
	assert_int_equal(fl_schema_parse(b, len, ORIGIN, &s), FL_ERR_SCHEMA);
	assert_null(s);
	snprintf(msg, sizeof(msg), "t.json: the encoded model would have more than %d columns",
	         FL_SCHEMA_MAX_DIM);
	assert_string_equal(fl_errmsg(), msg);
	free(b);

	/* A duplicate among many values is still found. */
	b = wide_schema(1, FL_SCHEMA_MAX_VALUES, FL_SCHEMA_MAX_VALUES, &len);
	memcpy(strstr(b, ",9999]") + 1, "4321", 4); /* the last value repeats 4321 */
	assert_int_equal(fl_schema_parse(b, len, ORIGIN, &s), FL_ERR_SCHEMA);
	assert_string_equal(fl_errmsg(), "t.json: feature \"f0\": value \"4321\" is listed twice");
	free(b);

	b = wide_schema(1, 0, FL_SCHEMA_MAX_VALUES + 1, &len);
	assert_int_equal(fl_schema_parse(b, len, ORIGIN, &s), FL_ERR_SCHEMA);
	snprintf(msg, sizeof(msg), "t.json: feature \"f0\": more than %d values",
	         FL_SCHEMA_MAX_VALUES);
	assert_string_equal(fl_errmsg(), msg);
	free(b);

	b = wide_schema(FL_SCHEMA_MAX_FEATURES + 1, 1, 1, &len);
	assert_int_equal(fl_schema_parse(b, len, ORIGIN, &s), FL_ERR_SCHEMA);
	snprintf(msg, sizeof(msg), "t.json: more than %d features", FL_SCHEMA_MAX_FEATURES);
	assert_string_equal(fl_errmsg(), msg);
	free(b);
}

static void test_size_limit(void **state)
{
	struct fl_schema *s = (struct fl_schema *)1;
	char msg[128];

	(void)state;
	/* The length is checked before any byte is read, so the text can be short. */
	assert_int_equal(fl_schema_parse("{}", FL_SCHEMA_MAX_BYTES + 1, ORIGIN, &s), FL_ERR_SCHEMA);
	assert_null(s);
	snprintf(msg, sizeof(msg), "t.json: schema larger than %u bytes", FL_SCHEMA_MAX_BYTES);
	assert_string_equal(fl_errmsg(), msg);
}

static void test_canonical_text(void **state)
{
	struct fl_schema *s = parse_ok(SMALL);

	(void)state;
	assert_string_equal(s->canonical, SMALL_CANONICAL);
	fl_schema_free(s);
}

static void test_canonical_ascii(void **state)
{
	/* "Größe" in UTF-8; the canonical text escapes it so that it is the same
	 * bytes whatever the platform's idea of text encoding. */
	struct fl_schema *s = parse_ok("{\"fedlead_schema\":1," LABEL_OK ",\"features\":[{\"name\":"
	                               "\"Gr\xc3\xb6\xc3\x9f"
	                               "e\",\"type\":\"numeric\"}]}");

	(void)state;
	assert_string_equal(s->features[0].name, "Gr\xc3\xb6\xc3\x9f"
	                                         "e");
	for (const char *p = s->canonical; *p != '\0'; p++)
		assert_true((unsigned char)*p < 0x80);
	/* JSON allows either case of hex digit; the canonical text has one fixed
	 * spelling (jansson writes upper case). */
	assert_non_null(strstr(s->canonical, "\"name\":\"Gr\\u00F6\\u00DFe\""));
	fl_schema_free(s);
}

/* SHA-256 computed here with OpenSSL, independently of the module. */
static void check_fingerprint(const struct fl_schema *s)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[65], want[65];

	assert_int_equal(
	        EVP_Digest(s->canonical, strlen(s->canonical), md, &mdlen, EVP_sha256(), NULL), 1);
	assert_int_equal(mdlen, FL_FINGERPRINT_LEN);
	assert_memory_equal(s->fingerprint, md, FL_FINGERPRINT_LEN);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	memset(hex, 'X', sizeof(hex));
	fl_schema_fingerprint_hex(s, hex);
	assert_string_equal(hex, want);
}

static void test_fingerprint_is_sha256(void **state)
{
	struct fl_schema *s = parse_ok(SMALL);
	char hex[65];

	(void)state;
	check_fingerprint(s);
	/* SHA-256 of SMALL_CANONICAL computed outside fedlead (`printf %s TEXT |
	 * sha256sum`): pins the value partners exchange, across versions. */
	fl_schema_fingerprint_hex(s, hex);
	assert_string_equal(hex,
	                    "d49cbe879f9e8fb3ba4a6dca8350fadcdca2a44324ac4d8e6c80f3445e65d3b3");
	fl_schema_free(s);
}

static void test_fingerprint_equivalent_texts(void **state)
{
	/* The same contract as SMALL: keys reordered, other whitespace, defaults
	 * written out, integer categories as strings, ignore reordered, a comment. */
	static const char same[] =
	        "{\"ignore\":[\"email\",\"zip\"],\"comment\":\"same contract\","
	        "\"id\":null,"
	        "\"features\":[{\"type\":\"numeric\",\"missing\":\"impute\",\"name\":\"age\"},"
	        "{\"other\":true,\"values\":[\"north\",\"south\"],\"type\":\"categorical\","
	        "\"name\":\"region\"},"
	        "{\"missing\":\"error\",\"name\":\"visits\",\"type\":\"numeric\"},"
	        "{\"name\":\"tier\",\"type\":\"categorical\",\"values\":[\"1\",\"2\",\"3\"],"
	        "\"other\":false}],"
	        "\"label\":{\"negative\":\"no\",\"positive\":\"yes\",\"column\":\"converted\"},"
	        "\"fedlead_schema\":1}";
	struct fl_schema *a = parse_ok(SMALL), *b = parse_ok(same);

	(void)state;
	assert_string_equal(a->canonical, b->canonical);
	assert_memory_equal(a->fingerprint, b->fingerprint, FL_FINGERPRINT_LEN);
	check_fingerprint(b);
	fl_schema_free(a);
	fl_schema_free(b);
}

/* Replaces the first occurrence of from in SMALL and returns the parsed schema. */
static struct fl_schema *small_with(const char *from, const char *to)
{
	char buf[2048];
	const char *p = strstr(SMALL, from);
	struct fl_schema *s;

	assert_non_null(p);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - SMALL), SMALL, to, p + strlen(from));
	s = parse_ok(buf);
	check_fingerprint(s);
	return s;
}

/* SMALL with extra keys put in front of "ignore" must fail with msg. */
static void small_error(const char *extra, const char *msg)
{
	char buf[2048];
	const char *p = strstr(SMALL, "\"ignore\"");

	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - SMALL), SMALL, extra, p);
	expect_error(buf, msg);
}

static void test_dialect_keys(void **state)
{
	/* How a partner's file is written is read from the schema, and left out
	 * of the canonical form and the fingerprint: partners with different
	 * CRMs share one fingerprint. */
	struct fl_schema *plain = parse_ok(SMALL), *s;

	(void)state;
	assert_int_equal(plain->dialect.delimiter, 0);
	assert_int_equal(plain->dialect.encoding, FL_CSV_UTF8);
	s = small_with("\"ignore\"",
	               "\"delimiter\": \";\", \"encoding\": \"windows-1252\", \"ignore\"");
	assert_int_equal(s->dialect.delimiter, ';');
	assert_int_equal(s->dialect.encoding, FL_CSV_WINDOWS_1252);
	assert_string_equal(s->canonical, SMALL_CANONICAL);
	assert_memory_equal(s->fingerprint, plain->fingerprint, FL_FINGERPRINT_LEN);
	fl_schema_free(s);
	s = small_with("\"ignore\"",
	               "\"delimiter\": \"tab\", \"encoding\": \"latin1\", \"ignore\"");
	assert_int_equal(s->dialect.delimiter, '\t');
	assert_int_equal(s->dialect.encoding, FL_CSV_LATIN1);
	fl_schema_free(s);
	fl_schema_free(plain);

	small_error("\"delimiter\": \":\", ",
	            ORIGIN ": delimiter: \":\" is not a field separator (',', ';', tab, '|' or "
	                   "auto)");
	small_error("\"encoding\": \"utf-16\", ",
	            ORIGIN ": encoding: \"utf-16\" is not a supported encoding (utf-8, "
	                   "windows-1252 or latin1)");
	small_error("\"delimiter\": 59, ", ORIGIN ": \"delimiter\" must be a non-empty string");
}

static void test_number_format_keys(void **state)
{
	/* Per file and per numeric feature, outside the fingerprint too. */
	struct fl_schema *plain = parse_ok(SMALL), *s;
	const struct fl_feature *age;
	char buf[2048];
	const char *p;

	(void)state;
	s = small_with("\"ignore\"", "\"decimal\": \",\", \"thousands\": \".\", \"ignore\"");
	assert_int_equal(s->dialect.number.decimal, ',');
	assert_string_equal(s->dialect.number.thousands, ".");
	assert_string_equal(s->dialect.number.currency, "");
	assert_memory_equal(s->fingerprint, plain->fingerprint, FL_FINGERPRINT_LEN);
	fl_schema_free(s);
	s = small_with("\"missing\": \"impute\"",
	               "\"missing\": \"impute\", \"currency\": \"$\", \"thousands\": \",\"");
	age = &s->features[0];
	assert_string_equal(age->name, "age");
	assert_string_equal(age->number.currency, "$");
	assert_string_equal(age->number.thousands, ",");
	assert_int_equal(age->number_set, FL_DIALECT_CURRENCY | FL_DIALECT_THOUSANDS);
	assert_int_equal(s->features[2].number_set, 0);
	assert_string_equal(s->canonical, SMALL_CANONICAL);
	assert_memory_equal(s->fingerprint, plain->fingerprint, FL_FINGERPRINT_LEN);
	fl_schema_free(s);
	fl_schema_free(plain);

	small_error("\"decimal\": \";\", ",
	            ORIGIN ": decimal: \";\" is not a decimal separator (\".\" or \",\")");
	small_error("\"decimal\": \",\", \"thousands\": \",\", ",
	            ORIGIN ": thousands: \",\" is the decimal separator too; they must differ");
	small_error("\"currency\": \"12\", ",
	            ORIGIN ": currency: \"12\" is not a currency symbol (1 to 8 bytes, no digits, "
	                   "signs, points or commas)");
	p = strstr(SMALL, "\"missing\": \"impute\"");
	snprintf(buf, sizeof(buf), "%.*s\"decimal\": \"x\", %s", (int)(p - SMALL), SMALL, p);
	expect_error(buf, ORIGIN ": feature \"age\": decimal: \"x\" is not a decimal separator "
	                         "(\".\" or \",\")");
	/* A category is matched as text: it has no number format. */
	p = strstr(SMALL, "\"other\": true");
	snprintf(buf, sizeof(buf), "%.*s\"decimal\": \",\", %s", (int)(p - SMALL), SMALL, p);
	expect_error(buf, ORIGIN ": feature \"region\": unknown key \"decimal\"");
}

static void test_fingerprint_changes(void **state)
{
	static const char *const edits[][2] = {
	        /* category order decides the weight order */
	        {"[\"north\", \"south\"]", "[\"south\", \"north\"]"},
	        /* feature type */
	        {"{\"name\": \"visits\", \"type\": \"numeric\"}",
	         "{\"name\": \"visits\", \"type\": \"categorical\", \"values\": [\"1\"]}"},
	        /* missing policy */
	        {"\"missing\": \"impute\"", "\"missing\": \"error\""},
	        /* other */
	        {"\"other\": true", "\"other\": false"},
	        /* label values swapped */
	        {"\"positive\": \"yes\"", "\"positive\": \"maybe\""},
	        /* an ignored column */
	        {"\"zip\"", "\"zip4\""},
	        /* an id column */
	        {"\"ignore\"", "\"id\": \"lead\", \"ignore\""},
	        /* feature order */
	        {"{\"name\": \"age\", \"type\": \"numeric\", \"missing\": \"impute\"},\n"
	         "  {\"name\": \"region\", \"type\": \"categorical\",\n"
	         "   \"values\": [\"north\", \"south\"], \"other\": true},",
	         "{\"name\": \"region\", \"type\": \"categorical\",\n"
	         "   \"values\": [\"north\", \"south\"], \"other\": true},"
	         "{\"name\": \"age\", \"type\": \"numeric\", \"missing\": \"impute\"},"},
	};
	struct fl_schema *base = parse_ok(SMALL);

	(void)state;
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		struct fl_schema *s = small_with(edits[i][0], edits[i][1]);

		if (memcmp(s->fingerprint, base->fingerprint, FL_FINGERPRINT_LEN) == 0)
			fail_msg("edit %zu did not change the fingerprint", i);
		fl_schema_free(s);
	}
	fl_schema_free(base);
}

/* ---- clip ranges ---- */

/*
 * "clip": [low, high] on numeric features: parsed, written into the
 * canonical text (by hand below: reals with their ".0", after "missing" in
 * key order) only when present, so SMALL_CANONICAL above is untouched; the
 * same range written as integers, reals or -0 gives the same fingerprint,
 * and adding or changing a range changes it.
 */
static void test_clip_parse_and_canonical(void **state)
{
	static const char want[] =
	        "{\"features\":["
	        "{\"clip\":[0.0,120.0],\"missing\":\"impute\",\"name\":\"age\",\"type\":"
	        "\"numeric\"},"
	        "{\"name\":\"region\",\"other\":true,\"type\":\"categorical\",\"values\":["
	        "\"north\","
	        "\"south\"]},"
	        "{\"missing\":\"error\",\"name\":\"visits\",\"type\":\"numeric\"},"
	        "{\"name\":\"tier\",\"other\":false,\"type\":\"categorical\",\"values\":[\"1\","
	        "\"2\","
	        "\"3\"]}"
	        "],\"fedlead_schema\":1,\"id\":null,\"ignore\":[\"email\",\"zip\"],"
	        "\"label\":{\"column\":\"converted\",\"negative\":\"no\",\"positive\":\"yes\"}}";
	struct fl_schema *base = parse_ok(SMALL), *a, *b, *c, *d;

	(void)state;
	assert_false(base->features[0].has_clip);
	assert_false(base->features[2].has_clip);
	a = small_with("\"missing\": \"impute\"", "\"missing\": \"impute\", \"clip\": [0, 120]");
	assert_true(a->features[0].has_clip);
	assert_true(a->features[0].clip_lo == 0 && a->features[0].clip_hi == 120);
	assert_false(a->features[2].has_clip);
	assert_string_equal(a->canonical, want);
	assert_int_equal(a->dim, base->dim);
	assert_true(memcmp(a->fingerprint, base->fingerprint, FL_FINGERPRINT_LEN) != 0);
	b = small_with("\"missing\": \"impute\"",
	               "\"clip\": [-0.0, 1.2e2], \"missing\": \"impute\"");
	assert_string_equal(b->canonical, want);
	assert_memory_equal(a->fingerprint, b->fingerprint, FL_FINGERPRINT_LEN);
	c = small_with("\"missing\": \"impute\"", "\"missing\": \"impute\", \"clip\": [0, 121]");
	assert_true(memcmp(a->fingerprint, c->fingerprint, FL_FINGERPRINT_LEN) != 0);
	/* Negative and fractional bounds keep 17 significant digits. */
	d = small_with("{\"name\": \"visits\", \"type\": \"numeric\"}",
	               "{\"name\": \"visits\", \"type\": \"numeric\", \"clip\": [-2.5, 0.1]}");
	assert_non_null(strstr(d->canonical, "{\"clip\":[-2.5,0.10000000000000001],\"missing\":"
	                                     "\"error\",\"name\":\"visits\""));
	assert_true(d->features[2].clip_lo == -2.5 && d->features[2].clip_hi == 0.1);
	fl_schema_free(a);
	fl_schema_free(b);
	fl_schema_free(c);
	fl_schema_free(d);
	fl_schema_free(base);
}

static void test_clip_errors(void **state)
{
	(void)state;
	expect_feature_error("{\"name\":\"b\",\"type\":\"numeric\",\"clip\":[5,5]}",
	                     "t.json: features[1].clip (feature \"b\"): the low bound 5 is not "
	                     "below the high bound 5");
	expect_feature_error("{\"name\":\"b\",\"type\":\"numeric\",\"clip\":[3,-1.5]}",
	                     "t.json: features[1].clip (feature \"b\"): the low bound 3 is not "
	                     "below the high bound -1.5");
	expect_feature_error("{\"name\":\"b\",\"type\":\"numeric\",\"clip\":[1]}",
	                     "t.json: features[1].clip (feature \"b\"): must be [low, high], two "
	                     "numbers");
	expect_feature_error("{\"name\":\"b\",\"type\":\"numeric\",\"clip\":[1,2,3]}",
	                     "t.json: features[1].clip (feature \"b\"): must be [low, high], two "
	                     "numbers");
	expect_feature_error("{\"name\":\"b\",\"type\":\"numeric\",\"clip\":[\"0\",2]}",
	                     "t.json: features[1].clip (feature \"b\"): must be [low, high], two "
	                     "numbers");
	expect_feature_error("{\"name\":\"b\",\"type\":\"numeric\",\"clip\":{\"low\":0}}",
	                     "t.json: features[1].clip (feature \"b\"): must be [low, high], two "
	                     "numbers");
	expect_feature_error("{\"name\":\"b\",\"type\":\"numeric\",\"clip\":null}",
	                     "t.json: features[1].clip (feature \"b\"): must be [low, high], two "
	                     "numbers");
	/* JSON has no infinity; a bound too large to square safely stands in
	 * for one. */
	expect_feature_error("{\"name\":\"b\",\"type\":\"numeric\",\"clip\":[0,1e300]}",
	                     "t.json: features[1].clip[1] (feature \"b\"): "
	                     "1.0000000000000001e+300 is not a finite number from -1e15 to 1e15");
	expect_feature_error(
	        "{\"name\":\"b\",\"type\":\"numeric\",\"clip\":[-2e15,0]}",
	        "t.json: features[1].clip[0] (feature \"b\"): -2000000000000000 is not "
	        "a finite number from -1e15 to 1e15");
	expect_feature_error("{\"name\":\"b\",\"type\":\"categorical\",\"values\":[\"x\"],"
	                     "\"clip\":[0,1]}",
	                     "t.json: features[1].clip (feature \"b\"): a clip range applies to "
	                     "numeric features only");
}

static void test_layout_and_names(void **state)
{
	struct fl_schema *s = parse_ok(SMALL);
	/* 1 intercept + age 2 + region 2+1 + visits 1 + tier 3 = 10 */
	static const char *const names[] = {
	        "(intercept)",    "age",    "age (missing)", "region=north", "region=south",
	        "region=(other)", "visits", "tier=1",        "tier=2",       "tier=3",
	};
	char buf[64];

	(void)state;
	assert_int_equal(s->dim, 10);
	assert_int_equal(s->features[0].enc_offset, 1);
	assert_int_equal(s->features[0].enc_width, 2);
	assert_int_equal(s->features[1].enc_offset, 3);
	assert_int_equal(s->features[1].enc_width, 3);
	assert_int_equal(s->features[2].enc_offset, 6);
	assert_int_equal(s->features[2].enc_width, 1);
	assert_int_equal(s->features[3].enc_offset, 7);
	assert_int_equal(s->features[3].enc_width, 3);
	for (size_t j = 0; j < s->dim; j++) {
		fl_schema_column_name(s, j, buf, sizeof(buf));
		assert_string_equal(buf, names[j]);
	}
	/* Out of range and small buffers are handled, not overrun. */
	fl_schema_column_name(s, 10, buf, sizeof(buf));
	assert_string_equal(buf, "(column 10)");
	memset(buf, 'X', sizeof(buf));
	fl_schema_column_name(s, 4, buf, 7);
	assert_string_equal(buf, "region");
	assert_int_equal(buf[7], 'X');
	fl_schema_free(s);
}

static void test_load_file(void **state)
{
	char path[64], msg[256];
	struct fl_schema *s = (struct fl_schema *)1;
	static const char bad[] = "{\"fedlead_schema\":1,\n\"label\":{\"column\":\"y\",\n"
	                          "\"positive\":\"1\",\"negative\":\"0\"},\n"
	                          "\"features\":[{\"name\":\"a\",\"type\":\"real\"}]}\n";

	(void)state;
	write_tmp(path, SMALL, strlen(SMALL));
	assert_int_equal(fl_schema_load(path, &s), 0);
	assert_string_equal(s->canonical, SMALL_CANONICAL);
	fl_schema_free(s);
	unlink(path);

	/* Errors name the file. */
	write_tmp(path, bad, strlen(bad));
	assert_int_equal(fl_schema_load(path, &s), FL_ERR_SCHEMA);
	assert_null(s);
	snprintf(msg, sizeof(msg),
	         "%s: feature \"a\": unknown type \"real\" (expected \"numeric\", "
	         "\"categorical\" or \"date\")",
	         path);
	assert_string_equal(fl_errmsg(), msg);
	unlink(path);

	s = (struct fl_schema *)1;
	assert_int_equal(fl_schema_load("/nonexistent/x.schema.json", &s), FL_ERR_IO);
	assert_null(s);
	assert_string_equal(fl_errmsg(), "/nonexistent/x.schema.json: No such file or directory");

	assert_int_equal(fl_schema_load("/tmp", &s), FL_ERR_SCHEMA);
	assert_null(s);
	snprintf(msg, sizeof(msg), "/tmp: not a regular file of at most %u bytes",
	         FL_SCHEMA_MAX_BYTES);
	assert_string_equal(fl_errmsg(), msg);
}

/* ---- the shipped CoIL 2000 schema ---- */

/* Number of values of a categorical feature, read with jansson directly. */
static size_t json_values_of(json_t *root, const char *name)
{
	json_t *feats = json_object_get(root, "features"), *f;
	size_t i;

	json_array_foreach(feats, i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
			return json_array_size(json_object_get(f, "values"));
	}
	fail_msg("feature %s not in the schema", name);
	return 0;
}

static void test_coil2000(void **state)
{
	struct fl_schema *s = NULL;
	json_t *root;
	json_error_t jerr;
	FILE *fp;
	char header[4096], *tok, *save = NULL, buf[128];
	size_t dim = 1, n_cols = 0;

	(void)state;
	assert_int_equal(fl_schema_load(FL_TEST_DATA "/coil2000/coil2000.schema.json", &s), 0);
	root = json_load_file(FL_TEST_DATA "/coil2000/coil2000.schema.json", 0, &jerr);
	assert_non_null(root);
	/* The README: STYPE has 39 subtypes, MGEMLEEF 6 age brackets, MOSHOOFD 10
	 * main types; P* codes are 0..9. */
	assert_int_equal(json_values_of(root, "STYPE"), 39);
	assert_int_equal(json_values_of(root, "MGEMLEEF"), 6);
	assert_int_equal(json_values_of(root, "MOSHOOFD"), 10);
	assert_int_equal(json_values_of(root, "PPERSAUT"), 10);

	/* The expected width from the CSV header: the three text columns have
	 * their values plus "other", P* ten one-hot columns, CARAVAN is the
	 * label, every other column one numeric column. */
	fp = fopen(FL_TEST_DATA "/coil2000/train.csv", "r");
	assert_non_null(fp);
	assert_non_null(fgets(header, sizeof(header), fp));
	fclose(fp);
	header[strcspn(header, "\r\n")] = '\0';
	for (tok = strtok_r(header, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char name[64];

		assert_true(strlen(tok) >= 2 && tok[0] == '"');
		snprintf(name, sizeof(name), "%.*s", (int)strlen(tok) - 2, tok + 1);
		n_cols++;
		if (strcmp(name, "CARAVAN") == 0)
			continue;
		if (strcmp(name, "STYPE") == 0 || strcmp(name, "MGEMLEEF") == 0 ||
		    strcmp(name, "MOSHOOFD") == 0)
			dim += json_values_of(root, name) + 1;
		else if (name[0] == 'P')
			dim += 10;
		else
			dim += 1;
	}
	assert_int_equal(n_cols, 86);
	assert_int_equal(s->n_features, 85);
	assert_int_equal(s->dim, dim);
	assert_string_equal(s->label, "CARAVAN");
	assert_string_equal(s->positive, "1");
	assert_string_equal(s->negative, "0");

	/* Hand-checked offsets: STYPE 1..40 (39 + other), MAANTHUI 41, MGEMOMV 42,
	 * MGEMLEEF 43..49, MOSHOOFD 50..60, MGODRK 61. */
	fl_schema_column_name(s, 40, buf, sizeof(buf));
	assert_string_equal(buf, "STYPE=(other)");
	fl_schema_column_name(s, 41, buf, sizeof(buf));
	assert_string_equal(buf, "MAANTHUI");
	fl_schema_column_name(s, 49, buf, sizeof(buf));
	assert_string_equal(buf, "MGEMLEEF=(other)");
	fl_schema_column_name(s, 61, buf, sizeof(buf));
	assert_string_equal(buf, "MGODRK");
	fl_schema_column_name(s, s->dim - 1, buf, sizeof(buf));
	assert_true(strncmp(buf, s->features[84].name, strlen(s->features[84].name)) == 0);
	check_fingerprint(s);
	json_decref(root);
	fl_schema_free(s);
}

/* ---- drafting ---- */

/* Parses a drafted text and returns the schema; the draft must be valid. */
static struct fl_schema *parse_draft(const char *json)
{
	struct fl_schema *s = NULL;
	int r = fl_schema_parse(json, strlen(json), "draft", &s);

	if (r != 0)
		print_error("draft does not parse: %s\n%s\n", fl_errmsg(), json);
	assert_int_equal(r, 0);
	return s;
}

static const struct fl_feature *feature(const struct fl_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n_features; i++)
		if (strcmp(s->features[i].name, name) == 0)
			return &s->features[i];
	return NULL;
}

static int ignored(const struct fl_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n_ignore; i++)
		if (strcmp(s->ignore[i], name) == 0)
			return 1;
	return 0;
}

static void test_draft_fixture(void **state)
{
	/* tests/data/schema/draft_leads.csv, 120 rows (see its README):
	 * lead_id  L0001..L0120, unique             -> id, or ignored (id-like)
	 * age      decimals, empty in 3 rows         -> numeric, impute
	 * visits   integers 0, 1, 2, 10              -> categorical when max_levels >= 4
	 * region   east/north/south, empty in 2 rows -> categorical, other
	 * revenue  decimals, never empty             -> numeric, error
	 * email    unique text                       -> ignored
	 * notes    always empty                      -> ignored
	 * converted 0/1                              -> label, positive "1" */
	char *json = NULL;
	struct fl_schema *s;
	const struct fl_feature *f;

	(void)state;
	assert_int_equal(fl_schema_draft(FL_TEST_DATA "/schema/draft_leads.csv", "converted",
	                                 "lead_id", 10, &json),
	                 0);
	s = parse_draft(json);
	assert_string_equal(s->label, "converted");
	assert_string_equal(s->positive, "1");
	assert_string_equal(s->negative, "0");
	assert_string_equal(s->id, "lead_id");
	assert_int_equal(s->n_features, 4);

	f = feature(s, "age");
	assert_non_null(f);
	assert_int_equal(f->type, FL_NUMERIC);
	assert_int_equal(f->missing, FL_MISSING_IMPUTE);
	/* Fewer than 200 values: the quantiles are the minimum 20.5 and the
	 * maximum 59.5, rounded outward to two significant digits. */
	assert_true(f->has_clip);
	assert_true(f->clip_lo == 20 && f->clip_hi == 60);

	f = feature(s, "visits");
	assert_non_null(f);
	assert_int_equal(f->type, FL_CATEGORICAL);
	assert_int_equal(f->n_values, 4);
	/* Sorted as numbers: 10 after 2. */
	assert_string_equal(f->values[0], "0");
	assert_string_equal(f->values[1], "1");
	assert_string_equal(f->values[2], "2");
	assert_string_equal(f->values[3], "10");
	assert_true(f->other);

	f = feature(s, "region");
	assert_non_null(f);
	assert_int_equal(f->type, FL_CATEGORICAL);
	assert_int_equal(f->n_values, 3);
	assert_string_equal(f->values[0], "east");
	assert_string_equal(f->values[1], "north");
	assert_string_equal(f->values[2], "south");
	assert_true(f->other);

	f = feature(s, "revenue");
	assert_non_null(f);
	assert_int_equal(f->type, FL_NUMERIC);
	assert_int_equal(f->missing, FL_MISSING_ERROR);
	/* 103.01 .. 460.20 */
	assert_true(f->has_clip);
	assert_true(f->clip_lo == 100 && f->clip_hi == 470);
	/* Categorical features carry none. */
	assert_false(feature(s, "region")->has_clip);

	assert_int_equal(s->n_ignore, 2);
	assert_true(ignored(s, "email"));
	assert_true(ignored(s, "notes"));
	assert_null(feature(s, "lead_id"));
	assert_null(feature(s, "converted"));
	fl_schema_free(s);
	free(json);

	/* max_levels 0: integers stay numeric; without an id the unique lead_id
	 * text looks like an identifier and is ignored too. */
	assert_int_equal(fl_schema_draft(FL_TEST_DATA "/schema/draft_leads.csv", "converted", NULL,
	                                 0, &json),
	                 0);
	s = parse_draft(json);
	assert_null(s->id);
	f = feature(s, "visits");
	assert_non_null(f);
	assert_int_equal(f->type, FL_NUMERIC);
	assert_int_equal(f->missing, FL_MISSING_ERROR);
	assert_true(f->has_clip && f->clip_lo == 0 && f->clip_hi == 10);
	assert_int_equal(s->n_ignore, 3);
	assert_true(ignored(s, "lead_id"));
	assert_int_equal(s->n_features, 4);
	fl_schema_free(s);
	free(json);

	/* max_levels 3: visits takes 4 values, too many for a category. */
	assert_int_equal(fl_schema_draft(FL_TEST_DATA "/schema/draft_leads.csv", "converted",
	                                 "lead_id", 3, &json),
	                 0);
	s = parse_draft(json);
	assert_int_equal(feature(s, "visits")->type, FL_NUMERIC);
	fl_schema_free(s);
	free(json);
}

/*
 * The drafted clip range from more values: 1,001 rows written twice (a
 * column of all-different integers would be drafted as an ID), x = 1..1000
 * and one outlier 10^6, y = -0.0123 x: the 0.5 % and 99.5 % quantiles by
 * rank (sorted positions 10 and 1991 of 2,002) are 6 and 996 for x, rounded
 * outward to 6 and 1000, so the outlier is outside; for y -12.2385 and
 * -0.0615, rounded outward to -13 and -0.061. A constant column is ignored.
 * The draft's comment says the range is for a person to review.
 */
static void test_draft_clip_quantiles(void **state)
{
	FILE *fp;
	char path[64], *json = NULL;
	struct fl_schema *s;
	const struct fl_feature *f;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/fl_test_schema_XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	fprintf(fp, "x,y,k,won\n");
	for (int rep = 0; rep < 2; rep++)
		for (int i = 1; i <= 1001; i++)
			fprintf(fp, "%d,%.17g,7,%d\n", i == 1001 ? 1000000 : i,
			        -0.0123 * (i == 1001 ? 1 : i), i % 2);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(fl_schema_draft(path, "won", NULL, 0, &json), 0);
	s = parse_draft(json);
	f = feature(s, "x");
	assert_true(f->has_clip);
	assert_true(f->clip_lo == 6 && f->clip_hi == 1000);
	f = feature(s, "y");
	assert_true(f->has_clip);
	assert_true(f->clip_lo == -13 && f->clip_hi == -0.061);
	assert_null(feature(s, "k"));
	assert_true(ignored(s, "k"));
	assert_non_null(strstr(json,
	                       "Each clip range is drafted from this file's values (0.5 % "
	                       "and 99.5 % quantiles, rounded outward): with differential "
	                       "privacy it is part of the agreed contract, so partners settle "
	                       "it once and never re-derive it from data."));
	fl_schema_free(s);
	free(json);
	unlink(path);
}

static void test_draft_text_label(void **state)
{
	/* Text labels: the larger value ("yes" over "no") is drafted as positive. */
	static const char csv[] = "won,size\r\nyes,1.5\r\nno,2\r\nno,3\r\n";
	char path[64], *json = NULL;
	struct fl_schema *s;

	(void)state;
	write_tmp(path, csv, strlen(csv));
	assert_int_equal(fl_schema_draft(path, "won", NULL, 0, &json), 0);
	s = parse_draft(json);
	assert_string_equal(s->positive, "yes");
	assert_string_equal(s->negative, "no");
	assert_int_equal(s->n_features, 1);
	assert_int_equal(s->features[0].type, FL_NUMERIC);
	assert_int_equal(s->n_ignore, 0);
	fl_schema_free(s);
	free(json);
	unlink(path);
}

static void test_draft_category_limit(void **state)
{
	/* 202 rows: c100 takes 100 distinct text values (a category list), c101
	 * takes 101 (more than 100: free text, ignored), each about twice (all
	 * different would be an ID); y0 is a label. */
	char *csv = malloc(202 * 64 + 64), path[64], *json = NULL;
	size_t len;
	struct fl_schema *s;
	const struct fl_feature *f;

	(void)state;
	assert_non_null(csv);
	len = (size_t)sprintf(csv, "c100,c101,y0\n");
	for (int i = 0; i < 202; i++)
		len += (size_t)sprintf(csv + len, "v%03d,w%03d,%d\n", i % 100, i % 101, i % 2);
	write_tmp(path, csv, len);
	assert_int_equal(fl_schema_draft(path, "y0", NULL, 10, &json), 0);
	s = parse_draft(json);
	f = feature(s, "c100");
	assert_non_null(f);
	assert_int_equal(f->type, FL_CATEGORICAL);
	assert_int_equal(f->n_values, 100);
	assert_string_equal(f->values[99], "v099");
	assert_null(feature(s, "c101"));
	assert_int_equal(s->n_ignore, 1);
	assert_string_equal(s->ignore[0], "c101");
	fl_schema_free(s);
	free(json);
	unlink(path);

	/* The same file with c101 as the label. */
	write_tmp(path, csv, len);
	json = (char *)1;
	assert_int_equal(fl_schema_draft(path, "c101", NULL, 10, &json), FL_ERR_DATA);
	assert_null(json);
	{
		char msg[256];

		snprintf(msg, sizeof(msg),
		         "%s: label column \"c101\" must take exactly two values and never be "
		         "empty (found more than 100 distinct values)",
		         path);
		assert_string_equal(fl_errmsg(), msg);
	}
	unlink(path);
	free(csv);
}

static void expect_draft_error(const char *csv, const char *label, const char *id,
                               const char *after_path)
{
	char path[64], msg[512], *json = (char *)1;

	write_tmp(path, csv, strlen(csv));
	fl_err_clear();
	assert_int_equal(fl_schema_draft(path, label, id, 10, &json), FL_ERR_DATA);
	assert_null(json);
	snprintf(msg, sizeof(msg), "%s%s", path, after_path);
	assert_string_equal(fl_errmsg(), msg);
	unlink(path);
}

static void test_draft_errors(void **state)
{
	(void)state;
	expect_draft_error("a,y\n1,0\n2,1\n3,2\n", "y", NULL,
	                   ": label column \"y\" must take exactly two values and never be "
	                   "empty (found 3 distinct values)");
	expect_draft_error("a,y\n1,0\n2,1\n3,\n", "y", NULL,
	                   ": label column \"y\" must take exactly two values and never be "
	                   "empty (found 2 distinct values and empty fields)");
	expect_draft_error("a,y\n1,1\n2,1\n", "y", NULL,
	                   ": label column \"y\" must take exactly two values and never be "
	                   "empty (found 1 distinct values)");
	expect_draft_error("a,y\n1,0\n2,1\n", "converted", NULL,
	                   ":1: label column \"converted\" is not in the header");
	expect_draft_error("a,y\n1,0\n2,1\n", "y", "lead_id",
	                   ":1: id column \"lead_id\" is not in the header");
	expect_draft_error("a,y\n1,0\n2,1,3\n", "y", NULL, ":3: 3 fields, but the header has 2");
	expect_draft_error("", "y", NULL, ": the file is empty (no header)");
	expect_draft_error("a,y\r\n", "y", NULL, ": no data rows (the file has only a header)");
	expect_draft_error("a,y\n,0\n,1\n", "y", NULL,
	                   ": no column besides the label can be a feature");
	/* Every column plays one role, so a repeated name cannot be drafted. */
	expect_draft_error("a,y,b,a\n1,0,2,3\n2,1,3,4\n", "y", NULL,
	                   ":1: column \"a\" appears twice (columns 1 and 4)");
}

static void test_label_positive_words(void **state)
{
	/* {first, second, index of the positive or -1}: the values come in both
	 * orders, so an alphabetical pick cannot pass. */
	static const struct {
		const char *a, *b;
		int pos;
	} cases[] = {
	        {"Converted", "Not Converted", 0},
	        {"Converted", "Lost", 0},
	        {"Won", "Lost", 0},
	        {"Closed Won", "Closed Lost", 0},
	        {"closed_won", "closed_lost", 0},
	        {"CLOSED-WON", "Open", 0},
	        {"yes", "no", 0},
	        {"Y", "N", 0},
	        {"TRUE", "FALSE", 0},
	        {"1", "0", 0},
	        {"1.0", "0.0", 0},
	        {"1", "-1", 0},
	        {"Converted", "non-converted", 0},
	        {"Converted", "Unconverted", 0},
	        {"Customer", "Lead", 0},
	        /* The other value is a negative word: the one left is positive. */
	        {"Active", "Lost", 0},
	        {"Open", "no", 0},
	        /* Nothing says, or both say the same. */
	        {"A", "B", -1},
	        {"Hot", "Cold", -1},
	        {"2", "1", -1},
	        {"0", "2", -1},
	        {"yes", "won", -1},
	        {"no", "lost", -1},
	        {"Not Converted", "Lost", -1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *ab[2] = {cases[i].a, cases[i].b}, *ba[2] = {cases[i].b, cases[i].a};
		int want_ba = cases[i].pos < 0 ? -1 : 1 - cases[i].pos;

		if (fl_schema_label_positive(ab) != cases[i].pos ||
		    fl_schema_label_positive(ba) != want_ba)
			fail_msg("\"%s\" / \"%s\": got %d and %d, want %d", cases[i].a, cases[i].b,
			         fl_schema_label_positive(ab), fl_schema_label_positive(ba),
			         cases[i].pos);
	}
}

static char *draft_ok(const char *csv, size_t len, const struct fl_schema_draft_opts *o)
{
	char path[64], *json = NULL;
	int r;

	write_tmp(path, csv, len);
	r = fl_schema_draft_opts(path, o, &json);
	if (r != 0)
		fail_msg("draft failed: %s", fl_errmsg());
	unlink(path);
	return json;
}

static void test_draft_label_positive(void **state)
{
	static const char converted[] = "a,status\n1,Not Converted\n2,Converted\n3,Not Converted\n";
	static const char won[] = "a,stage\n1,Won\n2,Lost\n";
	static const char unclear[] = "a,y\n1,A\n2,B\n";
	struct fl_schema_draft_opts o = {.label = "status"};
	char path[64], *json;
	struct fl_schema *s;

	(void)state;
	json = draft_ok(converted, strlen(converted), &o);
	s = parse_draft(json);
	assert_string_equal(s->positive, "Converted");
	assert_string_equal(s->negative, "Not Converted");
	fl_schema_free(s);
	free(json);

	o.label = "stage";
	json = draft_ok(won, strlen(won), &o);
	s = parse_draft(json);
	assert_string_equal(s->positive, "Won");
	assert_string_equal(s->negative, "Lost");
	fl_schema_free(s);
	free(json);

	/* Values that do not say are refused, and --positive decides. */
	expect_draft_error(unclear, "y", NULL,
	                   ": label column \"y\" takes \"A\" and \"B\", which do not say which one "
	                   "means converted (use --positive VALUE)");
	o.label = "y";
	o.positive = "B";
	json = draft_ok(unclear, strlen(unclear), &o);
	s = parse_draft(json);
	assert_string_equal(s->positive, "B");
	assert_string_equal(s->negative, "A");
	fl_schema_free(s);
	free(json);

	/* --positive overrides the words too, and must be a value. */
	o.label = "status";
	o.positive = "Not Converted";
	json = draft_ok(converted, strlen(converted), &o);
	s = parse_draft(json);
	assert_string_equal(s->positive, "Not Converted");
	fl_schema_free(s);
	free(json);
	o.positive = "converted";
	write_tmp(path, converted, strlen(converted));
	json = (char *)1;
	assert_int_equal(fl_schema_draft_opts(path, &o, &json), FL_ERR_INVALID);
	assert_null(json);
	assert_string_equal(fl_errmsg(),
	                    "--positive \"converted\" is not a value of label column "
	                    "\"status\" (it takes \"Converted\" and \"Not Converted\")");
	unlink(path);
}

static void test_draft_dialects(void **state)
{
	/* A semicolon export with a BOM and CRLF, detected; a Windows-1252
	 * export converted; the drafted values are UTF-8. */
	static const char semi[] = "\xEF\xBB\xBF"
	                           "Lead Source;Visits;Converted\r\nGoogle;3;Yes\r\n"
	                           "\"Direct; paid\";1;No\r\nGoogle;;No\r\n";
	static const char cp1252[] = "city,y\nM\xFCnchen,yes\nK\xF6ln,no\n";
	struct fl_schema_draft_opts o = {.label = "Converted", .max_levels = 0};
	char path[64], msg[512], *json;
	struct fl_schema *s;
	const struct fl_feature *f;

	(void)state;
	json = draft_ok(semi, sizeof(semi) - 1, &o);
	s = parse_draft(json);
	assert_string_equal(s->positive, "Yes");
	f = feature(s, "Lead Source");
	assert_non_null(f);
	assert_int_equal(f->n_values, 2);
	assert_string_equal(f->values[0], "Direct; paid");
	assert_string_equal(f->values[1], "Google");
	f = feature(s, "Visits");
	assert_non_null(f);
	assert_int_equal(f->type, FL_NUMERIC);
	assert_int_equal(f->missing, FL_MISSING_IMPUTE);
	/* The draft does not record the dialect: each partner's file is read
	 * as it is written. */
	assert_int_equal(s->dialect.delimiter, 0);
	fl_schema_free(s);
	free(json);

	/* The same file read as comma-separated on request. */
	o.dialect.delimiter = ',';
	write_tmp(path, semi, sizeof(semi) - 1);
	json = (char *)1;
	assert_int_equal(fl_schema_draft_opts(path, &o, &json), FL_ERR_DATA);
	snprintf(msg, sizeof(msg),
	         "%s:1: the header has one field containing ';' — the file looks "
	         "semicolon-separated (use --delimiter ';')",
	         path);
	assert_string_equal(fl_errmsg(), msg);
	unlink(path);

	o.label = "y";
	o.dialect.delimiter = 0;
	write_tmp(path, cp1252, sizeof(cp1252) - 1);
	assert_int_equal(fl_schema_draft_opts(path, &o, &json), FL_ERR_DATA);
	snprintf(msg, sizeof(msg),
	         "%s:2:1: not UTF-8 text (byte 0xFC); save the file as UTF-8 or name its "
	         "encoding (--encoding windows-1252 or latin1)",
	         path);
	assert_string_equal(fl_errmsg(), msg);
	unlink(path);
	o.dialect.encoding = FL_CSV_WINDOWS_1252;
	json = draft_ok(cp1252, sizeof(cp1252) - 1, &o);
	s = parse_draft(json);
	f = feature(s, "city");
	assert_non_null(f);
	assert_string_equal(f->values[0], "K\xC3\xB6ln");
	assert_string_equal(f->values[1], "M\xC3\xBC"
	                                  "nchen");
	fl_schema_free(s);
	free(json);
}

static void test_draft_id_is_label(void **state)
{
	char *json = (char *)1;

	(void)state;
	assert_int_equal(fl_schema_draft(FL_TEST_DATA "/schema/draft_leads.csv", "converted",
	                                 "converted", 10, &json),
	                 FL_ERR_INVALID);
	assert_null(json);
	assert_string_equal(fl_errmsg(),
	                    "the id column and the label column are both \"converted\"");
}

static void test_draft_unnamed_columns(void **state)
{
	/* pandas writes its row index as an unnamed first column; a trailing
	 * comma makes another. A schema cannot name them, so the draft leaves
	 * them out (binding reports them as extra columns). */
	static const char csv[] = ",a,y,\n0,1.5,1,\n1,2.5,0,\n";
	char path[64], *json = NULL;
	struct fl_schema *s;

	(void)state;
	write_tmp(path, csv, strlen(csv));
	assert_int_equal(fl_schema_draft(path, "y", NULL, 10, &json), 0);
	s = parse_draft(json);
	assert_int_equal(s->n_features, 1);
	assert_string_equal(s->features[0].name, "a");
	assert_int_equal(s->n_ignore, 0);
	fl_schema_free(s);
	free(json);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_small),
	        cmocka_unit_test(test_parse_id_and_comment),
	        cmocka_unit_test(test_errors_top_level),
	        cmocka_unit_test(test_errors_features),
	        cmocka_unit_test(test_errors_columns_named_twice),
	        cmocka_unit_test(test_errors_syntax),
	        cmocka_unit_test(test_size_limit),
	        cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_canonical_text),
	        cmocka_unit_test(test_canonical_ascii),
	        cmocka_unit_test(test_fingerprint_is_sha256),
	        cmocka_unit_test(test_fingerprint_equivalent_texts),
	        cmocka_unit_test(test_fingerprint_changes),
	        cmocka_unit_test(test_clip_parse_and_canonical),
	        cmocka_unit_test(test_clip_errors),
	        cmocka_unit_test(test_layout_and_names),
	        cmocka_unit_test(test_load_file),
	        cmocka_unit_test(test_coil2000),
	        cmocka_unit_test(test_draft_fixture),
	        cmocka_unit_test(test_draft_text_label),
	        cmocka_unit_test(test_draft_clip_quantiles),
	        cmocka_unit_test(test_draft_errors),
	        cmocka_unit_test(test_draft_category_limit),
	        cmocka_unit_test(test_draft_id_is_label),
	        cmocka_unit_test(test_draft_unnamed_columns),
	        cmocka_unit_test(test_dialect_keys),
	        cmocka_unit_test(test_number_format_keys),
	        cmocka_unit_test(test_label_positive_words),
	        cmocka_unit_test(test_draft_label_positive),
	        cmocka_unit_test(test_draft_dialects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
