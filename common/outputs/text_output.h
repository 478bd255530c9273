/* text_output.h — the snapshot as a short summary for a person at a terminal
 * (--format text), at most 80 columns wide. */
#ifndef MM_TEXT_OUTPUT_H
#define MM_TEXT_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "core/metric.h"

/* Writes one summary followed by an empty line; 0, or -1 on a write error. */
int mm_text_write_snapshot(FILE *out, const struct mm_snapshot *snap, const char *instance,
                           int64_t timestamp_ns);

#endif
