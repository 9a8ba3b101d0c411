#include "bus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *bus)
{
	memset(bus, 0, sizeof(*bus));
	pthread_rwlock_init(&bus->lock, NULL);
	pthread_mutex_init(&bus->log_lock, NULL);
	bus->unclaimed_log = (struct ratelimit)RATELIMIT_INIT(10);
}

void bus_destroy(struct bus *bus)
{
	free(bus->regions);
	pthread_rwlock_destroy(&bus->lock);
	pthread_mutex_destroy(&bus->log_lock);
}

/* Index of the first region whose base is > addr (so the candidate holding
 * addr is the one before it). Caller holds the lock. */
static unsigned upper_bound(const struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (bus->regions[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const char *name, void *dev,
		 bus_handler_fn handler)
{
	int ret = 0;

	if (len == 0 || base + len < base || !handler)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	unsigned pos = upper_bound(bus, base);
	if ((pos > 0 && bus->regions[pos - 1].base + bus->regions[pos - 1].len > base) ||
	    (pos < bus->n && bus->regions[pos].base < base + len)) {
		ret = -EEXIST;
		goto out;
	}
	if (bus->n == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 8;
		struct bus_region *r = realloc(bus->regions, cap * sizeof(*r));
		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		bus->regions = r;
		bus->cap = cap;
	}
	memmove(&bus->regions[pos + 1], &bus->regions[pos], (bus->n - pos) * sizeof(bus->regions[0]));
	bus->regions[pos] = (struct bus_region){ base, len, name, dev, handler };
	bus->n++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	unsigned pos = upper_bound(bus, base);
	if (pos > 0 && bus->regions[pos - 1].base == base) {
		pos--;
		memmove(&bus->regions[pos], &bus->regions[pos + 1],
			(bus->n - pos - 1) * sizeof(bus->regions[0]));
		bus->n--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

static void log_unclaimed(struct bus *bus, uint64_t addr, uint32_t len, bool is_write,
			  const uint8_t *data)
{
	uint64_t value = 0, suppressed = 0;

	pthread_mutex_lock(&bus->log_lock);
	if (is_write)
		bus->unclaimed_writes++;
	else
		bus->unclaimed_reads++;
	if (ratelimit_pass(&bus->unclaimed_log, &suppressed)) {
		if (is_write)
			memcpy(&value, data, len <= 8 ? len : 8);
		if (is_write)
			log_warn("bus: unclaimed MMIO write of %u bytes at 0x%" PRIx64 " (value 0x%" PRIx64 ")%s",
				 len, addr, value, suppressed ? ", more suppressed" : "");
		else
			log_warn("bus: unclaimed MMIO read of %u bytes at 0x%" PRIx64 " returns all ones%s",
				 len, addr, suppressed ? ", more suppressed" : "");
		if (suppressed)
			log_warn("bus: %" PRIu64 " unclaimed accesses were not logged", suppressed);
	}
	pthread_mutex_unlock(&bus->log_lock);
}

bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	bool found = false;

	/* The read lock is held across the handler so that a region cannot be
	 * unregistered (and its device freed) while an access is in flight.
	 * Handlers therefore must not register or unregister regions. */
	pthread_rwlock_rdlock(&bus->lock);
	unsigned pos = upper_bound(bus, addr);
	if (pos > 0) {
		const struct bus_region *r = &bus->regions[pos - 1];
		/* The access must lie wholly inside the region. */
		found = addr - r->base < r->len && len <= r->len - (addr - r->base);
		if (found)
			r->handler(r->dev, addr - r->base, data, len, is_write);
	}
	pthread_rwlock_unlock(&bus->lock);
	if (found)
		return true;
	if (!is_write)
		memset(data, 0xff, len);
	log_unclaimed(bus, addr, len, is_write, data);
	return false;
}
