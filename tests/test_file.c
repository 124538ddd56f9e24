/*
 * Atomic file replacement (src/util/file.c): the content and mode of what
 * lands, the temporary names, and failures at each step we can provoke as
 * root - a parent that is a file (create), a file-size limit in a child
 * (write, and a stream's write found at commit), a directory in the way
 * (rename) - each with its exact message, the old file untouched and no
 * temporary file left behind.
 *
 * Sealed blobs (src/util/sealed.c): the bytes on disk against a layout
 * built here by hand with OpenSSL's SHA-256, and every refusal with its
 * text, in the documented order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/sealed.h"

/* ---- helpers ------------------------------------------------------------ */

static char *make_dir(void)
{
	char *d = strdup("/tmp/fl_file_XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

/* Removes dir and what the tests put in it (files, and empty directories). */
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
			if (unlink(p) != 0)
				rmdir(p);
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

/* The whole content of path into buf (cap bytes); returns its length. */
static size_t read_back(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "rb");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, cap, fp);
	assert_int_equal(fclose(fp), 0);
	return n;
}

static void put_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void expect_content(const char *path, const char *want)
{
	char buf[256];
	size_t n = read_back(path, buf, sizeof(buf));

	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
}

static unsigned mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (unsigned)(st.st_mode & 07777);
}

/* ---- success ------------------------------------------------------------ */

static void test_write_replaces_with_content_and_mode(void **state)
{
	static const struct fl_file_opts o = {.what = "save the model", .mode = 0644};
	char *dir = make_dir(), path[256], names[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/m.flm", dir);
	assert_int_equal(fl_file_write_atomic(path, &o, "first", 5), 0);
	expect_content(path, "first");
	assert_int_equal(mode_of(path), 0644);
	/* A second write replaces the file whole, shorter content included. */
	assert_int_equal(fl_file_write_atomic(path, &o, "2nd", 3), 0);
	expect_content(path, "2nd");
	/* An empty file is a file. */
	assert_int_equal(fl_file_write_atomic(path, &o, NULL, 0), 0);
	expect_content(path, "");
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "m.flm");
	remove_dir(dir);
}

/* fl_file_read_all(): a file of exactly max bytes is read whole and
 * NUL-terminated; one byte more, a directory or a missing file is refused
 * with its message, and nothing is returned. */
static void test_read_all(void **state)
{
	char *dir = make_dir(), path[256], missing[256], *buf = (char *)1;
	size_t len = 99;

	(void)state;
	snprintf(path, sizeof(path), "%s/f.json", dir);
	snprintf(missing, sizeof(missing), "%s/none.json", dir);
	put_text(path, "{\"a\": 1}");
	assert_int_equal(fl_file_read_all(path, 8, FL_ERR_SCHEMA, &buf, &len), 0);
	assert_int_equal(len, 8);
	assert_string_equal(buf, "{\"a\": 1}");
	free(buf);
	assert_int_equal(fl_file_read_all(path, 7, FL_ERR_CONFIG, &buf, &len), FL_ERR_CONFIG);
	assert_null(buf);
	assert_int_equal(len, 0);
	{
		char want[300];

		snprintf(want, sizeof(want), "%s: not a regular file of at most 7 bytes", path);
		assert_string_equal(fl_errmsg(), want);
		assert_int_equal(fl_file_read_all(dir, 100, FL_ERR_SCHEMA, &buf, &len),
		                 FL_ERR_SCHEMA);
		snprintf(want, sizeof(want), "%s: not a regular file of at most 100 bytes", dir);
		assert_string_equal(fl_errmsg(), want);
		assert_int_equal(fl_file_read_all(missing, 100, FL_ERR_SCHEMA, &buf, &len),
		                 FL_ERR_IO);
		snprintf(want, sizeof(want), "%s: No such file or directory", missing);
		assert_string_equal(fl_errmsg(), want);
	}
	remove_dir(dir);
}

static void test_default_and_umask_modes(void **state)
{
	static const struct fl_file_opts shared = {.mode = 0666, .flags = FL_FILE_UMASK};
	char *dir = make_dir(), path[256];
	mode_t old;

	(void)state;
	snprintf(path, sizeof(path), "%s/private", dir);
	/* No options: 0600, whatever the umask. */
	old = umask(0);
	assert_int_equal(fl_file_write_atomic(path, NULL, "x", 1), 0);
	assert_int_equal(mode_of(path), 0600);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	umask(027);
	assert_int_equal(fl_file_write_atomic(path, &shared, "x", 1), 0);
	assert_int_equal(mode_of(path), 0640);
	umask(022);
	assert_int_equal(fl_file_write_atomic(path, &shared, "y", 1), 0);
	assert_int_equal(mode_of(path), 0644);
	umask(old);
	remove_dir(dir);
}

/* A bare file name is written in the current directory. */
static void test_bare_name(void **state)
{
	char *dir = make_dir(), cwd[512], names[256];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(fl_file_write_atomic("out.csv", NULL, "a,b\n", 4), 0);
	expect_content("out.csv", "a,b\n");
	assert_int_equal(chdir(cwd), 0);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "out.csv");
	remove_dir(dir);
}

/* Streaming: appends, writes at offsets and a stdio stream, in order. */
static void test_streaming_commit(void **state)
{
	char *dir = make_dir(), path[256], names[256];
	struct fl_file *f = NULL;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof(path), "%s/cache.flc", dir);
	put_text(path, "old");
	assert_int_equal(fl_file_begin(path, NULL, &f), 0);
	assert_non_null(f);
	assert_int_equal(fl_file_write(f, "....body", 8), 0);
	/* The column cache writes its header last, at offset 0. */
	assert_int_equal(pwrite(fl_file_fd(f), "HEAD", 4, 0), 4);
	assert_non_null(fp = fl_file_stream(f));
	assert_int_equal(fprintf(fp, ";%d", 42), 3);
	assert_int_equal(fl_file_write(f, "!", 1), 0);
	/* Until the commit the old file is what readers see. */
	expect_content(path, "old");
	assert_int_equal(fl_file_commit(f), 0);
	expect_content(path, "HEADbody;42!");
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "cache.flc");
	remove_dir(dir);
}

/* The temporary names: "PATH.tmp.XXXXXX" or "DIR/PREFIX" "BASE.XXXXXX". */
static void test_temporary_names_and_abort(void **state)
{
	static const struct fl_file_opts prefixed = {.tmp_prefix = ".fl-tmp."};
	char *dir = make_dir(), path[256], names[256];
	struct fl_file *f = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/round", dir);
	put_text(path, "old");
	assert_int_equal(fl_file_begin(path, NULL, &f), 0);
	list_dir(dir, names, sizeof(names));
	assert_int_equal(strlen(names), strlen("round,round.tmp.XXXXXX"));
	assert_memory_equal(names, "round,round.tmp.", strlen("round,round.tmp."));
	fl_file_abort(f);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "round");

	assert_int_equal(fl_file_begin(path, &prefixed, &f), 0);
	assert_int_equal(fl_file_write(f, "new", 3), 0);
	list_dir(dir, names, sizeof(names));
	assert_int_equal(strlen(names), strlen(".fl-tmp.round.XXXXXX,round"));
	assert_memory_equal(names, ".fl-tmp.round.", strlen(".fl-tmp.round."));
	fl_file_abort(f);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "round");
	expect_content(path, "old");
	fl_file_abort(NULL);
	remove_dir(dir);
}

/* ---- failures ----------------------------------------------------------- */

/* A parent that is a regular file: even root cannot create in it. */
static void test_create_fails_with_exact_messages(void **state)
{
	static const struct fl_file_opts model = {.what = "save the model", .mode = 0644};
	static const struct fl_file_opts terse = {
	        .what = "write checkpoint", .flags = FL_FILE_TERSE, .tmp_prefix = ".fl-tmp."};
	static const struct fl_file_opts cache = {
	        .what = "write the cache",
	        .create_what = "create a temporary file in its directory"};
	char *dir = make_dir(), blocker[200], path[256], want[512], names[256];
	struct fl_file *f = (struct fl_file *)&f;

	(void)state;
	snprintf(blocker, sizeof(blocker), "%s/file", dir);
	put_text(blocker, "not a directory");
	snprintf(path, sizeof(path), "%s/x", blocker);

	assert_int_equal(fl_file_write_atomic(path, &model, "m", 1), FL_ERR_IO);
	snprintf(want, sizeof(want), "%s: cannot save the model (create temporary file): %s", path,
	         strerror(ENOTDIR));
	assert_string_equal(fl_errmsg(), want);

	assert_int_equal(fl_file_write_atomic(path, NULL, "m", 1), FL_ERR_IO);
	snprintf(want, sizeof(want), "%s: cannot write (create temporary file): Not a directory",
	         path);
	assert_string_equal(fl_errmsg(), want);

	assert_int_equal(fl_file_write_atomic(path, &terse, "m", 1), FL_ERR_IO);
	snprintf(want, sizeof(want), "%s: cannot write checkpoint: Not a directory", path);
	assert_string_equal(fl_errmsg(), want);

	assert_int_equal(fl_file_begin(path, &cache, &f), FL_ERR_IO);
	assert_null(f);
	snprintf(want, sizeof(want),
	         "%s: cannot create a temporary file in its directory: Not a directory", path);
	assert_string_equal(fl_errmsg(), want);

	/* A directory that does not exist. */
	snprintf(path, sizeof(path), "%s/no/such/dir/m.flm", dir);
	assert_int_equal(fl_file_write_atomic(path, &model, "m", 1), FL_ERR_IO);
	snprintf(want, sizeof(want),
	         "%s: cannot save the model (create temporary file): No such file or directory",
	         path);
	assert_string_equal(fl_errmsg(), want);

	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "file");
	expect_content(blocker, "not a directory");
	remove_dir(dir);
}

/* A non-empty directory where the file should go: rename fails, the
 * temporary file goes, the directory stays. */
static void test_rename_fails_and_leaves_nothing(void **state)
{
	static const struct fl_file_opts model = {.what = "save the model", .mode = 0644};
	char *dir = make_dir(), path[256], inner[300], want[512], names[256];
	struct fl_file *f = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/m.flm", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(inner, sizeof(inner), "%s/keep", path);
	put_text(inner, "k");

	assert_int_equal(fl_file_write_atomic(path, &model, "model", 5), FL_ERR_IO);
	snprintf(want, sizeof(want), "%s: cannot save the model (rename): Is a directory", path);
	assert_string_equal(fl_errmsg(), want);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "m.flm");

	/* The same through the streaming calls. */
	assert_int_equal(fl_file_begin(path, &model, &f), 0);
	assert_non_null(fl_file_stream(f));
	fputs("model", fl_file_stream(f));
	assert_int_equal(fl_file_commit(f), FL_ERR_IO);
	assert_string_equal(fl_errmsg(), want);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "m.flm");
	expect_content(inner, "k");
	unlink(inner);
	remove_dir(dir);
}

/*
 * Runs a write of 8 KiB to path in a child whose file-size limit is limit
 * bytes (SIGXFSZ ignored, so write() fails with EFBIG), through
 * fl_file_write_atomic() or, with stream set, through a stdio stream.
 * Returns the child's result; msg gets its error message.
 */
static int write_limited(const char *path, const struct fl_file_opts *o, rlim_t limit, int stream,
                         char *msg, size_t cap)
{
	int fds[2], status, r = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {limit, limit};
		static char big[8192];
		struct fl_file *f = NULL;

		close(fds[0]);
		memset(big, 'z', sizeof(big));
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(3);
		if (!stream) {
			r = fl_file_write_atomic(path, o, big, sizeof(big));
		} else if ((r = fl_file_begin(path, o, &f)) == 0) {
			FILE *fp = fl_file_stream(f);

			if (fp == NULL)
				_exit(5);
			fwrite(big, 1, sizeof(big), fp);
			r = fl_file_commit(f);
		}
		if (write(fds[1], &r, sizeof(r)) != sizeof(r) ||
		    write(fds[1], fl_errmsg(), strlen(fl_errmsg()) + 1) < 0)
			_exit(4);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &r, sizeof(r)), sizeof(r));
	n = read(fds[0], msg, cap - 1);
	close(fds[0]);
	assert_true(n > 0);
	msg[n] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return r;
}

static void test_write_fails_keeps_old(void **state)
{
	static const struct fl_file_opts scores = {.what = "write output",
	                                           .create_what = "create output",
	                                           .mode = 0666,
	                                           .flags = FL_FILE_UMASK};
	static const rlim_t limits[] = {0, 10, 4096};
	char *dir = make_dir(), path[256], want[512], got[512], names[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/scores.csv", dir);
	put_text(path, "old scores");
	snprintf(want, sizeof(want), "%s: cannot write output (write): %s", path, strerror(EFBIG));
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		for (int stream = 0; stream <= 1; stream++) {
			assert_int_equal(
			        write_limited(path, &scores, limits[i], stream, got, sizeof(got)),
			        FL_ERR_IO);
			assert_string_equal(got, want);
			list_dir(dir, names, sizeof(names));
			assert_string_equal(names, "scores.csv");
			expect_content(path, "old scores");
		}
	}
	/* Under a limit the file fits, it is written. */
	assert_int_equal(write_limited(path, &scores, 16384, 1, got, sizeof(got)), 0);
	{
		char buf[8192 + 1];

		assert_int_equal(read_back(path, buf, sizeof(buf)), 8192);
		assert_int_equal(buf[0], 'z');
		assert_int_equal(buf[8191], 'z');
	}
	remove_dir(dir);
}

/* fl_file_pwrite(): parts written at their offsets in any order, beside
 * the stream's bytes; a failure named as fl_file_write() names it. */
static void test_pwrite_parts(void **state)
{
	char *dir = make_dir(), path[256], names[256], want[512];
	struct fl_file *f = NULL;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof(path), "%s/scores.csv", dir);
	put_text(path, "old");
	assert_int_equal(fl_file_begin(path, NULL, &f), 0);
	assert_non_null(fp = fl_file_stream(f));
	assert_int_equal(fprintf(fp, "head\n"), 5);
	assert_int_equal(fflush(fp), 0);
	assert_int_equal(fl_file_pwrite(f, "second\n", 7, 5 + 6), 0);
	assert_int_equal(fl_file_pwrite(f, "first\n", 6, 5), 0);
	expect_content(path, "old");
	assert_int_equal(fl_file_commit(f), 0);
	expect_content(path, "head\nfirst\nsecond\n");

	assert_int_equal(fl_file_begin(path, NULL, &f), 0);
	/* A bad descriptor makes pwrite() fail without root's immunity. */
	close(fl_file_fd(f));
	assert_int_equal(fl_file_pwrite(f, "abc", 3, 0), FL_ERR_IO);
	snprintf(want, sizeof(want), "%s: cannot write (write): %s", path, strerror(EBADF));
	assert_string_equal(fl_errmsg(), want);
	fl_file_abort(f);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "scores.csv");
	expect_content(path, "head\nfirst\nsecond\n");
	remove_dir(dir);
}

/* A failed fl_file_write() is sticky: commit reports it and cleans up. */
static void test_failed_write_then_commit(void **state)
{
	char *dir = make_dir(), path[256], names[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/x", dir);
	{
		struct fl_file *f = NULL;

		assert_int_equal(fl_file_begin(path, NULL, &f), 0);
		/* A bad descriptor makes write() fail without root's immunity. */
		close(fl_file_fd(f));
		assert_int_equal(fl_file_write(f, "abc", 3), FL_ERR_IO);
		{
			char want[512];

			snprintf(want, sizeof(want), "%s: cannot write (write): %s", path,
			         strerror(EBADF));
			assert_string_equal(fl_errmsg(), want);
		}
		assert_int_equal(fl_file_write(f, "abc", 3), FL_ERR_IO);
		assert_int_equal(fl_file_commit(f), FL_ERR_IO);
	}
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "");
	remove_dir(dir);
}

static void test_invalid_arguments(void **state)
{
	struct fl_file *f = (struct fl_file *)&f;

	(void)state;
	assert_int_equal(fl_file_begin(NULL, NULL, &f), FL_ERR_INVALID);
	assert_null(f);
	assert_int_equal(fl_file_begin("", NULL, &f), FL_ERR_INVALID);
	assert_int_equal(fl_file_write_atomic("/tmp/fl_file_never", NULL, NULL, 3), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "/tmp/fl_file_never: no data to write");
	assert_int_equal(access("/tmp/fl_file_never", F_OK), -1);
	assert_int_equal(fl_file_commit(NULL), FL_ERR_INVALID);
	assert_int_equal(fl_file_fd(NULL), -1);
}

/* ---- sealed blobs ------------------------------------------------------- */

/* The checkpoint's parameters (statefile.h) with texts of this test. */
static const struct fl_seal_format state_like = {
        .magic = "FLSTATE\n",
        .version_bytes = 4,
        .length_bytes = 8,
        .checksum = 1,
        .max_len = UINT64_MAX,
        .code = FL_ERR_DATA,
        .not_magic = "not ours",
        .truncated = "cut short",
        .trailing = "too long",
        .payload = "blob",
        .empty = "empty",
        .corrupt = "damaged",
};

/* A model-like format that gives sizes, with a minimum and a maximum. */
static const struct fl_seal_format sized = {
        .magic = "FLTEST1\n",
        .length_bytes = 4,
        .checksum = 1,
        .sizes = 1,
        .min_len = 1,
        .max_len = 100,
        .code = FL_ERR_MODEL,
        .not_magic = "not a test file",
        .truncated = "truncated test file",
        .trailing = "trailing data",
        .payload = "test payload",
        .empty = "empty test payload",
        .corrupt = "test file is corrupt (checksum mismatch)",
};

static void test_seal_write_bytes(void **state)
{
	static const uint8_t head[] = {'F', 'L', 'S', 'T', 'A', 'T', 'E', '\n', 0, 0,
	                               0,   7,   0,   0,   0,   0,   0,   0,    0, 3};
	char *dir = make_dir(), path[256], names[256], got[128];
	uint8_t want[sizeof(head) + 3 + SHA256_DIGEST_LENGTH];
	const uint8_t *payload = NULL;
	struct fl_seal seal;

	(void)state;
	memcpy(want, head, sizeof(head));
	memcpy(want + sizeof(head), "abc", 3);
	SHA256(want, sizeof(head) + 3, want + sizeof(head) + 3);
	snprintf(path, sizeof(path), "%s/s", dir);
	assert_int_equal(fl_seal_write(&state_like, 7, (const uint8_t *)"abc", 3, path, NULL), 0);
	assert_int_equal(read_back(path, got, sizeof(got)), sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(mode_of(path), 0600);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "s");

	assert_int_equal(
	        fl_seal_open(&state_like, want, sizeof(want), 0, UINT64_MAX, "s", &seal, &payload),
	        0);
	assert_int_equal(seal.version, 7);
	assert_int_equal(seal.payload_len, 3);
	assert_int_equal(seal.header_len, 20);
	assert_int_equal(seal.end, sizeof(want));
	assert_ptr_equal(payload, want + 20);
	/* The caller's limit comes after the length is found consistent. */
	assert_int_equal(fl_seal_open(&state_like, want, sizeof(want), 0, 2, "s", &seal, &payload),
	                 FL_ERR_LIMIT);
	assert_string_equal(fl_errmsg(), "s: blob of 3 bytes exceeds the limit of 2 bytes");
	assert_null(payload);
	/* Without sizes, a cut is just "cut short". */
	assert_int_equal(fl_seal_open(&state_like, want, 10, 0, UINT64_MAX, "s", &seal, &payload),
	                 FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "s: cut short");
	want[sizeof(want) - 1] ^= 1;
	assert_int_equal(
	        fl_seal_open(&state_like, want, sizeof(want), 0, UINT64_MAX, "s", &seal, &payload),
	        FL_ERR_DATA);
	assert_string_equal(fl_errmsg(), "s: damaged");
	remove_dir(dir);
}

/* Each refusal with its text, from a good frame made by fl_seal_frame(). */
static void test_seal_refusals(void **state)
{
	uint8_t good[12 + 5 + 32], bad[sizeof(good) + 8];
	const uint8_t *payload = NULL;
	struct fl_seal seal;
	const size_t n = sizeof(good);

	(void)state;
	memcpy(good + 12, "hello", 5);
	assert_int_equal(fl_seal_frame(&sized, 0, good, 5, "t"), 0);
	assert_memory_equal(good, "FLTEST1\n\0\0\0\5hello", 17);
	{
		uint8_t sum[SHA256_DIGEST_LENGTH];

		SHA256(good, 17, sum);
		assert_memory_equal(good + 17, sum, sizeof(sum));
	}
	assert_int_equal(fl_seal_open(&sized, good, n, 0, UINT64_MAX, "t", &seal, &payload), 0);
	assert_memory_equal(payload, "hello", 5);

#define REFUSED(buf, len, off, text)                                                               \
	do {                                                                                       \
		assert_int_equal(fl_seal_open(&sized, (buf), (len), (off), UINT64_MAX, "t", &seal, \
		                              &payload),                                           \
		                 FL_ERR_MODEL);                                                    \
		assert_string_equal(fl_errmsg(), (text));                                          \
		assert_null(payload);                                                              \
	} while (0)

	REFUSED((const uint8_t *)"{}", 2, 0, "t: not a test file");
	REFUSED(good, 0, 0, "t: truncated test file (0 bytes, expected at least 44)");
	REFUSED(good, 11, 0, "t: truncated test file (11 bytes, expected at least 44)");
	REFUSED(good, n - 1, 0, "t: truncated test file (48 bytes, expected 49)");
	REFUSED(good, 12, 0, "t: truncated test file (12 bytes, expected 49)");
	memcpy(bad, good, n);
	bad[n] = 'x';
	REFUSED(bad, n + 1, 0, "t: trailing data (50 bytes, expected 49)");
	memcpy(bad, good, n);
	bad[11] = 101; /* over the format's limit, refused from the header alone */
	REFUSED(bad, n, 0, "t: test payload of 101 bytes exceeds the limit of 100 bytes");
	bad[11] = 0;
	REFUSED(bad, n, 0, "t: empty test payload");
	memcpy(bad, good, n);
	bad[14] ^= 0x20;
	REFUSED(bad, n, 0, "t: test file is corrupt (checksum mismatch)");
	/* A frame at an offset counts the whole buffer's bytes. */
	memcpy(bad, "prefix..", 8);
	memcpy(bad + 8, good, 9);
	REFUSED(bad, 17, 8, "t: truncated test file (17 bytes, expected at least 52)");
	memcpy(bad + 8, good, n);
	assert_int_equal(fl_seal_open(&sized, bad, n + 8, 8, UINT64_MAX, "t", &seal, &payload), 0);
	assert_ptr_equal(payload, bad + 20);
	assert_int_equal(seal.end, n + 8);
#undef REFUSED
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_write_replaces_with_content_and_mode),
	        cmocka_unit_test(test_default_and_umask_modes),
	        cmocka_unit_test(test_bare_name),
	        cmocka_unit_test(test_read_all),
	        cmocka_unit_test(test_streaming_commit),
	        cmocka_unit_test(test_temporary_names_and_abort),
	        cmocka_unit_test(test_create_fails_with_exact_messages),
	        cmocka_unit_test(test_rename_fails_and_leaves_nothing),
	        cmocka_unit_test(test_write_fails_keeps_old),
	        cmocka_unit_test(test_failed_write_then_commit),
	        cmocka_unit_test(test_pwrite_parts),
	        cmocka_unit_test(test_invalid_arguments),
	        cmocka_unit_test(test_seal_write_bytes),
	        cmocka_unit_test(test_seal_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
