/* siphash.h — SipHash-2-4 (Aumasson and Bernstein): the keyed hash that turns
 * a client address into what the fleet's Redis sees. Without the key (the
 * fleet salt) nobody can test a guessed address against a stored hash. */
#ifndef MM_SIPHASH_H
#define MM_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t mm_siphash24(const uint64_t key[2], const void *data, size_t len);

#endif
