/*
 * The scoring service's model: loaded under the service's rules (signature,
 * schema fingerprint) with the decile cuts of its reference leads. See
 * include/fedlead/serve.h.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedlead/error.h"
#include "fedlead/linalg.h"
#include "fedlead/ranker.h"
#include "fedlead/rows.h"
#include "fedlead/serve.h"
#include "fedlead/signed_model.h"

void fl_serve_model_free(struct fl_serve_model *sm)
{
	if (sm == NULL)
		return;
	fl_model_free(sm->m);
	free(sm);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Last rank of the 0-based decile d among n (metrics.c's rule:
 * fl_decile_of_rank(r, n) is 1 + floor(10 (r - 1) / n)). */
static uint64_t decile_end(int d, uint64_t n)
{
	unsigned __int128 v = (unsigned __int128)(d + 1) * n;

	return (uint64_t)((v + 9) / 10);
}

/*
 * The reference's cut scores, in two passes as fedlead-score ranks a file
 * (memory does not grow with its leads): the first ranks every lead, the
 * second picks the logit of the lead at each decile's last rank.
 */
static int reference_cuts(struct fl_serve_model *sm, const char *path)
{
	const struct fl_model *m = sm->m;
	struct fl_rows *rows = NULL;
	struct fl_ranker *rk = NULL;
	struct fl_eval ev;
	double *x = NULL;
	uint64_t n = 0, i = 0, rank;
	int r, dec, found = 0;

	if ((x = malloc(m->dim * sizeof(*x))) == NULL)
		return FL_ERR_NOMEM;
	if ((r = fl_rows_open(m->schema, path, 0, FL_BAD_ROWS_FAIL, NULL, &rows)) != 0 ||
	    (r = fl_ranker_new(NULL, 1u << 20, &rk)) != 0)
		goto out;
	while ((r = fl_rows_next(rows, x, NULL, NULL)) == 1) {
		fl_scaler_apply(m->scaler, x);
		if ((r = fl_ranker_add(rk, fl_model_logit(m, x), -1)) != 0)
			goto out;
		n++;
	}
	if (r < 0)
		goto out;
	if (n == 0) {
		r = fl_fail(FL_ERR_DATA, "%s: no usable data rows", path);
		goto out;
	}
	if ((r = fl_ranker_finish(rk, 0, &ev)) != 0 || (r = fl_rows_rewind(rows, NULL)) != 0)
		goto out;
	for (int d = 0; d < FL_DECILES - 1; d++)
		sm->cut_rank[d] = decile_end(d, n);
	while ((r = fl_rows_next(rows, x, NULL, NULL)) == 1) {
		if ((r = fl_ranker_rank(rk, i++, &rank, &dec)) != 0)
			goto out;
		for (int d = 0; d < FL_DECILES - 1; d++)
			if (sm->cut_rank[d] == rank) {
				fl_scaler_apply(m->scaler, x);
				sm->cuts[d] = fl_model_logit(m, x);
				found++;
				break;
			}
	}
	if (r < 0)
		goto out;
	/* Several deciles end at the same rank when there are fewer than ten
	 * leads: each takes the same lead's logit. */
	for (int d = 1; d < FL_DECILES - 1; d++)
		if (sm->cut_rank[d] == sm->cut_rank[d - 1])
			sm->cuts[d] = sm->cuts[d - 1], found++;
	if (i != n || found != FL_DECILES - 1) {
		r = fl_fail(FL_ERR_IO, "%s: the file changed while it was being read", path);
		goto out;
	}
	sm->ref_leads = n;
	r = 0;
out:
	fl_ranker_free(rk);
	fl_rows_close(rows);
	free(x);
	return r;
}

int fl_serve_decile(const struct fl_serve_model *sm, double z)
{
	int d = 1;

	if (sm->ref_leads == 0)
		return 0;
	/* A reference lead scored strictly higher than z at the end of decile
	 * k means rank(z) is past it. */
	for (int k = 0; k < FL_DECILES - 1; k++)
		if (sm->cuts[k] > z)
			d = k + 2;
	return d;
}

int fl_serve_model_load(const struct fl_serve_opts *o, const char *expect_fp, uint64_t generation,
                        struct fl_serve_model **out)
{
	struct fl_serve_model *sm = NULL;
	uint8_t *buf = NULL, md[32];
	unsigned int mdlen = 0;
	size_t len = 0;
	time_t now = time(NULL);
	struct tm tm;
	int r;

	*out = NULL;
	if ((sm = calloc(1, sizeof(*sm))) == NULL)
		return FL_ERR_NOMEM;
	sm->generation = generation;
	if ((r = fl_model_read_file(o->model, &buf, &len)) != 0)
		goto out;
	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		r = fl_fail(FL_ERR_CRYPTO, "%s: cannot hash the file", o->model);
		goto out;
	}
	hex(md, 32, sm->sha256);
	if (o->verify_ca != NULL) {
		if ((r = fl_model_file_verify(buf, len, o->verify_ca, o->crl, sm->signer,
		                              sizeof(sm->signer))) != 0) {
			r = fl_fail(r, "%s: %s", o->model, fl_errmsg());
			goto out;
		}
		sm->verified = 1;
	} else if (!o->allow_unsigned) {
		r = fl_fail(FL_ERR_CONFIG,
		            "%s: no verify_ca to check the model's signature against (set "
		            "allow_unsigned to serve it unchecked)",
		            o->model);
		goto out;
	}
	if ((r = fl_model_decode(buf, len, o->model, &sm->m)) != 0)
		goto out;
	fl_schema_fingerprint_hex(sm->m->schema, sm->fingerprint);
	if (expect_fp != NULL && strcmp(expect_fp, sm->fingerprint) != 0) {
		r = fl_fail(FL_ERR_SCHEMA,
		            "%s: schema fingerprint %s is not the one served (%s; set "
		            "follow_schema to accept a new schema)",
		            o->model, sm->fingerprint, expect_fp);
		goto out;
	}
	if (o->reference != NULL && (r = reference_cuts(sm, o->reference)) != 0) {
		r = fl_fail(r, "reference: %s", fl_errmsg());
		goto out;
	}
	if (gmtime_r(&now, &tm) != NULL)
		strftime(sm->loaded, sizeof(sm->loaded), "%Y-%m-%dT%H:%M:%SZ", &tm);
	*out = sm;
	sm = NULL;
	r = 0;
out:
	free(buf);
	fl_serve_model_free(sm);
	return r;
}
