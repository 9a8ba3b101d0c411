/* virtio 1.x over MMIO: register map (version 2 layout), split virtqueue
 * structures and the network device's header and configuration. Shared by
 * the VMM's device model and the guest's driver (freestanding: no libc).
 * Facts from the virtio 1.1 specification, sections 2.6, 4.2 and 5.1.
 *
 * Split virtqueue of size N in guest memory (all little-endian):
 *
 *   descriptor table  16 B x N, 16-byte aligned   {addr, len, flags, next}
 *   available ring    2-byte aligned  {flags, idx, ring[N], used_event}
 *   used ring         4-byte aligned  {flags, idx, ring[N]{id,len}, avail_event}
 *
 * The driver owns the descriptor table and the available ring; the device
 * owns the used ring. With VIRTIO_RING_F_EVENT_IDX, used_event (written by
 * the driver) says at which used index the driver wants its next interrupt
 * and avail_event (written by the device) at which available index the
 * device wants its next notification.
 */
#ifndef CSC_COMMON_VIRTIO_H
#define CSC_COMMON_VIRTIO_H

#include <stdint.h>

/* virtio-mmio registers (offsets in the device's MMIO window). */
#define VIRTIO_MMIO_MAGIC_VALUE		0x000	/* "virt" */
#define VIRTIO_MMIO_VERSION		0x004	/* 2 */
#define VIRTIO_MMIO_DEVICE_ID		0x008
#define VIRTIO_MMIO_VENDOR_ID		0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES	0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL	0x014
#define VIRTIO_MMIO_DRIVER_FEATURES	0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL	0x024
#define VIRTIO_MMIO_QUEUE_SEL		0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX	0x034
#define VIRTIO_MMIO_QUEUE_NUM		0x038
#define VIRTIO_MMIO_QUEUE_READY		0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY	0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS	0x060
#define VIRTIO_MMIO_INTERRUPT_ACK	0x064
#define VIRTIO_MMIO_STATUS		0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW	0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH	0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW	0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH	0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW	0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH	0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION	0x0fc
#define VIRTIO_MMIO_CONFIG		0x100

#define VIRTIO_MMIO_MAGIC		0x74726976u
#define VIRTIO_MMIO_VERSION_2		2
#define VIRTIO_ID_NET			1
#define VIRTIO_VENDOR_COMPSC		0x43534321u

/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING		1u
#define VIRTIO_MMIO_INT_CONFIG		2u

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE	1u
#define VIRTIO_STATUS_DRIVER		2u
#define VIRTIO_STATUS_DRIVER_OK		4u
#define VIRTIO_STATUS_FEATURES_OK	8u
#define VIRTIO_STATUS_NEEDS_RESET	64u
#define VIRTIO_STATUS_FAILED		128u

/* Feature bits. */
#define VIRTIO_NET_F_MAC		5
#define VIRTIO_NET_F_STATUS		16
#define VIRTIO_RING_F_INDIRECT_DESC	28
#define VIRTIO_RING_F_EVENT_IDX		29
#define VIRTIO_F_VERSION_1		32

#define VIRTIO_NET_S_LINK_UP		1u

/* Split virtqueue. */
#define VIRTQ_DESC_F_NEXT		1u
#define VIRTQ_DESC_F_WRITE		2u
#define VIRTQ_DESC_F_INDIRECT		4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT	1u
#define VIRTQ_USED_F_NO_NOTIFY		1u

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];	/* then: uint16_t used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];	/* then: uint16_t avail_event */
};

static inline uint64_t virtq_desc_size(unsigned n) { return 16ull * n; }
static inline uint64_t virtq_avail_size(unsigned n) { return 6ull + 2ull * n; }
static inline uint64_t virtq_used_size(unsigned n) { return 6ull + 8ull * n; }

/* The event-index rule (spec 2.6.7.2): notify when new_idx has moved past
 * event_idx since old_idx, all modulo 2^16. */
static inline int virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/* Network device. Queue 0 receives, queue 1 transmits. With VERSION_1 the
 * header is always 12 bytes (num_buffers included). */
#define VIRTIO_NET_Q_RX			0
#define VIRTIO_NET_Q_TX			1

struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

struct virtio_net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
};

_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc layout");
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio_net_hdr layout");

#endif
