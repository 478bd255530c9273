/* test_telegraf_views.c — mtproxy-telegraf's text and JSON views of a snapshot
 * that has every group (stats, health, process, connections, countries), as
 * a gather with the socket table and /proc readable produces it. The
 * integration tests (test_telegraf_modes.py) cover the binary. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "outputs/json_output.h"
#include "outputs/text_output.h"

static void fill(struct mm_snapshot *s)
{
    mm_snapshot_add_int(s, MM_ORIGIN_PAGE, MM_GAUGE, "total_special_connections", 35);
    mm_snapshot_add_int(s, MM_ORIGIN_PAGE, MM_GAUGE, "total_max_special_connections", 16000);
    mm_snapshot_add_int(s, MM_ORIGIN_PAGE, MM_GAUGE, "uptime", 90061);
    mm_snapshot_add_text(s, MM_ORIGIN_PAGE, "version", "mtproxy-0.01 \xff\n");
    mm_snapshot_add_int(s, MM_ORIGIN_HEALTH, MM_GAUGE, "up", 1);
    mm_snapshot_add_double(s, MM_ORIGIN_HEALTH, MM_GAUGE, "nan", NAN);
    struct mm_metric *m;
    m = mm_snapshot_add_int(s, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "established", 31);
    mm_metric_add_label(s, m, "side", "client");
    m = mm_snapshot_add_int(s, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "unique_ips", 17);
    mm_metric_add_label(s, m, "side", "client");
    m = mm_snapshot_add_int(s, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "bytes_received", 5000000);
    mm_metric_add_label(s, m, "side", "client");
    m = mm_snapshot_add_int(s, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "bytes_acked", 7000000);
    mm_metric_add_label(s, m, "side", "client");
    const char *codes[] = { "US", "DE", "unknown", "NL", "FR", "IR", "RU" };
    for (int i = 0; i < 7; i++) {
        m = mm_snapshot_add_int(s, MM_ORIGIN_COUNTRY, MM_GAUGE, "connections", 10 + i);
        mm_metric_add_label(s, m, "country", codes[i]);
        m = mm_snapshot_add_int(s, MM_ORIGIN_COUNTRY, MM_GAUGE, "unique_ips", 1 + i);
        mm_metric_add_label(s, m, "country", codes[i]);
    }
    const char *roles[] = { "master", "all" };
    for (int i = 0; i < 2; i++) {
        m = mm_snapshot_add_int(s, MM_ORIGIN_PROCESS, MM_GAUGE, "processes", i ? 9 : 1);
        mm_metric_add_label(s, m, "role", roles[i]);
        m = mm_snapshot_add_int(s, MM_ORIGIN_PROCESS, MM_GAUGE, "num_fds", i ? 420 : 60);
        mm_metric_add_label(s, m, "role", roles[i]);
        m = mm_snapshot_add_int(s, MM_ORIGIN_PROCESS, MM_GAUGE, "fd_limit_soft", 1024);
        mm_metric_add_label(s, m, "role", roles[i]);
        m = mm_snapshot_add_int(s, MM_ORIGIN_PROCESS, MM_GAUGE, "memory_rss", i ? 123456789 : 1000);
        mm_metric_add_label(s, m, "role", roles[i]);
        m = mm_snapshot_add_double(s, MM_ORIGIN_PROCESS, MM_COUNTER, "cpu_time_user", i ? 12.5 : 1);
        mm_metric_add_label(s, m, "role", roles[i]);
    }
    m = mm_snapshot_add_int(s, MM_ORIGIN_PROCESS, MM_COUNTER, "restarts", 2);
    mm_metric_add_label(s, m, "role", "master");
    m = mm_snapshot_add_int(s, MM_ORIGIN_PAGE, MM_COUNTER, "tcp_readv_bytes", 5 * 1048576);
    m = mm_snapshot_add_int(s, MM_ORIGIN_PAGE, MM_COUNTER, "tcp_writev_bytes", 507904);
    m = mm_snapshot_add_double(s, MM_ORIGIN_PAGE, MM_GAUGE, "load_average_total", 1.8);
    m = mm_snapshot_add_int(s, MM_ORIGIN_PROCESS, MM_GAUGE, "processes", 8);
    mm_metric_add_label(s, m, "role", "workers");
    m = mm_snapshot_add_int(s, MM_ORIGIN_PROCESS, MM_COUNTER, "write_bytes", 2 * 1048576);
    mm_metric_add_label(s, m, "role", "all");
    m = mm_snapshot_add_int(s, MM_ORIGIN_PROCESS, MM_COUNTER, "read_bytes", 3 * 1048576);
    mm_metric_add_label(s, m, "role", "all");
}

static char *render(int json)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    fill(&s);
    FILE *f = tmpfile();
    if (json)
        mm_json_write_snapshot(f, &s, "main", 1700000000123000000LL);
    else
        mm_text_write_snapshot(f, &s, "main", 1700000000123000000LL);
    long len = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len)
        buf[0] = '\0';
    fclose(f);
    mm_snapshot_free(&s);
    return buf;
}

static void text_has_every_section_in_80_columns(void)
{
    char *out = render(0);
    printf("%s", out);
    for (char *line = out, *end; *line; line = end + 1) {
        end = strchr(line, '\n');
        CHECK(end != NULL);
        if (!end)
            break;
        CHECK(end - line <= 80);
    }
    CHECK(strstr(out, "UP") != NULL);
    CHECK(strstr(out, "35 connections") && strstr(out, "16000"));
    CHECK(strstr(out, "31 established from 17 distinct IPs"));
    CHECK(strstr(out, "RU 16 (7), IR 15 (6), FR 14 (5), NL 13 (4), unknown 12 (3), +2 more"));
    CHECK(strstr(out, "5000000") && strstr(out, "7000000"));
    CHECK(strstr(out, "420 open, limit 1024"));
    CHECK(strstr(out, "123456789 (117.7 MiB)"));
    CHECK(strstr(out, "user 12.50 s (all processes)"));
    CHECK(strstr(out, "nan") == NULL);
    CHECK(strstr(out, "9, restarts 2 (master + 8 workers)"));
    /* whole-proxy figures, and the page's master-only ones labelled so */
    CHECK(strstr(out, "read 3145728 (3.0 MiB), written 2097152 (2.0 MiB) (all processes)"));
    CHECK(strstr(out, "             master only: read 5242880 (5.0 MiB), written 507904 (496.0 KiB)"));
    CHECK(strstr(out, "master only: 1.8% of one core (load_average_total)"));
    CHECK(strstr(out, "1d 1h 1m"));
    CHECK(strstr(out, "mtproxy-0.01 \xef\xbf\xbd") != NULL); /* invalid byte -> U+FFFD */
    free(out);
}

static void json_is_one_line_with_every_metric(void)
{
    char *out = render(1);
    CHECK(strchr(out, '\n') == out + strlen(out) - 1);
    CHECK(strncmp(out, "{\"instance\":\"main\",\"timestamp_ns\":1700000000123000000,"
                       "\"time\":\"2023-11-14T22:13:20.123Z\",\"metrics\":[", 98) == 0);
    CHECK(strstr(out, "{\"measurement\":\"mtproxy_country\",\"name\":\"connections\",\"kind\":\"gauge\","
                      "\"type\":\"integer\",\"value\":16,\"labels\":{\"country\":\"RU\"}}"));
    CHECK(strstr(out, "\"name\":\"nan\",\"kind\":\"gauge\",\"type\":\"float\",\"value\":null"));
    CHECK(strstr(out, "\"value\":\"mtproxy-0.01 \xef\xbf\xbd \""));
    CHECK(strstr(out, "\"value\":12.5,\"labels\":{\"role\":\"all\"}"));
    free(out);
}

/* A snapshot with one of the traffic pair (the other dropped) once read
 * units[-1]; the missing side now reads n/a. */
static void text_with_half_a_traffic_pair(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    mm_snapshot_add_int(&s, MM_ORIGIN_HEALTH, MM_GAUGE, "up", 1);
    struct mm_metric *m = mm_snapshot_add_int(&s, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "bytes_received", 5000000);
    mm_metric_add_label(&s, m, "side", "client");
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    CHECK(f != NULL);
    if (f) {
        CHECK(mm_text_write_snapshot(f, &s, "main", 0) == 0);
        fclose(f);
        CHECK(out && strstr(out, "in 5000000 (4.8 MiB), out n/a") != NULL);
    }
    free(out);
    mm_snapshot_free(&s);
}

int main(void)
{
    TEST(text_with_half_a_traffic_pair);
    TEST(text_has_every_section_in_80_columns);
    TEST(json_is_one_line_with_every_metric);
    return check_done();
}
