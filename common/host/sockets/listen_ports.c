/* listen_ports.c — where the proxy's processes listen (see listen_ports.h). */
#include "host/sockets/listen_ports.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/number.h"

struct listener {
    uint32_t inode;
    uint16_t port;
    struct mm_ip addr;
};

struct collect {
    struct listener *items;
    size_t n, cap;
};

static int collect_listener(void *ctx, const struct mm_sock *s)
{
    struct collect *c = ctx;
    if (s->inode == 0 || c->n == c->cap)
        return 0;
    c->items[c->n++] = (struct listener){s->inode, s->sport, s->src};
    return 0;
}

static int by_inode(const void *a, const void *b)
{
    const struct listener *x = a, *y = b;
    return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* "socket:[12345]" -> 12345; 0 for anything else. */
static uint32_t socket_inode(const char *link, size_t len)
{
    if (len < 10 || memcmp(link, "socket:[", 8) != 0 || link[len - 1] != ']')
        return 0;
    uint64_t v;
    if (mm_scan_u64(link + 8, link + len - 1, &v) != link + len - 1 || v > 0xffffffffu)
        return 0;
    return (uint32_t)v;
}

static void add_port(uint16_t *ports, size_t *n, size_t max, uint16_t port)
{
    for (size_t i = 0; i < *n; i++)
        if (ports[i] == port)
            return;
    if (*n < max)
        ports[(*n)++] = port;
}

static void add_endpoint(struct mm_endpoint *eps, size_t *n, size_t max, const struct listener *l)
{
    struct mm_endpoint e = {l->addr, mm_ip_is_unspecified(&l->addr), l->port};
    for (size_t i = 0; i < *n; i++)
        if (eps[i].port == e.port && eps[i].any == e.any && memcmp(&eps[i].addr, &e.addr, sizeof(e.addr)) == 0)
            return;
    if (*n < max)
        eps[(*n)++] = e;
}

/* Matches one process's socket fds against the listeners; -errno when its
 * fd directory cannot be read. */
static int scan_pid(int pid, const struct listener *ls, size_t n_ls, int exclude_port,
                    struct mm_endpoint *eps, size_t *n_eps, size_t max)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    DIR *dir = fdopendir(dfd);
    if (!dir) {
        int err = errno;
        close(dfd);
        return -err;
    }
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char link[64];
        ssize_t n = readlinkat(dfd, de->d_name, link, sizeof(link));
        if (n <= 0 || (size_t)n >= sizeof(link))
            continue;
        uint32_t ino = socket_inode(link, (size_t)n);
        if (!ino)
            continue;
        struct listener key = {ino, 0, {{0}}};
        const struct listener *hit = bsearch(&key, ls, n_ls, sizeof(*ls), by_inode);
        if (hit && hit->port != exclude_port)
            add_endpoint(eps, n_eps, max, hit);
    }
    closedir(dir); /* closes dfd */
    return 0;
}

static int by_port(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return x < y ? -1 : x > y;
}

/* Every listening socket, sorted by inode. NULL when the table could not
 * be read (logged). */
static int dump_listeners(struct mm_sockdiag *d, struct collect *c, const struct mm_logger *log)
{
    c->items = calloc(MM_LISTEN_MAX_SOCKETS, sizeof(struct listener));
    c->n = 0;
    c->cap = MM_LISTEN_MAX_SOCKETS;
    if (!c->items) {
        mm_log(log, MM_LOG_ERROR, "sockets: out of memory looking for listening ports");
        return -1;
    }
    struct mm_sockdiag_query q;
    memset(&q, 0, sizeof(q));
    q.states = 1u << MM_TCP_LISTEN;
    if (mm_sockdiag_dump(d, &q, collect_listener, c, NULL, log) < 0) {
        free(c->items);
        return -1;
    }
    qsort(c->items, c->n, sizeof(*c->items), by_inode);
    return 0;
}

int mm_listen_endpoints(struct mm_sockdiag *d, const int *pids, size_t n_pids, int exclude_port,
                        struct mm_endpoint *eps, size_t max, int *fd_err,
                        const struct mm_logger *log)
{
    if (fd_err)
        *fd_err = 0;
    struct collect c;
    if (dump_listeners(d, &c, log) < 0)
        return -1;
    /* The first process holding a listening socket answers: workers inherit
     * the master's listening sockets, and reading every worker's fd links
     * (one per client connection, ~3.5 us each) would cost ~350 ms at 100k. */
    size_t n = 0;
    for (size_t i = 0; i < n_pids && c.n > 0 && n == 0; i++) {
        if (pids[i] <= 0)
            continue;
        int rc = scan_pid(pids[i], c.items, c.n, exclude_port, eps, &n, max);
        if (rc < 0 && rc != -ENOENT && fd_err && !*fd_err)
            *fd_err = -rc;
    }
    free(c.items);
    return (int)n;
}

int mm_listen_endpoints_on(struct mm_sockdiag *d, const uint16_t *ports, size_t n_ports,
                           int exclude_port, struct mm_endpoint *eps, size_t max,
                           int *several_addrs, const struct mm_logger *log)
{
    if (several_addrs)
        *several_addrs = 0;
    struct collect c;
    if (dump_listeners(d, &c, log) < 0)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < c.n; i++) {
        const struct listener *l = &c.items[i];
        size_t k = 0;
        while (k < n_ports && ports[k] != l->port)
            k++;
        if (k == n_ports || l->port == exclude_port)
            continue;
        for (size_t j = 0; j < n && several_addrs; j++)
            if (eps[j].port == l->port && !eps[j].any && !mm_ip_is_unspecified(&l->addr) &&
                memcmp(&eps[j].addr, &l->addr, sizeof(l->addr)) != 0)
                *several_addrs = 1;
        add_endpoint(eps, &n, max, l);
    }
    free(c.items);
    return (int)n;
}

int mm_listen_ports(struct mm_sockdiag *d, const int *pids, size_t n_pids, int exclude_port,
                    uint16_t *ports, size_t max_ports, const struct mm_logger *log)
{
    struct mm_endpoint eps[MM_SOCKDIAG_MAX_PORTS];
    int n = mm_listen_endpoints(d, pids, n_pids, exclude_port, eps, MM_SOCKDIAG_MAX_PORTS, NULL, log);
    if (n < 0)
        return -1;
    size_t n_ports = 0;
    for (int i = 0; i < n; i++)
        add_port(ports, &n_ports, max_ports, eps[i].port);
    qsort(ports, n_ports, sizeof(*ports), by_port);
    return (int)n_ports;
}
