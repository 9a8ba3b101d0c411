/* The hot-plug controller of the platform device (registers HOTPLUG_REQ,
 * HOTPLUG_ACK, HOTPLUG_PRESENT in common/platform_regs.h), for VF slots.
 *
 *   eject (device-del)                    insert (device-add)
 *   post EJECT, raise the platform irq    plug the VF into the empty slot
 *   guest: stop DMA, release, ACK         post INSERT, raise the platform irq
 *   detach (vf_device_unplug)             guest: probe, use it, ACK
 *   done                                  done
 *
 * One request at a time. A request the guest does not acknowledge within
 * its timeout is withdrawn (HOTPLUG_REQ reads 0 again, a late ACK is
 * ignored): an eject then leaves the device attached and working, an
 * insert leaves it attached (the guest may still probe it). The ACK comes
 * from a vCPU thread; everything else, and the completion, runs on the
 * main thread (an eventfd and a timerfd in the VM's event loop). */
#ifndef CSC_VMM_HOTPLUG_H
#define CSC_VMM_HOTPLUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct hotplug;

#define HOTPLUG_TIMEOUT_MS_DEFAULT 5000
#define HOTPLUG_TIMEOUT_MS_MAX 60000

struct hotplug_result {
	unsigned slot;
	unsigned op;		/* enum csc_hp_op */
	int ret;		/* 0, -ETIMEDOUT (no ACK in time), ... */
	char err[300];
	uint64_t ack_ns;	/* request posted -> the guest's ACK (0: none) */
	uint64_t attach_ns;	/* plugging (insert) or detaching (eject) the device */
	uint64_t total_ns;	/* the whole operation */
};

typedef void (*hotplug_done_fn)(void *opaque, const struct hotplug_result *r);

/* Created by the platform device, which owns the interrupt (irq_efd). */
struct hotplug *hotplug_create(struct vm *vm, int irq_efd, char *err, size_t errlen);
void hotplug_destroy(struct hotplug *hp);

/* Main thread. Start an operation on VF slot `slot`; 0 when started (done
 * is called later, once), or -errno with the reason in err (-EBUSY:
 * another request is pending; -ENODEV: no such slot; -EALREADY: the slot
 * is already empty / full; an insert's plugging error). */
int hotplug_eject(struct hotplug *hp, unsigned slot, uint32_t timeout_ms, hotplug_done_fn done, void *opaque,
		  char *err, size_t errlen);
int hotplug_insert(struct hotplug *hp, unsigned slot, const char *path, uint32_t timeout_ms, hotplug_done_fn done,
		   void *opaque, char *err, size_t errlen);
bool hotplug_pending(const struct hotplug *hp);

/* The platform's MMIO handler, vCPU threads. */
uint32_t hotplug_reg_read(struct hotplug *hp, uint64_t offset);
void hotplug_reg_write(struct hotplug *hp, uint64_t offset, uint32_t value);

#endif
