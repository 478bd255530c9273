/* fleet.h — distinct people across a fleet of proxies, through one Redis
 * shared by every agent (HyperLogLog keys: fleet_keys.h).
 *
 * The instance calls mm_fleet_attach() once after its sockets part is set up
 * (nothing happens unless FleetName is given), mm_fleet_gather() after the
 * socket gather, and mm_fleet_detach() at the end. In between, the sockets
 * part hands every counted client address to the fleet (once per minute, or
 * when fresh); the fleet keeps a SipHash of it keyed by the fleet salt, once
 * per hour, pending until Redis has it. No address leaves the host.
 *
 * Metrics (origin MM_ORIGIN_FLEET, line protocol mtproxy_fleet, tag fleet):
 *   distinct_ips_1h distinct_ips_24h distinct_ips_7d   gauges: PFCOUNT over
 *     the last 1 / 24 / 168 hourly keys, read every FleetInterval (also with a
 *     country tag, for the countries the fleet saw, at most MaxCountries)
 *   redis_up        gauge: the last exchange with Redis worked
 *   pending         gauge: hashes waiting for Redis
 *   pending_dropped counter: hashes dropped (queue full, or refused by Redis)
 * The fleet figures are left out while Redis cannot be read. */
#ifndef MM_FLEET_H
#define MM_FLEET_H

#include "core/log.h"
#include "core/metric.h"
#include "core/redact.h"
#include "fleet/fleet_config.h"

struct mm_fleet;
struct mm_sockets_state;

/* *out = NULL when cfg names no fleet. The credentials go into redactor;
 * sockets (may be NULL) gets the hook. 0, or -1 (logged) when out of memory. */
int mm_fleet_attach(struct mm_fleet **out, const struct mm_fleet_config *cfg, int max_countries,
                    struct mm_redactor *redactor, const struct mm_logger *log, struct mm_sockets_state *sockets);
/* Pushes what is pending and, every FleetInterval, reads the figures; never
 * waits longer than the Redis timeouts. f may be NULL (off). */
void mm_fleet_gather(struct mm_fleet *f, struct mm_snapshot *snap, const struct mm_logger *log);
/* Unhooks from sockets (may be NULL) and frees; *f becomes NULL. */
void mm_fleet_detach(struct mm_fleet **f, struct mm_sockets_state *sockets);

#endif
