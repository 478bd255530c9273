/* sock_gather_bench.c — times the full connections gather (sockets.h) in one
 * process, the way an agent runs it every interval: states, distinct IPs,
 * countries, metrics appended to a snapshot.
 *
 *   sock_gather_bench -p PORT [-u PORT] [-g DB] [-k RUNS] [-w WARMUP] [-l] [-b] [-m auto|v2|proc]
 *                     [-d PID,PID,...] [-s STATE_FILE]
 *
 * -l counts loopback clients (the benchmark's clients are 127.x.y.z). -b
 * asks for tcp_info and the byte sums (SocketBytes true). -d
 * also times one listening-port discovery over those processes' fds (what a
 * gather without a configured client port does when the PID set changes).
 * -s keeps the client windows in that state file (as the fronts do with
 * StateFile) and times 20 writes of it after the gathers.
 * Prints one line of key=value pairs: wall and CPU ms per gather (median,
 * min, max), peak RSS, and what the last gather counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/number.h"
#include "host/sockets/listen_ports.h"
#include "host/sockets/sockets.h"

#include "bench_util.h"

static void log_stderr(void *ctx, enum mm_log_level level, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "%s %s\n", level == MM_LOG_ERROR ? "E!" : level == MM_LOG_WARNING ? "W!" : "I!",
            msg);
}


static long long value(const struct mm_snapshot *s, enum mm_origin g, const char *name,
                       const char *key, const char *label)
{
    for (size_t i = 0; i < s->count; i++) {
        const char *v = mm_metric_label(&s->items[i], key);
        if (s->items[i].origin == g && strcmp(s->items[i].name, name) == 0 && v &&
            strcmp(v, label) == 0)
            return s->items[i].value.i;
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct mm_sockets_config cfg;
    mm_sockets_config_init(&cfg);
    cfg.upstream_off = 1;
    int runs = 20, warmup = 2, opt;
    const char *mode = "auto";
    int pids[256];
    size_t n_pids = 0;
    char err[256];
    int64_t port = 0;
    const char *state_file = NULL;
    while ((opt = getopt(argc, argv, "p:u:g:k:w:lbm:d:s:")) != -1) {
        int rc = 0;
        switch (opt) {
        case 'p':
            rc = mm_parse_i64(optarg, 1, 65535, &port, err, sizeof(err));
            if (rc == 0)
                rc = mm_sockets_config_add_client_port(&cfg, (int)port, err, sizeof(err));
            break;
        case 'u':
            /* upstream stand-ins on loopback: 127/8, this remote port */
            rc = mm_parse_i64(optarg, 0, 65535, &port, err, sizeof(err));
            if (rc == 0 && port > 0) {
                cfg.upstream_off = 0;
                rc = mm_sockets_config_add_upstream_net(&cfg, "127.0.0.0/8", err, sizeof(err));
                if (rc == 0)
                    rc = mm_sockets_config_add_upstream_port(&cfg, (int)port, err, sizeof(err));
            }
            break;
        case 'g': rc = mm_sockets_config_set_geoip_path(&cfg, optarg, err, sizeof(err)); break;
        case 'k': runs = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 'l': cfg.include_local = 1; break;
        case 'b': cfg.socket_bytes = 1; break;
        case 'm': mode = optarg; break;
        case 's': state_file = optarg; break;
        case 'd':
            for (char *tok = strtok(optarg, ","); tok && n_pids < 256; tok = strtok(NULL, ","))
                pids[n_pids++] = atoi(tok);
            break;
        default:
            fprintf(stderr, "usage: sock_gather_bench -p PORT [-u PORT] [-g DB] [-k RUNS] "
                            "[-w WARMUP] [-l] [-b] [-m auto|v2|proc] [-d PID,...]\n");
            return 2;
        }
        if (rc < 0) {
            fprintf(stderr, "sock_gather_bench: %s\n", err);
            return 2;
        }
    }
    if (runs < 1 || runs > 10000) {
        fprintf(stderr, "sock_gather_bench: runs must be 1..10000\n");
        return 2;
    }

    struct mm_sockets_state *st = malloc(sizeof(*st));
    struct mm_snapshot snap;
    struct mm_logger log = {log_stderr, NULL};
    if (!st || mm_sockets_state_init(st) < 0) {
        fprintf(stderr, "sock_gather_bench: out of memory\n");
        return 1;
    }
    if (strcmp(mode, "v2") == 0)
        st->diag.walk = MM_SOCKDIAG_WALK_V2;
    else if (strcmp(mode, "proc") == 0)
        st->diag.force_proc = 1;
    mm_snapshot_init(&snap);
    if (state_file)
        mm_sockets_state_use_file(st, state_file, "bench", &log);

    double discovery_ms = -1;
    int discovered = -1;
    if (n_pids > 0) {
        uint16_t ports[16];
        double t0 = now_ms(CLOCK_MONOTONIC);
        discovered = mm_listen_ports(&st->diag, pids, n_pids, 0, ports, 16, &log);
        discovery_ms = now_ms(CLOCK_MONOTONIC) - t0;
    }

    double *wall = calloc((size_t)runs, sizeof(double)), *cpu = calloc((size_t)runs, sizeof(double));
    if (!wall || !cpu)
        return 1;
    for (int i = -warmup; i < runs; i++) {
        mm_snapshot_reset(&snap);
        double w0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (mm_sockets_gather(st, &cfg, NULL, &snap, &log) < 0)
            return 1;
        double w1 = now_ms(CLOCK_MONOTONIC), c1 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (i >= 0) {
            wall[i] = w1 - w0;
            cpu[i] = c1 - c0;
        }
    }
    /* the state file: size and the cost of one write (median of 20) */
    double writes[20];
    long state_bytes = -1;
    for (int i = 0; state_file && i < 20; i++) {
        double w0 = now_ms(CLOCK_MONOTONIC);
        state_bytes = mm_clients_save_now(&st->clients, &log);
        writes[i] = now_ms(CLOCK_MONOTONIC) - w0;
    }
    if (state_file)
        qsort(writes, 20, sizeof(double), cmp_double);
    print_samples_and_sort(wall, cpu, runs);
    printf(" state_bytes=%ld state_write_ms=%.3f state_write_min_ms=%.3f ", state_bytes,
           state_file ? writes[10] : -1.0, state_file ? writes[0] : -1.0);
    size_t countries = 0;
    for (size_t i = 0; i < snap.count; i++)
        countries += snap.items[i].origin == MM_ORIGIN_COUNTRY;

    printf("wall_median_ms=%.3f wall_min_ms=%.3f wall_max_ms=%.3f cpu_median_ms=%.3f "
           "peak_rss_kb=%ld established=%lld close_wait=%lld unique_ips=%lld max_per_ip=%lld "
           "country_series=%zu method=%s walk=%d discovery_ms=%.3f discovery_ports=%d\n",
           wall[runs / 2], wall[0], wall[runs - 1], cpu[runs / 2], peak_rss_kb(),
           value(&snap, MM_ORIGIN_CONNECTIONS, "established", "side", "client"),
           value(&snap, MM_ORIGIN_CONNECTIONS, "close_wait", "side", "client"),
           value(&snap, MM_ORIGIN_CONNECTIONS, "unique_ips", "side", "client"),
           value(&snap, MM_ORIGIN_CONNECTIONS, "max_per_ip", "side", "client"), countries,
           st->diag.method == MM_SOCKDIAG_PROC ? "proc" : "netlink", (int)st->diag.walk,
           discovery_ms, discovered);
    free(wall);
    free(cpu);
    mm_snapshot_free(&snap);
    mm_sockets_state_free(st);
    free(st);
    mm_sockets_config_free(&cfg);
    return 0;
}
