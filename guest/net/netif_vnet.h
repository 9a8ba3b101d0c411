/* lwIP network interface over the virtio-net driver. */
#ifndef GUEST_NET_NETIF_VNET_H
#define GUEST_NET_NETIF_VNET_H

#include "../drivers/virtio_net.h"
#include "lwip/netif.h"

struct vnet_if {
	struct netif netif;
	struct vnet_dev dev;
	uint64_t rx_dropped;	/* no pbuf, or input refused */
	uint64_t tx_dropped;	/* ring full, or frame too long */
};

/* netif_add() init callback; state is the struct vnet_if. */
err_t vnetif_init(struct netif *netif);
/* Feeds received frames to lwIP, reaps transmit completions. */
unsigned vnetif_poll(struct vnet_if *vi, unsigned budget);

#endif
