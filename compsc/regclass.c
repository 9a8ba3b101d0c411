/* Register classes from the register table's access classes and flags.
 * See regclass.h for what each class means; the order of the rules in
 * csc_regset_classify is the specification. */
#include "regclass.h"

#include "../common/vf82576.h"

static const uint16_t doorbells_82576[] = {
	VF_RDT(0), VF_RDT(1), VF_TDT(0), VF_TDT(1),
};

const struct csc_regset csc_regs_82576 = {
	.name = "82576 VF",
	.device_id = VF_PCI_DEVICE,
	.regs = vf82576_regs,
	.n_regs = &vf82576_n_regs,
	.doorbells = doorbells_82576,
	.n_doorbells = sizeof(doorbells_82576) / sizeof(doorbells_82576[0]),
	.mbx_mem = VF_VMBMEM,
	.mbx_mem_len = 4 * VF_VMBMEM_WORDS,
};

static int is_doorbell(const struct csc_regset *set, uint32_t offset)
{
	for (unsigned i = 0; i < set->n_doorbells; i++)
		if (set->doorbells[i] == offset)
			return 1;
	return 0;
}

enum csc_reg_class csc_regset_classify(const struct csc_regset *set, const struct vf_reg_info *r)
{
	/* 1-2. The table says so outright. */
	if (r->flags & VF_REGF_COUNTER)
		return CSC_REG_COUNTER;
	if (r->flags & VF_REGF_MIGRATE)
		return CSC_REG_IOMIGRATE;
	/* 3. State the device owns: heads advance with DMA, STATUS and
	 * FRTIMER are computed on read. Nothing the driver could restore. */
	if (r->flags & (VF_REGF_RING_HEAD | VF_REGF_DYNAMIC))
		return CSC_REG_VOLATILE;
	/* 4. Access classes whose writes are events, not settings: causes
	 * (EICS, EICR), mask set/clear (EIMS, EIMC: re-armed by the driver
	 * after restoration), read-to-clear drop counters. */
	switch (r->cls) {
	case VF_REG_RO:
	case VF_REG_WO:
	case VF_REG_W1S:
	case VF_REG_RC:
	case VF_REG_RC_W1C:
	case VF_REG_RESERVED:
		return CSC_REG_VOLATILE;
	default:
		break;
	}
	/* 5. Doorbells: restored through the ring offset (ring.h), which
	 * computes the tail to program on the destination. */
	if (is_doorbell(set, r->offset))
		return CSC_REG_VOLATILE;
	/* 6. A write with a side effect (reset, ring base, queue enable,
	 * mailbox control) is only meaningful as a step of an operation. */
	if (r->flags & VF_REGF_SIDE_EFFECT)
		return CSC_REG_OPSET;
	/* 7. Mailbox memory is plain read/write, but it holds a message, not
	 * a setting: the message's meaning is recorded by its op set. */
	if (r->offset >= set->mbx_mem && r->offset - set->mbx_mem < set->mbx_mem_len)
		return CSC_REG_OPSET;
	/* 8. What is left is a plain setting nobody copies: keep its last
	 * write (the paper's optimisation 1). */
	return CSC_REG_REPLAYED;
}

const struct vf_reg_info *csc_regset_lookup(const struct csc_regset *set, uint32_t offset)
{
	unsigned lo = 0, hi = *set->n_regs;

	if (offset & 3)
		return 0;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (set->regs[mid].offset == offset)
			return &set->regs[mid];
		if (set->regs[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

enum csc_reg_class csc_regset_class(const struct csc_regset *set, uint32_t offset)
{
	const struct vf_reg_info *r = csc_regset_lookup(set, offset);

	return r ? csc_regset_classify(set, r) : CSC_REG_UNKNOWN;
}

const struct vf_reg_info *csc_regset_next(const struct csc_regset *set, enum csc_reg_class cls, unsigned *it)
{
	while (*it < *set->n_regs) {
		const struct vf_reg_info *r = &set->regs[(*it)++];
		if (csc_regset_classify(set, r) == cls)
			return r;
	}
	return 0;
}

unsigned csc_regset_count(const struct csc_regset *set, enum csc_reg_class cls)
{
	unsigned it = 0, n = 0;

	while (csc_regset_next(set, cls, &it))
		n++;
	return n;
}

const char *csc_reg_class_name(enum csc_reg_class cls)
{
	static const char *const names[CSC_REG_NCLASSES] = {
		[CSC_REG_UNKNOWN] = "unknown",	 [CSC_REG_REPLAYED] = "replayed",
		[CSC_REG_OPSET] = "op set",	 [CSC_REG_IOMIGRATE] = "I/O-migrated",
		[CSC_REG_COUNTER] = "counter",	 [CSC_REG_VOLATILE] = "volatile",
	};

	return (unsigned)cls < CSC_REG_NCLASSES ? names[cls] : "?";
}
