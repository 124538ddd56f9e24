/*
 * The one way a lead file is read against a schema: open the CSV, bind its
 * header to the schema, then give the next good row under the --bad-rows
 * policy. Training, caching, checking, scoring and the report all read rows
 * through here, so a bad row is refused, skipped and counted the same way
 * everywhere, with the same "leads.csv:17:4: ..." message.
 */
#ifndef FEDLEAD_ROWS_H
#define FEDLEAD_ROWS_H

#include <stdint.h>

#include "fedlead/csv.h"
#include "fedlead/encode.h"
#include "fedlead/schema.h"

struct fl_rows;

/*
 * Opens path ("-" for standard input) in the dialect s->dialect, reads its
 * header and binds it to s (need_label = 0: the label column may be absent). rep (may be NULL)
 * receives the header columns s ignores (fl_load_report_extra()) and, from
 * fl_rows_next(), the bad rows skipped under FL_BAD_ROWS_SKIP; rep->rows is
 * the caller's to fill. rep is not cleared here. An empty file is
 * FL_ERR_DATA "leads.csv: the file is empty (no header)"; other failures are
 * fl_csv_open()'s, fl_mapping_bind()'s (when s->mapping is set: the
 * header is renamed and each row's values mapped before they are encoded)
 * and fl_binding_new()'s (with a mapping, followed by " (in the header as the
 * mapping acme.json renames it)"). *out is for fl_rows_close().
 */
int fl_rows_open(const struct fl_schema *s, const char *path, int need_label,
                 enum fl_bad_rows policy, struct fl_load_report *rep, struct fl_rows **out);

/*
 * fl_rows_open() of part of a lead file: the header, then the records in
 * bytes [begin, end) with line the physical line at begin
 * (fl_csv_set_range(), fl_csv_split()). fl_rows_index() counts from 1
 * within the part. Fails with FL_ERR_INVALID for a source that is not a
 * UTF-8 file (one registered by name, standard input, a converted file).
 */
int fl_rows_open_range(const struct fl_schema *s, const char *path, int need_label,
                       enum fl_bad_rows policy, struct fl_load_report *rep, uint64_t begin,
                       uint64_t end, uint64_t line, struct fl_rows **out);

struct fl_source;
/* As fl_rows_open(), from an open source (source.h), which the rows own
 * from now on (freed on failure too): a caller's records in memory, such
 * as the scoring service's JSON leads. */
int fl_rows_open_source(const struct fl_schema *s, struct fl_source *src, int need_label,
                        enum fl_bad_rows policy, struct fl_load_report *rep, struct fl_rows **out);

/*
 * The next good row, encoded raw into x (schema dim doubles) with *label and
 * *id as fl_encode_row() gives them (label and id may be NULL when the
 * caller has no use for them). Returns 1, 0 at the end of the file, or a
 * negative FL_ERR_*: a bad row under FL_BAD_ROWS_FAIL is FL_ERR_DATA with
 * fl_encode_row()'s message; under FL_BAD_ROWS_SKIP it is counted in rep
 * (its message among the first FL_BAD_ROW_SAMPLES) and passed over.
 */
int fl_rows_next(struct fl_rows *rows, double *x, double *label, const char **id);

/*
 * Back to the first row, for a second pass: re-reads and re-binds the
 * header. rep (may be NULL, then nothing is counted) takes the place of
 * fl_rows_open()'s. Fails on a pipe.
 */
int fl_rows_rewind(struct fl_rows *rows, struct fl_load_report *rep);

/* The CSV record of the last good row as it was encoded (with the
 * schema's mapping applied, when it has one), valid until the next call. */
const struct fl_csv_record *fl_rows_record(const struct fl_rows *rows);
/* Position of the last good row among the data records of this pass,
 * bad ones included (1 for the row after the header). */
uint64_t fl_rows_index(const struct fl_rows *rows);
/* The physical line of the file where the last good row starts. */
uint64_t fl_rows_line(const struct fl_rows *rows);
const struct fl_binding *fl_rows_binding(const struct fl_rows *rows);
/* Bytes read from the file so far. */
uint64_t fl_rows_bytes_read(const struct fl_rows *rows);

void fl_rows_close(struct fl_rows *rows);

#endif
