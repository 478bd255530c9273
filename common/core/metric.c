/* metric.c — the snapshot container (see metric.h). */
#include "core/metric.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mm_snapshot_init(struct mm_snapshot *snap)
{
    memset(snap, 0, sizeof(*snap));
}

void mm_snapshot_reset(struct mm_snapshot *snap)
{
    for (size_t i = 0; i < snap->count; i++)
        if (snap->items[i].type == MM_STRING)
            free(snap->items[i].value.s);
    snap->count = 0;
}

void mm_snapshot_free(struct mm_snapshot *snap)
{
    mm_snapshot_reset(snap);
    free(snap->items);
    mm_snapshot_init(snap);
}

static struct mm_metric *snapshot_append(struct mm_snapshot *snap, enum mm_group group,
                                         enum mm_kind kind, const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= MM_NAME_MAX)
        return NULL;
    if (snap->count == snap->cap) {
        size_t cap = snap->cap ? snap->cap * 2 : 256;
        struct mm_metric *items = realloc(snap->items, cap * sizeof(*items));
        if (!items)
            return NULL;
        snap->items = items;
        snap->cap = cap;
    }
    struct mm_metric *m = &snap->items[snap->count];
    memset(m, 0, sizeof(*m));
    m->group = group;
    m->kind = kind;
    memcpy(m->name, name, len + 1);
    return m;
}

struct mm_metric *mm_snapshot_add_int(struct mm_snapshot *snap, enum mm_group group,
                                      enum mm_kind kind, const char *name, int64_t value)
{
    struct mm_metric *m = snapshot_append(snap, group, kind, name);
    if (!m)
        return NULL;
    m->type = MM_INT;
    m->value.i = value;
    snap->count++;
    return m;
}

struct mm_metric *mm_snapshot_add_double(struct mm_snapshot *snap, enum mm_group group,
                                         enum mm_kind kind, const char *name, double value)
{
    struct mm_metric *m = snapshot_append(snap, group, kind, name);
    if (!m)
        return NULL;
    m->type = MM_DOUBLE;
    m->value.d = value;
    snap->count++;
    return m;
}

struct mm_metric *mm_snapshot_add_text(struct mm_snapshot *snap, enum mm_group group,
                                       const char *name, const char *text)
{
    struct mm_metric *m = snapshot_append(snap, group, MM_TEXT, name);
    if (!m)
        return NULL;
    char *copy = strdup(text);
    if (!copy)
        return NULL;
    m->type = MM_STRING;
    m->value.s = copy;
    snap->count++;
    return m;
}

int mm_metric_add_label(struct mm_metric *m, const char *key, const char *value)
{
    size_t len = strlen(value);
    if (m->n_labels >= MM_LABEL_MAX || len >= MM_LABEL_VALUE_MAX)
        return -1;
    struct mm_label *l = &m->labels[m->n_labels++];
    l->key = key;
    memcpy(l->value, value, len + 1);
    return 0;
}

const char *mm_metric_label(const struct mm_metric *m, const char *key)
{
    for (int i = 0; i < m->n_labels; i++)
        if (strcmp(m->labels[i].key, key) == 0)
            return m->labels[i].value;
    return NULL;
}

const struct mm_metric *mm_snapshot_find(const struct mm_snapshot *snap, enum mm_group group,
                                         const char *name)
{
    for (size_t i = 0; i < snap->count; i++)
        if (snap->items[i].group == group && strcmp(snap->items[i].name, name) == 0)
            return &snap->items[i];
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
