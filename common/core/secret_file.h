/* secret_file.h — a password read from a file (PasswordFile, --password-file),
 * so that it need not stand in a process listing or a world-readable config.
 *
 * The file is opened without blocking (a FIFO or a device in its place is
 * refused, not waited on), must be a regular file of at most
 * MM_SECRET_FILE_MAX bytes; one trailing line break is dropped. */
#ifndef MM_SECRET_FILE_H
#define MM_SECRET_FILE_H

#include <stddef.h>

#define MM_SECRET_FILE_MAX 4096

/* *out: the malloc'd secret. Returns 0, or -1 with the reason (naming the
 * path, never the content) in err. */
int mm_read_secret_file(const char *path, char **out, char *err, size_t err_len);

#endif
