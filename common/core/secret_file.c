/* secret_file.c — reading a password file (see secret_file.h). */
#include "core/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mm_read_secret_file(const char *path, char **out, char *err, size_t err_len)
{
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open \"%s\": %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "\"%s\" is not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size > MM_SECRET_FILE_MAX) {
        snprintf(err, err_len, "\"%s\" is larger than %d bytes", path, MM_SECRET_FILE_MAX);
        close(fd);
        return -1;
    }
    char *buf = malloc(MM_SECRET_FILE_MAX + 2);
    if (!buf) {
        snprintf(err, err_len, "out of memory");
        close(fd);
        return -1;
    }
    size_t len = 0;
    int read_error = 0;
    for (;;) { /* the size may have changed since fstat: read to the end, bounded */
        ssize_t n = read(fd, buf + len, MM_SECRET_FILE_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            read_error = errno;
            break;
        }
        len += (size_t)n;
        if (n == 0 || len > MM_SECRET_FILE_MAX)
            break;
    }
    close(fd);
    const char *why = read_error ? strerror(read_error) : NULL;
    if (!why && len > MM_SECRET_FILE_MAX)
        why = "is larger than the limit";
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (!why && len == 0)
        why = "is empty";
    if (!why && memchr(buf, '\0', len))
        why = "holds a NUL byte";
    if (!why && (memchr(buf, '\n', len) || memchr(buf, '\r', len)))
        why = "holds more than one line";
    if (why) {
        if (read_error)
            snprintf(err, err_len, "cannot read \"%s\": %s", path, why);
        else
            snprintf(err, err_len, "\"%s\" %s", path, why);
        explicit_bzero(buf, MM_SECRET_FILE_MAX + 2);
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}
