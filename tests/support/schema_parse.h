/*
 * Parsing a schema in a test: the text must parse, or must be refused
 * with one exact message (what a user reads). Shared by the schema,
 * draft, spline, date and joined-feature tests.
 */
#ifndef FL_TEST_SCHEMA_PARSE_H
#define FL_TEST_SCHEMA_PARSE_H

struct fl_schema;

/* The schema of json (named origin in messages); fails the test, with
 * the library's message, when it does not parse. */
struct fl_schema *schema_parse_ok(const char *json, const char *origin);

/* Fails the test unless json is refused as a schema (FL_ERR_SCHEMA, no
 * schema returned) with exactly msg. */
void schema_parse_refused(const char *json, const char *origin, const char *msg);

#endif
