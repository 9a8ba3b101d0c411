/* The VF model against a hostile guest: long runs of random register
 * accesses (biased to the registers that matter), random descriptor rings
 * and buffers, random frames from the wire, random time steps. Nothing may
 * crash (this also runs under ASan/UBSan), no DMA may land outside guest
 * memory (a guard area is checked), and the model's invariants must hold
 * after every step. Deterministic: a fixed seed per case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/vf82576.h"
#include "../../common/vf_regtable.h"
#include "../../nic/nic.h"
#include "../../nic/veb.h"
#include "../../nic/vf_queues.h"

#define GUEST_BASE 0x100000ull
#define GUEST_SIZE (256u << 10)
#define GUARD 4096u

static struct nic nic;
static uint8_t *mem;	/* guard | guest | guard */
static uint64_t fake_now, rng;
static unsigned irqs, out_frames;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t fake_clock(struct nic *n) { (void)n; return fake_now; }
static void capture(struct nic *n, const uint8_t *f, size_t len) { (void)n; (void)f; (void)len; out_frames++; }
static struct nic_vf_ops ops;
static void count_irq(struct nic_vf *vf, unsigned v) { (void)vf; assert_true(v < VF_NUM_VECTORS); irqs++; }

/* An address that is usually inside guest memory, sometimes at its edges,
 * sometimes wild. */
static uint64_t random_addr(void)
{
	switch (next() % 8) {
	case 0:
		return next();
	case 1:
		return GUEST_BASE + GUEST_SIZE - (next() % 64);
	case 2:
		return GUEST_BASE - 16 + (next() % 32);
	default:
		return GUEST_BASE + next() % GUEST_SIZE;
	}
}

static uint32_t random_reg(void)
{
	static const uint32_t hot[] = {
		VF_CTRL, VF_EICS, VF_EIMS, VF_EIMC, VF_EIAC, VF_EIAM, VF_EICR, VF_EITR(0), VF_EITR(1),
		VF_IVAR0, VF_IVAR_MISC, VF_V2PMAILBOX, VF_VMBMEM, VF_VMBMEM + 4, VF_VMBMEM + 8,
		VF_RDBAL(0), VF_RDBAH(0), VF_RDLEN(0), VF_SRRCTL(0), VF_RDT(0), VF_RXDCTL(0),
		VF_TDBAL(0), VF_TDBAH(0), VF_TDLEN(0), VF_TDT(0), VF_TXDCTL(0), VF_TDWBAL(0), VF_TDWBAH(0),
		VF_TDT(1), VF_TXDCTL(1), VF_TDBAL(1), VF_TDLEN(1),
	};
	if (next() % 10 == 0)
		return (uint32_t)(next() % (VF_BAR0_SIZE + 64));	/* anything, even misaligned */
	return hot[next() % (sizeof(hot) / sizeof(hot[0]))];
}

static uint32_t random_value(uint32_t reg)
{
	switch (reg) {
	case VF_RDBAL(0): case VF_TDBAL(0): case VF_TDBAL(1): case VF_TDWBAL(0):
		return (uint32_t)random_addr();
	case VF_RDBAH(0): case VF_TDBAH(0): case VF_TDWBAH(0):
		return next() % 16 ? 0 : (uint32_t)next();
	case VF_RDLEN(0): case VF_TDLEN(0): case VF_TDLEN(1):
		return (uint32_t)((next() % 64) * 128);
	case VF_RDT(0): case VF_TDT(0): case VF_TDT(1):
		return (uint32_t)(next() % 70);
	case VF_RXDCTL(0): case VF_TXDCTL(0): case VF_TXDCTL(1):
		return next() % 4 ? VF_QUEUE_ENABLE : 0;
	case VF_CTRL:
		return next() % 50 ? 0 : VF_CTRL_RST;
	default:
		return (uint32_t)next();
	}
}

static void check_invariants(void)
{
	for (unsigned i = 0; i < nic.n_vfs; i++) {
		struct nic_vf *vf = &nic.slot[i].vf;
		for (unsigned q = 0; q < VF_NUM_QUEUES; q++) {
			assert_true(vf->rxq[q].count == 0 || vf->rxq[q].head < vf->rxq[q].count);
			assert_true(vf->txq[q].count == 0 || vf->txq[q].head < vf->txq[q].count);
			assert_true(vf->tx_len[q] <= VF_TX_ASSEMBLY_MAX);
		}
		assert_true(vf->fifo_count <= VF_RX_FIFO_FRAMES);
		assert_true(vf->fifo_bytes <= VF_RX_FIFO_BYTES);
		assert_true((vf_reg(vf, VF_EICR) & ~VF_EICR_MASK) == 0);
		assert_true((vf_reg(vf, VF_EIMS) & ~VF_EICR_MASK) == 0);
	}
	for (unsigned i = 0; i < GUARD; i++) {
		assert_int_equal(mem[i], 0xa5);
		assert_int_equal(mem[GUARD + GUEST_SIZE + i], 0xa5);
	}
}

static void run(uint64_t seed, unsigned steps)
{
	struct nic_config cfg = { .n_vfs = 2, .mac_base = { 0x02, 0, 0, 0, 0, 0x10 }, .rate_bps = 1000000000ull,
				   .sw = &veb_switch_ops };

	rng = seed;
	fake_now = 1;
	irqs = out_frames = 0;
	log_init("test", LOG_ERROR);
	assert_int_equal(nic_init(&nic, &cfg), 0);
	nic.clock = fake_clock;
	nic.uplink_capture = capture;
	ops = nic_vf_ops;
	ops.raise_irq = count_irq;
	mem = malloc(GUEST_SIZE + 2 * GUARD);
	memset(mem, 0xa5, GUEST_SIZE + 2 * GUARD);
	for (unsigned i = 0; i < GUEST_SIZE; i++)
		mem[GUARD + i] = (uint8_t)next();
	for (unsigned i = 0; i < nic.n_vfs; i++) {
		nic.slot[i].vf.ops = &ops;
		assert_int_equal(dma_map_host(&nic.slot[i].vf.dma, GUEST_BASE, GUEST_SIZE, mem + GUARD), 0);
		/* Half the runs start from a driver-like state: reset done,
		 * rings programmed, so the random steps reach the DMA paths. */
		if (next() % 2) {
			struct nic_vf *vf = &nic.slot[i].vf;
			nic_vf_write(vf, VF_CTRL, VF_CTRL_RST);
			nic.slot[i].cts = true;
			nic_vf_write(vf, VF_RDBAL(0), (uint32_t)(GUEST_BASE + i * 0x8000));
			nic_vf_write(vf, VF_RDLEN(0), 32 * 16);
			nic_vf_write(vf, VF_RXDCTL(0), VF_QUEUE_ENABLE);
			nic_vf_write(vf, VF_TDBAL(0), (uint32_t)(GUEST_BASE + i * 0x8000 + 0x1000));
			nic_vf_write(vf, VF_TDLEN(0), 32 * 16);
			nic_vf_write(vf, VF_TXDCTL(0), VF_QUEUE_ENABLE);
			nic_vf_write(vf, VF_EIMS, 0x7);
			nic_vf_write(vf, VF_IVAR0, 0x81808182);
		}
	}
	uint8_t frame[2048];
	for (unsigned step = 0; step < steps; step++) {
		struct nic_vf *vf = &nic.slot[next() % nic.n_vfs].vf;
		struct vf_queue *txq = &vf->txq[0], *rxq = &vf->rxq[0];
		switch (next() % 20) {
		case 0: /* the guest scribbles over its memory (rings, buffers) */
			for (int k = 0; k < 4; k++) {
				uint64_t off = next() % (GUEST_SIZE - 8);
				uint64_t v = next() % 3 ? random_addr() : next();
				memcpy(mem + GUARD + off, &v, 8);
			}
			break;
		case 1:
		case 2:
		case 3: { /* a frame from the wire, mostly to a VF */
			size_t len = next() % 4 ? 14 + next() % 1500 : next() % sizeof(frame);
			for (size_t k = 0; k < len; k++)
				frame[k] = (uint8_t)next();
			if (len >= 6 && next() % 4)
				memcpy(frame, nic.slot[next() % nic.n_vfs].mac, 6);
			veb_from_uplink(&nic, frame, len);
			break;
		}
		case 4: /* time passes */
			fake_now += next() % 200000;
			nic_service(&nic);
			break;
		case 5: /* the PF stops or starts a VF, or the VF is reset */
			if (next() % 4 == 0)
				nic_pf_set_enabled(&nic, vf->index, next() % 2);
			else if (next() % 8 == 0)
				nic_vf_reset(vf);
			break;
		case 6:
		case 7:
			(void)nic_vf_read(vf, random_reg());
			break;
		case 8:
		case 9:
		case 10: {
			uint32_t reg = random_reg();
			nic_vf_write(vf, reg, random_value(reg));
			break;
		}
		case 11:
		case 12:
		case 13:
		case 14: /* a driver-like transmit: one descriptor at the tail */
			if (txq->count && txq->base >= GUEST_BASE && txq->base + txq->count * 16 <= GUEST_BASE + GUEST_SIZE) {
				uint32_t tail = vf_reg(vf, VF_TDT(0)) % txq->count;
				struct vf_tx_desc d = {
					.buffer_addr = next() % 8 ? GUEST_BASE + next() % (GUEST_SIZE - 2048) : random_addr(),
					.cmd_type_len = (uint32_t)(next() % 8 ? 60 + next() % 1400 : next() % 0x10000) |
							VF_TXD_DTYP_DATA | VF_TXD_CMD_DEXT | VF_TXD_CMD_RS |
							(next() % 4 ? VF_TXD_CMD_EOP : 0),
				};
				memcpy(mem + GUARD + (txq->base - GUEST_BASE) + tail * 16, &d, 16);
				nic_vf_write(vf, VF_TDT(0), (tail + 1) % txq->count);
			}
			break;
		case 15:
		case 16:
		case 17: /* a driver-like RX refill: buffers at the tail */
			if (rxq->count && rxq->base >= GUEST_BASE && rxq->base + rxq->count * 16 <= GUEST_BASE + GUEST_SIZE) {
				uint32_t tail = vf_reg(vf, VF_RDT(0)) % rxq->count;
				for (int k = 0; k < 4; k++) {
					struct vf_rx_desc_read d = {
						.pkt_addr = next() % 16 ? GUEST_BASE + next() % (GUEST_SIZE - 2048) : random_addr(),
					};
					memcpy(mem + GUARD + (rxq->base - GUEST_BASE) + tail * 16, &d, 16);
					tail = (tail + 1) % rxq->count;
				}
				nic_vf_write(vf, VF_RDT(0), tail);
			}
			break;
		default: /* the driver reprograms a ring (clears a DMA fault) */
			if (next() % 2) {
				nic_vf_write(vf, VF_TDBAL(0), (uint32_t)(GUEST_BASE + vf->index * 0x8000 + 0x1000));
				nic_vf_write(vf, VF_TDBAH(0), 0);
				nic_vf_write(vf, VF_TDLEN(0), (uint32_t)(8 + next() % 56) * 16);
				nic_vf_write(vf, VF_TXDCTL(0), VF_QUEUE_ENABLE);
			} else {
				nic_vf_write(vf, VF_RDBAL(0), (uint32_t)(GUEST_BASE + vf->index * 0x8000));
				nic_vf_write(vf, VF_RDBAH(0), 0);
				nic_vf_write(vf, VF_RDLEN(0), (uint32_t)(8 + next() % 56) * 16);
				nic_vf_write(vf, VF_RXDCTL(0), VF_QUEUE_ENABLE);
			}
			nic.slot[vf->index].cts = true;
			break;
		}
		check_invariants();
	}
	/* The run must have reached the paths it is meant to shake: frames
	 * out and in through the DMA engines, interrupts, and DMA faults. */
	uint64_t faults = 0, received = 0;
	for (unsigned i = 0; i < nic.n_vfs; i++) {
		faults += nic.slot[i].vf.err.dma_faults;
		received += vf_reg(&nic.slot[i].vf, VF_GPRC);
	}
	print_message("# seed %llx: %u frames out, %llu received, %u interrupts, %llu DMA faults\n",
		      (unsigned long long)seed, out_frames, (unsigned long long)received, irqs,
		      (unsigned long long)faults);
	assert_true(out_frames > 0 && received > 0 && irqs > 0 && faults > 0);
	nic_destroy(&nic);
	free(mem);
}

static void test_random_driver_1(void **state) { (void)state; run(0x1234567890abcdefull, 60000); }
static void test_random_driver_2(void **state) { (void)state; run(0xfeedfacecafebeefull, 60000); }
static void test_random_driver_3(void **state) { (void)state; run(42, 60000); }
static void test_random_driver_4(void **state) { (void)state; run(0x9e3779b97f4a7c15ull, 60000); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_driver_1),
		cmocka_unit_test(test_random_driver_2),
		cmocka_unit_test(test_random_driver_3),
		cmocka_unit_test(test_random_driver_4),
	};
	return cmocka_run_group_tests_name("nic_random", tests, NULL, NULL);
}
