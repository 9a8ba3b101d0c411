#include "vfio_user_client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/unix_sock.h"
#include "../common/vfio_user.h"

#define REPLY_TIMEOUT_S 5

int vfu_client_connect(struct vfu_client *c, const char *path, char *err, size_t err_len)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	snprintf(c->path, sizeof(c->path), "%s", path);
	int fd = unix_sock_connect(path, err, err_len);
	if (fd < 0) {
		if (fd == -ENOENT || fd == -ECONNREFUSED) {
			size_t len = strlen(err);
			snprintf(err + len, err_len - len, " (is compsc-nic running?)");
		}
		return fd;
	}
	/* The set-up that follows hands the server all of guest RAM (DMA_MAP
	 * with the memfd): whoever listens at path must be trusted before
	 * anything is sent. SO_PEERCRED names the process that called
	 * listen(), as the kernel recorded it. */
	char why[320];
	int ret = unix_sock_peer_check(fd, why, sizeof(why));
	if (ret < 0) {
		close(fd);
		snprintf(err, err_len, "%s: refused%s%s; nothing sent", path, ret == -EACCES ? ", the server " : ": ",
			 why);
		return ret;
	}
	c->fd = fd;
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

void vfu_client_close(struct vfu_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->dead = true;
}

/* Caller holds the lock. */
static int send_msg(struct vfu_client *c, uint16_t command, uint32_t flags, const void *payload, size_t len,
		    const int *fds, unsigned n_fds, uint16_t *id)
{
	struct vfu_header h = {
		.msg_id = c->next_id++, .command = command,
		.msg_size = (uint32_t)(sizeof(h) + len), .flags = flags,
	};
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VFU_MAX_FDS)];
	} control;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	if (c->dead)
		return -EPIPE;
	if (n_fds > VFU_MAX_FDS || h.msg_size > VFU_MAX_MSG_SIZE)
		return -E2BIG;
	if (n_fds) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}
	ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	if (n != (ssize_t)h.msg_size) {
		log_error("vfio-user %s: send failed: %s; device lost", c->path, n < 0 ? strerror(errno) : "short write");
		c->dead = true;
		return -EPIPE;
	}
	if (id)
		*id = h.msg_id;
	return 0;
}

static int recv_all(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, (char *)buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -EPIPE : (errno == EAGAIN ? -ETIMEDOUT : -errno);
		done += (size_t)n;
	}
	return 0;
}

/* A register read is a vCPU waiting on the device: instead of sleeping at
 * once (and paying a wake-up on top of the device's), spin briefly on the
 * socket. The device answers within tens of microseconds when it runs. */
static void spin_for_reply(int fd)
{
	uint64_t deadline = now_ns() + 40000;
	char probe;

	while (now_ns() < deadline)
		if (recv(fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) != -1 || errno != EAGAIN)
			return;
}

int vfu_client_request(struct vfu_client *c, uint16_t command, const void *payload, size_t len,
		       const int *fds, unsigned n_fds, void *reply, size_t reply_cap, size_t *reply_len)
{
	struct vfu_header h;
	uint16_t id;
	uint8_t scratch[256];
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = send_msg(c, command, VFU_FLAG_COMMAND, payload, len, fds, n_fds, &id);
	if (ret < 0)
		goto out;
	spin_for_reply(c->fd);
	ret = recv_all(c->fd, &h, sizeof(h));
	if (ret == 0 && (h.msg_id != id || h.command != command ||
			 (h.flags & VFU_FLAG_TYPE_MASK) != VFU_FLAG_REPLY || h.msg_size < sizeof(h) ||
			 h.msg_size > VFU_MAX_MSG_SIZE))
		ret = -EPROTO;
	if (ret < 0) {
		log_error("vfio-user %s: no valid reply to command %u: %s; device lost", c->path, command,
			  strerror(-ret));
		c->dead = true;
		goto out;
	}
	/* Read the payload, keeping what fits; the device is not trusted to
	 * send a reply of the size we expect. */
	size_t left = h.msg_size - sizeof(h), got = 0;
	while (left) {
		size_t chunk = left < sizeof(scratch) ? left : sizeof(scratch);
		ret = recv_all(c->fd, scratch, chunk);
		if (ret < 0) {
			c->dead = true;
			goto out;
		}
		if (reply && got < reply_cap)
			memcpy((uint8_t *)reply + got, scratch, chunk < reply_cap - got ? chunk : reply_cap - got);
		got += chunk;
		left -= chunk;
	}
	if (reply_len)
		*reply_len = got < reply_cap ? got : reply_cap;
	/* The device's errno is untrusted: only a plausible one passes. */
	if (h.flags & VFU_FLAG_ERROR)
		ret = h.error_no > 0 && h.error_no < 4096 ? -(int)h.error_no : -EIO;
	else
		ret = 0;
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int vfu_client_post(struct vfu_client *c, uint16_t command, const void *payload, size_t len)
{
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = send_msg(c, command, VFU_FLAG_COMMAND | VFU_FLAG_NO_REPLY, payload, len, NULL, 0, NULL);
	pthread_mutex_unlock(&c->lock);
	return ret;
}
