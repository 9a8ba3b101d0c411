/* The NIC model without KVM or sockets: a fake clock, guest memory as a
 * malloc'd buffer mapped for DMA, the uplink captured. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../common/vf82576.h"
#include "../../common/vf_regtable.h"
#include "../../nic/nic.h"
#include "../../nic/veb.h"
#include "../../nic/vf_queues.h"

#define GUEST_BASE 0x100000ull
#define GUEST_SIZE (1u << 20)

static struct nic nic;
static uint8_t *guest;			/* GUEST_SIZE bytes + a guard page */
static uint64_t fake_now;
static unsigned irqs[NIC_MAX_VFS][VF_NUM_VECTORS];
static struct captured { uint8_t data[2048]; size_t len; } uplink[64];
static unsigned n_uplink;

static uint64_t fake_clock(struct nic *n) { (void)n; return fake_now; }

static void capture(struct nic *n, const uint8_t *frame, size_t len)
{
	(void)n;
	if (n_uplink < 64) {
		memcpy(uplink[n_uplink].data, frame, len);
		uplink[n_uplink].len = len;
	}
	n_uplink++;
}

/* irqs are counted through eventfds in the real NIC; here through a
 * wrapped ops table. */
static struct nic_vf_ops test_ops;
static void count_irq(struct nic_vf *vf, unsigned vector) { irqs[vf->index][vector]++; }

static int setup(void **state)
{
	struct nic_config cfg = { .n_vfs = 3, .mac_base = { 0x02, 0, 0, 0, 0, 0x10 }, .rate_bps = 0,
				   .sw = &veb_switch_ops };
	(void)state;
	log_init("test", LOG_ERROR);
	assert_int_equal(nic_init(&nic, &cfg), 0);
	nic.clock = fake_clock;
	nic.uplink_capture = capture;
	fake_now = 1000000;
	test_ops = nic_vf_ops;
	test_ops.raise_irq = count_irq;
	guest = calloc(1, GUEST_SIZE + 4096);
	for (unsigned i = 0; i < nic.n_vfs; i++) {
		nic.slot[i].vf.ops = &test_ops;
		assert_int_equal(dma_map_host(&nic.slot[i].vf.dma, GUEST_BASE, GUEST_SIZE, guest), 0);
	}
	memset(irqs, 0, sizeof(irqs));
	n_uplink = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nic_destroy(&nic);
	free(guest);
	return 0;
}

static struct nic_vf *VF(unsigned i) { return &nic.slot[i].vf; }
static void *G(uint64_t gpa) { return guest + (gpa - GUEST_BASE); }

/* Mailbox helpers, as a driver does it. */
static void mbx_send(struct nic_vf *vf, const uint32_t *msg, unsigned n)
{
	nic_vf_write(vf, VF_V2PMAILBOX, VF_MBX_VFU);
	assert_true(nic_vf_read(vf, VF_V2PMAILBOX) & VF_MBX_VFU);
	for (unsigned i = 0; i < n; i++)
		nic_vf_write(vf, VF_VMBMEM + 4 * i, msg[i]);
	nic_vf_write(vf, VF_V2PMAILBOX, VF_MBX_REQ);
}

static uint32_t mbx_reply(struct nic_vf *vf, uint32_t *words, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		words[i] = nic_vf_read(vf, VF_VMBMEM + 4 * i);
	nic_vf_write(vf, VF_V2PMAILBOX, VF_MBX_ACK);
	return words[0];
}

static void driver_reset(struct nic_vf *vf)
{
	uint32_t msg[3] = { VF_MSG_RESET };

	nic_vf_write(vf, VF_CTRL, VF_CTRL_RST);
	assert_true(nic_vf_read(vf, VF_V2PMAILBOX) & VF_MBX_RSTD);
	mbx_send(vf, msg, 1);
	mbx_reply(vf, msg, 3);
	assert_int_equal(msg[0] & (VF_MSG_TYPE_MASK | VF_MSG_ACK), VF_MSG_RESET | VF_MSG_ACK);
}

/* Rings at fixed places in guest memory. */
#define TX_RING 0x100000ull
#define RX_RING 0x102000ull
#define TX_BUFS 0x110000ull
#define RX_BUFS 0x180000ull
/* Each VF gets its own RX ring and buffers. */
#define RX_RING_OF(vf) (RX_RING + (vf)->index * 0x1000ull)
#define RX_BUFS_OF(vf) (RX_BUFS + (vf)->index * 0x20000ull)

static void setup_tx(struct nic_vf *vf, unsigned count)
{
	nic_vf_write(vf, VF_TDBAL(0), (uint32_t)TX_RING);
	nic_vf_write(vf, VF_TDBAH(0), 0);
	nic_vf_write(vf, VF_TDLEN(0), count * 16);
	nic_vf_write(vf, VF_TXDCTL(0), VF_QUEUE_ENABLE);
}

static void setup_rx(struct nic_vf *vf, unsigned count)
{
	struct vf_rx_desc_read *d = G(RX_RING_OF(vf));
	for (unsigned i = 0; i < count; i++)
		d[i] = (struct vf_rx_desc_read){ RX_BUFS_OF(vf) + i * 2048, 0 };
	nic_vf_write(vf, VF_RDBAL(0), (uint32_t)RX_RING_OF(vf));
	nic_vf_write(vf, VF_RDBAH(0), 0);
	nic_vf_write(vf, VF_RDLEN(0), count * 16);
	nic_vf_write(vf, VF_SRRCTL(0), 2 | VF_SRRCTL_DESCTYPE_ADV_ONEBUF);
	nic_vf_write(vf, VF_RXDCTL(0), VF_QUEUE_ENABLE);
	nic_vf_write(vf, VF_RDT(0), count - 1);
}

static void put_tx(unsigned slot, uint64_t buf, unsigned len, bool eop)
{
	struct vf_tx_desc *d = G(TX_RING);
	d[slot] = (struct vf_tx_desc){ buf, len | VF_TXD_DTYP_DATA | VF_TXD_CMD_DEXT | VF_TXD_CMD_RS |
						 (eop ? VF_TXD_CMD_EOP : 0), 0 };
}

static void make_frame(uint8_t *f, const uint8_t *dst, uint8_t src_last, uint32_t seq, unsigned len)
{
	memcpy(f, dst, 6);
	const uint8_t src[6] = { 0x02, 0, 0, 0, 0, src_last };
	memcpy(f + 6, src, 6);
	f[12] = 0x88, f[13] = 0xb5;
	memcpy(f + 14, &seq, 4);
	memset(f + 18, 0xab, len - 18);
}

/* ---- register classes ---------------------------------------------------- */

static void test_table_is_sorted_and_complete(void **state)
{
	(void)state;
	for (unsigned i = 1; i < vf82576_n_regs; i++)
		assert_true(vf82576_regs[i - 1].offset < vf82576_regs[i].offset);
	/* Every VF register the 82576 datasheet lists (common/vf82576.h) is there. */
	const uint32_t must[] = { VF_CTRL, VF_STATUS, VF_FRTIMER, VF_EICS, VF_EIMS, VF_EIMC, VF_EIAC, VF_EIAM,
				  VF_EICR, VF_EITR(0), VF_EITR(2), VF_IVAR0, VF_IVAR_MISC, VF_V2PMAILBOX,
				  VF_VMBMEM, VF_VMBMEM + 60, VF_RDBAL(1), VF_RDT(1), VF_RXDCTL(1), VF_RQDPC(1),
				  VF_TDWBAH(1), VF_TXDCTL(1), VF_GPRC, VF_GOTLBC };
	for (unsigned i = 0; i < sizeof(must) / sizeof(must[0]); i++)
		assert_non_null(vf82576_reg_lookup(must[i]));
	assert_null(vf82576_reg_lookup(0x0004));
	assert_null(vf82576_reg_lookup(VF_CTRL + 1));
	unsigned counters = 0;
	for (unsigned i = 0; i < vf82576_n_regs; i++)
		counters += (vf82576_regs[i].flags & VF_REGF_COUNTER) != 0;
	assert_int_equal(counters, 9);
}

static void test_rw_registers_keep_writable_bits(void **state)
{
	struct nic_vf *vf = VF(0);
	(void)state;
	for (unsigned i = 0; i < vf82576_n_regs; i++) {
		const struct vf_reg_info *r = &vf82576_regs[i];
		if (r->cls != VF_REG_RW || (r->flags & VF_REGF_SIDE_EFFECT))
			continue;
		nic_vf_write(vf, r->offset, 0xffffffffu);
		assert_int_equal(nic_vf_read(vf, r->offset), r->wmask);
		nic_vf_write(vf, r->offset, 0);
		assert_int_equal(nic_vf_read(vf, r->offset), 0);
	}
}

static void test_ro_wo_rc_classes(void **state)
{
	struct nic_vf *vf = VF(0);
	(void)state;
	/* RO: write ignored and counted. */
	uint32_t status = nic_vf_read(vf, VF_STATUS);
	assert_true(status & VF_STATUS_LU);
	nic_vf_write(vf, VF_STATUS, 0);
	nic_vf_write(vf, VF_GPRC, 1234);
	nic_vf_write(vf, VF_RDH(0), 5);
	assert_int_equal(nic_vf_read(vf, VF_STATUS), status);
	assert_int_equal(nic_vf_read(vf, VF_GPRC), 0);
	assert_int_equal(nic_vf_read(vf, VF_RDH(0)), 0);
	assert_int_equal(vf->err.ro_writes, 3);
	/* Unknown offsets: counted, never fatal. */
	nic_vf_write(vf, 0x0100, 1);
	assert_int_equal(nic_vf_read(vf, 0x0104), 0);
	assert_int_equal(vf->err.unknown_writes, 1);
	assert_int_equal(vf->err.unknown_reads, 1);
	/* WO reads 0. */
	nic_vf_write(vf, VF_EIMC, 0x7);
	assert_int_equal(nic_vf_read(vf, VF_EIMC), 0);
	assert_int_equal(nic_vf_read(vf, VF_EICS), 0);
	/* Read-to-clear: the drop counter. */
	vf_reg_set(vf, VF_RQDPC(0), 7);
	assert_int_equal(nic_vf_read(vf, VF_RQDPC(0)), 7);
	assert_int_equal(nic_vf_read(vf, VF_RQDPC(0)), 0);
	/* FRTIMER runs with the clock, writes ignored. */
	uint32_t t0 = nic_vf_read(vf, VF_FRTIMER);
	fake_now += 5000000;
	assert_int_equal(nic_vf_read(vf, VF_FRTIMER) - t0, 5000);
}

static void test_ctrl_rst_self_clears_and_resets(void **state)
{
	struct nic_vf *vf = VF(0);
	(void)state;
	nic_vf_write(vf, VF_EIAC, 0x5);
	nic_vf_write(vf, VF_IVAR0, 0x81);
	vf_reg_set(vf, VF_GPTC, 42);	/* statistics survive a VF reset */
	nic_vf_write(vf, VF_CTRL, VF_CTRL_RST);
	assert_int_equal(nic_vf_read(vf, VF_CTRL) & VF_CTRL_RST, 0);
	assert_int_equal(nic_vf_read(vf, VF_EIAC), 0);
	assert_int_equal(nic_vf_read(vf, VF_IVAR0), 0);
	assert_int_equal(nic_vf_read(vf, VF_SRRCTL(0)), 2);	/* reset value */
	assert_int_equal(nic_vf_read(vf, VF_GPTC), 42);
	uint32_t mbx = nic_vf_read(vf, VF_V2PMAILBOX);
	assert_true(mbx & VF_MBX_RSTD);
	assert_false(nic_vf_read(vf, VF_V2PMAILBOX) & VF_MBX_RSTD);	/* read-to-clear */
}

/* ---- interrupts ---------------------------------------------------------- */

static void test_eicr_eims_eiac_interplay(void **state)
{
	struct nic_vf *vf = VF(0);
	(void)state;
	/* RX0 -> vector 1, TX0 -> vector 0, other -> vector 2. */
	nic_vf_write(vf, VF_IVAR0, (1 | VF_IVAR_VALID) | ((0 | VF_IVAR_VALID) << 8));
	nic_vf_write(vf, VF_IVAR_MISC, 2 | VF_IVAR_VALID);

	/* Masked: the cause latches in EICR, no interrupt. */
	nic_vf_raise_cause(vf, VF_CAUSE_RX0);
	assert_int_equal(irqs[0][1], 0);
	assert_int_equal(nic_vf_read(vf, VF_EICR), 0x2);	/* read clears it */
	assert_int_equal(nic_vf_read(vf, VF_EICR), 0);

	/* Unmasking a pending cause fires it. */
	nic_vf_raise_cause(vf, VF_CAUSE_RX0);
	nic_vf_write(vf, VF_EIMS, 0x7);
	assert_int_equal(nic_vf_read(vf, VF_EIMS), 0x7);
	assert_int_equal(irqs[0][1], 1);
	/* Without EIAC the cause stays set; write-1-to-clear clears it. */
	assert_int_equal(vf_reg(vf, VF_EICR), 0x2);
	nic_vf_write(vf, VF_EICR, 0x2);
	assert_int_equal(vf_reg(vf, VF_EICR), 0);

	/* EIAC auto-clears the cause, EIAM auto-masks the vector. */
	nic_vf_write(vf, VF_EIAC, 0x7);
	nic_vf_write(vf, VF_EIAM, 0x7);
	nic_vf_raise_cause(vf, VF_CAUSE_TX0);
	assert_int_equal(irqs[0][0], 1);
	assert_int_equal(vf_reg(vf, VF_EICR), 0);
	assert_int_equal(nic_vf_read(vf, VF_EIMS), 0x6);
	/* Masked now: the next TX cause waits for the driver's re-arm. */
	nic_vf_raise_cause(vf, VF_CAUSE_TX0);
	assert_int_equal(irqs[0][0], 1);
	nic_vf_write(vf, VF_EIMS, 0x1);
	assert_int_equal(irqs[0][0], 2);

	/* EICS sets causes by software; EIMC masks. */
	nic_vf_write(vf, VF_EIMC, 0x4);
	nic_vf_write(vf, VF_EICS, 0x4);
	assert_int_equal(irqs[0][2], 0);
	nic_vf_write(vf, VF_EIMS, 0x4);
	assert_int_equal(irqs[0][2], 1);

	/* A cause whose IVAR entry is not valid raises nothing. */
	nic_vf_raise_cause(vf, VF_CAUSE_RX1);
	assert_int_equal(irqs[0][0] + irqs[0][1] + irqs[0][2], 4);
}

static void test_throttling(void **state)
{
	struct nic_vf *vf = VF(0);
	(void)state;
	nic_vf_write(vf, VF_IVAR0, 1 | VF_IVAR_VALID);
	nic_vf_write(vf, VF_EITR(1), 196);	/* 196 x 256 ns = 50.2 us */
	nic_vf_write(vf, VF_EIMS, 0x7);
	nic_vf_raise_cause(vf, VF_CAUSE_RX0);
	assert_int_equal(irqs[0][1], 1);
	fake_now += 10000;	/* 10 us later: held back */
	nic_vf_raise_cause(vf, VF_CAUSE_RX0);
	assert_int_equal(irqs[0][1], 1);
	assert_int_equal(nic_vf_next_deadline(vf), fake_now - 10000 + 196 * 256);
	nic_vf_poll_timers(vf);
	assert_int_equal(irqs[0][1], 1);
	fake_now += 45000;
	nic_vf_poll_timers(vf);
	assert_int_equal(irqs[0][1], 2);
	assert_int_equal(nic_vf_next_deadline(vf), UINT64_MAX);
}

/* ---- mailbox --------------------------------------------------------------- */

static void test_mailbox_nack_before_cts_then_handshake(void **state)
{
	struct nic_vf *vf = VF(1);
	uint32_t reply[3];
	(void)state;
	/* Before the reset handshake the PF refuses everything. */
	uint32_t set_mac[3] = { VF_MSG_SET_MAC_ADDR, 0x00000002, 0x0000 };
	mbx_send(vf, set_mac, 3);
	uint32_t mbx = nic_vf_read(vf, VF_V2PMAILBOX);
	assert_true(mbx & VF_MBX_PFACK);
	assert_true(mbx & VF_MBX_PFSTS);
	assert_true(mbx_reply(vf, reply, 1) & VF_MSG_NACK);
	assert_false(nic.slot[1].cts);

	/* Reset handshake: RST, RSTD seen, VF_RESET -> ACK + permanent MAC. */
	nic_vf_write(vf, VF_CTRL, VF_CTRL_RST);
	assert_true(nic_vf_read(vf, VF_V2PMAILBOX) & VF_MBX_RSTD);
	uint32_t rst[1] = { VF_MSG_RESET };
	mbx_send(vf, rst, 1);
	assert_true(nic_vf_read(vf, VF_V2PMAILBOX) & VF_MBX_PFSTS);
	mbx_reply(vf, reply, 3);
	assert_int_equal(reply[0] & (VF_MSG_TYPE_MASK | VF_MSG_ACK | VF_MSG_NACK), VF_MSG_RESET | VF_MSG_ACK);
	assert_int_equal(reply[1], 0x00000002);	/* 02:00:00:00 */
	assert_int_equal(reply[2], 0x1100);	/* :00:11 (VF 1 = base + 1) */
	assert_true(nic.slot[1].cts);

	/* Now messages are accepted and carry CTS. */
	set_mac[1] = 0x33221102;	/* 02:11:22:33:44:55 */
	set_mac[2] = 0x5544;
	mbx_send(vf, set_mac, 3);
	assert_int_equal(mbx_reply(vf, reply, 1) & (VF_MSG_ACK | VF_MSG_CTS), VF_MSG_ACK | VF_MSG_CTS);
	assert_memory_equal(nic.slot[1].mac, "\x02\x11\x22\x33\x44\x55", 6);
	/* A multicast MAC is refused. */
	set_mac[1] = 0x33221101;
	mbx_send(vf, set_mac, 3);
	assert_true(mbx_reply(vf, reply, 1) & VF_MSG_NACK);
	/* LPE within bounds only. */
	uint32_t lpe[2] = { VF_MSG_SET_LPE, 9018 };
	mbx_send(vf, lpe, 2);
	assert_true(mbx_reply(vf, reply, 1) & VF_MSG_ACK);
	assert_int_equal(vf->max_frame, 9018);
	lpe[1] = 100000;
	mbx_send(vf, lpe, 2);
	assert_true(mbx_reply(vf, reply, 1) & VF_MSG_NACK);
	/* Multicast list: at most 30 hashes. */
	uint32_t mc[2] = { VF_MSG_SET_MULTICAST | (31u << VF_MSG_INFO_SHIFT), 0 };
	mbx_send(vf, mc, 2);
	assert_true(mbx_reply(vf, reply, 1) & VF_MSG_NACK);
	/* Unknown message types are refused. */
	uint32_t odd[1] = { 0x77 };
	mbx_send(vf, odd, 1);
	assert_true(mbx_reply(vf, reply, 1) & VF_MSG_NACK);
	/* A VF reset takes CTS away again. */
	nic_vf_write(vf, VF_CTRL, VF_CTRL_RST);
	assert_false(nic.slot[1].cts);
}

static void test_mailbox_host_locked_mac(void **state)
{
	struct nic_vf *vf = VF(0);
	uint32_t reply[3];
	const uint8_t admin[6] = { 0x02, 0xaa, 0, 0, 0, 0x01 };
	(void)state;
	assert_int_equal(nic_pf_assign(&nic, 0, admin, "vm1"), 0);
	driver_reset(vf);
	assert_memory_equal(nic.slot[0].mac, admin, 6);
	uint32_t set_mac[3] = { VF_MSG_SET_MAC_ADDR, 0x33221102, 0x5544 };
	mbx_send(vf, set_mac, 3);
	assert_true(mbx_reply(vf, reply, 1) & VF_MSG_NACK);
	assert_memory_equal(nic.slot[0].mac, admin, 6);
	const uint8_t bad[6] = { 0x01, 0, 0, 0, 0, 1 };
	assert_int_equal(nic_pf_assign(&nic, 0, bad, "x"), -EINVAL);
	assert_int_equal(nic_pf_assign(&nic, 9, admin, "x"), -ENOENT);
}

static void test_mailbox_mac_of_another_vf_refused(void **state)
{
	uint32_t reply[3];
	(void)state;
	driver_reset(VF(0));
	driver_reset(VF(1));
	/* VF0 asks for VF1's address (02:00:00:00:00:11): refused, or VF0
	 * would receive VF1's traffic. */
	uint32_t set_mac[3] = { VF_MSG_SET_MAC_ADDR, 0x00000002, 0x1100 };
	mbx_send(VF(0), set_mac, 3);
	assert_true(mbx_reply(VF(0), reply, 1) & VF_MSG_NACK);
	assert_memory_equal(nic.slot[0].mac, "\x02\x00\x00\x00\x00\x10", 6);
	/* The host cannot hand out a MAC in use either. */
	const uint8_t taken[6] = { 0x02, 0, 0, 0, 0, 0x12 };	/* VF2's */
	assert_int_equal(nic_pf_assign(&nic, 0, taken, "x"), -EEXIST);
}

static void test_dma_map_fd_needs_sealed_memory(void **state)
{
	struct dma_space d;
	(void)state;
	dma_init(&d);
	int loose = memfd_create("loose", MFD_CLOEXEC);
	assert_true(loose >= 0);
	assert_int_equal(ftruncate(loose, 1 << 20), 0);
	/* Unsealed: the owner could shrink it under us. */
	assert_int_equal(dma_map_fd(&d, 0, 1 << 20, loose, 0), -EPERM);
	close(loose);

	int sealed = memfd_create("sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_int_equal(ftruncate(sealed, 1 << 20), 0);
	assert_int_equal(fcntl(sealed, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	/* Larger than the file, or past its end: refused. */
	assert_int_equal(dma_map_fd(&d, 0, 2 << 20, sealed, 0), -ERANGE);
	assert_int_equal(dma_map_fd(&d, 0, 1 << 20, sealed, 4096), -ERANGE);
	assert_int_equal(dma_map_fd(&d, 0, UINT64_MAX & ~0xfffull, sealed, 4096), -ERANGE);
	/* The right size: mapped, and usable. */
	assert_int_equal(dma_map_fd(&d, 0x100000, 1 << 20, sealed, 0), 0);
	uint8_t *p = dma_ptr(&d, 0x100000 + 4096, 8);
	assert_non_null(p);
	p[0] = 0x42;
	assert_null(dma_ptr(&d, 0x100000 + (1 << 20) - 4, 8));
	dma_unmap_all(&d);
	close(sealed);
}

static void test_mailbox_vfu_arbitration(void **state)
{
	struct nic_vf *vf = VF(0);
	(void)state;
	nic_vf_write(vf, VF_V2PMAILBOX, VF_MBX_VFU);
	assert_true(nic_vf_read(vf, VF_V2PMAILBOX) & VF_MBX_VFU);
	nic_vf_write(vf, VF_V2PMAILBOX, 0);	/* released */
	assert_false(nic_vf_read(vf, VF_V2PMAILBOX) & VF_MBX_VFU);
	vf->mbx_pfu = true;			/* the PF holds the buffer */
	nic_vf_write(vf, VF_V2PMAILBOX, VF_MBX_VFU);
	assert_false(nic_vf_read(vf, VF_V2PMAILBOX) & VF_MBX_VFU);
	vf->mbx_pfu = false;
}

/* ---- DMA engines ----------------------------------------------------------- */

static void test_tx_ring_wrap_and_write_back(void **state)
{
	struct nic_vf *vf = VF(0);
	uint8_t frame[100];
	const uint8_t dst[6] = { 0x02, 0x99, 0, 0, 0, 1 };
	(void)state;
	driver_reset(vf);
	nic_vf_write(vf, VF_IVAR0, (0 | VF_IVAR_VALID) << 8);
	nic_vf_write(vf, VF_EIMS, 0x1);
	setup_tx(vf, 8);
	/* 20 frames through an 8-descriptor ring: each frame in two
	 * descriptors (header + rest), so the ring wraps five times. */
	unsigned slot = 0;
	for (uint32_t seq = 0; seq < 20; seq++) {
		uint64_t buf = TX_BUFS + seq * 128;
		make_frame(G(buf), dst, 0x10, seq, sizeof(frame));
		put_tx(slot, buf, 14, false);
		slot = (slot + 1) % 8;
		put_tx(slot, buf + 14, sizeof(frame) - 14, true);
		slot = (slot + 1) % 8;
		nic_vf_write(vf, VF_TDT(0), slot);
		assert_int_equal(nic_vf_read(vf, VF_TDH(0)), slot);
		struct vf_tx_desc *d = G(TX_RING);
		assert_true(d[(slot + 7) % 8].olinfo_status & VF_TXD_STAT_DD);
	}
	assert_int_equal(n_uplink, 20);
	for (uint32_t seq = 0; seq < 20; seq++) {
		uint32_t got;
		memcpy(&got, uplink[seq].data + 14, 4);
		assert_int_equal(got, seq);
		assert_int_equal(uplink[seq].len, sizeof(frame));
	}
	assert_int_equal(nic_vf_read(vf, VF_GPTC), 20);
	assert_int_equal(nic_vf_read(vf, VF_GOTC), 20 * sizeof(frame));
	assert_int_equal(irqs[0][0], 20);

	/* Head write-back instead of DD. */
	nic_vf_write(vf, VF_TDWBAH(0), 0);
	nic_vf_write(vf, VF_TDWBAL(0), (uint32_t)(TX_BUFS + 0x8000) | VF_TDWBAL_ENABLE);
	put_tx(slot, TX_BUFS, sizeof(frame), true);
	memset(G(TX_RING) + 16 * slot + 12, 0, 4);
	slot = (slot + 1) % 8;
	nic_vf_write(vf, VF_TDT(0), slot);
	assert_int_equal(*(uint32_t *)G(TX_BUFS + 0x8000), slot);
	assert_int_equal(n_uplink, 21);
}

static void test_rx_ring_wrap_and_fifo(void **state)
{
	struct nic_vf *vf = VF(1);
	uint8_t frame[200];
	(void)state;
	driver_reset(vf);
	setup_rx(vf, 8);	/* 7 descriptors owned by the hardware */
	struct vf_rx_desc_wb *wb = G(RX_RING_OF(vf));
	unsigned next = 0, tail = 7;
	uint32_t expect = 0;
	for (uint32_t seq = 0; seq < 30; seq++) {
		make_frame(frame, nic.slot[1].mac, 0x99, seq, sizeof(frame));
		nic_vf_receive(vf, frame, sizeof(frame), false);
		/* The driver takes every second round, so frames wait in the
		 * packet buffer when the ring is full. */
		if (seq % 2)
			continue;
		while (wb[next].status_error & VF_RXD_STAT_DD) {
			assert_true(wb[next].status_error & VF_RXD_STAT_EOP);
			assert_int_equal(wb[next].length, sizeof(frame));
			uint32_t got;
			memcpy(&got, (uint8_t *)G(RX_BUFS_OF(vf) + next * 2048) + 14, 4);
			assert_int_equal(got, expect++);
			((struct vf_rx_desc_read *)wb)[next] = (struct vf_rx_desc_read){ RX_BUFS_OF(vf) + next * 2048, 0 };
			next = (next + 1) % 8;
			tail = (tail + 1) % 8;
		}
		nic_vf_write(vf, VF_RDT(0), tail);
	}
	nic_vf_write(vf, VF_RDT(0), tail);
	while (wb[next].status_error & VF_RXD_STAT_DD) {
		uint32_t got;
		memcpy(&got, (uint8_t *)G(RX_BUFS_OF(vf) + next * 2048) + 14, 4);
		assert_int_equal(got, expect++);
		((struct vf_rx_desc_read *)wb)[next] = (struct vf_rx_desc_read){ RX_BUFS_OF(vf) + next * 2048, 0 };
		next = (next + 1) % 8;
		tail = (tail + 1) % 8;
		nic_vf_write(vf, VF_RDT(0), tail);
	}
	assert_int_equal(expect, 30);
	assert_int_equal(nic_vf_read(vf, VF_GPRC), 30);
	assert_int_equal(nic_vf_read(vf, VF_GORC), 30 * sizeof(frame));
	assert_int_equal(nic_vf_read(vf, VF_RQDPC(0)), 0);
}

static void test_rx_drops_when_buffer_full(void **state)
{
	struct nic_vf *vf = VF(0);
	uint8_t frame[1500];
	(void)state;
	driver_reset(vf);
	/* Queue disabled: frames pile up in the packet buffer, then drop. */
	make_frame(frame, nic.slot[0].mac, 0x99, 0, sizeof(frame));
	unsigned n = VF_RX_FIFO_BYTES / sizeof(frame) + 10;
	for (unsigned i = 0; i < n; i++)
		nic_vf_receive(vf, frame, sizeof(frame), false);
	assert_int_equal(nic_vf_read(vf, VF_RQDPC(0)), n - VF_RX_FIFO_BYTES / sizeof(frame));
	/* Oversized frames are not accepted at all. */
	uint8_t big[1600] = { 0 };
	nic_vf_receive(vf, big, sizeof(big), false);
	assert_int_equal(vf->err.rx_oversize, 1);
}

static void test_dma_fault_stops_queue_and_touches_nothing(void **state)
{
	struct nic_vf *vf = VF(0);
	uint8_t frame[100];
	const uint8_t dst[6] = { 0x02, 0x99, 0, 0, 0, 1 };
	(void)state;
	driver_reset(vf);
	memset(guest + GUEST_SIZE, 0x5a, 4096);	/* guard page right after the mapping */

	/* A data buffer that runs past the end of the mapping. */
	setup_tx(vf, 8);
	make_frame(G(TX_BUFS), dst, 0x10, 1, sizeof(frame));
	put_tx(0, GUEST_BASE + GUEST_SIZE - 50, 100, true);
	nic_vf_write(vf, VF_TDT(0), 1);
	assert_int_equal(vf->err.dma_faults, 1);
	assert_true(vf->txq[0].faulted);
	assert_int_equal(n_uplink, 0);
	/* Stopped: more tail writes do nothing until the ring is reprogrammed. */
	put_tx(1, TX_BUFS, sizeof(frame), true);
	nic_vf_write(vf, VF_TDT(0), 2);
	assert_int_equal(n_uplink, 0);

	/* A ring entirely outside guest memory. */
	nic_vf_write(vf, VF_TDBAL(0), 0x40000000);
	nic_vf_write(vf, VF_TDLEN(0), 1024);
	nic_vf_write(vf, VF_TDT(0), 3);
	assert_int_equal(vf->err.dma_faults, 2);

	/* An RX buffer pointing outside: the frame is not written anywhere. */
	setup_rx(vf, 8);
	((struct vf_rx_desc_read *)G(RX_RING_OF(vf)))[0].pkt_addr = GUEST_BASE + GUEST_SIZE;
	make_frame(frame, nic.slot[0].mac, 0x99, 0, sizeof(frame));
	nic_vf_receive(vf, frame, sizeof(frame), false);
	assert_int_equal(vf->err.dma_faults, 3);
	assert_true(vf->rxq[0].faulted);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(guest[GUEST_SIZE + i], 0x5a);

	/* The other VF is unaffected. */
	struct nic_vf *other = VF(1);
	driver_reset(other);
	setup_rx(other, 8);
	make_frame(frame, nic.slot[1].mac, 0x99, 0, sizeof(frame));
	nic_vf_receive(other, frame, sizeof(frame), false);
	assert_int_equal(nic_vf_read(other, VF_GPRC), 1);
	assert_int_equal(other->err.dma_faults, 0);
}

static void test_statistics_wrap_at_2_32(void **state)
{
	struct nic_vf *vf = VF(0);
	uint8_t frame[64];
	const uint8_t dst[6] = { 0x02, 0x99, 0, 0, 0, 1 };
	(void)state;
	driver_reset(vf);
	setup_tx(vf, 8);
	vf_reg_set(vf, VF_GPTC, 0xfffffffeu);
	vf_reg_set(vf, VF_GOTC, 0xffffffffu - 63);
	for (unsigned i = 0; i < 3; i++) {
		make_frame(G(TX_BUFS), dst, 0x10, i, sizeof(frame));
		put_tx(i, TX_BUFS, sizeof(frame), true);
	}
	nic_vf_write(vf, VF_TDT(0), 3);
	assert_int_equal(nic_vf_read(vf, VF_GPTC), 1);		/* 0xfffffffe + 3 */
	assert_int_equal(nic_vf_read(vf, VF_GOTC), 3 * 64 - 64);	/* 2^32 - 64 + 192 */
	/* Not cleared on read. */
	assert_int_equal(nic_vf_read(vf, VF_GPTC), 1);
}

/* ---- switch ---------------------------------------------------------------- */

static void test_veb_switching(void **state)
{
	uint8_t frame[80];
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t stranger[6] = { 0x02, 0x77, 0, 0, 0, 1 };
	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		driver_reset(VF(i));
		setup_rx(VF(i), 8);
	}
	/* VF0 -> VF1 unicast: switched inside, never on the uplink. */
	make_frame(frame, nic.slot[1].mac, 0x10, 1, sizeof(frame));
	assert_int_equal(veb_transmit(&nic, 0, frame, sizeof(frame)), VF_TX_LOOPBACK);
	assert_int_equal(n_uplink, 0);
	assert_int_equal(nic_vf_read(VF(1), VF_GPRC), 1);
	assert_int_equal(nic_vf_read(VF(1), VF_GPRLBC), 1);
	assert_int_equal(nic_vf_read(VF(2), VF_GPRC), 0);
	/* Broadcast: every other VF and the uplink, not back to the sender. */
	make_frame(frame, bcast, 0x10, 2, sizeof(frame));
	assert_int_equal(veb_transmit(&nic, 0, frame, sizeof(frame)), VF_TX_UPLINK);
	assert_int_equal(n_uplink, 1);
	assert_int_equal(nic_vf_read(VF(1), VF_GPRC), 2);
	assert_int_equal(nic_vf_read(VF(2), VF_GPRC), 1);
	assert_int_equal(nic_vf_read(VF(0), VF_GPRC), 0);
	/* Unknown unicast goes out. */
	make_frame(frame, stranger, 0x10, 3, sizeof(frame));
	assert_int_equal(veb_transmit(&nic, 0, frame, sizeof(frame)), VF_TX_UPLINK);
	assert_int_equal(n_uplink, 2);
	/* From the uplink: unicast to its VF only; broadcast to all;
	 * unknown unicast dropped and counted. */
	make_frame(frame, nic.slot[2].mac, 0x99, 4, sizeof(frame));
	veb_from_uplink(&nic, frame, sizeof(frame));
	assert_int_equal(nic_vf_read(VF(2), VF_GPRC), 2);
	assert_int_equal(nic_vf_read(VF(2), VF_GPRLBC), 1);	/* only the earlier broadcast */
	make_frame(frame, bcast, 0x99, 5, sizeof(frame));
	veb_from_uplink(&nic, frame, sizeof(frame));
	assert_int_equal(nic_vf_read(VF(0), VF_GPRC), 1);
	assert_int_equal(nic_vf_read(VF(1), VF_GPRC), 3);
	make_frame(frame, stranger, 0x99, 6, sizeof(frame));
	veb_from_uplink(&nic, frame, sizeof(frame));
	assert_int_equal(nic.ctr.uplink_rx_unmatched, 1);
	/* A VF whose driver has not done the handshake receives nothing. */
	nic_vf_write(VF(2), VF_CTRL, VF_CTRL_RST);
	make_frame(frame, nic.slot[2].mac, 0x99, 7, sizeof(frame));
	veb_from_uplink(&nic, frame, sizeof(frame));
	assert_int_equal(nic.ctr.uplink_rx_unmatched, 2);
}

static void test_line_rate_token_bucket(void **state)
{
	struct token_bucket tb;
	(void)state;
	token_bucket_init(&tb, 1000000000ull, 0);	/* 1 Gbit/s = 125 MB/s */
	uint64_t sent = 0;
	while (token_bucket_take(&tb, 1538, 0))
		sent += 1538;
	assert_true(sent <= (uint64_t)tb.burst_bytes);
	assert_true(sent > (uint64_t)tb.burst_bytes - 1538);
	assert_false(token_bucket_take(&tb, 1538, 0));
	uint64_t at = token_bucket_ready_at(&tb, 1538, 0);
	assert_true(at > 0 && at <= 1538ull * 8 + 1);	/* ns for 1538 bytes at 1 Gbit/s */
	assert_true(token_bucket_take(&tb, 1538, at));
	/* Over one simulated second, no more than the rate (+ one burst). */
	uint64_t total = 0;
	for (uint64_t t = at; t < at + 1000000000ull; t += 10000)
		while (token_bucket_take(&tb, 1538, t))
			total += 1538;
	assert_true(total <= 125000000ull + (uint64_t)tb.burst_bytes);
	assert_true(total >= 124000000ull);

	/* Ingress pays after the fact: a charge may leave a debt, and the
	 * port is ready again only when the debt is paid. */
	token_bucket_init(&tb, 1000000000ull, 0);
	token_bucket_charge(&tb, (uint64_t)tb.burst_bytes + 125000, 0);	/* 1 ms worth of debt */
	assert_true(tb.tokens < 0);
	uint64_t paid = token_bucket_ready_at(&tb, 0, 0);
	assert_true(paid >= 999000 && paid <= 1001000);
	token_bucket_charge(&tb, 0, paid);
	assert_true(tb.tokens >= 0);
}

static void test_tx_waits_for_line_credit(void **state)
{
	struct nic_vf *vf = VF(0);
	uint8_t frame[1500];
	const uint8_t dst[6] = { 0x02, 0x99, 0, 0, 0, 1 };
	(void)state;
	token_bucket_init(&nic.egress, 1000000000ull, fake_now);
	driver_reset(vf);
	setup_tx(vf, 128);
	make_frame(G(TX_BUFS), dst, 0x10, 0, sizeof(frame));
	for (unsigned i = 0; i < 100; i++)
		put_tx(i, TX_BUFS, sizeof(frame), true);
	nic_vf_write(vf, VF_TDT(0), 100);
	unsigned first = n_uplink;
	assert_true(first > 0 && first < 100);		/* the burst went, the rest waits */
	assert_true(vf->tx_stalled);
	assert_int_equal(nic_vf_read(vf, VF_TDH(0)), first);	/* nothing dropped, nothing skipped */
	for (int i = 0; i < 1000 && n_uplink < 100; i++) {
		fake_now += 100000;	/* 100 us: ~8 frames of credit */
		nic_service(&nic);
	}
	assert_int_equal(n_uplink, 100);
	assert_int_equal(nic_vf_read(vf, VF_GPTC), 100);
}

static void test_pf_disable_holds_rx(void **state)
{
	struct nic_vf *vf = VF(0);
	uint8_t frame[100];
	(void)state;
	driver_reset(vf);
	setup_rx(vf, 8);
	assert_int_equal(nic_pf_set_enabled(&nic, 0, false), 0);
	make_frame(frame, nic.slot[0].mac, 0x99, 0, sizeof(frame));
	nic_vf_receive(vf, frame, sizeof(frame), false);
	nic_vf_receive(vf, frame, sizeof(frame), false);
	assert_int_equal(nic_vf_read(vf, VF_GPRC), 0);	/* held, not written */
	assert_int_equal(vf->fifo_count, 2);
	nic_pf_set_enabled(&nic, 0, true);
	assert_int_equal(nic_vf_read(vf, VF_GPRC), 2);
	assert_int_equal(vf->fifo_count, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_table_is_sorted_and_complete),
		T(test_rw_registers_keep_writable_bits),
		T(test_ro_wo_rc_classes),
		T(test_ctrl_rst_self_clears_and_resets),
		T(test_eicr_eims_eiac_interplay),
		T(test_throttling),
		T(test_mailbox_nack_before_cts_then_handshake),
		T(test_mailbox_host_locked_mac),
		T(test_mailbox_vfu_arbitration),
		T(test_mailbox_mac_of_another_vf_refused),
		T(test_dma_map_fd_needs_sealed_memory),
		T(test_tx_ring_wrap_and_write_back),
		T(test_rx_ring_wrap_and_fifo),
		T(test_rx_drops_when_buffer_full),
		T(test_dma_fault_stops_queue_and_touches_nothing),
		T(test_statistics_wrap_at_2_32),
		T(test_veb_switching),
		T(test_line_rate_token_bucket),
		T(test_tx_waits_for_line_credit),
		T(test_pf_disable_holds_rx),
	};
	return cmocka_run_group_tests_name("nic_vf", tests, NULL, NULL);
}
