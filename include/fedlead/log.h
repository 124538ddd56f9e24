/*
 * Logging for the daemons: one line per event on standard error, and an
 * append-only audit log of JSON lines for what a security review must be
 * able to reconstruct (who joined, who was refused, what was sent).
 *
 * A stderr line reads
 *   2026-11-22T09:10:00.123Z fedlead-coordinator[1234] info: partner acme joined
 * (UTC, milliseconds). Each line goes out in one write(2) of at most
 * FL_LOG_LINE_MAX bytes, so lines from several processes or threads sharing
 * the stream never interleave (a pipe write of up to PIPE_BUF bytes is
 * atomic). Control characters in the message (newline, carriage return, tab,
 * escape, ...) and bytes that are not well-formed UTF-8 are written as \n, \r,
 * \t or \xNN, so a peer-controlled string cannot forge a log line or a
 * terminal sequence.
 */
#ifndef FEDLEAD_LOG_H
#define FEDLEAD_LOG_H

#include <stdarg.h>
#include <stdint.h>

/* Longest stderr line in bytes, newline included; a longer message is cut
 * and ends in "...". Linux's PIPE_BUF, so a line written to a pipe is atomic. */
#define FL_LOG_LINE_MAX 4096

/* In increasing severity; the order matches fl_log_level_names. */
enum fl_log_level { FL_LOG_DEBUG, FL_LOG_INFO, FL_LOG_NOTICE, FL_LOG_WARN, FL_LOG_ERROR };

/* "debug", "info", "notice", "warn", "error", NULL: usable as the choices of
 * an FL_CFG_ENUM key, whose index is then the enum fl_log_level. */
extern const char *const fl_log_level_names[];

/*
 * Sets the program name shown on every line (copied; at most 63 bytes kept)
 * and the least severe level that is written. Call once at startup, before
 * threads. Until then the name is "fedlead" and the level FL_LOG_INFO.
 */
void fl_log_init(const char *prog, enum fl_log_level min_level);

/*
 * Parses a level name (as in fl_log_level_names; "warning" is accepted for
 * "warn"). Returns 0, or FL_ERR_INVALID with fl_errmsg()
 * "log level \"x\" is not one of debug, info, notice, warn, error".
 */
int fl_log_parse_level(const char *s, enum fl_log_level *out);

/* Writes one line if lvl is at least the level set by fl_log_init(). Never
 * fails and leaves errno as it was, so it can sit between a failing call and
 * the use of its errno. Thread-safe. */
void fl_log(enum fl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fl_vlog(enum fl_log_level lvl, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

/* The audit log: JSON lines appended to a file. */
struct fl_audit;

/*
 * Opens path for appending (created with mode 0640 if missing). A NULL path
 * disables the audit log: *out is NULL, and every fl_audit_* call accepts a
 * NULL handle and does nothing. Returns 0, FL_ERR_IO with fl_errmsg()
 * "PATH: cannot open: REASON", FL_ERR_NOMEM.
 */
int fl_audit_open(const char *path, struct fl_audit **out);

/* With on != 0, fsync() after every event, so a crash loses nothing that
 * was reported as written. Off by default. */
void fl_audit_set_sync(struct fl_audit *a, int on);

/*
 * Appends {"ts": "2026-11-22T09:10:00.123Z", "event": EVENT, ...} and a
 * newline in one write(2) (O_APPEND makes it atomic with respect to other
 * writers of the file). fmt is a jansson json_pack() format building an
 * object with the extra fields ("{s:s, s:I}", ...) followed by its arguments
 * ("I" takes a json_int_t from <jansson.h>, i.e. long long), or NULL for none. Strings must be
 * valid UTF-8 (jansson's rule; JSON escapes any control character). The extra fields may not be
 * named "ts" or "event". If the fields cannot be packed the event is still written, with a field
 * "audit_error" saying why, and FL_ERR_INVALID is returned: an event is never
 * lost because of a peer's bad string. Returns 0, FL_ERR_INVALID, FL_ERR_IO
 * with "PATH: cannot write: REASON", FL_ERR_NOMEM.
 */
int fl_audit_event(struct fl_audit *a, const char *event, const char *fmt, ...);

/* Closes the file and frees a; accepts NULL. */
void fl_audit_close(struct fl_audit *a);

#endif
