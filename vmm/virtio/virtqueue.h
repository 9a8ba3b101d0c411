/* Device side of a split virtqueue (common/virtio.h), written so that it
 * can be unit-tested without KVM: guest memory is a plain {base, size}
 * window plus a dirty-marking callback.
 *
 * Trust boundary: everything in the rings is written by the guest at any
 * time. Each descriptor is copied once and then validated; indices, lengths,
 * chain length (no loops) and every buffer address are checked against guest
 * RAM before use. A malformed chain is reported as -EPROTO and the caller
 * marks the device broken (DEVICE_NEEDS_RESET); nothing here aborts.
 *
 * Every write the device makes into guest memory (used ring, avail_event,
 * received data) is reported to mark_dirty, because writes by the VMM process
 * are not in KVM's dirty log. */
#ifndef CSC_VMM_VIRTQUEUE_H
#define CSC_VMM_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../../common/virtio.h"

#define VQ_MAX_SIZE 1024
#define VQ_MAX_CHAIN 64		/* longer chains are treated as malformed */

struct vq_mem {
	uint8_t *base;		/* host address of guest-physical 0 */
	uint64_t size;		/* bytes of guest RAM from 0 */
	void (*mark_dirty)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;
};

/* One popped descriptor chain, split into device-readable (out) and
 * device-writable (in) buffers, each an iovec into guest memory. */
struct vq_chain {
	uint16_t head;
	unsigned n_out, n_in;
	size_t out_len, in_len;
	struct iovec out[VQ_MAX_CHAIN];
	struct iovec in[VQ_MAX_CHAIN];
	uint64_t in_gpa[VQ_MAX_CHAIN];	/* for dirty marking */
};

struct virtqueue {
	/* Configuration written by the driver through the transport. */
	uint16_t num;		/* queue size, power of two <= VQ_MAX_SIZE */
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */

	/* Device-side progress: what migration must carry. */
	uint16_t last_avail;	/* next available entry to consume */
	uint16_t used_idx;	/* next used entry to fill (published in used->idx) */
	uint16_t signalled_used;	/* used_idx at the last interrupt */
	bool signalled_valid;

	/* Derived by vq_activate(), valid while `active`. */
	bool active;
	const struct vq_mem *mem;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t *used_event;	/* in the available ring */
	uint16_t *avail_event;	/* in the used ring */
};

/* Forgets everything (device reset). */
void vq_reset(struct virtqueue *vq);
/* Validates size, alignment and that the three areas lie in guest RAM;
 * on success the queue can be used. -EINVAL otherwise. */
int vq_activate(struct virtqueue *vq, const struct vq_mem *mem);

/* Entries the driver has made available and the device has not consumed;
 * -EPROTO if the driver's index is more than `num` ahead (malformed). */
int vq_avail_count(struct virtqueue *vq);
/* Pops the next chain: 1 popped, 0 nothing available, -EPROTO malformed
 * (bad head, index, address, length, flags, or a chain that is too long or
 * loops). */
int vq_pop(struct virtqueue *vq, struct vq_chain *chain);
/* Gives back the last popped chain (e.g. no packet to put in it). */
void vq_unpop(struct virtqueue *vq);
/* Returns a chain to the driver with `len` bytes written; the used index
 * becomes visible at vq_publish(). */
void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len);
void vq_publish(struct virtqueue *vq);
/* After vq_publish: should the device interrupt the driver? Honours
 * EVENT_IDX (used_event) or VIRTQ_AVAIL_F_NO_INTERRUPT. */
bool vq_should_notify(struct virtqueue *vq);
/* Asks the driver to notify (kick) when it adds anything after what the
 * device has consumed; returns true if more is already available (the
 * caller must process again instead of sleeping). */
bool vq_enable_kicks(struct virtqueue *vq);
/* Tells the driver that kicks are not needed while the device is busy. */
void vq_disable_kicks(struct virtqueue *vq);

/* Copies into the writable part of a chain (marks the pages dirty);
 * returns the bytes copied. */
size_t vq_chain_write(const struct virtqueue *vq, const struct vq_chain *c, size_t off,
		      const void *src, size_t len);
/* Marks [off, off + len) of the writable part dirty (after readv into it). */
void vq_chain_mark_written(const struct virtqueue *vq, const struct vq_chain *c, size_t off, size_t len);

#endif
