/*
 * Fuzz target: configuration files. The input is an INI file (in a memfd)
 * read with fl_config_load against the key tables the programs use: the
 * coordinator's (coordinator_config.h; it has a key of every type), then the
 * node's (node_config.h). A file that loads must dump as INI that loads back
 * and dumps to the same text. The first line is also given as a flag
 * ("name=value") to fl_config_set, and to fl_config_addr_split.
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
#include "fedlead/coordinator_config.h"
#include "fedlead/error.h"
#include "fedlead/node_config.h"
#include "fuzz_common.h"

/* The programs' own tables: every key type is in the coordinator's. */
static const struct {
	const struct fl_cfg_key *keys;
	size_t size; /* of the struct the table fills */
} tables[] = {
        {fl_coordinator_config_keys, sizeof(struct fl_coordinator_config)},
        {fl_node_config_keys, sizeof(struct fl_node_config)},
};

/* fl_config_dump() into a malloc'ed string. */
static char *dump(const struct fl_cfg_key *keys, const void *c, size_t *len)
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
static int has_comment(const struct fl_cfg_key *keys, const void *c)
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

static void check_roundtrip(const struct fl_cfg_key *keys, size_t size, const void *c)
{
	void *again;
	char *t1, *t2;
	size_t l1, l2;

	if (has_comment(keys, c))
		return;
	t1 = dump(keys, c, &l1);
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
	if ((again = calloc(1, size)) == NULL)
		fz_die("out of memory");
	if (fl_config_defaults(keys, again) != 0)
		fz_die("fl_config_defaults: %s", fl_errmsg());
	if (fl_config_load(keys, again, fz_memfile((const uint8_t *)t1, l1)) != 0)
		fz_die("a dumped configuration does not load: %s\n%s", fl_errmsg(), t1);
	t2 = dump(keys, again, &l2);
	if (l1 != l2 || memcmp(t1, t2, l1) != 0)
		fz_die("dump, load, dump differs:\n%s\n----\n%s", t1, t2);
	fl_config_free(keys, again);
	free(again);
	free(t1);
	free(t2);
}

/* The first line as a flag: "name=value". */
static void check_flag(const struct fl_cfg_key *keys, void *c, const uint8_t *data, size_t size)
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
	fz_init();
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		const struct fl_cfg_key *keys = tables[t].keys;
		void *c = calloc(1, tables[t].size);

		if (c == NULL)
			fz_die("out of memory");
		if (fl_config_defaults(keys, c) != 0)
			fz_die("fl_config_defaults: %s", fl_errmsg());
		if (fl_config_load(keys, c, fz_memfile(data, size)) == 0)
			check_roundtrip(keys, tables[t].size, c);
		check_flag(keys, c, data, size);
		fl_config_free(keys, c);
		free(c);
	}
	return 0;
}
