/* log.h — how the core talks to the agent's log.
 *
 * The core never writes to stderr or calls collectd: each front hands it an
 * mm_logger that routes messages to plugin_log() or to Telegraf's "E! "
 * prefixed stderr lines. The front adds the instance name. */
#ifndef MM_LOG_H
#define MM_LOG_H

#include <stddef.h>

enum mm_log_level { MM_LOG_ERROR, MM_LOG_WARNING, MM_LOG_INFO, MM_LOG_DEBUG };

struct mm_logger {
    void (*emit)(void *ctx, enum mm_log_level level, const char *message);
    void *ctx;
};

#if defined(__GNUC__)
#define MM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MM_PRINTF(a, b)
#endif

void mm_log(const struct mm_logger *log, enum mm_log_level level, const char *fmt, ...)
    MM_PRINTF(3, 4);

/* A latch for a failure that may repeat every interval: within one failing
 * streak each kind of failure is logged once (a streak that alternates
 * between two reasons, a page that times out or is too big depending on the
 * host's load, says each reason once, not at every change), repeats are
 * counted and summarised every MM_REPEAT_SUMMARY_EVERY times, and recovery
 * is logged once. Messages of one kind may differ in detail ("timed out
 * after 501 ms"): mm_latch_fail() takes the call site (its format string) as
 * the kind, mm_latch_fail_kind() a number chosen by the caller (an error
 * code). */
#define MM_REPEAT_SUMMARY_EVERY 100
#define MM_LATCH_MESSAGE_MAX 512
#define MM_LATCH_KINDS 8 /* kinds remembered per streak; more are logged again */

struct mm_error_latch {
    long kind; /* the last one */
    unsigned long repeats;
    int failing;
    long seen[MM_LATCH_KINDS]; /* kinds logged in this streak */
    unsigned n_seen;
};

void mm_latch_fail(struct mm_error_latch *latch, const struct mm_logger *log,
                   enum mm_log_level level, const char *fmt, ...) MM_PRINTF(4, 5);
void mm_latch_fail_kind(struct mm_error_latch *latch, const struct mm_logger *log,
                        enum mm_log_level level, long kind, const char *fmt, ...) MM_PRINTF(5, 6);
/* what: a short noun for the recovery message, e.g. "stats page". */
void mm_latch_ok(struct mm_error_latch *latch, const struct mm_logger *log, const char *what);

#endif
