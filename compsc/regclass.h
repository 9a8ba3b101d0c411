/* Register classes: by which CompSC mechanism each VF register's state
 * reaches the destination VF.
 *
 * The NIC model, the tests and this core read one register table
 * (common/vf_regtable.c). CompSC needs one more fact per register - how it
 * is carried across a migration - and that fact is derived from the table's
 * access class and flags (the rules are in regclass.c), never kept in a
 * second list that could disagree with the device model:
 *
 *   REPLAYED   a plain setting (read/write, no side effect) that the
 *              hypervisor does not copy: the driver replays its last write.
 *   OPSET      written only inside an operation set (CTRL reset, ring base
 *              and length, queue enables, the mailbox): restored by
 *              replaying the op set with its recorded parameters (opset.h).
 *   IOMIGRATE  VF_REGF_MIGRATE: a plain setting the hypervisor copies from
 *              the source VF to the destination (I/O register migration).
 *   COUNTER    VF_REGF_COUNTER: a statistics counter, self-emulated
 *              (counters.h).
 *   VOLATILE   nothing to carry: doorbells (tails), interrupt causes and
 *              masks, ring heads, values computed on read, read-to-clear
 *              drop counters. The replay and the ring offset recreate what
 *              matters of them.
 *
 * For the 82576 table every side-effect-free setting is flagged
 * VF_REGF_MIGRATE, so REPLAYED is empty there: the class exists for
 * personalities whose settings the hypervisor cannot read back.
 *
 * A register set (struct csc_regset) is one VF personality: its table plus
 * the two facts the table does not hold (which registers are doorbells and
 * where the mailbox memory is). A second personality (82599) is one more
 * csc_regset. */
#ifndef CSC_CORE_REGCLASS_H
#define CSC_CORE_REGCLASS_H

#include <stdint.h>

#include "../common/vf_regtable.h"

enum csc_reg_class {
	CSC_REG_UNKNOWN = 0,	/* not a register of the set */
	CSC_REG_REPLAYED,
	CSC_REG_OPSET,
	CSC_REG_IOMIGRATE,
	CSC_REG_COUNTER,
	CSC_REG_VOLATILE,
	CSC_REG_NCLASSES
};

struct csc_regset {
	const char *name;
	uint16_t device_id;			/* PCI device ID of the VF */
	const struct vf_reg_info *regs;		/* sorted by offset */
	const unsigned *n_regs;			/* a pointer: the count is an extern const */
	/* Tail registers: a write hands descriptors to the device, a
	 * side effect repeated per frame, not a setting. The table's flags
	 * cannot tell them from ring base writes, hence this list. */
	const uint16_t *doorbells;
	unsigned n_doorbells;
	uint32_t mbx_mem, mbx_mem_len;		/* mailbox message memory, bytes */
};

extern const struct csc_regset csc_regs_82576;

/* The class of one table entry of set. */
enum csc_reg_class csc_regset_classify(const struct csc_regset *set, const struct vf_reg_info *r);
/* The entry at offset, or NULL (unknown or misaligned). */
const struct vf_reg_info *csc_regset_lookup(const struct csc_regset *set, uint32_t offset);
/* The class of the register at offset; CSC_REG_UNKNOWN if there is none. */
enum csc_reg_class csc_regset_class(const struct csc_regset *set, uint32_t offset);
/* Iterates over the registers of one class in offset order. Start with
 * *it = 0; returns NULL at the end:
 *
 *	unsigned it = 0;
 *	const struct vf_reg_info *r;
 *	while ((r = csc_regset_next(&csc_regs_82576, CSC_REG_IOMIGRATE, &it)))
 *		...;
 */
const struct vf_reg_info *csc_regset_next(const struct csc_regset *set, enum csc_reg_class cls, unsigned *it);
unsigned csc_regset_count(const struct csc_regset *set, enum csc_reg_class cls);

const char *csc_reg_class_name(enum csc_reg_class cls);

/* Shorthands for the 82576 VF, the personality the driver and NIC use. */
static inline enum csc_reg_class csc_reg_class(uint32_t offset)
{
	return csc_regset_class(&csc_regs_82576, offset);
}

static inline const struct vf_reg_info *csc_reg_next(enum csc_reg_class cls, unsigned *it)
{
	return csc_regset_next(&csc_regs_82576, cls, it);
}

#endif
