/* instance.c — one gather of one proxy (see instance.h). */
#include "core/instance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sources/stats_parser.h"

void mm_instance_config_defaults(struct mm_instance_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_s = MM_HTTP_DEFAULT_TIMEOUT_MS / 1000.0;
    cfg->max_body_bytes = MM_HTTP_DEFAULT_MAX_BODY;
    cfg->verify_peer = true;
    cfg->verify_host = true;
    cfg->collect_process = true;
    cfg->collect_sockets = true;
    mm_sockets_config_init(&cfg->sockets);
}

void mm_instance_config_free(struct mm_instance_config *cfg)
{
    free(cfg->name);
    free(cfg->url);
    free(cfg->ca_cert);
    free(cfg->user);
    free(cfg->password);
    mm_process_config_free(&cfg->process);
    mm_sockets_config_free(&cfg->sockets);
    memset(cfg, 0, sizeof(*cfg));
}

static int copy_string(char **dst, const char *src)
{
    *dst = NULL;
    return src ? mm_config_set_string(dst, src) : 0;
}

int mm_instance_config_copy(struct mm_instance_config *dst, const struct mm_instance_config *src)
{
    *dst = *src;
    int rc = copy_string(&dst->name, src->name) | copy_string(&dst->url, src->url) |
             copy_string(&dst->ca_cert, src->ca_cert) | copy_string(&dst->user, src->user) |
             copy_string(&dst->password, src->password) |
             copy_string(&dst->process.pidfile, src->process.pidfile) |
             copy_string(&dst->process.process_match_name, src->process.process_match_name) |
             copy_string(&dst->process.process_match_regex, src->process.process_match_regex) |
             copy_string(&dst->sockets.geoip_path, src->sockets.geoip_path) |
             copy_string(&dst->sockets.state_file, src->sockets.state_file);
    dst->sockets.ignore = NULL;
    if (src->sockets.n_ignore) {
        dst->sockets.ignore = malloc(src->sockets.n_ignore * sizeof(*src->sockets.ignore));
        if (dst->sockets.ignore)
            memcpy(dst->sockets.ignore, src->sockets.ignore, src->sockets.n_ignore * sizeof(*src->sockets.ignore));
        else
            rc = -1;
    }
    if (!dst->sockets.ignore)
        dst->sockets.n_ignore = 0;
    return rc ? -1 : 0;
}

int mm_config_set_string(char **dst, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

int mm_instance_config_check(const struct mm_instance_config *cfg, char *err, size_t err_len)
{
    /* One option's range is checked by the option table as it is set; here
     * only what spans two options. */
    if (cfg->connect_timeout_s > cfg->timeout_s) {
        snprintf(err, err_len, "ConnectTimeout (--connect-timeout): must not be above the timeout");
        return -1;
    }
    if (cfg->password && !cfg->user) {
        snprintf(err, err_len, "Password (--password): given without User (--user)");
        return -1;
    }
    return 0;
}

int mm_instance_init(struct mm_instance *inst, struct mm_instance_config *cfg,
                     const struct mm_logger *log)
{
    memset(inst, 0, sizeof(*inst));
    inst->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    if (log)
        inst->log = *log;
    if ((!inst->cfg.name && mm_config_set_string(&inst->cfg.name, MM_DEFAULT_INSTANCE) != 0) ||
        (!inst->cfg.url && mm_config_set_string(&inst->cfg.url, MM_HTTP_DEFAULT_URL) != 0)) {
        mm_log(&inst->log, MM_LOG_ERROR, "out of memory");
        return -1;
    }
    mm_http_init(&inst->http);
    mm_snapshot_init(&inst->snap);
    inst->last_up = -1;
    inst->stats_port = mm_http_url_port(inst->cfg.url);
    /* A proxy whose command line names another stats port is not this one. */
    inst->cfg.process.stats_port = inst->stats_port;
    if (inst->cfg.collect_process) {
        if (mm_process_state_init(&inst->process, &inst->cfg.process, &inst->log) != 0)
            return -1;
        inst->process_ready = true;
    }
    if (inst->cfg.collect_sockets) {
        if (mm_sockets_state_init(&inst->sockets) != 0) {
            mm_log(&inst->log, MM_LOG_ERROR, "sockets: out of memory");
            return -1;
        }
        inst->sockets_ready = true;
        mm_sockets_state_use_file(&inst->sockets, inst->cfg.sockets.state_file, inst->cfg.name, &inst->log);
    }
    return 0;
}

void mm_instance_free(struct mm_instance *inst)
{
    if (inst->process_ready)
        mm_process_state_free(&inst->process);
    if (inst->sockets_ready)
        mm_sockets_state_free(&inst->sockets);
    mm_http_free(&inst->http);
    mm_snapshot_free(&inst->snap);
    mm_instance_config_free(&inst->cfg);
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void http_options(const struct mm_instance_config *cfg, struct mm_http_options *opt)
{
    mm_http_options_defaults(opt);
    opt->url = cfg->url;
    opt->timeout_ms = (long)(cfg->timeout_s * 1000.0 + 0.5);
    if (opt->timeout_ms < 1)
        opt->timeout_ms = 1;
    opt->connect_timeout_ms = (long)(cfg->connect_timeout_s * 1000.0 + 0.5);
    opt->max_body = (size_t)cfg->max_body_bytes;
    opt->follow_redirects = cfg->follow_redirects;
    opt->verify_peer = cfg->verify_peer;
    opt->verify_host = cfg->verify_host;
    opt->ca_cert = cfg->ca_cert;
    opt->user = cfg->user;
    opt->password = cfg->password;
}

/* Latch kind of a body that is not a stats page (beside mm_http_get's kinds). */
#define STATS_FAIL_NOT_STATS 3000

/* Fetch and parse the stats page; returns 1 when it was read (up). */
static int gather_stats(struct mm_instance *inst)
{
    struct mm_http_options opt;
    http_options(&inst->cfg, &opt);
    char err[MM_LATCH_MESSAGE_MAX - 64];
    int failure = mm_http_get(&inst->http, &opt, err, sizeof(err));
    if (failure) {
        mm_latch_fail_kind(&inst->stats_latch, &inst->log, MM_LOG_ERROR, failure, "cannot read stats: %s", err);
        snprintf(inst->events.reason, sizeof(inst->events.reason), "%s", err);
        return 0;
    }

    struct mm_stats_result res;
    char url[256];
    mm_http_redact_url(inst->cfg.url, url, sizeof(url));
    /* A wrong Content-Type alone does not cost the metrics: the body decides,
     * and the type is named when the body is not a stats page. */
    char type_note[96] = "";
    if (!mm_http_is_text_plain(&inst->http))
        snprintf(type_note, sizeof(type_note), ", Content-Type '%s'", inst->http.content_type);
    if (mm_stats_parse(inst->http.body, inst->http.len, &inst->snap, &res) != 0) {
        snprintf(err, sizeof(err), "%s: not an MTProxy stats page (%s%s)", url, res.first_error, type_note);
        mm_latch_fail_kind(&inst->stats_latch, &inst->log, MM_LOG_ERROR, STATS_FAIL_NOT_STATS,
                      "cannot read stats: %s", err);
        snprintf(inst->events.reason, sizeof(inst->events.reason), "%s", err);
        return 0;
    }
    mm_latch_ok(&inst->stats_latch, &inst->log, "stats page");
    if (res.skipped)
        mm_latch_fail(&inst->parse_latch, &inst->log, MM_LOG_WARNING,
                      "%s: skipped %u malformed line(s), first: %s", url, res.skipped, res.first_error);
    else
        mm_latch_ok(&inst->parse_latch, &inst->log, "stats parsing");
    mm_snapshot_add_int(&inst->snap, MM_GROUP_HEALTH, MM_GAUGE, "stats_lines_skipped", res.skipped);
    return 1;
}

static int64_t stats_int(const struct mm_snapshot *snap, const char *name, int64_t fallback)
{
    const struct mm_metric *m = mm_snapshot_find(snap, MM_GROUP_STATS, name);
    return m && m->type == MM_INT ? m->value.i : fallback;
}

static const char *stats_text(const struct mm_snapshot *snap, const char *name)
{
    const struct mm_metric *m = mm_snapshot_find(snap, MM_GROUP_STATS, name);
    return m && m->type == MM_STRING ? m->value.s : NULL;
}

/* Up/down transitions, restarts and config reloads since the last gather. */
static void detect_events(struct mm_instance *inst, int up)
{
    struct mm_events *ev = &inst->events;
    if (inst->last_up != 0 && !up) /* also a proxy found down at start */
        ev->went_down = true;
    if (inst->last_up == 0 && up)
        ev->came_up = true;
    inst->last_up = up;
    if (!up)
        return;

    int64_t start = stats_int(&inst->snap, "start_time", 0);
    if (start && inst->last_start_time && start != inst->last_start_time) {
        ev->restarted = true;
        ev->old_start_time = inst->last_start_time;
        ev->new_start_time = start;
    }
    if (start)
        inst->last_start_time = start;

    const char *md5 = stats_text(&inst->snap, "config_md5");
    if (md5) {
        if (inst->last_config_md5[0] && strcmp(md5, inst->last_config_md5) != 0) {
            ev->reloaded = true;
            snprintf(ev->old_config_md5, sizeof(ev->old_config_md5), "%s", inst->last_config_md5);
            snprintf(ev->new_config_md5, sizeof(ev->new_config_md5), "%s", md5);
        }
        snprintf(inst->last_config_md5, sizeof(inst->last_config_md5), "%s", md5);
    }
}

void mm_instance_gather(struct mm_instance *inst)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    inst->gathered_at_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    mm_snapshot_reset(&inst->snap);
    memset(&inst->events, 0, sizeof(inst->events));

    double started = monotonic_seconds();
    int up = gather_stats(inst);
    double took = monotonic_seconds() - started;
    if (!up)
        inst->scrape_errors++;

    mm_snapshot_add_int(&inst->snap, MM_GROUP_HEALTH, MM_GAUGE, "up", up);
    mm_snapshot_add_double(&inst->snap, MM_GROUP_HEALTH, MM_GAUGE, "scrape_duration_seconds", took);
    mm_snapshot_add_int(&inst->snap, MM_GROUP_HEALTH, MM_COUNTER, "scrape_errors", inst->scrape_errors);
    detect_events(inst, up);

    /* Independent of the stats page: a proxy whose page is down may still
     * run (and cost the host); its pid, when the page gave one, is a hint. */
    if (inst->process_ready)
        mm_process_gather(&inst->process, up ? stats_int(&inst->snap, "pid", 0) : 0, &inst->snap, &inst->log);

    /* The socket table, filtered in the kernel to the proxy's ports; the
     * ports it listens on come from the processes just found. */
    if (inst->sockets_ready) {
        int pids[256];
        size_t n_pids = inst->process_ready ? mm_process_pids(&inst->process, pids, 256) : 0;
        mm_sockets_gather(&inst->sockets, &inst->cfg.sockets, pids, n_pids, inst->stats_port, &inst->snap,
                          &inst->log);
    }
}
