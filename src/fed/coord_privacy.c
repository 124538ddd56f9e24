/*
 * The coordinator's side of the partners' differential privacy (privacy =
 * on): each node announces its terms in its Hello (proto/wire.proto,
 * PrivacyTerms). The coordinator refuses a partner whose budget cannot pay
 * for the plan, or whose terms differ from the others' (each node
 * calibrates its noise assuming the others of a round add as much, and its
 * task hash binds its terms: such partners would fail in the first secure
 * round), says up front whose budget is the tightest, and records every
 * participant's terms in the model, where each node checks its own.
 *
 * The coordinator only plans: each node enforces its own budget with its
 * ledger whatever the coordinator says.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_int.h"
#include "fedlead/error.h"
#include "fedlead/log.h"
#include "fedlead/model.h"
#include "fedlead/node.h"

/* "epsilon 1 (delta 1e-06), 30 releases, clip 9.3, max_colluders 1" or
 * "no differential privacy". */
static void describe(const struct coord_dp *t, char *buf, size_t n)
{
	if (!t->on)
		snprintf(buf, n, "no differential privacy");
	else
		snprintf(buf, n, "epsilon %g (delta %g), %llu releases, clip %g, max_colluders %u",
		         t->fed_epsilon, t->delta, (unsigned long long)t->releases, t->clip,
		         t->max_colluders);
}

/* Whether two partners' noise adds up: what dp_task_tag() in node.c binds
 * (max_colluders sets each node's variance: t - max_colluders honest
 * partners). */
static int same_terms(const struct coord_dp *a, const struct coord_dp *b)
{
	if (a->on != b->on)
		return 0;
	return !a->on || (a->fed_epsilon == b->fed_epsilon && a->delta == b->delta &&
	                  a->releases == b->releases && a->clip == b->clip &&
	                  a->max_colluders == b->max_colluders);
}

/*
 * The partner's differential privacy plan (PrivacyTerms.plan) against the
 * one this coordinator speaks (FL_DP_PLAN): another plan's statistics
 * would be decoded wrongly and its noise would not add up with the
 * others', so it is refused at the Hello, before any round. Every partner
 * admitted speaks FL_DP_PLAN, so partners of different plans never meet.
 */
static int plan_spoken(const Fedlead__Wire__PrivacyTerms *q, const char *who, char *reason,
                       size_t n)
{
	if (strcmp(q->plan, FL_DP_PLAN) == 0)
		return 0;
	if (q->plan[0] == '\0')
		snprintf(reason, n,
		         "partner %.64s announces no differential privacy plan (a node from "
		         "before plans were announced); this coordinator speaks \"" FL_DP_PLAN
		         "\" only",
		         who);
	else
		snprintf(reason, n,
		         "partner %.64s follows differential privacy plan \"%.64s\"; this "
		         "coordinator speaks \"" FL_DP_PLAN "\" only, and partners of different "
		         "plans cannot train together",
		         who, q->plan);
	return FL_ERR_AUTH;
}

static int terms_from_hello(const Fedlead__Wire__Hello *h, struct coord_dp *t, const char *who,
                            char *reason, size_t n)
{
	const Fedlead__Wire__PrivacyTerms *q = h->privacy;

	memset(t, 0, sizeof(*t));
	if (q == NULL || !(q->epsilon > 0))
		return 0;
	if (strcmp(q->mechanism, FL_DP_MECHANISM) != 0 ||
	    strcmp(q->accountant, FL_DP_ACCOUNTANT) != 0) {
		snprintf(reason, n,
		         "partner %.64s adds noise by \"%.64s\" with a \"%.32s\" accountant; this "
		         "coordinator plans for the " FL_DP_MECHANISM " with " FL_DP_ACCOUNTANT,
		         who, q->mechanism, q->accountant);
		return FL_ERR_AUTH;
	}
	if (plan_spoken(q, who, reason, n) != 0)
		return FL_ERR_AUTH;
	if (!isfinite(q->epsilon) ||
	    !(q->federation_epsilon > 0 && isfinite(q->federation_epsilon)) ||
	    !(q->delta > 0 && q->delta < 1) || q->releases == 0 ||
	    !(q->clip > 0 && isfinite(q->clip)) || !(q->rho >= 0 && isfinite(q->rho)) ||
	    !(q->rho_left >= 0 && isfinite(q->rho_left)) ||
	    !(q->rho_needed >= 0 && isfinite(q->rho_needed))) {
		snprintf(reason, n, "partner %.64s announced privacy terms out of range", who);
		return FL_ERR_PROTO;
	}
	t->on = 1;
	t->epsilon = q->epsilon;
	t->fed_epsilon = q->federation_epsilon;
	t->delta = q->delta;
	t->window = q->window;
	t->releases = q->releases;
	t->clip = q->clip;
	t->max_colluders = q->max_colluders;
	t->rho = q->rho;
	t->rho_left = q->rho_left;
	t->rho_needed = q->rho_needed;
	t->done = q->releases_done;
	return 0;
}

int fl_coord_dp_join(struct fl_fedcoord *c, struct partner *p, const Fedlead__Wire__Hello *h,
                     char *reason, size_t n)
{
	struct coord_dp t;
	char mine[160], theirs[160];
	int r;

	if (!c->set.privacy)
		return 0; /* a node with privacy on refuses the plan itself */
	if ((r = terms_from_hello(h, &t, p->id, reason, n)) != 0)
		return r;
	for (size_t i = 0; i < c->np; i++) {
		const struct partner *q = &c->p[i];

		if (q == p || !q->dp_known || !(q->connected || q->participant) ||
		    same_terms(&q->dp, &t))
			continue;
		describe(&t, mine, sizeof(mine));
		describe(&q->dp, theirs, sizeof(theirs));
		snprintf(reason, n,
		         "partner %.64s's privacy terms (%s) differ from %.64s's (%s): their noise "
		         "would not add up in one round; every partner's "
		         "privacy_federation_epsilon (or privacy_epsilon), privacy_delta, "
		         "privacy_releases, privacy_clip and max_colluders must be the same",
		         p->id, mine, q->id, theirs);
		return FL_ERR_AUTH;
	}
	/* Before the start only: a partner coming back has spent part of its
	 * budget on this very federation, which its node accounts for. */
	if (t.on && !c->started) {
		if (c->dp_planned > t.releases) {
			snprintf(
			        reason, n,
			        "privacy plan: %llu releases per partner, but partner %.64s's node "
			        "splits its budget over privacy_releases = %llu",
			        (unsigned long long)c->dp_planned, p->id,
			        (unsigned long long)t.releases);
			return FL_ERR_AUTH;
		}
		if (t.rho_needed > t.rho_left) {
			uint64_t rest = t.releases - (t.done < t.releases ? t.done : t.releases);

			snprintf(reason, n,
			         "privacy budget of partner %.64s cannot pay for this "
			         "federation: its %llu releases would spend rho %.6g "
			         "(epsilon %g, delta %g), and its window has rho %.6g left",
			         p->id, (unsigned long long)rest, t.rho_needed, t.fed_epsilon,
			         t.delta, t.rho_left);
			return FL_ERR_AUTH;
		}
	}
	p->dp = t;
	p->dp_known = 1;
	p->dp_refused = 0; /* its operator may have mended its settings */
	return 0;
}

void fl_coord_dp_refused(struct fl_fedcoord *c, struct partner *p, const char *reason)
{
	size_t left = 0;
	char msg[1200];

	if (c->started || c->phase != FL_PHASE_WAITING)
		return;
	p->dp_refused = 1;
	for (size_t i = 0; i < c->np; i++)
		left += !c->p[i].dp_refused;
	if (left >= c->set.min_partners)
		return;
	snprintf(msg, sizeof(msg), "cannot start within the partners' privacy: %s", reason);
	fl_coord_fail(c, msg);
}

void fl_coord_dp_plan(struct fl_fedcoord *c)
{
	const struct partner *tight = NULL;
	char line[600];
	size_t noisy = 0;

	for (size_t i = 0; i < c->np; i++) {
		const struct partner *q = &c->p[i];

		if (!q->participant || !q->dp_known || !q->dp.on)
			continue;
		noisy++;
		/* The least left after this federation; ties go to the first name. */
		if (tight == NULL ||
		    q->dp.rho_left - q->dp.rho_needed < tight->dp.rho_left - tight->dp.rho_needed)
			tight = q;
	}
	if (tight == NULL) {
		snprintf(line, sizeof(line),
		         "privacy plan: %llu releases per partner; no partner announced "
		         "differential privacy terms, so no noise is added",
		         (unsigned long long)c->dp_planned);
		fl_log(FL_LOG_WARN, "%s", line);
	} else {
		snprintf(line, sizeof(line),
		         "privacy plan: %llu releases per partner; tightest budget: %s, epsilon %g "
		         "(delta %g) for this federation, %llu releases (rho %.6g of the %.6g its "
		         "window has left)",
		         (unsigned long long)c->dp_planned, tight->id, tight->dp.fed_epsilon,
		         tight->dp.delta, (unsigned long long)tight->dp.releases,
		         tight->dp.rho_needed, tight->dp.rho_left);
		fl_log(FL_LOG_NOTICE, "%s", line);
	}
	fl_audit_event(c->io.audit, "privacy_plan", "{s:s, s:s, s:I, s:s?, s:I}", "federation",
	               c->federation_id, "plan", line, "releases", (json_int_t)c->dp_planned,
	               "tightest", tight != NULL ? tight->id : NULL, "partners_with_noise",
	               (json_int_t)noisy);
}

int fl_coord_dp_record(const struct fl_fedcoord *c, struct fl_model *m)
{
	struct fl_dp_record rec = {
	        .mechanism = (char *)FL_DP_MECHANISM,
	        .accountant = (char *)FL_DP_ACCOUNTANT,
	        .releases = c->dp_issued,
	        .threshold = c->set.secure ? fl_coord_threshold(c) : 0,
	        .gradient_clip = FL_DP_GRAD_CLIP,
	};
	struct fl_dp_partner *v;
	int r;

	if (!c->set.privacy)
		return 0;
	if ((v = calloc(c->np ? c->np : 1, sizeof(*v))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < c->np; i++) {
		const struct partner *q = &c->p[i];

		if (!q->participant || !q->dp_known || !q->dp.on)
			continue;
		v[rec.n_partners++] = (struct fl_dp_partner){
		        .partner = q->id,
		        .epsilon = q->dp.fed_epsilon,
		        .delta = q->dp.delta,
		        .releases = q->dp.releases,
		        .clip = q->dp.clip,
		        .max_colluders = q->dp.max_colluders,
		        .rho = q->dp.rho,
		};
	}
	rec.partners = v;
	/* Without any noise there is nothing to record: the model says it was
	 * trained without differential privacy. */
	r = rec.n_partners > 0 ? fl_model_set_privacy(m, &rec) : 0;
	free(v);
	return r;
}

int fl_coord_dp_noisy(const struct fl_fedcoord *c)
{
	for (size_t i = 0; i < c->np; i++)
		if (c->p[i].participant && c->p[i].dp_known && c->p[i].dp.on)
			return 1;
	return 0;
}

double fl_coord_dp_freq(const struct fl_fedcoord *c, size_t j)
{
	double p = j == 0 ? 0 : c->scaler->baseline[j];

	/* Values have baseline 0; a 0/1 column's frequency is in [0, 1]. */
	return p > 0 && p < 1 ? p : 0;
}

/* E ||x||^2 of a row in the centred encoding (see coord_int.h). */
static double dp_norm2(const struct fl_fedcoord *c)
{
	double e = 1;

	for (size_t i = 0; i < c->schema->n_features; i++) {
		const struct fl_feature *f = &c->schema->features[i];

		for (size_t j = f->enc_offset; j < f->enc_offset + f->enc_width; j++) {
			double p = fl_coord_dp_freq(c, j);

			e += fl_feature_is_value(f, j) ? 1 : p * (1 - p);
		}
	}
	return e;
}

static double dp_k(const struct fl_fedcoord *c)
{
	return FL_DP_CLIP_KAPPA * sqrt(dp_norm2(c) / (1.0 + (double)c->schema->n_features));
}

double fl_coord_dp_scaler(const struct fl_fedcoord *c, double *center, double *scale)
{
	double k = dp_k(c);

	for (size_t j = 0; j < c->d; j++) {
		center[j] = c->scaler->center[j] + fl_coord_dp_freq(c, j) * c->scaler->scale[j];
		scale[j] = c->scaler->scale[j] * k;
	}
	return k;
}

void fl_coord_dp_model_weights(const struct fl_fedcoord *c, const double *w, double *out)
{
	double k = dp_k(c), cal = 1, R = 0, w0;

	for (size_t i = 0; i < c->np; i++)
		if (c->p[i].participant && c->p[i].dp_known && c->p[i].dp.on) {
			R = c->p[i].dp.clip;
			break;
		}
	if (R > 0)
		cal = fmin(1, R * k / sqrt(dp_norm2(c)));
	w0 = w[0];
	for (size_t j = 1; j < c->d; j++) {
		w0 -= fl_coord_dp_freq(c, j) * w[j];
		out[j] = cal * w[j] / k;
	}
	out[0] = cal * w0 / k;
}

double fl_coord_dp_intercept(const struct fl_fedcoord *c)
{
	double pos = c->total_positives, neg = c->total_rows - c->total_positives;

	/* The statistics' counts are clamped to 1 .. rows - 1 when noisy. */
	if (!(pos > 0 && neg > 0 && c->pos_weight > 0))
		return 0;
	return dp_k(c) * log(c->pos_weight * pos / neg);
}
