/* events.h — what changed about a proxy since the previous gather: it went
 * down, came up again, restarted, reloaded its configuration.
 *
 * Computed once per gather from the scrape's outcome, the source's facts
 * (start time, configuration identity) and the process collector's master
 * identity (for implementations whose page has no start time), never from
 * metric names. The collectd front turns events into notifications, the
 * Telegraf front into log lines. */
#ifndef MM_EVENTS_H
#define MM_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/facts.h"

enum mm_event_kind { MM_EVENT_DOWN, MM_EVENT_UP, MM_EVENT_RESTART, MM_EVENT_RELOAD, MM_EVENT_IMPLEMENTATION };
enum mm_event_severity { MM_SEVERITY_FAILURE, MM_SEVERITY_WARNING, MM_SEVERITY_OKAY };

#define MM_EVENT_MESSAGE_MAX 400
#define MM_EVENTS_MAX 5 /* at most one of each kind per gather */

struct mm_event {
    enum mm_event_kind kind;
    enum mm_event_severity severity;
    const char *subject; /* what it is about: "up", "start_time", "config_md5" */
    char message[MM_EVENT_MESSAGE_MAX]; /* "restarted (start_time 1 -> 2)", without the proxy's name */
};

struct mm_events {
    size_t count;
    struct mm_event list[MM_EVENTS_MAX];
};

/* Kept between gathers by the instance. */
struct mm_events_state {
    int last_up; /* -1 before the first gather */
    int64_t last_start_time;
    char last_config_id[MM_FACT_TEXT_MAX];
    char last_implementation[32]; /* which implementation wrote the page */
    int64_t last_master_restarts; /* -1: not known yet */
    int last_master_pid;          /* the last master found; 0: none yet */
};

void mm_events_state_init(struct mm_events_state *st);

/* What the process collector saw of the master this gather. */
struct mm_master_identity {
    int known;        /* 0: no process collector */
    int pid;          /* 0: none found */
    int64_t restarts; /* master changes seen since the agent started */
};

/* Fills out (cleared first) from this gather. down_reason: why the page
 * could not be read (used when up is 0). */
void mm_events_update(struct mm_events_state *st, struct mm_events *out, int up, const char *down_reason,
                      const struct mm_source_facts *facts, const struct mm_master_identity *master);

/* The event of a kind in out, or NULL. */
const struct mm_event *mm_events_find(const struct mm_events *ev, enum mm_event_kind kind);

#endif
