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
#include <jansson.h>
#include <openssl/crypto.h>

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
#include "fedlead/wire.h"

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

/* ---- the schema pin ---- */

/*
 * STATE_DIR/schema.pin holds one line: "approved HEX" once the operator
 * approved the schema of fingerprint HEX (fedlead-node schema approve), or
 * "pending HEX" after a schema round proposed HEX and nothing was approved
 * before. No file: the node never took part in a schema round, and joins as
 * it always did.
 */
#define PIN_FILE "schema.pin"

static int pin_read(const char *path, char state[16], char hex[65])
{
	FILE *fp = fopen(path, "r");
	char line[128];

	state[0] = hex[0] = '\0';
	if (fp == NULL)
		return errno == ENOENT ? 0 : fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
	if (fgets(line, sizeof(line), fp) == NULL ||
	    sscanf(line, "%15s %64[0-9a-f]", state, hex) != 2 || strlen(hex) != 64 ||
	    (strcmp(state, "approved") != 0 && strcmp(state, "pending") != 0)) {
		fclose(fp);
		return fl_fail(FL_ERR_CONFIG,
		               "%s: not a schema pin (\"approved HEX\" or \"pending HEX\"); "
		               "approve the federation's schema again",
		               path);
	}
	fclose(fp);
	return 1;
}

static int pin_write(const char *path, const char *state, const char *hex)
{
	char line[96];
	int n = snprintf(line, sizeof(line), "%s %s\n", state, hex);

	return fl_file_write_atomic(path, NULL, line, (size_t)n);
}

int fl_node_schema_pin_check(const struct fl_node_config *c)
{
	struct fl_schema *s = NULL;
	char *path = fl_node_config_state_path(c, PIN_FILE), state[16], pinned[65], fp[65];
	int r;

	if (path == NULL)
		return FL_ERR_NOMEM;
	if ((r = pin_read(path, state, pinned)) <= 0)
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
	if ((r = fl_schema_load(c->schema, &s)) != 0)
		goto out;
	fl_schema_fingerprint_hex(s, fp);
	r = 0;
	/* Not secret, but compared as the pin it is. */
	if (CRYPTO_memcmp(fp, pinned, 64) != 0)
		r = fl_fail(
		        FL_ERR_CONFIG,
		        "schema %s has fingerprint %.16s..., not the one this node's operator "
		        "approved (%.16s...): this node joins no federation with another schema "
		        "(fedlead-node schema approve approves one)",
		        c->schema, fp, pinned);
out:
	fl_schema_free(s);
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
	       "held at least schema_min_count times ([policy], default 10) and no clip\n"
	       "range, sends it to the coordinator (--draft sends an edited draft instead,\n"
	       "stripped the same way), and writes the coordinator's proposal, the merge of\n"
	       "every partner's draft, for the operator to review and approve (fedlead-node\n"
	       "schema approve). What was sent is kept in STATE_DIR/schema.sent.json.\n"
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

static int config_dialect(const struct fl_node_config *c, struct fl_csv_dialect *d)
{
	const char *keys[] = {"delimiter", "encoding", "decimal", "thousands", "currency"};
	const char *vals[] = {c->delimiter, c->encoding, c->decimal, c->thousands, c->currency};
	unsigned set = 0;

	*d = (struct fl_csv_dialect){0};
	for (size_t i = 0; i < 5; i++)
		if (vals[i] != NULL && fl_csv_dialect_set(d, &set, keys[i], keys[i], vals[i]) != 0)
			return fl_fail(FL_ERR_CONFIG, "%s", fl_errmsg());
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

	if ((r = config_dialect(c, &d->dialect)) != 0 ||
	    (c->mapping != NULL && (r = fl_mapping_load(c->mapping, &m)) != 0))
		return r;
	d->mapping = m;
	r = fl_schema_draft_opts(c->data, d, json);
	d->mapping = NULL;
	fl_mapping_free(m);
	return r;
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

static int summarize(const struct fl_node_config *c, const char *proposal, FILE *fp);

static int schema_propose(int argc, char **argv)
{
	struct fl_node_config c = {0};
	struct fl_node_opts o;
	struct round_args a = {0};
	struct fl_schema_proposal prop = {0};
	char *draft = NULL, *sent = NULL, *out_path = NULL, *pin = NULL, fp[65], state[16],
	     pinned[65];
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
	if ((r = round_opts(&c, &o)) != 0)
		goto out;
	if (a.draft != NULL) {
		if ((r = read_text(a.draft, &draft, &len)) != 0)
			goto out;
	} else {
		struct fl_schema_draft_opts d = {.label = a.label,
		                                 .id = a.id,
		                                 .positive = a.positive,
		                                 .min_count = c.schema_min_count};

		if (a.label == NULL || c.data == NULL) {
			r = fl_fail(FL_ERR_INVALID,
			            "schema propose needs --label and the node's data "
			            "(or --draft)");
			goto out;
		}
		if ((r = draft_data(&c, &d, &draft)) != 0)
			goto out;
		len = strlen(draft);
	}
	if ((r = fl_schema_round_strip(draft, len, &sent)) != 0 ||
	    (r = write_state(&c, "schema.sent.json", sent, NULL)) != 0)
		goto out;
	fprintf(stderr,
	        "%s: sending this partner's draft (category values held at least %llu times, "
	        "no clip range; a copy is in the state directory as schema.sent.json)\n",
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
	if ((r = pin_read(pin, state, pinned)) < 0 ||
	    (r == 0 && (r = pin_write(pin, "pending", fp)) != 0))
		goto out;
	r = 0;
	printf("proposal: %s\nfingerprint: %s\npartners:", out_path, fp);
	/* Partner names came through the wire decoder: no control characters. */
	for (size_t i = 0; i < prop.n_partners; i++)
		printf(" %s", prop.partners[i]);
	printf("\n");
	summarize(&c, out_path, stdout);
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

/* Names and values as printed for the operator: a proposal comes from the
 * coordinator, and a control character in it (a terminal escape) must not
 * rewrite what the operator reads before approving. */
#define SHOW_MAX (FL_WIRE_MAX_STRING + 1)
static const char *show(const char *s, char buf[SHOW_MAX])
{
	fl_wire_clean_string(buf, SHOW_MAX, s);
	return buf;
}

static int draft_local(const struct fl_node_config *c, const struct fl_schema *s,
                       uint64_t min_count, json_t **out)
{
	struct fl_schema_draft_opts d = {
	        .label = s->label, .id = s->id, .positive = s->positive, .min_count = min_count};
	char *json = NULL;
	int r;

	*out = NULL;
	if ((r = draft_data(c, &d, &json)) != 0)
		return r;
	*out = json_loads(json, 0, NULL);
	free(json);
	return *out != NULL ? 0 : FL_ERR_NOMEM;
}

/*
 * What the proposal means for this partner's data, from drafts of it (every
 * value, and the values held at least schema_min_count times) compared with
 * the proposal. Stays on this machine; printed for the operator. A value the
 * proposal lists that this partner holds fewer than k times is called out:
 * training's sums then count it (summed with the other partners' under
 * secure aggregation), which is what the round kept it from saying.
 */
static int summarize(const struct fl_node_config *c, const char *proposal, FILE *fp)
{
	struct fl_schema *s = NULL;
	json_t *local = NULL, *common = NULL, *prop = NULL;
	char b1[SHOW_MAX], b2[SHOW_MAX];
	size_t shown = 0;
	int r;

	if ((r = fl_schema_load(proposal, &s)) != 0)
		return r;
	fprintf(fp, "label: %s (converted: \"%s\"), %zu features, %zu encoded columns\n",
	        show(s->label, b1), show(s->positive, b2), s->n_features, s->dim);
	if (c->data == NULL) {
		fprintf(fp, "no data in the node's config: nothing to compare with\n");
		goto out;
	}
	if ((r = draft_local(c, s, 0, &local)) != 0 ||
	    (r = draft_local(c, s, c->schema_min_count, &common)) != 0 ||
	    (prop = json_load_file(proposal, 0, NULL)) == NULL) {
		fprintf(fp, "cannot compare with %s: %s\n", c->data,
		        r != 0 ? fl_errmsg() : "out of memory");
		r = 0;
		goto out;
	}
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		json_t *lf = feature_of(local, f->name), *cf = feature_of(common, f->name);
		const char *lt = lf ? json_string_value(json_object_get(lf, "type")) : NULL;

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
			size_t k, n = 0, rare = 0;

			json_array_foreach(json_object_get(lf, "values"), k, v)
			{
				if (listed(json_object_get(pf, "values"), json_string_value(v)))
					continue;
				if (n++ == 0)
					fprintf(fp,
					        "feature \"%s\": values here the proposal does not "
					        "list "
					        "go to \"%s\":",
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
			json_array_foreach(json_object_get(lf, "values"), k, v)
			{
				const char *t = json_string_value(v);

				if (!listed(json_object_get(pf, "values"), t) ||
				    listed(json_object_get(cf, "values"), t))
					continue;
				if (rare++ == 0)
					fprintf(fp,
					        "WARNING feature \"%s\": the proposal lists values "
					        "this "
					        "partner holds fewer than %llu times (training "
					        "counts "
					        "them):",
					        show(f->name, b1),
					        (unsigned long long)c->schema_min_count);
				fprintf(fp, " \"%s\"", show(t, b1));
			}
			if (rare > 0) {
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
	}
	if (shown == 0)
		fprintf(fp, "every column of %s fits the proposal\n", c->data);
out:
	json_decref(local);
	json_decref(common);
	json_decref(prop);
	fl_schema_free(s);
	return r;
}

static void approve_usage(void)
{
	printf("usage: fedlead-node schema approve PROPOSAL.json --config NODE.conf\n\n"
	       "Shows the proposal's fingerprint and what it means for this partner's data\n"
	       "(values it holds that go to \"other\", columns it lacks), asks the operator to\n"
	       "type yes, and pins the fingerprint in the node's state directory\n"
	       "(schema.pin): fedlead-node join then refuses any schema with another\n"
	       "fingerprint. Nothing approves a schema but this command.\n");
}

static int schema_approve(int argc, char **argv)
{
	struct fl_node_config c = {0};
	struct round_args a = {0};
	struct fl_schema *s = NULL;
	const char *proposal;
	char fp[65], answer[64], *pin = NULL, *text = NULL, *approved = NULL;
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
	if (r != 0)
		goto out;
	if ((r = fl_schema_load(proposal, &s)) != 0)
		goto out;
	fl_schema_fingerprint_hex(s, fp);
	printf("proposal: %s\nfingerprint: %s\n", proposal, fp);
	if ((r = summarize(&c, proposal, stdout)) != 0)
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
	 * overwrite: the schema the node joins with. */
	if ((r = read_text(proposal, &text, &len)) != 0 ||
	    (r = write_state(&c, "schema.approved.json", text, &approved)) != 0)
		goto out;
	if ((pin = fl_node_config_state_path(&c, PIN_FILE)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if ((r = pin_write(pin, "approved", fp)) != 0)
		goto out;
	printf("approved: this node joins only a federation whose schema has fingerprint %s "
	       "(pinned in %s)\n",
	       fp, pin);
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
