/* socket_model.c — TCP state names and the user-space socket filter
 * (socket_model.h). */
#include "host/sockets/socket_model.h"

static const char *const state_names[MM_TCP_STATE_END] = {
    NULL,        "ESTABLISHED", "SYN_SENT",   "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
    "TIME_WAIT", "CLOSE",       "CLOSE_WAIT", "LAST_ACK", "LISTEN",    "CLOSING",
};
static const char *const state_metrics[MM_TCP_STATE_END] = {
    NULL,        "established", "syn_sent",   "syn_recv", "fin_wait1", "fin_wait2",
    "time_wait", "close",       "close_wait", "last_ack", "listen",    "closing",
};

const char *mm_tcp_state_name(int state)
{
    return state > 0 && state < MM_TCP_STATE_END ? state_names[state] : NULL;
}

const char *mm_tcp_state_metric(int state)
{
    return state > 0 && state < MM_TCP_STATE_END ? state_metrics[state] : NULL;
}

int mm_sockdiag_match(const struct mm_sockdiag_query *q, const struct mm_sock *s)
{
    uint32_t states = q->states ? q->states : MM_TCP_ALL_STATES;
    if (s->state <= 0 || s->state >= 32 || !(states & (1u << s->state)))
        return 0;
    if (q->n_local_ports == 0 && q->remote_port == 0 && q->n_remote_nets == 0)
        return 1;
    for (size_t i = 0; i < q->n_local_ports; i++)
        if (s->sport == q->local_ports[i])
            return 1;
    for (size_t i = 0; i < q->n_remote_nets; i++)
        if (mm_cidr_match(&q->remote_nets[i], &s->dst))
            return 1;
    return q->remote_port != 0 && s->dport == q->remote_port;
}
