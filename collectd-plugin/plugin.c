/* plugin.c — mtproxy.so's registration with collectd.
 *
 * Like collectd's apache plugin: one <Instance> block -> one mm_instance ->
 * one read callback registered with it as user_data (freed by collectd).
 * A proxy that is down is not a read failure: the callback reports up=0 and
 * returns 0, or collectd would back off for up to a day. */
#include "plugin.h"

#include <curl/curl.h>

static void log_to_collectd(void *ctx, enum mm_log_level level, const char *message)
{
    static const int levels[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
    plugin_log(levels[level], PLUGIN_NAME " plugin: instance \"%s\": %s", (const char *)ctx, message);
}

static void free_instance(void *data)
{
    struct mm_instance *inst = data;
    if (!inst)
        return;
    mm_instance_free(inst);
    free(inst);
}

static int read_instance(user_data_t *ud)
{
    struct mm_instance *inst = ud->data;
    mm_instance_gather(inst);
    plugin_dispatch_snapshot(inst);
    return 0;
}

static int register_instance(struct plugin_instance_config *cfg)
{
    struct mm_instance *inst = calloc(1, sizeof(*inst));
    if (!inst) {
        ERROR(PLUGIN_NAME " plugin: out of memory");
        return -1;
    }
    cdtime_t interval = cfg->interval;
    /* The logger names the instance: init moves the name string into inst,
     * so it lives as long as inst, and init's own errors carry it. */
    struct mm_logger log = { log_to_collectd, cfg->core.name };
    if (mm_instance_init(inst, &cfg->core, &log) != 0) {
        free_instance(inst);
        return -1;
    }

    char callback_name[128];
    ssnprintf(callback_name, sizeof(callback_name), PLUGIN_NAME "/%s", inst->cfg.name);
    user_data_t ud = { .data = inst, .free_func = free_instance };
    /* On failure collectd calls free_instance itself. */
    return plugin_register_complex_read(NULL, callback_name, read_instance, interval, &ud);
}

/* Set at registration time only (the config phase is single-threaded). */
static bool config_seen;

static int config_mtproxy(oconfig_item_t *ci)
{
    config_seen = true;
    return plugin_parse_config(ci, register_instance);
}

static int init_mtproxy(void)
{
    /* "LoadPlugin mtproxy" without a <Plugin mtproxy> block: one instance
     * "main" on the defaults, as the README promises. */
    if (!config_seen) {
        oconfig_item_t empty = { .key = PLUGIN_NAME };
        config_seen = true;
        if (plugin_parse_config(&empty, register_instance) != 0)
            return -1;
    }
    /* Before any read thread starts: curl_global_init is not thread-safe. */
    return curl_global_init(CURL_GLOBAL_DEFAULT) == 0 ? 0 : -1;
}

static int shutdown_mtproxy(void)
{
    curl_global_cleanup();
    return 0;
}

void module_register(void)
{
    plugin_register_complex_config(PLUGIN_NAME, config_mtproxy);
    plugin_register_init(PLUGIN_NAME, init_mtproxy);
    plugin_register_shutdown(PLUGIN_NAME, shutdown_mtproxy);
}
