/* clients.h — the client side over time: distinct addresses over 1 h / 24 h /
 * 7 d (distinct_windows.h), per country over 24 h, connections opened and the
 * lifetimes of closed ones (churn.h), kept across agent restarts in the
 * instance's state file (state_file.h).
 *
 * sockets.c calls, per gather: mm_clients_begin(), mm_clients_socket() for
 * every live client socket, mm_clients_peer() for every counted distinct
 * client address (the same ones as unique_ips), mm_clients_end(), then
 * mm_clients_emit():
 *   origin MM_ORIGIN_CLIENTS (line protocol mtproxy_clients):
 *     distinct_ips_1h distinct_ips_24h distinct_ips_7d        gauges
 *     connections_opened                                      counter
 *     lifetime_seconds_bucket{le=1,10,60,300,1800,7200,+Inf}  counters, cumulative
 *     lifetime_seconds_sum lifetime_seconds_count             counters
 *   origin MM_ORIGIN_COUNTRY: distinct_ips_24h per country (top max_countries
 *     by that figure, the rest summed as "other"; never below the country's
 *     live distinct addresses, never above the overall 24 h figure).
 * The state is written when the minute changes and when the instance ends. */
#ifndef MM_CLIENTS_H
#define MM_CLIENTS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/log.h"
#include "core/metric.h"
#include "core/state_file.h"
#include "host/geo/countries.h"
#include "host/sockets/churn.h"
#include "host/sockets/distinct_windows.h"
#include "core/netmask.h"

struct mm_clients {
    struct mm_dw dw;
    struct mm_churn churn;
    struct mm_state_file file;
    int loaded;           /* the state file was read (or tried) */
    uint32_t now;         /* this gather's minute (mm_dw_now) */
    uint32_t saved_minute;
    int new_minute;       /* the minute changed since the last gather */
    unsigned char *buf;   /* for saving, allocated at the first save */
    int64_t (*clock_ms)(int monotonic); /* tests may replace it; NULL: the system's */
    struct mm_logger log; /* for the last write at free */
    int have_log;
    /* the figures of the last emit, reused while the windows did not change */
    uint64_t shown_version;
    uint32_t shown_now;
    uint64_t shown[3];
    struct mm_clients_countries *shown_countries; /* NULL until countries are emitted */
    /* distinct client addresses and live client sockets of the last gather:
     * kept in the state file, so the next run sizes its tables at once */
    uint64_t last_ips, last_sockets;
};

int mm_clients_init(struct mm_clients *c);
/* Where the state lives (NULL: memory only) and whose it is (the instance's
 * name). Read at the first gather. */
void mm_clients_set_state_file(struct mm_clients *c, const char *path, const char *owner,
                               const struct mm_logger *log);
/* Writes the state a last time (logging through set_state_file's logger). */
void mm_clients_free(struct mm_clients *c);

void mm_clients_begin(struct mm_clients *c, const struct mm_logger *log);
/* One live client socket (for churn). */
void mm_clients_socket(struct mm_clients *c, uint64_t cookie, uint32_t inode);
/* One counted client address; country NULL when countries are off. */
void mm_clients_peer(struct mm_clients *c, const struct mm_ip *ip, const char *country);
/* ips: distinct client addresses counted in this gather. */
void mm_clients_end(struct mm_clients *c, size_t ips, const struct mm_logger *log);
/* Whether this gather is the first of a new minute (every address is then
 * added to the windows again, not only the fresh ones). */
int mm_clients_new_minute(const struct mm_clients *c);
/* Writes the state file now (the benchmark times it); its size, or -1. */
long mm_clients_save_now(struct mm_clients *c, const struct mm_logger *log);
/* Appends the metrics above; returns -1 when some could not be added.
 * live: the distinct addresses counted now (unique_ips), a floor for every
 * window (the sketch's estimate may fall below it); live_countries (unranked,
 * or NULL): the same per country, a floor for each country's 24 h figure. */
int mm_clients_emit(struct mm_clients *c, struct mm_snapshot *out, size_t max_countries,
                    uint64_t live, const struct mm_countries *live_countries);

/* The state file's payload (pure: tests and the fuzz target use them).
 * save writes at most MM_CLIENTS_PAYLOAD_MAX bytes; load replaces the
 * windows and counters, or leaves c as it was and returns -1 with why. */
#define MM_CLIENTS_HEAD_BYTES (4 + 8 + 8 * MM_CHURN_BUCKETS + 8 + 8 + 8)
#define MM_CLIENTS_PAYLOAD_MAX (MM_CLIENTS_HEAD_BYTES + MM_DW_MAX_BYTES)
_Static_assert(MM_CLIENTS_PAYLOAD_MAX + 4096 <= MM_STATE_MAX_BYTES,
               "the largest state (and its file header) fits the state file's bound");
size_t mm_clients_save_payload(const struct mm_clients *c, unsigned char *buf);
int mm_clients_load_payload(struct mm_clients *c, const unsigned char *buf, size_t len, char *err,
                            size_t err_len);

#endif
