/*
 * A PostgreSQL query as a record source: a server-side cursor read in
 * batches; see include/fedlead/pg.h.
 *
 * Why a cursor and not libpq's single-row mode: single-row mode makes one
 * PGresult (a malloc'ed block and its bookkeeping) per row and runs the
 * query as one statement, so a second pass would run it again on a new
 * snapshot and could see other rows. A cursor inside one REPEATABLE READ
 * transaction gives every pass the same rows, and FETCH in batches costs
 * one round trip and one result per FL_PG_FETCH_ROWS rows; asking for the
 * next batch before reading the current one lets the server produce it
 * while this process encodes.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/pg.h"
#include "fedlead/source.h"
#include "pg_int.h"

/* Type OIDs of the types whose text is rewritten (pg_type.h, stable). */
#define OID_BOOL 16
#define OID_DATE 1082
#define OID_TIMESTAMP 1114
#define OID_TIMESTAMPTZ 1184

/* How much of a key an error message quotes. */
#define KEY_QUOTE_MAX 60

struct pg_query {
	char *conninfo, *query, *key;
	char *name; /* display name, the registry's */
};

enum col_kind { COL_TEXT = 0, COL_BOOL, COL_DATE };

struct pg_source {
	const struct pg_query *q;
	PGconn *conn;
	PGresult *res; /* the batch being read */
	int row;       /* next row of res */
	int pending;   /* a FETCH has been sent and not yet read */
	int header;    /* the header is the next record */
	int done;      /* the cursor has no more rows */
	size_t n_cols;
	size_t key_col;
	enum col_kind *kind;
	struct fl_csv_field *fields;
	char (*date)[11]; /* per column: a timestamp's date */
	uint64_t line;    /* of the record last returned */
	uint64_t bytes;
	char fetch[64];
};

static void query_free(void *arg)
{
	struct pg_query *q = arg;

	if (q == NULL)
		return;
	free(q->conninfo);
	free(q->query);
	free(q->key);
	free(q->name);
	free(q);
}

static void pg_source_free(void *impl)
{
	struct pg_source *ps = impl;

	if (ps == NULL)
		return;
	PQclear(ps->res);
	/* Closing the connection ends the read-only transaction. */
	PQfinish(ps->conn);
	free(ps->kind);
	free(ps->fields);
	free(ps->date);
	free(ps);
}

/* Reads the answer to the FETCH sent last into ps->res. */
static int receive(struct pg_source *ps)
{
	PGresult *res, *extra;
	int r = 0;

	PQclear(ps->res);
	ps->res = NULL;
	ps->row = 0;
	ps->pending = 0;
	res = PQgetResult(ps->conn);
	/* Drain to the end of the command, as libpq requires. */
	while ((extra = PQgetResult(ps->conn)) != NULL)
		PQclear(extra);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = fl_pg_fail(ps->conn, res, ps->q->name, "the query failed");
		PQclear(res);
		return r;
	}
	ps->res = res;
	if (PQntuples(res) < FL_PG_FETCH_ROWS)
		ps->done = 1;
	else if (!PQsendQuery(ps->conn, ps->fetch))
		return fl_pg_fail(ps->conn, NULL, ps->q->name, "cannot fetch rows");
	else
		ps->pending = 1;
	return 0;
}

/* Declares the cursor and reads its first batch (the header's names and
 * types come from it even when it has no rows). */
static int declare(struct pg_source *ps)
{
	PGresult *res;
	char *sql;
	size_t n;
	int r;

	/* A query as people write it may end in ';', which DECLARE does not
	 * take. */
	n = strlen(ps->q->query);
	while (n > 0 && strchr("; \t\r\n", ps->q->query[n - 1]) != NULL)
		n--;
	if ((sql = malloc(n + 64)) == NULL)
		return FL_ERR_NOMEM;
	snprintf(sql, n + 64, "DECLARE fedlead_rows NO SCROLL CURSOR FOR %.*s", (int)n,
	         ps->q->query);
	/* The extended protocol runs one statement only: a query that holds a
	 * second one is refused rather than run. */
	res = PQexecParams(ps->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	free(sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = fl_pg_fail(ps->conn, res, ps->q->name, "the query failed");
		PQclear(res);
		return r;
	}
	PQclear(res);
	ps->done = 0;
	ps->header = 1;
	ps->line = 0;
	ps->bytes = 0;
	if (!PQsendQuery(ps->conn, ps->fetch))
		return fl_pg_fail(ps->conn, NULL, ps->q->name, "cannot fetch rows");
	ps->pending = 1;
	return receive(ps);
}

/* The columns, from the first batch: their kinds and the key's place. */
static int describe(struct pg_source *ps)
{
	int n = PQnfields(ps->res);

	if (n <= 0)
		return fl_fail(FL_ERR_DATA, "%s: query columns: the query returns no columns",
		               ps->q->name);
	ps->n_cols = (size_t)n;
	if ((ps->kind = calloc(ps->n_cols, sizeof(*ps->kind))) == NULL ||
	    (ps->fields = calloc(ps->n_cols, sizeof(*ps->fields))) == NULL ||
	    (ps->date = calloc(ps->n_cols, sizeof(*ps->date))) == NULL)
		return FL_ERR_NOMEM;
	ps->key_col = ps->q->key != NULL ? SIZE_MAX : 0;
	for (size_t i = 0; i < ps->n_cols; i++) {
		Oid t = PQftype(ps->res, (int)i);

		ps->kind[i] = t == OID_BOOL ? COL_BOOL
		              : t == OID_DATE || t == OID_TIMESTAMP || t == OID_TIMESTAMPTZ
		                      ? COL_DATE
		                      : COL_TEXT;
		if (ps->q->key != NULL && strcmp(PQfname(ps->res, (int)i), ps->q->key) == 0)
			ps->key_col = i;
	}
	if (ps->key_col == SIZE_MAX)
		return fl_fail(FL_ERR_INVALID, "%s: query columns: no column \"%s\" (--key)",
		               ps->q->name, ps->q->key);
	return 0;
}

static int pg_next(void *impl, struct fl_csv_record *rec)
{
	struct pg_source *ps = impl;
	int r;

	if (ps->header) {
		ps->header = 0;
		for (size_t i = 0; i < ps->n_cols; i++) {
			ps->fields[i].s = PQfname(ps->res, (int)i);
			ps->fields[i].len = strlen(ps->fields[i].s);
		}
		*rec = (struct fl_csv_record){
		        .fields = ps->fields, .n_fields = ps->n_cols, .line = ps->line = 1};
		return 1;
	}
	while (ps->res == NULL || ps->row >= PQntuples(ps->res)) {
		if (!ps->pending)
			return 0;
		if ((r = receive(ps)) != 0)
			return r;
	}
	for (size_t i = 0; i < ps->n_cols; i++) {
		struct fl_csv_field *f = &ps->fields[i];

		/* NULL reads as "": an empty field, a missing value. */
		f->s = PQgetvalue(ps->res, ps->row, (int)i);
		f->len = (size_t)PQgetlength(ps->res, ps->row, (int)i);
		ps->bytes += f->len;
		if (ps->kind[i] == COL_BOOL && f->len == 1) {
			f->s = f->s[0] == 't' ? "true" : "false";
			f->len = f->s[0] == 't' ? 4 : 5;
		} else if (ps->kind[i] == COL_DATE && f->len > 10 && f->s[4] == '-' &&
		           f->s[10] == ' ' && memcmp(f->s + f->len - 3, " BC", 3) != 0) {
			/* "2024-05-17 09:30:00+02": the date (libpq's buffer is
			 * not ours to cut). */
			memcpy(ps->date[i], f->s, 10);
			ps->date[i][10] = '\0';
			f->s = ps->date[i];
			f->len = 10;
		}
	}
	/* While this batch is read, the server sends the next: take what has
	 * arrived into libpq's buffer now and then (without waiting), so the
	 * server is not held up by a full socket until this batch is done. */
	if (ps->pending && (ps->row & 255) == 0 && !PQconsumeInput(ps->conn))
		return fl_pg_fail(ps->conn, NULL, ps->q->name, "cannot fetch rows");
	ps->row++;
	*rec = (struct fl_csv_record){
	        .fields = ps->fields, .n_fields = ps->n_cols, .line = ++ps->line};
	return 1;
}

static int pg_rewind(void *impl)
{
	struct pg_source *ps = impl;
	int r;

	/* A batch asked for must be read before the next command. */
	while (ps->pending)
		if ((r = receive(ps)) != 0)
			return r;
	PQclear(ps->res);
	ps->res = NULL;
	if ((r = fl_pg_exec(ps->conn, "CLOSE fedlead_rows", ps->q->name, "cannot rewind")) != 0 ||
	    (r = declare(ps)) != 0)
		return r;
	if ((size_t)PQnfields(ps->res) != ps->n_cols)
		return fl_fail(FL_ERR_IO, "%s: the query's columns changed between passes",
		               ps->q->name);
	return 0;
}

static void pg_position(void *impl, uint64_t line, size_t col, char *buf, size_t n)
{
	struct pg_source *ps = impl;
	const struct fl_csv_field *k = &ps->fields[ps->key_col];
	char key[KEY_QUOTE_MAX + 4];
	size_t len;

	(void)col; /* the message names the column itself */
	if (line <= 1) {
		snprintf(buf, n, "%s: query columns", ps->q->name);
		return;
	}
	if (line != ps->line) {
		snprintf(buf, n, "%s: row %llu", ps->q->name, (unsigned long long)(line - 1));
		return;
	}
	len = k->len > KEY_QUOTE_MAX ? KEY_QUOTE_MAX : k->len;
	memcpy(key, k->s, len);
	key[len] = '\0';
	if (k->len > KEY_QUOTE_MAX)
		strcat(key, "...");
	/* The key goes to a terminal: no control characters. */
	for (char *c = key; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	snprintf(buf, n, "%s: row %llu (%s \"%s\")", ps->q->name, (unsigned long long)(line - 1),
	         PQfname(ps->res, (int)ps->key_col), key);
}

static uint64_t pg_bytes_read(void *impl)
{
	return ((struct pg_source *)impl)->bytes;
}

static const struct fl_source_ops pg_ops = {
        .next = pg_next,
        .rewind = pg_rewind,
        .position = pg_position,
        .bytes_read = pg_bytes_read,
        .free = pg_source_free,
        .plain_numbers = 1, /* the server's text, whatever the schema's dialect */
};

/*
 * libpq makes a result of a few hundred kilobytes for every batch and
 * frees it before the next: glibc's malloc gives the top of the heap back
 * to the kernel each time (brk, and a TLB flush on every core) and takes
 * it again, which cost more than reading the rows (1.5 s of system time
 * for 300,000 leads). A trim threshold above a batch keeps that memory.
 * Process wide, as mallopt() is; set once, when a query is first read.
 */
static pthread_once_t trim_once = PTHREAD_ONCE_INIT;

static void keep_heap(void)
{
#ifdef M_TRIM_THRESHOLD
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

static int pg_open(void *arg, const char *name, const struct fl_csv_dialect *dialect,
                   struct fl_source **out)
{
	const struct pg_query *q = arg;
	struct pg_source *ps;
	int r;

	(void)dialect; /* the server's text is plain: no separators, UTF-8 */
	*out = NULL;
	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return FL_ERR_NOMEM;
	ps->q = q;
	pthread_once(&trim_once, keep_heap);
	snprintf(ps->fetch, sizeof(ps->fetch), "FETCH FORWARD %d FROM fedlead_rows",
	         FL_PG_FETCH_ROWS);
	/* One snapshot for every pass; dates in ISO whatever the server's
	 * default; the rows in the same order each pass; text as UTF-8. */
	if ((r = fl_pg_connect(q->conninfo, name, &ps->conn)) != 0 ||
	    (PQsetClientEncoding(ps->conn, "UTF8") != 0 &&
	     (r = fl_pg_fail(ps->conn, NULL, name, "cannot set the client encoding")) != 0) ||
	    (r = fl_pg_exec(ps->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", name,
	                    "cannot begin a transaction")) != 0 ||
	    (r = fl_pg_exec(
	             ps->conn,
	             "SET LOCAL synchronize_seqscans = off; SET LOCAL DateStyle = 'ISO, YMD'", name,
	             "cannot set up the session")) != 0 ||
	    (r = declare(ps)) != 0 || (r = describe(ps)) != 0) {
		pg_source_free(ps);
		return r;
	}
	return fl_source_new(name, &pg_ops, ps, out);
}

int fl_pg_source_register(const char *conninfo, const char *query, const char *key,
                          const char **name)
{
	struct pg_query *q;
	int r;

	*name = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return FL_ERR_NOMEM;
	if ((r = fl_pg_display_name("--data", conninfo, &q->name)) != 0) {
		query_free(q);
		return r;
	}
	if ((q->conninfo = strdup(conninfo)) == NULL || (q->query = strdup(query)) == NULL ||
	    (key != NULL && (q->key = strdup(key)) == NULL)) {
		query_free(q);
		return FL_ERR_NOMEM;
	}
	*name = q->name;
	/* The registry owns q from here, even when it fails. */
	if ((r = fl_source_register(q->name, pg_open, q, query_free)) != 0)
		*name = NULL;
	return r;
}
