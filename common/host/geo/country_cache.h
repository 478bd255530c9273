/* country_cache.h — an address's country remembered across gathers.
 *
 * The distinct-IP map keeps each address between gathers with a 9-bit cache
 * value (ipcount.h); this module gives that value its meaning: a small id of
 * the address's country code, looked up in the GeoIP database once while the
 * address keeps coming back instead of once per gather. When the database
 * changes (a new file, re-opened) every id is void: mm_country_cache_sync()
 * says so, and the caller clears the map's cache values. */
#ifndef MM_COUNTRY_CACHE_H
#define MM_COUNTRY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "host/geo/countries.h"
#include "host/geo/geoip.h"
#include "core/netmask.h"

#define MM_COUNTRY_CACHE_IDS 511 /* ids 1..511; codes beyond are looked up every time */

struct mm_country_cache {
    char codes[MM_COUNTRY_CACHE_IDS + 1][MM_COUNTRY_CODE_MAX]; /* by id */
    uint16_t index[1024];                                      /* hash of code -> id */
    unsigned n;
    unsigned generation; /* of the database the ids belong to */
    int synced;
    uint64_t lookups;    /* database lookups made (for tests and the bench) */
    /* this gather's tally by id: summed into an mm_countries once per code,
     * not once per address */
    uint64_t connections[MM_COUNTRY_CACHE_IDS + 1], ips[MM_COUNTRY_CACHE_IDS + 1];
};

void mm_country_cache_init(struct mm_country_cache *c);
/* Once per gather, after mm_geoip_refresh(): 1 when the database is not the
 * one the ids were made for (then every id held elsewhere must be dropped),
 * else 0. */
int mm_country_cache_sync(struct mm_country_cache *c, const struct mm_geoip *g);
/* The country of ip. *id is the caller's cached value (0: none): used when
 * set, else the database is asked and *id set for next time. */
const char *mm_country_cache_get(struct mm_country_cache *c, struct mm_geoip *g,
                                 const struct mm_ip *ip, unsigned *id);

/* Counts one address with its connections under its country (as from
 * mm_country_cache_get); mm_country_cache_flush() adds the tally of every
 * code to out and clears it. */
void mm_country_cache_tally(struct mm_country_cache *c, unsigned id, const char *code,
                            uint64_t connections, struct mm_countries *out);
void mm_country_cache_flush(struct mm_country_cache *c, struct mm_countries *out);

#endif
