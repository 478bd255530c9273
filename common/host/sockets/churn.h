/* churn.h — connections opened and the lifetime of connections closed, from
 * the socket table of consecutive gathers.
 *
 * Every live client socket is keyed by its kernel socket cookie (the inode on
 * the /proc path) and remembered with the time of the first gather that saw
 * it. A key not seen before adds one to `opened`; a key seen by the previous
 * gather and gone now is a closed connection whose lifetime is the time from
 * the first gather that saw it to the first that finds it gone: it opened up
 * to one interval before the one and closed up to one interval before the
 * other, so the figure is within one interval either way.
 * Both are lower bounds: a connection that opens and closes between two
 * gathers is never seen. The first gather only learns what is open. Lifetimes
 * go to a cumulative histogram with the bounds below (+Inf last). */
#ifndef MM_CHURN_H
#define MM_CHURN_H

#include <stddef.h>
#include <stdint.h>

#define MM_CHURN_BUCKETS 7 /* 1 s, 10 s, 1 min, 5 min, 30 min, 2 h, +Inf */
extern const double mm_churn_bounds[MM_CHURN_BUCKETS - 1]; /* seconds */
extern const char *const mm_churn_le[MM_CHURN_BUCKETS];  /* "1" ... "7200", "+Inf" */

#define MM_CHURN_QUEUE 16 /* a power of two */

struct mm_churn_slot {
    uint32_t key;
    uint32_t stamp; /* 0 empty, 1 deleted; else bit 31: seen mark, bits 0-30: first seen + 2 */
};

struct mm_churn {
    struct mm_churn_slot *slots;
    size_t cap, used, deleted;
    uint32_t mark;     /* bit 31 of this gather's stamps */
    int primed;        /* a previous gather exists */
    int64_t base_ms;   /* monotonic ms of the first gather */
    uint32_t now_ds, prev_ds; /* this and the previous gather, deciseconds since base */
    /* cumulative since the agent started (or since the state file's start) */
    uint64_t opened;
    uint64_t closed[MM_CHURN_BUCKETS]; /* per bucket, not cumulative */
    double lifetime_sum; /* seconds */
    /* keys waiting with their slot prefetched (the table outgrows the cache) */
    uint32_t queue[MM_CHURN_QUEUE];
    unsigned queue_head, queue_len;
};

int mm_churn_init(struct mm_churn *c);
void mm_churn_free(struct mm_churn *c);
/* A gather starts at monotonic time now_ms. */
void mm_churn_begin(struct mm_churn *c, int64_t now_ms);
/* One live client socket. 0, or -1 out of memory (the socket is not tracked). */
int mm_churn_see(struct mm_churn *c, uint64_t cookie, uint32_t inode);
/* The same, queued: its slot is prefetched now and looked at a few sockets
 * later; mm_churn_end() takes the rest. */
void mm_churn_push(struct mm_churn *c, uint64_t cookie, uint32_t inode);
/* The gather ends: sockets not seen are closed. */
void mm_churn_end(struct mm_churn *c);
/* Makes room for n connections now (a count remembered from an earlier run). */
void mm_churn_reserve(struct mm_churn *c, size_t n);
/* Cumulative count of closed connections with lifetime <= bound i. */
uint64_t mm_churn_cumulative(const struct mm_churn *c, int i);
uint64_t mm_churn_count(const struct mm_churn *c);

#endif
