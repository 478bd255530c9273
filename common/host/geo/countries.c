/* countries.c — per-country aggregation with a bounded table (see countries.h). */
#include "host/geo/countries.h"

#include <stdlib.h>
#include <string.h>

#define INDEX_SLOTS (2 * MM_COUNTRIES_MAX)

void mm_countries_clear(struct mm_countries *c)
{
    c->n = 0;
    memset(c->index, 0, sizeof(c->index));
    memset(&c->other, 0, sizeof(c->other));
    memcpy(c->other.code, "other", 6);
}

static size_t code_hash(const char *code)
{
    size_t h = 5381;
    for (const unsigned char *p = (const unsigned char *)code; *p; p++)
        h = h * 33 + *p;
    return h & (INDEX_SLOTS - 1);
}

/* The code's entry (added with zeros when new), or NULL when the table is full. */
static struct mm_country *entry(struct mm_countries *c, const char *code)
{
    size_t len = strlen(code);
    if (len >= MM_COUNTRY_CODE_MAX)
        len = MM_COUNTRY_CODE_MAX - 1;
    char key[MM_COUNTRY_CODE_MAX];
    memcpy(key, code, len);
    key[len] = '\0';

    size_t i = code_hash(key);
    for (; c->index[i]; i = (i + 1) & (INDEX_SLOTS - 1)) {
        struct mm_country *e = &c->items[c->index[i] - 1];
        if (strcmp(e->code, key) == 0)
            return e;
    }
    if (c->n == MM_COUNTRIES_MAX)
        return NULL;
    struct mm_country *e = &c->items[c->n];
    memcpy(e->code, key, len + 1);
    e->connections = 0;
    e->unique_ips = 0;
    c->index[i] = (uint16_t)(++c->n);
    return e;
}

void mm_countries_add_many(struct mm_countries *c, const char *code, uint64_t connections,
                           uint64_t ips)
{
    struct mm_country *e = entry(c, code);
    if (!e)
        e = &c->other;
    e->connections += connections;
    e->unique_ips += ips;
}

void mm_countries_raise(struct mm_countries *c, const char *code, uint64_t ips)
{
    struct mm_country *e = entry(c, code);
    if (!e)
        e = &c->other;
    if (e->unique_ips < ips)
        e->unique_ips = ips;
}

void mm_countries_add(struct mm_countries *c, const char *code, uint64_t connections)
{
    mm_countries_add_many(c, code, connections, 1);
}

static int by_connections(const void *a, const void *b)
{
    const struct mm_country *x = a, *y = b;
    if (x->connections != y->connections)
        return x->connections < y->connections ? 1 : -1;
    return strcmp(x->code, y->code);
}

static int by_ips(const void *a, const void *b)
{
    const struct mm_country *x = a, *y = b;
    if (x->unique_ips != y->unique_ips)
        return x->unique_ips < y->unique_ips ? 1 : -1;
    return strcmp(x->code, y->code);
}

static size_t rank(struct mm_countries *c, size_t top, struct mm_country *other,
                   int (*order)(const void *, const void *))
{
    qsort(c->items, c->n, sizeof(c->items[0]), order);
    *other = c->other;
    for (size_t i = top; i < c->n; i++) {
        other->connections += c->items[i].connections;
        other->unique_ips += c->items[i].unique_ips;
    }
    /* the index no longer matches the order: only clear() may follow */
    memset(c->index, 0, sizeof(c->index));
    if (c->n > top)
        c->n = top;
    return c->n;
}

size_t mm_countries_rank(struct mm_countries *c, size_t top, struct mm_country *other)
{
    return rank(c, top, other, by_connections);
}

size_t mm_countries_rank_by_ips(struct mm_countries *c, size_t top, struct mm_country *other)
{
    return rank(c, top, other, by_ips);
}

uint32_t mm_country_pack(const char *code)
{
    size_t len = strlen(code);
    if (len == 0 || len > 3)
        return MM_COUNTRY_PACKED_UNKNOWN;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++)
        v |= (uint32_t)(unsigned char)code[i] << (8 * i);
    return v;
}

void mm_country_unpack(uint32_t packed, char out[MM_COUNTRY_CODE_MAX])
{
    if (packed == MM_COUNTRY_PACKED_UNKNOWN || packed == 0 || packed > 0xffffff) {
        memcpy(out, "unknown", 8);
        return;
    }
    size_t i = 0;
    for (; i < 3 && (packed >> (8 * i)) & 0xff; i++)
        out[i] = (char)((packed >> (8 * i)) & 0xff);
    out[i] = '\0';
}
