/* prometheus_source.h — Prometheus text pages as a source (source.h).
 *
 * "prometheus" reads any Prometheus / OpenMetrics text page, tells which
 * implementation wrote it (implementations.h) and reports its series under
 * that implementation's measurement with its own names minus its prefix
 * (teleproxy_secret_connections{secret="alice"} becomes secret_connections
 * secret=alice in measurement teleproxy), per-secret series bounded by
 * MaxSecrets, then the summary family from the implementation's table.
 * "teleproxy", "mtg", "telemt", "mtprotoproxy" and "mtproto.zig" do the same
 * for one implementation, without detection (never picked by Source auto). */
#ifndef MM_PROMETHEUS_SOURCE_H
#define MM_PROMETHEUS_SOURCE_H

#include "sources/source.h"

extern const struct mm_source_ops mm_source_prometheus;
extern const struct mm_source_ops mm_source_prometheus_teleproxy;
extern const struct mm_source_ops mm_source_prometheus_mtg;
extern const struct mm_source_ops mm_source_prometheus_telemt;
extern const struct mm_source_ops mm_source_prometheus_mtprotoproxy;
extern const struct mm_source_ops mm_source_prometheus_mtproto_zig;

#endif
