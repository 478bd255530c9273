/* test_line_protocol.c — the line-protocol writer: escaping, types, grouping.
 * (tests/integration feeds its output to a real influxd as well.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "outputs/line_protocol.h"

static char *render(const struct mm_snapshot *snap, const char *instance)
{
    FILE *f = tmpfile();
    if (!f)
        return NULL;
    mm_lp_write_snapshot(f, snap, instance, 1700000000000000000LL);
    long len = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

static void types_and_suffixes(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    mm_snapshot_add_int(&s, MM_ORIGIN_PAGE, MM_COUNTER, "http_queries", 6);
    mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, "rpc_qps", 0.25);
    mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, "bad", NAN);
    mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, "worse", INFINITY);
    mm_snapshot_add_text(&s, MM_ORIGIN_PAGE, "version", "mtproxy \"x\" \\ y");
    mm_snapshot_add_int(&s, MM_ORIGIN_HEALTH, MM_GAUGE, "up", 1);
    char *out = render(&s, "main");
    /* page keys and health are different measurements: a page key `up`
     * never meets the health field `up` */
    CHECK(strcmp(out, "mtproxy_stats,instance=main http_queries=6i,rpc_qps=0.25,"
                      "version=\"mtproxy \\\"x\\\" \\\\ y\" 1700000000000000000\n"
                      "mtproxy,instance=main up=1i 1700000000000000000\n") == 0);
    printf("#   %s", out);
    free(out);
    mm_snapshot_free(&s);
}

static void escaping_of_names_and_tags(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    struct mm_metric *m = mm_snapshot_add_int(&s, MM_ORIGIN_COUNTRY, MM_GAUGE, "con ne,c=t", 3);
    mm_metric_add_label(&s, m, "country", "a b,c=d");
    char *out = render(&s, "my inst");
    CHECK(strcmp(out, "mtproxy_country,country=a\\ b\\,c\\=d,instance=my\\ inst con\\ ne\\,c\\=t=3i "
                      "1700000000000000000\n") == 0);
    printf("#   %s", out);
    free(out);
    mm_snapshot_free(&s);
}

static void control_characters_never_split_a_line(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    mm_snapshot_add_text(&s, MM_ORIGIN_PAGE, "v", "a\nb\rc\td");
    char *out = render(&s, "main");
    CHECK(strcmp(out, "mtproxy_stats,instance=main v=\"a b c d\" 1700000000000000000\n") == 0);
    free(out);
    mm_snapshot_free(&s);
}

static void tags_sorted_empty_omitted_lines_grouped(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    struct mm_metric *m = mm_snapshot_add_int(&s, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "established", 5);
    mm_metric_add_label(&s, m, "side", "client");
    m = mm_snapshot_add_int(&s, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "established", 7);
    mm_metric_add_label(&s, m, "side", "upstream");
    m = mm_snapshot_add_int(&s, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "unique_ips", 2);
    mm_metric_add_label(&s, m, "side", "client");
    m = mm_snapshot_add_int(&s, MM_ORIGIN_PROCESS, MM_GAUGE, "processes", 1);
    mm_metric_add_label(&s, m, "role", "");
    mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, "only_nan", NAN);
    char *out = render(&s, "main");
    CHECK(strcmp(out, "mtproxy_connections,instance=main,side=client established=5i,unique_ips=2i "
                      "1700000000000000000\n"
                      "mtproxy_connections,instance=main,side=upstream established=7i 1700000000000000000\n"
                      "mtproxy_process,instance=main processes=1i 1700000000000000000\n") == 0);
    free(out);
    mm_snapshot_free(&s);
}

static void floats_read_back_exactly(void)
{
    double values[] = { 0.000028, 101.3, 1e-300, 12345678.901234567, -0.5, 3.0 };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct mm_snapshot s;
        mm_snapshot_init(&s);
        mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, "x", values[i]);
        char *out = render(&s, "main");
        const char *field = out ? strstr(out, " x=") : NULL;
        CHECK(field && strtod(field + 3, NULL) == values[i]);
        free(out);
        mm_snapshot_free(&s);
    }
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Issue 25: users "/" and "\\" (and secrets alike) were both written user=/ in one gather, so
 * InfluxDB kept one of them. Every distinct label set is now a distinct series, said once. */
static void distinct_label_sets_stay_distinct_series(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    const char *users[] = {"/", "\\", "alice", "a\x01", "a\x02"};
    for (int i = 0; i < 5; i++) {
        struct mm_metric *m = mm_snapshot_add_int(&s, MM_ORIGIN_PAGE, MM_COUNTER, "octets", 10 + i);
        mm_metric_add_label(&s, m, "user", users[i]);
    }
    FILE *f = tmpfile();
    char note[512];
    CHECK(mm_lp_write_snapshot_noting(f, &s, "main", 1, note, sizeof(note)) == 5);
    long len = ftell(f);
    rewind(f);
    char *out = calloc(1, (size_t)len + 1);
    CHECK(fread(out, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    CHECK(count_lines(out) == 5);
    /* the five series prefixes differ */
    char *line[5], *save = NULL;
    int n = 0;
    for (char *l = strtok_r(out, "\n", &save); l && n < 5; l = strtok_r(NULL, "\n", &save))
        line[n++] = l;
    CHECK_INT_EQ(n, 5);
    for (int i = 0; i < n; i++) {
        *strrchr(line[i], ' ') = '\0'; /* drop the timestamp */
        *strrchr(line[i], ' ') = '\0'; /* and the fields */
        for (int j = 0; j < i; j++)
            CHECK(strcmp(line[i], line[j]) != 0);
    }
    CHECK(strstr(note, "lp_collision=2") != NULL);
    printf("#   %s\n", note);
    free(out);
    /* no collision: no note, no extra tag */
    mm_snapshot_free(&s);
    mm_snapshot_init(&s);
    struct mm_metric *m = mm_snapshot_add_int(&s, MM_ORIGIN_PAGE, MM_COUNTER, "octets", 1);
    mm_metric_add_label(&s, m, "user", "/");
    f = tmpfile();
    CHECK(mm_lp_write_snapshot_noting(f, &s, "main", 1, note, sizeof(note)) == 1);
    fclose(f);
    CHECK(note[0] == '\0');
    mm_snapshot_free(&s);
}

int main(void)
{
    TEST(types_and_suffixes);
    TEST(escaping_of_names_and_tags);
    TEST(control_characters_never_split_a_line);
    TEST(tags_sorted_empty_omitted_lines_grouped);
    TEST(floats_read_back_exactly);
    TEST(distinct_label_sets_stay_distinct_series);
    return check_done();
}
