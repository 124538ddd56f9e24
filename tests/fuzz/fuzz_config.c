/*
 * Fuzz target: configuration files. The input is an INI file (in a memfd)
 * read with fl_config_load against the coordinator's key table (copied from
 * src/bin/fedlead-coordinator.c; it has a key of every type). A file that
 * loads must dump as INI that loads back and dumps to the same text. The
 * first line is also given as a flag ("name=value") to fl_config_set, and
 * to fl_config_addr_split.
 *
 * The dump cannot carry a string with " ;" or starting with ";", or a line
 * longer than FL_CFG_MAX_LINE (config.h); those are left out of the round
 * trip.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/config.h"
#include "fedlead/error.h"
#include "fuzz_common.h"

/* clang-format off: the table as src/bin/fedlead-coordinator.c has it. */
struct cfg {
	char *id, *schema, *partners_file, *class_weight;
	struct fl_strlist partners;
	uint64_t min_partners, seed, max_iterations, rounds, local_epochs, local_batch, hist_bins;
	int algorithm, late_policy, log_level, secure;
	uint64_t threshold;
	double l2, validation_split, tolerance, local_lr, fedprox_mu, round_deadline, start_wait,
	        hello_timeout;
	char *listen, *http_listen, *port_file;
	uint64_t max_frame, max_connections;
	char *ca, *cert, *key, *crl;
	char *state_dir, *model_out, *audit_log, *dump_dir;
};

static const char *const algorithms[] = {"newton", "lbfgs", "fedavg", NULL};
static const char *const policies[] = {"wait", "drop", "abort", NULL};
static const char *const levels[] = {"debug", "info", "notice", "warn", "error", NULL};

#define K(sec, name, type, field, dflt, help)                                                      \
	{                                                                                          \
		sec, name, type, offsetof(struct cfg, field), NULL, 0, 0, dflt, help               \
	}
#define KR(sec, name, type, field, lo, hi, dflt, help)                                             \
	{                                                                                          \
		sec, name, type, offsetof(struct cfg, field), NULL, lo, hi, dflt, help             \
	}
#define KE(sec, name, field, choices, dflt, help)                                                  \
	{                                                                                          \
		sec, name, FL_CFG_ENUM, offsetof(struct cfg, field), choices, 0, 0, dflt, help     \
	}

static const struct fl_cfg_key keys[] = {
        K("federation", "id", FL_CFG_STRING, id, NULL, "federation id (required)"),
        K("federation", "schema", FL_CFG_PATH, schema, NULL, "the agreed lead schema (required)"),
        K("federation", "partners", FL_CFG_LIST, partners, NULL,
          "partner identities (certificate CN) allowed and expected, comma-separated"),
        K("federation", "partners_file", FL_CFG_PATH, partners_file, NULL,
          "more partner identities, one per line"),
        KR("federation", "min_partners", FL_CFG_U64, min_partners, 1, 100000, "1",
           "quorum: partners needed to start and to go on"),
        KE("federation", "algorithm", algorithm, algorithms, "newton", "newton, lbfgs or fedavg"),
        KR("federation", "l2", FL_CFG_L2, l2, 0, INFINITY, "1", "L2 strength, or auto"),
        K("federation", "class_weight", FL_CFG_STRING, class_weight, "1",
          "weight of converted leads, or balanced"),
        KR("federation", "validation_split", FL_CFG_DOUBLE, validation_split, 0, 0.99, "0.2",
           "fraction of each partner's rows held out for validation"),
        K("federation", "seed", FL_CFG_U64, seed, "1", "seed of the split and SGD shuffling"),
        KR("federation", "max_iterations", FL_CFG_U64, max_iterations, 1, 100000, "100",
           "Newton / L-BFGS iterations per l2 value"),
        KR("federation", "tolerance", FL_CFG_DOUBLE, tolerance, 1e-16, 1, "1e-10",
           "converged when the gradient norm is below tolerance x rows"),
        KR("federation", "rounds", FL_CFG_U64, rounds, 1, 100000, "20", "fedavg: rounds"),
        KR("federation", "local_epochs", FL_CFG_U64, local_epochs, 1, 10000, "2",
           "fedavg: local SGD epochs per round"),
        KR("federation", "local_batch", FL_CFG_U64, local_batch, 1, 1000000, "64",
           "fedavg: mini-batch rows"),
        KR("federation", "local_lr", FL_CFG_DOUBLE, local_lr, 1e-9, 100, "0.5",
           "fedavg: initial learning rate"),
        KR("federation", "fedprox_mu", FL_CFG_DOUBLE, fedprox_mu, 0, INFINITY, "0",
           "fedavg: FedProx proximal term (0 = plain FedAvg)"),
        KR("federation", "hist_bins", FL_CFG_U64, hist_bins, 2, 100000, "2000",
           "score histogram bins for federated AUC"),
        K("federation", "secure_aggregation", FL_CFG_BOOL, secure, "on",
          "mask every update so the coordinator learns only sums"),
        KR("federation", "threshold", FL_CFG_U64, threshold, 0, 255, "0",
           "secure aggregation: t of t-of-n (0 = more than half of the partners)"),
        KR("rounds", "round_deadline", FL_CFG_SECONDS, round_deadline, 0.001, 1e7, "5m",
           "time a round may take"),
        KE("rounds", "late_policy", late_policy, policies, "wait",
           "when a partner is late or gone: wait, drop or abort"),
        KR("rounds", "start_wait", FL_CFG_SECONDS, start_wait, 0, 1e7, "30s",
           "once the quorum is there, how long to wait for the other partners"),
        K("network", "listen", FL_CFG_ADDR, listen, "127.0.0.1:7443", "address for partners"),
        K("network", "http_listen", FL_CFG_ADDR, http_listen, "127.0.0.1:7080",
          "address of /healthz, /status, /metrics (empty: off)"),
        K("network", "port_file", FL_CFG_PATH, port_file, NULL,
          "write the bound ports here (for port 0)"),
        KR("network", "max_frame", FL_CFG_SIZE, max_frame, 1024, 1u << 30, "64M",
           "largest message accepted from a joined partner"),
        KR("network", "hello_timeout", FL_CFG_SECONDS, hello_timeout, 0.01, 3600, "10s",
           "time from connecting to the hello"),
        KR("network", "max_connections", FL_CFG_U64, max_connections, 1, 1000000, "1024",
           "open connections at most"),
        K("tls", "ca", FL_CFG_PATH, ca, NULL, "the federation's CA certificate (required)"),
        K("tls", "cert", FL_CFG_PATH, cert, NULL, "coordinator certificate (required)"),
        K("tls", "key", FL_CFG_PATH, key, NULL, "coordinator private key (required)"),
        K("tls", "crl", FL_CFG_PATH, crl, NULL, "certificate revocation list"),
        K("state", "state_dir", FL_CFG_PATH, state_dir, NULL, "checkpoints and lock (required)"),
        K("state", "model_out", FL_CFG_PATH, model_out, NULL,
          "the coordinator's copy of the model (default STATE_DIR/model.fdl)"),
        K("state", "audit_log", FL_CFG_PATH, audit_log, NULL, "JSON-lines audit log"),
        KE("state", "log_level", log_level, levels, "info", "debug, info, notice, warn, error"),
        K("state", "dump_dir", FL_CFG_PATH, dump_dir, NULL,
          "audit aid, off by default: write every payload received to this directory"),
        {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
/* clang-format on */

/* fl_config_dump() into a malloc'ed string. */
static char *dump(const struct cfg *c, size_t *len)
{
	char *text = NULL;
	FILE *fp = open_memstream(&text, len);

	if (fp == NULL)
		fz_die("open_memstream failed");
	if (fl_config_dump(keys, c, fp) != 0)
		fz_die("fl_config_dump: %s", fl_errmsg());
	if (fclose(fp) != 0)
		fz_die("open_memstream failed");
	return text;
}

/* A string value the dump cannot carry (config.h: " ;" starts a comment, and
 * the dump writes a blank before every value). */
static int has_comment(const struct cfg *c)
{
	for (const struct fl_cfg_key *k = keys; k->name != NULL; k++) {
		const char *s = NULL;

		if (k->type == FL_CFG_STRING || k->type == FL_CFG_PATH || k->type == FL_CFG_ADDR)
			s = *(char *const *)((const char *)c + k->offset);
		if (s != NULL && (s[0] == ';' || strstr(s, " ;") || strstr(s, "\t;")))
			return 1;
		if (k->type == FL_CFG_LIST) {
			const struct fl_strlist *l =
			        (const struct fl_strlist *)((const char *)c + k->offset);

			for (size_t i = 0; i < l->n; i++)
				if (strchr(l->v[i], ';'))
					return 1;
		}
	}
	return 0;
}

static void check_roundtrip(const struct cfg *c)
{
	struct cfg again;
	char *t1, *t2;
	size_t l1, l2;

	if (has_comment(c))
		return;
	t1 = dump(c, &l1);
	/* Nor can a line longer than a configuration line may be (a list dumps
	 * with ", " between items, so it can outgrow the line it was read from). */
	for (const char *line = t1; *line != '\0';) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (n > FL_CFG_MAX_LINE) {
			free(t1);
			return;
		}
		line += n + (nl != NULL);
	}
	memset(&again, 0, sizeof(again));
	if (fl_config_defaults(keys, &again) != 0)
		fz_die("fl_config_defaults: %s", fl_errmsg());
	if (fl_config_load(keys, &again, fz_memfile((const uint8_t *)t1, l1)) != 0)
		fz_die("a dumped configuration does not load: %s\n%s", fl_errmsg(), t1);
	t2 = dump(&again, &l2);
	if (l1 != l2 || memcmp(t1, t2, l1) != 0)
		fz_die("dump, load, dump differs:\n%s\n----\n%s", t1, t2);
	fl_config_free(keys, &again);
	free(t1);
	free(t2);
}

/* The first line as a flag: "name=value". */
static void check_flag(struct cfg *c, const uint8_t *data, size_t size)
{
	char line[512], *eq, host[FL_CFG_HOST_MAX];
	size_t n = 0;
	uint16_t port;

	while (n < size && n < sizeof(line) - 1 && data[n] != '\n' && data[n] != '\0') {
		line[n] = (char)data[n];
		n++;
	}
	line[n] = '\0';
	(void)fl_config_addr_split(line, host, sizeof(host), &port);
	if ((eq = strchr(line, '=')) == NULL)
		return;
	*eq = '\0';
	(void)fl_config_set(keys, c, line, eq + 1, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c;

	fz_init();
	memset(&c, 0, sizeof(c));
	if (fl_config_defaults(keys, &c) != 0)
		fz_die("fl_config_defaults: %s", fl_errmsg());
	if (fl_config_load(keys, &c, fz_memfile(data, size)) == 0)
		check_roundtrip(&c);
	check_flag(&c, data, size);
	fl_config_free(keys, &c);
	return 0;
}
