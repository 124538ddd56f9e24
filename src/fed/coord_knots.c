/*
 * The coordinator's knots round (knots.h): before the statistics round of
 * a schema whose spline or bins features give a knot count, the partners'
 * fine histograms are summed (securely when the plan is secure), the knots
 * are placed at the quantiles of the sum, and the statistics task carries
 * them to every partner. The coordinator keeps them in its own copy of the
 * schema, so the model records them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coord_int.h"
#include "fedlead/error.h"
#include "fedlead/knots.h"
#include "fedlead/log.h"
#include "fedlead/spline.h"

int fl_coord_knots_schema_check(const struct fl_coord_settings *s, const struct fl_schema *schema)
{
	const struct fl_feature *f;

	(void)s; /* the check is the same with and without privacy */
	if (schema == NULL || fl_knots_features(schema) == 0)
		return 0;
	if ((f = fl_knots_unclipped(schema)) != NULL)
		return fl_fail(FL_ERR_CONFIG,
		               "feature \"%s\" places its knots from the federation's data, which "
		               "needs a clip range in the schema (the partners' fine histograms "
		               "span it); add \"clip\": [low, high] or write the knot values",
		               f->name);
	return 0;
}

uint64_t fl_coord_knots_releases(const struct fl_coord_settings *s, const struct fl_schema *schema)
{
	return s->privacy && schema != NULL && fl_knots_features(schema) > 0 ? 1 : 0;
}

uint64_t fl_coord_knots_planned(const struct fl_fedcoord *c)
{
	uint64_t k = 0;

	if (fl_coord_knots_releases(&c->set, c->schema) == 0)
		return 0;
	/* The knots rounds this federation completed (the history survives a
	 * resume), and the one still to come: a resumed coordinator that does
	 * not hold the knots places them again. The count is the same for
	 * every partner welcomed while it runs, before and after the knots
	 * round, so every partner's plan hash agrees. */
	for (size_t i = 0; i < c->n_hist; i++)
		k += strcmp(c->hist[i].kind, "knots") == 0;
	return k + (c->knots_ready ? 0 : 1);
}

int fl_coord_knots_needed(const struct fl_fedcoord *c)
{
	return c->schema != NULL && fl_knots_features(c->schema) > 0 && !c->knots_ready;
}

void fl_coord_begin_stats(struct fl_fedcoord *c)
{
	fl_coord_begin_round(c, fl_coord_knots_needed(c) ? T_KNOTS : T_STATS);
}

void fl_coord_knots_forget(struct fl_fedcoord *c)
{
	/* Under differential privacy the knots stay: they were placed from a
	 * noised release, which costs nothing more to use again, while placing
	 * them again would be a knots round beyond the one the Welcome named,
	 * which the nodes refuse. */
	if (c->set.privacy)
		return;
	c->knots_ready = 0;
}

/* Places the knots k (fl_knots_values_len() values, taken over) in the
 * coordinator's copy of the schema and keeps them for the statistics task,
 * with the basis means m (fl_knots_means_len() values, taken over; NULL:
 * not known). */
static int knots_place(struct fl_fedcoord *c, double *k, size_t n, double *m, size_t nm)
{
	int r;

	/* The caller's schema is read-only; the knots go into a copy that
	 * stands for it from now on (same canonical text and fingerprint). */
	if (c->kschema == NULL) {
		if ((r = fl_schema_parse(c->schema->canonical, strlen(c->schema->canonical),
		                         "schema", &c->kschema)) != 0)
			goto out;
		c->schema = c->kschema;
	}
	for (size_t i = 0, at = 0; i < c->kschema->n_features; i++) {
		const struct fl_feature *f = &c->kschema->features[i];

		if (!fl_knots_from_data(f))
			continue;
		if ((r = fl_schema_set_knots(c->kschema, i, k + at, f->n_knots)) != 0)
			goto out;
		at += f->n_knots;
	}
	free(c->knots);
	free(c->knots_means);
	c->knots = k;
	c->n_knots = n;
	c->knots_means = m;
	c->n_knots_means = m != NULL ? nm : 0;
	k = m = NULL;
	c->knots_ready = 1;
	r = 0;
out:
	free(k);
	free(m);
	return r;
}

int fl_coord_finish_knots(struct fl_fedcoord *c, const double *acc)
{
	size_t n = fl_knots_values_len(c->schema), nm = fl_knots_means_len(c->schema);
	double *k, *m = NULL;
	int r;

	if ((k = malloc((n ? n : 1) * sizeof(double))) == NULL ||
	    (m = calloc(nm ? nm : 1, sizeof(double))) == NULL) {
		free(k);
		return FL_ERR_NOMEM;
	}
	if ((r = fl_knots_from_hist(c->schema, acc, k)) != 0) {
		free(k);
		free(m);
		return r;
	}
	if ((r = knots_place(c, k, n, m, nm)) != 0)
		return r;
	/* The basis at the placed knots: post-processing of the same sum. */
	if ((r = fl_knots_basis_means(c->schema, acc, c->knots_means)) != 0) {
		/* Not known rather than half written: neither a checkpoint nor
		 * the model takes the buffer. */
		free(c->knots_means);
		c->knots_means = NULL;
		c->n_knots_means = 0;
		return r;
	}
	fl_log(FL_LOG_NOTICE,
	       "knots of %zu features placed at the quantiles of the %zu partners' summed "
	       "histograms",
	       fl_knots_features(c->schema), fl_coord_count(c, 0, 1));
	if ((r = fl_coord_add_history(c, "knots")) != 0)
		return r;
	/* Kept, so a coordinator that restarts from here neither asks for
	 * the histograms again nor charges the partners a second release. */
	fl_coord_checkpoint(c);
	return 0;
}

int fl_coord_knots_restore(struct fl_fedcoord *c, uint32_t features, const double *v, size_t n,
                           int have_means, const double *means, size_t n_means)
{
	size_t nf = c->schema != NULL ? fl_knots_features(c->schema) : 0;
	size_t need = c->schema != NULL ? fl_knots_values_len(c->schema) : 0;
	size_t need_m = c->schema != NULL ? fl_knots_means_len(c->schema) : 0;
	double *k, *m = NULL;
	int r;

	if (nf == 0)
		return fl_fail(FL_ERR_DATA,
		               "checkpoint holds knots placed from data for %u features, but no "
		               "feature of the schema places its knots from data",
		               features);
	if (features != nf || n != need)
		return fl_fail(FL_ERR_DATA,
		               "checkpoint holds %zu knots of %u features placed from data, the "
		               "schema's %zu such features need %zu",
		               n, features, nf, need);
	/* The same check as every node's (inside the clip, increasing). */
	if (fl_knots_check(c->schema, v, n) != 0)
		return fl_fail(FL_ERR_DATA, "checkpoint's knots are refused: %s", fl_errmsg());
	if (have_means && n_means != need_m)
		return fl_fail(FL_ERR_DATA,
		               "checkpoint holds %zu spline basis means, the schema's splines with "
		               "knots from data have %zu basis columns",
		               n_means, need_m);
	for (size_t j = 0; have_means && j < n_means; j++)
		if (!isfinite(means[j]))
			return fl_fail(FL_ERR_DATA,
			               "checkpoint's spline basis mean %zu (%.17g) is not finite",
			               j, means[j]);
	if ((k = malloc(n * sizeof(double))) == NULL ||
	    (have_means && (m = malloc((n_means ? n_means : 1) * sizeof(double))) == NULL)) {
		free(k);
		return FL_ERR_NOMEM;
	}
	memcpy(k, v, n * sizeof(double));
	if (n_means > 0)
		memcpy(m, means, n_means * sizeof(double));
	if ((r = knots_place(c, k, n, m, n_means)) != 0)
		return r;
	/* Within the range the coordinator that wrote them kept them in, at
	 * the knots just placed. */
	if (c->knots_means != NULL && (r = fl_knots_means_check(c->schema, c->knots_means)) != 0)
		return fl_fail(FL_ERR_DATA, "checkpoint's spline basis means are refused: %s",
		               fl_errmsg());
	return 0;
}

void fl_coord_knots_baselines(const struct fl_fedcoord *c, double *baseline)
{
	const struct fl_schema *s = c->schema;
	size_t at = 0;

	if (c->knots_means == NULL)
		return;
	for (size_t i = 0; i < s->n_features; i++) {
		const struct fl_feature *f = &s->features[i];
		size_t nb = fl_spline_basis_width(f), j = f->enc_offset;
		double share = 1;

		if (!fl_knots_means_feature(f))
			continue;
		/* The released shares of the block's special values and missing
		 * indicator (denoised into [0, 1] each). */
		for (size_t q = nb; q < f->enc_width; q++)
			share -= baseline[j + q];
		share = share > 0 ? share : 0;
		for (size_t q = 0; q < nb; q++)
			baseline[j + q] = share * c->knots_means[at + q];
		at += nb;
	}
}
