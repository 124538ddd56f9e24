/*
 * What the db layer's source and sink share: connecting, and libpq's
 * messages made fit for a person (one line, no password).
 */
#ifndef FEDLEAD_DB_PG_INT_H
#define FEDLEAD_DB_PG_INT_H

#include <libpq-fe.h>

/*
 * Connects to conninfo; name is its display name. On failure *out is NULL
 * and the error is FL_ERR_IO "NAME: cannot connect: REASON", REASON being
 * libpq's on one line with any password of the string or of the password
 * file replaced by "********".
 */
int fl_pg_connect(const char *conninfo, const char *name, PGconn **out);

/*
 * A failed command's error in fl_fail() form: "NAME: WHAT: ERROR: primary
 * message" with the server's detail and context after it in parentheses
 * when it gives them. Returns FL_ERR_IO. res may be NULL (the connection's
 * message is used).
 */
int fl_pg_fail(PGconn *conn, const PGresult *res, const char *name, const char *what);

/* Runs a command that returns no rows; 0 or fl_pg_fail(). */
int fl_pg_exec(PGconn *conn, const char *sql, const char *name, const char *what);

#endif
