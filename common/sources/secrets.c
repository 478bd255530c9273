/* secrets.c — MaxSecrets slots and the "other" sums (see secrets.h). */
#include "sources/secrets.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mm_secret_set_init(struct mm_secret_set *set, unsigned max)
{
    memset(set, 0, sizeof(*set));
    set->max = max ? max : MM_SECRETS_DEFAULT;
    if (set->max > MM_SECRETS_LIMIT)
        set->max = MM_SECRETS_LIMIT;
    set->names = calloc(set->max, sizeof(*set->names));
    set->seen = calloc(set->max, sizeof(*set->seen));
    if (!set->names || !set->seen) {
        mm_secret_set_free(set);
        return -1;
    }
    return 0;
}

void mm_secret_set_free(struct mm_secret_set *set)
{
    free(set->names);
    free(set->seen);
    memset(set, 0, sizeof(*set));
}

void mm_secret_set_begin(struct mm_secret_set *set)
{
    if (set->seen)
        memset(set->seen, 0, set->max * sizeof(*set->seen));
}

void mm_secret_set_end(struct mm_secret_set *set)
{
    unsigned w = 0;
    for (unsigned r = 0; r < set->n; r++)
        if (set->seen[r]) {
            if (w != r)
                memcpy(set->names[w], set->names[r], MM_SECRET_NAME_MAX);
            w++;
        }
    set->n = w;
}

const char *mm_secret_set_name(struct mm_secret_set *set, const char *name)
{
    char cut[MM_SECRET_NAME_MAX];
    snprintf(cut, sizeof(cut), "%s", name);
    for (unsigned i = 0; i < set->n; i++)
        if (strcmp(set->names[i], cut) == 0) {
            set->seen[i] = true;
            return set->names[i];
        }
    /* A slot freed this gather is only reused next gather (mm_secret_set_end),
     * so a name never moves between "own series" and "other" within one. */
    if (set->n < set->max) {
        memcpy(set->names[set->n], cut, sizeof(cut));
        set->seen[set->n] = true;
        return set->names[set->n++];
    }
    return MM_SECRET_OTHER;
}

void mm_other_sums_init(struct mm_other_sums *o)
{
    memset(o, 0, sizeof(*o));
}

void mm_other_sums_reset(struct mm_other_sums *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->items[i].key);
    o->n = 0;
    if (o->index)
        memset(o->index, 0, o->index_cap * sizeof(*o->index));
}

void mm_other_sums_free(struct mm_other_sums *o)
{
    mm_other_sums_reset(o);
    free(o->items);
    free(o->index);
    mm_other_sums_init(o);
}

static size_t hash_key(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return (size_t)(h ^ (h >> 29));
}

static int rehash(struct mm_other_sums *o, size_t cap)
{
    size_t *index = calloc(cap, sizeof(*index));
    if (!index)
        return -1;
    for (size_t i = 0; i < o->n; i++) {
        size_t h = hash_key(o->items[i].key) & (cap - 1);
        while (index[h])
            h = (h + 1) & (cap - 1);
        index[h] = i + 1;
    }
    free(o->index);
    o->index = index;
    o->index_cap = cap;
    return 0;
}

int mm_other_sums_add(struct mm_other_sums *o, const char *key, double value, size_t cookie)
{
    if ((o->n + 1) * 2 > o->index_cap && rehash(o, o->index_cap ? o->index_cap * 2 : 64) != 0)
        return -1;
    size_t h = hash_key(key) & (o->index_cap - 1);
    for (; o->index[h]; h = (h + 1) & (o->index_cap - 1)) {
        struct mm_other_entry *e = &o->items[o->index[h] - 1];
        if (strcmp(e->key, key) == 0) {
            e->sum += value;
            return 0;
        }
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 32;
        struct mm_other_entry *items = realloc(o->items, cap * sizeof(*items));
        if (!items)
            return -1;
        o->items = items;
        o->cap = cap;
    }
    char *copy = strdup(key);
    if (!copy)
        return -1;
    o->items[o->n] = (struct mm_other_entry){ copy, value, cookie };
    o->index[h] = ++o->n;
    return 0;
}
