/* hash.c — shared hashing of the core's tables (see hash.h). */
#include "core/hash.h"

#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

uint64_t mm_hash_bytes(uint64_t h, const void *s, size_t len)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void mm_hash_seed(uint64_t seed[2])
{
    if (getrandom(seed, 2 * sizeof(uint64_t), GRND_NONBLOCK) == (ssize_t)(2 * sizeof(uint64_t)))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed[0] = mm_hash_mix((uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)seed);
    seed[1] = mm_hash_mix((uint64_t)ts.tv_sec ^ seed[0]);
}

size_t mm_pow2_at_least(size_t n, size_t min)
{
    size_t c = min;
    while (c < n)
        c <<= 1;
    return c;
}
