/* country_cache.c — country ids for addresses kept across gathers (see country_cache.h). */
#include "host/geo/country_cache.h"

#include <string.h>

#define SLOTS 1024u

void mm_country_cache_init(struct mm_country_cache *c)
{
    memset(c, 0, sizeof(*c));
}

int mm_country_cache_sync(struct mm_country_cache *c, const struct mm_geoip *g)
{
    if (c->synced && c->generation == g->generation)
        return 0;
    memset(c->connections, 0, sizeof(c->connections));
    memset(c->ips, 0, sizeof(c->ips));
    c->n = 0;
    memset(c->index, 0, sizeof(c->index));
    c->generation = g->generation;
    c->synced = 1;
    return 1;
}

static unsigned code_hash(const char *code)
{
    unsigned h = 5381;
    for (const unsigned char *p = (const unsigned char *)code; *p; p++)
        h = h * 33 + *p;
    return h & (SLOTS - 1);
}

/* The id of code, added when new; 0 when the table is full. */
static unsigned intern(struct mm_country_cache *c, const char *code)
{
    unsigned i = code_hash(code);
    for (; c->index[i]; i = (i + 1) & (SLOTS - 1))
        if (strcmp(c->codes[c->index[i]], code) == 0)
            return c->index[i];
    if (c->n == MM_COUNTRY_CACHE_IDS)
        return 0;
    unsigned id = ++c->n;
    size_t len = strlen(code);
    if (len >= MM_COUNTRY_CODE_MAX)
        len = MM_COUNTRY_CODE_MAX - 1;
    memcpy(c->codes[id], code, len);
    c->codes[id][len] = '\0';
    c->index[i] = (uint16_t)id;
    return id;
}

const char *mm_country_cache_get(struct mm_country_cache *c, struct mm_geoip *g,
                                 const struct mm_ip *ip, unsigned *id)
{
    if (*id >= 1 && *id <= c->n)
        return c->codes[*id];
    /* not cached (or not cacheable): ask the database; the answer is kept in
     * codes[0] when the table is full */
    char code[MM_COUNTRY_CODE_MAX];
    mm_geoip_country(g, ip, code, sizeof(code));
    c->lookups++;
    *id = intern(c, code);
    if (*id)
        return c->codes[*id];
    memcpy(c->codes[0], code, sizeof(code));
    return c->codes[0];
}

void mm_country_cache_tally(struct mm_country_cache *c, unsigned id, const char *code,
                            uint64_t connections, struct mm_countries *out)
{
    if (id >= 1 && id <= c->n) {
        c->connections[id] += connections;
        c->ips[id]++;
    } else { /* a code past the table: straight in */
        mm_countries_add(out, code, connections);
    }
}

void mm_country_cache_flush(struct mm_country_cache *c, struct mm_countries *out)
{
    for (unsigned id = 1; id <= c->n; id++) {
        if (c->ips[id])
            mm_countries_add_many(out, c->codes[id], c->connections[id], c->ips[id]);
        c->connections[id] = c->ips[id] = 0;
    }
}
