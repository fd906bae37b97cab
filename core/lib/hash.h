/*
 * Fixed, unseeded 64-bit hashing shared by every layer: every process and every instance
 * computes the same values (routing tables, pool server ids and rendezvous picks depend on it).
 * Includes nothing but libc.
 */
#ifndef RINGEDGE_CORE_LIB_HASH_H
#define RINGEDGE_CORE_LIB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV64_BASIS	0xcbf29ce484222325ULL	/* FNV-1a offset basis */
#define FNV64_PRIME	0x100000001b3ULL

/* FNV-1a over len bytes, continuing from h (FNV64_BASIS to start). */
static inline uint64_t
fnv1a64(const void *buf, size_t len, uint64_t h)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

/*
 * MurmurHash3's 64-bit finaliser: a bijection with full avalanche. FNV's low bits are weak;
 * a table indexed with a mask needs this on top.
 */
static inline uint64_t
fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

#endif
