/* test_stats_parser.c — the /stats parser on every real capture and on
 * hostile input: nothing crashes, nothing turns into a wrong number. */
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sources/stats_fields.h"
#include "sources/stats_parser.h"

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

static int parse_str(const char *body, struct mm_snapshot *snap, struct mm_parse_result *res)
{
    mm_snapshot_reset(snap);
    return mm_stats_parse(body, strlen(body), snap, res);
}

static const struct mm_metric *find(const struct mm_snapshot *snap, const char *name)
{
    return mm_snapshot_find(snap, MM_ORIGIN_PAGE, name);
}

static void field_table_is_sorted_and_complete(void)
{
    for (size_t i = 1; i < mm_stats_field_count(); i++)
        CHECK(strcmp(mm_stats_field_at(i - 1)->key, mm_stats_field_at(i)->key) < 0);
    CHECK_INT_EQ(mm_stats_field_count(), 179);
    CHECK(mm_stats_field_find("total_special_connections") != NULL);
    CHECK(mm_stats_field_find("no_such_key") == NULL);
    CHECK_INT_EQ(mm_stats_field_find("http_queries")->kind, MM_COUNTER);
    CHECK_INT_EQ(mm_stats_field_find("total_special_connections")->kind, MM_GAUGE);
    CHECK_INT_EQ(mm_stats_field_find("version")->kind, MM_TEXT);
}

/* Every capture: 199 lines, 20 section markers, all 179 keys known and
 * parsed, nothing skipped. */
static void every_fixture_parses_cleanly(void)
{
    glob_t g;
    CHECK(glob("tests/fixtures/stats-*.txt", 0, NULL, &g) == 0);
    CHECK(g.gl_pathc >= 20);
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        size_t len;
        char *body = read_file(g.gl_pathv[i], &len);
        CHECK(body != NULL);
        if (!body)
            continue;
        struct mm_parse_result res;
        mm_snapshot_reset(&snap);
        CHECK_INT_EQ(mm_stats_parse(body, len, &snap, &res), 0);
        CHECK_INT_EQ(res.lines, 199);
        CHECK_INT_EQ(res.keys, 179);
        CHECK_INT_EQ(res.skipped, 0);
        if (res.skipped)
            printf("#   %s: %s\n", g.gl_pathv[i], res.first_error);
        /* every metric's base key is a known key: no unknowns in real captures */
        for (size_t k = 0; k < snap.count; k++) {
            const char *name = snap.items[k].name;
            int known = mm_stats_field_find(name) != NULL || strcmp(name, "process_id") == 0; /* PID */
            for (size_t f = 0; !known && f < mm_stats_field_count(); f++) {
                const char *key = mm_stats_field_at(f)->key;
                size_t kl = strlen(key);
                known = mm_stats_field_at(f)->shape != MM_SHAPE_SCALAR && strncmp(name, key, kl) == 0 &&
                        name[kl] == '_';
            }
            CHECK(known);
        }
        free(body);
    }
    globfree(&g);
    mm_snapshot_free(&snap);
}

static void values_match_the_capture(void)
{
    size_t len;
    char *body = read_file("tests/fixtures/stats-with-clients-M1.txt", &len);
    CHECK(body != NULL);
    if (!body)
        return;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result res;
    CHECK_INT_EQ(mm_stats_parse(body, len, &snap, &res), 0);

    const struct mm_metric *m = find(&snap, "total_special_connections");
    CHECK(m && m->type == MM_INT && m->value.i == 13 && m->kind == MM_GAUGE);
    m = find(&snap, "http_queries");
    CHECK(m && m->value.i == 6 && m->kind == MM_COUNTER);
    m = find(&snap, "tot_idle_time");
    CHECK(m && m->type == MM_DOUBLE && fabs(m->value.d - 52.921) < 1e-9 && m->kind == MM_COUNTER);
    m = find(&snap, "vmsize_bytes");
    CHECK(m && m->value.i == 1272672256LL);
    m = find(&snap, "version");
    CHECK(m && m->type == MM_STRING &&
          strncmp(m->value.s, "mtproxy-0.01 compiled at Nov 22 2026 04:18:11 by gcc", 52) == 0);
    /* PID is reported as process_id: no pid/PID twins on one point */
    CHECK(find(&snap, "PID") == NULL);
    m = find(&snap, "process_id");
    CHECK(m && m->type == MM_STRING && strcmp(m->value.s, "[192.0.2.2:8888:11003:1795321189]") == 0);
    m = find(&snap, "pid");
    CHECK(m && m->type == MM_INT && m->value.i == 11003);
    m = find(&snap, "config_md5");
    CHECK(m && strcmp(m->value.s, "4a5f26bf036e27fd8383eb61342ecee0") == 0);
    /* per job class: io, cpu, main always; class 4 only because it is non-zero */
    m = find(&snap, "thread_average_idle_percent_io");
    CHECK(m && fabs(m->value.d - 99.931) < 1e-9);
    m = find(&snap, "tot_threads_cpu");
    CHECK(m && m->value.i == 8);
    m = find(&snap, "tot_threads_main");
    CHECK(m && m->value.i == 1);
    m = find(&snap, "jobs_running_class4");
    CHECK(m && m->value.i == 1);
    CHECK(find(&snap, "jobs_running_class5") == NULL);
    CHECK(find(&snap, "thread_load_average") == NULL); /* split, not kept whole */
    m = find(&snap, "tot_dh_rounds_round2");
    CHECK(m && m->value.i == 0 && m->kind == MM_COUNTER);
    m = find(&snap, "total_accept_connections_failed_rate_limit");
    CHECK(m && m->value.i == 0 && m->kind == MM_COUNTER);
    free(body);
    mm_snapshot_free(&snap);
}

static void percent_above_100_and_floats(void)
{
    size_t len;
    char *body = read_file("tests/fixtures/stats-upstream-with-clients-M1.txt", &len);
    CHECK(body != NULL);
    if (!body)
        return;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result res;
    CHECK_INT_EQ(mm_stats_parse(body, len, &snap, &res), 0);
    const struct mm_metric *m = find(&snap, "average_idle_percent");
    CHECK(m && fabs(m->value.d - 100.99) < 1e-9);
    m = find(&snap, "time_after_epoll");
    CHECK(m && m->type == MM_DOUBLE && fabs(m->value.d - 0.000027) < 1e-12);
    free(body);
    mm_snapshot_free(&snap);
}

static void crlf_line_ends(void)
{
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result res;
    CHECK_INT_EQ(parse_str("uptime\t53\r\nrpc_qps\t0.5\r\nversion\tmtproxy x\r\n", &snap, &res), 0);
    CHECK_INT_EQ(res.skipped, 0);
    CHECK(find(&snap, "uptime") && find(&snap, "uptime")->value.i == 53);
    CHECK(find(&snap, "rpc_qps") && find(&snap, "rpc_qps")->value.d == 0.5);
    CHECK(find(&snap, "version") && strcmp(find(&snap, "version")->value.s, "mtproxy x") == 0);
    mm_snapshot_free(&snap);
}

static void unknown_future_keys_are_kept(void)
{
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result res;
    CHECK_INT_EQ(parse_str("uptime\t5\nsecret_a_connections\t42\nnew_ratio\t0.25\n"
                           "new_vector\t1 2  3\nnew_label\tsome text\n",
                           &snap, &res),
                 0);
    CHECK_INT_EQ(res.skipped, 0);
    /* unknown numbers are always floats: their field type never changes */
    const struct mm_metric *m = find(&snap, "secret_a_connections");
    CHECK(m && m->kind == MM_GAUGE && m->type == MM_DOUBLE && m->value.d == 42);
    m = find(&snap, "new_ratio");
    CHECK(m && m->kind == MM_GAUGE && m->type == MM_DOUBLE && m->value.d == 0.25);
    CHECK(find(&snap, "new_vector_0") && find(&snap, "new_vector_2")->value.d == 3);
    m = find(&snap, "new_label");
    CHECK(m && m->type == MM_STRING && strcmp(m->value.s, "some text") == 0);
    mm_snapshot_free(&snap);
}

/* The cap on unknown keys counts their values: 40 keys of 16 values keep
 * 32 keys (512 values), the rest is skipped, known keys still parse. */
static void unknown_values_are_capped(void)
{
    size_t cap = 64 * 1024, len = 0;
    char *body = malloc(cap);
    CHECK(body != NULL);
    if (!body)
        return;
    for (int i = 0; i < 40; i++)
        len += (size_t)snprintf(body + len, cap - len, "k%02d\t0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n", i);
    len += (size_t)snprintf(body + len, cap - len, "uptime\t77\n");
    struct mm_snapshot snap;
    struct mm_parse_result res;
    mm_snapshot_init(&snap);
    CHECK_INT_EQ(parse_str(body, &snap, &res), 0);
    CHECK_INT_EQ(res.skipped, 40 - MM_STATS_UNKNOWN_MAX / 16);
    CHECK(strstr(res.first_error, "k32: more than 512 values of unknown keys") != NULL);
    CHECK(find(&snap, "k31_15") != NULL);
    CHECK(find(&snap, "k32_0") == NULL);
    CHECK(find(&snap, "uptime") != NULL);
    mm_snapshot_free(&snap);
    free(body);
}

/* The first problem quotes the page; control bytes never reach a log. */
static void first_error_carries_no_control_bytes(void)
{
    struct mm_snapshot snap;
    struct mm_parse_result res;
    mm_snapshot_init(&snap);
    CHECK_INT_EQ(parse_str("uptime\t12\x1b[31m\nworkers\t\x07\npid\t5\n", &snap, &res), 0);
    CHECK_INT_EQ(res.skipped, 2);
    CHECK(strncmp(res.first_error, "line 1: uptime: '12?[31m'", 25) == 0);
    for (const char *p = res.first_error; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    mm_snapshot_free(&snap);
}

static void truncated_last_line_is_skipped(void)
{
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result res;
    /* "uptime 53" cut to "uptime 5": must not report 5 */
    CHECK_INT_EQ(parse_str("pid\t11003\nuptime\t5", &snap, &res), 0);
    CHECK(find(&snap, "uptime") == NULL);
    CHECK(find(&snap, "pid") != NULL);
    CHECK_INT_EQ(res.skipped, 1);
    CHECK(strstr(res.first_error, "line 2") && strstr(res.first_error, "truncated"));
    mm_snapshot_free(&snap);
}

static void not_a_stats_page(void)
{
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result res;
    const char *html = "<html>\r\n<head><title>404 Not Found</title></head>\r\n"
                       "<body bgcolor=\"white\">\r\n<center><h1>404 Not Found</h1></center>\r\n"
                       "<hr><center>MTProxy/1.0</center>\r\n</body>\r\n</html>\r\n";
    CHECK_INT_EQ(parse_str(html, &snap, &res), -1);
    CHECK_INT_EQ(snap.count, 0);
    CHECK(res.first_error[0] != '\0');
    CHECK_INT_EQ(parse_str("", &snap, &res), -1);
    CHECK(strcmp(res.first_error, "empty body") == 0);
    /* Prometheus text of another implementation is not this format either */
    CHECK_INT_EQ(parse_str("# HELP x y\nmtg_client_connections{ip_family=\"ipv4\"} 3\n", &snap, &res), -1);
    mm_snapshot_free(&snap);
}

static void binary_junk_never_yields_numbers(void)
{
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result res;
    char junk[8192];
    unsigned state = 12345;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof(junk); i++) {
            state = state * 1103515245u + 12345u;
            junk[i] = (char)(state >> 16);
        }
        mm_snapshot_reset(&snap);
        mm_stats_parse(junk, sizeof(junk), &snap, &res);
        /* whatever survives must be a valid key with a strictly valid value */
        for (size_t k = 0; k < snap.count; k++) {
            for (const char *p = snap.items[k].name; *p; p++)
                CHECK((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_');
        }
    }
    /* NUL bytes inside a line */
    const char with_nul[] = "uptime\t5\0003\npid\t7\n";
    mm_snapshot_reset(&snap);
    CHECK_INT_EQ(mm_stats_parse(with_nul, sizeof(with_nul) - 1, &snap, &res), 0);
    CHECK(find(&snap, "uptime") == NULL);
    CHECK(find(&snap, "pid") && find(&snap, "pid")->value.i == 7);
    mm_snapshot_free(&snap);
}

static void overlong_line_is_skipped(void)
{
    size_t n = 100 * 1024;
    char *body = malloc(n + 64);
    CHECK(body != NULL);
    if (!body)
        return;
    strcpy(body, "pid\t1\nversion\t");
    size_t off = strlen(body);
    memset(body + off, 'x', n);
    strcpy(body + off + n, "\nuptime\t9\n");
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result res;
    CHECK_INT_EQ(mm_stats_parse(body, strlen(body), &snap, &res), 0);
    CHECK(find(&snap, "version") == NULL);
    CHECK(find(&snap, "uptime") && find(&snap, "uptime")->value.i == 9);
    CHECK_INT_EQ(res.skipped, 1);
    CHECK(strstr(res.first_error, "too long") != NULL);
    free(body);
    mm_snapshot_free(&snap);
}

static void bad_numbers_are_skipped(void)
{
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result res;
    CHECK_INT_EQ(parse_str("epoll_calls\t99999999999999999999\n" /* overflows int64 */
                           "uptime\t5.5\n"                     /* int key, float value */
                           "rpc_qps\tnan\n"
                           "http_qps\t1e5\n"
                           "load_average_user\tinf\n"
                           "workers\t12abc\n"
                           "tot_dh_rounds\t1 2\n" /* needs 3 */
                           "total_accept_connections_failed\t1 2 3 4 5 6\n"
                           "max_connections\t\n"
                           "pid\t-\n"
                           "bad key\t1\n"
                           "no_tab_here\n"
                           "config_size\t332\n"
                           "config_size\t999\n" /* duplicate: first wins */
                           "epoll_intr\t9223372036854775807\n"
                           "total_dh_rounds\t-1 0 1\n",
                           &snap, &res),
                 0);
    const char *absent[] = { "epoll_calls", "uptime", "rpc_qps", "http_qps", "load_average_user", "workers",
                             "tot_dh_rounds_round1", "total_accept_connections_failed_calls",
                             "max_connections", "pid" };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        if (find(&snap, absent[i]))
            printf("#   unexpected metric %s\n", absent[i]);
        CHECK(find(&snap, absent[i]) == NULL);
    }
    CHECK_INT_EQ(res.skipped, 13);
    CHECK(find(&snap, "config_size") && find(&snap, "config_size")->value.i == 332);
    CHECK(find(&snap, "epoll_intr") && find(&snap, "epoll_intr")->value.i == INT64_MAX);
    CHECK(find(&snap, "total_dh_rounds_round1") && find(&snap, "total_dh_rounds_round1")->value.i == -1);
    CHECK(strstr(res.first_error, "line 1") && strstr(res.first_error, "epoll_calls"));
    mm_snapshot_free(&snap);
}

static void section_markers_are_not_metrics(void)
{
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result res;
    CHECK_INT_EQ(parse_str(">>>>>>connections>>>>>>\tstart\nactive_connections\t1\n<<<<<<connections<<<<<<\tend\n",
                           &snap, &res),
                 0);
    CHECK_INT_EQ(snap.count, 1);
    CHECK_INT_EQ(res.skipped, 0);
    mm_snapshot_free(&snap);
}

int main(void)
{
    TEST(field_table_is_sorted_and_complete);
    TEST(every_fixture_parses_cleanly);
    TEST(values_match_the_capture);
    TEST(percent_above_100_and_floats);
    TEST(crlf_line_ends);
    TEST(unknown_future_keys_are_kept);
    TEST(unknown_values_are_capped);
    TEST(first_error_carries_no_control_bytes);
    TEST(truncated_last_line_is_skipped);
    TEST(not_a_stats_page);
    TEST(binary_junk_never_yields_numbers);
    TEST(overlong_line_is_skipped);
    TEST(bad_numbers_are_skipped);
    TEST(section_markers_are_not_metrics);
    return check_done();
}
