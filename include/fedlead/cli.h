/*
 * Helpers shared by the command-line programs: checked number parsing,
 * exit codes and the reporting of load results.
 */
#ifndef FEDLEAD_CLI_H
#define FEDLEAD_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "fedlead/encode.h"

/* Exit codes of every fedlead program. */
#define FL_EXIT_OK 0
#define FL_EXIT_FAILURE 1 /* runtime failure: I/O, network, numerics */
#define FL_EXIT_USAGE 2   /* bad usage or bad input */

/* The exit code for a library error code. */
int fl_cli_exit_code(int err);

/*
 * Parses option values; on failure prints "PROG: --OPT: "TEXT" is not ..." to
 * stderr and returns -1.
 */
int fl_cli_double(const char *prog, const char *opt, const char *text, double *out);
int fl_cli_u64(const char *prog, const char *opt, const char *text, uint64_t *out);
int fl_cli_bad_rows(const char *prog, const char *text, enum fl_bad_rows *out);

/* Prints "PROG: MESSAGE" for the last failure (fl_errmsg, or the code's text). */
void fl_cli_error(const char *prog, int err);

struct fl_cfg_key;
struct option;

#define FL_CLI_STOP 1000

/*
 * Settings from defaults, then the file named by --config, then one flag per
 * key (--NAME VALUE). Other options (extra, with val >= 256 and below 2000)
 * are passed to on_extra(ch, optarg, ctx), which returns 0 to go on,
 * FL_CLI_STOP to stop with success (after --help, say), or < 0 on a usage
 * error.
 * Returns 0 to go on, or FL_CLI_STOP, or an exit code to stop with (errors
 * are printed).
 */
int fl_cli_configure(const char *prog, const struct fl_cfg_key *keys, void *obj, int argc,
		     char **argv, const struct option *extra,
		     int (*on_extra)(int ch, const char *arg, void *ctx), void *ctx);

/* Notices about skipped rows and ignored columns, on stderr. */
void fl_cli_load_notices(const char *prog, const char *path, const struct fl_load_report *rep);

#endif
