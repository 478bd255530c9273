/* procnet.h — the /proc/net/tcp{,6} reader: the same sockets as netlink, without byte counters.
 *
 * Used only when netlink sock_diag is unavailable. The files are streamed
 * through a fixed buffer (at 100k connections they are ~30 MB), so memory
 * stays bounded; they carry no byte counters. */
#ifndef MM_PROCNET_H
#define MM_PROCNET_H

#include <stddef.h>

#include "host/sockets/socket_model.h"

/* One line of /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6), without
 * its newline. 0 with *out filled, 1 for the header line, -1 if malformed. */
int mm_procnet_parse_line(const char *line, size_t len, int family, struct mm_sock *out);

/* Streams path through buf, passing the sockets matching q to fn and adding
 * them to *count. 0, or -1 with *err an errno value (EBADMSG: bad line). */
int mm_procnet_read(const char *path, int family, char *buf, size_t buf_len,
                    const struct mm_sockdiag_query *q, mm_sock_fn fn, void *ctx, long *count,
                    int *err);

#endif
