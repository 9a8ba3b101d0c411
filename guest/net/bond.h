/* An active-backup bond over the guest's VF and its virtio-net interface
 * (bond=1 on the command line): the bonding-failover baseline CompSC is
 * compared with (docs/guest-abi.md, "Bond").
 *
 * lwIP sees one interface, the bond, with one MAC; both slaves send with
 * it. The VF is active whenever it is present, virtio-net otherwise.
 * Frames received on either slave are delivered (after a failover the
 * switch may still send to the old port for a moment). The VF comes and
 * goes through the platform's hot-plug controller: on an eject request
 * the bond moves to virtio-net, stops the VF (no more DMA), announces the
 * MAC on the new port (gratuitous ARP) and acknowledges; on an insert it
 * probes the VF, gives it the bond's MAC, moves back and announces again.
 * Each move is logged with its duration:
 *   bond: failover to virtio-net (X ms)
 *   bond: failback to vf (X ms) */
#ifndef GUEST_NET_BOND_H
#define GUEST_NET_BOND_H

#include <stdbool.h>
#include <stdint.h>

#include "netif.h"
#include "netif_vf.h"
#include "netif_vnet.h"

struct bond {
	struct net_if nif;	/* first: the main loop holds struct net_if pointers */
	struct vf_if *vf;	/* slot vf->adapter.instance */
	struct vnet_if *vn;
	bool vf_present;
	struct net_if *active;
	uint32_t handled;	/* the last hot-plug request looked at */
	uint32_t failovers, failbacks;
	uint64_t tx_vf, tx_vn;
};

/* Sets up the bond over VF slot `vf_instance` (probed if its slot is
 * occupied) and the virtio-net device d; `mac` (or NULL: the VF's, else
 * virtio-net's) is the bond's address. 0 or a negative error. */
int bond_create(struct bond *b, unsigned vf_instance, const struct csc_boot_dev *d, const uint8_t *mac);
/* netif_add() init callback; state is the struct bond. */
err_t bond_init(struct netif *netif);
/* On a platform interrupt: handles a pending hot-plug request. */
void bond_check_hotplug(struct bond *b);

#endif
