/* Fuzz target nic_vf: the VF register file, mailbox and DMA engines
 * (nic/vf.c, nic/vf_queues.c, nic/dma.c, the PF's mailbox side in
 * nic/pf.c, the switch in nic/veb.c) driven by a hostile guest.
 *
 * The input is a program of operations (register reads and writes, the
 * guest scribbling over its memory, driver-like descriptor writes,
 * mailbox messages, frames from the wire, time passing). Guest memory is
 * two DMA windows, each mmap'd between PROT_NONE guard pages: a DMA access
 * outside a window faults at once, even where ASan would not look. After
 * every operation the model's invariants are checked (those of
 * tests/unit/test_nic_random.c). No processes, sockets or clock: the NIC
 * is set up the way the unit tests do it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../common/vf82576.h"
#include "../../nic/nic.h"
#include "../../nic/veb.h"
#include "../../nic/vf_queues.h"
#include "fuzz_input.h"

#define PAGE 4096u
#define WIN0_BASE 0x100000ull
#define WIN0_SIZE (64u << 10)
#define WIN1_BASE (WIN0_BASE + WIN0_SIZE)	/* adjacent: a buffer may not straddle */
#define WIN1_SIZE (16u << 10)
#define SPAN (WIN0_SIZE + WIN1_SIZE)
#define N_VFS 2

static struct nic nic;
static struct nic_vf_ops ops;
static uint8_t *win[2];
static uint64_t fake_now;

static uint64_t fake_clock(struct nic *n)
{
	(void)n;
	return fake_now;
}

static void capture(struct nic *n, const uint8_t *frame, size_t len)
{
	(void)n;
	FUZZ_CHECK(len <= VF_TX_ASSEMBLY_MAX);
	volatile uint8_t sink = len ? frame[0] ^ frame[len - 1] : 0;	/* the frame must be readable */
	(void)sink;
}

static void raise_irq(struct nic_vf *vf, unsigned vector)
{
	(void)vf;
	FUZZ_CHECK(vector < VF_NUM_VECTORS);
}

/* guard | window | guard, the guards inaccessible. */
static uint8_t *guarded(size_t size)
{
	uint8_t *p = mmap(NULL, size + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || mprotect(p + PAGE, size, PROT_READ | PROT_WRITE) < 0) {
		perror("fuzz_nic_vf: guest memory");
		abort();
	}
	return p + PAGE;
}

/* The harness's own view of guest memory (ring bases are guest-written
 * and may be anything: no wrap-around). */
static uint8_t *guest_at(uint64_t gpa, size_t len)
{
	if (gpa >= WIN0_BASE && gpa - WIN0_BASE < WIN0_SIZE && len <= WIN0_SIZE - (gpa - WIN0_BASE))
		return win[0] + (gpa - WIN0_BASE);
	if (gpa >= WIN1_BASE && gpa - WIN1_BASE < WIN1_SIZE && len <= WIN1_SIZE - (gpa - WIN1_BASE))
		return win[1] + (gpa - WIN1_BASE);
	return NULL;
}

/* An address: mostly inside guest memory (16-byte aligned or not), at
 * the edges of the windows, or anything at all. */
static uint64_t address(struct fuzz_in *in)
{
	uint8_t how = fuzz_u8(in);
	uint32_t v = fuzz_u32(in);

	switch (how & 3) {
	case 0:
		return (uint64_t)v | (how & 4 ? (uint64_t)fuzz_u32(in) << 32 : 0);
	case 1:
		return WIN0_BASE + SPAN - (v % 64) - ((how >> 2) & 1) * WIN1_SIZE;
	case 2:
		return WIN0_BASE + (v % SPAN);
	default:
		return (WIN0_BASE + (v % SPAN)) & ~15ull;
	}
}

static const uint32_t hot_regs[] = {
	VF_CTRL, VF_STATUS, VF_EICS, VF_EIMS, VF_EIMC, VF_EIAC, VF_EIAM, VF_EICR, VF_EITR(0), VF_EITR(1),
	VF_EITR(2), VF_IVAR0, VF_IVAR_MISC, VF_V2PMAILBOX, VF_VMBMEM, VF_VMBMEM + 4, VF_VMBMEM + 8, VF_VMBMEM + 60,
	VF_RDBAL(0), VF_RDBAH(0), VF_RDLEN(0), VF_SRRCTL(0), VF_RDH(0), VF_RDT(0), VF_RXDCTL(0),
	VF_RDBAL(1), VF_RDBAH(1), VF_RDLEN(1), VF_SRRCTL(1), VF_RDH(1), VF_RDT(1), VF_RXDCTL(1),
	VF_TDBAL(0), VF_TDBAH(0), VF_TDLEN(0), VF_TDH(0), VF_TDT(0), VF_TXDCTL(0), VF_TDWBAL(0), VF_TDWBAH(0),
	VF_TDBAL(1), VF_TDBAH(1), VF_TDLEN(1), VF_TDH(1), VF_TDT(1), VF_TXDCTL(1), VF_TDWBAL(1), VF_TDWBAH(1),
	VF_GPRC, VF_GPTC, VF_GORC, VF_GOTC, VF_MPRC, VF_FRTIMER,
};
#define N_HOT (sizeof(hot_regs) / sizeof(hot_regs[0]))

static void check_invariants(void)
{
	for (unsigned i = 0; i < nic.n_vfs; i++) {
		struct nic_vf *vf = &nic.slot[i].vf;
		for (unsigned q = 0; q < VF_NUM_QUEUES; q++) {
			FUZZ_CHECK(vf->rxq[q].count == 0 || vf->rxq[q].head < vf->rxq[q].count);
			FUZZ_CHECK(vf->txq[q].count == 0 || vf->txq[q].head < vf->txq[q].count);
			FUZZ_CHECK(vf->tx_len[q] <= VF_TX_ASSEMBLY_MAX);
		}
		FUZZ_CHECK(vf->fifo_count <= VF_RX_FIFO_FRAMES);
		FUZZ_CHECK(vf->fifo_bytes <= VF_RX_FIFO_BYTES);
		FUZZ_CHECK((vf_reg(vf, VF_EICR) & ~VF_EICR_MASK) == 0);
		FUZZ_CHECK((vf_reg(vf, VF_EIMS) & ~VF_EICR_MASK) == 0);
	}
}

/* What a driver does at probe: reset, rings, interrupts. */
static void driver_init(struct nic_vf *vf, struct fuzz_in *in)
{
	uint32_t rdlen = (uint32_t)(1 + fuzz_u8(in) % 32) * 128, tdlen = (uint32_t)(1 + fuzz_u8(in) % 32) * 128;
	uint64_t rbase = WIN0_BASE + vf->index * 0x4000, tbase = rbase + 0x1000;

	nic_vf_write(vf, VF_CTRL, VF_CTRL_RST);
	nic.slot[vf->index].cts = true;
	nic_vf_write(vf, VF_RDBAL(0), (uint32_t)rbase);
	nic_vf_write(vf, VF_RDLEN(0), rdlen);
	nic_vf_write(vf, VF_SRRCTL(0), VF_SRRCTL_DESCTYPE_ADV_ONEBUF | 2);
	nic_vf_write(vf, VF_RXDCTL(0), VF_QUEUE_ENABLE);
	nic_vf_write(vf, VF_TDBAL(0), (uint32_t)tbase);
	nic_vf_write(vf, VF_TDLEN(0), tdlen);
	nic_vf_write(vf, VF_TXDCTL(0), VF_QUEUE_ENABLE);
	nic_vf_write(vf, VF_EIMS, VF_EICR_MASK);
	nic_vf_write(vf, VF_IVAR0, 0x81808182);
	nic_vf_write(vf, VF_IVAR_MISC, 0x82);
}

static void step(struct fuzz_in *in)
{
	struct nic_vf *vf = &nic.slot[fuzz_u8(in) % N_VFS].vf;
	uint8_t op = fuzz_u8(in);
	uint8_t frame[2048];

	switch (op % 16) {
	case 0: { /* any offset, any width the model sees (32-bit) */
		uint32_t off = fuzz_u16(in) % (VF_BAR0_SIZE + 64);
		nic_vf_write(vf, off, fuzz_u32(in));
		break;
	}
	case 1:
		(void)nic_vf_read(vf, fuzz_u16(in) % (VF_BAR0_SIZE + 64));
		break;
	case 2: { /* a register that matters, any value */
		uint32_t reg = hot_regs[fuzz_u8(in) % N_HOT];
		nic_vf_write(vf, reg, fuzz_u32(in));
		break;
	}
	case 3:
		(void)nic_vf_read(vf, hot_regs[fuzz_u8(in) % N_HOT]);
		break;
	case 4: { /* a ring or write-back base pointing somewhere */
		static const uint32_t bases[] = { VF_RDBAL(0), VF_RDBAL(1), VF_TDBAL(0), VF_TDBAL(1),
						  VF_TDWBAL(0), VF_TDWBAL(1) };
		uint32_t reg = bases[fuzz_u8(in) % 6];
		uint64_t a = address(in);
		nic_vf_write(vf, reg + 4, (uint32_t)(a >> 32));
		nic_vf_write(vf, reg, (uint32_t)a | (reg == VF_TDWBAL(0) || reg == VF_TDWBAL(1) ? VF_TDWBAL_ENABLE : 0));
		break;
	}
	case 5: { /* the guest scribbles: 8 bytes, often an address */
		uint64_t v = fuzz_u8(in) & 1 ? address(in) : fuzz_u64(in);
		uint8_t *p = guest_at(WIN0_BASE + fuzz_u16(in) % SPAN, 8);
		if (p)
			memcpy(p, &v, 8);
		break;
	}
	case 6:
	case 7: { /* a transmit descriptor at the tail, then the tail moves */
		unsigned q = fuzz_u8(in) % VF_NUM_QUEUES;
		struct vf_queue *txq = &vf->txq[q];
		struct vf_tx_desc d = { .buffer_addr = address(in), .cmd_type_len = fuzz_u32(in),
					.olinfo_status = fuzz_u32(in) };
		if (op & 0x80)	/* usually a data descriptor */
			d.cmd_type_len = (d.cmd_type_len & (VF_TXD_LEN_MASK | VF_TXD_CMD_EOP | VF_TXD_CMD_RS)) |
					 VF_TXD_DTYP_DATA | VF_TXD_CMD_DEXT;
		if (txq->count) {
			uint32_t tail = vf_reg(vf, VF_TDT(q)) % txq->count;
			uint8_t *p = guest_at(txq->base + tail * 16ull, 16);
			if (p)
				memcpy(p, &d, 16);
			nic_vf_write(vf, VF_TDT(q), (tail + 1 + (op & 0x40 ? fuzz_u8(in) : 0)) % txq->count);
		}
		break;
	}
	case 8: { /* RX buffers at the tail */
		unsigned q = fuzz_u8(in) % VF_NUM_QUEUES;
		struct vf_queue *rxq = &vf->rxq[q];
		unsigned n = 1 + fuzz_u8(in) % 8;
		if (rxq->count) {
			uint32_t tail = vf_reg(vf, VF_RDT(q)) % rxq->count;
			for (unsigned k = 0; k < n; k++) {
				struct vf_rx_desc_read d = { .pkt_addr = address(in) };
				uint8_t *p = guest_at(rxq->base + tail * 16ull, 16);
				if (p)
					memcpy(p, &d, 16);
				tail = (tail + 1) % rxq->count;
			}
			nic_vf_write(vf, VF_RDT(q), tail);
		}
		break;
	}
	case 9: { /* a frame from the wire, addressed by choice */
		size_t len = fuzz_u16(in) % sizeof(frame);
		uint8_t to = fuzz_u8(in);
		memset(frame, 0, sizeof(frame));
		fuzz_bytes(in, frame, len < 64 ? len : 64);
		if (len >= 6 && (to & 3) != 3)
			memcpy(frame, (to & 3) == 2 ? (const uint8_t[6]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }
						    : nic.slot[to & 1].mac, 6);
		veb_from_uplink(&nic, frame, len);
		break;
	}
	case 10: /* time passes */
		fake_now += fuzz_u32(in);
		nic_service(&nic);
		break;
	case 11: { /* a mailbox message the driver's way: buffer, then REQ */
		unsigned n = 1 + fuzz_u8(in) % VF_VMBMEM_WORDS;
		for (unsigned k = 0; k < n; k++)
			nic_vf_write(vf, VF_VMBMEM + 4 * k, fuzz_u32(in));
		nic_vf_write(vf, VF_V2PMAILBOX, fuzz_u8(in) & 1 ? VF_MBX_REQ : VF_MBX_VFU);
		(void)nic_vf_read(vf, VF_V2PMAILBOX);
		break;
	}
	case 12: { /* the PF side */
		uint8_t what = fuzz_u8(in);
		if (what % 4 == 0)
			nic_pf_set_enabled(&nic, vf->index, what & 4);
		else if (what % 4 == 1)
			nic_vf_reset(vf);
		else if (what % 4 == 2)
			nic_pf_free(&nic, vf->index);
		else
			nic_pf_assign(&nic, vf->index, (const uint8_t[6]){ 0x02, 0, 0, 0, 1, (uint8_t)(what >> 4) },
				      "fuzz");
		break;
	}
	case 13:
		driver_init(vf, in);
		break;
	case 14: { /* a ring's length and enable, any values */
		unsigned q = fuzz_u8(in) % VF_NUM_QUEUES;
		bool tx = fuzz_u8(in) & 1;
		nic_vf_write(vf, tx ? VF_TDLEN(q) : VF_RDLEN(q), fuzz_u32(in));
		nic_vf_write(vf, tx ? VF_TXDCTL(q) : VF_RXDCTL(q), fuzz_u8(in) & 1 ? VF_QUEUE_ENABLE : 0);
		break;
	}
	default: { /* a burst of writes to one register (doorbell storms) */
		uint32_t reg = hot_regs[fuzz_u8(in) % N_HOT];
		unsigned n = fuzz_u8(in) % 32;
		uint32_t v = fuzz_u32(in);
		for (unsigned k = 0; k < n; k++)
			nic_vf_write(vf, reg, v + k);
		break;
	}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_DEBUG);
	win[0] = guarded(WIN0_SIZE);
	win[1] = guarded(WIN1_SIZE);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nic_config cfg = { .n_vfs = N_VFS, .mac_base = { 0x02, 0, 0, 0, 0, 0x10 }, .sw = &veb_switch_ops };
	struct fuzz_in in;

	fuzz_in_init(&in, data, size);
	fuzz_mute();
	uint8_t setup = fuzz_u8(&in);
	cfg.rate_bps = setup & 1 ? 1000000000ull : 0;
	if (nic_init(&nic, &cfg) < 0)
		abort();
	fake_now = 1;
	nic.clock = fake_clock;
	nic.uplink_capture = capture;
	ops = nic_vf_ops;
	ops.raise_irq = raise_irq;
	memset(win[0], 0, WIN0_SIZE);
	memset(win[1], 0, WIN1_SIZE);
	for (unsigned i = 0; i < N_VFS; i++) {
		struct nic_vf *vf = &nic.slot[i].vf;
		vf->ops = &ops;
		if (dma_map_host(&vf->dma, WIN0_BASE, WIN0_SIZE, win[0]) < 0 ||
		    dma_map_host(&vf->dma, WIN1_BASE, WIN1_SIZE, win[1]) < 0)
			abort();
		if (setup & (2u << i))
			driver_init(vf, &in);
	}
	for (unsigned n = 0; n < 4096 && !in.end; n++) {
		step(&in);
		check_invariants();
	}
	nic_destroy(&nic);
	fuzz_unmute();
	return 0;
}
