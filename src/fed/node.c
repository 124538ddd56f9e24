/*
 * Partner-side task handling. Everything this file sends is built in
 * reply_update() or fl_fednode_status(): sums over rows, never a row.
 *
 * The node policy is checked here, before anything derived from the rows is
 * computed: the coordinator's Welcome, every task's round, sizes and
 * fixed-point parameters, and every key list and unmask request of secure
 * aggregation. A refusal is fatal (the same coordinator would ask the same
 * again after a reconnect).
 */
#include "fedlead/node.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fedlead/accountant.h"
#include "fedlead/dgauss.h"
#include "fedlead/dp_gradient.h"
#include "fedlead/error.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/knots.h"
#include "fedlead/ledger.h"
#include "fedlead/linalg.h"
#include "fedlead/log.h"
#include "fedlead/logreg.h"
#include "fedlead/model.h"
#include "fedlead/payload.h"
#include "fedlead/secagg.h"
#include "fedlead/signed_model.h"
#include "fedlead/spline.h"
#include "fedlead/wire.h"

struct dp_admitted;

struct fl_fednode {
	const struct fl_schema *s;
	size_t d;
	struct fl_dataset *raw;     /* all rows, as loaded */
	struct fl_dataset *tr_raw;  /* training part (may be raw itself) */
	struct fl_dataset *va_raw;  /* validation part or NULL */
	struct fl_dataset *tr, *va; /* standardised copies */
	double *c;                  /* row weights of tr, or NULL */
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
	/* policy */
	struct fl_node_policy pol; /* strings point into pol_fed and pol_partners */
	char *pol_fed;
	char **pol_partners;
	double bound[2];       /* fixed-point bound pinned per format (stats, others) */
	uint64_t warned_round; /* last round whose policy warnings were logged */
	int fatal;
	int connected; /* welcomed on the current connection */
	struct fl_audit *audit;
	const char *ca, *crl, *model_out;
	char *ledger;
	uint64_t ledger_max;
	double ledger_window;
	char digest[65]; /* of the data, for the ledger ("" until computed) */
	char set_recorded[FL_WIRE_MAX_STRING + 1]; /* federation whose revealed set is in it */
	/* What every partner must have been told alike: hashes of the plan and
	 * of the standardisation, and of the task being answered, which the
	 * key advertisement signs (secagg.h). */
	uint8_t plan_hash[32], std_hash[32], task_hash[32];
	struct fl_secagg_history *hist; /* sums revealed in this federation */
	/* differential privacy (pol.privacy; see dp_release()) */
	char *pol_pledger;         /* copy of pol.privacy.ledger */
	struct fl_ledger *pledger; /* open (and locked) from the first Welcome on */
	double pos_weight;         /* of the standardisation in force */
	double dp_w_norm;          /* ||w||_2 of the evaluation being answered */
	int dp_hess, dp_valid;     /* what that evaluation holds */
	/* Per training row: the factor from the row clipped at R to the row
	 * clipped at FL_DP_GRAD_ROW_CLIP R (dp_clip_train()); NULL without
	 * differential privacy. */
	double *dp_u;
	/* Knots from the federation's data: raw's values before any knots,
	 * and the knots last placed (node_knots_*()). */
	struct fl_knots_rows *knots;
	/* The round of a knots histogram whose knots are not yet applied, or
	 * 0: the rows hold raw values again until a statistics task brings
	 * the new knots, so no standardisation may be built on them. */
	uint64_t knots_pending;
	/* The knots the rows are encoded with (n_placed values), or none
	 * while they hold the values as loaded. */
	double *placed;
	size_t n_placed;
	uint64_t dp_knots_planned; /* the Welcome's Plan.privacy_knots_releases */
	/* Under differential privacy, the release of the task being answered,
	 * decided before its rows are read (update_admit()). */
	struct dp_admitted *adm;
	uint64_t row_passes; /* fl_fednode_row_passes() */
};

static int plain_update(const struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
                        Fedlead__Wire__UpdateKind kind, double *values, size_t nv, uint8_t **frame,
                        size_t *len);
static int dp_stats_release(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref, double *v,
                            const struct dp_admitted *a);
static int dp_knots_release(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref, double *v,
                            const struct dp_admitted *a);

static void drop_split(struct fl_fednode *n)
{
	if (n->tr_raw != n->raw)
		fl_dataset_free(n->tr_raw);
	fl_dataset_free(n->va_raw);
	fl_dataset_free(n->tr);
	fl_dataset_free(n->va);
	free(n->c);
	free(n->dp_u);
	n->tr_raw = n->va_raw = n->tr = n->va = NULL;
	n->c = NULL;
	n->dp_u = NULL;
}

void fl_fednode_set_credentials(struct fl_fednode *n, EVP_PKEY *key, X509_STORE *store)
{
	n->key = key;
	n->store = store;
}

static void free_policy_strings(struct fl_fednode *n)
{
	free(n->pol_fed);
	if (n->pol_partners != NULL)
		for (size_t i = 0; i < n->pol.n_partners; i++)
			free(n->pol_partners[i]);
	free(n->pol_partners);
	free(n->pol_pledger);
	n->pol_fed = NULL;
	n->pol_partners = NULL;
	n->pol_pledger = NULL;
}

void fl_fednode_free(struct fl_fednode *n)
{
	if (n == NULL)
		return;
	fl_secagg_node_free(n->sa);
	fl_secagg_history_free(n->hist);
	drop_split(n);
	fl_knots_rows_free(n->knots);
	free(n->placed);
	free(n->adm);
	fl_dataset_free(n->raw);
	free_policy_strings(n);
	free(n->ledger);
	fl_ledger_close(n->pledger);
	free(n);
}

void fl_node_policy_default(struct fl_node_policy *p)
{
	*p = (struct fl_node_policy){
	        .min_partners = FL_NODE_MIN_PARTNERS_DEFAULT,
	        .max_local_epochs = FL_NODE_MAX_LOCAL_EPOCHS_DEFAULT,
	        .max_rounds = FL_NODE_MAX_ROUNDS_DEFAULT,
	        .max_colluders = FL_NODE_MAX_COLLUDERS_DEFAULT,
	        .privacy = {.delta = FL_NODE_PRIVACY_DELTA_DEFAULT,
	                    .window = FL_NODE_PRIVACY_WINDOW_DEFAULT,
	                    .releases = FL_NODE_PRIVACY_RELEASES_DEFAULT,
	                    .knots_max = FL_NODE_PRIVACY_KNOTS_MAX_DEFAULT},
	};
}

int fl_node_threshold_safe(unsigned t, size_t n, unsigned c)
{
	return t > c && 2 * (size_t)t > n + c;
}

static int privacy_check(const struct fl_node_privacy *q)
{
	if (q->epsilon == 0)
		return 0;
	if (!(q->epsilon > 0) || !isfinite(q->epsilon))
		return fl_fail(FL_ERR_CONFIG, "privacy_epsilon must be a positive number, or 0 "
		                              "for no differential privacy");
	if (!(q->delta > 0 && q->delta < 1))
		return fl_fail(FL_ERR_CONFIG, "privacy_delta = %g must be above 0 and below 1",
		               q->delta);
	if (!(q->federation_epsilon >= 0) || q->federation_epsilon > q->epsilon)
		return fl_fail(FL_ERR_CONFIG,
		               "privacy_federation_epsilon = %g must be from 0 (all of "
		               "privacy_epsilon) to privacy_epsilon = %g",
		               q->federation_epsilon, q->epsilon);
	if (q->releases == 0)
		return fl_fail(FL_ERR_CONFIG, "privacy_releases must be at least 1");
	if (q->knots_max == 0)
		return fl_fail(FL_ERR_CONFIG, "privacy_knots_max must be at least 1");
	if (!(q->window > 0) || !(q->clip >= 0) || !isfinite(q->clip))
		return fl_fail(FL_ERR_CONFIG, "privacy_window must be positive and privacy_clip "
		                              "a number >= 0");
	if (q->ledger == NULL)
		return fl_fail(FL_ERR_CONFIG, "privacy_epsilon needs a privacy ledger file");
	return 0;
}

int fl_node_policy_check(const struct fl_node_policy *p)
{
	if (p->min_partners < 2 || p->min_partners > FL_WIRE_MAX_PARTIES)
		return fl_fail(FL_ERR_CONFIG, "min_partners %zu must be from 2 to %d",
		               p->min_partners, FL_WIRE_MAX_PARTIES);
	if (p->max_colluders >= p->min_partners)
		return fl_fail(FL_ERR_CONFIG,
		               "max_colluders = %u must be below min_partners = %zu: no "
		               "threshold keeps that many colluders out of a sum over %zu partners",
		               p->max_colluders, p->min_partners, p->min_partners);
	return privacy_check(&p->privacy);
}

int fl_fednode_set_policy(struct fl_fednode *n, const struct fl_node_policy *p)
{
	struct fl_node_policy old = n->pol;
	int r;

	if ((r = fl_node_policy_check(p)) != 0)
		return r;
	if (p->partners != NULL && p->n_partners < p->min_partners)
		return fl_fail(FL_ERR_CONFIG,
		               "the partners list names %zu partners, fewer than "
		               "min_partners = %zu",
		               p->n_partners, p->min_partners);
	if (p->federation_id != NULL && strlen(p->federation_id) > FL_WIRE_MAX_STRING)
		return fl_fail(FL_ERR_CONFIG, "federation id longer than %d bytes",
		               FL_WIRE_MAX_STRING);
	free_policy_strings(n);
	n->pol = *p;
	n->pol.federation_id = NULL;
	n->pol.partners = NULL;
	n->pol.privacy.ledger = NULL;
	if (p->federation_id != NULL && (n->pol_fed = strdup(p->federation_id)) == NULL)
		goto nomem;
	if (p->privacy.ledger != NULL && (n->pol_pledger = strdup(p->privacy.ledger)) == NULL)
		goto nomem;
	n->pol.privacy.ledger = n->pol_pledger;
	/* A ledger opened under another name is not this policy's. */
	fl_ledger_close(n->pledger);
	n->pledger = NULL;
	n->pol.federation_id = n->pol_fed;
	if (p->partners != NULL) {
		if ((n->pol_partners = calloc(p->n_partners + 1, sizeof(char *))) == NULL)
			goto nomem;
		for (size_t i = 0; i < p->n_partners; i++)
			if ((n->pol_partners[i] = strdup(p->partners[i])) == NULL)
				goto nomem;
		n->pol.partners = (const char *const *)n->pol_partners;
	}
	return 0;
nomem:
	free_policy_strings(n);
	n->pol = old;
	n->pol.federation_id = NULL;
	n->pol.partners = NULL;
	n->pol.privacy.ledger = NULL;
	n->pol.n_partners = 0;
	return FL_ERR_NOMEM;
}

void fl_fednode_set_audit(struct fl_fednode *n, struct fl_audit *audit)
{
	n->audit = audit;
}

void fl_fednode_set_output(struct fl_fednode *n, const char *ca, const char *crl,
                           const char *model_out)
{
	n->ca = ca;
	n->crl = crl;
	n->model_out = model_out;
}

int fl_fednode_set_ledger(struct fl_fednode *n, const char *path, uint64_t max, double window)
{
	char *copy = NULL;

	if (max > 0 && (path == NULL || !(window > 0)))
		return fl_fail(FL_ERR_CONFIG, "max_federations needs a ledger file and a positive "
		                              "federation_window");
	if (max > 0 && (copy = strdup(path)) == NULL)
		return FL_ERR_NOMEM;
	free(n->ledger);
	n->ledger = copy;
	n->ledger_max = max;
	n->ledger_window = window;
	return 0;
}

int fl_fednode_fatal(const struct fl_fednode *n)
{
	return n->fatal;
}

int fl_fednode_welcomed(const struct fl_fednode *n)
{
	return n->connected;
}

void fl_fednode_disconnected(struct fl_fednode *n)
{
	n->connected = 0;
}

/*
 * A policy refusal: "policy RULE: WHAT; refused", logged, audited and fatal.
 * The rule is the name of the config key that decides it (or of the check,
 * such as vector_size, when no setting can relax it).
 */
static int refuse(struct fl_fednode *n, const char *rule, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int refuse_msg(struct fl_fednode *n, const char *rule, const char *msg)
{
	n->fatal = 1;
	fl_log(FL_LOG_ERROR, "%s", msg);
	fl_audit_event(n->audit, "refuse", "{s:s, s:s, s:s}", "rule", rule, "reason", msg,
	               "federation", n->federation_id);
	return fl_fail(FL_ERR_AUTH, "%s", msg);
}

static int refuse(struct fl_fednode *n, const char *rule, const char *fmt, ...)
{
	char what[768], msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "policy %s: %s; refused", rule, what);
	return refuse_msg(n, rule, msg);
}

/*
 * A refusal of the secure-aggregation engine at the ConsistencyCheck or
 * the unmasking (FL_ERR_AUTH: survivor sets that differ, too few valid
 * signatures, both shares of one partner, a sum over another set) is the
 * coordinator's doing alone: it is audited and fatal like a policy
 * refusal, with the engine's message and the rule the engine names, so a
 * coordinator that repeats it after a reconnect meets a node that has
 * stopped. Other errors close the connection and the node reconnects.
 */
static int refuse_step(struct fl_fednode *n, int r)
{
	char msg[900];

	if (r != FL_ERR_AUTH)
		return r;
	snprintf(msg, sizeof(msg), "%s", fl_errmsg());
	return refuse_msg(n, fl_secagg_node_refused_rule(n->sa), msg);
}

static int in_partner_list(const struct fl_fednode *n, const char *id)
{
	for (size_t i = 0; i < n->pol.n_partners; i++)
		if (strcmp(n->pol.partners[i], id) == 0)
			return 1;
	return 0;
}

/* ---- the ledger of federations joined on this data ---- */

/* "The same data" for the ledger: SHA-256 of the schema fingerprint and of
 * every encoded row, whatever the file is called. (The same rows in another
 * order count as other data; the man page says so.) */
static int data_digest(const struct fl_fednode *n, char hexout[65])
{
	static const char d[] = "0123456789abcdef";
	uint8_t md[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok;

	if (c == NULL)
		return FL_ERR_NOMEM;
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(c, n->s->fingerprint, FL_FINGERPRINT_LEN) == 1 &&
	     EVP_DigestUpdate(c, n->raw->X, n->raw->n * n->raw->dim * sizeof(double)) == 1 &&
	     EVP_DigestUpdate(c, n->raw->y, n->raw->n * sizeof(double)) == 1 &&
	     EVP_DigestFinal_ex(c, md, NULL) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
	for (int i = 0; i < 32; i++) {
		hexout[2 * i] = d[md[i] >> 4];
		hexout[2 * i + 1] = d[md[i] & 15];
	}
	hexout[64] = '\0';
	return 0;
}

/* Longest ledger line: "r1", a time, the data digest, a revealed set
 * in hex (every identity and a comma) and a federation id. */
#define LEDGER_LINE_MAX                                                                            \
	(2 * (size_t)FL_WIRE_MAX_PARTIES * (FL_WIRE_MAX_STRING + 1) + FL_WIRE_MAX_STRING + 200)

/* What the ledger says about this data. */
struct ledger_scan {
	uint64_t recent; /* other federations joined within the window */
	int known;       /* this federation was joined before */
	char *set;       /* the latest set revealed over within the window, or NULL */
	char set_fed[FL_WIRE_MAX_STRING + 1]; /* ... in this federation */
	long long set_time;
};

/* Decodes len hex digits into a string; NULL when they are not a set
 * (odd length, not hex, a NUL or a line break inside). */
static char *unhex_set(const char *h, size_t len)
{
	char *out;

	if (len == 0 || len % 2 != 0 || (out = malloc(len / 2 + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len / 2; i++) {
		int v = 0;

		for (int k = 0; k < 2; k++) {
			char c = h[2 * i + k];
			int d = c >= '0' && c <= '9'   ? c - '0'
			        : c >= 'a' && c <= 'f' ? c - 'a' + 10
			                               : -1;

			if (d < 0) {
				free(out);
				return NULL;
			}
			v = v * 16 + d;
		}
		if (v == 0 || v == '\n') {
			free(out);
			return NULL;
		}
		out[i] = (char)v;
	}
	out[len / 2] = '\0';
	return out;
}

/*
 * Reads the ledger: two kinds of line, both for one data digest,
 *   v1 TIME DIGEST FEDERATION-ID          a federation joined
 *   r1 TIME DIGEST HEX-SET FEDERATION-ID  sums revealed over a set of
 *                                         partners (hex of "a,b,c")
 * and counts the federations joined on this data within the window, says
 * whether fed is one of them (any time: a federation joined once may
 * always be rejoined, after a reconnect or a restart), and finds the
 * latest revealed set within the window or of fed itself. Lines that do
 * not parse are an error: a damaged ledger must not open the door.
 */
static int ledger_scan(const struct fl_fednode *n, const char *digest, const char *fed, double now,
                       struct ledger_scan *out)
{
	FILE *fp = fopen(n->ledger, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t l;
	unsigned long lineno = 0;
	int r = 0;

	*out = (struct ledger_scan){0};
	if (fp == NULL)
		return errno == ENOENT ? 0
		                       : fl_fail(FL_ERR_IO, "%s: %s", n->ledger, strerror(errno));
	while ((l = getline(&line, &cap, fp)) > 0) {
		char dig[65];
		const char *id, *hex = NULL;
		long long t;
		size_t hexlen = 0;
		int off = -1, revealed = line[0] == 'r';

		lineno++;
		if (line[l - 1] == '\n')
			line[--l] = '\0';
		/* The federation id is the rest of the line: it may hold blanks. */
		if ((size_t)l > LEDGER_LINE_MAX ||
		    sscanf(line, revealed ? "r1 %lld %64s %n" : "v1 %lld %64s %n", &t, dig, &off) !=
		            2 ||
		    off < 0 || strlen(dig) != 64)
			goto bad;
		id = line + off;
		if (revealed) {
			hex = id;
			hexlen = strcspn(hex, " ");
			if (hex[hexlen] != ' ')
				goto bad;
			id = hex + hexlen + 1;
		}
		if (strcmp(dig, digest) != 0)
			continue;
		if (revealed) {
			char *set;

			if ((set = unhex_set(hex, hexlen)) == NULL)
				goto bad;
			if ((strcmp(id, fed) == 0 || now - (double)t < n->ledger_window) &&
			    (out->set == NULL || t >= out->set_time)) {
				free(out->set);
				out->set = set;
				out->set_time = t;
				snprintf(out->set_fed, sizeof(out->set_fed), "%s", id);
			} else {
				free(set);
			}
		} else if (strcmp(id, fed) == 0) {
			out->known = 1;
		} else if (now - (double)t < n->ledger_window) {
			out->recent++;
		}
	}
	if (ferror(fp))
		r = fl_fail(FL_ERR_IO, "%s: %s", n->ledger, strerror(errno));
	goto out;
bad:
	r = fl_fail(FL_ERR_DATA, "%s:%lu: not a ledger line", n->ledger, lineno);
out:
	if (r != 0) {
		free(out->set);
		out->set = NULL;
	}
	free(line);
	fclose(fp);
	return r;
}

/* Appends one line to the ledger, synced: a crash cannot hide it. */
static int ledger_append(const struct fl_fednode *n, const char *line, size_t len)
{
	FILE *fp;
	int r;

	if ((fp = fopen(n->ledger, "a")) == NULL)
		return fl_fail(FL_ERR_IO, "%s: %s", n->ledger, strerror(errno));
	if (fwrite(line, 1, len, fp) != len || fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		r = fl_fail(FL_ERR_IO, "%s: %s", n->ledger, strerror(errno));
		fclose(fp);
		return r;
	}
	if (fclose(fp) != 0)
		return fl_fail(FL_ERR_IO, "%s: %s", n->ledger, strerror(errno));
	return 0;
}

static int ledger_check(struct fl_fednode *n, const char *fed)
{
	char line[FL_WIRE_MAX_STRING + 200];
	double now = (double)time(NULL);
	struct ledger_scan scan;
	int r, len;

	if (n->ledger_max == 0)
		return 0;
	if ((n->digest[0] == '\0' && (r = data_digest(n, n->digest)) != 0) ||
	    (r = ledger_scan(n, n->digest, fed, now, &scan)) != 0)
		return r;
	/* The one-set rule across federations and restarts: a set this data
	 * revealed sums over before holds here too (fl_secagg_history_check). */
	if (scan.set != NULL) {
		char origin[FL_WIRE_MAX_STRING + 16];

		snprintf(origin, sizeof(origin), "federation \"%.64s\"", scan.set_fed);
		r = fl_secagg_history_seed(n->hist, scan.set, origin);
		free(scan.set);
		if (r != 0)
			return r;
	}
	if (scan.known)
		return 0;
	if (scan.recent >= n->ledger_max)
		return refuse(
		        n, "max_federations",
		        "this data already joined %llu other federations in the last %.0f s "
		        "(max_federations = %llu, ledger %s), and \"%.64s\" would be one more",
		        (unsigned long long)scan.recent, n->ledger_window,
		        (unsigned long long)n->ledger_max, n->ledger, fed);
	/* Recorded before anything is answered. */
	len = snprintf(line, sizeof(line), "v1 %lld %s %s\n", (long long)now, n->digest, fed);
	return ledger_append(n, line, (size_t)len);
}

/*
 * Records the set this federation revealed sums over, once it first did
 * (called before the reply that reveals leaves), so that a later
 * federation on this data, or this one after a restart, is held to it.
 */
static int ledger_record_set(struct fl_fednode *n)
{
	static const char hx[] = "0123456789abcdef";
	const char *set = fl_secagg_history_set(n->hist);
	size_t sl = strlen(set), len;
	char *line;
	int r;

	if (n->ledger_max == 0 || sl == 0 || n->digest[0] == '\0' ||
	    strcmp(n->set_recorded, n->federation_id) == 0)
		return 0;
	if ((line = malloc(2 * sl + strlen(n->federation_id) + 120)) == NULL)
		return FL_ERR_NOMEM;
	len = (size_t)sprintf(line, "r1 %lld %s ", (long long)time(NULL), n->digest);
	for (size_t i = 0; i < sl; i++) {
		line[len++] = hx[(unsigned char)set[i] >> 4];
		line[len++] = hx[(unsigned char)set[i] & 15];
	}
	len += (size_t)sprintf(line + len, " %s\n", n->federation_id);
	r = ledger_append(n, line, len);
	free(line);
	if (r == 0)
		strcpy(n->set_recorded, n->federation_id);
	return r;
}

/* ---- differential privacy ---- */

/*
 * The mechanism (Kairouz, Liu and Steinke's distributed discrete Gaussian,
 * ICML 2021), for each training evaluation:
 *  - Sensitivity from bounds this node enforces, not from its data: every
 *    standardised row (training and validation) is scaled to l2 norm at
 *    most R = privacy_clip (do_standardize()), and the class weight c of a
 *    row is at most max(1, pos_weight). One lead added or removed then
 *    moves the loss by at most c (log 2 + ||w|| R) (|z| <= ||w|| R, w is
 *    the task's), the packed Hessian by c R^2 / 4 (||x x^T||_F = ||x||^2,
 *    sigma(1 - sigma) <= 1/4), the gradient of any evaluation whose task
 *    asks for the Hessian (the coordinator's flag; its plan asks in the
 *    first only) by c R sigma(||w|| R), and any other gradient by
 *    FL_DP_GRAD_CLIP R: there each row's term, over the row
 *    clipped at FL_DP_GRAD_ROW_CLIP R instead, is clipped to that norm
 *    (plan v7, dp_grad_sens(); bench/README.md, "A gradient mechanism for
 *    epsilon 1"), and the validation
 *    sums by 1 (rows), 1 (positives), log 2 + ||w|| R (log-loss) and 1 (one
 *    histogram bin), the root of their squares.
 *  - Each of these blocks gets its own noise for its own share of the
 *    release's rho (dp_blocks()); the release costs the sum (zCDP
 *    composition). One noise level for the whole vector would give the
 *    gradient the Hessian's R^2 / 4.
 *  - A block's values are rounded to a grid of 2^-g and integer noise
 *    N_Z(0, s2) on that grid is added, g as fine as the sampler's variance
 *    allows; rounding adds at most 1 per coordinate to the sensitivity in
 *    grid units (sqrt(len) in l2, len in l1). The result is an exact
 *    multiple of 2^-g, so the fixed-point encoding (32 fraction bits)
 *    carries the integer noise exactly.
 *  - s2 is calibrated so that the sum of the noise of t - max_colluders
 *    partners (the fewest honest partners in any sum the coordinator can
 *    unmask: it needs t survivors, and up to max_colluders of them may
 *    tell it their noise) costs the block's share of
 *    rho(federation_epsilon, delta) / releases.
 *    That assumes the other honest partners add as much: partners whose
 *    privacy settings differ compute different task hashes (dp_task_tag())
 *    and never form a round together. Beyond max_colluders colluders, or
 *    with partners whose settings match but whose nodes are modified, the
 *    guarantee degrades to this node's own noise (rho times noisy).
 *  - Each release is charged to the ledger (fsynced) before the update
 *    leaves; a release the window's budget cannot pay for is refused.
 *  - The statistics round is a release too (dp_stats_release()): its
 *    sums are bounded by the schema's clip ranges, which every numeric
 *    feature must then have, and noised the same way (payload.h,
 *    fl_payload_stats_dp_plan()), charged as kind "stats" and counted in
 *    privacy_releases like an evaluation.
 * Not covered: FedAvg's local training, refused under this setting (a
 * gradient step's sensitivity needs per-example clipping at every step, and
 * each round would be a release: few Newton steps spend the budget far
 * better).
 */

/* Largest per-partner variance used, in grid units: ample resolution with
 * room below the sampler's limit. */
#define DP_MAX_VAR ((double)((uint64_t)1 << 40))

static int dp_on(const struct fl_fednode *n)
{
	return n->pol.privacy.epsilon > 0;
}

/* rho in ledger units, rounded down: a budget never grows by rounding. */
static uint64_t units_floor(double rho)
{
	double u = floor(rho * FL_LEDGER_UNITS);

	return !(u > 0) ? 0 : u >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)u;
}

/* The row clip R: privacy_clip, or by default the root of the expected
 * squared norm of a standardised row, 1 + the number of features (the
 * intercept, each numeric feature's variance 1, each one-hot block's single
 * 1). It depends on the schema only. Far below sqrt(schema width) for
 * one-hot schemas, it cuts the Hessian's sensitivity R^2 / 4 several times
 * while leaving most rows as they are (see bench/README.md). */
static double dp_clip(const struct fl_fednode *n)
{
	return n->pol.privacy.clip > 0 ? n->pol.privacy.clip : sqrt(1.0 + (double)n->s->n_features);
}

/* The federation as the privacy ledger names it: its id when the ledger
 * can hold it, otherwise "sha256-" and 32 hex digits of the id's hash. */
static int dp_fed_name(const char *fed, char out[FL_LEDGER_MAX_NAME + 1])
{
	static const char hx[] = "0123456789abcdef";
	size_t l = strlen(fed), i;
	uint8_t md[32];

	for (i = 0; i < l; i++) {
		unsigned char c = (unsigned char)fed[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '@'))
			break;
	}
	if (l > 0 && l <= FL_LEDGER_MAX_NAME && i == l) {
		memcpy(out, fed, l + 1);
		return 0;
	}
	if (EVP_Digest(fed, l, md, NULL, EVP_sha256(), NULL) != 1)
		return fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
	memcpy(out, "sha256-", 7);
	for (i = 0; i < 16; i++) {
		out[7 + 2 * i] = hx[md[i] >> 4];
		out[8 + 2 * i] = hx[md[i] & 15];
	}
	out[39] = '\0';
	return 0;
}

/*
 * The statistics release's share of a federation's rho; the evaluations
 * split the rest equally. The statistics only standardise (means and
 * deviations, levels' frequencies), which a tenth of the budget does
 * nearly as well as a quarter, while every evaluation's gradient noise
 * goes straight into the model (bench/README.md, "Differential privacy").
 */
#define DP_STATS_SHARE 0.1

/* What the ledger and the settings say about one federation. */
struct dp_plan {
	uint64_t budget;       /* the window's, in ledger units */
	uint64_t fed;          /* one federation's share */
	uint64_t per_stats;    /* the statistics release: DP_STATS_SHARE of fed */
	uint64_t per_eval;     /* an evaluation: the rest over releases - 1 */
	uint64_t spent_window; /* by every release within the window */
	uint64_t spent_fed;    /* by the releases of this federation */
	uint64_t done;         /* releases (evaluations, statistics, knots) of this federation */
	uint64_t done_stats;   /* of them, statistics releases */
	uint64_t done_knots;   /* of them, knots releases */
	double fed_epsilon;
};

static void dp_plan(const struct fl_fednode *n, const char *name, struct dp_plan *p)
{
	const struct fl_node_privacy *q = &n->pol.privacy;
	int64_t since = (int64_t)time(NULL) - (int64_t)q->window;

	*p = (struct dp_plan){0};
	p->fed_epsilon = q->federation_epsilon > 0 ? q->federation_epsilon : q->epsilon;
	p->budget = units_floor(fl_dp_rho_budget(q->epsilon, q->delta));
	p->fed = p->fed_epsilon == q->epsilon
	                 ? p->budget
	                 : units_floor(fl_dp_rho_budget(p->fed_epsilon, q->delta));
	/* With one release there is no evaluation to share with. */
	p->per_stats = q->releases > 1 ? (uint64_t)floor(DP_STATS_SHARE * (double)p->fed) : p->fed;
	p->per_eval = q->releases > 1 ? (p->fed - p->per_stats) / (q->releases - 1) : p->fed;
	p->spent_window = fl_ledger_spent(n->pledger, since);
	for (size_t i = 0; i < fl_ledger_count(n->pledger); i++) {
		const struct fl_release *e = fl_ledger_entry(n->pledger, i);

		if (strcmp(e->federation, name) == 0 &&
		    (strcmp(e->kind, "evaluate") == 0 || strcmp(e->kind, "stats") == 0 ||
		     strcmp(e->kind, "knots") == 0)) {
			p->done++;
			p->done_stats += strcmp(e->kind, "stats") == 0;
			p->done_knots += strcmp(e->kind, "knots") == 0;
			p->spent_fed += e->rho_e12;
		}
	}
}

/* What one release of the kind ("stats", or "evaluate" and "knots", priced
 * alike) costs. */
static uint64_t dp_cost(const struct dp_plan *pl, const char *kind)
{
	return strcmp(kind, "stats") == 0 ? pl->per_stats : pl->per_eval;
}

/* Opens the privacy ledger once (a damaged one is an error). */
static int dp_open_ledger(struct fl_fednode *n)
{
	int r, repaired = 0;

	if (n->pledger != NULL)
		return 0;
	if ((r = fl_ledger_open(n->pol.privacy.ledger, 1, &n->pledger, &repaired)) != 0)
		return r;
	if (repaired)
		fl_log(FL_LOG_WARN,
		       "%s: removed a torn last line (a release recorded while the node "
		       "crashed, never sent)",
		       n->pol.privacy.ledger);
	return 0;
}

/* The most a federation's releases may cost: the statistics and
 * privacy_releases - 1 evaluations (at most fed). */
static uint64_t dp_total(const struct fl_node_privacy *q, const struct dp_plan *pl)
{
	return pl->per_stats + (q->releases - 1) * pl->per_eval;
}

/* What is left of that after the releases made, in ledger units: a
 * release costing more is refused, whatever its kind. */
static uint64_t dp_left(const struct fl_node_privacy *q, const struct dp_plan *pl)
{
	return pl->spent_fed < dp_total(q, pl) ? dp_total(q, pl) - pl->spent_fed : 0;
}

/* The evaluations of a federation not made yet under privacy_releases
 * (the statistics release takes one of them). */
static uint64_t dp_evals_left(const struct fl_node_privacy *q, const struct dp_plan *pl)
{
	uint64_t evals = pl->done - pl->done_stats;

	return q->releases > 1 && evals < q->releases - 1 ? q->releases - 1 - evals : 0;
}

/* What the remaining releases of a federation cost, in ledger units: the
 * statistics if not made, and the evaluations not made, at their price
 * under this plan. Not clamped to what the federation's share has left:
 * after releases charged under another plan (or out of order) they may
 * cost more than that, and the Welcome must then refuse (dp_welcome()). */
static uint64_t dp_rest(const struct fl_node_privacy *q, const struct dp_plan *pl)
{
	return (pl->done_stats ? 0 : pl->per_stats) + dp_evals_left(q, pl) * pl->per_eval;
}

/* Those remaining releases in words: "the statistics and 19 evaluations". */
static void dp_rest_text(const struct fl_node_privacy *q, const struct dp_plan *pl, char *buf,
                         size_t n)
{
	uint64_t e = dp_evals_left(q, pl);
	char evals[48];

	snprintf(evals, sizeof(evals), "%llu evaluation%s", (unsigned long long)e,
	         e == 1 ? "" : "s");
	if (pl->done_stats)
		snprintf(buf, n, "%s", evals);
	else if (e > 0)
		snprintf(buf, n, "the statistics and %s", evals);
	else
		snprintf(buf, n, "the statistics");
}

/*
 * The terms announced in the Hello (see proto/wire.proto, PrivacyTerms):
 * the settings, and what the ledger has left for federation fed ("" when
 * the node names none). A ledger that cannot be read leaves the budget at
 * 0; dp_welcome() refuses with the reason.
 */
static void dp_terms(struct fl_fednode *n, const char *fed, Fedlead__Wire__PrivacyTerms *t)
{
	const struct fl_node_privacy *q = &n->pol.privacy;
	char name[FL_LEDGER_MAX_NAME + 1];
	struct dp_plan pl;

	t->mechanism = (char *)FL_DP_MECHANISM;
	t->accountant = (char *)FL_DP_ACCOUNTANT;
	t->epsilon = q->epsilon;
	t->delta = q->delta;
	t->window = q->window;
	t->federation_epsilon = q->federation_epsilon > 0 ? q->federation_epsilon : q->epsilon;
	t->releases = q->releases;
	t->clip = dp_clip(n);
	t->max_colluders = n->pol.max_colluders;
	t->plan = (char *)FL_DP_PLAN;
	t->rho = (double)units_floor(fl_dp_rho_budget(t->federation_epsilon, q->delta)) /
	         FL_LEDGER_UNITS;
	if (dp_open_ledger(n) != 0) {
		fl_err_clear();
		return;
	}
	if (fed[0] == '\0')
		name[0] = '\0'; /* matches no release */
	else if (dp_fed_name(fed, name) != 0)
		return;
	dp_plan(n, name, &pl);
	t->rho_left = pl.spent_window > pl.budget
	                      ? 0.0
	                      : (double)(pl.budget - pl.spent_window) / FL_LEDGER_UNITS;
	t->rho_needed = (double)dp_rest(q, &pl) / FL_LEDGER_UNITS;
	t->releases_done = pl.done;
}

/*
 * The Welcome's budget check: the remaining releases of federation fed at
 * their price under this plan (dp_rest(), not clamped) against both what
 * the federation's own share has left and what the window has left. A
 * federation charged under another split (or out of order) may need more
 * than its share has left; it is refused here, before anything is
 * answered, rather than half-way at the first release that does not fit.
 */
static int dp_welcome_budget(struct fl_fednode *n, const char *fed, const struct dp_plan *pl)
{
	const struct fl_node_privacy *q = &n->pol.privacy;
	uint64_t rest = dp_rest(q, pl), left = dp_left(q, pl);
	uint64_t window = pl->spent_window > pl->budget ? 0 : pl->budget - pl->spent_window;
	char what[96];

	/* A window spent past its budget (a smaller privacy_epsilon since)
	 * pays for nothing, not even a federation with no release left. */
	if (rest <= left && rest <= window && pl->spent_window <= pl->budget)
		return 0;
	dp_rest_text(q, pl, what, sizeof(what));
	if (rest > left && pl->spent_window <= pl->budget)
		return refuse(n, "privacy_budget",
		              "federation \"%.64s\" would spend rho %.6g on its remaining "
		              "releases (%s), but its share has rho %.6g left (%.6g of its rho "
		              "%.6g spent in %llu releases; privacy_federation_epsilon = %g, "
		              "privacy_releases = %llu)",
		              fed, rest / FL_LEDGER_UNITS, what, left / FL_LEDGER_UNITS,
		              pl->spent_fed / FL_LEDGER_UNITS, dp_total(q, pl) / FL_LEDGER_UNITS,
		              (unsigned long long)pl->done, pl->fed_epsilon,
		              (unsigned long long)q->releases);
	return refuse(n, "privacy_budget",
	              "federation \"%.64s\" would spend rho %.6g on its remaining releases "
	              "(%s), but this node's window has rho %.6g of %.6g left (privacy_epsilon "
	              "= %g, privacy_delta = %g, privacy_window = %.0f s, ledger %s)",
	              fed, rest / FL_LEDGER_UNITS, what, window / FL_LEDGER_UNITS,
	              pl->budget / FL_LEDGER_UNITS, q->epsilon, q->delta, q->window, q->ledger);
}

/*
 * The Welcome's count of knots rounds (Plan.privacy_knots_releases),
 * against this node's own bounds rather than as sent (the fourth privacy
 * review's finding 3, and its review's): none for a schema without knots
 * placed from the federation's data; for one with them, 1 to
 * privacy_knots_max (default 1). More than 1 is what a coordinator
 * resumed from a checkpoint without its knots names (it places them again
 * and names the rounds before too); a node that allows it says so in its
 * policy. The count is a cap the node holds across Welcomes: a knots round
 * is answered only while the federation's knots releases in the ledger
 * are fewer than the count named, itself at most privacy_knots_max
 * (dp_release_plan()), so welcoming the node again naming one more after
 * each histogram gets no more than privacy_knots_max of them. Any other
 * count is refused naming the field and both values.
 */
static int dp_welcome_knots(struct fl_fednode *n, const char *fed, const struct dp_plan *pl,
                            uint64_t named)
{
	uint64_t cap = n->pol.privacy.knots_max;
	size_t features = fl_knots_features(n->s);
	char mine[64];

	if (features > 0 ? named >= 1 && named <= cap : named == 0)
		return 0;
	if (features > 0 && named > cap)
		return refuse(
		        n, "privacy_knots_max",
		        "coordinator of federation \"%.64s\" names privacy_knots_releases = "
		        "%llu in its plan, more than this node's privacy_knots_max = %llu (its "
		        "schema places knots from the federation's data; %llu knots releases "
		        "in its ledger for this federation)",
		        fed, (unsigned long long)named, (unsigned long long)cap,
		        (unsigned long long)pl->done_knots);
	if (features > 0 && cap > 1)
		snprintf(mine, sizeof(mine), "1 to %llu", (unsigned long long)cap);
	else
		snprintf(mine, sizeof(mine), "%d", features > 0);
	return refuse(n, "privacy_releases",
	              "coordinator of federation \"%.64s\" names privacy_knots_releases = %llu "
	              "in its plan, this node answers %s (%s; %llu knots releases in its ledger "
	              "for this federation)",
	              fed, (unsigned long long)named, mine,
	              features > 0 ? "its schema places knots from the federation's data"
	                           : "its schema places no knots from the federation's data",
	              (unsigned long long)pl->done_knots);
}

/*
 * At the Welcome: a federation without a fixed plan of releases, or with
 * more than privacy_releases, is refused (it would be stopped half-way, at
 * release privacy_releases + 1), and so is a coordinator that speaks
 * another differential privacy plan (FL_DP_PLAN); the ledger opens (a
 * damaged one stops the node), a count of knots rounds other than this
 * node computes is refused (dp_welcome_knots()), and a federation whose
 * remaining releases its own share or the window cannot pay for is refused
 * before anything is answered (dp_welcome_budget()).
 */
static int dp_welcome(struct fl_fednode *n, const char *fed, int secure, uint64_t planned,
                      const char *plan, uint64_t knots)
{
	const struct fl_node_privacy *q = &n->pol.privacy;
	struct dp_plan pl;
	char name[FL_LEDGER_MAX_NAME + 1];
	int r;

	if (!dp_on(n))
		return 0;
	if (!secure)
		return refuse(n, "privacy_epsilon",
		              "coordinator runs federation \"%.64s\" without secure aggregation; "
		              "this node adds its noise under the masks",
		              fed);
	if (planned == 0)
		return refuse(n, "privacy_releases",
		              "coordinator runs federation \"%.64s\" without a privacy plan (a "
		              "fixed number of evaluations; privacy = on in its [federation] "
		              "section), so it could ask for more than this node's "
		              "privacy_releases = %llu",
		              fed, (unsigned long long)q->releases);
	if (strcmp(plan, FL_DP_PLAN) != 0)
		return refuse(n, "privacy_epsilon",
		              "coordinator of federation \"%.64s\" speaks differential privacy "
		              "plan \"%.64s\", this node \"" FL_DP_PLAN "\" (their statistics and "
		              "noise would not match)",
		              fed, plan);
	if (planned > q->releases)
		return refuse(n, "privacy_releases",
		              "federation \"%.64s\" plans %llu releases, but this node "
		              "splits its budget over privacy_releases = %llu",
		              fed, (unsigned long long)planned, (unsigned long long)q->releases);
	if ((r = dp_open_ledger(n)) != 0) {
		char why[700];

		snprintf(why, sizeof(why), "%s", fl_errmsg());
		return refuse(n, "privacy_ledger", "%s", why);
	}
	if ((r = dp_fed_name(fed, name)) != 0)
		return r;
	dp_plan(n, name, &pl);
	if ((r = dp_welcome_knots(n, fed, &pl, knots)) != 0 ||
	    (r = dp_welcome_budget(n, fed, &pl)) != 0)
		return r;
	fl_log(FL_LOG_NOTICE,
	       "differential privacy: federation %s may spend epsilon %g (delta %g) in %llu "
	       "releases; %llu already made",
	       fed, pl.fed_epsilon, q->delta, (unsigned long long)q->releases,
	       (unsigned long long)pl.done);
	fl_audit_event(n->audit, "privacy_plan", "{s:s, s:f, s:f, s:I, s:I, s:f, s:f}",
	               "federation", fed, "epsilon", pl.fed_epsilon, "delta", q->delta, "releases",
	               (json_int_t)q->releases, "done", (json_int_t)pl.done, "rho",
	               pl.fed / FL_LEDGER_UNITS, "rho_left",
	               (pl.budget - pl.spent_window) / FL_LEDGER_UNITS);
	return 0;
}

/*
 * The privacy settings every partner of a round must share (see the
 * mechanism above), bound into the task hash the key advertisements sign.
 * Nothing is added when differential privacy is off, so the hash of a node
 * without it is the one it always was.
 */
static size_t dp_task_tag(const struct fl_fednode *n, uint8_t out[32])
{
	const struct fl_node_privacy *q = &n->pol.privacy;
	char text[256];
	int k;

	if (!dp_on(n))
		return 0;
	/* max_colluders sets this node's variance (t - max_colluders honest
	 * partners), so partners with different ones never share a round. */
	k = snprintf(text, sizeof(text), FL_DP_PLAN " %.17g %.17g %llu %.17g %u",
	             q->federation_epsilon > 0 ? q->federation_epsilon : q->epsilon, q->delta,
	             (unsigned long long)q->releases, dp_clip(n), n->pol.max_colluders);
	if (EVP_Digest(text, (size_t)k, out, NULL, EVP_sha256(), NULL) != 1)
		return 0;
	return 32;
}

/*
 * Scales every row of ds (standardised) to l2 norm at most R. The map is
 * total: an entry the coordinator's scaler (or a schema's extreme knots)
 * made infinite is first set to R with its sign and a NaN one to 0 (a
 * finite row whose squared norm overflows is scaled to 0), so a row is
 * always finite and no release can be refused because of what one lead
 * holds; finite rows are clipped exactly as before. A refusal that depended on the data would
 * answer, without noise, whether some lead lies beyond a threshold the coordinator chose.
 */
static void dp_clip_rows(struct fl_dataset *ds, double R, double *u)
{
	double G = FL_DP_GRAD_ROW_CLIP * R;

	for (size_t i = 0; ds != NULL && i < ds->n; i++) {
		double *x = ds->X + i * ds->dim, s = 0;

		for (size_t j = 0; j < ds->dim; j++) {
			if (isnan(x[j]))
				x[j] = 0;
			else if (isinf(x[j]))
				x[j] = x[j] > 0 ? R : -R;
			s += x[j] * x[j];
		}
		/* The row clipped at G is u times the row clipped at R (both
		 * scale the same row): u = min(||x||, G) / R above R, else 1. */
		if (u != NULL)
			u[i] = s > R * R && isfinite(s) ? fmin(sqrt(s), G) / R : 1;
		if (s > R * R) {
			double f = R / sqrt(s);

			for (size_t j = 0; j < ds->dim; j++)
				x[j] *= f;
		}
	}
}

/* The training rows clipped to R, with the factors dp_u back to the rows
 * clipped at FL_DP_GRAD_ROW_CLIP R that the gradients of the evaluations
 * without the Hessian use (dp_blocks()). Returns 0 or FL_ERR_NOMEM; the rows are
 * clipped either way (without dp_u the kernel takes every factor as 1,
 * which keeps each row's term within its bound). */
static int dp_clip_train(struct fl_fednode *n)
{
	free(n->dp_u);
	n->dp_u = malloc((n->tr->n + 1) * sizeof(double));
	dp_clip_rows(n->tr, dp_clip(n), n->dp_u);
	return n->dp_u == NULL ? FL_ERR_NOMEM : 0;
}

/*
 * One block of an evaluation's values with its own noise: its l2
 * sensitivity, its share of the release's rho, and the variance and grid
 * calibrated for it.
 */
struct dp_block {
	const char *name;
	size_t off, len;
	double sens, weight, rho, s2;
	int bits;
};

/* Shares of a release's rho by block (normalised over the blocks present).
 * The loss is only reported under the plan, so it gets little; the
 * Hessian, released once per plan, and the gradient released with it get
 * as much (the plan of two evaluations then gives the second gradient half
 * of the evaluations' budget; see bench/README.md, "Differential
 * privacy"). */
#define DP_W_LOSS 0.02
#define DP_W_GRAD 1.0
#define DP_W_HESS 1.0
#define DP_W_VALID 1.0

/*
 * The gradient's sensitivity in the evaluation being answered (plan v7).
 * The node does not know which evaluation of the plan it answers: it goes
 * by what the task asks. In any evaluation whose task asks for the
 * Hessian (the coordinator's flag; its plan asks in the first only) the
 * gradient is summed over the rows clipped to R: |sigmoid(z) - y| <=
 * sigmoid(|z|) for y in {0, 1} and |z| <= ||w|| R, so one lead moves it by
 * at most c R sigmoid(||w|| R). That holds for every w, so it is sound
 * whichever evaluation a coordinator flags and whatever w it sends: the
 * bound comes from the task's w and this node's R and c alone, never from
 * the data. Without the Hessian, each row's term c x (sigmoid(z) - y),
 * over the row clipped at FL_DP_GRAD_ROW_CLIP R, is clipped to
 * FL_DP_GRAD_CLIP R (fl_dp_gradient_clipped()), which bounds it whatever
 * w.
 */
static double dp_grad_sens(const struct fl_fednode *n)
{
	double R = dp_clip(n);

	return n->dp_hess ? fmax(1, n->pos_weight) * R * fl_sigmoid(n->dp_w_norm * R)
	                  : FL_DP_GRAD_CLIP * R;
}

/* The blocks of the evaluation being answered, with their sensitivities
 * (see the mechanism above); returns how many. */
static size_t dp_blocks(const struct fl_fednode *n, size_t nv, struct dp_block b[4])
{
	double R = dp_clip(n), c = fmax(1, n->pos_weight), l = log(2.0) + n->dp_w_norm * R;
	size_t d = n->d, k = 0, off = 1 + d;

	b[k++] = (struct dp_block){"loss", 0, 1, c * l, DP_W_LOSS, 0, 0, 0};
	b[k++] = (struct dp_block){"gradient", 1, d, dp_grad_sens(n), DP_W_GRAD, 0, 0, 0};
	if (n->dp_hess) {
		b[k++] = (struct dp_block){
		        "hessian", off, d * (d + 1) / 2, c * R * R / 4, DP_W_HESS, 0, 0, 0};
		off += d * (d + 1) / 2;
	}
	if (n->dp_valid)
		b[k++] = (struct dp_block){"validation", off, nv - off, sqrt(3 + l * l),
		                           DP_W_VALID,   0,   0,        0};
	return k;
}

/*
 * Calibrates block b to cost rho with `noisy` honest partners: the finest
 * grid (most fraction bits) whose variance the sampler takes. Rounding to
 * the grid adds 1 per value to the sensitivity in grid units (sqrt(len) in
 * l2, len in l1). Returns 0 when no grid works.
 */
static int dp_calibrate(struct dp_block *b, unsigned noisy)
{
	/* l1 <= sqrt(len) l2 for len values. */
	b->bits = fl_dp_grid_calibrate(sqrt((double)b->len) * b->sens, b->sens, b->len, b->rho,
	                               noisy, FL_SECAGG_FRAC_BITS, DP_MAX_VAR, &b->s2);
	return b->bits >= 0;
}

/*
 * The plan of the release a round would make: this federation's name in
 * the ledger and what the ledger says of it; a knots release beyond the
 * Welcome's knots rounds, a release beyond privacy_releases, or one the
 * federation's share cannot pay for is a refusal.
 */
static int dp_release_plan(struct fl_fednode *n, uint64_t round, const char *kind,
                           char name[FL_LEDGER_MAX_NAME + 1], struct dp_plan *pl)
{
	const struct fl_node_privacy *q = &n->pol.privacy;
	int r;

	if ((r = dp_fed_name(n->federation_id, name)) != 0)
		return r;
	dp_plan(n, name, pl);
	/* The Welcome named the knots rounds, at most privacy_knots_max
	 * (dp_welcome_knots()): histograms asked for again would spend the
	 * evaluations' releases on knots. The ledger counts them across
	 * Welcomes and connections. */
	if (strcmp(kind, "knots") == 0 && pl->done_knots >= n->dp_knots_planned)
		return refuse(n, "privacy_releases",
		              "round %llu would be knots release %llu of federation \"%.64s\", "
		              "whose plan names %llu",
		              (unsigned long long)round, (unsigned long long)pl->done_knots + 1,
		              n->federation_id, (unsigned long long)n->dp_knots_planned);
	if (pl->done >= q->releases)
		return refuse(n, "privacy_releases",
		              "round %llu would be release %llu of federation \"%.64s\", and this "
		              "node splits its budget over privacy_releases = %llu",
		              (unsigned long long)round, (unsigned long long)pl->done + 1,
		              n->federation_id, (unsigned long long)q->releases);
	/* Releases cost by kind, so their count alone does not bound the
	 * federation's spending (three evaluations cost more than the
	 * statistics and two): the sum does. */
	if (dp_cost(pl, kind) > dp_left(q, pl))
		return refuse(n, "privacy_budget",
		              "round %llu: %s release of rho %.6g would take federation "
		              "\"%.64s\" past its rho %.6g (%.6g spent in %llu releases)",
		              (unsigned long long)round,
		              strcmp(kind, "stats") == 0   ? "a statistics"
		              : strcmp(kind, "knots") == 0 ? "a histogram"
		                                           : "an evaluation",
		              dp_cost(pl, kind) / FL_LEDGER_UNITS, n->federation_id,
		              dp_total(q, pl) / FL_LEDGER_UNITS, pl->spent_fed / FL_LEDGER_UNITS,
		              (unsigned long long)pl->done);
	return 0;
}

/*
 * Charges one release of this federation's per-release rho (kind
 * "evaluate", "stats" or "knots") to the ledger, on disk before anything of it
 * leaves; one the window cannot pay for, or a ledger that cannot be
 * written, is a refusal.
 */
static int dp_charge(struct fl_fednode *n, const char *name, uint64_t round, const char *kind,
                     const struct dp_plan *pl, int64_t now)
{
	const struct fl_node_privacy *q = &n->pol.privacy;
	struct fl_release rel = {0};
	int r;

	rel.time = now;
	rel.rho_e12 = dp_cost(pl, kind);
	snprintf(rel.federation, sizeof(rel.federation), "%s", name);
	rel.round = round;
	snprintf(rel.kind, sizeof(rel.kind), "%s", kind);
	if ((r = fl_ledger_charge(n->pledger, &rel, pl->budget, now - (int64_t)q->window)) != 0) {
		char why[600];

		snprintf(why, sizeof(why), "%s", fl_errmsg());
		return refuse(
		        n, r == FL_ERR_LIMIT ? "privacy_budget" : "privacy_ledger",
		        "round %llu: %s (privacy_epsilon = %g, privacy_delta = %g, ledger %s)",
		        (unsigned long long)round, why, q->epsilon, q->delta, q->ledger);
	}
	return 0;
}

/*
 * A release decided before any row is read (dp_admit()), made by
 * reply_update() once the rows are summed: its price from the ledger, its
 * honest partners and its noise. Every refusal of a release is taken while
 * deciding it, so a refused task reads no row and its answer comes as fast
 * whatever this partner holds (a refusal after the sums would time them:
 * their cost grows with the row count).
 */
struct dp_admitted {
	int ready;
	Fedlead__Wire__UpdateKind kind;
	uint64_t round;
	char name[FL_LEDGER_MAX_NAME + 1];
	struct dp_plan pl;
	unsigned noisy;
	size_t nb;
	struct dp_block b[4];  /* an evaluation's */
	struct fl_stats_dp sp; /* the statistics' */
	struct fl_knots_dp kp; /* the knots' */
};

/* A lead count beyond what the statistics and knots releases sum exactly
 * (payload.h), refused before anything is read or charged. */
static int dp_rows_cap(struct fl_fednode *n, uint64_t round, const char *what)
{
	if (n->tr_raw->n <= FL_PAYLOAD_DP_MAX_LEADS)
		return 0;
	return refuse(n, "bound",
	              "round %llu: %s release sums at most %zu leads exactly, and this node's "
	              "training part holds %zu; nothing was charged to the privacy ledger",
	              (unsigned long long)round, what, (size_t)FL_PAYLOAD_DP_MAX_LEADS,
	              n->tr_raw->n);
}

/*
 * An evaluation's release: priced, each block calibrated, and each block's
 * largest possible sum (its rows times its sensitivity, which bounds what
 * one row moves any value by) checked against the noise grid's range
 * (fl_dgauss_grid_fits()), from the row count and the bounds alone: a
 * check on the values would answer, without noise and for free, whether
 * some sum is beyond a size the coordinator chose through w.
 */
static int dp_admit_eval(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref, size_t nv,
                         struct dp_admitted *a)
{
	double rho, wsum = 0;
	size_t k;
	int r;

	if ((r = dp_release_plan(n, ref->round, "evaluate", a->name, &a->pl)) != 0)
		return r;
	rho = a->pl.per_eval / FL_LEDGER_UNITS;
	a->nb = dp_blocks(n, nv, a->b);
	for (k = 0; k < a->nb; k++)
		wsum += a->b[k].weight;
	for (k = 0; k < a->nb; k++) {
		struct dp_block *b = &a->b[k];
		size_t rows = strcmp(b->name, "validation") == 0
		                      ? (n->va_raw != NULL ? n->va_raw->n : 0)
		                      : n->tr_raw->n;

		b->rho = rho * b->weight / wsum;
		if (!dp_calibrate(b, a->noisy))
			return refuse(
			        n, "privacy_budget",
			        "round %llu: a release of rho %.6g with sensitivity %.6g (%s) "
			        "needs more noise than this node can add",
			        (unsigned long long)ref->round, b->rho, b->sens, b->name);
		if (!fl_dgauss_grid_fits((double)rows, b->sens, b->bits))
			return refuse(
			        n, "bound",
			        "round %llu: the evaluation's %s block sums %zu rows that "
			        "each move it by up to %.6g, more than a grid of 2^-%d carries "
			        "with exact noise; nothing was charged to the privacy ledger",
			        (unsigned long long)ref->round, b->name, rows, b->sens, b->bits);
	}
	return 0;
}

/* The statistics release (dp_stats_release()): priced and planned from the
 * schema. */
static int dp_admit_stats(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
                          struct dp_admitted *a)
{
	int r;

	if ((r = dp_release_plan(n, ref->round, "stats", a->name, &a->pl)) != 0 ||
	    (r = dp_rows_cap(n, ref->round, "a statistics")) != 0)
		return r;
	if ((r = fl_payload_stats_dp_plan(n->s, a->pl.per_stats / FL_LEDGER_UNITS, a->noisy,
	                                  FL_SECAGG_STATS_FRAC_BITS, DP_MAX_VAR, &a->sp)) != 0) {
		char why[300];

		snprintf(why, sizeof(why), "%s", fl_errmsg());
		return refuse(n, r == FL_ERR_LIMIT ? "privacy_budget" : "privacy_clip",
		              "round %llu: %s", (unsigned long long)ref->round, why);
	}
	return 0;
}

/* The knots release (dp_knots_release()): one of the Welcome's knots
 * rounds, priced as an evaluation and planned from the schema. */
static int dp_admit_knots(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
                          struct dp_admitted *a)
{
	int r;

	if ((r = dp_release_plan(n, ref->round, "knots", a->name, &a->pl)) != 0 ||
	    (r = dp_rows_cap(n, ref->round, "a histogram")) != 0)
		return r;
	if ((r = fl_knots_dp_plan(n->s, dp_cost(&a->pl, "knots") / FL_LEDGER_UNITS, a->noisy,
	                          FL_SECAGG_STATS_FRAC_BITS, DP_MAX_VAR, &a->kp)) != 0) {
		char why[400];

		snprintf(why, sizeof(why), "%s", fl_errmsg());
		return refuse(n, "privacy_budget", "round %llu: %s", (unsigned long long)ref->round,
		              why);
	}
	return 0;
}

/* Decides the release of a task of this kind (nv values) with threshold t,
 * or refuses it; nothing is charged yet. */
static int dp_admit(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
                    Fedlead__Wire__UpdateKind kind, size_t nv, unsigned t)
{
	struct dp_admitted *a = n->adm;
	int r;

	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->round = ref->round;
	a->noisy = t - n->pol.max_colluders; /* >= 1: t > max_colluders */
	switch (kind) {
	case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL: r = dp_admit_eval(n, ref, nv, a); break;
	case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS: r = dp_admit_stats(n, ref, a); break;
	case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_HIST: r = dp_admit_knots(n, ref, a); break;
	default: return 0; /* FedAvg is refused under differential privacy */
	}
	a->ready = r == 0;
	return r;
}

/* The release admitted for this round and kind, taken once. */
static const struct dp_admitted *dp_take(struct fl_fednode *n, uint64_t round,
                                         Fedlead__Wire__UpdateKind kind)
{
	struct dp_admitted *a = n->adm;

	if (!a->ready || a->round != round || a->kind != kind) {
		fl_fail(FL_ERR_INVALID,
		        "round %llu: a release that was not decided before the rows "
		        "were read",
		        (unsigned long long)round);
		return NULL;
	}
	a->ready = 0;
	return a;
}

/*
 * Charges the evaluation release a (dp_admit_eval()) to the ledger and adds
 * this partner's noise to v. Each block (loss, gradient, Hessian,
 * validation) is noised to its own share of the release's rho: zCDP
 * composes by adding rho, so the release costs their sum, and the gradient
 * is not drowned in the noise the Hessian needs.
 */
static int dp_release(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref, double *v,
                      const struct dp_admitted *a)
{
	const struct fl_node_privacy *q = &n->pol.privacy;
	const struct dp_block *b = a->b;
	struct fl_dgauss *g = NULL;
	double rho = a->pl.per_eval / FL_LEDGER_UNITS;
	int64_t now = (int64_t)time(NULL);
	size_t bad, nb = a->nb, k;
	json_t *jb = NULL;
	int r;

	if ((r = dp_charge(n, a->name, ref->round, "evaluate", &a->pl, now)) != 0)
		return r;
	if ((jb = json_array()) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	for (k = 0; k < nb; k++) {
		double scale = ldexp(1, b[k].bits);

		if ((r = fl_dgauss_new((uint64_t)b[k].s2, &g)) != 0)
			goto out;
		/* Out of reach: dp_admit_eval() bounded every sum. */
		if ((r = fl_dgauss_add_grid(g, v + b[k].off, b[k].len, b[k].bits, &bad)) != 0) {
			if (r != FL_ERR_LIMIT)
				goto out;
			r = refuse(
			        n, "bound",
			        "round %llu: update element %zu is %.17g, too large to carry exact "
			        "noise on a grid of 2^-%d",
			        (unsigned long long)ref->round, b[k].off + bad, v[b[k].off + bad],
			        b[k].bits);
			goto out;
		}
		fl_dgauss_free(g);
		g = NULL;
		if (json_array_append_new(jb, json_pack("{s:s, s:I, s:f, s:f, s:f, s:i}", "block",
		                                        b[k].name, "values", (json_int_t)b[k].len,
		                                        "sensitivity", b[k].sens, "rho", b[k].rho,
		                                        "sigma2", b[k].s2 / (scale * scale),
		                                        "grid_bits", b[k].bits)) != 0) {
			r = FL_ERR_NOMEM;
			goto out;
		}
	}
	fl_log(FL_LOG_INFO,
	       "round %llu: noise added to %zu blocks (gradient: variance %.6g, sensitivity "
	       "%.6g; %u honest partners); this federation has spent epsilon %.6g of %g",
	       (unsigned long long)ref->round, nb, b[1].s2 / ldexp(1, 2 * b[1].bits), b[1].sens,
	       a->noisy, fl_dp_epsilon(a->pl.spent_fed / FL_LEDGER_UNITS + rho, q->delta),
	       a->pl.fed_epsilon);
	fl_audit_event(n->audit, "privacy_release",
	               "{s:s, s:I, s:s, s:s, s:f, s:f, s:O, s:I, s:f, s:f}", "federation",
	               n->federation_id, "round", (json_int_t)ref->round, "kind", "evaluate",
	               "mechanism", "distributed discrete Gaussian", "rho", rho, "clip", dp_clip(n),
	               "blocks", jb, "honest_partners", (json_int_t)a->noisy, "epsilon",
	               fl_dp_epsilon(a->pl.spent_fed / FL_LEDGER_UNITS + rho, q->delta), "delta",
	               q->delta);
	r = 0;
out:
	json_decref(jb);
	fl_dgauss_free(g);
	return r;
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
	if ((n->adm = calloc(1, sizeof(*n->adm))) == NULL || fl_secagg_history_new(&n->hist) != 0) {
		free(n->adm);
		free(n);
		return FL_ERR_NOMEM;
	}
	n->s = s;
	n->d = s->dim;
	n->raw = raw;
	n->pos_weight = 1;
	fl_node_policy_default(&n->pol);
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

uint64_t fl_fednode_row_passes(const struct fl_fednode *n)
{
	return n->row_passes;
}

int fl_fednode_hello(struct fl_fednode *n, const char *federation_id, uint8_t **frame, size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Hello h = FEDLEAD__WIRE__HELLO__INIT;
	Fedlead__Wire__PrivacyTerms dp = FEDLEAD__WIRE__PRIVACY_TERMS__INIT;

	h.protocol_version = FL_WIRE_PROTOCOL_VERSION;
	h.software_version = (char *)FL_VERSION;
	h.schema_fingerprint.data = (uint8_t *)n->s->fingerprint;
	h.schema_fingerprint.len = FL_FINGERPRINT_LEN;
	h.federation_id = (char *)(federation_id ? federation_id : "");
	if (dp_on(n)) {
		dp_terms(n, h.federation_id, &dp);
		h.privacy = &dp;
	}
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
	/* The policy before anything else: a refused federation leaves no
	 * trace in this node's state but the audit log. */
	if (n->pol.federation_id != NULL && strcmp(n->pol.federation_id, w->federation_id) != 0)
		return refuse(n, "federation",
		              "coordinator runs federation \"%.64s\", this node "
		              "joins only \"%.64s\"",
		              w->federation_id, n->pol.federation_id);
	if (!p->secure_aggregation && !n->pol.allow_plaintext)
		return refuse(
		        n, "require_secure_aggregation",
		        "coordinator runs federation \"%.64s\" "
		        "without secure aggregation, so this partner's updates would reach it "
		        "in plaintext",
		        w->federation_id);
	if (n->pol.partners != NULL && !in_partner_list(n, w->partner_identity))
		return refuse(n, "partners",
		              "coordinator calls this partner \"%.64s\", who is not "
		              "in this node's partners list",
		              w->partner_identity);
	if ((r = ledger_check(n, w->federation_id)) != 0 ||
	    (r = dp_welcome(n, w->federation_id, p->secure_aggregation, p->privacy_releases,
	                    p->privacy_plan, p->privacy_knots_releases)) != 0)
		return r;
	/* Checked by dp_welcome() when differential privacy is on (the only
	 * case it is used in). */
	n->dp_knots_planned = p->privacy_knots_releases;
	/* A round in progress does not survive a new Welcome. The history of
	 * revealed sums does: it lasts as long as this node (one federation
	 * per fedlead-node process). */
	fl_secagg_node_free(n->sa);
	n->sa = NULL;
	/* A different federation or plan after a reconnect starts afresh. */
	if (n->welcomed && (strcmp(n->federation_id, w->federation_id) != 0 ||
	                    n->valid_split != p->validation_split || n->seed != p->seed)) {
		n->last_round = 0;
		n->bound[0] = n->bound[1] = 0;
	}
	if (n->welcomed && strcmp(n->federation_id, w->federation_id) != 0)
		memset(n->std_hash, 0, sizeof(n->std_hash));
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
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: secure aggregation without credentials "
		               "or with threshold %u",
		               p->threshold);
	if (n->valid_split > 0) {
		if ((r = fl_dataset_split(n->raw, n->valid_split, n->seed, &n->tr_raw,
		                          &n->va_raw)) != 0)
			return r;
	} else
		n->tr_raw = n->raw;
	n->welcomed = 1;
	n->connected = 1;
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
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: %s for federation \"%.64s\", expected "
		               "\"%.64s\"",
		               type, ref->federation_id, n->federation_id);
	if (ref->schema_fingerprint.len != FL_FINGERPRINT_LEN ||
	    memcmp(ref->schema_fingerprint.data, n->s->fingerprint, FL_FINGERPRINT_LEN) != 0)
		return fl_fail(FL_ERR_PROTO, "coordinator: %s with a different schema fingerprint",
		               type);
	if (ref->round < n->last_round)
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: stale %s for round %llu, round %llu was already seen",
		               type, (unsigned long long)ref->round,
		               (unsigned long long)n->last_round);
	if (ref->round > n->pol.max_rounds)
		return refuse(n, "max_rounds",
		              "coordinator sent %s for round %llu, beyond "
		              "max_rounds = %llu",
		              type, (unsigned long long)ref->round,
		              (unsigned long long)n->pol.max_rounds);
	n->last_round = ref->round;
	return 0;
}

/*
 * The fixed-point format of a secure update. The precision is fixed by the
 * protocol for each kind of update, and the bound is the node's, not the
 * coordinator's to choose freely.
 *
 * Why: a value outside the bound cannot be encoded, and the node's reaction
 * (an error instead of a masked input) tells the coordinator whether some
 * value of this partner's vector exceeds the bound. With a bound of its
 * choosing, reconnect after reconnect, that is a binary search over the
 * partner's own sums. So:
 *  - the bound must be fl_fixed_bound(frac_bits, k), the stock
 *    coordinator's rule, for a federation size k: the length of the
 *    partners list when the node has one, anything from 2 to
 *    FL_WIRE_MAX_PARTIES otherwise (the size of the allow-list, which a
 *    node without the list cannot know; min_partners is checked on the
 *    key list, where the sum's participants are named);
 *  - the first bound accepted for each format is pinned for the life of the
 *    node process: a different one later (after a reconnect too) is
 *    refused;
 *  - a value of this partner's outside the pinned bound is a fatal
 *    refusal, not an error Status and a reconnect.
 * The coordinator can then learn at most one bit ("some value exceeds
 * B_k") per federation joined, from a bound it fixed before seeing any
 * answer, and the ledger (max_federations) bounds the number of
 * federations. A node with a partners list leaves no choice at all.
 */
static int check_fixed_point(struct fl_fednode *n, const Fedlead__Wire__SecAggParams *p, int stats,
                             const char *type)
{
	int want = stats ? FL_SECAGG_STATS_FRAC_BITS : FL_SECAGG_FRAC_BITS;
	double *pinned = &n->bound[stats ? 0 : 1];
	size_t lo = n->pol.partners ? n->pol.n_partners : 2,
	       hi = n->pol.partners ? n->pol.n_partners : FL_WIRE_MAX_PARTIES, k;

	if (p->frac_bits != want)
		return refuse(n, "bound",
		              "coordinator sent %s with %d fractional bits, the "
		              "protocol fixes %d",
		              type, p->frac_bits, want);
	if (*pinned != 0) {
		if (p->bound != *pinned)
			return refuse(n, "bound",
			              "coordinator sent %s with the fixed-point bound "
			              "%.17g, but this federation uses %.17g",
			              type, p->bound, *pinned);
		return 0;
	}
	for (k = lo; k <= hi; k++)
		if (p->bound == fl_fixed_bound(want, k))
			break;
	if (k > hi)
		return refuse(n, "bound",
		              "coordinator sent %s with the fixed-point bound %.17g, "
		              "which is not the bound of a federation of %zu to %zu partners",
		              type, p->bound, lo, hi);
	*pinned = p->bound;
	return 0;
}

/* Warnings of a relaxed policy, once per round. */
static void policy_warnings(struct fl_fednode *n, uint64_t round)
{
	if (n->warned_round == round && round != 0)
		return;
	n->warned_round = round;
	if (!n->secure)
		fl_log(FL_LOG_WARN,
		       "round %llu: this partner's update goes to the coordinator in "
		       "plaintext (allow_plaintext_updates = yes): the coordinator sees it alone",
		       (unsigned long long)round);
	if (n->secure && n->pol.min_partners < FL_NODE_MIN_PARTNERS_DEFAULT)
		fl_log(FL_LOG_WARN,
		       "round %llu: min_partners = %zu allows a sum over %zu partners, "
		       "from which each of them can compute the other's update",
		       (unsigned long long)round, n->pol.min_partners, n->pol.min_partners);
	if (n->secure && n->pol.max_colluders < FL_NODE_MAX_COLLUDERS_DEFAULT)
		fl_log(FL_LOG_WARN,
		       "round %llu: max_colluders = %u: one partner colluding with the "
		       "coordinator could obtain this partner's update",
		       (unsigned long long)round, n->pol.max_colluders);
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
 * Everything that may refuse a task's update (of this kind, nv values),
 * decided from the task, the policy and the ledger before a row is read:
 * the participants and threshold of secure aggregation and, under
 * differential privacy, the release (dp_admit()). reply_update() then
 * sends the sums.
 */
static int update_admit(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
                        Fedlead__Wire__UpdateKind kind, size_t nv)
{
	unsigned t;
	int r;

	policy_warnings(n, ref->round);
	n->adm->ready = 0;
	if (!n->secure)
		return 0;
	fl_secagg_node_free(n->sa);
	n->sa = NULL;
	/* Before anything derived from the data leaves: a task for fewer
	 * partners than the policy's minimum is a sub-federation. */
	if (n->task_secagg->n_participants < n->pol.min_partners)
		return refuse(n, "min_partners",
		              "round %llu: the task names %zu participants, fewer than "
		              "min_partners = %zu",
		              (unsigned long long)ref->round, n->task_secagg->n_participants,
		              n->pol.min_partners);
	/* One set per data: a task over other participants than earlier
	 * revealed sums is refused before anything of this round leaves,
	 * unless the task proves (by evidence this node checks itself) that
	 * the partners it leaves out revealed bad shares. */
	{
		char proven[FL_WIRE_MAX_STRING + 1];

		if ((r = fl_secagg_history_check(
		             n->hist, n->task_secagg->participants, n->task_secagg->n_participants,
		             n->pol.allow_participant_change, n->task_secagg->evidence,
		             n->task_secagg->n_evidence, n->store, proven, sizeof(proven))) != 0) {
			char why[700];

			if (r != FL_ERR_AUTH)
				return r;
			snprintf(why, sizeof(why), "%s", fl_errmsg());
			return refuse(n, "allow_participant_change", "round %llu: %s",
			              (unsigned long long)ref->round, why);
		}
		if (proven[0] != '\0') {
			/* The smaller set is the one held from now on, in the
			 * ledger too (at the next reveal). */
			fl_log(FL_LOG_WARN,
			       "round %llu: this node checked the evidence that %s "
			       "revealed "
			       "a share other than the one dealt to it; it accepts the "
			       "participants without %s, and the set {%s}",
			       (unsigned long long)ref->round, proven, proven,
			       fl_secagg_history_set(n->hist));
			fl_audit_event(n->audit, "evidence_accepted", "{s:s, s:I, s:s, s:s}",
			               "partners", proven, "round", (json_int_t)ref->round, "set",
			               fl_secagg_history_set(n->hist), "federation",
			               n->federation_id);
			n->set_recorded[0] = '\0';
		}
	}
	/* The threshold in force is the task's, which every partner's
	 * task hash covers; the plan's is not, so it is no fallback. */
	if ((t = n->task_secagg->threshold) == 0)
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: round %llu: the task carries no "
		               "secure-aggregation threshold",
		               (unsigned long long)ref->round);
	if (!fl_node_threshold_safe(t, n->task_secagg->n_participants, n->pol.max_colluders))
		return refuse(n, "max_colluders",
		              "round %llu: threshold %u of %zu participants would let the "
		              "coordinator and %u colluding partner%s unmask one partner's "
		              "update (it needs threshold > max_colluders and 2 x threshold > "
		              "participants + max_colluders)",
		              (unsigned long long)ref->round, t, n->task_secagg->n_participants,
		              n->pol.max_colluders, n->pol.max_colluders == 1 ? "" : "s");
	return dp_on(n) ? dp_admit(n, ref, kind, nv, t) : 0;
}

/*
 * Sends the update (admitted by update_admit()): in the clear (inside TLS)
 * in a plain federation, or as the first step of secure aggregation, which
 * keeps the vector and answers with a key advertisement. Under
 * differential privacy the release is charged and noised first.
 */
static int reply_update(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
                        Fedlead__Wire__UpdateKind kind, double *values, size_t nv, uint8_t **frame,
                        size_t *len)
{
	if (n->secure) {
		/* The threshold update_admit() checked. */
		unsigned t = n->task_secagg->threshold;
		int r = 0;

		if (dp_on(n) && kind != FEDLEAD__WIRE__UPDATE_KIND__UPDATE_FEDAVG) {
			const struct dp_admitted *a = dp_take(n, ref->round, kind);

			if (a == NULL)
				return FL_ERR_INVALID;
			if (kind == FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL)
				r = dp_release(n, ref, values, a);
			else if (kind == FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS)
				r = dp_stats_release(n, ref, values, a);
			else
				r = dp_knots_release(n, ref, values, a);
			if (r != 0)
				return r;
		}
		r = fl_secagg_node_start(n->federation_id, ref, n->task_secagg, t, n->identity,
		                         n->key, n->task_hash,
		                         &(struct fl_secagg_policy){(unsigned)n->pol.min_partners,
		                                                    n->pol.allow_participant_change,
		                                                    n->pol.max_colluders},
		                         n->hist, kind, values, nv, &n->sa, frame, len);
		/* Fatal, not a reconnect: see check_fixed_point(). */
		if (r == FL_ERR_LIMIT) {
			char why[512];

			snprintf(why, sizeof(why), "%s", fl_errmsg());
			return refuse(n, "bound", "round %llu: %s", (unsigned long long)ref->round,
			              why);
		}
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

/*
 * The statistics round as a release under differential privacy: the
 * packed sums v (of rows clipped by the schema at encoding) are charged to
 * the ledger and noised per fl_payload_stats_dp_plan() as admitted
 * (dp_admit_stats()), calibrated like an evaluation (the noise of t -
 * max_colluders partners meets this release's share of the federation's
 * rho).
 */
static int dp_stats_release(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref, double *v,
                            const struct dp_admitted *a)
{
	const struct fl_node_privacy *q = &n->pol.privacy;
	const struct fl_stats_dp sp = a->sp;
	const struct dp_plan pl = a->pl;
	unsigned noisy = a->noisy;
	int64_t now = (int64_t)time(NULL);
	double rho = pl.per_stats / FL_LEDGER_UNITS, scale;
	int r;

	if ((r = dp_charge(n, a->name, ref->round, "stats", &pl, now)) != 0)
		return r;
	if ((r = fl_payload_stats_dp_noise(n->s, &sp, v)) != 0) {
		char why[300];

		if (r != FL_ERR_LIMIT)
			return r;
		snprintf(why, sizeof(why), "%s", fl_errmsg());
		return refuse(n, "bound", "round %llu: %s", (unsigned long long)ref->round, why);
	}
	scale = ldexp(1, sp.grid_bits);
	fl_log(FL_LOG_INFO,
	       "round %llu: statistics noised with variance %.6g per scaled entry (sensitivity "
	       "%.6g over %zu entries, %u honest partners); this federation has spent epsilon "
	       "%.6g of %g",
	       (unsigned long long)ref->round, sp.sigma2 / (scale * scale), sp.l2, sp.n_noised,
	       noisy, fl_dp_epsilon(pl.spent_fed / FL_LEDGER_UNITS + rho, q->delta),
	       pl.fed_epsilon);
	fl_audit_event(
	        n->audit, "privacy_release",
	        "{s:s, s:I, s:s, s:s, s:f, s:f, s:f, s:f, s:i, s:I, s:I, s:f, s:f}", "federation",
	        n->federation_id, "round", (json_int_t)ref->round, "kind", "stats", "mechanism",
	        "distributed discrete Gaussian", "rho", rho, "sigma2", sp.sigma2 / (scale * scale),
	        "sensitivity", sp.l2, "sensitivity_l1", sp.l1, "grid_bits", sp.grid_bits, "entries",
	        (json_int_t)sp.n_noised, "honest_partners", (json_int_t)noisy, "epsilon",
	        fl_dp_epsilon(pl.spent_fed / FL_LEDGER_UNITS + rho, q->delta), "delta", q->delta);
	return 0;
}

static int node_knots_apply(struct fl_fednode *n, const Fedlead__Wire__StatsTask *t);

/*
 * The statistics round, and the knots a statistics task carries (checked
 * by node_knots_take() before): the rows are encoded with them once the
 * release is admitted, never for a task that is refused.
 */
static int do_stats(struct fl_fednode *n, const Fedlead__Wire__StatsTask *t, uint8_t **frame,
                    size_t *len)
{
	const Fedlead__Wire__RoundRef *ref = t->ref;
	size_t nv = fl_payload_stats_len(n->d);
	struct fl_stats *st = NULL;
	const struct fl_feature *f;
	double *v = NULL;
	int r;

	/* Before anything is computed: under differential privacy the sums
	 * are bounded by the schema's clip ranges, so each numeric feature
	 * needs one (agreed in the contract, never derived from data here). */
	if (dp_on(n) && (f = fl_payload_stats_unclipped(n->s)) != NULL) {
		char fp[65];

		fl_schema_fingerprint_hex(n->s, fp);
		return refuse(
		        n, "privacy_clip",
		        "round %llu: the statistics round would release the sums of feature "
		        "\"%.64s\", which has no clip range in the schema (fingerprint "
		        "%.16s...); differential privacy bounds each lead's part by \"clip\": "
		        "[low, high] on every numeric feature",
		        (unsigned long long)ref->round, f->name, fp);
	}
	if ((r = update_admit(n, ref, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS, nv)) != 0 ||
	    (r = node_knots_apply(n, t)) != 0)
		return r;
	if ((v = malloc(nv * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	n->row_passes++;
	if (dp_on(n)) {
		/* Centred lead by lead, before anything is charged. */
		if ((r = fl_payload_stats_dp_pack(n->s, n->tr_raw->X, n->tr_raw->y, n->tr_raw->n,
		                                  v)) != 0) {
			char why[400];

			if (r == FL_ERR_NOMEM)
				goto out;
			snprintf(why, sizeof(why), "%s", fl_errmsg());
			r = refuse(n, "privacy_clip", "round %llu: %s",
			           (unsigned long long)ref->round, why);
			goto out;
		}
	} else {
		if ((r = fl_stats_new(n->d, &st)) != 0)
			goto out;
		for (size_t i = 0; i < n->tr_raw->n; i++)
			fl_stats_add(st, n->tr_raw->X + i * n->d, n->tr_raw->y[i]);
		fl_payload_stats_pack(st, v);
	}
	r = reply_update(n, ref, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS, v, nv, frame, len);
out:
	if (v != NULL)
		OPENSSL_cleanse(v, nv * sizeof(double));
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

static int check_standardize_sizes(struct fl_fednode *n, const Fedlead__Wire__Standardize *m)
{
	if (m->n_center != n->d || m->n_scale != n->d || m->n_impute != n->d ||
	    m->n_baseline != n->d)
		return refuse(n, "vector_size",
		              "coordinator sent standardize for %zu columns, the "
		              "schema has %zu",
		              m->n_center != n->d   ? m->n_center
		              : m->n_scale != n->d  ? m->n_scale
		              : m->n_impute != n->d ? m->n_impute
		                                    : m->n_baseline,
		              n->d);
	return 0;
}

/*
 * 1 with a sentence in why when the coordinator's standardisation of some
 * column is not usable: a centre or imputed value that is not finite, or a
 * scale that is not a positive number with a finite inverse (a subnormal
 * scale turns every value but the centre into an infinity, which the row
 * clip of differential privacy would make NaN only after a release was
 * charged).
 */
static int standardize_invalid(const struct fl_fednode *n, const Fedlead__Wire__Standardize *m,
                               char *why, size_t whylen)
{
	for (size_t j = 0; j < n->d; j++) {
		const char *what = NULL;
		double v = 0;
		char col[128];

		if (!(m->scale[j] > 0) || !isfinite(m->scale[j]) || !isfinite(1.0 / m->scale[j]))
			what = "scale", v = m->scale[j];
		else if (!isfinite(m->center[j]))
			what = "centre", v = m->center[j];
		else if (!isfinite(m->impute[j]))
			what = "imputed value", v = m->impute[j];
		if (what == NULL)
			continue;
		fl_schema_column_name(n->s, j, col, sizeof(col));
		snprintf(why, whylen, "invalid standardisation of column %zu (%s): %s %.17g%s", j,
		         col, what, v,
		         strcmp(what, "scale") == 0
		                 ? " is not a positive number with a finite inverse"
		                 : " is not finite");
		return 1;
	}
	return 0;
}

/*
 * Returns 0, or FL_ERR_PROTO with a sentence for an error Status in why:
 * every field of the standardisation checked, from the message alone. It
 * runs before its knots encode any row (place: node_knots_standardize()
 * said they will), so a message refused here costs no row work, whatever
 * its knots (the fourth privacy review's finding 2: a refusal after the
 * rows were encoded again took longer, a timing signal).
 */
static int standardize_check(const struct fl_fednode *n, const Fedlead__Wire__Standardize *m,
                             int place, char *why, size_t whylen)
{
	if (m->n_center != n->d || m->n_scale != n->d || m->n_impute != n->d ||
	    m->n_baseline != n->d) {
		snprintf(why, whylen, "standardisation for %zu columns, but the schema has %zu",
		         m->n_center, n->d);
		return FL_ERR_PROTO;
	}
	if (standardize_invalid(n, m, why, whylen))
		return FL_ERR_PROTO;
	/* Decided on the message order alone, never on the rows: knots the
	 * message carries are placed after this check, ending the wait. */
	if (n->knots_pending != 0 && !place) {
		snprintf(why, whylen,
		         "standardisation before the knots of the histograms of round %llu were "
		         "applied: a statistics task carrying them must come first",
		         (unsigned long long)n->knots_pending);
		return FL_ERR_PROTO;
	}
	if (!(m->pos_weight > 0) || !isfinite(m->pos_weight)) {
		snprintf(why, whylen, "invalid class weight %g", m->pos_weight);
		return FL_ERR_PROTO;
	}
	return 0;
}

/* The rows standardised as m says (checked by standardize_check()).
 * Returns 0, or a sentence for an error Status in why. */
static int do_standardize(struct fl_fednode *n, const Fedlead__Wire__Standardize *m, char *why,
                          size_t whylen)
{
	struct fl_scaler *sc = NULL;
	int r = FL_ERR_NOMEM;

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
	n->row_passes++;
	if ((n->tr = copy_dataset(n->tr_raw)) == NULL ||
	    (n->va_raw != NULL && (n->va = copy_dataset(n->va_raw)) == NULL))
		goto out;
	fl_dataset_standardize(n->tr, sc);
	if (n->va != NULL)
		fl_dataset_standardize(n->va, sc);
	n->pos_weight = m->pos_weight;
	if (dp_on(n)) {
		if (dp_clip_train(n) != 0)
			goto out;
		dp_clip_rows(n->va, dp_clip(n), NULL);
	}
	if (m->pos_weight != 1.0) {
		if ((n->c = malloc((n->tr->n + 1) * sizeof(double))) == NULL)
			goto out;
		for (size_t i = 0; i < n->tr->n; i++)
			n->c[i] = n->tr->y[i] > 0.5 ? m->pos_weight : 1.0;
	}
	r = 0;
out:
	if (r != 0) {
		/* Nothing half-prepared stays behind: rows copied but not
		 * standardised, or not clipped to R under differential privacy,
		 * would be summed by the next evaluation with noise for rows
		 * clipped to R. Without rows, evaluations are answered "before
		 * standardisation". */
		fl_dataset_free(n->tr);
		fl_dataset_free(n->va);
		free(n->c);
		free(n->dp_u);
		n->tr = n->va = NULL;
		n->c = NULL;
		n->dp_u = NULL;
	}
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
	int r;

	/* The release's sensitivities come from the task (dp_blocks()). */
	n->dp_w_norm = 0;
	for (size_t j = 0; j < d; j++)
		n->dp_w_norm += t->w[j] * t->w[j];
	n->dp_w_norm = sqrt(n->dp_w_norm);
	n->dp_hess = t->need_hessian;
	n->dp_valid = t->need_validation;
	if ((r = update_admit(n, t->ref, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, nv)) != 0)
		return r;
	r = FL_ERR_NOMEM;
	if ((v = malloc(nv * sizeof(double))) == NULL ||
	    (t->need_hessian && (H = malloc(d * d * sizeof(double))) == NULL))
		goto out;
	n->row_passes++;
	/* Under differential privacy, an evaluation whose task does not ask
	 * for the Hessian clips each row's term (dp_grad_sens()). */
	if (dp_on(n) && !n->dp_hess)
		fl_dp_gradient_clipped(n->tr->X, n->tr->n, d, n->tr->y, n->c, n->dp_u, t->w,
		                       FL_DP_GRAD_CLIP * dp_clip(n), &v[0], v + 1);
	else
		fl_linalg_logistic(n->tr->X, n->tr->n, d, n->tr->y, n->c, t->w, &v[0], v + 1, H);
	if (H != NULL)
		fl_payload_hess_pack(H, d, v + 1 + d);
	if (t->need_validation)
		pack_valid(n, t->w, v + 1 + d + (H ? d * (d + 1) / 2 : 0));
	r = reply_update(n, t->ref, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, v, nv, frame, len);
out:
	/* Sums over this partner's rows: wiped once encoded (or masked). */
	if (v != NULL)
		OPENSSL_cleanse(v, nv * sizeof(double));
	if (H != NULL)
		OPENSSL_cleanse(H, d * d * sizeof(double));
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
	int r;

	if ((r = update_admit(n, t->ref, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_FEDAVG, nv)) != 0)
		return r;
	r = FL_ERR_NOMEM;
	if ((v = malloc(nv * sizeof(double))) == NULL || (w = malloc(d * sizeof(double))) == NULL ||
	    (g = malloc(d * sizeof(double))) == NULL)
		goto out;
	n->row_passes++;
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
	if (v != NULL)
		OPENSSL_cleanse(v, nv * sizeof(double));
	if (w != NULL)
		OPENSSL_cleanse(w, d * sizeof(double));
	if (g != NULL)
		OPENSSL_cleanse(g, d * sizeof(double));
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
	if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST) {
		const Fedlead__Wire__KeyList *kl = env->key_list;

		/* A sum over fewer partners, or over a set the consortium does
		 * not know, is refused before this partner shares anything. */
		if (kl->n_entries < n->pol.min_partners)
			return refuse(n, "min_partners",
			              "round %llu: the key list names %zu "
			              "partners, fewer than min_partners = %zu",
			              (unsigned long long)kl->ref->round, kl->n_entries,
			              n->pol.min_partners);
		for (size_t i = 0; n->pol.partners != NULL && i < kl->n_entries; i++)
			if (!in_partner_list(n, kl->entries[i]->identity))
				return refuse(n, "partners",
				              "round %llu: the key list names "
				              "\"%.64s\", who is not in this node's partners list",
				              (unsigned long long)kl->ref->round,
				              kl->entries[i]->identity);
		r = fl_secagg_node_keys(n->sa, kl, n->store, frame, len);
	} else if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET) {
		r = fl_secagg_node_shares(n->sa, env->share_set, frame, len);
		if (r == 0 && fl_secagg_node_accused(n->sa) != NULL) {
			const char *d = fl_secagg_node_accused(n->sa);

			/* This partner's own check, not the coordinator's word: a
			 * share sealed with the key only d and this partner hold. */
			fl_log(FL_LOG_WARN,
			       "round %llu: partner %s dealt this partner a share that %s; this "
			       "partner sends nothing of its data in this attempt and accuses %s, "
			       "with the evidence",
			       (unsigned long long)env->share_set->ref->round, d,
			       fl_secagg_node_accused_why(n->sa), d);
			fl_audit_event(n->audit, "accuse", "{s:s, s:I, s:s}", "partner", d, "round",
			               (json_int_t)env->share_set->ref->round, "federation",
			               n->federation_id);
		}
	} else if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK) {
		r = refuse_step(
		        n, fl_secagg_node_consistency(n->sa, env->consistency_check, frame, len));
	} else {
		/* The sum is over the survivors: a smaller set is a sub-federation. */
		if (env->unmask_request->n_survivors < n->pol.min_partners)
			return refuse(n, "min_partners",
			              "round %llu: the unmask request names "
			              "%zu survivors, fewer than min_partners = %zu",
			              (unsigned long long)env->unmask_request->ref->round,
			              env->unmask_request->n_survivors, n->pol.min_partners);
		r = refuse_step(n, fl_secagg_node_unmask(n->sa, env->unmask_request, frame, len));
		if (r == 0 && (r = ledger_record_set(n)) != 0) {
			free(*frame);
			*frame = NULL;
			*len = 0;
		}
	}
	return r == 0 ? FL_FEDNODE_REPLY : r;
}

/* ---- knots from the federation's data (knots.h) ---- */

/* The training and validation parts again, from raw as it is now. */
static int node_knots_resplit(struct fl_fednode *n)
{
	drop_split(n);
	if (n->valid_split > 0)
		return fl_dataset_split(n->raw, n->valid_split, n->seed, &n->tr_raw, &n->va_raw);
	n->tr_raw = n->raw;
	return 0;
}

/* The rows as loaded, before any knots: kept from the first time on. */
static int node_knots_rows(struct fl_fednode *n)
{
	free(n->placed);
	n->placed = NULL;
	n->n_placed = 0;
	n->row_passes++;
	if (n->knots != NULL) {
		fl_knots_rows_reset(n->knots, n->raw);
		return node_knots_resplit(n);
	}
	return fl_knots_rows_new(n->s, n->raw, &n->knots);
}

/*
 * The knots round: the fine histograms of this partner's training values of
 * each feature with knots from data (counts of leads per bin, a sum over
 * rows like the statistics).
 */
static int node_knots_hist(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
                           uint8_t **frame, size_t *len)
{
	size_t nv = fl_knots_hist_len(n->s);
	const struct fl_feature *u;
	double *v;
	int r;

	if (nv == 0)
		return refuse(n, "knots",
		              "round %llu: the coordinator asks for the histograms that place "
		              "knots, but no feature of this node's schema has its knots placed "
		              "from data",
		              (unsigned long long)ref->round);
	if ((u = fl_knots_unclipped(n->s)) != NULL)
		return refuse(n, "knots",
		              "round %llu: feature \"%s\": knots from the federation's data need a "
		              "clip range in the schema (the fine bins span it)",
		              (unsigned long long)ref->round, u->name);
	/* Under differential privacy: bounded by the clip ranges (one lead in
	 * one bin per feature), admitted before the rows are put back to
	 * their raw values, noised and charged in reply_update()
	 * (dp_knots_release()). */
	if ((r = update_admit(n, ref, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_HIST, nv)) != 0 ||
	    (r = node_knots_rows(n)) != 0)
		return r;
	n->knots_pending = ref->round;
	if ((v = malloc(nv * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	n->row_passes++;
	if ((r = fl_knots_hist_pack(n->s, n->tr_raw->X, n->tr_raw->n, n->d, v)) != 0) {
		char why[400];

		snprintf(why, sizeof(why), "%s", fl_errmsg());
		r = refuse(n, "knots", "round %llu: %s", (unsigned long long)ref->round, why);
	} else
		r = reply_update(n, ref, FEDLEAD__WIRE__UPDATE_KIND__UPDATE_HIST, v, nv, frame,
		                 len);
	OPENSSL_cleanse(v, nv * sizeof(double));
	free(v);
	return r;
}

/*
 * The knots round under differential privacy: one release of kind "knots",
 * priced as an evaluation (dp_cost()) and counted among privacy_releases,
 * at most as many as the Welcome named; its plan is this node's own (the
 * sensitivity comes from its schema, the price from its ledger), decided
 * before the rows are read (dp_admit_knots()) and charged before the
 * noised histogram leaves.
 */
static int dp_knots_release(struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref, double *v,
                            const struct dp_admitted *a)
{
	const struct fl_node_privacy *q = &n->pol.privacy;
	const struct fl_knots_dp kp = a->kp;
	const struct dp_plan pl = a->pl;
	unsigned noisy = a->noisy;
	int64_t now = (int64_t)time(NULL);
	double rho = dp_cost(&pl, "knots") / FL_LEDGER_UNITS;
	int r;

	if ((r = dp_charge(n, a->name, ref->round, "knots", &pl, now)) != 0)
		return r;
	if ((r = fl_knots_dp_noise(&kp, v)) != 0)
		return r;
	fl_log(FL_LOG_INFO,
	       "round %llu: noise added to the knots' histograms (%zu counts, variance %.6g, "
	       "sensitivity %.6g; %u honest partners); this federation has spent epsilon %.6g "
	       "of %g",
	       (unsigned long long)ref->round, kp.len, kp.sigma2 / ldexp(1, 2 * kp.grid_bits),
	       kp.l2, noisy, fl_dp_epsilon(pl.spent_fed / FL_LEDGER_UNITS + rho, q->delta),
	       pl.fed_epsilon);
	fl_audit_event(n->audit, "privacy_release", "{s:s, s:I, s:s, s:s, s:f, s:f, s:f, s:i, s:I}",
	               "federation", n->federation_id, "round", (json_int_t)ref->round, "kind",
	               "knots", "mechanism", "distributed discrete Gaussian", "rho", rho,
	               "sensitivity", kp.l2, "sigma2", kp.sigma2 / ldexp(1, 2 * kp.grid_bits),
	               "grid_bits", kp.grid_bits, "honest_partners", (json_int_t)noisy);
	return 0;
}

/*
 * Knots the coordinator sends (in a task of round `round`, `what`): checked
 * against the schema (never taken on the coordinator's word), from the
 * message alone.
 */
static int node_knots_check(struct fl_fednode *n, uint64_t round, const char *what,
                            const double *knots, size_t nk)
{
	size_t need = fl_knots_values_len(n->s);
	char why[600];

	if (need == 0 || nk == 0)
		return refuse(n, "knots",
		              "round %llu: the %s carries %zu knot values, the schema's features "
		              "with knots from data need %zu",
		              (unsigned long long)round, what, nk, need);
	if (fl_knots_check(n->s, knots, nk) != 0) {
		snprintf(why, sizeof(why), "%s", fl_errmsg());
		return refuse(n, "knots", "round %llu: %s", (unsigned long long)round, why);
	}
	return 0;
}

/* Places checked knots and encodes this partner's rows with them. */
static int node_knots_place(struct fl_fednode *n, uint64_t round, const double *knots, size_t nk)
{
	int r;

	if ((r = node_knots_rows(n)) != 0 ||
	    (r = fl_knots_rows_apply(n->knots, n->raw, knots, nk)) != 0 ||
	    (r = node_knots_resplit(n)) != 0)
		return r;
	if ((n->placed = malloc(nk * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	memcpy(n->placed, knots, nk * sizeof(double));
	n->n_placed = nk;
	n->knots_pending = 0;
	fl_log(FL_LOG_INFO,
	       "round %llu: rows encoded with the %zu knots placed from the "
	       "federation's data",
	       (unsigned long long)round, nk);
	return 0;
}

/* The knots a statistics task carries, checked when it arrives. */
static int node_knots_take(struct fl_fednode *n, const Fedlead__Wire__StatsTask *t)
{
	if (fl_knots_values_len(n->s) == 0 && t->n_knots == 0)
		return 0;
	return node_knots_check(n, t->ref->round, "statistics task", t->knots, t->n_knots);
}

/* ... and placed before the statistics are taken (do_stats(), once the
 * release is admitted: never for a task that is refused). */
static int node_knots_apply(struct fl_fednode *n, const Fedlead__Wire__StatsTask *t)
{
	if (t->n_knots == 0)
		return 0;
	return node_knots_place(n, t->ref->round, t->knots, t->n_knots);
}

/*
 * The knots a standardisation carries (protocol 7): the rows of a partner
 * that comes back to a resumed federation (its rows as loaded) are encoded
 * with them before they are standardised; rows already encoded with the
 * same knots are left as they are. A standardisation without knots for
 * rows that hold none is refused, decided on the message order alone: it
 * would train on the values as loaded. Checked here from the message
 * alone; *place says whether the rows are to be encoded with them, which
 * node_knots_place() does once the whole message has passed
 * standardize_check().
 */
static int node_knots_standardize(struct fl_fednode *n, const Fedlead__Wire__Standardize *m,
                                  int *place)
{
	size_t need = fl_knots_values_len(n->s);
	int r;

	*place = 0;
	if (m->n_knots == 0) {
		if (need > 0 && n->n_placed == 0 && n->knots_pending == 0)
			return refuse(n, "knots",
			              "round %llu: the standardisation carries no knots, and this "
			              "node's rows hold none of the %zu knots placed from the "
			              "federation's data",
			              (unsigned long long)m->ref->round, need);
		return 0; /* a pending histogram is standardize_check()'s refusal */
	}
	if (n->knots_pending == 0 && n->n_placed == m->n_knots &&
	    memcmp(n->placed, m->knots, m->n_knots * sizeof(double)) == 0)
		return 0;
	if ((r = node_knots_check(n, m->ref->round, "standardisation", m->knots, m->n_knots)) != 0)
		return r;
	*place = 1;
	return 0;
}

int fl_fednode_handle(struct fl_fednode *n, const Fedlead__Wire__Envelope *env, uint8_t **frame,
                      size_t *len)
{
	const Fedlead__Wire__RoundRef *ref = fl_wire_ref(env);
	const char *type = fl_wire_type_name(env);
	char why[512];
	int r, place;

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
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST: break;
	default: return fl_fail(FL_ERR_PROTO, "coordinator: unexpected %s message", type);
	}
	if ((r = check_task_ref(n, ref, type)) != 0)
		return r;
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST:
	case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK:
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST: return secure_step(n, env, frame, len);
	default: break;
	}
	/* The task as received, bound to the plan and standardisation: every
	 * partner that was told the same computes the same hash. */
	{
		uint8_t pre[96];
		size_t extra;

		memcpy(pre, n->plan_hash, 32);
		memcpy(pre + 32, n->std_hash, 32);
		extra = dp_task_tag(n, pre + 64);
		if ((r = fl_wire_message_hash("fedlead-task-v1", pre, 64 + extra, &env->base,
		                              n->task_hash)) != 0)
			return r;
	}
	/* A secure federation never falls back to plain updates, whatever a
	 * task says: that would hand the coordinator this partner's vector. */
	n->task_secagg = task_secagg(env);
	if (n->secure && n->task_secagg == NULL &&
	    env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE &&
	    env->body_case != FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL)
		return refuse(n, "require_secure_aggregation",
		              "coordinator sent %s without "
		              "secure aggregation in a secure federation",
		              type);
	if (!n->secure && n->task_secagg != NULL)
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: %s with secure aggregation, which the plan "
		               "did not announce",
		               type);
	if (n->task_secagg != NULL &&
	    (r = check_fixed_point(n, n->task_secagg,
	                           env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK,
	                           type)) != 0)
		return r;
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK:
		if (env->stats_task->histograms)
			return node_knots_hist(n, ref, frame, len);
		if ((r = node_knots_take(n, env->stats_task)) != 0)
			return r;
		return do_stats(n, env->stats_task, frame, len);
	case FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE:
		/* The whole message is checked before its knots encode any
		 * row (standardize_check()). */
		if ((r = check_standardize_sizes(n, env->standardize)) != 0 ||
		    (r = node_knots_standardize(n, env->standardize, &place)) != 0)
			return r;
		if (standardize_check(n, env->standardize, place, why, sizeof(why)) == 0) {
			if (place && (r = node_knots_place(n, ref->round, env->standardize->knots,
			                                   env->standardize->n_knots)) != 0)
				return r;
			if (do_standardize(n, env->standardize, why, sizeof(why)) == 0) {
				/* Later tasks' hashes cover the standardisation they use;
				 * not its round, which differs for a partner that rejoined. */
				Fedlead__Wire__Standardize same = *env->standardize;

				same.ref = NULL;
				if ((r = fl_wire_message_hash("fedlead-standardize-v1",
				                              (const uint8_t *)"", 0, &same.base,
				                              n->std_hash)) != 0)
					return r;
				return FL_FEDNODE_NONE;
			}
		}
		r = fl_fednode_status(n, ref, FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR, why, frame,
		                      len);
		return r == 0 ? FL_FEDNODE_REPLY : r;
	case FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL: return FL_FEDNODE_FINAL;
	default: break;
	}
	/* Training tasks need standardised rows and weights of the right size. */
	{
		size_t nw = env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK
		                    ? env->eval_task->n_w
		                    : env->local_train->n_w;

		/* Sizes are the schema's: anything else is not a task a stock
		 * coordinator of this schema sends. */
		if (nw != n->d)
			return refuse(n, "vector_size",
			              "coordinator sent %s with %zu weights, the "
			              "schema has %zu",
			              type, nw, n->d);
		if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN &&
		    env->local_train->epochs > n->pol.max_local_epochs)
			return refuse(n, "max_local_epochs",
			              "coordinator sent local_train with %u "
			              "epochs, more than max_local_epochs = %u",
			              env->local_train->epochs, n->pol.max_local_epochs);
		if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN && dp_on(n))
			return refuse(n, "privacy_epsilon",
			              "coordinator sent local_train: this node bounds the "
			              "sensitivity of newton and lbfgs evaluations only, not of "
			              "FedAvg's local training");
		if (n->tr == NULL)
			snprintf(why, sizeof(why), "%s before standardisation", type);
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

/*
 * The model's privacy record against this node's own settings: a partner
 * never takes the coordinator's word for its own privacy. An error names
 * the field that differs.
 */
static int dp_check_model(const struct fl_fednode *n, const struct fl_model *m)
{
	const struct fl_node_privacy *q = &n->pol.privacy;
	const struct fl_dp_record *rec;
	const struct fl_dp_partner *e = NULL;
	char mine[64], theirs[64];
	const char *field = NULL;
	double fed_eps = q->federation_epsilon > 0 ? q->federation_epsilon : q->epsilon;
	int r;

	rec = m->prov.privacy;
	for (size_t i = 0; rec != NULL && i < rec->n_partners; i++)
		if (rec->partners[i].partner != NULL &&
		    strcmp(rec->partners[i].partner, n->identity) == 0)
			e = &rec->partners[i];
	if (e == NULL) {
		r = dp_on(n) ? fl_fail(FL_ERR_AUTH,
		                       "privacy provenance: the model records no differential "
		                       "privacy for this partner (%s), but this node added noise "
		                       "for epsilon %g (privacy_epsilon)",
		                       n->identity, fed_eps)
		             : 0;
		goto out;
	}
	if (!dp_on(n)) {
		r = fl_fail(FL_ERR_AUTH,
		            "privacy provenance: the model records epsilon = %g for this partner "
		            "(%s), but this node adds no noise (privacy_epsilon = 0)",
		            e->epsilon, n->identity);
		goto out;
	}
#define DP_DIFF(name, fmt, a, b)                                                                   \
	if (field == NULL && (a) != (b)) {                                                         \
		field = name;                                                                      \
		snprintf(theirs, sizeof(theirs), fmt, a);                                          \
		snprintf(mine, sizeof(mine), fmt, b);                                              \
	}
	if (rec->mechanism == NULL || strcmp(rec->mechanism, FL_DP_MECHANISM) != 0) {
		field = "mechanism";
		snprintf(theirs, sizeof(theirs), "\"%.40s\"", rec->mechanism ? rec->mechanism : "");
		snprintf(mine, sizeof(mine), "\"%s\"", FL_DP_MECHANISM);
	} else if (rec->accountant == NULL || strcmp(rec->accountant, FL_DP_ACCOUNTANT) != 0) {
		field = "accountant";
		snprintf(theirs, sizeof(theirs), "\"%.40s\"",
		         rec->accountant ? rec->accountant : "");
		snprintf(mine, sizeof(mine), "\"%s\"", FL_DP_ACCOUNTANT);
	}
	DP_DIFF("epsilon", "%.15g", e->epsilon, fed_eps)
	DP_DIFF("delta", "%.15g", e->delta, q->delta)
	DP_DIFF("releases", "%llu", (unsigned long long)e->releases,
	        (unsigned long long)q->releases)
	DP_DIFF("clip", "%.15g", e->clip, dp_clip(n))
	DP_DIFF("max_colluders", "%u", e->max_colluders, n->pol.max_colluders)
	DP_DIFF("rho", "%.15g", e->rho,
	        (double)units_floor(fl_dp_rho_budget(fed_eps, q->delta)) / FL_LEDGER_UNITS)
	/* The plan's per-lead gradient clip, which this node applied. */
	DP_DIFF("gradient_clip", "%.15g", rec->gradient_clip, (double)FL_DP_GRAD_CLIP)
#undef DP_DIFF
	r = field == NULL ? 0
	                  : fl_fail(FL_ERR_AUTH,
	                            "privacy provenance: the model records %s = %s for this "
	                            "partner (%s), this node's is %s",
	                            field, theirs, n->identity, mine);
out:
	return r;
}

/*
 * The knots the final model records against those this node encoded its
 * rows with: every partner trained on one encoding, and a model that says
 * otherwise would explain and score leads on another (refused, naming the
 * first knot that differs).
 */
static int node_knots_check_model(const struct fl_fednode *n, const struct fl_model *m)
{
	const struct fl_schema *mine;
	int r = 0;

	if (fl_knots_features(n->s) == 0)
		return 0;
	if (n->knots == NULL || fl_spline_unplaced(fl_knots_rows_schema(n->knots)) != SIZE_MAX)
		return fl_fail(FL_ERR_AUTH, "knots: the final model came before this node was sent "
		                            "the knots placed from the federation's data");
	mine = fl_knots_rows_schema(n->knots);
	for (size_t i = 0; r == 0 && i < mine->n_features; i++) {
		const struct fl_feature *f = &mine->features[i], *g = &m->schema->features[i];

		if (!fl_knots_from_data(f))
			continue;
		if (g->knots == NULL) {
			r = fl_fail(FL_ERR_AUTH,
			            "knots: the model records no knots for feature \"%s\"",
			            f->name);
			break;
		}
		for (size_t j = 0; j < f->n_knots; j++)
			if (g->knots[j] != f->knots[j]) {
				r = fl_fail(
				        FL_ERR_AUTH,
				        "knots: the model records knot %zu of feature \"%s\" as "
				        "%.17g, but this node encoded its rows with %.17g",
				        j, f->name, g->knots[j], f->knots[j]);
				break;
			}
	}
	return r;
}

/*
 * The final model's effect of every feature this node's schema declares
 * monotone, in the declared direction (fl_spline_monotone_verify(), to its
 * stated rounding tolerance), with or without differential privacy: the
 * constraint is the partners' contract, and the node does not take the
 * coordinator's word that its solver kept it. The node's own schema says
 * which features are monotone, whatever the model's copy says.
 */
static int node_monotone_check_model(const struct fl_fednode *n, const struct fl_model *m)
{
	char why[400];
	double *v;
	int r;

	if (m->schema->dim != n->s->dim)
		return fl_fail(FL_ERR_AUTH,
		               "monotone: the model has %zu coefficients, this node's schema %zu",
		               m->schema->dim, n->s->dim);
	/* The weights on the encoded columns as the scorer applies them:
	 * fl_scaler_apply() divides every column, a block's too, by its scale
	 * (positive, fl_model_decode()); a centre moves the intercept only. */
	if ((v = malloc(m->schema->dim * sizeof(double))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t j = 0; j < m->schema->dim; j++)
		v[j] = m->w[j] / m->scaler->scale[j];
	r = fl_spline_monotone_verify(n->s, v);
	free(v);
	if (r != FL_ERR_DATA)
		return r;
	snprintf(why, sizeof(why), "%s", fl_errmsg());
	return fl_fail(FL_ERR_AUTH, "monotone: %s", why);
}

/* The node's checks of the final model, each on the decoded model. */
static int node_check_model(const struct fl_fednode *n, const uint8_t *file, size_t len)
{
	struct fl_model *m = NULL;
	int r;

	if ((r = fl_model_decode(file, len, "final model", &m)) != 0)
		return r;
	/* Every check below reads the model's columns by this node's schema
	 * (the knots placed from data are not in the fingerprint). */
	if (CRYPTO_memcmp(m->schema->fingerprint, n->s->fingerprint, FL_FINGERPRINT_LEN) != 0)
		r = fl_fail(FL_ERR_AUTH, "final model: its schema is not the federation's (another "
		                         "fingerprint)");
	else if ((r = dp_check_model(n, m)) == 0 && (r = node_knots_check_model(n, m)) == 0)
		r = node_monotone_check_model(n, m);
	fl_model_free(m);
	return r;
}

/* Verifies and saves the final model; *frame gets the Status to send. */
static int take_final(struct fl_fednode *n, const Fedlead__Wire__FinalModel *fm, uint8_t **frame,
                      size_t *len)
{
	char signer[256], why[512];
	int r;

	r = fl_model_file_verify(fm->model_file.data, fm->model_file.len, n->ca, n->crl, signer,
	                         sizeof(signer));
	if (r == 0)
		r = node_check_model(n, fm->model_file.data, fm->model_file.len);
	if (r == 0)
		r = fl_model_write_file(n->model_out, fm->model_file.data, fm->model_file.len);
	if (r != 0) {
		snprintf(why, sizeof(why), "%s", fl_errmsg());
		fl_log(FL_LOG_ERROR, "final model refused: %s", why);
		if (fl_fednode_status(n, fm->ref, FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR, why,
		                      frame, len) != 0) {
			*frame = NULL;
			*len = 0;
		}
		return fl_fail(r, "%s", why);
	}
	fl_log(FL_LOG_NOTICE, "final model signed by %s saved to %s", signer, n->model_out);
	fl_audit_event(n->audit, "model", "{s:s, s:s, s:I}", "path", n->model_out, "signer", signer,
	               "bytes", (json_int_t)fm->model_file.len);
	if ((r = fl_fednode_status(n, fm->ref, FEDLEAD__WIRE__STATUS_CODE__STATUS_SAVED, "", frame,
	                           len)) != 0)
		return r;
	return FL_FEDNODE_DONE;
}

int fl_fednode_input(struct fl_fednode *n, const char *peer, const Fedlead__Wire__Envelope *env,
                     uint8_t **frame, size_t *len)
{
	int r;

	*frame = NULL;
	*len = 0;
	n->fatal = 0;
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME: {
		const Fedlead__Wire__Welcome *w = env->welcome;

		if ((r = fl_fednode_welcome(n, w)) != 0)
			return r;
		fl_log(FL_LOG_NOTICE, "joined federation %s as %s", w->federation_id,
		       w->partner_identity);
		fl_audit_event(n->audit, "join", "{s:s, s:s}", "federation", w->federation_id,
		               "identity", w->partner_identity);
		return FL_FEDNODE_NONE;
	}
	case FEDLEAD__WIRE__ENVELOPE__BODY_REJECT: {
		const Fedlead__Wire__Reject *rj = env->reject;

		fl_audit_event(n->audit, "reject", "{s:s}", "reason", rj->reason);
		if (rj->permanent) {
			n->fatal = 1;
			return fl_fail(FL_ERR_AUTH, "%s refused this partner: %s", peer,
			               rj->reason);
		}
		fl_log(FL_LOG_WARN, "%s refused this partner for now: %s", peer, rj->reason);
		return FL_FEDNODE_CLOSE;
	}
	default: break;
	}
	r = fl_fednode_handle(n, env, frame, len);
	if (r == FL_FEDNODE_FINAL && n->model_out != NULL)
		return take_final(n, env->final_model, frame, len);
	return r;
}
