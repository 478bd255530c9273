/* test_prometheus_text.c — the Prometheus / OpenMetrics text parser on the
 * real captures of teleproxy and mtprotoproxy and on hostile pages: every
 * bound holds, a bad line is skipped and counted, no number is ever wrong. */
#include <glob.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "sources/prometheus_text.h"

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

/* Most captures are `curl -i` output: then the body starts after the blank
 * line; the others are bodies only. */
static const char *http_body(const char *response, size_t *len)
{
    const char *b = response;
    if (strncmp(response, "HTTP/", 5) == 0) {
        b = strstr(response, "\r\n\r\n");
        if (!b)
            return NULL;
        b += 4;
    }
    *len = strlen(b);
    return b;
}

static int parse(struct mm_prom_page *page, const char *text)
{
    return mm_prom_parse(page, text, strlen(text), NULL);
}

/* The value of the sample name{label=value} (label NULL: the first sample of
 * that name); NAN with *found = 0 when absent. */
static double value_of(const struct mm_prom_page *page, const char *name, const char *label, const char *lv,
                       int *found)
{
    *found = 0;
    for (size_t i = 0; i < page->n_samples; i++) {
        const struct mm_prom_sample *s = &page->samples[i];
        if (strcmp(s->name, name) != 0)
            continue;
        if (label) {
            const char *v = mm_prom_label_value(page, s, label);
            if (!v || strcmp(v, lv) != 0)
                continue;
        }
        *found = 1;
        return s->value;
    }
    return NAN;
}

static void expect(const struct mm_prom_page *page, const char *name, const char *label, const char *lv,
                   double want)
{
    int found;
    double v = value_of(page, name, label, lv, &found);
    if (!found || v != want) {
        printf("#   %s{%s=%s}: found %d value %g, expected %g\n", name, label ? label : "", lv ? lv : "", found, v,
               want);
        CHECK(0);
    }
}

static void teleproxy_metrics_captures(void)
{
    glob_t g;
    CHECK(glob("tests/fixtures/peers/teleproxy/metrics-*.txt", 0, NULL, &g) == 0);
    CHECK_INT_EQ(g.gl_pathc, 3);
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        size_t n, len;
        char *resp = read_file(g.gl_pathv[i], &n);
        CHECK(resp != NULL);
        const char *body = resp ? http_body(resp, &len) : NULL;
        CHECK(body != NULL);
        if (!body) {
            free(resp);
            continue;
        }
        CHECK(mm_prom_sniff(body, len) == 1);
        CHECK_INT_EQ(mm_prom_parse(&page, body, len, NULL), 0);
        CHECK_INT_EQ(page.res.skipped, 0);
        CHECK_INT_EQ(page.res.duplicates, 0);
        CHECK_INT_EQ(page.res.over_limit, 0);
        CHECK_INT_EQ(page.res.nonfinite, 0);
        /* notes/peers.md: 43 counters, 26 gauges, 1 histogram (DC probes on) */
        unsigned counters = 0, gauges = 0, histograms = 0;
        for (size_t f = 0; f < page.n_families; f++) {
            CHECK(page.families[f].typed);
            counters += page.families[f].type == MM_PROM_COUNTER;
            gauges += page.families[f].type == MM_PROM_GAUGE;
            histograms += page.families[f].type == MM_PROM_HISTOGRAM;
        }
        CHECK_INT_EQ(counters, 43);
        CHECK_INT_EQ(gauges, 26);
        CHECK_INT_EQ(histograms, 1);
        const struct mm_prom_family *h = mm_prom_find_family(&page, "teleproxy_dc_latency_seconds");
        CHECK(h && h->n_samples == 5 * 14); /* 12 buckets + sum + count per DC */
        expect(&page, "teleproxy_drs_weibull_k", NULL, NULL, 0.378);
        free(resp);
    }
    globfree(&g);

    size_t n, len;
    char *resp = read_file("tests/fixtures/peers/teleproxy/metrics-loaded.txt", &n);
    const char *body = resp ? http_body(resp, &len) : NULL;
    CHECK(body && mm_prom_parse(&page, body, len, NULL) == 0);
    expect(&page, "teleproxy_secret_connections", "secret", "alice", 3);
    expect(&page, "teleproxy_secret_connections", "secret", "bob", 2);
    expect(&page, "teleproxy_secret_bytes_received_total", "secret", "alice", 132);
    expect(&page, "teleproxy_secret_bytes_sent_total", "secret", "alice", 324);
    expect(&page, "teleproxy_secret_connection_limit", "secret", "bob", 100);
    expect(&page, "teleproxy_direct_dc_connections_active", NULL, NULL, 5);
    expect(&page, "teleproxy_dc_latency_seconds_bucket", "le", "+Inf", 2);
    expect(&page, "teleproxy_dc_latency_seconds_sum", "dc", "3", 0.000212);
    free(resp);
    mm_prom_page_free(&page);
}

static void mtprotoproxy_captures(void)
{
    size_t n, len;
    char *resp = read_file("tests/fixtures/peers/mtprotoproxy/metrics-loaded.txt", &n);
    const char *body = resp ? http_body(resp, &len) : NULL;
    CHECK(body != NULL);
    if (!body) {
        free(resp);
        return;
    }
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    CHECK_INT_EQ(mm_prom_parse(&page, body, len, NULL), 0);
    CHECK_INT_EQ(page.res.skipped + page.res.duplicates + page.res.over_limit, 0);
    CHECK_INT_EQ(page.n_families, 13);
    const struct mm_prom_family *up = mm_prom_find_family(&page, "mtprotoproxy_uptime");
    CHECK(up && up->type == MM_PROM_COUNTER);
    expect(&page, "mtprotoproxy_uptime", NULL, NULL, 8.76612639427185);
    expect(&page, "mtprotoproxy_connects_all", NULL, NULL, 9);
    expect(&page, "mtprotoproxy_connects_bad", NULL, NULL, 2);
    expect(&page, "mtprotoproxy_user_connects_curr", "user", "alice", 3);
    expect(&page, "mtprotoproxy_user_connects_curr", "user", "bob", 2);
    expect(&page, "mtprotoproxy_user_octets_from", "user", "alice", 132);
    expect(&page, "mtprotoproxy_user_octets_to", "user", "alice", 324);
    /* a counter with a string label, not a histogram */
    expect(&page, "mtprotoproxy_connects_by_duration", "bucket", "1800-+Inf", 0);
    free(resp);
    mm_prom_page_free(&page);
}

/* Every Prometheus page of tests/fixtures/peers (captured or written from
 * the implementations' sources) parses without a single problem. */
static void every_peer_page_parses_cleanly(void)
{
    glob_t g;
    CHECK(glob("tests/fixtures/peers/*/metrics-*.txt", 0, NULL, &g) == 0);
    CHECK(g.gl_pathc >= 10);
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        size_t n, len;
        char *resp = read_file(g.gl_pathv[i], &n);
        const char *body = resp ? http_body(resp, &len) : NULL;
        int rc = body ? mm_prom_parse(&page, body, len, NULL) : -2;
        if (rc != 0 || page.res.skipped || page.res.duplicates || page.res.over_limit || page.res.nonfinite ||
            mm_prom_sniff(body, len) != 1) {
            printf("#   %s: rc %d, %s\n", g.gl_pathv[i], rc, page.res.first_error);
            CHECK(0);
        }
        for (size_t f = 0; f < page.n_families; f++)
            CHECK(page.families[f].typed);
        free(resp);
    }
    globfree(&g);
    mm_prom_page_free(&page);
}

static void sniff_tells_formats_apart(void)
{
    size_t n;
    char *stats = read_file("tests/fixtures/peers/teleproxy/stats-loaded.txt", &n);
    size_t len;
    const char *body = stats ? http_body(stats, &len) : NULL;
    CHECK(body && mm_prom_sniff(body, len) == 0);
    free(stats);
    char *official = read_file("tests/fixtures/stats-with-clients-M1.txt", &n);
    CHECK(official && mm_prom_sniff(official, n) == 0);
    free(official);
    const char *cases[][2] = {
        { "# HELP x y\n", "1" }, { "\n\n  # TYPE x gauge\n", "1" }, { "x 1\n", "1" }, { "x{a=\"b\"} 1\n", "1" },
        { "x NaN\n", "1" },      { "pid\t123\n", "0" },             { "<html>", "0" }, { "", "0" },
        { "x y\n", "0" },        { "\x01\x02", "0" },               { "x", "0" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (mm_prom_sniff(cases[i][0], strlen(cases[i][0])) != atoi(cases[i][1])) {
            printf("#   sniff case %zu\n", i);
            CHECK(0);
        }
}

static void label_escapes_and_shapes(void)
{
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    CHECK_INT_EQ(parse(&page, "a{l=\"x\\\\y\\\"z\\n\"} 1\n"
                              "b { z = \"2\" , a=\"1\", } 2\n" /* blanks, trailing comma, sorted */
                              "c{e=\"\",k=\"v\"} 3\n"          /* empty value = no label */
                              "d{} 4\r\n"                       /* CRLF */
                              "  e\t5\t1700000000000\n"         /* tab blanks, ms timestamp ignored */
                              "f{u=\"\xc3\xa9t\xc3\xa9\"} 6\n"),
                  0);
    CHECK_INT_EQ(page.res.skipped, 0);
    CHECK_INT_EQ(page.n_samples, 6);
    expect(&page, "a", "l", "x\\y\"z\n", 1);
    CHECK_INT_EQ(page.samples[1].n_labels, 2);
    CHECK(strcmp(page.labels[page.samples[1].first_label].name, "a") == 0);
    CHECK(strcmp(page.labels[page.samples[1].first_label + 1].name, "z") == 0);
    CHECK_INT_EQ(page.samples[2].n_labels, 1);
    expect(&page, "d", NULL, NULL, 4);
    expect(&page, "e", NULL, NULL, 5);
    expect(&page, "f", "u", "\xc3\xa9t\xc3\xa9", 6);
    mm_prom_page_free(&page);
}

/* Each of these lines is malformed: skipped, counted, and the good line
 * after it still read. */
static void malformed_lines_are_skipped(void)
{
    const char *bad[] = {
        "a{l=\"x\\q\"} 1",          /* unknown escape */
        "a{l=\"x\\",                /* escape at the end */
        "a{l=\"unterminated} 1",    /* no closing quote */
        "a{l=x} 1",                 /* unquoted */
        "a{1l=\"x\"} 1",            /* bad label name */
        "a{l:x=\"x\"} 1",           /* ':' in a label name */
        "a{l=\"x\",l=\"y\"} 1",     /* label twice */
        "a{l=\"x\" m=\"y\"} 1",     /* no comma */
        "a{l=\"\xff\"} 1",          /* not UTF-8 */
        "a{l=\"\xc0\xaf\"} 1",      /* overlong UTF-8 */
        "a",                        /* no value */
        "a ",                       /* no value */
        "a{l=\"x\"}",               /* no value */
        "a{l=\"x\"}1",              /* value glued to the labels is fine in Go, but "}1" ... */
        "a 0x10",                   /* hex */
        "a 1_000",                  /* underscores */
        "a 1e",                     /* exponent without digits */
        "a .",                      /* no digits */
        "a --1",                    /* two signs */
        "a 1e999",                  /* out of range */
        "a 1 2 3",                  /* text after the timestamp */
        "a 1 NaN",                  /* timestamp not a number */
        "a 1 x",                    /* timestamp not a number */
        "a 12345678901234567890123456789012345678901234567890123456789012345", /* 65-byte number */
        "9a 1",                     /* bad metric name */
        "{l=\"x\"} 1",              /* no metric name */
        "a\0b 1",                   /* NUL */
        "# TYPE",                   /* TYPE without name */
        "# TYPE b wrongtype",       /* unknown type */
        "# TYPE 9b gauge",          /* bad name */
        "# HELP c bad \\escape",    /* HELP escape */
    };
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[256];
        size_t blen = strlen(bad[i]);
        if (i == 26) /* the NUL case */
            blen = 5;
        memcpy(body, bad[i], blen);
        memcpy(body + blen, "\ngood 7\n", 9);
        int rc = mm_prom_parse(&page, body, blen + 8, NULL);
        int found;
        double v = value_of(&page, "good", NULL, NULL, &found);
        if (i == 13) { /* "a{l="x"}1": Go's parser reads it; so do we */
            CHECK(rc == 0 && page.res.skipped == 0 && page.n_samples == 2);
            continue;
        }
        if (rc != 0 || page.res.skipped != 1 || page.n_samples != 1 || !found || v != 7 ||
            strncmp(page.res.first_error, "line 1: ", 8) != 0) {
            printf("#   case %zu (%s): rc %d skipped %u samples %zu first_error '%s'\n", i, bad[i], rc,
                   page.res.skipped, page.n_samples, page.res.first_error);
            CHECK(0);
        }
    }
    mm_prom_page_free(&page);
}

static void values_nan_inf_and_exponents(void)
{
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    CHECK_INT_EQ(parse(&page, "a 1.234567e+06\nb -2.5E-3\nc NaN\nd +Inf\ne -Inf\nf Inf\ng nan\nh 1e-400\n"
                              "i +3\nj 9007199254740993\n"),
                  0);
    CHECK_INT_EQ(page.res.skipped, 0);
    expect(&page, "a", NULL, NULL, 1234567);
    expect(&page, "b", NULL, NULL, -0.0025);
    int found;
    CHECK(isnan(value_of(&page, "c", NULL, NULL, &found)) && found);
    expect(&page, "d", NULL, NULL, INFINITY);
    expect(&page, "e", NULL, NULL, -INFINITY);
    expect(&page, "f", NULL, NULL, INFINITY);
    CHECK(isnan(value_of(&page, "g", NULL, NULL, &found)) && found);
    expect(&page, "h", NULL, NULL, 0);
    expect(&page, "i", NULL, NULL, 3);
    CHECK_INT_EQ(page.res.nonfinite, 5);
    mm_prom_page_free(&page);
}

static void types_histograms_summaries(void)
{
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    CHECK_INT_EQ(parse(&page, "# HELP h a histogram\n# TYPE h histogram\n"
                              "h_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 0.7\nh_count 3\n"
                              "h_bucket 9\n"                 /* no le: skipped */
                              "h_bucket{le=\"x\"} 9\n"       /* le not a number: skipped */
                              "h 9\n"                        /* bare histogram name: skipped */
                              "# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_sum 1\ns_count 0\n"
                              "s 9\n"                        /* no quantile: skipped */
                              "# TYPE g gauge\n# TYPE g gauge\n" /* second TYPE: skipped */
                              "g 1\n# TYPE u counter\n"
                              "u_total 5\n"                  /* 0.0.4 style would be TYPE u_total */
                              "g_sum 2\n"                    /* a gauge has no _sum: its own family */
                              "untyped_one 4\n# TYPE untyped_one gauge\n"), /* TYPE after samples */
                  0);
    CHECK_INT_EQ(page.res.skipped, 6);
    const struct mm_prom_family *h = mm_prom_find_family(&page, "h");
    CHECK(h && h->type == MM_PROM_HISTOGRAM && h->n_samples == 4);
    expect(&page, "h_bucket", "le", "+Inf", 3);
    expect(&page, "h_sum", NULL, NULL, 0.7);
    const struct mm_prom_family *s = mm_prom_find_family(&page, "s");
    CHECK(s && s->type == MM_PROM_SUMMARY && s->n_samples == 3);
    const struct mm_prom_family *u = mm_prom_find_family(&page, "u");
    CHECK(u && u->n_samples == 1);
    expect(&page, "u_total", NULL, NULL, 5);
    const struct mm_prom_family *gs = mm_prom_find_family(&page, "g_sum");
    CHECK(gs && gs->type == MM_PROM_UNTYPED && !gs->typed);
    const struct mm_prom_family *un = mm_prom_find_family(&page, "untyped_one");
    CHECK(un && un->type == MM_PROM_UNTYPED);
    mm_prom_page_free(&page);
}

static void openmetrics_text(void)
{
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    CHECK_INT_EQ(parse(&page, "# TYPE mtg_replay_attacks counter\n# HELP mtg_replay_attacks Replay attacks.\n"
                              "mtg_replay_attacks_total 3\nmtg_replay_attacks_created 1.7007e+09\n"
                              "# TYPE x counter\n# UNIT x bytes\nx_total 5 # {trace_id=\"abc\"} 1 1.7e9\n"
                              "# TYPE i info\ni_info{version=\"1.2\"} 1\n"
                              "y 1 1700000000.123\n"
                              "# EOF\n"
                              "after_eof 1\n"),
                  0);
    CHECK(page.res.openmetrics);
    CHECK_INT_EQ(page.res.skipped, 0);
    CHECK_INT_EQ(page.n_samples, 5);
    expect(&page, "mtg_replay_attacks_total", NULL, NULL, 3);
    expect(&page, "x_total", NULL, NULL, 5);
    expect(&page, "i_info", "version", "1.2", 1);
    expect(&page, "y", NULL, NULL, 1);
    int found;
    value_of(&page, "after_eof", NULL, NULL, &found);
    CHECK(!found);
    mm_prom_page_free(&page);
}

static void duplicates_keep_the_first(void)
{
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    CHECK_INT_EQ(parse(&page, "a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\na{x=\"1\"} 3\nb 1\nb 2\n"
                              "c{e=\"\"} 1\nc 2\n"),
                  0);
    CHECK_INT_EQ(page.res.duplicates, 3);
    CHECK_INT_EQ(page.res.skipped, 0);
    CHECK_INT_EQ(page.n_samples, 4);
    expect(&page, "a", "y", "2", 1);
    expect(&page, "b", NULL, NULL, 1);
    expect(&page, "c", NULL, NULL, 1);
    CHECK(strstr(page.res.first_error, "line 2: a: duplicate series") != NULL);
    mm_prom_page_free(&page);
}

static void not_a_page(void)
{
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    CHECK_INT_EQ(parse(&page, ""), -1);
    CHECK(strcmp(page.res.first_error, "empty body") == 0);
    CHECK_INT_EQ(parse(&page, "# only a comment\n\n"), -1);
    CHECK(strcmp(page.res.first_error, "no samples") == 0);
    CHECK_INT_EQ(parse(&page, "<html><body>404</body></html>\n"), -1);
    CHECK(strncmp(page.res.first_error, "line 1: ", 8) == 0);
    /* TAB is a blank in this format too: an MTProxy /stats page is told
     * apart by mm_prom_sniff, not by the parser */
    CHECK_INT_EQ(parse(&page, "pid\t123\nversion\tmtproxy-0.01 compiled\n"), 0);
    CHECK_INT_EQ(page.res.skipped, 1);
    mm_prom_page_free(&page);
}

static void label_limits(void)
{
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    char body[8192];
    /* 16 labels are fine, 17 are not */
    for (int n = 16; n <= 17; n++) {
        size_t o = (size_t)snprintf(body, sizeof(body), "m{");
        for (int k = 0; k < n; k++)
            o += (size_t)snprintf(body + o, sizeof(body) - o, "l%d=\"v\",", k);
        snprintf(body + o, sizeof(body) - o, "} 1\n");
        CHECK_INT_EQ(parse(&page, body), n == 16 ? 0 : -1);
    }
    /* a 256-byte value is fine, 257 bytes are not; escapes count once */
    for (int n = 256; n <= 257; n++) {
        size_t o = (size_t)snprintf(body, sizeof(body), "m{l=\"");
        for (int k = 0; k < n; k++)
            o += (size_t)snprintf(body + o, sizeof(body) - o, "%s", k % 2 ? "\\\\" : "x");
        snprintf(body + o, sizeof(body) - o, "\"} 1\n");
        CHECK_INT_EQ(parse(&page, body), n == 256 ? 0 : -1);
    }
    /* a 65-byte label name, a 129-byte metric name */
    memset(body, 'n', 65);
    snprintf(body + 65, sizeof(body) - 65, "=\"v\"} 1\n");
    char line[256];
    snprintf(line, sizeof(line), "m{%s", body);
    CHECK_INT_EQ(parse(&page, line), -1);
    memset(line, 'n', 129);
    snprintf(line + 129, sizeof(line) - 129, " 1\n");
    CHECK_INT_EQ(parse(&page, line), -1);
    line[128] = ' ';
    CHECK_INT_EQ(parse(&page, line), 0);
    mm_prom_page_free(&page);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    put(b, tmp, (size_t)n);
}

/* The acceptance page: 10,000 series in one family, 10,000 more
 * spread over 100 families, a 1 MiB line, broken escapes, duplicate series.
 * Bounded: 2,000 series kept of the big family, 10,000 in all; the other
 * lines counted; time and heap measured and bounded. */
static void hostile_page_is_bounded(void)
{
    struct buf b = { 0 };
    put(&b, "# TYPE big gauge\n", 17);
    for (int i = 0; i < 10000; i++)
        putf(&b, "big{secret=\"user%05d\"} %d\n", i, i);
    put(&b, "huge{l=\"", 8);
    for (int i = 0; i < 1024 * 1024; i++)
        put(&b, "x", 1);
    put(&b, "\"} 1\n", 5);
    for (int i = 0; i < 100; i++)
        putf(&b, "bad{l=\"\\x%d\"} 1\n", i);
    for (int i = 0; i < 100; i++)
        putf(&b, "big{secret=\"user%05d\"} -1\n", i); /* duplicates of kept series */
    for (int f = 0; f < 100; f++)
        for (int i = 0; i < 100; i++)
            putf(&b, "fam%03d{i=\"%d\"} %d\n", f, i, i);
    putf(&b, "last 42\n");

    struct mm_prom_page page;
    mm_prom_page_init(&page);
    struct mallinfo2 before = mallinfo2();
    double t0 = now_s();
    CHECK_INT_EQ(mm_prom_parse(&page, b.p, b.len, NULL), 0);
    double took = now_s() - t0;
    struct mallinfo2 after = mallinfo2();
    size_t heap = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);

    CHECK_INT_EQ(page.n_samples, 10000);
    const struct mm_prom_family *big = mm_prom_find_family(&page, "big");
    CHECK(big && big->n_samples == 2000);
    CHECK_INT_EQ(page.res.skipped, 101);    /* the 1 MiB line and 100 broken escapes */
    CHECK_INT_EQ(page.res.duplicates, 100);
    CHECK_INT_EQ(page.res.over_limit, 8000 + 2000 + 1); /* big's rest, fam080..fam099, last */
    expect(&page, "big", "secret", "user00042", 42);     /* the first of a duplicate is kept */
    expect(&page, "fam079", "i", "99", 99);
    int found;
    value_of(&page, "fam080", NULL, NULL, &found);
    CHECK(!found);
    printf("# %zu-byte hostile page: %.1f ms, parser heap %zu KiB, first problem: %s\n", b.len, took * 1e3,
           heap / 1024, page.res.first_error);
    CHECK(took < 2.0);
    CHECK(heap < 4 * 1024 * 1024);

    /* the second parse reuses the memory: no growth */
    struct mallinfo2 m1 = mallinfo2();
    CHECK_INT_EQ(mm_prom_parse(&page, b.p, b.len, NULL), 0);
    struct mallinfo2 m2 = mallinfo2();
    CHECK_INT_EQ((long long)(m2.uordblks + m2.hblkhd), (long long)(m1.uordblks + m1.hblkhd));
    CHECK_INT_EQ(page.n_samples, 10000);
    mm_prom_page_free(&page);
    free(b.p);
}

static void custom_limits(void)
{
    struct mm_prom_limits lim;
    mm_prom_limits_default(&lim);
    lim.series_max = 3;
    lim.families_max = 2;
    lim.line_max = 10;
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    const char *text = "a 1\na 2\nb{x=\"1\"} 1\nb{x=\"2\"} 2\nb{x=\"3\"} 3\nc 1\nlong_line_x 1\n";
    CHECK_INT_EQ(mm_prom_parse(&page, text, strlen(text), &lim), 0);
    CHECK_INT_EQ(page.n_samples, 3);
    CHECK_INT_EQ(page.res.duplicates, 1);
    CHECK_INT_EQ(page.res.over_limit, 2);
    CHECK_INT_EQ(page.res.skipped, 1);
    mm_prom_page_free(&page);
}

int main(void)
{
    TEST(teleproxy_metrics_captures);
    TEST(mtprotoproxy_captures);
    TEST(every_peer_page_parses_cleanly);
    TEST(sniff_tells_formats_apart);
    TEST(label_escapes_and_shapes);
    TEST(malformed_lines_are_skipped);
    TEST(values_nan_inf_and_exponents);
    TEST(types_histograms_summaries);
    TEST(openmetrics_text);
    TEST(duplicates_keep_the_first);
    TEST(not_a_page);
    TEST(label_limits);
    TEST(hostile_page_is_bounded);
    TEST(custom_limits);
    return check_done();
}
