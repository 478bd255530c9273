/* dispatch.c — a snapshot to collectd value lists and notifications.
 *
 * Identifiers: mtproxy-<instance>/<type>-<type_instance>. /stats keys become
 * gauge-<key> or derive-<key> (DERIVE, not COUNTER: the proxy's counters
 * reset when it restarts); a counter MTProxy prints as a float (tot_idle_time)
 * stays a gauge since DERIVE is an integer type. Text values are not values
 * in collectd: their changes become notifications. */
#include "plugin.h"

static void dispatch_one(const struct mm_instance *inst, const char *type, const char *type_instance,
                         value_t value)
{
    value_list_t vl = VALUE_LIST_INIT;
    vl.values = &value;
    vl.values_len = 1;
    vl.time = NS_TO_CDTIME_T((uint64_t)inst->gathered_at_ns);
    sstrncpy(vl.plugin, PLUGIN_NAME, sizeof(vl.plugin));
    sstrncpy(vl.plugin_instance, inst->cfg.name, sizeof(vl.plugin_instance));
    sstrncpy(vl.type, type, sizeof(vl.type));
    sstrncpy(vl.type_instance, type_instance, sizeof(vl.type_instance));
    plugin_dispatch_values(&vl);
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

void plugin_dispatch_snapshot(struct mm_instance *inst)
{
    for (size_t i = 0; i < inst->snap.count; i++) {
        const struct mm_metric *m = &inst->snap.items[i];
        switch (m->group) {
        case MM_GROUP_STATS:
        case MM_GROUP_HEALTH:
            dispatch_plain(inst, m);
            break;
        default:
            break;
        }
    }
    dispatch_events(inst);
}
