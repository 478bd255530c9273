/* listen_ports.h — where the proxy listens: its client endpoints.
 *
 * Used when no client port is configured. A sock_diag dump of the LISTEN
 * sockets (cheap: the kernel walks only the listening hash) gives each
 * listening socket's address, port and inode. Two ways to tell which are
 * the proxy's:
 *   - by process: the `socket:[inode]` links in /proc/PID/fd. Exact, but a
 *     proxy that dropped its privileges (MTProxy's -u nobody) has a
 *     root-owned fd directory: an unprivileged agent gets EACCES. The
 *     processes are read in the order given (master first) and the first
 *     one that holds a listening socket answers, since workers inherit the
 *     master's listeners; reading fd links costs ~3.5 us per fd, so callers
 *     cache the answer per PID set.
 *   - by port: every listener on the ports the proxy's command line names
 *     (readable by anyone). A listener on another address with the same
 *     port (another service) cannot be told apart this way.
 * An endpoint keeps the listener's address, so clients of another service
 * on the same port but another address are not the proxy's. */
#ifndef MM_LISTEN_PORTS_H
#define MM_LISTEN_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "host/sockets/sockdiag.h"
#include "host/sockets/socket_stats.h"

/* Listening sockets considered per call (a host has a handful). */
#define MM_LISTEN_MAX_SOCKETS 4096

/* By process: fills eps with the listeners (other than exclude_port, the
 * stats port; 0: none) of the first process of pids holding one. Returns
 * how many (0: none found), or -1 when the socket table could not be read
 * (logged). *fd_err (may be NULL) gets the errno of the first fd directory
 * that could not be read (EACCES for a proxy that dropped privileges), 0
 * when all could. Processes that vanished are skipped silently. */
int mm_listen_endpoints(struct mm_sockdiag *d, const int *pids, size_t n_pids, int exclude_port,
                        struct mm_endpoint *eps, size_t max, int *fd_err,
                        const struct mm_logger *log);

/* By port: every listener on one of ports (other than exclude_port).
 * *several_addrs (may be NULL) is set when one port has listeners on two
 * different specific addresses (another service may be among them). Same
 * returns as above. */
int mm_listen_endpoints_on(struct mm_sockdiag *d, const uint16_t *ports, size_t n_ports,
                           int exclude_port, struct mm_endpoint *eps, size_t max,
                           int *several_addrs, const struct mm_logger *log);

/* The ports (sorted, no duplicates) of mm_listen_endpoints. */
int mm_listen_ports(struct mm_sockdiag *d, const int *pids, size_t n_pids, int exclude_port,
                    uint16_t *ports, size_t max_ports, const struct mm_logger *log);

#endif
