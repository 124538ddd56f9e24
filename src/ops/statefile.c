/*
 * Crash-safe state files: a locked directory, atomic durable replacement,
 * and checked reads. See include/fedlead/statefile.h for the file layout.
 */
/* flock() is BSD, not POSIX; fcntl() locks would be dropped whenever any
 * descriptor of the lock file is closed in this process, flock() locks
 * belong to the open file and die with the process. */
#define _DEFAULT_SOURCE

#include "fedlead/statefile.h"

#include "fedlead/error.h"
#include "fedlead/sealed.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Largest single read(); Linux moves at most about 2 GiB per call. */
#define IO_CHUNK ((size_t)1 << 30)

/* The file layout of statefile.h as a sealed blob (sealed.h), with the
 * texts operators and tests know. The caller's max_len is the only bound on
 * the length: a checkpoint grows with the model. */
static const struct fl_seal_format state_seal = {
        .magic = "FLSTATE\n",
        .version_bytes = 4,
        .length_bytes = 8,
        .checksum = 1,
        .max_len = UINT64_MAX,
        .code = FL_ERR_DATA,
        .not_magic = "not a fedlead state file",
        .truncated = "checkpoint is truncated",
        .trailing = "checkpoint is corrupt (size mismatch)",
        .payload = "checkpoint",
        .empty = "checkpoint is empty",
        .corrupt = "checkpoint is corrupt (checksum mismatch)",
};

/* "a/b" in a fresh allocation, or NULL. */
static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* A state file is a plain name inside the directory; names starting with
 * '.' are kept for temporary files and "lock" for the lock. */
static int check_name(const char *dir, const char *name)
{
	if (dir == NULL || name == NULL)
		return fl_fail(FL_ERR_INVALID, "state file: missing directory or name");
	if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL ||
	    strcmp(name, FL_STATE_LOCK_NAME) == 0)
		return fl_fail(FL_ERR_INVALID, "state file name \"%s\" is not a plain file name",
		               name);
	return 0;
}

/* Reads up to len bytes, stopping early only at end of file; returns the
 * count read, or -1 with errno. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		size_t want = len - got < IO_CHUNK ? len - got : IO_CHUNK;
		ssize_t n = read(fd, buf + got, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Removes temporary files a crashed writer left behind. Only called with
 * the lock held, so no live writer owns them. Failures are ignored: a
 * leftover file costs disk space, never correctness. */
static void remove_leftovers(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	size_t plen = strlen(FL_STATE_TMP_PREFIX);

	if (dp == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, FL_STATE_TMP_PREFIX, plen) == 0)
			unlinkat(dirfd(dp), de->d_name, 0);
	}
	closedir(dp);
}

int fl_statedir_open(const char *dir, int create, int *lock_fd)
{
	char *lpath = NULL, pidbuf[32];
	int fd = -1, r = FL_ERR_INTERNAL, n;
	ssize_t got;

	if (lock_fd != NULL)
		*lock_fd = -1;
	if (dir == NULL || lock_fd == NULL) {
		r = fl_fail(FL_ERR_INVALID, "state directory: missing directory or output");
		goto out;
	}
	if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
		r = fl_fail(FL_ERR_IO, "%s: cannot create state directory: %s", dir,
		            strerror(errno));
		goto out;
	}
	if ((lpath = path_join(dir, FL_STATE_LOCK_NAME)) == NULL) {
		r = fl_fail(FL_ERR_NOMEM, "%s: out of memory", dir);
		goto out;
	}
	if ((fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot create lock file: %s", dir, strerror(errno));
		goto out;
	}
	while ((n = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
		;
	if (n != 0 && errno == EWOULDBLOCK) {
		/* The holder writes its pid just after locking; if we look in
		 * between, the file is empty or stale and we say so. */
		long pid = 0;
		char *end;

		got = pread(fd, pidbuf, sizeof(pidbuf) - 1, 0);
		pidbuf[got > 0 ? got : 0] = '\0';
		errno = 0;
		pid = strtol(pidbuf, &end, 10);
		if (end != pidbuf && (*end == '\n' || *end == '\0') && errno == 0 && pid > 0)
			r = fl_fail(FL_ERR_IO,
			            "state directory %s is in use by another coordinator (pid %ld)",
			            dir, pid);
		else
			r = fl_fail(FL_ERR_IO,
			            "state directory %s is in use by another coordinator (pid "
			            "unknown)",
			            dir);
		goto out;
	}
	if (n != 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot lock: %s", lpath, strerror(errno));
		goto out;
	}
	n = snprintf(pidbuf, sizeof(pidbuf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pidbuf, (size_t)n, 0) != n) {
		r = fl_fail(FL_ERR_IO, "%s: cannot write: %s", lpath, strerror(errno));
		goto out;
	}
	remove_leftovers(dir);
	*lock_fd = fd;
	fd = -1;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(lpath);
	return r;
}

void fl_statedir_close(int lock_fd)
{
	/* Closing the only descriptor of the open file releases the flock.
	 * The lock file stays: unlinking it would let a waiting process lock
	 * a file that a third one can no longer see. */
	if (lock_fd >= 0)
		close(lock_fd);
}

int fl_state_write(const char *dir, const char *name, const uint8_t *data, size_t len)
{
	/* Checkpoints hold the model: 0600. The prefix lets
	 * fl_statedir_open() find what a crashed writer left. */
	static const struct fl_file_opts opts = {.what = "write checkpoint",
	                                         .mode = 0600,
	                                         .flags = FL_FILE_TERSE,
	                                         .tmp_prefix = FL_STATE_TMP_PREFIX};
	char *path = NULL;
	int r = FL_ERR_INTERNAL;

	if ((r = check_name(dir, name)) != 0)
		goto out;
	if (data == NULL && len > 0) {
		r = fl_fail(FL_ERR_INVALID, "%s/%s: no data to write", dir, name);
		goto out;
	}
	if ((path = path_join(dir, name)) == NULL) {
		r = fl_fail(FL_ERR_NOMEM, "%s/%s: out of memory", dir, name);
		goto out;
	}
	r = fl_seal_write(&state_seal, FL_STATE_VERSION, data, len, path, &opts);
out:
	free(path);
	return r;
}

int fl_state_read(const char *dir, const char *name, size_t max_len, uint8_t **data, size_t *len)
{
	char *path = NULL;
	uint8_t hdr[FL_SEAL_MAX_HEADER], *buf = NULL;
	struct fl_seal seal;
	struct stat st;
	ssize_t got;
	size_t hl = fl_seal_header_len(&state_seal), rest;
	int fd = -1, r = FL_ERR_INTERNAL;

	if (data != NULL)
		*data = NULL;
	if (len != NULL)
		*len = 0;
	if (data == NULL || len == NULL) {
		r = fl_fail(FL_ERR_INVALID, "state file: missing output");
		goto out;
	}
	if ((r = check_name(dir, name)) != 0)
		goto out;
	if ((path = path_join(dir, name)) == NULL) {
		r = fl_fail(FL_ERR_NOMEM, "%s/%s: out of memory", dir, name);
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT) {
			r = 0;
			goto out;
		}
		r = fl_fail(FL_ERR_IO, "%s: cannot read checkpoint: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot read checkpoint: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = fl_fail(FL_ERR_IO, "%s: cannot read checkpoint: not a regular file", path);
		goto out;
	}
	if ((got = read_full(fd, hdr, hl)) < 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot read checkpoint: %s", path, strerror(errno));
		goto out;
	}
	/* The header against the file's size and max_len: nothing is
	 * allocated for a length that is damaged or too large. */
	if ((r = fl_seal_parse(&state_seal, hdr, (size_t)got, (uint64_t)st.st_size, 0, max_len,
	                       path, &seal)) != 0)
		goto out;
	/* The payload and its checksum in one buffer; the caller frees it as
	 * the payload, the checksum after it is only spare bytes. */
	rest = (size_t)seal.payload_len + FL_SEAL_SUM_LEN;
	if ((buf = malloc(rest)) == NULL) {
		r = fl_fail(FL_ERR_NOMEM, "%s: out of memory for a checkpoint of %llu bytes", path,
		            (unsigned long long)seal.payload_len);
		goto out;
	}
	if ((got = read_full(fd, buf, rest)) < 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot read checkpoint: %s", path, strerror(errno));
		goto out;
	}
	/* The file shrank after fstat (someone else wrote it): parsing what
	 * was read says so. */
	if ((size_t)got < rest && (r = fl_seal_parse(&state_seal, hdr, hl, hl + (uint64_t)got, 0,
	                                             max_len, path, &seal)) != 0)
		goto out;
	if ((r = fl_seal_check(&state_seal, &seal, hdr, buf, buf + seal.payload_len, path)) != 0)
		goto out;
	/* Checked after the checksum: a flipped bit is damage, a correct
	 * file with another version is from another fedlead. */
	if (seal.version != FL_STATE_VERSION) {
		r = fl_fail(FL_ERR_DATA,
		            "%s: checkpoint version %" PRIu32 " is not supported (expected %d)",
		            path, seal.version, FL_STATE_VERSION);
		goto out;
	}
	*data = buf;
	*len = (size_t)seal.payload_len;
	buf = NULL;
	r = 1;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return r;
}
