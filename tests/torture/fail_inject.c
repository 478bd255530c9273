/* fail_inject.c — wrappers of allocation and I/O calls that fail the Nth
 * (see fail_inject.h). Allocation fails with ENOMEM, I/O with EIO (libcurl
 * calls with their "out of memory" or "failed" codes). */
#include "fail_inject.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

struct fi_state fi;

static int fail_now(enum fi_kind kind, const char *name, int err)
{
    if (!fi.armed || fi.kind != kind)
        return 0;
    if (++fi.calls != fi.fail_at)
        return 0;
    fi.failed = name;
    errno = err;
    return 1;
}

#define ALLOC_FAIL(name) fail_now(FI_ALLOC, name, ENOMEM)
#define IO_FAIL(name) fail_now(FI_IO, name, EIO)

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
FILE *__real_open_memstream(char **buf, size_t *len);
int __real_open(const char *path, int flags, ...);
int __real_openat(int dir, const char *path, int flags, ...);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __real_writev(int fd, const struct iovec *iov, int n);
ssize_t __real_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t __real_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __real_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tolen);
int __real_socket(int domain, int type, int protocol);
DIR *__real_opendir(const char *path);
FILE *__real_fopen(const char *path, const char *mode);
CURL *__real_curl_easy_init(void);
CURLM *__real_curl_multi_init(void);
CURLMcode __real_curl_multi_add_handle(CURLM *m, CURL *e);
CURLMcode __real_curl_multi_perform(CURLM *m, int *running);
CURLMcode __real_curl_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned n, int ms, int *numfds);

void *__wrap_malloc(size_t n)
{
    return ALLOC_FAIL("malloc") ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return ALLOC_FAIL("calloc") ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return ALLOC_FAIL("realloc") ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return ALLOC_FAIL("strdup") ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return ALLOC_FAIL("strndup") ? NULL : __real_strndup(s, n);
}

FILE *__wrap_open_memstream(char **buf, size_t *len)
{
    return ALLOC_FAIL("open_memstream") ? NULL : __real_open_memstream(buf, len);
}

int __wrap_open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return IO_FAIL("open") ? -1 : __real_open(path, flags, mode);
}

int __wrap_openat(int dir, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return IO_FAIL("openat") ? -1 : __real_openat(dir, path, flags, mode);
}

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
    return IO_FAIL("read") ? -1 : __real_read(fd, buf, n);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    return IO_FAIL("write") ? -1 : __real_write(fd, buf, n);
}

ssize_t __wrap_writev(int fd, const struct iovec *iov, int n)
{
    return IO_FAIL("writev") ? -1 : __real_writev(fd, iov, n);
}

ssize_t __wrap_recvmsg(int fd, struct msghdr *msg, int flags)
{
    return IO_FAIL("recvmsg") ? -1 : __real_recvmsg(fd, msg, flags);
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return IO_FAIL("sendmsg") ? -1 : __real_sendmsg(fd, msg, flags);
}

ssize_t __wrap_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tolen)
{
    return IO_FAIL("sendto") ? -1 : __real_sendto(fd, buf, n, flags, to, tolen);
}

int __wrap_socket(int domain, int type, int protocol)
{
    return IO_FAIL("socket") ? -1 : __real_socket(domain, type, protocol);
}

DIR *__wrap_opendir(const char *path)
{
    return IO_FAIL("opendir") ? NULL : __real_opendir(path);
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
    return IO_FAIL("fopen") ? NULL : __real_fopen(path, mode);
}

CURL *__wrap_curl_easy_init(void)
{
    return IO_FAIL("curl_easy_init") ? NULL : __real_curl_easy_init();
}

CURLM *__wrap_curl_multi_init(void)
{
    return IO_FAIL("curl_multi_init") ? NULL : __real_curl_multi_init();
}

CURLMcode __wrap_curl_multi_add_handle(CURLM *m, CURL *e)
{
    return IO_FAIL("curl_multi_add_handle") ? CURLM_OUT_OF_MEMORY : __real_curl_multi_add_handle(m, e);
}

CURLMcode __wrap_curl_multi_perform(CURLM *m, int *running)
{
    return IO_FAIL("curl_multi_perform") ? CURLM_INTERNAL_ERROR : __real_curl_multi_perform(m, running);
}

CURLMcode __wrap_curl_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned n, int ms, int *numfds)
{
    return IO_FAIL("curl_multi_poll") ? CURLM_INTERNAL_ERROR : __real_curl_multi_poll(m, fds, n, ms, numfds);
}
