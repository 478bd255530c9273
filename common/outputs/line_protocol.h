/* line_protocol.h — writes a snapshot as InfluxDB line protocol.
 *
 * One line per (measurement, label set): measurement from the metric's family
 * (core/families.h), tags `instance` plus the metric's labels sorted by key (a
 * label `instance` becomes `exported_instance`), fields under the metrics'
 * names, each at most once per line. Grouping is O(n) (a hash of series). Integers get the `i` suffix (never `u`: InfluxDB 1.x
 * rejects it), NaN and infinities are left out, text becomes a string field.
 *
 * Timestamp: every line carries the time the gather started (wall clock, ns),
 * so that all measurements of one gather line up, whatever Telegraf's receive
 * time would have been.
 *
 * Names and values are made safe rather than rejected (see docs/json-format.md
 * and the man page, section LINE PROTOCOL):
 *   - control characters (C0, DEL) become a space: a raw newline would split
 *     the line for Telegraf (influxd 1.6 accepts it inside a string);
 *   - bytes that are not valid UTF-8 become U+FFFD;
 *   - in measurements, tag keys, tag values and field keys a backslash that
 *     ends the text or precedes a backslash, ',', '=', ' ' or '"' becomes '/'
 *     (the parser would read it as an escape); other backslashes stay;
 *   - a measurement, tag key or field key starting with '_' gets an 'x'
 *     prefix (InfluxDB 2 reserves them), as does a measurement starting with
 *     '#' (the line would be a comment); a tag or field key `time` becomes
 *     `time_` (InfluxDB 1.x rejects it);
 *   - empty tag values and empty keys are left out. */
#ifndef MM_LINE_PROTOCOL_H
#define MM_LINE_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/metric.h"

/* Writes every line; returns the number of lines, or -1 on a write error. */
int mm_lp_write_snapshot(FILE *out, const struct mm_snapshot *snap, const char *instance,
                         int64_t timestamp_ns);
/* The same; when distinct label sets are written as one series (see the
 * rules above: '/' and '\\' both become '/'), every later one gets the tag
 * MM_LP_COLLISION_TAG numbered 2, 3 ..., so that none is lost in InfluxDB,
 * and note (when not NULL) says which, for the caller to log once ("" when
 * there was none). */
#define MM_LP_COLLISION_TAG "lp_collision"
int mm_lp_write_snapshot_noting(FILE *out, const struct mm_snapshot *snap, const char *instance,
                                int64_t timestamp_ns, char *note, size_t note_len);

/* The general form, for one line of arbitrary names (tests/tools uses it). */
struct mm_lp_tag {
    const char *key;
    const char *value;
};

struct mm_lp_field {
    const char *key;
    enum mm_value_type type;
    int64_t i;
    double d;
    const char *s;
};

/* Returns 1 when a line was written, 0 when no field was writable (nothing
 * written), -1 on a write error or out of memory. */
int mm_lp_write_line(FILE *out, const char *measurement, const struct mm_lp_tag *tags, size_t n_tags,
                     const struct mm_lp_field *fields, size_t n_fields, int64_t timestamp_ns);

/* Copies s to out (at most out_len bytes with the NUL) with invalid UTF-8
 * replaced by U+FFFD and control characters by a space; shared with the JSON
 * and text writers. Returns out. */
char *mm_text_sanitize(const char *s, char *out, size_t out_len);

#endif
