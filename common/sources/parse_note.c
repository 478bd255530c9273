/* parse_note.c — the first problem of a parse (see parse_note.h). */
#include "sources/parse_note.h"

#include <stdio.h>

void mm_parse_note(char *first_error, size_t size, unsigned line_no, const char *fmt, va_list ap)
{
    if (size == 0 || first_error[0])
        return;
    char reason[128];
    vsnprintf(reason, sizeof(reason), fmt, ap);
    for (char *p = reason; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    snprintf(first_error, size, "line %u: %s", line_no, reason);
}
