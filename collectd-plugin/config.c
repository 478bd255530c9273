/* config.c — <Plugin mtproxy> ... </Plugin> to core configurations.
 *
 * Every error names the instance and the option, and makes the config
 * callback fail, so collectd refuses to start (as with stock plugins) rather
 * than run half-configured. */
#include "plugin.h"

#include <strings.h>

#include "gather/config_options.h"
#include "gather/instance_name.h"
#include "core/number.h"

#define CONFIG_ERROR(inst, ci, fmt, ...)                                                        \
    ERROR(PLUGIN_NAME " plugin: instance \"%s\": option \"%s\": " fmt, (inst), (ci)->key,      \
          ##__VA_ARGS__)

/* A collectd config value as the core's option table takes it. */
static int option_value(const char *inst, oconfig_item_t *ci, struct mm_option_value *v)
{
    if (ci->values_num != 1) {
        CONFIG_ERROR(inst, ci, "expects exactly one argument");
        return -1;
    }
    memset(v, 0, sizeof(*v));
    switch (ci->values[0].type) {
    case OCONFIG_TYPE_STRING:
        v->kind = MM_VALUE_TEXT;
        v->text = ci->values[0].value.string;
        return 0;
    case OCONFIG_TYPE_NUMBER:
        v->kind = MM_VALUE_NUMBER;
        v->number = ci->values[0].value.number;
        return 0;
    case OCONFIG_TYPE_BOOLEAN:
        v->kind = MM_VALUE_BOOL;
        v->boolean = ci->values[0].value.boolean;
        return 0;
    }
    CONFIG_ERROR(inst, ci, "has an argument of an unknown type");
    return -1;
}

/* One option valid both in <Plugin> (as a default) and in <Instance>. */
static int apply_option(const char *inst, oconfig_item_t *ci, struct plugin_instance_config *cfg)
{
    if (ci->children_num > 0) {
        CONFIG_ERROR(inst, ci, "is not a block");
        return -1;
    }
    struct mm_option_value value;
    char err[256];
    if (strcasecmp(ci->key, "Interval") == 0) {
        /* seconds, as collectd's own Interval */
        double seconds;
        char text[40];
        if (option_value(inst, ci, &value) != 0)
            return -1;
        if (value.kind == MM_VALUE_NUMBER)
            snprintf(text, sizeof(text), "%.15g", value.number);
        if (value.kind == MM_VALUE_BOOL ||
            mm_parse_duration(value.kind == MM_VALUE_TEXT ? value.text : text, 1.0, MM_INTERVAL_MIN_S,
                              MM_INTERVAL_MAX_S, &seconds, err, sizeof(err)) != 0) {
            CONFIG_ERROR(inst, ci, "%s", value.kind == MM_VALUE_BOOL ? "expects a number of seconds" : err);
            return -1;
        }
        cfg->interval = DOUBLE_TO_CDTIME_T(seconds);
        return 0;
    }
    const struct mm_option *opt = mm_option_by_collectd_name(ci->key);
    if (!opt) {
        CONFIG_ERROR(inst, ci, "unknown option");
        return -1;
    }
    if (option_value(inst, ci, &value) != 0)
        return -1;
    /* collectd's curl, curl_json and apache plugins read Timeout as integer
     * milliseconds; a bare number means the same here. */
    value.bare_unit_s = 0.001;
    if (mm_option_apply(opt, &cfg->core, &value, err, sizeof(err)) != 0) {
        CONFIG_ERROR(inst, ci, "%s", err);
        return -1;
    }
    /* Earlier versions read a bare number as seconds: say so for a value
     * that is a plausible number of seconds and a short one of ms. */
    if (opt->type == MM_OPT_DURATION && value.kind == MM_VALUE_NUMBER && value.number < 100)
        WARNING(PLUGIN_NAME " plugin: instance \"%s\": option \"%s\": %g is %g ms (a bare number is "
                            "milliseconds, as in collectd's curl plugin); write \"%gs\" for seconds",
                inst, ci->key, value.number, value.number, value.number);
    return 0;
}

/* A non-repeatable option given twice in one block is an error: the second
 * value would silently win, hiding a typo or a bad merge of config files. */
static int repeated_option(const char *inst, const oconfig_item_t *block, int index)
{
    const oconfig_item_t *ci = &block->children[index];
    if (strcasecmp(ci->key, "Instance") == 0)
        return 0;
    const struct mm_option *opt = mm_option_by_collectd_name(ci->key);
    if (opt && opt->repeatable)
        return 0;
    for (int i = 0; i < index; i++) {
        if (strcasecmp(block->children[i].key, ci->key) == 0) {
            CONFIG_ERROR(inst, ci, "given twice in one block (it takes one value)");
            return -1;
        }
    }
    return 0;
}

/* Every option of one block, in order. */
static int apply_block(const char *inst, const oconfig_item_t *block, struct plugin_instance_config *cfg)
{
    for (int i = 0; i < block->children_num; i++) {
        oconfig_item_t *child = &block->children[i];
        if (strcasecmp(child->key, "Instance") == 0)
            continue;
        if (repeated_option(inst, block, i) != 0 || apply_option(inst, child, cfg) != 0)
            return -1;
    }
    return 0;
}

/* A deep copy of the <Plugin>-level defaults for one instance. */
static int copy_defaults(const struct plugin_instance_config *from, struct plugin_instance_config *to)
{
    to->interval = from->interval;
    return mm_instance_config_copy(&to->core, &from->core);
}

/* Timeout must stay below the interval, or reads would pile up. */
static void fit_timeout(const char *inst, struct plugin_instance_config *cfg)
{
    double interval = CDTIME_T_TO_DOUBLE(cfg->interval ? cfg->interval : plugin_get_interval());
    if (interval > 0 && cfg->core.timeout_s >= interval) {
        double fitted = interval * 0.8;
        WARNING(PLUGIN_NAME " plugin: instance \"%s\": Timeout %.3gs is not below the interval "
                            "%.3gs; using %.3gs",
                inst, cfg->core.timeout_s, interval, fitted);
        cfg->core.timeout_s = fitted;
        if (cfg->core.connect_timeout_s > fitted)
            cfg->core.connect_timeout_s = fitted;
    }
}

static int finish_instance(const char *name, struct plugin_instance_config *cfg, plugin_instance_cb on_instance)
{
    if (mm_config_set_string(&cfg->core.name, name) != 0)
        return -1;
    fit_timeout(name, cfg);
    char err[256];
    if (mm_instance_config_check(&cfg->core, err, sizeof(err)) != 0) {
        ERROR(PLUGIN_NAME " plugin: instance \"%s\": invalid option: %s", name, err);
        return -1;
    }
    return on_instance(cfg);
}

int plugin_parse_config(oconfig_item_t *ci, plugin_instance_cb on_instance)
{
    struct plugin_instance_config defaults;
    memset(&defaults, 0, sizeof(defaults));
    mm_instance_config_defaults(&defaults.core);
    int status = 0, instances = 0;

    /* First the defaults, wherever they stand in the block. */
    status = apply_block("(defaults)", ci, &defaults);

    char seen[64][64];
    for (int i = 0; i < ci->children_num && status == 0; i++) {
        oconfig_item_t *child = &ci->children[i];
        if (strcasecmp(child->key, "Instance") != 0)
            continue;
        if (child->values_num != 1 || child->values[0].type != OCONFIG_TYPE_STRING) {
            ERROR(PLUGIN_NAME " plugin: <Instance> needs one name in quotes");
            status = -1;
            break;
        }
        const char *name;
        char err[160];
        if (mm_instance_name_check(child->values[0].value.string, &name, err, sizeof(err)) != 0) {
            ERROR(PLUGIN_NAME " plugin: invalid instance name %s", err);
            status = -1;
            break;
        }
        for (int k = 0; k < instances && k < 64; k++) {
            if (strcmp(seen[k], name) == 0) {
                ERROR(PLUGIN_NAME " plugin: instance \"%s\": defined twice", name);
                status = -1;
            }
        }
        if (status != 0)
            break;
        if (instances >= 64) {
            ERROR(PLUGIN_NAME " plugin: instance \"%s\": more than 64 instances", name);
            status = -1;
            break;
        }
        sstrncpy(seen[instances++], name, sizeof(seen[0]));

        struct plugin_instance_config cfg;
        if (copy_defaults(&defaults, &cfg) != 0) {
            mm_instance_config_free(&cfg.core);
            status = -1;
            break;
        }
        status = apply_block(name, child, &cfg);
        if (status == 0)
            status = finish_instance(name, &cfg, on_instance);
        mm_instance_config_free(&cfg.core);
    }

    if (status == 0 && instances == 0) {
        struct plugin_instance_config cfg;
        if (copy_defaults(&defaults, &cfg) == 0)
            status = finish_instance(MM_DEFAULT_INSTANCE, &cfg, on_instance);
        else
            status = -1;
        mm_instance_config_free(&cfg.core);
    }
    mm_instance_config_free(&defaults.core);
    return status;
}
