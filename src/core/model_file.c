/*
 * The model file on disk: framing (include/fedlead/model.h), reading and
 * atomic writing.
 *
 * Layout (all sizes in bytes), a sealed blob (sealed.h):
 *   0   8  magic "FLMODEL\n"
 *   8   4  payload length L, big-endian
 *   12  L  fedlead.ModelFile (proto/model.proto, model_codec.c)
 *   12+L 32 SHA-256 of bytes [0, 12+L)
 * The checksum covers the header too, so a flipped length byte is caught
 * even when the resulting length happens to be consistent.
 *
 * A signed file goes on with a second sealed blob, without a checksum
 * (the signature is one):
 *   44+L    8  magic "FLSIGN1\n"
 *   52+L    4  signature block length S, big-endian, 1 <= S <= FL_MODEL_SIG_MAX
 *   56+L    S  the signature block (read by src/crypto/signed_model.c only)
 * Decoding checks that framing and ignores the block: whether to trust the
 * signer is fl_model_file_verify()'s question, not the decoder's.
 */
#include "fedlead/model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/sealed.h"
#include "model_int.h"

const struct fl_seal_format fl_model_file_seal = {
        .magic = "FLMODEL\n",
        .length_bytes = 4,
        .checksum = 1,
        .trailing_ok = 1, /* a signature trailer, checked below */
        .sizes = 1,
        .max_len = FL_MODEL_MAX_BYTES,
        .code = FL_ERR_MODEL,
        .not_magic = "not a fedlead model file",
        .truncated = "truncated model file",
        .trailing = "trailing data after the model",
        .payload = "model payload",
        .empty = "empty model payload",
        .corrupt = "model file is corrupt (checksum mismatch)",
};

const struct fl_seal_format fl_model_sig_seal = {
        .magic = FL_MODEL_SIG_MAGIC,
        .length_bytes = 4,
        .sizes = 1,
        .min_len = 1,
        .max_len = FL_MODEL_SIG_MAX,
        .code = FL_ERR_MODEL,
        .not_magic = "not a signature trailer",
        .truncated = "truncated signature",
        .trailing = "trailing data after the signature",
        .payload = "signature block",
        .empty = "empty signature block",
        .corrupt = "signature trailer is corrupt",
};

#define MODEL_MIN_LEN (FL_SEAL_MAGIC_LEN + 4 + FL_SEAL_SUM_LEN)
#define SIG_HEADER_LEN (FL_SEAL_MAGIC_LEN + 4)
/* The largest well-formed file: a payload and a signature block at their limits. */
#define MODEL_FILE_MAX                                                                             \
	((uintmax_t)MODEL_MIN_LEN + FL_MODEL_MAX_BYTES + SIG_HEADER_LEN + FL_MODEL_SIG_MAX)

_Static_assert(sizeof(FL_MODEL_SIG_MAGIC) - 1 == FL_SEAL_MAGIC_LEN, "trailer magic length");
_Static_assert(MODEL_FILE_MAX <= SIZE_MAX, "a whole model file fits in memory");

/*
 * Checks the framing: magic, length and the optional signature trailer, not
 * the checksum. On success *m is the model's frame and *sig, *sig_len the
 * signature block, NULL and 0 for an unsigned file. Nothing here
 * allocates, so a hostile length costs nothing.
 */
static int split_frame(const uint8_t *buf, size_t len, const char *origin, struct fl_seal *m,
                       const uint8_t **sig, size_t *sig_len)
{
	struct fl_seal s;
	size_t expect, rest, n;
	int r;

	*sig = NULL;
	*sig_len = 0;
	if ((r = fl_seal_parse(&fl_model_file_seal, buf, len, len, 0, UINT64_MAX, origin, m)) != 0)
		return r;
	expect = (size_t)m->end;
	if (len == expect)
		return 0;
	/* Same rule as for the model's magic: bytes that begin like a
	 * trailer are a damaged trailer, anything else is what it always
	 * was. */
	rest = len - expect;
	n = rest < FL_SEAL_MAGIC_LEN ? rest : FL_SEAL_MAGIC_LEN;
	if (memcmp(buf + expect, FL_MODEL_SIG_MAGIC, n) != 0)
		return fl_fail(FL_ERR_MODEL,
		               "%s: trailing data after the model (%zu bytes, expected %zu)",
		               origin, len, expect);
	if ((r = fl_seal_parse(&fl_model_sig_seal, buf, len, len, expect, UINT64_MAX, origin,
	                       &s)) != 0)
		return r;
	*sig = buf + expect + s.header_len;
	*sig_len = (size_t)s.payload_len;
	return 0;
}

int fl_model_file_split(const uint8_t *file, size_t len, size_t *model_len, const uint8_t **sig,
                        size_t *sig_len)
{
	struct fl_seal m;
	int r;

	*model_len = 0;
	*sig = NULL;
	*sig_len = 0;
	if (file == NULL && len > 0)
		return fl_fail(FL_ERR_INVALID, "fl_model_file_split: no buffer");
	if ((r = split_frame(file, len, "model", &m, sig, sig_len)) != 0)
		return r;
	*model_len = (size_t)m.end;
	return 0;
}

int fl_model_frame_open(const uint8_t *buf, size_t len, const char *origin, const uint8_t **payload,
                        size_t *payload_len)
{
	struct fl_seal m;
	const uint8_t *sig;
	size_t slen;
	int r;

	*payload = NULL;
	*payload_len = 0;
	if ((r = split_frame(buf, len, origin, &m, &sig, &slen)) != 0 ||
	    (r = fl_seal_check(&fl_model_file_seal, &m, buf, buf + m.header_len,
	                       buf + m.header_len + m.payload_len, origin)) != 0)
		return r;
	*payload = buf + m.header_len;
	*payload_len = (size_t)m.payload_len;
	return 0;
}

int fl_model_write_file(const char *path, const uint8_t *buf, size_t len)
{
	/* A model is an ordinary file to hand to the scorer: 0644. */
	static const struct fl_file_opts opts = {.what = "save the model", .mode = 0644};

	if (path == NULL || (buf == NULL && len > 0))
		return fl_fail(FL_ERR_INVALID, "fl_model_write_file: no path or buffer");
	return fl_file_write_atomic(path, &opts, buf, len);
}

int fl_model_save(const struct fl_model *m, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = FL_ERR_INTERNAL;

	if (path == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_save: no path");
		goto out;
	}
	/* Encoded before anything touches the disk: a model that cannot be
	 * encoded leaves the old file alone. */
	if ((r = fl_model_encode(m, &buf, &len)) != 0)
		goto out;
	r = fl_model_write_file(path, buf, len);
out:
	free(buf);
	return r;
}

int fl_model_read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *b = NULL;
	size_t have = 0, want;
	int fd = -1;
	int r = FL_ERR_INTERNAL;

	*buf = NULL;
	*len = 0;
	if (path == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_read_file: no path");
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = fl_fail(FL_ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	/* The size is checked before anything is allocated for it. */
	if ((uintmax_t)st.st_size > MODEL_FILE_MAX) {
		r = fl_fail(FL_ERR_MODEL,
		            "%s: model file of %jd bytes exceeds the limit of %ju bytes", path,
		            (intmax_t)st.st_size, MODEL_FILE_MAX);
		goto out;
	}
	want = (size_t)st.st_size;
	if ((b = malloc(want > 0 ? want : 1)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	/* A file that shrinks while read is returned as what was read, and the
	 * framing reports it as truncated. */
	while (have < want) {
		ssize_t n = read(fd, b + have, want - have);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = fl_fail(FL_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	*buf = b;
	*len = have;
	b = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(b);
	return r;
}

int fl_model_load(const char *path, struct fl_model **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = FL_ERR_INTERNAL;

	*out = NULL;
	if (path == NULL) {
		r = fl_fail(FL_ERR_INVALID, "fl_model_load: no path");
		goto out;
	}
	if ((r = fl_model_read_file(path, &buf, &len)) != 0)
		goto out;
	r = fl_model_decode(buf, len, path, out);
out:
	free(buf);
	return r;
}
