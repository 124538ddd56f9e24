/*
 * One error convention for all of fedlead.
 *
 * Library functions return int: 0 on success or a negative FL_ERR_* code.
 * A function that fails because of something a person must fix (a bad CSV
 * row, a malformed schema, a corrupt model) also records a sentence naming
 * what and where with fl_fail(); callers print it with fl_errmsg().
 * The message is per thread, so it is safe with worker threads.
 */
#ifndef FEDLEAD_ERROR_H
#define FEDLEAD_ERROR_H

enum {
	FL_OK = 0,
	FL_ERR_INTERNAL = -1, /* a bug: an invariant did not hold */
	FL_ERR_NOMEM = -2,    /* allocation failed */
	FL_ERR_IO = -3,       /* a system call on a file or socket failed */
	FL_ERR_INVALID = -4,  /* bad argument or option from the caller */
	FL_ERR_SCHEMA = -5,   /* the schema file is malformed */
	FL_ERR_DATA = -6,     /* a data row does not match the schema */
	FL_ERR_MODEL = -7,    /* a model file is corrupt or incompatible */
	FL_ERR_NUMERIC = -8,  /* a solver failed (no descent, non-finite values) */
	FL_ERR_CRYPTO = -9,   /* an OpenSSL operation failed */
	FL_ERR_PROTO = -10,   /* a peer broke the wire protocol */
	FL_ERR_AUTH = -11,    /* authentication or authorisation failed */
	FL_ERR_LIMIT = -12,   /* a size or count limit was exceeded */
	FL_ERR_CONFIG = -13,  /* a configuration file or value is wrong */
};

/* Size of the message buffer: a longer message is cut to FL_ERRMSG_MAX - 1
 * bytes. */
#define FL_ERRMSG_MAX 1024

/* Static description of a code; never NULL. */
const char *fl_strerror(int code);

/*
 * Records a printf-style message for this thread and returns code, so that
 * `return fl_fail(FL_ERR_DATA, "%s:%zu: ...", ...)` reports and fails at once.
 * The arguments may include fl_errmsg() itself, to add context to the
 * message being replaced: fl_fail(r, "%s: %s", path, fl_errmsg()).
 */
int fl_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message of the last fl_fail() on this thread ("" if none). */
const char *fl_errmsg(void);

/* Forgets the message of the last failure on this thread. */
void fl_err_clear(void);

#endif
