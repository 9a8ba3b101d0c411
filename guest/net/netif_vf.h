/* lwIP network interface over the 82576 VF (igbvf driver). */
#ifndef GUEST_NET_NETIF_VF_H
#define GUEST_NET_NETIF_VF_H

#include "../drivers/igbvf/igbvf.h"
#include "netif.h"

struct vf_if {
	struct net_if nif;	/* first: the main loop holds struct net_if pointers */
	struct igbvf_adapter adapter;
	uint32_t irqs_seen;	/* VF interrupts counted when last armed */
	bool armed;
	uint32_t restorations_seen;	/* CompSC restorations already announced */
	/* compsc-selftest-ms=N: a simulated migration every N ms (the
	 * migration flag raised half-way, the version bumped at the end). */
	uint64_t selftest_us, selftest_start;
	uint32_t selftest_left;	/* compsc-selftest-count=N: so many, then stop (0: no limit) */
	bool selftest_flag;
};

/* Probes VF `instance`, brings it up in interrupt mode; `mac` (or NULL)
 * asks the PF for that address. 0 or a negative error. */
int vf_if_create(struct vf_if *vi, unsigned instance, const uint8_t *mac);
err_t vfif_init(struct netif *netif);
/* Hot-plug (bond.c). init_absent: the interface of VF slot `instance`
 * with no device yet (nothing probed). probe_again: after an insert,
 * probe (the rings' memory is kept), set `mac` (NULL: the PF's) and
 * bring it up; 0 or a negative error (-EPERM: the PF refused the MAC).
 * release: before an eject, down (no more DMA or interrupts). */
void vf_if_init_absent(struct vf_if *vi, unsigned instance);
int vf_if_probe_again(struct vf_if *vi, const uint8_t *mac);
void vf_if_release(struct vf_if *vi);
/* The VF interface created for VF `instance`, or NULL (for apps that
 * drive the adapter's op sets, such as opsetloop). */
struct vf_if *vf_if_get(unsigned instance);

#endif
