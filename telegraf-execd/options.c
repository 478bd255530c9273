/* options.c — flag parsing for mtproxy-telegraf. The core's flags come from
 * common/gather/config_options.c, the same table the collectd plugin reads, so a
 * flag has the meaning and default of its collectd option; only the flags
 * about running (--once, --help, --version) are this front's own. */
#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gather/config_options.h"
#include "gather/instance_name.h"
#include "core/number.h"

#ifndef MM_VERSION
#define MM_VERSION "0.1.0"
#endif

/* getopt_long values: core options are their table index, the front's own
 * flags start here. */
enum {
    OPT_INSTANCE = 1000,
    OPT_ONCE,
    OPT_FORMAT,
    OPT_INTERVAL,
    OPT_IDLE_WARNING,
    OPT_PASSWORD_ENV,
    OPT_HELP,
    OPT_VERSION,
    OPT_CHECK,
    OPT_WARN_CLIENTS,
    OPT_CRIT_CLIENTS,
    OPT_WARN_FD,
    OPT_CRIT_FD
};

static const struct option front_options[] = {
    { "instance", required_argument, NULL, OPT_INSTANCE },
    { "once", no_argument, NULL, OPT_ONCE },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "interval", required_argument, NULL, OPT_INTERVAL },
    { "idle-warning", required_argument, NULL, OPT_IDLE_WARNING },
    { "password-env", required_argument, NULL, OPT_PASSWORD_ENV },
    { "help", no_argument, NULL, OPT_HELP },
    { "version", no_argument, NULL, OPT_VERSION },
    { "check", no_argument, NULL, OPT_CHECK },
    { "warn-clients-percent", required_argument, NULL, OPT_WARN_CLIENTS },
    { "crit-clients-percent", required_argument, NULL, OPT_CRIT_CLIENTS },
    { "warn-fd-percent", required_argument, NULL, OPT_WARN_FD },
    { "crit-fd-percent", required_argument, NULL, OPT_CRIT_FD },
};

#define FRONT_COUNT (sizeof(front_options) / sizeof(front_options[0]))
#define MAX_OPTIONS 64

static size_t build_long_options(struct option *out)
{
    size_t n = 0;
    for (size_t i = 0; i < mm_option_count() && n < MAX_OPTIONS - FRONT_COUNT - 1; i++) {
        const struct mm_option *opt = mm_option_at(i);
        /* a bool flag alone means true; --flag=false turns it off */
        out[n++] = (struct option){ opt->flag, opt->type == MM_OPT_BOOL ? optional_argument : required_argument,
                                    NULL, (int)i };
    }
    for (size_t i = 0; i < FRONT_COUNT; i++)
        out[n++] = front_options[i];
    out[n] = (struct option){ NULL, 0, NULL, 0 };
    return n;
}

/* What --help shows after a flag, per option type. */
static const char *const value_hints[] = {
    [MM_OPT_STRING] = " TEXT",
    [MM_OPT_DURATION] = " DURATION",
    [MM_OPT_BOOL] = "[=BOOL]",
    [MM_OPT_INT] = " N",
};

/* "  --flag HINT   text", the text wrapped at 79 columns under column 31. */
static void usage_row(FILE *out, const char *left, const char *text)
{
    enum { INDENT = 31, WIDTH = 79 };
    int col = fprintf(out, "  %-28s ", left);
    if (col > INDENT) {
        fprintf(out, "\n%*s", INDENT, "");
        col = INDENT;
    }
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " ");
        if (col > INDENT && col + 1 + (int)word > WIDTH) {
            fprintf(out, "\n%*s", INDENT, "");
            col = INDENT;
        } else if (col > INDENT) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, word, out);
        col += (int)word;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: mtproxy-telegraf [OPTION]...\n"
                 "Reads MTProxy's /stats page and prints InfluxDB line protocol for Telegraf's\n"
                 "execd input: one gather per newline on stdin (signal = \"STDIN\"), per SIGHUP,\n"
                 "SIGUSR1 or SIGUSR2 (signal = \"SIGHUP\" ...), and every --interval (signal =\n"
                 "\"none\"); exits 0 when stdin closes or on SIGTERM/SIGINT.\n\n");
    for (size_t i = 0; i < mm_option_count(); i++) {
        const struct mm_option *opt = mm_option_at(i);
        char left[64];
        snprintf(left, sizeof(left), "--%s%s", opt->flag, value_hints[opt->type]);
        char text[512];
        snprintf(text, sizeof(text), "%s (default: %s; collectd: %s)%s", opt->help, opt->default_text,
                 opt->collectd_name, opt->repeatable ? ", repeatable" : "");
        usage_row(out, left, text);
    }
    usage_row(out, "--instance NAME", "value of the instance tag: up to 63 of A-Z a-z 0-9 _ . - (default and \"\": "
              MM_DEFAULT_INSTANCE ")");
    usage_row(out, "--once", "gather once, print, exit");
    usage_row(out, "--format FORMAT", "output: influx (line protocol), json or text (default: influx)");
    usage_row(out, "--interval DURATION", "also gather on this schedule, for signal = \"none\" (default: off)");
    usage_row(out, "--idle-warning DURATION",
              "without --interval: one W! line when no gather is requested in this time; 0 = never (default: 30s)");
    usage_row(out, "--password-env NAME",
              "HTTP basic-auth password from this environment variable (default: MTPROXY_PASSWORD when set "
              "and --user is given without a password)");
    usage_row(out, "--check", "health check: gather once, print one status line (monitoring-plugins format), "
                              "exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN");
    usage_row(out, "--warn-clients-percent PCT", "--check: WARNING above this share of the proxy's client limit "
                                                 "(default: 80)");
    usage_row(out, "--crit-clients-percent PCT", "--check: CRITICAL above it (default: 90)");
    usage_row(out, "--warn-fd-percent PCT", "--check: WARNING above this share of the open-files limit "
                                            "(default: 80)");
    usage_row(out, "--crit-fd-percent PCT", "--check: CRITICAL above it (default: 90)");
    usage_row(out, "--help", "this text");
    usage_row(out, "--version", "print the version");
    fprintf(out, "\nDURATION: 500ms, 2s, 1.5m, or a number of seconds. BOOL: true or false.\n");
}

int execd_parse_options(int argc, char **argv, struct execd_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    mm_instance_config_defaults(&opts->core);
    opts->idle_warning_s = EXECD_DEFAULT_IDLE_WARNING_S;
    const char *password_env = NULL;
    mm_check_limits_defaults(&opts->limits);
    struct option long_options[MAX_OPTIONS];
    build_long_options(long_options);
    opterr = 0;
    optind = 1;
    int c;
    char err[256];
    while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
        if (c >= 0 && (size_t)c < mm_option_count()) {
            const struct mm_option *opt = mm_option_at((size_t)c);
            struct mm_option_value v = { .kind = MM_VALUE_TEXT, .text = optarg ? optarg : "true" };
            if (mm_option_apply(opt, &opts->core, &v, err, sizeof(err)) != 0) {
                if (mm_option_is_secret(opt))
                    fprintf(stderr, "E! mtproxy-telegraf: invalid value for --%s: %s\n", opt->flag, err);
                else
                    fprintf(stderr, "E! mtproxy-telegraf: invalid value '%s' for --%s: %s\n", v.text, opt->flag,
                            err);
                return 2;
            }
            continue;
        }
        switch (c) {
        case OPT_INSTANCE: {
            const char *name;
            if (mm_instance_name_check(optarg, &name, err, sizeof(err)) != 0) {
                fprintf(stderr, "E! mtproxy-telegraf: invalid instance name %s\n", err);
                return 2;
            }
            if (mm_config_set_string(&opts->core.name, name) != 0) {
                fprintf(stderr, "E! mtproxy-telegraf: out of memory\n");
                return 2;
            }
            break;
        }
        case OPT_ONCE:
            opts->once = true;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "influx") == 0) {
                opts->format = FORMAT_INFLUX;
            } else if (strcmp(optarg, "json") == 0) {
                opts->format = FORMAT_JSON;
            } else if (strcmp(optarg, "text") == 0) {
                opts->format = FORMAT_TEXT;
            } else {
                fprintf(stderr, "E! mtproxy-telegraf: invalid value '%s' for --format: influx, json or text\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_IDLE_WARNING:
            if (strcmp(optarg, "0") == 0) {
                opts->idle_warning_s = 0;
            } else if (mm_parse_duration(optarg, 1.0, MM_INTERVAL_MIN_S, MM_INTERVAL_MAX_S, &opts->idle_warning_s,
                                         err, sizeof(err)) != 0) {
                fprintf(stderr, "E! mtproxy-telegraf: invalid value '%s' for --idle-warning: %s, or 0 for never\n",
                        optarg, err);
                return 2;
            }
            break;
        case OPT_PASSWORD_ENV:
            password_env = optarg;
            break;
        case OPT_INTERVAL:
            if (mm_parse_duration(optarg, 1.0, MM_INTERVAL_MIN_S, MM_INTERVAL_MAX_S, &opts->interval_s, err,
                                  sizeof(err)) != 0) {
                fprintf(stderr, "E! mtproxy-telegraf: invalid value '%s' for --interval: %s\n", optarg, err);
                return 2;
            }
            break;
        case OPT_CHECK:
            opts->check = true;
            break;
        case OPT_WARN_CLIENTS:
        case OPT_CRIT_CLIENTS:
        case OPT_WARN_FD:
        case OPT_CRIT_FD: {
            static const char *const names[] = { "warn-clients-percent", "crit-clients-percent",
                                                 "warn-fd-percent", "crit-fd-percent" };
            double *dst = c == OPT_WARN_CLIENTS   ? &opts->limits.clients_warn
                          : c == OPT_CRIT_CLIENTS ? &opts->limits.clients_crit
                          : c == OPT_WARN_FD      ? &opts->limits.fd_warn
                                                  : &opts->limits.fd_crit;
            if (mm_parse_decimal(optarg, 0, 100, dst, err, sizeof(err)) != 0) {
                fprintf(stderr, "E! mtproxy-telegraf: invalid value '%s' for --%s: %s\n", optarg,
                        names[c - OPT_WARN_CLIENTS], err);
                return 2;
            }
            break;
        }
        case OPT_HELP:
            usage(stdout);
            return 1;
        case OPT_VERSION:
            printf("mtproxy-telegraf %s\n", MM_VERSION);
            return 1;
        case ':':
            fprintf(stderr, "E! mtproxy-telegraf: %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "E! mtproxy-telegraf: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "E! mtproxy-telegraf: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (password_env) {
        const char *secret = getenv(password_env);
        if (!secret) {
            fprintf(stderr, "E! mtproxy-telegraf: --password-env: the variable %s is not set\n", password_env);
            return 2;
        }
        if (mm_config_set_password(&opts->core, secret, MM_PASSWORD_ENV, err, sizeof(err)) != 0) {
            fprintf(stderr, "E! mtproxy-telegraf: %s\n", err);
            return 2;
        }
    } else if (opts->core.user && !opts->core.password) {
        const char *secret = getenv(EXECD_PASSWORD_ENV);
        if (secret && *secret && mm_config_set_password(&opts->core, secret, MM_PASSWORD_ENV, err, sizeof(err)) != 0) {
            fprintf(stderr, "E! mtproxy-telegraf: %s\n", err);
            return 2;
        }
    }
    if (mm_check_limits_check(&opts->limits, err, sizeof(err)) != 0) {
        fprintf(stderr, "E! mtproxy-telegraf: %s\n", err);
        return 2;
    }
    if (mm_instance_config_check(&opts->core, err, sizeof(err)) != 0) {
        fprintf(stderr, "E! mtproxy-telegraf: %s\n", err);
        return 2;
    }
    return 0;
}

bool execd_wants_check(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--check") == 0)
            return true;
    }
    return false;
}

void execd_options_free(struct execd_options *opts)
{
    mm_instance_config_free(&opts->core);
}
