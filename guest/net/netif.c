#include "netif.h"

#include "guest/string.h"
#include "lwip/etharp.h"
#include "lwip/pbuf.h"

void net_if_input(struct net_if *nif, const uint8_t *frame, size_t len)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);

	if (!p) {
		nif->rx_dropped++;
		return;
	}
	pbuf_take(p, frame, (u16_t)len);
	struct netif *to = nif->upper ? nif->upper : &nif->netif;
	if (to->input(p, to) != ERR_OK) {
		pbuf_free(p);
		nif->rx_dropped++;
	}
}

void net_if_setup_netif(struct net_if *nif, netif_linkoutput_fn linkoutput)
{
	struct netif *netif = &nif->netif;

	netif->name[0] = nif->name[0];
	netif->name[1] = nif->name[1];
	netif->output = etharp_output;
	netif->linkoutput = linkoutput;
	netif->mtu = 1500;
	netif->hwaddr_len = 6;
	memcpy(netif->hwaddr, nif->mac, 6);
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
}
