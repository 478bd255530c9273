/* prometheus_text.h — a strict, bounded parser of the Prometheus text
 * exposition format (0.0.4) and of the OpenMetrics text that Go's promhttp may
 * serve instead.
 *
 * The page becomes families (name, type) and samples (name, sorted labels,
 * value). Bucket, sum, count, total and created samples stay samples of their
 * family under their own names. Timestamps and exemplars are read and
 * ignored. A value may be NaN or ±Inf here: whoever writes samples out must
 * skip those (InfluxDB rejects them). A malformed line, a duplicate series or
 * a series over a limit is skipped and counted, never turned into a number.
 * Memory is reused from one parse to the next and bounded by the limits and
 * the body size. Knows nothing about MTProxy or the metric model. */
#ifndef MM_PROMETHEUS_TEXT_H
#define MM_PROMETHEUS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

enum mm_prom_type {
    MM_PROM_UNTYPED, /* no TYPE line, "untyped" or OpenMetrics "unknown" */
    MM_PROM_COUNTER,
    MM_PROM_GAUGE,
    MM_PROM_HISTOGRAM,
    MM_PROM_SUMMARY,
    MM_PROM_INFO,           /* OpenMetrics */
    MM_PROM_STATESET,       /* OpenMetrics */
    MM_PROM_GAUGEHISTOGRAM, /* OpenMetrics */
};

struct mm_prom_limits {
    size_t line_max;               /* bytes; longer lines are skipped whole */
    unsigned labels_max;           /* labels per sample */
    size_t label_name_max;         /* bytes */
    size_t label_value_max;        /* bytes after unescaping */
    size_t name_max;               /* metric name bytes */
    unsigned series_per_family_max;
    unsigned series_max;           /* all samples of the page */
    unsigned families_max;
};

/* 16 KiB lines, 16 labels of 64/256 bytes, 128-byte names, 2,000 series per
 * family, 10,000 series and 2,000 families per page. */
void mm_prom_limits_default(struct mm_prom_limits *lim);

struct mm_prom_label {
    const char *name;
    const char *value;
};

struct mm_prom_family {
    const char *name;
    enum mm_prom_type type;
    bool typed;          /* a TYPE line declared it */
    unsigned n_samples;
};

struct mm_prom_sample {
    const char *name;    /* as on the page: foo_total, foo_bucket ... */
    unsigned family;     /* index in page->families */
    unsigned first_label; /* index in page->labels; labels sorted by name */
    unsigned n_labels;
    double value;        /* may be NaN / ±Inf */
};

struct mm_prom_result {
    unsigned lines;       /* lines read, comments and blank ones included */
    unsigned samples;     /* samples kept */
    unsigned skipped;     /* malformed lines */
    unsigned duplicates;  /* a series seen before (the first one is kept) */
    unsigned over_limit;  /* series or families beyond a limit */
    unsigned nonfinite;   /* kept samples whose value is NaN or ±Inf */
    bool openmetrics;     /* "# EOF" seen (parsing stopped there) */
    char first_error[160]; /* "line 12: ..." of the first problem, else "" */
};

struct mm_prom_arena_block;

struct mm_prom_page {
    struct mm_prom_family *families;
    size_t n_families, cap_families;
    struct mm_prom_sample *samples;
    size_t n_samples, cap_samples;
    struct mm_prom_label *labels;
    size_t n_labels, cap_labels;
    struct mm_prom_result res;
    /* private: string arena and hash tables, kept between parses */
    struct mm_prom_arena_block *arena;
    unsigned *family_index;
    size_t family_index_cap;
    unsigned *series_index;
    size_t series_index_cap;
};

void mm_prom_page_init(struct mm_prom_page *page);
void mm_prom_page_free(struct mm_prom_page *page);

/* Parses body[0..len) into page (its previous content is dropped). Returns 0
 * when the page holds at least one sample, -1 otherwise (empty, HTML, out of
 * memory ...; page->res.first_error says why). Problems on a page that did
 * parse are counted in page->res, the first one described in first_error. */
int mm_prom_parse(struct mm_prom_page *page, const char *body, size_t len,
                  const struct mm_prom_limits *lim);

/* Looks a body over without parsing it: 1 when its first meaningful line is
 * Prometheus text (a # HELP / # TYPE comment or "name[{...}] value"), 0 when
 * not (a TAB-separated /stats page, HTML, binary). */
int mm_prom_sniff(const char *body, size_t len);

/* The value of label name in sample s, or NULL. */
const char *mm_prom_label_value(const struct mm_prom_page *page, const struct mm_prom_sample *s,
                                const char *name);
/* The family named name, or NULL. */
const struct mm_prom_family *mm_prom_find_family(const struct mm_prom_page *page, const char *name);

const char *mm_prom_type_name(enum mm_prom_type type);

#endif
