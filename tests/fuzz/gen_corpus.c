/*
 * Writes the seed corpus of the fuzz targets: valid inputs made by the real
 * encoders, recorded from federations run in memory (fuzz_common.c) and from
 * the secure-aggregation engine run honestly, plus copies of the test data.
 *
 *   fuzz_gen_corpus REPO_ROOT
 *
 * writes REPO_ROOT/tests/fuzz/corpus/<target>/seed-* (existing seeds of the
 * same name are overwritten; crash reproducers, named crash-*, are left
 * alone). Run once; the outputs are checked in. Seeds stay below 60 KB so
 * that libFuzzer's -max_len=65536 keeps them whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fedlead/config.h"
#include "fedlead/error.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/logreg.h"
#include "fedlead/model.h"
#include "fedlead/secagg.h"
#include "fedlead/signed_model.h"
#include "fuzz_common.h"

#define SEED_MAX (60 * 1024)

static const char *root;

static void write_seed(const char *target, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s", root, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		fz_die("mkdir %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s/seed-%s", root, target, name);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(data, 1, len, fp) != len || fclose(fp) != 0)
		fz_die("cannot write %s", path);
	printf("%s (%zu bytes)\n", path, len);
}

static uint8_t *read_all(const char *rel, size_t *len)
{
	char path[4096];
	FILE *fp;
	uint8_t *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if ((fp = fopen(path, "rb")) == NULL || fseek(fp, 0, SEEK_END) != 0 ||
	    (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n)
		fz_die("cannot read %s", path);
	fclose(fp);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void copy_seed(const char *target, const char *name, const char *rel)
{
	size_t len;
	uint8_t *b = read_all(rel, &len);

	write_seed(target, name, b, len);
	free(b);
}

static void write_text(const char *target, const char *name, const char *text)
{
	write_seed(target, name, text, strlen(text));
}

/* ---- recorded federations ---------------------------------------------- */

struct rec {
	struct fz_msg *v;
	size_t n;
	uint8_t *ckpt[512];
	size_t ckpt_len[512], n_ckpt;
};

static void record(void *ctx, const struct fz_msg *m)
{
	struct rec *r = ctx;

	if ((r->v = realloc(r->v, (r->n + 1) * sizeof(*r->v))) == NULL)
		fz_die("out of memory");
	r->v[r->n] = *m;
	if ((r->v[r->n].frame = malloc(m->len)) == NULL)
		fz_die("out of memory");
	memcpy(r->v[r->n].frame, m->frame, m->len);
	r->n++;
}

static void on_checkpoint(void *ctx, const uint8_t *state, size_t len)
{
	struct rec *r = ctx;

	if (r->n_ckpt == sizeof(r->ckpt) / sizeof(r->ckpt[0]))
		return;
	if ((r->ckpt[r->n_ckpt] = malloc(len)) == NULL)
		fz_die("out of memory");
	memcpy(r->ckpt[r->n_ckpt], state, len);
	r->ckpt_len[r->n_ckpt++] = len;
}

static void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].frame);
	for (size_t i = 0; i < r->n_ckpt; i++)
		free(r->ckpt[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* Runs a federation with these settings to its end, recording everything. */
static void run(struct rec *r, int algo, int late, int secure)
{
	struct fl_coord_settings s;
	struct fz_fed f;

	memset(r, 0, sizeof(*r));
	memset(&f, 0, sizeof(f));
	fz_settings(&s, algo, late, secure);
	if (fz_fed_new(&f, &s) != 0)
		fz_die("fz_fed_new: %s", fl_errmsg());
	f.record = record;
	f.on_checkpoint = on_checkpoint;
	f.rctx = r;
	for (int i = 0; i < FZ_NP; i++)
		if (fz_fed_join(&f, i) != 0)
			fz_die("join: %s", fl_errmsg());
	fz_fed_pump(&f, 100000);
	if (!f.finished || !f.ok)
		fz_die("the federation (algorithm %d, secure %d) did not finish", algo, secure);
	fz_fed_free(&f);
}

/* The body type of a recorded frame. */
static const char *frame_type(const struct fz_msg *m)
{
	Fedlead__Wire__Envelope *env = NULL;
	static char name[32];

	if (fl_wire_decode(m->frame + 4, m->len - 4, "gen", &env) != 0)
		fz_die("recorded frame does not decode");
	snprintf(name, sizeof(name), "%s", fl_wire_type_name(env));
	fl_wire_free(env);
	return name;
}

/* One wire seed per message type: the first of each. */
static void wire_seeds(const struct rec *r, const char *tag)
{
	char seen[32][32];
	size_t ns = 0;

	for (size_t i = 0; i < r->n; i++) {
		const char *t = frame_type(&r->v[i]);
		char name[64];
		size_t k;

		for (k = 0; k < ns && strcmp(seen[k], t) != 0; k++)
			;
		if (k < ns || ns == 32 || r->v[i].len > SEED_MAX)
			continue;
		snprintf(seen[ns++], sizeof(seen[0]), "%s", t);
		snprintf(name, sizeof(name), "%s-%s", tag, t);
		write_seed("wire", name, r->v[i].frame, r->v[i].len);
	}
}

/* Mode byte and what the coordinator's partner acme was sent. */
static void node_seed(const struct rec *r, uint8_t mode, const char *name)
{
	struct fz_buf b = {0};

	fz_buf_byte(&b, mode);
	for (size_t i = 0; i < r->n; i++) {
		const struct fz_msg *m = &r->v[i];

		if (m->to_coord || m->who != 0)
			continue;
		if (b.n + m->len > SEED_MAX)
			break;
		fz_buf_add(&b, m->frame, m->len);
	}
	write_seed("handlers", name, b.p, b.n);
	free(b.p);
}

/* Mode byte, the three hellos, then what the partners sent. */
static void coord_seed(const struct rec *r, uint8_t mode, const char *name)
{
	struct fz_buf b = {0};

	fz_buf_byte(&b, mode);
	for (int i = 0; i < FZ_NP; i++)
		fz_buf_byte(&b, (uint8_t)(i | 2 << 2));
	for (size_t i = 0; i < r->n; i++) {
		const struct fz_msg *m = &r->v[i];

		if (!m->to_coord)
			continue;
		if (b.n + 1 + m->len > SEED_MAX)
			break;
		fz_buf_byte(&b, (uint8_t)m->who);
		fz_buf_add(&b, m->frame, m->len);
	}
	write_seed("handlers", name, b.p, b.n);
	free(b.p);
}

static void checkpoint_seeds(const struct rec *r, const char *tag)
{
	size_t pick[3] = {0, r->n_ckpt / 2, r->n_ckpt - 1};
	const char *which[3] = {"first", "middle", "last"};

	for (int k = 0; k < 3; k++) {
		char name[64];

		if (r->n_ckpt == 0 || r->ckpt_len[pick[k]] > SEED_MAX)
			continue;
		snprintf(name, sizeof(name), "%s-%s", tag, which[k]);
		write_seed("checkpoint", name, r->ckpt[pick[k]], r->ckpt_len[pick[k]]);
	}
}

/* The model file a federation delivered (from its final_model message). */
static void model_seed(const struct rec *r, const char *name, uint8_t **file, size_t *len)
{
	for (size_t i = 0; i < r->n; i++) {
		Fedlead__Wire__Envelope *env = NULL;

		if (r->v[i].to_coord ||
		    fl_wire_decode(r->v[i].frame + 4, r->v[i].len - 4, "gen", &env) != 0)
			continue;
		if (env->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL) {
			*len = env->final_model->model_file.len;
			if ((*file = malloc(*len)) == NULL)
				fz_die("out of memory");
			memcpy(*file, env->final_model->model_file.data, *len);
			write_seed("model", name, *file, *len);
			fl_wire_free(env);
			return;
		}
		fl_wire_free(env);
	}
	fz_die("no final model recorded");
}

static void federation_seeds(void)
{
	struct rec r;
	uint8_t *file = NULL, *signed_file = NULL;
	size_t len = 0, slen = 0;
	char key[] = "/tmp/fuzz-gen-key-XXXXXX", cert[] = "/tmp/fuzz-gen-cert-XXXXXX";
	int kfd, cfd;

	/* Plain newton (late policy drop: mode bits 5-6 = 1). */
	run(&r, FL_FED_NEWTON, 1, 0);
	wire_seeds(&r, "plain");
	node_seed(&r, 0, "node-newton");
	coord_seed(&r, (uint8_t)(2 | FL_FED_NEWTON << 3 | 1 << 5), "coord-newton");
	checkpoint_seeds(&r, "newton");
	model_seed(&r, "federated.flm", &file, &len);
	rec_free(&r);

	run(&r, FL_FED_LBFGS, 1, 0);
	coord_seed(&r, (uint8_t)(3 | FL_FED_LBFGS << 3 | 1 << 5), "coord-lbfgs");
	rec_free(&r);

	run(&r, 3 /* newton, l2 = auto */, 1, 0);
	coord_seed(&r, (uint8_t)(7 | 3 << 3 | 1 << 5), "coord-l2-auto");
	checkpoint_seeds(&r, "l2-auto");
	rec_free(&r);

	run(&r, FL_FED_FEDAVG, 1, 0);
	wire_seeds(&r, "fedavg");
	node_seed(&r, 0, "node-fedavg");
	coord_seed(&r, (uint8_t)(2 | FL_FED_FEDAVG << 3 | 1 << 5), "coord-fedavg");
	checkpoint_seeds(&r, "fedavg");
	rec_free(&r);

	run(&r, FL_FED_NEWTON, 1, 1);
	wire_seeds(&r, "secure");
	node_seed(&r, 1, "node-secure");
	coord_seed(&r, (uint8_t)(4 | FL_FED_NEWTON << 3 | 1 << 5), "coord-secure");
	rec_free(&r);

	run(&r, FL_FED_LBFGS, 1, 1);
	checkpoint_seeds(&r, "lbfgs-secure");
	rec_free(&r);

	/* The delivered model, signed as the coordinator signs it. */
	if ((kfd = mkstemp(key)) < 0 || (cfd = mkstemp(cert)) < 0 ||
	    write(kfd, fz_key_pem_text(0), strlen(fz_key_pem_text(0))) < 0 ||
	    write(cfd, fz_cert_pem_text(0), strlen(fz_cert_pem_text(0))) < 0)
		fz_die("cannot write the temporary credentials");
	close(kfd);
	close(cfd);
	if (fl_model_file_sign(file, len, key, cert, &signed_file, &slen) != 0)
		fz_die("fl_model_file_sign: %s", fl_errmsg());
	write_seed("model", "federated-signed.flm", signed_file, slen);
	unlink(key);
	unlink(cert);
	free(signed_file);
	free(file);
}

/* Hello, welcome and reject are not in the recordings (joins are direct). */
static void handshake_seeds(void)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Welcome w;
	Fedlead__Wire__Plan plan;
	Fedlead__Wire__Reject rj = FEDLEAD__WIRE__REJECT__INIT;
	struct fl_fednode *n = NULL;
	uint8_t *frame;
	size_t len;

	if (fl_fednode_new(fz_schema(), fz_dataset(0), &n) != 0 ||
	    fl_fednode_hello(n, FZ_FED, &frame, &len) != 0)
		fz_die("hello: %s", fl_errmsg());
	write_seed("wire", "hello", frame, len);
	free(frame);
	fl_fednode_free(n);
	fz_welcome(&w, &plan, 0, 1);
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME;
	env.welcome = &w;
	if (fl_wire_encode(&env, &frame, &len) != 0)
		fz_die("welcome: %s", fl_errmsg());
	write_seed("wire", "welcome", frame, len);
	free(frame);
	rj.reason = (char *)"partner \"mallory\" is not on the allow-list";
	rj.permanent = 1;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_REJECT;
	env.reject = &rj;
	if (fl_wire_encode(&env, &frame, &len) != 0)
		fz_die("reject: %s", fl_errmsg());
	write_seed("wire", "reject", frame, len);
	free(frame);
}

/* ---- the secure-aggregation engine, run honestly -------------------------- */

/* As fuzz_handlers.c sets up its engine (same session, round, threshold). */
static const uint8_t sa_session[FL_WIRE_SESSION_LEN] = "fuzz-session-16b";
#define SA_N 4

static Fedlead__Wire__Envelope *must_decode(const uint8_t *frame, size_t len)
{
	Fedlead__Wire__Envelope *env = NULL;

	if (fl_wire_decode(frame + 4, len - 4, "gen", &env) != 0)
		fz_die("engine frame does not decode: %s", fl_errmsg());
	return env;
}

static void op_frame(struct fz_buf *b, uint8_t op, const uint8_t *frame, size_t len)
{
	fz_buf_byte(b, op);
	fz_buf_add(b, frame, len);
}

/* survivors: bit i set when partner i sends its masked input. */
static void sagg_seeds(unsigned survivors, const char *tag)
{
	static const double x[FZ_NP][SA_N] = {{1, 2, 3, 4}, {-1, 0.5, 0, 1e3}, {0.25, 0, -7, 2}};
	Fedlead__Wire__RoundRef ref = FEDLEAD__WIRE__ROUND_REF__INIT;
	Fedlead__Wire__SecAggParams p = FEDLEAD__WIRE__SEC_AGG_PARAMS__INIT;
	struct fl_secagg_node *s[FZ_NP] = {0};
	struct fl_secagg_coord *c = NULL;
	struct fl_secagg_history *hist[FZ_NP] = {NULL};
	static const uint8_t task[32] = {0x7a};
	static const struct fl_secagg_policy pol = {2, 0, 1};
	struct fz_buf co = {0}, no = {0};
	uint8_t *frame, *kl;
	size_t len, kl_len;
	double sum[SA_N];
	char name[64];

	ref.federation_id = (char *)FZ_FED;
	ref.round = 1;
	ref.schema_fingerprint.data = (uint8_t *)fz_schema()->fingerprint;
	ref.schema_fingerprint.len = FL_FINGERPRINT_LEN;
	p.session.data = (uint8_t *)sa_session;
	p.session.len = sizeof(sa_session);
	p.frac_bits = FL_SECAGG_FRAC_BITS;
	p.bound = fl_fixed_bound(FL_SECAGG_FRAC_BITS, FZ_NP);
	p.participants = (char **)fz_names;
	p.n_participants = FZ_NP;
	fz_buf_byte(&co, 5);
	fz_buf_byte(&no, 6);
	if (fl_secagg_coord_new(FZ_FED, &ref, &p, 2, fz_names, FZ_NP,
	                        FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, SA_N, &c) != 0)
		fz_die("fl_secagg_coord_new: %s", fl_errmsg());
	for (int i = 0; i < FZ_NP; i++) {
		Fedlead__Wire__Envelope *env;
		size_t dlen;
		const uint8_t *der = fz_cert_der(i, &dlen);

		if (fl_secagg_history_new(&hist[i]) != 0 ||
		    fl_secagg_node_start(FZ_FED, &ref, &p, 2, fz_names[i], fz_key(i), task, &pol,
		                         hist[i], FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL, x[i],
		                         SA_N, &s[i], &frame, &len) != 0)
			fz_die("fl_secagg_node_start: %s", fl_errmsg());
		env = must_decode(frame, len);
		if (fl_secagg_coord_advert(c, fz_names[i], env->key_advert, der, dlen) != 0)
			fz_die("advert: %s", fl_errmsg());
		op_frame(&co, (uint8_t)i, frame, len);
		fl_wire_free(env);
		free(frame);
	}
	if (fl_secagg_coord_key_list(c, &kl, &kl_len) != 0)
		fz_die("key_list: %s", fl_errmsg());
	fz_buf_byte(&co, 1 << 2);
	fz_buf_add(&no, kl, kl_len);
	for (int i = 0; i < FZ_NP; i++) {
		Fedlead__Wire__Envelope *env = must_decode(kl, kl_len), *ss;

		if (fl_secagg_node_keys(s[i], env->key_list, fz_store(), &frame, &len) != 0)
			fz_die("node keys: %s", fl_errmsg());
		ss = must_decode(frame, len);
		if (fl_secagg_coord_shares(c, fz_names[i], ss->share_set) != 0)
			fz_die("shares: %s", fl_errmsg());
		op_frame(&co, (uint8_t)i, frame, len);
		fl_wire_free(ss);
		fl_wire_free(env);
		free(frame);
	}
	free(kl);
	for (int i = 0; i < FZ_NP; i++) {
		Fedlead__Wire__Envelope *env, *mu;
		uint8_t *f2;
		size_t l2;

		if (fl_secagg_coord_shares_for(c, fz_names[i], &frame, &len) != 0)
			fz_die("shares_for: %s", fl_errmsg());
		fz_buf_byte(&co, (uint8_t)(i | 2 << 2));
		if (i == 0)
			fz_buf_add(&no, frame, len);
		env = must_decode(frame, len);
		if (fl_secagg_node_shares(s[i], env->share_set, &f2, &l2) != 0)
			fz_die("node shares: %s", fl_errmsg());
		if (survivors & 1u << i) {
			mu = must_decode(f2, l2);
			if (fl_secagg_coord_masked(c, fz_names[i], mu->masked_update) != 0)
				fz_die("masked: %s", fl_errmsg());
			op_frame(&co, (uint8_t)i, f2, l2);
			fl_wire_free(mu);
		}
		fl_wire_free(env);
		free(frame);
		free(f2);
	}
	if (fl_secagg_coord_consistency_check(c, &frame, &len) != 0)
		fz_die("consistency_check: %s", fl_errmsg());
	fz_buf_byte(&co, 3 << 2);
	fz_buf_add(&no, frame, len);
	for (int i = 0; i < FZ_NP; i++) {
		Fedlead__Wire__Envelope *env = must_decode(frame, len), *cs;
		uint8_t *f2;
		size_t l2;

		if (!(survivors & 1u << i)) {
			fl_wire_free(env);
			continue;
		}
		if (fl_secagg_node_consistency(s[i], env->consistency_check, &f2, &l2) != 0)
			fz_die("node consistency: %s", fl_errmsg());
		cs = must_decode(f2, l2);
		if (fl_secagg_coord_signature(c, fz_names[i], cs->consistency_signature) != 0)
			fz_die("signature: %s", fl_errmsg());
		op_frame(&co, (uint8_t)i, f2, l2);
		fl_wire_free(cs);
		fl_wire_free(env);
		free(f2);
	}
	free(frame);
	if (fl_secagg_coord_unmask_request(c, &frame, &len) != 0)
		fz_die("unmask_request: %s", fl_errmsg());
	fz_buf_byte(&co, 3 << 2);
	fz_buf_add(&no, frame, len);
	for (int i = 0; i < FZ_NP; i++) {
		Fedlead__Wire__Envelope *env = must_decode(frame, len), *ur;
		uint8_t *f2;
		size_t l2;

		if (!(survivors & 1u << i)) {
			fl_wire_free(env);
			continue;
		}
		if (fl_secagg_node_unmask(s[i], env->unmask_request, &f2, &l2) != 0)
			fz_die("node unmask: %s", fl_errmsg());
		ur = must_decode(f2, l2);
		if (fl_secagg_coord_reveal(c, fz_names[i], ur->unmask_reply) != 0)
			fz_die("reveal: %s", fl_errmsg());
		op_frame(&co, (uint8_t)i, f2, l2);
		fl_wire_free(ur);
		fl_wire_free(env);
		free(f2);
	}
	free(frame);
	if (fl_secagg_coord_finish(c, sum) != 0)
		fz_die("finish: %s", fl_errmsg());
	fz_buf_byte(&co, 4 << 2);
	snprintf(name, sizeof(name), "sagg-coord-%s", tag);
	write_seed("handlers", name, co.p, co.n);
	snprintf(name, sizeof(name), "sagg-node-%s", tag);
	write_seed("handlers", name, no.p, no.n);
	free(co.p);
	free(no.p);
	for (int i = 0; i < FZ_NP; i++) {
		fl_secagg_node_free(s[i]);
		fl_secagg_history_free(hist[i]);
	}
	fl_secagg_coord_free(c);
}

/* ---- solver checkpoints ---------------------------------------------- */

static void solver_seeds(enum fl_solver_kind kind, const char *tag)
{
	struct fl_solver_opts o = {.l2 = 0.5, .tol = 1e-12, .max_iter = 20, .lbfgs_m = 3};
	struct fl_solver *s = NULL;
	double g[3], h[9] = {2, 0.5, 0, 0.5, 1, 0, 0, 0, 3};
	char name[64];

	if (fl_solver_new(kind, 3, &o, NULL, &s) != 0)
		fz_die("fl_solver_new: %s", fl_errmsg());
	for (int step = 0; step < 6; step++) {
		const double *w;
		double loss = 0;
		int need_hess;
		uint8_t *buf;
		size_t len;

		if (step == 0 || step == 2 || step == 4) {
			if (fl_solver_save(s, &buf, &len) != 0)
				fz_die("fl_solver_save: %s", fl_errmsg());
			snprintf(name, sizeof(name), "solver-%s-%d", tag, step);
			write_seed("checkpoint", name, buf, len);
			free(buf);
		}
		if (fl_solver_ask(s, &w, &need_hess) != FL_SOLVER_EVAL)
			break;
		/* A convex data term: 0.5 w'Hw - sum w + exp(w_0). */
		for (int i = 0; i < 3; i++) {
			g[i] = -1;
			for (int j = 0; j < 3; j++)
				g[i] += h[i * 3 + j] * w[j];
			loss += 0.5 * w[i] * (g[i] + 1) - w[i];
		}
		if (fl_solver_tell(s, loss, g, need_hess ? h : NULL) != 0)
			fz_die("fl_solver_tell: %s", fl_errmsg());
	}
	fl_solver_free(s);
}

/* ---- texts ------------------------------------------------------------- */

static void text_seeds(void)
{
	struct fl_model *m = NULL;
	uint8_t *buf;
	size_t len;

	/* schema */
	write_text("schema", "leads.schema.json", fz_schema_json);
	write_text("schema", "leads-canonical.json", fz_schema()->canonical);
	copy_seed("schema", "coil2000.schema.json", "tests/data/coil2000/coil2000.schema.json");
	write_text("schema", "minimal.json",
	           "{\"fedlead_schema\": 1, \"label\": {\"column\": \"y\", \"positive\": \"1\", "
	           "\"negative\": \"0\"}, \"features\": [{\"name\": \"x\", \"type\": "
	           "\"numeric\"}]}\n");

	/* csv */
	copy_seed("csv", "leads.csv", "tests/data/encode/leads.csv");
	copy_seed("csv", "leads_permuted.csv", "tests/data/encode/leads_permuted.csv");
	copy_seed("csv", "quoted.csv", "tests/data/csv/quoted.csv");
	write_text("csv", "crlf-bom.csv",
	           "\xef\xbb\xbflead,age,visits,region,tier,won\r\n"
	           "a,1.5e1,3,north,1,yes\r\n\r\n"
	           "b, 7 ,0,\"so\"\"uth\",2,no\r\n"
	           "c,,12,\"north\n\",3,no\r\n");
	write_text("csv", "numbers.csv",
	           "lead,age,visits,region,tier,won\n"
	           "n1,.5,5.,south,1,yes\n"
	           "n2,-0.0,1e-320,north,2,no\n"
	           "n3,123456789012345678901234567890,+3,west,3,yes\n"
	           "n4,0.1000000000000000055511151231257827,9007199254740993,north,1,no\n"
	           "n5,1e308,2.2250738585072011e-308,south,2,no\n"
	           "n6,abc,1e400,north,4,maybe\n");
	/* Files as CRMs write them: semicolons with decimal commas, a tab
	 * export, Windows-1252 bytes (read as both dialects by fuzz_csv). */
	write_text("csv", "semicolon.csv",
	           "\xef\xbb\xbflead;age;visits;region;tier;won\r\n"
	           "s1;1.234,5;3;\"no;rth\";1;yes\r\n"
	           "s2;12,5 \xe2\x82\xac;0;south;2;no\r\n");
	write_text("csv", "tab.csv",
	           "lead\tage\tvisits\tregion\ttier\twon\n"
	           "t1\t3\t1\tnorth\t1\tyes\n"
	           "t2\t\t2\t\"so\tuth\"\t2\tno\n");
	/* The tokenizer's paths: fields longer than its 64-byte blocks with
	 * non-ASCII text in a later block, doubled quotes, blanks after a
	 * closing quote, a lone CR, a quoted line end, no final line end. */
	write_text("csv", "tokenizer.csv",
	           "lead,age,visits,region,tier,won\n"
	           "k1,1,2,\"a long region name that runs past one block of the "
	           "scanner, \"\"quoted\"\" twice, M\xc3\xbcnchen\"  ,1,yes\r"
	           "k2 , 3 ,4,north region with no quotes at all but long enough for two blocks "
	           "\xc3\xa9t\xc3\xa9,2,no\r\n"
	           "k3,5,6,\"li\r\nne\",3,\"\"");
	write_text("csv", "cp1252.csv",
	           "lead,age,visits,region,tier,won\n"
	           "w1,3,1,M\xfcnchen,1,yes\n"
	           "w2,4,2,\x80\x81\x93,2,no\n");

	/* model */
	copy_seed("model", "format-1.0.flm", "tests/data/model/format-1.0.flm");
	copy_seed("model", "format-1.1.flm", "tests/data/model/format-1.1.flm");
	if (fl_model_new(fz_schema(), &m) != 0 ||
	    fl_model_set_str(&m->prov.solver, "newton") != 0 ||
	    fl_model_add_participant(m, "acme") != 0 || fl_model_encode(m, &buf, &len) != 0)
		fz_die("model: %s", fl_errmsg());
	write_seed("model", "zero.flm", buf, len);
	free(buf);
	fl_model_free(m);

	/* config */
	copy_seed("config", "coordinator.conf", "deploy/config/coordinator.conf");
	write_text("config", "every-type.conf",
	           "\xef\xbb\xbf# every value type of the coordinator's table\n"
	           "[federation]\n"
	           "id = fuzz ; a comment\n"
	           "partners = acme , globex,initech\n"
	           "min_partners: 2\n"
	           "algorithm = lbfgs\n"
	           "l2 = auto\n"
	           "validation_split = 0.25\n"
	           "secure_aggregation = Yes\n"
	           "threshold = 2\n"
	           "[rounds]\n"
	           "round_deadline = 250ms\n"
	           "late_policy = drop\n"
	           "start_wait = 2h\n"
	           "[network]\n"
	           "listen = [::1]:0\n"
	           "http_listen =\n"
	           "max_frame = 16M\n"
	           "  hello_timeout = 1m\n"
	           "[tls]\n"
	           "ca = /etc/fedlead/ca.crt\n"
	           "[state]\n"
	           "log_level = debug\n");
	write_text("config", "errors.conf",
	           "[federation]\nl2 = 0.5 # not a comment\nseed = 18446744073709551616\n"
	           "[nowhere]\nx = 1\n");
}

int main(int argc, char **argv)
{
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: %s REPO_ROOT\n", argv[0]);
		return 2;
	}
	root = argv[1];
	fz_init();
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus", root);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		fz_die("mkdir %s: %s", path, strerror(errno));
	handshake_seeds();
	federation_seeds();
	sagg_seeds(7, "all");
	sagg_seeds(3, "dropout");
	solver_seeds(FL_SOLVER_NEWTON, "newton");
	solver_seeds(FL_SOLVER_LBFGS, "lbfgs");
	text_seeds();
	return 0;
}
