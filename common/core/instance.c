/* instance.c — one gather of one proxy (see instance.h). */
#include "core/instance.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/process/proxy_cmdline.h"

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
    if (cfg->password)
        explicit_bzero(cfg->password, strlen(cfg->password));
    free(cfg->password);
    free(cfg->source);
    mm_process_config_free(&cfg->process);
    mm_sockets_config_free(&cfg->sockets);
    memset(cfg, 0, sizeof(*cfg));
}

static int copy_string(char **dst, const char *src)
{
    *dst = NULL;
    return src ? mm_config_set_string(dst, src) : 0;
}

int mm_config_set_password(struct mm_instance_config *cfg, const char *value, enum mm_password_source from,
                           char *err, size_t err_len)
{
    static const char *const names[] = { "", "Password (--password)", "PasswordFile (--password-file)",
                                         "an environment variable" };
    if (cfg->password_from != MM_PASSWORD_NONE && cfg->password_from != (int)from) {
        snprintf(err, err_len, "the password is given twice: by %s and by %s", names[cfg->password_from],
                 names[from]);
        return -1;
    }
    if (cfg->password)
        explicit_bzero(cfg->password, strlen(cfg->password));
    if (mm_config_set_string(&cfg->password, value) != 0) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    cfg->password_from = (int)from;
    return 0;
}

int mm_instance_config_copy(struct mm_instance_config *dst, const struct mm_instance_config *src)
{
    *dst = *src;
    int rc = copy_string(&dst->name, src->name) | copy_string(&dst->url, src->url) |
             copy_string(&dst->ca_cert, src->ca_cert) | copy_string(&dst->user, src->user) |
             copy_string(&dst->password, src->password) | copy_string(&dst->source, src->source) |
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
    dst->sockets.upstream_nets = NULL;
    if (src->sockets.n_upstream_nets) {
        size_t bytes = src->sockets.n_upstream_nets * sizeof(*src->sockets.upstream_nets);
        dst->sockets.upstream_nets = malloc(bytes);
        if (dst->sockets.upstream_nets)
            memcpy(dst->sockets.upstream_nets, src->sockets.upstream_nets, bytes);
        else
            rc = -1;
    }
    if (!dst->sockets.upstream_nets)
        dst->sockets.n_upstream_nets = 0;
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

/* Every message of the core passes here: no credential reaches the front. */
static void redacting_emit(void *ctx, enum mm_log_level level, const char *message)
{
    struct mm_instance *inst = ctx;
    if (!inst->front_log.emit)
        return;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", message);
    mm_redact(&inst->redactor, buf, sizeof(buf));
    inst->front_log.emit(inst->front_log.ctx, level, buf);
}

int mm_instance_init(struct mm_instance *inst, struct mm_instance_config *cfg,
                     const struct mm_logger *log)
{
    memset(inst, 0, sizeof(*inst));
    inst->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    inst->cancel_fd = -1;
    mm_redactor_init(&inst->redactor);
    inst->log = (struct mm_logger){ redacting_emit, inst };
    if (log)
        inst->front_log = *log;
    if ((!inst->cfg.name && mm_config_set_string(&inst->cfg.name, MM_DEFAULT_INSTANCE) != 0) ||
        (!inst->cfg.url && mm_config_set_string(&inst->cfg.url, MM_HTTP_DEFAULT_URL) != 0) ||
        mm_redactor_add_credentials(&inst->redactor, inst->cfg.url, inst->cfg.user, inst->cfg.password) != 0) {
        mm_log(&inst->log, MM_LOG_ERROR, "out of memory");
        return -1;
    }
    mm_http_init(&inst->http);
    mm_snapshot_init(&inst->snap);
    mm_events_state_init(&inst->events_state);
    if (inst->cfg.source && strcmp(inst->cfg.source, "auto") != 0) {
        inst->source = mm_source_by_name(inst->cfg.source);
        if (!inst->source) { /* the option table refuses it when set */
            mm_log(&inst->log, MM_LOG_ERROR, "unknown page format '%s'", inst->cfg.source);
            return -1;
        }
        inst->source_fixed = true;
    }
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
    if (inst->source && inst->source_state_ready)
        inst->source->free(inst->source_state);
    mm_http_free(&inst->http);
    mm_snapshot_free(&inst->snap);
    mm_instance_config_free(&inst->cfg);
    mm_redactor_free(&inst->redactor);
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

/* The front asked to stop (its cancel descriptor is readable). */
static bool cancelled(const struct mm_instance *inst)
{
    if (inst->cancel_fd < 0)
        return false;
    struct pollfd pfd = { .fd = inst->cancel_fd, .events = POLLIN };
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

/* Latch kind of a body that is not a page of the source (beside mm_http_get's kinds). */
#define STATS_FAIL_NOT_PAGE 3000

/* The source for this body: the configured one, else the one most sure of
 * it, else the last one used (whose parser then says what is wrong). A
 * change of source gets a fresh state. */
static const struct mm_source_ops *pick_source(struct mm_instance *inst, char *err, size_t err_len)
{
    const struct mm_source_ops *ops = inst->source;
    if (!inst->source_fixed) {
        ops = mm_source_detect(inst->http.body, inst->http.len, inst->http.content_type);
        if (!ops)
            ops = inst->source ? inst->source : mm_source_at(0);
    }
    if (ops == inst->source && inst->source_state_ready)
        return ops;
    if (inst->source && inst->source_state_ready)
        inst->source->free(inst->source_state);
    inst->source_state = NULL;
    inst->source_state_ready = false;
    inst->source = ops;
    struct mm_source_config cfg = { .max_secrets = inst->cfg.max_secrets };
    if (ops->init(&inst->source_state, &cfg, err, err_len) != 0)
        return NULL;
    inst->source_state_ready = true;
    return ops;
}

/* Fetch and parse the page; returns 1 when it was read (up). */
static int gather_page(struct mm_instance *inst, char *down_reason, size_t reason_len)
{
    struct mm_http_options opt;
    http_options(&inst->cfg, &opt);
    opt.cancel_fd = inst->cancel_fd;
    char err[MM_LATCH_MESSAGE_MAX - 64];
    int failure = mm_http_get(&inst->http, &opt, err, sizeof(err));
    if (failure) {
        /* here, where libcurl's text ends: a secret it cut is a prefix at the end (issue 25) */
        mm_redact(&inst->redactor, err, sizeof(err));
        mm_latch_fail_kind(&inst->stats_latch, &inst->log, MM_LOG_ERROR, failure, "cannot read stats: %s", err);
        snprintf(down_reason, reason_len, "%s", err);
        mm_redact(&inst->redactor, down_reason, reason_len);
        return 0;
    }

    char url[256];
    mm_http_redact_url(inst->cfg.url, url, sizeof(url));
    char why[200];
    const struct mm_source_ops *ops = pick_source(inst, why, sizeof(why));
    if (!ops) {
        if (snprintf(err, sizeof(err), "%s: source %s: %s", url, inst->source->name, why) >= (int)sizeof(err))
            err[sizeof(err) - 2] = '~'; /* cut */
        mm_latch_fail_kind(&inst->stats_latch, &inst->log, MM_LOG_ERROR, STATS_FAIL_NOT_PAGE,
                           "cannot read stats: %s", err);
        snprintf(down_reason, reason_len, "%s", err);
        return 0;
    }
    /* A wrong Content-Type alone does not cost the metrics: the body decides,
     * and the type is named when the body is not a page. */
    char type_note[96] = "";
    if (!mm_http_is_text_plain(&inst->http))
        snprintf(type_note, sizeof(type_note), ", Content-Type '%s'", inst->http.content_type);
    struct mm_parse_result res;
    memset(&res, 0, sizeof(res));
    mm_snapshot_set_page(&inst->snap, &ops->page);
    if (ops->parse(inst->source_state, inst->http.body, inst->http.len, &inst->snap, &inst->facts, &res) != 0) {
        snprintf(err, sizeof(err), "%s: not %s (%s%s)", url, ops->what, res.first_error, type_note);
        mm_latch_fail_kind(&inst->stats_latch, &inst->log, MM_LOG_ERROR, STATS_FAIL_NOT_PAGE,
                           "cannot read stats: %s", err);
        snprintf(down_reason, reason_len, "%s", err);
        mm_redact(&inst->redactor, down_reason, reason_len);
        return 0;
    }
    mm_latch_ok(&inst->stats_latch, &inst->log, "stats page");
    if (inst->facts.implementation[0])
        mm_snapshot_add_text(&inst->snap, MM_ORIGIN_HEALTH, "implementation", inst->facts.implementation);
    if (res.skipped)
        mm_latch_fail(&inst->parse_latch, &inst->log, MM_LOG_WARNING,
                      "%s: skipped %u malformed line(s), first: %s", url, res.skipped, res.first_error);
    else
        mm_latch_ok(&inst->parse_latch, &inst->log, "stats parsing");
    mm_snapshot_add_int(&inst->snap, MM_ORIGIN_HEALTH, MM_GAUGE, "stats_lines_skipped", res.skipped);
    return 1;
}

void mm_instance_gather(struct mm_instance *inst)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    inst->gathered_at_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    mm_snapshot_reset(&inst->snap);
    memset(&inst->facts, 0, sizeof(inst->facts));

    char down_reason[MM_LATCH_MESSAGE_MAX] = "";
    double started = monotonic_seconds();
    int up = gather_page(inst, down_reason, sizeof(down_reason));
    double took = monotonic_seconds() - started;
    if (!up) {
        inst->scrape_errors++;
        memset(&inst->facts, 0, sizeof(inst->facts)); /* nothing half-read counts */
    }

    mm_snapshot_add_int(&inst->snap, MM_ORIGIN_HEALTH, MM_GAUGE, "up", up);
    mm_snapshot_add_double(&inst->snap, MM_ORIGIN_HEALTH, MM_GAUGE, "scrape_duration_seconds", took);
    mm_snapshot_add_int(&inst->snap, MM_ORIGIN_HEALTH, MM_COUNTER, "scrape_errors", inst->scrape_errors);
    if (cancelled(inst)) { /* the front is stopping: the rest would not be printed */
        mm_events_update(&inst->events_state, &inst->events, up, down_reason, &inst->facts, NULL);
        return;
    }

    /* Independent of the page: a proxy whose page is down may still run (and
     * cost the host); its pid, when the page gave one, is a hint. */
    struct mm_master_identity master = { 0 };
    if (inst->process_ready) {
        /* Known after the first page read: its processes' default names. */
        mm_process_set_implementation(&inst->process, inst->facts.implementation, &inst->log);
        mm_process_gather(&inst->process, inst->facts.pid, &inst->snap, &inst->log);
        master = (struct mm_master_identity){ 1, mm_process_master_pid(&inst->process),
                                              mm_process_restarts(&inst->process) };
    }
    mm_events_update(&inst->events_state, &inst->events, up, down_reason, &inst->facts, &master);

    /* The socket table, filtered in the kernel to the proxy's ports; the
     * ports it listens on come from the processes just found. */
    if (inst->sockets_ready) {
        int pids[256];
        struct mm_sockets_proxy proxy = {pids, 0, inst->stats_port, NULL, 0};
        struct mm_proxy_cmdline cmdline;
        if (inst->process_ready) {
            proxy.n_pids = mm_process_pids(&inst->process, pids, 256);
            /* Readable by any user, unlike a privilege-dropping proxy's fds. */
            if (mm_process_master_cmdline(&inst->process, &cmdline) == 0) {
                proxy.cmdline_ports = cmdline.client_ports;
                proxy.n_cmdline_ports = cmdline.n_client_ports;
            }
        }
        mm_sockets_gather(&inst->sockets, &inst->cfg.sockets, &proxy, &inst->snap, &inst->log);
    }

    if (inst->snap.dropped)
        mm_latch_fail(&inst->drop_latch, &inst->log, MM_LOG_WARNING,
                      "%zu metric(s) dropped (a value its family's type cannot hold, or more than %d families)",
                      inst->snap.dropped, MM_FAMILY_MAX);
    else
        mm_latch_ok(&inst->drop_latch, &inst->log, "metrics");
}
