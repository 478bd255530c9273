/* test_implementations.c — every implementation's page through Source auto:
 * the right source and implementation, page keys under the implementation's
 * measurement with their kinds and labels, the summary family equal to the
 * page's own figures (per secret too), absent where the implementation has
 * no such figure, and MaxSecrets folding the rest into "other". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/metric.h"
#include "sources/source.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

struct page {
    char *raw;
    const char *body;
    size_t len;
    char content_type[128];
};

/* A fixture: a `curl -i` capture (headers give the Content-Type) or a body. */
static int load(struct page *p, const char *path, const char *content_type)
{
    size_t n;
    memset(p, 0, sizeof(*p));
    p->raw = read_file(path, &n);
    if (!p->raw)
        return -1;
    p->body = p->raw;
    snprintf(p->content_type, sizeof(p->content_type), "%s", content_type ? content_type : "text/plain");
    if (strncmp(p->raw, "HTTP/", 5) == 0) {
        const char *ct = strstr(p->raw, "Content-Type: ");
        const char *b = strstr(p->raw, "\r\n\r\n");
        if (!b)
            return -1;
        if (ct && ct < b)
            snprintf(p->content_type, sizeof(p->content_type), "%.*s", (int)strcspn(ct + 14, "\r"), ct + 14);
        p->body = b + 4;
    }
    p->len = strlen(p->body);
    return 0;
}

struct run {
    const struct mm_source_ops *ops;
    void *state;
    struct mm_snapshot snap;
    struct mm_source_facts facts;
    struct mm_parse_result res;
    int rc;
};

static void run_init(struct run *r, const struct mm_source_ops *ops, unsigned max_secrets)
{
    memset(r, 0, sizeof(*r));
    r->ops = ops;
    mm_snapshot_init(&r->snap);
    struct mm_source_config cfg = { .max_secrets = max_secrets };
    char err[128];
    CHECK(ops && ops->init(&r->state, &cfg, err, sizeof(err)) == 0);
}

static void run_parse(struct run *r, const char *body, size_t len)
{
    mm_snapshot_reset(&r->snap);
    memset(&r->facts, 0, sizeof(r->facts));
    memset(&r->res, 0, sizeof(r->res));
    mm_snapshot_set_page(&r->snap, &r->ops->page);
    r->rc = r->ops->parse(r->state, body, len, &r->snap, &r->facts, &r->res);
}

static void run_free(struct run *r)
{
    if (r->ops)
        r->ops->free(r->state);
    mm_snapshot_free(&r->snap);
}

/* Source auto on a fixture, then one parse. */
static void auto_run(struct run *r, struct page *p, const char *path, const char *want_source, unsigned max_secrets)
{
    CHECK(load(p, path, NULL) == 0);
    const struct mm_source_ops *ops = mm_source_detect(p->body, p->len, p->content_type);
    if (!ops || strcmp(ops->name, want_source) != 0) {
        printf("#   %s: detected %s, expected %s\n", path, ops ? ops->name : "none", want_source);
        CHECK(0);
        ops = mm_source_by_name(want_source);
    }
    run_init(r, ops, max_secrets);
    run_parse(r, p->body, p->len);
    CHECK_INT_EQ(r->rc, 0);
}

static const struct mm_metric *summary(const struct run *r, const char *field, const char *secret)
{
    const struct mm_metric *m = mm_snapshot_find(&r->snap, MM_ORIGIN_SUMMARY, field);
    for (; m; m = mm_snapshot_next_of_family(&r->snap, m)) {
        const char *s = mm_metric_label(m, "secret");
        if ((!secret && !s) || (secret && s && strcmp(s, secret) == 0))
            return m;
    }
    return NULL;
}

/* want NAN: the field must be absent. */
static void expect_summary(const struct run *r, const char *field, const char *secret, double want)
{
    const struct mm_metric *m = summary(r, field, secret);
    if (isnan(want)) {
        if (m) {
            printf("#   summary %s{secret=%s} = %g, expected absent\n", field, secret ? secret : "", mm_metric_as_double(m));
            CHECK(0);
        }
        return;
    }
    if (!m || mm_metric_as_double(m) != want) {
        printf("#   summary %s{secret=%s} = %g, expected %g\n", field, secret ? secret : "",
               m ? mm_metric_as_double(m) : NAN, want);
        CHECK(0);
    }
}

static double page_value(const struct run *r, const char *name, const char *key, const char *value, int *found)
{
    const struct mm_metric *m = key ? mm_snapshot_find_labeled(&r->snap, MM_ORIGIN_PAGE, name, key, value)
                                    : mm_snapshot_find(&r->snap, MM_ORIGIN_PAGE, name);
    *found = m != NULL;
    return m ? mm_metric_as_double(m) : NAN;
}

#define ABSENT NAN

static void official_stats(void)
{
    struct page p;
    struct run r;
    auto_run(&r, &p, "tests/fixtures/stats-upstream-with-clients-M2.txt", "mtproxy-stats", 0);
    CHECK(strcmp(r.facts.implementation, "mtproxy") == 0);
    CHECK(strcmp(r.snap.page.measurement, "mtproxy_stats") == 0);
    expect_summary(&r, "clients", NULL, 35);
    expect_summary(&r, "upstream_ready", NULL, 5);
    expect_summary(&r, "uptime_seconds", NULL, 14);
    const char *absent[] = { "connections_accepted", "bytes_from_clients", "bytes_to_clients", "bytes_to_telegram",
                             "bytes_from_telegram", "handshake_failures", "unique_ips" };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        expect_summary(&r, absent[i], NULL, ABSENT);
    CHECK(mm_snapshot_find(&r.snap, MM_ORIGIN_SUMMARY, "clients")->type == MM_INT);
    CHECK(mm_snapshot_find(&r.snap, MM_ORIGIN_SUMMARY, "uptime_seconds")->type == MM_DOUBLE);
    run_free(&r);
    free(p.raw);
}

static void teleproxy_stats(void)
{
    struct page p;
    struct run r;
    auto_run(&r, &p, "tests/fixtures/peers/teleproxy/stats-loaded.txt", "teleproxy-stats", 0);
    CHECK(strcmp(r.facts.implementation, "teleproxy") == 0);
    /* its empty config_md5 and its accept_ip_acl_rejected printed twice are not errors */
    CHECK_INT_EQ(r.res.skipped, 0);
    CHECK(strcmp(r.snap.page.measurement, "teleproxy_stats") == 0);
    CHECK_INT_EQ(r.facts.pid, 11693);
    CHECK_INT_EQ(r.facts.start_time, 1796019913);
    int found;
    /* secret_<label>_<what> -> secret_<what>{secret=<label>}, typed */
    CHECK_INT_EQ(page_value(&r, "secret_connections", "secret", "alice", &found), 3);
    CHECK(found);
    CHECK_INT_EQ(page_value(&r, "secret_bytes_total", "secret", "bob", &found), 304);
    CHECK_INT_EQ(page_value(&r, "secret_limit", "secret", "bob", &found), 100);
    page_value(&r, "secret_limit", "secret", "alice", &found);
    CHECK(!found);
    page_value(&r, "secret_alice_connections", NULL, NULL, &found);
    CHECK(!found); /* no flat key left */
    const struct mm_metric *m = mm_snapshot_find(&r.snap, MM_ORIGIN_PAGE, "secret_connections_created");
    CHECK(m && m->kind == MM_COUNTER && m->type == MM_INT);
    m = mm_snapshot_find(&r.snap, MM_ORIGIN_PAGE, "secret_connections");
    CHECK(m && m->kind == MM_GAUGE);
    m = mm_snapshot_find(&r.snap, MM_ORIGIN_PAGE, "secret_rejected_ips");
    CHECK(m && m->kind == MM_COUNTER);
    m = mm_snapshot_find(&r.snap, MM_ORIGIN_PAGE, "secret_draining");
    CHECK(m && m->kind == MM_GAUGE);
    /* dc<N>_probe_<what> -> dc_probe_<what>{dc=N} */
    CHECK(page_value(&r, "dc_probe_latency_last", "dc", "3", &found) == 0.000083 && found);
    m = mm_snapshot_find(&r.snap, MM_ORIGIN_PAGE, "dc_probe_failures");
    CHECK(m && m->kind == MM_COUNTER && m->type == MM_INT);
    /* the summary: all client connections (9) from total_special_connections,
     * per secret from secret_*; --direct: no upstream_ready */
    expect_summary(&r, "clients", NULL, 9);
    expect_summary(&r, "clients", "alice", 3);
    expect_summary(&r, "clients", "bob", 2);
    expect_summary(&r, "connections_accepted", NULL, 5);
    expect_summary(&r, "connections_accepted", "alice", 3);
    expect_summary(&r, "upstream_ready", NULL, ABSENT);
    expect_summary(&r, "uptime_seconds", NULL, 10);
    expect_summary(&r, "bytes_from_clients", NULL, ABSENT);
    expect_summary(&r, "unique_ips", "alice", ABSENT);
    run_free(&r);
    free(p.raw);

    /* not in --direct mode: ready_targets is the upstream */
    CHECK(load(&p, "tests/fixtures/peers/teleproxy/stats-loaded.txt", NULL) == 0);
    char *copy = strdup(p.body);
    char *dm = copy ? strstr(copy, "\ndirect_mode\t1") : NULL;
    CHECK(dm != NULL);
    if (dm) {
        dm[strlen("\ndirect_mode\t")] = '0';
        run_init(&r, mm_source_by_name("teleproxy-stats"), 0);
        run_parse(&r, copy, strlen(copy));
        expect_summary(&r, "upstream_ready", NULL, 0);
        run_free(&r);
    }
    free(copy);
    free(p.raw);
}

/* A page written from teleproxy's source rules (labels [A-Za-z0-9_-], the
 * optional per-secret keys): a dashed label is a secret like any other, and
 * quota, max_ips, expires, rate_limit and drain_age_seconds fold into
 * secret_<what>{secret=<label>}. */
static void teleproxy_stats_labels(void)
{
    struct page p;
    struct run r;
    auto_run(&r, &p, "tests/fixtures/peers/teleproxy/stats-labels.txt", "teleproxy-stats", 0);
    if (r.res.skipped)
        printf("#   skipped %u: %s\n", (unsigned)r.res.skipped, r.res.first_error);
    CHECK_INT_EQ(r.res.skipped, 0);
    int found;
    CHECK_INT_EQ(page_value(&r, "secret_connections", "secret", "bob-eu", &found), 2);
    CHECK(found);
    CHECK_INT_EQ(page_value(&r, "secret_limit", "secret", "bob-eu", &found), 100);
    CHECK_INT_EQ(page_value(&r, "secret_connections_created", "secret", "old-key_1", &found), 4);
    CHECK_INT_EQ(page_value(&r, "secret_drain_age_seconds", "secret", "old-key_1", &found), 42);
    CHECK(found);
    CHECK_INT_EQ(page_value(&r, "secret_quota", "secret", "alice", &found), 10737418240.0);
    CHECK_INT_EQ(page_value(&r, "secret_max_ips", "secret", "alice", &found), 5);
    CHECK_INT_EQ(page_value(&r, "secret_expires", "secret", "alice", &found), 1798675200);
    CHECK_INT_EQ(page_value(&r, "secret_rate_limit", "secret", "alice", &found), 1048576);
    CHECK(found);
    const char *flat[] = { "secret_alice_quota", "secret_alice_max_ips", "secret_alice_expires",
                           "secret_alice_rate_limit", "secret_old-key_1_drain_age_seconds" };
    for (size_t i = 0; i < sizeof(flat) / sizeof(flat[0]); i++) {
        page_value(&r, flat[i], NULL, NULL, &found);
        CHECK(!found);
    }
    const struct mm_metric *m = mm_snapshot_find(&r.snap, MM_ORIGIN_PAGE, "secret_quota");
    CHECK(m && m->kind == MM_GAUGE && m->type == MM_INT);
    expect_summary(&r, "clients", "bob-eu", 2);
    expect_summary(&r, "connections_accepted", NULL, 9); /* 3 + 2 + 4: none lost to the dash */
    expect_summary(&r, "connections_accepted", "old-key_1", 4);
    expect_summary(&r, "unique_ips", "alice", 2); /* it has max_ips */
    expect_summary(&r, "unique_ips", "bob-eu", ABSENT);
    run_free(&r);
    free(p.raw);

    /* the official page knows no dashed key */
    const char *official = "pid\t1\ntotal_special_connections\t2\nbad-key\t3\n";
    run_init(&r, mm_source_by_name("mtproxy-stats"), 0);
    run_parse(&r, official, strlen(official));
    CHECK_INT_EQ(r.res.skipped, 1);
    run_free(&r);
}

static void teleproxy_metrics(void)
{
    struct page p;
    struct run r;
    auto_run(&r, &p, "tests/fixtures/peers/teleproxy/metrics-loaded.txt", "prometheus", 0);
    CHECK(strcmp(r.facts.implementation, "teleproxy") == 0);
    CHECK(strcmp(r.snap.page.measurement, "teleproxy") == 0);
    int found;
    /* names without the prefix, labels kept, kinds from TYPE */
    CHECK(page_value(&r, "secret_bytes_received_total", "secret", "alice", &found) == 132 && found);
    const struct mm_metric *m = mm_snapshot_find(&r.snap, MM_ORIGIN_PAGE, "secret_bytes_received_total");
    CHECK(m && m->kind == MM_COUNTER);
    m = mm_snapshot_find_labeled(&r.snap, MM_ORIGIN_PAGE, "dc_latency_seconds_bucket", "le", "+Inf");
    CHECK(m && m->kind == MM_COUNTER && mm_metric_as_double(m) == 2 && mm_metric_label(m, "dc"));
    page_value(&r, "teleproxy_uptime_seconds", NULL, NULL, &found);
    CHECK(!found);
    expect_summary(&r, "clients", NULL, 5);
    expect_summary(&r, "clients", "alice", 3);
    expect_summary(&r, "clients", "bob", 2);
    expect_summary(&r, "bytes_from_clients", "alice", 132);
    expect_summary(&r, "bytes_to_clients", "alice", 324);
    expect_summary(&r, "bytes_from_clients", NULL, 220);
    expect_summary(&r, "bytes_to_clients", NULL, 540);
    expect_summary(&r, "connections_accepted", "bob", 2);
    expect_summary(&r, "uptime_seconds", NULL, 10);
    /* unique IPs only where a secret has an IP limit (none here) */
    expect_summary(&r, "unique_ips", "alice", ABSENT);
    expect_summary(&r, "upstream_ready", NULL, ABSENT);
    expect_summary(&r, "handshake_failures", NULL, ABSENT);
    run_free(&r);
    free(p.raw);
}

static void mtprotoproxy_metrics(void)
{
    struct page p;
    struct run r;
    auto_run(&r, &p, "tests/fixtures/peers/mtprotoproxy/metrics-loaded.txt", "prometheus", 0);
    CHECK(strcmp(r.facts.implementation, "mtprotoproxy") == 0);
    CHECK(strcmp(r.snap.page.measurement, "mtprotoproxy") == 0);
    int found;
    CHECK(page_value(&r, "connects_by_duration", "bucket", "1800-+Inf", &found) == 0 && found);
    expect_summary(&r, "clients", NULL, 5);
    expect_summary(&r, "clients", "alice", 3);
    expect_summary(&r, "clients", "bob", 2);
    expect_summary(&r, "connections_accepted", NULL, 9);
    expect_summary(&r, "bytes_from_clients", "alice", 132);
    expect_summary(&r, "bytes_to_clients", "alice", 324);
    expect_summary(&r, "handshake_failures", NULL, 2);
    expect_summary(&r, "uptime_seconds", NULL, 8.76612639427185);
    expect_summary(&r, "unique_ips", NULL, ABSENT);
    expect_summary(&r, "upstream_ready", NULL, ABSENT);
    run_free(&r);
    free(p.raw);
}

/* METRICS_PREFIX set to something else, or to nothing */
static void mtprotoproxy_custom_prefix(void)
{
    const char *pages[] = { "mp_uptime 3.5\nmp_connects_bad 1\nmp_connects_all 4\nmp_handshake_timeouts 0\n"
                            "mp_user_connects_curr{user=\"a\"} 2\n",
                            "uptime 3.5\nconnects_bad 1\nconnects_all 4\nhandshake_timeouts 0\n"
                            "user_connects_curr{user=\"a\"} 2\n" };
    for (int i = 0; i < 2; i++) {
        struct run r;
        run_init(&r, mm_source_by_name("prometheus"), 0);
        run_parse(&r, pages[i], strlen(pages[i]));
        CHECK(strcmp(r.facts.implementation, "mtprotoproxy") == 0);
        expect_summary(&r, "clients", "a", 2);
        expect_summary(&r, "connections_accepted", NULL, 4);
        expect_summary(&r, "handshake_failures", NULL, 1);
        expect_summary(&r, "uptime_seconds", NULL, 3.5);
        int found;
        CHECK(page_value(&r, "connects_all", NULL, NULL, &found) == 4 && found);
        run_free(&r);
    }
}

static void mtg_metrics(void)
{
    struct page p;
    struct run r;
    auto_run(&r, &p, "tests/fixtures/peers/mtg/metrics-loaded.txt", "prometheus", 0);
    CHECK(strcmp(r.facts.implementation, "mtg") == 0);
    CHECK(strcmp(r.snap.page.measurement, "mtg") == 0);
    expect_summary(&r, "clients", NULL, 5);
    expect_summary(&r, "bytes_to_telegram", NULL, 12288);
    expect_summary(&r, "bytes_from_telegram", NULL, 1048576 + 65536);
    expect_summary(&r, "handshake_failures", NULL, 7);
    expect_summary(&r, "bytes_from_clients", NULL, ABSENT);
    expect_summary(&r, "uptime_seconds", NULL, ABSENT);
    expect_summary(&r, "upstream_ready", NULL, ABSENT);
    expect_summary(&r, "connections_accepted", NULL, ABSENT);
    run_free(&r);
    free(p.raw);

    /* OpenMetrics, custom prefix, labelled families not written yet */
    auto_run(&r, &p, "tests/fixtures/peers/mtg/metrics-openmetrics.txt", "prometheus", 0);
    CHECK(strcmp(r.facts.implementation, "mtg") == 0);
    int found;
    CHECK(page_value(&r, "replay_attacks_total", NULL, NULL, &found) == 0 && found);
    expect_summary(&r, "clients", NULL, 2);
    expect_summary(&r, "bytes_to_telegram", NULL, 880);
    expect_summary(&r, "bytes_from_telegram", NULL, 25000000);
    expect_summary(&r, "handshake_failures", NULL, 1);
    run_free(&r);
    free(p.raw);

    /* a fresh mtg: no client yet, so no labelled series at all: true zeros */
    const char *fresh = "# TYPE mtg_concurrency_limited counter\nmtg_concurrency_limited 0\n"
                        "# TYPE mtg_domain_fronting counter\nmtg_domain_fronting 0\n"
                        "# TYPE mtg_replay_attacks counter\nmtg_replay_attacks 0\n";
    run_init(&r, mm_source_by_name("prometheus"), 0);
    run_parse(&r, fresh, strlen(fresh));
    CHECK(strcmp(r.facts.implementation, "mtg") == 0);
    expect_summary(&r, "clients", NULL, 0);
    expect_summary(&r, "bytes_to_telegram", NULL, 0);
    expect_summary(&r, "handshake_failures", NULL, 0);
    run_free(&r);
}

static void telemt_metrics(void)
{
    struct page p;
    struct run r;
    auto_run(&r, &p, "tests/fixtures/peers/telemt/metrics-loaded.txt", "prometheus", 0);
    CHECK(strcmp(r.facts.implementation, "telemt") == 0);
    CHECK(strcmp(r.facts.version, "3.4.25") == 0);
    CHECK(strcmp(r.snap.page.measurement, "telemt") == 0);
    expect_summary(&r, "clients", NULL, 10);
    expect_summary(&r, "clients", "alice", 7);
    expect_summary(&r, "clients", "bob", 3);
    expect_summary(&r, "connections_accepted", NULL, 57);
    expect_summary(&r, "connections_accepted", "alice", 40);
    expect_summary(&r, "bytes_from_clients", NULL, 183204 + 5120);
    expect_summary(&r, "bytes_to_clients", "bob", 70311);
    expect_summary(&r, "handshake_failures", NULL, 6); /* timeouts stay raw */
    expect_summary(&r, "unique_ips", "alice", 2);
    expect_summary(&r, "unique_ips", "bob", 1);
    expect_summary(&r, "unique_ips", NULL, ABSENT); /* per-user counts do not add up */
    expect_summary(&r, "uptime_seconds", NULL, 3723.4);
    expect_summary(&r, "upstream_ready", NULL, ABSENT);
    run_free(&r);
    free(p.raw);
}

static void zig_metrics(void)
{
    struct page p;
    struct run r;
    auto_run(&r, &p, "tests/fixtures/peers/mtproto.zig/metrics-loaded.txt", "prometheus", 0);
    CHECK(strcmp(r.facts.implementation, "mtproto.zig") == 0);
    CHECK(strcmp(r.facts.version, "0.20.1") == 0);
    CHECK_INT_EQ(r.facts.start_time, 1796018400);
    CHECK(strcmp(r.snap.page.measurement, "mtproto_zig") == 0);
    int found;
    /* a name without the prefix stays as it is */
    CHECK(page_value(&r, "process_open_fds", NULL, NULL, &found) == 19 && found);
    expect_summary(&r, "clients", NULL, 5);
    expect_summary(&r, "clients", "alice", 4);
    expect_summary(&r, "connections_accepted", NULL, 42);
    expect_summary(&r, "bytes_from_clients", NULL, 880412);
    expect_summary(&r, "bytes_to_clients", "alice", 40000000);
    expect_summary(&r, "handshake_failures", NULL, 4);
    expect_summary(&r, "uptime_seconds", NULL, 1523);
    expect_summary(&r, "unique_ips", NULL, ABSENT);
    run_free(&r);
    free(p.raw);
}

/* An explicit Source overrides detection: mtg with a prefix it cannot guess. */
static void explicit_source_overrides(void)
{
    const char *page = "# TYPE x_client_connections gauge\nx_client_connections{ip_family=\"ipv4\"} 3\n";
    struct run r;
    run_init(&r, mm_source_by_name("prometheus"), 0);
    run_parse(&r, page, strlen(page));
    CHECK(strcmp(r.facts.implementation, "unknown") == 0);
    CHECK(strcmp(r.snap.page.measurement, "prometheus") == 0);
    expect_summary(&r, "clients", NULL, ABSENT);
    run_free(&r);
    run_init(&r, mm_source_by_name("mtg"), 0);
    run_parse(&r, page, strlen(page));
    CHECK(strcmp(r.facts.implementation, "mtg") == 0);
    CHECK(strcmp(r.snap.page.measurement, "mtg") == 0);
    run_free(&r);
    /* the forced sources are never picked by Source auto */
    CHECK(mm_source_by_name("mtg")->sniff(page, strlen(page), NULL) == 0);
    CHECK(mm_source_detect(page, strlen(page), NULL) == mm_source_by_name("prometheus"));
}

/* 100 users, MaxSecrets 3: three keep their series, 97 are summed as
 * "other", in the raw series and in the summary; the totals do not change;
 * the three keep their slots the next gather even in another order. */
static void max_secrets_fold_into_other(void)
{
    size_t cap = 200000, o = 0;
    char *page = malloc(cap);
    CHECK(page != NULL);
    if (!page)
        return;
    o += (size_t)snprintf(page + o, cap - o, "# TYPE mtprotoproxy_uptime counter\nmtprotoproxy_uptime 5\n"
                                             "mtprotoproxy_connects_bad 0\nmtprotoproxy_handshake_timeouts 0\n"
                                             "# TYPE mtprotoproxy_connects_all counter\nmtprotoproxy_connects_all 500\n"
                                             "# TYPE mtprotoproxy_user_connects_curr gauge\n");
    for (int u = 0; u < 100; u++)
        o += (size_t)snprintf(page + o, cap - o, "mtprotoproxy_user_connects_curr{user=\"u%02d\"} %d\n", u, u + 1);
    o += (size_t)snprintf(page + o, cap - o, "# TYPE mtprotoproxy_user_octets_from counter\n");
    for (int u = 0; u < 100; u++)
        o += (size_t)snprintf(page + o, cap - o, "mtprotoproxy_user_octets_from{user=\"u%02d\"} %d\n", u, 1000 * (u + 1));
    struct run r;
    run_init(&r, mm_source_by_name("prometheus"), 3);
    run_parse(&r, page, o);
    CHECK_INT_EQ(r.rc, 0);
    expect_summary(&r, "clients", NULL, 5050);
    expect_summary(&r, "clients", "u00", 1);
    expect_summary(&r, "clients", "u02", 3);
    expect_summary(&r, "clients", "u03", ABSENT);
    expect_summary(&r, "clients", "other", 5050 - 6);
    expect_summary(&r, "bytes_from_clients", "other", 1000 * (5050 - 6));
    size_t series = 0;
    for (const struct mm_metric *m = mm_snapshot_find(&r.snap, MM_ORIGIN_PAGE, "user_connects_curr"); m;
         m = mm_snapshot_next_of_family(&r.snap, m))
        series++;
    CHECK_INT_EQ(series, 4);
    int found;
    CHECK(page_value(&r, "user_connects_curr", "user", "other", &found) == 5050 - 6 && found);

    /* next gather: u99 first on the page, u01 gone */
    o = (size_t)snprintf(page, cap, "# TYPE mtprotoproxy_user_connects_curr gauge\n"
                                    "mtprotoproxy_user_connects_curr{user=\"u99\"} 7\n"
                                    "mtprotoproxy_user_connects_curr{user=\"u00\"} 1\n"
                                    "mtprotoproxy_user_connects_curr{user=\"u02\"} 2\n"
                                    "mtprotoproxy_user_connects_curr{user=\"u50\"} 4\n"
                                    "# TYPE mtprotoproxy_connects_all counter\nmtprotoproxy_connects_all 1\n"
                                    "# TYPE mtprotoproxy_uptime counter\nmtprotoproxy_uptime 6\n"
                                    "mtprotoproxy_connects_bad 0\nmtprotoproxy_handshake_timeouts 0\n");
    run_parse(&r, page, o);
    expect_summary(&r, "clients", "u00", 1);
    expect_summary(&r, "clients", "u02", 2);
    expect_summary(&r, "clients", "u99", ABSENT); /* u01's slot frees at the end of this gather */
    expect_summary(&r, "clients", "other", 11);
    run_parse(&r, page, o);
    expect_summary(&r, "clients", "u99", 7); /* ... and is taken the gather after */
    run_free(&r);
    free(page);
}

/* teleproxy /stats with many secrets: the same folding. */
static void max_secrets_teleproxy_stats(void)
{
    char page[16384];
    size_t o = (size_t)snprintf(page, sizeof(page), "pid\t1\nversion\tteleproxy-4.10.0\ntotal_special_connections\t60\n");
    for (int s = 0; s < 10; s++)
        o += (size_t)snprintf(page + o, sizeof(page) - o, "secret_k_%d_connections\t%d\nsecret_k_%d_rejected_ips\t1\n",
                              s, s + 1, s);
    /* newer teleproxy: its top TLS fingerprints, the key repeated */
    o += (size_t)snprintf(page + o, sizeof(page) - o,
                          "ja4_seen\tt13d1615h2_46e7e9700bed_45f260be83e2\t8\nja4_seen\tt13d1516h2_8daaf6152771_02713d6af862\t3\n");
    struct run r;
    run_init(&r, mm_source_by_name("teleproxy-stats"), 4);
    CHECK(mm_source_detect(page, o, "text/plain") == mm_source_by_name("teleproxy-stats"));
    run_parse(&r, page, o);
    CHECK_INT_EQ(r.rc, 0);
    CHECK_INT_EQ(r.res.skipped, 0);
    expect_summary(&r, "clients", "k_0", 1); /* a label with "_" in it */
    expect_summary(&r, "clients", "k_3", 4);
    expect_summary(&r, "clients", "other", 5 + 6 + 7 + 8 + 9 + 10);
    int found;
    CHECK(page_value(&r, "secret_rejected_ips", "secret", "other", &found) == 6 && found);
    expect_summary(&r, "clients", NULL, 60);
    CHECK(page_value(&r, "ja4_seen", "hash", "t13d1516h2_8daaf6152771_02713d6af862", &found) == 3 && found);
    run_free(&r);
}

/* Series the outputs cannot carry are counted, never mangled; NaN is not a number to report. */
static void hostile_series(void)
{
    const char *page = "# TYPE mtprotoproxy_uptime counter\nmtprotoproxy_uptime NaN\n"
                       "# TYPE mtprotoproxy_connects_all counter\nmtprotoproxy_connects_all +Inf\n"
                       "mtprotoproxy_connects_bad 0\nmtprotoproxy_handshake_timeouts 0\n"
                       "mtprotoproxy_user_connects_curr{user=\"a\\nb\"} 1\n"
                       "x{instance=\"other-host\",host=\"h\"} 2\n"
                       "y{a=\"1\",b=\"1\",c=\"1\",d=\"1\",e=\"1\",f=\"1\",g=\"1\",h=\"1\",i=\"1\"} 3\n";
    struct run r;
    run_init(&r, mm_source_by_name("prometheus"), 0);
    run_parse(&r, page, strlen(page));
    CHECK_INT_EQ(r.rc, 0);
    CHECK(strcmp(r.facts.implementation, "mtprotoproxy") == 0);
    expect_summary(&r, "uptime_seconds", NULL, ABSENT);
    expect_summary(&r, "connections_accepted", NULL, ABSENT);
    expect_summary(&r, "clients", NULL, ABSENT);
    CHECK_INT_EQ(r.res.skipped, 2); /* the newline in a label, nine labels */
    const struct mm_metric *m = mm_snapshot_find(&r.snap, MM_ORIGIN_PAGE, "x");
    CHECK(m && mm_metric_label(m, "exported_instance") && !mm_metric_label(m, "instance") &&
          mm_metric_label(m, "exported_host"));
    for (size_t i = 0; i < r.snap.count; i++)
        CHECK(r.snap.items[i].type == MM_STRING || isfinite(mm_metric_as_double(&r.snap.items[i])));
    run_free(&r);
}

int main(void)
{
    TEST(official_stats);
    TEST(teleproxy_stats);
    TEST(teleproxy_stats_labels);
    TEST(teleproxy_metrics);
    TEST(mtprotoproxy_metrics);
    TEST(mtprotoproxy_custom_prefix);
    TEST(mtg_metrics);
    TEST(telemt_metrics);
    TEST(zig_metrics);
    TEST(explicit_source_overrides);
    TEST(max_secrets_fold_into_other);
    TEST(max_secrets_teleproxy_stats);
    TEST(hostile_series);
    return check_done();
}
