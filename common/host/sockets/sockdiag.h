/* sockdiag.h — the kernel's TCP socket table, one socket at a time.
 *
 * One dump per call: a NETLINK_SOCK_DIAG request filtered in the kernel by a
 * bytecode program (local port in a set OR remote port equal to one port),
 * with tcp_info for the byte counters. When sock_diag is unavailable the
 * same sockets come from /proc/net/tcp{,6} (procnet.c), without byte
 * counters, and one warning says so. Each socket is handed to a callback, so
 * what is counted (socket_stats.c) stays separate from how it is read. */
#ifndef MM_SOCKDIAG_H
#define MM_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "host/sockets/socket_model.h"

enum mm_sockdiag_method { MM_SOCKDIAG_AUTO, MM_SOCKDIAG_NETLINK, MM_SOCKDIAG_PROC };
/* How netlink walks the table (sockdiag.c explains); AUTO tries COMPAT first. */
enum mm_sockdiag_walk { MM_SOCKDIAG_WALK_AUTO, MM_SOCKDIAG_WALK_COMPAT, MM_SOCKDIAG_WALK_V2 };

/* Per-instance reader state: reused buffers and what worked last time. */
struct mm_sockdiag {
    unsigned char *nlbuf; /* netlink receive buffer */
    size_t nlbuf_len;
    char *procbuf; /* /proc read buffer */
    size_t procbuf_len;
    enum mm_sockdiag_method method; /* decided by the first dump */
    enum mm_sockdiag_walk walk; /* tests and the benchmark may preset it */
    int force_proc;     /* tests: behave as if sock_diag were missing */
    int warned_fallback;
    uint32_t seq;
    struct mm_error_latch latch;
};

int mm_sockdiag_init(struct mm_sockdiag *d);
void mm_sockdiag_free(struct mm_sockdiag *d);

/* Walks the sockets matching q. Returns how many were passed to fn, or -1
 * after logging why (through d's latch, so a repeating failure is logged
 * once). *with_info (may be NULL) tells whether bytes were available. */
long mm_sockdiag_dump(struct mm_sockdiag *d, const struct mm_sockdiag_query *q, mm_sock_fn fn,
                      void *ctx, int *with_info, const struct mm_logger *log);

/* The netlink reply parser, public for tests and fuzzing: walks the messages
 * in buf[0..len), applies q in user space too, calls fn per socket.
 * Returns 0 when buf was consumed and more is expected, 1 on NLMSG_DONE (or
 * when fn stopped the walk), -1 with *err set: EBADMSG for a malformed reply,
 * the kernel's errno for an NLMSG_ERROR. *count gets the sockets passed. */
int mm_sockdiag_parse(const void *buf, size_t len, const struct mm_sockdiag_query *q,
                      mm_sock_fn fn, void *ctx, long *count, int *err);

/* Builds the kernel bytecode for q into out (at most out_len bytes).
 * Returns its length, 0 when q has no ports (no filter), -1 if too long. */
int mm_sockdiag_bytecode(const struct mm_sockdiag_query *q, void *out, size_t out_len);

#endif
