/* proxy_cmdline.h — what a proxy's command line says about its ports.
 *
 * /proc/PID/cmdline is readable by any user, also after MTProxy dropped its
 * privileges (its /proc/PID/fd then is not), so it is how an unprivileged
 * agent learns the client ports and how discovery tells this instance's
 * proxy from another one on the host (the stats port it serves). Known
 * syntaxes:
 *   official MTProxy, teleproxy   -p PORT / --port PORT (stats, 127.0.0.1),
 *                                 -H P1,P2 / --http-ports P (client ports,
 *                                 any address); -pN, -HN, --opt=V forms
 *   mtg simple-run                mtg simple-run [flags] HOST:PORT SECRET
 * Anything else yields nothing; that is not an error. */
#ifndef MM_PROXY_CMDLINE_H
#define MM_PROXY_CMDLINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/netmask.h"

#define MM_CMDLINE_MAX_PORTS 16

struct mm_proxy_cmdline {
    int stats_port;                             /* 0: not named */
    uint16_t client_ports[MM_CMDLINE_MAX_PORTS]; /* in the order named */
    size_t n_client_ports;
    int have_bind;      /* 1: the client ports are bound to bind only */
    struct mm_ip bind;  /* IPv4 in mapped form */
};

/* args: the raw /proc/PID/cmdline (arguments separated by NUL bytes), len
 * bytes. Fills out; never fails. */
void mm_proxy_cmdline_parse(const char *args, size_t len, struct mm_proxy_cmdline *out);

#endif
