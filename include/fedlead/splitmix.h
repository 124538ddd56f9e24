/*
 * splitmix64 (Steele, Lea and Flood, 2014): a tiny, well-mixed generator and
 * hash for everything that must be reproducible on every machine (the
 * validation split, folds, SGD's shuffling, the schema draft's sample).
 * Not for anything secret: secrets come from OpenSSL's CSPRNG.
 */
#ifndef FEDLEAD_SPLITMIX_H
#define FEDLEAD_SPLITMIX_H

#include <stdint.h>

/* The next value of the generator whose state is *state. */
static inline uint64_t fl_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A hash of z: the value a generator in state z gives next. */
static inline uint64_t fl_mix64(uint64_t z)
{
	return fl_splitmix64(&z);
}

#endif
