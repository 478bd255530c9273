/* state_file.c — atomic, checksummed state file with a lock (see state_file.h).
 *
 * Layout, little-endian:
 *   0  "MTPXSTAT"        magic
 *   8  u32 version       MM_STATE_VERSION
 *  12  u32 owner_len     < MM_STATE_OWNER_MAX
 *  16  u64 payload_len
 *  24  u64 checksum      of bytes 0..23, the owner and the payload
 *  32  owner, then payload */
#include "core/state_file.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAGIC "MTPXSTAT"
#define HEAD 32

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* little-endian hosts; the format says so */
    return v;
}

/* Four independent multiply-rotate lanes (xxHash64's round): several GB/s,
 * so a 1 MB state costs well under a millisecond. Detects corruption, not
 * tampering. */
uint64_t mm_state_checksum(const unsigned char *p, size_t len, uint64_t seed)
{
    const uint64_t p1 = 0x9E3779B185EBCA87ULL, p2 = 0xC2B2AE3D27D4EB4FULL;
    uint64_t h[4] = {seed + p1 + p2, seed + p2, seed, seed - p1};
    size_t i = 0;
    for (; i + 32 <= len; i += 32)
        for (int k = 0; k < 4; k++)
            h[k] = rotl(h[k] + load64(p + i + 8 * k) * p2, 31) * p1;
    uint64_t acc = rotl(h[0], 1) + rotl(h[1], 7) + rotl(h[2], 12) + rotl(h[3], 18) + len;
    for (; i < len; i++)
        acc = rotl(acc ^ (p[i] * p1), 11) * p2;
    acc ^= acc >> 33;
    acc *= p2;
    acc ^= acc >> 29;
    return acc;
}

static uint64_t file_checksum(const unsigned char *head24, const char *owner, size_t owner_len,
                              const unsigned char *payload, size_t len)
{
    uint64_t c = mm_state_checksum(head24, 24, 0);
    c = mm_state_checksum((const unsigned char *)owner, owner_len, c);
    return mm_state_checksum(payload, len, c);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

int mm_state_parse(const unsigned char *file, size_t len, const char *owner, size_t *payload_off,
                   size_t *payload_len, char *err, size_t err_len)
{
    if (len < 8 || memcmp(file, MAGIC, 8) != 0) {
        snprintf(err, err_len, len < 8 ? "truncated (%zu bytes)" : "foreign (not a state file of "
                 "this program)", len);
        return -1;
    }
    if (len < HEAD) {
        snprintf(err, err_len, "truncated (%zu bytes)", len);
        return -1;
    }
    uint32_t version = get32(file + 8), owner_len = get32(file + 12);
    uint64_t plen = get64(file + 16);
    if (version != MM_STATE_VERSION) {
        /* a plausible version is another release's format; anything else is damage */
        if (version < 1000)
            snprintf(err, err_len, "foreign (format version %u, this program reads %d)", version,
                     MM_STATE_VERSION);
        else
            snprintf(err, err_len, "corrupt (format version %u)", version);
        return -1;
    }
    if (owner_len >= MM_STATE_OWNER_MAX || plen > MM_STATE_MAX_BYTES) {
        snprintf(err, err_len, "corrupt (impossible lengths)");
        return -1;
    }
    if (len < HEAD + owner_len + plen) {
        snprintf(err, err_len, "truncated (%zu of %llu bytes)", len,
                 (unsigned long long)(HEAD + owner_len + plen));
        return -1;
    }
    if (len > HEAD + owner_len + plen) {
        snprintf(err, err_len, "corrupt (%zu bytes past the end)",
                 len - (size_t)(HEAD + owner_len + plen));
        return -1;
    }
    const unsigned char *payload = file + HEAD + owner_len;
    if (file_checksum(file, (const char *)file + HEAD, owner_len, payload, (size_t)plen) !=
        get64(file + 24)) {
        snprintf(err, err_len, "corrupt (checksum mismatch)");
        return -1;
    }
    if (owner_len != strlen(owner) || memcmp(file + HEAD, owner, owner_len) != 0) {
        char theirs[MM_STATE_OWNER_MAX];
        size_t n = 0;
        for (; n < owner_len; n++) {
            unsigned char c = file[HEAD + n];
            theirs[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
        theirs[n] = '\0';
        snprintf(err, err_len, "foreign (it belongs to instance '%s')", theirs);
        return -1;
    }
    *payload_off = HEAD + owner_len;
    *payload_len = (size_t)plen;
    return 0;
}

/* Whether a file image (or its first bytes) may be replaced by this instance: ours (damaged or
 * not) or nothing. 0, or -1 with the reason: another program's file, another instance's, another
 * format version's. Only the header and the owner are looked at, so a damaged payload of ours is
 * still ours; a damaged header that no longer says so is left alone (safe side). */
static int judge_ours(const unsigned char *file, size_t len, const char *owner, char *err, size_t err_len)
{
    size_t m = len < 8 ? len : 8;
    if (memcmp(file, MAGIC, m) != 0) {
        snprintf(err, err_len, "it is not a state file of this program");
        return -1;
    }
    if (len < 16)
        return 0; /* a cut header of ours, or empty */
    uint32_t version = get32(file + 8), owner_len = get32(file + 12);
    if (version != MM_STATE_VERSION && version < 1000) { /* larger: damage (as mm_state_parse says) */
        snprintf(err, err_len, "it is a state file of format version %u (this program writes %d)",
                 version, MM_STATE_VERSION);
        return -1;
    }
    if (version != MM_STATE_VERSION || owner_len >= MM_STATE_OWNER_MAX)
        return 0; /* our format, damaged */
    size_t have = len > HEAD ? len - HEAD : 0;
    if (have > owner_len)
        have = owner_len;
    size_t mine = strlen(owner);
    if (owner_len != mine || memcmp(file + HEAD, owner, have) != 0) {
        char theirs[MM_STATE_OWNER_MAX];
        size_t n = 0;
        for (; n < have; n++) {
            unsigned char c = file[HEAD + n];
            theirs[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
        theirs[n] = '\0';
        snprintf(err, err_len, "it belongs to instance '%s'", theirs);
        return -1;
    }
    return 0;
}

int mm_state_judge(const unsigned char *file, size_t len, const char *owner, char *err, size_t err_len)
{
    return judge_ours(file, len, owner, err, err_len);
}

static void refuse(struct mm_state_file *sf, const char *why, const struct mm_logger *log)
{
    mm_log(log, MM_LOG_ERROR, "state file %s: %s, so it is left alone and never written; windows "
           "and churn are kept in memory only (give a path of its own, or remove the file)",
           sf->path, why);
    sf->disabled = 1;
}

static void remember(struct mm_state_file *sf, const struct stat *st)
{
    sf->known = 1;
    sf->dev = st->st_dev;
    sf->ino = st->st_ino;
    sf->size = st->st_size;
    sf->mtime = st->st_mtim;
}

/* Before a write: a regular file at the path that this instance has not seen as its own since it
 * last wrote or read it (same inode, size and
 * mtime) is read again and judged (it may have been put there meanwhile). */
static int still_ours(struct mm_state_file *sf, const struct stat *st, const struct mm_logger *log)
{
    if (sf->known && st->st_dev == sf->dev && st->st_ino == sf->ino && st->st_size == sf->size &&
        st->st_mtim.tv_sec == sf->mtime.tv_sec && st->st_mtim.tv_nsec == sf->mtime.tv_nsec)
        return 0;
    unsigned char head[HEAD + MM_STATE_OWNER_MAX];
    size_t got = 0;
    int fd = open(sf->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    while (got < sizeof(head)) {
        ssize_t r = read(fd, head + got, sizeof(head) - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    char why[200];
    if (judge_ours(head, got, sf->owner, why, sizeof(why)) != 0) {
        refuse(sf, why, log);
        return -1;
    }
    return 0;
}

void mm_state_file_open(struct mm_state_file *sf, const char *path, const char *owner,
                        const struct mm_logger *log)
{
    memset(sf, 0, sizeof(*sf));
    sf->lock_fd = -1;
    snprintf(sf->owner, sizeof(sf->owner), "%s", owner ? owner : "");
    if (!path || !*path)
        return;
    sf->path = strdup(path);
    size_t n = strlen(path) + 6;
    char *lock = malloc(n);
    if (!sf->path || !lock) {
        mm_log(log, MM_LOG_WARNING, "state file %s: out of memory; windows and churn kept in "
               "memory only", path);
        sf->disabled = 1;
        free(lock);
        return;
    }
    snprintf(lock, n, "%s.lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        mm_log(log, MM_LOG_WARNING, "state file %s: cannot create %s (%s); windows and churn "
               "kept in memory only, they restart with the agent", path, lock, strerror(errno));
        sf->disabled = 1;
    } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        mm_log(log, MM_LOG_WARNING, "state file %s is in use by another instance or agent (%s "
               "is locked); this instance keeps its windows in memory only", path, lock);
        close(fd);
        sf->disabled = 1;
    } else {
        sf->lock_fd = fd;
    }
    free(lock);
}

void mm_state_file_close(struct mm_state_file *sf)
{
    if (sf->lock_fd >= 0)
        close(sf->lock_fd); /* releases the flock */
    free(sf->path);
    sf->path = NULL;
    sf->lock_fd = -1;
}

long mm_state_file_read(struct mm_state_file *sf, unsigned char *buf, size_t cap,
                        const struct mm_logger *log)
{
    if (!sf->path || sf->disabled)
        return -1;
    /* O_NONBLOCK: a FIFO at the path must not block the gather; fstat below refuses it. */
    int fd = open(sf->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        mm_log(log, MM_LOG_WARNING, "state file %s: %s; windows and churn start fresh", sf->path,
               errno == ENOENT ? "not there yet" : strerror(errno));
        return -1;
    }
    struct stat st;
    size_t max = HEAD + MM_STATE_OWNER_MAX + cap;
    unsigned char *file = NULL;
    const char *why = NULL;
    char detail[200] = "";
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        why = "not a regular file";
    } else if ((uint64_t)st.st_size > max) {
        why = "too big";
    } else if (!(file = malloc((size_t)st.st_size + 1))) {
        why = "out of memory";
    } else {
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t r = read(fd, file + got, (size_t)st.st_size - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        size_t off, len;
        char foreign[200];
        if (judge_ours(file, got, sf->owner, foreign, sizeof(foreign)) != 0) {
            refuse(sf, foreign, log);
            free(file);
            close(fd);
            return -1;
        }
        remember(sf, &st); /* ours: replacing it is right */
        if (mm_state_parse(file, got, sf->owner, &off, &len, detail, sizeof(detail)) != 0) {
            why = detail;
        } else if (len > cap) {
            why = "payload too big";
        } else {
            memcpy(buf, file + off, len);
            free(file);
            close(fd);
            return (long)len;
        }
    }
    mm_log(log, MM_LOG_WARNING, "state file %s: %s; windows and churn start fresh", sf->path, why);
    free(file);
    close(fd);
    return -1;
}

int mm_state_file_write(struct mm_state_file *sf, const unsigned char *payload, size_t len,
                        const struct mm_logger *log)
{
    if (!sf->path || sf->disabled)
        return -1;
    size_t owner_len = strlen(sf->owner);
    unsigned char head[HEAD];
    memcpy(head, MAGIC, 8);
    put32(head + 8, MM_STATE_VERSION);
    put32(head + 12, (uint32_t)owner_len);
    put64(head + 16, len);
    put64(head + 24, file_checksum(head, sf->owner, owner_len, payload, len));

    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", sf->path);
    const char *step = "create";
    struct stat st;
    int fd = -1;
    if (lstat(sf->path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* rename() would replace whatever stands there: a FIFO, a directory, a device node. */
        step = "replace";
        errno = EEXIST;
        mm_log(log, MM_LOG_WARNING, "state file %s: it exists and is not a regular file, so it is left "
               "alone; windows and churn are kept in memory only and restart with the agent", sf->path);
        sf->disabled = 1;
        return -1;
    }
    if (lstat(sf->path, &st) == 0 && still_ours(sf, &st, log) != 0) {
        if (!sf->disabled) /* it could not be read: not judged, so not replaced */
            mm_log(log, MM_LOG_ERROR, "state file %s: cannot read it to see whose it is (%s), so it "
                   "is left alone; windows and churn are kept in memory only", sf->path, strerror(errno));
        sf->disabled = 1;
        return -1;
    }
    if (len <= MM_STATE_MAX_BYTES && strlen(sf->path) < PATH_MAX) {
        /* A leftover temp of any type is removed, then created afresh: O_EXCL never opens a FIFO or
         * device someone put there, O_NONBLOCK is a second guard. */
        if (unlink(tmp) != 0 && errno != ENOENT)
            step = "remove the old temp file of";
        else
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    }
    if (fd >= 0) {
        struct iovec iov[3] = {{head, HEAD}, {sf->owner, owner_len}, {(void *)payload, len}};
        size_t want = HEAD + owner_len + len;
        ssize_t w = writev(fd, iov, 3);
        int saved = errno;
        struct stat mine;
        int have_mine = fstat(fd, &mine) == 0;
        if (close(fd) == 0 && w == (ssize_t)want) {
            if (rename(tmp, sf->path) == 0) {
                sf->known = 0;
                if (have_mine)
                    remember(sf, &mine);
                return 0;
            }
            step = "rename";
        } else {
            step = "write";
            errno = w < 0 ? saved : ENOSPC;
        }
        int e = errno;
        unlink(tmp);
        errno = e;
    } else if (len > MM_STATE_MAX_BYTES) {
        errno = EFBIG;
    }
    mm_log(log, MM_LOG_WARNING, "state file %s: cannot %s it (%s); windows and churn are kept in "
           "memory only from now on and restart with the agent", sf->path, step, strerror(errno));
    sf->disabled = 1;
    return -1;
}
