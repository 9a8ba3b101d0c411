/* lwIP glue for virtio-net: frames are copied between pbufs and the ring
 * buffers (copies run natively at ring 3 and keep the rings simple). */
#include "netif_vnet.h"

#include "guest/string.h"
#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

static err_t vnetif_output(struct netif *netif, struct pbuf *p)
{
	struct vnet_if *vi = netif->state;

	if (p->tot_len > VNET_MAX_FRAME) {
		vi->tx_dropped++;
		return ERR_BUF;
	}
	uint8_t *buf = vnet_tx_buffer(&vi->dev);
	if (!buf) {
		vi->tx_dropped++;
		return ERR_MEM;
	}
	pbuf_copy_partial(p, buf, p->tot_len, 0);
	vnet_tx_commit(&vi->dev, p->tot_len);
	return ERR_OK;
}

err_t vnetif_init(struct netif *netif)
{
	struct vnet_if *vi = netif->state;

	netif->name[0] = 'v';
	netif->name[1] = 'n';
	netif->output = etharp_output;
	netif->linkoutput = vnetif_output;
	netif->mtu = 1500;
	netif->hwaddr_len = 6;
	memcpy(netif->hwaddr, vi->dev.mac, 6);
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	return ERR_OK;
}

static void rx_frame(void *arg, const uint8_t *frame, size_t len)
{
	struct vnet_if *vi = arg;
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);

	if (!p) {
		vi->rx_dropped++;
		return;
	}
	pbuf_take(p, frame, (u16_t)len);
	if (vi->netif.input(p, &vi->netif) != ERR_OK) {
		pbuf_free(p);
		vi->rx_dropped++;
	}
}

unsigned vnetif_poll(struct vnet_if *vi, unsigned budget)
{
	return vnet_poll(&vi->dev, budget, rx_frame, vi);
}
