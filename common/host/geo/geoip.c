/* geoip.c — MaxMind DB country lookups with reload on change (see geoip.h). */
#include "host/geo/geoip.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const mm_geoip_default_paths[] = {
    "/var/lib/GeoIP/GeoLite2-Country.mmdb",
    "/usr/share/GeoIP/GeoLite2-Country.mmdb",
    "/usr/share/GeoIP/GeoIP2-Country.mmdb",
    "/usr/local/share/GeoIP/GeoLite2-Country.mmdb",
    "/var/lib/GeoIP/dbip-country-lite.mmdb",
    "/usr/share/GeoIP/dbip-country-lite.mmdb",
    NULL,
};

/* Latch kinds: one log line per distinct failure. */
enum { KIND_NONE_FOUND = 1, KIND_STAT = 1000, KIND_NOT_FILE = 2000, KIND_TOO_BIG = 2001,
       KIND_COPY = 3000, KIND_MMDB = 4000 };

void mm_geoip_init(struct mm_geoip *g)
{
    memset(g, 0, sizeof(*g));
}

static void close_db(struct mm_geoip *g)
{
    if (g->is_open)
        MMDB_close(&g->db);
    g->is_open = 0;
    g->path[0] = '\0';
}

void mm_geoip_free(struct mm_geoip *g)
{
    close_db(g);
}

static void file_id(const struct stat *st, struct mm_file_id *id)
{
    memset(id, 0, sizeof(*id));
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime = st->st_mtim;
}

static int same_id(const struct mm_file_id *a, const struct mm_file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Copies fd (size bytes) into a new memfd. Returns the memfd or -1 (errno). */
static int private_copy(int fd, off_t size)
{
    int mfd = memfd_create("mtproxy-geoip", MFD_CLOEXEC);
    if (mfd < 0)
        return -1;
    off_t done = 0;
    while (done < size) {
        ssize_t n = sendfile(mfd, fd, NULL, (size_t)(size - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* error, or the file shrank while we copied */
            int e = n < 0 ? errno : EIO;
            close(mfd);
            errno = e;
            return -1;
        }
        done += n;
    }
    return mfd;
}

/* Opens path into g->db through a private copy. 0, or -1 with a kind and
 * a message. */
static int open_db(struct mm_geoip *g, const char *path, struct mm_file_id *id, long *kind,
                   char *msg, size_t msg_len)
{
    /* O_NONBLOCK: a FIFO named here must not block the gather (open would
     * wait for a writer); the type check below refuses it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        *kind = KIND_STAT + errno;
        snprintf(msg, msg_len, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    file_id(&st, id); /* the identity of what is actually read */
    if (!S_ISREG(st.st_mode)) {
        *kind = KIND_NOT_FILE;
        snprintf(msg, msg_len, "not a regular file");
        close(fd);
        return -1;
    }
    if (st.st_size > MM_GEOIP_MAX_BYTES) {
        *kind = KIND_TOO_BIG;
        snprintf(msg, msg_len, "%lld bytes is larger than the %ld bytes accepted",
                 (long long)st.st_size, MM_GEOIP_MAX_BYTES);
        close(fd);
        return -1;
    }
    int mfd = private_copy(fd, st.st_size);
    int copy_errno = errno;
    close(fd);
    if (mfd < 0) {
        *kind = KIND_COPY + copy_errno;
        snprintf(msg, msg_len, "copying it failed: %s", strerror(copy_errno));
        return -1;
    }
    char fdpath[64];
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", mfd);
    int rc = MMDB_open(fdpath, MMDB_MODE_MMAP, &g->db);
    close(mfd); /* the mapping keeps the copy alive */
    if (rc != MMDB_SUCCESS) {
        *kind = KIND_MMDB + rc;
        snprintf(msg, msg_len, "not a valid MaxMind DB file (%s)", MMDB_strerror(rc));
        return -1;
    }
    return 0;
}

int mm_geoip_refresh(struct mm_geoip *g, const char *path, const struct mm_logger *log)
{
    struct stat st;
    const char *use = NULL;
    if (path) {
        if (stat(path, &st) < 0) {
            int e = errno;
            close_db(g);
            mm_latch_fail_kind(&g->latch, log, MM_LOG_ERROR, KIND_STAT + e,
                          "GeoIP database %s: %s; per-country metrics are not reported", path,
                          strerror(e));
            return 0;
        }
        use = path;
    } else {
        for (size_t i = 0; mm_geoip_default_paths[i]; i++) {
            if (stat(mm_geoip_default_paths[i], &st) == 0) {
                use = mm_geoip_default_paths[i];
                break;
            }
        }
        if (!use) {
            close_db(g);
            mm_latch_fail_kind(&g->latch, log, MM_LOG_WARNING, KIND_NONE_FOUND,
                          "no GeoIP database configured and none found in %s, %s or the other "
                          "usual places; per-country metrics are off (set GeoIPDatabase / "
                          "--geoip to a GeoLite2-Country or DB-IP country .mmdb file)",
                          mm_geoip_default_paths[0], mm_geoip_default_paths[1]);
            return 0;
        }
    }

    struct mm_file_id id;
    file_id(&st, &id);
    if (g->is_open && strcmp(g->path, use) == 0 && same_id(&g->id, &id))
        return 1;
    /* The very file that failed last time: say nothing until it changes. */
    if (g->have_failed && strcmp(g->failed_path, use) == 0 && same_id(&g->failed_id, &id)) {
        close_db(g);
        return 0;
    }

    int reopened = g->is_open;
    close_db(g);
    long kind = 0;
    char msg[256];
    if (open_db(g, use, &id, &kind, msg, sizeof(msg)) < 0) {
        g->have_failed = 1;
        snprintf(g->failed_path, sizeof(g->failed_path), "%s", use);
        g->failed_id = id;
        mm_latch_fail_kind(&g->latch, log, MM_LOG_ERROR, kind,
                      "GeoIP database %s: %s; per-country metrics are not reported", use, msg);
        return 0;
    }
    g->is_open = 1;
    g->have_failed = 0;
    g->id = id;
    g->generation++;
    memset(g->records, 0, sizeof(g->records)); /* offsets of the old file mean nothing now */
    snprintf(g->path, sizeof(g->path), "%s", use);
    mm_latch_ok(&g->latch, log, "GeoIP database");
    mm_log(log, MM_LOG_INFO, "GeoIP database %s %s (%s, %llu bytes)", use,
           reopened ? "changed on disk, re-opened" : "opened",
           g->db.metadata.database_type ? g->db.metadata.database_type : "?",
           (unsigned long long)id.size);
    return 1;
}

/* A 2-3 character code of letters and digits, upper-cased into out. */
static int take_code(const MMDB_entry_data_s *d, char *out, size_t out_len)
{
    if (!d->has_data || d->type != MMDB_DATA_TYPE_UTF8_STRING || d->data_size < 2 ||
        d->data_size > 3 || out_len <= d->data_size)
        return 0;
    for (uint32_t i = 0; i < d->data_size; i++) {
        unsigned char c = (unsigned char)d->utf8_string[i];
        if (!isalnum(c) || c > 127)
            return 0;
        out[i] = (char)toupper(c);
    }
    out[d->data_size] = '\0';
    return 1;
}

/* Copies s into out (bounded); no printf on the per-IP path. */
static void put(char *out, size_t out_len, const char *s)
{
    size_t n = strlen(s);
    if (out_len == 0)
        return;
    if (n >= out_len)
        n = out_len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

const char *mm_geoip_country(struct mm_geoip *g, const struct mm_ip *ip, char *out,
                             size_t out_len)
{
    put(out, out_len, "unknown");
    if (!g->is_open)
        return out;

    /* IPv4 (also when it came IPv4-mapped) is looked up as AF_INET: some
     * databases do not alias ::ffff:0:0/96. */
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;
    if (mm_ip_is_v4(ip)) {
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        memcpy(&sin.sin_addr, ip->b + 12, 4);
        sa = (const struct sockaddr *)&sin;
    } else {
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        memcpy(&sin6.sin6_addr, ip->b, 16);
        sa = (const struct sockaddr *)&sin6;
    }
    int err = MMDB_SUCCESS;
    MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&g->db, sa, &err);
    if (err != MMDB_SUCCESS || !r.found_entry)
        return out;

    /* offset 0 is the data section's first byte: stored as offset + 1 */
    uint32_t key = r.entry.offset + 1;
    size_t slot = (size_t)((key * 0x9E3779B1u) >> 24) & (MM_GEOIP_RECORD_CACHE - 1);
    if (g->records[slot].offset == key) {
        put(out, out_len, g->records[slot].code);
        return out;
    }
    MMDB_entry_data_s d;
    char code[8];
    if ((MMDB_get_value(&r.entry, &d, "country", "iso_code", NULL) == MMDB_SUCCESS &&
         take_code(&d, code, sizeof(code))) ||
        (MMDB_get_value(&r.entry, &d, "registered_country", "iso_code", NULL) == MMDB_SUCCESS &&
         take_code(&d, code, sizeof(code))) ||
        (MMDB_get_value(&r.entry, &d, "country_code", NULL) == MMDB_SUCCESS &&
         take_code(&d, code, sizeof(code))))
        put(out, out_len, code);
    g->records[slot].offset = key;
    put(g->records[slot].code, sizeof(g->records[slot].code), out);
    return out;
}
