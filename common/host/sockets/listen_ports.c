/* listen_ports.c — ports the proxy's processes listen on (see listen_ports.h). */
#include "host/sockets/listen_ports.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/number.h"

struct listener {
    uint32_t inode;
    uint16_t port;
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
    c->items[c->n++] = (struct listener){s->inode, s->sport};
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

/* Matches one process's socket fds against the listeners. */
static void scan_pid(int pid, const struct listener *ls, size_t n_ls, int exclude_port,
                     uint16_t *ports, size_t *n_ports, size_t max_ports)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return;
    DIR *dir = fdopendir(dfd);
    if (!dir) {
        close(dfd);
        return;
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
        struct listener key = {ino, 0};
        const struct listener *hit = bsearch(&key, ls, n_ls, sizeof(*ls), by_inode);
        if (hit && hit->port != exclude_port)
            add_port(ports, n_ports, max_ports, hit->port);
    }
    closedir(dir); /* closes dfd */
}

static int by_port(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return x < y ? -1 : x > y;
}

int mm_listen_ports(struct mm_sockdiag *d, const int *pids, size_t n_pids, int exclude_port,
                    uint16_t *ports, size_t max_ports, const struct mm_logger *log)
{
    struct collect c = {calloc(MM_LISTEN_MAX_SOCKETS, sizeof(struct listener)), 0,
                        MM_LISTEN_MAX_SOCKETS};
    if (!c.items) {
        mm_log(log, MM_LOG_ERROR, "sockets: out of memory looking for listening ports");
        return -1;
    }
    struct mm_sockdiag_query q;
    memset(&q, 0, sizeof(q));
    q.states = 1u << MM_TCP_LISTEN;
    if (mm_sockdiag_dump(d, &q, collect_listener, &c, NULL, log) < 0) {
        free(c.items);
        return -1;
    }
    qsort(c.items, c.n, sizeof(*c.items), by_inode);

    /* The first process holding a listening socket answers: workers inherit
     * the master's listening sockets, and reading every worker's fd links
     * (one per client connection, ~3.5 us each) would cost ~350 ms at 100k. */
    size_t n_ports = 0;
    for (size_t i = 0; i < n_pids && c.n > 0 && n_ports == 0; i++)
        if (pids[i] > 0)
            scan_pid(pids[i], c.items, c.n, exclude_port, ports, &n_ports, max_ports);
    free(c.items);
    qsort(ports, n_ports, sizeof(*ports), by_port);
    return (int)n_ports;
}
