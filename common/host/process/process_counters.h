/* process_counters.h — group counters that never drop when a process exits.
 *
 * The workers and all roles sum counters (CPU time, I/O, faults, context
 * switches) over processes that come and go; a plain sum of the live ones
 * drops when a worker exits. As collectd's processes plugin does, each
 * process's counters are remembered by (pid, start time) and every gather
 * adds what each process did since the last one (its whole counters the
 * first time it is seen) to a per-role total that only grows. Internal to
 * the core: the public API is process.h. */
#ifndef MM_PROCESS_COUNTERS_H
#define MM_PROCESS_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "host/process/process_stats.h"

enum { MM_COUNTER_ROLE_WORKERS, MM_COUNTER_ROLE_ALL, MM_COUNTER_ROLES };

struct mm_counter_values {
    uint64_t utime, stime, minflt, majflt;
    uint64_t ctx_voluntary, ctx_involuntary; /* when status was read */
    uint64_t rchar, wchar, syscr, syscw;     /* when io was read */
};

struct mm_counter_proc; /* one process's last values (process_counters.c) */

struct mm_group_counters {
    struct mm_counter_proc *prev, *cur; /* sorted by pid after end() */
    size_t n_prev, n_cur, cap;
    struct mm_counter_values total[MM_COUNTER_ROLES];
    int failed; /* out of memory: totals fall back to plain sums this gather */
};

void mm_group_counters_init(struct mm_group_counters *g);
void mm_group_counters_free(struct mm_group_counters *g);
/* A gather: begin (room for n processes), add every process read (worker
 * or master; at most n), end. */
void mm_group_counters_begin(struct mm_group_counters *g, size_t n);
void mm_group_counters_add(struct mm_group_counters *g, const struct mm_proc_sample *s, int worker);
void mm_group_counters_end(struct mm_group_counters *g);
/* Replaces the counters of a role's sums with the role's monotonic totals
 * (fields the role is missing this gather are left alone: not emitted). */
void mm_group_counters_apply(const struct mm_group_counters *g, int role, struct mm_proc_totals *t);

#endif
