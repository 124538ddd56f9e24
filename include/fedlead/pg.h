/*
 * PostgreSQL (libpq) as a lead source and a score sink: the db layer.
 *
 * Connection strings are libpq's, in either form ("postgresql://user@host/crm",
 * "service=crm dbname=crm"), with libpq's conventions for everything a
 * string leaves out: the service file (PGSERVICEFILE, ~/.pg_service.conf),
 * the password file (PGPASSFILE, ~/.pgpass) and the PG* environment. Nothing
 * secret has to be on a command line. Messages name a connection by its
 * string with every secret option (password, sslpassword) left out, and a
 * password never appears in an error, even one libpq writes.
 */
#ifndef FEDLEAD_PG_H
#define FEDLEAD_PG_H

#include <stddef.h>
#include <stdint.h>

/* Whether text is a PostgreSQL connection URI (postgresql:// or
 * postgres://): such a --data or --out needs --query or --table. */
int fl_pg_is_uri(const char *text);

/*
 * The name messages give a connection string: the string itself when it
 * holds no secret, else its options without the secret ones, as
 * "user=fl host=/run/pg dbname=crm". *out is malloc'ed. FL_ERR_INVALID
 * "what: not a PostgreSQL connection string libpq can read" (libpq's reason is
 * left out: it may quote the string).
 */
int fl_pg_display_name(const char *what, const char *conninfo, char **out);

/* Rows fetched per round trip by a query source. */
#define FL_PG_FETCH_ROWS 1024

/*
 * Registers the rows of query on the database conninfo names as a record
 * source (source.h) and gives in *name the name to pass where a lead file's
 * path goes (valid until fl_source_registry_clear()); it is the connection's
 * display name. key (may be NULL: the first column) names the column whose
 * value names a row in messages:
 *   postgresql:///crm: row 17 (lead_id "L-0042"): column "age": "abc" is not a number
 * The header errors say "postgresql:///crm: query columns: ...".
 *
 * Opening connects and starts a read-only REPEATABLE READ transaction, in
 * which the query runs as a server-side cursor (DECLARE ... NO SCROLL
 * CURSOR, FETCH FL_PG_FETCH_ROWS at a time, the next batch asked for before
 * the current one is read): memory is one batch, whatever the rows. A
 * rewind closes the cursor and declares it again in the same transaction,
 * so every pass (training reads the rows twice or more, scoring twice)
 * sees the same snapshot; synchronised sequential scans are off so an
 * unordered query gives its rows in the same order each pass (an ORDER BY
 * makes that certain).
 *
 * Values are the server's text: numbers as PostgreSQL writes them (plain
 * decimals, float8 in its shortest exact form), booleans as "true" and
 * "false", dates as ISO dates (DateStyle ISO), timestamps as their date
 * (in the session's time zone: PGTZ), NULL as an empty field (a missing
 * value). Columns are matched to the schema by name, as a file's header.
 */
int fl_pg_source_register(const char *conninfo, const char *query, const char *key,
                          const char **name);

/* Flags of fl_pg_sink_new(). */
#define FL_PG_SINK_CREATE 1u  /* CREATE TABLE IF NOT EXISTS, with the columns of the scores */
#define FL_PG_SINK_REPLACE 2u /* the table's rows are replaced, not added to */

struct fl_pg_sink;

/*
 * A score sink: the scorer writes its CSV to fl_pg_sink_path() (a file in a
 * private directory made under tmpdir, NULL: $TMPDIR or /tmp), then
 * fl_pg_sink_commit() copies it into table (a name, or schema.name; quoted
 * as written, so its case is kept) with COPY in one transaction: every row
 * or, on any failure, none (the table as it was). Nothing connects before
 * the commit. FL_ERR_INVALID for a bad connection string or table name.
 */
int fl_pg_sink_new(const char *conninfo, const char *table, unsigned flags, const char *tmpdir,
                   struct fl_pg_sink **out);
const char *fl_pg_sink_path(const struct fl_pg_sink *sink);
/* The connection's display name. */
const char *fl_pg_sink_name(const struct fl_pg_sink *sink);

/*
 * Copies the scored CSV into the table: the columns are the CSV's header
 * (the id column, score, rank, decile, reason_K and contribution_K ...).
 * *rows is the number of rows written. Failures: FL_ERR_IO "NAME: cannot
 * connect: ..." and "NAME: nothing was written to TABLE: ERROR: ... (COPY
 * ..., line N)", the server's words.
 */
int fl_pg_sink_commit(struct fl_pg_sink *sink, uint64_t *rows);

/* Removes the temporary file and directory. NULL is allowed. */
void fl_pg_sink_free(struct fl_pg_sink *sink);

#endif
