/* stats_fields.h — what every key of the official MTProxy /stats page is.
 *
 * The table comes from ../shared/fixtures/mtproxy/README.md (the field table
 * of real captures): kind (counter / gauge / text), the number format MTProxy
 * prints (integer or float), and how multi-value fields split into metrics. */
#ifndef MM_STATS_FIELDS_H
#define MM_STATS_FIELDS_H

#include "core/metric.h"

enum mm_field_shape {
    MM_SHAPE_SCALAR,
    MM_SHAPE_JOB_CLASSES, /* 16 values, one per job class (io, cpu, main ...) */
    MM_SHAPE_DH_ROUNDS,   /* 3 values: DH rounds 1, 2, 3 */
    MM_SHAPE_ACCEPT_FAIL, /* 5 values: the causes of failed accepts */
};

struct mm_stats_field {
    const char *key;
    enum mm_kind kind;
    enum mm_value_type type; /* MM_INT, MM_DOUBLE or MM_STRING as MTProxy prints it */
    enum mm_field_shape shape;
};

/* The field for a key, or NULL for a key this version does not know. */
const struct mm_stats_field *mm_stats_field_find(const char *key);
size_t mm_stats_field_index(const struct mm_stats_field *field);
size_t mm_stats_field_count(void);
const struct mm_stats_field *mm_stats_field_at(size_t index);

/* How many values a shape has, and the suffix of value i ("io", "round1",
 * "calls" ...). Job classes without a name give NULL. */
int mm_stats_shape_width(enum mm_field_shape shape);
const char *mm_stats_shape_suffix(enum mm_field_shape shape, int i);

#endif
