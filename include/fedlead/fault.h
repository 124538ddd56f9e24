/*
 * Fault points for the crash and synchronisation tests.
 *
 * A fault point is a named place in the protocol, fl_fault_point("keys", 5):
 * the coordinator has just sent round 5's key list. The environment variable
 * FEDLEAD_FAULT selects what happens there. It is a comma-separated list of
 *   STEP@ROUND        the process logs "fault injection: killed at STEP@ROUND"
 *                     (warn) and kills itself with SIGKILL, exactly as
 *                     kill -9 would at that point;
 *   pause@STEP@ROUND  the process logs "fault point STEP@ROUND: paused"
 *                     (warn), then stops itself with SIGSTOP; a test that has
 *                     waited for that line (and for the process to be
 *                     stopped) does what it must: kill -9, inspect files,
 *                     change the disk, and resumes it with SIGCONT, after
 *                     which it logs "fault point STEP@ROUND: resumed". Each
 *                     pause item stops the process the first time its point
 *                     is reached only.
 * e.g. FEDLEAD_FAULT=pause@task@2,pause@task@3,keys@5.
 *
 * The points exist only in a build configured with -DFL_FAULT_INJECTION=ON
 * (the test build). Otherwise fl_fault_point() is an empty inline function
 * and the programs contain no trace of FEDLEAD_FAULT: a release binary has
 * no hook that stops or kills it.
 */
#ifndef FEDLEAD_FAULT_H
#define FEDLEAD_FAULT_H

#include <stdint.h>

/*
 * A hostile partner, for the tests that check it is named and excluded
 * (tests/e2e/hostile_partner.sh, tests/test_secagg.c): the environment
 * variable FEDLEAD_HOSTILE is a comma-separated list of ACT@ROUND, and the
 * secure-aggregation engine of a node deviates where fl_fault_hostile(ACT,
 * ROUND) says so:
 *   bad-share@R     deals one peer a share its signed commitment does not match
 *   inconsistent@R  commits to and deals a share off its polynomial
 *   bad-sig@R       signs one peer's share commitment wrongly
 *   bad-reveal@R    reveals a share other than the one it was dealt (and
 *                   signs its reply as it is: the evidence against it)
 *   bad-reveal-sig@R  signs its unmask reply wrongly
 *   false-accuse@R  accuses a dealer whose share matched
 *   short-masked@R  sends a masked update one value short
 * Like the fault points, compiled in only with FL_FAULT_INJECTION.
 */
#ifdef FL_FAULT_INJECTION
/* Acts as FEDLEAD_FAULT says when it names step@round; otherwise returns at
 * once (the cost of one getenv()). Not thread-safe: called from the event
 * loops' thread only. */
void fl_fault_point(const char *step, uint64_t round);
/* 1 when FEDLEAD_HOSTILE names act@round (logging "hostile partner (test
 * build): ACT@ROUND" as a warning), else 0. */
int fl_fault_hostile(const char *act, uint64_t round);
#else
static inline void fl_fault_point(const char *step, uint64_t round)
{
	(void)step;
	(void)round;
}
static inline int fl_fault_hostile(const char *act, uint64_t round)
{
	(void)act;
	(void)round;
	return 0;
}
#endif

#endif
