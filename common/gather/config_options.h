/* config_options.h — the core's options, described once for both fronts.
 *
 * Each option has its collectd spelling (CamelCase, in <Plugin>/<Instance>)
 * and its mtproxy-telegraf flag, one type, one default and one setter, so the
 * two fronts cannot drift apart: a new core option is one row in
 * config_options.c and appears in both. */
#ifndef MM_CONFIG_OPTIONS_H
#define MM_CONFIG_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "gather/instance.h"

/* The fronts' own Interval / --interval: the same range in both. */
#define MM_INTERVAL_MIN_S 0.001
#define MM_INTERVAL_MAX_S 86400.0

enum mm_option_type {
    MM_OPT_STRING,
    MM_OPT_DURATION, /* "500ms", "2s", or a bare number (seconds; collectd: milliseconds) */
    MM_OPT_BOOL,
    MM_OPT_INT,
};

/* A value as a front received it: collectd gives typed values, a flag text. */
struct mm_option_value {
    enum { MM_VALUE_TEXT, MM_VALUE_NUMBER, MM_VALUE_BOOL } kind;
    const char *text;
    double number;
    bool boolean;
    double bare_unit_s; /* durations: seconds per unit of a bare number; 0 = 1 */
};

struct mm_option {
    const char *collectd_name;
    const char *flag; /* without the leading "--" */
    enum mm_option_type type;
    bool repeatable;
    const char *default_text; /* for --help and the docs */
    const char *help;
    /* The only place an option's range is written: MM_OPT_INT bounds,
     * MM_OPT_DURATION bounds in seconds, MM_OPT_STRING length bounds in bytes
     * (max 0: no upper bound; min 1: not empty). */
    double min, max;
    /* Stores the value (MM_OPT_INT and MM_OPT_DURATION as .number, already
     * converted and in range); returns 0, or -1 with the reason in err. */
    int (*set)(struct mm_instance_config *cfg, const struct mm_option_value *value, char *err,
               size_t err_len);
};

size_t mm_option_count(void);
const struct mm_option *mm_option_at(size_t i);
const struct mm_option *mm_option_by_collectd_name(const char *name); /* case-insensitive */
const struct mm_option *mm_option_by_flag(const char *flag);

/* The option's value may hold a credential (URL, User, Password): a front
 * never echoes it in a message. */
bool mm_option_is_secret(const struct mm_option *opt);

/* Converts, range-checks and stores a value; -1 with a reason (not naming
 * the option: the front names it in its own spelling). */
int mm_option_apply(const struct mm_option *opt, struct mm_instance_config *cfg,
                    const struct mm_option_value *value, char *err, size_t err_len);

#endif
