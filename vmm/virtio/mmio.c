/* The virtio-mmio transport: registers, KVM wiring, migratable state.
 * See mmio.h for the design and the differences from the spec. */
#include "mmio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../../common/virtio.h"
#include "../migration/stream.h"
#include "../vm.h"

#define Q_READY 1u
#define Q_SIGNALLED_VALID 2u

void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_mmio_params *p)
{
	memset(t, 0, sizeof(*t));
	t->p = *p;
	pthread_mutex_init(&t->lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
		vq_reset(&t->vq[q]);
		t->kick_fd[q] = -1;
	}
	t->irq_efd = -1;
	t->log_rl = (struct ratelimit)RATELIMIT_INIT(5);
}

/* ---- interrupts and failure ------------------------------------------ */

void virtio_mmio_raise(struct virtio_mmio *t, uint32_t why)
{
	__atomic_fetch_or(&t->isr, why, __ATOMIC_SEQ_CST);
	t->interrupts++;
	if (t->irq_efd >= 0)
		irq_raise(t->irq_efd);
}

void virtio_mmio_mark_broken(struct virtio_mmio *t, const char *what, int q)
{
	uint64_t suppressed;

	if (t->broken)
		return;
	t->broken = true;
	t->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (ratelimit_pass(&t->log_rl, &suppressed))
		log_error("%s%u: %s on queue %d (avail %u, used %u): device needs reset", t->p.name, t->p.instance,
			  what, q, q >= 0 ? t->vq[q].last_avail : 0, q >= 0 ? t->vq[q].used_idx : 0);
	virtio_mmio_raise(t, VIRTIO_MMIO_INT_CONFIG);
}

bool virtio_mmio_live(const struct virtio_mmio *t)
{
	if (!(t->status & VIRTIO_STATUS_DRIVER_OK) || t->broken)
		return false;
	for (unsigned q = 0; q < t->p.n_queues; q++)
		if (!t->vq[q].active)
			return false;
	return true;
}

/* ---- registers --------------------------------------------------------- */

/* Lock held. */
static void device_reset(struct virtio_mmio *t)
{
	for (unsigned q = 0; q < t->p.n_queues; q++)
		vq_reset(&t->vq[q]);
	t->status = 0;
	t->driver_features = 0;
	t->dev_features_sel = t->drv_features_sel = t->queue_sel = 0;
	__atomic_store_n(&t->isr, 0, __ATOMIC_SEQ_CST);
	t->broken = false;
}

static struct virtqueue *selected_queue(struct virtio_mmio *t)
{
	return t->queue_sel < t->p.n_queues ? &t->vq[t->queue_sel] : NULL;
}

/* QueueDesc, QueueDriver and QueueDevice are 64-bit addresses in Low/High
 * register pairs (High = Low + 4): the address a register names, NULL for
 * other registers. */
static uint64_t *queue_addr(struct virtqueue *vq, uint64_t off)
{
	switch (off & ~4ull) {
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return &vq->desc_gpa;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
		return &vq->avail_gpa;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
		return &vq->used_gpa;
	default:
		return NULL;
	}
}

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
	struct virtqueue *vq = selected_queue(t);
	uint64_t features = t->p.features;
	static struct virtqueue none;	/* no queue selected: addresses read 0 */
	const uint64_t *addr = queue_addr(vq ? vq : &none, off);

	if (addr)
		return (uint32_t)(*addr >> (off & 4 ? 32 : 0));
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_2;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->p.device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_VENDOR_COMPSC;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return t->dev_features_sel == 0 ? (uint32_t)features
		       : t->dev_features_sel == 1 ? (uint32_t)(features >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return vq ? t->p.queue_max : 0;
	case VIRTIO_MMIO_QUEUE_NUM:
		return vq ? vq->num : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&t->isr, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return t->config_generation;
	default:
		log_debug("%s%u: read of write-only or unknown register +0x%" PRIx64, t->p.name, t->p.instance,
			  off);
		return 0;
	}
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
	if (v == 0) {
		device_reset(t);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(t->status & VIRTIO_STATUS_FEATURES_OK)) {
		/* Only modern drivers: without VERSION_1, refuse FEATURES_OK. */
		if (!(t->driver_features & (1ull << VIRTIO_F_VERSION_1))) {
			log_warn("%s%u: driver did not accept VERSION_1; refusing FEATURES_OK", t->p.name,
				 t->p.instance);
			v &= ~VIRTIO_STATUS_FEATURES_OK;
		}
	}
	t->status = v | (t->status & VIRTIO_STATUS_NEEDS_RESET);
	if (v & VIRTIO_STATUS_DRIVER_OK)
		t->p.ops->notify(t->p.dev);
}

static void reg_write(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtqueue *vq = selected_queue(t);
	bool features_open = !(t->status & VIRTIO_STATUS_FEATURES_OK);
	struct virtqueue none;	/* no queue selected: the write goes nowhere */
	uint64_t *addr = queue_addr(vq ? vq : &none, off);

	if (addr) {
		/* Fixed while the queue is ready (checked at QueueReady). */
		if (vq && !vq->ready)
			*addr = off & 4 ? (*addr & 0xffffffffull) | ((uint64_t)v << 32) : (*addr & ~0xffffffffull) | v;
		return;
	}
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->dev_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->drv_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (!features_open || t->drv_features_sel > 1)
			break;
		if (t->drv_features_sel == 0)
			t->driver_features = (t->driver_features & ~0xffffffffull) | v;
		else
			t->driver_features = (t->driver_features & 0xffffffffull) | ((uint64_t)v << 32);
		t->driver_features &= t->p.features;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (vq && !vq->ready)
			vq->num = v <= 0xffff ? (uint16_t)v : 0;	/* checked at QueueReady */
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (!vq)
			break;
		if (v & 1) {
			vq->event_idx = !!(t->driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX));
			vq->ready = true;
			if (vq_activate(vq, &t->p.mem) < 0)
				virtio_mmio_mark_broken(t, "bad queue size or ring address", (int)t->queue_sel);
		} else {
			vq->ready = false;
			vq->active = false;
		}
		t->p.ops->notify(t->p.dev);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* The ioeventfd takes the valid values; this is a fallback. */
		if (v < t->p.n_queues && t->kick_fd[v] >= 0)
			irq_raise(t->kick_fd[v]);
		else
			log_debug("%s%u: notify of queue %u ignored", t->p.name, t->p.instance, v);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&t->isr, ~v, __ATOMIC_SEQ_CST);
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(t, v);
		break;
	default:
		log_debug("%s%u: write 0x%x to read-only or unknown register +0x%" PRIx64, t->p.name,
			  t->p.instance, v, off);
		break;
	}
}

void virtio_mmio_access(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_mmio *t = opaque;

	pthread_mutex_lock(&t->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		/* Device configuration: byte-granular, read-only. */
		if (!is_write) {
			memset(data, 0, len);
			t->p.ops->config_read(t->p.dev, off - VIRTIO_MMIO_CONFIG, data, len);
		}
	} else if (len != 4 || (off & 3)) {
		if (!is_write)
			memset(data, 0xff, len);
		log_debug("%s%u: ignored %u-byte access at +0x%" PRIx64, t->p.name, t->p.instance, len, off);
	} else if (is_write) {
		uint32_t v;
		memcpy(&v, data, 4);
		reg_write(t, off, v);
	} else {
		uint32_t v = reg_read(t, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
}

/* ---- wiring to the VM ---------------------------------------------------- */

/* QUEUE_NOTIFY writes signal the queue's kick eventfd without a trip
 * through the bus where the accelerator can (KVM's ioeventfd); the bus
 * handler raises it itself otherwise. */
static int ioeventfd(struct virtio_mmio *t, unsigned q, bool on)
{
	return vm_ioeventfd(t->vm, t->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, (uint64_t)q, t->kick_fd[q], on);
}

int virtio_mmio_attach(struct virtio_mmio *t, struct vm *vm)
{
	const char *name = t->p.name;
	unsigned inst = t->p.instance;
	int ret;

	t->vm = vm;
	t->base = vm_alloc_mmio_window(vm);
	bool failed = (t->irq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0;
	for (unsigned q = 0; q < t->p.n_queues && !failed; q++)
		failed = (t->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0;
	if (failed) {
		ret = -errno;
		log_error("%s%u: eventfd: %s", name, inst, strerror(-ret));
		return ret;
	}
	t->irq_vector = irq_alloc_vectors(&vm->irq, 1);
	if (!t->irq_vector) {
		log_error("%s%u: no interrupt vector left", name, inst);
		return -ENOSPC;
	}
	t->irq_gsi = irq_add_msi_route(&vm->irq, t->irq_vector, 0);
	if (t->irq_gsi < 0 || (ret = irq_attach_eventfd(&vm->irq, t->irq_gsi, t->irq_efd)) < 0) {
		ret = t->irq_gsi < 0 ? t->irq_gsi : ret;
		log_error("%s%u: cannot route vector %u: %s", name, inst, t->irq_vector, strerror(-ret));
		return ret;
	}
	for (unsigned q = 0; q < t->p.n_queues; q++) {
		ret = ioeventfd(t, q, true);
		if (ret < 0) {
			log_error("%s%u: ioeventfd: %s", name, inst, strerror(-ret));
			return ret;
		}
		t->ioeventfd_on[q] = true;
	}
	ret = bus_register(&vm->bus, t->base, VIRTIO_MMIO_LEN, name, t, virtio_mmio_access);
	if (ret < 0) {
		log_error("%s%u: cannot claim MMIO window 0x%" PRIx64 ": %s", name, inst, t->base, strerror(-ret));
		return ret;
	}
	t->on_bus = true;
	return 0;
}

void virtio_mmio_fini(struct virtio_mmio *t)
{
	if (t->on_bus)
		bus_unregister(&t->vm->bus, t->base);
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
		if (t->ioeventfd_on[q])
			ioeventfd(t, q, false);
		if (t->kick_fd[q] >= 0)
			close(t->kick_fd[q]);
	}
	if (t->irq_gsi > 0)
		irq_detach_eventfd(&t->vm->irq, t->irq_gsi, t->irq_efd);
	if (t->irq_efd >= 0)
		close(t->irq_efd);
	pthread_mutex_destroy(&t->lock);
}

/* ---- migratable state --------------------------------------------------- */

size_t virtio_mmio_state_len(const struct virtio_mmio *t)
{
	return VIRTIO_MMIO_STATE_HDR + VIRTIO_MMIO_STATE_QUEUE * t->p.n_queues;
}

void virtio_mmio_save(const struct virtio_mmio *t, uint8_t *buf)
{
	mig_put32(buf + 0, t->status);
	mig_put32(buf + 4, t->dev_features_sel);
	mig_put32(buf + 8, t->drv_features_sel);
	mig_put32(buf + 12, t->queue_sel);
	mig_put64(buf + 16, t->driver_features);
	mig_put32(buf + 24, __atomic_load_n(&t->isr, __ATOMIC_SEQ_CST));
	mig_put32(buf + 28, t->config_generation);
	mig_put32(buf + 32, t->p.n_queues);
	for (unsigned q = 0; q < t->p.n_queues; q++) {
		const struct virtqueue *vq = &t->vq[q];
		uint8_t *p = buf + VIRTIO_MMIO_STATE_HDR + VIRTIO_MMIO_STATE_QUEUE * q;
		mig_put64(p + 0, vq->desc_gpa);
		mig_put64(p + 8, vq->avail_gpa);
		mig_put64(p + 16, vq->used_gpa);
		mig_put16(p + 24, vq->num);
		mig_put16(p + 26, vq->last_avail);
		mig_put16(p + 28, vq->used_idx);
		mig_put16(p + 30, vq->signalled_used);
		mig_put32(p + 32, (vq->ready ? Q_READY : 0) | (vq->signalled_valid ? Q_SIGNALLED_VALID : 0));
	}
}

int virtio_mmio_check(const struct virtio_mmio *t, const uint8_t *buf, struct virtio_mmio_loaded *out, char *err,
		      size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->status = mig_get32(buf + 0);
	out->dev_features_sel = mig_get32(buf + 4);
	out->drv_features_sel = mig_get32(buf + 8);
	out->queue_sel = mig_get32(buf + 12);
	out->driver_features = mig_get64(buf + 16);
	out->isr = mig_get32(buf + 24);
	out->config_generation = mig_get32(buf + 28);
	uint32_t n_queues = mig_get32(buf + 32);

	if (n_queues != t->p.n_queues) {
		snprintf(err, errlen, "%u queues, the device has %u", n_queues, t->p.n_queues);
		return -EINVAL;
	}
	if (out->driver_features & ~t->p.features) {
		snprintf(err, errlen, "driver features 0x%" PRIx64 " beyond those offered (0x%" PRIx64 ")",
			 out->driver_features, t->p.features);
		return -EINVAL;
	}
	/* write_status never lets FEATURES_OK through without VERSION_1. */
	if ((out->status & VIRTIO_STATUS_FEATURES_OK) && !(out->driver_features & (1ull << VIRTIO_F_VERSION_1))) {
		snprintf(err, errlen, "FEATURES_OK without VERSION_1");
		return -EINVAL;
	}
	if (out->isr & ~(VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)) {
		snprintf(err, errlen, "interrupt status 0x%x has unknown bits", out->isr);
		return -EINVAL;
	}
	for (unsigned q = 0; q < n_queues; q++) {
		const uint8_t *p = buf + VIRTIO_MMIO_STATE_HDR + VIRTIO_MMIO_STATE_QUEUE * q;
		struct virtqueue *vq = &out->vq[q];
		uint32_t flags = mig_get32(p + 32);

		vq_reset(vq);
		vq->desc_gpa = mig_get64(p + 0);
		vq->avail_gpa = mig_get64(p + 8);
		vq->used_gpa = mig_get64(p + 16);
		vq->num = mig_get16(p + 24);
		vq->last_avail = mig_get16(p + 26);
		vq->used_idx = mig_get16(p + 28);
		vq->signalled_used = mig_get16(p + 30);
		vq->ready = flags & Q_READY;
		vq->signalled_valid = flags & Q_SIGNALLED_VALID;
		vq->event_idx = !!(out->driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX));
		if (flags & ~(Q_READY | Q_SIGNALLED_VALID)) {
			snprintf(err, errlen, "queue %u: unknown flags 0x%x", q, flags);
			return -EINVAL;
		}
		if (!vq->ready)
			continue;
		/* A ready queue is activated here, against this VM's RAM:
		 * that checks size and addresses as QueueReady would. */
		if (vq_activate(vq, &t->p.mem) < 0) {
			snprintf(err, errlen, "queue %u: size %u or ring addresses out of range", q, vq->num);
			return -EINVAL;
		}
		if ((uint16_t)(vq->last_avail - vq->used_idx) > vq->num) {
			snprintf(err, errlen, "queue %u: %u entries in flight in a ring of %u", q,
				 (uint16_t)(vq->last_avail - vq->used_idx), vq->num);
			return -EINVAL;
		}
	}
	return 0;
}

void virtio_mmio_apply(struct virtio_mmio *t, const struct virtio_mmio_loaded *in)
{
	t->status = in->status;
	t->driver_features = in->driver_features;
	t->dev_features_sel = in->dev_features_sel;
	t->drv_features_sel = in->drv_features_sel;
	t->queue_sel = in->queue_sel;
	__atomic_store_n(&t->isr, in->isr, __ATOMIC_SEQ_CST);
	t->config_generation = in->config_generation;
	for (unsigned q = 0; q < t->p.n_queues; q++)
		t->vq[q] = in->vq[q];
	t->broken = (t->status & VIRTIO_STATUS_NEEDS_RESET) != 0;
}
