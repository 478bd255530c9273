/* process_discovery.c — finds the proxy's master and workers in /proc
 * (see process_discovery.h). */
#include "host/process/process_discovery.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/number.h"
#include "core/log.h"
#include "host/procfs.h"

/* Linux's PID_MAX_LIMIT: /proc never lists more processes than this. */
#define MM_PROCS_MAX (4u * 1024u * 1024u)

struct mm_disc_proc {
    int pid, ppid;
};

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
    free(d->procs);
    free(d->matches);
    free(d->workers);
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

    char path[32];
    snprintf(path, sizeof(path), "%d/cmdline", pid);
    if (cap > MM_CMDLINE_MAX)
        cap = MM_CMDLINE_MAX;
    ssize_t n = mm_procfs_read_at(rootfd, path, buf, cap, NULL);
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

static int user_match_set(const struct mm_proc_match *m)
{
    return m->name != NULL || m->re != NULL;
}

/* The /stats pid: trusted when it is a live mtproto-proxy process or passes
 * the configured match. A proxy in a container reports its namespace's pid,
 * which on the host is some other process: that must not be trusted. */
static int check_hint(int rootfd, const struct mm_proc_match *m, int64_t hint, char *buf, size_t cap,
                      struct mm_discovery_result *res)
{
    if (hint <= 0 || hint > 0x7fffffff) {
        if (hint != 0)
            why_add(res, "pid %lld from the stats page is out of range", (long long)hint);
        return 0;
    }
    int pid = (int)hint;
    char path[32];
    snprintf(path, sizeof(path), "%d/stat", pid);
    struct mm_procfs_stat st;
    int rc = mm_procfs_read_stat(rootfd, path, &st);
    if (rc < 0 || is_dead(&st)) {
        why_add(res, "pid %d from the stats page is not running", pid);
        return 0;
    }
    if (strcmp(st.comm, MM_PROXY_COMM) == 0 ||
        (user_match_set(m) && mm_proc_matches(rootfd, m, pid, st.comm, buf, cap)))
        return pid;
    why_add(res, "pid %d from the stats page is '%s', not the proxy", pid, st.comm);
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

/* The PidFile's pid: trusted when the process lives and, if a match is
 * configured, passes it (a stale file may name a recycled pid). */
static int check_pidfile(int rootfd, const struct mm_proc_match *m, const char *pidfile, char *buf,
                         size_t cap, struct mm_discovery_result *res)
{
    char content[64], err[128];
    int truncated;
    ssize_t n = mm_procfs_read_at(AT_FDCWD, pidfile, content, sizeof(content), &truncated);
    if (n < 0) {
        why_add(res, "pidfile %s: %s", pidfile, mm_procfs_strerror((int)-n, err, sizeof(err)));
        return 0;
    }
    int pid;
    if (truncated || parse_pid(content, &pid) != 0) {
        why_add(res, "pidfile %s does not hold a pid", pidfile);
        return 0;
    }
    char path[32];
    snprintf(path, sizeof(path), "%d/stat", pid);
    struct mm_procfs_stat st;
    if (mm_procfs_read_stat(rootfd, path, &st) < 0 || is_dead(&st)) {
        why_add(res, "pid %d from pidfile %s is not running", pid, pidfile);
        return 0;
    }
    if (user_match_set(m) && !mm_proc_matches(rootfd, m, pid, st.comm, buf, cap)) {
        why_add(res, "pid %d from pidfile %s ('%s') does not pass the process match", pid, pidfile,
                st.comm);
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

/* Among the matches, the top-level ones (parent not a match) are master
 * candidates; the oldest wins so the choice is stable between gathers. */
static int pick_root(struct mm_discovery *d, struct mm_discovery_result *res)
{
    if (d->n_matches == 0)
        return 0;
    qsort(d->matches, d->n_matches, sizeof(*d->matches), cmp_match_pid);
    const struct mm_disc_match *best = NULL;
    for (size_t i = 0; i < d->n_matches; i++) {
        const struct mm_disc_match *c = &d->matches[i];
        struct mm_disc_match key = {.pid = c->ppid};
        if (bsearch(&key, d->matches, d->n_matches, sizeof(*d->matches), cmp_match_pid))
            continue;
        res->candidates++;
        if (!best || c->start < best->start || (c->start == best->start && c->pid < best->pid))
            best = c;
    }
    return best ? best->pid : 0;
}

void mm_discover(struct mm_discovery *d, DIR *proc, const struct mm_proc_match *m, int64_t pid_hint,
                 const char *pidfile, int self, char *buf, size_t cap,
                 struct mm_discovery_result *res)
{
    memset(res, 0, sizeof(*res));
    d->n_procs = d->n_matches = d->n_workers = 0;
    int rootfd = dirfd(proc);

    int master = check_hint(rootfd, m, pid_hint, buf, cap, res);
    if (master) {
        res->source = MM_PROCESS_SOURCE_HINT;
    } else if (pidfile && (master = check_pidfile(rootfd, m, pidfile, buf, cap, res)) != 0) {
        res->source = MM_PROCESS_SOURCE_PIDFILE;
    }

    /* The one walk over /proc: children of a known master, or else every
     * (pid, ppid) plus the matches, to find the master afterwards. */
    rewinddir(proc);
    struct dirent *e;
    while ((e = readdir(proc)) != NULL) {
        int pid = pid_of_name(e->d_name);
        if (pid == 0 || pid == master)
            continue;
        char path[32];
        snprintf(path, sizeof(path), "%d/stat", pid);
        struct mm_procfs_stat st;
        if (mm_procfs_read_stat(rootfd, path, &st) < 0 || is_dead(&st))
            continue; /* gone since readdir, or hidden: not ours */
        if (master) {
            if (st.ppid == master)
                add_worker(d, res, pid);
            continue;
        }
        if (reserve((void **)&d->procs, &d->procs_cap, d->n_procs, sizeof(*d->procs),
                    MM_PROCS_MAX) != 0) {
            res->out_of_memory = 1;
            break;
        }
        d->procs[d->n_procs++] = (struct mm_disc_proc){pid, st.ppid};
        if (pid == self || !mm_proc_matches(rootfd, m, pid, st.comm, buf, cap))
            continue;
        if (reserve((void **)&d->matches, &d->matches_cap, d->n_matches, sizeof(*d->matches),
                    MM_PROCS_MAX) != 0) {
            res->out_of_memory = 1;
            break;
        }
        d->matches[d->n_matches++] = (struct mm_disc_match){pid, st.ppid, st.starttime};
    }

    if (!master && !res->out_of_memory) {
        master = pick_root(d, res);
        if (master) {
            res->source = MM_PROCESS_SOURCE_MATCH;
            for (size_t i = 0; i < d->n_procs; i++)
                if (d->procs[i].ppid == master)
                    add_worker(d, res, d->procs[i].pid);
        } else if (m->re && m->name) {
            why_add(res, "no process named '%s' whose command line matches the regex", m->name);
        } else if (m->re) {
            why_add(res, "no process's command line matches the regex");
        } else {
            why_add(res, "no process named '%s'", m->name ? m->name : MM_PROXY_COMM);
        }
    }
    if (res->out_of_memory) {
        why_add(res, "out of memory while scanning /proc");
        master = 0;
        res->source = MM_PROCESS_SOURCE_NONE;
        d->n_workers = 0;
    }
    res->master = master;
    res->workers = d->workers;
    res->n_workers = master ? d->n_workers : 0;
}
