/* test_process.c — process discovery and metrics against real processes.
 *
 * Starts build/tools/fake_mtproxy (found next to this binary, via
 * /proc/self/exe -> ../tools/fake_mtproxy) with a name unique to this run,
 * so concurrent tests never see each other's fakes, and checks what
 * mm_process_gather reports against the fake's own numbers and /proc. Also
 * parses captured /proc files (tests/fixtures/proc-M2) and, when run as
 * root, gathers as user nobody to see partial metrics and one warning. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "host/process/process.h"
#include "host/process/process_discovery.h"
#include "host/process/process_stats.h"
#include "host/process/proxy_identity.h"
#include "host/procfs.h"

/* ---- helpers ----------------------------------------------------------- */

struct capture {
    int count[4]; /* per level */
    char last[4][1024];
};

static void capture_emit(void *ctx, enum mm_log_level level, const char *msg)
{
    struct capture *c = ctx;
    c->count[level]++;
    snprintf(c->last[level], sizeof(c->last[level]), "%s", msg);
    printf("#   log[%d]: %s\n", (int)level, msg);
}

static char fake_path[PATH_MAX];
static char fixture_root[PATH_MAX];
static char uniq[16]; /* process name of this run's fakes */

#define MAX_FAKE_WORKERS 64

struct fake {
    pid_t master;
    int workers[MAX_FAKE_WORKERS];
    int n_workers;
    int threads, fds_master, fds_worker, listen_port, shared_port;
};

static int json_int(const char *line, const char *key, int *out)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(line, pat);
    return p && sscanf(p + strlen(pat), "%d", out) == 1 ? 0 : -1;
}

/* Starts the fake with args (after argv[0]) and waits for its ready line. */
static int fake_start(struct fake *f, const char *const *args)
{
    memset(f, 0, sizeof(*f));
    const char *argv[32] = {fake_path};
    int n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;

    int p[2];
    if (pipe(p) != 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        /* A fake must not outlive a test that crashed. */
        prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        execv(fake_path, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    char line[4096];
    size_t len = 0;
    while (len < sizeof(line) - 1) {
        struct pollfd pfd = {p[0], POLLIN, 0};
        if (poll(&pfd, 1, 10000) <= 0)
            break;
        ssize_t r = read(p[0], line + len, sizeof(line) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        line[len] = '\0';
        if (memchr(line, '\n', len))
            break;
    }
    close(p[0]);
    line[len] = '\0';
    int master = 0;
    if (json_int(line, "master", &master) != 0 || master != pid) {
        printf("#   fake did not start: '%s'\n", line);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    f->master = pid;
    const char *w = strstr(line, "\"workers\":[");
    if (w) {
        w += strlen("\"workers\":[");
        while (*w && *w != ']' && f->n_workers < MAX_FAKE_WORKERS) {
            f->workers[f->n_workers++] = (int)strtol(w, (char **)&w, 10);
            if (*w == ',')
                w++;
        }
    }
    json_int(line, "threads", &f->threads);
    json_int(line, "fds_master", &f->fds_master);
    json_int(line, "fds_worker", &f->fds_worker);
    json_int(line, "listen_port", &f->listen_port);
    json_int(line, "shared_port", &f->shared_port);
    return 0;
}

static int pid_alive(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    return access(path, F_OK) == 0;
}

static void fake_stop(struct fake *f)
{
    if (f->master <= 0)
        return;
    kill(f->master, SIGTERM);
    int status;
    waitpid(f->master, &status, 0);
    /* The master reaps its workers before exiting; wait out stragglers. */
    for (int tries = 0; tries < 300; tries++) {
        int alive = 0;
        for (int i = 0; i < f->n_workers; i++)
            alive |= pid_alive(f->workers[i]);
        if (!alive)
            break;
        usleep(10000);
    }
    f->master = 0;
}

static const struct mm_metric *find(const struct mm_snapshot *s, const char *name, const char *role)
{
    for (size_t i = 0; i < s->count; i++) {
        const struct mm_metric *m = &s->items[i];
        const char *r = mm_metric_label(m, "role");
        if (m->origin == MM_ORIGIN_PROCESS && strcmp(m->name, name) == 0 && r && strcmp(r, role) == 0)
            return m;
    }
    return NULL;
}

#define MISSING INT64_MIN
static int64_t ival(const struct mm_snapshot *s, const char *name, const char *role)
{
    const struct mm_metric *m = find(s, name, role);
    if (!m)
        return MISSING;
    return m->type == MM_INT ? m->value.i : (int64_t)m->value.d;
}

static double dval(const struct mm_snapshot *s, const char *name, const char *role)
{
    const struct mm_metric *m = find(s, name, role);
    return m ? mm_metric_as_double(m) : NAN;
}

static int64_t count_dir(const char *fmt, int pid)
{
    char path[64];
    snprintf(path, sizeof(path), fmt, pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static int init_state_port(struct mm_process_state *st, const char *pidfile, const char *name,
                           const char *regex, int stats_port, struct capture *cap,
                           struct mm_logger *log)
{
    struct mm_process_config cfg = {0};
    cfg.stats_port = stats_port;
    cfg.pidfile = pidfile ? strdup(pidfile) : NULL;
    cfg.process_match_name = name ? strdup(name) : NULL;
    cfg.process_match_regex = regex ? strdup(regex) : NULL;
    memset(cap, 0, sizeof(*cap));
    log->emit = capture_emit;
    log->ctx = cap;
    int rc = mm_process_state_init(st, &cfg, log);
    mm_process_config_free(&cfg);
    return rc;
}

static int init_state(struct mm_process_state *st, const char *pidfile, const char *name,
                      const char *regex, struct capture *cap, struct mm_logger *log)
{
    return init_state_port(st, pidfile, name, regex, 0, cap, log);
}

static void tmp_path(char *buf, size_t cap, const char *what)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, cap, "%s/mm-test-process-%d-%s", dir && *dir ? dir : "/tmp", (int)getpid(), what);
}

/* ---- parsers ----------------------------------------------------------- */

static void test_parse_stat(void)
{
    struct mm_procfs_stat st;
    /* Captured: the -M 2 master. */
    const char *master = "18807 (mtproto-proxy) S 1 18807 18807 0 -1 4194560 746 0 2 0 5 9 0 0 20 0 25 0 "
                         "98070 1271861248 1746 18446744073709551615 94241594118144 94241594365265 "
                         "140720310313440 0 0 0 0 4 268523235 0 0 0 17 1 0 0 0 0 0 94241594488752 "
                         "94241594496833 94241732538368 140720310319356 140720310319527 140720310319527 "
                         "140720310321102 0\n";
    CHECK(mm_procfs_parse_stat(master, &st) == 0);
    CHECK_INT_EQ(st.pid, 18807);
    CHECK(strcmp(st.comm, "mtproto-proxy") == 0);
    CHECK(st.state == 'S');
    CHECK_INT_EQ(st.ppid, 1);
    CHECK_INT_EQ(st.minflt, 746);
    CHECK_INT_EQ(st.majflt, 2);
    CHECK_INT_EQ(st.utime, 5);
    CHECK_INT_EQ(st.stime, 9);
    CHECK_INT_EQ(st.num_threads, 25);
    CHECK_INT_EQ(st.starttime, 98070);
    CHECK_INT_EQ(st.vsize, 1271861248LL);
    CHECK_INT_EQ(st.rss, 1746);

    /* A name with spaces and parentheses: the last ')' ends it. */
    CHECK(mm_procfs_parse_stat("42 (a) b (c)) R 7 1 1 0 -1 0 1 0 2 0 3 4 0 0 20 0 6 0 99 1000 5\n", &st) == 0);
    CHECK(strcmp(st.comm, "a) b (c)") == 0);
    CHECK_INT_EQ(st.ppid, 7);
    CHECK_INT_EQ(st.num_threads, 6);
    CHECK_INT_EQ(st.rss, 5);

    /* Truncated, garbage, empty. */
    CHECK(mm_procfs_parse_stat("18807 (mtproto-proxy) S 1 18807 18807 0 -1 4194560 746", &st) != 0);
    CHECK(mm_procfs_parse_stat("hello (x) S 1", &st) != 0);
    CHECK(mm_procfs_parse_stat("", &st) != 0);
    CHECK(mm_procfs_parse_stat("1 (x S 1 2 3", &st) != 0);
    CHECK(mm_procfs_parse_stat("1 (x) S x 2 3", &st) != 0);
}

static void test_parse_status_limits_io(void)
{
    struct mm_proc_sample s;
    memset(&s, 0, sizeof(s));
    const char *status = "Name:\tmtproto-proxy\nVmData:\t  252708 kB\nThreads:\t25\n"
                         "voluntary_ctxt_switches:\t5079\nnonvoluntary_ctxt_switches:\t1\n";
    CHECK(mm_proc_parse_status(status, &s) == 0);
    CHECK_INT_EQ(s.vm_data, 252708LL * 1024);
    CHECK_INT_EQ(s.ctx_voluntary, 5079);
    CHECK_INT_EQ(s.ctx_involuntary, 1);
    /* A zombie: no VmData, still context switches. */
    memset(&s, 0, sizeof(s));
    CHECK(mm_proc_parse_status("Name:\tx\nvoluntary_ctxt_switches:\t3\nnonvoluntary_ctxt_switches:\t4\n",
                               &s) == 0);
    CHECK_INT_EQ(s.vm_data, 0);
    CHECK(mm_proc_parse_status("Name:\tx\nVmData:\t1 kB\n", &s) != 0); /* cut before the end */

    int64_t soft = 0, hard = 0;
    CHECK(mm_proc_parse_limits("Limit                     Soft Limit           Hard Limit           Units     \n"
                               "Max processes             unlimited            unlimited            processes \n"
                               "Max open files            1024                 1048576              files     \n",
                               &soft, &hard) == 0);
    CHECK_INT_EQ(soft, 1024);
    CHECK_INT_EQ(hard, 1048576);
    CHECK(mm_proc_parse_limits("Max open files            unlimited            unlimited            files\n",
                               &soft, &hard) == 0);
    CHECK_INT_EQ(soft, MM_PROC_UNLIMITED);
    CHECK(mm_proc_parse_limits("Max processes   10   10\n", &soft, &hard) != 0);
    CHECK(mm_proc_parse_limits("Max open files            lots\n", &soft, &hard) != 0);

    memset(&s, 0, sizeof(s));
    CHECK(mm_proc_parse_io("rchar: 10\nwchar: 20\nsyscr: 3\nsyscw: 4\nread_bytes: 0\n", &s) == 0);
    CHECK_INT_EQ(s.rchar, 10);
    CHECK_INT_EQ(s.wchar, 20);
    CHECK_INT_EQ(s.syscr, 3);
    CHECK_INT_EQ(s.syscw, 4);
    CHECK(mm_proc_parse_io("rchar: 10\nwchar: 20\n", &s) != 0);
}

/* ---- a copy of /proc: the captured -M 2 tree --------------------------- */

static void test_fixture_tree(void)
{
    if (!fixture_root[0]) {
        printf("#   skipped: tests/fixtures/proc-M2 not found\n");
        return;
    }
    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    CHECK(init_state(&st, NULL, NULL, NULL, &cap, &log) == 0);
    st.proc_root = fixture_root;

    /* No hint, no config: comm "mtproto-proxy"; the zombie 777 is ignored. */
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(mm_process_master_pid(&st), 18807);
    CHECK_INT_EQ(mm_process_source(&st), MM_PROCESS_SOURCE_MATCH);
    int pids[8];
    CHECK_INT_EQ(mm_process_pids(&st, pids, 8), 3);
    CHECK_INT_EQ(pids[0], 18807);
    CHECK_INT_EQ(ival(&snap, "processes", "master"), 1);
    CHECK_INT_EQ(ival(&snap, "processes", "workers"), 2);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 3);
    CHECK_INT_EQ(ival(&snap, "num_threads", "all"), 75);
    long page = sysconf(_SC_PAGESIZE), hz = sysconf(_SC_CLK_TCK);
    CHECK_INT_EQ(ival(&snap, "memory_rss", "master"), 1746LL * page);
    CHECK_INT_EQ(ival(&snap, "memory_rss", "workers"), (1493LL + 1559) * page);
    CHECK_INT_EQ(ival(&snap, "memory_vms", "all"), 3LL * 1271861248);
    CHECK_INT_EQ(ival(&snap, "memory_data", "all"), 3LL * 252708 * 1024);
    CHECK(fabs(dval(&snap, "cpu_time_user", "all") - 7.0 / (double)hz) < 1e-9);
    CHECK(fabs(dval(&snap, "cpu_time_system", "workers") - 10.0 / (double)hz) < 1e-9);
    CHECK_INT_EQ(ival(&snap, "minor_faults", "all"), 746 + 428 + 432);
    CHECK_INT_EQ(ival(&snap, "major_faults", "master"), 2);
    CHECK_INT_EQ(ival(&snap, "voluntary_context_switches", "all"), 5079 + 5134 + 5131);
    CHECK_INT_EQ(ival(&snap, "involuntary_context_switches", "workers"), 2 + 44);
    CHECK_INT_EQ(ival(&snap, "num_fds", "master"), 5);
    CHECK_INT_EQ(ival(&snap, "num_fds", "workers"), 8);
    CHECK_INT_EQ(ival(&snap, "fd_limit_soft", "all"), 16016);
    CHECK_INT_EQ(ival(&snap, "fd_limit_hard", "all"), 20000);
    CHECK(fabs(dval(&snap, "fd_usage_percent", "master") - 5 * 100.0 / 16016) < 1e-9);
    CHECK(fabs(dval(&snap, "fd_usage_percent", "workers") - 4 * 100.0 / 16016) < 1e-9);
    CHECK(fabs(dval(&snap, "fd_usage_percent", "all") - 5 * 100.0 / 16016) < 1e-9);
    CHECK_INT_EQ(ival(&snap, "read_bytes", "all"), 1234567 + 1000 + 5000);
    CHECK_INT_EQ(ival(&snap, "write_count", "workers"), 40 + 80);
    CHECK_INT_EQ(ival(&snap, "restarts", "master"), 0);
    /* Workers start one tick after the master: created_at is the youngest. */
    CHECK(ival(&snap, "created_at", "workers") >= ival(&snap, "created_at", "master"));
    const struct mm_metric *m = find(&snap, "cpu_time_user", "all");
    CHECK(m && m->kind == MM_COUNTER && m->type == MM_DOUBLE);
    m = find(&snap, "read_bytes", "all");
    CHECK(m && m->kind == MM_COUNTER && m->type == MM_INT);
    m = find(&snap, "num_fds", "all");
    CHECK(m && m->kind == MM_GAUGE);
    CHECK_INT_EQ(cap.count[MM_LOG_WARNING], 0);

    /* The stats page's pid is trusted as it is named mtproto-proxy... */
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 18807, &snap, &log);
    CHECK_INT_EQ(mm_process_source(&st), MM_PROCESS_SOURCE_HINT);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 3);
    /* ...but not when it names another process (a container's pid 1 seen
     * from the host), a zombie or nothing: the master seen last stays. */
    const int64_t stale[] = {1, 777, 99999, -5};
    for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
        mm_snapshot_reset(&snap);
        mm_process_gather(&st, stale[i], &snap, &log);
        CHECK_INT_EQ(mm_process_source(&st), MM_PROCESS_SOURCE_LAST_SEEN);
        CHECK_INT_EQ(mm_process_master_pid(&st), 18807);
    }
    CHECK_INT_EQ(ival(&snap, "restarts", "master"), 0);
    mm_process_state_free(&st);

    /* The default match wants the URL's stats port on the command line
     * (-p 8888 here): a proxy serving its stats elsewhere is another one. */
    CHECK(init_state_port(&st, NULL, NULL, NULL, 8888, &cap, &log) == 0);
    st.proc_root = fixture_root;
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(mm_process_master_pid(&st), 18807);
    struct mm_proxy_cmdline cl;
    CHECK_INT_EQ(mm_process_master_cmdline(&st, &cl), 0);
    CHECK_INT_EQ(cl.stats_port, 8888);
    CHECK_INT_EQ(cl.n_client_ports, 1);
    CHECK_INT_EQ(cl.client_ports[0], 4443);
    CHECK(strstr(cap.last[MM_LOG_INFO], "stats port 8888") != NULL);
    mm_process_state_free(&st);
    CHECK(init_state_port(&st, NULL, NULL, NULL, 9999, &cap, &log) == 0);
    st.proc_root = fixture_root;
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(mm_process_master_pid(&st), 0);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 0);
    CHECK(strstr(cap.last[MM_LOG_WARNING], "port 9999") != NULL);
    CHECK_INT_EQ(mm_process_master_cmdline(&st, &cl), -1);
    mm_process_state_free(&st);

    /* A regex on the command line joined by spaces. */
    CHECK(init_state(&st, NULL, NULL, "^/opt/mtproxy/bin/mtproto-proxy .* -M 2$", &cap, &log) == 0);
    st.proc_root = fixture_root;
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(mm_process_master_pid(&st), 18807);
    CHECK_INT_EQ(ival(&snap, "processes", "workers"), 2);
    mm_process_state_free(&st);

    /* A regex that nothing matches (bash's cmdline is "-bash"). */
    CHECK(init_state(&st, NULL, NULL, "-M 3$", &cap, &log) == 0);
    st.proc_root = fixture_root;
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(mm_process_master_pid(&st), 0);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 0);
    CHECK_INT_EQ(cap.count[MM_LOG_WARNING], 1);
    mm_process_state_free(&st);
    mm_snapshot_free(&snap);
}

/* Ports named on command lines: MTProxy/teleproxy getopt forms and mtg. */
static void parse_args(const char *const *argv, struct mm_proxy_cmdline *out)
{
    char raw[512];
    size_t len = 0;
    for (size_t i = 0; argv[i]; i++) {
        size_t n = strlen(argv[i]) + 1;
        memcpy(raw + len, argv[i], n);
        len += n;
    }
    mm_proxy_cmdline_parse(raw, len, out);
}

static void test_proxy_cmdline(void)
{
    struct mm_proxy_cmdline c;
    const char *official[] = {"/opt/mtproxy/bin/mtproto-proxy", "-u", "nobody", "-p", "8888", "-H",
                              "443,4443", "-S", "ab", "--http-stats", "--aes-pwd", "x", "y", "-M", "2",
                              NULL};
    parse_args(official, &c);
    CHECK_INT_EQ(c.stats_port, 8888);
    CHECK_INT_EQ(c.n_client_ports, 2);
    CHECK_INT_EQ(c.client_ports[0], 443);
    CHECK_INT_EQ(c.client_ports[1], 4443);
    CHECK_INT_EQ(c.have_bind, 0);
    const char *joined[] = {"mtproto-proxy", "-p8889", "-H443", "--http-ports=444", "-H", "443", NULL};
    parse_args(joined, &c);
    CHECK_INT_EQ(c.stats_port, 8889);
    CHECK_INT_EQ(c.n_client_ports, 2); /* 443 once */
    const char *long_forms[] = {"teleproxy", "--port", "2398", "--http-ports", "8443", NULL};
    parse_args(long_forms, &c);
    CHECK_INT_EQ(c.stats_port, 2398);
    CHECK_INT_EQ(c.client_ports[0], 8443);
    const char *bad[] = {"mtproto-proxy", "-p", "8888:8890", "-H", "0,x", "-H", "99999", "-p", NULL};
    parse_args(bad, &c);
    CHECK_INT_EQ(c.stats_port, 0); /* a range, then a -p without value */
    CHECK_INT_EQ(c.n_client_ports, 0);
    const char *mtg[] = {"/usr/bin/mtg", "simple-run", "-n", "1.1.1.1", "127.0.0.9:3128", "ee00", NULL};
    parse_args(mtg, &c);
    CHECK_INT_EQ(c.n_client_ports, 1);
    CHECK_INT_EQ(c.client_ports[0], 3128);
    CHECK_INT_EQ(c.have_bind, 1);
    CHECK_INT_EQ(c.bind.b[15], 9);
    const char *mtg6[] = {"mtg", "simple-run", "[::]:443", "ee00", NULL};
    parse_args(mtg6, &c);
    CHECK_INT_EQ(c.client_ports[0], 443);
    CHECK_INT_EQ(c.have_bind, 0); /* any address */
    /* an unterminated last argument (cut off) is not parsed */
    mm_proxy_cmdline_parse("mtproto-proxy\0-p\0008888", 21, &c);
    CHECK_INT_EQ(c.stats_port, 0);
    mm_proxy_cmdline_parse("", 0, &c);
    CHECK_INT_EQ(c.n_client_ports, 0);
}

/* ---- real processes ---------------------------------------------------- */

static void test_bad_config(void)
{
    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    CHECK(init_state(&st, NULL, NULL, "mtproto-(proxy", &cap, &log) == -1);
    CHECK_INT_EQ(cap.count[MM_LOG_ERROR], 1);
    CHECK(strstr(cap.last[MM_LOG_ERROR], "mtproto-(proxy") != NULL);
    CHECK(init_state(&st, NULL, "a-name-of-sixteen", NULL, &cap, &log) == -1);
    CHECK(strstr(cap.last[MM_LOG_ERROR], "15") != NULL);
    CHECK(init_state(&st, "", NULL, NULL, &cap, &log) == -1);
    CHECK(init_state(&st, NULL, NULL, "", &cap, &log) == -1);
    /* A state whose init failed is zeroed: a gather reports nothing found. */
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 0);
    mm_snapshot_free(&snap);
    /* A NULL config is the default discovery. */
    CHECK(mm_process_state_init(&st, NULL, NULL) == 0);
    mm_process_state_free(&st);
    mm_process_state_free(&st); /* twice is harmless */
}

/* Counts, sums and limits against the fake's own numbers and /proc. */
static void test_counts(void)
{
    char pidfile[PATH_MAX];
    tmp_path(pidfile, sizeof(pidfile), "counts.pid");
    struct fake f;
    const char *args[] = {"-w", "3", "-t", "4", "-f", "5", "-l", "0", "-s", "0", "-N", "1000",
                          "-P", pidfile, "-n", uniq, NULL};
    time_t before = time(NULL);
    if (fake_start(&f, args) != 0) {
        CHECK(!"fake_mtproxy started");
        return;
    }
    CHECK_INT_EQ(f.n_workers, 3);
    CHECK_INT_EQ(f.threads, 5);
    CHECK_INT_EQ(f.fds_master, 3 + 5 + 2);
    CHECK_INT_EQ(f.fds_worker, 3 + 5 + 1);

    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    /* The pidfile, whose process passes the match. */
    CHECK(init_state(&st, pidfile, uniq, NULL, &cap, &log) == 0);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(mm_process_source(&st), MM_PROCESS_SOURCE_PIDFILE);
    CHECK_INT_EQ(mm_process_master_pid(&st), f.master);

    CHECK_INT_EQ(ival(&snap, "processes", "master"), 1);
    CHECK_INT_EQ(ival(&snap, "processes", "workers"), 3);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 4);
    CHECK_INT_EQ(ival(&snap, "num_threads", "master"), f.threads);
    CHECK_INT_EQ(ival(&snap, "num_threads", "workers"), 3 * f.threads);
    CHECK_INT_EQ(ival(&snap, "num_threads", "all"), 4 * f.threads);
    CHECK_INT_EQ(ival(&snap, "num_fds", "master"), f.fds_master);
    CHECK_INT_EQ(ival(&snap, "num_fds", "workers"), 3 * f.fds_worker);
    CHECK_INT_EQ(ival(&snap, "num_fds", "all"), f.fds_master + 3 * f.fds_worker);

    /* The same through /proc directly. */
    int64_t threads = count_dir("/proc/%d/task", f.master), fds = count_dir("/proc/%d/fd", f.master);
    for (int i = 0; i < f.n_workers; i++) {
        threads += count_dir("/proc/%d/task", f.workers[i]);
        fds += count_dir("/proc/%d/fd", f.workers[i]);
    }
    CHECK_INT_EQ(ival(&snap, "num_threads", "all"), threads);
    CHECK_INT_EQ(ival(&snap, "num_fds", "all"), fds);

    /* The pids, master first, are the fake's. */
    int pids[8];
    size_t n = mm_process_pids(&st, pids, 8);
    CHECK_INT_EQ(n, 4);
    CHECK_INT_EQ(pids[0], f.master);
    int seen = 0;
    for (size_t i = 1; i < n; i++)
        for (int j = 0; j < f.n_workers; j++)
            seen += pids[i] == f.workers[j];
    CHECK_INT_EQ(seen, 3);
    CHECK_INT_EQ(mm_process_pids(&st, pids, 2), 2);

    /* The fake set its soft limit to 1000 (-N), like MTProxy's -c; the hard
     * one is inherited, asked from the kernel (valgrind would lie about ours). */
    CHECK_INT_EQ(ival(&snap, "fd_limit_soft", "master"), 1000);
    CHECK_INT_EQ(ival(&snap, "fd_limit_soft", "all"), 1000);
    CHECK(fabs(dval(&snap, "fd_usage_percent", "master") - f.fds_master * 100.0 / 1000) < 1e-9);
    /* workers/all: the fullest single process (here the master). */
    CHECK(fabs(dval(&snap, "fd_usage_percent", "workers") - f.fds_worker * 100.0 / 1000) < 1e-9);
    CHECK(fabs(dval(&snap, "fd_usage_percent", "all") - f.fds_master * 100.0 / 1000) < 1e-9);
    struct rlimit rl;
    CHECK(prlimit(f.master, RLIMIT_NOFILE, NULL, &rl) == 0);
    if (rl.rlim_max != RLIM_INFINITY)
        CHECK_INT_EQ(ival(&snap, "fd_limit_hard", "workers"), (int64_t)rl.rlim_max);

    CHECK(ival(&snap, "memory_rss", "master") > 0);
    CHECK(ival(&snap, "memory_rss", "all") > ival(&snap, "memory_rss", "master"));
    CHECK(ival(&snap, "memory_vms", "all") > ival(&snap, "memory_rss", "all"));
    CHECK(ival(&snap, "memory_data", "master") > 0);
    CHECK(dval(&snap, "cpu_time_user", "all") >= 0);
    CHECK(ival(&snap, "minor_faults", "master") > 0);
    CHECK(ival(&snap, "voluntary_context_switches", "all") >= 0);
    time_t after = time(NULL);
    /* nanoseconds, like procstat's created_at */
    int64_t created = ival(&snap, "created_at", "master");
    CHECK(created >= (int64_t)(before - 1) * 1000000000 && created <= (int64_t)(after + 1) * 1000000000);
    CHECK(llabs(mm_process_master_start_time(&st) - created / 1000000000) <= 1);
    int64_t up = ival(&snap, "uptime_seconds", "all");
    CHECK(up >= 0 && up <= after - before + 2);
    CHECK_INT_EQ(ival(&snap, "restarts", "master"), 0);
    if (geteuid() == 0) {
        /* io is readable as root; the fake wrote nothing yet but read its
         * config and exec'ed twice, so counts are small but present. */
        CHECK(ival(&snap, "read_count", "all") != MISSING);
        CHECK(ival(&snap, "write_bytes", "master") >= 0);
    }
    CHECK_INT_EQ(cap.count[MM_LOG_WARNING], 0);
    CHECK_INT_EQ(cap.count[MM_LOG_INFO], 1); /* "MTProxy master is pid ..." */

    /* Each role's metric appears exactly once, and kinds are right. */
    static const char *const roles[] = {"master", "workers", "all"};
    for (int r = 0; r < 3; r++) {
        int dup = 0;
        for (size_t i = 0; i < snap.count; i++)
            if (strcmp(snap.items[i].name, "num_threads") == 0 &&
                strcmp(mm_metric_label(&snap.items[i], "role"), roles[r]) == 0)
                dup++;
        CHECK_INT_EQ(dup, 1);
    }
    const struct mm_metric *m = find(&snap, "restarts", "master");
    CHECK(m && m->kind == MM_COUNTER && m->type == MM_INT);
    CHECK(find(&snap, "restarts", "all") == NULL);
    m = find(&snap, "fd_usage_percent", "all");
    CHECK(m && m->kind == MM_GAUGE && m->type == MM_DOUBLE);

    /* The hint, when it is the master and passes the configured match. */
    mm_process_state_free(&st);
    CHECK(init_state(&st, NULL, uniq, NULL, &cap, &log) == 0);
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, f.master, &snap, &log);
    CHECK_INT_EQ(mm_process_source(&st), MM_PROCESS_SOURCE_HINT);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 4);
    mm_process_state_free(&st);

    /* The regex, on the fake's command line (identical in every process):
     * the master is the match whose parent is no match. */
    char re[128];
    snprintf(re, sizeof(re), "^%s -w 3 -t 4 .*-n %s$", uniq, uniq);
    CHECK(init_state(&st, NULL, NULL, re, &cap, &log) == 0);
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(mm_process_source(&st), MM_PROCESS_SOURCE_MATCH);
    CHECK_INT_EQ(mm_process_master_pid(&st), f.master);
    CHECK_INT_EQ(ival(&snap, "processes", "workers"), 3);
    mm_process_state_free(&st);

    /* Name and regex together: both must hold. */
    CHECK(init_state(&st, NULL, uniq, "-w 3 ", &cap, &log) == 0);
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(mm_process_master_pid(&st), f.master);
    mm_process_state_free(&st);
    CHECK(init_state(&st, NULL, uniq, "-w 4 ", &cap, &log) == 0);
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(mm_process_master_pid(&st), 0);
    mm_process_state_free(&st);

    fake_stop(&f);
    CHECK(access(pidfile, F_OK) != 0); /* the fake removes its pidfile */
    mm_snapshot_free(&snap);
}

/* A stale hint is not trusted: the match finds the proxy. A configured
 * pidfile is the identity: stale, garbage, naming another process or init,
 * it finds nothing (no guessing besides it), with the reason logged. */
static void write_file(const char *path, const char *text)
{
    FILE *pf = fopen(path, "w");
    CHECK(pf != NULL);
    if (pf) {
        fputs(text, pf);
        fclose(pf);
    }
}

static void test_stale_hint(void)
{
    struct fake f;
    const char *args[] = {"-w", "1", "-n", uniq, NULL};
    if (fake_start(&f, args) != 0) {
        CHECK(!"fake_mtproxy started");
        return;
    }
    /* A pid that no longer exists. */
    fflush(stdout);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);

    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    CHECK(init_state(&st, NULL, uniq, NULL, &cap, &log) == 0);
    /* The test itself: alive, but neither mtproto-proxy nor a match. */
    const int64_t hints[] = {getpid(), dead, 0};
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
        mm_snapshot_reset(&snap);
        mm_process_gather(&st, hints[i], &snap, &log);
        CHECK_INT_EQ(mm_process_source(&st), i == 0 ? MM_PROCESS_SOURCE_MATCH : MM_PROCESS_SOURCE_LAST_SEEN);
        CHECK_INT_EQ(mm_process_master_pid(&st), f.master);
        CHECK_INT_EQ(ival(&snap, "processes", "all"), 2);
    }
    CHECK(strstr(cap.last[MM_LOG_INFO], "found by the configured process match") != NULL);
    mm_process_state_free(&st);

    char pidfile[PATH_MAX];
    tmp_path(pidfile, sizeof(pidfile), "stale.pid");
    char text[32];
    static const struct {
        int what; /* 0 dead pid, 1 our parent (fails the match), 2 garbage, 3 init */
        const char *why;
    } cases[] = {{0, "is not running"}, {1, "does not pass the process match"},
                 {2, "does not hold a pid"}, {3, "is init"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int pid = cases[i].what == 0 ? dead : cases[i].what == 1 ? getppid() : 1;
        snprintf(text, sizeof(text), cases[i].what == 2 ? "12ab\n" : "%d\n", pid);
        write_file(pidfile, text);
        CHECK(init_state(&st, pidfile, uniq, NULL, &cap, &log) == 0);
        for (int g = 0; g < 2; g++) {
            mm_snapshot_reset(&snap);
            mm_process_gather(&st, 0, &snap, &log);
            CHECK_INT_EQ(mm_process_master_pid(&st), 0);
            CHECK_INT_EQ(ival(&snap, "processes", "all"), 0);
            CHECK_INT_EQ(ival(&snap, "processes", "workers"), 0);
        }
        CHECK_INT_EQ(cap.count[MM_LOG_WARNING], 1);
        CHECK(strstr(cap.last[MM_LOG_WARNING], cases[i].why) != NULL);
        mm_process_state_free(&st);
    }
    unlink(pidfile);
    fake_stop(&f);
    mm_snapshot_free(&snap);
}

/* A FIFO where the pidfile should be: the gather neither blocks (an open
 * without O_NONBLOCK waits for a writer forever) nor reads it. */
static void test_fifo_pidfile(void)
{
    char fifo[PATH_MAX];
    tmp_path(fifo, sizeof(fifo), "fifo.pid");
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    CHECK(init_state(&st, fifo, uniq, NULL, &cap, &log) == 0);
    alarm(10); /* a hang fails the test run instead of stalling it */
    mm_process_gather(&st, 0, &snap, &log);
    alarm(0);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 0);
    CHECK(strstr(cap.last[MM_LOG_WARNING], "not a regular file") != NULL);
    mm_process_state_free(&st);
    mm_snapshot_free(&snap);
    unlink(fifo);
}

/* No process: processes 0 in every role, one warning, recovery logged. */
static void test_no_process(void)
{
    char name[16];
    snprintf(name, sizeof(name), "mmnone%d", (int)getpid() % 100000);
    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    CHECK(init_state(&st, NULL, name, NULL, &cap, &log) == 0);
    for (int i = 0; i < 3; i++) {
        mm_snapshot_reset(&snap);
        mm_process_gather(&st, 0, &snap, &log);
    }
    CHECK_INT_EQ(ival(&snap, "processes", "master"), 0);
    CHECK_INT_EQ(ival(&snap, "processes", "workers"), 0);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 0);
    CHECK_INT_EQ(ival(&snap, "restarts", "master"), 0);
    CHECK(ival(&snap, "num_threads", "all") == MISSING);
    CHECK_INT_EQ(snap.count, 4);
    CHECK_INT_EQ(cap.count[MM_LOG_WARNING], 1);
    CHECK(strstr(cap.last[MM_LOG_WARNING], name) != NULL);
    CHECK_INT_EQ(mm_process_master_pid(&st), 0);
    int pids[4];
    CHECK_INT_EQ(mm_process_pids(&st, pids, 4), 0);

    /* The proxy appears: metrics and one recovery line. */
    struct fake f;
    const char *args[] = {"-n", name, NULL};
    if (fake_start(&f, args) == 0) {
        mm_snapshot_reset(&snap);
        mm_process_gather(&st, 0, &snap, &log);
        CHECK_INT_EQ(ival(&snap, "processes", "master"), 1);
        /* -M 0: a workers role with nothing but processes 0. */
        CHECK_INT_EQ(ival(&snap, "processes", "workers"), 0);
        CHECK(ival(&snap, "num_threads", "workers") == MISSING);
        CHECK_INT_EQ(ival(&snap, "num_threads", "all"), 1);
        CHECK(strstr(cap.last[MM_LOG_INFO], "MTProxy master is pid") != NULL);
        CHECK_INT_EQ(cap.count[MM_LOG_INFO], 2); /* recovery + found */
        fake_stop(&f);
    } else {
        CHECK(!"fake_mtproxy started");
    }
    mm_process_state_free(&st);
    mm_snapshot_free(&snap);
}

/* Kill and restart with new pids: restarts goes up by one each time. */
static void test_restart(void)
{
    char pidfile[PATH_MAX];
    tmp_path(pidfile, sizeof(pidfile), "restart.pid");
    const char *args[] = {"-w", "2", "-t", "1", "-P", pidfile, "-n", uniq, NULL};
    struct fake f;
    if (fake_start(&f, args) != 0) {
        CHECK(!"fake_mtproxy started");
        return;
    }
    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    CHECK(init_state(&st, pidfile, uniq, NULL, &cap, &log) == 0);
    mm_process_gather(&st, f.master, &snap, &log);
    CHECK_INT_EQ(ival(&snap, "restarts", "master"), 0);
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(ival(&snap, "restarts", "master"), 0);
    int first = f.master;

    /* Killed hard, workers follow (PDEATHSIG); a gather in between sees
     * nothing and keeps the count. */
    kill(f.master, SIGKILL);
    waitpid(f.master, NULL, 0);
    for (int tries = 0; tries < 300 && (pid_alive(f.workers[0]) || pid_alive(f.workers[1])); tries++)
        usleep(10000);
    unlink(pidfile);
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 0);
    CHECK_INT_EQ(ival(&snap, "restarts", "master"), 0);

    if (fake_start(&f, args) != 0) {
        CHECK(!"fake_mtproxy restarted");
        mm_process_state_free(&st);
        mm_snapshot_free(&snap);
        return;
    }
    CHECK(f.master != first);
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(mm_process_master_pid(&st), f.master);
    CHECK_INT_EQ(ival(&snap, "restarts", "master"), 1);
    CHECK_INT_EQ(mm_process_restarts(&st), 1);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 3);
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, f.master, &snap, &log);
    CHECK_INT_EQ(ival(&snap, "restarts", "master"), 1);

    /* Restarted between two gathers, none of them seeing it down. */
    fake_stop(&f);
    if (fake_start(&f, args) == 0) {
        mm_snapshot_reset(&snap);
        mm_process_gather(&st, f.master, &snap, &log);
        CHECK_INT_EQ(ival(&snap, "restarts", "master"), 2);
        fake_stop(&f);
    } else {
        CHECK(!"fake_mtproxy restarted");
    }
    mm_process_state_free(&st);
    mm_snapshot_free(&snap);
}

/* Two unrelated proxies pass the match and nothing tells them apart: none
 * is taken (reporting the wrong one is worse), one warning saying so. */
static void test_ambiguous(void)
{
    struct fake a, b;
    const char *args[] = {"-w", "1", "-n", uniq, NULL};
    if (fake_start(&a, args) != 0) {
        CHECK(!"fake_mtproxy started");
        return;
    }
    if (fake_start(&b, args) != 0) {
        CHECK(!"fake_mtproxy started");
        fake_stop(&a);
        return;
    }
    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    CHECK(init_state(&st, NULL, uniq, NULL, &cap, &log) == 0);
    for (int i = 0; i < 3; i++) {
        mm_snapshot_reset(&snap);
        mm_process_gather(&st, 0, &snap, &log);
        CHECK_INT_EQ(mm_process_master_pid(&st), 0);
    }
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 0);
    CHECK_INT_EQ(cap.count[MM_LOG_WARNING], 1);
    CHECK(strstr(cap.last[MM_LOG_WARNING], "2 processes could be the proxy") != NULL);
    /* The stats page settles it; then the identity holds without it. */
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, b.master, &snap, &log);
    CHECK_INT_EQ(mm_process_master_pid(&st), b.master);
    for (int i = 0; i < 2; i++) {
        mm_snapshot_reset(&snap);
        mm_process_gather(&st, 0, &snap, &log);
        CHECK_INT_EQ(mm_process_master_pid(&st), b.master);
        CHECK_INT_EQ(mm_process_source(&st), MM_PROCESS_SOURCE_LAST_SEEN);
    }
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 2);
    CHECK_INT_EQ(ival(&snap, "restarts", "master"), 0);
    mm_process_state_free(&st);
    fake_stop(&b);
    fake_stop(&a);
    mm_snapshot_free(&snap);
}

static void kill_wait_gone(const int *pids, int n)
{
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    for (int tries = 0; tries < 500; tries++) {
        int alive = 0;
        for (int i = 0; i < n; i++)
            alive |= pid_alive(pids[i]);
        if (!alive)
            return;
        usleep(10000);
    }
}

/* kill -9 of the master leaves its workers running (MTProxy's notice the
 * new parent 1-3 s later): they have the master's name and command line
 * but are never taken for it. The restarted proxy is one restart. */
static void test_orphans(void)
{
    const char *args[] = {"-w", "2", "-O", "30", "-n", uniq, NULL};
    struct fake f;
    if (fake_start(&f, args) != 0) {
        CHECK(!"fake_mtproxy started");
        return;
    }
    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    CHECK(init_state(&st, NULL, uniq, NULL, &cap, &log) == 0);
    mm_process_gather(&st, f.master, &snap, &log);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 3);
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(ival(&snap, "processes", "all"), 3);

    kill(f.master, SIGKILL);
    waitpid(f.master, NULL, 0);
    /* The orphans are re-parented (to init or a subreaper) and live on. */
    struct mm_procfs_stat ps;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", f.workers[0]);
    CHECK(mm_procfs_read_stat(AT_FDCWD, path, &ps) == 0 && ps.ppid != f.master);
    for (int i = 0; i < 3; i++) {
        mm_snapshot_reset(&snap);
        mm_process_gather(&st, 0, &snap, &log);
        CHECK_INT_EQ(mm_process_master_pid(&st), 0);
        CHECK_INT_EQ(ival(&snap, "processes", "all"), 0);
        CHECK_INT_EQ(ival(&snap, "restarts", "master"), 0);
    }
    CHECK(pid_alive(f.workers[0]) && pid_alive(f.workers[1]));
    int gone_lines = 0;
    (void)gone_lines;
    CHECK(strstr(cap.last[MM_LOG_WARNING], "is gone") != NULL ||
          strstr(cap.last[MM_LOG_WARNING], "no MTProxy process found") != NULL);

    /* The proxy started again (same command line): one restart. */
    struct fake g;
    if (fake_start(&g, args) != 0) {
        CHECK(!"fake_mtproxy restarted");
    } else {
        for (int i = 0; i < 2; i++) {
            mm_snapshot_reset(&snap);
            mm_process_gather(&st, 0, &snap, &log);
            CHECK_INT_EQ(mm_process_master_pid(&st), g.master);
            CHECK_INT_EQ(ival(&snap, "processes", "all"), 3);
            CHECK_INT_EQ(ival(&snap, "restarts", "master"), 1);
        }
        CHECK(strstr(cap.last[MM_LOG_INFO], "the command line of the master seen last") != NULL);
        kill_wait_gone(g.workers, g.n_workers);
        kill(g.master, SIGKILL);
        waitpid(g.master, NULL, 0);
    }
    kill_wait_gone(f.workers, f.n_workers);
    mm_process_state_free(&st);
    mm_snapshot_free(&snap);
}

/* A test-held listener: a stats port nobody else can take meanwhile. */
static int hold_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Another proxy by the same name, run by another user and serving its
 * stats elsewhere, is never taken; this instance's (its -p is the URL's
 * port) is, also after it dropped privileges. */
static void test_decoy_other_user(void)
{
    if (geteuid() != 0) {
        printf("#   skipped: not root, cannot start a decoy as another user\n");
        return;
    }
    int ours_port, other_port;
    int fd1 = hold_port(&ours_port), fd2 = hold_port(&other_port);
    CHECK(fd1 >= 0 && fd2 >= 0);
    char p1[16], p2[16];
    snprintf(p1, sizeof(p1), "%d", ours_port);
    snprintf(p2, sizeof(p2), "%d", other_port);
    const char *decoy_args[] = {"-w", "1", "-p", p2, "-u", "nobody", "-n", uniq, NULL};
    const char *ours_args[] = {"-w", "2", "-p", p1, "-u", "nobody", "-n", uniq, NULL};
    struct fake decoy, ours;
    if (fake_start(&decoy, decoy_args) != 0) {
        CHECK(!"decoy started");
        goto out;
    }
    if (fake_start(&ours, ours_args) != 0) {
        CHECK(!"fake_mtproxy started");
        fake_stop(&decoy);
        goto out;
    }
    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    CHECK(init_state_port(&st, NULL, uniq, NULL, ours_port, &cap, &log) == 0);
    for (int i = 0; i < 3; i++) {
        mm_snapshot_reset(&snap);
        mm_process_gather(&st, 0, &snap, &log);
        CHECK_INT_EQ(mm_process_master_pid(&st), ours.master);
        CHECK_INT_EQ(ival(&snap, "processes", "all"), 3);
    }
    CHECK_INT_EQ(cap.count[MM_LOG_WARNING] - (geteuid() == 0 ? 0 : 1), 0);
    /* Ours stops: the decoy, alive and named alike, is not its successor. */
    fake_stop(&ours);
    for (int i = 0; i < 2; i++) {
        mm_snapshot_reset(&snap);
        mm_process_gather(&st, 0, &snap, &log);
        CHECK_INT_EQ(mm_process_master_pid(&st), 0);
        CHECK_INT_EQ(ival(&snap, "processes", "all"), 0);
    }
    CHECK_INT_EQ(ival(&snap, "restarts", "master"), 0);
    mm_process_state_free(&st);
    mm_snapshot_free(&snap);
    fake_stop(&decoy);
out:
    if (fd1 >= 0)
        close(fd1);
    if (fd2 >= 0)
        close(fd2);
}

/* Each implementation's default identity, and the mtprotoproxy command-line
 * pattern on real-looking command lines. */
static void test_identity_table(void)
{
    CHECK(mm_proxy_identity_for(NULL) == NULL);
    CHECK(mm_proxy_identity_for("mtproxy") == NULL);      /* built-in mtproto-proxy */
    CHECK(mm_proxy_identity_for("mtproto.zig") == NULL);  /* its binary is mtproto-proxy */
    const char *comms[][2] = {{"mtg", "mtg"}, {"telemt", "telemt"}, {"teleproxy", "teleproxy"}};
    for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
        const struct mm_proxy_identity *id = mm_proxy_identity_for(comms[i][0]);
        CHECK(id && id->comm && strcmp(id->comm, comms[i][1]) == 0 && !id->cmdline_re);
    }
    const struct mm_proxy_identity *py = mm_proxy_identity_for("mtprotoproxy");
    CHECK(py && !py->comm && py->cmdline_re);
    regex_t re;
    CHECK(py && regcomp(&re, py->cmdline_re, REG_EXTENDED | REG_NOSUB) == 0);
    CHECK(regexec(&re, "python3 /opt/mtprotoproxy/mtprotoproxy.py config.py", 0, NULL, 0) == 0);
    CHECK(regexec(&re, "/usr/bin/python3 mtprotoproxy.py", 0, NULL, 0) == 0);
    CHECK(regexec(&re, "vim mtprotoproxy.py.orig", 0, NULL, 0) != 0);
    CHECK(regexec(&re, "python3 not_mtprotoproxy.py", 0, NULL, 0) != 0);
    regfree(&re);
}

/* No option configured and an mtg page: processes named mtg are looked for,
 * and the one owning the stats port's listening socket is taken though its
 * command line names no port (-p 0), never a look-alike without it. */
static void test_implementation_identity(void)
{
    const char *ours_args[] = {"-w", "1", "-p", "0", "-n", "mtg", NULL};
    const char *decoy_args[] = {"-n", "mtg", NULL};
    struct fake ours, decoy;
    if (fake_start(&decoy, decoy_args) != 0) {
        CHECK(!"decoy started");
        return;
    }
    if (fake_start(&ours, ours_args) != 0) {
        CHECK(!"fake_mtproxy started");
        fake_stop(&decoy);
        return;
    }
    int other_port, held = hold_port(&other_port);
    CHECK(held >= 0);
    struct mm_process_state st, st_other;
    struct capture cap, cap_other;
    struct mm_logger log, log_other;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    CHECK(init_state_port(&st, NULL, NULL, NULL, ours.listen_port, &cap, &log) == 0);
    CHECK(init_state_port(&st_other, NULL, NULL, NULL, other_port, &cap_other, &log_other) == 0);
    /* Before the implementation is known: mtproto-proxy, not found. */
    mm_process_gather(&st, 0, &snap, &log);
    CHECK_INT_EQ(mm_process_master_pid(&st), 0);
    CHECK(mm_process_set_implementation(&st, "mtg", &log) == 0);
    CHECK(mm_process_set_implementation(&st_other, "mtg", &log_other) == 0);
    for (int i = 0; i < 2; i++) {
        mm_snapshot_reset(&snap);
        mm_process_gather(&st, 0, &snap, &log);
        CHECK_INT_EQ(mm_process_master_pid(&st), ours.master);
        CHECK_INT_EQ(ival(&snap, "processes", "all"), 2);
        /* Another instance's URL port: neither mtg serves it. */
        mm_snapshot_reset(&snap);
        mm_process_gather(&st_other, 0, &snap, &log_other);
        CHECK_INT_EQ(mm_process_master_pid(&st_other), 0);
        CHECK_INT_EQ(ival(&snap, "processes", "all"), 0);
    }
    mm_process_state_free(&st);
    mm_process_state_free(&st_other);
    mm_snapshot_free(&snap);
    if (held >= 0)
        close(held);
    fake_stop(&ours);
    fake_stop(&decoy);
}

/* The workers' and all's counters do not drop when a worker exits: each
 * process's growth is added as it happens (collectd's processes.c). */
static void test_counters_monotonic(void)
{
    const char *args[] = {"-w", "3", "-K", "-b", "60", "-n", uniq, NULL};
    struct fake f;
    if (fake_start(&f, args) != 0) {
        CHECK(!"fake_mtproxy started");
        return;
    }
    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    CHECK(init_state(&st, NULL, uniq, NULL, &cap, &log) == 0);
    mm_process_gather(&st, f.master, &snap, &log);
    static const char *const names[] = {"cpu_time_user", "cpu_time_system", "minor_faults",
                                        "write_bytes", "voluntary_context_switches"};
    double before[2][5];
    for (int n = 0; n < 5; n++) {
        before[0][n] = dval(&snap, names[n], "workers");
        before[1][n] = dval(&snap, names[n], "all");
    }
    /* What the victim did: a plain sum of the live ones would lose it. */
    struct mm_procfs_stat vs;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", f.workers[0]);
    CHECK(mm_procfs_read_stat(AT_FDCWD, path, &vs) == 0);
    CHECK(vs.utime + vs.stime > 0);
    kill(f.workers[0], SIGKILL);
    for (int tries = 0; tries < 500 && pid_alive(f.workers[0]); tries++)
        usleep(10000);
    mm_snapshot_reset(&snap);
    mm_process_gather(&st, f.master, &snap, &log);
    CHECK_INT_EQ(ival(&snap, "processes", "workers"), 2);
    double live_cpu = 0;
    for (int i = 1; i < f.n_workers; i++) {
        snprintf(path, sizeof(path), "/proc/%d/stat", f.workers[i]);
        if (mm_procfs_read_stat(AT_FDCWD, path, &vs) == 0)
            live_cpu += (double)(vs.utime + vs.stime) / (double)sysconf(_SC_CLK_TCK);
    }
    double now_cpu = dval(&snap, "cpu_time_user", "workers") + dval(&snap, "cpu_time_system", "workers");
    CHECK(now_cpu > live_cpu); /* the exited worker's time is still in */
    for (int n = 0; n < 5; n++) {
        if (n == 3 && geteuid() != 0)
            continue; /* io needs privileges */
        CHECK(dval(&snap, names[n], "workers") >= before[0][n]);
        CHECK(dval(&snap, names[n], "all") >= before[1][n]);
    }
    CHECK(dval(&snap, "write_bytes", "workers") >= 3 * 1048576 || geteuid() != 0);
    mm_process_state_free(&st);
    fake_stop(&f);
    mm_snapshot_free(&snap);
}

/* As user nobody: fd/io of root's processes are unreadable. Everything
 * else is reported, the rest left out, and one warning per state. */
static int unprivileged_child(const struct fake *f)
{
    int failed = 0;
#define CCHECK(cond)                                                                  \
    do {                                                                              \
        if (!(cond)) {                                                                \
            printf("#   %s:%d: (as nobody) check failed: %s\n", __FILE__, __LINE__, #cond); \
            failed = 1;                                                               \
        }                                                                             \
    } while (0)

    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
        printf("#   cannot become nobody: %s\n", strerror(errno));
        return 1;
    }
    /* Linux >= 6.2 gives the count as st_size of /proc/PID/fd to anyone. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)f->master);
    struct stat sb;
    int fd_size_works = stat(path, &sb) == 0 && sb.st_size > 0;
    printf("#   as nobody: st_size of /proc/PID/fd %s\n", fd_size_works ? "works" : "is 0");

    for (int readdir_only = 0; readdir_only < 2; readdir_only++) {
        struct mm_process_state st;
        struct capture cap;
        struct mm_logger log;
        struct mm_snapshot snap;
        mm_snapshot_init(&snap);
        CCHECK(init_state(&st, NULL, uniq, NULL, &cap, &log) == 0);
        st.fd_count_readdir = readdir_only;
        for (int i = 0; i < 3; i++) {
            mm_snapshot_reset(&snap);
            mm_process_gather(&st, f->master, &snap, &log);
        }
        int fds_expected = fd_size_works && !readdir_only;
        CCHECK(ival(&snap, "processes", "all") == 1 + f->n_workers);
        CCHECK(ival(&snap, "num_threads", "all") == (1 + f->n_workers) * f->threads);
        CCHECK(ival(&snap, "memory_rss", "master") > 0);
        CCHECK(ival(&snap, "memory_data", "master") > 0);
        CCHECK(find(&snap, "cpu_time_user", "all") != NULL);
        CCHECK(find(&snap, "voluntary_context_switches", "workers") != NULL);
        CCHECK(find(&snap, "minor_faults", "all") != NULL);
        CCHECK(find(&snap, "fd_limit_soft", "master") != NULL);
        CCHECK(find(&snap, "created_at", "master") != NULL);
        CCHECK(find(&snap, "restarts", "master") != NULL);
        CCHECK(find(&snap, "read_bytes", "master") == NULL);
        CCHECK(find(&snap, "write_count", "all") == NULL);
        CCHECK((find(&snap, "num_fds", "all") != NULL) == fds_expected);
        CCHECK((find(&snap, "fd_usage_percent", "master") != NULL) == fds_expected);
        if (fds_expected)
            CCHECK(ival(&snap, "num_fds", "all") == f->fds_master + f->n_workers * f->fds_worker);
        CCHECK(cap.count[MM_LOG_WARNING] == 1);
        const char *w = cap.last[MM_LOG_WARNING];
        CCHECK(strstr(w, "read_bytes") && strstr(w, "CAP_SYS_PTRACE") && strstr(w, "CAP_DAC_READ_SEARCH"));
        CCHECK((strstr(w, "num_fds") != NULL) == !fds_expected);
        mm_process_state_free(&st);
        mm_snapshot_free(&snap);
    }
    return failed;
#undef CCHECK
}

static void test_unprivileged(void)
{
    if (geteuid() != 0) {
        printf("#   skipped: not root, cannot switch to nobody\n");
        return;
    }
    struct fake f;
    const char *args[] = {"-w", "2", "-t", "2", "-f", "3", "-s", "0", "-n", uniq, NULL};
    if (fake_start(&f, args) != 0) {
        CHECK(!"fake_mtproxy started");
        return;
    }
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        int failed = unprivileged_child(&f);
        fflush(stdout);
        _exit(failed ? 1 : 0);
    }
    int status = 0;
    CHECK(child > 0 && waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fake_stop(&f);
}

/* A pid that is gone is reported as such, not as an error. */
static void test_vanished(void)
{
    fflush(stdout);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    char *buf = malloc(65536);
    DIR *proc = opendir("/proc");
    CHECK(buf && proc);
    if (buf && proc) {
        struct mm_proc_sample s;
        CHECK_INT_EQ(mm_proc_sample_read(dirfd(proc), dead, MM_PROC_FD_SIZE, buf, 65536, &s), -ESRCH);
        CHECK_INT_EQ(mm_proc_sample_read(dirfd(proc), getpid(), MM_PROC_FD_SIZE, buf, 65536, &s), 0);
        CHECK_INT_EQ(s.stat.pid, getpid());
        CHECK(s.have_status && s.have_limits);
        /* Both ways of counting agree, except that listing our own fd
         * directory also lists the descriptor open on it. */
        int64_t by_size = s.num_fds;
        CHECK_INT_EQ(mm_proc_sample_read(dirfd(proc), getpid(), 0, buf, 65536, &s), 0);
        CHECK_INT_EQ(s.num_fds, by_size + 1);
    }
    if (proc)
        closedir(proc);
    free(buf);
}

/* Gather time for a master and 8 workers (informational). */
static void test_timing(void)
{
    struct fake f;
    const char *args[] = {"-w", "8", "-t", "4", "-f", "16", "-s", "0", "-n", uniq, NULL};
    if (fake_start(&f, args) != 0) {
        CHECK(!"fake_mtproxy started");
        return;
    }
    struct mm_process_state st;
    struct capture cap;
    struct mm_logger log;
    struct mm_snapshot snap;
    mm_snapshot_init(&snap);
    char re[64];
    snprintf(re, sizeof(re), "^%s ", uniq);
    static const char *const modes[] = {"hint", "name match", "regex match"};
    for (int mode = 0; mode < 3; mode++) {
        CHECK(init_state(&st, NULL, mode < 2 ? uniq : NULL, mode == 2 ? re : NULL, &cap, &log) == 0);
        const int rounds = 200;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < rounds; i++) {
            mm_snapshot_reset(&snap);
            mm_process_gather(&st, mode == 0 ? f.master : 0, &snap, &log);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        CHECK_INT_EQ(ival(&snap, "processes", "all"), 9);
        double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / rounds;
        DIR *d = opendir("/proc");
        int procs = 0;
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL)
            procs += e->d_name[0] >= '1' && e->d_name[0] <= '9';
        if (d)
            closedir(d);
        printf("#   gather, master + 8 workers, by %s: %.0f us (%d processes on the host)\n",
               modes[mode], us, procs);
        mm_process_state_free(&st);
    }
    fake_stop(&f);
    mm_snapshot_free(&snap);
}

/* ---- main -------------------------------------------------------------- */

static void find_paths(void)
{
    char exe[PATH_MAX - 64]; /* room for the suffixes below */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(fake_path, sizeof(fake_path), "%s/../tools/fake_mtproxy", exe);
    /* build/tests/ -> the source tree, else relative to the working dir. */
    char cand[PATH_MAX];
    snprintf(cand, sizeof(cand), "%s/../../tests/fixtures/proc-M2", exe);
    if (access(cand, F_OK) != 0)
        snprintf(cand, sizeof(cand), "tests/fixtures/proc-M2");
    if (access(cand, F_OK) == 0)
        snprintf(fixture_root, sizeof(fixture_root), "%s", cand);
}

int main(void)
{
    find_paths();
    snprintf(uniq, sizeof(uniq), "mmtp%d", (int)getpid() % 10000000);

    TEST(test_parse_stat);
    TEST(test_parse_status_limits_io);
    TEST(test_fixture_tree);
    TEST(test_bad_config);
    TEST(test_proxy_cmdline);
    TEST(test_vanished);
    if (access(fake_path, X_OK) != 0) {
        printf("#   %s missing: build it with `make tools`\n", fake_path);
        TEST(test_counts); /* fails visibly */
        return check_done();
    }
    TEST(test_counts);
    TEST(test_stale_hint);
    TEST(test_no_process);
    TEST(test_restart);
    TEST(test_ambiguous);
    TEST(test_fifo_pidfile);
    TEST(test_orphans);
    TEST(test_decoy_other_user);
    TEST(test_identity_table);
    TEST(test_implementation_identity);
    TEST(test_counters_monotonic);
    TEST(test_unprivileged);
    TEST(test_timing);
    return check_done();
}
