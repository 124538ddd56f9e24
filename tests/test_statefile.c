/*
 * State files: the on-disk layout against bytes built by hand here, refusal
 * of every damaged file, the directory lock between processes, and writes
 * that fail half-way (file-size limit in a child) leaving the old file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/statefile.h"

/* ---- helpers ------------------------------------------------------------ */

static char *make_dir(void)
{
	char *d = strdup("/tmp/fl_statefile_XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

/* Removes a flat directory (the tests create no subdirectories). */
static void remove_dir(char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char p[512];

	if (dp != NULL) {
		while ((de = readdir(dp)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
		closedir(dp);
	}
	rmdir(dir);
	free(dir);
}

/* The directory's entries other than . and .., sorted, joined by ','. */
static void list_dir(const char *dir, char *out, size_t cap)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);

	assert_true(n >= 0);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
			if (out[0] != '\0')
				strncat(out, ",", cap - strlen(out) - 1);
			strncat(out, names[i]->d_name, cap - strlen(out) - 1);
		}
		free(names[i]);
	}
	free(names);
}

static void put_file(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Reads a whole file; returns its size. */
static size_t get_file(const char *dir, const char *name, uint8_t *b, size_t cap)
{
	char p[512];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "rb");
	assert_non_null(f);
	n = fread(b, 1, cap, f);
	fclose(f);
	return n;
}

/* The layout of the header file, built by hand: magic, version and length
 * big-endian, the data, SHA-256 of all before it. Returns the size. */
static size_t build_file(uint32_t version, const uint8_t *data, size_t len, uint8_t *out)
{
	memcpy(out, "FLSTATE\n", 8);
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(version >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		out[12 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	memcpy(out + 20, data, len);
	SHA256(out, 20 + len, out + 20 + len);
	return 20 + len + 32;
}

/* Asserts the last message is "DIR/NAME: what". */
static void expect_msg(const char *dir, const char *name, const char *what)
{
	char want[512];

	snprintf(want, sizeof(want), "%s/%s: %s", dir, name, what);
	assert_string_equal(fl_errmsg(), want);
}

/* ---- files -------------------------------------------------------------- */

static void test_round_trip_and_layout(void **state)
{
	char *dir = make_dir();
	const uint8_t five[5] = {'h', 'e', 'l', 'l', 'o'};
	uint8_t want[64], disk[128], *data = (uint8_t *)&data;
	size_t len = 99, wn;

	(void)state;
	/* Missing: 0, nothing allocated. */
	assert_int_equal(fl_state_read(dir, "round", 100, &data, &len), 0);
	assert_null(data);
	assert_int_equal(len, 0);

	assert_int_equal(fl_state_write(dir, "round", five, sizeof(five)), 0);
	assert_int_equal(fl_state_read(dir, "round", 100, &data, &len), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(data, five, 5);
	free(data);
	wn = build_file(1, five, sizeof(five), want);
	assert_int_equal(wn, 57);
	assert_int_equal(get_file(dir, "round", disk, sizeof(disk)), wn);
	assert_memory_equal(disk, want, wn);

	/* Empty data is a valid state, and still gets a real pointer. */
	assert_int_equal(fl_state_write(dir, "empty", NULL, 0), 0);
	assert_int_equal(fl_state_read(dir, "empty", 0, &data, &len), 1);
	assert_non_null(data);
	assert_int_equal(len, 0);
	free(data);

	/* A file made by hand in the documented layout reads back. */
	wn = build_file(1, (const uint8_t *)"by hand", 7, want);
	put_file(dir, "hand", want, wn);
	assert_int_equal(fl_state_read(dir, "hand", 7, &data, &len), 1);
	assert_int_equal(len, 7);
	assert_memory_equal(data, "by hand", 7);
	free(data);
	remove_dir(dir);
}

static void test_overwrite_keeps_newest(void **state)
{
	char *dir = make_dir(), names[256];
	uint8_t big[4000], *data;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(fl_state_write(dir, "model", big, sizeof(big)), 0);
	assert_int_equal(fl_state_write(dir, "model", (const uint8_t *)"v2", 2), 0);
	assert_int_equal(fl_state_read(dir, "model", 1 << 20, &data, &len), 1);
	assert_int_equal(len, 2);
	assert_memory_equal(data, "v2", 2);
	free(data);
	/* No temporary file is left behind by a successful write. */
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "model");
	remove_dir(dir);
}

/*
 * Every single-byte change of a 57-byte file is refused, with the message
 * its position calls for: magic -> not a state file; version, data or
 * digest -> checksum; length -> the file no longer matches its size.
 */
static void test_byte_flips_refused(void **state)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
	char *dir = make_dir();
	const uint8_t five[5] = {1, 2, 3, 4, 5};
	uint8_t good[64], bad[64], *data;
	size_t n, len;
	int refused = 0;

	(void)state;
	n = build_file(1, five, sizeof(five), good);
	for (size_t pos = 0; pos < n; pos++) {
		for (size_t k = 0; k < sizeof(masks); k++) {
			memcpy(bad, good, n);
			bad[pos] ^= masks[k];
			put_file(dir, "s", bad, n);
			data = (uint8_t *)&data;
			assert_int_equal(fl_state_read(dir, "s", 1000, &data, &len), FL_ERR_DATA);
			assert_null(data);
			assert_int_equal(len, 0);
			if (pos < 8) {
				expect_msg(dir, "s", "not a fedlead state file");
			} else if (pos >= 12 && pos < 20) {
				/* The length field (5) changed: larger claims
				 * more than the file holds, smaller (only
				 * 5 ^ 0x01 = 4) leaves bytes over. */
				uint64_t declared = 0;

				for (int i = 12; i < 20; i++)
					declared = declared << 8 | bad[i];
				assert_true(declared != 5);
				if (declared > 5)
					expect_msg(dir, "s", "checkpoint is truncated");
				else
					expect_msg(dir, "s",
					           "checkpoint is corrupt (size mismatch)");
			} else {
				expect_msg(dir, "s", "checkpoint is corrupt (checksum mismatch)");
			}
			refused++;
		}
	}
	assert_int_equal(refused, 57 * 4);
	remove_dir(dir);
}

static void test_truncation_and_extension_refused(void **state)
{
	char *dir = make_dir();
	uint8_t good[128], *data;
	size_t n, len;

	(void)state;
	n = build_file(1, (const uint8_t *)"checkpoint data", 15, good);
	/* Every proper prefix, the empty file included. */
	for (size_t cut = 0; cut < n; cut++) {
		put_file(dir, "t", good, cut);
		assert_int_equal(fl_state_read(dir, "t", 1000, &data, &len), FL_ERR_DATA);
		assert_null(data);
		expect_msg(dir, "t", "checkpoint is truncated");
	}
	good[n] = 0;
	put_file(dir, "t", good, n + 1);
	assert_int_equal(fl_state_read(dir, "t", 1000, &data, &len), FL_ERR_DATA);
	expect_msg(dir, "t", "checkpoint is corrupt (size mismatch)");
	remove_dir(dir);
}

static void test_foreign_version_and_limit(void **state)
{
	char *dir = make_dir(), want[512];
	uint8_t buf[128], *data;
	size_t n, len;

	(void)state;
	put_file(dir, "csv", (const uint8_t *)"id,score\n1,0.5\n", 15);
	assert_int_equal(fl_state_read(dir, "csv", 1000, &data, &len), FL_ERR_DATA);
	expect_msg(dir, "csv", "not a fedlead state file");

	/* A well-formed file of a later version, checksum and all. */
	n = build_file(2, (const uint8_t *)"future", 6, buf);
	put_file(dir, "v2", buf, n);
	assert_int_equal(fl_state_read(dir, "v2", 1000, &data, &len), FL_ERR_DATA);
	expect_msg(dir, "v2", "checkpoint version 2 is not supported (expected 1)");

	assert_int_equal(fl_state_write(dir, "big", (const uint8_t *)"0123456789", 10), 0);
	assert_int_equal(fl_state_read(dir, "big", 9, &data, &len), FL_ERR_LIMIT);
	assert_null(data);
	snprintf(want, sizeof(want), "%s/big: checkpoint of 10 bytes exceeds the limit of 9 bytes",
	         dir);
	assert_string_equal(fl_errmsg(), want);
	assert_int_equal(fl_state_read(dir, "big", 10, &data, &len), 1);
	assert_int_equal(len, 10);
	free(data);
	remove_dir(dir);
}

static void test_bad_names(void **state)
{
	static const char *bad[] = {"", ".hidden", "..", "a/b", "lock", "/etc"};
	char *dir = make_dir(), want[128];
	uint8_t *data;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "state file name \"%s\" is not a plain file name",
		         bad[i]);
		assert_int_equal(fl_state_write(dir, bad[i], (const uint8_t *)"x", 1),
		                 FL_ERR_INVALID);
		assert_string_equal(fl_errmsg(), want);
		assert_int_equal(fl_state_read(dir, bad[i], 10, &data, &len), FL_ERR_INVALID);
		assert_string_equal(fl_errmsg(), want);
	}
	remove_dir(dir);
}

static void test_write_to_missing_dir(void **state)
{
	char *dir = make_dir(), sub[300];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/absent", dir);
	assert_int_equal(fl_state_write(sub, "x", (const uint8_t *)"x", 1), FL_ERR_IO);
	expect_msg(sub, "x", "cannot write checkpoint: No such file or directory");
	remove_dir(dir);
}

/*
 * A write that fails part-way: the child runs under a file-size limit (with
 * SIGXFSZ ignored, write() fails with EFBIG), cutting the temporary file
 * before the header, inside the header, inside the data, and before the
 * digest. Each time the old checkpoint survives and no temporary remains.
 */
static void test_failed_write_keeps_old(void **state)
{
	static const rlim_t limits[] = {0, 10, 20, 1000, 20 + 8192};
	char *dir = make_dir(), names[256], want[512], got[512];
	uint8_t *big = malloc(8192), *data;
	size_t len;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < 8192; i++)
		big[i] = (uint8_t)(i ^ (i >> 8));
	assert_int_equal(fl_state_write(dir, "round", (const uint8_t *)"old state", 9), 0);
	snprintf(want, sizeof(want), "%s/round: cannot write checkpoint: %s", dir, strerror(EFBIG));
	for (size_t li = 0; li < sizeof(limits) / sizeof(limits[0]); li++) {
		int fds[2], status, r = 0;
		pid_t pid;
		ssize_t n;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct rlimit rl = {limits[li], limits[li]};

			close(fds[0]);
			signal(SIGXFSZ, SIG_IGN);
			if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
				_exit(3);
			r = fl_state_write(dir, "round", big, 8192);
			if (write(fds[1], &r, sizeof(r)) != sizeof(r) ||
			    write(fds[1], fl_errmsg(), strlen(fl_errmsg()) + 1) < 0)
				_exit(4);
			_exit(0);
		}
		close(fds[1]);
		assert_int_equal(read(fds[0], &r, sizeof(r)), sizeof(r));
		n = read(fds[0], got, sizeof(got) - 1);
		close(fds[0]);
		assert_true(n > 0);
		got[n] = '\0';
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_int_equal(r, FL_ERR_IO);
		assert_string_equal(got, want);

		assert_int_equal(fl_state_read(dir, "round", 100, &data, &len), 1);
		assert_int_equal(len, 9);
		assert_memory_equal(data, "old state", 9);
		free(data);
		list_dir(dir, names, sizeof(names));
		assert_string_equal(names, "round");
	}
	free(big);
	remove_dir(dir);
}

/* ---- the directory lock ------------------------------------------------- */

static void test_open_creates_dir(void **state)
{
	char *dir = make_dir(), sub[300], want[512], pidline[32];
	uint8_t buf[64];
	struct stat st;
	int fd = 123;
	size_t n;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/state", dir);
	assert_int_equal(fl_statedir_open(sub, 0, &fd), FL_ERR_IO);
	assert_int_equal(fd, -1);
	snprintf(want, sizeof(want), "%s: cannot create lock file: No such file or directory", sub);
	assert_string_equal(fl_errmsg(), want);

	assert_int_equal(fl_statedir_open(sub, 1, &fd), 0);
	assert_true(fd >= 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* The lock file names its holder. */
	n = get_file(sub, "lock", buf, sizeof(buf) - 1);
	buf[n] = '\0';
	snprintf(pidline, sizeof(pidline), "%ld\n", (long)getpid());
	assert_string_equal((char *)buf, pidline);
	fl_statedir_close(fd);
	fl_statedir_close(-1);

	/* An existing directory is fine with create set. */
	assert_int_equal(fl_statedir_open(sub, 1, &fd), 0);
	fl_statedir_close(fd);
	snprintf(want, sizeof(want), "%s/lock", sub);
	unlink(want);
	rmdir(sub);
	remove_dir(dir);
}

static void test_open_removes_leftover_temps(void **state)
{
	char *dir = make_dir(), names[256];
	int fd;

	(void)state;
	put_file(dir, ".fl-tmp.round.Ab12Cd", (const uint8_t *)"half", 4);
	put_file(dir, "round", (const uint8_t *)"keep", 4);
	assert_int_equal(fl_statedir_open(dir, 0, &fd), 0);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "lock,round");
	fl_statedir_close(fd);
	remove_dir(dir);
}

/* A child holds the lock until the parent closes the pipe. */
static void test_lock_held_by_other_process(void **state)
{
	char *dir = make_dir(), want[512];
	int ready[2], go[2], fd = 7, status;
	char c = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int cfd, ok;

		close(ready[0]);
		close(go[1]);
		ok = fl_statedir_open(dir, 0, &cfd) == 0;
		c = ok ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1)
			_exit(4);
		/* Wait for the parent: read returns 0 when it closes go. */
		while (read(go[0], &c, 1) > 0)
			;
		_exit(ok ? 0 : 3);
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'y');

	assert_int_equal(fl_statedir_open(dir, 0, &fd), FL_ERR_IO);
	assert_int_equal(fd, -1);
	snprintf(want, sizeof(want),
	         "state directory %s is in use by another coordinator (pid %ld)", dir, (long)pid);
	assert_string_equal(fl_errmsg(), want);
	/* create = 1 on the existing directory meets the same lock. */
	assert_int_equal(fl_statedir_open(dir, 1, &fd), FL_ERR_IO);
	assert_string_equal(fl_errmsg(), want);

	close(go[1]);
	close(ready[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Released properly: ours now, and a second open in this process
	 * (another open file) is refused with our own pid. */
	assert_int_equal(fl_statedir_open(dir, 0, &fd), 0);
	{
		int fd2 = 9;

		assert_int_equal(fl_statedir_open(dir, 0, &fd2), FL_ERR_IO);
		assert_int_equal(fd2, -1);
		snprintf(want, sizeof(want),
		         "state directory %s is in use by another coordinator (pid %ld)", dir,
		         (long)getpid());
		assert_string_equal(fl_errmsg(), want);
	}
	fl_statedir_close(fd);
	remove_dir(dir);
}

/* A holder that dies without closing (as in a crash) leaves a stale pid but
 * no lock: the next coordinator takes over and writes its own pid. */
static void test_lock_released_when_holder_dies(void **state)
{
	char *dir = make_dir(), pidline[32];
	uint8_t buf[64];
	int fd, status;
	size_t n;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int cfd;

		_exit(fl_statedir_open(dir, 0, &cfd) == 0 ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	n = get_file(dir, "lock", buf, sizeof(buf) - 1);
	buf[n] = '\0';
	snprintf(pidline, sizeof(pidline), "%ld\n", (long)pid);
	assert_string_equal((char *)buf, pidline);
	/* A longer stale line must not leave a tail behind the new pid. */
	put_file(dir, "lock", (const uint8_t *)"4194304000000000\n", 17);

	assert_int_equal(fl_statedir_open(dir, 0, &fd), 0);
	n = get_file(dir, "lock", buf, sizeof(buf) - 1);
	buf[n] = '\0';
	snprintf(pidline, sizeof(pidline), "%ld\n", (long)getpid());
	assert_string_equal((char *)buf, pidline);
	fl_statedir_close(fd);
	remove_dir(dir);
}

/*
 * A directory we may not write: the lock and the write both fail and the old
 * file stays. Root bypasses permission checks, so as root the child first
 * becomes "nobody" (uid/gid 65534) and the directory is opened to others
 * read-only.
 */
static void test_unwritable_dir(void **state)
{
	char *dir = make_dir(), want[512], got[1024], names[256];
	int fds[2], status, r[2] = {0, 0};
	uint8_t *data;
	size_t len;
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_int_equal(fl_state_write(dir, "s", (const uint8_t *)"old", 3), 0);
	assert_int_equal(chmod(dir, 0555), 0);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;

		close(fds[0]);
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(3);
		r[0] = fl_statedir_open(dir, 0, &fd);
		snprintf(got, sizeof(got), "%s|", fl_errmsg());
		r[1] = fl_state_write(dir, "s", (const uint8_t *)"new", 3);
		strncat(got, fl_errmsg(), sizeof(got) - strlen(got) - 1);
		if (write(fds[1], r, sizeof(r)) != sizeof(r) ||
		    write(fds[1], got, strlen(got) + 1) < 0)
			_exit(4);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], r, sizeof(r)), sizeof(r));
	n = read(fds[0], got, sizeof(got) - 1);
	close(fds[0]);
	assert_true(n > 0);
	got[n] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(chmod(dir, 0700), 0);

	assert_int_equal(r[0], FL_ERR_IO);
	assert_int_equal(r[1], FL_ERR_IO);
	snprintf(want, sizeof(want),
	         "%s: cannot create lock file: Permission denied|"
	         "%s/s: cannot write checkpoint: Permission denied",
	         dir, dir);
	assert_string_equal(got, want);
	assert_int_equal(fl_state_read(dir, "s", 10, &data, &len), 1);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "old", 3);
	free(data);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "s");
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip_and_layout),
	        cmocka_unit_test(test_overwrite_keeps_newest),
	        cmocka_unit_test(test_byte_flips_refused),
	        cmocka_unit_test(test_truncation_and_extension_refused),
	        cmocka_unit_test(test_foreign_version_and_limit),
	        cmocka_unit_test(test_bad_names),
	        cmocka_unit_test(test_write_to_missing_dir),
	        cmocka_unit_test(test_failed_write_keeps_old),
	        cmocka_unit_test(test_open_creates_dir),
	        cmocka_unit_test(test_open_removes_leftover_temps),
	        cmocka_unit_test(test_lock_held_by_other_process),
	        cmocka_unit_test(test_lock_released_when_holder_dies),
	        cmocka_unit_test(test_unwritable_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
