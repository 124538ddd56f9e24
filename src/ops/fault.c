/*
 * Fault points (include/fedlead/fault.h). Compiled to nothing unless the
 * build is configured with -DFL_FAULT_INJECTION=ON.
 */
#include "fedlead/fault.h"

#ifdef FL_FAULT_INJECTION

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/log.h"

/* Pause items already used, by position in the list: each pauses once, so
 * a point reached again (a round restarted with fresh keys) runs on. */
#define FAULT_ITEMS_MAX 64
static unsigned char paused_already[FAULT_ITEMS_MAX];

void fl_fault_point(const char *step, uint64_t round)
{
	const char *f = getenv("FEDLEAD_FAULT"), *item, *end;
	char want[128];
	size_t wlen, len;
	int pause, i;

	if (f == NULL || f[0] == '\0')
		return;
	snprintf(want, sizeof(want), "%s@%llu", step, (unsigned long long)round);
	wlen = strlen(want);
	for (item = f, i = 0; *item != '\0'; item = *end == ',' ? end + 1 : end, i++) {
		end = strchr(item, ',');
		if (end == NULL)
			end = item + strlen(item);
		len = (size_t)(end - item);
		pause = len > 6 && strncmp(item, "pause@", 6) == 0;
		if (pause) {
			item += 6;
			len -= 6;
		}
		if (len != wlen || strncmp(item, want, wlen) != 0)
			continue;
		if (!pause) {
			fl_log(FL_LOG_WARN, "fault injection: killed at %s", want);
			raise(SIGKILL);
		}
		if (i < FAULT_ITEMS_MAX && paused_already[i])
			continue;
		if (i < FAULT_ITEMS_MAX)
			paused_already[i] = 1;
		/* The line is written (one write(2)) before the stop, so a test
		 * that sees it knows the process is at this point for good. */
		fl_log(FL_LOG_WARN, "fault point %s: paused", want);
		raise(SIGSTOP);
		fl_log(FL_LOG_WARN, "fault point %s: resumed", want);
	}
}

int fl_fault_hostile(const char *act, uint64_t round)
{
	const char *f = getenv("FEDLEAD_HOSTILE"), *item, *end;
	char want[128];
	size_t wlen;

	if (f == NULL || f[0] == '\0')
		return 0;
	snprintf(want, sizeof(want), "%s@%llu", act, (unsigned long long)round);
	wlen = strlen(want);
	for (item = f; *item != '\0'; item = *end == ',' ? end + 1 : end) {
		end = strchr(item, ',');
		if (end == NULL)
			end = item + strlen(item);
		if ((size_t)(end - item) == wlen && strncmp(item, want, wlen) == 0) {
			fl_log(FL_LOG_WARN, "hostile partner (test build): %s", want);
			return 1;
		}
	}
	return 0;
}

#endif
