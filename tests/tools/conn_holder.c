/* conn_holder.c — holds many real TCP connections on loopback for the socket
 * tests and the benchmark.
 *
 *   conn_holder [-p PORT] [-6] [-t PORT] [-g IP:NIPS:K[:HALF]]... [-n N -k K -f HALF]
 *               [-s BYTES] [-r BYTES] [-D IP:N] [-L IP]
 *
 * It listens on 127.0.0.1:PORT (-6: [::]:PORT, dual-stack; PORT 0 picks one)
 * unless -t names a port to connect to instead, then opens the connections of
 * each group: NIPS source addresses counted up from IP (127.x.y.z, skipping
 * .0 and .255; or ::1), K connections from each, the last HALF of the group
 * half-closed (client FIN_WAIT2, server CLOSE_WAIT). -n/-k/-f is a group from
 * 127.1.0.1. -s: bytes each client sends, -r: bytes the server sends on
 * each accepted connection. -D: IPv4 clients connect to N destination
 * addresses counted up from IP in turn (the listener then binds 0.0.0.0),
 * which gives the upstream side several peers. -L: the IPv4 address listened
 * on and connected to (default 127.0.0.1). The hard RLIMIT_NOFILE here is 20000, so the
 * client ends and the server ends are spread over worker processes of at
 * most PER_PROC fds each. When every connection is up it prints
 *   READY port=P pid=PID connections=N
 * (after every half-closed client is in FIN_WAIT2: its FIN was taken, so the
 * server end is in CLOSE_WAIT) and holds until SIGTERM or SIGINT; the workers
 * then exit with SO_LINGER 0 on every socket, so teardown is RST and leaves no
 * TIME_WAIT behind. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PER_PROC 18000
#define MAX_GROUPS 64
#define MAX_CHILDREN 64

struct group {
    int family;
    unsigned char first[16];
    long n_ips, per_ip, half;
};

struct shared {
    atomic_long connected, accepted, failed;
    atomic_long settled; /* half-closed clients seen in FIN_WAIT2 */
};

static struct group groups[MAX_GROUPS];
static int n_groups;
static pid_t children[MAX_CHILDREN];
static int n_children;
static volatile sig_atomic_t stop;
static struct group dests; /* -D: destination addresses for IPv4 clients */
static uint32_t listen_ip;  /* -L: IPv4 address listened on and connected to (network order) */

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void die(const char *what)
{
    fprintf(stderr, "conn_holder: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void usage(void)
{
    fprintf(stderr, "usage: conn_holder [-p PORT] [-6] [-t PORT] [-g IP:NIPS:K[:HALF]]... "
                    "[-n N -k K -f HALF] [-s BYTES] [-r BYTES] [-D IP:N] [-L IP]\n");
    exit(2);
}

static int parse_group(const char *spec, struct group *g)
{
    char ip[64];
    const char *colon = strchr(spec, ':');
    /* IPv6 sources are written in brackets: [::1]:1:3 */
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(ip))
            return -1;
        memcpy(ip, spec + 1, (size_t)(close - spec - 1));
        ip[close - spec - 1] = '\0';
        colon = close + 1;
    } else {
        if (!colon || (size_t)(colon - spec) >= sizeof(ip))
            return -1;
        memcpy(ip, spec, (size_t)(colon - spec));
        ip[colon - spec] = '\0';
    }
    memset(g, 0, sizeof(*g));
    if (inet_pton(AF_INET, ip, g->first) == 1)
        g->family = AF_INET;
    else if (inet_pton(AF_INET6, ip, g->first) == 1)
        g->family = AF_INET6;
    else
        return -1;
    int n = sscanf(colon + 1, "%ld:%ld:%ld", &g->n_ips, &g->per_ip, &g->half);
    if (n < 2 || g->n_ips <= 0 || g->per_ip <= 0 || g->half < 0 || g->half > g->n_ips * g->per_ip)
        return -1;
    return 0;
}

/* The i-th source address of a group. */
static void group_ip(const struct group *g, long i, unsigned char *out)
{
    memcpy(out, g->first, 16);
    if (g->family == AF_INET6) {
        for (int b = 15; b >= 0 && i > 0; b--) { /* plain big-endian add */
            long v = out[b] + i;
            out[b] = (unsigned char)(v & 0xff);
            i = v >> 8;
        }
        return;
    }
    uint32_t a = ((uint32_t)out[0] << 24) | ((uint32_t)out[1] << 16) | ((uint32_t)out[2] << 8) |
                 out[3];
    for (long k = 0; k < i; k++) {
        a++;
        while ((a & 0xff) == 0 || (a & 0xff) == 255)
            a++;
    }
    out[0] = (unsigned char)(a >> 24);
    out[1] = (unsigned char)(a >> 16);
    out[2] = (unsigned char)(a >> 8);
    out[3] = (unsigned char)a;
}

static void set_linger0(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static void send_bytes(int fd, long n)
{
    static const char buf[4096];
    while (n > 0) {
        ssize_t w = send(fd, buf, n > (long)sizeof(buf) ? sizeof(buf) : (size_t)n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        n -= w;
    }
}

static void child_setup(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
}

static void hold_forever(void)
{
    for (;;)
        pause();
}

static void accept_worker(int lfd, long quota, long send_n, struct shared *sh)
{
    child_setup();
    for (long held = 0; held < quota;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf(stderr, "conn_holder: accept: %s\n", strerror(errno));
            break;
        }
        set_linger0(fd);
        if (send_n > 0)
            send_bytes(fd, send_n);
        held++;
        atomic_fetch_add(&sh->accepted, 1);
    }
    hold_forever();
}

/* Connection number `index` overall: which group, which source, half-closed? */
static int locate(long index, int *gi, long *ip_index, int *half)
{
    for (int g = 0; g < n_groups; g++) {
        long total = groups[g].n_ips * groups[g].per_ip;
        if (index < total) {
            *gi = g;
            *ip_index = index / groups[g].per_ip;
            *half = index >= total - groups[g].half;
            return 0;
        }
        index -= total;
    }
    return -1;
}

static int in_fin_wait2(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == TCP_FIN_WAIT2;
}

/* Polls the half-closed clients until each is in FIN_WAIT2 (a loaded host
 * may take a while to process a FIN); the parent's deadline bounds it. */
static void settle(int *fds, long n, struct shared *sh)
{
    while (n > 0) {
        long left = 0;
        for (long i = 0; i < n; i++) {
            if (in_fin_wait2(fds[i]))
                atomic_fetch_add(&sh->settled, 1);
            else
                fds[left++] = fds[i];
        }
        n = left;
        if (n > 0)
            usleep(1000);
    }
}

static void connect_worker(long from, long to, int target_port, long send_n, struct shared *sh)
{
    child_setup();
    int *half_fds = malloc((size_t)(to - from) * sizeof(*half_fds));
    long n_half = 0;
    if (!half_fds) {
        fprintf(stderr, "conn_holder: out of memory\n");
        atomic_fetch_add(&sh->failed, to - from);
        hold_forever();
    }
    for (long i = from; i < to; i++) {
        int gi, half;
        long ipi;
        if (locate(i, &gi, &ipi, &half) < 0)
            break;
        const struct group *g = &groups[gi];
        unsigned char src[16];
        group_ip(g, ipi, src);
        int fd = socket(g->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            fprintf(stderr, "conn_holder: socket: %s\n", strerror(errno));
            atomic_fetch_add(&sh->failed, 1);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_storage sa, da;
        socklen_t len;
        memset(&sa, 0, sizeof(sa));
        memset(&da, 0, sizeof(da));
        if (g->family == AF_INET) {
            struct sockaddr_in *s4 = (void *)&sa, *d4 = (void *)&da;
            s4->sin_family = d4->sin_family = AF_INET;
            memcpy(&s4->sin_addr, src, 4);
            d4->sin_addr.s_addr = listen_ip;
            if (dests.n_ips > 0) {
                unsigned char dst[16];
                group_ip(&dests, i % dests.n_ips, dst);
                memcpy(&d4->sin_addr, dst, 4);
            }
            d4->sin_port = htons((uint16_t)target_port);
            len = sizeof(*s4);
        } else {
            struct sockaddr_in6 *s6 = (void *)&sa, *d6 = (void *)&da;
            s6->sin6_family = d6->sin6_family = AF_INET6;
            memcpy(&s6->sin6_addr, src, 16);
            d6->sin6_addr = in6addr_loopback;
            d6->sin6_port = htons((uint16_t)target_port);
            len = sizeof(*s6);
        }
        if (bind(fd, (struct sockaddr *)&sa, len) < 0 ||
            connect(fd, (struct sockaddr *)&da, len) < 0) {
            fprintf(stderr, "conn_holder: connection %ld: %s\n", i, strerror(errno));
            close(fd);
            atomic_fetch_add(&sh->failed, 1);
            continue;
        }
        set_linger0(fd);
        if (send_n > 0)
            send_bytes(fd, send_n);
        if (half) {
            shutdown(fd, SHUT_WR);
            half_fds[n_half++] = fd;
        }
        atomic_fetch_add(&sh->connected, 1);
    }
    settle(half_fds, n_half, sh);
    free(half_fds);
    hold_forever();
}

static pid_t spawn(void)
{
    if (n_children == MAX_CHILDREN) {
        errno = EAGAIN;
        die("too many worker processes");
    }
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid > 0)
        children[n_children++] = pid;
    return pid;
}

static void stop_children(void)
{
    for (int i = 0; i < n_children; i++)
        kill(children[i], SIGTERM);
    for (int i = 0; i < n_children; i++)
        waitpid(children[i], NULL, 0);
}

int main(int argc, char **argv)
{
    int port = 0, v6 = 0, target = 0, opt;
    long n = 0, k = 1, f = 0, send_client = 0, send_server = 0;
    listen_ip = htonl(INADDR_LOOPBACK);
    while ((opt = getopt(argc, argv, "p:6t:g:n:k:f:s:r:D:L:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case '6': v6 = 1; break;
        case 't': target = atoi(optarg); break;
        case 'g':
            if (n_groups == MAX_GROUPS || parse_group(optarg, &groups[n_groups]) < 0)
                usage();
            n_groups++;
            break;
        case 'n': n = atol(optarg); break;
        case 'k': k = atol(optarg); break;
        case 'f': f = atol(optarg); break;
        case 's': send_client = atol(optarg); break;
        case 'r': send_server = atol(optarg); break;
        case 'L':
            if (inet_pton(AF_INET, optarg, &listen_ip) != 1)
                usage();
            break;
        case 'D': {
            char spec[96];
            snprintf(spec, sizeof(spec), "%s:1", optarg);
            if (parse_group(spec, &dests) < 0 || dests.family != AF_INET)
                usage();
            break;
        }
        default: usage();
        }
    }
    if (n > 0) {
        if (k <= 0 || n_groups == MAX_GROUPS)
            usage();
        char spec[96];
        snprintf(spec, sizeof(spec), "127.1.0.1:%ld:%ld:%ld", (n + k - 1) / k, k, f);
        if (parse_group(spec, &groups[n_groups]) < 0)
            usage();
        /* exactly n connections: the last IP may hold fewer */
        groups[n_groups].n_ips = n / k;
        if (groups[n_groups].half > n / k * k)
            usage();
        n_groups++;
        if (n % k) {
            snprintf(spec, sizeof(spec), "127.1.0.1:1:%ld", n % k);
            parse_group(spec, &groups[n_groups]);
            group_ip(&groups[n_groups - 1], n / k, groups[n_groups].first);
            n_groups++;
        }
    }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    long per_proc = rl.rlim_cur > 200 && rl.rlim_cur - 100 < PER_PROC ? (long)rl.rlim_cur - 100
                                                                        : PER_PROC;
    long total = 0;
    for (int g = 0; g < n_groups; g++)
        total += groups[g].n_ips * groups[g].per_ip;

    struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        die("mmap");
    atomic_init(&sh->connected, 0);
    atomic_init(&sh->accepted, 0);
    atomic_init(&sh->failed, 0);
    atomic_init(&sh->settled, 0);
    long total_half = 0;
    for (int g = 0; g < n_groups; g++)
        total_half += groups[g].half;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = -1;
    if (!target) {
        lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0)
            die("socket");
        int one = 1, zero = 0;
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_storage ls;
        socklen_t llen;
        memset(&ls, 0, sizeof(ls));
        if (v6) {
            setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
            struct sockaddr_in6 *s6 = (void *)&ls;
            s6->sin6_family = AF_INET6;
            s6->sin6_addr = in6addr_any;
            s6->sin6_port = htons((uint16_t)port);
            llen = sizeof(*s6);
        } else {
            struct sockaddr_in *s4 = (void *)&ls;
            s4->sin_family = AF_INET;
            s4->sin_addr.s_addr = dests.n_ips > 0 ? htonl(INADDR_ANY) : listen_ip;
            s4->sin_port = htons((uint16_t)port);
            llen = sizeof(*s4);
        }
        if (bind(lfd, (struct sockaddr *)&ls, llen) < 0 || listen(lfd, 65535) < 0)
            die("listen");
        if (getsockname(lfd, (struct sockaddr *)&ls, &llen) < 0)
            die("getsockname");
        port = v6 ? ntohs(((struct sockaddr_in6 *)&ls)->sin6_port)
                  : ntohs(((struct sockaddr_in *)&ls)->sin_port);
        /* one spare acceptor: the kernel does not spread accepts evenly */
        for (long quota = 0; quota < total + per_proc; quota += per_proc)
            if (spawn() == 0)
                accept_worker(lfd, per_proc, send_server, sh);
    }
    int connect_port = target ? target : port;
    for (long from = 0; from < total; from += per_proc)
        if (spawn() == 0)
            connect_worker(from, from + per_proc < total ? from + per_proc : total, connect_port,
                           send_client, sh);

    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        long c = atomic_load(&sh->connected), a = atomic_load(&sh->accepted),
             x = atomic_load(&sh->failed), h = atomic_load(&sh->settled);
        if (c + x >= total && (target || a >= c) && (x > 0 || h >= total_half))
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (stop || now.tv_sec - start.tv_sec > 120) {
            fprintf(stderr, "conn_holder: gave up: %ld connected, %ld accepted, %ld failed of %ld, "
                            "%ld of %ld half-closed in FIN_WAIT2\n",
                    c, a, x, total, h, total_half);
            stop_children();
            return 1;
        }
        usleep(2000);
    }
    if (atomic_load(&sh->failed) > 0) {
        fprintf(stderr, "conn_holder: %ld connections failed\n", atomic_load(&sh->failed));
        stop_children();
        return 1;
    }
    /* Blocked from here on and taken only inside sigsuspend: no lost wakeup. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    printf("READY port=%d pid=%d connections=%ld\n", port, (int)getpid(), total);
    fflush(stdout);
    while (!stop)
        sigsuspend(&old);
    stop_children();
    if (lfd >= 0)
        close(lfd);
    return 0;
}
