/* process.h — what the proxy's processes cost the host, from /proc.
 *
 * Each gather finds MTProxy's master (the /stats page's pid, a pidfile, or a
 * process match) and its workers (children of the master), reads their
 * resources and appends MM_ORIGIN_PROCESS metrics labelled role=master,
 * role=workers (summed) and role=all to a snapshot. docs/process-metrics.md
 * lists every metric. A state is per instance and used by one thread at a
 * time; states of different instances are independent (no globals). */
#ifndef MM_PROCESS_H
#define MM_PROCESS_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "core/metric.h"
#include "host/process/process_discovery.h"

/* How to find the master when the /stats page gave no usable pid. All
 * strings are owned (malloc'ed) and freed by mm_process_config_free. With
 * none set, the process match is the detected implementation's identity
 * (mm_process_set_implementation), by default comm == "mtproto-proxy". */
struct mm_process_config {
    char *pidfile;             /* path of a file holding the master's pid */
    char *process_match_name;  /* exact /proc/PID/comm, at most 15 characters */
    char *process_match_regex; /* POSIX ERE on the command line joined by spaces;
                                  with a name too, both must match */
    int stats_port;            /* the stats URL's port (set by the instance, not an
                                  option): a proxy serving its stats elsewhere is
                                  another proxy; 0: unknown */
};

void mm_process_config_free(struct mm_process_config *cfg);

struct mm_discovery;
struct mm_proxy_identity;
struct mm_sockdiag;
struct mm_group_counters;

/* Public so an instance can embed it; fields are private to process.c
 * except the two test knobs. */
struct mm_process_state {
    char *pidfile;
    char *match_name;
    regex_t match_re;
    int have_match_re;
    int stats_port;
    /* The detected implementation's default identity (proxy_identity.h),
     * used when nothing is configured; NULL: comm mtproto-proxy. */
    const struct mm_proxy_identity *impl_id;
    regex_t impl_re;
    int have_impl_re;
    struct mm_sockdiag *sockdiag; /* listeners of the stats port; made when first needed */

    /* Test knobs, may be changed after init. */
    const char *proc_root; /* "/proc"; a copy of a /proc tree for fixture tests */
    int fd_count_readdir;  /* 1: list /proc/PID/fd even where its st_size gives the count */

    struct mm_discovery *disc;
    struct mm_group_counters *counters;
    char *buf; /* scratch for /proc file contents */
    size_t buf_cap;
    long clk_tck, page_size;

    /* The last gather. */
    int master_pid;
    int64_t master_start_time; /* unix seconds */
    enum mm_process_source source;
    int *pids; /* master first, then the workers read */
    size_t n_pids, pids_cap;

    /* Restart detection: the master seen last (pid, start in ticks after
     * boot: immune to wall-clock steps, unlike a unix time). */
    int have_prev;
    int prev_pid;
    uint64_t prev_start_ticks;
    int64_t restarts;

    /* Logging: one warning per state for unreadable fd / io, latches for
     * conditions that may last many gathers. */
    int warned_fd, warned_io;
    struct mm_error_latch none_latch, workers_latch, emit_latch;
};

/* Copies the config (cfg may be NULL), compiles the regex. Returns 0, or -1
 * with a message logged (bad regex, over-long name, out of memory); the
 * state then needs no free. */
int mm_process_state_init(struct mm_process_state *st, const struct mm_process_config *cfg,
                          const struct mm_logger *log);

/* One gather. pid_hint: the /stats page's pid, 0 when unknown. Appends the
 * metrics to out (never resets it); always at least `processes` for the
 * three roles and `restarts`. */
void mm_process_gather(struct mm_process_state *st, int64_t pid_hint, struct mm_snapshot *out,
                       const struct mm_logger *log);

void mm_process_state_free(struct mm_process_state *st);

/* Tells the state which implementation wrote the page (the `implementation`
 * fact; NULL or "" unknown). With no ProcessName, ProcessMatch or PidFile
 * configured, discovery then looks for that implementation's processes
 * (mtg, telemt, ...) instead of mtproto-proxy, under the same identity
 * rules. Cheap when unchanged; returns -1 (logged) only when out of memory,
 * and the previous identity stays. */
int mm_process_set_implementation(struct mm_process_state *st, const char *implementation,
                                  const struct mm_logger *log);

/* The pids read in the last gather, master first; returns how many were
 * copied (at most max). 0 when no proxy was found. */
size_t mm_process_pids(const struct mm_process_state *st, int *pids, size_t max);

/* The last gather's master: pid (0: none) and start as unix seconds. */
int mm_process_master_pid(const struct mm_process_state *st);
int64_t mm_process_master_start_time(const struct mm_process_state *st);
enum mm_process_source mm_process_source(const struct mm_process_state *st);
const char *mm_process_source_name(enum mm_process_source source);

struct mm_proxy_cmdline;
/* What the command line of the last master found names (client ports,
 * stats port); 0 when a master is known, -1 when none. For the sockets
 * part: readable by any user, unlike /proc/PID/fd of a proxy that dropped
 * its privileges. */
int mm_process_master_cmdline(const struct mm_process_state *st, struct mm_proxy_cmdline *out);

/* Master restarts seen since the state was created. */
int64_t mm_process_restarts(const struct mm_process_state *st);

#endif
