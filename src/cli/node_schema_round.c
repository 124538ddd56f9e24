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
#include <sys/stat.h>

#include "cli/node_int.h"
#include "cli/node_schema_round.h"
#include "cli/pg_options.h"
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "fedlead/cli.h"
#include "fedlead/client.h"
#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/log.h"
#include "fedlead/mapping.h"
#include "fedlead/node_config.h"
#include "fedlead/schema.h"
#include "fedlead/schema_merge.h"
#include "fedlead/schema_round.h"
#include "fedlead/source.h"
#include "fedlead/spline.h"
#include "fedlead/wire.h"

/* Reads a schema, draft or proposal file whole (at most FL_SCHEMA_MAX_BYTES). */
static int read_text(const char *path, char **out, size_t *len)
{
	return fl_file_read_all(path, FL_SCHEMA_MAX_BYTES, FL_ERR_LIMIT, out, len);
}

/* Names and values as printed for the operator: a proposal comes from the
 * coordinator, and a control character in it (a terminal escape) must not
 * rewrite what the operator reads before approving. */
#define SHOW_MAX (FL_WIRE_MAX_STRING + 1)
static const char *show(const char *s, char buf[SHOW_MAX])
{
	fl_wire_clean_string(buf, SHOW_MAX, s);
	return buf;
}

void fl_node_print_merge(const struct fl_schema_merge_result *res, FILE *fp)
{
	char b[SHOW_MAX];

	/* They quote the partners' drafts: printed without control
	 * characters. */
	for (size_t i = 0; i < res->n_notes; i++)
		fprintf(fp, "%s: note: %s\n", FL_NODE_PROG, show(res->notes[i], b));
	for (size_t i = 0; i < res->n_conflicts; i++)
		fprintf(fp, "%s: conflict: %s\n", FL_NODE_PROG, show(res->conflicts[i], b));
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

/* ---- the schema pin ---- */

/*
 * STATE_DIR/schema.pin holds one line: "approved HEX SHA" once the operator
 * approved the schema of fingerprint HEX (fedlead-node schema approve),
 * SHA being the SHA-256 of the approved file's bytes, or "pending HEX"
 * after a schema round proposed HEX and nothing was approved before. A pin
 * of an earlier version, "approved HEX" without SHA, still holds for the
 * fingerprint. No file: the node never took part in a schema round, and
 * joins as it always did.
 */
#define PIN_FILE "schema.pin"

static int pin_read(const char *path, char state[16], char hex[65], char sha[65])
{
	FILE *fp = fopen(path, "r");
	char line[200];
	int n;

	state[0] = hex[0] = sha[0] = '\0';
	if (fp == NULL)
		return errno == ENOENT ? 0 : fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
	if (fgets(line, sizeof(line), fp) == NULL ||
	    (n = sscanf(line, "%15s %64[0-9a-f] %64[0-9a-f]", state, hex, sha)) < 2 ||
	    strlen(hex) != 64 || (n == 3 && strlen(sha) != 64) ||
	    (strcmp(state, "approved") != 0 && strcmp(state, "pending") != 0)) {
		fclose(fp);
		return fl_fail(FL_ERR_CONFIG,
		               "%s: not a schema pin (\"approved HEX SHA256\" or \"pending HEX\"); "
		               "approve the federation's schema again",
		               path);
	}
	if (n < 3)
		sha[0] = '\0';
	fclose(fp);
	return 1;
}

static int pin_write(const char *path, const char *state, const char *hex, const char *sha)
{
	char line[160];
	int n = sha != NULL ? snprintf(line, sizeof(line), "%s %s %s\n", state, hex, sha)
	                    : snprintf(line, sizeof(line), "%s %s\n", state, hex);

	return fl_file_write_atomic(path, NULL, line, (size_t)n);
}

/* The SHA-256 of len bytes, in hex. */
static int sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return fl_fail(FL_ERR_INTERNAL, "SHA-256 failed");
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int listed_rare(const struct fl_node_config *c, const struct fl_schema *s, const char *what,
                       const char *consequence, FILE *fp);

int fl_node_schema_pin_check(const struct fl_node_config *c)
{
	struct fl_schema *s = NULL;
	char *path = fl_node_config_state_path(c, PIN_FILE), state[16], pinned[65], sha[65], fp[65],
	     got[65], what[300], *text = NULL;
	size_t len;
	int r;

	if (path == NULL)
		return FL_ERR_NOMEM;
	if ((r = pin_read(path, state, pinned, sha)) <= 0)
		goto out;
	if (strcmp(state, "pending") == 0) {
		r = fl_fail(FL_ERR_CONFIG,
		            "the schema round proposed schema %.16s..., which this node's operator "
		            "has not approved: this node joins no federation until its operator "
		            "approves a schema (fedlead-node schema approve PROPOSAL.json --config "
		            "NODE.conf)",
		            pinned);
		goto out;
	}
	if (c->schema == NULL) {
		r = fl_fail(FL_ERR_CONFIG,
		            "setting \"schema\" is required (config file or --schema)");
		goto out;
	}
	/* The file's bytes, read once: what is compared is what is parsed. */
	if ((r = read_text(c->schema, &text, &len)) != 0 ||
	    (r = fl_schema_parse(text, len, c->schema, &s)) != 0)
		goto out;
	fl_schema_fingerprint_hex(s, fp);
	/* Not secret, but compared as the pin it is. */
	if (CRYPTO_memcmp(fp, pinned, 64) != 0) {
		r = fl_fail(
		        FL_ERR_CONFIG,
		        "schema %s has fingerprint %.16s..., not the one this node's operator "
		        "approved (%.16s...): this node joins no federation with another schema "
		        "(fedlead-node schema approve approves one)",
		        c->schema, fp, pinned);
		goto out;
	}
	/* The same fingerprint is not the same file: keys outside it (how
	 * numbers are written) would change how this node reads its data. */
	if (sha[0] != '\0') {
		if ((r = sha256_hex(text, len, got)) != 0)
			goto out;
		if (CRYPTO_memcmp(got, sha, 64) != 0) {
			r = fl_fail(
			        FL_ERR_CONFIG,
			        "schema %s has the approved fingerprint but not the approved "
			        "bytes (SHA-256 %.16s..., approved %.16s...): this node joins "
			        "only with the file its operator approved (schema.approved.json "
			        "in its state directory)",
			        c->schema, got, sha);
			goto out;
		}
	}
	/* The data may have changed since the approval. */
	snprintf(what, sizeof(what), "schema %s", c->schema);
	r = listed_rare(c, s, what, "this node joins no federation with it", NULL);
out:
	fl_schema_free(s);
	free(text);
	free(path);
	return r;
}

/* ---- propose ---- */

struct round_args {
	const char *label, *id, *positive, *draft, *out;
	int help;
};

enum { RO_LABEL = 1700, RO_ID, RO_POSITIVE, RO_DRAFT, RO_OUT, RO_CONFIG, RO_HELP };

static const struct option round_extra[] = {
        {"label", required_argument, NULL, RO_LABEL},
        {"id", required_argument, NULL, RO_ID},
        {"positive", required_argument, NULL, RO_POSITIVE},
        {"draft", required_argument, NULL, RO_DRAFT},
        {"out", required_argument, NULL, RO_OUT},
        {"config", required_argument, NULL, RO_CONFIG},
        {"help", no_argument, NULL, RO_HELP},
        {NULL, 0, NULL, 0},
};

static int round_option(int ch, const char *arg, void *ctx)
{
	struct round_args *a = ctx;

	switch (ch) {
	case RO_LABEL: a->label = arg; return 0;
	case RO_ID: a->id = arg; return 0;
	case RO_POSITIVE: a->positive = arg; return 0;
	case RO_DRAFT: a->draft = arg; return 0;
	case RO_OUT: a->out = arg; return 0;
	case RO_CONFIG: return 0;
	case RO_HELP: a->help = 1; return FL_CLI_STOP;
	}
	return fl_fail(FL_ERR_INTERNAL, "option %d is not handled", ch);
}

static void propose_usage(void)
{
	printf("usage: fedlead-node schema propose --config NODE.conf --label COLUMN [--id "
	       "COLUMN]\n"
	       "                                   [--positive VALUE] [--draft DRAFT.json]\n"
	       "                                   [--out PROPOSAL.json]\n\n"
	       "Takes part in the federation's schema round: drafts a schema from this\n"
	       "partner's data (the node's [node] data), keeping only the category values\n"
	       "held at least schema_min_count times ([policy], default 10) and, beside a\n"
	       "drafted transform, a clip range from the 1st and 99th percentiles but at\n"
	       "least schema_min_count values from each end, each bound one that many\n"
	       "values round to (none for a column of fewer than 4 times schema_min_count\n"
	       "values or 50, nor below schema_min_count 2), sends it to the coordinator\n"
	       "(--draft sends an edited draft instead, stripped the same way, without\n"
	       "clip ranges and without values the data holds fewer than\n"
	       "schema_min_count times), and writes the coordinator's proposal, the merge\n"
	       "of every partner's draft, for the operator to review and approve\n"
	       "(fedlead-node schema approve). What was sent is kept in\n"
	       "STATE_DIR/schema.sent.json. Needs [state] state_dir.\n"
	       "Conflicts between the drafts are printed and nothing is written (exit 2).\n");
}

/* The node's settings that the round needs (not schema, data or model_out). */
static int round_opts(struct fl_node_config *c, struct fl_node_opts *o)
{
	const char *missing = !c->coordinator  ? "address"
	                      : !c->ca         ? "ca"
	                      : !c->cert       ? "cert"
	                      : !c->key        ? "key"
	                      : !c->federation ? "federation"
	                                       : NULL;

	if (missing != NULL)
		return fl_fail(FL_ERR_CONFIG, "setting \"%s\" is required (config file or --%s)",
		               missing, missing);
	*o = (struct fl_node_opts){
	        .federation_id = c->federation,
	        .coordinator = c->coordinator,
	        .server_name = c->server_name,
	        .tls = {c->ca, c->cert, c->key, c->crl},
	        .audit_log = c->audit_log,
	        .dump_dir = c->dump_dir,
	        .max_frame = c->max_frame,
	};
	return 0;
}

/*
 * Drafts a schema from the node's data as the node reads it for training:
 * its dialect and its column mapping (so that partners with their own
 * names and spellings send drafts in the schema's terms). d's label, id,
 * positive and min_count are the caller's.
 */
static int draft_data(const struct fl_node_config *c, struct fl_schema_draft_opts *d, char **json)
{
	struct fl_mapping *m = NULL;
	int r;

	if ((r = fl_node_config_dialect(c, &d->dialect, NULL)) != 0 ||
	    (c->mapping != NULL && (r = fl_mapping_load(c->mapping, &m)) != 0))
		return r;
	d->mapping = m;
	r = fl_schema_draft_opts(c->data, d, json);
	d->mapping = NULL;
	fl_mapping_free(m);
	return r;
}

/*
 * The schema round's files, the pin first, live in state_dir: next to
 * model_out (its default) a pin would hold only for commands naming the same
 * model_out, and a join with another one would find none.
 */
static int need_state_dir(const struct fl_node_config *c, const char *cmd)
{
	if (c->state_dir != NULL)
		return 0;
	return fl_fail(FL_ERR_CONFIG,
	               "schema %s needs the node's state_dir ([state] state_dir): the schema pin "
	               "must hold for this node whatever model_out a later command names",
	               cmd);
}

/* The node's state directory, made on first use (0700: it holds what the
 * node keeps of its federations). */
static int state_dir_make(const struct fl_node_config *c)
{
	if (c->state_dir != NULL && mkdir(c->state_dir, 0700) != 0 && errno != EEXIST)
		return fl_fail(FL_ERR_IO, "%s: %s", c->state_dir, strerror(errno));
	return 0;
}

static int write_state(const struct fl_node_config *c, const char *name, const char *text,
                       char **path_out)
{
	size_t n = strlen(text);
	char *path, *buf;
	int r;

	if (state_dir_make(c) != 0)
		return FL_ERR_IO;
	path = fl_node_config_state_path(c, name);
	if (path == NULL || (buf = malloc(n + 2)) == NULL) {
		free(path);
		return FL_ERR_NOMEM;
	}
	/* The file ends with one newline. */
	memcpy(buf, text, n);
	if (n == 0 || buf[n - 1] != '\n')
		buf[n++] = '\n';
	r = fl_file_write_atomic(path, NULL, buf, n);
	free(buf);
	if (r == 0 && path_out != NULL)
		*path_out = path;
	else
		free(path);
	return r;
}

static int summarize(const struct fl_node_config *c, const struct fl_schema *s, const char *text,
                     const char *consequence, FILE *fp);

static int count_listed(const struct fl_node_config *c, const struct fl_schema *s, uint64_t ***out);

/* A value of a draft's values array as text (a draft may list 3 as 3). */
static const char *value_text(json_t *v, char buf[32])
{
	if (json_is_integer(v)) {
		snprintf(buf, 32, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return json_string_value(v);
}

/*
 * An edited draft (schema propose --draft) keeps the promise of a drafted
 * one: values this partner's data holds 1 to k-1 times (k its
 * schema_min_count) do not leave the site. They are left out of *draft,
 * each column said on stderr without its values (stderr may end up in a
 * shared log). Values the data does not hold (added by a person, from
 * another partner's draft) stay. Without the data nothing can be checked,
 * and nothing is sent.
 */
static int drop_rare(const struct fl_node_config *c, const char *path, char **draft, size_t *len)
{
	struct fl_schema *s = NULL;
	uint64_t **n = NULL;
	json_t *root = NULL, *jf;
	char *text;
	size_t k, dropped = 0;
	int r;

	if (c->data == NULL)
		return fl_fail(
		        FL_ERR_CONFIG,
		        "schema propose --draft needs the node's data ([node] data) to leave "
		        "out values it holds fewer than schema_min_count times; nothing was "
		        "sent");
	if ((r = fl_schema_parse(*draft, *len, path, &s)) != 0 || (r = count_listed(c, s, &n)) != 0)
		goto out;
	if ((root = json_loadb(*draft, *len, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(json_object_get(root, "features"), k, jf)
	{
		const struct fl_feature *f = NULL;
		json_t *vals = json_object_get(jf, "values"), *keep, *jv;
		size_t j, fi, out = 0;

		for (fi = 0; fi < s->n_features; fi++)
			if (strcmp(s->features[fi].name,
			           json_string_value(json_object_get(jf, "name"))) == 0) {
				f = &s->features[fi];
				break;
			}
		if (f == NULL || n[fi] == NULL || !json_is_array(vals))
			continue;
		if ((keep = json_array()) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		json_array_foreach(vals, j, jv)
		{
			char buf[32];
			const char *t = value_text(jv, buf);
			size_t v;

			for (v = 0; t != NULL && v < f->n_values; v++)
				if (strcmp(f->values[v], t) == 0)
					break;
			if (t != NULL && v < f->n_values && n[fi][v] > 0 &&
			    n[fi][v] < c->schema_min_count) {
				out++;
				continue;
			}
			json_array_append(keep, jv);
		}
		json_object_set_new(jf, "values", keep);
		if (out > 0) {
			char b[SHOW_MAX];

			fl_wire_clean_string(b, sizeof(b), f->name);
			fprintf(stderr,
			        "%s: feature \"%s\": %zu value%s this partner holds fewer than "
			        "%llu "
			        "times left out of what is sent\n",
			        FL_NODE_PROG, b, out, out == 1 ? "" : "s",
			        (unsigned long long)c->schema_min_count);
			dropped += out;
		}
	}
	if (dropped == 0)
		goto out;
	if ((text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	free(*draft);
	*draft = text;
	*len = strlen(text);
out:
	if (n != NULL)
		for (size_t i = 0; i < s->n_features; i++)
			free(n[i]);
	free(n);
	json_decref(root);
	fl_schema_free(s);
	return r;
}

static int schema_propose(int argc, char **argv)
{
	struct fl_node_config c = {0};
	struct fl_node_opts o;
	struct round_args a = {0};
	struct fl_schema_proposal prop = {0};
	char *draft = NULL, *sent = NULL, *out_path = NULL, *pin = NULL, fp[65], state[16],
	     pinned[65], sha[65];
	/* A draft file's clip ranges may be its minimum and maximum (a draft
	 * of fewer than 200 values), whatever its k: only the transforms
	 * leave with it. */
	unsigned strip = FL_STRIP_TRANSFORMS;
	size_t len;
	int r;

	r = fl_cli_configure(fl_node_config_keys, &c, argc, argv, round_extra, round_option, &a);
	if (r == FL_CLI_STOP) {
		propose_usage();
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	fl_log_init(FL_NODE_PROG, (enum fl_log_level)c.log_level);
	if ((r = need_state_dir(&c, "propose")) != 0 || (r = round_opts(&c, &o)) != 0 ||
	    (r = fl_cli_node_query(&c)) != 0)
		goto out;
	if (a.draft != NULL) {
		if ((r = read_text(a.draft, &draft, &len)) != 0 ||
		    (r = drop_rare(&c, a.draft, &draft, &len)) != 0)
			goto out;
	} else {
		struct fl_schema_draft_opts d = {.label = a.label,
		                                 .id = a.id,
		                                 .positive = a.positive,
		                                 .min_count = c.schema_min_count,
		                                 .transforms = 1,
		                                 .round_clip = c.schema_min_count};

		if (a.label == NULL || c.data == NULL) {
			r = fl_fail(FL_ERR_INVALID,
			            "schema propose needs --label and the node's data "
			            "(or --draft)");
			goto out;
		}
		if ((r = draft_data(&c, &d, &draft)) != 0)
			goto out;
		len = strlen(draft);
		strip |= FL_STRIP_CLIP;
	}
	if ((r = fl_schema_round_strip_flags(draft, len, strip, &sent)) != 0 ||
	    (r = write_state(&c, "schema.sent.json", sent, NULL)) != 0)
		goto out;
	if ((strip & FL_STRIP_CLIP) && fl_schema_round_clip_min(c.schema_min_count) > 0)
		fprintf(stderr,
		        "%s: sending this partner's draft (category values held at least %llu "
		        "times, clip ranges only beside a transform, from the 1st and 99th "
		        "percentiles but at least %llu values from each end, each bound one at "
		        "least %llu values round to, none for a column of fewer than %llu values; "
		        "a copy is in the state directory as schema.sent.json)\n",
		        FL_NODE_PROG, (unsigned long long)c.schema_min_count,
		        (unsigned long long)c.schema_min_count,
		        (unsigned long long)c.schema_min_count,
		        (unsigned long long)fl_schema_round_clip_min(c.schema_min_count));
	else if (strip & FL_STRIP_CLIP)
		fprintf(stderr,
		        "%s: sending this partner's draft (category values held at least %llu "
		        "times, no clip range: schema_min_count is below 2; a copy is in the "
		        "state directory as schema.sent.json)\n",
		        FL_NODE_PROG, (unsigned long long)c.schema_min_count);
	else
		fprintf(stderr,
		        "%s: sending this partner's draft (category values held at least %llu "
		        "times, no clip range; a copy is in the state directory as "
		        "schema.sent.json)\n",
		        FL_NODE_PROG, (unsigned long long)c.schema_min_count);
	if ((r = fl_node_schema_round(&o, sent, strlen(sent), &prop)) != 0)
		goto out;
	for (size_t i = 0; i < prop.n_notes; i++)
		fprintf(stderr, "%s: note: %s\n", FL_NODE_PROG, prop.notes[i]);
	if (prop.schema == NULL) {
		for (size_t i = 0; i < prop.n_conflicts; i++)
			fprintf(stderr, "%s: conflict: %s\n", FL_NODE_PROG, prop.conflicts[i]);
		r = fl_fail(FL_ERR_SCHEMA,
		            "the partners' drafts disagree on %zu point%s: people decide them, one "
		            "partner edits its draft (schema propose --draft) and the round is run "
		            "again; nothing was written",
		            prop.n_conflicts, prop.n_conflicts == 1 ? "" : "s");
		goto out;
	}
	for (size_t i = 0; i < FL_FINGERPRINT_LEN; i++)
		snprintf(fp + 2 * i, 3, "%02x", prop.fingerprint[i]);
	if (a.out != NULL) {
		size_t n = strlen(prop.schema);
		char *buf = malloc(n + 2);

		if (buf == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		memcpy(buf, prop.schema, n);
		buf[n] = '\n';
		r = fl_file_write_atomic(a.out, NULL, buf, n + 1);
		free(buf);
		if (r != 0 || (out_path = strdup(a.out)) == NULL)
			goto out;
	} else if ((r = write_state(&c, "schema.proposed.json", prop.schema, &out_path)) != 0)
		goto out;
	/* Until the operator approves, the node joins nothing with this
	 * schema; an earlier approval stays in force. */
	if ((pin = fl_node_config_state_path(&c, PIN_FILE)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if ((r = pin_read(pin, state, pinned, sha)) < 0 ||
	    (r == 0 && (r = pin_write(pin, "pending", fp, NULL)) != 0))
		goto out;
	r = 0;
	printf("proposal: %s\nfingerprint: %s\npartners:", out_path, fp);
	/* Partner names came through the wire decoder: no control characters. */
	for (size_t i = 0; i < prop.n_partners; i++)
		printf(" %s", prop.partners[i]);
	printf("\n");
	{
		struct fl_schema *ps = NULL;

		/* Already parsed by fl_schema_round_proposal(). */
		if ((r = fl_schema_parse(prop.schema, strlen(prop.schema), out_path, &ps)) != 0)
			goto out;
		if (summarize(&c, ps, prop.schema, "schema approve will refuse it", stdout) != 0)
			fprintf(stderr, "%s: %s\n", FL_NODE_PROG, fl_errmsg());
		fl_schema_free(ps);
	}
	printf("review it, then approve it: %s schema approve %s --config NODE.conf\n",
	       FL_NODE_PROG, out_path);
out:
	fl_schema_proposal_free(&prop);
	free(draft);
	free(sent);
	free(out_path);
	free(pin);
	fl_node_config_free(&c);
	return r != 0 ? fl_node_fail(r) : 0;
}

/* ---- approve ---- */

static json_t *feature_of(json_t *root, const char *name)
{
	json_t *f;
	size_t k;

	json_array_foreach(json_object_get(root, "features"), k, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
			return f;
	}
	return NULL;
}

static int listed(json_t *arr, const char *v)
{
	json_t *x;
	size_t k;

	json_array_foreach(arr, k, x)
	{
		if (json_is_string(x) && strcmp(json_string_value(x), v) == 0)
			return 1;
		if (json_is_integer(x)) {
			char buf[32];

			snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(x));
			if (strcmp(buf, v) == 0)
				return 1;
		}
	}
	return 0;
}

static int draft_local(const struct fl_node_config *c, const struct fl_schema *s,
                       uint64_t min_count, json_t **out)
{
	/* Drafted as schema propose drafts for the round, so a transform
	 * proposed can be set beside this partner's own. */
	struct fl_schema_draft_opts d = {.label = s->label,
	                                 .id = s->id,
	                                 .positive = s->positive,
	                                 .min_count = min_count,
	                                 .transforms = 1,
	                                 .round_clip = c->schema_min_count};
	char *json = NULL;
	int r;

	*out = NULL;
	if ((r = draft_data(c, &d, &json)) != 0)
		return r;
	*out = json_loads(json, 0, NULL);
	free(json);
	return *out != NULL ? 0 : FL_ERR_NOMEM;
}

/* An index of a feature's listed values, for counting. */
struct listed_entry {
	const char *v;
	size_t k;
};

static int listed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct listed_entry *)a)->v, ((const struct listed_entry *)b)->v);
}

/* For a feature with "case": "fold": trimmed, in any ASCII case. */
static int listed_fold_cmp(const void *a, const void *b)
{
	const char *x = ((const struct listed_entry *)a)->v,
	           *y = ((const struct listed_entry *)b)->v;

	return fl_schema_fold_cmp(x, strlen(x), y, strlen(y));
}

static void free_counts(uint64_t **n, size_t nf)
{
	for (size_t i = 0; n != NULL && i < nf; i++)
		free(n[i]);
	free(n);
}

/*
 * A feature read from several columns (cols[k] in rec): the fields joined
 * as the encoder joins them (fl_schema_join()), into buf; NULL when one is
 * out of the record or the text does not fit (no listed value is that
 * long).
 */
static const char *join_listed(const struct fl_feature *f, const size_t *cols,
                               const struct fl_csv_record *rec, char *buf, size_t n)
{
	struct fl_csv_field parts[FL_SCHEMA_MAX_COLUMNS] = {{0}};
	int cut;

	for (size_t k = 0; k < f->n_columns; k++) {
		if (cols[k] >= rec->n_fields)
			return NULL;
		parts[k] = rec->fields[cols[k]];
	}
	fl_schema_join(f, parts, buf, n, &cut);
	return cut ? NULL : buf;
}

/*
 * Counts, in the node's data, the rows holding each value s lists for a
 * categorical feature, whatever that column is here: left out of this
 * partner's draft (more distinct values than a draft lists), numeric, or
 * categorical. (*out)[i] is NULL for a feature that is not categorical or
 * not a column. Rows are read as training reads them, through the node's
 * column mapping, and fields compared as encode_categorical() compares
 * them (by their exact text, or trimmed in any case under "case": "fold"):
 * training's statistics round sums each indicator column, which counts
 * exactly these rows.
 */
static int count_listed(const struct fl_node_config *c, const struct fl_schema *s, uint64_t ***out)
{
	struct fl_csv_dialect d;
	struct fl_source *src = NULL;
	struct fl_csv_record rec;
	struct fl_mapping *m = NULL;
	struct fl_mapping_binding *mb = NULL;
	struct listed_entry **idx = NULL;
	size_t *col = NULL, **cols = NULL;
	uint64_t **n = NULL;
	char buf[FL_SCHEMA_MAX_JOINED + 2];
	int r;

	*out = NULL;
	if ((r = fl_node_config_dialect(c, &d, NULL)) != 0 ||
	    (r = fl_source_open(c->data, &d, &src)) != 0)
		return r;
	r = FL_ERR_NOMEM;
	if ((n = calloc(s->n_features, sizeof(*n))) == NULL ||
	    (idx = calloc(s->n_features, sizeof(*idx))) == NULL ||
	    (col = calloc(s->n_features, sizeof(*col))) == NULL ||
	    (cols = calloc(s->n_features, sizeof(*cols))) == NULL)
		goto out;
	if ((r = fl_source_next(src, &rec)) <= 0) {
		if (r == 0)
			r = fl_fail(FL_ERR_DATA, "%s: the file is empty", c->data);
		goto out;
	}
	if (c->mapping != NULL) {
		if ((r = fl_mapping_load(c->mapping, &m)) != 0 ||
		    (r = fl_mapping_bind(m, NULL, c->data, &rec, &mb)) != 0)
			goto out;
		rec = *fl_mapping_header(mb);
	}
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];

		col[i] = SIZE_MAX;
		if (f->type != FL_CATEGORICAL || f->n_values == 0)
			continue;
		if (f->n_columns > 0) {
			/* Read from several columns: counted as the encoder joins
			 * them, when the data has them all. */
			r = FL_ERR_NOMEM;
			if ((cols[i] = calloc(f->n_columns, sizeof(**cols))) == NULL)
				goto out;
			for (size_t k = 0; k < f->n_columns; k++) {
				cols[i][k] = SIZE_MAX;
				for (size_t j = 0; j < rec.n_fields && cols[i][k] == SIZE_MAX; j++)
					if (strcmp(rec.fields[j].s, f->columns[k]) == 0)
						cols[i][k] = j;
				if (cols[i][k] == SIZE_MAX)
					break;
				col[i] = k + 1 == f->n_columns ? cols[i][0] : SIZE_MAX;
			}
		}
		for (size_t j = 0; f->n_columns == 0 && j < rec.n_fields && col[i] == SIZE_MAX; j++)
			if (strcmp(rec.fields[j].s, f->name) == 0)
				col[i] = j;
		if (col[i] == SIZE_MAX)
			continue;
		r = FL_ERR_NOMEM;
		if ((n[i] = calloc(f->n_values, sizeof(**n))) == NULL ||
		    (idx[i] = calloc(f->n_values, sizeof(**idx))) == NULL)
			goto out;
		for (size_t k = 0; k < f->n_values; k++)
			idx[i][k] = (struct listed_entry){f->values[k], k};
		qsort(idx[i], f->n_values, sizeof(**idx), f->fold ? listed_fold_cmp : listed_cmp);
	}
	while ((r = fl_source_next(src, &rec)) == 1) {
		if (mb != NULL)
			rec = *fl_mapping_apply(mb, &rec);
		for (size_t i = 0; i < s->n_features; i++) {
			struct listed_entry key, *hit;

			if (col[i] >= rec.n_fields)
				continue;
			key.v = rec.fields[col[i]].s;
			if (s->features[i].n_columns > 0 &&
			    (key.v = join_listed(&s->features[i], cols[i], &rec, buf,
			                         sizeof(buf))) == NULL)
				continue;
			hit = bsearch(&key, idx[i], s->features[i].n_values, sizeof(**idx),
			              s->features[i].fold ? listed_fold_cmp : listed_cmp);
			if (hit != NULL)
				n[i][hit->k]++;
		}
	}
	if (r == 0) {
		*out = n;
		n = NULL;
	}
out:
	for (size_t i = 0; idx != NULL && i < s->n_features; i++)
		free(idx[i]);
	for (size_t i = 0; cols != NULL && i < s->n_features; i++)
		free(cols[i]);
	free(idx);
	free(col);
	free(cols);
	free_counts(n, s->n_features);
	fl_mapping_binding_free(mb);
	fl_mapping_free(m);
	fl_source_free(src);
	return r;
}

/*
 * A value s lists that this partner holds 1 to k-1 times (k its
 * schema_min_count) is refused: training's statistics round sums its
 * indicator column, i.e. counts the leads holding it, and secure
 * aggregation hides this partner's count only among the other partners'.
 * A coordinator that plants a guessed value in a proposal (a customer's
 * name, a postcode) would learn that count, which the round kept from it.
 * Each such column is printed on fp (when not NULL) with its values; the
 * error names the first. No data, or data that cannot be read, is refused
 * too: nothing was compared.
 */
static int listed_rare(const struct fl_node_config *c, const struct fl_schema *s, const char *what,
                       const char *consequence, FILE *fp)
{
	uint64_t **n = NULL, k = c->schema_min_count;
	char b1[SHOW_MAX], b2[SHOW_MAX];
	size_t cols = 0, first = 0;
	int r;

	if (c->data == NULL)
		return fl_fail(FL_ERR_SCHEMA,
		               "no data in the node's config ([node] data): %s cannot be compared "
		               "with this partner's data; %s",
		               what, consequence);
	if ((r = count_listed(c, s, &n)) != 0) {
		show(fl_errmsg(), b1);
		return fl_fail(FL_ERR_SCHEMA, "cannot compare %s with %s: %s; %s", what, c->data,
		               b1, consequence);
	}
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t rare = 0;

		for (size_t v = 0; n[i] != NULL && v < f->n_values; v++) {
			if (n[i][v] == 0 || n[i][v] >= k)
				continue;
			if (rare++ == 0 && fp != NULL)
				fprintf(fp,
				        "WARNING feature \"%s\": %s lists values this partner "
				        "holds "
				        "1 to %llu times (training would count them):",
				        show(f->name, b1), what, (unsigned long long)(k - 1));
			if (fp != NULL)
				fprintf(fp, " \"%s\"", show(f->values[v], b1));
		}
		if (rare > 0) {
			if (fp != NULL)
				fprintf(fp, "\n");
			if (cols++ == 0)
				first = i;
		}
	}
	free_counts(n, s->n_features);
	if (cols == 0)
		return 0;
	snprintf(b2, sizeof(b2), " (and %zu more column%s)", cols - 1, cols == 2 ? "" : "s");
	return fl_fail(FL_ERR_SCHEMA,
	               "%s lists values that %s holds 1 to %llu times (fewer than "
	               "schema_min_count = %llu) in column \"%s\"%s: training would tell the "
	               "coordinator how many leads hold each; %s",
	               what, c->data, (unsigned long long)(k - 1), (unsigned long long)k,
	               show(s->features[first].name, b1), cols > 1 ? b2 : "", consequence);
}

/*
 * What the proposal (s, its JSON text) means for this partner's data, from
 * a draft of it (every value) compared with the proposal. Stays on this
 * machine; printed for the operator. Then the listed values this partner
 * holds fewer than k times: the result of listed_rare().
 */
/* The transform proposed for a numeric feature, against this partner's
 * own draft (lf, drafted with its own clip range): for the operator to
 * review before approving. */
static void review_transform(const struct fl_node_config *c, const struct fl_feature *f, json_t *lf,
                             FILE *fp)
{
	json_t *lc = json_object_get(lf, "clip");
	const char *mine = json_string_value(json_object_get(lf, "transform"));
	char b1[SHOW_MAX];

	static const char *const names[] = {"", "spline", "bins", "log1p"};

	fprintf(fp, "feature \"%s\": %s", show(f->name, b1), names[f->transform & 3]);
	if (f->n_knots > 0)
		fprintf(fp, ", %zu knots %s", f->n_knots,
		        f->knots_given ? "as written" : "placed from the federation's data");
	if (f->has_clip)
		fprintf(fp, ", clip [%.15g, %.15g]", f->clip_lo, f->clip_hi);
	if (lc != NULL && f->has_clip)
		fprintf(fp, " (this partner's draft: [%.15g, %.15g]%s)",
		        json_number_value(json_array_get(lc, 0)),
		        json_number_value(json_array_get(lc, 1)),
		        mine != NULL ? "" : ", no transform");
	else if (mine == NULL)
		fprintf(fp, " (this partner's draft: no transform)");
	fprintf(fp, "\n");
	(void)c;
}

/* Whether the local draft's feature lf reads the columns f reads, in
 * its order. */
static int same_columns(const struct fl_feature *f, json_t *lf)
{
	json_t *lc = json_object_get(lf, "columns");

	if (json_array_size(lc) != f->n_columns)
		return 0;
	for (size_t k = 0; k < f->n_columns; k++) {
		const char *v = json_string_value(json_array_get(lc, k));

		if (v == NULL || strcmp(v, f->columns[k]) != 0)
			return 0;
	}
	return 1;
}

/*
 * A proposed feature read from several columns that this partner's draft
 * does not read so (lf, its feature of that name, NULL or another one:
 * a name says nothing of the columns): said, and each of its columns the
 * draft ignores (an identifier, free text) warned of as for a feature of
 * its own, since training counts the leads holding each listed value.
 * Returns 1 when it printed.
 */
static int review_joined(const struct fl_node_config *c, const struct fl_feature *f, json_t *lf,
                         json_t *local, FILE *fp)
{
	char b1[SHOW_MAX], b2[SHOW_MAX];

	if (lf != NULL && same_columns(f, lf))
		return 0;
	fprintf(fp,
	        "feature \"%s\": reads %zu columns together, which this partner's draft of %s "
	        "does not propose\n",
	        show(f->name, b1), f->n_columns, c->data);
	for (size_t k = 0; k < f->n_columns; k++)
		if (listed(json_object_get(local, "ignore"), f->columns[k]))
			fprintf(fp,
			        "WARNING feature \"%s\": the proposal lists %zu values of column "
			        "\"%s\" read with others, a column this partner's draft ignores "
			        "(more than 100 distinct values, or none held %llu times): "
			        "training "
			        "counts the leads holding each\n",
			        show(f->name, b1), f->n_values, show(f->columns[k], b2),
			        (unsigned long long)c->schema_min_count);
	return 1;
}

static int summarize(const struct fl_node_config *c, const struct fl_schema *s, const char *text,
                     const char *consequence, FILE *fp)
{
	json_t *local = NULL, *prop = NULL;
	char b1[SHOW_MAX], b2[SHOW_MAX];
	size_t shown = 0;
	int r;

	fprintf(fp, "label: %s (converted: \"%s\"), %zu features, %zu encoded columns\n",
	        show(s->label, b1), show(s->positive, b2), s->n_features, s->dim);
	if (c->data == NULL) {
		fprintf(fp, "no data in the node's config: nothing to compare with\n");
		goto out;
	}
	if ((r = draft_local(c, s, 0, &local)) != 0 || (prop = json_loads(text, 0, NULL)) == NULL) {
		/* The error may quote the proposal's label value. */
		fprintf(fp, "cannot compare with %s: %s\n", c->data,
		        show(r != 0 ? fl_errmsg() : "out of memory", b1));
		goto out;
	}
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		json_t *lf = feature_of(local, f->name);
		const char *lt = lf ? json_string_value(json_object_get(lf, "type")) : NULL;

		/* Compared by its columns: the draft's feature of that name may
		 * read others. */
		if (f->n_columns > 0 && review_joined(c, f, lf, local, fp)) {
			shown++;
			continue;
		}
		if (lf == NULL) {
			int ignored = listed(json_object_get(local, "ignore"), f->name);

			/* Values proposed for an identifier or free text: each
			 * one's count is what training's sums would say. */
			if (ignored && f->type == FL_CATEGORICAL)
				fprintf(fp,
				        "WARNING feature \"%s\": the proposal lists %zu values for "
				        "a "
				        "column this partner's draft ignores (more than 100 "
				        "distinct "
				        "values, or none held %llu times): training counts the "
				        "leads "
				        "holding each\n",
				        show(f->name, b1), f->n_values,
				        (unsigned long long)c->schema_min_count);
			else
				fprintf(fp, "feature \"%s\": %s in %s\n", show(f->name, b1),
				        ignored ? "has more distinct values than a draft lists (or "
				                  "none)"
				                : "is not a column",
				        c->data);
			shown++;
			continue;
		}
		if (f->type == FL_CATEGORICAL && strcmp(lt, "categorical") == 0) {
			json_t *pf = feature_of(prop, f->name), *v;
			size_t k, n = 0;

			json_array_foreach(json_object_get(lf, "values"), k, v)
			{
				if (listed(json_object_get(pf, "values"), json_string_value(v)))
					continue;
				if (n++ == 0)
					fprintf(fp,
					        "feature \"%s\": values here the proposal does not "
					        "list go to \"%s\":",
					        show(f->name, b1),
					        f->other ? "(other)" : "an error");
				if (n <= 8)
					fprintf(fp, " \"%s\"", show(json_string_value(v), b1));
			}
			if (n > 8)
				fprintf(fp, " and %zu more", n - 8);
			if (n > 0) {
				fprintf(fp, "\n");
				shown++;
			}
		} else if (f->type == FL_NUMERIC && strcmp(lt, "numeric") != 0) {
			fprintf(fp,
			        "feature \"%s\": numeric in the proposal, but %s holds values that "
			        "are not numbers here\n",
			        show(f->name, b1), c->data);
			shown++;
		}
		if (f->type == FL_NUMERIC && f->missing == FL_MISSING_ERROR &&
		    json_object_get(lf, "missing") != NULL &&
		    strcmp(json_string_value(json_object_get(lf, "missing")), "impute") == 0) {
			fprintf(fp,
			        "feature \"%s\": \"missing\": \"error\", but %s has empty values: "
			        "those rows will be refused\n",
			        show(f->name, b1), c->data);
			shown++;
		}
		if (f->type == FL_NUMERIC && !f->has_clip)
			fprintf(fp,
			        "feature \"%s\": no clip range (privacy = on needs one on every "
			        "numeric feature: partners agree on it and add it)\n",
			        show(f->name, b1));
		if (f->type == FL_NUMERIC && f->transform != FL_TRANSFORM_NONE)
			review_transform(c, f, lf, fp);
	}
	if (shown == 0)
		fprintf(fp, "every column of %s fits the proposal\n", c->data);
out:
	json_decref(local);
	json_decref(prop);
	return listed_rare(c, s, "the proposal", consequence, fp);
}

/* A label value as the sent draft has it ("" when absent). */
static const char *label_of(json_t *root, const char *key)
{
	const char *v = json_string_value(json_object_get(json_object_get(root, "label"), key));

	return v != NULL ? v : "";
}

/*
 * The proposal's label against the one this partner sent in the round
 * (STATE_DIR/schema.sent.json): a merge never changes a label, so a
 * different one, or one the other way round (the model would then rank this
 * partner's leads upside down), is the coordinator's. Without a sent draft
 * (a schema merged by hand) there is nothing to compare with, and that is
 * said.
 */
static int label_check(const struct fl_node_config *c, const struct fl_schema *s, FILE *fp)
{
	char *path = fl_node_config_state_path(c, "schema.sent.json"), *text = NULL;
	char b[4][SHOW_MAX];
	struct stat st;
	json_t *root = NULL;
	size_t len;
	int r = 0;

	if (path == NULL)
		return FL_ERR_NOMEM;
	if (stat(path, &st) != 0 && errno == ENOENT) {
		fprintf(fp, "label: not compared (this node sent no draft in a schema round: no "
		            "schema.sent.json in its state directory)\n");
		goto out;
	}
	if ((r = read_text(path, &text, &len)) != 0)
		goto out;
	if ((root = json_loadb(text, len, 0, NULL)) == NULL) {
		r = fl_fail(FL_ERR_SCHEMA, "%s: not the JSON this node sent; not approved", path);
		goto out;
	}
	show(label_of(root, "column"), b[0]);
	show(label_of(root, "positive"), b[1]);
	show(label_of(root, "negative"), b[2]);
	if (strcmp(s->label, label_of(root, "column")) != 0)
		r = fl_fail(FL_ERR_SCHEMA,
		            "the proposal's label column is \"%s\", this partner sent \"%s\" "
		            "(schema.sent.json); not approved",
		            show(s->label, b[3]), b[0]);
	else if (strcmp(s->positive, label_of(root, "negative")) == 0 &&
	         strcmp(s->negative, label_of(root, "positive")) == 0)
		r = fl_fail(FL_ERR_SCHEMA,
		            "the proposal's label is the other way round: it says \"%s\" means "
		            "converted, this partner sent \"%s\" (schema.sent.json), and the model "
		            "would rank this partner's leads upside down; not approved",
		            show(s->positive, b[3]), b[1]);
	else if (strcmp(s->positive, label_of(root, "positive")) != 0 ||
	         strcmp(s->negative, label_of(root, "negative")) != 0) {
		char p[SHOW_MAX];

		r = fl_fail(FL_ERR_SCHEMA,
		            "the proposal's label values are \"%s\" (converted) and \"%s\", this "
		            "partner sent \"%s\" and \"%s\" (schema.sent.json); not approved",
		            show(s->positive, p), show(s->negative, b[3]), b[1], b[2]);
	} else
		fprintf(fp, "label: as this partner sent it\n");
out:
	json_decref(root);
	free(text);
	free(path);
	return r;
}

static void approve_usage(void)
{
	printf("usage: fedlead-node schema approve PROPOSAL.json --config NODE.conf\n\n"
	       "Reads the proposal once, shows its fingerprint and what it means for this\n"
	       "partner's data (values it holds that go to \"other\", columns it lacks),\n"
	       "asks the operator to type yes, keeps the bytes shown as\n"
	       "STATE_DIR/schema.approved.json and pins their fingerprint and SHA-256\n"
	       "(schema.pin): fedlead-node join then refuses any other schema. Refused\n"
	       "without asking (exit 2): a proposal listing a value this partner holds\n"
	       "1 to schema_min_count-1 times in any column, one that cannot be compared\n"
	       "with the data, one whose label differs from the one this node sent, one\n"
	       "with a key outside the schema contract. Needs [state] state_dir. Nothing\n"
	       "approves a schema but this command.\n");
}

static int schema_approve(int argc, char **argv)
{
	struct fl_node_config c = {0};
	struct round_args a = {0};
	struct fl_schema *s = NULL;
	const char *proposal;
	char fp[65], sha[65], answer[64], *pin = NULL, *text = NULL, *approved = NULL;
	size_t len;
	int r;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
			approve_usage();
			return 0;
		}
		fprintf(stderr, "%s schema approve: give the proposal first (see --help)\n",
		        FL_NODE_PROG);
		return FL_EXIT_USAGE;
	}
	proposal = argv[1];
	r = fl_cli_configure(fl_node_config_keys, &c, argc - 1, argv + 1, round_extra, round_option,
	                     &a);
	if (r == FL_CLI_STOP) {
		approve_usage();
		r = 0;
		goto out;
	}
	if (r != 0 || (r = need_state_dir(&c, "approve")) != 0 || (r = fl_cli_node_query(&c)) != 0)
		goto out;
	/* The file is read once: the fingerprint, the summary, the approved
	 * copy and its SHA-256 all come from these bytes, whatever happens to
	 * the file while the operator reads. */
	if ((r = read_text(proposal, &text, &len)) != 0)
		goto out;
	{
		char who[600];

		/* Only the schema contract (and a comment, as fedlead-node
		 * schema merge writes one): a key outside the fingerprint would
		 * change how this node reads its data under a fingerprint other
		 * partners approved. */
		snprintf(who, sizeof(who), "%s", proposal);
		if ((r = fl_schema_round_contract(text, len, FL_CONTRACT_COMMENT, who)) != 0) {
			r = fl_fail(FL_ERR_SCHEMA, "%s; not approved", fl_errmsg());
			goto out;
		}
	}
	if ((r = fl_schema_parse(text, len, proposal, &s)) != 0 ||
	    (r = sha256_hex(text, len, sha)) != 0)
		goto out;
	fl_schema_fingerprint_hex(s, fp);
	printf("proposal: %s\nfingerprint: %s\n", proposal, fp);
	if ((r = summarize(&c, s, text, "not approved", stdout)) != 0 ||
	    (r = label_check(&c, s, stdout)) != 0)
		goto out;
	printf("Approve schema %s for this node? Type yes to approve: ", fp);
	fflush(stdout);
	if (fgets(answer, sizeof(answer), stdin) != NULL)
		answer[strcspn(answer, "\r\n")] = '\0';
	else
		answer[0] = '\0';
	if (strcmp(answer, "yes") != 0) {
		printf("\n");
		r = fl_fail(FL_ERR_INVALID, "not approved (the answer was not \"yes\"): nothing "
		                            "changed");
		goto out;
	}
	/* A copy under its own name, which a later round's proposal does not
	 * overwrite: the schema the node joins with, byte for byte the text
	 * shown. */
	if ((r = state_dir_make(&c)) != 0)
		goto out;
	if ((approved = fl_node_config_state_path(&c, "schema.approved.json")) == NULL ||
	    (pin = fl_node_config_state_path(&c, PIN_FILE)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if ((r = fl_file_write_atomic(approved, NULL, text, len)) != 0 ||
	    (r = pin_write(pin, "approved", fp, sha)) != 0)
		goto out;
	printf("approved: this node joins only a federation whose schema has fingerprint %s "
	       "and SHA-256 %s (pinned in %s)\n",
	       fp, sha, pin);
	if (c.schema == NULL || strcmp(c.schema, approved) != 0)
		printf("the approved schema is %s: set schema = %s in the node's config\n",
		       approved, approved);
out:
	free(pin);
	free(text);
	free(approved);
	fl_schema_free(s);
	fl_node_config_free(&c);
	return r != 0 ? fl_node_fail(r) : 0;
}

int fl_node_schema_sub(int argc, char **argv, int *rc)
{
	if (argc < 2)
		return 0;
	if (strcmp(argv[1], "merge") == 0)
		*rc = schema_merge(argc - 1, argv + 1);
	else if (strcmp(argv[1], "propose") == 0)
		*rc = schema_propose(argc - 1, argv + 1);
	else if (strcmp(argv[1], "approve") == 0)
		*rc = schema_approve(argc - 1, argv + 1);
	else
		return 0;
	return 1;
}
