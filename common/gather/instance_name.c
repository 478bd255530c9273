/* instance_name.c — the instance name rule (see instance_name.h). */
#include "gather/instance_name.h"

#include <stdio.h>
#include <string.h>

#include "gather/instance.h"

int mm_instance_name_check(const char *name, const char **out, char *err, size_t err_len)
{
    if (!*name) {
        *out = MM_DEFAULT_INSTANCE;
        return 0;
    }
    size_t len = strlen(name);
    int ok = len <= MM_INSTANCE_NAME_MAX;
    for (size_t i = 0; ok && i < len; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
             c == '-';
    }
    if (!ok) {
        snprintf(err, err_len, "'%.*s%s': expects up to %d letters, digits, '_', '.' or '-'", 64, name,
                 len > 64 ? "..." : "", MM_INSTANCE_NAME_MAX);
        return -1;
    }
    *out = name;
    return 0;
}
