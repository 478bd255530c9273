/* test_windows.c — distinct addresses over time windows (distinct_windows.h)
 * with an injected clock: exact counts while small, the windows rolling per
 * minute, the clock going back, the sketch's error at several counts (over
 * several seeds), per-country figures, and the saved form. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "host/geo/countries.h"
#include "host/sockets/distinct_windows.h"

#define T0 29000000u /* a minute in 2025 */

static struct mm_ip ip_n(uint32_t n, int v6)
{
    struct mm_ip ip;
    memset(&ip, 0, sizeof(ip));
    if (v6) {
        ip.b[0] = 0x20;
        ip.b[1] = 0x01;
        memcpy(ip.b + 12, &n, 4);
    } else {
        ip.b[10] = ip.b[11] = 0xff;
        ip.b[12] = (unsigned char)(n >> 24);
        ip.b[13] = (unsigned char)(n >> 16);
        ip.b[14] = (unsigned char)(n >> 8);
        ip.b[15] = (unsigned char)n;
    }
    return ip;
}

static void add_range(struct mm_dw *w, uint32_t first, uint32_t n, uint32_t minute, const char *cc)
{
    uint32_t packed = mm_country_pack(cc);
    for (uint32_t i = 0; i < n; i++) {
        struct mm_ip ip = ip_n(first + i, (first + i) & 1);
        mm_dw_add(w, mm_dw_hash(w, &ip), minute, packed);
    }
}

static double rel_err(uint64_t got, uint64_t want)
{
    return fabs((double)got - (double)want) / (double)want;
}

static void exact_while_small(void)
{
    struct mm_dw w;
    CHECK(mm_dw_init(&w) == 0);
    add_range(&w, 1000, 1000, T0, "DE");
    add_range(&w, 500000, 1000, T0 + 5, "US");
    add_range(&w, 1000, 1000, T0 + 6, "DE"); /* the first set again: no change */
    CHECK(mm_dw_exact(&w));
    CHECK_INT_EQ(mm_dw_count(&w, T0 + 6, MM_DW_HOUR), 2000);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + 6, MM_DW_DAY), 2000);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + 6, MM_DW_WEEK), 2000);
    mm_dw_free(&w);
}

static void windows_roll_per_minute(void)
{
    struct mm_dw w;
    CHECK(mm_dw_init(&w) == 0);
    add_range(&w, 1, 300, T0, "DE");        /* set A at T0 */
    add_range(&w, 10001, 200, T0 + 30, "FR"); /* set B at T0+30 */
    CHECK_INT_EQ(mm_dw_count(&w, T0 + 59, MM_DW_HOUR), 500);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + 60, MM_DW_HOUR), 200); /* A seen 60 min ago: out */
    CHECK_INT_EQ(mm_dw_count(&w, T0 + 89, MM_DW_HOUR), 200);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + 90, MM_DW_HOUR), 0);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + 90, MM_DW_DAY), 500);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + MM_DW_DAY - 1, MM_DW_DAY), 500);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + MM_DW_DAY, MM_DW_DAY), 200);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + MM_DW_DAY + 30, MM_DW_DAY), 0);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + MM_DW_WEEK - 1, MM_DW_WEEK), 500);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + MM_DW_WEEK + 30, MM_DW_WEEK), 0);
    /* seen again: back in the hour */
    add_range(&w, 1, 10, T0 + 100, "DE");
    CHECK_INT_EQ(mm_dw_count(&w, T0 + 100, MM_DW_HOUR), 10);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + 100, MM_DW_DAY), 500);
    mm_dw_free(&w);
}

static void clock_going_back(void)
{
    struct mm_dw w;
    CHECK(mm_dw_init(&w) == 0);
    CHECK_INT_EQ(mm_dw_now(&w, T0), T0);
    add_range(&w, 1, 100, mm_dw_now(&w, T0), "DE");
    add_range(&w, 1001, 50, mm_dw_now(&w, T0 + 100), "DE");
    /* back by 90 minutes: held at T0+100, nothing drops, nothing counts twice */
    uint32_t now = mm_dw_now(&w, T0 + 10);
    CHECK_INT_EQ(now, T0 + 100);
    add_range(&w, 1001, 50, now, "DE");
    CHECK_INT_EQ(mm_dw_count(&w, now, MM_DW_HOUR), 50);
    CHECK_INT_EQ(mm_dw_count(&w, now, MM_DW_DAY), 150);
    /* the clock catches up and moves on */
    CHECK_INT_EQ(mm_dw_now(&w, T0 + 101), T0 + 101);
    /* back by more than a week: everything is forgotten */
    now = mm_dw_now(&w, T0 - MM_DW_WEEK);
    CHECK_INT_EQ(now, T0 - MM_DW_WEEK);
    CHECK_INT_EQ(mm_dw_count(&w, now, MM_DW_WEEK), 0);
    add_range(&w, 1, 7, now, "DE");
    CHECK_INT_EQ(mm_dw_count(&w, now, MM_DW_WEEK), 7);
    mm_dw_free(&w);
}

/* Relative error over several seeds at each count; the figures are printed
 * for docs/sockets.md. Bounds: exact up to MM_DW_SAMPLES; beyond, the mean
 * error within 0.6% and no single run beyond 1.5% (the combined estimate's
 * standard error is 0.56-0.65%; the sketch alone, 0.81%, had runs at 1.5%). */
static void sketch_error_at_several_counts(void)
{
    static const uint32_t counts[] = {2000, 8000, 16000, 20000, 25000, 40000, 100000, 400000};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        uint32_t n = counts[c];
        int seeds = n >= 400000 ? 6 : 20;
        double sum = 0, worst = 0;
        for (int s = 0; s < seeds; s++) {
            struct mm_dw w;
            CHECK(mm_dw_init(&w) == 0);
            w.seed[0] = 0x9e3779b97f4a7c15ULL * (uint64_t)(s + 1);
            w.seed[1] = 0xbf58476d1ce4e5b9ULL ^ (uint64_t)s;
            /* spread over an hour, some addresses twice */
            for (uint32_t i = 0; i < n; i++) {
                struct mm_ip ip = ip_n(i * 7919u + 13u, i & 1);
                mm_dw_add(&w, mm_dw_hash(&w, &ip), T0 + i % 60, 1);
                if (i % 5 == 0)
                    mm_dw_add(&w, mm_dw_hash(&w, &ip), T0 + 59, 1);
            }
            double e = rel_err(mm_dw_count(&w, T0 + 59, MM_DW_HOUR), n);
            sum += e;
            if (e > worst)
                worst = e;
            mm_dw_free(&w);
        }
        double mean = sum / seeds;
        printf("# %u distinct: mean error %.3f%%, worst %.3f%% over %d seeds\n", n, 100 * mean,
               100 * worst, seeds);
        if (n <= MM_DW_SAMPLES) {
            CHECK(worst == 0);
        } else {
            CHECK(mean <= 0.006);
            CHECK(worst <= 0.015);
        }
    }
}

/* Past the sample, the windows still roll: the hour forgets an old set. */
static void sketch_windows_roll(void)
{
    struct mm_dw w;
    CHECK(mm_dw_init(&w) == 0);
    add_range(&w, 1, 50000, T0, "DE");
    add_range(&w, 1000001, 30000, T0 + 120, "FR");
    CHECK(!mm_dw_exact(&w));
    uint64_t hour = mm_dw_count(&w, T0 + 130, MM_DW_HOUR);
    uint64_t day = mm_dw_count(&w, T0 + 130, MM_DW_DAY);
    printf("# 50k then 30k two hours later: 1h %llu, 24h %llu\n", (unsigned long long)hour,
           (unsigned long long)day);
    CHECK(rel_err(hour, 30000) < 0.03);
    CHECK(rel_err(day, 80000) < 0.03);
    CHECK(rel_err(mm_dw_count(&w, T0 + MM_DW_DAY + 1, MM_DW_DAY), 30000) < 0.03);
    CHECK_INT_EQ(mm_dw_count(&w, T0 + MM_DW_WEEK + 121, MM_DW_WEEK), 0);
    /* the sample never holds more than its bound */
    CHECK(w.n_samples <= MM_DW_SAMPLES);
    mm_dw_free(&w);
}

struct tally {
    uint64_t de, fr, other;
};

static void on_country(void *ctx, uint32_t cc, uint64_t n)
{
    struct tally *t = ctx;
    char code[MM_COUNTRY_CODE_MAX];
    mm_country_unpack(cc, code);
    if (strcmp(code, "DE") == 0)
        t->de += n;
    else if (strcmp(code, "FR") == 0)
        t->fr += n;
    else
        t->other += n;
}

static void per_country(void)
{
    struct mm_dw w;
    CHECK(mm_dw_init(&w) == 0);
    add_range(&w, 1, 700, T0, "DE");
    add_range(&w, 5001, 300, T0 + 10, "FR");
    add_range(&w, 9001, 5, T0 + 10, "unknown");
    struct tally t = {0, 0, 0};
    mm_dw_countries(&w, T0 + 20, MM_DW_DAY, on_country, &t);
    CHECK_INT_EQ(t.de, 700);
    CHECK_INT_EQ(t.fr, 300);
    CHECK_INT_EQ(t.other, 5);
    memset(&t, 0, sizeof(t));
    mm_dw_countries(&w, T0 + MM_DW_DAY + 5, MM_DW_DAY, on_country, &t);
    CHECK_INT_EQ(t.de, 0);
    CHECK_INT_EQ(t.fr, 300);
    /* sampled: scaled back, within the sampling error */
    add_range(&w, 100001, 60000, T0 + 20, "DE");
    memset(&t, 0, sizeof(t));
    mm_dw_countries(&w, T0 + 20, MM_DW_DAY, on_country, &t);
    printf("# sampled per country at level %u: DE %llu of 60700, FR %llu of 300\n", w.level,
           (unsigned long long)t.de, (unsigned long long)t.fr);
    CHECK(rel_err(t.de, 60700) < 0.05);
    mm_dw_free(&w);
}

static void country_codes_pack(void)
{
    char out[MM_COUNTRY_CODE_MAX];
    mm_country_unpack(mm_country_pack("DE"), out);
    CHECK(strcmp(out, "DE") == 0);
    mm_country_unpack(mm_country_pack("A1B"), out);
    CHECK(strcmp(out, "A1B") == 0);
    mm_country_unpack(mm_country_pack("unknown"), out);
    CHECK(strcmp(out, "unknown") == 0);
    CHECK(mm_country_pack("DE") != 0);
}

static void saved_form(void)
{
    struct mm_dw w, v;
    char err[256];
    CHECK(mm_dw_init(&w) == 0);
    CHECK(mm_dw_init(&v) == 0);
    add_range(&w, 1, 1500, T0, "DE");
    add_range(&w, 20001, 500, T0 + 40, "FR");
    unsigned char *buf = malloc(MM_DW_MAX_BYTES);
    CHECK(buf != NULL);
    size_t len = mm_dw_save(&w, buf);
    CHECK(len <= MM_DW_MAX_BYTES);
    CHECK(mm_dw_load(&v, buf, len, err, sizeof(err)) == 0);
    CHECK_INT_EQ(mm_dw_count(&v, T0 + 50, MM_DW_HOUR), 2000);
    CHECK_INT_EQ(mm_dw_count(&v, T0 + 70, MM_DW_HOUR), 500);
    CHECK(v.seed[0] == w.seed[0] && v.seed[1] == w.seed[1]);
    /* the same address after a load is the same hash: no double count */
    add_range(&v, 1, 1500, T0 + 50, "DE");
    CHECK_INT_EQ(mm_dw_count(&v, T0 + 50, MM_DW_HOUR), 2000);
    /* every cut is refused, v stays as it was */
    int refused = 0;
    for (size_t cut = 0; cut < len; cut += (cut < 20000 ? 1 : 97))
        refused += mm_dw_load(&v, buf, cut, err, sizeof(err)) < 0;
    size_t tried = 0;
    for (size_t cut = 0; cut < len; cut += (cut < 20000 ? 1 : 97))
        tried++;
    CHECK_INT_EQ(refused, tried);
    CHECK_INT_EQ(mm_dw_count(&v, T0 + 50, MM_DW_HOUR), 2000);
    /* an impossible register and a sample in the future are refused */
    unsigned char *bad = malloc(len);
    CHECK(bad != NULL);
    memcpy(bad, buf, len);
    bad[28] = MM_DW_PAIRS + 1;
    CHECK(mm_dw_load(&v, bad, len, err, sizeof(err)) < 0);
    memcpy(bad, buf, len);
    bad[16] = 0; /* last minute lowered below the samples' */
    bad[17] = 0;
    CHECK(mm_dw_load(&v, bad, len, err, sizeof(err)) < 0);
    free(bad);
    /* the bound holds at the worst: past the sample with full registers */
    add_range(&w, 3000001, 300000, T0 + 60, "US");
    len = mm_dw_save(&w, buf);
    printf("# saved form after 302000 addresses: %zu bytes (bound %zu)\n", len,
           (size_t)MM_DW_MAX_BYTES);
    CHECK(len <= MM_DW_MAX_BYTES);
    CHECK(MM_DW_MAX_BYTES < 1024 * 1024);
    free(buf);
    mm_dw_free(&w);
    mm_dw_free(&v);
}

int main(void)
{
    TEST(exact_while_small);
    TEST(windows_roll_per_minute);
    TEST(clock_going_back);
    TEST(sketch_error_at_several_counts);
    TEST(sketch_windows_roll);
    TEST(per_country);
    TEST(country_codes_pack);
    TEST(saved_form);
    return check_done();
}
