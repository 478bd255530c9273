/* mm_schema.c — prints the schema of metric families, one per line, for
 * tests/integration/test_docs.py to check docs/metrics.md against:
 *   origin TAB measurement TAB name TAB kind TAB type TAB collectd
 * where collectd is the identifier the real mapping (outputs/collectd_map.c)
 * gives, with "<label>" for label values ("ps_count-<role>"), plus " DS x"
 * for a type with several data sources, or "-" when it is not a value. The
 * official /stats keys follow (origin "page"); a multi-value key's values
 * are key_<suffix> in both spellings, its identifier printed with key_*. */
#include <stdio.h>
#include <string.h>

#include "core/families.h"
#include "core/metric.h"
#include "outputs/collectd_map.h"
#include "sources/stats_fields.h"
#include "sources/stats_parser.h"

static const char *kind_name(enum mm_kind k)
{
    return k == MM_COUNTER ? "counter" : k == MM_GAUGE ? "gauge" : "text";
}

static const char *type_name(enum mm_value_type t)
{
    return t == MM_INT ? "integer" : t == MM_DOUBLE ? "float" : "string";
}

/* A metric of the family, its labels "<key>" for every {key} of the template. */
static void print_family(struct mm_snapshot *snap, enum mm_origin origin, const char *shown, const char *name,
                         enum mm_kind kind, enum mm_value_type type, const char *tmpl)
{
    struct mm_metric *m = type == MM_STRING ? mm_snapshot_add_text(snap, origin, name, "x")
                          : type == MM_INT  ? mm_snapshot_add_int(snap, origin, kind, name, 0)
                                            : mm_snapshot_add_double(snap, origin, kind, name, 0.0);
    if (!m)
        return;
    for (const char *p = tmpl ? strchr(tmpl, '{') : NULL; p; p = strchr(p + 1, '{')) {
        char key[64], value[72];
        size_t n = strcspn(p + 1, "}");
        if (n >= sizeof(key))
            continue;
        memcpy(key, p + 1, n);
        key[n] = '\0';
        if (strcmp(key, "name") == 0 || strcmp(key, "NAME") == 0 || strcmp(key, "page") == 0)
            continue;
        snprintf(value, sizeof(value), "<%s>", key);
        mm_metric_add_label(snap, m, key, value);
    }
    char ctype[MM_COLLECTD_NAME_MAX], inst[MM_COLLECTD_NAME_MAX];
    unsigned ds, n_ds;
    printf("%s\t%s\t%s\t%s\t%s\t", mm_origin_desc(origin)->name, m->family->measurement, shown,
           kind_name(m->kind), type_name(m->type));
    if (!mm_collectd_identifier(m, ctype, sizeof(ctype), inst, sizeof(inst), &ds, &n_ds))
        printf("-\n");
    else if (n_ds > 1 && m->family->desc && m->family->desc->collectd.ds_name)
        printf("%s-%s DS %s\n", ctype, inst, m->family->desc->collectd.ds_name);
    else
        printf("%s-%s\n", ctype, inst);
}

int main(void)
{
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    for (size_t i = 0; i < mm_family_desc_count(); i++) {
        const struct mm_family_desc *d = mm_family_desc_at(i);
        const char *tmpl = d->collectd.instance ? d->collectd.instance : mm_origin_desc(d->origin)->collectd_instance;
        print_family(&snap, d->origin, d->name, d->name, d->kind, d->type, tmpl);
    }
    for (size_t i = 0; i < mm_stats_field_count(); i++) {
        const struct mm_stats_field *f = mm_stats_field_at(i);
        char name[MM_NAME_MAX];
        const char *shown = mm_stats_metric_name(f->key);
        snprintf(name, sizeof(name), "%s%s", shown, f->shape == MM_SHAPE_SCALAR ? "" : "_*");
        print_family(&snap, MM_ORIGIN_PAGE, shown, name, f->kind, f->type, NULL);
    }
    mm_snapshot_free(&snap);
    return 0;
}
