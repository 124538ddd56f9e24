/*
 * Atomic, durable file replacement (include/fedlead/file.h): temporary file
 * in the target's directory, fsync, close, rename, fsync of the directory.
 */
/* mkostemp() and fopencookie() are GNU extensions. The first sets
 * close-on-exec at creation, so a program that forks never inherits the
 * descriptor of a half-written file; the second lets a stream's write
 * error keep its errno (stdio's ferror() does not) for the message. */
#define _GNU_SOURCE

#include "fedlead/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fedlead/error.h"

/* Largest single write(); Linux moves at most about 2 GiB per call. */
#define IO_CHUNK ((size_t)1 << 30)

struct fl_file {
	char *path; /* the target */
	char *tmp;  /* the temporary file, while it exists under that name */
	char *dir;  /* the directory of both */
	int fd;
	FILE *fp;       /* from fl_file_stream(); writes through to fd */
	int stream_err; /* errno of the stream's first failed write */
	int failed;     /* a write failed and was reported: commit only cleans up */
	struct fl_file_opts o;
};

/* Reports a failed step with the system's reason; returns FL_ERR_IO. */
static int step_fail(const struct fl_file *f, const char *step, int err)
{
	const char *what = f->o.what != NULL ? f->o.what : "write";

	if (strcmp(step, "create temporary file") == 0 && f->o.create_what != NULL)
		return fl_fail(FL_ERR_IO, "%s: cannot %s: %s", f->path, f->o.create_what,
		               strerror(err));
	if (f->o.flags & FL_FILE_TERSE)
		return fl_fail(FL_ERR_IO, "%s: cannot %s: %s", f->path, what, strerror(err));
	return fl_fail(FL_ERR_IO, "%s: cannot %s (%s): %s", f->path, what, step, strerror(err));
}

/* Writes all of buf; -1 with errno on failure. A write that makes no
 * progress is reported as a full disk rather than looping forever. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len < IO_CHUNK ? len : IO_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory part of path ("." for a bare name), malloc'ed. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	if ((d = malloc((size_t)(slash - path) + 1)) != NULL) {
		memcpy(d, path, (size_t)(slash - path));
		d[slash - path] = '\0';
	}
	return d;
}

/* The mkostemp() template for path (file.h, tmp_prefix), malloc'ed. */
static char *tmp_template(const char *path, const char *dir, const char *prefix)
{
	const char *slash = strrchr(path, '/'), *base = slash != NULL ? slash + 1 : path;
	size_t n;
	char *t;

	if (prefix == NULL) {
		n = strlen(path) + sizeof(".tmp.XXXXXX");
		if ((t = malloc(n)) != NULL)
			snprintf(t, n, "%s.tmp.XXXXXX", path);
		return t;
	}
	n = strlen(dir) + 1 + strlen(prefix) + strlen(base) + sizeof(".XXXXXX");
	if ((t = malloc(n)) != NULL) {
		if (slash != NULL)
			snprintf(t, n, "%s/%s%s.XXXXXX", dir, prefix, base);
		else
			snprintf(t, n, "%s%s.XXXXXX", prefix, base);
	}
	return t;
}

/* Syncs the directory entry of a rename; -1 with errno. Some file systems
 * cannot sync a directory (EINVAL); they order metadata themselves. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;

	if (fd < 0)
		return -1;
	if (fsync(fd) != 0 && errno != EINVAL) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

static void file_free(struct fl_file *f)
{
	free(f->path);
	free(f->tmp);
	free(f->dir);
	free(f);
}

void fl_file_abort(struct fl_file *f)
{
	int e = errno;

	if (f == NULL)
		return;
	if (f->fp != NULL)
		fclose(f->fp);
	if (f->fd >= 0)
		close(f->fd);
	if (f->tmp != NULL)
		unlink(f->tmp);
	file_free(f);
	errno = e;
}

int fl_file_begin(const char *path, const struct fl_file_opts *o, struct fl_file **out)
{
	static const struct fl_file_opts defaults = {.mode = 0600};
	struct fl_file *f = NULL;
	mode_t mode;
	int r = FL_ERR_NOMEM;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || path[0] == '\0' || out == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_file_begin: no path or output");
		goto out;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		goto nomem;
	f->fd = -1;
	f->o = o != NULL ? *o : defaults;
	/* The strings in o are the caller's constants; only the path is
	 * copied, because callers build it on the stack. */
	if ((f->path = strdup(path)) == NULL || (f->dir = dir_of(path)) == NULL ||
	    (f->tmp = tmp_template(path, f->dir, f->o.tmp_prefix)) == NULL)
		goto nomem;
	if ((f->fd = mkostemp(f->tmp, O_CLOEXEC)) < 0) {
		r = step_fail(f, "create temporary file", errno);
		free(f->tmp);
		f->tmp = NULL;
		goto out;
	}
	/* mkostemp() makes the file 0600; the caller says what it should be. */
	mode = (mode_t)(f->o.mode & 07777);
	if (f->o.flags & FL_FILE_UMASK) {
		mode_t um = umask(0);

		umask(um);
		mode &= ~um;
	}
	if (fchmod(f->fd, mode) != 0) {
		r = step_fail(f, "chmod", errno);
		goto out;
	}
	*out = f;
	f = NULL;
	r = 0;
	goto out;
nomem:
	r = fl_fail(FL_ERR_NOMEM, "%s: out of memory", path);
out:
	fl_file_abort(f);
	return r;
}

int fl_file_write(struct fl_file *f, const void *buf, size_t len)
{
	if (f == NULL || (buf == NULL && len > 0))
		return fl_fail(FL_ERR_INVALID, "fl_file_write: no file or buffer");
	if (f->failed)
		return FL_ERR_IO;
	/* Mixing the stream with direct writes would reorder bytes. */
	if (f->fp != NULL && (fflush(f->fp) != 0 || f->stream_err != 0)) {
		f->failed = 1;
		return step_fail(f, "write", f->stream_err != 0 ? f->stream_err : EIO);
	}
	if (write_all(f->fd, buf, len) != 0) {
		f->failed = 1;
		return step_fail(f, "write", errno);
	}
	return 0;
}

int fl_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *b = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, b, len < IO_CHUNK ? len : IO_CHUNK, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		b += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int fl_file_pwrite(const struct fl_file *f, const void *buf, size_t len, uint64_t off)
{
	if (fl_pwrite_all(f->fd, buf, len, off) != 0)
		return step_fail(f, "write", errno);
	return 0;
}

int fl_file_fd(const struct fl_file *f)
{
	return f != NULL ? f->fd : -1;
}

/* The stream's write function: 0 (no bytes) on error, as fopencookie()
 * asks, with the reason kept for fl_file_commit(). */
static ssize_t stream_write(void *cookie, const char *buf, size_t len)
{
	struct fl_file *f = cookie;

	if (f->stream_err != 0)
		return 0;
	if (write_all(f->fd, (const uint8_t *)buf, len) != 0) {
		f->stream_err = errno;
		return 0;
	}
	return (ssize_t)len;
}

FILE *fl_file_stream(struct fl_file *f)
{
	static const cookie_io_functions_t io = {.write = stream_write};

	if (f == NULL) {
		fl_fail(FL_ERR_INVALID, "fl_file_stream: no file");
		return NULL;
	}
	if (f->fp == NULL && (f->fp = fopencookie(f, "w", io)) == NULL)
		step_fail(f, "write", errno);
	return f->fp;
}

int fl_file_commit(struct fl_file *f)
{
	int r = FL_ERR_IO, e;

	if (f == NULL)
		return fl_fail(FL_ERR_INVALID, "fl_file_commit: no file");
	if (f->failed)
		goto out; /* reported by fl_file_write() */
	if (f->fp != NULL) {
		e = fflush(f->fp) != 0 || ferror(f->fp);
		fclose(f->fp);
		f->fp = NULL;
		if (e || f->stream_err != 0) {
			r = step_fail(f, "write", f->stream_err != 0 ? f->stream_err : EIO);
			goto out;
		}
	}
	if (fsync(f->fd) != 0) {
		r = step_fail(f, "fsync", errno);
		goto out;
	}
	/* close() can report a delayed write error (NFS). */
	e = close(f->fd);
	f->fd = -1;
	if (e != 0) {
		r = step_fail(f, "close", errno);
		goto out;
	}
	if (rename(f->tmp, f->path) != 0) {
		r = step_fail(f, "rename", errno);
		goto out;
	}
	free(f->tmp);
	f->tmp = NULL;
	/* From here the new file is in place; the directory sync only makes
	 * the rename survive a power cut. */
	if (sync_dir(f->dir) != 0) {
		r = step_fail(f, "sync directory", errno);
		goto out;
	}
	r = 0;
out:
	fl_file_abort(f);
	return r;
}

int fl_file_write_atomic(const char *path, const struct fl_file_opts *o, const void *buf,
                         size_t len)
{
	struct fl_file *f = NULL;
	int r;

	if (buf == NULL && len > 0)
		return fl_fail(FL_ERR_INVALID, "%s: no data to write", path != NULL ? path : "?");
	if ((r = fl_file_begin(path, o, &f)) != 0)
		return r;
	if ((r = fl_file_write(f, buf, len)) != 0) {
		fl_file_abort(f);
		return r;
	}
	return fl_file_commit(f);
}

int fl_file_read_all(const char *path, size_t max, int code, char **out, size_t *len)
{
	FILE *fp;
	char *buf = NULL;
	struct stat st;
	int r = 0;

	*out = NULL;
	*len = 0;
	if ((fp = fopen(path, "rb")) == NULL)
		return fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fileno(fp), &st) != 0) {
		r = fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		r = fl_fail(code, "%s: not a regular file of at most %zu bytes", path, max);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	/* The file may have shrunk since fstat(): what was read counts. */
	*len = fread(buf, 1, (size_t)st.st_size, fp);
	if (ferror(fp)) {
		r = fl_fail(FL_ERR_IO, "%s: read error", path);
		goto out;
	}
	buf[*len] = '\0';
	*out = buf;
	buf = NULL;
out:
	free(buf);
	fclose(fp);
	if (r != 0)
		*len = 0;
	return r;
}
