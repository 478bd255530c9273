/* metric_kinds.h — the words of the metric model that the snapshot
 * (metric.h) and the schema (families.h) share: a family's kind, its value
 * type and the origins that namespace its name. */
#ifndef MM_METRIC_KINDS_H
#define MM_METRIC_KINDS_H

enum mm_kind { MM_COUNTER, MM_GAUGE, MM_TEXT };
enum mm_value_type { MM_INT, MM_DOUBLE, MM_STRING };

/* Where a metric comes from. Each origin is a namespace of names. */
enum mm_origin {
    MM_ORIGIN_PAGE,        /* keys of the proxy's own page, under the page's name */
    MM_ORIGIN_HEALTH,      /* up, scrape duration, errors: ours, about the scrape */
    MM_ORIGIN_SUMMARY,     /* one vocabulary across implementations */
    MM_ORIGIN_PROCESS,     /* master / workers from /proc */
    MM_ORIGIN_CONNECTIONS, /* kernel socket table, per side */
    MM_ORIGIN_COUNTRY,     /* connections per country */
    MM_ORIGIN_CLIENTS,     /* distinct clients over time, churn, lifetimes */
    MM_ORIGIN_FLEET,       /* distinct clients across a fleet of proxies (fleet/fleet.h) */
    MM_ORIGIN_COUNT
};

#endif
