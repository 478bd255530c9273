/* fleet_queue.h — what an agent still owes the fleet's Redis, and what it
 * already gave it this hour.
 *
 * The seen set holds the keyed hashes of the addresses added in the current
 * hour (with their country), so an address goes to Redis once per hour; it
 * is also what is sent again when Redis comes back empty. The pending queue
 * holds the hashes not yet acknowledged by Redis, in order, bounded: when it
 * is full the newest are dropped and counted. Both grow on demand up to
 * their bound. Pure data structures: the unit test drives them. */
#ifndef MM_FLEET_QUEUE_H
#define MM_FLEET_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define MM_FLEET_SEEN_MAX (1u << 21)    /* distinct addresses per hour per agent */
#define MM_FLEET_PENDING_MAX (1u << 20) /* hashes kept while Redis is away (16 MB) */

struct mm_fleet_entry {
    uint64_t hash;    /* never 0 */
    uint32_t hour;    /* mm_fleet_hour */
    uint16_t country; /* the fleet's country index, 0 = none */
};

struct mm_fleet_seen {
    struct mm_fleet_entry *slots; /* hash 0 = empty */
    size_t cap, used, max;
    uint32_t hour;
};

int mm_fleet_seen_init(struct mm_fleet_seen *s, size_t max);
void mm_fleet_seen_free(struct mm_fleet_seen *s);
/* Forgets everything when hour is not the set's hour. */
void mm_fleet_seen_hour(struct mm_fleet_seen *s, uint32_t hour);
/* 1 when hash is new this hour (now remembered), 0 when seen already, -1
 * when the set is full or memory ran out (the caller then sends it anyway). */
int mm_fleet_seen_add(struct mm_fleet_seen *s, uint64_t hash, uint16_t country);
/* The entries: for (size_t i = 0; (e = mm_fleet_seen_next(s, &i));) */
const struct mm_fleet_entry *mm_fleet_seen_next(const struct mm_fleet_seen *s, size_t *pos);

struct mm_fleet_queue {
    struct mm_fleet_entry *ring;
    size_t cap, head, len, max;
    uint64_t dropped; /* since the agent started */
};

int mm_fleet_queue_init(struct mm_fleet_queue *q, size_t max);
void mm_fleet_queue_free(struct mm_fleet_queue *q);
/* 0, or -1 when full (counted in dropped). */
int mm_fleet_queue_push(struct mm_fleet_queue *q, const struct mm_fleet_entry *e);
/* The i-th oldest entry (i < len). */
const struct mm_fleet_entry *mm_fleet_queue_at(const struct mm_fleet_queue *q, size_t i);
/* Forgets the n oldest (sent). */
void mm_fleet_queue_pop(struct mm_fleet_queue *q, size_t n);

#endif
