/* test_number.c — the one number parser (common/core/number.c): overflow,
 * junk, empty, sign, white space, ranges and their reasons, durations. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/number.h"

static void whole_numbers(void)
{
    int64_t v = 0;
    char err[128];
    CHECK(mm_parse_i64("0", 0, 10, &v, err, sizeof(err)) == 0 && v == 0);
    CHECK(mm_parse_i64("42", 0, 100, &v, err, sizeof(err)) == 0 && v == 42);
    CHECK(mm_parse_i64("-17", -100, 100, &v, err, sizeof(err)) == 0 && v == -17);
    CHECK(mm_parse_i64("-0", 0, 1, &v, err, sizeof(err)) == 0 && v == 0);
    CHECK(mm_parse_i64("007", 0, 10, &v, err, sizeof(err)) == 0 && v == 7);
    CHECK(mm_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v, err, sizeof(err)) == 0 &&
          v == INT64_MAX);
    CHECK(mm_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v, err, sizeof(err)) == 0 &&
          v == INT64_MIN);
}

static void whole_number_overflow(void)
{
    int64_t v = 5;
    char err[128];
    CHECK(mm_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v, err, sizeof(err)) == -1);
    CHECK(strstr(err, "out of range") != NULL);
    CHECK(mm_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v, err, sizeof(err)) == -1);
    CHECK(strstr(err, "out of range") != NULL);
    CHECK(mm_parse_i64("99999999999999999999999", INT64_MIN, INT64_MAX, &v, err, sizeof(err)) == -1);
    CHECK(strstr(err, "out of range") != NULL);
    CHECK_INT_EQ(v, 5); /* untouched on failure */
    uint64_t u = 0;
    CHECK(mm_parse_u64("18446744073709551615", UINT64_MAX, &u, err, sizeof(err)) == 0 && u == UINT64_MAX);
    CHECK(mm_parse_u64("18446744073709551616", UINT64_MAX, &u, err, sizeof(err)) == -1);
    CHECK(strstr(err, "out of range") != NULL);
}

static void whole_number_junk_empty_sign_space(void)
{
    int64_t v;
    char err[128];
    CHECK(mm_parse_i64("", 0, 10, &v, err, sizeof(err)) == -1 && strstr(err, "empty"));
    const char *junk[] = { "x", "1x", "0x10", "1e3", "1.0", "+5", "--5", "-", " 5", "5 ", "5\n", "\t5",
                           "1 000", "1,000", "٣" };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        err[0] = '\0';
        CHECK(mm_parse_i64(junk[i], -100, 100000, &v, err, sizeof(err)) == -1);
        CHECK(strstr(err, "not a whole number") != NULL);
    }
    uint64_t u;
    CHECK(mm_parse_u64("-1", 100, &u, err, sizeof(err)) == -1 && strstr(err, "not a whole number"));
    CHECK(mm_parse_u64("", 100, &u, err, sizeof(err)) == -1 && strstr(err, "empty"));
    CHECK(mm_parse_u64(" 1", 100, &u, err, sizeof(err)) == -1);
    CHECK(mm_parse_i64("x", 0, 1, &v, NULL, 0) == -1); /* err is optional */
}

static void ranges_with_reason(void)
{
    int64_t v;
    char err[128];
    CHECK(mm_parse_i64("65536", 1, 65535, &v, err, sizeof(err)) == -1);
    CHECK(strcmp(err, "65536 is out of range 1..65535") == 0);
    CHECK(mm_parse_i64("0", 1, 65535, &v, err, sizeof(err)) == -1 && strstr(err, "1..65535"));
    CHECK(mm_parse_i64("-1", 0, 10, &v, err, sizeof(err)) == -1 && strstr(err, "out of range 0..10"));
    CHECK(mm_parse_i64("65535", 1, 65535, &v, err, sizeof(err)) == 0 && v == 65535);
    uint64_t u;
    CHECK(mm_parse_u64("11", 10, &u, err, sizeof(err)) == -1 && strstr(err, "out of range 0..10"));
}

static void scanning_prefixes_and_spans(void)
{
    uint64_t v = 0;
    const char *s = "123 456";
    CHECK(mm_scan_u64(s, NULL, &v) == s + 3 && v == 123);
    CHECK(mm_scan_u64(s, s + 2, &v) == s + 2 && v == 12); /* a span need not end in NUL */
    CHECK(mm_scan_u64(" 1", NULL, &v) == NULL);
    CHECK(mm_scan_u64("", NULL, &v) == NULL);
    CHECK(mm_scan_u64("-1", NULL, &v) == NULL);
    CHECK(mm_scan_u64("18446744073709551616", NULL, &v) == NULL);
    CHECK(mm_scan_u64("5", "5", &v) == NULL); /* empty span */
}

static void hex_digits(void)
{
    CHECK_INT_EQ(mm_hex_digit('0'), 0);
    CHECK_INT_EQ(mm_hex_digit('9'), 9);
    CHECK_INT_EQ(mm_hex_digit('a'), 10);
    CHECK_INT_EQ(mm_hex_digit('F'), 15);
    CHECK_INT_EQ(mm_hex_digit('g'), -1);
    CHECK_INT_EQ(mm_hex_digit('\0'), -1);
    CHECK_INT_EQ(mm_hex_digit(' '), -1);
}

static void decimals(void)
{
    double d = 0;
    char err[128];
    CHECK(mm_parse_decimal("99.850", 0, 100, &d, err, sizeof(err)) == 0 && d == 99.85);
    CHECK(mm_parse_decimal("0.000028", 0, 1, &d, err, sizeof(err)) == 0 && d == 0.000028);
    CHECK(mm_parse_decimal("-1.5", -2, 0, &d, err, sizeof(err)) == 0 && d == -1.5);
    CHECK(mm_parse_decimal(".5", 0, 1, &d, err, sizeof(err)) == 0 && d == 0.5);
    CHECK(mm_parse_decimal("5.", 0, 10, &d, err, sizeof(err)) == 0 && d == 5.0);
    CHECK(mm_parse_decimal("", 0, 1, &d, err, sizeof(err)) == -1 && strstr(err, "empty"));
    const char *junk[] = { "1e3", "1E3", "0x1p3", "inf", "nan", "-inf", ".", "-", "-.", "1.2.3", "+1", " 1",
                           "1 ", "1,5" };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        err[0] = '\0';
        CHECK(mm_parse_decimal(junk[i], -1e300, 1e300, &d, err, sizeof(err)) == -1);
        CHECK(strstr(err, "not a decimal number") != NULL);
    }
    /* 400 digits overflow a double: not finite, refused */
    char big[402];
    memset(big, '9', 400);
    big[400] = '\0';
    CHECK(mm_parse_decimal(big, -1e308, 1e308, &d, err, sizeof(err)) == -1);
    CHECK(mm_parse_decimal("2.5", 0, 2, &d, err, sizeof(err)) == -1 && strstr(err, "out of range"));
}

/* Prometheus text values (Go's ParseFloat syntax), on spans of a line */
static void prometheus_floats(void)
{
    double d = 0;
    CHECK(mm_parse_float("1.5e3", 5, false, &d) && d == 1500);
    CHECK(mm_parse_float("+2", 2, false, &d) && d == 2);
    CHECK(mm_parse_float("-.5E-1", 6, false, &d) && d == -0.05);
    CHECK(mm_parse_float("12345", 3, false, &d) && d == 123); /* a span, not up to NUL */
    CHECK(mm_parse_float("-Inf", 4, true, &d) && isinf(d) && d < 0);
    CHECK(mm_parse_float("+infinity", 9, true, &d) && isinf(d) && d > 0);
    CHECK(mm_parse_float("NaN", 3, true, &d) && isnan(d));
    CHECK(!mm_parse_float("-Inf", 4, false, &d));
    CHECK(!mm_parse_float("NaN", 3, false, &d));
    const char *junk[] = { "-NaN", "1e", "1e+", "0x1p3", "1_000", "1e400", "", ".", "e5", "1.2.3", " 1", "1 " };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        CHECK(!mm_parse_float(junk[i], strlen(junk[i]), true, &d));
    char long_number[MM_FLOAT_TEXT_MAX + 2];
    memset(long_number, '1', sizeof(long_number));
    CHECK(mm_parse_float(long_number, MM_FLOAT_TEXT_MAX, false, &d));
    CHECK(!mm_parse_float(long_number, MM_FLOAT_TEXT_MAX + 1, false, &d));
}

static void durations(void)
{
    double s = 0;
    char err[160];
    CHECK(mm_parse_duration("500ms", 1, 0.001, 3600, &s, err, sizeof(err)) == 0 && s == 0.5);
    CHECK(mm_parse_duration("2s", 1, 0.001, 3600, &s, err, sizeof(err)) == 0 && s == 2.0);
    CHECK(mm_parse_duration("1.5m", 1, 0.001, 3600, &s, err, sizeof(err)) == 0 && s == 90.0);
    CHECK(mm_parse_duration("1h", 1, 0.001, 3600, &s, err, sizeof(err)) == 0 && s == 3600.0);
    CHECK(mm_parse_duration("3", 1, 0.001, 3600, &s, err, sizeof(err)) == 0 && s == 3.0);
    CHECK(mm_parse_duration("1000us", 1, 0.001, 3600, &s, err, sizeof(err)) == 0 && s == 0.001);
    /* a bare number in another unit: collectd's milliseconds */
    CHECK(mm_parse_duration("500", 0.001, 0.001, 3600, &s, err, sizeof(err)) == 0 && s == 0.5);
    CHECK(mm_parse_duration("2s", 0.001, 0.001, 3600, &s, err, sizeof(err)) == 0 && s == 2.0);
    CHECK(mm_parse_duration("soon", 0.001, 0.001, 3600, &s, err, sizeof(err)) == -1);
    CHECK(strstr(err, "not a duration") && strstr(err, "milliseconds"));
    CHECK(mm_parse_duration("2h", 1, 0.001, 3600, &s, err, sizeof(err)) == -1);
    CHECK(strcmp(err, "2h is out of range 1ms..1h") == 0);
    CHECK(mm_parse_duration("-1s", 1, 0.001, 3600, &s, err, sizeof(err)) == -1 && strstr(err, "out of range"));
    CHECK(mm_parse_duration("0", 1, 0.001, 3600, &s, err, sizeof(err)) == -1 && strstr(err, "out of range"));
    const char *bad[] = { "", "s", "abc", "5x", "2 s", " 2s", "1e3s", "nan", "infs", "0x10s", "2S" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(mm_parse_duration(bad[i], 1, 0.001, 86400, &s, err, sizeof(err)) == -1);
    char text[24];
    mm_format_duration(0.001, text, sizeof(text));
    CHECK(strcmp(text, "1ms") == 0);
    mm_format_duration(86400, text, sizeof(text));
    CHECK(strcmp(text, "24h") == 0);
    mm_format_duration(1.6, text, sizeof(text));
    CHECK(strcmp(text, "1.6s") == 0);
}

int main(void)
{
    TEST(whole_numbers);
    TEST(whole_number_overflow);
    TEST(whole_number_junk_empty_sign_space);
    TEST(ranges_with_reason);
    TEST(scanning_prefixes_and_spans);
    TEST(hex_digits);
    TEST(decimals);
    TEST(prometheus_floats);
    TEST(durations);
    return check_done();
}
