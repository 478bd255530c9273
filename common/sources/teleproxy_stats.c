/* teleproxy_stats.c — teleproxy's /stats (see teleproxy_stats.h): the
 * official parser with a hook for the per-secret and DC probe keys. */
#include "sources/teleproxy_stats.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/number.h"
#include "sources/implementations.h"
#include "sources/secrets.h"
#include "sources/stats_parser.h"
#include "sources/summary.h"

/* What teleproxy prints per secret (secret_<label>_<suffix>; a label is
 * [A-Za-z0-9_-]), longest suffixes first so that "_rejected_ips" wins over
 * a label ending in "_rejected". limit, quota, max_ips, expires and
 * rate_limit appear only when set, drain_age_seconds only while draining. */
static const struct {
    const char *suffix;
    enum mm_kind kind;
} secret_keys[] = {
    { "connections_created", MM_COUNTER }, { "drain_age_seconds", MM_GAUGE }, { "rejected_draining", MM_COUNTER },
    { "rejected_expired", MM_COUNTER },    { "rejected_quota", MM_COUNTER },   { "rejected_ips", MM_COUNTER },
    { "rate_limited", MM_COUNTER },        { "drain_forced", MM_COUNTER },     { "bytes_total", MM_COUNTER },
    { "connections", MM_GAUGE },           { "rate_limit", MM_GAUGE },         { "unique_ips", MM_GAUGE },
    { "draining", MM_GAUGE },              { "rejected", MM_COUNTER },         { "max_ips", MM_GAUGE },
    { "expires", MM_GAUGE },               { "quota", MM_GAUGE },              { "limit", MM_GAUGE },
};

/* dc<N>_probe_<suffix> */
static const struct {
    const char *suffix;
    enum mm_kind kind;
    enum mm_value_type type;
} probe_keys[] = {
    { "latency_last", MM_GAUGE, MM_DOUBLE },
    { "latency_avg", MM_GAUGE, MM_DOUBLE },
    { "count", MM_COUNTER, MM_INT },
    { "failures", MM_COUNTER, MM_INT },
};

struct tp_state {
    struct mm_secret_set secrets;
    struct mm_other_sums other;
    struct mm_snapshot *snap;
    unsigned ja4; /* ja4_seen lines this gather */
};

static int sniff(const char *body, size_t len, const char *content_type)
{
    (void)content_type;
    size_t k = 0;
    while (k < len && k < 128 && body[k] != '\t' && body[k] != '\n')
        k++;
    if (k == 0 || k >= len || body[k] != '\t')
        return 0; /* not key<TAB>value */
    static const char *const own[] = { "\nversion\tteleproxy", "\ndirect_mode\t", "\ndc_probe_interval\t",
                                       "\ndrs_delays_enabled\t" };
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (memmem(body, len, own[i], strlen(own[i])))
            return 97; /* above the official format's 90: teleproxy prints its keys too */
    return 0;
}

static int init(void **state, const struct mm_source_config *cfg, char *err, size_t err_len)
{
    struct tp_state *st = calloc(1, sizeof(*st));
    if (!st || mm_secret_set_init(&st->secrets, cfg ? cfg->max_secrets : 0) != 0) {
        free(st);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    mm_other_sums_init(&st->other);
    *state = st;
    return 0;
}

static void free_state(void *state)
{
    struct tp_state *st = state;
    if (!st)
        return;
    mm_secret_set_free(&st->secrets);
    mm_other_sums_free(&st->other);
    free(st);
}

static bool parse_int(const char *s, int64_t *out)
{
    char err[64];
    return mm_parse_i64(s, INT64_MIN, INT64_MAX, out, err, sizeof(err)) == 0;
}

static bool parse_decimal(const char *s, double *out)
{
    char err[64];
    return mm_parse_decimal(s, -1e300, 1e300, out, err, sizeof(err)) == 0;
}

static bool ends_with(const char *s, size_t len, const char *suffix, size_t *stem)
{
    size_t sl = strlen(suffix);
    if (len <= sl + 1 || s[len - sl - 1] != '_' || strcmp(s + len - sl, suffix) != 0)
        return false;
    *stem = len - sl - 1;
    return true;
}

static int secret_key(struct tp_state *st, const char *key, const char *value)
{
    size_t len = strlen(key), stem = 0, k;
    for (k = 0; k < sizeof(secret_keys) / sizeof(secret_keys[0]); k++)
        if (ends_with(key, len, secret_keys[k].suffix, &stem) && stem > 7)
            break;
    if (k == sizeof(secret_keys) / sizeof(secret_keys[0]))
        return 0; /* some other secret_ key: the parser's */
    int64_t v;
    if (!parse_int(value, &v))
        return -1;
    char label[MM_SECRET_NAME_MAX], name[MM_NAME_MAX];
    snprintf(label, sizeof(label), "%.*s", (int)(stem - 7), key + 7);
    snprintf(name, sizeof(name), "secret_%s", secret_keys[k].suffix);
    const char *as = mm_secret_set_name(&st->secrets, label);
    if (strcmp(as, MM_SECRET_OTHER) == 0)
        return mm_other_sums_add(&st->other, name, (double)v, k) == 0 ? 1 : -1;
    if (mm_snapshot_find_labeled(st->snap, MM_ORIGIN_PAGE, name, "secret", as))
        return -1; /* the same key twice */
    return mm_snapshot_add_int(st->snap, MM_ORIGIN_PAGE, secret_keys[k].kind, name, v, "secret", as) ? 1 : -1;
}

static int probe_key(struct tp_state *st, const char *key, const char *value)
{
    size_t d = 2;
    while (key[d] >= '0' && key[d] <= '9')
        d++;
    if (d == 2 || d > 4 || strncmp(key + d, "_probe_", 7) != 0) /* dc1 .. dc99 */
        return 0;
    size_t k;
    for (k = 0; k < sizeof(probe_keys) / sizeof(probe_keys[0]); k++)
        if (strcmp(key + d + 7, probe_keys[k].suffix) == 0)
            break;
    if (k == sizeof(probe_keys) / sizeof(probe_keys[0]))
        return 0;
    char dc[8], name[MM_NAME_MAX];
    snprintf(dc, sizeof(dc), "%.*s", (int)(d - 2), key + 2);
    snprintf(name, sizeof(name), "dc_probe_%s", probe_keys[k].suffix);
    if (mm_snapshot_find_labeled(st->snap, MM_ORIGIN_PAGE, name, "dc", dc))
        return -1;
    int64_t i;
    double x;
    if (probe_keys[k].type == MM_INT)
        return parse_int(value, &i) &&
                       mm_snapshot_add_int(st->snap, MM_ORIGIN_PAGE, probe_keys[k].kind, name, i, "dc", dc)
                   ? 1
                   : -1;
    return parse_decimal(value, &x) &&
                   mm_snapshot_add_double(st->snap, MM_ORIGIN_PAGE, probe_keys[k].kind, name, x, "dc", dc)
               ? 1
               : -1;
}

/* ja4_seen<TAB><hash><TAB><count>: teleproxy's top 32 TLS ClientHello
 * fingerprints, one line each (the key repeats). */
static int ja4_key(struct tp_state *st, const char *value)
{
    const char *tab = strchr(value, '\t');
    int64_t n;
    if (!tab || tab == value || (size_t)(tab - value) >= 64 || !parse_int(tab + 1, &n))
        return -1;
    char hash[64];
    snprintf(hash, sizeof(hash), "%.*s", (int)(tab - value), value);
    for (const char *p = hash; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return -1;
    if (mm_snapshot_find_labeled(st->snap, MM_ORIGIN_PAGE, "ja4_seen", "hash", hash) || ++st->ja4 > 64)
        return -1;
    return mm_snapshot_add_int(st->snap, MM_ORIGIN_PAGE, MM_COUNTER, "ja4_seen", n, "hash", hash) ? 1 : -1;
}

static int key_hook(void *ctx, const char *key, const char *value)
{
    struct tp_state *st = ctx;
    if (strcmp(key, "ja4_seen") == 0)
        return ja4_key(st, value);
    if (strncmp(key, "secret_", 7) == 0)
        return secret_key(st, key, value);
    if (strncmp(key, "dc", 2) == 0 && key[2] >= '0' && key[2] <= '9')
        return probe_key(st, key, value);
    /* teleproxy prints accept_ip_acl_rejected twice (in the connections
     * section and at the end): the same key with the same value again is
     * no news; with another value the parser reports the duplicate */
    const struct mm_metric *m = mm_snapshot_find(st->snap, MM_ORIGIN_PAGE, key);
    double v;
    if (m && m->type != MM_STRING && parse_decimal(value, &v) && mm_metric_as_double(m) == v)
        return 2;
    return 0;
}

static int parse(void *state, const char *body, size_t len, struct mm_snapshot *snap,
                 struct mm_source_facts *facts, struct mm_parse_result *res)
{
    struct tp_state *st = state;
    st->snap = snap;
    st->ja4 = 0;
    mm_snapshot_set_page(snap, &mm_impl_teleproxy_stats.page);
    mm_secret_set_begin(&st->secrets);
    mm_other_sums_reset(&st->other);
    int rc = mm_stats_parse_hooked(body, len, snap, res, key_hook, st);
    mm_secret_set_end(&st->secrets);
    if (rc != 0)
        return -1;
    for (size_t e = 0; e < st->other.n; e++) {
        const struct mm_other_entry *o = &st->other.items[e];
        if (mm_snapshot_add_int(snap, MM_ORIGIN_PAGE, secret_keys[o->first].kind, o->key, (int64_t)o->sum, "secret",
                                MM_SECRET_OTHER))
            res->metrics++;
    }

    struct mm_summary_result sres;
    mm_summary_fill(snap, mm_impl_teleproxy_stats.rules, mm_impl_teleproxy_stats.n_rules, "secret", &sres);
    res->metrics += sres.fields;

    mm_stats_facts(snap, facts);
    snprintf(facts->implementation, sizeof(facts->implementation), "%s", mm_impl_teleproxy_stats.name);
    return 0;
}

const struct mm_source_ops mm_source_teleproxy_stats = {
    .name = "teleproxy-stats",
    .what = "a teleproxy stats page",
    .page = { "teleproxy_stats", "teleproxy_stats" },
    .sniff = sniff,
    .init = init,
    .parse = parse,
    .free = free_state,
};
