/* geoip.h — country of an IP address from a MaxMind DB file (libmaxminddb).
 *
 * One handle per instance (so instances on different threads never share
 * one). The database is the configured file, else the first of the usual
 * paths that exists. mm_geoip_refresh() runs once per gather: it stats the
 * file and re-opens it when its inode, size or mtime changed, so a database
 * replaced on disk is used from the next gather on without a restart. A
 * missing or corrupt file is one error per distinct failure, the gather goes
 * on without countries. The file is copied into a private memfd before
 * libmaxminddb maps it: a file rewritten in place (cp over it) could
 * otherwise shrink under the mapping and crash the agent with SIGBUS. */
#ifndef MM_GEOIP_H
#define MM_GEOIP_H

#include <limits.h>
#include <stdint.h>
#include <maxminddb.h>
#include <sys/types.h>
#include <time.h>

#include "core/log.h"
#include "core/netmask.h"

/* Files larger than this are refused (a City database is ~70 MB). */
#define MM_GEOIP_MAX_BYTES (512L * 1024 * 1024)

/* Probed in this order when no path is configured (NULL-terminated). */
extern const char *const mm_geoip_default_paths[];

#define MM_GEOIP_RECORD_CACHE 256

struct mm_file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct mm_geoip {
    MMDB_s db;
    int is_open;
    char path[PATH_MAX];     /* the file db came from */
    struct mm_file_id id;    /* ... and its identity then */
    char failed_path[PATH_MAX];
    struct mm_file_id failed_id; /* a file that failed to open: retried once it changes */
    int have_failed;
    struct mm_error_latch latch;
    unsigned generation; /* counts the (re)opens: a changed database changes it */
    /* the code of recently decoded records, by data offset: many addresses
     * share a record, and decoding one costs more than the tree walk */
    struct { uint32_t offset; char code[8]; } records[MM_GEOIP_RECORD_CACHE];
};

void mm_geoip_init(struct mm_geoip *g);
void mm_geoip_free(struct mm_geoip *g);

/* path: the configured file, or NULL to probe mm_geoip_default_paths.
 * Returns 1 when a database is ready for lookups, 0 when not (logged). */
int mm_geoip_refresh(struct mm_geoip *g, const char *path, const struct mm_logger *log);

/* The ISO code for ip ("DE"), or "unknown": not in the database, no country
 * in its record, or a code that is not 2-3 letters/digits. out must hold
 * at least 8 bytes. Needs a successful refresh. */
const char *mm_geoip_country(struct mm_geoip *g, const struct mm_ip *ip, char *out,
                             size_t out_len);

#endif
