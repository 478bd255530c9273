/* collectd_map.h — a snapshot as collectd value lists, from the schema
 * (core/families.h): type and type_instance of every metric, the data
 * sources of two-value types gathered into one list. Pure: the collectd
 * front only copies each list into a value_list_t and dispatches it, so the
 * mapping is tested without the daemon (tests/unit/test_collectd_dispatch.c).
 *
 * Rules: text is never a value; an identifier is sent once per gather (the
 * first metric that maps to it wins). A metric whose template names a label it
 * does not have, or whose type_instance would not fit, is left out. A
 * two-value type missing one value is sent with NaN when it is a gauge type
 * (ps_count without threads), and not at all when it is a DERIVE type (io
 * unreadable without privileges). */
#ifndef MM_COLLECTD_MAP_H
#define MM_COLLECTD_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/metric.h"

#define MM_COLLECTD_NAME_MAX 128 /* collectd's DATA_MAX_NAME_LEN */
#define MM_COLLECTD_DS_MAX 2

struct mm_collectd_values {
    char type[MM_COLLECTD_NAME_MAX];
    char type_instance[MM_COLLECTD_NAME_MAX];
    size_t n_values;
    bool derive; /* values are DERIVE (derive[]), else GAUGE (gauge[]) */
    int64_t derive_values[MM_COLLECTD_DS_MAX];
    double gauge_values[MM_COLLECTD_DS_MAX];
};

/* Where one metric goes: 1 with type, type_instance and its data source
 * (index, count) filled, 0 when it is not a collectd value. */
int mm_collectd_identifier(const struct mm_metric *m, char *type, size_t type_len, char *type_instance,
                           size_t type_instance_len, unsigned *ds, unsigned *n_ds);

typedef void (*mm_collectd_emit_fn)(void *ctx, const struct mm_collectd_values *values);

/* Calls emit for every value list of the snapshot: single values in the
 * snapshot's order, then the two-value types. O(n). Returns 0, or -1 when
 * memory ran out (the single values were emitted). */
int mm_collectd_map_snapshot(const struct mm_snapshot *snap, mm_collectd_emit_fn emit, void *ctx);

#endif
