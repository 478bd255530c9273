/* fuzz_json_output.c — libFuzzer target for the JSON writer
 * (common/outputs/json_output.h mm_json_write_snapshot).
 *
 * The input is a /stats body: the real parser turns it into a snapshot (so
 * arbitrary keys and text values reach the writer), an extra text metric and
 * a label carry the raw bytes, and a NaN and an infinity are added. Property:
 * the document is one line that yajl parses back as an object. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "outputs/json_output.h"
#include "sources/stats_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size + 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    body[size] = '\0';
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    struct mm_parse_result res;
    (void)mm_stats_parse(body, size, &snap, &res);
    char raw[MM_LABEL_VALUE_MAX];
    snprintf(raw, sizeof(raw), "%s", body);
    struct mm_metric *m = mm_snapshot_add_text(&snap, MM_ORIGIN_HEALTH, "raw", body);
    if (m)
        (void)mm_metric_add_label(&snap, m, "country", raw);
    mm_snapshot_add_double(&snap, MM_ORIGIN_PROCESS, MM_GAUGE, "nan", NAN);
    mm_snapshot_add_double(&snap, MM_ORIGIN_PROCESS, MM_GAUGE, "inf", -INFINITY);

    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    if (!f)
        abort();
    int rc = mm_json_write_snapshot(f, &snap, raw[0] ? raw : "main", 1700000000000000000LL);
    fclose(f);
    if (rc != 0)
        abort();
    if (out_len == 0 || strlen(out) != out_len || strchr(out, '\n') != out + out_len - 1)
        abort();
    char errbuf[256];
    yajl_val doc = yajl_tree_parse(out, errbuf, sizeof(errbuf));
    if (!doc || !YAJL_IS_OBJECT(doc))
        abort();
    yajl_tree_free(doc);
    free(out);
    mm_snapshot_free(&snap);
    free(body);
    return 0;
}
