/*
 * GF(256) arithmetic behind Shamir sharing in src/crypto/shamir.c, visible
 * to tests/test_shamir.c only. The field is GF(2)[x] / (x^8 + x^4 + x^3 +
 * x + 1), the AES field (polynomial 0x11B), elements as bytes (bit i: x^i).
 */
#ifndef FEDLEAD_SHAMIR_INT_H
#define FEDLEAD_SHAMIR_INT_H

#include <stdint.h>

/* a * b in GF(256), in constant time (no tables, no branches on a or b). */
uint8_t fl_sa_gf_mul(uint8_t a, uint8_t b);

/* a^-1 in GF(256) as a^254, in constant time; 0 maps to 0. */
uint8_t fl_sa_gf_inv(uint8_t a);

#endif
