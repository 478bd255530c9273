/* bench_util.h — the timing and reporting helpers the benchmark tools share
 * (nl_floor, sock_gather_bench, bench_exec): clocks, the program's own peak
 * memory, and the "samples_ms=... cpu_samples_ms=..." line run_bench.py reads. */
#ifndef MM_BENCH_UTIL_H
#define MM_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_ms(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* VmHWM: the peak of this program's own memory. ru_maxrss is not: Linux
 * carries it across execve, so it would include a big parent's copy. */
static inline long peak_rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Prints the raw samples, then sorts both arrays for the medians. */
static inline void print_samples_and_sort(double *wall, double *cpu, int runs)
{
    printf("samples_ms=");
    for (int i = 0; i < runs; i++)
        printf("%s%.3f", i ? "," : "", wall[i]);
    printf(" cpu_samples_ms=");
    for (int i = 0; i < runs; i++)
        printf("%s%.3f", i ? "," : "", cpu[i]);
    qsort(wall, (size_t)runs, sizeof(double), cmp_double);
    qsort(cpu, (size_t)runs, sizeof(double), cmp_double);
}

#endif
