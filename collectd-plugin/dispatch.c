/* dispatch.c — a snapshot to collectd value lists and notifications.
 *
 * Which identifier a metric gets is not decided here: common/outputs/
 * collectd_map.c applies the schema of metric families (core/families.h;
 * docs/metrics.md lists every identifier) and hands over complete value
 * lists, which this file copies into value_list_t. Events (core/events.h:
 * down, up again, restart — a changed start time from the page, or for pages
 * without one a new master process — and configuration reload) become
 * notifications of type "gauge" with the event's subject as type instance. */
#include "plugin.h"

#include "outputs/collectd_map.h"

struct dispatch_ctx {
    const struct mm_instance *inst;
};

static void dispatch_values(void *ctx, const struct mm_collectd_values *v)
{
    const struct mm_instance *inst = ((struct dispatch_ctx *)ctx)->inst;
    value_t values[MM_COLLECTD_DS_MAX];
    for (size_t i = 0; i < v->n_values; i++) {
        if (v->derive)
            values[i].derive = (derive_t)v->derive_values[i];
        else
            values[i].gauge = (gauge_t)v->gauge_values[i];
    }
    value_list_t vl = VALUE_LIST_INIT;
    vl.values = values;
    vl.values_len = v->n_values;
    vl.time = NS_TO_CDTIME_T((uint64_t)inst->gathered_at_ns);
    sstrncpy(vl.plugin, PLUGIN_NAME, sizeof(vl.plugin));
    sstrncpy(vl.plugin_instance, inst->cfg.name, sizeof(vl.plugin_instance));
    sstrncpy(vl.type, v->type, sizeof(vl.type));
    sstrncpy(vl.type_instance, v->type_instance, sizeof(vl.type_instance));
    plugin_dispatch_values(&vl);
}

static void dispatch_events(const struct mm_instance *inst)
{
    static const int severities[] = {
        [MM_SEVERITY_FAILURE] = NOTIF_FAILURE,
        [MM_SEVERITY_WARNING] = NOTIF_WARNING,
        [MM_SEVERITY_OKAY] = NOTIF_OKAY,
    };
    for (size_t i = 0; i < inst->events.count; i++) {
        const struct mm_event *e = &inst->events.list[i];
        notification_t n = { .severity = severities[e->severity], .time = cdtime() };
        ssnprintf(n.message, sizeof(n.message), "MTProxy \"%s\" %s", inst->cfg.name, e->message);
        mm_redact(&inst->redactor, n.message, sizeof(n.message)); /* no credential in any notification */
        sstrncpy(n.host, hostname_g, sizeof(n.host));
        sstrncpy(n.plugin, PLUGIN_NAME, sizeof(n.plugin));
        sstrncpy(n.plugin_instance, inst->cfg.name, sizeof(n.plugin_instance));
        sstrncpy(n.type, "gauge", sizeof(n.type));
        sstrncpy(n.type_instance, e->subject, sizeof(n.type_instance));
        plugin_dispatch_notification(&n);
    }
}

void plugin_dispatch_snapshot(struct mm_instance *inst)
{
    struct dispatch_ctx ctx = { inst };
    if (mm_collectd_map_snapshot(&inst->snap, dispatch_values, &ctx) != 0)
        mm_log(&inst->log, MM_LOG_WARNING, "out of memory: two-value types (process metrics) not sent");
    dispatch_events(inst);
}
