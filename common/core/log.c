/* log.c — formatting for the front's logger and the repeat latch. */
#include "core/log.h"

#include <stdarg.h>
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

    if (latch->failing && kind == latch->kind) {
        latch->repeats++;
        if (latch->repeats % MM_REPEAT_SUMMARY_EVERY == 0)
            mm_log(log, level, "%s (still failing, %lu times in a row)", buf, latch->repeats + 1);
        return;
    }
    latch->kind = kind;
    latch->failing = 1;
    latch->repeats = 0;
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
}
