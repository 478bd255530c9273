/* page_part.c — the proxy's own page: fetched over HTTP, its format picked
 * (the Source option, else detected from the body), parsed into page keys,
 * summary and facts; plus the health metrics of the scrape (up, duration,
 * errors). See part.h for the contract. */
#include "gather/part.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gather/instance.h"
#include "sources/source.h"
#include "transport/http_fetch.h"

/* Latch kind of a body that is not a page of the source (beside mm_http_get's kinds). */
#define STATS_FAIL_NOT_PAGE 3000

struct page_part {
    const struct mm_instance_config *cfg;
    struct mm_http http;
    /* the page's format: fixed by the Source option, else the last detected */
    const struct mm_source_ops *source;
    void *source_state;
    bool source_state_ready; /* init done for source */
    bool source_fixed;
    struct mm_error_latch stats_latch;
    struct mm_error_latch parse_latch;
    int64_t scrape_errors; /* failed scrapes since the agent started */
};

static int page_init(void **state, const struct mm_instance_config *cfg, const struct mm_logger *log)
{
    struct page_part *p = calloc(1, sizeof(*p));
    if (!p) {
        mm_log(log, MM_LOG_ERROR, "out of memory");
        return -1;
    }
    p->cfg = cfg;
    mm_http_init(&p->http);
    if (cfg->source && strcmp(cfg->source, "auto") != 0) {
        p->source = mm_source_by_name(cfg->source);
        if (!p->source) { /* the option table refuses it when set */
            mm_log(log, MM_LOG_ERROR, "unknown page format '%s'", cfg->source);
            mm_http_free(&p->http);
            free(p);
            return -1;
        }
        p->source_fixed = true;
    }
    *state = p;
    return 0;
}

static void page_free(void *state)
{
    struct page_part *p = state;
    if (!p)
        return;
    if (p->source && p->source_state_ready)
        p->source->free(p->source_state);
    mm_http_free(&p->http);
    free(p);
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

/* The source for this body: the configured one, else the one most sure of
 * it, else the last one used (whose parser then says what is wrong). A
 * change of source gets a fresh state. */
static const struct mm_source_ops *pick_source(struct page_part *p, char *err, size_t err_len)
{
    const struct mm_source_ops *ops = p->source;
    if (!p->source_fixed) {
        ops = mm_source_detect(p->http.body, p->http.len, p->http.content_type);
        if (!ops)
            ops = p->source ? p->source : mm_source_at(0);
    }
    if (ops == p->source && p->source_state_ready)
        return ops;
    if (p->source && p->source_state_ready)
        p->source->free(p->source_state);
    p->source_state = NULL;
    p->source_state_ready = false;
    p->source = ops;
    struct mm_source_config cfg = { .max_secrets = p->cfg->max_secrets };
    if (ops->init(&p->source_state, &cfg, err, err_len) != 0)
        return NULL;
    p->source_state_ready = true;
    return ops;
}

/* The page is down: the reason goes to the log once and to the events. */
static int page_down(struct page_part *p, struct mm_gather_ctx *ctx, int kind, const char *reason)
{
    mm_latch_fail_kind(&p->stats_latch, ctx->log, MM_LOG_ERROR, kind, "cannot read stats: %s", reason);
    snprintf(ctx->down_reason, sizeof(ctx->down_reason), "%s", reason);
    mm_redact(ctx->redactor, ctx->down_reason, sizeof(ctx->down_reason));
    return 0;
}

/* Fetch and parse the page; returns 1 when it was read (up). */
static int read_page(struct page_part *p, struct mm_gather_ctx *ctx)
{
    struct mm_http_options opt;
    http_options(p->cfg, &opt);
    opt.cancel_fd = ctx->cancel_fd;
    char err[MM_LATCH_MESSAGE_MAX - 64];
    int failure = mm_http_get(&p->http, &opt, err, sizeof(err));
    if (failure) {
        /* here, where libcurl's text ends: a secret it cut is a prefix at the end */
        mm_redact(ctx->redactor, err, sizeof(err));
        return page_down(p, ctx, failure, err);
    }

    char url[256];
    mm_http_redact_url(p->cfg->url, url, sizeof(url));
    char why[200];
    const struct mm_source_ops *ops = pick_source(p, why, sizeof(why));
    if (!ops) {
        if (snprintf(err, sizeof(err), "%s: source %s: %s", url, p->source->name, why) >= (int)sizeof(err))
            err[sizeof(err) - 2] = '~'; /* cut */
        return page_down(p, ctx, STATS_FAIL_NOT_PAGE, err);
    }
    /* A wrong Content-Type alone does not cost the metrics: the body decides,
     * and the type is named when the body is not a page. */
    char type_note[96] = "";
    if (!mm_http_is_text_plain(&p->http))
        snprintf(type_note, sizeof(type_note), ", Content-Type '%s'", p->http.content_type);
    struct mm_parse_result res;
    memset(&res, 0, sizeof(res));
    mm_snapshot_set_page(ctx->snap, &ops->page);
    if (ops->parse(p->source_state, p->http.body, p->http.len, ctx->snap, &ctx->facts, &res) != 0) {
        snprintf(err, sizeof(err), "%s: not %s (%s%s)", url, ops->what, res.first_error, type_note);
        return page_down(p, ctx, STATS_FAIL_NOT_PAGE, err);
    }
    mm_latch_ok(&p->stats_latch, ctx->log, "stats page");
    if (ctx->facts.implementation[0])
        mm_snapshot_add_text(ctx->snap, MM_ORIGIN_HEALTH, "implementation", ctx->facts.implementation);
    if (res.skipped)
        mm_latch_fail(&p->parse_latch, ctx->log, MM_LOG_WARNING, "%s: skipped %u malformed line(s), first: %s",
                      url, res.skipped, res.first_error);
    else
        mm_latch_ok(&p->parse_latch, ctx->log, "stats parsing");
    mm_snapshot_add_int(ctx->snap, MM_ORIGIN_HEALTH, MM_GAUGE, "stats_lines_skipped", res.skipped);
    return 1;
}

static void page_gather(void *state, struct mm_gather_ctx *ctx)
{
    struct page_part *p = state;
    double started = monotonic_seconds();
    ctx->up = read_page(p, ctx);
    double took = monotonic_seconds() - started;
    if (!ctx->up) {
        p->scrape_errors++;
        memset(&ctx->facts, 0, sizeof(ctx->facts)); /* nothing half-read counts */
    }
    mm_snapshot_add_int(ctx->snap, MM_ORIGIN_HEALTH, MM_GAUGE, "up", ctx->up);
    mm_snapshot_add_double(ctx->snap, MM_ORIGIN_HEALTH, MM_GAUGE, "scrape_duration_seconds", took);
    mm_snapshot_add_int(ctx->snap, MM_ORIGIN_HEALTH, MM_COUNTER, "scrape_errors", p->scrape_errors);
}

const struct mm_part_ops mm_page_part = { "page", page_init, page_gather, page_free };
