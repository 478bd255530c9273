/* fleet_config.h — the fleet's options (FleetRedis, FleetName,
 * FleetPasswordFile, FleetSaltFile, FleetInterval), part of the instance's
 * configuration. The fleet is on when FleetName is given; it then needs
 * FleetRedis and FleetSaltFile. Secrets (password, salt) are read from their
 * files when the option is set and wiped when freed. */
#ifndef MM_FLEET_CONFIG_H
#define MM_FLEET_CONFIG_H

#include <stddef.h>

#define MM_FLEET_DEFAULT_INTERVAL_S 60.0

struct mm_fleet_config {
    char *redis;    /* FleetRedis URL (may hold a password) */
    char *name;     /* FleetName; NULL = fleet off */
    char *password; /* from FleetPasswordFile */
    char *salt;     /* from FleetSaltFile */
    double interval_s;
};

void mm_fleet_config_defaults(struct mm_fleet_config *c);
void mm_fleet_config_free(struct mm_fleet_config *c);
/* Deep copy over dst (not freed first); -1 when out of memory (dst then safe to free). */
int mm_fleet_config_copy(struct mm_fleet_config *dst, const struct mm_fleet_config *src);

/* The setters of config_options.c: 0, or -1 with the reason in err. */
int mm_fleet_config_set_redis(struct mm_fleet_config *c, const char *url, char *err, size_t err_len);
int mm_fleet_config_set_name(struct mm_fleet_config *c, const char *name, char *err, size_t err_len);
int mm_fleet_config_set_password_file(struct mm_fleet_config *c, const char *path, char *err, size_t err_len);
int mm_fleet_config_set_salt_file(struct mm_fleet_config *c, const char *path, char *err, size_t err_len);
/* What spans the options; -1 with the reason (naming the option). */
int mm_fleet_config_check(const struct mm_fleet_config *c, char *err, size_t err_len);

#endif
