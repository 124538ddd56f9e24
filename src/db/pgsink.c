/*
 * Scores into a PostgreSQL table with COPY, all or nothing; see
 * include/fedlead/pg.h.
 *
 * The scorer writes its ordinary CSV (to a private temporary file), and
 * this copies that file: the sink needs nothing from the scorer but the
 * file it already writes, and a failed scoring run never connects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedlead/csv.h"
#include "fedlead/error.h"
#include "fedlead/pg.h"
#include "pg_int.h"

/* PostgreSQL's longest identifier (NAMEDATALEN - 1). */
#define PG_NAME_MAX 63

struct fl_pg_sink {
	char *conninfo, *name, *table;
	unsigned flags;
	char dir[4096], path[4096 + 16];
};

/* The table as written: "name" or "schema.name", each part 1..63 bytes. */
static int table_check(const char *table)
{
	const char *dot = strchr(table, '.');
	size_t first = dot != NULL ? (size_t)(dot - table) : strlen(table);
	size_t second = dot != NULL ? strlen(dot + 1) : 1;

	if (first == 0 || first > PG_NAME_MAX || second == 0 || second > PG_NAME_MAX ||
	    (dot != NULL && strchr(dot + 1, '.') != NULL))
		return fl_fail(FL_ERR_INVALID,
		               "--table: \"%s\" is not a table name (NAME or SCHEMA.NAME, each "
		               "1 to %d bytes)",
		               table, PG_NAME_MAX);
	return 0;
}

int fl_pg_sink_new(const char *conninfo, const char *table, unsigned flags, const char *tmpdir,
                   struct fl_pg_sink **out)
{
	struct fl_pg_sink *k;
	int r;

	*out = NULL;
	if ((r = table_check(table)) != 0)
		return r;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return FL_ERR_NOMEM;
	k->flags = flags;
	if ((r = fl_pg_display_name("--out", conninfo, &k->name)) != 0)
		goto fail;
	r = FL_ERR_NOMEM;
	if ((k->conninfo = strdup(conninfo)) == NULL || (k->table = strdup(table)) == NULL)
		goto fail;
	if (tmpdir == NULL && (tmpdir = getenv("TMPDIR")) == NULL)
		tmpdir = "/tmp";
	snprintf(k->dir, sizeof(k->dir), "%s/fedlead-scores.XXXXXX", tmpdir);
	if (mkdtemp(k->dir) == NULL) {
		r = fl_fail(FL_ERR_IO, "%s: cannot make a directory for the scores: %s", tmpdir,
		            strerror(errno));
		k->dir[0] = '\0';
		goto fail;
	}
	snprintf(k->path, sizeof(k->path), "%s/scores.csv", k->dir);
	*out = k;
	return 0;
fail:
	fl_pg_sink_free(k);
	return r;
}

const char *fl_pg_sink_path(const struct fl_pg_sink *sink)
{
	return sink->path;
}

const char *fl_pg_sink_name(const struct fl_pg_sink *sink)
{
	return sink->name;
}

/* The SQL type of a column of the scores. */
static const char *column_type(size_t i, const char *name)
{
	if (i == 0)
		return "text"; /* the lead's id, or its row number */
	if (strcmp(name, "score") == 0)
		return "double precision";
	if (strcmp(name, "rank") == 0)
		return "bigint";
	if (strcmp(name, "decile") == 0)
		return "integer";
	if (strncmp(name, "contribution_", 13) == 0 || strncmp(name, "down_contribution_", 18) == 0)
		return "double precision";
	return "text";
}

/* Appends s to the malloc'ed string *sql. */
static int cat(char **sql, size_t *len, const char *s)
{
	size_t n = strlen(s);
	char *p = realloc(*sql, *len + n + 1);

	if (p == NULL)
		return FL_ERR_NOMEM;
	memcpy(p + *len, s, n + 1);
	*len += n;
	*sql = p;
	return 0;
}

/* Appends an identifier, quoted. */
static int cat_ident(PGconn *conn, char **sql, size_t *len, const char *name, size_t n)
{
	char *q = PQescapeIdentifier(conn, name, n);
	int r;

	if (q == NULL)
		return fl_fail(FL_ERR_INVALID, "\"%.*s\" cannot be quoted as a name: %s", (int)n,
		               name, PQerrorMessage(conn));
	r = cat(sql, len, q);
	PQfreemem(q);
	return r;
}

static int cat_table(PGconn *conn, char **sql, size_t *len, const char *table)
{
	const char *dot = strchr(table, '.');
	int r;

	if (dot == NULL)
		return cat_ident(conn, sql, len, table, strlen(table));
	if ((r = cat_ident(conn, sql, len, table, (size_t)(dot - table))) != 0 ||
	    (r = cat(sql, len, ".")) != 0)
		return r;
	return cat_ident(conn, sql, len, dot + 1, strlen(dot + 1));
}

/* The header's names: "(a, b, c)" into *cols, and with their types into
 * *defs for CREATE TABLE. */
static int columns(PGconn *conn, const struct fl_csv_record *h, char **cols, char **defs)
{
	size_t cl = 0, dl = 0;
	int r;

	if ((r = cat(cols, &cl, "(")) != 0 || (r = cat(defs, &dl, "(")) != 0)
		return r;
	for (size_t i = 0; i < h->n_fields; i++) {
		const char *sep = i > 0 ? ", " : "";

		if ((r = cat(cols, &cl, sep)) != 0 || (r = cat(defs, &dl, sep)) != 0 ||
		    (r = cat_ident(conn, cols, &cl, h->fields[i].s, h->fields[i].len)) != 0 ||
		    (r = cat_ident(conn, defs, &dl, h->fields[i].s, h->fields[i].len)) != 0 ||
		    (r = cat(defs, &dl, " ")) != 0 ||
		    (r = cat(defs, &dl, column_type(i, h->fields[i].s))) != 0)
			return r;
	}
	if ((r = cat(cols, &cl, ")")) != 0 || (r = cat(defs, &dl, ")")) != 0)
		return r;
	return 0;
}

/* Sends the file's bytes after the header line to the COPY in progress. */
static int send_rows(PGconn *conn, FILE *fp, const char *name, const char *what)
{
	char buf[1 << 16];
	size_t n;

	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		if (PQputCopyData(conn, buf, (int)n) != 1)
			return fl_pg_fail(conn, NULL, name, what);
	if (ferror(fp))
		return fl_fail(FL_ERR_IO, "%s: cannot read the scores: %s", name, strerror(errno));
	return 0;
}

int fl_pg_sink_commit(struct fl_pg_sink *k, uint64_t *rows)
{
	struct fl_csv *csv = NULL;
	struct fl_csv_record h;
	PGconn *conn = NULL;
	PGresult *res = NULL;
	FILE *fp = NULL;
	char *cols = NULL, *defs = NULL, *sql = NULL, *line = NULL, what[256];
	size_t len = 0, cap = 0;
	int r;

	*rows = 0;
	snprintf(what, sizeof(what), "nothing was written to %s", k->table);
	if ((r = fl_csv_open(k->path, &csv)) != 0)
		goto out;
	if ((r = fl_csv_next(csv, &h)) <= 0) {
		r = r == 0 ? fl_fail(FL_ERR_INTERNAL, "%s: the scores have no header", k->path) : r;
		goto out;
	}
	/* The rows start after the header's line. */
	if ((fp = fopen(k->path, "r")) == NULL || getline(&line, &cap, fp) < 0) {
		r = fl_fail(FL_ERR_IO, "%s: %s", k->path, strerror(errno));
		goto out;
	}
	if ((r = fl_pg_connect(k->conninfo, k->name, &conn)) != 0 ||
	    (r = columns(conn, &h, &cols, &defs)) != 0 ||
	    (r = fl_pg_exec(conn, "BEGIN", k->name, what)) != 0)
		goto out;
	if (k->flags & FL_PG_SINK_CREATE) {
		len = 0;
		if ((r = cat(&sql, &len, "CREATE TABLE IF NOT EXISTS ")) != 0 ||
		    (r = cat_table(conn, &sql, &len, k->table)) != 0 ||
		    (r = cat(&sql, &len, " ")) != 0 || (r = cat(&sql, &len, defs)) != 0 ||
		    (r = fl_pg_exec(conn, sql, k->name, what)) != 0)
			goto out;
	}
	if (k->flags & FL_PG_SINK_REPLACE) {
		len = 0;
		free(sql);
		sql = NULL;
		if ((r = cat(&sql, &len, "DELETE FROM ")) != 0 ||
		    (r = cat_table(conn, &sql, &len, k->table)) != 0 ||
		    (r = fl_pg_exec(conn, sql, k->name, what)) != 0)
			goto out;
	}
	len = 0;
	free(sql);
	sql = NULL;
	if ((r = cat(&sql, &len, "COPY ")) != 0 ||
	    (r = cat_table(conn, &sql, &len, k->table)) != 0 || (r = cat(&sql, &len, " ")) != 0 ||
	    (r = cat(&sql, &len, cols)) != 0 ||
	    (r = cat(&sql, &len, " FROM STDIN WITH (FORMAT csv)")) != 0)
		goto out;
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		r = fl_pg_fail(conn, res, k->name, what);
		goto out;
	}
	PQclear(res);
	res = NULL;
	if ((r = send_rows(conn, fp, k->name, what)) != 0) {
		PQputCopyEnd(conn, "fedlead: the scores could not be read");
		goto out;
	}
	if (PQputCopyEnd(conn, NULL) != 1) {
		r = fl_pg_fail(conn, NULL, k->name, what);
		goto out;
	}
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = fl_pg_fail(conn, res, k->name, what);
		goto out;
	}
	*rows = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	/* Until here nothing is visible to anyone: the COMMIT makes all of
	 * it so at once. */
	if ((r = fl_pg_exec(conn, "COMMIT", k->name, what)) != 0)
		*rows = 0;
out:
	PQclear(res);
	/* Without a COMMIT, closing rolls the transaction back. */
	PQfinish(conn);
	if (fp != NULL)
		fclose(fp);
	fl_csv_free(csv);
	free(line);
	free(cols);
	free(defs);
	free(sql);
	return r;
}

void fl_pg_sink_free(struct fl_pg_sink *k)
{
	if (k == NULL)
		return;
	if (k->dir[0] != '\0') {
		unlink(k->path);
		rmdir(k->dir);
	}
	free(k->conninfo);
	free(k->name);
	free(k->table);
	free(k);
}
