/* stats_parser.c — parser of MTProxy's "key<TAB>value<LF>" /stats format.
 *
 * Known keys are typed by stats_fields.c; multi-value keys split into one
 * metric per value; unknown keys are kept (numbers as gauges, anything else
 * as text) so a newer MTProxy loses nothing. Section markers
 * (">>>>>>name>>>>>>  start") carry no value and are skipped. */
#include "sources/stats_parser.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/number.h"
#include "sources/parse_note.h"
#include "sources/stats_fields.h"

#define FIELD_SLOTS 512 /* power of two, over 4 x the field table */

struct parse_ctx {
    struct mm_snapshot *snap;
    struct mm_parse_result *result;
    unsigned char field_slot[FIELD_SLOTS]; /* field table index + 1 by key hash; 0 = empty */
    unsigned char seen[256]; /* known keys already parsed, by table index */
    unsigned unknown_values; /* metrics made of unknown keys, capped */
    unsigned line_no;
    mm_stats_key_hook hook;
    void *hook_ctx;
};

/* Known keys by hash: one string compare per line where a binary search
 * made seven (the lookup was half the time of a page of junk keys). Built
 * per parse from the field table, so no state outlives it. */
static void index_fields(struct parse_ctx *ctx)
{
    size_t n = mm_stats_field_count();
    for (size_t i = 0; i < n && i < 255; i++) {
        const char *key = mm_stats_field_at(i)->key;
        size_t h = (size_t)mm_hash_bytes(0, key, strlen(key)) & (FIELD_SLOTS - 1);
        while (ctx->field_slot[h])
            h = (h + 1) & (FIELD_SLOTS - 1);
        ctx->field_slot[h] = (unsigned char)(i + 1);
    }
}

static const struct mm_stats_field *find_field(const struct parse_ctx *ctx, const char *key, size_t len)
{
    size_t h = (size_t)mm_hash_bytes(0, key, len) & (FIELD_SLOTS - 1);
    for (; ctx->field_slot[h]; h = (h + 1) & (FIELD_SLOTS - 1)) {
        const struct mm_stats_field *f = mm_stats_field_at(ctx->field_slot[h] - 1u);
        if (strcmp(f->key, key) == 0)
            return f;
    }
    return NULL;
}

static void skip_line(struct parse_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void skip_line(struct parse_ctx *ctx, const char *fmt, ...)
{
    ctx->result->skipped++;
    va_list ap;
    va_start(ap, fmt);
    mm_parse_note(ctx->result->first_error, sizeof(ctx->result->first_error), ctx->line_no, fmt, ap);
    va_end(ap);
}

/* [A-Za-z0-9_-]{1,MAX}. A '-' gets only as far as the format's hook:
 * teleproxy's secret labels may hold one (secret_<label>_<what>), no
 * official key does. */
static bool valid_key(const char *key, size_t len, bool *dash)
{
    *dash = false;
    if (len == 0 || len > MM_STATS_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (c == '-')
            *dash = true;
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static bool is_section_marker(const char *key, size_t len)
{
    return len > 12 && (strncmp(key, ">>>>>>", 6) == 0 || strncmp(key, "<<<<<<", 6) == 0);
}

/* Strict integer: optional '-', digits only, within int64. */
static bool parse_int(const char *s, int64_t *out)
{
    return mm_parse_i64(s, INT64_MIN, INT64_MAX, out, NULL, 0) == 0;
}

/* Strict decimal as MTProxy prints it ("99.850", "0.000028"): no exponent,
 * hex, inf or nan. */
static bool parse_double(const char *s, double *out)
{
    return mm_parse_decimal(s, -HUGE_VAL, HUGE_VAL, out, NULL, 0) == 0;
}

static bool parse_typed(const char *s, enum mm_value_type type, int64_t *i, double *d)
{
    return type == MM_INT ? parse_int(s, i) : parse_double(s, d);
}

/* Splits a value on runs of spaces into at most max tokens (in place). */
static int split_values(char *value, char **tokens, int max)
{
    int n = 0;
    char *p = value;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (n == max)
            return max + 1; /* too many */
        tokens[n++] = p;
        while (*p && *p != ' ')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static bool add_number(struct parse_ctx *ctx, const char *name, enum mm_kind kind,
                       enum mm_value_type type, int64_t i, double d)
{
    struct mm_metric *m = type == MM_INT
                              ? mm_snapshot_add_int(ctx->snap, MM_ORIGIN_PAGE, kind, name, i)
                              : mm_snapshot_add_double(ctx->snap, MM_ORIGIN_PAGE, kind, name, d);
    if (!m) {
        skip_line(ctx, "out of memory");
        return false;
    }
    ctx->result->metrics++;
    return true;
}

static bool valid_text(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > MM_STATS_TEXT_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* The page's "PID" ("[ip:port:pid:start]") beside its integer "pid": field
 * keys differing only in case on one line-protocol point confuse every
 * query, so it is reported as process_id (MTProxy's struct process_id). */
const char *mm_stats_metric_name(const char *key)
{
    return strcmp(key, "PID") == 0 ? "process_id" : key;
}

static void parse_known(struct parse_ctx *ctx, const struct mm_stats_field *f, char *value)
{
    if (f->type == MM_STRING) {
        if (value[0] == '\0') {
            /* printed empty (teleproxy's config_md5 without a config file):
             * nothing to report, nothing wrong */
            ctx->result->keys++;
            return;
        }
        if (!valid_text(value)) {
            skip_line(ctx, "%s: text value empty, too long or with control characters", f->key);
            return;
        }
        if (!mm_snapshot_add_text(ctx->snap, MM_ORIGIN_PAGE, mm_stats_metric_name(f->key), value)) {
            skip_line(ctx, "out of memory");
            return;
        }
        ctx->result->metrics++;
        ctx->result->keys++;
        return;
    }

    int width = mm_stats_shape_width(f->shape);
    char *tokens[MM_STATS_VECTOR_MAX];
    int n = split_values(value, tokens, width);
    if (n != width) {
        skip_line(ctx, "%s: expected %d value(s), found %s%d", f->key, width,
                  n > width ? "more than " : "", n > width ? width : n);
        return;
    }
    int64_t ints[MM_STATS_VECTOR_MAX];
    double doubles[MM_STATS_VECTOR_MAX];
    for (int k = 0; k < n; k++) {
        if (!parse_typed(tokens[k], f->type, &ints[k], &doubles[k])) {
            skip_line(ctx, "%s: '%.32s' is not %s", f->key, tokens[k],
                      f->type == MM_INT ? "an integer within int64" : "a decimal number");
            return;
        }
    }
    if (f->shape == MM_SHAPE_SCALAR) {
        if (add_number(ctx, f->key, f->kind, f->type, ints[0], doubles[0]))
            ctx->result->keys++;
        return;
    }
    for (int k = 0; k < n; k++) {
        char name[MM_NAME_MAX];
        const char *suffix = mm_stats_shape_suffix(f->shape, k);
        if (suffix) {
            snprintf(name, sizeof(name), "%s_%s", f->key, suffix);
        } else {
            /* Job classes without threads are always 0 in the official
             * build; report one only when it says something. */
            if ((f->type == MM_INT && ints[k] == 0) || (f->type == MM_DOUBLE && doubles[k] == 0))
                continue;
            snprintf(name, sizeof(name), "%s_class%d", f->key, k);
        }
        if (!add_number(ctx, name, f->kind, f->type, ints[k], doubles[k]))
            return;
    }
    ctx->result->keys++;
}

/* A key this version does not know: numbers become gauges (several
 * space-separated numbers become key_0, key_1 ...), anything else text.
 * Unknown numbers are always floats: a key printed `1` then `1.5` must not
 * change its field type in InfluxDB. */
static void parse_unknown(struct parse_ctx *ctx, const char *key, char *value)
{
    /* The cap first: past it a line costs O(1), so a hostile body of a
     * million distinct keys is parsed in time linear in its size. It counts
     * values, not keys, so 16-value keys cannot fill the snapshot's
     * families either. */
    if (ctx->unknown_values >= MM_STATS_UNKNOWN_MAX) {
        skip_line(ctx, "%s: more than %d values of unknown keys", key, MM_STATS_UNKNOWN_MAX);
        return;
    }
    if (mm_snapshot_find(ctx->snap, MM_ORIGIN_PAGE, key)) {
        skip_line(ctx, "%s: duplicate key", key);
        return;
    }

    double d = 0;
    if (parse_double(value, &d)) {
        ctx->unknown_values++;
        if (add_number(ctx, key, MM_GAUGE, MM_DOUBLE, 0, d))
            ctx->result->keys++;
        return;
    }

    char copy[MM_STATS_LINE_MAX];
    snprintf(copy, sizeof(copy), "%s", value);
    char *tokens[MM_STATS_VECTOR_MAX];
    int n = split_values(copy, tokens, MM_STATS_VECTOR_MAX);
    bool numeric = n > 1 && n <= MM_STATS_VECTOR_MAX;
    for (int k = 0; numeric && k < n; k++)
        numeric = parse_double(tokens[k], &d);
    if (numeric && ctx->unknown_values + (unsigned)n > MM_STATS_UNKNOWN_MAX) {
        skip_line(ctx, "%s: more than %d values of unknown keys", key, MM_STATS_UNKNOWN_MAX);
        return;
    }
    if (numeric) {
        ctx->unknown_values += (unsigned)n;
        for (int k = 0; k < n; k++) {
            char name[MM_NAME_MAX];
            snprintf(name, sizeof(name), "%s_%d", key, k);
            parse_double(tokens[k], &d); /* validated above */
            if (!add_number(ctx, name, MM_GAUGE, MM_DOUBLE, 0, d))
                return;
        }
        ctx->result->keys++;
        return;
    }

    if (!valid_text(value)) {
        skip_line(ctx, "%s: value is neither a number nor printable text", key);
        return;
    }
    ctx->unknown_values++;
    if (!mm_snapshot_add_text(ctx->snap, MM_ORIGIN_PAGE, key, value)) {
        skip_line(ctx, "out of memory");
        return;
    }
    ctx->result->metrics++;
    ctx->result->keys++;
}

static void parse_line(struct parse_ctx *ctx, const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        len--; /* tolerate CRLF */
    if (len == 0)
        return;
    if (len > MM_STATS_LINE_MAX) {
        skip_line(ctx, "line of %zu bytes is too long", len);
        return;
    }
    const char *tab = memchr(line, '\t', len);
    if (!tab) {
        skip_line(ctx, "no TAB between key and value");
        return;
    }
    size_t key_len = (size_t)(tab - line);
    if (is_section_marker(line, key_len))
        return;
    bool dash;
    if (!valid_key(line, key_len, &dash) || (dash && !ctx->hook)) {
        skip_line(ctx, "invalid key");
        return;
    }
    if (memchr(tab + 1, '\0', len - key_len - 1)) {
        skip_line(ctx, "NUL byte in value");
        return;
    }

    char key[MM_STATS_KEY_MAX + 1];
    char value[MM_STATS_LINE_MAX + 1];
    memcpy(key, line, key_len);
    key[key_len] = '\0';
    memcpy(value, tab + 1, len - key_len - 1);
    value[len - key_len - 1] = '\0';

    const struct mm_stats_field *f = find_field(ctx, key, key_len);
    if (!f && ctx->hook) {
        int taken = ctx->hook(ctx->hook_ctx, key, value);
        if (taken > 0) {
            ctx->result->keys++;
            ctx->result->metrics += taken == 1;
            return;
        }
        if (taken < 0) {
            skip_line(ctx, "%s: malformed or duplicate", key);
            return;
        }
    }
    if (!f && dash) {
        skip_line(ctx, "invalid key");
        return;
    }
    if (!f) {
        parse_unknown(ctx, key, value);
        return;
    }
    size_t index = mm_stats_field_index(f);
    if (index >= sizeof(ctx->seen) || ctx->seen[index]) {
        skip_line(ctx, "%s: duplicate key", key);
        return;
    }
    ctx->seen[index] = 1;
    parse_known(ctx, f, value);
}

static void copy_text(char *dst, size_t len, const struct mm_metric *m)
{
    if (m && m->type == MM_STRING)
        snprintf(dst, len, "%s", m->value.s);
}

void mm_stats_facts(const struct mm_snapshot *snap, struct mm_source_facts *facts)
{
    const struct mm_metric *m = mm_snapshot_find(snap, MM_ORIGIN_PAGE, "pid");
    if (m && m->type == MM_INT)
        facts->pid = m->value.i;
    m = mm_snapshot_find(snap, MM_ORIGIN_PAGE, "start_time");
    if (m && m->type == MM_INT)
        facts->start_time = m->value.i;
    copy_text(facts->config_id, sizeof(facts->config_id), mm_snapshot_find(snap, MM_ORIGIN_PAGE, "config_md5"));
    copy_text(facts->version, sizeof(facts->version), mm_snapshot_find(snap, MM_ORIGIN_PAGE, "version"));
}

int mm_stats_parse(const char *body, size_t len, struct mm_snapshot *snap,
                   struct mm_parse_result *result)
{
    return mm_stats_parse_hooked(body, len, snap, result, NULL, NULL);
}

int mm_stats_parse_hooked(const char *body, size_t len, struct mm_snapshot *snap,
                          struct mm_parse_result *result, mm_stats_key_hook hook, void *hook_ctx)
{
    struct parse_ctx ctx = { .snap = snap, .result = result, .hook = hook, .hook_ctx = hook_ctx };
    memset(result, 0, sizeof(*result));
    index_fields(&ctx);

    const char *p = body, *end = body + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        ctx.line_no++;
        result->lines++;
        if (!nl) {
            /* MTProxy ends every line with LF: a last line without one was
             * cut off, and its number may be cut too. */
            skip_line(&ctx, "truncated (no line end)");
            break;
        }
        parse_line(&ctx, p, (size_t)(nl - p));
        p = nl + 1;
    }

    if (result->keys == 0) {
        if (len == 0)
            snprintf(result->first_error, sizeof(result->first_error), "empty body");
        else if (!result->first_error[0])
            snprintf(result->first_error, sizeof(result->first_error), "no stats lines");
        return -1;
    }
    return 0;
}
