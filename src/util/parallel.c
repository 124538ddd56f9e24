/*
 * A parallel for over fixed chunks; see include/fedlead/parallel.h.
 *
 * Threads are started per call rather than kept in a pool: a pass over a
 * lead file's rows takes milliseconds to seconds, a thread's start tens of
 * microseconds, and a pool would need shutdown and fork handling that no
 * caller needs. Chunks are claimed from an atomic counter so a slow thread
 * (the machine is shared) does not hold the others back.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "fedlead/parallel.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedlead/error.h"

struct job {
	void (*fn)(void *arg, size_t chunk);
	void *arg;
	size_t n_chunks;
	atomic_size_t next;
};

static void *worker(void *p)
{
	struct job *job = p;
	size_t c;

	while ((c = atomic_fetch_add(&job->next, 1)) < job->n_chunks)
		job->fn(job->arg, c);
	return NULL;
}

void fl_parallel_for(unsigned n_threads, size_t n_chunks, void (*fn)(void *arg, size_t chunk),
                     void *arg)
{
	pthread_t tid[FL_THREADS_MAX];
	struct job job = {.fn = fn, .arg = arg, .n_chunks = n_chunks};
	unsigned started = 0, want;

	atomic_init(&job.next, 0);
	if (n_threads > FL_THREADS_MAX)
		n_threads = FL_THREADS_MAX;
	want = n_threads == 0 ? 1 : n_threads;
	if (want > n_chunks)
		want = n_chunks == 0 ? 1 : (unsigned)n_chunks;
	/* The caller's thread is the first worker; a thread that cannot be
	 * started only means fewer hands. */
	while (started + 1 < want && pthread_create(&tid[started], NULL, worker, &job) == 0)
		started++;
	worker(&job);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
}

size_t fl_parallel_chunks(size_t n_rows, size_t chunk_rows)
{
	if (chunk_rows == 0)
		chunk_rows = 1;
	return n_rows == 0 ? 1 : (n_rows - 1) / chunk_rows + 1;
}

unsigned fl_threads_default(void)
{
	cpu_set_t set;
	long n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 0)
		n = 1;
	return n > FL_THREADS_MAX ? FL_THREADS_MAX : (unsigned)n;
}

int fl_threads_parse(const char *what, const char *text, unsigned *out)
{
	char *end;
	long v;

	if (strcmp(text, "auto") == 0) {
		*out = fl_threads_default();
		return 0;
	}
	errno = 0;
	v = strtol(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v < 1 ||
	    v > FL_THREADS_MAX)
		return fl_fail(FL_ERR_INVALID, "%s: '%s' is not a thread count (1 to %d, or auto)",
		               what, text, FL_THREADS_MAX);
	*out = (unsigned)v;
	return 0;
}
