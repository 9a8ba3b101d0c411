/* virtio-net: the para-virtual NIC of the VM, a TAP device behind the
 * virtio-mmio transport (mmio.h). Files:
 *
 *   mmio.c       the transport: registers, interrupt, kicks (any device)
 *   net.c        the device: identity, configuration space, life cycle,
 *                pause and migration hooks
 *   net_tap.c    the back-end: TAP reads and writes and all queue
 *                processing, on its own thread (vCPU threads only touch
 *                registers)
 *   net_state.c  the migratable state
 *   ../options.c the --net option
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

/* From --net tap:NAME[,mac=MAC] (virtio_net_parse, options.h). */
struct virtio_net_opts {
	char tap[16];		/* IFNAMSIZ */
	uint8_t mac[6];
	int has_mac;
};

/* The device (device.h): vm_device_create(vm, &virtio_net_device_ops,
 * &opts, instance, ...) creates and registers it. */
struct device_ops;
extern const struct device_ops virtio_net_device_ops;

/* Opens the TAP device, claims the next free MMIO window, an MSI vector with
 * its irqfd, the ioeventfds, and starts the back-end thread. NULL on failure
 * (logged). Not registered: vm_device_create does that. */
struct virtio_net *virtio_net_create(struct vm *vm, const struct virtio_net_opts *o, unsigned instance);
void virtio_net_destroy(struct virtio_net *n);

uint64_t virtio_net_mmio_base(const struct virtio_net *n);
uint64_t virtio_net_mmio_len(const struct virtio_net *n);
uint32_t virtio_net_irq_vector(const struct virtio_net *n);

/* Migratable state (net_state.c has the byte layout): the migration engine
 * saves it at stop-and-copy (vCPUs stopped) and loads it into a freshly
 * created device on the destination before the vCPUs run.
 * Version 2: fixed-size little-endian fields (version 1 was a copy of a
 * host struct; it is not loaded). */
#define VIRTIO_NET_STATE_VERSION 2
#define VIRTIO_NET_STATE_LEN 116u

/* Writes VIRTIO_NET_STATE_LEN bytes; -ENOSPC if cap is smaller. */
int virtio_net_save_state(struct virtio_net *n, uint8_t *buf, size_t cap, size_t *len);
/* Loads state from the network (untrusted): every field is checked as if
 * the guest had written it, all before anything changes; then the device
 * stays quiet until it is resumed (activation). 0, or -EPROTO (version or
 * size) / -EINVAL (contents) with the reason in err, and the device exactly
 * as it was. */
int virtio_net_load_state(struct virtio_net *n, uint32_t version, const uint8_t *buf, size_t len, char *err,
			  size_t errlen);

struct virtio_net_stats {
	uint64_t rx_packets, rx_bytes, rx_no_buffer;
	uint64_t tx_packets, tx_bytes, tx_errors;
	uint64_t kicks, interrupts;
};
void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *st);

#endif
