/* metric.c — the snapshot: metrics, the family registry (a hash table that
 * lives as long as the snapshot) and the string arena of labels and texts
 * (see metric.h). */
#include "core/metric.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/families.h"
#include "core/hash.h"

const struct mm_page mm_page_default = { "mtproxy_stats", "stats" };

/* ---- arena: strings of one gather, freed all at once ----------------------- */

#define ARENA_BLOCK 16384

struct mm_arena_block {
    struct mm_arena_block *next;
    size_t used, cap;
    char data[];
};

static const char *arena_strdup(struct mm_snapshot *snap, const char *s, size_t len)
{
    struct mm_arena_block *b = snap->arena;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
        struct mm_arena_block *nb = malloc(sizeof(*nb) + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        nb->next = b;
        snap->arena = b = nb;
    }
    char *p = b->data + b->used;
    memcpy(p, s, len);
    p[len] = '\0';
    b->used += len + 1;
    return p;
}

/* Keeps one block (the newest, a full-size one when there is one). */
static void arena_reset(struct mm_snapshot *snap, int keep_one)
{
    struct mm_arena_block *b = snap->arena, *keep = NULL;
    while (b) {
        struct mm_arena_block *next = b->next;
        if (keep_one && !keep && b->cap == ARENA_BLOCK) {
            keep = b;
            keep->used = 0;
            keep->next = NULL;
        } else {
            free(b);
        }
        b = next;
    }
    snap->arena = keep;
}

/* ---- family registry ------------------------------------------------------- */

struct mm_family_table {
    uint64_t seed[2];         /* names come from the page: no aiming at one bucket */
    struct mm_family **slots; /* open addressing, power-of-two size */
    size_t n_slots;
    struct mm_family **order; /* in the order first seen */
    size_t count, order_cap;
};

static uint32_t hash_family(const struct mm_family_table *t, enum mm_origin origin, const char *measurement,
                            const char *name)
{
    uint64_t h = mm_hash_bytes(t ? t->seed[0] : 0, &origin, sizeof(origin));
    h = mm_hash_bytes(h, measurement, strlen(measurement) + 1); /* the NUL separates */
    return (uint32_t)mm_hash_mix(mm_hash_bytes(h, name, strlen(name)));
}

static const char *origin_measurement(const struct mm_snapshot *snap, enum mm_origin origin)
{
    return origin == MM_ORIGIN_PAGE ? snap->page.measurement : mm_origin_desc(origin)->measurement;
}

static struct mm_family *table_find(const struct mm_family_table *t, enum mm_origin origin,
                                    const char *measurement, const char *name, uint32_t h, size_t *slot)
{
    if (!t || !t->n_slots)
        return NULL;
    size_t mask = t->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct mm_family *f = t->slots[i];
        if (!f) {
            if (slot)
                *slot = i;
            return NULL;
        }
        if (f->hash == h && f->origin == origin && strcmp(f->name, name) == 0 &&
            strcmp(f->measurement, measurement) == 0)
            return f;
    }
}

static int table_grow(struct mm_family_table *t)
{
    size_t n = mm_pow2_at_least(t->n_slots * 2, 256);
    struct mm_family **slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t k = 0; k < t->count; k++) {
        size_t i = t->order[k]->hash & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = t->order[k];
    }
    free(t->slots);
    t->slots = slots;
    t->n_slots = n;
    return 0;
}

static void table_free(struct mm_family_table *t)
{
    if (!t)
        return;
    for (size_t k = 0; k < t->count; k++)
        free(t->order[k]);
    free(t->order);
    free(t->slots);
    free(t);
}

/* The family of (origin, name), registered on first sight with the schema's
 * kind and type when the schema has it, else with the caller's. */
static struct mm_family *family_get(struct mm_snapshot *snap, enum mm_origin origin, enum mm_kind kind,
                                    enum mm_value_type type, const char *name)
{
    if ((unsigned)origin >= MM_ORIGIN_COUNT)
        return NULL;
    if (!snap->families) {
        if (!(snap->families = calloc(1, sizeof(*snap->families))))
            return NULL;
        mm_hash_seed(snap->families->seed);
    }
    struct mm_family_table *t = snap->families;
    const char *measurement = origin_measurement(snap, origin);
    uint32_t h = hash_family(t, origin, measurement, name);
    struct mm_family *f = table_find(t, origin, measurement, name, h, NULL);
    if (f)
        return f;

    size_t len = strlen(name);
    if (len == 0 || len >= MM_NAME_MAX)
        return NULL;
    if (t->count >= MM_FAMILY_MAX)
        return NULL;
    if ((t->count + 1) * 2 > t->n_slots && table_grow(t) != 0)
        return NULL;
    if (t->count == t->order_cap) {
        size_t cap = t->order_cap ? t->order_cap * 2 : 256;
        struct mm_family **order = realloc(t->order, cap * sizeof(*order));
        if (!order)
            return NULL;
        t->order = order;
        t->order_cap = cap;
    }
    f = calloc(1, sizeof(*f) + len + 1);
    if (!f)
        return NULL;
    char *copy = (char *)(f + 1);
    memcpy(copy, name, len + 1);
    f->origin = origin;
    f->name = copy;
    f->measurement = measurement;
    f->page = origin == MM_ORIGIN_PAGE ? snap->page.collectd_prefix : NULL;
    f->desc = mm_family_desc_find(origin, name);
    f->kind = f->desc ? f->desc->kind : kind;
    f->type = f->desc ? f->desc->type : type;
    if (f->kind == MM_TEXT)
        f->type = MM_STRING;
    else if (f->type == MM_STRING)
        f->kind = MM_TEXT;
    f->hash = h;
    f->gen = UINT32_MAX;
    size_t slot;
    table_find(t, origin, measurement, name, h, &slot);
    t->slots[slot] = f;
    t->order[t->count++] = f;
    return f;
}

/* ---- snapshot -------------------------------------------------------------- */

void mm_snapshot_init(struct mm_snapshot *snap)
{
    memset(snap, 0, sizeof(*snap));
    snap->page = mm_page_default;
}

void mm_snapshot_reset(struct mm_snapshot *snap)
{
    snap->count = 0;
    snap->dropped = 0;
    snap->gen++;
    arena_reset(snap, 1);
}

void mm_snapshot_free(struct mm_snapshot *snap)
{
    arena_reset(snap, 0);
    table_free(snap->families);
    free(snap->items);
    mm_snapshot_init(snap);
}

void mm_snapshot_set_page(struct mm_snapshot *snap, const struct mm_page *page)
{
    snap->page = page && page->measurement && page->collectd_prefix ? *page : mm_page_default;
}

int mm_metric_add_label(struct mm_snapshot *snap, struct mm_metric *m, const char *key, const char *value)
{
    size_t klen = strlen(key), vlen = strlen(value);
    if (m->n_labels >= MM_LABEL_MAX || klen == 0 || klen >= MM_LABEL_KEY_MAX || vlen >= MM_LABEL_VALUE_MAX)
        return -1;
    int at = m->n_labels;
    while (at > 0) {
        int c = strcmp(m->labels[at - 1].key, key);
        if (c == 0)
            return -1;
        if (c < 0)
            break;
        at--;
    }
    for (int i = 0; i < at; i++)
        if (strcmp(m->labels[i].key, key) == 0)
            return -1;
    const char *k = arena_strdup(snap, key, klen);
    const char *v = k ? arena_strdup(snap, value, vlen) : NULL;
    if (!v)
        return -1;
    memmove(&m->labels[at + 1], &m->labels[at], (size_t)(m->n_labels - at) * sizeof(m->labels[0]));
    m->labels[at] = (struct mm_label){ k, v };
    m->n_labels++;
    return 0;
}

const char *mm_metric_label(const struct mm_metric *m, const char *key)
{
    for (int i = 0; i < m->n_labels; i++)
        if (strcmp(m->labels[i].key, key) == 0)
            return m->labels[i].value;
    return NULL;
}

/* A value as the family's type: 0, or -1 when it cannot be one. */
static int convert(struct mm_snapshot *snap, const struct mm_family *f, enum mm_value_type type,
                   int64_t *i, double *d, const char **s)
{
    if (type == f->type)
        return 0;
    char buf[40];
    switch (f->type) {
    case MM_DOUBLE:
        if (type != MM_INT)
            return -1;
        *d = (double)*i;
        return 0;
    case MM_INT:
        /* only whole numbers within int64: never a rounded value */
        if (type != MM_DOUBLE || !(*d >= -9223372036854775808.0 && *d < 9223372036854775808.0) || *d != floor(*d))
            return -1;
        *i = (int64_t)*d;
        return 0;
    case MM_STRING:
        if (type == MM_INT)
            snprintf(buf, sizeof(buf), "%" PRId64, *i);
        else if (isfinite(*d))
            snprintf(buf, sizeof(buf), "%.17g", *d);
        else
            return -1;
        *s = arena_strdup(snap, buf, strlen(buf));
        return *s ? 0 : -1;
    }
    return -1;
}

static struct mm_metric *add(struct mm_snapshot *snap, enum mm_origin origin, enum mm_kind kind,
                             enum mm_value_type type, const char *name, int64_t i, double d, const char *s,
                             va_list ap)
{
    struct mm_family *f = family_get(snap, origin, kind, type, name);
    if (!f)
        goto drop;
    if (f->type == MM_STRING && type == MM_STRING && !(s = arena_strdup(snap, s, strlen(s))))
        goto drop;
    if (convert(snap, f, type, &i, &d, &s) != 0)
        goto drop;
    if (f->type == MM_STRING && s == NULL)
        goto drop;
    if (snap->count == snap->cap) {
        size_t cap = snap->cap ? snap->cap * 2 : 256;
        struct mm_metric *items = realloc(snap->items, cap * sizeof(*items));
        if (!items)
            goto drop;
        snap->items = items;
        snap->cap = cap;
    }
    struct mm_metric *m = &snap->items[snap->count];
    m->family = f;
    m->origin = f->origin;
    m->kind = f->kind;
    m->type = f->type;
    m->name = f->name;
    m->next = MM_NO_METRIC;
    m->n_labels = 0;
    if (f->type == MM_INT)
        m->value.i = i;
    else if (f->type == MM_DOUBLE)
        m->value.d = d;
    else
        m->value.s = s; /* in the arena */
    for (const char *key; (key = va_arg(ap, const char *));) {
        const char *value = va_arg(ap, const char *);
        if (!value || mm_metric_add_label(snap, m, key, value) != 0)
            goto drop;
    }
    uint32_t idx = (uint32_t)snap->count++;
    if (f->gen != snap->gen) {
        f->gen = snap->gen;
        f->first = idx;
    } else {
        snap->items[f->last].next = idx;
    }
    f->last = idx;
    return m;
drop:
    snap->dropped++;
    return NULL;
}

struct mm_metric *mm_snapshot_add_int_labels(struct mm_snapshot *snap, enum mm_origin origin,
                                             enum mm_kind kind, const char *name, int64_t value, ...)
{
    va_list ap;
    va_start(ap, value);
    struct mm_metric *m = add(snap, origin, kind, MM_INT, name, value, 0, NULL, ap);
    va_end(ap);
    return m;
}

struct mm_metric *mm_snapshot_add_double_labels(struct mm_snapshot *snap, enum mm_origin origin,
                                                enum mm_kind kind, const char *name, double value, ...)
{
    va_list ap;
    va_start(ap, value);
    struct mm_metric *m = add(snap, origin, kind, MM_DOUBLE, name, 0, value, NULL, ap);
    va_end(ap);
    return m;
}

struct mm_metric *mm_snapshot_add_text_labels(struct mm_snapshot *snap, enum mm_origin origin,
                                              const char *name, const char *text, ...)
{
    va_list ap;
    va_start(ap, text);
    struct mm_metric *m = text ? add(snap, origin, MM_TEXT, MM_STRING, name, 0, 0, text, ap) : NULL;
    if (!text)
        snap->dropped++;
    va_end(ap);
    return m;
}

const struct mm_family *mm_snapshot_family(const struct mm_snapshot *snap, enum mm_origin origin,
                                           const char *name)
{
    if ((unsigned)origin >= MM_ORIGIN_COUNT)
        return NULL;
    const char *measurement = origin_measurement(snap, origin);
    return table_find(snap->families, origin, measurement, name,
                      hash_family(snap->families, origin, measurement, name), NULL);
}

const struct mm_metric *mm_snapshot_find(const struct mm_snapshot *snap, enum mm_origin origin,
                                         const char *name)
{
    const struct mm_family *f = mm_snapshot_family(snap, origin, name);
    return f && f->gen == snap->gen ? &snap->items[f->first] : NULL;
}

const struct mm_metric *mm_snapshot_next_of_family(const struct mm_snapshot *snap, const struct mm_metric *m)
{
    return m->next == MM_NO_METRIC ? NULL : &snap->items[m->next];
}

const struct mm_metric *mm_snapshot_find_labeled(const struct mm_snapshot *snap, enum mm_origin origin,
                                                 const char *name, const char *key, const char *value)
{
    for (const struct mm_metric *m = mm_snapshot_find(snap, origin, name); m;
         m = mm_snapshot_next_of_family(snap, m)) {
        const char *v = mm_metric_label(m, key);
        if (v && strcmp(v, value) == 0)
            return m;
    }
    return NULL;
}

double mm_metric_as_double(const struct mm_metric *m)
{
    switch (m->type) {
    case MM_INT:
        return (double)m->value.i;
    case MM_DOUBLE:
        return m->value.d;
    default:
        return NAN;
    }
}

size_t mm_snapshot_family_count(const struct mm_snapshot *snap)
{
    return snap->families ? snap->families->count : 0;
}

const struct mm_family *mm_snapshot_family_at(const struct mm_snapshot *snap, size_t i)
{
    return i < mm_snapshot_family_count(snap) ? snap->families->order[i] : NULL;
}
