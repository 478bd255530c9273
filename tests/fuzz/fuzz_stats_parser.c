/* fuzz_stats_parser.c — libFuzzer target for the /stats parser
 * (common/sources/stats_parser.h). The body is hostile: whatever it holds, the parser
 * must neither crash nor report more than it saw, and every metric it adds
 * must carry a bounded, NUL-terminated name. Seeds: tests/fixtures/stats-*. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/stats_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size heap copy, so reading one byte past the body is caught */
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    if (size)
        memcpy(body, data, size);
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result r;
    memset(&r, 0, sizeof(r));
    int rc = mm_stats_parse(body, size, &snap, &r);
    if (rc != 0 && rc != -1)
        abort();
    if (rc == -1 && r.first_error[0] == '\0')
        abort(); /* "then result->first_error says why" */
    if (memchr(r.first_error, '\0', sizeof(r.first_error)) == NULL)
        abort();
    if (r.metrics != snap.count || r.keys > r.lines || r.skipped > r.lines)
        abort();
    for (size_t i = 0; i < snap.count; i++) {
        const struct mm_metric *m = &snap.items[i];
        size_t n = strnlen(m->name, MM_NAME_MAX);
        if (n == 0 || n == MM_NAME_MAX)
            abort();
        if (m->type == MM_STRING && (!m->value.s || strlen(m->value.s) >= MM_STATS_TEXT_MAX + 4))
            abort();
    }
    mm_snapshot_free(&snap);
    free(body);
    return 0;
}
