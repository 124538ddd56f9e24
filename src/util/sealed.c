/*
 * Sealed blobs (include/fedlead/sealed.h): magic, version, length, payload,
 * SHA-256 - parsed with every bound checked before a caller allocates, and
 * written through the atomic file layer.
 */
#include "fedlead/sealed.h"

#include <inttypes.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "fedlead/bytes.h"
#include "fedlead/error.h"

size_t fl_seal_header_len(const struct fl_seal_format *f)
{
	return FL_SEAL_MAGIC_LEN + f->version_bytes + f->length_bytes;
}

size_t fl_seal_overhead(const struct fl_seal_format *f)
{
	return fl_seal_header_len(f) + (f->checksum ? FL_SEAL_SUM_LEN : 0);
}

void fl_seal_put_header(const struct fl_seal_format *f, uint32_t version, uint64_t len,
                        uint8_t *hdr)
{
	memcpy(hdr, f->magic, FL_SEAL_MAGIC_LEN);
	hdr += FL_SEAL_MAGIC_LEN;
	if (f->version_bytes == 4) {
		fl_put_be32(hdr, version);
		hdr += 4;
	}
	if (f->length_bytes == 4)
		fl_put_be32(hdr, (uint32_t)len);
	else
		fl_put_be64(hdr, len);
}

/* SHA-256 of hdr (hlen bytes) then payload (len bytes). */
static int sha256_2(const uint8_t *hdr, size_t hlen, const uint8_t *payload, size_t len,
                    uint8_t out[FL_SEAL_SUM_LEN], const char *origin)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int olen = 0;
	int ok;

	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, hdr, hlen) == 1 &&
	     (len == 0 || EVP_DigestUpdate(ctx, payload, len) == 1) &&
	     EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == FL_SEAL_SUM_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : fl_fail(FL_ERR_CRYPTO, "%s: SHA-256 failed", origin);
}

int fl_seal_frame(const struct fl_seal_format *f, uint32_t version, uint8_t *buf, size_t len,
                  const char *origin)
{
	size_t hl = fl_seal_header_len(f);

	fl_seal_put_header(f, version, len, buf);
	if (!f->checksum)
		return 0;
	return sha256_2(buf, hl, buf + hl, len, buf + hl + len, origin);
}

/* "ORIGIN: TEXT" or, for formats that give sizes, with "(N bytes, expected
 * [at least ]M)". */
static int sized_fail(const struct fl_seal_format *f, const char *origin, const char *text,
                      uint64_t have, const char *at_least, uint64_t want)
{
	if (!f->sizes)
		return fl_fail(f->code, "%s: %s", origin, text);
	return fl_fail(f->code, "%s: %s (%" PRIu64 " bytes, expected %s%" PRIu64 ")", origin, text,
	               have, at_least, want);
}

int fl_seal_parse(const struct fl_seal_format *f, const uint8_t *buf, size_t have, uint64_t size,
                  size_t off, uint64_t max_len, const char *origin, struct fl_seal *out)
{
	size_t hl = fl_seal_header_len(f), sl = f->checksum ? FL_SEAL_SUM_LEN : 0;
	size_t seen = have > off ? have - off : 0,
	       n = seen < FL_SEAL_MAGIC_LEN ? seen : FL_SEAL_MAGIC_LEN;
	const uint8_t *p;
	uint64_t plen, rest;

	memset(out, 0, sizeof(*out));
	out->header_len = hl;
	if (off > size || (buf == NULL && have > 0))
		return fl_fail(FL_ERR_INTERNAL, "%s: sealed frame outside its buffer", origin);
	/* Compare what is there first: a short prefix of some other file is
	 * "not ours", a short prefix of ours is "truncated". */
	if (n > 0 && memcmp(buf + off, f->magic, n) != 0)
		return fl_fail(f->code, "%s: %s", origin, f->not_magic);
	if (seen < hl)
		return sized_fail(f, origin, f->truncated, have, "at least ", off + hl + sl);
	/* Only now is buf known to be a buffer (an empty one may be NULL). */
	p = buf + off;
	out->version = f->version_bytes == 4 ? fl_get_be32(p + FL_SEAL_MAGIC_LEN) : 0;
	p += FL_SEAL_MAGIC_LEN + f->version_bytes;
	plen = f->length_bytes == 4 ? fl_get_be32(p) : fl_get_be64(p);
	/* The format's own bound goes first: such a length is refused from the
	 * header alone, whatever else is wrong. */
	if (plen > f->max_len)
		return fl_fail(f->code,
		               "%s: %s of %" PRIu64 " bytes exceeds the limit of %" PRIu64 " bytes",
		               origin, f->payload, plen, f->max_len);
	if (plen < f->min_len)
		return fl_fail(f->code, "%s: %s", origin, f->empty);
	/* Then the length against the bytes there are, so that a damaged
	 * length field reads as damage rather than as a large file. */
	rest = size - off;
	if (plen > rest || rest - plen < hl + sl)
		return sized_fail(f, origin, f->truncated, size, "", off + hl + sl + plen);
	if (rest - plen > hl + sl && !f->trailing_ok)
		return sized_fail(f, origin, f->trailing, size, "", off + hl + sl + plen);
	if (plen > max_len)
		return fl_fail(FL_ERR_LIMIT,
		               "%s: %s of %" PRIu64 " bytes exceeds the limit of %" PRIu64 " bytes",
		               origin, f->payload, plen, max_len);
	out->payload_len = plen;
	out->end = off + hl + plen + sl;
	return 0;
}

int fl_seal_check(const struct fl_seal_format *f, const struct fl_seal *s, const uint8_t *hdr,
                  const uint8_t *payload, const uint8_t *sum, const char *origin)
{
	uint8_t have[FL_SEAL_SUM_LEN];
	int r;

	if (!f->checksum)
		return 0;
	if (s->payload_len > SIZE_MAX)
		return fl_fail(FL_ERR_INTERNAL, "%s: payload does not fit in memory", origin);
	if ((r = sha256_2(hdr, s->header_len, payload, (size_t)s->payload_len, have, origin)) != 0)
		return r;
	if (CRYPTO_memcmp(have, sum, FL_SEAL_SUM_LEN) != 0)
		return fl_fail(f->code, "%s: %s", origin, f->corrupt);
	return 0;
}

int fl_seal_open(const struct fl_seal_format *f, const uint8_t *buf, size_t len, size_t off,
                 uint64_t max_len, const char *origin, struct fl_seal *out, const uint8_t **payload)
{
	const uint8_t *hdr;
	int r;

	*payload = NULL;
	if ((r = fl_seal_parse(f, buf, len, len, off, max_len, origin, out)) != 0)
		return r;
	hdr = buf + off;
	if ((r = fl_seal_check(f, out, hdr, hdr + out->header_len,
	                       hdr + out->header_len + out->payload_len, origin)) != 0)
		return r;
	*payload = hdr + out->header_len;
	return 0;
}

int fl_seal_write(const struct fl_seal_format *f, uint32_t version, const uint8_t *payload,
                  size_t len, const char *path, const struct fl_file_opts *o)
{
	uint8_t hdr[FL_SEAL_MAX_HEADER], sum[FL_SEAL_SUM_LEN];
	size_t hl = fl_seal_header_len(f);
	struct fl_file *out = NULL;
	int r;

	if (path == NULL || (payload == NULL && len > 0))
		return fl_fail(FL_ERR_INVALID, "fl_seal_write: no path or payload");
	if ((uint64_t)len > f->max_len)
		return fl_fail(FL_ERR_LIMIT,
		               "%s: %s of %zu bytes exceeds the limit of %" PRIu64 " bytes", path,
		               f->payload, len, f->max_len);
	fl_seal_put_header(f, version, len, hdr);
	/* Hashed before anything touches the disk: a failure leaves the old
	 * file alone without even a temporary one. */
	if (f->checksum && (r = sha256_2(hdr, hl, payload, len, sum, path)) != 0)
		return r;
	if ((r = fl_file_begin(path, o, &out)) != 0)
		return r;
	if ((r = fl_file_write(out, hdr, hl)) != 0 || (r = fl_file_write(out, payload, len)) != 0 ||
	    (f->checksum && (r = fl_file_write(out, sum, sizeof(sum))) != 0)) {
		fl_file_abort(out);
		return r;
	}
	return fl_file_commit(out);
}
