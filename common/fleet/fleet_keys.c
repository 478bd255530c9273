/* fleet_keys.c — key names (see fleet_keys.h). */
#include "fleet/fleet_keys.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int hour_text(char *buf, size_t size, uint32_t hour)
{
    time_t t = (time_t)hour * 3600;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return -1;
    return strftime(buf, size, "%Y%m%d%H", &tm) ? 0 : -1;
}

int mm_fleet_key(char *buf, size_t size, const char *fleet, const char *country, uint32_t hour)
{
    char h[16];
    if (hour_text(h, sizeof(h), hour) != 0)
        return -1;
    int n = country ? snprintf(buf, size, "{mtproxy:%s}:ips:%s:%s", fleet, country, h)
                    : snprintf(buf, size, "{mtproxy:%s}:ips:%s", fleet, h);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int mm_fleet_countries_key(char *buf, size_t size, const char *fleet)
{
    int n = snprintf(buf, size, "{mtproxy:%s}:countries", fleet);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int mm_fleet_check_name(const char *name, char *err, size_t err_len)
{
    size_t len = strlen(name);
    if (len == 0 || len > MM_FLEET_NAME_MAX) {
        snprintf(err, err_len, "expects 1 to %d characters", MM_FLEET_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.')) {
            snprintf(err, err_len, "may hold only letters, digits, '_', '-' and '.'");
            return -1;
        }
    }
    return 0;
}
