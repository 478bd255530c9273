/* fuzz_sockdiag.c — libFuzzer target for the netlink sock_diag reply parser
 * (common/host/sockets/sockdiag.h mm_sockdiag_parse). The first 8 bytes pick the query
 * (two local ports, the remote port, want_info), the rest is the reply as
 * the kernel would put it in the receive buffer (an aligned heap copy). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/sockets/sockdiag.h"

static int count_fn(void *ctx, const struct mm_sock *s)
{
    long *n = ctx;
    if (s->state < 0 || s->state > 255)
        abort();
    (*n)++;
    return (*n > 100000); /* the caller may stop the walk */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    struct mm_sockdiag_query q;
    memset(&q, 0, sizeof(q));
    q.n_local_ports = data[0] % 3;
    q.local_ports[0] = (uint16_t)(data[1] << 8 | data[2]);
    q.local_ports[1] = (uint16_t)(data[3] << 8 | data[4]);
    q.remote_port = (uint16_t)(data[5] << 8 | data[6]);
    q.want_info = data[7] & 1;
    q.states = (data[7] & 2) ? 0 : (1u << 1);
    data += 8;
    size -= 8;
    void *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    long seen = 0, count = 0;
    int err = 0;
    int rc = mm_sockdiag_parse(buf, size, &q, count_fn, &seen, &count, &err);
    if (rc < -1 || rc > 1 || (rc == -1 && err == 0) || count != seen)
        abort();
    free(buf);
    return 0;
}
