/*
 * A partner's column mapping: its own export, read as the schema names it.
 *
 * CRMs name the same column differently ("Industry Vertical" here,
 * "industry" in the agreed schema) and spell the same category differently
 * ("Fin. Services", "Financial services", "finance"). A mapping file, kept
 * by each partner beside its data, renames columns and maps values so that
 * the partner trains, checks and scores its exports as they are, without
 * rewriting them:
 *
 *   {
 *     "fedlead_mapping": 1,
 *     "comment": "Acme's CRM export, March layout",
 *     "columns": {"Industry Vertical": "industry", "Converted?": "converted"},
 *     "values": {
 *       "industry": {"Fin. Services": "finance", "Financial services": "finance"},
 *       "converted": {"Won": "yes", "Lost": "no"}
 *     }
 *   }
 *
 * "columns" maps a column of the file (its header name) to the schema's
 * name for it. "values" is keyed by the schema's name (after renaming) and
 * maps a field's exact text to the text the schema expects; "" is a
 * missing value. Both are optional; "comment" is free text. Values are
 * mapped once (never chained), before a field is parsed or looked up, for
 * features and the label column alike.
 *
 * The mapping is applied before the schema: a column is renamed when the
 * header is bound, a value replaced before it is encoded. It is a property
 * of one partner's files, like the dialect: it is not part of the schema's
 * canonical form, so it never changes the fingerprint, and a model never
 * records it.
 */
#ifndef FEDLEAD_MAPPING_H
#define FEDLEAD_MAPPING_H

#include <stddef.h>

#include "fedlead/csv.h"

#define FL_MAPPING_VERSION 1
/* Limits, checked before memory is taken. */
#define FL_MAPPING_MAX_BYTES (4u * 1024 * 1024)
#define FL_MAPPING_MAX_COLUMNS FL_CSV_MAX_FIELDS /* renamed columns, columns with values */
#define FL_MAPPING_MAX_VALUES 100000             /* mapped values per column */

struct fl_schema;
struct fl_mapping;
struct fl_mapping_binding;

/*
 * Parses a mapping. origin names the text in messages (its path). Returns
 * 0, or FL_ERR_CONFIG with fl_errmsg() naming the place, e.g.
 *   "acme.json:3:14: not UTF-8 text (byte 0xE9); save the mapping as UTF-8"
 *   "acme.json:2:5: duplicate object key near '\"Sector\"'" (jansson's syntax
 *     errors, with line and column)
 *   "acme.json: the mapping must be a JSON object"
 *   "acme.json: missing \"fedlead_mapping\": 1 (the format version)"
 *   "acme.json: \"fedlead_mapping\" must be the integer 1 (the format version)"
 *   "acme.json: mapping format version 2 is not supported (this fedlead reads
 *     version 1)"
 *   "acme.json: unknown key \"colums\" (a mapping has fedlead_mapping, comment,
 *     columns and values)"
 *   "acme.json: comment: must be a string"
 *   "acme.json: columns: must be an object of \"file column\": \"schema column\""
 *   "acme.json: columns[\"Sector\"]: must be a string, the schema's name for
 *     the column (it is a number)"
 *   "acme.json: columns[\"\"]: a column name cannot be empty"
 *   "acme.json: columns[\"Sector\"]: the schema's name for the column cannot
 *     be empty"
 *   "acme.json: columns: \"Industry Vertical\" and \"Sector\" are both renamed
 *     to \"industry\""
 *   "acme.json: values: must be an object of \"schema column\": {\"file value\":
 *     \"schema value\"}"
 *   "acme.json: values[\"industry\"]: must be an object of \"file value\":
 *     \"schema value\" (it is an array)"
 *   "acme.json: values[\"industry\"][\"Fin. Services\"]: must be a string (it
 *     is a number)"
 *   "acme.json: columns: more than 65536 columns" (and "values: ...",
 *     "values[\"industry\"]: more than 100000 values")
 * (each message is one line). FL_ERR_NOMEM when memory is short.
 */
int fl_mapping_parse(const char *json, size_t len, const char *origin, struct fl_mapping **out);

/* Reads and parses a mapping file: fl_mapping_parse() with the path as
 * origin; "acme.json: not a regular file of at most 4194304 bytes"
 * (FL_ERR_CONFIG) or FL_ERR_IO "acme.json: No such file or directory". */
int fl_mapping_load(const char *path, struct fl_mapping **out);

void fl_mapping_free(struct fl_mapping *m);

/* The origin given to fl_mapping_parse() (the path). */
const char *fl_mapping_origin(const struct fl_mapping *m);

/* Renamed columns and columns with mapped values. */
size_t fl_mapping_n_columns(const struct fl_mapping *m);
size_t fl_mapping_n_value_columns(const struct fl_mapping *m);

/*
 * Checks that every column of "values" is one the schema reads: a feature,
 * the label or the id. FL_ERR_CONFIG
 *   "acme.json: values[\"sector\"]: the schema has no column \"sector\""
 * and, when the name is one the mapping renames,
 *   "acme.json: values[\"Industry Vertical\"]: name the column as the schema
 *    does (\"industry\"): values are mapped after columns are renamed".
 */
int fl_mapping_check_schema(const struct fl_mapping *m, const struct fl_schema *s);

/*
 * Binds a mapping to the header of one file (path names it in messages).
 * With a schema s, fl_mapping_check_schema() first; without one (drafting
 * a schema), every column of "values" must be in the header after
 * renaming. FL_ERR_DATA, one line each:
 *   "leads.csv:1: column \"Industry Vertical\" is not in the header (the
 *    mapping acme.json renames it to \"industry\")", followed by ", nor are
 *    N more columns the mapping renames" when several are missing
 *   "leads.csv:1: column \"Sector\" appears twice (columns 2 and 5); the
 *    mapping acme.json renames it to \"industry\""
 *   "leads.csv:1: the mapping acme.json renames column \"Sector\" to
 *    \"industry\", but the file has a column \"industry\" already (column 4)"
 *   "leads.csv:1: column \"industry\" is not in the header after renaming
 *    (the mapping acme.json maps its values)" (no schema only)
 * The binding borrows m, which must outlive it.
 */
int fl_mapping_bind(const struct fl_mapping *m, const struct fl_schema *s, const char *path,
                    const struct fl_csv_record *header, struct fl_mapping_binding **out);

/* The header with the mapping's names: the renamed fields are the
 * mapping's strings, the others still the header record's (valid as long
 * as it is). */
const struct fl_csv_record *fl_mapping_header(const struct fl_mapping_binding *mb);

/*
 * The record rec with its mapped values replaced, valid until the next
 * call or until rec's own fields change (unmapped fields point into rec).
 * A record whose field count is not the header's is returned as it is:
 * the encoder reports it. Costs one copy of the field array and one binary
 * search per column with mapped values.
 */
const struct fl_csv_record *fl_mapping_apply(struct fl_mapping_binding *mb,
                                             const struct fl_csv_record *rec);

/*
 * The file's own name of header column col when the mapping renamed it,
 * else NULL; the string belongs to the mapping (it outlives the binding).
 * fl_mapping_sources() gives them all, indexed by column.
 */
const char *fl_mapping_source(const struct fl_mapping_binding *mb, size_t col);
const char *const *fl_mapping_sources(const struct fl_mapping_binding *mb);

void fl_mapping_binding_free(struct fl_mapping_binding *mb);

#endif
