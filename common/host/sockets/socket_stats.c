/* socket_stats.c — per-side counting of sockets (see socket_stats.h). The
 * per-socket path is a few compares and one hash insert; exclusion rules run
 * once per distinct address in finish(), not once per connection. */
#include "host/sockets/socket_stats.h"

#include <string.h>

const char *mm_side_name(enum mm_side side)
{
    return side == MM_SIDE_CLIENT ? "client" : side == MM_SIDE_UPSTREAM ? "upstream" : "?";
}

int mm_peer_excluded(const struct mm_peer_filter *f, const struct mm_ip *ip)
{
    if (!f)
        return 0;
    if (!f->include_local && mm_ip_is_local(ip))
        return 1;
    for (size_t i = 0; i < f->n_ignore; i++)
        if (mm_cidr_match(&f->ignore[i], ip))
            return 1;
    return 0;
}

int mm_state_is_live(int state)
{
    return state == MM_TCP_ESTABLISHED;
}

int mm_endpoint_match(const struct mm_endpoint *eps, size_t n, const struct mm_ip *addr, uint16_t port)
{
    for (size_t i = 0; i < n; i++)
        if (eps[i].port == port && (eps[i].any || memcmp(&eps[i].addr, addr, sizeof(*addr)) == 0))
            return 1;
    return 0;
}

static int is_loopback(const struct mm_ip *ip)
{
    static const uint8_t v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return (mm_ip_is_v4(ip) && ip->b[12] == 127) || memcmp(ip->b, v6_loop, 16) == 0;
}

/* Upstream: a remote address in the networks, a remote port in the list
 * (if any), and not a connection to the proxy itself or to its stats port. */
static int is_upstream(const struct mm_socket_stats *st, const struct mm_sock *s)
{
    const struct mm_upstream_match *up = &st->up;
    if (up->n_nets == 0)
        return 0;
    if (up->n_ports) {
        size_t i = 0;
        while (i < up->n_ports && up->ports[i] != s->dport)
            i++;
        if (i == up->n_ports)
            return 0;
    }
    size_t i = 0;
    while (i < up->n_nets && !mm_cidr_match(&up->nets[i], &s->dst))
        i++;
    if (i == up->n_nets)
        return 0;
    /* The agent's own scrapes, both ends (the server's TIME_WAIT too). */
    if (up->stats_port && ((s->dport == up->stats_port && is_loopback(&s->dst)) ||
                           (s->sport == up->stats_port && is_loopback(&s->src))))
        return 0;
    return !mm_endpoint_match(st->client, st->n_client, &s->dst, s->dport);
}

int mm_socket_stats_init(struct mm_socket_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < MM_SIDE_COUNT; i++) {
        if (mm_ipcount_init(&st->side[i].peers, MM_IPCOUNT_DEFAULT_MAX) < 0) {
            mm_socket_stats_free(st);
            return -1;
        }
    }
    return 0;
}

void mm_socket_stats_free(struct mm_socket_stats *st)
{
    for (int i = 0; i < MM_SIDE_COUNT; i++)
        mm_ipcount_free(&st->side[i].peers);
}

void mm_socket_stats_begin(struct mm_socket_stats *st, const struct mm_endpoint *client,
                           size_t n_client, const struct mm_upstream_match *up)
{
    for (int i = 0; i < MM_SIDE_COUNT; i++) {
        struct mm_side_stats *s = &st->side[i];
        memset(s->states, 0, sizeof(s->states));
        s->bytes_received = s->bytes_acked = 0;
        s->unique_ips = s->max_per_ip = s->ips_over = s->live_counted = 0;
        mm_ipcount_clear(&s->peers);
    }
    if (n_client > MM_SOCKDIAG_MAX_PORTS)
        n_client = MM_SOCKDIAG_MAX_PORTS;
    if (n_client)
        memcpy(st->client, client, n_client * sizeof(*client));
    st->n_client = n_client;
    memset(&st->up, 0, sizeof(st->up));
    if (up)
        st->up = *up;
}

int mm_socket_stats_add(void *ctx, const struct mm_sock *s)
{
    struct mm_socket_stats *st = ctx;
    struct mm_side_stats *side = NULL;
    if (mm_endpoint_match(st->client, st->n_client, &s->src, s->sport))
        side = &st->side[MM_SIDE_CLIENT];
    else if (is_upstream(st, s))
        side = &st->side[MM_SIDE_UPSTREAM];
    if (!side || s->state <= 0 || s->state >= MM_TCP_STATE_END)
        return 0;

    side->states[s->state]++;
    if (s->has_info) {
        side->bytes_received += s->bytes_received;
        side->bytes_acked += s->bytes_acked;
    }
    if (mm_state_is_live(s->state) && !mm_ip_is_unspecified(&s->dst))
        mm_ipcount_push(&side->peers, &s->dst); /* overflow is reported by the caller */
    return 0;
}

void mm_socket_stats_finish(struct mm_socket_stats *st, enum mm_side side,
                            const struct mm_peer_filter *filter, uint32_t ips_over,
                            mm_peer_fn fn, void *ctx)
{
    struct mm_side_stats *s = &st->side[side];
    struct mm_ipcount_slot *slot;
    s->unique_ips = s->max_per_ip = s->ips_over = s->live_counted = 0;
    mm_ipcount_flush(&s->peers);
    struct mm_ip ip;
    for (size_t pos = 0; (slot = mm_ipcount_next(&s->peers, &pos));) {
        mm_ipcount_ip(&s->peers, slot, &ip);
        if (mm_peer_excluded(filter, &ip))
            continue;
        s->unique_ips++;
        s->live_counted += slot->count;
        if (slot->count > s->max_per_ip)
            s->max_per_ip = slot->count;
        if (slot->count > ips_over)
            s->ips_over++;
        if (fn)
            fn(ctx, slot, &ip);
    }
}
