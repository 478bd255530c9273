/* text_output.c — --format text: what a person wants at a glance, from the
 * same snapshot the other formats print. Sections appear only when the
 * snapshot has their metrics (process and socket metrics depend on the
 * agent's privileges and options). Raw numbers are printed as they are, with
 * a human unit beside them, so scripts grepping for them find them. Every
 * line fits 80 columns. */
#include "outputs/text_output.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outputs/line_protocol.h"
#include "core/log.h"

#define WIDTH 80
#define TOP_COUNTRIES 5

static const struct mm_metric *find(const struct mm_snapshot *snap, enum mm_origin origin, const char *name,
                                    const char *label_key, const char *label_value)
{
    return label_key ? mm_snapshot_find_labeled(snap, origin, name, label_key, label_value)
                     : mm_snapshot_find(snap, origin, name);
}

static const struct mm_metric *stat(const struct mm_snapshot *snap, const char *name)
{
    return find(snap, MM_ORIGIN_PAGE, name, NULL, NULL);
}

static const struct mm_metric *proc(const struct mm_snapshot *snap, const char *name, const char *role)
{
    return find(snap, MM_ORIGIN_PROCESS, name, "role", role);
}

static const struct mm_metric *conn(const struct mm_snapshot *snap, const char *name)
{
    return find(snap, MM_ORIGIN_CONNECTIONS, name, "side", "client");
}

static double num(const struct mm_metric *m)
{
    return m ? mm_metric_as_double(m) : NAN;
}

/* "7622656 (7.3 MiB)" */
static void bytes_text(char *buf, size_t len, double v)
{
    static const char *units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
    if (isnan(v)) { /* one of a pair missing (a dropped metric): never units[-1] */
        snprintf(buf, len, "n/a");
        return;
    }
    if (v < 1024) {
        snprintf(buf, len, "%.0f B", v);
        return;
    }
    double h = v;
    int u = -1;
    while (h >= 1024 && u < 4) {
        h /= 1024;
        u++;
    }
    snprintf(buf, len, "%.0f (%.1f %s)", v, h, units[u]);
}

static void duration_text(char *buf, size_t len, double s)
{
    long long t = (long long)s;
    if (t >= 86400)
        snprintf(buf, len, "%lldd %lldh %lldm", t / 86400, t % 86400 / 3600, t % 3600 / 60);
    else if (t >= 3600)
        snprintf(buf, len, "%lldh %lldm %llds", t / 3600, t % 3600 / 60, t % 60);
    else if (t >= 60)
        snprintf(buf, len, "%lldm %llds", t / 60, t % 60);
    else
        snprintf(buf, len, "%llds", t);
}

/* One row: a 13-column label, then the text cut to the width. */
static void row(FILE *out, const char *label, const char *fmt, ...) MM_PRINTF(3, 4);
static void row(FILE *out, const char *label, const char *fmt, ...)
{
    char text[512], clean[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    mm_text_sanitize(text, clean, sizeof(clean));
    char line[WIDTH * 4];
    int n = snprintf(line, sizeof(line), "%-13s%s", label, clean);
    /* cut to WIDTH characters (UTF-8 aware: count lead bytes only) */
    int chars = 0;
    for (int i = 0; i < n && line[i]; i++) {
        if (((unsigned char)line[i] & 0xc0) != 0x80 && ++chars > WIDTH) {
            line[i] = '\0';
            break;
        }
    }
    fprintf(out, "%s\n", line);
}

struct country {
    const char *code;
    int64_t connections, ips;
};

static int by_connections(const void *a, const void *b)
{
    const struct country *x = a, *y = b;
    if (x->connections != y->connections)
        return x->connections < y->connections ? 1 : -1;
    return strcmp(x->code, y->code);
}

static void countries(FILE *out, const struct mm_snapshot *snap)
{
    size_t n = 0;
    const struct mm_metric *first = mm_snapshot_find(snap, MM_ORIGIN_COUNTRY, "connections");
    for (const struct mm_metric *m = first; m; m = mm_snapshot_next_of_family(snap, m))
        n++;
    if (n == 0)
        return;
    struct country *c = calloc(n, sizeof(*c));
    if (!c)
        return;
    size_t k = 0;
    for (const struct mm_metric *m = first; m && k < n; m = mm_snapshot_next_of_family(snap, m)) {
        const char *code = mm_metric_label(m, "country");
        c[k].code = code ? code : "?";
        c[k].connections = (int64_t)mm_metric_as_double(m);
        const struct mm_metric *ips = find(snap, MM_ORIGIN_COUNTRY, "unique_ips", "country", c[k].code);
        c[k].ips = ips ? (int64_t)mm_metric_as_double(ips) : -1;
        k++;
    }
    qsort(c, k, sizeof(*c), by_connections);
    char text[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < k && i < TOP_COUNTRIES; i++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s %" PRId64, i ? ", " : "", c[i].code,
                                c[i].connections);
        if (c[i].ips >= 0 && len < sizeof(text))
            len += (size_t)snprintf(text + len, sizeof(text) - len, " (%" PRId64 ")", c[i].ips);
        if (len >= sizeof(text))
            break;
    }
    /* "RU 16 (7)": connections (distinct IPs), the busiest first */
    if (k > TOP_COUNTRIES)
        row(out, "countries", "%s, +%zu more", text, k - TOP_COUNTRIES);
    else
        row(out, "countries", "%s", text);
    free(c);
}

int mm_text_write_snapshot(FILE *out, const struct mm_snapshot *snap, const char *instance,
                           int64_t timestamp_ns)
{
    char when[40], a[64], b[64];
    time_t secs = (time_t)(timestamp_ns / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);

    const struct mm_metric *up = find(snap, MM_ORIGIN_HEALTH, "up", NULL, NULL);
    const struct mm_metric *took = find(snap, MM_ORIGIN_HEALTH, "scrape_duration_seconds", NULL, NULL);
    row(out, "mtproxy", "%s  %s  %s (scrape %.0f ms)", instance ? instance : "", when,
        up && num(up) > 0 ? "UP" : "DOWN", took ? num(took) * 1000 : 0.0);

    const struct mm_metric *m;
    if ((m = stat(snap, "version")) && m->type == MM_STRING)
        row(out, "version", "%s", m->value.s);
    if ((m = stat(snap, "uptime"))) {
        duration_text(a, sizeof(a), num(m));
        if (num(m) >= 60)
            row(out, "uptime", "%.0f s (%s)", num(m), a);
        else
            row(out, "uptime", "%.0f s", num(m));
    }

    /* clients */
    const struct mm_metric *special = stat(snap, "total_special_connections");
    const struct mm_metric *max_special = stat(snap, "total_max_special_connections");
    if (special)
        row(out, "clients", "%.0f connections (total_special_connections)%s%.0f", num(special),
            max_special ? ", limit " : "", max_special ? num(max_special) : 0.0);
    const struct mm_metric *est = conn(snap, "established"); /* tcpconns spelling (common/sockdiag.c) */
    const struct mm_metric *ips = conn(snap, "unique_ips");
    if (est || ips)
        row(out, "sockets", "%.0f established from %.0f distinct IPs (client side)", est ? num(est) : 0.0,
            ips ? num(ips) : 0.0);
    countries(out, snap);

    /* traffic */
    const struct mm_metric *rx = conn(snap, "bytes_received"), *tx = conn(snap, "bytes_acked");
    if (rx || tx) {
        bytes_text(a, sizeof(a), num(rx));
        bytes_text(b, sizeof(b), num(tx));
        row(out, "traffic", "clients: in %s, out %s", a, b);
    }
    /* Page fields like tcp_readv_bytes and load_average_total are the
     * answering process's (the master's under -M N, which serves no client):
     * whole-proxy figures come from the processes, the page's are labelled. */
    const struct mm_metric *workers = proc(snap, "processes", "workers");
    const char *scope = workers && num(workers) > 0 ? "master only: " : "";
    const struct mm_metric *prd = proc(snap, "read_bytes", "all"), *pwr = proc(snap, "write_bytes", "all");
    if (prd && pwr) {
        bytes_text(a, sizeof(a), num(prd));
        bytes_text(b, sizeof(b), num(pwr));
        row(out, rx || tx ? "" : "traffic", "read %s, written %s (all processes)", a, b);
    }
    const struct mm_metric *rd = stat(snap, "tcp_readv_bytes"), *wr = stat(snap, "tcp_writev_bytes");
    if (rd || wr) {
        bytes_text(a, sizeof(a), num(rd));
        bytes_text(b, sizeof(b), num(wr));
        /* tcp_readv_bytes / tcp_writev_bytes of the stats page */
        row(out, rx || tx || (prd && pwr) ? "" : "traffic", "%sread %s, written %s", scope, a, b);
    }

    /* cost on the host: the whole proxy (role all) when process metrics exist */
    const struct mm_metric *cu = proc(snap, "cpu_time_user", "all"), *cs = proc(snap, "cpu_time_system", "all");
    const struct mm_metric *load = stat(snap, "load_average_total");
    if (cu && cs)
        row(out, "cpu", "user %.2f s, system %.2f s (all processes)", num(cu), num(cs));
    else if (cu || cs)
        row(out, "cpu", "%s %.2f s (all processes)", cu ? "user" : "system", num(cu ? cu : cs));
    if (load)
        row(out, cu || cs ? "" : "cpu", "%s%.1f%% of one core (load_average_total)", scope, num(load));
    const struct mm_metric *rss = proc(snap, "memory_rss", "all");
    if (!rss)
        rss = stat(snap, "vmrss_bytes");
    if (rss) {
        bytes_text(a, sizeof(a), num(rss));
        row(out, "memory", "rss %s", a);
    }
    const struct mm_metric *fds = proc(snap, "num_fds", "all");
    if (fds) {
        const struct mm_metric *lim = proc(snap, "fd_limit_soft", "master");
        const struct mm_metric *pct = proc(snap, "fd_usage_percent", "all");
        if (lim && pct)
            row(out, "descriptors", "%.0f open, limit %.0f per process (fullest %.1f%%)", num(fds), num(lim),
                num(pct));
        else if (lim)
            row(out, "descriptors", "%.0f open, limit %.0f per process", num(fds), num(lim));
        else
            row(out, "descriptors", "%.0f open", num(fds));
    }
    const struct mm_metric *procs = proc(snap, "processes", "all");
    const struct mm_metric *restarts = proc(snap, "restarts", "master");
    if (procs && workers)
        row(out, "processes", "%.0f, restarts %.0f (master + %.0f workers)", num(procs),
            restarts ? num(restarts) : 0.0, num(workers));
    else if (procs || restarts)
        row(out, "processes", "%.0f, restarts %.0f", num(procs), restarts ? num(restarts) : 0.0);
    const struct mm_metric *errs = find(snap, MM_ORIGIN_HEALTH, "scrape_errors", NULL, NULL);
    if (errs)
        row(out, "errors", "%.0f failed scrapes", num(errs));
    fputc('\n', out);
    return ferror(out) ? -1 : 0;
}
