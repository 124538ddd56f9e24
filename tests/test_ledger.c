/*
 * The privacy ledger: releases survive reopening, the budget refuses
 * exactly past its edge and writes nothing when it refuses, the window
 * forgets old releases, a torn last line (a crash mid-write) is removed, a
 * process killed while charging loses no acknowledged release, edits and
 * deletions in the middle are refused with the file and line, and two
 * holders of one ledger are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/ledger.h"

struct fx {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/fl_ledger_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ledger", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct fl_release rel(int64_t t, uint64_t units, uint64_t round, const char *kind)
{
	struct fl_release r;

	memset(&r, 0, sizeof(r));
	r.time = t;
	r.rho_e12 = units;
	r.round = round;
	strcpy(r.federation, "bank-demo");
	strcpy(r.kind, kind);
	return r;
}

static struct fl_ledger *open_ok(const char *path, int *repaired)
{
	struct fl_ledger *l = NULL;
	int rep = 0;

	assert_int_equal(fl_ledger_open(path, 1, &l, &rep), 0);
	if (repaired != NULL)
		*repaired = rep;
	return l;
}

static off_t size_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void records_survive_reopen(void **state)
{
	struct fx *f = *state;
	struct fl_ledger *l = open_ok(f->path, NULL);
	struct fl_release a = rel(1000, 5, 1, "stats"), b = rel(1001, 7, 2, "evaluate");
	int rep;

	assert_int_equal(fl_ledger_count(l), 0);
	assert_int_equal(fl_ledger_charge(l, &a, 100, 0), 0);
	assert_int_equal(fl_ledger_charge(l, &b, 100, 0), 0);
	fl_ledger_close(l);
	l = open_ok(f->path, &rep);
	assert_int_equal(rep, 0);
	assert_int_equal(fl_ledger_count(l), 2);
	assert_int_equal(fl_ledger_spent(l, 0), 12);
	assert_string_equal(fl_ledger_entry(l, 1)->kind, "evaluate");
	assert_int_equal(fl_ledger_entry(l, 1)->round, 2);
	assert_int_equal(fl_ledger_entry(l, 0)->time, 1000);
	assert_null(fl_ledger_entry(l, 2));
	fl_ledger_close(l);
}

static void budget_edge(void **state)
{
	struct fx *f = *state;
	struct fl_ledger *l = open_ok(f->path, NULL);
	struct fl_release a = rel(10, 600000000000, 1, "stats"),
	                  b = rel(11, 400000000000, 2, "stats"), c = rel(12, 1, 3, "stats");
	off_t before;

	assert_int_equal(fl_ledger_charge(l, &a, 1000000000000, 0), 0);
	/* 0.6 + 0.4 lands exactly on the budget of 1.0: allowed */
	assert_int_equal(fl_ledger_charge(l, &b, 1000000000000, 0), 0);
	before = size_of(f->path);
	/* one unit (1e-12) more: refused, and nothing written */
	assert_int_equal(fl_ledger_charge(l, &c, 1000000000000, 0), FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(),
	                    "privacy budget exceeded: this release costs rho 1e-12, the "
	                    "window has spent 1 of 1");
	assert_int_equal(size_of(f->path), before);
	assert_int_equal(fl_ledger_count(l), 2);
	/* a release larger than the whole budget */
	c.rho_e12 = 2000000000000;
	assert_int_equal(fl_ledger_charge(l, &c, 1000000000000, 0), FL_ERR_LIMIT);
	fl_ledger_close(l);
	/* units round up, so a sum of doubles never sneaks under the edge */
	assert_int_equal(fl_ledger_units(0.1), 100000000000);
	assert_int_equal(fl_ledger_units(1e-13), 1);
	assert_int_equal(fl_ledger_units(0), 0);
}

static void window_forgets_old_releases(void **state)
{
	struct fx *f = *state;
	struct fl_ledger *l = open_ok(f->path, NULL);
	struct fl_release old = rel(100, 90, 1, "stats"), now = rel(5000, 20, 1, "stats");

	assert_int_equal(fl_ledger_charge(l, &old, 100, 0), 0);
	/* over the whole history 90 + 20 > 100: refused */
	assert_int_equal(fl_ledger_charge(l, &now, 100, 0), FL_ERR_LIMIT);
	/* in a window starting after the old release: allowed */
	assert_int_equal(fl_ledger_charge(l, &now, 100, 1000), 0);
	assert_int_equal(fl_ledger_spent(l, 1000), 20);
	assert_int_equal(fl_ledger_spent(l, 0), 110);
	fl_ledger_close(l);
}

static void torn_last_line_removed(void **state)
{
	struct fx *f = *state;
	struct fl_ledger *l = open_ok(f->path, NULL);
	struct fl_release a = rel(1, 5, 1, "stats"), b = rel(2, 6, 2, "stats");
	off_t whole;
	int fd, rep;

	assert_int_equal(fl_ledger_charge(l, &a, 100, 0), 0);
	fl_ledger_close(l);
	whole = size_of(f->path);
	/* a write cut short by a crash: half a line, no newline */
	fd = open(f->path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "2 6 bank-demo 2 st", 18), 18);
	close(fd);
	l = open_ok(f->path, &rep);
	assert_int_equal(rep, 1);
	assert_int_equal(fl_ledger_count(l), 1);
	assert_int_equal(size_of(f->path), whole);
	/* the chain continues from the last whole line */
	assert_int_equal(fl_ledger_charge(l, &b, 100, 0), 0);
	fl_ledger_close(l);
	l = open_ok(f->path, &rep);
	assert_int_equal(rep, 0);
	assert_int_equal(fl_ledger_count(l), 2);
	fl_ledger_close(l);
}

static void killed_while_charging(void **state)
{
	struct fx *f = *state;
	int pipefd[2];
	pid_t pid;
	char c;
	int acked = 0, status;
	struct fl_ledger *l;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct fl_ledger *cl = NULL;
		int rep;

		close(pipefd[0]);
		if (fl_ledger_open(f->path, 1, &cl, &rep) != 0)
			_exit(1);
		for (uint64_t i = 0;; i++) {
			struct fl_release r = rel((int64_t)i, 1, i, "evaluate");

			if (fl_ledger_charge(cl, &r, UINT64_MAX, 0) != 0)
				_exit(1);
			/* acknowledged: the release may now leave the site */
			if (write(pipefd[1], "x", 1) != 1)
				_exit(1);
		}
	}
	close(pipefd[1]);
	/* wait for 50 acknowledged releases, then kill in mid-stream */
	while (acked < 50 && read(pipefd[0], &c, 1) == 1)
		acked++;
	kill(pid, SIGKILL);
	while (read(pipefd[0], &c, 1) == 1)
		acked++;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	l = open_ok(f->path, NULL);
	/* every acknowledged release is there (one more may be, unacknowledged) */
	assert_true(fl_ledger_count(l) >= (size_t)acked);
	assert_true(fl_ledger_count(l) <= (size_t)acked + 1);
	fl_ledger_close(l);
}

/* Rewrites line `lineno` (1-based) of the file with `with`, or drops it. */
static void edit_line(const char *path, int lineno, const char *with)
{
	char buf[8192], out[8192];
	FILE *fp = fopen(path, "r");
	size_t n, o = 0;
	int line = 1;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	for (char *p = buf; *p != '\0'; line++) {
		char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p) + 1;

		if (line != lineno) {
			memcpy(out + o, p, len);
			o += len;
		} else if (with != NULL) {
			o += (size_t)sprintf(out + o, "%s\n", with);
		}
		p = nl + 1;
	}
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(out, 1, o, fp), o);
	fclose(fp);
}

static void tampering_refused(void **state)
{
	struct fx *f = *state;
	struct fl_ledger *l = open_ok(f->path, NULL);
	char msg[256];
	int rep;

	for (int i = 0; i < 4; i++) {
		struct fl_release r = rel(100 + i, 10, (uint64_t)i, "evaluate");

		assert_int_equal(fl_ledger_charge(l, &r, 1000, 0), 0);
	}
	fl_ledger_close(l);
	/* line 3 (the second release) made cheaper, chain left as it was */
	{
		char line[256];
		FILE *fp = fopen(f->path, "r");

		assert_non_null(fp);
		for (int i = 0; i < 3; i++)
			assert_non_null(fgets(line, sizeof(line), fp));
		fclose(fp);
		line[strcspn(line, "\n")] = '\0';
		assert_memory_equal(line, "101 10 ", 7);
		line[5] = '1'; /* "101 10" -> "101 11": still well-formed */
		edit_line(f->path, 3, line);
	}
	l = (void *)1;
	assert_int_equal(fl_ledger_open(f->path, 0, &l, &rep), FL_ERR_DATA);
	assert_null(l);
	snprintf(msg, sizeof(msg),
	         "%s:3: the chain does not match: the line was changed or a line before it removed",
	         f->path);
	assert_string_equal(fl_errmsg(), msg);
	/* a release deleted from the middle */
	unlink(f->path);
	l = open_ok(f->path, NULL);
	for (int i = 0; i < 4; i++) {
		struct fl_release r = rel(100 + i, 10, (uint64_t)i, "evaluate");

		assert_int_equal(fl_ledger_charge(l, &r, 1000, 0), 0);
	}
	fl_ledger_close(l);
	edit_line(f->path, 2, NULL);
	assert_int_equal(fl_ledger_open(f->path, 0, &l, &rep), FL_ERR_DATA);
	snprintf(msg, sizeof(msg),
	         "%s:2: the chain does not match: the line was changed or a line before it removed",
	         f->path);
	assert_string_equal(fl_errmsg(), msg);
	/* not a ledger at all */
	edit_line(f->path, 1, "hello");
	assert_int_equal(fl_ledger_open(f->path, 0, &l, &rep), FL_ERR_DATA);
	snprintf(msg, sizeof(msg), "%s:1: not a fedlead privacy ledger", f->path);
	assert_string_equal(fl_errmsg(), msg);
}

static void one_holder_at_a_time(void **state)
{
	struct fx *f = *state;
	struct fl_ledger *a = open_ok(f->path, NULL), *b = (void *)1;
	char msg[256];
	int rep;

	assert_int_equal(fl_ledger_open(f->path, 1, &b, &rep), FL_ERR_IO);
	assert_null(b);
	snprintf(msg, sizeof(msg), "privacy ledger %s is in use by another process", f->path);
	assert_string_equal(fl_errmsg(), msg);
	fl_ledger_close(a);
	b = open_ok(f->path, NULL);
	fl_ledger_close(b);
	/* a missing ledger is not created unless asked */
	unlink(f->path);
	assert_int_equal(fl_ledger_open(f->path, 0, &b, &rep), FL_ERR_IO);
	snprintf(msg, sizeof(msg), "privacy ledger %s: No such file or directory", f->path);
	assert_string_equal(fl_errmsg(), msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(records_survive_reopen, setup, teardown),
	        cmocka_unit_test_setup_teardown(budget_edge, setup, teardown),
	        cmocka_unit_test_setup_teardown(window_forgets_old_releases, setup, teardown),
	        cmocka_unit_test_setup_teardown(torn_last_line_removed, setup, teardown),
	        cmocka_unit_test_setup_teardown(killed_while_charging, setup, teardown),
	        cmocka_unit_test_setup_teardown(tampering_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(one_holder_at_a_time, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
