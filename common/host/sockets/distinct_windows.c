/* distinct_windows.c — sliding HyperLogLog plus an exact-while-small sample of
 * address hashes (see distinct_windows.h). */
#include "host/sockets/distinct_windows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"

#define Q (64 - MM_DW_P)          /* hash bits left for the rank */
#define SLOTS (2 * MM_DW_SAMPLES) /* sample table: load <= 1/2 */
#define PAIR(minute, rank) (((uint32_t)(minute) << 6) | (uint32_t)(rank))
#define PAIR_MINUTE(p) ((p) >> 6)
#define PAIR_RANK(p) ((p)&63u)
#define MAX_MINUTE ((1u << 26) - 1) /* the year 2097 */

int mm_dw_init(struct mm_dw *w)
{
    memset(w, 0, sizeof(*w));
    /* calloc: pages of registers never touched cost no memory */
    w->reg = calloc((size_t)MM_DW_REGISTERS * MM_DW_PAIRS, sizeof(*w->reg));
    w->samples = calloc(SLOTS, sizeof(*w->samples));
    if (!w->reg || !w->samples) {
        mm_dw_free(w);
        return -1;
    }
    mm_hash_seed(w->seed);
    w->version = 1;
    return 0;
}

void mm_dw_free(struct mm_dw *w)
{
    free(w->reg);
    free(w->samples);
    w->reg = NULL;
    w->samples = NULL;
}

void mm_dw_reset(struct mm_dw *w)
{
    memset(w->reg, 0, (size_t)MM_DW_REGISTERS * MM_DW_PAIRS * sizeof(*w->reg));
    memset(w->samples, 0, SLOTS * sizeof(*w->samples));
    w->n_samples = 0;
    w->level = 0;
    w->last_minute = 0;
    w->version++;
}

uint64_t mm_dw_hash(const struct mm_dw *w, const struct mm_ip *ip)
{
    uint64_t hi, lo;
    memcpy(&hi, ip->b, 8);
    memcpy(&lo, ip->b + 8, 8);
    /* a bijection of lo for a fixed hi: IPv4 addresses never collide */
    uint64_t h = mm_hash_mix(lo ^ w->seed[0] ^ mm_hash_mix(hi ^ w->seed[1]));
    return h ? h : 1;
}

uint32_t mm_dw_now(struct mm_dw *w, uint32_t minute)
{
    if (minute > MAX_MINUTE)
        minute = MAX_MINUTE;
    if (minute >= w->last_minute)
        return minute;
    if (w->last_minute - minute > MM_DW_WEEK) {
        mm_dw_reset(w); /* the clock went back beyond every window */
        return minute;
    }
    return w->last_minute;
}

/* ---- sliding HyperLogLog ---- */

static unsigned rank_of(uint64_t hash)
{
    uint64_t rest = hash >> MM_DW_P;
    return rest ? (unsigned)__builtin_ctzll(rest) + 1 : Q + 1;
}

static void hll_add(struct mm_dw *w, uint64_t hash, uint32_t minute)
{
    uint32_t *p = w->reg + (size_t)(hash & (MM_DW_REGISTERS - 1)) * MM_DW_PAIRS;
    unsigned rank = rank_of(hash), n = 0;
    /* keep the pairs that the new one does not dominate: higher rank (they
     * are older), and not expired for every window */
    for (unsigned i = 0; i < MM_DW_PAIRS && p[i]; i++) {
        if (PAIR_RANK(p[i]) > rank && minute - PAIR_MINUTE(p[i]) < MM_DW_WEEK)
            p[n++] = p[i];
    }
    /* a kept pair of this minute has a higher rank and covers the new one */
    if (n == 0 || PAIR_MINUTE(p[n - 1]) != minute) {
        if (n == MM_DW_PAIRS) { /* full: the oldest pair goes (rare, see .h) */
            memmove(p, p + 1, (MM_DW_PAIRS - 1) * sizeof(*p));
            n--;
        }
        p[n++] = PAIR(minute, rank);
    }
    for (unsigned i = n; i < MM_DW_PAIRS; i++)
        p[i] = 0;
}

/* Ertl, "New cardinality estimation algorithms for HyperLogLog sketches"
 * (2017): the improved raw estimator, unbiased from 0 to beyond 2^64/m. */
static double sigma(double x)
{
    if (x == 1.0)
        return INFINITY;
    double y = 1.0, z = x, zp;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (z != zp);
    return z;
}

static double tau(double x)
{
    if (x == 0.0 || x == 1.0)
        return 0.0;
    double y = 1.0, z = 1.0 - x, zp;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != zp);
    return z / 3.0;
}

static uint64_t hll_count(const struct mm_dw *w, uint32_t now, uint32_t window)
{
    uint32_t hist[Q + 2] = {0};
    for (size_t j = 0; j < MM_DW_REGISTERS; j++) {
        const uint32_t *p = w->reg + j * MM_DW_PAIRS;
        unsigned r = 0;
        /* oldest first, ranks falling: the first pair inside the window is
         * the register's maximum there */
        for (unsigned i = 0; i < MM_DW_PAIRS && p[i]; i++) {
            uint32_t t = PAIR_MINUTE(p[i]);
            if (t <= now && now - t < window) {
                r = PAIR_RANK(p[i]);
                break;
            }
        }
        hist[r]++;
    }
    const double m = MM_DW_REGISTERS;
    if (hist[0] == MM_DW_REGISTERS)
        return 0;
    double z = m * tau(1.0 - hist[Q + 1] / m);
    for (int k = Q; k >= 1; k--)
        z = 0.5 * (z + hist[k]);
    z += m * sigma(hist[0] / m);
    double e = (m * m) / (2.0 * log(2.0)) / z;
    return (uint64_t)llround(e);
}

/* ---- the sample ---- */

static int sampled(unsigned level, uint64_t hash)
{
    return level == 0 || (level < 64 && (hash >> (64 - level)) == 0);
}

static struct mm_dw_sample *sample_slot(struct mm_dw_sample *t, uint64_t hash)
{
    size_t i = (size_t)hash & (SLOTS - 1);
    while (t[i].hash && t[i].hash != hash)
        i = (i + 1) & (SLOTS - 1);
    return &t[i];
}

/* Keeps the samples that are still in the week and in the sample at level;
 * rebuilt in place through a temporary copy of the survivors. */
static void sample_prune(struct mm_dw *w, uint32_t now)
{
    struct mm_dw_sample *keep = malloc((w->n_samples + 1) * sizeof(*keep));
    size_t n = 0;
    if (!keep) { /* keep what there is; the table may refuse new entries */
        return;
    }
    for (size_t i = 0; i < SLOTS; i++) {
        const struct mm_dw_sample *s = &w->samples[i];
        if (s->hash && sampled(w->level, s->hash) && now - s->minute < MM_DW_WEEK)
            keep[n++] = *s;
    }
    memset(w->samples, 0, SLOTS * sizeof(*w->samples));
    for (size_t i = 0; i < n; i++)
        *sample_slot(w->samples, keep[i].hash) = keep[i];
    w->n_samples = n;
    free(keep);
}

static void sample_add(struct mm_dw *w, uint64_t hash, uint32_t minute, uint32_t country)
{
    if (!sampled(w->level, hash))
        return;
    if (w->n_samples >= SLOTS - 1) /* only when pruning ran out of memory */
        return;
    struct mm_dw_sample *s = sample_slot(w->samples, hash);
    if (s->hash) {
        if (minute >= s->minute) {
            s->minute = minute;
            s->country = country;
        }
        return;
    }
    s->hash = hash;
    s->minute = minute;
    s->country = country;
    if (++w->n_samples <= MM_DW_SAMPLES)
        return;
    sample_prune(w, minute); /* first drop what left the week */
    while (w->n_samples > MM_DW_SAMPLES && w->level < 63) {
        w->level++;
        sample_prune(w, minute);
    }
}

void mm_dw_add(struct mm_dw *w, uint64_t hash, uint32_t minute, uint32_t country)
{
    if (minute > MAX_MINUTE)
        minute = MAX_MINUTE;
    if (minute < w->last_minute) /* callers pass mm_dw_now(); keep time monotonic anyway */
        minute = w->last_minute;
    w->last_minute = minute;
    w->version++;
    if (!hash)
        hash = 1;
    hll_add(w, hash, minute);
    sample_add(w, hash, minute, country);
}

int mm_dw_exact(const struct mm_dw *w)
{
    return w->level == 0;
}

static int in_window(uint32_t t, uint32_t now, uint32_t window)
{
    return t <= now && now - t < window;
}

static const uint32_t windows[3] = {MM_DW_HOUR, MM_DW_DAY, MM_DW_WEEK};

/* The sampled hashes in each window (one pass over the table). */
static void sample_counts(const struct mm_dw *w, uint32_t now, uint64_t n[3])
{
    n[0] = n[1] = n[2] = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        const struct mm_dw_sample *s = &w->samples[i];
        if (!s->hash || s->minute > now)
            continue;
        uint32_t age = now - s->minute;
        n[0] += age < MM_DW_HOUR;
        n[1] += age < MM_DW_DAY;
        n[2] += age < MM_DW_WEEK;
    }
}

/* Beyond the exact range: the sketch's estimate and the sample's (sampled
 * count x 2^level), weighted by the inverse of their relative variances,
 * 1.04^2/m and 1/sampled. */
static uint64_t combined(const struct mm_dw *w, uint32_t now, uint32_t window, uint64_t sampled)
{
    uint64_t sketch = hll_count(w, now, window);
    if (sampled == 0 || w->level >= 64)
        return sketch;
    double weight_sketch = MM_DW_REGISTERS / (1.04 * 1.04), weight_sample = (double)sampled;
    double sample = ldexp((double)sampled, (int)w->level);
    double e = (weight_sketch * (double)sketch + weight_sample * sample) / (weight_sketch + weight_sample);
    return (uint64_t)llround(e);
}

void mm_dw_count_windows(const struct mm_dw *w, uint32_t now, uint64_t out[3])
{
    uint64_t n[3];
    sample_counts(w, now, n);
    for (int k = 0; k < 3; k++)
        out[k] = w->level == 0 ? n[k] : combined(w, now, windows[k], n[k]);
}

uint64_t mm_dw_count(const struct mm_dw *w, uint32_t now, uint32_t window)
{
    uint64_t n = 0;
    for (size_t i = 0; i < SLOTS; i++)
        n += w->samples[i].hash && in_window(w->samples[i].minute, now, window);
    return w->level == 0 ? n : combined(w, now, window, n);
}

void mm_dw_countries(const struct mm_dw *w, uint32_t now, uint32_t window, mm_dw_country_fn fn,
                     void *ctx)
{
    /* few distinct codes: a small open-addressing tally */
    enum { TALLY = 1024 };
    struct { uint32_t code; uint64_t n; } tally[TALLY];
    size_t used = 0;
    memset(tally, 0, sizeof(tally));
    uint64_t scale = w->level < 64 ? (uint64_t)1 << w->level : 0;
    for (size_t i = 0; i < SLOTS; i++) {
        const struct mm_dw_sample *s = &w->samples[i];
        if (!s->hash || !s->country || !in_window(s->minute, now, window))
            continue;
        size_t k = (size_t)mm_hash_mix(s->country) & (TALLY - 1);
        while (tally[k].code && tally[k].code != s->country)
            k = (k + 1) & (TALLY - 1);
        if (!tally[k].code) {
            if (used == TALLY / 2)
                continue; /* more codes than any database has */
            tally[k].code = s->country;
            used++;
        }
        tally[k].n++;
    }
    for (size_t k = 0; k < TALLY; k++)
        if (tally[k].code)
            fn(ctx, tally[k].code, tally[k].n * scale);
}

/* ---- serialized form ---- */

static void put32(unsigned char **p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *(*p)++ = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char **p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p, (uint32_t)(v >> 32));
}

static uint32_t get32(const unsigned char **p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)(*p)[i] << (8 * i);
    *p += 4;
    return v;
}

static uint64_t get64(const unsigned char **p)
{
    uint64_t lo = get32(p);
    return lo | (uint64_t)get32(p) << 32;
}

/* seed, last minute, level, sample count, then one pair count per register,
 * the pairs, the samples; all little-endian */
size_t mm_dw_save(const struct mm_dw *w, unsigned char *buf)
{
    unsigned char *p = buf;
    put64(&p, w->seed[0]);
    put64(&p, w->seed[1]);
    put32(&p, w->last_minute);
    put32(&p, w->level);
    put32(&p, (uint32_t)w->n_samples);
    unsigned char *counts = p;
    p += MM_DW_REGISTERS;
    for (size_t j = 0; j < MM_DW_REGISTERS; j++) {
        const uint32_t *r = w->reg + j * MM_DW_PAIRS;
        unsigned n = 0;
        while (n < MM_DW_PAIRS && r[n])
            put32(&p, r[n++]);
        counts[j] = (unsigned char)n;
    }
    for (size_t i = 0; i < SLOTS; i++) {
        const struct mm_dw_sample *s = &w->samples[i];
        if (!s->hash)
            continue;
        put64(&p, s->hash);
        put32(&p, s->minute);
        put32(&p, s->country);
    }
    return (size_t)(p - buf);
}

#define FAIL(...)                                  \
    do {                                           \
        snprintf(err, err_len, __VA_ARGS__);       \
        goto fail;                                 \
    } while (0)

int mm_dw_load(struct mm_dw *w, const unsigned char *buf, size_t len, char *err, size_t err_len)
{
    const size_t head = 8 + 8 + 4 + 4 + 4;
    uint32_t *reg = NULL;
    struct mm_dw_sample *samples = NULL;
    if (len < head + MM_DW_REGISTERS) {
        snprintf(err, err_len, "windows: %zu bytes, too short", len);
        return -1;
    }
    const unsigned char *p = buf, *end = buf + len;
    uint64_t seed0 = get64(&p), seed1 = get64(&p);
    uint32_t last = get32(&p), level = get32(&p), n_samples = get32(&p);
    const unsigned char *counts = p;
    p += MM_DW_REGISTERS;
    reg = calloc((size_t)MM_DW_REGISTERS * MM_DW_PAIRS, sizeof(*reg));
    samples = calloc(SLOTS, sizeof(*samples));
    if (!reg || !samples)
        FAIL("windows: out of memory");
    if (level > 63 || n_samples > MM_DW_SAMPLES || last > MAX_MINUTE)
        FAIL("windows: level %u, %u samples or minute %u out of range", level, n_samples, last);
    for (size_t j = 0; j < MM_DW_REGISTERS; j++) {
        if (counts[j] > MM_DW_PAIRS)
            FAIL("windows: register %zu has %u pairs", j, counts[j]);
        if ((size_t)(end - p) < 4u * counts[j])
            FAIL("windows: cut inside the registers");
        uint32_t *r = reg + j * MM_DW_PAIRS;
        for (unsigned i = 0; i < counts[j]; i++) {
            r[i] = get32(&p);
            unsigned rank = PAIR_RANK(r[i]);
            if (rank < 1 || rank > Q + 1 || PAIR_MINUTE(r[i]) > last ||
                (i > 0 && (PAIR_MINUTE(r[i]) <= PAIR_MINUTE(r[i - 1]) ||
                           rank >= PAIR_RANK(r[i - 1]))))
                FAIL("windows: register %zu holds an impossible pair", j);
        }
    }
    if ((size_t)(end - p) != 16u * n_samples)
        FAIL("windows: %zu bytes where %u samples take %u", (size_t)(end - p), n_samples,
             16u * n_samples);
    for (uint32_t i = 0; i < n_samples; i++) {
        struct mm_dw_sample s;
        s.hash = get64(&p);
        s.minute = get32(&p);
        s.country = get32(&p);
        if (!s.hash || !sampled(level, s.hash) || s.minute > last)
            FAIL("windows: sample %u is impossible", i);
        struct mm_dw_sample *slot = sample_slot(samples, s.hash);
        if (slot->hash)
            FAIL("windows: sample %u repeats", i);
        *slot = s;
    }
    free(w->reg);
    free(w->samples);
    w->reg = reg;
    w->samples = samples;
    w->n_samples = n_samples;
    w->level = level;
    w->seed[0] = seed0;
    w->seed[1] = seed1;
    w->last_minute = last;
    w->version++;
    return 0;
fail:
    free(reg);
    free(samples);
    return -1;
}
