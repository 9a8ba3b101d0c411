/* virtio-net back-end: the TAP device and the thread that moves frames
 * between it and the virtqueues.
 *
 * The hot path involves no vCPU exit to this process: a guest kick is an
 * ioeventfd that wakes this thread (kick_fd), and an interrupt is an irqfd
 * this thread writes. Each processing pass holds the transport lock, so a
 * register access from a vCPU, a pause hook or a state load never sees a
 * half-processed queue. */
#include "net_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../common/log.h"

#define NET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr))
#define BUDGET 256		/* packets per queue per pass */
#define MAX_FRAME 65536

int net_tap_open(struct virtio_net *n, const char *tap)
{
	int fd = tap_open(tap, n->tap_name);

	if (fd < 0) {
		log_error("virtio-net%u: cannot attach to TAP device '%s': %s%s", n->instance, tap, strerror(-fd),
			  fd == -EPERM || fd == -EACCES ? " (needs CAP_NET_ADMIN or a TAP owned by you)" : "");
		return fd;
	}
	n->tap_fd = fd;
	return 0;
}

/* Lock held. The device may move frames: the driver is ready and neither
 * the VM's pause nor an unfinished migration holds it. */
static bool running(const struct virtio_net *n)
{
	return virtio_mmio_live(&n->mmio) && !n->quiesced;
}

/* The readable (tx) or writable (rx) part of a chain after the virtio-net
 * header, as an iovec array in n->iov; returns the number of entries. */
static unsigned payload_iov(struct virtio_net *n, const struct iovec *v, unsigned count)
{
	size_t skip = NET_HDR_LEN;
	unsigned k = 0;

	for (unsigned i = 0; i < count; i++) {
		size_t l = v[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		n->iov[k++] = (struct iovec){ (uint8_t *)v[i].iov_base + skip, l - skip };
		skip = 0;
	}
	return k;
}

/* Lock held. Returns true if the budget ran out (more to do). */
static bool process_tx(struct virtio_net *n)
{
	struct virtqueue *vq = &n->mmio.vq[VIRTIO_NET_Q_TX];
	struct vq_chain *c = &n->chain;
	unsigned done = 0;

	for (;;) {
		vq_disable_kicks(vq);
		while (done < BUDGET) {
			int r = vq_pop(vq, c);
			if (r < 0) {
				virtio_mmio_mark_broken(&n->mmio, "malformed transmit chain", VIRTIO_NET_Q_TX);
				return false;
			}
			if (r == 0)
				break;
			/* Skip the header; whatever the driver put there, no offload
			 * was negotiated. */
			unsigned k = payload_iov(n, c->out, c->n_out);
			size_t frame = c->out_len > NET_HDR_LEN ? c->out_len - NET_HDR_LEN : 0;
			if (frame < 14 || frame > MAX_FRAME) {
				n->st.tx_errors++;
			} else if (writev(n->tap_fd, n->iov, (int)k) < 0) {
				uint64_t suppressed;
				n->st.tx_errors++;
				if (errno != EAGAIN && ratelimit_pass(&n->mmio.log_rl, &suppressed))
					log_warn("virtio-net%u: write to %s: %s", n->instance, n->tap_name, strerror(errno));
			} else {
				n->st.tx_packets++;
				n->st.tx_bytes += frame;
			}
			vq_push(vq, c->head, 0);
			done++;
		}
		if (done) {
			vq_publish(vq);
			if (vq_should_notify(vq))
				virtio_mmio_raise(&n->mmio, VIRTIO_MMIO_INT_VRING);
		}
		if (done >= BUDGET)
			return true;
		if (!vq_enable_kicks(vq))
			return false;
	}
}

/* Lock held. Returns true if more frames may be waiting. */
static bool process_rx(struct virtio_net *n, bool *need_buffers)
{
	struct virtqueue *vq = &n->mmio.vq[VIRTIO_NET_Q_RX];
	struct vq_chain *c = &n->chain;
	static const struct virtio_net_hdr hdr = { .num_buffers = 1 };
	unsigned done = 0;
	bool more = false;

	*need_buffers = false;
	while (done < BUDGET) {
		int r = vq_pop(vq, c);
		if (r == 0) {
			/* Out of buffers: ask for a kick when the driver refills, and
			 * look once more in case it just did. */
			if (vq_enable_kicks(vq))
				continue;
			*need_buffers = true;
			break;
		}
		if (r < 0 || c->n_out || c->in_len < NET_HDR_LEN + 14) {
			virtio_mmio_mark_broken(&n->mmio,
						r < 0 ? "malformed receive chain" : "receive chain too small or readable",
						VIRTIO_NET_Q_RX);
			return false;
		}
		/* readv straight into guest memory after the header. */
		unsigned k = payload_iov(n, c->in, c->n_in);
		ssize_t got = readv(n->tap_fd, n->iov, (int)k);
		if (got <= 0) {
			vq_unpop(vq);
			if (got < 0 && errno != EAGAIN) {
				uint64_t suppressed;
				if (ratelimit_pass(&n->mmio.log_rl, &suppressed))
					log_warn("virtio-net%u: read from %s: %s", n->instance, n->tap_name,
						 strerror(errno));
			}
			break;
		}
		vq_chain_write(vq, c, 0, &hdr, NET_HDR_LEN);
		vq_chain_mark_written(vq, c, NET_HDR_LEN, (size_t)got);
		vq_push(vq, c->head, NET_HDR_LEN + (uint32_t)got);
		n->st.rx_packets++;
		n->st.rx_bytes += (uint64_t)got;
		done++;
	}
	if (done >= BUDGET)
		more = true;
	if (done) {
		vq_publish(vq);
		if (vq_should_notify(vq))
			virtio_mmio_raise(&n->mmio, VIRTIO_MMIO_INT_VRING);
	}
	return more;
}

static void set_tap_polling(struct virtio_net *n, bool on)
{
	if (n->tap_polled == on)
		return;
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.fd = n->tap_fd };
	if (epoll_ctl(n->epfd, EPOLL_CTL_MOD, n->tap_fd, &ev) == 0)
		n->tap_polled = on;
}

static void *backend_thread(void *arg)
{
	struct virtio_net *n = arg;
	struct epoll_event evs[8];
	bool more = false;

	while (!n->stop) {
		int k = epoll_wait(n->epfd, evs, 8, more ? 0 : -1);
		if (k < 0 && errno != EINTR) {
			log_error("virtio-net%u: epoll_wait: %s", n->instance, strerror(errno));
			break;
		}
		for (int i = 0; i < k; i++) {
			uint64_t v;
			int fd = evs[i].data.fd;
			bool kick = fd == n->mmio.kick_fd[0] || fd == n->mmio.kick_fd[1];
			if ((kick || fd == n->ctl_fd) && read(fd, &v, sizeof(v)) == sizeof(v) && kick)
				n->st.kicks++;
		}
		if (n->stop)
			break;
		pthread_mutex_lock(&n->mmio.lock);
		bool need_buffers = false;
		more = false;
		if (running(n)) {
			more |= process_tx(n);
			more |= process_rx(n, &need_buffers);
		}
		/* Poll the TAP only while the guest has receive buffers: with none,
		 * frames wait in the TAP queue (or the kernel drops them). */
		set_tap_polling(n, running(n) && !need_buffers);
		if (need_buffers)
			n->st.rx_no_buffer++;
		pthread_mutex_unlock(&n->mmio.lock);
	}
	return NULL;
}

void net_backend_wake(struct virtio_net *n)
{
	uint64_t one = 1;

	if (n->ctl_fd >= 0 && write(n->ctl_fd, &one, sizeof(one)) < 0)
		log_warn("virtio-net%u: cannot wake the back-end: %s", n->instance, strerror(errno));
}

static int epoll_add_fd(int epfd, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int net_backend_start(struct virtio_net *n)
{
	int ret;

	n->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (n->ctl_fd < 0 || n->epfd < 0) {
		ret = -errno;
		log_error("virtio-net%u: eventfd/epoll: %s", n->instance, strerror(-ret));
		return ret;
	}
	/* The TAP is added without events: set_tap_polling turns it on once
	 * the guest has receive buffers. */
	if ((ret = epoll_add_fd(n->epfd, n->ctl_fd, EPOLLIN)) < 0 ||
	    (ret = epoll_add_fd(n->epfd, n->mmio.kick_fd[0], EPOLLIN)) < 0 ||
	    (ret = epoll_add_fd(n->epfd, n->mmio.kick_fd[1], EPOLLIN)) < 0 ||
	    (ret = epoll_add_fd(n->epfd, n->tap_fd, 0)) < 0) {
		log_error("virtio-net%u: epoll: %s", n->instance, strerror(-ret));
		return ret;
	}
	ret = pthread_create(&n->thread, NULL, backend_thread, n);
	if (ret) {
		log_error("virtio-net%u: cannot start the back-end thread: %s", n->instance, strerror(ret));
		return -ret;
	}
	n->thread_started = true;
	return 0;
}

void net_backend_stop(struct virtio_net *n)
{
	if (n->thread_started) {
		n->stop = true;
		net_backend_wake(n);
		pthread_join(n->thread, NULL);
		n->thread_started = false;
	}
	int fds[] = { n->tap_fd, n->ctl_fd, n->epfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	n->tap_fd = n->ctl_fd = n->epfd = -1;
}
