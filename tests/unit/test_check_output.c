/* test_check_output.c — the health check's judgement and status line
 * (common/outputs/check_output.c) on snapshots built here. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/metric.h"
#include "outputs/check_output.h"

static struct mm_check_limits defaults(void)
{
    struct mm_check_limits l;
    mm_check_limits_defaults(&l);
    return l;
}

/* up, ready targets, clients of a limit; fd < 0: no process metrics */
static void build(struct mm_snapshot *s, int up, int ready, int clients, int limit, double fd)
{
    mm_snapshot_init(s);
    mm_snapshot_add_int(s, MM_ORIGIN_HEALTH, MM_GAUGE, "up", up);
    if (up) {
        if (ready >= 0)
            mm_snapshot_add_int(s, MM_ORIGIN_PAGE, MM_GAUGE, "total_ready_targets", ready);
        if (clients >= 0)
            mm_snapshot_add_int(s, MM_ORIGIN_PAGE, MM_GAUGE, "total_special_connections", clients);
        if (limit >= 0)
            mm_snapshot_add_int(s, MM_ORIGIN_PAGE, MM_GAUGE, "total_max_special_connections", limit);
    }
    if (fd >= 0) {
        struct mm_metric *m = mm_snapshot_add_double(s, MM_ORIGIN_PROCESS, MM_GAUGE, "fd_usage_percent", fd);
        mm_metric_add_label(s, m, "role", "all");
        /* a master's own value must not be taken for the whole proxy's */
        m = mm_snapshot_add_double(s, MM_ORIGIN_PROCESS, MM_GAUGE, "fd_usage_percent", 99.0);
        mm_metric_add_label(s, m, "role", "master");
    }
}

static enum mm_check_status judge(char *buf, size_t len, int up, int ready, int clients, int limit, double fd,
                                  const char *reason)
{
    struct mm_snapshot s;
    build(&s, up, ready, clients, limit, fd);
    struct mm_check_limits l = defaults();
    enum mm_check_status st = mm_check_format(buf, len, &s, "main", &l, reason);
    mm_snapshot_free(&s);
    return st;
}

static void healthy_is_ok_with_perfdata(void)
{
    char b[1024];
    CHECK_INT_EQ(judge(b, sizeof(b), 1, 5, 35, 16000, 1.5, NULL), MM_CHECK_OK);
    CHECK(strcmp(b, "MTPROXY OK - main: up, 5 upstream targets ready, 35 of 16000 clients (0.2%), descriptors at "
                    "1.5% of the limit | up=1;;1:;0;1 ready_targets=5;;1:;0 clients=35;12800;14400;0;16000 "
                    "fd_usage=1.5%;80;90;0;100") == 0);
    CHECK(strchr(b, '\n') == NULL);
}

static void down_is_critical_with_the_reason(void)
{
    char b[1024];
    CHECK_INT_EQ(judge(b, sizeof(b), 0, 5, 35, 16000, -1, "connection refused"), MM_CHECK_CRITICAL);
    CHECK(strcmp(b, "MTPROXY CRITICAL - main: down (stats page not readable: connection refused) | up=0;;1:;0;1") == 0);
    /* a reason with a newline or a '|' stays one line and does not start the perfdata */
    CHECK_INT_EQ(judge(b, sizeof(b), 0, 5, 35, 16000, -1, "a|b\nc"), MM_CHECK_CRITICAL);
    CHECK(strstr(b, "a?b?c") != NULL);
    CHECK(strchr(b, '\n') == NULL);
    CHECK(strchr(b, '|') == strrchr(b, '|'));
}

static void no_ready_upstream_is_critical(void)
{
    char b[1024];
    CHECK_INT_EQ(judge(b, sizeof(b), 1, 0, 35, 16000, -1, NULL), MM_CHECK_CRITICAL);
    CHECK(strstr(b, "MTPROXY CRITICAL - main: up, CRITICAL: no upstream target ready") == b);
    /* a page without the key (another implementation) is not judged on it */
    CHECK_INT_EQ(judge(b, sizeof(b), 1, -1, 35, 16000, -1, NULL), MM_CHECK_OK);
    CHECK(strstr(b, "ready") == NULL);
}

static void clients_against_the_limit(void)
{
    char b[1024];
    CHECK_INT_EQ(judge(b, sizeof(b), 1, 5, 12800, 16000, -1, NULL), MM_CHECK_OK); /* 80.0%: not above */
    CHECK_INT_EQ(judge(b, sizeof(b), 1, 5, 12801, 16000, -1, NULL), MM_CHECK_WARNING);
    CHECK(strstr(b, "WARNING: 12801 of 16000 clients (80.0%)") != NULL);
    CHECK_INT_EQ(judge(b, sizeof(b), 1, 5, 15000, 16000, -1, NULL), MM_CHECK_CRITICAL);
    /* no limit on the page: reported, not judged */
    CHECK_INT_EQ(judge(b, sizeof(b), 1, 5, 15000, -1, -1, NULL), MM_CHECK_OK);
    CHECK(strstr(b, "15000 clients") != NULL);
    CHECK_INT_EQ(judge(b, sizeof(b), 1, 5, 15000, 0, -1, NULL), MM_CHECK_OK);
}

static void descriptors_against_the_limit(void)
{
    char b[1024];
    CHECK_INT_EQ(judge(b, sizeof(b), 1, 5, 35, 16000, 85.0, NULL), MM_CHECK_WARNING);
    CHECK(strstr(b, "WARNING: descriptors at 85.0%") != NULL);
    CHECK_INT_EQ(judge(b, sizeof(b), 1, 5, 35, 16000, 95.0, NULL), MM_CHECK_CRITICAL);
    /* judged when the page is down too; the worst wins */
    CHECK_INT_EQ(judge(b, sizeof(b), 0, 5, 35, 16000, 85.0, "timeout"), MM_CHECK_CRITICAL);
    CHECK(strstr(b, "descriptors at 85.0%") != NULL);
}

static void thresholds_are_configurable_and_checked(void)
{
    struct mm_snapshot s;
    build(&s, 1, 5, 15000, 16000, 85.0);
    struct mm_check_limits l = defaults();
    char b[1024], err[128];
    CHECK_INT_EQ(mm_check_format(b, sizeof(b), &s, "main", &l, NULL), MM_CHECK_CRITICAL);
    l.clients_warn = 94;
    l.clients_crit = 95;
    l.fd_warn = 86;
    CHECK_INT_EQ(mm_check_format(b, sizeof(b), &s, "main", &l, NULL), MM_CHECK_OK);
    CHECK(strstr(b, "clients=15000;15040;15200;0;16000") != NULL);
    CHECK_INT_EQ(mm_check_limits_check(&l, err, sizeof(err)), 0);
    l.fd_warn = 95;
    CHECK_INT_EQ(mm_check_limits_check(&l, err, sizeof(err)), -1);
    CHECK(strstr(err, "descriptors") != NULL);
    mm_snapshot_free(&s);
}

/* Another implementation: the summary family, per-secret rows, no official keys. */
static void summary_family_of_other_implementations(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    mm_snapshot_add_int(&s, MM_ORIGIN_HEALTH, MM_GAUGE, "up", 1);
    struct mm_metric *m = mm_snapshot_add_int(&s, MM_ORIGIN_SUMMARY, MM_GAUGE, "clients", 3);
    mm_metric_add_label(&s, m, "secret", "alice"); /* a secret's row first: not the proxy's */
    mm_snapshot_add_int(&s, MM_ORIGIN_SUMMARY, MM_GAUGE, "clients", 5);
    mm_snapshot_add_int(&s, MM_ORIGIN_SUMMARY, MM_GAUGE, "upstream_ready", 0);
    struct mm_check_limits l = defaults();
    char b[1024];
    CHECK_INT_EQ(mm_check_format(b, sizeof(b), &s, "main", &l, NULL), MM_CHECK_CRITICAL);
    CHECK(strstr(b, "CRITICAL: no upstream target ready, 5 clients |") != NULL);
    CHECK(strstr(b, " clients=5;;;0") != NULL);
    mm_snapshot_free(&s);
    /* the summary wins over the page's key when both are there */
    build(&s, 1, 5, 35, 16000, -1);
    mm_snapshot_add_int(&s, MM_ORIGIN_SUMMARY, MM_GAUGE, "clients", 15000);
    CHECK_INT_EQ(mm_check_format(b, sizeof(b), &s, "main", &l, NULL), MM_CHECK_CRITICAL);
    CHECK(strstr(b, "15000 of 16000 clients") != NULL);
    mm_snapshot_free(&s);
}

static void empty_snapshot_is_unknown_and_small_buffers_truncate(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    struct mm_check_limits l = defaults();
    char b[1024];
    CHECK_INT_EQ(mm_check_format(b, sizeof(b), &s, "main", &l, NULL), MM_CHECK_UNKNOWN);
    CHECK(strcmp(b, "MTPROXY UNKNOWN - main: no gather result") == 0);
    mm_snapshot_free(&s);
    char small[16];
    CHECK_INT_EQ(judge(small, sizeof(small), 1, 5, 35, 16000, 1.5, NULL), MM_CHECK_OK);
    CHECK(strlen(small) == sizeof(small) - 1);
    CHECK(strncmp(small, "MTPROXY OK - ma", 15) == 0);
    CHECK(strcmp(mm_check_status_name(MM_CHECK_WARNING), "WARNING") == 0);
}

int main(void)
{
    TEST(healthy_is_ok_with_perfdata);
    TEST(down_is_critical_with_the_reason);
    TEST(no_ready_upstream_is_critical);
    TEST(clients_against_the_limit);
    TEST(descriptors_against_the_limit);
    TEST(thresholds_are_configurable_and_checked);
    TEST(summary_family_of_other_implementations);
    TEST(empty_snapshot_is_unknown_and_small_buffers_truncate);
    return check_done();
}
