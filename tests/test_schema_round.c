/*
 * Tests for the schema round without sockets: the coordinator's state
 * machine (src/fed/coord_schema.c) with partners' drafts, its refusals
 * with their exact messages, and the node's side (src/fed/schema_round.c):
 * what leaves the site and the checks of the proposal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/coord.h"
#include "fedlead/error.h"
#include "fedlead/schema.h"
#include "fedlead/schema_merge.h"
#include "fedlead/schema_round.h"
#include "fedlead/wire.h"

#define FED "schema-fed"

static const char *const PARTNERS[] = {"acme", "globex", "initech"};

struct rec {
	/* per partner: the last message it was sent, decoded, and counts */
	Fedlead__Wire__Envelope *last[3];
	int sent[3], rejects[3];
	int finished, ok;
	char msg[1024];
	char *proposal, *conflicts;
};

static int idx(const char *p)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(p, PARTNERS[i]) == 0)
			return i;
	fail_msg("unknown partner %s", p);
	return -1;
}

/* Messages go through the real encoder and decoder. */
static int io_send(void *ctx, const char *partner, const Fedlead__Wire__Envelope *env)
{
	struct rec *r = ctx;
	int i = idx(partner);
	uint8_t *frame;
	size_t len;

	assert_int_equal(fl_wire_encode(env, &frame, &len), 0);
	fl_wire_free(r->last[i]);
	assert_int_equal(fl_wire_decode(frame + 4, len - 4, "coordinator", &r->last[i]), 0);
	free(frame);
	r->sent[i]++;
	if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_REJECT)
		r->rejects[i]++;
	return 0;
}

static void io_disconnect(void *ctx, const char *partner)
{
	(void)ctx;
	(void)partner;
}

static void io_arm_timer(void *ctx, double s)
{
	(void)ctx;
	(void)s;
}

static void io_proposal(void *ctx, const char *json, const char *conflicts)
{
	struct rec *r = ctx;

	r->proposal = json ? strdup(json) : NULL;
	r->conflicts = conflicts ? strdup(conflicts) : NULL;
}

static void io_finished(void *ctx, int ok, const char *msg)
{
	struct rec *r = ctx;

	r->finished++;
	r->ok = ok;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static struct fl_fedcoord *coord(struct rec *r, int schema_round, const struct fl_schema *s)
{
	struct fl_coord_settings set = {.federation_id = FED,
	                                .partners = PARTNERS,
	                                .n_partners = 3,
	                                .min_partners = 3,
	                                .algorithm = FL_FED_NEWTON,
	                                .l2 = 1,
	                                .max_iterations = 10,
	                                .tolerance = 1e-8,
	                                .hist_bins = 100,
	                                .hist_range = 20,
	                                .round_deadline = 60,
	                                .schema_round = schema_round};
	struct fl_fedcoord_io io = {.ctx = r,
	                            .send = io_send,
	                            .disconnect = io_disconnect,
	                            .arm_timer = io_arm_timer,
	                            .schema_proposal = io_proposal,
	                            .finished = io_finished};
	struct fl_fedcoord *c = NULL;

	if (fl_fedcoord_new(&set, s, &io, &c) != 0)
		fail_msg("fl_fedcoord_new: %s", fl_errmsg());
	return c;
}

static void rec_free(struct rec *r)
{
	for (int i = 0; i < 3; i++)
		fl_wire_free(r->last[i]);
	free(r->proposal);
	free(r->conflicts);
}

/* The Hello a node sends, decoded as the coordinator sees it. */
static Fedlead__Wire__Envelope *hello(void)
{
	Fedlead__Wire__Envelope *env = NULL;
	uint8_t *frame;
	size_t len;

	assert_int_equal(fl_schema_round_hello(FED, &frame, &len), 0);
	assert_int_equal(fl_wire_decode(frame + 4, len - 4, "node", &env), 0);
	free(frame);
	return env;
}

static int send_draft(struct fl_fedcoord *c, const char *partner, const char *json)
{
	Fedlead__Wire__Envelope *env = NULL;
	uint8_t *frame;
	size_t len;
	int r;

	assert_int_equal(fl_schema_round_draft(json, strlen(json), &frame, &len), 0);
	assert_int_equal(fl_wire_decode(frame + 4, len - 4, partner, &env), 0);
	free(frame);
	fl_err_clear();
	r = fl_fedcoord_message(c, partner, env);
	fl_wire_free(env);
	return r;
}

#define DRAFT(values, type)                                                                        \
	"{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"yes\", "         \
	"\"negative\": \"no\"}, \"features\": [{\"name\": \"src\", \"type\": \"categorical\", "    \
	"\"values\": " values ", \"other\": true}, {\"name\": \"n\", \"type\": \"" type "\""       \
	"}], \"ignore\": []}"

static void join_all(struct fl_fedcoord *c, struct rec *r)
{
	Fedlead__Wire__Envelope *h = hello();

	for (int i = 0; i < 3; i++) {
		assert_int_equal(fl_fedcoord_join(c, PARTNERS[i], h->hello), 0);
		assert_int_equal(r->last[i]->body_case, FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME);
		assert_true(r->last[i]->welcome->schema_round);
		assert_int_equal(fl_schema_round_welcome(r->last[i], FED, "coordinator x"), 0);
	}
	fl_wire_free(h);
}

static void test_round_proposes_merge(void **state)
{
	static const char *const drafts[] = {DRAFT("[\"web\"]", "numeric"),
	                                     DRAFT("[\"fair\", \"web\"]", "numeric"),
	                                     DRAFT("[\"call\"]", "numeric")};
	struct rec r = {0};
	struct fl_fedcoord *c = coord(&r, 1, NULL);
	struct fl_schema_merge_input in[3];
	struct fl_schema_merge_result want;
	struct fl_schema_proposal p[3];
	uint8_t fp0[FL_FINGERPRINT_LEN];

	(void)state;
	join_all(c, &r);
	/* Before the proposal the last draft counts (a reconnection, an
	 * edit). */
	assert_int_equal(send_draft(c, "globex", drafts[2]), 0);
	assert_int_equal(send_draft(c, "globex", drafts[1]), 0);
	/* A draft that is no schema is refused, and the round waits on. */
	assert_int_equal(send_draft(c, "acme", "{\"fedlead_schema\": 1}"), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer acme: its schema draft: acme: \"label\" must be an "
	                                 "object with \"column\", \"positive\" and \"negative\"");
	assert_int_equal(send_draft(c, "acme", drafts[0]), 0);
	assert_int_equal(r.finished, 0);
	assert_int_equal(send_draft(c, "initech", drafts[2]), 0);
	/* The proposal is the merge of the drafts in the order of the partners' names. */
	for (int i = 0; i < 3; i++)
		in[i] = (struct fl_schema_merge_input){PARTNERS[i], drafts[i], strlen(drafts[i])};
	assert_int_equal(fl_schema_merge(in, 3, &want), 0);
	/* ... without the merge's "comment", which is no part of the schema
	 * contract (a node refuses a proposal carrying one). */
	{
		json_t *j = json_loads(want.json, 0, NULL);

		assert_non_null(j);
		assert_non_null(json_object_get(j, "comment"));
		json_object_del(j, "comment");
		free(want.json);
		want.json = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(j);
		assert_non_null(want.json);
	}
	assert_non_null(r.proposal);
	assert_string_equal(r.proposal, want.json);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r.last[i]->body_case,
		                 FEDLEAD__WIRE__ENVELOPE__BODY_SCHEMA_PROPOSAL);
		assert_int_equal(fl_schema_round_proposal(r.last[i], "coordinator x", &p[i]), 0);
		assert_string_equal(p[i].schema, want.json);
		assert_int_equal(p[i].n_partners, 3);
		assert_int_equal(p[i].n_conflicts, 0);
		if (i == 0)
			memcpy(fp0, p[0].fingerprint, sizeof(fp0));
		assert_memory_equal(p[i].fingerprint, fp0, FL_FINGERPRINT_LEN);
		fl_schema_proposal_free(&p[i]);
	}
	/* A partner back after the proposal went out gets it again for the
	 * same draft, and nothing for another. */
	fl_wire_free(r.last[1]);
	r.last[1] = NULL;
	assert_int_equal(send_draft(c, "globex", drafts[1]), 0);
	assert_int_equal(fl_schema_round_proposal(r.last[1], "coordinator x", &p[1]), 0);
	assert_string_equal(p[1].schema, want.json);
	fl_schema_proposal_free(&p[1]);
	assert_int_equal(send_draft(c, "globex", drafts[2]), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer globex: a schema draft after the proposal went out "
	                                 "(another draft needs another round)");
	/* Done once every partner has gone with it. */
	assert_int_equal(r.finished, 0);
	for (int i = 0; i < 3; i++)
		fl_fedcoord_leave(c, PARTNERS[i]);
	assert_int_equal(r.finished, 1);
	assert_int_equal(r.ok, 1);
	fl_schema_merge_result_free(&want);
	fl_fedcoord_free(c);
	rec_free(&r);
}

/* A draft whose "n" is categorical. */
#define CATEGORICAL_N                                                                              \
	"{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"yes\", "         \
	"\"negative\": \"no\"}, \"features\": [{\"name\": \"src\", \"type\": \"categorical\", "    \
	"\"values\": [\"web\"], \"other\": true}, {\"name\": \"n\", \"type\": \"categorical\", "   \
	"\"values\": [\"1\"]}], \"ignore\": []}"

static void test_round_conflicts(void **state)
{
	struct rec r = {0};
	struct fl_fedcoord *c = coord(&r, 1, NULL);
	struct fl_schema_proposal p;

	(void)state;
	join_all(c, &r);
	assert_int_equal(send_draft(c, "acme", DRAFT("[\"web\"]", "numeric")), 0);
	assert_int_equal(send_draft(c, "globex", DRAFT("[\"web\"]", "numeric")), 0);
	assert_int_equal(send_draft(c, "initech", CATEGORICAL_N), 0);
	assert_null(r.proposal);
	assert_string_equal(r.conflicts, "features \"n\": type numeric in acme, categorical in "
	                                 "initech\n");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fl_schema_round_proposal(r.last[i], "c", &p), 0);
		assert_null(p.schema);
		assert_int_equal(p.n_conflicts, 1);
		assert_string_equal(p.conflicts[0],
		                    "features \"n\": type numeric in acme, categorical in initech");
		fl_schema_proposal_free(&p);
	}
	assert_int_equal(r.finished, 1);
	assert_int_equal(r.ok, 0);
	assert_string_equal(r.msg, "the schema round ended with 1 conflict between the drafts "
	                           "(sent to every partner): people decide them, edit a draft "
	                           "(fedlead-node schema propose --draft) and run the round again");
	fl_fedcoord_free(c);
	rec_free(&r);
}

/* A training coordinator refuses a node that comes for a schema round, and
 * a schema-round coordinator a node that comes to train. */
static void test_round_refusals(void **state)
{
	static const char S[] = DRAFT("[\"web\"]", "numeric");
	struct rec r = {0}, r2 = {0};
	struct fl_schema *s = NULL;
	struct fl_fedcoord *c;
	Fedlead__Wire__Envelope *h = hello();

	(void)state;
	assert_int_equal(fl_schema_parse(S, strlen(S), "s", &s), 0);
	c = coord(&r, 0, s);
	assert_int_equal(fl_fedcoord_join(c, "acme", h->hello), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "partner acme: federation schema-fed trains on an agreed schema; this "
	                    "coordinator runs no schema round (schema_round = on starts one)");
	assert_int_equal(fl_schema_round_welcome(r.last[0], FED, "coordinator x"), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "coordinator x refused the schema round: federation schema-fed trains "
	                    "on an agreed schema; this coordinator runs no schema round "
	                    "(schema_round = on starts one)");
	fl_fedcoord_free(c);

	c = coord(&r2, 1, NULL);
	h->hello->schema_round = 0;
	assert_int_equal(fl_fedcoord_join(c, "acme", h->hello), FL_ERR_AUTH);
	assert_string_equal(fl_errmsg(),
	                    "partner acme: this coordinator runs the schema round of federation "
	                    "schema-fed, not training (fedlead-node schema propose takes part in "
	                    "it)");
	assert_int_equal(r2.rejects[0], 1);
	fl_fedcoord_free(c);
	fl_wire_free(h);
	fl_schema_free(s);
	rec_free(&r);
	rec_free(&r2);
}

/* What leaves the site: no comment, no dialect, no clip range. */
static void test_strip(void **state)
{
	static const char D[] =
	        "{\"fedlead_schema\": 1, \"comment\": \"drafted\", \"delimiter\": \";\", "
	        "\"encoding\": \"windows-1252\", \"label\": {\"column\": \"won\", \"positive\": "
	        "\"yes\", \"negative\": \"no\"}, \"features\": [{\"name\": \"n\", \"type\": "
	        "\"numeric\", \"missing\": \"impute\", \"clip\": [0, 9], \"decimal\": \",\"}], "
	        "\"ignore\": []}";
	char *out = NULL;

	(void)state;
	assert_int_equal(fl_schema_round_strip(D, strlen(D), &out), 0);
	assert_string_equal(out, "{\"fedlead_schema\":1,\"label\":{\"column\":\"won\","
	                         "\"positive\":\"yes\",\"negative\":\"no\"},\"features\":[{"
	                         "\"name\":\"n\",\"type\":\"numeric\",\"missing\":\"impute\"}],"
	                         "\"ignore\":[]}");
	free(out);
}

/* For the round: a numeric feature's transform and knots, and its clip
 * range with FL_STRIP_CLIP; no "special" (a value from the data), no
 * "monotone", no clip range where there is no transform; a categorical
 * feature never carries a transform. A draft with a clip range beside a
 * transform passes the coordinator's check; one without is refused. */
static void test_strip_transforms(void **state)
{
	static const char D[] =
	        "{\"fedlead_schema\": 1, \"label\": {\"column\": \"won\", \"positive\": \"yes\", "
	        "\"negative\": \"no\"}, \"features\": [{\"name\": \"n\", \"type\": \"numeric\", "
	        "\"clip\": [0, 9], \"transform\": \"spline\", \"knots\": 5, \"special\": [-1], "
	        "\"monotone\": \"increasing\"}, {\"name\": \"m\", \"type\": \"numeric\", \"clip\": "
	        "[1, 2]}, {\"name\": \"c\", \"type\": \"categorical\", \"values\": [\"a\"], "
	        "\"transform\": \"log1p\"}]}";
	char *out = NULL;

	(void)state;
	assert_int_equal(fl_schema_round_strip_flags(D, strlen(D),
	                                             FL_STRIP_TRANSFORMS | FL_STRIP_CLIP, &out),
	                 0);
	assert_string_equal(out, "{\"fedlead_schema\":1,\"label\":{\"column\":\"won\","
	                         "\"positive\":\"yes\",\"negative\":\"no\"},\"features\":[{"
	                         "\"name\":\"n\",\"type\":\"numeric\",\"clip\":[0,9],\"transform\":"
	                         "\"spline\",\"knots\":5},{\"name\":\"m\",\"type\":\"numeric\"},{"
	                         "\"name\":\"c\",\"type\":\"categorical\",\"values\":[\"a\"]}]}");
	assert_int_equal(fl_schema_round_contract(out, strlen(out), FL_CONTRACT_NO_CLIP, "peer p"),
	                 0);
	free(out);
	/* A draft file's clip ranges stay at the site. */
	assert_int_equal(fl_schema_round_strip_flags(D, strlen(D), FL_STRIP_TRANSFORMS, &out), 0);
	assert_null(strstr(out, "clip"));
	assert_non_null(strstr(out, "\"transform\":\"spline\""));
	free(out);
	assert_int_equal(fl_schema_round_contract(D, strlen(D), FL_CONTRACT_NO_CLIP, "peer p"),
	                 FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(), "peer p carries \"special\" at $.features[0].special, "
	                                 "which is not part of the schema contract: refused");
}

/* A proposal whose fingerprint is not its schema's is refused: the
 * operator is shown the fingerprint of the text it approves. */
static void test_proposal_fingerprint(void **state)
{
	static const char S[] = DRAFT("[\"web\"]", "numeric");
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__SchemaProposal sp = FEDLEAD__WIRE__SCHEMA_PROPOSAL__INIT;
	struct fl_schema_proposal p;
	uint8_t fp[FL_FINGERPRINT_LEN] = {1};
	uint8_t *frame;
	size_t len;

	(void)state;
	sp.schema.data = (uint8_t *)S;
	sp.schema.len = strlen(S);
	sp.fingerprint.data = fp;
	sp.fingerprint.len = sizeof(fp);
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_SCHEMA_PROPOSAL;
	env.schema_proposal = &sp;
	assert_int_equal(fl_schema_round_proposal(&env, "coordinator x", &p), FL_ERR_PROTO);
	assert_string_equal(fl_errmsg(),
	                    "coordinator x: the proposal's fingerprint is not its schema's");
	/* A schema and conflicts at once is not a proposal the encoder sends. */
	sp.n_conflicts = 1;
	sp.conflicts = (char *[]){"x"};
	assert_int_equal(fl_wire_encode(&env, &frame, &len), FL_ERR_INVALID);
	assert_string_equal(fl_errmsg(), "message not sent: schema_proposal: a schema with its "
	                                 "fingerprint, or conflicts, and not both");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_proposes_merge),
	        cmocka_unit_test(test_round_conflicts),
	        cmocka_unit_test(test_round_refusals),
	        cmocka_unit_test(test_strip),
	        cmocka_unit_test(test_strip_transforms),
	        cmocka_unit_test(test_proposal_fingerprint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
