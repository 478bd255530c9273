/* metric.h — the snapshot model shared by both fronts and every output.
 *
 * One gather produces a flat list of metrics. Every metric belongs to a
 * family: (origin, name) — plus the page, for the proxy's own page — with a
 * kind (counter / gauge / text) and a value type that are fixed the first
 * time the family is seen and kept for the life of the snapshot, which the
 * instance keeps for the life of the process. So a field never changes type
 * in InfluxDB, and a page key `up` can never be the health metric `up`: the
 * origin is a namespace (see families.h for what each origin becomes in line
 * protocol and in collectd).
 *
 * A metric carries up to MM_LABEL_MAX labels (role, side, state, country,
 * secret, le, or keys a Prometheus page brings), kept sorted by key; label
 * keys, label values and text values are copied into the snapshot. Adding a
 * metric is one call:
 *
 *     mm_snapshot_add_int(snap, MM_ORIGIN_CLIENTS, MM_GAUGE, "distinct_ips_1h", n);
 *     mm_snapshot_add_int(snap, MM_ORIGIN_PROCESS, MM_GAUGE, "num_fds", v, "role", "master");
 *
 * (label key/value pairs, strings, after the value). A value of another
 * numeric type than its family's is converted (an integer into a float
 * family; a whole float into an integer family), a number into a text family
 * becomes its text; what cannot be converted is dropped and counted in
 * snap->dropped. Lookups by family are O(1) (hash); the snapshot is reused
 * between gathers, so its arrays are allocated once. */
#ifndef MM_METRIC_H
#define MM_METRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#define MM_NAME_MAX 96         /* family names */
#define MM_LABEL_MAX 8         /* labels per metric */
#define MM_LABEL_KEY_MAX 64    /* bytes of a label key, NUL included */
#define MM_LABEL_VALUE_MAX 128 /* bytes of a label value, NUL included */
#define MM_FAMILY_MAX 8192     /* families one snapshot remembers */

struct mm_family_desc; /* families.h */

/* A family: what every metric of one name in one namespace shares. Owned by
 * the snapshot's registry; pointers stay valid until mm_snapshot_free. */
struct mm_family {
    enum mm_origin origin;
    enum mm_kind kind;
    enum mm_value_type type;
    const char *name;
    const char *measurement;           /* line-protocol measurement */
    const char *page;                  /* MM_ORIGIN_PAGE: the page's collectd prefix */
    const struct mm_family_desc *desc; /* the schema entry, NULL for a family found at run time */
    uint32_t hash;
    uint32_t gen;   /* gather in which first/last are valid */
    uint32_t first; /* index of this gather's first metric of the family */
    uint32_t last;
};

struct mm_label {
    const char *key; /* owned by the snapshot */
    const char *value;
};

#define MM_NO_METRIC UINT32_MAX

struct mm_metric {
    const struct mm_family *family;
    /* copies of the family's, for convenience */
    enum mm_origin origin;
    enum mm_kind kind;
    enum mm_value_type type;
    const char *name;
    union {
        int64_t i;
        double d;
        const char *s; /* owned by the snapshot */
    } value;
    uint32_t next; /* next metric of the same family in this gather, or MM_NO_METRIC */
    int n_labels;
    struct mm_label labels[MM_LABEL_MAX];
};

struct mm_arena_block;
struct mm_family_table;

/* The page the source read last gather: the line-protocol measurement of its
 * keys ("mtproxy_stats") and their collectd prefix ("stats"). Both static. */
struct mm_page {
    const char *measurement;
    const char *collectd_prefix;
};

extern const struct mm_page mm_page_default; /* the official MTProxy's /stats */

struct mm_snapshot {
    struct mm_metric *items;
    size_t count;
    size_t cap;
    size_t dropped;        /* metrics refused this gather (type, size, family cap) */
    struct mm_page page;   /* set by the source; defaults to mm_page_default */
    uint32_t gen;          /* gathers since init */
    struct mm_family_table *families;
    struct mm_arena_block *arena;
};

void mm_snapshot_init(struct mm_snapshot *snap);
/* Drops the metrics but keeps the families and the allocations. */
void mm_snapshot_reset(struct mm_snapshot *snap);
void mm_snapshot_free(struct mm_snapshot *snap);
/* The page of the next MM_ORIGIN_PAGE metrics (strings must be static). */
void mm_snapshot_set_page(struct mm_snapshot *snap, const struct mm_page *page);

/* Each returns the new metric, or NULL when it was dropped (out of memory,
 * name empty or not below MM_NAME_MAX, a label that does not fit, a type the
 * family cannot take, the family cap): then snap->dropped counts it and the
 * snapshot stays valid. Labels: const char * key/value pairs after the value. */
#define mm_snapshot_add_int(snap, origin, kind, ...) \
    mm_snapshot_add_int_labels((snap), (origin), (kind), __VA_ARGS__, (const char *)0)
#define mm_snapshot_add_double(snap, origin, kind, ...) \
    mm_snapshot_add_double_labels((snap), (origin), (kind), __VA_ARGS__, (const char *)0)
#define mm_snapshot_add_text(snap, origin, ...) \
    mm_snapshot_add_text_labels((snap), (origin), __VA_ARGS__, (const char *)0)

struct mm_metric *mm_snapshot_add_int_labels(struct mm_snapshot *snap, enum mm_origin origin,
                                             enum mm_kind kind, const char *name, int64_t value, ...)
    __attribute__((sentinel));
struct mm_metric *mm_snapshot_add_double_labels(struct mm_snapshot *snap, enum mm_origin origin,
                                                enum mm_kind kind, const char *name, double value, ...)
    __attribute__((sentinel));
struct mm_metric *mm_snapshot_add_text_labels(struct mm_snapshot *snap, enum mm_origin origin,
                                              const char *name, const char *text, ...)
    __attribute__((sentinel));

/* Adds a label to a metric just added (keeps the labels sorted); -1 when the
 * metric has MM_LABEL_MAX labels, the key is already there, the key or value
 * does not fit, or memory ran out. */
int mm_metric_add_label(struct mm_snapshot *snap, struct mm_metric *m, const char *key, const char *value);
const char *mm_metric_label(const struct mm_metric *m, const char *key);

/* The family of (origin, name) — for MM_ORIGIN_PAGE under the current page —
 * or NULL when never seen. O(1). */
const struct mm_family *mm_snapshot_family(const struct mm_snapshot *snap, enum mm_origin origin,
                                           const char *name);
/* First metric of this gather of a family (labels ignored), or NULL. O(1). */
const struct mm_metric *mm_snapshot_find(const struct mm_snapshot *snap, enum mm_origin origin,
                                         const char *name);
/* First metric of a family with label key=value, or NULL. O(metrics of the family). */
const struct mm_metric *mm_snapshot_find_labeled(const struct mm_snapshot *snap, enum mm_origin origin,
                                                 const char *name, const char *key, const char *value);
/* Next metric of the same family in this gather, or NULL. */
const struct mm_metric *mm_snapshot_next_of_family(const struct mm_snapshot *snap, const struct mm_metric *m);

/* The value as a double, whatever its type (text gives NAN). */
double mm_metric_as_double(const struct mm_metric *m);

/* Families the snapshot knows, in the order they were first seen. */
size_t mm_snapshot_family_count(const struct mm_snapshot *snap);
const struct mm_family *mm_snapshot_family_at(const struct mm_snapshot *snap, size_t i);

#endif
