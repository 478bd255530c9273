/* dispatch.c — a snapshot to collectd value lists and notifications.
 *
 * Identifiers: mtproxy-<instance>/<type>-<type_instance>. /stats keys become
 * gauge-<key> or derive-<key> (DERIVE, not COUNTER: the proxy's counters
 * reset when it restarts); a counter MTProxy prints as a float (tot_idle_time)
 * stays a gauge since DERIVE is an integer type. Text values are not values
 * in collectd: their changes become notifications. docs/metrics.md lists
 * every identifier. */
#include <ctype.h>
#include <math.h>

#include "plugin.h"

static void dispatch_values(const struct mm_instance *inst, const char *type, const char *type_instance,
                            value_t *values, size_t n)
{
    value_list_t vl = VALUE_LIST_INIT;
    vl.values = values;
    vl.values_len = n;
    vl.time = NS_TO_CDTIME_T((uint64_t)inst->gathered_at_ns);
    sstrncpy(vl.plugin, PLUGIN_NAME, sizeof(vl.plugin));
    sstrncpy(vl.plugin_instance, inst->cfg.name, sizeof(vl.plugin_instance));
    sstrncpy(vl.type, type, sizeof(vl.type));
    sstrncpy(vl.type_instance, type_instance, sizeof(vl.type_instance));
    plugin_dispatch_values(&vl);
}

static void dispatch_one(const struct mm_instance *inst, const char *type, const char *type_instance,
                         value_t value)
{
    dispatch_values(inst, type, type_instance, &value, 1);
}

/* The /stats keys and the health metrics share one scheme. */
static void dispatch_plain(const struct mm_instance *inst, const struct mm_metric *m)
{
    value_t v;
    if (m->kind == MM_COUNTER && m->type == MM_INT) {
        v.derive = (derive_t)m->value.i;
        dispatch_one(inst, "derive", m->name, v);
    } else if (m->type != MM_STRING) {
        v.gauge = (gauge_t)mm_metric_as_double(m);
        dispatch_one(inst, "gauge", m->name, v);
    }
}

static void notify(const struct mm_instance *inst, int severity, const char *type_instance,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void notify(const struct mm_instance *inst, int severity, const char *type_instance,
                   const char *fmt, ...)
{
    notification_t n = { .severity = severity, .time = cdtime() };
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n.message, sizeof(n.message), fmt, ap);
    va_end(ap);
    sstrncpy(n.host, hostname_g, sizeof(n.host));
    sstrncpy(n.plugin, PLUGIN_NAME, sizeof(n.plugin));
    sstrncpy(n.plugin_instance, inst->cfg.name, sizeof(n.plugin_instance));
    sstrncpy(n.type, "gauge", sizeof(n.type));
    sstrncpy(n.type_instance, type_instance, sizeof(n.type_instance));
    plugin_dispatch_notification(&n);
}

static void dispatch_events(const struct mm_instance *inst)
{
    const struct mm_events *ev = &inst->events;
    if (ev->went_down)
        notify(inst, NOTIF_FAILURE, "up", "MTProxy \"%s\" is down: %s", inst->cfg.name, ev->reason);
    if (ev->came_up)
        notify(inst, NOTIF_OKAY, "up", "MTProxy \"%s\" is up again", inst->cfg.name);
    if (ev->restarted)
        notify(inst, NOTIF_WARNING, "start_time", "MTProxy \"%s\" restarted (start_time %lld -> %lld)",
               inst->cfg.name, (long long)ev->old_start_time, (long long)ev->new_start_time);
    if (ev->reloaded)
        notify(inst, NOTIF_OKAY, "config_md5",
               "MTProxy \"%s\" configuration reloaded (config_md5 %s -> %s)", inst->cfg.name,
               ev->old_config_md5, ev->new_config_md5);
}

/* Process metrics use the types of collectd's processes plugin, the role
 * (master, workers, all) as type instance: mtproxy-<instance>/ps_rss-master,
 * .../contextswitch-all_voluntary (docs/process-metrics.md). created_at is
 * not a value here: its change is the restart notification.
 * A type with two data sources is sent only when both values were read
 * (io is unreadable without privileges, for example). */
struct process_type {
    const char *type;
    const char *suffix; /* appended to the role in the type instance, or NULL */
    const char *metrics[2];
    int n;
    bool derive;
    double scale; /* seconds -> microseconds for ps_cputime */
};

static const struct process_type process_types[] = {
    { "ps_cputime", NULL, { "cpu_time_user", "cpu_time_system" }, 2, true, 1e6 },
    { "ps_count", NULL, { "processes", "num_threads" }, 2, false, 1 },
    { "ps_rss", NULL, { "memory_rss" }, 1, false, 1 },
    { "ps_vm", NULL, { "memory_vms" }, 1, false, 1 },
    { "ps_data", NULL, { "memory_data" }, 1, false, 1 },
    { "file_handles", NULL, { "num_fds" }, 1, false, 1 },
    { "file_handles", "limit_soft", { "fd_limit_soft" }, 1, false, 1 },
    { "file_handles", "limit_hard", { "fd_limit_hard" }, 1, false, 1 },
    { "percent", "fd_usage", { "fd_usage_percent" }, 1, false, 1 },
    { "io_octets", NULL, { "read_bytes", "write_bytes" }, 2, true, 1 },
    { "io_ops", NULL, { "read_count", "write_count" }, 2, true, 1 },
    { "ps_pagefaults", NULL, { "minor_faults", "major_faults" }, 2, true, 1 },
    { "contextswitch", "voluntary", { "voluntary_context_switches" }, 1, true, 1 },
    { "contextswitch", "involuntary", { "involuntary_context_switches" }, 1, true, 1 },
    { "uptime", NULL, { "uptime_seconds" }, 1, false, 1 },
    { "derive", "restarts", { "restarts" }, 1, true, 1 },
};

static const struct mm_metric *find_process_metric(const struct mm_snapshot *snap, const char *role,
                                                   const char *name)
{
    for (size_t i = 0; i < snap->count; i++) {
        const struct mm_metric *m = &snap->items[i];
        if (m->group != MM_GROUP_PROCESS || strcmp(m->name, name) != 0)
            continue;
        const char *r = mm_metric_label(m, "role");
        if (r && strcmp(r, role) == 0)
            return m;
    }
    return NULL;
}

static void dispatch_process(const struct mm_instance *inst)
{
    static const char *const roles[] = { "master", "workers", "all" };
    for (size_t r = 0; r < STATIC_ARRAY_SIZE(roles); r++) {
        for (size_t t = 0; t < STATIC_ARRAY_SIZE(process_types); t++) {
            const struct process_type *pt = &process_types[t];
            value_t values[2];
            int found = 0;
            for (int k = 0; k < pt->n; k++) {
                const struct mm_metric *m = find_process_metric(&inst->snap, roles[r], pt->metrics[k]);
                if (!m)
                    break;
                double v = mm_metric_as_double(m) * pt->scale;
                if (pt->derive)
                    values[k].derive = (derive_t)v;
                else
                    values[k].gauge = (gauge_t)v;
                found++;
            }
            /* ps_count without threads (no process found) still says processes 0 */
            if (found == 1 && pt->n == 2 && !pt->derive) {
                values[1].gauge = NAN;
                found = 2;
            }
            if (found != pt->n)
                continue;
            char type_instance[DATA_MAX_NAME_LEN];
            if (pt->suffix)
                ssnprintf(type_instance, sizeof(type_instance), "%s_%s", roles[r], pt->suffix);
            else
                sstrncpy(type_instance, roles[r], sizeof(type_instance));
            dispatch_values(inst, pt->type, type_instance, values, (size_t)pt->n);
        }
    }
}

/* Connections per side, tcpconns-style: tcp_connections-client-ESTABLISHED;
 * the per-IP figures as gauge-<side>-unique_ips ..., the byte sums of the
 * open sockets as bytes-<side>-received/acked (docs/sockets.md). */
static void dispatch_connection(const struct mm_instance *inst, const struct mm_metric *m)
{
    const char *side = mm_metric_label(m, "side");
    if (!side)
        return;
    char type_instance[DATA_MAX_NAME_LEN];
    value_t v = { .gauge = (gauge_t)mm_metric_as_double(m) };
    if (strncmp(m->name, "bytes_", 6) == 0) {
        ssnprintf(type_instance, sizeof(type_instance), "%s-%s", side, m->name + 6);
        dispatch_one(inst, "bytes", type_instance, v);
    } else if (strcmp(m->name, "unique_ips") == 0 || strcmp(m->name, "max_per_ip") == 0 ||
               strcmp(m->name, "ips_over_limit") == 0) {
        ssnprintf(type_instance, sizeof(type_instance), "%s-%s", side, m->name);
        dispatch_one(inst, "gauge", type_instance, v);
    } else {
        /* a TCP state: upper case as tcpconns writes it */
        char state[DATA_MAX_NAME_LEN];
        size_t i = 0;
        for (; m->name[i] && i < sizeof(state) - 1; i++)
            state[i] = (char)toupper((unsigned char)m->name[i]);
        state[i] = '\0';
        ssnprintf(type_instance, sizeof(type_instance), "%s-%s", side, state);
        dispatch_one(inst, "tcp_connections", type_instance, v);
    }
}

/* Per country: tcp_connections-country-DE, gauge-country-DE-unique_ips. */
static void dispatch_country(const struct mm_instance *inst, const struct mm_metric *m)
{
    const char *country = mm_metric_label(m, "country");
    if (!country)
        return;
    char type_instance[DATA_MAX_NAME_LEN];
    value_t v = { .gauge = (gauge_t)mm_metric_as_double(m) };
    if (strcmp(m->name, "connections") == 0) {
        ssnprintf(type_instance, sizeof(type_instance), "country-%s", country);
        dispatch_one(inst, "tcp_connections", type_instance, v);
    } else {
        ssnprintf(type_instance, sizeof(type_instance), "country-%s-%s", country, m->name);
        dispatch_one(inst, "gauge", type_instance, v);
    }
}

/* Clients over time (docs/metrics.md): gauge-clients-distinct_ips_1h ...,
 * derive-clients-connections_opened, and the lifetime histogram as
 * cumulative DERIVE counts derive-clients-lifetime_le_<bound> (le_inf for
 * +Inf), derive-clients-lifetime_count and derive-clients-lifetime_sum
 * (whole seconds). */
static void dispatch_clients(const struct mm_instance *inst, const struct mm_metric *m)
{
    char type_instance[DATA_MAX_NAME_LEN];
    double d = mm_metric_as_double(m);
    if (m->kind == MM_GAUGE) {
        ssnprintf(type_instance, sizeof(type_instance), "clients-%s", m->name);
        dispatch_one(inst, "gauge", type_instance, (value_t){ .gauge = (gauge_t)d });
        return;
    }
    const char *le = mm_metric_label(m, "le");
    if (le)
        ssnprintf(type_instance, sizeof(type_instance), "clients-lifetime_le_%s",
                  strcmp(le, "+Inf") == 0 ? "inf" : le);
    else if (strcmp(m->name, "lifetime_seconds_sum") == 0)
        sstrncpy(type_instance, "clients-lifetime_sum", sizeof(type_instance));
    else if (strcmp(m->name, "lifetime_seconds_count") == 0)
        sstrncpy(type_instance, "clients-lifetime_count", sizeof(type_instance));
    else
        ssnprintf(type_instance, sizeof(type_instance), "clients-%s", m->name);
    dispatch_one(inst, "derive", type_instance, (value_t){ .derive = (derive_t)d });
}

void plugin_dispatch_snapshot(struct mm_instance *inst)
{
    for (size_t i = 0; i < inst->snap.count; i++) {
        const struct mm_metric *m = &inst->snap.items[i];
        switch (m->group) {
        case MM_GROUP_STATS:
        case MM_GROUP_HEALTH:
            dispatch_plain(inst, m);
            break;
        case MM_GROUP_CONNECTIONS:
            dispatch_connection(inst, m);
            break;
        case MM_GROUP_COUNTRY:
            dispatch_country(inst, m);
            break;
        case MM_GROUP_CLIENTS:
            dispatch_clients(inst, m);
            break;
        default:
            break;
        }
    }
    dispatch_process(inst);
    dispatch_events(inst);
}
