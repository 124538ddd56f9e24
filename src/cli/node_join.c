/*
 * fedlead-node join: takes part in a federation, with its settings from the
 * node's key table (node_config.h), a config file and flags.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "cli/node_int.h"
#include "cli/node_schema_round.h"
#include "cli/pg_options.h"
#include "fedlead/cli.h"
#include "fedlead/client.h"
#include "fedlead/commands.h"
#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/mapping.h"
#include "fedlead/node_config.h"
#include "fedlead/schema.h"

enum { JOPT_CONFIG = 1500, JOPT_CHECK, JOPT_HELP };

static const struct option join_extra[] = {
        {"config", required_argument, NULL, JOPT_CONFIG},
        {"check", no_argument, NULL, JOPT_CHECK},
        {"help", no_argument, NULL, JOPT_HELP},
        {NULL, 0, NULL, 0},
};

static int join_option(int ch, const char *arg, void *ctx)
{
	(void)arg;
	switch (ch) {
	case JOPT_CONFIG: return 0;
	case JOPT_CHECK: *(int *)ctx = 1; return 0;
	case JOPT_HELP:
		printf("usage: fedlead-node join [--config NODE.conf] [--SETTING VALUE]... "
		       "[--check]\n\n"
		       "Takes part in a federation: connects to the coordinator over mutual TLS "
		       "1.3,\n"
		       "answers its tasks with sums over this partner's rows (never a row), and\n"
		       "saves the final model after checking the coordinator's signature.\n\n"
		       "Settings (config file section in brackets):\n");
		fl_config_usage(fl_node_config_keys, stdout);
		return FL_CLI_STOP;
	}
	return fl_fail(FL_ERR_INTERNAL, "join: option %d is not handled", ch);
}

/* --check: the schema (and the mapping, against it) loads and the
 * certificates make a TLS context. */
static int check_only(const struct fl_node_config *c, const struct fl_node_opts *o)
{
	struct fl_schema *s = NULL;
	SSL_CTX *ctx = NULL;
	int r;

	if ((r = fl_schema_load(c->schema, &s)) == 0 && o->mapping_path != NULL &&
	    (r = fl_mapping_load(o->mapping_path, &s->mapping)) == 0)
		r = fl_mapping_check_schema(s->mapping, s);
	if (r == 0 && (r = fl_tls_client_ctx(&o->tls, &ctx)) == 0)
		fl_config_dump(fl_node_config_keys, c, stdout);
	SSL_CTX_free(ctx);
	fl_schema_free(s);
	return r;
}

int fl_cmd_node_join(int argc, char **argv)
{
	struct fl_node_config c = {0};
	struct fl_node_opts o;
	int check = 0, r;

	r = fl_cli_configure(fl_node_config_keys, &c, argc, argv, join_extra, join_option, &check);
	if (r == FL_CLI_STOP) {
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	fl_log_init(FL_NODE_PROG, (enum fl_log_level)c.log_level);
	/* An approved schema is pinned: no other one leaves this node. */
	if ((r = fl_cli_node_query(&c)) == 0 && (r = fl_node_config_opts(&c, &o)) == 0 &&
	    (r = fl_node_schema_pin_check(&c)) == 0)
		r = check ? check_only(&c, &o) : fl_node_run(&o);
out:
	if (r != 0)
		fl_cli_error(FL_NODE_PROG, r);
	fl_node_config_free(&c);
	return fl_cli_exit_code(r);
}
