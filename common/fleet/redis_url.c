/* redis_url.c — FleetRedis parsing (see redis_url.h). */
#include "fleet/redis_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_int(const char *s, size_t len, int lo, int hi, int *out)
{
    if (len == 0 || len > 6)
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* "[user]:password@" before rest; moves *p past it. */
static int take_password(const char **p, const char *end, struct mm_redis_target *t, char *err, size_t n)
{
    const char *at = NULL;
    for (const char *c = *p; c < end && *c != '/'; c++)
        if (*c == '@')
            at = c;
    if (!at)
        return 0;
    const char *colon = memchr(*p, ':', (size_t)(at - *p));
    if (!colon) {
        snprintf(err, n, "the part before '@' must be ':PASSWORD'");
        return -1;
    }
    size_t len = (size_t)(at - colon - 1);
    if (len == 0 || len >= sizeof(t->password)) {
        snprintf(err, n, "the password must be 1 to %zu bytes", sizeof(t->password) - 1);
        return -1;
    }
    memcpy(t->password, colon + 1, len);
    t->password[len] = 0;
    *p = at + 1;
    return 0;
}

int mm_redis_url_parse(const char *url, struct mm_redis_target *t, char *err, size_t err_len)
{
    memset(t, 0, sizeof(*t));
    t->port = 6379;
    const char *end = url + strlen(url);
    const char *p;
    if (strncmp(url, "redis+unix://", 13) == 0) {
        p = url + 13;
        if (take_password(&p, end, t, err, err_len) != 0)
            return -1;
        const char *q = strchr(p, '?');
        size_t len = (size_t)((q ? q : end) - p);
        if (len < 2 || p[0] != '/' || len >= sizeof(t->unix_path)) {
            snprintf(err, err_len, "expects redis+unix:///PATH with an absolute path below %zu bytes",
                     sizeof(t->unix_path));
            return -1;
        }
        memcpy(t->unix_path, p, len);
        if (q && (strncmp(q, "?db=", 4) != 0 || parse_int(q + 4, strlen(q + 4), 0, 65535, &t->db) != 0)) {
            snprintf(err, err_len, "expects ?db=NUMBER after the path");
            return -1;
        }
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, err_len, "expects redis://HOST:PORT/DB or redis+unix:///PATH");
        return -1;
    }
    p = url + 8;
    if (take_password(&p, end, t, err, err_len) != 0)
        return -1;
    const char *slash = strchr(p, '/');
    const char *host_end = slash ? slash : end;
    const char *port = NULL;
    const char *h = p, *he;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(host_end - p));
        if (!close) {
            snprintf(err, err_len, "an IPv6 host needs its closing ']'");
            return -1;
        }
        h = p + 1;
        he = close;
        if (close + 1 < host_end) {
            if (close[1] != ':') {
                snprintf(err, err_len, "expects ':PORT' after ']'");
                return -1;
            }
            port = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(host_end - p));
        he = colon ? colon : host_end;
        port = colon ? colon + 1 : NULL;
    }
    size_t hl = (size_t)(he - h);
    if (hl == 0 || hl >= sizeof(t->host)) {
        snprintf(err, err_len, "expects a host name of 1 to %zu bytes", sizeof(t->host) - 1);
        return -1;
    }
    memcpy(t->host, h, hl);
    if (port && parse_int(port, (size_t)(host_end - port), 1, 65535, &t->port) != 0) {
        snprintf(err, err_len, "expects a port from 1 to 65535");
        return -1;
    }
    if (slash && slash[1] && parse_int(slash + 1, strlen(slash + 1), 0, 65535, &t->db) != 0) {
        snprintf(err, err_len, "expects a database number after '/'");
        return -1;
    }
    return 0;
}
