/* line_protocol.c — the line-protocol writer (see line_protocol.h for the
 * rules it applies to names and values). */
#include "outputs/line_protocol.h"

#include "core/hash.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1..4), 0 when s starts an invalid
 * one (stray continuation byte, overlong form, surrogate, > U+10FFFF, cut). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0; /* also stops at the NUL */
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

char *mm_text_sanitize(const char *s, char *out, size_t out_len)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && out_len > 0) {
        size_t n = utf8_len(p);
        const char *piece = (const char *)p;
        size_t piece_len = n;
        if (n == 0) {
            piece = REPLACEMENT;
            piece_len = 3;
            n = 1;
        } else if (is_control(*p)) {
            piece = " ";
        }
        if (o + piece_len >= out_len)
            break;
        memcpy(out + o, piece, piece_len);
        o += piece_len;
        p += n;
    }
    if (out_len > 0)
        out[o] = '\0';
    return out;
}

enum ctx { CTX_MEASUREMENT, CTX_KEY, CTX_TAG_VALUE, CTX_STRING };

/* What the context escapes with a backslash. */
static const char *specials(enum ctx ctx)
{
    switch (ctx) {
    case CTX_MEASUREMENT:
        return ", ";
    case CTX_STRING:
        return "\"\\";
    default:
        return ",= ";
    }
}

/* Whether a backslash followed by c would be read as (part of) an escape. */
static bool backslash_ambiguous_before(unsigned char c)
{
    return c == '\0' || is_control(c) || strchr("\\,= \"", c) != NULL;
}

static void put_text(FILE *out, const char *s, enum ctx ctx)
{
    const char *special = specials(ctx);
    const unsigned char *p = (const unsigned char *)s;
    if ((ctx == CTX_MEASUREMENT || ctx == CTX_KEY) && (*p == '_' || (ctx == CTX_MEASUREMENT && *p == '#')))
        fputc('x', out); /* reserved by InfluxDB 2; '#' starts a comment line */
    while (*p) {
        size_t n = utf8_len(p);
        if (n == 0) {
            fputs(REPLACEMENT, out);
            p++;
            continue;
        }
        if (n > 1) {
            fwrite(p, 1, n, out);
            p += n;
            continue;
        }
        unsigned char c = is_control(*p) ? ' ' : *p;
        if (c == '\\' && ctx != CTX_STRING && backslash_ambiguous_before(p[1]))
            c = '/';
        else if (strchr(special, c))
            fputc('\\', out);
        fputc(c, out);
        p++;
    }
}

static void put_key(FILE *out, const char *key)
{
    put_text(out, key, CTX_KEY);
    if (strcmp(key, "time") == 0)
        fputc('_', out);
}

static bool double_writable(double d)
{
    return isfinite(d);
}

static void put_double(FILE *out, double d)
{
    /* The shortest form that reads back as the same double; never an
     * exponent-less huge integer problem: %g output is valid line protocol. */
    char buf[40];
    snprintf(buf, sizeof(buf), "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, sizeof(buf), "%.17g", d);
    fputs(buf, out);
}

static int compare_tags(const void *a, const void *b)
{
    return strcmp(((const struct mm_lp_tag *)a)->key, ((const struct mm_lp_tag *)b)->key);
}

/* measurement and sorted tags */
static int put_series(FILE *out, const char *measurement, const struct mm_lp_tag *tags, size_t n_tags)
{
    struct mm_lp_tag stack[MM_LABEL_MAX + 2];
    struct mm_lp_tag *sorted = n_tags <= MM_LABEL_MAX + 2 ? stack : malloc(n_tags * sizeof(*sorted));
    if (!sorted)
        return -1;
    if (n_tags)
        memcpy(sorted, tags, n_tags * sizeof(*sorted));
    qsort(sorted, n_tags, sizeof(*sorted), compare_tags);
    put_text(out, measurement, CTX_MEASUREMENT);
    for (size_t i = 0; i < n_tags; i++) {
        if (!sorted[i].key[0] || !sorted[i].value || !sorted[i].value[0])
            continue; /* InfluxDB rejects empty keys and empty tag values */
        fputc(',', out);
        put_key(out, sorted[i].key);
        fputc('=', out);
        put_text(out, sorted[i].value, CTX_TAG_VALUE);
    }
    if (sorted != stack)
        free(sorted);
    fputc(' ', out);
    return 0;
}

static bool field_writable(const struct mm_lp_field *f)
{
    if (!f->key[0])
        return false;
    if (f->type == MM_DOUBLE)
        return double_writable(f->d);
    if (f->type == MM_STRING)
        return f->s != NULL;
    return true;
}

static void put_field(FILE *out, const struct mm_lp_field *f)
{
    put_key(out, f->key);
    fputc('=', out);
    switch (f->type) {
    case MM_INT:
        fprintf(out, "%" PRId64 "i", f->i);
        break;
    case MM_DOUBLE:
        put_double(out, f->d);
        break;
    case MM_STRING:
        fputc('"', out);
        put_text(out, f->s, CTX_STRING);
        fputc('"', out);
        break;
    }
}

int mm_lp_write_line(FILE *out, const char *measurement, const struct mm_lp_tag *tags, size_t n_tags,
                     const struct mm_lp_field *fields, size_t n_fields, int64_t timestamp_ns)
{
    int written = 0;
    for (size_t i = 0; i < n_fields; i++) {
        if (!field_writable(&fields[i]))
            continue;
        if (written == 0) {
            if (put_series(out, measurement, tags, n_tags) != 0)
                return -1;
        } else {
            fputc(',', out);
        }
        put_field(out, &fields[i]);
        written++;
    }
    if (written)
        fprintf(out, " %" PRId64 "\n", timestamp_ns);
    return ferror(out) ? -1 : written > 0;
}

static struct mm_lp_field metric_field(const struct mm_metric *m)
{
    struct mm_lp_field f = { .key = m->name, .type = m->type };
    if (m->type == MM_INT)
        f.i = m->value.i;
    else if (m->type == MM_DOUBLE)
        f.d = m->value.d;
    else
        f.s = m->value.s;
    return f;
}

/* ---- grouping metrics into lines in O(n): a hash of series ---- */

/* Labels come from the page (a Prometheus source): the seed is per call. */
static uint64_t series_hash(const uint64_t seed[2], const struct mm_metric *m)
{
    const char *meas = m->family->measurement;
    uint64_t h = mm_hash_bytes(seed[0], meas, strlen(meas) + 1);
    for (int i = 0; i < m->n_labels; i++) {
        h = mm_hash_bytes(h, m->labels[i].key, strlen(m->labels[i].key) + 1);
        h = mm_hash_bytes(h, m->labels[i].value, strlen(m->labels[i].value) + 1);
    }
    return mm_hash_mix(h ^ seed[1]);
}

/* Same line when measurement and labels (kept sorted) are equal. */
static bool same_series(const struct mm_metric *a, const struct mm_metric *b)
{
    if (a->n_labels != b->n_labels || strcmp(a->family->measurement, b->family->measurement) != 0)
        return false;
    for (int i = 0; i < a->n_labels; i++)
        if (strcmp(a->labels[i].key, b->labels[i].key) != 0 || strcmp(a->labels[i].value, b->labels[i].value) != 0)
            return false;
    return true;
}

struct grouping {
    uint32_t *slots;     /* series table: head metric + 1, 0 = free */
    uint32_t *fields;    /* (series, family) table: metric + 1, 0 = free */
    uint32_t *series_of; /* per metric: its series */
    uint32_t *start;     /* per series: first position in order[] (n_series + 1) */
    uint32_t *order;     /* metrics sorted by series, stable */
    uint32_t *heads;     /* per series: its first metric */
    size_t mask, n_series;
    uint64_t seed[2];
};

static int group(const struct mm_snapshot *snap, struct grouping *g)
{
    size_t n = snap->count, n_slots = mm_pow2_at_least(2 * n, 16);
    uint32_t *mem = calloc(2 * n_slots + 4 * n + 1, sizeof(*mem));
    if (!mem)
        return -1;
    g->slots = mem;
    g->fields = mem + n_slots;
    g->series_of = g->fields + n_slots;
    g->heads = g->series_of + n;
    g->order = g->heads + n;
    g->start = g->order + n;
    g->mask = n_slots - 1;
    g->n_series = 0;
    mm_hash_seed(g->seed);
    for (size_t i = 0; i < n; i++) {
        const struct mm_metric *m = &snap->items[i];
        for (size_t k = series_hash(g->seed, m) & g->mask;; k = (k + 1) & g->mask) {
            if (!g->slots[k]) {
                g->slots[k] = (uint32_t)i + 1;
                g->heads[g->n_series] = (uint32_t)i;
                g->series_of[i] = (uint32_t)g->n_series++;
                break;
            }
            uint32_t head = g->slots[k] - 1;
            if (same_series(&snap->items[head], m)) {
                g->series_of[i] = g->series_of[head];
                break;
            }
        }
    }
    /* counting sort by series, stable: fields keep the snapshot's order */
    for (size_t i = 0; i < n; i++)
        g->start[g->series_of[i] + 1]++;
    for (size_t s = 0; s < g->n_series; s++)
        g->start[s + 1] += g->start[s];
    for (size_t i = 0; i < n; i++)
        g->order[g->start[g->series_of[i]]++] = (uint32_t)i;
    for (size_t s = g->n_series; s > 0; s--)
        g->start[s] = g->start[s - 1];
    g->start[0] = 0;
    return 0;
}

/* Whether metric i is the first of its family in its series (a page or a
 * source may repeat a key; one line must not carry a field twice). */
static bool first_of_family(const struct mm_snapshot *snap, struct grouping *g, uint32_t i)
{
    const struct mm_metric *m = &snap->items[i];
    uint64_t h = mm_hash_mix((uint64_t)(uintptr_t)m->family ^ g->seed[1] ^ ((uint64_t)g->series_of[i] << 40));
    for (size_t k = h & g->mask;; k = (k + 1) & g->mask) {
        if (!g->fields[k]) {
            g->fields[k] = i + 1;
            return true;
        }
        uint32_t j = g->fields[k] - 1;
        if (snap->items[j].family == m->family && g->series_of[j] == g->series_of[i])
            return false;
    }
}

/* The tags of series s: `instance`, then its labels. */
static size_t series_tags(const struct mm_metric *head, const char *instance, struct mm_lp_tag *tags)
{
    size_t n_tags = 0;
    if (instance && *instance)
        tags[n_tags++] = (struct mm_lp_tag){ "instance", instance };
    /* a label `instance` (a Prometheus page may bring one) must not
     * replace ours: renamed as Prometheus does */
    for (int l = 0; l < head->n_labels; l++)
        tags[n_tags++] = (struct mm_lp_tag){
            strcmp(head->labels[l].key, "instance") == 0 ? "exported_instance" : head->labels[l].key,
            head->labels[l].value };
    return n_tags;
}

/* ---- series that distinct label sets write alike ('/' and '\\' both written '/', two control
 * characters both a space, an empty value left out): each later one gets the tag
 * MM_LP_COLLISION_TAG=2, 3 ... so that no two label sets share a line series. ---- */

/* variant[s]: 0, or the series' number among those written alike (2, 3 ...). -1: no memory. */
static int find_collisions(const struct mm_snapshot *snap, const struct grouping *g, const char *instance,
                           uint32_t *variant, size_t *n_collided, char *note, size_t note_len)
{
    char *text = NULL;
    size_t text_len = 0, n_slots = mm_pow2_at_least(2 * g->n_series, 16);
    size_t *off = malloc((g->n_series + 1) * sizeof(*off));
    uint32_t *slots = calloc(n_slots, sizeof(*slots)), *count = calloc(g->n_series, sizeof(*count));
    FILE *mem = off && slots && count ? open_memstream(&text, &text_len) : NULL;
    int rc = mem ? 0 : -1;
    for (size_t s = 0; s < g->n_series && rc == 0; s++) {
        struct mm_lp_tag tags[MM_LABEL_MAX + 1];
        const struct mm_metric *head = &snap->items[g->heads[s]];
        off[s] = (size_t)ftell(mem);
        rc = put_series(mem, head->family->measurement, tags, series_tags(head, instance, tags));
    }
    if (mem) {
        off[g->n_series] = (size_t)ftell(mem);
        if (fclose(mem) != 0)
            rc = -1;
    }
    for (size_t s = 0; s < g->n_series && rc == 0; s++) {
        const char *t = text + off[s];
        size_t len = off[s + 1] - off[s];
        uint64_t h = mm_hash_mix(mm_hash_bytes(g->seed[0], t, len) ^ g->seed[1]);
        for (size_t k = h & (n_slots - 1);; k = (k + 1) & (n_slots - 1)) {
            if (!slots[k]) {
                slots[k] = (uint32_t)s + 1;
                break;
            }
            size_t o = slots[k] - 1;
            if (off[o + 1] - off[o] == len && memcmp(text + off[o], t, len) == 0) {
                variant[s] = ++count[o] + 1;
                if ((*n_collided)++ == 0 && note)
                    snprintf(note, note_len, "two label sets of measurement %s are written as the same "
                             "series (%.*s): the second gets the tag %s=%u",
                             snap->items[g->heads[s]].family->measurement, (int)(len > 0 ? len - 1 : 0),
                             t, MM_LP_COLLISION_TAG, variant[s]);
                break;
            }
        }
    }
    free(text);
    free(off);
    free(slots);
    free(count);
    return rc;
}

int mm_lp_write_snapshot(FILE *out, const struct mm_snapshot *snap, const char *instance,
                         int64_t timestamp_ns)
{
    return mm_lp_write_snapshot_noting(out, snap, instance, timestamp_ns, NULL, 0);
}

int mm_lp_write_snapshot_noting(FILE *out, const struct mm_snapshot *snap, const char *instance,
                                int64_t timestamp_ns, char *note, size_t note_len)
{
    if (note && note_len)
        note[0] = '\0';
    if (snap->count == 0)
        return 0;
    struct grouping g;
    if (group(snap, &g) != 0)
        return -1;
    size_t n_collided = 0;
    uint32_t *variant = calloc(g.n_series ? g.n_series : 1, sizeof(*variant));
    if (!variant || find_collisions(snap, &g, instance, variant, &n_collided, note, note_len) != 0) {
        free(variant);
        free(g.slots);
        return -1;
    }
    int lines = 0, rc = 0;
    for (size_t s = 0; s < g.n_series && rc == 0; s++) {
        const struct mm_metric *head = &snap->items[g.heads[s]];
        struct mm_lp_tag tags[MM_LABEL_MAX + 2];
        size_t n_tags = series_tags(head, instance, tags);
        char number[16];
        if (variant[s]) {
            snprintf(number, sizeof(number), "%u", variant[s]);
            tags[n_tags++] = (struct mm_lp_tag){ MM_LP_COLLISION_TAG, number };
        }
        int fields = 0;
        for (uint32_t k = g.start[s]; k < g.start[s + 1]; k++) {
            uint32_t i = g.order[k];
            struct mm_lp_field f = metric_field(&snap->items[i]);
            if (!field_writable(&f) || !first_of_family(snap, &g, i))
                continue;
            if (fields == 0) {
                if (put_series(out, head->family->measurement, tags, n_tags) != 0) {
                    rc = -1;
                    break;
                }
            } else {
                fputc(',', out);
            }
            put_field(out, &f);
            fields++;
        }
        if (fields && rc == 0) {
            fprintf(out, " %" PRId64 "\n", timestamp_ns);
            lines++;
        }
    }
    free(g.slots);
    free(variant);
    return rc != 0 || ferror(out) ? -1 : lines;
}
