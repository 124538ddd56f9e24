/*
 * The parallel for (src/util/parallel.c): every chunk runs exactly once for
 * any thread count, a reduction in chunk order gives the same bits for 1,
 * 2 and 7 threads, the chunk count, and --threads parsing with its exact
 * messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/parallel.h"

#define N_CHUNKS 1000

struct count {
	atomic_int runs[N_CHUNKS];
};

static void count_chunk(void *arg, size_t c)
{
	struct count *k = arg;
	atomic_fetch_add(&k->runs[c], 1);
}

static void test_every_chunk_once(void **state)
{
	(void)state;
	static const unsigned threads[] = {0, 1, 2, 3, 16, 300};
	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		static struct count k;
		for (size_t c = 0; c < N_CHUNKS; c++)
			atomic_init(&k.runs[c], 0);
		fl_parallel_for(threads[t], N_CHUNKS, count_chunk, &k);
		for (size_t c = 0; c < N_CHUNKS; c++)
			assert_int_equal(atomic_load(&k.runs[c]), 1);
	}
	/* No chunks: fn is never called. */
	static struct count none;
	atomic_init(&none.runs[0], 0);
	fl_parallel_for(2, 0, count_chunk, &none);
	assert_int_equal(atomic_load(&none.runs[0]), 0);
}

/* Sums of 1/(i+1) over 1e6 terms in chunks of 4096: floating-point addition
 * is not associative, so only a fixed chunking and reduction order gives
 * the same bits for every thread count. */
#define N_TERMS 1000000
#define CHUNK 4096
struct sum {
	double part[N_TERMS / CHUNK + 1];
};

static void sum_chunk(void *arg, size_t c)
{
	struct sum *s = arg;
	size_t lo = c * CHUNK, hi = lo + CHUNK < N_TERMS ? lo + CHUNK : N_TERMS;
	double acc = 0;
	for (size_t i = lo; i < hi; i++)
		acc += 1.0 / (double)(i + 1);
	s->part[c] = acc;
}

static double parallel_sum(unsigned threads)
{
	static struct sum s;
	size_t n = fl_parallel_chunks(N_TERMS, CHUNK);
	double total = 0;

	memset(&s, 0, sizeof(s));
	fl_parallel_for(threads, n, sum_chunk, &s);
	for (size_t c = 0; c < n; c++)
		total += s.part[c];
	return total;
}

static void test_same_bits_any_thread_count(void **state)
{
	(void)state;
	double one = parallel_sum(1), two = parallel_sum(2), seven = parallel_sum(7);
	assert_memory_equal(&one, &two, sizeof(one));
	assert_memory_equal(&one, &seven, sizeof(one));
	/* H(1e6) = ln(1e6) + 0.5772156649 + 1/(2e6) - ..., to 1e-9. */
	assert_true(one > 14.392726722 && one < 14.392726723);
}

static void test_chunks(void **state)
{
	(void)state;
	assert_int_equal(fl_parallel_chunks(0, 100), 1);
	assert_int_equal(fl_parallel_chunks(1, 100), 1);
	assert_int_equal(fl_parallel_chunks(100, 100), 1);
	assert_int_equal(fl_parallel_chunks(101, 100), 2);
	assert_int_equal(fl_parallel_chunks(5, 0), 5);
}

static void test_threads_parse(void **state)
{
	(void)state;
	unsigned n = 0;
	assert_int_equal(fl_threads_parse("--threads", "2", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fl_threads_parse("--threads", "256", &n), 0);
	assert_int_equal(n, 256);
	assert_int_equal(fl_threads_parse("--threads", "auto", &n), 0);
	assert_int_equal(n, fl_threads_default());
	assert_true(n >= 1 && n <= FL_THREADS_MAX);

	static const char *bad[] = {"0", "257", "-1", "+2", " 2", "2x", "", "two"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[128];
		snprintf(want, sizeof(want),
		         "--threads: '%s' is not a thread count (1 to 256, or auto)", bad[i]);
		assert_int_equal(fl_threads_parse("--threads", bad[i], &n), FL_ERR_INVALID);
		assert_string_equal(fl_errmsg(), want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_chunk_once),
	        cmocka_unit_test(test_same_bits_any_thread_count),
	        cmocka_unit_test(test_chunks),
	        cmocka_unit_test(test_threads_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
