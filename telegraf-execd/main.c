/* main.c — mtproxy-telegraf: the Telegraf execd front.
 *
 * Telegraf's execd input runs us in one of its signal modes:
 *   "STDIN"   it writes "\n" every interval: one gather per newline;
 *   "SIGHUP", "SIGUSR1", "SIGUSR2": one gather per signal (in any mode);
 *   "none"    we gather on our own schedule: --interval DURATION.
 * In every mode stdin is watched (poll): its EOF is Telegraf's graceful stop
 * and ends us with status 0 at once; SIGTERM/SIGINT end us with status 0 too.
 * A closed stdout (EPIPE) ends us with status 1 and one E! line. stdout is
 * flushed after every batch (a pipe is fully buffered otherwise and Telegraf
 * would see nothing for many intervals). Logs go to stderr with Telegraf's
 * level prefixes "E! ", "W! ", "I! ", "D! ". We start no child processes.
 *
 * Signals are blocked outside ppoll(), so a signal that arrives during a
 * gather is acted on right after it, and none is lost between checking the
 * flags and waiting. */
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/instance.h"
#include "outputs/check_output.h"
#include "outputs/json_output.h"
#include "outputs/line_protocol.h"
#include "options.h"
#include "outputs/text_output.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t gather_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_gather_signal(int sig)
{
    (void)sig;
    gather_requested = 1;
}

static const int stop_signals[] = { SIGTERM, SIGINT };
static const int gather_signals[] = { SIGHUP, SIGUSR1, SIGUSR2 };

/* First thing in main(): the default action of SIGHUP/SIGUSR1/SIGUSR2 kills,
 * and Telegraf may signal us as soon as we exist. Fills *wait_mask with the
 * mask to use while waiting (the handled signals unblocked). */
static void install_signals(sigset_t *wait_mask)
{
    sigset_t handled;
    sigemptyset(&handled);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigfillset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART */
    for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
        sigaction(stop_signals[i], &sa, NULL);
        sigaddset(&handled, stop_signals[i]);
    }
    sa.sa_handler = on_gather_signal;
    for (size_t i = 0; i < sizeof(gather_signals) / sizeof(gather_signals[0]); i++) {
        sigaction(gather_signals[i], &sa, NULL);
        sigaddset(&handled, gather_signals[i]);
    }
    /* A closed stdout must end us through EPIPE, not kill us silently. */
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_BLOCK, &handled, wait_mask);
    for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
        sigdelset(wait_mask, stop_signals[i]);
    for (size_t i = 0; i < sizeof(gather_signals) / sizeof(gather_signals[0]); i++)
        sigdelset(wait_mask, gather_signals[i]);
}

/* The logger's context: the instance name for the prefix, and the last error
 * (--check puts it in its status line: Nagios shows stdout, not stderr). */
struct front_log {
    char name[64];
    char last_error[256];
};

static void log_to_stderr(void *ctx, enum mm_log_level level, const char *message)
{
    static const char prefix[] = { 'E', 'W', 'I', 'D' };
    struct front_log *fl = ctx;
    if (level == MM_LOG_ERROR)
        snprintf(fl->last_error, sizeof(fl->last_error), "%s", message);
    fprintf(stderr, "%c! [mtproxy %s] %s\n", prefix[level], fl->name, message);
    fflush(stderr);
}

static void log_events(struct mm_instance *inst)
{
    const struct mm_events *ev = &inst->events;
    if (ev->restarted)
        mm_log(&inst->log, MM_LOG_INFO, "proxy restarted (start_time %lld -> %lld)",
               (long long)ev->old_start_time, (long long)ev->new_start_time);
    if (ev->reloaded)
        mm_log(&inst->log, MM_LOG_INFO, "proxy configuration reloaded (config_md5 %s -> %s)",
               ev->old_config_md5, ev->new_config_md5);
}

/* One gather and its output; -1 (logged) when stdout is gone. */
static int gather_and_print(struct mm_instance *inst, enum execd_format format)
{
    mm_instance_gather(inst);
    log_events(inst);
    int rc;
    switch (format) {
    case FORMAT_JSON:
        rc = mm_json_write_snapshot(stdout, &inst->snap, inst->cfg.name, inst->gathered_at_ns);
        break;
    case FORMAT_TEXT:
        rc = mm_text_write_snapshot(stdout, &inst->snap, inst->cfg.name, inst->gathered_at_ns);
        break;
    default:
        rc = mm_lp_write_snapshot(stdout, &inst->snap, inst->cfg.name, inst->gathered_at_ns);
        break;
    }
    if (fflush(stdout) != 0 || rc < 0 || ferror(stdout)) {
        mm_log(&inst->log, MM_LOG_ERROR, "writing stdout: %s; exiting",
               errno ? strerror(errno) : "write error");
        return -1;
    }
    return 0;
}

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for newlines, signals and the interval until stdin closes or a stop
 * signal comes. Returns the exit status. */
static int run_loop(struct mm_instance *inst, const struct execd_options *opts, const sigset_t *wait_mask)
{
    double next_due = opts->interval_s > 0 ? monotonic_s() : 0; /* "none": gather at once */
    char buf[512];
    for (;;) {
        if (stop_requested)
            return 0;
        if (gather_requested) {
            gather_requested = 0;
            if (gather_and_print(inst, opts->format) != 0)
                return 1;
            continue;
        }
        struct timespec timeout, *tp = NULL;
        if (opts->interval_s > 0) {
            double now = monotonic_s();
            if (now >= next_due) {
                next_due += opts->interval_s;
                if (next_due <= now) /* fell behind (a slow gather): no burst */
                    next_due = now + opts->interval_s;
                if (gather_and_print(inst, opts->format) != 0)
                    return 1;
                continue;
            }
            double left = next_due - now;
            timeout.tv_sec = (time_t)left;
            timeout.tv_nsec = (long)((left - (double)timeout.tv_sec) * 1e9);
            tp = &timeout;
        }
        struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
        int rc = ppoll(&pfd, 1, tp, wait_mask);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            mm_log(&inst->log, MM_LOG_ERROR, "waiting on stdin: %s", strerror(errno));
            return 1;
        }
        if (rc == 0)
            continue;
        if (pfd.revents & POLLNVAL) {
            mm_log(&inst->log, MM_LOG_INFO, "stdin is closed; exiting");
            return 0;
        }
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n == 0)
            return 0; /* EOF: Telegraf stops us */
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            mm_log(&inst->log, MM_LOG_ERROR, "reading stdin: %s", strerror(errno));
            return 1;
        }
        for (ssize_t i = 0; i < n && !stop_requested; i++) {
            if (buf[i] == '\n' && gather_and_print(inst, opts->format) != 0)
                return 1;
        }
    }
}

int main(int argc, char **argv)
{
    sigset_t wait_mask;
    install_signals(&wait_mask);
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
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "E! mtproxy-telegraf: curl_global_init failed\n");
        execd_options_free(&opts);
        return 1;
    }

    struct mm_instance inst;
    struct front_log flog = { .last_error = "" };
    snprintf(flog.name, sizeof(flog.name), "%s", opts.core.name ? opts.core.name : MM_DEFAULT_INSTANCE);
    struct mm_logger log = { log_to_stderr, &flog };
    if (mm_instance_init(&inst, &opts.core, &log) != 0) { /* the reason is logged */
        if (opts.check)
            printf("MTPROXY UNKNOWN - %s: %s\n", flog.name, flog.last_error[0] ? flog.last_error : "cannot start");
        mm_instance_free(&inst);
        execd_options_free(&opts);
        curl_global_cleanup();
        return opts.check ? MM_CHECK_UNKNOWN : 1;
    }

    int status;
    if (opts.check) {
        /* one gather judged; the exit status is the check's (monitoring-plugins) */
        flog.last_error[0] = '\0';
        mm_instance_gather(&inst);
        status = (int)mm_check_write(stdout, &inst.snap, inst.cfg.name, &opts.limits, flog.last_error);
    } else if (opts.once)
        status = gather_and_print(&inst, opts.format) == 0 ? 0 : 1;
    else
        status = run_loop(&inst, &opts, &wait_mask);

    mm_instance_free(&inst);
    execd_options_free(&opts);
    curl_global_cleanup();
    return status;
}
