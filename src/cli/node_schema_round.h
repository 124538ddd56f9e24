/*
 * fedlead-node schema's subcommands for agreeing on one schema (merge,
 * propose, approve) and the schema pin that join checks
 * (node_schema_round.c).
 */
#ifndef FEDLEAD_CLI_NODE_SCHEMA_ROUND_H
#define FEDLEAD_CLI_NODE_SCHEMA_ROUND_H

#include <stdio.h>

#include "fedlead/schema_merge.h"

/* When argv[1] is "merge", "propose" or "approve": runs it, sets *rc to the
 * exit code and returns 1; otherwise returns 0 (the draft command). */
int fl_node_schema_sub(int argc, char **argv, int *rc);

/* The merge's notes and conflicts, one "fedlead-node: note: ..." or
 * "fedlead-node: conflict: ..." line each. */
void fl_node_print_merge(const struct fl_schema_merge_result *res, FILE *fp);

/*
 * The schema pin against the node's configured schema (join calls it before
 * it connects): 0 without a pin or when the schema's fingerprint is the
 * approved one; FL_ERR_CONFIG when a proposal waits for approval or the
 * schema is another ("schema S has fingerprint F..., not the one this
 * node's operator approved (P...): ...").
 */
struct fl_node_config;
int fl_node_schema_pin_check(const struct fl_node_config *c);

#endif
