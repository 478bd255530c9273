/* json_output.c — --format json: one JSON document per gather, on one line
 * (JSON Lines), with yajl_gen. Every metric of the snapshot in its order:
 * measurement (as in line protocol), name, kind, type, value, labels.
 * Strings are made valid UTF-8 first (invalid bytes -> U+FFFD, control
 * characters -> space), non-finite floats become null. */
#include "outputs/json_output.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>

#include "outputs/line_protocol.h"

static void put_str(yajl_gen g, const char *s)
{
    size_t cap = strlen(s) * 3 + 1;
    char stack[256];
    char *buf = cap <= sizeof(stack) ? stack : malloc(cap);
    if (!buf) {
        yajl_gen_null(g);
        return;
    }
    mm_text_sanitize(s, buf, cap);
    yajl_gen_string(g, (const unsigned char *)buf, strlen(buf));
    if (buf != stack)
        free(buf);
}

static void put_key_int(yajl_gen g, const char *key, long long v)
{
    put_str(g, key);
    yajl_gen_integer(g, v);
}

static const char *kind_name(enum mm_kind k)
{
    return k == MM_COUNTER ? "counter" : k == MM_GAUGE ? "gauge" : "text";
}

static const char *type_name(enum mm_value_type t)
{
    return t == MM_INT ? "integer" : t == MM_DOUBLE ? "float" : "string";
}

static void put_metric(yajl_gen g, const struct mm_metric *m)
{
    yajl_gen_map_open(g);
    put_str(g, "measurement");
    put_str(g, m->family->measurement);
    put_str(g, "name");
    put_str(g, m->name);
    put_str(g, "kind");
    put_str(g, kind_name(m->kind));
    put_str(g, "type");
    put_str(g, type_name(m->type));
    put_str(g, "value");
    switch (m->type) {
    case MM_INT:
        yajl_gen_integer(g, m->value.i);
        break;
    case MM_DOUBLE:
        if (isfinite(m->value.d))
            yajl_gen_double(g, m->value.d);
        else
            yajl_gen_null(g);
        break;
    case MM_STRING:
        put_str(g, m->value.s ? m->value.s : "");
        break;
    }
    put_str(g, "labels");
    yajl_gen_map_open(g);
    for (int i = 0; i < m->n_labels; i++) {
        put_str(g, m->labels[i].key);
        put_str(g, m->labels[i].value);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
}

int mm_json_write_snapshot(FILE *out, const struct mm_snapshot *snap, const char *instance,
                           int64_t timestamp_ns)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g)
        return -1;
    yajl_gen_map_open(g);
    put_str(g, "instance");
    put_str(g, instance ? instance : "");
    put_key_int(g, "timestamp_ns", (long long)timestamp_ns);
    char when[96];
    time_t secs = (time_t)(timestamp_ns / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(timestamp_ns % 1000000000 / 1000000));
    put_str(g, "time");
    put_str(g, when);
    put_str(g, "metrics");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < snap->count; i++)
        put_metric(g, &snap->items[i]);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    const unsigned char *buf;
    size_t len;
    int rc = -1;
    if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
        fwrite(buf, 1, len, out);
        fputc('\n', out);
        rc = ferror(out) ? -1 : 0;
    }
    yajl_gen_free(g);
    return rc;
}
