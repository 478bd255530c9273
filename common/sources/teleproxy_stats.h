/* teleproxy_stats.h — teleproxy's /stats page as a source (source.h).
 *
 * teleproxy (a C fork of MTProxy) prints the official keys plus per-secret
 * keys secret_<label>_<what> and DC probe keys dc<N>_probe_<what>. Here they
 * become one family per <what> with a label: secret_connections
 * secret=alice, dc_probe_latency_last dc=2, typed counter or gauge as
 * teleproxy counts them; secrets past MaxSecrets are summed as "other".
 * Page keys go to measurement "teleproxy_stats" (not "teleproxy", where its
 * /metrics page goes: the same names there are floats, here integers, and a
 * field must keep one type in InfluxDB); the summary family follows its
 * table in implementations.c. Auto-detected before the official format by
 * its version string or its own keys. */
#ifndef MM_TELEPROXY_STATS_H
#define MM_TELEPROXY_STATS_H

#include "sources/source.h"

extern const struct mm_source_ops mm_source_teleproxy_stats;

#endif
