/*
 * What the scoring service's request reader (serve_score.c) shares with its
 * fast JSON reader (serve_json.c).
 */
#ifndef FL_NET_SERVE_INT_H
#define FL_NET_SERVE_INT_H

#include <stdint.h>
#include <stdio.h>

#include "fedlead/schema.h"

/* The schema's columns in the order a request's CSV holds them: the id
 * (feature NULL) when the schema has one, then the features. */
struct fl_serve_columns {
	const char **name;
	const struct fl_feature **feature;
	size_t n;
};

/* One CSV field, always quoted; *newlines counts the line ends in it. */
void fl_serve_put_csv(FILE *fp, const char *s, size_t n, size_t *newlines);

/* The header line of the columns c, every name quoted; *newlines counts
 * its line end and any in the names. */
void fl_serve_put_header(FILE *fp, const struct fl_serve_columns *c, size_t *newlines);

/* A JSON real as a CSV field holds it: the shortest of %.15g, %.16g and
 * %.17g that reads back to v, with feature f's decimal comma (f may be
 * NULL). */
void fl_serve_real_text(double v, const struct fl_feature *f, char *buf, size_t n);

struct fl_source;

/*
 * Reads the leads of a JSON body (one object or an array of them) into
 * *src, a record source named name: the header (c's names), then one
 * record per lead, each field as the CSV reader gives it for the CSV that
 * jansson's path writes, on the line where that CSV has it, which
 * *line[i] (malloc'ed, *n_leads entries; *src borrows it) also says for
 * lead i; *batch is 1 for an array. Messages about a record are worded as
 * for that CSV ("NAME:LINE:COL: ..."). Returns 0, or 1 when the body is
 * anything the fast reader leaves to jansson (an error to word, a shape
 * it does not read, more than max_leads leads), or FL_ERR_NOMEM.
 */
int fl_serve_json_fast(const char *body, size_t len, const struct fl_serve_columns *c,
                       uint64_t max_leads, const char *name, struct fl_source **src,
                       uint64_t **line, size_t *n_leads, int *batch);

#endif
