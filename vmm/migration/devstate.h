/* Device-state registry: how a device takes part in migration without the
 * engine knowing it.
 *
 * A device registers {name, version, save, load, activate} once at
 * creation. Its migratable state is a plain, versioned struct of its own
 * (fixed-size little-endian fields, no pointers): save() fills it, load()
 * checks every field and applies it through the same path as a fresh start.
 * The engine sends the list of {name, version} at reservation (a device the
 * destination lacks, or with a version it cannot load, fails the
 * migration there) and one DEVICE record per device at stop-and-copy.
 *
 * virtio-net, the VF and the CompSC shared area plug in the same way. */
#ifndef CSC_VMM_MIG_DEVSTATE_H
#define CSC_VMM_MIG_DEVSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"

#define MIG_DEV_STATE_MAX 65536

struct mig_device_ops {
	const char *name;	/* [a-z0-9_-], < 32 characters */
	uint32_t version;	/* of the state struct; bump on any change */
	uint32_t min_load_version;	/* oldest version load() accepts */
	/* Source, vCPUs paused: writes at most cap bytes, sets *len. A device
	 * that writes guest memory here calls vm_mark_dirty. */
	int (*save)(void *opaque, uint8_t *buf, size_t cap, size_t *len);
	/* Destination, before activation: buf is untrusted; returns -errno
	 * with a reason in err, and must then leave the device unchanged. */
	int (*load)(void *opaque, uint32_t version, const uint8_t *buf, size_t len, char *err,
		    size_t errlen);
	/* Destination, just before the vCPUs run (may be NULL). */
	void (*activate)(void *opaque);
};

struct mig_registry {
	unsigned n;
	struct {
		const struct mig_device_ops *ops;
		void *opaque;
	} dev[MIG_MAX_DEVICES];
};

int mig_registry_add(struct mig_registry *r, const struct mig_device_ops *ops, void *opaque);
/* -1 if absent. */
int mig_registry_find(const struct mig_registry *r, const char *name);
/* Fills the reservation's device list. */
void mig_registry_describe(const struct mig_registry *r, struct mig_reserve *res);
/* Destination: can every device the source lists be received here?
 * Returns 0 or -ENODEV/-EPROTO with the reason. */
int mig_registry_check(const struct mig_registry *r, const struct mig_reserve *res, char *err,
		       size_t errlen);

#endif
