/* One 82576 virtual function: register file, interrupt logic, VF side of
 * the mailbox, and the RX/TX DMA engines (vf_queues.c).
 *
 * The model is single-threaded and clock-driven: everything happens inside
 * nic_vf_read/write (a register access from the VMM), nic_vf_receive (a
 * frame from the switch, vf_queues.h) and nic_vf_poll_timers (throttled
 * interrupts and stalled transmit). The outside world is reached only through the ops
 * table, so unit tests run the model with fakes.
 *
 * The premise of the project holds here: there is no call that reads out
 * or loads a VF's internal state (ring heads, interrupt causes, mailbox
 * state). What a host can see is what the PF of a real NIC can see. */
#ifndef CSC_NIC_VF_H
#define CSC_NIC_VF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/log.h"
#include "../common/vf82576.h"
#include "../common/vf_regtable.h"
#include "dma.h"

#define VF_MAX_FRAME_DEFAULT	1522u	/* 1518 + VLAN tag */
#define VF_MAX_FRAME_LIMIT	16128u
#define VF_TX_ASSEMBLY_MAX	16384u
#define VF_RX_FIFO_BYTES	(256u << 10)	/* on-chip packet buffer */
#define VF_RX_FIFO_FRAMES	256u

struct nic_vf;

/* How a transmitted frame left the VF: through the internal switch to
 * another VF (loopback), or out of the uplink. */
enum vf_tx_result { VF_TX_UPLINK = 0, VF_TX_LOOPBACK = 1 };

struct nic_vf_ops {
	/* MSI-X vector fires. */
	void (*raise_irq)(struct nic_vf *vf, unsigned vector);
	/* A frame to send: enum vf_tx_result, or -EAGAIN when the egress
	 * has no credit (the engine stops; nic_vf_poll_timers retries). */
	int (*transmit)(struct nic_vf *vf, const uint8_t *frame, size_t len);
	/* The VF posted a mailbox message (REQ). */
	void (*mailbox_request)(struct nic_vf *vf);
	/* The VF was reset (CTRL.RST or function reset). */
	void (*reset_notify)(struct nic_vf *vf);
	uint64_t (*now_ns)(struct nic_vf *vf);
};

struct vf_queue {
	bool enabled;
	bool faulted;		/* DMA fault: stopped until reprogrammed or reset */
	uint32_t head;		/* hardware's index (RDH/TDH) */
	uint32_t count;		/* descriptors, from the length register */
	uint64_t base;
};

struct vf_rx_frame {
	uint8_t *data;
	uint32_t len;
	bool loopback;
};

/* Counters of things that went wrong, for the host (never visible to the
 * guest as registers). */
struct vf_error_counts {
	uint64_t unknown_reads, unknown_writes, ro_writes, bad_width;
	uint64_t dma_faults, rx_fifo_drops, rx_oversize, tx_oversize, tx_runt;
	uint64_t irq_lost;	/* vector fired with no eventfd behind it */
};

struct nic_vf {
	unsigned index;
	const struct nic_vf_ops *ops;
	void *owner;		/* the NIC, or a test's context */

	uint32_t regs[VF_BAR0_SIZE / 4];	/* indexed by offset >> 2 */
	const struct vf_reg_info *reg_info[VF_BAR0_SIZE / 4];
	struct dma_space dma;

	struct vf_queue rxq[VF_NUM_QUEUES], txq[VF_NUM_QUEUES];
	uint8_t tx_frame[VF_NUM_QUEUES][VF_TX_ASSEMBLY_MAX];
	uint32_t tx_len[VF_NUM_QUEUES];
	bool tx_oversize[VF_NUM_QUEUES];
	bool tx_stalled;	/* egress out of credit: retry on the timer */

	/* RX packet buffer: frames wait here for descriptors. */
	struct vf_rx_frame fifo[VF_RX_FIFO_FRAMES];
	unsigned fifo_head, fifo_count;
	uint32_t fifo_bytes;

	/* Interrupts: EICR and EIMS live in regs[]; throttling state here. */
	uint64_t irq_next_ns[VF_NUM_VECTORS];
	bool irq_pending[VF_NUM_VECTORS];

	/* Mailbox, VF side (the PF side is pf.c). */
	bool mbx_vfu, mbx_pfu, mbx_pfsts, mbx_pfack, mbx_rsti, mbx_rstd;

	uint32_t max_frame;
	bool pf_enabled;	/* PF control: queues may run; else RX is held */
	struct vf_error_counts err;
	struct ratelimit log_rl;
};

void nic_vf_init(struct nic_vf *vf, unsigned index, const struct nic_vf_ops *ops, void *owner);
void nic_vf_destroy(struct nic_vf *vf);

/* BAR0 accesses (32-bit, aligned; other widths are counted and ignored). */
uint32_t nic_vf_read(struct nic_vf *vf, uint32_t offset);
void nic_vf_write(struct nic_vf *vf, uint32_t offset, uint32_t value);

/* Function-level reset (vfio-user DEVICE_RESET); CTRL.RST does the same. */
void nic_vf_reset(struct nic_vf *vf);

/* Timers: fires throttled interrupts that are due, retries stalled TX.
 * nic_vf_next_deadline() is the time the caller should call again
 * (UINT64_MAX: nothing pending). */
void nic_vf_poll_timers(struct nic_vf *vf);
uint64_t nic_vf_next_deadline(const struct nic_vf *vf);

/* PF controls. */
void nic_vf_set_pf_enabled(struct nic_vf *vf, bool enabled);
/* Mailbox, PF side: read the VF's message, acknowledge it, post a reply. */
unsigned nic_vf_mbx_read(struct nic_vf *vf, uint32_t *words, unsigned max);
void nic_vf_mbx_ack(struct nic_vf *vf);
void nic_vf_mbx_post(struct nic_vf *vf, const uint32_t *words, unsigned n);
void nic_vf_mbx_reset_done(struct nic_vf *vf);

/* Raises an interrupt cause: queue causes and the "other" (mailbox) cause,
 * mapped to vectors through IVAR0 / IVAR_MISC. */
enum vf_cause { VF_CAUSE_RX0, VF_CAUSE_TX0, VF_CAUSE_RX1, VF_CAUSE_TX1, VF_CAUSE_OTHER };
void nic_vf_raise_cause(struct nic_vf *vf, enum vf_cause cause);

static inline uint32_t vf_reg(const struct nic_vf *vf, uint32_t offset)
{
	return vf->regs[offset >> 2];
}

static inline void vf_reg_set(struct nic_vf *vf, uint32_t offset, uint32_t value)
{
	vf->regs[offset >> 2] = value;
}

#define vf_log(vf, level, fmt, ...)                                                          \
	do {                                                                                 \
		uint64_t vf_log_suppressed_;                                                 \
		if (ratelimit_pass(&(vf)->log_rl, &vf_log_suppressed_))                      \
			log_msg(level, "vf%u: " fmt, (vf)->index, ##__VA_ARGS__);            \
	} while (0)

#endif
