/* families.c — the schema table (see families.h). docs/metrics.md is checked
 * against it by tests/integration/test_docs.py. */
#include "core/families.h"

#include <string.h>

static const struct mm_origin_desc origins[MM_ORIGIN_COUNT] = {
    [MM_ORIGIN_PAGE] = { "page", NULL, "{page}-{name}" },
    [MM_ORIGIN_HEALTH] = { "health", "mtproxy", "{name}" },
    [MM_ORIGIN_SUMMARY] = { "summary", "mtproxy_summary", "summary-{name}" },
    [MM_ORIGIN_PROCESS] = { "process", "mtproxy_process", "{role}-{name}" },
    [MM_ORIGIN_CONNECTIONS] = { "connections", "mtproxy_connections", "{side}-{name}" },
    [MM_ORIGIN_COUNTRY] = { "country", "mtproxy_country", "country-{country}-{name}" },
    [MM_ORIGIN_CLIENTS] = { "clients", "mtproxy_clients", "clients-{name}" },
    [MM_ORIGIN_FLEET] = { "fleet", "mtproxy_fleet", "fleet-{fleet}-{name}" },
};

const struct mm_origin_desc *mm_origin_desc(enum mm_origin origin)
{
    return (unsigned)origin < MM_ORIGIN_COUNT ? &origins[origin] : &origins[MM_ORIGIN_HEALTH];
}

#define H MM_ORIGIN_HEALTH
#define P MM_ORIGIN_PROCESS
#define C MM_ORIGIN_CONNECTIONS
#define K MM_ORIGIN_COUNTRY
#define L MM_ORIGIN_CLIENTS
#define S MM_ORIGIN_SUMMARY
#define F MM_ORIGIN_FLEET
#define STATE(n) { C, n, MM_GAUGE, MM_INT, { "tcp_connections", "{side}-{NAME}", NULL, 0, 0, false, false, 0 } }

/* Process types are those of collectd's processes plugin (types.db). */
static const struct mm_family_desc descs[] = {
    { H, "up", MM_GAUGE, MM_INT, { 0 } },
    { H, "scrape_duration_seconds", MM_GAUGE, MM_DOUBLE, { 0 } },
    { H, "scrape_errors", MM_COUNTER, MM_INT, { 0 } },
    { H, "stats_lines_skipped", MM_GAUGE, MM_INT, { 0 } },
    /* which implementation wrote the page (Source auto tells them apart) */
    { H, "implementation", MM_TEXT, MM_STRING, { NULL, NULL, NULL, 0, 0, false, true, 0 } },

    { P, "processes", MM_GAUGE, MM_INT, { "ps_count", "{role}", "processes", 0, 2, false, false, 0 } },
    { P, "num_threads", MM_GAUGE, MM_INT, { "ps_count", "{role}", "threads", 1, 2, false, false, 0 } },
    { P, "cpu_time_user", MM_COUNTER, MM_DOUBLE, { "ps_cputime", "{role}", "user", 0, 2, true, false, 1e6 } },
    { P, "cpu_time_system", MM_COUNTER, MM_DOUBLE, { "ps_cputime", "{role}", "syst", 1, 2, true, false, 1e6 } },
    { P, "memory_rss", MM_GAUGE, MM_INT, { "ps_rss", "{role}", NULL, 0, 0, false, false, 0 } },
    { P, "memory_vms", MM_GAUGE, MM_INT, { "ps_vm", "{role}", NULL, 0, 0, false, false, 0 } },
    { P, "memory_data", MM_GAUGE, MM_INT, { "ps_data", "{role}", NULL, 0, 0, false, false, 0 } },
    { P, "num_fds", MM_GAUGE, MM_INT, { "file_handles", "{role}", NULL, 0, 0, false, false, 0 } },
    { P, "fd_limit_soft", MM_GAUGE, MM_INT, { "file_handles", "{role}_limit_soft", NULL, 0, 0, false, false, 0 } },
    { P, "fd_limit_hard", MM_GAUGE, MM_INT, { "file_handles", "{role}_limit_hard", NULL, 0, 0, false, false, 0 } },
    { P, "fd_usage_percent", MM_GAUGE, MM_DOUBLE, { "percent", "{role}_fd_usage", NULL, 0, 0, false, false, 0 } },
    { P, "read_bytes", MM_COUNTER, MM_INT, { "io_octets", "{role}", "rx", 0, 2, true, false, 0 } },
    { P, "write_bytes", MM_COUNTER, MM_INT, { "io_octets", "{role}", "tx", 1, 2, true, false, 0 } },
    { P, "read_count", MM_COUNTER, MM_INT, { "io_ops", "{role}", "read", 0, 2, true, false, 0 } },
    { P, "write_count", MM_COUNTER, MM_INT, { "io_ops", "{role}", "write", 1, 2, true, false, 0 } },
    { P, "voluntary_context_switches", MM_COUNTER, MM_INT,
      { "contextswitch", "{role}_voluntary", NULL, 0, 0, true, false, 0 } },
    { P, "involuntary_context_switches", MM_COUNTER, MM_INT,
      { "contextswitch", "{role}_involuntary", NULL, 0, 0, true, false, 0 } },
    { P, "minor_faults", MM_COUNTER, MM_INT, { "ps_pagefaults", "{role}", "minflt", 0, 2, true, false, 0 } },
    { P, "major_faults", MM_COUNTER, MM_INT, { "ps_pagefaults", "{role}", "majflt", 1, 2, true, false, 0 } },
    /* its change is the restart, reported as an event */
    { P, "created_at", MM_GAUGE, MM_INT, { NULL, NULL, NULL, 0, 0, false, true, 0 } },
    { P, "uptime_seconds", MM_GAUGE, MM_INT, { "uptime", "{role}", NULL, 0, 0, false, false, 0 } },
    { P, "restarts", MM_COUNTER, MM_INT, { "derive", "{role}_restarts", NULL, 0, 0, true, false, 0 } },

    /* socket states, tcpconns spelling: tcp_connections-client-ESTABLISHED */
    STATE("established"),
    STATE("syn_sent"),
    STATE("syn_recv"),
    STATE("fin_wait1"),
    STATE("fin_wait2"),
    STATE("time_wait"),
    STATE("close"),
    STATE("close_wait"),
    STATE("last_ack"),
    STATE("listen"),
    STATE("closing"),
    { C, "unique_ips", MM_GAUGE, MM_INT, { 0 } },
    { C, "max_per_ip", MM_GAUGE, MM_INT, { 0 } },
    { C, "ips_over_limit", MM_GAUGE, MM_INT, { 0 } },
    { C, "bytes_received", MM_GAUGE, MM_INT, { "bytes", "{side}-received", NULL, 0, 0, false, false, 0 } },
    { C, "bytes_acked", MM_GAUGE, MM_INT, { "bytes", "{side}-acked", NULL, 0, 0, false, false, 0 } },

    { K, "connections", MM_GAUGE, MM_INT, { "tcp_connections", "country-{country}", NULL, 0, 0, false, false, 0 } },
    { K, "unique_ips", MM_GAUGE, MM_INT, { 0 } },
    { K, "distinct_ips_24h", MM_GAUGE, MM_INT, { 0 } },

    /* clients over time (host/sockets/clients.h): gauge-clients-distinct_ips_1h,
     * derive-clients-connections_opened, the lifetime histogram as cumulative
     * DERIVE counts derive-clients-lifetime_le_<le> (le_+Inf last) */
    { L, "distinct_ips_1h", MM_GAUGE, MM_INT, { 0 } },
    { L, "distinct_ips_24h", MM_GAUGE, MM_INT, { 0 } },
    { L, "distinct_ips_7d", MM_GAUGE, MM_INT, { 0 } },
    { L, "connections_opened", MM_COUNTER, MM_INT, { 0 } },
    { L, "lifetime_seconds_bucket", MM_COUNTER, MM_INT,
      { "derive", "clients-lifetime_le_{le}", NULL, 0, 0, true, false, 0 } },
    { L, "lifetime_seconds_sum", MM_COUNTER, MM_DOUBLE,
      { "derive", "clients-lifetime_sum", NULL, 0, 0, true, false, 0 } },
    { L, "lifetime_seconds_count", MM_COUNTER, MM_INT,
      { "derive", "clients-lifetime_count", NULL, 0, 0, true, false, 0 } },

    /* across a fleet (fleet/fleet.h): gauge-fleet-<fleet>-distinct_ips_1h[-<country>] */
    { F, "distinct_ips_1h", MM_GAUGE, MM_INT, { 0 } },
    { F, "distinct_ips_24h", MM_GAUGE, MM_INT, { 0 } },
    { F, "distinct_ips_7d", MM_GAUGE, MM_INT, { 0 } },
    { F, "redis_up", MM_GAUGE, MM_INT, { 0 } },
    { F, "pending", MM_GAUGE, MM_INT, { 0 } },
    { F, "pending_dropped", MM_COUNTER, MM_INT, { 0 } },

    /* The summary family, one vocabulary across implementations
     * (sources/summary.h, docs/implementations.md): collectd
     * mtproxy-<instance>/<type>-summary-<field>[-<secret>]. */
    { S, "clients", MM_GAUGE, MM_INT, { "current_connections", NULL, NULL, 0, 0, false, false, 0 } },
    { S, "connections_accepted", MM_COUNTER, MM_INT, { "total_connections", NULL, NULL, 0, 0, true, false, 0 } },
    { S, "bytes_from_clients", MM_COUNTER, MM_INT, { "total_bytes", NULL, NULL, 0, 0, true, false, 0 } },
    { S, "bytes_to_clients", MM_COUNTER, MM_INT, { "total_bytes", NULL, NULL, 0, 0, true, false, 0 } },
    { S, "bytes_to_telegram", MM_COUNTER, MM_INT, { "total_bytes", NULL, NULL, 0, 0, true, false, 0 } },
    { S, "bytes_from_telegram", MM_COUNTER, MM_INT, { "total_bytes", NULL, NULL, 0, 0, true, false, 0 } },
    { S, "handshake_failures", MM_COUNTER, MM_INT, { "errors", NULL, NULL, 0, 0, true, false, 0 } },
    { S, "unique_ips", MM_GAUGE, MM_INT, { "count", NULL, NULL, 0, 0, false, false, 0 } },
    { S, "upstream_ready", MM_GAUGE, MM_INT, { "count", NULL, NULL, 0, 0, false, false, 0 } },
    { S, "uptime_seconds", MM_GAUGE, MM_DOUBLE, { "uptime", NULL, NULL, 0, 0, false, false, 0 } },
};

#define DESC_COUNT (sizeof(descs) / sizeof(descs[0]))

/* Called once per family per process (on its first sight): a scan is enough. */
const struct mm_family_desc *mm_family_desc_find(enum mm_origin origin, const char *name)
{
    for (size_t i = 0; i < DESC_COUNT; i++)
        if (descs[i].origin == origin && strcmp(descs[i].name, name) == 0)
            return &descs[i];
    return NULL;
}

size_t mm_family_desc_count(void)
{
    return DESC_COUNT;
}

const struct mm_family_desc *mm_family_desc_at(size_t i)
{
    return i < DESC_COUNT ? &descs[i] : NULL;
}
