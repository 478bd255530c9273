/* fleet.c — the fleet module: hashing, queueing, pushing and reading the
 * fleet's HyperLogLogs (see fleet.h). */
#include "fleet/fleet.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/metric.h"
#include "core/redact.h"
#include "host/sockets/sockets.h"
#include "fleet/fleet_keys.h"
#include "fleet/fleet_push.h"
#include "fleet/fleet_queue.h"
#include "fleet/fleet_redis.h"
#include "fleet/siphash.h"

#define READ_WINDOWS 3
static const unsigned window_hours[READ_WINDOWS] = { 1, 24, 168 };
static const char *const window_names[READ_WINDOWS] = { "distinct_ips_1h", "distinct_ips_24h", "distinct_ips_7d" };

struct fleet_figure {
    char country[MM_COUNTRY_CODE_MAX]; /* "" = the whole fleet */
    int64_t n[READ_WINDOWS];
};

struct mm_fleet {
    const struct mm_fleet_config *cfg; /* the instance's */
    struct mm_fleet_push push;         /* key, countries, seen set, queue */
    struct mm_fleet_redis redis;
    struct mm_error_latch latch;
    int64_t next_read_ms;
    int64_t read_ok_ms; /* when the figures were last read; 0 = never */
    struct fleet_figure *figures;
    size_t n_figures, max_figures;
    int up;
};

static int64_t now_ms(int monotonic)
{
    struct timespec ts;
    clock_gettime(monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The sockets part's hook: one counted client address. */
static void on_peer(void *ctx, const struct mm_ip *ip, const char *country)
{
    struct mm_fleet *f = ctx;
    mm_fleet_push_add(&f->push, ip->b, sizeof(ip->b), country, mm_fleet_hour(now_ms(0) / 1000));
}

int mm_fleet_attach(struct mm_fleet **out, const struct mm_fleet_config *cfg, int max_countries,
                    struct mm_redactor *redactor, const struct mm_logger *log, struct mm_sockets_state *sockets)
{
    *out = NULL;
    if (!cfg->name)
        return 0;
    struct mm_redis_target target;
    char err[160];
    struct mm_fleet *f = calloc(1, sizeof(*f));
    if (!f || mm_redis_url_parse(cfg->redis, &target, err, sizeof(err)) != 0 ||
        mm_redactor_add_credentials(redactor, cfg->redis, NULL, cfg->password) != 0 ||
        (target.password[0] && mm_redactor_add_credentials(redactor, NULL, NULL, target.password) != 0)) {
        explicit_bzero(target.password, sizeof(target.password));
        free(f);
        mm_log(log, MM_LOG_ERROR, "fleet: out of memory");
        return -1;
    }
    f->cfg = cfg;
    f->max_figures = 1 + (size_t)(max_countries > 0 ? max_countries + 1 : 0);
    f->figures = calloc(f->max_figures, sizeof(*f->figures));
    if (!f->figures || mm_fleet_push_init(&f->push, cfg->name, cfg->salt, (size_t)max_countries) != 0) {
        explicit_bzero(target.password, sizeof(target.password));
        free(f->figures);
        free(f);
        mm_log(log, MM_LOG_ERROR, "fleet: out of memory");
        return -1;
    }
    mm_fleet_redis_init(&f->redis, &target, cfg->password, cfg->interval_s);
    explicit_bzero(target.password, sizeof(target.password));
    *out = f;
    if (sockets) {
        sockets->peer_hook = on_peer;
        sockets->peer_ctx = f;
    }
    return 0;
}

void mm_fleet_detach(struct mm_fleet **fp, struct mm_sockets_state *sockets)
{
    struct mm_fleet *f = *fp;
    if (!f)
        return;
    if (sockets)
        sockets->peer_hook = NULL;
    mm_fleet_redis_free(&f->redis);
    mm_fleet_push_free(&f->push);
    free(f->figures);
    free(f);
    *fp = NULL;
}

/* PFCOUNT over the hours [hour - n + 1, hour], appended to the pipeline. */
static int append_count(redisContext *c, const char *fleet, const char *country, uint32_t hour, unsigned n)
{
    char keys[168][MM_FLEET_KEY_MAX];
    const char *argv[169];
    size_t lens[169];
    argv[0] = "PFCOUNT";
    lens[0] = 7;
    for (unsigned i = 0; i < n; i++) {
        int len = mm_fleet_key(keys[i], sizeof(keys[i]), fleet, country, hour - i);
        if (len < 0)
            return -1;
        argv[i + 1] = keys[i];
        lens[i + 1] = (size_t)len;
    }
    return redisAppendCommandArgv(c, (int)n + 1, argv, lens) == REDIS_OK ? 0 : -1;
}

static int cmp_code(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads every window (and, when the fleet has countries, per country):
 * 0, or -1 with the failure's kind and text. */
static int read_figures(struct mm_fleet *f, uint32_t hour, enum mm_fleet_fail *kind, char *err, size_t n)
{
    redisContext *c = f->redis.c;
    const char *fleet = f->cfg->name;
    char ckey[MM_FLEET_KEY_MAX];
    int want_countries = f->max_figures > 1 && f->push.n_countries > 0;
    size_t n_countries = 0;
    char codes[MM_COUNTRIES_MAX + 1][MM_COUNTRY_CODE_MAX];
    if (want_countries) {
        mm_fleet_countries_key(ckey, sizeof(ckey), fleet);
        redisReply *r = redisCommand(c, "SMEMBERS %s", ckey);
        if (!r) {
            *kind = MM_FLEET_IO;
            snprintf(err, n, "SMEMBERS: %s", c->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_ARRAY) {
            char *sorted[MM_COUNTRIES_MAX + 1];
            size_t m = 0;
            for (size_t i = 0; i < r->elements && m < MM_COUNTRIES_MAX + 1; i++)
                if (r->element[i]->type == REDIS_REPLY_STRING && r->element[i]->len < MM_COUNTRY_CODE_MAX)
                    sorted[m++] = r->element[i]->str;
            qsort(sorted, m, sizeof(sorted[0]), cmp_code);
            for (size_t i = 0; i < m && n_countries + 1 < f->max_figures; i++)
                snprintf(codes[n_countries++], MM_COUNTRY_CODE_MAX, "%s", sorted[i]);
        }
        freeReplyObject(r);
    }
    size_t rows = 1 + n_countries;
    for (size_t row = 0; row < rows; row++)
        for (unsigned w = 0; w < READ_WINDOWS; w++)
            if (append_count(c, fleet, row ? codes[row - 1] : NULL, hour, window_hours[w]) != 0) {
                *kind = MM_FLEET_IO;
                snprintf(err, n, "out of memory");
                return -1;
            }
    int rc = 0;
    for (size_t row = 0; row < rows; row++) {
        struct fleet_figure *fig = &f->figures[row];
        snprintf(fig->country, sizeof(fig->country), "%s", row ? codes[row - 1] : "");
        for (unsigned w = 0; w < READ_WINDOWS; w++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
                *kind = MM_FLEET_IO;
                snprintf(err, n, "PFCOUNT: %s", c->errstr[0] ? c->errstr : "no reply");
                return -1; /* the connection is dropped: unread replies go with it */
            }
            if (r->type == REDIS_REPLY_INTEGER)
                fig->n[w] = r->integer;
            else if (!rc) {
                rc = -1;
                *kind = r->type == REDIS_REPLY_ERROR && strncmp(r->str, "MOVED ", 6) == 0 ? MM_FLEET_MOVED
                                                                                           : MM_FLEET_REPLY;
                snprintf(err, n, "PFCOUNT refused: %.200s", r->type == REDIS_REPLY_ERROR ? r->str : "not a number");
            }
            freeReplyObject(r);
        }
    }
    if (rc == 0)
        f->n_figures = rows;
    return rc;
}

static void emit(struct mm_snapshot *snap, struct mm_fleet *f, int64_t mono)
{
    const char *name = f->cfg->name;
    int64_t stale_ms = (int64_t)(f->cfg->interval_s * 2000) + 2000;
    if (f->read_ok_ms && mono - f->read_ok_ms <= stale_ms)
        for (size_t i = 0; i < f->n_figures; i++)
            for (unsigned w = 0; w < READ_WINDOWS; w++) {
                if (f->figures[i].country[0])
                    mm_snapshot_add_int(snap, MM_ORIGIN_FLEET, MM_GAUGE, window_names[w], f->figures[i].n[w],
                                        "fleet", name, "country", f->figures[i].country);
                else
                    mm_snapshot_add_int(snap, MM_ORIGIN_FLEET, MM_GAUGE, window_names[w], f->figures[i].n[w],
                                        "fleet", name);
            }
    mm_snapshot_add_int(snap, MM_ORIGIN_FLEET, MM_GAUGE, "redis_up", f->up, "fleet", name);
    mm_snapshot_add_int(snap, MM_ORIGIN_FLEET, MM_GAUGE, "pending", (int64_t)f->push.queue.len, "fleet", name);
    mm_snapshot_add_int(snap, MM_ORIGIN_FLEET, MM_COUNTER, "pending_dropped", (int64_t)f->push.queue.dropped,
                        "fleet", name);
}

void mm_fleet_gather(struct mm_fleet *f, struct mm_snapshot *snap, const struct mm_logger *log)
{
    if (!f)
        return;
    int64_t mono = now_ms(1);
    uint32_t hour = mm_fleet_hour(now_ms(0) / 1000);
    int read_due = mono >= f->next_read_ms;
    char err[MM_LATCH_MESSAGE_MAX - 64] = "";
    enum mm_fleet_fail kind = MM_FLEET_OK;
    int rc = 0;
    if (read_due || f->push.queue.len) {
        rc = mm_fleet_redis_ensure(&f->redis, mono, &kind, err, sizeof(err));
        if (rc == 0 && f->redis.restarted) { /* possibly empty: this hour again, from the seen set */
            f->redis.restarted = 0;
            mm_fleet_push_resend_hour(&f->push, hour);
        }
        if (rc == 0)
            rc = mm_fleet_push_send(&f->push, f->redis.c, mono + MM_FLEET_COMMAND_TIMEOUT_MS, now_ms, &kind, err,
                                    sizeof(err));
        if (rc == 0 && read_due) {
            rc = read_figures(f, hour, &kind, err, sizeof(err));
            if (rc == 0) {
                f->read_ok_ms = mono;
                f->next_read_ms = mono + (int64_t)(f->cfg->interval_s * 1000);
            }
        }
        if (rc != 0 && kind != MM_FLEET_OK) {
            if (kind == MM_FLEET_MOVED)
                mm_fleet_redis_moved(&f->redis, err);
            mm_fleet_redis_fail(&f->redis, mono); /* a refused command drops the connection too */
            f->up = 0;
            mm_latch_fail_kind(&f->latch, log, MM_LOG_WARNING, (long)kind,
                               "fleet %s: %s; local figures go on, %zu hash(es) kept for later", f->cfg->name,
                               err, f->push.queue.len);
        } else if (rc == 0) {
            f->up = 1;
            mm_latch_ok(&f->latch, log, "fleet Redis");
        }
    }
    if (f->push.refused && !f->push.refused_logged) {
        mm_log(log, MM_LOG_WARNING, "fleet %s: Redis refused some hashes (%s); they are dropped and counted",
               f->cfg->name, f->push.refused_why);
        f->push.refused_logged = 1;
    }
    emit(snap, f, mono);
}
