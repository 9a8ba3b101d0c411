/* CompSC register classes (compsc/regclass.c): every 82576 VF register
 * falls in exactly one class, and the class agrees with the register
 * table's flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/vf82576.h"
#include "../../common/vf_regtable.h"
#include "../../compsc/regclass.h"

static int is_tail(uint32_t off)
{
	return off == VF_RDT(0) || off == VF_RDT(1) || off == VF_TDT(0) || off == VF_TDT(1);
}

static void test_every_register_exactly_one_class(void **state)
{
	unsigned seen[256] = { 0 };	/* per table index: classes it was listed in */
	unsigned total = 0;
	(void)state;

	assert_true(vf82576_n_regs < 256);
	for (int cls = CSC_REG_UNKNOWN; cls < CSC_REG_NCLASSES; cls++) {
		unsigned it = 0, n = 0;
		const struct vf_reg_info *r;
		while ((r = csc_reg_next((enum csc_reg_class)cls, &it))) {
			seen[r - vf82576_regs]++;
			assert_int_equal(csc_reg_class(r->offset), cls);
			n++;
		}
		assert_int_equal(n, csc_regset_count(&csc_regs_82576, (enum csc_reg_class)cls));
		total += n;
	}
	assert_int_equal(total, vf82576_n_regs);
	for (unsigned i = 0; i < vf82576_n_regs; i++) {
		assert_int_equal(seen[i], 1);
		assert_int_not_equal(csc_reg_class(vf82576_regs[i].offset), CSC_REG_UNKNOWN);
	}
}

static void test_class_agrees_with_flags(void **state)
{
	(void)state;
	for (unsigned i = 0; i < vf82576_n_regs; i++) {
		const struct vf_reg_info *r = &vf82576_regs[i];
		enum csc_reg_class c = csc_reg_class(r->offset);

		/* The two mechanisms the table names outright, both ways. */
		assert_int_equal(c == CSC_REG_COUNTER, (r->flags & VF_REGF_COUNTER) != 0);
		assert_int_equal(c == CSC_REG_IOMIGRATE, (r->flags & VF_REGF_MIGRATE) != 0);
		if (r->flags & (VF_REGF_RING_HEAD | VF_REGF_DYNAMIC))
			assert_int_equal(c, CSC_REG_VOLATILE);
		if (r->cls == VF_REG_RC || r->cls == VF_REG_RC_W1C || r->cls == VF_REG_WO || r->cls == VF_REG_W1S)
			assert_int_equal(c, CSC_REG_VOLATILE);
		/* A side-effect write that is not a doorbell is an op-set step. */
		if ((r->flags & VF_REGF_SIDE_EFFECT) && (r->cls == VF_REG_RW || r->cls == VF_REG_SC))
			assert_int_equal(c, is_tail(r->offset) ? CSC_REG_VOLATILE : CSC_REG_OPSET);
		/* What the hypervisor copies must be safe to copy: plain RW, no
		 * side effect; what is self-emulated is read-only. */
		if (c == CSC_REG_IOMIGRATE) {
			assert_int_equal(r->cls, VF_REG_RW);
			assert_false(r->flags & VF_REGF_SIDE_EFFECT);
		}
		if (c == CSC_REG_COUNTER)
			assert_int_equal(r->cls, VF_REG_RO);
		/* Replayed registers would be plain settings. */
		if (c == CSC_REG_REPLAYED)
			assert_true(r->cls == VF_REG_RW && !(r->flags & VF_REGF_SIDE_EFFECT));
	}
}

static void test_expected_members(void **state)
{
	(void)state;
	const uint32_t iomig[] = { VF_EIAC, VF_EIAM, VF_EITR(0), VF_EITR(1), VF_EITR(2), VF_IVAR0, VF_IVAR_MISC,
				   VF_SRRCTL(0), VF_SRRCTL(1), VF_RXCTL(0), VF_RXCTL(1), VF_TXCTL(0), VF_TXCTL(1),
				   VF_TDWBAL(0), VF_TDWBAL(1), VF_TDWBAH(0), VF_TDWBAH(1) };
	const uint32_t counters[] = { VF_GPRC, VF_GPTC, VF_GORC, VF_GOTC, VF_MPRC,
				      VF_GPRLBC, VF_GPTLBC, VF_GORLBC, VF_GOTLBC };
	const uint32_t vol[] = { VF_RDT(0), VF_RDT(1), VF_TDT(0), VF_TDT(1), VF_EICR, VF_EICS, VF_EIMS, VF_EIMC,
				 VF_RDH(0), VF_TDH(1), VF_STATUS, VF_FRTIMER, VF_RQDPC(0), VF_RQDPC(1) };
	const uint32_t opset[] = { VF_CTRL, VF_V2PMAILBOX, VF_VMBMEM, VF_VMBMEM + 60, VF_RDBAL(0), VF_RDBAH(0),
				   VF_RDLEN(1), VF_RXDCTL(0), VF_TDBAL(1), VF_TDBAH(1), VF_TDLEN(0), VF_TXDCTL(1) };

	for (unsigned i = 0; i < sizeof(iomig) / sizeof(iomig[0]); i++)
		assert_int_equal(csc_reg_class(iomig[i]), CSC_REG_IOMIGRATE);
	for (unsigned i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		assert_int_equal(csc_reg_class(counters[i]), CSC_REG_COUNTER);
	for (unsigned i = 0; i < sizeof(vol) / sizeof(vol[0]); i++)
		assert_int_equal(csc_reg_class(vol[i]), CSC_REG_VOLATILE);
	for (unsigned i = 0; i < sizeof(opset) / sizeof(opset[0]); i++)
		assert_int_equal(csc_reg_class(opset[i]), CSC_REG_OPSET);
	/* The lists above are complete for the two mechanisms with a flag. */
	assert_int_equal(csc_regset_count(&csc_regs_82576, CSC_REG_IOMIGRATE), 17);
	assert_int_equal(csc_regset_count(&csc_regs_82576, CSC_REG_COUNTER), 9);
	/* Every side-effect-free setting of the 82576 is I/O-migrated: nothing
	 * is left for the driver to replay register by register. */
	assert_int_equal(csc_regset_count(&csc_regs_82576, CSC_REG_REPLAYED), 0);
}

static void test_unknown_offsets(void **state)
{
	(void)state;
	assert_int_equal(csc_reg_class(0x0004), CSC_REG_UNKNOWN);
	assert_int_equal(csc_reg_class(VF_CTRL + 1), CSC_REG_UNKNOWN);
	assert_int_equal(csc_reg_class(VF_EIAC + 2), CSC_REG_UNKNOWN);
	assert_int_equal(csc_reg_class(VF_BAR0_SIZE), CSC_REG_UNKNOWN);
	assert_int_equal(csc_reg_class(0xffffffffu), CSC_REG_UNKNOWN);
	assert_null(csc_regset_lookup(&csc_regs_82576, 0x0004));
	assert_int_equal(csc_regset_lookup(&csc_regs_82576, VF_EICR)->offset, VF_EICR);
}

static void test_iterator(void **state)
{
	unsigned it = 0, n = 0;
	uint32_t last = 0;
	const struct vf_reg_info *r;
	(void)state;

	while ((r = csc_reg_next(CSC_REG_IOMIGRATE, &it))) {
		if (n++)
			assert_true(r->offset > last);	/* offset order */
		last = r->offset;
	}
	assert_int_equal(n, 17);
	/* At the end it stays at the end. */
	assert_null(csc_reg_next(CSC_REG_IOMIGRATE, &it));
	assert_null(csc_reg_next(CSC_REG_COUNTER, &it));
}

/* The rules are the table's, not the 82576's: a personality with a plain
 * setting nobody copies gets a replayed register; the doorbell list and
 * the mailbox window are honoured. */
static const struct vf_reg_info synth_regs[] = {
	{ 0x0000, VF_REG_SC, VF_REGF_SIDE_EFFECT, 0, 1, "CTRL" },
	{ 0x0010, VF_REG_RW, 0, 0, 0xffffffffu, "PLAIN" },
	{ 0x0014, VF_REG_RW, VF_REGF_MIGRATE, 0, 0xffffffffu, "COPIED" },
	{ 0x0018, VF_REG_RW, VF_REGF_SIDE_EFFECT, 0, 0xffffu, "TAIL" },
	{ 0x0020, VF_REG_RW, 0, 0, 0xffffffffu, "MBXMEM0" },
	{ 0x0030, VF_REG_RO, VF_REGF_COUNTER, 0, 0, "CNT" },
	{ 0x0034, VF_REG_RO, 0, 0, 0, "ID" },
};
static const unsigned synth_n = sizeof(synth_regs) / sizeof(synth_regs[0]);
static const uint16_t synth_doorbells[] = { 0x0018 };
static const struct csc_regset synth = {
	.name = "synthetic", .regs = synth_regs, .n_regs = &synth_n,
	.doorbells = synth_doorbells, .n_doorbells = 1, .mbx_mem = 0x20, .mbx_mem_len = 4,
};

static void test_rules_on_another_table(void **state)
{
	(void)state;
	assert_int_equal(csc_regset_class(&synth, 0x00), CSC_REG_OPSET);
	assert_int_equal(csc_regset_class(&synth, 0x10), CSC_REG_REPLAYED);
	assert_int_equal(csc_regset_class(&synth, 0x14), CSC_REG_IOMIGRATE);
	assert_int_equal(csc_regset_class(&synth, 0x18), CSC_REG_VOLATILE);
	assert_int_equal(csc_regset_class(&synth, 0x20), CSC_REG_OPSET);
	assert_int_equal(csc_regset_class(&synth, 0x30), CSC_REG_COUNTER);
	assert_int_equal(csc_regset_class(&synth, 0x34), CSC_REG_VOLATILE);
	assert_int_equal(csc_regset_class(&synth, 0x24), CSC_REG_UNKNOWN);
	assert_int_equal(csc_regset_count(&synth, CSC_REG_REPLAYED), 1);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(csc_reg_class_name(CSC_REG_IOMIGRATE), "I/O-migrated");
	assert_string_equal(csc_reg_class_name(CSC_REG_VOLATILE), "volatile");
	assert_string_equal(csc_reg_class_name((enum csc_reg_class)99), "?");
	assert_string_equal(csc_regs_82576.name, "82576 VF");
	assert_int_equal(csc_regs_82576.device_id, VF_PCI_DEVICE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_register_exactly_one_class),
		cmocka_unit_test(test_class_agrees_with_flags),
		cmocka_unit_test(test_expected_members),
		cmocka_unit_test(test_unknown_offsets),
		cmocka_unit_test(test_iterator),
		cmocka_unit_test(test_rules_on_another_table),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
