#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fedlead/config.h"
#include "fedlead/error.h"

/* A daemon's settings with one key of every type. */
struct sample {
	char *name;
	char *listen;
	uint64_t min_partners;
	int late_policy;
	double round_timeout;
	uint64_t max_frame;
	struct fl_strlist partners;
	double lr;
	double l2;
	char *ca_file;
	int require_tls;
};

static const char *const policies[] = {"wait", "drop", "abort", NULL};

#define OFF(f) offsetof(struct sample, f)

static const struct fl_cfg_key keys[] = {
        {"federation", "name", FL_CFG_STRING, OFF(name), NULL, 0, 0, "fedlead",
         "name shown to partners"},
        {"federation", "listen", FL_CFG_ADDR, OFF(listen), NULL, 0, 0, "0.0.0.0:7443",
         "where partners connect"},
        {"federation", "min_partners", FL_CFG_U64, OFF(min_partners), NULL, 1, 1000, "3",
         "partners needed for a round"},
        {"federation", "late_policy", FL_CFG_ENUM, OFF(late_policy), policies, 0, 0, "wait",
         "what to do with late updates"},
        {"federation", "round_timeout", FL_CFG_SECONDS, OFF(round_timeout), NULL, 0.1, 86400, "5m",
         "longest round"},
        {"federation", "max_frame", FL_CFG_SIZE, OFF(max_frame), NULL, 1024, 1073741824, "16M",
         "largest message"},
        {"federation", "partners", FL_CFG_LIST, OFF(partners), NULL, 0, 0, NULL,
         "partners allowed to join"},
        {"training", "learning_rate", FL_CFG_DOUBLE, OFF(lr), NULL, 1e-6, 10, "0.1", "step size"},
        {"training", "l2", FL_CFG_L2, OFF(l2), NULL, 0, 0, "auto", "L2 strength"},
        {"tls", "ca_file", FL_CFG_PATH, OFF(ca_file), NULL, 0, 0, NULL, "CA certificate"},
        {"tls", "require_tls", FL_CFG_BOOL, OFF(require_tls), NULL, 0, 0, "yes",
         "refuse plain connections"},
        {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

#define NKEYS 11

/* Writes text to a new temporary file; returns its malloc'ed path. */
static char *write_tmp(const char *text, size_t len)
{
	char tmpl[] = "/tmp/fl_test_config_XXXXXX";
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return strdup(tmpl);
}

static void load_text(const char *text, struct sample *s, int *rc, char **path)
{
	*path = write_tmp(text, strlen(text));
	memset(s, 0, sizeof(*s));
	assert_int_equal(fl_config_defaults(keys, s), 0);
	*rc = fl_config_load(keys, s, *path);
}

/* Loads text and expects FL_ERR_CONFIG with "PATH" + tail as the message. */
static void expect_load_error(const char *text, const char *tail)
{
	struct sample s;
	char *path, want[1024];
	int rc;

	load_text(text, &s, &rc, &path);
	snprintf(want, sizeof(want), "%s%s", path, tail);
	assert_int_equal(rc, FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), want);
	fl_config_free(keys, &s);
	unlink(path);
	free(path);
}

static void expect_set_error(const char *name, const char *value, const char *want)
{
	struct sample s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(fl_config_defaults(keys, &s), 0);
	assert_int_equal(fl_config_set(keys, &s, name, value, "--opt"), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), want);
	fl_config_free(keys, &s);
}

static void test_defaults(void **state)
{
	struct sample s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(fl_config_count(keys), NKEYS);
	assert_int_equal(fl_config_defaults(keys, &s), 0);
	assert_string_equal(s.name, "fedlead");
	assert_string_equal(s.listen, "0.0.0.0:7443");
	assert_int_equal(s.min_partners, 3);
	assert_int_equal(s.late_policy, 0);
	assert_true(s.round_timeout == 300.0);
	assert_true(s.max_frame == 16u * 1024 * 1024);
	assert_null(s.partners.v);
	assert_int_equal(s.partners.n, 0);
	assert_true(s.lr == 0.1);
	assert_true(s.l2 == -1.0);
	assert_null(s.ca_file);
	assert_int_equal(s.require_tls, 1);

	/* Defaults again over set values: strings are replaced (ASan checks
	 * that the old ones are freed), keys without a default are cleared. */
	assert_int_equal(fl_config_set(keys, &s, "ca_file", "/x.pem", NULL), 0);
	assert_int_equal(fl_config_set(keys, &s, "partners", "a, b", NULL), 0);
	assert_int_equal(fl_config_defaults(keys, &s), 0);
	assert_null(s.ca_file);
	assert_int_equal(s.partners.n, 0);
	fl_config_free(keys, &s);
	assert_null(s.name);
	fl_config_free(keys, NULL);
}

static void test_load_every_type(void **state)
{
	static const char text[] = "; a comment\n"
	                           "# another comment\n"
	                           "[federation]\n"
	                           "name = acme coordinator\n"
	                           "min_partners = 5\n"
	                           "late_policy = drop ; a comment after a value\n"
	                           "round_timeout = 250ms\n"
	                           "max_frame = 64K\n"
	                           "listen = [::1]:0\n"
	                           "partners = acme, globex ,initech\n"
	                           "\n"
	                           "[training]\n"
	                           "learning_rate: 0.05\n"
	                           "  l2 = 0.25\n"
	                           "[tls]\n"
	                           "ca_file = /etc/fedlead/ca.pem\n"
	                           "require-tls = off\n";
	struct sample s;
	char *path;
	int rc;

	(void)state;
	load_text(text, &s, &rc, &path);
	assert_int_equal(rc, 0);
	assert_string_equal(s.name, "acme coordinator");
	assert_int_equal(s.min_partners, 5);
	assert_int_equal(s.late_policy, 1);
	assert_true(s.round_timeout == 0.25);
	assert_true(s.max_frame == 65536);
	assert_string_equal(s.listen, "[::1]:0");
	assert_int_equal(s.partners.n, 3);
	assert_string_equal(s.partners.v[0], "acme");
	assert_string_equal(s.partners.v[1], "globex");
	assert_string_equal(s.partners.v[2], "initech");
	assert_null(s.partners.v[3]);
	assert_true(s.lr == 0.05);
	assert_true(s.l2 == 0.25);
	assert_string_equal(s.ca_file, "/etc/fedlead/ca.pem");
	assert_int_equal(s.require_tls, 0);
	fl_config_free(keys, &s);
	unlink(path);
	free(path);
}

/* What the installed libinih treats as a comment, as the header documents. */
static void test_load_comment_rules(void **state)
{
	struct sample s;
	char *path;
	int rc;

	(void)state;
	/* ';' without a blank before it is part of the value. */
	load_text("[federation]\nname = a;b\n", &s, &rc, &path);
	assert_int_equal(rc, 0);
	assert_string_equal(s.name, "a;b");
	fl_config_free(keys, &s);
	unlink(path);
	free(path);

	/* '#' after a value is not a comment. */
	expect_load_error("[training]\nl2 = 0.5 # strong\n",
	                  ":2: l2: \"0.5 # strong\" is not a number or \"auto\"");
	/* An indented line is not a continuation of the previous value. */
	expect_load_error("[federation]\nname = a\n  b\n", ":3: syntax error");
}

static void test_load_crlf_bom(void **state)
{
	static const char text[] = "\xef\xbb\xbf[training]\r\nl2 = 2\r\nbogus = 1\r\n";
	struct sample s;
	char *path, want[512];
	int rc;

	(void)state;
	load_text(text, &s, &rc, &path);
	assert_int_equal(rc, FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:3: unknown key \"bogus\" in section [training]", path);
	assert_string_equal(fl_errmsg(), want);
	assert_true(s.l2 == 2.0);
	fl_config_free(keys, &s);
	unlink(path);
	free(path);
}

static void test_load_errors(void **state)
{
	(void)state;
	expect_load_error("[federation]\nname = x\nfoo = 1\n",
	                  ":3: unknown key \"foo\" in section [federation]");
	expect_load_error(
	        "[federation]\nl2 = 1\n",
	        ":2: unknown key \"l2\" in section [federation] (it belongs in [training])");
	expect_load_error("l2 = 1\n", ":1: unknown key \"l2\" before any [section] (it belongs in "
	                              "[training])");
	expect_load_error("[training]\n[feder]\nname = x\n", ":2: unknown section [feder]");
	expect_load_error("[training]\nlearning_rate = 0.1\n\nl2 = abc\n",
	                  ":4: l2: \"abc\" is not a number or \"auto\"");
	expect_load_error("[training]\nl2 = -0.5\n", ":2: l2: -0.5 is below the minimum 0");
	expect_load_error("[federation]\nlate_policy = later\n",
	                  ":2: late_policy: \"later\" is not one of wait, drop, abort");
	expect_load_error("[federation]\nname = x\n\ngarbage\n", ":4: syntax error");
	expect_load_error("[tls\nca_file = x\n", ":1: syntax error");
	expect_load_error("[training]\n\n\n\n\n\nl2 = 1\nlearning_rate = 0.1\nl2 = 2\n",
	                  ":9: \"l2\" is set twice (first on line 7)");
	expect_load_error("[federation]\nlate_policy = drop\nlate-policy = wait\n",
	                  ":3: \"late-policy\" is set twice (first on line 2)");
	expect_load_error("[federation]\nmin_partners = 0\n",
	                  ":2: min_partners: 0 is below the minimum 1");
	expect_load_error("[federation]\nmin_partners = 1001\n",
	                  ":2: min_partners: 1001 is above the maximum 1000");
	expect_load_error("[federation]\nmin_partners = -1\n",
	                  ":2: min_partners: \"-1\" is not a non-negative whole number");
	expect_load_error("[federation]\nmin_partners = 3.5\n",
	                  ":2: min_partners: \"3.5\" is not a non-negative whole number");
	expect_load_error("[federation]\nmin_partners = 18446744073709551616\n",
	                  ":2: min_partners: \"18446744073709551616\" is too large");
	expect_load_error("[training]\nlearning_rate = 1e999\n",
	                  ":2: learning_rate: \"1e999\" is not a number");
	expect_load_error("[training]\nlearning_rate = nan\n",
	                  ":2: learning_rate: \"nan\" is not a number");
	expect_load_error("[training]\nlearning_rate = 11\n",
	                  ":2: learning_rate: 11 is above the maximum 10");
	expect_load_error("[federation]\nround_timeout = 0.05s\n",
	                  ":2: round_timeout: 0.05s is below the minimum 100ms");
	expect_load_error("[federation]\nround_timeout = 2d\n",
	                  ":2: round_timeout: \"2d\" is not a duration (e.g. 30s, 5m, 2h, 250ms)");
	expect_load_error("[federation]\nround_timeout = -5s\n",
	                  ":2: round_timeout: \"-5s\" is negative");
	expect_load_error("[federation]\nround_timeout = 25h\n",
	                  ":2: round_timeout: 25h is above the maximum 24h");
	expect_load_error("[federation]\nmax_frame = 12Q\n",
	                  ":2: max_frame: \"12Q\" is not a size (e.g. 65536, 64K, 16M, 1G)");
	expect_load_error("[federation]\nmax_frame = 2G\n",
	                  ":2: max_frame: 2G is above the maximum 1G");
	expect_load_error("[federation]\nmax_frame = 16777216T\n",
	                  ":2: max_frame: \"16777216T\" is too large");
	expect_load_error(
	        "[tls]\nrequire_tls = maybe\n",
	        ":2: require_tls: \"maybe\" is not a boolean (true/false, yes/no, on/off, "
	        "1/0)");
	expect_load_error("[federation]\npartners = a,,b\n",
	                  ":2: partners: \"a,,b\" has an empty item");
	expect_load_error("[federation]\npartners = a, b,\n",
	                  ":2: partners: \"a, b,\" has an empty item");
	expect_load_error("[federation]\nlisten = localhost\n",
	                  ":2: listen: \"localhost\" has no port (expected HOST:PORT or "
	                  "[IPv6]:PORT)");
	expect_load_error("[federation]\nname = a\x01z\n",
	                  ":2: name: \"a\\x01z\" contains a control character");
}

static void test_load_nul_byte(void **state)
{
	static const char text[] = "[federation]\nname = a\nb\0 = c\n";
	char *path = write_tmp(text, sizeof(text) - 1), want[512];
	struct sample s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(fl_config_load(keys, &s, path), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:3: the line contains a NUL byte", path);
	assert_string_equal(fl_errmsg(), want);
	fl_config_free(keys, &s);
	unlink(path);
	free(path);
}

static void test_load_first_error_wins(void **state)
{
	(void)state;
	/* A syntax error before a refused key, and the other way round. */
	expect_load_error("[training]\nl2 = 1\noops\nfoo = 1\n", ":3: syntax error");
	expect_load_error("[training]\nfoo = 1\noops\n",
	                  ":2: unknown key \"foo\" in section [training]");
	expect_load_error("[training]\nl2 = x\nl2 = y\n",
	                  ":2: l2: \"x\" is not a number or \"auto\"");
}

static void test_load_long_line(void **state)
{
	char text[512];

	(void)state;
	/* 10 + 188 = 198 bytes: the longest line allowed. */
	memcpy(text, "[federation]\nname = ", 20);
	memset(text + 20, 'x', 191);
	strcpy(text + 211, "\n");
	{
		struct sample s;
		char *path;
		int rc;

		load_text(text, &s, &rc, &path);
		assert_int_equal(rc, 0);
		assert_int_equal(strlen(s.name), 191);
		fl_config_free(keys, &s);
		unlink(path);
		free(path);
	}
	/* One more byte is refused rather than cut into two lines. */
	memset(text + 20, 'x', 192);
	strcpy(text + 212, "\nfoo = 1\n");
	expect_load_error(text, ":2: the line is longer than 198 characters");
}

static void test_load_open_errors(void **state)
{
	char dir[] = "/tmp/fl_test_config_dir_XXXXXX", path[256], want[512];
	struct sample s;

	(void)state;
	assert_non_null(mkdtemp(dir));
	memset(&s, 0, sizeof(s));
	snprintf(path, sizeof(path), "%s/missing.ini", dir);
	assert_int_equal(fl_config_load(keys, &s, path), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(fl_errmsg(), want);

	assert_int_equal(fl_config_load(keys, &s, dir), FL_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s: cannot read: Is a directory", dir);
	assert_string_equal(fl_errmsg(), want);
	rmdir(dir);
}

static void test_set(void **state)
{
	struct sample s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(fl_config_defaults(keys, &s), 0);
	assert_int_equal(fl_config_set(keys, &s, "l2", " 0.5 ", "--l2"), 0);
	assert_true(s.l2 == 0.5);
	assert_int_equal(fl_config_set(keys, &s, "late-policy", "abort", "--late-policy"), 0);
	assert_int_equal(s.late_policy, 2);

	/* A refused value leaves the field as it was. */
	assert_int_equal(fl_config_set(keys, &s, "l2", "abc", "--l2"), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "--l2: \"abc\" is not a number or \"auto\"");
	assert_true(s.l2 == 0.5);
	assert_int_equal(fl_config_set(keys, &s, "name", "bad\nname", "--name"), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "--name: \"bad\\x0aname\" contains a control character");
	assert_string_equal(s.name, "fedlead");
	assert_int_equal(fl_config_set(keys, &s, "nope", "1", "--nope"), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "--nope: unknown key \"nope\"");
	/* Without an origin the message starts with the key. */
	assert_int_equal(fl_config_set(keys, &s, "min-partners", "0", NULL), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "min_partners: 0 is below the minimum 1");

	/* An empty value unsets a string. */
	assert_int_equal(fl_config_set(keys, &s, "name", "", "--name"), 0);
	assert_null(s.name);
	fl_config_free(keys, &s);
}

static void test_set_units(void **state)
{
	static const struct {
		const char *text;
		double secs;
	} durations[] = {{"30", 30},     {"30s", 30},   {"5m", 300},  {"2h", 7200},
	                 {"250ms", .25}, {"1.5s", 1.5}, {"0.5m", 30}, {"86400", 86400}};
	static const struct {
		const char *text;
		uint64_t bytes;
	} sizes[] = {{"65536", 65536},  {"64K", 65536},     {"64k", 65536},
	             {"16M", 16777216}, {"1G", 1073741824}, {"1024", 1024}};
	static const struct {
		const char *text;
		int val;
	} bools[] = {{"true", 1}, {"false", 0}, {"yes", 1}, {"no", 0},  {"on", 1},
	             {"off", 0},  {"1", 1},     {"0", 0},   {"YES", 1}, {"Off", 0}};
	struct sample s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(fl_config_defaults(keys, &s), 0);
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		assert_int_equal(fl_config_set(keys, &s, "round_timeout", durations[i].text, NULL),
		                 0);
		assert_true(s.round_timeout == durations[i].secs);
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(fl_config_set(keys, &s, "max_frame", sizes[i].text, NULL), 0);
		assert_true(s.max_frame == sizes[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		s.require_tls = -1;
		assert_int_equal(fl_config_set(keys, &s, "require_tls", bools[i].text, NULL), 0);
		assert_int_equal(s.require_tls, bools[i].val);
	}
	assert_int_equal(fl_config_set(keys, &s, "l2", "auto", NULL), 0);
	assert_true(s.l2 == -1.0);
	assert_int_equal(fl_config_set(keys, &s, "l2", "0", NULL), 0);
	assert_true(s.l2 == 0.0);
	assert_int_equal(fl_config_set(keys, &s, "partners", "", NULL), 0);
	assert_int_equal(s.partners.n, 0);
	assert_null(s.partners.v);
	assert_int_equal(fl_config_set(keys, &s, "partners", " solo ", NULL), 0);
	assert_int_equal(s.partners.n, 1);
	assert_string_equal(s.partners.v[0], "solo");
	fl_config_free(keys, &s);
}

static void test_addr(void **state)
{
	static const struct {
		const char *text, *host;
		unsigned port;
	} good[] = {{"127.0.0.1:7443", "127.0.0.1", 7443},
	            {"[::1]:0", "::1", 0},
	            {"[2001:db8::7]:65535", "2001:db8::7", 65535},
	            {"coord.example.com:443", "coord.example.com", 443},
	            {"localhost:8080", "localhost", 8080},
	            {"node-1.internal.:1", "node-1.internal.", 1}};
	char host[FL_CFG_HOST_MAX];
	uint16_t port;
	struct sample s;

	(void)state;
	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(fl_config_set(keys, &s, "listen", good[i].text, NULL), 0);
		assert_string_equal(s.listen, good[i].text);
		assert_int_equal(fl_config_addr_split(good[i].text, host, sizeof(host), &port), 0);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
	}
	fl_config_free(keys, &s);

	expect_set_error("listen", "::1:80",
	                 "--opt: \"::1:80\": an IPv6 address needs brackets, as in [::1]:7443");
	expect_set_error("listen", "1.2.3.256:80",
	                 "--opt: \"1.2.3.256:80\": 1.2.3.256 is not an "
	                 "IPv4 address");
	expect_set_error("listen", "host:65536",
	                 "--opt: \"host:65536\": the port is not a number from 0 to 65535");
	expect_set_error("listen", "host:-1",
	                 "--opt: \"host:-1\": the port is not a number from 0 to 65535");
	expect_set_error("listen",
	                 "host:", "--opt: \"host:\": the port is not a number from 0 to 65535");
	expect_set_error("listen", "bad_host:1",
	                 "--opt: \"bad_host:1\": the host is not a valid host name");
	expect_set_error("listen", "-x.com:1",
	                 "--opt: \"-x.com:1\": the host is not a valid host "
	                 "name");
	expect_set_error("listen", "[::1]80",
	                 "--opt: \"[::1]80\" has no port (expected HOST:PORT "
	                 "or [IPv6]:PORT)");
	expect_set_error("listen", "[::1:80",
	                 "--opt: \"[::1:80\": the IPv6 address has no "
	                 "closing \"]\"");
	expect_set_error("listen", "[zz]:1", "--opt: \"[zz]:1\": [zz] is not an IPv6 address");
	expect_set_error("listen", ":80",
	                 "--opt: \":80\" has no host (0.0.0.0:PORT or [::]:PORT "
	                 "listens on every address)");

	assert_int_equal(fl_config_addr_split("nohost", host, sizeof(host), &port), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(),
	                    "\"nohost\" has no port (expected HOST:PORT or [IPv6]:PORT)");
	assert_string_equal(host, "");
	assert_int_equal(port, 0);
}

static void test_getopt(void **state)
{
	enum { FIRST = 0x100 };
	static const struct option extra[] = {{"config", required_argument, NULL, 'c'},
	                                      {"help", no_argument, NULL, 'h'},
	                                      {NULL, 0, NULL, 0}};
	char a[][32] = {
	        "prog", "--l2",  "0.5", "--late-policy=abort", "-c", "x.ini", "rest", "--max_frame",
	        "1M",   "--req", "no",  "--partners",          "a,b"};
	char *argv[sizeof(a) / sizeof(a[0]) + 1];
	int argc = (int)(sizeof(a) / sizeof(a[0])), c, n = 0, help = 0;
	const char *config = NULL;
	struct option *opts = NULL;
	struct sample s;
	char origin[64];

	(void)state;
	for (int i = 0; i < argc; i++)
		argv[i] = a[i];
	argv[argc] = NULL;
	assert_int_equal(fl_config_getopt(keys, extra, FIRST, &opts), 0);

	/* Each key, then its '-' form if it has a '_', then extra, then zeros. */
	assert_string_equal(opts[0].name, "name");
	assert_int_equal(opts[0].has_arg, required_argument);
	assert_null(opts[0].flag);
	assert_int_equal(opts[0].val, FIRST);
	assert_string_equal(opts[2].name, "min_partners");
	assert_string_equal(opts[3].name, "min-partners");
	assert_int_equal(opts[2].val, FIRST + 2);
	assert_int_equal(opts[3].val, FIRST + 2);
	while (opts[n].name != NULL)
		n++;
	/* 11 keys, 7 of them with '_', 2 extra. */
	assert_int_equal(n, 11 + 7 + 2);
	assert_string_equal(opts[n - 2].name, "config");
	assert_int_equal(opts[n - 1].val, 'h');
	assert_int_equal(opts[n].has_arg, 0);
	assert_null(opts[n].flag);
	assert_int_equal(opts[n].val, 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(fl_config_defaults(keys, &s), 0);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (c >= FIRST && c < FIRST + NKEYS) {
			const char *key = keys[c - FIRST].name;

			snprintf(origin, sizeof(origin), "--%s", key);
			assert_int_equal(fl_config_set(keys, &s, key, optarg, origin), 0);
		} else if (c == 'c') {
			config = optarg;
		} else if (c == 'h') {
			help = 1;
		} else {
			fail_msg("unexpected option %d", c);
		}
	}
	assert_true(s.l2 == 0.5);
	assert_int_equal(s.late_policy, 2);
	assert_true(s.max_frame == 1048576);
	assert_int_equal(s.require_tls, 0);
	assert_int_equal(s.partners.n, 2);
	assert_string_equal(config, "x.ini");
	assert_int_equal(help, 0);
	assert_int_equal(optind, argc - 1);
	assert_string_equal(argv[optind], "rest");
	free(opts);
	fl_config_free(keys, &s);

	/* Clashes with an extra option are a bug in the caller. */
	{
		static const struct option clash_name[] = {{"l2", no_argument, NULL, 'x'},
		                                           {NULL, 0, NULL, 0}};
		static const struct option clash_val[] = {{"verbose", no_argument, NULL, FIRST + 3},
		                                          {NULL, 0, NULL, 0}};

		assert_int_equal(fl_config_getopt(keys, clash_name, FIRST, &opts), FL_ERR_INTERNAL);
		assert_null(opts);
		assert_string_equal(fl_errmsg(),
		                    "fl_config_getopt: option --l2 is also a configuration key");
		assert_int_equal(fl_config_getopt(keys, clash_val, FIRST, &opts), FL_ERR_INTERNAL);
		assert_string_equal(
		        fl_errmsg(),
		        "fl_config_getopt: option --verbose has the value 259 of a key");
		assert_int_equal(fl_config_getopt(keys, NULL, FIRST, &opts), 0);
		assert_int_equal(opts[11 + 7].val, 0);
		free(opts);
	}
}

static char *dump_to_string(const struct sample *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(fl_config_dump(keys, s, fp), 0);
	fclose(fp);
	return buf;
}

static void test_dump_defaults(void **state)
{
	static const char want[] = "[federation]\n"
	                           "name = fedlead\n"
	                           "listen = 0.0.0.0:7443\n"
	                           "min_partners = 3\n"
	                           "late_policy = wait\n"
	                           "round_timeout = 5m\n"
	                           "max_frame = 16M\n"
	                           "partners =\n"
	                           "\n"
	                           "[training]\n"
	                           "learning_rate = 0.1\n"
	                           "l2 = auto\n"
	                           "\n"
	                           "[tls]\n"
	                           "ca_file =\n"
	                           "require_tls = true\n";
	struct sample s;
	char *text;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(fl_config_defaults(keys, &s), 0);
	text = dump_to_string(&s);
	assert_string_equal(text, want);
	free(text);
	s.late_policy = 3;
	{
		FILE *fp = fopen("/dev/null", "w");

		assert_int_equal(fl_config_dump(keys, &s, fp), FL_ERR_INTERNAL);
		assert_string_equal(fl_errmsg(),
		                    "late_policy: enum index 3 is not one of the 3 choices");
		fclose(fp);
	}
	fl_config_free(keys, &s);
}

static void test_dump_round_trip(void **state)
{
	static const char *const set[][2] = {{"name", "Acme Corp (EU)"},
	                                     {"listen", "[2001:db8::1]:9000"},
	                                     {"min_partners", "17"},
	                                     {"late_policy", "abort"},
	                                     {"round_timeout", "1.0001"},
	                                     {"max_frame", "65537"},
	                                     {"partners", "a b, c,d"},
	                                     {"learning_rate", "0.30000000000000004"},
	                                     {"l2", "1e-300"},
	                                     {"ca_file", "/etc/ca file.pem"},
	                                     {"require_tls", "off"}};
	struct sample a, b;
	char *text, *path;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(fl_config_defaults(keys, &a), 0);
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		assert_int_equal(fl_config_set(keys, &a, set[i][0], set[i][1], NULL), 0);
	text = dump_to_string(&a);
	/* Written in their largest exact unit, doubles in their shortest form. */
	assert_non_null(strstr(text, "\nround_timeout = 1.0001s\n"));
	assert_non_null(strstr(text, "\nmax_frame = 65537\n"));
	assert_non_null(strstr(text, "\nlearning_rate = 0.30000000000000004\n"));
	assert_non_null(strstr(text, "\npartners = a b, c, d\n"));

	path = write_tmp(text, strlen(text));
	assert_int_equal(fl_config_defaults(keys, &b), 0);
	assert_int_equal(fl_config_load(keys, &b, path), 0);
	assert_string_equal(b.name, a.name);
	assert_string_equal(b.listen, a.listen);
	assert_int_equal(b.min_partners, 17);
	assert_int_equal(b.late_policy, 2);
	assert_true(b.round_timeout == 1.0001);
	assert_true(b.max_frame == 65537);
	assert_int_equal(b.partners.n, 3);
	assert_string_equal(b.partners.v[0], "a b");
	assert_string_equal(b.partners.v[2], "d");
	assert_true(b.lr == 0.1 + 0.2);
	assert_true(b.l2 == 1e-300);
	assert_string_equal(b.ca_file, "/etc/ca file.pem");
	assert_int_equal(b.require_tls, 0);
	unlink(path);
	free(path);
	free(text);

	/* Units: durations and sizes come back exactly from their unit form. */
	assert_int_equal(fl_config_set(keys, &a, "round_timeout", "90m", NULL), 0);
	assert_int_equal(fl_config_set(keys, &a, "max_frame", "3072K", NULL), 0);
	text = dump_to_string(&a);
	assert_non_null(strstr(text, "\nround_timeout = 90m\n"));
	assert_non_null(strstr(text, "\nmax_frame = 3M\n"));
	free(text);
	assert_int_equal(fl_config_set(keys, &a, "round_timeout", "1250ms", NULL), 0);
	text = dump_to_string(&a);
	assert_non_null(strstr(text, "\nround_timeout = 1250ms\n"));
	free(text);
	fl_config_free(keys, &a);
	fl_config_free(keys, &b);
}

static void test_usage(void **state)
{
	char *buf = NULL, *fed, *train, *tls;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(fp);
	fl_config_usage(keys, fp);
	fclose(fp);
	fed = strstr(buf, "[federation]\n");
	/* Sections in table order, a blank line between them. */
	train = strstr(buf, "\n\n[training]\n");
	tls = strstr(buf, "\n\n[tls]\n");
	assert_true(buf == fed);
	assert_true(train != NULL && tls != NULL && train < tls);
	/* The flag column is 30 wide after a 2-space indent. */
	assert_non_null(strstr(buf, "\n  --late-policy wait|drop|abort  what to do with late "
	                            "updates (default: wait)\n"));
	assert_non_null(strstr(buf, "\n  --round-timeout DURATION       longest round (default: "
	                            "5m)\n"));
	assert_non_null(strstr(buf, "\n  --ca-file FILE                 CA certificate\n"));
	assert_non_null(strstr(buf, "\n  --l2 NUMBER|auto               L2 strength (default: "
	                            "auto)\n"));
	free(buf);
}

static void test_bad_tables(void **state)
{
	struct sample s;
	const struct fl_cfg_key min_over_max[] = {
	        {"federation", "min_partners", FL_CFG_U64, OFF(min_partners), NULL, 1, 0, "3", ""},
	        {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL}};
	const struct fl_cfg_key bad_default[] = {
	        {"training", "l2", FL_CFG_L2, OFF(l2), NULL, 0, 0, "strong", ""},
	        {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL}};
	const struct fl_cfg_key twice[] = {
	        {"training", "l2", FL_CFG_L2, OFF(l2), NULL, 0, 0, NULL, ""},
	        {"tls", "l2", FL_CFG_L2, OFF(lr), NULL, 0, 0, NULL, ""},
	        {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL}};
	const struct fl_cfg_key no_choices[] = {
	        {"federation", "late_policy", FL_CFG_ENUM, OFF(late_policy), NULL, 0, 0, NULL, ""},
	        {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL}};

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(fl_config_defaults(min_over_max, &s), FL_ERR_INTERNAL);
	assert_string_equal(fl_errmsg(), "configuration table: key \"min_partners\": min 1 is "
	                                 "above max 0 (use INFINITY for no maximum)");
	assert_int_equal(fl_config_defaults(bad_default, &s), FL_ERR_INTERNAL);
	assert_string_equal(fl_errmsg(), "configuration table: default of l2: \"strong\" is not a "
	                                 "number or \"auto\"");
	assert_int_equal(fl_config_defaults(twice, &s), FL_ERR_INTERNAL);
	assert_string_equal(fl_errmsg(), "configuration table: key \"l2\" appears twice");
	assert_int_equal(fl_config_defaults(no_choices, &s), FL_ERR_INTERNAL);
	assert_string_equal(fl_errmsg(),
	                    "configuration table: key \"late_policy\": an enum without choices");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_load_every_type),
	        cmocka_unit_test(test_load_comment_rules),
	        cmocka_unit_test(test_load_crlf_bom),
	        cmocka_unit_test(test_load_errors),
	        cmocka_unit_test(test_load_nul_byte),
	        cmocka_unit_test(test_load_first_error_wins),
	        cmocka_unit_test(test_load_long_line),
	        cmocka_unit_test(test_load_open_errors),
	        cmocka_unit_test(test_set),
	        cmocka_unit_test(test_set_units),
	        cmocka_unit_test(test_addr),
	        cmocka_unit_test(test_getopt),
	        cmocka_unit_test(test_dump_defaults),
	        cmocka_unit_test(test_dump_round_trip),
	        cmocka_unit_test(test_usage),
	        cmocka_unit_test(test_bad_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
