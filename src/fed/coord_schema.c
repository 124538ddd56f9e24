/*
 * The schema round (README, "The schema round"): instead of training, the
 * coordinator collects each partner's drafted schema, merges them with
 * fl_schema_merge() once every partner on the allow-list has sent one, and
 * sends every partner the proposal, or the conflicts for people to decide.
 * Nothing is adopted here: each partner's operator approves the proposal
 * (fedlead-node schema approve) or not.
 *
 * What a partner sends is its draft as its node made it: category values
 * held fewer than its schema_min_count times are not in it, and a clip
 * range only beside a numeric feature's transform (drafted from the
 * partner's 1st and 99th percentiles, at least k ranks from either end,
 * each bound one k values round to, none below max(4 k, 50) values). The
 * coordinator proposes the transform a
 * majority proposed, with the union of the ranges sent
 * (FL_MERGE_TRANSFORMS). It cannot ask for more: there is no message that
 * asks, and a node sends its draft once.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_int.h"
#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/schema.h"
#include "fedlead/schema_merge.h"
#include "fedlead/schema_round.h"
#include "fedlead/utf8.h"
#include "fedlead/wire.h"

int fl_coord_schema_join(struct fl_fedcoord *c, struct partner *p, const Fedlead__Wire__Hello *h,
                         char *reason, size_t reason_len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Welcome w = FEDLEAD__WIRE__WELCOME__INIT;
	Fedlead__Wire__Plan plan = FEDLEAD__WIRE__PLAN__INIT;

	if (!c->set.schema_round) {
		snprintf(reason, reason_len,
		         "federation %.64s trains on an agreed schema; this coordinator runs no "
		         "schema round (schema_round = on starts one)",
		         c->federation_id);
		return FL_ERR_AUTH;
	}
	if (!h->schema_round) {
		snprintf(reason, reason_len,
		         "this coordinator runs the schema round of federation %.64s, not training "
		         "(fedlead-node schema propose takes part in it)",
		         c->federation_id);
		return FL_ERR_AUTH;
	}
	if (h->federation_id[0] != '\0' && strcmp(h->federation_id, c->federation_id) != 0) {
		snprintf(reason, reason_len,
		         "partner asked for federation \"%.64s\", this is \"%.64s\"",
		         h->federation_id, c->federation_id);
		return FL_ERR_AUTH;
	}
	if (c->phase >= FL_PHASE_DONE) {
		snprintf(reason, reason_len, "the schema round of federation %.64s has ended",
		         c->federation_id);
		return FL_ERR_AUTH;
	}
	p->connected = 1;
	plan.algorithm = (char *)"";
	w.protocol_version = FL_WIRE_PROTOCOL_VERSION;
	w.federation_id = c->federation_id;
	w.coordinator_version = (char *)FL_VERSION;
	w.partner_identity = p->id;
	w.plan = &plan;
	w.schema_round = 1;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME;
	env.welcome = &w;
	c->io.send(c->io.ctx, p->id, &env);
	fl_log(FL_LOG_NOTICE, "schema round: partner %s joined (%zu of %zu connected)", p->id,
	       fl_coord_count(c, 1, 0), c->np);
	fl_audit_event(c->io.audit, "join", "{s:s, s:s}", "partner", p->id, "version",
	               h->software_version);
	return 0;
}

/* Lines for a repeated string field: at most FL_WIRE_MAX_STRING bytes each
 * without control characters (a column name may hold any), and fewer than
 * FL_WIRE_MAX_REPEATED of them. */
static char **wire_lines(char *const *lines, size_t n, size_t *out_n)
{
	size_t k = n < FL_WIRE_MAX_REPEATED ? n : FL_WIRE_MAX_REPEATED - 1;
	char **v = calloc(k + 1, sizeof(*v));

	*out_n = 0;
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < k; i++) {
		if ((v[i] = malloc(FL_WIRE_MAX_STRING + 1)) == NULL)
			goto fail;
		fl_wire_clean_string(v[i], FL_WIRE_MAX_STRING + 1, lines[i]);
	}
	if (k < n) {
		if ((v[k] = malloc(64)) == NULL)
			goto fail;
		snprintf(v[k], 64, "... and %zu more", n - k);
		k++;
	}
	*out_n = k;
	return v;
fail:
	for (size_t i = 0; i <= k; i++)
		free(v[i]);
	free(v);
	return NULL;
}

static void free_lines(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/* The round failed: no checkpoint (there is no schema to tie one to, and
 * a round is run again from the start). With tell, every connected partner
 * is sent a Reject with the reason: a node that only saw the connection
 * close could not say why. */
static void schema_fail(struct fl_fedcoord *c, const char *msg, int tell)
{
	c->phase = FL_PHASE_FAILED;
	fl_log(FL_LOG_ERROR, "schema round of federation %s failed: %s", c->federation_id, msg);
	fl_audit_event(c->io.audit, "failed", "{s:s, s:s}", "federation", c->federation_id,
	               "reason", msg);
	for (size_t i = 0; tell && i < c->np; i++) {
		Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
		Fedlead__Wire__Reject rj = FEDLEAD__WIRE__REJECT__INIT;
		char reason[FL_WIRE_MAX_STRING + 1];

		if (!c->p[i].connected)
			continue;
		/* The reason may quote a partner's column names. */
		fl_wire_clean_string(reason, sizeof(reason), msg);
		rj.reason = reason;
		rj.permanent = 1;
		env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_REJECT;
		env.reject = &rj;
		c->io.send(c->io.ctx, c->p[i].id, &env);
	}
	c->io.finished(c->io.ctx, 0, msg);
}

/* The proposal is the schema contract: the merge's "comment" (words for a
 * person running fedlead-node schema merge) is no part of it, and a node
 * refuses a proposal carrying one. */
static int drop_comment(char **json)
{
	json_t *root = json_loads(*json, JSON_REJECT_DUPLICATES, NULL);
	char *text;

	if (root == NULL)
		return FL_ERR_NOMEM;
	json_object_del(root, "comment");
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text == NULL)
		return FL_ERR_NOMEM;
	free(*json);
	*json = text;
	return 0;
}

/* src into dst (room for strlen(src) + 1) with each control character, or
 * byte that is not UTF-8, as '?': fl_wire_clean_string() without its
 * length limit. */
static void clean_text(char *dst, const char *src)
{
	size_t n = strlen(src), o = 0, k;
	uint32_t cp;

	for (size_t i = 0; i < n; i += k) {
		if ((k = fl_utf8_char(src + i, n - i, &cp)) == 0 || fl_utf8_is_control(cp)) {
			k = k == 0 ? 1 : k;
			dst[o++] = '?';
			continue;
		}
		memcpy(dst + o, src + i, k);
		o += k;
	}
	dst[o] = '\0';
}

/* Every partner has sent its draft: merge, and tell everyone. */
static void schema_finish(struct fl_fedcoord *c)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__SchemaProposal sp = FEDLEAD__WIRE__SCHEMA_PROPOSAL__INIT;
	struct fl_schema_merge_input *in = calloc(c->np, sizeof(*in));
	struct fl_schema_merge_result res = {0};
	struct fl_schema *s = NULL;
	char **partners = calloc(c->np, sizeof(*partners)), *all = NULL, msg[600], fp[65];
	size_t len = 0;
	int r;

	if (in == NULL || partners == NULL) {
		schema_fail(c, "out of memory merging the drafts", 1);
		goto out;
	}
	for (size_t i = 0; i < c->np; i++) {
		in[i] = (struct fl_schema_merge_input){c->p[i].id, c->p[i].draft,
		                                       c->p[i].draft_len};
		partners[i] = c->p[i].id;
	}
	r = fl_schema_merge_opts(in, c->np, FL_MERGE_TRANSFORMS, &res);
	if (r == 0 && drop_comment(&res.json) != 0) {
		schema_fail(c, "out of memory merging the drafts", 1);
		goto out;
	}
	if (r == 0 &&
	    (r = fl_schema_parse(res.json, strlen(res.json), "the merged schema", &s)) != 0)
		fl_schema_merge_result_free(&res);
	if (r != 0 && res.n_conflicts == 0) {
		snprintf(msg, sizeof(msg), "the drafts cannot be merged: %s", fl_errmsg());
		schema_fail(c, msg, 1);
		goto out;
	}
	sp.partners = partners;
	sp.n_partners = c->np;
	if ((sp.notes = wire_lines(res.notes, res.n_notes, &sp.n_notes)) == NULL && res.n_notes) {
		schema_fail(c, "out of memory", 1);
		goto out;
	}
	for (size_t i = 0; i < sp.n_notes; i++)
		fl_log(FL_LOG_NOTICE, "schema round: note: %s", sp.notes[i]);
	if (r == 0) {
		sp.schema.data = (uint8_t *)res.json;
		sp.schema.len = strlen(res.json);
		sp.fingerprint.data = s->fingerprint;
		sp.fingerprint.len = FL_FINGERPRINT_LEN;
	} else {
		sp.conflicts = wire_lines(res.conflicts, res.n_conflicts, &sp.n_conflicts);
		if (sp.conflicts == NULL) {
			schema_fail(c, "out of memory", 1);
			goto out;
		}
		/* Logged as sent: cleaned of control characters. */
		for (size_t i = 0; i < sp.n_conflicts; i++)
			fl_log(FL_LOG_ERROR, "schema round: conflict: %s", sp.conflicts[i]);
		/* For the data team to read (STATE_DIR/schema.conflicts.txt):
		 * every conflict, without control characters (a partner's
		 * column name may hold a terminal escape). */
		for (size_t i = 0; i < res.n_conflicts; i++)
			len += strlen(res.conflicts[i]) + 1;
		if ((all = calloc(1, len + 1)) != NULL)
			for (size_t i = 0, o = 0; i < res.n_conflicts; i++) {
				clean_text(all + o, res.conflicts[i]);
				o += strlen(all + o);
				all[o++] = '\n';
			}
	}
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_SCHEMA_PROPOSAL;
	env.schema_proposal = &sp;
	/* Kept for a partner that lost its connection before it got it. */
	if (r == 0 && fl_wire_encode(&env, &c->schema_frame, &c->schema_frame_len) != 0) {
		schema_fail(c, "cannot encode the proposal", 1);
		goto out;
	}
	for (size_t i = 0; i < c->np; i++)
		if (c->p[i].connected)
			c->io.send(c->io.ctx, c->p[i].id, &env);
	if (c->io.schema_proposal != NULL)
		c->io.schema_proposal(c->io.ctx, r == 0 ? res.json : NULL, all);
	if (r == 0) {
		fl_schema_fingerprint_hex(s, fp);
		fl_log(FL_LOG_NOTICE,
		       "schema round: proposed the merge of %zu drafts to every partner, "
		       "fingerprint %s; each partner's operator approves it or not",
		       c->np, fp);
		fl_audit_event(c->io.audit, "schema_proposal", "{s:s, s:s}", "federation",
		               c->federation_id, "fingerprint", fp);
		c->phase = FL_PHASE_FINAL; /* DONE once every partner has it */
	} else {
		snprintf(msg, sizeof(msg),
		         "the schema round ended with %zu conflict%s between the drafts (sent to "
		         "every partner): people decide them, edit a draft (fedlead-node schema "
		         "propose --draft) and run the round again",
		         res.n_conflicts, res.n_conflicts == 1 ? "" : "s");
		/* The partners have the conflicts. */
		schema_fail(c, msg, 0);
	}
out:
	free_lines(sp.notes, sp.n_notes);
	free_lines(sp.conflicts, sp.n_conflicts);
	free(all);
	fl_schema_free(s);
	fl_schema_merge_result_free(&res);
	free(partners);
	free(in);
}

int fl_coord_schema_message(struct fl_fedcoord *c, struct partner *p,
                            const Fedlead__Wire__Envelope *env)
{
	struct fl_schema_merge_input one;
	struct fl_schema_merge_result res = {0};
	const ProtobufCBinaryData *d;
	size_t have = 0;
	int r;

	if (env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_SCHEMA_DRAFT)
		return fl_fail(FL_ERR_PROTO, "peer %s: unexpected %s message in the schema round",
		               p->id, fl_wire_type_name(env));
	d = &env->schema_draft->draft;
	if (c->phase != FL_PHASE_WAITING) {
		Fedlead__Wire__Envelope *again = NULL;

		/* A partner back after the proposal went out sends its draft
		 * again: the same draft gets the same proposal. */
		if (c->phase != FL_PHASE_FINAL || p->draft == NULL || p->draft_len != d->len ||
		    memcmp(p->draft, d->data, d->len) != 0)
			return fl_fail(
			        FL_ERR_PROTO,
			        "peer %s: a schema draft after the proposal went out (another "
			        "draft needs another round)",
			        p->id);
		if ((r = fl_wire_decode(c->schema_frame + 4, c->schema_frame_len - 4, "self",
		                        &again)) != 0)
			return r;
		c->io.send(c->io.ctx, p->id, again);
		fl_wire_free(again);
		fl_log(FL_LOG_NOTICE, "schema round: sent the proposal again to %s", p->id);
		return 0;
	}
	/* Before the proposal, a partner may send another draft (after a
	 * reconnection, or edited): the last one counts. */
	if (p->draft != NULL) {
		fl_log(FL_LOG_NOTICE, "schema round: %s replaces its draft", p->id);
		free(p->draft);
		p->draft = NULL;
		p->draft_len = 0;
	}
	/* A draft that is no schema on its own is that partner's to fix: said
	 * to it, and the round waits for a good one. */
	{
		char who[160];

		/* Only the schema contract, and a clip range only beside a
		 * transform: what an honest node sends
		 * (fl_schema_round_strip_flags). */
		snprintf(who, sizeof(who), "peer %s: its schema draft", p->id);
		if ((r = fl_schema_round_contract((const char *)d->data, d->len,
		                                  FL_CONTRACT_NO_CLIP, who)) != 0)
			return r;
	}
	one = (struct fl_schema_merge_input){p->id, (const char *)d->data, d->len};
	if ((r = fl_schema_merge(&one, 1, &res)) != 0) {
		r = fl_fail(FL_ERR_PROTO, "peer %s: its schema draft: %s", p->id, fl_errmsg());
		fl_schema_merge_result_free(&res);
		return r;
	}
	fl_schema_merge_result_free(&res);
	if ((p->draft = malloc(d->len + 1)) == NULL)
		return FL_ERR_NOMEM;
	memcpy(p->draft, d->data, d->len);
	p->draft[d->len] = '\0';
	p->draft_len = d->len;
	for (size_t i = 0; i < c->np; i++)
		have += c->p[i].draft != NULL;
	fl_log(FL_LOG_NOTICE, "schema round: draft from %s (%zu of %zu)", p->id, have, c->np);
	fl_audit_event(c->io.audit, "schema_draft", "{s:s, s:I}", "partner", p->id, "bytes",
	               (json_int_t)p->draft_len);
	if (have == c->np)
		schema_finish(c);
	return 0;
}

void fl_coord_schema_leave(struct fl_fedcoord *c)
{
	if (c->phase != FL_PHASE_FINAL || fl_coord_count(c, 1, 0) > 0)
		return;
	c->phase = FL_PHASE_DONE;
	fl_log(FL_LOG_NOTICE, "schema round of federation %s done: every partner has the proposal",
	       c->federation_id);
	c->io.finished(c->io.ctx, 1, "schema proposed");
}
