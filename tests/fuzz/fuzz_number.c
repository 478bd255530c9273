/* fuzz_number.c — libFuzzer target for the one number parser
 * (common/core/number.h). The input is one text (up to the first NUL) for
 * the whole-text parsers, and the raw bytes as a span for the span parsers;
 * each must either refuse it or return a value that prints back to the same
 * digits, and never read past the text or the span's end. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/number.h"

/* text without its leading zeros after an optional '-', "-0" as "0" */
static void canonical(const char *text, char *out, size_t len)
{
    int neg = *text == '-';
    const char *p = text + neg;
    while (p[0] == '0' && p[1])
        p++;
    snprintf(out, len, "%s%s", neg && strcmp(p, "0") ? "-" : "", p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char err[160], back[64], canon[64];

    int64_t i;
    if (mm_parse_i64(text, INT64_MIN, INT64_MAX, &i, err, sizeof(err)) == 0) {
        snprintf(back, sizeof(back), "%" PRId64, i);
        canonical(text, canon, sizeof(canon));
        if (strlen(text) < sizeof(canon) && strcmp(back, canon) != 0)
            abort();
    }
    uint64_t u;
    if (mm_parse_u64(text, UINT64_MAX, &u, err, sizeof(err)) == 0 && (text[0] < '0' || text[0] > '9'))
        abort();
    /* a span scan never looks past its end: copy to an exact-size buffer */
    size_t n = strlen(text);
    char *span = malloc(n ? n : 1);
    if (span) {
        memcpy(span, text, n);
        const char *end = mm_scan_u64(span, span + n, &u);
        if (end && (end <= span || end > span + n))
            abort();
        free(span);
    }
    double d;
    if (mm_parse_decimal(text, -HUGE_VAL, HUGE_VAL, &d, err, sizeof(err)) == 0 &&
        (!isfinite(d) || strpbrk(text, "eExXnN+")))
        abort();
    if (mm_parse_duration(text, 0.001, 0.001, 3600, &d, err, sizeof(err)) == 0 && !(d >= 0.001 && d <= 3600))
        abort();
    /* the raw bytes as a span: NULs and all, never read past size */
    if (mm_parse_float((const char *)data, size, true, &d) && size > MM_FLOAT_TEXT_MAX)
        abort();
    free(text);
    return 0;
}
