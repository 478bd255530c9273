/* collectd_map.c — the schema's collectd spelling applied to a snapshot
 * (see collectd_map.h and core/families.h). */
#include "outputs/collectd_map.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/families.h"
#include "core/hash.h"

static const struct mm_collectd_spec no_spec = { 0 };

static const struct mm_collectd_spec *spec_of(const struct mm_metric *m)
{
    return m->family->desc ? &m->family->desc->collectd : &no_spec;
}

/* Appends text to out[*len..], '/' and control characters made '_' (they
 * would break the identifier); -1 when it does not fit. */
static int append(char *out, size_t cap, size_t *len, const char *text, size_t text_len, bool upper)
{
    if (*len + text_len >= cap)
        return -1;
    for (size_t i = 0; i < text_len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '/' || c < 0x20 || c == 0x7f)
            c = '_';
        out[(*len)++] = (char)(upper ? toupper(c) : c);
    }
    out[*len] = '\0';
    return 0;
}

/* Expands the type_instance template; labels it does not name follow as
 * "-<value>". -1 when a named label is missing or the result does not fit. */
static int expand(const struct mm_metric *m, const char *tmpl, char *out, size_t cap)
{
    bool used[MM_LABEL_MAX] = { false };
    size_t len = 0;
    out[0] = '\0';
    for (const char *p = tmpl; *p;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close) {
            size_t n = strcspn(p + 1, "{") + 1;
            if (append(out, cap, &len, p, n, false) != 0)
                return -1;
            p += n;
            continue;
        }
        char key[MM_LABEL_KEY_MAX];
        size_t klen = (size_t)(close - p - 1);
        if (klen >= sizeof(key))
            return -1;
        memcpy(key, p + 1, klen);
        key[klen] = '\0';
        p = close + 1;
        const char *value = NULL;
        bool upper = false;
        if (strcmp(key, "name") == 0 || (upper = strcmp(key, "NAME") == 0)) {
            value = m->name;
        } else if (strcmp(key, "page") == 0) {
            value = m->family->page ? m->family->page : "page";
        } else {
            for (int i = 0; i < m->n_labels; i++)
                if (strcmp(m->labels[i].key, key) == 0) {
                    value = m->labels[i].value;
                    used[i] = true;
                }
        }
        if (!value || append(out, cap, &len, value, strlen(value), upper) != 0)
            return -1;
    }
    for (int i = 0; i < m->n_labels; i++)
        if (!used[i] && (append(out, cap, &len, "-", 1, false) != 0 ||
                         append(out, cap, &len, m->labels[i].value, strlen(m->labels[i].value), false) != 0))
            return -1;
    return 0;
}

static bool is_derive(const struct mm_metric *m, const struct mm_collectd_spec *spec)
{
    return spec->type ? spec->derive : m->kind == MM_COUNTER && m->type == MM_INT;
}

int mm_collectd_identifier(const struct mm_metric *m, char *type, size_t type_len, char *type_instance,
                           size_t type_instance_len, unsigned *ds, unsigned *n_ds)
{
    const struct mm_collectd_spec *spec = spec_of(m);
    if (m->type == MM_STRING || spec->none)
        return 0;
    const char *tmpl = spec->instance ? spec->instance : mm_origin_desc(m->origin)->collectd_instance;
    if (expand(m, tmpl, type_instance, type_instance_len) != 0)
        return 0;
    const char *t = spec->type ? spec->type : is_derive(m, spec) ? "derive" : "gauge";
    if ((size_t)snprintf(type, type_len, "%s", t) >= type_len)
        return 0;
    *ds = spec->n_ds > 1 ? spec->ds : 0;
    *n_ds = spec->n_ds > 1 ? spec->n_ds : 1;
    return 1;
}

static void set_value(struct mm_collectd_values *v, unsigned ds, const struct mm_metric *m,
                      const struct mm_collectd_spec *spec)
{
    double scale = spec->scale > 0 ? spec->scale : 1;
    if (v->derive)
        v->derive_values[ds] = m->type == MM_INT && scale == 1 ? m->value.i
                                                               : (int64_t)(mm_metric_as_double(m) * scale);
    else
        v->gauge_values[ds] = mm_metric_as_double(m) * scale;
}

/* A two-value list being filled: which data sources arrived. */
struct pending {
    struct mm_collectd_values v;
    unsigned seen; /* bit per data source */
};

/* Identifiers already sent this gather, by a seeded 64-bit hash: two values
 * of one identifier in one read would make collectd log "Value too old"
 * (label values that differ only in a '/' made '_', a key a page repeats). */
struct sent {
    uint64_t *slots; /* 0 = free */
    size_t mask;
    uint64_t seed[2];
};

static bool sent_before(struct sent *s, const struct mm_collectd_values *v)
{
    if (!s->slots)
        return false; /* no memory for the check: send */
    uint64_t h = mm_hash_bytes(s->seed[0], v->type, strlen(v->type) + 1);
    h = mm_hash_mix(mm_hash_bytes(h, v->type_instance, strlen(v->type_instance)) ^ s->seed[1]);
    h |= 1;
    for (size_t k = h & s->mask;; k = (k + 1) & s->mask) {
        if (s->slots[k] == h)
            return true;
        if (!s->slots[k]) {
            s->slots[k] = h;
            return false;
        }
    }
}

int mm_collectd_map_snapshot(const struct mm_snapshot *snap, mm_collectd_emit_fn emit, void *ctx)
{
    size_t n_multi = 0;
    for (size_t i = 0; i < snap->count; i++)
        n_multi += spec_of(&snap->items[i])->n_ds > 1;
    struct sent sent = { 0 };
    size_t n_sent_slots = mm_pow2_at_least(2 * (snap->count - n_multi), 16);
    sent.slots = calloc(n_sent_slots, sizeof(*sent.slots));
    sent.mask = n_sent_slots - 1;
    mm_hash_seed(sent.seed);

    size_t n_slots = mm_pow2_at_least(2 * n_multi, 16);
    struct pending *pend = n_multi ? calloc(n_multi, sizeof(*pend)) : NULL;
    uint32_t *slots = n_multi ? calloc(n_slots, sizeof(*slots)) : NULL; /* pending + 1, 0 = free */
    int rc = n_multi && (!pend || !slots) ? -1 : 0;
    size_t n_pend = 0;

    for (size_t i = 0; i < snap->count; i++) {
        const struct mm_metric *m = &snap->items[i];
        const struct mm_collectd_spec *spec = spec_of(m);
        struct mm_collectd_values v;
        unsigned ds, n_ds;
        if (!mm_collectd_identifier(m, v.type, sizeof(v.type), v.type_instance, sizeof(v.type_instance), &ds, &n_ds))
            continue;
        v.derive = is_derive(m, spec);
        if (n_ds == 1) {
            v.n_values = 1;
            set_value(&v, 0, m, spec);
            if (!sent_before(&sent, &v)) /* the first wins */
                emit(ctx, &v);
            continue;
        }
        if (rc != 0 || ds >= MM_COLLECTD_DS_MAX || n_ds > MM_COLLECTD_DS_MAX)
            continue;
        /* two-value types come from the schema, not from the page: no seed needed */
        uint64_t h = mm_hash_mix(mm_hash_bytes(mm_hash_bytes(0, v.type, strlen(v.type) + 1), v.type_instance,
                                               strlen(v.type_instance)));
        struct pending *slot = NULL;
        for (size_t k = h & (n_slots - 1);; k = (k + 1) & (n_slots - 1)) {
            if (!slots[k]) {
                slot = &pend[n_pend];
                slots[k] = (uint32_t)++n_pend;
                slot->v = v;
                slot->v.n_values = n_ds;
                break;
            }
            struct pending *p = &pend[slots[k] - 1];
            if (strcmp(p->v.type, v.type) == 0 && strcmp(p->v.type_instance, v.type_instance) == 0) {
                slot = p;
                break;
            }
        }
        if (slot->seen & (1u << ds))
            continue; /* the same value twice: the first wins */
        slot->seen |= 1u << ds;
        set_value(&slot->v, ds, m, spec);
    }

    for (size_t k = 0; k < n_pend; k++) {
        struct pending *p = &pend[k];
        unsigned all = (1u << p->v.n_values) - 1;
        if (p->seen != all) {
            if (p->v.derive)
                continue;
            for (unsigned ds = 0; ds < p->v.n_values; ds++)
                if (!(p->seen & (1u << ds)))
                    p->v.gauge_values[ds] = NAN;
        }
        emit(ctx, &p->v);
    }
    free(pend);
    free(slots);
    free(sent.slots);
    return rc;
}
