/* sources.c — the registry of page formats (see source.h). A new format is
 * its file pair plus one line in the table below. */
#include "sources/source.h"

#include <string.h>

#include "sources/mtproxy_stats.h"
#include "sources/prometheus_source.h"
#include "sources/teleproxy_stats.h"

static const struct mm_source_ops *const sources[] = {
    &mm_source_mtproxy_stats,
    &mm_source_teleproxy_stats,
    &mm_source_prometheus,
    /* one implementation's Prometheus page, never auto-detected */
    &mm_source_prometheus_teleproxy,
    &mm_source_prometheus_mtg,
    &mm_source_prometheus_telemt,
    &mm_source_prometheus_mtprotoproxy,
    &mm_source_prometheus_mtproto_zig,
};

#define SOURCE_COUNT (sizeof(sources) / sizeof(sources[0]))

size_t mm_source_count(void)
{
    return SOURCE_COUNT;
}

const struct mm_source_ops *mm_source_at(size_t i)
{
    return i < SOURCE_COUNT ? sources[i] : NULL;
}

const struct mm_source_ops *mm_source_by_name(const char *name)
{
    for (size_t i = 0; name && i < SOURCE_COUNT; i++)
        if (strcmp(sources[i]->name, name) == 0)
            return sources[i];
    return NULL;
}

const struct mm_source_ops *mm_source_detect(const char *body, size_t len, const char *content_type)
{
    const struct mm_source_ops *best = NULL;
    int best_score = 0;
    for (size_t i = 0; i < SOURCE_COUNT; i++) {
        int score = sources[i]->sniff(body, len, content_type);
        if (score > best_score) {
            best = sources[i];
            best_score = score;
        }
    }
    return best;
}
