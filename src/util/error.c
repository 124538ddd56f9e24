#include "fedlead/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Long enough for a path, a line number and a quoted offending field. */
static _Thread_local char last_msg[FL_ERRMSG_MAX];

const char *fl_strerror(int code)
{
	switch (code) {
	case FL_OK: return "success";
	case FL_ERR_INTERNAL: return "internal error";
	case FL_ERR_NOMEM: return "out of memory";
	case FL_ERR_IO: return "input/output error";
	case FL_ERR_INVALID: return "invalid argument";
	case FL_ERR_SCHEMA: return "invalid schema";
	case FL_ERR_DATA: return "invalid data";
	case FL_ERR_MODEL: return "invalid model file";
	case FL_ERR_NUMERIC: return "numerical failure";
	case FL_ERR_CRYPTO: return "cryptographic operation failed";
	case FL_ERR_PROTO: return "protocol violation";
	case FL_ERR_AUTH: return "authentication failed";
	case FL_ERR_LIMIT: return "limit exceeded";
	case FL_ERR_CONFIG: return "invalid configuration";
	}
	return "unknown error";
}

/*
 * The message is formatted into a buffer of its own and then copied, because
 * callers add context to the message they are replacing:
 * fl_fail(r, "%s: %s", path, fl_errmsg()). Formatted in place, vsnprintf
 * would read the argument while overwriting it ("m.fdl: m.fdl: m.").
 */
int fl_fail(int code, const char *fmt, ...)
{
	char msg[FL_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	memcpy(last_msg, msg, strlen(msg) + 1);
	return code;
}

const char *fl_errmsg(void)
{
	return last_msg;
}

void fl_err_clear(void)
{
	last_msg[0] = '\0';
}
