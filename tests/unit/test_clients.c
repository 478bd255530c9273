/* test_clients.c — the state file (state_file.h) and the clients module
 * (clients.h: windows + churn + state) with an injected clock: restart keeps
 * the figures; missing, foreign, truncated, corrupt, locked and unwritable
 * files are one warning each and a fresh start or memory only; churn puts
 * closed connections into the right lifetime bucket. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/state_file.h"
#include "host/sockets/clients.h"

static char dir[64];

struct logbuf {
    int n[4];
    char last[1024];
};

static void log_emit(void *ctx, enum mm_log_level level, const char *msg)
{
    struct logbuf *b = ctx;
    b->n[level]++;
    snprintf(b->last, sizeof(b->last), "%s", msg);
    if (getenv("TEST_VERBOSE"))
        printf("# log[%d]: %s\n", level, msg);
}

static char *path_in(const char *name)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* ---- state file ---- */

static void state_roundtrip(void)
{
    struct logbuf lb = {{0}, ""};
    struct mm_logger log = {log_emit, &lb};
    struct mm_state_file sf;
    unsigned char payload[1000], back[2000];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (unsigned char)(i * 7);
    mm_state_file_open(&sf, path_in("a.state"), "main", &log);
    CHECK(!sf.disabled);
    CHECK_INT_EQ(mm_state_file_read(&sf, back, sizeof(back), &log), -1); /* missing */
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 1);
    CHECK(strstr(lb.last, "not there yet") != NULL);
    CHECK_INT_EQ(mm_state_file_write(&sf, payload, sizeof(payload), &log), 0);
    CHECK_INT_EQ(mm_state_file_read(&sf, back, sizeof(back), &log), (long)sizeof(payload));
    CHECK(memcmp(back, payload, sizeof(payload)) == 0);
    CHECK(access(path_in("a.state.tmp"), F_OK) != 0); /* renamed, nothing left over */
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 1);
    mm_state_file_close(&sf);
    /* nothing configured: silent, memory only */
    mm_state_file_open(&sf, NULL, "main", &log);
    CHECK_INT_EQ(mm_state_file_read(&sf, back, sizeof(back), &log), -1);
    CHECK_INT_EQ(mm_state_file_write(&sf, payload, 10, &log), -1);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 1);
    mm_state_file_close(&sf);
}

static void write_raw(const char *p, const unsigned char *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(b, 1, n, f) == n);
        fclose(f);
    }
}

static unsigned char *read_raw(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    unsigned char *b = malloc(1 << 20);
    *n = f && b ? fread(b, 1, 1 << 20, f) : 0;
    if (f)
        fclose(f);
    return b;
}

/* One bad file: exactly one warning naming why, no payload. */
static void expect_refused(const char *p, const char *owner, const char *why)
{
    struct logbuf lb = {{0}, ""};
    struct mm_logger log = {log_emit, &lb};
    struct mm_state_file sf;
    unsigned char back[4096];
    mm_state_file_open(&sf, p, owner, &log);
    CHECK_INT_EQ(mm_state_file_read(&sf, back, sizeof(back), &log), -1);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 1);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 0);
    if (!strstr(lb.last, why))
        printf("#   expected '%s' in: %s\n", why, lb.last);
    CHECK(strstr(lb.last, why) != NULL);
    mm_state_file_close(&sf);
}

/* Issue 25: an existing file that is not ours: one error naming why, no payload, and the file
 * is never written over (read, then a write, then the instance's end), byte for byte. */
static void expect_left_alone(const char *p, const char *owner, const char *why)
{
    struct logbuf lb = {{0}, ""};
    struct mm_logger log = {log_emit, &lb};
    struct mm_state_file sf;
    unsigned char back[4096], payload[64] = {7};
    size_t before_n, after_n;
    unsigned char *before = read_raw(p, &before_n);
    mm_state_file_open(&sf, p, owner, &log);
    CHECK_INT_EQ(mm_state_file_read(&sf, back, sizeof(back), &log), -1);
    CHECK_INT_EQ(mm_state_file_write(&sf, payload, sizeof(payload), &log), -1);
    CHECK_INT_EQ(mm_state_file_write(&sf, payload, sizeof(payload), &log), -1);
    mm_state_file_close(&sf);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 1);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 0);
    if (!strstr(lb.last, why) || !strstr(lb.last, "left alone"))
        printf("#   expected '%s' and 'left alone' in: %s\n", why, lb.last);
    CHECK(strstr(lb.last, why) != NULL && strstr(lb.last, "left alone") != NULL);
    unsigned char *after = read_raw(p, &after_n);
    CHECK(after_n == before_n && memcmp(before, after, before_n) == 0);
    free(before);
    free(after);
}

/* A foreign file put at the path after the read (or with no read at all) is judged before a write. */
static void state_foreign_appears_later(void)
{
    struct logbuf lb = {{0}, ""};
    struct mm_logger log = {log_emit, &lb};
    struct mm_state_file sf;
    unsigned char payload[32] = {1}, back[256];
    const char *p = path_in("late.state");
    mm_state_file_open(&sf, p, "main", &log);
    CHECK_INT_EQ(mm_state_file_write(&sf, payload, sizeof(payload), &log), 0);
    CHECK_INT_EQ(mm_state_file_read(&sf, back, sizeof(back), &log), (long)sizeof(payload));
    CHECK_INT_EQ(mm_state_file_write(&sf, payload, sizeof(payload), &log), 0); /* ours, still */
    write_raw(p, (const unsigned char *)"127.0.0.1 localhost\n", 20);
    CHECK_INT_EQ(mm_state_file_write(&sf, payload, sizeof(payload), &log), -1);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 1);
    CHECK(strstr(lb.last, "not a state file of this program") != NULL);
    mm_state_file_close(&sf);
    size_t n;
    unsigned char *b = read_raw(p, &n);
    CHECK(n == 20 && memcmp(b, "127.0.0.1 localhost\n", 20) == 0);
    free(b);
}

static void state_bad_files(void)
{
    struct logbuf lb = {{0}, ""};
    struct mm_logger log = {log_emit, &lb};
    struct mm_state_file sf;
    unsigned char payload[300];
    memset(payload, 0x5a, sizeof(payload));
    const char *p = path_in("b.state");
    mm_state_file_open(&sf, p, "main", &log);
    CHECK_INT_EQ(mm_state_file_write(&sf, payload, sizeof(payload), &log), 0);
    mm_state_file_close(&sf);
    size_t n;
    unsigned char *good = read_raw(p, &n);
    CHECK(n == 32 + 4 + sizeof(payload));

    expect_left_alone(p, "other", "it belongs to instance 'main'");
    write_raw(p, (const unsigned char *)"[[inputs.execd]]\ncommand = []\n", 30);
    expect_left_alone(p, "main", "not a state file of this program");
    write_raw(p, (const unsigned char *)"ftp", 3); /* shorter than the magic */
    expect_left_alone(p, "main", "not a state file of this program");
    write_raw(p, good, 20);
    expect_refused(p, "main", "truncated");
    write_raw(p, good, n - 1);
    expect_refused(p, "main", "truncated");
    unsigned char *bad = malloc(n + 1);
    memcpy(bad, good, n);
    bad[n - 5] ^= 0x10;
    write_raw(p, bad, n);
    expect_refused(p, "main", "corrupt (checksum");
    memcpy(bad, good, n);
    bad[8] = 9; /* a format version from the future */
    write_raw(p, bad, n);
    expect_left_alone(p, "main", "format version 9");
    write_raw(p, good, 20); /* a cut header of ours stays ours */
    expect_refused(p, "main", "truncated");
    memcpy(bad, good, n);
    bad[n] = 0;
    write_raw(p, bad, n + 1);
    expect_refused(p, "main", "corrupt");
    write_raw(p, good, 0);
    expect_refused(p, "main", "truncated");
    CHECK(mkdir(path_in("c.state"), 0700) == 0);
    expect_refused(path_in("c.state"), "main", "not a regular file");
    free(bad);
    free(good);
    state_foreign_appears_later();
}

static void state_locked_and_unwritable(void)
{
    struct logbuf lb = {{0}, ""};
    struct mm_logger log = {log_emit, &lb};
    struct mm_state_file a, b;
    unsigned char payload[16] = {1, 2, 3};
    mm_state_file_open(&a, path_in("d.state"), "one", &log);
    mm_state_file_open(&b, path_in("d.state"), "two", &log); /* same path: refused */
    CHECK(!a.disabled);
    CHECK(b.disabled);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 1);
    CHECK(strstr(lb.last, "in use by another") != NULL);
    CHECK_INT_EQ(mm_state_file_write(&b, payload, sizeof(payload), &log), -1);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 1);
    mm_state_file_close(&b);
    mm_state_file_close(&a);

    /* a directory that cannot be written: one warning, then memory only */
    const char *ro = path_in("ro");
    CHECK(mkdir(ro, 0500) == 0);
    char p[300];
    snprintf(p, sizeof(p), "%s/e.state", ro);
    memset(&lb, 0, sizeof(lb));
    if (geteuid() == 0) {
        printf("# running as root: a read-only directory is writable; using a missing one\n");
        snprintf(p, sizeof(p), "%s/missing/e.state", ro);
    }
    mm_state_file_open(&a, p, "main", &log);
    CHECK(a.disabled);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 1);
    CHECK(strstr(lb.last, "memory only") != NULL);
    CHECK_INT_EQ(mm_state_file_write(&a, payload, sizeof(payload), &log), -1);
    CHECK_INT_EQ(mm_state_file_write(&a, payload, sizeof(payload), &log), -1);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 1);
    mm_state_file_close(&a);

    /* the lock file can be made but a directory stands where the state goes: left alone, not replaced */
    const char *blocked = path_in("f.state");
    CHECK(mkdir(blocked, 0700) == 0);
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/x", blocked); /* a non-empty directory where the file goes */
    CHECK(mkdir(sub, 0700) == 0);
    memset(&lb, 0, sizeof(lb));
    mm_state_file_open(&a, blocked, "main", &log);
    CHECK(!a.disabled);
    CHECK_INT_EQ(mm_state_file_write(&a, payload, sizeof(payload), &log), -1);
    CHECK(strstr(lb.last, "not a regular file") != NULL);
    CHECK_INT_EQ(mm_state_file_write(&a, payload, sizeof(payload), &log), -1);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 1);
    CHECK(a.disabled);
    mm_state_file_close(&a);
}

/* ---- clients: windows, churn, restart ---- */

static int64_t fake_wall_ms, fake_mono_ms;

static int64_t fake_clock(int monotonic)
{
    return monotonic ? fake_mono_ms : fake_wall_ms;
}

static struct mm_ip ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
    struct mm_ip ip;
    memset(&ip, 0, sizeof(ip));
    ip.b[10] = ip.b[11] = 0xff;
    ip.b[12] = (unsigned char)a;
    ip.b[13] = (unsigned char)b;
    ip.b[14] = (unsigned char)c;
    ip.b[15] = (unsigned char)d;
    return ip;
}

/* One gather: addresses [first, first+n) of 10.x, one connection each with
 * cookie = address index + cookie_base. */
static void gather(struct mm_clients *c, unsigned first, unsigned n, const struct mm_logger *log)
{
    mm_clients_begin(c, log);
    for (unsigned i = first; i < first + n; i++)
        mm_clients_socket(c, 1000000 + i, 0);
    for (unsigned i = first; i < first + n; i++) {
        struct mm_ip ip = ip4(10, (i >> 16) & 255, (i >> 8) & 255, i & 255);
        mm_clients_peer(c, &ip, i % 2 ? "DE" : "FR");
    }
    mm_clients_end(c, n, log);
}

static int64_t metric(struct mm_clients *c, const char *name, const char *le, const char *country)
{
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    int64_t v = -1;
    if (mm_clients_emit(c, &snap, 50, 0, NULL) == 0) {
        for (size_t i = 0; i < snap.count; i++) {
            const struct mm_metric *m = &snap.items[i];
            if (strcmp(m->name, name) != 0)
                continue;
            const char *l = mm_metric_label(m, "le"), *cc = mm_metric_label(m, "country");
            if ((le && (!l || strcmp(l, le))) || (country && (!cc || strcmp(cc, country))))
                continue;
            v = m->type == MM_INT ? m->value.i : (int64_t)(m->value.d + 0.5);
            break;
        }
    }
    mm_snapshot_free(&snap);
    return v;
}

/* A clients module on the injected clocks, at a fixed wall time. */
static void start(struct mm_clients *c, int64_t mono_ms)
{
    fake_wall_ms = 1750000000000LL;
    fake_mono_ms = mono_ms;
    CHECK(mm_clients_init(c) == 0);
    c->clock_ms = fake_clock;
}

static void restart_keeps_figures(void)
{
    struct logbuf lb = {{0}, ""};
    struct mm_logger log = {log_emit, &lb};
    struct mm_clients c;
    start(&c, 5000);
    mm_clients_set_state_file(&c, path_in("g.state"), "main", &log);
    gather(&c, 0, 1000, &log);       /* set A */
    fake_wall_ms += 120000;
    fake_mono_ms += 120000;
    gather(&c, 5000, 1000, &log);    /* set B, A gone */
    CHECK_INT_EQ(metric(&c, "distinct_ips_1h", NULL, NULL), 2000);
    CHECK_INT_EQ(metric(&c, "distinct_ips_24h", NULL, "DE"), 1000);
    CHECK_INT_EQ(metric(&c, "connections_opened", NULL, NULL), 1000);
    CHECK_INT_EQ(metric(&c, "lifetime_seconds_count", NULL, NULL), 1000);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 1); /* the first start: no file yet */
    mm_clients_free(&c);
    long size = file_size(path_in("g.state"));
    printf("# state file with 2000 addresses: %ld bytes\n", size);
    CHECK(size > 0 && size <= MM_STATE_MAX_BYTES);

    /* the agent restarts ten minutes later */
    fake_wall_ms += 600000;
    fake_mono_ms = 1000; /* a new process: its own monotonic clock */
    memset(&lb, 0, sizeof(lb));
    CHECK(mm_clients_init(&c) == 0);
    c.clock_ms = fake_clock;
    mm_clients_set_state_file(&c, path_in("g.state"), "main", &log);
    gather(&c, 5000, 500, &log);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 0);
    CHECK_INT_EQ(metric(&c, "distinct_ips_1h", NULL, NULL), 2000);
    CHECK_INT_EQ(metric(&c, "distinct_ips_7d", NULL, NULL), 2000);
    CHECK_INT_EQ(metric(&c, "connections_opened", NULL, NULL), 1000); /* kept, nothing new yet */
    CHECK_INT_EQ(metric(&c, "lifetime_seconds_count", NULL, NULL), 1000);
    /* an hour after set A: only what was seen since */
    fake_wall_ms += 49 * 60000;
    gather(&c, 5000, 500, &log);
    CHECK_INT_EQ(metric(&c, "distinct_ips_1h", NULL, NULL), 1000);
    mm_clients_free(&c);

    /* corrupted on disk: one warning, the figures restart */
    size_t n;
    unsigned char *img = read_raw(path_in("g.state"), &n);
    img[n / 2] ^= 0xff;
    write_raw(path_in("g.state"), img, n);
    free(img);
    memset(&lb, 0, sizeof(lb));
    CHECK(mm_clients_init(&c) == 0);
    c.clock_ms = fake_clock;
    mm_clients_set_state_file(&c, path_in("g.state"), "main", &log);
    gather(&c, 9000, 10, &log);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING], 1);
    CHECK(strstr(lb.last, "corrupt") != NULL);
    CHECK_INT_EQ(metric(&c, "distinct_ips_1h", NULL, NULL), 10);
    CHECK_INT_EQ(metric(&c, "connections_opened", NULL, NULL), 0);
    mm_clients_free(&c);
}

/* Beyond the exact range the per-country 24 h figures are sampled; a
 * country's live distinct addresses are a floor (all of them are in the
 * last 24 h), the overall 24 h figure a ceiling. */
static void country_figures_have_the_live_floor(void)
{
    struct logbuf lb = {{0}, ""};
    struct mm_logger log = {log_emit, &lb};
    struct mm_clients c;
    start(&c, 1000);
    gather(&c, 0, 40000, &log); /* 20000 DE, 20000 FR: beyond the exact sample */
    CHECK(!mm_dw_exact(&c.dw));
    struct mm_countries live;
    mm_countries_clear(&live);
    mm_countries_add_many(&live, "DE", 30000, 30000); /* more than the sketch has seen */
    mm_countries_add_many(&live, "BR", 7, 7);         /* not in the sample at all */
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    CHECK_INT_EQ(mm_clients_emit(&c, &snap, 50, 40000, &live), 0);
    int64_t de = -1, fr = -1, br = -1, all = -1;
    for (size_t i = 0; i < snap.count; i++) {
        const struct mm_metric *m = &snap.items[i];
        const char *cc = mm_metric_label(m, "country");
        if (strcmp(m->name, "distinct_ips_24h") != 0)
            continue;
        if (!cc)
            all = m->value.i;
        else if (strcmp(cc, "DE") == 0)
            de = m->value.i;
        else if (strcmp(cc, "FR") == 0)
            fr = m->value.i;
        else if (strcmp(cc, "BR") == 0)
            br = m->value.i;
    }
    printf("# 40000 addresses: all %lld, DE %lld (floor 30000), FR %lld (true 20000), BR %lld\n",
           (long long)all, (long long)de, (long long)fr, (long long)br);
    CHECK(all >= 40000 * 97 / 100 && all <= 40000 * 103 / 100);
    CHECK(de >= 30000 && de <= all);
    CHECK_INT_EQ(br, 7);
    CHECK(fr >= 20000 * 85 / 100 && fr <= 20000 * 115 / 100); /* a sample of ~4-8k */
    mm_snapshot_free(&snap);
    /* a country whose figure would top the overall one is held at it */
    mm_snapshot_init(&snap);
    mm_countries_clear(&live);
    mm_countries_add_many(&live, "DE", 90000, 90000);
    CHECK_INT_EQ(mm_clients_emit(&c, &snap, 50, 40000, &live), 0);
    for (size_t i = 0; i < snap.count; i++) {
        const char *cc = mm_metric_label(&snap.items[i], "country");
        if (cc && strcmp(cc, "DE") == 0 && strcmp(snap.items[i].name, "distinct_ips_24h") == 0)
            CHECK_INT_EQ(snap.items[i].value.i, all);
    }
    mm_snapshot_free(&snap);
    mm_clients_free(&c);
}

static void lifetimes_land_in_their_bucket(void)
{
    struct logbuf lb = {{0}, ""};
    struct mm_logger log = {log_emit, &lb};
    struct mm_clients c;
    start(&c, 1000);
    /* 100 connections 0..99 at t=0; every second one more set of them goes */
    gather(&c, 0, 100, &log);
    fake_mono_ms += 5000;  /* 0..9 close after 5 s */
    gather(&c, 10, 90, &log);
    fake_mono_ms += 5000;
    gather(&c, 10, 90, &log);
    fake_mono_ms += 100000; /* 10..29 live 10 s + 100 s = 110 s */
    gather(&c, 30, 70, &log);
    fake_mono_ms += 3 * 3600 * 1000LL; /* 30..99 close after 3 h */
    gather(&c, 30, 70, &log);
    gather(&c, 0, 0, &log);
    CHECK_INT_EQ(metric(&c, "lifetime_seconds_bucket", "1", NULL), 0);
    CHECK_INT_EQ(metric(&c, "lifetime_seconds_bucket", "10", NULL), 10);
    CHECK_INT_EQ(metric(&c, "lifetime_seconds_bucket", "60", NULL), 10);
    CHECK_INT_EQ(metric(&c, "lifetime_seconds_bucket", "300", NULL), 30);
    CHECK_INT_EQ(metric(&c, "lifetime_seconds_bucket", "7200", NULL), 30);
    CHECK_INT_EQ(metric(&c, "lifetime_seconds_bucket", "+Inf", NULL), 100);
    CHECK_INT_EQ(metric(&c, "lifetime_seconds_count", NULL, NULL), 100);
    /* 10 x 5 s + 20 x 110 s + 70 x 3 h 1m50s */
    CHECK_INT_EQ(metric(&c, "lifetime_seconds_sum", NULL, NULL), 10 * 5 + 20 * 110 + 70 * 10910);
    CHECK_INT_EQ(metric(&c, "connections_opened", NULL, NULL), 0); /* all were there at the start */
    /* new ones count once each, however many gathers see them */
    gather(&c, 500, 40, &log);
    gather(&c, 500, 40, &log);
    CHECK_INT_EQ(metric(&c, "connections_opened", NULL, NULL), 40);
    /* a spike, then back: the table gives memory back */
    gather(&c, 100000, 60000, &log);
    size_t big = c.churn.cap;
    gather(&c, 0, 10, &log);
    CHECK(c.churn.cap < big / 4);
    CHECK_INT_EQ(metric(&c, "connections_opened", NULL, NULL), 40 + 60000 + 10);
    CHECK_INT_EQ(lb.n[MM_LOG_WARNING] + lb.n[MM_LOG_ERROR], 0); /* no state file: silent */
    mm_clients_free(&c);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/mm-test-clients-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    TEST(state_roundtrip);
    TEST(state_bad_files);
    TEST(state_locked_and_unwritable);
    TEST(restart_keeps_figures);
    TEST(lifetimes_land_in_their_bucket);
    TEST(country_figures_have_the_live_floor);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s && rm -rf %s", dir, dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return check_done();
}
