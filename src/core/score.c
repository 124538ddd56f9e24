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
#include "fedlead/spline.h"

double fl_score_contribution(const struct fl_model *m, const double *x, size_t j)
{
	return m->w[j] * (x[j] - m->scaler->baseline[j]);
}

/* Part "every column" of a feature, for reasons. */
#define WHOLE SIZE_MAX

/* The contribution of part p of feature f (fl_feature_part(): the whole
 * feature, or one of a date's age, weekday and month; WHOLE: all its
 * columns). */
static double feature_contribution(const struct fl_model *m, const double *x,
                                   const struct fl_feature *f, size_t p)
{
	size_t start = f->enc_offset, width = f->enc_width;
	double c = 0;

	if (p != WHOLE)
		fl_feature_part(f, p, &start, &width);
	for (size_t j = start; j < start + width; j++)
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
	size_t feature, part;
	double contribution;
};

/*
 * The n strongest contributions of one sign (sign 1: the largest positive
 * ones, sign -1: the most negative), strongest first.
 */
static size_t top_reasons(const struct fl_model *m, const double *x, int n, int sign,
                          struct reason *out)
{
	const struct fl_schema *s = m->schema;
	size_t k = 0;

	/* n == 0 (--reasons 0) must not reach out[k - 1] below. */
	if (n <= 0)
		return 0;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		/* A missing date is one reason, "Created=(missing)": its
		 * weekday and month are unknown, not reasons of their own. */
		int whole = f->type == FL_DATE && f->missing == FL_MISSING_IMPUTE &&
		            x[f->enc_offset + 1] == 1.0;

		for (size_t p = 0; p < (whole ? 1 : fl_feature_parts(f)); p++) {
			double c = sign * feature_contribution(m, x, f, whole ? WHOLE : p);
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
			out[pos] = (struct reason){i, whole ? WHOLE : p, c};
		}
	}
	for (size_t j = 0; j < k; j++)
		out[j].contribution *= sign;
	return k;
}

/*
 * The value that made a reason: the field text from the lead's row. A value
 * the schema does not list says so: its contribution is the weight the
 * model learned for the feature's "(other)" column (from other values, or
 * from blanks), never one learned for this value.
 */
static void reason_text(const struct fl_model *m, const struct fl_binding *b,
                        const struct fl_csv_record *rec, const double *raw, size_t feature,
                        size_t part, char *buf, size_t n)
{
	const struct fl_feature *f = &m->schema->features[feature];
	const struct fl_csv_field *fld = &rec->fields[fl_binding_column(b, feature)];
	int len = (int)(fld->len > 80 ? 80 : fld->len);
	char col[160];

	/* A date's reasons name the derived column that made them: its age
	 * (as encoded, after the clip), or the weekday or month it fell on. */
	if (f->type == FL_DATE && part != WHOLE && !fl_encode_missing(b, rec, feature)) {
		size_t start, width;

		fl_feature_part(f, part, &start, &width);
		if (part == 0) {
			fl_schema_column_name(m->schema, start, col, sizeof(col));
			snprintf(buf, n, "%s=%.0f", col, raw[start]);
			return;
		}
		for (size_t j = start; j < start + width; j++)
			if (raw[j] == 1.0) {
				fl_schema_column_name(m->schema, j, buf, n);
				return;
			}
	}
	if (fl_encode_missing(b, rec, feature))
		snprintf(buf, n, "%s=(missing)", f->name);
	else if (fl_encode_unseen(b, rec, raw, feature))
		snprintf(buf, n, "%s=(unseen: %.*s)", f->name, len, fld->s);
	else
		snprintf(buf, n, "%s=%.*s", f->name, len, fld->s);
}

static int reasons_up(const struct fl_score_opts *o)
{
	return o->reasons == 0 || (o->reasons & FL_REASONS_UP);
}

static int reasons_down(const struct fl_score_opts *o)
{
	return (o->reasons & FL_REASONS_DOWN) != 0;
}

static void write_header(FILE *fp, const struct fl_model *m, const struct fl_score_opts *o)
{
	put_field(fp, m->schema->id != NULL ? m->schema->id : "row");
	fputs(",score,rank,decile", fp);
	for (int k = 1; reasons_up(o) && k <= o->n_reasons; k++)
		fprintf(fp, ",reason_%d,contribution_%d", k, k);
	for (int k = 1; reasons_down(o) && k <= o->n_reasons; k++)
		fprintf(fp, ",down_reason_%d,down_contribution_%d", k, k);
	fputc('\n', fp);
}

/* One direction's reason columns of a lead: n pairs, empty when the lead
 * has fewer contributions of that sign. */
static void write_reasons(FILE *fp, const struct fl_model *m, const struct fl_score_opts *o,
                          struct fl_rows *rows, const double *raw, const double *x, int sign)
{
	struct reason reasons[FL_MAX_REASONS];
	char text[192];
	size_t nr = top_reasons(m, x, o->n_reasons, sign, reasons);

	for (size_t k = 0; k < (size_t)o->n_reasons; k++) {
		if (k >= nr) {
			fputs(",,", fp);
			continue;
		}
		reason_text(m, fl_rows_binding(rows), fl_rows_record(rows), raw, reasons[k].feature,
		            reasons[k].part, text, sizeof(text));
		fputc(',', fp);
		put_field(fp, text);
		fprintf(fp, ",%.4f", reasons[k].contribution);
	}
}

/* Where one lead's output line lies in the spool of --sort rank. */
struct spool_ref {
	uint64_t off, len;
};

/*
 * --sort rank: the second pass spools each lead's line to an unlinked file
 * and its place there to a second one, at the lead's rank; the lines are
 * then copied in rank order. Memory stays constant whatever the leads;
 * the cost is one more write and read of the output.
 */
struct spool {
	FILE *lines;
	int idx;
};

static int spool_open(struct fl_ranker *rk, struct spool *sp)
{
	int fd, r;

	sp->lines = NULL;
	sp->idx = -1;
	if ((r = fl_ranker_tmpfile(rk, &fd)) != 0)
		return r;
	if ((sp->lines = fdopen(fd, "w+")) == NULL) {
		close(fd);
		return FL_ERR_NOMEM;
	}
	return fl_ranker_tmpfile(rk, &sp->idx);
}

static void spool_close(struct spool *sp)
{
	if (sp->lines != NULL)
		fclose(sp->lines);
	if (sp->idx >= 0)
		close(sp->idx);
}

static int spool_io(const char *what, const char *data)
{
	return fl_fail(FL_ERR_IO, "%s: cannot %s the rank-order spool: %s", data, what,
	               strerror(errno));
}

/* Copies the spooled lines of ranks 1..n to fp. */
static int spool_copy(struct spool *sp, uint64_t n, FILE *fp, const char *data)
{
	struct spool_ref ref[512];
	char *buf = NULL;
	size_t cap = 0;
	int r = 0;

	if (fflush(sp->lines) != 0)
		return spool_io("write", data);
	for (uint64_t k = 0; k < n && r == 0; k += 512) {
		size_t m = n - k < 512 ? (size_t)(n - k) : 512;
		ssize_t got = pread(sp->idx, ref, m * sizeof(*ref), (off_t)(k * sizeof(*ref)));

		if (got != (ssize_t)(m * sizeof(*ref))) {
			r = spool_io("read", data);
			break;
		}
		for (size_t j = 0; j < m; j++) {
			if (ref[j].len > cap) {
				char *nb = realloc(buf, ref[j].len);

				if (nb == NULL) {
					r = FL_ERR_NOMEM;
					break;
				}
				buf = nb;
				cap = ref[j].len;
			}
			if (pread(fileno(sp->lines), buf, ref[j].len, (off_t)ref[j].off) !=
			    (ssize_t)ref[j].len) {
				r = spool_io("read", data);
				break;
			}
			fwrite(buf, 1, ref[j].len, fp);
		}
	}
	free(buf);
	return r;
}

/* Second pass: every good row with its rank and reasons, in file order, or
 * spooled for rank order (sp != NULL). raw and x hold a row each. */
static int write_scores(const struct fl_model *m, const struct fl_score_opts *o,
                        struct fl_rows *rows, struct fl_ranker *rk, FILE *fp, struct spool *sp,
                        struct fl_score_report *rep, double *raw, double *x)
{
	char rowbuf[32];
	const char *id;
	uint64_t i = 0, rank;
	int r, decile;

	write_header(fp, m, o);
	if (sp != NULL)
		fp = sp->lines;
	while ((r = fl_rows_next(rows, raw, NULL, &id)) == 1) {
		struct spool_ref ref = {0, 0};
		double z;

		memcpy(x, raw, m->dim * sizeof(*x));
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
		if (sp != NULL)
			ref.off = (uint64_t)ftello(fp);
		put_field(fp, id);
		fprintf(fp, ",%.6f,%llu,%d", fl_sigmoid(z), (unsigned long long)rank, decile);
		if (reasons_up(o))
			write_reasons(fp, m, o, rows, raw, x, 1);
		if (reasons_down(o))
			write_reasons(fp, m, o, rows, raw, x, -1);
		fputc('\n', fp);
		if (sp != NULL) {
			ref.len = (uint64_t)ftello(fp) - ref.off;
			if (pwrite(sp->idx, &ref, sizeof(ref), (off_t)((rank - 1) * sizeof(ref))) !=
			    (ssize_t)sizeof(ref))
				return spool_io("write", o->data);
		}
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

/* --top K, or --top P %: the best P % of the leads, rounded down, at least
 * one lead when there are any. */
static uint64_t top_k(const struct fl_score_opts *o, uint64_t rows)
{
	double k;

	if (o->top_k > 0 || !(o->top_share > 0))
		return o->top_k;
	k = floor(o->top_share * (double)rows);
	return k < 1 ? (rows > 0) : (uint64_t)k;
}

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
	/* A header alone (or only bad rows skipped) has no ranking to report:
	 * an AUC of NaN with exit status 0 would pass for a result. */
	if (rep->load.rows == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no usable data rows", o->data);
		goto out;
	}
	rep->bytes = fl_rows_bytes_read(rows);
	if ((r = fl_ranker_finish(rk, top_k(o, rep->load.rows), &rep->ev)) != 0)
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
	rep->load.want_unseen = 1;
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
	struct spool sp = {NULL, -1};
	double *x = NULL;
	struct fl_file *dst = NULL;
	FILE *fp = NULL;
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->load.want_unseen = 1;
	if (o->n_reasons < 0 || o->n_reasons > FL_MAX_REASONS)
		return fl_fail(FL_ERR_INVALID, "reason codes per lead must be 0 to %d",
		               FL_MAX_REASONS);
	/* Two rows: the raw one (whose "(other)" columns tell unseen values)
	 * and the standardised one. */
	if ((x = malloc(2 * m->dim * sizeof(double))) == NULL)
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
	    (o->sort_rank && (r = spool_open(rk, &sp)) != 0) ||
	    (r = fl_file_begin(o->out, &score_out_opts, &dst)) != 0)
		goto out;
	if ((fp = fl_file_stream(dst)) == NULL) {
		r = FL_ERR_IO;
		goto out;
	}
	if ((r = write_scores(m, o, rows, rk, fp, o->sort_rank ? &sp : NULL, rep, x, x + m->dim)) !=
	            0 ||
	    (o->sort_rank && (r = spool_copy(&sp, rep->load.rows, fp, o->data)) != 0))
		goto out;
	r = fl_file_commit(dst);
	dst = NULL;
out:
	fl_file_abort(dst);
	spool_close(&sp);
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
	size_t start = f->enc_offset, width = f->enc_width;
	double avg = 0;

	if (fl_feature_is_value(f, j))
		return m->w[j];
	/* A missing indicator (a date's too: its first part). */
	if (f->type == FL_NUMERIC ||
	    (f->type == FL_DATE && j == f->enc_offset + 1 && f->missing == FL_MISSING_IMPUTE))
		return m->w[j] * (1 - m->scaler->baseline[j]);
	/* A date's weekday or month against that block's average. */
	for (size_t p = 0; p < fl_feature_parts(f); p++) {
		fl_feature_part(f, p, &start, &width);
		if (j >= start && j < start + width)
			break;
	}
	for (size_t k = start; k < start + width; k++)
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
		/* A spline or bins feature is one effect curve
		 * (fl_spline_explain()), never a basis column. */
		for (size_t j = s->features[i].enc_offset;
		     !fl_spline_is_block(&s->features[i]) &&
		     j < s->features[i].enc_offset + s->features[i].enc_width;
		     j++) {
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
	if (f != NULL && fl_feature_is_value(f, d->col))
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
	/* Where the model comes from: a federation's partners and rounds (its
	 * signer is checked and named by fedlead-score --verify-ca), or one
	 * site's own data. */
	if (m->prov.federation_id != NULL) {
		fprintf(fp, "Federation: %s, %u rounds, %zu partners:", m->prov.federation_id,
		        m->prov.rounds, m->prov.n_participants);
		for (size_t i = 0; i < m->prov.n_participants; i++)
			fprintf(fp, "%s %s", i ? "," : "", m->prov.participants[i]);
		fputc('\n', fp);
	} else {
		fprintf(fp, "Trained locally, on one site's leads\n");
	}
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
	if ((r = fl_spline_explain(m, fp)) != 0)
		return r;
	return ferror(fp) ? fl_fail(FL_ERR_IO, "write failed") : 0;
}
