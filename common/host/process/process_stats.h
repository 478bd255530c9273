/* process_stats.h — one process's resources from /proc/PID, and role sums.
 *
 * A sample is everything the process metrics need from one process: stat,
 * status (VmData, context switches), limits (open files), io and the count
 * of open descriptors. Files the agent may not read (io, fd) are recorded as
 * missing with their errno instead of failing the sample. Internal to the
 * core: the public API is process.h. */
#ifndef MM_PROCESS_STATS_H
#define MM_PROCESS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "host/procfs.h"

/* Limit value of "unlimited" in /proc/PID/limits. */
#define MM_PROC_UNLIMITED (-1)

/* mm_proc_sample_read flags. */
#define MM_PROC_FD_SIZE 1u /* try st_size of /proc/PID/fd (Linux >= 6.2) before listing it */
#define MM_PROC_PRLIMIT 2u /* pid is a live pid of ours (not a fixture): try prlimit(2) before
                              reading /proc/PID/limits */

struct mm_proc_sample {
    struct mm_procfs_stat stat;
    int have_status;
    int64_t vm_data;               /* bytes (status VmData; 0 for zombies) */
    uint64_t ctx_voluntary, ctx_involuntary;
    int have_limits;
    int64_t fd_soft, fd_hard;      /* "Max open files"; MM_PROC_UNLIMITED */
    int fd_err;                    /* 0: num_fds is valid, else why not */
    int64_t num_fds;
    int io_err;                    /* 0: the io fields are valid, else why not */
    uint64_t rchar, wchar, syscr, syscw;
};

/* Reads process pid below the /proc root rootfd. buf (>= 4 KiB, suitably
 * aligned: malloc'ed) is scratch space. Returns 0, -ESRCH when the process
 * is gone (never an error: skip it), or another -errno when even its stat
 * line is unreadable. */
int mm_proc_sample_read(int rootfd, int pid, unsigned flags, char *buf, size_t cap,
                        struct mm_proc_sample *s);

/* Parsers, exposed for the unit tests. Each returns 0 or -1 (not found). */
int mm_proc_parse_status(const char *buf, struct mm_proc_sample *s);
int mm_proc_parse_limits(const char *buf, int64_t *soft, int64_t *hard);
int mm_proc_parse_io(const char *buf, struct mm_proc_sample *s);

/* Sums over a set of processes (one role). Counters add up; limits keep the
 * tightest (smallest) value; fd usage keeps the highest per-process ratio;
 * the start time keeps the youngest process. A metric is missing for the
 * role as soon as one process could not provide it (a partial sum would
 * look like a drop). */
struct mm_proc_totals {
    int64_t processes;
    int64_t threads;
    uint64_t utime, stime; /* ticks */
    int64_t rss_pages;
    uint64_t vsize;
    int64_t vm_data;
    int status_missing;
    uint64_t ctx_voluntary, ctx_involuntary;
    uint64_t minflt, majflt;
    int limits_missing;
    int64_t fd_soft, fd_hard; /* smallest; MM_PROC_UNLIMITED only if all are */
    int fd_missing;
    int64_t num_fds;
    double fd_usage_max; /* percent; < 0 when no process had a finite limit */
    int io_missing;
    uint64_t rchar, wchar, syscr, syscw;
    uint64_t start_max; /* ticks after boot of the youngest process */
};

void mm_proc_totals_init(struct mm_proc_totals *t);
void mm_proc_totals_add(struct mm_proc_totals *t, const struct mm_proc_sample *s);

#endif
