/* fleet_config.c — the fleet's options (see fleet_config.h). */
#include "fleet/fleet_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secret_file.h"
#include "fleet/fleet_keys.h"
#include "fleet/redis_url.h"

void mm_fleet_config_defaults(struct mm_fleet_config *c)
{
    memset(c, 0, sizeof(*c));
    c->interval_s = MM_FLEET_DEFAULT_INTERVAL_S;
}

static void wipe(char **s)
{
    if (*s)
        explicit_bzero(*s, strlen(*s));
    free(*s);
    *s = NULL;
}

void mm_fleet_config_free(struct mm_fleet_config *c)
{
    wipe(&c->redis);
    free(c->name);
    wipe(&c->password);
    wipe(&c->salt);
    memset(c, 0, sizeof(*c));
}

static int dup_or_null(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return src && !*dst ? -1 : 0;
}

int mm_fleet_config_copy(struct mm_fleet_config *dst, const struct mm_fleet_config *src)
{
    *dst = *src;
    int rc = dup_or_null(&dst->redis, src->redis) | dup_or_null(&dst->name, src->name) |
             dup_or_null(&dst->password, src->password) | dup_or_null(&dst->salt, src->salt);
    return rc ? -1 : 0;
}

static int replace(char **dst, const char *value, char *err, size_t n)
{
    char *copy = strdup(value);
    if (!copy) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    wipe(dst);
    *dst = copy;
    return 0;
}

int mm_fleet_config_set_redis(struct mm_fleet_config *c, const char *url, char *err, size_t err_len)
{
    struct mm_redis_target t;
    int rc = mm_redis_url_parse(url, &t, err, err_len);
    explicit_bzero(t.password, sizeof(t.password));
    return rc != 0 ? -1 : replace(&c->redis, url, err, err_len);
}

int mm_fleet_config_set_name(struct mm_fleet_config *c, const char *name, char *err, size_t err_len)
{
    if (mm_fleet_check_name(name, err, err_len) != 0)
        return -1;
    return replace(&c->name, name, err, err_len);
}

static int set_from_file(char **dst, const char *path, char *err, size_t err_len)
{
    char *secret;
    if (mm_read_secret_file(path, &secret, err, err_len) != 0)
        return -1;
    if (!secret[0]) {
        free(secret);
        snprintf(err, err_len, "%s: empty", path);
        return -1;
    }
    wipe(dst);
    *dst = secret;
    return 0;
}

int mm_fleet_config_set_password_file(struct mm_fleet_config *c, const char *path, char *err, size_t err_len)
{
    return set_from_file(&c->password, path, err, err_len);
}

int mm_fleet_config_set_salt_file(struct mm_fleet_config *c, const char *path, char *err, size_t err_len)
{
    if (set_from_file(&c->salt, path, err, err_len) != 0)
        return -1;
    if (strlen(c->salt) < 16) { /* an address space of 2^32 is searched in seconds without a real key */
        wipe(&c->salt);
        snprintf(err, err_len, "%s: the salt must be at least 16 bytes (e.g. openssl rand -hex 32)", path);
        return -1;
    }
    return 0;
}

int mm_fleet_config_check(const struct mm_fleet_config *c, char *err, size_t err_len)
{
    if (!c->name) {
        if (c->redis || c->salt || c->password) {
            snprintf(err, err_len, "FleetName (--fleet-name): needed by the other Fleet options");
            return -1;
        }
        return 0;
    }
    if (!c->redis) {
        snprintf(err, err_len, "FleetRedis (--fleet-redis): needed with FleetName");
        return -1;
    }
    if (!c->salt) {
        snprintf(err, err_len, "FleetSaltFile (--fleet-salt-file): needed with FleetName (the same on every host)");
        return -1;
    }
    struct mm_redis_target t;
    char why[128];
    if (mm_redis_url_parse(c->redis, &t, why, sizeof(why)) == 0 && t.password[0] && c->password) {
        explicit_bzero(t.password, sizeof(t.password));
        snprintf(err, err_len, "FleetPasswordFile (--fleet-password-file): the password is in FleetRedis already");
        return -1;
    }
    explicit_bzero(t.password, sizeof(t.password));
    return 0;
}
