/* process_discovery.h — which processes are the proxy: master and workers.
 *
 * The master comes from, in order: the PID the /stats page reported (if it
 * still is a plausible proxy process), a PidFile, or a process match (exact
 * comm, or a POSIX ERE on the command line joined by spaces, like collectd's
 * ProcessMatch) whose parent is not itself a match. Workers are the
 * processes whose parent is the master. One readdir of /proc per call, and
 * only /proc/PID/stat per process (plus cmdline when matching a regex).
 * Internal to the core: the public API is process.h. */
#ifndef MM_PROCESS_DISCOVERY_H
#define MM_PROCESS_DISCOVERY_H

#include <dirent.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "host/process/process.h"

/* What MTProxy calls its processes (master, workers and threads). */
#define MM_PROXY_COMM "mtproto-proxy"
/* Children of the master considered; more is not a real MTProxy. */
#define MM_PROCESS_MAX_WORKERS 4096
/* Command lines longer than this are matched on their start only. */
#define MM_CMDLINE_MAX 4096

struct mm_proc_match {
    const char *name;  /* exact /proc/PID/comm, or NULL */
    const regex_t *re; /* ERE on the command line, or NULL; both set: both must match */
};

/* Buffers reused between calls (owned by the process state). */
struct mm_discovery {
    struct mm_disc_proc *procs; /* every process: pid, ppid (match mode only) */
    size_t n_procs, procs_cap;
    struct mm_disc_match *matches;
    size_t n_matches, matches_cap;
    int *workers;
    size_t n_workers, workers_cap;
};

struct mm_discovery_result {
    int master;                     /* 0: none found */
    enum mm_process_source source;
    const int *workers;             /* points into struct mm_discovery */
    size_t n_workers;
    size_t workers_dropped;         /* beyond MM_PROCESS_MAX_WORKERS */
    size_t candidates;              /* match mode: top-level matches seen */
    int out_of_memory;
    char why[400];                  /* what was tried, for the log */
};

void mm_discovery_init(struct mm_discovery *d);
void mm_discovery_free(struct mm_discovery *d);

/* proc: an open directory stream on the /proc root (rewound here).
 * buf: scratch space of at least MM_CMDLINE_MAX bytes. self: a PID never to
 * match (the agent itself, whose command line may contain the regex). */
void mm_discover(struct mm_discovery *d, DIR *proc, const struct mm_proc_match *m, int64_t pid_hint,
                 const char *pidfile, int self, char *buf, size_t cap,
                 struct mm_discovery_result *res);

/* Whether a process (its stat already read) passes the match; reads
 * cmdline below rootfd when a regex is set. Exposed for the tests. */
int mm_proc_matches(int rootfd, const struct mm_proc_match *m, int pid, const char *comm, char *buf,
                    size_t cap);

#endif
