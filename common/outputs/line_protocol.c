/* line_protocol.c — the line-protocol writer (see line_protocol.h for the
 * rules it applies to names and values). */
#include "outputs/line_protocol.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char *mm_lp_measurement(enum mm_group group)
{
    switch (group) {
    case MM_GROUP_PROCESS:
        return "mtproxy_process";
    case MM_GROUP_CONNECTIONS:
        return "mtproxy_connections";
    case MM_GROUP_COUNTRY:
        return "mtproxy_country";
    case MM_GROUP_CLIENTS:
        return "mtproxy_clients";
    case MM_GROUP_STATS:
    case MM_GROUP_HEALTH:
    default:
        return "mtproxy";
    }
}

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
    struct mm_lp_tag stack[8];
    struct mm_lp_tag *sorted = n_tags <= 8 ? stack : malloc(n_tags * sizeof(*sorted));
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

/* Same line when measurement and labels are equal. */
static bool same_series(const struct mm_metric *a, const struct mm_metric *b)
{
    if (strcmp(mm_lp_measurement(a->group), mm_lp_measurement(b->group)) != 0)
        return false;
    if (a->n_labels != b->n_labels)
        return false;
    for (int i = 0; i < a->n_labels; i++) {
        const char *v = mm_metric_label(b, a->labels[i].key);
        if (!v || strcmp(v, a->labels[i].value) != 0)
            return false;
    }
    return true;
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

int mm_lp_write_snapshot(FILE *out, const struct mm_snapshot *snap, const char *instance,
                         int64_t timestamp_ns)
{
    /* done[i]: metric i already written as part of an earlier line. */
    unsigned char stack_done[512];
    unsigned char *done = snap->count <= sizeof(stack_done) ? stack_done : calloc(snap->count, 1);
    if (!done)
        return -1;
    if (done == stack_done)
        memset(done, 0, sizeof(stack_done));

    int lines = 0;
    for (size_t i = 0; i < snap->count; i++) {
        const struct mm_metric *head = &snap->items[i];
        if (done[i])
            continue;
        struct mm_lp_tag tags[MM_LABEL_MAX + 1];
        size_t n_tags = 0;
        if (instance && *instance)
            tags[n_tags++] = (struct mm_lp_tag){ "instance", instance };
        for (int l = 0; l < head->n_labels; l++)
            tags[n_tags++] = (struct mm_lp_tag){ head->labels[l].key, head->labels[l].value };
        int fields = 0;
        for (size_t j = i; j < snap->count; j++) {
            const struct mm_metric *m = &snap->items[j];
            if (done[j] || !same_series(head, m))
                continue;
            done[j] = 1;
            struct mm_lp_field f = metric_field(m);
            if (!field_writable(&f))
                continue;
            if (fields == 0) {
                if (put_series(out, mm_lp_measurement(head->group), tags, n_tags) != 0)
                    goto fail;
            } else {
                fputc(',', out);
            }
            put_field(out, &f);
            fields++;
        }
        if (fields) {
            fprintf(out, " %" PRId64 "\n", timestamp_ns);
            lines++;
        }
    }
    if (done != stack_done)
        free(done);
    return ferror(out) ? -1 : lines;
fail:
    if (done != stack_done)
        free(done);
    return -1;
}
