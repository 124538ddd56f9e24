/*
 * Connection strings, connecting and libpq's messages; see include/fedlead/pg.h
 * and pg_int.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fedlead/error.h"
#include "fedlead/pg.h"
#include "pg_int.h"

int fl_pg_is_uri(const char *text)
{
	return strncmp(text, "postgresql://", 13) == 0 || strncmp(text, "postgres://", 11) == 0;
}

/* Appends to buf (size n, NUL-terminated) as much of s as fits. */
static void append(char *buf, size_t n, const char *s)
{
	size_t used = strlen(buf);

	if (used + 1 < n)
		snprintf(buf + used, n - used, "%s", s);
}

int fl_pg_display_name(const char *what, const char *conninfo, char **out)
{
	PQconninfoOption *opts;
	char *err = NULL, buf[1024] = "";
	int secret = 0;

	*out = NULL;
	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		/* libpq's reason may quote the string, password and all. */
		if (err != NULL)
			PQfreemem(err);
		return fl_fail(FL_ERR_INVALID,
		               "%s: not a PostgreSQL connection string libpq can read", what);
	}
	/* libpq marks the options whose values are secret with '*'. */
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && o->dispchar != NULL && strchr(o->dispchar, '*') != NULL)
			secret = 1;
	if (!secret) {
		PQconninfoFree(opts);
		return (*out = strdup(conninfo)) != NULL ? 0 : FL_ERR_NOMEM;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || (o->dispchar != NULL && strchr(o->dispchar, '*') != NULL))
			continue;
		if (buf[0] != '\0')
			append(buf, sizeof(buf), " ");
		append(buf, sizeof(buf), o->keyword);
		append(buf, sizeof(buf), "=");
		if (o->val[0] != '\0' && strpbrk(o->val, " '\\") == NULL) {
			append(buf, sizeof(buf), o->val);
			continue;
		}
		append(buf, sizeof(buf), "'");
		for (const char *c = o->val; *c != '\0'; c++) {
			char one[3] = {'\\', *c, '\0'};

			append(buf, sizeof(buf), *c == '\'' || *c == '\\' ? one : one + 1);
		}
		append(buf, sizeof(buf), "'");
	}
	PQconninfoFree(opts);
	return (*out = strdup(buf)) != NULL ? 0 : FL_ERR_NOMEM;
}

/* Replaces every occurrence of secret in msg with asterisks. */
static void scrub(char *msg, const char *secret)
{
	size_t n;
	char *p;

	if (secret == NULL || (n = strlen(secret)) == 0)
		return;
	while ((p = strstr(msg, secret)) != NULL) {
		memmove(p + 8, p + n, strlen(p + n) + 1);
		memcpy(p, "********", 8);
	}
}

/* libpq's multi-line messages on one line, without the final newline, and
 * its "FATAL:  password" with one blank. */
static void one_line(char *msg)
{
	char *w = msg;

	for (const char *r = msg; *r != '\0'; r++) {
		if (*r == '\n' || *r == '\t' || *r == '\r' || *r == ' ') {
			if (w != msg && w[-1] != ' ')
				*w++ = ' ';
			continue;
		}
		*w++ = *r;
	}
	while (w != msg && w[-1] == ' ')
		w--;
	*w = '\0';
}

int fl_pg_connect(const char *conninfo, const char *name, PGconn **out)
{
	PQconninfoOption *opts;
	char msg[1024];
	PGconn *conn;

	*out = NULL;
	if ((conn = PQconnectdb(conninfo)) == NULL)
		return FL_ERR_NOMEM;
	if (PQstatus(conn) == CONNECTION_OK) {
		*out = conn;
		return 0;
	}
	/* The buffer is large enough for the scrubbing to only shorten or
	 * keep; "********" is longer than a short password, so keep room. */
	snprintf(msg, sizeof(msg) - 64, "%s", PQerrorMessage(conn));
	one_line(msg);
	scrub(msg, PQpass(conn));
	if ((opts = PQconninfoParse(conninfo, NULL)) != NULL) {
		for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
			if (o->val != NULL && o->dispchar != NULL && strchr(o->dispchar, '*'))
				scrub(msg, o->val);
		PQconninfoFree(opts);
	}
	PQfinish(conn);
	fl_fail(FL_ERR_IO, "%s: cannot connect: %s", name, msg);
	OPENSSL_cleanse(msg, sizeof(msg));
	return FL_ERR_IO;
}

int fl_pg_fail(PGconn *conn, const PGresult *res, const char *name, const char *what)
{
	const char *sev, *primary, *detail, *context;
	char more[768] = "";

	if (res == NULL || (primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) == NULL) {
		char msg[768];

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
		one_line(msg);
		if (res != NULL && msg[0] == '\0')
			snprintf(msg, sizeof(msg), "%s", PQresStatus(PQresultStatus(res)));
		return fl_fail(FL_ERR_IO, "%s: %s: %s", name, what, msg);
	}
	sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	context = PQresultErrorField(res, PG_DIAG_CONTEXT);
	if (detail != NULL || context != NULL)
		snprintf(more, sizeof(more), "%s%s%s", detail != NULL ? detail : "",
		         detail != NULL && context != NULL ? "; " : "",
		         context != NULL ? context : "");
	one_line(more);
	return fl_fail(FL_ERR_IO, "%s: %s: %s: %s%s%s%s", name, what, sev != NULL ? sev : "ERROR",
	               primary, more[0] ? " (" : "", more, more[0] ? ")" : "");
}

int fl_pg_exec(PGconn *conn, const char *sql, const char *name, const char *what)
{
	PGresult *res = PQexec(conn, sql);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = fl_pg_fail(conn, res, name, what);
	PQclear(res);
	return r;
}
