/* plugin.h — what the files of mtproxy.so share.
 *
 * config.c turns <Plugin mtproxy> into instance configurations, plugin.c
 * registers one read callback per instance, dispatch.c turns a snapshot into
 * value lists and notifications. */
#ifndef MM_COLLECTD_PLUGIN_H
#define MM_COLLECTD_PLUGIN_H

#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"
#include "collectd/core/utils/common/common.h"

#include "gather/instance.h"

#define PLUGIN_NAME "mtproxy"

/* One <Instance> block as read from the configuration. */
struct plugin_instance_config {
    struct mm_instance_config core;
    cdtime_t interval; /* 0 = collectd's interval */
};

/* Called for every instance the configuration defines. Returns 0 or -1. */
typedef int (*plugin_instance_cb)(struct plugin_instance_config *cfg);

/* Parses <Plugin mtproxy>: options directly inside it are defaults for every
 * <Instance>; no <Instance> at all means one instance "main" on the
 * defaults. Any error is logged naming the instance and option; -1 then. */
int plugin_parse_config(oconfig_item_t *ci, plugin_instance_cb on_instance);

/* Dispatches the last gather of inst (values and notifications). */
void plugin_dispatch_snapshot(struct mm_instance *inst);

#endif
