/* sockets_part.c — the kernel's socket table as a part of a gather
 * (part.h): client and upstream connections of the proxy whose pids and
 * command line the process part found, filtered in the kernel to its ports;
 * distinct clients, churn and countries from them. */
#include "gather/part.h"

#include <stdlib.h>

#include "gather/instance.h"
#include "host/sockets/sockets.h"

struct sockets_part {
    const struct mm_instance_config *cfg;
    struct mm_sockets_state st;
};

static int sockets_init(void **state, const struct mm_instance_config *cfg, const struct mm_logger *log)
{
    struct sockets_part *p = malloc(sizeof(*p));
    if (!p || mm_sockets_state_init(&p->st) != 0) {
        free(p);
        mm_log(log, MM_LOG_ERROR, "sockets: out of memory");
        return -1;
    }
    p->cfg = cfg;
    mm_sockets_state_use_file(&p->st, cfg->sockets.state_file, cfg->name, log);
    *state = p;
    return 0;
}

static void sockets_free(void *state)
{
    struct sockets_part *p = state;
    if (!p)
        return;
    mm_sockets_state_free(&p->st);
    free(p);
}

static void sockets_gather(void *state, struct mm_gather_ctx *ctx)
{
    struct sockets_part *p = state;
    struct mm_sockets_proxy proxy = { ctx->pids, ctx->n_pids, ctx->stats_port, NULL, 0 };
    if (ctx->have_cmdline) {
        proxy.cmdline_ports = ctx->cmdline.client_ports;
        proxy.n_cmdline_ports = ctx->cmdline.n_client_ports;
    }
    mm_sockets_gather(&p->st, &p->cfg->sockets, &proxy, ctx->snap, ctx->log);
}

const struct mm_part_ops mm_sockets_part = { "sockets", sockets_init, sockets_gather, sockets_free };

struct mm_sockets_state *mm_sockets_part_state(struct mm_instance *inst)
{
    for (size_t i = 0; i < inst->n_parts; i++)
        if (inst->parts[i] == &mm_sockets_part)
            return &((struct sockets_part *)inst->part_state[i])->st;
    return NULL;
}
