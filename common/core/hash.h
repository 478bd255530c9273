/* hash.h — what the core's open-addressing tables share: a 64-bit mix, an
 * FNV-1a step over bytes, a random per-table seed, power-of-two sizes.
 * Tables keyed by what a hostile page or client picks (addresses, metric
 * names) hash with their own seed, so nobody can aim at one bucket. */
#ifndef MM_HASH_H
#define MM_HASH_H

#include <stddef.h>
#include <stdint.h>

/* murmur3's 64-bit finalizer: every input bit moves every output bit.
 * Inline: the socket path runs it twice per socket. */
static inline uint64_t mm_hash_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* FNV-1a over s[0..len), continuing from h (start from a seed). */
uint64_t mm_hash_bytes(uint64_t h, const void *s, size_t len);

/* Two random words from getrandom(); without entropy yet (early boot), the
 * clock and the seed's address, which still beat a fixed seed. */
void mm_hash_seed(uint64_t seed[2]);

/* The smallest power of two >= n, and at least min (a power of two). */
size_t mm_pow2_at_least(size_t n, size_t min);

#endif
