/* stdout_writer.c — non-blocking batches for stdout (see stdout_writer.h). */
#include "stdout_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int execd_writer_open(struct execd_writer *w, int fd)
{
    memset(w, 0, sizeof(*w));
    w->fd = fd;
    w->saved_flags = -1;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -1;
    if (!(flags & O_NONBLOCK)) {
        if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
            return -1;
        w->saved_flags = flags; /* a terminal is shared with the shell */
    }
    return 0;
}

void execd_writer_close(struct execd_writer *w)
{
    if (w->saved_flags >= 0)
        fcntl(w->fd, F_SETFL, w->saved_flags);
    free(w->data);
    w->data = NULL;
    w->len = w->off = 0;
    w->saved_flags = -1;
}

bool execd_writer_pending(const struct execd_writer *w)
{
    return w->off < w->len;
}

int execd_writer_flush(struct execd_writer *w)
{
    while (w->off < w->len) {
        ssize_t n = write(w->fd, w->data + w->off, w->len - w->off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        w->off += (size_t)n;
    }
    free(w->data);
    w->data = NULL;
    w->len = w->off = 0;
    return 0;
}

int execd_writer_take(struct execd_writer *w, char *data, size_t len)
{
    if (execd_writer_pending(w)) {
        free(data);
        errno = EBUSY;
        return -1;
    }
    free(w->data);
    w->data = data;
    w->len = len;
    w->off = 0;
    return execd_writer_flush(w);
}
