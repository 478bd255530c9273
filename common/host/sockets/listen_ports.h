/* listen_ports.h — the TCP ports a set of processes listens on.
 *
 * Used when no client port is configured: the proxy's master and workers
 * (found by the process module) are asked which listening sockets they hold.
 * A sock_diag dump of the LISTEN sockets (cheap: the kernel walks only the
 * listening hash) gives each socket's inode and port; the processes'
 * links in /proc/PID/fd ("socket:[inode]") say which of them are theirs. The
 * processes are read in the order given (master first) and the first one that
 * holds a listening socket (other than the stats port) answers, since workers
 * inherit the master's listening sockets. Reading fd links costs ~3.5 us per
 * fd, so callers also cache the answer per PID set. */
#ifndef MM_LISTEN_PORTS_H
#define MM_LISTEN_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "host/sockets/sockdiag.h"

/* Listening sockets considered per call (a host has a handful). */
#define MM_LISTEN_MAX_SOCKETS 4096

/* Fills ports (sorted, without duplicates) with the TCP ports the first
 * listening process of pids listens on, leaving out exclude_port (the stats
 * port; 0: none). Returns the number of ports (0: none found), or -1 when the
 * socket table could not be read (logged). Processes that vanished are
 * skipped silently. */
int mm_listen_ports(struct mm_sockdiag *d, const int *pids, size_t n_pids, int exclude_port,
                    uint16_t *ports, size_t max_ports, const struct mm_logger *log);

#endif
