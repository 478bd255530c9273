/* countries.h — connections and distinct IPs per country code, top N.
 *
 * Filled once per distinct client IP (after the GeoIP lookup) and ranked by
 * connections; what does not make the top N is summed as "other", so a
 * gather never emits more than N + 1 country series. The table is bounded
 * (MM_COUNTRIES_MAX codes, whatever a hostile database contains) and reused
 * between gathers. */
#ifndef MM_COUNTRIES_H
#define MM_COUNTRIES_H

#include <stddef.h>
#include <stdint.h>

#define MM_COUNTRY_CODE_MAX 8 /* "DE", "unknown", "other" + NUL */
#define MM_COUNTRIES_MAX 512  /* distinct codes kept; more go to "other" */

struct mm_country {
    char code[MM_COUNTRY_CODE_MAX];
    uint64_t connections;
    uint64_t unique_ips;
};

struct mm_countries {
    struct mm_country items[MM_COUNTRIES_MAX];
    size_t n;
    uint16_t index[2 * MM_COUNTRIES_MAX]; /* hash of code -> items + 1; 0 empty */
    struct mm_country other;              /* codes beyond MM_COUNTRIES_MAX */
};

void mm_countries_clear(struct mm_countries *c);
/* One distinct IP of that country holding `connections` connections. */
void mm_countries_add(struct mm_countries *c, const char *code, uint64_t connections);
/* ips distinct IPs of that country holding `connections` connections in all. */
void mm_countries_add_many(struct mm_countries *c, const char *code, uint64_t connections,
                           uint64_t ips);
/* At least ips distinct IPs for that code (a floor: the larger figure stays). */
void mm_countries_raise(struct mm_countries *c, const char *code, uint64_t ips);
/* Sorts by connections (then code) and folds everything past the first top
 * entries into *other (code "other"). Returns how many entries remain in
 * c->items; other->unique_ips == 0 means there is nothing to report as other. */
size_t mm_countries_rank(struct mm_countries *c, size_t top, struct mm_country *other);
/* The same, ranked by distinct IPs. */
size_t mm_countries_rank_by_ips(struct mm_countries *c, size_t top, struct mm_country *other);

/* A code as a non-zero number and back, for tables that keep a country per
 * address: up to 3 characters ("DE") as bytes, "unknown" and any longer
 * code as MM_COUNTRY_PACKED_UNKNOWN. */
#define MM_COUNTRY_PACKED_UNKNOWN 0xffffffffu
uint32_t mm_country_pack(const char *code);
void mm_country_unpack(uint32_t packed, char out[MM_COUNTRY_CODE_MAX]);

#endif
