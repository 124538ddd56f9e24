/*
 * Where lead records come from: a CSV file (csv.h), or a source registered
 * under a name, such as a PostgreSQL query (pgsource.h). The rows of a
 * schema (rows.h) and the schema draft read records through this seam, so
 * training, checking, caching, scoring and drafting take either.
 *
 * A source gives records as the CSV reader does: the first is the header
 * (the column names), every later one a row with as many fields. Each
 * record's "line" is its position for messages: a file's physical line, a
 * query's row number (the header counts as 1).
 *
 * Registered sources are process wide, as the CSV progress is: the name a
 * command registers is what it passes down as the "path" of its data, so
 * the library's many entry points that take a path (fl_rows_open(),
 * fl_dataset_load(), fl_score_file(), fl_schema_draft_opts()) read a query
 * without a new parameter each. The name is what messages print, so a
 * source whose address holds a secret registers a name without it.
 */
#ifndef FEDLEAD_SOURCE_H
#define FEDLEAD_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/csv.h"

struct fl_source;

/* What a source other than a CSV file implements; impl is its own state. */
struct fl_source_ops {
	/* The next record: 1 and *rec (valid until the next call), 0 at the
	 * end, or a negative FL_ERR_* with the message. */
	int (*next)(void *impl, struct fl_csv_record *rec);
	/* Back to the header, the same records again; or an error. */
	int (*rewind)(void *impl);
	/* Where the record just returned (its line) and its column col
	 * (0-based; SIZE_MAX for none) are, for messages, into buf. */
	void (*position)(void *impl, uint64_t line, size_t col, char *buf, size_t n);
	/* Bytes of field text read so far in this pass (for figures). */
	uint64_t (*bytes_read)(void *impl);
	void (*free)(void *impl);
	/* 1: numbers are plain text (a decimal point, no separators), as a
	 * database writes them, so the schema's number formats, which say
	 * how a partner's files write them, do not apply; 0: they do. */
	int plain_numbers;
};

/* Wraps impl (freed with ops->free on failure too) as a source named name
 * (copied). */
int fl_source_new(const char *name, const struct fl_source_ops *ops, void *impl,
                  struct fl_source **out);

/* Opens a registered source: dialect is the schema's, for sources that
 * format their values (NULL: plain). */
typedef int (*fl_source_open_fn)(void *arg, const char *name, const struct fl_csv_dialect *dialect,
                                 struct fl_source **out);

/*
 * Registers name: from now on fl_source_open(name) calls fn(arg, ...)
 * instead of opening a file. arg is the caller's and must outlive the
 * registration; free_arg (may be NULL) frees it when the registry is
 * cleared. A name registered again replaces the old entry.
 */
int fl_source_register(const char *name, fl_source_open_fn fn, void *arg,
                       void (*free_arg)(void *arg));
/* Whether name is registered. */
int fl_source_registered(const char *name);
/* Forgets every registration (tests; the programs keep theirs to exit). */
void fl_source_registry_clear(void);

/*
 * Opens name: a registered source, else the CSV file name ("-" standard
 * input) in the dialect d (NULL: the default). Fails as fl_csv_open_dialect()
 * or the source's opener does.
 */
int fl_source_open(const char *name, const struct fl_csv_dialect *d, struct fl_source **out);

/* As fl_csv_next(): 1 and *rec, 0 at the end, or an error. */
int fl_source_next(struct fl_source *src, struct fl_csv_record *rec);
/* Back to the header. A pipe cannot; a query runs again on the same
 * snapshot (pgsource.h). */
int fl_source_rewind(struct fl_source *src);
/* The name given, as messages say it. */
const char *fl_source_name(const struct fl_source *src);
/* The CSV reader underneath, or NULL when the source is not a file. */
struct fl_csv *fl_source_csv(const struct fl_source *src);
uint64_t fl_source_bytes_read(const struct fl_source *src);
/* Whether the source's numbers are plain text (fl_source_ops). */
int fl_source_plain_numbers(const struct fl_source *src);

/*
 * Messages about records are worded for files ("NAME:LINE:COL: column
 * \"age\": ..." from encode.h, "NAME:1: ..." for the header). For a source
 * that is not a file this rewrites the current message's "NAME:LINE:COL"
 * into the source's own position ("crm: row 17, lead_id \"L-42\"") and
 * returns err unchanged; for a file, or a message about something else, it
 * leaves the message as it is.
 */
int fl_source_restate(struct fl_source *src, int err);

void fl_source_free(struct fl_source *src);

#endif
