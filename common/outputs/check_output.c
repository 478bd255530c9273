/* check_output.c — the health check status line (check_output.h). The metric
 * names judged here are the summary family's (clients, upstream_ready), the
 * official page's keys where the summary lacks them (the client limit), and
 * the process metrics; the fronts only pass flags in and the status out. */
#include "outputs/check_output.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "core/log.h"

void mm_check_limits_defaults(struct mm_check_limits *l)
{
    l->clients_warn = MM_CHECK_CLIENTS_WARN;
    l->clients_crit = MM_CHECK_CLIENTS_CRIT;
    l->fd_warn = MM_CHECK_FD_WARN;
    l->fd_crit = MM_CHECK_FD_CRIT;
}

int mm_check_limits_check(const struct mm_check_limits *l, char *err, size_t err_len)
{
    if (l->clients_warn > l->clients_crit) {
        snprintf(err, err_len, "the clients warning threshold (%g%%) is above the critical one (%g%%)",
                 l->clients_warn, l->clients_crit);
        return -1;
    }
    if (l->fd_warn > l->fd_crit) {
        snprintf(err, err_len, "the descriptors warning threshold (%g%%) is above the critical one (%g%%)",
                 l->fd_warn, l->fd_crit);
        return -1;
    }
    return 0;
}

const char *mm_check_status_name(enum mm_check_status s)
{
    static const char *const names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
    return (unsigned)s <= MM_CHECK_UNKNOWN ? names[s] : "UNKNOWN";
}

/* A bounded string builder: appends stop (silently) at the end of the buffer. */
struct sbuf {
    char *p;
    size_t len, pos;
};

static void put(struct sbuf *b, const char *fmt, ...) MM_PRINTF(2, 3);

static void put(struct sbuf *b, const char *fmt, ...)
{
    if (b->pos + 1 >= b->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->pos, b->len - b->pos, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    b->pos += (size_t)n;
    if (b->pos >= b->len)
        b->pos = b->len - 1;
}

/* The metric of the family with label key = want, or (want NULL) the first
 * one without that label (the whole proxy, not one role or one secret). */
static const struct mm_metric *find(const struct mm_snapshot *snap, enum mm_origin origin, const char *name,
                                    const char *key, const char *want)
{
    if (want)
        return mm_snapshot_find_labeled(snap, origin, name, key, want);
    for (const struct mm_metric *m = mm_snapshot_find(snap, origin, name); m; m = mm_snapshot_next_of_family(snap, m))
        if (!mm_metric_label(m, key))
            return m;
    return NULL;
}

/* A finite number of the snapshot, or NAN when absent. */
static double value(const struct mm_snapshot *snap, enum mm_origin origin, const char *name, const char *key,
                    const char *want)
{
    const struct mm_metric *m = find(snap, origin, name, key, want);
    double v = m ? mm_metric_as_double(m) : NAN;
    return isfinite(v) ? v : NAN;
}

static enum mm_check_status worse(enum mm_check_status a, enum mm_check_status b)
{
    /* UNKNOWN ranks below CRITICAL: a known failure says more */
    static const int rank[] = { 0, 1, 3, 2 };
    return rank[b] > rank[a] ? b : a;
}

static enum mm_check_status judge(double pct, double warn, double crit)
{
    if (pct > crit)
        return MM_CHECK_CRITICAL;
    if (pct > warn)
        return MM_CHECK_WARNING;
    return MM_CHECK_OK;
}

/* The page's text values may hold anything: keep the status line one line of
 * printable ASCII without the perfdata separator. */
static void put_clean(struct sbuf *b, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        put(b, "%c", (c < 0x20 || c > 0x7e || c == '|') ? '?' : (char)c);
    }
}

enum mm_check_status mm_check_format(char *buf, size_t len, const struct mm_snapshot *snap, const char *instance,
                                     const struct mm_check_limits *l, const char *down_reason)
{
    if (!buf || len == 0)
        return MM_CHECK_UNKNOWN;
    char text[768], perf[512];
    struct sbuf t = { text, sizeof(text), 0 }, p = { perf, sizeof(perf), 0 };
    text[0] = perf[0] = '\0';
    enum mm_check_status st = MM_CHECK_OK;

    double up = value(snap, MM_ORIGIN_HEALTH, "up", "role", NULL);
    if (isnan(up)) {
        st = MM_CHECK_UNKNOWN;
        put(&t, "no gather result");
    } else if (up < 1) {
        st = MM_CHECK_CRITICAL;
        put(&t, "down (stats page not readable");
        if (down_reason && *down_reason) {
            put(&t, ": ");
            put_clean(&t, down_reason, 200);
        }
        put(&t, ")");
        put(&p, "up=0;;1:;0;1");
    } else {
        put(&t, "up");
        put(&p, "up=1;;1:;0;1");
    }

    if (up >= 1) {
        /* the summary family first (every implementation that has the concept),
         * the official page's keys where it is not filled */
        double ready = value(snap, MM_ORIGIN_SUMMARY, "upstream_ready", "secret", NULL);
        if (isnan(ready))
            ready = value(snap, MM_ORIGIN_PAGE, "total_ready_targets", "role", NULL);
        if (!isnan(ready)) {
            if (ready < 1) {
                st = worse(st, MM_CHECK_CRITICAL);
                put(&t, ", CRITICAL: no upstream target ready");
            } else {
                put(&t, ", %.0f upstream target%s ready", ready, ready == 1 ? "" : "s");
            }
            put(&p, " ready_targets=%.0f;;1:;0", ready);
        }
        double clients = value(snap, MM_ORIGIN_SUMMARY, "clients", "secret", NULL);
        if (isnan(clients))
            clients = value(snap, MM_ORIGIN_PAGE, "total_special_connections", "role", NULL);
        /* the client limit: only the official page has it */
        double limit = value(snap, MM_ORIGIN_PAGE, "total_max_special_connections", "role", NULL);
        if (!isnan(clients)) {
            if (!isnan(limit) && limit > 0) {
                double pct = 100.0 * clients / limit;
                enum mm_check_status s = judge(pct, l->clients_warn, l->clients_crit);
                st = worse(st, s);
                put(&t, ", %s%s%.0f of %.0f clients (%.1f%%)", s == MM_CHECK_OK ? "" : mm_check_status_name(s),
                    s == MM_CHECK_OK ? "" : ": ", clients, limit, pct);
                put(&p, " clients=%.0f;%.0f;%.0f;0;%.0f", clients, floor(limit * l->clients_warn / 100.0),
                    floor(limit * l->clients_crit / 100.0), limit);
            } else {
                put(&t, ", %.0f clients", clients);
                put(&p, " clients=%.0f;;;0", clients);
            }
        }
    }

    /* descriptors are judged whether or not the page answers: a proxy out of
     * descriptors may be exactly why it does not */
    double fd = value(snap, MM_ORIGIN_PROCESS, "fd_usage_percent", "role", "all");
    if (!isnan(fd)) {
        enum mm_check_status s = judge(fd, l->fd_warn, l->fd_crit);
        st = worse(st, s);
        put(&t, ", %s%sdescriptors at %.1f%% of the limit", s == MM_CHECK_OK ? "" : mm_check_status_name(s),
            s == MM_CHECK_OK ? "" : ": ", fd);
        put(&p, " fd_usage=%.1f%%;%g;%g;0;100", fd, l->fd_warn, l->fd_crit);
    }

    struct sbuf out = { buf, len, 0 };
    buf[0] = '\0';
    put(&out, "MTPROXY %s - ", mm_check_status_name(st));
    if (instance && *instance) {
        put_clean(&out, instance, 63);
        put(&out, ": ");
    }
    put(&out, "%s", text);
    if (perf[0])
        put(&out, " | %s", perf);
    return st;
}

enum mm_check_status mm_check_write(FILE *out, const struct mm_snapshot *snap, const char *instance,
                                    const struct mm_check_limits *l, const char *down_reason)
{
    char line[1536];
    enum mm_check_status st = mm_check_format(line, sizeof(line), snap, instance, l, down_reason);
    if (fprintf(out, "%s\n", line) < 0 || fflush(out) != 0)
        return MM_CHECK_UNKNOWN;
    return st;
}
