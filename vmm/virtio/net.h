/* virtio-net over virtio-mmio (virtio 1.x, MMIO register layout version 2)
 * with a TAP back-end: the para-virtual NIC of the VM.
 *
 * Differences from a textbook virtio-mmio device, on purpose:
 *  - Interrupts are MSIs (one vector, listed in the boot information and
 *    raised through a KVM irqfd), not a level-triggered pin. InterruptStatus
 *    and InterruptACK still behave as the spec says (bit 0: used buffers,
 *    bit 1: configuration change), but the guest need not read them: an
 *    edge MSI needs no acknowledgement, so the hot path has no register
 *    access at all.
 *  - QueueNotify is caught by a KVM ioeventfd per queue (datamatch on the
 *    queue index): a kick never leaves the kernel. Other values written there
 *    reach the MMIO handler, which treats them as a kick of that queue if it
 *    exists and logs otherwise.
 *  - The back-end runs in its own thread: TAP reads and writes and all
 *    queue processing. vCPU threads only touch the registers.
 *
 * Offered features: VERSION_1, MAC, STATUS, RING_EVENT_IDX. No offloads, no
 * mergeable buffers, no indirect descriptors; each received frame goes into
 * one chain whose first 12 bytes are the (zeroed) virtio_net_hdr. */
#ifndef CSC_VMM_VIRTIO_NET_H
#define CSC_VMM_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct virtio_net;

#define VIRTIO_NET_MAX_DEVICES 4
#define VIRTIO_NET_QUEUE_SIZE 256

struct virtio_net_opts {
	char tap[16];		/* IFNAMSIZ */
	uint8_t mac[6];
	int has_mac;
};

/* Parses "tap:NAME[,mac=52:54:00:12:34:56]"; 0 or -EINVAL with a message. */
int virtio_net_parse(const char *spec, struct virtio_net_opts *o, char *err, size_t err_len);

/* Opens the TAP device, claims the next free MMIO window, an MSI vector with its irqfd, the ioeventfds, and starts the
 * back-end thread. NULL on failure (logged). */
struct virtio_net *virtio_net_create(struct vm *vm, const struct virtio_net_opts *o, unsigned instance);
void virtio_net_destroy(struct virtio_net *n);

uint64_t virtio_net_mmio_base(const struct virtio_net *n);
uint64_t virtio_net_mmio_len(const struct virtio_net *n);
uint32_t virtio_net_irq_vector(const struct virtio_net *n);

/* Migratable state: one plain, versioned struct. The migration engine saves
 * it at stop-and-copy (vCPUs stopped) and loads it into a freshly created
 * device on the destination before the vCPUs run. Loading validates every
 * field as if it came from the guest (it came over the network). */
#define VIRTIO_NET_STATE_VERSION 1

struct virtio_net_queue_state {
	uint64_t desc, avail, used;
	uint16_t num;
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t signalled_used;
	uint8_t ready;
	uint8_t signalled_valid;
	uint8_t pad[6];
};

struct virtio_net_state {
	uint32_t version;	/* VIRTIO_NET_STATE_VERSION */
	uint32_t status;
	uint64_t driver_features;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t isr;
	uint32_t config_generation;
	uint16_t link_status;
	uint8_t mac[6];
	struct virtio_net_queue_state q[2];
};

void virtio_net_save(struct virtio_net *n, struct virtio_net_state *s);
/* 0, or -EINVAL when the state is inconsistent (nothing changed then). */
int virtio_net_load(struct virtio_net *n, const struct virtio_net_state *s);

struct virtio_net_stats {
	uint64_t rx_packets, rx_bytes, rx_no_buffer;
	uint64_t tx_packets, tx_bytes, tx_errors;
	uint64_t kicks, interrupts;
};
void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *st);

#endif
