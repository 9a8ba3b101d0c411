/* lwIP network interface over the virtio-net driver. */
#ifndef GUEST_NET_NETIF_VNET_H
#define GUEST_NET_NETIF_VNET_H

#include "../drivers/virtio_net.h"
#include "../../common/bootinfo.h"
#include "netif.h"

struct vnet_if {
	struct net_if nif;	/* first: the main loop holds struct net_if pointers */
	struct vnet_dev dev;
};

/* Initialises the device described by d; 0 or a negative error. */
int vnet_if_create(struct vnet_if *vi, const struct csc_boot_dev *d, unsigned index);
/* netif_add() init callback; state is the struct vnet_if. */
err_t vnetif_init(struct netif *netif);

#endif
