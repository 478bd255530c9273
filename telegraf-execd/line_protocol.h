/* line_protocol.h — writes a snapshot as InfluxDB line protocol.
 *
 * One line per (measurement, label set): measurement from the metric group,
 * tags `instance` plus the metric's labels sorted by key, fields under the
 * metrics' names. Integers get the `i` suffix (never `u`: InfluxDB 1.x
 * rejects it), NaN and infinities are left out, text becomes a string field,
 * and every line carries the gather's timestamp in nanoseconds so that all
 * measurements of one gather line up. */
#ifndef MM_LINE_PROTOCOL_H
#define MM_LINE_PROTOCOL_H

#include <stdint.h>
#include <stdio.h>

#include "metric.h"

const char *mm_lp_measurement(enum mm_group group);

/* Writes every line; returns the number of lines, or -1 on a write error. */
int mm_lp_write_snapshot(FILE *out, const struct mm_snapshot *snap, const char *instance,
                         int64_t timestamp_ns);

#endif
