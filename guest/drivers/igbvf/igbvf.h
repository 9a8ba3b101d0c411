/* igbvf: the guest's driver for the 82576 VF, at ring 3.
 *
 * Structured like Linux's igbvf: every register access goes through
 * igbvf_rd32/igbvf_wr32 (the single path where CompSC's recorder will
 * hook), hardware operations go through an ops table, rings are managed
 * with next_to_use / next_to_clean, DD checks and barriers, and doorbells
 * (tail writes) are batched because each one is an MMIO exit (tens of
 * microseconds on PVM hosts, see docs/platform-notes.md). */
#ifndef GUEST_IGBVF_H
#define GUEST_IGBVF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../common/vf82576.h"
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
	int (*reset_hw)(struct igbvf_hw *hw);
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
};

static inline uint32_t igbvf_rd32(struct igbvf_hw *hw, uint32_t reg)
{
	hw->reg_reads++;
	return mmio_read32(&hw->bar[reg / 4]);
}

static inline void igbvf_wr32(struct igbvf_hw *hw, uint32_t reg, uint32_t value)
{
	hw->reg_writes++;
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
};

struct igbvf_adapter {
	struct igbvf_hw hw;
	struct igbvf_ring rx, tx;
	uint32_t vector_base;	/* guest vector of MSI-X 0 */
	bool irq_mode;
	bool up;
	struct igbvf_stats stats;
};

extern const struct igbvf_mac_ops igbvf_mac_ops_82576;
extern const struct igbvf_mbx_ops igbvf_mbx_ops_82576;

/* Probe: finds VF `instance` in the boot information, resets it, learns
 * its MAC from the PF. Returns 0 or -errno. */
int igbvf_probe(struct igbvf_adapter *a, unsigned instance);
/* Rings, interrupts, queues on. */
int igbvf_up(struct igbvf_adapter *a, bool irq_mode);
void igbvf_down(struct igbvf_adapter *a);

typedef void (*igbvf_rx_fn)(void *ctx, const uint8_t *frame, unsigned len);
/* Hands up to budget received frames to fn; returns how many. */
unsigned igbvf_rx_poll(struct igbvf_adapter *a, unsigned budget, igbvf_rx_fn fn, void *ctx);
/* Queues a frame (copied); -EBUSY when the ring is full. igbvf_tx_flush
 * writes the tail once for everything queued. */
int igbvf_xmit(struct igbvf_adapter *a, const void *frame, unsigned len);
void igbvf_tx_flush(struct igbvf_adapter *a);
/* Reclaims sent descriptors; returns how many are in flight. */
unsigned igbvf_tx_clean(struct igbvf_adapter *a);
/* Interrupt mode: re-arm the vectors before sleeping. */
void igbvf_irq_enable(struct igbvf_adapter *a);
void igbvf_update_stats(struct igbvf_adapter *a);

#endif
