/*
 * Crash-safe state files for the coordinator.
 *
 * A state directory holds the checkpoints of one coordinator. It is locked
 * for as long as that coordinator runs, so two processes never write the same
 * checkpoints. Every checkpoint is replaced atomically: after a crash at any
 * moment a reader finds either the previous complete file or the new one,
 * never a mixture, and a file damaged later (a bad disk, an edit by hand) is
 * refused by its SHA-256 rather than loaded.
 *
 * File layout (all integers big-endian):
 *   "FLSTATE\n"   8 bytes magic
 *   version       4 bytes, 1
 *   length        8 bytes, bytes of data that follow
 *   data          length bytes, opaque to this module
 *   sha256        32 bytes over everything before it
 */
#ifndef FEDLEAD_STATEFILE_H
#define FEDLEAD_STATEFILE_H

#include <stddef.h>
#include <stdint.h>

#define FL_STATE_VERSION 1
/* Name of the lock file inside a state directory. */
#define FL_STATE_LOCK_NAME "lock"
/* Prefix of the temporary files a write creates next to its target; a
 * crash may leave one behind, and fl_statedir_open() removes them. */
#define FL_STATE_TMP_PREFIX ".fl-tmp."

/*
 * Opens the state directory dir (creating it with mode 0700 first if create
 * is set and it does not exist) and takes an exclusive lock on dir/lock,
 * which then holds this process's pid. The lock lasts until
 * fl_statedir_close() or the process ends (also by a crash), so a restarted
 * coordinator can always take it again. Leftover temporary files of an
 * interrupted write are removed once the lock is held.
 *
 * Returns 0 with *lock_fd >= 0, or FL_ERR_IO with *lock_fd = -1, e.g.
 * "state directory DIR is in use by another coordinator (pid N)" or
 * "DIR: cannot create lock file: Permission denied".
 */
int fl_statedir_open(const char *dir, int create, int *lock_fd);

/* Releases the lock taken by fl_statedir_open(); accepts -1. */
void fl_statedir_close(int lock_fd);

/*
 * Replaces dir/name by data (len bytes) atomically and durably: the file is
 * written to a temporary name in dir, synced, renamed over dir/name, and the
 * directory is synced. name must be a plain file name (no '/', not starting
 * with '.', not "lock"). The caller should hold the directory's lock. On
 * failure FL_ERR_IO says "DIR/NAME: cannot write checkpoint: <reason>", no
 * temporary file is left, and the previous dir/name is untouched - except
 * when only the final sync of the directory fails: then the new file is in
 * place but might not survive a power cut. Returns 0 on success.
 */
int fl_state_write(const char *dir, const char *name, const uint8_t *data, size_t len);

/*
 * Reads dir/name. Returns 1 with *data (malloc'd, caller frees; non-NULL
 * even when *len is 0) and *len, 0 with *data = NULL when the file does not
 * exist, or a negative error with *data = NULL and *len = 0:
 *   FL_ERR_IO     "DIR/NAME: cannot read checkpoint: <reason>"
 *   FL_ERR_DATA   "DIR/NAME: not a fedlead state file"
 *                 "DIR/NAME: checkpoint is truncated"
 *                 "DIR/NAME: checkpoint is corrupt (size mismatch)"
 *                 "DIR/NAME: checkpoint is corrupt (checksum mismatch)"
 *                 "DIR/NAME: checkpoint version V is not supported (expected 1)"
 *   FL_ERR_LIMIT  "DIR/NAME: checkpoint of N bytes exceeds the limit of M bytes"
 * Nothing larger than max_len bytes of data, or than the file itself, is
 * allocated.
 */
int fl_state_read(const char *dir, const char *name, size_t max_len, uint8_t **data, size_t *len);

#endif
