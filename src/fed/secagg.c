/*
 * Secure-aggregation protocol engine: message handling for one round on
 * either side. See secagg.h for the shape; the primitives are masks.h,
 * shamir.h and partner_sign.h's.
 *
 * Keys and masks are bound to a context string "FEDERATION#SESSION#COMMIT"
 * for advertisements and "FEDERATION#SESSION" otherwise, so nothing from
 * another federation, round or attempt (session) can be replayed into this
 * one; the advertisement's signature also covers the commitment to the
 * self-mask seed, which lets the coordinator reject a wrong reconstruction
 * instead of producing a wrong sum.
 *
 * A hostile partner is named by what it signed or sent (protocol 3): each
 * dealer signs a commitment to every share it deals; a holder checks its
 * shares on receipt and accuses a dealer with the key of the bad share;
 * the coordinator checks every accusation and every revealed share against
 * the dealer's signed commitment, and t verified shares against what the
 * dealer committed to in its advertisement. Each check names the one
 * partner who must have deviated, never one who followed the protocol
 * (README, "Threat model").
 */
#include "fedlead/secagg.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/fault.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/masks.h"
#include "fedlead/partner_sign.h"
#include "fedlead/shamir.h"

#define K FL_SA_KEY_LEN
#define CTX_MAX (FL_WIRE_MAX_STRING + 2 * (FL_WIRE_SESSION_LEN + K) + 8)
#define PLAIN_LEN (2 * K) /* share of the mask secret, share of the seed */

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The context strings of a round (see the file comment). */
static void context(const char *fed, const uint8_t session[FL_WIRE_SESSION_LEN],
                    const uint8_t *commit, char *out)
{
	char hs[2 * FL_WIRE_SESSION_LEN + 1], hc[2 * K + 1];

	hex(session, FL_WIRE_SESSION_LEN, hs);
	if (commit == NULL) {
		snprintf(out, CTX_MAX, "%s#%s", fed, hs);
		return;
	}
	hex(commit, K, hc);
	snprintf(out, CTX_MAX, "%s#%s#%s", fed, hs, hc);
}

/*
 * SHA-256(tag, session, be32(len(id)), id, b). Version 1 hashed the length
 * in the host's byte order, so partners of different byte order disagreed
 * on every commitment; v2 writes it big-endian. The tag changes with it:
 * a commitment lives within one round of one federation, so all that
 * compatibility needs is that a v1 peer's commitment never verifies as v2.
 */
static int commitment(const uint8_t session[FL_WIRE_SESSION_LEN], const char *id,
                      const uint8_t b[K], uint8_t out[K])
{
	static const char tag[] = "fedlead-secagg-commit-v2";
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint32_t idlen = (uint32_t)strlen(id);
	uint8_t be[4] = {(uint8_t)(idlen >> 24), (uint8_t)(idlen >> 16), (uint8_t)(idlen >> 8),
	                 (uint8_t)idlen};
	int ok;

	if (md == NULL)
		return FL_ERR_NOMEM;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, tag, sizeof(tag)) == 1 &&
	     EVP_DigestUpdate(md, session, FL_WIRE_SESSION_LEN) == 1 &&
	     EVP_DigestUpdate(md, be, sizeof(be)) == 1 && EVP_DigestUpdate(md, id, idlen) == 1 &&
	     EVP_DigestUpdate(md, b, K) == 1 && EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
}

/* AAD of a share: who sent it to whom, in which round context. */
static size_t share_aad(const char *ctx, uint64_t round, const char *from, const char *to,
                        uint8_t *out, size_t cap)
{
	int n = snprintf((char *)out, cap, "%s|%llu|%s|%s", ctx, (unsigned long long)round, from,
	                 to);

	return n < 0 || (size_t)n >= cap ? cap : (size_t)n;
}

static int encode_frame(Fedlead__Wire__Envelope *env, uint8_t **frame, size_t *len)
{
	return fl_wire_encode(env, frame, len);
}

static void copy_ref(const Fedlead__Wire__RoundRef *src, Fedlead__Wire__RoundRef *dst)
{
	*dst = *src;
}

/* ---- what a node has revealed in one federation ---- */

/* Longest survivor set written out: every identity and a comma. */
#define SET_MAX (FL_WIRE_MAX_PARTIES * (FL_WIRE_MAX_STRING + 1) + 1)

/* A partner of the attempt a node last revealed shares in, as its key
 * list named it: what evidence of a bad reveal is checked against. */
struct rpeer {
	char id[FL_WIRE_MAX_STRING + 1];
	unsigned x;    /* Shamir x: position in the key list + 1 */
	uint8_t *cert; /* DER, verified against the CA with the key list */
	size_t cert_len;
};

struct fl_secagg_history {
	int revealed; /* a sum has been revealed */
	char *set;    /* its survivors, sorted, comma-separated */
	char *origin; /* NULL, or where a seeded set was revealed */
	/* The attempt this node last revealed shares in (none after a
	 * restart: a seeded set has no attempt to check evidence against). */
	int last;
	char last_fed[FL_WIRE_MAX_STRING + 1];
	uint64_t last_round;
	uint8_t last_session[FL_WIRE_SESSION_LEN];
	struct rpeer *last_peers;
	size_t last_np;
	char *proven; /* partners the set lost on evidence, comma-separated */
};

int fl_secagg_history_new(struct fl_secagg_history **out)
{
	*out = calloc(1, sizeof(**out));
	return *out == NULL ? FL_ERR_NOMEM : 0;
}

static void last_clear(struct fl_secagg_history *h)
{
	for (size_t i = 0; i < h->last_np; i++)
		free(h->last_peers[i].cert);
	free(h->last_peers);
	h->last_peers = NULL;
	h->last_np = 0;
	h->last = 0;
}

void fl_secagg_history_free(struct fl_secagg_history *h)
{
	if (h == NULL)
		return;
	last_clear(h);
	free(h->proven);
	free(h->set);
	free(h->origin);
	free(h);
}

int fl_secagg_history_seed(struct fl_secagg_history *h, const char *set, const char *origin)
{
	char *s, *o;

	if (h->revealed)
		return 0;
	s = strdup(set);
	o = strdup(origin);
	if (s == NULL || o == NULL) {
		free(s);
		free(o);
		return FL_ERR_NOMEM;
	}
	h->set = s;
	h->origin = o;
	h->revealed = 1;
	return 0;
}

const char *fl_secagg_history_origin(const struct fl_secagg_history *h)
{
	return h != NULL ? h->origin : NULL;
}

const char *fl_secagg_history_set(const struct fl_secagg_history *h)
{
	return h != NULL && h->set != NULL ? h->set : "";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names, sorted, comma-separated, into a new string; NULL on no memory
 * or when a name repeats. */
static char *set_string(char *const *names, size_t n)
{
	char **v = calloc(n + 1, sizeof(*v)), *out = NULL;
	size_t total = 1;

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		v[i] = names[i];
		total += strlen(names[i]) + 1;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i - 1], v[i]) == 0)
			goto out;
	if ((out = malloc(total)) == NULL)
		goto out;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, v[i]);
	}
out:
	free(v);
	return out;
}

/* Whether every name of the sorted comma-separated set sub is in set. */
static int covers(const char *set, const char *sub)
{
	while (*sub != '\0') {
		size_t len = strcspn(sub, ",");
		const char *p = set;
		int found = 0;

		while (*p != '\0' && !found) {
			size_t l = strcspn(p, ",");

			found = l == len && memcmp(p, sub, len) == 0;
			p += l + (p[l] == ',');
		}
		if (!found)
			return 0;
		sub += len + (sub[len] == ',');
	}
	return 1;
}

/* Binds an advertisement's signature to the commitment and to the task
 * its sender received: SHA-256 of both, as hex in the signing context. */
static int bind_hash(const uint8_t commit[K], const uint8_t task[K], uint8_t out[K])
{
	static const char tag[] = "fedlead-secagg-bind-v2";
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	         EVP_DigestUpdate(md, tag, sizeof(tag)) == 1 &&
	         EVP_DigestUpdate(md, commit, K) == 1 && EVP_DigestUpdate(md, task, K) == 1 &&
	         EVP_DigestFinal_ex(md, out, NULL) == 1;

	EVP_MD_CTX_free(md);
	return ok ? 0 : fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
}

/* What survivors sign before unmasking: the round's context and task, and
 * the two sets, each sorted and comma-separated. */
static int survivor_digest(const char *ctx, uint64_t round, const uint8_t task[K], const char *surv,
                           const char *drop, uint8_t out[K])
{
	static const char tag[] = "fedlead-secagg-survivors-v1";
	uint8_t r8[8];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	for (int i = 0; i < 8; i++)
		r8[i] = (uint8_t)(round >> (56 - 8 * i));
	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, tag, sizeof(tag)) == 1 &&
	     EVP_DigestUpdate(md, ctx, strlen(ctx) + 1) == 1 && EVP_DigestUpdate(md, r8, 8) == 1 &&
	     EVP_DigestUpdate(md, task, K) == 1 &&
	     EVP_DigestUpdate(md, surv, strlen(surv) + 1) == 1 &&
	     EVP_DigestUpdate(md, drop, strlen(drop) + 1) == 1 &&
	     EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
}

#define SURVIVOR_LABEL "survivor set"
#define COMMIT_LABEL "share commitment"
#define REVEAL_LABEL "unmask reply"

/* What a share is of: a survivor's self-mask seed, a dropped partner's
 * mask secret (the `what` of a RevealedShare). */
#define KIND_SEED 1u
#define KIND_SECRET 2u

static void put_name(EVP_MD_CTX *md, const char *s, int *ok)
{
	uint32_t n = (uint32_t)strlen(s);
	uint8_t be[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};

	*ok = *ok && EVP_DigestUpdate(md, be, 4) == 1 && EVP_DigestUpdate(md, s, n) == 1;
}

/*
 * A dealer's commitment to one share it deals: SHA-256 of the round's
 * context and number, dealer, holder, kind, the holder's x and the share.
 * Shares are uniformly random 32-byte strings (fewer than t of them say
 * nothing of the secret), so the commitment hides the share; it binds the
 * dealer to the one share each holder may later reveal.
 */
/* Starts a SHA-256 over the tag, the round context and number, dealer and
 * holder: what both commitments below begin with. NULL when out of memory
 * or when a step failed (*ok then 0). */
static EVP_MD_CTX *commit_begin(const char *tag, size_t tag_len, const char *ctx, uint64_t round,
                                const char *dealer, const char *holder, int *ok)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t r8[8];

	for (int i = 0; i < 8; i++)
		r8[i] = (uint8_t)(round >> (56 - 8 * i));
	*ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	      EVP_DigestUpdate(md, tag, tag_len) == 1;
	put_name(md, ctx, ok);
	*ok = *ok && EVP_DigestUpdate(md, r8, 8) == 1;
	put_name(md, dealer, ok);
	put_name(md, holder, ok);
	return md;
}

static int share_commit(const char *ctx, uint64_t round, const char *dealer, const char *holder,
                        unsigned kind, unsigned x, const uint8_t share[K], uint8_t out[K])
{
	static const char tag[] = "fedlead-secagg-share-v1";
	uint8_t kx[2] = {(uint8_t)kind, (uint8_t)x};
	int ok;
	EVP_MD_CTX *md = commit_begin(tag, sizeof(tag), ctx, round, dealer, holder, &ok);

	ok = ok && EVP_DigestUpdate(md, kx, 2) == 1 && EVP_DigestUpdate(md, share, K) == 1 &&
	     EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
}

/* What a dealer signs for one holder: both commitments, who and where. */
static int commit_digest(const char *ctx, uint64_t round, const char *dealer, const char *holder,
                         unsigned x, const uint8_t seed_c[K], const uint8_t secret_c[K],
                         uint8_t out[K])
{
	static const char tag[] = "fedlead-secagg-share-commitment-v1";
	uint8_t x1 = (uint8_t)x;
	int ok;
	EVP_MD_CTX *md = commit_begin(tag, sizeof(tag), ctx, round, dealer, holder, &ok);

	ok = ok && EVP_DigestUpdate(md, &x1, 1) == 1 && EVP_DigestUpdate(md, seed_c, K) == 1 &&
	     EVP_DigestUpdate(md, secret_c, K) == 1 && EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
}

/*
 * What a revealer signs of its UnmaskReply (protocol 4; proto/wire.proto):
 * SHA-256 of the tag, the round's context (federation and session) and
 * number, the revealer, the count, and for each share in the reply's
 * order: owner, kind, the commitment of the share revealed and the
 * dealer's commitment the revealer checked it against on receipt.
 */
struct rdigest {
	const char *owner;
	unsigned what;
	uint8_t revealed[K], committed[K];
};

static int reveal_digest(const char *ctx, uint64_t round, const char *revealer,
                         const struct rdigest *d, size_t n, uint8_t out[K])
{
	static const char tag[] = "fedlead-secagg-reveal-v1";
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t r8[8],
	        n4[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
	int ok;

	for (int i = 0; i < 8; i++)
		r8[i] = (uint8_t)(round >> (56 - 8 * i));
	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, tag, sizeof(tag)) == 1;
	put_name(md, ctx, &ok);
	ok = ok && EVP_DigestUpdate(md, r8, 8) == 1;
	put_name(md, revealer, &ok);
	ok = ok && EVP_DigestUpdate(md, n4, 4) == 1;
	for (size_t i = 0; i < n && ok; i++) {
		uint8_t w = (uint8_t)d[i].what;

		put_name(md, d[i].owner, &ok);
		ok = ok && EVP_DigestUpdate(md, &w, 1) == 1 &&
		     EVP_DigestUpdate(md, d[i].revealed, K) == 1 &&
		     EVP_DigestUpdate(md, d[i].committed, K) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
}

static const struct rpeer *last_peer(const struct fl_secagg_history *h, const char *id)
{
	for (size_t i = 0; i < h->last_np; i++)
		if (strcmp(h->last_peers[i].id, id) == 0)
			return &h->last_peers[i];
	return NULL;
}

/* Whether name is one of the sorted comma-separated set. */
static int in_set(const char *set, const char *name)
{
	size_t len = strlen(name);

	while (*set != '\0') {
		size_t l = strcspn(set, ",");

		if (l == len && memcmp(set, name, len) == 0)
			return 1;
		set += l + (set[l] == ',');
	}
	return 0;
}

/*
 * One piece of evidence that e->revealer revealed a bad share, checked by
 * this node alone against the attempt it last revealed in. 0 when it
 * proves it; FL_ERR_AUTH naming what failed ("the coordinator's evidence
 * against p2 does not verify: ..."); other errors as they come.
 */
static int check_evidence(const struct fl_secagg_history *h, const Fedlead__Wire__RevealEvidence *e,
                          X509_STORE *store)
{
	const char *who = e->revealer;
	const Fedlead__Wire__RevealedDigest *bad;
	const Fedlead__Wire__ShareCommitment *cm = e->commitment;
	const struct rpeer *rv, *dl;
	struct rdigest *d = NULL;
	char ctx[CTX_MAX], why[700];
	uint8_t digest[K];
	int r = 0;

#define EVIDENCE_FAILS(...)                                                                        \
	do {                                                                                       \
		snprintf(why, sizeof(why), __VA_ARGS__);                                           \
		r = fl_fail(FL_ERR_AUTH,                                                           \
		            "the coordinator's evidence against %.64s does not "                   \
		            "verify: %s",                                                          \
		            who, why);                                                             \
		goto out;                                                                          \
	} while (0)

	/* The decoder checks the sizes; evidence built in memory is checked too. */
	if (e->ref == NULL || e->session.len != FL_WIRE_SESSION_LEN || e->n_shares == 0 ||
	    e->bad >= e->n_shares || cm == NULL || cm->seed.len != K || cm->secret.len != K ||
	    e->shares[e->bad]->revealed.len != K || e->shares[e->bad]->committed.len != K)
		EVIDENCE_FAILS("it is malformed");
	if (!h->last)
		EVIDENCE_FAILS("this partner holds no unmask reply of its own in this federation "
		               "to check it against");
	if (strcmp(e->ref->federation_id, h->last_fed) != 0)
		EVIDENCE_FAILS("it is from federation \"%.64s\", not \"%.64s\"",
		               e->ref->federation_id, h->last_fed);
	if (e->ref->round != h->last_round)
		EVIDENCE_FAILS("it is from round %llu; this partner last revealed shares in round "
		               "%llu",
		               (unsigned long long)e->ref->round,
		               (unsigned long long)h->last_round);
	if (CRYPTO_memcmp(e->session.data, h->last_session, FL_WIRE_SESSION_LEN) != 0)
		EVIDENCE_FAILS("it is from another attempt of round %llu than the one this "
		               "partner revealed shares in",
		               (unsigned long long)h->last_round);
	if (!in_set(h->set, who) || (rv = last_peer(h, who)) == NULL)
		EVIDENCE_FAILS("%.64s is not in the set {%.400s} this partner revealed sums over",
		               who, h->set);
	bad = e->shares[e->bad];
	if ((dl = last_peer(h, bad->owner)) == NULL)
		EVIDENCE_FAILS("the share it shows is of \"%.64s\", who took no part in that "
		               "attempt",
		               bad->owner);
	/* The revealer's signature over every share of its reply. */
	if ((d = calloc(e->n_shares, sizeof(*d))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < e->n_shares; i++) {
		const Fedlead__Wire__RevealedDigest *g = e->shares[i];

		if (g->revealed.len != K || g->committed.len != K)
			EVIDENCE_FAILS("it is malformed");
		d[i].owner = g->owner;
		d[i].what = g->what;
		memcpy(d[i].revealed, g->revealed.data, K);
		memcpy(d[i].committed, g->committed.data, K);
	}
	context(h->last_fed, h->last_session, NULL, ctx);
	if ((r = reveal_digest(ctx, h->last_round, who, d, e->n_shares, digest)) != 0)
		goto out;
	if ((r = fl_sa_verify_digest(store, rv->cert, rv->cert_len, who, REVEAL_LABEL, digest,
	                             e->signature.data, e->signature.len)) != 0) {
		if (r != FL_ERR_AUTH)
			goto out;
		EVIDENCE_FAILS("the unmask reply it shows does not carry %.64s's signature", who);
	}
	/* The dealer's signed commitment for the revealer, and the very one
	 * the revealer acknowledged: a dealer that signed two commitments for
	 * one holder (colluding with the coordinator) cannot frame it. */
	if (strcmp(cm->holder, who) != 0)
		EVIDENCE_FAILS("the commitment it shows is for \"%.64s\", not %.64s", cm->holder,
		               who);
	if ((r = commit_digest(ctx, h->last_round, dl->id, who, rv->x, cm->seed.data,
	                       cm->secret.data, digest)) != 0)
		goto out;
	if ((r = fl_sa_verify_digest(store, dl->cert, dl->cert_len, dl->id, COMMIT_LABEL, digest,
	                             cm->signature.data, cm->signature.len)) != 0) {
		if (r != FL_ERR_AUTH)
			goto out;
		EVIDENCE_FAILS("the commitment it shows does not carry %.64s's signature", dl->id);
	}
	if (CRYPTO_memcmp(bad->what == KIND_SEED ? cm->seed.data : cm->secret.data,
	                  bad->committed.data, K) != 0)
		EVIDENCE_FAILS("%.64s acknowledged another commitment of %.64s's than the one "
		               "it shows",
		               who, dl->id);
	if (CRYPTO_memcmp(bad->revealed.data, bad->committed.data, K) == 0)
		EVIDENCE_FAILS("the share %.64s revealed matches %.64s's signed commitment", who,
		               dl->id);
	r = 0;
out:
#undef EVIDENCE_FAILS
	free(d);
	return r;
}

/* The set without the names of the comma-separated list drop, in place. */
static void set_remove(char *set, const char *drop)
{
	char *w = set;
	const char *p = set;

	while (*p != '\0') {
		size_t l = strcspn(p, ",");
		char name[FL_WIRE_MAX_STRING + 1];

		snprintf(name, sizeof(name), "%.*s", (int)l, p);
		if (!in_set(drop, name)) {
			if (w != set)
				*w++ = ',';
			memmove(w, p, l);
			w += l;
		}
		p += l + (p[l] == ',');
	}
	*w = '\0';
}

/* The one-set rule's refusal of a task over set. */
static int differenced(const char *set, const struct fl_secagg_history *h)
{
	return fl_fail(FL_ERR_AUTH,
	               "the task's participants {%.400s} are not the set {%.400s} this data's "
	               "sums were revealed over in %s: the two could be differenced",
	               set, h->set, h->origin ? h->origin : "this federation");
}

int fl_secagg_history_check(struct fl_secagg_history *h, char *const *participants, size_t n,
                            int allow, Fedlead__Wire__RevealEvidence *const *evidence,
                            size_t n_evidence, X509_STORE *store, char *proven, size_t cap)
{
	char *set, *missing = NULL;
	size_t ml = 0;
	int r = 0;

	if (proven != NULL && cap > 0)
		proven[0] = '\0';
	if (!h->revealed || allow)
		return 0;
	if ((set = set_string(participants, n)) == NULL)
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: the task's participant list names a partner "
		               "twice");
	/*
	 * Refused here when no survivor set of this task can be the revealed
	 * one: a partner of that set is missing from the task. A task over more
	 * partners goes on, since those extra may drop (a partner that fails a
	 * round is still a participant of the next), and the ConsistencyCheck
	 * refuses a survivor set that is not the revealed one.
	 */
	if (covers(set, h->set) && n_evidence == 0)
		goto out;
	if (n_evidence == 0) {
		r = differenced(set, h);
		goto out;
	}
	/*
	 * Evidence that a partner of the revealed set revealed a share other
	 * than the one dealt to it, each piece checked here against this
	 * node's own record of the attempt (certificates, x, session): a
	 * coordinator's word counts for nothing. A partner so proven may be
	 * left out: the sum over the set without it, differenced with one
	 * over the set, reveals only that hostile partner's own update.
	 */
	if ((missing = calloc(1, strlen(h->set) + 1)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_evidence; i++) {
		const char *who = evidence[i]->revealer;

		/* Accepted with an earlier task of the same attempt's retries
		 * (the coordinator repeats it until a round is unmasked). */
		if (h->proven != NULL && in_set(h->proven, who) && !in_set(h->set, who))
			continue;
		if ((r = check_evidence(h, evidence[i], store)) != 0)
			goto out;
		if (!in_set(missing, who)) {
			if (ml > 0)
				missing[ml++] = ',';
			ml += (size_t)sprintf(missing + ml, "%s", who);
		}
	}
	/* Every other partner of the set must still be in the task. */
	if (ml == 0) {
		r = covers(set, h->set) ? 0 : differenced(set, h);
		goto out;
	}
	{
		char *left = strdup(h->set);

		if (left == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		set_remove(left, missing);
		if (!covers(set, left))
			r = fl_fail(
			        FL_ERR_AUTH,
			        "the task's participants {%.400s} leave out partners of the set "
			        "{%.400s} this data's sums were revealed over in %s, and the "
			        "coordinator's evidence proves a bad reveal of %s only: the two "
			        "could be differenced",
			        set, h->set, h->origin ? h->origin : "this federation", missing);
		else if (ml > 0) {
			size_t pl = h->proven != NULL ? strlen(h->proven) : 0;
			char *all = realloc(h->proven, pl + ml + 2);

			if (all == NULL) {
				r = FL_ERR_NOMEM;
				free(left);
				goto out;
			}
			if (pl == 0)
				all[0] = '\0';
			else
				strcat(all, ",");
			strcat(all, missing);
			h->proven = all;
			free(h->set);
			h->set = left;
			left = NULL;
			if (proven != NULL && cap > 0)
				snprintf(proven, cap, "%s", missing);
		}
		free(left);
	}
out:
	free(missing);
	free(set);
	return r;
}

/* ===================================================================== */
/* partner side                                                          */
/* ===================================================================== */

struct npeer {
	char id[FL_WIRE_MAX_STRING + 1];
	uint8_t c_pub[K], s_pub[K];
	uint8_t *cert; /* DER, checked against the CA with the key list */
	size_t cert_len;
	int has_ct;
	uint8_t ct[FL_WIRE_SHARE_CT_LEN];
	uint8_t pt[PLAIN_LEN];            /* its shares to this partner, checked on receipt */
	uint8_t cm_seed[K], cm_secret[K]; /* its signed commitments they matched */
	int revealed;                     /* 0, 1 (seed share given), 2 (secret share given) */
};

struct fl_secagg_node {
	Fedlead__Wire__RoundRef ref;
	char fed[FL_WIRE_MAX_STRING + 1];
	uint8_t fp[FL_WIRE_FINGERPRINT_LEN];
	uint8_t session[FL_WIRE_SESSION_LEN];
	char ctx[CTX_MAX];
	char id[FL_WIRE_MAX_STRING + 1];
	unsigned t;
	Fedlead__Wire__UpdateKind kind;
	uint64_t *x;
	size_t n;
	struct fl_sa_keypair c, s;
	uint8_t b[K], commit[K];
	struct npeer *peers;
	size_t np, np_alloc, me;
	uint8_t own_s[K], own_b[K];   /* this partner's shares of its own secrets */
	uint8_t own_cs[K], own_cb[K]; /* ... and its commitments to them */
	int step;
	EVP_PKEY *key;       /* this partner's certificate key (not owned) */
	X509_STORE *store;   /* the CA, from the key list on (not owned) */
	uint8_t task[K];     /* hash of the task this partner received */
	char **participants; /* the task's participant list */
	size_t n_participants;
	struct fl_secagg_policy pol;
	struct fl_secagg_history *hist;       /* not owned */
	char *signed_surv, *signed_drop;      /* the sets this partner signed */
	char accused[FL_WIRE_MAX_STRING + 1]; /* a dealer proven to have dealt a bad share */
	char accused_why[FL_WIRE_MAX_STRING + 64];
	const char *refused_rule; /* the node policy rule of the last FL_ERR_AUTH */
};

static void free_peers(struct fl_secagg_node *s)
{
	for (size_t i = 0; s->peers != NULL && i < s->np_alloc; i++) {
		OPENSSL_cleanse(s->peers[i].pt, PLAIN_LEN);
		free(s->peers[i].cert);
	}
	free(s->peers);
	s->peers = NULL;
	s->np = 0;
	s->np_alloc = 0;
}

void fl_secagg_node_free(struct fl_secagg_node *s)
{
	if (s == NULL)
		return;
	fl_sa_keypair_clear(&s->c);
	fl_sa_keypair_clear(&s->s);
	OPENSSL_cleanse(s->b, K);
	OPENSSL_cleanse(s->own_s, K);
	OPENSSL_cleanse(s->own_b, K);
	if (s->x != NULL)
		OPENSSL_cleanse(s->x, s->n * sizeof(uint64_t));
	free(s->x);
	free_peers(s);
	for (size_t i = 0; i < s->n_participants; i++)
		free(s->participants[i]);
	free(s->participants);
	free(s->signed_surv);
	free(s->signed_drop);
	free(s);
}

static int is_participant(const struct fl_secagg_node *s, const char *id)
{
	for (size_t i = 0; i < s->n_participants; i++)
		if (strcmp(s->participants[i], id) == 0)
			return 1;
	return 0;
}

static void set_ref(struct fl_secagg_node *s, Fedlead__Wire__RoundRef *r)
{
	fedlead__wire__round_ref__init(r);
	r->federation_id = s->fed;
	r->round = s->ref.round;
	r->schema_fingerprint.data = s->fp;
	r->schema_fingerprint.len = sizeof(s->fp);
}

int fl_secagg_node_start(const char *federation_id, const Fedlead__Wire__RoundRef *ref,
                         const Fedlead__Wire__SecAggParams *p, unsigned t, const char *identity,
                         EVP_PKEY *key, const uint8_t task_hash[K],
                         const struct fl_secagg_policy *pol, struct fl_secagg_history *hist,
                         Fedlead__Wire__UpdateKind kind, const double *x, size_t n,
                         struct fl_secagg_node **out, uint8_t **advert, size_t *advert_len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__KeyAdvert ka = FEDLEAD__WIRE__KEY_ADVERT__INIT;
	Fedlead__Wire__RoundRef rr;
	struct fl_secagg_node *s;
	char sctx[CTX_MAX];
	uint8_t *sig = NULL, bind[K];
	size_t siglen = 0, bad;
	int r, listed = 0;

	*out = NULL;
	*advert = NULL;
	*advert_len = 0;
	if (strlen(federation_id) > FL_WIRE_MAX_STRING || strlen(identity) > FL_WIRE_MAX_STRING ||
	    ref->schema_fingerprint.len != FL_WIRE_FINGERPRINT_LEN || pol == NULL || hist == NULL)
		return fl_fail(FL_ERR_INVALID, "secure aggregation: bad round reference");
	/* Who takes part is checked before anything is computed from the data. */
	for (size_t i = 0; i < p->n_participants; i++)
		listed |= strcmp(p->participants[i], identity) == 0;
	if (!listed)
		return fl_fail(FL_ERR_PROTO, "coordinator: the task's participant list leaves this "
		                             "partner out");
	if (p->n_participants < pol->min_partners)
		return fl_fail(FL_ERR_AUTH,
		               "node policy min_partners: the task has %zu "
		               "participants, fewer than the %u this partner requires in any sum; "
		               "refused",
		               p->n_participants, pol->min_partners);
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->x = malloc((n ? n : 1) * sizeof(uint64_t))) == NULL) {
		free(s);
		return FL_ERR_NOMEM;
	}
	strcpy(s->fed, federation_id);
	strcpy(s->id, identity);
	s->key = key;
	s->pol = *pol;
	s->hist = hist;
	memcpy(s->task, task_hash, K);
	if ((s->participants = calloc(p->n_participants, sizeof(char *))) == NULL) {
		r = FL_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < p->n_participants; i++) {
		if ((s->participants[i] = strdup(p->participants[i])) == NULL) {
			r = FL_ERR_NOMEM;
			goto fail;
		}
		s->n_participants = i + 1;
	}
	memcpy(s->fp, ref->schema_fingerprint.data, sizeof(s->fp));
	copy_ref(ref, &s->ref);
	memcpy(s->session, p->session.data, FL_WIRE_SESSION_LEN);
	s->kind = kind;
	s->n = n;
	s->t = t;
	context(s->fed, s->session, NULL, s->ctx);
	if ((r = fl_fixed_encode(x, n, p->frac_bits, p->bound, s->x, &bad)) != 0)
		goto fail;
	if ((r = fl_sa_keypair_new(&s->c)) != 0 || (r = fl_sa_keypair_new(&s->s)) != 0 ||
	    (r = fl_sa_seed_new(s->b)) != 0 ||
	    (r = commitment(s->session, s->id, s->b, s->commit)) != 0)
		goto fail;
	if ((r = bind_hash(s->commit, s->task, bind)) != 0)
		goto fail;
	context(s->fed, s->session, bind, sctx);
	if ((r = fl_sa_sign_keys(key, sctx, ref->round, s->id, s->c.pub, s->s.pub, &sig,
	                         &siglen)) != 0)
		goto fail;
	set_ref(s, &rr);
	ka.ref = &rr;
	ka.c_pub = (ProtobufCBinaryData){K, s->c.pub};
	ka.s_pub = (ProtobufCBinaryData){K, s->s.pub};
	ka.signature = (ProtobufCBinaryData){siglen, sig};
	ka.b_commit = (ProtobufCBinaryData){K, s->commit};
	ka.task_hash = (ProtobufCBinaryData){K, s->task};
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT;
	env.key_advert = &ka;
	if ((r = encode_frame(&env, advert, advert_len)) != 0)
		goto fail;
	free(sig);
	s->step = 1;
	*out = s;
	return 0;
fail:
	free(sig);
	fl_secagg_node_free(s);
	return r;
}

int fl_secagg_node_keys(struct fl_secagg_node *s, const Fedlead__Wire__KeyList *kl,
                        X509_STORE *store, uint8_t **frame, size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__ShareSet ss = FEDLEAD__WIRE__SHARE_SET__INIT;
	Fedlead__Wire__RoundRef rr;
	Fedlead__Wire__EncryptedShare *es = NULL, **esp = NULL;
	Fedlead__Wire__ShareCommitment *cm = NULL;
	uint8_t *sh_s = NULL, *sh_b = NULL, *cts = NULL, pt[PLAIN_LEN], key[K], aad[CTX_MAX + 600];
	uint8_t *cms = NULL, **sigs = NULL;
	size_t n = kl->n_entries, k = 0;
	int r, found = 0, hostile = 0;

	*frame = NULL;
	*len = 0;
	if (s->step != 1)
		return fl_fail(FL_ERR_PROTO, "coordinator: key_list out of order");
	/* What a refused list left behind (this one may be an honest retry). */
	free_peers(s);
	if (n < s->t || n < 2)
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: key list of %zu partners is below the "
		               "threshold %u",
		               n, s->t);
	/*
	 * With t <= n/2 a coordinator could tell t - 1 of the others "p
	 * survived" and t others "p dropped" (each request is consistent on
	 * its own) and so collect, with p's own seed share, both of p's
	 * secrets: p's input alone. Every peer reveals one share of p at
	 * most, and p never its own mask secret, so that takes 2t - 1 of the
	 * n - 1 others; t > n/2 leaves it out of reach.
	 */
	if (2 * (size_t)s->t <= n)
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: threshold %u is not more than half of "
		               "the %zu partners in the key list; refused",
		               s->t, n);
	if (n < s->pol.min_partners)
		return fl_fail(
		        FL_ERR_AUTH,
		        "node policy min_partners: the key list has %zu "
		        "partners, fewer than the %u this partner requires in any sum; refused",
		        n, s->pol.min_partners);
	if ((s->peers = calloc(n, sizeof(*s->peers))) == NULL)
		return FL_ERR_NOMEM;
	s->np_alloc = n;
	s->store = store;
	for (size_t i = 0; i < n; i++) {
		const Fedlead__Wire__KeyEntry *e = kl->entries[i];
		char ectx[CTX_MAX];
		uint8_t bind[K];

		if (i > 0 && strcmp(kl->entries[i - 1]->identity, e->identity) >= 0)
			return fl_fail(FL_ERR_PROTO,
			               "coordinator: key list is not sorted by identity");
		/* The decoder checks these; a list built in memory is checked too. */
		if (e->c_pub.len != K || e->s_pub.len != K || e->b_commit.len != K ||
		    e->task_hash.len != K || e->certificate.len == 0)
			return fl_fail(FL_ERR_PROTO, "coordinator: key list entry %zu is malformed",
			               i);
		if (!is_participant(s, e->identity))
			return fl_fail(FL_ERR_AUTH,
			               "coordinator: the key list names \"%.64s\", who is "
			               "not among the task's participants; refused",
			               e->identity);
		snprintf(s->peers[i].id, sizeof(s->peers[i].id), "%s", e->identity);
		memcpy(s->peers[i].c_pub, e->c_pub.data, K);
		memcpy(s->peers[i].s_pub, e->s_pub.data, K);
		if (strcmp(e->identity, s->id) == 0) {
			/* A coordinator substituting our own keys would learn our masks. */
			if (CRYPTO_memcmp(e->c_pub.data, s->c.pub, K) != 0 ||
			    CRYPTO_memcmp(e->s_pub.data, s->s.pub, K) != 0 ||
			    CRYPTO_memcmp(e->b_commit.data, s->commit, K) != 0)
				return fl_fail(FL_ERR_AUTH,
				               "coordinator: the key list carries other keys "
				               "for this partner");
			s->me = i;
			found = 1;
		} else if (CRYPTO_memcmp(e->task_hash.data, s->task, K) != 0) {
			/* Its signature would not verify either (it covers its own
			 * task's hash); saying why helps the operator. */
			return fl_fail(FL_ERR_AUTH,
			               "partner %s was given a different task than this "
			               "partner (weights, round, participants or parameters); "
			               "refused: a coordinator that does this can isolate one "
			               "partner's update",
			               e->identity);
		} else {
			/* Verified against this partner's own task hash, never the
			 * one the entry claims. */
			if ((r = bind_hash(e->b_commit.data, s->task, bind)) != 0)
				return r;
			context(s->fed, s->session, bind, ectx);
			if ((r = fl_sa_verify_keys(store, e->certificate.data, e->certificate.len,
			                           ectx, s->ref.round, e->identity, e->c_pub.data,
			                           e->s_pub.data, e->signature.data,
			                           e->signature.len)) != 0)
				return r;
		}
		/* Kept to check this peer's signature of the survivor set. */
		if ((s->peers[i].cert = malloc(e->certificate.len)) == NULL)
			return FL_ERR_NOMEM;
		memcpy(s->peers[i].cert, e->certificate.data, e->certificate.len);
		s->peers[i].cert_len = e->certificate.len;
	}
	if (!found)
		return fl_fail(FL_ERR_PROTO, "coordinator: the key list leaves this partner out");
	s->np = n;
	r = FL_ERR_NOMEM;
	if ((sh_s = malloc(n * K)) == NULL || (sh_b = malloc(n * K)) == NULL ||
	    (es = calloc(n, sizeof(*es))) == NULL || (esp = calloc(n, sizeof(*esp))) == NULL ||
	    (cts = malloc(n * FL_WIRE_SHARE_CT_LEN)) == NULL ||
	    (cm = calloc(n, sizeof(*cm))) == NULL || (cms = malloc(n * 2 * K)) == NULL ||
	    (sigs = calloc(n, sizeof(*sigs))) == NULL)
		goto out;
	if ((r = fl_shamir_split(s->s.sec, K, s->t, (unsigned)n, sh_s)) != 0 ||
	    (r = fl_shamir_split(s->b, K, s->t, (unsigned)n, sh_b)) != 0)
		goto out;
	/* Test builds only (fault.h): the first listed holder's seed share
	 * off the polynomial, committed to as it is. */
	if (fl_fault_hostile("inconsistent", s->ref.round))
		sh_b[3] ^= 0x01;
	hostile = fl_fault_hostile("bad-share", s->ref.round) |
	          2 * fl_fault_hostile("bad-sig", s->ref.round) |
	          4 * fl_fault_hostile("garbage-share", s->ref.round);
	for (size_t i = 0; i < n; i++) {
		size_t alen, siglen;
		uint8_t *cseed = cms + 2 * i * K, *csec = cseed + K, digest[K];

		/* Every share this partner deals, its own included, is committed
		 * to and signed: whoever reveals one that differs is caught. */
		if ((r = share_commit(s->ctx, s->ref.round, s->id, s->peers[i].id, KIND_SEED,
		                      (unsigned)i + 1, sh_b + i * K, cseed)) != 0 ||
		    (r = share_commit(s->ctx, s->ref.round, s->id, s->peers[i].id, KIND_SECRET,
		                      (unsigned)i + 1, sh_s + i * K, csec)) != 0 ||
		    (r = commit_digest(s->ctx, s->ref.round, s->id, s->peers[i].id, (unsigned)i + 1,
		                       cseed, csec, digest)) != 0 ||
		    (r = fl_sa_sign_digest(s->key, COMMIT_LABEL, digest, &sigs[i], &siglen)) != 0)
			goto out;
		fedlead__wire__share_commitment__init(&cm[i]);
		cm[i].holder = s->peers[i].id;
		cm[i].seed = (ProtobufCBinaryData){K, cseed};
		cm[i].secret = (ProtobufCBinaryData){K, csec};
		cm[i].signature = (ProtobufCBinaryData){siglen, sigs[i]};
		if (i == s->me) {
			memcpy(s->own_s, sh_s + i * K, K);
			memcpy(s->own_b, sh_b + i * K, K);
			memcpy(s->own_cs, csec, K);
			memcpy(s->own_cb, cseed, K);
			ss.own = &cm[i];
			continue;
		}
		memcpy(pt, sh_s + i * K, K);
		memcpy(pt + K, sh_b + i * K, K);
		/* Test builds only: the first other holder's share or signature. */
		if ((hostile & 1) && k == 0)
			pt[K + 3] ^= 0x01;
		if ((hostile & 2) && k == 0)
			sigs[i][siglen > 8 ? siglen - 8 : 0] ^= 0x01;
		alen = share_aad(s->ctx, s->ref.round, s->id, s->peers[i].id, aad, sizeof(aad));
		if ((r = fl_sa_agree(s->c.sec, s->peers[i].c_pub, FL_SA_LABEL_SEAL, s->ctx,
		                     s->ref.round, s->id, s->peers[i].id, key)) != 0 ||
		    (r = fl_sa_seal(key, aad, alen, pt, PLAIN_LEN,
		                    cts + k * FL_WIRE_SHARE_CT_LEN)) != 0)
			goto out;
		if ((hostile & 4) && k == 0) /* test builds only */
			cts[20] ^= 0x01;
		fedlead__wire__encrypted_share__init(&es[k]);
		es[k].from = s->id;
		es[k].to = s->peers[i].id;
		es[k].ciphertext =
		        (ProtobufCBinaryData){FL_WIRE_SHARE_CT_LEN, cts + k * FL_WIRE_SHARE_CT_LEN};
		es[k].commitment = &cm[i];
		esp[k] = &es[k];
		k++;
	}
	set_ref(s, &rr);
	ss.ref = &rr;
	ss.shares = esp;
	ss.n_shares = k;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET;
	env.share_set = &ss;
	if ((r = encode_frame(&env, frame, len)) != 0)
		goto out;
	s->step = 2;
	r = 0;
out:
	OPENSSL_cleanse(pt, sizeof(pt));
	OPENSSL_cleanse(key, sizeof(key));
	if (sh_s)
		OPENSSL_cleanse(sh_s, n * K);
	if (sh_b)
		OPENSSL_cleanse(sh_b, n * K);
	free(sh_s);
	free(sh_b);
	free(es);
	free(esp);
	free(cts);
	free(cm);
	free(cms);
	for (size_t i = 0; sigs != NULL && i < n; i++)
		free(sigs[i]);
	free(sigs);
	return r;
}

static struct npeer *node_peer(struct fl_secagg_node *s, const char *id)
{
	for (size_t i = 0; i < s->np; i++)
		if (strcmp(s->peers[i].id, id) == 0)
			return &s->peers[i];
	return NULL;
}

/*
 * The share dealer p sealed to this partner: its commitment must be the
 * one p signed for this partner (the coordinator checked the signature
 * before relaying it, so a bad one is the coordinator's doing), and the
 * ciphertext must open. Leaves the two shares in p->pt and the key that
 * sealed them in key.
 */
static int check_dealt(struct fl_secagg_node *s, struct npeer *p,
                       const Fedlead__Wire__ShareCommitment *cm, uint8_t key[K])
{
	uint8_t digest[K], aad[CTX_MAX + 600];
	size_t alen;
	int r;

	if (cm == NULL || strcmp(cm->holder, s->id) != 0 || cm->seed.len != K ||
	    cm->secret.len != K)
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: the share from %s comes without %s's commitment to "
		               "it; refused",
		               p->id, p->id);
	if ((r = commit_digest(s->ctx, s->ref.round, p->id, s->id, (unsigned)s->me + 1,
	                       cm->seed.data, cm->secret.data, digest)) != 0)
		return r;
	if (fl_sa_verify_digest(s->store, p->cert, p->cert_len, p->id, COMMIT_LABEL, digest,
	                        cm->signature.data, cm->signature.len) != 0)
		return fl_fail(
		        FL_ERR_AUTH,
		        "coordinator: the commitment to %s's share for this partner does not "
		        "carry %s's signature; refused",
		        p->id, p->id);
	alen = share_aad(s->ctx, s->ref.round, p->id, s->id, aad, sizeof(aad));
	if ((r = fl_sa_agree(s->c.sec, p->c_pub, FL_SA_LABEL_SEAL, s->ctx, s->ref.round, s->id,
	                     p->id, key)) != 0)
		return r;
	if (fl_sa_open(key, aad, alen, p->ct, FL_WIRE_SHARE_CT_LEN, p->pt) != 0)
		return 1; /* the caller decides (see fl_secagg_node_shares) */
	return 0;
}

/*
 * Whether this partner may disclose its share-encryption secret of this
 * attempt: it opens every share dealt to it, as if one more partner
 * colluded, so only while the threshold keeps c + 1 colluders from a
 * secret (t > c + 1) and from both kinds of share of one partner
 * (2t > n + c + 1; see fl_secagg_node_keys()).
 */
static int may_disclose(const struct fl_secagg_node *s)
{
	size_t c1 = (size_t)s->pol.max_colluders + 1;

	return s->t > c1 && 2 * (size_t)s->t > s->np + c1;
}

/*
 * Dealer p sealed this partner shares that its signed commitment does not
 * match (key: the key that sealed them), or that do not open (key NULL).
 * With the key the coordinator opens the ciphertext p itself sent and
 * checks the claim against p's signature, so a false claim names the
 * accuser; the key opens only what p and this partner sent each other this
 * attempt: p's shares at this partner's x, which p has forfeited, and this
 * partner's shares to p of secrets it never uses (nothing masked leaves;
 * the next attempt has fresh keys). Without a key that opens, only this
 * partner's share-encryption secret lets the coordinator check (see
 * may_disclose()).
 */
static int accuse(struct fl_secagg_node *s, struct npeer *p, const uint8_t *key, uint8_t **frame,
                  size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Accusation ac = FEDLEAD__WIRE__ACCUSATION__INIT;
	Fedlead__Wire__RoundRef rr;
	int r;

	set_ref(s, &rr);
	ac.ref = &rr;
	ac.dealer = p->id;
	if (key != NULL)
		ac.key = (ProtobufCBinaryData){K, (uint8_t *)key};
	else
		ac.c_secret = (ProtobufCBinaryData){K, s->c.sec};
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_ACCUSATION;
	env.accusation = &ac;
	if ((r = encode_frame(&env, frame, len)) != 0)
		return r;
	snprintf(s->accused, sizeof(s->accused), "%s", p->id);
	if (key != NULL)
		snprintf(s->accused_why, sizeof(s->accused_why),
		         "does not match %s's signed commitment", p->id);
	else
		snprintf(s->accused_why, sizeof(s->accused_why),
		         "does not open under the keys both advertised");
	s->step = 9; /* this attempt is over for this partner */
	return 0;
}

const char *fl_secagg_node_accused(const struct fl_secagg_node *s)
{
	return s != NULL && s->accused[0] != '\0' ? s->accused : NULL;
}

const char *fl_secagg_node_accused_why(const struct fl_secagg_node *s)
{
	return s != NULL && s->accused[0] != '\0' ? s->accused_why : NULL;
}

int fl_secagg_node_shares(struct fl_secagg_node *s, const Fedlead__Wire__ShareSet *ss,
                          uint8_t **frame, size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__MaskedUpdate mu = FEDLEAD__WIRE__MASKED_UPDATE__INIT;
	Fedlead__Wire__RoundRef rr;
	uint64_t *y = NULL;
	uint8_t key[K];
	size_t have = 1; /* this partner itself */
	int r, accused_once = 0;

	*frame = NULL;
	*len = 0;
	if (s->step != 2)
		return fl_fail(FL_ERR_PROTO, "coordinator: share_set out of order");
	/* What a refused set left behind (this one may be a retry). */
	for (size_t i = 0; i < s->np; i++) {
		s->peers[i].has_ct = 0;
		OPENSSL_cleanse(s->peers[i].pt, PLAIN_LEN);
	}
	for (size_t i = 0; i < ss->n_shares; i++) {
		const Fedlead__Wire__EncryptedShare *e = ss->shares[i];
		struct npeer *p = node_peer(s, e->from);

		if (p == NULL || p == &s->peers[s->me] || strcmp(e->to, s->id) != 0)
			return fl_fail(FL_ERR_PROTO,
			               "coordinator: share from \"%.64s\" to \"%.64s\" "
			               "does not belong here",
			               e->from, e->to);
		if (p->has_ct)
			return fl_fail(FL_ERR_PROTO, "coordinator: two shares from %s", p->id);
		memcpy(p->ct, e->ciphertext.data, FL_WIRE_SHARE_CT_LEN);
		p->has_ct = 1;
		have++;
	}
	if (have < s->t)
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: shares from %zu partners, below the "
		               "threshold %u",
		               have, s->t);
	/* Each share against its dealer's signed commitment, before anything
	 * derived from this partner's data leaves. */
	for (size_t i = 0; i < s->np; i++) {
		struct npeer *p = &s->peers[i];
		const Fedlead__Wire__ShareCommitment *cm = NULL;
		uint8_t c_seed[K], c_secret[K];

		if (i == s->me || !p->has_ct)
			continue;
		for (size_t j = 0; j < ss->n_shares; j++)
			if (strcmp(ss->shares[j]->from, p->id) == 0)
				cm = ss->shares[j]->commitment;
		if ((r = check_dealt(s, p, cm, key)) < 0)
			goto out;
		if (r == 1) {
			/* The coordinator relays the ciphertext: without evidence
			 * this names nobody. */
			if (!may_disclose(s)) {
				r = fl_fail(FL_ERR_AUTH,
				            "share from %s does not authenticate; refused", p->id);
				goto out;
			}
			r = accuse(s, p, NULL, frame, len);
			goto out;
		}
		if ((r = share_commit(s->ctx, s->ref.round, p->id, s->id, KIND_SEED,
		                      (unsigned)s->me + 1, p->pt + K, c_seed)) != 0 ||
		    (r = share_commit(s->ctx, s->ref.round, p->id, s->id, KIND_SECRET,
		                      (unsigned)s->me + 1, p->pt, c_secret)) != 0)
			goto out;
		if (CRYPTO_memcmp(c_seed, cm->seed.data, K) != 0 ||
		    CRYPTO_memcmp(c_secret, cm->secret.data, K) != 0 ||
		    (!accused_once++ && fl_fault_hostile("false-accuse", s->ref.round))) {
			/* p signed a commitment that the share it sealed to this
			 * partner does not match: nothing of this round leaves
			 * but the proof (see accuse()). */
			r = accuse(s, p, key, frame, len);
			goto out;
		}
		/* What this partner acknowledges when it reveals (see
		 * fl_secagg_node_unmask()). */
		memcpy(p->cm_seed, cm->seed.data, K);
		memcpy(p->cm_secret, cm->secret.data, K);
	}
	if ((y = malloc((s->n ? s->n : 1) * sizeof(uint64_t))) == NULL)
		return FL_ERR_NOMEM;
	memcpy(y, s->x, s->n * sizeof(uint64_t));
	/* y = x + PRG(b) + sum over the others that shared of +-PRG(pairwise). */
	if ((r = fl_sa_mask(s->b, +1, y, s->n)) != 0)
		goto out;
	for (size_t i = 0; i < s->np; i++) {
		struct npeer *p = &s->peers[i];

		if (i == s->me || !p->has_ct)
			continue;
		if ((r = fl_sa_agree(s->s.sec, p->s_pub, FL_SA_LABEL_MASK, s->ctx, s->ref.round,
		                     s->id, p->id, key)) != 0 ||
		    (r = fl_sa_mask(key, fl_sa_pair_sign(s->id, p->id), y, s->n)) != 0)
			goto out;
	}
	set_ref(s, &rr);
	mu.ref = &rr;
	mu.kind = s->kind;
	mu.values = y;
	mu.n_values = s->n;
	if (s->n > 0 && fl_fault_hostile("short-masked", s->ref.round))
		mu.n_values = s->n - 1; /* test builds only */
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE;
	env.masked_update = &mu;
	if ((r = encode_frame(&env, frame, len)) != 0)
		goto out;
	/* The plain vector is no longer needed. */
	OPENSSL_cleanse(s->x, s->n * sizeof(uint64_t));
	s->step = 3;
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(y);
	return r;
}

static int name_listed(const char *id, char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], id) == 0)
			return 1;
	return 0;
}

/*
 * The sets of a ConsistencyCheck or UnmaskRequest, checked against what
 * this partner knows: it is a survivor, every survivor and every dropped
 * partner shared keys with it, nobody is both, and there are at least t
 * survivors and as many as its policy requires. *surv and *drop receive
 * the sets as sorted comma-separated strings.
 */
static int check_sets(struct fl_secagg_node *s, const char *what, char *const *sv, size_t ns,
                      char *const *dv, size_t nd, char **surv, char **drop)
{
	*surv = *drop = NULL;
	if (ns < s->t)
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: %s names %zu survivors, below the "
		               "threshold %u",
		               what, ns, s->t);
	if (ns < s->pol.min_partners)
		return fl_fail(FL_ERR_AUTH,
		               "node policy min_partners: %s would reveal a sum over "
		               "%zu partners, fewer than the %u this partner requires; refused",
		               what, ns, s->pol.min_partners);
	if (!name_listed(s->id, sv, ns))
		return fl_fail(FL_ERR_PROTO,
		               "coordinator: %s does not count this partner as a "
		               "survivor",
		               what);
	for (size_t i = 0; i < ns; i++) {
		struct npeer *p = node_peer(s, sv[i]);

		if (p == NULL || (!p->has_ct && p != &s->peers[s->me]))
			return fl_fail(FL_ERR_PROTO,
			               "coordinator: %s names \"%.64s\", who did not "
			               "share keys",
			               what, sv[i]);
		if (name_listed(p->id, dv, nd))
			return fl_fail(FL_ERR_AUTH,
			               "coordinator asked for both shares of partner %s; "
			               "refused",
			               p->id);
	}
	for (size_t i = 0; i < nd; i++) {
		struct npeer *p = node_peer(s, dv[i]);

		if (p == NULL || !p->has_ct)
			return fl_fail(FL_ERR_PROTO,
			               "coordinator: %s names \"%.64s\" as dropped, "
			               "who did not share keys",
			               what, dv[i]);
	}
	/* Everyone who shared keys with this partner is in one set or the
	 * other: leaving a partner out of both would hide whose masks stay. */
	for (size_t i = 0; i < s->np; i++) {
		const struct npeer *p = &s->peers[i];

		if ((p->has_ct || i == s->me) && !name_listed(p->id, sv, ns) &&
		    !name_listed(p->id, dv, nd))
			return fl_fail(FL_ERR_PROTO,
			               "coordinator: %s leaves out %s, who shared keys", what,
			               p->id);
	}
	if ((*surv = set_string(sv, ns)) == NULL || (*drop = set_string(dv, nd)) == NULL) {
		free(*surv);
		*surv = NULL;
		return fl_fail(FL_ERR_PROTO, "coordinator: %s names a partner twice", what);
	}
	return 0;
}

int fl_secagg_node_consistency(struct fl_secagg_node *s, const Fedlead__Wire__ConsistencyCheck *cc,
                               uint8_t **frame, size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__ConsistencySignature cs = FEDLEAD__WIRE__CONSISTENCY_SIGNATURE__INIT;
	Fedlead__Wire__RoundRef rr;
	char *surv = NULL, *drop = NULL;
	uint8_t digest[K], *sig = NULL;
	size_t siglen = 0;
	int r;

	*frame = NULL;
	*len = 0;
	s->refused_rule = "consistency_check";
	if (s->step != 3)
		return fl_fail(FL_ERR_PROTO, "coordinator: consistency_check out of order");
	if ((r = check_sets(s, "consistency_check", cc->survivors, cc->n_survivors, cc->dropped,
	                    cc->n_dropped, &surv, &drop)) != 0)
		return r;
	/* One survivor set per federation: a second set at weights equal or
	 * close to earlier ones differences to the missing partners' update. */
	if (s->hist->revealed && strcmp(s->hist->set, surv) != 0 &&
	    !s->pol.allow_participant_change) {
		char where[FL_WIRE_MAX_STRING + 64];

		if (s->hist->origin != NULL)
			snprintf(where, sizeof(where), "this data's sums in %s", s->hist->origin);
		else
			snprintf(where, sizeof(where), "this federation's sums so far");
		s->refused_rule = "allow_participant_change";
		r = fl_fail(
		        FL_ERR_AUTH,
		        "node policy: %s were over "
		        "{%.400s}; the coordinator now asks to reveal a sum over {%.400s}, which "
		        "would let the two be differenced; refused (allow_participant_change "
		        "permits it)",
		        where, s->hist->set, surv);
		goto out;
	}
	if ((r = survivor_digest(s->ctx, s->ref.round, s->task, surv, drop, digest)) != 0 ||
	    (r = fl_sa_sign_digest(s->key, SURVIVOR_LABEL, digest, &sig, &siglen)) != 0)
		goto out;
	set_ref(s, &rr);
	cs.ref = &rr;
	cs.signature = (ProtobufCBinaryData){siglen, sig};
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE;
	env.consistency_signature = &cs;
	if ((r = encode_frame(&env, frame, len)) != 0)
		goto out;
	s->signed_surv = surv;
	s->signed_drop = drop;
	surv = drop = NULL;
	s->step = 5;
out:
	free(sig);
	free(surv);
	free(drop);
	return r;
}

/* How many distinct survivors validly signed the set this partner signed. */
static int count_signatures(struct fl_secagg_node *s, const Fedlead__Wire__UnmaskRequest *rq,
                            size_t *valid)
{
	uint8_t digest[K];
	unsigned char *seen = calloc(s->np + 1, 1);
	int r;

	*valid = 0;
	if (seen == NULL)
		return FL_ERR_NOMEM;
	if ((r = survivor_digest(s->ctx, s->ref.round, s->task, s->signed_surv, s->signed_drop,
	                         digest)) != 0)
		goto out;
	for (size_t i = 0; i < rq->n_signatures; i++) {
		const Fedlead__Wire__SurvivorSignature *g = rq->signatures[i];
		struct npeer *p = node_peer(s, g->identity);
		size_t pi;

		if (p == NULL || !name_listed(p->id, rq->survivors, rq->n_survivors))
			continue;
		pi = (size_t)(p - s->peers);
		if (seen[pi])
			continue;
		/* An invalid signature is not counted, whoever made it: the
		 * coordinator's word about who signed counts for nothing. */
		if (fl_sa_verify_digest(s->store, p->cert, p->cert_len, p->id, SURVIVOR_LABEL,
		                        digest, g->signature.data, g->signature.len) != 0)
			continue;
		seen[pi] = 1;
		(*valid)++;
	}
	r = 0;
out:
	free(seen);
	return r;
}

/* The attempt this partner reveals shares in, into its history: what
 * evidence against a partner of it is later checked against. */
static int record_last(struct fl_secagg_node *s)
{
	struct fl_secagg_history *h = s->hist;
	struct rpeer *v = calloc(s->np + 1, sizeof(*v));

	if (v == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < s->np; i++) {
		snprintf(v[i].id, sizeof(v[i].id), "%s", s->peers[i].id);
		v[i].x = (unsigned)i + 1;
		if ((v[i].cert = malloc(s->peers[i].cert_len)) == NULL) {
			for (size_t j = 0; j < i; j++)
				free(v[j].cert);
			free(v);
			return FL_ERR_NOMEM;
		}
		memcpy(v[i].cert, s->peers[i].cert, s->peers[i].cert_len);
		v[i].cert_len = s->peers[i].cert_len;
	}
	last_clear(h);
	h->last_peers = v;
	h->last_np = s->np;
	snprintf(h->last_fed, sizeof(h->last_fed), "%s", s->fed);
	h->last_round = s->ref.round;
	memcpy(h->last_session, s->session, FL_WIRE_SESSION_LEN);
	h->last = 1;
	return 0;
}

const char *fl_secagg_node_refused_rule(const struct fl_secagg_node *s)
{
	return s != NULL && s->refused_rule != NULL ? s->refused_rule : "consistency_check";
}

int fl_secagg_node_unmask(struct fl_secagg_node *s, const Fedlead__Wire__UnmaskRequest *rq,
                          uint8_t **frame, size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__UnmaskReply ur = FEDLEAD__WIRE__UNMASK_REPLY__INIT;
	Fedlead__Wire__RoundRef rr;
	Fedlead__Wire__RevealedShare *rs = NULL, **rsp = NULL;
	struct rdigest *dg = NULL;
	uint8_t *shares = NULL, *sig = NULL, digest[K];
	size_t k = 0, total = rq->n_survivors + rq->n_dropped, siglen = 0;
	int r, altered = 0;

	*frame = NULL;
	*len = 0;
	s->refused_rule = "consistency_check";
	if (s->step != 5 && s->step != 4)
		return fl_fail(FL_ERR_PROTO, "coordinator: unmask_request out of order");
	{
		char *surv = NULL, *drop = NULL;
		size_t valid;
		int same;

		if ((r = check_sets(s, "unmask_request", rq->survivors, rq->n_survivors,
		                    rq->dropped, rq->n_dropped, &surv, &drop)) != 0)
			return r;
		same = strcmp(surv, s->signed_surv) == 0 && strcmp(drop, s->signed_drop) == 0;
		free(surv);
		free(drop);
		if (!same)
			return fl_fail(FL_ERR_AUTH,
			               "coordinator: the unmask request's survivor set "
			               "differs from the one this partner signed; refused");
		if ((r = count_signatures(s, rq, &valid)) != 0)
			return r;
		if (valid < s->t)
			return fl_fail(
			        FL_ERR_AUTH,
			        "coordinator: only %zu survivors' signatures of "
			        "the survivor set verify, fewer than the threshold %u; refused",
			        valid, s->t);
	}
	/* The one rule that protects every partner's input: never both shares
	 * of one peer, in this request or across requests of the round. */
	for (size_t i = 0; i < rq->n_survivors; i++) {
		struct npeer *p = node_peer(s, rq->survivors[i]);

		if (p == NULL || (!p->has_ct && p != &s->peers[s->me]))
			return fl_fail(FL_ERR_PROTO,
			               "coordinator: unmask_request names \"%.64s\", "
			               "who did not share keys",
			               rq->survivors[i]);
		if (name_listed(p->id, rq->dropped, rq->n_dropped) || p->revealed == 2)
			return fl_fail(FL_ERR_AUTH,
			               "coordinator asked for both shares of partner %s; "
			               "refused",
			               p->id);
	}
	for (size_t i = 0; i < rq->n_dropped; i++) {
		struct npeer *p = node_peer(s, rq->dropped[i]);

		if (p == NULL || !p->has_ct)
			return fl_fail(FL_ERR_PROTO,
			               "coordinator: unmask_request names \"%.64s\" as "
			               "dropped, who did not share keys",
			               rq->dropped[i]);
		if (p->revealed == 1)
			return fl_fail(FL_ERR_AUTH,
			               "coordinator asked for both shares of partner %s; "
			               "refused",
			               p->id);
	}
	r = FL_ERR_NOMEM;
	if ((rs = calloc(total + 1, sizeof(*rs))) == NULL ||
	    (rsp = calloc(total + 1, sizeof(*rsp))) == NULL ||
	    (dg = calloc(total + 1, sizeof(*dg))) == NULL ||
	    (shares = malloc((total + 1) * K)) == NULL)
		goto out;
	for (size_t i = 0; i < total; i++) {
		int survivor = i < rq->n_survivors;
		const char *id = survivor ? rq->survivors[i] : rq->dropped[i - rq->n_survivors];
		struct npeer *p = node_peer(s, id);
		uint8_t *dst = shares + k * K;

		if (p == &s->peers[s->me])
			memcpy(dst, survivor ? s->own_b : s->own_s, K);
		else /* opened and checked against p's commitment on receipt */
			memcpy(dst, survivor ? p->pt + K : p->pt, K);
		p->revealed = survivor ? 1 : 2;
		/* Test builds only: the first share of another partner, altered. */
		if (p != &s->peers[s->me] && !altered &&
		    (altered = fl_fault_hostile("bad-reveal", s->ref.round)) != 0)
			dst[5] ^= 0x01;
		fedlead__wire__revealed_share__init(&rs[k]);
		rs[k].owner = p->id;
		rs[k].what = survivor ? 1 : 2;
		rs[k].share = (ProtobufCBinaryData){K, dst};
		rsp[k] = &rs[k];
		/* Signed with the commitment it was checked against on receipt:
		 * the two are equal unless this partner deviates, so a reply
		 * whose pair differs is proof against it alone (wire.proto,
		 * RevealedDigest). */
		dg[k].owner = p->id;
		dg[k].what = rs[k].what;
		if (p == &s->peers[s->me])
			memcpy(dg[k].committed, survivor ? s->own_cb : s->own_cs, K);
		else
			memcpy(dg[k].committed, survivor ? p->cm_seed : p->cm_secret, K);
		if ((r = share_commit(s->ctx, s->ref.round, p->id, s->id, rs[k].what,
		                      (unsigned)s->me + 1, dst, dg[k].revealed)) != 0)
			goto out;
		k++;
	}
	if ((r = reveal_digest(s->ctx, s->ref.round, s->id, dg, k, digest)) != 0 ||
	    (r = fl_sa_sign_digest(s->key, REVEAL_LABEL, digest, &sig, &siglen)) != 0)
		goto out;
	/* Test builds only: a reply whose signature does not verify. */
	if (fl_fault_hostile("bad-reveal-sig", s->ref.round))
		sig[siglen > 8 ? siglen - 8 : 0] ^= 0x01;
	/* Kept to check evidence against, before anything is revealed. */
	if ((r = record_last(s)) != 0)
		goto out;
	set_ref(s, &rr);
	ur.ref = &rr;
	ur.shares = rsp;
	ur.n_shares = k;
	ur.signature = (ProtobufCBinaryData){siglen, sig};
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY;
	env.unmask_reply = &ur;
	if ((r = encode_frame(&env, frame, len)) != 0)
		goto out;
	s->step = 4;
	if (!s->hist->revealed) {
		if ((s->hist->set = strdup(s->signed_surv)) == NULL) {
			r = FL_ERR_NOMEM;
			goto out;
		}
		s->hist->revealed = 1;
	}
out:
	if (shares != NULL)
		OPENSSL_cleanse(shares, (total + 1) * K);
	free(shares);
	free(rs);
	free(rsp);
	free(dg);
	free(sig);
	return r;
}

/* ===================================================================== */
/* coordinator side                                                      */
/* ===================================================================== */

/* A dealer's signed commitment to the shares it dealt one holder. */
struct ccommit {
	int have;
	uint8_t seed[K], secret[K];
	uint8_t *sig;
	size_t sig_len;
	Fedlead__Wire__ShareCommitment msg; /* relayed to the holder */
};

struct cpeer {
	char *id;
	int advertised, shared, masked, signed_set, revealed, accused;
	char *fault;        /* a proven deviation, naming this partner */
	struct ccommit *cm; /* its commitments, by the holder's index in p[] */
	uint8_t c_pub[K], s_pub[K], commit[K], task[K];
	uint8_t *ssig; /* its signature of the survivor set */
	size_t ssig_len;
	uint8_t *sig, *cert;
	size_t sig_len, cert_len;
	size_t idx;                         /* position in the key list, x = idx + 1 */
	Fedlead__Wire__EncryptedShare *out; /* shares this partner sent, one per peer */
	uint8_t **out_ct;
	size_t n_out;
	/* Its unmask reply as it signed it (protocol 4), for evidence. */
	struct rdigest *rd;
	size_t n_rd;
	uint8_t *rsig;
	size_t rsig_len;
	size_t bad; /* 1 + index in rd of a share that does not match, or 0 */
};

struct fl_secagg_coord {
	Fedlead__Wire__RoundRef ref;
	char fed[FL_WIRE_MAX_STRING + 1];
	uint8_t fp[FL_WIRE_FINGERPRINT_LEN];
	uint8_t session[FL_WIRE_SESSION_LEN];
	char ctx[CTX_MAX];
	int frac_bits;
	unsigned t;
	Fedlead__Wire__UpdateKind kind;
	struct cpeer *p;
	size_t np, n, n_listed;
	uint64_t *sum; /* of the masked inputs, mod 2^64 */
	enum fl_secagg_step step;
	/* reveals[r * np + o]: share of owner o's secret revealed by r */
	uint8_t *rev;
	unsigned char *rev_what;
};

static void cpeer_free_shares(struct cpeer *p)
{
	for (size_t i = 0; i < p->n_out; i++)
		free(p->out_ct[i]);
	free(p->out);
	free(p->out_ct);
	p->out = NULL;
	p->out_ct = NULL;
	p->n_out = 0;
}

void fl_secagg_coord_free(struct fl_secagg_coord *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->np; i++) {
		free(c->p[i].id);
		free(c->p[i].sig);
		free(c->p[i].ssig);
		free(c->p[i].cert);
		free(c->p[i].fault);
		free(c->p[i].rd);
		free(c->p[i].rsig);
		for (size_t j = 0; c->p[i].cm != NULL && j < c->np; j++)
			free(c->p[i].cm[j].sig);
		free(c->p[i].cm);
		for (size_t j = 0; j < c->p[i].n_out; j++)
			free((char *)c->p[i].out[j].to);
		cpeer_free_shares(&c->p[i]);
	}
	if (c->rev != NULL)
		OPENSSL_cleanse(c->rev, c->np * c->np * K);
	free(c->rev);
	free(c->rev_what);
	free(c->p);
	free(c->sum);
	free(c);
}

int fl_secagg_coord_new(const char *federation_id, const Fedlead__Wire__RoundRef *ref,
                        const Fedlead__Wire__SecAggParams *p, unsigned t,
                        const char *const *partners, size_t np, Fedlead__Wire__UpdateKind kind,
                        size_t n, struct fl_secagg_coord **out)
{
	struct fl_secagg_coord *c;

	*out = NULL;
	if (np > FL_WIRE_MAX_PARTIES || t < 2 || t > np)
		return fl_fail(FL_ERR_INVALID,
		               "secure aggregation needs 2 <= threshold (%u) <= "
		               "partners (%zu) <= %d",
		               t, np, FL_WIRE_MAX_PARTIES);
	/* The key list is built in this order and nodes refuse an unsorted one. */
	for (size_t i = 1; i < np; i++)
		if (strcmp(partners[i - 1], partners[i]) >= 0)
			return fl_fail(FL_ERR_INVALID,
			               "secure aggregation: partner \"%.64s\" is out "
			               "of order (partners must be sorted and distinct)",
			               partners[i]);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return FL_ERR_NOMEM;
	snprintf(c->fed, sizeof(c->fed), "%s", federation_id);
	memcpy(c->fp, ref->schema_fingerprint.data, sizeof(c->fp));
	copy_ref(ref, &c->ref);
	memcpy(c->session, p->session.data, FL_WIRE_SESSION_LEN);
	context(c->fed, c->session, NULL, c->ctx);
	c->frac_bits = p->frac_bits;
	c->t = t;
	c->kind = kind;
	c->np = np;
	c->n = n;
	if ((c->p = calloc(np, sizeof(*c->p))) == NULL ||
	    (c->sum = calloc(n ? n : 1, sizeof(uint64_t))) == NULL ||
	    (c->rev = calloc(np * np, K)) == NULL || (c->rev_what = calloc(np * np, 1)) == NULL)
		goto fail;
	for (size_t i = 0; i < np; i++)
		if ((c->p[i].id = strdup(partners[i])) == NULL)
			goto fail;
	*out = c;
	return 0;
fail:
	fl_secagg_coord_free(c);
	return FL_ERR_NOMEM;
}

static struct cpeer *coord_peer(struct fl_secagg_coord *c, const char *id)
{
	for (size_t i = 0; i < c->np; i++)
		if (strcmp(c->p[i].id, id) == 0)
			return &c->p[i];
	return NULL;
}

/*
 * Records what p was proven to have done (the first thing only) and
 * returns 0: the message that proved it was handled, and the state
 * machine excludes p (fl_secagg_coord_fault()). The text is also the
 * error message, for callers that stop.
 */
static int cfault(struct cpeer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cfault(struct cpeer *p, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fl_fail(FL_ERR_AUTH, "%s", msg);
	if (p->fault == NULL && (p->fault = strdup(msg)) == NULL)
		return FL_ERR_NOMEM;
	return 0;
}

const char *fl_secagg_coord_fault(const struct fl_secagg_coord *c, const char *partner)
{
	for (size_t i = 0; i < c->np; i++)
		if (strcmp(c->p[i].id, partner) == 0)
			return c->p[i].fault;
	return NULL;
}

static void cset_ref(struct fl_secagg_coord *c, Fedlead__Wire__RoundRef *r)
{
	fedlead__wire__round_ref__init(r);
	r->federation_id = c->fed;
	r->round = c->ref.round;
	r->schema_fingerprint.data = c->fp;
	r->schema_fingerprint.len = sizeof(c->fp);
}

enum fl_secagg_step fl_secagg_coord_step(const struct fl_secagg_coord *c)
{
	return c->step;
}

int fl_secagg_coord_member(const struct fl_secagg_coord *c, enum fl_secagg_step step,
                           const char *partner)
{
	for (size_t i = 0; i < c->np; i++)
		if (strcmp(c->p[i].id, partner) == 0) {
			const struct cpeer *p = &c->p[i];

			if (p->fault != NULL || p->accused)
				return 0;
			switch (step) {
			case FL_SECAGG_ADVERT: return p->advertised;
			case FL_SECAGG_SHARES: return p->shared;
			case FL_SECAGG_MASKED: return p->masked;
			case FL_SECAGG_CONSISTENCY: return p->signed_set;
			case FL_SECAGG_UNMASK: return p->revealed;
			}
		}
	return 0;
}

size_t fl_secagg_coord_count(const struct fl_secagg_coord *c, enum fl_secagg_step step)
{
	size_t n = 0;

	for (size_t i = 0; i < c->np; i++)
		n += fl_secagg_coord_member(c, step, c->p[i].id) != 0;
	return n;
}

int fl_secagg_coord_owes(const struct fl_secagg_coord *c, const char *partner)
{
	for (size_t i = 0; i < c->np; i++)
		if (strcmp(c->p[i].id, partner) == 0 && (c->p[i].fault != NULL || c->p[i].accused))
			return 0;
	switch (c->step) {
	case FL_SECAGG_ADVERT: return !fl_secagg_coord_member(c, FL_SECAGG_ADVERT, partner);
	case FL_SECAGG_SHARES:
		return fl_secagg_coord_member(c, FL_SECAGG_ADVERT, partner) &&
		       !fl_secagg_coord_member(c, FL_SECAGG_SHARES, partner);
	case FL_SECAGG_MASKED:
		return fl_secagg_coord_member(c, FL_SECAGG_SHARES, partner) &&
		       !fl_secagg_coord_member(c, FL_SECAGG_MASKED, partner);
	case FL_SECAGG_CONSISTENCY:
		return fl_secagg_coord_member(c, FL_SECAGG_MASKED, partner) &&
		       !fl_secagg_coord_member(c, FL_SECAGG_CONSISTENCY, partner);
	case FL_SECAGG_UNMASK:
		return fl_secagg_coord_member(c, FL_SECAGG_CONSISTENCY, partner) &&
		       !fl_secagg_coord_member(c, FL_SECAGG_UNMASK, partner);
	}
	return 0;
}

int fl_secagg_coord_advert(struct fl_secagg_coord *c, const char *partner,
                           const Fedlead__Wire__KeyAdvert *a, const uint8_t *cert, size_t cert_len)
{
	struct cpeer *p = coord_peer(c, partner);

	if (p == NULL || c->step != FL_SECAGG_ADVERT || p->advertised)
		return fl_fail(FL_ERR_PROTO, "peer %s: key_advert out of order", partner);
	if (cert == NULL || cert_len == 0 || cert_len > FL_WIRE_MAX_CERT)
		return fl_fail(FL_ERR_INTERNAL, "peer %s: no certificate to relay", partner);
	if ((p->sig = malloc(a->signature.len)) == NULL || (p->cert = malloc(cert_len)) == NULL)
		return FL_ERR_NOMEM;
	memcpy(p->sig, a->signature.data, a->signature.len);
	p->sig_len = a->signature.len;
	memcpy(p->cert, cert, cert_len);
	p->cert_len = cert_len;
	memcpy(p->c_pub, a->c_pub.data, K);
	memcpy(p->s_pub, a->s_pub.data, K);
	memcpy(p->commit, a->b_commit.data, K);
	memcpy(p->task, a->task_hash.data, K);
	p->advertised = 1;
	return 0;
}

int fl_secagg_coord_key_list(struct fl_secagg_coord *c, uint8_t **frame, size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__KeyList kl = FEDLEAD__WIRE__KEY_LIST__INIT;
	Fedlead__Wire__RoundRef rr;
	Fedlead__Wire__KeyEntry *e = NULL, **ep = NULL;
	size_t k = 0;
	int r;

	if (fl_secagg_coord_count(c, FL_SECAGG_ADVERT) < c->t)
		return fl_fail(FL_ERR_PROTO,
		               "round %llu: only %zu partners advertised keys, the "
		               "threshold is %u",
		               (unsigned long long)c->ref.round,
		               fl_secagg_coord_count(c, FL_SECAGG_ADVERT), c->t);
	if ((e = calloc(c->np, sizeof(*e))) == NULL || (ep = calloc(c->np, sizeof(*ep))) == NULL) {
		free(e);
		return FL_ERR_NOMEM;
	}
	/* c->p is sorted by identity (the state machine's order). */
	for (size_t i = 0; i < c->np; i++) {
		struct cpeer *p = &c->p[i];

		if (!p->advertised)
			continue;
		fedlead__wire__key_entry__init(&e[k]);
		e[k].identity = p->id;
		e[k].certificate = (ProtobufCBinaryData){p->cert_len, p->cert};
		e[k].c_pub = (ProtobufCBinaryData){K, p->c_pub};
		e[k].s_pub = (ProtobufCBinaryData){K, p->s_pub};
		e[k].signature = (ProtobufCBinaryData){p->sig_len, p->sig};
		e[k].b_commit = (ProtobufCBinaryData){K, p->commit};
		e[k].task_hash = (ProtobufCBinaryData){K, p->task};
		ep[k] = &e[k];
		p->idx = k++;
	}
	c->n_listed = k;
	cset_ref(c, &rr);
	kl.ref = &rr;
	kl.entries = ep;
	kl.n_entries = k;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST;
	env.key_list = &kl;
	r = encode_frame(&env, frame, len);
	if (r == 0)
		c->step = FL_SECAGG_SHARES;
	free(e);
	free(ep);
	return r;
}

/* Keeps one signed commitment of dealer p for holder h, or records p's fault. */
static int keep_commitment(struct fl_secagg_coord *c, struct cpeer *p, struct cpeer *h,
                           const Fedlead__Wire__ShareCommitment *cm)
{
	struct ccommit *k = &p->cm[h - c->p];
	uint8_t digest[K];
	int r;

	if (cm == NULL || strcmp(cm->holder, h->id) != 0 || cm->seed.len != K ||
	    cm->secret.len != K || cm->signature.len == 0)
		return cfault(p,
		              "round %llu: partner %s sent no commitment to the shares it dealt "
		              "%s; %s is excluded",
		              (unsigned long long)c->ref.round, p->id, h == p ? "itself" : h->id,
		              p->id);
	if ((r = commit_digest(c->ctx, c->ref.round, p->id, h->id, (unsigned)h->idx + 1,
	                       cm->seed.data, cm->secret.data, digest)) != 0)
		return r;
	/* The certificate came with p's TLS handshake, verified there. */
	if ((r = fl_sa_verify_digest_peer(p->cert, p->cert_len, p->id, COMMIT_LABEL, digest,
	                                  cm->signature.data, cm->signature.len)) != 0) {
		if (r != FL_ERR_AUTH)
			return r;
		return cfault(p,
		              "round %llu: partner %s's commitment to the shares it dealt %s "
		              "does not carry its valid signature; %s is excluded",
		              (unsigned long long)c->ref.round, p->id, h == p ? "itself" : h->id,
		              p->id);
	}
	free(k->sig);
	if ((k->sig = malloc(cm->signature.len)) == NULL)
		return FL_ERR_NOMEM;
	memcpy(k->sig, cm->signature.data, cm->signature.len);
	k->sig_len = cm->signature.len;
	memcpy(k->seed, cm->seed.data, K);
	memcpy(k->secret, cm->secret.data, K);
	fedlead__wire__share_commitment__init(&k->msg);
	k->msg.holder = h->id;
	k->msg.seed = (ProtobufCBinaryData){K, k->seed};
	k->msg.secret = (ProtobufCBinaryData){K, k->secret};
	k->msg.signature = (ProtobufCBinaryData){k->sig_len, k->sig};
	k->have = 1;
	return 0;
}

/*
 * Dealer p's signed commitments: one for each listed holder, its own share
 * included. Checked here so that what is relayed to a holder, and what a
 * revealed share is later checked against, is p's word, not anyone else's.
 */
static int check_commitments(struct fl_secagg_coord *c, struct cpeer *p,
                             const Fedlead__Wire__ShareSet *ss)
{
	int r;

	if (p->cm == NULL && (p->cm = calloc(c->np, sizeof(*p->cm))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < c->np; i++)
		p->cm[i].have = 0;
	if ((r = keep_commitment(c, p, p, ss->own)) != 0 || p->fault != NULL)
		return r;
	for (size_t i = 0; i < ss->n_shares; i++) {
		struct cpeer *h = coord_peer(c, ss->shares[i]->to);

		/* Addressing is checked by the caller; a holder named twice is
		 * caught there too. */
		if (h == NULL || h == p || !h->advertised)
			continue;
		if ((r = keep_commitment(c, p, h, ss->shares[i]->commitment)) != 0 ||
		    p->fault != NULL)
			return r;
	}
	return 0;
}

int fl_secagg_coord_shares(struct fl_secagg_coord *c, const char *partner,
                           const Fedlead__Wire__ShareSet *ss)
{
	struct cpeer *p = coord_peer(c, partner);
	int r;

	if (p == NULL || c->step != FL_SECAGG_SHARES || !p->advertised || p->shared ||
	    p->fault != NULL)
		return fl_fail(FL_ERR_PROTO, "peer %s: share_set out of order", partner);
	if (ss->n_shares != c->n_listed - 1)
		return fl_fail(FL_ERR_PROTO,
		               "peer %s: %zu shares, expected one for each of the %zu "
		               "others",
		               partner, ss->n_shares, c->n_listed - 1);
	/* A set refused half-way may come again: drop what it left. */
	for (size_t j = 0; j < p->n_out; j++)
		free((char *)p->out[j].to);
	cpeer_free_shares(p);
	if ((r = check_commitments(c, p, ss)) != 0 || p->fault != NULL)
		return r;
	if ((p->out = calloc(ss->n_shares + 1, sizeof(*p->out))) == NULL ||
	    (p->out_ct = calloc(ss->n_shares + 1, sizeof(*p->out_ct))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < ss->n_shares; i++) {
		const Fedlead__Wire__EncryptedShare *e = ss->shares[i];
		struct cpeer *to = coord_peer(c, e->to);

		if (strcmp(e->from, partner) != 0 || to == NULL || to == p || !to->advertised)
			return fl_fail(FL_ERR_PROTO,
			               "peer %s: share addressed from \"%.64s\" to "
			               "\"%.64s\"",
			               partner, e->from, e->to);
		for (size_t j = 0; j < p->n_out; j++)
			if (strcmp(p->out[j].to, e->to) == 0)
				return fl_fail(FL_ERR_PROTO, "peer %s: two shares for %s", partner,
				               e->to);
		if ((p->out_ct[i] = malloc(FL_WIRE_SHARE_CT_LEN)) == NULL)
			return FL_ERR_NOMEM;
		p->n_out = i + 1; /* so that a failure below frees this share too */
		memcpy(p->out_ct[i], e->ciphertext.data, FL_WIRE_SHARE_CT_LEN);
		fedlead__wire__encrypted_share__init(&p->out[i]);
		p->out[i].from = p->id;
		if ((p->out[i].to = strdup(e->to)) == NULL)
			return FL_ERR_NOMEM;
		p->out[i].ciphertext = (ProtobufCBinaryData){FL_WIRE_SHARE_CT_LEN, p->out_ct[i]};
	}
	p->shared = 1;
	return 0;
}

int fl_secagg_coord_shares_for(struct fl_secagg_coord *c, const char *partner, uint8_t **frame,
                               size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__ShareSet ss = FEDLEAD__WIRE__SHARE_SET__INIT;
	Fedlead__Wire__RoundRef rr;
	Fedlead__Wire__EncryptedShare **sp;
	size_t k = 0;
	int r;

	if (fl_secagg_coord_count(c, FL_SECAGG_SHARES) < c->t)
		return fl_fail(FL_ERR_PROTO,
		               "round %llu: only %zu partners shared keys, the "
		               "threshold is %u",
		               (unsigned long long)c->ref.round,
		               fl_secagg_coord_count(c, FL_SECAGG_SHARES), c->t);
	c->step = FL_SECAGG_MASKED;
	if ((sp = calloc(c->np + 1, sizeof(*sp))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < c->np; i++) {
		struct cpeer *q = &c->p[i];

		if (!q->shared)
			continue;
		for (size_t j = 0; j < q->n_out; j++)
			if (strcmp(q->out[j].to, partner) == 0) {
				struct cpeer *h = coord_peer(c, partner);

				/* The dealer's signed commitment rides with its share. */
				q->out[j].commitment = h != NULL && q->cm[h - c->p].have
				                               ? &q->cm[h - c->p].msg
				                               : NULL;
				sp[k++] = &q->out[j];
			}
	}
	cset_ref(c, &rr);
	ss.ref = &rr;
	ss.shares = sp;
	ss.n_shares = k;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET;
	env.share_set = &ss;
	r = encode_frame(&env, frame, len);
	free(sp);
	return r;
}

int fl_secagg_coord_masked(struct fl_secagg_coord *c, const char *partner,
                           const Fedlead__Wire__MaskedUpdate *m)
{
	struct cpeer *p = coord_peer(c, partner);

	if (p == NULL || c->step != FL_SECAGG_MASKED || !p->shared || p->masked ||
	    p->fault != NULL || p->accused)
		return fl_fail(FL_ERR_PROTO, "peer %s: masked_update out of order", partner);
	/* Its own message over its own authenticated connection: nobody else
	 * can have made it malformed. */
	if (m->kind != c->kind || m->n_values != c->n)
		return cfault(p,
		              "round %llu: partner %s sent a masked update of %zu values of kind "
		              "%d, expected %zu of kind %d; %s is excluded",
		              (unsigned long long)c->ref.round, partner, m->n_values, (int)m->kind,
		              c->n, (int)c->kind, partner);
	/* Only the running sum is kept: no partner's vector, masked or not,
	 * outlives this call. */
	for (size_t j = 0; j < c->n; j++)
		c->sum[j] += m->values[j];
	p->masked = 1;
	return 0;
}

/* The survivors (masked input arrived) and the dropped (shared keys, no
 * masked input), in key-list order; the arrays are for free(). */
static int coord_sets(struct fl_secagg_coord *c, char ***surv, size_t *ns, char ***drop, size_t *nd)
{
	*ns = *nd = 0;
	*surv = calloc(c->np + 1, sizeof(char *));
	*drop = calloc(c->np + 1, sizeof(char *));
	if (*surv == NULL || *drop == NULL) {
		free(*surv);
		free(*drop);
		return FL_ERR_NOMEM;
	}
	for (size_t i = 0; i < c->np; i++) {
		if (c->p[i].masked)
			(*surv)[(*ns)++] = c->p[i].id;
		else if (c->p[i].shared)
			(*drop)[(*nd)++] = c->p[i].id;
	}
	return 0;
}

int fl_secagg_coord_consistency_check(struct fl_secagg_coord *c, uint8_t **frame, size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__ConsistencyCheck cc = FEDLEAD__WIRE__CONSISTENCY_CHECK__INIT;
	Fedlead__Wire__RoundRef rr;
	char **surv, **drop;
	int r;

	if (fl_secagg_coord_count(c, FL_SECAGG_MASKED) < c->t)
		return fl_fail(FL_ERR_PROTO,
		               "round %llu: masked input from only %zu partners, the "
		               "threshold is %u: the round is abandoned and nothing is revealed",
		               (unsigned long long)c->ref.round,
		               fl_secagg_coord_count(c, FL_SECAGG_MASKED), c->t);
	if ((r = coord_sets(c, &surv, &cc.n_survivors, &drop, &cc.n_dropped)) != 0)
		return r;
	cset_ref(c, &rr);
	cc.ref = &rr;
	cc.survivors = surv;
	cc.dropped = drop;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK;
	env.consistency_check = &cc;
	r = encode_frame(&env, frame, len);
	if (r == 0)
		c->step = FL_SECAGG_CONSISTENCY;
	free(surv);
	free(drop);
	return r;
}

int fl_secagg_coord_signature(struct fl_secagg_coord *c, const char *partner,
                              const Fedlead__Wire__ConsistencySignature *sig)
{
	struct cpeer *p = coord_peer(c, partner);

	if (p == NULL || c->step != FL_SECAGG_CONSISTENCY || !p->masked || p->signed_set ||
	    p->fault != NULL)
		return fl_fail(FL_ERR_PROTO, "peer %s: consistency_signature out of order",
		               partner);
	/* Relayed as it came: each node checks every signature itself. */
	if ((p->ssig = malloc(sig->signature.len)) == NULL)
		return FL_ERR_NOMEM;
	memcpy(p->ssig, sig->signature.data, sig->signature.len);
	p->ssig_len = sig->signature.len;
	p->signed_set = 1;
	return 0;
}

int fl_secagg_coord_unmask_request(struct fl_secagg_coord *c, uint8_t **frame, size_t *len)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__UnmaskRequest rq = FEDLEAD__WIRE__UNMASK_REQUEST__INIT;
	Fedlead__Wire__RoundRef rr;
	Fedlead__Wire__SurvivorSignature *g = NULL, **gp = NULL;
	char **surv = NULL, **drop = NULL;
	int r;

	if (fl_secagg_coord_count(c, FL_SECAGG_CONSISTENCY) < c->t)
		return fl_fail(FL_ERR_PROTO,
		               "round %llu: only %zu survivors signed the survivor "
		               "set, the threshold is %u: the round is abandoned and nothing is "
		               "revealed",
		               (unsigned long long)c->ref.round,
		               fl_secagg_coord_count(c, FL_SECAGG_CONSISTENCY), c->t);
	if ((r = coord_sets(c, &surv, &rq.n_survivors, &drop, &rq.n_dropped)) != 0)
		return r;
	r = FL_ERR_NOMEM;
	if ((g = calloc(c->np + 1, sizeof(*g))) == NULL ||
	    (gp = calloc(c->np + 1, sizeof(*gp))) == NULL)
		goto out;
	for (size_t i = 0; i < c->np; i++) {
		struct cpeer *p = &c->p[i];

		if (!p->signed_set)
			continue;
		fedlead__wire__survivor_signature__init(&g[rq.n_signatures]);
		g[rq.n_signatures].identity = p->id;
		g[rq.n_signatures].signature = (ProtobufCBinaryData){p->ssig_len, p->ssig};
		gp[rq.n_signatures] = &g[rq.n_signatures];
		rq.n_signatures++;
	}
	cset_ref(c, &rr);
	rq.ref = &rr;
	rq.survivors = surv;
	rq.dropped = drop;
	rq.signatures = gp;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST;
	env.unmask_request = &rq;
	r = encode_frame(&env, frame, len);
	if (r == 0)
		c->step = FL_SECAGG_UNMASK;
out:
	free(g);
	free(gp);
	free(surv);
	free(drop);
	return r;
}

/* Sets revealer ri's shares aside (wiped): none of them is used. */
static void reveal_forget(struct fl_secagg_coord *c, size_t ri)
{
	OPENSSL_cleanse(c->rev + ri * c->np * K, c->np * K);
	memset(c->rev_what + ri * c->np, 0, c->np);
}

int fl_secagg_coord_reveal(struct fl_secagg_coord *c, const char *partner,
                           const Fedlead__Wire__UnmaskReply *u)
{
	struct cpeer *p = coord_peer(c, partner);
	size_t ri;

	if (p == NULL || c->step != FL_SECAGG_UNMASK || !p->signed_set || p->revealed ||
	    p->fault != NULL)
		return fl_fail(FL_ERR_PROTO, "peer %s: unmask_reply out of order", partner);
	ri = (size_t)(p - c->p);
	for (size_t i = 0; i < u->n_shares; i++) {
		const Fedlead__Wire__RevealedShare *s = u->shares[i];
		struct cpeer *o = coord_peer(c, s->owner);
		size_t oi;

		if (o == NULL || !o->shared)
			return fl_fail(FL_ERR_PROTO,
			               "peer %s: revealed a share of \"%.64s\", who is "
			               "not in this round",
			               partner, s->owner);
		/* A survivor's seed share and a dropped partner's secret share,
		 * nothing else: anything else could unmask one input. */
		if ((s->what == 1) != (o->masked != 0))
			return fl_fail(FL_ERR_PROTO,
			               "peer %s: revealed the wrong kind of share of %s", partner,
			               o->id);
		oi = (size_t)(o - c->p);
		if (c->rev_what[ri * c->np + oi] != 0)
			return fl_fail(FL_ERR_PROTO, "peer %s: two shares of %s", partner, o->id);
		memcpy(c->rev + (ri * c->np + oi) * K, s->share.data, K);
		c->rev_what[ri * c->np + oi] = (unsigned char)s->what;
	}
	p->revealed = 1;
	/*
	 * The reply as the revealer signed it: each share's commitment at its
	 * x, and the dealer's commitment this coordinator relayed to it (which
	 * it checked the share against on receipt). A reply that does not carry
	 * the revealer's signature over these is its own doing: the signature
	 * is made and checked over what the revealer sent on its own
	 * connection and what the dealers signed.
	 */
	if ((p->rd = calloc(u->n_shares + 1, sizeof(*p->rd))) == NULL)
		return FL_ERR_NOMEM;
	for (size_t i = 0; i < u->n_shares; i++) {
		struct cpeer *o = coord_peer(c, u->shares[i]->owner);
		size_t oi = (size_t)(o - c->p);
		unsigned what = c->rev_what[ri * c->np + oi];
		int r;

		if (o->cm == NULL || !o->cm[ri].have)
			return fl_fail(FL_ERR_INTERNAL, "round %llu: no commitment of %s for %s",
			               (unsigned long long)c->ref.round, o->id, p->id);
		p->rd[i].owner = o->id;
		p->rd[i].what = what;
		memcpy(p->rd[i].committed, what == KIND_SEED ? o->cm[ri].seed : o->cm[ri].secret,
		       K);
		if ((r = share_commit(c->ctx, c->ref.round, o->id, p->id, what,
		                      (unsigned)p->idx + 1, c->rev + (ri * c->np + oi) * K,
		                      p->rd[i].revealed)) != 0)
			return r;
		p->n_rd = i + 1;
	}
	if (u->signature.len == 0) {
		reveal_forget(c, ri);
		return cfault(p,
		              "round %llu: partner %s sent an unsigned unmask reply; %s is "
		              "excluded",
		              (unsigned long long)c->ref.round, p->id, p->id);
	}
	{
		uint8_t digest[K];
		int r;

		if ((r = reveal_digest(c->ctx, c->ref.round, p->id, p->rd, p->n_rd, digest)) != 0)
			return r;
		/* The certificate came with p's TLS handshake, verified there. */
		if ((r = fl_sa_verify_digest_peer(p->cert, p->cert_len, p->id, REVEAL_LABEL, digest,
		                                  u->signature.data, u->signature.len)) != 0) {
			if (r != FL_ERR_AUTH)
				return r;
			reveal_forget(c, ri);
			return cfault(p,
			              "round %llu: partner %s's unmask reply does not carry its "
			              "valid signature; %s is excluded",
			              (unsigned long long)c->ref.round, p->id, p->id);
		}
	}
	if ((p->rsig = malloc(u->signature.len)) == NULL)
		return FL_ERR_NOMEM;
	memcpy(p->rsig, u->signature.data, u->signature.len);
	p->rsig_len = u->signature.len;
	/*
	 * Every share against what its dealer signed for this revealer. An
	 * honest revealer checked the same commitment when it received the
	 * share (and accused the dealer had it not matched), so a revealed
	 * share that differs is the revealer's doing, and its signed reply
	 * says so to anyone (fl_secagg_coord_evidence()): all of its shares
	 * are set aside, and the others' may still reach t for every owner.
	 */
	for (size_t i = 0; i < p->n_rd; i++) {
		if (CRYPTO_memcmp(p->rd[i].revealed, p->rd[i].committed, K) == 0)
			continue;
		reveal_forget(c, ri);
		p->bad = i + 1;
		return cfault(p,
		              "round %llu: partner %s revealed a share of %s's %s that does "
		              "not match %s's signed commitment; %s is excluded",
		              (unsigned long long)c->ref.round, p->id, p->rd[i].owner,
		              p->rd[i].what == KIND_SEED ? "self-mask seed" : "mask secret",
		              p->rd[i].owner, p->id);
	}
	return 0;
}

int fl_secagg_coord_evidence(const struct fl_secagg_coord *c, const char *revealer,
                             const char *owner, Fedlead__Wire__RevealEvidence **out)
{
	Fedlead__Wire__RevealEvidence ev = FEDLEAD__WIRE__REVEAL_EVIDENCE__INIT;
	Fedlead__Wire__RevealedDigest *d = NULL, **dp = NULL;
	Fedlead__Wire__RoundRef rr;
	const struct cpeer *p = NULL, *o;
	uint8_t *buf = NULL;
	size_t bad = 0, len;
	int r = FL_ERR_NOMEM;

	*out = NULL;
	for (size_t i = 0; i < c->np; i++)
		if (strcmp(c->p[i].id, revealer) == 0)
			p = &c->p[i];
	if (p == NULL || p->rsig == NULL)
		return 0;
	if (owner == NULL) {
		if (p->bad == 0)
			return 0;
		bad = p->bad - 1;
	} else {
		for (bad = 0; bad < p->n_rd && strcmp(p->rd[bad].owner, owner) != 0; bad++)
			;
		if (bad == p->n_rd)
			return 0;
	}
	for (o = c->p; strcmp(o->id, p->rd[bad].owner) != 0; o++)
		;
	if ((d = calloc(p->n_rd, sizeof(*d))) == NULL ||
	    (dp = calloc(p->n_rd, sizeof(*dp))) == NULL)
		goto out;
	for (size_t i = 0; i < p->n_rd; i++) {
		fedlead__wire__revealed_digest__init(&d[i]);
		d[i].owner = (char *)p->rd[i].owner;
		d[i].what = p->rd[i].what;
		d[i].revealed = (ProtobufCBinaryData){K, (uint8_t *)p->rd[i].revealed};
		d[i].committed = (ProtobufCBinaryData){K, (uint8_t *)p->rd[i].committed};
		dp[i] = &d[i];
	}
	cset_ref((struct fl_secagg_coord *)c, &rr);
	ev.ref = &rr;
	ev.session = (ProtobufCBinaryData){FL_WIRE_SESSION_LEN, (uint8_t *)c->session};
	ev.revealer = p->id;
	ev.shares = dp;
	ev.n_shares = p->n_rd;
	ev.signature = (ProtobufCBinaryData){p->rsig_len, p->rsig};
	ev.bad = (uint32_t)bad;
	ev.commitment = (Fedlead__Wire__ShareCommitment *)&o->cm[p - c->p].msg;
	/* A deep copy the caller owns, through the codec. */
	len = fedlead__wire__reveal_evidence__get_packed_size(&ev);
	if ((buf = malloc(len ? len : 1)) == NULL)
		goto out;
	fedlead__wire__reveal_evidence__pack(&ev, buf);
	if ((*out = fedlead__wire__reveal_evidence__unpack(NULL, len, buf)) == NULL)
		goto out;
	r = 0;
out:
	free(buf);
	free(d);
	free(dp);
	return r;
}

void fl_secagg_evidence_free(Fedlead__Wire__RevealEvidence *e)
{
	if (e != NULL)
		fedlead__wire__reveal_evidence__free_unpacked(e, NULL);
}

int fl_secagg_coord_accusation(struct fl_secagg_coord *c, const char *partner,
                               const Fedlead__Wire__Accusation *a)
{
	struct cpeer *h = coord_peer(c, partner), *d;
	const uint8_t *ct = NULL;
	uint8_t aad[CTX_MAX + 600], pt[PLAIN_LEN], c_seed[K], c_secret[K], key[K];
	size_t alen, hi;
	int r;

	if (h == NULL || c->step != FL_SECAGG_MASKED || !h->shared || h->masked || h->accused ||
	    h->fault != NULL)
		return fl_fail(FL_ERR_PROTO, "peer %s: accusation out of order", partner);
	if ((a->key.len == K) == (a->c_secret.len == K) || a->key.len + a->c_secret.len != K)
		return fl_fail(FL_ERR_PROTO, "peer %s: accusation without a key", partner);
	d = coord_peer(c, a->dealer);
	for (size_t j = 0; d != NULL && d != h && d->shared && j < d->n_out; j++)
		if (strcmp(d->out[j].to, h->id) == 0)
			ct = d->out_ct[j];
	hi = (size_t)(h - c->p);
	if (ct == NULL || d->cm == NULL || !d->cm[hi].have)
		return fl_fail(FL_ERR_PROTO, "peer %s: accuses \"%.64s\", who dealt it no share",
		               partner, a->dealer);
	h->accused = 1;
	alen = share_aad(c->ctx, c->ref.round, d->id, h->id, aad, sizeof(aad));
	if (a->c_secret.len == K) {
		/* h's secret against the public key h signed; the key of the
		 * share from d's public key, which d signed. */
		struct fl_sa_keypair kp;

		memset(&kp, 0, sizeof(kp));
		if ((r = fl_sa_keypair_from_secret(a->c_secret.data, &kp)) != 0)
			return r;
		if (CRYPTO_memcmp(kp.pub, h->c_pub, K) != 0) {
			fl_sa_keypair_clear(&kp);
			return cfault(
			        h,
			        "round %llu: partner %s accused %s of dealing it a share that "
			        "does not open, but the secret key it disclosed is not the one "
			        "it advertised; %s is excluded",
			        (unsigned long long)c->ref.round, h->id, d->id, h->id);
		}
		r = fl_sa_agree(kp.sec, d->c_pub, FL_SA_LABEL_SEAL, c->ctx, c->ref.round, h->id,
		                d->id, key);
		fl_sa_keypair_clear(&kp);
		if (r != 0)
			return r;
		if (fl_sa_open(key, aad, alen, ct, FL_WIRE_SHARE_CT_LEN, pt) != 0) {
			OPENSSL_cleanse(key, sizeof(key));
			return cfault(
			        d,
			        "round %llu: partner %s sent %s a share that does not open under "
			        "the keys both advertised (%s's evidence checked); %s is excluded",
			        (unsigned long long)c->ref.round, d->id, h->id, h->id, d->id);
		}
		OPENSSL_cleanse(key, sizeof(key));
		/* It opens: h's claim was false. */
		r = cfault(h,
		           "round %llu: partner %s accused %s of dealing it a share that does not "
		           "open, but it opens; %s is excluded",
		           (unsigned long long)c->ref.round, h->id, d->id, h->id);
		goto out;
	}
	/* The ciphertext is the one d sent this coordinator; only d and h hold
	 * the key that opens it. */
	if (fl_sa_open(a->key.data, aad, alen, ct, FL_WIRE_SHARE_CT_LEN, pt) != 0)
		return cfault(
		        h,
		        "round %llu: partner %s accused %s of dealing it a bad share, but the "
		        "key it disclosed does not open the share %s sent it; %s is excluded",
		        (unsigned long long)c->ref.round, h->id, d->id, d->id, h->id);
	if ((r = share_commit(c->ctx, c->ref.round, d->id, h->id, KIND_SEED, (unsigned)h->idx + 1,
	                      pt + K, c_seed)) != 0 ||
	    (r = share_commit(c->ctx, c->ref.round, d->id, h->id, KIND_SECRET, (unsigned)h->idx + 1,
	                      pt, c_secret)) != 0)
		goto out;
	if (CRYPTO_memcmp(c_seed, d->cm[hi].seed, K) != 0 ||
	    CRYPTO_memcmp(c_secret, d->cm[hi].secret, K) != 0)
		r = cfault(d,
		           "round %llu: partner %s dealt %s a share that does not match %s's "
		           "signed commitment (%s's evidence checked); %s is excluded",
		           (unsigned long long)c->ref.round, d->id, h->id, d->id, h->id, d->id);
	else
		r = cfault(h,
		           "round %llu: partner %s accused %s of dealing it a bad share, but the "
		           "share matches %s's signed commitment; %s is excluded",
		           (unsigned long long)c->ref.round, h->id, d->id, d->id, h->id);
out:
	OPENSSL_cleanse(pt, sizeof(pt));
	return r;
}

/*
 * Recovers owner o's secret from the first t revealed shares (in key-list
 * order; any t determine it). Each matched o's signed commitment when it
 * was revealed (a revealer whose shares did not is set aside), so a result
 * that differs from what o committed to (its self-mask commitment or its
 * public key) is o's own inconsistent dealing.
 */
static int recover(struct fl_secagg_coord *c, size_t oi, unsigned what, uint8_t secret[K])
{
	uint8_t *sh = malloc(c->np * K), xs[FL_WIRE_MAX_PARTIES];
	unsigned k = 0;
	int r;

	if (sh == NULL)
		return FL_ERR_NOMEM;
	for (size_t ri = 0; ri < c->np && k < c->t; ri++) {
		if (c->rev_what[ri * c->np + oi] != what)
			continue;
		memcpy(sh + k * K, c->rev + (ri * c->np + oi) * K, K);
		xs[k++] = (uint8_t)(c->p[ri].idx + 1);
	}
	if (k < c->t) {
		r = fl_fail(FL_ERR_PROTO, "round %llu: %u shares of %s's %s, the threshold is %u",
		            (unsigned long long)c->ref.round, k, c->p[oi].id,
		            what == 1 ? "self-mask seed" : "mask secret", c->t);
		goto out;
	}
	r = fl_shamir_combine(sh, xs, k, K, secret);
out:
	OPENSSL_cleanse(sh, c->np * K);
	free(sh);
	return r;
}

int fl_secagg_coord_finish(struct fl_secagg_coord *c, double *out)
{
	uint8_t secret[K], check[K], key[K];
	struct fl_sa_keypair kp;
	int r = 0;

	memset(&kp, 0, sizeof(kp));
	if (fl_secagg_coord_count(c, FL_SECAGG_UNMASK) < c->t)
		return fl_fail(FL_ERR_PROTO,
		               "round %llu: only %zu partners revealed shares, the "
		               "threshold is %u",
		               (unsigned long long)c->ref.round,
		               fl_secagg_coord_count(c, FL_SECAGG_UNMASK), c->t);
	for (size_t oi = 0; oi < c->np && r == 0; oi++) {
		struct cpeer *o = &c->p[oi];

		if (!o->shared)
			continue;
		if (o->masked) {
			/* A survivor: remove its self-mask. */
			if ((r = recover(c, oi, 1, secret)) != 0 ||
			    (r = commitment(c->session, o->id, secret, check)) != 0)
				break;
			if (CRYPTO_memcmp(check, o->commit, K) != 0) {
				/* Every share used matched o's signed commitment. */
				cfault(o,
				       "round %llu: the shares %s dealt do not rebuild the "
				       "self-mask seed it committed to, though each matches its "
				       "signed commitment (inconsistent dealing); %s is excluded",
				       (unsigned long long)c->ref.round, o->id, o->id);
				r = FL_ERR_AUTH;
				break;
			}
			r = fl_sa_mask(secret, -1, c->sum, c->n);
			continue;
		}
		/* Dropped after sharing: rebuild its mask secret and remove the
		 * pairwise masks it had with every survivor. */
		if ((r = recover(c, oi, 2, secret)) != 0 ||
		    (r = fl_sa_keypair_from_secret(secret, &kp)) != 0)
			break;
		if (CRYPTO_memcmp(kp.pub, o->s_pub, K) != 0) {
			cfault(o,
			       "round %llu: the shares %s dealt do not rebuild the mask secret "
			       "of its public key, though each matches its signed commitment "
			       "(inconsistent dealing); %s is excluded",
			       (unsigned long long)c->ref.round, o->id, o->id);
			r = FL_ERR_AUTH;
			break;
		}
		for (size_t ui = 0; ui < c->np && r == 0; ui++) {
			struct cpeer *u = &c->p[ui];

			if (!u->masked)
				continue;
			if ((r = fl_sa_agree(kp.sec, u->s_pub, FL_SA_LABEL_MASK, c->ctx,
			                     c->ref.round, o->id, u->id, key)) == 0)
				/* u added sign(u, o) * PRG(key): subtract it. */
				r = fl_sa_mask(key, -fl_sa_pair_sign(u->id, o->id), c->sum, c->n);
		}
		fl_sa_keypair_clear(&kp);
	}
	OPENSSL_cleanse(secret, K);
	OPENSSL_cleanse(key, K);
	fl_sa_keypair_clear(&kp);
	if (r != 0)
		return r;
	fl_fixed_decode(c->sum, c->n, c->frac_bits, out);
	return 0;
}
