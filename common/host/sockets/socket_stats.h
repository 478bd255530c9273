/* socket_stats.h — what the socket table says about each side of the proxy.
 *
 * A socket belongs to the "client" side when its local port is one of the
 * client ports, else to the "upstream" side when its remote port is the
 * upstream port (Telegram's middle proxies). Per side: sockets per TCP state,
 * the byte counters summed over the open sockets, and connections per remote
 * IP (ipcount.h). Counting rules (docs/sockets.md):
 *   - the state counts include every socket on the port, excluded peers too;
 *   - distinct IPs, connections per IP, the IPs over the limit and countries
 *     count "live" connections only (every state but LISTEN, TIME_WAIT and
 *     CLOSE) and, on the client side, only peers that are not excluded
 *     (loopback/private/link-local unless include_local, ignore networks). */
#ifndef MM_SOCKET_STATS_H
#define MM_SOCKET_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "host/sockets/ipcount.h"
#include "host/sockets/netmask.h"
#include "host/sockets/sockdiag.h"

enum mm_side { MM_SIDE_CLIENT, MM_SIDE_UPSTREAM, MM_SIDE_COUNT };
const char *mm_side_name(enum mm_side side); /* "client", "upstream" */

/* Which peers the per-IP figures leave out. */
struct mm_peer_filter {
    int include_local; /* 0: leave out loopback, private and link-local peers */
    const struct mm_cidr *ignore;
    size_t n_ignore;
};
int mm_peer_excluded(const struct mm_peer_filter *f, const struct mm_ip *ip);
/* Whether a socket in this state is a live connection of its peer. */
int mm_state_is_live(int state);

struct mm_side_stats {
    uint64_t states[MM_TCP_STATE_END]; /* index: enum mm_tcp_state */
    uint64_t bytes_received, bytes_acked;
    struct mm_ipcount peers;
    /* set by mm_socket_stats_finish() */
    uint64_t unique_ips, max_per_ip, ips_over, live_counted;
};

struct mm_socket_stats {
    struct mm_side_stats side[MM_SIDE_COUNT];
    uint16_t client_ports[MM_SOCKDIAG_MAX_PORTS];
    size_t n_client_ports;
    uint16_t upstream_port; /* 0: no upstream side */
};

int mm_socket_stats_init(struct mm_socket_stats *st);
void mm_socket_stats_free(struct mm_socket_stats *st);
/* Starts a gather: zeroes the counts, keeps the buffers. */
void mm_socket_stats_begin(struct mm_socket_stats *st, const uint16_t *client_ports,
                           size_t n_client_ports, uint16_t upstream_port);
/* An mm_sock_fn: ctx is the struct mm_socket_stats. */
int mm_socket_stats_add(void *ctx, const struct mm_sock *s);

/* Called for every counted peer of a side: its slot in the map (address,
 * live connections, whether it is fresh, the caller's cache value). */
typedef void (*mm_peer_fn)(void *ctx, struct mm_ipcount_slot *peer);

/* Ends a gather: computes the per-IP figures of one side, applying filter
 * (NULL: count every peer) and the "more than ips_over connections" limit,
 * and hands every counted peer to fn (may be NULL). */
void mm_socket_stats_finish(struct mm_socket_stats *st, enum mm_side side,
                            const struct mm_peer_filter *filter, uint32_t ips_over,
                            mm_peer_fn fn, void *ctx);

#endif
