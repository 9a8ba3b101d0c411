/* The virtio-mmio transport (virtio 1.x, register layout version 2), apart
 * from any device: the register file, feature negotiation, the virtqueues'
 * configuration, the interrupt and the queue notifications. A device embeds
 * a struct virtio_mmio, fills in its identity and an ops table, and keeps
 * only what is its own (configuration space, back-end), as kvmtool's
 * virtio/mmio.c serves virtio/net.c.
 *
 * Differences from a textbook virtio-mmio device, on purpose:
 *  - Interrupts are MSIs (one vector, listed in the boot information and
 *    raised through a KVM irqfd), not a level-triggered pin. InterruptStatus
 *    and InterruptACK still behave as the spec says (bit 0: used buffers,
 *    bit 1: configuration change), but the guest need not read them: an
 *    edge MSI needs no acknowledgement, so the hot path has no register
 *    access at all.
 *  - QueueNotify is caught by a KVM ioeventfd per queue (datamatch on the
 *    queue index): a kick never leaves the kernel, it wakes the device's
 *    back-end through kick_fd[q]. Other values written there reach the MMIO
 *    handler, which treats them as a kick of that queue if it exists and
 *    logs otherwise.
 *
 * Locking: `lock` protects the registers and the virtqueues. The vCPU
 * thread takes it for each register access (virtio_mmio_access), the
 * device's back-end for each processing pass. Functions documented "lock
 * held" expect the caller to hold it. */
#ifndef CSC_VMM_VIRTIO_MMIO_H
#define CSC_VMM_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/log.h"
#include "virtqueue.h"

struct vm;

#define VIRTIO_MMIO_LEN 0x1000u		/* one window per device */
#define VIRTIO_MMIO_MAX_QUEUES 2

struct virtio_mmio_ops {
	/* Copies len bytes of the device's configuration space from off
	 * (relative to VIRTIO_MMIO_CONFIG) into data, which the transport has
	 * zeroed; bytes past the end stay 0. Read-only for the driver. Lock
	 * held. */
	void (*config_read)(void *dev, uint64_t off, uint8_t *data, uint32_t len);
	/* The driver changed what the back-end looks at (DRIVER_OK set, a
	 * queue made ready or not ready). Lock held: signal, never block. */
	void (*notify)(void *dev);
};

/* What a device says about itself at virtio_mmio_init. */
struct virtio_mmio_params {
	const char *name;	/* for messages: "<name><instance>: ..." */
	unsigned instance;
	uint32_t device_id;
	uint64_t features;	/* offered to the driver */
	uint16_t queue_max;	/* QueueNumMax */
	unsigned n_queues;	/* <= VIRTIO_MMIO_MAX_QUEUES */
	struct vq_mem mem;	/* guest RAM as the queues see it */
	const struct virtio_mmio_ops *ops;
	void *dev;		/* passed to the ops */
};

struct virtio_mmio {
	struct virtio_mmio_params p;

	pthread_mutex_t lock;
	/* Registers. */
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint64_t driver_features;
	uint32_t isr;		/* atomic: raised by the back-end, cleared by the driver */
	uint32_t config_generation;
	bool broken;		/* DEVICE_NEEDS_RESET: no processing until reset */
	struct virtqueue vq[VIRTIO_MMIO_MAX_QUEUES];

	/* KVM wiring (virtio_mmio_attach); fds are -1 until then. */
	struct vm *vm;
	uint64_t base;
	uint32_t irq_vector;
	int irq_gsi, irq_efd;
	int kick_fd[VIRTIO_MMIO_MAX_QUEUES];
	bool ioeventfd_on[VIRTIO_MMIO_MAX_QUEUES];
	bool on_bus;

	uint64_t interrupts;	/* raised so far (lock held) */
	struct ratelimit log_rl;
};

/* A device model without KVM: registers at reset, no window, no interrupt,
 * no notifications. Enough for unit tests; virtio_mmio_attach adds the
 * rest. */
void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_mmio_params *p);
/* Claims the next MMIO window, an MSI vector with its irqfd, an ioeventfd
 * per queue, and puts the registers on the bus. 0 or -errno (logged);
 * virtio_mmio_fini undoes a partial attach. */
int virtio_mmio_attach(struct virtio_mmio *t, struct vm *vm);
/* Takes the device off the bus and releases what attach claimed. */
void virtio_mmio_fini(struct virtio_mmio *t);

/* A guest access to the window (the bus handler; takes the lock). */
void virtio_mmio_access(void *t, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

/* Sets why (VIRTIO_MMIO_INT_*) in InterruptStatus and fires the MSI. Lock
 * held. */
void virtio_mmio_raise(struct virtio_mmio *t, uint32_t why);
/* The driver broke the rules on queue q (-1: none in particular): the
 * device stops processing until the driver resets it, as the spec's
 * DEVICE_NEEDS_RESET says. Lock held. */
void virtio_mmio_mark_broken(struct virtio_mmio *t, const char *what, int q);
/* DRIVER_OK, not broken, and every queue active. Lock held. */
bool virtio_mmio_live(const struct virtio_mmio *t);

/* Migratable transport state. Wire form (little-endian), at the start of
 * the device's state record:
 *
 *   0   u32 status            16  u64 driver_features
 *   4   u32 device_features_sel  24  u32 isr (bits 0-1)
 *   8   u32 driver_features_sel  28  u32 config_generation
 *   12  u32 queue_sel         32  u32 number of queues
 *   36  per queue, 36 bytes:
 *       0 u64 desc | 8 u64 avail | 16 u64 used | 24 u16 num | 26 u16 last_avail
 *       28 u16 used_idx | 30 u16 signalled_used | 32 u32 flags (bit 0 ready,
 *       bit 1 signalled_valid; the rest zero)
 */
#define VIRTIO_MMIO_STATE_HDR 36u
#define VIRTIO_MMIO_STATE_QUEUE 36u
size_t virtio_mmio_state_len(const struct virtio_mmio *t);

/* Writes virtio_mmio_state_len() bytes. Lock held. */
void virtio_mmio_save(const struct virtio_mmio *t, uint8_t *buf);

/* Decoded and checked state, ready to apply. */
struct virtio_mmio_loaded {
	uint32_t status, dev_features_sel, drv_features_sel, queue_sel, isr, config_generation;
	uint64_t driver_features;
	struct virtqueue vq[VIRTIO_MMIO_MAX_QUEUES];
};
/* Reads and checks state saved by virtio_mmio_save (untrusted: it came
 * over the network) as if each value came from the driver: features the
 * device offers, FEATURES_OK only with VERSION_1, ring addresses and sizes
 * of ready queues inside guest RAM, indices no further apart than the
 * ring. Changes nothing. 0, or -EINVAL with the reason in err. */
int virtio_mmio_check(const struct virtio_mmio *t, const uint8_t *buf, struct virtio_mmio_loaded *out, char *err,
		      size_t errlen);
/* Applies a checked state. Lock held. */
void virtio_mmio_apply(struct virtio_mmio *t, const struct virtio_mmio_loaded *in);

#endif
