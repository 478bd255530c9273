/* part.h — one part of a gather (the page, the processes, the sockets) and
 * the context the parts of one gather share.
 *
 * Like redis' rio.h, a part is a struct of functions with private state; the
 * contract, once for all of them:
 *   init(&state, cfg, log)  0, or -1 after logging why through log. The state
 *       is the part's own and lives as long as the instance.
 *   gather(state, ctx)  appends its metrics to ctx->snap and fills the fields
 *       of ctx it owns (below); it reads what earlier parts filled. A part
 *       never fails the gather: what it cannot read it logs (once, through a
 *       latch) and reports as a metric.
 *   free(state)  releases what init made.
 * The instance runs its parts in order: page, process, sockets. */
#ifndef MM_GATHER_PART_H
#define MM_GATHER_PART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/events.h"
#include "core/facts.h"
#include "core/log.h"
#include "core/metric.h"
#include "core/redact.h"
#include "host/process/proxy_cmdline.h"

struct mm_instance_config;

#define MM_GATHER_MAX_PIDS 256

struct mm_gather_ctx {
    /* set by the instance */
    struct mm_snapshot *snap;
    const struct mm_logger *log;          /* redacting */
    const struct mm_redactor *redactor;   /* for text that leaves through a metric or an event */
    int cancel_fd;                        /* readable = the front is stopping; -1 = none */
    int stats_port;                       /* the URL's port: never a client port */
    const char *implementation;           /* this page's, else the last one detected ("" = none yet) */

    /* the page part's */
    int up;                               /* the page was read */
    struct mm_source_facts facts;         /* what it said of the proxy; zero when down */
    char down_reason[MM_LATCH_MESSAGE_MAX];

    /* the process part's */
    struct mm_master_identity master;     /* known = 0 without a process part */
    int pids[MM_GATHER_MAX_PIDS];         /* master first, then workers */
    size_t n_pids;
    bool have_cmdline;
    struct mm_proxy_cmdline cmdline;      /* the master's command line */
};

struct mm_part_ops {
    const char *name; /* "page", "process", "sockets" */
    int (*init)(void **state, const struct mm_instance_config *cfg, const struct mm_logger *log);
    void (*gather)(void *state, struct mm_gather_ctx *ctx);
    void (*free)(void *state);
};

extern const struct mm_part_ops mm_page_part;
extern const struct mm_part_ops mm_process_part;
extern const struct mm_part_ops mm_sockets_part;

struct mm_instance;
struct mm_sockets_state;
/* The instance's socket state (NULL without a sockets part): the fleet
 * hooks into the client addresses it counts. */
struct mm_sockets_state *mm_sockets_part_state(struct mm_instance *inst);

#endif
