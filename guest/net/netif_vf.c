/* lwIP glue for the VF. Frames are copied between pbufs and the driver's
 * ring buffers. Register accesses are the expensive part here (an MMIO exit
 * each, forwarded to the NIC process), so per loop pass there is at most
 * one TDT write, one RDT write per refill batch, and an EIMS write only
 * when an interrupt actually fired since the last one. */
#include "netif_vf.h"

#include "../../common/csc_errno.h"
#include "guest/arch.h"
#include "guest/format.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "lwip/pbuf.h"

static err_t vfif_output(struct netif *netif, struct pbuf *p)
{
	struct vf_if *vi = netif->state;
	uint8_t frame[IGBVF_BUF_SIZE];

	if (p->tot_len > sizeof(frame)) {
		vi->nif.tx_dropped++;
		return ERR_BUF;
	}
	pbuf_copy_partial(p, frame, p->tot_len, 0);
	if (igbvf_xmit(&vi->adapter, frame, p->tot_len) < 0) {
		vi->nif.tx_dropped++;
		return ERR_MEM;
	}
	return ERR_OK;
}

err_t vfif_init(struct netif *netif)
{
	struct vf_if *vi = netif->state;

	net_if_setup_netif(&vi->nif, vfif_output);
	return ERR_OK;
}

static void rx_frame(void *ctx, const uint8_t *frame, unsigned len)
{
	net_if_input(ctx, frame, len);
}

static unsigned vf_if_poll(struct net_if *nif, unsigned budget)
{
	struct vf_if *vi = (struct vf_if *)nif;
	unsigned n = igbvf_rx_poll(&vi->adapter, budget, rx_frame, nif);

	igbvf_tx_clean(&vi->adapter);
	return n;
}

static void vf_if_flush(struct net_if *nif)
{
	igbvf_tx_flush(&((struct vf_if *)nif)->adapter);
}

static uint32_t vf_irq_count(const struct vf_if *vi)
{
	uint32_t n = 0;

	for (unsigned v = 0; v < VF_NUM_VECTORS; v++)
		n += irq_counts[vi->adapter.vector_base + v];
	return n;
}

static bool vf_if_arm(struct net_if *nif)
{
	struct vf_if *vi = (struct vf_if *)nif;
	uint32_t seen = vf_irq_count(vi);

	/* A vector is auto-masked when it fires (EIAM): re-arm only then. */
	if (!vi->armed || seen != vi->irqs_seen) {
		igbvf_irq_enable(&vi->adapter);
		vi->irqs_seen = seen;
		vi->armed = true;
	}
	/* A frame that landed before the re-arm raised its cause already;
	 * still, do not sleep on a descriptor that is visibly done. */
	volatile struct vf_rx_desc_wb *wb =
		(volatile struct vf_rx_desc_wb *)vi->adapter.rx.desc + vi->adapter.rx.next_to_clean;
	return (wb->status_error & VF_RXD_STAT_DD) != 0;
}

static void vf_if_stats(struct net_if *nif, char *buf, size_t size)
{
	struct vf_if *vi = (struct vf_if *)nif;
	const struct igbvf_stats *s = &vi->adapter.stats;

	igbvf_update_stats(&vi->adapter);
	snprintf(buf, size, "rx %llu pkts %llu B err %llu drop %llu | tx %llu pkts %llu B busy %llu drop %llu"
		 " | hw gprc %llu gptc %llu gorc %llu gotc %llu | reg reads %llu writes %llu",
		 (unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
		 (unsigned long long)s->rx_errors, (unsigned long long)nif->rx_dropped,
		 (unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes, (unsigned long long)s->tx_busy,
		 (unsigned long long)nif->tx_dropped, (unsigned long long)s->gprc.total,
		 (unsigned long long)s->gptc.total, (unsigned long long)s->gorc.total,
		 (unsigned long long)s->gotc.total, (unsigned long long)vi->adapter.hw.reg_reads,
		 (unsigned long long)vi->adapter.hw.reg_writes);
}

static const struct net_if_ops vf_if_ops = {
	.poll = vf_if_poll,
	.flush = vf_if_flush,
	.arm_interrupt = vf_if_arm,
	.stats = vf_if_stats,
};

int vf_if_create(struct vf_if *vi, unsigned instance, const uint8_t *mac)
{
	memset(vi, 0, sizeof(*vi));
	vi->nif.ops = &vf_if_ops;
	snprintf(vi->nif.name, sizeof(vi->nif.name), "vf%u", instance);
	int ret = igbvf_probe(&vi->adapter, instance);
	if (ret)
		return ret;
	if (mac && memcmp(mac, vi->adapter.hw.perm_addr, 6) != 0 &&
	    vi->adapter.hw.mac->set_mac(&vi->adapter.hw, mac) != 0)
		printf("net: vf%u: the PF refused mac=..., keeping the address it assigned\n", instance);
	memcpy(vi->nif.mac, vi->adapter.hw.addr, 6);
	return igbvf_up(&vi->adapter, true);
}
