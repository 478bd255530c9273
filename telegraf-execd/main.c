/* main.c — mtproxy-telegraf: the Telegraf execd front.
 *
 * Telegraf's execd input (signal = "STDIN") writes "\n" every interval and
 * closes stdin to stop us: one gather per newline, exit 0 on EOF, stdout
 * flushed after every batch (a pipe is fully buffered otherwise and Telegraf
 * would see nothing for many intervals). Logs go to stderr with Telegraf's
 * level prefixes. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instance.h"
#include "line_protocol.h"
#include "options.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: read() returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* A closed stdout must end us through EPIPE, not kill us silently. */
    signal(SIGPIPE, SIG_IGN);
}

static void log_to_stderr(void *ctx, enum mm_log_level level, const char *message)
{
    static const char prefix[] = { 'E', 'W', 'I', 'D' };
    fprintf(stderr, "%c! [mtproxy %s] %s\n", prefix[level], (const char *)ctx, message);
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

/* One gather and its output; -1 when stdout is gone. */
static int gather_and_print(struct mm_instance *inst)
{
    mm_instance_gather(inst);
    log_events(inst);
    if (mm_lp_write_snapshot(stdout, &inst->snap, inst->cfg.name, inst->gathered_at_ns) < 0)
        return -1;
    return fflush(stdout) == 0 ? 0 : -1;
}

/* Waits for newlines on stdin; returns when stdin closes or a stop signal came. */
static int run_stdin_loop(struct mm_instance *inst)
{
    char buf[256];
    while (!stop_requested) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            mm_log(&inst->log, MM_LOG_ERROR, "reading stdin: %s", strerror(errno));
            return 1;
        }
        for (ssize_t i = 0; i < n && !stop_requested; i++) {
            if (buf[i] != '\n')
                continue;
            if (gather_and_print(inst) != 0) {
                mm_log(&inst->log, MM_LOG_ERROR, "writing stdout: %s", strerror(errno));
                return 1;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    install_signals();
    struct execd_options opts;
    int rc = execd_parse_options(argc, argv, &opts);
    if (rc != 0) {
        execd_options_free(&opts);
        return rc == 1 ? 0 : 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "E! mtproxy-telegraf: curl_global_init failed\n");
        execd_options_free(&opts);
        return 1;
    }

    struct mm_instance inst;
    char instance_name[64];
    snprintf(instance_name, sizeof(instance_name), "%s", opts.core.name ? opts.core.name : MM_DEFAULT_INSTANCE);
    struct mm_logger log = { log_to_stderr, instance_name };
    if (mm_instance_init(&inst, &opts.core, &log) != 0) {
        fprintf(stderr, "E! mtproxy-telegraf: out of memory\n");
        execd_options_free(&opts);
        return 1;
    }

    int status;
    if (opts.once)
        status = gather_and_print(&inst) == 0 ? 0 : 1;
    else
        status = run_stdin_loop(&inst);

    mm_instance_free(&inst);
    execd_options_free(&opts);
    curl_global_cleanup();
    return status;
}
