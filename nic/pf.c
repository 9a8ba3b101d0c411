/* The physical function's driver, inside the NIC: answers VF mailbox
 * messages, completes VF resets, assigns VFs and their MACs, and
 * starts/stops a VF's queues. This is what a host's PF driver (igb) does. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../common/mac.h"
#include "nic.h"

/* Is mac in use by another VF of this NIC (its filter or its permanent
 * address)? Two VFs with one MAC would let one tenant receive another's
 * traffic. */
static bool mac_taken(const struct nic *nic, unsigned self, const uint8_t *mac)
{
	for (unsigned i = 0; i < nic->n_vfs; i++)
		if (i != self && (memcmp(nic->slot[i].mac, mac, 6) == 0 || memcmp(nic->slot[i].perm_mac, mac, 6) == 0))
			return true;
	return false;
}

/* Returns the reply's word 0 flags: ACK or NACK. */
static uint32_t handle_message(struct nic_vf_slot *s, const uint32_t *msg, uint32_t *reply, unsigned *n_reply)
{
	uint32_t type = msg[0] & VF_MSG_TYPE_MASK;
	uint8_t mac[6];

	switch (type) {
	case VF_MSG_SET_MAC_ADDR:
		mac_from_words(&msg[1], mac);
		if (!mac_is_valid_unicast(mac))
			return VF_MSG_NACK;
		/* A MAC the host assigned is the VF's identity on the
		 * network: the guest may not change it. */
		if (s->mac_locked && memcmp(mac, s->perm_mac, 6) != 0)
			return VF_MSG_NACK;
		if (mac_taken(nic_of(&s->vf), s->vf.index, mac))
			return VF_MSG_NACK;
		memcpy(s->mac, mac, 6);
		return VF_MSG_ACK;
	case VF_MSG_SET_MULTICAST: {
		unsigned n = (msg[0] & VF_MSG_INFO_MASK) >> VF_MSG_INFO_SHIFT;
		if (n > VF_MSG_MAX_MC_HASHES)
			return VF_MSG_NACK;
		const uint16_t *hashes = (const uint16_t *)&msg[1];
		for (unsigned i = 0; i < n; i++)
			s->mc_hashes[i] = hashes[i] & 0xfff;
		s->n_mc_hashes = n;
		return VF_MSG_ACK;
	}
	case VF_MSG_SET_VLAN:
		s->vlan = msg[1];
		return VF_MSG_ACK;
	case VF_MSG_SET_LPE:
		if (msg[1] < 64 || msg[1] > VF_MAX_FRAME_LIMIT)
			return VF_MSG_NACK;
		s->vf.max_frame = msg[1];
		return VF_MSG_ACK;
	default:
		(void)reply;
		(void)n_reply;
		return VF_MSG_NACK;
	}
}

static void pf_mailbox_request(struct nic_vf *vf)
{
	struct nic_vf_slot *s = nic_slot_of(vf);
	uint32_t msg[VF_VMBMEM_WORDS], reply[VF_VMBMEM_WORDS] = { 0 };
	unsigned n_reply = 1;

	nic_vf_mbx_read(vf, msg, VF_VMBMEM_WORDS);
	nic_vf_mbx_ack(vf);
	s->mbx_messages++;
	uint32_t type = msg[0] & VF_MSG_TYPE_MASK;

	if (type == VF_MSG_RESET) {
		/* The VF's reset handshake: forget its filters, give it its
		 * permanent MAC, and from now on accept its messages. */
		s->cts = true;
		s->hold_early = false;
		s->n_mc_hashes = 0;
		s->vlan = 0;
		memcpy(s->mac, s->perm_mac, 6);
		reply[0] = VF_MSG_RESET | VF_MSG_ACK | VF_MSG_CTS;
		mac_to_words(s->perm_mac, &reply[1]);
		n_reply = 3;
	} else if (!s->cts) {
		/* Before the reset handshake the PF refuses everything. */
		reply[0] = type | VF_MSG_NACK;
		s->mbx_nacks++;
	} else {
		uint32_t result = handle_message(s, msg, reply, &n_reply);
		reply[0] = type | result | VF_MSG_CTS;
		if (result == VF_MSG_NACK)
			s->mbx_nacks++;
		if (type == VF_MSG_SET_MAC_ADDR)
			memcpy(&reply[1], &msg[1], 8), n_reply = 3;
	}
	nic_vf_mbx_post(vf, reply, n_reply);
}

static void pf_reset_notify(struct nic_vf *vf)
{
	struct nic_vf_slot *s = nic_slot_of(vf);

	s->cts = false;
	nic_vf_mbx_reset_done(vf);	/* the PF completes resets at once */
}

static void pf_raise_irq(struct nic_vf *vf, unsigned vector)
{
	struct nic_vf_slot *s = nic_slot_of(vf);
	uint64_t one = 1;

	if (vector >= VF_NUM_VECTORS || s->irq_fd[vector] < 0 ||
	    write(s->irq_fd[vector], &one, sizeof(one)) != sizeof(one))
		vf->err.irq_lost++;
}

static int pf_transmit(struct nic_vf *vf, const uint8_t *frame, size_t len)
{
	struct nic *nic = nic_of(vf);

	return nic->sw->transmit(nic, vf->index, frame, len);
}

static uint64_t pf_now_ns(struct nic_vf *vf)
{
	return nic_now_ns(nic_of(vf));
}

const struct nic_vf_ops nic_vf_ops = {
	.raise_irq = pf_raise_irq,
	.transmit = pf_transmit,
	.mailbox_request = pf_mailbox_request,
	.reset_notify = pf_reset_notify,
	.now_ns = pf_now_ns,
};

int nic_pf_assign(struct nic *nic, unsigned vf, const uint8_t *mac, const char *owner)
{
	if (vf >= nic->n_vfs)
		return -ENOENT;
	struct nic_vf_slot *s = &nic->slot[vf];
	if (mac) {
		if (!mac_is_valid_unicast(mac))
			return -EINVAL;
		if (mac_taken(nic, vf, mac))
			return -EEXIST;
		memcpy(s->perm_mac, mac, 6);
		memcpy(s->mac, mac, 6);
		s->mac_locked = true;
	}
	s->assignment = VF_ASSIGNED;
	strncpy(s->owner, owner ? owner : "", sizeof(s->owner) - 1);
	return 0;
}

int nic_pf_free(struct nic *nic, unsigned vf)
{
	if (vf >= nic->n_vfs)
		return -ENOENT;
	struct nic_vf_slot *s = &nic->slot[vf];
	s->assignment = VF_FREE;
	s->owner[0] = '\0';
	s->mac_locked = false;
	return 0;
}

int nic_pf_set_enabled(struct nic *nic, unsigned vf, bool enabled)
{
	if (vf >= nic->n_vfs)
		return -ENOENT;
	nic_vf_set_pf_enabled(&nic->slot[vf].vf, enabled);
	nic_service(nic);
	return 0;
}
