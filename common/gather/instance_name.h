/* instance_name.h — the one rule for an instance's name, for both fronts:
 * 1 to 63 letters, digits, '_', '.' or '-' (a collectd plugin instance and
 * a line-protocol tag value without escapes); an empty name is the default
 * instance (a Zabbix key without the instance passes ""). */
#ifndef MM_INSTANCE_NAME_H
#define MM_INSTANCE_NAME_H

#include <stddef.h>

#define MM_INSTANCE_NAME_MAX 63

/* *out = name, or the default instance's name for "". 0, or -1 with the
 * reason in err. */
int mm_instance_name_check(const char *name, const char **out, char *err, size_t err_len);

#endif
