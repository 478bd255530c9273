/* proc_gather_bench.c — what one process gather costs (issue 13), for
 * run_bench.py: mm_process_gather() repeated against a running tree
 * (fake_mtproxy), CPU and wall time per gather.
 *
 *   proc_gather_bench -n NAME [-m MASTER_PID] [-k RUNS] [-w WARMUP]
 *     -n NAME  the tree's process name (the configured match)
 *     -m PID   pass the master's pid as the stats page's pid on every gather
 *              (else it is found by the name, then kept)
 * Prints "processes=N" and the samples line of bench_util.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "host/process/process.h"

static void quiet(void *ctx, enum mm_log_level level, const char *msg)
{
    (void)ctx;
    if (level <= MM_LOG_WARNING)
        fprintf(stderr, "proc_gather_bench: %s\n", msg);
}

int main(int argc, char **argv)
{
    const char *name = NULL;
    long master = 0;
    int runs = 200, warmup = 5, opt;
    while ((opt = getopt(argc, argv, "n:m:k:w:")) != -1) {
        switch (opt) {
        case 'n': name = optarg; break;
        case 'm': master = atol(optarg); break;
        case 'k': runs = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: proc_gather_bench -n NAME [-m PID] [-k RUNS] [-w WARMUP]\n");
            return 2;
        }
    }
    if (!name || runs < 1 || warmup < 0) {
        fprintf(stderr, "proc_gather_bench: -n NAME is required\n");
        return 2;
    }
    struct mm_logger log = {quiet, NULL};
    struct mm_process_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.process_match_name = strdup(name);
    struct mm_process_state st;
    if (!cfg.process_match_name || mm_process_state_init(&st, &cfg, &log) != 0)
        return 1;
    mm_process_config_free(&cfg);
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    double *wall = calloc((size_t)runs, sizeof(double)), *cpu = calloc((size_t)runs, sizeof(double));
    if (!wall || !cpu)
        return 1;
    for (int i = -warmup; i < runs; i++) {
        mm_snapshot_reset(&snap);
        double w0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        mm_process_gather(&st, master, &snap, &log);
        double w1 = now_ms(CLOCK_MONOTONIC), c1 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (i >= 0) {
            wall[i] = w1 - w0;
            cpu[i] = c1 - c0;
        }
    }
    int64_t processes = -1;
    for (size_t i = 0; i < snap.count; i++) {
        const char *role = mm_metric_label(&snap.items[i], "role");
        if (strcmp(snap.items[i].name, "processes") == 0 && role && strcmp(role, "all") == 0)
            processes = snap.items[i].value.i;
    }
    printf("processes=%lld ", (long long)processes);
    print_samples_and_sort(wall, cpu, runs);
    printf(" wall_ms=%.4f cpu_ms=%.4f\n", wall[runs / 2], cpu[runs / 2]);
    free(wall);
    free(cpu);
    mm_snapshot_free(&snap);
    mm_process_state_free(&st);
    return 0;
}
