/* Intel 82576 virtual function: register offsets, bits, descriptor and
 * mailbox formats. Shared by the NIC model (nic/), the guest driver
 * (guest/drivers/igbvf) and the tests. Facts from the 82576 datasheet, summarised in docs/nic.md
 * sections 1-3; deviations are documented in docs/nic.md. */
#ifndef CSC_COMMON_VF82576_H
#define CSC_COMMON_VF82576_H

#include <stdint.h>

#define VF_BAR0_SIZE		0x4000u	/* 16 KiB */
#define VF_NUM_QUEUES		2
#define VF_NUM_VECTORS		3	/* MSI-X: TX0, RX0, other (igbvf's use) */
#define VF_PCI_VENDOR		0x8086
#define VF_PCI_DEVICE		0x10ca	/* 82576 virtual function */

/* General */
#define VF_CTRL			0x0000
#define VF_CTRL_RST		(1u << 26)	/* self-clearing VF reset */
#define VF_STATUS		0x0008
#define VF_STATUS_FD		(1u << 0)
#define VF_STATUS_LU		(1u << 1)
#define VF_STATUS_TXOFF		(1u << 4)
#define VF_STATUS_SPEED_1000	(2u << 6)
#define VF_FRTIMER		0x1048

/* Interrupts: one EICR bit per MSI-X vector (bits 2:0). */
#define VF_EICS			0x1520
#define VF_EIMS			0x1524
#define VF_EIMC			0x1528
#define VF_EIAC			0x152c
#define VF_EIAM			0x1530
#define VF_EICR			0x1580
#define VF_EITR(n)		(0x1680 + 4 * (n))
#define VF_EITR_INTERVAL_MASK	0x7ffeu		/* x 256 ns */
#define VF_EITR_CNT_IGNR	(1u << 31)
#define VF_IVAR0		0x1700
#define VF_IVAR_MISC		0x1740
#define VF_IVAR_VALID		0x80u
#define VF_EICR_MASK		((1u << VF_NUM_VECTORS) - 1)

/* Mailbox */
#define VF_V2PMAILBOX		0x0c40
#define VF_MBX_REQ		0x01u	/* VF -> PF message ready */
#define VF_MBX_ACK		0x02u	/* VF acks a PF message */
#define VF_MBX_VFU		0x04u	/* VF owns the buffer */
#define VF_MBX_PFU		0x08u	/* PF owns the buffer */
#define VF_MBX_PFSTS		0x10u	/* PF wrote a message (read-to-clear) */
#define VF_MBX_PFACK		0x20u	/* PF acked the VF's message (read-to-clear) */
#define VF_MBX_RSTI		0x40u	/* PF reset in progress */
#define VF_MBX_RSTD		0x80u	/* reset done (read-to-clear) */
#define VF_VMBMEM		0x0800
#define VF_VMBMEM_WORDS		16

/* Mailbox message word 0 */
#define VF_MSG_TYPE_MASK	0x0000ffffu
#define VF_MSG_INFO_SHIFT	16
#define VF_MSG_INFO_MASK	0x00ff0000u
#define VF_MSG_ACK		0x80000000u
#define VF_MSG_NACK		0x40000000u
#define VF_MSG_CTS		0x20000000u
#define VF_MSG_RESET		0x01
#define VF_MSG_SET_MAC_ADDR	0x02
#define VF_MSG_SET_MULTICAST	0x03
#define VF_MSG_SET_VLAN		0x04
#define VF_MSG_SET_LPE		0x05
#define VF_MSG_MAX_MC_HASHES	30

/* Queues n = 0, 1 */
#define VF_RDBAL(n)		(0x2800 + 0x100 * (n))
#define VF_RDBAH(n)		(0x2804 + 0x100 * (n))
#define VF_RDLEN(n)		(0x2808 + 0x100 * (n))
#define VF_SRRCTL(n)		(0x280c + 0x100 * (n))
#define VF_RDH(n)		(0x2810 + 0x100 * (n))
#define VF_RXCTL(n)		(0x2814 + 0x100 * (n))
#define VF_RDT(n)		(0x2818 + 0x100 * (n))
#define VF_RXDCTL(n)		(0x2828 + 0x100 * (n))
#define VF_RQDPC(n)		(0x2830 + 0x100 * (n))
#define VF_TDBAL(n)		(0x3800 + 0x100 * (n))
#define VF_TDBAH(n)		(0x3804 + 0x100 * (n))
#define VF_TDLEN(n)		(0x3808 + 0x100 * (n))
#define VF_TDH(n)		(0x3810 + 0x100 * (n))
#define VF_TXCTL(n)		(0x3814 + 0x100 * (n))
#define VF_TDT(n)		(0x3818 + 0x100 * (n))
#define VF_TXDCTL(n)		(0x3828 + 0x100 * (n))
#define VF_TDWBAL(n)		(0x3838 + 0x100 * (n))
#define VF_TDWBAH(n)		(0x383c + 0x100 * (n))
#define VF_QUEUE_ENABLE		(1u << 25)	/* RXDCTL / TXDCTL */
#define VF_SRRCTL_BSIZEPKT_MASK	0x7fu		/* KiB */
#define VF_SRRCTL_BSIZEHDR_MASK	0x3f00u
#define VF_SRRCTL_DESCTYPE_MASK	0x0e000000u
#define VF_SRRCTL_DESCTYPE_ADV_ONEBUF 0x02000000u
#define VF_SRRCTL_DROP_EN	(1u << 31)
#define VF_TDWBAL_ENABLE	1u

/* Statistics: RO, 32-bit, wrapping, not cleared on read. */
#define VF_GPRC			0x0f10
#define VF_GPTC			0x0f14
#define VF_GORC			0x0f18
#define VF_GOTC			0x0f34
#define VF_MPRC			0x0f3c
#define VF_GPRLBC		0x0f40
#define VF_GPTLBC		0x0f44
#define VF_GORLBC		0x0f48
#define VF_GOTLBC		0x0f50

/* IVAR cause bytes */
#define VF_IVAR_RX0_SHIFT	0
#define VF_IVAR_TX0_SHIFT	8
#define VF_IVAR_RX1_SHIFT	16
#define VF_IVAR_TX1_SHIFT	24

/* Advanced descriptors (16 bytes) */
struct vf_rx_desc_read {
	uint64_t pkt_addr;
	uint64_t hdr_addr;
};

struct vf_rx_desc_wb {
	uint32_t info;		/* RSS type / packet type: 0 here */
	uint32_t rss_hash;
	uint32_t status_error;	/* DD, EOP ...; errors 31:24 */
	uint16_t length;
	uint16_t vlan;
};

#define VF_RXD_STAT_DD		0x01u
#define VF_RXD_STAT_EOP		0x02u

struct vf_tx_desc {
	uint64_t buffer_addr;
	uint32_t cmd_type_len;
	uint32_t olinfo_status;
};

#define VF_TXD_LEN_MASK		0x0000ffffu
#define VF_TXD_DTYP_MASK	0x00f00000u
#define VF_TXD_DTYP_DATA	0x00300000u
#define VF_TXD_DTYP_CTXT	0x00200000u
#define VF_TXD_CMD_EOP		0x01000000u
#define VF_TXD_CMD_IFCS		0x02000000u
#define VF_TXD_CMD_RS		0x08000000u
#define VF_TXD_CMD_DEXT		0x20000000u
#define VF_TXD_STAT_DD		0x01u
#define VF_TXD_PAYLEN_SHIFT	14

_Static_assert(sizeof(struct vf_rx_desc_read) == 16, "RX descriptor is 16 bytes");
_Static_assert(sizeof(struct vf_rx_desc_wb) == 16, "RX write-back is 16 bytes");
_Static_assert(sizeof(struct vf_tx_desc) == 16, "TX descriptor is 16 bytes");

#endif
