/* The device model: one device, one ops table, one registry.
 *
 * Every device of the VMM (the platform device, the VF attachment,
 * virtio-net, the migration test device) implements struct device_ops and
 * is created through vm_device_create(), which calls create, publishes the
 * device in the guest's boot information and adds it to the VM's registry.
 * From then on the VM goes through the registry for everything: pause and
 * resume (back-ends stop writing guest memory while the VM is paused),
 * migration (describe, save, load, activate), and teardown (destroy, in the
 * reverse order of creation).
 *
 * Migratable state is a device's own plain, versioned byte layout
 * (fixed-size little-endian fields, no pointers): save() fills it, load()
 * checks every field before it changes anything. A device without state
 * (save == NULL) takes no part in migration. The engine sends the list of
 * {name, version} at reservation (a device the destination lacks, or with
 * a version it cannot load, fails the migration there) and one DEVICE
 * record per device at stop-and-copy. Devices are created in a fixed order
 * on a fresh boot and on --incoming alike, so their MMIO windows, vectors
 * and names match on both ends. */
#ifndef CSC_VMM_DEVICE_H
#define CSC_VMM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bootinfo.h"
#include "migration/stream.h"

struct vm;
struct mig_carried;

/* A device's state fills one DEVICE record (CompSC's VF: up to ~170
 * full-size frames held during the downtime). */
#define DEV_STATE_MAX (MIG_MAX_BODY - MIG_DEVICE_HDR_LEN)
#define DEV_MAX MIG_MAX_DEVICES
#define DEV_NAME_LEN MIG_DEV_NAME_LEN

struct device_ops {
	const char *name;	/* [a-z0-9_-]; with `numbered`, the instance follows */
	bool numbered;		/* several instances: "virtio-net0", "virtio-net1" */
	uint32_t version;	/* of the state layout; bump on any change */
	uint32_t min_load_version;	/* oldest version load() accepts */

	/* Main thread, at VM set-up: claims MMIO, vectors, back-ends; fills
	 * *boot (the device-table entry the guest sees). NULL with the reason
	 * in err on failure, nothing left behind. */
	void *(*create)(struct vm *vm, const void *config, unsigned instance, struct csc_boot_dev *boot,
			char *err, size_t errlen);
	void (*destroy)(void *dev);
	/* With the VM's first pause / last resume: a back-end thread stops /
	 * starts (optional). Called with the vCPUs parked. */
	void (*pause)(void *dev);
	void (*resume)(void *dev);
	/* Source, vCPUs paused: writes at most cap bytes, sets *len. A device
	 * that writes guest memory here calls vm_mark_dirty. NULL: no state.
	 * On failure -errno with the reason in err (it ends in the
	 * migration's report). */
	int (*save)(void *dev, uint8_t *buf, size_t cap, size_t *len, char *err, size_t errlen);
	/* Destination, before activation: buf is untrusted; returns -errno
	 * with a reason in err, and must then leave the device unchanged. */
	int (*load)(void *dev, uint32_t version, const uint8_t *buf, size_t len, char *err, size_t errlen);
	/* Destination, just before the vCPUs run (optional). */
	void (*activate)(void *dev);
	/* Destination, right after the vCPUs started (optional): what need
	 * not hold them back, so is not part of the downtime. */
	void (*running)(void *dev);

	/* Source, optional, for devices the guest drives itself (CompSC):
	 * migrate_begin at pre-migration; migrate_quiesce just before the
	 * vCPUs pause (may refuse: the migration then fails, the VM keeps
	 * running); migrate_abort when the migration fails before
	 * commitment, before the vCPUs resume. */
	void (*migrate_begin)(void *dev);
	/* Source, after the destination is READY and before COMMIT (optional,
	 * destinations with feature "late" only): state that must be taken as
	 * late as possible (CompSC: frames held at the source until the
	 * destination announced the VM). Destination: late_load adds it. */
	int (*late_save)(void *dev, uint8_t *buf, size_t cap, size_t *len);
	int (*late_load)(void *dev, const uint8_t *buf, size_t len, char *err, size_t errlen);
	int (*migrate_quiesce)(void *dev, char *err, size_t errlen);
	void (*migrate_abort)(void *dev);
	/* Source, after save and again after late_save (optional): adds what
	 * this device carries across the downtime to *c, for the report. */
	void (*migrate_carried)(void *dev, struct mig_carried *c);
};

struct device_entry {
	const struct device_ops *ops;
	void *dev;
	char name[DEV_NAME_LEN];
};

struct device_registry {
	unsigned n;
	struct device_entry dev[DEV_MAX];
};

/* Adds a device under name (ops->name, plus the instance when numbered).
 * -EINVAL for a bad or duplicate name, -ENOSPC when full. */
int device_registry_add(struct device_registry *r, const struct device_ops *ops, void *dev, unsigned instance);
/* Index of the device with this name, -1 if absent. */
int device_registry_find(const struct device_registry *r, const char *name);
/* Whether the device takes part in migration (has state). */
static inline bool device_migrates(const struct device_entry *e)
{
	return e->ops->save != NULL;
}
/* Fills the reservation's device list (migrating devices only). */
void device_registry_describe(const struct device_registry *r, struct mig_reserve *res);
/* Destination: can every device the source lists be received here, and
 * does every migrating device here get state? 0 or -ENODEV/-EPROTO with
 * the reason. */
int device_registry_check(const struct device_registry *r, const struct mig_reserve *res, char *err,
			  size_t errlen);

/* The first check of every load(): a state version this device loads, of
 * the size that version has? 0, or -EPROTO with the reason. */
int device_check_version(const struct device_ops *ops, uint32_t version, size_t len, size_t want_len, char *err,
			 size_t errlen);

#endif
