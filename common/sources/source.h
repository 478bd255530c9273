/* source.h — a page format: turns a fetched body into metrics plus the few
 * facts the core needs from any implementation.
 *
 * Like redis' rio.h, a source is a struct of functions with private state;
 * the contract, once for all of them:
 *   sniff(body, len, content_type)  how sure the source is that the body is
 *       its format: 0 (not mine) .. 100 (certainly mine). Pure, no state;
 *       content_type may be NULL. `Source auto` picks the highest score.
 *   init(&state, cfg, err, err_len)  0, or -1 with the reason in err. The
 *       state is the source's own (NULL is fine) and lives as long as the
 *       instance: a source may keep things between gathers in it.
 *   parse(state, body, len, snap, facts, res)  appends metrics to snap (page
 *       keys with MM_ORIGIN_PAGE under the source's page, summary metrics with
 *       MM_ORIGIN_SUMMARY), fills the facts it knows (the rest stays zero /
 *       empty), counts lines in res. The caller has set snap's page to the
 *       source's page; a source that tells implementations apart may set
 *       another with mm_snapshot_set_page before adding page keys. Returns 0 when the body was a page of
 *       this format (possibly with skipped lines), -1 when it is not one at
 *       all (then res->first_error says why). Never crashes, never reads past
 *       len, bounded in time and memory by len.
 *   free(state)  releases what init made (state may be NULL).
 * Registering a source is one line in sources.c. */
#ifndef MM_SOURCE_H
#define MM_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/facts.h"
#include "core/metric.h"

struct mm_parse_result {
    unsigned lines;        /* lines seen */
    unsigned metrics;      /* metrics added to the snapshot */
    unsigned keys;         /* lines that became metrics */
    unsigned skipped;      /* malformed lines, not reported */
    char first_error[160]; /* "line 12: ..." of the first skipped line */
};

/* Options a source may use (zero: its defaults). */
struct mm_source_config {
    unsigned max_secrets; /* per-secret series kept; the rest summed */
};

struct mm_source_ops {
    const char *name;    /* the Source option's value: "mtproxy-stats" */
    const char *what;    /* for errors: "not <what>": "an MTProxy stats page" */
    struct mm_page page; /* where its page keys go: measurement, collectd prefix */
    int (*sniff)(const char *body, size_t len, const char *content_type);
    int (*init)(void **state, const struct mm_source_config *cfg, char *err, size_t err_len);
    int (*parse)(void *state, const char *body, size_t len, struct mm_snapshot *snap,
                 struct mm_source_facts *facts, struct mm_parse_result *res);
    void (*free)(void *state);
};

/* The registry (sources.c). */
size_t mm_source_count(void);
const struct mm_source_ops *mm_source_at(size_t i);
/* By name, or NULL. "auto" is not a source: it is NULL here. */
const struct mm_source_ops *mm_source_by_name(const char *name);
/* The source most sure of the body (ties: the first registered), or NULL
 * when none claims it. */
const struct mm_source_ops *mm_source_detect(const char *body, size_t len, const char *content_type);

#endif
