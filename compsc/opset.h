/* Operation sets and the recorded state: CompSC's state replay.
 *
 * The driver groups its hardware work into operation sets (op sets): init,
 * up, down, set MAC, multicast list, max frame size (LPE), interrupt
 * configuration, ring set-up. Each is a critical section: the driver calls
 * csc_opset_begin, does the hardware work, records the parameters it used
 * (csc_rec_*), and calls csc_opset_end - all while it holds the shared
 * area's read lock, so the hypervisor never suspends the VM half-way
 * through one (shared_area.h).
 *
 * The recorded state is therefore bounded (CSC_REC_SIZE bytes, whatever the
 * driver did before): the interface state machine (UNINITIALISED, DOWN, UP)
 * plus the latest parameters of each setting. On the destination,
 * csc_rec_replay drives the driver's own hardware operations (struct
 * csc_replay_ops) to bring a fresh VF to that state.
 *
 * Interface states and the op sets allowed in each (a const table in
 * opset.c; anything else is refused with -EINVAL):
 *
 *                 INIT                 UP
 *   UNINITIALISED -----> DOWN <-------------> UP
 *                        |  ^      DOWN       |
 *                        +--+ INIT, SET_*,    +--+ SET_MAC, SET_MC,
 *                             CONFIG_INTR,         SET_LPE, CONFIG_INTR
 *                             CONFIG_RINGS
 *
 * Rings are reprogrammed only while down (queues disabled), and a reset
 * (INIT) only from DOWN, as igbvf does (down, reset, up).
 *
 * The record is embedded in the shared area (guest memory the hypervisor
 * reads), so it has a fixed little-endian layout with no pointers. */
#ifndef CSC_CORE_OPSET_H
#define CSC_CORE_OPSET_H

#include <stddef.h>
#include <stdint.h>

#include "../common/vf82576.h"

enum csc_if_state {
	CSC_IF_UNINIT = 0,	/* no reset yet: the PF refuses mailbox requests */
	CSC_IF_DOWN = 1,	/* reset, settings applied, queues off */
	CSC_IF_UP = 2,		/* rings and interrupts configured, queues on */
	CSC_IF_NSTATES
};

enum csc_opset {
	CSC_OP_NONE = 0,	/* no op set in progress */
	CSC_OP_INIT,		/* VF reset through the mailbox handshake */
	CSC_OP_UP,		/* rings, interrupts, queues on (records rings and interrupts) */
	CSC_OP_DOWN,
	CSC_OP_SET_MAC,
	CSC_OP_SET_MC,
	CSC_OP_SET_LPE,
	CSC_OP_CONFIG_INTR,
	CSC_OP_CONFIG_RINGS,
	CSC_OP_COUNT
};

/* Which settings have been recorded (csc_rec.have). A reset (INIT) clears
 * them all: the hardware forgot them too. */
#define CSC_HAVE_MAC	0x01u
#define CSC_HAVE_MC	0x02u
#define CSC_HAVE_LPE	0x04u
#define CSC_HAVE_INTR	0x08u
#define CSC_HAVE_ALL	0x0fu

#define CSC_REC_MAX_MC		VF_MSG_MAX_MC_HASHES	/* 30, as igbvf and the PF */
#define CSC_REC_QUEUES		VF_NUM_QUEUES
#define CSC_REC_RINGS		(2 * CSC_REC_QUEUES)
#define CSC_MAX_FRAME_MIN	64u	/* the PF's SET_LPE bounds */
#define CSC_MAX_FRAME_MAX	16128u
#define CSC_RING_ALIGN		32u	/* RDBAL/TDBAL ignore bits 4:0 */
#define CSC_RING_LEN_UNIT	128u	/* RDLEN/TDLEN: multiple of 128 bytes */
#define CSC_RING_LEN_MAX	0xfff80u
#define CSC_BUF_SIZE_MAX	(127u * 1024)	/* SRRCTL.BSIZEPACKET, KiB */

enum csc_ring_dir { CSC_RING_TX = 0, CSC_RING_RX = 1 };

/* Interrupt configuration: what configure_interrupts writes. */
struct csc_intr_rec {
	uint32_t eims;		/* vectors unmasked when up; 0 = polling mode */
	uint32_t eiac;
	uint32_t eiam;
	uint32_t ivar0;
	uint32_t ivar_misc;
	uint32_t eitr[VF_NUM_VECTORS];
};

/* One descriptor ring's set-up. rings[dir * CSC_REC_QUEUES + queue]. */
struct csc_ring_rec {
	uint64_t base;		/* guest-physical address of the descriptors */
	uint32_t len;		/* bytes, as RDLEN/TDLEN */
	uint32_t buf_size;	/* bytes per buffer (RX: SRRCTL packet buffer size) */
	uint8_t dir;		/* enum csc_ring_dir */
	uint8_t queue;
	uint8_t valid;		/* 1 once recorded */
	uint8_t reserved[5];
};

/* The recorded state. Layout (offsets in bytes, all little-endian):
 *
 *   0x000 state  in_progress  seq  have          4 x u32
 *   0x010 mac[6] pad[2]       max_frame  mc_count
 *   0x020 mc[30][6]                              180 bytes
 *   0x0d4 pad[4]
 *   0x0d8 intr   eims eiac eiam ivar0 ivar_misc eitr[3]   32 bytes
 *   0x0f8 rings[4]  TX0 TX1 RX0 RX1, 24 bytes each
 *   0x158 end (344 bytes)
 */
struct csc_rec {
	uint32_t state;		/* enum csc_if_state, as of the last completed op set */
	uint32_t in_progress;	/* enum csc_opset, CSC_OP_NONE outside op sets */
	uint32_t seq;		/* op sets completed */
	uint32_t have;		/* CSC_HAVE_* */
	uint8_t mac[6];
	uint8_t reserved0[2];
	uint32_t max_frame;
	uint32_t mc_count;
	uint8_t mc[CSC_REC_MAX_MC][6];
	uint8_t reserved1[4];
	struct csc_intr_rec intr;
	struct csc_ring_rec rings[CSC_REC_RINGS];
};

#define CSC_REC_SIZE sizeof(struct csc_rec)
_Static_assert(sizeof(struct csc_intr_rec) == 32, "csc_intr_rec layout");
_Static_assert(sizeof(struct csc_ring_rec) == 24, "csc_ring_rec layout");
_Static_assert(offsetof(struct csc_rec, intr) == 0xd8, "csc_rec layout");
_Static_assert(offsetof(struct csc_rec, rings) == 0xf8, "csc_rec layout");
_Static_assert(sizeof(struct csc_rec) == 0x158, "csc_rec layout");
_Static_assert(sizeof(struct csc_rec) < 4096, "the recorded state must stay under 4 KiB");

void csc_rec_init(struct csc_rec *rec);
/* sizeof(struct csc_rec), for the migration report. */
size_t csc_rec_size(void);

/* The state op from state leads to, or -EINVAL if op is not allowed there. */
int csc_opset_next_state(enum csc_if_state state, enum csc_opset op);

/* Starts op set op: -EBUSY if another is in progress (op sets do not
 * nest), -EINVAL if op is not allowed in the current state. On success
 * in_progress = op: a half-done op set is visible in the record. INIT
 * forgets the recorded settings (the reset makes the hardware forget). */
int csc_opset_begin(struct csc_rec *rec, enum csc_opset op);
/* Completes op set op (must be the one in progress): applies the
 * transition, counts it, clears in_progress. */
int csc_opset_end(struct csc_rec *rec, enum csc_opset op);
/* The op set failed: clears in_progress, the state stays. Parameters
 * recorded before the failure stay recorded (they are the latest intent). */
void csc_opset_abort(struct csc_rec *rec);

/* Recording. Each is allowed only inside the op sets that set that
 * parameter (else -EINVAL, nothing recorded):
 *   mac: INIT, SET_MAC     mc: INIT, SET_MC     lpe: INIT, SET_LPE
 *   intr: UP, CONFIG_INTR  ring: UP, CONFIG_RINGS
 * The multicast list is cut to CSC_REC_MAX_MC entries, as the hardware
 * operation cuts it, so the replay sends what the PF received. */
int csc_rec_mac(struct csc_rec *rec, const uint8_t mac[6]);
int csc_rec_mc(struct csc_rec *rec, const uint8_t (*list)[6], unsigned n);
int csc_rec_lpe(struct csc_rec *rec, uint32_t max_frame);
int csc_rec_intr(struct csc_rec *rec, const struct csc_intr_rec *intr);
int csc_rec_ring(struct csc_rec *rec, enum csc_ring_dir dir, unsigned queue, uint64_t base, uint32_t len,
		 uint32_t buf_size);

/* Whether a driver write to the register at offset is consistent with the
 * recording: writes to op-set or replayed registers belong inside an op
 * set, or the replay would not reproduce them. For a debug check in the
 * driver's write accessor. */
int csc_opset_write_ok(const struct csc_rec *rec, uint32_t offset);

/* The driver's real hardware operations, called by the replay. All but
 * restore_regs are required. Each returns 0 or -errno; ctx is the
 * driver's adapter. */
struct csc_replay_ops {
	int (*reset)(void *ctx);		/* CTRL.RST + mailbox reset handshake */
	int (*set_mac)(void *ctx, const uint8_t mac[6]);
	int (*update_mc)(void *ctx, const uint8_t (*list)[6], unsigned n);
	int (*set_lpe)(void *ctx, uint32_t max_frame);
	/* Program one ring (base, length, buffer size; head 0 and the tail
	 * from the ring offset, ring.h) and enable its queue. */
	int (*configure_rings)(void *ctx, const struct csc_ring_rec *ring);
	/* IVAR, EITR, EIAC, EIAM. Interrupts stay masked until up. */
	int (*configure_interrupts)(void *ctx, const struct csc_intr_rec *intr);
	/* Optional: write the I/O-migrated register values the hypervisor
	 * staged in the shared area (csc_area_apply_ioregs). They come after
	 * the reset, which would wipe them, and after the op sets, so that a
	 * value the driver changed outside an op set (EITR) wins. */
	int (*restore_regs)(void *ctx);
	int (*up)(void *ctx);			/* unmask (intr.eims), mark up */
	int (*down)(void *ctx);			/* mask, queues off, mark down */
};

/* Brings a fresh VF to the recorded state. Order:
 *
 *   target UNINITIALISED: nothing.
 *   otherwise:  reset, set_mac (if recorded), update_mc (if recorded),
 *               set_lpe (if recorded), then
 *     DOWN:     down
 *     UP:       configure_rings for each recorded ring (TX0 TX1 RX0 RX1),
 *               configure_interrupts (if recorded), restore_regs (if
 *               given), up
 *
 * The target is the committed state - or, if an op set was in progress
 * when the record was taken, the state that op set leads to (roll
 * forward: the recorded parameters are the driver's newest intent, and
 * the driver's own software state already reflects most of that op set).
 * On success the record says so (state = target, nothing in progress).
 * Stops at the first failing operation and returns its error; the record
 * is then unchanged and the replay can be retried (it starts with a
 * reset). Returns -EINVAL, before any call, if a required op is missing. */
int csc_rec_replay(struct csc_rec *rec, const struct csc_replay_ops *ops, void *ctx);

/* Structural check of a record taken from untrusted memory (the
 * hypervisor's copy of the shared area): enums in range, counts within
 * bounds, ring geometry plausible, addresses below ram_size. 0 or -EINVAL
 * with a reason in err. */
int csc_rec_validate(const struct csc_rec *rec, uint64_t ram_size, char *err, size_t errlen);

const char *csc_opset_name(enum csc_opset op);
const char *csc_if_state_name(enum csc_if_state state);

#endif
