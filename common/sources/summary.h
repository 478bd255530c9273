/* summary.h — the summary family (measurement mtproxy_summary): one
 * vocabulary across implementations, filled from a mapping table.
 *
 * A source first adds its page keys to the snapshot (under its own names);
 * then mm_summary_fill() reads them back through the implementation's rules
 * and adds the summary metrics (origin MM_ORIGIN_SUMMARY): one row for the
 * instance and, where the implementation counts per secret or per user, one
 * row per secret (label "secret": the secret's label or the user's name,
 * never the secret itself). A field the page has no series for is left out,
 * never reported as 0 (unless the rule says the implementation only writes
 * the series after the first event: then no series is a true 0). */
#ifndef MM_SUMMARY_H
#define MM_SUMMARY_H

#include <stddef.h>

#include "core/metric.h"

/* The fields, in docs order. */
#define MM_SUMMARY_CLIENTS "clients"
#define MM_SUMMARY_ACCEPTED "connections_accepted"
#define MM_SUMMARY_FROM_CLIENTS "bytes_from_clients"
#define MM_SUMMARY_TO_CLIENTS "bytes_to_clients"
#define MM_SUMMARY_TO_TELEGRAM "bytes_to_telegram"
#define MM_SUMMARY_FROM_TELEGRAM "bytes_from_telegram"
#define MM_SUMMARY_HANDSHAKE_FAILURES "handshake_failures"
#define MM_SUMMARY_UNIQUE_IPS "unique_ips"
#define MM_SUMMARY_UPSTREAM_READY "upstream_ready"
#define MM_SUMMARY_UPTIME "uptime_seconds"

enum {
    MM_RULE_ZERO_WHEN_ABSENT = 1, /* no series on the page means 0 (series appear on first event) */
};

struct mm_summary_rule {
    const char *field;
    /* Page keys summed into the instance row (a key may have several
     * series: all of them count); NULL: no instance row. */
    const char *total[2];
    /* Page key read per secret for the per-secret rows; NULL: none. */
    const char *per_secret;
    /* Only series with this label value count (both optional). */
    const char *filter_key, *filter_value;
    /* Per-secret rows only for secrets whose value of this page key is > 0
     * (teleproxy counts unique IPs only for secrets with an IP limit). */
    const char *per_secret_if;
    /* The field is left out when this page key is present and not 0
     * (teleproxy's direct_mode: no middle-proxy targets to be ready). */
    const char *unless;
    unsigned flags;
};

struct mm_summary_result {
    unsigned fields;    /* metrics added */
    unsigned not_whole; /* values an integer field could not take (fraction, range) */
};

/* secret_label: the page's label naming the secret ("secret", "user"). */
void mm_summary_fill(struct mm_snapshot *snap, const struct mm_summary_rule *rules, size_t n_rules,
                     const char *secret_label, struct mm_summary_result *res);

#endif
