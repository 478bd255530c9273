/* main.c — mtproxy-telegraf: the Telegraf execd front.
 *
 * Telegraf's execd input runs us in one of its signal modes:
 *   "STDIN"   it writes "\n" every interval: one gather per newline;
 *   "SIGHUP", "SIGUSR1", "SIGUSR2": one gather per signal (in any mode);
 *   "none"    we gather on our own schedule: --interval DURATION.
 * Triggers that queue up while a gather runs or while stdout is stalled
 * (several newlines, a signal and a newline, an interval that came due) are
 * coalesced into one gather. stdin EOF is Telegraf's graceful stop: we exit 0
 * after at most the gather in progress (newlines read with the EOF are not
 * gathered). SIGTERM/SIGINT end us with status 0 within a moment in every
 * state, a libcurl transfer in flight included. A closed stdout (EPIPE) ends
 * us with status 1 and one E! line. Logs go to stderr with Telegraf's level
 * prefixes "E! ", "W! ", "I! ". We start no child processes.
 *
 * Nothing blocks: the handled signals are blocked from the first line of
 * main() and read from signalfds, so one poll() waits for stdin, stdout,
 * signals and the schedule; stdout and stderr are non-blocking (a stalled
 * reader keeps at most one batch waiting, see stdout_writer.h); the stats
 * fetch watches the stop signalfd and aborts the moment it is readable. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "gather/instance.h"
#include "outputs/check_output.h"
#include "transport/http_fetch.h"
#include "outputs/json_output.h"
#include "outputs/line_protocol.h"
#include "options.h"
#include "outputs/text_output.h"
#include "stdout_writer.h"

/* A batch not fully taken by the reader for this long is reported (once). */
#define STALL_WARNING_S 10.0
/* After stdin EOF, how long a batch still waiting may take to drain. */
#define EOF_DRAIN_S 1.0
/* stdin bytes read per wake-up at most (a flood cannot starve the rest). */
#define STDIN_BURST 65536

/* First thing in main(): Telegraf may signal us as soon as we exist, and the
 * default action of SIGHUP/SIGUSR1/SIGUSR2 kills. Blocked, they wait for the
 * signalfds. */
static void block_signals(sigset_t *stop, sigset_t *trigger)
{
    sigemptyset(stop);
    sigaddset(stop, SIGTERM);
    sigaddset(stop, SIGINT);
    sigemptyset(trigger);
    sigaddset(trigger, SIGHUP);
    sigaddset(trigger, SIGUSR1);
    sigaddset(trigger, SIGUSR2);
    sigset_t all = *stop;
    sigaddset(&all, SIGHUP);
    sigaddset(&all, SIGUSR1);
    sigaddset(&all, SIGUSR2);
    sigprocmask(SIG_BLOCK, &all, NULL);
    /* A closed stdout must end us through EPIPE, not kill us silently. */
    signal(SIGPIPE, SIG_IGN);
}

/* The logger's context: the instance name for the prefix, and the last error
 * (--check puts it in its status line: Nagios shows stdout, not stderr). */
struct front_log {
    char name[64];
    char last_error[256];
};

/* stderr is non-blocking too (see main): a log line the reader does not
 * take within a moment is dropped rather than hang the loop. Lines are
 * shorter than PIPE_BUF, so a pipe takes each whole or not at all. */
static void log_to_stderr(void *ctx, enum mm_log_level level, const char *message)
{
    static const char prefix[] = { 'E', 'W', 'I', 'D' };
    struct front_log *fl = ctx;
    if (level == MM_LOG_ERROR)
        snprintf(fl->last_error, sizeof(fl->last_error), "%s", message);
    char line[1200];
    int n = snprintf(line, sizeof(line), "%c! [mtproxy %s] %s\n", prefix[level], fl->name, message);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    size_t off = 0;
    for (int tries = 0; off < len && tries < 5;) {
        ssize_t w = write(STDERR_FILENO, line + off, len - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = { .fd = STDERR_FILENO, .events = POLLOUT };
            poll(&pfd, 1, 20);
            tries++;
        } else if (!(w < 0 && errno == EINTR)) {
            return;
        }
    }
}

static void log_events(struct mm_instance *inst)
{
    /* down / up again are logged by the scrape itself (cannot read ... /
     * recovered); restarts and reloads are news */
    for (size_t i = 0; i < inst->events.count; i++) {
        const struct mm_event *e = &inst->events.list[i];
        if (e->kind == MM_EVENT_RESTART || e->kind == MM_EVENT_RELOAD)
            mm_log(&inst->log, MM_LOG_INFO, "proxy %s", e->message);
    }
}

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool readable(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP));
}

struct loop {
    struct mm_instance *inst;
    const struct execd_options *opts;
    int stop_fd, trigger_fd;
    struct execd_writer out;
    bool wanted;    /* a gather is due (coalesced triggers) */
    bool triggered; /* any trigger seen: no idle warning */
    bool eof;
    double stall_since; /* when the pending batch was taken, 0 = nothing pending */
    bool stall_warned;
    bool collision_noted; /* label sets written alike: said once per run */
};

/* One gather, serialized in memory and handed to the writer. -1 (logged)
 * when stdout is gone or memory is out. */
static int gather(struct loop *lp)
{
    struct mm_instance *inst = lp->inst;
    mm_instance_gather(inst);
    if (readable(lp->stop_fd))
        return 0; /* stopping: the loop returns next */
    log_events(inst);
    char *data = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&data, &len);
    if (!mem) {
        mm_log(&inst->log, MM_LOG_ERROR, "cannot buffer the output: %s; exiting", strerror(errno));
        return -1;
    }
    int rc;
    switch (lp->opts->format) {
    case FORMAT_JSON:
        rc = mm_json_write_snapshot(mem, &inst->snap, inst->cfg.name, inst->gathered_at_ns);
        break;
    case FORMAT_TEXT:
        rc = mm_text_write_snapshot(mem, &inst->snap, inst->cfg.name, inst->gathered_at_ns);
        break;
    default: {
        char note[512];
        rc = mm_lp_write_snapshot_noting(mem, &inst->snap, inst->cfg.name, inst->gathered_at_ns, note,
                                         sizeof(note));
        if (note[0] && !lp->collision_noted) {
            lp->collision_noted = true;
            mm_log(&inst->log, MM_LOG_WARNING, "%s (said once)", note);
        }
        break;
    }
    }
    if (fclose(mem) != 0 || rc < 0) {
        free(data);
        mm_log(&inst->log, MM_LOG_ERROR, "cannot buffer the output; exiting");
        return -1;
    }
    if (execd_writer_take(&lp->out, data, len) != 0) {
        mm_log(&inst->log, MM_LOG_ERROR, "writing stdout: %s; exiting", strerror(errno));
        return -1;
    }
    if (execd_writer_pending(&lp->out)) {
        lp->stall_since = monotonic_s();
    }
    return 0;
}

/* Reads what stdin holds now (a newline = a gather wanted); sets eof. */
static int drain_stdin(struct loop *lp)
{
    char buf[4096];
    size_t total = 0;
    do {
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n == 0) {
            lp->eof = true;
            return 0;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                return 0;
            mm_log(&lp->inst->log, MM_LOG_ERROR, "reading stdin: %s", strerror(errno));
            return -1;
        }
        if (memchr(buf, '\n', (size_t)n)) {
            lp->wanted = true;
            lp->triggered = true;
        }
        total += (size_t)n;
    } while (total < STDIN_BURST && readable(STDIN_FILENO));
    return 0;
}

static void drain_signalfd(int fd)
{
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
}

static int ms_until(double deadline, double now)
{
    double left = deadline - now;
    if (left <= 0)
        return 0;
    return left > 86400.0 ? 86400000 : (int)(left * 1000.0) + 1;
}

static int min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* The loop of every mode (--once included): returns the exit status. */
static int run_loop(struct loop *lp)
{
    const struct execd_options *opts = lp->opts;
    const struct mm_logger *log = &lp->inst->log;
    double started = monotonic_s();
    double next_due = started; /* --interval: the first gather at once */
    double eof_at = 0;
    bool once_done = false;
    lp->wanted = opts->once;
    for (;;) {
        double now = monotonic_s();
        bool pending = execd_writer_pending(&lp->out);
        if (opts->once && once_done && !pending)
            return 0;
        if (lp->eof) {
            if (!pending)
                return 0;
            if (now - eof_at >= EOF_DRAIN_S) {
                mm_log(log, MM_LOG_WARNING, "stdin closed and stdout not read for %.0f s; exiting with %zu "
                       "bytes unwritten", EOF_DRAIN_S, lp->out.len - lp->out.off);
                return 0;
            }
        }
        if (opts->interval_s > 0 && now >= next_due) {
            lp->wanted = true;
            next_due += opts->interval_s;
            if (next_due <= now) /* fell behind (a slow gather): no burst */
                next_due = now + opts->interval_s;
        }
        if (pending && !lp->stall_warned && now - lp->stall_since >= STALL_WARNING_S) {
            mm_log(log, MM_LOG_WARNING, "stdout has not been read for %.0f s (%zu bytes waiting); gathers "
                   "wait for the reader and requests meanwhile count as one", STALL_WARNING_S,
                   lp->out.len - lp->out.off);
            lp->stall_warned = true;
        }
        if (!opts->once && opts->interval_s <= 0 && !lp->triggered && opts->idle_warning_s > 0 &&
            now - started >= opts->idle_warning_s) {
            mm_log(log, MM_LOG_WARNING, "no gather requested in %g s: run with signal = \"STDIN\" in "
                   "Telegraf's [[inputs.execd]] (or a signal such as \"SIGUSR1\"), or give --interval for "
                   "signal = \"none\" (--idle-warning sets this delay)", opts->idle_warning_s);
            lp->triggered = true; /* once */
        }
        if (lp->wanted && !pending && !lp->eof && !once_done) {
            /* Everything already queued is read first, so it counts as this gather. */
            struct pollfd q[2] = { { .fd = lp->trigger_fd, .events = POLLIN },
                                   { .fd = STDIN_FILENO, .events = POLLIN } };
            if (poll(q, opts->once ? 1 : 2, 0) > 0) {
                if (q[0].revents & POLLIN)
                    drain_signalfd(lp->trigger_fd);
                if (!opts->once && (q[1].revents & (POLLIN | POLLHUP)) && drain_stdin(lp) != 0)
                    return 1;
                if (lp->eof) {
                    eof_at = now;
                    continue;
                }
            }
            if (readable(lp->stop_fd))
                return 0;
            lp->wanted = false;
            once_done = opts->once;
            if (gather(lp) != 0)
                return 1;
            continue;
        }

        int timeout = -1;
        if (opts->interval_s > 0)
            timeout = ms_until(next_due, now);
        if (pending && !lp->stall_warned)
            timeout = min_timeout(timeout, ms_until(lp->stall_since + STALL_WARNING_S, now));
        if (lp->eof)
            timeout = min_timeout(timeout, ms_until(eof_at + EOF_DRAIN_S, now));
        if (!opts->once && opts->interval_s <= 0 && !lp->triggered && opts->idle_warning_s > 0)
            timeout = min_timeout(timeout, ms_until(started + opts->idle_warning_s, now));

        struct pollfd pfd[4] = {
            { .fd = lp->stop_fd, .events = POLLIN },
            { .fd = lp->trigger_fd, .events = POLLIN },
            { .fd = pending ? STDOUT_FILENO : -1, .events = POLLOUT },
            { .fd = (opts->once || lp->eof) ? -1 : STDIN_FILENO, .events = POLLIN },
        };
        int rc = poll(pfd, 4, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            mm_log(log, MM_LOG_ERROR, "poll: %s", strerror(errno));
            return 1;
        }
        if (pfd[0].revents)
            return 0;
        if (pfd[1].revents & POLLIN) {
            drain_signalfd(lp->trigger_fd);
            lp->wanted = true;
            lp->triggered = true;
        }
        if (pfd[2].revents) {
            if (execd_writer_flush(&lp->out) != 0) {
                mm_log(log, MM_LOG_ERROR, "writing stdout: %s; exiting", strerror(errno));
                return 1;
            }
            if (!execd_writer_pending(&lp->out)) {
                if (lp->stall_warned)
                    mm_log(log, MM_LOG_INFO, "stdout is read again");
                lp->stall_warned = false;
            }
        }
        if (pfd[3].revents & POLLNVAL) {
            mm_log(log, MM_LOG_INFO, "stdin is closed; exiting");
            return 0;
        }
        if (pfd[3].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (drain_stdin(lp) != 0)
                return 1;
            if (lp->eof)
                eof_at = monotonic_s();
        }
    }
}

/* Non-blocking stderr, restored at exit (a terminal is shared with the shell). */
static int nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    return flags;
}

/* Descriptors 0-2 closed by a daemon wrapper, cron or an init script get /dev/null before anything
 * else opens a descriptor: otherwise the signalfd becomes "stdin", or the state file's lock file
 * "stderr" and collects the log. A closed stdin then reads as EOF (Telegraf's stop), a closed
 * stdout or stderr discards what is written. 0, or -1 when /dev/null cannot be opened. */
static int reserve_stdio(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY); /* the lowest free: fd */
        if (got != fd) {
            if (got >= 0)
                close(got);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (reserve_stdio() != 0)
        return 1; /* nowhere to say it: stderr is what could not be opened */
    sigset_t stop_set, trigger_set;
    block_signals(&stop_set, &trigger_set);
    struct execd_options opts;
    int rc = execd_parse_options(argc, argv, &opts);
    if (rc != 0) {
        execd_options_free(&opts);
        if (rc != 1 && execd_wants_check(argc, argv)) {
            printf("MTPROXY UNKNOWN - bad command line (the reason is on stderr)\n");
            return MM_CHECK_UNKNOWN;
        }
        return rc == 1 ? 0 : 2;
    }
    int stop_fd = signalfd(-1, &stop_set, SFD_NONBLOCK | SFD_CLOEXEC);
    int trigger_fd = signalfd(-1, &trigger_set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (stop_fd < 0 || trigger_fd < 0) {
        fprintf(stderr, "E! mtproxy-telegraf: signalfd: %s\n", strerror(errno));
        if (stop_fd >= 0)
            close(stop_fd);
        if (trigger_fd >= 0)
            close(trigger_fd);
        execd_options_free(&opts);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "E! mtproxy-telegraf: curl_global_init failed\n");
        close(stop_fd);
        close(trigger_fd);
        execd_options_free(&opts);
        return 1;
    }

    struct mm_instance inst;
    struct front_log flog = { .last_error = "" };
    snprintf(flog.name, sizeof(flog.name), "%s", opts.core.name ? opts.core.name : MM_DEFAULT_INSTANCE);
    struct mm_logger log = { log_to_stderr, &flog };
    int status = 1;
    if (mm_instance_init(&inst, &opts.core, &log) != 0) { /* the reason is logged */
        if (opts.check) {
            printf("MTPROXY UNKNOWN - %s: %s\n", flog.name, flog.last_error[0] ? flog.last_error : "cannot start");
            status = MM_CHECK_UNKNOWN;
        }
    } else if (opts.check && mm_http_curl_parses(inst.cfg.url, flog.last_error, sizeof(flog.last_error)) == -1) {
        /* README: a bad command line is UNKNOWN, and a URL libcurl refuses is one (issue 25) */
        fprintf(stderr, "E! mtproxy-telegraf: invalid value for --url: %s\n", flog.last_error);
        printf("MTPROXY UNKNOWN - bad command line (the reason is on stderr)\n");
        status = MM_CHECK_UNKNOWN;
    } else if (opts.check) {
        /* one gather judged; the exit status is the check's (monitoring-plugins) */
        inst.cancel_fd = stop_fd;
        flog.last_error[0] = '\0';
        mm_instance_gather(&inst);
        status = (int)mm_check_write(stdout, &inst.snap, inst.cfg.name, &opts.limits, flog.last_error);
    } else {
        inst.cancel_fd = stop_fd;
        struct loop lp = { .inst = &inst, .opts = &opts, .stop_fd = stop_fd, .trigger_fd = trigger_fd };
        int stderr_flags = nonblocking(STDERR_FILENO);
        if (execd_writer_open(&lp.out, STDOUT_FILENO) != 0)
            mm_log(&inst.log, MM_LOG_ERROR, "stdout: %s", strerror(errno));
        else
            status = run_loop(&lp);
        execd_writer_close(&lp.out);
        if (stderr_flags >= 0 && !(stderr_flags & O_NONBLOCK))
            fcntl(STDERR_FILENO, F_SETFL, stderr_flags);
    }
    mm_instance_free(&inst);
    execd_options_free(&opts);
    curl_global_cleanup();
    close(stop_fd);
    close(trigger_fd);
    return status;
}
