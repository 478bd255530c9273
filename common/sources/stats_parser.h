/* stats_parser.h — turns the body of MTProxy's /stats page into metrics.
 *
 * The input is hostile until parsed: every line is checked and a bad line is
 * skipped and counted, never turned into a wrong number. Metrics go into the
 * snapshot with origin MM_ORIGIN_PAGE (mtproxy_stats.c wraps this parser as
 * the source "mtproxy-stats"). */
#ifndef MM_STATS_PARSER_H
#define MM_STATS_PARSER_H

#include <stddef.h>

#include "core/metric.h"
#include "sources/source.h"

#define MM_STATS_LINE_MAX 4096   /* longer lines are junk, not stats */
#define MM_STATS_KEY_MAX 80      /* fits collectd's 128-byte type instance */
#define MM_STATS_TEXT_MAX 512    /* version is ~130 bytes */
#define MM_STATS_UNKNOWN_MAX 512 /* values of future keys kept per gather */
#define MM_STATS_VECTOR_MAX 16   /* values kept of an unknown multi-value key */

/* Parses body[0..len) into snap. Returns 0 when at least one stats line was
 * understood, -1 when the body holds no MTProxy stats at all (empty, HTML,
 * binary): then result->first_error says why. */
int mm_stats_parse(const char *body, size_t len, struct mm_snapshot *snap,
                   struct mm_parse_result *result);

/* The facts every /stats-format page gives (pid, start_time, config_md5,
 * version), from a snapshot this parser filled; absent keys leave them as
 * they were. */
void mm_stats_facts(const struct mm_snapshot *snap, struct mm_source_facts *facts);

/* The metric name of a page key: the key itself, but "PID" is process_id
 * (beside "pid", two fields differing only in case confuse every query). */
const char *mm_stats_metric_name(const char *key);

/* The same with a hook for keys the field table does not know (teleproxy's
 * secret_<label>_* keys): hook(ctx, key, value) returns 1 when it reported
 * the line itself, 2 when it read it and there is nothing to report, 0 to
 * leave it to the parser, -1 when the line is malformed (skipped, counted). */
typedef int (*mm_stats_key_hook)(void *ctx, const char *key, const char *value);
int mm_stats_parse_hooked(const char *body, size_t len, struct mm_snapshot *snap,
                          struct mm_parse_result *result, mm_stats_key_hook hook, void *hook_ctx);

#endif
