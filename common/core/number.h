/* number.h — the one parser of decimal numbers and durations for every module:
 * option values of both fronts, /stats values, /proc fields, pidfiles.
 *
 * Strict on purpose: decimal digits only (no hex, octal, exponent, "inf",
 * "nan", locale grouping), no '+', no white space unless the caller skips it
 * itself, overflow is an error, never a clamp. The whole-text parsers check a
 * range and give the reason in err ("'x' is not a whole number", "70000 is out
 * of range 1..65535"); err may be NULL where the caller has its own words. */
#ifndef MM_NUMBER_H
#define MM_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Scans the decimal digits at s, up to end (NULL: up to the first non-digit).
 * Returns the first byte after them with the value in *out, or NULL when there
 * is no digit or the value does not fit 64 bits. */
const char *mm_scan_u64(const char *s, const char *end, uint64_t *out);

/* The value of one hexadecimal digit (either case), or -1. */
int mm_hex_digit(char c);

/* Scans [-]digits[.digits] (".5" and "5." too) at s. Returns the first byte
 * after it, or NULL when there is no digit or the value is not finite. */
const char *mm_scan_decimal(const char *s, double *out);

/* A float as Prometheus' text format writes it (Go's ParseFloat): s[0..len)
 * (not NUL-terminated) is [+-]digits[.digits][e[+-]digits], at most
 * MM_FLOAT_TEXT_MAX bytes; with specials also NaN and [+-]Inf / Infinity in
 * any case. Nothing out of double range. true with the value in *out. */
#define MM_FLOAT_TEXT_MAX 64
bool mm_parse_float(const char *s, size_t len, bool specials, double *out);

/* All of text as a whole number within [min, max] ('-' only where min < 0).
 * 0, or -1 with the reason in err. */
int mm_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out, char *err, size_t err_len);
int mm_parse_u64(const char *text, uint64_t max, uint64_t *out, char *err, size_t err_len);

/* All of text as a decimal number (mm_scan_decimal) within [min, max]. */
int mm_parse_decimal(const char *text, double min, double max, double *out, char *err, size_t err_len);

/* A duration with unit ns, us, ms, s, m or h ("500ms", "1.5m"); a bare number
 * counts in bare_unit_s seconds (1 on the command line, 0.001 for collectd's
 * millisecond Timeout). Seconds in *out within [min_s, max_s]; 0, or -1 with
 * the reason in err. */
int mm_parse_duration(const char *text, double bare_unit_s, double min_s, double max_s, double *out,
                      char *err, size_t err_len);

/* "1ms", "2s", "1h": seconds as the shortest duration text (for messages). */
void mm_format_duration(double seconds, char *buf, size_t len);

#endif
