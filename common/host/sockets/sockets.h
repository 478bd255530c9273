/* sockets.h — the connections part of a gather: the kernel's socket table
 * turned into per-side and per-country metrics.
 *
 * The front fills an mm_sockets_config from its options (ClientPort /
 * --client-port ...), the instance keeps one mm_sockets_state, and every
 * interval mm_sockets_gather() appends metrics to the snapshot:
 *   origin MM_ORIGIN_CONNECTIONS, label side = "client" | "upstream":
 *     established syn_sent syn_recv fin_wait1 fin_wait2 time_wait close
 *     close_wait last_ack listen closing   sockets per TCP state
 *     unique_ips max_per_ip                per-IP figures (live connections)
 *     ips_over_limit                       client side only
 *     bytes_received bytes_acked           sums over open sockets (socket_bytes,
 *                                          netlink only)
 *   origin MM_ORIGIN_COUNTRY, label country = ISO code | "unknown" | "other":
 *     connections unique_ips               client side, top max_countries
 * All are gauges (the byte sums too: they cover the sockets open now, so they
 * drop when connections close). docs/sockets.md has the details and the
 * collectd / line-protocol spelling. */
#ifndef MM_SOCKETS_H
#define MM_SOCKETS_H

#include <stddef.h>
#include <stdint.h>

#include "host/geo/countries.h"
#include "host/geo/country_cache.h"
#include "host/geo/geoip.h"
#include "core/log.h"
#include "core/metric.h"
#include "host/sockets/clients.h"
#include "core/netmask.h"
#include "host/sockets/sockdiag.h"
#include "host/sockets/socket_stats.h"

#define MM_SOCKETS_MAX_CLIENT_PORTS 16
#define MM_SOCKETS_MAX_IGNORE 256
#define MM_SOCKETS_MAX_UPSTREAM_PORTS 16
#define MM_SOCKETS_MAX_UPSTREAM_NETS MM_SOCKDIAG_MAX_NETS
#define MM_SOCKETS_DEFAULT_IPS_OVER 16
#define MM_SOCKETS_DEFAULT_MAX_COUNTRIES 50

struct mm_sockets_config {
    int client_ports[MM_SOCKETS_MAX_CLIENT_PORTS]; /* any local address; with no
                                                      port nor endpoint: the proxy's listeners */
    size_t n_client_ports;
    struct mm_endpoint client_eps[MM_SOCKETS_MAX_CLIENT_PORTS]; /* an address and port */
    size_t n_client_eps;
    /* Upstream: connections to these networks (none configured: Telegram's
     * published ones, mm_telegram_networks), optionally only to these remote
     * ports; upstream_off (UpstreamPort 0) turns the side off. */
    struct mm_cidr *upstream_nets;
    size_t n_upstream_nets;
    int upstream_ports[MM_SOCKETS_MAX_UPSTREAM_PORTS];
    size_t n_upstream_ports;
    int upstream_off;
    int ips_over;          /* ips_over_limit counts IPs with MORE than this; 16 */
    int include_local;     /* count loopback/private/link-local clients too; 0 */
    int socket_bytes;      /* ask for tcp_info and report the byte sums; 0 (it
                              costs about a quarter of the dump: docs/sockets.md) */
    struct mm_cidr *ignore; /* client networks left out of the per-IP figures */
    size_t n_ignore;
    char *geoip_path;      /* NULL: probe the usual paths */
    int max_countries;     /* 50; 0 turns per-country metrics (and GeoIP) off */
    char *state_file;      /* windows and churn across restarts; NULL: memory only */
};

void mm_sockets_config_init(struct mm_sockets_config *cfg);
void mm_sockets_config_free(struct mm_sockets_config *cfg);

/* Option setters for both fronts (whose option table checks the ranges of
 * the plain numbers, stored as they are). Each returns 0, or -1 with a
 * message in err that names the bad value (the front adds the option name). */
int mm_sockets_config_add_client_port(struct mm_sockets_config *cfg, int port, char *err, size_t err_len);
/* "127.0.0.1:443", "[2001:db8::1]:443"; 0.0.0.0 or [::] mean any address. */
int mm_sockets_config_add_client_endpoint(struct mm_sockets_config *cfg, const char *text, char *err,
                                          size_t err_len);
int mm_sockets_config_add_ignore(struct mm_sockets_config *cfg, const char *cidr, char *err,
                                 size_t err_len);
int mm_sockets_config_add_upstream_net(struct mm_sockets_config *cfg, const char *cidr, char *err,
                                       size_t err_len);
/* 1..65535 narrows the upstream side to that remote port (repeatable); 0
 * turns the upstream side off. */
int mm_sockets_config_add_upstream_port(struct mm_sockets_config *cfg, int port, char *err,
                                        size_t err_len);
/* Telegram's published networks (core.telegram.org/resources/cidr.txt),
 * NULL-terminated: the default upstream networks. */
extern const char *const mm_telegram_networks[];
int mm_sockets_config_set_geoip_path(struct mm_sockets_config *cfg, const char *path, char *err,
                                     size_t err_len);

/* Everything kept between gathers of one instance; never shared between
 * instances (the GeoIP handle included). */
struct mm_sockets_state {
    struct mm_sockdiag diag; /* diag.force_proc = 1: tests of the /proc path */
    struct mm_socket_stats stats;
    struct mm_geoip geoip;
    struct mm_countries countries;
    struct mm_clients clients; /* windows, churn, state file (clients.h) */
    struct mm_country_cache country_ids; /* countries of the map's addresses */
    int sized; /* the client map was sized from the state file */
    /* client endpoints found from the PIDs, cached per PID set */
    uint64_t pids_key;
    struct mm_endpoint found[MM_SOCKETS_MAX_CLIENT_PORTS];
    size_t n_found;
    int have_found;
    int found_by_cmdline; /* from the command line's ports (fd links unreadable) */
    struct mm_cidr default_nets[MM_SOCKETS_MAX_UPSTREAM_NETS];
    size_t n_default_nets;
    /* Told every counted client address the windows get (fresh, or all at a
     * new minute), with its country (NULL: countries off): the fleet's feed. */
    void (*peer_hook)(void *ctx, const struct mm_ip *ip, const char *country);
    void *peer_ctx;
    struct mm_error_latch ports_latch;
    struct mm_error_latch emit_latch;
    struct mm_error_latch overflow_latch;
};

int mm_sockets_state_init(struct mm_sockets_state *st);
/* The state file of the client windows (cfg->state_file) and its owner, the
 * instance's name; without this call they are kept in memory. */
void mm_sockets_state_use_file(struct mm_sockets_state *st, const char *path, const char *owner,
                               const struct mm_logger *log);
/* Writes the state file a last time. */
void mm_sockets_state_free(struct mm_sockets_state *st);

/* What the gather is told about the proxy (all optional). */
struct mm_sockets_proxy {
    const int *pids;         /* master first, then workers: whose listeners are the client side */
    size_t n_pids;
    int stats_port;          /* the URL's port: never a client port; loopback
                                connections to it (the agent's scrapes) never upstream */
    const uint16_t *cmdline_ports; /* client ports the master's command line names
                                      (-H): used when /proc/PID/fd is unreadable */
    size_t n_cmdline_ports;
};

/* One gather. Client endpoints: the configured ports (any address), else the
 * proxy's listeners (address and port). Appends the metrics above to out.
 * Returns 0, or -1 when the socket table could not be read (logged once per
 * distinct failure; nothing was appended). */
int mm_sockets_gather(struct mm_sockets_state *st, const struct mm_sockets_config *cfg,
                      const struct mm_sockets_proxy *proxy, struct mm_snapshot *out,
                      const struct mm_logger *log);

#endif
