/* fleet_push.c — hashes to PFADDs (see fleet_push.h). */
#include "fleet/fleet_push.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/siphash.h"

#define EXPIRE_SECONDS "691200" /* MM_FLEET_HOURS_KEPT hours */
#define MAX_ARGS (MM_FLEET_BATCH + 2)

int mm_fleet_push_init(struct mm_fleet_push *p, const char *name, const char *salt, size_t max_countries)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    /* Two words of key from the salt, each through SipHash with its own fixed key. */
    static const uint64_t k0[2] = { 0x6d7470726f78792dULL, 0x666c6565742d6b30ULL };
    static const uint64_t k1[2] = { 0x6d7470726f78792dULL, 0x666c6565742d6b31ULL };
    p->key[0] = mm_siphash24(k0, salt, strlen(salt));
    p->key[1] = mm_siphash24(k1, salt, strlen(salt));
    p->max_countries = max_countries > MM_COUNTRIES_MAX ? MM_COUNTRIES_MAX : max_countries;
    mm_fleet_seen_init(&p->seen, 0);
    mm_fleet_queue_init(&p->queue, 0);
    p->codes = calloc(p->max_countries + 2, sizeof(*p->codes));
    p->batch = malloc(MM_FLEET_BATCH * sizeof(*p->batch));
    p->hex = malloc(MM_FLEET_BATCH * sizeof(*p->hex));
    p->argv = malloc(MAX_ARGS * sizeof(*p->argv));
    p->lens = malloc(MAX_ARGS * sizeof(*p->lens));
    p->cmds = malloc(MM_FLEET_MAX_CMDS * sizeof(*p->cmds));
    if (!p->codes || !p->batch || !p->hex || !p->argv || !p->lens || !p->cmds) {
        mm_fleet_push_free(p);
        return -1;
    }
    return 0;
}

void mm_fleet_push_free(struct mm_fleet_push *p)
{
    mm_fleet_seen_free(&p->seen);
    mm_fleet_queue_free(&p->queue);
    free(p->codes);
    free(p->batch);
    free(p->hex);
    free(p->argv);
    free(p->lens);
    free(p->cmds);
    explicit_bzero(p->key, sizeof(p->key));
    memset(p, 0, sizeof(*p));
}

static unsigned code_hash(const char *code)
{
    unsigned h = 5381;
    for (; *code; code++)
        h = h * 33 + (unsigned char)*code;
    return h & (MM_FLEET_COUNTRY_SLOTS - 1);
}

/* The index of a country (1..), "other" beyond max_countries; 0 for none. */
static uint16_t country_index(struct mm_fleet_push *p, const char *code)
{
    if (!code || !code[0] || p->max_countries == 0)
        return 0;
    unsigned i = code_hash(code);
    while (p->index[i]) {
        if (strcmp(p->codes[p->index[i]], code) == 0)
            return p->index[i];
        i = (i + 1) & (MM_FLEET_COUNTRY_SLOTS - 1);
    }
    if (p->n_countries >= p->max_countries) {
        if (p->n_countries == p->max_countries) /* the last slot: "other" */
            snprintf(p->codes[++p->n_countries], MM_COUNTRY_CODE_MAX, "other");
        return (uint16_t)p->n_countries;
    }
    p->n_countries++;
    snprintf(p->codes[p->n_countries], MM_COUNTRY_CODE_MAX, "%s", code);
    p->index[i] = (uint16_t)p->n_countries;
    return (uint16_t)p->n_countries;
}

void mm_fleet_push_add(struct mm_fleet_push *p, const void *addr, size_t len, const char *country, uint32_t hour)
{
    uint64_t h = mm_siphash24(p->key, addr, len);
    if (!h)
        h = 1;
    mm_fleet_seen_hour(&p->seen, hour);
    /* the country is looked up only for a new address; 0 stands in until then */
    int rc = mm_fleet_seen_add(&p->seen, h, 0);
    if (rc == 0)
        return;
    struct mm_fleet_entry e = { h, hour, country_index(p, country) };
    if (rc == 1) { /* remember its country for a resend */
        size_t pos = (size_t)(h & (p->seen.cap - 1));
        while (p->seen.slots[pos].hash != h)
            pos = (pos + 1) & (p->seen.cap - 1);
        p->seen.slots[pos].country = e.country;
    }
    mm_fleet_queue_push(&p->queue, &e);
}

void mm_fleet_push_resend_hour(struct mm_fleet_push *p, uint32_t hour)
{
    if (p->seen.hour != hour)
        return;
    const struct mm_fleet_entry *e;
    for (size_t i = 0; (e = mm_fleet_seen_next(&p->seen, &i));)
        mm_fleet_queue_push(&p->queue, e);
}

void mm_fleet_hash_text(uint64_t hash, char out[17])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, hash >>= 4)
        out[i] = digits[hash & 15];
    out[16] = 0;
}

static int by_hour_country(const void *a, const void *b)
{
    const struct mm_fleet_entry *x = a, *y = b;
    if (x->hour != y->hour)
        return x->hour < y->hour ? -1 : 1;
    return (x->country > y->country) - (x->country < y->country);
}

/* PFADD key hex[from..to) and EXPIRE key; 0, or -1 when out of memory. */
static int append_pfadd(struct mm_fleet_push *p, redisContext *c, const char *key, size_t from, size_t to,
                        struct mm_fleet_cmd *cmds, size_t *n_cmds)
{
    p->argv[0] = "PFADD";
    p->lens[0] = 5;
    p->argv[1] = key;
    p->lens[1] = strlen(key);
    size_t argc = 2;
    for (size_t i = from; i < to; i++, argc++) {
        p->argv[argc] = p->hex[i];
        p->lens[argc] = 16;
    }
    if (redisAppendCommandArgv(c, (int)argc, p->argv, p->lens) != REDIS_OK ||
        redisAppendCommand(c, "EXPIRE %s %s", key, EXPIRE_SECONDS) != REDIS_OK)
        return -1;
    cmds[(*n_cmds)++] = (struct mm_fleet_cmd){ 1, to - from };
    cmds[(*n_cmds)++] = (struct mm_fleet_cmd){ 0, 0 };
    return 0;
}

/* One batch of n entries (sorted): 0 when Redis answered all of it. */
static int send_batch(struct mm_fleet_push *p, redisContext *c, size_t n, enum mm_fleet_fail *kind, char *err,
                      size_t err_len)
{
    struct mm_fleet_cmd *cmds = p->cmds;
    size_t n_cmds = 0;
    char key[MM_FLEET_KEY_MAX], ckey[MM_FLEET_KEY_MAX];
    mm_fleet_countries_key(ckey, sizeof(ckey), p->name);
    for (size_t i = 0; i < n; i++)
        mm_fleet_hash_text(p->batch[i].hash, p->hex[i]);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p->batch[j].hour == p->batch[i].hour)
            j++;
        if (mm_fleet_key(key, sizeof(key), p->name, NULL, p->batch[i].hour) < 0 ||
            append_pfadd(p, c, key, i, j, cmds, &n_cmds) != 0)
            goto oom;
        for (size_t k = i; k < j;) {
            size_t m = k;
            while (m < j && p->batch[m].country == p->batch[k].country)
                m++;
            uint16_t ci = p->batch[k].country;
            if (ci && ci <= p->n_countries) {
                const char *code = p->codes[ci];
                if (mm_fleet_key(key, sizeof(key), p->name, code, p->batch[k].hour) < 0 ||
                    append_pfadd(p, c, key, k, m, cmds, &n_cmds) != 0 ||
                    redisAppendCommand(c, "SADD %s %s", ckey, code) != REDIS_OK ||
                    redisAppendCommand(c, "EXPIRE %s %s", ckey, EXPIRE_SECONDS) != REDIS_OK)
                    goto oom;
                cmds[n_cmds++] = (struct mm_fleet_cmd){ 0, 0 };
                cmds[n_cmds++] = (struct mm_fleet_cmd){ 0, 0 };
            }
            k = m;
        }
        i = j;
    }
    int rc = 0;
    for (size_t i = 0; i < n_cmds; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
            *kind = MM_FLEET_IO;
            snprintf(err, err_len, "sending hashes: %s", c->errstr[0] ? c->errstr : "no reply");
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR && rc == 0) {
            if (strncmp(r->str, "WRONGTYPE", 9) == 0 || strncmp(r->str, "INVALIDOBJ", 10) == 0) {
                if (cmds[i].is_pfadd)
                    p->queue.dropped += cmds[i].elements;
                if (!p->refused)
                    snprintf(p->refused_why, sizeof(p->refused_why), "%.100s", r->str);
                p->refused = 1;
            } else { /* NOAUTH, LOADING, READONLY, OOM, MOVED: the batch waits */
                *kind = strncmp(r->str, "MOVED ", 6) == 0 ? MM_FLEET_MOVED : MM_FLEET_REPLY;
                snprintf(err, err_len, "Redis refused the hashes: %.200s", r->str);
                rc = -1;
            }
        }
        freeReplyObject(r);
    }
    return rc;
oom:
    *kind = MM_FLEET_IO; /* the connection holds a partial pipeline: it is dropped */
    snprintf(err, err_len, "out of memory");
    return -1;
}

int mm_fleet_push_send(struct mm_fleet_push *p, redisContext *c, int64_t deadline_ms,
                       int64_t (*clock)(int monotonic), enum mm_fleet_fail *kind, char *err, size_t err_len)
{
    while (p->queue.len > 0) {
        if (clock(1) >= deadline_ms)
            return 0; /* the rest at the next gather */
        size_t n = p->queue.len < MM_FLEET_BATCH ? p->queue.len : MM_FLEET_BATCH;
        for (size_t i = 0; i < n; i++)
            p->batch[i] = *mm_fleet_queue_at(&p->queue, i);
        qsort(p->batch, n, sizeof(*p->batch), by_hour_country);
        if (send_batch(p, c, n, kind, err, err_len) != 0)
            return -1;
        mm_fleet_queue_pop(&p->queue, n);
        p->sent += n;
    }
    return 0;
}
