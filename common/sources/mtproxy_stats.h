/* mtproxy_stats.h — the official MTProxy's /stats page ("key<TAB>value"
 * lines) as a source (source.h): stats_parser.c reads the lines,
 * stats_fields.c types the known keys, this file says what the facts are. */
#ifndef MM_MTPROXY_STATS_H
#define MM_MTPROXY_STATS_H

#include "sources/source.h"

extern const struct mm_source_ops mm_source_mtproxy_stats;

#endif
