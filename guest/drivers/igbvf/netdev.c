/* igbvf: the op sets (probe/reset, up, down, MAC, multicast, LPE), rings,
 * interrupts and statistics. Each op set and each data-path section runs
 * inside igbvf_csc_enter/exit (igbvf.h, compsc.c); the hardware steps are
 * shared with the restoration (igbvf_internal.h), so a migrated VF is
 * programmed by the same code as a fresh one. */
#include "../../../common/bootinfo.h"
#include "../../../common/csc_errno.h"
#include "../../../compsc/dirty.h"
#include "guest/arch.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "igbvf.h"
#include "igbvf_internal.h"

/* The statistics registers in struct igbvf_stats order (which is also
 * the register table's, and so the order of the area's counter list). */
const uint32_t igbvf_counter_regs[IGBVF_N_COUNTERS] = {
	VF_GPRC, VF_GPTC, VF_GORC, VF_GOTC, VF_MPRC, VF_GPRLBC, VF_GPTLBC, VF_GORLBC, VF_GOTLBC,
};

static struct igbvf_counter *stat_counter(struct igbvf_stats *s, unsigned i)
{
	struct igbvf_counter *const c[IGBVF_N_COUNTERS] = {
		&s->gprc, &s->gptc, &s->gorc, &s->gotc, &s->mprc, &s->gprlbc, &s->gptlbc, &s->gorlbc, &s->gotlbc,
	};

	return c[i];
}

/* ---- probe and reset: op set INIT ------------------------------------------ */

int igbvf_probe(struct igbvf_adapter *a, unsigned instance)
{
	const struct csc_boot_dev *dev = csc_bootinfo_find_dev(rt_bootinfo, CSC_DEV_VF_82576, instance);
	int ret;

	memset(a, 0, sizeof(*a));
	if (!dev || dev->mmio_len < VF_BAR0_SIZE || dev->irq_count < VF_NUM_VECTORS)
		return -ENODEV;
	a->hw.bar = (volatile uint32_t *)dev->mmio_base;
	a->hw.mac = &igbvf_mac_ops_82576;
	a->hw.mbx = &igbvf_mbx_ops_82576;
	a->vector_base = dev->irq_vector;
	a->instance = instance;
	/* The area is registered before the first op set, so that even a
	 * migration between here and the end of INIT is seen (the record
	 * then says "uninitialised" and the replay does nothing). */
	igbvf_csc_setup(a);

	if ((ret = igbvf_opset_begin(a, CSC_OP_INIT)))
		return ret;
	ret = a->hw.mac->reset_hw(&a->hw);
	if (ret == 0 && igbvf_csc_on(a))
		ret = csc_rec_mac(&a->csc.area->rec, a->hw.addr);
	/* Self-emulation starts from the counters' first readings (they
	 * survive VF resets, so only the probe does this). */
	for (unsigned i = 0; ret == 0 && i < IGBVF_N_COUNTERS; i++) {
		uint32_t raw = igbvf_rd32(&a->hw, igbvf_counter_regs[i]);
		if (a->csc.ctr[i])
			csc_counter_init(a->csc.ctr[i], igbvf_counter_regs[i], raw);
	}
	return igbvf_opset_end(a, CSC_OP_INIT, ret);
}

int igbvf_probe_again(struct igbvf_adapter *a)
{
	/* The rings' memory is the driver's, not the device's: a hot-plugged
	 * VF gets the same (the heap never frees). */
	struct igbvf_ring rx = a->rx, tx = a->tx;
	int ret = igbvf_probe(a, a->instance);

	a->rx.desc = rx.desc;
	a->rx.buffers = rx.buffers;
	a->rx.count = rx.count;
	a->tx.desc = tx.desc;
	a->tx.buffers = tx.buffers;
	a->tx.count = tx.count;
	return ret;
}

int igbvf_reset(struct igbvf_adapter *a)
{
	int ret = igbvf_opset_begin(a, CSC_OP_INIT);
	struct csc_rec *rec = igbvf_csc_on(a) ? &a->csc.area->rec : NULL;

	if (ret)
		return ret;
	if (a->up)
		return igbvf_opset_end(a, CSC_OP_INIT, -EBUSY);
	ret = a->hw.mac->reset_hw(&a->hw);
	/* The PF forgot the settings: give them again, inside this op set,
	 * so the record (which INIT cleared) holds them again too. */
	if (ret == 0 && a->mac_set)
		ret = a->hw.mac->set_mac(&a->hw, a->mac);
	if (ret == 0 && rec)
		ret = csc_rec_mac(rec, a->hw.addr);
	if (ret == 0 && a->mc_count && (ret = a->hw.mac->update_mc(&a->hw, (const uint8_t (*)[6])a->mc, a->mc_count)) == 0 &&
	    rec)
		ret = csc_rec_mc(rec, (const uint8_t (*)[6])a->mc, a->mc_count);
	if (ret == 0 && a->max_frame && (ret = a->hw.mac->set_lpe(&a->hw, a->max_frame)) == 0 && rec)
		ret = csc_rec_lpe(rec, a->max_frame);
	return igbvf_opset_end(a, CSC_OP_INIT, ret);
}

/* ---- settings: op sets SET_MAC, SET_MC, SET_LPE ----------------------------- */

int igbvf_set_mac(struct igbvf_adapter *a, const uint8_t mac[6])
{
	int ret = igbvf_opset_begin(a, CSC_OP_SET_MAC);

	if (ret)
		return ret;
	ret = a->hw.mac->set_mac(&a->hw, mac);
	if (ret == 0) {
		memcpy(a->mac, mac, 6);
		a->mac_set = true;
		if (igbvf_csc_on(a))
			ret = csc_rec_mac(&a->csc.area->rec, mac);
	}
	return igbvf_opset_end(a, CSC_OP_SET_MAC, ret);
}

int igbvf_set_multicast(struct igbvf_adapter *a, const uint8_t (*list)[6], unsigned n)
{
	int ret = igbvf_opset_begin(a, CSC_OP_SET_MC);

	if (ret)
		return ret;
	if (n > VF_MSG_MAX_MC_HASHES)
		n = VF_MSG_MAX_MC_HASHES;	/* what update_mc sends */
	ret = a->hw.mac->update_mc(&a->hw, list, n);
	if (ret == 0) {
		memcpy(a->mc, list, (size_t)n * 6);
		a->mc_count = n;
		if (igbvf_csc_on(a))
			ret = csc_rec_mc(&a->csc.area->rec, list, n);
	}
	return igbvf_opset_end(a, CSC_OP_SET_MC, ret);
}

int igbvf_set_lpe(struct igbvf_adapter *a, uint32_t max_frame)
{
	int ret = igbvf_opset_begin(a, CSC_OP_SET_LPE);

	if (ret)
		return ret;
	ret = a->hw.mac->set_lpe(&a->hw, max_frame);
	if (ret == 0) {
		a->max_frame = max_frame;
		if (igbvf_csc_on(a))
			ret = csc_rec_lpe(&a->csc.area->rec, max_frame);
	}
	return igbvf_opset_end(a, CSC_OP_SET_LPE, ret);
}

/* ---- hardware steps shared with the restoration ------------------------------ */

void igbvf_hw_program_ring(struct igbvf_adapter *a, bool tx, uint32_t tail)
{
	struct igbvf_hw *hw = &a->hw;
	struct igbvf_ring *r = tx ? &a->tx : &a->rx;
	uint64_t base = (uint64_t)(uintptr_t)r->desc;

	/* A write to the base or length puts the device's head at 0
	 * (docs/nic.md); the tail is in the device's view already. */
	if (tx) {
		igbvf_wr32(hw, VF_TXDCTL(0), 0);
		igbvf_wr32(hw, VF_TDBAL(0), (uint32_t)base);
		igbvf_wr32(hw, VF_TDBAH(0), (uint32_t)(base >> 32));
		igbvf_wr32(hw, VF_TDLEN(0), r->count * 16);
		igbvf_wr32(hw, VF_TDT(0), tail);
		igbvf_wr32(hw, VF_TXDCTL(0), VF_QUEUE_ENABLE | (1u << 16) /* WTHRESH 1 */);
	} else {
		igbvf_wr32(hw, VF_RXDCTL(0), 0);
		igbvf_wr32(hw, VF_RDBAL(0), (uint32_t)base);
		igbvf_wr32(hw, VF_RDBAH(0), (uint32_t)(base >> 32));
		igbvf_wr32(hw, VF_RDLEN(0), r->count * 16);
		igbvf_wr32_iomig(a, VF_SRRCTL(0),
				 (IGBVF_BUF_SIZE / 1024) | VF_SRRCTL_DESCTYPE_ADV_ONEBUF | VF_SRRCTL_DROP_EN);
		igbvf_wr32(hw, VF_RXDCTL(0), VF_QUEUE_ENABLE);
		wmb();	/* descriptors armed before the device may fetch them */
		igbvf_wr32(hw, VF_RDT(0), tail);
	}
}

void igbvf_hw_configure_interrupts(struct igbvf_adapter *a, const struct csc_intr_rec *intr)
{
	if (!intr->eims) {
		igbvf_wr32(&a->hw, VF_EIMC, VF_EICR_MASK);	/* polling mode */
		return;
	}
	igbvf_wr32_iomig(a, VF_IVAR0, intr->ivar0);
	igbvf_wr32_iomig(a, VF_IVAR_MISC, intr->ivar_misc);
	for (unsigned v = 0; v < VF_NUM_VECTORS; v++)
		igbvf_wr32_iomig(a, VF_EITR(v), intr->eitr[v]);
	igbvf_wr32_iomig(a, VF_EIAC, intr->eiac);
	igbvf_wr32_iomig(a, VF_EIAM, intr->eiam);
}

void igbvf_hw_up(struct igbvf_adapter *a)
{
	if (a->intr.eims)
		igbvf_wr32(&a->hw, VF_EIMS, a->intr.eims);
	a->up = true;
}

void igbvf_hw_down(struct igbvf_adapter *a)
{
	igbvf_wr32(&a->hw, VF_EIMC, VF_EICR_MASK);
	igbvf_wr32(&a->hw, VF_RXDCTL(0), 0);
	igbvf_wr32(&a->hw, VF_TXDCTL(0), 0);
	a->up = false;
}

/* ---- up and down: op sets UP, DOWN ------------------------------------------ */

static void ring_alloc(struct igbvf_ring *r, unsigned count)
{
	r->count = count;
	r->desc = rt_alloc(count * 16, 128);
	r->buffers = rt_alloc((size_t)count * IGBVF_BUF_SIZE, 4096);
}

/* A ring starts afresh at every up, as the device's head does: what a
 * previous up left in it (frames not reaped, not sent) is dropped, as
 * Linux igbvf's clean_rx/tx_ring do at down. */
static void ring_reset(struct igbvf_ring *r)
{
	memset((void *)r->desc, 0, r->count * 16);
	r->next_to_use = r->next_to_clean = r->pending = 0;
	r->map = (struct csc_ring_map){ .size = r->count, .offset = 0 };
}

/* Gives sw descriptor i its buffer (which stays keyed by i). */
static void rx_arm(struct igbvf_ring *r, unsigned i)
{
	volatile struct vf_rx_desc_read *d = (volatile struct vf_rx_desc_read *)r->desc + igbvf_slot(r, i);

	d->pkt_addr = (uint64_t)(uintptr_t)(r->buffers + (size_t)i * IGBVF_BUF_SIZE);
	d->hdr_addr = 0;	/* also clears the write-back status (DD) */
}

static void intr_config(bool irq_mode, struct csc_intr_rec *intr)
{
	memset(intr, 0, sizeof(*intr));
	if (!irq_mode)
		return;		/* eims 0: polling */
	intr->ivar0 = ((IGBVF_VEC_RX0 | VF_IVAR_VALID) << VF_IVAR_RX0_SHIFT) |
		      ((IGBVF_VEC_TX0 | VF_IVAR_VALID) << VF_IVAR_TX0_SHIFT);
	intr->ivar_misc = IGBVF_VEC_OTHER | VF_IVAR_VALID;
	/* ~20000 interrupts/s at most per vector: 50 us / 256 ns. */
	for (unsigned v = 0; v < VF_NUM_VECTORS; v++)
		intr->eitr[v] = 196;
	intr->eiac = VF_EICR_MASK;
	intr->eiam = VF_EICR_MASK;
	intr->eims = VF_EICR_MASK;
}

/* Memory the device writes, for the hypervisor to send at stop-and-copy:
 * both descriptor rings (write-back) and the RX buffers. The TX buffers
 * are only read by the device and written by the CPU, so the dirty log
 * already sees them; registering them would add 512 KiB to every
 * stop-and-copy for nothing. */
static int register_dma(struct igbvf_adapter *a)
{
	struct csc_shared_area *s = a->csc.area;
	int ret;

	if (!s)
		return 0;
	if ((ret = csc_area_add_dma(s, (uintptr_t)a->rx.desc, a->rx.count * 16)) ||
	    (ret = csc_area_add_dma(s, (uintptr_t)a->rx.buffers, (uint64_t)a->rx.count * IGBVF_BUF_SIZE)) ||
	    (ret = csc_area_add_dma(s, (uintptr_t)a->tx.desc, a->tx.count * 16)))
		return ret;
	return 0;
}

static int record_up(struct igbvf_adapter *a)
{
	struct csc_rec *rec;
	int ret;

	if (!igbvf_csc_on(a))
		return 0;
	rec = &a->csc.area->rec;
	if ((ret = csc_rec_ring(rec, CSC_RING_TX, 0, (uintptr_t)a->tx.desc, a->tx.count * 16, IGBVF_BUF_SIZE)) ||
	    (ret = csc_rec_ring(rec, CSC_RING_RX, 0, (uintptr_t)a->rx.desc, a->rx.count * 16, IGBVF_BUF_SIZE)))
		return ret;
	return csc_rec_intr(rec, &a->intr);
}

int igbvf_up(struct igbvf_adapter *a, bool irq_mode)
{
	int ret = igbvf_opset_begin(a, CSC_OP_UP);
	struct igbvf_ring *r = &a->rx;

	if (ret)
		return ret;
	if (a->up)
		return igbvf_opset_end(a, CSC_OP_UP, -EBUSY);
	if (!a->rx.count) {
		ring_alloc(&a->rx, IGBVF_RX_RING_SIZE);
		ring_alloc(&a->tx, IGBVF_TX_RING_SIZE);
	}
	if ((ret = register_dma(a)))
		return igbvf_opset_end(a, CSC_OP_UP, ret);
	ring_reset(&a->tx);
	ring_reset(&a->rx);
	a->irq_mode = irq_mode;
	intr_config(irq_mode, &a->intr);

	igbvf_hw_program_ring(a, true, csc_ring_sw_to_hw(&a->tx.map, a->tx.next_to_use));
	/* Give all but one descriptor to the hardware: it owns [head, tail). */
	for (unsigned i = 0; i < r->count; i++)
		rx_arm(r, i);
	r->next_to_use = r->count - 1;
	igbvf_hw_program_ring(a, false, csc_ring_sw_to_hw(&r->map, r->next_to_use));
	igbvf_hw_configure_interrupts(a, &a->intr);
	ret = record_up(a);
	if (ret == 0) {
		igbvf_hw_up(a);
		igbvf_update_stats(a);	/* learn the counters' starting values */
	}
	return igbvf_opset_end(a, CSC_OP_UP, ret);
}

int igbvf_down(struct igbvf_adapter *a)
{
	int ret = igbvf_opset_begin(a, CSC_OP_DOWN);

	if (ret)
		return ret;
	if (!a->up)
		return igbvf_opset_end(a, CSC_OP_DOWN, -EBUSY);
	igbvf_hw_down(a);
	return igbvf_opset_end(a, CSC_OP_DOWN, 0);
}

/* ---- the data path ------------------------------------------------------------ */

unsigned igbvf_rx_poll(struct igbvf_adapter *a, unsigned budget, igbvf_rx_fn fn, void *ctx)
{
	struct igbvf_ring *r = &a->rx;
	unsigned done = 0, first;

	/* The receive path is a critical section like an op set: the first
	 * one after a migration restores the VF (the main loop polls often,
	 * so the restoration follows the resume promptly). */
	if (!igbvf_csc_enter(a) || !a->up) {
		igbvf_csc_exit(a);
		return 0;
	}
	first = r->next_to_clean;
	bool touch = a->csc.area && csc_area_migrating(a->csc.area);
	while (done < budget) {
		volatile struct vf_rx_desc_wb *wb =
			(volatile struct vf_rx_desc_wb *)r->desc + igbvf_slot(r, r->next_to_clean);
		uint32_t status = __atomic_load_n(&wb->status_error, __ATOMIC_ACQUIRE);
		if (!(status & VF_RXD_STAT_DD))
			break;
		rmb();	/* read the rest of the descriptor only after DD */
		unsigned len = wb->length;
		uint8_t *buf = r->buffers + (size_t)r->next_to_clean * IGBVF_BUF_SIZE;
		if ((status & VF_RXD_STAT_EOP) && len <= IGBVF_BUF_SIZE) {
			fn(ctx, buf, len);
			a->stats.rx_frames++;
			a->stats.rx_bytes += len;
		} else {
			a->stats.rx_errors++;	/* frames spanning buffers are not expected */
		}
		/* Dummy write: the device wrote this buffer behind the dirty
		 * log's back (before the re-arm, while the buffer is ours). */
		if (touch)
			a->csc.dirty_pages += csc_dirty_touch(buf, len ? len : 1);
		rx_arm(r, r->next_to_clean);
		r->next_to_clean = (r->next_to_clean + 1) % r->count;
		r->pending++;
		done++;
	}
	if (touch && done)
		igbvf_csc_dirty_descs(a, r, first, done);
	/* Give the recycled descriptors back in one tail write. */
	if (r->pending && (r->pending >= IGBVF_RX_REFILL_BATCH || done < budget)) {
		wmb();
		r->next_to_use = (r->next_to_clean + r->count - 1) % r->count;
		igbvf_wr32(&a->hw, VF_RDT(0), csc_ring_sw_to_hw(&r->map, r->next_to_use));
		r->pending = 0;
	}
	igbvf_csc_exit(a);
	return done;
}

/* Not a critical section: it only reads done bits in guest memory, which
 * the restoration counts the same whether they were reaped or not. */
unsigned igbvf_tx_clean(struct igbvf_adapter *a)
{
	struct igbvf_ring *r = &a->tx;
	unsigned first = r->next_to_clean, reaped = 0;

	while (r->next_to_clean != r->next_to_use) {
		volatile struct vf_tx_desc *d = (volatile struct vf_tx_desc *)r->desc + igbvf_slot(r, r->next_to_clean);
		if (!(__atomic_load_n(&d->olinfo_status, __ATOMIC_ACQUIRE) & VF_TXD_STAT_DD))
			break;
		r->next_to_clean = (r->next_to_clean + 1) % r->count;
		reaped++;
	}
	/* The done bits were written by the device: dummy-write their pages
	 * while a migration runs. (The TX buffers are the CPU's writes.) */
	if (reaped && a->csc.area && csc_area_migrating(a->csc.area))
		igbvf_csc_dirty_descs(a, r, first, reaped);
	return (r->next_to_use + r->count - r->next_to_clean) % r->count;
}

int igbvf_xmit(struct igbvf_adapter *a, const void *frame, unsigned len)
{
	struct igbvf_ring *r = &a->tx;

	if (len > IGBVF_BUF_SIZE || len < 14)
		return -EINVAL;
	if (!igbvf_csc_enter(a) || !a->up) {
		igbvf_csc_exit(a);
		return -EIO;
	}
	unsigned next = (r->next_to_use + 1) % r->count;
	if (next == r->next_to_clean) {
		igbvf_tx_clean(a);
		if (next == r->next_to_clean) {
			a->stats.tx_busy++;
			igbvf_csc_exit(a);
			return -EBUSY;
		}
	}
	uint8_t *buf = r->buffers + (size_t)r->next_to_use * IGBVF_BUF_SIZE;
	memcpy(buf, frame, len);
	volatile struct vf_tx_desc *d = (volatile struct vf_tx_desc *)r->desc + igbvf_slot(r, r->next_to_use);
	d->buffer_addr = (uint64_t)(uintptr_t)buf;
	d->olinfo_status = len << VF_TXD_PAYLEN_SHIFT;	/* DD clear: the restoration counts on it */
	d->cmd_type_len = len | VF_TXD_DTYP_DATA | VF_TXD_CMD_DEXT | VF_TXD_CMD_IFCS | VF_TXD_CMD_EOP |
			  VF_TXD_CMD_RS;
	r->next_to_use = next;
	r->pending++;
	a->stats.tx_frames++;
	a->stats.tx_bytes += len;
	igbvf_csc_exit(a);
	return 0;
}

void igbvf_tx_flush(struct igbvf_adapter *a)
{
	if (!a->tx.pending)
		return;
	/* Pending frames of the source are posted by the restoration (its
	 * tail is next_to_use): look again once inside. */
	if (igbvf_csc_enter(a) && a->up && a->tx.pending) {
		wmb();	/* descriptors before the doorbell */
		igbvf_wr32(&a->hw, VF_TDT(0), csc_ring_sw_to_hw(&a->tx.map, a->tx.next_to_use));
		a->tx.pending = 0;
	}
	igbvf_csc_exit(a);
}

bool igbvf_rx_ready(const struct igbvf_adapter *a)
{
	const struct igbvf_ring *r = &a->rx;

	if (!r->count)
		return false;
	volatile const struct vf_rx_desc_wb *wb =
		(volatile const struct vf_rx_desc_wb *)r->desc + igbvf_slot(r, r->next_to_clean);
	return (wb->status_error & VF_RXD_STAT_DD) != 0;
}

void igbvf_irq_enable(struct igbvf_adapter *a)
{
	if (a->irq_mode && a->up)
		igbvf_wr32(&a->hw, VF_EIMS, a->intr.eims);
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
	/* Inside the lock: a reading of the new VF before the restoration
	 * moved the bases would look like a wrap (a jump by 2^32). */
	if (igbvf_csc_enter(a)) {
		for (unsigned i = 0; i < IGBVF_N_COUNTERS; i++) {
			struct igbvf_counter *c = stat_counter(&a->stats, i);
			uint32_t raw = igbvf_rd32(&a->hw, igbvf_counter_regs[i]);
			if (a->csc.ctr[i]) {
				c->total = csc_counter_update(a->csc.ctr[i], raw);
				c->last = raw;
			} else {
				accumulate(c, raw);
			}
		}
	}
	igbvf_csc_exit(a);
}
