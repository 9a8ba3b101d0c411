/* Unix-domain sockets for the host programs: the control sockets of the
 * VMM and the NIC, the vfio-user sockets, and the NIC's datagram wire.
 * Every socket is close-on-exec. Host only (the guest has no sockets). */
#ifndef CSC_COMMON_UNIX_SOCK_H
#define CSC_COMMON_UNIX_SOCK_H

#include <stddef.h>
#include <sys/un.h>

/* Fills *addr with path; -ENAMETOOLONG if it does not fit sun_path. */
int unix_sock_addr(struct sockaddr_un *addr, const char *path);

/* A socket of `type` (SOCK_STREAM or SOCK_DGRAM, optionally with
 * SOCK_NONBLOCK) bound at path. A file already at path is removed first:
 * it is the socket of an earlier run that did not clean up, and bind would
 * fail on it. Returns the fd or -errno (-ENAMETOOLONG for a long path). */
int unix_sock_bind(const char *path, int type);

/* unix_sock_bind(path, SOCK_STREAM | flags) and listen(backlog). fd, or
 * -errno with "socket path ... is too long" or "cannot listen on ...: why"
 * in err (err may be NULL). */
int unix_sock_listen(const char *path, int backlog, int flags, char *err, size_t err_len);

/* A stream socket connected to path (blocking connect). fd, or -errno with
 * "socket path ... is too long" or "cannot connect to ...: why" in err. */
int unix_sock_connect(const char *path, char *err, size_t err_len);

#endif
