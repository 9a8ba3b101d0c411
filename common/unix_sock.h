/* Unix-domain sockets for the host programs: the control sockets of the
 * VMM and the NIC, the vfio-user sockets, and the NIC's datagram wire.
 * Every socket is close-on-exec. Host only (the guest has no sockets).
 *
 * Trust: a socket file's mode is the first gate, the peer's credentials
 * (SO_PEERCRED, taken by the kernel at connect() or listen(), not claimed
 * by the peer) the second, checked at both ends: a server checks whoever
 * connects, the VMM checks the vfio-user server before it hands over guest
 * RAM. A peer is trusted when it runs as this process's effective uid, as
 * root, or in the group named by $COMPSC_SOCKET_GROUP (a name or a number;
 * unset or empty: no group). The variable is read at each use. */
#ifndef CSC_COMMON_UNIX_SOCK_H
#define CSC_COMMON_UNIX_SOCK_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

struct ratelimit;

#define UNIX_SOCK_GROUP_ENV "COMPSC_SOCKET_GROUP"

/* Who the file mode of a listening socket lets connect. */
enum unix_sock_access {
	UNIX_SOCK_PRIVATE,	/* 0600: control sockets */
	UNIX_SOCK_GROUP,	/* 0660 and the group of $COMPSC_SOCKET_GROUP; 0600 when it is unset */
};

/* The group of $COMPSC_SOCKET_GROUP: 1 with *gid set, 0 when there is
 * none, -EINVAL with "COMPSC_SOCKET_GROUP: no group 'x'" in err (err may be
 * NULL) when it names no group. */
int unix_sock_group(gid_t *gid, char *err, size_t err_len);

/* Fills *addr with path; -ENAMETOOLONG if it does not fit sun_path. */
int unix_sock_addr(struct sockaddr_un *addr, const char *path);

/* A socket of `type` (SOCK_STREAM or SOCK_DGRAM, optionally with
 * SOCK_NONBLOCK) bound at path. A file already at path is removed first:
 * it is the socket of an earlier run that did not clean up, and bind would
 * fail on it. Returns the fd or -errno (-ENAMETOOLONG for a long path). */
int unix_sock_bind(const char *path, int type);

/* unix_sock_bind(path, SOCK_STREAM | flags), the file mode `access` asks
 * for, and listen(backlog). fd, or -errno with "socket path ... is too
 * long", "cannot listen on ...: why" or the group's problem in err (err may
 * be NULL); a $COMPSC_SOCKET_GROUP naming no group fails every listener,
 * since its peer checks would. */
int unix_sock_listen(const char *path, int backlog, int flags, enum unix_sock_access access, char *err,
		     size_t err_len);

/* A stream socket connected to path (blocking connect). fd, or -errno with
 * "socket path ... is too long" or "cannot connect to ...: why" in err.
 * The peer is not checked: see unix_sock_peer_check. */
int unix_sock_connect(const char *path, char *err, size_t err_len);

/* 0 when the process at the other end of the connected socket fd is
 * trusted (see the top of this file). -EACCES when it is not, with "uid U
 * gid G (pid P) is not this user (uid V), root or in group N" in why;
 * another -errno with the reason when its credentials cannot be read or
 * $COMPSC_SOCKET_GROUP names no group (then nobody but the uid and root
 * is trusted: the check fails closed). why may be NULL. */
int unix_sock_peer_check(int fd, char *why, size_t why_len);

/* accept4(listen_fd, flags | SOCK_CLOEXEC) and the peer check. A refused
 * peer's connection is closed without a word and logged as "<what>:
 * refused a connection: <why>", at most as often as rl lets through (peers
 * can connect at will). The connected fd, or -errno: -EACCES for a refused
 * peer, accept's own error (-EAGAIN: nothing pending) otherwise. */
int unix_sock_accept(int listen_fd, int flags, const char *what, struct ratelimit *rl);

#endif
