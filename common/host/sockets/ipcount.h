/* ipcount.h — connections per remote IP: an open-addressing hash map.
 *
 * Kept in the per-instance state and reused between gathers: clearing is a
 * generation bump, not a free/malloc, so 100k sockets cost no allocator
 * churn. It grows by doubling up to a hard cap (bounded memory) and shrinks
 * again when a gather needed far less. The hash is seeded per map at random,
 * because clients choose their addresses. Adds can be queued: the slot of a
 * queued address is prefetched and written a few adds later, which hides the
 * cache miss of a map larger than the CPU cache (100k sockets, 25k IPs). */
#ifndef MM_IPCOUNT_H
#define MM_IPCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "host/sockets/netmask.h"

/* Default bound: one million distinct addresses per side (48 MiB of slots). */
#define MM_IPCOUNT_DEFAULT_MAX (1u << 20)

struct mm_ipcount_slot {
    struct mm_ip ip;
    uint32_t count;
    uint32_t gen; /* live when equal to the map's gen */
};

#define MM_IPCOUNT_QUEUE 16 /* a power of two */

struct mm_ipcount {
    struct mm_ipcount_slot *slots;
    size_t cap;      /* a power of two */
    size_t used;     /* live slots in this generation */
    size_t max_cap;  /* from the bound given at init */
    uint32_t gen;
    uint64_t seed[2];
    int overflow;    /* an address was dropped: the map hit its bound */
    /* queued adds (mm_ipcount_push) */
    struct mm_ip queue[MM_IPCOUNT_QUEUE];
    uint64_t queue_hash[MM_IPCOUNT_QUEUE];
    unsigned queue_head, queue_len;
};

int mm_ipcount_init(struct mm_ipcount *m, size_t max_entries);
void mm_ipcount_free(struct mm_ipcount *m);
/* Empties the map for the next gather (and gives memory back when the last
 * gather used a small part of it). */
void mm_ipcount_clear(struct mm_ipcount *m);
/* Counts one connection for ip. 0, or -1 when the address could not be
 * added (bound reached or out of memory; m->overflow is set). */
int mm_ipcount_add(struct mm_ipcount *m, const struct mm_ip *ip);
/* The same, queued: counted when the queue is full or at mm_ipcount_flush(),
 * which must run before reading the map. */
void mm_ipcount_push(struct mm_ipcount *m, const struct mm_ip *ip);
void mm_ipcount_flush(struct mm_ipcount *m);
/* Iteration: for (size_t i = 0; (s = mm_ipcount_next(m, &i));) ... */
const struct mm_ipcount_slot *mm_ipcount_next(const struct mm_ipcount *m, size_t *pos);

#endif
