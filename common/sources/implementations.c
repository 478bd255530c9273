/* implementations.c — the mapping tables of each implementation to the
 * summary family, and the detection of a Prometheus page's implementation.
 * Names are page keys as they reach the snapshot: /stats keys as MTProxy
 * prints them, Prometheus names without the implementation's prefix. Where
 * a row is missing, the implementation has no such figure (see
 * docs/implementations.md for why each gap is a gap). */
#include "sources/implementations.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sources/prometheus_text.h"

#define ROWS(t) (t), (sizeof(t) / sizeof((t)[0]))

/* Official MTProxy /stats (fields: ../shared/fixtures/mtproxy/README.md).
 * total_special_connections = client connections of all workers; the
 * master's ready_targets = upstream targets ready (total_ready_targets
 * counts each target once per worker). tcp_readv/writev_bytes count every
 * socket (Telegram side too) and inbound_connections_accepted counts 2 per
 * accept plus our own scrapes: not mapped. */
static const struct mm_summary_rule mtproxy_rules[] = {
    { MM_SUMMARY_CLIENTS, { "total_special_connections" }, NULL, NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_UPSTREAM_READY, { "ready_targets" }, NULL, NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_UPTIME, { "uptime" }, NULL, NULL, NULL, NULL, NULL, 0 },
};

/* teleproxy /stats: the official keys plus secret_<label>_* (folded into
 * secret_* with label secret=<label> by teleproxy_stats.c). In --direct
 * mode there are no middle-proxy targets: ready_targets stays 0. Only
 * bytes_total (both directions) exists per secret here: not mapped. Unique
 * IPs are counted only for a secret with an IP limit (teleproxy #70), whose
 * secret_<label>_max_ips the page prints. */
static const struct mm_summary_rule teleproxy_stats_rules[] = {
    { MM_SUMMARY_CLIENTS, { "total_special_connections" }, "secret_connections", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_ACCEPTED, { "secret_connections_created" }, "secret_connections_created", NULL, NULL, NULL,
      NULL, 0 },
    { MM_SUMMARY_UNIQUE_IPS, { NULL }, "secret_unique_ips", NULL, NULL, "secret_max_ips", NULL, 0 },
    { MM_SUMMARY_UPSTREAM_READY, { "ready_targets" }, NULL, NULL, NULL, NULL, "direct_mode", 0 },
    { MM_SUMMARY_UPTIME, { "uptime" }, NULL, NULL, NULL, NULL, NULL, 0 },
};

/* teleproxy /metrics. "received" = from clients. Unique IPs are counted only
 * for a secret with an IP limit (teleproxy #70). ready_targets is 0 in
 * --direct mode and the page does not say which mode runs: not mapped. */
static const struct mm_summary_rule teleproxy_rules[] = {
    { MM_SUMMARY_CLIENTS, { "secret_connections" }, "secret_connections", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_ACCEPTED, { "secret_connections_created_total" }, "secret_connections_created_total", NULL,
      NULL, NULL, NULL, 0 },
    { MM_SUMMARY_FROM_CLIENTS, { "secret_bytes_received_total" }, "secret_bytes_received_total", NULL, NULL,
      NULL, NULL, 0 },
    { MM_SUMMARY_TO_CLIENTS, { "secret_bytes_sent_total" }, "secret_bytes_sent_total", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_UNIQUE_IPS, { NULL }, "secret_unique_ips", NULL, NULL, "secret_max_ips", NULL, 0 },
    { MM_SUMMARY_UPTIME, { "uptime_seconds" }, NULL, NULL, NULL, NULL, NULL, 0 },
};

/* mtg: one secret per instance. client_connections counts every client
 * stream (domain-fronted ones too); telegram_traffic is measured on the
 * Telegram socket (direction to_client = read from Telegram); a failed
 * FakeTLS handshake or a replay is routed to the front domain and counted in
 * domain_fronting. Labelled series appear only after their first event, so
 * no series is a true 0. The 0.0.4 page names counters without _total, the
 * OpenMetrics one with it: both are listed. */
static const struct mm_summary_rule mtg_rules[] = {
    { MM_SUMMARY_CLIENTS, { "client_connections" }, NULL, NULL, NULL, NULL, NULL, MM_RULE_ZERO_WHEN_ABSENT },
    { MM_SUMMARY_TO_TELEGRAM, { "telegram_traffic", "telegram_traffic_total" }, NULL, "direction", "from_client",
      NULL, NULL, MM_RULE_ZERO_WHEN_ABSENT },
    { MM_SUMMARY_FROM_TELEGRAM, { "telegram_traffic", "telegram_traffic_total" }, NULL, "direction", "to_client",
      NULL, NULL, MM_RULE_ZERO_WHEN_ABSENT },
    { MM_SUMMARY_HANDSHAKE_FAILURES, { "domain_fronting", "domain_fronting_total" }, NULL, NULL, NULL, NULL, NULL,
      0 },
};

/* telemt: per user. Handshake failures = rejected connections (bad secret,
 * bad TLS, ...); its handshake timeouts stay raw: its source does not rule
 * out that a rejected client being masked also times out, which would count
 * it twice. Per-user unique IPs do not add up to the instance's (one
 * address may use two users): no instance row. Upstream readiness is on its
 * JSON API (/v1/health/ready), not on this page. */
static const struct mm_summary_rule telemt_rules[] = {
    { MM_SUMMARY_CLIENTS, { "user_connections_current" }, "user_connections_current", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_ACCEPTED, { "connections_total" }, "user_connections_total", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_FROM_CLIENTS, { "user_octets_from_client" }, "user_octets_from_client", NULL, NULL, NULL, NULL,
      0 },
    { MM_SUMMARY_TO_CLIENTS, { "user_octets_to_client" }, "user_octets_to_client", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_HANDSHAKE_FAILURES, { "connections_bad_total" }, NULL, NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_UNIQUE_IPS, { NULL }, "user_unique_ips_current", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_UPTIME, { "uptime_seconds" }, NULL, NULL, NULL, NULL, NULL, 0 },
};

/* mtprotoproxy: per user; its prefix is METRICS_PREFIX. Handshake failures
 * = connects_bad (wrong secret); handshake_timeouts stays raw, because a bad
 * client masked for longer than the handshake timeout counts in both. */
static const struct mm_summary_rule mtprotoproxy_rules[] = {
    { MM_SUMMARY_CLIENTS, { "user_connects_curr" }, "user_connects_curr", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_ACCEPTED, { "connects_all" }, "user_connects", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_FROM_CLIENTS, { "user_octets_from" }, "user_octets_from", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_TO_CLIENTS, { "user_octets_to" }, "user_octets_to", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_HANDSHAKE_FAILURES, { "connects_bad" }, NULL, NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_UPTIME, { "uptime" }, NULL, NULL, NULL, NULL, NULL, 0 },
};

/* mtproto.zig: bytes "written from client side toward upstream" are the
 * clients' bytes; bad secrets are masked, not counted: handshake failures
 * are its handshake timeouts only (a lower bound). */
static const struct mm_summary_rule zig_rules[] = {
    { MM_SUMMARY_CLIENTS, { "connections_active" }, "user_connections_active", NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_ACCEPTED, { "connections_accepted_total" }, NULL, NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_FROM_CLIENTS, { "client_to_upstream_bytes_total" }, "user_client_to_upstream_bytes_total", NULL,
      NULL, NULL, NULL, 0 },
    { MM_SUMMARY_TO_CLIENTS, { "upstream_to_client_bytes_total" }, "user_upstream_to_client_bytes_total", NULL,
      NULL, NULL, NULL, 0 },
    { MM_SUMMARY_HANDSHAKE_FAILURES, { "handshake_timeouts_total" }, NULL, NULL, NULL, NULL, NULL, 0 },
    { MM_SUMMARY_UPTIME, { "uptime_seconds" }, NULL, NULL, NULL, NULL, NULL, 0 },
};

const struct mm_implementation mm_impl_mtproxy_stats = {
    "mtproxy", { "mtproxy_stats", "stats" }, NULL, NULL, { NULL }, ROWS(mtproxy_rules)
};
const struct mm_implementation mm_impl_teleproxy_stats = {
    "teleproxy", { "teleproxy_stats", "teleproxy_stats" }, NULL, "secret", { NULL }, ROWS(teleproxy_stats_rules)
};
const struct mm_implementation mm_impl_teleproxy = {
    "teleproxy", { "teleproxy", "teleproxy" }, "teleproxy_", "secret",
    { "uptime_seconds", "active_connections" }, ROWS(teleproxy_rules)
};
const struct mm_implementation mm_impl_mtg = {
    "mtg", { "mtg", "mtg" }, NULL, NULL, { "replay_attacks", "domain_fronting", "concurrency_limited" },
    ROWS(mtg_rules)
};
const struct mm_implementation mm_impl_telemt = {
    "telemt", { "telemt", "telemt" }, "telemt_", "user", { "uptime_seconds", "connections_total" },
    ROWS(telemt_rules)
};
const struct mm_implementation mm_impl_mtprotoproxy = {
    "mtprotoproxy", { "mtprotoproxy", "mtprotoproxy" }, NULL, "user",
    { "connects_all", "connects_bad", "handshake_timeouts" }, ROWS(mtprotoproxy_rules)
};
const struct mm_implementation mm_impl_mtproto_zig = {
    "mtproto.zig", { "mtproto_zig", "mtproto_zig" }, "mtproto_", "user",
    { "connections_active", "uptime_seconds" }, ROWS(zig_rules)
};
const struct mm_implementation mm_impl_prometheus = {
    "unknown", { "prometheus", "prometheus" }, NULL, NULL, { NULL }, NULL, 0
};

static const struct mm_implementation *const prometheus_impls[] = {
    &mm_impl_teleproxy, &mm_impl_telemt, &mm_impl_mtprotoproxy, &mm_impl_mtproto_zig, &mm_impl_mtg,
};

/* A family named prefix+name, or one of the OpenMetrics counter's. */
static bool has_family(const struct mm_prom_page *page, const char *prefix, const char *name)
{
    char full[256];
    snprintf(full, sizeof(full), "%s%s", prefix, name);
    return mm_prom_find_family(page, full) != NULL;
}

static bool signature_matches(const struct mm_prom_page *page, const struct mm_implementation *impl,
                              const char *prefix)
{
    for (int k = 0; k < 4 && impl->signature[k]; k++)
        if (!has_family(page, prefix, impl->signature[k]))
            return false;
    return impl->signature[0] != NULL;
}

const struct mm_implementation *mm_implementation_detect(const struct mm_prom_page *page, char *prefix,
                                                         size_t prefix_len)
{
    prefix[0] = '\0';
    for (size_t i = 0; i < sizeof(prometheus_impls) / sizeof(prometheus_impls[0]); i++) {
        const struct mm_implementation *impl = prometheus_impls[i];
        if (impl->prefix) {
            if (signature_matches(page, impl, impl->prefix)) {
                snprintf(prefix, prefix_len, "%s", impl->prefix);
                return impl;
            }
            continue;
        }
        /* a configurable prefix (mtg's metric-prefix, mtprotoproxy's
         * METRICS_PREFIX, possibly empty): take it from a family ending in
         * the first signature name, check the others under it */
        size_t sl = strlen(impl->signature[0]);
        for (size_t f = 0; f < page->n_families; f++) {
            const char *name = page->families[f].name;
            size_t nl = strlen(name);
            if (nl < sl || strcmp(name + nl - sl, impl->signature[0]) != 0 || nl - sl >= prefix_len)
                continue;
            char p[128];
            if (nl - sl >= sizeof(p))
                continue;
            memcpy(p, name, nl - sl);
            p[nl - sl] = '\0';
            if (signature_matches(page, impl, p)) {
                snprintf(prefix, prefix_len, "%s", p);
                return impl;
            }
        }
    }
    return &mm_impl_prometheus;
}
