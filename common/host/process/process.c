/* process.c — one gather of the proxy's process metrics: discovery, reading
 * master and workers, restart detection, permission warnings and the
 * metrics per role (see process.h and docs/process-metrics.md). */
#include "host/process/process.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "host/process/process_counters.h"
#include "host/process/process_discovery.h"
#include "host/process/process_stats.h"
#include "host/process/proxy_identity.h"
#include "host/sockets/sockdiag.h"

#define PROCESS_BUF_CAP (64 * 1024) /* /proc/PID/status is ~1.5 KiB; limits, io less */
#define PROC_SUPER_MAGIC_ 0x9fa0    /* linux/magic.h, without the kernel headers */
#define COMM_MAX 15                 /* TASK_COMM_LEN - 1 */

void mm_process_config_free(struct mm_process_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->pidfile);
    free(cfg->process_match_name);
    free(cfg->process_match_regex);
    cfg->pidfile = cfg->process_match_name = cfg->process_match_regex = NULL;
}

void mm_process_state_free(struct mm_process_state *st)
{
    if (!st)
        return;
    free(st->pidfile);
    free(st->match_name);
    if (st->have_match_re)
        regfree(&st->match_re);
    if (st->have_impl_re)
        regfree(&st->impl_re);
    if (st->sockdiag) {
        mm_sockdiag_free(st->sockdiag);
        free(st->sockdiag);
    }
    if (st->disc) {
        mm_discovery_free(st->disc);
        free(st->disc);
    }
    if (st->counters) {
        mm_group_counters_free(st->counters);
        free(st->counters);
    }
    free(st->buf);
    free(st->pids);
    memset(st, 0, sizeof(*st));
}

static int copy_option(char **dst, const char *src, const char *what, const struct mm_logger *log)
{
    if (!src)
        return 0;
    if (!*src) {
        mm_log(log, MM_LOG_ERROR, "process discovery: the %s must not be empty", what);
        return -1;
    }
    *dst = strdup(src);
    if (!*dst) {
        mm_log(log, MM_LOG_ERROR, "process discovery: out of memory");
        return -1;
    }
    return 0;
}

int mm_process_state_init(struct mm_process_state *st, const struct mm_process_config *cfg,
                          const struct mm_logger *log)
{
    memset(st, 0, sizeof(*st));
    st->proc_root = "/proc";
    st->clk_tck = sysconf(_SC_CLK_TCK);
    if (st->clk_tck <= 0)
        st->clk_tck = 100;
    st->page_size = sysconf(_SC_PAGESIZE);
    if (st->page_size <= 0)
        st->page_size = 4096;

    if (cfg) {
        st->stats_port = cfg->stats_port > 0 && cfg->stats_port <= 65535 ? cfg->stats_port : 0;
        if (copy_option(&st->pidfile, cfg->pidfile, "pidfile", log) != 0 ||
            copy_option(&st->match_name, cfg->process_match_name, "process match name", log) != 0)
            goto fail;
        /* comm holds at most 15 characters: a longer name could never match. */
        if (st->match_name && strlen(st->match_name) > COMM_MAX) {
            mm_log(log, MM_LOG_ERROR,
                   "process discovery: process match name '%s' is longer than %d characters, so it "
                   "can never equal a process name (comm); use the command-line regex instead",
                   st->match_name, COMM_MAX);
            goto fail;
        }
        const char *re = cfg->process_match_regex;
        if (re) {
            if (!*re) {
                mm_log(log, MM_LOG_ERROR, "process discovery: the process match regex must not be empty");
                goto fail;
            }
            int rc = regcomp(&st->match_re, re, REG_EXTENDED | REG_NOSUB);
            if (rc != 0) {
                char msg[256];
                regerror(rc, &st->match_re, msg, sizeof(msg));
                mm_log(log, MM_LOG_ERROR, "process discovery: process match regex '%s' is invalid: %s",
                       re, msg);
                goto fail;
            }
            st->have_match_re = 1;
        }
    }

    st->disc = calloc(1, sizeof(*st->disc));
    st->counters = calloc(1, sizeof(*st->counters));
    st->buf_cap = PROCESS_BUF_CAP;
    st->buf = malloc(st->buf_cap);
    st->pids_cap = 1 + MM_PROCESS_MAX_WORKERS;
    st->pids = malloc(st->pids_cap * sizeof(*st->pids));
    if (!st->disc || !st->counters || !st->buf || !st->pids) {
        mm_log(log, MM_LOG_ERROR, "process discovery: out of memory");
        goto fail;
    }
    mm_discovery_init(st->disc);
    mm_group_counters_init(st->counters);
    return 0;

fail:
    mm_process_state_free(st);
    return -1;
}

int mm_process_set_implementation(struct mm_process_state *st, const char *implementation,
                                  const struct mm_logger *log)
{
    if (st->pidfile || st->match_name || st->have_match_re)
        return 0; /* the user's identity wins */
    const struct mm_proxy_identity *id = mm_proxy_identity_for(implementation);
    if (id == st->impl_id)
        return 0;
    regex_t re;
    if (id && id->cmdline_re) {
        int rc = regcomp(&re, id->cmdline_re, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) { /* the table's patterns are valid: only ENOMEM */
            mm_log(log, MM_LOG_ERROR, "process discovery: out of memory");
            return -1;
        }
    }
    if (st->have_impl_re)
        regfree(&st->impl_re);
    st->have_impl_re = id && id->cmdline_re;
    if (st->have_impl_re)
        st->impl_re = re;
    st->impl_id = id;
    if (id && id->comm)
        mm_log(log, MM_LOG_INFO, "process discovery: the page is %s's, looking for processes named '%s'",
               id->implementation, id->comm);
    else if (id)
        mm_log(log, MM_LOG_INFO, "process discovery: the page is %s's, looking for processes whose "
               "command line matches %s", id->implementation, id->cmdline_re);
    return 0;
}

struct listeners {
    uint32_t *inodes;
    size_t n, max;
};

static int collect_listener(void *ctx, const struct mm_sock *s)
{
    struct listeners *l = ctx;
    if (s->inode && l->n < l->max)
        l->inodes[l->n++] = s->inode;
    return 0;
}

/* The inodes of the sockets listening on the stats port (sock_diag walks
 * only the listening hash): who owns one serves this instance's page.
 * Returns how many (0: none, or the table was unreadable). */
static size_t stats_listeners(struct mm_process_state *st, uint32_t *inodes, size_t max,
                              const struct mm_logger *log)
{
    if (!st->sockdiag) {
        st->sockdiag = malloc(sizeof(*st->sockdiag));
        if (!st->sockdiag)
            return 0;
        if (mm_sockdiag_init(st->sockdiag) != 0) {
            free(st->sockdiag);
            st->sockdiag = NULL;
            return 0;
        }
    }
    struct mm_sockdiag_query q = {
        .local_ports = {(uint16_t)st->stats_port},
        .n_local_ports = 1,
        .states = 1u << MM_TCP_LISTEN,
    };
    struct listeners l = {inodes, 0, max};
    if (mm_sockdiag_dump(st->sockdiag, &q, collect_listener, &l, NULL, log) < 0)
        return 0;
    return l.n;
}

/* ---- emitting ---------------------------------------------------------- */

struct emitter {
    struct mm_snapshot *out;
    const char *role;
    int failed;
};

static void put_int(struct emitter *e, enum mm_kind kind, const char *name, int64_t v)
{
    if (!mm_snapshot_add_int(e->out, MM_ORIGIN_PROCESS, kind, name, v, "role", e->role))
        e->failed = 1;
}

static void put_double(struct emitter *e, enum mm_kind kind, const char *name, double v)
{
    if (!mm_snapshot_add_double(e->out, MM_ORIGIN_PROCESS, kind, name, v, "role", e->role))
        e->failed = 1;
}

static int64_t clamp64(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Time base of one gather: boot_epoch is what the kernel reports as btime
 * (realtime minus boottime), unrounded; since_boot is CLOCK_BOOTTIME, the
 * clock stat's starttime counts in. */
struct timebase {
    double boot_epoch;
    int64_t boot_epoch_ns; /* the same in integer nanoseconds (created_at) */
    double since_boot;
};

static void emit_role(const struct mm_process_state *st, struct emitter *e,
                      const struct mm_proc_totals *t, const struct timebase *tb)
{
    put_int(e, MM_GAUGE, "processes", t->processes);
    if (t->processes == 0)
        return;
    double hz = (double)st->clk_tck;
    put_int(e, MM_GAUGE, "num_threads", t->threads);
    put_double(e, MM_COUNTER, "cpu_time_user", (double)t->utime / hz);
    put_double(e, MM_COUNTER, "cpu_time_system", (double)t->stime / hz);
    put_int(e, MM_GAUGE, "memory_rss", t->rss_pages * (int64_t)st->page_size);
    put_int(e, MM_GAUGE, "memory_vms", clamp64(t->vsize));
    if (!t->status_missing)
        put_int(e, MM_GAUGE, "memory_data", t->vm_data);
    if (!t->fd_missing)
        put_int(e, MM_GAUGE, "num_fds", t->num_fds);
    if (!t->limits_missing) {
        if (t->fd_soft != MM_PROC_UNLIMITED)
            put_int(e, MM_GAUGE, "fd_limit_soft", t->fd_soft);
        if (t->fd_hard != MM_PROC_UNLIMITED)
            put_int(e, MM_GAUGE, "fd_limit_hard", t->fd_hard);
        if (!t->fd_missing && t->fd_usage_max >= 0)
            put_double(e, MM_GAUGE, "fd_usage_percent", t->fd_usage_max);
    }
    if (!t->io_missing) {
        put_int(e, MM_COUNTER, "read_bytes", clamp64(t->rchar));
        put_int(e, MM_COUNTER, "write_bytes", clamp64(t->wchar));
        put_int(e, MM_COUNTER, "read_count", clamp64(t->syscr));
        put_int(e, MM_COUNTER, "write_count", clamp64(t->syscw));
    }
    if (!t->status_missing) {
        put_int(e, MM_COUNTER, "voluntary_context_switches", clamp64(t->ctx_voluntary));
        put_int(e, MM_COUNTER, "involuntary_context_switches", clamp64(t->ctx_involuntary));
    }
    put_int(e, MM_COUNTER, "minor_faults", clamp64(t->minflt));
    put_int(e, MM_COUNTER, "major_faults", clamp64(t->majflt));
    double start = (double)t->start_max / hz;
    /* Nanoseconds, like procstat's created_at; integer arithmetic, as a
     * double holds only ~16 digits of the ~19 of a unix time in ns. */
    int64_t tick_ns = 1000000000 / (st->clk_tck > 0 ? st->clk_tck : 100);
    put_int(e, MM_GAUGE, "created_at", tb->boot_epoch_ns + (int64_t)t->start_max * tick_ns);
    double up = tb->since_boot - start;
    put_int(e, MM_GAUGE, "uptime_seconds", up > 0 ? (int64_t)floor(up) : 0);
}

static void emit_all_roles(struct mm_process_state *st, struct mm_snapshot *out,
                           const struct mm_proc_totals *master, const struct mm_proc_totals *workers,
                           const struct mm_proc_totals *all, const struct timebase *tb,
                           const struct mm_logger *log)
{
    struct emitter e = {out, "master", 0};
    emit_role(st, &e, master, tb);
    put_int(&e, MM_COUNTER, "restarts", st->restarts);
    e.role = "workers";
    emit_role(st, &e, workers, tb);
    e.role = "all";
    emit_role(st, &e, all, tb);
    if (e.failed)
        mm_latch_fail(&st->emit_latch, log, MM_LOG_ERROR,
                      "process metrics: out of memory, some metrics were dropped");
    else
        mm_latch_ok(&st->emit_latch, log, "process metrics");
}

/* ---- gathering --------------------------------------------------------- */

static double ts_seconds(const struct timespec *t)
{
    return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static int on_procfs(int fd)
{
    struct statfs sfs;
    return fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC_;
}

static int is_permission(int err)
{
    return err == EACCES || err == EPERM;
}

/* One warning per state and file kind: the condition lasts as long as the
 * agent's privileges, repeating it every interval would only be noise. */
static void warn_unreadable(struct mm_process_state *st, int fd_err, int fd_pid, int io_err,
                            int io_pid, const struct mm_logger *log)
{
    int want_fd = fd_err && !st->warned_fd;
    int want_io = io_err && !st->warned_io;
    if (!want_fd && !want_io)
        return;
    char what[160] = "", metrics[200] = "", e1[96], e2[96];
    if (want_fd)
        snprintf(what, sizeof(what), "/proc/%d/fd (%s)", fd_pid,
                 mm_procfs_strerror(fd_err, e1, sizeof(e1)));
    if (want_io) {
        size_t len = strlen(what);
        snprintf(what + len, sizeof(what) - len, "%s/proc/%d/io (%s)", len ? " and " : "", io_pid,
                 mm_procfs_strerror(io_err, e2, sizeof(e2)));
    }
    snprintf(metrics, sizeof(metrics), "%s%s%s", want_fd ? "num_fds, fd_usage_percent" : "",
             want_fd && want_io ? ", " : "",
             want_io ? "read_bytes, write_bytes, read_count, write_count" : "");
    const char *remedy = "";
    if ((want_fd && is_permission(fd_err)) || (want_io && is_permission(io_err))) {
        if (want_io && is_permission(io_err))
            remedy = "; run the agent as root or grant it CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE "
                     "(e.g. AmbientCapabilities= in its systemd unit)";
        else
            remedy = "; run the agent as root or grant it CAP_DAC_READ_SEARCH "
                     "(e.g. AmbientCapabilities= in its systemd unit)";
    }
    mm_log(log, MM_LOG_WARNING, "process metrics: cannot read %s, so %s are not reported%s", what,
           metrics, remedy);
    if (want_fd)
        st->warned_fd = 1;
    if (want_io)
        st->warned_io = 1;
}

static void emit_none(struct mm_process_state *st, struct mm_snapshot *out,
                      const struct timebase *tb, const struct mm_logger *log)
{
    struct mm_proc_totals none;
    mm_proc_totals_init(&none);
    emit_all_roles(st, out, &none, &none, &none, tb, log);
}

/* Counts a restart when the master differs from the one seen last. */
static void track_restart(struct mm_process_state *st, const struct mm_procfs_stat *m,
                          size_t n_workers, const char *how, const struct mm_logger *log)
{
    if (!st->have_prev) {
        mm_log(log, MM_LOG_INFO, "MTProxy master is pid %d (found by %s), %zu worker(s)", m->pid,
               how, n_workers);
    } else if (st->prev_pid != m->pid || st->prev_start_ticks != m->starttime) {
        st->restarts++;
        mm_log(log, MM_LOG_INFO, "MTProxy restarted: master pid %d is now pid %d (found by %s), %zu worker(s)",
               st->prev_pid, m->pid, how, n_workers);
    }
    st->have_prev = 1;
    st->prev_pid = m->pid;
    st->prev_start_ticks = m->starttime;
}

void mm_process_gather(struct mm_process_state *st, int64_t pid_hint, struct mm_snapshot *out,
                       const struct mm_logger *log)
{
    struct timespec real, boot;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    struct timebase tb = {ts_seconds(&real) - ts_seconds(&boot),
                          ((int64_t)real.tv_sec - (int64_t)boot.tv_sec) * 1000000000 +
                              ((int64_t)real.tv_nsec - (int64_t)boot.tv_nsec),
                          ts_seconds(&boot)};

    st->master_pid = 0;
    st->master_start_time = 0;
    st->source = MM_PROCESS_SOURCE_NONE;
    st->n_pids = 0;
    if (!st->buf || !st->disc) { /* init failed or never ran: report nothing found */
        emit_none(st, out, &tb, log);
        return;
    }

    DIR *proc = opendir(st->proc_root);
    if (!proc) {
        char err[96];
        mm_latch_fail(&st->none_latch, log, MM_LOG_ERROR, "process metrics: cannot read %s: %s",
                      st->proc_root, mm_procfs_strerror(errno, err, sizeof(err)));
        emit_none(st, out, &tb, log);
        return;
    }
    int rootfd = dirfd(proc);
    int real_proc = on_procfs(rootfd);
    unsigned flags = (!st->fd_count_readdir && real_proc ? MM_PROC_FD_SIZE : 0) |
                     (real_proc ? MM_PROC_PRLIMIT : 0);

    struct mm_proc_match match = {st->match_name, st->have_match_re ? &st->match_re : NULL};
    if (!st->match_name && !st->have_match_re && st->impl_id)
        match = (struct mm_proc_match){st->impl_id->comm, st->have_impl_re ? &st->impl_re : NULL};
    struct mm_discovery_input in = {
        .match = &match,
        .match_configured = st->match_name != NULL || st->have_match_re,
        .pid_hint = pid_hint,
        .pidfile = st->pidfile,
        .stats_port = st->stats_port,
        .self = (int)getpid(),
        .now_ticks = (uint64_t)(tb.since_boot * (double)st->clk_tck),
    };
    /* Steady state: the known master is read once, here, and its start
     * time proves it is still the same process. */
    struct mm_proc_sample s;
    uint64_t known_start = 0;
    int known = mm_discovery_known(st->disc, &known_start);
    int have_sample = 0;
    if (known && (pid_hint == 0 || pid_hint == known) &&
        mm_proc_sample_read(rootfd, known, flags, st->buf, st->buf_cap, &s) == 0 &&
        s.stat.starttime == known_start && s.stat.state != 'Z' && s.stat.state != 'X') {
        in.verified_master = known;
        have_sample = 1;
    }
    /* Before the first master: who listens on the stats port tells this
     * instance's proxy from a look-alike when its command line names no
     * port (mtg, telemt: a config file). */
    uint32_t inodes[16];
    if (!known && !in.match_configured && !st->pidfile && st->stats_port) {
        in.listen_inodes = inodes;
        in.n_listen_inodes = stats_listeners(st, inodes, sizeof(inodes) / sizeof(inodes[0]), log);
    }
    struct mm_discovery_result res;
    mm_discover(st->disc, proc, &in, st->buf, st->buf_cap, &res);
    if (res.lost)
        mm_log(log, MM_LOG_WARNING,
               "MTProxy master pid %d is gone; its processes count as 0 until the stats page, the "
               "pidfile or a process with its command line shows the next master",
               res.lost_pid);

    int rc = !res.master ? -ESRCH
             : have_sample && res.master == known
                 ? 0
                 : mm_proc_sample_read(rootfd, res.master, flags, st->buf, st->buf_cap, &s);
    if (rc != 0) {
        closedir(proc);
        if (res.master) {
            char err[96];
            mm_latch_fail(&st->none_latch, log, MM_LOG_WARNING,
                          "no MTProxy process found: master pid %d %s", res.master,
                          rc == -ESRCH ? "exited during the gather"
                                       : mm_procfs_strerror(-rc, err, sizeof(err)));
        } else {
            mm_latch_fail(&st->none_latch, log, MM_LOG_WARNING, "no MTProxy process found: %s",
                          res.why);
        }
        emit_none(st, out, &tb, log);
        return;
    }
    mm_latch_ok(&st->none_latch, log, "MTProxy process discovery");

    if (res.workers_dropped)
        mm_latch_fail(&st->workers_latch, log, MM_LOG_WARNING,
                      "process discovery: master pid %d has more than %d children; only %d are counted",
                      res.master, MM_PROCESS_MAX_WORKERS, MM_PROCESS_MAX_WORKERS);
    else
        mm_latch_ok(&st->workers_latch, log, "worker count");

    st->source = res.source;
    st->master_pid = res.master;
    st->master_start_time =
        (int64_t)floor(tb.boot_epoch + (double)s.stat.starttime / (double)st->clk_tck);
    track_restart(st, &s.stat, res.n_workers, res.how, log);

    struct mm_proc_totals master, workers, all;
    mm_proc_totals_init(&master);
    mm_proc_totals_init(&workers);
    mm_proc_totals_init(&all);
    mm_proc_totals_add(&master, &s);
    mm_proc_totals_add(&all, &s);
    mm_group_counters_begin(st->counters, 1 + res.n_workers);
    mm_group_counters_add(st->counters, &s, 0);
    st->pids[st->n_pids++] = res.master;
    int fd_err = s.fd_err, fd_pid = res.master, io_err = s.io_err, io_pid = res.master;

    for (size_t i = 0; i < res.n_workers && st->n_pids < st->pids_cap; i++) {
        int pid = res.workers[i];
        if (mm_proc_sample_read(rootfd, pid, flags, st->buf, st->buf_cap, &s) != 0)
            continue; /* exited since it was listed: not an error */
        if (s.stat.ppid != res.master)
            continue; /* the pid was recycled meanwhile */
        mm_proc_totals_add(&workers, &s);
        mm_proc_totals_add(&all, &s);
        mm_group_counters_add(st->counters, &s, 1);
        st->pids[st->n_pids++] = pid;
        if (s.fd_err && !fd_err) {
            fd_err = s.fd_err;
            fd_pid = pid;
        }
        if (s.io_err && !io_err) {
            io_err = s.io_err;
            io_pid = pid;
        }
    }
    closedir(proc);
    mm_group_counters_end(st->counters);
    mm_group_counters_apply(st->counters, MM_COUNTER_ROLE_WORKERS, &workers);
    mm_group_counters_apply(st->counters, MM_COUNTER_ROLE_ALL, &all);

    warn_unreadable(st, fd_err, fd_pid, io_err, io_pid, log);
    emit_all_roles(st, out, &master, &workers, &all, &tb, log);
}

size_t mm_process_pids(const struct mm_process_state *st, int *pids, size_t max)
{
    size_t n = st->n_pids < max ? st->n_pids : max;
    if (n)
        memcpy(pids, st->pids, n * sizeof(*pids));
    return n;
}

int mm_process_master_pid(const struct mm_process_state *st)
{
    return st->master_pid;
}

int64_t mm_process_master_start_time(const struct mm_process_state *st)
{
    return st->master_start_time;
}

enum mm_process_source mm_process_source(const struct mm_process_state *st)
{
    return st->source;
}

const char *mm_process_source_name(enum mm_process_source source)
{
    switch (source) {
    case MM_PROCESS_SOURCE_HINT: return "the stats page's pid";
    case MM_PROCESS_SOURCE_PIDFILE: return "the pidfile";
    case MM_PROCESS_SOURCE_MATCH: return "a scan of /proc";
    case MM_PROCESS_SOURCE_LAST_SEEN: return "the master seen last";
    case MM_PROCESS_SOURCE_NONE: break;
    }
    return "nothing";
}

int64_t mm_process_restarts(const struct mm_process_state *st)
{
    return st->restarts;
}

int mm_process_master_cmdline(const struct mm_process_state *st, struct mm_proxy_cmdline *out)
{
    memset(out, 0, sizeof(*out));
    if (!st->disc || !st->master_pid || st->disc->id.pid != st->master_pid)
        return -1;
    *out = st->disc->id.ports;
    return 0;
}
