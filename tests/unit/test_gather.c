/* test_gather.c — mm_instance_gather over fake parts (gather/part.h): the
 * order of the parts, what each sees of the ones before it, the last
 * implementation kept while the page is down, events from the master,
 * cancellation, and a part whose init fails. */
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gather/instance.h"
#include "gather/part.h"

/* What the fakes saw, and what the page fake should say next. */
static struct {
    int page_up;
    char page_impl[32];
    int64_t page_pid, page_start;
    int master_pid;
    int64_t master_restarts; /* the process part counts master changes */
    char seen_impl[32];
    int64_t seen_pid_hint;
    size_t seen_n_pids;
    int order[8], n_order;
    int inits, frees, fail_init_of;
    int cancel_write_fd; /* the page fake makes the cancel descriptor readable */
} fake;

static int fake_init(void **state, const struct mm_instance_config *cfg, const struct mm_logger *log)
{
    (void)cfg;
    (void)log;
    fake.inits++;
    if (fake.inits == fake.fail_init_of)
        return -1;
    *state = &fake;
    return 0;
}

static void fake_free(void *state)
{
    CHECK(state == &fake);
    fake.frees++;
}

static void fake_page(void *state, struct mm_gather_ctx *ctx)
{
    (void)state;
    fake.order[fake.n_order++] = 1;
    ctx->up = fake.page_up;
    if (fake.page_up) {
        snprintf(ctx->facts.implementation, sizeof(ctx->facts.implementation), "%s", fake.page_impl);
        ctx->facts.pid = fake.page_pid;
        ctx->facts.start_time = fake.page_start;
    } else {
        snprintf(ctx->down_reason, sizeof(ctx->down_reason), "refused");
    }
    mm_snapshot_add_int(ctx->snap, MM_ORIGIN_HEALTH, MM_GAUGE, "up", ctx->up);
    if (fake.cancel_write_fd >= 0)
        CHECK(write(fake.cancel_write_fd, "x", 1) == 1);
}

static void fake_process(void *state, struct mm_gather_ctx *ctx)
{
    (void)state;
    fake.order[fake.n_order++] = 2;
    snprintf(fake.seen_impl, sizeof(fake.seen_impl), "%s", ctx->implementation);
    fake.seen_pid_hint = ctx->facts.pid;
    ctx->master = (struct mm_master_identity){ 1, fake.master_pid, fake.master_restarts };
    ctx->pids[0] = fake.master_pid;
    ctx->pids[1] = fake.master_pid + 1;
    ctx->n_pids = 2;
    mm_snapshot_add_int(ctx->snap, MM_ORIGIN_PROCESS, MM_GAUGE, "processes", 2, "role", "all");
}

static void fake_sockets(void *state, struct mm_gather_ctx *ctx)
{
    (void)state;
    fake.order[fake.n_order++] = 3;
    fake.seen_n_pids = ctx->n_pids;
    mm_snapshot_add_int(ctx->snap, MM_ORIGIN_CONNECTIONS, MM_GAUGE, "established", 7, "side", "client");
}

static const struct mm_part_ops page = { "page", fake_init, fake_page, fake_free };
static const struct mm_part_ops process = { "process", fake_init, fake_process, fake_free };
static const struct mm_part_ops sockets = { "sockets", fake_init, fake_sockets, fake_free };
static const struct mm_part_ops *const all_parts[] = { &page, &process, &sockets };

static void reset_fake(void)
{
    memset(&fake, 0, sizeof(fake));
    fake.page_up = 1;
    snprintf(fake.page_impl, sizeof(fake.page_impl), "teleproxy");
    fake.page_pid = 40;
    fake.master_pid = 40;
    fake.cancel_write_fd = -1;
}

static int start(struct mm_instance *inst, size_t n_parts)
{
    struct mm_instance_config cfg;
    mm_instance_config_defaults(&cfg);
    return mm_instance_init_parts(inst, &cfg, NULL, all_parts, n_parts);
}

static void parts_run_in_order_over_one_context(void)
{
    reset_fake();
    struct mm_instance inst;
    CHECK_INT_EQ(start(&inst, 3), 0);
    mm_instance_gather(&inst);
    CHECK_INT_EQ(fake.n_order, 3);
    CHECK_INT_EQ(fake.order[0], 1);
    CHECK_INT_EQ(fake.order[1], 2);
    CHECK_INT_EQ(fake.order[2], 3);
    CHECK(strcmp(fake.seen_impl, "teleproxy") == 0); /* the page of this very gather */
    CHECK_INT_EQ(fake.seen_pid_hint, 40);
    CHECK_INT_EQ(fake.seen_n_pids, 2);
    CHECK_INT_EQ(inst.facts.pid, 40);
    const struct mm_metric *m = mm_snapshot_find(&inst.snap, MM_ORIGIN_CONNECTIONS, "established");
    CHECK(m && m->value.i == 7);
    CHECK(mm_snapshot_find(&inst.snap, MM_ORIGIN_PROCESS, "processes") != NULL);
    mm_instance_free(&inst);
    CHECK_INT_EQ(fake.frees, 3);
}

static void a_page_that_is_down_forgets_no_implementation(void)
{
    reset_fake();
    struct mm_instance inst;
    CHECK_INT_EQ(start(&inst, 3), 0);
    mm_instance_gather(&inst);
    fake.page_up = 0;
    mm_instance_gather(&inst);
    CHECK(strcmp(fake.seen_impl, "teleproxy") == 0);
    CHECK_INT_EQ(fake.seen_pid_hint, 0); /* nothing of a page that is down is a hint */
    CHECK_INT_EQ(mm_events_find(&inst.events, MM_EVENT_DOWN) != NULL, 1);
    mm_instance_free(&inst);
}

static void a_new_master_without_start_time_is_a_restart(void)
{
    reset_fake();
    struct mm_instance inst;
    CHECK_INT_EQ(start(&inst, 3), 0);
    mm_instance_gather(&inst);
    CHECK(mm_events_find(&inst.events, MM_EVENT_RESTART) == NULL);
    fake.master_pid = 77;
    fake.master_restarts = 1;
    fake.page_pid = 77;
    mm_instance_gather(&inst);
    const struct mm_event *e = mm_events_find(&inst.events, MM_EVENT_RESTART);
    CHECK(e != NULL);
    CHECK(e && strstr(e->message, "40 -> 77") != NULL);
    mm_instance_free(&inst);
}

static void a_cancelled_gather_runs_no_further_part(void)
{
    reset_fake();
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    struct mm_instance inst;
    CHECK_INT_EQ(start(&inst, 3), 0);
    inst.cancel_fd = pipefd[0];
    fake.cancel_write_fd = pipefd[1];
    mm_instance_gather(&inst);
    CHECK_INT_EQ(fake.n_order, 1);
    CHECK(mm_snapshot_find(&inst.snap, MM_ORIGIN_HEALTH, "up") != NULL);
    mm_instance_free(&inst);
    close(pipefd[0]);
    close(pipefd[1]);
}

static void a_part_whose_init_fails_fails_the_instance_and_frees_the_others(void)
{
    reset_fake();
    fake.fail_init_of = 2; /* the process part */
    struct mm_instance inst;
    CHECK_INT_EQ(start(&inst, 3), -1);
    CHECK_INT_EQ(fake.inits, 2);
    mm_instance_free(&inst);
    CHECK_INT_EQ(fake.frees, 1); /* the page part only: the failed one freed itself */
}

static void the_default_parts_follow_the_collect_options(void)
{
    struct mm_instance_config cfg;
    mm_instance_config_defaults(&cfg);
    cfg.collect_process = false;
    cfg.collect_sockets = false;
    struct mm_instance inst;
    CHECK_INT_EQ(mm_instance_init(&inst, &cfg, NULL), 0);
    CHECK_INT_EQ(inst.n_parts, 1);
    CHECK(inst.n_parts == 1 && inst.parts[0] == &mm_page_part);
    mm_instance_free(&inst);
    mm_instance_config_defaults(&cfg);
    CHECK_INT_EQ(mm_instance_init(&inst, &cfg, NULL), 0);
    CHECK_INT_EQ(inst.n_parts, 3);
    CHECK(inst.n_parts == 3 && inst.parts[1] == &mm_process_part && inst.parts[2] == &mm_sockets_part);
    mm_instance_free(&inst);
}

int main(void)
{
    TEST(parts_run_in_order_over_one_context);
    TEST(a_page_that_is_down_forgets_no_implementation);
    TEST(a_new_master_without_start_time_is_a_restart);
    TEST(a_cancelled_gather_runs_no_further_part);
    TEST(a_part_whose_init_fails_fails_the_instance_and_frees_the_others);
    TEST(the_default_parts_follow_the_collect_options);
    return check_done();
}
