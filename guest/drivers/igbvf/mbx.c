/* VF side of the PF mailbox (the 82576 VF mailbox; formats in common/vf82576.h, the PF side in docs/nic.md). */
#include "../../../common/csc_errno.h"
#include "guest/rt.h"
#include "igbvf.h"

#define MBX_TIMEOUT_MS 500
#define MBX_RC_BITS (VF_MBX_PFSTS | VF_MBX_PFACK | VF_MBX_RSTD)

/* Reads V2PMAILBOX, remembering read-to-clear bits until consumed. */
static uint32_t read_mailbox(struct igbvf_hw *hw)
{
	uint32_t v = igbvf_rd32(hw, VF_V2PMAILBOX) | hw->mbx_saved;

	hw->mbx_saved |= v & MBX_RC_BITS;
	return v;
}

static bool check_bit(struct igbvf_hw *hw, uint32_t mask)
{
	uint32_t v = read_mailbox(hw);

	hw->mbx_saved &= ~mask;
	return (v & mask) != 0;
}

static bool poll_bit(struct igbvf_hw *hw, uint32_t mask)
{
	uint64_t end = clock_ms() + MBX_TIMEOUT_MS;

	while (!check_bit(hw, mask))
		if (clock_ms() > end)
			return false;
	return true;
}

static bool obtain_lock(struct igbvf_hw *hw)
{
	uint64_t end = clock_ms() + MBX_TIMEOUT_MS;

	for (;;) {
		igbvf_wr32(hw, VF_V2PMAILBOX, VF_MBX_VFU);
		if (read_mailbox(hw) & VF_MBX_VFU)
			return true;
		if (clock_ms() > end)
			return false;
	}
}

static int write_posted(struct igbvf_hw *hw, const uint32_t *msg, unsigned n)
{
	if (n > VF_VMBMEM_WORDS || !obtain_lock(hw))
		return -EBUSY;
	/* Drop stale acknowledgements and messages before sending. */
	check_bit(hw, VF_MBX_PFSTS);
	check_bit(hw, VF_MBX_PFACK);
	for (unsigned i = 0; i < n; i++)
		igbvf_wr32(hw, VF_VMBMEM + 4 * i, msg[i]);
	igbvf_wr32(hw, VF_V2PMAILBOX, VF_MBX_REQ);	/* also releases VFU */
	return poll_bit(hw, VF_MBX_PFACK) ? 0 : -ETIMEDOUT;
}

static int read_posted(struct igbvf_hw *hw, uint32_t *msg, unsigned n)
{
	if (n > VF_VMBMEM_WORDS || !poll_bit(hw, VF_MBX_PFSTS))
		return -ETIMEDOUT;
	if (!obtain_lock(hw))
		return -EBUSY;
	for (unsigned i = 0; i < n; i++)
		msg[i] = igbvf_rd32(hw, VF_VMBMEM + 4 * i);
	igbvf_wr32(hw, VF_V2PMAILBOX, VF_MBX_ACK);	/* also releases VFU */
	return 0;
}

static bool check_for_rst(struct igbvf_hw *hw)
{
	return check_bit(hw, VF_MBX_RSTD | VF_MBX_RSTI);
}

const struct igbvf_mbx_ops igbvf_mbx_ops_82576 = {
	.write_posted = write_posted,
	.read_posted = read_posted,
	.check_for_rst = check_for_rst,
};
