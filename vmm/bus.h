/* The MMIO bus: a sorted table of {base, length, device, handler} regions.
 *
 * vCPU threads dispatch guest MMIO exits through bus_access(); an access that
 * no region claims completely is counted, logged (rate-limited) and reads as
 * all ones, as on a PCI bus with nothing behind the address. Regions can be
 * added and removed while vCPUs run (hot-plug), so lookups take a read lock,
 * held across the handler: handlers must not (un)register regions. */
#ifndef CSC_VMM_BUS_H
#define CSC_VMM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/log.h"

/* offset is relative to the region base; data holds len bytes (1, 2, 4, 8),
 * little-endian. For reads the handler fills data. */
typedef void (*bus_handler_fn)(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

struct bus_region {
	uint64_t base, len;
	const char *name;
	void *dev;
	bus_handler_fn handler;
};

struct bus {
	pthread_rwlock_t lock;
	struct bus_region *regions;	/* sorted by base, never overlapping */
	unsigned n, cap;
	uint64_t unclaimed_reads, unclaimed_writes;
	struct ratelimit unclaimed_log;
	pthread_mutex_t log_lock;
};

void bus_init(struct bus *bus);
void bus_destroy(struct bus *bus);
/* -EINVAL for an empty or wrapping range, -EEXIST when it overlaps a region. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const char *name, void *dev,
		 bus_handler_fn handler);
/* -ENOENT when no region starts at base. */
int bus_unregister(struct bus *bus, uint64_t base);
/* Returns true when a region handled the access. */
bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
