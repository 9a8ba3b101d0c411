/* A guest network interface as the main loop sees it: an lwIP netif plus a
 * small ops table, so the loop drives the VF and virtio-net alike (and a
 * bond over both, later) without knowing which is which. */
#ifndef GUEST_NET_NETIF_H
#define GUEST_NET_NETIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/netif.h"

struct net_if;

struct net_if_ops {
	/* Hands received frames to lwIP and reaps transmit completions;
	 * returns how many frames were received. */
	unsigned (*poll)(struct net_if *nif, unsigned budget);
	/* Once per loop pass: tell the device about queued frames. */
	void (*flush)(struct net_if *nif);
	/* Before sleeping: enable interrupts; true if work is already
	 * pending (then the loop must not sleep). */
	bool (*arm_interrupt)(struct net_if *nif);
	/* One line of device statistics (without newline). */
	void (*stats)(struct net_if *nif, char *buf, size_t size);
	/* Optional: more lines of its own at statistics time, after stats. */
	void (*report)(struct net_if *nif);
	/* At exit: a device-level problem to report, or NULL. */
	const char *(*problem)(struct net_if *nif);
};

struct net_if {
	struct netif netif;
	const struct net_if_ops *ops;
	char name[8];		/* "vf0", "vn0" */
	uint8_t mac[6];
	/* A bond's slave (bond.c) hands its frames to the bond's netif;
	 * NULL: to its own. */
	struct netif *upper;
	uint64_t rx_dropped;	/* no pbuf, or input refused */
	uint64_t tx_dropped;	/* ring full, or frame too long */
};

/* Copies a received frame into a pbuf and hands it to lwIP (main loop only). */
void net_if_input(struct net_if *nif, const uint8_t *frame, size_t len);
/* Common part of the netif init callback (name, MTU, flags, MAC). */
void net_if_setup_netif(struct net_if *nif, netif_linkoutput_fn linkoutput);

#endif
