/* events.c — up/down, restart and reload detection (see events.h). */
#include "core/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void mm_events_state_init(struct mm_events_state *st)
{
    memset(st, 0, sizeof(*st));
    st->last_up = -1;
    st->last_master_restarts = -1;
}

static void add(struct mm_events *out, enum mm_event_kind kind, enum mm_event_severity severity,
                const char *subject, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add(struct mm_events *out, enum mm_event_kind kind, enum mm_event_severity severity,
                const char *subject, const char *fmt, ...)
{
    if (out->count >= MM_EVENTS_MAX)
        return;
    struct mm_event *e = &out->list[out->count++];
    e->kind = kind;
    e->severity = severity;
    e->subject = subject;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

void mm_events_update(struct mm_events_state *st, struct mm_events *out, int up, const char *down_reason,
                      const struct mm_source_facts *facts, const struct mm_master_identity *master)
{
    memset(out, 0, sizeof(*out));
    if (st->last_up != 0 && !up) /* also a proxy found down at start */
        add(out, MM_EVENT_DOWN, MM_SEVERITY_FAILURE, "up", "is down: %s", down_reason ? down_reason : "");
    if (st->last_up == 0 && up)
        add(out, MM_EVENT_UP, MM_SEVERITY_OKAY, "up", "is up again");
    st->last_up = up;

    /* A restart: the page's start time changed, or, for a page without one,
     * the process collector saw another master. */
    int64_t restarts = master && master->known ? master->restarts : -1;
    if (up && facts->start_time) {
        if (st->last_start_time && facts->start_time != st->last_start_time)
            add(out, MM_EVENT_RESTART, MM_SEVERITY_WARNING, "start_time", "restarted (start_time %lld -> %lld)",
                (long long)st->last_start_time, (long long)facts->start_time);
        st->last_start_time = facts->start_time;
    } else if (up && restarts >= 0 && st->last_master_restarts >= 0 && restarts > st->last_master_restarts) {
        if (st->last_master_pid > 0)
            add(out, MM_EVENT_RESTART, MM_SEVERITY_WARNING, "start_time", "restarted (master pid %d -> %d)",
                st->last_master_pid, master->pid);
        else
            add(out, MM_EVENT_RESTART, MM_SEVERITY_WARNING, "start_time", "restarted (master is now pid %d)",
                master->pid);
    }
    /* the last master found: a gather that found none (the proxy was down
     * in between) leaves it, so the restart names the pid before */
    if (restarts >= 0) {
        st->last_master_restarts = restarts;
        if (master->pid > 0)
            st->last_master_pid = master->pid;
    }

    if (up && facts->config_id[0]) {
        if (st->last_config_id[0] && strcmp(facts->config_id, st->last_config_id) != 0)
            add(out, MM_EVENT_RELOAD, MM_SEVERITY_OKAY, "config_md5", "configuration reloaded (config_md5 %s -> %s)",
                st->last_config_id, facts->config_id);
        snprintf(st->last_config_id, sizeof(st->last_config_id), "%s", facts->config_id);
    }

    /* Which implementation wrote the page: a text, so in collectd it is this
     * notification (once at the first page, then on a change). */
    if (up && facts->implementation[0] && strcmp(facts->implementation, st->last_implementation) != 0) {
        if (st->last_implementation[0])
            add(out, MM_EVENT_IMPLEMENTATION, MM_SEVERITY_WARNING, "implementation",
                "page now written by %s (was %s)", facts->implementation, st->last_implementation);
        else
            add(out, MM_EVENT_IMPLEMENTATION, MM_SEVERITY_OKAY, "implementation", "page written by %s",
                facts->implementation);
        snprintf(st->last_implementation, sizeof(st->last_implementation), "%s", facts->implementation);
    }
}

const struct mm_event *mm_events_find(const struct mm_events *ev, enum mm_event_kind kind)
{
    for (size_t i = 0; i < ev->count; i++)
        if (ev->list[i].kind == kind)
            return &ev->list[i];
    return NULL;
}
