/* fleet_redis.c — the connection to the fleet's Redis (see fleet_redis.h). */
#include "fleet/fleet_redis.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

void mm_fleet_redis_init(struct mm_fleet_redis *r, const struct mm_redis_target *target, const char *password,
                         double max_backoff_s)
{
    memset(r, 0, sizeof(*r));
    r->target = *target;
    if (password)
        snprintf(r->target.password, sizeof(r->target.password), "%s", password);
    r->backoff_ms = 1000;
    r->max_backoff_ms = (int64_t)(max_backoff_s * 1000);
    if (r->max_backoff_ms < 1000)
        r->max_backoff_ms = 1000;
}

void mm_fleet_redis_free(struct mm_fleet_redis *r)
{
    if (r->c)
        redisFree(r->c);
    explicit_bzero(r->target.password, sizeof(r->target.password));
    r->c = NULL;
}

void mm_fleet_redis_fail(struct mm_fleet_redis *r, int64_t now_ms)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
    r->next_try_ms = now_ms + r->backoff_ms;
    r->backoff_ms = r->backoff_ms * 2 > r->max_backoff_ms ? r->max_backoff_ms : r->backoff_ms * 2;
}

void mm_fleet_redis_moved(struct mm_fleet_redis *r, const char *reply)
{
    /* "MOVED <slot> <host>:<port>" */
    const char *sp = strrchr(reply, ' ');
    const char *colon = sp ? strrchr(sp, ':') : NULL;
    if (!colon || colon == sp + 1 || (size_t)(colon - sp - 1) >= sizeof(r->target.host))
        return;
    int port = atoi(colon + 1);
    if (port < 1 || port > 65535)
        return;
    memset(r->target.host, 0, sizeof(r->target.host));
    memcpy(r->target.host, sp + 1, (size_t)(colon - sp - 1));
    r->target.port = port;
    r->target.unix_path[0] = 0;
}

static struct timeval tv_ms(long ms)
{
    return (struct timeval){ ms / 1000, (ms % 1000) * 1000 };
}

/* One command on a fresh connection: 0 when its reply is not an error. */
static int simple(struct mm_fleet_redis *r, redisReply **out, char *err, size_t n, int argc, const char **argv)
{
    redisReply *reply = redisCommandArgv(r->c, argc, argv, NULL);
    if (!reply) {
        snprintf(err, n, "%s: %s", argv[0], r->c->errstr[0] ? r->c->errstr : "no reply");
        return -1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(err, n, "%s refused: %.200s", argv[0], reply->str);
        freeReplyObject(reply);
        return -2;
    }
    if (out)
        *out = reply;
    else
        freeReplyObject(reply);
    return 0;
}

int mm_fleet_redis_ensure(struct mm_fleet_redis *r, int64_t now_ms, enum mm_fleet_fail *kind, char *err,
                          size_t err_len)
{
    *kind = MM_FLEET_OK;
    if (r->c)
        return 0;
    if (now_ms < r->next_try_ms)
        return -1;
    struct timeval ct = tv_ms(MM_FLEET_CONNECT_TIMEOUT_MS);
    const struct mm_redis_target *t = &r->target;
    r->c = t->unix_path[0] ? redisConnectUnixWithTimeout(t->unix_path, ct)
                           : redisConnectWithTimeout(t->host, t->port, ct);
    if (!r->c || r->c->err) {
        *kind = MM_FLEET_CONNECT;
        if (t->unix_path[0])
            snprintf(err, err_len, "cannot connect to %s: %s", t->unix_path, r->c ? r->c->errstr : "out of memory");
        else
            snprintf(err, err_len, "cannot connect to %s:%d: %s", t->host, t->port,
                     r->c ? r->c->errstr : "out of memory");
        mm_fleet_redis_fail(r, now_ms);
        return -1;
    }
    if (redisSetTimeout(r->c, tv_ms(MM_FLEET_COMMAND_TIMEOUT_MS)) != REDIS_OK) {
        *kind = MM_FLEET_CONNECT;
        snprintf(err, err_len, "cannot set the command timeout");
        mm_fleet_redis_fail(r, now_ms);
        return -1;
    }
    int rc;
    if (t->password[0]) {
        const char *argv[] = { "AUTH", t->password };
        if ((rc = simple(r, NULL, err, err_len, 2, argv)) != 0) {
            *kind = rc == -2 ? MM_FLEET_AUTH : MM_FLEET_IO;
            mm_fleet_redis_fail(r, now_ms);
            return -1;
        }
    }
    if (t->db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", t->db);
        const char *argv[] = { "SELECT", db };
        if ((rc = simple(r, NULL, err, err_len, 2, argv)) != 0) {
            *kind = rc == -2 ? MM_FLEET_REPLY : MM_FLEET_IO;
            mm_fleet_redis_fail(r, now_ms);
            return -1;
        }
    }
    redisReply *info = NULL;
    const char *argv[] = { "INFO", "server" };
    if ((rc = simple(r, &info, err, err_len, 2, argv)) != 0) {
        *kind = rc == -2 ? MM_FLEET_AUTH : MM_FLEET_IO; /* NOAUTH: a password is needed */
        mm_fleet_redis_fail(r, now_ms);
        return -1;
    }
    const char *id = info->type == REDIS_REPLY_STRING ? strstr(info->str, "run_id:") : NULL;
    char run_id[sizeof(r->run_id)] = "";
    if (id) {
        id += 7;
        size_t len = strcspn(id, "\r\n");
        if (len >= sizeof(run_id))
            len = sizeof(run_id) - 1;
        memcpy(run_id, id, len);
        run_id[len] = 0;
    }
    freeReplyObject(info);
    if (r->run_id[0] && strcmp(run_id, r->run_id) != 0)
        r->restarted = 1;
    memcpy(r->run_id, run_id, sizeof(run_id));
    r->backoff_ms = 1000;
    return 0;
}
