/* Guest driver for the virtio-net device over virtio-mmio (common/virtio.h).
 * Independent of the network stack: frames in, frames out.
 *
 * Hot path without register access: transmit adds to the available ring and
 * kicks at most once per vnet_flush() (and only when the device asked for
 * it, VIRTIO_RING_F_EVENT_IDX); receive and transmit completions are found by
 * polling the used rings in memory. Interrupts (an MSI, counted by the
 * ring-0 stub) are requested only before the guest goes to sleep. */
#ifndef GUEST_DRIVERS_VIRTIO_NET_H
#define GUEST_DRIVERS_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/bootinfo.h"
#include "../../common/virtio.h"

#define VNET_QUEUE_SIZE 256
#define VNET_BUF_SIZE 2048	/* header + a 1514-byte frame, rounded */
#define VNET_MAX_FRAME (VNET_BUF_SIZE - sizeof(struct virtio_net_hdr))

struct vnet_ring {
	uint16_t num;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	volatile uint16_t *used_event;	/* ours to write */
	volatile uint16_t *avail_event;	/* the device's */
	uint16_t avail_idx;		/* shadow of avail->idx */
	uint16_t kicked_idx;		/* avail_idx at the last kick */
	uint16_t last_used;
	uint8_t *bufs;			/* num x VNET_BUF_SIZE, buffer i <-> descriptor i */
};

struct vnet_stats {
	uint64_t rx_packets, rx_bytes, rx_bad;
	uint64_t tx_packets, tx_bytes, tx_full;
	uint64_t kicks, sleeps;
};

struct vnet_dev {
	unsigned instance;
	volatile uint32_t *regs;
	uint32_t vector;
	uint8_t mac[6];
	bool event_idx;
	bool broken;
	struct vnet_ring rx, tx;
	uint16_t tx_free[VNET_QUEUE_SIZE];
	unsigned n_tx_free;
	struct vnet_stats st;
};

/* Resets and initialises the device (spec 3.1.1); 0 or -errno. */
int vnet_init(struct vnet_dev *v, const struct csc_boot_dev *d);

/* Receives up to `budget` frames: fn(arg, frame, len) for each, buffers are
 * given back right after. Also reaps transmit completions. Returns frames. */
typedef void (*vnet_rx_fn)(void *arg, const uint8_t *frame, size_t len);
unsigned vnet_poll(struct vnet_dev *v, unsigned budget, vnet_rx_fn fn, void *arg);

/* Transmit: a buffer for one frame (VNET_MAX_FRAME bytes), NULL when the
 * ring is full even after reaping; then vnet_tx_commit(len). */
uint8_t *vnet_tx_buffer(struct vnet_dev *v);
void vnet_tx_commit(struct vnet_dev *v, size_t len);
/* Kicks the device if it waits for one (batched: once per main-loop pass). */
void vnet_flush(struct vnet_dev *v);

/* Before sleeping: asks for an interrupt on the next received frame (and
 * transmit completion when the ring is full). Returns true if work is
 * already there (do not sleep). */
bool vnet_arm_interrupt(struct vnet_dev *v);

/* The device reported DEVICE_NEEDS_RESET (reads the status register: only
 * call it off the hot path). */
bool vnet_needs_reset(struct vnet_dev *v);

#endif
