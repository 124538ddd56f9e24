#include "fedlead/error.h"

#include <stdarg.h>
#include <stdio.h>

/* Long enough for a path, a line number and a quoted offending field. */
static _Thread_local char last_msg[1024];

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

int fl_fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
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
