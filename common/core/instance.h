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

#include "sources/http_fetch.h"
#include "core/log.h"
#include "core/metric.h"
#include "host/process/process.h"
#include "host/sockets/sockets.h"

#define MM_DEFAULT_INSTANCE "main"
#define MM_TEXT_STATE_MAX 160

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
    struct mm_process_config process; /* finding the proxy's processes */
    bool collect_process;             /* CollectProcess / --collect-process */
    struct mm_sockets_config sockets; /* the kernel's socket table */
    bool collect_sockets;             /* CollectSockets / --collect-sockets */
};

void mm_instance_config_defaults(struct mm_instance_config *cfg);
void mm_instance_config_free(struct mm_instance_config *cfg);
/* A deep copy (dst is overwritten, not freed); -1 when out of memory, and
 * dst is then safe to free. */
int mm_instance_config_copy(struct mm_instance_config *dst, const struct mm_instance_config *src);
/* Replaces *dst with a copy of value; -1 when out of memory. */
int mm_config_set_string(char **dst, const char *value);
/* Checks what spans options (each option's own range is checked when it is
 * set); -1 with the reason (naming the option) in err. */
int mm_instance_config_check(const struct mm_instance_config *cfg, char *err, size_t err_len);

/* What changed since the previous gather; the collectd front turns these into
 * notifications, the Telegraf front into log lines. */
struct mm_events {
    bool went_down;
    bool came_up;
    bool restarted;  /* start_time changed */
    bool reloaded;   /* config_md5 changed */
    char reason[MM_LATCH_MESSAGE_MAX]; /* why it went down */
    int64_t old_start_time, new_start_time;
    char old_config_md5[MM_TEXT_STATE_MAX], new_config_md5[MM_TEXT_STATE_MAX];
};

struct mm_instance {
    struct mm_instance_config cfg;
    struct mm_logger log;
    struct mm_http http;
    struct mm_snapshot snap;
    struct mm_events events;
    int64_t gathered_at_ns; /* wall clock at the start of the last gather */

    struct mm_process_state process;
    bool process_ready; /* process state initialised */
    struct mm_sockets_state sockets;
    bool sockets_ready;
    int stats_port; /* the URL's port, left out of discovered client ports */

    /* kept between gathers */
    struct mm_error_latch stats_latch;
    struct mm_error_latch parse_latch;
    int64_t scrape_errors; /* failed scrapes since the agent started */
    int last_up;           /* -1 before the first gather */
    int64_t last_start_time;
    char last_config_md5[MM_TEXT_STATE_MAX];
};

/* Takes ownership of cfg's strings (cfg is cleared). -1 with the reason
 * logged through log (give it, so a front never reports a guess). */
int mm_instance_init(struct mm_instance *inst, struct mm_instance_config *cfg,
                     const struct mm_logger *log);
void mm_instance_gather(struct mm_instance *inst);
void mm_instance_free(struct mm_instance *inst);

#endif
