#include "uplink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/tap.h"
#include "../common/unix_sock.h"

enum uplink_kind { UPLINK_TAP, UPLINK_DGRAM };

struct uplink {
	enum uplink_kind kind;
	int fd;
	char desc[128];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un peer;
};

static int open_tap(struct uplink *u, const char *name, char *err, size_t err_len)
{
	if (strlen(name) == 0 || strlen(name) >= TAP_IFNAMSIZ) {
		snprintf(err, err_len, "tap: interface name '%s' must be 1..%d characters", name, TAP_IFNAMSIZ - 1);
		return -EINVAL;
	}
	u->fd = tap_open(name, NULL);
	if (u->fd < 0) {
		int e = -u->fd;
		snprintf(err, err_len, "tap: cannot attach to %s: %s%s", name, strerror(e),
			 e == EPERM ? " (needs root or CAP_NET_ADMIN)" : "");
		return -e;
	}
	/* Bring the link up so frames flow as soon as it is bridged; a
	 * failure is not fatal (the test bed may set it up itself). */
	tap_set_up(name);
	snprintf(u->desc, sizeof(u->desc), "tap:%s", name);
	return 0;
}

static int open_dgram(struct uplink *u, const char *path, char *err, size_t err_len)
{
	/* Room for ".peer": the far end binds there. */
	if (strlen(path) == 0 || strlen(path) + 6 >= sizeof(u->peer.sun_path)) {
		snprintf(err, err_len, "dgram: path '%s' must be 1..%zu characters", path,
			 sizeof(u->peer.sun_path) - 7);
		return -EINVAL;
	}
	u->fd = unix_sock_bind(path, SOCK_DGRAM | SOCK_NONBLOCK);
	if (u->fd < 0) {
		int e = -u->fd;
		snprintf(err, err_len, "dgram: cannot bind %s: %s", path, strerror(e));
		return -e;
	}
	/* Large buffers: a burst at line rate must not be lost here. */
	int size = 4 << 20;
	setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	strcpy(u->path, path);
	u->peer.sun_family = AF_UNIX;
	snprintf(u->peer.sun_path, sizeof(u->peer.sun_path), "%s.peer", path);
	snprintf(u->desc, sizeof(u->desc), "dgram:%s", path);
	return 0;
}

struct uplink *uplink_open(const char *spec, char *err, size_t err_len)
{
	struct uplink *u = calloc(1, sizeof(*u));
	int ret;

	if (!u) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	u->fd = -1;
	if (strncmp(spec, "tap:", 4) == 0) {
		u->kind = UPLINK_TAP;
		ret = open_tap(u, spec + 4, err, err_len);
	} else if (strncmp(spec, "dgram:", 6) == 0) {
		u->kind = UPLINK_DGRAM;
		ret = open_dgram(u, spec + 6, err, err_len);
	} else {
		snprintf(err, err_len, "uplink '%s' is neither tap:NAME nor dgram:PATH", spec);
		ret = -EINVAL;
	}
	if (ret < 0) {
		free(u);
		return NULL;
	}
	return u;
}

void uplink_close(struct uplink *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (u->kind == UPLINK_DGRAM)
		unlink(u->path);
	free(u);
}

int uplink_fd(const struct uplink *u)
{
	return u->fd;
}

const char *uplink_describe(const struct uplink *u)
{
	return u->desc;
}

int uplink_send(struct uplink *u, const uint8_t *frame, size_t len)
{
	ssize_t n;

	if (u->kind == UPLINK_TAP)
		n = write(u->fd, frame, len);
	else
		n = sendto(u->fd, frame, len, MSG_NOSIGNAL, (struct sockaddr *)&u->peer, sizeof(u->peer));
	if (n < 0)
		return -errno;	/* no peer listening, or the wire is full */
	return 0;
}

ssize_t uplink_recv(struct uplink *u, uint8_t *buf, size_t cap)
{
	ssize_t n = u->kind == UPLINK_TAP ? read(u->fd, buf, cap) : recv(u->fd, buf, cap, 0);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return n;
}
