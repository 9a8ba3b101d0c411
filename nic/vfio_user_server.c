#include "vfio_user_server.h"

#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/unix_sock.h"
#include "../common/vfio_user.h"
#include "nic.h"

#define CONFIG_SPACE_SIZE 256

struct vfio_user_conn {
	int fd;
	unsigned vf;
	struct nic *nic;
	uint8_t buf[VFU_MAX_MSG_SIZE];
	size_t have;
	int fds[VFU_MAX_FDS];
	unsigned n_fds;
	bool versioned;
	uint64_t messages;
};

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int send_reply(struct vfio_user_conn *c, const struct vfu_header *req, int error,
		      const void *payload, size_t len)
{
	struct vfu_header h = {
		.msg_id = req->msg_id, .command = req->command,
		.msg_size = (uint32_t)(sizeof(h) + (error ? 0 : len)),
		.flags = VFU_FLAG_REPLY | (error ? VFU_FLAG_ERROR : 0),
		.error_no = (uint32_t)error,
	};
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, error ? 0 : len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	if (req->flags & VFU_FLAG_NO_REPLY)
		return 0;	/* posted: the client does not wait */
	/* Never wait for a client that does not read its replies: the event
	 * loop serves every VF. A full socket closes this connection. */
	ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n == (ssize_t)h.msg_size ? 0 : -EPIPE;
}

/* Takes n fds from the front of the connection's queue; -EINVAL if fewer. */
static int take_fds(struct vfio_user_conn *c, int *out, unsigned n)
{
	if (c->n_fds < n)
		return -EINVAL;
	memcpy(out, c->fds, n * sizeof(int));
	memmove(c->fds, c->fds + n, (c->n_fds - n) * sizeof(int));
	c->n_fds -= n;
	return 0;
}

/* Interrupts are written from the single event-loop thread: anything but
 * an eventfd (a pipe that fills up, a socket) could block the whole NIC. */
static bool is_eventfd(int fd)
{
	char path[64], target[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

static void config_space(uint8_t *cfg)
{
	memset(cfg, 0, CONFIG_SPACE_SIZE);
	cfg[0] = VF_PCI_VENDOR & 0xff;
	cfg[1] = VF_PCI_VENDOR >> 8;
	cfg[2] = VF_PCI_DEVICE & 0xff;
	cfg[3] = VF_PCI_DEVICE >> 8;
	cfg[8] = 0x01;		/* revision */
	cfg[11] = 0x02;		/* class: network controller, ethernet */
}

static int region_access(struct vfio_user_conn *c, struct vfu_region_access *a, uint8_t *data, bool write)
{
	struct nic_vf *vf = &c->nic->slot[c->vf].vf;

	if (a->region == VFIO_PCI_CONFIG_REGION_INDEX) {
		uint8_t cfg[CONFIG_SPACE_SIZE];
		if (a->offset > CONFIG_SPACE_SIZE || a->count > CONFIG_SPACE_SIZE - a->offset)
			return -EINVAL;
		if (!write) {
			config_space(cfg);
			memcpy(data, cfg + a->offset, a->count);
		}
		return 0;	/* config writes are ignored: nothing is configurable */
	}
	if (a->region != VFIO_PCI_BAR0_REGION_INDEX)
		return -EINVAL;
	if (a->offset >= VF_BAR0_SIZE || a->count > VF_BAR0_SIZE - a->offset)
		return -EINVAL;
	if (a->count == 4 || a->count == 8) {
		for (uint32_t done = 0; done < a->count; done += 4) {
			uint32_t v;
			if (write) {
				memcpy(&v, data + done, 4);
				nic_vf_write(vf, (uint32_t)a->offset + done, v);
			} else {
				v = nic_vf_read(vf, (uint32_t)a->offset + done);
				memcpy(data + done, &v, 4);
			}
		}
		return 0;
	}
	/* The device decodes 32-bit accesses only. */
	vf->err.bad_width++;
	return -EINVAL;
}

static int handle(struct vfio_user_conn *c, const struct vfu_header *h, uint8_t *p, size_t len)
{
	struct nic_vf_slot *s = &c->nic->slot[c->vf];
	int fds[VFU_MAX_FDS];

	if (!c->versioned && h->command != VFU_VERSION)
		return send_reply(c, h, EINVAL, NULL, 0);
	switch (h->command) {
	case VFU_VERSION: {
		struct vfu_version v;
		if (len < sizeof(v))
			return send_reply(c, h, EINVAL, NULL, 0);
		memcpy(&v, p, sizeof(v));
		if (v.major != VFU_VERSION_MAJOR) {
			log_warn("vf%u: client speaks vfio-user %u.%u, we speak %u.%u", c->vf, v.major, v.minor,
				 VFU_VERSION_MAJOR, VFU_VERSION_MINOR);
			return send_reply(c, h, ENOTSUP, NULL, 0);
		}
		char reply[sizeof(v) + 128];
		struct vfu_version mine = { VFU_VERSION_MAJOR, VFU_VERSION_MINOR };
		memcpy(reply, &mine, sizeof(mine));
		int n = snprintf(reply + sizeof(mine), sizeof(reply) - sizeof(mine),
				 "{\"capabilities\":{\"max_msg_fds\":%d,\"max_data_xfer_size\":%u}}", VFU_MAX_FDS,
				 VFU_MAX_MSG_SIZE - 64);
		c->versioned = true;
		return send_reply(c, h, 0, reply, sizeof(mine) + (size_t)n + 1);
	}
	case VFU_DMA_MAP: {
		struct vfu_dma_map m;
		if (len < sizeof(m) || take_fds(c, fds, 1) < 0)
			return send_reply(c, h, EINVAL, NULL, 0);
		memcpy(&m, p, sizeof(m));
		int ret = dma_map_fd(&s->vf.dma, m.addr, m.size, fds[0], m.offset);
		close(fds[0]);	/* the mapping keeps the memory */
		if (ret < 0) {
			const char *why = ret == -EPERM ? "the memory fd is not sealed against shrinking"
					  : ret == -ERANGE ? "the range runs past the end of the memory fd"
							   : strerror(-ret);
			log_warn("vf%u: DMA_MAP [0x%llx, +0x%llx) refused: %s", c->vf, (unsigned long long)m.addr,
				 (unsigned long long)m.size, why);
			return send_reply(c, h, -ret, NULL, 0);
		}
		log_info("vf%u: DMA window [0x%llx, 0x%llx) mapped", c->vf, (unsigned long long)m.addr,
			 (unsigned long long)(m.addr + m.size));
		return send_reply(c, h, 0, NULL, 0);
	}
	case VFU_DMA_UNMAP: {
		struct vfu_dma_unmap u;
		if (len < sizeof(u))
			return send_reply(c, h, EINVAL, NULL, 0);
		memcpy(&u, p, sizeof(u));
		int ret = dma_unmap(&s->vf.dma, u.addr, u.size);
		return send_reply(c, h, ret < 0 ? -ret : 0, &u, sizeof(u));
	}
	case VFU_DEVICE_GET_INFO: {
		struct vfu_device_info info = {
			.argsz = sizeof(info), .flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET,
			.num_regions = VFIO_PCI_NUM_REGIONS, .num_irqs = VFIO_PCI_NUM_IRQS,
		};
		return send_reply(c, h, 0, &info, sizeof(info));
	}
	case VFU_DEVICE_GET_REGION_INFO: {
		struct vfu_region_info r;
		if (len < sizeof(r))
			return send_reply(c, h, EINVAL, NULL, 0);
		memcpy(&r, p, sizeof(r));
		if (r.index >= VFIO_PCI_NUM_REGIONS)
			return send_reply(c, h, EINVAL, NULL, 0);
		r.argsz = sizeof(r);
		r.cap_offset = 0;
		r.offset = 0;
		r.flags = 0;
		r.size = 0;
		if (r.index == VFIO_PCI_BAR0_REGION_INDEX || r.index == VFIO_PCI_CONFIG_REGION_INDEX) {
			r.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
			r.size = r.index == VFIO_PCI_BAR0_REGION_INDEX ? VF_BAR0_SIZE : CONFIG_SPACE_SIZE;
		}
		return send_reply(c, h, 0, &r, sizeof(r));
	}
	case VFU_DEVICE_GET_IRQ_INFO: {
		struct vfu_irq_info i;
		if (len < sizeof(i))
			return send_reply(c, h, EINVAL, NULL, 0);
		memcpy(&i, p, sizeof(i));
		if (i.index >= VFIO_PCI_NUM_IRQS)
			return send_reply(c, h, EINVAL, NULL, 0);
		i.argsz = sizeof(i);
		i.flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;
		i.count = i.index == VFIO_PCI_MSIX_IRQ_INDEX ? VF_NUM_VECTORS : 0;
		return send_reply(c, h, 0, &i, sizeof(i));
	}
	case VFU_DEVICE_SET_IRQS: {
		struct vfu_irq_set set;
		if (len < sizeof(set))
			return send_reply(c, h, EINVAL, NULL, 0);
		memcpy(&set, p, sizeof(set));
		if (set.index != VFIO_PCI_MSIX_IRQ_INDEX || !(set.flags & VFIO_IRQ_SET_ACTION_TRIGGER) ||
		    set.start > VF_NUM_VECTORS || set.count > VF_NUM_VECTORS - set.start)
			return send_reply(c, h, EINVAL, NULL, 0);
		if (set.flags & VFIO_IRQ_SET_DATA_EVENTFD) {
			if (take_fds(c, fds, set.count) < 0)
				return send_reply(c, h, EINVAL, NULL, 0);
			for (uint32_t i = 0; i < set.count; i++) {
				if (!is_eventfd(fds[i])) {
					log_warn("vf%u: SET_IRQS refused: vector %u's fd is not an eventfd", c->vf,
						 set.start + i);
					close_fds(fds, set.count);
					return send_reply(c, h, EINVAL, NULL, 0);
				}
			}
			for (uint32_t i = 0; i < set.count; i++) {
				int *slot_fd = &s->irq_fd[set.start + i];
				if (*slot_fd >= 0)
					close(*slot_fd);
				*slot_fd = fds[i];
			}
		} else if ((set.flags & VFIO_IRQ_SET_DATA_NONE) && set.count == 0) {
			for (unsigned v = 0; v < VF_NUM_VECTORS; v++) {
				if (s->irq_fd[v] >= 0)
					close(s->irq_fd[v]);
				s->irq_fd[v] = -1;
			}
		} else {
			return send_reply(c, h, EINVAL, NULL, 0);
		}
		return send_reply(c, h, 0, NULL, 0);
	}
	case VFU_REGION_READ:
	case VFU_REGION_WRITE: {
		struct vfu_region_access a;
		bool write = h->command == VFU_REGION_WRITE;
		if (len < sizeof(a))
			return send_reply(c, h, EINVAL, NULL, 0);
		memcpy(&a, p, sizeof(a));
		if (a.count > VFU_MAX_MSG_SIZE - sizeof(*h) - sizeof(a) ||
		    (write && len - sizeof(a) < a.count))
			return send_reply(c, h, EINVAL, NULL, 0);
		uint8_t reply[sizeof(a) + CONFIG_SPACE_SIZE];
		if (!write && a.count > CONFIG_SPACE_SIZE)
			return send_reply(c, h, EINVAL, NULL, 0);
		int ret = region_access(c, &a, write ? p + sizeof(a) : reply + sizeof(a), write);
		if (ret < 0)
			return send_reply(c, h, -ret, NULL, 0);
		memcpy(reply, &a, sizeof(a));
		return send_reply(c, h, 0, reply, sizeof(a) + (write ? 0 : a.count));
	}
	case VFU_DEVICE_RESET:
		nic_vf_reset(&s->vf);
		return send_reply(c, h, 0, NULL, 0);
	default:
		return send_reply(c, h, ENOSYS, NULL, 0);
	}
}

static void conn_close(struct nic *nic, struct nic_vf_slot *s)
{
	struct vfio_user_conn *c = s->conn;

	if (!c)
		return;
	if (nic->loop)
		evloop_remove(nic->loop, c->fd);
	close(c->fd);
	close_fds(c->fds, c->n_fds);
	/* The VMM is gone: the device forgets it, as after a hot-unplug. */
	for (unsigned v = 0; v < VF_NUM_VECTORS; v++) {
		if (s->irq_fd[v] >= 0)
			close(s->irq_fd[v]);
		s->irq_fd[v] = -1;
	}
	dma_unmap_all(&s->vf.dma);
	nic_vf_reset(&s->vf);
	log_info("vf%u: VMM disconnected after %llu messages", c->vf, (unsigned long long)c->messages);
	free(c);
	s->conn = NULL;
}

static void conn_readable(void *opaque, uint32_t events)
{
	struct vfio_user_conn *c = opaque;
	struct nic *nic = c->nic;
	struct nic_vf_slot *s = &nic->slot[c->vf];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VFU_MAX_FDS)];
	} control;
	struct iovec iov = { c->buf + c->have, sizeof(c->buf) - c->have };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };

	(void)events;
	ssize_t n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(nic, s);
		return;
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned nfd = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int *in = (int *)CMSG_DATA(cm);
		for (unsigned i = 0; i < nfd; i++) {
			if (c->n_fds < VFU_MAX_FDS)
				c->fds[c->n_fds++] = in[i];
			else
				close(in[i]);
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		log_warn("vf%u: file descriptors truncated in a message", c->vf);
	c->have += (size_t)n;

	while (c->have >= sizeof(struct vfu_header)) {
		struct vfu_header h;
		memcpy(&h, c->buf, sizeof(h));
		if (h.msg_size < sizeof(h) || h.msg_size > VFU_MAX_MSG_SIZE ||
		    (h.flags & VFU_FLAG_TYPE_MASK) != VFU_FLAG_COMMAND) {
			log_warn("vf%u: protocol error (message size %u, flags 0x%x); closing the connection",
				 c->vf, h.msg_size, h.flags);
			conn_close(nic, s);
			nic_service(nic);
			return;
		}
		if (c->have < h.msg_size)
			break;
		c->messages++;
		if (handle(c, &h, c->buf + sizeof(h), h.msg_size - sizeof(h)) < 0) {
			conn_close(nic, s);
			nic_service(nic);
			return;
		}
		memmove(c->buf, c->buf + h.msg_size, c->have - h.msg_size);
		c->have -= h.msg_size;
		/* Descriptors that came with a message that did not use them
		 * are closed once nothing else is pending. */
		if (c->have == 0) {
			close_fds(c->fds, c->n_fds);
			c->n_fds = 0;
		}
	}
	nic_service(nic);
}

static void listener_readable(void *opaque, uint32_t events)
{
	struct nic_vf_slot *s = opaque;
	struct nic *nic = nic_of(&s->vf);
	unsigned vf = s->vf.index;

	(void)events;
	/* The peer gets the VF's registers and DMA into memory it names:
	 * only a trusted one is served (the owner's uid, root or the
	 * configured group; unix_sock.h), and it is checked before the slot
	 * is taken, so a refused peer cannot keep a VMM out. */
	char what[16];
	snprintf(what, sizeof(what), "vf%u", vf);
	int fd = unix_sock_accept(s->listen_fd, 0, what, &s->refused_log);
	if (fd < 0)
		return;
	if (s->conn) {
		log_warn("vf%u: refused a second VMM connection (the VF is in use)", vf);
		close(fd);
		return;
	}
	struct vfio_user_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->vf = vf;
	c->nic = nic;
	if (evloop_add(nic->loop, fd, EPOLLIN, conn_readable, c) < 0) {
		close(fd);
		free(c);
		return;
	}
	s->conn = c;
	log_info("vf%u: VMM connected", vf);
}

/* The core drops connections through this when the NIC goes away. */
static const struct nic_transport_ops vfio_user_transport_ops = {
	.disconnect = conn_close,
};

int vfio_user_listen(struct nic *nic, unsigned vf, const char *path, char *err, size_t err_len)
{
	struct nic_vf_slot *s = &nic->slot[vf];

	/* 0600, or 0660 for the group of $COMPSC_SOCKET_GROUP: VMMs of
	 * another user can be let in without opening pf.sock to them. */
	s->listen_fd = unix_sock_listen(path, 4, 0, UNIX_SOCK_GROUP, err, err_len);
	if (s->listen_fd < 0) {
		int ret = s->listen_fd;
		s->listen_fd = -1;
		return ret;
	}
	nic->transport = &vfio_user_transport_ops;
	return evloop_add(nic->loop, s->listen_fd, EPOLLIN, listener_readable, s);
}
