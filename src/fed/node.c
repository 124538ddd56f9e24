/*
 * Partner-side task handling. Everything this file sends is built in
 * reply_update() or fl_fednode_status(): sums over rows, never a row.
 */
#include "fedlead/node.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/payload.h"
#include "fedlead/linalg.h"
#include "fedlead/logreg.h"
#include "fedlead/secagg.h"
#include "fedlead/wire.h"

struct fl_fednode {
	const struct fl_schema *s;
	size_t d;
	struct fl_dataset *raw;        /* all rows, as loaded */
	struct fl_dataset *tr_raw;     /* training part (may be raw itself) */
	struct fl_dataset *va_raw;     /* validation part or NULL */
	struct fl_dataset *tr, *va;    /* standardised copies */
	double *c;                     /* row weights of tr, or NULL */
	int welcomed;
	char federation_id[FL_WIRE_MAX_STRING + 1];
	uint64_t last_round;
	double valid_split;
	uint64_t seed;
	uint32_t bins;
	double range;
	/* secure aggregation */
	int secure;
	unsigned threshold;
	char identity[FL_WIRE_MAX_STRING + 1];
	EVP_PKEY *key;
	X509_STORE *store;
	struct fl_secagg_node *sa;
	const Fedlead__Wire__SecAggParams *task_secagg; /* of the task being answered */
	/* What every partner must have been told alike: hashes of the plan and
	 * of the standardisation, and of the task being answered, which the
	 * key advertisement signs (secagg.h). */
	uint8_t plan_hash[32], std_hash[32], task_hash[32];
	struct fl_secagg_policy pol;
	struct fl_secagg_history *hist; /* sums revealed in this federation */
};

static int plain_update(const struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
			Fedlead__Wire__UpdateKind kind, double *values, size_t nv, uint8_t **frame,
			size_t *len);

static void drop_split(struct fl_fednode *n)
{
	if (n->tr_raw != n->raw)
		fl_dataset_free(n->tr_raw);
	fl_dataset_free(n->va_raw);
	fl_dataset_free(n->tr);
	fl_dataset_free(n->va);
	free(n->c);
	n->tr_raw = n->va_raw = n->tr = n->va = NULL;
	n->c = NULL;
}

void fl_fednode_set_credentials(struct fl_fednode *n, EVP_PKEY *key, X509_STORE *store)
{
	n->key = key;
	n->store = store;
}

void fl_fednode_set_policy(struct fl_fednode *n, const struct fl_secagg_policy *pol)
{
	n->pol = *pol;
}

void fl_fednode_free(struct fl_fednode *n)
{
	if (n == NULL)
		return;
	fl_secagg_node_free(n->sa);
	fl_secagg_history_free(n->hist);
	drop_split(n);
	fl_dataset_free(n->raw);
	free(n);
}

int fl_fednode_new(const struct fl_schema *s, struct fl_dataset *raw, struct fl_fednode **out)
{
	struct fl_fednode *n;

	*out = NULL;
	if (raw->dim != s->dim)
		return fl_fail(FL_ERR_INVALID, "dataset has %zu columns, the schema %zu", raw->dim,
			       s->dim);
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return FL_ERR_NOMEM;
	if (fl_secagg_history_new(&n->hist) != 0) {
		free(n);
		return FL_ERR_NOMEM;
	}
	n->s = s;
	n->d = s->dim;
	n->raw = raw;
	n->pol.min_partners = 2;
	*out = n;
	return 0;
}

uint64_t fl_fednode_last_round(const struct fl_fednode *n)
{
	return n->last_round;
}

void fl_fednode_rows(const struct fl_fednode *n, size_t *train, size_t *valid)
{
	*train = n->tr_raw ? n->tr_raw->n : n->raw->n;
	*valid = n->va_raw ? n->va_raw->n : 0;
}

int fl_fednode_hello(const struct fl_fednode *n, const char *federation_id, uint8_t **frame,
		     size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Hello h = FEDLEAD__WIRE__HELLO__INIT;

	h.protocol_version = FL_WIRE_PROTOCOL_VERSION;
	h.software_version = (char *)FL_VERSION;
	h.schema_fingerprint.data = (uint8_t *)n->s->fingerprint;
	h.schema_fingerprint.len = FL_FINGERPRINT_LEN;
	h.federation_id = (char *)(federation_id ? federation_id : "");
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	return fl_wire_encode(&env, frame, len);
}

int fl_fednode_welcome(struct fl_fednode *n, const Fedlead__Wire__Welcome *w)
{
	const Fedlead__Wire__Plan *p = w->plan;
	int r;

	if (w->protocol_version != FL_WIRE_PROTOCOL_VERSION)
		return fl_fail(FL_ERR_PROTO,
			       "coordinator speaks protocol version %u, this node version %d",
			       w->protocol_version, FL_WIRE_PROTOCOL_VERSION);
	if (p == NULL)
		return fl_fail(FL_ERR_PROTO, "coordinator: welcome without a training plan");
	if (!(p->validation_split >= 0 && p->validation_split < 1) || p->hist_bins == 0 ||
	    p->hist_bins > FL_HIST_BINS_MAX || !(p->hist_range > 0 && isfinite(p->hist_range)))
		return fl_fail(FL_ERR_PROTO, "coordinator: welcome with an invalid training plan");
	if (strlen(w->federation_id) == 0 || strlen(w->federation_id) > FL_WIRE_MAX_STRING)
		return fl_fail(FL_ERR_PROTO, "coordinator: welcome without a federation id");
	/* A different federation or plan after a reconnect starts afresh. */
	if (n->welcomed && (strcmp(n->federation_id, w->federation_id) != 0 ||
			    n->valid_split != p->validation_split || n->seed != p->seed))
		n->last_round = 0;
	if (n->welcomed && strcmp(n->federation_id, w->federation_id) != 0) {
		struct fl_secagg_history *h;

		if ((r = fl_secagg_history_new(&h)) != 0)
			return r;
		fl_secagg_history_free(n->hist);
		n->hist = h;
		memset(n->std_hash, 0, sizeof(n->std_hash));
	}
	{
		/* The threshold in the plan reflects who had joined when this
		 * partner was welcomed; the one in force travels with each task
		 * (and is in its hash). */
		Fedlead__Wire__Plan same = *p;

		same.threshold = 0;
		if ((r = fl_wire_message_hash("fedlead-plan-v1", (const uint8_t *)"", 0, &same.base,
					      n->plan_hash)) != 0)
			return r;
	}
	drop_split(n);
	strcpy(n->federation_id, w->federation_id);
	n->valid_split = p->validation_split;
	n->seed = p->seed;
	n->bins = p->hist_bins;
	n->range = p->hist_range;
	n->secure = p->secure_aggregation;
	n->threshold = p->threshold;
	snprintf(n->identity, sizeof(n->identity), "%s", w->partner_identity);
	if (n->secure && (n->key == NULL || n->store == NULL || p->threshold < 2))
		return fl_fail(FL_ERR_PROTO, "coordinator: secure aggregation without credentials "
			       "or with threshold %u", p->threshold);
	if (n->valid_split > 0) {
		if ((r = fl_dataset_split(n->raw, n->valid_split, n->seed, &n->tr_raw,
					  &n->va_raw)) != 0)
			return r;
	} else
		n->tr_raw = n->raw;
	n->welcomed = 1;
	return 0;
}

/* A task is for this federation and schema, and not older than one already
 * seen: a replayed task from an earlier round is refused. */
static int check_task_ref(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
			  const char *type)
{
	if (!n->welcomed)
		return fl_fail(FL_ERR_PROTO, "coordinator: %s before welcome", type);
	if (strcmp(ref->federation_id, n->federation_id) != 0)
		return fl_fail(FL_ERR_PROTO, "coordinator: %s for federation \"%.64s\", expected "
			       "\"%.64s\"", type, ref->federation_id, n->federation_id);
	if (ref->schema_fingerprint.len != FL_FINGERPRINT_LEN ||
	    memcmp(ref->schema_fingerprint.data, n->s->fingerprint, FL_FINGERPRINT_LEN) != 0)
		return fl_fail(FL_ERR_PROTO, "coordinator: %s with a different schema fingerprint",
			       type);
	if (ref->round < n->last_round)
		return fl_fail(FL_ERR_PROTO,
			       "coordinator: stale %s for round %llu, round %llu was already seen",
			       type, (unsigned long long)ref->round,
			       (unsigned long long)n->last_round);
	n->last_round = ref->round;
	return 0;
}

int fl_fednode_status(const struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
		      Fedlead__Wire__StatusCode code, const char *detail, uint8_t **frame,
		      size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Status st = FEDLEAD__WIRE__STATUS__INIT;
	Fedlead__Wire__RoundRef rr = FEDLEAD__WIRE__ROUND_REF__INIT;
	char buf[FL_WIRE_MAX_STRING];

	rr.federation_id = ref ? ref->federation_id : (char *)n->federation_id;
	rr.round = ref ? ref->round : n->last_round;
	rr.schema_fingerprint.data = (uint8_t *)n->s->fingerprint;
	rr.schema_fingerprint.len = FL_FINGERPRINT_LEN;
	st.ref = &rr;
	st.code = code;
	/* Only printable UTF-8 may go on the wire: an error text can quote
	 * anything. */
	fl_wire_clean_string(buf, sizeof(buf), detail ? detail : "");
	st.detail = buf;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STATUS;
	env.status = &st;
	return fl_wire_encode(&env, frame, len);
}

/* The task's secure-aggregation settings, or NULL. */
static const Fedlead__Wire__SecAggParams *task_secagg(const Fedlead__Wire__Envelope *env)
{
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK: return env->stats_task->secagg;
	case FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK: return env->eval_task->secagg;
	case FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN: return env->local_train->secagg;
	default: return NULL;
	}
}

/*
 * Sends the update: in the clear (inside TLS) in a plain federation, or as
 * the first step of secure aggregation, which keeps the vector and answers
 * with a key advertisement.
 */
static int reply_update(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
			Fedlead__Wire__UpdateKind kind, double *values, size_t nv, uint8_t **frame,
			size_t *len)
{
	if (n->secure) {
		int r;

		fl_secagg_node_free(n->sa);
		n->sa = NULL;
		r = fl_secagg_node_start(n->federation_id, ref, n->task_secagg,
				       n->task_secagg->threshold ? n->task_secagg->threshold
								 : n->threshold,
				       n->identity, n->key, n->task_hash, &n->pol, n->hist, kind,
				       values, nv, &n->sa, frame, len);
		return r == 0 ? FL_FEDNODE_REPLY : r;
	}
	return plain_update(n, ref, kind, values, nv, frame, len);
}

static int plain_update(const struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
			Fedlead__Wire__UpdateKind kind, double *values, size_t nv, uint8_t **frame,
			size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Update up = FEDLEAD__WIRE__UPDATE__INIT;
	Fedlead__Wire__RoundRef rr = *ref;
	int r;

	rr.schema_fingerprint.data = (uint8_t *)n->s->fingerprint;
	up.ref = &rr;
	up.kind = kind;
	up.values = values;
	up.n_values = nv;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE;
	env.update = &up;
	r = fl_wire_encode(&env, frame, len);
	return r == 0 ? FL_FEDNODE_REPLY : r;
}

static int do_stats(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref, uint8_t **frame,
		    size_t *len)
{
	struct fl_stats *st = NULL;
	double *v = NULL;
	int r;

	if ((r = fl_stats_new(n->d, &st)) != 0)
		return r;
	for (size_t i = 0; i < n->tr_raw->n; i++)
		fl_stats_add(st, n->tr_raw->X + i * n->d, n->tr_raw->y[i]);
	if ((v = malloc(fl_payload_stats_len(n->d) * sizeof(double))) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	fl_payload_stats_pack(st, v);
	r = reply_update(n, ref, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS, v,
			 fl_payload_stats_len(n->d), frame, len);
out:
	free(v);
	fl_stats_free(st);
	return r;
}

static struct fl_dataset *copy_dataset(const struct fl_dataset *src)
{
	struct fl_dataset *d = calloc(1, sizeof(*d));
	size_t n = src->n ? src->n : 1;

	if (d == NULL)
		return NULL;
	d->n = src->n;
	d->dim = src->dim;
	d->X = malloc(n * src->dim * sizeof(double));
	d->y = malloc(n * sizeof(double));
	if (d->X == NULL || d->y == NULL) {
		fl_dataset_free(d);
		return NULL;
	}
	memcpy(d->X, src->X, src->n * src->dim * sizeof(double));
	memcpy(d->y, src->y, src->n * sizeof(double));
	return d;
}

/* Returns 0, or a sentence for an error Status in why. */
static int do_standardize(struct fl_fednode *n, const Fedlead__Wire__Standardize *m, char *why,
			  size_t whylen)
{
	struct fl_scaler *sc = NULL;
	int r = FL_ERR_NOMEM;

	if (m->n_center != n->d || m->n_scale != n->d || m->n_impute != n->d ||
	    m->n_baseline != n->d) {
		snprintf(why, whylen, "standardisation for %zu columns, but the schema has %zu",
			 m->n_center, n->d);
		return FL_ERR_PROTO;
	}
	for (size_t j = 0; j < n->d; j++)
		if (!(m->scale[j] > 0) || !isfinite(m->center[j]) || !isfinite(m->impute[j])) {
			snprintf(why, whylen, "invalid standardisation of column %zu", j);
			return FL_ERR_PROTO;
		}
	if (!(m->pos_weight > 0) || !isfinite(m->pos_weight)) {
		snprintf(why, whylen, "invalid class weight %g", m->pos_weight);
		return FL_ERR_PROTO;
	}
	fl_dataset_free(n->tr);
	fl_dataset_free(n->va);
	free(n->c);
	n->tr = n->va = NULL;
	n->c = NULL;
	if ((r = fl_scaler_new(n->d, &sc)) != 0)
		goto out;
	memcpy(sc->center, m->center, n->d * sizeof(double));
	memcpy(sc->scale, m->scale, n->d * sizeof(double));
	memcpy(sc->impute, m->impute, n->d * sizeof(double));
	memcpy(sc->baseline, m->baseline, n->d * sizeof(double));
	r = FL_ERR_NOMEM;
	if ((n->tr = copy_dataset(n->tr_raw)) == NULL ||
	    (n->va_raw != NULL && (n->va = copy_dataset(n->va_raw)) == NULL))
		goto out;
	fl_dataset_standardize(n->tr, sc);
	if (n->va != NULL)
		fl_dataset_standardize(n->va, sc);
	if (m->pos_weight != 1.0) {
		if ((n->c = malloc((n->tr->n + 1) * sizeof(double))) == NULL)
			goto out;
		for (size_t i = 0; i < n->tr->n; i++)
			n->c[i] = n->tr->y[i] > 0.5 ? m->pos_weight : 1.0;
	}
	r = 0;
out:
	if (r == FL_ERR_NOMEM)
		snprintf(why, whylen, "out of memory while standardising");
	fl_scaler_free(sc);
	return r;
}

static void pack_valid(const struct fl_fednode *n, const double *w, double *v)
{
	if (n->va != NULL)
		fl_payload_valid_pack(n->va->X, n->va->y, n->va->n, n->d, w, n->bins, n->range, v);
	else
		memset(v, 0, fl_payload_valid_len(n->bins) * sizeof(double));
}

static int do_eval(struct fl_fednode *n, const Fedlead__Wire__EvalTask *t, uint8_t **frame,
		   size_t *len)
{
	size_t d = n->d, nv = fl_payload_eval_len(d, t->need_hessian, t->need_validation, n->bins);
	double *v = NULL, *H = NULL;
	int r = FL_ERR_NOMEM;

	if ((v = malloc(nv * sizeof(double))) == NULL ||
	    (t->need_hessian && (H = malloc(d * d * sizeof(double))) == NULL))
		goto out;
	fl_linalg_logistic(n->tr->X, n->tr->n, d, n->tr->y, n->c, t->w, &v[0], v + 1, H);
	if (H != NULL)
		fl_payload_hess_pack(H, d, v + 1 + d);
	if (t->need_validation)
		pack_valid(n, t->w, v + 1 + d + (H ? d * (d + 1) / 2 : 0));
	r = reply_update(n, t->ref, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, v, nv, frame, len);
out:
	free(v);
	free(H);
	return r;
}

static int do_local_train(struct fl_fednode *n, const Fedlead__Wire__LocalTrainTask *t,
			  uint8_t **frame, size_t *len)
{
	size_t d = n->d, nv = fl_payload_fedavg_len(d, t->need_validation, n->bins);
	struct fl_logreg_data data = {n->tr->n, d, n->tr->X, n->tr->y, n->c};
	struct fl_sgd_opts so = {
		.l2 = t->l2,
		.epochs = (int)t->epochs,
		.batch = t->batch,
		.lr = t->lr,
		.decay = 1e-3,
		/* Different shuffles each round, the same ones on a rerun. */
		.seed = n->seed ^ (t->ref->round * 0x9e3779b97f4a7c15ULL),
		.prox_mu = t->prox_mu,
		.anchor = t->w,
	};
	double *v = NULL, *w = NULL, *g = NULL;
	int r = FL_ERR_NOMEM;

	if ((v = malloc(nv * sizeof(double))) == NULL || (w = malloc(d * sizeof(double))) == NULL ||
	    (g = malloc(d * sizeof(double))) == NULL)
		goto out;
	fl_linalg_logistic(n->tr->X, n->tr->n, d, n->tr->y, n->c, t->w, &v[1], g, NULL);
	memcpy(w, t->w, d * sizeof(double));
	if ((r = fl_logreg_sgd(&data, &so, w)) != 0)
		goto out;
	v[0] = (double)n->tr->n;
	for (size_t j = 0; j < d; j++)
		v[2 + j] = v[0] * w[j];
	if (t->need_validation)
		pack_valid(n, t->w, v + 2 + d);
	r = reply_update(n, t->ref, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_FEDAVG, v, nv, frame, len);
out:
	free(v);
	free(w);
	free(g);
	return r;
}

/* Steps 2 to 4 of secure aggregation for the task in progress. */
static int secure_step(struct fl_fednode *n, const Fedlead__Wire__Envelope *env, uint8_t **frame,
		       size_t *len)
{
	int r;

	if (!n->secure || n->sa == NULL)
		return fl_fail(FL_ERR_PROTO, "coordinator: %s outside secure aggregation",
			       fl_wire_type_name(env));
	if (env->key_list != NULL && env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST)
		r = fl_secagg_node_keys(n->sa, env->key_list, n->store, frame, len);
	else if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET)
		r = fl_secagg_node_shares(n->sa, env->share_set, frame, len);
	else if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK)
		r = fl_secagg_node_consistency(n->sa, env->consistency_check, frame, len);
	else
		r = fl_secagg_node_unmask(n->sa, env->unmask_request, frame, len);
	return r == 0 ? FL_FEDNODE_REPLY : r;
}

int fl_fednode_handle(struct fl_fednode *n, const Fedlead__Wire__Envelope *env, uint8_t **frame,
		      size_t *len)
{
	const Fedlead__Wire__RoundRef *ref = fl_wire_ref(env);
	const char *type = fl_wire_type_name(env);
	char why[256];
	int r;

	*frame = NULL;
	*len = 0;
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK:
	case FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE:
	case FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK:
	case FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN:
	case FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL:
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST:
	case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK:
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST:
		break;
	default:
		return fl_fail(FL_ERR_PROTO, "coordinator: unexpected %s message", type);
	}
	if ((r = check_task_ref(n, ref, type)) != 0)
		return r;
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST:
	case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK:
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST:
		return secure_step(n, env, frame, len);
	default:
		break;
	}
	/* The task as received, bound to the plan and standardisation: every
	 * partner that was told the same computes the same hash. */
	{
		uint8_t pre[64];

		memcpy(pre, n->plan_hash, 32);
		memcpy(pre + 32, n->std_hash, 32);
		if ((r = fl_wire_message_hash("fedlead-task-v1", pre, sizeof(pre), &env->base,
					      n->task_hash)) != 0)
			return r;
	}
	/* A secure federation never falls back to plain updates, whatever a
	 * task says: that would hand the coordinator this partner's vector. */
	n->task_secagg = task_secagg(env);
	if (n->secure && n->task_secagg == NULL &&
	    env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE &&
	    env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL)
		return fl_fail(FL_ERR_AUTH, "coordinator: %s without secure aggregation in a secure "
			       "federation; refused", type);
	if (!n->secure && n->task_secagg != NULL)
		return fl_fail(FL_ERR_PROTO, "coordinator: %s with secure aggregation, which the plan "
			       "did not announce", type);
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK:
		return do_stats(n, ref, frame, len);
	case FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE:
		if (do_standardize(n, env->standardize, why, sizeof(why)) == 0) {
			/* Later tasks' hashes cover the standardisation they use;
			 * not its round, which differs for a partner that rejoined. */
			Fedlead__Wire__Standardize same = *env->standardize;

			same.ref = NULL;
			if ((r = fl_wire_message_hash("fedlead-standardize-v1", (const uint8_t *)"", 0,
						      &same.base, n->std_hash)) != 0)
				return r;
			return FL_FEDNODE_NONE;
		}
		r = fl_fednode_status(n, ref, FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR, why, frame,
				      len);
		return r == 0 ? FL_FEDNODE_REPLY : r;
	case FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL:
		return FL_FEDNODE_FINAL;
	default:
		break;
	}
	/* Training tasks need standardised rows and weights of the right size. */
	{
		size_t nw = env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK
				    ? env->eval_task->n_w
				    : env->local_train->n_w;

		if (n->tr == NULL)
			snprintf(why, sizeof(why), "%s before standardisation", type);
		else if (nw != n->d)
			snprintf(why, sizeof(why), "%s with %zu weights, the schema has %zu", type,
				 nw, n->d);
		else if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN &&
			 (env->local_train->epochs == 0 || env->local_train->batch == 0 ||
			  !(env->local_train->lr > 0) || !(env->local_train->l2 >= 0) ||
			  !(env->local_train->prox_mu >= 0)))
			snprintf(why, sizeof(why), "local_train with invalid settings");
		else
			why[0] = '\0';
		if (why[0] != '\0') {
			r = fl_fednode_status(n, ref, FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR, why,
					      frame, len);
			return r == 0 ? FL_FEDNODE_REPLY : r;
		}
	}
	if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK)
		return do_eval(n, env->eval_task, frame, len);
	return do_local_train(n, env->local_train, frame, len);
}
