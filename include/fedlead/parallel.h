/*
 * Both cores for the passes over rows: a parallel for over fixed chunks.
 *
 * The results of a parallel pass must not depend on the thread count (a
 * model trained with --threads 1 and --threads 2 is the same to the last
 * bit, and so are its scores). So the work is cut into chunks whose
 * boundaries depend only on the data (fl_parallel_chunks()), each chunk
 * writes its own partial result, and the caller reduces the partials in
 * chunk order after fl_parallel_for() returns. Which thread ran a chunk
 * never matters.
 */
#ifndef FEDLEAD_PARALLEL_H
#define FEDLEAD_PARALLEL_H

#include <stddef.h>

/* The most threads a command accepts. */
#define FL_THREADS_MAX 256

/* Runs fn(arg, c) once for every chunk c in [0, n_chunks), on up to
 * n_threads threads (the caller's thread is one of them). Chunks are handed
 * out in order as threads become free. When a thread cannot be started the
 * remaining chunks run on the threads that did start, so the call always
 * completes every chunk; fn must not fail half-way (record a failure in the
 * chunk's partial result instead). */
void fl_parallel_for(unsigned n_threads, size_t n_chunks, void (*fn)(void *arg, size_t chunk),
                     void *arg);

/* The number of chunks of at most chunk_rows rows that cover n_rows rows
 * (at least 1, so an empty pass still runs its reduction). */
size_t fl_parallel_chunks(size_t n_rows, size_t chunk_rows);

/* The default thread count: the CPUs this process may run on (its affinity
 * mask, so a container or taskset limit is honoured), at most
 * FL_THREADS_MAX. */
unsigned fl_threads_default(void);

/* Parses a --threads value: a count from 1 to FL_THREADS_MAX, or "auto" for
 * fl_threads_default(). On bad input fails with FL_ERR_INVALID and
 * "WHAT: 'TEXT' is not a thread count (1 to 256, or auto)". */
int fl_threads_parse(const char *what, const char *text, unsigned *out);

#endif
