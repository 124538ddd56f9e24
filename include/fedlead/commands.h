/*
 * The programs' commands, one per file in src/cli/. Each takes its command
 * line with argv[0] its own name (for fedlead-node's subcommands, the
 * subcommand: "train"), prints its results and its errors, and returns the
 * program's exit code (cli.h: 0 ok, 1 runtime failure, 2 usage or bad
 * input). src/bin/ holds only the main()s that dispatch to them.
 */
#ifndef FEDLEAD_COMMANDS_H
#define FEDLEAD_COMMANDS_H

/* fedlead-node's subcommands. */
int fl_cmd_node_schema(int argc, char **argv);  /* node_schema.c */
int fl_cmd_node_check(int argc, char **argv);   /* node_check.c */
int fl_cmd_node_train(int argc, char **argv);   /* node_train.c */
int fl_cmd_node_cache(int argc, char **argv);   /* node_cache.c */
int fl_cmd_node_inspect(int argc, char **argv); /* node_inspect.c */
int fl_cmd_node_join(int argc, char **argv);    /* node_join.c */
int fl_cmd_node_privacy(int argc, char **argv); /* node_privacy.c */

/* fedlead-score (score_main.c). */
int fl_cmd_score(int argc, char **argv);
/* fedlead-score serve (score_serve.c): the scoring service. */
int fl_cmd_score_serve(int argc, char **argv);

/* fedlead-coordinator (coordinator_main.c). */
int fl_cmd_coordinator(int argc, char **argv);

#endif
