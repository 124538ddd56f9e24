/*
 * Framing and strict decoding of the wire protocol (proto/wire.proto).
 *
 * Decoding is three passes over a body whose length was already checked:
 *   1. walk_message() scans the raw protobuf with the generated descriptors
 *      and refuses, before protobuf-c allocates anything, what could make
 *      unpacking expensive or ambiguous: unknown or repeated fields, wrong
 *      wire types, over-long strings, strings with NUL bytes (protobuf-c
 *      would silently cut them), over-long vectors.
 *   2. protobuf-c unpacks.
 *   3. check_envelope() checks what the message must contain (a round
 *      reference, finite numbers, known enum values, clean strings). The
 *      encoder runs the same pass, so we never send what a peer refuses.
 */
#include "fedlead/wire.h"
#include "fedlead/schema.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fedlead/bytes.h"
#include "fedlead/error.h"
#include "fedlead/utf8.h"

/* Nesting in wire.proto is Envelope > Welcome > Plan; anything deeper is a
 * bug in a descriptor, not a message. */
#define MAX_DEPTH 8
/* Fields one message descriptor may have for the seen-once bookkeeping. */
#define MAX_FIELDS 64
/* A field path such as "welcome.plan.algorithm". */
#define PATH_MAX_LEN 128
/* The reason a message is refused, without the "peer X: " prefix. */
#define WHY_LEN 512
/* A peer name for messages when the caller gave none. */
#define PEER(p) ((p) != NULL ? (p) : "(unnamed)")

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

static int why_set(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records a reason in why (WHY_LEN bytes) and returns 1, "refused". */
static int why_set(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, WHY_LEN, fmt, ap);
	va_end(ap);
	return 1;
}

/* ---- strings --------------------------------------------------------- */

/* 0 when s (n bytes) is a string the protocol allows, else 1 with why. */
static int check_string(const char *path, const uint8_t *s, size_t n, char *why)
{
	uint32_t cp;
	size_t k;

	if (n > FL_WIRE_MAX_STRING)
		return why_set(why, "malformed message (%s is %zu bytes long, the limit is %u)",
		               path, n, FL_WIRE_MAX_STRING);
	for (size_t i = 0; i < n; i += k) {
		if (s[i] == 0)
			return why_set(why, "malformed message (%s contains a NUL byte)", path);
		if ((k = fl_utf8_char(s + i, n - i, &cp)) == 0)
			return why_set(why, "malformed message (%s is not valid UTF-8)", path);
		if (fl_utf8_is_control(cp))
			return why_set(why, "malformed message (%s contains a control character)",
			               path);
	}
	return 0;
}

void fl_wire_clean_string(char *dst, size_t n, const char *src)
{
	const uint8_t *s = (const uint8_t *)(src ? src : "");
	size_t limit, slen = strlen((const char *)s), o = 0, k;
	uint32_t cp;

	if (n == 0)
		return;
	limit = n - 1 < FL_WIRE_MAX_STRING ? n - 1 : FL_WIRE_MAX_STRING;
	for (size_t i = 0; i < slen; i += k) {
		if ((k = fl_utf8_char(s + i, slen - i, &cp)) == 0 || fl_utf8_is_control(cp)) {
			if (k == 0)
				k = 1;
			if (o + 1 > limit)
				break;
			dst[o++] = '?';
			continue;
		}
		if (o + k > limit)
			break;
		memcpy(dst + o, s + i, k);
		o += k;
	}
	dst[o] = '\0';
}

/* ---- pass 1: the raw protobuf ----------------------------------------- */

/* Reads a base-128 varint at *pos; 0 on success. */
static int get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned i = 0; i < 10; i++) {
		uint8_t b;

		if (*pos >= len)
			return 1;
		b = p[(*pos)++];
		/* The tenth byte holds bit 63 only. */
		if (i == 9 && b > 1)
			return 1;
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return 1;
}

/* The wire type a field must have; packed repeated scalars are WT_LEN. */
static unsigned expected_wire_type(const ProtobufCFieldDescriptor *f)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED && f->type != PROTOBUF_C_TYPE_STRING &&
	    f->type != PROTOBUF_C_TYPE_BYTES && f->type != PROTOBUF_C_TYPE_MESSAGE)
		return WT_LEN;
	switch (f->type) {
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64: return WT_FIXED64;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32: return WT_FIXED32;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE: return WT_LEN;
	default: return WT_VARINT;
	}
}

/*
 * Whether a varint fits its field: protobuf-c would silently truncate a
 * uint32 of 2^32 + 1 to 1, and the message would mean something other
 * than what was sent. int32 and enum values are sign-extended to 64 bits
 * on the wire.
 */
static int varint_fits(const ProtobufCFieldDescriptor *f, uint64_t v)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_UINT32: return v <= UINT32_MAX;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_ENUM: return (int64_t)v >= INT32_MIN && (int64_t)v <= INT32_MAX;
	case PROTOBUF_C_TYPE_SINT32: return v <= UINT32_MAX;
	case PROTOBUF_C_TYPE_BOOL: return v <= 1;
	default: return 1;
	}
}

/* Entries of a packed repeated scalar of n bytes, or 1 with why. */
static int packed_count(const ProtobufCFieldDescriptor *f, const char *path, const uint8_t *p,
                        size_t n, size_t *count, char *why)
{
	size_t pos = 0, c = 0;
	uint64_t v;

	switch (f->type) {
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (n % 8 != 0)
			return why_set(why,
			               "malformed message (%s is not a whole number of values)",
			               path);
		c = n / 8;
		break;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (n % 4 != 0)
			return why_set(why,
			               "malformed message (%s is not a whole number of values)",
			               path);
		c = n / 4;
		break;
	default:
		while (pos < n) {
			if (get_varint(p, n, &pos, &v) != 0)
				return why_set(why, "malformed message (%s has a bad varint)",
				               path);
			c++;
		}
		break;
	}
	*count = c;
	return 0;
}

static int walk_message(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len,
                        const char *path, int depth, char *why)
{
	uint32_t seen[MAX_FIELDS] = {0};
	unsigned oneof_seen = 0; /* quantifier offset + 1 of a oneof member seen */
	const char *where = path[0] != '\0' ? path : "the envelope";
	size_t pos = 0;

	if (depth > MAX_DEPTH || desc->n_fields > MAX_FIELDS)
		return why_set(why, "malformed message (nested too deeply)");
	while (pos < len) {
		const ProtobufCFieldDescriptor *f;
		char sub[PATH_MAX_LEN];
		uint64_t tag, v, n;
		unsigned wt;
		size_t idx;

		if (get_varint(p, len, &pos, &tag) != 0 || tag > UINT32_MAX || (tag >> 3) == 0)
			return why_set(why, "malformed message (bad field tag in %s)", where);
		wt = (unsigned)(tag & 7);
		f = protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3));
		if (f == NULL)
			return why_set(why, "malformed message (unknown field %u in %s)",
			               (unsigned)(tag >> 3), where);
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] != '\0' ? "." : "", f->name);
		idx = (size_t)(f - desc->fields);
		/* A repeated field of messages, strings or bytes occurs once per
		 * element (bounded, so the allocation stays small); any other field
		 * once. */
		if (seen[idx] > 0 && f->label != PROTOBUF_C_LABEL_REPEATED)
			return why_set(why, "malformed message (%s occurs twice)", sub);
		if (seen[idx] >= FL_WIRE_MAX_REPEATED)
			return why_set(why, "malformed message (%s occurs more than %d times)", sub,
			               FL_WIRE_MAX_REPEATED);
		seen[idx]++;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			/* Protobuf would keep the last member; two bodies are a
			 * confused or malicious sender. */
			if (oneof_seen == f->quantifier_offset + 1)
				return why_set(why, "malformed message (more than one body in %s)",
				               where);
			oneof_seen = f->quantifier_offset + 1;
		}
		if (wt != expected_wire_type(f))
			return why_set(why, "malformed message (%s has the wrong wire type)", sub);
		switch (wt) {
		case WT_VARINT:
			if (get_varint(p, len, &pos, &v) != 0)
				return why_set(why, "malformed message (%s has a bad varint)", sub);
			if (!varint_fits(f, v))
				return why_set(why, "malformed message (%s is out of range)", sub);
			break;
		case WT_FIXED64:
		case WT_FIXED32: {
			size_t w = wt == WT_FIXED64 ? 8 : 4;

			if (len - pos < w)
				return why_set(why, "malformed message (%s is truncated)", sub);
			pos += w;
			break;
		}
		default: /* WT_LEN */
			if (get_varint(p, len, &pos, &n) != 0 || n > len - pos)
				return why_set(why, "malformed message (%s is truncated)", sub);
			if (f->label == PROTOBUF_C_LABEL_REPEATED &&
			    f->type != PROTOBUF_C_TYPE_MESSAGE &&
			    f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES) {
				size_t count = 0;

				if (packed_count(f, sub, p + pos, (size_t)n, &count, why) != 0)
					return 1;
				if (count > FL_WIRE_MAX_VECTOR)
					return why_set(why,
					               "malformed message (%s has %zu values, the "
					               "limit is %u)",
					               sub, count, FL_WIRE_MAX_VECTOR);
			} else if (f->type == PROTOBUF_C_TYPE_STRING) {
				if (check_string(sub, p + pos, (size_t)n, why) != 0)
					return 1;
			} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				if (walk_message(f->descriptor, p + pos, (size_t)n, sub, depth + 1,
				                 why) != 0)
					return 1;
			}
			pos += (size_t)n;
			break;
		}
	}
	return 0;
}

/* ---- pass 3: what the message must contain ---------------------------- */

/* Strings anywhere in an unpacked (or caller-built) message. */
static int check_strings(const ProtobufCMessage *m, const char *path, int depth, char *why)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;

	if (depth > MAX_DEPTH)
		return why_set(why, "malformed message (nested too deeply)");
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		const char *member = (const char *)m + f->offset;
		char sub[PATH_MAX_LEN];

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t which =
			        *(const uint32_t *)((const char *)m + f->quantifier_offset);

			if (which != f->id)
				continue;
		}
		/* Repeated strings and messages (the secure-aggregation lists) were
		 * checked byte by byte in pass 1 when decoding; this pass guards the
		 * singular fields of messages the caller built. */
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		if (snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] != '\0' ? "." : "",
		             f->name) >= (int)sizeof(sub))
			sub[sizeof(sub) - 1] = '\0'; /* a shortened path is still a good hint */
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			const char *s = *(char *const *)member;

			if (s != NULL && check_string(sub, (const uint8_t *)s, strlen(s), why) != 0)
				return 1;
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const ProtobufCMessage *sm = *(ProtobufCMessage *const *)member;

			if (sm != NULL && check_strings(sm, sub, depth + 1, why) != 0)
				return 1;
		}
	}
	return 0;
}

static int check_finite(double x, const char *type, const char *name, char *why)
{
	if (!isfinite(x))
		return why_set(why, "%s: %s is not a finite number", type, name);
	return 0;
}

static int check_vector(const double *v, size_t n, const char *type, const char *name, char *why)
{
	if (n > FL_WIRE_MAX_VECTOR)
		return why_set(why, "%s: %s has %zu values, the limit is %u", type, name, n,
		               FL_WIRE_MAX_VECTOR);
	if (n > 0 && v == NULL)
		return why_set(why, "%s: %s has %zu values but no data", type, name, n);
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return why_set(why, "%s: %s[%zu] is not a finite number", type, name, i);
	return 0;
}

static int check_fingerprint(const ProtobufCBinaryData *fp, const char *type, char *why)
{
	if (fp->len != FL_WIRE_FINGERPRINT_LEN || fp->data == NULL)
		return why_set(why, "%s: schema fingerprint is %zu bytes, expected %u", type,
		               fp->len, FL_WIRE_FINGERPRINT_LEN);
	return 0;
}

/* Secure-aggregation settings of a task, when present. */
static int check_secagg_params(const Fedlead__Wire__SecAggParams *p, const char *type, char *why)
{
	if (p == NULL)
		return 0;
	if (p->session.len != FL_WIRE_SESSION_LEN)
		return why_set(why, "%s: secure-aggregation session is %zu bytes, expected %d",
		               type, p->session.len, FL_WIRE_SESSION_LEN);
	if (p->frac_bits < 0 || p->frac_bits > 62)
		return why_set(why, "%s: fixed-point fraction bits %d out of range", type,
		               (int)p->frac_bits);
	if (!(p->bound > 0) || !isfinite(p->bound))
		return why_set(why, "%s: fixed-point bound is not a positive number", type);
	if (p->threshold == 1 || p->threshold > FL_WIRE_MAX_PARTIES)
		return why_set(why, "%s: secure-aggregation threshold %u out of range", type,
		               p->threshold);
	if (p->n_participants > FL_WIRE_MAX_PARTIES)
		return why_set(why, "%s: %zu participants, the limit is %d", type,
		               p->n_participants, FL_WIRE_MAX_PARTIES);
	for (size_t i = 1; i < p->n_participants; i++)
		if (strcmp(p->participants[i - 1], p->participants[i]) >= 0)
			return why_set(why, "%s: participants are not sorted and distinct", type);
	/* Evidence of bad reveals (protocol 4): sizes only; a node checks the
	 * rest itself (secagg.h, fl_secagg_history_check). */
	if (p->n_evidence > FL_WIRE_MAX_PARTIES)
		return why_set(why, "%s: %zu pieces of evidence, the limit is %d", type,
		               p->n_evidence, FL_WIRE_MAX_PARTIES);
	for (size_t i = 0; i < p->n_evidence; i++) {
		const Fedlead__Wire__RevealEvidence *e = p->evidence[i];

		if (e->ref == NULL || e->session.len != FL_WIRE_SESSION_LEN ||
		    e->revealer[0] == '\0' || e->signature.len == 0 ||
		    e->signature.len > FL_WIRE_MAX_SIGNATURE || e->n_shares == 0 ||
		    e->n_shares > FL_WIRE_MAX_PARTIES || e->bad >= e->n_shares ||
		    e->commitment == NULL || e->commitment->seed.len != FL_WIRE_KEY_LEN ||
		    e->commitment->secret.len != FL_WIRE_KEY_LEN ||
		    e->commitment->signature.len == 0 ||
		    e->commitment->signature.len > FL_WIRE_MAX_SIGNATURE)
			return why_set(why, "%s: evidence %zu is malformed", type, i);
		for (size_t j = 0; j < e->n_shares; j++) {
			const Fedlead__Wire__RevealedDigest *d = e->shares[j];

			if (d->owner[0] == '\0' || (d->what != 1 && d->what != 2) ||
			    d->revealed.len != FL_WIRE_KEY_LEN ||
			    d->committed.len != FL_WIRE_KEY_LEN)
				return why_set(why, "%s: evidence %zu: share %zu is malformed",
				               type, i, j);
		}
	}
	return 0;
}

/* Public keys are X25519 (32 bytes); a signature is bounded. */
static int check_keys(const ProtobufCBinaryData *c, const ProtobufCBinaryData *s,
                      const ProtobufCBinaryData *sig, const char *type, char *why)
{
	if (c->len != FL_WIRE_KEY_LEN || s->len != FL_WIRE_KEY_LEN)
		return why_set(why, "%s: public keys must be %d bytes", type, FL_WIRE_KEY_LEN);
	if (sig->len == 0 || sig->len > FL_WIRE_MAX_SIGNATURE)
		return why_set(why, "%s: signature of %zu bytes", type, sig->len);
	return 0;
}

/* A dealer's commitment to a holder's shares (absent or well-formed; the
 * protocol engine says which are required). */
static int check_commitment(const Fedlead__Wire__ShareCommitment *c, char *why)
{
	if (c == NULL)
		return 0;
	if (c->holder[0] == '\0')
		return why_set(why, "share_set: commitment without a holder");
	if (c->seed.len != FL_WIRE_KEY_LEN || c->secret.len != FL_WIRE_KEY_LEN)
		return why_set(why, "share_set: commitments must be %d bytes", FL_WIRE_KEY_LEN);
	if (c->signature.len == 0 || c->signature.len > FL_WIRE_MAX_SIGNATURE)
		return why_set(why, "share_set: commitment signature of %zu bytes",
		               c->signature.len);
	return 0;
}

/* 0 when env is a message this version accepts, else 1 with why. */
static int check_envelope(const Fedlead__Wire__Envelope *env, char *why)
{
	const char *type = fl_wire_type_name(env);
	const Fedlead__Wire__RoundRef *ref = fl_wire_ref(env);

	if (strcmp(type, "invalid") == 0)
		return why_set(why, "malformed message (no body)");
	if (check_strings(&env->base, "", 0, why) != 0)
		return 1;
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK:
	case FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE:
	case FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK:
	case FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN:
	case FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL:
	case FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE:
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATUS:
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT:
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST:
	case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
	case FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE:
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST:
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY:
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK:
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE:
	case FEDLEAD__WIRE__ENVELOPE__BODY_ACCUSATION:
		if (ref == NULL)
			return why_set(why, "%s: round reference missing", type);
		if (check_fingerprint(&ref->schema_fingerprint, type, why) != 0)
			return 1;
		break;
	default: break;
	}
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_HELLO:
		/* Another version may fingerprint differently; the coordinator
		 * answers it with a Reject naming the version instead. */
		if (env->hello->protocol_version == FL_WIRE_PROTOCOL_VERSION &&
		    !env->hello->schema_round &&
		    check_fingerprint(&env->hello->schema_fingerprint, type, why) != 0)
			return 1;
		break;
	/* The schema round: a schema is bounded before anyone parses it. */
	case FEDLEAD__WIRE__ENVELOPE__BODY_SCHEMA_DRAFT:
		if (env->schema_draft->draft.len == 0 ||
		    env->schema_draft->draft.len > FL_SCHEMA_MAX_BYTES)
			return why_set(why, "schema_draft: the draft must have 1 to %u bytes",
			               FL_SCHEMA_MAX_BYTES);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_SCHEMA_PROPOSAL: {
		const Fedlead__Wire__SchemaProposal *sp = env->schema_proposal;

		if (sp->schema.len > FL_SCHEMA_MAX_BYTES)
			return why_set(why, "schema_proposal: the schema exceeds %u bytes",
			               FL_SCHEMA_MAX_BYTES);
		if ((sp->schema.len == 0) != (sp->fingerprint.len == 0) ||
		    (sp->schema.len > 0 && sp->n_conflicts > 0))
			return why_set(why, "schema_proposal: a schema with its fingerprint, or "
			                    "conflicts, and not both");
		if (sp->fingerprint.len > 0 && check_fingerprint(&sp->fingerprint, type, why) != 0)
			return 1;
		break;
	}
	case FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME: {
		const Fedlead__Wire__Plan *p = env->welcome->plan;

		if (p == NULL)
			return why_set(why, "welcome: plan missing");
		if (check_finite(p->validation_split, type, "plan.validation_split", why) != 0 ||
		    check_finite(p->hist_range, type, "plan.hist_range", why) != 0)
			return 1;
		break;
	}
	case FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE: {
		const Fedlead__Wire__Standardize *s = env->standardize;

		if (s->n_center != s->n_scale || s->n_center != s->n_impute ||
		    s->n_center != s->n_baseline)
			return why_set(why,
			               "standardize: center, scale, impute and baseline differ in "
			               "length (%zu, %zu, %zu, %zu)",
			               s->n_center, s->n_scale, s->n_impute, s->n_baseline);
		if (check_vector(s->center, s->n_center, type, "center", why) != 0 ||
		    check_vector(s->scale, s->n_scale, type, "scale", why) != 0 ||
		    check_vector(s->impute, s->n_impute, type, "impute", why) != 0 ||
		    check_vector(s->baseline, s->n_baseline, type, "baseline", why) != 0 ||
		    check_vector(s->knots, s->n_knots, type, "knots", why) != 0 ||
		    check_finite(s->pos_weight, type, "pos_weight", why) != 0)
			return 1;
		break;
	}
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK:
		if (check_vector(env->stats_task->knots, env->stats_task->n_knots, type, "knots",
		                 why) != 0)
			return 1;
		return check_secagg_params(env->stats_task->secagg, type, why);
	case FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK:
		if (check_vector(env->eval_task->w, env->eval_task->n_w, type, "w", why) != 0)
			return 1;
		return check_secagg_params(env->eval_task->secagg, type, why);
	case FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN: {
		const Fedlead__Wire__LocalTrainTask *t = env->local_train;

		if (check_vector(t->w, t->n_w, type, "w", why) != 0 ||
		    check_finite(t->lr, type, "lr", why) != 0 ||
		    check_finite(t->prox_mu, type, "prox_mu", why) != 0 ||
		    check_finite(t->l2, type, "l2", why) != 0)
			return 1;
		return check_secagg_params(t->secagg, type, why);
	}
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT: {
		const Fedlead__Wire__KeyAdvert *k = env->key_advert;

		if (k->b_commit.len != FL_WIRE_KEY_LEN)
			return why_set(why, "%s: commitment must be %d bytes", type,
			               FL_WIRE_KEY_LEN);
		if (k->task_hash.len != FL_WIRE_KEY_LEN)
			return why_set(why, "%s: task hash must be %d bytes", type,
			               FL_WIRE_KEY_LEN);
		return check_keys(&k->c_pub, &k->s_pub, &k->signature, type, why);
	}
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST: {
		const Fedlead__Wire__KeyList *l = env->key_list;

		if (l->n_entries > FL_WIRE_MAX_PARTIES)
			return why_set(why, "key_list: %zu entries, the limit is %d", l->n_entries,
			               FL_WIRE_MAX_PARTIES);
		for (size_t i = 0; i < l->n_entries; i++) {
			const Fedlead__Wire__KeyEntry *e = l->entries[i];

			if (e->identity[0] == '\0')
				return why_set(why, "key_list: entry %zu has no identity", i);
			if (e->certificate.len == 0 || e->certificate.len > FL_WIRE_MAX_CERT)
				return why_set(why,
				               "key_list: certificate of entry %zu is %zu bytes", i,
				               e->certificate.len);
			if (check_keys(&e->c_pub, &e->s_pub, &e->signature, type, why) != 0)
				return 1;
			if (e->b_commit.len != FL_WIRE_KEY_LEN)
				return why_set(why, "%s: commitment must be %d bytes", type,
				               FL_WIRE_KEY_LEN);
			if (e->task_hash.len != FL_WIRE_KEY_LEN)
				return why_set(why, "%s: task hash must be %d bytes", type,
				               FL_WIRE_KEY_LEN);
		}
		break;
	}
	case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET: {
		const Fedlead__Wire__ShareSet *ss = env->share_set;

		if (ss->n_shares > FL_WIRE_MAX_PARTIES)
			return why_set(why, "share_set: %zu shares, the limit is %d", ss->n_shares,
			               FL_WIRE_MAX_PARTIES);
		for (size_t i = 0; i < ss->n_shares; i++) {
			if (ss->shares[i]->ciphertext.len != FL_WIRE_SHARE_CT_LEN)
				return why_set(why,
				               "share_set: share %zu is %zu bytes, expected %d", i,
				               ss->shares[i]->ciphertext.len, FL_WIRE_SHARE_CT_LEN);
			if (check_commitment(ss->shares[i]->commitment, why) != 0)
				return 1;
		}
		if (ss->own != NULL && check_commitment(ss->own, why) != 0)
			return 1;
		break;
	}
	case FEDLEAD__WIRE__ENVELOPE__BODY_ACCUSATION:
		if (env->accusation->dealer[0] == '\0')
			return why_set(why, "accusation: no dealer");
		if ((env->accusation->key.len == FL_WIRE_KEY_LEN) ==
		            (env->accusation->c_secret.len == FL_WIRE_KEY_LEN) ||
		    env->accusation->key.len + env->accusation->c_secret.len != FL_WIRE_KEY_LEN)
			return why_set(why, "accusation: needs a key or a secret key of %d bytes",
			               FL_WIRE_KEY_LEN);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE:
		switch (env->masked_update->kind) {
		case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS:
		case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL:
		case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_FEDAVG:
		case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_HIST: break;
		default:
			return why_set(why, "masked_update: kind %d is not valid",
			               (int)env->masked_update->kind);
		}
		if (env->masked_update->n_values > FL_WIRE_MAX_VECTOR)
			return why_set(why, "masked_update has %zu values, the limit is %u",
			               env->masked_update->n_values, FL_WIRE_MAX_VECTOR);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST: {
		const Fedlead__Wire__UnmaskRequest *u = env->unmask_request;

		if (u->n_survivors > FL_WIRE_MAX_PARTIES || u->n_dropped > FL_WIRE_MAX_PARTIES ||
		    u->n_signatures > FL_WIRE_MAX_PARTIES)
			return why_set(why, "unmask_request names more than %d partners",
			               FL_WIRE_MAX_PARTIES);
		for (size_t i = 0; i < u->n_signatures; i++)
			if (u->signatures[i]->signature.len == 0 ||
			    u->signatures[i]->signature.len > FL_WIRE_MAX_SIGNATURE)
				return why_set(why, "unmask_request: signature %zu of %zu bytes", i,
				               u->signatures[i]->signature.len);
		break;
	}
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK:
		if (env->consistency_check->n_survivors > FL_WIRE_MAX_PARTIES ||
		    env->consistency_check->n_dropped > FL_WIRE_MAX_PARTIES)
			return why_set(why, "consistency_check names more than %d partners",
			               FL_WIRE_MAX_PARTIES);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE:
		if (env->consistency_signature->signature.len == 0 ||
		    env->consistency_signature->signature.len > FL_WIRE_MAX_SIGNATURE)
			return why_set(why, "consistency_signature: signature of %zu bytes",
			               env->consistency_signature->signature.len);
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY: {
		const Fedlead__Wire__UnmaskReply *u = env->unmask_reply;

		if (u->n_shares > FL_WIRE_MAX_PARTIES)
			return why_set(why, "unmask_reply: %zu shares, the limit is %d",
			               u->n_shares, FL_WIRE_MAX_PARTIES);
		/* Absent is for the protocol engine to name (it excludes the
		 * revealer); too long is no signature at all. */
		if (u->signature.len > FL_WIRE_MAX_SIGNATURE)
			return why_set(why, "unmask_reply: signature of %zu bytes",
			               u->signature.len);
		for (size_t i = 0; i < u->n_shares; i++) {
			if (u->shares[i]->what != 1 && u->shares[i]->what != 2)
				return why_set(why, "unmask_reply: share %zu is of unknown kind %u",
				               i, u->shares[i]->what);
			if (u->shares[i]->share.len != FL_WIRE_KEY_LEN)
				return why_set(why,
				               "unmask_reply: share %zu is %zu bytes, expected %d",
				               i, u->shares[i]->share.len, FL_WIRE_KEY_LEN);
		}
		break;
	}
	case FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL:
		if (env->final_model->model_file.len > 0 &&
		    env->final_model->model_file.data == NULL)
			return why_set(why, "final_model: model_file has no data");
		break;
	case FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE: {
		const Fedlead__Wire__Update *u = env->update;

		switch (u->kind) {
		case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_STATS:
		case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_EVAL:
		case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_FEDAVG:
		case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_HIST: break;
		case FEDLEAD__WIRE__UPDATE_KIND__UPDATE_NONE:
			return why_set(why, "update: kind not set");
		default: return why_set(why, "update: unknown kind %d", (int)u->kind);
		}
		if (check_vector(u->values, u->n_values, type, "values", why) != 0)
			return 1;
		break;
	}
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATUS:
		switch (env->status->code) {
		case FEDLEAD__WIRE__STATUS_CODE__STATUS_OK:
		case FEDLEAD__WIRE__STATUS_CODE__STATUS_ERROR:
		case FEDLEAD__WIRE__STATUS_CODE__STATUS_SAVED: break;
		default: return why_set(why, "status: unknown code %d", (int)env->status->code);
		}
		break;
	default: break;
	}
	return 0;
}

/* ---- public ----------------------------------------------------------- */

int fl_wire_frame_len(const uint8_t hdr[4], size_t max_frame, const char *peer, uint32_t *len)
{
	uint32_t n = fl_get_be32(hdr);

	*len = 0;
	peer = PEER(peer);
	if (n == 0)
		return fl_fail(FL_ERR_LIMIT, "peer %s: empty frame", peer);
	if (n > max_frame)
		return fl_fail(FL_ERR_LIMIT,
		               "peer %s: frame of %" PRIu32 " bytes exceeds the limit of %zu bytes",
		               peer, n, max_frame);
	*len = n;
	return 0;
}

int fl_wire_decode(const uint8_t *body, size_t len, const char *peer, Fedlead__Wire__Envelope **out)
{
	Fedlead__Wire__Envelope *env = NULL;
	char why[WHY_LEN];
	int r = FL_ERR_INTERNAL;

	*out = NULL;
	peer = PEER(peer);
	if (body == NULL && len > 0) {
		r = fl_fail(FL_ERR_INVALID, "fl_wire_decode: no body");
		goto out;
	}
	if (walk_message(&fedlead__wire__envelope__descriptor, body, len, "", 0, why) != 0) {
		r = fl_fail(FL_ERR_PROTO, "peer %s: %s", peer, why);
		goto out;
	}
	/* The walk accepted every byte, so a failure here is protobuf-c
	 * refusing something subtler (or running out of memory). */
	if ((env = fedlead__wire__envelope__unpack(NULL, len, body)) == NULL) {
		r = fl_fail(FL_ERR_PROTO, "peer %s: malformed message (protobuf-c refused it)",
		            peer);
		goto out;
	}
	if (check_envelope(env, why) != 0) {
		r = fl_fail(FL_ERR_PROTO, "peer %s: %s", peer, why);
		goto out;
	}
	*out = env;
	env = NULL;
	r = 0;
out:
	fl_wire_free(env);
	return r;
}

int fl_wire_encode(const Fedlead__Wire__Envelope *env, uint8_t **frame, size_t *len)
{
	uint8_t *buf = NULL;
	char why[WHY_LEN];
	size_t n;
	int r = FL_ERR_INTERNAL;

	*frame = NULL;
	*len = 0;
	if (env == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_wire_encode: no message");
		goto out;
	}
	if (check_envelope(env, why) != 0) {
		r = fl_fail(FL_ERR_INVALID, "message not sent: %s", why);
		goto out;
	}
	n = fedlead__wire__envelope__get_packed_size(env);
	if (n > UINT32_MAX) {
		r = fl_fail(FL_ERR_LIMIT, "message not sent: %s of %zu bytes does not fit a frame",
		            fl_wire_type_name(env), n);
		goto out;
	}
	if ((buf = malloc(FL_WIRE_HEADER_LEN + n)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	fl_put_be32(buf, (uint32_t)n);
	if (fedlead__wire__envelope__pack(env, buf + FL_WIRE_HEADER_LEN) != n) {
		r = fl_fail(FL_ERR_INTERNAL, "protobuf-c packed a different size than it computed");
		goto out;
	}
	*frame = buf;
	*len = FL_WIRE_HEADER_LEN + n;
	buf = NULL;
	r = 0;
out:
	free(buf);
	return r;
}

void fl_wire_free(Fedlead__Wire__Envelope *env)
{
	if (env == NULL)
		return;
	fedlead__wire__envelope__free_unpacked(env, NULL);
}

const char *fl_wire_type_name(const Fedlead__Wire__Envelope *env)
{
	if (env == NULL)
		return "invalid";
	/* A body case without its message is as good as no body. */
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_HELLO: return env->hello ? "hello" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_WELCOME: return env->welcome ? "welcome" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_REJECT: return env->reject ? "reject" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK:
		return env->stats_task ? "stats_task" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE:
		return env->standardize ? "standardize" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK:
		return env->eval_task ? "eval_task" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN:
		return env->local_train ? "local_train" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL:
		return env->final_model ? "final_model" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE: return env->update ? "update" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATUS: return env->status ? "status" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT:
		return env->key_advert ? "key_advert" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST: return env->key_list ? "key_list" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
		return env->share_set ? "share_set" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE:
		return env->masked_update ? "masked_update" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST:
		return env->unmask_request ? "unmask_request" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY:
		return env->unmask_reply ? "unmask_reply" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK:
		return env->consistency_check ? "consistency_check" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE:
		return env->consistency_signature ? "consistency_signature" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_ACCUSATION:
		return env->accusation ? "accusation" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_SCHEMA_DRAFT:
		return env->schema_draft ? "schema_draft" : "invalid";
	case FEDLEAD__WIRE__ENVELOPE__BODY_SCHEMA_PROPOSAL:
		return env->schema_proposal ? "schema_proposal" : "invalid";
	default: return "invalid";
	}
}

const Fedlead__Wire__RoundRef *fl_wire_ref(const Fedlead__Wire__Envelope *env)
{
	if (env == NULL || strcmp(fl_wire_type_name(env), "invalid") == 0)
		return NULL;
	switch (env->body_case) {
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATS_TASK: return env->stats_task->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_STANDARDIZE: return env->standardize->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_EVAL_TASK: return env->eval_task->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_LOCAL_TRAIN: return env->local_train->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_FINAL_MODEL: return env->final_model->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_UPDATE: return env->update->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_STATUS: return env->status->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT: return env->key_advert->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_LIST: return env->key_list->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET: return env->share_set->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE: return env->masked_update->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REQUEST: return env->unmask_request->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY: return env->unmask_reply->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_CHECK: return env->consistency_check->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE:
		return env->consistency_signature->ref;
	case FEDLEAD__WIRE__ENVELOPE__BODY_ACCUSATION: return env->accusation->ref;
	default: return NULL;
	}
}

int fl_wire_check_ref(const Fedlead__Wire__RoundRef *ref, const char *federation_id, uint64_t round,
                      const uint8_t fingerprint[32], const char *peer, const char *type)
{
	peer = PEER(peer);
	type = type != NULL ? type : "message";
	federation_id = federation_id != NULL ? federation_id : "";
	if (ref == NULL)
		return fl_fail(FL_ERR_PROTO, "peer %s: %s: round reference missing", peer, type);
	if (ref->federation_id == NULL || strcmp(ref->federation_id, federation_id) != 0)
		return fl_fail(FL_ERR_PROTO,
		               "peer %s: %s for federation \"%.128s\", expected \"%s\"", peer, type,
		               ref->federation_id ? ref->federation_id : "", federation_id);
	if (ref->schema_fingerprint.len != FL_WIRE_FINGERPRINT_LEN ||
	    ref->schema_fingerprint.data == NULL ||
	    memcmp(ref->schema_fingerprint.data, fingerprint, FL_WIRE_FINGERPRINT_LEN) != 0)
		return fl_fail(FL_ERR_PROTO, "peer %s: %s with a different schema fingerprint",
		               peer, type);
	if (ref->round != round)
		return fl_fail(FL_ERR_PROTO,
		               "peer %s: %s for round %" PRIu64 ", but round %" PRIu64
		               " is in progress (%s)",
		               peer, type, ref->round, round,
		               ref->round < round ? "stale" : "future");
	return 0;
}

/* Reads exactly n bytes; *got counts what arrived, for the messages. */
static int read_exact(int (*read_fn)(void *, void *, size_t), void *ctx, uint8_t *buf, size_t n,
                      size_t *got)
{
	*got = 0;
	while (*got < n) {
		size_t want = n - *got > INT_MAX ? INT_MAX : n - *got;
		int k = read_fn(ctx, buf + *got, want);

		if (k < 0)
			return k;
		if (k == 0)
			return 1; /* end of file */
		if ((size_t)k > want)
			return fl_fail(FL_ERR_INTERNAL, "read callback returned %d for %zu bytes",
			               k, want);
		*got += (size_t)k;
	}
	return 0;
}

int fl_wire_read_frame(int (*read_fn)(void *ctx, void *buf, size_t n), void *ctx, size_t max_frame,
                       const char *peer, uint8_t **body, size_t *len)
{
	uint8_t hdr[FL_WIRE_HEADER_LEN], *buf = NULL;
	uint32_t n;
	size_t got;
	int r = FL_ERR_INTERNAL;

	*body = NULL;
	*len = 0;
	peer = PEER(peer);
	if ((r = read_exact(read_fn, ctx, hdr, sizeof(hdr), &got)) != 0) {
		if (r == 1 && got == 0)
			r = fl_fail(FL_ERR_IO, "peer %s: connection closed", peer);
		else if (r == 1)
			r = fl_fail(FL_ERR_PROTO,
			            "peer %s: connection closed in a frame header (%zu of 4 bytes)",
			            peer, got);
		goto out;
	}
	if ((r = fl_wire_frame_len(hdr, max_frame, peer, &n)) != 0)
		goto out;
	if ((buf = malloc(n)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if ((r = read_exact(read_fn, ctx, buf, n, &got)) != 0) {
		if (r == 1)
			r = fl_fail(FL_ERR_PROTO,
			            "peer %s: connection closed in a frame (%zu of %" PRIu32
			            " bytes)",
			            peer, got, n);
		goto out;
	}
	*body = buf;
	*len = n;
	buf = NULL;
	r = 0;
out:
	free(buf);
	return r;
}

int fl_wire_write_all(int (*write_fn)(void *, const void *, size_t), void *ctx, const uint8_t *buf,
                      size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t want = len - done > INT_MAX ? INT_MAX : len - done;
		int k = write_fn(ctx, buf + done, want);

		if (k < 0)
			return k;
		if (k == 0)
			return fl_fail(FL_ERR_IO,
			               "connection closed after %zu of %zu bytes were sent", done,
			               len);
		if ((size_t)k > want)
			return fl_fail(FL_ERR_INTERNAL, "write callback returned %d for %zu bytes",
			               k, want);
		done += (size_t)k;
	}
	return 0;
}

int fl_wire_message_hash(const char *tag, const uint8_t *prefix, size_t prefix_len,
                         const ProtobufCMessage *m, uint8_t out[32])
{
	size_t n = m != NULL ? protobuf_c_message_get_packed_size(m) : 0;
	uint8_t *buf = malloc(n ? n : 1);
	EVP_MD_CTX *md;
	int ok;

	if (buf == NULL)
		return FL_ERR_NOMEM;
	if (m != NULL)
		protobuf_c_message_pack(m, buf);
	md = EVP_MD_CTX_new();
	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, tag, strlen(tag) + 1) == 1 &&
	     EVP_DigestUpdate(md, prefix, prefix_len) == 1 && EVP_DigestUpdate(md, buf, n) == 1 &&
	     EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	free(buf);
	return ok ? 0 : fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
}
