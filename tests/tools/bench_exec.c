/* bench_exec.c — times a command the way perf-anchors.md did: fork/exec/wait4
 * from a small process, so the peak RSS reported is the command's and not a
 * copy of a big parent (Linux keeps ru_maxrss across execve).
 *
 *   bench_exec [-k RUNS] [-w WARMUP] -- COMMAND [ARGS...]
 *
 * Prints the same key=value line as sock_gather_bench: wall and CPU (user +
 * sys of the whole waited-for tree) per run, and the peak RSS. The command's
 * stdout and stderr go to /dev/null. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
    int runs = 20, warmup = 2, opt;
    while ((opt = getopt(argc, argv, "+k:w:")) != -1) {
        if (opt == 'k')
            runs = atoi(optarg);
        else if (opt == 'w')
            warmup = atoi(optarg);
        else
            optind = argc + 1;
    }
    if (optind >= argc || runs < 1 || runs > 10000) {
        fprintf(stderr, "usage: bench_exec [-k RUNS] [-w WARMUP] -- COMMAND [ARGS...]\n");
        return 2;
    }
    double *wall = calloc((size_t)runs, sizeof(double)), *cpu = calloc((size_t)runs, sizeof(double));
    long peak = 0;
    if (!wall || !cpu)
        return 1;
    for (int i = -warmup; i < runs; i++) {
        double t0 = now_ms(CLOCK_MONOTONIC);
        pid_t pid = fork();
        if (pid < 0) {
            perror("bench_exec: fork");
            return 1;
        }
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            execvp(argv[optind], argv + optind);
            _exit(127);
        }
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0) {
            perror("bench_exec: wait4");
            return 1;
        }
        double t1 = now_ms(CLOCK_MONOTONIC);
        if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
            fprintf(stderr, "bench_exec: %s did not run\n", argv[optind]);
            return 1;
        }
        if (i >= 0) {
            wall[i] = t1 - t0;
            cpu[i] = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
            if (ru.ru_maxrss > peak)
                peak = ru.ru_maxrss;
        }
    }
    print_samples_and_sort(wall, cpu, runs);
    printf(" wall_median_ms=%.3f wall_min_ms=%.3f wall_max_ms=%.3f cpu_median_ms=%.3f "
           "peak_rss_kb=%ld\n",
           wall[runs / 2], wall[0], wall[runs - 1], cpu[runs / 2], peak);
    free(wall);
    free(cpu);
    return 0;
}
