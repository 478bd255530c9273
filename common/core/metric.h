/* metric.h — the snapshot model shared by both fronts.
 *
 * One gather produces a flat list of metrics. A metric has a group (which
 * source produced it: the fronts map groups to collectd types and to
 * line-protocol measurements), a name, a kind (counter / gauge / text), a
 * typed value and up to MM_LABEL_MAX labels (country, side, state, role ...).
 * The snapshot is reused between gathers so its array is allocated once. */
#ifndef MM_METRIC_H
#define MM_METRIC_H

#include <stddef.h>
#include <stdint.h>

enum mm_kind { MM_COUNTER, MM_GAUGE, MM_TEXT };
enum mm_value_type { MM_INT, MM_DOUBLE, MM_STRING };

/* Who produced a metric. Each group becomes one line-protocol measurement
 * and one family of collectd identifiers. */
enum mm_group {
    MM_GROUP_STATS,       /* keys of the proxy's /stats page */
    MM_GROUP_HEALTH,      /* up, scrape duration, parse errors */
    MM_GROUP_PROCESS,     /* master / workers from /proc */
    MM_GROUP_CONNECTIONS, /* kernel socket table, per side */
    MM_GROUP_COUNTRY,     /* connections per country */
    MM_GROUP_CLIENTS,     /* clients over time: distinct IPs per window, churn */
};

#define MM_NAME_MAX 96
#define MM_LABEL_MAX 3
#define MM_LABEL_VALUE_MAX 48

struct mm_label {
    const char *key; /* a static string: "role", "side", "state", "country" */
    char value[MM_LABEL_VALUE_MAX];
};

struct mm_metric {
    enum mm_group group;
    enum mm_kind kind;
    enum mm_value_type type;
    char name[MM_NAME_MAX];
    union {
        int64_t i;
        double d;
        char *s; /* owned by the snapshot */
    } value;
    int n_labels;
    struct mm_label labels[MM_LABEL_MAX];
};

struct mm_snapshot {
    struct mm_metric *items;
    size_t count;
    size_t cap;
};

void mm_snapshot_init(struct mm_snapshot *snap);
/* Drops the metrics but keeps the allocation for the next gather. */
void mm_snapshot_reset(struct mm_snapshot *snap);
void mm_snapshot_free(struct mm_snapshot *snap);

/* Each returns the new metric, or NULL when memory ran out or the name does
 * not fit MM_NAME_MAX (the caller reports it; the snapshot stays valid). */
struct mm_metric *mm_snapshot_add_int(struct mm_snapshot *snap, enum mm_group group,
                                      enum mm_kind kind, const char *name, int64_t value);
struct mm_metric *mm_snapshot_add_double(struct mm_snapshot *snap, enum mm_group group,
                                         enum mm_kind kind, const char *name, double value);
struct mm_metric *mm_snapshot_add_text(struct mm_snapshot *snap, enum mm_group group,
                                       const char *name, const char *text);

/* Adds a label; returns -1 when the metric has MM_LABEL_MAX labels already or
 * the value does not fit. */
int mm_metric_add_label(struct mm_metric *m, const char *key, const char *value);
const char *mm_metric_label(const struct mm_metric *m, const char *key);

/* First metric of a group with that name (labels ignored), or NULL. */
const struct mm_metric *mm_snapshot_find(const struct mm_snapshot *snap, enum mm_group group,
                                         const char *name);

/* The value as a double, whatever its type (text gives NAN). */
double mm_metric_as_double(const struct mm_metric *m);

#endif
