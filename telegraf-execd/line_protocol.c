/* line_protocol.c — the line-protocol writer (see line_protocol.h). */
#include "line_protocol.h"

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
    case MM_GROUP_STATS:
    case MM_GROUP_HEALTH:
    default:
        return "mtproxy";
    }
}

/* Backslash-escapes the characters in `special`; control characters (a raw
 * newline would split the line) become spaces. */
static void put_escaped(FILE *out, const char *s, const char *special)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) {
            fputc(' ', out);
            continue;
        }
        if (strchr(special, c))
            fputc('\\', out);
        fputc(c, out);
    }
}

#define ESC_MEASUREMENT ", "
#define ESC_KEY ",= "
#define ESC_STRING "\"\\"

static bool field_writable(const struct mm_metric *m)
{
    return m->type != MM_DOUBLE || isfinite(m->value.d);
}

static void put_field_value(FILE *out, const struct mm_metric *m)
{
    switch (m->type) {
    case MM_INT:
        fprintf(out, "%" PRId64 "i", m->value.i);
        break;
    case MM_DOUBLE: {
        /* The shortest form that reads back as the same double. */
        char buf[40];
        snprintf(buf, sizeof(buf), "%.15g", m->value.d);
        if (strtod(buf, NULL) != m->value.d)
            snprintf(buf, sizeof(buf), "%.17g", m->value.d);
        fputs(buf, out);
        break;
    }
    case MM_STRING:
        fputc('"', out);
        put_escaped(out, m->value.s, ESC_STRING);
        fputc('"', out);
        break;
    }
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

static int compare_labels(const void *a, const void *b)
{
    return strcmp(((const struct mm_label *)a)->key, ((const struct mm_label *)b)->key);
}

static void put_tags(FILE *out, const struct mm_metric *m, const char *instance)
{
    struct mm_label tags[MM_LABEL_MAX + 1];
    int n = 0;
    if (instance && *instance) {
        tags[n].key = "instance";
        snprintf(tags[n].value, sizeof(tags[n].value), "%s", instance);
        n++;
    }
    for (int i = 0; i < m->n_labels; i++)
        tags[n++] = m->labels[i];
    qsort(tags, (size_t)n, sizeof(tags[0]), compare_labels);
    for (int i = 0; i < n; i++) {
        if (!tags[i].value[0])
            continue; /* InfluxDB rejects empty tag values */
        fputc(',', out);
        put_escaped(out, tags[i].key, ESC_KEY);
        fputc('=', out);
        put_escaped(out, tags[i].value, ESC_KEY);
    }
}

int mm_lp_write_snapshot(FILE *out, const struct mm_snapshot *snap, const char *instance,
                         int64_t timestamp_ns)
{
    /* done[i]: metric i already written as part of an earlier line. */
    unsigned char stack_done[512];
    unsigned char *done = snap->count <= sizeof(stack_done) ? stack_done : calloc(snap->count, 1);
    if (!done)
        return -1;
    memset(done, 0, snap->count <= sizeof(stack_done) ? snap->count : 0);

    int lines = 0;
    for (size_t i = 0; i < snap->count; i++) {
        const struct mm_metric *head = &snap->items[i];
        if (done[i])
            continue;
        int fields = 0;
        for (size_t j = i; j < snap->count; j++) {
            const struct mm_metric *m = &snap->items[j];
            if (done[j] || !same_series(head, m))
                continue;
            done[j] = 1;
            if (!field_writable(m))
                continue;
            if (fields == 0) {
                put_escaped(out, mm_lp_measurement(head->group), ESC_MEASUREMENT);
                put_tags(out, head, instance);
                fputc(' ', out);
            } else {
                fputc(',', out);
            }
            put_escaped(out, m->name, ESC_KEY);
            fputc('=', out);
            put_field_value(out, m);
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
}
