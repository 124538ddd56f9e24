/*
 * Tests of what the programs share (src/cli/cli.c) and of their settings
 * (coordinator_config.c, node_config.c): checked numbers with their exact
 * errors, exit codes, option errors, configuration from file and flags, the
 * subcommand table's dispatch and --help, and that none of the parsing
 * functions prints: the command prints each error once.
 */
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fedlead/cli.h"
#include "fedlead/commands.h"
#include "fedlead/coordinator_config.h"
#include "fedlead/csv.h"
#include "fedlead/error.h"
#include "fedlead/node_config.h"

/* ---- stdout and stderr captured in files while a call runs ---- */

struct capture {
	int saved_out, saved_err, fd_out, fd_err;
	char path_out[64], path_err[64];
	char out[8192], err[8192];
};

static void capture_start(struct capture *c)
{
	strcpy(c->path_out, "/tmp/fl_test_cli_out_XXXXXX");
	strcpy(c->path_err, "/tmp/fl_test_cli_err_XXXXXX");
	fflush(stdout);
	fflush(stderr);
	c->fd_out = mkstemp(c->path_out);
	c->fd_err = mkstemp(c->path_err);
	assert_true(c->fd_out >= 0 && c->fd_err >= 0);
	c->saved_out = dup(STDOUT_FILENO);
	c->saved_err = dup(STDERR_FILENO);
	assert_true(c->saved_out >= 0 && c->saved_err >= 0);
	assert_true(dup2(c->fd_out, STDOUT_FILENO) >= 0);
	assert_true(dup2(c->fd_err, STDERR_FILENO) >= 0);
}

static void read_all(const char *path, char *buf, size_t size)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, size - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

static void capture_end(struct capture *c)
{
	fflush(stdout);
	fflush(stderr);
	assert_true(dup2(c->saved_out, STDOUT_FILENO) >= 0);
	assert_true(dup2(c->saved_err, STDERR_FILENO) >= 0);
	close(c->saved_out);
	close(c->saved_err);
	close(c->fd_out);
	close(c->fd_err);
	read_all(c->path_out, c->out, sizeof(c->out));
	read_all(c->path_err, c->err, sizeof(c->err));
	unlink(c->path_out);
	unlink(c->path_err);
}

/* ---- exit codes ---- */

static void test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(FL_EXIT_OK, 0);
	assert_int_equal(FL_EXIT_FAILURE, 1);
	assert_int_equal(FL_EXIT_USAGE, 2);
	assert_int_equal(fl_cli_exit_code(0), 0);
	/* Bad input is the user's to fix: 2. */
	assert_int_equal(fl_cli_exit_code(FL_ERR_INVALID), 2);
	assert_int_equal(fl_cli_exit_code(FL_ERR_SCHEMA), 2);
	assert_int_equal(fl_cli_exit_code(FL_ERR_DATA), 2);
	assert_int_equal(fl_cli_exit_code(FL_ERR_MODEL), 2);
	assert_int_equal(fl_cli_exit_code(FL_ERR_CONFIG), 2);
	assert_int_equal(fl_cli_exit_code(FL_ERR_LIMIT), 2);
	/* What went wrong at run time: 1. */
	assert_int_equal(fl_cli_exit_code(FL_ERR_INTERNAL), 1);
	assert_int_equal(fl_cli_exit_code(FL_ERR_NOMEM), 1);
	assert_int_equal(fl_cli_exit_code(FL_ERR_IO), 1);
	assert_int_equal(fl_cli_exit_code(FL_ERR_NUMERIC), 1);
	assert_int_equal(fl_cli_exit_code(FL_ERR_CRYPTO), 1);
	assert_int_equal(fl_cli_exit_code(FL_ERR_PROTO), 1);
	assert_int_equal(fl_cli_exit_code(FL_ERR_AUTH), 1);
	assert_int_equal(fl_cli_exit_code(-99), 1);
}

/* ---- numbers ---- */

static void test_double(void **state)
{
	static const struct {
		const char *text;
		double want;
	} good[] = {{"0", 0}, {"0.25", 0.25}, {"-3", -3}, {"1e-3", 1e-3}, {"  7.5", 7.5}};
	static const char *const bad[] = {"abc", "", "1.5x", "1.5 ", "nan", "inf", "-inf", "1e999"};
	struct capture cap;

	(void)state;
	capture_start(&cap);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		double v = -1;

		assert_int_equal(fl_cli_double("--l2", good[i].text, &v), 0);
		assert_true(v == good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double v = 42;
		char want[64];

		fl_err_clear();
		assert_int_equal(fl_cli_double("--l2", bad[i], &v), FL_ERR_INVALID);
		snprintf(want, sizeof(want), "--l2: \"%s\" is not a number", bad[i]);
		assert_string_equal(fl_errmsg(), want);
		assert_true(v == 42); /* untouched */
	}
	capture_end(&cap);
	/* Reported through fl_fail only: the caller prints. */
	assert_string_equal(cap.out, "");
	assert_string_equal(cap.err, "");
}

static void test_u64(void **state)
{
	static const char *const bad[] = {
	        " -1", "-1", "+1", "1.5", "", " 1", "1 ", "0x10", "18446744073709551616", "abc"};
	struct capture cap;
	uint64_t v;

	(void)state;
	capture_start(&cap);
	assert_int_equal(fl_cli_u64("--top", "0", &v), 0);
	assert_true(v == 0);
	assert_int_equal(fl_cli_u64("--top", "007", &v), 0);
	assert_true(v == 7);
	assert_int_equal(fl_cli_u64("--top", "18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[96];

		v = 5;
		assert_int_equal(fl_cli_u64("--top", bad[i], &v), FL_ERR_INVALID);
		snprintf(want, sizeof(want), "--top: \"%s\" is not a non-negative whole number",
		         bad[i]);
		assert_string_equal(fl_errmsg(), want);
		assert_true(v == 5);
	}
	capture_end(&cap);
	assert_string_equal(cap.out, "");
	assert_string_equal(cap.err, "");
}

static void test_bad_rows(void **state)
{
	enum fl_bad_rows p = FL_BAD_ROWS_SKIP;
	struct capture cap;

	(void)state;
	capture_start(&cap);
	assert_int_equal(fl_cli_bad_rows("fail", &p), 0);
	assert_int_equal(p, FL_BAD_ROWS_FAIL);
	assert_int_equal(fl_cli_bad_rows("skip", &p), 0);
	assert_int_equal(p, FL_BAD_ROWS_SKIP);
	assert_int_equal(fl_cli_bad_rows("maybe", &p), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "--bad-rows: \"maybe\" is not fail or skip");
	assert_int_equal(fl_cli_bad_rows("Skip", &p), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "--bad-rows: \"Skip\" is not fail or skip");
	assert_int_equal(p, FL_BAD_ROWS_SKIP);
	capture_end(&cap);
	assert_string_equal(cap.err, "");
}

/* ---- option errors ---- */

/* getopt_long over argv as a command parses it, and the error it ends on. */
static int first_error(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"l2", required_argument, NULL, 256},
	        {"quiet", no_argument, NULL, 257},
	        {NULL, 0, NULL, 0},
	};
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1)
		if (c == '?' || c == ':')
			return fl_cli_bad_option(c, argv);
	return 0;
}

static void test_bad_option(void **state)
{
	char *unknown[] = {"train", "--quiet", "--bogus", NULL};
	char *novalue[] = {"train", "--quiet", "--l2", NULL};
	char *shortopt[] = {"train", "-x", NULL};
	char *withvalue[] = {"train", "--bogus=3", NULL};
	struct capture cap;

	(void)state;
	capture_start(&cap);
	assert_int_equal(first_error(3, unknown), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "unrecognized option \"--bogus\" (see --help)");
	assert_int_equal(first_error(3, novalue), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "option \"--l2\" needs a value (see --help)");
	assert_int_equal(first_error(2, shortopt), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "unrecognized option \"-x\" (see --help)");
	assert_int_equal(first_error(2, withvalue), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "unrecognized option \"--bogus=3\" (see --help)");
	capture_end(&cap);
	/* Not getopt's message either ("train: unrecognized option"). */
	assert_string_equal(cap.out, "");
	assert_string_equal(cap.err, "");
}

/* ---- configuration: the node's table, a file and flags ---- */

enum { X_CONFIG = 1500, X_CHECK, X_HELP };

static const struct option node_extra[] = {
        {"config", required_argument, NULL, X_CONFIG},
        {"check", no_argument, NULL, X_CHECK},
        {"help", no_argument, NULL, X_HELP},
        {NULL, 0, NULL, 0},
};

struct extra_seen {
	int check, help;
};

static int on_extra(int ch, const char *arg, void *ctx)
{
	struct extra_seen *x = ctx;

	(void)arg;
	switch (ch) {
	case X_CONFIG: return 0;
	case X_CHECK: x->check++; return 0;
	case X_HELP: x->help++; return FL_CLI_STOP;
	}
	return fl_fail(FL_ERR_INTERNAL, "option %d", ch);
}

static char conf_path[64];

static void write_conf(const char *text)
{
	int fd;

	strcpy(conf_path, "/tmp/fl_test_cli_conf_XXXXXX");
	fd = mkstemp(conf_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* fl_cli_configure on the node's table with argv (NULL-terminated), output
 * captured; returns its result. */
static int configure(struct fl_node_config *c, struct extra_seen *x, struct capture *cap,
                     char **argv)
{
	int argc = 0, r;

	while (argv[argc] != NULL)
		argc++;
	memset(c, 0, sizeof(*c));
	memset(x, 0, sizeof(*x));
	fl_err_clear();
	capture_start(cap);
	r = fl_cli_configure(fl_node_config_keys, c, argc, argv, node_extra, on_extra, x);
	capture_end(cap);
	return r;
}

static void test_configure_file_then_flags(void **state)
{
	struct fl_node_config c;
	struct extra_seen x;
	struct capture cap;

	(void)state;
	write_conf("[node]\nschema = s.json\ndata = leads.csv\n[network]\nmax_frame = 1M\n"
	           "[reconnect]\nbackoff_max = 2m\n");
	{
		/* A flag overrides the file even when it comes first. */
		char *argv[] = {"join",    "--data",        "other.csv", "--config", conf_path,
		                "--check", "--backoff-max", "5s",        NULL};

		assert_int_equal(configure(&c, &x, &cap, argv), 0);
	}
	assert_string_equal(c.schema, "s.json");
	assert_string_equal(c.data, "other.csv");
	assert_true(c.max_frame == 1024 * 1024);
	assert_true(c.backoff_max == 5);
	assert_true(c.backoff_initial == 1); /* the default, "1s" */
	assert_int_equal(x.check, 1);
	assert_string_equal(cap.out, "");
	assert_string_equal(cap.err, "");
	fl_node_config_free(&c);
	{
		char *argv[] = {"join", "--help", "--bogus", NULL};

		/* --help stops before the bad option is reached. */
		assert_int_equal(configure(&c, &x, &cap, argv), FL_CLI_STOP);
		assert_int_equal(x.help, 1);
		fl_node_config_free(&c);
	}
	unlink(conf_path);
}

static void test_configure_errors(void **state)
{
	static const struct {
		const char *conf; /* NULL: no --config */
		const char *args[4];
		int want;
		const char *msg; /* after the config file's path and ":", if any */
	} cases[] = {
	        {"[node]\ndata = a.csv\nbad_rows = maybe\n",
	         {NULL},
	         FL_ERR_CONFIG,
	         "3: bad_rows: \"maybe\" is not one of fail, skip"},
	        {"[node]\nsauce = hot\n",
	         {NULL},
	         FL_ERR_CONFIG,
	         "2: unknown key \"sauce\" in section [node]"},
	        /* A flag is named as the table spells the key, whichever spelling
	         * was typed. */
	        {NULL,
	         {"--max-frame", "12Q"},
	         FL_ERR_CONFIG,
	         "--max_frame: \"12Q\" is not a size (e.g. 65536, 64K, 16M, 1G)"},
	        {NULL, {"--bogus"}, FL_ERR_INVALID, "unrecognized option \"--bogus\" (see --help)"},
	        {NULL, {"--data"}, FL_ERR_INVALID, "option \"--data\" needs a value (see --help)"},
	        {NULL,
	         {"--data", "a.csv", "extra"},
	         FL_ERR_INVALID,
	         "unexpected argument \"extra\""},
	        {NULL,
	         {"--config", "/nonexistent/node.conf"},
	         FL_ERR_CONFIG,
	         "/nonexistent/node.conf: cannot open: No such file or directory"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_node_config c;
		struct extra_seen x;
		struct capture cap;
		char *argv[8] = {"join"}, want[256];
		int n = 1;

		if (cases[i].conf != NULL) {
			write_conf(cases[i].conf);
			argv[n++] = "--config";
			argv[n++] = conf_path;
		}
		for (int a = 0; a < 4 && cases[i].args[a] != NULL; a++)
			argv[n++] = (char *)cases[i].args[a];
		argv[n] = NULL;
		assert_int_equal(configure(&c, &x, &cap, argv), cases[i].want);
		if (cases[i].conf != NULL)
			snprintf(want, sizeof(want), "%s:%s", conf_path, cases[i].msg);
		else
			snprintf(want, sizeof(want), "%s", cases[i].msg);
		assert_string_equal(fl_errmsg(), want);
		/* The error is the caller's to print, once. */
		assert_string_equal(cap.out, "");
		assert_string_equal(cap.err, "");
		fl_node_config_free(&c);
		if (cases[i].conf != NULL)
			unlink(conf_path);
	}
}

static void test_node_config_required(void **state)
{
	struct fl_node_config c;
	struct fl_node_opts o;
	struct extra_seen x;
	struct capture cap;
	char *argv[] = {"join", "--schema", "s.json", "--data", "a.csv", "--address", "h:1",
	                "--ca", "ca.crt",   "--cert", "p.crt",  "--key", "p.key",     NULL};

	(void)state;
	assert_int_equal(configure(&c, &x, &cap, argv), 0);
	assert_int_equal(fl_node_config_opts(&c, &o), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(),
	                    "setting \"model_out\" is required (config file or --model_out)");
	fl_node_config_free(&c);
	argv[3] = "--federation";
	assert_int_equal(configure(&c, &x, &cap, argv), 0);
	assert_int_equal(fl_node_config_opts(&c, &o), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "setting \"data\" is required (config file or --data)");
	fl_node_config_free(&c);
}

static void test_node_config_dialect(void **state)
{
	/* [node] delimiter, encoding, decimal, thousands and currency reach the
	 * client's options with the bits of what was given, and nothing else. */
	struct fl_node_config c;
	struct fl_node_opts o;
	struct extra_seen x;
	struct capture cap;
	char *argv[] = {"join",  "--schema",    "s.json", "--data",       "a.csv", "--address",
	                "h:1",   "--ca",        "ca.crt", "--cert",       "p.crt", "--key",
	                "p.key", "--model_out", "m.fdl",  "--federation", "f",     "--delimiter",
	                "tab",   "--decimal",   ",",      "--thousands",  ".",     NULL};

	(void)state;
	assert_int_equal(configure(&c, &x, &cap, argv), 0);
	assert_int_equal(fl_node_config_opts(&c, &o), 0);
	assert_int_equal(o.dialect.delimiter, '\t');
	assert_int_equal(o.dialect.number.decimal, ',');
	assert_string_equal(o.dialect.number.thousands, ".");
	assert_int_equal(o.dialect_set,
	                 FL_DIALECT_DELIMITER | FL_DIALECT_DECIMAL | FL_DIALECT_THOUSANDS);
	fl_node_config_free(&c);

	argv[18] = "ebcdic";
	argv[17] = "--encoding";
	assert_int_equal(configure(&c, &x, &cap, argv), 0);
	assert_int_equal(fl_node_config_opts(&c, &o), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "encoding: \"ebcdic\" is not a supported encoding "
	                                 "(utf-8, windows-1252 or latin1)");
	fl_node_config_free(&c);
}

/* The coordinator's command line with a class weight; getopt_long permutes
 * argv, so each call gets a fresh copy. */
static const char *const coord_args[] = {"fedlead-coordinator",
                                         "--id",
                                         "f",
                                         "--schema",
                                         "/nonexistent/s.json",
                                         "--ca",
                                         "ca.crt",
                                         "--cert",
                                         "c.crt",
                                         "--key",
                                         "c.key",
                                         "--state-dir",
                                         "/nonexistent/state",
                                         "--partners",
                                         "acme, globex",
                                         "--class-weight",
                                         "abc",
                                         "--check",
                                         NULL};
enum { COORD_WEIGHT = 16, COORD_ARGC = 18 }; /* coord_args[COORD_WEIGHT] is the weight */

static char **coord_argv(char **argv, const char *weight, int slot, const char *arg)
{
	memcpy(argv, coord_args, sizeof(coord_args));
	argv[COORD_WEIGHT] = (char *)weight;
	if (arg != NULL)
		argv[slot] = (char *)arg;
	return argv;
}

static int run_coordinator(struct capture *cap, char **argv)
{
	int r;

	capture_start(cap);
	r = fl_cmd_coordinator(COORD_ARGC, argv);
	capture_end(cap);
	return r;
}

/* Without --check (the last argument), through the library only. */
static int coordinator_opts(struct fl_coordinator_config *c, struct fl_coord_opts *o, char **argv)
{
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = fl_cli_configure(fl_coordinator_config_keys, c, COORD_ARGC - 1, argv, NULL, NULL,
	                          NULL)) != 0)
		return r;
	return fl_coordinator_config_opts(c, o);
}

/*
 * The coordinator's class_weight used to be reported twice: once by the
 * number parser ("class_weight: \"abc\" is not a number") and once by the
 * setting's own check. Now the program prints one line and exits 2.
 */
static void test_coordinator_bad_value_reported_once(void **state)
{
	struct fl_coordinator_config c;
	struct fl_coord_opts o;
	struct capture cap;
	char *argv[COORD_ARGC + 1];

	(void)state;
	assert_int_equal(run_coordinator(&cap, coord_argv(argv, "abc", 0, NULL)), FL_EXIT_USAGE);
	assert_string_equal(cap.err, "fedlead-coordinator: class_weight: \"abc\" is not a positive "
	                             "number or \"balanced\"\n");
	assert_string_equal(cap.out, "");

	/* The library calls themselves print nothing. */
	capture_start(&cap);
	assert_int_equal(coordinator_opts(&c, &o, coord_argv(argv, "abc", 0, NULL)), FL_ERR_CONFIG);
	capture_end(&cap);
	assert_string_equal(fl_errmsg(), "class_weight: \"abc\" is not a positive number or "
	                                 "\"balanced\"");
	assert_string_equal(cap.err, "");
	fl_coordinator_config_free(&c);

	/* balanced, a positive number, and what is not positive. */
	assert_int_equal(coordinator_opts(&c, &o, coord_argv(argv, "balanced", 0, NULL)), 0);
	assert_true(o.set.class_weight == 0);
	assert_int_equal(o.set.n_partners, 2);
	assert_string_equal(o.set.partners[1], "globex");
	assert_string_equal(o.model_out, "/nonexistent/state/model.fdl");
	fl_coordinator_config_free(&c);
	assert_int_equal(coordinator_opts(&c, &o, coord_argv(argv, "2.5", 0, NULL)), 0);
	assert_true(o.set.class_weight == 2.5);
	fl_coordinator_config_free(&c);
	assert_int_equal(coordinator_opts(&c, &o, coord_argv(argv, "0", 0, NULL)), FL_ERR_CONFIG);
	assert_string_equal(fl_errmsg(), "class_weight: \"0\" is not a positive number or "
	                                 "\"balanced\"");
	fl_coordinator_config_free(&c);

	/* An unknown option: one line, not getopt's and then ours. */
	assert_int_equal(run_coordinator(&cap, coord_argv(argv, "1", 1, "--federation-id-typo")),
	                 FL_EXIT_USAGE);
	assert_string_equal(cap.err, "fedlead-coordinator: unrecognized option "
	                             "\"--federation-id-typo\" (see --help)\n");
	/* A required setting, named once with where it can be given. */
	assert_int_equal(run_coordinator(&cap, coord_argv(argv, "1", 1, "--audit-log")),
	                 FL_EXIT_USAGE);
	assert_string_equal(cap.err, "fedlead-coordinator: setting \"id\" is required (config "
	                             "file or --id)\n");
	/* A file that is not there. */
	assert_int_equal(run_coordinator(&cap, coord_argv(argv, "1", 1, "--config")),
	                 FL_EXIT_USAGE);
	assert_string_equal(cap.err, "fedlead-coordinator: f: cannot open: No such file or "
	                             "directory\n");
	assert_string_equal(cap.out, "");
}

/*
 * max_iterations not set: 100, but under privacy = on the differential
 * privacy plan's 4 evaluations (plan v7: the Hessian once, then the
 * gradient alone), so nodes set for it (privacy_releases = 5 with the
 * statistics) take the plan without a max_iterations of their own. A
 * setting is kept, under privacy too.
 */
static void coordinator_iterations(const char *privacy, const char *iterations,
                                   int expect_iterations, int expect_plan)
{
	struct fl_coordinator_config c = {0};
	struct fl_coord_opts o;
	char *argv[COORD_ARGC + 4]; /* 17 arguments, 4 more and the NULL */
	int argc = COORD_ARGC - 1;  /* without --check */

	coord_argv(argv, "1", 0, NULL);
	argv[argc++] = "--privacy";
	argv[argc++] = (char *)privacy;
	if (iterations != NULL) {
		argv[argc++] = "--max-iterations";
		argv[argc++] = (char *)iterations;
	}
	argv[argc] = NULL;
	assert_int_equal(
	        fl_cli_configure(fl_coordinator_config_keys, &c, argc, argv, NULL, NULL, NULL), 0);
	assert_int_equal(fl_coordinator_config_opts(&c, &o), 0);
	assert_int_equal(o.set.max_iterations, expect_iterations);
	assert_int_equal(o.set.max_iterations_plan, expect_plan);
	fl_coordinator_config_free(&c);
}

static void test_coordinator_max_iterations_default(void **state)
{
	(void)state;
	coordinator_iterations("off", NULL, 100, 0);
	coordinator_iterations("on", NULL, 4, 1);
	coordinator_iterations("on", "0", 4, 1);
	coordinator_iterations("on", "7", 7, 0);
	coordinator_iterations("on", "100", 100, 0);
	coordinator_iterations("off", "4", 4, 0);
}

/* ---- the subcommand table ---- */

static int calls_a, calls_b, last_argc;
static char *last_argv0, *last_argv1;

static int cmd_a(int argc, char **argv)
{
	calls_a++;
	last_argc = argc;
	last_argv0 = argv[0];
	last_argv1 = argc > 1 ? argv[1] : NULL;
	return 7;
}

static int cmd_b(int argc, char **argv)
{
	calls_b++;
	last_argc = argc;
	last_argv0 = argv[0];
	last_argv1 = argc > 1 ? argv[1] : NULL;
	return 0;
}

static const struct fl_cli_cmd table[] = {
        {"alpha", cmd_a, "does the first thing", 0},
        {"be", cmd_b, "answers --help itself, and its help goes on\nover two lines", 1},
        {NULL, NULL, NULL, 0},
};

static void usage(FILE *fp)
{
	fprintf(fp, "usage: prog COMMAND\n");
	fl_cli_commands_usage(table, fp);
}

static int dispatch(struct capture *cap, int argc, char **argv)
{
	int r;

	calls_a = calls_b = 0;
	last_argc = -1;
	last_argv0 = last_argv1 = NULL;
	capture_start(cap);
	r = fl_cli_dispatch("prog", table, usage, argc, argv);
	capture_end(cap);
	return r;
}

static const char usage_text[] = "usage: prog COMMAND\n"
                                 "alpha  does the first thing\n"
                                 "be     answers --help itself, and its help goes on\n"
                                 "       over two lines\n";

static void test_commands_usage_and_find(void **state)
{
	struct capture cap;

	(void)state;
	capture_start(&cap);
	usage(stdout);
	capture_end(&cap);
	assert_string_equal(cap.out, usage_text);
	assert_ptr_equal(fl_cli_find(table, "alpha"), &table[0]);
	assert_ptr_equal(fl_cli_find(table, "be"), &table[1]);
	assert_null(fl_cli_find(table, "b"));
	assert_null(fl_cli_find(table, "alphabet"));
	assert_null(fl_cli_find(table, ""));
}

static void test_dispatch(void **state)
{
	struct capture cap;
	char *none[] = {"prog", NULL};
	char *help[] = {"prog", "--help", NULL};
	char *h[] = {"prog", "-h", NULL};
	char *version[] = {"prog", "--version", NULL};
	char *alpha[] = {"prog", "alpha", "--x", "y", NULL};
	char *alpha_help[] = {"prog", "alpha", "--x", "--help", NULL};
	char *be_help[] = {"prog", "be", "--help", NULL};
	char *unknown[] = {"prog", "gamma", "--x", NULL};
	char *unknown_help[] = {"prog", "gamma", "-h", NULL};

	(void)state;
	/* No command: usage on stderr, a usage error. */
	assert_int_equal(dispatch(&cap, 1, none), FL_EXIT_USAGE);
	assert_string_equal(cap.err, usage_text);
	assert_string_equal(cap.out, "");
	/* Asked for: on stdout, success. */
	assert_int_equal(dispatch(&cap, 2, help), 0);
	assert_string_equal(cap.out, usage_text);
	assert_string_equal(cap.err, "");
	assert_int_equal(dispatch(&cap, 2, h), 0);
	assert_string_equal(cap.out, usage_text);
	assert_int_equal(dispatch(&cap, 2, version), 0);
	assert_string_equal(cap.out, "prog " FL_VERSION "\n");
	assert_int_equal(calls_a + calls_b, 0);
	/* A command runs with its own name first and returns the exit code. */
	assert_int_equal(dispatch(&cap, 4, alpha), 7);
	assert_int_equal(calls_a, 1);
	assert_int_equal(last_argc, 3);
	assert_string_equal(last_argv0, "alpha");
	assert_string_equal(last_argv1, "--x");
	assert_string_equal(cap.out, "");
	assert_string_equal(cap.err, "");
	/* --help after a command is a question to the program ... */
	assert_int_equal(dispatch(&cap, 4, alpha_help), 0);
	assert_int_equal(calls_a, 0);
	assert_string_equal(cap.out, usage_text);
	/* ... unless the command answers it. */
	assert_int_equal(dispatch(&cap, 3, be_help), 0);
	assert_int_equal(calls_b, 1);
	assert_int_equal(last_argc, 2);
	assert_string_equal(last_argv1, "--help");
	assert_string_equal(cap.out, "");
	/* An unknown command is named once. */
	assert_int_equal(dispatch(&cap, 3, unknown), FL_EXIT_USAGE);
	assert_string_equal(cap.err, "prog: unknown command \"gamma\" (see --help)\n");
	assert_string_equal(cap.out, "");
	assert_int_equal(calls_a + calls_b, 0);
	assert_int_equal(dispatch(&cap, 3, unknown_help), 0);
	assert_string_equal(cap.out, usage_text);
}

/* ---- printing helpers ---- */

static void test_error_and_close_stdout(void **state)
{
	struct capture cap;
	int full, saved, r;

	(void)state;
	capture_start(&cap);
	fl_err_clear();
	fl_cli_error("prog", FL_ERR_NOMEM);
	fl_fail(FL_ERR_DATA, "leads.csv:3: bad");
	fl_cli_error("prog", FL_ERR_DATA);
	assert_int_equal(fl_cli_close_stdout("prog", 2), 2);
	assert_int_equal(fl_cli_close_stdout("prog", 0), 0);
	capture_end(&cap);
	assert_string_equal(cap.err, "prog: out of memory\nprog: leads.csv:3: bad\n");

	/* Results that cannot be written do not end in success. */
	full = open("/dev/full", O_WRONLY);
	assert_true(full >= 0);
	capture_start(&cap);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0 && dup2(full, STDOUT_FILENO) >= 0);
	printf("scored 40 leads\n");
	r = fl_cli_close_stdout("prog", 0);
	clearerr(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	close(full);
	capture_end(&cap);
	assert_int_equal(r, FL_EXIT_FAILURE);
	assert_string_equal(cap.err,
	                    "prog: cannot write standard output: No space left on device\n");
}

/* Progress lines: none in the first second, then at most one a second; the
 * text names the phase, the run and, from the second run on, an estimate
 * from the runs already finished (run 4 of 9: 3 done in 12 s, 6 to go, so
 * 24 s). */
static void test_progress(void **state)
{
	struct fl_cli_progress pg;
	struct fl_train_progress p = {"l2 search", 100, 4, 9, 2, 1234.5};
	char line[256];

	(void)state;
	fl_cli_progress_start(&pg, 50.0);
	assert_int_equal(fl_cli_progress_due(&pg, 50.2), 0);
	assert_int_equal(fl_cli_progress_due(&pg, 50.99), 0);
	assert_int_equal(fl_cli_progress_due(&pg, 51.0), 1);
	assert_int_equal(fl_cli_progress_due(&pg, 51.5), 0);
	assert_int_equal(fl_cli_progress_due(&pg, 52.1), 1);
	assert_int_equal(fl_cli_progress_due(&pg, 52.2), 0);

	fl_cli_train_progress_text(&p, 12.0, line, sizeof(line));
	assert_string_equal(line, "train: l2 search, l2 100 (run 4 of 9), iteration 2, objective "
	                          "1234.5; 12 s elapsed, about 24 s left");
	p = (struct fl_train_progress){"fit", 1, 1, 1, 7, 0.25};
	fl_cli_train_progress_text(&p, 3.4, line, sizeof(line));
	assert_string_equal(
	        line, "train: fit, l2 1 (run 1 of 1), iteration 7, objective 0.25; 3 s elapsed");
}

/* Reading progress: rows without the header, the share of the file read
 * (rounded down: 100 % only at the end), the pass after the first, and no
 * share or estimate for a pipe. */
static void test_read_progress(void **state)
{
	struct fl_csv_progress p = {"leads.csv", 450, 1000, 65536, 1};
	char line[256];

	(void)state;
	fl_cli_read_progress_text("check", &p, 12.2, 14.6, line, sizeof(line));
	assert_string_equal(line, "check: reading leads.csv: 65535 rows, 45 %; 12 s elapsed, "
	                          "about 15 s left");
	p = (struct fl_csv_progress){"leads.csv", 999, 1000, 131072, 2};
	fl_cli_read_progress_text("score", &p, 3, -1, line, sizeof(line));
	assert_string_equal(line, "score: reading leads.csv (pass 2): 131071 rows, 99 %; 3 s "
	                          "elapsed");
	p = (struct fl_csv_progress){"<stdin>", 5000, 0, 65536, 1};
	fl_cli_read_progress_text("score", &p, 2, 7, line, sizeof(line));
	assert_string_equal(line, "score: reading <stdin>: 65535 rows; 2 s elapsed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_exit_codes),
	        cmocka_unit_test(test_double),
	        cmocka_unit_test(test_u64),
	        cmocka_unit_test(test_bad_rows),
	        cmocka_unit_test(test_bad_option),
	        cmocka_unit_test(test_configure_file_then_flags),
	        cmocka_unit_test(test_configure_errors),
	        cmocka_unit_test(test_node_config_required),
	        cmocka_unit_test(test_node_config_dialect),
	        cmocka_unit_test(test_coordinator_bad_value_reported_once),
	        cmocka_unit_test(test_coordinator_max_iterations_default),
	        cmocka_unit_test(test_commands_usage_and_find),
	        cmocka_unit_test(test_dispatch),
	        cmocka_unit_test(test_error_and_close_stdout),
	        cmocka_unit_test(test_progress),
	        cmocka_unit_test(test_read_progress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
