/* json_output.h — the snapshot as one JSON document per gather (--format
 * json), generated with yajl; schema in docs/json-format.md. */
#ifndef MM_JSON_OUTPUT_H
#define MM_JSON_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "core/metric.h"

/* Writes one document on one line; 0, or -1 on a write error / no memory. */
int mm_json_write_snapshot(FILE *out, const struct mm_snapshot *snap, const char *instance,
                           int64_t timestamp_ns);

#endif
