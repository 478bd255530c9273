/* ipcount.h — connections per remote IP: an open-addressing hash map kept
 * from one gather to the next.
 *
 * An address stays in the map after its last connection closed (until the
 * map is rebuilt), so per-address work — a country lookup, a sketch insert —
 * is done once while the address keeps coming back, not once per gather:
 * each slot says whether the address is fresh (not counted by the previous
 * gather) and holds a small cache value for the caller. Starting a gather
 * is a generation bump, not a free/malloc. The table is sized from the
 * previous gather (or mm_ipcount_reserve), grows by half when 85% full, is
 * bounded, and is rebuilt by walking the old table in order while the new
 * one fills in order (positions are the hash scaled to the table size), the
 * old pages given back as they drain: never two full tables at once. The
 * hash is seeded per map at random, because clients choose their addresses.
 * Adds can be queued: the slot of a queued address is prefetched and written
 * a few adds later, which hides the cache miss of a map larger than the CPU
 * cache (100k sockets, 25k IPs). */
#ifndef MM_IPCOUNT_H
#define MM_IPCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "core/netmask.h"

/* Default bound: one million distinct addresses per side (11 MB of slots). */
#define MM_IPCOUNT_DEFAULT_MAX (1u << 20)
#define MM_IPCOUNT_COUNT_MAX ((1u << 18) - 1) /* connections per address saturate here */
#define MM_IPCOUNT_CACHE_MAX ((1u << 9) - 1)  /* cache values 1..511 (0: none) */

/* 8 bytes: an IPv4 address is the key itself (nearly every client), an
 * IPv6 address an index into the map's side array. The map of 100k
 * addresses is 1 MB (2.5 MB with 20-byte slots holding 16-byte keys): the
 * adds, at random places between the kernel's dump batches, miss the cache
 * less often (cachegrind: ~40% fewer last-level misses). */
struct mm_ipcount_slot {
    uint32_t key;        /* IPv4: the address's 4 bytes as stored; IPv6: index into v6[] */
    uint32_t count : 18; /* live connections counted in this gather */
    uint32_t gen : 3;    /* 0 empty, 1 kept from an earlier gather, 2..7 the gather that counted it */
    uint32_t v6 : 1;     /* key is an index into v6[] */
    uint32_t fresh : 1;  /* not counted by the previous gather (new, or back after a gap) */
    uint32_t cache : 9;  /* the caller's value for this address (0: none yet) */
};

#define MM_IPCOUNT_QUEUE 16 /* a power of two */

struct mm_ipcount {
    struct mm_ipcount_slot *slots;
    size_t cap;       /* any size: positions are the hash scaled to cap */
    size_t used;      /* addresses counted in this gather */
    size_t occupied;  /* slots in use, kept addresses included */
    size_t last_used; /* addresses counted by the previous gather */
    size_t max_cap;   /* from the bound given at init */
    struct mm_ip *v6; /* the IPv6 addresses of the table, in insertion order */
    size_t n_v6, cap_v6;
    unsigned gen, prev_gen;
    uint64_t seed[2];
    int overflow;     /* an address was dropped: the map hit its bound */
    /* queued adds (mm_ipcount_push): the key, and the address when IPv6 */
    uint64_t queue_hash[MM_IPCOUNT_QUEUE];
    uint32_t queue_key[MM_IPCOUNT_QUEUE];
    struct mm_ip queue_ip6[MM_IPCOUNT_QUEUE];
    unsigned char queue_v6[MM_IPCOUNT_QUEUE];
    unsigned queue_head, queue_len;
};

int mm_ipcount_init(struct mm_ipcount *m, size_t max_entries);
void mm_ipcount_free(struct mm_ipcount *m);
/* Starts the next gather: every address counts 0 again (kept ones stay as
 * cache); sizes the table for the previous gather's count. */
void mm_ipcount_clear(struct mm_ipcount *m);
/* Makes room for n addresses now (a count remembered from an earlier run). */
void mm_ipcount_reserve(struct mm_ipcount *m, size_t n);
/* Counts one connection for ip. 0, or -1 when the address could not be
 * added (bound reached or out of memory; m->overflow is set). */
int mm_ipcount_add(struct mm_ipcount *m, const struct mm_ip *ip);
/* The same, queued: counted when the queue is full or at mm_ipcount_flush(),
 * which must run before reading the map. */
void mm_ipcount_push(struct mm_ipcount *m, const struct mm_ip *ip);
void mm_ipcount_flush(struct mm_ipcount *m);
/* The addresses counted in this gather:
 *   for (size_t i = 0; (s = mm_ipcount_next(m, &i));) ...
 * s->cache may be written. */
struct mm_ipcount_slot *mm_ipcount_next(const struct mm_ipcount *m, size_t *pos);
/* The address of a slot mm_ipcount_next gave. */
void mm_ipcount_ip(const struct mm_ipcount *m, const struct mm_ipcount_slot *s, struct mm_ip *out);
/* Sets every cache value back to 0 (what they stand for changed). */
void mm_ipcount_forget_cache(struct mm_ipcount *m);

#endif
