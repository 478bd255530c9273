/* test_sockets.c — the connections part against real sockets, no mocks.
 *
 * build/tools/conn_holder opens loopback connections from known 127.x.y.z
 * source addresses (some half-closed) and tests/tools/write_test_mmdb.py
 * writes a GeoIP database mapping 127.x ranges to countries, so every count
 * below is exact. Also: CIDR parsing, the /proc parser, the netlink reply
 * parser fed garbage, the IP hash map, country ranking. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "host/geo/countries.h"
#include "host/sockets/ipcount.h"
#include "host/sockets/listen_ports.h"
#include "core/netmask.h"
#include "host/sockets/procnet.h"
#include "host/sockets/sockdiag.h"
#include "host/sockets/sockets.h"

static char tools_dir[4096];
static char mmdb_script[4096];
static char tmpdir[64];

/* ---- helpers ------------------------------------------------------------ */

struct logbuf {
    int n[4];
    char all[16384];
};

static void log_emit(void *ctx, enum mm_log_level level, const char *msg)
{
    struct logbuf *b = ctx;
    b->n[level]++;
    size_t len = strlen(b->all);
    snprintf(b->all + len, sizeof(b->all) - len, "[%d] %s\n", level, msg);
    if (getenv("TEST_VERBOSE"))
        printf("# log[%d]: %s\n", level, msg);
}

static int count_substr(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* A metric's value, or -1 when it is absent. */
static long long metric(const struct mm_snapshot *s, enum mm_origin g, const char *name,
                        const char *key, const char *value)
{
    for (size_t i = 0; i < s->count; i++) {
        const struct mm_metric *m = &s->items[i];
        const char *v = mm_metric_label(m, key);
        if (m->origin == g && strcmp(m->name, name) == 0 && v && strcmp(v, value) == 0)
            return m->value.i;
    }
    return -1;
}

static long long cli(const struct mm_snapshot *s, const char *name)
{
    return metric(s, MM_ORIGIN_CONNECTIONS, name, "side", "client");
}

static long long ups(const struct mm_snapshot *s, const char *name)
{
    return metric(s, MM_ORIGIN_CONNECTIONS, name, "side", "upstream");
}

static long long country(const struct mm_snapshot *s, const char *code, const char *name)
{
    return metric(s, MM_ORIGIN_COUNTRY, name, "country", code);
}

/* Metrics of an origin as of now: the windows' distinct_ips_24h per country
 * remembers earlier gathers of the same state (test_windows.c, test_clients.c
 * cover it). */
static size_t count_group(const struct mm_snapshot *s, enum mm_origin g)
{
    size_t n = 0;
    for (size_t i = 0; i < s->count; i++)
        n += s->items[i].origin == g && strcmp(s->items[i].name, "distinct_ips_24h") != 0;
    return n;
}

struct holder {
    pid_t pid;
    int port;
    int main_pid;
};

/* Starts conn_holder with the given arguments (NULL-terminated) and waits
 * for its READY line. */
static int holder_start(struct holder *h, ...)
{
    char *argv[64];
    int argc = 0;
    static char path[4200];
    snprintf(path, sizeof(path), "%s/conn_holder", tools_dir);
    argv[argc++] = path;
    va_list ap;
    va_start(ap, h);
    for (char *a; (a = va_arg(ap, char *)) && argc < 63;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    int pfd[2];
    if (pipe(pfd) < 0)
        return -1;
    h->pid = fork();
    if (h->pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(path, argv);
        _exit(127);
    }
    close(pfd[1]);
    char line[256] = "";
    size_t len = 0;
    struct pollfd p = {pfd[0], POLLIN, 0};
    while (len < sizeof(line) - 1 && !strchr(line, '\n') && poll(&p, 1, 60000) > 0) {
        ssize_t n = read(pfd[0], line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        line[len] = '\0';
    }
    close(pfd[0]);
    if (sscanf(line, "READY port=%d pid=%d", &h->port, &h->main_pid) != 2) {
        printf("# conn_holder did not start: '%s'\n", line);
        kill(h->pid, SIGTERM);
        waitpid(h->pid, NULL, 0);
        h->pid = 0;
        return -1;
    }
    return 0;
}

static void holder_stop(struct holder *h)
{
    if (h->pid > 0) {
        kill(h->pid, SIGTERM);
        waitpid(h->pid, NULL, 0);
    }
    h->pid = 0;
}

/* Writes a test database to path, atomically (temp file + rename), from
 * NETWORK=CODE arguments (NULL-terminated). */
static int write_db(const char *path, ...)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    char *argv[32];
    int argc = 0;
    argv[argc++] = "/usr/bin/python3";
    argv[argc++] = mmdb_script;
    argv[argc++] = tmp;
    va_list ap;
    va_start(ap, path);
    for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return rename(tmp, path);
}

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void copy_file(const char *from, const char *to, long max_bytes)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[4096];
    size_t n;
    long done = 0;
    while (in && out && (max_bytes < 0 || done < max_bytes) &&
           (n = fread(buf, 1, sizeof(buf), in)) > 0) {
        if (max_bytes >= 0 && done + (long)n > max_bytes)
            n = (size_t)(max_bytes - done);
        fwrite(buf, 1, n, out);
        done += (long)n;
    }
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

/* One gather into snap (reset first). */
static int gather(struct mm_sockets_state *st, const struct mm_sockets_config *cfg,
                  const int *pids, size_t n_pids, struct mm_snapshot *snap, struct logbuf *lb)
{
    struct mm_logger log = {log_emit, lb};
    mm_snapshot_reset(snap);
    struct mm_sockets_proxy proxy = {pids, n_pids, 0, NULL, 0};
    return mm_sockets_gather(st, cfg, &proxy, snap, &log);
}

/* Upstream stand-ins on loopback: the network 127/8, narrowed to one port. */
static void set_upstream(struct mm_sockets_config *cfg, int port)
{
    char err[128];
    if (mm_sockets_config_add_upstream_net(cfg, "127.0.0.0/8", err, sizeof(err)) < 0 ||
        mm_sockets_config_add_upstream_port(cfg, port, err, sizeof(err)) < 0)
        printf("# %s\n", err);
}

/* The holder's listener as a client endpoint: its address too, so another
 * test's socket that happens to have the same local port on another
 * address (ephemeral ports repeat across source addresses) is not counted. */
static void add_port(struct mm_sockets_config *cfg, const char *addr, int port)
{
    char err[128], ep[96];
    snprintf(ep, sizeof(ep), "%s:%d", addr, port);
    if (mm_sockets_config_add_client_endpoint(cfg, ep, err, sizeof(err)) < 0)
        printf("# %s\n", err);
}

/* ---- pure unit tests ---------------------------------------------------- */

static void test_cidr_parse(void)
{
    struct mm_cidr c;
    char err[160], buf[64];
    CHECK_INT_EQ(mm_cidr_parse("10.0.0.0/8", &c, err, sizeof(err)), 0);
    CHECK_INT_EQ(c.family, AF_INET);
    CHECK_INT_EQ(c.prefix, 8);
    CHECK(strcmp(mm_cidr_format(&c, buf, sizeof(buf)), "10.0.0.0/8") == 0);
    CHECK_INT_EQ(mm_cidr_parse("10.1.2.3/8", &c, err, sizeof(err)), 0); /* host bits cleared */
    CHECK(strcmp(mm_cidr_format(&c, buf, sizeof(buf)), "10.0.0.0/8") == 0);
    CHECK_INT_EQ(mm_cidr_parse("2001:db8::/32", &c, err, sizeof(err)), 0);
    CHECK_INT_EQ(c.family, AF_INET6);
    CHECK(strcmp(mm_cidr_format(&c, buf, sizeof(buf)), "2001:db8::/32") == 0);
    CHECK_INT_EQ(mm_cidr_parse("192.0.2.7", &c, err, sizeof(err)), 0);
    CHECK_INT_EQ(c.prefix, 32);
    CHECK_INT_EQ(mm_cidr_parse("::1", &c, err, sizeof(err)), 0);
    CHECK_INT_EQ(c.prefix, 128);
    CHECK_INT_EQ(mm_cidr_parse("0.0.0.0/0", &c, err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_cidr_parse("::ffff:10.0.0.0/104", &c, err, sizeof(err)), 0);
    CHECK(strcmp(mm_cidr_format(&c, buf, sizeof(buf)), "::ffff:10.0.0.0/104") == 0);

    const char *bad[] = {"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8",
                         "10.0.0.0/8x", "10.0.0.0/ 8", " 10.0.0.0/8", "10.0.0/8", "10.0.0.256",
                         "2001:db8::/129", "hello", "10.0.0.0/0008", "1.2.3.4/8/9",
                         "2001:db8:::/32", "10.0.0.0\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int rc = mm_cidr_parse(bad[i], &c, err, sizeof(err));
        if (rc != -1 || err[0] == '\0')
            printf("#   accepted bad CIDR '%s'\n", bad[i]);
        CHECK(rc == -1 && err[0] != '\0');
    }
    mm_cidr_parse("10.0.0.0/33", &c, err, sizeof(err));
    CHECK(strstr(err, "out of range 0..32") != NULL);
}

static struct mm_ip ip_of(const char *text)
{
    struct mm_cidr c;
    char err[128];
    if (mm_cidr_parse(text, &c, err, sizeof(err)) < 0)
        printf("# bad test address %s\n", text);
    return c.net;
}

static void test_cidr_match_and_local(void)
{
    struct mm_cidr c;
    char err[128];
    mm_cidr_parse("10.0.0.0/8", &c, err, sizeof(err));
    struct mm_ip a = ip_of("10.200.1.1"), b = ip_of("11.0.0.1"), m = ip_of("::ffff:10.1.1.1");
    CHECK(mm_cidr_match(&c, &a));
    CHECK(!mm_cidr_match(&c, &b));
    CHECK(mm_cidr_match(&c, &m)); /* IPv4-mapped is the same key */
    mm_cidr_parse("2001:db8::/33", &c, err, sizeof(err));
    struct mm_ip in6 = ip_of("2001:db8:7fff::1"), out6 = ip_of("2001:db8:8000::1");
    CHECK(mm_cidr_match(&c, &in6));
    CHECK(!mm_cidr_match(&c, &out6));
    CHECK(!mm_cidr_match(&c, &a));
    mm_cidr_parse("0.0.0.0/0", &c, err, sizeof(err));
    CHECK(mm_cidr_match(&c, &a));
    CHECK(!mm_cidr_match(&c, &in6)); /* an IPv4 /0 is all of IPv4 only */

    const char *local[] = {"127.0.0.1", "127.9.9.9", "10.1.1.1", "172.16.0.1", "172.31.255.1",
                           "192.168.3.3", "169.254.1.1", "::1", "fc00::1", "fd12::1", "fe80::1",
                           "febf::1", "::ffff:192.168.1.1"};
    const char *public_[] = {"8.8.8.8", "172.32.0.1", "172.15.0.1", "192.169.0.1", "169.253.0.1",
                             "2001:db8::1", "fe00::1", "fec0::1", "::ffff:1.1.1.1", "11.0.0.1"};
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
        struct mm_ip ip = ip_of(local[i]);
        if (!mm_ip_is_local(&ip))
            printf("#   %s should be local\n", local[i]);
        CHECK(mm_ip_is_local(&ip));
    }
    for (size_t i = 0; i < sizeof(public_) / sizeof(public_[0]); i++) {
        struct mm_ip ip = ip_of(public_[i]);
        if (mm_ip_is_local(&ip))
            printf("#   %s should not be local\n", public_[i]);
        CHECK(!mm_ip_is_local(&ip));
    }
}

static void test_config_parsers(void)
{
    struct mm_sockets_config cfg;
    char err[160];
    mm_sockets_config_init(&cfg);
    CHECK_INT_EQ(cfg.n_upstream_nets, 0); /* Telegram's networks, built in */
    CHECK_INT_EQ(cfg.n_upstream_ports, 0);
    CHECK_INT_EQ(cfg.upstream_off, 0);
    CHECK_INT_EQ(cfg.ips_over, 16);
    CHECK_INT_EQ(cfg.max_countries, 50);
    CHECK_INT_EQ(cfg.include_local, 0);
    /* ranges are the option table's (test_config.c); the setters store */
    CHECK_INT_EQ(mm_sockets_config_add_client_port(&cfg, 443, err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "127.0.0.2:443", err, sizeof(err)), 0);
    CHECK(!cfg.client_eps[0].any && cfg.client_eps[0].port == 443 && cfg.client_eps[0].addr.b[15] == 2);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "[::]:8443", err, sizeof(err)), 0);
    CHECK(cfg.client_eps[1].any);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "[2001:db8::1]:443", err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "10.0.0.0/8:443", err, sizeof(err)), -1);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "127.0.0.1", err, sizeof(err)), -1);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "127.0.0.1:70000", err, sizeof(err)), -1);
    CHECK(strstr(err, "ADDRESS:PORT") != NULL);
    CHECK_INT_EQ(mm_sockets_config_add_client_port(&cfg, 443, err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "127.0.0.2:443", err, sizeof(err)), 0);
    CHECK(!cfg.client_eps[0].any && cfg.client_eps[0].port == 443 && cfg.client_eps[0].addr.b[15] == 2);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "[::]:8443", err, sizeof(err)), 0);
    CHECK(cfg.client_eps[1].any);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "[2001:db8::1]:443", err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "10.0.0.0/8:443", err, sizeof(err)), -1);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "127.0.0.1", err, sizeof(err)), -1);
    CHECK_INT_EQ(mm_sockets_config_add_client_endpoint(&cfg, "127.0.0.1:70000", err, sizeof(err)), -1);
    CHECK(strstr(err, "ADDRESS:PORT") != NULL);
    CHECK_INT_EQ(cfg.n_client_ports, 1);
    for (int p = 1; p < MM_SOCKETS_MAX_CLIENT_PORTS; p++)
        CHECK_INT_EQ(mm_sockets_config_add_client_port(&cfg, 1000 + p, err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_sockets_config_add_client_port(&cfg, 999, err, sizeof(err)), -1);
    CHECK(strstr(err, "client ports") != NULL);
    CHECK_INT_EQ(mm_sockets_config_add_ignore(&cfg, "10.0.0.0/8", err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_sockets_config_add_ignore(&cfg, "2001:db8::/32", err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_sockets_config_add_ignore(&cfg, "10.0.0.0/99", err, sizeof(err)), -1);
    CHECK_INT_EQ(cfg.n_ignore, 2);
    CHECK_INT_EQ(mm_sockets_config_set_geoip_path(&cfg, "", err, sizeof(err)), -1);
    CHECK_INT_EQ(mm_sockets_config_set_geoip_path(&cfg, "/x.mmdb", err, sizeof(err)), 0);
    CHECK(strcmp(cfg.geoip_path, "/x.mmdb") == 0);
    mm_sockets_config_free(&cfg);
    CHECK(cfg.ignore == NULL && cfg.geoip_path == NULL);
}

static void test_state_names(void)
{
    CHECK(strcmp(mm_tcp_state_name(MM_TCP_ESTABLISHED), "ESTABLISHED") == 0);
    CHECK(strcmp(mm_tcp_state_metric(MM_TCP_TIME_WAIT), "time_wait") == 0);
    CHECK(strcmp(mm_tcp_state_name(MM_TCP_CLOSING), "CLOSING") == 0);
    CHECK(mm_tcp_state_name(0) == NULL);
    CHECK(mm_tcp_state_name(MM_TCP_STATE_END) == NULL);
}

static int count_sock(void *ctx, const struct mm_sock *s)
{
    (void)s;
    (*(long *)ctx)++;
    return 0;
}

static void test_procnet_lines(void)
{
    struct mm_sock s;
    const char *hdr = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
                      "retrnsmt   uid  timeout inode";
    CHECK_INT_EQ(mm_procnet_parse_line(hdr, strlen(hdr), AF_INET, &s), 1);
    const char *v4 = "   3: 0100007F:1F90 0302017F:D2F4 01 00000000:00000000 00:00000000 "
                     "00000000     0        0 123456 1 0000000000000000 20 4 30 10 -1";
    CHECK_INT_EQ(mm_procnet_parse_line(v4, strlen(v4), AF_INET, &s), 0);
    char a[64], b[64];
    CHECK(strcmp(mm_ip_format(&s.src, a, sizeof(a)), "127.0.0.1") == 0);
    CHECK(strcmp(mm_ip_format(&s.dst, b, sizeof(b)), "127.1.2.3") == 0);
    CHECK_INT_EQ(s.sport, 8080);
    CHECK_INT_EQ(s.dport, 0xD2F4);
    CHECK_INT_EQ(s.state, MM_TCP_ESTABLISHED);
    CHECK_INT_EQ(s.inode, 123456);
    const char *v6 = "   0: 00000000000000000000000001000000:01BB "
                     "0000000000000000FFFF00000302017F:C350 08 00000000:00000000 00:00000000 "
                     "00000000     0        0 99 1 0000000000000000 20 4 30 10 -1";
    CHECK_INT_EQ(mm_procnet_parse_line(v6, strlen(v6), AF_INET6, &s), 0);
    CHECK(strcmp(mm_ip_format(&s.src, a, sizeof(a)), "::1") == 0);
    CHECK(strcmp(mm_ip_format(&s.dst, b, sizeof(b)), "127.1.2.3") == 0); /* mapped */
    CHECK_INT_EQ(s.sport, 443);
    CHECK_INT_EQ(s.state, MM_TCP_CLOSE_WAIT);
    const char *bad[] = {"", "   3: 0100007F:1F90", "   3: 0100007G:1F90 0302017F:D2F4 01 a b c d e f",
                         "   3: 0100007F:1F90 0302017F:D2F4 01 0:0 0:0 0 0 0 12x",
                         "   3: 0100007F1F90 0302017F:D2F4 01 0:0 0:0 0 0 0 1",
                         "   3: 0100007F:1F90 0302017F:D2F4 1 0:0 0:0 0 0 0 1",
                         "   3: 0100007F:1F90 0302017F:D2F4 01 0:0 0:0 0 0 0 99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT_EQ(mm_procnet_parse_line(bad[i], strlen(bad[i]), AF_INET, &s), -1);
    /* v4 line given as v6 (wrong address width) */
    CHECK_INT_EQ(mm_procnet_parse_line(v4, strlen(v4), AF_INET6, &s), -1);

    /* A whole file through the streaming reader, last line unterminated. */
    char path[256], buf[128];
    tmp_path(path, sizeof(path), "tcp");
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n%s\n%s", hdr, v4, v4);
    fclose(f);
    struct mm_sockdiag_query q;
    memset(&q, 0, sizeof(q));
    long n = 0, count = 0;
    int err = 0;
    /* buf of 128 bytes: lines of ~150 bytes do not fit: a clean error */
    CHECK_INT_EQ(mm_procnet_read(path, AF_INET, buf, sizeof(buf), &q, count_sock, &n, &count,
                                 &err), -1);
    CHECK_INT_EQ(err, EBADMSG);
    char big[4096];
    n = count = 0;
    CHECK_INT_EQ(mm_procnet_read(path, AF_INET, big, sizeof(big), &q, count_sock, &n, &count,
                                 &err), 0);
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(count, 2);
    q.local_ports[0] = 8080;
    q.n_local_ports = 1;
    q.states = 1u << MM_TCP_LISTEN;
    n = count = 0;
    CHECK_INT_EQ(mm_procnet_read(path, AF_INET, big, sizeof(big), &q, count_sock, &n, &count,
                                 &err), 0);
    CHECK_INT_EQ(n, 0);
    tmp_path(path, sizeof(path), "missing");
    CHECK_INT_EQ(mm_procnet_read(path, AF_INET, big, sizeof(big), &q, count_sock, &n, &count,
                                 &err), -1);
    CHECK_INT_EQ(err, ENOENT);
}

/* Appends one SOCK_DIAG_BY_FAMILY message (with tcp_info of info_len bytes
 * when info_len > 0) to buf; returns the new length. */
static size_t put_diag_msg(unsigned char *buf, size_t off, int family, int state, int sport,
                           int dport, const char *dst, size_t info_len)
{
    struct inet_diag_msg m;
    memset(&m, 0, sizeof(m));
    m.idiag_family = (unsigned char)family;
    m.idiag_state = (unsigned char)state;
    m.id.idiag_sport = htons((uint16_t)sport);
    m.id.idiag_dport = htons((uint16_t)dport);
    inet_pton(family, dst, m.id.idiag_dst);
    m.idiag_inode = 4242;
    size_t len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(m)) + (info_len ? RTA_SPACE(info_len) : 0);
    struct nlmsghdr h = {(uint32_t)len, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 1, 0};
    memset(buf + off, 0, len);
    memcpy(buf + off, &h, sizeof(h));
    memcpy(buf + off + NLMSG_HDRLEN, &m, sizeof(m));
    if (info_len) {
        struct rtattr rta = {(unsigned short)RTA_LENGTH(info_len), INET_DIAG_INFO};
        unsigned char *a = buf + off + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(m));
        memcpy(a, &rta, sizeof(rta));
        struct tcp_info ti;
        memset(&ti, 0, sizeof(ti));
        ti.tcpi_bytes_acked = 1000;
        ti.tcpi_bytes_received = 2000;
        memcpy(a + RTA_LENGTH(0), &ti, info_len < sizeof(ti) ? info_len : sizeof(ti));
    }
    return off + NLMSG_ALIGN(len);
}

static size_t put_done(unsigned char *buf, size_t off)
{
    struct nlmsghdr h = {NLMSG_HDRLEN + 4, NLMSG_DONE, NLM_F_MULTI, 1, 0};
    memset(buf + off, 0, NLMSG_HDRLEN + 4);
    memcpy(buf + off, &h, sizeof(h));
    return off + NLMSG_HDRLEN + 4;
}

struct collected {
    long n;
    uint64_t bytes_received, bytes_acked;
    int infos;
};

static int collect(void *ctx, const struct mm_sock *s)
{
    struct collected *c = ctx;
    c->n++;
    c->infos += s->has_info;
    c->bytes_received += s->bytes_received;
    c->bytes_acked += s->bytes_acked;
    return 0;
}

static void test_netlink_parser(void)
{
    unsigned char buf[4096], junk[4096];
    struct mm_sockdiag_query q;
    memset(&q, 0, sizeof(q));
    size_t len = put_diag_msg(buf, 0, AF_INET, MM_TCP_ESTABLISHED, 443, 50000, "127.1.0.1",
                              sizeof(struct tcp_info));
    len = put_diag_msg(buf, len, AF_INET6, MM_TCP_CLOSE_WAIT, 443, 50001, "2001:db8::1", 0);
    /* an old kernel's short tcp_info: no byte counters, still a socket */
    len = put_diag_msg(buf, len, AF_INET, MM_TCP_ESTABLISHED, 443, 50002, "127.1.0.2", 64);
    size_t msgs_len = len;
    len = put_done(buf, len);

    struct collected c = {0};
    long count = 0;
    int err = 0;
    CHECK_INT_EQ(mm_sockdiag_parse(buf, len, &q, collect, &c, &count, &err), 1);
    CHECK_INT_EQ(c.n, 3);
    CHECK_INT_EQ(count, 3);
    CHECK_INT_EQ(c.infos, 1);
    CHECK_INT_EQ(c.bytes_received, 2000);
    CHECK_INT_EQ(c.bytes_acked, 1000);
    /* without NLMSG_DONE: consumed, more expected */
    memset(&c, 0, sizeof(c));
    CHECK_INT_EQ(mm_sockdiag_parse(buf, msgs_len, &q, collect, &c, &count, &err), 0);
    CHECK_INT_EQ(c.n, 3);
    /* the user-space copy of the filter */
    q.local_ports[0] = 80;
    q.n_local_ports = 1;
    memset(&c, 0, sizeof(c));
    CHECK_INT_EQ(mm_sockdiag_parse(buf, len, &q, collect, &c, &count, &err), 1);
    CHECK_INT_EQ(c.n, 0);
    memset(&q, 0, sizeof(q));

    /* every truncation: never a crash, never more sockets than there are */
    int errors = 0;
    for (size_t cut = 0; cut < len; cut++) {
        memset(&c, 0, sizeof(c));
        count = 0;
        int rc = mm_sockdiag_parse(buf, cut, &q, collect, &c, &count, &err);
        CHECK(rc == 0 || rc == -1);
        CHECK(c.n <= 3);
        errors += rc == -1;
        if (rc == -1)
            CHECK_INT_EQ(err, EBADMSG);
    }
    CHECK(errors > 0);

    /* a message claiming to be longer than the buffer */
    memcpy(junk, buf, len);
    struct nlmsghdr h;
    memcpy(&h, junk, sizeof(h));
    h.nlmsg_len = 100000;
    memcpy(junk, &h, sizeof(h));
    CHECK_INT_EQ(mm_sockdiag_parse(junk, len, &q, collect, &c, &count, &err), -1);
    /* shorter than a header */
    h.nlmsg_len = 3;
    memcpy(junk, &h, sizeof(h));
    CHECK_INT_EQ(mm_sockdiag_parse(junk, len, &q, collect, &c, &count, &err), -1);
    /* an attribute longer than its message */
    memcpy(junk, buf, len);
    struct rtattr rta;
    size_t aoff = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct inet_diag_msg));
    memcpy(&rta, junk + aoff, sizeof(rta));
    rta.rta_len = 60000;
    memcpy(junk + aoff, &rta, sizeof(rta));
    CHECK_INT_EQ(mm_sockdiag_parse(junk, len, &q, collect, &c, &count, &err), -1);
    rta.rta_len = 2;
    memcpy(junk + aoff, &rta, sizeof(rta));
    CHECK_INT_EQ(mm_sockdiag_parse(junk, len, &q, collect, &c, &count, &err), -1);
    /* an unknown address family */
    memcpy(junk, buf, len);
    junk[NLMSG_HDRLEN] = 99;
    CHECK_INT_EQ(mm_sockdiag_parse(junk, len, &q, collect, &c, &count, &err), -1);
    /* an unexpected message type */
    memcpy(junk, buf, len);
    h.nlmsg_len = (uint32_t)(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct inet_diag_msg)) +
                             RTA_SPACE(sizeof(struct tcp_info)));
    h.nlmsg_type = 77;
    memcpy(junk, &h, sizeof(h));
    CHECK_INT_EQ(mm_sockdiag_parse(junk, len, &q, collect, &c, &count, &err), -1);
    /* the kernel's error reply */
    struct {
        struct nlmsghdr h;
        int error;
    } e = {{NLMSG_HDRLEN + 4, NLMSG_ERROR, 0, 1, 0}, -EPERM};
    CHECK_INT_EQ(mm_sockdiag_parse(&e, sizeof(e), &q, collect, &c, &count, &err), -1);
    CHECK_INT_EQ(err, EPERM);
    e.h.nlmsg_len = NLMSG_HDRLEN + 2; /* too short to hold the error */
    CHECK_INT_EQ(mm_sockdiag_parse(&e, sizeof(e), &q, collect, &c, &count, &err), -1);
    CHECK_INT_EQ(err, EBADMSG);

    /* random garbage, and random bytes flipped in a valid reply */
    srand(12345);
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand() % (int)sizeof(junk));
        if (round % 2) {
            for (size_t i = 0; i < n; i++)
                junk[i] = (unsigned char)rand();
        } else {
            memcpy(junk, buf, len);
            n = len;
            for (int k = 0; k < 1 + rand() % 4; k++)
                junk[rand() % (int)len] = (unsigned char)rand();
        }
        memset(&c, 0, sizeof(c));
        count = 0;
        int rc = mm_sockdiag_parse(junk, n, &q, collect, &c, &count, &err);
        CHECK(rc >= -1 && rc <= 1);
    }
}

static void test_bytecode(void)
{
    unsigned char bc[1024];
    struct mm_sockdiag_query q;
    memset(&q, 0, sizeof(q));
    CHECK_INT_EQ(mm_sockdiag_bytecode(&q, bc, sizeof(bc)), 0);
    q.remote_port = 8888;
    CHECK_INT_EQ(mm_sockdiag_bytecode(&q, bc, sizeof(bc)), 12);
    q.local_ports[0] = 443;
    q.local_ports[1] = 8443;
    q.n_local_ports = 2;
    CHECK_INT_EQ(mm_sockdiag_bytecode(&q, bc, sizeof(bc)), 3 * 12 + 2 * 4);
    CHECK_INT_EQ(mm_sockdiag_bytecode(&q, bc, 20), -1);
    /* yes of every op steps forward to the next op (the kernel audits that) */
    struct inet_diag_bc_op op;
    memcpy(&op, bc, sizeof(op));
    CHECK_INT_EQ(op.code, INET_DIAG_BC_S_COND);
    CHECK_INT_EQ(op.yes, 12);
    CHECK_INT_EQ(op.no, 16);
    memcpy(&op, bc + 12, sizeof(op));
    CHECK_INT_EQ(op.code, INET_DIAG_BC_JMP);
    CHECK_INT_EQ(op.no, 44 - 12);
}

/* Remote networks in the kernel filter: a hostcond with family, prefix and
 * address, any port (-1); the user-space copy of the filter agrees. */
static void test_bytecode_networks(void)
{
    unsigned char bc[1024];
    struct mm_cidr nets[2];
    char err[128];
    CHECK_INT_EQ(mm_cidr_parse("149.154.160.0/20", &nets[0], err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_cidr_parse("2001:b28:f23d::/48", &nets[1], err, sizeof(err)), 0);
    struct mm_sockdiag_query q;
    memset(&q, 0, sizeof(q));
    q.local_ports[0] = 443;
    q.n_local_ports = 1;
    q.remote_nets = nets;
    q.n_remote_nets = 2;
    /* port cond 12, v4 net 12 + 4, v6 net 12 + 16, two jumps */
    CHECK_INT_EQ(mm_sockdiag_bytecode(&q, bc, sizeof(bc)), 12 + 16 + 28 + 2 * 4);
    struct inet_diag_bc_op op;
    struct inet_diag_hostcond hc;
    memcpy(&op, bc + 16, sizeof(op));
    memcpy(&hc, bc + 16 + sizeof(op), sizeof(hc));
    CHECK_INT_EQ(op.code, INET_DIAG_BC_D_COND);
    CHECK_INT_EQ(op.yes, 16);
    CHECK_INT_EQ(hc.family, AF_INET);
    CHECK_INT_EQ(hc.prefix_len, 20);
    CHECK_INT_EQ(hc.port, -1);
    CHECK_INT_EQ(bc[16 + 12], 149);
    CHECK_INT_EQ(bc[16 + 13], 154);
    memcpy(&hc, bc + 36 + sizeof(op), sizeof(hc));
    CHECK_INT_EQ(hc.family, AF_INET6);
    CHECK_INT_EQ(hc.prefix_len, 48);
    struct mm_sock s;
    memset(&s, 0, sizeof(s));
    s.state = MM_TCP_ESTABLISHED;
    s.sport = 40000;
    s.dport = 8888;
    mm_ip_from_v4(&s.dst, htonl(0x959aa7a1)); /* 149.154.167.161 */
    CHECK(mm_sockdiag_match(&q, &s));
    mm_ip_from_v4(&s.dst, htonl(0x959ab001)); /* 149.154.176.1: outside /20 */
    CHECK(!mm_sockdiag_match(&q, &s));
}

/* Sides by address and network: the client side is the proxy's endpoint
 * (address and port), upstream a remote address in the networks (and port),
 * never the agent's own scrapes nor connections to the proxy itself; per-IP
 * figures from ESTABLISHED only. */
static void test_classification(void)
{
    struct mm_socket_stats st;
    CHECK_INT_EQ(mm_socket_stats_init(&st), 0);
    struct mm_endpoint eps[2] = {{.port = 443}, {.any = 1, .port = 8443}};
    mm_ip_from_v4(&eps[0].addr, htonl(0x7f000001)); /* 127.0.0.1:443 */
    struct mm_cidr net;
    char err[128];
    CHECK_INT_EQ(mm_cidr_parse("127.0.0.0/8", &net, err, sizeof(err)), 0);
    uint16_t ports[2] = {8888, 443};
    struct mm_upstream_match up = {&net, 1, ports, 2, 9999};
    mm_socket_stats_begin(&st, eps, 2, &up);
    struct sk {
        uint32_t src, dst;
        uint16_t sport, dport;
        int state;
    } socks[] = {
        {0x7f000001, 0x7f010001, 443, 50000, MM_TCP_ESTABLISHED},  /* client of the proxy */
        {0x7f000001, 0x7f010002, 443, 50001, MM_TCP_FIN_WAIT2},    /* client, leftover */
        {0x7f000002, 0x7f010003, 443, 50002, MM_TCP_ESTABLISHED},  /* another service's client */
        {0x0a000005, 0x7f010004, 8443, 50003, MM_TCP_ESTABLISHED}, /* any address on 8443 */
        {0x7f000009, 0x7f000003, 40000, 8888, MM_TCP_ESTABLISHED}, /* middle-end stand-in */
        {0x7f000009, 0x7f000003, 40001, 8888, MM_TCP_TIME_WAIT},
        {0x7f000001, 0x7f000001, 40002, 9999, MM_TCP_ESTABLISHED}, /* our own scrape */
        {0x7f000001, 0x7f000001, 9999, 40002, MM_TCP_TIME_WAIT},   /* its server end */
        {0x7f000009, 0x7f000001, 40003, 443, MM_TCP_ESTABLISHED},  /* to the proxy itself */
        {0x7f000009, 0x7f000004, 40004, 5222, MM_TCP_ESTABLISHED}, /* upstream net, other port */
        {0x08080808, 0x01010101, 40005, 8888, MM_TCP_ESTABLISHED}, /* port, not the network */
    };
    for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
        struct mm_sock s;
        memset(&s, 0, sizeof(s));
        s.family = AF_INET;
        s.state = socks[i].state;
        mm_ip_from_v4(&s.src, htonl(socks[i].src));
        mm_ip_from_v4(&s.dst, htonl(socks[i].dst));
        s.sport = socks[i].sport;
        s.dport = socks[i].dport;
        mm_socket_stats_add(&st, &s);
    }
    struct mm_side_stats *c = &st.side[MM_SIDE_CLIENT], *u = &st.side[MM_SIDE_UPSTREAM];
    CHECK_INT_EQ(c->states[MM_TCP_ESTABLISHED], 2);
    CHECK_INT_EQ(c->states[MM_TCP_FIN_WAIT2], 1);
    CHECK_INT_EQ(u->states[MM_TCP_ESTABLISHED], 1);
    CHECK_INT_EQ(u->states[MM_TCP_TIME_WAIT], 1);
    uint64_t up_total = 0;
    for (int i = 1; i < MM_TCP_STATE_END; i++)
        up_total += u->states[i];
    CHECK_INT_EQ(up_total, 2);
    mm_socket_stats_finish(&st, MM_SIDE_CLIENT, NULL, 16, NULL, NULL);
    CHECK_INT_EQ(c->unique_ips, 2); /* the FIN_WAIT2 peer is not counted */
    mm_socket_stats_finish(&st, MM_SIDE_UPSTREAM, NULL, 16, NULL, NULL);
    CHECK_INT_EQ(u->unique_ips, 1);
    /* no networks: no upstream side at all */
    mm_socket_stats_begin(&st, eps, 2, NULL);
    struct mm_sock s;
    memset(&s, 0, sizeof(s));
    s.state = MM_TCP_ESTABLISHED;
    s.dport = 8888;
    mm_ip_from_v4(&s.dst, htonl(0x7f000003));
    mm_socket_stats_add(&st, &s);
    CHECK_INT_EQ(st.side[MM_SIDE_UPSTREAM].states[MM_TCP_ESTABLISHED], 0);
    mm_socket_stats_free(&st);
}

/* A FIFO named as the GeoIP database: refused at once, never blocking. */
static void test_geoip_fifo(void)
{
    char path[256];
    snprintf(path, sizeof(path), "/tmp/mm-test-sockets-%d.fifo", (int)getpid());
    unlink(path);
    CHECK_INT_EQ(mkfifo(path, 0600), 0);
    struct mm_geoip g;
    mm_geoip_init(&g);
    struct logbuf lb = {0};
    struct mm_logger log = {log_emit, &lb};
    alarm(10);
    CHECK_INT_EQ(mm_geoip_refresh(&g, path, &log), 0);
    alarm(0);
    CHECK(strstr(lb.all, "not a regular file") != NULL);
    mm_geoip_free(&g);
    unlink(path);
}

static void test_ipcount(void)
{
    struct mm_ipcount m;
    CHECK_INT_EQ(mm_ipcount_init(&m, 100000), 0);
    struct mm_ip ip;
    for (int round = 0; round < 2; round++) {
        mm_ipcount_clear(&m);
        for (uint32_t i = 0; i < 50000; i++)
            for (uint32_t k = 0; k <= i % 3; k++) {
                mm_ip_from_v4(&ip, htonl(0x0a000000u + i));
                CHECK_INT_EQ(mm_ipcount_add(&m, &ip), 0);
            }
        CHECK_INT_EQ(m.used, 50000);
        const struct mm_ipcount_slot *s;
        long total = 0, n = 0;
        for (size_t pos = 0; (s = mm_ipcount_next(&m, &pos));) {
            n++;
            total += s->count;
        }
        CHECK_INT_EQ(n, 50000);
        CHECK_INT_EQ(total, 50000 / 3 * 6 + 1 + 2); /* 1,2,3 per IP repeating */
    }
    /* kept across gathers: fresh only when not counted by the previous
     * gather; the cache value stays */
    mm_ipcount_clear(&m);
    mm_ip_from_v4(&ip, htonl(0x0a000001u));
    mm_ipcount_add(&m, &ip);
    mm_ip_from_v4(&ip, htonl(0x0d000001u)); /* new */
    mm_ipcount_add(&m, &ip);
    struct mm_ipcount_slot *p;
    int fresh = 0, seen = 0;
    for (size_t pos = 0; (p = mm_ipcount_next(&m, &pos));) {
        seen++;
        fresh += p->fresh;
        p->cache = 77;
    }
    CHECK_INT_EQ(seen, 2);
    CHECK_INT_EQ(fresh, 1);
    mm_ipcount_clear(&m); /* a gather without 10.0.0.1 */
    mm_ipcount_clear(&m);
    mm_ip_from_v4(&ip, htonl(0x0a000001u)); /* back after a gap: fresh, cache kept */
    mm_ipcount_add(&m, &ip);
    p = NULL;
    for (size_t pos = 0; (p = mm_ipcount_next(&m, &pos));)
        break;
    CHECK(p != NULL && p->fresh && p->cache == 77 && p->count == 1);
    mm_ipcount_forget_cache(&m);
    CHECK(p != NULL && p->cache == 0);
    /* more marks than the slot has bits: the previous gather's survive */
    for (int g = 0; g < 40; g++) {
        mm_ipcount_clear(&m);
        mm_ipcount_add(&m, &ip);
    }
    for (size_t pos = 0; (p = mm_ipcount_next(&m, &pos));)
        CHECK(!p->fresh);
    mm_ipcount_clear(&m);
    for (uint32_t i = 0; i < 50000; i++) {
        mm_ip_from_v4(&ip, htonl(0x0a000000u + i));
        mm_ipcount_add(&m, &ip);
    }
    size_t big = m.cap;
    /* a small gather after a big one gives memory back */
    mm_ipcount_clear(&m);
    mm_ip_from_v4(&ip, htonl(0x0b000001u));
    mm_ipcount_add(&m, &ip);
    mm_ipcount_clear(&m);
    CHECK(m.cap < big);
    CHECK_INT_EQ(m.used, 0);
    mm_ipcount_free(&m);

    /* the bound: the map stops growing and says so */
    CHECK_INT_EQ(mm_ipcount_init(&m, 1000), 0);
    int dropped = 0;
    for (uint32_t i = 0; i < 5000; i++) {
        mm_ip_from_v4(&ip, htonl(0x0c000000u + i));
        dropped += mm_ipcount_add(&m, &ip) < 0;
    }
    CHECK(m.overflow);
    CHECK(dropped > 0);
    CHECK(m.used * 20 <= m.cap * 17);
    CHECK(m.used >= 1000);
    mm_ipcount_clear(&m);
    CHECK(!m.overflow);
    mm_ipcount_free(&m);

    /* IPv6 beside IPv4 (slots hold an IPv4 key, IPv6 sits in a side array):
     * 2001:db8::N and ::ffff:10.0.0.N are different keys with their own
     * counts; the addresses come back as given, through growth, a dropped
     * gather (the side array compacted) and a rebuild */
    CHECK_INT_EQ(mm_ipcount_init(&m, 100000), 0);
    for (int round = 0; round < 3; round++) {
        mm_ipcount_clear(&m);
        uint32_t n6 = round == 1 ? 500 : 3000; /* round 1 shrinks, 2 grows again */
        for (uint32_t i = 1; i <= n6; i++) {
            uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8};
            a6[12] = (uint8_t)(i >> 24), a6[13] = (uint8_t)(i >> 16), a6[14] = (uint8_t)(i >> 8),
            a6[15] = (uint8_t)i;
            mm_ip_from_v6(&ip, a6);
            CHECK_INT_EQ(mm_ipcount_add(&m, &ip), 0);
            CHECK_INT_EQ(mm_ipcount_add(&m, &ip), 0);
            mm_ip_from_v4(&ip, htonl(0x0a000000u + i));
            CHECK_INT_EQ(mm_ipcount_add(&m, &ip), 0);
        }
        mm_ipcount_flush(&m);
        CHECK_INT_EQ(m.used, 2 * n6);
        struct mm_ipcount_slot *q;
        uint64_t sum6 = 0, sum4 = 0, c6 = 0, c4 = 0;
        for (size_t pos = 0; (q = mm_ipcount_next(&m, &pos));) {
            struct mm_ip got;
            mm_ipcount_ip(&m, q, &got);
            uint32_t low = (uint32_t)got.b[12] << 24 | (uint32_t)got.b[13] << 16 |
                           (uint32_t)got.b[14] << 8 | got.b[15];
            if (mm_ip_is_v4(&got)) {
                CHECK_INT_EQ(q->count, 1);
                sum4 += low - 0x0a000000u;
                c4++;
            } else {
                CHECK(got.b[0] == 0x20 && got.b[3] == 0xb8);
                CHECK_INT_EQ(q->count, 2);
                sum6 += low;
                c6++;
            }
        }
        CHECK_INT_EQ(c4, n6);
        CHECK_INT_EQ(c6, n6);
        CHECK_INT_EQ(sum4, (uint64_t)n6 * (n6 + 1) / 2);
        CHECK_INT_EQ(sum6, (uint64_t)n6 * (n6 + 1) / 2);
    }
    /* the same through the queue */
    mm_ipcount_clear(&m);
    for (int k = 0; k < 100; k++) {
        uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
        mm_ip_from_v6(&ip, a6);
        mm_ipcount_push(&m, &ip);
        mm_ip_from_v4(&ip, htonl(0x0a000007u));
        mm_ipcount_push(&m, &ip);
    }
    mm_ipcount_flush(&m);
    CHECK_INT_EQ(m.used, 2);
    mm_ipcount_free(&m);
}

static void test_countries_rank(void)
{
    static struct mm_countries c;
    mm_countries_clear(&c);
    for (int i = 0; i < 5; i++)
        mm_countries_add(&c, "DE", 2);
    mm_countries_add(&c, "US", 30);
    mm_countries_add(&c, "unknown", 1);
    mm_countries_add(&c, "FR", 2);
    struct mm_country other;
    size_t n = mm_countries_rank(&c, 2, &other);
    CHECK_INT_EQ(n, 2);
    CHECK(strcmp(c.items[0].code, "US") == 0);
    CHECK(strcmp(c.items[1].code, "DE") == 0);
    CHECK_INT_EQ(c.items[1].connections, 10);
    CHECK_INT_EQ(c.items[1].unique_ips, 5);
    CHECK(strcmp(other.code, "other") == 0);
    CHECK_INT_EQ(other.connections, 3);
    CHECK_INT_EQ(other.unique_ips, 2);
    /* bounded: codes past MM_COUNTRIES_MAX go straight to other */
    mm_countries_clear(&c);
    char code[16];
    for (int i = 0; i < MM_COUNTRIES_MAX + 10; i++) {
        snprintf(code, sizeof(code), "C%d", i);
        mm_countries_add(&c, code, 1);
    }
    CHECK_INT_EQ(c.n, MM_COUNTRIES_MAX);
    n = mm_countries_rank(&c, 1000, &other);
    CHECK_INT_EQ(n, MM_COUNTRIES_MAX);
    CHECK_INT_EQ(other.unique_ips, 10);
}

/* ---- real sockets -------------------------------------------------------- */

/* Layout A (see the README of conn_holder): port P, 127.0.0.1 listener.
 *   127.1.0.1..10  x 2 connections   -> DE in the test database
 *   127.2.0.1..3   x 20 connections  -> US (over the limit of 16)
 *   127.3.0.1..5   x 1, the last 2 half-closed -> not in the database
 * each client sends 100 bytes, the server 50 on each connection. Per-IP
 * figures and countries count ESTABLISHED connections only: the 2
 * half-closed ones (CLOSE_WAIT here) are in the state counts, not there. */
#define A_ESTAB 83
#define A_CLOSE_WAIT 2
static struct holder ha, hb;

static void expect_layout_a_states(const struct mm_snapshot *s, int with_bytes)
{
    CHECK_INT_EQ(cli(s, "listen"), 1);
    CHECK_INT_EQ(cli(s, "established"), A_ESTAB);
    CHECK_INT_EQ(cli(s, "close_wait"), A_CLOSE_WAIT);
    const char *zero[] = {"syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
                          "close", "last_ack", "closing"};
    for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
        CHECK_INT_EQ(cli(s, zero[i]), 0);
    if (with_bytes) {
        /* the FIN of a half-closed connection counts as one byte received */
        CHECK_INT_EQ(cli(s, "bytes_received"), 85 * 100 + A_CLOSE_WAIT);
        CHECK_INT_EQ(cli(s, "bytes_acked"), 85 * 50);
    } else {
        CHECK_INT_EQ(cli(s, "bytes_received"), -1);
        CHECK_INT_EQ(cli(s, "bytes_acked"), -1);
    }
    /* upstream: holder B, 127.9.0.1..2 x 3 to 127.8.0.1 and .2 in turn, each
     * client sends 10 bytes */
    CHECK_INT_EQ(ups(s, "established"), 6);
    CHECK_INT_EQ(ups(s, "listen"), 0);
    CHECK_INT_EQ(ups(s, "unique_ips"), 2);
    CHECK_INT_EQ(ups(s, "max_per_ip"), 3);
    CHECK_INT_EQ(ups(s, "ips_over_limit"), -1); /* client side only */
    if (with_bytes) {
        /* 60 bytes, plus the SYN that the active opener counts as acked */
        CHECK(ups(s, "bytes_acked") >= 60 && ups(s, "bytes_acked") <= 66);
        CHECK_INT_EQ(ups(s, "bytes_received"), 0);
    }
}

static void base_config(struct mm_sockets_config *cfg, const char *db)
{
    char err[256];
    mm_sockets_config_init(cfg);
    add_port(cfg, "127.0.0.1", ha.port);
    set_upstream(cfg, hb.port);
    cfg->socket_bytes = 1;
    if (db && mm_sockets_config_set_geoip_path(cfg, db, err, sizeof(err)) < 0)
        printf("# %s\n", err);
}

static char db_main[256];

static void test_default_exclusion(void)
{
    struct mm_sockets_state st;
    struct mm_sockets_config cfg;
    struct mm_snapshot snap;
    struct logbuf lb = {0};
    mm_snapshot_init(&snap);
    CHECK_INT_EQ(mm_sockets_state_init(&st), 0);
    base_config(&cfg, db_main);
    CHECK_INT_EQ(gather(&st, &cfg, NULL, 0, &snap, &lb), 0);
    expect_layout_a_states(&snap, 1);
    /* every client is loopback: excluded from the per-IP figures */
    CHECK_INT_EQ(cli(&snap, "unique_ips"), 0);
    CHECK_INT_EQ(cli(&snap, "max_per_ip"), 0);
    CHECK_INT_EQ(cli(&snap, "ips_over_limit"), 0);
    CHECK_INT_EQ(count_group(&snap, MM_ORIGIN_COUNTRY), 0);
    CHECK_INT_EQ(st.diag.method, MM_SOCKDIAG_NETLINK);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR] + lb.n[MM_LOG_WARNING], 0);
    /* 11 states + unique_ips + max_per_ip + ips_over_limit + 2 bytes; upstream one less */
    CHECK_INT_EQ(count_group(&snap, MM_ORIGIN_CONNECTIONS), 16 + 15);
    for (size_t i = 0; i < snap.count; i++)
        if (snap.items[i].origin != MM_ORIGIN_CLIENTS) /* counters there (test_clients.c) */
            CHECK(snap.items[i].kind == MM_GAUGE && snap.items[i].type == MM_INT);
    mm_sockets_config_free(&cfg);
    mm_sockets_state_free(&st);
    mm_snapshot_free(&snap);
}

/* The byte sums are opt-in (they need tcp_info, about a quarter of the
 * dump's cost): by default the same counts come without them. */
static void test_bytes_off_by_default(void)
{
    struct mm_sockets_state st;
    struct mm_sockets_config cfg;
    struct mm_snapshot snap;
    struct logbuf lb = {0};
    mm_snapshot_init(&snap);
    CHECK_INT_EQ(mm_sockets_state_init(&st), 0);
    base_config(&cfg, db_main);
    cfg.socket_bytes = 0;
    cfg.include_local = 1;
    CHECK_INT_EQ(gather(&st, &cfg, NULL, 0, &snap, &lb), 0);
    expect_layout_a_states(&snap, 0);
    CHECK_INT_EQ(ups(&snap, "bytes_received"), -1);
    CHECK_INT_EQ(ups(&snap, "bytes_acked"), -1);
    CHECK_INT_EQ(cli(&snap, "unique_ips"), 16);
    CHECK_INT_EQ(cli(&snap, "ips_over_limit"), 3);
    CHECK_INT_EQ(st.diag.method, MM_SOCKDIAG_NETLINK);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR] + lb.n[MM_LOG_WARNING], 0);
    /* 11 states + unique_ips + max_per_ip + ips_over_limit; upstream one less */
    CHECK_INT_EQ(count_group(&snap, MM_ORIGIN_CONNECTIONS), 14 + 13);
    mm_sockets_config_free(&cfg);
    mm_sockets_state_free(&st);
    mm_snapshot_free(&snap);
}

static void test_include_local_countries(void)
{
    struct mm_sockets_state st;
    struct mm_sockets_config cfg;
    struct mm_snapshot snap;
    struct logbuf lb = {0};
    mm_snapshot_init(&snap);
    mm_sockets_state_init(&st);
    base_config(&cfg, db_main);
    cfg.include_local = 1;
    for (int round = 0; round < 3; round++) { /* reused buffers give the same answer */
        CHECK_INT_EQ(gather(&st, &cfg, NULL, 0, &snap, &lb), 0);
        expect_layout_a_states(&snap, 1);
        CHECK_INT_EQ(cli(&snap, "unique_ips"), 16);
        CHECK_INT_EQ(cli(&snap, "max_per_ip"), 20);
        CHECK_INT_EQ(cli(&snap, "ips_over_limit"), 3);
        CHECK_INT_EQ(country(&snap, "US", "connections"), 60);
        CHECK_INT_EQ(country(&snap, "US", "unique_ips"), 3);
        CHECK_INT_EQ(country(&snap, "DE", "connections"), 20);
        CHECK_INT_EQ(country(&snap, "DE", "unique_ips"), 10);
        CHECK_INT_EQ(country(&snap, "unknown", "connections"), 3);
        CHECK_INT_EQ(country(&snap, "unknown", "unique_ips"), 3);
        CHECK_INT_EQ(country(&snap, "other", "connections"), -1);
        CHECK_INT_EQ(count_group(&snap, MM_ORIGIN_COUNTRY), 6);
    }
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR] + lb.n[MM_LOG_WARNING], 0);
    CHECK_INT_EQ(count_substr(lb.all, "opened"), 1); /* opened once, not per gather */

    /* ips_over is "more than N" */
    cfg.ips_over = 20;
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(cli(&snap, "ips_over_limit"), 0);
    cfg.ips_over = 1;
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(cli(&snap, "ips_over_limit"), 13);

    /* top 1 by connections: US, the rest as other */
    cfg.max_countries = 1;
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(country(&snap, "US", "connections"), 60);
    CHECK_INT_EQ(country(&snap, "DE", "connections"), -1);
    CHECK_INT_EQ(country(&snap, "other", "connections"), 23);
    CHECK_INT_EQ(country(&snap, "other", "unique_ips"), 13);
    /* 0 turns countries off */
    cfg.max_countries = 0;
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(count_group(&snap, MM_ORIGIN_COUNTRY), 0);
    CHECK_INT_EQ(cli(&snap, "unique_ips"), 16);
    mm_sockets_config_free(&cfg);
    mm_sockets_state_free(&st);
    mm_snapshot_free(&snap);
}

static void test_ignore_networks(void)
{
    struct mm_sockets_state st;
    struct mm_sockets_config cfg;
    struct mm_snapshot snap;
    struct logbuf lb = {0};
    char err[256];
    mm_snapshot_init(&snap);
    mm_sockets_state_init(&st);
    base_config(&cfg, db_main);
    cfg.include_local = 1;
    CHECK_INT_EQ(mm_sockets_config_add_ignore(&cfg, "127.2.0.0/16", err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_sockets_config_add_ignore(&cfg, "127.3.0.4", err, sizeof(err)), 0);
    CHECK_INT_EQ(mm_sockets_config_add_ignore(&cfg, "2001:db8::/32", err, sizeof(err)), 0);
    CHECK_INT_EQ(gather(&st, &cfg, NULL, 0, &snap, &lb), 0);
    expect_layout_a_states(&snap, 1); /* states still count every socket */
    CHECK_INT_EQ(cli(&snap, "unique_ips"), 13);
    CHECK_INT_EQ(cli(&snap, "max_per_ip"), 2);
    CHECK_INT_EQ(cli(&snap, "ips_over_limit"), 0);
    CHECK_INT_EQ(country(&snap, "US", "connections"), -1);
    CHECK_INT_EQ(country(&snap, "DE", "connections"), 20);
    CHECK_INT_EQ(country(&snap, "unknown", "connections"), 3);
    /* ignoring everything (v4 /0 as an IPv6 network in mapped space) */
    CHECK_INT_EQ(mm_sockets_config_add_ignore(&cfg, "::ffff:0.0.0.0/96", err, sizeof(err)), 0);
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(cli(&snap, "unique_ips"), 0);
    CHECK_INT_EQ(count_group(&snap, MM_ORIGIN_COUNTRY), 0);
    mm_sockets_config_free(&cfg);
    mm_sockets_state_free(&st);
    mm_snapshot_free(&snap);
}

static void test_proc_fallback_same_numbers(void)
{
    struct mm_sockets_state st;
    struct mm_sockets_config cfg;
    struct mm_snapshot snap;
    struct logbuf lb = {0};
    mm_snapshot_init(&snap);
    mm_sockets_state_init(&st);
    st.diag.force_proc = 1;
    base_config(&cfg, db_main);
    cfg.include_local = 1;
    for (int round = 0; round < 2; round++) {
        CHECK_INT_EQ(gather(&st, &cfg, NULL, 0, &snap, &lb), 0);
        expect_layout_a_states(&snap, 0);
        CHECK_INT_EQ(cli(&snap, "unique_ips"), 16);
        CHECK_INT_EQ(cli(&snap, "max_per_ip"), 20);
        CHECK_INT_EQ(cli(&snap, "ips_over_limit"), 3);
        CHECK_INT_EQ(country(&snap, "US", "connections"), 60);
        CHECK_INT_EQ(country(&snap, "DE", "unique_ips"), 10);
        CHECK_INT_EQ(country(&snap, "unknown", "connections"), 3);
    }
    CHECK_INT_EQ(st.diag.method, MM_SOCKDIAG_PROC);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 0);
    mm_sockets_config_free(&cfg);
    mm_sockets_state_free(&st);
    mm_snapshot_free(&snap);
}

static void test_v2_walk_same_numbers(void)
{
    struct mm_sockets_state st;
    struct mm_sockets_config cfg;
    struct mm_snapshot snap;
    struct logbuf lb = {0};
    mm_snapshot_init(&snap);
    mm_sockets_state_init(&st);
    st.diag.walk = MM_SOCKDIAG_WALK_V2; /* per-family requests instead of one walk */
    base_config(&cfg, db_main);
    cfg.include_local = 1;
    CHECK_INT_EQ(gather(&st, &cfg, NULL, 0, &snap, &lb), 0);
    expect_layout_a_states(&snap, 1);
    CHECK_INT_EQ(cli(&snap, "unique_ips"), 16);
    CHECK_INT_EQ(country(&snap, "US", "connections"), 60);
    CHECK_INT_EQ(st.diag.walk, MM_SOCKDIAG_WALK_V2);
    mm_sockets_config_free(&cfg);
    mm_sockets_state_free(&st);
    mm_snapshot_free(&snap);
}

static void test_geoip_missing(void)
{
    struct mm_sockets_state st;
    struct mm_sockets_config cfg;
    struct mm_snapshot snap;
    struct logbuf lb = {0};
    char path[256];
    tmp_path(path, sizeof(path), "does-not-exist.mmdb");
    mm_snapshot_init(&snap);
    mm_sockets_state_init(&st);
    base_config(&cfg, path);
    cfg.include_local = 1;
    for (int round = 0; round < 3; round++) {
        CHECK_INT_EQ(gather(&st, &cfg, NULL, 0, &snap, &lb), 0);
        expect_layout_a_states(&snap, 1); /* the rest of the gather goes on */
        CHECK_INT_EQ(cli(&snap, "unique_ips"), 16);
        CHECK_INT_EQ(count_group(&snap, MM_ORIGIN_COUNTRY), 0);
    }
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 1); /* one error, not one per gather */
    CHECK(strstr(lb.all, path) != NULL);
    CHECK(strstr(lb.all, "No such file") != NULL);

    /* it appears: picked up at the next gather, recovery logged */
    CHECK_INT_EQ(write_db(path, "127.1.0.0/16=DE", NULL), 0);
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(country(&snap, "DE", "connections"), 20);
    CHECK_INT_EQ(country(&snap, "unknown", "connections"), 63);
    CHECK(strstr(lb.all, "recovered") != NULL);
    unlink(path);
    mm_sockets_config_free(&cfg);
    mm_sockets_state_free(&st);
    mm_snapshot_free(&snap);
}

static void test_geoip_corrupt(void)
{
    struct mm_sockets_state st;
    struct mm_sockets_config cfg;
    struct mm_snapshot snap;
    struct logbuf lb = {0};
    char path[256], garbage[256];
    tmp_path(path, sizeof(path), "corrupt.mmdb");
    tmp_path(garbage, sizeof(garbage), "garbage.mmdb");
    copy_file(db_main, path, 200); /* truncated: the metadata is gone */
    mm_snapshot_init(&snap);
    mm_sockets_state_init(&st);
    base_config(&cfg, path);
    cfg.include_local = 1;
    for (int round = 0; round < 3; round++) {
        CHECK_INT_EQ(gather(&st, &cfg, NULL, 0, &snap, &lb), 0);
        expect_layout_a_states(&snap, 1);
        CHECK_INT_EQ(count_group(&snap, MM_ORIGIN_COUNTRY), 0);
    }
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 1);
    CHECK(strstr(lb.all, "not a valid MaxMind DB") != NULL);

    /* a different failure (a directory) is a new error, logged once */
    cfg.geoip_path[0] = '\0';
    free(cfg.geoip_path);
    cfg.geoip_path = strdup(tmpdir);
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 2);
    CHECK(strstr(lb.all, "not a regular file") != NULL);

    /* garbage that ends with the metadata marker but no valid map */
    FILE *f = fopen(garbage, "wb");
    for (int i = 0; i < 5000; i++)
        fputc((i * 7919) & 0xff, f);
    fputs("\xab\xcd\xefMaxMind.com", f);
    fputs("\xe1\x44junk", f);
    fclose(f);
    free(cfg.geoip_path);
    cfg.geoip_path = strdup(garbage);
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 3);
    CHECK_INT_EQ(count_group(&snap, MM_ORIGIN_COUNTRY), 0);
    expect_layout_a_states(&snap, 1);

    /* the corrupt file repaired in place: used from the next gather */
    free(cfg.geoip_path);
    cfg.geoip_path = strdup(path);
    copy_file(db_main, path, -1);
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(country(&snap, "US", "connections"), 60);
    unlink(path);
    unlink(garbage);
    mm_sockets_config_free(&cfg);
    mm_sockets_state_free(&st);
    mm_snapshot_free(&snap);
}

static void test_geoip_replaced(void)
{
    struct mm_sockets_state st;
    struct mm_sockets_config cfg;
    struct mm_snapshot snap;
    struct logbuf lb = {0};
    char path[256];
    tmp_path(path, sizeof(path), "replaced.mmdb");
    CHECK_INT_EQ(write_db(path, "127.1.0.0/16=DE", "127.2.0.0/16=US", NULL), 0);
    mm_snapshot_init(&snap);
    mm_sockets_state_init(&st);
    base_config(&cfg, path);
    cfg.include_local = 1;
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(country(&snap, "DE", "connections"), 20);
    CHECK_INT_EQ(country(&snap, "FR", "connections"), -1);
    /* one lookup per address, then none while the addresses stay */
    uint64_t lookups = st.country_ids.lookups;
    CHECK(lookups > 0);
    CHECK_INT_EQ(lookups, cli(&snap, "unique_ips"));
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(country(&snap, "DE", "connections"), 20);
    CHECK_INT_EQ(st.country_ids.lookups, lookups);

    /* replaced by rename, as geoipupdate does: the cache is void */
    CHECK_INT_EQ(write_db(path, "127.1.0.0/16=FR", "127.2.0.0/16=US", "127.3.0.0/16=BR", NULL), 0);
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(country(&snap, "DE", "connections"), -1);
    CHECK_INT_EQ(country(&snap, "FR", "connections"), 20);
    CHECK_INT_EQ(country(&snap, "BR", "connections"), 3);
    CHECK_INT_EQ(country(&snap, "unknown", "connections"), -1);
    CHECK_INT_EQ(count_substr(lb.all, "re-opened"), 1);
    CHECK_INT_EQ(st.country_ids.lookups, 2 * lookups);

    /* rewritten in place (same inode, cp over it) */
    char other[256];
    tmp_path(other, sizeof(other), "other.mmdb");
    CHECK_INT_EQ(write_db(other, "127.0.0.0/8=JP", NULL), 0);
    copy_file(other, path, -1);
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(country(&snap, "JP", "connections"), 83);
    CHECK_INT_EQ(country(&snap, "JP", "unique_ips"), 16);
    CHECK_INT_EQ(count_group(&snap, MM_ORIGIN_COUNTRY), 2);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 0);

    /* deleted: one error, countries stop, the rest goes on */
    unlink(path);
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    gather(&st, &cfg, NULL, 0, &snap, &lb);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 1);
    CHECK_INT_EQ(count_group(&snap, MM_ORIGIN_COUNTRY), 0);
    expect_layout_a_states(&snap, 1);
    unlink(other);
    mm_sockets_config_free(&cfg);
    mm_sockets_state_free(&st);
    mm_snapshot_free(&snap);
}

static void test_geoip_lookups(void)
{
    char path[256], v4only[256], code[8];
    struct logbuf lb = {0};
    struct mm_logger log = {log_emit, &lb};
    tmp_path(path, sizeof(path), "lookups.mmdb");
    tmp_path(v4only, sizeof(v4only), "v4only.mmdb");
    CHECK_INT_EQ(write_db(path, "127.1.0.0/16=de", "127.2.0.0/16=US", "127.2.5.0/24=flat:FR",
                          "127.4.0.0/16=reg:JP", "127.5.0.0/16=none", "127.6.0.0/16=TOOLONG",
                          "127.7.0.0/16=other", "::1=NL", "2001:db8::/32=SE", NULL), 0);
    struct mm_geoip g;
    mm_geoip_init(&g);
    CHECK_INT_EQ(mm_geoip_refresh(&g, path, &log), 1);
    struct {
        const char *ip, *code;
    } cases[] = {
        {"127.1.2.3", "DE"},          /* lower case in the file */
        {"::ffff:127.1.2.3", "DE"},   /* IPv4-mapped: looked up as IPv4 */
        {"127.2.1.1", "US"},          {"127.2.5.9", "FR"}, /* flat country_code */
        {"127.4.0.1", "JP"},          /* registered_country only */
        {"127.5.0.1", "unknown"},     /* a record without a country */
        {"127.6.0.1", "unknown"},     /* not an ISO code */
        {"127.7.0.1", "unknown"},     /* would collide with our "other" */
        {"127.3.0.1", "unknown"},     /* not in the database */
        {"::1", "NL"},                {"2001:db8::77", "SE"},
        {"2001:db9::1", "unknown"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mm_ip ip = ip_of(cases[i].ip);
        mm_geoip_country(&g, &ip, code, sizeof(code));
        if (strcmp(code, cases[i].code) != 0)
            printf("#   %s -> %s, expected %s\n", cases[i].ip, code, cases[i].code);
        CHECK(strcmp(code, cases[i].code) == 0);
    }
    mm_geoip_free(&g);

    /* an IPv4-only database: IPv6 lookups are "unknown", IPv4 still work */
    CHECK_INT_EQ(write_db(v4only, "127.1.0.0/16=DE", "--ip-version", "4", NULL), 0);
    mm_geoip_init(&g);
    CHECK_INT_EQ(mm_geoip_refresh(&g, v4only, &log), 1);
    struct mm_ip a = ip_of("127.1.0.9"), b = ip_of("2001:db8::1");
    CHECK(strcmp(mm_geoip_country(&g, &a, code, sizeof(code)), "DE") == 0);
    CHECK(strcmp(mm_geoip_country(&g, &b, code, sizeof(code)), "unknown") == 0);
    mm_geoip_free(&g);
    /* no handle open: unknown, no crash */
    mm_geoip_init(&g);
    CHECK(strcmp(mm_geoip_country(&g, &a, code, sizeof(code)), "unknown") == 0);
    mm_geoip_free(&g);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 0);
    unlink(path);
    unlink(v4only);
}

/* Dual-stack listener: IPv4 clients arrive IPv4-mapped on an AF_INET6 socket
 * and must count (and look up) exactly as on an AF_INET listener. */
static void test_dual_stack(void)
{
    struct holder h6;
    char db[256], err[256];
    tmp_path(db, sizeof(db), "dual.mmdb");
    CHECK_INT_EQ(write_db(db, "127.1.0.0/16=DE", "::1=NL", NULL), 0);
    if (holder_start(&h6, "-6", "-g", "127.1.0.1:4:2", "-g", "[::1]:1:3:1", NULL) < 0) {
        CHECK(0);
        return;
    }
    for (int force_proc = 0; force_proc < 2; force_proc++) {
        struct mm_sockets_state st;
        struct mm_sockets_config cfg;
        struct mm_snapshot snap;
        struct logbuf lb = {0};
        mm_snapshot_init(&snap);
        mm_sockets_state_init(&st);
        st.diag.force_proc = force_proc;
        mm_sockets_config_init(&cfg);
        add_port(&cfg, "[::]", h6.port); /* dual-stack listener: any address */
        cfg.upstream_off = 1;
        cfg.include_local = 1;
        mm_sockets_config_set_geoip_path(&cfg, db, err, sizeof(err));
        CHECK_INT_EQ(gather(&st, &cfg, NULL, 0, &snap, &lb), 0);
        CHECK_INT_EQ(cli(&snap, "listen"), 1);
        CHECK_INT_EQ(cli(&snap, "established"), 10);
        CHECK_INT_EQ(cli(&snap, "close_wait"), 1);
        CHECK_INT_EQ(cli(&snap, "unique_ips"), 5);
        CHECK_INT_EQ(cli(&snap, "max_per_ip"), 2);
        CHECK_INT_EQ(country(&snap, "DE", "connections"), 8);
        CHECK_INT_EQ(country(&snap, "DE", "unique_ips"), 4);
        CHECK_INT_EQ(country(&snap, "NL", "connections"), 2);
        CHECK_INT_EQ(country(&snap, "unknown", "connections"), -1);
        CHECK_INT_EQ(ups(&snap, "established"), -1); /* upstream side off */
        /* an IPv6 ignore network drops ::1 only */
        mm_sockets_config_add_ignore(&cfg, "::1/128", err, sizeof(err));
        gather(&st, &cfg, NULL, 0, &snap, &lb);
        CHECK_INT_EQ(cli(&snap, "unique_ips"), 4);
        CHECK_INT_EQ(country(&snap, "NL", "connections"), -1);
        /* default exclusion covers ::1 and the mapped loopback addresses */
        cfg.include_local = 0;
        gather(&st, &cfg, NULL, 0, &snap, &lb);
        CHECK_INT_EQ(cli(&snap, "unique_ips"), 0);
        mm_sockets_config_free(&cfg);
        mm_sockets_state_free(&st);
        mm_snapshot_free(&snap);
    }
    holder_stop(&h6);
    unlink(db);
}

static void test_listen_port_discovery(void)
{
    struct mm_sockdiag d;
    struct logbuf lb = {0};
    struct mm_logger log = {log_emit, &lb};
    uint16_t ports[8];
    mm_sockdiag_init(&d);
    int pids[2] = {ha.main_pid, hb.main_pid};
    CHECK_INT_EQ(mm_listen_ports(&d, pids, 1, 0, ports, 8, &log), 1);
    CHECK_INT_EQ(ports[0], ha.port);
    /* the first listening process answers (workers share the master's sockets) */
    CHECK_INT_EQ(mm_listen_ports(&d, pids, 2, 0, ports, 8, &log), 1);
    CHECK_INT_EQ(ports[0], ha.port);
    /* the stats port is left out: A has no other, so B answers */
    CHECK_INT_EQ(mm_listen_ports(&d, pids, 2, ha.port, ports, 8, &log), 1);
    CHECK_INT_EQ(ports[0], hb.port);
    /* a process that is gone, and this process (listens on nothing) */
    int none[3] = {999999999, (int)getpid(), hb.main_pid};
    CHECK_INT_EQ(mm_listen_ports(&d, none, 2, 0, ports, 8, &log), 0);
    CHECK_INT_EQ(mm_listen_ports(&d, none, 3, 0, ports, 8, &log), 1);
    CHECK_INT_EQ(ports[0], hb.port);
    /* the /proc fallback finds the same */
    d.force_proc = 1;
    CHECK_INT_EQ(mm_listen_ports(&d, pids, 1, 0, ports, 8, &log), 1);
    CHECK_INT_EQ(ports[0], ha.port);
    mm_sockdiag_free(&d);

    /* a gather without a configured client port uses the processes' ports */
    struct mm_sockets_state st;
    struct mm_sockets_config cfg;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    mm_sockets_state_init(&st);
    mm_sockets_config_init(&cfg);
    set_upstream(&cfg, hb.port);
    cfg.include_local = 1;
    cfg.max_countries = 0;
    cfg.socket_bytes = 1;
    for (int round = 0; round < 2; round++) {
        CHECK_INT_EQ(gather(&st, &cfg, pids, 1, &snap, &lb), 0);
        expect_layout_a_states(&snap, 1);
        CHECK_INT_EQ(cli(&snap, "unique_ips"), 16);
    }
    /* no port configured and no process known: a warning, upstream still reported */
    struct logbuf lb2 = {0};
    gather(&st, &cfg, NULL, 0, &snap, &lb2);
    gather(&st, &cfg, NULL, 0, &snap, &lb2);
    CHECK_INT_EQ(lb2.n[MM_LOG_WARNING], 1);
    CHECK_INT_EQ(cli(&snap, "established"), -1);
    CHECK_INT_EQ(ups(&snap, "established"), 6);
    mm_sockets_config_free(&cfg);
    mm_sockets_state_free(&st);
    mm_snapshot_free(&snap);
}

static void test_dump_failure_is_clean(void)
{
    /* /proc fallback with both files unreadable is an error, logged once */
    struct mm_sockdiag d;
    struct logbuf lb = {0};
    struct mm_logger log = {log_emit, &lb};
    mm_sockdiag_init(&d);
    d.force_proc = 1;
    free(d.procbuf);
    d.procbuf = malloc(16); /* lines never fit: a clean EBADMSG */
    d.procbuf_len = 16;
    struct mm_sockdiag_query q;
    memset(&q, 0, sizeof(q));
    long n = 0;
    CHECK_INT_EQ(mm_sockdiag_dump(&d, &q, count_sock, &n, NULL, &log), -1);
    CHECK_INT_EQ(mm_sockdiag_dump(&d, &q, count_sock, &n, NULL, &log), -1);
    CHECK_INT_EQ(lb.n[MM_LOG_ERROR], 1);
    mm_sockdiag_free(&d);
}

static void find_paths(const char *argv0)
{
    char tmp[4096];
    const char *env = getenv("MM_TOOLS_DIR");
    snprintf(tmp, sizeof(tmp), "%s", argv0);
    if (env)
        snprintf(tools_dir, sizeof(tools_dir), "%s", env);
    else
        snprintf(tools_dir, sizeof(tools_dir), "%s/../tools", dirname(tmp));
    env = getenv("MM_SRCDIR");
    const char *candidates[] = {"tests/tools/write_test_mmdb.py", NULL};
    if (env) {
        snprintf(mmdb_script, sizeof(mmdb_script), "%s/tests/tools/write_test_mmdb.py", env);
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s", argv0);
    snprintf(mmdb_script, sizeof(mmdb_script), "%s/../../tests/tools/write_test_mmdb.py",
             dirname(tmp));
    if (access(mmdb_script, R_OK) != 0 && access(candidates[0], R_OK) == 0)
        snprintf(mmdb_script, sizeof(mmdb_script), "%s", candidates[0]);
}

int main(int argc, char **argv)
{
    (void)argc;
    signal(SIGPIPE, SIG_IGN);
    find_paths(argv[0]);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mm-test-sockets-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }

    TEST(test_cidr_parse);
    TEST(test_cidr_match_and_local);
    TEST(test_config_parsers);
    TEST(test_state_names);
    TEST(test_procnet_lines);
    TEST(test_netlink_parser);
    TEST(test_bytecode);
    TEST(test_bytecode_networks);
    TEST(test_classification);
    TEST(test_geoip_fifo);
    TEST(test_ipcount);
    TEST(test_countries_rank);
    TEST(test_dump_failure_is_clean);
    TEST(test_geoip_lookups);

    tmp_path(db_main, sizeof(db_main), "main.mmdb");
    int ready = write_db(db_main, "127.1.0.0/16=DE", "127.2.0.0/16=US", NULL) == 0 &&
                holder_start(&ha, "-g", "127.1.0.1:10:2", "-g", "127.2.0.1:3:20", "-g",
                             "127.3.0.1:5:1:2", "-s", "100", "-r", "50", NULL) == 0 &&
                holder_start(&hb, "-g", "127.9.0.1:2:3", "-D", "127.8.0.1:2", "-s", "10", NULL) == 0;
    if (!ready) {
        printf("# cannot set up the socket layout (tools in %s, script %s)\n", tools_dir,
               mmdb_script);
        check_failed_tests++;
    } else {
        TEST(test_default_exclusion);
        TEST(test_bytes_off_by_default);
        TEST(test_include_local_countries);
        TEST(test_ignore_networks);
        TEST(test_proc_fallback_same_numbers);
        TEST(test_v2_walk_same_numbers);
        TEST(test_geoip_missing);
        TEST(test_geoip_corrupt);
        TEST(test_geoip_replaced);
        TEST(test_listen_port_discovery);
        TEST(test_dual_stack);
    }
    holder_stop(&ha);
    holder_stop(&hb);
    unlink(db_main);
    char p[256];
    tmp_path(p, sizeof(p), "tcp");
    unlink(p);
    rmdir(tmpdir);
    return check_done();
}
