/* log.c — formatting for the front's logger and the repeat latch. */
#include "core/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void log_message(const struct mm_logger *log, enum mm_log_level level, const char *msg)
{
    if (log && log->emit)
        log->emit(log->ctx, level, msg);
}

void mm_log(const struct mm_logger *log, enum mm_log_level level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_message(log, level, buf);
}

static void latch_fail(struct mm_error_latch *latch, const struct mm_logger *log,
                       enum mm_log_level level, long kind, const char *fmt, va_list ap)
{
    char buf[MM_LATCH_MESSAGE_MAX];
    vsnprintf(buf, sizeof(buf), fmt, ap);

    if (!latch->failing)
        latch->n_seen = 0;
    bool known = false;
    for (unsigned i = 0; i < latch->n_seen && !known; i++)
        known = latch->seen[i] == kind;
    if (latch->failing && known) {
        latch->kind = kind;
        latch->repeats++;
        if (latch->repeats % MM_REPEAT_SUMMARY_EVERY == 0)
            mm_log(log, level, "%s (still failing, %lu times in a row)", buf, latch->repeats + 1);
        return;
    }
    if (latch->n_seen < MM_LATCH_KINDS)
        latch->seen[latch->n_seen++] = kind;
    latch->kind = kind;
    if (!latch->failing)
        latch->repeats = 0;
    else
        latch->repeats++;
    latch->failing = 1;
    log_message(log, level, buf);
}

void mm_latch_fail(struct mm_error_latch *latch, const struct mm_logger *log,
                   enum mm_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    latch_fail(latch, log, level, (long)(uintptr_t)fmt, fmt, ap);
    va_end(ap);
}

void mm_latch_fail_kind(struct mm_error_latch *latch, const struct mm_logger *log,
                        enum mm_log_level level, long kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    latch_fail(latch, log, level, kind, fmt, ap);
    va_end(ap);
}

void mm_latch_ok(struct mm_error_latch *latch, const struct mm_logger *log, const char *what)
{
    if (!latch->failing)
        return;
    mm_log(log, MM_LOG_INFO, "%s recovered after %lu failed gather(s)", what, latch->repeats + 1);
    latch->failing = 0;
    latch->repeats = 0;
    latch->n_seen = 0;
}
