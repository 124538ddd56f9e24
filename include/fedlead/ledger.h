/*
 * A partner's privacy ledger: every release of its data, on disk, before the
 * release leaves the site.
 *
 * The node records a release (its zCDP cost rho, the federation, round and
 * kind) and fsyncs the ledger BEFORE it sends anything derived from its
 * data. So after a crash at any moment the ledger holds every release that
 * may have been sent; a release recorded but never sent only makes the
 * budget stricter. A partner's budget is a (epsilon, delta) over a window of
 * time (or forever); fl_ledger_charge() refuses a release that would take
 * the window's total past it.
 *
 * The file is text, one line per release, append-only:
 *   fedlead-ledger 1
 *   <unix seconds> <rho in 1e-12 units> <federation> <round> <kind> <chain>
 * rho is rounded up to whole 1e-12 units, so sums and the budget comparison
 * are exact integer arithmetic: a release that lands exactly on the budget
 * is allowed, one unit more is refused. <chain> is the first 16 bytes (hex)
 * of SHA-256 over the previous line's chain and this line's other fields, so
 * an edited or deleted line in the middle is detected (a truncated end is
 * not: the ledger protects the partner from a coordinator, not from its
 * own operator).
 *
 * A last line without its newline is the trace of a write interrupted by a
 * crash (the release it names was never sent, because the fsync had not
 * returned): fl_ledger_open() removes it and says so. Any other damage is an
 * error naming the file and line, and the node then refuses to release
 * anything until a person looks.
 */
#ifndef FEDLEAD_LEDGER_H
#define FEDLEAD_LEDGER_H

#include <stddef.h>
#include <stdint.h>

/* Units of rho stored per 1.0. */
#define FL_LEDGER_UNITS 1000000000000.0

/* Longest federation id and kind written to the ledger. */
#define FL_LEDGER_MAX_NAME 64

struct fl_release {
	int64_t time;     /* unix seconds */
	uint64_t rho_e12; /* cost in 1e-12 units of rho */
	char federation[FL_LEDGER_MAX_NAME + 1];
	uint64_t round;
	char kind[FL_LEDGER_MAX_NAME + 1]; /* e.g. "stats", "evaluate", "validate" */
};

struct fl_ledger;

/*
 * Opens the ledger at path, creating it (mode 0600) when create is set and
 * it does not exist, and takes an exclusive lock on it for as long as it is
 * open (two nodes on one ledger would each see only half the releases).
 * Verifies every line. *repaired is set to 1 when a torn last line was
 * removed. Errors (FL_ERR_IO, FL_ERR_DATA) name the file and, for damage,
 * the line: "LEDGER:7: the chain does not match: the line was changed or
 * a line before it removed".
 */
int fl_ledger_open(const char *path, int create, struct fl_ledger **out, int *repaired);

/* Releases the lock. Accepts NULL. */
void fl_ledger_close(struct fl_ledger *l);

/* rho rounded up to ledger units. */
uint64_t fl_ledger_units(double rho);

/* Units spent by releases at or after since (0: all of them). */
uint64_t fl_ledger_spent(const struct fl_ledger *l, int64_t since);

/*
 * Records rel if spent(since) + rel->rho_e12 <= budget_e12, and fsyncs the
 * file and its directory before returning 0. Otherwise FL_ERR_LIMIT with
 * "privacy budget exceeded: this release costs rho R, the window has spent
 * S of B (epsilon E, delta D)" (the caller adds epsilon and delta to the
 * message through its own context; this module knows only rho). Nothing is
 * written on refusal.
 */
int fl_ledger_charge(struct fl_ledger *l, const struct fl_release *rel, uint64_t budget_e12,
                     int64_t since);

/* The releases recorded, oldest first. */
size_t fl_ledger_count(const struct fl_ledger *l);
const struct fl_release *fl_ledger_entry(const struct fl_ledger *l, size_t i);

#endif
