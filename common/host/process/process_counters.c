/* process_counters.c — per-process deltas into monotonic role totals (see
 * process_counters.h). */
#include "host/process/process_counters.h"

#include <stdlib.h>
#include <string.h>

struct mm_counter_proc {
    int pid;
    uint64_t start;
    int have_status, have_io;
    struct mm_counter_values v;
};

void mm_group_counters_init(struct mm_group_counters *g)
{
    memset(g, 0, sizeof(*g));
}

void mm_group_counters_free(struct mm_group_counters *g)
{
    free(g->prev);
    free(g->cur);
    mm_group_counters_init(g);
}

void mm_group_counters_begin(struct mm_group_counters *g, size_t n)
{
    g->n_cur = 0;
    g->failed = 0;
    if (n <= g->cap)
        return;
    /* Room for every process up front: failing half-way would add some
     * processes' deltas twice next time. */
    struct mm_counter_proc *a = realloc(g->cur, n * sizeof(*a));
    if (a)
        g->cur = a;
    struct mm_counter_proc *b = a ? realloc(g->prev, n * sizeof(*b)) : NULL;
    if (b)
        g->prev = b;
    if (!a || !b) {
        g->failed = 1;
        return;
    }
    g->cap = n;
}

static int by_pid(const void *a, const void *b)
{
    const struct mm_counter_proc *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Growth of a counter; a counter going back (it never should for one
 * process) adds nothing. */
static uint64_t delta(uint64_t now, uint64_t then)
{
    return now >= then ? now - then : 0;
}

static void add_to(struct mm_counter_values *t, const struct mm_counter_values *now,
                   const struct mm_counter_values *then, int status, int io)
{
    t->utime += delta(now->utime, then->utime);
    t->stime += delta(now->stime, then->stime);
    t->minflt += delta(now->minflt, then->minflt);
    t->majflt += delta(now->majflt, then->majflt);
    if (status) {
        t->ctx_voluntary += delta(now->ctx_voluntary, then->ctx_voluntary);
        t->ctx_involuntary += delta(now->ctx_involuntary, then->ctx_involuntary);
    }
    if (io) {
        t->rchar += delta(now->rchar, then->rchar);
        t->wchar += delta(now->wchar, then->wchar);
        t->syscr += delta(now->syscr, then->syscr);
        t->syscw += delta(now->syscw, then->syscw);
    }
}

void mm_group_counters_add(struct mm_group_counters *g, const struct mm_proc_sample *s, int worker)
{
    if (g->failed || g->n_cur == g->cap)
        return;
    struct mm_counter_proc now = {s->stat.pid, s->stat.starttime, s->have_status, s->io_err == 0,
                                  {s->stat.utime, s->stat.stime, s->stat.minflt, s->stat.majflt,
                                   s->ctx_voluntary, s->ctx_involuntary, s->rchar, s->wchar,
                                   s->syscr, s->syscw}};
    struct mm_counter_proc zero = {0};
    const struct mm_counter_proc *then =
        g->n_prev ? bsearch(&now, g->prev, g->n_prev, sizeof(now), by_pid) : NULL;
    if (!then || then->start != now.start)
        then = &zero; /* first seen: all it did so far counts */
    /* A file unreadable last time: its values then are unknown, so the
     * remembered ones stay until it is read again. */
    struct mm_counter_values base = then->v;
    if (!then->have_status)
        base.ctx_voluntary = base.ctx_involuntary = 0;
    if (!then->have_io)
        base.rchar = base.wchar = base.syscr = base.syscw = 0;
    if (worker)
        add_to(&g->total[MM_COUNTER_ROLE_WORKERS], &now.v, &base, now.have_status, now.have_io);
    add_to(&g->total[MM_COUNTER_ROLE_ALL], &now.v, &base, now.have_status, now.have_io);
    if (!now.have_status) {
        now.v.ctx_voluntary = base.ctx_voluntary;
        now.v.ctx_involuntary = base.ctx_involuntary;
        now.have_status = then->have_status;
    }
    if (!now.have_io) {
        now.v.rchar = base.rchar;
        now.v.wchar = base.wchar;
        now.v.syscr = base.syscr;
        now.v.syscw = base.syscw;
        now.have_io = then->have_io;
    }
    g->cur[g->n_cur++] = now;
}

void mm_group_counters_end(struct mm_group_counters *g)
{
    if (g->failed)
        return; /* keep the previous gather's values as the base */
    if (g->n_cur > 1)
        qsort(g->cur, g->n_cur, sizeof(*g->cur), by_pid);
    struct mm_counter_proc *t = g->prev;
    g->prev = g->cur;
    g->cur = t;
    g->n_prev = g->n_cur;
    g->n_cur = 0;
}

void mm_group_counters_apply(const struct mm_group_counters *g, int role, struct mm_proc_totals *t)
{
    if (g->failed || role < 0 || role >= MM_COUNTER_ROLES)
        return;
    const struct mm_counter_values *v = &g->total[role];
    t->utime = v->utime;
    t->stime = v->stime;
    t->minflt = v->minflt;
    t->majflt = v->majflt;
    t->ctx_voluntary = v->ctx_voluntary;
    t->ctx_involuntary = v->ctx_involuntary;
    t->rchar = v->rchar;
    t->wchar = v->wchar;
    t->syscr = v->syscr;
    t->syscw = v->syscw;
}
