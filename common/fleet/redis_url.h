/* redis_url.h — where the fleet's Redis is: FleetRedis / --fleet-redis.
 *   redis://[:PASSWORD@]HOST[:PORT][/DB]        TCP (port 6379, database 0)
 *   redis+unix://[:PASSWORD@]/PATH[?db=DB]      a unix socket
 * HOST may be [IPv6]. A password in the URL is redacted from every message;
 * FleetPasswordFile keeps it out of the configuration altogether. */
#ifndef MM_REDIS_URL_H
#define MM_REDIS_URL_H

#include <stddef.h>

struct mm_redis_target {
    char host[256];      /* TCP; empty for a unix socket */
    int port;
    char unix_path[108]; /* sizeof(sun_path) */
    int db;
    char password[512];  /* empty: none in the URL */
};

/* 0, or -1 with the reason (never quoting the password) in err. */
int mm_redis_url_parse(const char *url, struct mm_redis_target *t, char *err, size_t err_len);

#endif
