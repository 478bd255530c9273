/* ipcount.c — connections per remote IP, kept across gathers (see ipcount.h).
 * Linear probing from the hash scaled to the table size (so slot order is
 * hash order and a rebuild writes the new table front to back), at a load
 * of at most 0.85. IPv4 keys live in the slot, IPv6 addresses in a side
 * array (rare: kept in the table's order of insertion, compacted by a
 * rebuild). */
#include "host/sockets/ipcount.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/big_array.h"
#include "core/hash.h"

#define MIN_CAP 1024u
#define MARK_FIRST 2u
#define MARK_LAST 7u
#define KEPT 1u
#define RELEASE_EVERY (64u * 1024u) /* bytes of old table given back at a time */

static uint64_t hash4(const struct mm_ipcount *m, uint32_t key)
{
    return mm_hash_mix(key ^ m->seed[0]);
}

static uint64_t hash6(const struct mm_ipcount *m, const struct mm_ip *ip)
{
    uint64_t lo, hi;
    memcpy(&hi, ip->b, 8);
    memcpy(&lo, ip->b + 8, 8);
    return mm_hash_mix(lo ^ m->seed[0]) ^ mm_hash_mix(hi ^ m->seed[1]);
}

static uint64_t slot_hash(const struct mm_ipcount *m, const struct mm_ipcount_slot *s)
{
    return s->v6 ? hash6(m, &m->v6[s->key]) : hash4(m, s->key);
}

/* mm_ip_is_v4, inline: it runs once per socket */
static int is_v4(const struct mm_ip *ip)
{
    uint64_t hi;
    uint32_t mid;
    memcpy(&hi, ip->b, 8);
    memcpy(&mid, ip->b + 8, 4);
    return hi == 0 && mid == htonl(0xffffu);
}

static uint32_t key4(const struct mm_ip *ip)
{
    uint32_t k;
    memcpy(&k, ip->b + 12, 4);
    return k;
}

static size_t home(uint64_t hash, size_t cap)
{
    return (size_t)(((unsigned __int128)hash * cap) >> 64);
}

/* room for n addresses at a load of about 0.78: the map is most of a
 * gather's memory at 100k addresses, and in a steady state nearly every
 * lookup finds its address within a few slots */
static size_t cap_for(const struct mm_ipcount *m, size_t n)
{
    size_t c = n + n / 4 + n / 32;
    if (c < MIN_CAP)
        c = MIN_CAP;
    return c > m->max_cap ? m->max_cap : c;
}

int mm_ipcount_init(struct mm_ipcount *m, size_t max_entries)
{
    memset(m, 0, sizeof(*m));
    if (max_entries == 0)
        max_entries = MM_IPCOUNT_DEFAULT_MAX;
    m->max_cap = max_entries + max_entries / 3 + 2;
    if (m->max_cap < MIN_CAP)
        m->max_cap = MIN_CAP;
    m->cap = MIN_CAP;
    m->slots = mm_big_alloc(m->cap, sizeof(*m->slots));
    if (!m->slots)
        return -1;
    m->gen = MARK_FIRST;
    m->prev_gen = KEPT; /* nothing was counted before */
    mm_hash_seed(m->seed);
    return 0;
}

void mm_ipcount_free(struct mm_ipcount *m)
{
    mm_big_free(m->slots, m->cap, sizeof(*m->slots));
    free(m->v6);
    m->slots = NULL;
    m->v6 = NULL;
    m->cap = m->used = m->occupied = m->n_v6 = m->cap_v6 = 0;
}

/* Moves the addresses of this gather (and, with keep_prev, of the previous
 * one) into a table of new_cap slots. The old table is walked in order and
 * its pages given back as they drain. */
static int rebuild(struct mm_ipcount *m, size_t new_cap, int keep_prev)
{
    struct mm_ipcount_slot *old = m->slots, *slots = mm_big_alloc(new_cap, sizeof(*slots));
    if (!slots)
        return -1;
    struct mm_ip *v6 = NULL;
    if (m->n_v6 > 0 && !(v6 = malloc(m->n_v6 * sizeof(*v6)))) {
        mm_big_free(slots, new_cap, sizeof(*slots));
        return -1;
    }
    size_t occupied = 0, released = 0, n_v6 = 0;
    for (size_t i = 0; i < m->cap; i++) {
        const struct mm_ipcount_slot *s = &old[i];
        if (s->gen == m->gen || (keep_prev && s->gen == m->prev_gen && s->gen != KEPT)) {
            size_t j = home(slot_hash(m, s), new_cap);
            while (slots[j].gen != 0)
                j = j + 1 == new_cap ? 0 : j + 1;
            slots[j] = *s;
            if (s->v6) {
                v6[n_v6] = m->v6[s->key];
                slots[j].key = (uint32_t)n_v6++;
            }
            occupied++;
        }
        size_t done = (i + 1) * sizeof(*old);
        if (done - released >= RELEASE_EVERY) {
            mm_big_release(old, released, done);
            released = done;
        }
    }
    mm_big_free(old, m->cap, sizeof(*old));
    free(m->v6);
    m->v6 = v6;
    m->n_v6 = m->cap_v6 = n_v6;
    m->slots = slots;
    m->cap = new_cap;
    m->occupied = occupied;
    return 0;
}

void mm_ipcount_clear(struct mm_ipcount *m)
{
    m->last_used = m->used;
    m->used = 0;
    m->overflow = 0;
    m->queue_len = 0;
    if (!m->slots)
        return;
    m->prev_gen = m->gen;
    if (++m->gen > MARK_LAST) {
        /* marks run out: the previous gather's become MARK_FIRST, older ones KEPT */
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].gen)
                m->slots[i].gen = m->slots[i].gen == m->prev_gen ? MARK_FIRST : KEPT;
        m->prev_gen = MARK_FIRST;
        m->gen = MARK_FIRST + 1;
    }
    /* sized for the previous gather: shrink after a spike, and drop the
     * addresses kept from older gathers once they crowd the table */
    size_t want = cap_for(m, m->last_used);
    if ((m->cap > MIN_CAP && m->cap >= 4 * want) ||
        m->occupied > m->last_used + m->last_used / 2 + MIN_CAP / 2)
        rebuild(m, want, 1);
}

void mm_ipcount_reserve(struct mm_ipcount *m, size_t n)
{
    size_t want = cap_for(m, n);
    if (m->slots && want > m->cap)
        rebuild(m, want, 1);
}

/* The IPv6 address as a new entry of the side array: its index, or -1. */
static long add_v6(struct mm_ipcount *m, const struct mm_ip *ip)
{
    if (m->n_v6 == m->cap_v6) {
        size_t want = m->cap_v6 ? 2 * m->cap_v6 : 64;
        struct mm_ip *grown = want > UINT32_MAX ? NULL : realloc(m->v6, want * sizeof(*grown));
        if (!grown)
            return -1;
        m->v6 = grown;
        m->cap_v6 = want;
    }
    m->v6[m->n_v6] = *ip;
    return (long)m->n_v6++;
}

/* key: the IPv4 key, or unused when ip6 is given (an IPv6 address). */
static int add_hashed(struct mm_ipcount *m, uint32_t key, const struct mm_ip *ip6, uint64_t hash)
{
    if (!m->slots)
        return -1;
    size_t i = home(hash, m->cap);
    for (;; i = i + 1 == m->cap ? 0 : i + 1) {
        struct mm_ipcount_slot *s = &m->slots[i];
        if (s->gen == 0)
            break;
        if (ip6 ? s->v6 && memcmp(m->v6[s->key].b, ip6->b, 16) == 0 : !s->v6 && s->key == key) {
            if (s->gen == m->gen) {
                if (s->count < MM_IPCOUNT_COUNT_MAX)
                    s->count++;
            } else {
                s->fresh = s->gen != m->prev_gen;
                s->gen = m->gen;
                s->count = 1;
                m->used++;
            }
            return 0;
        }
    }
    /* A new address. */
    if ((m->occupied + 1) * 20 > m->cap * 17) {
        size_t grown = m->cap + m->cap / 2;
        if (grown > m->max_cap)
            grown = m->max_cap;
        /* grow, or at the bound make room by dropping the kept addresses */
        int keep = grown > m->cap;
        if ((grown > m->cap || m->occupied > m->used) && rebuild(m, grown, keep) == 0 &&
            (m->occupied + 1) * 20 <= m->cap * 17)
            return add_hashed(m, key, ip6, hash);
        m->overflow = 1;
        return -1;
    }
    if (ip6) {
        long idx = add_v6(m, ip6);
        if (idx < 0) {
            m->overflow = 1;
            return -1;
        }
        key = (uint32_t)idx;
    }
    struct mm_ipcount_slot *s = &m->slots[i];
    s->key = key;
    s->v6 = ip6 != NULL;
    s->count = 1;
    s->gen = m->gen;
    s->fresh = 1;
    s->cache = 0;
    m->used++;
    m->occupied++;
    return 0;
}

int mm_ipcount_add(struct mm_ipcount *m, const struct mm_ip *ip)
{
    if (is_v4(ip)) {
        uint32_t k = key4(ip);
        return add_hashed(m, k, NULL, hash4(m, k));
    }
    return add_hashed(m, 0, ip, hash6(m, ip));
}

static void pop(struct mm_ipcount *m)
{
    unsigned h = m->queue_head;
    add_hashed(m, m->queue_key[h], m->queue_v6[h] ? &m->queue_ip6[h] : NULL, m->queue_hash[h]);
    m->queue_head = (h + 1) & (MM_IPCOUNT_QUEUE - 1);
    m->queue_len--;
}

void mm_ipcount_push(struct mm_ipcount *m, const struct mm_ip *ip)
{
    if (!m->slots)
        return;
    if (m->queue_len == MM_IPCOUNT_QUEUE) /* count the oldest: its slot is cached by now */
        pop(m);
    unsigned t = (m->queue_head + m->queue_len) & (MM_IPCOUNT_QUEUE - 1);
    uint64_t hash;
    if (is_v4(ip)) {
        uint32_t k = key4(ip);
        m->queue_key[t] = k;
        m->queue_v6[t] = 0;
        hash = hash4(m, k);
    } else {
        m->queue_ip6[t] = *ip;
        m->queue_v6[t] = 1;
        hash = hash6(m, ip);
    }
    m->queue_hash[t] = hash;
    m->queue_len++;
#if defined(__GNUC__)
    __builtin_prefetch(&m->slots[home(hash, m->cap)], 1);
#endif
}

void mm_ipcount_flush(struct mm_ipcount *m)
{
    while (m->queue_len > 0)
        pop(m);
}

struct mm_ipcount_slot *mm_ipcount_next(const struct mm_ipcount *m, size_t *pos)
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

void mm_ipcount_ip(const struct mm_ipcount *m, const struct mm_ipcount_slot *s, struct mm_ip *out)
{
    if (s->v6)
        *out = m->v6[s->key];
    else {
        memset(out->b, 0, 10);
        out->b[10] = out->b[11] = 0xff;
        memcpy(out->b + 12, &s->key, 4);
    }
}

void mm_ipcount_forget_cache(struct mm_ipcount *m)
{
    for (size_t i = 0; i < m->cap; i++)
        m->slots[i].cache = 0;
}
