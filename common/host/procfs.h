/* procfs.h — bounded readers for /proc files, shared by the process modules.
 *
 * Everything reads relative to a directory fd (the /proc root or one
 * /proc/PID directory) so a PID recycled between two reads is noticed: an
 * fd on /proc/PID keeps pointing at the old process and fails with ENOENT
 * once it is gone. Nothing here allocates. */
#ifndef MM_PROCFS_H
#define MM_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Kernel threads may show names longer than TASK_COMM_LEN in stat. */
#define MM_PROCFS_COMM_MAX 64
/* One stat line: 52 numbers of at most 20 digits plus the name. */
#define MM_PROCFS_STAT_MAX 2048

/* The fields of /proc/PID/stat the process modules use. */
struct mm_procfs_stat {
    int pid;
    char comm[MM_PROCFS_COMM_MAX];
    char state;
    int ppid;
    uint64_t minflt, majflt; /* page faults */
    uint64_t utime, stime;   /* clock ticks */
    int64_t num_threads;
    uint64_t starttime; /* clock ticks after boot */
    uint64_t vsize;     /* bytes */
    int64_t rss;        /* pages */
};

/* Opens dirfd/name for reading without ever blocking (O_NONBLOCK) and
 * checks that it is a regular file: a FIFO or a device named where a file
 * is expected must not stall the gather. Returns the fd, or -errno
 * (-EINVAL: not a regular file, -EISDIR: a directory). */
int mm_open_regular_at(int dirfd, const char *name);

/* Reads dirfd/name (a regular file, see mm_open_regular_at) into buf and NUL-terminates it. Returns the length, or
 * -errno. At most cap - 1 bytes are kept; *truncated (may be NULL) says
 * whether the file was longer. */
ssize_t mm_procfs_read_at(int dirfd, const char *name, char *buf, size_t cap, int *truncated);

/* Parses one stat line; the name may hold spaces and ')'. 0 or -1. */
int mm_procfs_parse_stat(const char *buf, struct mm_procfs_stat *out);

/* Reads and parses dirfd/name (a "stat" file). 0, -errno, or -EINVAL when
 * the content is not a stat line. */
int mm_procfs_read_stat(int dirfd, const char *name, struct mm_procfs_stat *out);

/* Whether an errno means "the process is gone", which is never an error. */
int mm_procfs_gone(int err);

/* A thread-safe strerror. */
const char *mm_procfs_strerror(int err, char *buf, size_t cap);

#endif
