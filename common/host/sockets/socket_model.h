/* socket_model.h — one TCP socket as every reader hands it over (netlink,
 * /proc/net/tcp), the TCP states written once, and the query that says which
 * sockets a walk wants. Readers fill struct mm_sock; counting is elsewhere. */
#ifndef MM_SOCKET_MODEL_H
#define MM_SOCKET_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/netmask.h"

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
enum mm_tcp_state {
    MM_TCP_ESTABLISHED = 1,
    MM_TCP_SYN_SENT,
    MM_TCP_SYN_RECV,
    MM_TCP_FIN_WAIT1,
    MM_TCP_FIN_WAIT2,
    MM_TCP_TIME_WAIT,
    MM_TCP_CLOSE,
    MM_TCP_CLOSE_WAIT,
    MM_TCP_LAST_ACK,
    MM_TCP_LISTEN,
    MM_TCP_CLOSING,
    MM_TCP_STATE_END /* one past the last state we count */
};
#define MM_TCP_ALL_STATES (((1u << MM_TCP_STATE_END) - 1) & ~1u)

/* netstat / tcpconns spelling ("ESTABLISHED") and the metric name
 * ("established"); NULL outside 1..MM_TCP_STATE_END-1. */
const char *mm_tcp_state_name(int state);
const char *mm_tcp_state_metric(int state);

struct mm_sock {
    int family;            /* AF_INET or AF_INET6 as the kernel reports it */
    int state;             /* enum mm_tcp_state */
    struct mm_ip src, dst; /* IPv4 in mapped form (netmask.h) */
    uint16_t sport, dport; /* host byte order */
    uint32_t inode;        /* 0 for TIME_WAIT and SYN_RECV mini sockets */
    uint64_t cookie;       /* the kernel's socket cookie (netlink only; 0 from /proc) */
    int has_info;          /* the byte counters below are valid */
    uint64_t bytes_received, bytes_acked; /* tcp_info */
};

/* Called once per socket; a non-zero return stops the walk. */
typedef int (*mm_sock_fn)(void *ctx, const struct mm_sock *s);

/* Which sockets: local port in local_ports OR remote port == remote_port
 * OR remote address in one of remote_nets. None of them means every socket
 * (listening-port discovery). */
#define MM_SOCKDIAG_MAX_PORTS 32
#define MM_SOCKDIAG_MAX_NETS 64
struct mm_sockdiag_query {
    uint16_t local_ports[MM_SOCKDIAG_MAX_PORTS];
    size_t n_local_ports;
    uint16_t remote_port; /* 0: none */
    const struct mm_cidr *remote_nets; /* at most MM_SOCKDIAG_MAX_NETS are used */
    size_t n_remote_nets;
    uint32_t states;      /* bit (1 << state); 0 means MM_TCP_ALL_STATES */
    int want_info;        /* ask for tcp_info (bytes) */
};

/* Whether a socket matches q (the user-space copy of the kernel filter). */
int mm_sockdiag_match(const struct mm_sockdiag_query *q, const struct mm_sock *s);

#endif
