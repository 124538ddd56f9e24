/*
 * Scoring one request of the scoring service: JSON or CSV in, JSON out, no
 * network I/O. Leads are read through fedlead-score's own reader and
 * encoder (rows.h): a JSON request in the plain shape goes to the encoder
 * as records (serve_json.c), the fields the CSV reader would give for it;
 * any other JSON is read by jansson and written as CSV (every field quoted,
 * numbers in the shortest text that reads back to the same double) into an
 * anonymous memory file, and a CSV request goes there as it came. So a lead
 * gets the CLI's encoding, logit and reason codes to the last bit, and a
 * bad value the CLI's words.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/obuf.h"
#include "fedlead/rows.h"
#include "fedlead/serve.h"
#include "fedlead/source.h"
#include "serve_int.h"

/* The streams below (a memory file being written, an answer being built)
 * belong to one call of one thread: their writes take no lock. */

static const char *const error_names[FL_SERVE_N_ERRORS] = {"none",       "bad_json",   "bad_lead",
                                                           "bad_value",  "bad_csv",    "bad_option",
                                                           "batch_size", "media_type", "internal"};

const char *fl_serve_error_name(enum fl_serve_error e)
{
	return (unsigned)e < FL_SERVE_N_ERRORS ? error_names[e] : "internal";
}

static void put_json_cstr(struct fl_obuf *b, const char *s)
{
	fl_obuf_json_string(b, s, strlen(s));
}

/* A 4xx answer: {"error": "PATH: REASON", "kind": ..., "path": ..., "reason": ...}. */
static int error_answer(struct fl_serve_answer *ans, int code, enum fl_serve_error kind,
                        const char *path, const char *reason)
{
	struct fl_obuf b = {NULL, 0, 0, 0};

	free(ans->body);
	ans->body = NULL;
	ans->len = 0;
	ans->code = code;
	ans->type = "application/json";
	ans->error = kind;
	ans->leads = 0;
	fl_obuf_str(&b, "{\"error\": ");
	if (path != NULL) {
		struct fl_obuf full = {NULL, 0, 0, 0}; /* "PATH: REASON" */

		fl_obuf_str(&full, path);
		fl_obuf_str(&full, ": ");
		fl_obuf_str(&full, reason);
		if (full.oom) {
			fl_obuf_free(&b);
			return FL_ERR_NOMEM;
		}
		fl_obuf_json_string(&b, full.p, full.len);
		fl_obuf_free(&full);
	} else
		put_json_cstr(&b, reason);
	fl_obuf_str(&b, ", \"kind\": ");
	put_json_cstr(&b, fl_serve_error_name(kind));
	if (path != NULL) {
		fl_obuf_str(&b, ", \"path\": ");
		put_json_cstr(&b, path);
	}
	fl_obuf_str(&b, ", \"reason\": ");
	put_json_cstr(&b, reason);
	fl_obuf_str(&b, "}\n");
	if (b.oom) {
		fl_obuf_free(&b);
		return FL_ERR_NOMEM;
	}
	ans->body = b.p;
	ans->len = b.len;
	return 0;
}

/* ---- jansson's memory for one request ----
 *
 * A batch of 1,000 leads is some 20,000 small JSON values, each a malloc()
 * and a free(): a third of a batch's time. While a request is parsed and
 * read, jansson allocates from an arena (json_set_alloc_funcs(): the
 * process has one thread, and nothing else uses jansson in that window),
 * released whole after the last json_decref(). One chunk is kept for the
 * next request, so a small one touches no new memory. */

#define ARENA_CHUNK (1u << 20)

/* The name of the fast reader's records in messages, before data_error()
 * turns them into JSON paths. */
#define FAST_NAME "request"

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

static struct arena_chunk *arena;

static void *arena_alloc(size_t n)
{
	void *p;

	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (arena == NULL || arena->cap - arena->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		struct arena_chunk *c = malloc(sizeof(*c) + cap);

		if (c == NULL)
			return NULL;
		c->next = arena;
		c->used = 0;
		c->cap = cap;
		arena = c;
	}
	p = (char *)arena->data + arena->used;
	arena->used += n;
	return p;
}

static void arena_free(void *p)
{
	(void)p; /* all at once, in arena_end() */
}

static void arena_begin(void)
{
	json_set_alloc_funcs(arena_alloc, arena_free);
}

/* After the last jansson value of the request is gone. */
static void arena_end(void)
{
	struct arena_chunk *keep = NULL;

	json_set_alloc_funcs(malloc, free);
	while (arena != NULL) {
		struct arena_chunk *c = arena;

		arena = c->next;
		if (keep == NULL && c->cap == ARENA_CHUNK) {
			keep = c;
			continue;
		}
		free(c);
	}
	if (keep != NULL) {
		keep->next = NULL;
		keep->used = 0;
	}
	arena = keep;
}

/* ---- the request's leads as CSV in a memory file ---- */

struct memfile {
	int fd;
	FILE *fp;
	char path[64];
};

static int memfile_open(struct memfile *mf)
{
	mf->fp = NULL;
	if ((mf->fd = memfd_create("fedlead-request", MFD_CLOEXEC)) < 0)
		return fl_fail(FL_ERR_IO, "cannot make a memory file: %s", strerror(errno));
	snprintf(mf->path, sizeof(mf->path), "/proc/self/fd/%d", mf->fd);
	if ((mf->fp = fdopen(dup(mf->fd), "w")) == NULL)
		return FL_ERR_NOMEM;
	return 0;
}

static int memfile_done(struct memfile *mf)
{
	int bad = ferror(mf->fp);

	if (fclose(mf->fp) != 0 || bad) {
		mf->fp = NULL;
		return fl_fail(FL_ERR_IO, "cannot write a memory file: %s", strerror(errno));
	}
	mf->fp = NULL;
	return 0;
}

static void memfile_close(struct memfile *mf)
{
	if (mf->fp != NULL)
		fclose(mf->fp);
	if (mf->fd >= 0)
		close(mf->fd);
	mf->fd = -1;
}

void fl_serve_put_csv(FILE *fp, const char *s, size_t n, size_t *newlines)
{
	size_t run = 0;

	putc_unlocked('"', fp);
	for (const char *p = s; (p = memchr(p, '\n', n - (size_t)(p - s))) != NULL; p++)
		(*newlines)++;
	for (const char *q; run < n && (q = memchr(s + run, '"', n - run)) != NULL;) {
		size_t i = (size_t)(q - s);

		fwrite_unlocked(s + run, 1, i + 1 - run, fp); /* the quote, then doubled */
		putc_unlocked('"', fp);
		run = i + 1;
	}
	fwrite_unlocked(s + run, 1, n - run, fp);
	putc_unlocked('"', fp);
}

void fl_serve_put_header(FILE *fp, const struct fl_serve_columns *c, size_t *newlines)
{
	for (size_t k = 0; k < c->n; k++) {
		if (k > 0)
			putc_unlocked(',', fp);
		fl_serve_put_csv(fp, c->name[k], strlen(c->name[k]), newlines);
	}
	putc_unlocked('\n', fp);
	(*newlines)++;
}

static int columns_of(const struct fl_schema *s, struct fl_serve_columns *c)
{
	size_t cap = 1;

	c->n = 0;
	for (size_t i = 0; i < s->n_features; i++)
		cap += s->features[i].n_columns > 0 ? s->features[i].n_columns : 1;
	c->name = calloc(cap, sizeof(*c->name));
	c->feature = calloc(cap, sizeof(*c->feature));
	if (c->name == NULL || c->feature == NULL)
		return FL_ERR_NOMEM;
	if (s->id != NULL)
		c->name[c->n++] = s->id;
	for (size_t i = 0; i < s->n_features; i++) {
		if (s->features[i].n_columns > 0)
			continue;
		c->feature[c->n] = &s->features[i];
		c->name[c->n++] = s->features[i].name;
	}
	/* A feature read from several columns takes each of them once, unless
	 * it is a feature of its own (read as that one, a number say). */
	for (size_t i = 0; i < s->n_features; i++)
		for (size_t k = 0; k < s->features[i].n_columns; k++) {
			const char *col = s->features[i].columns[k];
			size_t j = 0;

			while (j < c->n && strcmp(c->name[j], col) != 0)
				j++;
			if (j < c->n)
				continue;
			c->feature[c->n] = &s->features[i];
			c->name[c->n++] = col;
		}
	return 0;
}

void fl_serve_real_text(double v, const struct fl_feature *f, char *buf, size_t n)
{
	for (int p = 15; p <= 17; p++) {
		snprintf(buf, n, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (f != NULL && f->number.decimal == ',') {
		char *dot = strchr(buf, '.');

		if (dot != NULL)
			*dot = ',';
	}
}

/*
 * The text of a JSON value as a CSV field would hold it. A number is
 * written in the shortest form that reads back to the same double (with
 * the feature's decimal comma, when its schema entry says so); null is an
 * empty field, a missing value.
 */
static int value_text(const json_t *v, const struct fl_feature *f, char *buf, size_t n,
                      const char **s, size_t *len)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		*s = json_string_value(v);
		*len = json_string_length(v);
		return 0;
	case JSON_INTEGER: snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
	case JSON_REAL: fl_serve_real_text(json_real_value(v), f, buf, n); break;
	case JSON_TRUE: snprintf(buf, n, "true"); break;
	case JSON_FALSE: snprintf(buf, n, "false"); break;
	case JSON_NULL: buf[0] = '\0'; break;
	default: return -1;
	}
	*s = buf;
	*len = strlen(buf);
	return 0;
}

/* The JSON path of lead i's column: "$.revenue" for a single lead,
 * "$[3].revenue" in a batch; name NULL for the lead itself. */
static void json_path(int batch, size_t i, const char *name, char *buf, size_t n)
{
	char head[32];

	if (batch)
		snprintf(head, sizeof(head), "$[%zu]", i);
	else
		snprintf(head, sizeof(head), "$");
	if (name == NULL)
		snprintf(buf, n, "%s", head);
	else if (name[strcspn(name, ".[]\"' ")] == '\0')
		snprintf(buf, n, "%s.%s", head, name);
	else
		snprintf(buf, n, "%s[\"%s\"]", head, name);
}

/*
 * Writes the leads of a JSON body as CSV to fp; line[i] gets the line where
 * lead i's record starts. Returns 0, or 1 with *ans set to the 400 that
 * names the first bad lead, or an FL_ERR_*.
 */
static int json_to_csv(const json_t *leads, int batch, const struct fl_serve_columns *c, FILE *fp,
                       uint64_t *line, struct fl_serve_answer *ans)
{
	size_t nl = 0;
	char path[300], why[300], num[64];
	int r;

	fl_serve_put_header(fp, c, &nl);
	for (size_t i = 0; i < json_array_size(leads); i++) {
		const json_t *lead = json_array_get(leads, i);

		line[i] = nl + 1;
		if (!json_is_object(lead)) {
			json_path(batch, i, NULL, path, sizeof(path));
			r = error_answer(ans, 400, FL_SERVE_BAD_LEAD, path,
			                 "a lead is a JSON object of the schema's column names and "
			                 "their values");
			return r != 0 ? r : 1;
		}
		for (size_t k = 0; k < c->n; k++) {
			const json_t *v = json_object_get(lead, c->name[k]);
			const char *s;
			size_t len;

			if (v == NULL) {
				json_path(batch, i, NULL, path, sizeof(path));
				snprintf(why, sizeof(why),
				         "column \"%.200s\" required by the schema is missing",
				         c->name[k]);
				r = error_answer(ans, 400, FL_SERVE_BAD_LEAD, path, why);
				return r != 0 ? r : 1;
			}
			if (value_text(v, c->feature[k], num, sizeof(num), &s, &len) != 0) {
				json_path(batch, i, c->name[k], path, sizeof(path));
				r = error_answer(
				        ans, 400, FL_SERVE_BAD_LEAD, path,
				        "a value is a string, a number, true, false or null");
				return r != 0 ? r : 1;
			}
			if (memchr(s, '\0', len) != NULL) {
				json_path(batch, i, c->name[k], path, sizeof(path));
				r = error_answer(ans, 400, FL_SERVE_BAD_VALUE, path,
				                 "a value holds a NUL character");
				return r != 0 ? r : 1;
			}
			if (k > 0)
				putc_unlocked(',', fp);
			fl_serve_put_csv(fp, s, len, &nl);
		}
		putc_unlocked('\n', fp);
		nl++;
	}
	return 0;
}

/*
 * The reader's message about the memory file, for the person who sent the
 * request. JSON: "MEMFILE:LINE:COL: REASON" becomes path "$[i].column" and
 * REASON; a message without a column names the lead. CSV: the memory
 * file's name becomes "body".
 */
static int data_error(const char *msg, const char *memfile, int json, int batch,
                      const uint64_t *line, size_t n_leads, const struct fl_serve_columns *c,
                      struct fl_serve_answer *ans)
{
	size_t plen = strlen(memfile);
	char path[300];
	const char *p = msg;
	unsigned long long ln = 0, col = 0;
	int used = 0;

	if (strncmp(msg, memfile, plen) != 0)
		return error_answer(ans, 400, json ? FL_SERVE_BAD_VALUE : FL_SERVE_BAD_CSV, NULL,
		                    msg);
	p = msg + plen;
	if (!json) {
		char *text = NULL;
		int r;

		if (asprintf(&text, "body%s", p) < 0)
			return FL_ERR_NOMEM;
		r = error_answer(ans, 400, FL_SERVE_BAD_CSV, NULL, text);
		free(text);
		return r;
	}
	if (sscanf(p, ":%llu:%llu: %n", &ln, &col, &used) == 2 && used > 0) {
		size_t i = 0;

		while (i + 1 < n_leads && line[i + 1] <= ln)
			i++;
		json_path(batch, i, col >= 1 && col <= c->n ? c->name[col - 1] : NULL, path,
		          sizeof(path));
		return error_answer(ans, 400, FL_SERVE_BAD_VALUE, path, p + used);
	}
	used = 0;
	if (sscanf(p, ":%llu: %n", &ln, &used) == 1 && used > 0) {
		size_t i = 0;

		while (i + 1 < n_leads && line[i + 1] <= ln)
			i++;
		json_path(batch, i, NULL, path, sizeof(path));
		return error_answer(ans, 400, FL_SERVE_BAD_VALUE, path, p + used);
	}
	return error_answer(ans, 400, FL_SERVE_BAD_VALUE, NULL, p[0] == ':' ? p + 1 : p);
}

/* ---- options ---- */

static int parse_query(const char *q, int *n_reasons, enum fl_reasons_dir *dir,
                       struct fl_serve_answer *ans)
{
	char buf[256], why[320];
	char *save = NULL, *tok;
	int r;

	if (q == NULL || q[0] == '\0')
		return 0;
	if (strlen(q) >= sizeof(buf)) {
		r = error_answer(ans, 400, FL_SERVE_BAD_OPTION, NULL,
		                 "the query string is too long");
		return r != 0 ? r : 1;
	}
	snprintf(buf, sizeof(buf), "%s", q);
	for (tok = strtok_r(buf, "&", &save); tok != NULL; tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '='), *end;
		const char *v = eq != NULL ? eq + 1 : "";
		unsigned long n;

		if (eq != NULL)
			*eq = '\0';
		if (strcmp(tok, "reasons") == 0) {
			errno = 0;
			n = strtoul(v, &end, 10);
			if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 ||
			    n > FL_MAX_REASONS) {
				snprintf(
				        why, sizeof(why),
				        "reasons: \"%.80s\" is not a number of reason codes from 0 "
				        "to %d",
				        v, FL_MAX_REASONS);
				r = error_answer(ans, 400, FL_SERVE_BAD_OPTION, NULL, why);
				return r != 0 ? r : 1;
			}
			*n_reasons = (int)n;
		} else if (strcmp(tok, "direction") == 0) {
			if (strcmp(v, "up") == 0)
				*dir = FL_REASONS_UP;
			else if (strcmp(v, "down") == 0)
				*dir = FL_REASONS_DOWN;
			else if (strcmp(v, "both") == 0)
				*dir = FL_REASONS_BOTH;
			else {
				snprintf(why, sizeof(why),
				         "direction: \"%.80s\" is not up, down or both", v);
				r = error_answer(ans, 400, FL_SERVE_BAD_OPTION, NULL, why);
				return r != 0 ? r : 1;
			}
		} else {
			snprintf(why, sizeof(why),
			         "unknown parameter \"%.80s\" (reasons=N, direction=up|down|both)",
			         tok);
			r = error_answer(ans, 400, FL_SERVE_BAD_OPTION, NULL, why);
			return r != 0 ? r : 1;
		}
	}
	return 0;
}

/* ---- scoring ---- */

static void put_reasons(struct fl_obuf *b, const char *key, const struct fl_reason *rs, size_t n)
{
	fl_obuf_str(b, ", \"");
	fl_obuf_str(b, key);
	fl_obuf_str(b, "\": [");
	for (size_t k = 0; k < n; k++) {
		fl_obuf_str(b, k ? ", {\"reason\": " : "{\"reason\": ");
		put_json_cstr(b, rs[k].text);
		fl_obuf_str(b, ", \"contribution\": ");
		/* "%.17g" written by numfmt: printf was two fifths of a
		 * batch's time. */
		fl_obuf_g(b, rs[k].contribution, 17);
		fl_obuf_char(b, '}');
	}
	fl_obuf_char(b, ']');
}

/* Scores every lead of src (owned from now on), or when it is NULL of the
 * memory file path, into the answer; 1 with a 400 in *ans for a bad lead.
 * path is also the name messages about a lead start with. */
static int score_rows(const struct fl_serve_model *sm, const struct fl_schema *s, const char *path,
                      struct fl_source *src, int json, int batch, const uint64_t *line,
                      size_t n_leads, const struct fl_serve_columns *c, int n_reasons,
                      enum fl_reasons_dir dir, uint64_t max_batch, struct fl_serve_answer *ans)
{
	const struct fl_model *m = sm->m;
	struct fl_rows *rows = NULL;
	struct fl_reason rs[FL_MAX_REASONS];
	double *raw = NULL, *x;
	const char *id;
	struct fl_obuf out = {NULL, 0, 0, 0};
	struct fl_reasoner *reasoner = NULL;
	uint64_t i = 0;
	int r;

	if ((raw = malloc(2 * m->dim * sizeof(*raw))) == NULL ||
	    fl_reasoner_new(m, &reasoner) != 0) {
		free(raw);
		fl_source_free(src);
		return FL_ERR_NOMEM;
	}
	x = raw + m->dim;
	fl_obuf_str(&out, "{\"model\": {\"generation\": ");
	fl_obuf_u64(&out, sm->generation);
	fl_obuf_str(&out, ", \"sha256\": \"");
	fl_obuf_str(&out, sm->sha256);
	fl_obuf_str(&out, "\"}, \"leads\": [");
	r = src != NULL ? fl_rows_open_source(s, src, 0, FL_BAD_ROWS_FAIL, NULL, &rows)
	                : fl_rows_open(s, path, 0, FL_BAD_ROWS_FAIL, NULL, &rows);
	if (r != 0)
		goto bad;
	while ((r = fl_rows_next(rows, raw, NULL, &id)) == 1) {
		const struct fl_binding *b = fl_rows_binding(rows);
		const struct fl_csv_record *rec = fl_rows_record(rows);
		size_t nu = 0, nr;
		double z;
		int d;

		if (++i > max_batch) {
			char why[96];

			snprintf(why, sizeof(why), "a request holds at most %llu leads (max_batch)",
			         (unsigned long long)max_batch);
			r = error_answer(ans, 413, FL_SERVE_TOO_MANY, NULL, why);
			goto out;
		}
		memcpy(x, raw, m->dim * sizeof(*x));
		fl_scaler_apply(m->scaler, x);
		z = fl_model_logit(m, x);
		fl_obuf_str(&out, i > 1 ? ",\n  {\"id\": " : "\n  {\"id\": ");
		if (id != NULL)
			put_json_cstr(&out, id);
		else
			fl_obuf_u64(&out, fl_rows_index(rows));
		fl_obuf_str(&out, ", \"score\": ");
		fl_obuf_g(&out, fl_sigmoid(z), 17);
		fl_obuf_str(&out, ", \"logit\": ");
		fl_obuf_g(&out, z, 17);
		if ((d = fl_serve_decile(sm, z)) > 0) {
			fl_obuf_str(&out, ", \"decile\": ");
			fl_obuf_u64(&out, (uint64_t)d);
		} else
			fl_obuf_str(&out, ", \"decile\": null");
		if (dir & FL_REASONS_UP) {
			nr = fl_reasoner_reasons(reasoner, b, rec, raw, x, n_reasons, 1, rs);
			put_reasons(&out, "reasons", rs, nr);
		}
		if (dir & FL_REASONS_DOWN) {
			nr = fl_reasoner_reasons(reasoner, b, rec, raw, x, n_reasons, -1, rs);
			put_reasons(&out, "down_reasons", rs, nr);
		}
		fl_obuf_str(&out, ", \"unseen\": [");
		for (size_t f = 0; f < s->n_features; f++) {
			char joined[FL_SCHEMA_MAX_JOINED + 2];
			const char *text;
			size_t len;

			if (s->features[f].type != FL_CATEGORICAL ||
			    !fl_encode_unseen(b, rec, raw, f))
				continue;
			text = fl_encode_text(b, rec, f, joined, sizeof(joined), &len);
			fl_obuf_str(&out, nu++ ? ", {\"column\": " : "{\"column\": ");
			put_json_cstr(&out, s->features[f].name);
			fl_obuf_str(&out, ", \"value\": ");
			fl_obuf_json_string(&out, text, len);
			fl_obuf_char(&out, '}');
		}
		fl_obuf_str(&out, "]}");
	}
	if (r < 0)
		goto bad;
	if (i == 0) {
		r = error_answer(ans, 400, json ? FL_SERVE_BAD_LEAD : FL_SERVE_BAD_CSV, NULL,
		                 "the request holds no leads");
		goto out;
	}
	fl_obuf_str(&out, "\n]}\n");
	if (out.oom) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	free(ans->body);
	ans->body = out.p;
	ans->len = out.len;
	out.p = NULL;
	ans->code = 200;
	ans->type = "application/json";
	ans->error = FL_SERVE_OK;
	ans->leads = i;
	r = 0;
	goto out;
bad:
	/* The reader's or the encoder's refusal: the whole request is refused
	 * (nothing was sent yet), in the CLI's words. */
	if (r == FL_ERR_DATA || r == FL_ERR_LIMIT)
		r = data_error(fl_errmsg(), path, json, batch, line, n_leads, c, ans);
out:
	fl_obuf_free(&out);
	fl_reasoner_free(reasoner);
	fl_rows_close(rows);
	free(raw);
	return r;
}

static int media_is(const char *type, const char *want)
{
	size_t n = strlen(want);

	while (type != NULL && (*type == ' ' || *type == '\t'))
		type++;
	return type != NULL && strncasecmp(type, want, n) == 0 &&
	       (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

int fl_serve_score(const struct fl_serve_model *sm, const struct fl_serve_request *req,
                   struct fl_serve_answer *ans)
{
	const struct fl_schema *ms = sm->m->schema;
	struct fl_schema s = *ms; /* the model's, read in the request's dialect */
	struct memfile mf = {-1, NULL, ""};
	struct fl_source *src = NULL;
	struct fl_serve_columns c = {NULL, NULL, 0};
	json_t *root = NULL, *leads = NULL;
	uint64_t *line = NULL;
	int n_reasons = req->n_reasons, json, batch = 0, in_arena = 0, r;
	enum fl_reasons_dir dir = req->reasons ? req->reasons : FL_REASONS_UP;
	size_t n_leads = 0;

	memset(ans, 0, sizeof(*ans));
	if ((r = parse_query(req->query, &n_reasons, &dir, ans)) != 0)
		return r > 0 ? 0 : r;
	json = media_is(req->content_type, "application/json");
	if (!json && !media_is(req->content_type, "text/csv")) {
		r = error_answer(ans, 415, FL_SERVE_MEDIA_TYPE, NULL,
		                 "send leads as application/json (an object or an array of "
		                 "objects) or text/csv (with a header)");
		return r;
	}
	memset(&s.dialect, 0, sizeof(s.dialect));
	s.mapping = NULL;
	if (json) {
		json_error_t err;
		char why[400];

		/* The CSV written is plain: commas, UTF-8, a decimal point (a
		 * feature's own number format still applies). */
		s.dialect.delimiter = ',';
		if ((r = columns_of(&s, &c)) != 0)
			goto out;
		r = fl_serve_json_fast(req->body, req->len, &c, req->max_batch, FAST_NAME, &src,
		                       &line, &n_leads, &batch);
		if (r < 0)
			goto out;
		if (r == 0) {
			r = score_rows(sm, &s, FAST_NAME, src, json, batch, line, n_leads, &c,
			               n_reasons, dir, req->max_batch, ans);
			src = NULL;
			if (r > 0)
				r = 0;
			goto out;
		}
		/* Not the plain shape, or not right: jansson reads it again and
		 * words what is wrong. */
		if ((r = memfile_open(&mf)) != 0)
			goto out;
		arena_begin();
		in_arena = 1;
		root = json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
		                  &err);
		if (root == NULL) {
			snprintf(why, sizeof(why), "not JSON: %s (line %d, column %d)", err.text,
			         err.line, err.column);
			r = error_answer(ans, 400, FL_SERVE_BAD_JSON, NULL, why);
			goto out;
		}
		if (json_is_array(root)) {
			batch = 1;
			leads = json_incref(root);
		} else if (json_is_object(root)) {
			leads = json_array();
			if (leads == NULL || json_array_append(leads, root) != 0) {
				r = FL_ERR_NOMEM;
				goto out;
			}
		} else {
			r = error_answer(ans, 400, FL_SERVE_BAD_LEAD, "$",
			                 "send one lead (a JSON object) or a batch (an array of "
			                 "them)");
			goto out;
		}
		n_leads = json_array_size(leads);
		if (n_leads == 0) {
			r = error_answer(ans, 400, FL_SERVE_BAD_LEAD, "$",
			                 "the request holds no leads");
			goto out;
		}
		if (n_leads > req->max_batch) {
			snprintf(why, sizeof(why), "a request holds at most %llu leads (max_batch)",
			         (unsigned long long)req->max_batch);
			r = error_answer(ans, 413, FL_SERVE_TOO_MANY, NULL, why);
			goto out;
		}
		if ((line = calloc(n_leads, sizeof(*line))) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		if ((r = json_to_csv(leads, batch, &c, mf.fp, line, ans)) != 0) {
			r = r > 0 ? 0 : r;
			goto out;
		}
		/* The leads are in the memory file: the JSON can go. */
		json_decref(leads);
		json_decref(root);
		leads = root = NULL;
		arena_end();
		in_arena = 0;
	} else {
		if ((r = memfile_open(&mf)) != 0)
			goto out;
		fwrite_unlocked(req->body, 1, req->len, mf.fp);
	}
	if ((r = memfile_done(&mf)) != 0)
		goto out;
	r = score_rows(sm, &s, mf.path, NULL, json, batch, line, n_leads, &c, n_reasons, dir,
	               req->max_batch, ans);
	if (r > 0)
		r = 0;
out:
	if (r != 0 && r != FL_ERR_NOMEM && ans->body == NULL)
		r = error_answer(ans, 500, FL_SERVE_INTERNAL, NULL, fl_errmsg());
	memfile_close(&mf);
	fl_source_free(src);
	free(line);
	free(c.name);
	free(c.feature);
	json_decref(leads);
	json_decref(root);
	if (in_arena)
		arena_end();
	return r;
}
