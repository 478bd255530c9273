/* implementations.h — what we know of each MTProxy implementation's page:
 * its name (the `implementation` text metric), where its page keys go
 * (measurement, collectd prefix), the prefix of its Prometheus names, the
 * label naming a secret or user, how to recognise its Prometheus page, and
 * its mapping table to the summary family (docs/implementations.md is the
 * same table in prose). */
#ifndef MM_IMPLEMENTATIONS_H
#define MM_IMPLEMENTATIONS_H

#include <stddef.h>

#include "core/metric.h"
#include "sources/summary.h"

struct mm_prom_page;

struct mm_implementation {
    const char *name;         /* "teleproxy", "mtg" ... */
    struct mm_page page;      /* measurement and collectd prefix of its page keys */
    const char *prefix;       /* of its Prometheus names ("teleproxy_"); NULL: found from the page */
    const char *secret_label; /* label of per-secret / per-user series, NULL: none */
    /* Names (after the prefix) that all appear on its Prometheus page. */
    const char *signature[4];
    const struct mm_summary_rule *rules;
    size_t n_rules;
};

/* The official MTProxy /stats and teleproxy's /stats (page keys as
 * stats_parser / teleproxy_stats write them). */
extern const struct mm_implementation mm_impl_mtproxy_stats;
extern const struct mm_implementation mm_impl_teleproxy_stats;

/* Implementations with a Prometheus page, and an unknown Prometheus page. */
extern const struct mm_implementation mm_impl_teleproxy;
extern const struct mm_implementation mm_impl_mtg;
extern const struct mm_implementation mm_impl_telemt;
extern const struct mm_implementation mm_impl_mtprotoproxy;
extern const struct mm_implementation mm_impl_mtproto_zig;
extern const struct mm_implementation mm_impl_prometheus;

/* Which implementation wrote a parsed Prometheus page: the first whose
 * signature names all appear (with its prefix; mtg's prefix is
 * configurable, so any prefix the signature names share). Writes the prefix
 * found into prefix (empty for an unknown page). Never NULL: an unknown page
 * is mm_impl_prometheus. */
const struct mm_implementation *mm_implementation_detect(const struct mm_prom_page *page, char *prefix,
                                                         size_t prefix_len);

#endif
