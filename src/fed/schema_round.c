/*
 * The schema round at a partner's node: the messages it sends and the
 * checks of what it receives (include/fedlead/schema_round.h).
 */
#include "fedlead/schema_round.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/strv.h"
#include "fedlead/wire.h"

/*
 * The schema contract: the keys a schema agreed in the round may carry. An
 * allow-list, so that a key added to the schema later is refused in the
 * round until it is added here. What is not in it either says how one
 * partner's files are written ("delimiter", "encoding", "decimal",
 * "thousands", "currency": outside the fingerprint, so a proposal carrying
 * them would make one partner read its numbers differently under the
 * fingerprint every partner approved) or is words nobody approves
 * ("comment"). "clip" is in the contract, but in a draft only beside a
 * "transform" (a numeric feature's spline, bins or log1p, whose knots
 * placed from data need a clip range): the node drafts it from its 1st
 * and 99th percentiles, at least schema_min_count ranks from either end,
 * each bound one that many values round to, and only from
 * fl_schema_round_clip_min() values, and the coordinator proposes
 * the union of those sent (fl_schema_merge_opts()).
 */
static const char *const contract_top[] = {"fedlead_schema", "label",          "id", "features",
                                           "ignore",         "missing_values", NULL};
static const char *const contract_label[] = {"column", "positive", "negative", NULL};
static const char *const contract_feature[] = {
        "name",   "type",      "missing", "values",    "other", "missing_values", "case",
        "format", "reference", "clip",    "transform", "knots", "columns",        NULL};

static int allowed(const char *const *keys, const char *key, unsigned flags)
{
	if (strcmp(key, "clip") == 0 && (flags & FL_CONTRACT_NO_CLIP))
		return 0;
	if (strcmp(key, "comment") == 0 && (flags & FL_CONTRACT_COMMENT))
		return 1;
	for (size_t i = 0; keys[i] != NULL; i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return 0;
}

/* One object's keys against keys: refused (who != NULL) or deleted. */
static int contract_object(json_t *obj, const char *const *keys, unsigned flags, const char *path,
                           const char *who)
{
	const char *key;
	json_t *v;
	void *tmp;

	if (!json_is_object(obj))
		return 0; /* its shape is fl_schema_parse()'s to judge */
	json_object_foreach_safe(obj, tmp, key, v)
	{
		char shown[FL_CONTRACT_KEY_SHOWN];

		(void)v;
		if (allowed(keys, key, flags))
			continue;
		if (who == NULL) {
			json_object_del(obj, key);
			continue;
		}
		/* The key comes from a peer: printed without its control
		 * characters. */
		fl_wire_clean_string(shown, sizeof(shown), key);
		return fl_fail(FL_ERR_PROTO,
		               "%s carries \"%s\" at %s.%s, which is not part of the schema "
		               "contract: refused",
		               who, shown, path, shown);
	}
	return 0;
}

static int contract_walk(json_t *root, unsigned flags, const char *who)
{
	json_t *f;
	size_t k;
	int r;

	int draft = (flags & FL_CONTRACT_NO_CLIP) != 0;

	/* "clip" as a key is checked feature by feature below. */
	flags &= ~FL_CONTRACT_NO_CLIP;

	if ((r = contract_object(root, contract_top, flags, "$", who)) != 0 ||
	    (r = contract_object(json_object_get(root, "label"), contract_label, flags, "$.label",
	                         who)) != 0)
		return r;
	json_array_foreach(json_object_get(root, "features"), k, f)
	{
		char path[48];

		snprintf(path, sizeof(path), "$.features[%zu]", k);
		/* "comment" is allowed at the top only. */
		if ((r = contract_object(f, contract_feature, flags & ~FL_CONTRACT_COMMENT, path,
		                         who)) != 0)
			return r;
		if (draft && json_is_object(f) && json_object_get(f, "clip") != NULL &&
		    json_object_get(f, "transform") == NULL) {
			if (who == NULL) {
				json_object_del(f, "clip");
				continue;
			}
			return fl_fail(FL_ERR_PROTO,
			               "%s carries \"clip\" at %s.clip, which is not part of the "
			               "schema contract: refused",
			               who, path);
		}
	}
	return 0;
}

/*
 * A JSON tree costs tens of times its text ("{}," is 3 bytes and a
 * jansson object about 200): from a peer, the text is bounded by what a
 * schema can hold before it is parsed. A schema has an object and at most
 * three arrays per feature (values, missing_values, clip) and a few more;
 * FL_CONTRACT_MAX_ITEMS scalars (values, ignored columns) cost at most
 * tens of MiB.
 */
#define FL_CONTRACT_MAX_CONTAINERS (4u * FL_SCHEMA_MAX_FEATURES + 16u)
#define FL_CONTRACT_MAX_ITEMS 1000000u

static int contract_size(const char *json, size_t len, const char *who)
{
	size_t containers = 0, items = 0;
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = json[i];

		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = 0;
			continue;
		}
		if (ch == '"')
			in_string = 1;
		else if (ch == '{' || ch == '[')
			containers++;
		else if (ch == ',')
			items++;
	}
	if (containers > FL_CONTRACT_MAX_CONTAINERS || items > FL_CONTRACT_MAX_ITEMS)
		return fl_fail(FL_ERR_PROTO,
		               "%s holds %zu JSON objects and arrays and %zu items, more than a "
		               "schema of at most %u features holds (%u and %u): refused",
		               who != NULL ? who : "the schema", containers, items,
		               FL_SCHEMA_MAX_FEATURES, FL_CONTRACT_MAX_CONTAINERS,
		               FL_CONTRACT_MAX_ITEMS);
	return 0;
}

int fl_schema_round_contract(const char *json, size_t len, unsigned flags, const char *who)
{
	json_t *root;
	int r;

	if ((r = contract_size(json, len, who)) != 0)
		return r;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	r = contract_walk(root, flags, who);

	json_decref(root);
	return r;
}

/* Keeps a numeric feature's transform (and, with FL_STRIP_CLIP, its clip
 * range) when flags say so and it is one of the drafted kinds; deletes
 * them otherwise. */
static void strip_transform(json_t *f, unsigned flags)
{
	json_t *t = json_object_get(f, "transform"), *ty = json_object_get(f, "type");
	const char *tn = json_is_string(t) ? json_string_value(t) : "";
	int keep =
	        (flags & FL_STRIP_TRANSFORMS) && json_is_string(ty) &&
	        strcmp(json_string_value(ty), "numeric") == 0 &&
	        (strcmp(tn, "spline") == 0 || strcmp(tn, "bins") == 0 || strcmp(tn, "log1p") == 0);

	if (!keep) {
		json_object_del(f, "transform");
		json_object_del(f, "knots");
	}
	if (!keep || !(flags & FL_STRIP_CLIP))
		json_object_del(f, "clip");
}

int fl_schema_round_strip_flags(const char *json, size_t len, unsigned flags, char **out)
{
	json_error_t jerr;
	json_t *root, *f;
	size_t k;
	int r = FL_ERR_NOMEM;

	*out = NULL;
	if ((root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(root)) {
		json_decref(root);
		return fl_fail(FL_ERR_SCHEMA, "the draft is not a JSON object");
	}
	/* Only the contract leaves the site; a clip range only beside a
	 * transform drafted for the round. */
	contract_walk(root, 0, NULL);
	json_array_foreach(json_object_get(root, "features"), k, f)
	{
		if (json_is_object(f))
			strip_transform(f, flags);
	}
	if ((*out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL)
		r = 0;
	json_decref(root);
	return r;
}

int fl_schema_round_strip(const char *json, size_t len, char **out)
{
	return fl_schema_round_strip_flags(json, len, 0, out);
}

void fl_schema_proposal_free(struct fl_schema_proposal *p)
{
	if (p == NULL)
		return;
	free(p->schema);
	fl_strv_free(p->conflicts, p->n_conflicts);
	fl_strv_free(p->notes, p->n_notes);
	fl_strv_free(p->partners, p->n_partners);
	*p = (struct fl_schema_proposal){0};
}

int fl_schema_round_hello(const char *federation_id, uint8_t **frame, size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Hello h = FEDLEAD__WIRE__HELLO__INIT;

	h.protocol_version = FL_WIRE_PROTOCOL_VERSION;
	h.software_version = (char *)FL_VERSION;
	h.federation_id = (char *)federation_id;
	h.schema_round = 1;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	return fl_wire_encode(&env, frame, len);
}

int fl_schema_round_draft(const char *draft, size_t len, uint8_t **frame, size_t *flen)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__SchemaDraft d = FEDLEAD__WIRE__SCHEMA_DRAFT__INIT;

	d.draft.data = (uint8_t *)draft;
	d.draft.len = len;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_SCHEMA_DRAFT;
	env.schema_draft = &d;
	return fl_wire_encode(&env, frame, flen);
}

int fl_schema_round_welcome(const Fedlead__Wire__Envelope *env, const char *federation_id,
                            const char *peer)
{
	const Fedlead__Wire__Welcome *w = env->welcome;

	if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_REJECT)
		return fl_fail(FL_ERR_AUTH, "%s refused the schema round: %s", peer,
		               env->reject->reason);
	if (env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME)
		return fl_fail(FL_ERR_PROTO, "%s: %s instead of a welcome", peer,
		               fl_wire_type_name(env));
	if (w->protocol_version != FL_WIRE_PROTOCOL_VERSION)
		return fl_fail(
		        FL_ERR_PROTO,
		        "%s speaks protocol version %u, this node version %d: no schema round",
		        peer, w->protocol_version, FL_WIRE_PROTOCOL_VERSION);
	if (!w->schema_round)
		return fl_fail(FL_ERR_PROTO,
		               "%s welcomed this node to training, not to a schema round", peer);
	if (strcmp(w->federation_id, federation_id) != 0)
		return fl_fail(FL_ERR_PROTO, "%s runs federation \"%s\", not \"%s\"", peer,
		               w->federation_id, federation_id);
	return 0;
}

static int copy_strv(char *const *v, size_t n, char ***out, size_t *out_n)
{
	*out = NULL;
	*out_n = 0;
	if (n == 0)
		return 0;
	if ((*out = calloc(n, sizeof(**out))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (((*out)[i] = strdup(v[i])) == NULL)
			return FL_ERR_NOMEM;
		*out_n = i + 1;
	}
	return 0;
}

int fl_schema_round_proposal(const Fedlead__Wire__Envelope *env, const char *peer,
                             struct fl_schema_proposal *out)
{
	const Fedlead__Wire__SchemaProposal *sp = env->schema_proposal;
	struct fl_schema *s = NULL;
	char who[300];
	int r;

	*out = (struct fl_schema_proposal){0};
	if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_REJECT)
		return fl_fail(FL_ERR_AUTH, "%s ended the schema round: %s", peer,
		               env->reject->reason);
	if (env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_SCHEMA_PROPOSAL)
		return fl_fail(FL_ERR_PROTO, "%s: %s instead of the schema proposal", peer,
		               fl_wire_type_name(env));
	if ((r = copy_strv(sp->conflicts, sp->n_conflicts, &out->conflicts, &out->n_conflicts)) !=
	            0 ||
	    (r = copy_strv(sp->notes, sp->n_notes, &out->notes, &out->n_notes)) != 0 ||
	    (r = copy_strv(sp->partners, sp->n_partners, &out->partners, &out->n_partners)) != 0)
		goto fail;
	if (sp->schema.len == 0) {
		if (sp->n_conflicts == 0) {
			r = fl_fail(FL_ERR_PROTO,
			            "%s: a schema proposal with neither a schema nor "
			            "conflicts",
			            peer);
			goto fail;
		}
		return 0;
	}
	/* Keys outside the contract are outside the fingerprint, or words
	 * nobody approves: refused before anything else. */
	snprintf(who, sizeof(who), "%s: the proposal", peer);
	if ((r = fl_schema_round_contract((const char *)sp->schema.data, sp->schema.len, 0, who)) !=
	    0)
		goto fail;
	/* The fingerprint shown to the operator is the one of the text it
	 * approves, computed here, never only the one the coordinator says. */
	if ((r = fl_schema_parse((const char *)sp->schema.data, sp->schema.len, "the proposal",
	                         &s)) != 0) {
		char clean[FL_CONTRACT_MSG];

		/* The parser quotes the coordinator's text: printed to the
		 * operator's terminal without its control characters. */
		fl_wire_clean_string(clean, sizeof(clean), fl_errmsg());
		r = fl_fail(FL_ERR_PROTO, "%s: %s", peer, clean);
		goto fail;
	}
	if (memcmp(s->fingerprint, sp->fingerprint.data, FL_FINGERPRINT_LEN) != 0) {
		r = fl_fail(FL_ERR_PROTO, "%s: the proposal's fingerprint is not its schema's",
		            peer);
		goto fail;
	}
	memcpy(out->fingerprint, s->fingerprint, FL_FINGERPRINT_LEN);
	if ((out->schema = malloc(sp->schema.len + 1)) == NULL) {
		r = FL_ERR_NOMEM;
		goto fail;
	}
	memcpy(out->schema, sp->schema.data, sp->schema.len);
	out->schema[sp->schema.len] = '\0';
	fl_schema_free(s);
	return 0;
fail:
	fl_schema_free(s);
	fl_schema_proposal_free(out);
	return r;
}
