/* compsc-selftest-ms=N (netif_vf.c): the guest plays the hypervisor's part
 * of a live migration to the same VF, to exercise the driver's
 * restoration - ring offsets with frames in flight, the replay from any
 * op-set state, counters, the link flap - on one host and with any VMM.
 *
 * What it does is what the hypervisor and the PF do at stop-and-copy and
 * activation (docs/compsc-core.md), minus what only they can do: the
 * queues are stopped with RXDCTL/TXDCTL (the PF's disable would keep the
 * VF's registers), and the driver's reset then drops the frames the NIC
 * was holding for the VF (a migration holds and delivers them). The VF reset makes the VF as
 * new as a VF gets, but for its statistics, which survive resets. */
#include "../../../common/csc_errno.h"
#include "igbvf.h"
#include "igbvf_internal.h"

static int read_reg(void *ctx, uint32_t offset, uint32_t *value)
{
	*value = igbvf_rd32(ctx, offset);
	return 0;
}

int igbvf_csc_selftest_migrate(struct igbvf_adapter *a, bool bump)
{
	struct csc_shared_area *s = a->csc.area;

	if (!s || a->csc.depth)
		return -EBUSY;
	if (!bump) {
		csc_area_set_migrating(s, 1);
		return 0;
	}
	/* No reader can be inside (depth 0, one vCPU): the lock is free. */
	if (csc_area_try_write_lock(s, 0, NULL, NULL))
		return -EBUSY;
	/* Stop the VF's DMA, as the source's PF does before the final copy
	 * (these writes, and the reset below, are the PF's and the VMM's,
	 * not the driver's: no op-set check). */
	const struct csc_rec *check = a->hw.check_rec;
	a->hw.check_rec = NULL;
	igbvf_wr32(&a->hw, VF_RXDCTL(0), 0);
	igbvf_wr32(&a->hw, VF_TXDCTL(0), 0);
	/* What the hypervisor should do at stop-and-copy (see the report in
	 * docs/guest-abi.md, "CompSC"): fold the source VF's final counter
	 * readings into the area, so that no event counted since the
	 * driver's last statistics read is lost. Counters read without side
	 * effects; here the "source" is this same VF. */
	for (unsigned i = 0; i < IGBVF_N_COUNTERS; i++)
		if (a->csc.ctr[i])
			csc_counter_update(a->csc.ctr[i], igbvf_rd32(&a->hw, igbvf_counter_regs[i]));
	/* I/O register migration: the VF's own values of the listed
	 * registers, read without side effects (plain RW registers), staged
	 * for the restoration as the hypervisor stages the source's. */
	if (csc_area_stage_ioregs(s, s, read_reg, &a->hw)) {
		a->hw.check_rec = check;
		csc_area_write_unlock(s);
		return -EIO;
	}
	/* The destination's VMM resets the VF it attaches (DEVICE_RESET):
	 * the "new" VF starts from its reset state. */
	igbvf_wr32(&a->hw, VF_CTRL, VF_CTRL_RST);
	a->hw.check_rec = check;
	uint32_t version = csc_area_bump_version(s);
	csc_area_set_migrating(s, 0);
	csc_area_write_unlock(s);
	return (int)version;
}
