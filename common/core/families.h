/* families.h — the schema: what each origin and each known family becomes in
 * line protocol and in collectd. One table drives both outputs, the collectd
 * mapping (outputs/collectd_map.c) and the check of docs/metrics.md
 * (tests/tools/mm_schema prints it).
 *
 * Line protocol: a family's field lives in its origin's measurement (the
 * page's own, "mtproxy_stats" for the official /stats, for page keys), tags
 * `instance` plus the metric's labels.
 * collectd: mtproxy-<instance>/<type>-<type_instance>. The type is the
 * family's collectd type, else "derive" for an integer counter (DERIVE: the
 * proxy's counters reset when it restarts) and "gauge" for the rest; text is
 * never a value. type_instance comes from a template: {name}, {NAME} (upper
 * case), {page} (the page's prefix, "stats"), {<label key>}; labels the
 * template does not name are appended as "-<value>" in key order. A type with
 * two data sources (ps_cputime user+syst ...) gathers two families into one
 * value list. Families found at run time (page keys, Prometheus families)
 * take their origin's defaults. */
#ifndef MM_FAMILIES_H
#define MM_FAMILIES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/metric_kinds.h"

struct mm_collectd_spec {
    const char *type;       /* NULL: "derive" for an integer counter, else "gauge" */
    const char *instance;   /* type_instance template; NULL: the origin's */
    const char *ds_name;    /* in a type with several data sources: this one's (types.db) */
    unsigned char ds, n_ds; /* its index, and how many the type has (0: one) */
    bool derive;            /* with an explicit type: its data sources are DERIVE */
    bool none;              /* not a collectd value (e.g. its change is a notification) */
    double scale;           /* 0: 1 (cpu seconds -> microseconds for ps_cputime) */
};

struct mm_family_desc {
    enum mm_origin origin;
    const char *name;
    enum mm_kind kind;
    enum mm_value_type type;
    struct mm_collectd_spec collectd;
};

struct mm_origin_desc {
    const char *name;              /* "page", "health" ... */
    const char *measurement;       /* NULL for MM_ORIGIN_PAGE: the page's */
    const char *collectd_instance; /* default type_instance template */
};

const struct mm_origin_desc *mm_origin_desc(enum mm_origin origin);

/* The schema entry of a known family, or NULL (page keys have none here: a
 * source's own table types them). */
const struct mm_family_desc *mm_family_desc_find(enum mm_origin origin, const char *name);
size_t mm_family_desc_count(void);
const struct mm_family_desc *mm_family_desc_at(size_t i);

#endif
