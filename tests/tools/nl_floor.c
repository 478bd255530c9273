/* nl_floor.c — the floor for the benchmark: the least a program can do to
 * count the sockets on one local port through netlink sock_diag. One
 * SOCK_DIAG_BY_FAMILY request per family with a bytecode "sport = :PORT",
 * ESTABLISHED only, no extensions; replies are counted, nothing else. This is
 * what perf-anchors.md calls n1 (minus the distinct-IP set).
 *
 *   nl_floor -p PORT [-k RUNS] [-w WARMUP] [-a] [-i] [-c] [-4]
 *
 * -a all states, -i ask for tcp_info too, -c one legacy AF_UNSPEC walk
 * (TCPDIAG_GETSOCK) instead of one walk per family, -4 IPv4 only. The
 * variants show what each of our choices costs in the kernel. Prints one line
 * of key=value pairs like sock_gather_bench. */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

static unsigned char buf[65536];

static long dump(int family, int port, int all, int info, int compat)
{
    struct {
        struct nlmsghdr h;
        union {
            struct inet_diag_req_v2 v2;
            struct inet_diag_req legacy;
        } r;
        struct rtattr rta;
        struct inet_diag_bc_op op;
        struct inet_diag_hostcond hc;
    } req;
    memset(&req, 0, sizeof(req));
    size_t rlen = compat ? sizeof(req.r.legacy) : sizeof(req.r.v2);
    unsigned states = all ? 0xffe : 1u << 1;
    unsigned char ext = info ? 1 << (INET_DIAG_INFO - 1) : 0;
    if (compat) {
        req.r.legacy.idiag_family = AF_UNSPEC;
        req.r.legacy.idiag_states = states;
        req.r.legacy.idiag_ext = ext;
    } else {
        req.r.v2.sdiag_family = (unsigned char)family;
        req.r.v2.sdiag_protocol = IPPROTO_TCP;
        req.r.v2.idiag_states = states;
        req.r.v2.idiag_ext = ext;
    }
    /* the attribute right after the request */
    unsigned char msg[256];
    size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(rlen);
    memcpy(msg + NLMSG_HDRLEN, &req.r, rlen);
    struct rtattr rta = {RTA_LENGTH(sizeof(req.op) + sizeof(req.hc)), INET_DIAG_REQ_BYTECODE};
    struct inet_diag_bc_op op = {INET_DIAG_BC_S_COND, sizeof(op) + sizeof(req.hc),
                                 sizeof(op) + sizeof(req.hc) + 4};
    struct inet_diag_hostcond hc;
    memset(&hc, 0, sizeof(hc));
    hc.family = AF_UNSPEC;
    hc.port = port;
    memcpy(msg + off, &rta, sizeof(rta));
    memcpy(msg + off + sizeof(rta), &op, sizeof(op));
    memcpy(msg + off + sizeof(rta) + sizeof(op), &hc, sizeof(hc));
    off += RTA_SPACE(sizeof(op) + sizeof(hc));
    struct nlmsghdr h = {(unsigned)off, compat ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY,
                         NLM_F_REQUEST | NLM_F_DUMP, 1, 0};
    memcpy(msg, &h, sizeof(h));

    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -1;
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};
    if (sendto(fd, msg, off, 0, (struct sockaddr *)&k, sizeof(k)) < 0) {
        close(fd);
        return -1;
    }
    long n = 0;
    for (;;) {
        ssize_t len = recv(fd, buf, sizeof(buf), 0);
        if (len < 0 && errno == EINTR)
            continue;
        if (len <= 0) {
            close(fd);
            return -1;
        }
        for (struct nlmsghdr *m = (void *)buf; NLMSG_OK(m, (size_t)len); m = NLMSG_NEXT(m, len)) {
            if (m->nlmsg_type == NLMSG_DONE) {
                close(fd);
                return n;
            }
            if (m->nlmsg_type == NLMSG_ERROR) {
                close(fd);
                return -1;
            }
            n++;
        }
    }
}


int main(int argc, char **argv)
{
    int port = 0, runs = 20, warmup = 2, all = 0, info = 0, compat = 0, v4only = 0, opt;
    while ((opt = getopt(argc, argv, "p:k:w:aic4")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'k': runs = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 'a': all = 1; break;
        case 'i': info = 1; break;
        case 'c': compat = 1; break;
        case '4': v4only = 1; break;
        default:
            fprintf(stderr, "usage: nl_floor -p PORT [-k RUNS] [-w WARMUP] [-a] [-i] [-c] [-4]\n");
            return 2;
        }
    }
    if (port <= 0 || runs < 1 || runs > 10000) {
        fprintf(stderr, "nl_floor: need -p PORT and 1..10000 runs\n");
        return 2;
    }
    double *wall = calloc((size_t)runs, sizeof(double)), *cpu = calloc((size_t)runs, sizeof(double));
    long n = 0;
    for (int i = -warmup; i < runs; i++) {
        double w0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (compat) {
            n = dump(AF_UNSPEC, port, all, info, 1);
        } else {
            n = dump(AF_INET, port, all, info, 0);
            long n6 = v4only ? 0 : dump(AF_INET6, port, all, info, 0);
            n = n < 0 || n6 < 0 ? -1 : n + n6;
        }
        if (n < 0) {
            fprintf(stderr, "nl_floor: dump failed\n");
            return 1;
        }
        double w1 = now_ms(CLOCK_MONOTONIC), c1 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (i >= 0) {
            wall[i] = w1 - w0;
            cpu[i] = c1 - c0;
        }
    }
    print_samples_and_sort(wall, cpu, runs);
    printf(" ");
    printf("wall_median_ms=%.3f wall_min_ms=%.3f wall_max_ms=%.3f cpu_median_ms=%.3f "
           "peak_rss_kb=%ld sockets=%ld\n",
           wall[runs / 2], wall[0], wall[runs - 1], cpu[runs / 2], peak_rss_kb(), n);
    free(wall);
    free(cpu);
    return 0;
}
