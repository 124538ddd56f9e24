/*
 * What the command-line programs share: exit codes, checked number parsing,
 * option errors, configuration from a key table, and a table of
 * subcommands that main() dispatches and --help lists.
 *
 * The functions that parse or configure report through fl_fail() and never
 * print; the command that gets the error prints it once, with
 * fl_cli_error(). Only fl_cli_error(), fl_cli_load_notices(),
 * fl_cli_close_stdout(), fl_cli_commands_usage() and fl_cli_dispatch() write,
 * and they are for the programs' commands (commands.h).
 */
#ifndef FEDLEAD_CLI_H
#define FEDLEAD_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "fedlead/encode.h"
#include "fedlead/train.h"

/* Exit codes of every fedlead program. */
#define FL_EXIT_OK 0
#define FL_EXIT_FAILURE 1 /* runtime failure: I/O, network, numerics */
#define FL_EXIT_USAGE 2   /* bad usage or bad input */

/* The exit code for a library error code: 0 for 0, FL_EXIT_USAGE for bad
 * input (INVALID, SCHEMA, DATA, MODEL, CONFIG, LIMIT), else FL_EXIT_FAILURE. */
int fl_cli_exit_code(int err);

/*
 * Parse option values. Return 0, or FL_ERR_INVALID with fl_errmsg() quoting
 * the option and the text: "OPT: \"TEXT\" is not a number" (strtod, finite,
 * whole text), "OPT: \"TEXT\" is not a non-negative whole number" (decimal
 * digits only: no sign, no blank), "--bad-rows: \"TEXT\" is not fail or skip".
 * *out is untouched on failure.
 */
int fl_cli_double(const char *opt, const char *text, double *out);
int fl_cli_u64(const char *opt, const char *text, uint64_t *out);
int fl_cli_bad_rows(const char *text, enum fl_bad_rows *out);
/* --delimiter, --encoding, --decimal, --thousands, --currency: the option's
 * name (without "--") is the dialect's key; errors name "--KEY". */
int fl_cli_dialect_option(const char *key, const char *text, struct fl_csv_dialect *d,
                          unsigned *set);

/*
 * After getopt_long() returned c, '?' (unknown or ambiguous option) or ':'
 * (value missing; the option string must start with ':'), with opterr 0:
 * returns FL_ERR_INVALID with fl_errmsg() "unrecognized option \"--bogus\"
 * (see --help)" or "option \"--l2\" needs a value (see --help)". getopt's own
 * messages are not used because they name argv[0], which for a subcommand
 * is the command ("train: unrecognized option").
 */
int fl_cli_bad_option(int c, char **argv);

/* Prints "PROG: MESSAGE" on stderr for the last failure (fl_errmsg(), or the
 * code's text when there is none). */
void fl_cli_error(const char *prog, int err);

/* Notices about skipped rows and ignored columns, on stderr. */
void fl_cli_load_notices(const char *prog, const char *path, const struct fl_load_report *rep);

/*
 * Flushes stdout: results that could not be written (a full disk, a closed
 * pipe) must not end in exit status 0. Prints "PROG: cannot write standard
 * output: REASON" and returns FL_EXIT_FAILURE if code was 0; otherwise
 * returns code.
 */
int fl_cli_close_stdout(const char *prog, int code);

/*
 * Progress lines for long work: at most one a second, and none in the first
 * second, so short work prints nothing. Times are seconds of the monotonic
 * clock (fl_cli_now()).
 */
struct fl_cli_progress {
	double start, last;
};
double fl_cli_now(void);
void fl_cli_progress_start(struct fl_cli_progress *pg, double now);
/* 1 when a line is due at now (and it counts as printed), else 0. */
int fl_cli_progress_due(struct fl_cli_progress *pg, double now);
/*
 * One line of training progress, without the program's name:
 * "train: l2 search, l2 100 (run 3 of 8), iteration 4, objective 12.5;
 * 12 s elapsed, about 20 s left" (the estimate from the runs finished, so
 * none during the first).
 */
void fl_cli_train_progress_text(const struct fl_train_progress *p, double elapsed, char *buf,
                                size_t n);

/*
 * One line of reading progress, without the program's name: "check:
 * reading leads.csv: 1048575 rows, 45 %; 12 s elapsed, about 15 s left"
 * ("(pass 2)" after the file's name on a second pass; no percentage or
 * estimate for a pipe; left < 0: no estimate yet).
 */
struct fl_csv_progress;
void fl_cli_read_progress_text(const char *cmd, const struct fl_csv_progress *p, double elapsed,
                               double left, char *buf, size_t n);
/*
 * Reading progress on stderr for command cmd of program prog, at most a
 * line a second (fl_cli_progress_due()), for every file the command reads
 * from now on; on = 0 turns it off (--quiet).
 */
void fl_cli_read_progress(const char *prog, const char *cmd, int on);

struct fl_cfg_key;
struct option;

#define FL_CLI_STOP 1000

/*
 * Settings from defaults, then the file named by --config, then one flag per
 * key (--NAME VALUE). Other options (extra, with val >= 256 and below 2000)
 * are passed to on_extra(ch, optarg, ctx), which returns 0 to go on,
 * FL_CLI_STOP to stop with success (after --help, say), or a negative
 * FL_ERR_* (with fl_fail()). argv[0] is skipped.
 * Returns 0 to go on, FL_CLI_STOP, or a negative FL_ERR_* with fl_errmsg()
 * saying what was wrong: the file's error (config.h), a flag's value
 * ("--l2: \"abc\" is not a number or \"auto\""), an unknown option or a
 * missing value (fl_cli_bad_option()), "unexpected argument \"x\"".
 */
int fl_cli_configure(const struct fl_cfg_key *keys, void *obj, int argc, char **argv,
                     const struct option *extra,
                     int (*on_extra)(int ch, const char *arg, void *ctx), void *ctx);

/* ---- subcommands (wireguard-tools' wg.c) ---- */

struct fl_cli_cmd {
	const char *name;
	/* Runs the command: argv[0] is its name, argv[1..] its arguments.
	 * Returns the program's exit code. */
	int (*main)(int argc, char **argv);
	/* What it does, for --help; a long text goes on with '\n' and is
	 * indented under the first line. */
	const char *help;
	/* The command answers --help itself; otherwise "--help" anywhere on
	 * its command line prints the program's usage. */
	int own_help;
};

/* The command at name in cmds (ended by an entry with name NULL), or NULL. */
const struct fl_cli_cmd *fl_cli_find(const struct fl_cli_cmd *cmds, const char *name);

/* Prints one "NAME     HELP" paragraph per command, names in one column. */
void fl_cli_commands_usage(const struct fl_cli_cmd *cmds, FILE *fp);

/*
 * The main() of a program with subcommands: with no command, prints usage
 * on stderr and returns FL_EXIT_USAGE; "--help"/"-h" prints usage on stdout
 * (also after any command that does not answer it itself); "--version"
 * prints "PROG VERSION"; an unknown command is "PROG: unknown command \"x\"
 * (see --help)" and FL_EXIT_USAGE. Otherwise returns the command's exit code.
 */
int fl_cli_dispatch(const char *prog, const struct fl_cli_cmd *cmds, void (*usage)(FILE *fp),
                    int argc, char **argv);

#endif
