/* virtio-net driver: initialisation (spec 3.1.1 and 4.2.3), split rings,
 * batched kicks, event-index interrupt control. See virtio_net.h. */
#include "virtio_net.h"

#include "../../common/csc_errno.h"
#include "guest/arch.h"
#include "guest/mmio.h"
#include "guest/rt.h"
#include "guest/string.h"

static inline uint32_t rd(struct vnet_dev *v, uint32_t off)
{
	return mmio_read32(&v->regs[off / 4]);
}

static inline void wr(struct vnet_dev *v, uint32_t off, uint32_t val)
{
	mmio_write32(&v->regs[off / 4], val);
}

static int setup_ring(struct vnet_dev *v, unsigned q, struct vnet_ring *r, bool device_writes)
{
	wr(v, VIRTIO_MMIO_QUEUE_SEL, q);
	if (rd(v, VIRTIO_MMIO_QUEUE_READY))
		return -EBUSY;
	uint32_t max = rd(v, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max < VNET_QUEUE_SIZE)
		return -ENOSPC;
	r->num = VNET_QUEUE_SIZE;
	/* One page-aligned area per ring part: simple, and well inside RAM. */
	r->desc = rt_alloc(virtq_desc_size(r->num), 4096);
	r->avail = rt_alloc(virtq_avail_size(r->num), 4096);
	r->used = rt_alloc(virtq_used_size(r->num), 4096);
	r->bufs = rt_alloc((size_t)r->num * VNET_BUF_SIZE, 4096);
	memset(r->desc, 0, virtq_desc_size(r->num));
	memset(r->avail, 0, virtq_avail_size(r->num));
	memset(r->used, 0, virtq_used_size(r->num));
	r->used_event = &r->avail->ring[r->num];
	r->avail_event = (volatile uint16_t *)&r->used->ring[r->num];
	r->avail_idx = r->kicked_idx = r->last_used = 0;
	for (unsigned i = 0; i < r->num; i++) {
		r->desc[i].addr = (uint64_t)(uintptr_t)(r->bufs + (size_t)i * VNET_BUF_SIZE);
		r->desc[i].len = VNET_BUF_SIZE;
		r->desc[i].flags = device_writes ? VIRTQ_DESC_F_WRITE : 0;
	}
	wr(v, VIRTIO_MMIO_QUEUE_NUM, r->num);
	uint64_t a[3] = { (uintptr_t)r->desc, (uintptr_t)r->avail, (uintptr_t)r->used };
	wr(v, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)a[0]);
	wr(v, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(a[0] >> 32));
	wr(v, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)a[1]);
	wr(v, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(a[1] >> 32));
	wr(v, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)a[2]);
	wr(v, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(a[2] >> 32));
	wr(v, VIRTIO_MMIO_QUEUE_READY, 1);
	return 0;
}

int vnet_init(struct vnet_dev *v, const struct csc_boot_dev *d)
{
	memset(v, 0, sizeof(*v));
	v->instance = d->instance;
	v->regs = (volatile uint32_t *)(uintptr_t)d->mmio_base;
	v->vector = d->irq_vector;
	if (rd(v, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC || rd(v, VIRTIO_MMIO_VERSION) != 2 ||
	    rd(v, VIRTIO_MMIO_DEVICE_ID) != VIRTIO_ID_NET)
		return -ENOENT;

	wr(v, VIRTIO_MMIO_STATUS, 0);
	wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

	wr(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t offered = rd(v, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)rd(v, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	uint64_t wanted = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MAC) |
			  (1ull << VIRTIO_RING_F_EVENT_IDX);
	uint64_t features = offered & wanted;
	if (!(features & (1ull << VIRTIO_F_VERSION_1))) {
		wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_FAILED);
		return -ENOSYS;
	}
	v->event_idx = !!(features & (1ull << VIRTIO_RING_F_EVENT_IDX));
	wr(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(rd(v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
		wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_FAILED);
		return -ENOSYS;
	}

	if (features & (1ull << VIRTIO_NET_F_MAC)) {
		volatile uint8_t *cfg = (volatile uint8_t *)v->regs + VIRTIO_MMIO_CONFIG;
		for (int i = 0; i < 6; i++)
			v->mac[i] = mmio_read8(&cfg[i]);
	} else {
		static const uint8_t fallback[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
		memcpy(v->mac, fallback, 6);
	}

	int ret = setup_ring(v, VIRTIO_NET_Q_RX, &v->rx, true);
	if (ret == 0)
		ret = setup_ring(v, VIRTIO_NET_Q_TX, &v->tx, false);
	if (ret < 0) {
		wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_FAILED);
		return ret;
	}
	/* All receive buffers to the device. */
	for (unsigned i = 0; i < v->rx.num; i++)
		v->rx.avail->ring[i] = (uint16_t)i;
	v->rx.avail_idx = v->rx.num;
	__atomic_store_n(&v->rx.avail->idx, v->rx.avail_idx, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < v->tx.num; i++)
		v->tx_free[i] = (uint16_t)(v->tx.num - 1 - i);
	v->n_tx_free = v->tx.num;
	/* No transmit interrupts unless we wait for slots (vnet_arm_interrupt). */
	*v->tx.used_event = 0x8000;
	if (!v->event_idx)
		v->tx.avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;

	wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
				      VIRTIO_STATUS_DRIVER_OK);
	v->rx.kicked_idx = v->rx.avail_idx;
	wr(v, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_NET_Q_RX);
	return 0;
}

static void reap_tx(struct vnet_dev *v)
{
	struct vnet_ring *r = &v->tx;
	uint16_t used = __atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE);

	while (r->last_used != used) {
		uint32_t id = r->used->ring[r->last_used & (r->num - 1)].id;
		r->last_used++;
		if (id >= r->num || v->n_tx_free >= r->num) {
			v->broken = true;
			continue;
		}
		v->tx_free[v->n_tx_free++] = (uint16_t)id;
	}
}

unsigned vnet_poll(struct vnet_dev *v, unsigned budget, vnet_rx_fn fn, void *arg)
{
	struct vnet_ring *r = &v->rx;
	uint16_t used = __atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE);
	unsigned n = 0;

	while (r->last_used != used && n < budget) {
		struct virtq_used_elem e = r->used->ring[r->last_used & (r->num - 1)];
		r->last_used++;
		if (e.id >= r->num) {
			v->st.rx_bad++;
			v->broken = true;
			continue;
		}
		if (e.len > sizeof(struct virtio_net_hdr) && e.len <= VNET_BUF_SIZE) {
			size_t len = e.len - sizeof(struct virtio_net_hdr);
			fn(arg, r->bufs + (size_t)e.id * VNET_BUF_SIZE + sizeof(struct virtio_net_hdr), len);
			v->st.rx_packets++;
			v->st.rx_bytes += len;
		} else {
			v->st.rx_bad++;
		}
		/* Give the buffer straight back. */
		r->avail->ring[r->avail_idx & (r->num - 1)] = (uint16_t)e.id;
		r->avail_idx++;
		n++;
	}
	if (n)
		__atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
	reap_tx(v);
	return n;
}

uint8_t *vnet_tx_buffer(struct vnet_dev *v)
{
	if (!v->n_tx_free) {
		reap_tx(v);
		if (!v->n_tx_free) {
			/* Ring full: make sure the device knows, then wait briefly. */
			vnet_flush(v);
			uint64_t until = clock_us() + 2000;
			while (!v->n_tx_free && clock_us() < until) {
				arch_pause();
				reap_tx(v);
			}
			if (!v->n_tx_free) {
				v->st.tx_full++;
				return NULL;
			}
		}
	}
	uint16_t id = v->tx_free[v->n_tx_free - 1];
	return v->tx.bufs + (size_t)id * VNET_BUF_SIZE + sizeof(struct virtio_net_hdr);
}

void vnet_tx_commit(struct vnet_dev *v, size_t len)
{
	struct vnet_ring *r = &v->tx;
	uint16_t id = v->tx_free[--v->n_tx_free];
	uint8_t *buf = r->bufs + (size_t)id * VNET_BUF_SIZE;

	memset(buf, 0, sizeof(struct virtio_net_hdr));
	r->desc[id].len = (uint32_t)(sizeof(struct virtio_net_hdr) + len);
	r->avail->ring[r->avail_idx & (r->num - 1)] = id;
	r->avail_idx++;
	__atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
	v->st.tx_packets++;
	v->st.tx_bytes += len;
}

static void kick_if_needed(struct vnet_dev *v, unsigned q, struct vnet_ring *r)
{
	if (r->kicked_idx == r->avail_idx)
		return;
	/* The avail->idx store must be visible before we read the device's
	 * wish; the device does the mirror image. */
	mb();
	bool need = v->event_idx ? virtq_need_event(*r->avail_event, r->avail_idx, r->kicked_idx)
				 : !(__atomic_load_n(&r->used->flags, __ATOMIC_RELAXED) & VIRTQ_USED_F_NO_NOTIFY);
	r->kicked_idx = r->avail_idx;
	if (need) {
		wr(v, VIRTIO_MMIO_QUEUE_NOTIFY, q);
		v->st.kicks++;
	}
}

void vnet_flush(struct vnet_dev *v)
{
	kick_if_needed(v, VIRTIO_NET_Q_TX, &v->tx);
	kick_if_needed(v, VIRTIO_NET_Q_RX, &v->rx);
}

bool vnet_arm_interrupt(struct vnet_dev *v)
{
	vnet_flush(v);
	if (v->event_idx) {
		*v->rx.used_event = v->rx.last_used;
		if (!v->n_tx_free)
			*v->tx.used_event = v->tx.last_used;
	} else {
		v->rx.avail->flags = 0;
	}
	mb();
	v->st.sleeps++;
	return __atomic_load_n(&v->rx.used->idx, __ATOMIC_ACQUIRE) != v->rx.last_used ||
	       (!v->n_tx_free && __atomic_load_n(&v->tx.used->idx, __ATOMIC_ACQUIRE) != v->tx.last_used);
}

bool vnet_needs_reset(struct vnet_dev *v)
{
	return v->broken || (rd(v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}
