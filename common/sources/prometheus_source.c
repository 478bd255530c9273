/* prometheus_source.c — the Prometheus text sources (see
 * prometheus_source.h): parse, detect, report the series, fold secrets past
 * MaxSecrets into "other", fill the summary and the facts. */
#include "sources/prometheus_source.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/implementations.h"
#include "sources/prometheus_text.h"
#include "sources/secrets.h"
#include "sources/summary.h"

struct prom_state {
    const struct mm_implementation *forced; /* NULL: detected from each page */
    struct mm_prom_page page;
    struct mm_prom_limits limits;
    struct mm_secret_set secrets;
    struct mm_other_sums other;
};

static int sniff(const char *body, size_t len, const char *content_type)
{
    if (!mm_prom_sniff(body, len))
        return 0;
    /* The official type of the format makes it certain. */
    if (content_type && (strstr(content_type, "version=0.0.4") || strstr(content_type, "openmetrics-text")))
        return 95;
    return 80;
}

static int never(const char *body, size_t len, const char *content_type)
{
    (void)body, (void)len, (void)content_type;
    return 0;
}

static int init_with(void **state, const struct mm_source_config *cfg, const struct mm_implementation *forced,
                     char *err, size_t err_len)
{
    struct prom_state *st = calloc(1, sizeof(*st));
    if (!st || mm_secret_set_init(&st->secrets, cfg ? cfg->max_secrets : 0) != 0) {
        free(st);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    st->forced = forced;
    mm_prom_page_init(&st->page);
    mm_prom_limits_default(&st->limits);
    mm_other_sums_init(&st->other);
    *state = st;
    return 0;
}

#define INIT(fn, impl)                                                                                     \
    static int fn(void **state, const struct mm_source_config *cfg, char *err, size_t err_len)             \
    {                                                                                                      \
        return init_with(state, cfg, impl, err, err_len);                                                  \
    }
INIT(init_auto, NULL)
INIT(init_teleproxy, &mm_impl_teleproxy)
INIT(init_mtg, &mm_impl_mtg)
INIT(init_telemt, &mm_impl_telemt)
INIT(init_mtprotoproxy, &mm_impl_mtprotoproxy)
INIT(init_zig, &mm_impl_mtproto_zig)

static void free_state(void *state)
{
    struct prom_state *st = state;
    if (!st)
        return;
    mm_prom_page_free(&st->page);
    mm_secret_set_free(&st->secrets);
    mm_other_sums_free(&st->other);
    free(st);
}

static enum mm_kind sample_kind(const struct mm_prom_family *f, const struct mm_prom_sample *s)
{
    switch (f->type) {
    case MM_PROM_COUNTER:
        return MM_COUNTER;
    case MM_PROM_HISTOGRAM:
    case MM_PROM_SUMMARY:
        /* buckets, _sum and _count accumulate; quantiles do not */
        return strlen(s->name) > strlen(f->name) ? MM_COUNTER : MM_GAUGE;
    default:
        return MM_GAUGE;
    }
}

/* Labels the snapshot (and every output) can carry: our own tag names are
 * renamed the way Prometheus does on a clash, nothing unprintable. */
static const char *label_key(const char *key)
{
    if (strcmp(key, "instance") == 0)
        return "exported_instance";
    if (strcmp(key, "host") == 0)
        return "exported_host";
    return key;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static bool labels_fit(const struct mm_prom_page *page, const struct mm_prom_sample *s)
{
    if (s->n_labels > MM_LABEL_MAX)
        return false;
    for (unsigned k = 0; k < s->n_labels; k++) {
        const struct mm_prom_label *l = &page->labels[s->first_label + k];
        if (strlen(label_key(l->name)) >= MM_LABEL_KEY_MAX || strlen(l->value) >= MM_LABEL_VALUE_MAX ||
            !printable(l->value))
            return false;
    }
    return true;
}

_Static_assert(MM_LABEL_MAX == 8, "add_series passes up to 8 label pairs");

/* Adds one series; secret_value replaces the secret label's value. */
static bool add_series(struct mm_snapshot *snap, const struct mm_prom_page *page, const struct mm_prom_sample *s,
                       const char *name, enum mm_kind kind, double value, const char *secret_label,
                       const char *secret_value)
{
    const char *kv[2 * MM_LABEL_MAX + 2] = { 0 };
    unsigned n = 0;
    for (unsigned k = 0; k < s->n_labels && n < MM_LABEL_MAX; k++) {
        const struct mm_prom_label *l = &page->labels[s->first_label + k];
        kv[2 * n] = label_key(l->name);
        kv[2 * n + 1] = secret_label && strcmp(l->name, secret_label) == 0 ? secret_value : l->value;
        n++;
    }
    /* a NULL key ends the list: the unused pairs are NULL */
    return mm_snapshot_add_double(snap, MM_ORIGIN_PAGE, kind, name, value, kv[0], kv[1], kv[2], kv[3], kv[4],
                                  kv[5], kv[6], kv[7], kv[8], kv[9], kv[10], kv[11], kv[12], kv[13], kv[14],
                                  kv[15]) != NULL;
}

/* The key an "other" series is summed under: its name and every label but
 * the secret's. */
static void other_key(const struct mm_prom_page *page, const struct mm_prom_sample *s, const char *name,
                      const char *secret_label, char *key, size_t len)
{
    size_t o = (size_t)snprintf(key, len, "%s", name);
    for (unsigned k = 0; k < s->n_labels && o < len; k++) {
        const struct mm_prom_label *l = &page->labels[s->first_label + k];
        if (strcmp(l->name, secret_label) != 0)
            o += (size_t)snprintf(key + o, len - o, "\xff%s\xfe%s", l->name, l->value);
    }
}

/* The prefix of a forced implementation whose prefix is configurable. */
static void forced_prefix(const struct mm_prom_page *page, const struct mm_implementation *impl, char *prefix,
                          size_t len)
{
    if (impl->prefix) {
        snprintf(prefix, len, "%s", impl->prefix);
        return;
    }
    const struct mm_implementation *found = mm_implementation_detect(page, prefix, len);
    if (found != impl)
        snprintf(prefix, len, "%s", impl == &mm_impl_mtg ? "mtg_" : "mtprotoproxy_"); /* their defaults */
}

static void fill_facts(const struct mm_prom_page *page, const char *prefix, const struct mm_implementation *impl,
                       struct mm_source_facts *facts)
{
    snprintf(facts->implementation, sizeof(facts->implementation), "%s", impl->name);
    char name[160];
    snprintf(name, sizeof(name), "%sbuild_info", prefix);
    for (size_t i = 0; i < page->n_samples; i++) {
        const struct mm_prom_sample *s = &page->samples[i];
        if (strcmp(s->name, name) == 0) {
            const char *v = mm_prom_label_value(page, s, "version");
            if (v && printable(v))
                snprintf(facts->version, sizeof(facts->version), "%s", v);
        }
    }
    /* mtproto.zig says when it started: a change is a restart */
    snprintf(name, sizeof(name), "%sstart_time_seconds", prefix);
    for (size_t i = 0; impl == &mm_impl_mtproto_zig && i < page->n_samples; i++) {
        const struct mm_prom_sample *s = &page->samples[i];
        if (strcmp(s->name, name) == 0 && isfinite(s->value) && s->value > 0 && s->value == floor(s->value) &&
            s->value < 1e12)
            facts->start_time = (int64_t)s->value;
    }
}

static int parse(void *state, const char *body, size_t len, struct mm_snapshot *snap,
                 struct mm_source_facts *facts, struct mm_parse_result *res)
{
    struct prom_state *st = state;
    struct mm_prom_page *page = &st->page;
    int rc = mm_prom_parse(page, body, len, &st->limits);
    res->lines = page->res.lines;
    if (rc != 0) {
        snprintf(res->first_error, sizeof(res->first_error), "%s", page->res.first_error);
        return -1;
    }

    char prefix[128];
    const struct mm_implementation *impl = st->forced;
    if (impl)
        forced_prefix(page, impl, prefix, sizeof(prefix));
    else
        impl = mm_implementation_detect(page, prefix, sizeof(prefix));
    size_t plen = strlen(prefix);
    mm_snapshot_set_page(snap, &impl->page);

    unsigned unfit = 0;
    mm_secret_set_begin(&st->secrets);
    mm_other_sums_reset(&st->other);
    for (size_t i = 0; i < page->n_samples; i++) {
        const struct mm_prom_sample *s = &page->samples[i];
        if (!isfinite(s->value))
            continue; /* an empty summary's NaN quantile: no number to report */
        if (!labels_fit(page, s)) {
            unfit++;
            continue;
        }
        const char *name = plen && strncmp(s->name, prefix, plen) == 0 && s->name[plen] ? s->name + plen : s->name;
        enum mm_kind kind = sample_kind(&page->families[s->family], s);
        const char *secret = impl->secret_label ? mm_prom_label_value(page, s, impl->secret_label) : NULL;
        const char *as = secret ? mm_secret_set_name(&st->secrets, secret) : NULL;
        if (as && strcmp(as, MM_SECRET_OTHER) == 0) {
            char key[1024];
            other_key(page, s, name, impl->secret_label, key, sizeof(key));
            if (mm_other_sums_add(&st->other, key, s->value, i) != 0)
                unfit++;
            continue;
        }
        if (add_series(snap, page, s, name, kind, s->value, impl->secret_label, as))
            res->metrics++;
        res->keys++;
    }
    for (size_t e = 0; e < st->other.n; e++) {
        const struct mm_prom_sample *s = &page->samples[st->other.items[e].first];
        const char *name = plen && strncmp(s->name, prefix, plen) == 0 && s->name[plen] ? s->name + plen : s->name;
        if (add_series(snap, page, s, name, sample_kind(&page->families[s->family], s), st->other.items[e].sum,
                       impl->secret_label, MM_SECRET_OTHER))
            res->metrics++;
    }
    mm_secret_set_end(&st->secrets);

    struct mm_summary_result sres;
    mm_summary_fill(snap, impl->rules, impl->n_rules, impl->secret_label, &sres);
    res->metrics += sres.fields;
    fill_facts(page, prefix, impl, facts);

    /* One count for everything not reported, the first problem described. */
    res->skipped = page->res.skipped + page->res.duplicates + page->res.over_limit + unfit;
    snprintf(res->first_error, sizeof(res->first_error), "%s", page->res.first_error);
    if (!res->first_error[0] && unfit)
        snprintf(res->first_error, sizeof(res->first_error),
                 "%u series with more than %d labels, a label longer than %d bytes or unprintable", unfit,
                 MM_LABEL_MAX, MM_LABEL_VALUE_MAX - 1);
    return 0;
}

#define SOURCE(var, nm, sn, in)                                                                            \
    const struct mm_source_ops var = {                                                                     \
        .name = nm,                                                                                        \
        .what = "a Prometheus text page",                                                                  \
        .page = { "prometheus", "prometheus" },                                                            \
        .sniff = sn,                                                                                       \
        .init = in,                                                                                        \
        .parse = parse,                                                                                    \
        .free = free_state,                                                                                \
    };
SOURCE(mm_source_prometheus, "prometheus", sniff, init_auto)
SOURCE(mm_source_prometheus_teleproxy, "teleproxy", never, init_teleproxy)
SOURCE(mm_source_prometheus_mtg, "mtg", never, init_mtg)
SOURCE(mm_source_prometheus_telemt, "telemt", never, init_telemt)
SOURCE(mm_source_prometheus_mtprotoproxy, "mtprotoproxy", never, init_mtprotoproxy)
SOURCE(mm_source_prometheus_mtproto_zig, "mtproto.zig", never, init_zig)
