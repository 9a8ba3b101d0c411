/* CompSC in the igbvf driver: the shared area, the op-set brackets, the
 * dummy writes, and the restoration on a new VF after a migration.
 *
 * The core (compsc/, docs/compsc-core.md) holds the mechanisms; this file
 * gives them the driver's hardware operations.
 *
 * Restoration, at the first read lock that sees a new version (the
 * hypervisor bumped it on the destination, with the VM paused outside
 * every op set, so the record is consistent):
 *
 *   1. reset       the mailbox reset handshake on the new VF (which its
 *                  VMM reset when it attached it; CTRL.RST as well on a
 *                  retry); each self-emulated counter moves its base to
 *                  the new VF's reading (csc_counter_migrated: queues are
 *                  still off, so nothing is counted in between)
 *   2. settings    MAC, multicast list, LPE, as recorded
 *   3. rings       per recorded ring: count the descriptors the source
 *                  completed and the driver has not reaped yet (DD set
 *                  from next_to_clean on), csc_ring_restore gives the
 *                  offset that puts the new head 0 on the first one the
 *                  source had not completed; the descriptors move to
 *                  their slots under the new offset (the device's head 0
 *                  is slot 0), then base/length, the tail in the new
 *                  view, enable - no descriptor is re-armed
 *   4. interrupts  IVAR, EITR, EIAC, EIAM as recorded
 *   5. registers   the I/O-migrated values the hypervisor staged
 *   6. up          unmask (or, if the record says down: masked, queues off)
 *   then csc_area_restored, one console line with the time it took, and
 *   the restoration count moves, which the lwIP glue turns into a link
 *   flap (gratuitous ARP).
 *
 * If any step fails the version stays unacknowledged: the device is
 * treated as unusable (the data path does nothing) and the whole replay is
 * retried, from the reset, at most once a second. */
#include "../../../common/csc_errno.h"
#include "../../../common/vf_regtable.h"
#include "../../../compsc/dirty.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "igbvf.h"
#include "igbvf_internal.h"

#define RETRY_US 1000000

/* The platform has one COMPSC_AREA register: one area per VM, used by
 * the first VF probed. */
static struct csc_shared_area *vm_area;
static unsigned vm_area_vf;

static bool compsc_disabled(void)
{
	char v[8];

	/* The bond (guest/net/bond.c) is the baseline CompSC is compared
	 * with: its VF is hot-unplugged before a migration, not migrated. */
	if (cmdline_get_u64("bond", 0)) {
		printf("compsc: bond=1: ");
		return true;
	}
	if (!cmdline_get("compsc", v, sizeof(v)))
		return false;
	if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
		return true;
	if (strcmp(v, "on") != 0 && strcmp(v, "1") != 0)
		printf("compsc: compsc=%s is neither on nor off: on\n", v);
	return false;
}

/* The I/O-migration registers as a VF reset leaves them. */
static void iomig_reset(const struct csc_shared_area *s, struct igbvf_adapter *a)
{
	for (uint32_t i = 0; i < s->n_ioregs && i < CSC_AREA_MAX_IOREGS; i++) {
		const struct vf_reg_info *r = vf82576_reg_lookup(s->ioregs[i].offset);
		a->csc.iomig_hw[i] = r ? r->reset : 0;
	}
}

/* The I/O-migration list entry of reg, or -1. */
static int iomig_index(const struct csc_shared_area *s, uint32_t reg)
{
	for (uint32_t i = 0; i < s->n_ioregs && i < CSC_AREA_MAX_IOREGS; i++)
		if (s->ioregs[i].offset == reg)
			return (int)i;
	return -1;
}

void igbvf_csc_setup(struct igbvf_adapter *a)
{
	struct csc_shared_area *s;
	int ret;

	if (compsc_disabled()) {
		printf("compsc: off\n");
		return;
	}
	if (vm_area) {
		printf("compsc: vf%u: off (the VM's one shared area belongs to vf%u)\n", a->instance, vm_area_vf);
		return;
	}
	/* A page of its own: the hypervisor marks the whole page dirty when
	 * it stages registers in it, and nothing else shares it. */
	s = rt_alloc(4096, 4096);
	if ((ret = csc_area_init(s))) {
		printf("compsc: cannot lay out the shared area (%d): off\n", ret);
		return;
	}
	/* Default values for the I/O-migration list: the reset values,
	 * replaced by every value the driver writes (igbvf_wr32_iomig). The
	 * hypervisor stages the source VF's values over them at
	 * stop-and-copy; if it stages nothing, the restoration still writes
	 * the driver's own settings rather than zeros. */
	iomig_reset(s, a);
	for (uint32_t i = 0; i < s->n_ioregs; i++)
		s->ioregs[i].value = a->csc.iomig_hw[i];
	for (unsigned i = 0; i < IGBVF_N_COUNTERS; i++)
		a->csc.ctr[i] = csc_area_counter(s, igbvf_counter_regs[i]);
	uint64_t gpa = (uintptr_t)s;
	uint32_t status = platform_compsc_register(gpa);
	printf("compsc: shared area at 0x%llx (%u bytes, recorded state %u bytes), status %u%s\n",
	       (unsigned long long)gpa, (unsigned)CSC_AREA_SIZE, (unsigned)sizeof(struct csc_rec), status,
	       status ? " (refused by the VMM)" : "");
	/* Kept on even if refused: the mechanisms cost little, and the
	 * VMM then never write-locks or bumps the version, so nothing
	 * restores. */
	a->csc.area = s;
	vm_area = s;
	vm_area_vf = a->instance;
	if (cmdline_get_u64("compsc-check", 0))
		a->hw.check_rec = &s->rec;
}

/* ---- op-set brackets ---------------------------------------------------------- */

int igbvf_opset_begin(struct igbvf_adapter *a, enum csc_opset op)
{
	int ret;

	if (!igbvf_csc_enter(a)) {
		igbvf_csc_exit(a);
		return -EAGAIN;
	}
	if (igbvf_csc_on(a) && (ret = csc_opset_begin(&a->csc.area->rec, op))) {
		igbvf_csc_exit(a);
		return ret;
	}
	return 0;
}

int igbvf_opset_end(struct igbvf_adapter *a, enum csc_opset op, int ret)
{
	if (igbvf_csc_on(a)) {
		if (ret == 0)
			ret = csc_opset_end(&a->csc.area->rec, op);
		else
			csc_opset_abort(&a->csc.area->rec);
	}
	igbvf_csc_exit(a);
	return ret;
}

void igbvf_check_write(struct igbvf_hw *hw, uint32_t reg)
{
	if (csc_opset_write_ok(hw->check_rec, reg))
		return;
	if (hw->writes_outside_opsets++ < 10)
		printf("compsc: write to register 0x%x outside an op set\n", (unsigned)reg);
}

/* ---- I/O-migration registers and dummy writes -------------------------------------- */

void igbvf_wr32_iomig(struct igbvf_adapter *a, uint32_t reg, uint32_t value)
{
	struct csc_shared_area *s = a->csc.area;

	igbvf_wr32(&a->hw, reg, value);
	int i = s ? iomig_index(s, reg) : -1;
	if (i >= 0) {
		s->ioregs[i].value = value;
		a->csc.iomig_hw[i] = value;
	}
}

void igbvf_csc_dirty_descs(struct igbvf_adapter *a, const struct igbvf_ring *r, unsigned first, unsigned n)
{
	volatile uint8_t *d = (volatile uint8_t *)r->desc;

	first = igbvf_slot(r, first);	/* a run of sw indices is a run of slots */
	if (n >= r->count) {
		a->csc.dirty_pages += csc_dirty_touch(d, r->count * 16);
	} else if (first + n <= r->count) {
		a->csc.dirty_pages += csc_dirty_touch(d + first * 16, n * 16);
	} else {
		a->csc.dirty_pages += csc_dirty_touch(d + first * 16, (r->count - first) * 16);
		a->csc.dirty_pages += csc_dirty_touch(d, (first + n - r->count) * 16);
	}
}

/* ---- the replay's hardware operations ------------------------------------------- */

struct restore_ctx {
	struct igbvf_adapter *a;
	const char *step;	/* for the failure message */
	bool full_reset;	/* CTRL.RST too (a retry) */
	unsigned done[2];	/* per ring (RX, TX): completed, not reaped */
};

static int op_reset(void *ctx)
{
	struct restore_ctx *c = ctx;
	struct igbvf_adapter *a = c->a;
	int ret;

	c->step = "reset";
	a->up = false;	/* the new VF: nothing configured, queues off */
	/* The destination's VMM reset the VF when it attached it, so the
	 * first attempt does only the mailbox half of the reset: a CTRL.RST
	 * would also flush the VF's packet buffer, which by now holds the
	 * frames the migration carried from the source (injected at
	 * activation) and those that arrived since. Everything the driver
	 * uses is programmed again below. A retry, after a failure that may
	 * have left anything half-programmed, resets fully. */
	a->hw.mbx_saved = 0;
	ret = c->full_reset ? a->hw.mac->reset_hw(&a->hw) : a->hw.mac->reset_handshake(&a->hw);
	if (ret)
		return ret;
	iomig_reset(a->csc.area, a);
	for (unsigned i = 0; i < IGBVF_N_COUNTERS; i++)
		if (a->csc.ctr[i])
			csc_counter_migrated(a->csc.ctr[i], igbvf_rd32(&a->hw, igbvf_counter_regs[i]));
	return 0;
}

static int op_set_mac(void *ctx, const uint8_t mac[6])
{
	struct restore_ctx *c = ctx;
	struct igbvf_hw *hw = &c->a->hw;

	c->step = "set-mac";
	/* The reset handshake gave the VF its permanent address: when that
	 * is the one recorded (the host assigned the VM's MAC to the new VF)
	 * there is nothing to ask the PF. */
	if (memcmp(mac, hw->perm_addr, 6) == 0) {
		memcpy(hw->addr, mac, 6);
		return 0;
	}
	return hw->mac->set_mac(hw, mac);
}

static int op_update_mc(void *ctx, const uint8_t (*list)[6], unsigned n)
{
	struct restore_ctx *c = ctx;

	c->step = "set-multicast";
	return c->a->hw.mac->update_mc(&c->a->hw, list, n);
}

static int op_set_lpe(void *ctx, uint32_t max_frame)
{
	struct restore_ctx *c = ctx;

	c->step = "set-lpe";
	return c->a->hw.mac->set_lpe(&c->a->hw, max_frame);
}

/* Descriptors from next_to_clean up to (not including) end whose done bit
 * is set: completed by the source, not reaped yet. The device completes
 * in order, so they are a prefix. */
static unsigned count_done(const struct igbvf_ring *r, bool tx, unsigned end)
{
	unsigned n = 0;

	for (unsigned i = r->next_to_clean; i != end; i = (i + 1) % r->count) {
		unsigned slot = igbvf_slot(r, i);
		uint32_t status = tx ? ((volatile struct vf_tx_desc *)r->desc)[slot].olinfo_status
				     : ((volatile struct vf_rx_desc_wb *)r->desc)[slot].status_error;
		if (!(status & (tx ? VF_TXD_STAT_DD : VF_RXD_STAT_DD)))
			break;
		n++;
	}
	return n;
}

/* The device's head restarts at slot 0, which must then hold the
 * descriptor of sw index new_offset: moves every descriptor from its slot
 * under the old offset to its slot under the new one (a rotation; the
 * buffers stay where they are - TX descriptors carry their buffer's
 * address along, and RX buffers are found by sw index). */
static void rotate_descs(struct igbvf_ring *r, uint32_t new_offset)
{
	static uint8_t old[IGBVF_MAX_RING_SIZE * 16];
	uint8_t *d = (uint8_t *)r->desc;
	unsigned n = r->count, shift = (r->map.offset - new_offset) & (n - 1);

	if (!shift)
		return;
	memcpy(old, d, n * 16);
	/* sw index s sat at slot s - old_offset, moves to s - new_offset. */
	for (unsigned i = 0; i < n; i++)
		memcpy(d + ((i + shift) & (n - 1)) * 16, old + i * 16, 16);
}

static int op_configure_ring(void *ctx, const struct csc_ring_rec *rr)
{
	struct restore_ctx *c = ctx;
	struct igbvf_adapter *a = c->a;
	bool tx = rr->dir == CSC_RING_TX;
	struct igbvf_ring *r = tx ? &a->tx : &a->rx;
	struct csc_ring_restore rs;
	int ret;

	c->step = tx ? "tx-ring" : "rx-ring";
	/* The driver uses queue 0 only, and the record must describe the
	 * ring the driver's own state describes. */
	if (rr->queue != 0 || !r->count || rr->base != (uintptr_t)r->desc || rr->len != r->count * 16)
		return -EINVAL;
	/* RX: every armed descriptor goes to the device, including those
	 * recycled since the last tail write; all but the one before
	 * next_to_clean, as at up. TX: everything queued, flushed or not. */
	unsigned end = tx ? r->next_to_use : (r->next_to_clean + r->count - 1) % r->count;
	c->done[tx] = count_done(r, tx, end);
	if ((ret = csc_ring_restore(r->count, r->next_to_clean, end, c->done[tx], &rs)))
		return ret;
	rotate_descs(r, rs.offset);
	r->map.size = r->count;
	r->map.offset = rs.offset;
	r->next_to_use = end;
	r->pending = 0;
	igbvf_hw_program_ring(a, tx, rs.tail);
	return 0;
}

static int op_configure_interrupts(void *ctx, const struct csc_intr_rec *intr)
{
	struct restore_ctx *c = ctx;

	c->step = "interrupts";
	c->a->intr = *intr;
	igbvf_hw_configure_interrupts(c->a, intr);
	return 0;
}

/* A staged value the new VF already holds - its reset value, or what the
 * replay just wrote (the same setting, normally) - is not written again. */
static int write_reg(void *ctx, uint32_t offset, uint32_t value)
{
	struct igbvf_adapter *a = ctx;
	int i = iomig_index(a->csc.area, offset);

	if (i >= 0 && a->csc.iomig_hw[i] == value)
		return 0;
	igbvf_wr32(&a->hw, offset, value);
	if (i >= 0)
		a->csc.iomig_hw[i] = value;
	return 0;
}

static int op_restore_regs(void *ctx)
{
	struct restore_ctx *c = ctx;
	int ret;

	c->step = "io-registers";
	ret = csc_area_apply_ioregs(c->a->csc.area, write_reg, c->a);
	return ret < 0 ? ret : 0;	/* it returns how many it wrote */
}

static int op_up(void *ctx)
{
	struct restore_ctx *c = ctx;

	c->step = "up";
	igbvf_hw_up(c->a);
	return 0;
}

static int op_down(void *ctx)
{
	struct restore_ctx *c = ctx;

	c->step = "down";
	igbvf_hw_down(c->a);
	return 0;
}

static const struct csc_replay_ops replay_ops = {
	.reset = op_reset,
	.set_mac = op_set_mac,
	.update_mc = op_update_mc,
	.set_lpe = op_set_lpe,
	.configure_rings = op_configure_ring,
	.configure_interrupts = op_configure_interrupts,
	.restore_regs = op_restore_regs,
	.up = op_up,
	.down = op_down,
};

/* ---- the restoration ------------------------------------------------------------- */

bool igbvf_csc_restore_due(struct igbvf_adapter *a)
{
	struct csc_shared_area *s = a->csc.area;
	struct restore_ctx c = { .a = a, .step = "start", .full_reset = a->csc.failed };
	uint64_t t0 = clock_us();

	if (a->csc.broken && t0 < a->csc.retry_us)
		return false;
	a->csc.broken = true;
	/* Stable while we hold the read lock: it changes only under the
	 * write lock. */
	uint32_t version = __atomic_load_n(&s->version, __ATOMIC_ACQUIRE);
	/* The replay's writes are op-set work done outside an op set. */
	const struct csc_rec *check = a->hw.check_rec;
	a->hw.check_rec = NULL;
	int ret = csc_rec_replay(&s->rec, &replay_ops, &c);
	a->hw.check_rec = check;
	if (ret) {
		a->csc.failed = true;
		a->csc.retry_us = clock_us() + RETRY_US;
		printf("compsc: restoration (version %u) failed at %s (%d): retrying in 1 s\n", version, c.step,
		       ret);
		return false;
	}
	csc_area_restored(s);
	a->csc.broken = false;
	a->csc.failed = false;
	a->csc.restorations++;
	a->csc.last_restore_us = (uint32_t)(clock_us() - t0);
	printf("compsc: restored in %u us (version %u)\n", a->csc.last_restore_us, version);
	printf("compsc: replayed state %s after %u op sets; tx offset %u (%u done), rx offset %u (%u done)\n",
	       csc_if_state_name((enum csc_if_state)s->rec.state), (unsigned)s->rec.seq, a->tx.map.offset, c.done[1],
	       a->rx.map.offset, c.done[0]);
	return true;
}

void igbvf_csc_print_counters(struct igbvf_adapter *a)
{
	const struct igbvf_stats *s = &a->stats;

	igbvf_update_stats(a);
	printf("compsc: counters gprc=%llu gptc=%llu gorc=%llu gotc=%llu mprc=%llu\n",
	       (unsigned long long)s->gprc.total, (unsigned long long)s->gptc.total,
	       (unsigned long long)s->gorc.total, (unsigned long long)s->gotc.total,
	       (unsigned long long)s->mprc.total);
	if (a->hw.check_rec)
		printf("compsc: check: %llu register writes outside op sets\n",
		       (unsigned long long)a->hw.writes_outside_opsets);
}
