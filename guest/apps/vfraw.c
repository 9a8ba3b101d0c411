/* app=vfraw: raw Ethernet frames over the VF, before lwIP arrives.
 *   mode=send count=N [size=BYTES] [dst=MAC]      send N numbered frames
 *   mode=recv count=N                             receive N numbered frames
 *   mode=echo count=N                             send back each frame received
 *   mode=ping count=N dst=MAC                     one frame at a time, wait for its echo
 *   mode=badring                                  program a TX ring outside guest memory
 *   mode=lockbench count=N                        cost of N CompSC critical-section brackets
 *                                                 (what receive and send add per call)
 * Common: vf=INSTANCE (0), irq=1 (sleep on interrupts instead of polling),
 * timeout=MS (10000). Frames use EtherType 0x88b5 (local experimental) and
 * carry "CSCF" + a 32-bit sequence number. */
#include "../../common/csc_errno.h"
#include "../../common/mac.h"
#include "../drivers/igbvf/igbvf.h"
#include "apps.h"
#include "guest/arch.h"
#include "guest/rt.h"
#include "guest/string.h"

#define ETHERTYPE_TEST 0x88b5
#define MAGIC 0x46435343u	/* "CSCF" */

static struct igbvf_adapter vf;

struct rx_state {
	uint32_t received, duplicates, out_of_order, expected;
	uint64_t first_us, last_us;
	uint32_t echoed;
	bool echo;
	uint8_t seen[8192];	/* bitmap of sequence numbers */
};

static unsigned build_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t seq, unsigned size)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETHERTYPE_TEST >> 8;
	f[13] = ETHERTYPE_TEST & 0xff;
	uint32_t magic = MAGIC;
	memcpy(f + 14, &magic, 4);
	memcpy(f + 18, &seq, 4);
	for (unsigned i = 22; i < size; i++)
		f[i] = (uint8_t)(seq + i);
	return size;
}

static void on_frame(void *ctx, const uint8_t *f, unsigned len)
{
	struct rx_state *st = ctx;
	uint32_t magic, seq;

	if (len < 22 || f[12] != (ETHERTYPE_TEST >> 8) || f[13] != (ETHERTYPE_TEST & 0xff))
		return;
	memcpy(&magic, f + 14, 4);
	memcpy(&seq, f + 18, 4);
	if (magic != MAGIC)
		return;
	if (st->echo) {
		uint8_t out[IGBVF_BUF_SIZE];
		memcpy(out, f + 6, 6);
		memcpy(out + 6, vf.hw.addr, 6);
		memcpy(out + 12, f + 12, len - 12);
		if (igbvf_xmit(&vf, out, len) == 0)
			st->echoed++;
	}
	uint32_t bit = seq % (sizeof(st->seen) * 8);
	if (st->seen[bit / 8] & (1u << (bit % 8))) {
		st->duplicates++;
		return;
	}
	st->seen[bit / 8] |= (uint8_t)(1u << (bit % 8));
	if (seq != st->expected)
		st->out_of_order++;
	st->expected = seq + 1;
	if (!st->received)
		st->first_us = clock_us();
	st->last_us = clock_us();
	st->received++;
}

/* One round of the main loop: receive, clean, flush; sleep if idle. */
static void service(struct rx_state *st, bool irq)
{
	uint32_t snap = irq_snapshot();
	unsigned n = igbvf_rx_poll(&vf, 64, on_frame, st);

	igbvf_tx_flush(&vf);
	igbvf_tx_clean(&vf);
	if (n == 0 && irq) {
		igbvf_irq_enable(&vf);
		/* Interrupts are auto-masked when they fire: re-armed above,
		 * then sleep until one arrives (or arrived meanwhile), at most
		 * 50 ms, so deadlines are honoured even if the device is gone. */
		if (irq_snapshot() == snap) {
			platform_wake_at_us(clock_us() + 50000);
			irq_wait(snap);
		}
	}
}

static void print_mac(const char *what, const uint8_t *m)
{
	char text[MAC_STR_LEN];

	printf("vfraw: %s %s\n", what, mac_format(m, text));
}

int app_vfraw(void)
{
	char mode[16] = "echo", dst_text[32] = "ff:ff:ff:ff:ff:ff";
	uint8_t dst[6];
	unsigned instance = (unsigned)cmdline_get_u64("vf", 0);
	uint32_t count = (uint32_t)cmdline_get_u64("count", 10);
	unsigned size = (unsigned)cmdline_get_u64("size", 64);
	uint64_t timeout = cmdline_get_u64("timeout", 10000);
	bool irq = cmdline_get_u64("irq", 0) != 0;
	static struct rx_state st;

	cmdline_get("mode", mode, sizeof(mode));
	cmdline_get("dst", dst_text, sizeof(dst_text));
	if (mac_parse(dst_text, dst) < 0)
		panic("vfraw: dst=%s is not a MAC address", dst_text);
	if (size < 64 || size > 1514)
		panic("vfraw: size=%u must be 64..1514", size);

	int ret = igbvf_probe(&vf, instance);
	if (ret)
		panic("vfraw: VF %u probe failed (%d)", instance, ret);
	print_mac("MAC from the PF", vf.hw.perm_addr);
	if ((ret = igbvf_up(&vf, irq)))
		panic("vfraw: VF %u up failed (%d)", instance, ret);
	printf("vfraw: vf%u up, %s mode, mode=%s count=%u\n", instance, irq ? "interrupt" : "polling", mode, count);

	uint64_t start = clock_ms(), deadline = start + timeout;
	uint8_t frame[IGBVF_BUF_SIZE];
	int status = 0;

	if (strcmp(mode, "send") == 0) {
		for (uint32_t seq = 0; seq < count;) {
			if (igbvf_xmit(&vf, frame, build_frame(frame, dst, vf.hw.addr, seq, size)) == 0)
				seq++;
			else
				igbvf_tx_flush(&vf);
			if ((seq & 31) == 0)
				igbvf_tx_flush(&vf);
		}
		igbvf_tx_flush(&vf);
		while (igbvf_tx_clean(&vf) && clock_ms() < deadline)
			;
		uint64_t us = clock_us() - start * 1000;
		printf("vfraw: sent %u frames of %u bytes in %llu ms (%llu us)\n", count, size,
		       (unsigned long long)(us / 1000), (unsigned long long)us);
	} else if (strcmp(mode, "recv") == 0 || strcmp(mode, "echo") == 0) {
		st.echo = mode[0] == 'e';
		while ((st.echo ? st.echoed : st.received) < count && clock_ms() < deadline)
			service(&st, irq);
		igbvf_tx_flush(&vf);
		while (igbvf_tx_clean(&vf) && clock_ms() < deadline)
			;
		printf("vfraw: received %u frames (duplicates %u, out of order %u), echoed %u, first to last %llu us\n",
		       st.received, st.duplicates, st.out_of_order, st.echoed,
		       (unsigned long long)(st.last_us - st.first_us));
		status = (st.echo ? st.echoed : st.received) >= count ? 0 : 1;
	} else if (strcmp(mode, "ping") == 0) {
		uint64_t rtt_total = 0;
		for (uint32_t seq = 0; seq < count && clock_ms() < deadline; seq++) {
			uint32_t before = st.received;
			uint64_t t0 = clock_us();
			igbvf_xmit(&vf, frame, build_frame(frame, dst, vf.hw.addr, seq, size));
			igbvf_tx_flush(&vf);
			while (st.received == before && clock_ms() < deadline)
				service(&st, irq);
			rtt_total += clock_us() - t0;
		}
		printf("vfraw: ping %u/%u answered, average round trip %llu us\n", st.received, count,
		       (unsigned long long)(st.received ? rtt_total / st.received : 0));
		status = st.received == count ? 0 : 1;
	} else if (strcmp(mode, "lockbench") == 0) {
		/* The bracket every receive, send and flush call takes: the
		 * shared area's read lock (a version compare and two atomics)
		 * with CompSC on, a test of one pointer with compsc=off. */
		uint64_t t0 = clock_us(), c0 = arch_rdtsc();
		for (uint32_t i = 0; i < count; i++) {
			bool ok = igbvf_csc_enter(&vf);
			__asm__ volatile("" : : "r"(ok) : "memory");
			igbvf_csc_exit(&vf);
		}
		uint64_t cycles = arch_rdtsc() - c0, us = clock_us() - t0;
		printf("vfraw: lockbench: %u brackets in %llu us, %llu ns and %llu cycles each (CompSC %s)\n", count,
		       (unsigned long long)us, (unsigned long long)(count ? us * 1000 / count : 0),
		       (unsigned long long)(count ? cycles / count : 0), igbvf_csc_on(&vf) ? "on" : "off");
	} else if (strcmp(mode, "badring") == 0) {
		/* A ring far outside guest memory: the NIC must refuse the DMA. */
		uint64_t bad = rt_bootinfo->ram_size + (1ull << 30);
		igbvf_wr32(&vf.hw, VF_TXDCTL(0), 0);
		igbvf_wr32(&vf.hw, VF_TDBAL(0), (uint32_t)bad);
		igbvf_wr32(&vf.hw, VF_TDBAH(0), (uint32_t)(bad >> 32));
		igbvf_wr32(&vf.hw, VF_TDLEN(0), 1024);
		igbvf_wr32(&vf.hw, VF_TXDCTL(0), VF_QUEUE_ENABLE);
		igbvf_wr32(&vf.hw, VF_TDT(0), 4);
		printf("vfraw: programmed a TX ring at 0x%llx, outside guest memory\n", (unsigned long long)bad);
		delay_ms(cmdline_get_u64("hold", 0));
	} else {
		panic("vfraw: unknown mode '%s'", mode);
	}
	igbvf_update_stats(&vf);
	printf("vfraw: counters gprc=%llu gptc=%llu gorc=%llu gotc=%llu gprlbc=%llu gptlbc=%llu; driver rx=%llu tx=%llu; "
	       "register reads=%llu writes=%llu\n",
	       (unsigned long long)vf.stats.gprc.total, (unsigned long long)vf.stats.gptc.total,
	       (unsigned long long)vf.stats.gorc.total, (unsigned long long)vf.stats.gotc.total,
	       (unsigned long long)vf.stats.gprlbc.total, (unsigned long long)vf.stats.gptlbc.total,
	       (unsigned long long)vf.stats.rx_frames, (unsigned long long)vf.stats.tx_frames,
	       (unsigned long long)vf.hw.reg_reads, (unsigned long long)vf.hw.reg_writes);
	igbvf_csc_print_counters(&vf);
	return status;
}
