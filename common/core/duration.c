/* duration.c — parser for the duration syntax (see duration.h). */
#include "core/duration.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *suffix;
    double seconds;
} units[] = {
    { "ns", 1e-9 }, { "us", 1e-6 }, { "ms", 1e-3 }, { "s", 1.0 }, { "m", 60.0 }, { "h", 3600.0 }, { "", 1.0 },
};

int mm_parse_duration(const char *text, double *out)
{
    if (!text || !*text || !((*text >= '0' && *text <= '9') || *text == '.'))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || !isfinite(v))
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            double s = v * units[i].seconds;
            if (s <= 0 || s > 86400)
                return -1;
            *out = s;
            return 0;
        }
    }
    return -1;
}
