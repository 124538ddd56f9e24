/*
 * fedlead-node: runs at a partner's site. Drafts and checks lead schemas,
 * validates lead exports, trains local models and takes part in
 * federations. Each subcommand is a file in src/cli/ (node_*.c).
 */
#include <locale.h>
#include <stdio.h>

#include "fedlead/cli.h"
#include "fedlead/commands.h"

static const char *prog = "fedlead-node";

static const struct fl_cli_cmd commands[] = {
        {"schema", fl_cmd_node_schema,
         "drafts a lead schema from a CSV for a person to review; merge, propose\n"
         "and approve agree on one for the federation",
         0},
        {"check", fl_cmd_node_check,
         "validates a lead file against a schema and summarises each column", 0},
        {"train", fl_cmd_node_train, "trains a local-only conversion model and prints its metrics",
         0},
        {"cache", fl_cmd_node_cache,
         "converts a lead CSV once into a binary cache that train --cache\n"
         "streams from disk, for data larger than memory",
         0},
        {"inspect", fl_cmd_node_inspect, "prints a model's drivers and provenance", 0},
        {"join", fl_cmd_node_join, "takes part in a federation (see fedlead-node join --help)", 1},
        {"privacy", fl_cmd_node_privacy,
         "prints the privacy ledger: the budget, what is spent and left, per federation", 1},
        {NULL, NULL, NULL, 0},
};

static void usage(FILE *fp)
{
	fprintf(fp,
	        "usage: fedlead-node schema --data LEADS.csv --label COLUMN [--id COLUMN]\n"
	        "                           [--positive VALUE] [--max-levels N] [--out "
	        "SCHEMA.json]\n"
	        "                           [--quiet]\n"
	        "       fedlead-node schema merge A.json B.json... [--out MERGED.json]\n"
	        "       fedlead-node schema propose --config NODE.conf --label COLUMN [--draft "
	        "FILE]\n"
	        "       fedlead-node schema approve PROPOSAL.json --config NODE.conf\n"
	        "       fedlead-node check --schema SCHEMA.json --data LEADS.csv [--no-label]\n"
	        "                          [--bad-rows fail|skip]\n"
	        "       fedlead-node train --schema SCHEMA.json --data LEADS.csv --out MODEL.fdl\n"
	        "                          [--l2 LAMBDA|auto] [--solver newton|lbfgs|sgd]\n"
	        "                          [--validation-split FRACTION] [--class-weight "
	        "W|balanced]\n"
	        "                          [--cv auto|exact|approx] [--seed N] [--threads N|auto]\n"
	        "                          [--bad-rows fail|skip]\n"
	        "                          [--quiet]\n"
	        "       fedlead-node cache --schema SCHEMA.json --data LEADS.csv --out LEADS.flc\n"
	        "                          [--bad-rows fail|skip] [--quiet]\n"
	        "       fedlead-node train --schema SCHEMA.json --cache LEADS.flc --out MODEL.fdl\n"
	        "                          [--l2 LAMBDA] [--solver newton|lbfgs]\n"
	        "                          [--class-weight W|balanced] [--threads N|auto] "
	        "[--quiet]\n"
	        "       fedlead-node inspect MODEL.fdl\n"
	        "       fedlead-node join [--config NODE.conf] [--SETTING VALUE]... [--check]\n"
	        "       fedlead-node privacy [--config NODE.conf] [--SETTING VALUE]...\n"
	        "       fedlead-node --version | --help\n"
	        "\n"
	        "Every command that reads LEADS.csv also takes --delimiter ,|;|tab|'|' (the\n"
	        "field separator; detected from the header by default) and --encoding\n"
	        "windows-1252|latin1 (for a file that is not UTF-8; converted as it is read),\n"
	        "and --mapping MAPPING.json: this partner's names for the schema's columns and\n"
	        "values, applied as the file is read (join: mapping = FILE in [node]).\n"
	        "Each takes the rows of a PostgreSQL query instead: --data CONNINFO --query\n"
	        "SELECT (a libpq connection string; passwords from PGPASSFILE or the service\n"
	        "file) with --key COLUMN, the column naming a row in messages (join: data,\n"
	        "query and query_key in [node]).\n"
	        "\n");
	fl_cli_commands_usage(commands, fp);
	fprintf(fp, "\nExit status: 0 success, 1 runtime failure, 2 bad usage or bad input.\n");
}

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "C");
	return fl_cli_close_stdout(prog, fl_cli_dispatch(prog, commands, usage, argc, argv));
}
