/* test_metric.c — the metric model: origins as namespaces, a family's type
 * fixed for the life of the snapshot, labels owned by the snapshot, O(1)
 * lookups, and the line-protocol grouping built on them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "core/families.h"
#include "core/metric.h"
#include "outputs/line_protocol.h"

static char *render(const struct mm_snapshot *snap)
{
    FILE *f = tmpfile();
    if (!f)
        return NULL;
    mm_lp_write_snapshot(f, snap, "main", 1700000000000000000LL);
    long len = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

static void origins_are_namespaces(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    mm_snapshot_add_int(&s, MM_ORIGIN_PAGE, MM_GAUGE, "up", 0);
    mm_snapshot_add_int(&s, MM_ORIGIN_HEALTH, MM_GAUGE, "up", 1);
    const struct mm_metric *page = mm_snapshot_find(&s, MM_ORIGIN_PAGE, "up");
    const struct mm_metric *health = mm_snapshot_find(&s, MM_ORIGIN_HEALTH, "up");
    CHECK(page && health && page != health && page->family != health->family);
    CHECK(page && page->value.i == 0 && strcmp(page->family->measurement, "mtproxy_stats") == 0);
    CHECK(health && health->value.i == 1 && strcmp(health->family->measurement, "mtproxy") == 0);
    char *out = render(&s);
    CHECK(out && strcmp(out, "mtproxy_stats,instance=main up=0i 1700000000000000000\n"
                             "mtproxy,instance=main up=1i 1700000000000000000\n") == 0);
    free(out);

    /* another page: its own measurement, its own families */
    static const struct mm_page tele = { "teleproxy", "teleproxy" };
    mm_snapshot_set_page(&s, &tele);
    mm_snapshot_add_int(&s, MM_ORIGIN_PAGE, MM_GAUGE, "up", 7);
    const struct mm_metric *t = mm_snapshot_find(&s, MM_ORIGIN_PAGE, "up");
    CHECK(t && t->value.i == 7 && strcmp(t->family->measurement, "teleproxy") == 0 &&
          strcmp(t->family->page, "teleproxy") == 0);
    mm_snapshot_free(&s);
}

static void family_type_is_fixed(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    /* gather 1: a float family */
    CHECK(mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, "ratio", 0.5) != NULL);
    /* gather 2: an integer into it becomes a float */
    mm_snapshot_reset(&s);
    const struct mm_metric *m = mm_snapshot_add_int(&s, MM_ORIGIN_PAGE, MM_GAUGE, "ratio", 2);
    CHECK(m && m->type == MM_DOUBLE && m->value.d == 2.0);
    /* an integer family takes whole floats, refuses the rest */
    CHECK(mm_snapshot_add_int(&s, MM_ORIGIN_PAGE, MM_GAUGE, "count", 1) != NULL);
    m = mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, "count", 3.0);
    CHECK(m && m->type == MM_INT && m->value.i == 3);
    CHECK(mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, "count", 1.5) == NULL);
    CHECK(mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, "count", NAN) == NULL);
    CHECK(mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, "count", 1e300) == NULL);
    CHECK_INT_EQ(s.dropped, 3);
    /* a text family takes a number as its text; a numeric one refuses text */
    CHECK(mm_snapshot_add_text(&s, MM_ORIGIN_PAGE, "label", "abc") != NULL);
    m = mm_snapshot_add_int(&s, MM_ORIGIN_PAGE, MM_GAUGE, "label", 42);
    CHECK(m && m->type == MM_STRING && strcmp(m->value.s, "42") == 0);
    CHECK(mm_snapshot_add_text(&s, MM_ORIGIN_PAGE, "ratio", "x") == NULL);
    /* the schema's type wins over the first caller's */
    m = mm_snapshot_add_double(&s, MM_ORIGIN_PROCESS, MM_GAUGE, "processes", 2.0, "role", "all");
    CHECK(m && m->type == MM_INT && m->value.i == 2);
    m = mm_snapshot_add_int(&s, MM_ORIGIN_PROCESS, MM_COUNTER, "cpu_time_user", 3, "role", "all");
    CHECK(m && m->type == MM_DOUBLE && m->kind == MM_COUNTER);
    /* the reset keeps families, counts drops per gather */
    mm_snapshot_reset(&s);
    CHECK_INT_EQ(s.dropped, 0);
    CHECK(mm_snapshot_family(&s, MM_ORIGIN_PAGE, "ratio") != NULL);
    CHECK(mm_snapshot_find(&s, MM_ORIGIN_PAGE, "ratio") == NULL); /* no metric this gather */
    mm_snapshot_free(&s);
}

static void labels_owned_sorted_bounded(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    char key[16] = "zone", value[16] = "eu";
    struct mm_metric *m = mm_snapshot_add_int(&s, MM_ORIGIN_SUMMARY, MM_GAUGE, "clients", 5, key, value, "a", "1",
                                              "secret", "alice", "le", "10");
    strcpy(key, "XXXX");
    strcpy(value, "XX"); /* the snapshot has its own copies */
    CHECK(m && m->n_labels == 4);
    CHECK(m && strcmp(m->labels[0].key, "a") == 0 && strcmp(m->labels[1].key, "le") == 0 &&
          strcmp(m->labels[2].key, "secret") == 0 && strcmp(m->labels[3].key, "zone") == 0);
    CHECK(m && strcmp(mm_metric_label(m, "zone"), "eu") == 0);
    CHECK(m && mm_metric_add_label(&s, m, "le", "20") == -1); /* a key once */
    for (int i = 0; m && i < MM_LABEL_MAX - 4; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        CHECK(mm_metric_add_label(&s, m, k, "v") == 0);
    }
    CHECK(m && mm_metric_add_label(&s, m, "one_too_many", "v") == -1);
    char longv[MM_LABEL_VALUE_MAX + 1];
    memset(longv, 'v', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    CHECK(mm_snapshot_add_int(&s, MM_ORIGIN_SUMMARY, MM_GAUGE, "clients", 1, "secret", longv) == NULL);
    CHECK_INT_EQ(s.dropped, 1);
    mm_snapshot_free(&s);
}

static void lookups_by_family_and_label(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    for (int round = 0; round < 3; round++) {
        mm_snapshot_reset(&s);
        mm_snapshot_add_int(&s, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "established", 5, "side", "client");
        mm_snapshot_add_int(&s, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "unique_ips", 2, "side", "client");
        mm_snapshot_add_int(&s, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "established", 7 + round, "side", "upstream");
        const struct mm_metric *m =
            mm_snapshot_find_labeled(&s, MM_ORIGIN_CONNECTIONS, "established", "side", "upstream");
        CHECK(m && m->value.i == 7 + round);
        m = mm_snapshot_find(&s, MM_ORIGIN_CONNECTIONS, "established");
        CHECK(m && m->value.i == 5);
        m = m ? mm_snapshot_next_of_family(&s, m) : NULL;
        CHECK(m && m->value.i == 7 + round && mm_snapshot_next_of_family(&s, m) == NULL);
    }
    CHECK_INT_EQ(mm_snapshot_family_count(&s), 2);
    mm_snapshot_free(&s);
}

static void family_cap(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    char name[32];
    size_t added = 0;
    for (int i = 0; i < MM_FAMILY_MAX + 10; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        added += mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, name, i) != NULL;
    }
    CHECK_INT_EQ(added, MM_FAMILY_MAX);
    CHECK_INT_EQ(s.dropped, 10);
    /* known families still take values */
    CHECK(mm_snapshot_add_double(&s, MM_ORIGIN_PAGE, MM_GAUGE, "k1", 1) != NULL);
    mm_snapshot_free(&s);
}

static void one_field_per_line_and_instance_label(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    mm_snapshot_add_int(&s, MM_ORIGIN_SUMMARY, MM_GAUGE, "clients", 1, "secret", "a");
    mm_snapshot_add_int(&s, MM_ORIGIN_SUMMARY, MM_GAUGE, "clients", 2, "secret", "a"); /* repeated */
    mm_snapshot_add_int(&s, MM_ORIGIN_SUMMARY, MM_GAUGE, "clients", 3, "instance", "x:9100");
    char *out = render(&s);
    CHECK(out && strcmp(out, "mtproxy_summary,instance=main,secret=a clients=1i 1700000000000000000\n"
                             "mtproxy_summary,exported_instance=x:9100,instance=main clients=3i "
                             "1700000000000000000\n") == 0);
    free(out);
    mm_snapshot_free(&s);
}

/* 100,000 metrics in 50,000 series: grouped in one pass (a rescan per
 * metric would take minutes here). */
static void grouping_is_linear(void)
{
    struct mm_snapshot s;
    mm_snapshot_init(&s);
    char v[16];
    for (int i = 0; i < 50000; i++) {
        snprintf(v, sizeof(v), "%d", i);
        mm_snapshot_add_int(&s, MM_ORIGIN_CLIENTS, MM_COUNTER, "bucket", i, "le", v);
        mm_snapshot_add_int(&s, MM_ORIGIN_CLIENTS, MM_COUNTER, "other", i, "le", v);
    }
    CHECK_INT_EQ(s.count, 100000);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    char *out = render(&s);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    printf("#   100000 metrics, 50000 lines in %.1f ms\n", ms);
    CHECK_INT_EQ(count_lines(out), 50000);
    CHECK(out && strstr(out, "mtproxy_clients,instance=main,le=49999 bucket=49999i,other=49999i ") != NULL);
    CHECK(ms < 2000);
    free(out);
    mm_snapshot_free(&s);
}

static void schema_is_consistent(void)
{
    /* every known family once; two-value types agree on their size */
    for (size_t i = 0; i < mm_family_desc_count(); i++) {
        const struct mm_family_desc *d = mm_family_desc_at(i);
        CHECK(mm_family_desc_find(d->origin, d->name) == d);
        CHECK((d->kind == MM_TEXT) == (d->type == MM_STRING));
        for (size_t j = 0; j < mm_family_desc_count(); j++) {
            const struct mm_family_desc *e = mm_family_desc_at(j);
            if (d->collectd.n_ds > 1 && e->collectd.type && strcmp(d->collectd.type, e->collectd.type) == 0 &&
                d->collectd.instance && e->collectd.instance && strcmp(d->collectd.instance, e->collectd.instance) == 0)
                CHECK(d->collectd.n_ds == e->collectd.n_ds && (i == j || d->collectd.ds != e->collectd.ds));
        }
    }
}

int main(void)
{
    TEST(origins_are_namespaces);
    TEST(family_type_is_fixed);
    TEST(labels_owned_sorted_bounded);
    TEST(lookups_by_family_and_label);
    TEST(family_cap);
    TEST(one_field_per_line_and_instance_label);
    TEST(grouping_is_linear);
    TEST(schema_is_consistent);
    return check_done();
}
