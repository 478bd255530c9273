/* procfs.c — bounded /proc file reading and the stat line parser. */
#include "host/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/number.h"

int mm_open_regular_at(int dirfd, const char *name)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer, forever; the type check then refuses it (and devices). */
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
    }
    return fd;
}

ssize_t mm_procfs_read_at(int dirfd, const char *name, char *buf, size_t cap, int *truncated)
{
    if (truncated)
        *truncated = 0;
    if (cap == 0)
        return -EINVAL;
    buf[0] = '\0';
    int fd = mm_open_regular_at(dirfd, name);
    if (fd < 0)
        return fd;
    size_t len = 0;
    for (;;) {
        if (len == cap - 1) {
            /* Full: one more byte tells whether anything was cut off. */
            char extra;
            ssize_t n = read(fd, &extra, 1);
            if (n > 0 && truncated)
                *truncated = 1;
            break;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            close(fd);
            buf[0] = '\0';
            return -err;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        /* A short read is the end: /proc files are produced whole by the
         * first read (and regular files only come up short at EOF), so this
         * saves the second read(2) that would return 0. */
        if (len < cap - 1)
            break;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Reads one unsigned decimal token at *p and moves past it and one space. */
static int next_u64(const char **p, uint64_t *out)
{
    const char *s = mm_scan_u64(*p, NULL, out);
    if (!s)
        return -1;
    if (*s == ' ')
        s++;
    else if (*s != '\n' && *s != '\0')
        return -1;
    *p = s;
    return 0;
}

/* Skips one token of any content (signed fields we do not use). */
static int skip_token(const char **p)
{
    const char *s = *p;
    if (*s == '\0' || *s == '\n' || *s == ' ')
        return -1;
    while (*s && *s != ' ' && *s != '\n')
        s++;
    if (*s == ' ')
        s++;
    *p = s;
    return 0;
}

int mm_procfs_parse_stat(const char *buf, struct mm_procfs_stat *out)
{
    memset(out, 0, sizeof(*out));
    const char *open = strchr(buf, '(');
    const char *close = strrchr(buf, ')'); /* the name itself may contain ')' */
    if (!open || !close || close < open || close[1] != ' ')
        return -1;

    uint64_t pid;
    const char *end = mm_scan_u64(buf, NULL, &pid);
    if (!end || *end != ' ' || pid == 0 || pid > 0x7fffffff)
        return -1;
    out->pid = (int)pid;

    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof(out->comm))
        n = sizeof(out->comm) - 1;
    memcpy(out->comm, open + 1, n);
    out->comm[n] = '\0';

    const char *p = close + 2;
    if (*p == '\0' || p[1] != ' ')
        return -1;
    out->state = *p;
    p += 2;

    /* Field numbers as in proc(5); field 3 (state) is done. */
    for (int field = 4; field <= 24; field++) {
        uint64_t v = 0;
        int rc;
        switch (field) {
        case 4: case 10: case 12: case 14: case 15: case 20: case 22: case 23: case 24:
            rc = next_u64(&p, &v);
            break;
        default:
            rc = skip_token(&p);
            break;
        }
        if (rc != 0)
            return -1;
        switch (field) {
        case 4:
            if (v > 0x7fffffff)
                return -1;
            out->ppid = (int)v;
            break;
        case 10: out->minflt = v; break;
        case 12: out->majflt = v; break;
        case 14: out->utime = v; break;
        case 15: out->stime = v; break;
        case 20: out->num_threads = v > INT64_MAX ? INT64_MAX : (int64_t)v; break;
        case 22: out->starttime = v; break;
        case 23: out->vsize = v; break;
        case 24: out->rss = v > INT64_MAX ? INT64_MAX : (int64_t)v; break;
        default: break;
        }
    }
    return 0;
}

int mm_procfs_read_stat(int dirfd, const char *name, struct mm_procfs_stat *out)
{
    char buf[MM_PROCFS_STAT_MAX];
    ssize_t n = mm_procfs_read_at(dirfd, name, buf, sizeof(buf), NULL);
    if (n < 0)
        return (int)n;
    /* An empty read happens when the task exits between open and read. */
    if (n == 0)
        return -ESRCH;
    return mm_procfs_parse_stat(buf, out) == 0 ? 0 : -EINVAL;
}

int mm_procfs_gone(int err)
{
    return err == ENOENT || err == ESRCH;
}

const char *mm_procfs_strerror(int err, char *buf, size_t cap)
{
    /* _GNU_SOURCE selects the GNU strerror_r that returns the string. */
    return strerror_r(err, buf, cap);
}
