/*
 * fedlead-node privacy: prints this partner's privacy ledger (every release
 * of its data under differential privacy), what the window has spent and
 * what is left, per federation. Reads the same settings as join (the
 * privacy keys and state_dir, or model_out's directory).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/node_int.h"
#include "fedlead/accountant.h"
#include "fedlead/cli.h"
#include "fedlead/commands.h"
#include "fedlead/error.h"
#include "fedlead/ledger.h"
#include "fedlead/node_config.h"

enum { POPT_CONFIG = 1600, POPT_HELP };

static const struct option privacy_extra[] = {
        {"config", required_argument, NULL, POPT_CONFIG},
        {"help", no_argument, NULL, POPT_HELP},
        {NULL, 0, NULL, 0},
};

static int privacy_option(int ch, const char *arg, void *ctx)
{
	(void)arg;
	(void)ctx;
	switch (ch) {
	case POPT_CONFIG: return 0;
	case POPT_HELP:
		printf("usage: fedlead-node privacy [--config NODE.conf] [--SETTING VALUE]...\n\n"
		       "Prints the node's privacy ledger (STATE_DIR/privacy.ledger): the budget\n"
		       "(privacy_epsilon, privacy_delta per privacy_window), what the window has\n"
		       "spent and what is left, and each federation's releases. The ledger is\n"
		       "locked while a node runs on it.\n");
		return FL_CLI_STOP;
	}
	return fl_fail(FL_ERR_INTERNAL, "privacy: option %d is not handled", ch);
}

/* STATE_DIR/privacy.ledger (next to model_out without a state_dir). */
static char *ledger_path(const struct fl_node_config *c)
{
	char *out;

	if (c->state_dir == NULL && c->model_out == NULL) {
		fl_fail(FL_ERR_CONFIG, "setting \"state_dir\" or \"model_out\" is required "
		                       "(config file or --state_dir) to find the ledger");
		return NULL;
	}
	if ((out = fl_node_config_state_path(c, "privacy.ledger")) == NULL)
		fl_fail(FL_ERR_NOMEM, "out of memory");
	return out;
}

static int show(const struct fl_node_config *c, const char *path)
{
	struct fl_ledger *l = NULL;
	double budget, spent, delta = c->privacy_delta;
	int64_t since = (int64_t)time(NULL) - (int64_t)c->privacy_window;
	int r, repaired = 0;
	size_t n;

	if (access(path, F_OK) != 0) {
		printf("privacy ledger %s: none yet, nothing released under differential privacy\n",
		       path);
		return 0;
	}
	if ((r = fl_ledger_open(path, 0, &l, &repaired)) != 0)
		return r;
	n = fl_ledger_count(l);
	spent = fl_ledger_spent(l, since) / FL_LEDGER_UNITS;
	printf("privacy ledger %s: %zu release%s\n", path, n, n == 1 ? "" : "s");
	if (c->privacy_epsilon > 0) {
		budget = floor(fl_dp_rho_budget(c->privacy_epsilon, delta) * FL_LEDGER_UNITS) /
		         FL_LEDGER_UNITS;
		printf("budget: epsilon %g, delta %g per %.0f s (rho %.6g)\n", c->privacy_epsilon,
		       delta, c->privacy_window, budget);
		printf("spent in the window: rho %.6g (epsilon %.4g); remaining: rho %.6g\n", spent,
		       fl_dp_epsilon(spent, delta), budget > spent ? budget - spent : 0.0);
	} else {
		printf("differential privacy is off (privacy_epsilon = 0); spent in the window: "
		       "rho "
		       "%.6g (epsilon %.4g at delta %g)\n",
		       spent, fl_dp_epsilon(spent, delta), delta);
	}
	printf("%-32s %8s %12s %9s %s\n", "federation", "releases", "rho", "epsilon",
	       "last release (UTC)");
	/* Federations in the order of their first release. */
	for (size_t i = 0; i < n; i++) {
		const struct fl_release *e = fl_ledger_entry(l, i);
		uint64_t units = 0, count = 0;
		int64_t last = 0;
		int seen = 0;
		char when[32];
		struct tm tm;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(fl_ledger_entry(l, j)->federation, e->federation) == 0;
		if (seen)
			continue;
		for (size_t j = i; j < n; j++) {
			const struct fl_release *f = fl_ledger_entry(l, j);

			if (strcmp(f->federation, e->federation) != 0)
				continue;
			units += f->rho_e12;
			count++;
			last = f->time > last ? f->time : last;
		}
		gmtime_r(&(time_t){(time_t)last}, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%-32s %8llu %12.6g %9.4g %s\n", e->federation, (unsigned long long)count,
		       units / FL_LEDGER_UNITS, fl_dp_epsilon(units / FL_LEDGER_UNITS, delta),
		       when);
	}
	fl_ledger_close(l);
	return 0;
}

int fl_cmd_node_privacy(int argc, char **argv)
{
	struct fl_node_config c = {0};
	char *path = NULL;
	int r;

	r = fl_cli_configure(fl_node_config_keys, &c, argc, argv, privacy_extra, privacy_option,
	                     NULL);
	if (r == FL_CLI_STOP) {
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	if ((path = ledger_path(&c)) == NULL) {
		r = c.state_dir == NULL && c.model_out == NULL ? FL_ERR_CONFIG : FL_ERR_NOMEM;
		goto out;
	}
	r = show(&c, path);
out:
	if (r != 0)
		fl_cli_error(FL_NODE_PROG, r);
	free(path);
	fl_node_config_free(&c);
	return fl_cli_exit_code(r);
}
