/* lwIP glue for virtio-net: frames are copied between pbufs and the ring
 * buffers (copies run natively at ring 3 and keep the rings simple). */
#include "netif_vnet.h"

#include "guest/format.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "lwip/pbuf.h"

static err_t vnetif_output(struct netif *netif, struct pbuf *p)
{
	struct vnet_if *vi = netif->state;

	if (p->tot_len > VNET_MAX_FRAME) {
		vi->nif.tx_dropped++;
		return ERR_BUF;
	}
	uint8_t *buf = vnet_tx_buffer(&vi->dev);
	if (!buf) {
		vi->nif.tx_dropped++;
		return ERR_MEM;
	}
	pbuf_copy_partial(p, buf, p->tot_len, 0);
	vnet_tx_commit(&vi->dev, p->tot_len);
	return ERR_OK;
}

err_t vnetif_init(struct netif *netif)
{
	struct vnet_if *vi = netif->state;

	memcpy(vi->nif.mac, vi->dev.mac, 6);
	net_if_setup_netif(&vi->nif, vnetif_output);
	return ERR_OK;
}

static void rx_frame(void *arg, const uint8_t *frame, size_t len)
{
	net_if_input(arg, frame, len);
}

static unsigned vnet_if_poll(struct net_if *nif, unsigned budget)
{
	struct vnet_if *vi = (struct vnet_if *)nif;

	return vnet_poll(&vi->dev, budget, rx_frame, nif);
}

static void vnet_if_flush(struct net_if *nif)
{
	vnet_flush(&((struct vnet_if *)nif)->dev);
}

static bool vnet_if_arm(struct net_if *nif)
{
	return vnet_arm_interrupt(&((struct vnet_if *)nif)->dev);
}

static void vnet_if_stats(struct net_if *nif, char *buf, size_t size)
{
	const struct vnet_stats *s = &((struct vnet_if *)nif)->dev.st;

	snprintf(buf, size, "rx %llu pkts %llu B bad %llu drop %llu | tx %llu pkts %llu B full %llu drop %llu"
		 " | kicks %llu sleeps %llu",
		 (unsigned long long)s->rx_packets, (unsigned long long)s->rx_bytes, (unsigned long long)s->rx_bad,
		 (unsigned long long)nif->rx_dropped, (unsigned long long)s->tx_packets,
		 (unsigned long long)s->tx_bytes, (unsigned long long)s->tx_full,
		 (unsigned long long)nif->tx_dropped, (unsigned long long)s->kicks,
		 (unsigned long long)s->sleeps);
}

static const char *vnet_if_problem(struct net_if *nif)
{
	return vnet_needs_reset(&((struct vnet_if *)nif)->dev) ? "the device needs a reset" : NULL;
}

static const struct net_if_ops vnet_if_ops = {
	.poll = vnet_if_poll,
	.flush = vnet_if_flush,
	.arm_interrupt = vnet_if_arm,
	.stats = vnet_if_stats,
	.problem = vnet_if_problem,
};

int vnet_if_create(struct vnet_if *vi, const struct csc_boot_dev *d, unsigned index)
{
	memset(vi, 0, sizeof(*vi));
	vi->nif.ops = &vnet_if_ops;
	snprintf(vi->nif.name, sizeof(vi->nif.name), "vn%u", index);
	int ret = vnet_init(&vi->dev, d);
	if (ret == 0)
		printf("net: vn%u: virtio-net%u vector 0x%x event-idx %d\n", index, index, vi->dev.vector,
		       vi->dev.event_idx);
	return ret;
}
