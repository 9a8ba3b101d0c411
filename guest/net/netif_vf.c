/* lwIP glue for the VF. Frames are copied between pbufs and the driver's
 * ring buffers. Register accesses are the expensive part here (an MMIO exit
 * each, forwarded to the NIC process), so per loop pass there is at most
 * one TDT write, one RDT write per refill batch, and an EIMS write only
 * when an interrupt actually fired since the last one.
 *
 * After a CompSC restoration (the driver restored a new VF after a live
 * migration) the link flaps once for lwIP, from the main loop rather than
 * from inside the driver (which may be deep in lwIP's output path then):
 * the link coming up makes lwIP send a gratuitous ARP, so the switches
 * learn where the MAC is now. */
#include "netif_vf.h"

#include "../../common/csc_errno.h"
#include "guest/arch.h"
#include "guest/format.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"

#define MAX_VF_IFS 8
static struct vf_if *vf_ifs[MAX_VF_IFS];

struct vf_if *vf_if_get(unsigned instance)
{
	return instance < MAX_VF_IFS ? vf_ifs[instance] : NULL;
}

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

/* The guest plays the hypervisor: see igbvf_csc_selftest_migrate. From
 * the main loop, between the driver's critical sections. */
static void selftest(struct vf_if *vi)
{
	uint64_t now = clock_us();

	if (!vi->selftest_flag && now - vi->selftest_start >= vi->selftest_us / 2) {
		vi->selftest_flag = igbvf_csc_selftest_migrate(&vi->adapter, false) == 0;
	} else if (now - vi->selftest_start >= vi->selftest_us) {
		int v = igbvf_csc_selftest_migrate(&vi->adapter, true);
		if (v > 0)
			printf("compsc: selftest: simulated migration, version %d\n", v);
		if (v > 0 && vi->selftest_left && --vi->selftest_left == 0)
			vi->selftest_us = 0;	/* that was the last */
		vi->selftest_start = now;
		vi->selftest_flag = false;
	}
}

static unsigned vf_if_poll(struct net_if *nif, unsigned budget)
{
	struct vf_if *vi = (struct vf_if *)nif;

	if (vi->selftest_us)
		selftest(vi);
	unsigned n = igbvf_rx_poll(&vi->adapter, budget, rx_frame, nif);

	igbvf_tx_clean(&vi->adapter);
	if (vi->adapter.csc.restorations != vi->restorations_seen) {
		vi->restorations_seen = vi->adapter.csc.restorations;
		netif_set_link_down(&nif->netif);
		netif_set_link_up(&nif->netif);	/* sends a gratuitous ARP */
		printf("net: %s: link flapped after the CompSC restoration: gratuitous ARP sent\n", nif->name);
	}
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
	return igbvf_rx_ready(&vi->adapter);
}

static void vf_if_stats(struct net_if *nif, char *buf, size_t size)
{
	struct vf_if *vi = (struct vf_if *)nif;
	const struct igbvf_stats *s = &vi->adapter.stats;

	igbvf_update_stats(&vi->adapter);
	snprintf(buf, size, "rx %llu pkts %llu B err %llu drop %llu | tx %llu pkts %llu B busy %llu drop %llu"
		 " | hw gprc %llu gptc %llu gorc %llu gotc %llu | reg reads %llu writes %llu | compsc %s restored %u"
		 " dirtied %llu",
		 (unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
		 (unsigned long long)s->rx_errors, (unsigned long long)nif->rx_dropped,
		 (unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes, (unsigned long long)s->tx_busy,
		 (unsigned long long)nif->tx_dropped, (unsigned long long)s->gprc.total,
		 (unsigned long long)s->gptc.total, (unsigned long long)s->gorc.total,
		 (unsigned long long)s->gotc.total, (unsigned long long)vi->adapter.hw.reg_reads,
		 (unsigned long long)vi->adapter.hw.reg_writes, igbvf_csc_on(&vi->adapter) ? "on" : "off",
		 (unsigned)vi->adapter.csc.restorations, (unsigned long long)vi->adapter.csc.dirty_pages);
}

static void vf_if_report(struct net_if *nif)
{
	igbvf_csc_print_counters(&((struct vf_if *)nif)->adapter);
}

static const struct net_if_ops vf_if_ops = {
	.poll = vf_if_poll,
	.flush = vf_if_flush,
	.arm_interrupt = vf_if_arm,
	.stats = vf_if_stats,
	.report = vf_if_report,
};

void vf_if_init_absent(struct vf_if *vi, unsigned instance)
{
	memset(vi, 0, sizeof(*vi));
	vi->nif.ops = &vf_if_ops;
	snprintf(vi->nif.name, sizeof(vi->nif.name), "vf%u", instance);
	vi->adapter.instance = instance;
	if (instance < MAX_VF_IFS)
		vf_ifs[instance] = vi;
}

int vf_if_probe_again(struct vf_if *vi, const uint8_t *mac)
{
	int ret = vi->adapter.hw.bar ? igbvf_probe_again(&vi->adapter) : igbvf_probe(&vi->adapter, vi->adapter.instance);

	if (ret)
		return ret;
	if (mac && memcmp(mac, vi->adapter.hw.perm_addr, 6) != 0 && igbvf_set_mac(&vi->adapter, mac) != 0)
		return -EPERM;	/* the PF refused the address */
	vi->armed = false;
	vi->irqs_seen = 0;
	return igbvf_up(&vi->adapter, true);
}

void vf_if_release(struct vf_if *vi)
{
	/* Interrupts masked, both queues off: the device does no more DMA. */
	igbvf_down(&vi->adapter);
	igbvf_tx_clean(&vi->adapter);
}

int vf_if_create(struct vf_if *vi, unsigned instance, const uint8_t *mac)
{
	memset(vi, 0, sizeof(*vi));
	vi->nif.ops = &vf_if_ops;
	snprintf(vi->nif.name, sizeof(vi->nif.name), "vf%u", instance);
	int ret = igbvf_probe(&vi->adapter, instance);
	if (ret)
		return ret;
	if (mac && memcmp(mac, vi->adapter.hw.perm_addr, 6) != 0 && igbvf_set_mac(&vi->adapter, mac) != 0)
		printf("net: vf%u: the PF refused mac=..., keeping the address it assigned\n", instance);
	memcpy(vi->nif.mac, vi->adapter.hw.addr, 6);
	if (instance < MAX_VF_IFS)
		vf_ifs[instance] = vi;
	if (igbvf_csc_on(&vi->adapter)) {
		vi->selftest_us = cmdline_get_u64("compsc-selftest-ms", 0) * 1000;
		vi->selftest_left = (uint32_t)cmdline_get_u64("compsc-selftest-count", 0);
		vi->selftest_start = clock_us();
	}
	return igbvf_up(&vi->adapter, true);
}
