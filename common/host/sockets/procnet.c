/* procnet.c — parse /proc/net/tcp and /proc/net/tcp6 (see procnet.h).
 *
 * A line: "  12: 0100007F:1F90 0B00007F:D2F4 01 00000000:00000000 02:000A 00000000
 *          0 0 123456 ...": slot, local addr:port, remote addr:port, state,
 * queues, timer, retransmits, uid, timeout, inode. Addresses are the kernel's
 * raw 32-bit words printed as host integers, so copying each parsed word's
 * bytes back gives network order on any endianness. */
#include "host/sockets/procnet.h"
#include "host/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/number.h"

struct field {
    const char *p;
    size_t len;
};

static int next_field(const char **p, const char *end, struct field *f)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    const char *e = s;
    while (e < end && *e != ' ')
        e++;
    f->p = s;
    f->len = (size_t)(e - s);
    *p = e;
    return f->len > 0 ? 0 : -1;
}

static int parse_hex32(const char *p, size_t n, uint32_t *out)
{
    uint32_t v = 0;
    if (n == 0 || n > 8)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int h = mm_hex_digit(p[i]);
        if (h < 0)
            return -1;
        v = (v << 4) | (uint32_t)h;
    }
    *out = v;
    return 0;
}

/* "0100007F:1F90" or 32 hex digits ":" port. */
static int parse_endpoint(const struct field *f, int family, struct mm_ip *ip, uint16_t *port)
{
    size_t alen = family == AF_INET ? 8 : 32;
    if (f->len != alen + 5 || f->p[alen] != ':')
        return -1;
    uint32_t words[4], pv;
    for (size_t i = 0; i < alen / 8; i++)
        if (parse_hex32(f->p + i * 8, 8, &words[i]) < 0)
            return -1;
    if (parse_hex32(f->p + alen + 1, 4, &pv) < 0)
        return -1;
    if (family == AF_INET)
        mm_ip_from_v4(ip, words[0]);
    else
        mm_ip_from_v6(ip, words);
    *port = (uint16_t)pv;
    return 0;
}

int mm_procnet_parse_line(const char *line, size_t len, int family, struct mm_sock *out)
{
    const char *p = line, *end = line + len;
    struct field f[10];
    for (int i = 0; i < 10; i++)
        if (next_field(&p, end, &f[i]) < 0)
            return i > 0 && f[0].len == 2 && memcmp(f[0].p, "sl", 2) == 0 ? 1 : -1;
    if (f[0].len == 2 && memcmp(f[0].p, "sl", 2) == 0)
        return 1;
    if (f[0].p[f[0].len - 1] != ':')
        return -1;

    memset(out, 0, sizeof(*out));
    out->family = family;
    if (parse_endpoint(&f[1], family, &out->src, &out->sport) < 0 ||
        parse_endpoint(&f[2], family, &out->dst, &out->dport) < 0)
        return -1;
    uint32_t st;
    if (f[3].len != 2 || parse_hex32(f[3].p, 2, &st) < 0)
        return -1;
    out->state = (int)st;
    uint64_t inode;
    if (mm_scan_u64(f[9].p, f[9].p + f[9].len, &inode) != f[9].p + f[9].len || inode > 0xffffffffu)
        return -1;
    out->inode = (uint32_t)inode;
    return 0;
}

int mm_procnet_read(const char *path, int family, char *buf, size_t buf_len,
                    const struct mm_sockdiag_query *q, mm_sock_fn fn, void *ctx, long *count,
                    int *err)
{
    int fd = mm_open_regular_at(AT_FDCWD, path);
    if (fd < 0) {
        *err = -fd;
        return -1;
    }
    size_t fill = 0; /* bytes of an unfinished line carried to the front */
    int rc = 0;
    for (;;) {
        if (fill == buf_len) { /* a line longer than the buffer is no tcp line */
            *err = EBADMSG;
            rc = -1;
            break;
        }
        ssize_t n = read(fd, buf + fill, buf_len - fill);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *err = errno;
            rc = -1;
            break;
        }
        int eof = n == 0;
        size_t end = fill + (size_t)n, start = 0;
        if (eof) {
            if (fill == 0)
                break;
            buf[end++] = '\n'; /* terminate a last line that had no newline */
        }
        for (size_t i = fill; i < end; i++) {
            if (buf[i] != '\n')
                continue;
            struct mm_sock s;
            int r = mm_procnet_parse_line(buf + start, i - start, family, &s);
            start = i + 1;
            if (r < 0) {
                *err = EBADMSG;
                rc = -1;
                goto out;
            }
            if (r == 0 && mm_sockdiag_match(q, &s)) {
                (*count)++;
                if (fn(ctx, &s) != 0)
                    goto out;
            }
        }
        if (eof)
            break;
        memmove(buf, buf + start, end - start);
        fill = end - start;
    }
out:
    close(fd);
    return rc;
}
