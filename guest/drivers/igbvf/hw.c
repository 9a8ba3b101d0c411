/* 82576 VF hardware operations: reset handshake, MAC, multicast, LPE. */
#include "../../../common/csc_errno.h"
#include "../../../common/mac.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "igbvf.h"

#define RESET_TIMEOUT_MS 200

/* Sends a message and reads the reply; returns 0 if the PF ACKed it. */
static int mbx_call(struct igbvf_hw *hw, uint32_t *msg, unsigned n, unsigned reply_words)
{
	uint32_t type = msg[0] & VF_MSG_TYPE_MASK;
	int ret = hw->mbx->write_posted(hw, msg, n);

	if (ret == 0)
		ret = hw->mbx->read_posted(hw, msg, reply_words);
	if (ret)
		return ret;
	if ((msg[0] & VF_MSG_TYPE_MASK) != type)
		return -EPROTO;
	return (msg[0] & VF_MSG_NACK) || !(msg[0] & VF_MSG_ACK) ? -EINVAL : 0;
}

/* The PF's half of a reset: VF_RESET makes it forget the VF's filters and
 * accept its messages, and answers with the permanent MAC. */
static int reset_handshake(struct igbvf_hw *hw)
{
	uint32_t msg[3] = { VF_MSG_RESET };
	int ret = mbx_call(hw, msg, 1, 3);

	if (ret)
		return ret;
	mac_from_words(&msg[1], hw->perm_addr);
	memcpy(hw->addr, hw->perm_addr, 6);
	return 0;
}

static int reset_hw(struct igbvf_hw *hw)
{
	uint64_t end;

	hw->mbx_saved = 0;
	igbvf_wr32(hw, VF_CTRL, VF_CTRL_RST);
	end = clock_ms() + RESET_TIMEOUT_MS;
	while (!hw->mbx->check_for_rst(hw))
		if (clock_ms() > end)
			return -ETIMEDOUT;
	return reset_handshake(hw);
}

static int set_mac(struct igbvf_hw *hw, const uint8_t *mac)
{
	uint32_t msg[3] = { VF_MSG_SET_MAC_ADDR };

	mac_to_words(mac, &msg[1]);
	int ret = mbx_call(hw, msg, 3, 3);
	if (ret == 0)
		memcpy(hw->addr, mac, 6);
	return ret;
}

static int update_mc(struct igbvf_hw *hw, const uint8_t (*list)[6], unsigned n)
{
	uint32_t msg[VF_VMBMEM_WORDS] = { 0 };
	uint16_t *hashes = (uint16_t *)&msg[1];

	if (n > VF_MSG_MAX_MC_HASHES)
		n = VF_MSG_MAX_MC_HASHES;
	msg[0] = VF_MSG_SET_MULTICAST | (n << VF_MSG_INFO_SHIFT);
	for (unsigned i = 0; i < n; i++)
		hashes[i] = (uint16_t)(((list[i][4] >> 4) | ((uint16_t)list[i][5] << 4)) & 0xfff);
	return mbx_call(hw, msg, VF_VMBMEM_WORDS, 1);
}

static int set_lpe(struct igbvf_hw *hw, uint32_t max_frame)
{
	uint32_t msg[2] = { VF_MSG_SET_LPE, max_frame };

	return mbx_call(hw, msg, 2, 1);
}

const struct igbvf_mac_ops igbvf_mac_ops_82576 = {
	.reset_hw = reset_hw,
	.reset_handshake = reset_handshake,
	.set_mac = set_mac,
	.update_mc = update_mc,
	.set_lpe = set_lpe,
};
