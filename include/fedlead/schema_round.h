/*
 * The schema round at a partner's node (README, "The schema round"): what
 * it sends (its draft, stripped of what stays at the site) and what it
 * checks in the coordinator's answers. No I/O: the client (client.h) moves
 * the frames.
 */
#ifndef FEDLEAD_SCHEMA_ROUND_H
#define FEDLEAD_SCHEMA_ROUND_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/schema.h"
#include "wire.pb-c.h"

/*
 * The draft as it leaves the site: json (a drafted schema) with only the
 * keys of the schema contract (fl_schema_round_contract()) and no clip
 * ranges (drafted from local quantiles; people agree on them). So no
 * "comment" and nothing of how this partner's files are written
 * ("delimiter", "encoding", "decimal", "thousands", "currency", at the top
 * and on features). A date feature's "reference" is kept: it discloses the
 * month after this partner's latest date. Category values are as drafted:
 * the caller drafted with min_count. *out is compact JSON, malloc'ed.
 */
int fl_schema_round_strip(const char *json, size_t len, char **out);

/* fl_schema_round_strip_flags() flags. */
#define FL_STRIP_TRANSFORMS 1u /* keep a numeric feature's "transform" and "knots" */
#define FL_STRIP_CLIP 2u       /* and its "clip" (drafted with round_clip) */

/*
 * fl_schema_round_strip() keeping, with FL_STRIP_TRANSFORMS, each numeric
 * feature's drafted transform ("spline", "bins" or "log1p") and its
 * "knots", and with FL_STRIP_CLIP also that feature's clip range, which
 * the caller drafted for the round (fl_schema_draft_opts.round_clip = k:
 * the 1st and 99th percentiles, at least k ranks from either end, rounded,
 * each bound one k values round to; none for a column of fewer than
 * fl_schema_round_clip_min(k) values). Every other clip range,
 * and "special" and "monotone", stay at the site.
 */
int fl_schema_round_strip_flags(const char *json, size_t len, unsigned flags, char **out);

/* fl_schema_round_contract() flags. */
#define FL_CONTRACT_NO_CLIP 1u /* a draft: "clip" only beside a "transform" */
#define FL_CONTRACT_COMMENT 2u /* a file for approve: a top-level "comment" */
/* Sizes of a key and of a message as quoted from a peer. */
#define FL_CONTRACT_KEY_SHOWN 128
#define FL_CONTRACT_MSG 1024

/*
 * FL_ERR_PROTO unless every key of json is in the schema contract: at the
 * top "fedlead_schema", "label", "id", "features", "ignore",
 * "missing_values"; in the label "column", "positive", "negative"; on a
 * feature "name", "type", "missing", "values", "other", "missing_values",
 * "case", "format", "reference", "clip", "transform", "knots", "columns" (with
 * FL_CONTRACT_NO_CLIP, "clip" only on a feature with a "transform", else
 * the message below). The message is "WHO carries \"KEY\" at
 * $.PATH.KEY, which is not part of the schema contract:
 * refused" (KEY without control characters). Before it is parsed, text
 * with more JSON objects and arrays, or items, than a schema of
 * FL_SCHEMA_MAX_FEATURES features holds is refused ("WHO holds N JSON
 * objects and arrays and M items, more than ..."): its tree would cost
 * tens of times its size. Text that is not a JSON object passes: its shape
 * is fl_schema_parse()'s to judge.
 */
int fl_schema_round_contract(const char *json, size_t len, unsigned flags, const char *who);

/* The coordinator's answer. */
struct fl_schema_proposal {
	char *schema; /* merged schema JSON, NUL-terminated; NULL on conflict */
	uint8_t fingerprint[FL_FINGERPRINT_LEN];
	char **conflicts, **notes, **partners;
	size_t n_conflicts, n_notes, n_partners;
};
void fl_schema_proposal_free(struct fl_schema_proposal *p);

/* The Hello of a node that comes for the schema round. */
int fl_schema_round_hello(const char *federation_id, uint8_t **frame, size_t *len);

/* The SchemaDraft carrying draft (what fl_schema_round_strip() made). */
int fl_schema_round_draft(const char *draft, size_t len, uint8_t **frame, size_t *flen);

/*
 * The coordinator's answer to the Hello: 0 for a Welcome into the schema
 * round of federation_id; FL_ERR_AUTH for a Reject ("coordinator HOST
 * refused the schema round: REASON"); FL_ERR_PROTO for anything else (a
 * Welcome to training, another version, another federation).
 */
int fl_schema_round_welcome(const Fedlead__Wire__Envelope *env, const char *federation_id,
                            const char *peer);

/*
 * The proposal: FL_ERR_PROTO unless env is a SchemaProposal whose schema
 * parses and has the fingerprint it claims (or whose conflicts are listed).
 */
int fl_schema_round_proposal(const Fedlead__Wire__Envelope *env, const char *peer,
                             struct fl_schema_proposal *out);

#endif
