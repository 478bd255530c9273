/* summary.c — mapping rules to summary metrics (see summary.h). */
#include "sources/summary.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/families.h"

struct secret_sum {
    const char *name; /* a label value owned by the snapshot */
    double sum;
    bool allowed;     /* per_secret_if held */
};

static bool filtered_out(const struct mm_summary_rule *r, const struct mm_metric *m)
{
    if (!r->filter_key)
        return false;
    const char *v = mm_metric_label(m, r->filter_key);
    return !v || strcmp(v, r->filter_value) != 0;
}

/* Adds one summary value in the field's declared type; false when the value
 * does not fit it (a fraction or an out-of-range number for an integer). */
static bool add_value(struct mm_snapshot *snap, const char *field, double v, const char *secret,
                      struct mm_summary_result *res)
{
    const struct mm_family_desc *d = mm_family_desc_find(MM_ORIGIN_SUMMARY, field);
    enum mm_kind kind = d ? d->kind : MM_GAUGE;
    struct mm_metric *m;
    if (!isfinite(v))
        return false;
    if (d && d->type == MM_INT) {
        if (v != floor(v) || fabs(v) >= 9.2e18) {
            res->not_whole++;
            return false;
        }
        m = secret ? mm_snapshot_add_int(snap, MM_ORIGIN_SUMMARY, kind, field, (int64_t)v, "secret", secret)
                   : mm_snapshot_add_int(snap, MM_ORIGIN_SUMMARY, kind, field, (int64_t)v);
    } else {
        m = secret ? mm_snapshot_add_double(snap, MM_ORIGIN_SUMMARY, kind, field, v, "secret", secret)
                   : mm_snapshot_add_double(snap, MM_ORIGIN_SUMMARY, kind, field, v);
    }
    if (m)
        res->fields++;
    return m != NULL;
}

static void instance_row(struct mm_snapshot *snap, const struct mm_summary_rule *r, struct mm_summary_result *res)
{
    double sum = 0;
    bool any = false;
    for (int k = 0; k < 2 && r->total[k]; k++)
        for (const struct mm_metric *m = mm_snapshot_find(snap, MM_ORIGIN_PAGE, r->total[k]); m;
             m = mm_snapshot_next_of_family(snap, m)) {
            if (m->type == MM_STRING || filtered_out(r, m))
                continue;
            double v = mm_metric_as_double(m);
            if (!isfinite(v))
                continue;
            sum += v;
            any = true;
        }
    if (any || (r->flags & MM_RULE_ZERO_WHEN_ABSENT))
        add_value(snap, r->field, sum, NULL, res);
}

static void secret_rows(struct mm_snapshot *snap, const struct mm_summary_rule *r, const char *secret_label,
                        struct mm_summary_result *res)
{
    size_t cap = 0;
    for (const struct mm_metric *m = mm_snapshot_find(snap, MM_ORIGIN_PAGE, r->per_secret); m;
         m = mm_snapshot_next_of_family(snap, m))
        cap++;
    if (cap == 0)
        return;
    struct secret_sum *rows = calloc(cap, sizeof(*rows));
    if (!rows)
        return; /* the instance row still went out */
    size_t n = 0;
    for (const struct mm_metric *m = mm_snapshot_find(snap, MM_ORIGIN_PAGE, r->per_secret); m;
         m = mm_snapshot_next_of_family(snap, m)) {
        const char *s = mm_metric_label(m, secret_label);
        double v = mm_metric_as_double(m);
        if (!s || m->type == MM_STRING || filtered_out(r, m) || !isfinite(v))
            continue;
        size_t i;
        for (i = 0; i < n && strcmp(rows[i].name, s) != 0; i++)
            ;
        if (i == n)
            rows[n++] = (struct secret_sum){ s, 0, r->per_secret_if == NULL };
        rows[i].sum += v;
    }
    if (r->per_secret_if)
        for (const struct mm_metric *m = mm_snapshot_find(snap, MM_ORIGIN_PAGE, r->per_secret_if); m;
             m = mm_snapshot_next_of_family(snap, m)) {
            const char *s = mm_metric_label(m, secret_label);
            for (size_t i = 0; s && i < n; i++)
                if (strcmp(rows[i].name, s) == 0 && mm_metric_as_double(m) > 0)
                    rows[i].allowed = true;
        }
    for (size_t i = 0; i < n; i++)
        if (rows[i].allowed)
            add_value(snap, r->field, rows[i].sum, rows[i].name, res);
    free(rows);
}

void mm_summary_fill(struct mm_snapshot *snap, const struct mm_summary_rule *rules, size_t n_rules,
                     const char *secret_label, struct mm_summary_result *res)
{
    memset(res, 0, sizeof(*res));
    for (size_t i = 0; i < n_rules; i++) {
        const struct mm_summary_rule *r = &rules[i];
        if (r->unless) {
            const struct mm_metric *u = mm_snapshot_find(snap, MM_ORIGIN_PAGE, r->unless);
            if (u && mm_metric_as_double(u) != 0)
                continue;
        }
        if (r->total[0])
            instance_row(snap, r, res);
        if (r->per_secret && secret_label)
            secret_rows(snap, r, secret_label, res);
    }
}
