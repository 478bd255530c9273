/* fleet_bench.c — what the fleet costs an agent per gather at N client
 * addresses (tests/bench/run_bench.py --only fleet).
 *
 *   fleet_bench SOCKET_PATH N [ROUNDS]
 *
 * Per round, against the real Redis on the unix socket: the first gather of
 * an hour (N new addresses hashed, remembered and queued, then pushed as
 * pipelined PFADDs), and a gather of a new minute within the hour (the same N
 * addresses handed over again, all already seen: nothing sent). Prints
 * key=value lines: the median CPU and wall ms of each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet/fleet_push.h"
#include "fleet/fleet_redis.h"
#include "fleet/redis_url.h"

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int64_t mono_ms(int monotonic)
{
    (void)monotonic;
    return (int64_t)now_ms(CLOCK_MONOTONIC);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fleet_bench SOCKET_PATH N [ROUNDS]\n");
        return 2;
    }
    size_t n = strtoul(argv[2], NULL, 10);
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (rounds < 1 || rounds > 100 || n == 0)
        return 2;
    char url[160], err[256];
    snprintf(url, sizeof(url), "redis+unix://%s", argv[1]);
    struct mm_redis_target t;
    if (mm_redis_url_parse(url, &t, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double push_cpu[100], push_wall[100], again_cpu[100], again_wall[100];
    for (int r = 0; r < rounds; r++) {
        struct mm_fleet_push p;
        struct mm_fleet_redis redis;
        enum mm_fleet_fail kind;
        if (mm_fleet_push_init(&p, "bench", "bench-salt-0123456789", 0) != 0)
            return 1;
        mm_fleet_redis_init(&redis, &t, NULL, 60);
        if (mm_fleet_redis_ensure(&redis, mono_ms(1), &kind, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        uint32_t hour = 500000 + (uint32_t)r; /* a fresh key per round */
        unsigned char ip[16] = { 0 };
        ip[10] = ip[11] = 0xff;
        double c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID), w0 = now_ms(CLOCK_MONOTONIC);
        for (size_t i = 0; i < n; i++) {
            uint32_t a = 0x0a000000u + (uint32_t)i;
            ip[12] = (unsigned char)(a >> 24), ip[13] = (unsigned char)(a >> 16);
            ip[14] = (unsigned char)(a >> 8), ip[15] = (unsigned char)a;
            mm_fleet_push_add(&p, ip, sizeof(ip), NULL, hour);
        }
        if (mm_fleet_push_send(&p, redis.c, mono_ms(1) + 60000, mono_ms, &kind, err, sizeof(err)) != 0 ||
            p.queue.len) {
            fprintf(stderr, "send: %s\n", err);
            return 1;
        }
        push_cpu[r] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        push_wall[r] = now_ms(CLOCK_MONOTONIC) - w0;
        c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID), w0 = now_ms(CLOCK_MONOTONIC);
        for (size_t i = 0; i < n; i++) {
            uint32_t a = 0x0a000000u + (uint32_t)i;
            ip[12] = (unsigned char)(a >> 24), ip[13] = (unsigned char)(a >> 16);
            ip[14] = (unsigned char)(a >> 8), ip[15] = (unsigned char)a;
            mm_fleet_push_add(&p, ip, sizeof(ip), NULL, hour);
        }
        again_cpu[r] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        again_wall[r] = now_ms(CLOCK_MONOTONIC) - w0;
        if (p.queue.len) {
            fprintf(stderr, "seen addresses were queued again\n");
            return 1;
        }
        mm_fleet_redis_free(&redis);
        mm_fleet_push_free(&p);
    }
    printf("addresses=%zu\nrounds=%d\n", n, rounds);
    printf("hour_push_cpu_ms=%.2f\nhour_push_wall_ms=%.2f\n", median(push_cpu, rounds), median(push_wall, rounds));
    printf("minute_cpu_ms=%.2f\nminute_wall_ms=%.2f\n", median(again_cpu, rounds), median(again_wall, rounds));
    return 0;
}
