/* Dummy writes: see dirty.h for why an atomic OR of zero. */
#include "dirty.h"

#include <stdint.h>

size_t csc_dirty_touch(volatile void *addr, size_t len)
{
	uintptr_t p = (uintptr_t)addr, end = p + len;
	size_t pages = 0;

	if (len == 0 || end < p)
		return 0;
	while (p < end) {
		__atomic_fetch_or((volatile uint8_t *)p, (uint8_t)0, __ATOMIC_RELAXED);
		pages++;
		/* The next page's first byte; stop on address wrap. */
		uintptr_t next = (p | (CSC_DIRTY_PAGE_SIZE - 1)) + 1;
		if (next <= p)
			break;
		p = next;
	}
	return pages;
}
