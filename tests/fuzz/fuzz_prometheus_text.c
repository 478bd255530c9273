/* fuzz_prometheus_text.c — libFuzzer target for the Prometheus / OpenMetrics
 * text parser (common/sources/prometheus_text.h). Whatever the body holds,
 * the parser must neither crash nor break its own bounds: counts add up,
 * every kept sample has a family, sorted labels within the limits, and a
 * second parse into the same page gives the same result. Small limits make
 * the limit paths reachable. Seeds: tests/fixtures/peers and
 * tests/fuzz/corpus/prometheus_text. */
/* fuzz-weight: 4 (a new parser: four times the time in `make fuzz`, see run_fuzz.py) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/prometheus_text.h"

static void check_page(const struct mm_prom_page *page, const struct mm_prom_limits *lim, int rc)
{
    const struct mm_prom_result *r = &page->res;
    if (rc != 0 && rc != -1)
        abort();
    if (rc == -1 && r->first_error[0] == '\0')
        abort();
    if (memchr(r->first_error, '\0', sizeof(r->first_error)) == NULL)
        abort();
    if (r->samples != page->n_samples || page->n_samples > lim->series_max ||
        page->n_families > lim->families_max || (rc == 0) != (page->n_samples > 0))
        abort();
    unsigned nonfinite = 0;
    for (size_t i = 0; i < page->n_samples; i++) {
        const struct mm_prom_sample *s = &page->samples[i];
        if (s->family >= page->n_families || s->n_labels > lim->labels_max ||
            s->first_label + s->n_labels > page->n_labels)
            abort();
        if (strlen(s->name) == 0 || strlen(s->name) > lim->name_max ||
            strncmp(s->name, page->families[s->family].name, strlen(page->families[s->family].name)) != 0)
            abort();
        for (unsigned k = 0; k < s->n_labels; k++) {
            const struct mm_prom_label *l = &page->labels[s->first_label + k];
            if (!l->value[0] || strlen(l->value) > lim->label_value_max || strlen(l->name) > lim->label_name_max)
                abort();
            if (k && strcmp(page->labels[s->first_label + k - 1].name, l->name) >= 0)
                abort(); /* sorted, no label twice */
        }
        nonfinite += !isfinite(s->value);
    }
    if (nonfinite != r->nonfinite)
        abort();
    unsigned total = 0;
    for (size_t f = 0; f < page->n_families; f++) {
        if (page->families[f].n_samples > lim->series_per_family_max)
            abort();
        total += page->families[f].n_samples;
    }
    if (total != page->n_samples)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    if (size)
        memcpy(body, data, size);
    struct mm_prom_limits lim;
    mm_prom_limits_default(&lim);
    if (size && (data[0] & 1)) { /* small limits on half the inputs */
        lim.line_max = 200;
        lim.labels_max = 3;
        lim.label_value_max = 8;
        lim.label_name_max = 8;
        lim.name_max = 16;
        lim.series_per_family_max = 4;
        lim.series_max = 16;
        lim.families_max = 8;
    }
    struct mm_prom_page page;
    mm_prom_page_init(&page);
    int rc = mm_prom_parse(&page, body, size, &lim);
    check_page(&page, &lim, rc);
    struct mm_prom_result first = page.res;
    size_t n = page.n_samples;
    int rc2 = mm_prom_parse(&page, body, size, &lim);
    check_page(&page, &lim, rc2);
    if (rc2 != rc || page.n_samples != n || page.res.skipped != first.skipped ||
        page.res.duplicates != first.duplicates || page.res.over_limit != first.over_limit)
        abort();
    (void)mm_prom_sniff(body, size);
    mm_prom_page_free(&page);
    free(body);
    return 0;
}
