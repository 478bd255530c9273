/* stats_fields.c — the field table of MTProxy's /stats page, generated once
 * from the fixture captures and their README (kinds: C = counter; G and K =
 * gauge; T = text), sorted by strcmp order for bsearch. A future key not
 * listed here is still reported, as a gauge (see stats_parser.c). */
#include "sources/stats_fields.h"

#include <stdlib.h>
#include <string.h>

static const struct mm_stats_field fields[] = {
    { "PID", MM_TEXT, MM_STRING, MM_SHAPE_SCALAR },
    { "accept_calls_failed", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "accept_connection_limit_failed", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "accept_init_accepted_failed", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "accept_nonblock_set_failed", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "accept_rate_limit_failed", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "active_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "active_dh_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "active_inbound_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "active_network_events", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "active_outbound_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "active_rpcs", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "active_rpcs_created", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "active_special_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "active_targets", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "aes_pwd_hash", MM_TEXT, MM_STRING, MM_SHAPE_SCALAR },
    { "allocated_aes_crypto", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "allocated_aes_crypto_temp", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "allocated_buffer_bytes", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "allocated_buffer_chunks", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "allocated_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "allocated_inbound_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "allocated_outbound_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "allocated_socket_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "allocated_targets", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "average_idle_percent", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "buffer_chunk_alloc_ops", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "config_auth_clusters", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "config_filename", MM_TEXT, MM_STRING, MM_SHAPE_SCALAR },
    { "config_loaded_at", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "config_md5", MM_TEXT, MM_STRING, MM_SHAPE_SCALAR },
    { "config_size", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "conn_generation", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "connections_failed_flood", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "connections_failed_lru", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "cur_accept_rate_remaining", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "current_time", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "default_rpc_flags", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "dropped_queries", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "dropped_responses", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "dropped_simple_acks", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "epoll_calls", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "epoll_intr", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "event_timer_alarms", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "event_timer_insert_ops", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "event_timer_remove_ops", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "expired_forwarded_queries", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "ext_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "ext_connections_created", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "free_later_size", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "free_later_total", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "free_targets", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "http_bad_headers", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "http_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "http_qps", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "http_queries", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "inactive_targets", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "inbound_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "inbound_connections_accepted", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "job_timers_allocated", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "jobs_active", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "jobs_allocated_memory", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "jobs_created", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "jobs_running", MM_GAUGE, MM_INT, MM_SHAPE_JOB_CLASSES },
    { "listening_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "load_average_sys", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "load_average_total", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "load_average_user", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "load_recent_sys", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "load_recent_total", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "load_recent_user", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "max_accept_rate", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "max_allocated_buffer_bytes", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "max_allocated_buffer_chunks", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "max_average_sys", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "max_average_total", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "max_average_user", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "max_buffer_chunks", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "max_connection", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "max_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "max_recent_sys", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "max_recent_total", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "max_recent_user", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "max_special_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "mpq_active", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "mpq_allocated", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "mpq_blocks_allocated", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "mpq_blocks_allocated_max", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "mpq_blocks_allocations", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "mpq_blocks_prepared", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "mpq_blocks_true_allocations", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "mpq_blocks_wasted", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "mpq_small_blocks_allocated", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "mpq_small_blocks_allocated_max", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "mtproto_proxy_errors", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "outbound_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "outbound_connections_created", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "pending_http_queries", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "pid", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "proxy_mode", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "proxy_tag_set", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "qps_get", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "queries_get", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "ready_outbound_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "ready_targets", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "recent_idle_percent", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "rpc_answers_error", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "rpc_answers_received", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "rpc_dropped_answers", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "rpc_dropped_running", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "rpc_qps", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "rpc_queries_received", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "rpc_sent_answers", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "rpc_sent_errors", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "rpc_sent_queries", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "rwm_total_msg_parts", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "rwm_total_msgs", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "start_time", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "stats_generate_time", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "tcp_readv_bytes", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "tcp_readv_calls", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "tcp_readv_intr", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "tcp_writev_bytes", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "tcp_writev_calls", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "tcp_writev_intr", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "thread_average_idle_percent", MM_GAUGE, MM_DOUBLE, MM_SHAPE_JOB_CLASSES },
    { "thread_load_average", MM_GAUGE, MM_DOUBLE, MM_SHAPE_JOB_CLASSES },
    { "thread_load_average_sys", MM_GAUGE, MM_DOUBLE, MM_SHAPE_JOB_CLASSES },
    { "thread_load_average_user", MM_GAUGE, MM_DOUBLE, MM_SHAPE_JOB_CLASSES },
    { "thread_load_recent", MM_GAUGE, MM_DOUBLE, MM_SHAPE_JOB_CLASSES },
    { "thread_load_recent_sys", MM_GAUGE, MM_DOUBLE, MM_SHAPE_JOB_CLASSES },
    { "thread_load_recent_user", MM_GAUGE, MM_DOUBLE, MM_SHAPE_JOB_CLASSES },
    { "thread_recent_idle_percent", MM_GAUGE, MM_DOUBLE, MM_SHAPE_JOB_CLASSES },
    { "time_after_epoll", MM_GAUGE, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "timer_ops", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "timer_ops_scheduler", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "tl_in_allocated", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "tl_out_allocated", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "tot_dh_rounds", MM_COUNTER, MM_INT, MM_SHAPE_DH_ROUNDS },
    { "tot_forwarded_queries", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "tot_forwarded_responses", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "tot_forwarded_simple_acks", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "tot_idle_time", MM_COUNTER, MM_DOUBLE, MM_SHAPE_SCALAR },
    { "tot_threads", MM_GAUGE, MM_INT, MM_SHAPE_JOB_CLASSES },
    { "total_accept_connections_failed", MM_COUNTER, MM_INT, MM_SHAPE_ACCEPT_FAIL },
    { "total_active_network_events", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_allocated_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_allocated_inbound_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_allocated_outbound_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_allocated_socket_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_allocated_targets", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_connect_failures", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "total_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_connections_in_rpc_targets", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_declared_targets", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_dh_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_dh_rounds", MM_COUNTER, MM_INT, MM_SHAPE_DH_ROUNDS },
    { "total_encrypted_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_inactive_targets", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_max_special_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_network_buffer_chunks_allocated", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_network_buffer_chunks_allocated_max", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_network_buffers_allocated_bytes", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_network_buffers_used", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_network_buffers_used_size", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_ready_targets", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_rpc_targets", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_special_connections", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_timers", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_used_buffers", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "total_used_buffers_size", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "unused_connections_closed", MM_COUNTER, MM_INT, MM_SHAPE_SCALAR },
    { "uptime", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "version", MM_TEXT, MM_STRING, MM_SHAPE_SCALAR },
    { "vmdata_bytes", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "vmrss_bytes", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "vmsize_bytes", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "window_clamp", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
    { "workers", MM_GAUGE, MM_INT, MM_SHAPE_SCALAR },
};

#define FIELD_COUNT (sizeof(fields) / sizeof(fields[0]))

static int compare_key(const void *key, const void *field)
{
    return strcmp(key, ((const struct mm_stats_field *)field)->key);
}

const struct mm_stats_field *mm_stats_field_find(const char *key)
{
    return bsearch(key, fields, FIELD_COUNT, sizeof(fields[0]), compare_key);
}

size_t mm_stats_field_index(const struct mm_stats_field *field)
{
    return (size_t)(field - fields);
}

size_t mm_stats_field_count(void)
{
    return FIELD_COUNT;
}

const struct mm_stats_field *mm_stats_field_at(size_t index)
{
    return index < FIELD_COUNT ? &fields[index] : NULL;
}

/* MTProxy's job classes (jobs/jobs.h): 1 = IO, 2 = CPU, 3 = main thread; the
 * others have no threads in the official build. */
static const char *const job_class_names[16] = {
    NULL, "io", "cpu", "main", NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* The order MTProxy prints them in (add_stats in mtproto-proxy.c). */
static const char *const accept_fail_names[5] = {
    "init_accepted", "calls", "connection_limit", "rate_limit", "nonblock_set",
};

static const char *const dh_round_names[3] = { "round1", "round2", "round3" };

int mm_stats_shape_width(enum mm_field_shape shape)
{
    switch (shape) {
    case MM_SHAPE_JOB_CLASSES:
        return 16;
    case MM_SHAPE_DH_ROUNDS:
        return 3;
    case MM_SHAPE_ACCEPT_FAIL:
        return 5;
    default:
        return 1;
    }
}

const char *mm_stats_shape_suffix(enum mm_field_shape shape, int i)
{
    if (i < 0 || i >= mm_stats_shape_width(shape))
        return NULL;
    switch (shape) {
    case MM_SHAPE_JOB_CLASSES:
        return job_class_names[i];
    case MM_SHAPE_DH_ROUNDS:
        return dh_round_names[i];
    case MM_SHAPE_ACCEPT_FAIL:
        return accept_fail_names[i];
    default:
        return NULL;
    }
}
