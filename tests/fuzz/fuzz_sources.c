/* fuzz_sources.c — libFuzzer target for every registered source
 * (common/sources/sources.c) on the same body: the official and teleproxy
 * /stats readers, the Prometheus reader with its implementation detection,
 * MaxSecrets folding and summary tables. Whatever the body holds: no crash,
 * no leak, no NaN or infinity in the snapshot, at most MaxSecrets + 1
 * secrets per summary field, and a -1 always says why. First byte: which
 * content type the body comes with. Seeds: tests/fixtures and
 * tests/fixtures/peers. */
/* fuzz-weight: 4 (a new parser: four times the time in `make fuzz`, see run_fuzz.py) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/metric.h"
#include "sources/source.h"

#define MAX_SECRETS 2

static void check(const struct mm_snapshot *snap)
{
    for (size_t i = 0; i < snap->count; i++) {
        const struct mm_metric *m = &snap->items[i];
        if (m->type != MM_STRING && !isfinite(mm_metric_as_double(m)))
            abort();
    }
    for (size_t f = 0; f < mm_snapshot_family_count(snap); f++) {
        const struct mm_family *fam = mm_snapshot_family_at(snap, f);
        if (fam->origin != MM_ORIGIN_SUMMARY)
            continue;
        size_t secrets = 0;
        for (const struct mm_metric *m = mm_snapshot_find(snap, MM_ORIGIN_SUMMARY, fam->name); m;
             m = mm_snapshot_next_of_family(snap, m))
            secrets += mm_metric_label(m, "secret") != NULL;
        if (secrets > MAX_SECRETS + 1)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = { NULL, "text/plain", "text/plain; version=0.0.4",
                                         "application/openmetrics-text; version=1.0.0" };
    if (size == 0)
        return 0;
    const char *ctype = types[data[0] & 3];
    char *body = malloc(size - 1 ? size - 1 : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    (void)mm_source_detect(body, size - 1, ctype);
    for (size_t i = 0; i < mm_source_count(); i++) {
        const struct mm_source_ops *ops = mm_source_at(i);
        struct mm_source_config cfg = { .max_secrets = MAX_SECRETS };
        void *state = NULL;
        char err[160];
        if (ops->init(&state, &cfg, err, sizeof(err)) != 0)
            abort();
        (void)ops->sniff(body, size - 1, ctype);
        struct mm_snapshot snap;
        mm_snapshot_init(&snap);
        for (int round = 0; round < 2; round++) { /* state kept between gathers */
            mm_snapshot_reset(&snap);
            mm_snapshot_set_page(&snap, &ops->page);
            struct mm_source_facts facts;
            struct mm_parse_result res;
            memset(&facts, 0, sizeof(facts));
            memset(&res, 0, sizeof(res));
            int rc = ops->parse(state, body, size - 1, &snap, &facts, &res);
            if (rc != 0 && rc != -1)
                abort();
            if (rc == -1 && !res.first_error[0])
                abort();
            if (!memchr(res.first_error, '\0', sizeof(res.first_error)) ||
                !memchr(facts.implementation, '\0', sizeof(facts.implementation)) ||
                !memchr(facts.version, '\0', sizeof(facts.version)))
                abort();
            check(&snap);
        }
        mm_snapshot_free(&snap);
        ops->free(state);
    }
    free(body);
    return 0;
}
