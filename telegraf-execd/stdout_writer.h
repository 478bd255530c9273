/* stdout_writer.h — output that never blocks the execd loop.
 *
 * A batch (one gather's lines) is serialized in memory, then written to a
 * non-blocking descriptor as far as the reader takes it; the rest waits in
 * the writer and the loop writes more when poll() says the descriptor is
 * writable. A batch is never abandoned halfway (the reader would get a cut
 * line), and a new one is taken only when the last one is out, so memory
 * stays at one batch however long the reader stalls. */
#ifndef MM_STDOUT_WRITER_H
#define MM_STDOUT_WRITER_H

#include <stdbool.h>
#include <stddef.h>

struct execd_writer {
    int fd;
    int saved_flags; /* file status flags to restore, -1 = untouched */
    char *data;      /* pending bytes data[off..len) */
    size_t len, off;
};

/* Puts fd in non-blocking mode (restored by close). Returns 0 or -1 (errno). */
int execd_writer_open(struct execd_writer *w, int fd);
void execd_writer_close(struct execd_writer *w);
bool execd_writer_pending(const struct execd_writer *w);
/* Takes a malloc'd batch (ownership passes, even on error); only when
 * nothing is pending. Writes what it can at once: 0, or -1 with errno. */
int execd_writer_take(struct execd_writer *w, char *data, size_t len);
/* Writes more of the pending batch without blocking: 0, or -1 with errno
 * (EPIPE when the reader is gone). */
int execd_writer_flush(struct execd_writer *w);

#endif
