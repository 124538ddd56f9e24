/*
 * Fixed-width integers in a byte order: the one coder for every file format
 * and wire encoding fedlead has (model, checkpoint, signature trailer, cache
 * header, frame length, secure-aggregation key derivation and masks).
 *
 * fl_put_be32(p, v) stores v at p as 4 big-endian bytes; fl_get_be32(p)
 * loads them. p need not be aligned. The le variants are little-endian.
 *
 * The host's byte order comes from <endian.h> (__BYTE_ORDER, which glibc
 * defines under every feature macro; htobe32() and friends need
 * _DEFAULT_SOURCE, which a header cannot count on). memcpy and a byte swap
 * compile to one load or store and a bswap.
 */
#ifndef FEDLEAD_BYTES_H
#define FEDLEAD_BYTES_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER) || !defined(__LITTLE_ENDIAN) || !defined(__BIG_ENDIAN)
#error "fedlead/bytes.h: <endian.h> does not say the host's byte order"
#endif

#if __BYTE_ORDER == __LITTLE_ENDIAN
#define FL_BYTES_BE32(v) __builtin_bswap32(v)
#define FL_BYTES_BE64(v) __builtin_bswap64(v)
#define FL_BYTES_LE32(v) (v)
#define FL_BYTES_LE64(v) (v)
#elif __BYTE_ORDER == __BIG_ENDIAN
#define FL_BYTES_BE32(v) (v)
#define FL_BYTES_BE64(v) (v)
#define FL_BYTES_LE32(v) __builtin_bswap32(v)
#define FL_BYTES_LE64(v) __builtin_bswap64(v)
#else
#error "fedlead/bytes.h: mixed-endian hosts are not supported"
#endif

static inline void fl_put_be32(uint8_t *p, uint32_t v)
{
	v = FL_BYTES_BE32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void fl_put_be64(uint8_t *p, uint64_t v)
{
	v = FL_BYTES_BE64(v);
	memcpy(p, &v, sizeof(v));
}

static inline void fl_put_le32(uint8_t *p, uint32_t v)
{
	v = FL_BYTES_LE32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void fl_put_le64(uint8_t *p, uint64_t v)
{
	v = FL_BYTES_LE64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint32_t fl_get_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return FL_BYTES_BE32(v);
}

static inline uint64_t fl_get_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return FL_BYTES_BE64(v);
}

static inline uint32_t fl_get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return FL_BYTES_LE32(v);
}

static inline uint64_t fl_get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return FL_BYTES_LE64(v);
}

#endif
