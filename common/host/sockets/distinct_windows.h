/* distinct_windows.h — distinct client addresses over the last hour, day and
 * week, in bounded memory, per minute.
 *
 * Two structures fed with the same 64-bit hash of each address:
 *   - a sliding HyperLogLog (2^14 registers): each register keeps the
 *     (minute, rank) pairs that can still be the register's maximum in some
 *     window ending now (newer pairs of equal or higher rank drop older ones),
 *     so one sketch answers every window up to 7 days; the estimate is Ertl's
 *     improved estimator (no bias tables), standard error 1.04/sqrt(2^14) =
 *     0.81% at any count;
 *   - a sample of the hashes with their last minute and country: every hash
 *     while the week holds at most MM_DW_SAMPLES distinct ones (then counts
 *     are exact and come from here), else the hashes whose top `level` bits
 *     are zero (a 2^-level sample of 8k-16k hashes: its own estimate,
 *     2^level times the sampled count, has a relative standard error of
 *     1/sqrt(sampled count), 0.78-1.1% for the week). Beyond the exact range
 *     a count is the two estimates weighted by the inverse of their variances
 *     (they use different bits of the hash), ~0.56-0.65% standard error;
 *     per-country figures are 2^level times the sampled ones.
 * Time is the minute (Unix time / 60): an address seen in minute t is in the
 * window of W minutes at minute now while now - t < W, so a 1 h figure
 * covers the last 59-60 minutes. The clock is the caller's (tests inject
 * it). A clock that goes back by up to a week is held at the newest minute
 * seen until it catches up (figures neither drop nor double); further back,
 * everything is forgotten. */
#ifndef MM_DISTINCT_WINDOWS_H
#define MM_DISTINCT_WINDOWS_H

#include <stddef.h>
#include <stdint.h>

#include "core/netmask.h"

#define MM_DW_P 14
#define MM_DW_REGISTERS (1u << MM_DW_P)
#define MM_DW_PAIRS 6 /* pairs kept per register; ~3 in use at 1M addresses */
#define MM_DW_SAMPLES 16384
#define MM_DW_HOUR 60u
#define MM_DW_DAY (24u * 60u)
#define MM_DW_WEEK (7u * 24u * 60u)

struct mm_dw_sample {
    uint64_t hash; /* 0: empty slot */
    uint32_t minute;
    uint32_t country; /* mm_country_pack() */
};

struct mm_dw {
    uint32_t *reg; /* MM_DW_REGISTERS x MM_DW_PAIRS of (minute << 6 | rank), oldest first */
    struct mm_dw_sample *samples; /* 2 x MM_DW_SAMPLES slots, linear probing */
    size_t n_samples;
    unsigned level;       /* samples keep hashes whose top `level` bits are 0 */
    uint64_t seed[2];     /* keys the address hash; kept in the state file */
    uint32_t last_minute; /* the newest minute seen (0: none yet) */
    uint64_t version;     /* changes with every add, load and reset (callers cache counts) */
};

/* 0, or -1 out of memory. The seed is random. */
int mm_dw_init(struct mm_dw *w);
void mm_dw_free(struct mm_dw *w);
/* Forgets every address (the seed stays). */
void mm_dw_reset(struct mm_dw *w);

uint64_t mm_dw_hash(const struct mm_dw *w, const struct mm_ip *ip);
/* The minute the windows use for `minute` read from the clock: held at the
 * newest minute seen when the clock went back (see above; resets w when it
 * went back by more than a week). */
uint32_t mm_dw_now(struct mm_dw *w, uint32_t minute);
/* One address seen in minute (from mm_dw_now()), with its country. Adding the
 * same address again in the same minute changes nothing. */
void mm_dw_add(struct mm_dw *w, uint64_t hash, uint32_t minute, uint32_t country);
/* Distinct addresses seen in the last `window` minutes up to now. */
uint64_t mm_dw_count(const struct mm_dw *w, uint32_t now, uint32_t window);
/* The same for the last hour, day and week at once (one pass over the sample). */
void mm_dw_count_windows(const struct mm_dw *w, uint32_t now, uint64_t out[3]);
/* Whether mm_dw_count() is exact (the sample holds every address). */
int mm_dw_exact(const struct mm_dw *w);

/* Distinct addresses per country in the last `window` minutes: calls fn once
 * per country code with its (scaled) count. */
typedef void (*mm_dw_country_fn)(void *ctx, uint32_t country, uint64_t count);
void mm_dw_countries(const struct mm_dw *w, uint32_t now, uint32_t window, mm_dw_country_fn fn,
                     void *ctx);

/* Serialized form (for the state file): at most MM_DW_MAX_BYTES. */
#define MM_DW_MAX_BYTES \
    (64 + MM_DW_REGISTERS + (size_t)MM_DW_REGISTERS * MM_DW_PAIRS * 4 + (MM_DW_SAMPLES + 1) * 16)
/* Writes into buf (at least MM_DW_MAX_BYTES); returns the length. */
size_t mm_dw_save(const struct mm_dw *w, unsigned char *buf);
/* Replaces w's content with a saved one; -1 (w unchanged) when buf is not a
 * consistent saved form: reason in err. */
int mm_dw_load(struct mm_dw *w, const unsigned char *buf, size_t len, char *err, size_t err_len);

#endif
