/* check_output.h — a snapshot judged as a health check (mtproxy-telegraf
 * --check): one status line in the monitoring-plugins format that Nagios,
 * Icinga, Docker's HEALTHCHECK and Kubernetes exec probes read, and the
 * status code the process exits with.
 *
 *   MTPROXY OK - main: up, 35 of 16000 clients (0.2%), ... | up=1 clients=35;...
 *
 * What is judged: the proxy is up (its page was read), an upstream target
 * (a Telegram middle proxy) is ready, client connections against the proxy's
 * own limit, descriptors against the open-files limit. A value the snapshot
 * does not have (no process found, a page without the key) is not judged. */
#ifndef MM_CHECK_OUTPUT_H
#define MM_CHECK_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include "core/metric.h"

enum mm_check_status { MM_CHECK_OK = 0, MM_CHECK_WARNING = 1, MM_CHECK_CRITICAL = 2, MM_CHECK_UNKNOWN = 3 };

/* Percentages; a value above warn is WARNING, above crit CRITICAL. */
struct mm_check_limits {
    double clients_warn, clients_crit; /* clients / the proxy's client limit */
    double fd_warn, fd_crit;           /* open descriptors / RLIMIT_NOFILE (the fullest process) */
};

#define MM_CHECK_CLIENTS_WARN 80.0
#define MM_CHECK_CLIENTS_CRIT 90.0
#define MM_CHECK_FD_WARN 80.0
#define MM_CHECK_FD_CRIT 90.0

void mm_check_limits_defaults(struct mm_check_limits *l);
/* warn <= crit for each pair; 0, or -1 with the reason in err. */
int mm_check_limits_check(const struct mm_check_limits *l, char *err, size_t err_len);

/* "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char *mm_check_status_name(enum mm_check_status s);

/* Judges snap and writes the status line (no newline, truncated to fit) into
 * buf. down_reason: why the page could not be read, for the line (NULL: not
 * known). Returns the status. */
enum mm_check_status mm_check_format(char *buf, size_t len, const struct mm_snapshot *snap, const char *instance,
                                     const struct mm_check_limits *l, const char *down_reason);

/* mm_check_format() written to out with a newline; returns the status, or
 * MM_CHECK_UNKNOWN when out cannot be written. */
enum mm_check_status mm_check_write(FILE *out, const struct mm_snapshot *snap, const char *instance,
                                    const struct mm_check_limits *l, const char *down_reason);

#endif
