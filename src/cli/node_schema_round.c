/*
 * fedlead-node schema merge | propose | approve: one schema for the
 * federation without pooling data (README, "One schema for the
 * federation"), and the pin that makes a node join only a federation whose
 * schema its operator approved.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/node_int.h"
#include "cli/node_schema_round.h"
#include "fedlead/cli.h"
#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/schema.h"
#include "fedlead/schema_merge.h"

/* Reads a whole file of at most FL_SCHEMA_MAX_BYTES. */
static int read_text(const char *path, char **out, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;

	*out = NULL;
	*len = 0;
	if (fp == NULL)
		return fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
	if ((buf = malloc(FL_SCHEMA_MAX_BYTES + 1)) == NULL) {
		fclose(fp);
		return FL_ERR_NOMEM;
	}
	n = fread(buf, 1, FL_SCHEMA_MAX_BYTES + 1, fp);
	if (ferror(fp) || n > FL_SCHEMA_MAX_BYTES) {
		int err = ferror(fp);

		fclose(fp);
		free(buf);
		return err ? fl_fail(FL_ERR_IO, "%s: cannot read", path)
		           : fl_fail(FL_ERR_LIMIT, "%s: larger than %u bytes", path,
		                     FL_SCHEMA_MAX_BYTES);
	}
	fclose(fp);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

void fl_node_print_merge(const struct fl_schema_merge_result *res, FILE *fp)
{
	for (size_t i = 0; i < res->n_notes; i++)
		fprintf(fp, "%s: note: %s\n", FL_NODE_PROG, res->notes[i]);
	for (size_t i = 0; i < res->n_conflicts; i++)
		fprintf(fp, "%s: conflict: %s\n", FL_NODE_PROG, res->conflicts[i]);
}

static void merge_usage(FILE *fp)
{
	fprintf(fp, "usage: fedlead-node schema merge A.json B.json ... [--out MERGED.json]\n\n"
	            "Merges schemas drafted at each partner into one: the union of category\n"
	            "values, the strictest missing rule, the widest clip range, the union of\n"
	            "the ignore lists. What the drafts disagree on (a type, the label, a column\n"
	            "ignored at one partner and a feature at another, a key this version does\n"
	            "not know) is listed for a person to decide, and nothing is written.\n");
}

static int schema_merge(int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct fl_schema_merge_input *in = NULL;
	struct fl_schema_merge_result res = {0};
	const char *out = NULL;
	size_t n = 0;
	int c, r = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'h') {
			merge_usage(stdout);
			return 0;
		} else
			return fl_node_fail(fl_cli_bad_option(c, argv));
	}
	if (argc - optind < 1) {
		fprintf(stderr, "%s schema merge: give the drafts to merge (see --help)\n",
		        FL_NODE_PROG);
		return FL_EXIT_USAGE;
	}
	if ((in = calloc((size_t)(argc - optind), sizeof(*in))) == NULL)
		return fl_node_fail(FL_ERR_NOMEM);
	for (int i = optind; i < argc; i++, n++) {
		in[n].name = argv[i];
		if ((r = read_text(argv[i], (char **)&in[n].json, &in[n].len)) != 0)
			goto out;
	}
	r = fl_schema_merge(in, n, &res);
	fl_node_print_merge(&res, stderr);
	if (r != 0)
		goto out;
	if (out == NULL)
		printf("%s\n", res.json);
	else {
		size_t len = strlen(res.json);

		res.json[len] = '\n'; /* the file ends with a newline */
		r = fl_file_write_atomic(out, NULL, res.json, len + 1);
		res.json[len] = '\0';
		if (r == 0)
			fprintf(stderr,
			        "%s: merged %zu drafts into %s: review it before partners "
			        "approve it\n",
			        FL_NODE_PROG, n, out);
	}
out:
	for (size_t i = 0; i < n; i++)
		free((char *)in[i].json);
	free(in);
	fl_schema_merge_result_free(&res);
	return r != 0 ? fl_node_fail(r) : 0;
}

int fl_node_schema_sub(int argc, char **argv, int *rc)
{
	if (argc < 2)
		return 0;
	if (strcmp(argv[1], "merge") == 0)
		*rc = schema_merge(argc - 1, argv + 1);
	else
		return 0;
	return 1;
}
