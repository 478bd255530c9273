/* test_config.c — durations, URL checks and redaction, config validation,
 * and the repeat latch of log.c. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/config_options.h"
#include "core/duration.h"
#include "sources/http_fetch.h"
#include "core/instance.h"
#include "core/log.h"

static void durations(void)
{
    double s = 0;
    CHECK(mm_parse_duration("500ms", &s) == 0 && s == 0.5);
    CHECK(mm_parse_duration("2s", &s) == 0 && s == 2.0);
    CHECK(mm_parse_duration("1.5m", &s) == 0 && s == 90.0);
    CHECK(mm_parse_duration("3", &s) == 0 && s == 3.0);
    CHECK(mm_parse_duration("250us", &s) == 0 && s > 0.000249 && s < 0.000251);
    const char *bad[] = { "", "s", "abc", "-1s", "0s", "5x", "2 s", "1e400", "nan", "25h" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(mm_parse_duration(bad[i], &s) == -1);
}

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
    cfg.timeout_s = 0;
    CHECK(mm_instance_config_check(&cfg, err, sizeof(err)) == -1 && strstr(err, "Timeout"));
    cfg.timeout_s = 2;
    cfg.max_body_bytes = 10;
    CHECK(mm_instance_config_check(&cfg, err, sizeof(err)) == -1 && strstr(err, "MaxBodySize"));
    cfg.max_body_bytes = 4096;
    mm_config_set_string(&cfg.url, "ftp://x/");
    CHECK(mm_instance_config_check(&cfg, err, sizeof(err)) == -1 && strstr(err, "URL"));
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

int main(void)
{
    TEST(option_table_serves_both_fronts);
    TEST(durations);
    TEST(urls);
    TEST(config_checks);
    TEST(repeated_errors_are_logged_once);
    return check_done();
}
