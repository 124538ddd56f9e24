/*
 * Streaming RFC 4180 CSV reader (on top of libcsv).
 *
 * Reads one record at a time; memory is bounded by the longest record, never
 * by the file. Handles quoted fields with embedded commas, quotes and
 * newlines, CRLF or LF line ends, a leading UTF-8 byte-order mark, and blank
 * lines (skipped). Every record knows the physical line it started on, so
 * errors can say "leads.csv:1042:7".
 */
#ifndef FEDLEAD_CSV_H
#define FEDLEAD_CSV_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits, checked before memory is taken for a record. */
#define FL_CSV_MAX_FIELDS 65536
#define FL_CSV_MAX_RECORD (16u * 1024 * 1024) /* bytes of field text per record */

struct fl_csv;

struct fl_csv_field {
	const char *s; /* NUL-terminated field text, quotes removed */
	size_t len;
};

struct fl_csv_record {
	const struct fl_csv_field *fields; /* valid until the next fl_csv_next() */
	size_t n_fields;
	uint64_t line; /* 1-based physical line where the record starts */
};

/*
 * Opens path for reading ("-" reads standard input). The name used in error
 * messages is the path as given. On failure *out is NULL and fl_errmsg() says
 * why ("leads.csv: No such file or directory").
 */
int fl_csv_open(const char *path, struct fl_csv **out);

/*
 * Reads the next record. Returns 1 and fills *rec, 0 at end of file, or a
 * negative FL_ERR_* (FL_ERR_DATA for malformed CSV such as an unterminated
 * quote, FL_ERR_LIMIT for an oversized record, FL_ERR_IO) with fl_errmsg()
 * naming file and line.
 */
int fl_csv_next(struct fl_csv *csv, struct fl_csv_record *rec);

/* Rewinds to the first record (the header). Fails on a pipe. */
int fl_csv_rewind(struct fl_csv *csv);

/* The path as given to fl_csv_open(). */
const char *fl_csv_path(const struct fl_csv *csv);

/* Bytes consumed from the file so far (for throughput figures). */
uint64_t fl_csv_bytes_read(const struct fl_csv *csv);

void fl_csv_free(struct fl_csv *csv);

/*
 * Parses a decimal number such as "12", "-0.5", "1e-3", "  7 " (surrounding
 * blanks allowed) exactly as strtod() would round it, with a fast path for
 * plain decimals. Rejects empty text, trailing garbage, hexadecimal, NaN and
 * infinities, and values that overflow. Returns 0 or -1.
 */
int fl_parse_double(const char *s, size_t len, double *out);

#endif
