/* 82576 VF: register semantics, interrupts, mailbox (VF side), reset.
 * The access classes come from common/vf_regtable.c; this file binds the
 * side effects. */
#include "vf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vf_queues.h"

void nic_vf_init(struct nic_vf *vf, unsigned index, const struct nic_vf_ops *ops, void *owner)
{
	memset(vf, 0, sizeof(*vf));
	vf->index = index;
	vf->ops = ops;
	vf->owner = owner;
	vf->log_rl = (struct ratelimit)RATELIMIT_INIT(20);
	vf->pf_enabled = true;
	dma_init(&vf->dma);
	for (unsigned i = 0; i < vf82576_n_regs; i++)
		vf->reg_info[vf82576_regs[i].offset >> 2] = &vf82576_regs[i];
	nic_vf_reset(vf);
	/* Statistics start at zero with the NIC and survive VF resets, as on
	 * the real part: only a new VF starts counting from zero again. */
	vf->mbx_rstd = false;
	vf->mbx_rsti = false;
}

void nic_vf_destroy(struct nic_vf *vf)
{
	vf_fifo_clear(vf);
	dma_unmap_all(&vf->dma);
}

void nic_vf_reset(struct nic_vf *vf)
{
	for (unsigned i = 0; i < vf82576_n_regs; i++) {
		const struct vf_reg_info *r = &vf82576_regs[i];
		if (!(r->flags & VF_REGF_COUNTER))
			vf_reg_set(vf, r->offset, r->reset);
	}
	memset(vf->rxq, 0, sizeof(vf->rxq));
	memset(vf->txq, 0, sizeof(vf->txq));
	memset(vf->tx_len, 0, sizeof(vf->tx_len));
	memset(vf->tx_oversize, 0, sizeof(vf->tx_oversize));
	memset(vf->irq_pending, 0, sizeof(vf->irq_pending));
	memset(vf->irq_next_ns, 0, sizeof(vf->irq_next_ns));
	vf->tx_stalled = false;
	vf->max_frame = VF_MAX_FRAME_DEFAULT;
	vf_fifo_clear(vf);
	/* Mailbox: the PF sees the reset (RSTI) and completes it (RSTD). */
	vf->mbx_vfu = vf->mbx_pfu = vf->mbx_pfsts = vf->mbx_pfack = false;
	vf->mbx_rsti = true;
	vf->mbx_rstd = false;
	if (vf->ops && vf->ops->reset_notify)
		vf->ops->reset_notify(vf);
}

/* ---- interrupts ---------------------------------------------------------- */

static uint64_t throttle_ns(const struct nic_vf *vf, unsigned vector)
{
	return (uint64_t)(vf_reg(vf, VF_EITR(vector)) & VF_EITR_INTERVAL_MASK) * 256;
}

static void fire_vector(struct nic_vf *vf, unsigned v)
{
	uint32_t bit = 1u << v;
	uint64_t now = vf->ops->now_ns(vf);

	if (now < vf->irq_next_ns[v]) {
		vf->irq_pending[v] = true;	/* the timer fires it at irq_next_ns */
		return;
	}
	vf->irq_pending[v] = false;
	vf->irq_next_ns[v] = now + throttle_ns(vf, v);
	/* Auto-clear the cause and auto-mask the vector as configured in
	 * EIAC / EIAM; the driver re-arms with an EIMS write. */
	if (vf_reg(vf, VF_EIAC) & bit)
		vf_reg_set(vf, VF_EICR, vf_reg(vf, VF_EICR) & ~bit);
	if (vf_reg(vf, VF_EIAM) & bit)
		vf_reg_set(vf, VF_EIMS, vf_reg(vf, VF_EIMS) & ~bit);
	vf->ops->raise_irq(vf, v);
}

/* Fires every vector whose cause is set and unmasked. */
static void evaluate_interrupts(struct nic_vf *vf)
{
	uint32_t active = vf_reg(vf, VF_EICR) & vf_reg(vf, VF_EIMS) & VF_EICR_MASK;

	for (unsigned v = 0; v < VF_NUM_VECTORS; v++)
		if (active & (1u << v))
			fire_vector(vf, v);
}

void nic_vf_raise_cause(struct nic_vf *vf, enum vf_cause cause)
{
	uint32_t ivar_byte;

	if (cause == VF_CAUSE_OTHER)
		ivar_byte = vf_reg(vf, VF_IVAR_MISC) & 0xff;
	else
		ivar_byte = (vf_reg(vf, VF_IVAR0) >> (8 * cause)) & 0xff;
	if (!(ivar_byte & VF_IVAR_VALID))
		return;		/* cause not mapped to a vector: no interrupt */
	unsigned v = ivar_byte & 0x3;
	if (v >= VF_NUM_VECTORS)
		return;
	vf_reg_set(vf, VF_EICR, vf_reg(vf, VF_EICR) | (1u << v));
	evaluate_interrupts(vf);
}

void nic_vf_poll_timers(struct nic_vf *vf)
{
	uint64_t now = vf->ops->now_ns(vf);

	for (unsigned v = 0; v < VF_NUM_VECTORS; v++) {
		if (!vf->irq_pending[v] || now < vf->irq_next_ns[v])
			continue;
		vf->irq_pending[v] = false;
		if (vf_reg(vf, VF_EICR) & vf_reg(vf, VF_EIMS) & (1u << v))
			fire_vector(vf, v);
	}
	if (vf->tx_stalled) {
		vf->tx_stalled = false;
		for (unsigned q = 0; q < VF_NUM_QUEUES; q++)
			vf_tx_process(vf, q);
	}
}

uint64_t nic_vf_next_deadline(const struct nic_vf *vf)
{
	uint64_t next = UINT64_MAX;

	for (unsigned v = 0; v < VF_NUM_VECTORS; v++)
		if (vf->irq_pending[v] && vf->irq_next_ns[v] < next)
			next = vf->irq_next_ns[v];
	if (vf->tx_stalled)
		next = 0;	/* the owner decides when credit is back */
	return next;
}

/* ---- mailbox ------------------------------------------------------------- */

static uint32_t mailbox_read(struct nic_vf *vf)
{
	uint32_t v = (vf->mbx_vfu ? VF_MBX_VFU : 0) | (vf->mbx_pfu ? VF_MBX_PFU : 0) |
		     (vf->mbx_pfsts ? VF_MBX_PFSTS : 0) | (vf->mbx_pfack ? VF_MBX_PFACK : 0) |
		     (vf->mbx_rsti ? VF_MBX_RSTI : 0) | (vf->mbx_rstd ? VF_MBX_RSTD : 0);

	/* PFSTS, PFACK and RSTD are read-to-clear. */
	vf->mbx_pfsts = vf->mbx_pfack = vf->mbx_rstd = false;
	return v;
}

static void mailbox_write(struct nic_vf *vf, uint32_t v)
{
	/* VFU is granted only while the PF does not own the buffer; a write
	 * without VFU releases it (REQ and ACK writes do). */
	vf->mbx_vfu = (v & VF_MBX_VFU) && !vf->mbx_pfu;
	if (v & VF_MBX_REQ)
		vf->ops->mailbox_request(vf);
	/* ACK: the VF consumed the PF's message; nothing more to do. */
}

unsigned nic_vf_mbx_read(struct nic_vf *vf, uint32_t *words, unsigned max)
{
	unsigned n = max < VF_VMBMEM_WORDS ? max : VF_VMBMEM_WORDS;

	for (unsigned i = 0; i < n; i++)
		words[i] = vf_reg(vf, VF_VMBMEM + 4 * i);
	return n;
}

void nic_vf_mbx_ack(struct nic_vf *vf)
{
	vf->mbx_pfack = true;
}

void nic_vf_mbx_post(struct nic_vf *vf, const uint32_t *words, unsigned n)
{
	vf->mbx_pfu = true;
	for (unsigned i = 0; i < n && i < VF_VMBMEM_WORDS; i++)
		vf_reg_set(vf, VF_VMBMEM + 4 * i, words[i]);
	vf->mbx_pfu = false;
	vf->mbx_pfsts = true;
	nic_vf_raise_cause(vf, VF_CAUSE_OTHER);
}

void nic_vf_mbx_reset_done(struct nic_vf *vf)
{
	vf->mbx_rsti = false;
	vf->mbx_rstd = true;
}

/* ---- register access ----------------------------------------------------- */

static uint32_t dynamic_read(struct nic_vf *vf, uint32_t offset)
{
	switch (offset) {
	case VF_STATUS:
		return VF_STATUS_FD | VF_STATUS_LU | VF_STATUS_SPEED_1000;
	case VF_FRTIMER:
		return (uint32_t)(vf->ops->now_ns(vf) / 1000);	/* free-running, us */
	default:
		return vf_reg(vf, offset);
	}
}

uint32_t nic_vf_read(struct nic_vf *vf, uint32_t offset)
{
	const struct vf_reg_info *r = offset < VF_BAR0_SIZE && !(offset & 3) ? vf->reg_info[offset >> 2] : NULL;
	uint32_t v;

	if (!r) {
		vf->err.unknown_reads++;
		vf_log(vf, LOG_WARN, "read of unknown register 0x%04x returns 0", offset);
		return 0;
	}
	if (offset == VF_V2PMAILBOX)
		return mailbox_read(vf);
	switch (r->cls) {
	case VF_REG_WO:
		return 0;
	case VF_REG_RC:
	case VF_REG_RC_W1C:
		v = vf_reg(vf, offset);
		vf_reg_set(vf, offset, 0);
		return v;
	default:
		return r->flags & VF_REGF_DYNAMIC ? dynamic_read(vf, offset) : vf_reg(vf, offset);
	}
}

static int queue_of(uint32_t offset, uint32_t base)
{
	uint32_t rel = offset - base;

	return rel < 0x200 ? (int)(rel / 0x100) : -1;
}

/* Side effects of writes to registers flagged VF_REGF_SIDE_EFFECT, after
 * the new value is stored. */
static void write_side_effect(struct nic_vf *vf, uint32_t offset, uint32_t old, uint32_t value)
{
	int q;

	switch (offset) {
	case VF_CTRL:
		if (value & VF_CTRL_RST)
			nic_vf_reset(vf);	/* RST self-clears: reset writes CTRL = 0 */
		return;
	case VF_V2PMAILBOX:
		mailbox_write(vf, value);
		return;
	case VF_EICS:
		vf_reg_set(vf, VF_EICR, vf_reg(vf, VF_EICR) | (value & VF_EICR_MASK));
		evaluate_interrupts(vf);
		return;
	case VF_EIMS:
		evaluate_interrupts(vf);	/* unmasking a pending cause fires it */
		return;
	case VF_EIMC:
		vf_reg_set(vf, VF_EIMS, vf_reg(vf, VF_EIMS) & ~(value & VF_EICR_MASK));
		return;
	default:
		break;
	}
	if ((q = queue_of(offset, 0x2800)) >= 0) {
		uint32_t reg = offset - 0x100 * (uint32_t)q;
		if (reg == VF_RDBAL(0) || reg == VF_RDBAH(0) || reg == VF_RDLEN(0))
			vf_queue_reprogram(vf, false, (unsigned)q);
		else if (reg == VF_RDT(0))
			vf_rx_drain(vf);
		else if (reg == VF_RXDCTL(0) && ((old ^ value) & VF_QUEUE_ENABLE))
			vf_queue_set_enabled(vf, false, (unsigned)q, value & VF_QUEUE_ENABLE);
	} else if ((q = queue_of(offset, 0x3800)) >= 0) {
		uint32_t reg = offset - 0x100 * (uint32_t)q;
		if (reg == VF_TDBAL(0) || reg == VF_TDBAH(0) || reg == VF_TDLEN(0))
			vf_queue_reprogram(vf, true, (unsigned)q);
		else if (reg == VF_TDT(0))
			vf_tx_process(vf, (unsigned)q);
		else if (reg == VF_TXDCTL(0) && ((old ^ value) & VF_QUEUE_ENABLE))
			vf_queue_set_enabled(vf, true, (unsigned)q, value & VF_QUEUE_ENABLE);
	}
}

void nic_vf_write(struct nic_vf *vf, uint32_t offset, uint32_t value)
{
	const struct vf_reg_info *r = offset < VF_BAR0_SIZE && !(offset & 3) ? vf->reg_info[offset >> 2] : NULL;
	uint32_t old;

	if (!r) {
		vf->err.unknown_writes++;
		vf_log(vf, LOG_WARN, "write 0x%08x to unknown register 0x%04x ignored", value, offset);
		return;
	}
	old = vf_reg(vf, offset);
	switch (r->cls) {
	case VF_REG_RO:
	case VF_REG_RESERVED:
		vf->err.ro_writes++;
		vf_log(vf, LOG_WARN, "write 0x%08x to read-only %s ignored", value, r->name);
		return;
	case VF_REG_WO:
		break;		/* nothing stored: reads return 0 */
	case VF_REG_W1S:
		vf_reg_set(vf, offset, old | (value & r->wmask));
		break;
	case VF_REG_RC:
		return;		/* writes have no effect */
	case VF_REG_RC_W1C:
		vf_reg_set(vf, offset, old & ~(value & r->wmask));
		return;
	case VF_REG_SC:
		/* Command bits act (side effect below), then read back as 0. */
		vf_reg_set(vf, offset, old & ~r->wmask);
		break;
	default:
		vf_reg_set(vf, offset, (old & ~r->wmask) | (value & r->wmask));
		break;
	}
	if (r->flags & VF_REGF_SIDE_EFFECT)
		write_side_effect(vf, offset, old, value & r->wmask);
}

void nic_vf_set_pf_enabled(struct nic_vf *vf, bool enabled)
{
	if (vf->pf_enabled == enabled)
		return;
	vf->pf_enabled = enabled;
	if (enabled) {
		/* Frames held while the queues were stopped go in now, and
		 * transmission resumes where it stopped. */
		vf_rx_drain(vf);
		for (unsigned q = 0; q < VF_NUM_QUEUES; q++)
			vf_tx_process(vf, q);
	}
}
