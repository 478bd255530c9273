/* test_collectd_dispatch.c — collectd-plugin/dispatch.c compiled against
 * stubs of the daemon's plugin_dispatch_values / plugin_dispatch_notification
 * (the pattern of collectd's src/curl_json_test.c), so the value lists the
 * plugin would hand to collectd are checked without the daemon: identifiers,
 * value types and counts against Debian's types.db, the two-value types, the
 * page keys apart from the health values, and the notifications. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "plugin.h"

#include "sources/mtproxy_stats.h"

/* ---- the daemon, stubbed ---------------------------------------------- */

#define MAX_VL 4096
#define MAX_NOTIF 16

struct seen_vl {
    char plugin[DATA_MAX_NAME_LEN], plugin_instance[DATA_MAX_NAME_LEN];
    char type[DATA_MAX_NAME_LEN], type_instance[DATA_MAX_NAME_LEN];
    size_t n;
    value_t values[4];
    cdtime_t time;
};

static struct seen_vl seen[MAX_VL];
static size_t n_seen;
static notification_t notifs[MAX_NOTIF];
static size_t n_notifs;
static char hostname_buf[] = "testhost";
char *hostname_g = hostname_buf;

int plugin_dispatch_values(value_list_t const *vl)
{
    if (n_seen == MAX_VL)
        return -1;
    struct seen_vl *s = &seen[n_seen++];
    snprintf(s->plugin, sizeof(s->plugin), "%s", vl->plugin);
    snprintf(s->plugin_instance, sizeof(s->plugin_instance), "%s", vl->plugin_instance);
    snprintf(s->type, sizeof(s->type), "%s", vl->type);
    snprintf(s->type_instance, sizeof(s->type_instance), "%s", vl->type_instance);
    s->n = vl->values_len;
    for (size_t i = 0; i < vl->values_len && i < 4; i++)
        s->values[i] = vl->values[i];
    s->time = vl->time;
    return 0;
}

int plugin_dispatch_notification(const notification_t *n)
{
    if (n_notifs < MAX_NOTIF)
        notifs[n_notifs++] = *n;
    return 0;
}

char *sstrncpy(char *dest, const char *src, size_t n)
{
    snprintf(dest, n, "%s", src);
    return dest;
}

int ssnprintf(char *str, size_t size, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(str, size, format, ap);
    va_end(ap);
    return n;
}

cdtime_t cdtime(void)
{
    return TIME_T_TO_CDTIME_T(1700000000);
}

void plugin_log(int level, const char *format, ...)
{
    (void)level;
    (void)format;
}

/* ---- helpers ------------------------------------------------------------ */

static const struct seen_vl *find_vl(const char *type, const char *type_instance)
{
    const struct seen_vl *found = NULL;
    for (size_t i = 0; i < n_seen; i++)
        if (strcmp(seen[i].type, type) == 0 && strcmp(seen[i].type_instance, type_instance) == 0) {
            if (found)
                return NULL; /* twice: a bug */
            found = &seen[i];
        }
    return found;
}

static double gauge(const char *type, const char *type_instance)
{
    const struct seen_vl *s = find_vl(type, type_instance);
    return s && s->n == 1 ? s->values[0].gauge : -12345;
}

static long long derive(const char *type, const char *type_instance)
{
    const struct seen_vl *s = find_vl(type, type_instance);
    return s && s->n == 1 ? (long long)s->values[0].derive : -12345;
}

/* How many data sources types.db gives a type, 0 when it has no such type. */
static int types_db_ds(const char *type)
{
    FILE *f = fopen("/usr/share/collectd/types.db", "r");
    if (!f)
        return -1;
    char line[1024];
    int n = 0;
    size_t len = strlen(type);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, type, len) != 0 || (line[len] != ' ' && line[len] != '\t'))
            continue;
        for (char *p = line; (p = strchr(p, ':')); p++)
            n++;
        n /= 3; /* name:TYPE:min:max */
        break;
    }
    fclose(f);
    return n;
}

static struct mm_instance inst;

static void setup(void)
{
    struct mm_instance_config cfg;
    mm_instance_config_defaults(&cfg);
    cfg.collect_process = false;
    cfg.collect_sockets = false;
    mm_config_set_string(&cfg.name, "main");
    CHECK(mm_instance_init(&inst, &cfg, NULL) == 0);
    inst.gathered_at_ns = 1700000000123000000LL;
    n_seen = n_notifs = 0;
}

static void teardown(void)
{
    mm_instance_free(&inst);
}

static void parse_page(const char *body)
{
    struct mm_source_facts facts = { 0 };
    struct mm_parse_result res;
    mm_snapshot_set_page(&inst.snap, &mm_source_mtproxy_stats.page);
    CHECK_INT_EQ(mm_source_mtproxy_stats.parse(NULL, body, strlen(body), &inst.snap, &facts, &res), 0);
}

/* ---- tests ---------------------------------------------------------------- */

static void every_value_list_fits_types_db(void)
{
    setup();
    parse_page("total_special_connections\t35\ntot_forwarded_queries\t1234\nversion\tmtproxy-0.01\n"
               "tot_idle_time\t12.5\ntot_threads\t0 16 4 1 0 0 0 0 0 0 0 0 0 0 0 0\n");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_HEALTH, MM_GAUGE, "up", 1);
    static const char *const roles[] = { "master", "workers", "all" };
    for (int r = 0; r < 3; r++) {
        const char *role = roles[r];
        mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_GAUGE, "processes", 1, "role", role);
        mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_GAUGE, "num_threads", 3, "role", role);
        mm_snapshot_add_double(&inst.snap, MM_ORIGIN_PROCESS, MM_COUNTER, "cpu_time_user", 1.5, "role", role);
        mm_snapshot_add_double(&inst.snap, MM_ORIGIN_PROCESS, MM_COUNTER, "cpu_time_system", 0.25, "role", role);
        mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_GAUGE, "fd_limit_soft", 1024, "role", role);
        mm_snapshot_add_double(&inst.snap, MM_ORIGIN_PROCESS, MM_GAUGE, "fd_usage_percent", 3.5, "role", role);
        mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_COUNTER, "read_bytes", 10, "role", role);
        mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_COUNTER, "write_bytes", 20, "role", role);
        mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_COUNTER, "minor_faults", 7, "role", role);
        mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_COUNTER, "major_faults", 0, "role", role);
        mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_COUNTER, "voluntary_context_switches", 9, "role", role);
        mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_GAUGE, "uptime_seconds", 60, "role", role);
    }
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_COUNTER, "restarts", 2, "role", "master");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "established", 31, "side", "client");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "bytes_received", 5, "side", "upstream");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_COUNTRY, MM_GAUGE, "connections", 12, "country", "DE");
    plugin_dispatch_snapshot(&inst);

    CHECK(n_seen > 20);
    for (size_t i = 0; i < n_seen; i++) {
        const struct seen_vl *s = &seen[i];
        int ds = types_db_ds(s->type);
        if (ds != (int)s->n)
            printf("#   %s-%s: %zu value(s), types.db has %d\n", s->type, s->type_instance, s->n, ds);
        CHECK_INT_EQ(ds, (int)s->n);
        CHECK(strcmp(s->plugin, "mtproxy") == 0 && strcmp(s->plugin_instance, "main") == 0);
        CHECK(s->time == NS_TO_CDTIME_T(1700000000123000000ULL));
    }
    teardown();
}

static void page_keys_are_apart_from_health(void)
{
    setup();
    /* another implementation's page with keys named like ours */
    parse_page("up\t0\nscrape_errors\t7\nscrape_duration_seconds\t9.5\ntotal_special_connections\t35\n");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_HEALTH, MM_GAUGE, "up", 1);
    mm_snapshot_add_double(&inst.snap, MM_ORIGIN_HEALTH, MM_GAUGE, "scrape_duration_seconds", 0.002);
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_HEALTH, MM_COUNTER, "scrape_errors", 0);
    plugin_dispatch_snapshot(&inst);
    CHECK(gauge("gauge", "up") == 1);
    CHECK(gauge("gauge", "scrape_duration_seconds") == 0.002);
    CHECK_INT_EQ(derive("derive", "scrape_errors"), 0);
    CHECK(gauge("gauge", "stats-up") == 0);
    CHECK(gauge("gauge", "stats-scrape_errors") == 7);
    CHECK(gauge("gauge", "stats-scrape_duration_seconds") == 9.5);
    CHECK(gauge("gauge", "stats-total_special_connections") == 35);
    teardown();
}

static void page_keys_types(void)
{
    setup();
    parse_page("total_special_connections\t35\ntot_forwarded_queries\t1234\nversion\tmtproxy-0.01\n"
               "tot_idle_time\t12.5\ntotal_dh_rounds\t1 2 3\n");
    plugin_dispatch_snapshot(&inst);
    CHECK(gauge("gauge", "stats-total_special_connections") == 35);
    CHECK_INT_EQ(derive("derive", "stats-tot_forwarded_queries"), 1234);
    CHECK(gauge("gauge", "stats-tot_idle_time") == 12.5); /* a float counter: DERIVE holds integers */
    CHECK_INT_EQ(derive("derive", "stats-total_dh_rounds_round3"), 3);
    for (size_t i = 0; i < n_seen; i++)
        CHECK(strstr(seen[i].type_instance, "version") == NULL); /* text is not a value */
    teardown();
}

static void two_value_types(void)
{
    setup();
    mm_snapshot_add_double(&inst.snap, MM_ORIGIN_PROCESS, MM_COUNTER, "cpu_time_system", 0.25, "role", "all");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_GAUGE, "processes", 0, "role", "all");
    mm_snapshot_add_double(&inst.snap, MM_ORIGIN_PROCESS, MM_COUNTER, "cpu_time_user", 1.5, "role", "all");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_COUNTER, "read_bytes", 10, "role", "all");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_GAUGE, "created_at", 1700000000, "role", "all");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_PROCESS, MM_GAUGE, "num_fds", 5); /* no role */
    plugin_dispatch_snapshot(&inst);
    const struct seen_vl *cpu = find_vl("ps_cputime", "all");
    CHECK(cpu && cpu->n == 2 && cpu->values[0].derive == 1500000 && cpu->values[1].derive == 250000);
    /* no threads: processes 0 and threads unknown, as before */
    const struct seen_vl *count = find_vl("ps_count", "all");
    CHECK(count && count->n == 2 && count->values[0].gauge == 0 && isnan(count->values[1].gauge));
    CHECK(find_vl("io_octets", "all") == NULL); /* DERIVE with one value missing: not sent */
    CHECK(find_vl("gauge", "all-created_at") == NULL && n_seen == 2);
    teardown();
}

static void identifiers_from_labels(void)
{
    setup();
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "time_wait", 4, "side", "client");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "unique_ips", 17, "side", "client");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "bytes_acked", 99, "side", "upstream");
    /* a connection metric the schema does not know is not taken for a TCP state */
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "new_figure", 3, "side", "client");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_COUNTRY, MM_GAUGE, "connections", 12, "country", "DE");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_COUNTRY, MM_GAUGE, "unique_ips", 6, "country", "DE");
    /* labels the template does not name follow in key order; '/' cannot be in an identifier */
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_CLIENTS, MM_COUNTER, "test_bucket", 8, "le", "60");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_SUMMARY, MM_GAUGE, "test_gauge", 5, "secret", "a/b");
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "established", 1); /* no side */
    /* another label value that becomes the same identifier: sent once, the first */
    mm_snapshot_add_int(&inst.snap, MM_ORIGIN_SUMMARY, MM_GAUGE, "test_gauge", 6, "secret", "a_b");
    plugin_dispatch_snapshot(&inst);
    CHECK(gauge("tcp_connections", "client-TIME_WAIT") == 4);
    CHECK(gauge("gauge", "client-unique_ips") == 17);
    CHECK(gauge("bytes", "upstream-acked") == 99);
    CHECK(gauge("gauge", "client-new_figure") == 3);
    CHECK(gauge("tcp_connections", "country-DE") == 12);
    CHECK(gauge("gauge", "country-DE-unique_ips") == 6);
    CHECK_INT_EQ(derive("derive", "clients-test_bucket-60"), 8);
    CHECK(gauge("gauge", "summary-test_gauge-a_b") == 5);
    CHECK_INT_EQ(n_seen, 8);
    teardown();
}

static const notification_t *notif(const char *type_instance)
{
    for (size_t i = 0; i < n_notifs; i++)
        if (strcmp(notifs[i].type_instance, type_instance) == 0)
            return &notifs[i];
    return NULL;
}

static void events_become_notifications(void)
{
    setup();
    struct mm_source_facts facts = { .start_time = 100 };
    snprintf(facts.config_id, sizeof(facts.config_id), "aaa");
    mm_events_update(&inst.events_state, &inst.events, 1, NULL, &facts, NULL);
    plugin_dispatch_snapshot(&inst);
    CHECK_INT_EQ(n_notifs, 0); /* the first read of a proxy that is up says nothing */

    mm_events_update(&inst.events_state, &inst.events, 0, "connection refused", &facts, NULL);
    plugin_dispatch_snapshot(&inst);
    const notification_t *n = notif("up");
    CHECK(n && n->severity == NOTIF_FAILURE && strcmp(n->message, "MTProxy \"main\" is down: connection refused") == 0);
    CHECK(n && strcmp(n->plugin, "mtproxy") == 0 && strcmp(n->plugin_instance, "main") == 0 &&
          strcmp(n->type, "gauge") == 0 && strcmp(n->host, "testhost") == 0);

    n_notifs = 0;
    facts.start_time = 200;
    snprintf(facts.config_id, sizeof(facts.config_id), "bbb");
    mm_events_update(&inst.events_state, &inst.events, 1, NULL, &facts, NULL);
    plugin_dispatch_snapshot(&inst);
    CHECK_INT_EQ(n_notifs, 3);
    n = notif("up");
    CHECK(n && n->severity == NOTIF_OKAY && strcmp(n->message, "MTProxy \"main\" is up again") == 0);
    n = notif("start_time");
    CHECK(n && n->severity == NOTIF_WARNING &&
          strcmp(n->message, "MTProxy \"main\" restarted (start_time 100 -> 200)") == 0);
    n = notif("config_md5");
    CHECK(n && n->severity == NOTIF_OKAY &&
          strcmp(n->message, "MTProxy \"main\" configuration reloaded (config_md5 aaa -> bbb)") == 0);

    /* a page without a start time: a new master process is the restart */
    n_notifs = 0;
    struct mm_source_facts none = { 0 };
    struct mm_master_identity master = { 1, 4242, 0 };
    mm_events_update(&inst.events_state, &inst.events, 1, NULL, &none, &master);
    master = (struct mm_master_identity){ 1, 4343, 1 };
    mm_events_update(&inst.events_state, &inst.events, 1, NULL, &none, &master);
    plugin_dispatch_snapshot(&inst);
    n = notif("start_time");
    CHECK(n && strcmp(n->message, "MTProxy \"main\" restarted (master pid 4242 -> 4343)") == 0);

    /* down in between, no master found then: the restart names the master
     * before it, not "pid 0" */
    n_notifs = 0;
    master = (struct mm_master_identity){ 1, 0, 1 };
    mm_events_update(&inst.events_state, &inst.events, 0, "timed out", &none, &master);
    master = (struct mm_master_identity){ 1, 4444, 2 };
    mm_events_update(&inst.events_state, &inst.events, 1, NULL, &none, &master);
    plugin_dispatch_snapshot(&inst);
    n = notif("start_time");
    CHECK(n && strcmp(n->message, "MTProxy \"main\" restarted (master pid 4343 -> 4444)") == 0);

    /* no master seen before the restart: no made-up old pid */
    struct mm_events_state fresh;
    mm_events_state_init(&fresh);
    master = (struct mm_master_identity){ 1, 0, 0 };
    mm_events_update(&fresh, &inst.events, 0, "refused", &none, &master);
    master = (struct mm_master_identity){ 1, 5555, 1 };
    mm_events_update(&fresh, &inst.events, 1, NULL, &none, &master);
    const struct mm_event *e = mm_events_find(&inst.events, MM_EVENT_RESTART);
    CHECK(e && strcmp(e->message, "restarted (master is now pid 5555)") == 0);
    teardown();
}

int main(void)
{
    TEST(every_value_list_fits_types_db);
    TEST(page_keys_are_apart_from_health);
    TEST(page_keys_types);
    TEST(two_value_types);
    TEST(identifiers_from_labels);
    TEST(events_become_notifications);
    return check_done();
}
