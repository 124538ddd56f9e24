/*
 * Rows of a lead file against a schema; see include/fedlead/rows.h.
 */
#include "fedlead/rows.h"

#include <stdio.h>
#include <stdlib.h>

#include "fedlead/error.h"
#include "fedlead/mapping.h"
#include "fedlead/source.h"

struct fl_rows {
	const struct fl_schema *s;
	struct fl_source *src; /* a CSV file or a registered source (source.h) */
	struct fl_binding *b;
	struct fl_csv_record rec;          /* as read */
	const struct fl_csv_record *coded; /* as encoded: rec, or rec mapped */
	struct fl_mapping_binding *mb;     /* the schema's mapping bound, or NULL */
	int need_label;
	enum fl_bad_rows policy;
	struct fl_load_report *rep; /* NULL: count nothing */
	uint64_t index;             /* data records read in this pass, bad ones included */
	uint8_t *more;              /* features counted in rep->n_unseen_more */
	int any_other;              /* a categorical feature has "other": values can be unseen */
};

/* Reads the header and binds it. */
static int bind_header(struct fl_rows *rows)
{
	size_t n_extra;
	int r;

	fl_binding_free(rows->b);
	rows->b = NULL;
	fl_mapping_binding_free(rows->mb);
	rows->mb = NULL;
	rows->index = 0;
	rows->coded = &rows->rec;
	if ((r = fl_source_next(rows->src, &rows->rec)) <= 0)
		return r == 0 ? fl_fail(FL_ERR_DATA, "%s: the file is empty (no header)",
		                        fl_source_name(rows->src))
		              : r;
	/* A partner's mapping renames the header before the schema binds it
	 * (and maps each row's values in fl_rows_next()). */
	if (rows->s->mapping != NULL &&
	    (r = fl_mapping_bind(rows->s->mapping, rows->s, fl_source_name(rows->src), &rows->rec,
	                         &rows->mb)) != 0)
		return fl_source_restate(rows->src, r);
	if ((r = fl_binding_new_named(rows->s, fl_source_name(rows->src),
	                              rows->mb != NULL ? fl_mapping_header(rows->mb) : &rows->rec,
	                              rows->need_label, &rows->b, &n_extra)) != 0) {
		/* The names looked for are the renamed ones: say so. */
		if (rows->mb != NULL && r == FL_ERR_DATA)
			r = fl_fail(r, "%s (in the header as the mapping %s renames it)",
			            fl_errmsg(), fl_mapping_origin(rows->s->mapping));
		return fl_source_restate(rows->src, r);
	}
	if (fl_source_plain_numbers(rows->src))
		fl_binding_plain_numbers(rows->b);
	if (rows->mb != NULL)
		fl_binding_set_sources(rows->b, fl_mapping_sources(rows->mb));
	if (rows->rep != NULL)
		fl_load_report_extra(rows->rep, rows->b);
	return 0;
}

int fl_rows_open_source(const struct fl_schema *s, struct fl_source *src, int need_label,
                        enum fl_bad_rows policy, struct fl_load_report *rep, struct fl_rows **out)
{
	struct fl_rows *rows;
	int r;

	*out = NULL;
	if ((rows = calloc(1, sizeof(*rows))) == NULL) {
		fl_source_free(src);
		return FL_ERR_NOMEM;
	}
	rows->s = s;
	rows->need_label = need_label;
	rows->policy = policy;
	rows->rep = rep;
	rows->src = src;
	/* A file's plain decimals are parsed as its records are cut. */
	if (fl_source_csv(src) != NULL)
		fl_csv_want_numbers(fl_source_csv(src));
	/* Only an "(other)" column marks an unseen value (fl_encode_unseen()):
	 * without one, no row needs looking at. */
	for (size_t i = 0; i < s->n_features; i++)
		if (s->features[i].type == FL_CATEGORICAL && s->features[i].other)
			rows->any_other = 1;
	if ((r = bind_header(rows)) != 0) {
		fl_rows_close(rows);
		return r;
	}
	*out = rows;
	return 0;
}

int fl_rows_open(const struct fl_schema *s, const char *path, int need_label,
                 enum fl_bad_rows policy, struct fl_load_report *rep, struct fl_rows **out)
{
	struct fl_source *src = NULL;
	int r;

	*out = NULL;
	if ((r = fl_source_open(path, &s->dialect, &src)) != 0)
		return r;
	return fl_rows_open_source(s, src, need_label, policy, rep, out);
}

int fl_rows_open_range(const struct fl_schema *s, const char *path, int need_label,
                       enum fl_bad_rows policy, struct fl_load_report *rep, uint64_t begin,
                       uint64_t end, uint64_t line, struct fl_rows **out)
{
	struct fl_source *src = NULL;
	struct fl_csv *csv;
	int r;

	*out = NULL;
	if ((r = fl_source_open(path, &s->dialect, &src)) != 0)
		return r;
	if ((csv = fl_source_csv(src)) == NULL) {
		fl_source_free(src);
		return fl_fail(FL_ERR_INVALID, "%s: not a file that can be read in ranges", path);
	}
	if ((r = fl_csv_set_range(csv, begin, end, line)) != 0) {
		fl_source_free(src);
		return r;
	}
	return fl_rows_open_source(s, src, need_label, policy, rep, out);
}

/* Counts the unseen values of the row just encoded into x (see
 * struct fl_load_report). */
static void count_unseen(struct fl_rows *rows, const double *x)
{
	struct fl_load_report *rep = rows->rep;
	int any = 0;

	for (size_t i = 0; i < rows->s->n_features; i++) {
		const struct fl_csv_field *fld;
		struct fl_csv_field joined;
		char buf[FL_SCHEMA_MAX_JOINED + 2];
		size_t k;

		if (!fl_encode_unseen(rows->b, rows->coded, x, i))
			continue;
		any = 1;
		for (k = 0; k < rep->n_unseen && rep->unseen[k].feature != i; k++)
			;
		if (k == rep->n_unseen) {
			if (k == FL_UNSEEN_COLUMNS) {
				/* Beyond the table: each column counted once. Without
				 * memory for the marks the count is a lower bound. */
				if (rows->more == NULL)
					rows->more = calloc(rows->s->n_features, 1);
				if (rows->more != NULL && !rows->more[i]) {
					rows->more[i] = 1;
					rep->n_unseen_more++;
				}
				continue;
			}
			/* The example as the file writes it (a feature read from
			 * several columns: as they join). */
			if (rows->s->features[i].n_columns > 0) {
				joined.s = fl_encode_text(rows->b, &rows->rec, i, buf, sizeof(buf),
				                          &joined.len);
				fld = &joined;
			} else
				fld = &rows->rec.fields[fl_binding_column(rows->b, i)];
			rep->unseen[k].feature = i;
			rep->unseen[k].column = rows->s->features[i].name;
			/* A feature read from several columns has no one file
			 * name to give. */
			rep->unseen[k].source =
			        rows->mb != NULL && rows->s->features[i].n_columns == 0
			                ? fl_mapping_source(rows->mb, fl_binding_column(rows->b, i))
			                : NULL;
			snprintf(rep->unseen[k].example, sizeof(rep->unseen[k].example), "%.*s",
			         (int)(fld->len < 63 ? fld->len : 63), fld->s);
			/* The example goes to a terminal: no control characters. */
			for (char *c = rep->unseen[k].example; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					*c = '?';
			rep->n_unseen++;
		}
		rep->unseen[k].leads++;
	}
	rep->unseen_leads += any;
}

int fl_rows_next(struct fl_rows *rows, double *x, double *label, const char **id)
{
	double unused;
	int r;

	if (label == NULL)
		label = &unused;
	while ((r = fl_source_next(rows->src, &rows->rec)) == 1) {
		rows->index++;
		/* Without a mapping, one test a row. */
		if (rows->mb != NULL)
			rows->coded = fl_mapping_apply(rows->mb, &rows->rec);
		if ((r = fl_encode_row(rows->b, rows->coded, x, label, id)) == 0) {
			if (rows->any_other && rows->rep != NULL && rows->rep->want_unseen)
				count_unseen(rows, x);
			return 1;
		}
		/* A query's row is named by its key, not a line (source.h). */
		r = fl_source_restate(rows->src, r);
		if (r != FL_ERR_DATA || rows->policy != FL_BAD_ROWS_SKIP)
			return r;
		if (rows->rep != NULL) {
			struct fl_load_report *rep = rows->rep;

			if (rep->n_samples < FL_BAD_ROW_SAMPLES)
				snprintf(rep->samples[rep->n_samples++], sizeof(rep->samples[0]),
				         "%s", fl_errmsg());
			rep->skipped++;
		}
	}
	return r;
}

int fl_rows_rewind(struct fl_rows *rows, struct fl_load_report *rep)
{
	int r;

	rows->rep = rep;
	free(rows->more);
	rows->more = NULL;
	if ((r = fl_source_rewind(rows->src)) != 0)
		return r;
	return bind_header(rows);
}

const struct fl_csv_record *fl_rows_record(const struct fl_rows *rows)
{
	return rows->coded;
}

uint64_t fl_rows_index(const struct fl_rows *rows)
{
	return rows->index;
}

uint64_t fl_rows_line(const struct fl_rows *rows)
{
	return rows->rec.line;
}

const struct fl_binding *fl_rows_binding(const struct fl_rows *rows)
{
	return rows->b;
}

uint64_t fl_rows_bytes_read(const struct fl_rows *rows)
{
	return fl_source_bytes_read(rows->src);
}

void fl_rows_close(struct fl_rows *rows)
{
	if (rows == NULL)
		return;
	fl_binding_free(rows->b);
	fl_mapping_binding_free(rows->mb);
	fl_source_free(rows->src);
	free(rows->more);
	free(rows);
}
