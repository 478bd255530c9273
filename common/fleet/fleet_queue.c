/* fleet_queue.c — the hourly seen set and the pending queue (see fleet_queue.h). */
#include "fleet/fleet_queue.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

int mm_fleet_seen_init(struct mm_fleet_seen *s, size_t max)
{
    memset(s, 0, sizeof(*s));
    s->max = max ? max : MM_FLEET_SEEN_MAX;
    return 0;
}

void mm_fleet_seen_free(struct mm_fleet_seen *s)
{
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

void mm_fleet_seen_hour(struct mm_fleet_seen *s, uint32_t hour)
{
    if (hour == s->hour)
        return;
    s->hour = hour;
    if (s->slots)
        memset(s->slots, 0, s->cap * sizeof(*s->slots));
    s->used = 0;
}

/* The hashes are SipHash outputs: uniform already, a mask is enough. */
static size_t slot_of(const struct mm_fleet_entry *slots, size_t cap, uint64_t hash)
{
    size_t i = (size_t)(hash & (cap - 1));
    while (slots[i].hash && slots[i].hash != hash)
        i = (i + 1) & (cap - 1);
    return i;
}

static int grow(struct mm_fleet_seen *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    struct mm_fleet_entry *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].hash)
            slots[slot_of(slots, cap, s->slots[i].hash)] = s->slots[i];
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int mm_fleet_seen_add(struct mm_fleet_seen *s, uint64_t hash, uint16_t country)
{
    if (!hash)
        hash = 1;
    if (s->cap) {
        size_t i = slot_of(s->slots, s->cap, hash);
        if (s->slots[i].hash)
            return 0;
    }
    if (s->used >= s->max)
        return -1;
    if ((s->used + 1) * 4 > s->cap * 3 && grow(s) != 0)
        return -1;
    size_t i = slot_of(s->slots, s->cap, hash);
    s->slots[i] = (struct mm_fleet_entry){ hash, s->hour, country };
    s->used++;
    return 1;
}

const struct mm_fleet_entry *mm_fleet_seen_next(const struct mm_fleet_seen *s, size_t *pos)
{
    while (*pos < s->cap) {
        const struct mm_fleet_entry *e = &s->slots[(*pos)++];
        if (e->hash)
            return e;
    }
    return NULL;
}

int mm_fleet_queue_init(struct mm_fleet_queue *q, size_t max)
{
    memset(q, 0, sizeof(*q));
    q->max = max ? max : MM_FLEET_PENDING_MAX;
    return 0;
}

void mm_fleet_queue_free(struct mm_fleet_queue *q)
{
    free(q->ring);
    memset(q, 0, sizeof(*q));
}

int mm_fleet_queue_push(struct mm_fleet_queue *q, const struct mm_fleet_entry *e)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 1024;
        if (cap > q->max)
            cap = q->max;
        struct mm_fleet_entry *ring = cap > q->cap ? malloc(cap * sizeof(*ring)) : NULL;
        if (!ring) {
            q->dropped++;
            return -1;
        }
        for (size_t i = 0; i < q->len; i++) /* unwrapped, oldest first */
            ring[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = ring;
        q->cap = cap;
        q->head = 0;
    }
    q->ring[(q->head + q->len) % q->cap] = *e;
    q->len++;
    return 0;
}

const struct mm_fleet_entry *mm_fleet_queue_at(const struct mm_fleet_queue *q, size_t i)
{
    return i < q->len ? &q->ring[(q->head + i) % q->cap] : NULL;
}

void mm_fleet_queue_pop(struct mm_fleet_queue *q, size_t n)
{
    if (n > q->len)
        n = q->len;
    q->len -= n;
    q->head = q->len ? (q->head + n) % q->cap : 0;
}
