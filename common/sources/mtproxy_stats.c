/* mtproxy_stats.c — the official /stats format as a source (see
 * mtproxy_stats.h). Its page keys go to the measurement `mtproxy_stats` and
 * to collectd type instances `stats-<key>`. */
#include "sources/mtproxy_stats.h"

#include <stdio.h>
#include <string.h>

#include "sources/implementations.h"
#include "sources/stats_parser.h"
#include "sources/summary.h"

/* A body starting with "key<TAB>" (or a section marker) is probably ours; the
 * keys only the official page prints make it certain. */
static int sniff(const char *body, size_t len, const char *content_type)
{
    (void)content_type;
    size_t n = len < 4096 ? len : 4096;
    size_t k = 0;
    while (k < n && ((body[k] >= 'a' && body[k] <= 'z') || (body[k] >= 'A' && body[k] <= 'Z') ||
                     (body[k] >= '0' && body[k] <= '9') || body[k] == '_' || body[k] == '>'))
        k++;
    if (k == 0 || k >= n || body[k] != '\t')
        return 0;
    static const char *const own[] = { "\nstats_generate_time\t", "\ntotal_special_connections\t" };
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (memmem(body, len, own[i], strlen(own[i])))
            return 90;
    return 50;
}

static int init(void **state, const struct mm_source_config *cfg, char *err, size_t err_len)
{
    (void)cfg;
    (void)err;
    (void)err_len;
    *state = NULL;
    return 0;
}

static int parse(void *state, const char *body, size_t len, struct mm_snapshot *snap,
                 struct mm_source_facts *facts, struct mm_parse_result *res)
{
    (void)state;
    if (mm_stats_parse(body, len, snap, res) != 0)
        return -1;
    mm_stats_facts(snap, facts);
    snprintf(facts->implementation, sizeof(facts->implementation), "mtproxy");
    struct mm_summary_result sres;
    mm_summary_fill(snap, mm_impl_mtproxy_stats.rules, mm_impl_mtproxy_stats.n_rules, NULL, &sres);
    res->metrics += sres.fields;
    return 0;
}

static void free_state(void *state)
{
    (void)state;
}

const struct mm_source_ops mm_source_mtproxy_stats = {
    .name = "mtproxy-stats",
    .what = "an MTProxy stats page",
    .page = { "mtproxy_stats", "stats" },
    .sniff = sniff,
    .init = init,
    .parse = parse,
    .free = free_state,
};
