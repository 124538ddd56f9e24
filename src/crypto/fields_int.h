/*
 * Length-prefixed encodings of the messages secure aggregation derives keys
 * from (the HKDF info of fl_sa_agree(), src/crypto/masks.c) and signs (key
 * advertisements and digests, src/crypto/partner_sign.c): each field is
 * be32(length) then its bytes, so no two different lists of fields encode
 * to the same message.
 */
#ifndef FEDLEAD_CRYPTO_FIELDS_INT_H
#define FEDLEAD_CRYPTO_FIELDS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fedlead/bytes.h"
#include "fedlead/masks.h"

/* be32 length prefixes: the HKDF info and the signed advertisement hold
 * at most six fields, each at most FL_SA_MAX_NAME bytes. */
#define MAX_ENCODED (6 * (4 + FL_SA_MAX_NAME))

struct enc {
	uint8_t buf[MAX_ENCODED];
	size_t len;
};

static inline void put_be32(struct enc *e, uint32_t v)
{
	fl_put_be32(e->buf + e->len, v);
	e->len += 4;
}

static inline void put_be64(struct enc *e, uint64_t v)
{
	fl_put_be64(e->buf + e->len, v);
	e->len += 8;
}

/* be32(len) then the bytes; callers have bounded len by FL_SA_MAX_NAME. */
static inline void put_field(struct enc *e, const void *p, size_t len)
{
	put_be32(e, (uint32_t)len);
	memcpy(e->buf + e->len, p, len);
	e->len += len;
}

/* 1 when s is a string of 1 to FL_SA_MAX_NAME bytes. */
static inline int name_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strnlen(s, FL_SA_MAX_NAME + 1) <= FL_SA_MAX_NAME;
}

#endif
