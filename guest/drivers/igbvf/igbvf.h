/* igbvf: the guest's driver for the 82576 VF, at ring 3.
 *
 * Structured like Linux's igbvf: every register access goes through
 * igbvf_rd32/igbvf_wr32, hardware operations go through an ops table,
 * rings are managed with next_to_use / next_to_clean, DD checks and
 * barriers, and doorbells (tail writes) are batched because each one is an
 * MMIO exit (tens of microseconds on PVM hosts, see
 * docs/platform-notes.md).
 *
 * CompSC (compsc.c, docs/compsc-core.md): the driver's work is grouped in
 * operation sets - INIT (probe, igbvf_reset), UP, DOWN, SET_MAC, SET_MC,
 * SET_LPE - each inside the shared area's read lock and recorded; the data
 * path (receive, send, statistics) takes the read lock too, so the first
 * one after a migration notices the new version and restores the new VF
 * from the record. compsc=off on the command line turns all of it off. */
#ifndef GUEST_IGBVF_H
#define GUEST_IGBVF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../common/vf82576.h"
#include "../../../compsc/ring.h"
#include "../../../compsc/shared_area.h"
#include "guest/mmio.h"

#define IGBVF_RX_RING_SIZE	256
#define IGBVF_TX_RING_SIZE	256
#define IGBVF_BUF_SIZE		2048
#define IGBVF_RX_REFILL_BATCH	32	/* RDT write at most every this many */

/* MSI-X vector use, as in Linux igbvf. */
#define IGBVF_VEC_TX0		0
#define IGBVF_VEC_RX0		1
#define IGBVF_VEC_OTHER		2

struct igbvf_hw;

struct igbvf_mbx_ops {
	int (*write_posted)(struct igbvf_hw *hw, const uint32_t *msg, unsigned n);
	int (*read_posted)(struct igbvf_hw *hw, uint32_t *msg, unsigned n);
	bool (*check_for_rst)(struct igbvf_hw *hw);
};

struct igbvf_mac_ops {
	int (*reset_hw)(struct igbvf_hw *hw);		/* CTRL.RST, then reset_handshake */
	int (*reset_handshake)(struct igbvf_hw *hw);	/* the mailbox VF_RESET alone */
	int (*set_mac)(struct igbvf_hw *hw, const uint8_t *mac);
	int (*update_mc)(struct igbvf_hw *hw, const uint8_t (*list)[6], unsigned n);
	int (*set_lpe)(struct igbvf_hw *hw, uint32_t max_frame);
};

struct igbvf_hw {
	volatile uint32_t *bar;
	uint32_t mbx_saved;	/* read-to-clear mailbox bits seen but not consumed */
	const struct igbvf_mac_ops *mac;
	const struct igbvf_mbx_ops *mbx;
	uint8_t perm_addr[6];
	uint8_t addr[6];
	uint64_t reg_reads, reg_writes;
	/* compsc-check=1: the record whose op-set discipline every write is
	 * checked against (csc_opset_write_ok), else NULL. */
	const struct csc_rec *check_rec;
	uint64_t writes_outside_opsets;
};

static inline uint32_t igbvf_rd32(struct igbvf_hw *hw, uint32_t reg)
{
	hw->reg_reads++;
	return mmio_read32(&hw->bar[reg / 4]);
}

void igbvf_check_write(struct igbvf_hw *hw, uint32_t reg);

static inline void igbvf_wr32(struct igbvf_hw *hw, uint32_t reg, uint32_t value)
{
	hw->reg_writes++;
	/* A debugging aid, off by default: the check is a table lookup. */
	if (__builtin_expect(hw->check_rec != NULL, 0))
		igbvf_check_write(hw, reg);
	mmio_write32(&hw->bar[reg / 4], value);
}

/* 64-bit totals from the 32-bit wrapping counters, igbvf style. */
struct igbvf_counter {
	uint32_t last;
	uint64_t total;
};

struct igbvf_stats {
	struct igbvf_counter gprc, gptc, gorc, gotc, mprc, gprlbc, gptlbc, gorlbc, gotlbc;
	uint64_t rx_frames, tx_frames, rx_bytes, tx_bytes;	/* as the driver saw them */
	uint64_t rx_errors, tx_busy;
};

struct igbvf_ring {
	volatile void *desc;	/* 16-byte descriptors */
	uint8_t *buffers;	/* count x IGBVF_BUF_SIZE */
	unsigned count;
	unsigned next_to_use;
	unsigned next_to_clean;
	unsigned pending;	/* recycled (RX) or queued (TX) since the last tail write */
	/* Indices above are the driver's ("sw"); the device's ("hw") differ
	 * by map.offset after a migration (compsc/ring.h): hw = sw - offset.
	 * The device reads descriptor hw at slot hw of the ring memory, so
	 * the descriptor of sw index s lives at slot igbvf_slot(r, s): every
	 * descriptor access and every tail write converts, and the
	 * restoration moves the descriptors when the offset changes. Buffers
	 * stay keyed by sw index (buffers + s * IGBVF_BUF_SIZE). */
	struct csc_ring_map map;
};

_Static_assert((IGBVF_RX_RING_SIZE & (IGBVF_RX_RING_SIZE - 1)) == 0, "ring sizes are powers of two (igbvf_slot)");
_Static_assert((IGBVF_TX_RING_SIZE & (IGBVF_TX_RING_SIZE - 1)) == 0, "ring sizes are powers of two (igbvf_slot)");
#define IGBVF_MAX_RING_SIZE 256
_Static_assert(IGBVF_RX_RING_SIZE <= IGBVF_MAX_RING_SIZE && IGBVF_TX_RING_SIZE <= IGBVF_MAX_RING_SIZE, "ring size");

/* csc_ring_sw_to_hw for the driver's power-of-two rings: a subtraction
 * and a mask per descriptor access instead of two divisions. */
static inline unsigned igbvf_slot(const struct igbvf_ring *r, unsigned sw)
{
	return (sw - r->map.offset) & (r->count - 1);
}

#define IGBVF_N_COUNTERS 9

/* The driver's CompSC state (compsc.c). */
struct igbvf_csc {
	struct csc_shared_area *area;	/* NULL: CompSC off for this VF */
	struct csc_counter *ctr[IGBVF_N_COUNTERS];	/* in the area, igbvf_stats order */
	/* Read-lock nesting: the receive path hands frames to lwIP, which
	 * may send (and so enter the send path) before the receive path
	 * leaves. Only the outermost level takes the area's lock: a nested
	 * reader would deadlock against a waiting writer. One vCPU, and
	 * interrupt handlers never enter the driver, so a plain counter. */
	unsigned depth;
	bool broken;		/* a restoration is due and has not succeeded */
	bool failed;		/* the last attempt failed: the next resets fully */
	uint64_t retry_us;	/* after a failed restoration: not before this */
	uint32_t restorations;
	uint32_t last_restore_us;
	uint64_t dirty_pages;	/* pages touched by dummy writes */
	/* What the VF holds in each I/O-migration register (the area's list
	 * order), as far as the driver knows: its reset value, or what the
	 * driver wrote since. The restoration skips staged values the new
	 * VF already holds (each write is an exit). */
	uint32_t iomig_hw[CSC_AREA_MAX_IOREGS];
};

struct igbvf_adapter {
	struct igbvf_hw hw;
	struct igbvf_ring rx, tx;
	uint32_t vector_base;	/* guest vector of MSI-X 0 */
	unsigned instance;
	bool irq_mode;
	bool up;
	struct csc_intr_rec intr;	/* interrupt configuration of the last up (eims 0: polling) */
	/* Settings the driver applies again after its own reset (INIT), as
	 * Linux igbvf does: the reset makes the PF forget them. */
	bool mac_set;		/* mac was chosen with igbvf_set_mac */
	uint8_t mac[6];
	uint8_t mc[VF_MSG_MAX_MC_HASHES][6];
	unsigned mc_count;
	uint32_t max_frame;	/* 0: never set (the PF's default) */
	struct igbvf_stats stats;
	struct igbvf_csc csc;
};

extern const struct igbvf_mac_ops igbvf_mac_ops_82576;
extern const struct igbvf_mbx_ops igbvf_mbx_ops_82576;

/* Probe: finds VF `instance` in the boot information, sets up CompSC
 * (unless compsc=off), resets the VF (op set INIT), learns its MAC from
 * the PF. Returns 0 or -errno. */
int igbvf_probe(struct igbvf_adapter *a, unsigned instance);
/* Probe of a hot-plugged VF in the slot a was probed in before (after
 * igbvf_down and the device's removal): as igbvf_probe, keeping the rings'
 * memory. */
int igbvf_probe_again(struct igbvf_adapter *a);
/* Op set UP: rings (fresh: frames still queued from before a down are
 * dropped, as Linux igbvf does), interrupts, queues on. -EBUSY if up. */
int igbvf_up(struct igbvf_adapter *a, bool irq_mode);
/* Op set DOWN: interrupts masked, queues off. -EBUSY if down. */
int igbvf_down(struct igbvf_adapter *a);
/* Op set INIT while down: VF reset through the mailbox handshake, then
 * the MAC, multicast list and LPE set before are applied again. */
int igbvf_reset(struct igbvf_adapter *a);
/* Op sets SET_MAC, SET_MC (at most 30 addresses are kept, as the PF
 * does), SET_LPE (largest frame, 64..16128 bytes). 0 or -errno (-EINVAL
 * when the PF refuses). */
int igbvf_set_mac(struct igbvf_adapter *a, const uint8_t mac[6]);
int igbvf_set_multicast(struct igbvf_adapter *a, const uint8_t (*list)[6], unsigned n);
int igbvf_set_lpe(struct igbvf_adapter *a, uint32_t max_frame);

typedef void (*igbvf_rx_fn)(void *ctx, const uint8_t *frame, unsigned len);
/* Hands up to budget received frames to fn; returns how many. */
unsigned igbvf_rx_poll(struct igbvf_adapter *a, unsigned budget, igbvf_rx_fn fn, void *ctx);
/* Queues a frame (copied); -EBUSY when the ring is full, -EIO when the
 * interface is down (or its restoration failed). igbvf_tx_flush writes
 * the tail once for everything queued. */
int igbvf_xmit(struct igbvf_adapter *a, const void *frame, unsigned len);
void igbvf_tx_flush(struct igbvf_adapter *a);
/* Reclaims sent descriptors; returns how many are in flight. */
unsigned igbvf_tx_clean(struct igbvf_adapter *a);
/* Interrupt mode: re-arm the vectors before sleeping. */
void igbvf_irq_enable(struct igbvf_adapter *a);
/* Whether the next received frame is already there (before sleeping). */
bool igbvf_rx_ready(const struct igbvf_adapter *a);
void igbvf_update_stats(struct igbvf_adapter *a);

/* ---- CompSC (compsc.c) ---------------------------------------------------- */

/* Whether CompSC is on for this VF. */
static inline bool igbvf_csc_on(const struct igbvf_adapter *a)
{
	return a->csc.area != NULL;
}

/* Sets up CompSC at probe, before the first op set: compsc=off, or a VF
 * other than the VM's first (the platform has one area per VM), leaves
 * it off. Prints one "compsc: ..." line either way. */
void igbvf_csc_setup(struct igbvf_adapter *a);

/* Restoration, when the read lock reports a new version: see compsc.c.
 * Returns true when the VF is usable. */
bool igbvf_csc_restore_due(struct igbvf_adapter *a);

/* Enters a CompSC critical section (an op set or a data-path section):
 * the area's read lock at the outermost level, and the restoration if a
 * migration happened since the last one. Returns false if the device is
 * not usable (its restoration failed: retried at most once a second);
 * igbvf_csc_exit must follow either way. With CompSC off: nothing. The
 * hot path is a version compare and two atomics. */
static inline bool igbvf_csc_enter(struct igbvf_adapter *a)
{
	struct csc_shared_area *area = a->csc.area;

	if (!area)
		return true;
	if (a->csc.depth++)
		return !a->csc.broken;
	if (__builtin_expect(csc_area_read_lock(area) != 0, 0))
		return igbvf_csc_restore_due(a);
	return true;
}

static inline void igbvf_csc_exit(struct igbvf_adapter *a)
{
	if (a->csc.area && --a->csc.depth == 0)
		csc_area_read_unlock(a->csc.area);
}

/* Op sets: enter, then csc_opset_begin. 0, -EAGAIN (device unusable) or
 * the state machine's -EINVAL / -EBUSY; on error nothing is held. */
int igbvf_opset_begin(struct igbvf_adapter *a, enum csc_opset op);
/* ret 0: csc_opset_end, else csc_opset_abort; then exit. Returns ret. */
int igbvf_opset_end(struct igbvf_adapter *a, enum csc_opset op, int ret);

/* Dummy writes after reaping (only while a migration runs): the pages of
 * the descriptors of sw indices [first, first + n) of r, wrapping. */
void igbvf_csc_dirty_descs(struct igbvf_adapter *a, const struct igbvf_ring *r, unsigned first, unsigned n);

/* Writes an I/O-migration register (EITR, IVAR, EIAC, EIAM, SRRCTL) and
 * keeps the value in the area's list as the default for the restoration,
 * in case the hypervisor stages nothing there (see compsc.c). */
void igbvf_wr32_iomig(struct igbvf_adapter *a, uint32_t reg, uint32_t value);

/* Updates the statistics and prints "compsc: counters gprc=N gptc=N
 * gorc=N gotc=N mprc=N": the driver's 64-bit totals (self-emulated with
 * CompSC on, igbvf-style otherwise), for checks of their continuity. */
void igbvf_csc_print_counters(struct igbvf_adapter *a);

/* compsc-selftest-ms (netif_vf.c): the guest plays the hypervisor's part
 * of a migration to the same VF, to exercise the restoration without a
 * second host. bump false: raise the migration flag (dummy writes start);
 * true: write-lock, bump the version, clear the flag, unlock - the next
 * critical section restores (the VF reset makes it as new as a VF gets,
 * but for its counters). Only between critical sections. Returns the new
 * version (bump), 0, or -EBUSY. */
int igbvf_csc_selftest_migrate(struct igbvf_adapter *a, bool bump);

/* Platform registers COMPSC_AREA / COMPSC_STATUS (guest/rt/compsc.c):
 * registers the area's guest-physical address, returns the status (0:
 * accepted, or a VMM that does not know the register; else an errno). */
uint32_t platform_compsc_register(uint64_t gpa);

#endif
