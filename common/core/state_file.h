/* state_file.h — one instance's state kept across agent restarts in a small
 * file.
 *
 * The file is a header (magic, format version, the owning instance's name,
 * the payload's length and a 64-bit checksum of both) and the payload. It is
 * written whole to "<path>.tmp" and renamed over "<path>", so a reader sees
 * the old or the new file, never half of one (no fsync: a power cut may lose
 * the last write, the checksum then refuses what is left). "<path>.lock" is
 * held with flock() while the instance lives: a second instance or agent
 * given the same path keeps its state in memory instead of sharing the file.
 * A missing, truncated or corrupt file of ours is one warning and a fresh
 * start. An existing file that is not ours (another program's, another
 * instance's, another format version's) is never replaced: one error, and
 * the state stays in memory; before every write, a file at the path not
 * last seen as ours (device, inode, size and mtime) is judged again. A
 * location that cannot be written is one warning and the state stays in
 * memory. Sizes are bounded by MM_STATE_MAX_BYTES. */
#ifndef MM_STATE_FILE_H
#define MM_STATE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/log.h"

#define MM_STATE_MAX_BYTES (1024 * 1024)
#define MM_STATE_VERSION 1
#define MM_STATE_OWNER_MAX 128

struct mm_state_file {
    char *path;   /* NULL: in memory only */
    char owner[MM_STATE_OWNER_MAX];
    int lock_fd;  /* -1 when not held */
    int disabled; /* locked elsewhere or unwritable: in memory (warned once) */
    int known;        /* the file at the path last seen as ours: */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

/* path NULL or "": in memory only, silently. Takes the lock; when it cannot,
 * one warning and the file is not used. owner: the instance's name. */
void mm_state_file_open(struct mm_state_file *sf, const char *path, const char *owner,
                        const struct mm_logger *log);
void mm_state_file_close(struct mm_state_file *sf);

/* Reads the payload into buf (cap bytes). Returns its length, or -1 when
 * there is none to use (no file configured, locked, missing, foreign,
 * truncated, corrupt or too big: one warning, except when nothing is
 * configured). */
long mm_state_file_read(struct mm_state_file *sf, unsigned char *buf, size_t cap,
                        const struct mm_logger *log);
/* Writes the payload atomically. 0, or -1 (the first failure is one warning
 * and the file is not tried again: the state stays in memory). */
int mm_state_file_write(struct mm_state_file *sf, const unsigned char *payload, size_t len,
                        const struct mm_logger *log);

/* Whether a file image (or its first bytes) is ours to replace: 0, or -1
 * with the reason (exposed for tests). */
int mm_state_judge(const unsigned char *file, size_t len, const char *owner, char *err, size_t err_len);

/* The checksum used in the header (exposed for tests). */
uint64_t mm_state_checksum(const unsigned char *p, size_t len, uint64_t seed);

/* Parses a whole file image: the payload's offset and length, or -1 with the
 * reason in err ("foreign", "truncated", "corrupt" ...). Pure: the fuzz
 * target feeds it anything. */
int mm_state_parse(const unsigned char *file, size_t len, const char *owner, size_t *payload_off,
                   size_t *payload_len, char *err, size_t err_len);

#endif
