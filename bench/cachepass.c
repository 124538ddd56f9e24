/*
 * bench_cachepass: gradient passes over a cache file (src/cache.c) against
 * plain sequential reads of the same file, in one process, interleaved.
 *
 *   bench_cachepass --schema S.json --cache F.flc [--reps N] [--access read|mmap]
 *                   [--window BYTES] [--cold] [--hessian]
 *
 * Prints "name value" lines (seconds are the best of N; bytes are the whole
 * file, header included, so every rate is file bytes per second):
 *   bytes, rows, cols, window_bytes
 *   read_s        read() of the whole file into a 1 MiB buffer
 *   mmap_sum_s    the file mapped in windows of the same size (MADV_SEQUENTIAL,
 *                 then MADV_DONTNEED and munmap), summed as doubles: what
 *                 getting the bytes through a mapping costs
 *   grad_s        fl_cache_logistic, loss and gradient
 *   hess_s        ... with the Hessian (with --hessian)
 *   *_cpu_s       the same passes' CPU time (user + system), best of N
 *   *_rss_kb      peak resident set of that pass alone (VmHWM, reset before)
 *   *_cold_s      with --cold: the same after evicting the file from the page
 *                 cache (posix_fadvise DONTNEED on it alone), i.e. from disk
 *                 (also *_cold_cpu_s)
 */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fedlead/cache.h"
#include "fedlead/error.h"
#include "fedlead/schema.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* User + system CPU seconds of this process: on a shared machine the wall
 * clock also counts the time spent waiting for a core. */
static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
	       (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Resets the kernel's peak-RSS mark of this process (Linux >= 4.0). */
static void hwm_reset(void)
{
	FILE *fp = fopen("/proc/self/clear_refs", "w");

	if (fp != NULL) {
		fputs("5", fp);
		fclose(fp);
	}
}

static long hwm_kb(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

static void evict(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

static double sink;

static int read_pass(const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t k;

	if (fd < 0)
		return -1;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		sink += buf[k - 1];
	close(fd);
	return k < 0 ? -1 : 0;
}

/* Maps the file in windows of the given size, as the cache does, and sums
 * the doubles: the cost of getting the bytes through the mapping. */
static int mmap_sum_pass(const char *path, size_t window)
{
	int fd = open(path, O_RDONLY);
	struct stat sb;
	double s = 0;

	if (fd < 0 || fstat(fd, &sb) != 0)
		return -1;
	for (off_t off = 0; off < sb.st_size; off += (off_t)window) {
		size_t len =
		        (size_t)(sb.st_size - off) < window ? (size_t)(sb.st_size - off) : window;
		const double *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);

		if (p == MAP_FAILED) {
			close(fd);
			return -1;
		}
		madvise((void *)p, len, MADV_SEQUENTIAL);
		for (size_t i = 0; i < len / sizeof(double); i++)
			s += p[i];
		madvise((void *)p, len, MADV_DONTNEED);
		munmap((void *)p, len);
	}
	sink += s;
	close(fd);
	return 0;
}

struct timing {
	const char *name;
	double best, best_cold, best_cpu, best_cold_cpu;
	long rss_kb;
};

static double t0, c0;

static void start(int cold, const char *path)
{
	if (cold)
		evict(path);
	hwm_reset();
	t0 = now();
	c0 = cpu();
}

static void keep(struct timing *t, int cold)
{
	double s = now() - t0, cs = cpu() - c0;
	double *b = cold ? &t->best_cold : &t->best, *bc = cold ? &t->best_cold_cpu : &t->best_cpu;
	long kb = hwm_kb();

	if (*b == 0 || s < *b)
		*b = s;
	if (*bc == 0 || cs < *bc)
		*bc = cs;
	if (kb > t->rss_kb)
		t->rss_kb = kb;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"schema", required_argument, NULL, 's'}, {"cache", required_argument, NULL, 'c'},
	        {"reps", required_argument, NULL, 'n'},   {"window", required_argument, NULL, 'w'},
	        {"cold", no_argument, NULL, 'k'},         {"hessian", no_argument, NULL, 'h'},
	        {"access", required_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
	const char *schema_path = NULL, *path = NULL;
	struct fl_schema *s = NULL;
	struct fl_cache *c = NULL;
	struct timing t[4] = {
	        {.name = "read"}, {.name = "mmap_sum"}, {.name = "grad"}, {.name = "hess"}};
	size_t window = 0, d;
	enum fl_cache_access access = FL_CACHE_READ;
	int reps = 3, cold = 0, hessian = 0, ch;
	double *w, *g, *h = NULL, loss;
	struct stat sb;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's': schema_path = optarg; break;
		case 'c': path = optarg; break;
		case 'n': reps = atoi(optarg); break;
		case 'w': window = strtoull(optarg, NULL, 10); break;
		case 'k': cold = 1; break;
		case 'h': hessian = 1; break;
		case 'a':
			access = strcmp(optarg, "mmap") == 0 ? FL_CACHE_MMAP : FL_CACHE_READ;
			break;
		default: return 2;
		}
	}
	if (schema_path == NULL || path == NULL || reps < 1) {
		fprintf(stderr, "usage: bench_cachepass --schema S.json --cache F.flc [--reps N] "
		                "[--access read|mmap] [--window BYTES] [--cold] [--hessian]\n");
		return 2;
	}
	if (window == 0)
		window =
		        access == FL_CACHE_MMAP ? FL_CACHE_WINDOW_DEFAULT : FL_CACHE_BUFFER_DEFAULT;
	if (fl_schema_load(schema_path, &s) != 0 || fl_cache_open(s, path, &c) != 0 ||
	    fl_cache_set_access(c, access) != 0 || fl_cache_set_window(c, window) != 0 ||
	    stat(path, &sb) != 0) {
		fprintf(stderr, "bench_cachepass: %s\n", fl_errmsg());
		return 1;
	}
	d = fl_cache_dim(c);
	w = calloc(d, sizeof(double));
	g = calloc(d, sizeof(double));
	if (hessian)
		h = calloc(d * d, sizeof(double));
	if (w == NULL || g == NULL || (hessian && h == NULL))
		return 1;
	/* A point away from zero, so every row's exp/log1p does real work. */
	for (size_t j = 0; j < d; j++)
		w[j] = 0.01 * sin((double)j + 1);

	for (int rep = 0; rep < reps; rep++) {
		for (int pass = 0; pass < (cold ? 2 : 1); pass++) {
			int k = pass == 1;

			start(k, path);
			if (read_pass(path) != 0)
				return 1;
			keep(&t[0], k);

			start(k, path);
			if (mmap_sum_pass(path, access == FL_CACHE_MMAP
			                                ? window
			                                : FL_CACHE_WINDOW_DEFAULT) != 0)
				return 1;
			keep(&t[1], k);

			start(k, path);
			if (fl_cache_logistic(c, w, &loss, g, NULL) != 0) {
				fprintf(stderr, "bench_cachepass: %s\n", fl_errmsg());
				return 1;
			}
			keep(&t[2], k);

			if (!hessian)
				continue;
			start(k, path);
			if (fl_cache_logistic(c, w, &loss, g, h) != 0)
				return 1;
			keep(&t[3], k);
		}
	}
	printf("bytes %lld\nrows %zu\ncols %zu\naccess %s\nwindow_bytes %zu\nloss %.17g\n",
	       (long long)sb.st_size, fl_cache_rows(c), d,
	       access == FL_CACHE_MMAP ? "mmap" : "read", window, loss);
	for (int i = 0; i < (hessian ? 4 : 3); i++) {
		printf("%s_s %.6f\n%s_cpu_s %.6f\n%s_rss_kb %ld\n", t[i].name, t[i].best, t[i].name,
		       t[i].best_cpu, t[i].name, t[i].rss_kb);
		if (cold)
			printf("%s_cold_s %.6f\n%s_cold_cpu_s %.6f\n", t[i].name, t[i].best_cold,
			       t[i].name, t[i].best_cold_cpu);
	}
	free(w);
	free(g);
	free(h);
	fl_cache_free(c);
	fl_schema_free(s);
	return sink == 12345.678 ? 3 : 0;
}
