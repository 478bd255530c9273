/* number.c — the one parser of decimal numbers and durations (see number.h). */
#include "core/number.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || !err_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

const char *mm_scan_u64(const char *s, const char *end, uint64_t *out)
{
    const char *p = s;
    uint64_t v = 0;
    for (; (!end || p < end) && is_digit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
    }
    if (p == s)
        return NULL;
    *out = v;
    return p;
}

int mm_hex_digit(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

const char *mm_scan_decimal(const char *s, double *out)
{
    const char *p = s;
    size_t digits = 0;
    if (*p == '-')
        p++;
    for (; is_digit(*p); p++)
        digits++;
    if (*p == '.')
        for (p++; is_digit(*p); p++)
            digits++;
    if (!digits)
        return NULL;
    /* strtod converts exactly, but accepts more (exponent, hex, a locale's
     * comma): the syntax was checked above, and it must stop where we did. */
    char *end;
    double v = strtod(s, &end);
    if (end != p || !isfinite(v))
        return NULL;
    *out = v;
    return p;
}

/* Whether s[0..len) equals the lower-case word, in any case. */
static bool same_word(const char *s, size_t len, const char *word)
{
    if (len != strlen(word))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
        if (c != word[i])
            return false;
    }
    return true;
}

/* Digits in s[*i..n), moving *i past them; how many. */
static size_t skip_digits(const char *s, size_t n, size_t *i)
{
    size_t start = *i;
    while (*i < n && is_digit(s[*i]))
        (*i)++;
    return *i - start;
}

bool mm_parse_float(const char *s, size_t len, bool specials, double *out)
{
    if (len == 0 || len > MM_FLOAT_TEXT_MAX)
        return false;
    size_t i = s[0] == '+' || s[0] == '-';
    if (same_word(s + i, len - i, "inf") || same_word(s + i, len - i, "infinity")) {
        if (specials)
            *out = s[0] == '-' ? -INFINITY : INFINITY;
        return specials;
    }
    if (same_word(s, len, "nan")) { /* no sign */
        if (specials)
            *out = NAN;
        return specials;
    }
    size_t digits = skip_digits(s, len, &i);
    if (i < len && s[i] == '.') {
        i++;
        digits += skip_digits(s, len, &i);
    }
    if (!digits)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!skip_digits(s, len, &i))
            return false;
    }
    if (i != len)
        return false;
    char buf[MM_FLOAT_TEXT_MAX + 1];
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double v = strtod(buf, &end); /* syntax checked above: it must take it all */
    if (end != buf + len || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Whether text (after an optional '-') is digits only: then a failed scan
 * was an overflow, not junk. */
static bool only_digits(const char *text)
{
    if (*text == '-')
        text++;
    return *text && strspn(text, "0123456789") == strlen(text);
}

int mm_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out, char *err, size_t err_len)
{
    if (!*text) {
        set_err(err, err_len, "the value is empty");
        return -1;
    }
    bool neg = *text == '-';
    uint64_t mag;
    const char *end = mm_scan_u64(text + neg, NULL, &mag);
    if (!only_digits(text)) {
        set_err(err, err_len, "'%.40s' is not a whole number", text);
        return -1;
    }
    bool fits = end && (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX);
    int64_t v = !fits ? 0 : !neg ? (int64_t)mag : mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    if (!fits || v < min || v > max) {
        set_err(err, err_len, "%.40s is out of range %lld..%lld", text, (long long)min, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int mm_parse_u64(const char *text, uint64_t max, uint64_t *out, char *err, size_t err_len)
{
    if (!*text) {
        set_err(err, err_len, "the value is empty");
        return -1;
    }
    uint64_t v;
    const char *end = mm_scan_u64(text, NULL, &v);
    if (*text == '-' || !only_digits(text)) {
        set_err(err, err_len, "'%.40s' is not a whole number of 0 or more", text);
        return -1;
    }
    if (!end || v > max) {
        set_err(err, err_len, "%.40s is out of range 0..%llu", text, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int mm_parse_decimal(const char *text, double min, double max, double *out, char *err, size_t err_len)
{
    if (!*text) {
        set_err(err, err_len, "the value is empty");
        return -1;
    }
    double v;
    const char *end = mm_scan_decimal(text, &v);
    if (!end || *end) {
        set_err(err, err_len, "'%.40s' is not a decimal number", text);
        return -1;
    }
    if (v < min || v > max) {
        set_err(err, err_len, "%.40s is out of range %g..%g", text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- durations ---- */

static const struct {
    const char *suffix;
    double seconds;
    const char *plural;
} units[] = {
    { "h", 3600.0, "hours" },       { "m", 60.0, "minutes" },       { "s", 1.0, "seconds" },
    { "ms", 1e-3, "milliseconds" }, { "us", 1e-6, "microseconds" }, { "ns", 1e-9, "nanoseconds" },
};

#define UNIT_COUNT (sizeof(units) / sizeof(units[0]))

void mm_format_duration(double seconds, char *buf, size_t len)
{
    for (size_t i = 0; i < UNIT_COUNT; i++) {
        if (seconds >= units[i].seconds * (1 - 1e-9)) {
            snprintf(buf, len, "%.4g%s", seconds / units[i].seconds, units[i].suffix);
            return;
        }
    }
    snprintf(buf, len, "%.4gs", seconds);
}

int mm_parse_duration(const char *text, double bare_unit_s, double min_s, double max_s, double *out,
                      char *err, size_t err_len)
{
    const char *bare = "units";
    for (size_t i = 0; i < UNIT_COUNT; i++)
        if (units[i].seconds == bare_unit_s)
            bare = units[i].plural;
    if (!*text) {
        set_err(err, err_len, "the value is empty");
        return -1;
    }
    double v;
    const char *end = mm_scan_decimal(text, &v);
    double unit = -1;
    if (end && !*end)
        unit = bare_unit_s;
    for (size_t i = 0; end && *end && i < UNIT_COUNT; i++)
        if (strcmp(end, units[i].suffix) == 0)
            unit = units[i].seconds;
    if (unit < 0) {
        set_err(err, err_len, "'%.40s' is not a duration: a number of %s, or one with a unit "
                              "such as 500ms, 2s or 1.5m", text, bare);
        return -1;
    }
    double s = v * unit;
    /* "1000us" is 1ms although 1000 * 1e-6 is not exactly 1e-3 */
    if (!(s >= min_s * (1 - 1e-9) && s <= max_s * (1 + 1e-9))) {
        char lo[24], hi[24];
        mm_format_duration(min_s, lo, sizeof(lo));
        mm_format_duration(max_s, hi, sizeof(hi));
        set_err(err, err_len, "%.40s is out of range %s..%s", text, lo, hi);
        return -1;
    }
    *out = s < min_s ? min_s : s > max_s ? max_s : s;
    return 0;
}
