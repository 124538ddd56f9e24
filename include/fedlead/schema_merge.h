/*
 * Merging partners' drafted schemas into one contract, without their data.
 *
 * Each partner drafts a schema from its own export (fl_schema_draft_opts);
 * fl_schema_merge() makes the one schema every partner can encode its leads
 * with, or lists what a person must decide:
 *   - the label (column, positive, negative) must be the same everywhere;
 *   - a feature has one type everywhere, and every partner has its column
 *     (as a feature: a column ignored at one partner and a feature at
 *     another is for a person to decide);
 *   - categorical values are the union of the drafts' values, sorted as the
 *     draft sorts them (as numbers when every value is one, else bytewise);
 *   - the missing rule is the strictest: "error" beats "impute" (a note
 *     says which partner's blanks will then be refused);
 *   - a clip range is the widest of the drafts' ranges: every partner's
 *     values must fit the agreed range, and the widest is the only one that
 *     clips no partner's values harder than its own draft did. A clip
 *     drafted from local quantiles discloses roughly those quantiles, which
 *     is why the federated schema round does not send it (README, "The
 *     schema round");
 *   - the ignore lists are united, and so are the placeholders
 *     ("missing_values", top level and per feature; once each as they
 *     match, trimmed and in any ASCII case, the first spelling in byte
 *     order);
 *   - a date's reference day is the latest of the drafts' (a note says
 *     whose when they differ), its missing rule and clip as a number's;
 *     its format must agree;
 *   - the dialect keys ("delimiter", "encoding", "decimal", "thousands",
 *     "currency", at the top or on a feature) say how one partner writes
 *     its files, are outside the fingerprint, and are left out;
 *   - any other key (one this version does not know, such as a newer
 *     draft's) is carried through when every draft has it with exactly the
 *     same value (absent counts as a value), and is a conflict otherwise.
 */
#ifndef FEDLEAD_SCHEMA_MERGE_H
#define FEDLEAD_SCHEMA_MERGE_H

#include <stddef.h>

/* One drafted schema: its JSON text and the name conflicts call it by. */
struct fl_schema_merge_input {
	const char *name; /* "a.json", or a partner's identity */
	const char *json;
	size_t len;
};

struct fl_schema_merge_result {
	char *json;       /* the merged schema, pretty JSON; NULL on conflict */
	char **conflicts; /* one line each, for a person to decide */
	size_t n_conflicts;
	char **notes; /* what the merge decided that a person should know */
	size_t n_notes;
};

/*
 * Merges n >= 1 drafts. Returns 0 with res->json set and no conflicts;
 * FL_ERR_SCHEMA with res->conflicts listing every disagreement (e.g.
 * "features \"Lead Source\": type numeric in a.json, categorical in b.json")
 * and fl_errmsg() "the drafts disagree on N points: ..."; FL_ERR_SCHEMA
 * when a draft does not parse (fl_errmsg() names it); FL_ERR_INVALID for
 * n = 0. res is filled in every case and freed with
 * fl_schema_merge_result_free().
 */
int fl_schema_merge(const struct fl_schema_merge_input *in, size_t n,
                    struct fl_schema_merge_result *res);

/*
 * fl_schema_merge() with flags. FL_MERGE_TRANSFORMS is the federation's
 * schema round: a numeric feature's "transform" and "knots" are not
 * conflicts when the drafts differ; the feature gets the transform more
 * than half of the partners proposed (the knots of the first of them) and
 * the union of those partners' clip ranges, else no transform and no clip
 * range; a note names who proposed what, e.g. "features \"Visits\":
 * spline proposed by p1, p2, not by p3; clip [0, 120], the union of their
 * ranges" or "features \"Rooms\": no transform: spline proposed by p1, not
 * a majority of the 3 partners".
 */
#define FL_MERGE_TRANSFORMS 1u
int fl_schema_merge_opts(const struct fl_schema_merge_input *in, size_t n, unsigned flags,
                         struct fl_schema_merge_result *res);

void fl_schema_merge_result_free(struct fl_schema_merge_result *res);

#endif
