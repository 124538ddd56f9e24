#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "fedlead/error.h"
#include "fedlead/log.h"

/* Stderr is pointed at a temporary file while a test logs. */
struct capture {
	int saved;
	int fd;
};

static void capture_start(struct capture *c)
{
	char tmpl[] = "/tmp/fl_test_log_XXXXXX";

	c->fd = mkstemp(tmpl);
	assert_true(c->fd >= 0);
	unlink(tmpl);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

/* Restores stderr; returns what was written (malloc'ed, NUL-terminated). */
static char *capture_end(struct capture *c, size_t *len)
{
	off_t size;
	char *buf;

	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	size = lseek(c->fd, 0, SEEK_END);
	assert_true(size >= 0);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(c->fd, buf, (size_t)size, 0), size);
	buf[size] = '\0';
	close(c->fd);
	if (len != NULL)
		*len = (size_t)size;
	return buf;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), to check the UTC stamp without timegm(). */
static long days_from_civil(long y, long m, long d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Checks "YYYY-MM-DDTHH:MM:SS.mmmZ" and returns it as seconds since the epoch. */
static time_t check_stamp(const char *s)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	int y, mo, d, h, mi, sec;

	for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
		if (pattern[i] == 'd')
			assert_true(s[i] >= '0' && s[i] <= '9');
		else
			assert_int_equal(s[i], pattern[i]);
	}
	assert_int_equal(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec), 6);
	return (time_t)(days_from_civil(y, mo, d) * 86400L + h * 3600L + mi * 60L + sec);
}

/* The seconds of CLOCK_REALTIME, the clock fl_log() stamps lines with:
 * time(NULL) reads a coarser clock that may still be in the previous
 * second when the stamp is already in the next. */
static time_t now_seconds(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
	return ts.tv_sec;
}

static void test_log_line_format(void **state)
{
	struct capture c;
	char want[256], *out;
	time_t before, after, stamp;
	size_t len;

	(void)state;
	fl_log_init("fedlead-test", FL_LOG_INFO);
	before = now_seconds();
	capture_start(&c);
	fl_log(FL_LOG_INFO, "partner %s joined round %d", "acme", 7);
	out = capture_end(&c, &len);
	after = now_seconds();

	stamp = check_stamp(out);
	assert_true(stamp >= before && stamp <= after);
	snprintf(want, sizeof(want), " fedlead-test[%ld] info: partner acme joined round 7\n",
	         (long)getpid());
	assert_int_equal(len, 24 + strlen(want));
	assert_string_equal(out + 24, want);
	free(out);
}

static void test_log_escapes(void **state)
{
	static const char evil[] =
	        "evil\n2026-01-01T00:00:00.000Z fedlead[1] info: forged\r\t"
	        "\x1b[31m\x7f|\xff|\xc2\x9b|M\xc3\xbcller|\xe2\x82\xac|\xed\xa0\x80";
	static const char want[] = " notice: evil\\n2026-01-01T00:00:00.000Z fedlead[1] info: "
	                           "forged\\r\\t\\x1b[31m\\x7f|\\xff|\\xc2\\x9b|M\xc3\xbcller|"
	                           "\xe2\x82\xac|\\xed\\xa0\\x80\n";
	struct capture c;
	char *out, *tail;

	(void)state;
	fl_log_init("fedlead-test", FL_LOG_DEBUG);
	capture_start(&c);
	fl_log(FL_LOG_NOTICE, "%s", evil);
	out = capture_end(&c, NULL);
	/* One line only, whatever the message held. */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	tail = strstr(out, "] notice: ");
	assert_non_null(tail);
	assert_string_equal(tail + 1, want);
	free(out);

	/* The program name is escaped too. */
	fl_log_init("bad\nname", FL_LOG_DEBUG);
	capture_start(&c);
	fl_log(FL_LOG_ERROR, "x");
	out = capture_end(&c, NULL);
	assert_non_null(strstr(out, " bad\\nname["));
	free(out);
}

static void test_log_levels(void **state)
{
	struct capture c;
	char *out;

	(void)state;
	fl_log_init("t", FL_LOG_WARN);
	capture_start(&c);
	fl_log(FL_LOG_DEBUG, "d");
	fl_log(FL_LOG_INFO, "i");
	fl_log(FL_LOG_NOTICE, "n");
	fl_log(FL_LOG_WARN, "w");
	fl_log(FL_LOG_ERROR, "e");
	out = capture_end(&c, NULL);
	/* Two lines of 24 + " t[PID] LEVEL: X\n". */
	{
		char want[128];
		int n = snprintf(want, sizeof(want), " t[%ld] warn: w\n", (long)getpid());

		assert_int_equal(strlen(out), 24 + (size_t)n + 24 + (size_t)n + 1);
		assert_memory_equal(out + 24, want, (size_t)n);
		snprintf(want, sizeof(want), " t[%ld] error: e\n", (long)getpid());
		assert_string_equal(out + 24 + n + 24, want);
	}
	free(out);

	fl_log_init("t", FL_LOG_DEBUG);
	capture_start(&c);
	fl_log(FL_LOG_DEBUG, "d");
	out = capture_end(&c, NULL);
	assert_non_null(strstr(out, "] debug: d\n"));
	free(out);
}

static void test_log_long_message_and_errno(void **state)
{
	struct capture c;
	char *big = malloc(10000), *out;
	size_t len;

	(void)state;
	assert_non_null(big);
	memset(big, 'a', 9999);
	big[9999] = '\0';
	fl_log_init("t", FL_LOG_INFO);
	capture_start(&c);
	errno = ENOENT;
	fl_log(FL_LOG_INFO, "%s", big);
	assert_int_equal(errno, ENOENT);
	out = capture_end(&c, &len);
	assert_int_equal(len, FL_LOG_LINE_MAX);
	assert_string_equal(out + len - 5, "a...\n");
	free(out);
	free(big);
}

static void test_log_parse_level(void **state)
{
	static const struct {
		const char *s;
		enum fl_log_level l;
	} good[] = {{"debug", FL_LOG_DEBUG}, {"info", FL_LOG_INFO},    {"notice", FL_LOG_NOTICE},
	            {"warn", FL_LOG_WARN},   {"warning", FL_LOG_WARN}, {"error", FL_LOG_ERROR}};
	enum fl_log_level l;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(fl_log_parse_level(good[i].s, &l), 0);
		assert_int_equal(l, good[i].l);
	}
	assert_int_equal(fl_log_parse_level("loud", &l), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "log level \"loud\" is not one of debug, info, notice, warn, error");
	assert_string_equal(fl_log_level_names[FL_LOG_NOTICE], "notice");
	assert_null(fl_log_level_names[FL_LOG_ERROR + 1]);
}

/* Reads the file's lines into a NULL-terminated array of malloc'ed strings. */
static char **read_lines(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "r");
	char **lines = calloc(64, sizeof(*lines));
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;

	assert_non_null(fp);
	assert_non_null(lines);
	*n = 0;
	while ((len = getline(&buf, &cap, fp)) >= 0) {
		assert_true(*n < 63);
		/* Every line is complete. */
		assert_true(len > 0 && buf[len - 1] == '\n');
		lines[(*n)++] = strdup(buf);
	}
	free(buf);
	fclose(fp);
	return lines;
}

static void free_lines(char **lines)
{
	for (size_t i = 0; lines[i] != NULL; i++)
		free(lines[i]);
	free(lines);
}

static json_t *parse_line(const char *line)
{
	json_error_t err;
	json_t *j = json_loads(line, 0, &err);

	if (j == NULL)
		fail_msg("not JSON: %s (%s)", line, err.text);
	assert_true(json_is_object(j));
	check_stamp(json_string_value(json_object_get(j, "ts")));
	assert_int_equal(strlen(json_string_value(json_object_get(j, "ts"))), 24);
	return j;
}

static void test_audit_events(void **state)
{
	char dir[] = "/tmp/fl_test_audit_XXXXXX", path[256];
	struct fl_audit *a = NULL;
	struct stat st;
	char **lines, **again;
	size_t n;
	json_t *j;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	umask(022);
	assert_int_equal(fl_audit_open(path, &a), 0);
	assert_non_null(a);
	assert_int_equal(fl_audit_event(a, "join", "{s:s, s:I}", "partner", "acme", "round",
	                                (json_int_t)3000000000LL),
	                 0);
	assert_int_equal(fl_audit_event(a, "reject", "{s:s, s:s}", "peer", "10.0.0.9:5555",
	                                "reason", "fingerprint \"ab\"\ndiffers"),
	                 0);
	assert_int_equal(fl_audit_event(a, "round", NULL), 0);
	fl_audit_set_sync(a, 1);
	assert_int_equal(fl_audit_event(a, "model", "{s:f}", "auc", 0.75), 0);
	fl_audit_close(a);

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	lines = read_lines(path, &n);
	assert_int_equal(n, 4);

	j = parse_line(lines[0]);
	assert_int_equal(json_object_size(j), 4);
	assert_string_equal(json_string_value(json_object_get(j, "event")), "join");
	assert_string_equal(json_string_value(json_object_get(j, "partner")), "acme");
	assert_true(json_integer_value(json_object_get(j, "round")) == 3000000000LL);
	/* The time and the event come first, for a person reading the file. */
	assert_memory_equal(lines[0], "{\"ts\":\"", 7);
	assert_memory_equal(lines[0] + 7 + 24, "\",\"event\":\"join\",", 17);
	json_decref(j);

	j = parse_line(lines[1]);
	assert_int_equal(json_object_size(j), 4);
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
	                    "fingerprint \"ab\"\ndiffers");
	json_decref(j);

	j = parse_line(lines[2]);
	assert_int_equal(json_object_size(j), 2);
	assert_string_equal(json_string_value(json_object_get(j, "event")), "round");
	json_decref(j);

	j = parse_line(lines[3]);
	assert_true(json_real_value(json_object_get(j, "auc")) == 0.75);
	json_decref(j);

	/* Opening again appends; earlier lines stay as they were. */
	assert_int_equal(fl_audit_open(path, &a), 0);
	assert_int_equal(fl_audit_event(a, "send", "{s:i}", "bytes", 123), 0);
	fl_audit_close(a);
	again = read_lines(path, &n);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(again[i], lines[i]);
	j = parse_line(again[4]);
	assert_int_equal(json_integer_value(json_object_get(j, "bytes")), 123);
	json_decref(j);
	free_lines(lines);
	free_lines(again);
	unlink(path);
	rmdir(dir);
}

static void test_audit_bad_fields(void **state)
{
	char dir[] = "/tmp/fl_test_audit_XXXXXX", path[256];
	struct fl_audit *a = NULL;
	char **lines;
	size_t n;
	json_t *j;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	assert_int_equal(fl_audit_open(path, &a), 0);
	/* A peer's string that is not UTF-8: the event is still recorded. */
	assert_int_equal(fl_audit_event(a, "recv", "{s:s}", "peer", "bad\xff"), FL_ERR_INVALID);
	assert_memory_equal(fl_errmsg(), "audit event \"recv\": ", 20);
	assert_int_equal(fl_audit_event(a, "error", "{s:s}", "ts", "forged"), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(),
	                    "audit event \"error\": the fields \"ts\" and \"event\" are reserved");
	assert_int_equal(fl_audit_event(a, "error", "[i]", 1), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "audit event \"error\": the format does not build an "
	                                 "object");
	fl_audit_close(a);

	lines = read_lines(path, &n);
	assert_int_equal(n, 3);
	j = parse_line(lines[0]);
	assert_string_equal(json_string_value(json_object_get(j, "event")), "recv");
	assert_null(json_object_get(j, "peer"));
	assert_true(strlen(json_string_value(json_object_get(j, "audit_error"))) > 0);
	json_decref(j);
	j = parse_line(lines[1]);
	assert_string_equal(json_string_value(json_object_get(j, "event")), "error");
	assert_string_equal(json_string_value(json_object_get(j, "audit_error")),
	                    "the fields \"ts\" and \"event\" are reserved");
	assert_int_equal(json_object_size(j), 3);
	json_decref(j);
	free_lines(lines);
	unlink(path);
	rmdir(dir);
}

static void test_audit_open_errors(void **state)
{
	char dir[] = "/tmp/fl_test_audit_XXXXXX", path[256], want[512];
	struct fl_audit *a = (struct fl_audit *)&a;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing/audit.jsonl", dir);
	assert_int_equal(fl_audit_open(path, &a), FL_ERR_IO);
	assert_null(a);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(fl_errmsg(), want);

	assert_int_equal(fl_audit_open(dir, &a), FL_ERR_IO);
	snprintf(want, sizeof(want), "%s: cannot open: Is a directory", dir);
	assert_string_equal(fl_errmsg(), want);
	rmdir(dir);

	/* No path: disabled, and every call does nothing. */
	a = (struct fl_audit *)&a;
	assert_int_equal(fl_audit_open(NULL, &a), 0);
	assert_null(a);
	assert_int_equal(fl_audit_event(a, "join", "{s:s}", "partner", "acme"), 0);
	fl_audit_set_sync(a, 1);
	fl_audit_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_log_line_format),
	        cmocka_unit_test(test_log_escapes),
	        cmocka_unit_test(test_log_levels),
	        cmocka_unit_test(test_log_long_message_and_errno),
	        cmocka_unit_test(test_log_parse_level),
	        cmocka_unit_test(test_audit_events),
	        cmocka_unit_test(test_audit_bad_fields),
	        cmocka_unit_test(test_audit_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
