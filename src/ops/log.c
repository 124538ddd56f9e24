#include "fedlead/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/utf8.h"

const char *const fl_log_level_names[] = {"debug", "info", "notice", "warn", "error", NULL};

/* Set once by fl_log_init() before threads start; only read afterwards. */
static char log_prog[64] = "fedlead";
static enum fl_log_level log_min = FL_LOG_INFO;

struct fl_audit {
	int fd;
	int sync;
	char *path;
};

/* "2026-11-22T09:10:00.123Z": UTC, so lines from hosts in different zones
 * sort together. */
static void timestamp(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL) {
		snprintf(buf, n, "0000-00-00T00:00:00.000Z");
		return;
	}
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

/*
 * Length of the well-formed UTF-8 sequence at s (at most len bytes), or 0 if
 * the bytes there are not one (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). C1 controls (U+0080-U+009F) count as not
 * well-formed, so they are escaped like their 8-bit forms: some terminals act
 * on them.
 */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	uint32_t cp;
	size_t n = fl_utf8_char(s, len, &cp);

	return n != 0 && cp >= 0x80 && cp <= 0x9f ? 0 : n;
}

/*
 * Appends s[0..len) to dst at *o with control characters and ill-formed
 * UTF-8 escaped, stopping before a unit that would pass cap. Returns 0 if
 * all of s fit, -1 if it was cut (never inside an escape or a character).
 */
static int put_escaped(char *dst, size_t cap, size_t *o, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	char esc[5];
	const char *piece;
	size_t plen;

	for (size_t i = 0; i < len; i += plen) {
		if (u[i] >= 0x20 && u[i] < 0x7f) {
			piece = s + i;
			plen = 1;
		} else if (u[i] >= 0x80 && (plen = utf8_seq(u + i, len - i)) != 0) {
			piece = s + i;
		} else {
			switch (u[i]) {
			case '\n': piece = "\\n"; break;
			case '\r': piece = "\\r"; break;
			case '\t': piece = "\\t"; break;
			default:
				snprintf(esc, sizeof(esc), "\\x%02x", u[i]);
				piece = esc;
				break;
			}
			if (*o + strlen(piece) > cap)
				return -1;
			memcpy(dst + *o, piece, strlen(piece));
			*o += strlen(piece);
			plen = 1;
			continue;
		}
		if (*o + plen > cap)
			return -1;
		memcpy(dst + *o, piece, plen);
		*o += plen;
	}
	return 0;
}

/* write(2) until done: a signal or a full pipe may cut a write short. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

void fl_log_init(const char *prog, enum fl_log_level min_level)
{
	size_t o = 0;

	if (prog == NULL)
		prog = "fedlead";
	put_escaped(log_prog, sizeof(log_prog) - 1, &o, prog, strlen(prog));
	log_prog[o] = '\0';
	log_min = min_level;
}

int fl_log_parse_level(const char *s, enum fl_log_level *out)
{
	*out = FL_LOG_DEBUG;
	for (int i = 0; fl_log_level_names[i] != NULL; i++) {
		if (strcmp(s, fl_log_level_names[i]) == 0) {
			*out = (enum fl_log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = FL_LOG_WARN;
		return 0;
	}
	return fl_fail(FL_ERR_INVALID,
	               "log level \"%s\" is not one of debug, info, notice, warn, error", s);
}

void fl_vlog(enum fl_log_level lvl, const char *fmt, va_list ap)
{
	int saved = errno, n, cut;
	char msg[FL_LOG_LINE_MAX], line[FL_LOG_LINE_MAX], ts[48];
	/* Room kept at the end for "..." and the newline. */
	const size_t cap = sizeof(line) - 4;
	const char *name;
	size_t o;

	if (lvl < log_min)
		goto out;
	name = lvl >= FL_LOG_DEBUG && lvl <= FL_LOG_ERROR ? fl_log_level_names[lvl] : "error";
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	cut = n >= 0 && (size_t)n >= sizeof(msg);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(message could not be formatted)");
	timestamp(ts, sizeof(ts));
	/* At most about 150 bytes, so it always fits. */
	snprintf(line, cap, "%s %s[%ld] %s: ", ts, log_prog, (long)getpid(), name);
	o = strlen(line);
	if (put_escaped(line, cap, &o, msg, strlen(msg)) != 0 || cut) {
		memcpy(line + o, "...", 3);
		o += 3;
	}
	line[o++] = '\n';
	(void)write_all(STDERR_FILENO, line, o);
out:
	errno = saved;
}

void fl_log(enum fl_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fl_vlog(lvl, fmt, ap);
	va_end(ap);
}

int fl_audit_open(const char *path, struct fl_audit **out)
{
	struct fl_audit *a = NULL;
	int r = FL_ERR_NOMEM;

	*out = NULL;
	if (path == NULL)
		return 0;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		goto out;
	a->fd = -1;
	a->path = strdup(path);
	if (a->path == NULL)
		goto out;
	/* O_APPEND: every write lands at the end, even with several writers. */
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (a->fd < 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	*out = a;
	a = NULL;
	r = 0;
out:
	fl_audit_close(a);
	return r;
}

void fl_audit_set_sync(struct fl_audit *a, int on)
{
	if (a != NULL)
		a->sync = on != 0;
}

int fl_audit_event(struct fl_audit *a, const char *event, const char *fmt, ...)
{
	json_t *obj = NULL, *fields = NULL, *s;
	json_error_t jerr;
	char ts[48], why[JSON_ERROR_TEXT_LENGTH + 64];
	char *text = NULL, *line;
	size_t len;
	va_list ap;
	int r = FL_ERR_NOMEM;

	why[0] = '\0';
	if (a == NULL)
		return 0;
	if (event == NULL)
		return fl_fail(FL_ERR_INVALID, "audit event without a name");
	timestamp(ts, sizeof(ts));
	obj = json_object();
	if (obj == NULL || json_object_set_new(obj, "ts", json_string(ts)) != 0)
		goto out;
	if ((s = json_string(event)) == NULL) {
		r = fl_fail(FL_ERR_INVALID, "audit event name is not valid UTF-8");
		goto out;
	}
	if (json_object_set_new(obj, "event", s) != 0)
		goto out;
	if (fmt != NULL) {
		va_start(ap, fmt);
		fields = json_vpack_ex(&jerr, 0, fmt, ap);
		va_end(ap);
		if (fields == NULL)
			snprintf(why, sizeof(why), "%s", jerr.text);
		else if (!json_is_object(fields))
			snprintf(why, sizeof(why), "the format does not build an object");
		else if (json_object_get(fields, "ts") != NULL ||
		         json_object_get(fields, "event") != NULL)
			snprintf(why, sizeof(why), "the fields \"ts\" and \"event\" are reserved");
		else if (json_object_update(obj, fields) != 0)
			goto out;
		/* Record the event anyway: a peer's malformed string (bad UTF-8)
		 * must not be a way to stay out of the audit log. */
		if (why[0] != '\0' &&
		    json_object_set_new(obj, "audit_error", json_string(why)) != 0 &&
		    json_object_set_new(obj, "audit_error", json_string("bad fields")) != 0)
			goto out;
	}
	text = json_dumps(obj, JSON_COMPACT);
	if (text == NULL)
		goto out;
	len = strlen(text);
	line = realloc(text, len + 2);
	if (line == NULL)
		goto out;
	text = line;
	text[len++] = '\n';
	text[len] = '\0';
	/* One write(2) for the whole line: with O_APPEND, concurrent writers
	 * cannot interleave inside it. */
	if (write_all(a->fd, text, len) != 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot write: %s", a->path, strerror(errno));
		goto out;
	}
	if (a->sync && fsync(a->fd) != 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot sync: %s", a->path, strerror(errno));
		goto out;
	}
	if (why[0] != '\0') {
		r = fl_fail(FL_ERR_INVALID, "audit event \"%s\": %s", event, why);
		goto out;
	}
	r = 0;
out:
	if (r == FL_ERR_NOMEM)
		fl_fail(r, "audit event \"%s\": out of memory", event != NULL ? event : "");
	free(text);
	json_decref(fields);
	json_decref(obj);
	return r;
}

void fl_audit_close(struct fl_audit *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		close(a->fd);
	free(a->path);
	free(a);
}
