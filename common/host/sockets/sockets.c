/* sockets.c — config, state and gather of the connections part (see sockets.h).
 * Reading the table is sockdiag.c, counting socket_stats.c, addresses to
 * countries geoip.c + countries.c; this file wires them and emits metrics. */
#include "host/sockets/sockets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/number.h"
#include "host/sockets/listen_ports.h"

/* ---- configuration ---------------------------------------------------- */

const char *const mm_telegram_networks[] = {
    "91.105.192.0/23", "91.108.4.0/22",      "91.108.8.0/22",      "91.108.12.0/22",
    "91.108.16.0/22",  "91.108.20.0/22",     "91.108.56.0/22",     "95.161.64.0/20",
    "149.154.160.0/20", "185.76.151.0/24",   "2001:67c:4e8::/48",  "2001:b28:f23c::/48",
    "2001:b28:f23d::/48", "2001:b28:f23f::/48", "2a0a:f280::/32",  NULL,
};

void mm_sockets_config_init(struct mm_sockets_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ips_over = MM_SOCKETS_DEFAULT_IPS_OVER;
    cfg->max_countries = MM_SOCKETS_DEFAULT_MAX_COUNTRIES;
}

void mm_sockets_config_free(struct mm_sockets_config *cfg)
{
    free(cfg->ignore);
    free(cfg->upstream_nets);
    free(cfg->geoip_path);
    free(cfg->state_file);
    mm_sockets_config_init(cfg);
}

int mm_sockets_config_add_client_port(struct mm_sockets_config *cfg, int port, char *err, size_t err_len)
{
    for (size_t i = 0; i < cfg->n_client_ports; i++)
        if (cfg->client_ports[i] == port)
            return 0;
    if (cfg->n_client_ports == MM_SOCKETS_MAX_CLIENT_PORTS) {
        snprintf(err, err_len, "more than %d client ports", MM_SOCKETS_MAX_CLIENT_PORTS);
        return -1;
    }
    cfg->client_ports[cfg->n_client_ports++] = port;
    return 0;
}

int mm_sockets_config_add_client_endpoint(struct mm_sockets_config *cfg, const char *text, char *err,
                                          size_t err_len)
{
    const char *colon = text ? strrchr(text, ':') : NULL;
    char host[64];
    size_t hlen = colon ? (size_t)(colon - text) : 0;
    int64_t port = 0;
    char why[96];
    if (!colon || hlen == 0 || hlen >= sizeof(host) ||
        mm_parse_i64(colon + 1, 1, 65535, &port, why, sizeof(why)) != 0) {
        snprintf(err, err_len, "'%s' is not ADDRESS:PORT (127.0.0.1:443, [::1]:443)", text ? text : "");
        return -1;
    }
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && host[hlen - 1] == ']') { /* [v6] */
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    struct mm_cidr c;
    if (mm_cidr_parse(host, &c, why, sizeof(why)) != 0 || (c.family == AF_INET ? c.prefix != 32 : c.prefix != 128)) {
        snprintf(err, err_len, "'%s': the address is not an IPv4 or IPv6 address", text);
        return -1;
    }
    if (cfg->n_client_eps == MM_SOCKETS_MAX_CLIENT_PORTS) {
        snprintf(err, err_len, "more than %d client endpoints", MM_SOCKETS_MAX_CLIENT_PORTS);
        return -1;
    }
    struct mm_endpoint e = {c.net, mm_ip_is_unspecified(&c.net), (uint16_t)port};
    cfg->client_eps[cfg->n_client_eps++] = e;
    return 0;
}

int mm_sockets_config_add_ignore(struct mm_sockets_config *cfg, const char *cidr, char *err,
                                 size_t err_len)
{
    struct mm_cidr c;
    if (mm_cidr_parse(cidr, &c, err, err_len) < 0)
        return -1;
    if (cfg->n_ignore == MM_SOCKETS_MAX_IGNORE) {
        snprintf(err, err_len, "more than %d ignored networks", MM_SOCKETS_MAX_IGNORE);
        return -1;
    }
    struct mm_cidr *grown = realloc(cfg->ignore, (cfg->n_ignore + 1) * sizeof(*grown));
    if (!grown) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    cfg->ignore = grown;
    cfg->ignore[cfg->n_ignore++] = c;
    return 0;
}

int mm_sockets_config_add_upstream_net(struct mm_sockets_config *cfg, const char *cidr, char *err,
                                       size_t err_len)
{
    struct mm_cidr c;
    if (mm_cidr_parse(cidr, &c, err, err_len) < 0)
        return -1;
    if (cfg->n_upstream_nets == MM_SOCKETS_MAX_UPSTREAM_NETS) {
        snprintf(err, err_len, "more than %d upstream networks", MM_SOCKETS_MAX_UPSTREAM_NETS);
        return -1;
    }
    struct mm_cidr *grown = realloc(cfg->upstream_nets, (cfg->n_upstream_nets + 1) * sizeof(*grown));
    if (!grown) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    cfg->upstream_nets = grown;
    cfg->upstream_nets[cfg->n_upstream_nets++] = c;
    return 0;
}

int mm_sockets_config_add_upstream_port(struct mm_sockets_config *cfg, int port, char *err,
                                        size_t err_len)
{
    if (port == 0) {
        cfg->upstream_off = 1;
        return 0;
    }
    for (size_t i = 0; i < cfg->n_upstream_ports; i++)
        if (cfg->upstream_ports[i] == port)
            return 0;
    if (cfg->n_upstream_ports == MM_SOCKETS_MAX_UPSTREAM_PORTS) {
        snprintf(err, err_len, "more than %d upstream ports", MM_SOCKETS_MAX_UPSTREAM_PORTS);
        return -1;
    }
    cfg->upstream_ports[cfg->n_upstream_ports++] = port;
    return 0;
}

int mm_sockets_config_set_geoip_path(struct mm_sockets_config *cfg, const char *path, char *err,
                                     size_t err_len)
{
    if (!path || !*path) {
        snprintf(err, err_len, "the GeoIP database path is empty");
        return -1;
    }
    char *copy = strdup(path);
    if (!copy) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    free(cfg->geoip_path);
    cfg->geoip_path = copy;
    return 0;
}

/* ---- state ------------------------------------------------------------ */

int mm_sockets_state_init(struct mm_sockets_state *st)
{
    memset(st, 0, sizeof(*st));
    mm_geoip_init(&st->geoip);
    if (mm_sockdiag_init(&st->diag) < 0)
        return -1;
    if (mm_socket_stats_init(&st->stats) < 0) {
        mm_sockdiag_free(&st->diag);
        return -1;
    }
    if (mm_clients_init(&st->clients) < 0) {
        mm_socket_stats_free(&st->stats);
        mm_sockdiag_free(&st->diag);
        return -1;
    }
    mm_countries_clear(&st->countries);
    mm_country_cache_init(&st->country_ids);
    char err[128];
    for (size_t i = 0; mm_telegram_networks[i] && i < MM_SOCKETS_MAX_UPSTREAM_NETS; i++)
        if (mm_cidr_parse(mm_telegram_networks[i], &st->default_nets[st->n_default_nets], err,
                          sizeof(err)) == 0)
            st->n_default_nets++;
    return 0;
}

void mm_sockets_state_free(struct mm_sockets_state *st)
{
    mm_sockdiag_free(&st->diag);
    mm_socket_stats_free(&st->stats);
    mm_geoip_free(&st->geoip);
    mm_clients_free(&st->clients);
}

void mm_sockets_state_use_file(struct mm_sockets_state *st, const char *path, const char *owner,
                               const struct mm_logger *log)
{
    mm_clients_set_state_file(&st->clients, path, owner, log);
}

/* ---- gather ----------------------------------------------------------- */

static uint64_t pids_key(const struct mm_sockets_proxy *p)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)p->n_pids ^ ((uint64_t)(unsigned)p->stats_port << 32);
    for (size_t i = 0; i < p->n_pids; i++)
        h = (h ^ (uint64_t)(unsigned)p->pids[i]) * 1099511628211ULL;
    for (size_t i = 0; i < p->n_cmdline_ports; i++)
        h = (h ^ p->cmdline_ports[i] ^ 0x10000u) * 1099511628211ULL;
    return h;
}

/* The client endpoints of this gather: the configured ports (any address),
 * or the proxy's listeners — by its fd links, else by the ports its command
 * line names (looked up again only when the PID set changes or nothing was
 * found last time). */
static size_t client_endpoints(struct mm_sockets_state *st, const struct mm_sockets_config *cfg,
                               const struct mm_sockets_proxy *p, struct mm_endpoint *eps,
                               const struct mm_logger *log)
{
    if (cfg->n_client_ports > 0 || cfg->n_client_eps > 0) {
        size_t n = 0;
        for (size_t i = 0; i < cfg->n_client_ports && n < MM_SOCKETS_MAX_CLIENT_PORTS; i++)
            eps[n++] = (struct mm_endpoint){.any = 1, .port = (uint16_t)cfg->client_ports[i]};
        for (size_t i = 0; i < cfg->n_client_eps && n < MM_SOCKETS_MAX_CLIENT_PORTS; i++)
            eps[n++] = cfg->client_eps[i];
        return n;
    }
    if (p->n_pids == 0) {
        mm_latch_fail(&st->ports_latch, log, MM_LOG_WARNING,
                      "sockets: no client port configured and no proxy process known to take "
                      "the listening ports from; client connections are not reported");
        return 0;
    }
    uint64_t key = pids_key(p);
    int fd_err = 0;
    if (!st->have_found || st->pids_key != key || st->n_found == 0) {
        int n = mm_listen_endpoints(&st->diag, p->pids, p->n_pids, p->stats_port, st->found,
                                    MM_SOCKETS_MAX_CLIENT_PORTS, &fd_err, log);
        st->found_by_cmdline = 0;
        int several = 0;
        if (n == 0 && fd_err && p->n_cmdline_ports > 0) {
            /* A proxy that dropped its privileges: its fd directory is
             * root's, its command line anyone's. */
            n = mm_listen_endpoints_on(&st->diag, p->cmdline_ports, p->n_cmdline_ports,
                                       p->stats_port, st->found, MM_SOCKETS_MAX_CLIENT_PORTS,
                                       &several, log);
            st->found_by_cmdline = n > 0;
        }
        st->have_found = n >= 0;
        st->n_found = n > 0 ? (size_t)n : 0;
        st->pids_key = key;
        if (several)
            mm_log(log, MM_LOG_WARNING,
                   "sockets: a client port named on the proxy's command line has listeners on "
                   "several addresses and /proc/%d/fd is not readable to tell which are the proxy's: "
                   "all are counted; run the agent as root or grant it CAP_DAC_READ_SEARCH, or set "
                   "ClientEndpoint (--client-endpoint) to the proxy's address and port",
                   p->pids[0]);
    }
    if (st->n_found == 0) {
        char why[96];
        if (fd_err)
            mm_latch_fail(&st->ports_latch, log, MM_LOG_WARNING,
                          "sockets: cannot tell the proxy's client ports: /proc/%d/fd is not "
                          "readable (%s) and its command line names no client port (-H) that is "
                          "listened on; set ClientPort (--client-port), or run the agent as root or "
                          "with CAP_DAC_READ_SEARCH; client connections are not reported",
                          p->pids[0], strerror_r(fd_err, why, sizeof(why)));
        else
            mm_latch_fail(&st->ports_latch, log, MM_LOG_WARNING,
                          "sockets: the proxy's processes (pid %d and %zu more) listen on no TCP "
                          "port besides the stats port; set ClientPort (--client-port); client "
                          "connections are not reported",
                          p->pids[0], p->n_pids - 1);
        return 0;
    }
    mm_latch_ok(&st->ports_latch, log, "client port discovery");
    memcpy(eps, st->found, st->n_found * sizeof(*eps));
    return st->n_found;
}

/* The kernel filter's networks: the upstream ones widened to /16 (IPv4) and
 * /32 (IPv6), duplicates dropped. The kernel evaluates every condition for
 * every socket of the host, and Telegram's 15 networks in 8 conditions cost
 * ~30% less per dump (0.95 against 1.3 ms at 6k sockets); the exact
 * networks are checked per socket in user space (socket_stats.c). */
static size_t kernel_nets(const struct mm_cidr *nets, size_t n, struct mm_cidr *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < MM_SOCKDIAG_MAX_NETS; i++) {
        struct mm_cidr c = nets[i];
        int cap = c.family == AF_INET ? 16 : 32;
        if (c.prefix > cap) {
            c.prefix = cap;
            int bits = (c.family == AF_INET ? 96 : 0) + cap; /* IPv4 is kept mapped */
            for (int b = bits; b < 128; b++)
                c.net.b[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
        }
        size_t j = 0;
        while (j < k && !(out[j].family == c.family && out[j].prefix == c.prefix &&
                          memcmp(&out[j].net, &c.net, sizeof(c.net)) == 0))
            j++;
        if (j == k)
            out[k++] = c;
    }
    return k;
}

struct emitter {
    struct mm_snapshot *out;
    int failed;
};

static void emit(struct emitter *e, enum mm_origin origin, const char *name, uint64_t value,
                 const char *label_key, const char *label_value)
{
    int64_t v = value > INT64_MAX ? INT64_MAX : (int64_t)value;
    if (!mm_snapshot_add_int(e->out, origin, MM_GAUGE, name, v, label_key, label_value))
        e->failed = 1;
}

static void emit_side(struct emitter *e, const struct mm_side_stats *s, enum mm_side side,
                      int with_bytes)
{
    const char *name = mm_side_name(side);
    for (int state = 1; state < MM_TCP_STATE_END; state++)
        emit(e, MM_ORIGIN_CONNECTIONS, mm_tcp_state_metric(state), s->states[state], "side", name);
    emit(e, MM_ORIGIN_CONNECTIONS, "unique_ips", s->unique_ips, "side", name);
    emit(e, MM_ORIGIN_CONNECTIONS, "max_per_ip", s->max_per_ip, "side", name);
    if (side == MM_SIDE_CLIENT)
        emit(e, MM_ORIGIN_CONNECTIONS, "ips_over_limit", s->ips_over, "side", name);
    if (with_bytes) {
        emit(e, MM_ORIGIN_CONNECTIONS, "bytes_received", s->bytes_received, "side", name);
        emit(e, MM_ORIGIN_CONNECTIONS, "bytes_acked", s->bytes_acked, "side", name);
    }
}

static void emit_country(struct emitter *e, const struct mm_country *c)
{
    emit(e, MM_ORIGIN_COUNTRY, "connections", c->connections, "country", c->code);
    emit(e, MM_ORIGIN_COUNTRY, "unique_ips", c->unique_ips, "country", c->code);
}

struct country_visit {
    struct mm_geoip *geoip; /* NULL: countries off */
    struct mm_country_cache *ids;
    struct mm_countries *countries;
    struct mm_clients *clients;
    int all_to_windows; /* a new minute: every address, not only fresh ones */
    void (*hook)(void *ctx, const struct mm_ip *ip, const char *country);
    void *hook_ctx;
};

/* Once per distinct client IP, and the work per address once while it keeps
 * coming back: its country is cached in the map, and it goes into the
 * windows when fresh (or once a minute). */
static void visit_peer(void *ctx, struct mm_ipcount_slot *peer, const struct mm_ip *ip)
{
    struct country_visit *v = ctx;
    const char *code = NULL;
    if (v->geoip) {
        unsigned id = peer->cache;
        code = mm_country_cache_get(v->ids, v->geoip, ip, &id);
        peer->cache = id;
        mm_country_cache_tally(v->ids, id, code, peer->count, v->countries);
    }
    if (peer->fresh || v->all_to_windows) {
        mm_clients_peer(v->clients, ip, code);
        if (v->hook)
            v->hook(v->hook_ctx, ip, code);
    }
}

/* The dump's callback: counting, and churn for the live client sockets. */
struct dump_visit {
    struct mm_socket_stats *stats;
    struct mm_clients *clients;
};

static int visit_socket(void *ctx, const struct mm_sock *s)
{
    struct dump_visit *v = ctx;
    int rc = mm_socket_stats_add(v->stats, s);
    if (mm_state_is_live(s->state) &&
        mm_endpoint_match(v->stats->client, v->stats->n_client, &s->src, s->sport))
        mm_clients_socket(v->clients, s->cookie, s->inode);
    return rc;
}

int mm_sockets_gather(struct mm_sockets_state *st, const struct mm_sockets_config *cfg,
                      const struct mm_sockets_proxy *proxy, struct mm_snapshot *out,
                      const struct mm_logger *log)
{
    struct mm_sockets_proxy none = {0};
    if (!proxy)
        proxy = &none;
    struct mm_endpoint eps[MM_SOCKETS_MAX_CLIENT_PORTS];
    size_t n_eps = client_endpoints(st, cfg, proxy, eps, log);
    uint16_t up_ports[MM_SOCKETS_MAX_UPSTREAM_PORTS];
    for (size_t i = 0; i < cfg->n_upstream_ports; i++)
        up_ports[i] = (uint16_t)cfg->upstream_ports[i];
    struct mm_upstream_match up = {
        cfg->n_upstream_nets ? cfg->upstream_nets : st->default_nets,
        cfg->n_upstream_nets ? cfg->n_upstream_nets : st->n_default_nets,
        up_ports, cfg->n_upstream_ports,
        (uint16_t)(proxy->stats_port > 0 && proxy->stats_port <= 65535 ? proxy->stats_port : 0)};
    int upstream = !cfg->upstream_off && up.n_nets > 0;
    if (n_eps == 0 && !upstream)
        return 0;

    /* The kernel filters by client port and upstream network; addresses of
     * the client side and the upstream ports are checked per socket. */
    struct mm_sockdiag_query q;
    memset(&q, 0, sizeof(q));
    for (size_t i = 0; i < n_eps; i++) {
        size_t k = 0;
        while (k < q.n_local_ports && q.local_ports[k] != eps[i].port)
            k++;
        if (k == q.n_local_ports)
            q.local_ports[q.n_local_ports++] = eps[i].port;
    }
    struct mm_cidr wide[MM_SOCKDIAG_MAX_NETS];
    if (upstream) {
        q.remote_nets = wide;
        q.n_remote_nets = kernel_nets(up.nets, up.n_nets, wide);
    }
    q.want_info = cfg->socket_bytes;
    mm_socket_stats_begin(&st->stats, eps, n_eps, upstream ? &up : NULL);
    if (n_eps > 0) {
        mm_clients_begin(&st->clients, log);
        if (!st->sized) { /* the last run's size, from the state file */
            mm_ipcount_reserve(&st->stats.side[MM_SIDE_CLIENT].peers, st->clients.last_ips);
            st->sized = 1;
        }
    }
    struct dump_visit dv = {&st->stats, &st->clients};
    int with_info = 0;
    if (mm_sockdiag_dump(&st->diag, &q, n_eps > 0 ? visit_socket : mm_socket_stats_add,
                         n_eps > 0 ? (void *)&dv : (void *)&st->stats, &with_info, log) < 0)
        return -1;

    struct emitter e = {out, 0};
    if (n_eps > 0) {
        struct mm_peer_filter filter = {cfg->include_local, cfg->ignore, cfg->n_ignore};
        int countries = cfg->max_countries > 0 &&
                        mm_geoip_refresh(&st->geoip, cfg->geoip_path, log);
        if (countries && mm_country_cache_sync(&st->country_ids, &st->geoip))
            mm_ipcount_forget_cache(&st->stats.side[MM_SIDE_CLIENT].peers); /* another database */
        struct country_visit v = {countries ? &st->geoip : NULL, &st->country_ids, &st->countries,
                                  &st->clients, mm_clients_new_minute(&st->clients), st->peer_hook,
                                  st->peer_ctx};
        mm_countries_clear(&st->countries);
        mm_socket_stats_finish(&st->stats, MM_SIDE_CLIENT, &filter,
                               cfg->ips_over < 0 ? 0 : (uint32_t)cfg->ips_over, visit_peer, &v);
        if (countries)
            mm_country_cache_flush(&st->country_ids, &st->countries);
        mm_clients_end(&st->clients, st->stats.side[MM_SIDE_CLIENT].peers.used, log);
        emit_side(&e, &st->stats.side[MM_SIDE_CLIENT], MM_SIDE_CLIENT, with_info);
        /* before the live countries are ranked: each is a floor for its 24 h figure */
        if (mm_clients_emit(&st->clients, out, countries ? (size_t)cfg->max_countries : 0,
                            st->stats.side[MM_SIDE_CLIENT].unique_ips,
                            countries ? &st->countries : NULL) < 0)
            e.failed = 1;
        if (countries) {
            struct mm_country other;
            size_t n = mm_countries_rank(&st->countries, (size_t)cfg->max_countries, &other);
            for (size_t i = 0; i < n; i++)
                emit_country(&e, &st->countries.items[i]);
            if (other.unique_ips > 0)
                emit_country(&e, &other);
        }
    }
    if (upstream) {
        /* Upstream peers are Telegram's servers: no exclusion applies. */
        mm_socket_stats_finish(&st->stats, MM_SIDE_UPSTREAM, NULL, UINT32_MAX, NULL, NULL);
        emit_side(&e, &st->stats.side[MM_SIDE_UPSTREAM], MM_SIDE_UPSTREAM, with_info);
    }

    if (st->stats.side[MM_SIDE_CLIENT].peers.overflow ||
        st->stats.side[MM_SIDE_UPSTREAM].peers.overflow)
        mm_latch_fail(&st->overflow_latch, log, MM_LOG_WARNING,
                      "sockets: more distinct peer addresses than the %zu tracked; unique_ips "
                      "and countries are lower bounds",
                      st->stats.side[MM_SIDE_CLIENT].peers.max_cap * 17 / 20);
    else
        mm_latch_ok(&st->overflow_latch, log, "distinct-address tracking");
    if (e.failed)
        mm_latch_fail(&st->emit_latch, log, MM_LOG_ERROR,
                      "sockets: out of memory adding connection metrics; some are missing");
    else
        mm_latch_ok(&st->emit_latch, log, "connection metrics");
    return 0;
}
