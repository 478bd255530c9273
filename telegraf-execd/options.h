/* options.h — mtproxy-telegraf's command line: flags -> core configuration. */
#ifndef MM_OPTIONS_H
#define MM_OPTIONS_H

#include <stdbool.h>

#include "gather/instance.h"
#include "outputs/check_output.h"

/* The password's environment variable when --user is given without one. */
#define EXECD_PASSWORD_ENV "MTPROXY_PASSWORD"
#define EXECD_DEFAULT_IDLE_WARNING_S 30.0 /* three of Telegraf's default 10 s intervals */

enum execd_format { FORMAT_INFLUX, FORMAT_JSON, FORMAT_TEXT };

struct execd_options {
    struct mm_instance_config core;
    bool once;
    enum execd_format format;
    double interval_s; /* 0: gather only on a newline or a signal */
    double idle_warning_s; /* without --interval: warn once if no trigger came in this time; 0 = never */
    bool check;        /* --check: one gather judged, exit with its status */
    struct mm_check_limits limits;
};

/* Parses argv. Returns 0 to run, 1 when --help or --version was printed
 * (exit 0), 2 on a bad flag or value (message printed, exit 2). */
int execd_parse_options(int argc, char **argv, struct execd_options *opts);
void execd_options_free(struct execd_options *opts);
/* Whether argv asks for --check (so a bad command line exits UNKNOWN, 3). */
bool execd_wants_check(int argc, char **argv);

#endif
