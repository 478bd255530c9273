/* socket_stats.h — what the socket table says about each side of the proxy.
 *
 * A socket belongs to the "client" side when its local address and port are
 * one of the proxy's client endpoints (a listener on 0.0.0.0 or :: takes
 * any local address), else to the "upstream" side when its remote address
 * is in one of the upstream networks (Telegram's, by default) and, if ports
 * are given, its remote port is one of them. A connection to one of the
 * client endpoints or to the stats port on loopback is never upstream (a
 * local client, the agent's own scrape). Per side: sockets per TCP state, the
 * byte counters summed over the open sockets, and connections per remote IP
 * (ipcount.h). Counting rules (docs/sockets.md):
 *   - the state counts include every socket of the side, excluded peers too;
 *   - distinct IPs, connections per IP, the IPs over the limit and countries
 *     count ESTABLISHED connections only and, on the client side, only
 *     peers that are not excluded (loopback/private/link-local unless
 *     include_local, ignore networks). */
#ifndef MM_SOCKET_STATS_H
#define MM_SOCKET_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "host/sockets/ipcount.h"
#include "core/netmask.h"
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
/* Whether a socket in this state counts for its peer's per-IP figures:
 * ESTABLISHED only (a FIN_WAIT2 socket may outlive a client long gone). */
int mm_state_is_live(int state);

/* Where the proxy accepts clients: a port on one local address, or on any
 * (a listener on 0.0.0.0 or ::). */
struct mm_endpoint {
    struct mm_ip addr; /* IPv4 in mapped form */
    int any;
    uint16_t port;
};

/* What makes a socket upstream. */
struct mm_upstream_match {
    const struct mm_cidr *nets; /* remote networks */
    size_t n_nets;
    const uint16_t *ports; /* remote ports; none: any */
    size_t n_ports;
    uint16_t stats_port; /* loopback connections to it are the agent's own */
};

struct mm_side_stats {
    uint64_t states[MM_TCP_STATE_END]; /* index: enum mm_tcp_state */
    uint64_t bytes_received, bytes_acked;
    struct mm_ipcount peers;
    /* set by mm_socket_stats_finish() */
    uint64_t unique_ips, max_per_ip, ips_over, live_counted;
};

struct mm_socket_stats {
    struct mm_side_stats side[MM_SIDE_COUNT];
    struct mm_endpoint client[MM_SOCKDIAG_MAX_PORTS];
    size_t n_client;
    struct mm_upstream_match up; /* n_nets 0: no upstream side */
};

int mm_socket_stats_init(struct mm_socket_stats *st);
void mm_socket_stats_free(struct mm_socket_stats *st);
/* Starts a gather: zeroes the counts, keeps the buffers. up (may be NULL:
 * no upstream side) is used, not copied, until the gather ends. */
void mm_socket_stats_begin(struct mm_socket_stats *st, const struct mm_endpoint *client,
                           size_t n_client, const struct mm_upstream_match *up);
/* Whether a socket's local end is one of the endpoints. */
int mm_endpoint_match(const struct mm_endpoint *eps, size_t n, const struct mm_ip *addr, uint16_t port);
/* An mm_sock_fn: ctx is the struct mm_socket_stats. */
int mm_socket_stats_add(void *ctx, const struct mm_sock *s);

/* Called for every counted peer of a side: its slot in the map (live
 * connections, whether it is fresh, the caller's cache value) and its address. */
typedef void (*mm_peer_fn)(void *ctx, struct mm_ipcount_slot *peer, const struct mm_ip *ip);

/* Ends a gather: computes the per-IP figures of one side, applying filter
 * (NULL: count every peer) and the "more than ips_over connections" limit,
 * and hands every counted peer to fn (may be NULL). */
void mm_socket_stats_finish(struct mm_socket_stats *st, enum mm_side side,
                            const struct mm_peer_filter *filter, uint32_t ips_over,
                            mm_peer_fn fn, void *ctx);

#endif
