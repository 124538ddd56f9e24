/*
 * Scoring pipeline. Two passes over the lead file keep memory constant in
 * the number of leads: the first scores every lead and feeds the ranker
 * (which spills to disk), the second re-encodes each lead and writes it with
 * its rank, decile and reason codes.
 */
#include "fedlead/score.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/linalg.h"
#include "fedlead/rows.h"

double fl_score_contribution(const struct fl_model *m, const double *x, size_t j)
{
	return m->w[j] * (x[j] - m->scaler->baseline[j]);
}

static double feature_contribution(const struct fl_model *m, const double *x,
                                   const struct fl_feature *f)
{
	double c = 0;

	for (size_t j = f->enc_offset; j < f->enc_offset + f->enc_width; j++)
		c += fl_score_contribution(m, x, j);
	return c;
}

/* Writes one CSV field, quoted only when RFC 4180 requires it. */
static void put_field(FILE *fp, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

struct reason {
	size_t feature;
	double contribution;
};

/* The n largest positive contributions, largest first. */
static size_t top_reasons(const struct fl_model *m, const double *x, int n, struct reason *out)
{
	const struct fl_schema *s = m->schema;
	size_t k = 0;

	/* n == 0 (--reasons 0) must not reach out[k - 1] below. */
	if (n <= 0)
		return 0;
	for (size_t i = 0; i < s->n_features; i++) {
		double c = feature_contribution(m, x, &s->features[i]);
		size_t pos;

		if (!(c > 0))
			continue;
		if (k == (size_t)n && c <= out[k - 1].contribution)
			continue;
		pos = k < (size_t)n ? k++ : k - 1;
		while (pos > 0 && out[pos - 1].contribution < c) {
			out[pos] = out[pos - 1];
			pos--;
		}
		out[pos] = (struct reason){i, c};
	}
	return k;
}

/* The value that made a reason: the field text from the lead's row. */
static void reason_text(const struct fl_model *m, const struct fl_binding *b,
                        const struct fl_csv_record *rec, size_t feature, char *buf, size_t n)
{
	const struct fl_feature *f = &m->schema->features[feature];
	const struct fl_csv_field *fld = &rec->fields[fl_binding_column(b, feature)];

	if (fld->len == 0)
		snprintf(buf, n, "%s=(missing)", f->name);
	else
		snprintf(buf, n, "%s=%.*s", f->name, (int)(fld->len > 80 ? 80 : fld->len), fld->s);
}

static void write_header(FILE *fp, const struct fl_model *m, const struct fl_score_opts *o)
{
	put_field(fp, m->schema->id != NULL ? m->schema->id : "row");
	fputs(",score,rank,decile", fp);
	for (int k = 1; k <= o->n_reasons; k++)
		fprintf(fp, ",reason_%d,contribution_%d", k, k);
	fputc('\n', fp);
}

/* Second pass: every good row with its rank and reasons. */
static int write_scores(const struct fl_model *m, const struct fl_score_opts *o,
                        struct fl_rows *rows, struct fl_ranker *rk, FILE *fp,
                        struct fl_score_report *rep, double *x)
{
	struct reason reasons[FL_MAX_REASONS];
	char text[160], rowbuf[32];
	const char *id;
	uint64_t i = 0, rank;
	int r, decile;

	write_header(fp, m, o);
	while ((r = fl_rows_next(rows, x, NULL, &id)) == 1) {
		double z;
		size_t nr;

		fl_scaler_apply(m->scaler, x);
		z = fl_model_logit(m, x);
		if ((r = fl_ranker_rank(rk, i, &rank, &decile)) != 0)
			return r;
		if (id == NULL) {
			/* The lead's position in the input, not among the good rows:
			 * with skipped rows the two differ, and only the first lets
			 * a person join the scores back to the file. */
			snprintf(rowbuf, sizeof(rowbuf), "%llu",
			         (unsigned long long)fl_rows_index(rows));
			id = rowbuf;
		}
		put_field(fp, id);
		fprintf(fp, ",%.6f,%llu,%d", fl_sigmoid(z), (unsigned long long)rank, decile);
		nr = top_reasons(m, x, o->n_reasons, reasons);
		for (size_t k = 0; k < (size_t)o->n_reasons; k++) {
			if (k >= nr) {
				fputs(",,", fp);
				continue;
			}
			reason_text(m, fl_rows_binding(rows), fl_rows_record(rows),
			            reasons[k].feature, text, sizeof(text));
			fputc(',', fp);
			put_field(fp, text);
			fprintf(fp, ",%.4f", reasons[k].contribution);
		}
		fputc('\n', fp);
		i++;
	}
	if (r < 0)
		return r;
	if (i != rep->load.rows)
		return fl_fail(FL_ERR_IO, "%s: the file changed while it was being scored",
		               o->data);
	return 0;
}

/* Output goes to a temporary file beside the target and is renamed into
 * place only when complete, so a failed run never leaves a partial file
 * that looks finished. Mode: what an ordinary file gets under the umask. */
static const struct fl_file_opts score_out_opts = {.what = "write output",
                                                   .create_what = "create output",
                                                   .mode = 0666,
                                                   .flags = FL_FILE_UMASK};

/*
 * The first pass: scores every good row of rows (standardised with the
 * model's scaler) into a new ranker, ranked and summarised into rep->ev.
 */
static int rank_rows(const struct fl_model *m, const struct fl_score_opts *o, struct fl_rows *rows,
                     double *x, struct fl_score_report *rep, struct fl_ranker **out)
{
	struct fl_ranker *rk = NULL;
	double label = -1;
	int r;

	*out = NULL;
	if ((r = fl_ranker_new(o->tmpdir, o->mem_records ? o->mem_records : (1u << 20), &rk)) != 0)
		goto out;
	while ((r = fl_rows_next(rows, x, &label, NULL)) == 1) {
		fl_scaler_apply(m->scaler, x);
		if ((r = fl_ranker_add(rk, fl_model_logit(m, x), o->eval ? (int)label : -1)) != 0)
			goto out;
		rep->load.rows++;
	}
	if (r < 0)
		goto out;
	rep->bytes = fl_rows_bytes_read(rows);
	if ((r = fl_ranker_finish(rk, o->top_k, &rep->ev)) != 0)
		goto out;
	*out = rk;
	rk = NULL;
	r = 0;
out:
	fl_ranker_free(rk);
	return r;
}

int fl_score_rank(const struct fl_model *m, const struct fl_score_opts *o,
                  struct fl_score_report *rep, struct fl_ranker **rk)
{
	struct fl_rows *rows = NULL;
	double *x = NULL;
	int r;

	*rk = NULL;
	memset(rep, 0, sizeof(*rep));
	if ((x = malloc(m->dim * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	if ((r = fl_rows_open(m->schema, o->data, o->eval, o->policy, &rep->load, &rows)) == 0)
		r = rank_rows(m, o, rows, x, rep, rk);
	fl_rows_close(rows);
	free(x);
	return r;
}

int fl_score_file(const struct fl_model *m, const struct fl_score_opts *o,
                  struct fl_score_report *rep)
{
	struct fl_rows *rows = NULL;
	struct fl_ranker *rk = NULL;
	double *x = NULL;
	struct fl_file *dst = NULL;
	FILE *fp = NULL;
	int r;

	memset(rep, 0, sizeof(*rep));
	if (o->n_reasons < 0 || o->n_reasons > FL_MAX_REASONS)
		return fl_fail(FL_ERR_INVALID, "reason codes per lead must be 0 to %d",
		               FL_MAX_REASONS);
	if ((x = malloc(m->dim * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	if ((r = fl_rows_open(m->schema, o->data, o->eval, o->policy, &rep->load, &rows)) != 0 ||
	    (r = rank_rows(m, o, rows, x, rep, &rk)) != 0)
		goto out;
	if (o->out == NULL) {
		r = 0;
		goto out;
	}
	/* Bad rows were counted in the first pass. */
	if ((r = fl_rows_rewind(rows, NULL)) != 0 ||
	    (r = fl_file_begin(o->out, &score_out_opts, &dst)) != 0)
		goto out;
	if ((fp = fl_file_stream(dst)) == NULL) {
		r = FL_ERR_IO;
		goto out;
	}
	if ((r = write_scores(m, o, rows, rk, fp, rep, x)) != 0)
		goto out;
	r = fl_file_commit(dst);
	dst = NULL;
out:
	fl_file_abort(dst);
	fl_rows_close(rows);
	fl_ranker_free(rk);
	free(x);
	return r;
}

/* ---- explaining a model ---- */

static int driver_cmp(const void *a, const void *b)
{
	double x = ((const struct fl_driver *)a)->effect, y = ((const struct fl_driver *)b)->effect;

	return (x < y) - (x > y);
}

/*
 * The effect of encoded column j, in log-odds against the average training
 * lead: for a numeric value column, one standard deviation above the mean;
 * for a one-hot or indicator column, having that value instead of the
 * feature's average mix of values.
 */
static double column_effect(const struct fl_model *m, const struct fl_feature *f, size_t j)
{
	double avg = 0;

	if (f->type == FL_NUMERIC && j == f->enc_offset)
		return m->w[j];
	if (f->type == FL_NUMERIC)
		return m->w[j] * (1 - m->scaler->baseline[j]);
	for (size_t k = f->enc_offset; k < f->enc_offset + f->enc_width; k++)
		avg += m->scaler->baseline[k] * m->w[k];
	return m->w[j] - avg;
}

int fl_score_drivers(const struct fl_model *m, struct fl_driver **out, size_t *n)
{
	const struct fl_schema *s = m->schema;
	struct fl_driver *d;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if ((d = malloc((s->dim > 0 ? s->dim : 1) * sizeof(*d))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < s->n_features; i++)
		for (size_t j = s->features[i].enc_offset;
		     j < s->features[i].enc_offset + s->features[i].enc_width; j++) {
			double e = column_effect(m, &s->features[i], j);

			/* A NaN would make the order below undefined. */
			if (isfinite(e))
				d[k++] = (struct fl_driver){j, e};
		}
	qsort(d, k, sizeof(*d), driver_cmp);
	*out = d;
	*n = k;
	return 0;
}

static void print_driver(FILE *fp, const struct fl_model *m, const struct fl_driver *d)
{
	char name[160];
	const struct fl_feature *f = NULL;

	fl_schema_column_name(m->schema, d->col, name, sizeof(name));
	for (size_t i = 0; i < m->schema->n_features; i++)
		if (d->col >= m->schema->features[i].enc_offset &&
		    d->col < m->schema->features[i].enc_offset + m->schema->features[i].enc_width)
			f = &m->schema->features[i];
	fprintf(fp, "  %+8.4f  %-32s", d->effect, name);
	if (f != NULL && f->type == FL_NUMERIC && d->col == f->enc_offset)
		fprintf(fp, "  per +1 unit: %+.4g (1 sd = %.4g units, mean %.4g)",
		        m->w[d->col] / m->scaler->scale[d->col], m->scaler->scale[d->col],
		        m->scaler->center[d->col]);
	else
		fprintf(fp, "  (%.1f %% of training leads)", 100 * m->scaler->baseline[d->col]);
	fputc('\n', fp);
}

int fl_score_explain(const struct fl_model *m, FILE *fp, int top)
{
	const struct fl_schema *s = m->schema;
	struct fl_driver *d;
	char fp_hex[65];
	size_t n;
	int r;

	if ((r = fl_score_drivers(m, &d, &n)) != 0)
		return r;
	fl_schema_fingerprint_hex(s, fp_hex);
	fprintf(fp,
	        "Model: %zu features, %zu weights; solver %s, l2 %g; trained on %llu leads "
	        "(%llu converted)\n",
	        s->n_features, s->dim, m->prov.solver ? m->prov.solver : "?", m->prov.l2,
	        (unsigned long long)m->prov.rows, (unsigned long long)m->prov.positives);
	fprintf(fp, "Schema fingerprint: %s\n", fp_hex);
	if (m->prov.valid.rows > 0)
		fprintf(fp, "Validation: %llu leads, AUC %.4f, log-loss %.4f\n",
		        (unsigned long long)m->prov.valid.rows, m->prov.valid.auc,
		        m->prov.valid.log_loss);
	{
		char dp[1024];

		/* The sentence starts lower-case for the report's table. */
		fl_model_privacy_text(m, dp, sizeof(dp));
		dp[0] = (char)toupper((unsigned char)dp[0]);
		fprintf(fp, "%s\n", dp);
	}
	fprintf(fp, "Effects are log-odds against the average lead.\n");
	fprintf(fp, "\nTop drivers towards conversion:\n");
	for (size_t k = 0; k < n && k < (size_t)top && d[k].effect > 0; k++)
		print_driver(fp, m, &d[k]);
	fprintf(fp, "\nTop drivers against conversion:\n");
	for (size_t k = 0; k < n && k < (size_t)top && d[n - 1 - k].effect < 0; k++)
		print_driver(fp, m, &d[n - 1 - k]);
	free(d);
	return ferror(fp) ? fl_fail(FL_ERR_IO, "write failed") : 0;
}
