/* fleet_push.h — from client addresses to PFADDs: the keyed hash, the
 * hourly seen set, the pending queue, and the pipelined, bounded batches
 * that empty it.
 *
 * A batch takes up to MM_FLEET_BATCH hashes from the queue, sorted by hour
 * and country, and sends, pipelined: PFADD of the hour's key (and of the
 * country's), EXPIRE 8 days on each key, SADD of the country to the fleet's
 * set of countries. A batch leaves the queue only once Redis answered all of
 * it; a command refused for its key (WRONGTYPE: someone else's key of that
 * name) drops its hashes, counted in queue.dropped. Countries: the first
 * max_countries codes get their own keys, later ones go to "other". */
#ifndef MM_FLEET_PUSH_H
#define MM_FLEET_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "fleet/fleet_keys.h"
#include "fleet/fleet_queue.h"
#include "fleet/fleet_redis.h"
#include "host/geo/countries.h"

#define MM_FLEET_BATCH 1000
#define MM_FLEET_COUNTRY_SLOTS 1024 /* index of codes, > 2 * MM_COUNTRIES_MAX */

struct redisContext;

/* What each pipelined command was, to read its reply. */
struct mm_fleet_cmd {
    int is_pfadd;
    size_t elements;
};
#define MM_FLEET_MAX_CMDS (6 * MM_FLEET_BATCH + 8) /* per hour 2, per (hour, country) 4 */

struct mm_fleet_push {
    uint64_t key[2]; /* SipHash key, from the salt */
    char name[MM_FLEET_NAME_MAX + 1];
    struct mm_fleet_seen seen;
    struct mm_fleet_queue queue;
    char (*codes)[MM_COUNTRY_CODE_MAX]; /* codes[1..n_countries]; index 0 = no country */
    size_t n_countries, max_countries;
    uint16_t index[MM_FLEET_COUNTRY_SLOTS];
    /* batch buffers, allocated at init */
    struct mm_fleet_entry *batch;
    char (*hex)[17];
    const char **argv;
    size_t *lens;
    struct mm_fleet_cmd *cmds;
    uint64_t sent;  /* hashes Redis took since the agent started */
    int refused, refused_logged;
    char refused_why[128];
};

int mm_fleet_push_init(struct mm_fleet_push *p, const char *name, const char *salt, size_t max_countries);
void mm_fleet_push_free(struct mm_fleet_push *p);
/* One client address seen now (hour): queued when new this hour. */
void mm_fleet_push_add(struct mm_fleet_push *p, const void *addr, size_t len, const char *country, uint32_t hour);
/* Queues every hash of this hour again (Redis came back, maybe empty). */
void mm_fleet_push_resend_hour(struct mm_fleet_push *p, uint32_t hour);
/* Sends batches until the queue is empty or the monotonic clock (clock(1))
 * passes deadline_ms. 0, or -1 with the kind and why (what is unsent stays). */
int mm_fleet_push_send(struct mm_fleet_push *p, struct redisContext *c, int64_t deadline_ms,
                       int64_t (*clock)(int monotonic), enum mm_fleet_fail *kind, char *err, size_t err_len);
/* The text form of one hash (16 hex digits + NUL): what Redis sees. */
void mm_fleet_hash_text(uint64_t hash, char out[17]);

#endif
