/* sockdiag.c — one filtered NETLINK_SOCK_DIAG dump per call (see sockdiag.h).
 *
 * Plain netlink rather than libmnl: the whole exchange is one request and a
 * loop of recvmsg() calls, and the reply parser has to be a pure function over
 * a byte buffer (tests and fuzzers feed it garbage) that checks every length
 * itself. libmnl's callbacks would add an indirection per message without
 * removing any of those checks.
 *
 * How the table is walked (perf notes: each walk over the established hash
 * costs ~90 ns per socket in the table, matched or not):
 *   WALK_COMPAT  the legacy TCPDIAG_GETSOCK request: the kernel walks ONE time
 *                with family AF_UNSPEC, returning IPv4 and IPv6 sockets, and it
 *                honours the same bytecode filter and extensions. Tried first.
 *   WALK_V2      SOCK_DIAG_BY_FAMILY, one walk for AF_INET and one for
 *                AF_INET6; the IPv6 walk is skipped when /proc/net/sockstat6
 *                says no TCPv6 socket exists (or IPv6 is off). Used when the
 *                kernel refuses the legacy request. */
#include "host/sockets/sockdiag.h"
#include "host/sockets/procnet.h"
#include "host/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/number.h"

/* The kernel builds dump messages in skbs of at most 32 KiB; twice that
 * leaves room, and MSG_TRUNC is still checked. */
#define NLBUF_LEN (64 * 1024)
#define PROCBUF_LEN (64 * 1024)
/* A dump that stalls this long is abandoned (it never should). */
#define NL_TIMEOUT_SEC 10

/* Latch kinds: which reader failed, plus the errno. */
enum { KIND_NETLINK = 1000, KIND_PROC = 2000, KIND_PROC6 = 3000 };

int mm_sockdiag_init(struct mm_sockdiag *d)
{
    memset(d, 0, sizeof(*d));
    d->nlbuf = malloc(NLBUF_LEN);
    d->procbuf = malloc(PROCBUF_LEN);
    if (!d->nlbuf || !d->procbuf) {
        mm_sockdiag_free(d);
        return -1;
    }
    d->nlbuf_len = NLBUF_LEN;
    d->procbuf_len = PROCBUF_LEN;
    return 0;
}

void mm_sockdiag_free(struct mm_sockdiag *d)
{
    free(d->nlbuf);
    free(d->procbuf);
    d->nlbuf = NULL;
    d->procbuf = NULL;
}

/* The program is C1 J C2 J ... Cn: each C is a host condition (a port with
 * family AF_UNSPEC and no prefix, or a remote network with any port); when
 * it holds, the next J jumps to the end (accept), when it fails it skips its
 * J to the next C; the last C failing jumps past the end (reject). Every
 * op's "yes" moves forward linearly, which is what the kernel's bytecode
 * audit walks. This is how iproute2's ss compiles "sport = :a or dst
 * 149.154.160.0/20". An IPv4 network also matches IPv4-mapped addresses of
 * IPv6 sockets (the kernel compares those). */
int mm_sockdiag_bytecode(const struct mm_sockdiag_query *q, void *out, size_t out_len)
{
    struct cond {
        int code;
        int port;
        const struct mm_cidr *net;
    } conds[MM_SOCKDIAG_MAX_PORTS + 1 + MM_SOCKDIAG_MAX_NETS];
    size_t n = 0;
    for (size_t i = 0; i < q->n_local_ports && i < MM_SOCKDIAG_MAX_PORTS; i++)
        conds[n++] = (struct cond){INET_DIAG_BC_S_COND, q->local_ports[i], NULL};
    if (q->remote_port)
        conds[n++] = (struct cond){INET_DIAG_BC_D_COND, q->remote_port, NULL};
    for (size_t i = 0; i < q->n_remote_nets && i < MM_SOCKDIAG_MAX_NETS; i++)
        conds[n++] = (struct cond){INET_DIAG_BC_D_COND, -1, &q->remote_nets[i]};
    if (n == 0)
        return 0;

    const size_t jlen = sizeof(struct inet_diag_bc_op);
    size_t total = 0, clen[MM_SOCKDIAG_MAX_PORTS + 1 + MM_SOCKDIAG_MAX_NETS];
    for (size_t i = 0; i < n; i++) {
        size_t alen = !conds[i].net ? 0 : conds[i].net->family == AF_INET ? 4 : 16;
        clen[i] = sizeof(struct inet_diag_bc_op) + sizeof(struct inet_diag_hostcond) + alen;
        total += clen[i] + (i + 1 < n ? jlen : 0);
    }
    if (total > out_len || total > 0xffff)
        return -1;

    unsigned char *p = out;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        struct inet_diag_bc_op op = {(unsigned char)conds[i].code, (unsigned char)clen[i],
                                     (unsigned short)(clen[i] + jlen)};
        struct inet_diag_hostcond hc;
        memset(&hc, 0, sizeof(hc));
        hc.family = AF_UNSPEC;
        hc.prefix_len = 0;
        hc.port = conds[i].port;
        size_t alen = 0;
        unsigned char addr[16];
        if (conds[i].net) {
            const struct mm_cidr *c = conds[i].net;
            hc.family = (unsigned char)c->family;
            /* The kernel compares IPv4 as 4 bytes: the mapped form's tail. */
            alen = c->family == AF_INET ? 4 : 16;
            hc.prefix_len = (unsigned char)c->prefix;
            memcpy(addr, c->family == AF_INET ? c->net.b + 12 : c->net.b, alen);
        }
        memcpy(p + off, &op, sizeof(op));
        memcpy(p + off + sizeof(op), &hc, sizeof(hc));
        if (alen)
            memcpy(p + off + sizeof(op) + sizeof(hc), addr, alen);
        off += clen[i];
        if (i + 1 < n) {
            struct inet_diag_bc_op jmp = {INET_DIAG_BC_JMP, (unsigned char)jlen,
                                          (unsigned short)(total - off)};
            memcpy(p + off, &jmp, sizeof(jmp));
            off += jlen;
        }
    }
    return (int)total;
}

/* tcp_info grew over the years; read a field only when the kernel sent it. */
static int read_u64_at(const unsigned char *info, size_t len, size_t offset, uint64_t *out)
{
    if (len < offset + sizeof(uint64_t))
        return 0;
    memcpy(out, info + offset, sizeof(*out));
    return 1;
}

/* One inet_diag_msg with its attributes. 0 ok (s filled), -1 malformed. */
static int parse_diag_msg(const unsigned char *p, size_t len, struct mm_sock *s)
{
    struct inet_diag_msg m;
    if (len < sizeof(m))
        return -1;
    memcpy(&m, p, sizeof(m));
    memset(s, 0, sizeof(*s));
    s->family = m.idiag_family;
    s->state = m.idiag_state;
    s->sport = ntohs(m.id.idiag_sport);
    s->dport = ntohs(m.id.idiag_dport);
    s->inode = m.idiag_inode;
    s->cookie = (uint64_t)m.id.idiag_cookie[1] << 32 | m.id.idiag_cookie[0];
    if (m.idiag_family == AF_INET) {
        mm_ip_from_v4(&s->src, m.id.idiag_src[0]);
        mm_ip_from_v4(&s->dst, m.id.idiag_dst[0]);
    } else if (m.idiag_family == AF_INET6) {
        mm_ip_from_v6(&s->src, m.id.idiag_src);
        mm_ip_from_v6(&s->dst, m.id.idiag_dst);
    } else {
        return -1;
    }

    size_t off = NLMSG_ALIGN(sizeof(m));
    while (off < len) {
        struct rtattr rta;
        if (len - off < sizeof(rta))
            return -1;
        memcpy(&rta, p + off, sizeof(rta));
        if (rta.rta_len < sizeof(rta) || rta.rta_len > len - off)
            return -1;
        if (rta.rta_type == INET_DIAG_INFO) {
            const unsigned char *info = p + off + RTA_LENGTH(0);
            size_t ilen = rta.rta_len - RTA_LENGTH(0);
            int a = read_u64_at(info, ilen, offsetof(struct tcp_info, tcpi_bytes_acked),
                                &s->bytes_acked);
            int r = read_u64_at(info, ilen, offsetof(struct tcp_info, tcpi_bytes_received),
                                &s->bytes_received);
            s->has_info = a && r;
        }
        size_t step = RTA_ALIGN(rta.rta_len);
        if (step > len - off) /* the last attribute may lack its padding */
            break;
        off += step;
    }
    return 0;
}

int mm_sockdiag_parse(const void *buf, size_t len, const struct mm_sockdiag_query *q,
                      mm_sock_fn fn, void *ctx, long *count, int *err)
{
    const unsigned char *p = buf;
    size_t off = 0;
    *err = 0;
    while (off < len) {
        struct nlmsghdr h;
        if (len - off < sizeof(h)) {
            *err = EBADMSG;
            return -1;
        }
        memcpy(&h, p + off, sizeof(h));
        if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off) {
            *err = EBADMSG;
            return -1;
        }
        const unsigned char *payload = p + off + NLMSG_HDRLEN;
        size_t plen = h.nlmsg_len - NLMSG_HDRLEN;

        if (h.nlmsg_type == NLMSG_DONE)
            return 1;
        if (h.nlmsg_type == NLMSG_ERROR) {
            struct nlmsgerr e;
            if (plen < sizeof(e.error)) {
                *err = EBADMSG;
                return -1;
            }
            memcpy(&e.error, payload, sizeof(e.error));
            if (e.error != 0) { /* 0 would be an ACK: nothing to report */
                *err = e.error < 0 && e.error > -4096 ? -e.error : EBADMSG;
                return -1;
            }
        } else if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY || h.nlmsg_type == TCPDIAG_GETSOCK) {
            struct mm_sock s;
            if (parse_diag_msg(payload, plen, &s) < 0) {
                *err = EBADMSG;
                return -1;
            }
            if (mm_sockdiag_match(q, &s)) {
                (*count)++;
                if (fn(ctx, &s) != 0)
                    return 1;
            }
        } else if (h.nlmsg_type != NLMSG_NOOP) {
            *err = EBADMSG;
            return -1;
        }
        size_t step = NLMSG_ALIGN(h.nlmsg_len);
        off += step < len - off ? step : len - off;
    }
    return 0;
}

/* Errors meaning "this kernel or sandbox has no usable sock_diag": the first
 * dump failing with one of these switches to /proc for good. */
static int unavailable_errno(int e)
{
    return e == EPERM || e == EACCES || e == EPROTONOSUPPORT || e == EAFNOSUPPORT ||
           e == ENOENT || e == EOPNOTSUPP || e == EINVAL || e == ENOSYS;
}

/* One dump request, all replies. type: TCPDIAG_GETSOCK (legacy, one
 * AF_UNSPEC walk) or SOCK_DIAG_BY_FAMILY for family. 0 or -1 with *err. */
static int nl_walk(struct mm_sockdiag *d, const struct mm_sockdiag_query *q, int type,
                   int family, mm_sock_fn fn, void *ctx, long *count, int *err)
{
    union {
        struct inet_diag_req legacy;
        struct inet_diag_req_v2 v2;
    } r;
    /* port conditions: op + hostcond + jump = 16 bytes; networks up to 32 */
    unsigned char bc[(MM_SOCKDIAG_MAX_PORTS + 1) * 16 + MM_SOCKDIAG_MAX_NETS * 32];
    unsigned char msg[NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(r)) + RTA_SPACE(sizeof(bc))];
    memset(&r, 0, sizeof(r));

    uint32_t states = q->states ? q->states : MM_TCP_ALL_STATES;
    unsigned char ext = q->want_info ? (unsigned char)(1 << (INET_DIAG_INFO - 1)) : 0;
    size_t rlen;
    if (type == TCPDIAG_GETSOCK) {
        r.legacy.idiag_family = AF_UNSPEC;
        r.legacy.idiag_ext = ext;
        r.legacy.idiag_states = states;
        r.legacy.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
        r.legacy.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
        rlen = sizeof(r.legacy);
    } else {
        r.v2.sdiag_family = (unsigned char)family;
        r.v2.sdiag_protocol = IPPROTO_TCP;
        r.v2.idiag_ext = ext;
        r.v2.idiag_states = states;
        r.v2.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
        r.v2.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
        rlen = sizeof(r.v2);
    }
    int bclen = mm_sockdiag_bytecode(q, bc, sizeof(bc));
    if (bclen < 0) {
        *err = E2BIG;
        return -1;
    }
    /* header | request | optional INET_DIAG_REQ_BYTECODE attribute */
    size_t mlen = NLMSG_HDRLEN + NLMSG_ALIGN(rlen);
    memset(msg, 0, sizeof(msg));
    memcpy(msg + NLMSG_HDRLEN, &r, rlen);
    if (bclen > 0) {
        struct rtattr rta = {(unsigned short)RTA_LENGTH(bclen), INET_DIAG_REQ_BYTECODE};
        memcpy(msg + mlen, &rta, sizeof(rta));
        memcpy(msg + mlen + RTA_LENGTH(0), bc, (size_t)bclen);
        mlen += RTA_SPACE(bclen);
    }
    struct nlmsghdr nlh = {
        .nlmsg_len = (uint32_t)mlen,
        .nlmsg_type = (uint16_t)type,
        .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
        .nlmsg_seq = ++d->seq,
    };
    memcpy(msg, &nlh, sizeof(nlh));

    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    struct timeval tv = {NL_TIMEOUT_SEC, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t sent;
    do
        sent = sendto(fd, msg, mlen, 0, (struct sockaddr *)&kernel, sizeof(kernel));
    while (sent < 0 && errno == EINTR);
    if (sent < 0 || (size_t)sent != mlen) {
        *err = sent < 0 ? errno : EIO;
        close(fd);
        return -1;
    }

    int rc;
    for (;;) {
        struct iovec iov = {d->nlbuf, d->nlbuf_len};
        struct sockaddr_nl from;
        struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof(from),
                            .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = recvmsg(fd, &mh, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *err = errno == EAGAIN ? ETIMEDOUT : errno;
            rc = -1;
            break;
        }
        if (n == 0) {
            *err = EBADMSG; /* the kernel never ends a dump without NLMSG_DONE */
            rc = -1;
            break;
        }
        if (mh.msg_flags & MSG_TRUNC) {
            *err = EMSGSIZE;
            rc = -1;
            break;
        }
        rc = mm_sockdiag_parse(d->nlbuf, (size_t)n, q, fn, ctx, count, err);
        if (rc != 0) {
            rc = rc > 0 ? 0 : -1;
            break;
        }
    }
    close(fd);
    return rc;
}

/* /proc/net/sockstat6 "TCP6: inuse N": whether an IPv6 walk can find
 * anything. TIME_WAIT sockets are not in that count, which is acceptable:
 * with no live TCPv6 socket there is no IPv6 client to count. */
static int tcp6_in_use(void)
{
    char buf[512];
    int fd = mm_open_regular_at(AT_FDCWD, "/proc/net/sockstat6");
    if (fd < 0)
        return 0; /* IPv6 disabled */
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 1; /* unsure: walk */
    buf[n] = '\0';
    const char *p = strstr(buf, "TCP6: inuse ");
    if (!p)
        return 1;
    uint64_t inuse;
    return !mm_scan_u64(p + 12, NULL, &inuse) || inuse != 0; /* unsure: walk */
}

static int nl_dump(struct mm_sockdiag *d, const struct mm_sockdiag_query *q, mm_sock_fn fn,
                   void *ctx, long *count, int *err)
{
    if (d->walk != MM_SOCKDIAG_WALK_V2) {
        int rc = nl_walk(d, q, TCPDIAG_GETSOCK, AF_UNSPEC, fn, ctx, count, err);
        if (rc == 0) {
            d->walk = MM_SOCKDIAG_WALK_COMPAT;
            return 0;
        }
        /* A kernel without the legacy request: use the per-family one. */
        if (d->walk != MM_SOCKDIAG_WALK_AUTO || *count != 0 || !unavailable_errno(*err))
            return -1;
        d->walk = MM_SOCKDIAG_WALK_V2;
    }
    if (nl_walk(d, q, SOCK_DIAG_BY_FAMILY, AF_INET, fn, ctx, count, err) < 0)
        return -1;
    if (tcp6_in_use() && nl_walk(d, q, SOCK_DIAG_BY_FAMILY, AF_INET6, fn, ctx, count, err) < 0)
        return -1;
    return 0;
}

static long proc_dump(struct mm_sockdiag *d, const struct mm_sockdiag_query *q, mm_sock_fn fn,
                      void *ctx, const struct mm_logger *log)
{
    long count = 0;
    int err = 0;
    if (mm_procnet_read("/proc/net/tcp", AF_INET, d->procbuf, d->procbuf_len, q, fn, ctx,
                        &count, &err) < 0) {
        mm_latch_fail_kind(&d->latch, log, MM_LOG_ERROR, KIND_PROC + err,
                      "sockets: reading /proc/net/tcp failed: %s",
                      strerror(err));
        return -1;
    }
    /* No tcp6 file means IPv6 is disabled, which is fine. */
    if (mm_procnet_read("/proc/net/tcp6", AF_INET6, d->procbuf, d->procbuf_len, q, fn, ctx,
                        &count, &err) < 0 && err != ENOENT) {
        mm_latch_fail_kind(&d->latch, log, MM_LOG_ERROR, KIND_PROC6 + err,
                      "sockets: reading /proc/net/tcp6 failed: %s",
                      strerror(err));
        return -1;
    }
    mm_latch_ok(&d->latch, log, "socket table");
    return count;
}

long mm_sockdiag_dump(struct mm_sockdiag *d, const struct mm_sockdiag_query *q, mm_sock_fn fn,
                      void *ctx, int *with_info, const struct mm_logger *log)
{
    if (with_info)
        *with_info = 0;
    if (d->force_proc)
        d->method = MM_SOCKDIAG_PROC;
    if (d->method == MM_SOCKDIAG_PROC)
        return proc_dump(d, q, fn, ctx, log);

    long count = 0;
    int err = 0;
    if (nl_dump(d, q, fn, ctx, &count, &err) == 0) {
        d->method = MM_SOCKDIAG_NETLINK;
        mm_latch_ok(&d->latch, log, "sock_diag dump");
        if (with_info)
            *with_info = q->want_info;
        return count;
    }
    if (d->method == MM_SOCKDIAG_AUTO && count == 0 && unavailable_errno(err)) {
        d->method = MM_SOCKDIAG_PROC;
        if (!d->warned_fallback) {
            d->warned_fallback = 1;
            mm_log(log, MM_LOG_WARNING,
                   "sockets: netlink sock_diag is unavailable (%s); reading /proc/net/tcp and "
                   "/proc/net/tcp6 from now on (slower, and without byte counters)",
                   strerror(err));
        }
        return proc_dump(d, q, fn, ctx, log);
    }
    mm_latch_fail_kind(&d->latch, log, MM_LOG_ERROR, KIND_NETLINK + err,
                  "sockets: sock_diag dump failed: %s",
                  strerror(err));
    return -1;
}
