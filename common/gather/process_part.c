/* process_part.c — the proxy's processes as a part of a gather (part.h):
 * finds the master (PidFile, the page's pid, a match on the implementation's
 * identity), samples it and its workers, and hands the pids and the master's
 * command line to the parts after it. */
#include "gather/part.h"

#include <stdlib.h>

#include "gather/instance.h"
#include "host/process/process.h"

static int process_init(void **state, const struct mm_instance_config *cfg, const struct mm_logger *log)
{
    struct mm_process_state *st = malloc(sizeof(*st));
    if (!st) {
        mm_log(log, MM_LOG_ERROR, "process: out of memory");
        return -1;
    }
    if (mm_process_state_init(st, &cfg->process, log) != 0) {
        free(st);
        return -1;
    }
    *state = st;
    return 0;
}

static void process_free(void *state)
{
    if (!state)
        return;
    mm_process_state_free(state);
    free(state);
}

static void process_gather(void *state, struct mm_gather_ctx *ctx)
{
    struct mm_process_state *st = state;
    /* Known after the first page read: its processes' default names. */
    mm_process_set_implementation(st, ctx->implementation, ctx->log);
    /* A proxy whose page is down may still run; its pid, when the page
     * gave one, is a hint. */
    mm_process_gather(st, ctx->facts.pid, ctx->snap, ctx->log);
    ctx->master = (struct mm_master_identity){ 1, mm_process_master_pid(st), mm_process_restarts(st) };
    ctx->n_pids = mm_process_pids(st, ctx->pids, MM_GATHER_MAX_PIDS);
    /* Readable by any user, unlike a privilege-dropping proxy's fds. */
    ctx->have_cmdline = mm_process_master_cmdline(st, &ctx->cmdline) == 0;
}

const struct mm_part_ops mm_process_part = { "process", process_init, process_gather, process_free };
