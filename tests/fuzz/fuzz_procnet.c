/* fuzz_procnet.c — libFuzzer target for the /proc/net/tcp{,6} line parser
 * (common/host/sockets/procnet.h mm_procnet_parse_line), the fallback when netlink is
 * refused. The first byte picks the family; every following line is parsed
 * from an exact-size heap copy (no NUL: the parser gets a length). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "host/sockets/procnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int family = (data[0] & 1) ? AF_INET6 : AF_INET;
    data++;
    size--;
    while (size > 0) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t len = nl ? (size_t)(nl - data) : size;
        char *line = malloc(len ? len : 1);
        if (!line)
            return 0;
        memcpy(line, data, len);
        struct mm_sock s;
        memset(&s, 0, sizeof(s));
        int rc = mm_procnet_parse_line(line, len, family, &s);
        if (rc < -1 || rc > 1)
            abort();
        free(line);
        if (!nl)
            break;
        data += len + 1;
        size -= len + 1;
    }
    return 0;
}
