/* proxy_identity.c — the per-implementation default process identities
 * (see proxy_identity.h), from each implementation's own packaging. */
#include "host/process/proxy_identity.h"

#include <stddef.h>
#include <string.h>

/* The official MTProxy and mtproto.zig (its build.zig names the binary
 * mtproto-proxy) need no entry: mtproto-proxy is the built-in default. */
static const struct mm_proxy_identity identities[] = {
    { "teleproxy", "teleproxy", NULL },
    { "mtg", "mtg", NULL },
    { "telemt", "telemt", NULL },
    /* A Python script: comm is the interpreter's name, so the command line. */
    { "mtprotoproxy", NULL, "(^|[ /])mtprotoproxy\\.py( |$)" },
};

const struct mm_proxy_identity *mm_proxy_identity_for(const char *implementation)
{
    if (!implementation)
        return NULL;
    for (size_t i = 0; i < sizeof(identities) / sizeof(identities[0]); i++)
        if (strcmp(identities[i].implementation, implementation) == 0)
            return &identities[i];
    return NULL;
}
