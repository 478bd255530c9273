/* test_config.c — the option table (conversion, ranges, reasons), URL
 * checks and redaction, cross-option validation, and the repeat latch of
 * log.c. The number syntax itself is test_number.c's. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gather/config_options.h"
#include "transport/http_fetch.h"
#include "gather/instance.h"
#include "gather/instance_name.h"
#include "options.h"
#include "core/log.h"

static void urls(void)
{
    char err[128];
    CHECK(mm_http_check_url("http://127.0.0.1:8888/stats", err, sizeof(err)) == 0);
    CHECK(mm_http_check_url("HTTPS://proxy.example/stats", err, sizeof(err)) == 0);
    CHECK(mm_http_check_url("file:///etc/passwd", err, sizeof(err)) == -1);
    CHECK(mm_http_check_url("gopher://x/", err, sizeof(err)) == -1);
    CHECK(mm_http_check_url("http://a b/", err, sizeof(err)) == -1);
    CHECK(mm_http_check_url("", err, sizeof(err)) == -1);
    char out[128];
    mm_http_redact_url("http://user:secret@127.0.0.1:8888/stats", out, sizeof(out));
    CHECK(strcmp(out, "http://***@127.0.0.1:8888/stats") == 0);
    CHECK_INT_EQ(mm_http_url_port("http://127.0.0.1:8888/stats"), 8888);
    CHECK_INT_EQ(mm_http_url_port("https://u:p@proxy.example/stats"), 443);
    CHECK_INT_EQ(mm_http_url_port("http://[::1]:2398/stats"), 2398);
    CHECK_INT_EQ(mm_http_url_port("http://localhost/stats"), 80);
    CHECK_INT_EQ(mm_http_url_port("not a url"), 0);
    /* everything up to the last '@' may be userinfo: a password may hold an unencoded '/' */
    mm_http_redact_url("http://user:se/cret@127.0.0.1:8888/stats", out, sizeof(out));
    CHECK(strcmp(out, "http://***@127.0.0.1:8888/stats") == 0);
    mm_http_redact_url("http://127.0.0.1:8888/stats?a=b@c", out, sizeof(out)); /* over-redacted, never leaked */
    CHECK(strcmp(out, "http://***@c") == 0);
    mm_http_redact_url("http://127.0.0.1:8888/stats", out, sizeof(out));
    CHECK(strcmp(out, "http://127.0.0.1:8888/stats") == 0);
}

static void config_checks(void)
{
    struct mm_instance_config cfg;
    char err[256];
    mm_instance_config_defaults(&cfg);
    CHECK(mm_instance_config_check(&cfg, err, sizeof(err)) == 0);
    cfg.connect_timeout_s = 3;
    CHECK(mm_instance_config_check(&cfg, err, sizeof(err)) == -1 && strstr(err, "ConnectTimeout"));
    cfg.connect_timeout_s = 1;
    mm_config_set_string(&cfg.password, "x");
    CHECK(mm_instance_config_check(&cfg, err, sizeof(err)) == -1 && strstr(err, "without User"));
    mm_instance_config_free(&cfg);
}

static int apply_text(struct mm_instance_config *cfg, const char *flag, const char *text, char *err, size_t n)
{
    struct mm_option_value v = { .kind = MM_VALUE_TEXT, .text = text };
    return mm_option_apply(mm_option_by_flag(flag), cfg, &v, err, n);
}

/* Ranges live in the table only: what a setter accepts is what runs. */
static void ranges_come_from_the_table(void)
{
    struct mm_instance_config cfg;
    mm_instance_config_defaults(&cfg);
    char err[256];
    CHECK(apply_text(&cfg, "timeout", "2h", err, sizeof(err)) == -1);
    CHECK(strcmp(err, "2h is out of range 1ms..1h") == 0);
    CHECK(apply_text(&cfg, "timeout", "1h", err, sizeof(err)) == 0 && cfg.timeout_s == 3600);
    CHECK(mm_instance_config_check(&cfg, err, sizeof(err)) == 0);
    CHECK(apply_text(&cfg, "timeout", "0.5ms", err, sizeof(err)) == -1 && strstr(err, "1ms..1h"));
    CHECK(apply_text(&cfg, "connect-timeout", "2h", err, sizeof(err)) == -1 && strstr(err, "1ms..1h"));
    CHECK(apply_text(&cfg, "max-body-size", "1023", err, sizeof(err)) == -1);
    CHECK(strcmp(err, "1023 is out of range 1024..16777216") == 0);
    CHECK(apply_text(&cfg, "max-body-size", "16777216", err, sizeof(err)) == 0 && cfg.max_body_bytes == 16777216);
    CHECK(apply_text(&cfg, "max-body-size", "16777217", err, sizeof(err)) == -1);
    CHECK(apply_text(&cfg, "max-body-size", "1e6", err, sizeof(err)) == -1 && strstr(err, "not a whole number"));
    CHECK(apply_text(&cfg, "client-port", "0", err, sizeof(err)) == -1 && strstr(err, "1..65535"));
    CHECK(apply_text(&cfg, "client-port", "65536", err, sizeof(err)) == -1 && strstr(err, "65536"));
    CHECK(apply_text(&cfg, "client-port", "-1", err, sizeof(err)) == -1);
    CHECK(apply_text(&cfg, "client-port", "443", err, sizeof(err)) == 0 && cfg.sockets.client_ports[0] == 443);
    CHECK(apply_text(&cfg, "upstream-port", "443", err, sizeof(err)) == 0 && cfg.sockets.upstream_ports[0] == 443);
    CHECK(apply_text(&cfg, "upstream-port", "8888", err, sizeof(err)) == 0 && cfg.sockets.n_upstream_ports == 2);
    CHECK(!cfg.sockets.upstream_off);
    CHECK(apply_text(&cfg, "upstream-port", "0", err, sizeof(err)) == 0 && cfg.sockets.upstream_off);
    CHECK(apply_text(&cfg, "upstream-network", "149.154.160.0/33", err, sizeof(err)) == -1 && strstr(err, "33"));
    CHECK(apply_text(&cfg, "upstream-network", "127.0.0.3", err, sizeof(err)) == 0 &&
          cfg.sockets.n_upstream_nets == 1);
    CHECK(apply_text(&cfg, "upstream-network", "2001:b28:f23d::/48", err, sizeof(err)) == 0 &&
          cfg.sockets.n_upstream_nets == 2);
    CHECK(apply_text(&cfg, "ips-over", "four", err, sizeof(err)) == -1);
    CHECK(apply_text(&cfg, "ips-over", "4", err, sizeof(err)) == 0 && cfg.sockets.ips_over == 4);
    CHECK(apply_text(&cfg, "max-countries", "513", err, sizeof(err)) == -1 && strstr(err, "0..512"));
    CHECK(apply_text(&cfg, "max-countries", "0", err, sizeof(err)) == 0 && cfg.sockets.max_countries == 0);
    /* each whole-number and duration row has a usable range */
    for (size_t i = 0; i < mm_option_count(); i++) {
        const struct mm_option *o = mm_option_at(i);
        if (o->type == MM_OPT_INT || o->type == MM_OPT_DURATION)
            CHECK(o->min >= 0 && o->max > o->min);
    }
    mm_instance_config_free(&cfg);
}

/* An empty path is refused with that reason when set, not found at start. */
static void empty_paths_are_refused_when_set(void)
{
    struct mm_instance_config cfg;
    mm_instance_config_defaults(&cfg);
    char err[256];
    const char *flags[] = { "pidfile", "ca-cert", "process-match", "geoip" };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        err[0] = '\0';
        CHECK(apply_text(&cfg, flags[i], "", err, sizeof(err)) == -1);
        CHECK(strstr(err, "empty") != NULL);
        CHECK(strstr(err, "memory") == NULL);
    }
    CHECK(cfg.process.pidfile == NULL);
    CHECK(apply_text(&cfg, "pidfile", "/run/mtproxy.pid", err, sizeof(err)) == 0);
    mm_instance_config_free(&cfg);
}

/* collectd's Timeout 500 is 500 ms (its curl/apache convention); a flag's
 * bare number is seconds; suffixed forms mean the same everywhere. */
static void bare_duration_unit_is_the_fronts(void)
{
    struct mm_instance_config cfg;
    mm_instance_config_defaults(&cfg);
    char err[256];
    const struct mm_option *timeout = mm_option_by_collectd_name("Timeout");
    struct mm_option_value ms = { .kind = MM_VALUE_NUMBER, .number = 500, .bare_unit_s = 0.001 };
    CHECK(mm_option_apply(timeout, &cfg, &ms, err, sizeof(err)) == 0 && cfg.timeout_s == 0.5);
    struct mm_option_value ms_text = { .kind = MM_VALUE_TEXT, .text = "250", .bare_unit_s = 0.001 };
    CHECK(mm_option_apply(timeout, &cfg, &ms_text, err, sizeof(err)) == 0 && cfg.timeout_s == 0.25);
    struct mm_option_value suffixed = { .kind = MM_VALUE_TEXT, .text = "2s", .bare_unit_s = 0.001 };
    CHECK(mm_option_apply(timeout, &cfg, &suffixed, err, sizeof(err)) == 0 && cfg.timeout_s == 2);
    struct mm_option_value too_long = { .kind = MM_VALUE_NUMBER, .number = 3600001, .bare_unit_s = 0.001 };
    CHECK(mm_option_apply(timeout, &cfg, &too_long, err, sizeof(err)) == -1 && strstr(err, "1ms..1h"));
    struct mm_option_value fraction = { .kind = MM_VALUE_NUMBER, .number = 0.5, .bare_unit_s = 0.001 };
    CHECK(mm_option_apply(timeout, &cfg, &fraction, err, sizeof(err)) == -1);
    CHECK(apply_text(&cfg, "timeout", "3", err, sizeof(err)) == 0 && cfg.timeout_s == 3);
    mm_instance_config_free(&cfg);
}

struct captured {
    int count;
    char last[512];
};

static void capture(void *ctx, enum mm_log_level level, const char *msg)
{
    (void)level;
    struct captured *c = ctx;
    c->count++;
    snprintf(c->last, sizeof(c->last), "%s", msg);
}

static void repeated_errors_are_logged_once(void)
{
    struct captured c = { 0 };
    struct mm_logger log = { capture, &c };
    struct mm_error_latch latch;
    memset(&latch, 0, sizeof(latch));
    for (int i = 0; i < 10; i++)
        mm_latch_fail_kind(&latch, &log, MM_LOG_ERROR, 7, "down: %s after %d ms", "refused", i);
    CHECK_INT_EQ(c.count, 1);
    mm_latch_fail_kind(&latch, &log, MM_LOG_ERROR, 28, "down: %s", "timeout");
    CHECK_INT_EQ(c.count, 2);
    for (int i = 0; i < MM_REPEAT_SUMMARY_EVERY; i++)
        mm_latch_fail_kind(&latch, &log, MM_LOG_ERROR, 28, "down: %s", "timeout");
    CHECK_INT_EQ(c.count, 3);
    CHECK(strstr(c.last, "times in a row") != NULL);
    mm_latch_ok(&latch, &log, "stats page");
    CHECK_INT_EQ(c.count, 4);
    CHECK(strstr(c.last, "recovered") != NULL);
    mm_latch_ok(&latch, &log, "stats page");
    CHECK_INT_EQ(c.count, 4);

    /* a streak alternating between two reasons says each once, then recovers once */
    for (int i = 0; i < 50; i++)
        mm_latch_fail_kind(&latch, &log, MM_LOG_ERROR, i % 2 ? 28 : 2000, "down: %d", i % 2);
    CHECK_INT_EQ(c.count, 6);
    mm_latch_ok(&latch, &log, "stats page");
    CHECK_INT_EQ(c.count, 7);
    CHECK(strstr(c.last, "after 50 failed") != NULL);
    mm_latch_fail_kind(&latch, &log, MM_LOG_ERROR, 28, "down again"); /* a new streak says it again */
    CHECK_INT_EQ(c.count, 8);
}

/* Init errors reach the front's logger with their own words (collectd gave
 * its logger only after init, and reported "out of memory"). */
static void init_errors_are_logged_with_their_reason(void)
{
    struct captured c = { 0 };
    struct mm_logger log = { capture, &c };
    struct mm_instance_config cfg;
    mm_instance_config_defaults(&cfg);
    cfg.collect_sockets = false;
    mm_config_set_string(&cfg.process.pidfile, ""); /* what the option table refuses */
    struct mm_instance inst;
    CHECK(mm_instance_init(&inst, &cfg, &log) == -1);
    CHECK(c.count >= 1);
    CHECK(strstr(c.last, "pidfile must not be empty") != NULL);
    mm_instance_free(&inst);
    mm_instance_config_free(&cfg);
}

static void option_table_serves_both_fronts(void)
{
    for (size_t i = 0; i < mm_option_count(); i++) {
        const struct mm_option *a = mm_option_at(i);
        CHECK(mm_option_by_collectd_name(a->collectd_name) == a);
        CHECK(mm_option_by_flag(a->flag) == a);
        CHECK(a->help && a->default_text && a->set);
    }
    CHECK(mm_option_by_collectd_name("timeout") == mm_option_by_flag("timeout")); /* case-insensitive */
    CHECK(mm_option_by_flag("Timeout") == NULL);

    struct mm_instance_config cfg;
    mm_instance_config_defaults(&cfg);
    char err[128];
    struct mm_option_value text = { .kind = MM_VALUE_TEXT, .text = "750ms" };
    struct mm_option_value number = { .kind = MM_VALUE_NUMBER, .number = 1.5 };
    struct mm_option_value yes = { .kind = MM_VALUE_BOOL, .boolean = true };
    CHECK(mm_option_apply(mm_option_by_flag("timeout"), &cfg, &text, err, sizeof(err)) == 0 && cfg.timeout_s == 0.75);
    CHECK(mm_option_apply(mm_option_by_flag("timeout"), &cfg, &number, err, sizeof(err)) == 0 && cfg.timeout_s == 1.5);
    CHECK(mm_option_apply(mm_option_by_flag("follow-redirects"), &cfg, &yes, err, sizeof(err)) == 0 &&
          cfg.follow_redirects);
    struct mm_option_value off = { .kind = MM_VALUE_TEXT, .text = "false" };
    CHECK(mm_option_apply(mm_option_by_flag("verify-peer"), &cfg, &off, err, sizeof(err)) == 0 && !cfg.verify_peer);
    struct mm_option_value junk = { .kind = MM_VALUE_TEXT, .text = "maybe" };
    CHECK(mm_option_apply(mm_option_by_flag("verify-peer"), &cfg, &junk, err, sizeof(err)) == -1);
    CHECK(mm_option_apply(mm_option_by_flag("url"), &cfg, &number, err, sizeof(err)) == -1);
    struct mm_option_value big = { .kind = MM_VALUE_NUMBER, .number = 4096.5 };
    CHECK(mm_option_apply(mm_option_by_flag("max-body-size"), &cfg, &big, err, sizeof(err)) == -1);
    mm_instance_config_free(&cfg);
}

/* One instance-name rule: the core's check, and the Telegraf front using it
 * (the collectd front's is test_config_fronts.py's). */
static void instance_names(void)
{
    char err[160];
    const char *out = NULL;
    CHECK(mm_instance_name_check("", &out, err, sizeof(err)) == 0 && strcmp(out, MM_DEFAULT_INSTANCE) == 0);
    CHECK(mm_instance_name_check("eu-1.proxy_A", &out, err, sizeof(err)) == 0 && strcmp(out, "eu-1.proxy_A") == 0);
    CHECK(mm_instance_name_check("bad name/x", &out, err, sizeof(err)) == -1);
    CHECK(strcmp(err, "'bad name/x': expects up to 63 letters, digits, '_', '.' or '-'") == 0);
    const char *bad[] = { "a,b", "a=b", "a\"b", "a\\b", "caf\xc3\xa9", "a\tb" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(mm_instance_name_check(bad[i], &out, err, sizeof(err)) == -1);
    char name[80];
    memset(name, 'a', sizeof(name));
    name[63] = '\0';
    CHECK(mm_instance_name_check(name, &out, err, sizeof(err)) == 0);
    name[63] = 'a';
    name[64] = '\0';
    CHECK(mm_instance_name_check(name, &out, err, sizeof(err)) == -1);

    struct execd_options opts;
    char *good[] = { "mtproxy-telegraf", "--url", "http://127.0.0.1:1/stats", "--instance", "", NULL };
    CHECK_INT_EQ(execd_parse_options(5, good, &opts), 0);
    CHECK(opts.core.name && strcmp(opts.core.name, MM_DEFAULT_INSTANCE) == 0);
    execd_options_free(&opts);
    char *refused[] = { "mtproxy-telegraf", "--url", "http://127.0.0.1:1/stats", "--instance", "bad name/x", NULL };
    CHECK_INT_EQ(execd_parse_options(5, refused, &opts), 2);
    execd_options_free(&opts);
}

int main(void)
{
    TEST(option_table_serves_both_fronts);
    TEST(urls);
    TEST(config_checks);
    TEST(ranges_come_from_the_table);
    TEST(empty_paths_are_refused_when_set);
    TEST(bare_duration_unit_is_the_fronts);
    TEST(repeated_errors_are_logged_once);
    TEST(init_errors_are_logged_with_their_reason);
    TEST(instance_names);
    return check_done();
}
