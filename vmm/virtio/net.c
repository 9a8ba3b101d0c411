/* virtio-net device model: virtio-mmio transport, TAP back-end thread.
 * See net.h for the design; virtqueue.c for ring handling and its checks.
 *
 * Locking: `lock` protects the transport registers and both virtqueues. The
 * vCPU thread takes it for each register access, the back-end thread for
 * each processing pass. The hot path (kick -> back-end, back-end -> irqfd)
 * involves no vCPU exit to this process at all. */
#include "net.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../common/layout.h"
#include "../../common/log.h"
#include "../../common/mac.h"
#include "../../common/tap.h"
#include "../../common/virtio.h"
#include "../vm.h"
#include "../migration/devstate.h"
#include "virtqueue.h"

#define NET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr))
#define MMIO_LEN 0x1000u
#define BUDGET 256		/* packets per queue per pass */
#define MAX_FRAME 65536

static const uint64_t offered_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MAC) |
					 (1ull << VIRTIO_NET_F_STATUS) | (1ull << VIRTIO_RING_F_EVENT_IDX);

struct virtio_net {
	struct vm *vm;
	unsigned instance;
	uint64_t mmio_base;
	char tap_name[TAP_IFNAMSIZ];
	int tap_fd;

	pthread_mutex_t lock;
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint64_t driver_features;
	uint32_t isr;		/* atomic: the back-end sets bits without the lock held long */
	uint32_t config_generation;
	struct virtio_net_config cfg;
	struct virtqueue vq[2];
	struct vq_mem mem;
	bool broken;
	/* Stopped with the VM (pause hook), or received by migration and not
	 * activated yet: the back-end touches neither queues nor memory. */
	bool quiesced;

	uint32_t irq_vector;
	int irq_gsi, irq_efd;
	int kick_fd[2];
	bool ioeventfd_on[2];
	int ctl_fd;		/* eventfd: registers changed, or stop */
	int epfd;
	bool tap_polled;
	volatile bool stop;
	pthread_t thread;
	bool thread_started;

	struct vq_chain chain;	/* back-end thread only */
	struct iovec iov[VQ_MAX_CHAIN];
	struct virtio_net_stats st;
	struct ratelimit log_rl;
};

static void mark_dirty_cb(void *opaque, uint64_t gpa, uint64_t len)
{
	vm_mark_dirty(opaque, gpa, len);
}

/* ---- options ---------------------------------------------------------- */

int virtio_net_parse(const char *spec, struct virtio_net_opts *o, char *err, size_t err_len)
{
	memset(o, 0, sizeof(*o));
	if (strncmp(spec, "tap:", 4) != 0) {
		snprintf(err, err_len, "'%s': expected tap:NAME[,mac=MAC]", spec);
		return -EINVAL;
	}
	const char *name = spec + 4, *comma = strchr(name, ',');
	size_t len = comma ? (size_t)(comma - name) : strlen(name);
	if (len == 0 || len >= sizeof(o->tap) || memchr(name, '/', len)) {
		snprintf(err, err_len, "'%s': the TAP name must have 1 to %zu characters", spec, sizeof(o->tap) - 1);
		return -EINVAL;
	}
	memcpy(o->tap, name, len);
	while (comma) {
		const char *opt = comma + 1;
		comma = strchr(opt, ',');
		size_t olen = comma ? (size_t)(comma - opt) : strlen(opt);
		char buf[64];
		if (olen >= sizeof(buf)) {
			snprintf(err, err_len, "'%s': option too long", spec);
			return -EINVAL;
		}
		memcpy(buf, opt, olen);
		buf[olen] = '\0';
		if (strncmp(buf, "mac=", 4) == 0 && mac_parse(buf + 4, o->mac) == 0 && mac_is_unicast(o->mac)) {
			o->has_mac = 1;
		} else {
			snprintf(err, err_len, "'%s': bad option '%s' (mac=xx:xx:xx:xx:xx:xx, unicast)", spec, buf);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- interrupts and failure ------------------------------------------ */

static void raise_irq(struct virtio_net *n, uint32_t why)
{
	__atomic_fetch_or(&n->isr, why, __ATOMIC_SEQ_CST);
	n->st.interrupts++;
	irq_raise(n->irq_efd);
}

/* Caller holds the lock. The device stops processing until the driver
 * resets it (status 0), as the spec's DEVICE_NEEDS_RESET says. */
static void mark_broken(struct virtio_net *n, const char *what, int q)
{
	uint64_t suppressed;

	if (n->broken)
		return;
	n->broken = true;
	n->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (ratelimit_pass(&n->log_rl, &suppressed))
		log_error("virtio-net%u: %s on queue %d (avail %u, used %u): device needs reset", n->instance,
			  what, q, q >= 0 ? n->vq[q].last_avail : 0, q >= 0 ? n->vq[q].used_idx : 0);
	raise_irq(n, VIRTIO_MMIO_INT_CONFIG);
}

static bool running(const struct virtio_net *n)
{
	return (n->status & VIRTIO_STATUS_DRIVER_OK) && !n->broken && !n->quiesced && n->vq[0].active &&
	       n->vq[1].active;
}

static int register_migration(struct virtio_net *n);

/* ---- back-end --------------------------------------------------------- */

/* Caller holds the lock. Returns true if the budget ran out (more to do). */
static bool process_tx(struct virtio_net *n)
{
	struct virtqueue *vq = &n->vq[VIRTIO_NET_Q_TX];
	struct vq_chain *c = &n->chain;
	unsigned done = 0;

	for (;;) {
		vq_disable_kicks(vq);
		while (done < BUDGET) {
			int r = vq_pop(vq, c);
			if (r < 0) {
				mark_broken(n, "malformed transmit chain", VIRTIO_NET_Q_TX);
				return false;
			}
			if (r == 0)
				break;
			/* Skip the header; whatever the driver put there, no offload
			 * was negotiated. */
			size_t skip = NET_HDR_LEN;
			unsigned k = 0;
			for (unsigned i = 0; i < c->n_out; i++) {
				size_t l = c->out[i].iov_len;
				if (skip >= l) {
					skip -= l;
					continue;
				}
				n->iov[k++] = (struct iovec){ (uint8_t *)c->out[i].iov_base + skip, l - skip };
				skip = 0;
			}
			size_t frame = c->out_len > NET_HDR_LEN ? c->out_len - NET_HDR_LEN : 0;
			if (frame < 14 || frame > MAX_FRAME) {
				n->st.tx_errors++;
			} else if (writev(n->tap_fd, n->iov, (int)k) < 0) {
				uint64_t suppressed;
				n->st.tx_errors++;
				if (errno != EAGAIN && ratelimit_pass(&n->log_rl, &suppressed))
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
				raise_irq(n, VIRTIO_MMIO_INT_VRING);
		}
		if (done >= BUDGET)
			return true;
		if (!vq_enable_kicks(vq))
			return false;
	}
}

/* Caller holds the lock. Returns true if more frames may be waiting. */
static bool process_rx(struct virtio_net *n, bool *need_buffers)
{
	struct virtqueue *vq = &n->vq[VIRTIO_NET_Q_RX];
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
			mark_broken(n, r < 0 ? "malformed receive chain" : "receive chain too small or readable",
				    VIRTIO_NET_Q_RX);
			return false;
		}
		/* readv straight into guest memory after the header. */
		size_t skip = NET_HDR_LEN;
		unsigned k = 0;
		for (unsigned i = 0; i < c->n_in; i++) {
			size_t l = c->in[i].iov_len;
			if (skip >= l) {
				skip -= l;
				continue;
			}
			n->iov[k++] = (struct iovec){ (uint8_t *)c->in[i].iov_base + skip, l - skip };
			skip = 0;
		}
		ssize_t got = readv(n->tap_fd, n->iov, (int)k);
		if (got <= 0) {
			vq_unpop(vq);
			if (got < 0 && errno != EAGAIN) {
				uint64_t suppressed;
				if (ratelimit_pass(&n->log_rl, &suppressed))
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
			raise_irq(n, VIRTIO_MMIO_INT_VRING);
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
			if (fd == n->kick_fd[0] || fd == n->kick_fd[1] || fd == n->ctl_fd) {
				if (read(fd, &v, sizeof(v)) == sizeof(v) && fd != n->ctl_fd)
					n->st.kicks++;
			}
		}
		if (n->stop)
			break;
		pthread_mutex_lock(&n->lock);
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
		pthread_mutex_unlock(&n->lock);
	}
	return NULL;
}

static void wake_backend(struct virtio_net *n)
{
	uint64_t one = 1;

	if (write(n->ctl_fd, &one, sizeof(one)) < 0)
		log_warn("virtio-net%u: cannot wake the back-end: %s", n->instance, strerror(errno));
}

/* ---- transport -------------------------------------------------------- */

/* Caller holds the lock. */
static void device_reset(struct virtio_net *n)
{
	for (int q = 0; q < 2; q++)
		vq_reset(&n->vq[q]);
	n->status = 0;
	n->driver_features = 0;
	n->dev_features_sel = n->drv_features_sel = n->queue_sel = 0;
	__atomic_store_n(&n->isr, 0, __ATOMIC_SEQ_CST);
	n->broken = false;
}

static struct virtqueue *selected_queue(struct virtio_net *n)
{
	return n->queue_sel < 2 ? &n->vq[n->queue_sel] : NULL;
}

static uint32_t reg_read(struct virtio_net *n, uint64_t off)
{
	struct virtqueue *vq = selected_queue(n);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_2;
	case VIRTIO_MMIO_DEVICE_ID:
		return VIRTIO_ID_NET;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_VENDOR_COMPSC;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return n->dev_features_sel == 0 ? (uint32_t)offered_features
		       : n->dev_features_sel == 1 ? (uint32_t)(offered_features >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return vq ? VIRTIO_NET_QUEUE_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_NUM:
		return vq ? vq->num : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&n->isr, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_STATUS:
		return n->status;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return vq ? (uint32_t)vq->desc_gpa : 0;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return vq ? (uint32_t)(vq->desc_gpa >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
		return vq ? (uint32_t)vq->avail_gpa : 0;
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		return vq ? (uint32_t)(vq->avail_gpa >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
		return vq ? (uint32_t)vq->used_gpa : 0;
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		return vq ? (uint32_t)(vq->used_gpa >> 32) : 0;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return n->config_generation;
	default:
		return 0;
	}
}

static void set_addr(uint64_t *a, uint32_t v, bool high)
{
	*a = high ? (*a & 0xffffffffull) | ((uint64_t)v << 32) : (*a & ~0xffffffffull) | v;
}

static void write_status(struct virtio_net *n, uint32_t v)
{
	if (v == 0) {
		device_reset(n);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(n->status & VIRTIO_STATUS_FEATURES_OK)) {
		/* Only modern drivers: without VERSION_1, refuse FEATURES_OK. */
		if (!(n->driver_features & (1ull << VIRTIO_F_VERSION_1))) {
			log_warn("virtio-net%u: driver did not accept VERSION_1; refusing FEATURES_OK", n->instance);
			v &= ~VIRTIO_STATUS_FEATURES_OK;
		}
	}
	n->status = v | (n->status & VIRTIO_STATUS_NEEDS_RESET);
	if (v & VIRTIO_STATUS_DRIVER_OK)
		wake_backend(n);
}

static void reg_write(struct virtio_net *n, uint64_t off, uint32_t v)
{
	struct virtqueue *vq = selected_queue(n);
	bool features_open = !(n->status & VIRTIO_STATUS_FEATURES_OK);

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		n->dev_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		n->drv_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (!features_open || n->drv_features_sel > 1)
			break;
		if (n->drv_features_sel == 0)
			n->driver_features = (n->driver_features & ~0xffffffffull) | v;
		else
			n->driver_features = (n->driver_features & 0xffffffffull) | ((uint64_t)v << 32);
		n->driver_features &= offered_features;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		n->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (vq && !vq->ready)
			vq->num = v <= 0xffff ? (uint16_t)v : 0;	/* checked at QueueReady */
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (!vq)
			break;
		if (v & 1) {
			vq->event_idx = !!(n->driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX));
			vq->ready = true;
			if (vq_activate(vq, &n->mem) < 0)
				mark_broken(n, "bad queue size or ring address", (int)n->queue_sel);
		} else {
			vq->ready = false;
			vq->active = false;
		}
		wake_backend(n);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (vq && !vq->ready)
			set_addr(&vq->desc_gpa, v, off == VIRTIO_MMIO_QUEUE_DESC_HIGH);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		if (vq && !vq->ready)
			set_addr(&vq->avail_gpa, v, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH);
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		if (vq && !vq->ready)
			set_addr(&vq->used_gpa, v, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* The ioeventfd takes the valid values; this is a fallback. */
		if (v < 2)
			irq_raise(n->kick_fd[v]);
		else
			log_debug("virtio-net%u: notify of queue %u ignored", n->instance, v);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&n->isr, ~v, __ATOMIC_SEQ_CST);
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(n, v);
		break;
	default:
		log_debug("virtio-net%u: write 0x%x to read-only or unknown register +0x%" PRIx64, n->instance,
			  v, off);
		break;
	}
}

static void net_mmio(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_net *n = dev;

	pthread_mutex_lock(&n->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		/* Device configuration: byte-granular, read-only. */
		uint64_t co = off - VIRTIO_MMIO_CONFIG;
		if (!is_write) {
			memset(data, 0, len);
			if (co < sizeof(n->cfg))
				memcpy(data, (uint8_t *)&n->cfg + co,
				       len < sizeof(n->cfg) - co ? len : sizeof(n->cfg) - co);
		}
	} else if (len != 4 || (off & 3)) {
		if (!is_write)
			memset(data, 0xff, len);
		log_debug("virtio-net%u: ignored %u-byte access at +0x%" PRIx64, n->instance, len, off);
	} else if (is_write) {
		uint32_t v;
		memcpy(&v, data, 4);
		reg_write(n, off, v);
	} else {
		uint32_t v = reg_read(n, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&n->lock);
}

/* ---- creation --------------------------------------------------------- */

static int ioeventfd(struct virtio_net *n, int q, bool on)
{
	struct kvm_ioeventfd io = {
		.datamatch = (uint64_t)q,
		.addr = n->mmio_base + VIRTIO_MMIO_QUEUE_NOTIFY,
		.len = 4,
		.fd = n->kick_fd[q],
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(n->vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

static int epoll_add_fd(int epfd, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

struct virtio_net *virtio_net_create(struct vm *vm, const struct virtio_net_opts *o, unsigned instance)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	int ret;

	if (!n)
		return NULL;
	if (instance >= VIRTIO_NET_MAX_DEVICES) {
		log_error("virtio-net: at most %d devices", VIRTIO_NET_MAX_DEVICES);
		free(n);
		return NULL;
	}
	n->vm = vm;
	n->instance = instance;
	n->mmio_base = vm_alloc_mmio_window(vm);
	n->tap_fd = n->irq_efd = n->ctl_fd = n->epfd = -1;
	n->kick_fd[0] = n->kick_fd[1] = -1;
	n->log_rl = (struct ratelimit)RATELIMIT_INIT(5);
	n->mem = (struct vq_mem){ .base = vm->ram, .size = vm->ram_size, .mark_dirty = mark_dirty_cb,
				  .opaque = vm };
	pthread_mutex_init(&n->lock, NULL);
	if (o->has_mac) {
		memcpy(n->cfg.mac, o->mac, 6);
	} else {
		static const uint8_t base_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
		memcpy(n->cfg.mac, base_mac, 6);
		n->cfg.mac[5] = (uint8_t)(base_mac[5] + instance);
	}
	n->cfg.status = VIRTIO_NET_S_LINK_UP;
	n->cfg.max_virtqueue_pairs = 1;
	n->cfg.mtu = 1500;

	ret = tap_open(o->tap, n->tap_name);
	if (ret < 0) {
		log_error("virtio-net%u: cannot attach to TAP device '%s': %s%s", instance, o->tap, strerror(-ret),
			  ret == -EPERM || ret == -EACCES ? " (needs CAP_NET_ADMIN or a TAP owned by you)" : "");
		goto fail;
	}
	n->tap_fd = ret;
	n->irq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->kick_fd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->kick_fd[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (n->irq_efd < 0 || n->ctl_fd < 0 || n->kick_fd[0] < 0 || n->kick_fd[1] < 0 || n->epfd < 0) {
		log_error("virtio-net%u: eventfd/epoll: %s", instance, strerror(errno));
		goto fail;
	}
	n->irq_vector = irq_alloc_vectors(&vm->irq, 1);
	if (!n->irq_vector) {
		log_error("virtio-net%u: no interrupt vector left", instance);
		goto fail;
	}
	n->irq_gsi = irq_add_msi_route(&vm->irq, n->irq_vector, 0);
	if (n->irq_gsi < 0 || (ret = irq_attach_eventfd(&vm->irq, n->irq_gsi, n->irq_efd)) < 0) {
		log_error("virtio-net%u: cannot route vector %u: %s", instance, n->irq_vector,
			  strerror(n->irq_gsi < 0 ? -n->irq_gsi : -ret));
		goto fail;
	}
	for (int q = 0; q < 2; q++) {
		ret = ioeventfd(n, q, true);
		if (ret < 0) {
			log_error("virtio-net%u: KVM_IOEVENTFD: %s", instance, strerror(-ret));
			goto fail;
		}
		n->ioeventfd_on[q] = true;
	}
	if ((ret = epoll_add_fd(n->epfd, n->ctl_fd, EPOLLIN)) < 0 ||
	    (ret = epoll_add_fd(n->epfd, n->kick_fd[0], EPOLLIN)) < 0 ||
	    (ret = epoll_add_fd(n->epfd, n->kick_fd[1], EPOLLIN)) < 0 ||
	    (ret = epoll_add_fd(n->epfd, n->tap_fd, 0)) < 0) {
		log_error("virtio-net%u: epoll: %s", instance, strerror(-ret));
		goto fail;
	}
	ret = bus_register(&vm->bus, n->mmio_base, MMIO_LEN, "virtio-net", n, net_mmio);
	if (ret < 0) {
		log_error("virtio-net%u: cannot claim MMIO window 0x%" PRIx64 ": %s", instance, n->mmio_base,
			  strerror(-ret));
		goto fail;
	}
	ret = pthread_create(&n->thread, NULL, backend_thread, n);
	if (ret) {
		log_error("virtio-net%u: cannot start the back-end thread: %s", instance, strerror(ret));
		bus_unregister(&vm->bus, n->mmio_base);
		goto fail;
	}
	n->thread_started = true;
	if (register_migration(n) < 0) {
		log_error("virtio-net%u: cannot register for pause and migration", instance);
		goto fail;
	}
	char mac_text[MAC_STR_LEN];
	log_info("virtio-net%u: TAP %s, MAC %s, MMIO 0x%" PRIx64 ", vector 0x%x", instance, n->tap_name,
		 mac_format(n->cfg.mac, mac_text), n->mmio_base, n->irq_vector);
	return n;
fail:
	virtio_net_destroy(n);
	return NULL;
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	if (n->thread_started) {
		n->stop = true;
		wake_backend(n);
		pthread_join(n->thread, NULL);
		bus_unregister(&n->vm->bus, n->mmio_base);
		log_info("virtio-net%u: rx %" PRIu64 " packets %" PRIu64 " bytes (%" PRIu64 " times out of buffers),"
			 " tx %" PRIu64 " packets %" PRIu64 " bytes %" PRIu64 " errors, %" PRIu64 " kicks, %" PRIu64
			 " interrupts", n->instance, n->st.rx_packets, n->st.rx_bytes, n->st.rx_no_buffer,
			 n->st.tx_packets, n->st.tx_bytes, n->st.tx_errors, n->st.kicks, n->st.interrupts);
	}
	for (int q = 0; q < 2; q++)
		if (n->ioeventfd_on[q])
			ioeventfd(n, q, false);
	if (n->irq_gsi > 0)
		irq_detach_eventfd(&n->vm->irq, n->irq_gsi, n->irq_efd);
	int fds[] = { n->tap_fd, n->irq_efd, n->ctl_fd, n->kick_fd[0], n->kick_fd[1], n->epfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

uint64_t virtio_net_mmio_base(const struct virtio_net *n)
{
	return n->mmio_base;
}

uint64_t virtio_net_mmio_len(const struct virtio_net *n)
{
	(void)n;
	return MMIO_LEN;
}

uint32_t virtio_net_irq_vector(const struct virtio_net *n)
{
	return n->irq_vector;
}

void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *st)
{
	pthread_mutex_lock(&n->lock);
	*st = n->st;
	pthread_mutex_unlock(&n->lock);
}

/* ---- migration state -------------------------------------------------- */

void virtio_net_save(struct virtio_net *n, struct virtio_net_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&n->lock);
	s->version = VIRTIO_NET_STATE_VERSION;
	s->status = n->status;
	s->driver_features = n->driver_features;
	s->device_features_sel = n->dev_features_sel;
	s->driver_features_sel = n->drv_features_sel;
	s->queue_sel = n->queue_sel;
	s->isr = __atomic_load_n(&n->isr, __ATOMIC_SEQ_CST);
	s->config_generation = n->config_generation;
	s->link_status = n->cfg.status;
	memcpy(s->mac, n->cfg.mac, 6);
	for (int q = 0; q < 2; q++) {
		const struct virtqueue *vq = &n->vq[q];
		s->q[q] = (struct virtio_net_queue_state){
			.desc = vq->desc_gpa, .avail = vq->avail_gpa, .used = vq->used_gpa, .num = vq->num,
			.last_avail = vq->last_avail, .used_idx = vq->used_idx,
			.signalled_used = vq->signalled_used, .ready = vq->ready,
			.signalled_valid = vq->signalled_valid,
		};
	}
	pthread_mutex_unlock(&n->lock);
}

int virtio_net_load(struct virtio_net *n, const struct virtio_net_state *s)
{
	struct virtqueue vq[2];

	if (s->version != VIRTIO_NET_STATE_VERSION || (s->driver_features & ~offered_features) ||
	    (s->mac[0] & 1))
		return -EINVAL;
	for (int q = 0; q < 2; q++) {
		vq_reset(&vq[q]);
		vq[q].num = s->q[q].num;
		vq[q].desc_gpa = s->q[q].desc;
		vq[q].avail_gpa = s->q[q].avail;
		vq[q].used_gpa = s->q[q].used;
		vq[q].last_avail = s->q[q].last_avail;
		vq[q].used_idx = s->q[q].used_idx;
		vq[q].signalled_used = s->q[q].signalled_used;
		vq[q].signalled_valid = s->q[q].signalled_valid != 0;
		vq[q].ready = s->q[q].ready != 0;
		vq[q].event_idx = !!(s->driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX));
		if (vq[q].ready && vq_activate(&vq[q], &n->mem) < 0)
			return -EINVAL;
		if (vq[q].ready && (uint16_t)(vq[q].last_avail - vq[q].used_idx) > vq[q].num)
			return -EINVAL;
	}
	pthread_mutex_lock(&n->lock);
	n->status = s->status;
	n->driver_features = s->driver_features;
	n->dev_features_sel = s->device_features_sel;
	n->drv_features_sel = s->driver_features_sel;
	n->queue_sel = s->queue_sel;
	__atomic_store_n(&n->isr, s->isr & 3, __ATOMIC_SEQ_CST);
	n->config_generation = s->config_generation;
	n->cfg.status = s->link_status & VIRTIO_NET_S_LINK_UP;
	memcpy(n->cfg.mac, s->mac, 6);
	n->vq[0] = vq[0];
	n->vq[1] = vq[1];
	n->broken = (n->status & VIRTIO_STATUS_NEEDS_RESET) != 0;
	pthread_mutex_unlock(&n->lock);
	wake_backend(n);
	return 0;
}

/* ---- migration ---------------------------------------------------------- */

/* Pause hook: the back-end processes under n->lock, so once we hold it no
 * pass is in flight, and later passes see `quiesced`. */
static void net_pause(void *opaque)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->lock);
	n->quiesced = true;
	pthread_mutex_unlock(&n->lock);
}

static void net_resume(void *opaque)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->lock);
	n->quiesced = false;
	pthread_mutex_unlock(&n->lock);
	wake_backend(n);
}

static int net_mig_save(void *opaque, uint8_t *buf, size_t cap, size_t *len)
{
	struct virtio_net_state st;

	if (cap < sizeof(st))
		return -ENOSPC;
	virtio_net_save(opaque, &st);
	memcpy(buf, &st, sizeof(st));
	*len = sizeof(st);
	return 0;
}

static int net_mig_load(void *opaque, uint32_t version, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct virtio_net *n = opaque;
	struct virtio_net_state st;

	if (version != VIRTIO_NET_STATE_VERSION || len != sizeof(st)) {
		snprintf(err, errlen, "virtio-net state: version %u, %zu bytes (expected %u, %zu)", version, len,
			 VIRTIO_NET_STATE_VERSION, sizeof(st));
		return -EPROTO;
	}
	memcpy(&st, buf, sizeof(st));	/* untrusted: virtio_net_load checks every field */
	/* Quiet until activation: the last pages of guest RAM arrive after
	 * the device state and must not race with frames written here. */
	net_pause(n);
	int ret = virtio_net_load(n, &st);
	if (ret < 0)
		snprintf(err, errlen, "virtio-net state is inconsistent (queue addresses, sizes or indices)");
	return ret;
}

static void net_mig_activate(void *opaque)
{
	net_resume(opaque);
}

/* One registry entry per instance: the destination matches them by name. */
#define MIG_OPS(i)                                                                              \
	{ .name = "virtio-net" #i, .version = VIRTIO_NET_STATE_VERSION,                         \
	  .min_load_version = VIRTIO_NET_STATE_VERSION, .save = net_mig_save, .load = net_mig_load, \
	  .activate = net_mig_activate }
static const struct mig_device_ops virtio_net_mig_ops[VIRTIO_NET_MAX_DEVICES] = {
	MIG_OPS(0), MIG_OPS(1), MIG_OPS(2), MIG_OPS(3),
};
_Static_assert(VIRTIO_NET_MAX_DEVICES == 4, "one MIG_OPS entry per possible instance");

static int register_migration(struct virtio_net *n)
{
	int ret = vm_add_pause_hook(n->vm, net_pause, net_resume, n);

	if (ret == 0 && n->vm->mig_devices)
		ret = mig_registry_add(n->vm->mig_devices, &virtio_net_mig_ops[n->instance], n);
	return ret;
}
