/* An SR-IOV VF attached to the VM through its vfio-user socket (--vf PATH).
 *
 * The VMM maps all guest RAM for the device's DMA (the memfd travels to the
 * NIC process, which writes guest memory directly: KVM's dirty log never
 * sees it, exactly as with an IOMMU), places BAR0 in the MMIO hole and
 * forwards accesses (writes posted, reads waited for), and wires the VF's
 * MSI-X vectors as eventfds straight into KVM irqfds: the NIC process
 * interrupts the guest without the VMM on the path. */
#ifndef CSC_VMM_VF_DEVICE_H
#define CSC_VMM_VF_DEVICE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bootinfo.h"
#include "vfio_user_client.h"

struct vm;

#define VF_DEVICE_MAX_VECTORS 8

/* A VF slot (hot-plug, vmm/hotplug.c): the MMIO window, vectors and
 * eventfds are the slot's and stay for the VM's life, so the guest's
 * device table never changes; the device behind them (the vfio-user
 * connection) comes and goes. An empty slot's BAR reads all ones. */
struct vf_device {
	struct vm *vm;
	atomic_bool present;	/* a device is attached (client connected) */
	char path[108];		/* its socket (or the one --vf-unplugged named) */
	struct vfu_client client;
	uint64_t mmio_base;
	uint64_t bar_size;
	uint32_t vector_base, n_vectors;
	int efd[VF_DEVICE_MAX_VECTORS];
	int gsi[VF_DEVICE_MAX_VECTORS];
	uint64_t reads, writes;

	/* CompSC (compsc_vf.c): the host's PF control socket and this VF's
	 * number there, and the migration's progress on this VF. */
	unsigned instance;
	char pf_path[108];
	int vf_index;
	bool csc_locked;	/* the shared area's write lock is held */
	bool csc_disabled;	/* the PF stopped the VF's queues */
	bool csc_announced;	/* destination: the VM's MAC announced at load */
	bool csc_have_mac;	/* source: mac read from the PF at pre-migration */
	uint8_t csc_mac[6];
	uint8_t *held_blob;	/* frames held during the downtime (heldq blob) */
	size_t held_blob_len;
	uint8_t *late_blob;	/* frames held until the destination announced the VM */
	size_t late_blob_len;
	uint32_t held_out, held_dropped;
	uint32_t tx_unsent;	/* TX descriptors posted, not sent, at the stop */
	int stop_fd;		/* source: the stop batch sent at quiesce, replies unread (-1 none) */
};

/* Connects and sets up everything; on failure returns NULL with a one-line
 * reason in err. `boot` receives the device-table entry to publish. */
struct vf_device *vf_device_attach(struct vm *vm, const char *path, unsigned instance, uint64_t mmio_base,
				   struct csc_boot_dev *boot, char *err, size_t err_len);
void vf_device_detach(struct vf_device *d);

/* Hot-plug, main thread. plug: connects the VF at path into the empty
 * slot d (same BAR size and vector count as the slot), DMA-maps RAM,
 * wires the slot's eventfds; 0 or -errno with the reason (-EBUSY: the
 * slot is full; a VF in use by another VMM refuses the connection).
 * unplug: detaches (pauses the vCPUs briefly); the NIC resets the VF. */
int vf_device_plug(struct vf_device *d, const char *path, char *err, size_t err_len);
void vf_device_unplug(struct vf_device *d);
/* The VF slot with this instance number, or NULL. */
struct vf_device *vm_find_vf(struct vm *vm, unsigned instance);

/* vm_device_create's config for vf_device_ops: --vf PATH, or
 * --vf-unplugged PATH (the slot is reserved, its device plugged later
 * with device-add). */
struct vf_slot_config {
	const char *path;
	bool unplugged;
};

/* The device (device.h): vm_device_create(vm, &vf_device_ops, &slot_config,
 * instance, ...) attaches and registers it. */
struct device_ops;
extern const struct device_ops vf_device_ops;

#endif
