/* process_stats.c — reads one process's resources from /proc/PID and sums
 * them per role (see process_stats.h). */
#include "host/process/process_stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/number.h"

/* What follows "key" on the first line that starts with it, or NULL. */
static const char *after_line_key(const char *buf, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = buf; p && *p;) {
        if (strncmp(p, key, klen) == 0)
            return p + klen;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

/* The value after "key" at the start of a line, as an unsigned number. */
static int line_u64(const char *buf, const char *key, uint64_t *out)
{
    const char *p = after_line_key(buf, key);
    if (!p)
        return -1;
    while (*p == ' ' || *p == '\t')
        p++;
    return mm_scan_u64(p, NULL, out) ? 0 : -1;
}

int mm_proc_parse_status(const char *buf, struct mm_proc_sample *s)
{
    uint64_t vol, invol, data_kb;
    if (line_u64(buf, "voluntary_ctxt_switches:", &vol) != 0 ||
        line_u64(buf, "nonvoluntary_ctxt_switches:", &invol) != 0)
        return -1;
    /* Zombies and kernel threads have no memory map, hence no VmData. */
    if (line_u64(buf, "VmData:", &data_kb) != 0)
        data_kb = 0;
    s->ctx_voluntary = vol;
    s->ctx_involuntary = invol;
    s->vm_data = data_kb > (uint64_t)INT64_MAX / 1024 ? INT64_MAX : (int64_t)data_kb * 1024;
    s->have_status = 1;
    return 0;
}

static int limit_token(const char **pp, int64_t *out)
{
    const char *p = *pp;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "unlimited", 9) == 0) {
        *out = MM_PROC_UNLIMITED;
        *pp = p + 9;
        return 0;
    }
    uint64_t v;
    const char *end = mm_scan_u64(p, NULL, &v);
    if (!end || v > INT64_MAX)
        return -1;
    *out = (int64_t)v;
    *pp = end;
    return 0;
}

int mm_proc_parse_limits(const char *buf, int64_t *soft, int64_t *hard)
{
    const char *p = after_line_key(buf, "Max open files");
    int64_t s, h;
    if (!p || limit_token(&p, &s) != 0 || limit_token(&p, &h) != 0)
        return -1;
    *soft = s;
    *hard = h;
    return 0;
}

int mm_proc_parse_io(const char *buf, struct mm_proc_sample *s)
{
    uint64_t rchar, wchar, syscr, syscw;
    if (line_u64(buf, "rchar:", &rchar) != 0 || line_u64(buf, "wchar:", &wchar) != 0 ||
        line_u64(buf, "syscr:", &syscr) != 0 || line_u64(buf, "syscw:", &syscw) != 0)
        return -1;
    s->rchar = rchar;
    s->wchar = wchar;
    s->syscr = syscr;
    s->syscw = syscw;
    return 0;
}

/* Counts the open descriptors: st_size of the fd directory when the kernel
 * offers it (O(1), and it needs no permission on the directory), else the
 * directory's entries. Returns 0 or -errno. */
static int count_fds(int piddir, unsigned flags, char *buf, size_t cap, int64_t *out)
{
    if (flags & MM_PROC_FD_SIZE) {
        struct stat sb;
        /* Older kernels report 0; a process with no descriptor at all is
         * listed below at no cost. */
        if (fstatat(piddir, "fd", &sb, 0) == 0 && sb.st_size > 0) {
            *out = (int64_t)sb.st_size;
            return 0;
        }
    }
    int fd = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int64_t count = 0;
    for (;;) {
        /* getdents64 straight into the scratch buffer: no DIR allocation. */
        ssize_t n = getdents64(fd, buf, cap);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            close(fd);
            return -err;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            const struct dirent64 *d = (const struct dirent64 *)(const void *)(buf + off);
            if (d->d_reclen == 0)
                break;
            if (d->d_name[0] != '.')
                count++;
            off += d->d_reclen;
        }
    }
    close(fd);
    *out = count;
    return 0;
}

/* After ENOENT/ESRCH on one file: is the process still there (the file is
 * just absent on this kernel) or did it exit? */
static int still_alive(int piddir)
{
    struct mm_procfs_stat st;
    return mm_procfs_read_stat(piddir, "stat", &st) == 0;
}

int mm_proc_sample_read(int rootfd, int pid, unsigned flags, char *buf, size_t cap,
                        struct mm_proc_sample *s)
{
    memset(s, 0, sizeof(*s));
    s->fd_soft = s->fd_hard = MM_PROC_UNLIMITED;
    if (pid <= 0 || cap < 4096)
        return -EINVAL;

    char name[16];
    snprintf(name, sizeof(name), "%d", pid);
    int dir = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return mm_procfs_gone(errno) ? -ESRCH : -errno;

    int rc = mm_procfs_read_stat(dir, "stat", &s->stat);
    if (rc < 0) {
        close(dir);
        return mm_procfs_gone(-rc) ? -ESRCH : rc;
    }

    ssize_t n = mm_procfs_read_at(dir, "status", buf, cap, NULL);
    if (n < 0 && mm_procfs_gone((int)-n) && !still_alive(dir))
        goto gone;
    if (n > 0)
        mm_proc_parse_status(buf, s);

    /* prlimit(2) reads the same limit as the limits file without building
     * the 17-line text (~8 us a process); it needs CAP_SYS_RESOURCE or the
     * proxy's user, else (EPERM) the file, readable by anyone. */
    struct rlimit rl;
    if ((flags & MM_PROC_PRLIMIT) && prlimit(pid, RLIMIT_NOFILE, NULL, &rl) == 0) {
        s->fd_soft = rl.rlim_cur == RLIM_INFINITY ? MM_PROC_UNLIMITED : (int64_t)(rl.rlim_cur & INT64_MAX);
        s->fd_hard = rl.rlim_max == RLIM_INFINITY ? MM_PROC_UNLIMITED : (int64_t)(rl.rlim_max & INT64_MAX);
        s->have_limits = 1;
    } else {
        n = mm_procfs_read_at(dir, "limits", buf, cap, NULL);
        if (n < 0 && mm_procfs_gone((int)-n) && !still_alive(dir))
            goto gone;
        if (n > 0 && mm_proc_parse_limits(buf, &s->fd_soft, &s->fd_hard) == 0)
            s->have_limits = 1;
    }

    /* io: open needs CAP_DAC_READ_SEARCH for another user's process, the
     * read itself a ptrace check (CAP_SYS_PTRACE): either may say EACCES. */
    n = mm_procfs_read_at(dir, "io", buf, cap, NULL);
    if (n < 0) {
        if (mm_procfs_gone((int)-n) && !still_alive(dir))
            goto gone;
        s->io_err = (int)-n;
    } else if (mm_proc_parse_io(buf, s) != 0) {
        s->io_err = EINVAL;
    }

    rc = count_fds(dir, flags, buf, cap, &s->num_fds);
    if (rc < 0) {
        if (mm_procfs_gone(-rc) && !still_alive(dir))
            goto gone;
        s->fd_err = -rc;
        s->num_fds = 0;
    }

    close(dir);
    return 0;

gone:
    close(dir);
    return -ESRCH;
}

void mm_proc_totals_init(struct mm_proc_totals *t)
{
    memset(t, 0, sizeof(*t));
    t->fd_soft = t->fd_hard = MM_PROC_UNLIMITED;
    t->fd_usage_max = -1.0;
}

/* The tighter of two limits, "unlimited" being the loosest. */
static int64_t limit_min(int64_t a, int64_t b)
{
    if (a == MM_PROC_UNLIMITED)
        return b;
    if (b == MM_PROC_UNLIMITED)
        return a;
    return a < b ? a : b;
}

void mm_proc_totals_add(struct mm_proc_totals *t, const struct mm_proc_sample *s)
{
    const struct mm_procfs_stat *st = &s->stat;
    t->processes++;
    t->threads += st->num_threads;
    t->utime += st->utime;
    t->stime += st->stime;
    t->rss_pages += st->rss;
    t->vsize += st->vsize;
    t->minflt += st->minflt;
    t->majflt += st->majflt;
    if (t->processes == 1 || st->starttime > t->start_max)
        t->start_max = st->starttime;

    if (s->have_status) {
        t->vm_data += s->vm_data;
        t->ctx_voluntary += s->ctx_voluntary;
        t->ctx_involuntary += s->ctx_involuntary;
    } else {
        t->status_missing = 1;
    }

    if (s->have_limits) {
        t->fd_soft = limit_min(t->fd_soft, s->fd_soft);
        t->fd_hard = limit_min(t->fd_hard, s->fd_hard);
    } else {
        t->limits_missing = 1;
    }

    if (s->fd_err == 0) {
        t->num_fds += s->num_fds;
        if (s->have_limits && s->fd_soft > 0) {
            double pct = (double)s->num_fds * 100.0 / (double)s->fd_soft;
            if (pct > t->fd_usage_max)
                t->fd_usage_max = pct;
        }
    } else {
        t->fd_missing = 1;
    }

    if (s->io_err == 0) {
        t->rchar += s->rchar;
        t->wchar += s->wchar;
        t->syscr += s->syscr;
        t->syscw += s->syscw;
    } else {
        t->io_missing = 1;
    }
}
