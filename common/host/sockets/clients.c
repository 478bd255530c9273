/* clients.c — windows, churn and their state file, per instance (see clients.h).
 *
 * State payload, little-endian: "CLI1", u64 connections opened, u64 closed
 * connections per lifetime bucket (MM_CHURN_BUCKETS), the lifetime sum as
 * an IEEE double's bits, u64 addresses and u64 sockets of the last gather
 * (table sizes for the next run), then the windows (mm_dw_save) to the end. Socket
 * cookies are not kept: after a restart the first gather only learns what
 * is open. */
#include "host/sockets/clients.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/geo/countries.h"
#include "host/sockets/ipcount.h"

#define TAG "CLI1"
#define HEAD_BYTES MM_CLIENTS_HEAD_BYTES

static int64_t system_clock_ms(int monotonic)
{
    struct timespec ts;
    clock_gettime(monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mm_clients_init(struct mm_clients *c)
{
    memset(c, 0, sizeof(*c));
    c->file.lock_fd = -1;
    if (mm_dw_init(&c->dw) < 0)
        return -1;
    if (mm_churn_init(&c->churn) < 0) {
        mm_dw_free(&c->dw);
        return -1;
    }
    return 0;
}

void mm_clients_set_state_file(struct mm_clients *c, const char *path, const char *owner,
                               const struct mm_logger *log)
{
    mm_state_file_close(&c->file);
    mm_state_file_open(&c->file, path, owner, log);
    c->loaded = 0;
    c->have_log = log != NULL;
    if (log)
        c->log = *log;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

size_t mm_clients_save_payload(const struct mm_clients *c, unsigned char *buf)
{
    unsigned char *p = buf;
    memcpy(p, TAG, 4);
    p += 4;
    put64(p, c->churn.opened);
    p += 8;
    for (int b = 0; b < MM_CHURN_BUCKETS; b++, p += 8)
        put64(p, c->churn.closed[b]);
    uint64_t bits;
    memcpy(&bits, &c->churn.lifetime_sum, 8);
    put64(p, bits);
    p += 8;
    put64(p, c->last_ips);
    p += 8;
    put64(p, c->last_sockets);
    p += 8;
    p += mm_dw_save(&c->dw, p);
    return (size_t)(p - buf);
}

static void save(struct mm_clients *c, const struct mm_logger *log)
{
    if (!c->file.path || c->file.disabled)
        return;
    if (!c->buf && !(c->buf = malloc(MM_CLIENTS_PAYLOAD_MAX))) {
        mm_log(log, MM_LOG_WARNING, "state file %s: out of memory, not written", c->file.path);
        return;
    }
    mm_state_file_write(&c->file, c->buf, mm_clients_save_payload(c, c->buf), log);
    c->saved_minute = c->now;
}

int mm_clients_load_payload(struct mm_clients *c, const unsigned char *buf, size_t len, char *err,
                            size_t err_len)
{
    if (len < HEAD_BYTES || memcmp(buf, TAG, 4) != 0) {
        snprintf(err, err_len, "foreign content");
        return -1;
    }
    const unsigned char *p = buf + 4;
    uint64_t opened = get64(p), closed[MM_CHURN_BUCKETS], bits;
    p += 8;
    for (int b = 0; b < MM_CHURN_BUCKETS; b++, p += 8)
        closed[b] = get64(p);
    bits = get64(p);
    uint64_t last_ips = get64(p + 8), last_sockets = get64(p + 16);
    double sum;
    memcpy(&sum, &bits, 8);
    if (!(sum >= 0 && sum < 1e300)) {
        snprintf(err, err_len, "corrupt (lifetime sum)");
        return -1;
    }
    char why[160];
    if (mm_dw_load(&c->dw, buf + HEAD_BYTES, len - HEAD_BYTES, why, sizeof(why)) < 0) {
        snprintf(err, err_len, "corrupt (%s)", why);
        return -1;
    }
    c->churn.opened = opened;
    memcpy(c->churn.closed, closed, sizeof(closed));
    c->churn.lifetime_sum = sum;
    /* only a size hint: bounded so a bad file cannot ask for much */
    c->last_ips = last_ips < MM_IPCOUNT_DEFAULT_MAX ? last_ips : MM_IPCOUNT_DEFAULT_MAX;
    c->last_sockets = last_sockets < 4 * MM_IPCOUNT_DEFAULT_MAX ? last_sockets : 4 * MM_IPCOUNT_DEFAULT_MAX;
    return 0;
}

long mm_clients_save_now(struct mm_clients *c, const struct mm_logger *log)
{
    if (!c->file.path || c->file.disabled)
        return -1;
    save(c, log);
    return c->file.disabled || !c->buf ? -1 : (long)mm_clients_save_payload(c, c->buf);
}

static void load(struct mm_clients *c, const struct mm_logger *log)
{
    c->loaded = 1;
    if (!c->file.path || c->file.disabled)
        return;
    unsigned char *buf = malloc(MM_CLIENTS_PAYLOAD_MAX);
    if (!buf) {
        mm_log(log, MM_LOG_WARNING, "state file %s: out of memory, not read", c->file.path);
        return;
    }
    long len = mm_state_file_read(&c->file, buf, MM_CLIENTS_PAYLOAD_MAX, log);
    char err[200];
    if (len >= 0) {
        if (mm_clients_load_payload(c, buf, (size_t)len, err, sizeof(err)) < 0)
            mm_log(log, MM_LOG_WARNING, "state file %s: %s; windows and churn start fresh",
                   c->file.path, err);
        else {
            mm_log(log, MM_LOG_INFO, "state file %s: windows and churn restored", c->file.path);
            mm_churn_reserve(&c->churn, (size_t)c->last_sockets);
        }
    }
    free(buf);
}

void mm_clients_free(struct mm_clients *c)
{
    if (c->loaded)
        save(c, c->have_log ? &c->log : NULL);
    mm_state_file_close(&c->file);
    mm_dw_free(&c->dw);
    mm_churn_free(&c->churn);
    free(c->buf);
    c->buf = NULL;
    free(c->shown_countries);
    c->shown_countries = NULL;
}

void mm_clients_begin(struct mm_clients *c, const struct mm_logger *log)
{
    int64_t (*clock)(int) = c->clock_ms ? c->clock_ms : system_clock_ms;
    if (!c->loaded)
        load(c, log);
    int64_t wall = clock(0);
    uint32_t minute = wall < 0 ? 0 : (uint32_t)(wall / 60000);
    uint32_t now = mm_dw_now(&c->dw, minute);
    c->new_minute = now != c->now;
    c->now = now;
    mm_churn_begin(&c->churn, clock(1));
}

void mm_clients_socket(struct mm_clients *c, uint64_t cookie, uint32_t inode)
{
    if (cookie || inode)
        mm_churn_push(&c->churn, cookie, inode);
}

void mm_clients_peer(struct mm_clients *c, const struct mm_ip *ip, const char *country)
{
    mm_dw_add(&c->dw, mm_dw_hash(&c->dw, ip), c->now,
              country ? mm_country_pack(country) : 0);
}

int mm_clients_new_minute(const struct mm_clients *c)
{
    return c->new_minute;
}

void mm_clients_end(struct mm_clients *c, size_t ips, const struct mm_logger *log)
{
    mm_churn_end(&c->churn);
    c->last_ips = ips;
    c->last_sockets = c->churn.used;
    /* once per minute: the windows only change per minute */
    if (c->saved_minute != c->now)
        save(c, log);
}

/* ---- metrics ---- */

struct mm_clients_countries {
    struct mm_country items[MM_COUNTRIES_MAX]; /* the sketch's figures, while it is unchanged */
    size_t n;
    uint64_t other;
    struct mm_countries shown; /* those raised to the live counts, ranked */
};

static void on_country(void *ctx, uint32_t cc, uint64_t count)
{
    struct mm_clients_countries *r = ctx;
    if (r->n == MM_COUNTRIES_MAX) {
        r->other += count;
        return;
    }
    struct mm_country *e = &r->items[r->n++];
    mm_country_unpack(cc, e->code);
    e->unique_ips = count;
}

static int add(struct mm_snapshot *out, enum mm_origin o, enum mm_kind kind, const char *name,
               uint64_t v, const char *key, const char *label)
{
    int64_t i = v > INT64_MAX ? INT64_MAX : (int64_t)v;
    struct mm_metric *m = key ? mm_snapshot_add_int(out, o, kind, name, i, key, label)
                              : mm_snapshot_add_int(out, o, kind, name, i);
    return m ? 0 : -1;
}

int mm_clients_emit(struct mm_clients *c, struct mm_snapshot *out, size_t max_countries,
                    uint64_t live, const struct mm_countries *live_countries)
{
    int rc = 0;
    /* the windows change only with adds or a new minute: count once then */
    int fresh = c->shown_version != c->dw.version || c->shown_now != c->now;
    if (fresh) {
        mm_dw_count_windows(&c->dw, c->now, c->shown);
    }
    static const char *const names[3] = {"distinct_ips_1h", "distinct_ips_24h", "distinct_ips_7d"};
    for (int w = 0; w < 3; w++)
        rc |= add(out, MM_ORIGIN_CLIENTS, MM_GAUGE, names[w], c->shown[w] > live ? c->shown[w] : live,
                  NULL, NULL);
    rc |= add(out, MM_ORIGIN_CLIENTS, MM_COUNTER, "connections_opened", c->churn.opened, NULL,
              NULL);
    for (int b = 0; b < MM_CHURN_BUCKETS; b++)
        rc |= add(out, MM_ORIGIN_CLIENTS, MM_COUNTER, "lifetime_seconds_bucket",
                  mm_churn_cumulative(&c->churn, b), "le", mm_churn_le[b]);
    if (!mm_snapshot_add_double(out, MM_ORIGIN_CLIENTS, MM_COUNTER, "lifetime_seconds_sum",
                                c->churn.lifetime_sum))
        rc = -1;
    rc |= add(out, MM_ORIGIN_CLIENTS, MM_COUNTER, "lifetime_seconds_count",
              mm_churn_count(&c->churn), NULL, NULL);

    if (max_countries > 0) {
        struct mm_clients_countries *r = c->shown_countries;
        if (!r) {
            if (!(r = c->shown_countries = malloc(sizeof(*r))))
                return -1;
            fresh = 1;
        }
        if (fresh) {
            r->n = 0;
            r->other = 0;
            mm_dw_countries(&c->dw, c->now, MM_DW_DAY, on_country, r);
        }
        /* Every address live now is in the last 24 h: a country's live count
         * is a floor for its figure, which the sketch's sample (beyond 8192
         * addresses) may estimate below it, or miss. */
        struct mm_countries *s = &r->shown;
        mm_countries_clear(s);
        for (size_t i = 0; i < r->n; i++)
            mm_countries_add_many(s, r->items[i].code, 0, r->items[i].unique_ips);
        for (size_t i = 0; live_countries && i < live_countries->n; i++)
            mm_countries_raise(s, live_countries->items[i].code, live_countries->items[i].unique_ips);
        struct mm_country other;
        size_t n = mm_countries_rank_by_ips(s, max_countries, &other);
        other.unique_ips += r->other;
        uint64_t all = c->shown[1] > live ? c->shown[1] : live;
        for (size_t i = 0; i < n; i++)
            rc |= add(out, MM_ORIGIN_COUNTRY, MM_GAUGE, "distinct_ips_24h",
                      s->items[i].unique_ips < all ? s->items[i].unique_ips : all, "country",
                      s->items[i].code);
        if (other.unique_ips > 0)
            rc |= add(out, MM_ORIGIN_COUNTRY, MM_GAUGE, "distinct_ips_24h",
                      other.unique_ips < all ? other.unique_ips : all, "country", "other");
    }
    c->shown_version = c->dw.version;
    c->shown_now = c->now;
    return rc ? -1 : 0;
}
