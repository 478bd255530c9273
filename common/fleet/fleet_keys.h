/* fleet_keys.h — the names of a fleet's keys in Redis. Every key carries the
 * hash tag {mtproxy:NAME}, so a Redis Cluster keeps a whole fleet in one slot
 * and PFCOUNT over many keys stays one command:
 *   {mtproxy:NAME}:ips:YYYYMMDDHH          every client of that UTC hour
 *   {mtproxy:NAME}:ips:CC:YYYYMMDDHH       the clients of one country
 *   {mtproxy:NAME}:countries               the countries seen (a set)
 * An hour is counted as whole hours since the epoch (UTC). */
#ifndef MM_FLEET_KEYS_H
#define MM_FLEET_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define MM_FLEET_KEY_MAX 192
#define MM_FLEET_NAME_MAX 64 /* bytes of FleetName */
#define MM_FLEET_HOURS_KEPT 192 /* EXPIRE: 8 days, beyond the 7 d window */

/* The hour of a wall-clock time in seconds. */
static inline uint32_t mm_fleet_hour(int64_t unix_s)
{
    return unix_s < 0 ? 0 : (uint32_t)(unix_s / 3600);
}

/* Writes the key of an hour (country NULL: the whole fleet's); its length,
 * or -1 when it does not fit. */
int mm_fleet_key(char *buf, size_t size, const char *fleet, const char *country, uint32_t hour);
int mm_fleet_countries_key(char *buf, size_t size, const char *fleet);
/* FleetName: 1..MM_FLEET_NAME_MAX bytes of [A-Za-z0-9_.-] (no braces, so the
 * hash tag stays the tag). 0, or -1 with the reason. */
int mm_fleet_check_name(const char *name, char *err, size_t err_len);

#endif
