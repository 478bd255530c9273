/* process_discovery.h — which processes are the proxy: master and workers.
 *
 * The proxy's identity is kept between gathers and never handed to an
 * unrelated process. The master is, in order:
 *   1. the PID the stats page reported, if it is a live process named like
 *      the proxy (or passing the configured match);
 *   2. the master seen last, re-checked by PID and start time (steady state:
 *      no scan of /proc);
 *   3. the PidFile's PID (never 1), if it passes the match; with a PidFile
 *      nothing else is tried;
 *   4. a scan of /proc for top-level processes passing the match (comm, or a
 *      regex on the command line). Once a master was seen, only a process
 *      with the same identity (same command line, or same name and stats
 *      port) that started after the old master was last seen alive can
 *      follow it: orphaned workers and decoys never do. Before any master
 *      was seen, a process whose command line names another stats port than
 *      the URL's is not this instance's proxy, and with the default match
 *      (comm mtproto-proxy, or the detected implementation's identity,
 *      proxy_identity.h) it must name the URL's port or own a socket
 *      listening on it (its /proc/PID/fd, when readable). Several candidates
 *      and nothing to choose between them: none is taken.
 * Workers are the master's children, from /proc/PID/task/TID/children: the
 * main thread every gather, every thread when the master is new and every
 * MM_CHILDREN_FULL_EVERY gathers (a child forked by another thread). Internal
 * to the core: the public API is process.h. */
#ifndef MM_PROCESS_DISCOVERY_H
#define MM_PROCESS_DISCOVERY_H

#include <dirent.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "host/process/proxy_cmdline.h"
#include "host/procfs.h"

/* What MTProxy calls its processes (master, workers and threads). */
#define MM_PROXY_COMM "mtproto-proxy"
/* Children of the master considered; more is not a real MTProxy. */
/* How the master of the last gather was found. */
enum mm_process_source {
    MM_PROCESS_SOURCE_NONE,    /* not found */
    MM_PROCESS_SOURCE_HINT,    /* the pid key of the /stats page */
    MM_PROCESS_SOURCE_PIDFILE,
    MM_PROCESS_SOURCE_MATCH,   /* a scan of /proc (first master, or a successor) */
    MM_PROCESS_SOURCE_LAST_SEEN, /* the master of the previous gather, re-checked */
};

#define MM_PROCESS_MAX_WORKERS 4096
/* Command lines longer than this are matched on their start only. */
#define MM_CMDLINE_MAX 4096
/* Every this many gathers, every thread's children are listed. */
#define MM_CHILDREN_FULL_EVERY 16

struct mm_proc_match {
    const char *name;  /* exact /proc/PID/comm, or NULL */
    const regex_t *re; /* ERE on the command line, or NULL; both set: both must match */
};

/* The master seen last: what a successor must share with it. */
struct mm_identity {
    int pid;               /* 0: no master seen yet */
    uint64_t start;        /* clock ticks after boot */
    uint64_t alive_at;     /* ticks after boot of the last gather that saw it */
    char comm[MM_PROCFS_COMM_MAX];
    char cmdline[MM_CMDLINE_MAX]; /* raw, NUL-separated */
    size_t cmdline_len;
    struct mm_proxy_cmdline ports; /* what its command line names */
    int gone;              /* it exited; a successor is looked for */
};

/* State kept between calls (owned by the process state). */
struct mm_discovery {
    struct mm_disc_match *matches;
    size_t n_matches, matches_cap;
    int *workers;
    size_t n_workers, workers_cap;
    int *known;             /* the workers of the master seen last */
    size_t n_known, known_cap;
    struct mm_identity id;
    unsigned gathers;       /* since the master was found: paces full children listings */
    int no_children_file;   /* kernel without CONFIG_PROC_CHILDREN: workers by scan */
};

struct mm_discovery_result {
    int master;                     /* 0: none found */
    enum mm_process_source source;
    char how[256];                  /* how it was found, for the log */
    const int *workers;             /* points into struct mm_discovery */
    size_t n_workers;
    size_t workers_dropped;         /* beyond MM_PROCESS_MAX_WORKERS */
    size_t candidates;              /* scan: candidates seen (> 1: ambiguous) */
    int by_stats_port;              /* scan: the command line named the URL's stats port */
    int by_listener;                /* scan: it owns the listening socket of the URL's port */
    int lost;                       /* the master seen last exited in this gather */
    int lost_pid;
    int out_of_memory;
    int scanned;                    /* /proc was scanned */
    char why[400];                  /* what was tried, for the log */
};

void mm_discovery_init(struct mm_discovery *d);
void mm_discovery_free(struct mm_discovery *d);

/* What discovery is told about this instance. */
struct mm_discovery_input {
    const struct mm_proc_match *match;
    int match_configured;   /* a name or regex was configured (else the default) */
    int64_t pid_hint;       /* the stats page's pid, 0 */
    const char *pidfile;    /* NULL: none */
    int stats_port;         /* the URL's port, 0 unknown */
    const uint32_t *listen_inodes; /* inodes of the sockets listening on stats_port */
    size_t n_listen_inodes;        /* 0: unknown (not read, or unreadable) */
    int self;               /* the agent's pid: never the proxy */
    uint64_t now_ticks;     /* CLOCK_BOOTTIME in clock ticks */
    int verified_master;    /* the master seen last, already read by the caller with its
                               start time unchanged (mm_discovery_known); 0: check here */
};

/* The master seen last if it is not known to be gone (0: none), and its
 * start time: the caller may read it first and pass it as verified_master,
 * saving a second read of its stat file in the steady state. */
int mm_discovery_known(const struct mm_discovery *d, uint64_t *start);

/* proc: an open directory stream on the /proc root (rewound when scanned).
 * buf: scratch space of at least MM_CMDLINE_MAX bytes. */
void mm_discover(struct mm_discovery *d, DIR *proc, const struct mm_discovery_input *in, char *buf,
                 size_t cap, struct mm_discovery_result *res);

/* Whether a process (its stat already read) passes the match; reads
 * cmdline below rootfd when a regex is set. Exposed for the tests. */
int mm_proc_matches(int rootfd, const struct mm_proc_match *m, int pid, const char *comm, char *buf,
                    size_t cap);

#endif
