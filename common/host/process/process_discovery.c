/* process_discovery.c — finds the proxy's master and workers in /proc and
 * keeps its identity between gathers (see process_discovery.h). */
#include "host/process/process_discovery.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/number.h"
#include "core/log.h"
#include "host/procfs.h"

/* Linux's PID_MAX_LIMIT: /proc never lists more processes than this. */
#define MM_PROCS_MAX (4u * 1024u * 1024u)

struct mm_disc_match {
    int pid, ppid;
    uint64_t start;
};

void mm_discovery_init(struct mm_discovery *d)
{
    memset(d, 0, sizeof(*d));
}

void mm_discovery_free(struct mm_discovery *d)
{
    free(d->matches);
    free(d->workers);
    free(d->known);
    mm_discovery_init(d);
}

/* Makes room for one more element; -1 when out of memory or at max. */
static int reserve(void **arr, size_t *cap, size_t count, size_t elem, size_t max)
{
    if (count < *cap)
        return 0;
    if (*cap >= max)
        return -1;
    size_t ncap = *cap ? *cap * 2 : 64;
    if (ncap > max)
        ncap = max;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

static void why_add(struct mm_discovery_result *res, const char *fmt, ...) MM_PRINTF(2, 3);

static void why_add(struct mm_discovery_result *res, const char *fmt, ...)
{
    size_t len = strlen(res->why);
    if (len + 3 >= sizeof(res->why))
        return;
    if (len > 0) {
        memcpy(res->why + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->why + len, sizeof(res->why) - len, fmt, ap);
    va_end(ap);
}

/* Dead processes (zombies) are never the proxy. */
static int is_dead(const struct mm_procfs_stat *st)
{
    return st->state == 'Z' || st->state == 'X' || st->state == 'x';
}

static int read_stat(int rootfd, int pid, struct mm_procfs_stat *st)
{
    char path[32];
    snprintf(path, sizeof(path), "%d/stat", pid);
    return mm_procfs_read_stat(rootfd, path, st);
}

/* The raw command line (NUL-separated) into buf; its length, or -1. */
static ssize_t read_cmdline(int rootfd, int pid, char *buf, size_t cap)
{
    char path[32];
    snprintf(path, sizeof(path), "%d/cmdline", pid);
    if (cap > MM_CMDLINE_MAX)
        cap = MM_CMDLINE_MAX;
    ssize_t n = mm_procfs_read_at(rootfd, path, buf, cap, NULL);
    return n < 0 ? -1 : n;
}

int mm_proc_matches(int rootfd, const struct mm_proc_match *m, int pid, const char *comm, char *buf,
                    size_t cap)
{
    const char *name = m->name;
    if (!name && !m->re)
        name = MM_PROXY_COMM;
    if (name && strcmp(comm, name) != 0)
        return 0;
    if (!m->re)
        return 1;
    ssize_t n = read_cmdline(rootfd, pid, buf, cap);
    if (n < 0)
        return 0;
    /* Arguments joined by spaces, as collectd's ProcessMatch sees them. */
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = '\0';
    const char *subject = n > 0 ? buf : comm; /* kernel threads, zombies */
    return regexec(m->re, subject, 0, NULL, 0) == 0;
}

/* A process that can be the proxy at all: alive, not init (pid 1, a PidFile
 * holding "1" names init and thereby every process), not the agent, not a
 * kernel thread (its parent is kthreadd, pid 2). */
static const char *unfit(const struct mm_procfs_stat *st, int pid, int self)
{
    if (pid <= 1)
        return "is init, never the proxy";
    if (pid == self)
        return "is the agent itself";
    if (is_dead(st))
        return "is a zombie";
    if (pid == 2 || st->ppid == 2)
        return "is a kernel thread";
    return NULL;
}

/* The stats page's pid: trusted when it is a live process named like the
 * proxy or passing the configured match. A proxy in a container reports its
 * namespace's pid, which on the host is some other process: not trusted. */
static int check_hint(int rootfd, const struct mm_discovery_input *in, char *buf, size_t cap,
                      struct mm_discovery_result *res)
{
    int64_t hint = in->pid_hint;
    if (hint <= 0 || hint > 0x7fffffff) {
        if (hint != 0)
            why_add(res, "pid %lld from the stats page is out of range", (long long)hint);
        return 0;
    }
    int pid = (int)hint;
    struct mm_procfs_stat st;
    if (read_stat(rootfd, pid, &st) < 0 || is_dead(&st)) {
        why_add(res, "pid %d from the stats page is not running", pid);
        return 0;
    }
    const char *bad = unfit(&st, pid, in->self);
    if (!bad && (strcmp(st.comm, MM_PROXY_COMM) == 0 ||
                 (in->match_configured && mm_proc_matches(rootfd, in->match, pid, st.comm, buf, cap))))
        return pid;
    why_add(res, "pid %d from the stats page is '%s', not the proxy", pid, st.comm);
    return 0;
}

/* The master seen last, if it still runs: same pid, same start time. */
static int check_last_seen(int rootfd, struct mm_discovery *d, struct mm_discovery_result *res)
{
    if (!d->id.pid || d->id.gone)
        return 0;
    struct mm_procfs_stat st;
    if (read_stat(rootfd, d->id.pid, &st) == 0 && !is_dead(&st) && st.starttime == d->id.start)
        return d->id.pid;
    d->id.gone = 1;
    res->lost = 1;
    res->lost_pid = d->id.pid;
    return 0;
}

static int parse_pid(const char *s, int *pid)
{
    while (*s == ' ' || *s == '\t')
        s++;
    uint64_t v;
    const char *end = mm_scan_u64(s, NULL, &v);
    if (!end)
        return -1;
    end += strspn(end, " \t\r\n");
    if (*end != '\0' || v == 0 || v > 0x7fffffff)
        return -1;
    *pid = (int)v;
    return 0;
}

/* The PidFile's pid: trusted when the process is fit and passes the match
 * (by default its name is mtproto-proxy): a stale file may name a recycled
 * pid, a wrong one init. */
static int check_pidfile(int rootfd, const struct mm_discovery_input *in, char *buf, size_t cap,
                         struct mm_discovery_result *res)
{
    const char *pidfile = in->pidfile;
    char content[64], err[128];
    int truncated;
    ssize_t n = mm_procfs_read_at(AT_FDCWD, pidfile, content, sizeof(content), &truncated);
    if (n < 0) {
        if (n == -EINVAL || n == -EISDIR)
            why_add(res, "pidfile %s is not a regular file", pidfile);
        else
            why_add(res, "pidfile %s: %s", pidfile, mm_procfs_strerror((int)-n, err, sizeof(err)));
        return 0;
    }
    int pid;
    if (truncated || parse_pid(content, &pid) != 0) {
        why_add(res, "pidfile %s does not hold a pid", pidfile);
        return 0;
    }
    struct mm_procfs_stat st;
    if (pid > 1 && (read_stat(rootfd, pid, &st) < 0 || is_dead(&st))) {
        why_add(res, "pid %d from pidfile %s is not running", pid, pidfile);
        return 0;
    }
    const char *bad = pid > 1 ? unfit(&st, pid, in->self) : "is init, never the proxy";
    if (bad) {
        why_add(res, "pid %d from pidfile %s %s", pid, pidfile, bad);
        return 0;
    }
    if (!mm_proc_matches(rootfd, in->match, pid, st.comm, buf, cap)) {
        why_add(res, "pid %d from pidfile %s is '%s', which does not pass the process match", pid,
                pidfile, st.comm);
        return 0;
    }
    return pid;
}

/* A /proc entry's pid: digits only, no leading zero; 0 for anything else. */
static int pid_of_name(const char *name)
{
    uint64_t v;
    const char *end = mm_scan_u64(name, NULL, &v);
    return *name != '0' && end && !*end && v <= 0x7fffffff ? (int)v : 0;
}

static void add_worker(struct mm_discovery *d, struct mm_discovery_result *res, int pid)
{
    for (size_t i = 0; i < d->n_workers; i++)
        if (d->workers[i] == pid)
            return; /* listed by two threads' children files */
    if (d->n_workers >= MM_PROCESS_MAX_WORKERS) {
        res->workers_dropped++;
        return;
    }
    if (reserve((void **)&d->workers, &d->workers_cap, d->n_workers, sizeof(int),
                MM_PROCESS_MAX_WORKERS) != 0) {
        res->out_of_memory = 1;
        return;
    }
    d->workers[d->n_workers++] = pid;
}

static int cmp_match_pid(const void *a, const void *b)
{
    const struct mm_disc_match *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Whether pid holds one of the listening sockets of the URL's port: a link
 * socket:[inode] in its fd directory. 0 when it does not or that directory
 * is unreadable (another user's process, for an unprivileged agent). */
static int owns_listener(int rootfd, int pid, const struct mm_discovery_input *in)
{
    char path[32];
    snprintf(path, sizeof(path), "%d/fd", pid);
    int dfd = openat(rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    DIR *dir = fdopendir(dfd);
    if (!dir) {
        close(dfd);
        return 0;
    }
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(dir)) != NULL) {
        char link[64];
        ssize_t n = readlinkat(dfd, e->d_name, link, sizeof(link) - 1);
        if (n <= 9 || memcmp(link, "socket:[", 8) != 0)
            continue;
        link[n] = '\0';
        uint64_t ino;
        const char *end = mm_scan_u64(link + 8, NULL, &ino);
        if (!end || strcmp(end, "]") != 0)
            continue;
        for (size_t i = 0; i < in->n_listen_inodes; i++)
            if (in->listen_inodes[i] == ino)
                found = 1;
    }
    closedir(dir);
    return found;
}

/* Whether candidate pid may be this instance's master: a successor of the
 * master seen last, or, before any was seen, consistent with the URL (2:
 * its command line names the URL's stats port, 3: it owns the URL's
 * listening socket). */
static int acceptable(const struct mm_discovery *d, const struct mm_discovery_input *in, int rootfd,
                      const struct mm_disc_match *c, const char *comm, char *buf, size_t cap)
{
    ssize_t n = read_cmdline(rootfd, c->pid, buf, cap);
    if (n < 0)
        return 0;
    struct mm_proxy_cmdline ports;
    mm_proxy_cmdline_parse(buf, (size_t)n, &ports);
    if (d->id.pid) {
        /* Started while the old master still ran (its orphaned workers, a
         * decoy): not its restart. */
        if (c->start < d->id.alive_at)
            return 0;
        for (size_t i = 0; i < d->n_known; i++)
            if (d->known[i] == c->pid && c->start <= d->id.alive_at)
                return 0; /* one of its workers, within the same clock tick */
        if ((size_t)n == d->id.cmdline_len && memcmp(buf, d->id.cmdline, (size_t)n) == 0)
            return 1;
        return d->id.ports.stats_port && ports.stats_port == d->id.ports.stats_port &&
               strcmp(comm, d->id.comm) == 0;
    }
    if (in->stats_port > 0 && ports.stats_port && ports.stats_port != in->stats_port)
        return 0; /* serves its stats elsewhere: another proxy */
    if (in->stats_port > 0 && ports.stats_port == in->stats_port)
        return 2; /* names the URL's port: positively this instance's */
    if (in->stats_port > 0 && in->n_listen_inodes && owns_listener(rootfd, c->pid, in))
        return 3; /* serves the URL's port itself (its command line may name none) */
    /* The default match must name the URL's port (when there is a URL). */
    return in->match_configured || in->stats_port <= 0;
}

/* Scan of /proc: every process passing the match, then the top-level ones
 * (parent not a match) that are acceptable. Exactly one is taken. */
static int scan(struct mm_discovery *d, DIR *proc, const struct mm_discovery_input *in, char *buf,
                size_t cap, struct mm_discovery_result *res)
{
    int rootfd = dirfd(proc);
    d->n_matches = 0;
    res->scanned = 1;
    rewinddir(proc);
    struct dirent *e;
    while ((e = readdir(proc)) != NULL) {
        int pid = pid_of_name(e->d_name);
        if (pid == 0)
            continue;
        struct mm_procfs_stat st;
        if (read_stat(rootfd, pid, &st) < 0 || unfit(&st, pid, in->self))
            continue; /* gone since readdir, or hidden: not ours */
        if (!mm_proc_matches(rootfd, in->match, pid, st.comm, buf, cap))
            continue;
        if (reserve((void **)&d->matches, &d->matches_cap, d->n_matches, sizeof(*d->matches),
                    MM_PROCS_MAX) != 0) {
            res->out_of_memory = 1;
            return 0;
        }
        d->matches[d->n_matches++] = (struct mm_disc_match){pid, st.ppid, st.starttime};
    }
    if (d->n_matches > 1) /* qsort with a NULL array is undefined even for 0 items */
        qsort(d->matches, d->n_matches, sizeof(*d->matches), cmp_match_pid);
    int chosen = 0, first_other = 0, by_port = 0, by_listener = 0;
    size_t top = 0;
    for (size_t i = 0; i < d->n_matches; i++) {
        const struct mm_disc_match *c = &d->matches[i];
        struct mm_disc_match key = {.pid = c->ppid};
        if (bsearch(&key, d->matches, d->n_matches, sizeof(*d->matches), cmp_match_pid))
            continue; /* a worker of a matching master */
        top++;
        struct mm_procfs_stat st;
        if (read_stat(rootfd, c->pid, &st) < 0)
            continue;
        int ok = acceptable(d, in, rootfd, c, st.comm, buf, cap);
        if (!ok) {
            if (!first_other)
                first_other = c->pid;
            continue;
        }
        res->candidates++;
        if (!chosen) {
            chosen = c->pid;
            by_port = ok == 2;
            by_listener = ok == 3;
        }
    }
    char what[96];
    if (in->match->re && in->match->name)
        snprintf(what, sizeof(what), "named '%s' whose command line matches the regex", in->match->name);
    else if (in->match->re)
        snprintf(what, sizeof(what), "whose command line matches the regex");
    else
        snprintf(what, sizeof(what), "named '%s'", in->match->name ? in->match->name : MM_PROXY_COMM);
    if (res->candidates > 1) {
        why_add(res, "%zu processes could be the proxy (pids %d and others); none is taken: "
                "configure a pidfile or a narrower process match", res->candidates, chosen);
        return 0;
    }
    if (chosen) {
        res->by_stats_port = by_port;
        res->by_listener = by_listener;
        return chosen;
    }
    if (top == 0)
        why_add(res, "no process %s", what);
    else if (d->id.pid)
        why_add(res, "%zu process(es) %s (e.g. pid %d), none with the command line of the master "
                "seen last (pid %d) and started after it", top, what, first_other, d->id.pid);
    else
        why_add(res, "%zu process(es) %s (e.g. pid %d), none serving its stats on port %d (-p on "
                "its command line, or its listening socket): another proxy's, or set a pidfile", top,
                what, first_other, in->stats_port);
    return 0;
}

/* One children file: "12 34 " into the worker list. -errno on failure. */
static int read_children(struct mm_discovery *d, int rootfd, const char *path, char *buf, size_t cap,
                         struct mm_discovery_result *res)
{
    ssize_t n = mm_procfs_read_at(rootfd, path, buf, cap, NULL);
    if (n < 0)
        return (int)n;
    for (const char *p = buf; *p;) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        uint64_t v;
        const char *end = mm_scan_u64(p, NULL, &v);
        if (!end)
            break;
        if (v > 1 && v <= 0x7fffffff)
            add_worker(d, res, (int)v);
        p = end;
    }
    return 0;
}

/* Workers: the master's children. Returns -1 when the kernel has no
 * children files (the caller scans /proc instead). */
static int list_children(struct mm_discovery *d, int rootfd, int master, int full, char *buf,
                         size_t cap, struct mm_discovery_result *res)
{
    char path[64];
    snprintf(path, sizeof(path), "%d/task/%d/children", master, master);
    int rc = read_children(d, rootfd, path, buf, cap, res);
    if (rc == -ENOENT) {
        struct mm_procfs_stat st;
        if (read_stat(rootfd, master, &st) == 0)
            return -1; /* the process lives, the file does not exist */
        return 0;
    }
    if (!full)
        return 0;
    snprintf(path, sizeof(path), "%d/task", master);
    int tfd = openat(rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tfd < 0)
        return 0;
    DIR *dir = fdopendir(tfd);
    if (!dir) {
        close(tfd);
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        int tid = pid_of_name(e->d_name);
        if (tid == 0 || tid == master)
            continue;
        snprintf(path, sizeof(path), "%d/children", tid);
        read_children(d, tfd, path, buf, cap, res);
    }
    closedir(dir);
    return 0;
}

/* Without children files: every process whose parent is the master. */
static void scan_children(struct mm_discovery *d, DIR *proc, int master,
                          struct mm_discovery_result *res)
{
    int rootfd = dirfd(proc);
    rewinddir(proc);
    res->scanned = 1;
    struct dirent *e;
    while ((e = readdir(proc)) != NULL) {
        int pid = pid_of_name(e->d_name);
        struct mm_procfs_stat st;
        if (pid && pid != master && read_stat(rootfd, pid, &st) == 0 && !is_dead(&st) &&
            st.ppid == master)
            add_worker(d, res, pid);
    }
}

/* Remembers the master as the identity a successor must share. */
static void remember(struct mm_discovery *d, int rootfd, int master, char *buf, size_t cap)
{
    struct mm_procfs_stat st;
    if (read_stat(rootfd, master, &st) < 0)
        return;
    if (d->id.pid != master || d->id.start != st.starttime) {
        struct mm_identity *id = &d->id;
        id->pid = master;
        id->start = st.starttime;
        snprintf(id->comm, sizeof(id->comm), "%s", st.comm);
        ssize_t n = read_cmdline(rootfd, master, buf, cap);
        id->cmdline_len = n > 0 ? (size_t)n : 0;
        memcpy(id->cmdline, buf, id->cmdline_len);
        mm_proxy_cmdline_parse(id->cmdline, id->cmdline_len, &id->ports);
        d->gathers = 0;
    }
    d->id.gone = 0;
}

int mm_discovery_known(const struct mm_discovery *d, uint64_t *start)
{
    if (!d->id.pid || d->id.gone)
        return 0;
    *start = d->id.start;
    return d->id.pid;
}

void mm_discover(struct mm_discovery *d, DIR *proc, const struct mm_discovery_input *in, char *buf,
                 size_t cap, struct mm_discovery_result *res)
{
    memset(res, 0, sizeof(*res));
    d->n_workers = 0;
    int rootfd = dirfd(proc);

    int master = 0;
    if (in->verified_master && in->verified_master == d->id.pid && !d->id.gone) {
        /* The caller read it and found the same start time: no second stat. */
        master = in->verified_master;
        res->source = in->pid_hint == master ? MM_PROCESS_SOURCE_HINT : MM_PROCESS_SOURCE_LAST_SEEN;
        snprintf(res->how, sizeof(res->how), "%s", in->pid_hint == master
                 ? "the stats page's pid" : "the master seen last (same pid and start time)");
    } else if ((master = check_hint(rootfd, in, buf, cap, res)) != 0) {
        res->source = MM_PROCESS_SOURCE_HINT;
        snprintf(res->how, sizeof(res->how), "the stats page's pid");
    } else if ((master = check_last_seen(rootfd, d, res)) != 0) {
        res->source = MM_PROCESS_SOURCE_LAST_SEEN;
        snprintf(res->how, sizeof(res->how), "the master seen last (same pid and start time)");
    } else if (in->pidfile) {
        /* A configured PidFile is the identity: no guessing besides it. */
        master = check_pidfile(rootfd, in, buf, cap, res);
        if (master) {
            res->source = MM_PROCESS_SOURCE_PIDFILE;
            snprintf(res->how, sizeof(res->how), "the pidfile %s", in->pidfile);
        }
    } else {
        int had = d->id.pid != 0;
        master = scan(d, proc, in, buf, cap, res);
        if (master) {
            res->source = MM_PROCESS_SOURCE_MATCH;
            if (had)
                snprintf(res->how, sizeof(res->how),
                         "the command line of the master seen last (pid %d)", d->id.pid);
            else
                snprintf(res->how, sizeof(res->how), "%s%s%s%.0d%s",
                         in->match_configured ? "the configured process match"
                         : in->match->name ? "its name " : "its command line",
                         in->match_configured || !in->match->name ? "" : in->match->name,
                         res->by_stats_port ? " and its stats port "
                         : res->by_listener ? " and its socket listening on the stats port " : "",
                         res->by_stats_port || res->by_listener ? in->stats_port : 0,
                         res->by_stats_port ? " (-p on its command line)" : "");
        }
    }
    if (res->out_of_memory)
        master = 0;

    if (master) {
        int fresh = !d->id.pid || d->id.pid != master;
        if (res->source != MM_PROCESS_SOURCE_LAST_SEEN)
            remember(d, rootfd, master, buf, cap);
        d->id.alive_at = in->now_ticks;
        int full = fresh || d->gathers % MM_CHILDREN_FULL_EVERY == 0;
        d->gathers++;
        if (d->no_children_file || list_children(d, rootfd, master, full, buf, cap, res) != 0) {
            d->no_children_file = 1;
            scan_children(d, proc, master, res);
        }
        /* The workers stay known after the master is gone: orphans. */
        if (d->n_workers > d->known_cap) {
            int *k = realloc(d->known, d->n_workers * sizeof(*k));
            if (k) {
                d->known = k;
                d->known_cap = d->n_workers;
            }
        }
        d->n_known = d->n_workers <= d->known_cap ? d->n_workers : 0;
        if (d->n_known)
            memcpy(d->known, d->workers, d->n_known * sizeof(*d->known));
    }
    if (res->out_of_memory) {
        why_add(res, "out of memory while reading /proc");
        master = 0;
        res->source = MM_PROCESS_SOURCE_NONE;
        d->n_workers = 0;
    }
    res->master = master;
    res->workers = d->workers;
    res->n_workers = master ? d->n_workers : 0;
}
