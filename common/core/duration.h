/* duration.h — "500ms", "2s", "1.5m": the duration syntax Telegraf users know. */
#ifndef MM_DURATION_H
#define MM_DURATION_H

/* Parses a positive duration with unit ns, us, ms, s, m or h; a bare number
 * means seconds. Returns 0 and seconds in *out, or -1 on junk, a negative or
 * zero value, or more than a day. */
int mm_parse_duration(const char *text, double *out);

#endif
