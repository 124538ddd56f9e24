/*
 * The solvers' checkpoint format (the layout is in logreg.h): the complete
 * state of an ask/tell solver, saved after every tell by the coordinator
 * and restored bit for bit after a restart.
 *
 * What the state is: everything that a later ask or tell reads before
 * writing it. gt (told gradient), a (two-loop scratch), F (Cholesky scratch)
 * are always written before they are read within one call. have_hess is
 * set in every tell before next_step reads it. H carries over from one
 * tell to the next when Newton keeps it for reuse (hess_kept, logreg.c):
 * version 2 stores it then, with the distances that decide its reuse.
 * Version 1 (written before the Hessian was reused) is still read: it is a
 * state with no Hessian kept. A state that version 1 can hold is written
 * as version 1, so every state has one encoding and a restored solver
 * saves the bytes it was restored from.
 * The L-BFGS ring is stored as the count pairs in use, each at its slot,
 * which also keeps a slot that lbfgs_remember() overwrote without
 * advancing (the oldest pair when the ring is full).
 */
#include "fedlead/logreg.h"

#include "fedlead/error.h"
#include "logreg_int.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_MAGIC "FLSOLV1\n"
#define CKPT_VERSION 2
#define CKPT_HEADER_V1 120
/* Version 2 adds f64 step_dz, f64 hess_dz, u32 hess_kept, u32 0. */
#define CKPT_HEADER_V2 144

struct ckpt_writer {
	uint8_t *p;
};

static void put_u32(struct ckpt_writer *wr, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*wr->p++ = (uint8_t)(v >> (8 * i));
}

static void put_u64(struct ckpt_writer *wr, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*wr->p++ = (uint8_t)(v >> (8 * i));
}

static void put_f64(struct ckpt_writer *wr, double x)
{
	uint64_t v;

	memcpy(&v, &x, sizeof(v));
	put_u64(wr, v);
}

static void put_f64s(struct ckpt_writer *wr, const double *x, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* The vectors are most of a checkpoint; on a little-endian host
	 * their bytes are already in file order. */
	memcpy(wr->p, x, n * sizeof(*x));
	wr->p += n * sizeof(*x);
#else
	for (size_t i = 0; i < n; i++)
		put_f64(wr, x[i]);
#endif
}

struct ckpt_reader {
	const uint8_t *p;
};

static uint32_t get_u32(struct ckpt_reader *rd)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)*rd->p++ << (8 * i);
	return v;
}

static uint64_t get_u64(struct ckpt_reader *rd)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)*rd->p++ << (8 * i);
	return v;
}

static double get_f64(struct ckpt_reader *rd)
{
	uint64_t v = get_u64(rd);
	double x;

	memcpy(&x, &v, sizeof(x));
	return x;
}

static void get_f64s(struct ckpt_reader *rd, double *x, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(x, rd->p, n * sizeof(*x));
	rd->p += n * sizeof(*x);
#else
	for (size_t i = 0; i < n; i++)
		x[i] = get_f64(rd);
#endif
}

/* Bytes of a checkpoint; d <= FL_SOLVER_MAX_CHECKPOINT_D and count <= 1000
 * keep this far below 2^64. Version 2 with a kept Hessian ends with its
 * lower triangle (the one the Cholesky solve reads), row by row. */
static uint64_t ckpt_size(uint32_t version, uint64_t d, uint64_t count, uint64_t errlen,
                          uint32_t hess_kept)
{
	return (version == 1 ? CKPT_HEADER_V1 : CKPT_HEADER_V2) + errlen + 4 * d * 8 +
	       count * (8 + 2 * d * 8) + (hess_kept ? d * (d + 1) / 2 * 8 : 0);
}

/* The version a state is written in: 1 unless it holds what only 2 can. */
static uint32_t ckpt_version(const struct fl_solver *s)
{
	return s->hess_kept || s->step_dz != 0 || s->hess_dz != 0 ? 2 : 1;
}

int fl_solver_save(const struct fl_solver *s, uint8_t **buf, size_t *len)
{
	struct ckpt_writer wr;
	uint8_t *b = NULL;
	uint64_t size;
	uint32_t version;
	size_t d, errlen;
	int r = FL_ERR_INTERNAL;

	if (buf != NULL)
		*buf = NULL;
	if (len != NULL)
		*len = 0;
	if (s == NULL || buf == NULL || len == NULL) {
		r = fl_fail(FL_ERR_INVALID, "solver: missing argument to save");
		goto out;
	}
	d = s->d;
	errlen = strnlen(s->errmsg, sizeof(s->errmsg));
	version = ckpt_version(s);
	size = ckpt_size(version, d, (uint64_t)s->count, errlen, (uint32_t)s->hess_kept);
	if (d > FL_SOLVER_MAX_CHECKPOINT_D || size > SIZE_MAX) {
		r = fl_fail(FL_ERR_LIMIT, "solver: %zu coefficients are too many to checkpoint", d);
		goto out;
	}
	if ((b = malloc((size_t)size)) == NULL) {
		r = fl_fail(FL_ERR_NOMEM, "solver: out of memory for a checkpoint of %llu bytes",
		            (unsigned long long)size);
		goto out;
	}
	wr.p = b;
	memcpy(wr.p, CKPT_MAGIC, 8);
	wr.p += 8;
	put_u32(&wr, version);
	put_u32(&wr, (uint32_t)s->kind);
	put_u64(&wr, (uint64_t)d);
	put_f64(&wr, s->l2);
	put_f64(&wr, s->tol);
	put_u32(&wr, (uint32_t)s->max_iter);
	put_u32(&wr, (uint32_t)s->m);
	put_u32(&wr, (uint32_t)s->phase);
	put_u32(&wr, (uint32_t)s->need_hess);
	put_u32(&wr, (uint32_t)s->converged);
	put_u32(&wr, (uint32_t)s->iterations);
	put_u32(&wr, (uint32_t)s->evaluations);
	put_u32(&wr, (uint32_t)s->halvings);
	put_f64(&wr, s->f);
	put_f64(&wr, s->gnorm);
	put_f64(&wr, s->dphi0);
	put_f64(&wr, s->alpha);
	put_u32(&wr, (uint32_t)s->count);
	put_u32(&wr, (uint32_t)s->head);
	put_u32(&wr, (uint32_t)s->err);
	put_u32(&wr, (uint32_t)errlen);
	if (version == 2) {
		put_f64(&wr, s->step_dz);
		put_f64(&wr, s->hess_dz);
		put_u32(&wr, (uint32_t)s->hess_kept);
		put_u32(&wr, 0);
	}
	memcpy(wr.p, s->errmsg, errlen);
	wr.p += errlen;
	put_f64s(&wr, s->w, d);
	put_f64s(&wr, s->g, d);
	put_f64s(&wr, s->p, d);
	put_f64s(&wr, s->x, d);
	for (int k = 0; k < s->count; k++) {
		int idx = (s->head - s->count + k + s->m) % s->m;

		put_f64(&wr, s->rho[idx]);
		put_f64s(&wr, s->S + (size_t)idx * d, d);
		put_f64s(&wr, s->Y + (size_t)idx * d, d);
	}
	if (s->hess_kept)
		for (size_t i = 0; i < d; i++)
			put_f64s(&wr, s->H + i * d, i + 1);
	if ((uint64_t)(wr.p - b) != size) {
		r = fl_fail(FL_ERR_INTERNAL, "solver: checkpoint size mismatch");
		goto out;
	}
	*buf = b;
	*len = (size_t)size;
	b = NULL;
	r = 0;
out:
	free(b);
	return r;
}

/* The header fields of a checkpoint, as read, before they are trusted. */
struct ckpt_header {
	uint32_t version, kind, max_iter, m, phase, need_hess, converged;
	uint32_t iterations, evaluations, halvings, count, head, errlen;
	uint32_t hess_kept, reserved; /* version 2 */
	int32_t err;
	uint64_t d;
	double l2, tol, f, gnorm, dphi0, alpha;
	double step_dz, hess_dz; /* version 2 */
};

#define MALFORMED(...) fl_fail(FL_ERR_DATA, "solver checkpoint is malformed (" __VA_ARGS__)

/* Checks the header against itself and against len; the checks follow the
 * invariants that the ask/tell code keeps. */
static int check_header(const struct ckpt_header *h, size_t len)
{
	uint64_t want;

	if (h->version != 1 && h->version != CKPT_VERSION)
		return MALFORMED("version %u, expected 1 or %d)", h->version, CKPT_VERSION);
	if (h->kind != FL_SOLVER_NEWTON && h->kind != FL_SOLVER_LBFGS)
		return MALFORMED("unknown solver kind %u)", h->kind);
	if (h->d == 0 || h->d > FL_SOLVER_MAX_CHECKPOINT_D)
		return MALFORMED("%llu coefficients, expected 1 to %d)", (unsigned long long)h->d,
		                 FL_SOLVER_MAX_CHECKPOINT_D);
	/* The Newton solver holds two d x d matrices. */
	if (h->kind == FL_SOLVER_NEWTON && h->d > SIZE_MAX / sizeof(double) / h->d)
		return MALFORMED("%llu coefficients do not fit a Hessian in memory)",
		                 (unsigned long long)h->d);
	if (!(isfinite(h->l2) && h->l2 >= 0))
		return MALFORMED("l2 = %g)", h->l2);
	if (!(isfinite(h->tol) && h->tol >= 0))
		return MALFORMED("tol = %g)", h->tol);
	if (h->max_iter == 0 || h->max_iter > INT_MAX)
		return MALFORMED("max_iter = %u)", h->max_iter);
	if (h->kind == FL_SOLVER_NEWTON ? h->m != 0 : h->m == 0 || h->m > LBFGS_MAX_M)
		return MALFORMED("L-BFGS memory %u for %s)", h->m,
		                 fl_solver_name((enum fl_solver_kind)h->kind));
	if (h->count > h->m || (h->m > 0 ? h->head >= h->m : h->head != 0))
		return MALFORMED("history of %u pairs at slot %u in a memory of %u)", h->count,
		                 h->head, h->m);
	if (h->phase > PH_FAILED)
		return MALFORMED("unknown phase %u)", h->phase);
	/* Newton asks for the Hessian when re-evaluating an accepted point
	 * and at the start, unless it keeps one from a warm start (then it
	 * asks for none there); L-BFGS never. */
	if (h->need_hess > 1 ||
	    (h->kind == FL_SOLVER_LBFGS && (h->need_hess != 0 || h->phase == PH_HESS)) ||
	    (h->kind == FL_SOLVER_NEWTON && h->phase == PH_HESS && h->need_hess != 1) ||
	    (h->kind == FL_SOLVER_NEWTON && h->phase == PH_START &&
	     h->need_hess != (h->hess_kept ? 0u : 1u)))
		return MALFORMED("need_hess = %u in phase %u)", h->need_hess, h->phase);
	if (h->converged > 1 || (h->converged && h->phase != PH_DONE))
		return MALFORMED("converged = %u in phase %u)", h->converged, h->phase);
	if (h->evaluations > INT_MAX || h->iterations > h->max_iter ||
	    h->iterations > h->evaluations || (h->phase == PH_START && h->evaluations != 0))
		return MALFORMED("%u iterations, %u evaluations, max_iter %u)", h->iterations,
		                 h->evaluations, h->max_iter);
	/* One more than the limit marks a line search that gave up. */
	if (h->halvings > LS_MAX_HALVINGS + 1)
		return MALFORMED("%u step halvings)", h->halvings);
	if (h->phase == PH_FAILED ? h->err >= 0 || h->err < FL_ERR_CONFIG
	                          : h->err != 0 || h->errlen != 0)
		return MALFORMED("error %d in phase %u)", (int)h->err, h->phase);
	if (h->errlen >= sizeof(((struct fl_solver *)0)->errmsg))
		return MALFORMED("error message of %u bytes)", h->errlen);
	/* Only Newton keeps a Hessian; version 2 is written only for what
	 * version 1 cannot hold. */
	if (h->version == 2 && (h->kind != FL_SOLVER_NEWTON || h->hess_kept > 1 ||
	                        h->reserved != 0 || !(isfinite(h->step_dz) && h->step_dz >= 0) ||
	                        !(isfinite(h->hess_dz) && h->hess_dz >= 0) ||
	                        (h->hess_kept == 0 && h->step_dz == 0 && h->hess_dz == 0)))
		return MALFORMED("kept Hessian %u, step %g, distance %g)", h->hess_kept, h->step_dz,
		                 h->hess_dz);
	want = ckpt_size(h->version, h->d, h->count, h->errlen, h->hess_kept);
	if (want != len)
		return MALFORMED("%zu bytes, expected %llu)", len, (unsigned long long)want);
	return 0;
}

/* Reads and checks the header of the checkpoint buf[0..len). */
static int read_header(const uint8_t *buf, size_t len, struct ckpt_header *h)
{
	struct ckpt_reader rd;

	/* A prefix of the magic (a cut-off checkpoint) counts as short. */
	if (len > 0 && memcmp(buf, CKPT_MAGIC, len < 8 ? len : 8) != 0)
		return MALFORMED("not a solver checkpoint)");
	if (len < CKPT_HEADER_V1)
		return MALFORMED("%zu bytes, shorter than the %d-byte header)", len,
		                 CKPT_HEADER_V1);
	rd.p = buf + 8;
	h->version = get_u32(&rd);
	if (h->version == 2 && len < CKPT_HEADER_V2)
		return MALFORMED("%zu bytes, shorter than the %d-byte header)", len,
		                 CKPT_HEADER_V2);
	h->kind = get_u32(&rd);
	h->d = get_u64(&rd);
	h->l2 = get_f64(&rd);
	h->tol = get_f64(&rd);
	h->max_iter = get_u32(&rd);
	h->m = get_u32(&rd);
	h->phase = get_u32(&rd);
	h->need_hess = get_u32(&rd);
	h->converged = get_u32(&rd);
	h->iterations = get_u32(&rd);
	h->evaluations = get_u32(&rd);
	h->halvings = get_u32(&rd);
	h->f = get_f64(&rd);
	h->gnorm = get_f64(&rd);
	h->dphi0 = get_f64(&rd);
	h->alpha = get_f64(&rd);
	h->count = get_u32(&rd);
	h->head = get_u32(&rd);
	h->err = (int32_t)get_u32(&rd);
	h->errlen = get_u32(&rd);
	h->step_dz = h->hess_dz = 0;
	h->hess_kept = h->reserved = 0;
	if (h->version == 2) {
		h->step_dz = get_f64(&rd);
		h->hess_dz = get_f64(&rd);
		h->hess_kept = get_u32(&rd);
		h->reserved = get_u32(&rd);
	}
	return check_header(h, len);
}

int fl_solver_checkpoint_dim(const uint8_t *buf, size_t len, size_t *d)
{
	struct ckpt_header h;
	int r;

	if (d != NULL)
		*d = 0;
	if (d == NULL || (buf == NULL && len > 0))
		return fl_fail(FL_ERR_INVALID, "solver: missing argument to checkpoint_dim");
	if ((r = read_header(buf, len, &h)) != 0)
		return r;
	*d = (size_t)h.d;
	return 0;
}

int fl_solver_restore(const uint8_t *buf, size_t len, struct fl_solver **out)
{
	struct fl_solver *s = NULL;
	struct fl_solver_opts o;
	struct ckpt_header h;
	struct ckpt_reader rd;
	size_t d;
	int r = FL_ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || (buf == NULL && len > 0)) {
		r = fl_fail(FL_ERR_INVALID, "solver: missing argument to restore");
		goto out;
	}
	if ((r = read_header(buf, len, &h)) != 0)
		goto out;
	rd.p = buf + (h.version == 1 ? CKPT_HEADER_V1 : CKPT_HEADER_V2);
	if (memchr(rd.p, '\0', h.errlen) != NULL) {
		r = MALFORMED("NUL in the error message)");
		goto out;
	}
	/* lbfgs_remember() stores only pairs with curvature s'y > 0. */
	for (uint32_t k = 0; k < h.count; k++) {
		struct ckpt_reader pr = {rd.p + h.errlen + 4 * h.d * 8 + k * (8 + 2 * h.d * 8)};
		double rho = get_f64(&pr);

		if (!(rho > 0)) {
			r = MALFORMED("L-BFGS pair %u has rho = %g)", k, rho);
			goto out;
		}
	}

	/* Only now is memory taken: all sizes are known to match len. */
	o = (struct fl_solver_opts){
	        .l2 = h.l2, .tol = h.tol, .max_iter = (int)h.max_iter, .lbfgs_m = (int)h.m};
	d = (size_t)h.d;
	if ((r = fl_solver_new((enum fl_solver_kind)h.kind, d, &o, NULL, &s)) != 0)
		goto out;
	s->phase = (enum phase)h.phase;
	s->need_hess = (int)h.need_hess;
	s->converged = (int)h.converged;
	s->iterations = (int)h.iterations;
	s->evaluations = (int)h.evaluations;
	s->halvings = (int)h.halvings;
	s->f = h.f;
	s->gnorm = h.gnorm;
	s->dphi0 = h.dphi0;
	s->alpha = h.alpha;
	s->count = (int)h.count;
	s->head = (int)h.head;
	s->err = h.err;
	memcpy(s->errmsg, rd.p, h.errlen);
	s->errmsg[h.errlen] = '\0';
	rd.p += h.errlen;
	get_f64s(&rd, s->w, d);
	get_f64s(&rd, s->g, d);
	get_f64s(&rd, s->p, d);
	get_f64s(&rd, s->x, d);
	for (int k = 0; k < s->count; k++) {
		int idx = (s->head - s->count + k + s->m) % s->m;

		s->rho[idx] = get_f64(&rd);
		get_f64s(&rd, s->S + (size_t)idx * d, d);
		get_f64s(&rd, s->Y + (size_t)idx * d, d);
	}
	s->step_dz = h.step_dz;
	s->hess_dz = h.hess_dz;
	s->hess_kept = (int)h.hess_kept;
	s->f_ok = 0;
	if (s->hess_kept) {
		/* The lower triangle, mirrored: the Hessian is symmetric. */
		for (size_t i = 0; i < d; i++)
			get_f64s(&rd, s->H + i * d, i + 1);
		for (size_t i = 0; i < d; i++)
			for (size_t j = i + 1; j < d; j++)
				s->H[i * d + j] = s->H[j * d + i];
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	fl_solver_free(s);
	return r;
}
