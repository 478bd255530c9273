/* fuzz_netmask.c — libFuzzer target for CIDR parsing (common/core/netmask.h).
 * Property: what parses formats back to text that parses to the same network,
 * and the network matches its own address. Seeds: tests/fuzz/corpus/netmask. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/netmask.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct mm_cidr c, c2;
    char err[128], buf[64], buf2[64];
    err[0] = '\0';
    if (mm_cidr_parse(text, &c, err, sizeof(err)) == 0) {
        if ((c.family == 2 /* AF_INET */ && (c.prefix < 0 || c.prefix > 32)) || c.prefix < 0 ||
            c.prefix > 128)
            abort();
        mm_cidr_format(&c, buf, sizeof(buf));
        if (mm_cidr_parse(buf, &c2, err, sizeof(err)) != 0)
            abort();
        if (c2.family != c.family || c2.prefix != c.prefix || memcmp(&c2.net, &c.net, sizeof(c.net)))
            abort();
        mm_cidr_format(&c2, buf2, sizeof(buf2));
        if (strcmp(buf, buf2) != 0)
            abort();
        if (!mm_cidr_match(&c, &c.net))
            abort();
        mm_ip_format(&c.net, buf, sizeof(buf));
        (void)mm_ip_is_local(&c.net);
    } else if (err[0] == '\0' || !memchr(err, '\0', sizeof(err))) {
        abort(); /* a refusal always says why */
    }
    free(text);
    return 0;
}
