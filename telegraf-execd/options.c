/* options.c — flag parsing for mtproxy-telegraf. Every flag maps to the core
 * option of the same meaning and default as the collectd plugin's. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

#ifndef MM_VERSION
#define MM_VERSION "0.1.0"
#endif

enum {
    OPT_URL = 1000,
    OPT_TIMEOUT,
    OPT_CONNECT_TIMEOUT,
    OPT_INSTANCE,
    OPT_ONCE,
    OPT_MAX_BODY,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option long_options[] = {
    { "url", required_argument, NULL, OPT_URL },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
    { "instance", required_argument, NULL, OPT_INSTANCE },
    { "max-body-size", required_argument, NULL, OPT_MAX_BODY },
    { "once", no_argument, NULL, OPT_ONCE },
    { "help", no_argument, NULL, OPT_HELP },
    { "version", no_argument, NULL, OPT_VERSION },
    { NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: mtproxy-telegraf [OPTION]...\n"
            "Reads MTProxy's /stats page and prints InfluxDB line protocol for Telegraf's\n"
            "execd input: one gather per newline on stdin, exit on stdin EOF.\n"
            "\n"
            "  --url URL              stats page (default %s)\n"
            "  --timeout DURATION     whole request, e.g. 500ms, 2s (default 2s)\n"
            "  --connect-timeout DURATION  TCP/TLS connect (default: the timeout)\n"
            "  --instance NAME        value of the instance tag (default %s)\n"
            "  --max-body-size BYTES  refuse larger stats pages (default %d)\n"
            "  --once                 gather once, print, exit\n"
            "  --help                 this text\n"
            "  --version              print the version\n",
            MM_HTTP_DEFAULT_URL, MM_DEFAULT_INSTANCE, MM_HTTP_DEFAULT_MAX_BODY);
}

static int bad_value(const char *flag, const char *value, const char *why)
{
    fprintf(stderr, "E! mtproxy-telegraf: invalid value '%s' for --%s: %s\n", value, flag, why);
    return 2;
}

static int parse_long(const char *text, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end)
        return -1;
    *out = v;
    return 0;
}

int execd_parse_options(int argc, char **argv, struct execd_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    mm_instance_config_defaults(&opts->core);
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case OPT_URL:
            rc = mm_config_set_string(&opts->core.url, optarg);
            break;
        case OPT_INSTANCE:
            if (!*optarg)
                return bad_value("instance", optarg, "must not be empty");
            rc = mm_config_set_string(&opts->core.name, optarg);
            break;
        case OPT_TIMEOUT:
            if (mm_parse_duration(optarg, &opts->core.timeout_s) != 0)
                return bad_value("timeout", optarg, "expected a duration like 500ms or 2s");
            break;
        case OPT_CONNECT_TIMEOUT:
            if (mm_parse_duration(optarg, &opts->core.connect_timeout_s) != 0)
                return bad_value("connect-timeout", optarg, "expected a duration like 500ms or 2s");
            break;
        case OPT_MAX_BODY:
            if (parse_long(optarg, &opts->core.max_body_bytes) != 0)
                return bad_value("max-body-size", optarg, "expected a number of bytes");
            break;
        case OPT_ONCE:
            opts->once = true;
            break;
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
        if (rc != 0) {
            fprintf(stderr, "E! mtproxy-telegraf: out of memory\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "E! mtproxy-telegraf: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    char err[256];
    if (mm_instance_config_check(&opts->core, err, sizeof(err)) != 0) {
        fprintf(stderr, "E! mtproxy-telegraf: %s\n", err);
        return 2;
    }
    return 0;
}

void execd_options_free(struct execd_options *opts)
{
    mm_instance_config_free(&opts->core);
}
