/* proxy_identity.h — each implementation's default process identity: what
 * its processes are called when the user configured no ProcessName,
 * ProcessMatch or PidFile (docs/implementations.md lists the same). */
#ifndef MM_PROXY_IDENTITY_H
#define MM_PROXY_IDENTITY_H

struct mm_proxy_identity {
    const char *implementation; /* the `implementation` fact ("mtg") */
    const char *comm;           /* exact /proc/PID/comm, or NULL */
    const char *cmdline_re;     /* POSIX ERE on the command line, or NULL */
};

/* The identity of the implementation named (the `implementation` fact);
 * NULL for an unknown name or one whose processes are mtproto-proxy (the
 * built-in default). */
const struct mm_proxy_identity *mm_proxy_identity_for(const char *implementation);

#endif
