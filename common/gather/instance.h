/* instance.h — one monitored proxy: its configuration, the state kept between
 * gathers, and gather() that fills a snapshot.
 *
 * Both fronts build an mm_instance_config from their own syntax (collectd
 * options, command-line flags), then call mm_instance_gather() every interval
 * and serialize inst->snap. Each part of a gather is independent: a failed
 * fetch still yields the health metrics (up=0). State lives here, never in
 * globals, so instances run side by side on different threads. */
#ifndef MM_INSTANCE_H
#define MM_INSTANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/events.h"
#include "core/facts.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/metric.h"
#include "host/process/process.h"
#include "host/sockets/sockets.h"
#include "fleet/fleet_config.h"
#include "fleet/fleet_config.h"

#define MM_DEFAULT_INSTANCE "main"

struct mm_instance_config {
    char *name;
    char *url;
    double timeout_s;
    double connect_timeout_s; /* 0 = same as timeout_s */
    long max_body_bytes;
    bool follow_redirects;
    bool verify_peer;
    bool verify_host;
    char *ca_cert;
    char *user;
    char *password;
    char *source; /* a source's name (sources/source.h); NULL or "auto": detected from the body */
    unsigned max_secrets; /* MaxSecrets: per-secret series kept, the rest summed as "other"; 0 = 64 */
    int password_from; /* enum mm_password_source: which option gave it */
    struct mm_process_config process; /* finding the proxy's processes */
    bool collect_process;             /* CollectProcess / --collect-process */
    struct mm_sockets_config sockets; /* the kernel's socket table */
    bool collect_sockets;             /* CollectSockets / --collect-sockets */
    struct mm_fleet_config fleet;     /* Fleet* / --fleet-*: off without FleetName */
};

/* Where the password came from: one source only (Password, PasswordFile or,
 * in mtproxy-telegraf, an environment variable). */
enum mm_password_source { MM_PASSWORD_NONE, MM_PASSWORD_INLINE, MM_PASSWORD_FILE, MM_PASSWORD_ENV };

void mm_instance_config_defaults(struct mm_instance_config *cfg);
void mm_instance_config_free(struct mm_instance_config *cfg);
/* A deep copy (dst is overwritten, not freed); -1 when out of memory, and
 * dst is then safe to free. */
int mm_instance_config_copy(struct mm_instance_config *dst, const struct mm_instance_config *src);
/* Replaces *dst with a copy of value; -1 when out of memory. */
int mm_config_set_string(char **dst, const char *value);
/* Sets the password from one source; -1 with the reason in err when another
 * source gave one already, or out of memory. */
int mm_config_set_password(struct mm_instance_config *cfg, const char *value, enum mm_password_source from,
                           char *err, size_t err_len);
/* Checks what spans options (each option's own range is checked when it is
 * set); -1 with the reason (naming the option) in err. */
int mm_instance_config_check(const struct mm_instance_config *cfg, char *err, size_t err_len);

struct mm_part_ops;

#define MM_INSTANCE_MAX_PARTS 4

struct mm_instance {
    struct mm_instance_config cfg;
    struct mm_logger log;       /* what the core logs to: front_log with credentials redacted */
    struct mm_logger front_log; /* the front's logger */
    struct mm_redactor redactor; /* the configured credentials */
    int cancel_fd;               /* readable = stop the gather now; -1 = none */
    struct mm_snapshot snap;
    struct mm_events events;      /* what changed in the last gather */
    struct mm_source_facts facts; /* what the page said of the proxy in the last gather */
    char last_implementation[32]; /* the last page's implementation: kept while the page is down */
    int64_t gathered_at_ns; /* wall clock at the start of the last gather */
    int stats_port; /* the URL's port, left out of discovered client ports */

    /* the parts (gather/part.h), run in order, and their private states */
    const struct mm_part_ops *parts[MM_INSTANCE_MAX_PARTS];
    void *part_state[MM_INSTANCE_MAX_PARTS];
    size_t n_parts;

    /* kept between gathers */
    char implementation[32]; /* the last one a page named: a page that is down forgets nothing */
    struct mm_error_latch drop_latch;
    struct mm_events_state events_state;
    struct mm_fleet *fleet; /* fleet/fleet.h; NULL when off */
};

/* Takes ownership of cfg's strings (cfg is cleared). -1 with the reason
 * logged through log (give it, so a front never reports a guess); inst is
 * then safe to free. The parts are the page, and the process and sockets
 * parts where CollectProcess / CollectSockets are on. */
int mm_instance_init(struct mm_instance *inst, struct mm_instance_config *cfg,
                     const struct mm_logger *log);
/* The same with the parts given (tests: fake parts); at most
 * MM_INSTANCE_MAX_PARTS. */
int mm_instance_init_parts(struct mm_instance *inst, struct mm_instance_config *cfg, const struct mm_logger *log,
                           const struct mm_part_ops *const *parts, size_t n_parts);
void mm_instance_gather(struct mm_instance *inst);
void mm_instance_free(struct mm_instance *inst);

#endif
