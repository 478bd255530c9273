/* ipcount.c — connections per remote IP (see ipcount.h). Linear probing at
 * a load factor of at most 1/2 (3/4 once the bound is reached). */
#include "host/sockets/ipcount.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

#define MIN_CAP 1024u

static uint64_t hash_of(const struct mm_ipcount *m, const struct mm_ip *ip)
{
    uint64_t lo, hi;
    memcpy(&hi, ip->b, 8);
    memcpy(&lo, ip->b + 8, 8);
    return mm_hash_mix(lo ^ m->seed[0]) ^ mm_hash_mix(hi ^ m->seed[1]);
}

static size_t slot_of(const struct mm_ipcount *m, const struct mm_ip *ip)
{
    return (size_t)hash_of(m, ip) & (m->cap - 1);
}

int mm_ipcount_init(struct mm_ipcount *m, size_t max_entries)
{
    memset(m, 0, sizeof(*m));
    if (max_entries == 0)
        max_entries = MM_IPCOUNT_DEFAULT_MAX;
    m->max_cap = mm_pow2_at_least(max_entries + max_entries / 3 + 1, MIN_CAP);
    m->cap = MIN_CAP;
    m->slots = calloc(m->cap, sizeof(*m->slots));
    if (!m->slots)
        return -1;
    m->gen = 1;
    mm_hash_seed(m->seed);
    return 0;
}

void mm_ipcount_free(struct mm_ipcount *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->used = 0;
}

/* Moves the live entries into a fresh array of new_cap slots. */
static int rehash(struct mm_ipcount *m, size_t new_cap)
{
    struct mm_ipcount_slot *old = m->slots, *slots = calloc(new_cap, sizeof(*slots));
    size_t old_cap = m->cap;
    uint32_t old_gen = m->gen;
    if (!slots)
        return -1;
    m->slots = slots;
    m->cap = new_cap;
    m->gen = 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].gen != old_gen)
            continue;
        size_t j = slot_of(m, &old[i].ip);
        while (slots[j].gen == 1)
            j = (j + 1) & (new_cap - 1);
        slots[j] = old[i];
        slots[j].gen = 1;
    }
    free(old);
    return 0;
}

void mm_ipcount_clear(struct mm_ipcount *m)
{
    size_t want = mm_pow2_at_least(m->used * 4, MIN_CAP);
    /* Give memory back after a spike: only when it is 8x too big. */
    if (m->cap >= 8 * want && m->cap > MIN_CAP) {
        struct mm_ipcount_slot *slots = calloc(want, sizeof(*slots));
        if (slots) {
            free(m->slots);
            m->slots = slots;
            m->cap = want;
            m->gen = 0; /* bumped to 1 below */
        }
    }
    m->used = 0;
    m->overflow = 0;
    m->queue_len = 0;
    if (++m->gen == 0) { /* wrapped: every old stamp could look live */
        memset(m->slots, 0, m->cap * sizeof(*m->slots));
        m->gen = 1;
    }
}

static int add_hashed(struct mm_ipcount *m, const struct mm_ip *ip, uint64_t hash)
{
    if (!m->slots)
        return -1;
    size_t mask = m->cap - 1, i = (size_t)hash & mask;
    for (;; i = (i + 1) & mask) {
        struct mm_ipcount_slot *s = &m->slots[i];
        if (s->gen != m->gen)
            break;
        if (memcmp(s->ip.b, ip->b, 16) == 0) {
            s->count++;
            return 0;
        }
    }
    /* A new address. */
    if ((m->used + 1) * 2 > m->cap) {
        if (m->cap < m->max_cap && rehash(m, m->cap * 2) == 0)
            return add_hashed(m, ip, hash);
        if ((m->used + 1) * 4 > m->cap * 3) {
            m->overflow = 1;
            return -1;
        }
    }
    struct mm_ipcount_slot *s = &m->slots[i];
    s->ip = *ip;
    s->count = 1;
    s->gen = m->gen;
    m->used++;
    return 0;
}

int mm_ipcount_add(struct mm_ipcount *m, const struct mm_ip *ip)
{
    return add_hashed(m, ip, hash_of(m, ip));
}

void mm_ipcount_push(struct mm_ipcount *m, const struct mm_ip *ip)
{
    if (!m->slots)
        return;
    if (m->queue_len == MM_IPCOUNT_QUEUE) { /* count the oldest: its slot is cached by now */
        unsigned h = m->queue_head;
        add_hashed(m, &m->queue[h], m->queue_hash[h]);
        m->queue_head = (h + 1) & (MM_IPCOUNT_QUEUE - 1);
        m->queue_len--;
    }
    unsigned t = (m->queue_head + m->queue_len) & (MM_IPCOUNT_QUEUE - 1);
    uint64_t hash = hash_of(m, ip);
    m->queue[t] = *ip;
    m->queue_hash[t] = hash;
    m->queue_len++;
#if defined(__GNUC__)
    __builtin_prefetch(&m->slots[(size_t)hash & (m->cap - 1)], 1);
#endif
}

void mm_ipcount_flush(struct mm_ipcount *m)
{
    while (m->queue_len > 0) {
        unsigned h = m->queue_head;
        add_hashed(m, &m->queue[h], m->queue_hash[h]);
        m->queue_head = (h + 1) & (MM_IPCOUNT_QUEUE - 1);
        m->queue_len--;
    }
}

const struct mm_ipcount_slot *mm_ipcount_next(const struct mm_ipcount *m, size_t *pos)
{
    for (size_t i = *pos; i < m->cap; i++) {
        if (m->slots[i].gen == m->gen) {
            *pos = i + 1;
            return &m->slots[i];
        }
    }
    *pos = m->cap;
    return NULL;
}
