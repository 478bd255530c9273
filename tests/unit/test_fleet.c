/* test_fleet.c — the fleet's pure parts: SipHash, key names, the FleetRedis
 * URL, the hourly seen set, the bounded pending queue, and the push side's
 * dedup, countries and resend (the Redis exchange: tests/integration/test_fleet.py). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fleet/fleet_config.h"
#include "fleet/fleet_keys.h"
#include "fleet/fleet_push.h"
#include "fleet/fleet_queue.h"
#include "fleet/redis_url.h"
#include "fleet/siphash.h"

static void siphash_reference_vector(void)
{
    /* the paper's Appendix A: key 00..0f, message 00..0e */
    unsigned char k[16], m[15];
    for (int i = 0; i < 16; i++)
        k[i] = (unsigned char)i;
    for (int i = 0; i < 15; i++)
        m[i] = (unsigned char)i;
    uint64_t key[2] = { 0, 0 };
    for (int i = 7; i >= 0; i--) {
        key[0] = (key[0] << 8) | k[i];
        key[1] = (key[1] << 8) | k[i + 8];
    }
    CHECK(mm_siphash24(key, m, sizeof(m)) == 0xa129ca6149be45e5ULL);
    CHECK(mm_siphash24(key, m, 0) == 0x726fdb47dd0e0e31ULL); /* the empty message */
}

static void key_names(void)
{
    char buf[MM_FLEET_KEY_MAX];
    uint32_t hour = mm_fleet_hour(1796692522); /* 2026-12-08 01:15:22 UTC */
    CHECK_INT_EQ(mm_fleet_key(buf, sizeof(buf), "eu", NULL, hour), 27);
    CHECK(strcmp(buf, "{mtproxy:eu}:ips:2026120801") == 0);
    mm_fleet_key(buf, sizeof(buf), "eu", "DE", hour - 2);
    CHECK(strcmp(buf, "{mtproxy:eu}:ips:DE:2026120723") == 0);
    mm_fleet_countries_key(buf, sizeof(buf), "eu");
    CHECK(strcmp(buf, "{mtproxy:eu}:countries") == 0);
    CHECK_INT_EQ(mm_fleet_key(buf, 10, "eu", NULL, hour), -1);
    char err[128];
    CHECK_INT_EQ(mm_fleet_check_name("prod-eu_1.a", err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_fleet_check_name("a}b", err, sizeof(err)), -1); /* would end the hash tag */
    CHECK_INT_EQ(mm_fleet_check_name("", err, sizeof(err)), -1);
}

static void redis_urls(void)
{
    struct mm_redis_target t;
    char err[128];
    CHECK_INT_EQ(mm_redis_url_parse("redis://:s3cret@redis.example:6380/2", &t, err, sizeof(err)), 0);
    CHECK(strcmp(t.host, "redis.example") == 0 && t.port == 6380 && t.db == 2 && strcmp(t.password, "s3cret") == 0);
    CHECK_INT_EQ(mm_redis_url_parse("redis://10.0.0.1", &t, err, sizeof(err)), 0);
    CHECK(strcmp(t.host, "10.0.0.1") == 0 && t.port == 6379 && t.db == 0 && !t.password[0]);
    CHECK_INT_EQ(mm_redis_url_parse("redis://[::1]:7000/", &t, err, sizeof(err)), 0);
    CHECK(strcmp(t.host, "::1") == 0 && t.port == 7000);
    CHECK_INT_EQ(mm_redis_url_parse("redis+unix:///run/redis.sock?db=3", &t, err, sizeof(err)), 0);
    CHECK(strcmp(t.unix_path, "/run/redis.sock") == 0 && t.db == 3 && !t.host[0]);
    CHECK_INT_EQ(mm_redis_url_parse("redis+unix://:pw@/run/r.sock", &t, err, sizeof(err)), 0);
    CHECK(strcmp(t.password, "pw") == 0 && strcmp(t.unix_path, "/run/r.sock") == 0);
    CHECK_INT_EQ(mm_redis_url_parse("http://x", &t, err, sizeof(err)), -1);
    CHECK_INT_EQ(mm_redis_url_parse("redis://h:0", &t, err, sizeof(err)), -1);
    CHECK_INT_EQ(mm_redis_url_parse("redis://h:1/x", &t, err, sizeof(err)), -1);
    CHECK_INT_EQ(mm_redis_url_parse("redis://user@h", &t, err, sizeof(err)), -1);
    CHECK(strstr(err, "user") == NULL);
    CHECK_INT_EQ(mm_redis_url_parse("redis+unix://relative", &t, err, sizeof(err)), -1);
}

static void config_needs_redis_and_salt(void)
{
    struct mm_fleet_config c;
    char err[160];
    mm_fleet_config_defaults(&c);
    CHECK_INT_EQ(mm_fleet_config_check(&c, err, sizeof(err)), 0); /* off */
    CHECK_INT_EQ(mm_fleet_config_set_redis(&c, "redis://h", err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_fleet_config_check(&c, err, sizeof(err)), -1); /* no FleetName */
    CHECK_INT_EQ(mm_fleet_config_set_name(&c, "f", err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_fleet_config_check(&c, err, sizeof(err)), -1);
    CHECK(strstr(err, "FleetSaltFile") != NULL);
    c.salt = strdup("0123456789abcdef");
    CHECK(c.salt != NULL);
    CHECK_INT_EQ(mm_fleet_config_check(&c, err, sizeof(err)), 0);
    struct mm_fleet_config copy;
    CHECK_INT_EQ(mm_fleet_config_copy(&copy, &c), 0);
    CHECK(strcmp(copy.salt, c.salt) == 0 && copy.salt != c.salt && copy.interval_s == 60.0);
    mm_fleet_config_free(&copy);
    mm_fleet_config_free(&c);
}

static void seen_set_is_per_hour(void)
{
    struct mm_fleet_seen s;
    mm_fleet_seen_init(&s, 5000);
    mm_fleet_seen_hour(&s, 100);
    for (uint64_t h = 1; h <= 3000; h++)
        CHECK_INT_EQ(mm_fleet_seen_add(&s, h * 0x9e3779b97f4a7c15ULL, 1), 1);
    CHECK_INT_EQ(mm_fleet_seen_add(&s, 7 * 0x9e3779b97f4a7c15ULL, 1), 0);
    CHECK_INT_EQ((long)s.used, 3000);
    const struct mm_fleet_entry *e;
    size_t n = 0;
    for (size_t i = 0; (e = mm_fleet_seen_next(&s, &i));)
        n++;
    CHECK_INT_EQ((long)n, 3000);
    mm_fleet_seen_hour(&s, 101);
    CHECK_INT_EQ((long)s.used, 0);
    CHECK_INT_EQ(mm_fleet_seen_add(&s, 7 * 0x9e3779b97f4a7c15ULL, 1), 1);
    for (uint64_t h = 1; h <= 6000; h++)
        mm_fleet_seen_add(&s, h * 31, 0);
    CHECK_INT_EQ((long)s.used, 5000); /* bounded */
    CHECK_INT_EQ(mm_fleet_seen_add(&s, 0xdeadbeef, 0), -1);
    mm_fleet_seen_free(&s);
}

static void queue_wraps_and_drops_when_full(void)
{
    struct mm_fleet_queue q;
    mm_fleet_queue_init(&q, 3000);
    for (uint64_t i = 1; i <= 1500; i++) {
        struct mm_fleet_entry e = { i, 7, 0 };
        CHECK_INT_EQ(mm_fleet_queue_push(&q, &e), 0);
    }
    mm_fleet_queue_pop(&q, 1000);
    CHECK(mm_fleet_queue_at(&q, 0)->hash == 1001);
    for (uint64_t i = 1501; i <= 4500; i++) { /* wraps, then grows, then is full */
        struct mm_fleet_entry e = { i, 7, 0 };
        mm_fleet_queue_push(&q, &e);
    }
    CHECK_INT_EQ((long)q.len, 3000);
    CHECK_INT_EQ((long)q.dropped, 500);
    for (size_t i = 0; i < q.len; i++)
        if (mm_fleet_queue_at(&q, i)->hash != 1001 + i) {
            CHECK(0); /* oldest first, in order */
            break;
        }
    CHECK(mm_fleet_queue_at(&q, 3000) == NULL);
    mm_fleet_queue_pop(&q, 5000);
    CHECK_INT_EQ((long)q.len, 0);
    mm_fleet_queue_free(&q);
}

static void push_once_per_hour_with_countries(void)
{
    struct mm_fleet_push p;
    CHECK_INT_EQ(mm_fleet_push_init(&p, "f", "0123456789abcdef", 2), 0);
    unsigned char a[16] = { 0 }, b[16] = { 0 }, c[16] = { 0 };
    a[15] = 1, b[15] = 2, c[15] = 3;
    mm_fleet_push_add(&p, a, 16, "DE", 100);
    mm_fleet_push_add(&p, a, 16, "DE", 100); /* once per hour */
    mm_fleet_push_add(&p, b, 16, "FR", 100);
    mm_fleet_push_add(&p, c, 16, "US", 100); /* beyond max_countries: "other" */
    CHECK_INT_EQ((long)p.queue.len, 3);
    CHECK(strcmp(p.codes[mm_fleet_queue_at(&p.queue, 0)->country], "DE") == 0);
    CHECK(strcmp(p.codes[mm_fleet_queue_at(&p.queue, 2)->country], "other") == 0);
    mm_fleet_push_add(&p, a, 16, "DE", 101); /* a new hour: again */
    CHECK_INT_EQ((long)p.queue.len, 4);
    CHECK(mm_fleet_queue_at(&p.queue, 3)->hour == 101);
    mm_fleet_queue_pop(&p.queue, 4);
    mm_fleet_push_resend_hour(&p, 101); /* Redis came back empty */
    CHECK_INT_EQ((long)p.queue.len, 1);
    CHECK(strcmp(p.codes[mm_fleet_queue_at(&p.queue, 0)->country], "DE") == 0);
    /* the element Redis sees: 16 hex digits of the keyed hash, never the address */
    char hex[17];
    mm_fleet_hash_text(0x0123456789abcdefULL, hex);
    CHECK(strcmp(hex, "0123456789abcdef") == 0);
    struct mm_fleet_push other;
    CHECK_INT_EQ(mm_fleet_push_init(&other, "f", "another salt, 16+ bytes", 0), 0);
    mm_fleet_push_add(&other, a, 16, "DE", 101);
    CHECK(mm_fleet_queue_at(&other.queue, 0)->hash != mm_fleet_queue_at(&p.queue, 0)->hash);
    CHECK_INT_EQ(mm_fleet_queue_at(&other.queue, 0)->country, 0); /* countries off */
    mm_fleet_push_free(&other);
    mm_fleet_push_free(&p);
}

int main(void)
{
    TEST(siphash_reference_vector);
    TEST(key_names);
    TEST(redis_urls);
    TEST(config_needs_redis_and_salt);
    TEST(seen_set_is_per_hour);
    TEST(queue_wraps_and_drops_when_full);
    TEST(push_once_per_hour_with_countries);
    return check_done();
}
