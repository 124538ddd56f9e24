/*
 * Atomic, durable file replacement: the one way fedlead writes a file that
 * must survive a crash (models, checkpoints, the column cache, scores,
 * reports).
 *
 * The bytes go to a temporary file in the target's directory (so the rename
 * cannot cross a file system), the file is fsync'ed, closed, renamed over
 * the target, and the directory is fsync'ed so the rename itself survives a
 * power cut. After a crash at any moment a reader finds the previous
 * complete file or the new one, never a mixture. On any failure the
 * temporary file is removed and the previous file is untouched - except
 * when only the final directory sync fails: then the new file is in place
 * but might not survive a power cut. File systems that cannot sync a
 * directory (EINVAL) order their metadata themselves and are not an error.
 *
 * Errors are FL_ERR_IO (FL_ERR_NOMEM, FL_ERR_INVALID for a bad argument)
 * with a message that names the target and the system's reason:
 *   "PATH: cannot WHAT (STEP): REASON"
 * where WHAT is fl_file_opts.what ("write" if NULL) and STEP one of
 * "create temporary file", "chmod", "write", "fsync", "close", "rename",
 * "sync directory"; e.g. "m.flm: cannot save the model (rename): Is a
 * directory". Two options keep the texts that existing callers print:
 * FL_FILE_TERSE leaves the step out ("PATH: cannot WHAT: REASON"), and
 * create_what replaces "WHAT (create temporary file)" when the temporary
 * file cannot be created ("PATH: cannot create output: REASON").
 */
#ifndef FEDLEAD_FILE_H
#define FEDLEAD_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* fl_file_opts.flags */
#define FL_FILE_UMASK 0x1 /* mode is masked by the process's umask, as open(2) would */
#define FL_FILE_TERSE 0x2 /* messages leave out the step that failed */

struct fl_file_opts {
	const char *what;        /* what the caller was doing, for messages; NULL: "write" */
	const char *create_what; /* message text when the temporary file cannot be created;
	                          * NULL: "WHAT (create temporary file)" */
	unsigned mode;           /* permission bits of the new file, e.g. 0600, 0644 */
	int flags;               /* FL_FILE_* */
	/* NULL: the temporary file is "PATH.tmp.XXXXXX". Otherwise it is
	 * "DIR/PREFIX" "BASE.XXXXXX" for PATH = DIR/BASE, so that a directory
	 * owner can recognise (and remove) what a crashed writer left. */
	const char *tmp_prefix;
};

/* A file being written under its temporary name. */
struct fl_file;

/*
 * Creates the temporary file for path (options o, copied; NULL means mode
 * 0600 and default texts). *out is for fl_file_write(), fl_file_fd() or
 * fl_file_stream(), and then exactly one of fl_file_commit() or
 * fl_file_abort(). Returns 0, or an error with *out = NULL and no file left.
 */
int fl_file_begin(const char *path, const struct fl_file_opts *o, struct fl_file **out);

/* Appends len bytes; a failure is reported with step "write" (the handle
 * must still be committed or aborted: commit then fails and cleans up). */
int fl_file_write(struct fl_file *f, const void *buf, size_t len);

/*
 * Writes all len bytes of buf at byte off of descriptor fd (pwrite, in
 * chunks, again after EINTR); 0, or -1 with errno (a write that makes no
 * progress: ENOSPC, rather than looping forever). For files written at
 * offsets: the column cache, the ranker's runs, fl_file_pwrite().
 */
int fl_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/*
 * Writes len bytes at byte off, from any thread (pwrite), for callers that
 * write parts of the file at once; the stream and fl_file_write() write
 * at the file's own position, which this does not move. A failure is
 * reported as fl_file_write() reports it (step "write"); the caller then
 * calls fl_file_abort().
 */
int fl_file_pwrite(const struct fl_file *f, const void *buf, size_t len, uint64_t off);

/*
 * The temporary file's descriptor (read-write, close-on-exec), for callers
 * that write at offsets or read back what they wrote (the column cache).
 * Owned by f: do not close it.
 */
int fl_file_fd(const struct fl_file *f);

/*
 * A stdio stream on the temporary file, owned by f, for callers that print
 * (scores as CSV). NULL with fl_errmsg() if it cannot be made. Write errors
 * on it are found and reported (step "write") by fl_file_commit().
 */
FILE *fl_file_stream(struct fl_file *f);

/*
 * Makes the file the target: flush, fsync, close, rename, directory fsync.
 * Frees f whatever happens; on failure the temporary file is removed (unless
 * the rename already happened). Returns 0 or an error as above.
 */
int fl_file_commit(struct fl_file *f);

/* Closes and removes the temporary file and frees f; accepts NULL. Keeps
 * errno and the last error message. */
void fl_file_abort(struct fl_file *f);

/* fl_file_begin(), fl_file_write() of the whole buffer, fl_file_commit(). */
int fl_file_write_atomic(const char *path, const struct fl_file_opts *o, const void *buf,
                         size_t len);

/*
 * Reads a whole regular file of at most max bytes into *out (malloc'ed,
 * NUL-terminated; *len bytes before the NUL), checking the size before it
 * allocates: the one way small text files (schemas, mappings) are read.
 * Errors: FL_ERR_IO "PATH: REASON" when it cannot be opened or read, and
 * `code` "PATH: not a regular file of at most MAX bytes".
 */
int fl_file_read_all(const char *path, size_t max, int code, char **out, size_t *len);

#endif
