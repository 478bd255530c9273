/* parse_note.h — the first problem of a parse, as a log line can carry it:
 * both page parsers describe their first skipped line the same way. */
#ifndef MM_PARSE_NOTE_H
#define MM_PARSE_NOTE_H

#include <stdarg.h>
#include <stddef.h>

/* Writes "line N: <reason>" into first_error[0..size) unless it already
 * holds one. The reason may quote the page: bytes below 0x20 or above 0x7e
 * become '?', so a hostile page cannot write control sequences into a log. */
void mm_parse_note(char *first_error, size_t size, unsigned line_no, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
