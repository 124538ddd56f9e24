/*
 * Fuzz target: frame decoding. The first 4 bytes are a frame header
 * (fl_wire_frame_len, and fl_wire_read_frame over short reads), the rest a
 * body for fl_wire_decode. What decodes must encode again, to the same
 * bytes the second time round (the decoder accepts only what the encoder
 * makes), and fl_wire_clean_string must make strings the encoder takes.
 */
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/wire.h"
#include "fuzz_common.h"

struct chunks {
	const uint8_t *p;
	size_t n, pos;
};

/* A transport that hands out the input in short, varying pieces. */
static int read_chunks(void *ctx, void *buf, size_t n)
{
	struct chunks *c = ctx;
	size_t k = 1 + c->pos % 7;

	if (c->pos >= c->n)
		return 0;
	if (k > n)
		k = n;
	if (k > c->n - c->pos)
		k = c->n - c->pos;
	memcpy(buf, c->p + c->pos, k);
	c->pos += k;
	return (int)k;
}

static void check_framing(const uint8_t *data, size_t size)
{
	struct chunks c = {data, size, 0};
	uint8_t *body = NULL;
	size_t len = 0;
	uint32_t n = 0;
	int r, hr;

	if (size < FL_WIRE_HEADER_LEN)
		hr = -1;
	else
		hr = fl_wire_frame_len(data, FL_WIRE_PREAUTH_MAX_FRAME, "fuzz", &n);
	if (hr == 0 && (n == 0 || n > FL_WIRE_PREAUTH_MAX_FRAME))
		fz_die("fl_wire_frame_len accepted %u", n);
	r = fl_wire_read_frame(read_chunks, &c, FL_WIRE_PREAUTH_MAX_FRAME, "fuzz", &body, &len);
	if (r == 0) {
		if (hr != 0 || len != n || size < 4 + len || memcmp(body, data + 4, len) != 0)
			fz_die("fl_wire_read_frame returned another frame than the input holds");
	} else if (body != NULL || len != 0) {
		fz_die("fl_wire_read_frame failed but left a body");
	}
	free(body);
}

static void check_roundtrip(const Fedlead__Wire__Envelope *env)
{
	Fedlead__Wire__Envelope *again = NULL;
	uint8_t *f1 = NULL, *f2 = NULL;
	size_t l1, l2;

	if (strcmp(fl_wire_type_name(env), "invalid") == 0)
		fz_die("decoded an envelope without a body");
	if (fl_wire_encode(env, &f1, &l1) != 0)
		fz_die("a decoded %s does not encode: %s", fl_wire_type_name(env), fl_errmsg());
	if (fl_wire_decode(f1 + 4, l1 - 4, "fuzz", &again) != 0)
		fz_die("a re-encoded %s does not decode: %s", fl_wire_type_name(env), fl_errmsg());
	if (fl_wire_encode(again, &f2, &l2) != 0 || l1 != l2 || memcmp(f1, f2, l1) != 0)
		fz_die("encoding a %s is not stable", fl_wire_type_name(env));
	fl_wire_free(again);
	free(f1);
	free(f2);
}

/* Whatever the input, the cleaned string goes on the wire. */
static void check_clean_string(const uint8_t *data, size_t size)
{
	Fedlead__Wire__Envelope env = FEDLEAD__WIRE__ENVELOPE__INIT;
	Fedlead__Wire__Status st = FEDLEAD__WIRE__STATUS__INIT;
	Fedlead__Wire__RoundRef ref = FEDLEAD__WIRE__ROUND_REF__INIT;
	static uint8_t fp[FL_WIRE_FINGERPRINT_LEN];
	char src[2 * FL_WIRE_MAX_STRING + 1], dst[FL_WIRE_MAX_STRING + 8];
	size_t n = size < sizeof(src) - 1 ? size : sizeof(src) - 1, cap;
	uint8_t *frame;
	size_t len;

	memcpy(src, data, n);
	src[n] = '\0';
	/* Any room from 1 byte up to more than the string limit. */
	cap = 1 + (size > 0 ? data[0] * 5u % sizeof(dst) : 0);
	fl_wire_clean_string(dst, cap, src);
	if (strlen(dst) >= cap)
		fz_die("fl_wire_clean_string overran its buffer");
	ref.federation_id = dst;
	ref.schema_fingerprint.data = fp;
	ref.schema_fingerprint.len = sizeof(fp);
	st.ref = &ref;
	st.detail = dst;
	env.body_case = FEDLEAD__WIRE__ENVELOPE__BODY_STATUS;
	env.status = &st;
	if (fl_wire_encode(&env, &frame, &len) != 0)
		fz_die("a cleaned string is refused: %s", fl_errmsg());
	free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Fedlead__Wire__Envelope *env = NULL;
	static const uint8_t fp[FL_WIRE_FINGERPRINT_LEN];

	fz_init();
	check_framing(data, size);
	check_clean_string(data, size);
	if (size < FL_WIRE_HEADER_LEN)
		return 0;
	if (fl_wire_decode(data + 4, size - 4, "fuzz", &env) == 0) {
		check_roundtrip(env);
		if (fl_wire_ref(env) != NULL)
			(void)fl_wire_check_ref(fl_wire_ref(env), FZ_FED, 1, fp, "fuzz",
			                        fl_wire_type_name(env));
	} else if (env != NULL) {
		fz_die("fl_wire_decode failed but returned an envelope");
	}
	fl_wire_free(env);
	return 0;
}
