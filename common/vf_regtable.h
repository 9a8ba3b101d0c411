/* The 82576 VF register file as data: offset, reset value, access class,
 * writable bits and what CompSC needs to know about each register.
 *
 * One table serves three readers: the NIC model (which binds side-effect
 * handlers to the registers flagged VF_REGF_SIDE_EFFECT), the tests (which
 * walk it to check every class), and the guest's CompSC recorder (which
 * learns from it which registers are plain settings to migrate and which
 * counters to self-emulate). Freestanding: no libc. */
#ifndef CSC_COMMON_VF_REGTABLE_H
#define CSC_COMMON_VF_REGTABLE_H

#include <stdint.h>

enum vf_reg_class {
	VF_REG_RW,		/* read/write */
	VF_REG_RO,		/* read-only: writes ignored (counted) */
	VF_REG_WO,		/* write-only: reads return 0 */
	VF_REG_W1S,		/* write 1s to set bits; read returns the bits (EIMS) */
	VF_REG_RC,		/* read-to-clear (drop counters) */
	VF_REG_RC_W1C,		/* read-to-clear, and write 1s to clear (EICR) */
	VF_REG_SC,		/* RW with self-clearing command bits (CTRL.RST) */
	VF_REG_RESERVED,
};

/* Flags */
#define VF_REGF_SIDE_EFFECT	0x01	/* a write triggers device behaviour */
#define VF_REGF_MIGRATE		0x02	/* plain setting: I/O register migration copies it */
#define VF_REGF_COUNTER		0x04	/* monotonic statistics counter: self-emulated */
#define VF_REGF_RING_HEAD	0x08	/* ring head: read-only, 0 after reset */
#define VF_REGF_DYNAMIC		0x10	/* value computed on read (STATUS, FRTIMER) */

struct vf_reg_info {
	uint16_t offset;
	uint8_t cls;		/* enum vf_reg_class */
	uint8_t flags;
	uint32_t reset;		/* value after VF reset */
	uint32_t wmask;		/* bits software can write */
	const char *name;
};

extern const struct vf_reg_info vf82576_regs[];
extern const unsigned vf82576_n_regs;

/* The entry for a 32-bit register at offset, or NULL for an unknown or
 * misaligned offset. Binary search: the table is sorted by offset. */
const struct vf_reg_info *vf82576_reg_lookup(uint32_t offset);

const char *vf_reg_class_name(unsigned cls);

#endif
