/* igbvf rings and interrupts. */
#include "../../../common/bootinfo.h"
#include "../../../common/csc_errno.h"
#include "guest/arch.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "igbvf.h"

int igbvf_probe(struct igbvf_adapter *a, unsigned instance)
{
	const struct csc_boot_dev *dev = csc_bootinfo_find_dev(rt_bootinfo, CSC_DEV_VF_82576, instance);

	memset(a, 0, sizeof(*a));
	if (!dev || dev->mmio_len < VF_BAR0_SIZE || dev->irq_count < VF_NUM_VECTORS)
		return -ENODEV;
	a->hw.bar = (volatile uint32_t *)dev->mmio_base;
	a->hw.mac = &igbvf_mac_ops_82576;
	a->hw.mbx = &igbvf_mbx_ops_82576;
	a->vector_base = dev->irq_vector;
	return a->hw.mac->reset_hw(&a->hw);
}

static int ring_alloc(struct igbvf_ring *r, unsigned count)
{
	r->count = count;
	r->desc = rt_alloc(count * 16, 128);
	r->buffers = rt_alloc((size_t)count * IGBVF_BUF_SIZE, 4096);
	memset((void *)r->desc, 0, count * 16);
	r->next_to_use = r->next_to_clean = r->pending = 0;
	return 0;
}

static void configure_tx(struct igbvf_adapter *a)
{
	struct igbvf_hw *hw = &a->hw;
	uint64_t base = (uint64_t)(uintptr_t)a->tx.desc;

	igbvf_wr32(hw, VF_TXDCTL(0), 0);
	igbvf_wr32(hw, VF_TDBAL(0), (uint32_t)base);
	igbvf_wr32(hw, VF_TDBAH(0), (uint32_t)(base >> 32));
	igbvf_wr32(hw, VF_TDLEN(0), a->tx.count * 16);
	igbvf_wr32(hw, VF_TDT(0), 0);
	igbvf_wr32(hw, VF_TXDCTL(0), VF_QUEUE_ENABLE | (1u << 16) /* WTHRESH 1 */);
}

static void rx_arm(struct igbvf_ring *r, unsigned i)
{
	volatile struct vf_rx_desc_read *d = (volatile struct vf_rx_desc_read *)r->desc + i;

	d->pkt_addr = (uint64_t)(uintptr_t)(r->buffers + (size_t)i * IGBVF_BUF_SIZE);
	d->hdr_addr = 0;	/* also clears the write-back status (DD) */
}

static void configure_rx(struct igbvf_adapter *a)
{
	struct igbvf_hw *hw = &a->hw;
	struct igbvf_ring *r = &a->rx;
	uint64_t base = (uint64_t)(uintptr_t)r->desc;

	igbvf_wr32(hw, VF_RXDCTL(0), 0);
	igbvf_wr32(hw, VF_RDBAL(0), (uint32_t)base);
	igbvf_wr32(hw, VF_RDBAH(0), (uint32_t)(base >> 32));
	igbvf_wr32(hw, VF_RDLEN(0), r->count * 16);
	igbvf_wr32(hw, VF_SRRCTL(0), (IGBVF_BUF_SIZE / 1024) | VF_SRRCTL_DESCTYPE_ADV_ONEBUF | VF_SRRCTL_DROP_EN);
	igbvf_wr32(hw, VF_RXDCTL(0), VF_QUEUE_ENABLE);
	/* Give all but one descriptor to the hardware: it owns [head, tail). */
	for (unsigned i = 0; i < r->count; i++)
		rx_arm(r, i);
	wmb();
	r->next_to_use = r->count - 1;
	igbvf_wr32(hw, VF_RDT(0), r->count - 1);
}

static void configure_interrupts(struct igbvf_adapter *a)
{
	struct igbvf_hw *hw = &a->hw;

	if (!a->irq_mode) {
		igbvf_wr32(hw, VF_EIMC, VF_EICR_MASK);
		return;
	}
	igbvf_wr32(hw, VF_IVAR0, ((IGBVF_VEC_RX0 | VF_IVAR_VALID) << VF_IVAR_RX0_SHIFT) |
					 ((IGBVF_VEC_TX0 | VF_IVAR_VALID) << VF_IVAR_TX0_SHIFT));
	igbvf_wr32(hw, VF_IVAR_MISC, IGBVF_VEC_OTHER | VF_IVAR_VALID);
	/* ~20000 interrupts/s at most per vector: 50 us / 256 ns. */
	for (unsigned v = 0; v < VF_NUM_VECTORS; v++)
		igbvf_wr32(hw, VF_EITR(v), 196);
	igbvf_wr32(hw, VF_EIAC, VF_EICR_MASK);
	igbvf_wr32(hw, VF_EIAM, VF_EICR_MASK);
	igbvf_wr32(hw, VF_EIMS, VF_EICR_MASK);
}

int igbvf_up(struct igbvf_adapter *a, bool irq_mode)
{
	if (!a->rx.count) {
		ring_alloc(&a->rx, IGBVF_RX_RING_SIZE);
		ring_alloc(&a->tx, IGBVF_TX_RING_SIZE);
	}
	a->irq_mode = irq_mode;
	configure_tx(a);
	configure_rx(a);
	configure_interrupts(a);
	igbvf_update_stats(a);	/* learn the counters' starting values */
	a->up = true;
	return 0;
}

void igbvf_down(struct igbvf_adapter *a)
{
	igbvf_wr32(&a->hw, VF_EIMC, VF_EICR_MASK);
	igbvf_wr32(&a->hw, VF_RXDCTL(0), 0);
	igbvf_wr32(&a->hw, VF_TXDCTL(0), 0);
	a->up = false;
}

unsigned igbvf_rx_poll(struct igbvf_adapter *a, unsigned budget, igbvf_rx_fn fn, void *ctx)
{
	struct igbvf_ring *r = &a->rx;
	unsigned done = 0;

	while (done < budget) {
		volatile struct vf_rx_desc_wb *wb = (volatile struct vf_rx_desc_wb *)r->desc + r->next_to_clean;
		uint32_t status = __atomic_load_n(&wb->status_error, __ATOMIC_ACQUIRE);
		if (!(status & VF_RXD_STAT_DD))
			break;
		rmb();	/* read the rest of the descriptor only after DD */
		unsigned len = wb->length;
		if ((status & VF_RXD_STAT_EOP) && len <= IGBVF_BUF_SIZE) {
			fn(ctx, r->buffers + (size_t)r->next_to_clean * IGBVF_BUF_SIZE, len);
			a->stats.rx_frames++;
			a->stats.rx_bytes += len;
		} else {
			a->stats.rx_errors++;	/* frames spanning buffers are not expected */
		}
		rx_arm(r, r->next_to_clean);
		r->next_to_clean = (r->next_to_clean + 1) % r->count;
		r->pending++;
		done++;
	}
	/* Give the recycled descriptors back in one tail write. */
	if (r->pending && (r->pending >= IGBVF_RX_REFILL_BATCH || done < budget)) {
		wmb();
		r->next_to_use = (r->next_to_clean + r->count - 1) % r->count;
		igbvf_wr32(&a->hw, VF_RDT(0), r->next_to_use);
		r->pending = 0;
	}
	return done;
}

unsigned igbvf_tx_clean(struct igbvf_adapter *a)
{
	struct igbvf_ring *r = &a->tx;

	while (r->next_to_clean != r->next_to_use) {
		volatile struct vf_tx_desc *d = (volatile struct vf_tx_desc *)r->desc + r->next_to_clean;
		if (!(__atomic_load_n(&d->olinfo_status, __ATOMIC_ACQUIRE) & VF_TXD_STAT_DD))
			break;
		r->next_to_clean = (r->next_to_clean + 1) % r->count;
	}
	return (r->next_to_use + r->count - r->next_to_clean) % r->count;
}

int igbvf_xmit(struct igbvf_adapter *a, const void *frame, unsigned len)
{
	struct igbvf_ring *r = &a->tx;

	if (len > IGBVF_BUF_SIZE || len < 14)
		return -EINVAL;
	unsigned next = (r->next_to_use + 1) % r->count;
	if (next == r->next_to_clean) {
		igbvf_tx_clean(a);
		if (next == r->next_to_clean) {
			a->stats.tx_busy++;
			return -EBUSY;
		}
	}
	uint8_t *buf = r->buffers + (size_t)r->next_to_use * IGBVF_BUF_SIZE;
	memcpy(buf, frame, len);
	volatile struct vf_tx_desc *d = (volatile struct vf_tx_desc *)r->desc + r->next_to_use;
	d->buffer_addr = (uint64_t)(uintptr_t)buf;
	d->olinfo_status = len << VF_TXD_PAYLEN_SHIFT;
	d->cmd_type_len = len | VF_TXD_DTYP_DATA | VF_TXD_CMD_DEXT | VF_TXD_CMD_IFCS | VF_TXD_CMD_EOP |
			  VF_TXD_CMD_RS;
	r->next_to_use = next;
	r->pending++;
	a->stats.tx_frames++;
	a->stats.tx_bytes += len;
	return 0;
}

void igbvf_tx_flush(struct igbvf_adapter *a)
{
	if (!a->tx.pending)
		return;
	wmb();	/* descriptors before the doorbell */
	igbvf_wr32(&a->hw, VF_TDT(0), a->tx.next_to_use);
	a->tx.pending = 0;
}

void igbvf_irq_enable(struct igbvf_adapter *a)
{
	if (a->irq_mode)
		igbvf_wr32(&a->hw, VF_EIMS, VF_EICR_MASK);
}

static void accumulate(struct igbvf_counter *c, uint32_t now)
{
	/* The register wraps at 2^32; a smaller value means one wrap. */
	if (now < c->last)
		c->total += 1ull << 32;
	c->total = (c->total & ~0xffffffffull) | now;
	c->last = now;
}

void igbvf_update_stats(struct igbvf_adapter *a)
{
	struct igbvf_hw *hw = &a->hw;
	struct igbvf_stats *s = &a->stats;

	accumulate(&s->gprc, igbvf_rd32(hw, VF_GPRC));
	accumulate(&s->gptc, igbvf_rd32(hw, VF_GPTC));
	accumulate(&s->gorc, igbvf_rd32(hw, VF_GORC));
	accumulate(&s->gotc, igbvf_rd32(hw, VF_GOTC));
	accumulate(&s->mprc, igbvf_rd32(hw, VF_MPRC));
	accumulate(&s->gprlbc, igbvf_rd32(hw, VF_GPRLBC));
	accumulate(&s->gptlbc, igbvf_rd32(hw, VF_GPTLBC));
	accumulate(&s->gorlbc, igbvf_rd32(hw, VF_GORLBC));
	accumulate(&s->gotlbc, igbvf_rd32(hw, VF_GOTLBC));
}
