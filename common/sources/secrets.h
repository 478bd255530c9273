/* secrets.h — MaxSecrets: bounding per-secret (per-user) series.
 *
 * A proxy may serve thousands of secrets or users; each would be a series in
 * every database. The first MaxSecrets names keep their own series; every
 * other one is reported summed under the name "other". Which names keep
 * their series is stable across gathers: a name keeps its slot while it
 * appears on the page, a slot is freed when its name is gone from a page,
 * and a new name takes a free slot. State lives in the source's state. */
#ifndef MM_SECRETS_H
#define MM_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#define MM_SECRETS_DEFAULT 64
#define MM_SECRETS_LIMIT 4096 /* the most MaxSecrets can be set to */
#define MM_SECRET_NAME_MAX 128 /* bytes with the NUL; longer names are cut */
#define MM_SECRET_OTHER "other"

struct mm_secret_set {
    unsigned max;
    unsigned n;
    char (*names)[MM_SECRET_NAME_MAX];
    bool *seen; /* in this gather */
};

/* max 0 = MM_SECRETS_DEFAULT. -1 when out of memory. */
int mm_secret_set_init(struct mm_secret_set *set, unsigned max);
void mm_secret_set_free(struct mm_secret_set *set);
/* At the start of a gather. */
void mm_secret_set_begin(struct mm_secret_set *set);
/* Frees the slots of names this gather did not show. */
void mm_secret_set_end(struct mm_secret_set *set);
/* The name to report for secret `name`: itself when it has (or gets) a
 * slot, else MM_SECRET_OTHER. */
const char *mm_secret_set_name(struct mm_secret_set *set, const char *name);

/* Sums of the series folded into "other", one per key (the series' name and
 * its labels but the secret). Grows as needed; reset per gather. */
struct mm_other_entry {
    char *key;
    double sum;
    size_t first; /* caller's cookie: e.g. the index of the first folded sample */
};

struct mm_other_sums {
    struct mm_other_entry *items;
    size_t n, cap;
    size_t *index; /* open addressing, entry index + 1 */
    size_t index_cap;
};

void mm_other_sums_init(struct mm_other_sums *o);
void mm_other_sums_reset(struct mm_other_sums *o);
void mm_other_sums_free(struct mm_other_sums *o);
/* Adds value under key; -1 when out of memory. */
int mm_other_sums_add(struct mm_other_sums *o, const char *key, double value, size_t cookie);

#endif
