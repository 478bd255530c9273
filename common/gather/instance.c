/* instance.c — one gather of one proxy (see instance.h). */
#include "gather/instance.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet/fleet.h"
#include "gather/part.h"
#include "transport/http_fetch.h"

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
    mm_fleet_config_defaults(&cfg->fleet);
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
    mm_fleet_config_free(&cfg->fleet);
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
             copy_string(&dst->sockets.state_file, src->sockets.state_file) |
             mm_fleet_config_copy(&dst->fleet, &src->fleet);
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
    return mm_fleet_config_check(&cfg->fleet, err, err_len);
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

int mm_instance_init_parts(struct mm_instance *inst, struct mm_instance_config *cfg, const struct mm_logger *log,
                           const struct mm_part_ops *const *parts, size_t n_parts)
{
    memset(inst, 0, sizeof(*inst));
    inst->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    inst->cancel_fd = -1;
    mm_redactor_init(&inst->redactor);
    inst->log = (struct mm_logger){ redacting_emit, inst };
    if (log)
        inst->front_log = *log;
    mm_snapshot_init(&inst->snap);
    mm_events_state_init(&inst->events_state);
    if ((!inst->cfg.name && mm_config_set_string(&inst->cfg.name, MM_DEFAULT_INSTANCE) != 0) ||
        (!inst->cfg.url && mm_config_set_string(&inst->cfg.url, MM_HTTP_DEFAULT_URL) != 0) ||
        mm_redactor_add_credentials(&inst->redactor, inst->cfg.url, inst->cfg.user, inst->cfg.password) != 0) {
        mm_log(&inst->log, MM_LOG_ERROR, "out of memory");
        return -1;
    }
    inst->stats_port = mm_http_url_port(inst->cfg.url);
    /* A proxy whose command line names another stats port is not this one. */
    inst->cfg.process.stats_port = inst->stats_port;
    if (n_parts > MM_INSTANCE_MAX_PARTS) {
        mm_log(&inst->log, MM_LOG_ERROR, "%zu parts: at most %d", n_parts, MM_INSTANCE_MAX_PARTS);
        return -1;
    }
    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i]->init(&inst->part_state[inst->n_parts], &inst->cfg, &inst->log) != 0)
            return -1;
        inst->parts[inst->n_parts++] = parts[i];
    }
    /* after the sockets part: the fleet hooks into the addresses it counts */
    return mm_fleet_attach(&inst->fleet, &inst->cfg.fleet, inst->cfg.sockets.max_countries, &inst->redactor,
                           &inst->log, mm_sockets_part_state(inst));
}

int mm_instance_init(struct mm_instance *inst, struct mm_instance_config *cfg,
                     const struct mm_logger *log)
{
    const struct mm_part_ops *parts[MM_INSTANCE_MAX_PARTS];
    size_t n = 0;
    parts[n++] = &mm_page_part;
    if (cfg->collect_process)
        parts[n++] = &mm_process_part;
    if (cfg->collect_sockets)
        parts[n++] = &mm_sockets_part;
    return mm_instance_init_parts(inst, cfg, log, parts, n);
}

void mm_instance_free(struct mm_instance *inst)
{
    mm_fleet_detach(&inst->fleet, mm_sockets_part_state(inst));
    while (inst->n_parts > 0) { /* the reverse of init */
        inst->n_parts--;
        inst->parts[inst->n_parts]->free(inst->part_state[inst->n_parts]);
    }
    mm_snapshot_free(&inst->snap);
    mm_instance_config_free(&inst->cfg);
    mm_redactor_free(&inst->redactor);
}

/* The front asked to stop (its cancel descriptor is readable). */
static bool cancelled(const struct mm_instance *inst)
{
    if (inst->cancel_fd < 0)
        return false;
    struct pollfd pfd = { .fd = inst->cancel_fd, .events = POLLIN };
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

void mm_instance_gather(struct mm_instance *inst)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    inst->gathered_at_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    mm_snapshot_reset(&inst->snap);

    struct mm_gather_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.snap = &inst->snap;
    ctx.log = &inst->log;
    ctx.redactor = &inst->redactor;
    ctx.cancel_fd = inst->cancel_fd;
    ctx.stats_port = inst->stats_port;
    ctx.implementation = inst->implementation;
    for (size_t i = 0; i < inst->n_parts; i++) {
        inst->parts[i]->gather(inst->part_state[i], &ctx);
        if (ctx.facts.implementation[0]) /* for the parts after the page's */
            snprintf(inst->implementation, sizeof(inst->implementation), "%s", ctx.facts.implementation);
        if (cancelled(inst)) /* the front is stopping: the rest would not be printed */
            break;
    }
    if (!cancelled(inst))
        mm_fleet_gather(inst->fleet, &inst->snap, &inst->log);
    inst->facts = ctx.facts;
    mm_events_update(&inst->events_state, &inst->events, ctx.up, ctx.down_reason, &inst->facts,
                     ctx.master.known ? &ctx.master : NULL);

    if (inst->snap.dropped)
        mm_latch_fail(&inst->drop_latch, &inst->log, MM_LOG_WARNING,
                      "%zu metric(s) dropped (a value its family's type cannot hold, or more than %d families)",
                      inst->snap.dropped, MM_FAMILY_MAX);
    else
        mm_latch_ok(&inst->drop_latch, &inst->log, "metrics");
}
