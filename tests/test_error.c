/*
 * Tests of the error convention (src/util/error.c): the text of every code,
 * the message of the last failure, its truncation, a message built from the
 * one it replaces, and one message per thread.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fedlead/error.h"

static void test_strerror_every_code(void **state)
{
	static const struct {
		int code;
		const char *text;
	} want[] = {
	        {FL_OK, "success"},
	        {FL_ERR_INTERNAL, "internal error"},
	        {FL_ERR_NOMEM, "out of memory"},
	        {FL_ERR_IO, "input/output error"},
	        {FL_ERR_INVALID, "invalid argument"},
	        {FL_ERR_SCHEMA, "invalid schema"},
	        {FL_ERR_DATA, "invalid data"},
	        {FL_ERR_MODEL, "invalid model file"},
	        {FL_ERR_NUMERIC, "numerical failure"},
	        {FL_ERR_CRYPTO, "cryptographic operation failed"},
	        {FL_ERR_PROTO, "protocol violation"},
	        {FL_ERR_AUTH, "authentication failed"},
	        {FL_ERR_LIMIT, "limit exceeded"},
	        {FL_ERR_CONFIG, "invalid configuration"},
	};

	(void)state;
	/* The codes run from 0 down to -13 without a gap. */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(want[i].code, -(int)i);
		assert_string_equal(fl_strerror(want[i].code), want[i].text);
	}
	assert_string_equal(fl_strerror(-14), "unknown error");
	assert_string_equal(fl_strerror(1), "unknown error");
	assert_string_equal(fl_strerror(-1000000), "unknown error");
}

static void test_fail_records_and_returns(void **state)
{
	(void)state;
	assert_int_equal(fl_fail(FL_ERR_DATA, "%s:%zu: column \"%s\": \"%s\" is not a number",
	                         "leads.csv", (size_t)42, "visits", "abc"),
	                 FL_ERR_DATA);
	assert_string_equal(fl_errmsg(),
	                    "leads.csv:42: column \"visits\": \"abc\" is not a number");
	/* The next failure replaces the message. */
	assert_int_equal(fl_fail(FL_ERR_IO, "state: cannot create"), FL_ERR_IO);
	assert_string_equal(fl_errmsg(), "state: cannot create");
	fl_err_clear();
	assert_string_equal(fl_errmsg(), "");
	/* A code is returned as given, even one without a text. */
	assert_int_equal(fl_fail(-77, "odd"), -77);
	assert_string_equal(fl_errmsg(), "odd");
	fl_fail(FL_ERR_INVALID, "%s", "");
	assert_string_equal(fl_errmsg(), "");
}

/* A message longer than the buffer is cut to FL_ERRMSG_MAX - 1 bytes, its
 * beginning kept, and is still a string. */
static void test_fail_truncates(void **state)
{
	char text[3 * FL_ERRMSG_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(text) - 1; i++)
		text[i] = (char)('a' + i % 26);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(fl_fail(FL_ERR_DATA, "row: %s", text), FL_ERR_DATA);
	assert_int_equal(strlen(fl_errmsg()), FL_ERRMSG_MAX - 1);
	assert_memory_equal(fl_errmsg(), "row: ", 5);
	assert_memory_equal(fl_errmsg() + 5, text, FL_ERRMSG_MAX - 1 - 5);

	/* One byte short of the limit fits whole. */
	text[FL_ERRMSG_MAX - 1] = '\0';
	fl_fail(FL_ERR_DATA, "%s", text);
	assert_string_equal(fl_errmsg(), text);
}

/*
 * The regression behind `fedlead-score --verify-ca CA pooled.fdl` printing
 * "pooled.fdl: pooled.fdl: pooled.": a message that adds context to the one
 * it replaces, passed fl_errmsg() as an argument.
 */
static void test_fail_with_own_message(void **state)
{
	char longer[FL_ERRMSG_MAX];

	(void)state;
	fl_fail(FL_ERR_AUTH, "model is not signed");
	assert_int_equal(fl_fail(FL_ERR_AUTH, "%s: %s", "pooled.fdl", fl_errmsg()), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(), "pooled.fdl: model is not signed");
	/* Twice over, and with the old message first. */
	fl_fail(FL_ERR_IO, "%s/%s: %s", "state", "checkpoint", fl_errmsg());
	assert_string_equal(fl_errmsg(), "state/checkpoint: pooled.fdl: model is not signed");
	fl_fail(FL_ERR_IO, "%s (round %d)", fl_errmsg(), 3);
	assert_string_equal(fl_errmsg(),
	                    "state/checkpoint: pooled.fdl: model is not signed (round 3)");

	/* A full-length message with context added is cut at the limit. */
	memset(longer, 'z', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	fl_fail(FL_ERR_DATA, "%s", longer);
	fl_fail(FL_ERR_DATA, "f.csv: %s", fl_errmsg());
	assert_int_equal(strlen(fl_errmsg()), FL_ERRMSG_MAX - 1);
	assert_memory_equal(fl_errmsg(), "f.csv: zzz", 10);
}

struct thread_result {
	char before[64];     /* the new thread's message before it fails */
	char after[64];      /* its message after its own fl_fail */
	char after_main[64]; /* its message after the main thread failed again */
	pthread_barrier_t *sync;
};

static void *other_thread(void *arg)
{
	struct thread_result *t = arg;

	snprintf(t->before, sizeof(t->before), "%s", fl_errmsg());
	fl_fail(FL_ERR_NUMERIC, "worker %d: no descent", 2);
	snprintf(t->after, sizeof(t->after), "%s", fl_errmsg());
	pthread_barrier_wait(t->sync); /* main fails now */
	pthread_barrier_wait(t->sync);
	snprintf(t->after_main, sizeof(t->after_main), "%s", fl_errmsg());
	return NULL;
}

/* error.h promises one message per thread: worker threads do not overwrite
 * each other's, nor the main thread's. */
static void test_message_per_thread(void **state)
{
	pthread_barrier_t sync;
	struct thread_result t = {.sync = &sync};
	pthread_t th;

	(void)state;
	assert_int_equal(pthread_barrier_init(&sync, NULL, 2), 0);
	fl_fail(FL_ERR_DATA, "main: bad row");
	assert_int_equal(pthread_create(&th, NULL, other_thread, &t), 0);
	pthread_barrier_wait(&sync);
	assert_string_equal(fl_errmsg(), "main: bad row");
	fl_fail(FL_ERR_IO, "main: second failure");
	pthread_barrier_wait(&sync);
	assert_int_equal(pthread_join(th, NULL), 0);
	pthread_barrier_destroy(&sync);
	assert_string_equal(t.before, "");
	assert_string_equal(t.after, "worker 2: no descent");
	assert_string_equal(t.after_main, "worker 2: no descent");
	assert_string_equal(fl_errmsg(), "main: second failure");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_strerror_every_code),
	        cmocka_unit_test(test_fail_records_and_returns),
	        cmocka_unit_test(test_fail_truncates),
	        cmocka_unit_test(test_fail_with_own_message),
	        cmocka_unit_test(test_message_per_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
