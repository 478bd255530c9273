/* churn.c — opened connections and lifetimes from socket cookies (see churn.h).
 * Linear probing on 8-byte slots from the mixed key scaled to the table size;
 * closed keys become "deleted" slots, and the table is rebuilt (sized from the
 * live count) when deleted and live slots fill 85% of it. A rebuild walks the
 * old table in order and fills the new one in order, giving the old pages
 * back as they drain (big_array.h): never two full tables. */
#include "host/sockets/churn.h"

#include <string.h>

#include "core/big_array.h"

#define MIN_CAP 1024u
#define MARK 0x80000000u
#define EMPTY 0u
#define DELETED 1u

const double mm_churn_bounds[MM_CHURN_BUCKETS - 1] = {1, 10, 60, 300, 1800, 7200};
const char *const mm_churn_le[MM_CHURN_BUCKETS] = {"1", "10", "60", "300", "1800", "7200", "+Inf"};

static size_t home(uint32_t key, size_t cap)
{
    /* cookies count up: spread them, then map onto any table size */
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ULL;
    return (size_t)(((unsigned __int128)h * cap) >> 64);
}

/* room for n connections at a load of about 0.78 */
static size_t cap_for(size_t n)
{
    size_t c = n + n / 4 + n / 32;
    return c < MIN_CAP ? MIN_CAP : c;
}

int mm_churn_init(struct mm_churn *c)
{
    memset(c, 0, sizeof(*c));
    c->cap = MIN_CAP;
    c->slots = mm_big_alloc(c->cap, sizeof(*c->slots));
    return c->slots ? 0 : -1;
}

void mm_churn_free(struct mm_churn *c)
{
    mm_big_free(c->slots, c->cap, sizeof(*c->slots));
    c->slots = NULL;
    c->cap = c->used = c->deleted = 0;
}

void mm_churn_begin(struct mm_churn *c, int64_t now_ms)
{
    c->queue_len = 0;
    if (!c->primed && c->base_ms == 0)
        c->base_ms = now_ms;
    c->prev_ds = c->now_ds;
    int64_t ds = (now_ms - c->base_ms) / 100;
    c->now_ds = ds < 0 ? 0 : ds > 0x7ffffff0 ? 0x7ffffff0 : (uint32_t)ds;
    c->mark ^= MARK;
}

/* Moves the live slots into a fresh table of new_cap slots. */
static int rebuild(struct mm_churn *c, size_t new_cap)
{
    struct mm_churn_slot *slots = mm_big_alloc(new_cap, sizeof(*slots));
    if (!slots)
        return -1;
    size_t released = 0;
    for (size_t i = 0; i < c->cap; i++) {
        if (c->slots[i].stamp > DELETED) {
            size_t j = home(c->slots[i].key, new_cap);
            while (slots[j].stamp != EMPTY)
                j = j + 1 == new_cap ? 0 : j + 1;
            slots[j] = c->slots[i];
        }
        size_t done = (i + 1) * sizeof(*slots);
        if (done - released >= 64 * 1024) {
            mm_big_release(c->slots, released, done);
            released = done;
        }
    }
    mm_big_free(c->slots, c->cap, sizeof(*c->slots));
    c->slots = slots;
    c->cap = new_cap;
    c->deleted = 0;
    return 0;
}

static int see_key(struct mm_churn *c, uint32_t key);

int mm_churn_see(struct mm_churn *c, uint64_t cookie, uint32_t inode)
{
    return see_key(c, cookie ? (uint32_t)cookie : inode);
}

void mm_churn_push(struct mm_churn *c, uint64_t cookie, uint32_t inode)
{
    uint32_t key = cookie ? (uint32_t)cookie : inode;
    if (!c->slots)
        return;
    if (c->queue_len == MM_CHURN_QUEUE) { /* the oldest: its slot is cached by now */
        see_key(c, c->queue[c->queue_head]);
        c->queue_head = (c->queue_head + 1) & (MM_CHURN_QUEUE - 1);
        c->queue_len--;
    }
    c->queue[(c->queue_head + c->queue_len++) & (MM_CHURN_QUEUE - 1)] = key;
#if defined(__GNUC__)
    __builtin_prefetch(&c->slots[home(key, c->cap)], 1);
#endif
}

static void flush(struct mm_churn *c)
{
    while (c->queue_len > 0) {
        see_key(c, c->queue[c->queue_head]);
        c->queue_head = (c->queue_head + 1) & (MM_CHURN_QUEUE - 1);
        c->queue_len--;
    }
}

static int see_key(struct mm_churn *c, uint32_t key)
{
    if (!c->slots)
        return -1;
    size_t i = home(key, c->cap), tomb = SIZE_MAX;
    for (;; i = i + 1 == c->cap ? 0 : i + 1) {
        struct mm_churn_slot *s = &c->slots[i];
        if (s->stamp == EMPTY)
            break;
        if (s->stamp == DELETED) {
            if (tomb == SIZE_MAX)
                tomb = i;
        } else if (s->key == key) {
            s->stamp = (s->stamp & ~MARK) | c->mark;
            return 0;
        }
    }
    if ((c->used + c->deleted + 1) * 20 > c->cap * 17) {
        /* grow by half; only drop the deleted slots when they are many */
        size_t want = c->deleted > c->used / 2 ? cap_for(c->used + 1) : c->cap + c->cap / 2;
        if (rebuild(c, want) < 0)
            return -1;
        return see_key(c, key);
    }
    if (tomb != SIZE_MAX) {
        i = tomb;
        c->deleted--;
    }
    c->slots[i].key = key;
    c->slots[i].stamp = (c->now_ds + 2) | c->mark;
    c->used++;
    if (c->primed)
        c->opened++;
    return 0;
}

void mm_churn_end(struct mm_churn *c)
{
    if (!c->slots)
        return;
    flush(c);
    for (size_t i = 0; i < c->cap; i++) {
        struct mm_churn_slot *s = &c->slots[i];
        if (s->stamp <= DELETED || (s->stamp & MARK) == c->mark)
            continue;
        /* from the first gather that saw it to this one, which finds it gone */
        uint32_t first = (s->stamp & ~MARK) - 2;
        double life = c->now_ds >= first ? (c->now_ds - first) / 10.0 : 0;
        int b = 0;
        while (b < MM_CHURN_BUCKETS - 1 && life > mm_churn_bounds[b])
            b++;
        c->closed[b]++;
        c->lifetime_sum += life;
        s->stamp = DELETED;
        c->used--;
        c->deleted++;
    }
    /* give memory back after a spike, drop the deleted slots */
    size_t want = cap_for(c->used);
    if ((c->cap > MIN_CAP && c->cap >= 4 * want) || c->deleted > c->used / 4 + MIN_CAP / 4)
        rebuild(c, want);
    c->primed = 1;
}

void mm_churn_reserve(struct mm_churn *c, size_t n)
{
    if (c->slots && cap_for(n) > c->cap)
        rebuild(c, cap_for(n));
}

uint64_t mm_churn_cumulative(const struct mm_churn *c, int i)
{
    uint64_t n = 0;
    for (int b = 0; b <= i && b < MM_CHURN_BUCKETS; b++)
        n += c->closed[b];
    return n;
}

uint64_t mm_churn_count(const struct mm_churn *c)
{
    return mm_churn_cumulative(c, MM_CHURN_BUCKETS - 1);
}
