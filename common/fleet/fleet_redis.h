/* fleet_redis.h — the agent's one connection to the fleet's Redis (hiredis,
 * blocking with timeouts: every connect and every reply is bounded, so a
 * gather never waits on Redis longer than MM_FLEET_*_TIMEOUT_MS).
 *
 * After a failure the next connect waits (1 s, doubling up to the fleet
 * interval), so a Redis that is down or black-holed costs a gather nothing
 * between attempts. On connect: AUTH, SELECT, and INFO's run_id, which tells
 * a restarted Redis (possibly empty) from the one before. A MOVED reply (a
 * Redis Cluster node that does not hold the fleet's slot) points the next
 * connect at the node named. */
#ifndef MM_FLEET_REDIS_H
#define MM_FLEET_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "fleet/redis_url.h"

#define MM_FLEET_CONNECT_TIMEOUT_MS 300
#define MM_FLEET_COMMAND_TIMEOUT_MS 500

struct redisContext;

/* Failure kinds, for the error latch. */
enum mm_fleet_fail { MM_FLEET_OK, MM_FLEET_CONNECT, MM_FLEET_AUTH, MM_FLEET_IO, MM_FLEET_REPLY, MM_FLEET_MOVED };

struct mm_fleet_redis {
    struct redisContext *c;
    struct mm_redis_target target;
    char run_id[48];
    int restarted;       /* a new run_id since the last connection: the caller resends */
    int64_t next_try_ms; /* monotonic; no connect before */
    int64_t backoff_ms;
    int64_t max_backoff_ms;
};

/* target is copied; password (may be NULL) replaces the URL's. */
void mm_fleet_redis_init(struct mm_fleet_redis *r, const struct mm_redis_target *target, const char *password,
                         double max_backoff_s);
void mm_fleet_redis_free(struct mm_fleet_redis *r);
/* Connected (0), or -1 with the kind returned in *kind and why in err (also
 * -1 without a message while backing off: *kind is then MM_FLEET_OK). */
int mm_fleet_redis_ensure(struct mm_fleet_redis *r, int64_t now_ms, enum mm_fleet_fail *kind, char *err,
                          size_t err_len);
/* Drops the connection after a failure (backing off before the next). */
void mm_fleet_redis_fail(struct mm_fleet_redis *r, int64_t now_ms);
/* A MOVED error's "host:port": the next connect goes there. */
void mm_fleet_redis_moved(struct mm_fleet_redis *r, const char *reply);

#endif
