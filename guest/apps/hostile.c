/* app=hostile: a guest that attacks what the host exposes to it, for the
 * hostile-guest test. The host processes must survive, the NIC's other
 * VFs and other VMs keep working, and each event is counted and logged
 * there (the NIC's per-VF error counters, the VMM's refusals).
 *
 *   steps=LIST   comma-separated, in order (default: all of them)
 *     desc       TX and RX descriptors whose buffers lie outside guest RAM
 *     wrap       rings onto themselves: RX buffers on the ring's own
 *                descriptors, a tail beyond the ring, a zero-length ring
 *     bar-dma    descriptors whose buffers are the VF's own registers
 *     mbx        floods the PF mailbox: count=N (2000) garbage messages
 *     area       CompSC shared areas at bad addresses, then one with bogus
 *                counts and addresses, registered (a migration must refuse
 *                it and leave this VM running)
 *     sweep      writes, then reads, every 32-bit offset of the VF's BAR
 *   vf=N         the VF instance (0)
 * Then "hostile: done" and the app idles for run-secs (so the test can
 * migrate it or look at the host) - printing "hostile: alive N" every
 * second. */
#include "../../common/vf82576.h"
#include "../../compsc/shared_area.h"
#include "../drivers/igbvf/igbvf.h"
#include "apps.h"
#include "guest/arch.h"
#include "guest/rt.h"
#include "guest/string.h"

uint32_t platform_compsc_register(uint64_t gpa);

static struct igbvf_adapter vf;

static void wr(uint32_t reg, uint32_t v)
{
	igbvf_wr32(&vf.hw, reg, v);
}

/* A TX ring of n descriptors at ring, each sending len bytes from addr. */
static void tx_ring(struct vf_tx_desc *ring, unsigned n, uint64_t addr, uint32_t len, uint32_t tail)
{
	for (unsigned i = 0; i < n; i++) {
		ring[i].buffer_addr = addr;
		ring[i].cmd_type_len = len | VF_TXD_DTYP_DATA | VF_TXD_CMD_EOP | VF_TXD_CMD_IFCS;
		ring[i].olinfo_status = 0;
	}
	wr(VF_TXDCTL(0), 0);
	wr(VF_TDBAL(0), (uint32_t)(uintptr_t)ring);
	wr(VF_TDBAH(0), (uint32_t)((uint64_t)(uintptr_t)ring >> 32));
	wr(VF_TDLEN(0), n * 16);
	wr(VF_TXDCTL(0), VF_QUEUE_ENABLE);
	wr(VF_TDT(0), tail);
}

static void rx_ring(struct vf_rx_desc_read *ring, unsigned n, uint64_t addr, uint32_t tail)
{
	for (unsigned i = 0; i < n; i++)
		ring[i].pkt_addr = addr, ring[i].hdr_addr = 0;
	wr(VF_RXDCTL(0), 0);
	wr(VF_RDBAL(0), (uint32_t)(uintptr_t)ring);
	wr(VF_RDBAH(0), (uint32_t)((uint64_t)(uintptr_t)ring >> 32));
	wr(VF_RDLEN(0), n * 16);
	wr(VF_SRRCTL(0), 2 | VF_SRRCTL_DESCTYPE_ADV_ONEBUF);
	wr(VF_RXDCTL(0), VF_QUEUE_ENABLE);
	wr(VF_RDT(0), tail);
}

static bool want(const char *steps, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = steps; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && memcmp(p, name, n) == 0)
			return true;
		p += len + (e ? 1 : 0);
	}
	return false;
}

int app_hostile(void)
{
	char steps[96] = "desc,wrap,bar-dma,mbx,area,sweep";
	unsigned instance = (unsigned)cmdline_get_u64("vf", 0);
	uint64_t ram = rt_bootinfo->ram_size;

	cmdline_get("steps", steps, sizeof(steps));
	int ret = igbvf_probe(&vf, instance);
	if (ret)
		panic("hostile: VF %u probe failed (%d)", instance, ret);
	if ((ret = igbvf_up(&vf, false)))
		panic("hostile: VF %u up failed (%d)", instance, ret);
	uint64_t bar = (uint64_t)(uintptr_t)vf.hw.bar;
	struct vf_tx_desc *txr = rt_alloc(4096, 4096);
	struct vf_rx_desc_read *rxr = rt_alloc(4096, 4096);
	printf("hostile: vf%u up, BAR at 0x%llx, RAM %llu MiB, steps %s\n", instance, (unsigned long long)bar,
	       (unsigned long long)(ram >> 20), steps);

	if (want(steps, "desc")) {
		tx_ring(txr, 16, ram + (1ull << 30), 256, 8);
		rx_ring(rxr, 16, 0xfffffffffffff000ull, 8);
		delay_ms(50);
		printf("hostile: desc: buffers at 0x%llx (TX) and 0xfffffffffffff000 (RX) posted\n",
		       (unsigned long long)(ram + (1ull << 30)));
	}
	if (want(steps, "wrap")) {
		rx_ring(rxr, 16, (uint64_t)(uintptr_t)rxr, 15);	/* frames over the descriptors */
		tx_ring(txr, 16, (uint64_t)(uintptr_t)txr, 4096, 4);	/* sends its own ring, past its end */
		wr(VF_TDT(0), 4000);					/* tail beyond the ring */
		wr(VF_TDLEN(0), 0);					/* and no ring at all */
		wr(VF_TDT(0), 1);
		wr(VF_RDLEN(0), 0x7f);					/* not a multiple of 128 */
		wr(VF_RDT(0), 3);
		delay_ms(50);
		printf("hostile: wrap: self-overlapping rings, tails past the end, zero and odd lengths\n");
	}
	if (want(steps, "bar-dma")) {
		tx_ring(txr, 16, bar, 64, 8);
		rx_ring(rxr, 16, bar + VF_CTRL, 8);
		delay_ms(50);
		printf("hostile: bar-dma: descriptors aimed at the VF's own registers\n");
	}
	if (want(steps, "mbx")) {
		uint32_t n = (uint32_t)cmdline_get_u64("count", 2000);
		for (uint32_t i = 0; i < n; i++) {
			for (unsigned w = 0; w < 4; w++)
				wr(VF_VMBMEM + 4 * w, i * 0x9e3779b9u + w);
			wr(VF_V2PMAILBOX, VF_MBX_REQ | (i & 1 ? VF_MBX_ACK : 0));
		}
		printf("hostile: mbx: %u garbage messages\n", n);
	}
	if (want(steps, "area")) {
		/* VMM-owned page, unaligned, beyond RAM: each refused. */
		static const uint64_t bad[] = { 0x8000, 0x200008, 1ull << 40 };
		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			printf("hostile: area at 0x%llx: status %u\n", (unsigned long long)bad[i],
			       platform_compsc_register(bad[i]));
		struct csc_shared_area *a = rt_alloc(sizeof(*a), CSC_AREA_ALIGN);
		csc_area_init(a);
		a->n_dma = 0xffffffffu;
		a->n_ioregs = 1000;
		a->dma[0].gpa = ram - 4096;
		a->dma[0].len = 1ull << 40;
		a->counters[0].offset = VF_CTRL;
		a->rec.state = 77;
		printf("hostile: area: bogus counts and addresses registered, status %u\n",
		       platform_compsc_register((uint64_t)(uintptr_t)a));
	}
	if (want(steps, "sweep")) {
		uint32_t x = 0x12345678;
		for (uint32_t off = 0; off < VF_BAR0_SIZE; off += 4) {
			x = x * 1103515245u + 12345u;
			mmio_write32(&vf.hw.bar[off / 4], x);
		}
		uint32_t sum = 0;
		for (uint32_t off = 0; off < VF_BAR0_SIZE; off += 4)
			sum ^= mmio_read32(&vf.hw.bar[off / 4]);
		printf("hostile: sweep: %u offsets written and read (xor 0x%x)\n", VF_BAR0_SIZE / 4, sum);
	}
	printf("hostile: done\n");
	uint64_t secs = cmdline_get_u64("run-secs", 30);
	for (uint64_t s = 1; s <= secs; s++) {
		delay_ms(1000);
		printf("hostile: alive %llu\n", (unsigned long long)s);
	}
	return 0;
}
