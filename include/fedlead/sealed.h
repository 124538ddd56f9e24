/*
 * Sealed blobs: the one framing of fedlead's files - a magic, an optional
 * version, a big-endian payload length, the payload, and (optionally) a
 * SHA-256 over everything before it, so a single corrupt byte or a cut
 * file is detected before the payload is trusted.
 *
 *   0        8  magic
 *   8        V  version, big-endian (V = version_bytes: 0 or 4)
 *   8+V      L  payload length N, big-endian (L = length_bytes: 4 or 8)
 *   8+V+L    N  payload
 *   8+V+L+N 32  SHA-256 of bytes [0, 8+V+L+N), when checksum is set
 *
 * The formats that use it differ only in these parameters, so existing
 * files keep their bytes:
 *   model file      "FLMODEL\n", V 0, L 4, checksum, signature trailer may follow
 *   model signature "FLSIGN1\n", V 0, L 4, no checksum (the signature is one)
 *   checkpoint      "FLSTATE\n", V 4, L 8, checksum
 * (The column cache is not one: its header carries two checksums, one over
 * page-aligned data sections it maps, and its own version and byte-order
 * mark; see cache.h.)
 *
 * Each format keeps the error texts its users and tests know, so they are
 * parameters too. Every message starts with the origin (a path, "model"),
 * uses the format's error code, and is checked in this order, bounds before
 * any allocation:
 *   magic differs from the first bytes      "ORIGIN: NOT_MAGIC"
 *   header incomplete                       "ORIGIN: TRUNCATED" [" (N bytes, expected at least M)"]
 *   length over the format's max_len        "ORIGIN: PAYLOAD of N bytes exceeds the limit of M
 * bytes" length under the format's min_len       "ORIGIN: EMPTY" fewer bytes than the length says
 * "ORIGIN: TRUNCATED" [" (N bytes, expected M)"] more bytes (unless trailing_ok)         "ORIGIN:
 * TRAILING" [" (N bytes, expected M)"] length over the caller's limit          FL_ERR_LIMIT,
 * "ORIGIN: PAYLOAD of N bytes exceeds ..." checksum differs                        "ORIGIN:
 * CORRUPT" The bracketed sizes appear when the format's sizes flag is set; N and M count bytes of
 * the whole buffer or file, in which the frame may start at an offset (the signature trailer does).
 */
#ifndef FEDLEAD_SEALED_H
#define FEDLEAD_SEALED_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/file.h"

#define FL_SEAL_MAGIC_LEN 8
#define FL_SEAL_SUM_LEN 32 /* SHA-256 */
#define FL_SEAL_MAX_HEADER (FL_SEAL_MAGIC_LEN + 4 + 8)

struct fl_seal_format {
	const char *magic;         /* FL_SEAL_MAGIC_LEN bytes */
	unsigned version_bytes;    /* 0 or 4 */
	unsigned length_bytes;     /* 4 or 8 */
	int checksum;              /* 1: a SHA-256 follows the payload */
	int trailing_ok;           /* 1: bytes after the frame are the caller's business */
	int sizes;                 /* 1: truncation and trailing messages give sizes */
	uint64_t min_len, max_len; /* the payload lengths the format allows */
	int code;                  /* error code for a refused frame */
	/* Texts (above) */
	const char *not_magic, *truncated, *trailing, *payload, *empty, *corrupt;
};

/* What fl_seal_parse() found. */
struct fl_seal {
	uint32_t version; /* 0 when the format has no version field */
	uint64_t payload_len;
	size_t header_len; /* magic, version and length */
	uint64_t end;      /* offset of the first byte after the frame */
};

/* Bytes before the payload, and before plus after it. */
size_t fl_seal_header_len(const struct fl_seal_format *f);
size_t fl_seal_overhead(const struct fl_seal_format *f);

/* Writes the header for a payload of len bytes into hdr
 * (fl_seal_header_len() bytes). len must fit the length field. */
void fl_seal_put_header(const struct fl_seal_format *f, uint32_t version, uint64_t len,
                        uint8_t *hdr);

/*
 * Frames a payload in place: buf holds fl_seal_header_len() free bytes,
 * the payload of len bytes, and FL_SEAL_SUM_LEN free bytes when the format
 * has a checksum; header and checksum are filled in. Returns 0, or
 * FL_ERR_CRYPTO ("ORIGIN: SHA-256 failed").
 */
int fl_seal_frame(const struct fl_seal_format *f, uint32_t version, uint8_t *buf, size_t len,
                  const char *origin);

/*
 * Checks the header of a frame at offset off of a buffer or file of size
 * bytes, of which the first have bytes are in buf (at least the header,
 * unless the file is shorter). Nothing is allocated and the checksum is not
 * looked at: this bounds what a reader may allocate. max_len is the
 * caller's limit on the payload (UINT64_MAX for none). Returns 0 with *out
 * filled, or an error as listed above.
 */
int fl_seal_parse(const struct fl_seal_format *f, const uint8_t *buf, size_t have, uint64_t size,
                  size_t off, uint64_t max_len, const char *origin, struct fl_seal *out);

/*
 * Checks the checksum of a parsed frame given as its header (s->header_len
 * bytes), payload and the stored checksum (FL_SEAL_SUM_LEN bytes); always
 * 0 for a format without one. Constant time. "ORIGIN: CORRUPT" otherwise.
 */
int fl_seal_check(const struct fl_seal_format *f, const struct fl_seal *s, const uint8_t *hdr,
                  const uint8_t *payload, const uint8_t *sum, const char *origin);

/*
 * fl_seal_parse() and fl_seal_check() on a whole buffer of len bytes with
 * the frame at off. On success *payload points into buf.
 */
int fl_seal_open(const struct fl_seal_format *f, const uint8_t *buf, size_t len, size_t off,
                 uint64_t max_len, const char *origin, struct fl_seal *out,
                 const uint8_t **payload);

/*
 * Writes path as one sealed blob holding payload (len bytes) with
 * fl_file's atomic replacement and options o (file.h, and its messages).
 * The header, payload and checksum are streamed: the payload is not copied.
 */
int fl_seal_write(const struct fl_seal_format *f, uint32_t version, const uint8_t *payload,
                  size_t len, const char *path, const struct fl_file_opts *o);

#endif
